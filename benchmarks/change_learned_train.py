"""Train and score the learned change score of optical pairs at 10 m (``sitewatch.change.learned``).

    python benchmarks/change_learned_train.py             # leave-one-city-out figures, then the shipped model
    python benchmarks/change_learned_train.py --no-write  # the figures only
    python benchmarks/change_learned_train.py --datasets DIR
    python benchmarks/change_learned_train.py --no-write --folds DIR --strong-pfa 0 --grow-pfa 1e-9  # another rule, same trees

**Data.** Every OSCD city (``../shared/datasets/oscd``) whose change map ``<city>-cm.tif`` is under a
``… Labels`` folder: its RGB pair (``pair/img1.png``, ``pair/img2.png``, 8-bit renderings of the 10 m
bands on the label grid), read as ``sitewatch change-image`` reads them (value / 255, blue, green and
red). In our copy ten cities: abudhabi, aguasclaras, beihai, bercy, bordeaux, mumbai, paris, pisa,
rennes, saclay_e (beirut, cupertino, hongkong and nantes have images but their labels are withheld).

**Training.** Boosted depth-2 trees (``benchmarks/sar_render_train.py``'s ``fit``: 150 trees, rate 0.1,
classes weighted equally within each city) on :data:`sitewatch.change.learned.FEATURES` of 24,000
pixels a city (half changed, half not, an even random draw; fewer changed where a city has fewer). The
cut (the score a pixel must reach) is the one of 0.50-0.99 that gives the training cities' pooled F1 its
best, each pixel thresholded and regions of fewer than two pixels (200 m² at 10 m) dropped.

**Scoring, leave one city out.** For each city, trees and cut fitted on the other cities only; the city
is then compared by ``sitewatch.change.detect_changes`` with those trees (the product's own path:
regions of 200 m², its blocks), its changed pixels scored against the change map: precision, recall, F1
and IoU per city and pooled over every pixel. The baseline in the same run is the same function without
the learned score (``learned=False``: method version 3's chi-square thresholds). The six cities whose
13-band stacks are in the copy are also scored from their four 10 m bands (B02, B03, B04, B08 / 10,000,
as ``sitewatch change-image CITY/imgs_1 CITY/imgs_2`` reads them), the same fold's trees (which never
saw that city's pair).

**Shipped model.** Then fitted on every city, its cut chosen on all of them, and written to
``src/sitewatch/data/change_oscd_gb.json`` (``--no-write``: not).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _datasets_root import datasets_root  # noqa: E402

DRAW, SEED = 24_000, 0
CUTS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.92, 0.94, 0.96, 0.97, 0.98, 0.99)
OUT = Path(__file__).resolve().parents[1] / "src" / "sitewatch" / "data" / "change_oscd_gb.json"


def _folders(root: Path) -> tuple[Path, list[Path]]:
    oscd = root / "oscd"
    return oscd / "Onera Satellite Change Detection dataset - Images", sorted(oscd.glob("*Labels"))


def labelled_cities(root: Path) -> dict[str, Path]:
    """City → its change map, for every city with a pair and a map."""
    images, label_dirs = _folders(root)
    found = {}
    for d in label_dirs:
        for cm in sorted(d.glob("*/cm/*-cm.tif")):
            city = cm.parent.parent.name
            if (images / city / "pair" / "img1.png").exists():
                found[city] = cm
    return found


def _statistics() -> dict[str, Any]:
    from sitewatch.change.blocks import DEFAULT_BLOCKS
    from sitewatch.change.optical import COVER_CLASSES

    return {"smooth_px": 3, "noise": "scene", "brightness_bands": [0, 1, 2], "classes": COVER_CLASSES, "blocks": DEFAULT_BLOCKS}


def _png(path: Path) -> NDArray[np.float32]:
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0
    return np.ascontiguousarray(rgb[..., ::-1].transpose(2, 0, 1))  # blue, green, red


def _label(path: Path) -> NDArray[np.bool_]:
    import rasterio

    with rasterio.open(path) as src:
        return np.asarray(src.read(1) == 2)


def city_rows(args: tuple[str, Path, Path]) -> tuple[str, NDArray[np.float32], NDArray[np.bool_]]:
    """A city's features (pixels × features) and change map (flat)."""
    from sitewatch.change.learned import pair_features

    city, images, cm = args
    b, a = _png(images / city / "pair" / "img1.png"), _png(images / city / "pair" / "img2.png")
    y = _label(cm)
    if y.shape != b.shape[1:] or a.shape != b.shape:
        raise SystemExit(f"{city}: pair {b.shape[1:]} / {a.shape[1:]} and change map {y.shape} differ")
    ok = np.ones(y.shape, bool)
    return city, pair_features(b, a, ok, [0, 1, 2], _statistics()), y.ravel()


def _draw(x: NDArray[np.float32], y: NDArray[np.bool_], rng: np.random.Generator, draw: int = DRAW) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    i = np.r_[rng.choice(pos, min(len(pos), draw // 2), replace=False), rng.choice(neg, min(len(neg), draw // 2), replace=False)]
    return x[i], y[i].astype(np.float64)


def _kept(p: NDArray[np.float64], shape: tuple[int, int], cut: float) -> NDArray[np.bool_]:
    """Pixels at ``cut`` or more, in regions (8-connected) of two pixels or more, flat."""
    from scipy import ndimage

    m = p.reshape(shape) >= cut
    lab, n = ndimage.label(m, structure=np.ones((3, 3)))
    if n:
        size = np.bincount(lab.ravel())
        keep = size >= 2
        keep[0] = False
        m = keep[lab]
    return m.ravel()


Kept = Callable[[NDArray[np.float64], tuple[int, int], float], NDArray[np.bool_]]


def fit_model(
    data: dict[str, tuple[NDArray[np.float32], NDArray[np.bool_], tuple[int, int]]], cities: list[str],
    kept: Kept = _kept, cuts: Sequence[float] = CUTS, draw: int = DRAW,
) -> dict[str, Any]:  # fmt: skip
    """Trees on ``cities``' draws (``draw`` pixels each), with the cut of ``cuts`` that gives the best pooled F1
    over them, each city's pixels thresholded and shaped by ``kept``."""
    import sar_render_train as srt
    from sitewatch.change.learned import FEATURES
    from sitewatch.trees import tree_probability

    rng = np.random.default_rng(SEED)
    draws = [_draw(data[c][0], data[c][1], rng, draw) for c in cities]
    x = np.vstack([d[0] for d in draws]).astype(np.float64)
    y = np.concatenate([d[1] for d in draws])
    groups = np.concatenate([np.full(len(d[1]), i) for i, d in enumerate(draws)])
    model = srt.fit(x, y, groups)
    model["features"] = list(FEATURES)
    probs = {c: tree_probability(data[c][0], model) for c in cities}
    best = (-1.0, 0.9)
    for cut in cuts:
        t = np.zeros(3)
        for c in cities:
            m, yy = kept(probs[c], data[c][2], cut), data[c][1]
            t += ((m & yy).sum(), (m & ~yy).sum(), (~m & yy).sum())
        f1 = 2 * t[0] / max(2 * t[0] + t[1] + t[2], 1)
        if f1 > best[0]:
            best = (f1, cut)
    model["cut"] = best[1]
    model["train_f1"] = round(best[0], 4)
    return model


def _bands(folder: Path, grid: tuple[int, int]) -> NDArray[np.float32]:
    import rasterio

    out = np.full((4, *grid), np.nan, np.float32)
    for i, code in enumerate(("B02", "B03", "B04", "B08")):
        (path,) = sorted(folder.glob(f"*{code}.tif"))
        with rasterio.open(path) as src:
            v = src.read(1).astype(np.float32) / 10_000.0
        h, w = min(grid[0], v.shape[0]), min(grid[1], v.shape[1])
        out[i, :h, :w] = v[:h, :w]
    return out


def _counts(mask: NDArray[np.bool_], y: NDArray[np.bool_], ok: NDArray[np.bool_] | None = None) -> NDArray[np.int64]:
    if ok is not None:
        mask, y = mask[ok], y[ok]
    return np.array([(mask & y).sum(), (mask & ~y).sum(), (~mask & y).sum()], np.int64)


def _compare(before: NDArray[np.float32], after: NDArray[np.float32], names: tuple[str, ...], learned: bool, rendering: bool = False) -> NDArray[np.bool_]:
    from sitewatch.change import detect_changes
    from sitewatch.change.pair import ChangeImage
    from sitewatch.model import Grid

    grid = Grid("EPSG:32633", (10.0, 0.0, 500_000.0, 0.0, -10.0, 5_000_000.0), before.shape[2], before.shape[1])
    images = (ChangeImage(d, grid, "optical", names, rendering=rendering) for d in (before, after))
    r = detect_changes(*images, learned=learned)
    return np.asarray(r.changed)


def held_out(args: tuple[str, dict[str, Any], Path, Path]) -> tuple[str, dict[str, NDArray[np.int64]], float]:
    """A held-out city compared by the product with its fold's trees, and without the learned score."""
    import sitewatch.change.learned as learned

    city, model, images, cm = args
    learned.model = lambda *_: model  # type: ignore[assignment]
    y = _label(cm)
    out: dict[str, NDArray[np.int64]] = {}
    b, a = _png(images / city / "pair" / "img1.png"), _png(images / city / "pair" / "img2.png")
    rgb = ("blue", "green", "red")
    out["rgb learned"] = _counts(_compare(b, a, rgb, True, rendering=True), y)
    out["rgb chi2"] = _counts(_compare(b, a, rgb, False, rendering=True), y)
    if (images / city / "imgs_1").is_dir() and (images / city / "imgs_2").is_dir():
        bb, ab = _bands(images / city / "imgs_1", y.shape), _bands(images / city / "imgs_2", y.shape)
        ok = np.isfinite(bb).all(axis=0) & np.isfinite(ab).all(axis=0)
        four = ("blue", "green", "red", "nir")
        out["bands learned"] = _counts(_compare(bb, ab, four, True), y, ok)
        out["bands chi2"] = _counts(_compare(bb, ab, four, False), y, ok)
    return city, out, float(model["cut"])


def _line(label: str, t: NDArray[np.int64]) -> str:
    tp, fp, fn = (int(v) for v in t)
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return f"{label:<28} P {p:.3f}  R {r:.3f}  F1 {2 * tp / max(2 * tp + fp + fn, 1):.3f}  IoU {tp / max(tp + fp + fn, 1):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=None, help="a folder laid out as ../shared/datasets")
    ap.add_argument("--no-write", action="store_true", help="print the figures, do not write the shipped model")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--folds", type=Path, default=None, help="keep each fold's trees in this folder, and read them from it on a rerun (empty it when the cities change)")
    ap.add_argument("--strong-pfa", type=float, default=None, help="the learned module's STRONG_PFA for this run (0: none)")
    ap.add_argument("--grow-pfa", type=float, default=None, help="the learned module's GROW_PFA for this run (0: none)")
    opts = ap.parse_args()
    root = opts.datasets or datasets_root()
    images, _ = _folders(root)
    cms = labelled_cities(root)
    if len(cms) < 3:
        raise SystemExit(f"{root / 'oscd'}: {len(cms)} labelled cities with an RGB pair; three or more are needed")
    cities = sorted(cms)
    t0 = time.time()
    with Pool(opts.workers) as pool:
        rows = pool.map(city_rows, [(c, images, cms[c]) for c in cities])
    data = {c: (x, y, _label(cms[c]).shape) for c, x, y in rows}
    print(f"{len(cities)} cities ({', '.join(cities)}), {sum(len(d[1]) for d in data.values()):,} pixels, features in {time.time() - t0:.0f} s", flush=True)
    global _DATA
    _DATA = data
    kept = [opts.folds / f"{c}.json" for c in cities] if opts.folds else []
    if kept and all(k.exists() for k in kept):
        models = [json.loads(k.read_text()) for k in kept]
    else:
        with Pool(opts.workers) as pool:
            models = pool.map(_fold, cities)
        for k, m in zip(kept, models, strict=True):
            k.parent.mkdir(parents=True, exist_ok=True)
            k.write_text(json.dumps(m))
    import sitewatch.change.learned as learned  # the workers are forked from here: they inherit what is set

    if opts.strong_pfa is not None:
        learned.STRONG_PFA = opts.strong_pfa or None
    if opts.grow_pfa is not None:
        learned.GROW_PFA = opts.grow_pfa or None
    with Pool(opts.workers) as pool:
        results = pool.map(held_out, [(c, m, images, cms[c]) for c, m in zip(cities, models, strict=True)])
    pooled: dict[str, NDArray[np.int64]] = {}
    print("\nleave-one-city-out (trees and cut fitted on the other cities):")
    for city, out, cut in results:
        print(f"{city} (cut {cut:.2f})")
        for k, t in out.items():
            print("  " + _line(k, t))
            pooled[k] = pooled.get(k, np.zeros(3, np.int64)) + t
    print("pooled")
    for k, t in pooled.items():
        print("  " + _line(k, t))
    six = [c for c, out, _ in results if "bands learned" in out]
    if six:
        print(f"  (bands: {len(six)} cities, {', '.join(six)}; rgb pooled over the same cities:")
        for k in ("rgb learned", "rgb chi2"):
            t = sum((out[k] for c, out, _ in results if c in six), np.zeros(3, np.int64))
            print("  " + _line(k + " (same cities)", t) + ")" * (k == "rgb chi2"))
    if opts.no_write:
        return
    final = fit_model(data, cities)
    print(f"\nshipped model: every city, cut {final['cut']} (in-sample pooled F1 {final['train_f1']:.3f}), {len(final['trees'])} trees; {time.time() - t0:.0f} s in all")
    final["trained_by"] = "benchmarks/change_learned_train.py"
    final["trained_on"] = [f"oscd/{c}/pair" for c in cities]
    OUT.write_text(json.dumps(final, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}")


_DATA: dict[str, tuple[NDArray[np.float32], NDArray[np.bool_], tuple[int, int]]] = {}


def _fold(city: str) -> dict[str, Any]:
    return fit_model(_DATA, [c for c in _DATA if c != city])


if __name__ == "__main__":
    main()
