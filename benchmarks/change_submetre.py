"""Optical change at sub-metre pixels (``irmad-cva`` 6 and 4): simulated pairs, the LEVIR-CD and DSIFN-CD samples.

    python benchmarks/change_submetre.py                 # simulated pairs and the samples: versions 6, 4 and 3, baseline
    python benchmarks/change_submetre.py --pairs 20      # more simulated pairs
    python benchmarks/change_submetre.py --grid          # also: choose the rules' constants on one sample set, score the other

**Simulated** (:func:`sitewatch.testing.submetre_change.submetre_pair`): 0.5 m pairs of one drawn ground
seen in other light (brightness, contrast, colour balance), half a pixel out of register, with their own
noise, in 8 bits; every region on them is false. The same pairs with a 20 × 4 m trench and a 15 × 10 m
roof added: how many of the objects a region covers, and how many regions lie elsewhere.

**Samples**: the LEVIR-CD and DSIFN-CD crops of ``benchmarks/change_oscd.py`` (0.5 m RGB, regions of 25 m²
and more), pooled per set and over both. "version 3" is the same code with :data:`sitewatch.change.FINE_PIXEL_M`
set to 0, so that no pixel gets the sub-metre rules (what ``irmad-cva`` 3 gave, to the digit); "version 4"
is ``learned=False`` (the sub-metre rules without the learned score); "version 6" the default (the
learned score's seeds, :mod:`sitewatch.change.learned`: its figures on the samples are in-sample, the
held-out ones come from ``benchmarks/change_submetre_train.py``); the baseline is change vector analysis
of RGB with Otsu's threshold.

``--grid``: every combination of a few values of the sub-metre constants (the quiet share, the tolerance,
the opening and closing, the gain range on or off), scored on both sets; the combination of best F1 on
one set is then scored on the other (version 4's rules: ``learned=False``). A check of how much the choice of constants depends on the set it
is made on, not how they were chosen (BENCHMARKS.md says how).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
import change_oscd as co  # noqa: E402

GRID: dict[str, tuple[Any, ...]] = {
    "FINE_QUIET_SHARE": (0.1, 0.25),
    "FINE_TOLERANCE_M": (0.5, 1.0),
    "FINE_CLOSE_M": (0.0, 2.0),
    "FINE_GAIN_RANGE": ((-math.inf, math.inf), (0.5, 2.0)),
}


@contextmanager
def constants(**values: Any) -> Iterator[None]:
    """Set constants of :mod:`sitewatch.change` for the duration, in each of its modules that holds them."""
    import importlib
    import pkgutil

    import sitewatch.change as change

    modules = [change, *(importlib.import_module(f"{change.__name__}.{m.name}") for m in pkgutil.iter_modules(change.__path__))]
    old = [(m, k, getattr(m, k)) for m in modules for k in values if hasattr(m, k)]
    for m, k, _ in old:
        setattr(m, k, values[k])
    try:
        yield
    finally:
        for m, k, v in old:
            setattr(m, k, v)


def simulated(n: int) -> None:
    from scipy import ndimage

    from sitewatch.change import ChangeImage, detect_changes
    from sitewatch.model import Grid
    from sitewatch.testing.submetre_change import submetre_pair

    for name, values, learned in (("version 6", {}, True), ("version 4", {}, False), ("version 3", {"FINE_PIXEL_M": 0.0}, False)):
        quiet = found = total = elsewhere = 0
        with constants(**values):
            for seed in range(n):
                for changed in (False, True):
                    p = submetre_pair(seed, changed=changed)
                    h, w = p.truth.shape
                    grid = Grid("EPSG:32631", (0.5, 0.0, 500_000.0, 0.0, -0.5, 5_000_000.0), w, h)
                    bands = ("blue", "green", "red")
                    r = detect_changes(ChangeImage(p.before, grid, "optical", bands), ChangeImage(p.after, grid, "optical", bands),
                                       min_area_m2=25.0, learned=learned)  # fmt: skip
                    labels, k = ndimage.label(r.changed, structure=np.ones((3, 3), bool))
                    if not changed:
                        quiet += k
                        continue
                    found += sum(int(r.changed[rows, cols].mean() > 0.5) for rows, cols in p.objects)
                    total += len(p.objects)
                    elsewhere += k - len(set(np.unique(labels[p.truth]).tolist()) - {0})
        print(f"[{name}] simulated 0.5 m, nothing changed: {quiet} regions in {n} pairs; trench and roof added: "
              f"{found} of {total} objects found (half their pixels or more), {elsewhere} regions elsewhere")  # fmt: skip


def sample_sets() -> dict[str, list[co.Pair]]:
    return {folder: [p for root in co.pair_folders(co.DATASETS / folder) for p in co.png_pairs(root)] for _, folder in co.PNG_SETS}


def pooled(sets: dict[str, list[co.Pair]], method: str = "sitewatch", learned: bool = False) -> dict[str, NDArray[np.int64]]:
    out = {}
    for folder, pairs in sets.items():
        fn = co.cva_otsu_changed if method == "baseline" else lambda p: co.sitewatch_changed(p, min_area_m2=25.0, learned=learned)
        out[folder] = sum((co.counts(fn(p), p) for p in pairs), np.zeros(3, np.int64))
    out["both"] = sum(out.values(), np.zeros(3, np.int64))
    return out


def line(name: str, counts: dict[str, NDArray[np.int64]]) -> str:
    return f"{name:<34} " + " | ".join(f"{k.split('-')[0]} " + " ".join(f"{x:.3f}" for x in co.figures(c)[:3]) for k, c in counts.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=10, help="simulated pairs (each with and without objects)")
    parser.add_argument("--grid", action="store_true", help="choose the constants on one sample set, score the other")
    args = parser.parse_args()
    simulated(args.pairs)
    sets = sample_sets()
    if not any(sets.values()):
        print(f"no LEVIR-CD or DSIFN-CD samples under {co.DATASETS}", file=sys.stderr)
        return
    print("\npooled P R F1 per set and over both (regions of 25 m² and more)")
    print(line("version 6 (in-sample)", pooled(sets, learned=True)))
    print(line("version 4", pooled(sets)))
    with constants(FINE_PIXEL_M=0.0):
        print(line("version 3", pooled(sets)))
    print(line("baseline cva-rgb-otsu", pooled(sets, "baseline")))
    if not args.grid:
        return
    scores = {}
    for combo in itertools.product(*GRID.values()):
        values = dict(zip(GRID, combo, strict=True))
        with constants(**values):
            scores[combo] = pooled(sets)
        print(line(" ".join(f"{v[1] if isinstance(v, tuple) else v:g}" for v in combo), scores[combo]))
    names = list(sets)
    for design, test in (names, names[::-1]):
        best = max(scores, key=lambda c: co.figures(scores[c][design])[2])
        print(f"chosen on {design}: {dict(zip(GRID, best, strict=True))}: F1 {co.figures(scores[best][design])[2]:.3f} there, "
              f"{co.figures(scores[best][test])[2]:.3f} on {test}")  # fmt: skip


if __name__ == "__main__":
    main()
