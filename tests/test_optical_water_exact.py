"""The fast water filters give the plain ones' results exactly: min/max squares as scipy's
filters, bodies of water as the distance transform of the whole image says."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import ndimage

from sitewatch.detect.optical_water import square_filter, water_bodies


def _plain_water_bodies(
    water: NDArray[np.bool_], pixel_size: tuple[float, float], across_m: float, speck_m: float
) -> NDArray[np.bool_]:
    """``water_bodies`` as 0.5.0 first wrote it: the distance transform of the whole image, two labellings."""
    water = np.asarray(water, bool)
    if across_m <= 0 or not water.any():
        return water
    px, py = pixel_size
    k = max(1, int(round(speck_m / min(px, py))))
    k += 1 - k % 2
    wet = ndimage.uniform_filter(water.astype(np.float32), k, mode="nearest") > 0.5
    labels, n = ndimage.label(wet, structure=np.ones((3, 3), bool))
    depth = ndimage.distance_transform_edt(wet, sampling=(py, px))
    widest = np.zeros(n + 1)
    np.maximum.at(widest, labels.ravel(), depth.ravel())
    keep = widest >= 0.5 * across_m
    keep[0] = False
    body = ndimage.binary_dilation(keep[labels], np.ones((k, k), bool)) if k > 1 else keep[labels]
    lab_w, m = ndimage.label(water, structure=np.ones((3, 3), bool))
    joined = np.zeros(m + 1, bool)
    joined[lab_w[body & water]] = True
    joined[0] = False
    return np.asarray(joined[lab_w])


@st.composite
def _masks(draw: st.DrawFn) -> NDArray[np.bool_]:
    """Blobs of water with specks of noise, or noise alone, up to 90 pixels a side."""
    h, w = draw(st.integers(1, 90)), draw(st.integers(1, 90))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        return rng.random((h, w)) < draw(st.floats(0.0, 1.0))
    smooth = ndimage.uniform_filter(rng.random((h, w)), draw(st.integers(1, 25)))
    mask = smooth > draw(st.floats(0.3, 0.7))
    return np.asarray(mask ^ (rng.random((h, w)) < 0.02))


@settings(max_examples=150, deadline=None)
@given(
    _masks(),
    st.sampled_from([(10.0, 10.0), (8.5, 8.5), (3.0, 3.0), (2.2, 2.2), (1.5, 1.5), (1.0, 2.7), (2.7, 1.0), (0.5, 0.5)]),
    st.sampled_from([0.0, 3.0, 30.0, 100.0, 200.0, 450.0]),
    st.sampled_from([0.0, 5.0, 20.0, 30.0]),
)
def test_water_bodies_are_those_of_the_whole_distance_transform(
    water: NDArray[np.bool_], pixel: tuple[float, float], across: float, speck: float
) -> None:
    assert (water_bodies(water, pixel, across, speck) == _plain_water_bodies(water, pixel, across, speck)).all()


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 70),
    st.integers(1, 70),
    st.integers(1, 40),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["min", "max", "or", "and"]),
)
def test_square_filter_is_scipys(h: int, w: int, size: int, seed: int, op: str) -> None:
    rng = np.random.default_rng(seed)
    if op in ("min", "max"):
        a = rng.normal(size=(h, w)).astype(np.float32)
        got = square_filter(a, size, np.minimum if op == "min" else np.maximum)
        want = (ndimage.minimum_filter if op == "min" else ndimage.maximum_filter)(a, size, mode="nearest")
        assert got.dtype == a.dtype
        np.testing.assert_array_equal(got, want)
    else:
        m = rng.random((h, w)) < rng.random()
        got = square_filter(m, size, np.logical_or if op == "or" else np.logical_and)
        f = ndimage.maximum_filter if op == "or" else ndimage.minimum_filter
        np.testing.assert_array_equal(got, f(m, size, mode="nearest"))
