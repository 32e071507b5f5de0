"""``sitewatch change`` run twice on the demo workspace (SIMULATED imagery): what the second run, with nothing new,
costs, against a baseline sitewatch (the code before a pair was skipped when its inputs are unchanged) measured in
the same run.

The demo (``sitewatch -q demo --out DIR/demo``, three sites, 22 days) is made once, by the baseline sitewatch when one
is given (an older sitewatch refuses a workspace a newer one migrated), and copied for each sitewatch; in each copy
``sitewatch change`` (every site, every pair) runs twice, each in a fresh process, and in this sitewatch's copy then
``change --force`` (which the baseline has not: it is set against the baseline's second run, which compares every
pair too). Printed: each run's CPU seconds (user + system of the process), its wall seconds, the ratio of this
sitewatch's CPU to the baseline's, and whether the two print the same pairs and regions.

    python benchmarks/change_rerun.py [--out DIR] [--src SRC] [--baseline SRC]

``--src SRC``: the sitewatch to run (its ``src`` folder; default this checkout's). ``--baseline SRC``: the same steps
first with the sitewatch in SRC (e.g. ``/work/main/src``), printed beside this one's.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

RUNS = {"change (1st)": ["change"], "change (again, nothing new)": ["change"], "change --force": ["change", "--force"]}
"""Each run, in order, and its arguments."""

BASELINE_OF = {"change --force": "change (again, nothing new)"}
"""The baseline's run a run of this sitewatch is set against, when not the run of its name (an option it has not)."""


def _run(src: Path, ws: Path, args: list[str]) -> tuple[float, float, list[str]]:
    """``sitewatch ARGS`` in ``ws`` by the sitewatch in ``src``: CPU seconds, wall seconds and the pair lines it printed."""
    env = {**os.environ, "PYTHONPATH": str(src.resolve())}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "sitewatch", *args], env=env, cwd=ws, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        sys.exit(f"sitewatch {' '.join(args)} ({src}): exit {res.returncode}\n{res.stdout}{res.stderr}")
    pairs = sorted(line for line in res.stdout.splitlines() if " -> " in line)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall, pairs


def runs(src: Path, demo: Path, ws: Path, *, baseline: bool = False) -> dict[str, tuple[float, float, list[str]]]:
    """Each of :data:`RUNS` (``baseline``: those the baseline has) in a copy ``ws`` of the demo workspace, by the
    sitewatch in ``src``."""
    shutil.rmtree(ws, ignore_errors=True)
    shutil.copytree(demo, ws)
    got = {}
    for name, args in RUNS.items():
        if baseline and name in BASELINE_OF:
            continue
        got[name] = _run(src, ws, args)
        print(f"  {src}: {name}: {got[name][0]:.2f} s CPU, {got[name][1]:.2f} s, {len(got[name][2])} pairs",
              file=sys.stderr, flush=True)  # fmt: skip
    return got


def main() -> None:
    """Make the demo, run ``change`` twice (and ``--force``) with each sitewatch, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("change-rerun"), help="folder for the demo and its copies")
    ap.add_argument("--src", type=Path, default=HERE / "src", help="the sitewatch source folder to run")
    ap.add_argument("--baseline", type=Path, default=None, help="a sitewatch source folder to run the same steps with first")
    args = ap.parse_args()
    demo = (args.out / "demo").resolve()
    if not (demo / "sitewatch.gpkg").exists():
        maker = args.baseline or args.src
        subprocess.run([sys.executable, "-m", "sitewatch", "-q", "demo", "--out", str(demo)],
                       env={**os.environ, "PYTHONPATH": str(maker.resolve())}, check=True, capture_output=True)  # fmt: skip
    base = runs(args.baseline, demo, (args.out / "ws-baseline").resolve(), baseline=True) if args.baseline else None
    this = runs(args.src, demo, (args.out / "ws").resolve())
    print("SIMULATED imagery (the demo's three sites). Each run: CPU seconds (user + system), wall seconds")
    if base is None:
        for name, (cpu, wall, pairs) in this.items():
            print(f"{name:30} {cpu:7.2f} s CPU {wall:7.2f} s  {len(pairs)} pairs")
        return
    print(f"{'run (baseline run)':30} {'baseline CPU, wall':>22} {'this CPU, wall':>22} {'CPU ratio':>10}")
    for name, (cpu, wall, pairs) in this.items():
        b_cpu, b_wall, b_pairs = base[BASELINE_OF.get(name, name)]
        name = f"{name} ({BASELINE_OF[name]})" if name in BASELINE_OF else name
        print(f"{name:30} {b_cpu:8.2f} s {b_wall:8.2f} s  {cpu:8.2f} s {wall:8.2f} s {cpu / max(b_cpu, 1e-9):9.3f}x"
              f"  {len(pairs)} pairs, {'the same' if pairs == b_pairs else 'NOT the same'} lines as the baseline")


if __name__ == "__main__":
    main()
