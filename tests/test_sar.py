"""The SAR detector on small synthetic scenes: open sea, a pier, chips, tiles, input scales."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sitewatch.detect.sar import (
    SarParams,
    candidate_probability,
    candidate_vector,
    detect_sar,
    level_factor,
    raw_length,
    size_from_features,
    to_intensity,
)
from sitewatch.detect.tiling import detect_sar_tiled, plan_tiles
from sitewatch.detect.water import land_from_sar, widen_water
from sitewatch.errors import InputError

PX = 10.0
SEA = 0.02  # sigma0, linear


def ship_fraction(shape: tuple[int, int], row: float, col: float, length_m: float, width_m: float, heading: float, ss: int = 4) -> np.ndarray:
    """Fraction of each pixel covered by an oriented rectangle (heading clockwise from up)."""
    h, w = shape
    rr, cc = np.mgrid[0:h * ss, 0:w * ss]
    rr = (rr + 0.5) / ss - 0.5
    cc = (cc + 0.5) / ss - 0.5
    t = math.radians(heading)
    dx, dy = (cc - col) * PX, -(rr - row) * PX
    along = dx * math.sin(t) + dy * math.cos(t)
    across = dx * math.cos(t) - dy * math.sin(t)
    inside = (np.abs(along) <= length_m / 2) & (np.abs(across) <= width_m / 2)
    return inside.reshape(h, ss, w, ss).mean(axis=(1, 3))


def speckle(rng: np.random.Generator, mean: np.ndarray | float, shape: tuple[int, int], enl: float = 4.5) -> np.ndarray:
    return np.asarray(mean * rng.gamma(enl, 1.0 / enl, shape))


def sea_with_ships(rng: np.random.Generator, shape: tuple[int, int], ships: list[tuple[float, float, float, float, float]]) -> np.ndarray:
    mean = np.full(shape, SEA)
    for r, c, length, width, heading in ships:
        mean = mean + ship_fraction(shape, r, c, length, width, heading) * SEA * 10 ** 2.0  # 20 dB hulls
    return speckle(rng, mean, shape).astype(np.float32)


def match(dets, ships, tol_px: float = 3.0):
    """Pairs (detection, ship) within tol_px of each other, one to one."""
    used: set[int] = set()
    pairs = []
    for s in ships:
        best = min(
            (i for i in range(len(dets)) if i not in used),
            key=lambda i: math.hypot(dets[i].row - s[0], dets[i].col - s[1]),
            default=None,
        )
        if best is not None and math.hypot(dets[best].row - s[0], dets[best].col - s[1]) <= tol_px:
            used.add(best)
            pairs.append((dets[best], s))
    return pairs


SHIPS = [
    (40.0, 40.0, 113.0, 15.6, 30.0),
    (40.0, 120.0, 80.0, 13.0, 90.0),
    (110.0, 50.0, 95.0, 14.0, 0.0),
    (120.0, 140.0, 105.0, 16.0, 135.0),
    (170.0, 90.0, 88.0, 12.0, 60.0),
]


def test_open_sea_ships_found_and_measured() -> None:
    rng = np.random.default_rng(3)
    img = sea_with_ships(rng, (200, 200), SHIPS)
    dets = detect_sar(img, PX)
    pairs = match(dets, SHIPS)
    assert len(pairs) == len(SHIPS)
    assert len(dets) == len(SHIPS)  # no false alarms in the speckle
    mae = np.mean([abs(d.length_m - s[2]) for d, s in pairs])
    assert mae <= 15.0
    for d, s in pairs:
        diff = abs((d.heading_deg - s[4] + 90) % 180 - 90)
        assert diff <= 12.0
        assert 0.5 <= d.score <= 1.0
        assert len(d.corners) == 4
        (c0, r0), (c1, r1), (c2, r2) = d.corners[:3]
        assert math.hypot(c1 - c0, r1 - r0) * PX == pytest.approx(d.length_m, rel=1e-6)
        assert math.hypot(c2 - c1, r2 - r1) * PX == pytest.approx(d.width_m, rel=1e-6)


def pier_scene(rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float, float, float, float]]:
    """Left half land (bright clutter, cranes as point scatterers, a bright straight quay wall), ship alongside."""
    h, w = 240, 240
    quay = 120  # first water column
    mean = np.full((h, w), SEA)
    mean[:, :quay] = SEA * 10 ** 1.0  # land 10 dB above the water
    pts = rng.integers(0, quay - 1, size=(150, 2))
    pts[:, 0] = rng.integers(0, h, 150)
    mean[pts[:, 0], pts[:, 1]] = SEA * 10 ** 3.0  # cranes, sheds: 30 dB points
    mean[:, quay - 1] = SEA * 10 ** 2.5  # quay wall double bounce, 25 dB
    ship = (120.0, quay + 0.78, 113.0, 15.6, 0.0)  # 15.6 m beam alongside, hull starting at the quay line
    mean = mean + ship_fraction((h, w), ship[0], ship[1], ship[2], ship[3], ship[4]) * SEA * 10 ** 2.0
    return speckle(rng, mean, (h, w)).astype(np.float32), ship


def test_pier_side_ship_kept_quay_and_cranes_not_reported() -> None:
    rng = np.random.default_rng(11)
    img, ship = pier_scene(rng)
    dets = detect_sar(img, PX)
    assert len(dets) == 1, [(round(d.row), round(d.col), round(d.length_m)) for d in dets]
    d = dets[0]
    assert abs(d.row - ship[0]) <= 2 and abs(d.col - ship[1]) <= 2
    assert abs(d.length_m - ship[2]) <= 15.0
    assert abs((d.heading_deg + 90) % 180 - 90) <= 10.0


def test_derived_land_holds_land_half_and_frees_the_berth() -> None:
    img, _ = pier_scene(np.random.default_rng(11))
    land = land_from_sar(to_intensity(img), PX)
    assert land[:, :110].mean() > 0.95
    assert not land[100:140, 121:].any()
    assert not land[:, 130:].any()
    # The options reach the classification: no land is this far above the water; without the
    # berth growth (water taken back from land) there is more land.
    assert not land_from_sar(to_intensity(img), PX, min_contrast_db=60.0).any()
    no_berth = land_from_sar(to_intensity(img), PX, berth_m=0.0)
    assert (no_berth >= land).all() and no_berth.sum() > land.sum()


def test_pier_with_given_water_polygon_mask() -> None:
    rng = np.random.default_rng(12)
    img, ship = pier_scene(rng)
    water = np.zeros(img.shape, bool)
    water[:, 123:] = True  # a polygon drawn a little off the quay
    dets = detect_sar(img, PX, water=water)
    assert len(dets) == 1
    assert abs(dets[0].length_m - ship[2]) <= 15.0


def test_single_chip_one_ship_no_land() -> None:
    rng = np.random.default_rng(5)
    ship = (26.0, 26.0, 140.0, 20.0, 70.0)
    img = sea_with_ships(rng, (53, 53), [ship])
    dets = detect_sar(img, PX)
    assert len(dets) == 1
    assert abs(dets[0].row - 26) < 1.5 and abs(dets[0].col - 26) < 1.5
    assert abs(dets[0].length_m - 140) <= 20


def test_float_digital_numbers_are_read_as_amplitude() -> None:
    rng = np.random.default_rng(8)
    img = sea_with_ships(rng, (120, 120), SHIPS[:2])
    ref = detect_sar(img, PX)
    # An uncalibrated GRD export: 16-bit amplitude DN (sea about 40) stored in a float file.
    dn = np.round(np.sqrt(img / SEA) * 40.0).astype(np.float32)
    assert dn.max() <= 65535
    assert np.allclose(to_intensity(dn), dn.astype(np.float64) ** 2)
    got = detect_sar(dn, PX)
    assert len(got) == len(ref) == 2
    for a, b in zip(got, ref, strict=True):
        assert abs(a.row - b.row) < 1 and abs(a.col - b.col) < 1 and abs(a.length_m - b.length_m) < 15
    # DN intensity (amplitude squared: all perfect squares) and calibrated sigma0 stay intensity.
    assert np.array_equal(to_intensity(dn * dn), dn * dn)
    assert np.array_equal(to_intensity(img), img)
    # Whole numbers past the 16-bit range cannot be GRD amplitude DN.
    big = np.array([[70000.0, 3.0], [5.0, 7.0]], np.float32)
    assert np.array_equal(to_intensity(big), big)


def test_input_scales_agree() -> None:
    rng = np.random.default_rng(7)
    img = sea_with_ships(rng, (120, 120), SHIPS[:2])
    ref = detect_sar(img, PX)
    as_db = detect_sar(10 * np.log10(img), PX)
    as_amp = detect_sar(np.sqrt(img), PX, params=SarParams(input_scale="amplitude"))
    assert len(ref) == 2
    for other in (as_db, as_amp):
        assert [(round(d.row, 3), round(d.col, 3)) for d in other] == [(round(d.row, 3), round(d.col, 3)) for d in ref]
    u8 = np.clip(np.sqrt(img) / np.sqrt(img).max() * 255, 0, 255).astype(np.uint8)
    # 8-bit amplitude rendering through the metric CFAR (the rendering detector switched off)
    assert len(detect_sar(u8, PX, params=SarParams(classify_8bit=False, render_8bit=False))) == 2
    # The CFAR's candidate model keeps the whole ship; the one cut by the edge may go.
    kept = detect_sar(u8, PX, params=SarParams(render_8bit=False))
    assert any(abs(d.row - SHIPS[0][0]) < 2 and abs(d.col - SHIPS[0][1]) < 2 for d in kept)


def test_candidate_model_loads_and_scores() -> None:
    ft = {"pixel_m": 5.0, "length_ext_m": 120.0, "width_ext_m": 30.0, "length_int_m": 100.0, "width_int_m": 20.0,
          "area_m2": 2000.0, "peak_db": 25.0, "mean_db": 18.0}
    big = candidate_probability(np.array([candidate_vector(ft)]))
    speck = candidate_probability(np.array([candidate_vector(ft | {"length_ext_m": 15.0, "width_ext_m": 10.0,
                                                                   "length_int_m": 10.0, "width_int_m": 5.0, "area_m2": 100.0})]))
    assert 0.0 <= speck[0] < big[0] <= 1.0
    assert big[0] >= 0.5 > speck[0]


def test_a_packaged_model_trained_on_other_features_is_refused() -> None:
    """The candidate and rendering models are read by one function, which names the benchmark that trains them."""
    from sitewatch.detect.sar_candidates import CANDIDATE_FEATURES, MODEL_FILE, read_packaged_model
    from sitewatch.detect.sar_render import RENDER_FEATURES, RENDER_MODEL_FILE, _render_model

    assert tuple(read_packaged_model(MODEL_FILE, CANDIDATE_FEATURES, "x")["features"]) == CANDIDATE_FEATURES
    assert tuple(_render_model()["features"]) == RENDER_FEATURES
    with pytest.raises(InputError, match=r"^sar_candidate_lr\.json was trained on other features; rerun benchmarks/sar_train\.py$"):
        read_packaged_model(MODEL_FILE, CANDIDATE_FEATURES[:-1], "benchmarks/sar_train.py")
    with pytest.raises(InputError, match=f"^{RENDER_MODEL_FILE} was trained on other features"):
        read_packaged_model(RENDER_MODEL_FILE, CANDIDATE_FEATURES, "benchmarks/sar_render_train.py")


def test_nodata_is_ignored() -> None:
    rng = np.random.default_rng(8)
    img = sea_with_ships(rng, (120, 120), SHIPS[:2])
    valid = np.ones(img.shape, bool)
    valid[:, 80:] = False  # the second ship (col 120) is outside anyway; cut the image's right third
    img[:, 80:] = 0.0
    dets = detect_sar(img, PX, valid=valid)
    assert len(dets) == 1 and dets[0].col < 80
    assert detect_sar(np.zeros((50, 50), np.float32), PX) == []
    with pytest.raises(InputError):
        detect_sar(np.zeros((4, 4, 3)), PX)
    with pytest.raises(InputError):
        detect_sar(img, -1.0)


def test_widen_water_keeps_berth() -> None:
    water = np.zeros((20, 20), bool)
    water[:, 10:] = True
    wide = widen_water(water, 10.0, 30.0)
    assert wide[:, 7:].all() and not wide[:, :6].any()


def test_tiles_partition_and_stitch_without_duplicates() -> None:
    tiles = plan_tiles(100, 70, 32, 8, align=4)
    owned = np.zeros((100, 70), int)
    for t in tiles:
        r0, r1, c0, c1 = t.core
        owned[r0:r1, c0:c1] += 1
        assert t.window[0] % 4 == 0 and t.window[2] % 4 == 0
    assert (owned == 1).all()

    rng = np.random.default_rng(9)
    ships = [(64.0, 64.0, 113.0, 15.6, 90.0), (30.0, 100.0, 90.0, 14.0, 0.0), (100.0, 30.0, 100.0, 15.0, 45.0)]
    img = sea_with_ships(rng, (160, 160), ships)  # first ship straddles the tile corner at (64, 64)
    whole = detect_sar(img, PX)

    def read(win: tuple[int, int, int, int]):
        r0, r1, c0, c1 = win
        return img[r0:r1, c0:c1], None

    tiled = detect_sar_tiled(read, img.shape, PX, tile=64)
    assert len(tiled) == len(whole) == 3
    for a in whole:
        near = [b for b in tiled if math.hypot(a.row - b.row, a.col - b.col) < 1.0]
        assert len(near) == 1
        assert abs(near[0].length_m - a.length_m) < 10.0


def test_tiles_take_the_water_mask_window_by_window() -> None:
    # A ship on water masked as land (west half) is no vessel, in one pass and in tiles alike:
    # the tiler hands each tile its window of the caller's mask.
    rng = np.random.default_rng(9)
    ships = [(64.0, 64.0, 113.0, 15.6, 90.0), (30.0, 100.0, 90.0, 14.0, 0.0), (100.0, 30.0, 100.0, 15.0, 45.0)]
    img = sea_with_ships(rng, (160, 160), ships)
    water = np.ones(img.shape, bool)
    water[:, :50] = False
    p = SarParams(refine_water=False, berth_margin_m=0.0)
    whole = detect_sar(img, PX, water=water, params=p)
    asked: list[tuple[int, int, int, int]] = []

    def water_of(win: tuple[int, int, int, int]) -> np.ndarray:
        asked.append(win)
        return water[win[0] : win[1], win[2] : win[3]]

    tiled = detect_sar_tiled(lambda w: (img[w[0] : w[1], w[2] : w[3]], None), img.shape, PX, tile=64, params=p, water=water_of)
    assert len(asked) == 9 and len(whole) == 2 and all(d.col > 50 for d in whole)
    assert sorted((round(d.row, 3), round(d.col, 3)) for d in tiled) == sorted((round(d.row, 3), round(d.col, 3)) for d in whole)


def test_level_factor_leaves_whole_components_alone() -> None:
    f = level_factor(np.array([0.0, 1.0, 2.0, 7.0]), (1.0, 1.05, 1.3))
    assert f.tolist() == [1.0, 1.05, 1.3, 1.3]
    shipped = level_factor(np.array([0.0, 1.0, 3.0]))
    # 1.7.0: pieces mix in the dB-weighted spread (longer), so seed-level pieces need about 0.98.
    assert shipped[0] == 1.0 and 0.9 <= shipped[1] <= shipped[2] < 2.0


def test_size_from_features_takes_factors_for_held_out_fits() -> None:
    feats = {
        "length_int_m": np.array([100.0, 100.0]),
        "length_ext_m": np.array([120.0, 120.0]),
        "width_int_m": np.array([20.0, 20.0]),
        "level": np.array([0.0, 1.0]),
    }
    length, width = size_from_features(feats, 10.0, factors=(1.0, 1.5))
    assert length.tolist() == [100.0, 150.0]
    assert width.tolist() == [20.0, 20.0]
    assert size_from_features(feats, 10.0)[0][0] == 100.0


def test_raw_length_mixes_the_db_weighted_spread_into_pieces_only() -> None:
    feats = {
        "length_int_m": np.array([50.0, 50.0, 50.0]),
        "length_db_m": np.array([200.0, 200.0, 400.0]),
        "length_ext_m": np.array([300.0, 300.0, 200.0]),
        "level": np.array([0.0, 1.0, 2.0]),
    }
    # Whole component: the intensity-weighted spread; pieces: sqrt(spread × dB spread), each at
    # most the extent.
    assert raw_length(feats, 10.0).tolist() == [50.0, 100.0, 100.0]
    assert raw_length({k: v for k, v in feats.items() if k != "length_db_m"}, 10.0).tolist() == [50.0, 50.0, 50.0]


def _in_line(rng: np.random.Generator, gap_m: float, heading: float) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Two 100 m hulls end to end, ``gap_m`` of water between them, in a 140 × 140 sea."""
    t = math.radians(heading)
    off = (100.0 + gap_m) / 2 / PX
    centres = [(70.0 - s * off * math.cos(t), 70.0 + s * off * math.sin(t)) for s in (-1, 1)]
    return sea_with_ships(rng, (140, 140), [(r, c, 100.0, 16.0, heading) for r, c in centres]), centres


@pytest.mark.parametrize(("gap_m", "heading"), [(10.0, 0.0), (20.0, 90.0), (20.0, 60.0)])
def test_ships_end_to_end_are_cut_at_the_water_between_them(gap_m: float, heading: float) -> None:
    """Moored in line a pixel or two apart, two hulls merge into one component; the strip
    across them falls to the sea between them and they come out as two vessels of their length."""
    img, centres = _in_line(np.random.default_rng(11), gap_m, heading)
    merged = detect_sar(img, PX, params=SarParams(split_water=False))
    assert len(merged) == 1 and merged[0].length_m > 180.0  # what the split repairs
    dets = detect_sar(img, PX)
    assert len(dets) == 2
    assert len(match(dets, [(r, c) for r, c in centres], tol_px=2.0)) == 2
    for d in dets:
        assert abs(d.length_m - 100.0) <= 15.0


def _thin_hull_resampled(turn: float, shift: tuple[float, float], seed: int, n: int = 100) -> np.ndarray:
    """An 80 × 14 m hull heading 135° drawn in a 10 m grid turned ``turn`` degrees (shifted by a fraction of a
    pixel), put on a north-up 10 m grid by nearest neighbour as ingest puts SAR on a site's grid."""
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.warp import Resampling, reproject

    rng = np.random.default_rng(seed)
    crs = CRS.from_epsg(32633)
    x0, y0 = 500000.0, 7000000.0
    cx, cy = x0 + n * PX / 2, y0 - n * PX / 2
    m = n * 3 // 2
    src_t = (
        Affine.translation(cx, cy)
        @ Affine.rotation(-turn)
        @ Affine.translation((shift[0] - m / 2) * PX, (m / 2 + shift[1]) * PX)
        @ Affine.scale(PX, -PX)
    )
    src = speckle(rng, SEA, (m, m)).astype(np.float32)
    cc, rr = np.meshgrid(np.arange(m) + 0.5, np.arange(m) + 0.5)
    x, y = src_t.a * cc + src_t.b * rr + src_t.c, src_t.d * cc + src_t.e * rr + src_t.f  # pixel centres in metres
    a = math.radians(135.0)
    along, across = (x - cx) * math.sin(a) + (y - cy) * math.cos(a), (x - cx) * math.cos(a) - (y - cy) * math.sin(a)
    hull = (np.abs(along) <= 40.0) & (np.abs(across) <= 7.0)
    src[hull] = speckle(rng, SEA * 100.0, (int(hull.sum()),)).astype(np.float32)
    dst = np.zeros((n, n), np.float32)
    reproject(src, dst, src_transform=src_t, src_crs=crs, dst_transform=Affine(PX, 0.0, x0, 0.0, -PX, y0), dst_crs=crs,
              resampling=Resampling.nearest)  # fmt: skip
    return dst


@pytest.mark.parametrize("turn", [0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0])
def test_thin_hull_from_a_turned_grid_stays_one_vessel(turn: float) -> None:
    """A hull 1.4 pixels wide, resampled from a grid turned against the site's (a polar stereographic file put on
    UTM), is a staircase whose pixels touch at their corners: no water lies between them, so it is not cut
    (sar-cfar 1.13.0 cut it in two at 30° and 60°: 24-31 m + 36-58 m pieces)."""
    for i, shift in enumerate([(a / 3, b / 3) for a in range(3) for b in range(3)]):
        img = _thin_hull_resampled(turn, shift, i)
        dets = [d for d in detect_sar(img, PX) if math.hypot(d.row - 50.0, d.col - 50.0) < 8.0]
        assert [round(d.length_m) for d in dets] == [pytest.approx(80.0, abs=20.0)], (turn, shift)
        assert abs((dets[0].heading_deg - 135.0 + 90.0) % 180.0 - 90.0) <= 10.0, (turn, shift)


@pytest.mark.parametrize("middle_db", [6.0, 10.0])
def test_hull_with_a_dim_middle_stays_one_vessel(middle_db: float) -> None:
    """A tanker is bright at bow and stern and dim amidships; its deck is still over the sea,
    so it is one vessel of its whole length."""
    rng = np.random.default_rng(5)
    shape = (140, 80)
    hull = ship_fraction(shape, 70.0, 40.0, 240.0, 30.0, 0.0)
    middle = ship_fraction(shape, 70.0, 40.0, 140.0, 30.0, 0.0)
    mean = SEA + (hull - middle) * SEA * 100.0 + middle * SEA * 10 ** (middle_db / 10.0)
    dets = detect_sar(speckle(rng, mean, shape).astype(np.float32), PX)
    assert len(dets) == 1
    assert abs(dets[0].length_m - 240.0) <= 25.0


def test_width_deconvolution_takes_the_impulse_response_out_in_quadrature() -> None:
    from sitewatch.detect.sar_size import deconvolve_width

    spread = 20.0 * math.sqrt(12.0) / 2.3548  # a 20 m response: 29.4 m of spread
    w = np.array([math.hypot(13.0, spread), math.hypot(13.0, spread), 10.0, 40.0])
    out = deconvolve_width(w, np.array([0.0, 90.0, 0.0, 45.0]), (20.0, 20.0), 5.0)
    assert out[0] == pytest.approx(13.0, abs=0.05) and out[1] == pytest.approx(13.0, abs=0.05)
    assert out[2] == 5.0  # narrower than the response itself: the floor, never below it
    assert out[3] < 40.0
    # Across a hull heading north the response across is the columns' (x); heading east, the rows'.
    a, b = deconvolve_width(np.array([40.0, 40.0]), np.array([0.0, 90.0]), (30.0, 10.0), 5.0)
    assert a < b
    assert (deconvolve_width(np.array([3.0]), np.array([0.0]), (20.0, 20.0), 5.0) == 3.0).all()  # never wider


def test_resolution_setting_is_checked() -> None:
    with pytest.raises(InputError, match="resolution"):
        SarParams(resolution_m=-1.0)
    assert SarParams(resolution_m=0.0).resolution_m == 0.0


@pytest.mark.parametrize("workers", [1, 2])
def test_coarse_pixels_with_derived_land_and_no_berth_cells_do_not_crash(workers: int) -> None:
    """At 80 m a berth is under one cell: none grows back, and the all-cells values are not needed."""
    rng = np.random.default_rng(0)
    sea = (rng.gamma(1.0, 1.0, (200, 200)) * 0.01).astype(np.float32)
    sea[100:103, 95:100] = 3.0
    for pixel in (80.0, 200.0, 1000.0):
        detect_sar(sea, pixel, workers=workers)  # UnboundLocalError ('whole') before


def test_whole_components_keep_their_length_whatever_the_level_factors() -> None:
    assert level_factor(np.array([0.0, 1.0]), (0.5, 1.2)).tolist() == [1.0, 1.2]


def test_size_is_at_least_a_pixel_and_the_width_never_the_longer_side() -> None:
    feats = {
        "length_int_m": np.array([100.0, 4.0]),
        "length_ext_m": np.array([120.0, 10.0]),
        "width_int_m": np.array([130.0, 2.0]),
        "level": np.array([0.0, 0.0]),
    }
    length, width = size_from_features(feats, 10.0)
    assert length.tolist() == [100.0, 10.0] and width.tolist() == [100.0, 10.0]


def test_box_corners_lie_along_the_heading_in_pixels_of_each_axis() -> None:
    from sitewatch.detect.sar_size import _box_corners

    def corners(heading: float, pxy: tuple[float, float] = (10.0, 10.0)) -> np.ndarray:
        one = np.array([1.0])
        return _box_corners(50 * one, 40 * one, heading * one, 100 * one, 20 * one, pxy)[0]

    # Heading north (0°): 100 m along the rows (up the image), 20 m across the columns.
    c = corners(0.0)
    assert np.ptp(c[:, 1]) == pytest.approx(10.0) and np.ptp(c[:, 0]) == pytest.approx(2.0)
    # Heading east (90°) on 10 x 20 m pixels: 10 columns long, one row wide.
    c = corners(90.0, (10.0, 20.0))
    assert np.ptp(c[:, 0]) == pytest.approx(10.0) and np.ptp(c[:, 1]) == pytest.approx(1.0)
    # Heading north-east (45°): the bow end is up (smaller row) and right (larger column).
    c = corners(45.0)
    bow = c[np.argmax(c[:, 0] - c[:, 1])]
    assert bow[0] > 40 and bow[1] < 50
    up_right = c[:, 0] - 40 > 0
    assert (c[up_right, 1] < 50 + 1.0).all()


def test_spread_along_an_axis_is_in_metres_of_that_axis() -> None:
    from sitewatch.detect.sar_size import _axis_variances

    lab = np.zeros((20, 20), np.int32)
    lab[10, 2:12] = 1  # ten pixels in a row: east-west
    lab[2:12, 15] = 2  # ten pixels in a column: north-south
    along, across = _axis_variances(np.ones((20, 20)), lab, np.array([1, 2]), (10.0, 20.0), np.array([90.0, 0.0]))
    # sqrt(12 * variance) of ten pixel centres 10 m apart is ~100 m; 20 m apart, ~200 m.
    assert np.sqrt(12 * along).tolist() == pytest.approx([99.5, 199.0], rel=0.01)
    assert across.tolist() == pytest.approx([0.0, 0.0], abs=1e-9)


def test_shape_tests_refuse_too_short_too_long_and_too_thin() -> None:
    from sitewatch.detect.sar_size import _measure

    lab = np.zeros((80, 80), np.int32)
    lab[5, 5:7] = 1  # two pixels: fewer than min_pixels (3)
    lab[20:23, 10:14] = 2  # 40 x 30 m: a vessel
    lab[40:44, 10:70] = 3  # 600 x 40 m: longer than 500 m (elongation 15 would pass)
    lab[60, 10:40] = 4  # 300 x 10 m: elongation 30 > 16
    _, ok = _measure(lab, 4, (10.0, 10.0), SarParams())
    assert ok.tolist() == [False, True, False, False]
    _, ok = _measure(lab, 4, (10.0, 10.0), SarParams(min_length_m=50.0))
    assert not ok[1]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_patch_at_the_noise_floor_does_not_turn_the_sea_into_land(workers: int) -> None:
    # SNAP's thermal noise removal writes a floor (~1e-8) where the noise exceeded the signal.
    # Such a patch was a dark class of its own below the sea, the sea read as land in every
    # cell, and the detector stopped on an AssertionError with no water to take a background from.
    rng = np.random.default_rng(0)
    img = rng.gamma(4.0, 0.002 / 4.0, size=(48, 48)).astype(np.float32)
    img[30:42, 6:18] = 5e-8
    img[20:23, 20:30] = 0.5  # a 100 m ship
    dets = detect_sar(img, 10.0, workers=workers)
    assert len(dets) == 1
    assert (dets[0].row, dets[0].col) == pytest.approx((21.0, 24.5), abs=0.5)
    assert dets[0].length_m == pytest.approx(100.0, abs=10.0)


@pytest.mark.parametrize("fill", [-0.001, -9999.0])
@pytest.mark.parametrize("where", ["one pixel", "noise", "border"])
def test_a_few_negative_pixels_do_not_make_linear_sigma0_db(fill: float, where: str) -> None:
    # Any negative pixel used to make the whole image dB: one no-data value (-9999) or noise taken
    # out of the sea turned every sigma0 into 10^(x/10) ~ 1 and hid every ship, silently.
    rng = np.random.default_rng(8)
    img = sea_with_ships(rng, (120, 120), SHIPS[:2])
    ref = detect_sar(img, PX)
    bad = np.zeros(img.shape, bool)
    if where == "one pixel":
        bad[5, 5] = True
    elif where == "noise":
        bad[::7, ::5] = True
    else:
        bad[:, 100:] = True
    img[bad] = fill
    got = detect_sar(img, PX)
    assert len(ref) == 2 and len(got) >= 1
    assert all(not bad[round(d.row), round(d.col)] for d in got)
    near = [min(math.hypot(d.row - r.row, d.col - r.col) for d in got) for r in ref if r.col < 95]
    assert near and max(near) < 1.0


def test_a_db_image_with_no_data_and_bright_pixels_stays_db() -> None:
    rng = np.random.default_rng(8)
    img = sea_with_ships(rng, (120, 120), SHIPS[:2])
    ref = detect_sar(img, PX)
    db = 10 * np.log10(img)
    db[:, 110:] = -9999.0  # no-data: 10^-999.9 is 0, an invalid pixel
    db[db > 0] = 3.0  # a dB image holds a few positive values (ship, land) too
    got = detect_sar(db, PX)
    assert [(round(d.row), round(d.col)) for d in got] == [(round(d.row), round(d.col)) for d in ref if d.col < 105]


def test_float_amplitude_with_a_negative_fill_leaves_the_fill_out() -> None:
    # 16-bit amplitude DN in a float file with -9999 no-data: squared, the fill was the brightest
    # pixel of the image; it is invalid instead.
    rng = np.random.default_rng(8)
    img = sea_with_ships(rng, (120, 120), SHIPS[:2])
    dn = np.round(np.sqrt(img / SEA) * 40.0).astype(np.float32)
    ref = detect_sar(dn, PX)
    dn[40:44, 10:12] = -9999.0
    got = detect_sar(dn, PX)
    assert [(round(d.row, 2), round(d.col, 2)) for d in got] == [(round(d.row, 2), round(d.col, 2)) for d in ref]


def test_complex_input_is_taken_as_its_intensity() -> None:
    # A single-look complex array was cast to float (its real part, half of it negative) and read
    # as dB: no detection. Its intensity is |z|².
    rng = np.random.default_rng(8)
    img = sea_with_ships(rng, (120, 120), SHIPS[:2])
    z = (np.sqrt(img) * np.exp(1j * rng.uniform(0, 2 * np.pi, img.shape))).astype(np.complex64)
    assert np.allclose(to_intensity(z), img, rtol=1e-5)
    ref = detect_sar(img, PX)
    got = detect_sar(z, PX)
    assert len(got) == len(ref) == 2
    assert [(round(d.row, 1), round(d.col, 1)) for d in got] == [(round(d.row, 1), round(d.col, 1)) for d in ref]
    with pytest.raises(InputError, match="complex"):
        detect_sar(z, PX, params=SarParams(input_scale="db"))


def test_masks_given_as_nested_lists_are_taken_as_arrays() -> None:
    rng = np.random.default_rng(8)
    img = sea_with_ships(rng, (120, 120), SHIPS[:2])
    ref = detect_sar(img, PX, water=np.ones(img.shape, bool))
    assert detect_sar(img, PX, water=np.ones(img.shape, bool).tolist()) == ref  # type: ignore[arg-type]
    with pytest.raises(InputError, match="water mask shape"):
        detect_sar(img, PX, water=[[True]])  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"valid mask shape \(1, 1\) differs from the image's \(120, 120\)"):
        detect_sar(img, PX, valid=[[True]], water=np.ones(img.shape, bool))  # type: ignore[arg-type]
    assert detect_sar(img, PX, valid=np.ones(img.shape, bool).tolist(), water=np.ones(img.shape, bool)) == ref  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [1e18, float(np.finfo(np.float32).max)])
def test_one_absurdly_bright_pixel_neither_hides_ships_nor_makes_them(value: float) -> None:
    # A float fill (FLT_MAX) or a corrupt value: its square, summed with the sea's, left nothing of
    # the sea's statistics; ships after it in the image were lost, or noise made ships near it.
    rng = np.random.default_rng(0)
    img = speckle(rng, SEA, (600, 600)).astype(np.float32)
    for r, c in [(100, 100), (100, 500), (500, 100), (500, 500), (300, 300)]:
        img[r : r + 3, c : c + 12] = 5.0  # 120 m hulls, 24 dB over the sea
    ref = detect_sar(img, PX)
    assert len(ref) == 5
    for where in [(5, 5), (300, 250)]:
        bad = img.copy()
        bad[where] = value
        got = detect_sar(bad, PX)
        assert [(round(d.row, 2), round(d.col, 2)) for d in got] == [(round(d.row, 2), round(d.col, 2)) for d in ref]


def test_pixel_size_as_a_list_or_array_is_a_pair_and_a_bad_one_is_named() -> None:
    rng = np.random.default_rng(8)
    img = sea_with_ships(rng, (120, 120), SHIPS[:2])
    ref = detect_sar(img, (PX, PX))
    assert detect_sar(img, [PX, PX]) == ref  # type: ignore[arg-type]
    assert detect_sar(img, np.array([PX, PX])) == ref  # type: ignore[arg-type]
    for bad in [(PX,), [PX, PX, PX], "ten", None]:
        with pytest.raises(InputError, match="pixel size"):
            detect_sar(img, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["block_m", "background_m", "k_seed", "land_cell_m"])
def test_a_parameter_that_is_no_number_is_named(field: str) -> None:
    # NaN or an infinite window stopped the detector on a ValueError turning it into pixels.
    for v in (math.nan, math.inf):
        with pytest.raises(InputError, match=field):
            SarParams(**{field: v})  # type: ignore[arg-type]
    assert SarParams(max_length_m=math.inf).max_length_m == math.inf  # no upper limit stays allowed
