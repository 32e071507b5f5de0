"""Peak memory and time of making an optical pair's change regions from its thresholded pixels (the hysteresis
and the regions of :func:`sitewatch.change.detect_changes`), the whole grid labelled at once against a block of
rows at a time, in the same run, and whether they give the same regions.

A SIZE × SIZE pair's two masks (pixels past the grow threshold and past the seed threshold) are written once:
REGIONS blobs (discs and ellipses 3-60 px across, a seed at each centre), 20 lines 1-3 px wide and up to
3,000 px long crossing many blocks, and 1 % of grow pixels scattered without a seed (noise that the
hysteresis drops); with the magnitude and brightness change at those pixels, as the optical test gives them
(:class:`~sitewatch.change.regions.PixelValues`). Then, each in a fresh process so that one figure does not
inherit the other's freed memory, the inputs are loaded and

- whole grid (the baseline, sitewatch before this change): ``_hysteresis`` then ``_regions``;
- blocks: ``block_regions`` with the seeds (the hysteresis and the regions in one labelling), in the
  default row blocks of the comparison (``RowBlocks()``, 2^21 pixels: 262 rows of an 8,000-wide grid).

Each prints its peak resident memory over that after loading the inputs (``ru_maxrss``, which counts GDAL's
polygonize too), numpy's own peak over the same (tracemalloc), and its wall time; the two runs' regions
(pixel counts, areas, means, directions, WKB of the polygons) and kept pixels are compared.

    python benchmarks/change_labels_memory.py [--size 8000] [--regions 300] [--pixels 2097152]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = r"""
import pickle, resource, sys, time, tracemalloc
from pathlib import Path
import numpy as np
d = Path(sys.argv[2])
grow, seeds = np.load(d / "grow.npy"), np.load(d / "seeds.npy")
index = np.load(d / "index.npy")
from sitewatch.change.regions import PixelValues, _hysteresis, _regions
from sitewatch.model import Grid
mag, bright = PixelValues(index, np.load(d / "mag.npy")), PixelValues(index, np.load(d / "bright.npy"))
h, w = grow.shape
grid = Grid("EPSG:32633", (10.0, 0.0, 500000.0, 0.0, -10.0, 4200000.0), w, h)
import rasterio.features, shapely, scipy.sparse.csgraph  # loaded before the baseline figure, in both runs
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
tracemalloc.start()
t = time.perf_counter()
if sys.argv[1] == "whole":
    changed = _hysteresis(grow, seeds)
    regions, kept = _regions(changed, grid, 200.0, mag, bright)
else:
    from sitewatch.change.blocklabels import block_regions
    from sitewatch.change.blocks import RowBlocks
    regions, kept = block_regions(lambda a, b: grow[a:b] | seeds[a:b], grid, 200.0, mag, bright,
                                  RowBlocks(int(sys.argv[3])), seeds=lambda a, b: seeds[a:b])
secs = time.perf_counter() - t
traced = tracemalloc.get_traced_memory()[1] / 2**20
tracemalloc.stop()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
rows = [(r.pixels, r.area_m2, r.magnitude, r.direction, r.polygon.wkb, r.polygon_wgs84.wkb) for r in regions]
(d / (sys.argv[1] + ".pkl")).write_bytes(pickle.dumps((rows, np.packbits(kept).tobytes())))
print(peak - base, traced, secs, len(regions))
"""


def write_masks(folder: Path, size: int, regions: int, seed: int = 0) -> tuple[int, int]:
    """The grow and seed masks and the values at their pixels (module docstring); (grow pixels, seed pixels)."""
    rng = np.random.default_rng(seed)
    grow = rng.random((size, size), dtype=np.float32) < 0.01
    seeds = np.zeros((size, size), bool)
    for _ in range(regions):
        ry, rx = (int(v) for v in rng.integers(2, 31, 2))
        cy, cx = int(rng.integers(ry, size - ry)), int(rng.integers(rx, size - rx))
        yy, xx = np.ogrid[-ry : ry + 1, -rx : rx + 1]
        grow[cy - ry : cy + ry + 1, cx - rx : cx + rx + 1] |= (yy / ry) ** 2 + (xx / rx) ** 2 <= 1.0
        seeds[cy, cx] = True
    for _ in range(20):  # long lines across many row blocks, steep or shallow
        n = int(rng.integers(500, 3000))
        r0, c0 = int(rng.integers(0, size)), int(rng.integers(0, size))
        angle = rng.uniform(0, np.pi)
        t = np.arange(n)
        r = np.clip((r0 + t * np.sin(angle)).astype(int), 0, size - 1)
        c = np.clip((c0 + t * np.cos(angle)).astype(int), 0, size - 1)
        width = int(rng.integers(1, 4))
        for k in range(width):
            grow[r, np.clip(c + k, 0, size - 1)] = True
        seeds[r[n // 2], c[n // 2]] = True
    np.save(folder / "grow.npy", grow)
    np.save(folder / "seeds.npy", seeds)
    index = np.flatnonzero(grow | seeds)
    np.save(folder / "index.npy", index)
    np.save(folder / "mag.npy", rng.gamma(4.0, 2.0, index.size))
    np.save(folder / "bright.npy", rng.normal(0.0, 2.0, index.size))
    return int(grow.sum()), int(seeds.sum())


def run(what: str, folder: Path, pixels: int) -> tuple[float, float, float, int]:
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-c", CHILD, what, str(folder), str(pixels)], env=env, capture_output=True, encoding="locale")
    if out.returncode:
        raise SystemExit(f"{what} failed:\n{out.stderr}")
    peak, traced, secs, n = out.stdout.split()
    return float(peak), float(traced), float(secs), int(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=8000)
    ap.add_argument("--regions", type=int, default=300)
    ap.add_argument("--pixels", type=int, default=1 << 21, help="pixels a block of rows holds (RowBlocks)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        n_grow, n_seed = write_masks(folder, args.size, args.regions)
        rows = max(1, args.pixels // args.size)
        print(f"pair: {args.size} x {args.size}, {args.regions} blobs and 20 lines, {n_grow:,} grow and {n_seed:,} seed pixels; "
              f"blocks of {rows} rows ({args.size // rows + (args.size % rows > 0)} blocks)")
        figures = {}
        for what, label in (("whole", "whole grid (before)"), ("blocks", "blocks of rows")):
            peak, traced, secs, n = run(what, folder, args.pixels)
            figures[what] = (peak, traced, secs)
            print(f"{label:22s} {peak:8.0f} MB peak RSS over inputs  {traced:8.0f} MB numpy peak  {secs:6.2f} s  {n} regions")
        whole, blocks = (pickle.loads((folder / f"{w}.pkl").read_bytes()) for w in ("whole", "blocks"))
        same = whole[0] == blocks[0] and whole[1] == blocks[1]
        digest = hashlib.sha256(pickle.dumps(whole[0])).hexdigest()[:12]
        print(f"same regions and kept pixels: {same} (regions sha256 {digest})")
        (pw, tw, sw), (pb, tb, sb) = figures["whole"], figures["blocks"]
        print(f"blocks / whole grid: peak RSS {pb / pw:.3f}, numpy peak {tb / tw:.3f}, time {sb / sw:.2f}")
        if not same:
            raise SystemExit("the regions differ")


if __name__ == "__main__":
    main()
