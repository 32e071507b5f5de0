"""Candidate vessels from the pixel score: components, their object features, overlaps, ships at anchor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .base import (
    PixelDetection,
    detections_from_measurements,
    measure_components,
    measure_pixel_lists,
    pixel_size_pair,
)
from .optical_features import FEATURE_NAMES, _px
from .optical_params import OpticalParams
from .optical_water import dilate, square_filter

__all__ = ["OBJECT_FEATURE_NAMES", "candidate_objects", "multi_candidates"]

OBJECT_FEATURE_NAMES: tuple[str, ...] = (
    "log_length",
    "log_width",
    "log_area",
    "elongation",
    "fill",
    "prob_mean",
    "prob_max",
    "ring_water",
    "ring_water_wide",
    "water_100m",
    "water_300m",
    "nir_minus_water",
    "vis_minus_water",
    "ndwi",
    "nir_std_30m",
    "ndwi_blackhat",
    "nir_tophat_30m",
    "threshold",
)


def candidate_objects(
    prob: NDArray[np.float32],
    feats: NDArray[np.float32] | Sequence[NDArray[np.float32]],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
    threshold: float = 0.9,
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.float32]]:
    """Components of pixel score above ``threshold`` that fit a vessel's size, measured, with object features.

    Returns the measurement arrays of :func:`measure_components` and an
    ``(n, len(OBJECT_FEATURE_NAMES))`` feature matrix. Components touching
    hidden (cloud, no-data) pixels are dropped: a half-seen ship cannot be
    measured and may not be a ship.
    """
    px, py = pixel_size
    labels, n = ndimage.label(prob > threshold, structure=np.ones((3, 3), bool))
    nf = len(OBJECT_FEATURE_NAMES)
    if n == 0:
        return measure_components(labels, np.zeros(0, int), pixel_size), np.zeros((0, nf), np.float32)
    index = np.arange(1, n + 1)
    area = np.bincount(labels.ravel(), minlength=n + 1)[1:] * px * py
    margin = _px(2 * params.cloud_margin_m, 0.5 * (px + py))
    touches = _touching(labels, n, hidden, margin)
    # Cheap pre-filter on area before the per-pixel measurement.
    ok = ~touches & (area >= 0.5 * params.min_length_m * min(px, py)) & (
        area <= params.max_length_m * params.max_width_m
    )
    index = index[ok]
    m = _measure(labels, index, pixel_size, weights=prob)
    size_ok = (
        (m["length_m"] >= params.min_length_m)
        & (m["length_m"] <= params.max_length_m)
        & (m["width_m"] <= params.max_width_m)
    )
    m = {k: v[size_ok] for k, v in m.items()}
    index = index[size_ok]
    if index.size == 0:
        return m, np.zeros((0, nf), np.float32)
    # Renumber the kept components 1..k so per-object sums are short bincounts.
    k = index.size
    lut = np.zeros(n + 1, _label_dtype(k))
    lut[index] = np.arange(1, k + 1)
    kept = lut[labels]
    # Ring just outside each object: a ship has water along much of its outline.
    grown = square_filter(kept, 3, np.maximum)
    wide = square_filter(kept, 7, np.maximum)
    inside = np.flatnonzero(kept)
    ring = np.flatnonzero((kept == 0) & (grown > 0))
    ring_w = np.flatnonzero((kept == 0) & (wide > 0))
    lab_in = kept.ravel()[inside]
    fi = {name: i for i, name in enumerate(FEATURE_NAMES)}

    def lab_mean(img: NDArray[np.floating], where: NDArray[np.intp] = inside, lab: NDArray[np.int32] = lab_in) -> NDArray[np.float64]:
        total = np.bincount(lab, weights=np.asarray(img).ravel()[where], minlength=k + 1)[1:]
        count = np.bincount(lab, minlength=k + 1)[1:]
        return total / np.maximum(count, 1)

    wf = water.ravel().astype(np.float32)
    ring_mean = lab_mean(wf, ring, grown.ravel()[ring])
    ring_w_mean = lab_mean(wf, ring_w, wide.ravel()[ring_w])
    peak = np.full(k + 1, -np.inf)
    np.maximum.at(peak, lab_in, prob.ravel()[inside])
    length = m["length_m"]
    width = np.maximum(m["width_m"], 1e-3)
    area_m2 = m["area_px"] * px * py
    x = np.column_stack(
        [
            np.log(length),
            np.log(width),
            np.log(np.maximum(area_m2, 1.0)),
            length / width,
            area_m2 / (length * width),
            lab_mean(prob),
            peak[1:],
            ring_mean,
            ring_w_mean,
            lab_mean(feats[fi["water_100m"]]),
            lab_mean(feats[fi["water_300m"]]),
            lab_mean(feats[fi["nir_minus_water"]]),
            lab_mean(feats[fi["vis_minus_water"]]),
            lab_mean(feats[fi["ndwi"]]),
            lab_mean(feats[fi["nir_std_30m"]]),
            lab_mean(feats[fi["ndwi_blackhat_beam"]]),
            lab_mean(feats[fi["nir_tophat_30m"]]),
            np.full(k, threshold),
        ]
    ).astype(np.float32)
    return m, x


def _label_dtype(k: int) -> type[np.signedinteger[Any]]:
    """Narrowest integer type holding labels 0..k (halves the traffic of max filters over labels)."""
    return np.int16 if k < np.iinfo(np.int16).max else np.int32


def _touching(labels: NDArray[np.integer], n: int, hidden: NDArray[np.bool_], margin: int) -> NDArray[np.bool_]:
    """Which of components 1..n come within ``margin`` pixels of a hidden pixel."""
    if not hidden.any():
        return np.zeros(n, bool)
    return np.asarray(np.bincount(labels[dilate(hidden, margin)], minlength=n + 1)[1:] > 0)


def _measure(
    labels: NDArray[np.integer],
    index: NDArray[np.integer],
    pixel_size: tuple[float, float],
    weights: NDArray[np.floating] | None = None,
) -> dict[str, NDArray[np.float64]]:
    """:func:`~sitewatch.detect.base.measure_components` over the labelled pixels only.

    Same moments and box, but it touches just the pixels of ``index`` instead
    of whole-image arrays: on a tile with a few hundred small candidates
    that is tens of times less work.
    """
    n = int(np.asarray(index).size)
    if n == 0:
        return measure_components(labels, np.zeros(0, int), pixel_size)
    lut = np.zeros(int(labels.max()) + 1, np.int64)
    lut[index] = np.arange(1, n + 1)
    flat = lut[labels.ravel()]
    sel = np.flatnonzero(flat)
    k = flat[sel] - 1
    rows, cols = np.divmod(sel, labels.shape[1])
    # Sub-image of the candidates with a one-pixel frame: measure_components works on it unchanged.
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    if (r1 - r0) * (c1 - c0) < 0.25 * labels.size:
        sub = np.zeros((r1 - r0, c1 - c0), np.int64)
        sub[rows - r0, cols - c0] = k + 1
        w = None if weights is None else np.asarray(weights)[r0:r1, c0:c1]
        m = measure_components(sub, np.arange(1, n + 1), pixel_size, weights=w)
        m["row"] = m["row"] + r0
        m["col"] = m["col"] + c0
        m["corners"] = m["corners"] + np.array([c0, r0], np.float64)
        return m
    w = np.ones(sel.size) if weights is None else np.asarray(weights, np.float64).ravel()[sel]
    return measure_pixel_lists(
        rows.astype(np.float64), cols.astype(np.float64), k, n, pixel_size_pair(pixel_size), w
    )


def _anchored(
    prob: NDArray[np.float32],
    nir: NDArray[np.float32],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
    found: list[PixelDetection],
) -> list[PixelDetection]:
    """Ships at anchor the object model passed over: non-water islands of ship size in open water.

    Something opaque of a ship's length with water all around it (every pixel
    of a two-pixel ring is water), ``opaque_nir`` brighter in the NIR than
    that ring and with a mean pixel score of at least 0.5 is a vessel, an oil
    platform or a rock; the size limits leave mostly vessels. Objects already found are not
    repeated. The score is the mean pixel score, floored at ``object_threshold``.
    """
    px, py = pixel_size
    labels, n = ndimage.label(~water & ~hidden, structure=np.ones((3, 3), bool))
    if n == 0:
        return []
    area = np.bincount(labels.ravel(), minlength=n + 1)
    max_area = params.max_length_m * params.max_width_m / (px * py)
    small = (area <= max_area) & (area * px * py >= 0.5 * params.min_length_m * min(px, py))
    small[0] = False
    ids = np.flatnonzero(small)
    k = ids.size
    if k == 0:
        return []
    # Renumber the small islands 1..k (in order, so the ring's max picks the same island):
    # short bincounts, and a narrow integer type for the ring's max filter.
    lut = np.zeros(n + 1, _label_dtype(k))
    lut[ids] = np.arange(1, k + 1)
    kept = lut[labels]
    # Ring of each small island: pixels within two of it that are not in it.
    grown = square_filter(kept, 5, np.maximum)
    ring = (kept == 0) & (grown > 0)
    ring_lab = grown[ring]
    ring_wet = np.bincount(ring_lab, weights=(water[ring] & ~hidden[ring]).astype(np.float64), minlength=k + 1)
    ring_all = np.bincount(ring_lab, minlength=k + 1)
    # A hull is bright against the water around it and scores as a ship; a speck of
    # noise in a hazy water mask is neither.
    ring_nir = np.bincount(ring_lab, weights=nir[ring].astype(np.float64), minlength=k + 1) / np.maximum(ring_all, 1)
    inside = np.flatnonzero(kept)
    lab_in = kept.ravel()[inside]
    area_k = np.concatenate([[0], area[ids]])
    in_nir = np.bincount(lab_in, weights=nir.ravel()[inside].astype(np.float64), minlength=k + 1) / np.maximum(area_k, 1)
    mean_k = np.bincount(lab_in, weights=prob.ravel()[inside], minlength=k + 1) / np.maximum(area_k, 1)
    edge = np.unique(np.concatenate([kept[0], kept[-1], kept[:, 0], kept[:, -1]]))
    ok = (ring_wet >= 0.999 * np.maximum(ring_all, 1)) & (in_nir - ring_nir > params.opaque_nir) & (mean_k >= 0.5)
    ok[0] = False
    ok[edge] = False
    index = ids[np.flatnonzero(ok[1:])]
    mean = np.zeros(n + 1)
    mean[ids] = mean_k[1:]
    m = _measure(labels, index, pixel_size)
    size_ok = (m["length_m"] >= params.min_length_m) & (m["length_m"] <= params.max_length_m) & (
        m["width_m"] <= params.max_width_m
    )
    m = {k: v[size_ok] for k, v in m.items()}
    index = index[size_ok]
    if not index.size:
        return []
    score = np.maximum(mean[index], params.object_threshold)
    if found:
        quads = np.array([d.corners for d in found])
        rows = np.array([d.row for d in found])
        cols = np.array([d.col for d in found])
        dup = _inside(quads[None], m["col"][:, None], m["row"][:, None]).any(axis=1) | _inside(
            m["corners"][:, None], cols[None], rows[None]
        ).any(axis=1)
        m = {k: v[~dup] for k, v in m.items()}
        score = score[~dup]
    return detections_from_measurements(m, score, kind="vessel")


def multi_candidates(
    prob: NDArray[np.float32],
    feats: NDArray[np.float32] | Sequence[NDArray[np.float32]],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.float32]]:
    """:func:`candidate_objects` at every level of ``params.pixel_thresholds``, concatenated."""
    parts = [candidate_objects(prob, feats, water, hidden, pixel_size, params, t) for t in params.pixel_thresholds]
    ms = {k: np.concatenate([m[k] for m, _ in parts]) for k in parts[0][0]}
    return ms, np.concatenate([x for _, x in parts]).astype(np.float32)


def _non_overlapping(
    corners: NDArray[np.float64], row: NDArray[np.float64], col: NDArray[np.float64], score: NDArray[np.float32]
) -> NDArray[np.intp]:
    """Indices kept by greedy suppression: best score first; a candidate whose centroid lies in a
    kept box, or whose box holds a kept centroid, is the same object seen at another threshold."""
    order = np.argsort(-score, kind="stable")
    kept: list[int] = []
    for i in order:
        if kept:
            k = np.asarray(kept)
            if _inside(corners[k], col[i], row[i]).any() or _inside(corners[i][None], col[k], row[k]).any():
                continue
        kept.append(int(i))
    return np.asarray(kept, dtype=np.intp)


def _inside(quads: NDArray[np.float64], x: NDArray[np.float64] | float, y: NDArray[np.float64] | float) -> NDArray[np.bool_]:
    """Whether points (x, y) lie inside convex quads ``(n, 4, 2)`` (broadcast over n)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    a = quads
    b = np.roll(quads, -1, axis=-2)
    cross = (b[..., 0] - a[..., 0]) * (y[..., None] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (x[..., None] - a[..., 0])
    return np.asarray(np.all(cross >= 0, axis=-1) | np.all(cross <= 0, axis=-1))
