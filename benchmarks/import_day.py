"""One day's ``import`` into a long history, the code before a change against the code after, in the same run.

A workspace with its history (``--workspace``, say the 1,800-day one ``history_scale.py`` builds) is copied
afresh before each run (the database and settings; the archive hard-linked, so that it is never written), and
a folder of that day's images (``--day``) is imported into the copy by each version in turn, alternating,
each in a fresh process with one worker (``SITEWATCH_WORKERS=1``), as the daily job runs it. The figure is
CPU seconds (user+system of the command's process), the median of ``--repeat`` runs, and the ratio of the two.
The script stops unless both versions give the same observations (ids, COG sha256, provenance apart from
the time of the run, the source path and its modification time) and the same count of rows.

    python benchmarks/import_day.py --workspace /tmp/lv/ws1800 --day DAY --before-src /work/main/src --out /tmp/importsql/runs

The images of ``--day`` must be new to the workspace (another acquisition time than its observations) for
the run to be a day's import rather than a rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"


def fresh_copy(workspace: Path, to: Path) -> Path:
    """``workspace``'s database and settings copied into ``to``, its archive hard-linked (never written: a
    run adds new files beside the linked ones)."""
    shutil.rmtree(to, ignore_errors=True)
    to.mkdir(parents=True)
    for name in ("sitewatch.gpkg", "sitewatch.toml"):
        shutil.copy(workspace / name, to / name)
    subprocess.run(["cp", "-al", str(workspace / "archive"), str(to / "archive")], check=True)
    return to


def outcome(workspace: Path) -> tuple[list[tuple[Any, ...]], int]:
    """The observations and the count of rows that decide whether two runs did the same."""
    with sqlite3.connect(workspace / "sitewatch.gpkg") as db:
        rows = []
        for oid, sha, text in db.execute("SELECT observation_id, sha256, provenance FROM observations ORDER BY observation_id"):
            prov = json.loads(text)
            for key in ("ingested_at", "source_path", "source_mtime_ns"):
                prov.pop(key, None)
            rows.append((oid, sha, json.dumps(prov, sort_keys=True)))
        return rows, len(rows)


def main() -> None:
    """Run the comparison and print each run's figures, the medians and their ratio."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, required=True, help="The workspace with its history (copied, never written).")
    ap.add_argument("--day", type=Path, required=True, help="A folder of one day's images, new to the workspace.")
    ap.add_argument("--before-src", type=Path, required=True, help="The src folder of the code before the change.")
    ap.add_argument("--out", type=Path, required=True, help="Where the copies go.")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    versions = {"before": args.before_src, "after": SRC}
    cpu: dict[str, list[float]] = {name: [] for name in versions}
    seen: dict[str, tuple[list[tuple[Any, ...]], int]] = {}
    for i in range(args.repeat):
        for name, src in versions.items():
            ws = fresh_copy(args.workspace, args.out / f"ws-{name}")
            cpu[name].append(_cpu_of(src, ws, args.day))
            got = outcome(ws)
            if seen.setdefault(name, got) != got:
                sys.exit(f"{name}: run {i + 1} gave other observations than run 1")
            print(f"run {i + 1} {name}: {cpu[name][-1]:.2f} s CPU, {got[1]} observations", flush=True)
    if seen["before"] != seen["after"]:
        sys.exit("the two versions gave different observations")
    med = {name: sorted(v)[len(v) // 2] for name, v in cpu.items()}
    print(f"median CPU s: before {med['before']:.2f}, after {med['after']:.2f} ({med['before'] / med['after']:.2f}x); same observations")


def _cpu_of(src: Path, workspace: Path, day: Path) -> float:
    """CPU seconds of one ``sitewatch import DAY`` by the code in ``src`` (its process alone, from ``wait4``)."""
    env = {**os.environ, "PYTHONPATH": str(src), "SITEWATCH_WORKERS": "1", "TZ": "UTC"}
    with open(workspace / "import.stderr", "w+", encoding="utf-8") as err:
        proc = subprocess.Popen([sys.executable, "-m", "sitewatch", "-q", "import", str(day), "-w", str(workspace)],
                                env=env, stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        if status:
            err.seek(0)
            sys.exit(f"import by {src} failed: {err.read()}")
    return float(usage.ru_utime + usage.ru_stime)

if __name__ == "__main__":
    main()
