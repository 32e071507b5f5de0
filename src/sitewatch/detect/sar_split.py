"""Ships moored or anchored end to end: one component cut where water shows between them.

At 10 m two hulls in line a pixel or two apart become one component (the growth threshold
bridges the smeared gap, or fragments closer than ``merge_m`` are joined), and the pair is
reported as one vessel as long as both (OpenSARShip GRD ``Cargo_x12380_y10064``: a 75 m
cargo ship and the ship ahead of it, 229 m). Along the pair's axis, a strip across the hulls
falls to the sea's level in the gap; along one hull it does not, however dim the hull is
amidships (a tanker's deck is several dB over the sea, bright only at bow and stern).

So the test is against the sea, not against the hull's maxima, and its threshold comes from
the speckle statistics the CFAR already has (each pixel's background mean ``mu`` and
standard deviation ``sd``): the mean of the ``n`` pixels of a strip over water is ``mu`` give
or take ``sd / sqrt(n)``. A strip whose mean is at most :data:`WATER_Z` of those standard
errors over ``mu`` is water. Nothing is fitted to ship data. Pixels of Sentinel-1 GRD are
correlated (resolution about twice the pixel), so the true spread of a strip mean is wider
than ``sd / sqrt(n)`` and the test finds water less often than the nominal rate: it errs
towards not cutting.

A cut is kept only when each stretch it separates holds seed pixels (a target in its own
right, not a dim tail), is a vessel's shortest length once the point spread is taken off
its ends (as :func:`sitewatch.detect.sar_size.correct_size` does; a cut must not leave two blobs
of a few pixels, e.g. a small hull with a one-pixel hole), and each part passes the vessel
shape tests as the rescued pieces do (width from the spread across the axis) - the mirror of
:func:`sitewatch.detect.sar_pieces._join_pieces`, which joins pieces whose union passes. The parts
then go through the shape tests and the rescue levels like any component; the join never
reaches across a cut, since it joins pieces of one parent. On shore land the growth threshold
is the land's, so the sea's spread is taken from the water's threshold there.

A bin that two touching pixels of the component step over, and whose strip holds none of its
pixels, is no gap: along a diagonal, a hull a pixel or so wide is a staircase whose pixels
touch only at their corners (14 m apart along the axis at 45° with 10 m pixels), and a 10 m
bin between two such pixels holds only the sea pixels beside the corner (:func:`_stepped_over`).
A grid turned 33° or 61° from the hull's (polar stereographic files resampled onto a site's UTM
grid) left an 80 × 14 m hull so, and it was cut in two (24.8 + 42.6 m, 19.3 + 57.3 m).

Limits: at 10 m a gap shows only when it is about a pixel of clear water; along a diagonal
a 20 m gap is filled by the hulls' edge pixels and stays merged. A deck only 3-5 dB over the
sea can look like water in a strip three pixels wide (the detector's growth breaks such a hull
as often without the cut). A hull about one pixel wide, resampled by nearest neighbour from a
turned grid, can lose a pixel: its pieces, with the sea between them, are two ships a pixel
apart to this test, and are cut; and two ships a pixel apart whose pixels touch at a corner
across the gap (nearest-neighbour resampling from a turned grid often leaves them so) are one hull
stepped over to it, and are not (benchmarks/sar_end_to_end_turned.py, pairs with both ships found:
at a 10 m gap 0.278 of pairs at a 14 m beam against 0.333 without the rule, 0.194 against 0.278 at 20 m;
from a 15 m gap about as many, and from 20 m as many or more).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

__all__ = ["WATER_Z", "split_at_water"]

WATER_Z = 2.0
"""A strip is water when its mean exceeds the sea's by at most this many standard errors
(one-sided: 97.7 % of strips over open water qualify)."""


def split_at_water(
    lab: NDArray[np.integer],
    nl: int,
    xs: NDArray[np.float32],
    mu: NDArray[np.float64],
    tg: NDArray[np.float64],
    k_grow: float,
    seed: NDArray[np.bool_],
    use: NDArray[np.bool_],
    pxy: tuple[float, float],
    min_stretch_m: float,
    reach_px: int,
    passes: Callable[[NDArray[np.integer], int], NDArray[np.bool_]],
) -> tuple[NDArray[np.integer], int]:
    """Components ``1..nl`` of ``lab`` cut across their axis where a strip across them is water.

    ``mu``: background mean per pixel; ``tg``: growth threshold ``mu + k_grow * sd``, from which
    the background's standard deviation ``sd`` is taken; ``seed``: pixels above the
    seed threshold; ``min_stretch_m``: shortest stretch along the axis that is a hull (a
    vessel's shortest length plus the point spread that smears each end by half a cell); ``use``: pixels that may be tested (water, valid); ``reach_px``: how far
    from a component its strip may take pixels (the gap of fragments merged within
    ``merge_m``); ``passes(labels, n)``: which of labels ``1..n`` pass the vessel shape tests.
    Returns new labels (cut parts take labels after ``nl``) and their count.
    """
    if nl == 0:
        return lab, nl
    axes = _axes(lab, nl, xs, mu, pxy)
    long_enough = (axes["tmax"] - axes["tmin"]) >= 2.0 * min_stretch_m + _bin_m(pxy)
    if not long_enough.any():
        return lab, nl
    cand = np.concatenate([[0], np.where(long_enough, np.arange(1, nl + 1), 0)])[lab]
    near = ndimage.maximum_filter(cand, size=2 * reach_px + 1) if reach_px > 0 else cand
    water, bins = _water_bins(near, xs, mu, tg, k_grow, use, axes, pxy)
    boxes = ndimage.find_objects(lab, nl)
    parts = np.zeros_like(lab)
    owner: list[int] = []  # component of each tentative part (parts labelled 1.. in ``parts``)
    for k in (int(i) for i in np.flatnonzero(long_enough)):
        w = water[bins[k] : bins[k + 1]]
        sl = boxes[k]
        if not w.any() or sl is None:
            continue
        mine = lab[sl] == k + 1
        cuts = _cuts(w, mine, seed[sl], (sl[0].start, sl[1].start), k, axes, pxy, min_stretch_m)
        if not cuts:
            continue
        rr, cc = np.nonzero(mine)
        part = np.searchsorted(np.asarray(cuts), _bin_of(rr + sl[0].start, cc + sl[1].start, k, axes, pxy), side="right")
        parts[rr + sl[0].start, cc + sl[1].start] = len(owner) + 1 + part
        owner.extend([k] * (len(cuts) + 1))
    if not owner:
        return lab, nl
    # A cut stands only when each of its parts is a vessel by the shape tests.
    ok_part = passes(parts, len(owner))
    comp = np.asarray(owner)
    bad = np.zeros(nl, bool)
    np.logical_or.at(bad, comp, ~ok_part)
    cut_ok = np.concatenate([[False], ~bad[comp]])
    first = np.concatenate([[True], comp[1:] != comp[:-1]])  # a component's first part keeps its label
    new_id = np.zeros(len(owner) + 1, np.int64)
    extra = cut_ok[1:] & ~first
    new_id[1:][extra] = nl + np.arange(1, int(extra.sum()) + 1)
    relabel = new_id[parts]
    return np.where(relabel > 0, relabel, lab), nl + int(extra.sum())


def _axes(
    lab: NDArray[np.integer], nl: int, xs: NDArray[np.float32], mu: NDArray[np.float64], pxy: tuple[float, float]
) -> dict[str, NDArray[np.float64]]:
    """Each component's intensity-weighted centroid and long axis (unit vector in metres), the
    half-width of the strip across it and the extent of its pixels along the axis."""
    px, py = pxy
    rr, cc = np.nonzero(lab)
    k = lab[rr, cc] - 1
    w = np.maximum(xs[rr, cc] - mu[rr, cc], 0.0) + 1e-30
    x, y = cc * px, rr * py
    s = np.bincount(k, w, nl)
    mx, my = np.bincount(k, w * x, nl) / s, np.bincount(k, w * y, nl) / s
    dx, dy = x - mx[k], y - my[k]
    vxx, vyy, vxy = (np.bincount(k, w * a, nl) / s for a in (dx * dx, dy * dy, dx * dy))
    ang = 0.5 * np.arctan2(2.0 * vxy, vxx - vyy)
    ux, uy = np.cos(ang), np.sin(ang)
    across = vxx * uy * uy - 2.0 * vxy * ux * uy + vyy * ux * ux
    t = dx * ux[k] + dy * uy[k]
    tmin = np.full(nl, np.inf)
    tmax = np.full(nl, -np.inf)
    np.minimum.at(tmin, k, t)
    np.maximum.at(tmax, k, t)
    # Half the width of a uniform hull with that spread; at least 1.5 bins (a strip 3 pixels wide).
    half = np.maximum(0.5 * np.sqrt(12.0 * np.maximum(across, 0.0)), 1.5 * _bin_m(pxy))
    return {"mx": mx, "my": my, "ux": ux, "uy": uy, "tmin": tmin, "tmax": tmax, "half": half}


def _bin_m(pxy: tuple[float, float]) -> float:
    """Length of a bin along the axis: the coarser pixel side, so that a strip holds pixels in
    every bin whatever its heading (SLC pixels are 2-4 m across range, 14 m along azimuth)."""
    return max(pxy)


def _bin_of(rr: NDArray[np.intp], cc: NDArray[np.intp], k: NDArray[np.integer] | int, axes: dict[str, NDArray[np.float64]], pxy: tuple[float, float]) -> NDArray[np.int64]:
    """Bin along component ``k``'s axis (one pixel long) of pixels (rr, cc)."""
    px, py = pxy
    t = (cc * px - axes["mx"][k]) * axes["ux"][k] + (rr * py - axes["my"][k]) * axes["uy"][k]
    return np.rint((t - axes["tmin"][k]) / _bin_m(pxy)).astype(np.int64)


def _water_bins(
    near: NDArray[np.integer],
    xs: NDArray[np.float32],
    mu: NDArray[np.float64],
    tg: NDArray[np.float64],
    k_grow: float,
    use: NDArray[np.bool_],
    axes: dict[str, NDArray[np.float64]],
    pxy: tuple[float, float],
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Per component and bin along its axis, whether the strip across it is water; ``bins[k]``
    to ``bins[k + 1]`` are component k's bins (a bin with no usable pixel is no evidence of
    water)."""
    px, py = pxy
    gpx = _bin_m(pxy)
    nb = np.rint((axes["tmax"] - axes["tmin"]) / gpx).astype(np.int64) + 1
    nb = np.where(np.isfinite(axes["tmax"]), nb, 0)
    bins = np.concatenate([[0], np.cumsum(nb)])
    rr, cc = np.nonzero((near > 0) & use)
    k = near[rr, cc] - 1
    x, y = cc * px - axes["mx"][k], rr * py - axes["my"][k]
    t = x * axes["ux"][k] + y * axes["uy"][k]
    s = -x * axes["uy"][k] + y * axes["ux"][k]
    b = np.rint((t - axes["tmin"][k]) / gpx).astype(np.int64)  # centred on pixels along the image axes
    ok = (np.abs(s) <= axes["half"][k]) & (b >= 0) & (b < nb[k])
    g = bins[k[ok]] + b[ok]
    r2, c2 = rr[ok], cc[ok]
    total = int(bins[-1])
    n = np.bincount(g, None, total)
    excess = np.bincount(g, xs[r2, c2] - mu[r2, c2], total)
    var = np.bincount(g, (np.maximum(tg[r2, c2] - mu[r2, c2], 0.0) / k_grow) ** 2, total)
    # Mean excess over the sea <= WATER_Z standard errors of an n-pixel mean: sqrt(var) / n.
    return (n > 0) & (excess <= WATER_Z * np.sqrt(var)), bins


def _cuts(
    water: NDArray[np.bool_],
    mine: NDArray[np.bool_],
    seed: NDArray[np.bool_],
    corner: tuple[int, int],
    k: int,
    axes: dict[str, NDArray[np.float64]],
    pxy: tuple[float, float],
    min_stretch_m: float,
) -> list[int]:
    """Bins at which component ``k`` (``mine``, in a box whose first pixel is ``corner``) is cut: the middle of the water between consecutive
    stretches that are each a target (seed pixels of the component) at least ``min_stretch_m``
    long. Empty when fewer than two such stretches."""
    gpx = _bin_m(pxy)
    rr, cc = np.nonzero(seed & mine)
    seeded = np.zeros(water.size, bool)
    seeded[np.clip(_bin_of(rr + corner[0], cc + corner[1], k, axes, pxy), 0, water.size - 1)] = True
    rr, cc = np.nonzero(mine)
    water = water & ~_stepped_over(rr + corner[0], cc + corner[1], k, axes, pxy, water.size)
    runs, n = ndimage.label(~water)
    found = ndimage.find_objects(runs)
    keep = [
        (sl.start, sl.stop)
        for i, (sl,) in enumerate(found, start=1)
        if (sl.stop - sl.start) * gpx >= min_stretch_m and seeded[sl.start : sl.stop][runs[sl.start : sl.stop] == i].any()
    ]
    return [(a_stop + b_start) // 2 for (_, a_stop), (b_start, _) in zip(keep, keep[1:], strict=False)] if n >= 2 else []


def _stepped_over(
    rr: NDArray[np.intp], cc: NDArray[np.intp], k: int, axes: dict[str, NDArray[np.float64]], pxy: tuple[float, float], nbins: int
) -> NDArray[np.bool_]:
    """Bins (of ``nbins`` along component ``k``'s axis) whose strip holds none of its pixels (``rr``,
    ``cc``) and that lie strictly between the bins of two of them that touch at a side or a corner:
    the component goes on across them without a gap, as its 8-connected labelling has it. (A strip
    that holds pixels of the component is left to the water test: dim pixels can still be water.)"""
    out = np.zeros(nbins, bool)
    if rr.size < 2:
        return out
    b = _bin_of(rr, cc, k, axes, pxy)
    r0, c0 = int(rr.min()) - 1, int(cc.min()) - 1
    where = np.full((int(rr.max()) - r0 + 2, int(cc.max()) - c0 + 2), -1, np.int64)
    where[rr - r0, cc - c0] = b
    for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):
        other = where[rr - r0 + dr, cc - c0 + dc]
        has = other >= 0
        lo, hi = np.minimum(b[has], other[has]), np.maximum(b[has], other[has])
        for step in range(1, int((hi - lo).max(initial=0))):
            inside = lo + step < hi
            out[np.clip(lo[inside] + step, 0, nbins - 1)] = True
    across = -(cc * pxy[0] - axes["mx"][k]) * axes["uy"][k] + (rr * pxy[1] - axes["my"][k]) * axes["ux"][k]
    out[np.clip(b[np.abs(across) <= axes["half"][k]], 0, nbins - 1)] = False
    return out
