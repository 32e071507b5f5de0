"""A worker killed outright while it returns a large result: does the run end, how fast, saying what?

Runs a small command (four jobs of 1 MB results on two workers; the worker of the second job is
killed by SIGKILL, as the out-of-memory killer would, half-way through sending its result) in a
subprocess, and prints the time it took to exit, its exit code and the last line it wrote to stderr,
beside the same command with no worker killed (the baseline: Python's start, imports, the jobs).
A run still going after ``--timeout`` seconds is killed and reported as hung.

    PYTHONPATH=src python benchmarks/worker_killed.py            # this tree
    PYTHONPATH=/path/to/other/src python benchmarks/worker_killed.py   # another version, as baseline
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = """
import sys

import click

from sitewatch.cli.options import handle_errors
from sitewatch.run import map_jobs
from sitewatch.testing.processes import die_while_sending

def job(i):
    if i == 1 and sys.argv[1] == "kill":
        die_while_sending(1 << 16)  # the result, not its length
    return bytes(1 << 20)

@click.command()
@click.argument("case")
@handle_errors
def run(case):
    for result in map_jobs(job, [0, 1, 2, 3], workers=2):
        pass

if __name__ == "__main__":
    run()
"""


def main() -> None:
    """Run the scenario once and print what a user would see."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before the run is called hung")
    args = parser.parse_args()
    import sitewatch

    print(f"sitewatch from {Path(sitewatch.__file__).parent}")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "killed.py")
        script.write_text(SCRIPT, encoding="utf-8")
        for case in ("none", "kill"):
            took, code, last, hung = _run(script, case, args.timeout)
            what = "no worker killed" if case == "none" else "worker killed  "
            if case == "none":
                baseline = took
            if hung:
                print(f"{what}: HUNG, still running after {took:.1f} s (killed by this script); stderr: {last!r}")
            else:
                print(f"{what}: exited after {took:.2f} s (x{took / baseline:.2f}) with exit code {code}; stderr: {last!r}")


def _run(script: Path, case: str, timeout: float) -> tuple[float, int, str, bool]:
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, str(script), case], stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="locale",
        start_new_session=True,
    )  # fmt: skip
    try:
        _, err = proc.communicate(timeout=timeout)
        hung = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        hung = True
    took = time.monotonic() - start
    return took, proc.returncode, err.strip().splitlines()[-1] if err.strip() else "", hung

if __name__ == "__main__":
    main()
