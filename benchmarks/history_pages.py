"""The dashboard's site page, its API and `report` on workspaces of years: size and time, against the shortest.

Takes workspaces made by ``history_scale.py --out DIR`` (``DIR/ws`` at each history length; copy it aside between
lengths) and measures, for one site:

- the dashboard (in-process, FastAPI's test client, one fresh process per workspace): server time (wall) and CPU of
  one request, after a first request to another site's page has loaded the libraries (matplotlib, scipy) a
  running server has loaded long since; nothing of this site is cached (its chart is drawn in the request);
  the site page by default, and the page of every date (``?from=FIRST&to=LAST``, what the page showed before
  it had a period), the timeline chart, and the JSON API (the site, its timeline, detections, stored changes and
  alert events) whole and for the page's period;
- ``sitewatch report SITE`` (a fresh process, CPU from ``wait4``) of every date and of one month (``--from/--to``).

    python benchmarks/history_pages.py WS_60 WS_1800 [--site port-00] [--month 2021-02]

Run with an older sitewatch first on the PYTHONPATH to measure it the same way: requests it does not understand
(``from``/``to``) are measured as what it answered.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PROBE = r"""
import json, sys, time
from fastapi.testclient import TestClient
from sitewatch.web.app import create_app
ws, site, warm, paths = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
client = TestClient(create_app(ws))
assert client.get(f"/sites/{warm}").status_code == 200  # the libraries loaded, as in a server running for a while
out = {}
for name, path in paths.items():
    t, c = time.perf_counter(), time.process_time()
    r = client.get(path)
    out[name] = {"status": r.status_code, "bytes": len(r.content), "wall": time.perf_counter() - t, "cpu": time.process_time() - c}
print(json.dumps(out))
"""


def _span(ws: Path, site: str) -> tuple[str, str]:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(f"file:{ws / 'sitewatch.gpkg'}?mode=ro", uri=True)) as con:
        first, last = con.execute("SELECT min(acquired), max(acquired) FROM observations WHERE site_id = ?", (site,)).fetchone()
    return first[:10], last[:10]


def _cpu_of(cmd: list[str]) -> tuple[float, int]:
    """CPU seconds (user + system, ``wait4``) and exit code of ``cmd``; an older sitewatch refuses an option (2)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def measure(ws: Path, site: str, warm: str, month: str) -> dict[str, Any]:
    """The figures of one workspace."""
    first, last = _span(ws, site)
    every = f"?from={first}&to={last}"
    period = f"?from={dt.date.fromisoformat(last) - dt.timedelta(days=89)}&to={last}"  # the page's default 90 days
    paths = {
        "page (default)": f"/sites/{site}",
        "page (every date)": f"/sites/{site}{every}",
        "chart (default)": f"/sites/{site}/timeline.png",
        "api site": f"/api/sites/{site}",
        "api site (period)": f"/api/sites/{site}{period}",
        "api timeline": f"/api/sites/{site}/timeline",
        "api timeline (period)": f"/api/sites/{site}/timeline{period}",
        "api detections": f"/api/sites/{site}/detections",
        "api detections (period)": f"/api/sites/{site}/detections{period}",
        "api changes": f"/api/sites/{site}/changes",
        "api changes (period)": f"/api/sites/{site}/changes{period}",
        "api alerts": f"/api/sites/{site}/alerts",
        "api alerts (period)": f"/api/sites/{site}/alerts{period}",
    }
    res = subprocess.run([sys.executable, "-c", PROBE, str(ws), site, warm, json.dumps(paths)], capture_output=True, text=True, check=True)
    figures: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("report (every date)", []), (f"report --from/--to {month}", ["--from", f"{month}-01", "--to", f"{month}-28"])):
            out = Path(tmp) / "r.html"
            cpu, code = _cpu_of([sys.executable, "-m", "sitewatch", "-q", "report", site, "-w", str(ws), "--out", str(out), *extra])
            figures[name] = {"status": f"exit {code}", "bytes": out.stat().st_size if code in (0, 3) else 0, "wall": None, "cpu": cpu}
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workspaces", nargs="+", type=Path)
    ap.add_argument("--site", default="port-00")
    ap.add_argument("--warm", default="port-01", help="Another site, whose page loads the libraries first.")
    ap.add_argument("--month", default="2021-02", help="The month of the report --from/--to (YYYY-MM).")
    ap.add_argument("--json", type=Path, help="Write the figures here.")
    args = ap.parse_args()
    figures = {str(ws): measure(ws, args.site, args.warm, args.month) for ws in args.workspaces}
    base = figures[str(args.workspaces[0])]
    print(f"{'':28s}" + "".join(f"{Path(w).name:>36s}" for w in figures))
    for key in base:
        cells = []
        for w in figures:
            f, b = figures[w][key], base[key]
            wall = f" {f['wall']:.2f}s" if f["wall"] is not None else ""
            cells.append(f"{f['status']} {f['bytes'] / 1e3:.0f}kB{wall} cpu {f['cpu']:.2f}s ({f['cpu'] / max(b['cpu'], 1e-9):.1f}x)")
        print(f"{key:28s}" + "".join(f"{c:>36s}" for c in cells))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
