"""Cloud found by its shadow in an optical pair without an SCL band (:mod:`sitewatch.change.cloud_twins`, ``change-image``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from sitewatch.change.cloud_twins import CloudTwinParams, cloud_twins
from sitewatch.cli import main
from sitewatch.testing import write_tiff

UTM = "EPSG:32653"
PX = 10.0
NAMES = ("blue", "green", "red", "nir")
CLOUD = (slice(20, 60), slice(120, 160))  # 400 x 400 m
SHADOW = (slice(50, 90), slice(90, 130))  # the cloud moved 300 m south and 300 m west (sun in the north-east)
ROOF = (slice(140, 170), slice(30, 60))  # 300 x 300 m, white, new on date 2, no shadow of its own


def _ground(seed: int) -> np.ndarray:
    """Four bands of a fields-and-tracks scene at 10 m, reflectance, with its own pixel noise a seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:200, 0:200]
    base = 0.08 + 0.04 * (((yy // 40) + (xx // 50)) % 3)
    bands = np.stack([base * f for f in (0.8, 1.0, 1.1, 2.5)]).astype(np.float32)
    return bands + rng.normal(0, 0.004, bands.shape).astype(np.float32)


def _cloudy(after: np.ndarray) -> np.ndarray:
    """``after`` with a bluish-white cloud and its shadow (the ground darkened to half)."""
    out = after.copy()
    out[(slice(None), *SHADOW)] *= np.float32(0.5)
    out[(slice(None), *CLOUD)] = np.array([0.50, 0.48, 0.46, 0.50], np.float32)[:, None, None]
    return out


def _roofed(after: np.ndarray) -> np.ndarray:
    out = after.copy()
    out[(slice(None), *ROOF)] = np.float32(0.45)
    return out


def test_a_cloud_with_its_shadow_is_found_and_both_left_out() -> None:
    before, after = _ground(1), _cloudy(_roofed(_ground(2)))
    tw = cloud_twins(before, after, NAMES, PX)
    assert tw.clouds == 1 and tw.refused == 1  # the cloud; the roof has no dark twin
    assert tw.hidden[CLOUD].all() and tw.hidden[SHADOW].mean() > 0.95
    assert not tw.hidden[ROOF].any()
    assert tw.cloud_px == pytest.approx(1600, rel=0.05) and 1000 < tw.shadow_px <= 1600
    assert tw.azimuths[1] is not None and 200 <= tw.azimuths[1] <= 250  # south-west of the cloud (225°)


def test_a_bright_new_roof_or_a_brighter_date_is_not_cloud() -> None:
    before = _ground(1)
    # The roof alone: bright, white, new on date 2, but nothing darkened beside it.
    assert not cloud_twins(before, _roofed(_ground(2)), NAMES, PX).hidden.any()
    # Band files read without a product's offset (0.1 brighter throughout) on reddish desert: no cloud.
    desert = before * np.array([1.5, 2.0, 2.6, 1.2], np.float32)[:, None, None]
    tw = cloud_twins(desert, _ground(2) * np.array([1.5, 2.0, 2.6, 1.2], np.float32)[:, None, None] + np.float32(0.1), NAMES, PX)
    assert not tw.hidden.any() and tw.offset == pytest.approx(0.1, abs=0.01)
    # A wide dark change beside the roof (900 x 900 m, new too) holds the roof's shape but is not its shape.
    wide = _roofed(_ground(2))
    wide[:, 110:200, 70:160] *= np.float32(0.5)
    assert not cloud_twins(before, wide, NAMES, PX).hidden[ROOF].any()


@pytest.mark.parametrize("gap_px", [3, 12])
@pytest.mark.parametrize("size_px", [30, 40])
def test_a_new_roof_beside_a_new_car_park_of_its_size_is_change_not_cloud(gap_px: int, size_px: int) -> None:
    """A new white warehouse (300 x 300 m) and its new asphalt car park beside it, 30 to 120 m east: the car park
    is darkened, of the roof's shape, 100 m+ from it, with nothing dark 100 to 200 m around it, so both were left
    out as a cloud and its shadow. A shadow keeps the ground's pattern (the fields' edges under it); the asphalt
    does not."""
    after = _roofed(_ground(2))
    car_park = (slice(140, 140 + size_px), slice(60 + gap_px, 60 + gap_px + size_px))  # across two fields
    after[(slice(None), *car_park)] = np.array([0.05, 0.05, 0.055, 0.07], np.float32)[:, None, None]
    tw = cloud_twins(_ground(1), after, NAMES, PX)
    assert tw.clouds == 0 and tw.refused == 1
    assert not tw.hidden[ROOF].any() and not tw.hidden[car_park].any()


def test_cloud_twins_refuses_arrays_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="visible band"):
        cloud_twins(np.zeros((1, 10, 10)), np.zeros((1, 10, 10)), ("nir",), PX)
    with pytest.raises(ValueError, match="shapes"):
        cloud_twins(np.zeros((4, 10, 10)), np.zeros((4, 10, 12)), NAMES, PX)
    with pytest.raises(ValueError, match="min_shift_m"):
        CloudTwinParams(min_shift_m=6000.0)


def test_change_image_leaves_out_cloud_found_by_its_shadow_without_an_scl_band(tmp_path: Path) -> None:
    # Files without an SCL band compared the cloud and its shadow as change: 2 regions where one roof was built.
    t = Affine(PX, 0, 300_000.0, 0, -PX, 4_750_000.0)
    before = write_tiff(tmp_path / "before.tif", _ground(1), crs=UTM, transform=t, descriptions=list(NAMES))
    after = write_tiff(tmp_path / "after.tif", _cloudy(_roofed(_ground(2))), crs=UTM, transform=t, descriptions=list(NAMES))
    out = tmp_path / "changes.geojson"
    r = CliRunner().invoke(main, ["change-image", str(before), str(after), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("1 region(s) (1 appeared"), r.stdout  # the roof alone
    assert "note: 1 cloud found by its shadow" in r.stderr and "m² of cloud" in r.stderr
    assert "1 bright patch new on one date without a shadow twin is compared" in r.stderr
    fc = json.loads(out.read_text(encoding="utf-8"))
    (left,) = fc["sitewatch"]["cloud_left_out"]
    assert left["test"] == "shadow twins" and left["clouds"] == 1 and left["refused"] == 1
    assert left["cloud_m2"] == pytest.approx(160_000, rel=0.05) and 100_000 < left["shadow_m2"] <= 160_000
    assert 0.1 < left["left_out_fraction"] < 0.4 and fc["sitewatch"]["compared_fraction"] == pytest.approx(1 - left["left_out_fraction"], abs=0.01)
    summary = json.loads(CliRunner().invoke(main, ["change-image", str(before), str(after), "--out", str(out), "--json"]).stdout)
    assert summary["regions"] == 1 and summary["cloud_left_out"] == [left]
    # --no-cloud-test compares every pixel, as before: the cloud and its shadow read as change.
    off = json.loads(CliRunner().invoke(main, ["change-image", str(before), str(after), "--out", str(out), "--json", "--no-cloud-test"]).stdout)
    assert off["regions"] >= 2 and off["area_m2"] > summary["area_m2"] + 200_000 and off["compared_fraction"] == 1.0 and off["cloud_left_out"] == [] and off["notes"] == []


def test_band_files_of_integer_dn_read_a_block_of_rows_at_a_time_are_tested_alike(tmp_path: Path) -> None:
    # uint16 DN on one grid are read a block of rows at a time (change_image_rows), not whole: the same cloud is found.
    t = Affine(PX, 0, 300_000.0, 0, -PX, 4_750_000.0)
    dates = {}
    for which, data in (("before", _ground(1)), ("after", _cloudy(_roofed(_ground(2))))):
        folder = tmp_path / which
        folder.mkdir()
        for k, code in enumerate(("B02", "B03", "B04", "B08")):
            write_tiff(folder / f"T53TNK_20240901T013000_{code}_10m.tif", np.clip(data[k : k + 1] * 10_000, 1, 65535).astype(np.uint16),
                       crs=UTM, transform=t)  # fmt: skip
        dates[which] = folder
    out = tmp_path / "changes.geojson"
    r = CliRunner().invoke(main, ["change-image", str(dates["before"]), str(dates["after"]), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["regions"] == 1 and summary["appeared"] == 1
    (left,) = summary["cloud_left_out"]
    assert left["clouds"] == 1 and left["cloud_m2"] == pytest.approx(160_000, rel=0.05)


def test_a_small_share_left_out_is_not_said_as_none(tmp_path: Path) -> None:
    # One 400 m cloud on a 16 km image: "not compared (0% of the pixels)" after naming 160,000 m² of cloud.
    t = Affine(PX, 0, 300_000.0, 0, -PX, 4_750_000.0)
    wide = (1, 8, 8)
    before = write_tiff(tmp_path / "before.tif", np.tile(_ground(1), wide), crs=UTM, transform=t, descriptions=list(NAMES))
    after_data = np.tile(_ground(2), wide)
    after_data[:, :200, :200] = _cloudy(_ground(2))
    after = write_tiff(tmp_path / "after.tif", after_data, crs=UTM, transform=t, descriptions=list(NAMES))
    r = CliRunner().invoke(main, ["change-image", str(before), str(after), "--out", str(tmp_path / "c.geojson"), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    (left,) = summary["cloud_left_out"]
    assert left["clouds"] == 1 and 0 < left["left_out_fraction"] < 0.005
    (note,) = [n for n in summary["notes"] if "found by its shadow (" in n]
    assert "(under 1% of the pixels)" in note, note
