"""Shore land for the SAR detector when land is derived from the image (no water polygon).

Land derived in 40 m cells leaves the strip of land along every coast, and piers narrower
than the land opening, to be searched as water; their pixels, 10 dB above the water, were
seeds. Here, in the candidate windows and at pixel resolution, *shore land* is found
(:func:`_shore_thresholds`: land-like, connected to land, deep inside it or on a straight
run of its edge band, :func:`_straight_land`), held to thresholds over the local land
level, and candidates are kept only if water borders them and, where land does, they stand
out from it (:func:`_floats_and_stands_out`). Straight runs come from openings with line
elements by doubling shifts (:func:`_long_runs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .water import LandLevels

if TYPE_CHECKING:
    from .sar import SarParams


def _dilate_square(mask: NDArray[np.bool_], q: int) -> NDArray[np.bool_]:
    """Dilation by the (2q+1)² square, by shifted ORs along rows then columns (separable)."""
    return _dilate_box(mask, 2 * q + 1)


def _label_joined(mask: NDArray[np.bool_], merge_px: int) -> tuple[NDArray[np.integer], int]:
    """``ndimage.label`` of ``mask`` (8-connected), parts within ``merge_px`` pixels of each other
    (a box of that size, :func:`_dilate_box`) under one label: the bright parts of one hull, which
    break apart at 10 m. Pixels outside ``mask`` are 0. Returns the labels and their count."""
    if merge_px > 1:
        joined, n = ndimage.label(_dilate_box(mask, merge_px))
        return np.where(mask, joined, 0), n
    lab, n = ndimage.label(mask, np.ones((3, 3), bool))
    return lab, n


def _dilate_box(mask: NDArray[np.bool_], size: int) -> NDArray[np.bool_]:
    """``scipy.ndimage.binary_dilation(mask, np.ones((size, size)))`` by shifted ORs along rows
    then columns (separable, tens of times faster). For an even size the box reaches one pixel
    further down and right than up and left, as scipy places it."""
    lo, hi = (size - 1) // 2, size // 2
    rows = mask.copy()
    for s in range(1, lo + 1):
        rows[:, s:] |= mask[:, :-s]
    for s in range(1, hi + 1):
        rows[:, :-s] |= mask[:, s:]
    out = rows.copy()
    for s in range(1, lo + 1):
        out[s:] |= rows[:-s]
    for s in range(1, hi + 1):
        out[:-s] |= rows[s:]
    return out


def _shore_thresholds(
    xs: NDArray[np.float32],
    use: NDArray[np.bool_],
    core: NDArray[np.bool_],
    ts: NDArray[np.float64],
    tg: NDArray[np.float64],
    levels: LandLevels,
    gpx: float,
    p: SarParams,
    dsts: list[tuple[slice, slice]],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.float32], NDArray[np.bool_]] | None:
    """Hold pixels on *shore land* to thresholds over the local land level (in place).

    Land is derived in cells of ``land_cell_m`` (40 m), opened by ``land_open_m`` and given back
    to the water by one berth, so the strip of land along every coast, and piers narrower than
    the opening, are tested as water: their pixels, 10 dB above the water, were seeds, and
    coastline and pier fragments came out as vessels. Here, at pixel resolution in the
    candidate windows, *shore land* is what is land-like (most pixels of a ``shore_smooth_m``
    square above the land/water threshold), connects to land cells and is either deeper than
    ``shore_band_m`` inside the land or on a straight run (``shore_run_m``) of its edge band
    (:func:`_straight_land`): quay faces, pier sides and coasts, but not a hull alongside,
    which is a short bump on the edge. On shore land a pixel is a seed only ``shore_seed_db``
    above the land level around it (geometric mean of the land pixels over
    ``shore_level_m``, each capped at the land class median + 10 dB so quay walls and cranes
    weigh little) and grows only ``shore_grow_db`` above it.

    Returns the land pixels (above the threshold, in the land-like region that reaches land
    cells), the water pixels, the local land level and the shore land, for
    :func:`_floats_and_stands_out`; None when there is no shore land.
    """
    q = max(3, int(round(p.shore_smooth_m / gpx)) | 1)
    x0 = np.where(np.isfinite(xs), xs, np.float32(0))
    t = np.float32(10.0 ** (levels.threshold_db / 10.0))
    # Land-like: most pixels of the square above the land/water threshold (a median, not the
    # mean, so a bright quay wall does not make the water next to it land).
    bright = ndimage.uniform_filter((x0 > t).astype(np.float32), q, mode="constant") > np.float32(0.5)
    # Land deeper than shore_band_m from its edge is land; in the edge band, only pixels on
    # straight runs along it (a quay face, a pier, a coast). A hull alongside is a bump on the
    # band shorter than the run: it is left to the water thresholds.
    # Window by window (``dsts``, the windows on the canvas), each padded by repeating its edge
    # pixels: a coast cut by the window's border goes on straight beyond it.
    like = np.zeros_like(bright)
    for dst in dsts:
        b = bright[dst]
        if b.any():
            like[dst] = _straight_land(b, gpx, p)
    lab, nl = ndimage.label(like, np.ones((3, 3), bool))
    if nl == 0:
        return None
    touch = np.zeros(nl + 1, bool)
    touch[lab[like & core]] = True
    touch[0] = False
    landish = touch[lab]
    shore = landish & use
    if not shore.any():
        return None
    cap = np.float32(10.0 ** ((levels.land_db + 10.0) / 10.0))
    onland = landish | (core & bright)  # land cells hold some water along the coast
    lg = np.where(onland, np.log(np.maximum(np.minimum(x0, cap), np.float32(1e-30))), np.float32(0))
    qw = max(3, int(round(p.shore_level_m / gpx)) | 1)
    num = ndimage.uniform_filter(lg, qw, mode="constant")
    den = ndimage.uniform_filter(onland.astype(np.float32), qw, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.exp(num / den)
    seed = level * np.float32(10.0 ** (p.shore_seed_db / 10.0))
    grow = level * np.float32(10.0 ** (p.shore_grow_db / 10.0))
    np.maximum(ts, np.where(shore, seed, 0.0), out=ts)
    np.maximum(tg, np.where(shore, grow, 0.0), out=tg)
    # Around candidates, pixels are told apart one by one (the smoothed image is raised next to
    # a hull): above the land/water threshold and in the land-like region that reaches land
    # cells is land, at or below it water.
    blab, nb = ndimage.label(bright, np.ones((3, 3), bool))
    btouch = np.zeros(nb + 1, bool)
    btouch[blab[bright & core]] = True
    btouch[0] = False
    # (Not by cell: a hull alongside often makes its cells land.)
    # (Zeros are water too: 8-bit renderings quantise calm sea to 0.)
    return (x0 > t) & btouch[blab], (x0 <= t) & np.isfinite(xs), level.astype(np.float32), landish


SHORE_GRID_M = 10.0
"""Finer images are reduced to about this pixel size (majority of each block) to find straight
shore land: the line openings cost the run length in pixels per pixel."""


def _straight_land(bright: NDArray[np.bool_], gpx: float, p: SarParams) -> NDArray[np.bool_]:
    """Land-like pixels of one window that are deep inside land or on straight runs of its edge
    band (see :func:`_shore_thresholds`), the window padded by repeating its edge pixels."""
    d = max(1, int(SHORE_GRID_M // gpx))
    b = bright
    if d > 1:
        h, w = b.shape
        b = np.pad(b, ((0, -h % d), (0, -w % d)), mode="edge")
        b = b.reshape(b.shape[0] // d, d, b.shape[1] // d, d).mean(axis=(1, 3)) > 0.5
    kb = max(1, int(round(p.shore_band_m / (gpx * d))))
    n = max(3, int(round(p.shore_run_m / (gpx * d))))
    bp = np.pad(b, n, mode="edge")
    band = bp & _dilate_square(~bp, kb)
    out = ((bp & ~band) | (band & _long_runs(band, n)))[n:-n, n:-n]
    if d > 1:
        out = np.repeat(np.repeat(out, d, axis=0), d, axis=1)[: bright.shape[0], : bright.shape[1]] & bright
    return np.asarray(out)


# Line elements in 8 directions as (step between pieces, piece): pieces repeated along the step.
_RUN_DIRECTIONS: tuple[tuple[tuple[int, int], tuple[tuple[int, int], ...]], ...] = (
    ((0, 1), ((0, 0),)),
    ((-1, 2), ((0, 0), (0, 1))),
    ((-1, 1), ((0, 0),)),
    ((-2, 1), ((0, 0), (-1, 0))),
    ((1, 0), ((0, 0),)),
    ((2, 1), ((0, 0), (1, 0))),
    ((1, 1), ((0, 0),)),
    ((1, 2), ((0, 0), (0, 1))),
)


def _shifted(a: NDArray[np.bool_], dr: int, dc: int) -> NDArray[np.bool_]:
    """``out[r, c] = a[r + dr, c + dc]``, False beyond the edges."""
    h, w = a.shape
    out = np.zeros_like(a)
    if abs(dr) < h and abs(dc) < w:
        out[max(0, -dr) : h - max(0, dr), max(0, -dc) : w - max(0, dc)] = a[max(0, dr) : h - max(0, -dr), max(0, dc) : w - max(0, -dc)]
    return out


def _along(a: NDArray[np.bool_], step: tuple[int, int], m: int, op: np.ufunc, sign: int) -> NDArray[np.bool_]:
    """``op`` over ``a`` shifted by ``sign · k · step`` for k < m, by doubling (log m shifts)."""
    r, j = a, 1
    while 2 * j <= m:
        r = op(r, _shifted(r, sign * j * step[0], sign * j * step[1]))
        j *= 2
    if j < m:
        r = op(r, _shifted(r, sign * (m - j) * step[0], sign * (m - j) * step[1]))
    return r


def _long_runs(mask: NDArray[np.bool_], n: int) -> NDArray[np.bool_]:
    """Pixels on straight runs of about ``n`` pixels or more in 8 directions: openings with
    line elements, each a piece of one or two pixels repeated along a step, eroded and dilated
    by doubling shifts (log n array operations per direction, not n per pixel)."""
    out = np.zeros(mask.shape, bool)
    for step, piece in _RUN_DIRECTIONS:
        m = max(1, -(-n // len(piece)))
        e = _along(mask, step, m, np.logical_and, 1)
        for dr, dc in piece[1:]:
            e = e & _shifted(e, dr, dc)
        if not e.any():
            continue
        d = e
        for dr, dc in piece[1:]:
            d = d | _shifted(e, -dr, -dc)
        out |= _along(d, step, m, np.logical_or, -1)
    return out


def _floats_and_stands_out(
    xs: NDArray[np.float32],
    lab: NDArray[np.integer],
    ids: NDArray[np.integer],
    shore: tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.float32], NDArray[np.bool_]],
    p: SarParams,
) -> NDArray[np.bool_]:
    """Which components ``ids`` have water around them (``shore_water_frac`` of the pixels
    bordering them) and, where they border land, peak ``shore_peak_db`` over its level."""
    landish, waterish, level, _ = shore
    inside = np.zeros(int(lab.max()) + 1, bool)
    inside[ids] = True
    comp = inside[lab]
    # The ring: pixels next to a component (8-neighbours), owned by the neighbour's label.
    near = np.zeros(lab.shape, lab.dtype)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr or dc:
                src = np.where(comp, lab, 0)
                sh = np.zeros_like(src)
                r0, r1 = max(dr, 0), lab.shape[0] + min(dr, 0)
                c0, c1 = max(dc, 0), lab.shape[1] + min(dc, 0)
                sh[r0:r1, c0:c1] = src[r0 - dr : r1 - dr, c0 - dc : c1 - dc]
                np.maximum(near, sh, out=near)
    ring = (near > 0) & ~comp
    pos = np.zeros(inside.size, np.int64)
    pos[ids] = np.arange(ids.size)
    k = pos[near[ring]]
    n = np.maximum(np.bincount(k, None, ids.size), 1.0)
    water = np.bincount(k, waterish[ring], ids.size) / n
    land = np.bincount(k, landish[ring], ids.size) / n
    lev = np.zeros(ids.size)
    np.maximum.at(lev, k, np.nan_to_num(level[ring]) * landish[ring])
    peak = np.asarray(ndimage.maximum(xs, lab, ids), dtype=np.float64)
    stands_out = (land < p.shore_water_frac) | (peak >= lev * 10.0 ** (p.shore_peak_db / 10.0))
    return np.asarray((water >= p.shore_water_frac) & stands_out)
