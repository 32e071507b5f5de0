"""Time and peak memory of sub-metre optical change with the learned score (``irmad-cva`` 6) against without
it (version 4, ``learned=False``), measured in the same run.

    python benchmarks/change_submetre_speed.py                     # 2,048² pixels at 0.5 m (1 km²), and 1,024²
    python benchmarks/change_submetre_speed.py --size 4096 --baseline-size 1024
    python benchmarks/change_submetre_speed.py --src OLD/src --learned-only   # this code against another tree's
    python benchmarks/change_submetre_speed.py --src OLD/src --learned-only --size 8192 --tile 2

The pair is SIMULATED: :func:`sitewatch.testing.submetre_change.submetre_pair` of the size asked (drawn
ground, the later date in other light and half a pixel out of register, a new trench and a new roof: six to
nine roofs and a dozen trees whatever the size, so a larger pair is mostly grass and bare ground). Each run (size × version) is a child process of its own, which builds
the pair, resets its resident high-water mark (``VmHWM``, by writing 5 to ``/proc/self/clear_refs``) and
reads its resident memory, runs :func:`sitewatch.change.detect_changes` (regions of 25 m²) and reads the
high-water mark: the time, and the peak above the pair itself, are the comparison's.
Printed per run: seconds, seconds a megapixel, peak memory above the pair and bytes a pixel, regions and
the planted objects found (half their pixels or more); then version 6 over version 4 at each size. With
``--src DIR`` each run is made again with another tree's package (``DIR`` first on ``PYTHONPATH``: the code before
a change) and this code's time and peak are given over that one's, regions and objects compared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import gc, json, sys, time
import numpy as np
from sitewatch.change import ChangeImage, detect_changes
from sitewatch.model import Grid
from sitewatch.testing.submetre_change import submetre_pair

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0

size, learned, tiles = int(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3])
pair = submetre_pair(0, size=size // tiles, changed=True)
before, after = (np.tile(x, (1, tiles, tiles)) for x in (pair.before, pair.after))
step = size // tiles
objects = [(slice(r.start + i * step, r.stop + i * step), slice(c.start + j * step, c.stop + j * step))
           for i in range(tiles) for j in range(tiles) for r, c in pair.objects]
grid = Grid("EPSG:32631", (0.5, 0.0, 500_000.0, 0.0, -0.5, 5_000_000.0), size, size)
names = ("blue", "green", "red")
del pair
gc.collect()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak resident set starts again from here (Linux 4.0 and later)
start = status("VmRSS")
t0 = time.perf_counter()
r = detect_changes(ChangeImage(before, grid, "optical", names), ChangeImage(after, grid, "optical", names), min_area_m2=25.0, learned=learned)
seconds = time.perf_counter() - t0
found = sum(int(r.changed[rows, cols].mean() > 0.5) for rows, cols in objects)
print(json.dumps({"seconds": seconds, "peak": status("VmHWM") - start, "version": r.method_version, "regions": len(r.regions), "found": found, "objects": len(objects)}))
"""


def measure(size: int, learned: bool, src: str | None = None, tiles: int = 1) -> dict[str, float]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    out = subprocess.run([sys.executable, "-c", CHILD, str(size), "1" if learned else "0", str(tiles)], check=True, capture_output=True, encoding="locale", env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _line(label: str, size: int, m: dict[str, float]) -> str:
    mpx = size * size / 1e6
    return (f"{size:>6}² {label} version {m['version']}: {m['seconds']:7.1f} s ({m['seconds'] / mpx:5.2f} s/Mpx), peak above the pair "
            f"{m['peak'] / 2**20:7.0f} MB ({m['peak'] / (size * size):5.0f} B/px), {m['regions']} regions, "
            f"{m['found']} of {m['objects']} objects found")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=2048, help="pixels a side of the large pair (0.5 m)")
    ap.add_argument("--baseline-size", type=int, default=1024, help="pixels a side of the smaller pair, measured in the same run")
    ap.add_argument("--src", help="another tree's src folder: each run again with its package, this code's over it")
    ap.add_argument("--learned-only", action="store_true", help="version 6 only (no version 4 runs)")
    ap.add_argument("--tile", type=int, default=1, metavar="N",
                    help="the large pair drawn at 1/N its side and repeated N × N times (drawing an 8,192² pair takes over 20 GB)")
    opts = ap.parse_args()
    print("SIMULATED 0.5 m pairs (sitewatch.testing.submetre_change.submetre_pair)")
    for size in (opts.baseline_size, opts.size):
        runs = {}
        tiles = opts.tile if size == opts.size else 1
        for learned in (True,) if opts.learned_only else (False, True):
            m = runs[learned] = measure(size, learned, tiles=tiles)
            tiled = f" (a {size // tiles}² pair repeated {tiles} × {tiles})" if tiles > 1 else ""
            print(_line("this code" if opts.src else "", size, m) + tiled)
            if opts.src:
                o = measure(size, learned, opts.src, tiles)
                print(_line("--src    ", size, o) + tiled)
                same = (m["regions"], m["found"]) == (o["regions"], o["found"])
                print(f"{size:>6}² this code / --src: time ×{m['seconds'] / o['seconds']:.2f}, peak ×{m['peak'] / max(o['peak'], 1):.2f}, "
                      f"regions and objects {'the same' if same else 'DIFFER'}")  # fmt: skip
        if not opts.learned_only:
            print(f"{size:>6}² version 6 / version 4: time ×{runs[True]['seconds'] / runs[False]['seconds']:.2f}, "
                  f"peak ×{runs[True]['peak'] / max(runs[False]['peak'], 1):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
