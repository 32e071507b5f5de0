"""``sitewatch verify`` on a workspace's whole archive against ``sha256sum`` of the same files.

Each line is the median of ``--repeat`` fresh processes, wall and CPU (user + system) time:

- ``baseline``: ``sha256sum`` over every archived COG the workspace records (the least any check of the
  archive's bytes costs, GNU coreutils' digest in C);
- ``sitewatch verify``: the command, as a user runs it (``python -m sitewatch -q verify --json``), which also
  starts Python, opens the database read-only and reads each observation's record.

The ratio is line / baseline. The files are read from the page cache after the first repeat on both sides.

    python benchmarks/verify_archive.py WORKSPACE [--repeat 5]      # e.g. the demo's folder
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"


def _timed(args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one child process running ``args`` (its output discarded)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    env = os.environ | {"PYTHONPATH": str(SRC)}
    subprocess.run(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    """Print each line's median wall and CPU time and its ratio to the baseline."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workspace", type=Path, help="A workspace folder with a GeoPackage store (e.g. the demo's).")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    root = a.workspace.resolve()
    with closing(sqlite3.connect(f"{(root / 'sitewatch.gpkg').as_uri()}?mode=ro", uri=True)) as db:
        paths = [str(r[0]) for r in db.execute("SELECT path FROM observations ORDER BY observation_id")]
    size = sum((root / p).stat().st_size for p in paths)
    print(f"{len(paths)} archived images, {size / 2**20:.0f} MiB; median of {a.repeat} runs")
    cases = [("baseline: sha256sum", ["sha256sum", *paths]),
             ("sitewatch verify", [sys.executable, "-m", "sitewatch", "-q", "verify", "--json"])]  # fmt: skip
    results: dict[str, tuple[float, float]] = {}
    for name, args in cases:
        runs = [_timed(args, root) for _ in range(a.repeat)]
        results[name] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
    base_wall, base_cpu = results[cases[0][0]]
    for name, (wall, cpu) in results.items():
        print(f"{name:22s} wall {wall:6.2f} s  CPU {cpu:6.2f} s  ratio wall {wall / base_wall:5.2f}  CPU {cpu / base_cpu:5.2f}")


if __name__ == "__main__":
    main()
