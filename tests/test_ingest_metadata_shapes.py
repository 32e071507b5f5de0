"""Metadata that ingest reads in and beside a GeoTIFF (its tags, a provider's sidecars) holding values of
another form than the provider writes: each is refused by name, naming the file and the field, or passed
over as no answer where the metadata only helps; never a Python traceback. Found by
fuzz/fuzz_ingest_metadata.py (6 Dec)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.ingest import read_scene_ref
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff

SITE = tiny_site("port")


def _sar(path: Path, **tags: str) -> Path:
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(0).gamma(4.5, 0.01 / 4.5, (60, 50)).astype("float32")
    return write_tiff(path, data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"],
                      tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z", **tags})  # fmt: skip


@pytest.mark.parametrize("value", ["1\ufffd0", "ten", "-5", "nan", "inf", "1e999"])
def test_a_resolution_tag_that_is_no_pixel_size_is_named(tmp_path, value):
    """Was ValueError (could not convert string to float) from read_scene_ref; nan, inf and -5 became the
    scene's resolution."""
    image = _sar(tmp_path / "scene.tif", SITEWATCH_RESOLUTION_M=value)
    with pytest.raises(InputError, match=r"scene\.tif: its tag SITEWATCH_RESOLUTION_M is .*, not a pixel size in metres"):
        read_scene_ref(image)


@pytest.mark.parametrize(("value", "resolution"), [("0", 10.0), ("20", 20.0), (" 2.5 ", 2.5)])
def test_a_resolution_tag_of_a_number_sets_the_resolution_and_0_leaves_the_files_own(tmp_path, value, resolution):
    scene, _ = read_scene_ref(_sar(tmp_path / "scene.tif", SITEWATCH_RESOLUTION_M=value))
    assert scene.resolution_m == resolution


def test_ingest_names_the_tag_and_writes_nothing(tmp_path):
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    image = _sar(tmp_path / "scene.tif", SITEWATCH_RESOLUTION_M="ten")
    res = CliRunner().invoke(main, ["ingest", "port", str(image), "-w", str(ws.root)])
    assert "its tag SITEWATCH_RESOLUTION_M is 'ten', not a pixel size in metres" in res.output
    assert res.exit_code == 1 and "Traceback" not in res.output
    with ws.store() as store:
        assert store.observations("port") == []


def test_a_dimap_band_index_of_thousands_of_digits_is_no_band_order(tmp_path):
    """Was ValueError (Exceeds the limit (4300 digits) for integer string conversion) from airbus_bands."""
    from sitewatch.sources.providers import airbus_bands

    dim = tmp_path / "DIM_PHR1A_MS_202410170930051_ORT_ab12cd34.XML"
    indexes = ["1", "2", "3", "4" + "0" * 5000]
    dim.write_text("<Dimap_Document><Raster_Index_List>" + "".join(
        f"<Raster_Index><BAND_ID>B{b}</BAND_ID><BAND_INDEX>{i}</BAND_INDEX></Raster_Index>" for b, i in zip("2103", indexes, strict=True)
    ) + "</Raster_Index_List></Dimap_Document>", encoding="utf-8")  # fmt: skip
    assert airbus_bands(dim) == ("red", "green", "blue")


@pytest.mark.parametrize("coefficient", [10**400, True, "2e-5", None])
def test_a_skysat_header_coefficient_that_is_no_float_is_named(tmp_path, coefficient):
    """Was OverflowError (int too large to convert to float) for a JSON integer of 400 digits."""
    import json

    crs, x0, y0 = site_utm_origin(SITE)
    image = write_tiff(tmp_path / "20230415_083012_ssc6d1_0001_analytic.tif", np.full((4, 20, 20), 900, np.uint16),
                       crs=crs, transform=Affine(1, 0, x0, 0, -1, y0),
                       tags={"TIFFTAG_IMAGEDESCRIPTION": json.dumps({"properties": {"reflectance_coefficients": [coefficient, 2e-5, 2e-5, 2e-5]}}),
                             "SITEWATCH_ACQUIRED": "2023-04-15T08:30:12Z"})  # fmt: skip
    with pytest.raises(InputError, match=r"analytic\.tif: its header's reflectance_coefficients .* are not one number for each of its 4 bands"):
        read_scene_ref(image)


LANDSAT = "LC09_L2SP_118038_20241015_20241016_02_T1"
MTL = (
    'GROUP = IMAGE_ATTRIBUTES\n    DATE_ACQUIRED = 2024-10-15\n    SCENE_CENTER_TIME = "02:30:45.1234560Z"\nEND_GROUP = IMAGE_ATTRIBUTES\n'
    + "".join(f"REFLECTANCE_MULT_BAND_{n} = 2.75E-05\nREFLECTANCE_ADD_BAND_{n} = -0.200000\n" for n in (2, 3, 4, 5))
)


def _landsat(folder: Path, mtl: str) -> Path:
    crs, x0, y0 = site_utm_origin(SITE)
    for n in (2, 3, 4, 5):
        write_tiff(folder / f"{LANDSAT}_SR_B{n}.TIF", np.full((20, 20), 9000, np.uint16), crs=crs, transform=Affine(30, 0, x0, 0, -30, y0))
    (folder / f"{LANDSAT}_MTL.txt").write_text(mtl, encoding="utf-8")
    return folder / f"{LANDSAT}_MTL.txt"


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [("2024-10-15", "2024-02-30", r"DATE_ACQUIRED '2024-02-30' with SCENE_CENTER_TIME '02:30:45.1234560Z' is no time \(day is out of range"),
     ("02:30:45", "25:30:45", r"DATE_ACQUIRED '2024-10-15' with SCENE_CENTER_TIME '25:30:45.1234560Z' is no time \(hour must be"),
     ("REFLECTANCE_ADD_BAND_2 = -0.200000", "REFLECTANCE_ADD_BAND_2 = nan", r"REFLECTANCE_MULT/ADD_BAND_2 is 2.75e-05/nan, not a finite number"),
     ("REFLECTANCE_MULT_BAND_5 = 2.75E-05", "REFLECTANCE_MULT_BAND_5 = 1e999", r"REFLECTANCE_MULT/ADD_BAND_5 is inf/-0.2, not a finite number")],
)  # fmt: skip
def test_a_landsat_mtl_of_an_impossible_time_or_scale_is_named(tmp_path, old, new, said):
    """Were ValueError from datetime (day is out of range for month; hour must be in 0..23); a NaN offset
    was "its bands are scaled differently", each NaN unequal to the others; an infinite scale was taken."""
    assert old in MTL
    with pytest.raises(InputError, match=rf"{LANDSAT}_MTL\.txt: {said}"):
        read_scene_ref(_landsat(tmp_path, MTL.replace(old, new)))


def test_a_landsat_mtl_as_written_is_read(tmp_path):
    scene, _ = read_scene_ref(_landsat(tmp_path, MTL))
    assert scene.acquired.isoformat() == "2024-10-15T02:30:45+00:00"
