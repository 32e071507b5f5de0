"""SAR detection with *derived* water: the seed-story sites added without a water polygon.

Run:  sitewatch -q demo --out /tmp/demo-w            (once; simulated scenes in /tmp/demo-w/simulated)
      python benchmarks/sar_nowater.py /tmp/demo-w [--workspace /tmp/ws-nowater] [--features f.csv]

What a user gets with ``sitewatch sites add dunai --builtin`` (built-in sites carry no water
polygon): the script makes a workspace (default ``<demo>/../ws-nowater``, reused if it
exists) with the built-in sites ``dunai`` and ``rason``, ingests the demo's simulated scenes
into it, and re-detects the SAR observations with the pipeline's own call — ``water=None``,
so :func:`sitewatch.detect.sar.detect_sar` derives land and water from each image — then
prints the evaluation's ``by_sensor["sar"]`` scores (as ``benchmarks/sar_sim.py`` does for
the polygon case, whose code it reuses).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import sar_sim
from sitewatch.workspace import open_workspace

SITES = ("dunai", "rason")


def make_workspace(demo: Path, ws: Path) -> None:
    """A workspace with the built-in sites (no water polygon) and the demo's simulated scenes."""
    from click.testing import CliRunner

    from sitewatch.cli import main as cli

    run = CliRunner()

    def call(*args: str) -> None:
        res = run.invoke(cli, ["-q", *args], catch_exceptions=False)
        if res.exit_code != 0:
            raise SystemExit(f"sitewatch {' '.join(args)} failed: {res.output}")

    call("init", str(ws))
    here = os.getcwd()
    os.chdir(ws)
    try:
        for site in SITES:
            call("sites", "add", site, "--builtin")
            call("ingest", site, str(demo / "simulated" / site))
    finally:
        os.chdir(here)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("demo", type=Path, help="output folder of `sitewatch demo`")
    ap.add_argument("--workspace", type=Path, help="workspace to make or reuse (default: <demo>/../ws-nowater)")
    ap.add_argument("--features", type=Path)
    args = ap.parse_args(argv)
    ws = args.workspace or args.demo.resolve().parent / "ws-nowater"
    if not (ws / "sitewatch.toml").exists():
        make_workspace(args.demo.resolve(), ws)
    with open_workspace(ws).store() as store:
        for site in store.sites():
            if site.water is not None:
                raise SystemExit(f"site {site.id!r} in {ws} has a water polygon; this benchmark is for derived water")
    return sar_sim.main([str(ws)] + (["--features", str(args.features)] if args.features else []))


if __name__ == "__main__":
    sys.exit(main())
