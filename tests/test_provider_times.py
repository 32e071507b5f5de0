"""The acquisition time of each commercial delivery, read from its own metadata by ``import``/``ingest``.

Small synthetic deliveries in each provider's layout; the field names are those of the formats' public
documentation, cited where each is read (``sitewatch.sources.providers.dimap_imaging_time`` for Airbus
DIMAP, ``sitewatch.ingest.acquired_from_xml`` for Maxar and Planet). Landsat's MTL (``DATE_ACQUIRED`` +
``SCENE_CENTER_TIME``) is test_landsat_l2's ``test_a_landsat_l2_folder_is_one_observation…``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.ingest import _acquired_from, acquired_from_xml
from sitewatch.model import DATE_ONLY_NOTE, NoonOfDate
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff

SITE = tiny_site("pier")

_BANDS = "".join(f"<Raster_Index><BAND_ID>B{i}</BAND_ID><BAND_INDEX>{i + 1}</BAND_INDEX></Raster_Index>" for i in range(4))


def dim_v2(*strips: tuple[str, str | None], production: str = "2024-10-20T08:00:00.000Z") -> str:
    """A DIMAP V2 ``DIM_….XML`` (Pléiades, SPOT 6/7): its PRODUCTION_DATE, band order and one Strip_Source a (date, time)."""
    sources = "".join(
        "<Source_Identification><SOURCE_ID>DS_PHR1A</SOURCE_ID><Strip_Source><MISSION>PHR</MISSION>"
        f"<MISSION_INDEX>1A</MISSION_INDEX><IMAGING_DATE>{day}</IMAGING_DATE>"
        + (f"<IMAGING_TIME>{clock}</IMAGING_TIME>" if clock is not None else "")
        + "<BAND_MODE>MS</BAND_MODE></Strip_Source></Source_Identification>"
        for day, clock in strips
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Dimap_Document name="DIM_PHR1A_MS.XML">'
        f"<Product_Information><Delivery_Identification><PRODUCTION_DATE>{production}</PRODUCTION_DATE>"
        "</Delivery_Identification></Product_Information>"
        f"<Raster_Data><Raster_Display><Raster_Index_List>{_BANDS}</Raster_Index_List></Raster_Display></Raster_Data>"
        f"<Dataset_Sources>{sources}</Dataset_Sources></Dimap_Document>\n"
    )


DIM_V1 = """<?xml version="1.0" encoding="ISO-8859-1"?>
<Dimap_Document name="METADATA.DIM">
 <Production><DATASET_PRODUCTION_DATE>2006-01-10T09:12:00</DATASET_PRODUCTION_DATE></Production>
 <Dataset_Sources><Source_Information><SOURCE_TYPE>SCENE</SOURCE_TYPE><Scene_Source>
  <IMAGING_DATE>2005-12-08</IMAGING_DATE><IMAGING_TIME>07:23:55</IMAGING_TIME>
  <MISSION>SPOT</MISSION><MISSION_INDEX>5</MISSION_INDEX>
 </Scene_Source></Source_Information></Dataset_Sources>
</Dimap_Document>
"""
"""A DIMAP V1 ``METADATA.DIM`` (SPOT 1-5 scenes, beside ``IMAGERY.TIF``): Scene_Source, a time without a zone."""


def _image(path: Path, value: int) -> Path:
    crs, x0, y0 = site_utm_origin(SITE)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tiff(path, np.full((4, 120, 120), value, np.uint16), crs=crs, transform=Affine(3, 0, x0, 0, -3, y0))


def _imported(tmp_path: Path, delivery: Path) -> tuple[str, str, bool]:
    """``import`` a delivery into a new workspace: its one observation's acquired, acquired_from and acquired_date_only."""
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    r = CliRunner().invoke(main, ["import", "-w", str(ws.root), str(delivery), "--json"])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(CliRunner().invoke(main, ["observations", "-w", str(ws.root), "--json"]).stdout)
    shown = json.loads(CliRunner().invoke(main, ["show", "-w", str(ws.root), row["id"], "--json"]).stdout)
    return row["acquired"], shown["provenance"]["acquired_from"], row["acquired_date_only"]


# -- Airbus DIMAP ----------------------------------------------------------------------------------


def test_a_pleiades_file_not_named_with_its_time_takes_its_dim_files_imaging_date_and_time(tmp_path: Path) -> None:
    # The time is the strip's, without a Z and with a tenth; the product was made four days later.
    _image(tmp_path / "d" / "IMG_PHR1B_MS_002_R1C1.TIF", 900)
    (tmp_path / "d" / "DIM_PHR1B_MS_002.XML").write_text(dim_v2(("2024-10-16", "10:11:12.5")), encoding="utf-8")
    assert _imported(tmp_path, tmp_path / "d") == ("2024-10-16T10:11:12.500000Z", "sidecar DIM_PHR1B_MS_002.XML", False)


def test_a_pleiades_file_named_as_delivered_takes_the_dim_files_time_not_its_names(tmp_path: Path) -> None:
    # Airbus's name holds the time to the tenth (…_202410170930051_…); the DIM file says it to the tenth, with its Z.
    _image(tmp_path / "d" / "IMG_PHR1A_MS_202410170930051_ORT_ab12cd34_R1C1.TIF", 901)
    (tmp_path / "d" / "DIM_PHR1A_MS_202410170930051_ORT_ab12cd34.XML").write_text(dim_v2(("2024-10-17", "09:30:05.1Z")), encoding="utf-8")
    when, said, date_only = _imported(tmp_path, tmp_path / "d")
    assert (when, said, date_only) == ("2024-10-17T09:30:05.100000Z", "sidecar DIM_PHR1A_MS_202410170930051_ORT_ab12cd34.XML", False)


def test_a_dim_file_with_a_date_and_no_time_gives_the_date_only(tmp_path: Path) -> None:
    _image(tmp_path / "d" / "IMG_SPOT7_MS_003_R1C1.TIF", 902)
    (tmp_path / "d" / "DIM_SPOT7_MS_003.XML").write_text(dim_v2(("2024-10-15", None)), encoding="utf-8")
    assert _imported(tmp_path, tmp_path / "d") == (
        "2024-10-15T12:00:00Z", f"sidecar DIM_SPOT7_MS_003.XML, date only ({DATE_ONLY_NOTE})", True
    )  # fmt: skip


def test_a_dim_files_date_alone_is_timed_by_the_name_that_gives_a_time_on_that_date(tmp_path: Path) -> None:
    image = _image(tmp_path / "IMG_SPOT6_MS_202410150930051_ORT_x_R1C1.TIF", 903)
    (tmp_path / "DIM_SPOT6_MS_202410150930051_ORT_x.XML").write_text(dim_v2(("2024-10-15", None)), encoding="utf-8")
    assert _acquired_from({}, image) == (datetime(2024, 10, 15, 9, 30, 5, tzinfo=UTC), "file name")


def test_a_dim_files_production_date_is_never_the_acquisition(tmp_path: Path) -> None:
    dim = tmp_path / "DIM_PHR1A_MS_004.XML"
    dim.write_text(dim_v2(), encoding="utf-8")  # no Strip_Source at all: PRODUCTION_DATE alone
    assert acquired_from_xml(dim) is None
    image = _image(tmp_path / "IMG_PHR1A_MS_004_R1C1.TIF", 904)
    assert _acquired_from({}, image) is None  # refused, asking for --acquired


@pytest.mark.parametrize(
    ("strips", "expected"),
    [
        ((("2012-10-04", "08:19:23.8Z"),), datetime(2012, 10, 4, 8, 19, 23, 800000, tzinfo=UTC)),
        ((("2012-10-04", "08:19:23"),), datetime(2012, 10, 4, 8, 19, 23, tzinfo=UTC)),
        ((("2012-10-04", "08:19:23.123456789Z"),), datetime(2012, 10, 4, 8, 19, 23, 123456, tzinfo=UTC)),
        ((("2012-10-04", "08:19:30.0Z"), ("2012-10-04", "08:19:21.5Z")), datetime(2012, 10, 4, 8, 19, 21, 500000, tzinfo=UTC)),
        ((("2012-10-04", None), ("2012-10-04", "08:19:21Z")), datetime(2012, 10, 4, 8, 19, 21, tzinfo=UTC)),
        ((("2012-10-04", "not a time"),), NoonOfDate(2012, 10, 4, 12, tzinfo=UTC)),
    ],
)
def test_a_dimap_v2_strips_imaging_date_and_time(tmp_path: Path, strips: tuple[tuple[str, str | None], ...], expected: datetime) -> None:
    dim = tmp_path / "DIM_PHR1A_MS_005.XML"
    dim.write_text(dim_v2(*strips), encoding="utf-8")
    when = acquired_from_xml(dim)
    assert when == expected and isinstance(when, NoonOfDate) == isinstance(expected, NoonOfDate)


def test_a_dimap_v1_scene_beside_its_metadata_dim_takes_its_scene_sources_time(tmp_path: Path) -> None:
    image = _image(tmp_path / "SCENE01" / "IMAGERY.TIF", 905)
    (tmp_path / "SCENE01" / "METADATA.DIM").write_text(DIM_V1, encoding="utf-8")
    assert _acquired_from({}, image) == (datetime(2005, 12, 8, 7, 23, 55, tzinfo=UTC), "sidecar METADATA.DIM")


# -- Maxar -----------------------------------------------------------------------------------------

IMD_2A = """version = "28.3";
generationTime = 2024-10-25T11:00:00.000000Z;
productLevel = "LV2A";
BEGIN_GROUP = BAND_B
END_GROUP = BAND_B
BEGIN_GROUP = BAND_G
END_GROUP = BAND_G
BEGIN_GROUP = BAND_R
END_GROUP = BAND_R
BEGIN_GROUP = BAND_N
END_GROUP = BAND_N
BEGIN_GROUP = IMAGE_1
\tsatId = "WV03";
\tearliestAcqTime = 2024-10-14T02:11:09.100000Z;
\tlatestAcqTime = 2024-10-14T02:11:12.900000Z;
END_GROUP = IMAGE_1
BEGIN_GROUP = IMAGE_2
\tsatId = "WV03";
\tearliestAcqTime = 2024-10-14T02:11:05.000000Z;
\tlatestAcqTime = 2024-10-14T02:11:09.000000Z;
END_GROUP = IMAGE_2
END;
"""
"""A Standard (2A) product's ``.IMD`` made of two images, the later listed first, made eleven days after."""


def test_a_maxar_mosaics_imd_gives_its_earliest_images_first_line_not_the_first_listed(tmp_path: Path) -> None:
    _image(tmp_path / "d" / "24OCT14021105-M2AS-012345678010_01_P001.TIF", 906)
    (tmp_path / "d" / "24OCT14021105-M2AS-012345678010_01_P001.IMD").write_text(IMD_2A, encoding="utf-8")
    assert _imported(tmp_path, tmp_path / "d") == (
        "2024-10-14T02:11:05Z", "sidecar 24OCT14021105-M2AS-012345678010_01_P001.IMD", False
    )  # fmt: skip


def test_a_maxar_imds_generation_time_is_never_the_acquisition(tmp_path: Path) -> None:
    imd = tmp_path / "scene.IMD"
    imd.write_text('version = "28.3";\ngenerationTime = 2024-10-25T11:00:00.000000Z;\nBEGIN_GROUP = IMAGE_1\n\tsatId = "WV02";\nEND_GROUP = IMAGE_1\nEND;\n', encoding="utf-8")
    assert acquired_from_xml(imd) is None
    imd.write_text(IMD_2A.replace("earliestAcqTime", "firstLineTime").replace("\tlatestAcqTime", "\tavgLineRate"), encoding="utf-8")  # a Basic (1B) product's
    assert acquired_from_xml(imd) == datetime(2024, 10, 14, 2, 11, 5, tzinfo=UTC)


def test_a_maxar_xml_twin_gives_the_first_line_not_the_generation_time(tmp_path: Path) -> None:
    xml = tmp_path / "24OCT13021107-M1BS-012345678010_01_P002.XML"
    xml.write_text(
        "<isd><IMD><GENERATIONTIME>2024-10-25T11:00:00.000000Z</GENERATIONTIME><IMAGE><SATID>WV02</SATID>"
        "<FIRSTLINETIME>2024-10-13T02:11:07.512345Z</FIRSTLINETIME></IMAGE></IMD></isd>"
    , encoding="utf-8")
    assert acquired_from_xml(xml) == datetime(2024, 10, 13, 2, 11, 7, 512345, tzinfo=UTC)


def test_a_maxar_mosaics_xml_twin_gives_its_earliest_image_as_its_imd_does(tmp_path: Path) -> None:
    # Maxar delivers the .XML beside the .IMD, and the .XML is read first: the two give one time.
    image = _image(tmp_path / "24OCT14021105-M2AS-012345678010_01_P001.TIF", 909)
    (tmp_path / "24OCT14021105-M2AS-012345678010_01_P001.IMD").write_text(IMD_2A, encoding="utf-8")
    images = "".join(
        f"<IMAGE><SATID>WV03</SATID><EARLIESTACQTIME>{a}</EARLIESTACQTIME><LATESTACQTIME>{b}</LATESTACQTIME></IMAGE>"
        for a, b in (("2024-10-14T02:11:09.100000Z", "2024-10-14T02:11:12.900000Z"), ("2024-10-14T02:11:05.000000Z", "2024-10-14T02:11:09.000000Z"))
    )
    (tmp_path / "24OCT14021105-M2AS-012345678010_01_P001.XML").write_text(
        f"<isd><IMD><GENERATIONTIME>2024-10-25T11:00:00.000000Z</GENERATIONTIME>{images}</IMD></isd>"
    , encoding="utf-8")
    assert _acquired_from({}, image) == (datetime(2024, 10, 14, 2, 11, 5, tzinfo=UTC), "sidecar 24OCT14021105-M2AS-012345678010_01_P001.XML")


# -- Planet: PlanetScope and SkySat ----------------------------------------------------------------

PLANET_XML = """<?xml version="1.0" encoding="UTF-8"?>
<ps:EarthObservation xmlns:ps="http://schemas.planet.com/ps/v1/planet_product_metadata_geocorrected_level"
  xmlns:eop="http://earth.esa.int/eop" xmlns:gml="http://www.opengis.net/gml">
 <gml:validTime><gml:TimePeriod><gml:beginPosition>2024-10-12T01:23:45+00:00</gml:beginPosition></gml:TimePeriod></gml:validTime>
 <gml:using><eop:EarthObservationEquipment><eop:platform><eop:Platform><eop:shortName>PlanetScope</eop:shortName></eop:Platform></eop:platform>
  <eop:acquisitionParameters><ps:Acquisition>
   <ps:acquisitionDateTime>2024-10-12T01:23:45.678912+00:00</ps:acquisitionDateTime>
  </ps:Acquisition></eop:acquisitionParameters></eop:EarthObservationEquipment></gml:using>
</ps:EarthObservation>
"""


def test_a_planetscope_metadata_xml_gives_its_acquisition_date_time(tmp_path: Path) -> None:
    _image(tmp_path / "d" / "20241012_012345_22_2470_3B_AnalyticMS_SR.tif", 907)
    (tmp_path / "d" / "20241012_012345_22_2470_3B_AnalyticMS_metadata.xml").write_text(PLANET_XML, encoding="utf-8")
    when, said, _ = _imported(tmp_path, tmp_path / "d")
    assert when.startswith("2024-10-12T01:23:45.678") and said == "sidecar 20241012_012345_22_2470_3B_AnalyticMS_metadata.xml"


@pytest.mark.parametrize(
    ("image", "item", "provider"),
    [
        ("20241011_012345_22_2470_3B_AnalyticMS_SR.tif", "20241011_012345_22_2470", "PSScene"),
        ("20241011_012345_ssc6d1_0001_analytic_SR.tif", "20241011_012345_ssc6d1_0001", "SkySatScene"),
    ],
)
def test_a_planet_metadata_jsons_acquired_wins_over_the_tiff_datetime_of_its_processing(
    tmp_path: Path, image: str, item: str, provider: str
) -> None:
    # TIFF 6.0's DateTime is when the file was made: here Planet's processing, eight days after the pass.
    crs, x0, y0 = site_utm_origin(SITE)
    (tmp_path / "d").mkdir()
    data = np.full((4, 120, 120), 908, np.uint16)
    write_tiff(tmp_path / "d" / image, data, crs=crs, transform=Affine(3, 0, x0, 0, -3, y0), tags={"TIFFTAG_DATETIME": "2024:10:19 07:00:00"})
    meta = {"id": item, "type": "Feature", "properties": {"acquired": "2024-10-11T01:23:47.123456Z", "published": "2024-10-12T09:00:00Z", "item_type": provider}}
    (tmp_path / "d" / f"{item}_metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    assert _imported(tmp_path, tmp_path / "d")[:2] == ("2024-10-11T01:23:47.123000Z", f"sidecar {item}_metadata.json")


def test_the_tiff_datetime_still_dates_a_file_with_nothing_else(tmp_path: Path) -> None:
    assert _acquired_from({"TIFFTAG_DATETIME": "2024:10:19 07:00:00"}, tmp_path / "scene.tif") == (
        datetime(2024, 10, 19, 7, tzinfo=UTC), "tag TIFFTAG_DATETIME"
    )  # fmt: skip


def test_a_pleiades_neo_file_takes_its_dim_files_time(tmp_path: Path) -> None:
    # Pléiades Neo names the time before the spectral mode (IMG_PNEO3_202303071043378_MS-FS_…); its DIM file is found as Pléiades's.
    stem = "PNEO3_202303071043378_MS-FS_ORT_PWOI_000046521_1_2_F_1"
    _image(tmp_path / "d" / f"IMG_{stem}_R1C1.TIF", 904)
    (tmp_path / "d" / f"DIM_{stem}.XML").write_text(dim_v2(("2023-03-07", "10:43:37.9Z")), encoding="utf-8")
    assert _imported(tmp_path, tmp_path / "d") == ("2023-03-07T10:43:37.900000Z", f"sidecar DIM_{stem}.XML", False)


def test_sidecar_json_with_a_number_of_more_than_4300_digits_is_skipped_as_unreadable(tmp_path: Path) -> None:
    """Python refuses to read such a number (a ValueError, not a JSONDecodeError): it ended `import` in a traceback."""
    from sitewatch.platforms import platform_from_metadata
    from sitewatch.sources.landsat import _mtl_json_values

    (tmp_path / "scene.json").write_text('{"datetime": ' + "1" * 5000 + "}", encoding="utf-8")
    assert _acquired_from({"TIFFTAG_DATETIME": "2024:10:19 07:00:00"}, tmp_path / "scene.tif") == (
        datetime(2024, 10, 19, 7, tzinfo=UTC), "tag TIFFTAG_DATETIME"
    )  # fmt: skip
    assert platform_from_metadata(tmp_path / "scene.json") == ""
    assert _mtl_json_values('{"LANDSAT_METADATA_FILE": ' + "1" * 5000 + "}") == {}
