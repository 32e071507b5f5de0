"""The web dashboard (``sitewatch serve``), in-process with FastAPI's TestClient.

On a shortened demo: the seed story's Dunai from 16 to 21 October 2024 through simulate, ingest
and detect, with one observation then marked as known by its date alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import sqlite3
import sys
import warnings
from collections import Counter
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import matplotlib.image as mimage
import pytest
from click.testing import CliRunner

from _a11y import (
    accessible_name,
    contrast_ratio,
    doubled_tab_stops,
    elements,
    links_named_alike,
    links_named_by_a_number,
    small_stacked_links,
    style_rules,
    table_problems,
    unnamed_focus_boxes,
    unreachable_scrollers,
)
from sitewatch.analysis.occupancy import TimelineParams, load_timeline, timeline_to_dict
from sitewatch.cli import main
from sitewatch.demo import run_demo
from sitewatch.errors import StoreError
from sitewatch.model import DATE_ONLY_HOUR, DATE_ONLY_NOTE
from sitewatch.report.exports import detections_to_geojson
from sitewatch.sources.simulate import load_scenario, shorten
from sitewatch.store import Store
from sitewatch.web import create_app
from sitewatch.web.quicklook import QuicklookCache, quicklook_shape
from sitewatch.workspace import Workspace, open_workspace

pytest.importorskip("fastapi", reason="the web extra: pip install 'sitewatch[web]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")

with warnings.catch_warnings():
    # Starlette's TestClient says httpx (which FastAPI's docs name) will give way to httpx2 where only httpx is there.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    scen = shorten(load_scenario("seed-story"), days=6, start=date(2024, 10, 16), sites=["dunai"])
    out = tmp_path_factory.mktemp("web") / "ws"
    run_demo(out, scenario=scen, workers=1)
    w = open_workspace(out)
    with w.store() as st:  # one image known by its date alone (as an EO Browser export named by its date)
        o = next(o for o in st.observations("dunai") if o.scene.sensor == "optical")
        scene = dataclasses.replace(o.scene, acquired=o.scene.acquired.replace(hour=DATE_ONLY_HOUR, minute=0))
        st.put_observation(dataclasses.replace(
            o, scene=scene, provenance={**o.provenance, "acquired_from": f"file name, date only ({DATE_ONLY_NOTE})"}
        ))  # fmt: skip
    return w


@pytest.fixture(scope="module")
def client(ws: Workspace) -> TestClient:
    return TestClient(create_app(ws.root, cache=QuicklookCache()))


def _observations(ws: Workspace) -> list[Any]:
    with ws.store() as st:
        return st.observations("dunai")


def _pages(ws: Workspace) -> list[str]:
    return ["/", "/sites/dunai", *(f"/observations/{o.id}" for o in _observations(ws))]


def _snapshot(ws: Workspace) -> dict[str, str]:
    return {str(p.relative_to(ws.root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(ws.root.rglob("*")) if p.is_file()}


def test_every_page_has_one_main_landmark_and_focusable_scrolling_boxes(ws: Workspace, client: TestClient) -> None:
    """Content outside every landmark is missed by a screen reader's jump to the main content; a table
    (sideways at 200% zoom) or a .scroll box without focus cannot be scrolled from the keyboard."""
    stacked = False
    for url in [*_pages(ws), "/links", "/sites/nowhere"]:
        els = elements(html := client.get(url).text)
        assert [e.tag for e in els].count("main") == 1, url
        loose = [e.tag for e in els if e.tag in {"h1", "h2", "p", "table", "figure", "ul"}
                 and not any(a.tag in {"main", "nav"} for a in e.ancestors)]  # fmt: skip
        assert loose == [], url
        assert [e.tag for e in unreachable_scrollers(els)] == [], url
        # A table in a scroll box that takes the focus does not take it again (two stops for one table).
        assert [e.tag for e in doubled_tab_stops(els)] == [], url
        # Each table named by its caption, its header cells scoped; each box that takes focus named.
        assert table_problems(els) == [], url
        assert unnamed_focus_boxes(els) == [], url
        assert links_named_alike(els) == {}, url
        assert links_named_by_a_number(els) == [], url  # an observation's "1" (its close-up) and "#1" (its row)
        stacked = stacked or any(e.tag == "td" and [c.tag for c in e.children][:3] == ["a", "br", "a"] for e in els)
        assert small_stacked_links(html, els) == [], url  # links one a line, each a 24 px target (WCAG 2.2, 2.5.8)
    assert stacked  # the site's timeline: a date's image ids


def test_timeline_chart_says_in_words_what_it_shows(ws: Workspace, client: TestClient) -> None:
    """The site page's chart, like the report's, gives each period's figures in its alt and names the table."""
    charts = [e for e in elements(client.get("/sites/dunai").text) if e.tag == "img" and e.attrs["src"].endswith("/timeline.png")]
    assert len(charts) == 1
    alt = charts[0].attrs["alt"]
    assert alt.startswith("Bar chart of vessels per usable date at ") and "presence day" in alt and "table below" in alt


def test_quicklook_says_in_words_what_is_outlined(ws: Workspace, client: TestClient) -> None:
    """Its alt was "quick-look of" and the observation's id: nothing of what the image shows."""
    for o in _observations(ws):
        imgs = [e for e in elements(client.get(f"/observations/{o.id}").text) if e.tag == "img" and "quicklook" in e.attrs["src"]]
        assert len(imgs) == 1
        with ws.store() as st:
            kinds = Counter(d.kind for d in st.detections(observation_id=o.id))
        alt = imgs[0].attrs["alt"]
        assert alt.startswith(f"Quick-look of {o.id}, ") and alt.endswith(" outlined"), alt
        assert f"{kinds['vessel']} vessel" in alt, alt
        # "1 vessel", and a close-up's "close-up of detection 1 (vessel)": nothing of the ship's size, which the
        # eye reads off the picture, nor of the image it is cut from.
        html = client.get(f"/observations/{o.id}").text
        with ws.store() as st:
            vessels = [d for d in st.detections(observation_id=o.id) if d.kind == "vessel"]
        assert all(f"{d.length_m:.0f} m" in alt for d in vessels), alt
        for e in elements(html):
            if e.tag == "img" and "/detections/" in e.attrs["src"]:
                assert re.fullmatch(rf"Close-up of detection \d+, \w+ (≥ )?\d+ m long, in {re.escape(o.id)}, .* · "
                                    rf"{o.scene.sensor} .*\(simulated imagery\)", e.attrs["alt"]), e.attrs["alt"]  # fmt: skip


def test_pictures_with_links_are_groups_of_named_links(ws: Workspace, client: TestClient) -> None:
    """role="img" makes a picture's contents presentational: its links, which the keyboard still stops on,
    were hidden from a screen reader (axe: nested-interactive), and a box drawn as a link has no text to name it."""
    svgs = 0
    for url in _pages(ws):
        for e in elements(client.get(url).text):
            if e.tag != "svg":
                continue
            svgs += 1
            links = [c for c in _descendants(e) if c.tag == "a"]
            assert e.attrs.get("aria-label"), url
            assert e.attrs.get("role") == ("group" if links else "img"), url
            assert all(a.attrs.get("aria-label") for a in links), url
    assert svgs > 1
    # The site's map was "map of dunai (UTM …) with berths and detections" whatever it drew: it names them, as
    # the report's map does.
    with ws.store() as st:
        site = st.get_site("dunai")
    page = client.get("/sites/dunai?from=2024-10-01").text
    els = elements(page)
    maps = [e.attrs["aria-label"] for e in els if e.tag == "svg" and "map" in e.classes]
    assert len(maps) == 1 and maps[0].startswith(f"Map of {site.name} (simulated imagery): its outline"), maps
    assert all(b.name in maps[0] for b in site.berths) and re.search(r"; [1-9]\d* vessels?\b.* outlined by kind$", maps[0])
    # The browser's focus ring on a box of the map is drawn in the map's units (metres): a hairline round a ship
    # 14 × 3 px. The focused box's own outline thickens, in screen pixels (vector-effect: non-scaling-stroke).
    focused = [body for sel, body in style_rules(page) if "svg a:focus-visible" in sel]
    assert any(int(w) >= 8 for body in focused for w in re.findall(r"stroke-width:\s*(\d+)px", body)), focused
    # A link each, a port's year of them was hundreds of Tab presses before the tables: a link first skips them.
    svg = next(e for e in els if e.tag == "svg" and "map" in e.classes)
    n = sum(c.tag == "a" for c in _descendants(svg))
    skips = [e for e in els if e.tag == "a" and "skip" in e.classes]
    assert n > 3 and [accessible_name(e) for e in skips] == [f"Skip the map's {n} links"]
    assert els.index(skips[0]) < els.index(svg)
    # To the first thing past the map's links (its caption), which takes the focus.
    target = next(e for e in els if e.attrs.get("id") == skips[0].attrs["href"][1:])
    assert target.attrs.get("tabindex") == "-1" and els.index(svg) < els.index(target)
    assert [e for e in els[els.index(svg) + 1:els.index(target)] if e.tag == "a" and all(a is not svg for a in e.ancestors)] == []


def test_every_outline_keeps_3_to_1_contrast_on_the_light_map(ws: Workspace, client: TestClient) -> None:
    """A yellow crane (1.45:1) or green truck (2.1:1) outline all but vanished on the map's light ground
    (WCAG 1.4.11 asks 3:1 of a graphic): each coloured outline now lies on a dark casing that contrasts
    with the map and its water, and that the colour contrasts with."""
    from sitewatch.report.colours import CHANGE_COLOURS, KIND_COLOURS, OTHER_COLOUR

    coloured = {*KIND_COLOURS.values(), *CHANGE_COLOURS.values(), OTHER_COLOUR}
    outlines = 0
    for url in _pages(ws):
        for svg in (e for e in elements(client.get(url).text) if e.tag == "svg"):
            shapes = [e for e in _descendants(svg) if e.tag in {"path", "polyline"}]
            for before, shape in zip([None, *shapes], shapes, strict=False):
                colour = shape.attrs.get("stroke", "")
                if colour not in coloured:
                    continue
                outlines += 1
                assert before is not None and before.attrs.get("d") == shape.attrs.get("d"), url
                casing = before.attrs["stroke"]
                assert min(contrast_ratio(casing, bg) for bg in ("#ffffff", "#fafafa", "#cfe8ff")) >= 3, url
                assert contrast_ratio(colour, casing) >= 3, (url, colour)
    assert outlines


def _descendants(e: Any) -> list[Any]:
    return [d for c in e.children for d in (c, *_descendants(c))]


def test_every_page_answers_and_says_simulated(ws: Workspace, client: TestClient) -> None:
    for url in _pages(ws):
        r = client.get(url)
        assert r.status_code == 200, url
        assert r.headers["content-type"].startswith("text/html")
        assert "SIMULATED" in r.text, url


def test_sites_page_lists_each_site_with_its_counts(ws: Workspace, client: TestClient) -> None:
    html = client.get("/").text
    with ws.store() as st:
        n_obs, n_det = len(st.observations("dunai")), len(st.detections(site_id="dunai"))
    row = re.search(r'<tr><td class="ids"><a href="/sites/dunai">dunai</a>.*?</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    assert cells[2:8] == ["naval_base", "yes", str(n_obs), str(n_det), "2024-10-16", "2024-10-21"]


def test_site_page_shows_map_chart_timeline_and_observations(ws: Workspace, client: TestClient) -> None:
    html = client.get("/sites/dunai").text
    observations = _observations(ws)
    assert '<svg class="map"' in html and 'src="/sites/dunai/timeline.png"' in html
    for o in observations:  # every observation listed, linked to its page
        assert f'href="/observations/{o.id}"' in html
    assert "2024-10-17" in html and "arrivals" in html and "departures" in html
    png = client.get("/sites/dunai/timeline.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    with ws.store() as st:  # each detection's box on the map links to the observation it was found in
        dets = st.detections(site_id="dunai")
    assert html.count("<title>dunai/") == len(dets) > 0


def test_observation_page_shows_quicklook_overlay_detections_and_provenance(ws: Workspace, client: TestClient) -> None:
    with ws.store() as st:
        o = next(o for o in st.observations("dunai") if st.detections(observation_id=o.id) and not o.acquired_date_only)
        dets = st.detections(observation_id=o.id)
    html = client.get(f"/observations/{o.id}").text
    assert f'src="/observations/{o.id}/quicklook.png"' in html
    assert f'href="/observations/{o.id}/image.tif"' in html  # the figure links to the image it rests on
    assert html.count('<a href="#det-') == len(dets) and f'id="det-{len(dets)}"' in html
    for d in dets:
        assert d.id in html and f"{d.length_m:.1f}" in html and f"{d.score:.2f}" in html
    for text in (o.scene.id, o.sha256, o.path, o.scene.sensor, o.scene.acquired.strftime("%Y-%m-%d %H:%M:%S"), "sitewatch 0."):
        assert text in html


def test_drawn_pngs_carry_an_etag_and_a_browser_that_has_one_gets_304(ws: Workspace, client: TestClient) -> None:
    """Quick-looks, close-ups and timeline charts came whole on every view of a page (no validator)."""
    with ws.store() as st:
        o = next(o for o in st.observations("dunai") if st.detections(observation_id=o.id))
    for url in (f"/observations/{o.id}/quicklook.png", f"/observations/{o.id}/detections/1.png", "/sites/dunai/timeline.png"):
        first = client.get(url)
        tag = first.headers["etag"]
        assert first.status_code == 200 and first.content.startswith(b"\x89PNG") and tag.startswith('"'), url
        assert first.headers["cache-control"] == "no-cache"
        again = client.get(url, headers={"If-None-Match": f'"other", W/{tag}'})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag, url
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200, url
        assert client.head(url, headers={"If-None-Match": tag}).status_code == 304, url


def test_observation_known_by_its_date_alone_says_time_unknown(ws: Workspace, client: TestClient) -> None:
    o = next(o for o in _observations(ws) if o.acquired_date_only)
    html = client.get(f"/observations/{o.id}").text
    acquired_row = re.search(r'<tr><th scope="row">acquired</th><td>(.*?)</td></tr>', html)
    assert acquired_row is not None  # the page's other times (ingested, detected) are the clock's: look at this row only
    assert acquired_row.group(1) == f"{o.scene.acquired:%Y-%m-%d}, time unknown"
    assert client.get(f"/api/observations/{o.id}").json()["acquired_date_only"] is True


def test_api_sites_matches_the_store(ws: Workspace, client: TestClient) -> None:
    with ws.store() as st:
        sites, observations, detections = st.sites(), st.observations(), st.detections()
    got = client.get("/api/sites").json()["sites"]
    assert [s["id"] for s in got] == [s.id for s in sites]
    (dunai,) = got
    days = sorted(o.scene.acquired.date().isoformat() for o in observations)
    assert (dunai["observations"], dunai["detections"]) == (len(observations), len(detections))
    assert (dunai["first_date"], dunai["last_date"], dunai["simulated"]) == (days[0], days[-1], True)
    assert (dunai["kind"], dunai["resolved"]) == (sites[0].kind, sites[0].resolved)


def test_api_site_timeline_and_detections_match_the_store(ws: Workspace, client: TestClient) -> None:
    with ws.store() as st:
        site = st.get_site("dunai")
        observations = st.observations("dunai")
        timeline = json.loads(json.dumps(timeline_to_dict(load_timeline(st, "dunai"))))
        geojson = json.loads(json.dumps(detections_to_geojson(st, ["dunai"])))
    got = client.get("/api/sites/dunai").json()
    assert (got["name"], [b["id"] for b in got["berths"]]) == (site.name, [b.id for b in site.berths])
    assert [o["id"] for o in got["observations"]] == [o.id for o in observations]
    assert [o["valid_fraction"] for o in got["observations"]] == [o.valid_fraction for o in observations]
    assert client.get("/api/sites/dunai/timeline").json() == timeline
    r = client.get("/api/sites/dunai/detections")
    assert r.headers["content-type"] == "application/geo+json"
    assert r.json() == geojson and len(geojson["features"]) > 0  # what `sitewatch export` writes


def test_api_observation_matches_the_store(ws: Workspace, client: TestClient) -> None:
    with ws.store() as st:
        for o in st.observations("dunai"):
            got = client.get(f"/api/observations/{o.id}").json()
            assert (got["id"], got["scene_id"], got["sha256"], got["image"]) == (o.id, o.scene.id, o.sha256, o.path)
            assert (got["sensor"], got["cloud_fraction"], got["valid_fraction"]) == (o.scene.sensor, o.cloud_fraction, o.valid_fraction)
            assert [f["properties"]["id"] for f in got["features"]] == [d.id for d in st.detections(observation_id=o.id)]
            assert got["grid"]["width"] == o.grid.width and got["provenance"] == json.loads(json.dumps(dict(o.provenance)))


@pytest.mark.parametrize("url", [
    "/sites/nowhere", "/api/sites/nowhere", "/api/sites/nowhere/timeline", "/api/sites/nowhere/detections",
    "/sites/nowhere/timeline.png", "/observations/dunai/no-such-item", "/api/observations/dunai/no-such-item",
    "/observations/dunai/no-such-item/quicklook.png", "/observations/dunai/no-such-item/image.tif",
    "/observations/dunai/no-such-item/detections/1.png",
])  # fmt: skip
def test_unknown_ids_are_404_naming_the_id(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 404
    assert ("nowhere" if "nowhere" in url else "dunai/no-such-item") in r.text


def test_an_address_that_is_no_page_answers_404_with_a_page_and_the_api_with_json(client: TestClient) -> None:
    # A mistyped address (/site/dunai) showed {"detail":"Not Found"} in the browser: no way back to the sites.
    r = client.get("/site/dunai")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "no page at /site/dunai" in r.text and '<a href="/">sites</a>' in r.text
    r = client.get("/api/site/dunai")
    assert r.status_code == 404 and r.json() == {"detail": "no API endpoint at /api/site/dunai: /openapi.json lists them"}
    assert client.post("/").status_code == 405


@pytest.mark.parametrize("url", [
    "/observations/%2E%2E/%2E%2E/sitewatch.gpkg/image.tif",
    "/observations/dunai/%2E%2E%2F%2E%2E%2Fsitewatch.gpkg/image.tif",
    "/observations/%2Fetc%2Fpasswd/image.tif",
    "/api/observations/dunai/%2E%2E/sitewatch.gpkg",
    "/observations/dunai%5C..%5Csitewatch.gpkg/quicklook.png",
    "/observations/%2E%2E/%2E%2E/sitewatch.gpkg/detections/1.png",
    "/api/sites/%2E%2E",
    "/sites/dunai%2F..%2F..",
])  # fmt: skip
def test_path_like_ids_are_refused(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 400, (url, r.status_code)
    assert "refused" in r.text and b"SQLite format" not in r.content


def test_an_unreadable_image_is_500_and_an_unavailable_store_503_as_json_or_a_page(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    def damaged(*args: object) -> bytes:
        raise ValueError("damaged file")

    def unavailable(store: object) -> list[dict[str, Any]]:
        raise StoreError("the store is away")

    monkeypatch.setattr("sitewatch.web.app.quicklook_png", damaged)
    monkeypatch.setattr("sitewatch.web.data.site_summaries", unavailable)
    client = TestClient(create_app(ws.root, cache=QuicklookCache()))
    o = _observations(ws)[0]
    r = client.get(f"/observations/{o.id}/quicklook.png")
    assert r.status_code == 500 and "cannot read the image" in r.json()["detail"] and "damaged file" in r.json()["detail"]
    r = client.get("/api/sites")
    assert r.status_code == 503 and r.json() == {"detail": "the store is away"}
    r = client.get("/")
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html") and "the store is away" in r.text


def test_a_recorded_path_outside_the_archive_is_not_served(ws: Workspace) -> None:
    app = create_app(ws.root)
    o = _observations(ws)[0]
    with pytest.raises(LookupError, match="not in the workspace's archive"):
        app.state.dashboard.archived(dataclasses.replace(o, path="sitewatch.gpkg"))
    assert app.state.dashboard.archived(o).resolve() == (ws.root / o.path).resolve()
    with pytest.raises(LookupError, match="not in the workspace's archive"):  # climbing out, as written
        app.state.dashboard.archived(dataclasses.replace(o, path=f"archive/{o.site_id}/../../sitewatch.gpkg"))


def test_a_site_folder_of_the_archive_linked_to_another_disk_is_served(ws: Workspace, tmp_path: Path) -> None:
    # Imagery kept on a big disk, the site's archive folder a symlink to it: the dashboard read the link's
    # target as outside the archive and answered 404 for every quick-look, close-up and image.tif of the site.
    o = _observations(ws)[0]
    real = tmp_path / "big-disk" / o.site_id
    real.parent.mkdir()
    site_folder = ws.root / "archive" / o.site_id
    site_folder.rename(real)
    try:
        site_folder.symlink_to(real, target_is_directory=True)
        client = TestClient(create_app(ws.root, cache=QuicklookCache()))  # (nothing drawn before)
        for url in (f"/observations/{o.id}/quicklook.png", f"/observations/{o.id}/image.tif"):
            assert client.get(url).status_code == 200, url
    finally:
        site_folder.unlink(missing_ok=True)
        real.rename(site_folder)


def test_no_page_loads_anything_from_elsewhere(ws: Workspace, client: TestClient) -> None:
    for url in [*_pages(ws), "/openapi.json", "/api/sites"]:
        assert not re.search(r"https?://", client.get(url).text), url
    # FastAPI's /docs and /redoc pull their scripts from a CDN: off; the schema stays.
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    assert "/api/sites/{site_id}/detections" in client.get("/openapi.json").json()["paths"]


def test_quicklook_decodes_at_its_size_and_is_cached(ws: Workspace) -> None:
    cache = QuicklookCache()
    client = TestClient(create_app(ws.root, cache=cache, max_px=96))
    o = max(_observations(ws), key=lambda o: o.grid.width)
    r = client.get(f"/observations/{o.id}/quicklook.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = mimage.imread(io.BytesIO(r.content), format="png")
    assert img.shape[:2] == quicklook_shape(o.grid.width, o.grid.height, 96)
    assert max(img.shape[:2]) == 96 and img.std() > 0  # an image, not a blank
    assert (cache.hits, cache.misses) == (0, 1)
    assert client.get(f"/observations/{o.id}/quicklook.png").content == r.content
    assert (cache.hits, cache.misses) == (1, 1)
    html = client.get(f"/observations/{o.id}").text
    rows, cols = quicklook_shape(o.grid.width, o.grid.height, 96)
    assert f'width="{cols}" height="{rows}"' in html


def _detections(ws: Workspace, o: Any) -> list[Any]:
    with ws.store() as st:
        return st.detections(observation_id=o.id)


def _with_detections(ws: Workspace, at_least: int = 1) -> Any:
    """The observation with the most image pixels among those with ``at_least`` detections."""
    return max((o for o in _observations(ws) if len(_detections(ws, o)) >= at_least), key=lambda o: o.grid.width * o.grid.height)


def test_close_up_of_a_detection_reads_a_window_around_it_upscaled_and_cached(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from sitewatch.report import charts
    from sitewatch.web.app import CLOSE_UP_PX, close_up_margin_m

    windows: list[Any] = []
    read = charts.display_values
    monkeypatch.setattr(charts, "display_values", lambda src, obs, **kw: windows.append(kw.get("window")) or read(src, obs, **kw))
    cache = QuicklookCache()
    client = TestClient(create_app(ws.root, cache=cache))
    o = _with_detections(ws)
    dets = _detections(ws, o)
    n = len(dets)  # the last one, as the table numbers them
    r = client.get(f"/observations/{o.id}/detections/{n}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    (win,) = windows  # one window read, about 4 × the detection's length (≥ 64 px) around it: not the whole raster
    side_px = 2 * close_up_margin_m(dets[-1], o.scene.resolution_m) / o.scene.resolution_m
    assert side_px >= 64 and 0.9 * side_px <= max(win.width, win.height) <= 1.1 * side_px + 2
    assert win.width * win.height < o.grid.width * o.grid.height
    img = mimage.imread(io.BytesIO(r.content), format="png")
    k = max(CLOSE_UP_PX // max(win.width, win.height), 1)  # each image pixel as k × k screen pixels
    assert k * win.width <= img.shape[1] <= k * win.width + 20 and img.std() > 0
    assert (cache.hits, cache.misses) == (0, 1)
    assert client.get(f"/observations/{o.id}/detections/{n}.png").content == r.content and cache.hits == 1
    assert len(windows) == 1  # served from the cache, not read again
    if n > 1:
        assert client.get(f"/observations/{o.id}/detections/1.png").content != r.content


def test_close_up_numbers_out_of_range_are_404_and_non_numbers_refused(ws: Workspace, client: TestClient) -> None:
    o = _with_detections(ws)
    n = len(_detections(ws, o))
    for bad in (0, n + 1, "9" * 5000):  # Python refuses to read an int of more than 4300 digits
        r = client.get(f"/observations/{o.id}/detections/{bad}.png")
        assert r.status_code == 404 and f"no detection {str(bad)[:12]}" in r.json()["detail"]
        assert f"in observation {o.id!r}" in r.json()["detail"]
    for bad in ("x1", "%2E%2E", "-1", "1e0"):
        r = client.get(f"/observations/{o.id}/detections/{bad}.png")
        assert r.status_code == 400 and "refused detection number" in r.json()["detail"], bad


def test_observation_page_shows_a_captioned_close_up_per_detection(ws: Workspace, client: TestClient) -> None:
    o = _with_detections(ws)
    dets = _detections(ws, o)
    html = client.get(f"/observations/{o.id}").text
    grid = html[html.index('id="close-ups"'):]
    assert grid.count("<figure") == len(dets) and "not shown" not in grid
    assert grid.count("SIMULATED") >= len(dets)  # each close-up says so
    figures = re.findall(r'<figure id="close-up-(\d+)">.*?</figure>', grid, re.S)
    scores = [dets[int(n) - 1].score for n in figures]
    assert scores == sorted(scores, reverse=True)  # highest scores first
    for n, d in enumerate(dets, start=1):
        fig = re.search(rf'<figure id="close-up-{n}">(.*?)</figure>', grid, re.S)
        assert fig, n
        assert f'src="/observations/{o.id}/detections/{n}.png"' in fig[1] and f'href="#det-{n}"' in fig[1]
        row = re.search(rf'<tr id="det-{n}">(.*?)</tr>', html, re.S)
        assert row and f'href="#close-up-{n}"' in row[1]  # the row links back to its close-up
        for text in (f"{d.length_m:.1f} × ", f"{d.width_m:.1f} m", f"heading {d.heading_deg:.0f}°", f"score {d.score:.2f}"):
            assert text in fig[1], (n, text)
        # A screenshot of the close-up is cited by its detection's id: "#1" is the table's row, whose id ends "#000".
        assert f'<span class="hash">{d.id}</span>' in fig[1], n


def test_observation_page_shows_the_highest_scoring_close_ups_and_counts_the_rest(ws: Workspace, client: TestClient,
                                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr("sitewatch.web.app.MAX_CLOSE_UPS", 1)
    o = _with_detections(ws, at_least=2)
    dets = _detections(ws, o)
    best = 1 + max(range(len(dets)), key=lambda i: (dets[i].score, -i))
    grid = client.get(f"/observations/{o.id}").text.split('id="close-ups"')[1]
    assert re.findall(r'<figure id="close-up-(\d+)">', grid) == [str(best)]
    assert re.findall(r'href="#close-up-(\d+)"', client.get(f"/observations/{o.id}").text) == [str(best)]
    assert f"the 1 highest scores of {len(dets)}" in grid and f"{len(dets) - 1} lower-scoring detection" in grid
    assert "not shown: see the table" in grid


def test_image_is_served_by_observation_id(ws: Workspace, client: TestClient) -> None:
    o = _observations(ws)[0]
    r = client.get(f"/observations/{o.id}/image.tif")
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == o.sha256


def test_nothing_writes_the_workspace(ws: Workspace) -> None:
    client = TestClient(create_app(ws.root))
    before = _snapshot(ws)
    o = _observations(ws)[0]
    for url in [*_pages(ws), "/api/sites", "/api/sites/dunai", "/api/sites/dunai/timeline", "/api/sites/dunai/detections",
                f"/api/observations/{o.id}", f"/observations/{o.id}/quicklook.png", "/sites/dunai/timeline.png",
                *(f"/observations/{o.id}/detections/{n}.png" for n in range(1, len(_detections(ws, o)) + 1))]:  # fmt: skip
        assert client.get(url).status_code == 200
    assert client.post("/api/sites").status_code == 405 and client.delete(f"/api/observations/{o.id}").status_code == 405
    assert _snapshot(ws) == before


def test_read_only_store_refuses_writes_and_other_schemas(ws: Workspace, tmp_path: Path) -> None:
    with Store(ws.db_path, read_only=True) as st:
        site = st.get_site("dunai")
        with pytest.raises(StoreError, match="cannot write"):
            st.put_site(site)
    old = tmp_path / "old.gpkg"
    old.write_bytes(ws.db_path.read_bytes())
    with closing(sqlite3.connect(old)) as db, db:
        db.execute("UPDATE sitewatch_meta SET value = '1' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 1"):
        Store(old, read_only=True)
    with pytest.raises(StoreError, match="cannot open"):
        Store(tmp_path / "missing.gpkg", read_only=True)
    assert not (tmp_path / "missing.gpkg").exists()


def test_serve_binds_localhost_by_default(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    def serve_app(app: Any, host: str, port: int, log_level: str, on_listening: Any) -> None:
        calls.append((host, port))
        on_listening()

    monkeypatch.setattr("sitewatch.web.serve_app", serve_app)
    res = CliRunner().invoke(main, ["serve", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    assert calls == [("127.0.0.1", 8000)] and "http://127.0.0.1:8000/" in res.output
    res = CliRunner().invoke(main, ["serve", "-w", str(ws.root), "--host", "0.0.0.0", "--port", "8123"])
    assert calls[-1] == ("0.0.0.0", 8123) and "anyone who can reach this machine" in res.output
    res = CliRunner().invoke(main, ["serve", "-w", str(ws.root), "--host", "::1", "--port", "8123"])
    assert calls[-1] == ("::1", 8123) and "http://[::1]:8123/" in res.output  # a URL the browser opens


def test_quiet_serve_logs_no_line_a_request(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sitewatch -q serve` (a systemd service's, logging to the journal) still logged uvicorn's INFO line for every
    request (`"GET /sites/dunai HTTP/1.1" 200 OK`): -q is "only errors in the log"."""
    levels = []

    def serve_app(app: Any, host: str, port: int, log_level: str = "info", on_listening: Any = None) -> None:
        levels.append(log_level)

    monkeypatch.setattr("sitewatch.web.serve_app", serve_app)
    assert CliRunner().invoke(main, ["-q", "serve", "-w", str(ws.root)]).exit_code == 0
    assert CliRunner().invoke(main, ["serve", "-w", str(ws.root)]).exit_code == 0
    assert levels == ["error", "info"]


def test_serve_without_the_web_extra_says_what_to_install(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if not installed: importing it raises ImportError
    res = CliRunner().invoke(main, ["serve", "-w", str(ws.root)])
    assert res.exit_code == 1 and "pip install 'sitewatch[web]'" in res.output


def test_serve_of_a_folder_that_is_no_workspace_says_so(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["serve", "-w", str(tmp_path)])
    assert res.exit_code == 1 and "not a sitewatch workspace" in res.output


def test_a_small_image_s_quicklook_is_blown_up_by_whole_pixels_so_its_simulated_label_stays_small(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A simulated 10 m image of a small site is a couple of hundred pixels: shown pixel for pixel and
    widened by the page, its SIMULATED label covered a large part of it. (The test's images are of 311 px
    and more, so the size they are blown up towards is raised here.)"""
    client = TestClient(create_app(ws.root, cache=QuicklookCache()))
    o = min(_observations(ws), key=lambda o: max(o.grid.width, o.grid.height))
    longer = max(o.grid.width, o.grid.height)
    monkeypatch.setattr("sitewatch.web.app.WINDOW_MIN_PX", 3 * longer + 1)
    img = mimage.imread(io.BytesIO(client.get(f"/observations/{o.id}/quicklook.png").content), format="png")
    assert img.shape[:2] == (o.grid.height * 3, o.grid.width * 3)
    assert f'width="{o.grid.width * 3}" height="{o.grid.height * 3}"' in client.get(f"/observations/{o.id}").text


def test_a_site_without_coordinates_has_a_page_not_a_server_error(tmp_path: Path) -> None:
    """The built-in gazetteer keeps places it could not locate without a geometry (``lifarevka``); the
    index links to their page, which answered 500 (the map needs an area). It says there is no map."""
    root = tmp_path / "ws"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(root)]).exit_code == 0
    res = runner.invoke(main, ["sites", "add", "lifarevka", "--builtin", "-w", str(root)])
    assert res.exit_code == 0, res.output
    client = TestClient(create_app(root), raise_server_exceptions=False)
    assert 'href="/sites/lifarevka"' in client.get("/").text
    r = client.get("/sites/lifarevka")
    assert r.status_code == 200, r.text
    assert "no coordinates" in r.text and "sitewatch sites add lifarevka --bbox" in r.text


def test_serve_on_a_port_in_use_is_an_error_naming_it(ws: Workspace) -> None:
    """uvicorn logged "[Errno 98] … address already in use" and exited 3, the code for a partial run."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        res = CliRunner().invoke(main, ["serve", "-w", str(ws.root), "--port", str(port)])
    assert res.exit_code == 1, res.output
    assert f"127.0.0.1:{port}" in res.output and "--port" in res.output
    # Not the URL first, as if this workspace's dashboard were there: the program on that port is another.
    assert "dashboard of" not in res.output and res.output.startswith("Error: cannot listen on"), res.output


def test_a_site_page_asked_with_a_trailing_slash_is_sent_to_the_page(ws: Workspace, client: TestClient) -> None:
    """/sites/dunai/ answered 400 ("not a site id") though the site is there."""
    r = client.get("/sites/dunai/", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/sites/dunai"
    assert client.get("/sites/dunai/").status_code == 200
    assert client.get("/sites/no-such-site/").status_code == 404


def test_an_observation_page_asked_with_a_trailing_slash_is_sent_to_the_page(ws: Workspace, client: TestClient) -> None:
    """/observations/SITE/NAME/ answered 400 ("not an observation id") where /sites/dunai/ was redirected."""
    o = _with_detections(ws)
    r = client.get(f"/observations/{o.id}/", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == f"/observations/{quote(o.id, safe='/')}"
    assert client.get(f"/observations/{o.id}/").status_code == 200
    assert client.get("/observations/dunai/no-such-image/").status_code == 404
    assert client.get("/changes/dunai/no-such-pair/").status_code == 404


def _route_kinds(ws: Workspace) -> dict[str, str]:
    """An address of each kind of answer: page, JSON, GeoJSON, the three drawn PNGs, the archived file, errors."""
    o = _with_detections(ws)
    return {
        "page": "/sites/dunai", "json": "/api/sites/dunai/timeline", "geojson": "/api/sites/dunai/detections",
        "timeline png": "/sites/dunai/timeline.png", "quicklook png": f"/observations/{o.id}/quicklook.png",
        "close-up png": f"/observations/{o.id}/detections/1.png", "file": f"/observations/{o.id}/image.tif",
        "404 json": "/api/sites/nowhere", "404 page": "/sites/nowhere", "404 png": "/sites/nowhere/timeline.png",
    }  # fmt: skip


@pytest.mark.parametrize("first", ["GET", "HEAD"])
def test_head_answers_the_headers_of_get_on_every_kind_of_route(ws: Workspace, first: str) -> None:
    """HEAD after GET (the PNGs cached) and before it (drawn by the HEAD): the same status and headers, the file's
    Content-Length, Last-Modified and ETag included, and no body."""
    client = TestClient(create_app(ws.root, cache=QuicklookCache()), raise_server_exceptions=False)
    for kind, url in _route_kinds(ws).items():
        if first == "GET":
            get, head = client.get(url), client.head(url)
        else:
            head, get = client.head(url), client.get(url)
        assert head.status_code == get.status_code and head.content == b"" and get.content, kind
        assert dict(head.headers) == dict(get.headers), kind
        assert head.headers["content-length"] == str(len(get.content)), kind
    file = client.head(_route_kinds(ws)["file"]).headers
    # (Accept-Ranges too where Starlette serves byte ranges, 0.39 and later: GET's headers, compared above.)
    assert file["content-type"] == "image/tiff" and {"etag", "last-modified"} <= set(file)


def test_head_on_the_archived_image_does_not_read_it(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """HEAD ran the GET and dropped its body: the whole image (hundreds of MB for a scene) was read for nothing.
    benchmarks/head_cost.py times it."""
    import anyio

    opened: list[str] = []
    real = anyio.open_file

    async def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        # Starlette's FileResponse opens the file with anyio.open_file, whichever version (1.x by its _open_file)
        opened.append(str(path))
        return await real(path, *args, **kwargs)

    monkeypatch.setattr(anyio, "open_file", counting)
    client = TestClient(create_app(ws.root))
    url = _route_kinds(ws)["file"]
    assert client.head(url).status_code == 200 and opened == []
    assert client.get(url).status_code == 200 and len(opened) == 1


def test_the_timeline_chart_is_drawn_once_for_a_head_and_its_get(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chart was drawn on every request (matplotlib, most of its time): a HEAD then a GET drew it twice. It is
    kept as the quick-looks are, by the timeline's figures: a changed timeline is drawn anew."""
    from sitewatch.report import charts

    drawn: list[str] = []
    real = charts.timeline_chart_png

    def counting(tl: Any) -> bytes:
        drawn.append(tl.site_id)
        return real(tl)

    monkeypatch.setattr(charts, "timeline_chart_png", counting)
    client = TestClient(create_app(ws.root, cache=QuicklookCache()))
    head, get = client.head("/sites/dunai/timeline.png"), client.get("/sites/dunai/timeline.png")
    assert head.status_code == get.status_code == 200 and drawn == ["dunai"]
    assert client.get("/sites/dunai/timeline.png").content == get.content and drawn == ["dunai"]
    other = TestClient(create_app(ws.root, cache=QuicklookCache(), params=dataclasses.replace(TimelineParams(), utc_offset_hours=12)))
    other.get("/sites/dunai/timeline.png")
    assert len(drawn) == 2  # another timeline (local dates 12 h on): its own chart
