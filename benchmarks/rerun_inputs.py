"""Commands run again with nothing new: how many rows each adds to ``input_changes``, whether the next ``alerts
check`` keeps its window (alert_window.WindowRun.full), and that check's CPU time.

The seed story is simulated (``sitewatch simulate seed-story``: three sites, 182 images), then a workspace gets the
first day's job through the real commands, each in a fresh process: ``sites import`` of the three layouts,
``import --new-only`` of the folder, ``detect``, ``alerts check`` (the seed story's rules). Then each rerun in turn,
each followed by a count of ``input_changes``, a look at what the next check would evaluate, and an ``alerts check``
(which takes the notes in; its CPU seconds, user+system of its process, and the rerun's own): ``import --new-only`` of the same folder,
``import`` of it, ``detect``, ``detect --force`` (the same results), ``sites import`` of the same layouts, ``ingest
dunai`` of its folder, ``detect``. Nothing new is given: every count should be 0.

    python benchmarks/rerun_inputs.py [--out DIR] [--store postgresql://…] [--src SRC] [--baseline SRC]

``--src SRC``: the sitewatch to run (its ``src`` folder; default this checkout's). ``--baseline SRC``: the same
steps first with the sitewatch in SRC (e.g. ``/work/main/src``, the code before a change) in a workspace of its own,
printed beside this one's, each check's CPU as a ratio to the baseline's. ``--store``: an empty PostGIS database
(``sitewatch init --store``) instead of a GeoPackage (with ``--baseline``, ``--baseline-store``: another).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def _cpu_of(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    """``cmd`` run to its end, and its CPU seconds (user + system of the process and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return res, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


RERUNS = {
    "import --new-only (same folder)": lambda sim, layouts: ["import", str(sim), "--new-only"],
    "import (same folder)": lambda sim, layouts: ["import", str(sim)],
    "detect (nothing new)": lambda sim, layouts: ["detect"],
    "detect --force (same results)": lambda sim, layouts: ["detect", "--force"],
    "sites import (same files)": lambda sim, layouts: ["sites", "import", *layouts],
    "ingest dunai (same folder)": lambda sim, layouts: ["ingest", "dunai", str(sim / "dunai")],
    "detect (after the ingest)": lambda sim, layouts: ["detect"],
}
"""Each rerun, in order: its arguments, given the simulated folder and the sites' layout files."""


def reruns(src: Path, sim: Path, ws: Path, store: str | None) -> dict[str, dict[str, Any]]:
    """The first day's job in a new workspace ``ws``, then each of :data:`RERUNS`, run by the sitewatch in ``src``:
    for each, the rows noted, what the next check evaluates and its CPU seconds."""
    env = {**os.environ, "PYTHONPATH": str(src.resolve())}

    def sw(*a: str, cwd: Path | None = None) -> float:
        res, cpu = _cpu_of([sys.executable, "-m", "sitewatch", "-q", *a], env, cwd)
        if res.returncode not in (0, 3):
            sys.exit(f"sitewatch {' '.join(a)}: exit {res.returncode}\n{res.stdout}{res.stderr}")
        return cpu

    shutil.rmtree(ws, ignore_errors=True)
    sw("init", str(ws), *(("--store", store) if store else ()))
    shutil.copy(HERE / "src" / "sitewatch" / "data" / "alerts" / "seed-story.yaml", ws / "alerts.yaml")
    layouts = sorted(str(p) for p in sim.glob("*/layout.geojson"))
    for step in (["sites", "import", *layouts], ["import", str(sim), "--new-only"], ["detect"], ["alerts", "check"]):
        sw(*step, cwd=ws)
    got: dict[str, dict[str, Any]] = {}
    for name, step in RERUNS.items():
        cpu = sw(*step(sim, layouts), cwd=ws)
        probe = subprocess.run([sys.executable, "-c", _PROBE, str(ws)], env=env, capture_output=True, text=True, check=True)
        got[name] = json.loads(probe.stdout) | {"cpu": cpu, "check_cpu": sw("alerts", "check", cwd=ws)}
        print(f"  {src}: {name}: {got[name]}", file=sys.stderr, flush=True)
    return got


def _cell(g: dict[str, Any]) -> str:
    return f"{g['cpu']:.1f} s; {g['noted']}, {'whole' if g['full'] else 'window'}, {g['check_cpu']:.2f} s"


def main() -> None:
    """Run the workspace's first day, then each rerun, and print the rows each notes."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("rerun-inputs"), help="folder for the simulated images and the workspace")
    ap.add_argument("--store", default=None, help="an empty PostGIS database URL (default: a GeoPackage)")
    ap.add_argument("--src", type=Path, default=HERE / "src", help="the sitewatch source folder to run")
    ap.add_argument("--baseline", type=Path, default=None, help="a sitewatch source folder to run the same steps with first")
    ap.add_argument("--baseline-store", default=None, help="with --baseline and --store: another empty PostGIS database")
    args = ap.parse_args()
    if args.baseline and bool(args.store) != bool(args.baseline_store):
        ap.error("--store with --baseline needs --baseline-store (another empty database), and only then")
    sim = args.out / "sim"
    if not (sim / "scenario.json").exists():
        subprocess.run([sys.executable, "-m", "sitewatch", "-q", "simulate", "seed-story", "-o", str(sim)],
                       env={**os.environ, "PYTHONPATH": str(args.src.resolve())}, check=True, capture_output=True)
    sim = sim.resolve()
    base = reruns(args.baseline, sim, (args.out / "ws-baseline").resolve(), args.baseline_store) if args.baseline else None
    this = reruns(args.src, sim, (args.out / "ws").resolve(), args.store)
    if base is None:
        print(f"{'rerun':34} {'rows noted':>10}  next alerts check")
        for name, g in this.items():
            print(f"{name:34} {g['noted']:>10}  {'whole history (' + g['why'] + ')' if g['full'] else 'window'}, "
                  f"{g['check_cpu']:.2f} s CPU (the rerun {g['cpu']:.1f} s)")
        return
    print("each: the rerun's CPU; rows noted, what the next check evaluates, its CPU; then this / baseline, of each CPU")
    print(f"{'rerun':34} {'baseline':>32}  {'this':>32}  {'rerun':>6} {'check':>6}")
    for name, g in this.items():
        b = base[name]
        print(f"{name:34} {_cell(b):>32}  {_cell(g):>32}  {g['cpu'] / max(b['cpu'], 1e-9):5.2f}x "
              f"{g['check_cpu'] / max(b['check_cpu'], 1e-9):5.2f}x")


if __name__ == "__main__":
    main()
