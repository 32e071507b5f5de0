"""The learned stages' vessels boxed on their hulls at sub-metre pixels (Maxar-class 8-bit RGB, simulated)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sitewatch.detect.base import PixelDetection, measure_components
from sitewatch.detect.optical import OpticalParams, detect_optical, params_for_dn_scale
from sitewatch.testing.harbour import DrawnHull, harbour_rgb

HULL = DrawnHull()  # 70 m x 18 m, 130 m off the quay
RENDERING = params_for_dn_scale(OpticalParams(), 255.0)  # as detect-image reads an 8-bit file


def _at_hull(p: float, params: OpticalParams) -> list[PixelDetection]:
    bands, _ = harbour_rgb(p, HULL)
    found = detect_optical(bands, p, params=params)
    return [d for d in found if abs(d.row * p - HULL.row_m) < 20 and abs(d.col * p - HULL.col_m) < 20]


@pytest.mark.parametrize("p", [0.5, 0.8])
def test_a_hull_at_sub_metre_pixels_is_measured_as_drawn(p: float) -> None:
    found = _at_hull(p, RENDERING)
    assert len(found) == 1, [(d.row, d.col, d.length_m, d.width_m) for d in found]
    (d,) = found
    # Within a tenth of the drawn hull, not with the 15 m of water all round it that the pixel
    # score also holds (94-95 m x 47-48 m before).
    assert abs(d.length_m - HULL.length_m) <= 0.1 * HULL.length_m, d.length_m
    assert abs(d.width_m - HULL.beam_m) <= 0.1 * HULL.beam_m, d.width_m
    assert abs(d.heading_deg - 115) < 5, d.heading_deg
    assert d.kind == "vessel" and not d.truncated


def test_the_simulated_hull_measures_its_size_on_its_own_pixels() -> None:
    # The yardstick: the drawn hull's pixels boxed as the detector boxes a component.
    _, hull = harbour_rgb(0.5, HULL)
    m = measure_components(hull.astype(np.int32), np.array([1]), 0.5)
    assert abs(m["length_m"][0] - HULL.length_m) < 1 and abs(m["width_m"][0] - HULL.beam_m) < 1


def test_the_hull_box_changes_the_box_alone() -> None:
    whole = _at_hull(0.5, replace(RENDERING, hull_max_pixel_m=0.0))
    hull = _at_hull(0.5, RENDERING)
    assert [d.score for d in whole] == [d.score for d in hull]
    (w,), (h,) = whole, hull
    # The candidate's own box: the hull and the water the pixel score spreads over around it.
    assert w.length_m > HULL.length_m + 15 and w.width_m > HULL.beam_m + 15, (w.length_m, w.width_m)
    assert h.length_m < w.length_m and h.width_m < w.width_m
