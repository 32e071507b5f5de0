"""A workspace of many sites (a port list of thousands): what each command does with all of them.

The figures (seconds, MiB at 40, 400 and 4,000 sites) are benchmarks/gazetteer_scale.py's; these tests
check the behaviour that keeps them: one answer about many sites, not one per site.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, box, mapping

from sitewatch.cli import main
from sitewatch.errors import SiteError
from sitewatch.ingest.archive import remove_sites_partials
from sitewatch.model import Berth, Site
from sitewatch.sites import SitesIndex, site_from_bbox
from sitewatch.testing import bboxes, site_utm_origin, tiny_site, workspace_with_sites, write_tiff


def _ports(n: int, lon0: float = 100.0) -> list[Site]:
    """``n`` small square ports in a row along 10 S, 0.05° apart (none overlapping)."""
    return [site_from_bbox(f"wpi-{10_000 + i}", (lon0 + 0.05 * i, -10.01, lon0 + 0.05 * i + 0.02, -9.99), name=f"Port {i}")
            for i in range(n)]  # fmt: skip


def _collection(sites: list[Site]) -> dict[str, object]:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": s.id, "name": s.name, "kind": "port"}, "geometry": mapping(s.geometry)}
        for s in sites
    ]}  # fmt: skip


def test_sites_import_of_a_port_list_says_figures_and_a_rerun_replaces(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws")
    ports = _ports(60)
    path = tmp_path / "ports.geojson"
    path.write_text(json.dumps(_collection(ports)), encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(main, ["sites", "import", str(path), "-w", str(ws.root)])
    assert first.exit_code == 0, first.output
    # One short line, not 60 ids (4,000 made a line of 44 kB).
    assert "imported 60 site(s): 60 new, 0 replaced (wpi-10000, wpi-10001," in first.output
    assert "wpi-10059" not in first.output and len(first.output) < 200
    again = runner.invoke(main, ["sites", "import", str(path), "-w", str(ws.root)])
    assert again.exit_code == 0 and "imported 60 site(s): 0 new, 60 replaced" in again.output
    with ws.store() as store:
        assert [s.id for s in store.sites()] == sorted(p.id for p in ports)  # no duplicate


def test_sites_import_of_a_few_names_each() -> None:
    from sitewatch.cli.sites import imported_line

    assert imported_line(["a", "b"], {"b"}) == "imported 2 site(s): a, b (replaced)"


def test_no_such_site_among_thousands_names_the_nearest_not_all(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws", *_ports(300))
    res = CliRunner().invoke(main, ["sites", "show", "wpi-10123x", "-w", str(ws.root)])
    assert res.exit_code == 1
    assert "no site 'wpi-10123x'" in res.output and "it has 300 sites" in res.output
    assert "wpi-10123" in res.output and "wpi-10299" not in res.output  # the nearest, not every id
    assert "sitewatch sites list" in res.output
    few = workspace_with_sites(tmp_path / "few", tiny_site("alpha"), tiny_site("bravo", lon=10.0, lat=10.0))
    with few.store() as store, pytest.raises(SiteError, match=r"have: alpha, bravo\)"):
        store.get_site("charlie")  # a few are all named, as before


def test_store_sites_reads_each_sites_berths_and_water(tmp_path: Path) -> None:
    a = tiny_site("a", lon=10.0, lat=10.0)
    b = tiny_site("b", lon=20.0, lat=20.0)
    a = Site(**{**a.__dict__, "berths": (Berth("q2", LineString([(9.995, 10.0), (10.005, 10.0)]), "two"),
                                         Berth("q1", LineString([(9.995, 10.001), (10.0, 10.001)]), "")),
                "water": box(9.992, 9.992, 10.0, 10.0)})  # fmt: skip
    b = Site(**{**b.__dict__, "water": box(19.995, 19.995, 20.0, 20.0)})
    ws = workspace_with_sites(tmp_path / "ws", a, b, tiny_site("c", lon=30.0, lat=30.0))
    with ws.store() as store:
        every = store.sites()
        assert [s.id for s in every] == ["a", "b", "c"]
        assert every == [store.get_site(i) for i in ("a", "b", "c")]  # as read one by one
        assert [x.id for x in every[0].berths] == ["q1", "q2"] and every[1].berths == () and every[2].water is None
        assert every[1].water is not None and every[1].water.equals(b.water)


@settings(max_examples=40, deadline=None)
@given(st.lists(bboxes(), min_size=1, max_size=30), bboxes())
def test_sites_index_finds_the_sites_a_footprint_meets_in_their_order(boxes, footprint) -> None:  # type: ignore[no-untyped-def]
    sites = [Site(id=f"s{i}", name="", kind="area", geometry=box(*b)) for i, b in enumerate(boxes)]
    sites.append(Site(id="unlocated", name="", kind="area", geometry=None, resolved=False))
    area = box(*footprint)
    want = [s for s in sites if s.geometry is not None and area.intersects(s.geometry)]
    assert SitesIndex(sites).intersecting(area) == want


def test_import_finds_the_sites_an_image_covers_among_many(tmp_path: Path) -> None:
    pier = tiny_site("pier")
    beside = site_from_bbox("pier-north", (132.33, 42.885, 132.35, 42.9), name="beside")  # overlaps the image too
    ws = workspace_with_sites(tmp_path / "ws", *_ports(200), pier, beside)
    crs, x0, y0 = site_utm_origin(pier)
    image = write_tiff(tmp_path / "scene_20241015.tif", np.full((1, 300, 300), 0.05, np.float32), crs=crs,
                       transform=Affine(10, 0, x0, 0, -10, y0))  # fmt: skip
    res = CliRunner().invoke(main, ["import", str(image), "--sensor", "sar", "--json", "--workers", "1", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    assert sorted(r["id"].split("/")[0] for r in json.loads(res.stdout)["imported"]) == ["pier", "pier-north"]


def test_partials_of_many_sites_are_removed_from_their_folders_only(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws", *_ports(3))
    left = []
    for sid in ("wpi-10000", "wpi-10002", "other"):
        (ws.archive / sid).mkdir(parents=True)
        left.append(ws.archive / sid / ".x.tif.partial")
        left[-1].write_bytes(b"half")
    top = ws.archive / ".y.partial"
    top.write_bytes(b"half")
    assert remove_sites_partials(ws, ["wpi-10000", "wpi-10001", "wpi-10002"]) == 3
    assert [p.exists() for p in left] == [False, False, True] and not top.exists()


def _two_imaged(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A workspace of 40 ports and two piers, an image of each pier imported."""
    north, south = tiny_site("north"), tiny_site("south", lat=41.0)
    ws = workspace_with_sites(tmp_path / "ws", *_ports(40), north, south)
    for site in (north, south):
        crs, x0, y0 = site_utm_origin(site)
        image = write_tiff(tmp_path / f"{site.id}_20241015.tif", np.full((1, 300, 300), 0.05, np.float32), crs=crs,
                           transform=Affine(10, 0, x0, 0, -10, y0))  # fmt: skip
        res = CliRunner().invoke(main, ["import", str(image), "--sensor", "sar", "--workers", "1", "-w", str(ws.root)])
        assert res.exit_code == 0, res.output
    return ws


def test_detect_without_a_site_detects_in_every_site_with_observations(tmp_path: Path) -> None:
    ws = _two_imaged(tmp_path)
    runner = CliRunner()
    res = runner.invoke(main, ["detect", "--json", "--workers", "1", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)["sites"]
    assert [s["site"] for s in got] == ["north", "south"] and [s["observations"] for s in got] == [1, 1]
    with ws.store() as store:  # each recorded as its own run, as `detect SITE` records it
        assert sorted(r[0] for r in store.execute("SELECT site_id FROM runs WHERE stage = 'detect'")) == ["north", "south"]
    one = runner.invoke(main, ["detect", "south", "--json", "--workers", "1", "-w", str(ws.root)])
    assert one.exit_code == 0 and json.loads(one.stdout)["observations"] == 1  # one site: its summary, as before
    text = runner.invoke(main, ["-q", "detect", "south", "north", "--workers", "1", "-w", str(ws.root)])
    assert text.exit_code == 0 and text.output.splitlines() == ["south: 1 observation(s), found nothing",
                                                                 "north: 1 observation(s), found nothing"]  # fmt: skip


def test_detect_naming_an_unknown_site_detects_in_none(tmp_path: Path) -> None:
    ws = _two_imaged(tmp_path)
    res = CliRunner().invoke(main, ["detect", "north", "wpi-1000x", "--workers", "1", "-w", str(ws.root)])
    assert res.exit_code == 1 and "no site 'wpi-1000x'" in res.output and "north:" not in res.output
    with ws.store() as store:
        assert store.execute("SELECT count(*) FROM runs WHERE stage = 'detect'")[0][0] == 0


def test_detect_in_a_workspace_without_observations_says_what_to_do(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws", *_ports(3))
    res = CliRunner().invoke(main, ["detect", "-w", str(ws.root)])
    assert res.exit_code == 0 and "no site has observations" in res.output


def test_dashboard_lists_thousands_of_sites_a_page_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from sitewatch.web import app as web_app
    from sitewatch.web import create_app

    ws = _two_imaged(tmp_path)
    monkeypatch.setattr(web_app, "SITES_PER_PAGE", 10)  # 42 sites: 5 pages
    with TestClient(create_app(ws.root)) as client:
        first = client.get("/")
        assert first.status_code == 200
        assert "42 sites, 2 with observations (listed first); sites 1–10 here." in first.text
        assert "page 1 of 5" in first.text and 'href="/?page=2" rel="next"' in first.text and 'rel="prev"' not in first.text
        rows = [re.findall(r'<tr><td class="ids"><a href="/sites/([^"]+)">', client.get(f"/?page={n}").text) for n in range(1, 6)]
        assert rows[0][:2] == ["north", "south"] and [len(r) for r in rows] == [10, 10, 10, 10, 2]
        every = [i for r in rows for i in r]
        assert sorted(every) == sorted({*every}) and len(every) == 42  # each site once
        assert 'href="/?page=4" rel="prev"' in client.get("/?page=5").text
        assert client.get("/?page=6").status_code == 404
        for bad in ("0", "x", "-1", "9" * 40):
            assert client.get("/", params={"page": bad}).status_code == 400
    assert web_app.sites_on_page([{"id": "a", "observations": 0}], None) == ([{"id": "a", "observations": 0}], None)


def test_the_api_lists_a_port_list_a_page_at_a_time(tmp_path: Path) -> None:
    """`/api/sites` sent every site in one answer (624 kB at 4,000 sites): it pages as OGC API Features and STAC
    API do, `limit` and `offset`, with the figures and a `next` link a client follows until there is none."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from sitewatch.web import create_app

    ws = workspace_with_sites(tmp_path / "ws", *_ports(450))
    with ws.store() as store:
        ids = [s.id for s in store.sites()]
    with TestClient(create_app(ws.root)) as client:
        first = client.get("/api/sites").json()
        assert (first["numberMatched"], first["numberReturned"], len(first["sites"])) == (450, 200, 200)
        assert [s["id"] for s in first["sites"]] == ids[:200]  # by id, as the answer was
        assert {ln["rel"] for ln in first["links"]} == {"self", "next"}
        seen, url, pages = [], "/api/sites", 0
        while url:  # what a script does: follow `next`
            page = client.get(url).json()
            seen += [s["id"] for s in page["sites"]]
            url = next((ln["href"] for ln in page["links"] if ln["rel"] == "next"), None)
            pages += 1
        assert seen == ids and pages == 3
        last = client.get("/api/sites", params={"limit": 100, "offset": 400}).json()
        assert last["numberReturned"] == 50 and [ln["rel"] for ln in last["links"]] == ["self", "prev"]
        assert next(ln["href"] for ln in last["links"] if ln["rel"] == "prev") == "/api/sites?limit=100&offset=300"
        assert client.get("/api/sites", params={"limit": 10_000}).json()["numberReturned"] == 450  # all at once
        past = client.get("/api/sites", params={"offset": 999}).json()
        assert past["sites"] == [] and past["numberMatched"] == 450
        assert client.get("/api/sites", params={"offset": "9" * 40, "limit": "9" * 40}).json()["sites"] == []
        for name, bad in (("limit", "0"), ("limit", "x"), ("offset", "-1"), ("offset", "1e3"), ("limit", "²")):
            r = client.get("/api/sites", params={name: bad})
            assert r.status_code == 400 and f"refused {name}=" in r.json()["detail"], (name, bad)


def test_a_port_list_without_ids_or_names_imports_again_onto_the_same_sites(tmp_path: Path) -> None:
    # WPI's own field names (PORT_NAME, INDEX_NO) are neither `name` nor `id`: every polygon is "site", "site-2"…
    ws = workspace_with_sites(tmp_path / "ws")
    ports = _ports(300)
    raw = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"PORT_NAME": s.name, "INDEX_NO": i}, "geometry": mapping(s.geometry)}
        for i, s in enumerate(ports)
    ]}  # fmt: skip
    path = tmp_path / "wpi.geojson"
    path.write_text(json.dumps(raw), encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(main, ["sites", "import", str(path), "-w", str(ws.root)])
    assert "300 new, 0 replaced" in res.output
    # Twenty notes, then a count and what to do, not a note for each of 300 polygons; the first names the field
    # that may hold the names, as 'site' too.
    notes = [line for line in res.output.splitlines() if line.startswith("note: ")]
    assert len(notes) == 21 and "imported as site 'site-20'" in notes[19]
    assert "imported as site 'site' (it has no id or name field; its text fields are PORT_NAME: rename" in notes[0]
    assert notes[-1].startswith("note: 280 more site(s) of ") and "(of 300)" in notes[-1] and "`id` and `name`" in notes[-1]
    with ws.store() as store:
        first = {s.id: s.geometry.wkb for s in store.sites()}
    assert sorted(first) == sorted(["site", *(f"site-{n}" for n in range(2, 301))])
    # Again, with one polygon moved: the 299 others replace themselves, the moved one is a new site.
    raw["features"][5]["geometry"] = mapping(box(60.0, 10.0, 60.02, 10.02))
    path.write_text(json.dumps(raw), encoding="utf-8")
    again = runner.invoke(main, ["sites", "import", str(path), "-w", str(ws.root)])
    assert "imported 300 site(s): 1 new, 299 replaced" in again.output
    with ws.store() as store:
        after = {s.id: s.geometry.wkb for s in store.sites()}
    assert len(after) == 301 and all(after[k] == v for k, v in first.items())  # none moved onto another's id


def _imaged_twice(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A workspace of 40 ports and two piers, two SAR images of each pier (a bright block in the second)."""
    north, south = tiny_site("north"), tiny_site("south", lat=41.0)
    ws = workspace_with_sites(tmp_path / "ws", *_ports(40), north, south)
    for site in (north, south):
        crs, x0, y0 = site_utm_origin(site)
        for day, level in (("20241015", 0.05), ("20241018", 0.05)):
            pixels = np.full((1, 300, 300), level, np.float32)
            if day == "20241018":
                pixels[0, 100:160, 100:160] = 2.0  # something built
            image = write_tiff(tmp_path / f"{site.id}_{day}.tif", pixels, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0))
            res = CliRunner().invoke(main, ["import", str(image), "--sensor", "sar", "--workers", "1", "-w", str(ws.root)])
            assert res.exit_code == 0, res.output
    return ws


def test_timeline_of_every_site_or_of_several(tmp_path: Path) -> None:
    """`timeline` took one site: a port list's user looped over the sites, a process each. Now none is every site with
    observations, several are those; one site's outputs are as they were."""
    ws = _imaged_twice(tmp_path)
    runner = CliRunner()
    w = ["-w", str(ws.root)]
    assert runner.invoke(main, ["detect", "--workers", "1", *w]).exit_code == 0
    one = runner.invoke(main, ["timeline", "south", "--json", "-", *w])
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["site_id"] == "south"  # one site: its timeline, as before
    every = runner.invoke(main, ["timeline", "--json", "-", *w])
    assert every.exit_code == 0, every.output
    sites = json.loads(every.stdout)["sites"]
    assert [s["site_id"] for s in sites] == ["north", "south"] and sites[1] == json.loads(one.stdout)
    text = runner.invoke(main, ["timeline", "south", "north", *w])
    assert text.exit_code == 0 and text.output.index("== south ==") < text.output.index("== north ==")
    assert "2024-10-15" in text.output and "wpi-" not in text.output
    out = tmp_path / "out"
    out.mkdir()
    res = runner.invoke(main, ["timeline", "--csv", str(out / "all.csv"), "--json", str(out / "{site}.json"),
                               "--chart", str(out / "{site}.png"), *w])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["all.csv", "north.json", "north.png", "south.json", "south.png"]
    rows = list(csv.DictReader(io.StringIO((out / "all.csv").read_text(encoding="utf-8"))))
    assert [r["site_id"] for r in rows] == ["north", "north", "south", "south"]  # one header, every site's rows
    assert json.loads((out / "south.json").read_text(encoding="utf-8")) == json.loads(one.stdout)
    refused = runner.invoke(main, ["timeline", "--chart", str(out / "all.png"), *w])
    assert refused.exit_code == 2 and "{site}" in refused.output
    unknown = runner.invoke(main, ["timeline", "north", "wpi-1000x", "--json", str(out / "x.json"), *w])
    assert unknown.exit_code == 1 and "no site 'wpi-1000x'" in unknown.output and not (out / "x.json").exists()


def test_change_at_every_site_or_at_several(tmp_path: Path) -> None:
    """`change` took one site, as `timeline`: now none is every site with observations, several are those; one
    site's --json is as it was."""
    ws = _imaged_twice(tmp_path)
    runner = CliRunner()
    w = ["-w", str(ws.root)]
    every = runner.invoke(main, ["change", "--json", "--out", str(tmp_path / "all.geojson"), *w])
    assert every.exit_code == 0, every.output
    sites = json.loads(every.stdout)["sites"]
    assert [s["site"] for s in sites] == ["north", "south"] and [len(s["pairs"]) for s in sites] == [1, 1]
    assert all(s["errors"] == [] and s["pairs"][0]["appeared"] >= 1 for s in sites)  # the block built in each
    regions = json.loads((tmp_path / "all.geojson").read_text(encoding="utf-8"))["features"]
    assert {f["properties"]["site_id"] for f in regions} == {"north", "south"}
    one = runner.invoke(main, ["change", "south", "--json", *w])
    assert one.exit_code == 0 and json.loads(one.stdout)["site"] == "south"  # one site: its object, as before
    assert json.loads(one.stdout)["pairs"][0]["appeared"] == sites[1]["pairs"][0]["appeared"]
    text = runner.invoke(main, ["change", "south", "north", *w])
    pair_lines = [line for line in text.output.splitlines() if re.match(r"\S+ \d{4}-\d\d-\d\d -> ", line)]
    assert text.exit_code == 0 and [line.split()[0] for line in pair_lines] == ["south", "north"], text.output
    with ws.store() as store:  # a rerun replaces each pair's regions: as many rows as one run made
        assert store.execute("SELECT count(*) FROM change_pairs")[0][0] == 2
    refused = runner.invoke(main, ["change", "--before", "2024-10-15", *w])
    assert refused.exit_code == 2 and "one SITE" in refused.output
    unknown = runner.invoke(main, ["change", "north", "wpi-1000x", *w])
    assert unknown.exit_code == 1 and "no site 'wpi-1000x'" in unknown.output and "north 2024" not in unknown.output
