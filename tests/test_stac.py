"""STAC sources: recorded catalogue items offline, and a fetch against a STAC API on 127.0.0.1.

The end-to-end tests serve a catalogue from this process (see ``StacServer``
at the bottom): search with paging, a 503 on the first search, signed assets
whose token expires mid-run, an asset that answers 403, a GRD scene placed by
GCPs. Nothing here touches the network beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import rasterio
import requests
from affine import Affine
from click.testing import CliRunner
from pyproj import Transformer
from rasterio.control import GroundControlPoint
from shapely.geometry import box, mapping, shape

from sitewatch.cli import main
from sitewatch.errors import ConfigError, CredentialError, InputError, SourceError
from sitewatch.fetch import FetchOptions, fetch_scenes, find_scenes, measure_site_stats, site_stats
from sitewatch.geo import reproject_geometry
from sitewatch.ingest import site_grid, site_mask
from sitewatch.model import utc
from sitewatch.sources import stac
from sitewatch.sources.stac import (
    BUILTIN_CATALOGS,
    Catalog,
    asset_scaling,
    catalog_credentials,
    gdal_options,
    item_to_scene,
    profile_for,
    require_asset_credentials,
    resolve_catalog,
    resolve_collection,
    s2_offset,
)
from sitewatch.testing import tiny_site
from sitewatch.workspace import init_workspace

DATA = Path(__file__).parent / "data" / "stac"
SITE = tiny_site("port")
T0, T1 = utc("2024-10-01T00:00:00Z"), utc("2024-11-30T23:59:59Z")


def _recorded(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


# -- catalogues -----------------------------------------------------------------------------------


def test_builtin_catalogues_named_and_by_url():
    assert set(BUILTIN_CATALOGS) == {"earth-search", "planetary-computer", "cdse"}
    assert resolve_catalog("planetary-computer").signing == "planetary-computer"
    assert resolve_catalog("https://earth-search.aws.element84.com/v1/").name == "earth-search"
    other = resolve_catalog("https://stac.example.org/api/v1")
    assert other.url == "https://stac.example.org/api/v1" and other.signing == "none"
    with pytest.raises(ConfigError, match="unknown catalogue"):
        resolve_catalog("nowhere")


def test_a_static_catalogue_on_disk_is_walked_not_refused(tmp_path):
    """A pystac user gives the catalogue's catalog.json (or file://, or its folder): it was "unknown catalogue",
    as a mistyped name is, then refused naming `sitewatch import`; it is now walked as a catalogue on disk
    (tests/test_stac_static.py), and one naming no items says so."""
    (tmp_path / "stac").mkdir()
    (tmp_path / "stac" / "catalog.json").write_text(json.dumps({"type": "Catalog", "id": "local", "description": "d",
                                                                "stac_version": "1.0.0", "links": []}), encoding="utf-8")  # fmt: skip
    for given in (str(tmp_path / "stac" / "catalog.json"), f"file://{tmp_path}/stac/catalog.json", str(tmp_path / "stac")):
        catalog = resolve_catalog(given, origin="--catalog")
        assert catalog.on_disk and catalog.provider == "local-stac"
        with pytest.raises(SourceError, match=r"catalog.json links no items"):
            stac.search_items(catalog, "s2", SITE.require_geometry().bounds, T0, T1)
    (tmp_path / "sitewatch.toml").write_text(f'[catalogs.local]\nurl = "{tmp_path}/stac/catalog.json"\n', encoding="utf-8")
    assert resolve_catalog("local", tmp_path).url == (tmp_path / "stac" / "catalog.json").as_uri()
    (tmp_path / "sitewatch.toml").write_text('[catalogs.static]\nurl = "https://example.org/stac/catalog.json"\n', encoding="utf-8")
    assert resolve_catalog("static", tmp_path).url == "https://example.org/stac/catalog.json"  # named when searched


def test_catalogue_from_toml_keeps_secrets_out_of_repr(tmp_path):
    (tmp_path / "sitewatch.toml").write_text(
        '[catalogs.mine]\nurl = "https://stac.example.org/v1"\ntoken_env = "MINE_TOKEN"\n'
        'token = "s3cr3t-from-toml"\n\n[catalogs.cdse]\naccess_key = "AK"\nsecret_key = "SK"\n'
    , encoding="utf-8")
    mine = resolve_catalog("mine", tmp_path)
    assert mine.url == "https://stac.example.org/v1" and mine.token_env == "MINE_TOKEN"
    assert "s3cr3t" not in repr(mine)
    assert catalog_credentials(mine, env={}) == {"token": "s3cr3t-from-toml"}
    assert catalog_credentials(mine, env={"MINE_TOKEN": "from-env"})["token"] == "from-env"  # env wins
    cdse = resolve_catalog("cdse", tmp_path)  # a built-in given keys in the toml keeps its settings
    assert cdse.s3_endpoint == "eodata.dataspace.copernicus.eu"
    opts = gdal_options(cdse, catalog_credentials(cdse, env={}), ["s3://eodata/x.jp2"])
    assert opts["AWS_S3_ENDPOINT"] == "eodata.dataspace.copernicus.eu" and opts["AWS_ACCESS_KEY_ID"] == "AK"
    (tmp_path / "sitewatch.toml").write_text('[catalogs.bad]\nurl = "https://x"\npasword = "typo"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown keys"):
        resolve_catalog("bad", tmp_path)
    (tmp_path / "sitewatch.toml").write_text('[catalogs.bad]\nurl = "not a url"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[catalogs.bad\] url must be .* got 'not a url'"):
        resolve_catalog("bad", tmp_path)


def test_s3_keys_sign_only_the_catalogues_own_buckets(tmp_path):
    """The S3 keys signed a request to any bucket a catalogue's answer named: with requester-pays
    set, someone else's bucket could bill the keys' owner for every read."""
    keys = {"access_key": "AK", "secret_key": "SK"}
    es = BUILTIN_CATALOGS["earth-search"]
    own = gdal_options(es, keys, ["s3://sentinel-s1-l1c/GRD/2024/10/17/IW/DV/x/measurement/iw-vv.tiff"])
    assert own["AWS_ACCESS_KEY_ID"] == "AK" and own["AWS_REQUEST_PAYER"] == "requester"
    other = gdal_options(es, keys, ["s3://someone-elses-bucket/x.tif"])
    assert "AWS_ACCESS_KEY_ID" not in other and "AWS_REQUEST_PAYER" not in other and other["AWS_NO_SIGN_REQUEST"] == "YES"
    mixed = gdal_options(es, keys, ["s3://usgs-landsat/x.tif", "s3://sentinel-s1-l1c.evil/x.tif"])
    assert "AWS_ACCESS_KEY_ID" not in mixed
    # rasterio refuses the keys as Env options ("can not be directly set"): every S3 read with keys failed
    with stac.gdal_env(es, keys, ["s3://usgs-landsat/x.tif"]):
        config = rasterio.env.getenv()
        assert config["AWS_ACCESS_KEY_ID"] == "AK" and config["AWS_SECRET_ACCESS_KEY"] == "SK"
        assert config["AWS_REQUEST_PAYER"] == "requester" and "AWS_NO_SIGN_REQUEST" not in config
    with stac.gdal_env(es, keys, ["s3://someone-elses-bucket/x.tif"]):
        config = rasterio.env.getenv()
        assert config["AWS_NO_SIGN_REQUEST"] == "YES" and config.get("AWS_ACCESS_KEY_ID") != "AK"
    (tmp_path / "sitewatch.toml").write_text(
        '[catalogs.mine]\nurl = "https://stac.example.org/v1"\naccess_key_env = "K"\nsecret_key_env = "S"\n'
        's3_buckets = ["my-imagery"]\n'
    , encoding="utf-8")
    mine = resolve_catalog("mine", tmp_path)
    assert stac.keys_go_to(mine, "s3://my-imagery/a.tif") and not stac.keys_go_to(mine, "https://my-imagery/a.tif")
    assert gdal_options(mine, keys, ["s3://my-imagery/a.tif"])["AWS_SECRET_ACCESS_KEY"] == "SK"
    (tmp_path / "sitewatch.toml").write_text('[catalogs.mine]\nurl = "https://stac.example.org/v1"\ns3_buckets = "my-imagery"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"s3_buckets must be a list of bucket names"):
        resolve_catalog("mine", tmp_path)


def test_a_bucket_refused_for_want_of_keys_says_how_to_allow_it(monkeypatch):
    from rasterio.errors import RasterioError

    from sitewatch import fetch
    from sitewatch.model import Grid

    def refused(href, grid, **kwargs):
        raise RasterioError(f"{href}: AccessDenied")

    monkeypatch.setattr(fetch, "read_window", refused)
    es = BUILTIN_CATALOGS["earth-search"]
    reader = fetch._Reader(es, stac.NoSigner(), {"access_key": "AK", "secret_key": "SK"}, retries=0, backoff=0.0)
    grid = Grid(crs="EPSG:32653", transform=(10.0, 0.0, 0.0, 0.0, -10.0, 0.0), width=2, height=2)
    with pytest.raises(CredentialError, match=r's3_buckets = \["their-bucket"\] under \[catalogs.earth-search\]'):
        reader.read("s3://their-bucket/x.tif", grid)
    with pytest.raises(CredentialError) as err:  # a bucket of its own refused: the account is what to check
        reader.read("s3://sentinel-s1-l1c/x.tif", grid)
    assert "s3_buckets" not in str(err.value) and "AWS account" in str(err.value)


def test_cdse_downloads_name_the_missing_credential():
    cdse = BUILTIN_CATALOGS["cdse"]
    with pytest.raises(CredentialError) as err:
        require_asset_credentials(cdse, catalog_credentials(cdse, env={}))
    assert "CDSE_S3_ACCESS_KEY" in str(err.value) and "CDSE_S3_SECRET_KEY" in str(err.value)
    creds = catalog_credentials(cdse, env={"CDSE_S3_ACCESS_KEY": "AK", "CDSE_S3_SECRET_KEY": "SK"})
    require_asset_credentials(cdse, creds)


def test_collection_aliases_pick_rtc_where_the_catalogue_has_it():
    assert resolve_collection(BUILTIN_CATALOGS["planetary-computer"], "s1") == "sentinel-1-rtc"
    assert resolve_collection(BUILTIN_CATALOGS["earth-search"], "s1") == "sentinel-1-grd"
    assert resolve_collection(BUILTIN_CATALOGS["cdse"], "s2") == "sentinel-2-l2a"
    assert resolve_collection(BUILTIN_CATALOGS["cdse"], "sentinel-2-l2a") == "sentinel-2-l2a"


def test_unknown_collection_of_a_builtin_catalogue_is_refused_before_any_request(tmp_path, monkeypatch):
    import pystac_client

    def no_network(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("no request may be made for a collection sitewatch cannot read")

    monkeypatch.setattr(pystac_client.Client, "open", no_network)
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    for cmd in ("search", "fetch"):
        res = CliRunner().invoke(main, [cmd, "port", "-w", str(ws.root), "--catalog", "earth-search",
                                        "--collection", "foo", "--from", "2024-10-01", "--to", "2024-10-02"])  # fmt: skip
        assert res.exit_code == 1, res.output
        assert "--collection 'foo'" in res.output and "sentinel-2-l2a" in res.output and "s2" in res.output
    with pytest.raises(InputError, match="use one of sentinel-1-grd, sentinel-2-l2a, s1, s2$"):
        resolve_collection(BUILTIN_CATALOGS["cdse"], "sentinel-3")
    # Each built-in catalogue offers its own collections: RTC is Planetary Computer's, Landsat not CDSE's.
    for name, coll in (("earth-search", "sentinel-1-rtc"), ("cdse", "sentinel-1-rtc"), ("cdse", "landsat")):
        with pytest.raises(InputError, match=f"{name} has no collection"):
            resolve_collection(BUILTIN_CATALOGS[name], coll)
    assert resolve_collection(BUILTIN_CATALOGS["planetary-computer"], "sentinel-1-rtc") == "sentinel-1-rtc"
    assert resolve_collection(BUILTIN_CATALOGS["earth-search"], "landsat") == "landsat-c2-l2"
    assert resolve_collection(Catalog(name="mine", url="https://example.org/stac", provider="generic"), "my-s2") == "my-s2"


def test_unresolvable_host_fails_fast_and_says_so_in_full(monkeypatch):
    import socket
    import time

    real = socket.getaddrinfo

    def no_dns(host, *a, **k):  # type: ignore[no-untyped-def]
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *a, **k)

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    catalog = Catalog(name="offline", url="https://stac.example.invalid/v1", provider="generic")
    t0 = time.monotonic()
    with pytest.raises(SourceError) as caught:
        stac.search_items(catalog, "sentinel-2-l2a", (0, 0, 1, 1), T0, T1, retries=5, backoff=1.0)
    assert time.monotonic() - t0 < 3  # 5 retries with backoff 1 s took about 31 s
    assert str(caught.value) == (
        "offline (https://stac.example.invalid/v1): cannot resolve host stac.example.invalid (Name or service not known): "
        "no network, or a mistyped catalogue URL"
    )


def test_refused_connection_is_not_retried_for_half_a_minute():
    """Nothing listens at the URL: said within seconds, naming the host, not after the full backoff."""
    import socket
    import time

    with socket.socket() as s:  # a port that was free a moment ago: connections to it are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    catalog = Catalog(name="local", url=f"http://127.0.0.1:{port}/stac", provider="generic")
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=r"could not reach 127\.0\.0\.1.*refused"):
        stac.search_items(catalog, "sentinel-2-l2a", (0, 0, 1, 1), T0, T1, retries=5, backoff=1.0)
    assert time.monotonic() - t0 < 6  # 5 retries with backoff 1 s took about 31 s


def test_a_catalogue_that_never_answers_is_asked_twice_not_six_times_and_said(caplog):
    """A host that takes the connection and never answers (a proxy swallowing requests) kept a search silent for
    6.5 minutes: six tries of the 60 s timeout plus the backoff. Now twice, with a warning at the first."""
    import socket
    import time

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)  # accepted by the system, never answered
        catalog = Catalog(name="silent", url=f"http://127.0.0.1:{server.getsockname()[1]}/stac", provider="generic")
        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="sitewatch.sources.stac"), pytest.raises(
            SourceError, match=r"127\.0\.0\.1 took the request but did not answer in time, asked twice .*try again later"
        ):
            stac.search_items(catalog, "sentinel-2-l2a", (0, 0, 1, 1), T0, T1, retries=5, backoff=0.2, timeout=0.5)
        took = time.monotonic() - t0
    assert took < 2.5  # six tries: 3 s of timeouts and 6.2 s of backoff
    assert [r.getMessage() for r in caplog.records if "did not answer within 0.5 s; asking once more" in r.getMessage()] != []


def test_a_host_that_drops_connections_is_given_up_in_seconds_not_minutes(caplog, monkeypatch):
    """A host that drops the packets (a firewall, a VPN that is down) waited the whole 60 s timeout for a
    connection, three times: three minutes without a word. The connection now has CONNECT_TIMEOUT_S, said each time."""
    import socket
    import time

    monkeypatch.setattr(stac, "CONNECT_TIMEOUT_S", 0.3)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        queued = []
        for _ in range(8):  # fill the accept queue: later connections are neither taken nor refused
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            queued.append(c)
        time.sleep(0.2)
        catalog = Catalog(name="dropped", url=f"http://127.0.0.1:{port}/stac", provider="generic")
        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="sitewatch.sources.stac"), pytest.raises(
            SourceError, match=r"no connection to 127\.0\.0\.1 in 0.3 s, tried three times: no network to it"
        ):
            stac.search_items(catalog, "sentinel-2-l2a", (0, 0, 1, 1), T0, T1, retries=5, backoff=0.1, timeout=30)
        took = time.monotonic() - t0
        for c in queued:
            c.close()
    assert took < 5  # was 3 x the 30 s timeout
    assert any("no connection to 127.0.0.1 within 0.3 s; trying again" in r.getMessage() for r in caplog.records)


def test_https_to_a_server_without_tls_is_said_at_once_with_what_to_check():
    """https:// to a plain HTTP server (or a certificate refused) was retried with the full backoff, 31 s, then
    called "no network, or the catalogue is down", though the server answered."""
    import http.server
    import time

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        catalog = Catalog(name="plain", url=f"https://127.0.0.1:{server.server_address[1]}/stac", provider="generic")
        t0 = time.monotonic()
        with pytest.raises(SourceError, match=r"127\.0\.0\.1 answered, but not with a certificate .*check the URL") as caught:
            stac.search_items(catalog, "sentinel-2-l2a", (0, 0, 1, 1), T0, T1, retries=5, backoff=1.0)
        assert time.monotonic() - t0 < 5
        assert "no network" not in str(caught.value)
    finally:
        server.shutdown()
        server.server_close()


# planetary-computer 1.0.0 (the newest) declares its pydantic models with a class-based Config, which
# pydantic 2 deprecates at import; a mark, as a command line's -W error::DeprecationWarning outranks pyproject
@pytest.mark.filterwarnings("ignore:Support for class-based `config`:DeprecationWarning:planetary_computer")
def test_planetary_computer_signer_drops_cached_tokens_on_refresh(monkeypatch):
    import planetary_computer
    from planetary_computer import sas

    sas.TOKEN_CACHE["x"] = object()  # type: ignore[assignment]
    monkeypatch.setattr(planetary_computer, "sign_url", lambda href: href + "?sig=1")
    signer = stac.make_signer(BUILTIN_CATALOGS["planetary-computer"])
    assert signer.sign("https://a.blob.core.windows.net/c/f.tif") .endswith("?sig=1")
    assert "x" in sas.TOKEN_CACHE
    signer.sign("https://a.blob.core.windows.net/c/f.tif", refresh=True)
    assert "x" not in sas.TOKEN_CACHE


# -- recorded items -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "catalog", "sensor", "bands"),
    [
        ("earth-search-s2-l2a-item.json", "earth-search", "optical", {"blue", "green", "red", "nir", "SCL"}),
        ("planetary-computer-s2-l2a-item.json", "planetary-computer", "optical", {"blue", "green", "red", "nir", "SCL"}),
        ("cdse-s2-l2a-item.json", "cdse", "optical", {"blue", "green", "red", "nir", "SCL"}),
        ("planetary-computer-s1-rtc-item.json", "planetary-computer", "sar", {"VV", "VH"}),
        ("earth-search-s1-grd-item.json", "earth-search", "sar", {"VV", "VH", "schema-calibration-vv", "schema-calibration-vh"}),
        ("planetary-computer-landsat-c2-l2-item.json", "planetary-computer", "optical", {"blue", "green", "red", "nir", "QA"}),
    ],
)
def test_recorded_items_become_scenes(name, catalog, sensor, bands):
    item = _recorded(name)
    scene = item_to_scene(item, BUILTIN_CATALOGS[catalog])
    assert scene.sensor == sensor and set(scene.hrefs) == bands
    assert scene.acquired.tzinfo is not None and scene.provider == catalog
    assert scene.footprint is not None and scene.footprint.intersects(SITE.require_geometry())


def test_a_landsat_7_item_keyed_by_file_name_is_read_by_its_own_band_numbers():
    """ETM+ numbers blue 1 (OLI 2): a catalogue keying its assets SR_B1… gave a Landsat 7 item's green as blue."""
    item = _recorded("planetary-computer-landsat-c2-l2-item.json")
    base = item["assets"]["blue"]["href"].removesuffix("_SR_B2.TIF")
    by_file = {f"SR_B{n}": {"href": f"{base}_SR_B{n}.TIF"} for n in range(1, 6)} | {"QA_PIXEL": {"href": f"{base}_QA_PIXEL.TIF"}}
    numbers = {}
    for platform in ("landsat-7", "landsat-9"):
        scene = item_to_scene({**item, "properties": {**item["properties"], "platform": platform}, "assets": by_file},
                              BUILTIN_CATALOGS["planetary-computer"])  # fmt: skip
        numbers[platform] = [scene.hrefs[b].split("?")[0][-5] for b in ("blue", "green", "red", "nir")]
    assert numbers == {"landsat-7": ["1", "2", "3", "4"], "landsat-9": ["2", "3", "4", "5"]}
    assert profile_for("landsat-c2-l2", {"platform": "landsat-7"}).bands["blue"] == ("blue", "SR_B1")  # common names first


def test_malformed_items_are_named_and_the_others_proceed(world, caplog):
    """One item with a broken geometry, a missing href or a bad date is skipped by name, not fatal."""
    state, ws, store = world
    state.fail_first_searches = 0
    es = BUILTIN_CATALOGS["earth-search"]
    item = _recorded("earth-search-s2-l2a-item.json")
    bad_geom = {**item, "geometry": {"type": "Polygon", "coordinates": [[[1, 2]]]}}
    with pytest.raises(SourceError, match=r"item 'S2B_.*': its geometry is not a valid GeoJSON geometry"):
        item_to_scene(bad_geom, es)
    no_href = {**item, "assets": {**item["assets"], "red": {"type": "image/tiff"}}}
    with pytest.raises(SourceError, match=r"item 'S2B_.*': asset 'red' has no href"):
        item_to_scene(no_href, es)
    no_date = {**item, "properties": {**item["properties"], "datetime": None, "start_datetime": "soon"}}
    with pytest.raises(SourceError, match=r"item 'S2B_.*': datetime 'soon' is not an ISO 8601 time"):
        item_to_scene(no_date, es)
    bowtie = {**item, "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}
    assert item_to_scene(bowtie, es).footprint.is_valid  # a self-crossing ring is repaired, not fatal
    # Through the catalogue: a cloud figure that is not a number is unknown; an item without an href is named.
    state.items[0]["properties"]["eo:cloud_cover"] = "n/a"
    state.items[3]["assets"]["nir"].pop("href")
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    with caplog.at_level("WARNING"):
        found = find_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-2-l2a", T0, T1, retries=0, backoff=0.01))
    ids = [c.scene.item_id for c in found]
    assert "S2B_SIGNED_20241015" not in ids and len(ids) == 4
    assert found[0].scene.item_id == "S2A_CLEAR_20241005" and found[0].scene.cloud_cover is None
    assert "S2B_SIGNED_20241015" in caplog.text and "asset 'nir' has no href" in caplog.text


def test_a_url_that_is_not_a_stac_api_is_named(tmp_path):
    """An HTML page or a JSON answer that is not a STAC catalogue: a clear error naming the URL."""

    class NotStac(BaseHTTPRequestHandler):
        body = b"<html>login</html>"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotStac)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/stac"
    try:
        ws = init_workspace(tmp_path / "ws")
        with ws.store() as store:
            store.put_site(SITE)
        for body in (b"<html>login</html>", b"[1, 2]", b"{}"):
            NotStac.body = body
            res = CliRunner().invoke(main, ["search", "port", "-w", str(ws.root), "--catalog", url, "--collection",
                                            "s2", "--from", "2024-10-01", "--to", "2024-10-02"])  # fmt: skip
            assert res.exit_code == 1 and not isinstance(res.exception, (ValueError, AttributeError)), res.output
            assert f"Error: {url} did not answer as a STAC API does" in res.output
    finally:
        server.shutdown()
        server.server_close()


def test_a_static_catalogue_is_named_as_one_and_an_api_listing_no_conformance_is_searched(world):
    """A catalog.json with items but no /search (as open-data programmes publish): an error saying so,
    not pystac-client's DoesNotConformTo traceback; an API root that links /search but lists no
    conformance classes (STAC API before 1.0) is searched."""
    state, ws, _ = world
    state.fail_first_searches = 0
    state.conforms = state.search_link = False
    args = ["search", "port", "-w", str(ws.root), "--catalog", state.url, "--collection", "s2",
            "--from", "2024-10-01", "--to", "2024-10-31"]  # fmt: skip
    for command in ("search", "fetch"):
        res = CliRunner().invoke(main, [command, *args[1:]])
        assert res.exit_code == 1 and not isinstance(res.exception, Warning), res.output
        assert f"Error: {state.url} is a STAC catalogue without item search" in res.output, res.output
        assert "sitewatch import" in res.output and "Traceback" not in res.output
    state.search_link = True
    res = CliRunner().invoke(main, [*args, "--json"])
    assert res.exit_code == 0, res.output
    assert "S2A_CLEAR_20241005" in {row["item_id"] for row in json.loads(res.stdout)}


def test_s2_offset_is_read_from_item_metadata_not_the_date():
    es = _recorded("earth-search-s2-l2a-item.json")
    # Earth Search already shifted baseline >= 04.00 COGs: its raster:bands -0.1 must not be applied again.
    assert s2_offset(es["properties"], es["assets"]["red"])[0] == 0.0
    pc = _recorded("planetary-computer-s2-l2a-item.json")
    assert s2_offset(pc["properties"])[0] == pytest.approx(-0.1)
    cd = _recorded("cdse-s2-l2a-item.json")
    assert s2_offset(cd["properties"])[0] == pytest.approx(-0.1)  # processing:version 05.11
    # Same date, different baselines: the metadata decides.
    assert s2_offset({"s2:processing_baseline": "03.01", "datetime": "2022-06-01T00:00:00Z"})[0] == 0.0
    assert s2_offset({"s2:processing_baseline": "04.00", "datetime": "2022-06-01T00:00:00Z"})[0] == pytest.approx(-0.1)
    assert s2_offset({"s2:processing_baseline": "05.09", "earthsearch:boa_offset_applied": False})[0] == pytest.approx(-0.1)
    assert s2_offset({}, {"raster:bands": [{"offset": -0.1}]})[0] == pytest.approx(-0.1)
    scale, offset, note = asset_scaling(profile_for("sentinel-2-l2a"), "red", pc["properties"], pc["assets"]["B04"])
    assert (scale, offset) == (pytest.approx(1e-4), pytest.approx(-0.1)) and "05.11" in note
    ls = _recorded("planetary-computer-landsat-c2-l2-item.json")
    scale, offset, _ = asset_scaling(profile_for("landsat-c2-l2"), "red", ls["properties"], ls["assets"]["red"])
    assert (scale, offset) == (pytest.approx(2.75e-5), pytest.approx(-0.2))


def test_scl_cloud_and_valid_are_over_the_site_polygon():
    grid = site_grid(SITE, 10.0)
    inside = site_mask(SITE, grid)
    scl = np.full(grid.shape, 4.0, dtype=np.float32)  # vegetation
    rows = np.flatnonzero(inside.any(axis=1))
    half = rows[len(rows) // 2]
    scl[:half] = 9  # cloud, high probability, over the northern part
    scl[~inside] = 9  # outside the site: must not count
    stats = site_stats("SCL", scl, inside)
    expect = (inside[:half].sum()) / inside.sum()
    assert stats.cloud_fraction == pytest.approx(expect, abs=1e-6)
    assert stats.valid_fraction == 1.0  # cloud is data: valid, but cloudy
    assert "9 (cloud, high probability)" in stats.rule and "3 (cloud shadow)" in stats.rule
    scl[:] = 0
    assert site_stats("SCL", scl, inside).valid_fraction == 0.0


def test_one_observation_per_acquisition_when_tiles_overlap_the_site():
    from sitewatch.fetch import Candidate, _one_per_acquisition

    item = _recorded("earth-search-s2-l2a-item.json")
    a = item_to_scene(item, BUILTIN_CATALOGS["earth-search"])
    b = item_to_scene(item | {"id": "S2B_52TGH_20241014_0_L2A"}, BUILTIN_CATALOGS["earth-search"])
    later = item_to_scene(item | {"id": "S2B_53TMM_20241017_0_L2A",
                                  "properties": item["properties"] | {"datetime": "2024-10-17T01:53:49Z"}},
                          BUILTIN_CATALOGS["earth-search"])  # fmt: skip
    kept, dropped = _one_per_acquisition(
        [Candidate(b, {}, 0.4), Candidate(a, {}, 1.0), Candidate(later, {}, 0.4)], SITE
    )
    assert [c.scene.item_id for c in kept] == [a.item_id, later.item_id]
    assert dropped[0][0] == b.item_id and a.item_id in dropped[0][1]


# -- a catalogue on 127.0.0.1 ---------------------------------------------------------------------

UTM = "EPSG:32653"
TARGET = (150.0, 120.0)  # (row, col) of the bright point in the GRD image


def _site_xy() -> tuple[float, float]:
    c = reproject_geometry(SITE.require_geometry(), "EPSG:4326", UTM).centroid
    return float(c.x), float(c.y)


def _cog(path: Path, data: np.ndarray, transform: Affine, nodata: float | None = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="COG", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=data.dtype.name, crs=UTM, transform=transform, nodata=nodata,
                       compress="deflate") as dst:  # fmt: skip
        dst.write(data, 1)


def _s2_item(files: Path, base: str, item_id: str, when: str, *, dn: int = 2000, scl: int = 6,
             folder: str = "cogs", red_folder: str | None = None, scene_cloud: float = 5.0) -> dict[str, Any]:
    """An Earth-Search-shaped S2 item whose COGs (10 m bands, 20 m SCL) cover the site."""
    x, y = _site_xy()
    x0, y1 = np.floor((x - 1500) / 20) * 20, np.ceil((y + 1500) / 20) * 20
    n = 300
    assets: dict[str, Any] = {}
    for key in ("blue", "green", "red", "nir"):
        sub = red_folder if key == "red" and red_folder else folder
        _cog(files / sub / f"{item_id}_{key}.tif", np.full((n, n), dn, np.uint16), Affine(10, 0, x0, 0, -10, y1))
        assets[key] = {"href": f"{base}/files/{sub}/{item_id}_{key}.tif", "type": "image/tiff",
                       "raster:bands": [{"nodata": 0, "scale": 0.0001, "offset": -0.1}], "roles": ["data"]}
    _cog(files / folder / f"{item_id}_scl.tif", np.full((n // 2, n // 2), scl, np.uint8), Affine(20, 0, x0, 0, -20, y1))
    assets["scl"] = {"href": f"{base}/files/{folder}/{item_id}_scl.tif", "type": "image/tiff", "roles": ["data"]}
    foot = reproject_geometry(box(x0, y1 - n * 10, x0 + n * 10, y1), UTM, "EPSG:4326")
    return {"type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": "sentinel-2-l2a",
            "geometry": mapping(foot), "bbox": list(foot.bounds),
            "properties": {"datetime": when, "platform": "sentinel-2a", "eo:cloud_cover": scene_cloud,
                           "s2:processing_baseline": "05.11", "earthsearch:boa_offset_applied": False,
                           "sat:relative_orbit": 117},
            "assets": assets, "links": []}  # fmt: skip


def _ground(row, col):
    x, y = _site_xy()
    row = np.asarray(row, float) - TARGET[0]
    col = np.asarray(col, float) - TARGET[1]
    return (x - 10.0 * col + 1.8 * row + 0.004 * col**2,
            y - 10.0 * row - 2.2 * col + 0.003 * row**2)  # fmt: skip


def _grd_item(files: Path, base: str) -> dict[str, Any]:
    """An ascending GRD scene: GCPs, no transform, a bright point at the site's centre."""
    rows, cols = 300, 260
    data = np.full((rows, cols), 50, np.uint16)
    r, c = int(TARGET[0]), int(TARGET[1])
    data[r - 1 : r + 2, c - 1 : c + 2] = 3000
    to_ll = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    gcps = []  # as ESA writes them: by sample and line number, (0, 0) naming the first pixel's centre
    for gr in [*range(0, rows - 1, 50), rows - 1]:
        for gc in [*range(0, cols - 1, 52), cols - 1]:
            gx, gy = _ground(gr, gc)
            lon, lat = to_ll.transform(float(gx), float(gy))
            gcps.append(GroundControlPoint(row=gr, col=gc, x=lon, y=lat, z=0.0))
    path = files / "grd" / "iw-vv.tiff"
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1, dtype="uint16", tiled=True) as dst:
        dst.write(data, 1)
        dst.gcps = (gcps, rasterio.crs.CRS.from_epsg(4326))
    (files / "grd" / "calibration-iw-vv.xml").write_text(
        "<calibration><calibrationVectorList count='1'><calibrationVector><line>0</line><pixel count='3'>0 100 200</pixel>"
        "<sigmaNought count='3'>500 500 500</sigmaNought></calibrationVector></calibrationVectorList></calibration>"
    , encoding="utf-8")
    xs, ys = _ground(np.array([0, 0, rows, rows]), np.array([0, cols, cols, 0]))
    foot = reproject_geometry(shape({"type": "Polygon", "coordinates": [list(zip(xs, ys, strict=True)) + [(xs[0], ys[0])]]}), UTM, "EPSG:4326")
    return {"type": "Feature", "stac_version": "1.0.0", "id": "S1A_IW_GRDH_1SDV_20241020_TEST", "collection": "sentinel-1-grd",
            "geometry": mapping(foot), "bbox": list(foot.bounds),
            "properties": {"datetime": "2024-10-20T08:34:14Z", "platform": "sentinel-1a", "sat:orbit_state": "ascending",
                           "sat:relative_orbit": 54, "sar:polarizations": ["VV"]},
            "assets": {"vv": {"href": f"{base}/files/grd/iw-vv.tiff", "roles": ["data"]},
                       "schema-calibration-vv": {"href": f"{base}/files/grd/calibration-iw-vv.xml", "roles": ["metadata"]}},
            "links": []}  # fmt: skip


class TokenSigner:
    """A signing hook like Planetary Computer's: a token per read, a new one when refused."""

    def __init__(self, server: StacServer) -> None:
        self.server = server
        self.token: str | None = None
        self.refreshes = 0

    def sign(self, href: str, *, refresh: bool = False) -> str:
        if "/signed/" not in href:
            return href
        if self.token is None or refresh:
            self.refreshes += int(refresh)
            self.token = requests.get(f"{self.server.url}/token", timeout=10).json()["token"]
        return f"{href}?token={self.token}"


@pytest.fixture()
def world(tmp_path):
    files = tmp_path / "files"
    state = StacServer(files=files, fail_first_searches=1, token_uses=3)
    server = state.start()
    base = state.url
    state.items = [
        _s2_item(files, base, "S2A_CLEAR_20241005", "2024-10-05T01:53:49Z"),
        _s2_item(files, base, "S2B_CLOUDY_20241008", "2024-10-08T01:53:49Z", scl=9, scene_cloud=3.0),
        _s2_item(files, base, "S2A_EMPTY_20241012", "2024-10-12T01:53:49Z", dn=0, scl=0),
        _s2_item(files, base, "S2B_SIGNED_20241015", "2024-10-15T01:53:49Z", folder="signed"),
        _s2_item(files, base, "S2A_FORBIDDEN_20241018", "2024-10-18T01:53:49Z", red_folder="forbidden"),
        _grd_item(files, base),
        _s2_item(files, base, "S2A_OUTSIDE_RANGE_20241215", "2024-12-15T01:53:49Z"),
    ]
    ws = init_workspace(tmp_path / "ws")
    store = ws.store()
    store.put_site(SITE)
    yield state, ws, store
    store.close()
    server.shutdown()
    server.server_close()  # shutdown stops the loop; the listening socket stays open without this


def test_fetch_end_to_end_against_local_stac_api(world):
    state, ws, store = world
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    signer = TokenSigner(state)
    s2 = fetch_scenes(ws, store, SITE, catalog,
                      FetchOptions("sentinel-2-l2a", T0, T1, max_cloud=20, signer=signer, retries=3, backoff=0.01, page_size=2))  # fmt: skip
    # 503 on the first search, retried; five S2 items in range, paged two at a time.
    assert state.status_count("/search", 503) == 1
    assert state.status_count("/search", 200) >= 3
    assert {o.scene.item_id for o in s2.observations} == {"S2A_CLEAR_20241005", "S2B_SIGNED_20241015"}
    reasons = dict(s2.skipped)
    assert "cloud 100.0% over the site > --max-cloud 20" in reasons["S2B_CLOUDY_20241008"]
    assert "no valid pixel" in reasons["S2A_EMPTY_20241012"]
    failed = dict(s2.failed)
    assert list(failed) == ["S2A_FORBIDDEN_20241018"] and "HTTP 403" in failed["S2A_FORBIDDEN_20241018"]
    assert "token=" not in failed["S2A_FORBIDDEN_20241018"]
    # the signed item's token ran out mid-item and was renewed by the hook
    assert signer.refreshes >= 1 and state.status_count("/files/signed/", 403) >= 1

    obs = store.get_observation("port/S2A_CLEAR_20241005")
    with rasterio.open(ws.root / obs.path) as src:
        names = list(src.descriptions)
        red = src.read(names.index("red") + 1)
        scl = src.read(names.index("SCL") + 1)
    assert names == ["blue", "green", "red", "nir", "SCL"]
    assert np.nanmedian(red) == pytest.approx(2000 * 1e-4 - 0.1, abs=1e-6)  # baseline 05.11 offset
    assert np.nanmax(scl) == 6
    p = obs.provenance
    assert p["catalog_url"] == state.url and p["collection"] == "sentinel-2-l2a" and p["item_id"] == "S2A_CLEAR_20241005"
    assert p["asset_hrefs"]["red"].endswith("S2A_CLEAR_20241005_red.tif") and p["stac_item"]["id"] == "S2A_CLEAR_20241005"
    assert p["sitewatch_version"] and p["retrieved_at"] and p["acquired"].startswith("2024-10-05")
    assert "processing baseline 05.11" in p["conversions"]["red"] and "cloud = SCL classes" in p["cloud_rule"]
    assert obs.cloud_fraction == 0.0 and (ws.root / p["stac"]).exists()
    signed = store.get_observation("port/S2B_SIGNED_20241015")
    assert all("token" not in h for h in signed.provenance["asset_hrefs"].values())

    # Sentinel-1 GRD: placed by its GCPs, calibrated to sigma0.
    s1 = fetch_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-1-grd", T0, T1, retries=1, backoff=0.01))
    assert not s1.failed, s1.failed
    grd = s1.observations[0]
    with rasterio.open(ws.root / grd.path) as src:
        vv = src.read(1)
        t = src.transform
    assert np.nanmedian(vv) == pytest.approx(50**2 / 500**2, rel=1e-3)
    assert {round(float(v), 4) for v in np.unique(vv[np.isfinite(vv)])} <= {0.01, 36.0}  # SAR: nearest neighbour
    w = np.clip(np.nan_to_num(vv) - 0.01, 0, None)
    r, c = np.indices(vv.shape)
    px, py = t @ (float((w * c).sum() / w.sum()) + 0.5, float((w * r).sum() / w.sum()) + 0.5)
    tx, ty = _ground(*TARGET)
    # Nearest neighbour (SAR) puts it on the site grid: 2.9 m off here; GCPs read as corners, 5.7 m
    assert np.hypot(px - float(tx), py - float(ty)) < 4.0
    assert grd.provenance["placement"] == "gcp-tps"
    assert grd.provenance["conversions"]["VV"].startswith("sigma0 = DN² / A², A bilinear from the product's calibration LUT (calibration-iw-vv.xml")
    # The noise kept by default (setting sar_thermal_noise = keep): no noise asset is missed
    assert "thermal noise not subtracted (setting sar_thermal_noise = keep" in grd.provenance["conversions"]["VV"]
    assert grd.provenance["orbit"] == {"orbit_state": "ascending", "relative_orbit": 54}

    # Rerun: nothing is searched or downloaded again except the item that failed.
    before = list(state.log)
    again = fetch_scenes(ws, store, SITE, catalog,
                         FetchOptions("sentinel-2-l2a", T0, T1, max_cloud=20, signer=signer, retries=1, backoff=0.01))  # fmt: skip
    new = state.log[len(before):]
    assert not any(p == "/search" for _, p, _ in new)
    assert all("FORBIDDEN" in p for _, p, _ in new if p.startswith("/files/"))
    assert dict(again.skipped)["S2A_CLEAR_20241005"] == "already fetched"
    assert "(cached)" in dict(again.skipped)["S2B_CLOUDY_20241008"]


def test_killed_fetch_resumes_with_what_is_missing(world):
    state, ws, store = world
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    calls = []

    def die_after_first(done: int, total: int, label: str) -> None:
        calls.append(label)
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch_scenes(ws, store, SITE, catalog,
                     FetchOptions("sentinel-2-l2a", T0, T1, retries=1, backoff=0.01), progress=die_after_first)  # fmt: skip
    assert [o.scene.item_id for o in store.observations("port")] == ["S2A_CLEAR_20241005"]
    assert not list((ws.archive / "port").glob(".*partial"))
    rest = fetch_scenes(ws, store, SITE, catalog,
                        FetchOptions("sentinel-2-l2a", T0, T1, retries=1, backoff=0.01, signer=TokenSigner(state)))  # fmt: skip
    assert dict(rest.skipped)["S2A_CLEAR_20241005"] == "already fetched"
    assert "S2B_CLOUDY_20241008" in {o.scene.item_id for o in rest.observations}  # max_cloud 100


def test_fetch_removes_a_cog_a_killed_run_left_half_written(world):
    """SIGKILL mid-write leaves a .partial COG; the next fetch removes it even when it skips that item."""
    state, ws, store = world
    state.fail_first_searches = 0
    stale = ws.archive / "port" / ".S2B_CLOUDY_20241008.tif.partial"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"II*\x00half")
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    report = fetch_scenes(ws, store, SITE, catalog,
                          FetchOptions("sentinel-2-l2a", T0, T1, max_cloud=20, retries=0, backoff=0.01, signer=TokenSigner(state)))  # fmt: skip
    assert "S2B_CLOUDY_20241008" in dict(report.skipped) and not stale.exists()


def test_cached_site_figures_are_not_reused_for_a_site_given_a_new_polygon(world):
    """Cloud % over the site is over its polygon: after `sites add` replaces it, the scene is measured again."""
    state, ws, store = world
    state.fail_first_searches = 0
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    found = find_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-2-l2a", T0, T1, retries=0, backoff=0.01))
    measured, problems = measure_site_stats(ws, SITE, catalog, found,
                                            FetchOptions("sentinel-2-l2a", T0, T1, retries=0, backoff=0.01, signer=TokenSigner(state)))
    assert measured[0].stats is not None and len([p for p in problems if "FORBIDDEN" not in p[0]]) == 0
    assert find_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-2-l2a", T0, T1, retries=0))[0].stats is not None
    lon, lat = SITE.require_geometry().centroid.coords[0]
    moved = tiny_site("port", lon=lon + 0.002, lat=lat, half_deg=0.005)
    store.put_site(moved)
    again = find_scenes(ws, store, moved, catalog, FetchOptions("sentinel-2-l2a", T0, T1, retries=0))
    assert all(c.stats is None for c in again)


def test_one_acquisition_from_a_second_catalogue_is_not_archived_twice(world):
    """Earth Search and Planetary Computer name one Sentinel-2 pass differently: fetched from both, one observation."""
    state, ws, store = world
    state.fail_first_searches = 0
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    clear = state.items[0]
    state.items = [clear]
    first = fetch_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-2-l2a", T0, T1, retries=0, backoff=0.01))
    assert [o.id for o in first.observations] == ["port/S2A_CLEAR_20241005"]
    other = json.loads(json.dumps(clear))  # the same pass as another catalogue lists it
    other["id"] = "S2A_MSIL2A_20241005T015349_R117_T53TNK"
    other["properties"]["platform"] = "Sentinel-2A"
    state.items = [other]
    second = fetch_scenes(ws, store, SITE, Catalog(name="other", url=state.url, provider="other-stac"),
                          FetchOptions("sentinel-2-l2a", T0, T1, retries=0, backoff=0.01, refresh=True))  # fmt: skip
    assert not second.observations and not second.failed
    assert "same acquisition as port/S2A_CLEAR_20241005" in dict(second.skipped)[other["id"]]
    assert [o.id for o in store.observations("port")] == ["port/S2A_CLEAR_20241005"]


def test_a_calibration_lut_larger_than_any_is_not_read_whole(world, monkeypatch, caplog):
    """The GRD calibration asset was read whole into memory, however many GB the catalogue's server sent."""
    from sitewatch import fetch as fetch_module

    state, ws, store = world
    state.fail_first_searches = 0
    monkeypatch.setattr(fetch_module, "MAX_CALIBRATION_BYTES", 100)  # the test LUT is 260 bytes
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    with caplog.at_level(logging.WARNING):
        s1 = fetch_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-1-grd", T0, T1, retries=0, backoff=0.01))
    assert "calibration-iw-vv.xml not read: larger than 100 bytes" in caplog.text
    assert s1.observations and s1.observations[0].provenance["conversions"]["VV"].startswith("uncalibrated intensity DN^2")


@pytest.mark.parametrize(
    ("noise", "thermal_noise"),
    [("range-azimuth", "subtract"), ("range", "subtract"), ("range-azimuth", "keep")],
    ids=["ipf-3.71", "ipf-2.84", "noise-kept"],
)
def test_fetched_grd_is_the_same_sigma0_as_the_safe_product(world, noise, thermal_noise):
    """A GRD item's COG and LUT assets give the numbers the product gives on disk: sigma0 =
    (DN² − N) / A² with ``thermal_noise`` subtract, per polarisation, from its schema-calibration-*
    and schema-noise-* assets; DN² / A² with keep (the default), the noise asset not downloaded.
    Fetch used the median sigmaNought of the first calibration asset, for every polarisation."""
    from test_s1_radiometry import (
        KEPT_BY_SETTING,
        PIXELS,
        grd_product,
        sigma0_by_hand,
        values_at_product_pixels,
    )

    state, ws, store = world
    state.fail_first_searches = 0
    product = grd_product(state.files / "safe", ipf="003.71" if noise == "range-azimuth" else "002.84", pols=("VV", "VH"))
    base = f"{state.url}/files/safe/{product.name}"
    assets = {}
    for pol in ("vv", "vh"):
        (tiff,) = product.glob(f"measurement/*-{pol}-*.tiff")
        assets[pol] = {"href": f"{base}/measurement/{tiff.name}", "roles": ["data"]}
        for lut in ("calibration", "noise"):
            (xml,) = product.glob(f"annotation/calibration/{lut}-*-{pol}-*.xml")
            assets[f"schema-{lut}-{pol}"] = {"href": f"{base}/annotation/calibration/{xml.name}", "roles": ["metadata"]}
    foot = mapping(SITE.require_geometry())
    state.items = [{"type": "Feature", "stac_version": "1.0.0", "id": "S1A_IW_GRDH_1SDV_20241017_LUTS",
                    "collection": "sentinel-1-grd", "geometry": foot, "bbox": list(SITE.require_geometry().bounds),
                    "properties": {"datetime": "2024-10-17T09:30:05Z", "platform": "sentinel-1a", "sar:polarizations": ["VV", "VH"]},
                    "assets": assets, "links": []}]  # fmt: skip
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    report = fetch_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-1-grd", T0, T1, retries=0, backoff=0.01,
                          **({"thermal_noise": "subtract"} if thermal_noise == "subtract" else {})))  # fmt: skip
    assert not report.failed, report.failed
    (obs,) = report.observations
    for band in (1, 2):
        got = values_at_product_pixels(ws.root / obs.path, band)
        for (r, c), dn in PIXELS.items():
            want = sigma0_by_hand(r, c, dn, noise if thermal_noise == "subtract" else "none")
            assert (np.isnan(got[(r, c)]) if dn == 0 else got[(r, c)] == pytest.approx(want, rel=1e-6)), (band, r, c)
    noise_reads = [p for m, p, _ in state.log if "/annotation/calibration/noise-" in p]
    for pol in ("VV", "VH"):
        text = obs.provenance["conversions"][pol]
        if thermal_noise == "keep":
            assert text.startswith("sigma0 = DN² / A², A bilinear from the product's calibration LUT")
            assert KEPT_BY_SETTING in text and "noise-s1a" not in text
        else:
            assert text.startswith("sigma0 = (DN² − N) / A², A and N bilinear from the product's calibration and noise LUTs")
            assert f"noise-s1a-iw-grd-{pol.lower()}-" in text
    assert len(noise_reads) == (2 if thermal_noise == "subtract" else 0), noise_reads


def test_fetch_subtracts_the_noise_when_the_setting_says_so_and_says_when_it_cannot(world, caplog):
    """`fetch` reads sar_thermal_noise from sitewatch.toml; an item without a noise asset is then
    read with the noise in, said in the log and the provenance."""
    state, ws, store = world
    state.fail_first_searches = 0
    state.items = [i for i in state.items if i["collection"] == "sentinel-1-grd"]
    ws.config_path.write_text('[settings]\nsar_thermal_noise = "subtract"\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        r = CliRunner().invoke(main, ["-q", "fetch", SITE.id, "--catalog", state.url, "--collection", "sentinel-1-grd",
                                      "--from", T0.date().isoformat(), "--to", T1.date().isoformat(), "-w", str(ws.root)],
                               env={"SITEWATCH_SAR_THERMAL_NOISE": None})  # fmt: skip
    assert r.exit_code == 0, r.output
    (obs,) = store.observations(SITE.id)
    text = obs.provenance["conversions"]["VV"]
    assert "thermal noise NOT subtracted: no thermal noise LUT asset (schema-noise-vv) in the item" in text, text
    assert "no thermal noise LUT asset (schema-noise-vv) in the item; its sigma0 keeps the noise" in caplog.text


def test_grd_scene_whose_gcps_cannot_place_it_fails_alone(world):
    """GDAL's 'matrix not invertible' (a CPLE error, not a RasterioError), and an item without any
    polarisation asset, failed the whole fetch with a traceback."""
    from rasterio.control import GroundControlPoint as Gcp

    state, ws, store = world
    state.fail_first_searches = 0
    files = state.files
    path = files / "grd" / "iw-vv.tiff"
    with rasterio.open(path, "r+") as ds:
        gcps, crs = ds.gcps
        # every pixel of the lattice twice, at two places: no thin-plate spline through them
        ds.gcps = (list(gcps) + [Gcp(row=g.row, col=g.col, x=g.x + 0.001, y=g.y, z=0.0) for g in gcps], crs)
    good = json.loads(json.dumps(state.items[5]))
    good["id"] = "S1A_IW_GRDH_1SDV_20241022_GOOD"
    good["properties"]["datetime"] = "2024-10-22T08:34:14Z"
    _grd_item(files / "good", state.url)
    good["assets"]["vv"]["href"] = f"{state.url}/files/good/grd/iw-vv.tiff"
    state.items.append(good)
    no_pol = json.loads(json.dumps(good))  # a SAR item without any polarisation asset (np.stack of nothing)
    no_pol["id"] = "S1A_IW_GRDH_1SDV_20241024_NOPOL"
    no_pol["properties"]["datetime"] = "2024-10-24T08:34:14Z"
    no_pol["assets"] = {"thumbnail": good["assets"]["vv"]}
    state.items.append(no_pol)
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    report = fetch_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-1-grd", T0, T1, retries=0, backoff=0.01))
    assert [o.scene.item_id for o in report.observations] == ["S1A_IW_GRDH_1SDV_20241022_GOOD"]
    failed = dict(report.failed)
    assert "ground control points cannot place it" in failed["S1A_IW_GRDH_1SDV_20241020_TEST"]
    assert "no asset for band(s) ['VV', 'VH', 'HH', 'HV']" in failed["S1A_IW_GRDH_1SDV_20241024_NOPOL"]


def test_a_catalogue_whose_next_page_repeats_itself_is_not_asked_forever(world, caplog):
    """The search used to follow a looping "next" link without end (thousands of requests, growing memory)."""
    state, ws, store = world
    state.fail_first_searches = 0
    state.loop_pages = True
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    with caplog.at_level("WARNING"):
        items = stac.search_items(catalog, "sentinel-2-l2a", SITE.require_geometry().bounds, T0, T1, limit=2, retries=0)
    assert [i["id"] for i in items] == ["S2A_CLEAR_20241005", "S2B_CLOUDY_20241008"]
    assert state.status_count("/search", 200) == 2 and "paging stopped" in caplog.text


def test_a_retry_after_of_an_hour_is_not_waited_for_in_full(world, monkeypatch):
    """urllib3 honours Retry-After up to six hours: a rate-limited catalogue froze the search silently."""
    import time

    state, ws, store = world
    state.retry_after = "3600"
    monkeypatch.setattr(stac, "RETRY_AFTER_MAX_S", 0.2)
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    t0 = time.monotonic()
    found = find_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-2-l2a", T0, T1, retries=2, backoff=0.01))
    assert len(found) == 5 and time.monotonic() - t0 < 10
    assert state.status_count("/search", 429) == 1


def test_a_fetch_killed_while_archiving_leaves_no_stray_folder_in_the_workspace(world, monkeypatch):
    """The STAC item was staged in a temporary folder inside the workspace: SIGKILL there left it behind."""
    from sitewatch import fetch as fetch_module

    state, ws, store = world
    state.fail_first_searches = 0
    state.items = state.items[:1]
    seen: list[list[str]] = []
    real = fetch_module.write_observation

    def write(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(sorted(p.name for p in ws.root.iterdir()))  # what a kill at this moment would leave
        return real(*args, **kwargs)

    monkeypatch.setattr(fetch_module, "write_observation", write)
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    report = fetch_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-2-l2a", T0, T1, retries=0, backoff=0.01))
    assert len(report.observations) == 1
    (names,) = seen
    assert set(names) <= {"archive", "cache", "sitewatch.gpkg", "sitewatch.toml"}, names


def test_assets_that_name_local_files_are_refused(world):
    """A catalogue's answer named a file of this machine as an asset and fetch read and archived it."""
    state, ws, store = world
    state.fail_first_searches = 0
    es = BUILTIN_CATALOGS["earth-search"]
    item = _recorded("earth-search-s2-l2a-item.json")
    for href in ("/etc/passwd", "file:///etc/passwd", "../secret.tif", "/vsicurl/http://x/y.tif", "C:/x.tif"):
        local = {**item, "assets": {**item["assets"], "red": {"href": href}}}
        with pytest.raises(SourceError, match=r"asset 'red' is not a remote URL"):
            item_to_scene(local, es)
    clear = state.items[0]
    clear["assets"]["red"]["href"] = str(state.files / "cogs" / "S2A_CLEAR_20241005_red.tif")  # on this disk
    state.items = [clear]
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    report = fetch_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-2-l2a", T0, T1, retries=0, backoff=0.01))
    assert not report.observations and not list(ws.archive.rglob("*.tif"))
    # ... and said so where a script looks: it was left out of the report, "fetched 0, skipped 0, failed 0", exit 0.
    assert [(i, "is not a remote URL" in why) for i, why in report.failed] == [("S2A_CLEAR_20241005", True)]
    state.items = [clear, _s2_item(state.files, state.url, "S2B_OTHER_20241006", "2024-10-06T01:53:49Z")]
    res = CliRunner().invoke(main, ["fetch", "port", "-w", str(ws.root), "--catalog", state.url, "--collection", "s2",
                                    "--from", "2024-10-01", "--to", "2024-10-31", "--refresh", "--json"])  # fmt: skip
    assert res.exit_code == 3, res.output
    out = json.loads(res.stdout)
    assert [o["item_id"] for o in out["observations"]] == ["S2B_OTHER_20241006"]
    assert [f["item_id"] for f in out["failed"]] == ["S2A_CLEAR_20241005"]


def test_an_asset_that_is_vrt_xml_is_refused(world):
    """A remote asset that was VRT XML made GDAL read the local files (or other URLs) it named and fetch archive them."""
    state, ws, store = world
    state.fail_first_searches = 0
    clear = state.items[0]
    local = state.files / "cogs" / "S2A_CLEAR_20241005_red.tif"  # stands for any raster of this machine
    with rasterio.open(local) as src:
        vrt = (f'<VRTDataset rasterXSize="{src.width}" rasterYSize="{src.height}"><SRS>{src.crs.to_wkt()}</SRS>'
               f'<GeoTransform>{", ".join(map(str, src.transform.to_gdal()))}</GeoTransform>'
               f'<VRTRasterBand dataType="UInt16" band="1"><SimpleSource><SourceFilename relativeToVRT="0">{local}'
               "</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>")  # fmt: skip
    (state.files / "cogs" / "vrt_red.tif").write_text(vrt, encoding="utf-8")
    clear["assets"]["red"]["href"] = f"{state.url}/files/cogs/vrt_red.tif"
    state.items = [clear]
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    report = fetch_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-2-l2a", T0, T1, retries=0, backoff=0.01))
    assert not report.observations and "GDAL reads it as VRT" in str(report.failed), report.failed


def test_an_item_id_too_long_for_a_file_name_is_archived(world):
    """A catalogue's item id of 400 characters ended the whole fetch in OSError "File name too long"."""
    state, ws, store = world
    state.fail_first_searches = 0
    clear = state.items[0]
    clear["id"] = "S2A_" + "A" * 400
    state.items = [clear]
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    report = fetch_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-2-l2a", T0, T1, retries=0, backoff=0.01))
    (obs,) = report.observations
    assert obs.id == f"port/{clear['id']}" and len(Path(obs.path).name) < 255 and (ws.root / obs.path).exists()


def test_the_token_goes_to_the_catalogue_host_only(world):
    """The bearer token went with every asset read and "next" page, to whatever host the catalogue's answer named."""
    state, ws, store = world
    state.fail_first_searches = 0
    elsewhere = state.url.replace("127.0.0.1", "localhost")  # the same server under another host name
    state.next_url = elsewhere
    state.items = [_s2_item(state.files, elsewhere, f"S2A_ELSE_202410{d:02d}", f"2024-10-{d:02d}T01:53:49Z") for d in (5, 6, 7)]
    env = {"MINE_TOKEN": "s3cr3t"}
    catalog = Catalog(name="mine", url=state.url, provider="local-stac", token_env="MINE_TOKEN")
    report = fetch_scenes(ws, store, SITE, catalog,
                          FetchOptions("sentinel-2-l2a", T0, T1, retries=0, backoff=0.01, page_size=2, env=env))
    assert len(report.observations) == 3  # two search pages, every asset read, without the token
    assert state.authorised and all(h.startswith("127.0.0.1:") for h in state.authorised), set(state.authorised)
    assert gdal_options(catalog, env, [f"{elsewhere}/x.tif"]).get("GDAL_HTTP_HEADERS") is None
    assert gdal_options(catalog, {"token": "t"}, [f"{state.url}/x.tif"])["GDAL_HTTP_HEADERS"] == "Authorization: Bearer t"
    (ws.root / "sitewatch.toml").write_text(f'[catalogs.mine]\nurl = "{state.url}"\ntoken_hosts = ["localhost"]\n', encoding="utf-8")
    listed = resolve_catalog("mine", ws.root)
    assert stac.token_goes_to(listed, f"{elsewhere}/x.tif") and stac.token_goes_to(listed, "https://assets.localhost/x")
    assert not stac.token_goes_to(listed, "https://localhost.evil.example/x")
    (ws.root / "sitewatch.toml").write_text(f'[catalogs.mine]\nurl = "{state.url}"\ntoken_hosts = "localhost"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="token_hosts must be a list of host names"):
        resolve_catalog("mine", ws.root)


def test_an_asset_host_refusing_without_the_token_names_token_hosts(world):
    """Assets on a host the token is kept from (a CDN of the catalogue) failed with 'set MINE_TOKEN',
    which was set: the message now says the token was not sent there and how to allow the host."""
    state, ws, store = world
    state.fail_first_searches = 0
    elsewhere = state.url.replace("127.0.0.1", "localhost")
    state.items = [_s2_item(state.files, elsewhere, "S2A_CDN_20241005", "2024-10-05T01:53:49Z", red_folder="forbidden")]
    catalog = Catalog(name="mine", url=state.url, provider="local-stac", token_env="MINE_TOKEN")
    report = fetch_scenes(ws, store, SITE, catalog,
                          FetchOptions("sentinel-2-l2a", T0, T1, retries=0, backoff=0.01, env={"MINE_TOKEN": "s3cr3t"}))
    ((_, why),) = report.failed
    assert "not to localhost" in why and 'token_hosts = ["localhost"]' in why and "s3cr3t" not in why, why


def test_the_token_stays_out_of_debug_logs(world, caplog):
    """``sitewatch -vv search`` logged pystac-client's request headers, the bearer token among them."""
    state, ws, store = world
    state.fail_first_searches = 0
    state.require_auth = "s3cr3t"
    catalog = Catalog(name="mine", url=state.url, provider="local-stac", token_env="MINE_TOKEN")
    with caplog.at_level(logging.DEBUG):
        found = find_scenes(ws, store, SITE, catalog,
                            FetchOptions("sentinel-2-l2a", T0, T1, retries=0, env={"MINE_TOKEN": "s3cr3t"}))
    assert found and "Authorization': '(hidden)" in caplog.text and "s3cr3t" not in caplog.text


def test_search_403_names_the_credential(world, monkeypatch):
    state, ws, store = world
    state.require_auth = "let-me-in"
    state.fail_first_searches = 0
    (ws.root / "sitewatch.toml").write_text(f'[catalogs.private]\nurl = "{state.url}"\ntoken_env = "PRIVATE_STAC_TOKEN"\n', encoding="utf-8")
    catalog = resolve_catalog("private", ws.root)
    monkeypatch.delenv("PRIVATE_STAC_TOKEN", raising=False)
    with pytest.raises(CredentialError, match="PRIVATE_STAC_TOKEN"):
        find_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-2-l2a", T0, T1, retries=0, backoff=0.01))
    monkeypatch.setenv("PRIVATE_STAC_TOKEN", "let-me-in")
    found = find_scenes(ws, store, SITE, catalog, FetchOptions("sentinel-2-l2a", T0, T1, retries=0, backoff=0.01))
    assert len(found) == 5


def test_cli_search_fetch_show(world):
    state, ws, store = world
    state.fail_first_searches = 0
    (ws.root / "sitewatch.toml").write_text(f'[catalogs.local]\nurl = "{state.url}"\n', encoding="utf-8")
    run = CliRunner().invoke
    args = ["-w", str(ws.root), "--catalog", "local", "--collection", "s2", "--from", "2024-10-01", "--to", "2024-11-30"]
    res = run(main, ["search", "port", *args, "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == 5 and rows[0]["site_cloud_pct"] is None and rows[0]["scene_cloud_pct"] == 5.0
    res = run(main, ["-q", "fetch", "port", *args, "--max-cloud", "20", "--json"])
    # Items failed (403, and the signed item without its token) and another went in: exit 3, as
    # ingest, import and detect say "some inputs refused, the others done" (it was 1, "nothing done").
    assert res.exit_code == 3, res.output
    report = json.loads(res.stdout)
    assert [o["item_id"] for o in report["observations"]] == ["S2A_CLEAR_20241005"]
    assert {f["item_id"] for f in report["failed"]} == {"S2A_FORBIDDEN_20241018", "S2B_SIGNED_20241015"}
    for failed in report["failed"]:  # -q --json: standard error still says why the exit code is not 0
        assert f"failed {failed['item_id']}: {failed['error']}" in res.stderr
    res = run(main, ["search", "port", *args, "--max-cloud", "20", "--json"])
    rows = {r["item_id"]: r for r in json.loads(res.stdout)}
    assert "S2B_CLOUDY_20241008" not in rows  # cloud over the site is known now and filtered on
    assert rows["S2A_CLEAR_20241005"]["site_cloud_pct"] == 0.0 and rows["S2A_CLEAR_20241005"]["fetched"]
    res = run(main, ["show", "-w", str(ws.root), "port/S2A_CLEAR_20241005"])
    assert res.exit_code == 0, res.output
    for text in (state.url, "sentinel-2-l2a", "S2A_CLEAR_20241005", "sha256", "2024-10-05"):
        assert text in res.output
    res = run(main, ["show", "-w", str(ws.root), "port/S2A_CLEAR_20241005", "--json"])
    assert json.loads(res.stdout)["provenance"]["stac_item"]["id"] == "S2A_CLEAR_20241005"
    # Only the failing items in the period: nothing went in, exit 1.
    one_day = [*args[:-4], "--from", "2024-10-18", "--to", "2024-10-18"]
    res = run(main, ["-q", "fetch", "port", *one_day, "--json"])
    assert res.exit_code == 1 and [f["item_id"] for f in json.loads(res.stdout)["failed"]] == ["S2A_FORBIDDEN_20241018"]


def test_an_archived_cog_of_a_catalogue_named_by_url_with_a_port_imports_as_its_scene(world, tmp_path):
    """A catalogue named by its URL is the provider ``127.0.0.1:PORT``, so its scenes' ids hold one colon more:
    a colleague's archived COG of a scene this workspace fetched too crashed `import` and `ingest`
    (sqlite3.IntegrityError, UNIQUE observations.site_id, scene_id), its item id read as
    ``sentinel-2-l2a:S2A_…``; it is that scene's observation, and one, in a workspace without it too."""
    state, ws, _ = world
    state.fail_first_searches = 0
    run = CliRunner().invoke
    args = ["--catalog", state.url, "--collection", "s2", "--from", "2024-10-05", "--to", "2024-10-05"]
    res = run(main, ["fetch", "port", "-w", str(ws.root), *args])
    assert res.exit_code == 0, res.output
    cog = ws.root / "archive" / "port" / "S2A_CLEAR_20241005.tif"
    fetched = f"{state.url.removeprefix('http://')}:sentinel-2-l2a:S2A_CLEAR_20241005"
    for name, fetch_first in (("fetched-too", True), ("fresh", False)):
        other = init_workspace(tmp_path / name)
        with other.store() as st:
            st.put_site(SITE)
        if fetch_first:
            assert run(main, ["fetch", "port", "-w", str(other.root), *args]).exit_code == 0
        for command in (["import", str(cog)], ["ingest", "port", str(cog)]):
            res = run(main, [*command, "-w", str(other.root)])
            assert res.exit_code == 0 and res.exception is None, (command, res.output)
            with other.store() as st:
                (obs,) = st.observations("port")
            assert (obs.id, obs.scene.id) == ("port/S2A_CLEAR_20241005", fetched), command


def test_a_password_in_the_catalogue_url_is_never_recorded(world):
    """`--catalog https://ana:pw@host/stac` made the provider `ana:pw@host`: the password went into every scene id
    (database, COG tags, report) and was printed in the summary and stored as the provenance's catalog_url."""
    state, ws, _ = world
    state.fail_first_searches = 0
    url = state.url.replace("http://", "http://ana:s3cret@")
    res = CliRunner().invoke(main, ["fetch", "port", "-w", str(ws.root), "--catalog", url, "--collection", "s2",
                                    "--from", "2024-10-05", "--to", "2024-10-05"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "s3cret" not in res.output and "http://ana:***@127.0.0.1" in res.output
    with ws.store() as st:
        (obs,) = st.observations("port")
    assert obs.scene.id == f"{state.url.removeprefix('http://')}:sentinel-2-l2a:S2A_CLEAR_20241005"
    assert [f for f in ws.root.rglob("*") if f.is_file() and b"s3cret" in f.read_bytes()] == []


def test_a_collection_the_catalogue_does_not_have_is_named_not_an_empty_search(world):
    """A STAC API answers a search of a collection it lacks (a typo, Earth Search v0's sentinel-s2-l2a-cogs)
    with an empty page: `fetch` said 'fetched 0, skipped 0, failed 0' and exited 0, a cron none the wiser."""
    state, ws, _ = world
    state.fail_first_searches = 0
    for command in ("fetch", "search"):
        res = CliRunner().invoke(main, [command, "port", "-w", str(ws.root), "--catalog", state.url, "--collection",
                                        "sentinel-s2-l2a-cogs", "--from", "2024-10-01", "--to", "2024-10-31"])  # fmt: skip
        assert res.exit_code == 1, res.output
        assert f"{state.url} has no collection 'sentinel-s2-l2a-cogs'; its collections: sentinel-1-grd, sentinel-2-l2a" in res.output
    # A collection it has, with nothing in the dates: an empty answer, as before.
    res = CliRunner().invoke(main, ["fetch", "port", "-w", str(ws.root), "--catalog", state.url, "--collection", "s2",
                                    "--from", "2023-10-01", "--to", "2023-10-31"])  # fmt: skip
    assert res.exit_code == 0 and "fetched 0, skipped 0, failed 0" in res.output, res.output



@pytest.mark.parametrize(("status", "refused"), [(404, True), (500, False)])
def test_a_collection_answered_404_is_named_as_pystac_client_0_7_raises_it(status: int, refused: bool) -> None:
    """pystac-client 0.7 raises the API's 404 for /collections/ID (APIError) where 0.8 and later return None: the
    missing collection came out as "fetched 0" there. A 404 names it; any other error leaves the empty search."""
    from pystac_client.exceptions import APIError

    class OldClient:
        def conforms_to(self, _: object) -> bool:
            return True

        def get_collection(self, _: str) -> None:
            error = APIError("not found")
            error.status_code = status
            raise error

        def get_collections(self) -> list[Any]:
            return [type("C", (), {"id": "sentinel-2-l2a"})()]

    catalog = stac.Catalog(name="http://127.0.0.1:9", url="http://127.0.0.1:9", provider="test")
    if refused:
        with pytest.raises(SourceError, match=r"has no collection 'sentinel-s2-l2a-cogs'; its collections: sentinel-2-l2a"):
            stac._check_collection_exists(OldClient(), catalog, "sentinel-s2-l2a-cogs")
    else:
        stac._check_collection_exists(OldClient(), catalog, "sentinel-s2-l2a-cogs")


def _landsat_item(files: Path, base: str, item_id: str, when: str, qa: int) -> dict[str, Any]:
    """A Landsat C2 L2 item (30 m SR bands of open water, its QA_PIXEL all ``qa``) over the site."""
    x, y = _site_xy()
    x0, y1 = np.floor((x - 1500) / 30) * 30, np.ceil((y + 1500) / 30) * 30
    n = 100
    assets: dict[str, Any] = {}
    for key in ("blue", "green", "red", "nir08"):
        _cog(files / "cogs" / f"{item_id}_{key}.tif", np.full((n, n), 8800, np.uint16), Affine(30, 0, x0, 0, -30, y1))
        assets[key] = {"href": f"{base}/files/cogs/{item_id}_{key}.tif", "type": "image/tiff",
                       "raster:bands": [{"nodata": 0, "scale": 2.75e-05, "offset": -0.2}], "roles": ["data"]}
    _cog(files / "cogs" / f"{item_id}_qa_pixel.tif", np.full((n, n), qa, np.uint16), Affine(30, 0, x0, 0, -30, y1), nodata=1)
    assets["qa_pixel"] = {"href": f"{base}/files/cogs/{item_id}_qa_pixel.tif", "type": "image/tiff", "roles": ["cloud"]}
    foot = reproject_geometry(box(x0, y1 - n * 30, x0 + n * 30, y1), UTM, "EPSG:4326")
    return {"type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": "landsat-c2-l2",
            "geometry": mapping(foot), "bbox": list(foot.bounds),
            "properties": {"datetime": when, "platform": "landsat-9", "eo:cloud_cover": 100.0},
            "assets": assets, "links": []}  # fmt: skip


def test_a_fetched_landsat_scenes_qa_pixel_is_its_cloud_mask_in_detect(world):
    """Fetch archived a Landsat scene's QA_PIXEL as raw bits under the name QA, which no detector reads (they
    read SCL): a scene cloudy over the whole site (fetch: cloud 100 %) was masked by the spectral test alone,
    which saw clear water, and `detect` stored cloud 0 %: a usable date with no vessel. It is archived as SCL
    classes, as `ingest` archives a Landsat product's QA_PIXEL."""
    state, ws, store = world
    state.items = [_landsat_item(state.files, state.url, "LC09_L2SP_114030_20241021_20241022_02_T1",
                                 "2024-10-21T01:35:10Z", qa=22280)]  # fmt: skip
    catalog = Catalog(name="local", url=state.url, provider="local-stac")
    report = fetch_scenes(ws, store, SITE, catalog, FetchOptions("landsat-c2-l2", T0, T1, retries=3, backoff=0.01))
    (obs,) = report.observations
    assert obs.cloud_fraction == 1.0 and obs.provenance["bands"][-1] == "SCL"
    with rasterio.open(ws.root / obs.path) as src:
        assert src.descriptions[-1] == "SCL" and set(np.unique(src.read(src.count))) == {9.0}
    res = CliRunner().invoke(main, ["detect", "port", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    with ws.store() as st:
        (after,) = st.observations("port")
    assert after.cloud_fraction == 1.0


def _strict_json(text: str) -> Any:
    """JSON as RFC 8259 has it: NaN and Infinity, which Python writes and reads by default, refused."""
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_catalogue_saying_nan_gives_null_not_invalid_json(world):
    """eo:cloud_cover "NaN" (or "Infinity") was read as float('nan'), so search --json printed
    NaN, which is not JSON (jq and JSON.parse refuse it); an orbit given as text was printed as text."""
    state, ws, store = world
    state.fail_first_searches = 0
    state.items[0]["properties"].update({"eo:cloud_cover": "NaN", "sat:relative_orbit": "n/a"})
    state.items[1]["properties"].update({"eo:cloud_cover": "Infinity", "sat:relative_orbit": 31.0})
    args = ["-w", str(ws.root), "--catalog", state.url, "--collection", "s2", "--from", "2024-10-05", "--to", "2024-10-08"]
    res = CliRunner().invoke(main, ["search", "port", *args, "--json"])
    assert res.exit_code == 0, res.output
    rows = _strict_json(res.stdout)
    assert [(r["item_id"], r["scene_cloud_pct"], r["orbit"]) for r in rows] == [
        ("S2A_CLEAR_20241005", None, None), ("S2B_CLOUDY_20241008", None, 31)]


def test_dates_in_other_iso_forms_and_bad_dates_name_their_option(world):
    """``--to 20241005`` is the whole of 5 October, as ``--to 2024-10-05`` is; a bad date names its option."""
    state, ws, store = world
    state.fail_first_searches = 0
    base = ["search", "port", "-w", str(ws.root), "--catalog", state.url, "--collection", "s2", "--json"]
    for to in ("2024-10-05", "20241005"):
        res = CliRunner().invoke(main, [*base, "--from", "20241005", "--to", to])
        assert res.exit_code == 0, res.output
        assert [r["item_id"] for r in json.loads(res.stdout)] == ["S2A_CLEAR_20241005"], to
    res = CliRunner().invoke(main, [*base, "--from", "2024/10/01", "--to", "2024-10-05"])
    assert res.exit_code == 2 and "Invalid value for '--from': '2024/10/01' is not an ISO 8601 date or time" in res.output
    res = CliRunner().invoke(main, [*base, "--from", "2024-10-01", "--to", "2024-10-32"])
    assert res.exit_code == 2 and "Invalid value for '--to': '2024-10-32' is not an ISO 8601 date or time" in res.output
    for cmd in ("search", "fetch"):  # NaN passed FloatRange(0, 100) and filtered nothing
        res = CliRunner().invoke(main, [cmd, *base[1:], "--from", "2024-10-01", "--to", "2024-10-05", "--max-cloud", "nan"])
        assert res.exit_code == 2 and "--max-cloud" in res.output and "'nan' is not a finite number" in res.output


# -- the server -----------------------------------------------------------------------------------


@dataclass
class StacServer:
    """State of the fake catalogue; ``url`` is its root once started."""

    files: Path
    items: list[dict[str, Any]] = field(default_factory=list)
    fail_first_searches: int = 0
    require_auth: str = ""
    """When set, the API answers 403 unless ``Authorization: Bearer <require_auth>``."""
    retry_after: str = ""
    """``Retry-After`` header of the failing first searches (then answered 429, not 503)."""
    loop_pages: bool = False
    """When set, every search page links to itself as the next one (a catalogue whose paging loops)."""
    token_uses: int = 3
    """How many signed reads one token allows before it 'expires' (answers 403)."""
    log: list[tuple[str, str, int]] = field(default_factory=list)
    next_url: str = ""
    """Root that search pages' "next" links name (blank: ``url``)."""
    conforms: bool = True
    """The root lists its conformance classes (False: a STAC API from before 1.0 that lists none)."""
    search_link: bool = True
    """The root links its /search (False: a static catalogue, a catalog.json and its items)."""
    authorised: list[str] = field(default_factory=list)
    """``Host`` of every request that carried an ``Authorization`` header."""
    tokens: dict[str, int] = field(default_factory=dict)
    issued: int = 0
    url: str = ""
    delay: float = 0.0
    """Seconds each asset request waits before its answer (a slow catalogue, to stop a fetch mid-item)."""

    def new_token(self) -> str:
        self.issued += 1
        token = f"tok{self.issued}"
        self.tokens[token] = self.token_uses
        return token

    def start(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def status_count(self, path_part: str, status: int) -> int:
        return sum(1 for _, p, s in self.log if path_part in p and s == status)


def _handler(state: StacServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, status: int, body: bytes = b"", ctype: str = "application/json", headers: dict[str, str] | None = None) -> None:
            state.log.append((self.command, self.path, status))
            if self.headers.get("Authorization"):
                state.authorised.append(self.headers.get("Host", ""))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, obj: Any, status: int = 200) -> None:
            self._send(status, json.dumps(obj).encode())

        def _authorised(self) -> bool:
            if state.require_auth and self.headers.get("Authorization") != f"Bearer {state.require_auth}":
                self._json({"code": "Forbidden", "description": "missing or bad token"}, 403)
                return False
            return True

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path.startswith("/files/"):
                return self._file(url.path[len("/files/"):], parse_qs(url.query))
            if not self._authorised():
                return
            if url.path in ("/", ""):
                return self._json(_landing(state))
            if url.path == "/conformance":
                return self._json({"conformsTo": _CONFORMS})
            if url.path == "/token":
                return self._json({"token": state.new_token()})
            known = sorted({item["collection"] for item in state.items})
            if url.path == "/collections":
                return self._json({"collections": [_collection(c) for c in known], "links": []})
            m = re.fullmatch(r"/collections/([^/]+)", url.path)
            if m and m.group(1) not in known:
                return self._json({"code": "NotFound", "description": f"no collection {m.group(1)}"}, 404)
            if m:
                return self._json({"type": "Collection", "id": m.group(1), "stac_version": "1.0.0",
                                   "description": "test", "license": "proprietary", "links": [],
                                   "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]},
                                              "temporal": {"interval": [[None, None]]}}})
            self._json({"code": "NotFound"}, 404)

        def do_POST(self) -> None:
            if urlparse(self.path).path != "/search":
                return self._json({"code": "NotFound"}, 404)
            if not self._authorised():
                return
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            searches = sum(1 for m, p, _ in state.log if m == "POST" and p == "/search")
            if searches < state.fail_first_searches and state.retry_after:
                body_ = json.dumps({"code": "TooManyRequests"}).encode()
                return self._send(429, body_, headers={"Retry-After": state.retry_after})
            if searches < state.fail_first_searches:
                return self._json({"code": "ServiceUnavailable"}, 503)
            self._json(_search(state, body))

        def _file(self, name: str, query: dict[str, list[str]]) -> None:
            if state.delay:
                time.sleep(state.delay)
            if name.startswith("forbidden/"):
                return self._send(403, b"AccessDenied", "text/plain")
            if name.startswith("signed/"):
                token = (query.get("token") or [""])[0]
                if state.tokens.get(token, 0) <= 0:
                    return self._send(403, b"AuthenticationFailed: token expired", "text/plain")
                if self.command == "GET":
                    state.tokens[token] -= 1
            path = state.files / name
            if not path.is_file():
                return self._send(404, b"", "text/plain")
            data = path.read_bytes()
            rng = self.headers.get("Range")
            if rng and (m := re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())):
                start = int(m.group(1))
                end = min(int(m.group(2)) if m.group(2) else len(data) - 1, len(data) - 1)
                return self._send(206, data[start : end + 1], "application/octet-stream",
                                  {"Content-Range": f"bytes {start}-{end}/{len(data)}", "Accept-Ranges": "bytes"})
            self._send(200, data, "application/octet-stream", {"Accept-Ranges": "bytes"})

    return Handler


_CONFORMS = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/collections",
]


def _collection(cid: str) -> dict[str, Any]:
    return {"type": "Collection", "id": cid, "stac_version": "1.0.0", "description": "test", "license": "proprietary",
            "links": [], "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[None, None]]}}}  # fmt: skip


def _landing(state: StacServer) -> dict[str, Any]:
    url = state.url
    links = [
        {"rel": "self", "href": f"{url}/", "type": "application/json"},
        {"rel": "root", "href": f"{url}/", "type": "application/json"},
    ]
    if state.conforms:
        links.append({"rel": "conformance", "href": f"{url}/conformance", "type": "application/json"})
    if state.search_link:
        links += [
            {"rel": "search", "href": f"{url}/search", "type": "application/geo+json", "method": "POST"},
            {"rel": "search", "href": f"{url}/search", "type": "application/geo+json", "method": "GET"},
        ]
    else:
        links += [{"rel": "item", "href": f"{url}/items/{item['id']}.json", "type": "application/json"} for item in state.items]
    return {"type": "Catalog", "id": "test", "stac_version": "1.0.0", "description": "sitewatch test catalogue",
            **({"conformsTo": _CONFORMS} if state.conforms else {}), "links": links}  # fmt: skip


def _search(state: StacServer, body: dict[str, Any]) -> dict[str, Any]:
    wanted = set(body.get("collections") or [])
    area = box(*body["bbox"]) if body.get("bbox") else None
    start = end = None
    if body.get("datetime"):
        a, _, b = str(body["datetime"]).partition("/")
        start = utc(a) if a not in ("", "..") else None
        end = utc(b) if b not in ("", "..") else None
    hits = []
    for item in state.items:
        if wanted and item["collection"] not in wanted:
            continue
        if area is not None and not shape(item["geometry"]).intersects(area):
            continue
        t = utc(item["properties"]["datetime"])
        if (start and t < start) or (end and t > end):
            continue
        hits.append(item)
    limit = int(body.get("limit") or 10)
    offset = int(body.get("token") or 0)
    page = hits[offset : offset + limit]
    links = []
    if offset + limit < len(hits) or state.loop_pages:
        token = offset if state.loop_pages else offset + limit
        links.append({"rel": "next", "href": f"{state.next_url or state.url}/search", "method": "POST", "type": "application/geo+json",
                      "body": {**body, "token": str(token)}})
    return {"type": "FeatureCollection", "features": page, "links": links,
            "numberMatched": len(hits), "numberReturned": len(page)}


def test_urllib3_retry_warnings_only_with_verbose() -> None:
    import logging

    pool_log = logging.getLogger("urllib3.connectionpool")
    pool_log.setLevel(logging.NOTSET)
    CliRunner().invoke(main, ["-v", "sites", "list", "--builtin", "--json"])
    assert pool_log.level == logging.NOTSET
    CliRunner().invoke(main, ["sites", "list", "--builtin", "--json"])
    assert pool_log.level == logging.ERROR


def test_two_fetches_keep_each_others_site_figures(tmp_path: Path) -> None:
    """The per-site cloud figures were read at the start of a fetch and written whole at its end
    through one fixed .tmp name: a second fetch running at once lost the first one's figures, or
    crashed when the first renamed the shared temporary file away."""
    from sitewatch import fetch

    ws = init_workspace(tmp_path / "ws")
    first, second = fetch._load_stats(ws), fetch._load_stats(ws)  # both runs read an empty cache
    fetch._save_stats(ws, first | {"port|a|s1": {"valid_fraction": 1.0}})
    fetch._save_stats(ws, second | {"pier|b|s2": {"valid_fraction": 0.5}})
    assert set(fetch._load_stats(ws)) == {"port|a|s1", "pier|b|s2"}
    assert not [p.name for p in fetch._stats_file(ws).parent.iterdir() if p.name != "site-stats.json"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # "false" in quotes is text, which Python takes as true: every read billed to the keys' owner
        ('requester_pays = "false"', 'requester_pays must be true or false (no quotes), got \'false\''),
        ('assets_need_credentials = "no"', "assets_need_credentials must be true or false"),
        ("token_env = 5", "token_env must be the name of an environment variable"),  # no token would ever be sent
        ('access_key_env = "MY KEY"', "access_key_env must be the name of an environment variable"),
        ("token = 12345", "token must be text in quotes"),
        ('aliases = ["s2"]', "aliases must be a table of short name"),  # was a later AttributeError traceback
        ("s3_endpoint = true", "s3_endpoint must be a host name"),
        ("provider = 5", "provider must be a non-empty name"),
    ],
)
def test_catalogue_values_of_the_wrong_type_are_named(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "sitewatch.toml").write_text(f'[catalogs.mine]\nurl = "https://stac.example.org/v1"\n{line}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        resolve_catalog("mine", tmp_path)
    assert message in str(err.value) and "[catalogs.mine]" in str(err.value) and "sitewatch.toml" in str(err.value)
    assert "12345" not in str(err.value)  # a token is never shown, even a wrong one


def test_catalogue_tables_and_the_catalog_setting_are_checked_by_every_command(tmp_path: Path) -> None:
    """A typo in [catalogs.NAME] or in the catalog setting was found only by the search or fetch
    that used it, and the unknown name was not said to come from sitewatch.toml."""
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    for text, message in [
        ('[catalogs.mine]\nurl = "https://stac.example.org/v1"\ntokenenv = "X"\n', "[catalogs.mine] has unknown keys ['tokenenv']"),
        ('[catalogs.mine]\nurl = "https://stac.example.org/v1"\nrequester_pays = "false"\n', "requester_pays must be true or false"),
        ('[settings]\ncatalog = "earth-serch"\n', "unknown catalogue 'earth-serch' ("),
        ('catalogs = "https://stac.example.org/v1"\n', "catalogs must be tables"),
    ]:
        ws.config_path.write_text(text, encoding="utf-8")
        r = CliRunner().invoke(main, ["sites", "list", "-w", str(ws.root)])
        assert r.exit_code == 1 and message in r.output and "sitewatch.toml" in r.output, (text, r.output)
    ws.config_path.write_text('[settings]\ncatalog = "mine"\n[catalogs.mine]\nurl = "https://stac.example.org/v1/"\n', encoding="utf-8")
    assert CliRunner().invoke(main, ["sites", "list", "-w", str(ws.root)]).exit_code == 0
    assert resolve_catalog("mine", ws.root).url == "https://stac.example.org/v1"
    ws.config_path.write_text("[settings]\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["search", "x", "-w", str(ws.root), "--collection", "s2", "--from", "2024-10-01",
                                  "--to", "2024-10-02"], env={"SITEWATCH_CATALOG": "earth-serch"})  # fmt: skip
    assert r.exit_code == 1 and "unknown catalogue 'earth-serch' (SITEWATCH_CATALOG)" in r.output, r.output


@pytest.mark.parametrize("command", ["search", "fetch"])
def test_search_and_fetch_name_where_an_unknown_catalogue_came_from(tmp_path: Path, command: str) -> None:
    """Both commands take the catalogue from --catalog, else the setting, and say which of them named an unknown one."""
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    args = [command, "x", "-w", str(ws.root), "--collection", "s2", "--from", "2024-10-01", "--to", "2024-10-02"]
    r = CliRunner().invoke(main, [*args, "--catalog", "earth-serch"], env={"SITEWATCH_CATALOG": "cdse"})
    assert r.exit_code == 1 and "unknown catalogue 'earth-serch' (--catalog)" in r.output, r.output
    r = CliRunner().invoke(main, args, env={"SITEWATCH_CATALOG": "earth-serch"})
    assert r.exit_code == 1 and "unknown catalogue 'earth-serch' (SITEWATCH_CATALOG)" in r.output, r.output


def test_search_and_ingest_dates_at_the_ends_of_the_calendar_are_named_not_a_traceback(tmp_path: Path) -> None:
    """--to 9999-12-31 and a time before year 1 once in UTC ended in an OverflowError traceback."""
    from datetime import UTC, datetime

    from sitewatch.cli.options import DateOrTime

    assert DateOrTime("end").convert("9999-12-31", None, None) == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert DateOrTime("end").convert("2024-10-31", None, None) == datetime(2024, 10, 31, 23, 59, 59, 999999, tzinfo=UTC)
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    tif = tmp_path / "a.tif"
    tif.write_bytes(b"")
    for args, option in (
        (["search", "port", "--collection", "s2", "--from", "0001-01-01T00:00+05:00", "--to", "2024-10-02"], "--from"),
        (["fetch", "port", "--collection", "s2", "--from", "2024-10-01", "--to", "0001-01-01T00:00+05:00"], "--to"),
        (["ingest", "port", str(tif), "--acquired", "0001-01-01T00:00+05:00"], "--acquired"),
    ):
        res = CliRunner().invoke(main, [*args, "-w", str(ws.root)])
        assert res.exit_code == 2 and f"Invalid value for '{option}': '0001-01-01T00:00+05:00'" in res.output, res.output
        assert "out of range in UTC" in res.output and not isinstance(res.exception, OverflowError)


def test_fetch_reads_infinite_values_as_no_data(tmp_path: Path) -> None:
    """NaN and ±inf are no data for fetch as for ingest and import (one rule,
    :func:`sitewatch.ingest.no_data_as_nan`): before resampling, and after a conversion."""
    from sitewatch.fetch import read_window

    grid = site_grid(SITE, 10.0)
    x, y = _site_xy()
    data = np.random.default_rng(0).uniform(0.02, 0.05, (300, 300)).astype("float32")
    data[100:120, 100:120] = np.inf
    data[150:155, 150:155] = -np.inf
    t = Affine(10, 0, x - 1495.0, 0, -10, y + 1495.0)  # half a pixel off the site's grid
    _cog(tmp_path / "inf.tif", data, t, nodata=None)
    _cog(tmp_path / "nan.tif", np.where(np.isinf(data), np.float32(np.nan), data), t, nodata=None)
    got, _ = read_window(str(tmp_path / "inf.tif"), grid)  # bilinear
    want, _ = read_window(str(tmp_path / "nan.tif"), grid)
    assert not np.isinf(got).any() and np.isnan(got).any()
    assert np.array_equal(got, want, equal_nan=True)
    # Values converted as they are read (sigma0 from DN), a zero gain among them.
    gain = np.ones_like(data)
    gain[130:135, 130:135] = 0.0

    def convert(a: np.ndarray, w: rasterio.windows.Window) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return a / gain[w.toslices()]

    got, _ = read_window(str(tmp_path / "nan.tif"), grid, convert=convert)
    assert not np.isinf(got).any()
