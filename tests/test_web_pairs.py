"""The dashboard's page of one stored change pair (``/changes/BEFORE..AFTER``), in-process with TestClient.

On a shortened demo: the seed story's training ground, Sergeyevka, from 28 September to 9 October
2024 through simulate, ingest, detect and change, which stores two pairs (Sentinel-2 30 Sep → 5 Oct
and PlanetScope 1 → 8 Oct, both across the 3-4 October digging) with their regions.
"""

from __future__ import annotations

import io
import re
import shutil
import warnings
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import matplotlib.image as mimage
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _a11y import elements, table_problems, unnamed_focus_boxes
from sitewatch.demo import run_demo
from sitewatch.model import Grid
from sitewatch.sources.simulate import load_scenario, shorten
from sitewatch.store.changes import change_pairs, changes
from sitewatch.web import create_app
from sitewatch.web.quicklook import (
    WINDOW_MIN_PX,
    QuicklookCache,
    bounds_window,
    quicklook_shape,
    view_window,
)
from sitewatch.workspace import Workspace, open_workspace
from test_page_layout import _media, _rules, _style, _visible_text

pytest.importorskip("fastapi", reason="the web extra: pip install 'sitewatch[web]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SITE = "sergeyevka-base"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    scen = shorten(load_scenario("seed-story"), days=12, start=date(2024, 9, 28), sites=[SITE])
    result = run_demo(tmp_path_factory.mktemp("web-pairs") / "ws", scenario=scen, workers=1)
    return open_workspace(result.out)


@pytest.fixture(scope="module")
def client(ws: Workspace) -> TestClient:
    return TestClient(create_app(ws.root, cache=QuicklookCache()))


def _pairs(ws: Workspace) -> list[tuple[Any, list[Any]]]:
    with ws.store() as store:
        return [(p, changes(store, before_id=p.before_id, after_id=p.after_id)) for p in change_pairs(store, SITE)]


def _url(pair: Any, suffix: str = "") -> str:
    return f"/changes/{quote(pair.before_id, safe='/')}..{quote(pair.after_id, safe='/')}{suffix}"


def test_the_scenario_stores_pairs_with_regions(ws: Workspace) -> None:
    pairs = _pairs(ws)
    assert len(pairs) >= 2 and all(regions for _, regions in pairs)


def test_site_page_rows_and_map_regions_lead_to_the_pair_pages(ws: Workspace, client: TestClient) -> None:
    html = client.get(f"/sites/{SITE}").text
    for n, (p, regions) in enumerate(_pairs(ws), start=1):
        row = html[html.index(f'id="change-{n}"'):].split("</tr>")[0]
        assert f'href="{_url(p)}"' in row  # the table's row
        for k in range(1, len(regions) + 1):  # each region on the site map, to its row on the pair's page
            assert html.count(f'href="{_url(p)}#region-{k}"') == 1
        assert client.get(_url(p)).status_code == 200
    assert 'href="#change-' not in html


def test_pair_page_shows_both_images_every_region_and_what_it_rests_on(ws: Workspace, client: TestClient) -> None:
    with ws.store() as store:
        obs = {o.id: o for o in store.observations(SITE)}
    for p, regions in _pairs(ws):
        r = client.get(_url(p))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        html = r.text
        assert "SIMULATED" in html
        assert f'src="{_url(p, "/before.png")}"' in html and f'src="{_url(p, "/after.png")}"' in html
        # The regions outlined over each image, each linked to its row; the row gives direction, area, magnitude.
        assert html.count('<svg class="overlay"') == 2
        for k, c in enumerate(regions, start=1):
            assert html.count(f'href="#region-{k}"') == 2, k
            row = re.search(rf'<tr id="region-{k}">(.*?)</tr>', html, re.S)
            assert row and c.direction in row[1] and f"{c.area_m2:.0f} m²" in row[1] and f"{c.magnitude:.3f}" in row[1]
            assert c.id in row[1]
        assert f'id="region-{len(regions) + 1}"' not in html
        for o in (obs[p.before_id], obs[p.after_id]):  # both observations, their files and hashes, linked
            for text in (o.id, o.path, o.sha256, o.scene.sensor, o.scene.acquired.strftime("%Y-%m-%d %H:%M:%S")):
                assert text in html
            assert f'href="/observations/{o.id}"' in html and f'href="/observations/{o.id}/image.tif"' in html
        assert p.before_sha256 in html and p.after_sha256 in html
        assert f"{p.method} {p.method_version}" in html and f"compared {p.compared_fraction:.1%} of the site" in html
        assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", _visible_text(html))  # times read as date, time, UTC
        assert "the archived file has changed" not in html and 'class="warn"' not in html


def test_pair_page_every_header_cell_has_words(ws: Workspace, client: TestClient) -> None:
    """An empty header cell (the corner of "What this rests on") gives a screen reader's table nothing to read."""
    for p, _ in _pairs(ws):
        headers = [e for e in elements(client.get(_url(p)).text) if e.tag == "th"]
        assert headers and [e for e in headers if not e.inner_text()] == []


def test_pair_images_say_which_side_when_and_how_many_regions(ws: Workspace, client: TestClient) -> None:
    """Their alt was "before:" and an id; now the date and the regions drawn on them, as the caption says."""
    p, regions = next((p, rs) for p, rs in _pairs(ws) if rs)
    alts = [e.attrs["alt"] for e in elements(client.get(_url(p)).text) if e.tag == "img"]
    assert [a.split(":")[0] for a in alts] == ["Before", "After"]
    assert all(f"; {len(regions)} changed region" in a and " UTC" in a for a in alts), alts
    # Nor the sensor, nor which way each region changed: drawn by its colour alone (every region is dashed).
    counts = Counter(r.direction for r in regions)
    said = "; ".join(f"{counts[d]} {d}, {colour}" for d, colour in (("appeared", "blue"), ("disappeared", "orange"),
                                                                   ("altered", "white")) if counts[d])  # fmt: skip
    assert all(f" · {p.sensor} " in a and a.endswith(f" outlined dashed ({said})") for a in alts), alts


def test_pair_page_tables_are_named_and_their_headers_scoped(ws: Workspace, client: TestClient) -> None:
    """The regions' table and "What this rests on" (headers down its first column: scope="row") are
    named by captions; a screen reader read the row headers as column headers."""
    els = elements(client.get(_url(_pairs(ws)[0][0])).text)
    assert table_problems(els) == [] and unnamed_focus_boxes(els) == []
    assert [e.attrs["scope"] for e in els if e.tag == "th" and e.inner_text() == "sensor"] == ["row"]


def test_both_images_show_the_same_ground_at_the_same_scale(ws: Workspace) -> None:
    client = TestClient(create_app(ws.root, cache=QuicklookCache(), max_px=200))
    for p, _ in _pairs(ws):
        doc = client.get(f"/api{_url(p)}").json()
        before, after = doc["images"]["before"], doc["images"]["after"]
        assert before["window"] == after["window"]  # the same pixels of the same grid
        minx, miny, maxx, maxy = doc["view"]["bounds"]
        html = client.get(_url(p)).text
        assert html.count(f'viewBox="{minx:.1f} {-maxy:.1f} {maxx - minx:.1f} {maxy - miny:.1f}"') == 2
        images = [mimage.imread(io.BytesIO(client.get(_url(p, f"/{side}.png")).content), format="png")
                  for side in ("before", "after")]  # fmt: skip
        rows, cols = quicklook_shape(before["window"][2], before["window"][3], 200, WINDOW_MIN_PX)
        assert [im.shape[:2] for im in images] == [(rows, cols)] * 2 and max(rows, cols) <= 200
        assert f'width="{cols}" height="{rows}"' in html
        assert images[0].std() > 0 and (images[0] != images[1]).any()


def test_a_small_window_is_blown_up_by_whole_pixels_so_its_label_stays_small(ws: Workspace, client: TestClient) -> None:
    scales = []
    for p, _ in _pairs(ws):
        doc = client.get(f"/api{_url(p)}").json()
        _, _, w, h = doc["images"]["after"]["window"]
        k = max(1, WINDOW_MIN_PX // max(w, h))
        im = mimage.imread(io.BytesIO(client.get(_url(p, "/after.png")).content), format="png")
        assert im.shape[:2] == (h * k, w * k) and max(im.shape[:2]) <= max(WINDOW_MIN_PX, w, h)
        # Each image pixel k × k screen pixels: the bottom row (below the SIMULATED label) repeats in blocks.
        row = im[-1, :, :3]
        assert (row.reshape(w, k, 3) == row[::k, None]).all()
        scales.append(k)
    assert max(scales) > 1  # the scenario's Sentinel-2 windows are a few dozen pixels


def test_quicklook_shape_blows_up_by_whole_pixels_within_both_bounds() -> None:
    assert quicklook_shape(65, 64) == quicklook_shape(65, 64, 1024, 1) == (64, 65)  # pixel for pixel by default
    assert quicklook_shape(65, 64, 1024, 512) == (7 * 64, 7 * 65)
    assert quicklook_shape(65, 64, 200, 512) == (3 * 64, 3 * 65)  # never past max_px
    assert quicklook_shape(600, 300, 1024, 512) == (300, 600) and quicklook_shape(2048, 1024, 1024, 512) == (512, 1024)


def test_pair_image_is_cached(ws: Workspace) -> None:
    cache = QuicklookCache()
    client = TestClient(create_app(ws.root, cache=cache))
    p, _ = _pairs(ws)[0]
    first = client.get(_url(p, "/after.png"))
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    assert (cache.hits, cache.misses) == (0, 1)
    assert client.get(_url(p, "/after.png")).content == first.content and (cache.hits, cache.misses) == (1, 1)


def test_previous_and_next_walk_the_sites_pairs_in_its_tables_order(ws: Workspace, client: TestClient) -> None:
    order = [_url(p) for p, _ in _pairs(ws)]
    assert [f"/changes/{quote(d['id'], safe='/')}" for d in client.get(f"/api/sites/{SITE}/changes").json()] == order
    walked, url = [], order[0]
    assert 'rel="prev"' not in client.get(url).text
    while True:
        walked.append(url)
        nxt = re.search(r'<a rel="next" href="([^"]+)"', client.get(url).text)
        if not nxt:
            break
        back = re.search(r'<a rel="prev" href="([^"]+)"', client.get(nxt[1]).text)
        assert back and back[1] == url
        url = nxt[1]
    assert walked == order
    assert f"pair {len(order)} of {len(order)}" in client.get(url).text


def test_pair_api_matches_the_store(ws: Workspace, client: TestClient) -> None:
    for n, (p, regions) in enumerate(_pairs(ws), start=1):
        doc = client.get(f"/api{_url(p)}").json()
        assert (doc["site_id"], doc["before_id"], doc["after_id"], doc["number"]) == (SITE, p.before_id, p.after_id, n)
        assert [r["id"] for r in doc["regions"]] == [c.id for c in regions]
        assert [r["direction"] for r in doc["regions"]] == [c.direction for c in regions]
        assert doc["area_m2"] == pytest.approx(sum(c.area_m2 for c in regions), abs=0.1)
        assert (doc["method"], doc["method_version"], doc["compared_fraction"]) == (p.method, p.method_version, p.compared_fraction)
        assert doc["parameters"] == p.parameters and doc["simulated"] is True
        for side, sha in (("before", p.before_sha256), ("after", p.after_sha256)):
            img = doc["images"][side]
            assert img["sha256_compared"] == img["sha256"] == sha and img["missing"] is None
            assert img["changed_since_compared"] is False
    assert "/api/changes/{pair_id}" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize("url", [
    f"/changes/{SITE}/nothing..{SITE}/else", f"/api/changes/{SITE}/nothing..{SITE}/else",
    f"/changes/{SITE}/nothing..{SITE}/else/before.png", f"/changes/{SITE}/nothing..{SITE}/else/after.png",
])  # fmt: skip
def test_unknown_pair_is_404_naming_it(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 404 and f"{SITE}/nothing..{SITE}/else" in r.text


@pytest.mark.parametrize("url", [
    "/changes/%2E%2E/%2E%2E/sitewatch.gpkg", "/api/changes/%2E%2E/sitewatch.gpkg",
    f"/changes/{SITE}%5C..%5Csitewatch.gpkg/before.png", "/changes/%2Fetc%2Fpasswd..x",
])  # fmt: skip
def test_path_like_pair_ids_are_refused(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 400, (url, r.status_code)
    assert "refused change pair id" in r.text and b"SQLite format" not in r.content


def test_no_pair_page_loads_anything_from_elsewhere_or_writes_the_workspace(ws: Workspace) -> None:
    from test_web import _snapshot

    client = TestClient(create_app(ws.root))
    before = _snapshot(ws)
    for p, _ in _pairs(ws):
        for url in (_url(p), f"/api{_url(p)}", _url(p, "/before.png"), _url(p, "/after.png")):
            r = client.get(url)
            assert r.status_code == 200, url
            assert url.endswith(".png") or not re.search(r"https?://", r.text), url
    assert _snapshot(ws) == before


@pytest.fixture
def damaged(ws: Workspace, tmp_path: Path) -> Workspace:
    """A copy of the workspace to break."""
    shutil.copytree(ws.root, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def test_an_image_missing_from_the_archive_is_named_and_the_page_still_answers(damaged: Workspace) -> None:
    p, regions = _pairs(damaged)[0]
    with damaged.store() as store:
        after = store.get_observation(p.after_id)
    (damaged.root / after.path).unlink()
    client = TestClient(create_app(damaged.root))
    r = client.get(_url(p))
    assert r.status_code == 200
    warning = re.findall(r'<p class="warn">(.*?)</p>', r.text, re.S)
    assert len(warning) == 1 and "after image" in warning[0] and after.path in warning[0] and p.after_id in warning[0]
    assert f'src="{_url(p, "/before.png")}"' in r.text and f'src="{_url(p, "/after.png")}"' not in r.text
    assert r.text.count('<svg class="overlay"') == 2  # the regions still outlined where the image would be
    assert all(r.text.count(f'href="#region-{k}"') == 2 for k in range(1, len(regions) + 1))
    # The hash shown "now" is the store's record, not a file's: said so for the missing one only.
    assert r.text.count("as recorded: the file is not in the archive") == 1
    doc = client.get(f"/api{_url(p)}").json()
    assert after.path in doc["images"]["after"]["missing"] and doc["images"]["before"]["missing"] is None
    png = client.get(_url(p, "/after.png"))
    assert png.status_code == 404 and after.path in png.json()["detail"]
    assert client.get(_url(p, "/before.png")).status_code == 200


def test_an_observation_gone_or_reingested_since_the_pair_was_compared_is_said(damaged: Workspace) -> None:
    p, _ = _pairs(damaged)[0]
    with damaged.store() as store, store.transaction() as db:
        db.execute("DELETE FROM observations WHERE observation_id = ?", (p.before_id,))
        db.execute("UPDATE observations SET sha256 = ? WHERE observation_id = ?", ("0" * 64, p.after_id))
    client = TestClient(create_app(damaged.root))
    html = client.get(_url(p)).text
    (warning,) = re.findall(r'<p class="warn">(.*?)</p>', html, re.S)
    assert p.before_id in warning and "no longer in this workspace" in warning
    assert "the archived file has changed since the pair was compared" in html
    assert p.before_sha256 in html  # the hash it was compared with stays on record
    doc = client.get(f"/api{_url(p)}").json()
    assert doc["images"]["before"]["in_store"] is False and doc["images"]["after"]["changed_since_compared"] is True
    assert client.get(_url(p, "/before.png")).status_code == 404


def test_pair_images_sit_side_by_side_and_stack_on_a_phone(ws: Workspace, client: TestClient) -> None:
    page = client.get(_url(_pairs(ws)[0][0])).text
    assert _rules(_style(page))[".pair"]["grid-template-columns"] == "1fr 1fr"
    assert _rules(_media(_style(page), "(max-width: 700px)"))[".pair"]["grid-template-columns"] == "1fr"
    assert "<script" not in page


GRID = Grid("EPSG:32652", (3.0, 0.0, 712458.0, 0.0, -3.0, 4914294.0), 347, 345)
"""The training ground's PlanetScope grid: 3 m pixels."""


def _bounds(grid: Grid, window: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
    a, _, c, _, e, f = grid.transform
    col, row, w, h = window
    return c + a * col, f + e * (row + h), c + a * (col + w), f + e * row


def test_view_window_frames_a_small_region_with_a_margin_and_a_large_one_within_the_image() -> None:
    x, y = 712458.0 + 3 * 150, 4914294.0 - 3 * 150  # a 30 m region mid-image
    win = view_window(GRID, (x, y - 30, x + 30, y))
    minx, miny, maxx, maxy = _bounds(GRID, win)
    assert minx <= x - 60 and maxx >= x + 90 and miny <= y - 90 and maxy >= y + 60  # 60 m around it
    assert 64 <= win[2] <= 70 and 64 <= win[3] <= 70  # at least 64 pixels a side, not the whole image
    assert view_window(GRID, None) == view_window(GRID, (0.0, 0.0, 10.0, 10.0)) == (0, 0, 347, 345)  # none / off it
    assert view_window(GRID, _bounds(GRID, (0, 0, 347, 345))) == (0, 0, 347, 345)  # cut to the image


@given(st.integers(0, 346), st.integers(0, 344), st.integers(1, 347), st.integers(1, 345))
def test_bounds_window_of_a_windows_bounds_is_that_window(col: int, row: int, w: int, h: int) -> None:
    w, h = min(w, 347 - col), min(h, 345 - row)
    assert bounds_window(GRID, _bounds(GRID, (col, row, w, h))) == (col, row, w, h)
    win = view_window(GRID, _bounds(GRID, (col, row, w, h)))
    wc, wr, ww, wh = win
    assert wc <= col and wr <= row and wc + ww >= col + w and wr + wh >= row + h  # the extent lies within the view
    assert wc >= 0 and wr >= 0 and wc + ww <= 347 and wr + wh <= 345


def test_the_pair_page_title_calls_it_a_pair_as_its_heading_does(ws: Workspace, client: TestClient) -> None:
    """The tab read "change 1 at …" while the page says "pair 1": a bookmark read as the first region."""
    pair, _ = _pairs(ws)[0]
    html = client.get(_url(pair)).text
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title is not None and title.group(1).startswith("pair 1 at sergeyevka-base: "), title
