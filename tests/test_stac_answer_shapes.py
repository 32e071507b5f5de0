"""Items of a STAC API's answer (or a static catalogue's) whose fields are JSON of another type than STAC
says: each is refused by name, naming the item and the field, never a Python traceback. Found by
fuzz/fuzz_stac_search.py and fuzz/fuzz_stac_static.py (6 Dec)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from sitewatch.errors import SourceError
from sitewatch.model import utc
from sitewatch.sources.stac import (
    BUILTIN_CATALOGS,
    _in_api_order,
    asset_scaling,
    item_to_scene,
    profile_for,
)

DATA = Path(__file__).parent / "data" / "stac"
ES = BUILTIN_CATALOGS["earth-search"]


def _item(name: str = "earth-search-s2-l2a-item.json") -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(("key", "value", "kind"), [("properties", "2024-10-01", "string"), ("properties", [1], "array"),
                                                    ("assets", 7, "number"), ("assets", ["red"], "array")])  # fmt: skip
def test_properties_or_assets_that_are_no_object_are_named(key, value, kind):
    """Were AttributeError, TypeError or ValueError from dict(), `in` and .get()."""
    item = {**_item(), key: value}
    with pytest.raises(SourceError, match=rf"item 'S2B_\w+': its '{key}' is a JSON {kind}, not an object"):
        item_to_scene(item, ES)


@pytest.mark.parametrize(
    ("raster_bands", "said"),
    [(0.5, r"raster:bands is a JSON number, not an array of objects"),
     ({"scale": 1}, r"raster:bands is a JSON object, not an array of objects"),
     ([None], r"raster:bands is a JSON array of null, not an array of objects"),
     ([{"scale": "n/a"}], r"raster:bands\[0\]\.scale is 'n/a', not a finite number"),
     ([{"scale": 1e308 * 10}], r"raster:bands\[0\]\.scale is 'inf', not a finite number"),
     ([{"offset": [0]}], r"raster:bands\[0\]\.offset is '\[0\]', not a finite number"),
     ([{"scale": True}], r"raster:bands\[0\]\.scale is 'True', not a finite number")],
)  # fmt: skip
def test_raster_bands_that_fetch_could_not_scale_by_are_named(raster_bands, said):
    """fetch's asset_scaling raised TypeError ('float' object is not subscriptable), KeyError: 0 or
    AttributeError ('NoneType' object has no attribute 'get') after the item had been listed."""
    item = _item()
    item["assets"]["red"]["raster:bands"] = raster_bands
    with pytest.raises(SourceError, match=r"item 'S2B_\w+': asset 'red': " + said):
        item_to_scene(item, ES)


def test_an_item_let_through_is_scaled_by_its_raster_bands():
    item = _item()
    item["assets"]["red"]["raster:bands"] = [{"scale": "2e-4", "offset": None}]  # (a number in a string, as float() reads it)
    scene = item_to_scene(item, ES)
    profile = profile_for(scene.collection, item["properties"])
    assert asset_scaling(profile, "red", item["properties"], item["assets"]["red"])[0] == 2e-4


def test_a_geometry_of_no_known_type_is_named():
    """Was shapely's GeometryTypeError, which is no ValueError."""
    item = {**_item(), "geometry": {"type": "Poly'on", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}
    with pytest.raises(SourceError, match=r"its geometry is not a valid GeoJSON geometry \(Unknown geometry type"):
        item_to_scene(item, ES)


def test_a_cloud_cover_too_big_for_a_float_is_unknown():
    """Was OverflowError: a JSON integer of 400 digits is valid JSON."""
    item = _item()
    item["properties"]["eo:cloud_cover"] = 10**400
    assert item_to_scene(item, ES).cloud_cover is None


def test_items_whose_properties_are_no_object_are_still_put_in_order():
    """The search's order (oldest first) read each item's properties before item_to_scene could name them."""
    good = _item()
    odd = {**copy.deepcopy(good), "id": "odd", "properties": "x"}
    assert [f["id"] for f in _in_api_order([good, odd])] == ["odd", good["id"]]


def _delivery(root: Path, item: dict[str, Any]) -> Path:
    """A catalog.json linking one item, as a provider delivers it."""
    (root / "item").mkdir(parents=True)
    (root / "item" / "item.json").write_text(json.dumps(item), encoding="utf-8")
    (root / "catalog.json").write_text(json.dumps({
        "type": "Catalog", "id": "delivery", "stac_version": "1.0.0", "description": "d",
        "links": [{"rel": "root", "href": "./catalog.json"}, {"rel": "item", "href": "./item/item.json"}],
    }), encoding="utf-8")  # fmt: skip
    return root / "catalog.json"


def _static_item() -> dict[str, Any]:
    item = _item()
    item["links"] = [{"rel": "root", "href": "../catalog.json"}]
    item["assets"] = {k: {**a, "href": f"./{k}.tif"} for k, a in item["assets"].items()}
    return item


@pytest.mark.parametrize("href", [{"a": 1}, ["../collection.json"], 7])
def test_a_static_catalogues_link_whose_href_is_no_string_is_named(tmp_path, href):
    """Was AttributeError ('dict' object has no attribute 'get_self_href') from pystac when the item was
    turned back into JSON, after the walk had read it. Found by fuzz/fuzz_stac_static.py."""
    from sitewatch.sources.stac_static import search_static

    item = _static_item()
    item["links"].append({"rel": "collection", "href": href})
    root = _delivery(tmp_path / "delivery", item)
    said = re.escape(f"its 'collection' link's href is {json.dumps(href)}, not a string")
    with pytest.raises(SourceError, match=r"catalog\.json: item link './item/item\.json': .*item\.json: " + said):
        search_static(str(root), item["collection"], (-180, -90, 180, 90), utc("2000-01-01T00:00:00Z"), utc("2030-01-01T00:00:00Z"))


def test_a_static_catalogues_item_is_found_when_its_hrefs_are_strings_or_a_links_is_null(tmp_path):
    """A link's href null, which pystac keeps and writes back, passes as before (the check of the others'
    types met pystac's ValueError 'No target defined for link.' on it, in fuzz_stac_static's rerun)."""
    from sitewatch.sources.stac_static import search_static

    item = _static_item()
    item["links"].append({"rel": "parent", "href": None})
    root = _delivery(tmp_path / "delivery", item)
    found = search_static(str(root), item["collection"], (-180, -90, 180, 90), utc("2000-01-01T00:00:00Z"), utc("2030-01-01T00:00:00Z"))
    assert [f["id"] for f in found] == [item["id"]]
    assert found[0]["assets"]["red"]["href"] == str(tmp_path / "delivery" / "item" / "red.tif")


def test_a_static_items_geometry_of_no_known_type_is_named(tmp_path):
    """Was shapely's GeometryTypeError from the walk's coverage test."""
    from sitewatch.sources.stac_static import search_static

    item = {**_static_item(), "geometry": {"type": "Poly'on", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}
    root = _delivery(tmp_path / "delivery", item)
    with pytest.raises(SourceError, match=r"item\.json: item '\w+': its geometry is not a valid GeoJSON geometry"):
        search_static(str(root), item["collection"], (-180, -90, 180, 90), utc("2000-01-01T00:00:00Z"), utc("2030-01-01T00:00:00Z"))


@pytest.mark.parametrize(("field", "value"), [("collection", {"a": 1}), ("collection", ["s2"]), ("id", 7), ("id", ["a"])])
def test_a_static_items_id_or_collection_that_is_no_string_is_named(tmp_path, field, value):
    """Was TypeError (unhashable type: 'dict') when the walk noted the item's collection. Found by
    fuzz/fuzz_stac_static.py."""
    from sitewatch.sources.stac_static import search_static

    item = {**_static_item(), field: value}
    root = _delivery(tmp_path / "delivery", item)
    said = re.escape(f"item.json: its '{field}' is {json.dumps(value)}, not a string")
    with pytest.raises(SourceError, match=said):
        search_static(str(root), "sentinel-2-l2a", (-180, -90, 180, 90), utc("2000-01-01T00:00:00Z"), utc("2030-01-01T00:00:00Z"))


def test_an_asset_href_that_is_no_url_is_named():
    """Was ValueError (Invalid IPv6 URL) from urlsplit, which `search` and `fetch` let through (they leave out
    an item whose SourceError names it)."""
    item = _item()
    item["assets"]["red"]["href"] = "https://[sentinel-cogs/red.tif"
    with pytest.raises(SourceError, match=r"asset 'red': its href 'https://\[sentinel-cogs/red\.tif' is no URL \(Invalid IPv6 URL\)"):
        item_to_scene(item, ES)


def test_a_static_link_naming_no_file_is_named(tmp_path):
    """Was ValueError (embedded null byte) from the walk's Path.resolve()."""
    from sitewatch.sources.stac_static import search_static

    (tmp_path / "catalog.json").write_text(json.dumps({"type": "Catalog", "id": "d", "stac_version": "1.0.0", "description": "d",
                                                       "links": [{"rel": "item", "href": "./it\x00em.json"}]}), encoding="utf-8")  # fmt: skip
    with pytest.raises(SourceError, match=r"catalog\.json: item link './it\\x00em\.json' names no file \((lstat: )?embedded null (byte|character in path)\)"):
        search_static(str(tmp_path / "catalog.json"), "x", (0, 0, 1, 1), utc("2000-01-01T00:00:00Z"), utc("2030-01-01T00:00:00Z"))


def test_a_search_link_naming_a_local_file_is_refused_and_the_file_not_read(tmp_path, monkeypatch):
    """pystac-client's StacApiIO opened an href with a scheme but no host (``search:page.json``, which it
    does not join to the API's URL) as a local file, relative to the working folder: that file was read as
    the search's answer, and a garbled href (``http.1:8080/search``) was FileNotFoundError. Found by
    fuzz/fuzz_stac_search.py."""
    import threading
    from datetime import UTC, datetime
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from sitewatch.sources.stac import Catalog, search_items

    monkeypatch.chdir(tmp_path)
    local = Path("search:page.json")
    local.write_text(json.dumps({"type": "FeatureCollection", "features": [_item()], "links": []}), encoding="utf-8")
    landing = {"type": "Catalog", "id": "api", "stac_version": "1.0.0", "description": "d",
               "conformsTo": ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search"],
               "links": [{"rel": "search", "href": str(local), "method": "GET", "type": "application/geo+json"}]}  # fmt: skip

    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(landing).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        catalog = Catalog(name="api", url=f"http://127.0.0.1:{server.server_address[1]}/", provider="generic")
        with pytest.raises(SourceError, match=rf"api: its answer names '{re.escape(str(local))}' to read, which is no http\(s\) URL"):
            search_items(catalog, "sentinel-2-l2a", (-180, -90, 180, 90), datetime(2024, 1, 1, tzinfo=UTC),
                         datetime(2025, 1, 1, tzinfo=UTC), retries=0)  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("extent", [{"spatial": {"bbox": []}, "temporal": {"interval": [[None, None]]}},
                                    {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[None]]}}])  # fmt: skip
def test_a_static_collection_whose_extent_pystac_cannot_read_is_named(tmp_path, extent):
    """Was IndexError (list index out of range) from pystac's SpatialExtent/TemporalExtent. Found by
    fuzz/fuzz_stac_static.py."""
    from sitewatch.sources.stac_static import search_static

    (tmp_path / "catalog.json").write_text(json.dumps({"type": "Catalog", "id": "d", "stac_version": "1.0.0", "description": "d",
                                                       "links": [{"rel": "child", "href": "./collection.json"}]}), encoding="utf-8")  # fmt: skip
    (tmp_path / "collection.json").write_text(json.dumps({"type": "Collection", "id": "c", "stac_version": "1.0.0", "description": "d",
                                                          "license": "proprietary", "extent": extent, "links": []}), encoding="utf-8")  # fmt: skip
    with pytest.raises(SourceError, match=r"catalog\.json: child link './collection\.json': .*collection\.json is not STAC JSON \(IndexError"):
        search_static(str(tmp_path / "catalog.json"), "c", (0, 0, 1, 1), utc("2000-01-01T00:00:00Z"), utc("2030-01-01T00:00:00Z"))
