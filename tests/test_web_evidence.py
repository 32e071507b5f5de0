"""The dashboard's evidence beyond the timeline: stored changes, alert events and links between sites.

On a shortened demo of both sites (10 to 17 October 2024: the cargo ship leaves Rason after the 12th
and is at Dunai from the 14th), with one pair of Dunai images compared by ``sitewatch change`` and the
seed story's alert rules checked by ``sitewatch alerts check``. The pair is compared with its
detections kept in (``--with-detections``): the landing ship that arrives on the 17th is then a
region, where the land around it has nothing that changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.demo import run_demo
from sitewatch.errors import InputError
from sitewatch.sources.simulate import load_scenario, shorten
from sitewatch.store.changes import change_pairs, changes
from sitewatch.web import create_app
from sitewatch.workspace import Workspace, open_workspace

pytest.importorskip("fastapi", reason="the web extra: pip install 'sitewatch[web]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.slow

RULES = Path(__file__).parents[1] / "src" / "sitewatch" / "data" / "alerts" / "seed-story.yaml"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    scen = shorten(load_scenario("seed-story"), days=8, start=date(2024, 10, 10))
    result = run_demo(tmp_path_factory.mktemp("web-evidence") / "ws", scenario=scen, workers=1)
    runner = CliRunner()
    res = runner.invoke(main, ["change", "dunai", "--before", "2024-10-16", "--after", "2024-10-17", "--with-detections",
                           "-w", str(result.out)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["alerts", "check", "--rules", str(RULES), "-w", str(result.out)])
    assert res.exit_code == 0, res.output
    return result


@pytest.fixture(scope="module")
def ws(demo) -> Workspace:  # type: ignore[no-untyped-def]
    return open_workspace(demo.out)


@pytest.fixture(scope="module")
def client(ws: Workspace) -> TestClient:
    return TestClient(create_app(ws.root))


def _snapshot(ws: Workspace) -> dict[str, str]:
    return {str(p.relative_to(ws.root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(ws.root.rglob("*")) if p.is_file()}


def test_site_changes_api_and_page_show_the_stored_pairs_and_regions(ws: Workspace, client: TestClient) -> None:
    with ws.store() as st:
        pairs, regions = change_pairs(st, "dunai"), changes(st, site_id="dunai")
    assert len(pairs) == 1 and regions
    got = client.get("/api/sites/dunai/changes").json()
    assert [(p["before_id"], p["after_id"]) for p in got] == [(p.before_id, p.after_id) for p in pairs]
    assert [r["id"] for r in got[0]["regions"]] == [r.id for r in regions]
    assert got[0]["area_m2"] == pytest.approx(sum(r.area_m2 for r in regions), abs=0.1)
    assert sum(got[0]["counts"].values()) == len(regions) and got[0]["simulated"]
    assert got[0]["regions"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    html = client.get("/sites/dunai").text
    # Each region drawn dashed over the site map, linked to its row on its pair's page; the pair's row links
    # that page and both images.
    page = f"/changes/{pairs[0].before_id}..{pairs[0].after_id}"
    assert html.count('stroke-dasharray="4 3"') == len(regions)
    assert [html.count(f'href="{page}#region-{n}"') for n in range(1, len(regions) + 1)] == [1] * len(regions)
    row = html[html.index('id="change-1"'):].split("</tr>")[0]
    assert f'href="{page}"' in row
    assert f'href="/observations/{pairs[0].before_id}"' in row and f'href="/observations/{pairs[0].after_id}"' in row
    assert "SIMULATED" in row
    # Rason has none: the page says how to make some, the API gives an empty list.
    assert client.get("/api/sites/rason/changes").json() == []
    assert "No stored changes" in client.get("/sites/rason").text


def test_site_alerts_api_and_page_show_the_recorded_events(ws: Workspace, client: TestClient) -> None:
    with ws.store() as st:
        rows = [(r["rule_id"], r["event_date"], json.loads(r["observation_ids"]))
                for r in st.execute("SELECT * FROM alert_events WHERE site_id = 'dunai' ORDER BY event_date, acquired, fid")]  # fmt: skip
    assert rows
    got = client.get("/api/sites/dunai/alerts").json()
    assert [(e["rule"], e["date"], e["observations"]) for e in got] == rows
    assert all(e["what"].startswith("SIMULATED imagery: ") for e in got)
    html = client.get("/sites/dunai").text
    section = html[html.index('id="alerts"'):]
    for e in got:
        assert e["rule"] in section and e["what"].split(":", 1)[1].strip()[:40] in section
        for oid in e["observations"]:
            assert f'href="/observations/{oid}"' in section
            assert client.get(f"/observations/{oid}").status_code == 200


def test_links_api_and_page_are_the_links_command(ws: Workspace, client: TestClient) -> None:
    res = CliRunner().invoke(main, ["links", "-w", str(ws.root), "--json"])
    want = json.loads(res.output)
    got = client.get("/api/links").json()
    assert got.pop("ais_files") == [] and got == want
    assert want["links"] and all(k["ais"] is None for k in want["links"])
    html = client.get("/links").text
    assert "SIMULATED" in html and "sitewatch serve --ais FILE" in html
    nav = re.search(r"<nav>(.*?)</nav>", html, re.S)
    shown = re.sub(r"<[^>]+>", "", nav.group(1)) if nav else ""
    assert shown.count("links") == 1  # "sites · links between sites · links" said it twice
    for k in want["links"]:
        for end in ("from", "to"):
            assert f'href="/observations/{k[end]["observation_id"]}"' in html
    assert 'href="/links"' in client.get("/").text


def test_links_with_ais_say_confirmed_as_the_links_command_does(demo, ws: Workspace) -> None:  # type: ignore[no-untyped-def]
    ais = demo.ais["file"]
    client = TestClient(create_app(ws.root, ais_files=[ais]))
    res = CliRunner().invoke(main, ["links", "-w", str(ws.root), "--json", "--ais", str(ais)])
    want = json.loads(res.output)
    got = client.get("/api/links").json()
    assert got.pop("ais_files") == [str(ais)] and got == want
    statuses = [k["ais"]["status"] for k in got["links"]]
    assert "confirmed" in statuses  # the cargo ship broadcasts at Rason and at Dunai
    html = client.get("/links").text
    assert "confirmed by AIS: the same MMSI" in html


def test_the_new_endpoints_refuse_unknown_sites_and_write_nothing(ws: Workspace, client: TestClient) -> None:
    for url in ("/api/sites/atlantis/changes", "/api/sites/atlantis/alerts"):
        r = client.get(url)
        assert r.status_code == 404 and "atlantis" in r.json()["detail"]
    before = _snapshot(ws)
    for url in ("/links", "/api/links", "/sites/dunai", "/api/sites/dunai/changes", "/api/sites/dunai/alerts"):
        r = client.get(url)
        assert r.status_code == 200 and not re.search(r"https?://", r.text), url
    assert client.post("/api/links").status_code == 405
    assert _snapshot(ws) == before
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/links", "/api/sites/{site_id}/changes", "/api/sites/{site_id}/alerts"} <= set(paths)


def test_an_ais_file_that_is_not_there_is_named(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nowhere.csv"):
        create_app(ws.root, ais_files=[tmp_path / "nowhere.csv"])
    res = CliRunner().invoke(main, ["serve", "-w", str(ws.root), "--ais", str(tmp_path / "nowhere.csv")])
    assert res.exit_code == 2 and "nowhere.csv" in res.output


def test_every_api_answer_is_what_the_doc_declares(ws: Workspace, client: TestClient) -> None:
    """The doc declared every answer as an object or a list of objects with anything in them: each route now
    names its model (sitewatch.web.schemas), and each answer of a workspace with every kind of evidence
    (observations, detections, a stored change pair, alert events) validates against it, strictly."""
    from pydantic import TypeAdapter

    from sitewatch.web import schemas

    with ws.store() as st:
        observations = [o.id for o in st.observations()]
        (pair,) = change_pairs(st, "dunai")
        sites = [s.id for s in st.sites()]
    pair_id = f"{pair.before_id}..{pair.after_id}"
    declared: dict[str, Any] = {
        "/api/sites": schemas.SitesPage,
        **{f"/api/sites/{s}": schemas.SiteDetail for s in sites},
        **{f"/api/sites/{s}/detections": schemas.FeatureCollection for s in sites},
        **{f"/api/sites/{s}/changes": list[schemas.ChangePairSummary] for s in sites},
        **{f"/api/sites/{s}/alerts": list[schemas.AlertEvent] for s in sites},
        **{f"/api/observations/{o}": schemas.ObservationDetail for o in observations},
        f"/api/changes/{pair_id}": schemas.ChangePairDetail,
    }
    for url, model in declared.items():
        r = client.get(url)
        assert r.status_code == 200, url
        TypeAdapter(model).validate_python(r.json(), strict=True)
    assert any(client.get(f"/api/sites/{s}/alerts").json() for s in sites)
    doc = client.get("/openapi.json").json()
    ref = doc["paths"]["/api/observations/{observation_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ref["schema"] == {"$ref": "#/components/schemas/ObservationDetail"}
