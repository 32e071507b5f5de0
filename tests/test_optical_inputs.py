"""The optical detector on odd but valid inputs: sane output, or an error that names the input (issue 4).

Scenes are made here: harbour water with a quay down the east side and a 150 x 25 m ship at
anchor, then emptied, clouded, cut, filled with NaN, infinities or negative values, or written
as band files that disagree with each other.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.typing import NDArray

from sitewatch.cli import main
from sitewatch.detect.base import PixelDetection
from sitewatch.detect.optical import detect_optical_result, feature_planes
from sitewatch.detect.optical_image import (
    MAX_WINDOW_PX,
    detect_optical_image,
    detect_optical_tiled,
    open_optical,
    scene_stats,
)
from sitewatch.errors import InputError

NAMES = ("blue", "green", "red", "nir")
WATER = np.array([0.045, 0.040, 0.022, 0.012])
QUAY = np.array([0.150, 0.160, 0.170, 0.210])
HULL = np.array([0.20, 0.21, 0.22, 0.25])
CLOUD = np.array([0.62, 0.63, 0.64, 0.66])
SHIP_AT = (80.0, 56.0)  # row, col of the ship in port(160, 160)


def port(h: int = 160, w: int = 160, pixel: float = 10.0, seed: int = 0) -> NDArray[np.float32]:
    """(4, h, w) reflectance: water, a quay down the east quarter, a 150 x 25 m ship at anchor at 30°."""
    img = np.broadcast_to(WATER[:, None, None], (4, h, w)).copy()
    img[:, :, int(w * 0.75) :] = QUAY[:, None, None]
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx, t = h / 2, w * 0.35, np.radians(30)
    along = ((xx - cx) * np.sin(t) - (yy - cy) * np.cos(t)) * pixel
    across = ((xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)) * pixel
    img[:, (np.abs(along) <= 75) & (np.abs(across) <= 12.5)] = HULL[:, None]
    return (img + np.random.default_rng(seed).normal(0, 0.004, img.shape)).astype(np.float32)


def bands_of(img: NDArray[np.float32]) -> dict[str, NDArray[np.float32]]:
    return {k: img[i] for i, k in enumerate(NAMES)}


def where(dets: list[PixelDetection]) -> list[tuple[float, float, float]]:
    return [(round(d.row, 1), round(d.col, 1), round(d.length_m, 1)) for d in dets if d.kind == "vessel"]


def write(path: Path, arrays: list[NDArray[Any]], names: list[str] | None = None, *, dtype: str | None = None,
          crs: str | None = "EPSG:32633", transform: Any = None, nodata: float | None = None) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    kw: dict[str, Any] = {} if nodata is None else {"nodata": nodata}
    if crs is not None:
        kw |= {"crs": crs, "transform": transform or from_origin(500000.0, 4750000.0, 10.0, 10.0)}
    dtype = dtype or str(arrays[0].dtype)
    with rasterio.open(path, "w", driver="GTiff", width=arrays[0].shape[1], height=arrays[0].shape[0],
                       count=len(arrays), dtype=dtype, **kw) as ds:  # fmt: skip
        for i, a in enumerate(arrays, 1):
            ds.write(a.astype(dtype), i)
            if names:
                ds.set_band_description(i, names[i - 1])
    return path


def band_files(folder: Path, img: NDArray[np.float32], **kw: Any) -> dict[str, Path]:
    return {k: write(folder / f"{k}.tif", [img[i]], [k], **kw) for i, k in enumerate(NAMES)}


# ---------------------------------------------------------------- odd scenes, library


def _filled(values: NDArray[np.float64], noise: float = 0.004) -> Callable[[], NDArray[np.float32]]:
    def make() -> NDArray[np.float32]:
        img = np.broadcast_to(values[:, None, None], (4, 120, 120)) + np.random.default_rng(1).normal(0, noise, (4, 120, 120))
        return img.astype(np.float32)

    return make


def _edit(change: Callable[[NDArray[np.float32]], None], h: int = 160, w: int = 160, pixel: float = 10.0) -> Callable[[], NDArray[np.float32]]:
    def make() -> NDArray[np.float32]:
        img = port(h, w, pixel)
        change(img)
        return img

    return make


def _set(img: NDArray[np.float32], index: Any, value: float) -> None:
    img[index] = value


ODD_SCENES: dict[str, tuple[Callable[[], NDArray[np.float32]], float]] = {
    "all water": (_filled(WATER), 10.0),
    "all land": (_filled(QUAY, 0.01), 10.0),
    "all cloud": (_filled(CLOUD), 10.0),
    "all cloud shadow": (_filled(np.full(4, 0.004), 0.001), 10.0),
    "constant": (_filled(np.full(4, 0.1), 0.0), 10.0),
    "saturated nir": (_edit(lambda a: _set(a, 3, 1.0)), 10.0),
    "nir of zeros": (_edit(lambda a: _set(a, 3, 0.0)), 10.0),
    "all NaN": (_edit(lambda a: _set(a, slice(None), np.nan)), 10.0),
    "NaN border": (_edit(lambda a: _set(a, (slice(None), slice(None), slice(0, 45)), np.nan)), 10.0),
    "zero border": (_edit(lambda a: _set(a, (slice(None), slice(0, 30)), 0.0)), 10.0),
    "one NaN on the ship": (_edit(lambda a: _set(a, (slice(None), 80, 56), np.nan)), 10.0),
    "infinities": (_edit(lambda a: (_set(a, (slice(None), slice(10, 12), slice(10, 12)), np.inf), _set(a, (2, 100, 100), -np.inf))), 10.0),
    "negative strip": (_edit(lambda a: _set(a, (slice(None), slice(None), slice(0, 30)), -0.02)), 10.0),
    "1 x 1": (_edit(lambda a: None, 1, 1), 10.0),
    "1 x 80": (_edit(lambda a: None, 1, 80), 10.0),
    "80 x 1": (_edit(lambda a: None, 80, 1), 10.0),
    "2 x 2": (_edit(lambda a: None, 2, 2), 10.0),
    "5 x 5": (_edit(lambda a: None, 5, 5), 10.0),
    "31 x 4000": (_edit(lambda a: None, 31, 4000), 10.0),
    "60 m pixels": (_edit(lambda a: None, 60, 60, 60.0), 60.0),
    "3 m pixels": (_edit(lambda a: None, 400, 400, 3.0), 3.0),
    "0.3 m pixels": (_edit(lambda a: None, 300, 300, 0.3), 0.3),
}


@pytest.mark.parametrize("name", ODD_SCENES)
def test_odd_scenes_give_sane_detections(name: str) -> None:
    make, pixel = ODD_SCENES[name]
    img = make()
    h, w = img.shape[1:]
    res = detect_optical_result(bands_of(img), pixel)
    assert res.hidden.shape == res.cloud.shape == (h, w)
    assert not (res.cloud & ~res.hidden).any()
    for d in res.detections:
        values = (d.row, d.col, d.length_m, d.width_m, d.heading_deg, d.score)
        assert all(math.isfinite(v) for v in values), d
        assert -0.5 <= d.row <= h - 0.5 and -0.5 <= d.col <= w - 0.5, d
        assert 0 < d.length_m and 0 <= d.width_m <= d.length_m + 1e-9, d
        assert 0 <= d.score <= 1 and 0 <= d.heading_deg < 180, d
        assert not res.hidden[int(round(d.row)), int(round(d.col))], f"{d} under cloud or no data"


def test_an_infinite_value_hides_no_ship_away_from_it() -> None:
    img = port()
    clear = where(detect_optical_result(bands_of(img), 10.0).detections)
    img[:, 10:12, 10:12] = np.inf  # 450 m from the ship; its square ran NaN through the texture feature's sums
    img[2, 150, 20] = -np.inf
    res = detect_optical_result(bands_of(img), 10.0)
    assert clear and where(res.detections) == clear
    assert res.hidden[10, 10] and res.hidden[150, 20]  # no measurement there: hidden as NaN is


def test_negative_reflectance_reads_as_zero_as_integer_bands_do() -> None:
    img = port()
    img[:, :, :30] -= 0.05  # over-corrected haze along the west edge: the water below zero in every band
    clipped = detect_optical_result(bands_of(np.maximum(img, 0)), 10.0)
    res = detect_optical_result(bands_of(img), 10.0)
    # Below zero NDWI's denominator vanished: a false vessel at the strip's edge, and the ship measured otherwise.
    assert where(res.detections) == where(clipped.detections) and len(where(res.detections)) == 1
    feats, _ = feature_planes(bands_of(img), 10.0)
    assert np.nanmax(np.abs(feats[0])) <= 1.0  # NDWI


def test_nan_in_any_band_is_no_data() -> None:
    img = port()
    img[0, :, :20] = np.nan  # blue only
    res = detect_optical_result(bands_of(img), 10.0)
    assert res.hidden[:, :20].all() and not res.hidden[:, 60:].any()


def test_the_scene_water_references_leave_a_no_data_collar_out() -> None:
    # NaN was read as 0: half a scene of no data was its darkest "water" (NIR 0, NDWI 0), and the
    # water threshold and the references every feature is judged against moved with it.
    img = port()
    collared = np.concatenate([img, np.full_like(img, np.nan)], axis=2)
    assert scene_stats(bands_of(collared)) == scene_stats(bands_of(img))


def test_a_white_fill_without_data_hides_no_ship_beside_it() -> None:
    # A white fill (255 or 65535 under alpha 0: reflectance 1) 130 m west of the ship at anchor was taken
    # for cloud by the spectral test, and the cloud's margins hid the ship.
    img = port()
    clear = where(detect_optical_result(bands_of(img), 10.0).detections)
    fill = np.zeros(img.shape[1:], bool)
    fill[:, :38] = True  # the hull's west end is near col 51
    img[:, fill] = 1.0
    res = detect_optical_result(bands_of(img), 10.0, valid=~fill)
    assert not res.cloud.any()
    found = where(res.detections)  # the fill is in the features' wider windows: a pixel off at most
    assert len(clear) == len(found) == 1 and np.allclose(found, clear, atol=1.0)


def test_candidates_cut_by_no_data_are_marked_with_cloud_given_and_dropped_without() -> None:
    from sitewatch.detect.optical import (
        OpticalParams,
        _load_model,
        model_for,
        multi_candidates,
        score_pixels,
    )

    img = port()
    valid = np.ones(img.shape[1:], bool)
    valid[:80] = False  # no data over the ship's north half
    params = OpticalParams()
    sc = score_pixels(bands_of(img), (10.0, 10.0), _load_model(model_for(bands_of(img), params)), valid=valid, params=params)

    def on_ship(cloud: NDArray[np.bool_] | None) -> list[float]:
        m, _ = multi_candidates(sc.prob, sc.features, sc.water, sc.hidden, (10.0, 10.0), params, cloud=cloud)
        near = np.hypot(m["row"] - SHIP_AT[0], m["col"] - SHIP_AT[1]) < 8
        return [float(t) for t in m["truncated"][near]]

    assert on_ship(None) == []  # the cloud margin over every hidden pixel, as the default runs it
    cut = on_ship(sc.cloud)  # OpticalParams.nodata_cut: the margin over cloud alone
    assert cut and all(t == 1.0 for t in cut)


# ---------------------------------------------------------------- files and --band


def test_detect_image_takes_no_white_fill_under_alpha_0_for_cloud(tmp_path: Path) -> None:
    # 65535 under a transparent alpha band 130 m west of a ship at anchor: the spectral cloud test ran
    # before the alpha band was applied, called the fill cloud (cloud fraction 0.17) and hid the ship.
    import rasterio
    from rasterio.enums import ColorInterp

    img = port()
    dn = np.round(img * 10000)
    dn[:, :, :38] = 65535
    alpha = np.where(np.arange(160)[None, :] < 38, 0, 255) * np.ones((160, 1))
    path = write(tmp_path / "rgba.tif", [*dn, alpha], [*NAMES, "alpha"], dtype="uint16")
    with rasterio.open(path, "r+") as ds:
        ds.colorinterp = [ColorInterp.blue, ColorInterp.green, ColorInterp.red, ColorInterp.undefined, ColorInterp.alpha]
    res = detect_optical_image(path)
    assert res.cloud_fraction == 0.0 and res.valid_fraction == pytest.approx(1 - 38 / 160)
    assert any(abs(r - SHIP_AT[0]) < 2 and abs(c - SHIP_AT[1]) < 2 for r, c, _ in where(res.detections))


def test_no_valid_pixel_gives_no_cloud_fraction(tmp_path: Path) -> None:
    img = np.full((4, 120, 120), np.nan, np.float32)
    path = write(tmp_path / "empty.tif", list(img), list(NAMES))
    res = detect_optical_image(path)
    assert res.valid_fraction == 0.0 and res.cloud_fraction is None and res.detections == []
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", "--sensor", "optical", str(path), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["cloud_fraction"] is None  # was 0.0: "clear", of nothing seen


def test_one_band_at_its_no_data_value_is_read_as_the_value(tmp_path: Path) -> None:
    # Sentinel-2's no-data DN is 0, which is also where dark water's NIR is clipped: each such pixel,
    # taken for no data, hid the ships within the cloud margin around it. No data is every band's fill.
    from scipy import ndimage

    img = port()
    water = img[3] < 0.05
    hull = ndimage.binary_opening(~water) & (np.arange(160)[None, :] < 100)
    beside = ndimage.binary_dilation(hull, iterations=2) & water
    img[3][beside & (np.arange(160)[:, None] > 80)] = 0.0  # the darkest water, in the hull's shadow
    (tmp_path / "whole").mkdir()
    whole = detect_optical_image(band_files(tmp_path / "whole", img * 10000, dtype="uint16", nodata=0))
    img[:, :30] = 0.0  # outside the swath
    files = band_files(tmp_path, img * 10000, dtype="uint16", nodata=0)
    res = detect_optical_image(files)
    # What the whole scene shows beyond the cloud margin of the swath's edge (its water references
    # taken without the swath's no data, which read as water had made them too), the ship with it.
    beyond = [(round(d.row), round(d.col)) for d in whole.detections if d.row > 30 + 10]
    assert [(round(d.row), round(d.col)) for d in res.detections] == beyond and (80, 56) in beyond
    assert res.valid_fraction == pytest.approx(1 - 30 / 160)


def test_a_band_without_data_is_named(tmp_path: Path) -> None:
    img = port()
    files = band_files(tmp_path, img * 10000, dtype="uint16", nodata=0)
    write(files["nir"], [np.zeros((160, 160))], ["nir"], dtype="uint16", nodata=0)
    with pytest.raises(InputError, match=r"band nir .*nir\.tif.* holds no data: every value is 0, its no-data value.*leave it out"):
        detect_optical_image(files)
    scene = write(tmp_path / "scene.tif", [*port()[:3], np.full((160, 160), np.nan)], list(NAMES))
    with pytest.raises(InputError, match=r"band nir .*scene\.tif.* holds no data: every value is NaN, while"):
        detect_optical_image(scene)
    # No data in any band is a scene nothing can be seen in, not an error.
    for k in NAMES:
        write(files[k], [np.zeros((160, 160))], [k], dtype="uint16", nodata=0)
    res = detect_optical_image(files)
    assert res.valid_fraction == 0.0 and res.cloud_fraction is None


def test_one_file_for_two_bands_is_refused(tmp_path: Path) -> None:
    img = port()
    files = band_files(tmp_path, img)
    with pytest.raises(InputError, match=r"--band green and --band nir are one file .*green\.tif"):
        open_optical({**files, "nir": files["green"]})
    args = [a for k in ("green", "red") for a in ("--band", f"{k}={files['green']}")]
    r = CliRunner().invoke(main, ["detect-image", *args, "--out", str(tmp_path / "o.geojson")])
    assert r.exit_code == 1 and "one file" in r.output and "Traceback" not in r.output


def test_a_multiband_file_given_as_one_band_is_refused(tmp_path: Path) -> None:
    img = port()
    files = band_files(tmp_path, img)
    scene = write(tmp_path / "scene.tif", list(img), list(NAMES))
    with pytest.raises(InputError, match=r"--band green .*scene\.tif: has 4 bands.*as IMAGE"):
        open_optical({**files, "green": scene})  # its first band, blue, was read as green


@pytest.mark.parametrize(
    "change",
    [
        {"transform": (600000.0, 4750000.0, 10.0)},  # 100 km east
        {"transform": (500000.0, 4750000.0, 20.0)},  # 20 m pixels, same size in pixels
        {"crs": "EPSG:32634"},
    ],
)
def test_band_files_on_other_grids_are_refused(tmp_path: Path, change: dict[str, Any]) -> None:
    from rasterio.transform import from_origin

    img = port()
    files = band_files(tmp_path, img)
    kw: dict[str, Any] = {}
    if "transform" in change:
        x, y, p = change["transform"]
        kw["transform"] = from_origin(x, y, p, p)
    if "crs" in change:
        kw["crs"] = change["crs"]
    write(files["nir"], [img[3]], ["nir"], **kw)
    with pytest.raises(InputError, match=r"band nir .*nir\.tif.* is not on the grid of band green"):
        open_optical(files)


def test_band_files_a_rounding_apart_are_one_grid(tmp_path: Path) -> None:
    from rasterio.transform import from_origin

    img = port()
    files = band_files(tmp_path, img)
    write(files["nir"], [img[3]], ["nir"], transform=from_origin(500000.0 + 1e-6, 4750000.0, 10.0 + 1e-9, 10.0))
    assert set(open_optical(files).bands) == set(NAMES)


def test_integer_and_float_band_files_together_are_refused(tmp_path: Path) -> None:
    img = port()
    files = band_files(tmp_path, img * 10000, dtype="uint16")
    write(files["nir"], [img[3]], ["nir"], dtype="float32")  # reflectance beside reflectance x 10000
    with pytest.raises(InputError, match=r"mix integer \(blue uint16, green uint16, red uint16\) and float \(nir float32\)"):
        open_optical(files)


def test_tiles_at_fine_pixels_stay_within_memory() -> None:
    # At 0.3 m the 585 m of context are 1950 pixels; tiles six of those wide were 11,700 pixels,
    # and their windows (15,600² pixels, about 30 GB) were killed for memory. Nothing is valid
    # here, so no tile is detected in: only the windows read are looked at.
    seen: list[tuple[int, int]] = []

    def read(win: tuple[int, int, int, int]) -> tuple[dict[str, NDArray[np.float32]], NDArray[np.bool_], None]:
        shape = (win[1] - win[0], win[3] - win[2])
        seen.append(shape)
        zero = np.broadcast_to(np.float32(0.0), shape)
        return {"green": zero, "nir": zero}, np.broadcast_to(False, shape), None

    stats = scene_stats({"green": np.full((4, 4), 0.04, np.float32), "nir": np.full((4, 4), 0.01, np.float32)})
    dets, _, valid = detect_optical_tiled(read, (20000, 20000), (0.3, 0.3), stats)
    assert max(r * c for r, c in seen) <= MAX_WINDOW_PX**2
    assert dets == [] and valid == 0.0
    # At 10 m and 3 m tiles stay as they were: 2048 pixels and the context.
    for p, context in ((10.0, 59), (3.0, 195)):
        seen.clear()
        detect_optical_tiled(read, (5000, 5000), (p, p), stats)
        assert max(seen) == (2048 + 2 * context, 2048 + 2 * context)


def test_pixels_too_fine_for_any_tile_are_refused_unless_the_image_is_small() -> None:
    def read(win: tuple[int, int, int, int]) -> tuple[dict[str, NDArray[np.float32]], NDArray[np.bool_], None]:
        shape = (win[1] - win[0], win[3] - win[2])
        zero = np.broadcast_to(np.float32(0.0), shape)
        return {"green": zero, "nir": zero}, np.broadcast_to(False, shape), None

    stats = scene_stats({"green": np.full((4, 4), 0.04, np.float32), "nir": np.full((4, 4), 0.01, np.float32)})
    with pytest.raises(InputError, match=r"pixels of 0.1 m: .*resample the image to 0.29 m"):
        detect_optical_tiled(read, (20000, 20000), (0.1, 0.1), stats)
    assert detect_optical_tiled(read, (3000, 3000), (0.1, 0.1), stats)[0] == []


def test_a_tile_without_water_counts_cloud_as_the_detector_does() -> None:
    # Bands green, red, nir (no blue): the detector takes blue as green. A tile without water
    # took the bands as given, and a patch (green 0.235, red 0.27) was cloud there, with a mean of
    # 0.2525 over two bands, and not in a tile with water, at 0.2467 over three.
    n = 300
    bands = {k: np.full((n, n), v, np.float32) for k, v in (("green", 0.16), ("red", 0.17), ("nir", 0.21))}
    for k, v in (("green", 0.235), ("red", 0.27), ("nir", 0.30)):
        bands[k][100:160, 100:160] = v
    valid = np.ones((n, n), bool)
    whole = detect_optical_result(bands, 10.0, valid=valid)
    assert not whole.cloud.any()

    def read(win: tuple[int, int, int, int]) -> tuple[dict[str, NDArray[np.float32]], NDArray[np.bool_], None]:
        r0, r1, c0, c1 = win
        return {k: v[r0:r1, c0:c1] for k, v in bands.items()}, valid[r0:r1, c0:c1], None

    _, cloud, _ = detect_optical_tiled(read, (n, n), (10.0, 10.0), scene_stats(bands))
    assert cloud == 0.0
