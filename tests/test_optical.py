"""Optical detector on tiny synthetic port scenes made here: water, a quay, a ship alongside, a crane, a cloud."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.typing import NDArray

from sitewatch.cli import main
from sitewatch.detect.clouds import SCL_HIDDEN, cloud_fraction, cloud_mask
from sitewatch.detect.optical import (
    DETECTOR,
    MODEL_FILE,
    RGB_MODEL_FILE,
    VERSION,
    OpticalParams,
    _load_model,
    detect_optical,
    detect_optical_result,
    infer_dn_scale,
    model_for,
    score_pixels,
    to_reflectance,
)
from sitewatch.detect.optical_image import parse_band_args
from sitewatch.detect.optical_water import water_bodies, water_mask
from sitewatch.errors import InputError

# Reflectance (blue, green, red, nir): harbour water, concrete quay, grey deck, yellow crane, cloud.
WATER = np.array([0.045, 0.040, 0.022, 0.012])
QUAY = np.array([0.150, 0.160, 0.170, 0.210])
DECK = np.array([0.100, 0.105, 0.110, 0.120])
CRANE = np.array([0.060, 0.300, 0.420, 0.450])
CLOUD = np.array([0.620, 0.630, 0.640, 0.660])
SIZE_M = 1200.0
QUAY_X = 700.0  # land east of this easting (metres from the left edge)
SHIP = (113.0, 15.6)  # Alligator class, length x beam


def coverage(n: int, pixel: float, cx: float, cy: float, length: float, width: float, heading: float) -> NDArray[np.float64]:
    """Fraction of each pixel inside an oriented box (metres from the top-left, heading from north)."""
    ss = 4
    off = (np.arange(ss) + 0.5) / ss
    coords = ((np.arange(n)[:, None] + off[None, :]).ravel()) * pixel
    y = coords[:, None]  # metres down
    x = coords[None, :]
    t = np.radians(heading)
    along = (x - cx) * np.sin(t) - (y - cy) * np.cos(t)
    across = (x - cx) * np.cos(t) + (y - cy) * np.sin(t)
    inside = (np.abs(along) <= length / 2) & (np.abs(across) <= width / 2)
    return inside.reshape(n, ss, n, ss).mean(axis=(1, 3))


def scene(
    pixel: float, *, ship: bool = True, crane: bool = False, cloud: bool = False, seed: int = 0
) -> tuple[dict[str, NDArray[np.float32]], NDArray[np.bool_]]:
    """Bands and the true water (berth included) of a quay with a ship alongside."""
    n = int(round(SIZE_M / pixel))
    x = (np.arange(n) + 0.5) * pixel
    land = np.broadcast_to((x >= QUAY_X)[None, :], (n, n)).astype(float)
    img = WATER[:, None, None] * (1 - land) + QUAY[:, None, None] * land
    cy = SIZE_M / 2
    if ship:
        c = coverage(n, pixel, QUAY_X - 2.0 - SHIP[1] / 2, cy, SHIP[0], SHIP[1], 0.0)
        img = img * (1 - c) + DECK[:, None, None] * c
    if crane:
        # A crane's boom on the quay 200 m north of the ship, stowed along the quay.
        c = coverage(n, pixel, QUAY_X + 20.0, cy - 250.0, 32.0, 3.0, 0.0)
        img = img * (1 - c) + CRANE[:, None, None] * c
    if cloud:
        c = coverage(n, pixel, QUAY_X - 10.0, cy, 400.0, 300.0, 0.0)
        img = img * (1 - c) + CLOUD[:, None, None] * c
    rng = np.random.default_rng(seed)
    img = img + rng.normal(0, 0.004, img.shape)
    bands = {k: img[i].astype(np.float32) for i, k in enumerate(("blue", "green", "red", "nir"))}
    return bands, land < 0.5


def vessels(dets: list) -> list:  # type: ignore[type-arg]
    return [d for d in dets if d.kind == "vessel"]


@pytest.mark.parametrize("pixel", [10.0, 3.0])
def test_ship_alongside_quay_is_found_and_measured(pixel: float) -> None:
    bands, water = scene(pixel)
    dets = vessels(detect_optical(bands, pixel, water=water))
    assert len(dets) == 1
    d = dets[0]
    # Centroid on the ship; length within two pixels; heading along the quay (north-south).
    assert abs(d.row * pixel - SIZE_M / 2) < 2 * pixel
    assert abs(d.col * pixel - (QUAY_X - 2.0 - SHIP[1] / 2)) < 2 * pixel
    assert abs(d.length_m - SHIP[0]) <= 2 * pixel + 5
    assert min(d.heading_deg, 180 - d.heading_deg) < 10
    assert 0 < d.score <= 1
    assert len(d.corners) == 4


def test_empty_quay_gives_no_vessel() -> None:
    bands, water = scene(10.0, ship=False)
    assert vessels(detect_optical(bands, 10.0, water=water)) == []


def test_pixel_size_in_metres_scales_the_measurement() -> None:
    # The same pixels read as 5 m pixels (e.g. Web Mercator at 60 degrees) give half the length.
    bands, water = scene(10.0)
    at10 = vessels(detect_optical(bands, 10.0, water=water))
    at5 = vessels(detect_optical(bands, 5.0, water=water, params=OpticalParams(crane_max_pixel_m=1.0)))
    assert len(at10) == len(at5) == 1
    assert at5[0].length_m == pytest.approx(at10[0].length_m / 2, rel=0.05)


def test_crane_at_3m_is_a_crane_never_a_vessel() -> None:
    bands, water = scene(3.0, crane=True)
    dets = detect_optical(bands, 3.0, water=water)
    cranes = [d for d in dets if d.kind == "crane"]
    assert len(cranes) == 1
    c = cranes[0]
    assert abs(c.row * 3.0 - (SIZE_M / 2 - 250.0)) < 10
    assert 20 <= c.length_m <= 45
    # The ship is still one vessel; nothing vessel-like sits on the crane.
    v = vessels(dets)
    assert len(v) == 1
    assert all(abs(d.row * 3.0 - (SIZE_M / 2 - 250.0)) > 30 for d in v)


def test_no_crane_kind_at_10m() -> None:
    bands, water = scene(10.0, crane=True)
    assert [d for d in detect_optical(bands, 10.0, water=water) if d.kind == "crane"] == []


def test_cloud_over_ship_hides_it_and_is_counted() -> None:
    bands, water = scene(10.0, cloud=True)
    res = detect_optical_result(bands, 10.0, water=water)
    assert vessels(res.detections) == []
    frac = cloud_fraction(res.cloud)
    assert 0.05 < frac < 0.3  # a 400 x 300 m cloud over 1200 x 1200 m, with its margin


def test_scl_cloud_classes_hide_the_ship() -> None:
    bands, water = scene(10.0)
    scl = np.full(water.shape, 6, np.uint8)  # water
    n = water.shape[0]
    scl[n // 2 - 15 : n // 2 + 15, :] = 9  # high-probability cloud band across the ship
    assert vessels(detect_optical(bands, 10.0, water=water, scl=scl)) == []
    assert cloud_mask(bands, scl=scl).sum() == 30 * n
    assert set(SCL_HIDDEN) >= {3, 8, 9, 10} and 11 not in SCL_HIDDEN


def test_a_bright_fill_without_data_is_not_cloud_and_hides_no_ship_beside_it() -> None:
    # A white fill under alpha 0 (255, 65535: reflectance 1) 130 m west of the ship: the spectral cloud
    # test ran over it, took it for cloud, and its margins (the test's and the detector's) hid the ship.
    # (Image only: tests/test_optical_inputs.py.)
    bands, water = scene(10.0)
    clear = vessels(detect_optical(bands, 10.0, water=water))
    fill = np.zeros(water.shape, bool)
    fill[:, : int((QUAY_X - 2.0 - SHIP[1] - 130.0) / 10.0)] = True
    white = {k: np.where(fill, np.float32(1.0), v) for k, v in bands.items()}
    assert not cloud_mask(white, pixel_size=10.0, valid=~fill).any()
    res = detect_optical_result(white, 10.0, valid=~fill, water=water)
    assert not res.cloud.any() and res.hidden[fill].all()
    assert len(clear) == 1 and [(d.row, d.col) for d in vessels(res.detections)] == [(d.row, d.col) for d in clear]


def test_scl_no_data_is_no_data_not_cloud() -> None:
    bands, water = scene(10.0)
    scl = np.full(water.shape, 6, np.uint8)
    scl[:, :10] = 0  # a Sentinel-2 tile's collar
    scl[:10, 20:] = 9
    res = detect_optical_result(bands, 10.0, water=water, scl=scl)
    assert res.hidden[:, :10].all() and not res.cloud[:, :10].any() and res.cloud[:10, 20:].all()
    assert cloud_fraction(res.cloud) == pytest.approx(10 * 100 / 120**2)


def test_a_ship_cut_by_no_data_is_dropped_or_with_nodata_cut_reported_cut() -> None:
    bands, water = scene(10.0)
    valid = np.ones(water.shape, bool)
    valid[:58, :] = False  # no data over the ship's north end (rows 54-66)
    assert vessels(detect_optical(bands, 10.0, water=water, valid=valid)) == []  # the default, as measured
    cut = OpticalParams(nodata_cut=True)
    (d,) = vessels(detect_optical(bands, 10.0, water=water, valid=valid, params=cut))
    assert d.truncated and 50 < d.length_m < SHIP[0] - 20
    # Beside cloud it is still dropped: a cloud's soft edge makes false objects.
    scl = np.full(water.shape, 6, np.uint8)
    scl[:58, :] = 9
    assert vessels(detect_optical(bands, 10.0, water=water, scl=scl, params=cut)) == []
    # Whole but within the cloud margin of no data alone: kept, and whole.
    valid[:] = True
    valid[:, : int((QUAY_X - SHIP[1] - 50.0) / 10.0)] = False
    assert vessels(detect_optical(bands, 10.0, water=water, valid=valid)) == []
    (d,) = vessels(detect_optical(bands, 10.0, water=water, valid=valid, params=cut))
    assert not d.truncated and abs(d.length_m - SHIP[0]) <= 25


def test_overcast_scene_is_all_cloud_and_reports_nothing() -> None:
    overcast = {k: np.full((120, 120), 0.6, np.float32) for k in ("blue", "green", "red", "nir")}
    assert cloud_mask(overcast, pixel_size=10.0).all()  # used to fail looking for shadows
    res = detect_optical_result(overcast, 10.0)
    assert res.detections == [] and res.cloud.all()


def test_spectral_cloud_test_leaves_a_clear_port_clear() -> None:
    bands, _ = scene(10.0, crane=True)
    assert cloud_mask(bands, pixel_size=10.0).sum() == 0


def test_water_mask_keeps_the_berthed_ship() -> None:
    bands, true_water = scene(10.0)
    w = water_mask(bands, 10.0)
    n = w.shape[0]
    ship_col = int((QUAY_X - 2.0 - SHIP[1] / 2) / 10.0)
    assert w[n // 2, ship_col]  # the ship's pixel counts as water (a berth), not land
    assert not w[n // 2, int((QUAY_X + 100) / 10.0)]  # land behind the berth strip stays land
    assert w[true_water].all()


def anchored_ship() -> NDArray[np.float64]:
    """Reflectance (blue, green, red, nir × 150 × 150, 10 m pixels) of open water with a quay to the east
    and a 150 m ship at anchor 700 m from it, a little noise."""
    n = 150
    img = np.broadcast_to(WATER[:, None, None], (4, n, n)).copy()
    img[:, :, 120:] = QUAY[:, None, None]
    c = coverage(n, 10.0, 500.0, 700.0, 150.0, 25.0, 45.0)
    img = img * (1 - c) + np.array([0.20, 0.21, 0.22, 0.25])[:, None, None] * c
    return img + np.random.default_rng(1).normal(0, 0.003, img.shape)


def _ship_at_anchor() -> dict[str, NDArray[np.float32]]:
    """:func:`anchored_ship` as float32 bands."""
    img = anchored_ship()
    return {k: img[i].astype(np.float32) for i, k in enumerate(("blue", "green", "red", "nir"))}


def test_learned_path_finds_a_ship_at_anchor() -> None:
    # No water mask: the learned stages decide. A ship in open water is the easy case.
    dets = vessels(detect_optical(_ship_at_anchor(), 10.0))
    near = [d for d in dets if abs(d.row - 70) < 4 and abs(d.col - 50) < 4]
    assert len(near) == 1
    assert abs(near[0].length_m - 150) < 40


# A cloud's shadow, a dark square or a block of slate roofs: as dark in the NIR as water, and as "wet" by NDWI.
SHADOW = np.array([0.040, 0.036, 0.022, 0.014])
GRASS = np.array([0.040, 0.070, 0.050, 0.300])


def inland_town(n: int = 200) -> dict[str, NDArray[np.float32]]:
    """Bands (10 m pixels, 2 km square) of an inland town: concrete and grass in 50 m patches, and nine
    shadowed squares 250 m x 400 m, each with a bright roof 150 m x 25 m in it. No body of water."""
    rng = np.random.default_rng(3)
    grass = np.kron(rng.random((n // 5, n // 5)) < 0.4, np.ones((5, 5)))[:n, :n]
    img = QUAY[:, None, None] * (1 - grass) + GRASS[:, None, None] * grass
    for cy in (400.0, 1000.0, 1600.0):
        for cx in (400.0, 1000.0, 1600.0):
            s = coverage(n, 10.0, cx, cy, 400.0, 250.0, 0.0)
            img = img * (1 - s) + SHADOW[:, None, None] * s
            c = coverage(n, 10.0, cx, cy, 150.0, 25.0, 0.0)
            img = img * (1 - c) + DECK[:, None, None] * c
    img = img + rng.normal(0, 0.004, img.shape)
    return {k: img[i].astype(np.float32) for i, k in enumerate(("blue", "green", "red", "nir"))}


def test_an_inland_town_has_no_vessel_and_a_harbour_keeps_its_ship() -> None:
    # Image only: the darkest tenth of the NIR stands for water in every scene. In a town it is shadow,
    # never a body of water a ship can lie in; searched near all of it, each roof was a vessel.
    town = inland_town()
    assert vessels(detect_optical(town, 10.0)) == []
    assert len(vessels(detect_optical(town, 10.0, params=OpticalParams(water_body_m=0.0)))) == 9
    # The ship at anchor in a harbour (1.2 km of open water) is kept.
    dets = vessels(detect_optical(_ship_at_anchor(), 10.0))
    assert len([d for d in dets if abs(d.row - 70) < 4 and abs(d.col - 50) < 4]) == 1


def test_water_bodies_keep_the_water_a_ship_can_lie_in() -> None:
    water = np.zeros((100, 100), bool)
    water[5:55, 5:55] = True  # a basin 500 m across...
    water[55:80, 28:31] = True  # ...with a dock 30 m wide opening on it
    water[70:90, 70:90] = True  # a pond 200 m across
    bodies = water_bodies(water, 10.0, 450.0)
    assert bodies[5:55, 5:55].all() and bodies[55:80, 28:31].all()
    assert not bodies[70:90, 70:90].any()
    assert (water_bodies(water, 10.0, 0.0) == water).all()
    # The image's edge is not a shore: a sea cut by it keeps the width it shows.
    sea = np.zeros((100, 100), bool)
    sea[:, :24] = True
    assert water_bodies(sea, 10.0, 450.0).sum() == sea.sum()


def test_rgb_only_is_accepted() -> None:
    bands, water = scene(10.0)
    del bands["nir"]
    dets = vessels(detect_optical(bands, 10.0, water=water))
    assert len(dets) == 1


def test_rgb_only_input_runs_the_rgb_model() -> None:
    bands, _ = scene(10.0)
    rgb = {k: v for k, v in bands.items() if k != "nir"}
    assert model_for(bands) == MODEL_FILE
    assert model_for(rgb) == RGB_MODEL_FILE
    # Routing, seen through a missing file: only the RGB-only run asks for the RGB weights.
    params = OpticalParams(rgb_model="/nonexistent/rgb_weights.npz")
    detect_optical(bands, 10.0, params=params)
    with pytest.raises(InputError, match="rgb_weights"):
        detect_optical(rgb, 10.0, params=params)
    # The shipped RGB weights load and score a ship at anchor's pixels well above the rest.
    rgb = {k: v for k, v in anchored_scene().items() if k != "nir"}
    ship = coverage(rgb["red"].shape[0], 10.0, 400.0, 600.0, 150.0, 25.0, 30.0) > 0.5
    prob = score_pixels(rgb, (10.0, 10.0), _load_model(RGB_MODEL_FILE)).prob
    assert prob[ship].mean() > 0.6
    assert np.median(prob[~ship]) < 0.2


def test_cli_records_which_model_ran(tmp_path: Path) -> None:
    from rasterio.transform import from_origin

    bands, _ = scene(10.0)
    transform = from_origin(500000.0, 4750000.0, 10.0, 10.0)
    models = {}
    for names in (["blue", "green", "red", "nir"], ["blue", "green", "red"]):
        path = tmp_path / f"{len(names)}.tif"
        _write(path, [bands[k] for k in names], names, "EPSG:32653", transform)
        out = tmp_path / f"{len(names)}.geojson"
        r = CliRunner().invoke(main, ["detect-image", "--sensor", "optical", str(path), "--out", str(out)])
        assert r.exit_code == 0, r.output
        models[len(names)] = json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["model"]
    assert models == {4: MODEL_FILE, 3: RGB_MODEL_FILE}


def test_bad_bands_are_named() -> None:
    bands, _ = scene(10.0)
    with pytest.raises(InputError, match="swir"):
        detect_optical({**bands, "swir": bands["red"]}, 10.0)
    with pytest.raises(InputError, match="green"):
        detect_optical({"red": bands["red"], "blue": bands["blue"]}, 10.0)
    with pytest.raises(InputError, match="same shape"):
        detect_optical({**bands, "red": bands["red"][:-1]}, 10.0)


def test_to_reflectance_conventions() -> None:
    dn = np.array([[1000, 2000, 11000]], np.uint16)
    assert np.allclose(to_reflectance(dn), [[0.1, 0.2, 1.1]])
    assert np.allclose(to_reflectance(dn, offset=1000), [[0.0, 0.1, 1.0]])
    assert np.allclose(to_reflectance(np.array([[0, 255]], np.uint8)), [[0.0, 1.0]])
    assert np.allclose(to_reflectance(dn, scale=65535.0)[0, 2], 11000 / 65535)
    with pytest.raises(InputError, match="scale"):
        to_reflectance(np.full((4, 4), 3000.0, np.float32))


def test_dn_scale_is_inferred_from_the_value_range() -> None:
    rng = np.random.default_rng(3)
    refl = np.concatenate([rng.uniform(0.01, 0.05, 6000), rng.uniform(0.1, 0.45, 4000)])  # water + land
    assert infer_dn_scale([(refl * 10000).astype(np.uint16)]) == 10000.0
    assert infer_dn_scale([(refl * 10000 + 1000).astype(np.uint16)]) == 10000.0  # L2A offset
    assert infer_dn_scale([(refl * 65535).astype(np.uint16)]) == 65535.0
    # A cloudy Sentinel-2 scene: a fifth of it at reflectance 0.9 stays x 10000.
    cloudy = np.concatenate([refl, np.full(2500, 0.9)])
    assert infer_dn_scale([(cloudy * 10000 + 1000).astype(np.uint16)]) == 10000.0
    # No data (0) and saturation (65535) do not count, however much of the scene they fill.
    padded = np.concatenate([(refl * 10000).astype(np.uint16), np.full(9000, 65535, np.uint16)])
    assert infer_dn_scale([padded, np.zeros(100, np.uint16)]) == 10000.0
    assert infer_dn_scale([np.zeros(10, np.uint8)]) == 255.0
    assert infer_dn_scale([refl.astype(np.float32)]) is None


def test_parse_band_args() -> None:
    assert parse_band_args(["blue=a.tif", "B08=b.tif"]) == {"blue": Path("a.tif"), "nir": Path("b.tif")}
    with pytest.raises(InputError, match="NAME=PATH"):
        parse_band_args(["swir=a.tif"])
    with pytest.raises(InputError, match="twice"):
        parse_band_args(["nir=a.tif", "b8=b.tif"])


def _write(path: Path, arrays: list[NDArray[np.float32]], names: list[str], crs: str, transform: object) -> None:
    import rasterio

    with rasterio.open(
        path, "w", driver="GTiff", width=arrays[0].shape[1], height=arrays[0].shape[0], count=len(arrays),
        dtype="float32", crs=crs, transform=transform,
    ) as ds:
        for i, (a, n) in enumerate(zip(arrays, names, strict=True), 1):
            ds.write(a, i)
            ds.set_band_description(i, n)


def anchored_scene() -> dict[str, NDArray[np.float32]]:
    """The quay scene without the ship alongside, with a 150 m ship at anchor in the basin."""
    bands, _ = scene(10.0, ship=False)
    c = coverage(bands["nir"].shape[0], 10.0, 400.0, 600.0, 150.0, 25.0, 30.0)
    bright = {"blue": 0.20, "green": 0.21, "red": 0.22, "nir": 0.25}
    return {k: (v * (1 - c) + bright[k] * c).astype(np.float32) for k, v in bands.items()}


def test_cli_multiband_and_per_band_files(tmp_path: Path) -> None:
    from rasterio.transform import from_origin

    bands = anchored_scene()  # a ship at anchor: the CLI (no site water) has an easy target
    names = ["blue", "green", "red", "nir"]
    transform = from_origin(500000.0, 4750000.0, 10.0, 10.0)
    multi = tmp_path / "scene.tif"
    _write(multi, [bands[k] for k in names], names, "EPSG:32653", transform)
    runner = CliRunner()
    out = tmp_path / "d.geojson"
    r = runner.invoke(main, ["detect-image", "--sensor", "optical", str(multi), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["sitewatch"]["detector"] == DETECTOR and fc["sitewatch"]["detector_version"] == VERSION
    assert fc["sitewatch"]["cloud_fraction"] == 0.0
    v = [f for f in fc["features"] if f["properties"]["kind"] == "vessel"]
    assert len(v) >= 1
    props = v[0]["properties"]
    assert set(props) >= {"row", "col", "length_m", "width_m", "heading_deg", "score"}
    assert abs(props["row"] - 60) < 4 and abs(props["col"] - 40) < 4
    assert v[0]["geometry"]["type"] == "Polygon"
    # One file per band gives the same detections.
    args = []
    for k in names:
        p = tmp_path / f"{k}.tif"
        _write(p, [bands[k]], [k], "EPSG:32653", transform)
        args += ["--band", f"{k}={p}"]
    out2 = tmp_path / "d2.geojson"
    r = runner.invoke(main, ["detect-image", "--sensor", "optical", *args, "--out", str(out2)])
    assert r.exit_code == 0, r.output
    assert json.loads(out2.read_text(encoding="utf-8"))["features"] == fc["features"]
    # The summary names every band file read, not only the one whose grid the scene takes (green's).
    r = runner.invoke(main, ["detect-image", "--sensor", "optical", *args, "--out", str(out2), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert set(summary["bands"]) == set(names) and summary["bands"]["nir"].endswith("nir.tif"), summary


def test_cli_web_mercator_pixels_are_scaled(tmp_path: Path) -> None:
    from rasterio.transform import from_origin

    # 10 m Web Mercator pixels at 60 degrees north are 5 m on the ground.
    bands = anchored_scene()
    names = ["blue", "green", "red", "nir"]
    y60 = 8399737.89  # EPSG:3857 northing of 60 degrees north
    path = tmp_path / "merc.tif"
    _write(path, [bands[k] for k in names], names, "EPSG:3857", from_origin(1000000.0, y60 + 600, 10.0, 10.0))
    out = tmp_path / "m.geojson"
    r = CliRunner().invoke(main, ["detect-image", "--sensor", "optical", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["sitewatch"]["pixel_size_m"][0] == pytest.approx(5.0, rel=0.01)
    px = fc["sitewatch"]["pixel_size_m"]
    v = [f["properties"] for f in fc["features"] if f["properties"]["kind"] == "vessel"]
    direct = vessels(detect_optical(bands, (px[0], px[1])))
    assert v and direct
    assert v[0]["length_m"] == pytest.approx(direct[0].length_m, abs=0.01)
    at10 = vessels(detect_optical(bands, 10.0))
    assert direct[0].length_m < at10[0].length_m  # the same pixels, half as long on the ground


def test_cli_full_range_16_bit_export_reads_as_reflectance(tmp_path: Path) -> None:
    import rasterio
    from rasterio.transform import from_origin

    bands = anchored_scene()
    n = bands["nir"].shape[0]
    # Town behind the quay, as bright as a port's land (NIR ~0.35): what tells the two exports apart.
    town = {"blue": 0.12, "green": 0.15, "red": 0.18, "nir": 0.35}
    for k, v in bands.items():
        v[:, -8:] = town[k]
    transform = from_origin(500000.0, 4750000.0, 10.0, 10.0)
    runs = {}
    for scale in (10000, 65535):
        args = []
        for k, v in bands.items():
            p = tmp_path / f"{k}-{scale}.tif"
            with rasterio.open(
                p, "w", driver="GTiff", width=n, height=n, count=1, dtype="uint16", crs="EPSG:32653", transform=transform
            ) as ds:
                ds.write(np.round(v * scale).astype(np.uint16), 1)
            args += ["--band", f"{k}={p}"]
        out = tmp_path / f"{scale}.geojson"
        r = CliRunner().invoke(main, ["detect-image", "--sensor", "optical", *args, "--out", str(out)])
        assert r.exit_code == 0, r.output
        runs[scale] = json.loads(out.read_text(encoding="utf-8"))
    assert runs[10000]["sitewatch"]["dn_scale"] == 10000.0
    assert runs[65535]["sitewatch"]["dn_scale"] == 65535.0
    assert runs[65535]["sitewatch"]["dn_scale_from"] == "values"
    v = [f for f in runs[65535]["features"] if f["properties"]["kind"] == "vessel"]
    assert len(v) == len([f for f in runs[10000]["features"] if f["properties"]["kind"] == "vessel"]) >= 1
    assert v[0]["properties"]["length_m"] == pytest.approx(
        runs[10000]["features"][0]["properties"]["length_m"], abs=1.0
    )


def test_display_rendering_sea_is_not_cloud_but_a_white_cloud_is(tmp_path: Path) -> None:
    from PIL import Image

    # An 8-bit colour rendering as Planet visual products look: grey-green harbour water at a
    # third of the range (reflectance's cloud level), a quay, a ship at anchor, a cloud.
    n = 150
    img = np.empty((n, n, 3), np.uint8)
    img[:] = (70, 85, 75)
    img[:, -25:] = (180, 178, 170)
    img[60:64, 30:52] = (165, 160, 150)  # 10 m pixels: a 220 m ship
    out = tmp_path / "clear.geojson"
    Image.fromarray(img).save(tmp_path / "clear.png")
    r = CliRunner().invoke(main, ["detect-image", "--sensor", "optical", str(tmp_path / "clear.png"), "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["sitewatch"]["dn_scale"] == 255.0
    assert fc["sitewatch"]["cloud_fraction"] < 0.02  # the reflectance threshold hid the whole sea
    img[100:140, 20:70] = (250, 250, 248)
    Image.fromarray(img).save(tmp_path / "cloudy.png")
    out = tmp_path / "cloudy.geojson"
    r = CliRunner().invoke(main, ["detect-image", "--sensor", "optical", str(tmp_path / "cloudy.png"), "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["cloud_fraction"] > 40 * 50 / n**2


def test_cli_band_needs_optical(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["detect-image", "--band", "red=x.tif", "--out", str(tmp_path / "o.geojson")])
    assert r.exit_code != 0
    assert "optical" in r.output


def _anchorage(n: int = 700) -> dict[str, NDArray[np.float32]]:
    """Open water with a quay down the east side and a ship at anchor every 300 m (10 m pixels)."""
    img = np.broadcast_to(WATER[:, None, None], (4, n, n)).copy()
    img[:, :, n - 60 :] = QUAY[:, None, None]
    for cy in range(150, n * 10 - 150, 1500):
        for cx in range(150, n * 10 - 1000, 1500):
            c = coverage(n, 10.0, float(cx), float(cy), 150.0, 25.0, 45.0)
            img = img * (1 - c) + np.array([0.20, 0.21, 0.22, 0.25])[:, None, None] * c
    img += np.random.default_rng(2).normal(0, 0.003, img.shape)
    return {k: img[i].astype(np.float32) for i, k in enumerate(("blue", "green", "red", "nir"))}


def test_tiles_on_worker_processes_match_one_worker() -> None:
    from sitewatch.detect.optical import scene_stats
    from sitewatch.detect.optical_image import detect_optical_tiled

    bands = _anchorage()
    shape = bands["green"].shape

    def read(win: tuple[int, int, int, int]) -> tuple[dict[str, NDArray[np.float32]], NDArray[np.bool_], None]:
        r0, r1, c0, c1 = win
        return {k: v[r0:r1, c0:c1] for k, v in bands.items()}, np.ones((r1 - r0, c1 - c0), bool), None

    stats = scene_stats(bands)
    one, _, _ = detect_optical_tiled(read, shape, (10.0, 10.0), stats, workers=1, tile=300)
    two, _, _ = detect_optical_tiled(read, shape, (10.0, 10.0), stats, workers=2, tile=300)
    assert len(vessels(one)) == 20  # 5 x 4 ships at anchor over 2 x 2 tiles
    assert [(d.row, d.col, d.score) for d in one] == [(d.row, d.col, d.score) for d in two]


def test_feature_planes_and_row_blocks_match_the_stacked_features() -> None:
    from sitewatch.detect.optical import (
        MODEL_FILE,
        _load_model,
        feature_planes,
        pixel_features,
        vessel_probability,
    )

    bands = _anchorage(200)
    stacked, water = pixel_features(bands, 10.0)
    planes, water2 = feature_planes(bands, 10.0)
    assert np.array_equal(water, water2)
    assert np.array_equal(stacked, np.stack(planes))
    search = np.zeros(water.shape, bool)
    search[20:150, 30:] = True
    model = _load_model(MODEL_FILE)
    a = vessel_probability(stacked, search, model, chunk=1000)
    b = vessel_probability(planes, search, model)
    assert np.allclose(a, b, atol=1e-6)
    assert (a[~search] == 0).all() and a[search].max() > 0.5


@pytest.mark.parametrize("sea_fraction", [0.3, 0.6, 0.85])
def test_water_threshold_holds_when_the_scene_is_mostly_hazy_sea(sea_fraction: float) -> None:
    from sitewatch.detect.optical_water import nir_ceiling, raw_water, water_threshold

    # Haze lifts the sea's NIR and flattens its NDWI (Algiers: water NDWI about 0.05);
    # when the sea covers most of the scene, "the brightest half" of the pixels is sea too.
    rng = np.random.default_rng(1)
    n = 200
    sea = np.zeros((n, n), bool)
    sea[:, : int(sea_fraction * n)] = True
    haze = np.array([0.04, 0.04, 0.04, 0.045])
    bands = {}
    for i, k in enumerate(("blue", "green", "red", "nir")):
        b = np.where(sea, WATER[i], QUAY[i]) + haze[i] + rng.normal(0, 0.003, (n, n))
        bands[k] = b.astype(np.float32)
    index = (bands["green"] - bands["nir"]) / (bands["green"] + bands["nir"])
    t = water_threshold(index, bands["nir"])
    assert float(np.median(index[~sea])) < t < float(np.median(index[sea]))
    assert float(np.median(bands["nir"][sea])) < nir_ceiling(bands["nir"]) < float(np.median(bands["nir"][~sea]))
    w = raw_water(bands)
    assert w[sea].mean() > 0.98 and w[~sea].mean() < 0.02


def test_box_means_match_scipy_uniform_filter_bit_for_bit() -> None:
    from scipy import ndimage

    from sitewatch.detect.optical_features import _box_means, _transposed

    rng = np.random.default_rng(3)
    for a in (rng.random((301, 517), dtype=np.float32), (rng.random((517, 301)) > 0.4).astype(np.float32)):
        sizes = (3, 13, 35)
        for size, got in zip(sizes, _box_means(_transposed(a, block=64), sizes), strict=True):
            want = ndimage.uniform_filter(a, size)
            assert got.dtype == want.dtype and np.array_equal(got, want)


@pytest.mark.parametrize("seed", range(6))
def test_object_stage_on_the_cut_down_image_sees_what_the_whole_image_holds(seed: int) -> None:
    from scipy import ndimage

    from sitewatch.detect.base import measure_components
    from sitewatch.detect.optical_objects import _flat_index, _measure, _Near
    from sitewatch.detect.optical_water import square_filter

    # Sparse blobs (a few touching the edges): labels, 7 x 7 rings and measurements must be
    # those of the whole image, in the same raster order.
    rng = np.random.default_rng(seed)
    prob = np.zeros((160, 230), np.float32)
    for _ in range(12):
        r, c = rng.integers(-2, 160), rng.integers(-2, 230)
        h, w = rng.integers(1, 8, 2)
        prob[max(r, 0) : r + h, max(c, 0) : c + w] = rng.uniform(0.5, 1.0)
    near = _Near.around(prob > 0.5, prob, None)
    whole, n = ndimage.label(prob > 0.5, structure=np.ones((3, 3), bool))
    cut, n_cut = ndimage.label(near.prob > 0.5, structure=np.ones((3, 3), bool))
    assert n_cut == n
    full_ring = square_filter(whole, 7, np.maximum)
    cut_ring = square_filter(cut, 7, np.maximum)
    at = np.flatnonzero(cut_ring)
    assert np.array_equal(full_ring.ravel()[_flat_index(at, near.rows, near.cols, prob.shape[1])], cut_ring.ravel()[at])
    assert np.count_nonzero(full_ring) == at.size
    index = np.arange(1, n + 1)
    got, want = _measure(whole, index, (8.5, 8.5), prob), measure_components(whole, index, (8.5, 8.5), prob)
    for k in want:
        assert np.allclose(got[k], want[k], rtol=0, atol=1e-9)


@pytest.mark.parametrize("length", [1, 3, 5, 7, 12])
def test_near_lines_are_within_reach_also_on_images_narrower_than_the_window(length: int) -> None:
    from sitewatch.detect.optical_objects import _near_lines

    rng = np.random.default_rng(length)
    for _ in range(5):
        used = np.unique(rng.integers(0, length, rng.integers(1, 3)))
        want = [i for i in range(length) if np.abs(used - i).min() <= 3]
        assert _near_lines(used, length).tolist() == want


def test_deep_land_features_tell_a_pier_from_a_land_mass() -> None:
    from sitewatch.detect.optical_deep import deep_feature_names
    from sitewatch.detect.optical_features import FEATURE_NAMES
    from sitewatch.detect.optical_objects import OBJECT_FEATURE_NAMES, candidate_objects

    # 10 m pixels: land in rows 0-39 (thick), a 30 m pier down from it, water elsewhere.
    water = np.ones((100, 100), bool)
    water[:40] = False
    water[40:80, 60:63] = False
    prob = np.zeros(water.shape, np.float32)
    prob[60:76, 60:63] = 0.95  # on the pier
    prob[10:26, 20:23] = 0.95  # inside the land mass
    feats = np.zeros((len(FEATURE_NAMES), *water.shape), np.float32)
    hidden = np.zeros(water.shape, bool)
    params = OpticalParams(deep_radii_m=(35.0,))
    m, x = candidate_objects(prob, feats, water, hidden, (10.0, 10.0), params)
    m0, x0 = candidate_objects(prob, feats, water, hidden, (10.0, 10.0), OpticalParams())
    assert x0.shape == (2, len(OBJECT_FEATURE_NAMES)) and np.array_equal(x[:, : x0.shape[1]], x0)
    deep = dict(zip(deep_feature_names((35.0,)), x[:, x0.shape[1] :].T, strict=True))
    pier, block = (0, 1) if m["row"][0] > m["row"][1] else (1, 0)
    assert deep["deep_land_35m"][pier] == 0.0 and deep["deep_land_35m"][block] == 1.0
    assert deep["deep_land_ring_35m"][block] == 1.0 and deep["deep_water_ring_35m"][block] == 0.0
    assert deep["deep_water_ring_35m"][pier] > 0.5
    assert deep["deep_land_dist_35m"][block] == 0.0 and deep["deep_land_dist_35m"][pier] > 200.0


@pytest.mark.parametrize("seed", range(4))
def test_deep_land_on_the_cut_down_image_is_that_of_the_whole_tile(seed: int) -> None:
    from scipy import ndimage

    from sitewatch.detect.optical_deep import _disk
    from sitewatch.detect.optical_objects import _deep_around

    rng = np.random.default_rng(seed)
    water = ndimage.uniform_filter(rng.random((180, 240)), 9) > 0.5
    mask = np.zeros(water.shape, bool)
    mask[rng.integers(0, 180, 6), rng.integers(0, 240, 6)] = True
    pixel = (8.0, 9.5)
    params = OpticalParams(deep_radii_m=(35.0,), deep_distance_cap_m=120.0)
    deep = _deep_around(mask, water, np.zeros(water.shape, bool), pixel, params)
    assert deep is not None
    disk = _disk(35.0, pixel)
    whole = ndimage.binary_dilation(ndimage.binary_erosion(~water, disk, border_value=1), disk)
    r, c = np.nonzero(ndimage.binary_dilation(mask, np.ones((5, 5), bool)))
    assert np.array_equal(deep._at(deep.land[0], r, c), whole[r, c])
    r, c = np.nonzero(mask)
    dist = ndimage.distance_transform_edt(~whole, sampling=(pixel[1], pixel[0]))[r, c]  # rows, columns
    assert np.allclose(deep._distance(deep.land[0], r, c), np.minimum(dist, 120.0))


def _hull_and_stack() -> tuple[dict[str, NDArray[np.float32]], NDArray[np.bool_], NDArray[np.float32]]:
    """10 m pixels: a quay (rows 0-39), a mottled, coloured container stack on it, a uniform grey hull in the water."""
    rng = np.random.default_rng(0)
    water = np.ones((100, 100), bool)
    water[:40] = False
    bands = {b: np.full(water.shape, v, np.float32) for b, v in zip(("blue", "green", "red", "nir"), WATER, strict=True)}
    for b, v in zip(("blue", "green", "red", "nir"), QUAY, strict=True):
        bands[b][:40] = v
    for b, v in zip(("blue", "green", "red", "nir"), DECK, strict=True):
        bands[b][60:76, 60:63] = v
    mottle = rng.uniform(0.2, 0.5, (16, 3)).astype(np.float32)
    for b, f in (("blue", 0.3), ("green", 0.7), ("red", 1.0), ("nir", 1.0)):
        bands[b][10:26, 20:23] = f * mottle
    prob = np.zeros(water.shape, np.float32)
    prob[60:76, 60:63] = 0.95
    prob[10:26, 20:23] = 0.95
    return bands, water, prob


def test_texture_features_tell_a_uniform_hull_in_water_from_a_mottled_stack_on_a_quay() -> None:
    from sitewatch.detect.optical_features import feature_planes
    from sitewatch.detect.optical_objects import OBJECT_FEATURE_NAMES, candidate_objects
    from sitewatch.detect.optical_texture import TEXTURE_FEATURE_NAMES

    bands, water, prob = _hull_and_stack()
    feats, _ = feature_planes(bands, (10.0, 10.0), water)
    hidden = np.zeros(water.shape, bool)
    m, x = candidate_objects(prob, feats, water, hidden, (10.0, 10.0), OpticalParams(texture_features=True), bands=bands)
    m0, x0 = candidate_objects(prob, feats, water, hidden, (10.0, 10.0), OpticalParams())
    assert x.shape == (2, len(OBJECT_FEATURE_NAMES) + len(TEXTURE_FEATURE_NAMES))
    assert np.array_equal(x[:, : x0.shape[1]], x0)
    tex = dict(zip(TEXTURE_FEATURE_NAMES, x[:, x0.shape[1] :].T, strict=True))
    stack, hull = (0, 1) if m["row"][0] < m["row"][1] else (1, 0)
    nir = bands["nir"][10:26, 20:23]
    assert tex["cv_nir"][stack] == pytest.approx(nir.std() / nir.mean(), rel=1e-4)
    assert tex["cv_nir"][hull] == pytest.approx(0.0, abs=1e-4) and tex["cv_vis"][hull] == pytest.approx(0.0, abs=1e-4)
    rgb = np.stack([bands[b][10:26, 20:23] for b in ("blue", "green", "red")])
    assert tex["chroma"][stack] == pytest.approx(np.mean((rgb.max(0) - rgb.min(0)) / rgb.mean(0)), rel=1e-4)
    assert tex["chroma"][hull] == pytest.approx((DECK[2] - DECK[0]) / DECK[:3].mean(), rel=1e-4)
    assert tex["ring_bright_land"][stack] == 1.0 and tex["ring_bright_land"][hull] == 0.0
    # Water is bluer than the deck: the hull is redder than its ring.
    assert tex["blue_red_vs_ring"][hull] < 0
    # Each side pixel of the hull's ring sits one pixel off a step of (deck - water) NIR: gradient half the step.
    assert 0.2 < tex["edge_nir"][hull] <= 0.5


def test_texture_features_need_the_four_bands() -> None:
    from sitewatch.detect.optical_features import FEATURE_NAMES
    from sitewatch.detect.optical_objects import candidate_objects, multi_candidates

    bands, water, prob = _hull_and_stack()
    feats = np.zeros((len(FEATURE_NAMES), *water.shape), np.float32)
    hidden = np.zeros(water.shape, bool)
    params = OpticalParams(texture_features=True)
    with pytest.raises(InputError, match="texture features need blue, green, red and nir"):
        candidate_objects(prob, feats, water, hidden, (10.0, 10.0), params)
    without_blue = {k: v for k, v in bands.items() if k != "blue"}
    with pytest.raises(InputError, match="got \\['green', 'nir', 'red'\\]"):
        multi_candidates(prob, feats, water, hidden, (10.0, 10.0), params, bands=without_blue)


def test_detector_with_texture_features_passes_its_bands_and_finds_the_same_ships(monkeypatch: pytest.MonkeyPatch) -> None:
    from sitewatch.detect import optical
    from sitewatch.detect.optical_objects import OBJECT_FEATURE_NAMES
    from sitewatch.detect.optical_texture import TEXTURE_FEATURE_NAMES

    bands = _ship_at_anchor()
    shipped = optical.object_scores
    widths: list[int] = []

    def first_18(x: NDArray[np.float32], model: dict[str, NDArray[np.float32]]) -> NDArray[np.float32]:
        widths.append(x.shape[1])
        return shipped(x[:, : len(OBJECT_FEATURE_NAMES)], model)

    monkeypatch.setattr(optical, "object_scores", first_18)
    plain = detect_optical(bands, 10.0)
    textured = detect_optical(bands, 10.0, params=OpticalParams(texture_features=True))
    assert plain and widths == [len(OBJECT_FEATURE_NAMES), len(OBJECT_FEATURE_NAMES) + len(TEXTURE_FEATURE_NAMES)]
    assert [(d.row, d.col, d.score) for d in textured] == [(d.row, d.col, d.score) for d in plain]


@pytest.mark.parametrize("limit", [{"max_width_m": 12.0}, {"max_length_m": 90.0}, {"min_length_m": 200.0}])
def test_a_ship_outside_the_size_limits_is_not_a_vessel_on_either_path(limit: dict[str, float]) -> None:
    """Length and width limits hold with the site's water (``_site_vessels``) and without it (the
    candidates of the learned path and the ships at anchor): a 113 x 15.6 m and a 150 x 25 m ship."""
    bands, water = scene(10.0)
    assert len(vessels(detect_optical(bands, 10.0, water=water))) == 1
    assert vessels(detect_optical(bands, 10.0, water=water, params=OpticalParams(**limit))) == []
    anchored = _ship_at_anchor()
    near = lambda dets: [d for d in vessels(dets) if abs(d.row - 70) < 4 and abs(d.col - 50) < 4]  # noqa: E731
    assert len(near(detect_optical(anchored, 10.0))) == 1
    assert near(detect_optical(anchored, 10.0, params=OpticalParams(**limit))) == []


def test_candidates_outside_the_size_limits_are_dropped() -> None:
    from sitewatch.detect.optical_features import FEATURE_NAMES
    from sitewatch.detect.optical_objects import candidate_objects

    # 10 m pixels, open water: a long wide object and a short narrow one.
    water = np.ones((100, 100), bool)
    prob = np.zeros(water.shape, np.float32)
    prob[10:26, 20:24] = 0.95
    prob[60:67, 60:62] = 0.95
    feats = np.zeros((len(FEATURE_NAMES), *water.shape), np.float32)
    hidden = np.zeros(water.shape, bool)

    def kept(**limits: float) -> list[str]:
        m, x = candidate_objects(prob, feats, water, hidden, (10.0, 10.0), OpticalParams(**limits))
        assert len(x) == len(m["row"])
        return sorted("long" if r < 40 else "short" for r in m["row"])

    m, _ = candidate_objects(prob, feats, water, hidden, (10.0, 10.0), OpticalParams())
    (long_, short), (wide, narrow) = sorted(m["length_m"], reverse=True), sorted(m["width_m"], reverse=True)
    assert kept() == ["long", "short"]
    assert kept(max_length_m=(long_ + short) / 2) == ["short"]
    assert kept(min_length_m=(long_ + short) / 2) == ["long"]
    assert kept(max_width_m=(wide + narrow) / 2) == ["short"]
