"""Time and peak memory of each read-side stage as a workspace grows ~8x.

The small workspace is the demo's (`sitewatch demo`: 3 simulated series at two
sites, 167 observations), with every observation given its site's demo
detections as a template (~20-40 vessels per image, so ~5,000 detections):
a busy port, not the demo's mostly empty piers. The large one is the same
workspace with its scenes, observations and detections copied REPEAT times
in the database, each copy shifted by 500 days (the demo spans ~490), so the
archive holds REPEAT times the dates at the same revisit density (~1,300
observations, ~40,000 detections). Copies point at the same archived COGs
(same path, same sha256), so detection and the report's chips read real
files. Both are built in a temporary folder.

Each stage runs in a fresh process (its peak RSS is its own) and is timed
there, on both workspaces; the small one is the baseline measured in the
same run. Printed per stage: seconds and peak RSS at each size, and the
ratio large/small against the ratio of sizes (observations).

    python benchmarks/workspace_scale.py [--repeat 8] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

SHIFT_DAYS = 500
"""Each copy of the archive is this many days after the previous one (the demo spans ~490 days)."""

_STAGES = ("open", "observations", "show", "timeline", "report", "exports", "detect")
"""Detect last: a rerun that detects again replaces the template detections with the detector's own."""


def _connect(db: Path) -> sqlite3.Connection:
    """A connection that may write to the feature tables: their spatial indexes' triggers call ST_MinX…"""
    con = sqlite3.connect(db)
    try:
        from sitewatch.store import register_gpkg_functions
    except ImportError:  # a sitewatch from before the spatial index (schema 6) needs none
        return con
    register_gpkg_functions(con)
    return con


def _densify(db: Path) -> None:
    """Give every observation its site's demo detections (new ids), as a busy port would have."""
    con = _connect(db)
    with con:
        con.execute("CREATE TEMP TABLE tmpl AS SELECT * FROM detections")
        con.execute("DELETE FROM detections")
        con.execute(
            """INSERT INTO detections (geom, detection_id, observation_id, site_id, acquired, sensor, kind,
               length_m, width_m, heading_deg, score, detector, detector_version, row, col, berth_id,
               class_candidates, lon, lat, simulated)
               SELECT t.geom, o.observation_id || '#' || printf('%03d', t.fid), o.observation_id, o.site_id,
               o.acquired, o.sensor, t.kind, t.length_m, t.width_m, t.heading_deg, t.score, t.detector,
               t.detector_version, t.row, t.col, t.berth_id, t.class_candidates, t.lon, t.lat, o.simulated
               FROM observations o JOIN tmpl t ON t.site_id = o.site_id"""
        )
    con.close()


def _replicate(db: Path, repeat: int) -> None:
    """Copy scenes, observations and detections ``repeat - 1`` times, each copy SHIFT_DAYS later."""
    con = _connect(db)
    cols = {t: [r[1] for r in con.execute(f"PRAGMA table_info({t})") if r[1] != "fid"]
            for t in ("scenes", "observations", "detections")}  # fmt: skip
    originals = {t: con.execute(f"SELECT max(fid) FROM {t}").fetchone()[0] or 0 for t in cols}
    with con:
        for k in range(1, repeat):
            shift = f"'+{k * SHIFT_DAYS} days'"
            when = f"strftime('%Y-%m-%dT%H:%M:%fZ', acquired, {shift})"
            sfx = f"'-r{k}'"
            new = {
                "scenes": {"scene_id": f"scene_id || {sfx}", "item_id": f"item_id || {sfx}", "acquired": when},
                "observations": {"observation_id": f"observation_id || {sfx}", "scene_id": f"scene_id || {sfx}",
                                 "acquired": when},
                "detections": {"detection_id": f"replace(detection_id, '#', {sfx} || '#')",
                               "observation_id": f"observation_id || {sfx}", "acquired": when},
            }  # fmt: skip
            for table, c in cols.items():
                exprs = ", ".join(new[table].get(name, name) for name in c)
                con.execute(f"INSERT INTO {table} ({', '.join(c)}) SELECT {exprs} FROM {table} WHERE fid <= ?",
                            (originals[table],))  # fmt: skip
    con.close()
    _extend_detect_state(db)


def _extend_detect_state(db: Path) -> None:
    """Record the copies as detected by the demo's last run, as if it had detected in them too.

    Then a `detect` rerun on the large workspace is one in which nothing changed. (Before
    sitewatch kept this state, every rerun detected in every observation.)
    """
    try:
        from sitewatch.detection_state import (
            detect_key,
            load_state,
            observation_fingerprint,
            save_state,
        )
    except ImportError:
        return
    from sitewatch.store import Store

    with Store(db) as store:
        for site in store.sites():
            undetected = store.undetected(site.id)  # the copies carry the detected_at of their original
            for sensor in ("sar", "optical"):
                # The demo's settings: the detectors' own limits, optical_mode auto (optical only).
                limits = {"min_length_m": None, "max_length_m": None}
                key = detect_key(site, limits | {"optical_mode": "auto"} if sensor == "optical" else limits)
                if load_state(store, site.id, key, sensor):
                    fresh = {
                        o.id: observation_fingerprint(o)
                        for o in store.observations(site.id, sensor=sensor)
                        if o.id not in undetected
                    }
                    save_state(store, site.id, key, fresh, sensor)


def build(root: Path, repeat: int) -> tuple[Path, Path]:
    """The small and large workspaces under ``root``."""
    small = root / "small"
    subprocess.run([sys.executable, "-m", "sitewatch", "-q", "demo", "--out", str(small)], check=True,
                   capture_output=True)  # fmt: skip
    _densify(small / "sitewatch.gpkg")
    large = root / "large"
    shutil.copytree(small, large, symlinks=True)
    _replicate(large / "sitewatch.gpkg", repeat)
    return small, large


def _stage(name: str, ws: Path) -> None:
    """Run one stage on the workspace ``ws`` in this process."""
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.workspace import open_workspace

    with closing(sqlite3.connect(ws / "sitewatch.gpkg")) as con:
        sites = [r[0] for r in con.execute("SELECT site_id FROM sites ORDER BY 1")]
    out = ws / "bench-out"
    out.mkdir(exist_ok=True)
    runner = CliRunner()

    def cli(*args: str) -> None:
        res = runner.invoke(main, ["-q", *args, "--workspace", str(ws)], catch_exceptions=False)
        if res.exit_code:
            raise SystemExit(f"{args}: exit {res.exit_code}\n{res.output}")

    if name == "open":
        for _ in range(10):
            open_workspace(ws).store().close()
    elif name == "observations":
        cli("observations", "--json")
        cli("observations")
    elif name == "show":
        with open_workspace(ws).store() as store:
            last = store.execute("SELECT observation_id FROM observations ORDER BY acquired DESC LIMIT 1")[0][0]
        cli("show", last)
        cli("show", last, "--json")
    elif name == "detect":  # a rerun: nothing changed since the last detect
        for sid in sites:
            cli("detect", sid, "--workers", "2")
    elif name == "timeline":
        for sid in sites:
            cli("timeline", sid, "--csv", str(out / f"{sid}.csv"), "--json", str(out / f"{sid}.json"),
                "--chart", str(out / f"{sid}.png"))  # fmt: skip
    elif name == "report":
        cli("report", "--out", str(out / "report.html"))
    elif name == "exports":
        from sitewatch.report.exports import detections_to_geojson

        cli("sites", "export", str(out / "sites.geojson"))
        cli("sites", "export", str(out / "sites.kml"))
        with open_workspace(ws).store() as store:
            (out / "detections.geojson").write_text(json.dumps(detections_to_geojson(store)))
            store.update_extents()  # what keeps the GeoPackage's extents right for QGIS/GDAL


def _measure(name: str, ws: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of one stage, in a fresh process."""
    proc = subprocess.run(
        [sys.executable, __file__, "--stage", name, str(ws)], check=True, capture_output=True, encoding="locale"
    )
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    return got["seconds"], got["peak_mib"]


def _size(ws: Path) -> tuple[int, int]:
    con = sqlite3.connect(ws / "sitewatch.gpkg")
    n = tuple(int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in ("observations", "detections"))
    con.close()
    return n[0], n[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=8, help="Copies of the archive in the large workspace.")
    ap.add_argument("--stages", default=",".join(_STAGES), help="Comma-separated stages to time.")
    ap.add_argument("--keep", type=Path, help="Build the workspaces here and keep them (default: a temp folder).")
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("workspace", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:  # the child process: one stage, then its own figures as JSON
        import sitewatch.cli  # noqa: F401  (imports are not the stage's cost)

        t = time.perf_counter()
        _stage(args.stage, args.workspace)
        seconds = time.perf_counter() - t
        print(json.dumps({"seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return

    stages = args.stages.split(",")
    unknown = [n for n in stages if n not in _STAGES]
    if unknown:  # before the minutes of building, not a silent 0 s afterwards
        ap.error(f"unknown stage {', '.join(unknown)}; stages: {', '.join(_STAGES)}")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        if (root / "small").exists() and (root / "large").exists():
            small, large = root / "small", root / "large"
        else:
            small, large = build(root, args.repeat)
        print(f"built in {time.perf_counter() - t:.0f} s")
        (n_small, d_small), (n_large, d_large) = _size(small), _size(large)
        size_ratio = n_large / n_small
        print(f"small: {n_small} observations, {d_small} detections (baseline)")
        print(f"large: {n_large} observations, {d_large} detections (x{size_ratio:.1f})")
        print(f"{'stage':<14}{'small s':>9}{'large s':>9}{'ratio':>8}{'small MiB':>11}{'large MiB':>11}")
        for name in stages:
            s_t, s_m = _measure(name, small)
            l_t, l_m = _measure(name, large)
            print(f"{name:<14}{s_t:>9.2f}{l_t:>9.2f}{l_t / s_t:>7.1f}x{s_m:>11.0f}{l_m:>11.0f}")
        print(f"ratio of sizes: {size_ratio:.1f}x (a stage linear in the archive's size shows about this ratio)")


if __name__ == "__main__":
    main()
