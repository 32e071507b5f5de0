"""Components of the SAR detector, found in the windows around candidate cells.

The windows are packed side by side on canvases (:func:`_pack`, :func:`_batches`) so a single
labelling and label-indexed reductions serve every window (:func:`_objects`): seed and
growth thresholds (hysteresis), quay walls and shore land taken out, fragments within
``merge_m`` joined, components cut at water gaps (:mod:`sitewatch.detect.sar_split`), failed
components cut again (:mod:`sitewatch.detect.sar_pieces`), and the survivors measured
(:mod:`sitewatch.detect.sar_size`) and scored. See :mod:`sitewatch.detect.sar` for the flow.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .base import PixelDetection, detections_from_measurements
from .sar_cells import MAX_INTENSITY
from .sar_pieces import _rescue
from .sar_shore import _floats_and_stands_out, _label_joined, _long_runs, _shore_thresholds
from .sar_size import (
    _box_corners,
    _measure,
    _pixels,
    deconvolve_width,
    size_features,
    size_from_features,
)
from .sar_split import split_at_water
from .sar_thresholds import _CellMaps
from .water import LandLevels

if TYPE_CHECKING:
    from .sar import SarParams


CANVAS_PIXELS = 4_000_000
"""Candidate windows are measured together on canvases of about this many pixels (bounded memory)."""


def _batches(wins: list[tuple[int, tuple[int, int, int, int]]], limit: int) -> list[list[tuple[int, tuple[int, int, int, int]]]]:
    """Consecutive groups of windows whose areas add up to about ``limit`` pixels (a bigger window alone)."""
    out: list[list[tuple[int, tuple[int, int, int, int]]]] = [[]]
    total = 0
    for lab, (r0, r1, c0, c1) in wins:
        a = (r1 - r0) * (c1 - c0)
        if out[-1] and total + a > limit:
            out.append([])
            total = 0
        out[-1].append((lab, (r0, r1, c0, c1)))
        total += a
    return out


def _pack(sizes: list[tuple[int, int]], gap: int) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Top-left corners of rectangles ``sizes`` (h, w) placed on shelves ``gap`` apart, and the canvas shape."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i][0])
    area = sum((hh + gap) * (ww + gap) for hh, ww in sizes)
    shelf_w = max(max(ww for _, ww in sizes), int(math.sqrt(area) * 1.2))
    pos = [(0, 0)] * len(sizes)
    y = x = shelf_h = 0
    for i in order:
        hh, ww = sizes[i]
        if x and x + ww > shelf_w:
            y, x, shelf_h = y + shelf_h + gap, 0, 0
        pos[i] = (y, x)
        x += ww + gap
        shelf_h = max(shelf_h, hh)
    return pos, (y + shelf_h, shelf_w)


def _objects(
    x: NDArray[np.float32],
    pixmask: NDArray[np.bool_] | None,
    water_c: NDArray[np.bool_],
    maps: _CellMaps,
    coarse: NDArray[np.integer],
    wins: list[tuple[int, tuple[int, int, int, int]]],
    f: int,
    merge_px: int,
    pxy: tuple[float, float],
    p: SarParams,
    derived: tuple[NDArray[np.bool_], LandLevels | None] | None = None,
    nodata: tuple[NDArray[np.bool_] | None, bool] = (None, False),
) -> list[tuple[int, PixelDetection, dict[str, float]]]:
    """Components, discrimination and measurement in windows of candidate cells, all at once.

    The windows are copied side by side onto one canvas, ``merge_px + 2`` pixels apart, so one
    labelling and one set of label-indexed reductions serve all of them; no component or merge
    reaches across a gap. ``water_c`` and ``maps`` give water and the thresholds per cell;
    ``wins`` the (coarse label, pixel window) of each window. Returns (window
    position, detection in image pixels, features) for the objects each window owns (the coarse
    label at its centroid: bounding boxes of two coarse groups may overlap). ``nodata``: the
    caller's valid mask (None: all valid) and whether float pixels that are not finite, 0,
    negative or too bright are holes too; an object on the image's edge or next to a hole is
    ``truncated``.
    """
    h, w = x.shape
    gpx = math.sqrt(pxy[0] * pxy[1])
    sizes = [(r1 - r0, c1 - c0) for _, (r0, r1, c0, c1) in wins]
    pos, shape = _pack(sizes, merge_px + 2)
    xs = np.zeros(shape, np.float32)
    use = np.zeros(shape, bool)
    ts = np.full(shape, np.inf)
    tg = np.full(shape, np.inf)
    mu = np.zeros(shape)
    owner = np.full(shape, -1, np.int32)
    dsts = []
    land_c, levels = derived if derived is not None else (None, None)
    core = np.zeros(shape, bool) if levels is not None else None
    line_px = int(round(p.line_m / gpx))
    lines = gpx >= 5.0 and line_px >= 3
    big = []
    holes = np.zeros(shape, bool)  # pixels without data (not land: a hull alongside is whole)
    rim = np.zeros(shape, bool)  # pixels on the image's own edge
    for j, ((_, (r0, r1, c0, c1)), (y, x0)) in enumerate(zip(wins, pos, strict=True)):
        hh, ww = r1 - r0, c1 - c0
        dst = (slice(y, y + hh), slice(x0, x0 + ww))
        cr, cc = np.arange(r0, r1) // f, np.arange(c0, c1) // f  # the cell of each row and column
        xs[dst] = x[r0:r1, c0:c1]
        holes[dst] = _holes(x[r0:r1, c0:c1], None if nodata[0] is None else nodata[0][r0:r1, c0:c1], nodata[1])
        _mark_rim(rim[dst], (r0, r1, c0, c1), (h, w))
        u = water_c[cr[:, None], cc[None, :]]
        use[dst] = u if pixmask is None else u & pixmask[r0:r1, c0:c1]
        for canvas, values in zip((ts, tg, mu), maps.at(cr, cc), strict=True):
            canvas[dst] = values
        owner[dst] = j
        dsts.append(dst)
        if core is not None and land_c is not None:
            core[dst] = land_c[cr[:, None], cc[None, :]]
        if lines and max(hh, ww) >= line_px:
            big.append(dst)
    grow = (xs > tg) & use
    walls = [(dst, _long_runs(grow[dst], line_px)) for dst in big]
    shore = None
    tg_water = tg  # the water's growth threshold: the sea's speckle for the split at water gaps
    if core is not None and levels is not None and core.any():
        tg_water = tg.copy() if p.split_water else tg
        shore = _shore_thresholds(xs, use, core, ts, tg, levels, gpx, p, dsts)
        grow = (xs > tg) & use
    for dst, wall in walls:
        # Quay walls and breakwaters are long straight runs of bright pixels; at 5 m and
        # coarser a hull alongside touches them. Taking the runs out first leaves the hull
        # on its own. (Finer images show the gap between hull and wall.) The runs are found
        # over the water thresholds: against the shore's, speckle breaks a wall into pieces.
        grow[dst] &= ~wall
    seed = grow & (xs > ts)
    lab, nl = ndimage.label(grow, np.ones((3, 3), bool))
    if nl == 0:
        return []
    has_seed = np.zeros(nl + 1, bool)
    has_seed[lab[seed]] = True
    has_seed[0] = False
    kept = has_seed[lab]
    lab, nl = _label_joined(kept, merge_px)  # bright parts of one hull within merge_m joined
    if nl == 0:
        return []
    if p.split_water:
        lab, nl = split_at_water(
            lab, nl, xs, mu, tg_water, p.k_grow, seed, use, pxy, p.min_length_m + max(p.psf_m, gpx), merge_px, lambda parts, n: _measure(parts, n, pxy, p, spread_width=True)[1]
        )
    lab, ids, m = _rescue(lab, nl, xs, [seed] + [xs > np.maximum(ts, mu * 10.0 ** (t / 10.0)) for t in p.rescue_db], merge_px, pxy, p, (xs, mu, tg_water, use, p.k_grow) if p.join_along else None)
    if shore is not None and ids.size:
        ok = _floats_and_stands_out(xs, lab, ids, shore, p)
        ids = ids[ok]
        m = {key: v[ok] for key, v in m.items()}
    if ids.size == 0:
        return []
    rr, cc, kk = _pixels(lab, ids)
    near = rim | ndimage.binary_dilation(holes, np.ones((3, 3), bool)) if holes.any() else rim
    truncated = np.bincount(kk, near[rr, cc], ids.size) > 0
    peak_rel = np.full(ids.size, -np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):  # a sea quantised to 0 (8-bit) gives ts = 0: score 1
        np.maximum.at(peak_rel, kk, xs[rr, cc] / ts[rr, cc])
    feats = size_features(xs, mu, ts, lab, ids, m, pxy)
    sel = dict(m)
    sel["length_m"], sel["width_m"] = size_from_features(feats, gpx)
    res = (2.0 * pxy[0], 2.0 * pxy[1]) if p.resolution_m is None else (p.resolution_m, p.resolution_m)
    if max(res) > 0:
        sel["width_m"] = deconvolve_width(sel["width_m"], sel["heading_deg"], res, gpx / 2)
    # The box: the measured length × width around the component's centroid. (The centre of
    # the backscatter, weighted like the size, sits further from OpenSARShip's chip centres:
    # centred-ship detection 0.80 against 0.83.)
    sel["corners"] = _box_corners(sel["row"], sel["col"], sel["heading_deg"], sel["length_m"], sel["width_m"], pxy)
    wi = owner[np.clip((sel["row"] + 0.5).astype(np.int64), 0, shape[0] - 1), np.clip((sel["col"] + 0.5).astype(np.int64), 0, shape[1] - 1)]
    top = np.array([y for y, _ in pos], dtype=np.float64)[wi]
    left = np.array([x0 for _, x0 in pos], dtype=np.float64)[wi]
    dr = np.array([win[0] for _, win in wins], dtype=np.float64)[wi] - top
    dc = np.array([win[2] for _, win in wins], dtype=np.float64)[wi] - left
    sel["row"] = sel["row"] + dr
    sel["col"] = sel["col"] + dc
    sel["corners"] = sel["corners"] + np.stack([dc, dr], axis=-1)[:, None, :]
    feats["row_px"] = feats["row_px"] - top  # in pixels of the window, as before
    feats["col_px"] = feats["col_px"] - left
    labs = np.array([lab_ for lab_, _ in wins])[wi]
    own = coarse[np.minimum((sel["row"] + 0.5).astype(np.int64), h - 1) // f, np.minimum((sel["col"] + 0.5).astype(np.int64), w - 1) // f] == labs
    score = np.clip(0.5 + 0.5 * np.log10(np.maximum(peak_rel, 1e-12)) / 2.0, 0.0, 1.0)
    dets = detections_from_measurements(sel, score, truncated=truncated)
    columns = {key: np.asarray(v, dtype=np.float64).tolist() for key, v in feats.items()}  # Python floats, once per feature
    return [(int(labs[i]), d, {key: v[i] for key, v in columns.items()}) for i, d in enumerate(dets) if own[i]]


def _holes(xw: NDArray[np.float32], valid: NDArray[np.bool_] | None, check_float: bool) -> NDArray[np.bool_]:
    """Pixels of a window without data: outside ``valid`` and, for float input, not finite,
    0, negative or above :data:`~sitewatch.detect.sar_cells.MAX_INTENSITY` (as the cell pass)."""
    out = np.zeros(xw.shape, bool) if valid is None else ~valid
    if check_float:
        with np.errstate(invalid="ignore"):
            out |= ~(np.isfinite(xw) & (xw <= MAX_INTENSITY))
            zero = xw <= 0
        if zero.any():
            # A collar of zeros is no data; a lone zero is a dark pixel of quantised data
            # (single-look complex chips: a sea pixel whose I and Q are both 0), next to
            # which a hull is whole (OpenSARShip SLC: 34 of 65 centred ships flagged
            # without this).
            out |= ndimage.binary_opening(zero, np.ones((3, 3), bool))
    return out


def _mark_rim(dst: NDArray[np.bool_], win: tuple[int, int, int, int], shape: tuple[int, int]) -> None:
    """Set, in a window's view ``dst``, the pixels on the image's first or last row or column."""
    r0, r1, c0, c1 = win
    if r0 == 0:
        dst[0] = True
    if r1 == shape[0]:
        dst[-1] = True
    if c0 == 0:
        dst[:, 0] = True
    if c1 == shape[1]:
        dst[:, -1] = True
