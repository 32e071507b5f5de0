"""A small simulated study end to end on a PostGIS store gives what it gives on the GeoPackage:
sites imported, images ingested, vessels detected, timeline, report and export, through the CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.sources.simulate import load_scenario, shorten, simulate
from sitewatch.store import Store
from sitewatch.store.postgis import PostgisStore
from sitewatch.workspace import open_workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Dunai, 13 to 15 October 2024: SAR every day, a Sentinel-2-like scene on the 14th and a PlanetScope-like one.
    scen = shorten(load_scenario("seed-story"), days=3, start=date(2024, 10, 13))
    out = tmp_path_factory.mktemp("sim")
    simulate(scen, out)
    return out


def _run(*args: str) -> str:
    res = CliRunner().invoke(main, [*args])
    assert res.exit_code == 0, (args, res.output)
    return res.output


def _study(ws: Path, simulated: Path, *store: str) -> dict[str, Any]:
    """The README's steps for one site; what each gives."""
    _run("init", str(ws), *store)
    w = ["-w", str(ws)]
    _run("sites", "import", str(simulated / "dunai" / "layout.geojson"), *w)
    ingest = json.loads(_run("ingest", "dunai", str(simulated / "dunai"), "--workers", "1", "--json", *w))
    detect = json.loads(_run("detect", "dunai", "--workers", "1", "--json", *w))
    again = json.loads(_run("detect", "dunai", "--workers", "1", "--json", *w))  # kept: nothing changed
    timeline = json.loads(_run("timeline", "dunai", "--json", "-", *w))
    _run("report", "dunai", "--out", str(ws / "report.html"), *w)
    _run("report", "dunai", "--from", "2024-10-14", "--out", str(ws / "report-14.html"), *w)
    _run("export", "dunai", "--out", str(ws / "dunai.geojson"), *w)
    _run("export", "dunai", "--out", str(ws / "dunai.gpkg"), *w)  # a standalone GeoPackage, from either store
    with open_workspace(ws).store() as s:
        detections = [(d.id, d.kind, round(d.length_m, 3), d.footprint.wkt) for d in s.detections("dunai")]
        counts = s.counts()
        kind = type(s).__name__
        from sitewatch.analysis.occupancy import TimelineParams
        from sitewatch.web.data import site_months

        months = site_months(s, "dunai", TimelineParams())  # the site page's strip of months, from stored times
    return {
        "ingest": ingest, "detect": detect, "again": again, "timeline": timeline, "detections": detections, "counts": counts,
        "kind": kind, "months": months, "export": json.loads((ws / "dunai.geojson").read_text(encoding="utf-8")),
        "report": (ws / "report.html").read_text(encoding="utf-8"),
        "report_14": (ws / "report-14.html").read_text(encoding="utf-8"),
        "gpkg_export": [(d.id, d.footprint.wkt) for d in Store(ws / "dunai.gpkg").detections()],
        "api": _api(ws),
    }  # fmt: skip


def _api(ws: Path) -> dict[str, Any]:
    """What the dashboard (read-only store, one connection a request) answers."""
    from fastapi.testclient import TestClient

    from sitewatch.web.app import create_app

    client = TestClient(create_app(ws))
    sites = client.get("/api/sites").json()
    timeline = client.get("/api/sites/dunai/timeline").json()
    assert client.get("/sites/dunai").status_code == 200
    # A period, read for its dates alone (acquired compared in the store: ISO text in SQLite, timestamptz in PostGIS).
    page = client.get("/sites/dunai?from=2024-10-14&to=2024-10-14")
    assert page.status_code == 200 and "Dates shown: 2024-10-14 to 2024-10-14" in page.text
    period = {path: client.get(f"/api/sites/dunai{path}").json()
              for path in ("/timeline?from=2024-10-14", "/detections?to=2024-10-14", "?from=2024-10-15")}  # fmt: skip
    assert period["?from=2024-10-15"]["observations"] and {o["date"] for o in period["?from=2024-10-15"]["observations"]} == {"2024-10-15"}
    return {"sites": sites, "timeline": timeline, "detections": client.get("/api/sites/dunai/detections").json(),
            "period": period}  # fmt: skip


def test_a_study_on_postgis_gives_the_geopackage_s_detections_and_timeline(
    tmp_path: Path, simulated: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    gpkg = _study(tmp_path / "gpkg", simulated)
    pg = _study(tmp_path / "pg", simulated, "--store", pg_url)
    assert (gpkg["kind"], pg["kind"]) == ("Store", "PostgisStore")
    assert gpkg["counts"]["detections"] > 0 and pg["counts"] == gpkg["counts"]
    assert pg["detections"] == gpkg["detections"]
    assert pg["timeline"] == gpkg["timeline"]
    assert pg["detect"] == gpkg["detect"] and pg["again"] == gpkg["again"] and pg["ingest"] == gpkg["ingest"]
    assert pg["export"] == gpkg["export"] and pg["gpkg_export"] == gpkg["gpkg_export"]
    assert pg["api"] == gpkg["api"]
    assert pg["months"] == gpkg["months"] and gpkg["months"][0]["month"] == "2024-10" and gpkg["months"][0]["images"] > 0
    assert "dunai" in pg["report"] and pg["report"].count("<tr") == gpkg["report"].count("<tr")
    assert pg["report_14"].count("<tr") == gpkg["report_14"].count("<tr") < gpkg["report"].count("<tr")
    # The archive's paths are the workspace's, relative: another member sees them wherever the folder is mounted.
    with PostgisStore(pg_url) as s:
        paths = [r[0] for r in s.execute("SELECT path FROM observations")]
    assert paths and all(p.startswith("archive/") for p in paths)
