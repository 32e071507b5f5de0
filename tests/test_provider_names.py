"""Commercial optical files without band descriptions (PlanetScope, SkySat, Maxar, Airbus) are known by
their provider's naming or metadata sidecar: optical in detect-image and ingest without --sensor, read in
the provider's band order, a panchromatic band or an unknowable layout refused by name."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.detect.optical_image import open_optical, sensor_from_band_names
from sitewatch.errors import InputError
from sitewatch.ingest import read_scene_ref
from sitewatch.sources.providers import provider_product
from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
from sitewatch.workspace import init_workspace

CRS = "EPSG:32633"
T = Affine(3.0, 0, 500_000.0, 0, -3.0, 4_800_000.0)
WHEN = datetime(2024, 10, 17, 9, 30, tzinfo=UTC)


def _image(path: Path, count: int, dtype: str = "uint16") -> Path:
    """Water whose bands differ (band i holds 500 + 100 i), so a test can tell them apart by value."""
    rng = np.random.default_rng(0)
    data = np.stack([np.full((64, 64), 500 + 100 * i) + rng.integers(0, 20, (64, 64)) for i in range(count)])
    return write_tiff(path, data.astype(dtype), crs=CRS, transform=T)


def _indexes(path: Path) -> dict[str, int]:
    # The band order alone: a radiance file's scale (its metadata XML, or --dn-scale) is test_planet_radiance's.
    return {k: i for k, (_, i) in open_optical(path, scale_given=True).bands.items()}


WORLDVIEW_IMD = """version = "28.3";
satId = "WV03";
bandId = "Multi";
BEGIN_GROUP = BAND_C
\tULLon = 14.1;
END_GROUP = BAND_C
BEGIN_GROUP = BAND_B
END_GROUP = BAND_B
BEGIN_GROUP = BAND_G
END_GROUP = BAND_G
BEGIN_GROUP = BAND_Y
END_GROUP = BAND_Y
BEGIN_GROUP = BAND_R
END_GROUP = BAND_R
BEGIN_GROUP = BAND_RE
END_GROUP = BAND_RE
BEGIN_GROUP = BAND_N
END_GROUP = BAND_N
BEGIN_GROUP = BAND_N2
END_GROUP = BAND_N2
BEGIN_GROUP = IMAGE_1
\tsatId = "WV03";
\tfirstLineTime = 2024-10-17T09:30:05.123456Z;
END_GROUP = IMAGE_1
END;
"""

PLEIADES_DIM = """<?xml version="1.0" encoding="UTF-8"?>
<Dimap_Document>
  <Raster_Data><Raster_Display><Raster_Index_List>
    <Raster_Index><BAND_ID>B2</BAND_ID><BAND_INDEX>1</BAND_INDEX></Raster_Index>
    <Raster_Index><BAND_ID>B1</BAND_ID><BAND_INDEX>2</BAND_INDEX></Raster_Index>
    <Raster_Index><BAND_ID>B0</BAND_ID><BAND_INDEX>3</BAND_INDEX></Raster_Index>
    <Raster_Index><BAND_ID>B3</BAND_ID><BAND_INDEX>4</BAND_INDEX></Raster_Index>
  </Raster_Index_List></Raster_Display></Raster_Data>
</Dimap_Document>
"""


PLANET = "20241017_012345_22_2470_3B_AnalyticMS_SR_clip.tif"


def test_detect_image_runs_the_optical_detector_on_a_planetscope_file_by_its_name(tmp_path: Path) -> None:
    image = _image(tmp_path / PLANET, 4)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(image), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "sensor: optical, a PlanetScope AnalyticMS_SR file, by Planet's file naming (--sensor to choose)" in r.output
    assert json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["sensor"] == "optical"
    assert _indexes(image) == {"blue": 1, "green": 2, "red": 3, "nir": 4}


@pytest.mark.parametrize(
    ("name", "count", "order"),
    [
        ("20190109_015005_1020_3B_AnalyticMS.tif", 4, {"blue": 1, "green": 2, "red": 3, "nir": 4}),
        ("20151027_145652_1_0b0d_3B_Visual.tif", 3, {"red": 1, "green": 2, "blue": 3}),
        ("20241017_012345_22_2470_3B_AnalyticMS_SR_8b_clip.tif", 8, {"blue": 2, "green": 4, "red": 6, "nir": 8}),
        ("20241017_012345_22_2470_BGRN_SR.tif", 4, {"blue": 1, "green": 2, "red": 3, "nir": 4}),
        ("20200101_123456_ssc1d1_0001_analytic.tif", 4, {"blue": 1, "green": 2, "red": 3, "nir": 4}),
        ("20200101_123456_ssc4_u0001_pansharpened.tif", 4, {"blue": 1, "green": 2, "red": 3, "nir": 4}),
        ("20200101_123456_ssc1d1_0001_ortho_visual.tif", 3, {"red": 1, "green": 2, "blue": 3}),
        ("24OCT17093005-M1BS-012345678010_01_P001.TIF", 4, {"blue": 1, "green": 2, "red": 3, "nir": 4}),
    ],
)
def test_a_providers_name_makes_a_file_optical_in_its_band_order(tmp_path: Path, name: str, count: int, order: dict[str, int]) -> None:
    image = _image(tmp_path / name, count)
    sensor, why = sensor_from_band_names(image)
    assert sensor == "optical", why
    assert _indexes(image) == order


def test_an_8_band_worldview_file_is_read_in_the_order_its_imd_lists(tmp_path: Path) -> None:
    image = _image(tmp_path / "24OCT17093005-M1BS-012345678010_01_P001.TIF", 8)
    image.with_suffix(".IMD").write_text(WORLDVIEW_IMD, encoding="utf-8")
    assert _indexes(image) == {"blue": 2, "green": 3, "red": 5, "nir": 7}
    _, bands = read_scene_ref(image)
    assert bands == ["coastal", "blue", "green", "yellow", "red", "rededge", "nir", "nir2"]


def test_an_8_band_maxar_file_without_its_imd_is_refused_not_guessed(tmp_path: Path) -> None:
    image = _image(tmp_path / "24OCT17093005-M1BS-012345678010_01_P001.TIF", 8)
    with pytest.raises(InputError, match=r"M1BS.*does not guess.*--band blue="):
        open_optical(image)
    with pytest.raises(InputError, match="does not guess"):
        read_scene_ref(image, acquired=WHEN)


def test_a_3_band_maxar_file_without_its_imd_is_refused_saying_why(tmp_path: Path) -> None:
    """Maxar's 3-band pansharpened products are natural colour or colour infrared (NIR, red, green): the refusal
    said 'WorldView-2/3 and Legion place NIR apart', which is the 8-band reason; with its .XML it goes in."""
    image = _image(tmp_path / "24OCT20021530-S2AS-050123456789_01_P001.TIF", 3)
    with pytest.raises(InputError, match=r"natural colour \(red, green, blue\) or colour infrared \(NIR, red, green\)") as err:
        read_scene_ref(image, acquired=WHEN)
    assert "place NIR apart" not in str(err.value)
    image.with_suffix(".XML").write_text("<isd><IMD><BAND_R></BAND_R><BAND_G></BAND_G><BAND_B></BAND_B></IMD></isd>", encoding="utf-8")
    assert _indexes(image) == {"red": 1, "green": 2, "blue": 3}


def test_a_maxar_file_known_by_its_imd_alone_is_optical(tmp_path: Path) -> None:
    image = _image(tmp_path / "scene.tif", 8)
    image.with_suffix(".IMD").write_text(WORLDVIEW_IMD, encoding="utf-8")
    sensor, why = sensor_from_band_names(image)
    assert (sensor, why) == ("optical", "a Maxar worldview-3 file, by its sidecar scene.IMD")
    assert _indexes(image)["nir"] == 7


def test_a_planet_file_known_by_its_metadata_json_alone_is_optical(tmp_path: Path) -> None:
    image = _image(tmp_path / "harbour.tif", 4)
    (tmp_path / "harbour_metadata.json").write_text(json.dumps({"properties": {"item_type": "PSScene", "acquired": "2024-10-17T01:23:45Z"}}), encoding="utf-8")
    assert sensor_from_band_names(image) == ("optical", "a PlanetScope scene file, by its sidecar harbour_metadata.json")
    scene, bands = read_scene_ref(image)
    assert scene.sensor == "optical" and bands == ["blue", "green", "red", "nir"]


def test_a_pleiades_file_is_read_in_the_order_its_dim_file_gives(tmp_path: Path) -> None:
    image = _image(tmp_path / "IMG_PHR1A_MS_202410170930051_ORT_ab12cd34_R1C1.TIF", 4)
    (tmp_path / "DIM_PHR1A_MS_202410170930051_ORT_ab12cd34.XML").write_text(PLEIADES_DIM, encoding="utf-8")
    assert sensor_from_band_names(image)[0] == "optical"
    assert _indexes(image) == {"red": 1, "green": 2, "blue": 3, "nir": 4}
    _, bands = read_scene_ref(image, acquired=WHEN)
    assert bands == ["red", "green", "blue", "nir"]


def test_an_airbus_file_without_its_dim_file_is_refused_not_read_by_count(tmp_path: Path) -> None:
    image = _image(tmp_path / "IMG_SPOT6_MS_202410170930051_ORT_ab12cd34_R1C1.TIF", 4)
    with pytest.raises(InputError, match=r"SPOT6 MS.*DIM_.*does not guess"):
        open_optical(image)
    r = CliRunner().invoke(main, ["detect-image", str(image), "--out", str(tmp_path / "d.geojson")])
    assert r.exit_code != 0 and "does not guess" in r.output
    assert not (tmp_path / "d.geojson").exists()


@pytest.mark.parametrize(
    "name",
    ["24OCT17093005-P1BS-012345678010_01_P001.TIF", "IMG_PHR1B_P_202410170930051_ORT_ab12cd34_R1C1.TIF", "20200101_123456_ssc1d1_0001_panchromatic.tif"],
)
def test_a_panchromatic_file_is_refused_naming_why(tmp_path: Path, name: str) -> None:
    image = _image(tmp_path / name, 1)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(image), "--out", str(out)])
    assert r.exit_code != 0
    assert "panchromatic band" in r.output and "multispectral" in r.output
    assert not out.exists()
    with pytest.raises(InputError, match="panchromatic band"):  # said before asking for an acquisition time
        read_scene_ref(image)


def test_sensor_sar_still_overrides_a_providers_name(tmp_path: Path) -> None:
    image = _image(tmp_path / PLANET, 4)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(image), "--sensor", "sar", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["sensor"] == "sar"


def test_names_of_no_provider_stay_unknown(tmp_path: Path) -> None:
    for name in ("scene_M1BS.tif", "20241017_012345_harbour_visual.tif", "IMG_SENTINEL_MS_x.tif", "vv_analytic.tif"):
        assert provider_product(tmp_path / name, 4) is None, name


def test_ingest_archives_a_pleiades_file_in_its_dim_files_order_and_says_so(tmp_path: Path) -> None:
    """Read by count, ingest took a Pléiades file's red band for blue and its blue for red."""
    site = tiny_site("port", half_deg=0.002)
    crs, x0, y0 = site_utm_origin(site)
    h = w = 200
    dn = np.stack([np.full((h, w), v, np.uint16) for v in (700, 800, 900, 1200)])  # red, green, blue, NIR
    image = write_tiff(tmp_path / "IMG_PHR1A_MS_202410170930051_ORT_ab12cd34_R1C1.TIF", dn, crs=crs, transform=Affine(2.0, 0, x0, 0, -2.0, y0))
    (tmp_path / "DIM_PHR1A_MS_202410170930051_ORT_ab12cd34.XML").write_text(PLEIADES_DIM, encoding="utf-8")
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
    r = CliRunner().invoke(main, ["-q", "ingest", site.id, str(image), "-w", str(ws.root), "--acquired", "2024-10-17T09:30:05Z"])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(site.id)
    assert obs.scene.sensor == "optical" and obs.provenance["bands"] == ["red", "green", "blue", "nir"]
    assert obs.scene.platform == "pleiades-1a" and obs.provenance["tags"]["platform_from"] == "file name"
    assert obs.provenance["tags"]["bands_from"].startswith("an Airbus PHR1A MS file, by Airbus's DIMAP file naming, bands from DIM_")
    with rasterio.open(ws.root / obs.path) as cog:
        assert [float(np.nanmedian(cog.read(i))) for i in (1, 3)] == pytest.approx([0.07, 0.09])


def test_ingest_refuses_a_panchromatic_file_by_name(tmp_path: Path) -> None:
    site = tiny_site("port", half_deg=0.002)
    crs, x0, y0 = site_utm_origin(site)
    image = write_tiff(tmp_path / "24OCT17093005-P1BS-012345678010_01_P001.TIF", np.full((1, 200, 200), 900, np.uint16), crs=crs, transform=Affine(2.0, 0, x0, 0, -2.0, y0))
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
    r = CliRunner().invoke(main, ["ingest", site.id, str(image), "-w", str(ws.root), "--acquired", "2024-10-17T09:30:05Z"])
    assert r.exit_code == 1 and "panchromatic band" in r.output and "M1BS" in r.output
    r = CliRunner().invoke(main, ["import", str(image), "-w", str(ws.root), "--acquired", "2024-10-17T09:30:05Z"])
    assert r.exit_code == 1 and "panchromatic band" in r.output
    with ws.store() as store:
        assert store.observations(site.id) == []


def test_the_udm2_of_a_scene_with_a_one_digit_counter_is_found(tmp_path: Path) -> None:
    """Planet's names hold a counter when two scenes share a second, one digit in its own example
    (support.planet.com: 20151027_145652_1_0b0d_3B_Visual.tif); only two digits were taken."""
    from sitewatch.sources.planet import udm2_sibling

    image = _image(tmp_path / "20151027_145652_1_0b0d_3B_AnalyticMS_SR.tif", 4)
    udm2 = _image(tmp_path / "20151027_145652_1_0b0d_3B_udm2.tif", 8, "uint8")
    assert udm2_sibling(image) == udm2


@pytest.mark.parametrize(
    ("name", "platform"),
    [
        ("IMG_SPOT6_MS_202410170930051_ORT_ab12cd34_R1C1.TIF", "spot-6"),
        ("IMG_PNEO3_MS-FS_202410170930051_ORT_ab12cd34_R1C1.TIF", "pleiades-neo-3"),
        ("20241017_093005_harbour.tif", ""),
        # A granule's band file, as OSCD and anyone unpacking a SAFE have them: it names no unit (2A, 2B)
        ("T49QCD_20161209T031122_B08.tif", "sentinel-2"),
        ("T32TMP_20241017T093005_B8A_20m.jp2", "sentinel-2"),
        ("T32TMP_20241017T093005_B13.tif", ""),
    ],
)
def test_the_platform_is_read_from_a_providers_file_name(name: str, platform: str) -> None:
    from sitewatch.platforms import platform_from_name

    assert platform_from_name(name) == platform


PNEO = "PNEO3_202303071043378_MS-FS_ORT_PWOI_000046521_1_2_F_1"
"""A Pléiades Neo product: its name gives the date and time (to the tenth) before the spectral mode, not after."""


def test_a_pleiades_neo_file_is_an_airbus_delivery_read_in_its_dim_files_order(tmp_path: Path) -> None:
    image = _image(tmp_path / f"IMG_{PNEO}_R1C1.TIF", 4)
    (tmp_path / f"DIM_{PNEO}.XML").write_text(PLEIADES_DIM, encoding="utf-8")
    product = provider_product(image, 4)
    assert product is not None and product.provider == "Airbus" and product.product == "PNEO3 MS-FS"
    assert sensor_from_band_names(image)[0] == "optical"
    assert _indexes(image) == {"red": 1, "green": 2, "blue": 3, "nir": 4}
    scene, bands = read_scene_ref(image)
    assert bands == ["red", "green", "blue", "nir"] and scene.platform == "pleiades-neo-3"
    assert scene.acquired == datetime(2023, 3, 7, 10, 43, 37, tzinfo=UTC)  # the name's, the DIM having no time
