"""``sitewatch import``: purchased GeoTIFFs with their acquisition time from metadata; no CRS, no entry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.ingest import acquired_from_xml, metadata_sidecars
from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
from sitewatch.workspace import init_workspace

SITE = tiny_site("pier")
FAR = tiny_site("elsewhere", lon=140.0, lat=45.0)

PLANET_XML = """<?xml version="1.0" encoding="UTF-8"?>
<ps:EarthObservation xmlns:ps="http://schemas.planet.com/ps/v1/planet_product_metadata_geocorrected_level"
  xmlns:eop="http://earth.esa.int/eop" xmlns:gml="http://www.opengis.net/gml">
 <gml:using><eop:EarthObservationEquipment><eop:platform><eop:Platform>
  <eop:shortName>PlanetScope</eop:shortName><eop:serialIdentifier>2470</eop:serialIdentifier>
 </eop:Platform></eop:platform>
 <eop:acquisitionParameters><ps:Acquisition>
  <ps:acquisitionDateTime>2024-10-15T01:23:45+00:00</ps:acquisitionDateTime>
 </ps:Acquisition></eop:acquisitionParameters></eop:EarthObservationEquipment></gml:using>
</ps:EarthObservation>
"""

MAXAR_XML = """<?xml version="1.0" encoding="UTF-8"?>
<isd><IMD><PRODUCTTYPE>Basic</PRODUCTTYPE><IMAGE><SATID>WV03</SATID>
<FIRSTLINETIME>2024-11-02T02:11:07.512345Z</FIRSTLINETIME></IMAGE></IMD></isd>
"""


def _optical(path: Path, value: int = 1200, **kw) -> Path:  # type: ignore[no-untyped-def]
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.full((4, 250, 220), value, dtype=np.uint16)
    return write_tiff(path, data, crs=crs, transform=Affine(3, 0, x0, 0, -3, y0), **kw)


@pytest.fixture()
def ws(tmp_path: Path):  # type: ignore[no-untyped-def]
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
        store.put_site(FAR)
    return ws


def test_xml_sidecars_give_the_acquisition_time(tmp_path):
    planet = tmp_path / "20241015_012345_22_2470_3B_AnalyticMS_SR.tif"
    planet.write_bytes(b"")
    meta = tmp_path / "20241015_012345_22_2470_3B_AnalyticMS_metadata.xml"
    meta.write_text(PLANET_XML, encoding="utf-8")
    assert metadata_sidecars(planet) == [meta]
    assert acquired_from_xml(meta).isoformat() == "2024-10-15T01:23:45+00:00"
    imd = tmp_path / "scene.IMD"
    imd.write_text('BEGIN_GROUP = IMAGE_1\n\tsatId = "WV03";\n\tfirstLineTime = 2024-11-02T02:11:07.512345Z;\nEND_GROUP = IMAGE_1\n', encoding="utf-8")
    assert acquired_from_xml(imd).isoformat() == "2024-11-02T02:11:07.512345+00:00"


def test_import_planet_and_maxar_refuse_no_crs(ws, tmp_path):
    src = tmp_path / "delivery"
    src.mkdir()
    planet = _optical(src / "20241015_012345_22_2470_3B_AnalyticMS_SR.tif")
    (src / "20241015_012345_22_2470_3B_AnalyticMS_metadata.xml").write_text(PLANET_XML.replace("01:23:45", "01:23:47"), encoding="utf-8")
    maxar = _optical(src / "24NOV02021107-M2AS-012345678010_01_P001.TIF", 1300)  # another image: other bytes
    (src / "24NOV02021107-M2AS-012345678010_01_P001.XML").write_text(MAXAR_XML, encoding="utf-8")
    bare = write_tiff(src / "no_crs_20241020.tif", np.ones((4, 50, 50), np.uint16), crs=None)
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(src), "--json"])
    assert res.exit_code == 3, res.output  # one file refused, the others in
    out = json.loads(res.stdout)
    by_file = {Path(r["file"]).name: r for r in out["imported"]}
    # Planet: the XML's time wins over the name's; Maxar: FIRSTLINETIME.
    assert by_file[planet.name]["acquired"] == "2024-10-15T01:23:47Z"
    assert by_file[maxar.name]["acquired"] == "2024-11-02T02:11:07.512000Z"  # to the millisecond, as stored
    assert {r["id"].split("/")[0] for r in out["imported"]} == {"pier"}  # only the site it covers
    assert [Path(r["file"]).name for r in out["refused"]] == [bare.name]
    assert "has no CRS" in out["refused"][0]["reason"]
    table = CliRunner().invoke(main, ["show", "-w", str(ws.root), by_file[maxar.name]["id"]], env={"COLUMNS": "200"}).output
    assert [line.split()[1] for line in table.splitlines() if line.startswith("│ ")].count("acquired") == 1  # once
    res = CliRunner().invoke(main, ["show", "-w", str(ws.root), by_file[maxar.name]["id"], "--json"])
    prov = json.loads(res.stdout)["provenance"]
    assert prov["source_path"].endswith(maxar.name) and prov["source_sha256"]
    assert prov["metadata_files"][0].endswith(".XML") and (ws.root / prov["metadata"]).exists()
    # --item prints the provider's metadata as delivered (it printed {}: the file's GeoTIFF tags, none here)
    res = CliRunner().invoke(main, ["show", "-w", str(ws.root), by_file[maxar.name]["id"], "--item"])
    assert res.exit_code == 0 and res.output.strip() == MAXAR_XML.strip()
    # ... but never a control character from it to the terminal (an escape sequence rewrote the screen)
    archived = ws.root / prov["metadata"]
    archived.write_text(MAXAR_XML.replace("<SATID>", "<SATID>\x1b]8;;https://example.org\x1b\\\x1b[2J", 1), encoding="utf-8")
    res = CliRunner().invoke(main, ["show", "-w", str(ws.root), by_file[maxar.name]["id"], "--item"])
    assert res.exit_code == 0 and "\x1b" not in res.output and "]8;;https://example.org" in res.output
    # The satellite, from the providers' metadata, is recorded with where it was read.
    with ws.store() as store:
        scenes = {o.id: o.scene for o in store.observations("pier")}
    assert scenes[by_file[maxar.name]["id"]].platform == "worldview-3"
    assert scenes[by_file[planet.name]["id"]].platform == "planetscope"
    assert scenes[by_file[planet.name]["id"]].properties["platform_from"].startswith("sidecar ")


def test_platform_is_read_from_metadata_and_documented_file_names(tmp_path):
    from sitewatch.platforms import platform_from_metadata, platform_from_name, platform_of

    names = {
        "S2B_MSIL2A_20241017T012345_N0511_R031_T52TGM_20241017T034512.tif": "sentinel-2b",
        "S1A_IW_GRDH_1SDV_20241017T093012_20241017T093037_056123_06DE5F_1A2B.tif": "sentinel-1a",
        "LC09_L2SP_116031_20241017_20241018_02_T1_SR_B4.TIF": "landsat-9",
        "LE07_L2SP_116031_20001017_20200917_02_T1_SR_B3.TIF": "landsat-7",  # ETM+ and TM: named none
        "LT05_L2SP_116031_19951017_20200908_02_T1_stack.tif": "landsat-5",
        "LT04_L2SP_116031_19891017_20200916_02_T1_stack.tif": "landsat-4",
        "LM05_L1GS_116031_19951017_20200908_02_T2_B4.TIF": "",  # MSS: no blue band, no Level-2, read by none
        "2023-08-21-00:00_2023-08-21-23:59_Sentinel-2_L2A_B03_(Raw).tiff": "sentinel-2",
        "20241015_012345_22_2470_3B_AnalyticMS_SR.tif": "",  # Planet's name says no satellite type
        "harbour_2024-10-17.tif": "",
        "XS2A_MSI.tif": "",  # only at the start of a name part
    }
    assert {n: platform_from_name(n) for n in names} == names
    imd = tmp_path / "scene.IMD"
    imd.write_text('BEGIN_GROUP = IMAGE_1\n\tsatId = "GE01";\nEND_GROUP = IMAGE_1\n', encoding="utf-8")
    planet_json = tmp_path / "item.json"
    planet_json.write_text(json.dumps({"properties": {"provider": "planetscope", "satellite_id": "2470"}}), encoding="utf-8")
    stac_json = tmp_path / "stac.json"
    stac_json.write_text(json.dumps({"type": "Feature", "properties": {"platform": "Sentinel-2A"}}), encoding="utf-8")
    other = tmp_path / "other.xml"
    other.write_text("<a><b>nothing</b></a>", encoding="utf-8")
    assert [platform_from_metadata(p) for p in (imd, planet_json, stac_json, other)] == ["geoeye-1", "planetscope", "sentinel-2a", ""]
    tif = tmp_path / "S2A_MSIL2A_x.tif"
    assert platform_of({"SITEWATCH_PLATFORM": "simulated-sar"}, tif, [imd]) == ("simulated-sar", "tag SITEWATCH_PLATFORM")
    assert platform_of({}, tif, [other, imd]) == ("geoeye-1", "sidecar scene.IMD")
    assert platform_of({}, tif, [other]) == ("sentinel-2a", "file name")


def test_import_needs_a_time_or_acquired(ws, tmp_path):
    f = _optical(tmp_path / "mystery.tif")
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(f), "--site", "pier"])
    assert res.exit_code == 1 and "--acquired" in res.output
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(f), "--site", "pier", "--site", "pier",
                                    "--acquired", "2024-10-30T03:00:00Z"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.output.count("pier/mystery") == 1  # a site given twice is imported into once
    assert "imported 1 observation(s)" in res.output


def test_acquired_date_alone_in_basic_form_is_noon_too(ws, tmp_path):
    """``--acquired 20241030`` is a date alone, as ``2024-10-30`` is: noon, not midnight."""
    f = _optical(tmp_path / "mystery.tif")
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(f), "--site", "pier",
                                    "--acquired", "20241030", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    with ws.store() as store:
        (obs,) = store.observations("pier")
    assert obs.scene.acquired.isoformat() == "2024-10-30T12:00:00+00:00"


def test_image_across_the_antimeridian_goes_into_the_sites_on_both_sides(tmp_path):
    """A Fiji scene in UTM zone 60 runs from 179.7 to -179.7: it covers sites on both sides of 180°.

    Its footprint used to be one box from -179.7 to 179.7 (the rest of the world): "covers no site".
    """
    from pyproj import Transformer

    from sitewatch.sites import site_from_bbox

    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site_from_bbox("west", (179.80, -17.02, 179.83, -17.0), name="west"))
        store.put_site(site_from_bbox("east", (-179.9, -17.02, -179.87, -17.0), name="east"))
        store.put_site(site_from_bbox("away", (0.0, -17.02, 0.03, -17.0), name="away"))
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32760", always_xy=True)
    x0, y0 = to_utm.transform(179.7, -16.9)
    x1, y1 = to_utm.transform(-179.7, -17.1)
    shape = (4, int((y0 - y1) / 20) + 1, int((x1 - x0) / 20) + 1)
    f = write_tiff(tmp_path / "fiji_20241015.tif", np.full(shape, 1200, np.uint16), crs="EPSG:32760",
                   transform=Affine(20, 0, x0, 0, -20, y0))  # fmt: skip
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(f), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert sorted(r["id"] for r in out["imported"]) == ["east/fiji_20241015", "west/fiji_20241015"]
    assert out["skipped"] == []


def test_one_delivery_in_two_folders_of_one_run_is_imported_once(ws, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = _optical(tmp_path / "a" / "20241015_012345_22_2470_3B_AnalyticMS_SR.tif")
    copy = tmp_path / "b" / first.name
    copy.write_bytes(first.read_bytes())
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(first.parent), str(copy.parent), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert len(out["imported"]) == 1
    assert out["duplicates"] == [{"file": str(copy), "same_as": str(first)}]
    with ws.store() as store:
        assert len(store.observations("pier")) == 1


def test_import_removes_a_cog_a_killed_run_left_half_written(ws, tmp_path):
    stale = ws.archive / "pier" / ".scene_20241015.tif.partial"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"II*\x00half")
    f = _optical(tmp_path / "other_20241016.tif")
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(f)])
    assert res.exit_code == 0, res.output
    assert not stale.exists()


def test_a_file_in_a_crs_without_a_way_to_lon_lat_is_refused_by_name_and_the_others_go_in(ws, tmp_path):
    """A local engineering CRS (or another planet's) ended the whole import in a pyproj/GDAL traceback."""
    import rasterio

    folder = tmp_path / "delivery"
    folder.mkdir()
    good = _optical(folder / "good_20241015.tif")
    local = rasterio.crs.CRS.from_wkt('LOCAL_CS["site grid",UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]')
    odd = write_tiff(folder / "local_20241016.tif", np.full((4, 50, 50), 1000, np.uint16), crs=None,
                     transform=Affine(3, 0, 1000, 0, -3, 5000))  # fmt: skip
    with rasterio.open(odd, "r+") as dst:
        dst.crs = local
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(folder), "--json"])
    assert res.exit_code == 3, res.output
    out = json.loads(res.stdout)
    assert [Path(r["file"]).name for r in out["imported"]] == [good.name]
    (refused,) = out["refused"]
    assert refused["file"] == str(odd) and "its CRS (site grid) cannot be turned into longitude/latitude" in refused["reason"]


def test_import_into_a_site_without_coordinates_names_the_site(ws, tmp_path):
    from sitewatch.sites import builtin_sites

    with ws.store() as store:
        store.put_site(builtin_sites()["lifarevka"])  # unresolved: no geometry
    f = _optical(tmp_path / "scene_20241015.tif")
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(f), "--site", "lifarevka"])
    # was: "skipped …: misses the site(s) given", as if the image were elsewhere
    assert res.exit_code == 1 and "site 'lifarevka' is unresolved and has no coordinates" in res.output


def test_two_names_that_differ_only_in_unsafe_characters_keep_their_own_cogs(ws, tmp_path):
    """'harbour east.tif' and 'harbour_east.tif' were both archived as harbour_east.tif: the second
    overwrote the first, whose row then pointed at another image (its sha256 no longer matching)."""
    from sitewatch.ingest import sha256_file

    (tmp_path / "a").mkdir()
    first = _optical(tmp_path / "a" / "harbour east.tif", 1200)
    second = _optical(tmp_path / "harbour_east.tif", 1700)
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(first), str(second), "--acquired", "2024-10-20"])
    assert res.exit_code == 0, res.output
    with ws.store() as store:
        observations = store.observations("pier")
    assert sorted(o.id for o in observations) == ["pier/harbour east", "pier/harbour_east"]
    assert len({o.path for o in observations}) == 2
    assert all(sha256_file(ws.root / o.path) == o.sha256 for o in observations)


def test_an_interrupted_reimport_leaves_the_recorded_metadata_whole(ws, tmp_path, monkeypatch):
    """The provider's metadata was copied straight over the archived one: Ctrl-C mid-copy left it cut short."""
    import shutil

    src = tmp_path / "delivery"
    src.mkdir()
    maxar = _optical(src / "24NOV02021107-M2AS-012345678010_01_P001.TIF", 1300)
    (src / "24NOV02021107-M2AS-012345678010_01_P001.XML").write_text(MAXAR_XML, encoding="utf-8")
    assert CliRunner().invoke(main, ["import", "-w", str(ws.root), str(maxar)]).exit_code == 0
    archived = next((ws.archive / "pier").glob("*.metadata.XML"))

    def cut_short(a, b, *args, **kw):  # type: ignore[no-untyped-def]
        Path(b).write_text(Path(a).read_text(encoding="utf-8")[:40], encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "copyfile", cut_short)
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(maxar)])
    assert res.exit_code == 130, res.output
    assert archived.read_text(encoding="utf-8") == MAXAR_XML
    assert sorted(p.name for p in (ws.archive / "pier").iterdir() if p.name.startswith(".")) == []


def test_refused_file_is_named_once(ws, tmp_path):
    bare = write_tiff(tmp_path / "no_crs_20241020.tif", np.ones((4, 50, 50), np.uint16), crs=None)
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(bare)])
    assert res.exit_code == 1
    line = next(x for x in res.output.splitlines() if x.startswith("refused"))
    assert line.count(str(bare)) == 1 and "has no CRS" in line, line


def test_import_into_a_workspace_without_sites_says_to_add_one(tmp_path):
    from sitewatch.workspace import init_workspace

    ws = init_workspace(tmp_path / "empty")
    f = _optical(tmp_path / "scene_20241015.tif")
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(f)])
    # was: "skipped …: covers no site of the workspace", as if the image were in the wrong place
    assert res.exit_code == 1 and "has no site" in res.output and "sitewatch sites add" in res.output


def test_an_interrupted_import_leaves_no_metadata_file(ws, tmp_path, monkeypatch):
    """The provider's metadata was moved to its archive name before the observation was
    recorded: Ctrl-C at the commit left it there, named by no observation."""
    from sitewatch.store import Store

    src = tmp_path / "delivery"
    src.mkdir()
    maxar = _optical(src / "24NOV02021107-M2AS-012345678010_01_P001.TIF", 1300)
    (src / "24NOV02021107-M2AS-012345678010_01_P001.XML").write_text(MAXAR_XML, encoding="utf-8")

    def stopped(*args, **kw):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "put_observation", stopped)
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(maxar)])
    assert res.exit_code == 130, res.output
    assert sorted(p.name for p in (ws.archive / "pier").iterdir()) == []


def test_import_writes_cogs_with_the_cog_compress_setting(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """README: cog_compress applies to the COGs ingest, import and fetch write; import wrote deflate whatever it said."""
    import rasterio

    src = _optical(tmp_path / "scene_20241015T012345.tif")
    ws.config_path.write_text("[settings]\ncog_compress = 'zstd'\n", encoding="utf-8")
    for env, codec in (({}, "zstd"), ({"SITEWATCH_COG_COMPRESS": "lzw"}, "lzw")):
        r = CliRunner().invoke(main, ["import", str(src), "--site", SITE.id, "-w", str(ws.root)], env=env)
        assert r.exit_code == 0, r.output
        with ws.store() as store:
            (obs,) = store.observations(SITE.id)
        with rasterio.open(ws.root / obs.path) as ds:
            assert ds.compression is not None and ds.compression.name.lower() == codec


def test_import_reads_infinite_values_as_no_data(ws, tmp_path):
    # One rule for ingest, import and fetch: NaN and ±inf are no data (the COG holds NaN for both),
    # before the bands are resampled bilinearly onto the site's grid, which spread each infinity.
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(0).uniform(0.02, 0.05, (4, 250, 220)).astype("float32")
    data[:, 40:60, 40:60] = np.inf
    data[2, 100:110, 100:110] = -np.inf
    out = []
    for inf in (True, False):
        w = init_workspace(tmp_path / f"ws-{inf}")
        with w.store() as store:
            store.put_site(SITE)
        f = write_tiff(tmp_path / f"product-{inf}.tif", data if inf else np.where(np.isinf(data), np.nan, data),
                       crs=crs, transform=Affine(3, 0, x0 + 1.5, 0, -3, y0), descriptions=["blue", "green", "red", "nir"],
                       tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"})  # fmt: skip
        res = CliRunner().invoke(main, ["import", "-w", str(w.root), str(f), "--site", "pier", "--json"])
        assert res.exit_code == 0, res.output
        (row,) = json.loads(res.output)["imported"]
        with w.store() as store:
            obs = store.get_observation(row["id"])
        with rasterio.open(w.root / obs.path) as cog:
            out.append((row["valid_pct"], cog.read()))
    (valid, values), (valid_nan, values_nan) = out
    assert not np.isinf(values).any()
    assert np.array_equal(values, values_nan, equal_nan=True) and valid == valid_nan


def test_a_file_whose_name_is_near_the_file_system_limit_goes_in(ws, tmp_path):
    """A 250-byte file name crashed import and ingest with a traceback (OSError: File name too long), and
    with it every other file of the run: the sidecars looked for beside it (NAME_metadata.json) are longer."""
    long = _optical(tmp_path / ("x" * 236 + "_20241015.tif"), tags={"SITEWATCH_ACQUIRED": "2024-10-15T01:23:45Z"})
    other = _optical(tmp_path / "other_20241016.tif", tags={"SITEWATCH_ACQUIRED": "2024-10-16T01:23:45Z"})
    res = CliRunner().invoke(main, ["-q", "import", "-w", str(ws.root), str(long), str(other), "--site", "pier", "--json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["imported"]) == 2
    res = CliRunner().invoke(main, ["-q", "ingest", "pier", str(long), "-w", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    with ws.store() as store:
        assert len(store.observations("pier")) == 2


def test_simulated_imagery_says_so_on_the_lines_import_and_ingest_print(ws, tmp_path):
    """The simulator's scenes imported into a workspace were listed as any image is: every place that shows
    simulated imagery is to say so."""
    sim = _optical(tmp_path / "sim-planet-pier-20241015T0040.tif",
                   tags={"SITEWATCH_SIMULATED": "true", "SITEWATCH_ACQUIRED": "2024-10-15T00:40:00Z"})  # fmt: skip
    real = _optical(tmp_path / "real_20241016.tif", tags={"SITEWATCH_ACQUIRED": "2024-10-16T01:23:45Z"})
    res = CliRunner().invoke(main, ["-q", "import", "-w", str(ws.root), str(sim), str(real), "--site", "pier"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].startswith("pier/sim-planet-pier-20241015T0040 ") and lines[0].endswith("SIMULATED")
    assert lines[1].startswith("pier/real_20241016 ") and "SIMULATED" not in lines[1]
    res = CliRunner().invoke(main, ["-q", "import", "-w", str(ws.root), str(sim), "--site", "pier", "--json"])
    assert json.loads(res.stdout)["imported"][0]["simulated"] is True
    res = CliRunner().invoke(main, ["-q", "ingest", "pier", str(sim), str(real), "-w", str(ws.root)])
    assert res.exit_code == 0 and "ingested 2 observation(s) into 'pier' (1 of them SIMULATED imagery)" in res.output


def test_a_rerun_says_it_replaced_what_it_imported_before(ws, tmp_path):
    """A rerun said "imported 2 observation(s)" as the first run did, as if two more were there now."""
    a = _optical(tmp_path / "a_20241016.tif", tags={"SITEWATCH_ACQUIRED": "2024-10-16T01:23:45Z"})
    b = _optical(tmp_path / "b_20241017.tif", tags={"SITEWATCH_ACQUIRED": "2024-10-17T01:23:45Z"})
    first = CliRunner().invoke(main, ["-q", "import", "-w", str(ws.root), str(a), "--site", "pier"])
    assert first.exit_code == 0 and "replac" not in first.stdout, first.output
    again = CliRunner().invoke(main, ["-q", "import", "-w", str(ws.root), str(a), str(b), "--site", "pier"])
    lines = again.stdout.splitlines()
    assert lines[0].startswith("pier/a_20241016 ") and lines[0].endswith("(replaced)") and "replaced" not in lines[1]
    assert lines[2] == ("imported 2 observation(s) from 2 file(s), 1 of them replacing the observation of its id held "
                        "before (a rerun or a changed file; none added twice)")  # fmt: skip
    res = CliRunner().invoke(main, ["-q", "ingest", "pier", str(a), str(b), "-w", str(ws.root)])
    assert res.exit_code == 0 and "ingested 2 observation(s) into 'pier', each of them replacing" in res.output


def test_import_says_the_acquisition_time_the_workspace_keeps(ws, tmp_path):
    """A time to the microsecond (a Maxar firstLineTime) was printed so by import, and stored, shown and exported
    to the millisecond: the evidence's time differed between the import's output and the workspace."""
    a = _optical(tmp_path / "a.tif", tags={"SITEWATCH_ACQUIRED": "2024-11-02T02:11:07.512345Z"})
    res = CliRunner().invoke(main, ["-q", "import", "-w", str(ws.root), str(a), "--site", "pier", "--json"])
    (row,) = json.loads(res.stdout)["imported"]
    listed = CliRunner().invoke(main, ["-q", "observations", "pier", "--json", "-w", str(ws.root)])
    (obs,) = json.loads(listed.stdout)
    assert row["acquired"] == obs["acquired"] == "2024-11-02T02:11:07.512000Z"
    text = CliRunner().invoke(main, ["-q", "ingest", "pier", str(a), "-w", str(ws.root), "--json"])
    assert json.loads(text.stdout)["ingested"][0]["acquired"] == obs["acquired"]


def test_a_file_cut_short_is_named_with_gdals_reason_and_what_to_do(ws, tmp_path):
    """A COG cut short (an unfinished download) was refused as "could not be read (Read failed. See previous
    exception for details.)": neither the damage nor what to do."""
    crs, x0, y0 = site_utm_origin(SITE)
    rng = np.random.default_rng(1)
    whole = tmp_path / "whole_20241015.tif"
    with rasterio.open(whole, "w", driver="GTiff", width=512, height=512, count=4, dtype="uint16", crs=crs, tiled=True,
                       blockxsize=256, blockysize=256, transform=Affine(3, 0, x0, 0, -3, y0)) as dst:  # fmt: skip
        dst.write(rng.integers(100, 3000, (4, 512, 512), dtype=np.uint16))
    short = tmp_path / "short_20241015.tif"
    short.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    res = CliRunner().invoke(main, ["-q", "import", "-w", str(ws.root), str(short), "--site", "pier"])
    assert res.exit_code == 1
    told = res.output.replace("\n", " ")
    assert f"refused {short}" in told and "previous exception" not in told
    assert "damaged or cut short" in told and "copy it again" in told


def test_a_stac_items_json_given_as_an_image_says_to_give_its_image(ws, tmp_path):
    """A static catalogue's item JSON given to import was "not a readable raster (not recognized as being in a
    supported file format)": it names the item's image and how its time goes with it."""
    item = {"type": "Feature", "stac_version": "1.0.0", "id": "scene", "properties": {"datetime": "2024-10-15T01:23:45Z"},
            "geometry": None, "links": [],
            "assets": {"data": {"href": "./scene.tif", "type": "image/tiff; application=geotiff"}}}  # fmt: skip
    (tmp_path / "scene_item.json").write_text(json.dumps(item), encoding="utf-8")
    res = CliRunner().invoke(main, ["-q", "import", "-w", str(ws.root), str(tmp_path / "scene_item.json")])
    assert res.exit_code == 1
    told = res.output.replace("\n", " ")
    assert "scene_item.json: is a STAC item's JSON, not an image (its image assets: ./scene.tif)" in told
    assert "NAME.json beside NAME.tif" in told


def test_a_read_only_archive_is_named_as_such(ws, tmp_path, monkeypatch):
    """On a read-only workspace the error was GDAL's "Attempt to create new tiff file './.NAME.tif….ovr.tmp'
    failed in VSI_TIFFOpen()": neither the folder nor what to do. (A test as root cannot make a folder
    read-only, so the file system's answer is given here.)"""
    import rasterio.errors

    from sitewatch.ingest import archive

    scene = _optical(tmp_path / "scene_20241015.tif", tags={"SITEWATCH_ACQUIRED": "2024-10-15T01:23:45Z"})
    (ws.archive / "pier").mkdir(parents=True, exist_ok=True)

    opened = rasterio.open

    def refused(path, mode="r", *args, **kw):  # type: ignore[no-untyped-def]
        if mode != "w":
            return opened(path, mode, *args, **kw)
        raise rasterio.errors.RasterioIOError("Attempt to create new tiff file './.scene.tif.ovr.tmp' failed in VSI_TIFFOpen().")

    monkeypatch.setattr(archive.rasterio, "open", refused)
    monkeypatch.setattr(archive, "_writable", lambda folder: False)
    res = CliRunner().invoke(main, ["-q", "import", "-w", str(ws.root), str(scene), "--site", "pier", "--workers", "1"])
    assert res.exit_code == 1
    assert "pier is read-only (a read-only disk or workspace?): make it writable" in res.output.replace("\n", " ")
    with ws.store() as store:
        assert store.observations("pier") == []


def test_new_only_skips_the_files_imported_before_and_unchanged(ws, tmp_path):
    # A download folder that keeps every file, imported each day: every file was cut and written again every
    # day (a year of daily images, the whole history each day). --new-only reads only what is new or changed.
    import os

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    first = _optical(incoming / "scene_20241015T012345.tif")
    args = ["import", "-w", str(ws.root), str(incoming), "--new-only", "--workers", "1", "--json"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert [r["file"] for r in json.loads(res.stdout)["imported"]] == [str(first)]
    second = _optical(incoming / "scene_20241016T012345.tif", value=1300)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [r["file"] for r in out["imported"]] == [str(second)] and out["unchanged"] == [str(first)]
    # nothing new: not an error, the day's job goes on
    res = CliRunner().invoke(main, args[:-1])
    assert res.exit_code == 0, res.output
    assert "2 file(s) imported before and unchanged, skipped" in res.stdout
    # a file written again (another time) is read again and replaces its observation
    st = os.stat(first)
    _optical(first, value=1250)
    os.utime(first, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["imported"]
    assert row["file"] == str(first) and row["replaced"]
    # without --new-only every file is read again, as before
    res = CliRunner().invoke(main, [a for a in args if a != "--new-only"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["imported"]) == 2
    with ws.store() as store:
        assert len(store.observations("pier")) == 2


def test_a_day_s_import_decodes_only_the_stored_sources_that_may_be_its_copy(ws, tmp_path, monkeypatch):
    # To find whether a file is a copy of an image imported before under another name or time, import decoded the
    # provenance of every observation of the site and sensor, for each file (years of a daily port: 1,800 JSON
    # documents a file, the most of what a day's import grew by). Only a source whose digest is the file's can be it.
    import types

    from sitewatch.ingest import identity

    days = tmp_path / "days"
    days.mkdir()
    for d in range(1, 25):
        _optical(days / f"pier_202410{d:02d}.tif", 1000 + d, tags={"NOTE": "x" * d})  # each its own size and digest
    res = CliRunner().invoke(main, ["-q", "import", "-w", str(ws.root), str(days)])
    assert res.exit_code == 0, res.output
    decoded: list[int] = []

    def loads(text, *a, **k):  # type: ignore[no-untyped-def]
        decoded.append(1)
        return json.loads(text, *a, **k)

    monkeypatch.setattr(identity, "json", types.SimpleNamespace(loads=loads))
    today = tmp_path / "today"
    today.mkdir()
    _optical(today / "pier_20241025.tif", 2000, tags={"NOTE": "y" * 100})  # of no stored source's size
    # A copy of the 7 October image under another name and date: still that image's observation.
    (today / "copy_of_seventh_20241026.tif").write_bytes((days / "pier_20241007.tif").read_bytes())
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(today), "--json"])
    assert res.exit_code == 0, res.output
    ids = sorted(r["id"] for r in json.loads(res.stdout)["imported"])
    assert ids == ["pier/pier_20241007", "pier/pier_20241025"], ids
    assert len(decoded) < 10, len(decoded)  # the old code: every stored source, for each file (about 50)


@pytest.mark.parametrize("kind", ["geopackage", "postgis"])
def test_a_day_s_import_reads_only_the_stored_sources_that_hold_its_digest(kind, tmp_path, monkeypatch, request):
    # After the decodes went, a day's import still read the provenance text of every observation of the site and
    # sensor for each file (1,800 a file at 1,800 days) to keep those that hold its digest: the store filters now.
    import sys

    from sitewatch.store import Store
    from sitewatch.store.postgis import PostgisStore

    url = request.getfixturevalue("pg_url") if kind == "postgis" else None
    ws = init_workspace(tmp_path / "ws", url)
    with ws.store() as store:
        store.put_site(SITE)
    days = tmp_path / "days"
    days.mkdir()
    for d in range(1, 25):
        _optical(days / f"pier_202410{d:02d}.tif", 1000 + d, tags={"NOTE": "x" * d})
    res = CliRunner().invoke(main, ["-q", "import", "-w", str(ws.root), str(days)])
    assert res.exit_code == 0, res.output
    if kind == "postgis":  # the provenance as jsonb writes it back (an observation whose hidden berths were kept)
        with ws.store() as store, store.transaction() as db:
            db.execute("UPDATE observations SET provenance = provenance::jsonb::json")
    read: list[str] = []
    for cls in (Store, PostgisStore):
        def execute(self, sql, args=(), /, _old=cls.execute):  # type: ignore[no-untyped-def]
            rows = _old(self, sql, args)
            if sys._getframe(1).f_globals["__name__"] == "sitewatch.ingest.identity":
                read.extend(str(r["provenance"]) for r in rows if "provenance" in r.keys())
            return rows

        monkeypatch.setattr(cls, "execute", execute)
    today = tmp_path / "today"
    today.mkdir()
    _optical(today / "pier_20241025.tif", 2000, tags={"NOTE": "y" * 100})
    (today / "copy_of_seventh_20241026.tif").write_bytes((days / "pier_20241007.tif").read_bytes())
    res = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(today), "--json"])
    assert res.exit_code == 0, res.output
    ids = sorted(r["id"] for r in json.loads(res.stdout)["imported"])
    assert ids == ["pier/pier_20241007", "pier/pier_20241025"], ids  # the copy still lands on its observation
    assert len(read) <= 3, len(read)  # the old code: 96 (each file compared with the 24, as its id is chosen and as it is recorded)
    # Run again: each file is its own observation again (by path), nothing added.
    res = CliRunner().invoke(main, ["-q", "import", "-w", str(ws.root), str(today)])
    assert res.exit_code == 0, res.output
    with ws.store() as store:
        assert len(store.execute("SELECT observation_id FROM observations")) == 25
