"""Two second looks at the 8-bit rendering detector's candidates (issue 3 (b), 5 Dec): a second pass on the chip without the kept ships (shipped, sar-cfar 1.12.0) and the neighbours' scores (tried, not shipped).

Run:  python benchmarks/sar_render_context.py [--datasets DIR] [--all-splits] [--context [--cache FILE]]

Held out, HRSID's crowded anchorage P0119 loses 42 of its 122 ships to 1.11.0 (BENCHMARKS.md,
"Why P0119's ships are missed"): most 8-px blocks of the anchorage hold some hull pixels, which lift
their 90th percentile, so the seed level rises and each hull keeps only its saturated core (a small
candidate, scored 0.3-0.7) or nothing.

**Second pass (shipped).** :func:`sitewatch.detect.sar_render.detect_rendering` replaces the
candidates its trees keep (dilated by a pixel) by water and runs again; what the second pass keeps
is added unless it lies within 2 px of a kept candidate (the rest of that hull). This script scores
the shipped code with trees fitted without the scored chip (the 16-member gamma ensemble of
``sar_render_train.py``, cut 0.75, OpenSARShip's renderings in every fit): leave-one-chip-out, and
with ``--all-splits`` leave-one-dataset-out, leave-one-source-out and in-sample; each line with the
second pass off (``RenderParams(second_pass=False)``, 1.11.0) and on, both without 1.13.0's piece join
(``join_pieces=False``: this script measures the second pass as 1.12.0 shipped it). About 3 minutes a split on 2 cores.

**Neighbours' scores (``--context``; tried, not shipped).** Auto-context (stacking): a second,
small model sees each candidate's first-stage score and what the first stage said about the
candidates around it:

* ``own``: the candidate's first-stage logit;
* ``near4``: the mean first-stage logit of its 4 nearest other candidates (centroid distance);
* ``to_kept``: log of the distance to the nearest other candidate the first stage keeps (score at
  the cut), in the candidate's own lengths (``log_length_px``), log 50 when there is none;
* ``to_any``: log of the distance to the nearest other candidate, in its own lengths.

Distances in the candidate's lengths keep the rule free of the pixel size. The second stage is
boosted depth-2 trees (the first stage's ``fit``, 50 trees, classes weighted equally) on the
box chips' candidates, labelled by what the box score counts: a candidate is a ship when a
one-to-one match of all of its chip's candidates (best first-stage score first) gives it a box,
so a second piece of a matched hull is clutter. Its decision is the same cut (0.75).
Every score is held out twice over: chip ``k`` is scored by a first stage fitted without it and a
second stage fitted on the other 15 chips, whose first-stage scores come from first stages fitted
without chip ``k`` and without that chip (120 pair models). OpenSARShip's renderings train every
first stage (as shipped) but never the second (one labelled ship a chip: no neighbours to learn
from). The first-stage scores are cached (``--cache``, default under the system's temporary
folder): the 136 first-stage ensembles take about 20 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from itertools import combinations
from pathlib import Path

import numpy as np

import sar_render_train as T
from sar_real import (
    BOX_CHIPS,
    DEFAULT_DATASETS,
    OPENSARSHIP,
    Counts,
    hrsid_chips,
    match_boxes,
    missing_datasets,
    ssdd_chips,
)
from sitewatch.detect.sar_render import (
    RENDER_FEATURES,
    RenderParams,
    detect_rendering,
    render_probability,
)

CONTEXT = ("own", "near4", "to_kept", "to_any")
"""The second stage's inputs (module docstring)."""
NEAR, NONE_FAR, CLIP, TREES2 = 4, float(np.log(50.0)), 6.0, 50
LENGTH = RENDER_FEATURES.index("log_length_px")


def _logit(p: np.ndarray) -> np.ndarray:
    return np.clip(np.log(np.maximum(p, 1e-9) / np.maximum(1 - p, 1e-9)), -CLIP, CLIP)


def context(pos: np.ndarray, x: np.ndarray, p: np.ndarray, cut: float = T.CUT) -> np.ndarray:
    """Rows of :data:`CONTEXT` for one chip's candidates (centroids ``pos``, features ``x``,
    first-stage probabilities ``p``)."""
    n = len(p)
    out = np.zeros((n, len(CONTEXT)))
    if n == 0:
        return out
    own = _logit(p)
    length = np.exp(x[:, LENGTH])
    d = np.hypot(pos[:, None, 0] - pos[None, :, 0], pos[:, None, 1] - pos[None, :, 1])
    np.fill_diagonal(d, np.inf)
    out[:, 0] = own
    for i in range(n):
        order = np.argsort(d[i])[: min(NEAR, n - 1)]
        out[i, 1] = own[order].mean() if len(order) else -CLIP
        kept = d[i][p >= cut]
        out[i, 2] = min(np.log(kept.min() / length[i]), NONE_FAR) if np.isfinite(kept).any() else NONE_FAR
        out[i, 3] = min(np.log(d[i].min() / length[i]), NONE_FAR) if n > 1 else NONE_FAR
    return out


def counted(pos: np.ndarray, p: np.ndarray, boxes: list) -> np.ndarray:
    """1 for the candidates a one-to-one match of all of them (best ``p`` first) gives a box."""
    y = np.zeros(len(p))
    y[list(T._assigned(pos, p, boxes, -1.0).values())] = 1
    return y


def first_stages(data: list, extra: tuple[np.ndarray, np.ndarray], keys: list[str], cache: Path) -> tuple[dict[str, np.ndarray], dict[tuple[str, str], np.ndarray]]:
    """First-stage probabilities: chip ``k`` without ``k`` (``single[k]``) and chip ``j`` without
    ``j`` and ``k`` (``pair[j, k]``), each an ensemble as shipped; read from ``cache`` when there."""
    if cache.exists():
        z = np.load(cache)
        single = {r[1]: z[f"s|{r[1]}"] for r in data}
        pair = {(a, b): z[f"p|{a}|{b}"] for a in single for b in single if a != b}
        return single, pair
    names = [r[1] for r in data]
    single = T.held_out(data, 1, extra, T.MEMBERS, keys)
    pair: dict[tuple[str, str], np.ndarray] = {}
    for n_done, (a, b) in enumerate(combinations(names, 2)):
        m = T.fit_ensemble([r for r in data if r[1] not in (a, b)], extra, T.MEMBERS, keys)
        for j, k in ((a, b), (b, a)):
            r = next(r for r in data if r[1] == j)
            pair[j, k] = render_probability(r[3], m) if len(r[3]) else np.zeros(0)
        print(f"  pair models {n_done + 1} of {len(names) * (len(names) - 1) // 2}", end="\r", flush=True)
    print()
    np.savez(cache, **{f"s|{k}": v for k, v in single.items()}, **{f"p|{a}|{b}": v for (a, b), v in pair.items()})
    return single, pair


def second_stage_held_out(data: list, single: dict[str, np.ndarray], pair: dict[tuple[str, str], np.ndarray]) -> dict[str, np.ndarray]:
    """Chip ``k``'s second-stage probabilities from a second stage fitted on the other chips."""
    out = {}
    trees = T.TREES
    T.TREES = TREES2
    try:
        for r in data:
            k = r[1]
            tr = [t for t in data if t[1] != k]
            xs = [context(t[2], t[3], pair[t[1], k]) for t in tr]
            ys = [counted(t[2], pair[t[1], k], t[5]) for t in tr]
            m = T.fit(np.vstack(xs), np.concatenate(ys))
            out[k] = render_probability(context(r[2], r[3], single[k]), m) if len(r[3]) else np.zeros(0)
    finally:
        T.TREES = trees
    return out


def second_pass_held_out(root: Path, data: list, extra: tuple[np.ndarray, np.ndarray], keys: list[str], key: int | None = 1) -> list[tuple[str, list, list, list]]:
    """Per chip, the detections ``(row, col, score)`` of the shipped detector (:func:`detect_rendering`)
    without and with its second pass, its trees fitted without the chip's group (``key`` as in
    ``held_out``: 1 chip, 0 dataset, 6 source; ``None``: in-sample, fitted on all chips); and its boxes."""
    out = []
    group = {r[1]: (r[key] if key is not None else "") for r in data}
    models: dict[str, dict[str, object]] = {}
    for name, img, boxes in ssdd_chips(root) + hrsid_chips(root):
        g = group[name]
        if g not in models:
            models[g] = T.fit_ensemble([r for r in data if key is None or r[key] != g], extra, T.MEMBERS, keys)
        found = [
            # 1.12.0's second pass as it was measured: without 1.13.0's piece join, so the second list extends the first.
            [(d.row, d.col, d.score) for d, _ in detect_rendering(img, (1.0, 1.0), RenderParams(second_pass=again, join_pieces=False), models[g])]
            for again in (False, True)
        ]
        out.append((name, found[0], found[1], boxes))
        print(f"  {name:<34} first pass {len(found[0]):3d}, second pass {len(found[1]) - len(found[0]):3d} more", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    ap.add_argument("--all-splits", action="store_true", help="also leave-one-dataset-out, leave-one-source-out and in-sample")
    ap.add_argument("--context", action="store_true", help="also the neighbours' scores stage (tried, not shipped; slow)")
    ap.add_argument("--cache", type=Path, help="--context's first-stage scores (.npz); made when absent")
    args = ap.parse_args(argv)
    if message := missing_datasets(args.datasets, (*BOX_CHIPS, OPENSARSHIP)):
        print(message, file=sys.stderr)
        return 2
    data = T.rows(args.datasets, T.GAMMAS)
    osr = T.opensarship_rows(args.datasets, T.GAMMAS)
    extra, keys = T.opensarship_training(osr), T.opensarship_keys(osr)
    splits = (("leave-one-chip-out", 1), ("leave-one-dataset-out", 0), ("leave-one-source-out", 6), ("in-sample", None))
    for split, key in splits if args.all_splits else splits[:1]:
        passes = second_pass_held_out(args.datasets, data, extra, keys, key)
        for label, both in (("first pass only (1.11.0)", False), ("with the second pass", True)):
            total = Counts()
            for name, first, second, boxes in passes:
                c = match_boxes(second if both else first, boxes)
                total.add(c)
                print(f"      {name:<34} tp {c[0]:3d} fp {c[1]:3d} fn {c[2]:3d}")
            print(f"{split}, {label:<26} cut {T.CUT:.2f}  P %.3f  R %.3f  F1 %.3f" % total.prf(), flush=True)
    if not args.context:
        return 0
    tag = hashlib.sha1(Path(T.__file__).read_bytes() + Path(sys.modules[render_probability.__module__].__file__ or "").read_bytes()).hexdigest()[:10]
    cache = args.cache or Path(tempfile.gettempdir()) / f"sar_render_context_{tag}.npz"
    single, pair = first_stages(data, extra, keys, cache)
    second = second_stage_held_out(data, single, pair)
    for label, prob in (("first stage (shipped)", single), ("with neighbours' scores", second)):
        for cut in (0.6, 0.7, T.CUT, 0.8, 0.9):
            mark = "  <- shipped cut" if cut == T.CUT else ""
            print(f"leave-one-chip-out, {label:<24} cut {cut:.2f}  P %.3f  R %.3f  F1 %.3f{mark}" % T.score(data, prob, cut).prf())
        for r in data:
            c = T.score([r], prob, T.CUT)
            print(f"      {r[1]:<34} tp {c.tp:3d} fp {c.fp:3d} fn {c.fn:3d}")
        print("    errors: " + T.errors_at_cut(data, prob))
    return 0


if __name__ == "__main__":
    sys.exit(main())
