"""Accuracy of ``sitewatch.change`` on real image pairs with change labels: OSCD, LEVIR-CD, DSIFN-CD.

    python benchmarks/change_oscd.py              # OSCD (Sentinel-2), then the 0.5 m RGB samples
    python benchmarks/change_oscd.py --oscd-only
    python benchmarks/change_oscd.py --datasets DIR  # another folder laid out as ../shared/datasets

**OSCD** (``../shared/datasets/oscd``, Onera Satellite Change Detection, Caye Daudt et al. 2018):
13-band Sentinel-2 L1C pairs of cities, urban change labelled per pixel. Scored here is every
city whose band stacks (``imgs_1``, ``imgs_2``) and change map (``<city>-cm.tif`` under any
``… Labels`` folder: Train Labels, Test Labels) are both in the copy: in ours abudhabi, beihai,
mumbai, bercy, paris, rennes (hongkong has images but its labels are withheld; beirut, cupertino and
nantes neither); cities left out for want of either are named on standard error. The four 10 m bands (B02, B03, B04, B08 as blue, green, red, nir; DN / 10,000) of each
date are stacked; a date-2 raster 1-4 pixels smaller than date 1 is laid on date 1's grid from
its top-left corner, as the dataset's authors align them (their rows and columns are the same
ground; the GeoTIFFs' degree transforms are stretched to each raster's bounds), and the pixels it
does not reach are no data (not compared, not scored). The label grid is date 1's 10 m grid
(``<city>-cm.tif``: 1 no change, 2 change).

sitewatch's method runs with its defaults (:func:`sitewatch.change.detect_changes`: pfa 1e-3,
3 × 3 smoothing, regions of 200 m² and more), on a 10 m UTM grid (areas only; the images are
not reprojected), twice: ``sitewatch irmad-cva`` is the chi-square test (``learned=False``, method
version 3), fitted to no label; ``sitewatch learned (in-sample)`` the default at 10 m, the learned score
(method version 5), whose trees were trained on these cities' RGB pairs: its figures here are in-sample
(``benchmarks/change_learned_train.py`` scores it on cities it did not see). The baseline in the same run
is plain change vector analysis: the length of the RGB difference, thresholded by Otsu's method.

Printed per city and pooled over the pixels of all cities: precision, recall, F1 and IoU of the
changed pixels, and the time per megapixel of each method (the pair in memory, labels not counted).

**LEVIR-CD and DSIFN-CD samples** (0.5 m Google Earth RGB, 256 × 256, binary PNG labels): the same
two methods on the three visible bands (8-bit / 255), regions of 25 m² and more (100 pixels).
Eleven and ten crops: a smoke test, not a benchmark. Every folder under ``levir-cd-samples/`` and
``dsifn-cd-samples/`` holding ``A``/``B``/``label`` (or DSIFN's ``t1``/``t2``/``mask``) is read, its
crops paired by name in any case, whatever their image suffix.

``--datasets DIR`` (or ``$SITEWATCH_DATASETS``) reads ``oscd/``, ``levir-cd-samples/`` and
``dsifn-cd-samples/`` from another folder laid out as ``../shared/datasets``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _datasets_root import datasets_root  # noqa: E402

DATASETS = datasets_root()
OSCD = DATASETS / "oscd"
IMAGES = OSCD / "Onera Satellite Change Detection dataset - Images"
LABELS = OSCD / "Onera Satellite Change Detection dataset - Train Labels"
OSCD_CITIES = ("abudhabi", "beihai", "mumbai", "bercy", "paris", "rennes")
"""Cities with both band stacks and labels in our copy (hongkong's labels are withheld); the benchmark
scores whichever cities :func:`oscd_cities` finds, these and any other."""
PNG_SETS = (("LEVIR-CD samples", "levir-cd-samples"), ("DSIFN-CD samples", "dsifn-cd-samples"))
"""The 0.5 m RGB datasets' folders under the datasets root; every A/B/label folder under each is read."""
PAIR_FOLDERS = (("A", "t1"), ("B", "t2"), ("label", "mask"))
"""Names of the before, after and label folders of a LEVIR-CD or DSIFN-CD folder (DSIFN's own: t1, t2, mask)."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def use_datasets(root: Path) -> None:
    """Read OSCD and the RGB samples from ``root`` (``--datasets``) from now on."""
    global DATASETS, OSCD, IMAGES, LABELS
    DATASETS = root
    OSCD = root / "oscd"
    IMAGES = OSCD / "Onera Satellite Change Detection dataset - Images"
    LABELS = OSCD / "Onera Satellite Change Detection dataset - Train Labels"


def _label_file(city: str) -> Path | None:
    """A city's change map ``<city>-cm.tif`` in any of OSCD's label folders (Train Labels, Test Labels)."""
    if not OSCD.is_dir():
        return None
    for folder in sorted(d for d in OSCD.iterdir() if d.is_dir() and "labels" in d.name.lower()):
        hits = [f for f in (folder / city / "cm").glob("*") if f.name.lower() == f"{city}-cm.tif".lower()]
        if hits:
            return hits[0]
    return None


def _band_file(folder: Path, code: str) -> Path:
    """The one ``*_<code>.tif`` (any case) of a date's folder; an error naming the folder otherwise."""
    hits = sorted(f for f in folder.glob("*") if f.suffix.lower() in (".tif", ".tiff") and f.stem.upper().endswith(f"_{code}"))
    if len(hits) != 1:
        sys.exit(f"{folder}: {len(hits) or 'no'} band file(s) of {code} ({', '.join(f.name for f in hits)}); expected one *_{code}.tif")
    return hits[0]


def oscd_cities() -> list[str]:
    """Every city with both dates' band stacks (``imgs_1``, ``imgs_2``) and a change map; cities with
    a change map but only the RGB pair (or band stacks but no change map) are named on standard error."""
    if not IMAGES.is_dir():
        return []
    scored, no_bands, no_label = [], [], []
    for d in sorted(p for p in IMAGES.iterdir() if p.is_dir()):
        bands = (d / "imgs_1").is_dir() and (d / "imgs_2").is_dir()
        label = _label_file(d.name) is not None
        if bands and label:
            scored.append(d.name)
        elif label:
            no_bands.append(d.name)
        elif bands:
            no_label.append(d.name)
    if no_bands:
        print(f"note: OSCD cities with a change map but no imgs_1/imgs_2 band stacks, not scored: {', '.join(no_bands)}", file=sys.stderr)
    if no_label:
        print(f"note: OSCD cities with band stacks but no change map, not scored: {', '.join(no_label)}", file=sys.stderr)
    return scored
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
            bands.append(_read(str(_band_file(IMAGES / city / folder, code))) / 10_000.0)
        stacks.append(bands)
    before = np.stack(stacks[0])
    h, w = before.shape[1:]
    after = np.full_like(before, np.nan)
    for k, band in enumerate(stacks[1]):
        hh, ww = min(h, band.shape[0]), min(w, band.shape[1])
        after[k, :hh, :ww] = band[:hh, :ww]
    path = _label_file(city)
    if path is None:
        sys.exit(f"OSCD city {city}: no change map {city}-cm.tif under {OSCD}")
    label = _read(str(path)) == 2
    if label.shape != (h, w):
        sys.exit(f"OSCD city {city}: its change map {path.name} is {label.shape[1]} x {label.shape[0]} pixels, date 1 {w} x {h}")
    return Pair(city, before, after, tuple(OSCD_BANDS), label, 10.0)


def pair_folders(dataset: Path) -> list[Path]:
    """The folders under ``dataset`` (itself included) laid out as LEVIR-CD's and DSIFN-CD's: a before
    and an after folder (``A``/``B``, or DSIFN's ``t1``/``t2``) beside a label folder."""
    if not dataset.is_dir():
        return []
    return [d for d in sorted([dataset, *(p for p in dataset.rglob("*") if p.is_dir())]) if _sub(d, 0) and _sub(d, 1)]


def _sub(folder: Path, k: int) -> Path | None:
    """The before (0), after (1) or label (2) folder of a pair folder, by any of its names in any case."""
    names = {n.lower() for n in PAIR_FOLDERS[k]}
    return next((d for d in sorted(folder.iterdir()) if d.is_dir() and d.name.lower() in names), None)


def _rgb(path: Path) -> NDArray[np.float32]:
    """An 8-bit crop as (3, h, w) blue, green, red in 0..1; a grey one as three equal bands."""
    from skimage.io import imread

    a = np.asarray(imread(path))
    a = np.repeat(a[..., None], 3, axis=-1) if a.ndim == 2 else a[..., :3]
    return np.moveaxis(a.astype(np.float32) / 255.0, -1, 0)[::-1].copy()


def png_pairs(root: Path) -> list[Pair]:
    """The before/after/label crops of a LEVIR-CD or DSIFN-CD folder (0.5 m RGB), paired by file stem
    in any case, whatever the image suffix. A label is changed where above half its range: 0/255 maps
    and 0/1 maps alike. Crops without their other date or label, or of another size than them, are
    named on standard error."""
    from skimage.io import imread

    before, after, labels = (_sub(root, k) for k in range(3))
    if before is None or after is None or labels is None:
        sys.exit(f"{root}: no A/B/label (or t1/t2/mask) folders")

    def index(folder: Path) -> dict[str, Path]:
        return {f.stem.casefold(): f for f in sorted(folder.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES}

    b_files, l_files = index(after), index(labels)
    out, unpaired = [], []
    for key, a in index(before).items():
        b, lab = b_files.get(key), l_files.get(key)
        if b is None or lab is None:
            unpaired.append(a.name)
            continue
        label = np.asarray(imread(lab))
        label = label[..., 0] if label.ndim == 3 else label
        label = label > (0 if label.max(initial=0) <= 1 else 127)
        before_rgb, after_rgb = _rgb(a), _rgb(b)
        if not before_rgb.shape[1:] == after_rgb.shape[1:] == label.shape:
            sizes = " / ".join("x".join(map(str, x.shape[-2:][::-1])) for x in (before_rgb, after_rgb, label))
            unpaired.append(f"{a.name} (sizes {sizes})")
            continue
        out.append(Pair(a.stem, before_rgb, after_rgb, ("blue", "green", "red"), label, 0.5))
    if unpaired:
        print(f"note: {root}: {len(unpaired)} crop(s) without their other date or label, not scored: {', '.join(unpaired)}", file=sys.stderr)
    return out


def sitewatch_changed(pair: Pair, min_area_m2: float = 200.0, noise: str | None = None, learned: bool = True) -> NDArray[np.bool_]:
    """Changed pixels by :func:`sitewatch.change.detect_changes` with its defaults (``noise``: another noise rule;
    ``learned``: its ``learned``)."""
    from sitewatch.change import ChangeImage, detect_changes
    from sitewatch.model import Grid

    h, w = pair.label.shape
    grid = Grid("EPSG:32631", (pair.pixel_m, 0.0, 500_000.0, 0.0, -pair.pixel_m, 5_000_000.0), w, h)
    before = ChangeImage(pair.before, grid, "optical", pair.bands, label=f"{pair.name} date 1")
    after = ChangeImage(pair.after, grid, "optical", pair.bands, label=f"{pair.name} date 2")
    extra = {} if noise is None else {"noise": noise}
    return detect_changes(before, after, min_area_m2=min_area_m2, learned=learned, **extra).changed  # type: ignore[arg-type]


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
    "sitewatch irmad-cva": partial(sitewatch_changed, learned=False), "sitewatch learned (in-sample)": sitewatch_changed,
    "baseline cva-rgb-otsu": cva_otsu_changed,
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
    parser.add_argument("--datasets", type=Path, default=None,
                        help="folder holding oscd/, levir-cd-samples/, dsifn-cd-samples/ (default $SITEWATCH_DATASETS, else ../shared/datasets)")  # fmt: skip
    args = parser.parse_args()
    if args.datasets is not None:
        use_datasets(args.datasets)
    cities = oscd_cities()
    if not cities and (args.oscd_only or not any(pair_folders(DATASETS / f) for _, f in PNG_SETS)):
        sys.exit(f"no OSCD city with band stacks and a change map under {OSCD}")
    methods = dict(METHODS)
    if args.noise_rules:
        methods = {f"sitewatch noise={r}": partial(sitewatch_changed, noise=r, learned=False) for r in NOISE_RULES}
        methods["baseline cva-rgb-otsu"] = cva_otsu_changed
    per_city: dict[str, dict[str, NDArray[np.int64]]] = {}
    if cities:
        run([oscd_pair(c) for c in cities], "OSCD, Sentinel-2 10 m bands (B02 B03 B04 B08)", methods=methods, per_city=per_city)
    if args.noise_rules and cities:
        total, picks = loco(per_city, [m for m in methods if m.startswith("sitewatch")])
        print(f"{'LOCO':<22} {'choice on five cities':<24} " + " ".join(f"{x:6.3f}" for x in figures(total)))
        print("  " + "; ".join(picks))
    if args.oscd_only:
        return
    for name, folder in PNG_SETS:
        pairs = [p for root in pair_folders(DATASETS / folder) for p in png_pairs(root)]
        if pairs:
            run(pairs, f"{name}, 0.5 m RGB", per_pair=False, methods=methods, min_area_m2=25.0)


if __name__ == "__main__":
    main()
