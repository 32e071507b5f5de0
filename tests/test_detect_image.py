"""``sitewatch detect-image`` on PNG chips and GeoTIFFs made here, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from PIL import Image
from rasterio.transform import from_origin

from sitewatch.cli import main
from test_sar import PX, sea_with_ships


def _scene() -> np.ndarray:
    return sea_with_ships(np.random.default_rng(21), (120, 120), [(60.0, 60.0, 113.0, 15.6, 30.0)])


def test_png_chip_needs_pixel_size_then_writes_pixel_geojson(tmp_path: Path) -> None:
    img = _scene()
    png = tmp_path / "chip.png"
    Image.fromarray((np.sqrt(img) / np.sqrt(img).max() * 255).astype(np.uint8)).save(png)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(png), "--sensor", "sar", "--out", str(out)])
    assert r.exit_code != 0
    assert "chip.png" in r.output and "--pixel-size" in r.output
    assert not out.exists()
    r = CliRunner().invoke(main, ["detect-image", str(png), "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    fc = json.loads(out.read_text())
    assert fc["crs"]["properties"]["name"] == "pixel"
    assert len(fc["features"]) == 1
    f = fc["features"][0]
    props = f["properties"]
    assert abs(props["row"] - 60) < 1.5 and abs(props["col"] - 60) < 1.5
    assert abs(props["length_m"] - 113) <= 15
    assert {"width_m", "heading_deg", "score"} <= set(props)
    ring = np.array(f["geometry"]["coordinates"][0])
    assert ring.shape == (5, 2) and abs(ring[:4, 0].mean() - props["col"]) < 1


def test_georeferenced_geotiff_gives_crs_coordinates(tmp_path: Path) -> None:
    img = _scene()
    tif = tmp_path / "scene.tif"
    transform = from_origin(500000.0, 4000000.0, PX, PX)
    with rasterio.open(tif, "w", driver="GTiff", width=120, height=120, count=1, dtype="float32", crs="EPSG:32633", transform=transform) as ds:
        ds.write(img, 1)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["detections"] == 1 and abs(summary["pixel_size_m"][0] - PX) < 0.1
    fc = json.loads(out.read_text())
    assert fc["crs"]["properties"]["name"] == "EPSG:32633"
    x, y = np.array(fc["features"][0]["geometry"]["coordinates"][0])[:4].mean(axis=0)
    assert abs(x - (500000 + 60.5 * PX)) < 15 and abs(y - (4000000 - 60.5 * PX)) < 15


@pytest.mark.parametrize("name, content", [("missing.tif", None), ("notimage.tif", b"hello")])
def test_bad_input_is_named(tmp_path: Path, name: str, content: bytes | None) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    r = CliRunner().invoke(main, ["detect-image", str(path), "--pixel-size", "10", "--out", str(tmp_path / "o.geojson")])
    assert r.exit_code != 0
    assert name in r.output
    assert not (tmp_path / "o.geojson").exists()


def test_optical_bad_inputs_are_named(tmp_path: Path) -> None:
    png = tmp_path / "c.png"
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(png)
    out = tmp_path / "o.geojson"
    r = CliRunner().invoke(main, ["detect-image", "--sensor", "optical", "--out", str(out)])
    assert r.exit_code == 1 and "--band NAME=PATH" in r.output
    r = CliRunner().invoke(main, ["detect-image", str(png), "--sensor", "optical", "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 1 and "c.png" in r.output and "1 band" in r.output
    assert not out.exists()


def test_colour_jpeg_rendering_is_detected_as_a_rendering(tmp_path: Path) -> None:
    # An RGB JPEG of a SAR chip whose channels differ slightly (as many dataset chips do) is read
    # as one 8-bit rendering, not as float amplitude: same ship as the grey PNG.
    img = _scene()
    grey = (np.sqrt(img) / np.sqrt(img).max() * 255).astype(np.uint8)
    rgb = np.stack([grey, np.clip(grey.astype(int) + 1, 0, 255).astype(np.uint8), grey], axis=-1)
    jpg = tmp_path / "chip.jpg"
    Image.fromarray(rgb).save(jpg, quality=95)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(jpg), "--sensor", "sar", "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    feats = json.loads(out.read_text())["features"]
    assert len(feats) == 1
    assert abs(feats[0]["properties"]["row"] - 60) < 1.5 and abs(feats[0]["properties"]["col"] - 60) < 1.5
    from sitewatch.detect.image import _sar_window_reader, open_image_info

    a, _ = _sar_window_reader(open_image_info(jpg, 10.0))((0, 120, 0, 120))
    assert a.dtype == np.uint8 and a.shape == (120, 120)
