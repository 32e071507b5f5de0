"""Commercial deliveries as an analyst receives them (tiny synthetic ones made here): a Planet order still in its zip
beside other images, an 8-band order of both radiance and surface reflectance, a Maxar tile without its .IMD dated by
its name, a tiled Maxar product given by its .TIL (one image across the seam), and a Maxar order in NITF."""

from __future__ import annotations

import json
import math
import os
import shutil
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.ingest import expand_paths
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.testing.planet import udm2_of_classes, write_planet_scene
from sitewatch.workspace import Workspace

SITE = tiny_site("dunai", half_deg=0.003)
CRS, _X, _Y = site_utm_origin(SITE)
P = 3.0
X0, Y0 = math.floor(_X / P) * P, math.ceil(_Y / P) * P
H, W = 300, 260


def _scene(folder: Path, scene_id: str, acquired: str) -> Path:
    """A PSScene delivery (4-band SR, UDM2 and metadata JSON) of harbour water over the whole site."""
    water = np.broadcast_to(np.array([0.045, 0.040, 0.022, 0.012])[:, None, None], (4, H, W)).copy()
    water += np.random.default_rng(int(scene_id[:8])).normal(0, 0.002, water.shape)  # two passes' pixels differ
    udm2 = udm2_of_classes(np.ones((H, W), np.uint8))
    return write_planet_scene(folder, water, udm2, crs=CRS, west=X0, north=Y0, scene_id=scene_id, acquired=acquired)


def _zip_order(order: Path, zip_path: Path) -> None:
    """Pack a Planet order as Planet delivers it: its manifest.json and the PSScene folder of its files."""
    (order / "manifest.json").write_text(json.dumps({"name": "", "files": []}), encoding="utf-8")
    with zipfile.ZipFile(zip_path, "w") as zf:
        for f in sorted(order.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(order).as_posix())


def _ingest(ws: Workspace, *paths: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = CliRunner().invoke(main, ["ingest", SITE.id, *map(str, paths), "-w", str(ws.root), "--workers", "1", "--json"])
    return r.exit_code, json.loads(r.stdout)


def test_a_planet_order_still_in_its_zip_in_a_folder_is_named_not_passed_over(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    incoming = tmp_path / "incoming"
    _scene(incoming / "order_1017" / "PSScene", "20241017_004012_22_2470", "2024-10-17T00:40:12Z")
    packed = tmp_path / "order_1020"
    _scene(packed / "PSScene", "20241020_011530_56_24a3", "2024-10-20T01:15:30Z")
    _zip_order(packed, incoming / "order_1020.zip")
    # A zip of no image (an AIS download) is no delivery of imagery: left alone, as before.
    with zipfile.ZipFile(incoming / "ais_2024_10.zip", "w") as zf:
        zf.writestr("ais.csv", "mmsi,time,lat,lon\n")

    code, out = _ingest(ws, incoming)
    # Before, the zip was passed over in silence (exit 0): the 20 October scene never went in, and nothing said so.
    assert code == 3, out
    assert [o["id"] for o in out["ingested"]] == ["dunai/20241017_004012_22_2470_3B_AnalyticMS_SR_clip"]
    (refused,) = out["refused"] + out["skipped"]
    assert refused["file"] == str(incoming / "order_1020.zip")
    unpacked = incoming / "order_1020"
    assert f"`unzip {incoming / 'order_1020.zip'} -d {unpacked}`, and give the folder {unpacked}," in refused["reason"]

    # A folder holding only the zip says so, not "no GeoTIFF files found".
    alone = tmp_path / "alone"
    alone.mkdir()
    (incoming / "order_1020.zip").rename(alone / "order_1020.zip")
    code, out = _ingest(ws, alone)
    assert code == 1 and [r["file"] for r in out["refused"] + out["skipped"]] == [str(alone / "order_1020.zip")], out

    # Unzipped beside it, its scene goes in (UDM2 and metadata JSON with it) and the zip is not named again.
    with zipfile.ZipFile(alone / "order_1020.zip") as zf:
        zf.extractall(alone / "order_1020")
    code, out = _ingest(ws, alone)
    assert code == 0 and out["refused"] == out["skipped"] == [], out
    (obs,) = out["ingested"]
    assert obs["id"] == "dunai/20241020_011530_56_24a3_3B_AnalyticMS_SR_clip" and obs["acquired"] == "2024-10-20T01:15:30Z"


def _maxar_tile(folder: Path, name: str) -> Path:
    """A 4-band Maxar tile of counts over the site, without the .IMD or .XML of its product beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = np.stack([np.full((H, W), 300 + k, np.uint16) for k in range(4)])
    counts += np.uint16(zlib.crc32(name.encode()) % 97)  # each tile's pixels its own: no two are one image copied
    return write_tiff(folder / name, counts, crs=CRS, transform=Affine(P, 0, X0, 0, -P, Y0))


def test_a_maxar_tile_without_its_imd_takes_its_names_acquisition_time(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    tile = _maxar_tile(tmp_path / "mul", "24OCT19011107-M2AS_R1C1-012345678010_01_P001.TIF")
    code, out = _ingest(ws, tile)
    # Before, "no acquisition time in its tags, a sidecar JSON or its name; pass --acquired" (exit 1).
    assert code == 0, out
    (obs,) = out["ingested"]
    assert obs["acquired"] == "2024-10-19T01:11:07Z" and obs["acquired_date_only"] is False
    r = CliRunner().invoke(main, ["show", obs["id"], "-w", str(ws.root), "--json"])
    assert json.loads(r.stdout)["provenance"]["acquired_from"] == "file name (Maxar's acquisition time)"

    # An order number whose digits read as a date (2019-10-15 12:34) no longer dates the image.
    other = _maxar_tile(tmp_path / "mul2", "24OCT20011500-M2AS-201910151234_01_P001.TIF")
    code, out = _ingest(ws, other)
    assert code == 0 and out["ingested"][0]["acquired"] == "2024-10-20T01:15:00Z", out
    # A Polar Geospatial Center name holds the same time twice; a name of a future day is no date.
    pgc = _maxar_tile(tmp_path / "pgc", "WV03_20241021011107_104001009E2D6E00_24OCT21011107-M2AS-012345678010_01_P001_u16ns32653.tif")
    code, out = _ingest(ws, pgc)
    assert code == 0 and out["ingested"][0]["acquired"] == "2024-10-21T01:11:07Z", out
    future = datetime.now(UTC).replace(year=datetime.now(UTC).year + 2).strftime("%y%b%d%H%M%S").upper()
    code, out = _ingest(ws, _maxar_tile(tmp_path / "future", f"{future}-M2AS-012345678010_01_P001.TIF"))
    assert code == 1 and "pass --acquired" in out["refused"][0]["reason"], out


def _imd_with_map_grid(west: float, north: float, pixel: float) -> str:
    """A WorldView-3 Standard product's .IMD (SYNTHETIC figures of real size), with the map grid GDAL's TIL driver
    places the tiles' mosaic by (``MAP_PROJECTED_PRODUCT``: ULX/ULY, the first pixel's centre)."""
    bands = "".join(
        f"BEGIN_GROUP = BAND_{b}\n\tabsCalFactor = {k:.6e};\n\teffectiveBandwidth = {bw:.6e};\nEND_GROUP = BAND_{b}\n"
        for b, (k, bw) in {"B": (1.260825e-02, 5.43e-02), "G": (9.713071e-03, 6.30e-02),
                           "R": (1.103623e-02, 5.74e-02), "N": (1.224380e-02, 9.89e-02)}.items()
    )  # fmt: skip
    return (
        'version = "28.4";\ngenerationTime = 2024-10-20T10:12:44.000000Z;\nproductOrderId = "012345678010_01_P001";\n'
        f'bandId = "Multi";\nproductLevel = "LV2A";\nbitsPerPixel = 16;\nnumRows = {H};\nnumColumns = {W};\n{bands}'
        "BEGIN_GROUP = MAP_PROJECTED_PRODUCT\n\tearliestAcqTime = 2024-10-19T01:11:07.512345Z;\n\tmapProjName = \"UTM\";\n"
        f"\tmapZone = 53;\n\tmapHemi = \"N\";\n\tproductGSD = {pixel};\n\tULX = {west + pixel / 2};\n\tULY = {north - pixel / 2};\n"
        f"\tcolStepSize = {pixel};\n\trowStepSize = {pixel};\nEND_GROUP = MAP_PROJECTED_PRODUCT\n"
        'BEGIN_GROUP = IMAGE_1\n\tsatId = "WV03";\n\tfirstLineTime = 2024-10-19T01:11:07.512345Z;\n\tmeanSunEl = 31.7;\n'
        "END_GROUP = IMAGE_1\nEND;\n"
    )


def _tiled_order(folder: Path, dn: int = 300) -> tuple[Path, list[Path]]:
    """A tiled Maxar multispectral product: two tiles side by side (R1C1, R1C2), its .IMD and the .TIL listing them."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = np.stack([np.full((H, W), dn + k, np.uint16) for k in range(4)])
    half = W // 2
    tiles = []
    for c, (c0, c1) in enumerate(((0, half), (half, W)), start=1):
        tiles.append(write_tiff(
            folder / f"24OCT19011107-M2AS_R1C{c}-012345678010_01_P001.TIF", counts[:, :, c0:c1],
            crs=CRS, transform=Affine(P, 0, X0 + c0 * P, 0, -P, Y0),
        ))  # fmt: skip
    (folder / "24OCT19011107-M2AS-012345678010_01_P001.IMD").write_text(_imd_with_map_grid(X0, Y0, P), encoding="utf-8")
    groups = "".join(
        f'BEGIN_GROUP = TILE_{i}\n\tfilename = "{t.name}";\n\tULColOffset = {c0};\n\tULRowOffset = 0;\n'
        f"\tLRColOffset = {c1 - 1};\n\tLRRowOffset = {H - 1};\nEND_GROUP = TILE_{i}\n"
        for i, (t, (c0, c1)) in enumerate(zip(tiles, ((0, half), (half, W)), strict=True), start=1)
    )
    til = folder / "24OCT19011107-M2AS-012345678010_01_P001.TIL"
    til.write_text(f'version = "AA";\nnumTiles = 2;\ntileUnits = "Pixels";\ntileOverlap = 0;\n{groups}END;\n', encoding="utf-8")
    return til, tiles


def test_a_tiled_maxar_product_given_by_its_til_is_one_image_whose_tiles_the_provenance_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    til, tiles = _tiled_order(tmp_path / "012345678010_01_P001_MUL")
    code, out = _ingest(ws, til)
    assert code == 0, out
    (obs,) = out["ingested"]  # one image across the seam, not two pieces
    assert obs["valid_pct"] == 100.0 and obs["acquired"] == "2024-10-19T01:11:07.512000Z"
    prov = json.loads(CliRunner().invoke(main, ["show", obs["id"], "-w", str(ws.root), "--json"]).stdout)["provenance"]
    assert prov["maxar"]["platform"] == "worldview-3"  # TOA by the product's .IMD
    # The pixels are the tiles': each is named with its sha256 (before: the .TIL's own, a list of names, alone).
    assert [t["path"] for t in prov["tiles"]] == [str(t.resolve()) for t in tiles]
    assert all(len(t["sha256"]) == 64 for t in prov["tiles"]) and prov["tiles"][0]["sha256"] != prov["tiles"][1]["sha256"]

    # The folder after it gives the tiles, the same acquisition: not counted a second time.
    code, out = _ingest(ws, til.parent)
    assert code == 1 and out["ingested"] == [] and len(out["refused"] + out["skipped"]) == 2, out
    # The way to keep a tile instead is said as it works: a tile put at the .TIL's path would not be read as the .TIL.
    reason = (out["refused"] + out["skipped"])[0]["reason"]
    assert "is not of the kind of" in reason and f"`sitewatch observations remove {obs['id']}`" in reason, reason

    # A tile delivered again under the same .TIL is read again by --new-only (the .TIL alone did not change).
    before = til.stat()
    _tiled_order(til.parent, dn=500)  # the same .TIL text written again: put back its time as well
    os.utime(til, ns=(before.st_atime_ns, before.st_mtime_ns))
    r = CliRunner().invoke(main, ["ingest", SITE.id, str(til), "-w", str(ws.root), "--workers", "1", "--new-only", "--json"])
    again = json.loads(r.stdout)
    assert r.exit_code == 0 and again["unchanged"] == [] and again["ingested"][0]["replaced"] is True, r.output

    # Imported into two sites it covers, its digest was read once for both (to choose their ids) but went to each
    # site's worker without its tiles', which each hashed again for the provenance: three reads of every tile.
    from sitewatch.ingest import identity

    hashed: list[str] = []
    real_sha256 = identity.sha256_file
    monkeypatch.setattr(identity, "sha256_file", lambda path: hashed.append(Path(path).name) or real_sha256(path))
    two = workspace_with_sites(tmp_path / "two", SITE, tiny_site("dunai-pier", half_deg=0.002))
    r = CliRunner().invoke(main, ["import", str(til), "-w", str(two.root), "--workers", "1", "--json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)["imported"]) == 2, r.output
    assert sorted(n for n in hashed if n != til.name) == sorted(t.name for t in tiles), hashed


SEAM_SITE = tiny_site("dunai", half_deg=0.006)


def _seam_order(folder: Path) -> tuple[Path, Path]:
    """A 1.2 m tiled WorldView-3 order (.IMD, .TIL, two tiles) of harbour water with a 113 x 15.6 m hull at anchor,
    lying east-west across the seam between its tiles; returns the .TIL and the folder."""
    from test_optical import QUAY, WATER, coverage

    px = 1.2
    h, w = 1400, 1150
    _, x, y = site_utm_origin(SEAM_SITE)
    west, north = math.floor(x / px) * px, math.ceil(y / px) * px
    img = np.broadcast_to(WATER[:, None, None], (4, h, w)).copy()
    img[:, :, 1000:] = QUAY[:, None, None]  # a quay to the east, the hull at anchor west of it
    hull = coverage(max(h, w), px, w // 2 * px, h * px / 2, 113.0, 15.6, 90.0)[:h, :w]
    img = img * (1 - hull) + np.array([0.10, 0.105, 0.11, 0.12])[:, None, None] * hull
    img += np.random.default_rng(3).normal(0, 0.002, img.shape)
    per_count = np.array([6.870e-4, 4.997e-4, 7.428e-4, 6.954e-4])[:, None, None]  # the .IMD's TOA factors, about
    counts = np.clip(np.round(img / per_count), 1, 2047).astype(np.uint16)
    folder.mkdir(parents=True)
    groups = ""
    for c, (c0, c1) in enumerate(((0, w // 2), (w // 2, w)), start=1):
        name = f"24OCT19011107-M2AS_R1C{c}-012345678010_01_P001.TIF"
        write_tiff(folder / name, counts[:, :, c0:c1], crs=CRS, transform=Affine(px, 0, west + c0 * px, 0, -px, north))
        groups += (f'BEGIN_GROUP = TILE_{c}\n\tfilename = "{name}";\n\tULColOffset = {c0};\n\tULRowOffset = 0;\n'
                   f"\tLRColOffset = {c1 - 1};\n\tLRRowOffset = {h - 1};\nEND_GROUP = TILE_{c}\n")  # fmt: skip
    imd = _imd_with_map_grid(west, north, px).replace(f"numRows = {H};\nnumColumns = {W};", f"numRows = {h};\nnumColumns = {w};")
    (folder / "24OCT19011107-M2AS-012345678010_01_P001.IMD").write_text(imd, encoding="utf-8")
    til = folder / "24OCT19011107-M2AS-012345678010_01_P001.TIL"
    til.write_text(f'version = "AA";\nnumTiles = 2;\ntileUnits = "Pixels";\n{groups}END;\n', encoding="utf-8")
    return til, folder


def _vessels(ws: Workspace) -> list[dict]:  # type: ignore[type-arg]
    r = CliRunner().invoke(main, ["detect", SEAM_SITE.id, "-w", str(ws.root), "--workers", "1"])
    assert r.exit_code == 0, r.output
    out = ws.root / "v.geojson"
    r = CliRunner().invoke(main, ["export", SEAM_SITE.id, "-w", str(ws.root), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return [f["properties"] for f in json.loads(out.read_text(encoding="utf-8"))["features"]]


@pytest.mark.slow
def test_a_hull_across_a_tile_seam_is_measured_whole_from_the_til_and_lost_from_the_tiles(tmp_path: Path) -> None:
    til, folder = _seam_order(tmp_path / "order")
    whole = workspace_with_sites(tmp_path / "whole", SEAM_SITE)
    assert _ingest(whole, til)[0] == 0
    (vessel,) = _vessels(whole)
    assert abs(vessel["length_m"] - 113.0) < 5.0, vessel
    # The tiles one by one are pieces of one pass, and optical detection drops a hull that touches no data: the
    # seam's hull is found in neither (what README says, and why it points to the .TIL).
    pieces = workspace_with_sites(tmp_path / "pieces", SEAM_SITE)
    code, out = _ingest(pieces, folder)
    assert code == 0 and len(out["ingested"]) == 2, out
    assert _vessels(pieces) == []


def test_a_maxar_order_delivered_in_nitf_goes_in_from_its_folder(tmp_path: Path) -> None:
    from rasterio.shutil import copy as gdal_copy

    ws = workspace_with_sites(tmp_path / "ws", SITE)
    order = tmp_path / "012345678010_01" / "012345678010_01_P001_MUL"
    tif = _maxar_tile(tmp_path / "made", "image.tif")
    ntf = order / "24OCT19011107-M2AS-012345678010_01_P001.NTF"
    order.mkdir(parents=True)
    gdal_copy(tif, ntf, driver="NITF", ICORDS="N")  # Maxar's default format; UTM north corners
    (order / "24OCT19011107-M2AS-012345678010_01_P001.IMD").write_text(_imd_with_map_grid(X0, Y0, P), encoding="utf-8")
    code, out = _ingest(ws, order.parent)
    # Before, "no GeoTIFF files or SAFE products found" (exit 1); beside GeoTIFFs it was passed over without a word.
    assert code == 0, out
    (obs,) = out["ingested"]
    assert obs["id"] == "dunai/24OCT19011107-M2AS-012345678010_01_P001" and obs["acquired"] == "2024-10-19T01:11:07.512000Z"
    prov = json.loads(CliRunner().invoke(main, ["show", obs["id"], "-w", str(ws.root), "--json"]).stdout)["provenance"]
    assert prov["source_path"] == str(ntf.resolve()) and prov["maxar"]["platform"] == "worldview-3"


@pytest.mark.parametrize("sr_product", ["AnalyticMS_SR_8b_clip", "AnalyticMS_SR_8b_harmonized_clip"])
def test_an_8_band_order_of_both_products_keeps_the_surface_reflectance_one(tmp_path: Path, sr_product: str) -> None:
    # (harmonized to Sentinel-2 when the order asks for it, which Planet's name says: its radiance file is not)
    from test_planet_radiance import _xml

    ws = workspace_with_sites(tmp_path / "ws", SITE)
    order = tmp_path / "order" / "PSScene"
    scene = "20241017_004012_22_2470"
    sr = _scene(order, scene, "2024-10-17T00:40:12Z")  # 4-band SR and its UDM2: made 8-band below, as ordered
    with rasterio.open(sr) as src:
        four, profile = src.read(), src.profile
    eight = np.stack([four[0], four[0], four[1], four[1], four[1], four[2], four[3], four[3]])
    sr.unlink()
    profile.update(count=8)
    with rasterio.open(order / f"{scene}_3B_{sr_product}.tif", "w", **profile) as dst:
        dst.write(eight)
    with rasterio.open(order / f"{scene}_3B_AnalyticMS_8b_clip.tif", "w", **profile) as dst:
        dst.write((eight // 2).astype(np.uint16))  # radiance x 100: TOA reflectance by the XML's coefficients
    (order / f"{scene}_3B_AnalyticMS_8b_metadata_clip.xml").write_text(_xml((2e-4,) * 8), encoding="utf-8")
    code, out = _ingest(ws, order.parent)
    # Before, the radiance file, first by name, went in and the _SR product was refused as the same acquisition.
    assert code == 3, out
    assert [o["id"] for o in out["ingested"]] == [f"dunai/{scene}_3B_{sr_product}"]
    assert [r["file"] for r in out["refused"] + out["skipped"]] == [str(order / f"{scene}_3B_AnalyticMS_8b_clip.tif")]


def test_a_landsat_zip_unpacked_beside_it_is_not_named(tmp_path: Path) -> None:
    from test_landsat_l2 import NAME, _product

    # A Landsat product's zip unpacked beside it: its band files go in as the product (by its MTL), not as files.
    landsat = tmp_path / "landsat"
    mtl = _product(landsat / NAME)
    with zipfile.ZipFile(landsat / f"{NAME}.zip", "w") as zf:
        for f in sorted((landsat / NAME).iterdir()):
            zf.write(f, f"{NAME}/{f.name}")
    # Before, the zip was named as well ("unzip it"), though it was: exit 3 on every run of the folder.
    assert expand_paths([landsat]) == [mtl]
    (landsat / NAME / f"{NAME}_SR_B2.TIF").unlink()  # one of its images not there: it is named, as before
    assert expand_paths([landsat]) == [mtl, landsat / f"{NAME}.zip"]


def test_a_zip_made_on_a_mac_unpacked_beside_it_is_not_named(tmp_path: Path) -> None:
    # A Planet order zipped on a Mac (Finder's __MACOSX/._ members, one per file) and unzipped beside it.
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    incoming = tmp_path / "incoming"
    order = tmp_path / "order_1020"
    image = _scene(order / "PSScene", "20241020_011530_56_24a3", "2024-10-20T01:15:30Z")
    incoming.mkdir()
    with zipfile.ZipFile(incoming / "order_1020.zip", "w") as zf:
        for f in sorted(order.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(order).as_posix())
                zf.writestr(f"__MACOSX/{f.parent.relative_to(order).as_posix()}/._{f.name}", b"\x00\x05\x16\x07Mac OS X")
    with zipfile.ZipFile(incoming / "order_1020.zip") as zf:
        zf.extractall(incoming / "order_1020")
    assert (incoming / "order_1020" / "__MACOSX" / "PSScene" / f"._{image.name}").is_file()
    code, out = _ingest(ws, incoming)
    # Before, exit 3: the zip named for its ._ members, which unzipped are hidden files no folder search reads.
    assert code == 0 and out["refused"] == out["skipped"] == [], out
    assert [o["id"] for o in out["ingested"]] == [f"dunai/{image.stem}"]


def test_an_ortho_tile_order_of_both_products_keeps_the_surface_reflectance_one(tmp_path: Path) -> None:
    from test_planet_radiance import _xml

    ws = workspace_with_sites(tmp_path / "ws", SITE)
    order = tmp_path / "order" / "PSOrthoTile"
    scene = "20241017_004012_22_2470"
    made = _scene(order, scene, "2024-10-17T01:23:45Z")  # the time the XML below gives
    sr = made.rename(order / f"{scene}_BGRN_SR.tif")
    with rasterio.open(sr) as src:
        four, profile = src.read(), src.profile
    with rasterio.open(order / f"{scene}_BGRN_Analytic.tif", "w", **profile) as dst:
        dst.write((four // 2).astype(np.uint16))  # radiance x 100: TOA reflectance by the XML's coefficients
    (order / f"{scene}_BGRN_Analytic_metadata.xml").write_text(_xml((2e-4,) * 4), encoding="utf-8")
    code, out = _ingest(ws, order.parent)
    # Before, the radiance file, first by name ("Analytic" before "SR"), went in and the _SR file was refused.
    assert [o["id"] for o in out["ingested"]] == [f"dunai/{scene}_BGRN_SR"], out
    (refused,) = out["refused"] + out["skipped"]
    assert code == 3 and refused["file"] == str(order / f"{scene}_BGRN_Analytic.tif")
    assert f"the same acquisition as dunai/{scene}_BGRN_SR" in refused["reason"]


def test_surface_reflectance_first_moves_only_radiance_files_after_their_twins_and_loses_none() -> None:
    from sitewatch.ingest.entry import _surface_reflectance_first

    d = Path("/data/in")
    a, b = "20241017_004012_22_2470", "20241018_004512_11_2471"
    files = [
        d / f"{a}_3B_AnalyticMS_8b_clip.tif", d / "LC09_MTL.txt", d / f"{b}_BGRN_Analytic.tif",
        d / f"{a}_3B_AnalyticMS_clip.tif",  # no 4-band _SR file given: stays where it is
        d / f"{a}_3B_AnalyticMS_SR_8b_clip.tif", d / "S2B_MSIL2A.SAFE", d / f"{b}_BGRN_SR.tif",
        d / "other" / f"{b}_BGRN_Analytic.tif",  # another folder's: its twin is not given
        d / "h" / f"{a}_3B_AnalyticMS_8b_clip.tif", d / "h" / f"{a}_3B_AnalyticMS_SR_8b_harmonized_clip.tif",
        d / "h" / f"{b}_3B_AnalyticMS_8b.tif", d / "h" / f"{b}_3B_AnalyticMS_SR_8b_harmonized.tif",
    ]
    assert _surface_reflectance_first(files) == [
        d / "LC09_MTL.txt", d / f"{a}_3B_AnalyticMS_clip.tif", d / f"{a}_3B_AnalyticMS_SR_8b_clip.tif",
        d / f"{a}_3B_AnalyticMS_8b_clip.tif", d / "S2B_MSIL2A.SAFE", d / f"{b}_BGRN_SR.tif", d / f"{b}_BGRN_Analytic.tif",
        d / "other" / f"{b}_BGRN_Analytic.tif",
        # Harmonized to Sentinel-2 (Planet's name says so), as its radiance file is not: the same acquisition.
        d / "h" / f"{a}_3B_AnalyticMS_SR_8b_harmonized_clip.tif", d / "h" / f"{a}_3B_AnalyticMS_8b_clip.tif",
        d / "h" / f"{b}_3B_AnalyticMS_SR_8b_harmonized.tif", d / "h" / f"{b}_3B_AnalyticMS_8b.tif",
    ]
    assert _surface_reflectance_first(files[::-1]) == files[::-1]  # each _SR file first already: unchanged


def test_a_complex_nitf_in_a_folder_is_refused_not_read_as_its_real_part(tmp_path: Path) -> None:
    from rasterio.shutil import copy as gdal_copy

    ws = workspace_with_sites(tmp_path / "ws", SITE)
    # A single-look complex product in NITF (a SICD, as Capella delivers one beside its GEO image), made
    # georeferenced here so that nothing but its complex pixels stands in its way.
    rng = np.random.default_rng(5)
    slc = (rng.normal(0, 50, (H, W)) + 1j * rng.normal(0, 50, (H, W))).astype(np.complex64)
    made = tmp_path / "slc.tif"
    with rasterio.open(
        made, "w", driver="GTiff", width=W, height=H, count=1, dtype="complex64", crs=CRS, transform=Affine(P, 0, X0, 0, -P, Y0),
    ) as dst:
        dst.write(slc, 1)
    folder = tmp_path / "capella"
    folder.mkdir()
    sicd = folder / "CAPELLA_C13_SP_SICD_HH_20241019011107_20241019011117.ntf"
    gdal_copy(made, sicd, driver="NITF", ICORDS="N")
    code, out = _ingest(ws, folder, "--sensor", "sar")
    # Before, it went in (exit 0) as its real part: signed values about zero (-200 to 220 here, mean 0.01) where
    # the amplitude is about 62, read as backscatter by the SAR detector.
    assert code == 1 and out["ingested"] == [], out
    (refused,) = out["refused"] + out["skipped"]
    assert refused["file"] == str(sicd) and "complex pixels (complex64" in refused["reason"]
    assert "give the provider's detected image" in refused["reason"]


def test_two_byte_identical_tils_whose_tiles_differ_are_two_images_not_one(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    first, _ = _tiled_order(tmp_path / "delivery_1" / "012345678010_01_P001_MUL")
    again, _ = _tiled_order(tmp_path / "delivery_2" / "012345678010_01_P001_MUL", dn=500)  # made anew: other pixels
    assert first.read_bytes() == again.read_bytes()
    code, out = _ingest(ws, first, again)
    # Before, the second .TIL was "a duplicate of" the first by its text alone (a list of names): its tiles went
    # unread and unnamed. Now it is read, and refused as another file of the acquisition the site holds, named.
    assert out["duplicates"] == [], out
    assert [o["file"] for o in out["ingested"]] == [str(first)] and code != 0, out
    (refused,) = out["refused"] + out["skipped"]
    assert refused["file"] == str(again) and f"the same acquisition as {out['ingested'][0]['id']}" in refused["reason"], refused
    held = json.loads(CliRunner().invoke(main, ["show", out["ingested"][0]["id"], "-w", str(ws.root), "--json"]).stdout)

    # In a later run it does not replace the observation as a copy of its .TIL would (the later path kept).
    code, out = _ingest(ws, again)
    assert code != 0 and out["ingested"] == [], out
    now = json.loads(CliRunner().invoke(main, ["show", held["id"], "-w", str(ws.root), "--json"]).stdout)
    assert now["provenance"]["source_path"] == str(first.resolve()) == held["provenance"]["source_path"]
    # A byte-identical copy of the .TIL and its tiles is still the same image: it goes in as that observation again.
    copy = tmp_path / "delivery_3" / first.parent.name
    shutil.copytree(first.parent, copy)
    code, out = _ingest(ws, copy / first.name)
    assert code == 0 and [o["id"] for o in out["ingested"]] == [held["id"]] and out["ingested"][0]["replaced"], out
