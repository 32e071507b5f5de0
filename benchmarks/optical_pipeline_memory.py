"""Peak memory of the detection stage on a large optical observation (a purchased 0.5 m image of a port).

    python benchmarks/optical_pipeline_memory.py [--size 12000] [--pixel 0.5] [--baseline-sizes 3000 4500] [--sar | --sar-only]

Writes a synthetic four-band float32 observation (a COG-like tiled, deflated GeoTIFF on a site's
UTM grid: water, piers every 1.5 km, ships at anchor and alongside) window by window, and detects
in it the way ``sitewatch detect`` does (:func:`sitewatch.detection.detect_observation`, optical
mode ``auto`` on real imagery: the learned detector), each run in a child process of its own whose
peak resident memory (VmHWM) is printed. The baseline, measured in the same run on smaller grids
(``--baseline-sizes``; a 12,000-pixel grid would need about 18 GB), is the stage as it ran before
it was tiled: the whole COG read, one pass of the detector over it. Printed: grid, path, peak MB,
bytes a pixel above the interpreter, seconds, detections. ``--sar`` also measures a one-band
VV observation (speckle, ships as bright bars, no water polygon: land derived from the image) the
same way, ``--sar-only`` that alone: each of ``--baseline-sizes`` detected in one pass (the whole
COG read, as every SAR observation was before it was tiled, and as grids of at most 64 M pixels
still are) and in tiles (the threshold lowered to 0), and ``--size`` as ``sitewatch detect`` runs
it (tiled above 64 M pixels); the last line sets the tiled peak against one pass at ``--size``
projected from the largest baseline's bytes a pixel.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window

# Reflectance (blue, green, red, nir) of harbour water, a concrete pier and a grey deck.
WATER = np.array([0.045, 0.040, 0.022, 0.012], np.float32)
PIER = np.array([0.150, 0.160, 0.170, 0.210], np.float32)
DECK = np.array([0.100, 0.105, 0.110, 0.120], np.float32)
PIER_EVERY_M, PIER_WIDTH_M = 1500.0, 150.0
LON, LAT = 132.338, 42.880


def _site_and_grid(size: int, pixel: float):  # type: ignore[no-untyped-def]
    """A square site about ``size`` pixels of ``pixel`` metres a side, and its grid."""
    from sitewatch.ingest import site_grid
    from sitewatch.sites import site_from_bbox

    half_m = size * pixel / 2 * 0.985  # the grid covers the site's bounds in UTM, a little wider
    dlat = half_m / 111_320.0
    dlon = half_m / (111_320.0 * math.cos(math.radians(LAT)))
    site = site_from_bbox("bench", (LON - dlon, LAT - dlat, LON + dlon, LAT + dlat), name="bench")
    return site, site_grid(site, pixel)


def _ships(h: int, w: int, pixel: float, rng: np.random.Generator) -> list[tuple[float, float, float, float, float]]:
    """(row, col, length px, beam px, heading) of ships at anchor in the water between piers and alongside them."""
    out = []
    n = max(4, int(h * w * pixel * pixel / 250_000))  # one a 500 x 500 m
    for _ in range(n):
        length = rng.uniform(40, 160)
        out.append((rng.uniform(0, h), rng.uniform(0, w), length / pixel, length / 7 / pixel, rng.uniform(0, 180)))
    return out


def write_sar_observation(path: Path, grid, pixel: float) -> None:  # type: ignore[no-untyped-def]
    """Sea speckle (sigma0 about 0.01) with a bright hull-sized bar a 500 x 500 m, written in strips."""
    h, w = grid.shape
    profile = {
        "driver": "GTiff", "width": w, "height": h, "count": 1, "dtype": "float32", "crs": grid.crs,
        "transform": grid.affine, "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
        "nodata": float("nan"), "BIGTIFF": "YES",
    }  # fmt: skip
    rng = np.random.default_rng(0)
    ships = _ships(h, w, pixel, rng)
    with rasterio.open(path, "w", **profile) as dst:
        dst.set_band_description(1, "VV")
        for r0 in range(0, h, 1024):
            r1 = min(h, r0 + 1024)
            a = np.random.default_rng(r0).gamma(4.5, 0.01 / 4.5, (r1 - r0, w)).astype(np.float32)
            for cy, cx, length, beam, _ in ships:
                beam = max(beam, 1.0)  # at least a row at 10 m
                if r0 <= cy < r1 - beam:
                    a[int(cy) - r0 : int(cy + beam) - r0, int(cx) : int(cx + length)] = 2.0
            dst.write(a[None], window=Window(0, r0, w, r1 - r0))


def write_observation(path: Path, grid, pixel: float) -> int:  # type: ignore[no-untyped-def]
    """The synthetic scene on ``grid``, written in strips (bounded memory); returns the ship count."""
    h, w = grid.shape
    rng = np.random.default_rng(0)
    ships = _ships(h, w, pixel, rng)
    x = (np.arange(w) + 0.5) * pixel
    pier = (x % PIER_EVERY_M) > PIER_EVERY_M - PIER_WIDTH_M
    profile = {
        "driver": "GTiff", "width": w, "height": h, "count": 4, "dtype": "float32", "crs": grid.crs,
        "transform": grid.affine, "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate",
        "nodata": float("nan"), "BIGTIFF": "YES",
    }  # fmt: skip
    strip = 1024
    with rasterio.open(path, "w", **profile) as dst:
        for i, name in enumerate(("blue", "green", "red", "nir"), start=1):
            dst.set_band_description(i, name)
        for r0 in range(0, h, strip):
            r1 = min(h, r0 + strip)
            img = np.where(pier[None, None, :], PIER[:, None, None], WATER[:, None, None]) * np.ones((1, r1 - r0, 1), np.float32)
            for cy, cx, length, beam, heading in ships:
                reach = length / 2 + beam
                if cy + reach < r0 or cy - reach >= r1:
                    continue
                ra, rb = max(r0, int(cy - reach)), min(r1, int(cy + reach) + 1)
                ca, cb = max(0, int(cx - reach)), min(w, int(cx + reach) + 1)
                rr, cc = np.mgrid[ra:rb, ca:cb]
                t = math.radians(heading)
                along = (cc - cx) * math.sin(t) - (rr - cy) * math.cos(t)
                across = (cc - cx) * math.cos(t) + (rr - cy) * math.sin(t)
                hull = (np.abs(along) <= length / 2) & (np.abs(across) <= beam / 2)
                img[:, rr[hull] - r0, cc[hull]] = DECK[:, None]
            img += np.random.default_rng(r0).normal(0, 0.003, img.shape).astype(np.float32)
            dst.write(img, window=Window(0, r0, w, r1 - r0))
    return len(ships)


_CHILD = r"""
import json, re, sys, time
from pathlib import Path
from typing import Any
sys.path.insert(0, {bench!r})
from optical_pipeline_memory import child
out = child({args!r})
out["peak_mb"] = int(re.search(r"VmHWM:\s*(\d+)", open("/proc/self/status").read()).group(1)) / 1024
print(json.dumps(out))
"""


def child(args: dict) -> dict:  # type: ignore[type-arg]
    """In a process of its own: the interpreter's resident size, then one detection run."""
    import re

    from sitewatch.detection import DetectJob, detect_observation
    from sitewatch.ingest import sha256_file
    from sitewatch.model import Observation, SceneRef

    rss = int(re.search(r"VmRSS:\s*(\d+)", open("/proc/self/status", encoding="utf-8").read()).group(1)) / 1024  # type: ignore[union-attr]
    site, grid = _site_and_grid(args["size"], args["pixel"])
    path = Path(args["path"])
    from datetime import UTC, datetime

    sensor = "sar" if args["path_kind"].startswith("sar") else "optical"
    scene = SceneRef("local", "bench", path.stem, sensor, datetime(2024, 10, 17, 10, tzinfo=UTC), args["pixel"])
    obs = Observation("bench#1", site.id, scene, grid, path.name, sha256_file(path), 1.0)
    t = time.perf_counter()
    if args["path_kind"] in ("tiled", "sar", "sar-whole", "sar-tiled"):
        # SAR: as shipped (tiled above 64 M pixels), forced into one pass, or forced into tiles.
        above = {"sar-whole": 2**62, "sar-tiled": 0}.get(args["path_kind"])
        res = detect_observation(DetectJob(site, obs, str(path), {}), sar_tile_above=above)
        assert not res.error, res.error
        n, cloud = len(res.detections), res.cloud_fraction
    else:
        # The stage before it was tiled: the whole COG read, one pass of the detector.
        from sitewatch.detect import optical
        from sitewatch.geo import ground_pixel_size
        from sitewatch.ingest import site_mask

        with rasterio.open(path) as src:
            data = src.read(out_dtype="float32")
        valid = site_mask(site, grid) & np.all(np.isfinite(data), axis=0)
        bands = dict(zip(("blue", "green", "red", "nir"), data, strict=True))
        pxy = ground_pixel_size(grid.crs, grid.affine, grid.width, grid.height)
        result = optical.detect_optical_result(bands, pxy, valid=valid)
        n, cloud = len(result.detections), float((result.cloud & valid).sum()) / max(1, int(valid.sum()))
    return {"seconds": time.perf_counter() - t, "detections": n, "cloud": cloud, "start_mb": rss}


def run(path: Path, size: int, pixel: float, kind: str) -> dict:  # type: ignore[type-arg]
    code = _CHILD.format(bench=str(Path(__file__).resolve().parent), args={"path": str(path), "size": size, "pixel": pixel, "path_kind": kind})
    r = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, encoding="locale")
    import json

    return json.loads(r.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _print_row(grid: Any, label: str, out: dict[str, Any]) -> float:
    """One line of the table; returns the bytes a pixel above the interpreter's size before the run."""
    per_px = float((out["peak_mb"] - out["start_mb"]) * 2**20 / (grid.width * grid.height))
    print(
        f"{grid.height:>6} x {grid.width:<6} {label:<10} {out['peak_mb']:>8.0f} {per_px:>8.1f} "
        f"{out['seconds']:>7.1f} {out['detections']:>10}"
    )
    return per_px


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=12000, help="grid side in pixels (tiled run)")
    ap.add_argument("--pixel", type=float, default=0.5, help="pixel size in metres")
    ap.add_argument("--baseline-sizes", type=int, nargs="*", default=[3000, 4500], help="grid sides of the untiled baseline")
    ap.add_argument("--sar", action="store_true", help="also a SAR observation of --size (read whole)")
    ap.add_argument("--sar-only", action="store_true", help="the SAR observation alone")
    args = ap.parse_args(argv)
    from sitewatch.detect.image import TILE_ABOVE_PIXELS
    print(f"{'grid':>13} {'path':<10} {'peak MB':>8} {'B/pixel':>8} {'s':>7} {'detections':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for size in [] if args.sar_only else sorted(set(args.baseline_sizes + [args.size])):
            _, grid = _site_and_grid(size, args.pixel)
            path = Path(tmp) / f"obs_{size}.tif"
            write_observation(path, grid, args.pixel)
            kinds = ["untiled", "tiled"] if size in args.baseline_sizes else ["tiled"]
            for kind in kinds:
                _print_row(grid, kind, run(path, size, args.pixel, kind))
            path.unlink()
        if args.sar or args.sar_only:
            whole_per_px = None
            for size in sorted(set(args.baseline_sizes + [args.size])):
                _, grid = _site_and_grid(size, args.pixel)
                path = Path(tmp) / f"sar_{size}.tif"
                write_sar_observation(path, grid, args.pixel)
                kinds = ["sar-whole", "sar-tiled"] if size in args.baseline_sizes else ["sar"]
                for kind in kinds:
                    out = run(path, size, args.pixel, kind)
                    tiled = kind == "sar-tiled" or (kind == "sar" and grid.width * grid.height > TILE_ABOVE_PIXELS)
                    per_px = _print_row(grid, "SAR tiled" if tiled else "SAR 1pass", out)
                    if kind == "sar-whole":
                        whole_per_px = per_px
                    if kind == "sar" and tiled and whole_per_px is not None:
                        projected = out["start_mb"] + whole_per_px * grid.width * grid.height / 2**20
                        print(
                            f"SAR at {grid.height} x {grid.width}: one pass would peak at about {projected:.0f} MB "
                            f"({whole_per_px:.1f} bytes a pixel), tiled {out['peak_mb']:.0f} MB: {projected / out['peak_mb']:.1f}x less"
                        )
                path.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
