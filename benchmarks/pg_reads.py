"""The reading commands and the dashboard on a PostGIS store of years, this sitewatch against another, in one run.

Takes the workspace ``history_scale.py --out HS`` leaves (``HS/ws``, at 1,800 days: ten ports, daily SAR, optical
every 5th day at three) and makes two copies in ``--out`` (``before``, ``after``: its database and settings copied,
the archive hard-linked), each copied by the ``--before-src`` sitewatch into its own PostGIS database
(``--url-before``, ``--url-after``; ``store copy --replace --use``), so both start from the same rows. Then each round
runs every command on each copy in turn (the order alternating), each in a fresh process, ``before`` with
``--before-src`` and ``after`` with this checkout's src (or ``--src``):

- ``timeline SITE``, ``timeline SITE --from/--to`` (the last 30 days), ``report SITE --from/--to`` (30 days),
  ``export SITE`` (GeoJSON) and with ``--from/--to`` (30 days), ``links --from`` (the last 90 days), ``links
  --from/--to`` (the last 30 days, and 30 days a year before the last), ``observations SITE --from`` (90 days),
  ``observations SITE --from/--to`` and of every site (30 days), ``ais SITE --from/--to`` (30 days; an AIS file
  written here: a vessel beside the site at the images' time each day);
- the dashboard: one process serving ``--requests`` requests in turn (the site page, its API and the sites list, of
  SITE and another site), after a first request to each (the libraries loaded, as in a server running a while).

Figures, the median of the rounds: the client's CPU seconds (user+system, ``wait4``; the dashboard's, its requests'
``process_time``), and what the PostGIS server did for the command (``pg_stat_statements``, reset before it):
statements, server milliseconds (planning and executing: executing includes sending the rows), rows returned, and the
sessions opened (``SET TIME ZONE`` statements: one a store opened). Ratios are after / before (below 1: faster). The
standard output and written file of each command, and every dashboard answer, are compared between the two (the
workspace's folder, and the report's time and code version, aside): the script says which differ.

The server must have ``pg_stat_statements`` loaded: ``python benchmarks/pg_daily.py --start-server DIR`` starts one
(the URL it prints names database ``hs``; make two more the same way: ``CREATE DATABASE``, ``CREATE EXTENSION
postgis``, ``CREATE EXTENSION pg_stat_statements``).

    python benchmarks/pg_reads.py --workspace HS/ws --url-before URL1 --url-after URL2 --before-src OLD/src --out DIR
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_daily import Server, copy_workspace, run  # noqa: E402

WEB = r"""
import json, sys, time
from fastapi.testclient import TestClient
from sitewatch.web.app import create_app
ws, site, other, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = TestClient(create_app(ws))
urls = [f"/sites/{site}", f"/api/sites/{site}", "/api/sites", f"/sites/{other}"]
for u in urls:  # the libraries loaded, as in a server running for a while
    assert client.get(u).status_code == 200, u
print("READY", file=sys.stderr, flush=True)
sys.stdin.readline()  # the server's figures reset meanwhile
t, c, bodies = time.perf_counter(), time.process_time(), []
for k in range(n):
    r = client.get(urls[k % len(urls)])
    assert r.status_code == 200, (r.status_code, r.text[:300])
    bodies.append(r.content)
wall, cpu = time.perf_counter() - t, time.process_time() - c
sys.stdout.buffer.write(b"\n".join(bodies))
print(json.dumps({"wall": wall, "cpu": cpu}), file=sys.stderr)
"""
"""The dashboard's process: ``n`` requests in turn, after a first one of each address and a line on stdin."""

STATS = (
    "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time + total_plan_time), 0), coalesce(sum(rows), 0), "
    "coalesce(sum(calls) FILTER (WHERE query LIKE 'SET TIME ZONE%%'), 0) FROM pg_stat_statements "
    "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%%pg_stat_statements%%'"
)


def server_figures(server: Server) -> dict[str, float]:
    """What the server did since its last reset: statements, ms, rows, sessions opened."""
    calls, ms, rows, opened = server.conn.execute(STATS).fetchone()
    return {"statements": float(calls), "server_ms": float(ms), "rows": float(rows), "sessions": float(opened)}


def normalised(data: bytes, ws: Path) -> bytes:
    """Output as compared: the workspace's folder as WS (the report's relative links name it too), the report's time
    and code version aside."""
    data = data.replace(str(ws).encode(), b"WS").replace(str(ws.resolve()).encode(), b"WS")
    data = data.replace(f"/{ws.name}/archive/".encode(), b"/WS/archive/")  # (the report's links, relative to its folder)
    data = re.sub(rb"Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC", b"Generated T", data)
    return re.sub(rb"sitewatch (\d+\.\d+\.\d+)( \(git [0-9a-f]+\))?", rb"sitewatch \1", data)


def web(ws: Path, site: str, other: str, n: int, env: dict[str, str], server: Server) -> tuple[dict[str, float], bytes]:
    """The dashboard's ``n`` requests: figures (client CPU, the server's) and the answers."""
    proc = subprocess.Popen([sys.executable, "-c", WEB, str(ws), site, other, str(n)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    line = proc.stderr.readline()
    if b"READY" not in line:
        sys.exit(f"dashboard: {line.decode(errors='replace')}{proc.stderr.read().decode(errors='replace')[-2000:]}")
    server.reset()
    out, err = proc.communicate(b"go\n")
    if proc.returncode != 0:
        sys.exit(f"dashboard: exit {proc.returncode}\n{err.decode(errors='replace')[-2000:]}")
    figures = server_figures(server)
    figures.update(json.loads(err.decode().strip().splitlines()[-1]))
    return figures, out


AIS = r"""
import sys
from sitewatch.workspace import open_workspace
with open_workspace(sys.argv[1]).store() as store:
    c = store.get_site(sys.argv[2]).geometry.centroid
print(c.x, c.y)
"""
"""Prints a site's centre (lon lat)."""


def ais_csv(ws: Path, site: str, first: dt.date, last: dt.date, env: dict[str, str]) -> str:
    """An AIS file for ``ais``: a vessel near ``site``'s centre (600 m east) at 09:30 UTC of each day from
    ``first`` to ``last`` (the images' time), a report a minute from 09:00 to 10:00."""
    out = subprocess.run([sys.executable, "-c", AIS, str(ws), site], env=env, check=True, capture_output=True, text=True)
    lon, lat = (float(v) for v in out.stdout.split())
    rows = ["mmsi,time,lat,lon"]
    day = first
    while day <= last:
        rows += [f"273000001,{day}T09:{m:02d}:00Z,{lat:.6f},{lon + 0.0075:.6f}" for m in range(60)]
        day += dt.timedelta(days=1)
    return "\n".join(rows) + "\n"


Sides = dict[str, tuple[Path, str, dict[str, str]]]
"""Each side's workspace copy, store URL and environment, by name (``before``, ``after``)."""


def two_stores(args: argparse.Namespace, src: Path, columns: int) -> tuple[Sides, dict[str, Server], dt.date]:
    """The two sides a benchmark compares, each a copy of ``args.workspace`` in ``args.out`` on its own PostGIS
    database (``--url-before``, ``--url-after``; copied anew unless ``args.reuse``) run by its own sitewatch
    (``--before-src``, ``src``); their servers, analysed as autovacuum leaves a store in use; the history's last date."""
    base = {**os.environ, "SITEWATCH_WORKERS": "1", "TZ": "UTC", "COLUMNS": str(columns)}
    sides: Sides = {
        "before": (args.out / "before", args.url_before, {**base, "PYTHONPATH": str(args.before_src.resolve())}),
        "after": (args.out / "after", args.url_after, {**base, "PYTHONPATH": str(src.resolve())}),
    }
    if not args.reuse:
        for ws, url, _ in sides.values():
            copy_workspace(args.workspace, ws)
            subprocess.run([sys.executable, "-m", "sitewatch", "-q", "store", "copy", "--to", url, "--replace", "--use",
                            "-w", str(ws)], check=True, env=sides["before"][2])  # fmt: skip
    servers = {name: Server(url) for name, (_, url, _) in sides.items()}
    for server in servers.values():
        server.conn.execute("ANALYZE")  # (the copy's rows are new)
    with sqlite3.connect(args.workspace / "sitewatch.gpkg") as db:
        last = dt.date.fromisoformat(db.execute("SELECT max(acquired) FROM observations").fetchone()[0][:10])
    return sides, servers, last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, required=True, help="history_scale.py's ws (copied, never written).")
    ap.add_argument("--url-before", required=True, help="A PostGIS database the run may empty (pg_stat_statements made).")
    ap.add_argument("--url-after", required=True, help="Another one, for this sitewatch.")
    ap.add_argument("--before-src", type=Path, required=True, help="The src of the sitewatch to compare with.")
    ap.add_argument("--src", type=Path, help="The src measured (default: this checkout's).")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--site", default="port-00")
    ap.add_argument("--other", default="port-01", help="Another site, whose pages the dashboard serves too.")
    ap.add_argument("--requests", type=int, default=40, help="The dashboard's requests a round.")
    ap.add_argument("--reuse", action="store_true", help="Keep the copies an earlier run left in --out.")
    args = ap.parse_args()
    src = args.src or Path(__file__).resolve().parents[1] / "src"
    sides, servers, last = two_stores(args, src, columns=120)
    since30, since90 = (last - dt.timedelta(days=29)).isoformat(), (last - dt.timedelta(days=89)).isoformat()
    year_back = last - dt.timedelta(days=365)
    back30 = [(year_back - dt.timedelta(days=29)).isoformat(), year_back.isoformat()]
    site = args.site
    ais = args.out / "ais.csv"
    ais.write_text(ais_csv(sides["after"][0], site, last - dt.timedelta(days=29), last, sides["after"][2]), encoding="utf-8")
    cmds: list[tuple[str, list[str]]] = [
        ("timeline", ["timeline", site]),
        ("timeline --from/--to (30 days)", ["timeline", site, "--from", since30, "--to", last.isoformat()]),
        ("report --from/--to (30 days)", ["report", site, "--from", since30, "--to", last.isoformat(), "--out", "OUT/report.html"]),
        ("export (GeoJSON)", ["export", site, "--out", "OUT/export.geojson"]),
        ("export --from/--to (30 days)", ["export", site, "--from", since30, "--to", last.isoformat(), "--out", "OUT/export.geojson"]),
        ("links --from (90 days)", ["links", "--from", since90]),
        ("links --from/--to (30 days)", ["links", "--from", since30, "--to", last.isoformat()]),
        ("links --from/--to (30 days a year back)", ["links", "--from", back30[0], "--to", back30[1]]),
        ("observations --from (90 days)", ["observations", site, "--from", since90]),
        ("observations --from/--to (30 days)", ["observations", site, "--from", since30, "--to", last.isoformat()]),
        ("observations, every site, --from/--to (30 days)", ["observations", "--from", since30, "--to", last.isoformat()]),
        ("ais --from/--to (30 days)", ["ais", site, "--ais", str(ais), "--from", since30, "--to", last.isoformat()]),
        (f"dashboard, {args.requests} requests", []),
    ]  # fmt: skip
    figures: dict[str, dict[str, list[dict[str, float]]]] = {}
    differ: set[str] = set()
    print(f"history to {last}; site {site}", flush=True)
    for k in range(args.repeat):
        for name, rest in cmds:
            outputs: dict[str, bytes] = {}
            for side in (list(sides) if k % 2 == 0 else list(reversed(sides))):
                ws, _, env = sides[side]
                slot = args.out / "outputs" / side
                slot.mkdir(parents=True, exist_ok=True)
                if not rest:
                    m, body = web(ws, site, args.other, args.requests, env, servers[side])
                else:
                    stdout = slot / (re.sub(r"\W+", "_", name) + ".out")
                    servers[side].reset()
                    m = run([sys.executable, "-m", "sitewatch", "-q", *[a.replace("OUT/", f"{slot}/") for a in rest],
                             "-w", str(ws)], env, stdout)  # fmt: skip
                    m.update(server_figures(servers[side]))
                    body = stdout.read_bytes().replace(str(slot).encode(), b"OUT")
                    for written in ("report.html", "export.geojson"):
                        if f"OUT/{written}" in rest:
                            body += (slot / written).read_bytes()
                outputs[side] = normalised(body, ws)
                figures.setdefault(name, {}).setdefault(side, []).append(m)
                print(f"round {k + 1} {name} [{side}]: " + ", ".join(f"{key} {v:.4g}" for key, v in m.items()), flush=True)
            if outputs["before"] != outputs["after"]:
                differ.add(name)
                for side, data in outputs.items():
                    (args.out / "outputs" / side / (re.sub(r"\W+", "_", name) + ".compared")).write_bytes(data)
    (args.out / "figures.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")

    def med(ms: list[dict[str, float]], key: str) -> float:
        return statistics.median(m[key] for m in ms)

    print(f"\n{'command':34s}{'CPU s before/after':>20s}{'server ms before/after':>24s}{'x':>6s}"
          f"{'statements':>13s}{'rows':>15s}{'sessions':>10s}")  # fmt: skip
    for name, by in figures.items():
        b, a = by["before"], by["after"]
        print(f"{name:34s}{med(b, 'cpu'):>9.2f}/{med(a, 'cpu'):<10.2f}{med(b, 'server_ms'):>11.0f}/{med(a, 'server_ms'):<12.0f}"
              f"{med(a, 'server_ms') / max(med(b, 'server_ms'), 1e-9):>6.2f}{med(b, 'statements'):>6.0f}/{med(a, 'statements'):<6.0f}"
              f"{med(b, 'rows'):>7.0f}/{med(a, 'rows'):<7.0f}{med(b, 'sessions'):>4.0f}/{med(a, 'sessions'):<5.0f}")  # fmt: skip
    print("outputs the same before and after" + (f", but for: {', '.join(sorted(differ))}" if differ else ""))


if __name__ == "__main__":
    main()
