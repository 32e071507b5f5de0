"""Search and fetch for many sites: one catalogue query a group of sites close together (``fetch_many``).

Against the fake STAC API of ``test_stac`` (127.0.0.1, recorded-shape items): the grouped search gives each
site exactly what a search for it alone gives, an item over two sites is listed once and fetched for
each, and a group whose search fails fails its sites alone, naming them.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon, box, mapping

import test_stac
from sitewatch.cli import main
from sitewatch.fetch import FetchOptions, fetch_scenes, find_scenes
from sitewatch.fetch_many import fetch_sites, find_scenes_for_sites, group_sites
from sitewatch.model import Site
from sitewatch.sources.stac import Catalog
from sitewatch.testing import tiny_site
from sitewatch.workspace import init_workspace
from test_stac import T0, T1, StacServer, TokenSigner, _grd_item, _s2_item
from test_stac_static import delivery  # noqa: F401
from test_stac_static import ws as static_ws  # noqa: F401  (fixtures: a catalogue on disk, a workspace that may not use the network)

LON, LAT = 132.338, 42.88  # test_stac's SITE


def _triangle(site_id: str, w: float, s: float, e: float, n: float) -> Site:
    """A site whose polygon is the lower-left half of its bounding box."""
    return Site(site_id, site_id, "port", Polygon([(w, s), (e, s), (w, n), (w, s)]))


def _item(item_id: str, geometry: Any, when: str = "2024-10-05T01:53:49Z", **props: Any) -> dict[str, Any]:
    """An S2 item of the given footprint; its assets are never read by a search."""
    geom = mapping(geometry) if not isinstance(geometry, dict) else geometry
    return {"type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": "sentinel-2-l2a",
            "geometry": geom, "bbox": list(geometry.bounds) if not isinstance(geometry, dict) else None,
            "properties": {"datetime": when, "platform": "sentinel-2a", "eo:cloud_cover": 5.0} | props,
            "assets": {"red": {"href": f"https://data.example.org/{item_id}_red.tif"}}, "links": []}  # fmt: skip


def _serve(state: StacServer, handler: type | None = None) -> ThreadingHTTPServer:
    if handler is None:
        return state.start()
    import threading

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _stop(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


def _searches(state: StacServer) -> int:
    """Searches asked (first pages; a "next" page is the same search)."""
    return sum(1 for m, p, s in state.log if m == "POST" and p == "/search" and s == 200) - state.next_pages


# -- grouping -------------------------------------------------------------------------------------


def test_sites_close_together_share_a_group_far_ones_and_the_antimeridian_do_not():
    a = tiny_site("a", LON, LAT)
    b = tiny_site("b", LON + 0.2, LAT + 0.1)  # ~16 km east, 11 km north
    c = tiny_site("c", 10.0, 55.0)
    east, west = tiny_site("fiji-e", 179.97, -17.0, 0.01), tiny_site("fiji-w", -179.97, -17.0, 0.01)
    groups = group_sites([c, west, b, east, a])
    assert sorted(g.site_ids for g in groups) == [("a", "b"), ("c",), ("fiji-e",), ("fiji-w",)]
    ab = next(g for g in groups if len(g.sites) == 2)
    assert ab.bbox == pytest.approx((LON - 0.01, LAT - 0.01, LON + 0.21, LAT + 0.11))
    assert [g.site_ids for g in group_sites([a, b], group_km=10)] == [("a",), ("b",)]  # 17 km apart east-west
    assert [g.site_ids for g in group_sites([a, b], group_km=0)] == [("a",), ("b",)]
    big = Site("range", "range", "training_ground", box(LON, LAT, LON + 1.0, LAT + 1.0))  # 80 x 110 km: alone
    assert sorted(g.site_ids for g in group_sites([a, big])) == [("a",), ("range",)]


SITE_AT = st.tuples(st.floats(-179.0, 178.9), st.floats(-80.0, 80.0), st.floats(0.001, 0.2))


@settings(max_examples=60, deadline=None)
@given(st.lists(SITE_AT, min_size=1, max_size=40), st.sampled_from([0.0, 5.0, 50.0, 300.0]))
def test_every_site_is_in_one_group_that_fits_in_the_square(spots, group_km):
    sites = [tiny_site(f"s{i}", lon, lat, half) for i, (lon, lat, half) in enumerate(spots)]
    groups = group_sites(sites, group_km)
    assert sorted(s.id for g in groups for s in g.sites) == sorted(s.id for s in sites)
    for g in groups:
        w, s, e, n = g.bbox
        assert all(w <= x0 and s <= y0 and x1 <= e and y1 <= n
                   for x0, y0, x1, y1 in (site.require_geometry().bounds for site in g.sites))  # fmt: skip
        if len(g.sites) > 1:
            lat = min(max(abs(s), abs(n)), 89.9)
            assert (n - s) * 111.32 <= group_km + 1e-6
            assert (e - w) * 111.32 * math.cos(math.radians(lat)) <= group_km + 1e-6
    # the order the sites are given in does not change the groups
    assert sorted(g.site_ids for g in group_sites(list(reversed(sites)), group_km)) == sorted(g.site_ids for g in groups)


# -- searching ------------------------------------------------------------------------------------


@pytest.fixture()
def spread(tmp_path):
    """Five sites (two close together, one far, two each side of 180°) and items over them in every way that
    matters: over two sites, over one, over a site's bounding box but not its polygon, an L whose bbox holds a
    site its geometry misses, split at the antimeridian, and items that are no scene (an asset naming a local file)."""
    a = tiny_site("a", LON, LAT)
    b = _triangle("b", LON + 0.05, LAT - 0.01, LON + 0.07, LAT + 0.01)
    c = tiny_site("c", 10.0, 55.0)
    east, west = tiny_site("fiji-e", 179.97, -17.0, 0.01), tiny_site("fiji-w", -179.97, -17.0, 0.01)
    sites = [a, b, c, east, west]
    ell = Polygon([(LON - 0.5, LAT - 0.5), (LON + 0.5, LAT - 0.5), (LON + 0.5, LAT - 0.3), (LON - 0.3, LAT - 0.3),
                   (LON - 0.3, LAT + 0.5), (LON - 0.5, LAT + 0.5)])  # fmt: skip
    split = MultiPolygon([box(179.5, -17.5, 180.0, -16.5), box(-180.0, -17.5, -179.5, -16.5)])
    items = [
        _item("S2_AB_1005", box(LON - 0.5, LAT - 0.5, LON + 0.5, LAT + 0.5)),
        _item("S2_AB_1010", box(LON - 0.5, LAT - 0.5, LON + 0.5, LAT + 0.5), "2024-10-10T01:53:49Z"),
        _item("S2_A_HALF", box(LON, LAT - 0.5, LON + 0.03, LAT + 0.5), "2024-10-06T01:53:49Z"),
        _item("S2_B_BOX_ONLY", box(LON + 0.065, LAT + 0.005, LON + 0.2, LAT + 0.2), "2024-10-07T01:53:49Z"),
        _item("S2_L_MISSES_A", ell, "2024-10-08T01:53:49Z"),
        _item("S2_C", box(9.5, 54.5, 10.5, 55.5)),
        _item("S2_SPLIT", split, "2024-10-09T01:53:49Z"),
        _item("S2_EAST_ONLY", box(179.9, -17.5, 180.0, -16.5), "2024-10-11T01:53:49Z"),
        _item("S2_LOCAL_AB", box(LON - 0.5, LAT - 0.5, LON + 0.5, LAT + 0.5), "2024-10-12T00:00:00Z"),
        _item("S2_LOCAL_C", box(9.5, 54.5, 10.5, 55.5), "2024-10-12T00:00:00Z"),
        _item("S2_LOCAL_A", box(LON - 0.02, LAT - 0.02, LON + 0.02, LAT + 0.02), "2024-10-13T00:00:00Z"),
    ]
    for item in items[-3:]:  # kept by the search, refused as a scene: an asset that names a local file
        item["assets"]["red"]["href"] = "/etc/passwd"
    state = StacServer(files=tmp_path / "files")
    server = _serve(state, _paging_handler(state))
    state.items = items
    ws = init_workspace(tmp_path / "ws")
    store = ws.store()
    for site in sites:
        store.put_site(site)
    yield state, ws, store, sites
    store.close()
    _stop(server)


def _paging_handler(state: StacServer, refuse: Any = None) -> type:
    """test_stac's handler, with the "next" pages counted, and ``refuse(bbox)`` the HTTP status to answer a search with (0: answered)."""
    base = test_stac._handler(state)
    state.next_pages = 0  # type: ignore[attr-defined]

    class Handler(base):  # type: ignore[misc, valid-type]
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            body = json.loads(raw or b"{}")
            if "token" in body:
                state.next_pages += 1  # type: ignore[attr-defined]
            searches = sum(1 for m, p, _ in state.log if m == "POST" and p == "/search")
            # (the first searches fail as test_stac's server is told to, whichever group asks first)
            if refuse is not None and body.get("bbox") and searches >= state.fail_first_searches and (status := refuse(body["bbox"])):
                return self._json({"code": "Refused"}, status)
            import io

            self.rfile = io.BytesIO(raw)
            return super().do_POST()

    return Handler


def _view(cands: list[Any]) -> list[tuple[Any, ...]]:
    return [(c.scene.item_id, c.coverage, c.stats, c.fetched, c.item) for c in cands]


def test_many_sites_find_exactly_what_one_search_a_site_finds_in_fewer_searches(spread):
    state, ws, store, sites = spread
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    alone: dict[str, Any] = {}
    for site in sites:
        refused: list[tuple[str, str]] = []
        found = find_scenes(ws, store, site, catalog,
                            FetchOptions("s2", T0, T1, refresh=True, retries=0, page_size=2), refused=refused)
        alone[site.id] = (_view(found), refused)
    one_each = _searches(state)
    assert sum(1 for m, p, _ in state.log if m == "GET" and p == "/") == 2 * 5
    state.log.clear()
    state.next_pages = 0
    many = find_scenes_for_sites(ws, store, sites, catalog,
                                 FetchOptions("s2", T0, T1, refresh=True, retries=0, page_size=2))
    assert not many.failed
    assert {sid: (_view(many.candidates[sid]), many.refused[sid]) for sid in alone} == alone
    # what each site holds, as a search for it alone says it
    ids = {sid: [v[0] for v in view] for sid, (view, _) in alone.items()}
    assert ids["a"] == ["S2_AB_1005", "S2_A_HALF", "S2_AB_1010"]  # not the L, whose bbox holds it
    assert ids["b"] == ["S2_AB_1005", "S2_AB_1010"]  # not the item over its bbox's corner outside the triangle
    assert ids["c"] == ["S2_C"]
    assert ids["fiji-e"] == ["S2_SPLIT", "S2_EAST_ONLY"] and ids["fiji-w"] == ["S2_SPLIT"]
    # refused for the sites a search of their own lists them for (b's does not list the one over a alone)
    assert [i for i, _ in alone["a"][1]] == ["S2_LOCAL_AB", "S2_LOCAL_A"] and [i for i, _ in alone["b"][1]] == ["S2_LOCAL_AB"]
    assert [i for i, _ in alone["c"][1]] == ["S2_LOCAL_C"] and alone["fiji-e"][1] == []
    # five sites, four groups (a and b together); each search paged two items at a time; the catalogue's
    # landing page read for the first search only (pystac-client reads it twice each time it opens it)
    assert one_each == 5 and _searches(state) == many.searches == 4
    assert sum(1 for m, p, _ in state.log if m == "GET" and p == "/") == 2


def test_a_group_whose_search_fails_names_its_sites_and_the_others_proceed(spread):
    state, ws, store, sites = spread
    state.refused_with = 503  # type: ignore[attr-defined]  # retried, as the catalogue's 429 and 5xx are, then failed
    refuse = lambda bbox: state.refused_with if abs(bbox[0]) > 170 else 0  # type: ignore[attr-defined]  # noqa: E731  (the Fiji sites' groups)
    server = _serve(state, _paging_handler(state, refuse=refuse))
    try:
        _failing_group(state, ws, store, sites)
    finally:
        _stop(server)


def _failing_group(state: StacServer, ws: Any, store: Any, sites: list[Site]) -> None:
    state.fail_first_searches, state.retry_after = 1, "0"  # and a 429 first, with Retry-After: waited, asked again
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    many = find_scenes_for_sites(ws, store, sites, catalog, FetchOptions("s2", T0, T1, retries=2, backoff=0.01))
    assert state.status_count("/search", 429) == 1
    assert set(many.failed) == {"fiji-e", "fiji-w"}
    assert (f"the search for site fiji-e failed: local ({state.url}) search failed (HTTP 503, its server failed: asked 3 "
            "times; try again later)") in many.failed["fiji-e"]
    assert [c.scene.item_id for c in many.candidates["c"]] == ["S2_C"]
    assert [c.scene.item_id for c in many.candidates["a"]] == ["S2_AB_1005", "S2_A_HALF", "S2_AB_1010"]
    # The command: every site (none named), the failed ones said with their sites, exit 3. (400: not retried, as
    # a 503 is `search`'s five times with backoff, half a minute a group.)
    state.refused_with = 400  # type: ignore[attr-defined]
    (ws.root / "sitewatch.toml").write_text(f'[catalogs.local]\nurl = "{state.url}"\n', encoding="utf-8")
    args = ["-w", str(ws.root), "--catalog", "local", "--collection", "s2", "--from", "2024-10-01", "--to", "2024-11-30"]
    res = CliRunner().invoke(main, ["search", *args, "--json", "--refresh"])
    assert res.exit_code == 3, res.output
    out = {s["site"]: s for s in json.loads(res.stdout)["sites"]}
    assert list(out) == ["a", "b", "c", "fiji-e", "fiji-w"]
    assert [r["item_id"] for r in out["c"]["scenes"]] == ["S2_C"] and "HTTP 400" in out["fiji-w"]["error"]
    assert "failed fiji-e: the search for site fiji-e failed" in res.stderr


# -- fetching -------------------------------------------------------------------------------------


@pytest.fixture()
def pair(tmp_path):
    """Two sites 1 km apart inside one item's COGs (3 km square), and a third far away with none."""
    files = tmp_path / "files"
    state = StacServer(files=files)
    server = _serve(state, _paging_handler(state))
    west = tiny_site("port-w", LON - 0.006, LAT, 0.003)
    east = tiny_site("port-e", LON + 0.006, LAT, 0.003)
    far = tiny_site("far", 10.0, 55.0)
    state.items = [
        _s2_item(files, state.url, "S2A_CLEAR_20241005", "2024-10-05T01:53:49Z"),
        _s2_item(files, state.url, "S2B_CLOUDY_20241008", "2024-10-08T01:53:49Z", scl=9, scene_cloud=3.0),
    ]
    yield state, [west, east, far]
    _stop(server)


def _arrays(ws: Any, store: Any, obs_id: str) -> np.ndarray:
    with rasterio.open(ws.root / store.get_observation(obs_id).path) as src:
        return src.read()


def test_an_item_over_two_sites_is_listed_once_and_fetched_for_each_as_alone(pair, tmp_path, monkeypatch):
    state, sites = pair
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    sent: list[str] = []  # the ids of the items the catalogue's answers hold, each time one is sent
    real = test_stac._search

    def counted(state_: StacServer, body: dict[str, Any]) -> dict[str, Any]:
        answer = real(state_, body)
        sent.extend(f["id"] for f in answer["features"])
        return answer

    monkeypatch.setattr(test_stac, "_search", counted)
    ws_alone, ws_many = init_workspace(tmp_path / "alone"), init_workspace(tmp_path / "many")
    with ws_alone.store() as store:
        for site in sites:
            store.put_site(site)
        alone = {s.id: fetch_scenes(ws_alone, store, s, catalog,
                                    FetchOptions("s2", T0, T1, max_cloud=20, retries=0, signer=TokenSigner(state))) for s in sites}  # fmt: skip
    assert _searches(state) == 3 and sent.count("S2A_CLEAR_20241005") == 2  # once for each port
    sent.clear()
    state.log.clear()
    state.next_pages = 0
    with ws_many.store() as store:
        for site in sites:
            store.put_site(site)
        reports, failed = fetch_sites(ws_many, store, sites, catalog,
                                      FetchOptions("s2", T0, T1, max_cloud=20, retries=0, signer=TokenSigner(state)))  # fmt: skip
        assert not failed
        assert _searches(state) == 2  # the two ports in one search, the far site in another
        assert sent.count("S2A_CLEAR_20241005") == 1  # the item over both listed once, cut for each below
        for sid in ("port-w", "port-e"):
            assert [o.id for o in reports[sid].observations] == [f"{sid}/S2A_CLEAR_20241005"]
            assert reports[sid].skipped == alone[sid].skipped and reports[sid].failed == alone[sid].failed
            assert "cloud 100.0% over the site" in dict(reports[sid].skipped)["S2B_CLOUDY_20241008"]
            with ws_alone.store() as store_alone:
                one, other = store_alone.get_observation(f"{sid}/S2A_CLEAR_20241005"), store.get_observation(f"{sid}/S2A_CLEAR_20241005")
                same = lambda p: {k: v for k, v in p.items() if k not in ("retrieved_at", "stac", "sitewatch_version_full")}  # noqa: E731
                assert same(one.provenance) == same(other.provenance)
                assert np.array_equal(_arrays(ws_alone, store_alone, one.id), _arrays(ws_many, store, other.id), equal_nan=True)
        assert reports["far"].observations == () and reports["far"].skipped == ()
        # A rerun: no new search (cached for the group, as a site's own), nothing read again.
        state.log.clear()
        again, _ = fetch_sites(ws_many, store, sites, catalog, FetchOptions("s2", T0, T1, max_cloud=20, retries=0))
        assert not [p for _, p, _ in state.log]
        assert dict(again["port-e"].skipped)["S2A_CLEAR_20241005"] == "already fetched"
        assert len(store.observations("port-w")) == len(store.observations("port-e")) == 1


def _count_opens(monkeypatch: pytest.MonkeyPatch, state: StacServer) -> Counter[str]:
    """How many times each of the catalogue's assets is opened (its header and overviews read), by file name."""
    opens: Counter[str] = Counter()
    real = rasterio.open

    def counted(path: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(path, str) and path.startswith(state.url):
            opens[path.split("?")[0].rsplit("/", 1)[-1]] += 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", counted)
    return opens


def _asset_gets(state: StacServer) -> Counter[str]:
    """GET requests of each asset file (header, tiles, LUTs), by file name."""
    return Counter(p.split("?")[0].rsplit("/", 1)[-1] for m, p, _ in state.log if m == "GET" and "/files/" in p)


@pytest.mark.parametrize("collection", ["s2", "sentinel-1-grd"])
def test_an_item_over_two_sites_opens_each_asset_once_and_archives_what_each_alone_archives(
    pair, tmp_path, monkeypatch, collection
):
    """Each asset of an item over both ports is opened once (was once a site) and each port's window read
    from it; a GRD's calibration LUT is downloaded once. The COGs are byte for byte a fetch of each alone's."""
    state, sites = pair
    state.items.append(_grd_item(state.files, state.url))
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    options = FetchOptions(collection, T0, T1, max_cloud=20, retries=0, signer=TokenSigner(state))
    opens = _count_opens(monkeypatch, state)
    ws_alone, ws_many = init_workspace(tmp_path / "alone"), init_workspace(tmp_path / "many")
    with ws_alone.store() as store:
        for site in sites:
            store.put_site(site)
        alone = {s.id: fetch_scenes(ws_alone, store, s, catalog, options) for s in sites}
        alone_sha = {o.id: o.sha256 for r in alone.values() for o in r.observations}
    alone_opens, alone_gets = dict(opens), _asset_gets(state)
    opens.clear()
    state.log.clear()
    with ws_many.store() as store:
        for site in sites:
            store.put_site(site)
        reports, failed = fetch_sites(ws_many, store, sites, catalog, options)
        many_sha = {o.id: o.sha256 for r in reports.values() for o in r.observations}
    assert not failed
    item = "S2A_CLEAR_20241005" if collection == "s2" else "S1A_IW_GRDH_1SDV_20241020_TEST"
    assert sorted(many_sha) == [f"port-e/{item}", f"port-w/{item}"]
    assert many_sha == alone_sha  # byte-identical archives
    assert {r.skipped for r in reports.values()} == {r.skipped for r in alone.values()}
    read = [name for name in alone_opens if not name.startswith(".")]  # not the COGs written
    assert read and all(alone_opens[name] == 2 for name in read)  # alone: once for each port
    assert {name: opens[name] for name in read} == {name: 1 for name in read}
    assert sum(_asset_gets(state).values()) < sum(alone_gets.values())
    if collection != "s2":
        assert alone_gets["calibration-iw-vv.xml"] == 2 and _asset_gets(state)["calibration-iw-vv.xml"] == 1


def test_a_held_asset_refused_between_two_sites_reads_is_opened_again_signed_anew(pair, monkeypatch):
    """An asset kept open for the second port's window after the first's: its token ran out in between (a
    403 on the read, not on the open), so it is closed, signed anew and opened again, and the window read."""
    from rasterio.errors import RasterioIOError

    import sitewatch.fetch as fetch_module
    from sitewatch.ingest.grid import site_grid

    state, sites = pair
    catalog = Catalog(name="local", url=state.url, provider="local-stac")

    class Signer:
        asked: list[bool] = []

        def sign(self, href: str, *, refresh: bool = False) -> str:
            self.asked.append(refresh)
            return href

    signer = Signer()
    href = state.items[0]["assets"]["red"]["href"]
    opens = _count_opens(monkeypatch, state)
    real = fetch_module.read_window
    refusals = [1]

    def refused_once(*args: Any, opened: Any = None, **kwargs: Any) -> Any:
        if opened is not None and refusals and len(calls) == 1:  # the second port's read of the held asset
            refusals.pop()
            raise RasterioIOError("HTTP response code: 403")
        calls.append(opened)
        return real(*args, opened=opened, **kwargs)

    calls: list[Any] = []
    monkeypatch.setattr(fetch_module, "read_window", refused_once)
    reader = fetch_module._Reader(catalog, signer, {}, retries=0, backoff=0.01)
    west, east = (site_grid(s, 10.0) for s in sites[:2])
    with reader.holding():
        first, _ = reader.read(href, west)
        second, _ = reader.read(href, east)
        assert len(reader.held or {}) == 1
    assert reader.held is None and len(calls) == 2 and all(src is not None and src.closed for src in calls)
    assert opens == Counter({href.rsplit("/", 1)[-1]: 2}) and signer.asked == [False, True] and not refusals
    assert np.isfinite(first).all() and np.isfinite(second).all()


def test_fetch_of_several_sites_on_the_command_line(pair, tmp_path, monkeypatch):
    state, sites = pair
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        for site in sites:
            store.put_site(site)
    (ws.root / "sitewatch.toml").write_text(f'[catalogs.local]\nurl = "{state.url}"\n', encoding="utf-8")
    args = ["-w", str(ws.root), "--catalog", "local", "--collection", "s2", "--from", "2024-10-01", "--to", "2024-11-30"]
    res = CliRunner().invoke(main, ["-q", "fetch", "port-w", "port-e", *args, "--max-cloud", "20", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)["sites"]
    assert [s["site"] for s in out] == ["port-w", "port-e"]
    assert [o["id"] for o in out[1]["observations"]] == ["port-e/S2A_CLEAR_20241005"]
    assert _searches(state) == 1
    res = CliRunner().invoke(main, ["fetch", *args, "--max-cloud", "20"])  # no site: every site
    assert res.exit_code == 0, res.output
    assert "fetched 0, skipped 2, failed 0 (local, s2, port-e)" in res.output
    assert "fetched 0, skipped 0, failed 0 (local, s2, far)" in res.output
    res = CliRunner().invoke(main, ["search", "port-w", "far", *args], env={"COLUMNS": "200"})  # a table a site
    assert res.exit_code == 0, res.output
    assert "local · s2 · port-w" in res.output and "S2A_CLEAR_20241005" in res.output
    assert "no scenes of s2 over far between 2024-10-01 and 2024-11-30" in res.output
    from _tables import too_wide, whole_words

    for columns in (80, 60):  # a narrow terminal: nothing wider, each item id whole (a record an item at 60)
        narrow = CliRunner().invoke(main, ["search", "port-w", *args], env={"COLUMNS": str(columns)})
        assert narrow.exit_code == 0 and not too_wide(narrow.output, columns), narrow.output
        assert "S2A_CLEAR_20241005" in whole_words(narrow.output) and "…" not in narrow.output
    from sitewatch.cli import output

    monkeypatch.setattr(output, "_stdout_is_terminal", lambda: True)  # a terminal: the first rows, and --all
    monkeypatch.setattr(output, "TERMINAL_ROWS", 1)
    res = CliRunner().invoke(main, ["search", "port-e", *args], env={"COLUMNS": "200"})
    assert "… 1 more scenes not shown: --all lists every one, --from/--to a shorter period" in res.output, res.output
    assert "S2A_CLEAR_20241005" in res.output and "S2B_CLOUDY_20241008" not in res.output
    res = CliRunner().invoke(main, ["search", "port-e", *args, "--all"], env={"COLUMNS": "200"})
    assert "S2B_CLOUDY_20241008" in res.output and "not shown" not in res.output
    res = CliRunner().invoke(main, ["search", "port-e", *args, "--json"])  # one site: its rows, as before
    assert [r["item_id"] for r in json.loads(res.stdout)] == ["S2A_CLEAR_20241005", "S2B_CLOUDY_20241008"]
    with ws.store() as store:  # an unresolved place (no polygon): named, the others fetched
        store.put_site(Site("lost", "lost", "port", None, resolved=False))
    res = CliRunner().invoke(main, ["fetch", "lost", "port-e", *args])
    assert res.exit_code == 3, res.output
    assert "failed lost: site 'lost' is unresolved" in res.stderr and "(local, s2, port-e)" in res.stdout
    res = CliRunner().invoke(main, ["fetch", "port-e", "nowhere", *args])
    assert res.exit_code == 1 and "nowhere" in res.output
    assert Path(ws.root).exists()


def test_every_groups_search_carries_the_token_through_the_one_client(spread):
    """The catalogue's client is opened once for all the groups: the token goes with each group's search
    and its "next" pages, and only to the catalogue's host."""
    state, ws, store, sites = spread
    state.require_auth = "s3cr3t"
    catalog = Catalog(name="local", url=state.url, provider="local-stac", token_env="LOCAL_TOKEN")
    many = find_scenes_for_sites(ws, store, sites, catalog,
                                 FetchOptions("s2", T0, T1, retries=0, page_size=2, env={"LOCAL_TOKEN": "s3cr3t"}))  # fmt: skip
    assert not many.failed and many.searches == 4 and state.next_pages > 0
    assert not [s for _, _, s in state.log if s == 403]
    refused = find_scenes_for_sites(ws, store, sites, catalog,
                                    FetchOptions("s2", T0, T1, retries=0, refresh=True, env={}))
    assert set(refused.failed) == {s.id for s in sites} and "LOCAL_TOKEN" in refused.failed["c"]


def test_a_catalogue_on_disk_is_walked_for_several_sites_as_for_each(delivery, static_ws):  # noqa: F811
    """A static catalogue (tests/test_stac_static.py's delivery) searched for several sites, grouped or one a
    site, gives each site the rows a search of it alone gives."""
    from test_stac_static import SITE as PORT

    ws = static_ws
    lon, lat = PORT.require_geometry().centroid.coords[0]
    with ws.store() as store:  # where the delivery's S2_ELSEWHERE item lies, 50 km east; and one 10 km from the port
        store.put_site(tiny_site("elsewhere", lon + 50_000 / (111_320 * math.cos(math.radians(lat))), lat, 0.005))
        store.put_site(tiny_site("near", lon + 0.012, lat, 0.004))
    args = ["-w", str(ws.root), "--catalog", str(delivery), "--collection", "s2", "--from", "2024-10-01",
            "--to", "2024-10-31", "--json"]  # fmt: skip
    alone = {sid: json.loads(CliRunner().invoke(main, ["search", sid, *args]).stdout) for sid in ("port", "elsewhere", "near")}
    assert [r["item_id"] for r in alone["elsewhere"]] == ["S2_ELSEWHERE_20241006"] and alone["port"] and alone["near"]
    for km in ("50", "100", "0"):
        res = CliRunner().invoke(main, ["search", *args, "--group-km", km])
        assert res.exit_code == 0, res.output
        assert {s["site"]: s["scenes"] for s in json.loads(res.stdout)["sites"]} == alone


def test_search_measure_over_two_sites_opens_each_class_band_once_an_item_and_prints_what_each_alone_prints(
    pair, tmp_path, monkeypatch
):
    """`search --measure` of several sites: each item's SCL opened once (was once a site), each site's cloud and
    valid % read from that one open; the JSON of each site as `search SITE --measure` alone prints it."""
    state, sites = pair
    opens = _count_opens(monkeypatch, state)
    args = ["--catalog", "local", "--collection", "s2", "--from", "2024-10-01", "--to", "2024-11-30", "--measure", "--json"]
    alone: dict[str, Any] = {}
    for site in sites:  # each site in a workspace of its own: nothing measured before it
        ws = init_workspace(tmp_path / f"alone-{site.id}")
        with ws.store() as store:
            store.put_site(site)
        (ws.root / "sitewatch.toml").write_text(f'[catalogs.local]\nurl = "{state.url}"\n', encoding="utf-8")
        res = CliRunner().invoke(main, ["search", site.id, "-w", str(ws.root), *args])
        assert res.exit_code == 0, res.output
        alone[site.id] = json.loads(res.stdout)
    alone_opens, alone_gets = dict(opens), _asset_gets(state)
    opens.clear()
    state.log.clear()
    ws = init_workspace(tmp_path / "many")
    with ws.store() as store:
        for site in sites:
            store.put_site(site)
    (ws.root / "sitewatch.toml").write_text(f'[catalogs.local]\nurl = "{state.url}"\n', encoding="utf-8")
    res = CliRunner().invoke(main, ["search", *[s.id for s in sites], "-w", str(ws.root), *args])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"sites": [{"site": s.id, "scenes": alone[s.id]} for s in sites]}
    measured = {r["item_id"]: r["site_cloud_pct"] for r in alone["port-e"]}
    assert measured == {"S2A_CLEAR_20241005": 0.0, "S2B_CLOUDY_20241008": 100.0}
    scl = sorted(name for name in alone_opens if name.endswith("_scl.tif"))
    assert scl == ["S2A_CLEAR_20241005_scl.tif", "S2B_CLOUDY_20241008_scl.tif"]
    assert all(alone_opens[name] == 2 for name in scl)  # once for each port, alone
    assert dict(opens) == {name: 1 for name in scl}  # together: once an item, the other bands not read
    assert set(_asset_gets(state)) == set(scl) and sum(_asset_gets(state).values()) < sum(alone_gets.values())


def test_a_held_class_band_refused_for_the_second_site_is_signed_anew_and_both_sites_measured(pair, monkeypatch):
    """Measuring reads through fetch's reader: a 403 on the held SCL's second window (a token run out between
    the two ports' reads) closes it, signs it anew and opens it again; both ports get their figures, no problem."""
    from rasterio.errors import RasterioIOError

    import sitewatch.fetch as fetch_module
    from sitewatch.fetch import measure_stats_of_sites

    state, sites = pair
    state.items = state.items[:1]
    catalog = Catalog(name="local", url=state.url, provider="local-stac")

    class Signer:
        asked: list[bool] = []

        def sign(self, href: str, *, refresh: bool = False) -> str:
            self.asked.append(refresh)
            return href

    real = fetch_module.read_window
    reads: list[Any] = []

    def refused_once(*args: Any, opened: Any = None, **kwargs: Any) -> Any:
        reads.append(opened)
        if len(reads) == 2:  # the second port's read of the held asset
            raise RasterioIOError("HTTP response code: 403")
        return real(*args, opened=opened, **kwargs)

    monkeypatch.setattr(fetch_module, "read_window", refused_once)
    opens = _count_opens(monkeypatch, state)
    ws = init_workspace(state.files.parent / "ws")
    options = FetchOptions("s2", T0, T1, retries=0, signer=Signer())
    with ws.store() as store:
        for site in sites:
            store.put_site(site)
        found = find_scenes_for_sites(ws, store, sites, catalog, options)
    measured = measure_stats_of_sites(ws, sites, catalog, found.candidates, options)
    for sid in ("port-w", "port-e"):
        cands, problems = measured[sid]
        assert not problems and [(c.scene.item_id, c.stats and c.stats.cloud_fraction) for c in cands] == [
            ("S2A_CLEAR_20241005", 0.0)]  # fmt: skip
    assert opens == Counter({"S2A_CLEAR_20241005_scl.tif": 2}) and Signer.asked == [False, True]
    assert len(reads) == 3 and reads[1] is reads[0] and all(src.closed for src in reads)
