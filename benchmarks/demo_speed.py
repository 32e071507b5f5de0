"""Wall time and peak memory of `sitewatch demo`, in a fresh folder each run.

Baseline measured in the same run: the demo with one worker (detection in
this process); then with the default (one worker per core). Prints each
stage's seconds, the total, the ratio serial/parallel, and peak RSS.

With ``--scenario NAME`` (a packaged scenario such as ``departures``, or a file) the baseline is the
default demo (the seed story) and the other run that scenario's demo, both with the default workers:
each stage's seconds, wall and CPU time (the demo process's user + system), their ratios to the
baseline, and the scenario's ``sitewatch eval`` figures (detections, presence days, links).

    python benchmarks/demo_speed.py
    python benchmarks/demo_speed.py --scenario departures
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
from typing import Any


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(workers: int, scenario: str | None = None) -> tuple[float, dict[str, float], float, float, dict[str, Any]]:
    """Wall s, stage timings, peak RSS MiB so far, CPU s of this run, and the demo's JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        cpu0 = _cpu_s()
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "sitewatch", "demo", "--out", str(out), "--workers", str(workers), "--json",
             *(["--scenario", scenario] if scenario else [])],
            check=True,
            capture_output=True,
            encoding="locale",
        )  # fmt: skip
        wall = time.perf_counter() - t
        cpu = _cpu_s() - cpu0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mib = usage.ru_maxrss / 1024  # Linux reports KiB; the largest child so far
    doc = json.loads(proc.stdout)
    return wall, doc["timings_s"], peak_mib, cpu, doc


def _eval_lines(ev: dict[str, Any]) -> list[str]:
    o = ev["overall"]
    lines = [f"detections: {o['observations']} obs, TP {o['tp']} FP {o['fp']} FN {o['fn']}, F1 {o['f1']:.3f}"
             + "".join(f"; {k} F1 {v['f1']:.3f}" for k, v in sorted(ev["by_sensor"].items()))]  # fmt: skip
    lines += [f"presence days at {sid}: timeline {p['detected_days']}, truth {p['truth_days']}, agreeing {p['agreeing_days']}"
              for sid, p in ev["presence"].items()]  # fmt: skip
    if links := ev.get("links"):
        lines.append(f"links: {links['found']} found, {links['true']} true, {links['missed']} of {links['truth_links']} true links missed")
    return lines


def _compare(scenario: str) -> None:
    base_wall, base_t, peak1, base_cpu, _ = _run(0)
    wall, timings, peak2, cpu, doc = _run(0, scenario)
    print(f"{'stage':<10}{'seed-story (s)':>16}{scenario + ' (s)':>{max(16, len(scenario) + 6)}}")
    for stage in dict.fromkeys([*base_t, *timings]):
        print(f"{stage:<10}{base_t.get(stage, float('nan')):>16.2f}{timings.get(stage, float('nan')):>{max(16, len(scenario) + 6)}.2f}")
    print(f"wall time: {base_wall:.1f} s seed-story (baseline), {wall:.1f} s {scenario}: ratio {wall / base_wall:.2f}x")
    print(f"CPU time:  {base_cpu:.1f} s seed-story (baseline), {cpu:.1f} s {scenario}: ratio {cpu / base_cpu:.2f}x")
    print(f"peak RSS of one process: {max(peak1, peak2):.0f} MiB")
    for line in _eval_lines(doc["evaluation"]):
        print(f"{scenario} eval: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", help="Time this scenario's demo against the seed story's (both default workers).")
    args = parser.parse_args()
    if args.scenario:
        _compare(args.scenario)
        return
    serial, serial_t, peak1, _, _ = _run(1)
    parallel, parallel_t, peak2, _, _ = _run(0)
    print(f"{'stage':<10}{'1 worker (s)':>14}{'default (s)':>14}")
    for stage in serial_t:
        print(f"{stage:<10}{serial_t[stage]:>14.2f}{parallel_t.get(stage, float('nan')):>14.2f}")
    print(f"wall time: {serial:.1f} s with 1 worker (baseline), {parallel:.1f} s with one per core")
    print(f"ratio baseline/default: {serial / parallel:.2f}x")
    print(f"peak RSS of one process: {max(peak1, peak2):.0f} MiB")


if __name__ == "__main__":
    main()
