"""Water from optical bands: NDWI with a scene-adaptive threshold, keeping berths.

A ship moored at a quay is not water in any band ratio: its deck is as dry
as the quay, and from one image nothing tells a hull alongside from the
quay's edge. A plain NDWI mask therefore cuts every berthed ship out of the
area where vessels are looked for. :func:`water_mask` keeps them: holes in
the water no larger than a big ship are filled (ships at anchor), and a
strip ``berth_m`` wide along every shore is added (ships alongside; the quay
edge inside the strip is left to the detector's contrast and shape tests).
Land farther than ``berth_m`` from water stays out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .base import pixel_size_pair

__all__ = [
    "ndwi",
    "water_threshold",
    "nir_ceiling",
    "raw_water",
    "water_bodies",
    "water_mask",
    "dilate",
    "erode",
    "square_filter",
]

_EPS = 1e-6


def ndwi(green: NDArray[np.floating], nir: NDArray[np.floating]) -> NDArray[np.float32]:
    """McFeeters' normalised difference water index, (green - nir) / (green + nir), float32."""
    g = np.asarray(green, dtype=np.float32)
    n = np.asarray(nir, dtype=np.float32)
    return (g - n) / np.maximum(g + n, _EPS)


def _sample(a: NDArray[np.floating], n: int = 1_000_000) -> NDArray[np.floating]:
    """A strided sample of ``a`` (percentiles of a 10^8-pixel scene need not see every pixel)."""
    flat = a.ravel()
    step = max(1, flat.size // n)
    return flat[::step]


def water_threshold(index: NDArray[np.floating], nir: NDArray[np.floating]) -> float:
    """Scene-adaptive NDWI threshold: half-way between water's and land's typical NDWI.

    Haze, turbid harbour water and the radiometric scale of the export all
    move NDWI by tenths, so no fixed threshold holds across ports. Water is
    the darkest surface in the near infrared, land the brightest: the median
    NDWI of the darkest 10 % of NIR pixels stands for water, that of the
    pixels above the NIR's two-class split (:func:`_land_split`) for land,
    and the threshold sits half-way, never below -0.2 nor above 0.35.
    """
    s_idx = _sample(index)
    s_nir = _sample(nir)
    ok = np.isfinite(s_idx) & np.isfinite(s_nir)
    s_idx, s_nir = s_idx[ok], s_nir[ok]
    if s_idx.size == 0:
        return 0.0
    lo = np.percentile(s_nir, 10)
    water = float(np.median(s_idx[s_nir <= lo]))
    above = s_idx[s_nir > _land_split(s_nir)]
    land = float(np.median(above)) if above.size else water  # one flat surface (overcast)
    return float(np.clip(0.5 * (water + land), -0.2, 0.35))


def _land_split(nir: NDArray[np.floating]) -> float:
    """NIR value that splits a scene's pixels into water and land (Otsu's two-class threshold).

    Land used to be "the brightest half" of the pixels; in a scene that is
    mostly sea (Algiers: three quarters) that half is largely water, and
    under haze its NDWI and NIR pulled the water threshold into the sea.
    Otsu's split between the dark and the bright mode does not depend on
    how much of the scene each covers.
    """
    lo, hi = np.percentile(nir, [1, 99])
    if not hi > lo:
        return float(np.median(nir))
    hist, edges = np.histogram(np.clip(nir, lo, hi), 256, (lo, hi))
    centre = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centre)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    return float(centre[np.argmax(w0 * w1 * (m0 - m1) ** 2)])


def nir_ceiling(nir: NDArray[np.floating]) -> float:
    """NIR reflectance above which a pixel is not water whatever its NDWI.

    Dark roofs, asphalt and shadowed ground can have a water-like NDWI in a
    port; they are still brighter in the NIR than the harbour. The ceiling
    sits 30 % of the way from water's typical NIR (darkest 10 % of pixels)
    to land's (pixels above the two-class split, :func:`_land_split`).
    """
    s = _sample(nir)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return float("inf")
    lo = np.percentile(s, 10)
    water = float(np.median(s[s <= lo]))
    above = s[s > _land_split(s)]
    land = float(np.median(above)) if above.size else water
    return water + 0.3 * max(land - water, 0.0)


def raw_water(bands: Mapping[str, NDArray[np.floating]], threshold: float | None = None) -> NDArray[np.bool_]:
    """Pixels whose NDWI exceeds the scene threshold and whose NIR is water-dark.

    Red stands in for a missing NIR band.
    """
    nir = bands.get("nir")
    if nir is None:
        nir = bands["red"]  # RGB only: red is the darkest visible band over water
    index = ndwi(bands["green"], nir)
    t = water_threshold(index, nir) if threshold is None else threshold
    return np.asarray((index > t) & (np.asarray(nir) < nir_ceiling(nir)))


def water_bodies(
    water: NDArray[np.bool_], pixel_size: float | tuple[float, float], across_m: float, speck_m: float = 30.0
) -> NDArray[np.bool_]:
    """The water of ``water`` in bodies that hold a circle ``across_m`` wide: where a ship can lie.

    The scene's water references (:func:`water_threshold`, :func:`nir_ceiling`) take the darkest
    tenth of the NIR for water, and a scene without water still has a darkest tenth: slate roofs,
    building and cloud shadows, asphalt. In a town those pixels join into networks of square
    kilometres (OSCD's Rennes: 1.5-2.2 km²), but narrow ones: no circle wider than 190 m fits in
    them (320 m in a cloud's shadow over Paris), while a harbour basin, an anchorage or a wide
    river is open water hundreds of metres across (sen2ships: every ship but three of Athens' 48
    has water 460 m or more across within 150 m of it). A connected piece of water is kept whole, narrow docks
    and berths too, when it touches a place where water holds a circle ``across_m`` wide. Specks
    of non-water shorter than ``speck_m`` (noise, glint, a buoy) are no shore: the width is taken
    where most of the ``speck_m`` square around a pixel is water. The image's edge is not a shore
    either: a sea cut by it keeps the width it shows. Rivers and canals narrower than
    ``across_m`` are left out (a site's water polygon finds vessels there); ``across_m`` 0 keeps
    all the water.
    """
    water = np.asarray(water, bool)
    if across_m <= 0 or not water.any():
        return water
    px, py = pixel_size_pair(pixel_size)
    # Where most of the ``speck_m`` square around a pixel is water: a speck of noise or glint in the
    # water is no shore, and would cut a noisy sea's widths down to the spaces between specks.
    k = max(1, int(round(speck_m / min(px, py))))
    k += 1 - k % 2
    # ``uniform_filter(water, k, mode="nearest") > 0.5`` as a count: k is odd, so a majority is
    # never a tie, and the filter's rounding (under 1e-6) is far from the 1/(2 k²) margin. (The
    # count's bytes hold up to 255: it is compared with k² // 2, never doubled.)
    wet = _box_count(water, k) > (k * k) // 2
    labels, n = ndimage.label(wet, structure=np.ones((3, 3), bool))
    keep = _holds_circle(wet, labels, n, (py, px), 0.5 * across_m)
    keep[0] = False
    if not keep.any():
        return np.zeros_like(water)
    # A body's water, and the water beside it (a dock too narrow to keep its majority, a berth).
    body = dilate(keep[labels], k) & water
    rest = water & ~body
    if not rest.any():
        return body
    # Water outside the bodies is kept where its piece touches a body's water: a piece of
    # ``rest`` is part of a piece of ``water`` that holds some of ``body`` exactly when it borders
    # ``body`` (8-connected), so only ``rest`` is labelled, not all the water.
    lab, m = ndimage.label(rest, structure=np.ones((3, 3), bool))
    joined = np.zeros(m + 1, bool)
    joined[lab[dilate(body, 3) & rest]] = True
    joined[0] = False
    return np.asarray(body | joined[lab])


def _box_count(mask: NDArray[np.bool_], k: int) -> NDArray[np.integer[Any]]:
    """How many pixels of ``mask`` are set in the ``k`` x ``k`` square around each (``k`` odd), pixels
    past the edge repeating it: ``k * k * ndimage.uniform_filter(mask, k, mode="nearest")``."""
    out: NDArray[Any] = mask
    before = k // 2
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (before, k - 1 - before)
        cur = np.pad(out, pad, mode="edge")
        n = out.shape[axis]
        if k * k <= 255:  # a few shifted sums of bytes
            out = _cut(cur, axis, 0, n).astype(np.uint8)
            for i in range(1, k):
                out += _cut(cur, axis, i, i + n)
        else:  # running sums
            c = np.cumsum(cur, axis=axis, dtype=np.int64)
            out = _cut(c, axis, k - 1, None).copy()
            _cut(out, axis, 1, None)[...] -= _cut(c, axis, 0, n - 1)
    return out


def _cut(x: NDArray[Any], axis: int, start: int, stop: int | None) -> NDArray[Any]:
    """``x[start:stop]`` along ``axis`` of a 2-D array (a view)."""
    idx = [slice(None), slice(None)]
    idx[axis] = slice(start, stop)
    return x[tuple(idx)]


def _holds_circle(
    wet: NDArray[np.bool_], labels: NDArray[np.int32], n: int, sampling: tuple[float, float], radius: float
) -> NDArray[np.bool_]:
    """Which of the ``n`` labelled pieces of ``wet`` hold a pixel ``radius`` metres or more from the
    nearest pixel that is not wet (the image's edge is none), as the largest
    ``ndimage.distance_transform_edt(wet, sampling)`` over the piece, compared with ``radius``, says.

    The transform of a whole tile was most of the 10 m detector's water search. A piece with a
    pixel whose rectangle reaching past ``radius`` on both axes is all wet holds the circle; one
    without a pixel whose rectangle inside the circle is all wet does not; the transform is taken
    only for the pieces left in doubt, over their pixels' bounding box widened by ``radius`` (every
    not-wet pixel nearer than ``radius`` to them is inside it).
    """
    sy, sx = sampling
    if wet.all():  # nothing but water: the transform has no not-wet pixel to measure to
        depth = ndimage.distance_transform_edt(wet, sampling=sampling)
        widest = np.zeros(n + 1)
        np.maximum.at(widest, labels.ravel(), depth.ravel())
        return np.asarray(widest >= radius)
    # Rectangles taken with the edge's value repeated past it: a repeated not-wet pixel stands
    # for one in the image at least as near, so the tests are those of an edge that is no shore.
    ay, ax = int(radius // sy) + 1, int(radius // sx) + 1  # any pixel outside is farther than radius
    sure = _window_1d(_window_1d(wet, 2 * ay + 1, np.logical_and, 0), 2 * ax + 1, np.logical_and, 1)
    keep = np.zeros(n + 1, bool)
    keep[labels[sure]] = True
    by = max(0, int(radius / (math.sqrt(2.0) * sy)) - 1)  # every pixel inside is nearer than radius
    bx = max(0, int(radius / (math.sqrt(2.0) * sx)) - 1)
    can = _window_1d(_window_1d(wet, 2 * by + 1, np.logical_and, 0), 2 * bx + 1, np.logical_and, 1)
    doubt = np.zeros(n + 1, bool)
    doubt[labels[can]] = True
    doubt &= ~keep
    doubt[0] = False
    if not doubt.any():
        return keep
    inner = can & doubt[labels]  # the only pixels of the doubtful pieces that can be that far in
    rows, cols = np.flatnonzero(inner.any(axis=1)), np.flatnonzero(inner.any(axis=0))
    r0, r1 = max(int(rows[0]) - ay, 0), min(int(rows[-1]) + ay + 1, wet.shape[0])
    c0, c1 = max(int(cols[0]) - ax, 0), min(int(cols[-1]) + ax + 1, wet.shape[1])
    win = (slice(r0, r1), slice(c0, c1))
    if wet[win].all():  # no shore within radius of any of them
        keep |= doubt
        return keep
    depth = ndimage.distance_transform_edt(wet[win], sampling=sampling)
    far = inner[win] & (depth >= radius)
    keep[labels[win][far]] = True
    return keep


def water_mask(
    bands: Mapping[str, NDArray[np.floating]],
    pixel_size: float | tuple[float, float],
    *,
    threshold: float | None = None,
    berth_m: float = 60.0,
    max_ship_area_m2: float = 400.0 * 70.0,
) -> NDArray[np.bool_]:
    """Water with berths kept: where a ship, moored or not, may lie.

    ``berth_m`` is the widest beam kept when a ship lies against a quay;
    ``max_ship_area_m2`` the largest hole in the water that is taken for a
    ship (or a group of ships) rather than an island.
    """
    px, py = pixel_size_pair(pixel_size)
    water = raw_water(bands, threshold)
    land = ~water
    # Enclosed non-water smaller than a big ship: a ship at anchor.
    labels, n = ndimage.label(land)
    if n:
        sizes = np.bincount(labels.ravel(), minlength=n + 1) * px * py
        small = sizes <= max_ship_area_m2
        small[0] = False
        touches_edge = np.unique(
            np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
        )
        small[touches_edge] = False
        water |= small[labels]
    # Ships alongside: everything within a beam of the water.
    r = max(1, int(round(berth_m / min(px, py))))
    return np.asarray(water | dilate(water, 2 * r + 1))


def dilate(mask: NDArray[np.bool_], size: int) -> NDArray[np.bool_]:
    """Square dilation (``size`` pixels, edges padded with the nearest value)."""
    return np.asarray(square_filter(np.asarray(mask, bool), size, np.logical_or))


def erode(mask: NDArray[np.bool_], size: int) -> NDArray[np.bool_]:
    """Square erosion (pixels outside the image repeat the edge, so the edge does not erode)."""
    return np.asarray(square_filter(np.asarray(mask, bool), size, np.logical_and))


def square_filter(a: NDArray[Any], size: int, op: Any) -> NDArray[Any]:
    """Min/max-type filter over a ``size`` x ``size`` square, edges padded with the nearest value.

    ``op`` is a binary ufunc (``np.minimum``, ``np.maximum``, ``np.logical_or``,
    ...). Separable, and along each axis the window grows by doubling, so a
    window of k pixels costs about log2(k) whole-array ``op`` passes: several
    times faster than ``scipy.ndimage.minimum_filter`` on large tiles, with
    identical results.
    """
    out = a
    for axis in (0, 1):
        out = _window_1d(out, size, op, axis)
    return out


def _window_1d(a: NDArray[Any], k: int, op: Any, axis: int) -> NDArray[Any]:
    """``op`` over the window ``[i - k//2, i + (k-1)//2]`` along ``axis`` (as scipy.ndimage, origin
    0), edge values repeated past the edges. Padding the whole array was one more whole copy of it
    a pass: only the k - 1 pixels at either end are padded."""
    if k <= 1:
        return a
    n = a.shape[axis]
    if n < k:
        return _window_1d_padded(a, k, op, axis)
    before, after = k // 2, k - 1 - k // 2
    cur = a
    w = 1
    while 2 * w <= k:  # cur[i] = op over a[i : i + w]
        cur = op(_cut(cur, axis, 0, -w), _cut(cur, axis, w, None))
        w *= 2
    out = np.empty(a.shape, cur.dtype)
    # Windows that fit: a[i - before : i - before + k], for i in [before, n - after).
    if w < k:
        op(_cut(cur, axis, 0, n - k + 1), _cut(cur, axis, k - w, n - w + 1), out=_cut(out, axis, before, n - after))
    else:
        _cut(out, axis, before, n - after)[...] = _cut(cur, axis, 0, n - k + 1)
    # Windows cut by the edges, from the padded way over the k - 1 pixels at either end: the same
    # operands in the same order, so the same values to the sign of a zero.
    if before:
        head = _window_1d_padded(_cut(a, axis, 0, k - 1), k, op, axis)
        _cut(out, axis, 0, before)[...] = _cut(head, axis, 0, before)
    if after:
        tail = _window_1d_padded(_cut(a, axis, n - k + 1, None), k, op, axis)
        _cut(out, axis, n - after, None)[...] = _cut(tail, axis, before, None)
    return out


def _window_1d_padded(a: NDArray[Any], k: int, op: Any, axis: int) -> NDArray[Any]:
    """:func:`_window_1d` over a copy of ``a`` padded with its edge values (an axis shorter than ``k``,
    and the k - 1 pixels at either end of a longer one)."""
    before = k // 2  # as scipy.ndimage (origin 0): window [i - k//2, i + (k-1)//2]
    pad = [(0, 0), (0, 0)]
    pad[axis] = (before, k - 1 - before)
    cur = np.pad(a, pad, mode="edge")
    w = 1
    while 2 * w <= k:  # cur[i] = op over padded[i : i + w]
        cur = op(_cut(cur, axis, 0, -w), _cut(cur, axis, w, None))
        w *= 2
    if w < k:
        cur = op(_cut(cur, axis, 0, -(k - w)), _cut(cur, axis, k - w, None))
    return cur
