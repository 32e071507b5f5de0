"""Wall time and peak memory of `sitewatch demo`, in a fresh folder each run.

Baseline measured in the same run: the demo with one worker (detection in
this process); then with the default (one worker per core). Prints each
stage's seconds, the total, the ratio serial/parallel, and peak RSS.

    python benchmarks/demo_speed.py
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(workers: int) -> tuple[float, dict[str, float], float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "sitewatch", "demo", "--out", str(out), "--workers", str(workers), "--json"],
            check=True,
            capture_output=True,
            encoding="locale",
        )
        wall = time.perf_counter() - t
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mib = usage.ru_maxrss / 1024  # Linux reports KiB; the largest child so far
    return wall, json.loads(proc.stdout)["timings_s"], peak_mib


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    serial, serial_t, peak1 = _run(1)
    parallel, parallel_t, peak2 = _run(0)
    print(f"{'stage':<10}{'1 worker (s)':>14}{'default (s)':>14}")
    for stage in serial_t:
        print(f"{stage:<10}{serial_t[stage]:>14.2f}{parallel_t.get(stage, float('nan')):>14.2f}")
    print(f"wall time: {serial:.1f} s with 1 worker (baseline), {parallel:.1f} s with one per core")
    print(f"ratio baseline/default: {serial / parallel:.2f}x")
    print(f"peak RSS of one process: {max(peak1, peak2):.0f} MiB")


if __name__ == "__main__":
    main()
