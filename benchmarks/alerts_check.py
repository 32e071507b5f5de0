"""``sitewatch alerts check`` after a ``detect`` with nothing new: its cost against building the timelines alone.

On a demo workspace (``sitewatch demo``; made in a temporary folder unless --workspace names one), with the
shipped seed-story rules, in one process:

- ``timelines``: ``load_timeline`` of every site of the workspace (baseline: what any alert needs at least);
- ``first run``: ``check_alerts`` recording every event (once, on a copy of the workspace's database);
- ``second run``: ``check_alerts`` again, nothing new (the cron case), median of --repeat runs;

and the wall time of the command itself (``sitewatch alerts check`` in a fresh process, imports included),
second run, median of 3, beside ``sitewatch --version`` (the command group's imports alone).

    python benchmarks/alerts_check.py [--workspace DEMO_DIR] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RULES = Path(__file__).parents[1] / "src" / "sitewatch" / "data" / "alerts" / "seed-story.yaml"


def _median_s(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, help="A demo workspace (default: run `sitewatch demo` into a temporary folder).")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from sitewatch.alerts import check_alerts, load_rules
    from sitewatch.analysis.occupancy import load_timeline
    from sitewatch.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        if args.workspace:
            shutil.copytree(args.workspace, ws, ignore=shutil.ignore_patterns("archive", "simulated", "exports", "ais"))
        else:
            subprocess.run([sys.executable, "-m", "sitewatch", "-q", "demo", "--out", str(ws)], check=True, capture_output=True)
        (ws / "alerts.jsonl").unlink(missing_ok=True)
        with Store(ws / "sitewatch.gpkg") as store:
            store.execute("SELECT 1")
            if store.schema_version() >= 10:
                with store.transaction() as db:
                    db.execute("DELETE FROM alert_events")
            sites = [s.id for s in store.sites() if store.observations(s.id)]
            rules, errors = load_rules(store, RULES)
            assert not errors, errors
            base = _median_s(lambda: [load_timeline(store, s) for s in sites], args.repeat)
            t0 = time.perf_counter()
            first = check_alerts(store, rules, out=ws / "alerts.jsonl")
            first_s = time.perf_counter() - t0
            second = _median_s(lambda: check_alerts(store, rules, out=ws / "alerts.jsonl"), args.repeat)
            again = check_alerts(store, rules, out=ws / "alerts.jsonl")
            assert not again.new
        cmd = [sys.executable, "-m", "sitewatch", "alerts", "check", "-w", str(ws), "--rules", str(RULES)]
        cli = _median_s(lambda: subprocess.run(cmd, check=True, capture_output=True), 3)
        version = [sys.executable, "-m", "sitewatch", "--version"]
        bare = _median_s(lambda: subprocess.run(version, check=True, capture_output=True), 3)
    print(f"sites {', '.join(sites)}; {len(rules)} rules; {len(first.new)} events on the first run, 0 new after")
    print(f"timelines alone (baseline)      {base * 1e3:8.1f} ms")
    print(f"alerts check, first run         {first_s * 1e3:8.1f} ms  ({first_s / base:.2f}x the timelines)")
    print(f"alerts check, nothing new       {second * 1e3:8.1f} ms  ({second / base:.2f}x the timelines)")
    print(f"`sitewatch alerts check` process {cli * 1e3:7.0f} ms  (imports included; second run; "
          f"`sitewatch --version` {bare * 1e3:.0f} ms)")


if __name__ == "__main__":
    main()
