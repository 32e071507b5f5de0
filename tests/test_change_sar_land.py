"""SAR change on heterogeneous land: bright built-up blocks and point scatterers under speckle drawn anew
each date are not change, and structures that appear on that land are still found."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from shapely.geometry import box

from sitewatch.change import ChangeImage, detect_changes, sar_log_ratio
from sitewatch.model import Grid

N = 200
PIXEL = 10.0
X0, Y0 = 500_000.0, 4_700_000.0
GRID = Grid("EPSG:32652", (PIXEL, 0.0, X0, 0.0, -PIXEL, Y0), N, N)
BLOCK = (slice(80, 130), slice(90, 150))  # a built-up block of 500 × 600 m
LOOKS = 4.6
FALSE_ALARMS_PER_KM2 = 0.01
"""The stated rate: regions per km² of land per speckle-only pair (the module docstring of sitewatch.change)."""


def _land(rng: np.random.Generator) -> np.ndarray:
    """Mean sigma0 (linear): textured vegetation, built-up blocks with fine texture, point scatterers on them."""

    def texture(scale: float) -> np.ndarray:
        t = ndimage.gaussian_filter(rng.normal(size=(N, N)), scale)
        return t / t.std()

    built = np.zeros((N, N), bool)
    built[BLOCK] = True
    for r, c in rng.integers(10, N - 40, (12, 2)):
        built[r : r + 25, c : c + 20] = True
    db = np.where(built, -5.0 + 2.0 * texture(1.5), -9.0 + 1.5 * texture(6.0))
    mean = 10 ** (db / 10)
    cand = np.flatnonzero(built.ravel())
    pick = rng.choice(cand, size=60, replace=False)
    mean.flat[pick] = 10 ** (rng.uniform(5.0, 20.0, pick.size) / 10)
    return mean


def _speckled(mean: np.ndarray, rng: np.random.Generator) -> ChangeImage:
    return ChangeImage((mean * rng.gamma(LOOKS, 1 / LOOKS, mean.shape))[None].astype(np.float32), GRID, "sar")


def test_speckle_on_built_up_land_and_scatterers_stays_within_the_stated_false_alarm_rate() -> None:
    rng = np.random.default_rng(3)
    mean = _land(rng)
    pairs = 5
    found = sum(len(detect_changes(_speckled(mean, rng), _speckled(mean, rng)).regions) for _ in range(pairs))
    km2 = N * N * PIXEL**2 / 1e6
    assert found <= FALSE_ALARMS_PER_KM2 * km2 * pairs  # 0.2: none at all


def test_a_window_around_a_bright_scatterer_has_far_fewer_looks_than_the_scene() -> None:
    rng = np.random.default_rng(4)
    mean = np.full((N, N), 10 ** (-9 / 10))
    mean[50, 50] = 10.0  # +10 dB: 80 times its neighbours
    b, a = _speckled(mean, rng), _speckled(mean, rng)
    _, _, looks = sar_log_ratio(b.data[0], a.data[0], np.ones((N, N), bool))
    scene = float(np.median(looks))
    assert 90 < scene < 130  # about 25 × 4.6
    # (Σ μ)² / (n Σ μ²) = (24 + 80)² / (25 × (24 + 80²)) = 0.067 of the scene's looks in that window: about 8.
    assert looks[50, 50] < 0.2 * scene
    assert looks[150, 150] > 0.7 * scene


def _found_where_drawn(rows: slice, cols: slice, level_db: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mean = _land(rng)
    after = mean.copy()
    after[rows, cols] = 10 ** (level_db / 10)
    result = detect_changes(_speckled(mean, rng), _speckled(after, rng))
    drawn = box(X0 + cols.start * PIXEL, Y0 - rows.stop * PIXEL, X0 + cols.stop * PIXEL, Y0 - rows.start * PIXEL)
    hits = [r for r in result.regions if r.polygon.intersects(drawn)]
    assert len(hits) == 1 and hits[0].direction == "appeared"
    assert hits[0].polygon.centroid.distance(drawn.centroid) < 30.0
    assert len(result.regions) == 1


def test_a_structure_of_60_by_30_m_set_down_on_built_up_land_is_found() -> None:
    _found_where_drawn(slice(100, 103), slice(110, 116), 5.0, seed=5)  # 3 × 6 pixels of 10 m at +5 dB


def test_a_structure_of_20_by_20_m_set_down_on_built_up_land_is_found() -> None:
    _found_where_drawn(slice(100, 102), slice(120, 122), 10.0, seed=6)  # 2 × 2 pixels of 10 m at +10 dB
