"""An 8-bit SAR rendering stored wider (16-bit × 257 / × 256, float 0-255 / 0-1) is read as that rendering;
genuine 16-bit amplitude and float sigma0 are read as before (:mod:`sitewatch.detect.eight_bit`)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning

from sitewatch.cli import main
from sitewatch.detect.eight_bit import rendering_divisor, to_rendering
from sitewatch.detect.image import _sar_window_reader, open_image_info
from sitewatch.detect.inputs import detect_image_file
from sitewatch.detect.sar import detect_sar
from sitewatch.errors import SitewatchWarning
from test_sar import PX, sea_with_ships


def _grey() -> np.ndarray:
    """An 8-bit rendering of a sea with one ship, with a black strip (0 is a grey level here, not no data)."""
    img = sea_with_ships(np.random.default_rng(21), (120, 120), [(60.0, 60.0, 113.0, 15.6, 30.0)])
    grey = (np.sqrt(img) / np.sqrt(img).max() * 255).astype(np.uint8)
    grey[:, :3] = 0
    return grey


def _tif(path: Path, a: np.ndarray) -> Path:
    bands = a if a.ndim == 3 else a[None]
    with rasterio.open(path, "w", driver="GTiff", width=a.shape[-1], height=a.shape[-2], count=bands.shape[0], dtype=a.dtype.name) as dst:
        dst.write(bands)
    return path


def _found(path: Path) -> list[tuple[float, float, float, float]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        warnings.simplefilter("ignore", SitewatchWarning)  # an RGB file run as SAR: said, and meant here
        dets = detect_image_file(path, sensor="sar", pixel_size=PX).detections
    return [(round(d.row, 3), round(d.col, 3), round(d.score, 4), round(d.length_m, 2)) for d in dets]


@pytest.mark.parametrize(
    "name, stored",
    [
        ("x257.png", lambda g: g.astype(np.uint16) * 257),
        ("x256.tif", lambda g: g.astype(np.uint16) * 256),
        ("f255.tif", lambda g: g.astype(np.float32)),
        ("f01.tif", lambda g: g.astype(np.float32) / 255),
        ("x257_rgb.tif", lambda g: g.astype(np.uint16) * 257),
    ],
)
def test_an_8bit_rendering_stored_wider_gives_the_8bit_detections(tmp_path: Path, name: str, stored) -> None:
    grey = _grey()
    png8 = tmp_path / "chip8.png"
    Image.fromarray(grey).save(png8)
    a = stored(grey)
    if name.endswith(".png"):
        with rasterio.open(tmp_path / name, "w", driver="PNG", width=120, height=120, count=1, dtype=a.dtype.name) as dst:
            dst.write(a[None])
        wide = tmp_path / name
    elif "_rgb" in name:
        wide = tmp_path / name
        with rasterio.open(wide, "w", driver="GTiff", width=120, height=120, count=3, dtype=a.dtype.name, photometric="RGB") as dst:
            dst.write(np.stack([a] * 3))
    else:
        wide = _tif(tmp_path / name, a)
    reference = _found(png8)
    assert len(reference) == 1 and abs(reference[0][0] - 60) < 1.5 and abs(reference[0][1] - 60) < 1.5
    assert _found(wide) == reference
    info = open_image_info(wide, PX, renderings=True)
    read, valid = _sar_window_reader(info)((0, 120, 0, 120))
    assert read.dtype == np.uint8 and np.array_equal(read, grey) and valid is None  # black is data, as in the PNG


def test_the_geojson_says_how_a_stored_rendering_was_read(tmp_path: Path) -> None:
    png = tmp_path / "chip16.png"
    a = _grey().astype(np.uint16) * 257
    with rasterio.open(png, "w", driver="PNG", width=120, height=120, count=1, dtype="uint16") as dst:
        dst.write(a[None])
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(png), "--sensor", "sar", "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    meta = json.loads(out.read_text(encoding="utf-8"))["sitewatch"]
    assert "8-bit rendering" in meta["values"] and "257" in meta["values"]
    assert "8-bit rendering" in meta["impulse_response_m"]


def test_genuine_16bit_amplitude_and_float_sigma0_are_read_as_before(tmp_path: Path) -> None:
    img = sea_with_ships(np.random.default_rng(21), (120, 120), [(60.0, 60.0, 113.0, 15.6, 30.0)])
    amp = np.clip(np.rint(np.sqrt(img) * 500), 1, 65535).astype(np.uint16)  # DN amplitude, GRD-like gain
    cases = {
        "amp16.tif": amp,
        "sigma0.tif": img.astype(np.float32),  # linear sigma0, all in 0-1
        "db.tif": (10 * np.log10(img)).astype(np.float32),
        "dn_float.tif": amp.astype(np.float32),  # uncalibrated amplitude DN in a float file (OpenSARShip Patch/)
    }
    for name, a in cases.items():
        path = _tif(tmp_path / name, a)
        info = open_image_info(path, PX, renderings=True)
        assert info.rendering_divisor is None, name
        read, _ = _sar_window_reader(info)((0, 120, 0, 120))
        assert read.dtype == a.dtype and np.array_equal(read, a), name
        dets = detect_sar(a, (PX, PX), valid=None if name != "amp16.tif" else a != 0)
        assert _found(path) == [(round(d.row, 3), round(d.col, 3), round(d.score, 4), round(d.length_m, 2)) for d in dets], name


@given(arrays(np.uint8, (6, 7), elements=st.integers(0, 255)))
def test_rendering_divisor_finds_each_way_of_storing_8_bits_and_to_rendering_undoes_it(grey: np.ndarray) -> None:
    many = np.unique(grey).size >= 4
    for stored, divisor in (
        (grey.astype(np.uint16) * 257, 257.0),
        (grey.astype(np.uint16) * 256, 256.0),
        (grey.astype(np.float32), 1.0),
        (grey.astype(np.float32) / 255, 1 / 255),
    ):
        found = rendering_divisor(stored)
        stretched = divisor != 1.0 or grey.max() == 255  # whole floats: a rendering reaches 255
        assert found == (divisor if many and stretched else None)
        if found is not None:
            assert np.array_equal(to_rendering(stored, found), grey)
    assert rendering_divisor(grey) is None  # 8-bit is read as it is
    assert rendering_divisor(grey.astype(np.uint16)) is None  # unscaled 16-bit: low amplitude DN look the same


def test_constant_images_and_values_off_the_grid_are_not_renderings() -> None:
    assert rendering_divisor(np.full((5, 5), 257 * 3, np.uint16)) is None
    assert rendering_divisor(np.array([0, 257, 514, 771, 1000], np.uint16)) is None
    assert rendering_divisor(np.array([0.0, 1.0, 2.0, 300.0], np.float32)) is None  # DN past 255
    assert rendering_divisor(np.array([0.01, 0.02, 0.5, 0.7], np.float32)) is None  # sigma0, off the 1/255 grid
    assert rendering_divisor(np.array([-20.0, -15.0, -3.0, 0.0], np.float32)) is None  # dB
    assert rendering_divisor(np.array([1.0, 20.0, 117.0, 254.0], np.float32)) is None  # a VH band of DN, peaking below 255
    assert rendering_divisor(np.array([np.nan, 0.0, 1.0, 2.0, 255.0], np.float32)) == 1.0


def test_a_polarisation_channel_file_of_low_whole_dn_is_not_taken_for_a_rendering(tmp_path: Path) -> None:
    # OpenSARShip's Patch/ VH bands: amplitude DN as float, 16 of 125 never above 255.
    img = sea_with_ships(np.random.default_rng(5), (120, 120), [(60.0, 60.0, 113.0, 15.6, 30.0)])
    vv = np.clip(np.rint(np.sqrt(img) * 400), 1, None).astype(np.float32)
    vh = np.clip(np.rint(np.sqrt(img / 10) * 400), 1, 255).astype(np.float32)
    vh[0, 0] = 255
    assert rendering_divisor(vh) == 1.0  # alone, a whole 0-255 float reaching 255 reads as a rendering
    paths = {"vv": _tif(tmp_path / "vv.tif", vv), "vh": _tif(tmp_path / "vh.tif", vh)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        found = detect_image_file(bands=paths, sensor="sar", pixel_size=PX)
        pair = detect_image_file(_tif(tmp_path / "pair.tif", np.stack([vv, vh])), sensor="sar", pixel_size=PX)
    assert "values" not in found.metadata and found.info.rendering_divisor is None
    as_pair = [(round(d.row, 2), round(d.col, 2)) for d in pair.detections]
    assert [(round(d.row, 2), round(d.col, 2)) for d in found.detections] == as_pair and len(as_pair) == 1


def test_a_scene_is_sampled_by_windows_with_the_same_verdict(tmp_path: Path) -> None:
    """Above 2048 pixels a side five windows are read, not every tile of the scene."""
    from rasterio.transform import from_origin

    rng = np.random.default_rng(3)
    verdicts = {}
    for name, data in (("rendering", rng.integers(0, 256, (2100, 2200)).astype(np.uint16) * 257),
                       ("amplitude", rng.integers(0, 4000, (2100, 2200)).astype(np.uint16))):  # fmt: skip
        path = tmp_path / f"{name}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=2200, height=2100, count=1, dtype="uint16", crs="EPSG:32633",
                           transform=from_origin(500000, 4000000, 10, 10), tiled=True) as ds:  # fmt: skip
            ds.write(data, 1)
        verdicts[name] = open_image_info(path, renderings=True).rendering_divisor
    assert verdicts == {"rendering": 257.0, "amplitude": None}
