"""``sitewatch links`` on one workspace with two source trees: CPU, peak memory, and whether the outputs are the same.

The baseline tree (``BASELINE_SRC``, e.g. main's ``src`` exported with ``git archive main src | tar -x -C /tmp/main``)
and this checkout's ``src`` each run ``links`` (the table at ``COLUMNS=200``, the table piped with no ``COLUMNS``, then ``--json``, and ``--ais FILE``
with ``--ais``), each in a fresh process as a user runs it, ``--repeat`` times; the figures are the median CPU
seconds (user + system, ``wait4``) and the largest peak RSS, with the candidate's ratio to the baseline measured in
the same run. The outputs of the two trees are compared byte for byte (the exit status is 1 when any differs).

Workspaces: the demo's (``sitewatch demo --out DIR``, 2 sites), and the ten-site history of
``benchmarks/history_scale.py --out DIR`` (``DIR/ws``; ``--lengths 1800`` for five years).

    python benchmarks/links_speed.py BASELINE_SRC --workspace WS [--ais FILE] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def measure(cmd: list[str], env: dict[str, str], stdout: Path) -> dict[str, Any]:
    """One command in a fresh process: its own CPU seconds and peak RSS (``wait4``) and exit code."""
    with stdout.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    return {"cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024, "code": os.waitstatus_to_exitcode(status)}


def main() -> None:
    """Run both trees on the workspace and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("baseline", type=Path, help="the baseline's src folder")
    ap.add_argument("--candidate", type=Path, default=ROOT / "src", help="the candidate's src folder (default: this checkout's)")
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--ais", type=Path, help="an AIS file: also `links --ais FILE --json`")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="keep the outputs here")
    args = ap.parse_args()
    out = args.keep or Path(tempfile.mkdtemp(prefix="links-speed-"))
    out.mkdir(parents=True, exist_ok=True)
    # "table piped": no COLUMNS, as into a file or grep: every row on its lines, however wide (print_table's fast path).
    cases: dict[str, list[str]] = {"table": [], "table piped": [], "--json": ["--json"]}
    if args.ais:
        cases["--ais --json"] = ["--ais", str(args.ais), "--json"]
    same = True
    print(f"workspace {args.workspace}; median of {args.repeat} fresh processes; CPU = user + system")
    print(f"{'output':14} {'baseline s':>10} {'MB':>6} {'candidate s':>11} {'MB':>6} {'ratio':>6}  same bytes  lines")
    for name, extra in cases.items():
        row: dict[str, Any] = {}
        for label, src in (("baseline", args.baseline), ("candidate", args.candidate)):
            env = {**os.environ, "PYTHONPATH": str(src.resolve()), "COLUMNS": "200", "TZ": "UTC", "SITEWATCH_WORKERS": "1"}
            if name == "table piped":
                del env["COLUMNS"]
            target = out / f"{label}{name.replace(' ', '').replace('-', '_')}.out"
            runs = [measure([sys.executable, "-m", "sitewatch", "links", "-w", str(args.workspace), *extra], env, target)
                    for _ in range(args.repeat)]  # fmt: skip
            if any(r["code"] != 0 for r in runs):
                sys.exit(f"{label} {name}: exit {runs[0]['code']}")
            row[label] = (statistics.median(r["cpu"] for r in runs), max(r["rss_mb"] for r in runs), target)
        (b, bmb, bt), (c, cmb, ct) = row["baseline"], row["candidate"]
        equal = bt.read_bytes() == ct.read_bytes()
        same &= equal
        lines = ct.read_bytes().count(b"\n")
        print(f"{name:14} {b:10.2f} {bmb:6.0f} {c:11.2f} {cmb:6.0f} {c / b:6.2f}  {'yes' if equal else 'NO':10}  {lines:,}")
    if args.keep is None:
        for p in out.iterdir():
            p.unlink()
        out.rmdir()
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
