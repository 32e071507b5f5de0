"""A small study of the seed story run end to end, every output it gives gathered so that two runs can be
compared: on the GeoPackage or on PostGIS, with the server's or the process's time zone far from UTC.

Dunai and Rason, 11 to 17 October 2024 (the cargo ship leaves Rason after the 12th and is at Dunai from the 14th;
the landing ship and the crane at Dunai's pier on the 17th), and Sergeyevka's training ground from 30 September to 8 October
(earthworks on the 5th and 8th). SAR passes at 09:10 and 09:30 UTC, optical ones at 00:40 to 02:00 UTC: a zone
10 h behind UTC puts every image on the day before its UTC date, St John's (-03:30) the optical ones.

``python tests/_zone_study.py SIMULATED WORKSPACE [STORE_URL]`` runs it in a process of its own (the time zone
tests' subprocess, under another ``TZ``) and prints what :func:`study` gives as JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from sitewatch.cli import main

SITES = ("dunai", "rason", "sergeyevka-base")
DATA = Path(__file__).parents[1] / "src" / "sitewatch" / "data"
RULES = DATA / "alerts" / "seed-story.yaml"
CLAIMS = DATA / "claims" / "seed-story.yaml"


def simulate_study(out: Path) -> Path:
    """The study's simulated imagery, in ``out``."""
    from dataclasses import replace

    from sitewatch.sources.sim_ais import write_simulated_ais
    from sitewatch.sources.simulate import load_scenario, shorten, simulate

    ports = shorten(load_scenario("seed-story"), days=7, start=date(2024, 10, 11))
    ground = shorten(load_scenario("seed-story"), days=9, start=date(2024, 9, 30))
    keep = [a for a in ports.acquisitions if a.site in SITES[:2]] + [a for a in ground.acquisitions if a.site == SITES[2]]
    scenario = replace(ports, acquisitions=tuple(keep))
    simulate(scenario, out)
    write_simulated_ais(scenario, out / "ais.csv")
    return out


def _run(*args: str) -> str:
    res = CliRunner().invoke(main, [*args], catch_exceptions=False)
    assert res.exit_code == 0, (args, res.output)
    return res.output


def study(simulated: Path, ws: Path, store: str | None = None) -> dict[str, Any]:
    """The README's steps on the study's sites (``store``: a PostGIS URL; None: the GeoPackage), and every output
    they give: the commands' JSON, the exported files, the report, the dashboard's API and pages. The workspace's
    folder and the times that are the run's own (when it ran, not what it saw) are masked (:func:`masked`)."""
    ws = ws.resolve()
    began = datetime.now(UTC)
    _run("init", str(ws), *(("--store", store) if store else ()))
    w = ["-w", str(ws)]
    got: dict[str, Any] = {}
    for site in SITES:
        _run("sites", "import", str(simulated / site / "layout.geojson"), *w)
    for site in ("dunai", "sergeyevka-base"):
        got[f"ingest {site}"] = json.loads(_run("ingest", site, str(simulated / site), "--workers", "1", "--json", *w))
    # Rason's images as purchased files are imported (into the sites they cover), then again: none is new.
    got["import"] = json.loads(_run("import", str(simulated / "rason"), "--json", *w))
    got["import again"] = json.loads(_run("import", str(simulated / "rason"), "--new-only", "--json", *w))
    got["detect"] = json.loads(_run("detect", *SITES, "--workers", "1", "--json", *w))
    got["observations"] = _run("observations", *w)
    got["observations json"] = json.loads(_run("observations", "--json", *w))
    got["show"] = json.loads(_run("show", "dunai/sim-planet-dunai-20241017T0040", "--json", *w))
    for site in SITES:
        got[f"timeline {site}"] = json.loads(_run("timeline", site, "--json", "-", *w))
        got[f"timeline {site} +9"] = json.loads(_run("timeline", site, "--utc-offset", "9", "--json", "-", *w))
    got["timeline csv"] = _run("timeline", "--utc-offset", "-3.5", "--csv", "-", *w)
    got["timeline text"] = _run("timeline", "dunai", "--from", "2024-10-14", "--to", "2024-10-16", *w)
    got["links"] = json.loads(_run("links", "--json", *w))
    got["change"] = json.loads(_run("change", "sergeyevka-base", "dunai", "--json", *w))
    for run in ("alerts", "alerts again"):  # (JSON lines: an event each)
        got[run] = [json.loads(line) for line in _run("alerts", "check", "--rules", str(RULES), "--json", *w).splitlines()]
    got["ais"] = json.loads(_run("ais", "dunai", "rason", "--ais", str(simulated / "ais.csv"), "--json", *w))
    got["links ais"] = json.loads(_run("links", "--ais", str(simulated / "ais.csv"), "--json", *w))
    got["claims"] = json.loads(_run("claims", "check", str(CLAIMS), "--json", *w))
    got["claims local"] = json.loads(_run("claims", "check", str(CLAIMS), "--utc-offset", "10", "--json", *w))
    got["eval"] = json.loads(_run("eval", "--no-record", "--ais", str(simulated / "ais.csv"), "--json", *w))
    got["alerts.jsonl"] = (ws / "alerts.jsonl").read_text(encoding="utf-8")
    for layer in ("detections", "changes"):
        for fmt in ("geojson", "kml", "csv"):
            out = ws / f"{layer}.{fmt}"
            _run("export", "--layer", layer, "--out", str(out), *w)
            got[f"export {layer} {fmt}"] = out.read_text(encoding="utf-8")
    for layer in ("detections", "changes"):  # a standalone GeoPackage, its rows as read back
        _run("export", "--layer", layer, "--out", str(ws / f"{layer}.gpkg"), *w)
        got[f"export {layer} gpkg"] = _gpkg_rows(ws / f"{layer}.gpkg")
    _run("export", "dunai", "--from", "2024-10-14", "--to", "2024-10-14", "--out", str(ws / "day.csv"), *w)
    got["export one day"] = (ws / "day.csv").read_text(encoding="utf-8")
    _run("report", "--out", str(ws / "report.html"), *w)
    got["report"] = (ws / "report.html").read_text(encoding="utf-8")
    _run("report", "dunai", "--from", "2024-10-14", "--to", "2024-10-15", "--utc-offset", "-5", "--out", str(ws / "r.html"), *w)
    got["report period"] = (ws / "r.html").read_text(encoding="utf-8")
    got.update(_web(ws))
    return masked(got, ws, (began, datetime.now(UTC)))


def _gpkg_rows(path: Path) -> dict[str, list[str]]:
    """The rows of every table of an exported GeoPackage (but when its layers last changed), as text."""
    import sqlite3

    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'rtree%' "
                                           "AND name NOT LIKE 'sqlite%' AND name <> 'gpkg_contents'")]  # fmt: skip
        return {t: sorted(repr(r) for r in db.execute(f"SELECT * FROM {t}")) for t in tables}


def _web(ws: Path) -> dict[str, Any]:
    """What the dashboard answers: its API as JSON, its pages as HTML."""
    from fastapi.testclient import TestClient

    from sitewatch.web.app import create_app

    client = TestClient(create_app(ws))
    paths = ["/api/sites", "/api/links", "/", "/links"]
    for site in SITES:
        paths += [f"/api/sites/{site}", f"/api/sites/{site}/timeline", f"/api/sites/{site}/detections",
                  f"/api/sites/{site}/changes", f"/api/sites/{site}/alerts", f"/sites/{site}"]  # fmt: skip
    paths += ["/sites/dunai?from=2024-10-14&to=2024-10-15", "/api/sites/dunai/timeline?from=2024-10-14&to=2024-10-15",
              "/api/sites/dunai/detections?from=2024-10-14&to=2024-10-14", "/api/sites/dunai?from=2024-10-15",
              "/api/sites/sergeyevka-base/changes?from=2024-10-05&to=2024-10-08", "/sites/sergeyevka-base?from=2024-10-01&to=2024-10-05"]  # fmt: skip
    got: dict[str, Any] = {}
    for path in paths:
        res = client.get(path)
        assert res.status_code == 200, (path, res.text[:300])
        got[f"GET {path}"] = res.json() if path.startswith("/api/") else res.text
    for site in ("dunai", "rason"):  # the timeline's chart, dates along its axis
        res = client.get(f"/sites/{site}/timeline.png")
        assert res.status_code == 200, res.text[:300]
        got[f"GET /sites/{site}/timeline.png"] = hashlib.sha256(res.content).hexdigest()
    site = client.get("/api/sites/dunai").json()
    for o in site["observations"][:3]:
        res = client.get(f"/api/observations/{o['id']}")
        assert res.status_code == 200, res.text[:300]
        got[f"GET observation {o['id']}"] = res.json()
    for pair in client.get("/api/sites/sergeyevka-base/changes").json()[:2]:
        key = pair.get("id") or pair.get("pair_id")
        res = client.get(f"/api/changes/{key}")
        assert res.status_code == 200, res.text[:300]
        got[f"GET change {key}"] = res.json()
    return got


_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z| UTC|[+-]\d\d:?\d\d)?")


def masked(value: Any, ws: Path, ran: tuple[datetime, datetime]) -> Any:
    """``value`` with the workspace's folder as ``WS``, and as ``RUN-TIME`` the times (written in UTC) that fall while
    the run ran (``ran``): when it ingested, detected, reported. A time of the run written in the process's or the
    server's zone is not masked: it shows as a difference."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    for form in (ws.as_uri(), str(ws)):
        text = text.replace(json.dumps(form)[1:-1], "WS")
    first, last = ran[0] - timedelta(minutes=1), ran[1] + timedelta(minutes=1)

    def mask(m: re.Match[str]) -> str:
        shown = m.group(0).replace(" UTC", "Z")
        when = datetime.fromisoformat(shown.replace("Z", "+00:00"))
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        return "RUN-TIME" if first <= when <= last else m.group(0)

    return json.loads(_TIME.sub(mask, text))


if __name__ == "__main__":
    sys.stdout.write(json.dumps(study(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:4]), sort_keys=True))
