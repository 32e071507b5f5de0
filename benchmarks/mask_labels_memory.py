"""Peak memory of reading a large instance mask for ``sitewatch score`` (``masklabels.read_instance_mask``),
against decoding the same PNG to RGBA alone, in the same run.

An RGB PNG of SIZE × SIZE pixels with OBJECTS coloured rectangles on black (a whole scene's labels, as a
CVAT export of a Sentinel-2 tile would be) is written once; then, each in a fresh process so that one
figure does not inherit the other's freed memory:

- baseline: ``np.asarray(Image.open(png).convert("RGBA"))``, the decode any reader must do;
- the reader: ``read_instance_mask(png)`` (boxes of every colour, lengths not measured).

Each prints its peak resident memory (``ru_maxrss``) and its wall time; the reader's peak is also given
over the baseline's. ``--src DIR`` runs the reader from another checkout's ``src`` (an older version),
so two versions are compared on the same file.

    python benchmarks/mask_labels_memory.py [--size 8000] [--objects 200] [--src OTHER/src]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = r"""
import resource, sys, time
from pathlib import Path
t = time.perf_counter()
if sys.argv[1] == "decode":
    import numpy as np
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None
    with Image.open(sys.argv[2]) as im:
        n = int(np.asarray(im.convert("RGBA")).shape[0])
else:
    from sitewatch.masklabels import read_instance_mask
    n = len(read_instance_mask(Path(sys.argv[2])))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - t, n)
"""


def write_mask(path: Path, size: int, objects: int, seed: int = 0) -> None:
    """An RGB mask of ``objects`` rectangles (ship-like: 3-40 by 10-300 px), one colour each, on black."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    rgb = np.zeros((size, size, 3), np.uint8)
    for k in range(1, objects + 1):
        h, w = (int(v) for v in rng.integers((3, 10), (40, 300)))
        r, c = int(rng.integers(0, size - h)), int(rng.integers(0, size - w))
        rgb[r : r + h, c : c + w] = (k >> 16 & 255, k >> 8 & 255, k & 255)
    Image.fromarray(rgb).save(path)


def run(what: str, png: Path, src: str | None) -> tuple[float, float, int]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    out = subprocess.run([sys.executable, "-c", CHILD, what, str(png)], env=env, capture_output=True, encoding="locale", check=True)
    peak, secs, n = out.stdout.split()
    return float(peak), float(secs), int(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=8000)
    ap.add_argument("--objects", type=int, default=200)
    ap.add_argument("--src", default=None, help="run the reader from this checkout's src as well")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "mask.png"
        write_mask(png, args.size, args.objects)
        print(f"mask: {args.size} x {args.size} RGB PNG, {args.objects} objects, {png.stat().st_size / 1e6:.1f} MB")
        base, base_s, _ = run("decode", png, None)
        print(f"baseline (decode to RGBA):  {base:8.0f} MB peak  {base_s:6.2f} s")
        runs = [("this checkout", None)] + ([(args.src, args.src)] if args.src else [])
        for name, src in runs:
            peak, secs, n = run("read", png, src)
            print(f"read_instance_mask ({name}): {peak:8.0f} MB peak  {secs:6.2f} s  {n} boxes  "
                  f"x{peak / base:.1f} the baseline's peak, {(peak - base) * 2**20 / args.size**2:.1f} B/px above it")  # fmt: skip


if __name__ == "__main__":
    main()
