"""Time and peak memory of each command as a workspace grows in SITES: 40, 400 and 4,000 ports.

An investigator loads a whole port list (the World Port Index, ~3,800 ports; a navy's piers worldwide):
`benchmarks/_gazetteer.py` makes one of 4,000 port polygons on the world's coasts (WPI-style ids, names
with accents, Cyrillic, CJK and Arabic, names shared by several ports), and the workspaces of 40 and 400
sites hold its first 40 and 400. Imagery is the same at every size: a simulated scenario of 24 of the
first 40 ports (6 SAR dates each, a vessel at each and one that sails between two), so a stage that grows
with the number of sites shows it, and one that grows only with the imagery does not.

Each stage runs in a fresh process (its peak RSS is its own), in the order a user would run them, on
each workspace; the 40-site one is the baseline measured in the same run. Printed per stage: seconds
and peak RSS at each size, and the ratio 4,000/40 against the ratio of sizes (100x). Output sizes
(the report page, the dashboard's index, the sites list) are printed after the table.

    python benchmarks/gazetteer_scale.py [--sizes 40,400,4000] [--stages ...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

IMAGED = 24
"""Ports with imagery (of the first 40, so that every size holds the same ones)."""

DATES = ("2024-10-01", "2024-10-04", "2024-10-07", "2024-10-10", "2024-10-13", "2024-10-16")

_STAGES = (
    "sites-import", "sites-reimport", "sites-import-kml", "sites-list", "sites-show", "sites-export", "complete",
    "import", "observations", "detect", "detect-every", "detect-each", "timeline", "timeline-every", "change-every", "links", "report",
    "report-all", "export", "export-gpkg", "alerts", "serve",
)  # fmt: skip
"""In the order a user runs them; each later stage reads what the earlier ones wrote."""


def _scenario(ports: list[dict[str, Any]]) -> dict[str, Any]:
    """A simulated scenario of IMAGED ports: land to the south of each, a vessel off it on some dates."""
    from shapely.geometry import shape

    chosen = []
    for f in ports[:40]:
        g = shape(f["geometry"])
        if g.minimum_rotated_rectangle.length > 2 * 2 * 1200 / 111_320:  # about 1.2 km or more across
            chosen.append(f)
        if len(chosen) == IMAGED:
            break
    sites, acquisitions, vessels = [], [], []
    for k, f in enumerate(chosen):
        sid = f["properties"]["id"]
        sites.append({"id": sid, "polygon": f["geometry"]["coordinates"][0],
                      "layout": {"scatterers": 10, "land": [[[-5000, -5000], [5000, -5000], [5000, -60], [-5000, -60]]]}})  # fmt: skip
        acquisitions.append({"name": "sar", "site": sid, "sensor": "sar", "platform": "simulated-sar-constellation",
                             "collection": "sim-sar-vv", "resolution_m": 10, "start": DATES[0], "end": DATES[-1],
                             "dates": list(DATES), "time_utc": "09:30", "enl": 4.6})  # fmt: skip
        vessels.append({"id": f"ship-{k}", "class": "general cargo", "length_m": 90.0 + k, "width_m": 14.0,
                        "visits": [{"site": sid, "start": DATES[1 + k % 2], "end": DATES[3 + k % 2],
                                    "position": [0, 40], "heading_deg": 90}]})  # fmt: skip
    # One that sails from the first port to the second: a departure and an arrival for `links`.
    vessels.append({"id": "traveller", "class": "general cargo", "length_m": 120.0, "width_m": 18.0,
                    "visits": [{"site": sites[0]["id"], "start": DATES[0], "end": DATES[1], "position": [0, 120], "heading_deg": 90},
                               {"site": sites[1]["id"], "start": DATES[4], "end": DATES[5], "position": [0, 120], "heading_deg": 90}]})  # fmt: skip
    return {"name": "gazetteer-scale", "title": "Ports of a made-up world port list (SIMULATED)", "seed": 150,
            "description": "SIMULATED SAR of some ports of a 4,000-port list.", "revisits": "6 dates, 3 days apart.",
            "sites": sites, "acquisitions": acquisitions, "vessels": vessels}  # fmt: skip


def _rules(ids: list[str]) -> dict[str, Any]:
    """Rules on every site, as an investigator watching a whole port list writes them."""
    return {"rules": [
        {"id": "any-arrival", "kind": "arrival", "sites": ids, "min_length_m": 60},
        {"id": "busy", "kind": "vessel_count", "sites": ids, "above": 0},
    ]}  # fmt: skip


def build(root: Path, sizes: list[int], reuse: bool = False) -> None:
    """The gazetteer files of each size, the simulated imagery and an empty workspace per size under ``root``."""
    import yaml

    from _gazetteer import gazetteer, to_kml

    big = root / f"ports-{max(sizes)}.geojson"
    if not big.exists():
        big.write_text(json.dumps(gazetteer(max(sizes)), ensure_ascii=False), encoding="utf-8")
    everything = json.loads(big.read_text(encoding="utf-8"))
    for n in sizes:
        part = {"type": "FeatureCollection", "features": everything["features"][:n]}
        (root / f"ports-{n}.geojson").write_text(json.dumps(part, ensure_ascii=False), encoding="utf-8")
        (root / f"ports-{n}.kml").write_text(to_kml(part), encoding="utf-8")
        ids = [f["properties"]["id"] for f in part["features"]]
        (root / f"rules-{n}.yaml").write_text(yaml.safe_dump(_rules(ids)), encoding="utf-8")
    scenario = root / "scenario.yaml"
    if not (root / "imagery").exists():
        scenario.write_text(yaml.safe_dump(_scenario(everything["features"]), sort_keys=False), encoding="utf-8")
        subprocess.run([sys.executable, "-m", "sitewatch", "-q", "simulate", str(scenario), "--out", str(root / "imagery")],
                       check=True, capture_output=True)  # fmt: skip
    for n in sizes:
        ws = root / f"ws-{n}"
        if reuse and ws.exists():  # the workspaces as the stages of an earlier run left them
            continue
        shutil.rmtree(ws, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "sitewatch", "-q", "init", str(ws)], check=True, capture_output=True)


def _imaged(ws: Path) -> list[str]:
    from sitewatch.workspace import open_workspace

    with open_workspace(ws).store() as store:
        return [r[0] for r in store.execute("SELECT DISTINCT site_id FROM observations ORDER BY 1")]


def _stage(name: str, ws: Path, n: int) -> dict[str, Any]:
    """Run one stage on the workspace ``ws`` of ``n`` sites in this process; what it wrote, by size."""
    from click.testing import CliRunner

    from sitewatch.cli import main

    root = ws.parent
    out = ws / "bench-out"
    out.mkdir(exist_ok=True)
    runner = CliRunner()
    sizes: dict[str, Any] = {}

    def cli(*args: str, ok: tuple[int, ...] = (0,)) -> str:
        res = runner.invoke(main, ["-q", *args, "--workspace", str(ws)], catch_exceptions=False)
        if res.exit_code not in ok:
            raise SystemExit(f"{args[:3]}: exit {res.exit_code}\n{res.output[-3000:]}")
        return res.output

    first = "wpi-10000"
    if name in ("sites-import", "sites-reimport"):
        sizes["stdout bytes"] = len(cli("sites", "import", str(root / f"ports-{n}.geojson")).encode())
    elif name == "sites-import-kml":
        sizes["stdout bytes"] = len(cli("sites", "import", str(root / f"ports-{n}.kml")).encode())
    elif name == "sites-list":
        sizes["table bytes"] = len(cli("sites", "list").encode())
        sizes["json bytes"] = len(cli("sites", "list", "--json").encode())
    elif name == "sites-show":
        cli("sites", "show", first)
    elif name == "sites-export":
        for suffix in ("geojson", "kml"):
            cli("sites", "export", str(out / f"sites.{suffix}"))
            sizes[f"{suffix} bytes"] = (out / f"sites.{suffix}").stat().st_size
    elif name == "complete":  # what a Tab after `sitewatch sites show wpi-1` runs, 10 times
        import os

        env = {"COMP_WORDS": f"sitewatch sites show -w {ws} wpi-1", "COMP_CWORD": "5", "_SITEWATCH_COMPLETE": "bash_complete"}
        for _ in range(10):
            res = runner.invoke(main, [], env=env, prog_name="sitewatch", catch_exceptions=False)
        sizes["completions"] = len(res.output.splitlines())
        del os
    elif name == "import":  # purchased images: each into the sites it covers, found among all of them
        cli("import", str(root / "imagery"), ok=(0,))
    elif name == "observations":
        sizes["table bytes"] = len(cli("observations").encode())
        cli("observations", "--json")
    elif name == "detect":  # as the README's daily job: `detect SITE` for each site that has imagery
        for sid in _imaged(ws):
            cli("detect", sid, "--workers", "1", ok=(0, 3))
    elif name == "detect-every":  # `detect` alone: every site with observations, in one process
        cli("detect", "--workers", "1", ok=(0, 3))
    elif name == "detect-each":  # `detect SITE` for every site of the list, in one process (a shell loop starts one a site)
        from sitewatch.workspace import open_workspace

        with open_workspace(ws).store() as store:
            ids = [s.id for s in store.sites()]
        for sid in ids:
            cli("detect", sid, "--workers", "1", ok=(0, 1, 3))
    elif name == "timeline":
        for sid in _imaged(ws):
            cli("timeline", sid, "--json", str(out / "tl.json"))
    elif name == "timeline-every":  # `timeline` alone: every site with observations, in one process
        cli("timeline", "--json", str(out / "tl-every.json"))
        sizes["json bytes"] = (out / "tl-every.json").stat().st_size
    elif name == "change-every":  # `change` alone: every site with observations, each date against the one before
        cli("change", "--json", "--out", str(out / "changes.geojson"))
        sizes["geojson bytes"] = (out / "changes.geojson").stat().st_size
    elif name == "links":
        cli("links", "--json")
    elif name == "report":  # every site with observations
        cli("report", "--out", str(out / "report.html"))
        sizes["html bytes"] = (out / "report.html").stat().st_size
    elif name == "report-all":  # every site of the list, named
        from sitewatch.workspace import open_workspace

        with open_workspace(ws).store() as store:
            ids = [s.id for s in store.sites()]
        cli("report", *ids, "--out", str(out / "report-all.html"))
        sizes["html bytes"] = (out / "report-all.html").stat().st_size
    elif name == "export":
        cli("export", "--out", str(out / "detections.geojson"))
        sizes["geojson bytes"] = (out / "detections.geojson").stat().st_size
    elif name == "export-gpkg":  # a standalone GeoPackage of every site and its detections
        cli("export", "--out", str(out / "detections.gpkg"))
        sizes["gpkg bytes"] = (out / "detections.gpkg").stat().st_size
    elif name == "alerts":
        cli("alerts", "check", "--rules", str(root / f"rules-{n}.yaml"), "--out", str(out / "alerts.jsonl"))
    elif name == "serve":
        from fastapi.testclient import TestClient

        from sitewatch.web import create_app

        with TestClient(create_app(ws)) as client:
            for path in ("/", "/api/sites", "/api/sites?limit=10000", f"/sites/{first}", f"/api/sites/{first}", "/links"):
                r = client.get(path)
                if r.status_code != 200:
                    raise SystemExit(f"GET {path}: {r.status_code}")
                sizes[f"GET {path} bytes"] = len(r.content)
    return sizes


def _measure(name: str, ws: Path, n: int) -> tuple[float, float, float, dict[str, Any]]:
    """Seconds, CPU seconds and peak RSS (MiB) of one stage, in a fresh process, and the sizes it reported."""
    proc = subprocess.run([sys.executable, __file__, "--stage", name, str(ws), str(n)], capture_output=True,
                          encoding="utf-8")  # fmt: skip
    if proc.returncode:
        raise SystemExit(f"stage {name} at {n} sites failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    return got["seconds"], got["cpu"], got["peak_mib"], got["sizes"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="40,400,4000", help="Comma-separated numbers of sites; the first is the baseline.")
    ap.add_argument("--stages", default=",".join(_STAGES), help="Comma-separated stages to time, in order.")
    ap.add_argument("--keep", type=Path, help="Build here and keep it (default: a temp folder); the gazetteer and imagery are reused.")
    ap.add_argument("--skip", default="", help="Comma-separated STAGE@SITES not to run (report-all@4000: an hour before the fix).")
    ap.add_argument("--reuse", action="store_true", help="Keep the workspaces --keep holds (to run later stages again).")
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("workspace", nargs="?", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("n", nargs="?", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:  # the child process: one stage, then its own figures as JSON
        import sitewatch.cli  # noqa: F401  (imports are not the stage's cost)

        t = time.perf_counter()
        cpu0 = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                   for f in ("ru_utime", "ru_stime"))  # fmt: skip
        written = _stage(args.stage, args.workspace, args.n)
        seconds = time.perf_counter() - t
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU seconds (the process and its workers, imports left out) hold still on a machine others load.
        cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime - cpu0
        print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mib": me.ru_maxrss / 1024, "sizes": written}))
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    stages = args.stages.split(",")
    unknown = [s for s in stages if s not in _STAGES]
    if unknown:
        ap.error(f"unknown stage {', '.join(unknown)}; stages: {', '.join(_STAGES)}")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        build(root, sizes, args.reuse)
        print(f"built in {time.perf_counter() - t:.0f} s: {', '.join(map(str, sizes))} sites, {IMAGED} with imagery")
        skip = set(filter(None, args.skip.split(",")))
        head = "".join(f"{f'{n} s':>9}" for n in sizes) + "".join(f"{f'{n} cpu':>9}" for n in sizes)
        print(f"{'stage':<15}{head}{'cpu ratio':>10}" + "".join(f"{f'{n} MiB':>9}" for n in sizes))
        notes = []
        for name in stages:
            got = [None if f"{name}@{n}" in skip else _measure(name, root / f"ws-{n}", n) for n in sizes]
            cells = [f"{'—':>9}" if g is None else f"{g[k]:>9.2f}" for k in (0, 1) for g in got]
            ratio = f"{got[-1][1] / got[0][1]:>9.1f}x" if got[0] and got[-1] else f"{'—':>10}"
            mibs = "".join(f"{'—':>9}" if g is None else f"{g[2]:>9.0f}" for g in got)
            print(f"{name:<15}{''.join(cells)}{ratio}{mibs}", flush=True)
            done = [g for g in got if g is not None]
            for key in done[-1][3] if done else ():
                notes.append(f"{name}: {key}: " + ", ".join("—" if g is None else f"{g[3].get(key, 0):,}" for g in got))
        print(f"ratio of sizes: {sizes[-1] / sizes[0]:.0f}x (a stage linear in the number of sites shows about this "
              f"ratio); s: wall seconds, cpu: CPU seconds of the stage's process and its workers")  # fmt: skip
        for line in notes:
            print(line)


if __name__ == "__main__":
    main()
