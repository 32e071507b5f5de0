"""Train and score the sub-metre learned change score (``sitewatch.change.learned``, ``irmad-cva`` 6).

    python benchmarks/change_submetre_train.py             # held-out figures, then the shipped model
    python benchmarks/change_submetre_train.py --no-write  # the figures only
    python benchmarks/change_submetre_train.py --datasets DIR
    python benchmarks/change_submetre_train.py --no-write --scales   # also the crops resampled to 0.3, 0.75 and 1 m

**Data.** The LEVIR-CD and DSIFN-CD samples of ``benchmarks/change_oscd.py`` (0.5 m Google Earth RGB
crops of 256 × 256 with their change maps; every A/B/label folder under ``levir-cd-samples`` and
``dsifn-cd-samples``): 21 crops in our copy, 11 and 10. Features are
:data:`sitewatch.change.learned.FEATURES`, computed as ``detect_changes`` computes them at sub-metre pixels
(no spectral classes; the chi-square statistic without the misregistration tolerance).

**Training.** Boosted depth-2 trees (``benchmarks/sar_render_train.py``'s ``fit``, as at 10 m) on 8,000
pixels a crop (half changed, half not; all the changed where fewer), classes weighted equally within each
crop. The cut is the one of 0.3-0.95 that gives the training crops' pooled F1 its best, the pixels at or
above it shaped as the sub-metre rules shape changed pixels (opened by 1 m, closed by 2 m, holes filled)
and regions under 25 m² dropped.

**The rule** (``detect_changes``, version 6): version 4's changed pixels (its own seeds and growth, before
they are shaped) are kept where their region holds a pixel whose score reaches the cut, and those pixels
are changed too; then shaped as before. So the score adds regions the statistic misses and takes away the
statistic's regions it does not confirm. Chosen among seven rules on this script's held-out figures
(BENCHMARKS.md, "Sub-metre learned change score").

**Scoring, two splits.** Leave one crop out (each crop scored by trees and cut fitted on the other 20) and
leave one dataset out (LEVIR's crops by trees fitted on DSIFN's and the reverse: other places, other
labelling: LEVIR labels buildings only, DSIFN other land changes too). Each held-out crop is compared by
``sitewatch.change.detect_changes`` itself with its fold's trees (regions of 25 m²), scored pixel by pixel
against its change map; the baseline in the same run is ``learned=False`` (version 4). Pooled precision,
recall, F1 per dataset and over both, then each crop's F1 (and, for a crop without labelled change, the
pixels each version flags).

``--scales``: each crop also resampled (bilinear; its change map by the same interpolation, at half) to the
pixel sizes of :data:`SCALES` and compared there with its leave-one-crop-out trees, version 6 against 4: the
windows are counted in pixels, so this shows how the score fares at pixel sizes it was not trained at
(resampled pictures, not imagery taken at those sizes: an upsampled crop has no finer detail).

**Shipped model.** Then fitted on every crop, its cut chosen on all of them, and written to
``src/sitewatch/data/change_submetre_gb.json`` (``--no-write``: not).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
import change_learned_train as clt  # noqa: E402
import change_oscd as co  # noqa: E402
from _datasets_root import datasets_root  # noqa: E402

DRAW = 8_000
CUTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MIN_AREA_M2 = 25.0
SCALES = {0.3: 5 / 3, 0.75: 2 / 3, 1.0: 0.5}
"""``--scales``: pixel size (m) → the zoom factor that takes a 0.5 m crop to it."""
OUT = Path(__file__).resolve().parents[1] / "src" / "sitewatch" / "data" / "change_submetre_gb.json"

Data = dict[str, tuple[NDArray[np.float32], NDArray[np.bool_], tuple[int, int]]]


def crops() -> dict[str, co.Pair]:
    """Every LEVIR-CD and DSIFN-CD sample crop, by ``folder/name``."""
    return {f"{folder}/{p.name}": p for _, folder in co.PNG_SETS for root in co.pair_folders(co.DATASETS / folder) for p in co.png_pairs(root)}


def _visible(pair: co.Pair) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.bool_]]:
    vis = [pair.bands.index(n) for n in ("blue", "green", "red")]
    b, a = pair.before[vis], pair.after[vis]
    return b, a, np.isfinite(b).all(axis=0) & np.isfinite(a).all(axis=0)


def crop_rows(pair: co.Pair) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """A crop's features (pixels × features) as ``detect_changes`` computes them at sub-metre, and its change map (flat)."""
    from sitewatch.change.blocks import DEFAULT_BLOCKS
    from sitewatch.change.learned import pair_features

    b, a, ok = _visible(pair)
    statistics = {"smooth_px": 3, "noise": "scene", "brightness_bands": [0, 1, 2], "classes": 0, "blocks": DEFAULT_BLOCKS}
    return pair_features(b, a, ok, [0, 1, 2], statistics), pair.label.ravel()


def shaped(p: NDArray[np.float64], shape: tuple[int, int], cut: float) -> NDArray[np.bool_]:
    """Pixels at ``cut`` or more, shaped as the sub-metre rules shape changed pixels, in regions of
    :data:`MIN_AREA_M2` or more (8-connected), flat."""
    from scipy import ndimage

    from sitewatch.change.submetre import _fine_shapes

    pixel_m = 0.5
    m = _fine_shapes(p.reshape(shape) >= cut, pixel_m, MIN_AREA_M2)
    lab, n = ndimage.label(m, structure=np.ones((3, 3)))
    if n:
        keep = np.bincount(lab.ravel()) * pixel_m**2 >= MIN_AREA_M2
        keep[0] = False
        m = keep[lab]
    return m.ravel()


def fit(data: Data, names: list[str]) -> dict[str, Any]:
    return clt.fit_model(data, names, kept=shaped, cuts=CUTS, draw=DRAW)


_DATA: Data = {}
_PAIRS: dict[str, co.Pair] = {}


def _fold(held: tuple[str, ...]) -> dict[str, Any]:
    return fit(_DATA, [c for c in _DATA if c not in held])


def _both(pair: co.Pair) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """A pair compared by the product with the trees :func:`sitewatch.change.learned.model` gives (version 6) and
    without (version 4): each one's counts."""
    six, four = (co.counts(co.sitewatch_changed(pair, min_area_m2=MIN_AREA_M2, learned=on), pair) for on in (True, False))
    return six, four


def _use(model: dict[str, Any]) -> None:
    """Make ``model`` the trees the product scores with, in this worker."""
    import sitewatch.change.learned as learned

    learned.model = lambda *_: model  # type: ignore[assignment]


def held_out(args: tuple[tuple[str, ...], dict[str, Any]]) -> dict[str, tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """The held-out crops compared by the product with their fold's trees (version 6) and without (version 4)."""
    held, model = args
    _use(model)
    return {c: _both(_PAIRS[c]) for c in held}


def _resampled(pair: co.Pair, pixel_m: float) -> co.Pair:
    from dataclasses import replace

    from scipy import ndimage

    f = SCALES[pixel_m]
    before, after = (ndimage.zoom(x, (1, f, f), order=1).astype(np.float32) for x in (pair.before, pair.after))
    label = ndimage.zoom(pair.label.astype(np.float32), f, order=1) >= 0.5
    return replace(pair, before=before, after=after, label=label, pixel_m=pixel_m)


def at_scales(args: tuple[str, dict[str, Any]]) -> tuple[str, dict[float, tuple[NDArray[np.int64], NDArray[np.int64]]]]:
    """A crop resampled to each of :data:`SCALES`, compared with its fold's trees (version 6) and without (version 4)."""
    c, model = args
    _use(model)
    return c, {pixel_m: _both(_resampled(_PAIRS[c], pixel_m)) for pixel_m in SCALES}


def _line(label: str, t: NDArray[np.int64]) -> str:
    p, r, f1, iou = co.figures(t)
    return f"{label:<34} P {p:.3f}  R {r:.3f}  F1 {f1:.3f}  IoU {iou:.3f}"


def main() -> None:
    global _DATA, _PAIRS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=None, help="a folder laid out as ../shared/datasets")
    ap.add_argument("--no-write", action="store_true", help="print the figures, do not write the shipped model")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scales", action="store_true", help="also score the crops resampled to 0.3, 0.75 and 1 m (leave one crop out)")
    opts = ap.parse_args()
    co.use_datasets(opts.datasets or datasets_root())
    t0 = time.time()
    _PAIRS = crops()
    sets = sorted({c.split("/")[0] for c in _PAIRS})
    if len(sets) < 2 or len(_PAIRS) < 4:
        raise SystemExit(f"{co.DATASETS}: {len(_PAIRS)} LEVIR-CD/DSIFN-CD crops in {len(sets)} sets; both sets and four crops are needed")
    names = sorted(_PAIRS)
    _DATA = {c: (*crop_rows(_PAIRS[c]), _PAIRS[c].label.shape) for c in names}
    counts = ", ".join(f"{s}: {sum(c.startswith(s + '/') for c in names)}" for s in sets)
    print(f"{len(names)} crops ({counts}), features in {time.time() - t0:.0f} s", flush=True)
    splits = {"leave one crop out": [(c,) for c in names], "leave one dataset out": [tuple(c for c in names if c.startswith(s + "/")) for s in sets]}
    for split, folds in splits.items():
        with Pool(opts.workers) as pool:
            models = pool.map(_fold, folds)
            results = pool.map(held_out, list(zip(folds, models, strict=True)))
        per = {c: v for r in results for c, v in r.items()}
        cuts = ", ".join(sorted({f"{m['cut']:.2f}" for m in models}))
        print(f"\n{split} (cuts chosen in the folds: {cuts}); pooled over each set's crops:")
        for s in [*sets, "both"]:
            held = [c for c in names if s == "both" or c.startswith(s + "/")]
            for i, rule in enumerate(("version 6 (learned seeds)", "version 4 (learned=False)")):
                print("  " + _line(f"{s.split('-')[0]:<6} {rule}", sum((per[c][i] for c in held), np.zeros(3, np.int64))))
        f1 = {c: (co.figures(per[c][0])[2], co.figures(per[c][1])[2]) for c in names}
        labelled = [c for c in names if _PAIRS[c].label.any()]
        print(f"  per crop, F1 version 6 / version 4 (better on {sum(f1[c][0] > f1[c][1] for c in labelled)} of the "
              f"{len(labelled)} crops with labelled change, worse on {sum(f1[c][0] < f1[c][1] for c in labelled)}):")  # fmt: skip
        print("  " + ", ".join(f"{c.split('/')[-1]} {f1[c][0]:.3f}/{f1[c][1]:.3f}" for c in labelled))
        for c in names:
            if c not in labelled:
                print(f"  {c.split('/')[-1]} (no labelled change): {per[c][0][1]:,} pixels flagged, version 4 {per[c][1][1]:,}")
        if opts.scales and split == "leave one crop out":
            with Pool(opts.workers) as pool:
                scaled = dict(pool.map(at_scales, [(f[0], m) for f, m in zip(folds, models, strict=True)]))
            print("  resampled crops (bilinear), leave one crop out, pooled F1 version 6 / version 4:")
            for pixel_m in SCALES:
                parts = []
                for s in [*sets, "both"]:
                    held = [c for c in names if s == "both" or c.startswith(s + "/")]
                    six, four = (sum((scaled[c][pixel_m][i] for c in held), np.zeros(3, np.int64)) for i in (0, 1))
                    parts.append(f"{s.split('-')[0]} {co.figures(six)[2]:.3f} / {co.figures(four)[2]:.3f}")
                better = sum(co.figures(scaled[c][pixel_m][0])[2] > co.figures(scaled[c][pixel_m][1])[2] for c in labelled)
                print(f"  {pixel_m:4.2f} m: " + ", ".join(parts) + f" (better on {better} of {len(labelled)} crops)")
    if opts.no_write:
        return
    final = fit(_DATA, names)
    print(f"\nshipped model: every crop, cut {final['cut']} (in-sample pooled F1 {final['train_f1']:.3f}), {len(final['trees'])} trees; {time.time() - t0:.0f} s in all")
    final["trained_by"] = "benchmarks/change_submetre_train.py"
    final["trained_on"] = names
    OUT.write_text(json.dumps(final, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
