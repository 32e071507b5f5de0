"""Candidate vessels from the pixel score: components, their object features, overlaps, ships at anchor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from ..errors import InputError
from .base import (
    PixelDetection,
    detections_from_measurements,
    measure_components,
    measure_pixel_lists,
    pixel_size_pair,
)
from .optical_deep import DeepContext, deep_feature_names, deep_reach
from .optical_features import FEATURE_NAMES, _px
from .optical_params import OpticalParams
from .optical_texture import TEXTURE_FEATURE_NAMES, texture_features
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
    *,
    bands: Mapping[str, NDArray[np.floating]] | None = None,
    cloud: NDArray[np.bool_] | None = None,
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.float32]]:
    """Components of pixel score above ``threshold`` that fit a vessel's size, measured, with object features.

    Returns the measurement arrays of :func:`measure_components` and an
    ``(n, len(OBJECT_FEATURE_NAMES))`` feature matrix (more columns with
    ``params.deep_radii_m`` or ``params.texture_features``, which reads
    ``bands``: blue, green, red and NIR reflectance). Components touching
    hidden (cloud, no-data) pixels are dropped: a half-seen ship cannot be
    measured and may not be a ship. With ``cloud`` (the cloud and shadow
    within ``hidden``) only those within the cloud margin of cloud are; one
    beside the other hidden pixels (no data) is kept, cut: the measurement
    key ``truncated`` is 1 for it (0 for the others).
    """
    _check_bands(params, bands)
    mask = prob > threshold
    near = _Near.around(mask, prob, *_margins(hidden, cloud, pixel_size, params))
    deep = _deep_around(mask, water, hidden, pixel_size, params)
    return _candidates_near(near, feats, water, pixel_size, params, threshold, deep, bands)


def _vessel_sized(m: Mapping[str, NDArray[np.float64]], params: OpticalParams) -> NDArray[np.bool_]:
    """Which measured objects (``length_m``, ``width_m`` of :func:`measure_components`) are of a vessel's size."""
    return np.asarray(
        (m["length_m"] >= params.min_length_m) & (m["length_m"] <= params.max_length_m) & (m["width_m"] <= params.max_width_m)
    )


def _check_bands(params: OpticalParams, bands: Mapping[str, NDArray[np.floating]] | None) -> None:
    """Refuse texture features without the four bands they read."""
    if params.texture_features and (bands is None or not {"blue", "green", "red", "nir"} <= set(bands)):
        have = "none" if bands is None else sorted(bands)
        raise InputError(f"optical texture features need blue, green, red and nir bands, got {have}")


# The widest window run over candidate labels is the 7 x 7 outer ring: 3 pixels either side.
_RING_REACH = 3


def _near_lines(used: NDArray[np.intp], length: int, reach: int = _RING_REACH) -> NDArray[np.intp]:
    """Line numbers (0..length-1) within ``reach`` of a line in ``used``."""
    flags = np.zeros(length, np.int32)
    flags[used] = 1
    # "full" cut to the lines' own length ("same" would centre on the window when there are fewer lines than it).
    return np.flatnonzero(np.convolve(flags, np.ones(2 * reach + 1, np.int32))[reach : reach + length])


def _image_near(
    r: NDArray[np.intp], c: NDArray[np.intp], values: NDArray[Any], shape: tuple[int, int], reach: int
) -> tuple[NDArray[Any], NDArray[np.intp], NDArray[np.intp]]:
    """An image of ``shape`` holding ``values`` at pixels (r, c) and 0 elsewhere, on only its rows and
    columns within ``reach`` of those pixels (as :class:`_Near`), and these rows and columns."""
    rows, cols = _near_lines(r, shape[0], reach), _near_lines(c, shape[1], reach)
    at_row = np.zeros(shape[0], np.intp)
    at_row[rows] = np.arange(rows.size)
    at_col = np.zeros(shape[1], np.intp)
    at_col[cols] = np.arange(cols.size)
    sub = np.zeros((rows.size, cols.size), values.dtype)
    sub[at_row[r], at_col[c]] = values
    return sub, rows, cols


def _flat_index(flat: NDArray[np.intp], rows: NDArray[np.intp], cols: NDArray[np.intp], width: int) -> NDArray[np.intp]:
    """Flat indices into an image ``width`` wide of flat indices into its sub-image ``rows`` x ``cols``."""
    r, c = np.divmod(flat, cols.size)
    return np.asarray(rows[r] * width + cols[c])


@dataclass(frozen=True)
class _Near:
    """The rows and columns of a tile within reach of its candidate pixels, and the pixel score there.

    Candidate pixels are a few per thousand of a tile; the object stage runs on
    the image of these rows and columns alone. That image keeps everything the
    stage looks at: the dropped rows and columns hold no candidate pixel, and
    every run of kept ones starts and ends with :data:`_RING_REACH` rows
    (columns) without any, so 8-connectivity, windows up to the outer ring's
    7 x 7 and the raster order of the pixels are those of the whole tile.
    """

    rows: NDArray[np.intp]
    cols: NDArray[np.intp]
    shape: tuple[int, int]
    """Shape of the tile."""
    prob: NDArray[np.float32]
    """Pixel score on ``rows`` x ``cols``."""
    hidden: NDArray[np.bool_] | None
    """Within the cloud margin of a hidden pixel, on ``rows`` x ``cols`` (None: nothing hidden)."""
    cut: NDArray[np.bool_] | None = None
    """Beside a pixel without data (not cloud), on ``rows`` x ``cols`` (None: none)."""

    @classmethod
    def around(
        cls,
        mask: NDArray[np.bool_],
        prob: NDArray[np.float32],
        near_hidden: NDArray[np.bool_] | None,
        beside_nodata: NDArray[np.bool_] | None = None,
    ) -> _Near:
        rows = _near_lines(np.flatnonzero(mask.any(axis=1)), mask.shape[0])
        cols = _near_lines(np.flatnonzero(mask.any(axis=0)), mask.shape[1])
        return cls(
            rows,
            cols,
            (mask.shape[0], mask.shape[1]),
            np.take(prob[rows], cols, axis=1),  # C order (prob[rows][:, cols] is not): ravel() without a copy
            None if near_hidden is None else np.take(near_hidden[rows], cols, axis=1),
            None if beside_nodata is None else np.take(beside_nodata[rows], cols, axis=1),
        )


def _deep_around(
    mask: NDArray[np.bool_],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
) -> DeepContext | None:
    """Deep land and water on the rows and columns within reach of ``mask`` (None: not asked for)."""
    if not params.deep_radii_m:
        return None
    reach = deep_reach(params, pixel_size)
    rows = _near_lines(np.flatnonzero(mask.any(axis=1)), mask.shape[0], reach)
    cols = _near_lines(np.flatnonzero(mask.any(axis=0)), mask.shape[1], reach)
    return DeepContext.on_lines(rows, cols, water, hidden, pixel_size, params)


def _near_hidden(hidden: NDArray[np.bool_], pixel_size: tuple[float, float], params: OpticalParams) -> NDArray[np.bool_] | None:
    """Pixels within the cloud margin of a hidden pixel (None: nothing is hidden)."""
    if not hidden.any():
        return None
    return dilate(hidden, _px(2 * params.cloud_margin_m, 0.5 * (pixel_size[0] + pixel_size[1])))


def _margins(
    hidden: NDArray[np.bool_], cloud: NDArray[np.bool_] | None, pixel_size: tuple[float, float], params: OpticalParams
) -> tuple[NDArray[np.bool_] | None, NDArray[np.bool_] | None]:
    """Where candidates are dropped (within the cloud margin) and where they are cut (beside no data).

    Without ``cloud`` every hidden pixel has the margin, as before no data and cloud were told
    apart (training and the benchmarks that pass ``hidden`` alone); with it, cloud and shadow
    alone have it, and a candidate beside the rest of ``hidden`` (no data) is ``truncated``.
    """
    if cloud is None:
        return _near_hidden(hidden, pixel_size, params), None
    nodata = hidden & ~cloud
    return _near_hidden(cloud, pixel_size, params), _beside(nodata) if nodata.any() else None


def _beside(nodata: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Pixels with data next to (8-neighbours of) a pixel in ``nodata``: an object holding one is cut."""
    return np.asarray(ndimage.binary_dilation(nodata, np.ones((3, 3), bool)) & ~nodata)


def _candidates_near(
    near: _Near,
    feats: NDArray[np.float32] | Sequence[NDArray[np.float32]],
    water: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
    threshold: float,
    deep: DeepContext | None = None,
    bands: Mapping[str, NDArray[np.floating]] | None = None,
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.float32]]:
    """:func:`candidate_objects` on the rows and columns of ``near`` (taken around a superset of its pixels)."""
    px, py = pixel_size
    nf = len(OBJECT_FEATURE_NAMES) + len(deep_feature_names(params.deep_radii_m))
    nf += len(TEXTURE_FEATURE_NAMES) if params.texture_features else 0
    none = measure_components(np.zeros((1, 1), int), np.zeros(0, int), pixel_size)
    none["truncated"] = np.zeros(0)
    empty = none, np.zeros((0, nf), np.float32)
    if near.rows.size == 0:
        return empty
    labels, n = ndimage.label(near.prob > threshold, structure=np.ones((3, 3), bool))
    if n == 0:
        return empty
    hc, wc = labels.shape
    # From here on, the components' pixels as lists (raster order).
    pix = np.flatnonzero(labels)
    lab = labels.ravel()[pix]
    index = np.arange(1, n + 1)
    area = np.bincount(lab, minlength=n + 1)[1:] * px * py
    if near.hidden is None:
        touches = np.zeros(n, bool)
    else:
        touches = np.bincount(lab[near.hidden.ravel()[pix]], minlength=n + 1)[1:] > 0
    # Cheap pre-filter on area before the per-pixel measurement.
    ok = ~touches & (area >= 0.5 * params.min_length_m * min(px, py)) & (
        area <= params.max_length_m * params.max_width_m
    )
    index = index[ok]
    if near.cut is None:
        cut = np.zeros(n, bool)
    else:
        cut = np.bincount(lab[near.cut.ravel()[pix]], minlength=n + 1)[1:] > 0
    lut = np.zeros(n + 1, np.int64)
    lut[index] = np.arange(1, index.size + 1)
    k_all = lut[lab]
    sel = np.flatnonzero(k_all)
    r, c = np.divmod(pix[sel], wc)
    w = near.prob.ravel()[pix[sel]].astype(np.float64)
    m = _measure_pixels(near.rows[r], near.cols[c], k_all[sel] - 1, index.size, near.shape, pixel_size, w)
    m["truncated"] = cut[index - 1].astype(np.float64)
    size_ok = _vessel_sized(m, params)
    m = {k: v[size_ok] for k, v in m.items()}
    index = index[size_ok]
    if index.size == 0:
        return m, np.zeros((0, nf), np.float32)
    # Renumber the kept components 1..k so per-object sums are short bincounts, and cut the
    # image down again, to the rows and columns around them.
    k = index.size
    lut = np.zeros(n + 1, _label_dtype(k))
    lut[index] = np.arange(1, k + 1)
    lab_all = lut[lab]
    held = np.flatnonzero(lab_all)
    lab_in = lab_all[held]
    r, c = np.divmod(pix[held], wc)
    kept, sub_rows, sub_cols = _image_near(r, c, lab_in, (hc, wc), _RING_REACH)
    # Ring just outside each object: a ship has water along much of its outline.
    grown = square_filter(kept, 3, np.maximum)
    wide = square_filter(kept, 2 * _RING_REACH + 1, np.maximum)
    ring = np.flatnonzero((kept == 0) & (grown > 0))
    ring_w = np.flatnonzero((kept == 0) & (wide > 0))
    inside_t = near.rows[r] * near.shape[1] + near.cols[c]
    fi = {name: i for i, name in enumerate(FEATURE_NAMES)}

    def lab_mean(values: NDArray[np.floating], lab: NDArray[np.integer] = lab_in) -> NDArray[np.float64]:
        total = np.bincount(lab, weights=values, minlength=k + 1)[1:]
        count = np.bincount(lab, minlength=k + 1)[1:]
        return total / np.maximum(count, 1)

    def inside_mean(img: NDArray[np.floating]) -> NDArray[np.float64]:
        return lab_mean(np.asarray(img).ravel()[inside_t])

    wf = water.ravel()
    rows, cols = near.rows[sub_rows], near.cols[sub_cols]
    ring_t = _flat_index(ring, rows, cols, near.shape[1])
    ring_mean = lab_mean(wf[ring_t].astype(np.float32), grown.ravel()[ring])
    ring_w_mean = lab_mean(wf[_flat_index(ring_w, rows, cols, near.shape[1])].astype(np.float32), wide.ravel()[ring_w])
    prob_in = near.prob.ravel()[pix[held]]
    peak = np.full(k + 1, -np.inf)
    np.maximum.at(peak, lab_in, prob_in)
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
            lab_mean(prob_in),
            peak[1:],
            ring_mean,
            ring_w_mean,
            inside_mean(feats[fi["water_100m"]]),
            inside_mean(feats[fi["water_300m"]]),
            inside_mean(feats[fi["nir_minus_water"]]),
            inside_mean(feats[fi["vis_minus_water"]]),
            inside_mean(feats[fi["ndwi"]]),
            inside_mean(feats[fi["nir_std_30m"]]),
            inside_mean(feats[fi["ndwi_blackhat_beam"]]),
            inside_mean(feats[fi["nir_tophat_30m"]]),
            np.full(k, threshold),
        ]
    ).astype(np.float32)
    if deep is not None:
        tr, tc = near.rows[r], near.cols[c]
        x = np.hstack([x, deep.features(lab_in, tr, tc, grown.ravel()[ring], ring_t, m, k)])
    if params.texture_features:
        assert bands is not None  # _check_bands
        nmw = feats[fi["nir_minus_water"]]
        x = np.hstack([x, texture_features(bands, nmw, water, lab_in, inside_t, grown.ravel()[ring], ring_t, k)])
    return m, x


def _label_dtype(k: int) -> type[np.signedinteger[Any]]:
    """Narrowest integer type holding labels 0..k (halves the traffic of max filters over labels)."""
    return np.int16 if k < np.iinfo(np.int16).max else np.int32


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
    rows, cols = np.divmod(sel, labels.shape[1])
    w = None if weights is None else np.asarray(weights)[rows, cols].astype(np.float64)
    return _measure_pixels(rows, cols, flat[sel] - 1, n, labels.shape, pixel_size, w)


def _measure_pixels(
    rows: NDArray[np.intp],
    cols: NDArray[np.intp],
    k: NDArray[np.integer],
    n: int,
    shape: tuple[int, ...],
    pixel_size: tuple[float, float],
    w: NDArray[np.float64] | None = None,
) -> dict[str, NDArray[np.float64]]:
    """:func:`_measure` of components 0..n-1 given as pixel lists (raster order, weights ``w``) in an image of ``shape``."""
    if n == 0:
        return measure_components(np.zeros((1, 1), int), np.zeros(0, int), pixel_size)
    # Moments about the corner of the candidates' box when it is small (as measure_components
    # on the sub-image would take them): the same figures to the last bit.
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    if w is None:
        w = np.ones(rows.size)
    if (r1 - r0) * (c1 - c0) < 0.25 * shape[0] * shape[1]:
        m = measure_pixel_lists(
            (rows - r0).astype(np.float64), (cols - c0).astype(np.float64), k, n, pixel_size_pair(pixel_size), w
        )
        m["row"] = m["row"] + r0
        m["col"] = m["col"] + c0
        m["corners"] = m["corners"] + np.array([c0, r0], np.float64)
        return m
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
    inside = np.flatnonzero(kept)
    lab_in = kept.ravel()[inside]
    # Ring of each small island: pixels within two of it that are not in it. Worked out on
    # the rows and columns within two of an island only (see _Near: the same ring).
    h, w = kept.shape
    r, c = np.divmod(inside, w)
    sub, near_rows, near_cols = _image_near(r, c, lab_in, (h, w), 2)
    grown = square_filter(sub, 5, np.maximum)
    ring = np.flatnonzero((sub == 0) & (grown > 0))
    ring_lab = grown.ravel()[ring]
    ring_t = _flat_index(ring, near_rows, near_cols, w)
    wet = water.ravel()[ring_t] & ~hidden.ravel()[ring_t]
    ring_wet = np.bincount(ring_lab, weights=wet.astype(np.float64), minlength=k + 1)
    ring_all = np.bincount(ring_lab, minlength=k + 1)
    # A hull is bright against the water around it and scores as a ship; a speck of
    # noise in a hazy water mask is neither.
    ring_nir = np.bincount(ring_lab, weights=nir.ravel()[ring_t].astype(np.float64), minlength=k + 1) / np.maximum(
        ring_all, 1
    )
    area_k = np.concatenate([[0], area[ids]])
    in_nir = np.bincount(lab_in, weights=nir.ravel()[inside].astype(np.float64), minlength=k + 1) / np.maximum(area_k, 1)
    mean_k = np.bincount(lab_in, weights=prob.ravel()[inside], minlength=k + 1) / np.maximum(area_k, 1)
    edge = np.unique(np.concatenate([kept[0], kept[-1], kept[:, 0], kept[:, -1]]))
    ok = (ring_wet >= 0.999 * np.maximum(ring_all, 1)) & (in_nir - ring_nir > params.opaque_nir) & (mean_k >= 0.5)
    ok[0] = False
    ok[edge] = False
    chosen = np.flatnonzero(ok[1:])
    index = ids[chosen]
    mean = np.zeros(n + 1)
    mean[ids] = mean_k[1:]
    at = np.full(k + 1, -1, np.intp)
    at[chosen + 1] = np.arange(chosen.size)
    pos = at[lab_in]
    sel = pos >= 0
    m = _measure_pixels(r[sel], c[sel], pos[sel], index.size, (h, w), pixel_size)
    size_ok = _vessel_sized(m, params)
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
    *,
    bands: Mapping[str, NDArray[np.floating]] | None = None,
    cloud: NDArray[np.bool_] | None = None,
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.float32]]:
    """:func:`candidate_objects` at every level of ``params.pixel_thresholds``, concatenated."""
    _check_bands(params, bands)
    # One cut-down image (around the lowest level's pixels) and one cloud margin serve every level.
    mask = prob > min(params.pixel_thresholds)
    near = _Near.around(mask, prob, *_margins(hidden, cloud, pixel_size, params))
    deep = _deep_around(mask, water, hidden, pixel_size, params)
    parts = [_candidates_near(near, feats, water, pixel_size, params, t, deep, bands) for t in params.pixel_thresholds]
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


def box_window(
    corners: Sequence[tuple[float, float]], shape: tuple[int, int], margin: int = 0
) -> tuple[tuple[slice, slice], NDArray[np.bool_]] | None:
    """The window of an image of ``shape`` around an oriented box (``corners`` as (col, row)), ``margin``
    pixels wider on every side, and which of its pixels lie inside the box; None when it falls outside."""
    h, w = shape
    q = np.asarray(corners, np.float64)
    r0, r1 = max(int(np.floor(q[:, 1].min())) - margin, 0), min(int(np.ceil(q[:, 1].max())) + 1 + margin, h)
    c0, c1 = max(int(np.floor(q[:, 0].min())) - margin, 0), min(int(np.ceil(q[:, 0].max())) + 1 + margin, w)
    if r1 <= r0 or c1 <= c0:
        return None
    rr, cc = np.mgrid[r0:r1, c0:c1]
    inside = _inside(q[None], cc.reshape(-1, 1).astype(np.float64), rr.reshape(-1, 1).astype(np.float64)).reshape(rr.shape)
    return (slice(r0, r1), slice(c0, c1)), inside


def _inside(quads: NDArray[np.float64], x: NDArray[np.float64] | float, y: NDArray[np.float64] | float) -> NDArray[np.bool_]:
    """Whether points (x, y) lie inside convex quads ``(n, 4, 2)`` (broadcast over n)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    a = quads
    b = np.roll(quads, -1, axis=-2)
    cross = (b[..., 0] - a[..., 0]) * (y[..., None] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (x[..., None] - a[..., 0])
    return np.asarray(np.all(cross >= 0, axis=-1) | np.all(cross <= 0, axis=-1))
