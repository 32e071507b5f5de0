"""Commands run again with nothing new: how many rows each adds to ``input_changes``, and whether the next ``alerts
check`` keeps its window (alert_window.WindowRun.full).

The seed story is simulated (``sitewatch simulate seed-story``: three sites, 182 images), then a workspace gets the
first day's job through the real commands, each in a fresh process: ``sites import`` of the three layouts,
``import --new-only`` of the folder, ``detect``, ``alerts check`` (the seed story's rules). Then each rerun in turn,
each followed by a count of ``input_changes``, a look at what the next check would evaluate, and an ``alerts check``
(which takes the notes in): ``import --new-only`` of the same folder, ``import`` of it, ``detect``, ``sites import`` of
the same layouts, ``ingest dunai`` of its folder, ``detect``. Nothing new is given: every count should be 0.

    python benchmarks/rerun_inputs.py [--out DIR] [--store postgresql://…] [--src SRC]

``--src SRC``: the sitewatch to run (its ``src`` folder; default this checkout's), e.g. ``/work/main/src`` for the
code before a change. ``--store``: an empty PostGIS database (``sitewatch init --store``) instead of a GeoPackage.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

_PROBE = """
import json, sys
from sitewatch.alert_window import evaluate_window
from sitewatch.alerts import load_rules
from sitewatch.workspace import open_workspace
root = open_workspace(sys.argv[1])
with root.store() as s:
    n = s.execute("SELECT count(*) FROM input_changes")[0][0]
    rules, _ = load_rules(s, root.root / "alerts.yaml")
    run = evaluate_window(s, rules)
print(json.dumps({"noted": n, "full": run.full, "why": run.why_full}))
"""


def main() -> None:
    """Run the workspace's first day, then each rerun, and print the rows each notes."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("rerun-inputs"), help="folder for the simulated images and the workspace")
    ap.add_argument("--store", default=None, help="an empty PostGIS database URL (default: a GeoPackage)")
    ap.add_argument("--src", type=Path, default=HERE / "src", help="the sitewatch source folder to run")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.src.resolve())}
    sim, ws = args.out / "sim", (args.out / "ws").resolve()

    def sw(*a: str, cwd: Path | None = None) -> str:
        res = subprocess.run([sys.executable, "-m", "sitewatch", "-q", *a], env=env, cwd=cwd, capture_output=True, text=True)
        if res.returncode not in (0, 3):
            sys.exit(f"sitewatch {' '.join(a)}: exit {res.returncode}\n{res.stdout}{res.stderr}")
        return res.stdout

    if not (sim / "scenario.json").exists():
        sw("simulate", "seed-story", "-o", str(sim))
    sim = sim.resolve()
    shutil.rmtree(ws, ignore_errors=True)
    sw("init", str(ws), *(("--store", args.store) if args.store else ()))
    shutil.copy(HERE / "src" / "sitewatch" / "data" / "alerts" / "seed-story.yaml", ws / "alerts.yaml")
    layouts = sorted(str(p) for p in sim.glob("*/layout.geojson"))
    for step in (["sites", "import", *layouts], ["import", str(sim), "--new-only"], ["detect"], ["alerts", "check"]):
        sw(*step, cwd=ws)
    reruns = {
        "import --new-only (same folder)": ["import", str(sim), "--new-only"],
        "import (same folder)": ["import", str(sim)],
        "detect (nothing new)": ["detect"],
        "sites import (same files)": ["sites", "import", *layouts],
        "ingest dunai (same folder)": ["ingest", "dunai", str(sim / "dunai")],
        "detect (after the ingest)": ["detect"],
    }
    print(f"{'rerun':34} {'rows noted':>10}  next alerts check")
    for name, step in reruns.items():
        sw(*step, cwd=ws)
        probe = subprocess.run([sys.executable, "-c", _PROBE, str(ws)], env=env, capture_output=True, text=True, check=True)
        got = json.loads(probe.stdout)
        print(f"{name:34} {got['noted']:>10}  {'whole history (' + got['why'] + ')' if got['full'] else 'window'}", flush=True)
        sw("alerts", "check", cwd=ws)


if __name__ == "__main__":
    main()
