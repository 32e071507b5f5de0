"""The daily commands on a history of years: the PostGIS team store against the GeoPackage, in the same run.

Takes the workspace ``history_scale.py --out HS`` leaves (``HS/ws``, say at 1,800 days: ten ports, daily SAR,
optical every 5th day at three) and makes two copies of it in ``--out``: ``gpkg`` (its database and settings
copied, the archive hard-linked) and ``pg`` (the same, its database copied into the PostGIS database ``--url`` by
``sitewatch store copy --replace --use``). Both are settled by one ``alerts check`` (the copy into PostGIS notes
every row it writes, so its first check reads the whole history), then each round runs, on each store in turn
(the order alternating between rounds), each command in a fresh process as cron runs it:

- a new day: ``import`` of a folder of that day's SAR images (``HS/sim``'s last day, copied with its date, scene
  id and file name moved to the day after the history's last), ``detect`` (every site), ``alerts check`` (one new
  day);
- with nothing new: ``alerts check``, ``timeline SITE``, ``report SITE --from/--to`` (the last 30 days),
  ``export SITE`` (GeoJSON), ``links --from`` (the last 90 days), ``observations SITE --from``; the dashboard's
  site page (its default 90 days; in a process of its own, after a first request to another site's page).

Figures: wall seconds and CPU seconds of the command's process (user+system, ``wait4``; the web page: the
request's ``process_time``) and peak RSS, the median of the rounds; on PostGIS also what the server did for the
command (``pg_stat_statements``, reset before it: statements executed, server milliseconds planning and
executing them), and the statements that took longest or ran most often (``--out/statements.json``). Each
command's standard output on the two stores is compared (the site page's too, its workspace folder aside): the
script says which differ. Ratios are PostGIS / GeoPackage (above 1: PostGIS slower).

The server must have ``pg_stat_statements`` loaded (``shared_preload_libraries``) and may have ``auto_explain``
(``--explain-ms``: every statement slower than that is logged with its ``EXPLAIN (ANALYZE)`` plan in the
server's log). ``python benchmarks/pg_daily.py --start-server DIR`` starts a throwaway durable cluster with both
(``sitewatch.testing.postgres``) and prints the URL of a database ``hs`` with PostGIS.

    python benchmarks/pg_daily.py --workspace HS/ws --sim HS/sim --url URL --out DIR [--repeat 3] [--site port-00]
    python benchmarks/pg_daily.py --plans --url URL   # EXPLAIN (ANALYZE) of the statements found slow, median of 7

``--rekey-from SRC`` (the src of the sitewatch that made the workspace): the copies' detect states re-keyed to the
sitewatch measured, whose code hash differs (:func:`rekey`), then one ``detect`` on each before the rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

WEB_PROBE = r"""
import json, sys, time
from fastapi.testclient import TestClient
from sitewatch.web.app import create_app
ws, site, warm = sys.argv[1], sys.argv[2], sys.argv[3]
client = TestClient(create_app(ws))
assert client.get(f"/sites/{warm}").status_code == 200  # the libraries loaded, as in a server running for a while
t, c = time.perf_counter(), time.process_time()
r = client.get(f"/sites/{site}")
wall, cpu = time.perf_counter() - t, time.process_time() - c
assert r.status_code == 200, (r.status_code, r.text[:300])
sys.stdout.buffer.write(r.content)
print(json.dumps({"wall": wall, "cpu": cpu}), file=sys.stderr)
"""


KEYS = r"""
import json, sys
from sitewatch.detection_state import detect_key
from sitewatch.workspace import open_workspace
ws = open_workspace(sys.argv[1])
s = ws.settings({})
limits = {"min_length_m": s["min_vessel_length_m"], "max_length_m": s["max_vessel_length_m"], "optical_mode": s["optical_mode"]}
no_mode = {k: v for k, v in limits.items() if k != "optical_mode"}
with ws.store() as store:
    print(json.dumps({site.id: {sensor: detect_key(site, limits if sensor == "optical" else no_mode)
                                for sensor in ("sar", "optical")} for site in store.sites()}))
"""
"""Each site's and sensor's detect key, as the sitewatch on the PYTHONPATH computes it (the workspace's settings)."""

REKEY = r"""
import json, sys
from sitewatch.workspace import open_workspace
old, new = json.loads(sys.argv[2]), json.loads(sys.argv[3])
with open_workspace(sys.argv[1]).store() as store:
    for site, by in old.items():
        for sensor, key in by.items():
            raw = store.meta(f"detect:{site}:{sensor}")
            if raw is not None:
                doc = json.loads(raw)
                assert doc["key"] == key, (site, sensor, "not the state of the code given")
                doc["key"] = new[site][sensor]
                store.set_meta(f"detect:{site}:{sensor}", json.dumps(doc, sort_keys=True))
"""
"""Each detect state's key replaced by the other code's."""


def rekey(workspaces: list[Path], before_src: Path, src: Path, env: dict[str, str]) -> None:
    """The detect states of ``workspaces`` (made by the sitewatch in ``before_src``) re-keyed to the one in ``src``:
    sitewatch's code hash is part of detect's key, so a changed code detects again in every observation of the
    history on its first run (an hour here at 19,000), which no daily run does. Honest only when no detector
    differs between the two (their detections are the same): the caller's to know."""
    def keys(with_src: Path) -> str:
        done = subprocess.run([sys.executable, "-c", KEYS, str(workspaces[0])], env={**env, "PYTHONPATH": str(with_src)},
                              check=True, capture_output=True, text=True)  # fmt: skip
        return done.stdout.strip()

    old, new = keys(before_src), keys(src)
    for ws in workspaces:
        subprocess.run([sys.executable, "-c", REKEY, str(ws), old, new], env=env, check=True)


def start_server(folder: Path) -> str:
    """A throwaway durable cluster in ``folder`` with pg_stat_statements and auto_explain; the URL of its database
    ``hs`` (PostGIS and pg_stat_statements made there)."""
    import psycopg

    from sitewatch.testing.postgres import restart_cluster, start_cluster, stop_cluster

    url = start_cluster(folder, durable=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', 'auto_explain'")
    stop_cluster(folder)
    url = restart_cluster(folder, durable=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
        conn.execute("ALTER SYSTEM SET pg_stat_statements.track_planning = on")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("CREATE DATABASE hs")
    hs = url.replace("/postgres?", "/hs?")
    with psycopg.connect(hs, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
        conn.execute("CREATE EXTENSION pg_stat_statements")
    return hs


def copy_workspace(ws: Path, to: Path) -> Path:
    """``ws``'s database, settings, rules and events file copied into ``to``, its archive hard-linked."""
    shutil.rmtree(to, ignore_errors=True)
    to.mkdir(parents=True)
    for p in ws.iterdir():
        if p.is_file():
            shutil.copy2(p, to / p.name)
    subprocess.run(["cp", "-al", str(ws / "archive"), str(to / "archive")], check=True)
    return to


def make_day(sim: Path, day: dt.date, out: Path) -> Path:
    """A folder of one day's SAR images: ``sim``'s last day's, with their date, scene id and name moved to ``day``."""
    import rasterio

    stamps = sorted({p.stem.split("-")[-1][:8] for p in sim.glob("*/sim-sar-*.tif")})
    last = stamps[-1]
    new = day.strftime("%Y%m%d")
    out.mkdir(parents=True, exist_ok=True)
    for p in sorted(sim.glob(f"*/sim-sar-*-{last}T*.tif")):
        target = out / p.name.replace(last, new)
        shutil.copy(p, target)
        with rasterio.open(target, "r+") as ds:
            tags = ds.tags()
            moved = {k: v.replace(last, new) for k, v in tags.items() if k == "SITEWATCH_SCENE_ID"}
            moved["SITEWATCH_ACQUIRED"] = tags["SITEWATCH_ACQUIRED"].replace(f"{last[:4]}-{last[4:6]}-{last[6:]}", day.isoformat())
            moved["TIFFTAG_DATETIME"] = tags["TIFFTAG_DATETIME"].replace(f"{last[:4]}:{last[4:6]}:{last[6:]}", day.strftime("%Y:%m:%d"))
            ds.update_tags(**moved)
    return out


class Server:
    """What the PostGIS server did between :meth:`reset` and :meth:`read` (``pg_stat_statements``, this database)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)

    def reset(self) -> None:
        self.conn.execute("SELECT pg_stat_statements_reset()")

    def read(self) -> dict[str, Any]:
        rows = self.conn.execute(
            "SELECT query, calls, total_exec_time + total_plan_time, rows FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT LIKE '%pg_stat_statements%'"
        ).fetchall()
        top = sorted(rows, key=lambda r: -r[2])[:8]
        often = sorted(rows, key=lambda r: -r[1])[:8]
        shown = [{"query": " ".join(q.split())[:400], "calls": c, "ms": round(ms, 2), "rows": n} for q, c, ms, n in top]
        most = [{"query": " ".join(q.split())[:400], "calls": c, "ms": round(ms, 2), "rows": n} for q, c, ms, n in often]
        return {"statements": sum(r[1] for r in rows), "server_ms": sum(r[2] for r in rows), "slowest": shown, "most": most}


def plans(url: str, site: str, repeat: int) -> None:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of the statements this run found slow on PostGIS, as sitewatch sends them: the
    median execution time of ``repeat`` runs (server ms) and the plan's nodes."""
    import psycopg

    from sitewatch.detection import _ROW_COLUMNS
    from sitewatch.store.sqlite import _OBSERVATIONS_WITH_SCENES, _SCENE_COLUMNS

    order = " ORDER BY observations.acquired, observations.observation_id"
    narrow = ", ".join(f"scenes.{c[6:]} AS {c}" if c.startswith("scene_") and c[6:] in _SCENE_COLUMNS else f"observations.{c}"
                       for c in _ROW_COLUMNS)  # fmt: skip
    statements = {
        "a site's observations, whole rows (detect before; timeline, report, export)":
            f"{_OBSERVATIONS_WITH_SCENES} WHERE 1=1 AND observations.site_id = %s{order}",
        "a site's observations, the digest's columns (detect now)":
            f"SELECT {narrow} FROM observations LEFT JOIN scenes ON scenes.scene_id = observations.scene_id "
            f"WHERE 1=1 AND observations.site_id = %s{order}",
        "a site's observations waiting for detection": "SELECT observation_id FROM observations WHERE detected_at IS NULL AND site_id = %s",
        "export: those waiting, counted by site": "SELECT site_id, count(*) FROM observations WHERE detected_at IS NULL GROUP BY site_id",
    }  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
        version = conn.execute("SELECT value FROM sitewatch_meta WHERE key = 'schema_version'").fetchone()[0]
        print(f"{url}: schema {version}")
        for name, sql in statements.items():
            args = (site,) if "%s" in sql else ()
            times, rows = [], []
            for _ in range(repeat):
                rows = [r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, args).fetchall()]
                times.append(float(next(r for r in rows if r.startswith("Execution Time")).split()[2]))
            nodes = [r.strip(" ->").split("  (")[0] for r in rows if "Scan" in r or "Sort" in r or "Join" in r or "Aggregate" in r]
            print(f"{name}: {statistics.median(times):.2f} ms\n    " + " / ".join(nodes))


def run(cmd: list[str], env: dict[str, str], stdout: Path) -> dict[str, Any]:
    """One command in a fresh process: wall, CPU (``wait4``), peak RSS; stops the script when it fails."""
    t = time.perf_counter()
    with stdout.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):
        sys.exit(f"{' '.join(cmd)}: exit {code}\n{err.decode(errors='replace')[-2000:]}")
    figures = {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024}
    if cmd[1] == "-c":  # the web probe: the request's own figures
        figures.update(json.loads(err.decode().strip().splitlines()[-1]))
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--start-server", type=Path, metavar="DIR", help="Start a throwaway cluster in DIR, print its URL, stop.")
    ap.add_argument("--workspace", type=Path, help="history_scale.py's ws (copied, never written).")
    ap.add_argument("--sim", type=Path, help="history_scale.py's sim (its last day's SAR images make the new days).")
    ap.add_argument("--url", help="A PostGIS database the run may empty, with pg_stat_statements.")
    ap.add_argument("--out", type=Path, help="Where the copies, outputs and figures go.")
    ap.add_argument("--repeat", type=int, default=3, help="Rounds (each adds a new day to both stores).")
    ap.add_argument("--site", default="port-00")
    ap.add_argument("--warm", default="port-01", help="Another site, whose page loads the libraries first.")
    ap.add_argument("--reuse", action="store_true", help="Keep the copies an earlier run left in --out (no copy, no settling).")
    ap.add_argument("--only", help="Comma-separated commands to measure (default: all).")
    ap.add_argument("--explain-ms", type=float, help="auto_explain: log each statement slower than this with its plan.")
    ap.add_argument("--src", type=Path, help="The sitewatch src to run (default: this checkout's).")
    ap.add_argument("--rekey-from", type=Path, metavar="SRC", help="The src of the sitewatch that made --workspace: its "
                    "detect states re-keyed to this one's after the copy (no detector may differ between them).")
    ap.add_argument("--plans", action="store_true", help="Only print EXPLAIN (ANALYZE) of the slow statements on --url.")
    args = ap.parse_args()
    if args.start_server:
        print(start_server(args.start_server))
        return
    if args.plans:
        plans(args.url, args.site, max(args.repeat, 7))
        return
    if not (args.workspace and args.sim and args.url and args.out):
        ap.error("--workspace, --sim, --url and --out are needed (or --start-server DIR)")
    src = args.src or Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": str(src), "SITEWATCH_WORKERS": "1", "TZ": "UTC", "COLUMNS": "120"}
    sw = [sys.executable, "-m", "sitewatch", "-q"]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    stores = {"gpkg": out / "gpkg", "pg": out / "pg"}
    if not args.reuse:
        for ws in stores.values():
            copy_workspace(args.workspace, ws)
        subprocess.run([*sw, "store", "copy", "--to", args.url, "--replace", "--use", "-w", str(stores["pg"])], check=True, env=env)
        if args.rekey_from:
            rekey(list(stores.values()), args.rekey_from, src, env)
        for ws in stores.values():
            subprocess.run([*sw, "alerts", "check", "-w", str(ws)], check=True, env=env, capture_output=True)
            if args.rekey_from:  # (detect kept every observation: the re-keyed states hold)
                subprocess.run([*sw, "detect", "-w", str(ws)], check=True, env=env, capture_output=True)
    server = Server(args.url)
    if args.explain_ms is not None:
        server.conn.execute(f"ALTER DATABASE {server.conn.info.dbname} SET auto_explain.log_min_duration = {args.explain_ms}")
        server.conn.execute(f"ALTER DATABASE {server.conn.info.dbname} SET auto_explain.log_analyze = on")
        server.conn.execute(f"ALTER DATABASE {server.conn.info.dbname} SET auto_explain.log_nested_statements = on")
    import sqlite3

    with sqlite3.connect(stores["gpkg"] / "sitewatch.gpkg") as db:
        last = dt.date.fromisoformat(db.execute("SELECT max(acquired) FROM observations").fetchone()[0][:10])
        counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("observations", "detections", "alert_events")}
    print(f"history to {last}: {counts}", flush=True)
    site = args.site
    only = set(args.only.split(",")) if args.only else None
    figures: dict[str, dict[str, list[dict[str, Any]]]] = {}
    differ: set[str] = set()
    statements: dict[str, Any] = {}
    for k in range(args.repeat):
        day = last + dt.timedelta(days=k + 1)
        folder = make_day(args.sim, day, out / "days" / day.isoformat())
        since30, since90 = (day - dt.timedelta(days=29)).isoformat(), (day - dt.timedelta(days=89)).isoformat()
        cmds: list[tuple[str, list[str]]] = [
            ("import (new day)", ["import", str(folder)]),
            ("detect (new day)", ["detect"]),
            ("alerts check (new day)", ["alerts", "check"]),
            ("alerts check (nothing new)", ["alerts", "check"]),
            ("timeline", ["timeline", site]),
            ("report --from/--to (30 days)", ["report", site, "--from", since30, "--to", day.isoformat(), "--out", "OUT/report.html"]),
            ("export (GeoJSON)", ["export", site, "--out", "OUT/export.geojson"]),
            ("links --from (90 days)", ["links", "--from", since90]),
            ("observations --from (90 days)", ["observations", site, "--from", since90]),
            ("site page", []),
        ]
        for name, rest in cmds:
            if only and name not in only and not name.endswith("(new day)"):
                continue
            outputs: dict[str, bytes] = {}
            order = list(stores) if k % 2 == 0 else list(reversed(stores))
            for store in order:
                ws = stores[store]
                slot = out / "outputs" / store
                slot.mkdir(parents=True, exist_ok=True)
                if name == "site page":
                    cmd = [sys.executable, "-c", WEB_PROBE, str(ws), site, args.warm]
                else:
                    cmd = [*sw, *[a.replace("OUT/", f"{slot}/") for a in rest], "-w", str(ws)]
                stdout = slot / (re.sub(r"\W+", "_", name) + ".out")
                if store == "pg":
                    server.reset()
                m = run(cmd, env, stdout)
                if store == "pg":
                    seen = server.read()
                    m.update({"statements": seen["statements"], "server_ms": seen["server_ms"]})
                    statements.setdefault(name, []).append({"slowest": seen["slowest"], "most": seen["most"]})
                figures.setdefault(name, {}).setdefault(store, []).append(m)
                outputs[store] = stdout.read_bytes().replace(str(ws).encode(), b"WS").replace(str(slot).encode(), b"OUT")
                if name.startswith("export"):  # the file written (the report's holds its time: not compared)
                    outputs[store] += (slot / "export.geojson").read_bytes()
                print(f"day {k + 1} {name} [{store}]: " + ", ".join(f"{key} {v:.3g}" for key, v in m.items()), flush=True)
            if outputs["gpkg"] != outputs["pg"]:
                differ.add(name)
    (out / "statements.json").write_text(json.dumps(statements, indent=1), encoding="utf-8")
    (out / "figures.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(f"\n{'command':32s}{'GeoPackage wall/CPU':>22s}{'PostGIS wall/CPU':>20s}{'server ms':>11s}{'stmts':>8s}{'wall x':>8s}")
    for name, by in figures.items():
        g, p = by["gpkg"], by["pg"]

        def med(ms: list[dict[str, Any]], key: str) -> float:
            return statistics.median(m[key] for m in ms)

        print(f"{name:32s}{med(g, 'wall'):>11.2f}/{med(g, 'cpu'):<10.2f}{med(p, 'wall'):>9.2f}/{med(p, 'cpu'):<10.2f}"
              f"{med(p, 'server_ms'):>11.0f}{med(p, 'statements'):>8.0f}{med(p, 'wall') / max(med(g, 'wall'), 1e-9):>8.2f}")
    print("outputs the same on both stores" + (f", but for: {', '.join(sorted(differ))}" if differ else ""))


if __name__ == "__main__":
    main()
