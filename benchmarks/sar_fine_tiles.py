"""Sub-metre SAR through ``sitewatch detect-image``: the tiles chosen from the pixel size against the old 4096-pixel cores.

Run:  python benchmarks/sar_fine_tiles.py [--pixel 0.5] [--height 20000 --width 12000] [--ships 60] [--no-one-pass]

The SAR detector needs 1280 m of context around each tile's core: 2560 pixels at 0.5 m, so the
old 4096-pixel cores (``tiling.SAR_TILE_PX`` at any pixel size) were read with more than their own
side around them. Writes a synthetic float32 sigma0 GeoTIFF at ``--pixel`` metres to a temporary
folder (deleted afterwards): open sea, solid hulls 30-250 m long 20 dB over it, a third of them
across the old tiles' seams and a third across the new ones'. Runs ``sitewatch detect-image`` in a
child process three ways, in the same run: the old tiling (``tiling.tile_core`` patched to return
4096), the tiling as shipped (:func:`sitewatch.detect.tiling.tile_core`) and, unless
``--no-one-pass``, one pass over the whole scene (``image.TILE_ABOVE_PIXELS`` raised above it).
Prints for each: tiles, pixels detected (all windows) over the scene's, wall time, the child's
peak resident memory (``VmHWM``), ships found (within 2 px), detections, duplicates (within 3 px),
and detections matched one to one within a pixel to the one pass's; then the ratios of the new to
the old.
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

from _matching import one_to_one
from sitewatch.detect.sar import SarParams
from sitewatch.detect.sar_cells import _block_px
from sitewatch.detect.tiling import SAR_TILE_PX, overlap_px, plan_tiles, tile_core

SEA = 0.03


def write_scene(path: Path, shape: tuple[int, int], px: float, seams: list[int], ships: int, seed: int = 5) -> np.ndarray:
    """Sea with solid hulls (sigma0, float32), written strip by strip; returns the hulls' (row, col)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    hulls: list[tuple[float, float, float, float, float]] = []
    for i in range(ships * 50):
        if len(hulls) == ships:
            break
        length = rng.uniform(30, 250) / px
        margin = length + 10
        if len(hulls) % 3 < 2 and seams:  # across a seam of one tiling or the other, in rows or in columns
            s = float(seams[i % len(seams)])
            r, c = (s, rng.uniform(margin, w - margin)) if i % 2 else (rng.uniform(margin, h - margin), s)
            if not (margin < r < h - margin and margin < c < w - margin):
                continue
        else:
            r, c = rng.uniform(margin, h - margin), rng.uniform(margin, w - margin)
        # 300 m of open sea between hulls, so each is one ship to find
        if all(math.hypot(r - q[0], c - q[1]) > (length + q[2]) / 2 + 300 / px for q in hulls):
            hulls.append((r, c, length, max(6.0 / px, 0.15 * length), rng.uniform(0, math.pi)))
    profile = dict(driver="GTiff", width=w, height=h, count=1, dtype="float32", crs="EPSG:32652",
                   transform=from_origin(300000, 4300000, px, px), tiled=True, blockxsize=512, blockysize=512)  # fmt: skip
    strip = 1024
    with rasterio.open(path, "w", **profile) as ds:
        for r0 in range(0, h, strip):
            n = min(strip, h - r0)
            a = rng.gamma(4.5, SEA / 4.5, size=(n, w)).astype(np.float32)
            for r, c, length, width, t in hulls:
                half = length / 2 + width
                if r + half < r0 or r - half >= r0 + n:
                    continue
                rr, cc = np.mgrid[max(r0, int(r - half)) : min(r0 + n, int(r + half) + 1), max(0, int(c - half)) : min(w, int(c + half) + 1)]
                along = (rr - r) * math.cos(t) + (cc - c) * math.sin(t)
                across = -(rr - r) * math.sin(t) + (cc - c) * math.cos(t)
                inside = (np.abs(along) <= length / 2) & (np.abs(across) <= width / 2)
                a[rr[inside] - r0, cc[inside]] = SEA * 100 * rng.gamma(4.5, 1 / 4.5, int(inside.sum()))
            ds.write(a, 1, window=Window(0, r0, w, n))
    return np.array([(r, c) for r, c, *_ in hulls])


OLD = "import sitewatch.detect.tiling as t; t.tile_core = lambda p, px, shape: (t.SAR_TILE_PX, t.SAR_TILE_PX)\n"
ONE_PASS = "import sitewatch.detect.image as im; im.TILE_ABOVE_PIXELS = 1 << 62\n"


def detect(image: Path, out: Path, workers: int, patch: str) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MB, the child's own VmHWM) of detect-image in a child process."""
    code = (patch + "import re, sys; from sitewatch.cli import main\n"
            "try: main()\n"
            "finally: print(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1), file=sys.stderr)")  # fmt: skip
    t = time.perf_counter()
    cmd = [sys.executable, "-c", code, "-q", "detect-image", str(image), "--sensor", "sar", "--out", str(out), "--workers", str(workers)]
    r = subprocess.run(cmd, check=True, capture_output=True, encoding="locale")
    return time.perf_counter() - t, int(r.stderr.strip().splitlines()[-1]) / 1024


def positions(out: Path) -> np.ndarray:
    feats = json.loads(out.read_text(encoding="utf-8"))["features"]
    return np.array([(f["properties"]["row"], f["properties"]["col"]) for f in feats], float).reshape(-1, 2)


def matched(a: np.ndarray, b: np.ndarray, tol: float) -> int:
    """Pairs of a and b within ``tol`` pixels in row and column, one to one (nearest first)."""
    if not len(a) or not len(b):
        return 0
    d = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    near = np.argwhere((np.abs(a[:, None, 0] - b[None, :, 0]) <= tol) & (np.abs(a[:, None, 1] - b[None, :, 1]) <= tol))
    return one_to_one(sorted(near.tolist(), key=lambda ij: d[ij[0], ij[1]]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pixel", type=float, default=0.5, help="ground pixel size in metres")
    ap.add_argument("--height", type=int, default=20000)
    ap.add_argument("--width", type=int, default=12000)
    ap.add_argument("--ships", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-one-pass", action="store_true", help="skip the one pass over the whole scene (its memory)")
    args = ap.parse_args(argv)
    shape, px, p = (args.height, args.width), args.pixel, SarParams()
    o, b = overlap_px(p, px), _block_px(p, px)
    plans = {"old tiling": (SAR_TILE_PX, SAR_TILE_PX), "new tiling": tile_core(p, px, shape)}
    seams = sorted({s for core in plans.values() for k in core for s in range(k // b * b, max(shape), k // b * b)})
    mpix = shape[0] * shape[1] / 1e6
    print(f"{shape[0]} x {shape[1]} px ({mpix:.0f} Mpix) at {px:g} m: context {o} px, CFAR block {b} px")
    runs = [("old tiling", OLD), ("new tiling", "")] + ([] if args.no_one_pass else [("one pass", ONE_PASS)])
    res: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tif = Path(tmp) / "scene.tif"
        t = time.perf_counter()
        truth = write_scene(tif, shape, px, seams, args.ships)
        print(f"wrote the scene ({tif.stat().st_size / 1e9:.2f} GB, {len(truth)} ships) in {time.perf_counter() - t:.0f} s")
        found: dict[str, np.ndarray] = {}
        for name, patch in runs:
            out = Path(tmp) / f"{name.replace(' ', '_')}.geojson"
            wall, peak = detect(tif, out, args.workers, patch)
            pos = found[name] = positions(out)
            if name in plans:
                tiles = plan_tiles(*shape, plans[name], o, align=b)
                n_tiles = len(tiles)
                read = sum((t.window[1] - t.window[0]) * (t.window[3] - t.window[2]) for t in tiles) / (shape[0] * shape[1])
                biggest = max((t.window[1] - t.window[0], t.window[3] - t.window[2]) for t in tiles)
                how = f"cores {plans[name][0]} x {plans[name][1]}: {n_tiles} tiles, largest window {biggest[0]} x {biggest[1]}"
            else:
                read, how = 1.0, "one window"
            dd = np.hypot(pos[:, None, 0] - pos[None, :, 0], pos[:, None, 1] - pos[None, :, 1]) + np.eye(len(pos)) * 1e9
            res[name] = {"wall": wall, "peak": peak, "read": read}
            print(f"{name}: {how}; pixels detected {read:.2f} x the scene's; {wall:.0f} s ({mpix / wall:.1f} Mpix/s); "
                  f"peak RSS {peak:.0f} MB")  # fmt: skip
            print(f"  ships found {matched(truth, pos, 2)}/{len(truth)} (within 2 px), detections {len(pos)}, "
                  f"duplicates {int((dd < 3).sum() // 2)}")  # fmt: skip
        if "one pass" in found:
            one = found["one pass"]
            for name in plans:
                print(f"{name} against one pass: {matched(found[name], one, 1)} of {len(found[name])} / {len(one)} "
                      "detections matched within 1 px")  # fmt: skip
    old, new = res["old tiling"], res["new tiling"]
    print(f"new / old: pixels detected x{new['read'] / old['read']:.2f}, wall time x{new['wall'] / old['wall']:.2f}, "
          f"peak RSS x{new['peak'] / old['peak']:.2f} ({new['peak'] - old['peak']:+.0f} MB)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
