"""Change detection on synthetic pairs: what appears is found where it was drawn, what only changes
in light or speckle is not, what cannot be seen is not compared, and grids that differ are refused."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from scipy import ndimage
from shapely.geometry import box

from sitewatch.change import (
    ChangeImage,
    GridMismatchError,
    check_same_grid,
    detect_changes,
    irmad_weights,
    to_changes,
)
from sitewatch.errors import InputError
from sitewatch.model import Grid

H = W = 160
PIXEL = 10.0
X0, Y0 = 500_000.0, 4_700_000.0
GRID = Grid("EPSG:32652", (PIXEL, 0.0, X0, 0.0, -PIXEL, Y0), W, H)
BLOCK = (slice(60, 72), slice(90, 104))  # 12 × 14 pixels


def _ground(rng: np.random.Generator) -> np.ndarray:
    """Four bands of textured land and water (reflectance), as blue, green, red, nir."""
    texture = ndimage.gaussian_filter(rng.normal(size=(H, W)), 4) * 8
    water = np.zeros((H, W), bool)
    water[:, :40] = True
    base = np.array([0.06, 0.08, 0.09, 0.25])[:, None, None] * (1 + 0.3 * texture)
    base[:, water] = np.array([0.045, 0.04, 0.022, 0.012])[:, None]
    return base


def _noisy(img: np.ndarray, rng: np.random.Generator, sd: float = 0.003) -> np.ndarray:
    return (img + rng.normal(0, sd, img.shape)).astype(np.float32)


def _optical(data: np.ndarray, **kw: object) -> ChangeImage:
    return ChangeImage(data, GRID, "optical", ("blue", "green", "red", "nir"), **kw)  # type: ignore[arg-type]


def _block_box() -> object:
    rows, cols = BLOCK
    return box(X0 + cols.start * PIXEL, Y0 - rows.stop * PIXEL, X0 + cols.stop * PIXEL, Y0 - rows.start * PIXEL)


def test_a_block_that_appears_is_one_region_where_it_was_drawn() -> None:
    rng = np.random.default_rng(1)
    ground = _ground(rng)
    after = ground.copy()
    after[(slice(None), *BLOCK)] = np.array([0.25, 0.26, 0.27, 0.30])[:, None, None]  # new concrete
    result = detect_changes(_optical(_noisy(ground, rng)), _optical(_noisy(after, rng)))
    assert result.method == "irmad-cva" and result.compared_fraction == 1.0
    assert len(result.regions) == 1
    (region,) = result.regions
    assert region.direction == "appeared"
    drawn = _block_box()
    assert region.polygon.intersection(drawn).area / drawn.area > 0.9  # type: ignore[attr-defined]
    assert region.area_m2 == pytest.approx(drawn.area, rel=0.35)  # type: ignore[attr-defined]
    # WGS84 for storage: the same place, in lon/lat.
    lon, lat = region.polygon_wgs84.centroid.x, region.polygon_wgs84.centroid.y
    assert 128 < lon < 132 and 40 < lat < 45
    (change,) = to_changes(result, "base", "base/a", "base/b")
    assert change.id == "base/a..base/b#1" and change.method_version == result.method_version


def test_ground_dug_in_a_field_is_appeared_though_its_nir_falls() -> None:
    """Bare earth dug in a green field is brighter in the visible bands and far darker in NIR: the
    mean over all four bands made the demo's trenches 'disappeared' (17 of 21 regions, none
    'appeared'). The direction is now judged on the visible bands (irmad-cva version 2)."""
    rng = np.random.default_rng(3)
    ground = _ground(rng)  # land of NIR 0.25 and more: vegetation
    after = ground.copy()
    after[(slice(None), *BLOCK)] = np.array([0.075, 0.095, 0.12, 0.10])[:, None, None]  # fresh spoil
    result = detect_changes(_optical(_noisy(ground, rng)), _optical(_noisy(after, rng)))
    assert result.method_version == "5"  # 10 m, blue, green and red: the learned score (4 differs only at 1 m or finer)
    assert [r.direction for r in result.regions] == ["appeared"]
    chi2 = detect_changes(_optical(_noisy(ground, rng)), _optical(_noisy(after, rng)), learned=False)
    assert chi2.method_version == "3" and [r.direction for r in chi2.regions] == ["appeared"]

def test_a_block_that_goes_is_disappeared() -> None:
    rng = np.random.default_rng(2)
    ground = _ground(rng)
    before = ground.copy()
    before[(slice(None), *BLOCK)] = np.array([0.25, 0.26, 0.27, 0.30])[:, None, None]
    result = detect_changes(_optical(_noisy(before, rng)), _optical(_noisy(ground, rng)))
    assert [r.direction for r in result.regions] == ["disappeared"]


def test_illumination_and_haze_alone_give_no_region() -> None:
    rng = np.random.default_rng(3)
    ground = _ground(rng)
    # Another sun and atmosphere: each band scaled and offset (path radiance), nothing on the ground moved.
    gain = np.array([1.25, 1.2, 1.15, 0.9])[:, None, None]
    haze = np.array([0.03, 0.02, 0.012, 0.005])[:, None, None]
    result = detect_changes(_optical(_noisy(ground, rng)), _optical(_noisy(ground * gain + haze, rng)))
    assert result.regions == ()


def test_a_plain_difference_would_take_that_illumination_for_change() -> None:
    """The illumination test above can fail: without normalisation the difference is all change."""
    rng = np.random.default_rng(3)
    ground = _ground(rng)
    gain = np.array([1.25, 1.2, 1.15, 0.9])[:, None, None]
    diff = np.abs(ground * gain + 0.02 - ground).mean(axis=0)
    assert (diff > 5 * 0.003).mean() > 0.5


def test_cloud_and_no_data_are_not_compared_and_say_so() -> None:
    rng = np.random.default_rng(4)
    ground = _ground(rng)
    after = _noisy(ground, rng)
    after[:, 100:140, 20:60] = 0.6  # a cloud over land and water
    cloud = np.zeros((H, W), bool)
    cloud[98:142, 18:62] = True  # the cloud mask, with its margin
    before = _noisy(ground, rng)
    before[:, :10, :] = np.nan  # no data along one edge
    result = detect_changes(_optical(before), _optical(after, valid=~cloud))
    assert result.regions == ()
    assert result.compared_fraction == pytest.approx(1 - (10 * W + 44 * 44) / (H * W), abs=1e-6)
    # The same pair without the cloud mask: the cloud is a change.
    unmasked = detect_changes(_optical(before), _optical(after))
    assert any(r.area_m2 > 1000 * PIXEL**2 for r in unmasked.regions)


def test_area_limits_what_is_compared() -> None:
    rng = np.random.default_rng(5)
    ground = _ground(rng)
    after = ground.copy()
    after[(slice(None), *BLOCK)] = 0.3
    area = np.zeros((H, W), bool)
    area[:, :80] = True  # the site is the left half; the block lies in the right
    result = detect_changes(_optical(_noisy(ground, rng)), _optical(_noisy(after, rng)), area=area)
    assert result.regions == () and result.compared_fraction == 1.0


def test_minimum_area_drops_specks() -> None:
    rng = np.random.default_rng(6)
    ground = _ground(rng)
    after = ground.copy()
    after[(slice(None), *BLOCK)] = 0.3
    after[:, 20:22, 120:122] = 0.3  # 4 pixels, 400 m²
    # The chi-square test's seeds are few and far beyond the noise; the learned score's cut gives single
    # pixels here and there (min_area_m2's default, 200 m², is two pixels at 10 m, and drops them).
    kept = detect_changes(_optical(_noisy(ground, rng)), _optical(_noisy(after, rng)), min_area_m2=0, learned=False)
    dropped = detect_changes(_optical(_noisy(ground, rng)), _optical(_noisy(after, rng)), min_area_m2=5000)
    assert len(kept.regions) == 2
    assert len(dropped.regions) == 1 and dropped.regions[0].area_m2 >= 5000


def _speckled(mean: np.ndarray, rng: np.random.Generator, looks: float = 4.6) -> np.ndarray:
    return (mean * rng.gamma(looks, 1 / looks, mean.shape))[None].astype(np.float32)


def _sar_mean(rng: np.random.Generator) -> np.ndarray:
    land_db = -8 + 20 * ndimage.gaussian_filter(rng.normal(size=(H, W)), 3)
    mean = 10 ** (land_db / 10)
    mean[:, :40] = 10 ** (-19 / 10)  # water
    return mean


def test_speckle_alone_gives_no_sar_region() -> None:
    rng = np.random.default_rng(1)
    mean = _sar_mean(rng)
    result = detect_changes(ChangeImage(_speckled(mean, rng), GRID, "sar"), ChangeImage(_speckled(mean, rng), GRID, "sar"))
    assert result.method == "log-ratio"
    assert result.regions == ()
    # The looks of the 5 × 5 despeckled pair, read from the data: about 25 × 4.6.
    assert 90 < result.parameters["looks"] < 130


def test_sar_brighter_after_is_appeared_darker_disappeared_and_wind_on_water_is_not_change() -> None:
    rng = np.random.default_rng(2)
    mean = _sar_mean(rng)
    after = mean.copy()
    after[BLOCK] = 1.0  # a new structure: about 0 dB
    after[20:32, 100:112] = after[20:32, 100:112] / 10  # something bright gone: 10 dB darker
    after[:, :40] *= 10 ** (3 / 10)  # wind: the water 3 dB brighter
    result = detect_changes(ChangeImage(_speckled(mean, rng), GRID, "sar"), ChangeImage(_speckled(after, rng), GRID, "sar"))
    gone = box(X0 + 100 * PIXEL, Y0 - 32 * PIXEL, X0 + 112 * PIXEL, Y0 - 20 * PIXEL)
    shore = box(X0 + 37 * PIXEL, Y0 - H * PIXEL, X0 + 43 * PIXEL, Y0)  # a despeckling window's reach of the coast
    appeared = [r for r in result.regions if r.polygon.intersects(_block_box())]
    disappeared = [r for r in result.regions if r.polygon.intersects(gone)]
    assert [r.direction for r in appeared] == ["appeared"] and appeared[0].magnitude > 5  # dB
    assert [r.direction for r in disappeared] == ["disappeared"]
    # The open water, 3 dB brighter in the wind, is not change; only windows that mix it with the
    # land at the coast may read it so.
    others = [r for r in result.regions if r not in appeared + disappeared]
    assert all(r.polygon.within(shore) for r in others)


def test_grid_mismatch_is_refused_naming_what_differs() -> None:
    other_origin = Grid(GRID.crs, (PIXEL, 0.0, X0 + 30, 0.0, -PIXEL, Y0), W, H)
    other_pixel = Grid(GRID.crs, (3.0, 0.0, X0, 0.0, -3.0, Y0), W, H)
    other_crs = Grid("EPSG:32653", GRID.transform, W, H)
    other_shape = Grid(GRID.crs, GRID.transform, W + 1, H)
    for grid, words in ((other_origin, "origin"), (other_pixel, "pixel size"), (other_crs, "CRS"), (other_shape, "pixels")):
        with pytest.raises(GridMismatchError, match=words):
            check_same_grid(GRID, grid, "dunai/a", "dunai/b")
    data = np.zeros((4, H, W + 1), np.float32)
    with pytest.raises(GridMismatchError, match="dunai/b"):
        detect_changes(_optical(np.zeros((4, H, W), np.float32), label="dunai/a"),
                       ChangeImage(data, other_shape, "optical", ("blue", "green", "red", "nir"), label="dunai/b"))  # fmt: skip


def test_sensors_are_not_mixed() -> None:
    sar = ChangeImage(np.ones((1, H, W), np.float32), GRID, "sar", label="s1")
    opt = _optical(np.ones((4, H, W), np.float32), label="s2")
    with pytest.raises(InputError, match="s1 is sar and s2 is optical"):
        detect_changes(sar, opt)


def test_irmad_weights_single_out_the_changed_pixels() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(5000, 3))
    y = x @ np.array([[1.2, 0.1, 0], [0, 0.9, 0.1], [0, 0, 1.1]]) + 0.05 + rng.normal(0, 0.05, (5000, 3))
    y[:50] += 3.0
    w = irmad_weights(x, y)
    # Ranked by their weight, the changed pixels are the least invariant of all.
    assert w[:50].max() < np.quantile(w[50:], 0.05)


def test_irmad_iterates_on_one_blas_thread_to_the_same_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenBLAS's threads spun between the loop's thin products (three times the CPU): the loop runs on one
    thread, whatever the caller's count, which comes back after it; the weights are those of any count."""
    from threadpoolctl import threadpool_info, threadpool_limits

    import sitewatch.change.irmad as irmad

    def blas_threads() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 3))
    y = 0.9 * x + rng.normal(0, 0.1, x.shape)
    y[:20] += 2.0
    seen: list[set[int]] = []
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() != {2}:
            pytest.skip("BLAS cannot run two threads here (one core)")
        chi2_sf = irmad._chi2_sf

        def watched(dof: int, z: np.ndarray) -> np.ndarray:  # called once an iteration, inside the loop
            seen.append(blas_threads())
            return chi2_sf(dof, z)

        monkeypatch.setattr(irmad, "_chi2_sf", watched)
        w = irmad_weights(x, y)
        assert blas_threads() == {2}
    assert seen and all(s == {1} for s in seen)
    monkeypatch.setattr(irmad, "one_blas_thread", contextlib.nullcontext)
    with threadpool_limits(limits=2, user_api="blas"):
        assert np.array_equal(irmad_weights(x, y), w)



def test_chi2_survival_in_closed_form_matches_scipy() -> None:
    from scipy import special

    from sitewatch.change import _chi2_sf

    z = np.concatenate([np.linspace(0.0, 300.0, 3001), [1e-9, 0.5, 1234.5]])
    for dof in (1, 2, 3, 4, 5, 8, 13):
        expected = special.chdtrc(dof, z)
        got = _chi2_sf(dof, z)
        assert np.allclose(got, expected, rtol=1e-12, atol=1e-300), dof


def test_noise_from_the_unchanged_pixels_finds_more_of_a_scene_that_mostly_changed() -> None:
    """Two thirds of the scene changed: the scene-wide spread takes much of that for noise and misses
    it; read from the pixels IR-MAD finds unchanged it does not."""
    from scipy import ndimage

    from sitewatch.change import ChangeImage, detect_changes

    rng = np.random.default_rng(5)
    shape = (160, 160)
    texture = ndimage.gaussian_filter(rng.normal(size=shape), 3) * 6
    before = np.array([0.06, 0.08, 0.09, 0.25])[:, None, None] * (1 + 0.3 * texture) + rng.normal(0, 0.004, (4, *shape))
    after = before + rng.normal(0, 0.004, (4, *shape))
    changed = np.zeros(shape, bool)
    changed[:, :107] = True
    # Many 8 × 8 patches, each changed in its own way (new roofs, fields, dug ground), over two thirds.
    patches = np.kron(rng.uniform(-0.03, 0.03, (4, 20, 20)), np.ones((1, 8, 8)))
    after[:, changed] += patches[:, changed]
    grid = Grid("EPSG:32652", (10.0, 0.0, 500_000.0, 0.0, -10.0, 4_900_000.0), shape[1], shape[0])
    b, a = ChangeImage(before, grid, "optical", ("blue", "green", "red", "nir")), ChangeImage(after, grid, "optical", ("blue", "green", "red", "nir"))
    found = {rule: detect_changes(b, a, noise=rule).changed for rule in ("scene", "quiet")}  # type: ignore[arg-type]
    recall = {rule: float((m & changed).sum() / changed.sum()) for rule, m in found.items()}
    assert recall["quiet"] > recall["scene"] + 0.2, recall


def test_regions_are_valid_polygons_when_their_pixels_touch_only_at_corners() -> None:
    """Pixels joined diagonally (8-connected) made rings that touch themselves at a corner: shapely,
    QGIS's "Check validity" and its processing tools (which stop at an invalid feature) called them invalid,
    as were regions of the demo's own ``exports/changes.geojson``. The region keeps its pixels and area."""
    from sitewatch.change import _regions

    mask = np.zeros((12, 12), bool)
    mask[2, 3:5] = mask[5, 3:5] = mask[3:5, 2] = mask[3:5, 5] = True  # a ring of pixels joined at its corners
    mask[7:10, 7:10] = True
    mask[8, 8] = mask[7, 7] = False  # a hole meeting the outline at one corner
    regions, _ = _regions(mask, GRID, 0.0, np.ones(mask.shape), "appeared")
    assert len(regions) == 2
    for r in regions:
        assert r.polygon.is_valid and r.polygon_wgs84.is_valid
        assert r.polygon.area == pytest.approx(r.pixels * PIXEL**2)
