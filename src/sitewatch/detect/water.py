"""Land and water in SAR images, with the berths kept on the water side.

Calm harbour water is the darkest thing in a SAR image; land (quays, cranes,
buildings, sheds) is brighter by 5-15 dB and textured. :func:`land_from_sar`
classifies cells of about ``cell_m`` (40 m) by their mean backscatter, then
keeps as land only what is wide: a morphological opening of ``open_m``
removes anything narrower (ships at anchor, buoys, small bright islands), and
components below ``min_land_m2`` are water again. A ship moored alongside
survives the opening as a shallow bump on the coastline, so water grows back
into land by ``berth_m`` (40 m, one cell): the berth is water. The quay wall
then lies in water too; the detector removes long straight lines before it
forms components, which parts a hull from the wall it lies against.

:func:`widen_water` grows a water mask given from outside (a site's water
polygon rasterised) by a berth margin, because such polygons are drawn along
the quay and a berthed hull half on the line would otherwise be cut in two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypedDict, Unpack

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

__all__ = ["LandLevels", "LandOptions", "land_from_sar", "land_from_cells", "land_and_levels_from_cells", "widen_water", "disk"]


@dataclass(frozen=True)
class LandLevels:
    """The intensity levels (dB) a land/water classification was made with."""

    threshold_db: float
    """Cells (and, in the detector, smoothed pixels) above this are land-like."""
    water_db: float
    """Median of the dark class: the water level."""
    land_db: float
    """Median of the bright class: the land level (``threshold_db`` when there is none)."""


class LandOptions(TypedDict, total=False):
    """Options of :func:`land_from_sar`, :func:`land_from_cells` and :func:`land_and_levels_from_cells`,
    on the ground (metres, square metres); their defaults are in the last one's signature."""

    open_m: float
    """Opening radius: bright areas narrower than this (ships, even alongside) are not land."""
    min_land_m2: float
    """Bright components smaller than this are water."""
    fill_m2: float
    """Dark holes inside land smaller than this (roads, yards) are land."""
    min_contrast_db: float
    """Land is at least this much above the water level."""
    berth_m: float
    """Water grows this far back into land, so that a hull alongside a quay stays on the water."""


def disk(radius: int) -> NDArray[np.bool_]:
    """A boolean disk structuring element of the given radius in pixels."""
    r = max(0, int(radius))
    y, x = np.ogrid[-r : r + 1, -r : r + 1]
    return np.asarray(x * x + y * y <= r * r + r)


def widen_water(water: NDArray[np.bool_], pixel_size: float, margin_m: float) -> NDArray[np.bool_]:
    """Grow water by ``margin_m`` metres into land (keeps berths inside a polygon-derived mask)."""
    r = int(round(margin_m / pixel_size))
    if r <= 0 or water.all() or not water.any():
        return water.copy()
    return np.asarray(ndimage.binary_dilation(water, disk(r)))


def land_from_sar(
    intensity: NDArray[np.floating],
    pixel_size: float,
    *,
    valid: NDArray[np.bool_] | None = None,
    cell_m: float = 40.0,
    **options: Unpack[LandOptions],
) -> NDArray[np.bool_]:
    """Land mask (True = land) derived from a linear-intensity SAR image.

    Cells of about ``cell_m`` metres are classified by their mean intensity
    in dB against a threshold: Otsu's, but never less than ``min_contrast_db``
    above the water level (the median of the dark class), so an image with no
    land (open sea, a chip around one ship) yields no land. Bright cells are
    opened with a disk of ``open_m`` (ships, even alongside, are narrower),
    components smaller than ``min_land_m2`` are dropped and dark holes inside
    land smaller than ``fill_m2`` (roads, yards) filled. Invalid pixels are
    ignored; the mask is returned at the image's resolution.
    """
    h, w = intensity.shape
    f = int(max(1, round(cell_m / pixel_size)))
    land = land_from_cells(_cell_mean(intensity, valid, f), f * pixel_size, **options)
    return np.asarray(np.repeat(np.repeat(land, f, axis=0), f, axis=1)[:h, :w])


def land_from_cells(
    mean: NDArray[np.floating],
    cell_size_m: float,
    **options: Unpack[LandOptions],
) -> NDArray[np.bool_]:
    """Land per cell from the cells' mean linear intensity (NaN/0 = no data); see :func:`land_from_sar`."""
    return land_and_levels_from_cells(mean, cell_size_m, **options)[0]


def land_and_levels_from_cells(
    mean: NDArray[np.floating],
    cell_size_m: float,
    *,
    open_m: float = 50.0,
    min_land_m2: float = 50_000.0,
    fill_m2: float = 20_000.0,
    min_contrast_db: float = 4.0,
    berth_m: float = 40.0,
) -> tuple[NDArray[np.bool_], LandLevels | None]:
    """:func:`land_from_cells` and the levels it classified with (None: too few cells, or no land).

    The defaults here are those of the three functions' options (:class:`LandOptions`)."""
    cell_area = cell_size_m**2
    finite = np.isfinite(mean) & (mean > 0)
    used = np.count_nonzero(finite)
    if used < 16:
        return np.zeros(mean.shape, bool), None
    if used == finite.size:
        db = np.empty(mean.shape)
        np.log10(mean, out=db)
    else:
        db = np.full(mean.shape, -np.inf)
        np.log10(mean, out=db, where=finite)
    db *= 10.0
    vals = db.ravel() if used == finite.size else db[finite]
    t, hist, edges = _otsu_hist(vals)
    level = _median_at_most(vals, t, hist, edges)
    t = max(t, level + min_contrast_db)
    bright = db > t
    if not bright.any():
        return np.zeros(mean.shape, bool), None
    levels = LandLevels(t, level, float(np.median(db[bright])))
    r = int(round(open_m / cell_size_m))
    if r > 0:
        # Pad with the edge values so land touching the image edge is not eroded away from it.
        bright = _opening(np.pad(bright, r, mode="edge"), r)[r:-r, r:-r]
    land = _drop_small(bright, min_land_m2 / cell_area)
    if not land.any() and land.size >= fill_m2 / cell_area:
        return land, None  # no land, and the water is one component too large to be a hole
    holes = ~land & ~_drop_small(~land, fill_m2 / cell_area)
    land |= holes
    rb = int(round(berth_m / cell_size_m))
    if rb > 0 and land.any():
        # A hull alongside a quay makes the boundary cells bright, so they come out as land.
        # Water grows by berth_m into land to take them back; the quay wall and whatever
        # else stands on that strip are then taken apart from the hulls by the detector
        # (long straight lines are not vessels, see sitewatch.detect.sar).
        land &= ~ndimage.binary_dilation(~land, disk(rb))
    return np.asarray(land), (levels if land.any() else None)


def _cell_mean(x: NDArray[np.floating], valid: NDArray[np.bool_] | None, f: int) -> NDArray[np.float64]:
    """Mean of valid pixels over f × f cells (NaN where a cell has none)."""
    h, w = x.shape
    hb, wb = -(-h // f), -(-w // f)
    xs = np.asarray(x, dtype=np.float32)
    us = np.ones((h, w), bool) if valid is None else valid
    if valid is not None:
        xs = np.where(valid, xs, np.float32(0))
    xs = np.nan_to_num(xs, nan=0.0, posinf=0.0)
    if hb * f != h or wb * f != w:
        xs = np.pad(xs, ((0, hb * f - h), (0, wb * f - w)))
        us = np.pad(us, ((0, hb * f - h), (0, wb * f - w)))
    s = np.einsum("ijkl->ik", xs.reshape(hb, f, wb, f), dtype=np.float64)
    n = np.einsum("ijkl->ik", us.reshape(hb, f, wb, f).view(np.uint8), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / n, np.nan)


def _otsu(v: NDArray[np.float64], bins: int = 256) -> float:
    """Otsu's threshold of a sample (between-class variance maximised over a histogram)."""
    return _otsu_hist(v, bins)[0]


def _otsu_hist(v: NDArray[np.float64], bins: int = 256) -> tuple[float, NDArray[np.int64] | None, NDArray[np.float64] | None]:
    """:func:`_otsu` with the histogram it was found on (None for a constant sample)."""
    lo, hi = float(v.min()), float(v.max())
    if not math.isfinite(lo) or hi - lo < 1e-9:
        return hi, None, None
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    centres = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    mt = m0[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        between = (mt * w0 / w0[-1] - m0) ** 2 / (w0 * w1)
    between = np.nan_to_num(between[:-1], nan=-1.0)
    return float(edges[1:][int(np.argmax(between))]), hist, edges


def _median_at_most(v: NDArray[np.float64], t: float, hist: NDArray[np.int64] | None, edges: NDArray[np.float64] | None) -> float:
    """``np.median(v[v <= t])`` (of all ``v`` if none is), for ``t`` an inner edge of ``v``'s
    histogram: the bins below ``t`` give the ranks, so only the one or two bins holding the
    middle values are read and sorted, not half the sample."""
    if hist is None or edges is None:
        dark = v[v <= t]
        return float(np.median(dark)) if dark.size else float(np.median(v))
    j = int(np.searchsorted(edges, t)) - 1  # t == edges[j + 1]; bins 0..j lie below it
    cum = np.cumsum(hist[: j + 1])
    n_lt = int(cum[-1]) if cum.size else 0
    total = n_lt + int(np.count_nonzero(v == t))  # a value on an inner edge is in the bin above
    if total == 0:
        return float(np.median(v))

    lo_r, hi_r = (total - 1) // 2, total // 2
    ranks, got = [lo_r] if lo_r == hi_r else [lo_r, hi_r], []
    while ranks and ranks[0] < n_lt:  # the middle ranks below t: each bin holding one read once
        b = int(np.searchsorted(cum, ranks[0], side="right"))
        before = int(cum[b - 1]) if b else 0
        inside = v[(v >= edges[b]) & (v < edges[b + 1])]
        kth = [r - before for r in ranks if r - before < inside.size]
        part = np.partition(inside, kth)
        got += [float(part[q]) for q in kth]
        ranks = ranks[len(kth) :]
    got += [t] * len(ranks)  # ranks at t itself
    return got[0] if len(got) == 1 else (got[0] + got[1]) / 2


def _drop_small(mask: NDArray[np.bool_], min_cells: float) -> NDArray[np.bool_]:
    """Remove 8-connected components of fewer than ``min_cells`` cells."""
    if not mask.any():  # open sea: no bright cell survives the opening, nothing to label
        return mask
    lab, n = ndimage.label(mask, np.ones((3, 3), bool))
    if n == 0:
        return mask
    sizes = np.bincount(lab[mask], minlength=n + 1)
    keep = sizes >= min_cells
    keep[0] = False
    if keep[1:].all():
        return mask
    if not keep.any():
        return np.zeros(mask.shape, bool)
    return np.asarray(keep[lab])


def _opening(mask: NDArray[np.bool_], r: int) -> NDArray[np.bool_]:
    """``binary_opening(mask, disk(r))``; for r = 1 the disk is the 3 × 3 square, opened by
    separable minimum and maximum filters (the same result, several times faster)."""
    if r == 1 and mask.shape[0] >= 2 and mask.shape[1] >= 2:
        eroded = _square3(mask, np.logical_and, False)
        return _square3(eroded, np.logical_or, False) if eroded.any() else eroded
    return np.asarray(ndimage.binary_opening(mask, disk(r)))


def _square3(a: NDArray[np.bool_], op: np.ufunc, outside: bool) -> NDArray[np.bool_]:
    """Erosion (``logical_and``) or dilation (``logical_or``) by the 3 × 3 square, by shifted
    slices, with ``outside`` beyond the edges (False: scipy's default border)."""
    erode = op is np.logical_and and not outside
    src = a.copy()
    out = a.copy()
    op(out[:, 1:], src[:, :-1], out=out[:, 1:])  # along rows
    op(out[:, :-1], src[:, 1:], out=out[:, :-1])
    if erode:
        out[:, 0] = out[:, -1] = False
    src[...] = out
    op(out[1:], src[:-1], out=out[1:])  # along columns
    op(out[:-1], src[1:], out=out[:-1])
    if erode:
        out[0] = out[-1] = False
    return out
