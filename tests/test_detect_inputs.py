"""``sitewatch.detect.detect_image_file``: what ``detect-image`` does, in one Python call."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rasterio.transform import from_origin

import sitewatch.detect
from sitewatch.cli import main
from sitewatch.detect import ImageDetections, detect_image_file
from sitewatch.detect.inputs import detect_image_input, open_image_input
from sitewatch.errors import ImageReadError, InputError, SitewatchWarning
from sitewatch.testing import write_tiff
from test_optical_inputs import SHIP_AT, band_files, port
from test_sar import PX, sea_with_ships


def _sar(tmp_path: Path, name: str = "scene.tif") -> Path:
    img = sea_with_ships(np.random.default_rng(21), (120, 120), [(60.0, 60.0, 113.0, 15.6, 30.0)])
    return write_tiff(tmp_path / name, img.astype(np.float32), crs="EPSG:32633", transform=from_origin(500000.0, 4000000.0, PX, PX))


def _command(tmp_path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    out = tmp_path / "command.geojson"
    r = CliRunner().invoke(main, ["detect-image", *args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return json.loads(out.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_one_call_gives_what_the_command_writes_for_a_sar_geotiff(tmp_path: Path) -> None:
    tif = _sar(tmp_path)
    said: list[str] = []
    found = detect_image_file(tif, say=said.append)
    assert isinstance(found, ImageDetections)
    assert found.sensor == "sar" and found.image == tif and found.kinds["vessel"] == 1
    (ship,) = found.detections
    assert abs(ship.row - 60) < 1.5 and abs(ship.col - 60) < 1.5
    assert said == ["sensor: sar, the default: no band is named blue, green, red or nir (--sensor to choose)"]
    assert found.metadata["impulse_response_m"].startswith("twice the pixel size")
    assert found.geojson() == _command(tmp_path, str(tif))


def test_band_files_given_as_a_mapping_or_as_name_path_items_read_alike(tmp_path: Path) -> None:
    files = band_files(tmp_path, port())
    found = detect_image_file(bands=files)
    assert found.sensor == "optical"
    assert found.band_sources == {k: str(p) for k, p in files.items()} == found.metadata["source"]
    assert [(round(d.row), round(d.col)) for d in found.detections if d.kind == "vessel"] == [tuple(round(v) for v in SHIP_AT)]
    items = detect_image_file(bands=[f"{k}={p}" for k, p in files.items()])
    assert items.geojson() == found.geojson() == _command(tmp_path, *[a for k, p in files.items() for a in ("--band", f"{k}={p}")])


def test_open_image_input_decides_and_refuses_then_detect_image_input_runs(tmp_path: Path) -> None:
    tif = _sar(tmp_path)
    found = open_image_input(tif, sensor="sar", resolution=20.0)
    assert (found.sensor, found.resolution, found.sar_params.resolution_m, found.bands) == ("sar", 20.0, 20.0, ())
    with pytest.raises(InputError, match="--resolution applies to SAR images"):
        open_image_input(tif, sensor="optical", resolution=20.0)
    result = detect_image_input(found)
    assert result.metadata["impulse_response_m"] == 20.0 and len(result.detections) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, InputError, "give IMAGE or --band NAME=PATH, not both and not neither"),
        ({"image": "x.tif", "bands": {"blue": "x.tif"}}, InputError, "not both and not neither"),
        ({"bands": {"vv": "a.tif", "teal": "b.tif"}}, InputError, "for SAR use NAME=PATH with NAME one of vv, vh, hh, hv"),
        ({"image": "x.tif", "bands": ["udm2=a.tif", "udm2=b.tif"]}, InputError, "--band udm2 given twice"),
        ({"image": "missing.tif"}, ImageReadError, "missing.tif: no such file"),
    ],
)
def test_refusals_are_errors_naming_the_input(tmp_path: Path, kwargs: dict, error: type[Exception], message: str) -> None:  # type: ignore[type-arg]
    if "image" in kwargs:
        kwargs = kwargs | {"image": tmp_path / kwargs["image"]}
    with pytest.raises(error, match=message):
        detect_image_file(**kwargs)


@pytest.mark.parametrize(
    "name",
    [
        "2023-07-10-00:00_2023-07-10-23:59_Sentinel-2_L2A_B08_(Raw).tiff",
        "T49QCD_20161209T031122_B08.tif",  # a granule's band file (OSCD's): was run as SAR, 0 vessels, no word
    ],
)
def test_a_sentinel_2_band_by_its_name_is_refused_as_sar_but_runs_when_sar_is_chosen(tmp_path: Path, name: str) -> None:
    tif = _sar(tmp_path, name)
    with pytest.raises(InputError, match="a sentinel-2 image .* --sensor sar to run the SAR detector on it anyway"):
        detect_image_file(tif)
    assert detect_image_file(tif, sensor="sar").sensor == "sar"


def test_sar_chosen_for_an_optical_providers_file_is_a_warning(tmp_path: Path) -> None:
    data = np.stack([np.full((40, 40), 500 + 100 * i, np.uint16) for i in range(4)])
    planet = write_tiff(tmp_path / "20241017_012345_22_2470_3B_AnalyticMS_SR_clip.tif", data, crs="EPSG:32633", transform=from_origin(500000.0, 4000000.0, 3, 3))
    with pytest.warns(SitewatchWarning, match="--sensor sar on optical bands .*PlanetScope"):
        detect_image_file(planet, sensor="sar")
    heard: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # given a warn callback, nothing goes through the warnings module
        detect_image_file(planet, sensor="sar", warn=heard.append)
    assert len(heard) == 1 and heard[0].startswith("--sensor sar on optical bands")


def test_the_detect_package_exports_it_without_importing_it_early() -> None:
    assert "detect_image_file" in sitewatch.detect.__all__ and sitewatch.detect.detect_image_file is detect_image_file
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = sitewatch.detect.nothing  # type: ignore[attr-defined]


def test_a_tiff_whose_tags_gdal_refuses_while_reading_is_named(tmp_path: Path) -> None:
    """A 730-byte TIFF garbled by fuzz/fuzz_image.py from its own seed (tests/data/fuzz): it opens, then GDAL's
    "Key 0 of unknown type" surfaces as rasterio's CPLE_AppDefinedError (no RasterioError) when the bands' colour
    interpretation is read, and went out of detect-image as a traceback; now it is the unreadable image, named."""
    garbled = Path(__file__).parent / "data" / "fuzz" / "tiff-tag-of-unknown-type.tif"
    result = CliRunner().invoke(main, ["detect-image", str(garbled), "--sensor", "sar", "--pixel-size", "10",
                                       "--out", str(tmp_path / "d.geojson")])
    assert result.exit_code == 1, result.output
    assert "tiff-tag-of-unknown-type.tif" in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "d.geojson").exists()


def test_an_image_declaring_tens_of_thousands_of_bands_is_refused_at_once(tmp_path: Path) -> None:
    """A 2.9 KB TIFF garbled by fuzz/fuzz_image.py declaring 65,530 bands of 48 × 48 pixels: its bands' scalings and
    pixels were read for minutes (over 4 at the CLI) before any check; now refused as it opens."""
    stack = Path(__file__).parent / "data" / "fuzz" / "65530-bands-of-48x48.tif"
    result = CliRunner().invoke(main, ["detect-image", str(stack), "--sensor", "sar", "--pixel-size", "10",
                                       "--out", str(tmp_path / "d.geojson")])
    assert result.exit_code == 1 and "65,530 bands, more than sitewatch reads (1,000)" in result.output, result.output
    assert not (tmp_path / "d.geojson").exists()


@pytest.mark.parametrize(
    ("name", "mode", "grey", "sensor"),
    [("c.png", "RGB", False, "optical"), ("g.png", "RGB", True, "sar"), ("c.jpg", "RGB", False, "optical"), ("g.jpg", "RGB", True, "sar"),
     ("c.png", "RGBA", False, "optical"), ("g.png", "L", True, "sar"), ("c16.png", "I;16", False, "sar")],
)  # fmt: skip
def test_a_picture_is_optical_when_it_has_colour_and_sar_when_grey(tmp_path: Path, name: str, mode: str, grey: bool, sensor: str) -> None:
    """A SAR chip stored as a colour PNG or JPEG repeats one grey in each channel (JPEG's colour noise too); a
    photograph's channels differ. One channel (``L``, 16-bit ``I;16``) is never taken for colour."""
    from PIL import Image

    from sitewatch.detect.optical_image import sensor_from_band_names

    rng = np.random.default_rng(3)
    base = (rng.random((64, 64)) * 120 + 60).astype(np.uint8)
    rgb = np.stack([base, base, base] if grey else [base, (base * 0.8).astype(np.uint8), (base * 0.6).astype(np.uint8)], axis=-1)
    if mode == "RGBA":
        image = Image.fromarray(np.concatenate([rgb, np.full((64, 64, 1), 255, np.uint8)], axis=-1), "RGBA")
    elif mode == "L":
        image = Image.fromarray(base, "L")
    elif mode == "I;16":
        image = Image.fromarray(base.astype(np.uint16) * 200)
    else:
        image = Image.fromarray(rgb, "RGB")
    image.save(tmp_path / name, **({"quality": 85} if name.endswith(".jpg") else {}))
    got, why = sensor_from_band_names(tmp_path / name)
    assert got == sensor, why
    assert ("colour picture" in why) is (sensor == "optical")


def test_a_png_cut_short_is_refused_not_read_as_black(tmp_path: Path) -> None:
    """GDAL reads the rows a PNG cut short lacks as zeros and says nothing: a half-copied chip was searched (and
    compared) as mostly black. Its missing end chunk names it, with what to do; the whole file reads."""
    from PIL import Image

    rng = np.random.default_rng(7)
    whole = tmp_path / "whole.png"
    Image.fromarray((rng.random((128, 128, 3)) * 255).astype(np.uint8), "RGB").save(whole)
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[:3000])
    result = CliRunner().invoke(main, ["detect-image", str(cut), "--pixel-size", "1", "--out", str(tmp_path / "d.geojson")])
    assert result.exit_code == 1 and "cut.png: a PNG cut short (3,000 bytes and no end chunk)" in result.output, result.output
    assert "fetch or copy it again" in result.output and not (tmp_path / "d.geojson").exists()
    assert CliRunner().invoke(main, ["detect-image", str(whole), "--pixel-size", "1", "--out", str(tmp_path / "w.geojson")]).exit_code == 0


@pytest.mark.parametrize(("table", "refused"), [("colour", "-expand rgb"), ("grey ramp", "-expand gray"), ("identity", None)])
def test_a_palette_image_is_refused_unless_its_indexes_are_its_grey_levels(tmp_path: Path, table: str, refused: str | None) -> None:
    """A palette PNG holds indexes into a colour table: read as they are, a colour screenshot would be measured as
    a grey (SAR) image of its index order. Refused with the expansion that fixes it, in a folder too (the other
    images proceed); a table mapping each index to that grey level is read as it is."""
    from PIL import Image

    rng = np.random.default_rng(5)
    image = Image.fromarray(rng.integers(0, 16, (96, 96)).astype(np.uint8), "P")
    colours = {"colour": rng.integers(0, 256, (256, 3)), "grey ramp": np.repeat(np.arange(256)[:, None] * 17 % 256, 3, axis=1),
               "identity": np.repeat(np.arange(256)[:, None], 3, axis=1)}[table]  # fmt: skip
    image.putpalette(colours.astype(np.uint8).ravel().tolist())
    (tmp_path / "in").mkdir()
    image.save(tmp_path / "in" / "p.png")
    Image.fromarray((rng.random((96, 96)) * 120 + 60).astype(np.uint8), "L").save(tmp_path / "in" / "grey.png")
    (tmp_path / "out").mkdir()

    one = CliRunner().invoke(main, ["detect-image", str(tmp_path / "in" / "p.png"), "--pixel-size", "10", "--out", str(tmp_path / "p.geojson")])
    folder = CliRunner().invoke(main, ["detect-image", str(tmp_path / "in"), "--pixel-size", "10", "--out", str(tmp_path / "out")])

    if refused is None:
        assert one.exit_code == 0 and folder.exit_code == 0, one.output + folder.output
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["grey.geojson", "p.geojson"]
    else:
        assert one.exit_code == 1 and "a palette image" in one.output and refused in one.output, one.output
        assert "Traceback" not in one.output and not (tmp_path / "p.geojson").exists()
        assert folder.exit_code == 3 and "p.png: a palette image" in folder.output, folder.output
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["grey.geojson"]
