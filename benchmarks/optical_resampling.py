"""Which resampling ingest should reproject optical bands with, measured on the sen2ships ports.

    python benchmarks/optical_resampling.py
    python benchmarks/optical_resampling.py --ports genoa athens

Ingest reprojects every optical band onto the site's UTM grid (``sitewatch.ingest.cut._cut_to_grid``).
Here each sen2ships port's bands (EPSG:3857, 10 m Mercator pixels) are put on the grid
ingest would make for a site covering the whole scene — the UTM zone of the scene's
centre at the scene's ground resolution, from ingest's own :func:`read_scene_ref` and
:func:`site_grid` — with each of ``nearest``, ``bilinear`` (ingest's choice today) and
``cubic``, using the same ``rasterio.warp.reproject`` call as ingest. The detector then
runs as ``sitewatch detect`` runs it (valid = inside the site and finite in every band,
pixel size from the grid) with the default :class:`OpticalParams` (the shipped model).
The original grid, as ``detect-image`` sees it, is a reference row.

Scoring: each detection's centroid is carried back to the original 3857 pixel grid
(UTM -> 3857 through the grid's and the file's transforms) and scored there by
``optical_sen2ships.score`` against the labelled boxes as drawn. So every method is
matched against the very same boxes with the very same rule (centroid inside a box,
one-to-one, best score first), and no label is resampled. Length errors compare the
detection's length (measured on the UTM grid) with the labelled mask's.

The shipped model was trained on these ports, so the absolute figures are in-sample
(optimistic); the comparison is between resamplings under one model.

Decision rule (fixed before the measurement): ingest's optical default moves from
bilinear to the best other method only if that method's pooled F1 is at least 0.02
higher than bilinear's and no port's F1 falls by more than 0.10 against bilinear.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sen2ships import BAND_FILES, ROOT, Port, load_port, select_ports  # noqa: E402
from optical_sen2ships import HEADER, Score, _line, pooled, score  # noqa: E402
from sitewatch.detect.base import PixelDetection  # noqa: E402
from sitewatch.detect.optical import OpticalParams, detect_optical  # noqa: E402
from sitewatch.detect.optical_reflectance import infer_dn_scale  # noqa: E402
from sitewatch.geo import ground_pixel_size  # noqa: E402
from sitewatch.ingest import read_scene_ref, site_grid, site_mask  # noqa: E402
from sitewatch.model import Grid, Site  # noqa: E402

METHODS = {"nearest": Resampling.nearest, "bilinear": Resampling.bilinear, "cubic": Resampling.cubic}
BASELINE = "bilinear"
MIN_POOLED_GAIN = 0.02
MAX_PORT_DROP = 0.10


def _band_file(name: str, code: str = "B08") -> Path:
    return next((ROOT / name).glob(f"*_{code}_(Raw).tiff"))


def port_grid(name: str) -> tuple[Site, Grid, str, Affine, float | None]:
    """The site (the scene's footprint), the grid ingest would cut it to, the file's CRS and
    transform, and the DN divisor ingest would infer from the bands."""
    path = _band_file(name)
    # The file names carry the day only; the time does not enter the grid.
    scene, _ = read_scene_ref(path, acquired=datetime(2023, 1, 1, tzinfo=UTC), sensor="optical", name_bands=False)
    site = Site(id=name, name=name, kind="port", geometry=scene.footprint)
    grid = site_grid(site, scene.resolution_m)
    samples = []
    for code in BAND_FILES.values():
        files = list((ROOT / name).glob(f"*_{code}_(Raw).tiff"))
        if files:
            with rasterio.open(files[0]) as src:
                samples.append(src.read(1))
    with rasterio.open(path) as src:
        crs, tr = src.crs.to_string(), src.transform
    return site, grid, crs, tr, infer_dn_scale(samples)


def to_grid(
    bands: dict[str, NDArray[np.float32]], crs: str, tr: Affine, grid: Grid, method: Resampling
) -> dict[str, NDArray[np.float32]]:
    """Each band on ``grid``, reprojected as ``sitewatch.ingest.cut._cut_to_grid`` does (NaN outside the file)."""
    out = {}
    for b, arr in bands.items():
        dst = np.full((grid.height, grid.width), np.nan, np.float32)
        reproject(
            arr, dst, src_transform=tr, src_crs=crs, dst_transform=grid.affine, dst_crs=grid.crs,
            src_nodata=np.nan, dst_nodata=np.nan, resampling=method,
        )  # fmt: skip
        out[b] = dst
    return out


def back_to_source(dets: list[PixelDetection], grid: Grid, crs: str, tr: Affine) -> list[PixelDetection]:
    """Detections on ``grid`` with their centroids moved to the source file's pixel grid."""
    if not dets:
        return []
    # PixelDetection rows/cols put row 0 at the first row's centre; affines address pixel edges.
    xs, ys = zip(*(grid.affine @ (d.col + 0.5, d.row + 0.5) for d in dets), strict=True)
    sx, sy = transform(grid.crs, crs, list(xs), list(ys))
    inv = ~tr
    moved = []
    for d, x, y in zip(dets, sx, sy, strict=True):
        c, r = inv @ (x, y)
        moved.append(replace(d, col=c - 0.5, row=r - 0.5))
    return moved


def run_port(name: str, params: OpticalParams) -> tuple[dict[str, Score], dict[str, float], float | None]:
    """Scores of the original grid and of each resampling, and seconds each took."""
    port: Port = load_port(name)
    site, grid, crs, tr, dn = port_grid(name)
    scores: dict[str, Score] = {}
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    scores["original"] = score(port, detect_optical(port.bands, port.pixel_size, params=params))
    seconds["original"] = time.perf_counter() - t0
    inside = site_mask(site, grid)
    pixel = ground_pixel_size(grid.crs, grid.affine, grid.width, grid.height)
    for m, method in METHODS.items():
        t0 = time.perf_counter()
        bands = to_grid(port.bands, crs, tr, grid, method)
        valid = inside & np.all([np.isfinite(a) for a in bands.values()], axis=0)
        dets = detect_optical(bands, pixel, valid=valid, params=params)
        scores[m] = score(port, back_to_source(dets, grid, crs, tr))
        seconds[m] = time.perf_counter() - t0
    return scores, seconds, dn


def main() -> None:
    ap = argparse.ArgumentParser(description="optical resampling at ingest, on sen2ships")
    ap.add_argument("--ports", nargs="*", default=None)
    args = ap.parse_args()
    names = select_ports(args.ports)
    params = OpticalParams()
    rows = ["original", *METHODS]
    per: dict[str, dict[str, Score]] = {r: {} for r in rows}
    print(f"optical resampling on sen2ships ({len(names)} ports), shipped model (in-sample), default params")
    print(f"{'port':<12} {'UTM grid':>22}  dn   " + " ".join(f"{r:>16}" for r in rows) + "   (tp/fp F1)")
    for n in names:
        scores, seconds, dn = run_port(n, params)
        _, grid, *_ = port_grid(n)
        for r in rows:
            per[r][n] = scores[r]
        cells = " ".join(f"{scores[r].tp:3d}/{scores[r].fp:3d} {scores[r].f1:5.2f}   " for r in rows)
        print(
            f"{n:<12} {grid.crs:>10} {grid.width:5d}x{grid.height:<5d} {dn or 0:6.0f} {cells}"
            f"  {sum(seconds.values()):5.1f}s"
        )
    for r in rows:
        print(f"\n{r}" + (" (EPSG:3857 as delivered; detect-image)" if r == "original" else " (site UTM grid)"))
        print(HEADER)
        for n in names:
            print(_line(n, per[r][n]))
        print(_line("POOLED", pooled(list(per[r].values()))))
    print("\npooled, against bilinear (ingest today)")
    print(f"{'method':<10}  ships  tp   fp   fn   prec  rec   F1    dF1    worst port dF1")
    base = pooled(list(per[BASELINE].values()))
    verdict = {}
    for r in rows:
        s = pooled(list(per[r].values()))
        drops = {n: per[r][n].f1 - per[BASELINE][n].f1 for n in names}
        worst = min(drops, key=lambda k: drops[k])
        print(
            f"{r:<10}  {s.tp + s.fn:4d} {s.tp:4d} {s.fp:4d} {s.fn:4d}  {s.precision:5.3f} {s.recall:5.3f} "
            f"{s.f1:5.3f} {s.f1 - base.f1:+6.3f}   {drops[worst]:+5.2f} ({worst})"
        )
        if r in METHODS and r != BASELINE:
            verdict[r] = (s.f1 - base.f1, drops[worst])
    best = max(verdict, key=lambda k: verdict[k][0])
    gain, drop = verdict[best]
    switch = gain >= MIN_POOLED_GAIN and drop >= -MAX_PORT_DROP
    print(
        f"\nrule: switch to the best other method only if pooled F1 >= bilinear + {MIN_POOLED_GAIN} and no "
        f"port's F1 falls by more than {MAX_PORT_DROP}.\nbest other: {best} (pooled dF1 {gain:+.3f}, worst port "
        f"{drop:+.2f}) -> {'switch to ' + best if switch else 'keep bilinear'}"
    )


if __name__ == "__main__":
    main()
