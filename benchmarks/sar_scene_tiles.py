"""A Sentinel-1 GRD scene-sized raster through ``sitewatch detect-image``: tiles, memory, stitching.

Run:  python benchmarks/sar_scene_tiles.py [--width 25000 --height 17000] [--ships 400] [--dtype float32]
      python benchmarks/sar_scene_tiles.py --safe

Writes a synthetic GeoTIFF to a temporary folder (deleted afterwards): float32 linear
sigma0 (default; 1.7 GB at full size) or uint16 amplitude digital numbers like a GRD
measurement file, 10 m pixels, tiled, written strip by strip, with ships placed on
purpose across tile seams. Runs the CLI in a child process and prints wall time, the
child's peak resident memory, detections against drawn ships (within 2 pixels) and
duplicates (two detections within 3 pixels).

``--safe`` (uint16): the same digital numbers also as a Sentinel-1 GRD SAFE product, with
calibration and noise LUTs of a real product's size (a vector every 670 lines, a value every
40 samples; 3 sub-swaths × 3 noise azimuth blocks), detected as sigma0 = (DN² − N) / A²
(:mod:`sitewatch.sources.s1_radiometry`, ``--thermal-noise subtract``: both LUTs, the dearer case; the
default, keep, reads the calibration LUT alone) against the GeoTIFF of the same numbers in the same run:
what reading a product through its LUTs adds in time and memory.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

PX = 10.0


def write_scene(path: Path, width: int, height: int, ships: int, seed: int = 3, dtype: str = "float32") -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = []
    for i in range(ships):
        if i % 4 == 0:  # on a tile seam (tiles are 4096 px)
            r = float(rng.integers(1, max(2, height // 4096)) * 4096 if height > 4096 else rng.uniform(50, height - 50))
            c = rng.uniform(100, width - 100)
        else:
            r, c = rng.uniform(100, height - 100), rng.uniform(100, width - 100)
        centres.append((r, c, rng.uniform(60, 250) / PX, rng.uniform(0, 180)))
    centres_arr = np.array(centres)
    profile = dict(driver="GTiff", width=width, height=height, count=1, dtype=dtype, crs="EPSG:32652",
                   transform=from_origin(300000, 4300000, PX, PX), tiled=True, blockxsize=512, blockysize=512)
    strip = 1024
    with rasterio.open(path, "w", **profile) as ds:
        for r0 in range(0, height, strip):
            h = min(strip, height - r0)
            inten = rng.gamma(4.5, 0.03 / 4.5, size=(h, width)).astype(np.float32)
            near = centres_arr[(centres_arr[:, 0] > r0 - 40) & (centres_arr[:, 0] < r0 + h + 40)]
            for r, c, length, heading in near:
                t = math.radians(heading)
                n = int(8 * length)
                a = rng.uniform(-length / 2, length / 2, n)
                w = rng.uniform(-0.08 * length, 0.08 * length, n)
                rr = np.round(r - a * math.cos(t) + w * math.sin(t)).astype(int) - r0
                cc = np.round(c + a * math.sin(t) + w * math.cos(t)).astype(int)
                ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < width)
                inten[rr[ok], cc[ok]] = 0.03 * 10 ** 2.0 * rng.gamma(4.5, 1 / 4.5, int(ok.sum()))
            if dtype == "uint16":  # GRD-like digital numbers: amplitude scaled into uint16
                ds.write(np.clip(np.sqrt(inten) * 2000, 1, 65535).astype(np.uint16), 1, window=Window(0, r0, width, h))
            else:
                ds.write(inten, 1, window=Window(0, r0, width, h))
    return centres_arr[:, :2]


def write_safe(folder: Path, tif: Path) -> Path:
    """The GeoTIFF's digital numbers as a GRD product whose LUTs give sigma0 near DN² / 2000² (the
    scene's own scale) less a noise floor 10 dB under the sea, both varying across range and along azimuth."""
    from sitewatch.testing.safe import NoiseAzimuthBlock, write_s1_grd_safe

    with rasterio.open(tif) as ds:
        dn = ds.read(1)
    h, w = dn.shape
    lines = [*range(0, h - 1, 670), h - 1]
    pixels = [*range(0, w - 1, 40), w - 1]
    across = np.array(pixels) / (w - 1)
    calibration = [(line, pixels, list(2000 * (0.95 + 0.1 * across) * (1 + 0.01 * line / h))) for line in lines]
    noise = [(line, pixels, list(0.003 * 2000**2 * (1.2 - 0.4 * across + 0.2 * np.sin(9 * np.pi * across) ** 2))) for line in lines]
    blocks = []
    for k, (c0, c1) in enumerate(((0, w // 3 - 1), (w // 3, 2 * w // 3 - 1), (2 * w // 3, w - 1))):
        for r0, r1 in ((0, h // 3 - 1), (h // 3, 2 * h // 3 - 1), (2 * h // 3, h - 1)):
            az = [*range(r0, r1, 100), r1]
            blocks.append(NoiseAzimuthBlock(f"IW{k + 1}", r0, r1, c0, c1, az, list(1 + 0.1 * np.cos(np.array(az) / 50.0))))
    return write_s1_grd_safe(folder, {"VV": dn}, crs="EPSG:32652", west=300000.0, north=4300000.0,
                             calibration=calibration, noise_range=noise, noise_azimuth=blocks)  # fmt: skip


def lut_cost(product: Path, tif: Path, tile: int = 4352) -> None:
    """Time of the LUTs alone on one detect-image tile (best of 3, one thread), against the old
    one-constant sigma0 = DN² / A²."""
    from sitewatch.sources.safe import open_s1_grd

    radiometry = open_s1_grd(product, thermal_noise="subtract").bands["VV"].radiometry  # both LUTs, the dearer case
    with rasterio.open(tif) as ds:
        r0, c0 = (ds.height - tile) // 2, (ds.width - tile) // 2
        dn = ds.read(1, window=Window(c0, r0, tile, tile))
    times = {}
    for name, f in (("LUTs", lambda: radiometry.sigma0(dn, r0, c0)),
                    ("one constant", lambda: np.where(dn > 0, dn.astype(np.float32) ** 2 / np.float32(2000.0**2), 0))):  # fmt: skip
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            f()
            runs.append(time.perf_counter() - t)
        times[name] = min(runs)
    print(f"sigma0 of a {tile} x {tile} tile: LUTs {times['LUTs']:.3f} s ({times['LUTs'] / dn.size * 1e9:.1f} ns/px), "
          f"one constant {times['one constant']:.3f} s ({times['one constant'] / dn.size * 1e9:.1f} ns/px)")  # fmt: skip


def detect(image: Path, out: Path, workers: int, *extra: str) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MB) of ``sitewatch detect-image`` in a child process of its own."""
    t = time.perf_counter()
    # VmHWM, the child's own peak: getrusage's ru_maxrss would count what the parent held when it forked
    code = ("import re, sys; from sitewatch.cli import main\n"
            "try: main()\n"
            "finally: print(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1), file=sys.stderr)")  # fmt: skip
    cmd = [sys.executable, "-c", code, "-q", "detect-image", str(image), "--out", str(out), "--workers", str(workers), *extra]
    r = subprocess.run(cmd, check=True, capture_output=True, encoding="locale")
    return time.perf_counter() - t, int(r.stderr.strip().splitlines()[-1]) / 1024


def score(out: Path, truth: np.ndarray) -> tuple[int, int, int]:
    """(ships found within 2 px, detections, duplicates within 3 px)."""
    feats = json.loads(out.read_text(encoding="utf-8"))["features"]
    pos = np.array([(f["properties"]["row"], f["properties"]["col"]) for f in feats]).reshape(-1, 2)
    d = np.hypot(pos[:, None, 0] - truth[None, :, 0], pos[:, None, 1] - truth[None, :, 1]) if len(pos) else np.zeros((0, len(truth)))
    found = int((d.min(axis=0) <= 2).sum()) if len(pos) else 0
    dd = np.hypot(pos[:, None, 0] - pos[None, :, 0], pos[:, None, 1] - pos[None, :, 1]) + np.eye(len(pos)) * 1e9
    return found, len(pos), int((dd < 3).sum() // 2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=25000)
    ap.add_argument("--height", type=int, default=17000)
    ap.add_argument("--ships", type=int, default=400)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dtype", choices=("float32", "uint16"), default="float32")
    ap.add_argument("--safe", action="store_true", help="also as a GRD SAFE product read through its LUTs (implies --dtype uint16)")
    args = ap.parse_args(argv)
    dtype = "uint16" if args.safe else args.dtype
    mpix = args.width * args.height / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        tif, out = Path(tmp) / "scene.tif", Path(tmp) / "d.geojson"
        t = time.perf_counter()
        truth = write_scene(tif, args.width, args.height, args.ships, dtype=dtype)
        print(f"wrote {args.width} x {args.height} {dtype} scene ({mpix:.0f} Mpix, {tif.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t:.0f} s")
        inputs = [("GeoTIFF", tif)]
        if args.safe:
            t = time.perf_counter()
            inputs.append(("SAFE product, LUTs", write_safe(Path(tmp) / "safe", tif)))
            print(f"wrote it again as a GRD SAFE product in {time.perf_counter() - t:.0f} s")
            lut_cost(inputs[-1][1], tif)
        base = None
        for name, image in inputs:
            wall, peak_mb = detect(image, out, args.workers, *(["--thermal-noise", "subtract"] if image.suffix == ".SAFE" else []))
            found, n, dups = score(out, truth)
            ratio = "" if base is None else f", x{wall / base[0]:.2f} time and {peak_mb - base[1]:+.0f} MB against the GeoTIFF"
            base = base or (wall, peak_mb)
            print(f"{name}: detect-image {wall:.0f} s ({mpix / wall:.0f} Mpix/s), peak RSS {peak_mb:.0f} MB{ratio}")
            print(f"  ships found {found}/{len(truth)} (within 2 px), detections {n}, duplicates {dups}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
