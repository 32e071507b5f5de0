"""Accuracy of ``sitewatch.change`` on real image pairs with change labels: OSCD, LEVIR-CD, DSIFN-CD.

    python benchmarks/change_oscd.py              # OSCD (Sentinel-2), then the 0.5 m RGB samples
    python benchmarks/change_oscd.py --oscd-only

**OSCD** (``../shared/datasets/oscd``, Onera Satellite Change Detection, Caye Daudt et al. 2018):
13-band Sentinel-2 L1C pairs of cities, urban change labelled per pixel. Scored here are the
cities whose band stacks and labels are both in the copy: abudhabi, beihai, mumbai, bercy, paris,
rennes (hongkong has images but its labels are withheld: skipped; so are beirut, cupertino and
nantes). The four 10 m bands (B02, B03, B04, B08 as blue, green, red, nir; DN / 10,000) of each
date are stacked; a date-2 raster 1-4 pixels smaller than date 1 is laid on date 1's grid from
its top-left corner, as the dataset's authors align them (their rows and columns are the same
ground; the GeoTIFFs' degree transforms are stretched to each raster's bounds), and the pixels it
does not reach are no data (not compared, not scored). The label grid is date 1's 10 m grid
(``<city>-cm.tif``: 1 no change, 2 change).

sitewatch's method runs with its defaults (:func:`sitewatch.change.detect_changes`: pfa 1e-3,
3 × 3 smoothing, regions of 200 m² and more), on a 10 m UTM grid (areas only; the images are
not reprojected). Nothing is fitted to the labels. The baseline in the same run is plain change
vector analysis: the length of the RGB difference, thresholded by Otsu's method.

Printed per city and pooled over the pixels of all cities: precision, recall, F1 and IoU of the
changed pixels, and the time per megapixel of each method (the pair in memory, labels not counted).

**LEVIR-CD and DSIFN-CD samples** (0.5 m Google Earth RGB, 256 × 256, binary PNG labels): the same
two methods on the three visible bands (8-bit / 255), regions of 25 m² and more (100 pixels).
Eleven and ten crops: a smoke test, not a benchmark.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
OSCD = DATASETS / "oscd"
IMAGES = OSCD / "Onera Satellite Change Detection dataset - Images"
LABELS = OSCD / "Onera Satellite Change Detection dataset - Train Labels"
OSCD_CITIES = ("abudhabi", "beihai", "mumbai", "bercy", "paris", "rennes")
"""Cities with both band stacks and labels in the copy (hongkong's labels are withheld)."""
OSCD_BANDS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08"}


@dataclass(frozen=True)
class Pair:
    name: str
    before: NDArray[np.float32]
    after: NDArray[np.float32]
    bands: tuple[str, ...]
    label: NDArray[np.bool_]
    pixel_m: float


def _read(path: str) -> NDArray[np.float32]:
    import rasterio

    with rasterio.open(path) as src:
        return src.read(1).astype(np.float32)


def oscd_pair(city: str) -> Pair:
    """One OSCD city: both dates' 10 m bands on date 1's grid (NaN where date 2 does not reach)."""
    stacks = []
    for folder in ("imgs_1", "imgs_2"):
        bands = []
        for code in OSCD_BANDS.values():
            (path,) = glob.glob(str(IMAGES / city / folder / f"*_{code}.tif"))
            bands.append(_read(path) / 10_000.0)
        stacks.append(bands)
    before = np.stack(stacks[0])
    h, w = before.shape[1:]
    after = np.full_like(before, np.nan)
    for k, band in enumerate(stacks[1]):
        hh, ww = min(h, band.shape[0]), min(w, band.shape[1])
        after[k, :hh, :ww] = band[:hh, :ww]
    label = _read(str(LABELS / city / "cm" / f"{city}-cm.tif")) == 2
    return Pair(city, before, after, tuple(OSCD_BANDS), label, 10.0)


def png_pairs(root: Path) -> list[Pair]:
    """The A/B/label PNG crops of a LEVIR-CD or DSIFN-CD sample folder (0.5 m RGB)."""
    from skimage.io import imread

    out = []
    for a in sorted((root / "A").glob("*.png")):
        b, lab = root / "B" / a.name, root / "label" / a.name
        if not (b.exists() and lab.exists()):
            continue
        rgb = [np.asarray(imread(p))[..., :3].astype(np.float32) / 255.0 for p in (a, b)]
        label = np.asarray(imread(lab))
        label = (label[..., 0] if label.ndim == 3 else label) > 127
        out.append(Pair(a.stem, *(np.moveaxis(x, -1, 0)[::-1].copy() for x in rgb), ("blue", "green", "red"), label, 0.5))
    return out


def sitewatch_changed(pair: Pair, min_area_m2: float = 200.0, noise: str | None = None) -> NDArray[np.bool_]:
    """Changed pixels by :func:`sitewatch.change.detect_changes` with its defaults (``noise``: another noise rule)."""
    from sitewatch.change import ChangeImage, detect_changes
    from sitewatch.model import Grid

    h, w = pair.label.shape
    grid = Grid("EPSG:32631", (pair.pixel_m, 0.0, 500_000.0, 0.0, -pair.pixel_m, 5_000_000.0), w, h)
    before = ChangeImage(pair.before, grid, "optical", pair.bands, label=f"{pair.name} date 1")
    after = ChangeImage(pair.after, grid, "optical", pair.bands, label=f"{pair.name} date 2")
    extra = {} if noise is None else {"noise": noise}
    return detect_changes(before, after, min_area_m2=min_area_m2, **extra).changed  # type: ignore[arg-type]


def cva_otsu_changed(pair: Pair) -> NDArray[np.bool_]:
    """Baseline: the length of the RGB difference above Otsu's threshold."""
    from skimage.filters import threshold_otsu

    rgb = [pair.bands.index(n) for n in ("red", "green", "blue")]
    ok = np.all(np.isfinite(pair.before), axis=0) & np.all(np.isfinite(pair.after), axis=0)
    d = np.sqrt(((pair.after[rgb] - pair.before[rgb]) ** 2).sum(axis=0))
    return ok & (np.nan_to_num(d) > threshold_otsu(d[ok]))


def counts(pred: NDArray[np.bool_], pair: Pair) -> NDArray[np.int64]:
    """(tp, fp, fn) over the pixels both dates cover."""
    ok = np.all(np.isfinite(pair.before), axis=0) & np.all(np.isfinite(pair.after), axis=0)
    p, t = pred & ok, pair.label & ok
    return np.array([(p & t).sum(), (p & ~t).sum(), (~p & t).sum()], np.int64)


def figures(c: NDArray[np.int64]) -> tuple[float, float, float, float]:
    """Precision, recall, F1, IoU of (tp, fp, fn)."""
    tp, fp, fn = (int(x) for x in c)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    iou = tp / (tp + fp + fn) if tp + fp + fn else 0.0
    return p, r, f1, iou


METHODS: dict[str, Callable[..., NDArray[np.bool_]]] = {
    "sitewatch irmad-cva": sitewatch_changed, "baseline cva-rgb-otsu": cva_otsu_changed,
}  # fmt: skip
NOISE_RULES = ("scene", "quiet", "half")
"""``--noise-rules``: each of :func:`sitewatch.change._noise_sd`'s rules (version 1 was ``scene``)."""


def loco(per_city: dict[str, dict[str, NDArray[np.int64]]], variants: list[str]) -> tuple[NDArray[np.int64], list[str]]:
    """Leave one city out: for each city, the variant of best pooled F1 on the other cities, scored on it."""
    total, picks = np.zeros(3, np.int64), []
    for city in per_city:
        rest = {v: sum((per_city[c][v] for c in per_city if c != city), np.zeros(3, np.int64)) for v in variants}
        best = max(variants, key=lambda v: figures(rest[v])[2])
        picks.append(f"{city}: {best}")
        total += per_city[city][best]
    return total, picks


def run(pairs: list[Pair], title: str, per_pair: bool = True, methods: dict[str, Callable[..., NDArray[np.bool_]]] | None = None,
        per_city: dict[str, dict[str, NDArray[np.int64]]] | None = None, **kwargs: float) -> dict[str, NDArray[np.int64]]:  # fmt: skip
    """Score the methods on ``pairs``; print per pair and pooled; return the pooled counts (and each pair's in ``per_city``)."""
    methods = METHODS if methods is None else methods
    pooled = {m: np.zeros(3, np.int64) for m in methods}
    seconds = dict.fromkeys(methods, 0.0)
    pixels = 0
    print(f"\n## {title}\n")
    print(f"{'pair':<22} {'method':<24} {'P':>6} {'R':>6} {'F1':>6} {'IoU':>6}")
    for pair in pairs:
        pixels += pair.label.size
        for name, fn in methods.items():
            t0 = time.perf_counter()
            pred = fn(pair, **kwargs) if name.startswith("sitewatch") else fn(pair)
            seconds[name] += time.perf_counter() - t0
            c = counts(pred, pair)
            pooled[name] += c
            if per_city is not None:
                per_city.setdefault(pair.name, {})[name] = c
            if per_pair:
                print(f"{pair.name:<22} {name:<24} " + " ".join(f"{x:6.3f}" for x in figures(c)))
    for name, c in pooled.items():
        mp = pixels / 1e6
        print(f"{'POOLED':<22} {name:<24} " + " ".join(f"{x:6.3f}" for x in figures(c))
              + f"   {seconds[name] / mp:.2f} s/Mpx")  # fmt: skip
    return pooled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--oscd-only", action="store_true", help="skip the LEVIR-CD and DSIFN-CD samples")
    parser.add_argument("--noise-rules", action="store_true",
                        help="score every noise rule of irmad-cva, and leave-one-city-out the choice among them on OSCD")  # fmt: skip
    args = parser.parse_args()
    if not IMAGES.is_dir():
        sys.exit(f"{OSCD} not found")
    methods = dict(METHODS)
    if args.noise_rules:
        methods = {f"sitewatch noise={r}": partial(sitewatch_changed, noise=r) for r in NOISE_RULES}
        methods["baseline cva-rgb-otsu"] = cva_otsu_changed
    per_city: dict[str, dict[str, NDArray[np.int64]]] = {}
    run([oscd_pair(c) for c in OSCD_CITIES], "OSCD, Sentinel-2 10 m bands (B02 B03 B04 B08)", methods=methods, per_city=per_city)
    if args.noise_rules:
        total, picks = loco(per_city, [m for m in methods if m.startswith("sitewatch")])
        print(f"{'LOCO':<22} {'choice on five cities':<24} " + " ".join(f"{x:6.3f}" for x in figures(total)))
        print("  " + "; ".join(picks))
    if args.oscd_only:
        return
    for name, folder in (("LEVIR-CD samples", "levir-cd-samples/samples_LEVIR"), ("DSIFN-CD samples", "dsifn-cd-samples/samples_DSIFN")):
        root = DATASETS / folder
        if root.is_dir():
            run(png_pairs(root), f"{name}, 0.5 m RGB", per_pair=False, methods=methods, min_area_m2=25.0)


if __name__ == "__main__":
    main()
