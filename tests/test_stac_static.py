"""A static STAC catalogue on disk searched and fetched as a STAC API is: no network, no server.

Each test writes its own tiny catalogue with pystac (a root catalogue, a Sentinel-2 collection,
a Landsat one) whose items share three tiny COGs by relative hrefs.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from shapely.geometry import box, mapping

from sitewatch.cli import main
from sitewatch.errors import SourceError
from sitewatch.geo import reproject_geometry
from sitewatch.model import utc
from sitewatch.sources.stac import resolve_catalog, search_items
from sitewatch.testing import site_utm_origin, tiny_site
from sitewatch.workspace import init_workspace

SITE = tiny_site("port")
UTM, X0, Y1 = site_utm_origin(SITE, margin_m=500)
N = 300  # 10 m pixels: 3 km, the site with its margin
T0, T1 = utc("2024-10-01T00:00:00Z"), utc("2024-10-31T23:59:59Z")


def _cog(path: Path, value: int, res: float, dtype: str) -> None:
    n = int(N * 10 / res)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="COG", width=n, height=n, count=1, dtype=dtype, crs=UTM,
                       transform=Affine(res, 0, X0, 0, -res, Y1), nodata=0, compress="deflate") as dst:  # fmt: skip
        dst.write(np.full((n, n), value, dtype), 1)


def _footprint(dx: float = 0.0) -> dict[str, Any]:
    return dict(mapping(reproject_geometry(box(X0 + dx, Y1 - N * 10, X0 + dx + N * 10, Y1), UTM, "EPSG:4326")))


def _item(item_id: str, when: str | None, scl: str = "scl_clear", *, dx: float = 0.0, cloud: float = 5.0,
          span: tuple[str, str] | None = None, platform: str = "sentinel-2a") -> pystac.Item:  # fmt: skip
    geometry = _footprint(dx)
    props: dict[str, Any] = {"platform": platform, "eo:cloud_cover": cloud, "s2:processing_baseline": "05.11"}
    if span:
        props |= {"start_datetime": span[0], "end_datetime": span[1]}
    item = pystac.Item(item_id, geometry, list(_bounds(geometry)), datetime.fromisoformat(when) if when else None, props)
    # Items sit two folders down (collection/ITEM/ITEM.json): their COGs are named relative to their own file.
    for key in ("blue", "green", "red", "nir"):
        item.add_asset(key, pystac.Asset("../../data/dn.tif", media_type=pystac.MediaType.COG, roles=["data"]))
    item.add_asset("scl", pystac.Asset(f"../../data/{scl}.tif", media_type=pystac.MediaType.COG, roles=["data"]))
    return item


def _bounds(geometry: dict[str, Any]) -> tuple[float, float, float, float]:
    xs, ys = zip(*geometry["coordinates"][0], strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def _collection(cid: str, items: list[pystac.Item], bbox: list[float] | None = None,
                interval: list[datetime | None] | None = None) -> pystac.Collection:  # fmt: skip
    extent = pystac.Extent(
        pystac.SpatialExtent([bbox or [-180.0, -90.0, 180.0, 90.0]]),
        pystac.TemporalExtent([interval or [None, None]]),
    )
    coll = pystac.Collection(cid, f"{cid} delivery", extent)
    coll.add_items(items)
    return coll


def _save(root: Path, *collections: pystac.Collection) -> Path:
    cat = pystac.Catalog("delivery", "a provider's delivery")
    for coll in collections:
        cat.add_child(coll)
    cat.normalize_hrefs(str(root))
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


@pytest.fixture()
def delivery(tmp_path: Path) -> Path:
    """A delivery's catalogue: five Sentinel-2 items of which three meet the site in October 2024, and a Landsat one."""
    data = tmp_path / "delivery" / "data"
    _cog(data / "dn.tif", 2000, 10, "uint16")
    _cog(data / "scl_clear.tif", 6, 20, "uint8")
    _cog(data / "scl_cloud.tif", 9, 20, "uint8")
    s2 = [
        _item("S2_CLEAR_20241005", "2024-10-05T01:53:49+00:00"),
        _item("S2_CLOUDY_20241008", "2024-10-08T01:53:49+00:00", "scl_cloud", cloud=3.0),
        _item("S2_RANGE_20240925", None, span=("2024-09-25T00:00:00Z", "2024-10-02T00:00:00Z")),
        _item("S2_ELSEWHERE_20241006", "2024-10-06T01:53:49+00:00", dx=50_000),
        _item("S2_DECEMBER_20241215", "2024-12-15T01:53:49+00:00"),
    ]
    ls = [_item("LC09_20241010", "2024-10-10T01:00:00+00:00", platform="landsat-9")]
    return _save(tmp_path / "delivery", _collection("sentinel-2-l2a", s2), _collection("landsat-c2-l2", ls))


@pytest.fixture()
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import pystac_client
    import requests

    def no_network(*a: Any, **k: Any) -> None:
        raise AssertionError("a catalogue on disk is read without the network")

    monkeypatch.setattr(pystac_client.Client, "open", no_network)
    monkeypatch.setattr(requests.Session, "request", no_network)
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    return ws


def _search(ws, catalogue: str, *extra: str, start: str = "2024-10-01", end: str = "2024-10-31") -> Any:  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["search", "port", "-w", str(ws.root), "--catalog", catalogue, "--collection", "s2",
                                     "--from", start, "--to", end, *extra])  # fmt: skip


def test_a_catalogue_on_disk_is_named_by_path_folder_or_file_url(delivery: Path, tmp_path: Path) -> None:
    for given in (str(delivery), delivery.as_uri(), str(delivery.parent)):
        cat = resolve_catalog(given, origin="--catalog")
        assert cat.on_disk and cat.provider == "local-stac" and cat.name in (str(delivery), str(delivery.parent))
    (tmp_path / "sitewatch.toml").write_text('[catalogs.delivery]\nurl = "delivery/catalog.json"\n', encoding="utf-8")
    named = resolve_catalog("delivery", tmp_path)  # a relative path in sitewatch.toml: from its folder
    assert named.url == delivery.as_uri() and named.on_disk


def test_the_catalog_setting_in_sitewatch_toml_counts_from_the_workspace(
    ws, delivery: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a [catalogs.NAME] url does: a command run from another folder (-w) finds the same delivery.
    toml = ws.root / "sitewatch.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[settings]", '[settings]\ncatalog = "../delivery/catalog.json"', 1), encoding="utf-8")
    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    res = CliRunner().invoke(main, ["search", "port", "-w", str(ws.root), "--collection", "s2",
                                    "--from", "2024-10-01", "--to", "2024-10-31", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert [r["item_id"] for r in json.loads(res.stdout)] == ["S2_RANGE_20240925", "S2_CLEAR_20241005", "S2_CLOUDY_20241008"]
    given = CliRunner().invoke(main, ["search", "port", "-w", str(ws.root), "--catalog", "../delivery/catalog.json",
                                      "--collection", "s2", "--from", "2024-10-01", "--to", "2024-10-31"])  # fmt: skip
    # The flag's relative path counts from here: elsewhere/delivery, which is not there, named.
    assert given.exit_code != 0 and str(tmp_path / "elsewhere" / "delivery" / "catalog.json") in given.output


def test_search_lists_the_items_over_the_site_in_the_period_only(ws, delivery: Path) -> None:
    res = _search(ws, str(delivery), "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    # Oldest first, as from an API; the range item meets the period by its end; the one 50 km east,
    # the December one and the Landsat collection's are left out.
    assert [r["item_id"] for r in rows] == ["S2_RANGE_20240925", "S2_CLEAR_20241005", "S2_CLOUDY_20241008"]
    assert rows[1]["scene_cloud_pct"] == 5.0 and rows[1]["coverage_pct"] == 100.0 and rows[1]["collection"] == "sentinel-2-l2a"
    later = json.loads(_search(ws, str(delivery), "--json", start="2024-10-03").stdout)
    assert [r["item_id"] for r in later] == ["S2_CLEAR_20241005", "S2_CLOUDY_20241008"]  # the range ended on the 2nd
    december = json.loads(_search(ws, delivery.as_uri(), "--json", start="2024-12-01", end="2024-12-31").stdout)
    assert [r["item_id"] for r in december] == ["S2_DECEMBER_20241215"]
    landsat = CliRunner().invoke(main, ["search", "port", "-w", str(ws.root), "--catalog", str(delivery.parent),
                                        "--collection", "landsat", "--from", "2024-10-01", "--to", "2024-10-31", "--json"])  # fmt: skip
    assert [r["item_id"] for r in json.loads(landsat.stdout)] == ["LC09_20241010"]


def test_max_cloud_measures_the_local_class_band_over_the_site(ws, delivery: Path) -> None:
    res = _search(ws, str(delivery), "--max-cloud", "20", "--json")
    assert res.exit_code == 0, res.output
    rows = {r["item_id"]: r for r in json.loads(res.stdout)}
    assert set(rows) == {"S2_RANGE_20240925", "S2_CLEAR_20241005"}  # the cloudy one: 100 % over the site
    assert rows["S2_CLEAR_20241005"]["site_cloud_pct"] == 0.0 and rows["S2_CLEAR_20241005"]["site_valid_pct"] == 100.0


def test_a_collection_the_catalogue_lacks_is_named_with_those_it_has(ws, delivery: Path) -> None:
    res = CliRunner().invoke(main, ["search", "port", "-w", str(ws.root), "--catalog", str(delivery), "--collection",
                                    "sentinel-1-grd", "--from", "2024-10-01", "--to", "2024-10-31"])  # fmt: skip
    assert res.exit_code == 1
    assert f"{delivery} has no collection 'sentinel-1-grd'; its collections: landsat-c2-l2, sentinel-2-l2a" in res.output


def test_a_collection_named_as_a_short_name_is_the_catalogues_own(ws, tmp_path: Path) -> None:
    # README's example, `--collection s2` on a delivery whose collection is called s2: it was taken for
    # sentinel-2-l2a and refused ("has no collection 'sentinel-2-l2a'; its collections: s2").
    data = tmp_path / "mine" / "data"
    _cog(data / "dn.tif", 2000, 10, "uint16")
    _cog(data / "scl_clear.tif", 6, 20, "uint8")
    own = _save(tmp_path / "mine", _collection("s2", [_item("MINE_20241005", "2024-10-05T01:53:49+00:00")]))
    res = _search(ws, str(own), "--json")
    assert res.exit_code == 0, res.output
    assert [r["item_id"] for r in json.loads(res.stdout)] == ["MINE_20241005"]
    fetched = CliRunner().invoke(main, ["fetch", "port", "-w", str(ws.root), "--catalog", str(own), "--collection", "s2",
                                        "--from", "2024-10-01", "--to", "2024-10-31"])  # fmt: skip
    assert fetched.exit_code == 0, fetched.output
    with ws.store() as store:
        assert [o.id for o in store.observations("port")] == ["port/MINE_20241005"]
    # Neither the id given nor what it stands for: both named, with the collections the catalogue has.
    res = CliRunner().invoke(main, ["search", "port", "-w", str(ws.root), "--catalog", str(own), "--collection", "s1",
                                    "--from", "2024-10-01", "--to", "2024-10-31"])  # fmt: skip
    assert res.exit_code == 1 and "no collection 's1' (nor 'sentinel-1-grd', which s1 stands for); its collections: s2" in res.output


def test_fetch_cuts_the_local_assets_and_records_the_catalogue_and_item(ws, delivery: Path) -> None:
    args = ["fetch", "port", "-w", str(ws.root), "--catalog", str(delivery), "--collection", "s2",
            "--from", "2024-10-04", "--to", "2024-10-31", "--max-cloud", "20", "--json"]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [o["item_id"] for o in out["observations"]] == ["S2_CLEAR_20241005"]
    assert "cloud 100.0% over the site" in dict((s["item_id"], s["reason"]) for s in out["skipped"])["S2_CLOUDY_20241008"]
    with ws.store() as store:
        obs = store.get_observation("port/S2_CLEAR_20241005")
    with rasterio.open(ws.root / obs.path) as src:
        names = list(src.descriptions)
        red = src.read(names.index("red") + 1)
    assert np.nanmedian(red) == pytest.approx(2000 * 1e-4 - 0.1, abs=1e-6)
    p = obs.provenance
    assert p["catalog"] == str(delivery) and p["catalog_url"] == delivery.as_uri() and p["item_id"] == "S2_CLEAR_20241005"
    assert p["asset_hrefs"]["red"] == str(delivery.parent / "data" / "dn.tif")  # relative href made absolute
    item_file = delivery.parent / "sentinel-2-l2a" / "S2_CLEAR_20241005" / "S2_CLEAR_20241005.json"
    assert {"rel": "self", "href": str(item_file)}.items() <= next(
        link for link in p["stac_item"]["links"] if link["rel"] == "self"
    ).items()
    assert obs.scene.id == "local-stac:sentinel-2-l2a:S2_CLEAR_20241005"
    again = CliRunner().invoke(main, args)  # a rerun fetches nothing again, archives nothing twice
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert not report["observations"] and dict((s["item_id"], s["reason"]) for s in report["skipped"])["S2_CLEAR_20241005"] == "already fetched"
    with ws.store() as store:
        assert [o.id for o in store.observations("port")] == ["port/S2_CLEAR_20241005"]
    assert len(list(ws.archive.rglob("*.tif"))) == 1


def test_each_file_is_read_once_and_collections_elsewhere_are_not_entered(delivery: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    far = _collection("sentinel-2-l2a", [], bbox=[0.0, 0.0, 1.0, 1.0])
    far_root = _save(delivery.parent.parent / "far", far)
    far_coll = far_root.parent / "sentinel-2-l2a" / "collection.json"
    doc = json.loads(far_coll.read_text(encoding="utf-8"))
    doc["links"].append({"rel": "item", "href": "./missing/missing.json", "type": "application/json"})
    far_coll.write_text(json.dumps(doc), encoding="utf-8")
    # Outside the collection's extent (spatial, then temporal): not entered, so its broken link is not seen.
    assert search_items(resolve_catalog(str(far_root)), "s2", SITE.require_geometry().bounds, T0, T1) == []
    doc["extent"] = {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [["2020-01-01T00:00:00Z", "2020-12-31T00:00:00Z"]]}}
    far_coll.write_text(json.dumps(doc), encoding="utf-8")
    assert search_items(resolve_catalog(str(far_root)), "s2", SITE.require_geometry().bounds, T0, T1) == []
    doc["extent"]["temporal"] = {"interval": [[None, None]]}
    far_coll.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(SourceError, match=rf"{far_coll}: item link './missing/missing.json': no such file .*missing.json"):
        search_items(resolve_catalog(str(far_root)), "s2", SITE.require_geometry().bounds, T0, T1)

    reads: list[str] = []
    real = pystac.read_file
    monkeypatch.setattr(pystac, "read_file", lambda href, *a, **k: reads.append(str(href)) or real(href, *a, **k))
    found = search_items(resolve_catalog(str(delivery)), "s2", SITE.require_geometry().bounds, T0, T1)
    assert len(found) == 3 and len(reads) == len(set(reads))
    assert not any("LC09" in r for r in reads)  # another collection's items are not read (only its collection.json)


def _write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def test_bad_catalogues_are_named(ws, delivery: Path, tmp_path: Path) -> None:
    def error(catalogue: str) -> str:
        res = _search(ws, catalogue)
        assert res.exit_code == 1 and "Traceback" not in res.output, res.output
        return " ".join(res.output.split())

    missing = tmp_path / "nowhere" / "catalog.json"
    assert f"{missing}: no such file" in error(str(missing))
    assert "a folder without catalog.json or collection.json" in error(str(tmp_path) + "/")
    for text, said in (("not json {", "is not JSON"), ('{"hello": 1}', "is not STAC JSON"), ("[1, 2]", "is not STAC JSON")):
        bad = _write(tmp_path / "bad" / "catalog.json", text)
        assert f"{bad} {said}" in error(str(bad))
    # a broken child link: the link and the file holding it are named
    root = json.loads(delivery.read_text(encoding="utf-8"))
    root["links"].append({"rel": "child", "href": "./gone/collection.json", "type": "application/json"})
    _write(delivery, root)
    assert f"{delivery}: child link './gone/collection.json': no such file {delivery.parent / 'gone' / 'collection.json'}" in error(str(delivery))
    root["links"].pop()
    # a child link to a folder, or to a device pystac would read for ever (found by reading fuzz/fuzz_stac_static.py's
    # harness: a catalogue from elsewhere may link anything)
    for target in [str(tmp_path)] + (["/dev/zero"] if Path("/dev/zero").exists() else []):
        root["links"].append({"rel": "child", "href": target, "type": "application/json"})
        _write(delivery, root)
        said = error(str(delivery))  # (pystac gives the link's href relative to the catalogue: './..')
        assert said.startswith(f"Error: {delivery}: child link ") and f": {target} is no file (a folder, device or pipe)" in said
        root["links"].pop()
    _write(delivery, root)
    # an item without geometry: named with its file
    item_file = delivery.parent / "sentinel-2-l2a" / "S2_CLEAR_20241005" / "S2_CLEAR_20241005.json"
    item = json.loads(item_file.read_text(encoding="utf-8"))
    item["geometry"], item["bbox"] = None, None
    _write(item_file, {k: v for k, v in item.items() if k != "bbox"})
    assert f"{item_file}: item 'S2_CLEAR_20241005' has no geometry" in error(str(delivery))
    # an item's JSON given as the catalogue
    assert f"{item_file} is a STAC item, not a catalogue" in error(str(item_file))


def test_a_collection_json_a_loop_and_items_of_no_collection(ws, delivery: Path, tmp_path: Path) -> None:
    coll = delivery.parent / "sentinel-2-l2a" / "collection.json"
    doc = json.loads(coll.read_text(encoding="utf-8"))
    doc["extent"]["spatial"]["bbox"] = [[*SITE.require_geometry().bounds[:2], 0, *SITE.require_geometry().bounds[2:], 10]]
    doc["links"].append({"rel": "child", "href": "../catalog.json", "type": "application/json"})  # back to the root
    coll.write_text(json.dumps(doc), encoding="utf-8")
    for given in (str(coll), str(delivery)):  # the collection alone, or the root whose child links it back
        res = _search(ws, given, "--json")
        assert res.exit_code == 0, res.output
        assert [r["item_id"] for r in json.loads(res.stdout)] == ["S2_RANGE_20240925", "S2_CLEAR_20241005", "S2_CLOUDY_20241008"]
    plain = pystac.Catalog("plain", "items in no collection")
    plain.add_item(_item("S2_LOOSE_20241005", "2024-10-05T01:53:49+00:00"))
    plain.normalize_hrefs(str(tmp_path / "plain"))
    plain.save(pystac.CatalogType.SELF_CONTAINED)
    res = _search(ws, str(tmp_path / "plain"))
    assert res.exit_code == 1 and "none of its 1 items names a collection (nor sits in one)" in " ".join(res.output.split())


def test_a_calibration_lut_of_a_catalogue_on_disk_is_read_from_its_file(delivery: Path, tmp_path: Path) -> None:
    """A Sentinel-1 GRD item's calibration XML is a metadata asset read whole (over HTTP for an API's items)."""
    from sitewatch import fetch
    from sitewatch.sources.stac import NoSigner

    lut = _write(tmp_path / "calibration-iw-vv.xml", "<calibration/>")
    reader = fetch._Reader(resolve_catalog(str(delivery)), NoSigner(), {}, retries=0, backoff=0.0)
    assert fetch._small_asset(reader, str(lut)) == b"<calibration/>"
    api = fetch._Reader(resolve_catalog("https://stac.example.org/v1"), NoSigner(), {}, retries=0, backoff=0.0)
    with pytest.raises(ValueError, match="only http"):  # an API's item naming a file of this machine: not read
        fetch._small_asset(api, str(lut))


def test_fetch_force_of_an_archived_item_notes_nothing_alerts_check_reads(ws, delivery: Path) -> None:
    # fetch --force cuts the item again: the same COG, a new retrieved_at. The row was written back with it (and,
    # once detected, its provenance through json_set), noted in input_changes: the next alerts check read the whole
    # history. Now the row stays as stored.
    (ws.root / "alerts.yaml").write_text('{"rules": [{"id": "arr", "kind": "arrival", "sites": ["port"]}]}', encoding="utf-8")
    args = ["fetch", "port", "-w", str(ws.root), "--catalog", str(delivery), "--collection", "s2",
            "--from", "2024-10-04", "--to", "2024-10-31", "--max-cloud", "20"]  # fmt: skip
    for step in (args, ["detect", "-w", str(ws.root)], ["alerts", "check", "-w", str(ws.root)], [*args, "--force"]):
        res = CliRunner().invoke(main, ["-q", *step])
        assert res.exit_code == 0, (step, res.output)
    with ws.store() as store:  # (one image: no window to keep, the notes are what would give one up)
        assert store.execute("SELECT count(*) FROM input_changes")[0][0] == 0
