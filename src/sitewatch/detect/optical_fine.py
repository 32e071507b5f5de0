"""Boats and ships in harbours, marinas and at anchor in sub-metre optical pixels (aerial, Maxar, SkySat).

The learned stages were trained on Sentinel-2's 10 m ports and report nothing shorter than
``min_length_m`` (20 m); the open-water contrast stage needs a ring of open water around a hull.
In a marina at 0.3-1 m neither holds: the hulls are 5-20 m long, moored side by side along
pontoons, and what surrounds each is other hulls, pontoon and a strip of water. At pixels of
``fine_max_pixel_m`` (1.5 m) or finer this stage looks for them directly. It learns nothing;
every window is set in metres and every threshold in the image's own noise units.

1. **Water at fine scale.** The NDWI water (with NIR when the image has it, red standing in
   otherwise) that is also *smooth*: the local spread of brightness over ``fine_texture_m``
   (2 m) below ``fine_smooth_z`` times the image's own texture floor (its 20th percentile, the
   flattest fifth of the scene, at least :data:`_NOISE_FLOOR`). Dark roofs, shadows and asphalt
   pass NDWI often enough; the hulls and the clutter of a quay are textured at 2 m, calm water is
   not. The pieces of it opened by ``fine_open_m``, of at least ``fine_water_area_m2`` and greener
   than red (or NIR) on average (McFeeters' NDWI > 0) are the water bodies (a basin a few boat
   lengths across; a shadow or a wet roof is smaller, a grey roof or car park not greener), with
   the calm surface connected to them (``fine_water_grow``): glint or haze lifts part of a basin
   above NDWI's scene-wide brightness ceiling, and a sharp quay edge, textured, stops the growth.
2. **Contrast.** Brightness (the mean of the bands, NIR included) minus the water's mean over
   ``fine_background_m`` (the water pixels only), in units of the water's robust spread
   (1.4826 x MAD over the water bodies, at least :data:`_NOISE_FLOOR`, an 8-bit step and a half).
3. **Hull pixels.** Not water, above ``fine_grow_z`` and in a component that reaches
   ``fine_seed_z`` somewhere (hysteresis); opened by a disk of ``fine_open_m`` (a mooring line, a
   pontoon's edge or a mixed pixel is thinner than any hull).
4. **Hulls side by side.** Boats moored side by side touch, or nearly; the seam between two is darker
   than either deck, though brighter than the water. A hull's core is its pixels of at least
   ``fine_core_share`` (0.4) of the highest contrast within two ``fine_split_m`` (2.5 m, a beam and
   a gap); each core of at least a beam squared (``fine_min_width_m``) seeds a hull, grown back over
   the hull pixels by a watershed of the contrast (smaller cores, a bright fitting, join a neighbour).
   Two touching pieces that together are no wider than ``fine_join_width`` (1.25) times the wider
   and more elongated than either are one hull again (a bow and a stern a cabin cut apart; the
   pieces of a pontoon, which so become a pontoon again), until none joins.
5. **In or by water.** A piece is a vessel when it lies within ``fine_near_water_m`` (6 m) of a
   water body (a boat moored bow-in has the fairway at its stern, but its shadow and the 2 m texture
   window keep the calm water a few metres off; a car or a roof inland is further), is of a vessel's size (``fine_min_length_m`` to
   ``max_length_m`` long, at most ``max_width_m`` wide) and shape (length at least
   ``fine_min_elongation`` and at most ``contrast_max_elongation`` times the width: a pontoon or
   quay face is longer and thinner, a moored block of several boats squatter), and at most
   ``fine_max_land`` of the ring as wide around it is land (neither NDWI water nor hull).

Boxes, length, width and heading are the oriented-box moments of the piece
(:func:`~sitewatch.detect.base.measure_components`). A piece whose centre lies in a vessel the other
stages report, or whose box holds one's centre, is not repeated. The score is
``1 - exp(-(mean z) / 32)``: it orders detections by contrast, it is not a calibrated probability.

What it misses (BENCHMARKS.md, "Sub-metre harbours"): dark hulls (the contrast is one-sided, so
that boats' shadows on the water are not hull), boats hauled out on land, large yachts against a
quay (the ring is mostly land), and at 1 m half the hulls of a dense marina, which merge into blocks
along the pontoons. Lengths come out 1-2 m short (a hull's pale outline pixels are mixed with
water). Dark green fields of an inland scene can pass for calm water, and the tracks between them
for hulls. The constants were set on DOTA's P0706 (0.2556 m), the only labelled sub-metre harbour
at hand, first on its left half.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from skimage.morphology import disk, remove_small_holes
from skimage.segmentation import watershed

from .base import PixelDetection, detections_from_measurements
from .optical_objects import _inside, _measure
from .optical_params import OpticalParams
from .optical_water import dilate

__all__ = ["fine_water", "fine_vessels"]

_NOISE_FLOOR = 0.006
"""Smallest noise (reflectance) the contrast and texture are counted in: an 8-bit step and a half;
water in an 8-bit JPEG rendering can be flatter than that."""


def _px(metres: float, p: float, least: int = 1) -> int:
    return max(least, int(round(metres / p)))


def _brightness(bands: Mapping[str, NDArray[np.float32]]) -> NDArray[np.float32]:
    """Mean of the distinct bands (a stand-in band, as RGB's NIR is its red, counts once)."""
    names: list[str] = []
    for b in ("blue", "green", "red", "nir"):
        if b in bands and not any(bands[b] is bands[n] for n in names):
            names.append(b)
    return np.asarray(np.mean([bands[b] for b in names], axis=0), dtype=np.float32)


def _local_spread(a: NDArray[np.float32], size: int) -> NDArray[np.float32]:
    m1 = ndimage.uniform_filter(a, size)
    m2 = ndimage.uniform_filter(a * a, size)
    return np.sqrt(np.maximum(m2 - m1 * m1, 0.0)).astype(np.float32)


def _touching_pairs(pieces: NDArray[np.integer]) -> NDArray[np.int64]:
    """Pairs (a < b) of labels whose pixels touch (4-connected), each once."""
    pairs = []
    for a, b in ((pieces[:, :-1], pieces[:, 1:]), (pieces[:-1, :], pieces[1:, :])):
        both = (a > 0) & (b > 0) & (a != b)
        pairs.append(np.stack([np.minimum(a[both], b[both]), np.maximum(a[both], b[both])], axis=1))
    found = np.concatenate(pairs).astype(np.int64)
    return np.unique(found, axis=0) if found.size else found.reshape(0, 2)


_DIRECTIONS = 18
"""A piece is kept, for joining, as its moments and its extreme pixels in this many directions (10 degrees
apart, both ways): its outline to 4 cm over a 10 m hull."""


def _extreme_pixels(pieces: NDArray[np.integer], labels: NDArray[np.integer], pixel_size: tuple[float, float]) -> NDArray[np.float64]:
    """(labels, 2 x :data:`_DIRECTIONS`, 2) metric (east, north) positions of each piece's extreme pixel centres
    along every direction, both ways (``labels`` sorted, each present)."""
    px, py = pixel_size
    # Extremes lie on a piece's outline: its pixels with a neighbour of another label.
    edge = (pieces > 0) & (ndimage.grey_erosion(pieces, size=3) != ndimage.grey_dilation(pieces, size=3))
    rows, cols = np.nonzero(edge)
    lab = pieces[rows, cols]
    order = np.argsort(lab, kind="stable")
    lab, x, y = lab[order], cols[order] * px, -rows[order] * py
    starts = np.searchsorted(lab, labels)
    counts = np.diff(np.append(starts, lab.size))
    owner = np.repeat(np.arange(labels.size), counts)
    out = np.zeros((labels.size, 2 * _DIRECTIONS, 2))
    for j, t in enumerate(np.linspace(0.0, np.pi, _DIRECTIONS, endpoint=False)):
        proj = x * np.cos(t) + y * np.sin(t)
        for side, sign in enumerate((1.0, -1.0)):
            best = np.maximum.reduceat(sign * proj, starts)
            at = np.flatnonzero(sign * proj == best[owner])
            first = at[np.unique(owner[at], return_index=True)[1]]
            out[:, 2 * j + side, 0] = x[first]
            out[:, 2 * j + side, 1] = y[first]
    return out


def _union_boxes(
    sums: NDArray[np.float64], points: NDArray[np.float64], pixel_size: tuple[float, float]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Length and width of unions of pieces, each given by its pixel moment sums added up
    (``sums``: n, sum row, sum col, sum row², sum col², sum row·col) and its pieces' extreme pixels
    (``points``, metric): the axis from the moments, the extent from the points and the pixels' footprint, as
    :func:`~sitewatch.detect.base.measure_components` measures. No pixel is touched: a large piece costs no
    more than a small one."""
    px, py = pixel_size
    n, sr, sc, srr, scc, src = (sums[:, i] for i in range(6))
    r0, c0 = sr / n, sc / n
    sxx = (scc / n - c0 * c0) * px * px
    syy = (srr / n - r0 * r0) * py * py
    sxy = -(src / n - c0 * r0) * px * py
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)
    ux, uy = np.cos(theta)[:, None], np.sin(theta)[:, None]
    x, y = points[..., 0], points[..., 1]
    along, across = x * ux + y * uy, -x * uy + y * ux
    half_along = 0.5 * (np.abs(ux[:, 0]) * px + np.abs(uy[:, 0]) * py)
    half_across = 0.5 * (np.abs(uy[:, 0]) * px + np.abs(ux[:, 0]) * py)
    length = along.max(1) - along.min(1) + 2 * half_along
    width = across.max(1) - across.min(1) + 2 * half_across
    return length, width


def _union_extremes(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """A union's own extreme pixels (as :func:`_extreme_pixels`) from its parts' (``points``: their
    concatenation): in each direction, the further of its parts'."""
    t = np.linspace(0.0, np.pi, _DIRECTIONS, endpoint=False)
    d = np.repeat(np.stack([np.cos(t), np.sin(t)], axis=1), 2, axis=0) * np.tile([[1.0], [-1.0]], (_DIRECTIONS, 1))
    best = np.argmax(points @ d.T, axis=-2)  # (directions,): which point is furthest that way
    return np.asarray(points[best])


def _joined_end_to_end(pieces: NDArray[np.integer], pixel_size: tuple[float, float], join_width: float) -> NDArray[np.integer]:
    """Pieces of one hull joined again: two touching pieces are one when together they are no wider than
    ``join_width`` times the wider of the two and more elongated than either (a cabin or a cockpit that cut a
    hull's core across leaves its bow and stern end to end; hulls moored side by side make a wider whole).
    Repeated until nothing joins, so the pieces of a pontoon become the long thin pontoon again. The pieces
    are measured once; a union is measured from its parts' moments and extreme pixels (:func:`_union_boxes`)."""
    top = int(pieces.max()) + 1
    flat = pieces.ravel()
    at = np.flatnonzero(flat)
    lab = flat[at]
    labels = np.unique(lab)
    if labels.size < 2:
        return pieces
    rr, cc = np.divmod(at.astype(np.float64), pieces.shape[1])
    del at
    sums = np.zeros((top, 6))
    sums[:, 0] = np.bincount(lab, minlength=top)
    for i, (u, v) in enumerate(((rr, 1.0), (cc, 1.0), (rr, rr), (cc, cc), (rr, cc)), start=1):
        sums[:, i] = np.bincount(lab, weights=u * v, minlength=top)
    del rr, cc, lab
    sums[sums[:, 0] == 0, 0] = 1.0
    points = np.zeros((top, 2 * _DIRECTIONS, 2))
    points[labels] = _extreme_pixels(pieces, labels, pixel_size)
    length, width = _union_boxes(sums, points, pixel_size)
    width = np.maximum(width, 1e-6)
    root = np.arange(top)  # each label's piece after the joins
    pairs = _touching_pairs(pieces)
    for _ in range(64):
        pairs = np.unique(np.sort(root[pairs], axis=1), axis=0) if len(pairs) else pairs
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        if not len(pairs):
            break
        a, b = pairs[:, 0], pairs[:, 1]
        ul, uw = _union_boxes(sums[a] + sums[b], np.concatenate([points[a], points[b]], axis=1), pixel_size)
        elong = ul / np.maximum(uw, 1e-6)
        join = (uw <= join_width * np.maximum(width[a], width[b])) & (elong > np.maximum(length[a] / width[a], length[b] / width[b]))
        if not join.any():
            break
        # Each piece joins at most once a round, the slimmest unions first.
        taken = np.zeros(top, bool)
        for i in np.flatnonzero(join)[np.argsort(-elong[join], kind="stable")]:
            if not (taken[a[i]] or taken[b[i]]):
                taken[a[i]] = taken[b[i]] = True
                root[root == b[i]] = a[i]
                sums[a[i]] += sums[b[i]]
                points[a[i]] = _union_extremes(np.concatenate([points[a[i]], points[b[i]]]))
                length[a[i]], width[a[i]] = ul[i], max(uw[i], 1e-6)
    return root.astype(np.int32)[pieces]


def fine_water(
    lum: NDArray[np.float32],
    water: NDArray[np.bool_],
    usable: NDArray[np.bool_],
    p: float,
    params: OpticalParams,
    greener: NDArray[np.float32] | None = None,
) -> NDArray[np.bool_]:
    """Water bodies at fine pixels (step 1 of the module doc): NDWI ``water`` that is smooth, in pieces
    of at least ``fine_water_area_m2`` whose mean ``greener`` (green minus NIR, or minus red without
    NIR), when given, is positive."""
    spread = _local_spread(lum, _px(params.fine_texture_m, p, 3) | 1)
    sample = spread[::3, ::3][usable[::3, ::3]]
    floor = max(float(np.percentile(sample, 20)) if sample.size else 0.0, _NOISE_FLOOR)
    r = _px(params.fine_open_m, p)
    calm = ndimage.binary_opening(usable & (spread < params.fine_smooth_z * floor), structure=disk(r))
    smooth = ndimage.binary_opening(water & calm, structure=disk(r))
    labels, n = ndimage.label(smooth)
    if n == 0:
        return smooth
    area = np.bincount(labels.ravel(), minlength=n + 1) * p * p
    big = area >= params.fine_water_area_m2
    if greener is not None:
        # McFeeters' fixed NDWI > 0, over a whole body, besides the scene's threshold: in a scene without
        # water the adaptive one passes the darkest grey roofs and asphalt, no greener than they are red.
        big &= np.bincount(labels.ravel(), weights=greener.ravel(), minlength=n + 1) > 0
    big[0] = False
    if not params.fine_water_grow:
        return np.asarray(big[labels])
    # The same calm surface beyond NDWI's brightness ceiling (glint or haze over part of a basin lifts
    # it above the scene's): a sharp quay edge is textured, so the calm water stops there.
    grown, _ = ndimage.label(calm)
    held = np.zeros(int(grown.max()) + 1, bool)
    held[np.unique(grown[big[labels]])] = True
    held[0] = False
    return np.asarray(held[grown])


def fine_vessels(
    bands: Mapping[str, NDArray[np.float32]],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    exclude: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
    found: Sequence[PixelDetection] = (),
) -> list[PixelDetection]:
    """Vessels of sub-metre imagery (the module doc), besides those ``found`` by the other stages.

    ``water`` is the NDWI water, ``hidden`` cloud or no data, ``exclude`` pixels that are no vessel
    (cranes)."""
    px, py = pixel_size
    p = 0.5 * (px + py)
    usable = ~hidden
    lum = _brightness(bands)
    bodies = fine_water(lum, water, usable, p, params, bands["green"] - bands["nir"])
    if not bodies.any():
        return []
    # The water's own mean around each pixel (water pixels only), and its spread.
    size = _px(params.fine_background_m, p, 3)
    wf = bodies.astype(np.float32)
    num = ndimage.uniform_filter(np.where(bodies, lum, np.float32(0.0)), size)
    den = ndimage.uniform_filter(wf, size)
    background = np.where(den > 0.02, num / np.maximum(den, 1e-6), np.float32(np.inf))
    resid = (lum - background)[bodies]
    noise = max(1.4826 * float(np.median(np.abs(resid - np.median(resid)))), _NOISE_FLOOR)
    z = np.where(np.isfinite(background), (lum - background) / np.float32(noise), np.float32(0.0))
    del lum, wf, num, den, background, resid  # a sub-metre window is tens of millions of pixels
    hull = (z > params.fine_grow_z) & ~bodies & usable & ~exclude
    # A deck's darker fittings and cockpit leave holes in a hull (the water between two hulls moored
    # side by side, enclosed by the pontoon, is a larger one).
    hull = remove_small_holes(hull, max_size=max(1, int(params.fine_min_width_m**2 / (px * py))))
    hull = ndimage.binary_opening(hull, structure=disk(_px(params.fine_open_m, p)))
    lab, n = ndimage.label(hull)
    if n == 0:
        return []
    seeded = np.bincount(lab[hull & (z >= params.fine_seed_z)], minlength=n + 1) > 0
    seeded[0] = False
    hull = seeded[lab]
    # Hulls side by side: the seam between two is darker than either deck though brighter than the
    # water; the cores are cut at a share of the brightest contrast two beams around, and grown back over
    # the hull pixels by a watershed of the contrast.
    core = hull & (z >= params.fine_core_share * ndimage.maximum_filter(z, _px(2 * params.fine_split_m, p, 3)))
    # Each core of at least a beam squared seeds a hull; smaller ones (a bright fitting) join their neighbour.
    markers, k = ndimage.label(core)
    big = np.bincount(markers.ravel(), minlength=k + 1) * px * py >= params.fine_min_width_m**2
    big[0] = False
    markers = np.where(big[markers], markers, 0)
    del core, lab
    pieces = _joined_end_to_end(watershed(-z, markers, mask=hull).astype(np.int32), pixel_size, params.fine_join_width)
    del markers
    n = int(pieces.max())
    index = np.flatnonzero(np.bincount(pieces.ravel(), minlength=n + 1)[1:]) + 1  # the seeds' labels skip the small cores'
    if index.size == 0:
        return []
    # By water: the nearest water body within reach; and not walled in by textured land.
    reach = ndimage.distance_transform_edt(~bodies, sampling=(py, px)) <= params.fine_near_water_m
    near = (np.bincount(pieces[reach], minlength=n + 1) > 0)[index]
    del reach
    # Each pixel off the hulls belongs to the ring of the nearest piece within reach (int32 indices: a
    # third of the memory of the default int64 ones).
    nearest = np.empty((2, *pieces.shape), np.int32)
    gap = ndimage.distance_transform_edt(pieces == 0, sampling=(py, px), return_indices=True, indices=nearest)
    grown = np.where(gap <= params.fine_near_water_m, pieces[nearest[0], nearest[1]], 0)
    del gap, nearest
    ring = (grown > 0) & ~hull
    # Land: neither water by NDWI nor hull (the dark gaps between hulls moored side by side are water).
    land = ring & ~water & (z <= params.fine_grow_z)
    ring_n = np.bincount(grown[ring], minlength=n + 1)[index]
    land_n = np.bincount(grown[land], minlength=n + 1)[index]
    open_enough = land_n <= params.fine_max_land * np.maximum(ring_n, 1)
    index = index[near & open_enough]
    if index.size == 0:
        return []
    m = _measure(pieces, index, pixel_size)
    length, width = m["length_m"], m["width_m"]
    elong = length / np.maximum(width, 1e-6)
    ok = (
        (length >= params.fine_min_length_m) & (length <= params.max_length_m) & (width <= params.max_width_m)
        & (width >= params.fine_min_width_m)
        & (elong >= params.fine_min_elongation) & (elong <= params.contrast_max_elongation)
    )  # fmt: skip
    # Hidden pixels (cloud, no data) within the cloud margin: as the other stages, not reported.
    margin = _px(params.cloud_margin_m, p)
    if hidden.any():
        near_hidden = np.asarray(ndimage.maximum(dilate(hidden, 2 * margin), pieces, index)) > 0
        ok &= ~near_hidden
    m = {k: v[ok] for k, v in m.items()}
    idx = index[ok]
    if idx.size == 0:
        return []
    total = np.bincount(pieces.ravel(), weights=z.ravel().astype(np.float64), minlength=n + 1)
    mean = total[idx] / np.maximum(np.bincount(pieces.ravel(), minlength=n + 1)[idx], 1)
    score = 1.0 - np.exp(-mean / 32.0)
    if found:
        quads = np.array([d.corners for d in found], np.float64)
        rows = np.array([d.row for d in found])
        cols = np.array([d.col for d in found])
        in_found = _inside(quads[None], m["col"][:, None], m["row"][:, None]).any(axis=1)
        holds = _inside(m["corners"][:, None], cols[None, :], rows[None, :]).any(axis=1)
        keep = ~(in_found | holds)
        m = {k: v[keep] for k, v in m.items()}
        score = score[keep]
    return detections_from_measurements(m, score, kind="vessel")
