"""A Sentinel-1 GRD scene-sized raster through ``sitewatch detect-image``: tiles, memory, stitching.

Run:  python benchmarks/sar_scene_tiles.py [--width 25000 --height 17000] [--ships 400] [--dtype float32]

Writes a synthetic GeoTIFF to a temporary folder (deleted afterwards): float32 linear
sigma0 (default; 1.7 GB at full size) or uint16 amplitude digital numbers like a GRD
measurement file, 10 m pixels, tiled, written strip by strip, with ships placed on
purpose across tile seams. Runs the CLI in a child process and prints wall time, the
child's peak resident memory, detections against drawn ships (within 2 pixels) and
duplicates (two detections within 3 pixels).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--width", type=int, default=25000)
    ap.add_argument("--height", type=int, default=17000)
    ap.add_argument("--ships", type=int, default=400)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dtype", choices=("float32", "uint16"), default="float32")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tif, out = Path(tmp) / "scene.tif", Path(tmp) / "d.geojson"
        t = time.perf_counter()
        truth = write_scene(tif, args.width, args.height, args.ships, dtype=args.dtype)
        print(f"wrote {args.width} x {args.height} {args.dtype} scene ({args.width * args.height / 1e6:.0f} Mpix, {tif.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        cmd = [sys.executable, "-c", "from sitewatch.cli import main; main()", "-q", "detect-image", str(tif), "--out", str(out), "--workers", str(args.workers)]
        subprocess.run(cmd, check=True)
        wall = time.perf_counter() - t
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        feats = json.loads(out.read_text())["features"]
    pos = np.array([(f["properties"]["row"], f["properties"]["col"]) for f in feats]).reshape(-1, 2)
    d = np.hypot(pos[:, None, 0] - truth[None, :, 0], pos[:, None, 1] - truth[None, :, 1]) if len(pos) else np.zeros((0, len(truth)))
    found = int((d.min(axis=0) <= 2).sum()) if len(pos) else 0
    dd = np.hypot(pos[:, None, 0] - pos[None, :, 0], pos[:, None, 1] - pos[None, :, 1]) + np.eye(len(pos)) * 1e9
    dups = int((dd < 3).sum() // 2)
    print(f"detect-image: {wall:.0f} s ({args.width * args.height / 1e6 / wall:.0f} Mpix/s), peak RSS {peak_mb:.0f} MB")
    print(f"ships found {found}/{len(truth)} (within 2 px), detections {len(pos)}, duplicates {dups}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
