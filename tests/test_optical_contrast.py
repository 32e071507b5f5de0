"""The open-water contrast stage of the image-only optical detector (3 m pixels)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sitewatch.detect.base import PixelDetection
from sitewatch.detect.optical import detect_optical
from sitewatch.detect.optical_contrast import open_water_vessels
from sitewatch.detect.optical_features import _band_set
from sitewatch.detect.optical_params import OpticalParams
from sitewatch.detect.optical_water import raw_water

WATER = (0.05, 0.08, 0.07)  # red, green, blue: a green bay as in PlanetScope scenes
SHIP = (400, 600)  # row, col of the hull's centre


def _bay(seed: int = 0, noise: float = 0.004) -> tuple[dict[str, NDArray[np.float32]], dict[str, tuple[int, int]]]:
    """A 3 m RGB scene: textured land on the left, a grey-green hull with a white bridge on open water,
    and a long thin wake, all drawn here (simulated)."""
    rng = np.random.default_rng(seed)
    n = 900
    rgb = np.empty((3, n, n), np.float32)
    for b, v in enumerate(WATER):
        rgb[b] = v + rng.normal(0, noise, (n, n))
    land = np.zeros((n, n), bool)
    land[:, :250] = True
    rgb[:, land] = rng.uniform(0.15, 0.35, (3, int(land.sum())))
    rgb[:, 100:130, 60:120] = 0.6  # a roof
    rr, cc = np.mgrid[:n, :n]
    # Hull: 180 m x 30 m (60 x 10 px), turned 30 degrees; modest contrast but for its bridge.
    t = np.deg2rad(30.0)
    u = (cc - SHIP[1]) * np.cos(t) + (rr - SHIP[0]) * np.sin(t)
    v = -(cc - SHIP[1]) * np.sin(t) + (rr - SHIP[0]) * np.cos(t)
    hull = (np.abs(u) <= 30) & (np.abs(v) <= 5)
    rgb[:, hull] = np.array([0.12, 0.14, 0.12], np.float32)[:, None]
    bridge = hull & (u > 20)
    rgb[:, bridge] = 0.5
    # A wake 600 m long and 6 m wide, as bright as white water, far from the hull.
    wake = (np.abs(cc - 800) <= 1) & (rr >= 550) & (rr < 750)
    rgb[:, wake] += 0.15
    bands = {"red": rgb[0], "green": rgb[1], "blue": rgb[2]}
    return bands, {"wake": (650, 800), "roof": (115, 90)}


def _stage(bands: dict[str, NDArray[np.float32]], params: OpticalParams | None = None) -> list:
    b = _band_set(bands)
    n = b["green"].shape
    none = np.zeros(n, bool)
    return open_water_vessels(b, raw_water(b), none, none, (3.0, 3.0), params or OpticalParams(), [])


def test_a_hull_on_open_water_is_found_and_measured_and_the_wake_and_land_are_not() -> None:
    bands, where = _bay()
    found = _stage(bands)
    assert len(found) == 1, [(d.row, d.col, d.length_m, d.width_m) for d in found]
    (d,) = found
    assert abs(d.row - SHIP[0]) < 6 and abs(d.col - SHIP[1]) < 6, (d.row, d.col)
    assert 150 <= d.length_m <= 215 and 20 <= d.width_m <= 45, (d.length_m, d.width_m)
    assert abs((d.heading_deg % 180) - 60) < 10 or abs((d.heading_deg % 180) - 120) < 10, d.heading_deg
    assert d.kind == "vessel" and 0.85 <= d.score < 1.0


def test_the_detector_at_3m_reports_the_hull_and_at_10m_does_not_run_the_stage() -> None:
    bands, where = _bay()
    at3 = [d for d in detect_optical(bands, 3.0) if d.kind == "vessel"]
    assert any(abs(d.row - SHIP[0]) < 8 and abs(d.col - SHIP[1]) < 8 for d in at3), [(d.row, d.col) for d in at3]
    wr, wc = where["wake"]
    assert not any(abs(d.row - wr) < 100 and abs(d.col - wc) < 8 and d.score > 0.95 for d in at3)
    off = OpticalParams(contrast_max_pixel_m=0.0)
    base = [d for d in detect_optical(bands, 3.0, params=off) if d.kind == "vessel"]
    # What the learned stages find off open water (here: by the land) stays as it was.
    assert {(round(d.row), round(d.col)) for d in base if d.col < 300} <= {(round(d.row), round(d.col)) for d in at3}


def test_flat_8_bit_water_has_a_spread_and_no_division_by_zero() -> None:
    # Calm water in an 8-bit JPEG: every pixel the same value, so the median absolute deviation is 0.
    bands, _ = _bay(noise=0.0)
    for a in bands.values():
        a[:, 250:] = np.round(a[:, 250:] * 255) / 255
    with np.errstate(all="raise"):
        found = _stage(bands)
    assert any(abs(d.row - SHIP[0]) < 6 and abs(d.col - SHIP[1]) < 6 for d in found)
    assert all(np.isfinite([d.length_m, d.width_m, d.score]).all() for d in found)


def test_a_hull_under_the_cloud_margin_is_not_reported() -> None:
    bands, _ = _bay()
    b = _band_set(bands)
    hidden = np.zeros(b["green"].shape, bool)
    hidden[SHIP[0] - 60 : SHIP[0] - 40, SHIP[1] - 10 : SHIP[1] + 10] = True  # cloud 120-180 m north
    assert open_water_vessels(b, raw_water(b), hidden, np.zeros_like(hidden), (3.0, 3.0), OpticalParams(), []) == []


def test_a_breakwater_across_a_small_chip_is_not_a_vessel_but_a_hull_inside_it_is() -> None:
    # ShipsNet-sized chips (80 px at 3 m): a bright wall 24 m wide crosses from edge to edge.
    rng = np.random.default_rng(3)
    rgb = np.stack([v + rng.normal(0, 0.004, (80, 80)) for v in WATER]).astype(np.float32)
    wall = rgb.copy()
    wall[:, 20:28, :] = 0.45
    hull = rgb.copy()
    hull[:, 36:44, 15:65] = 0.45  # 150 m x 24 m, whole inside the chip
    for scene, expected in ((wall, 0), (hull, 1)):
        found = _stage({"red": scene[0], "green": scene[1], "blue": scene[2]})
        assert len(found) == expected, [(d.row, d.col, d.length_m, d.width_m) for d in found]


def _box(row: float, col: float, half_len: float = 12, half_wid: float = 4) -> PixelDetection:
    corners = ((col - half_wid, row - half_len), (col + half_wid, row - half_len), (col + half_wid, row + half_len), (col - half_wid, row + half_len))
    return PixelDetection(row=row, col=col, length_m=6 * half_len, width_m=6 * half_wid, heading_deg=0.0, score=0.9, corners=corners)


def test_a_learned_detection_on_open_water_stands_only_where_something_stands_out() -> None:
    bands, where = _bay()
    b = _band_set(bands)
    none = np.zeros(b["green"].shape, bool)
    on_wake = _box(*where["wake"])  # a wake piece the learned stages took for a hull
    on_water = _box(150, 700)  # nothing there
    on_hull = _box(*SHIP)
    at_quay = _box(500, 252)  # against the land's edge: its ring is not open water
    out = open_water_vessels(b, raw_water(b), none, none, (3.0, 3.0), OpticalParams(), [on_wake, on_water, on_hull, at_quay])
    assert on_hull in out and at_quay in out
    assert on_wake not in out and on_water not in out
    # The contrast object of the hull is not added again beside the learned one holding it.
    assert len(out) == 2, out
