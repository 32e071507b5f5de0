"""Other versions of sar-cfar 1.14.0's stepped-over bins (:func:`sitewatch.detect.sar_split._stepped_over`), put in
its place for a measurement: 1.13.0's split (no bin stepped over), and a rule tried on 7 Dec and not shipped (a
corner at the hull's side, with sea inside the hull beside it). Shared by ``sar_end_to_end_turned.py`` and
``sar_thin_turned.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from numpy.typing import NDArray

from sitewatch.detect import sar_pieces, sar_split

Axes = dict[str, NDArray[np.float64]]
SteppedOver = Callable[[NDArray[np.intp], NDArray[np.intp], int, Axes, tuple[float, float], int], NDArray[np.bool_]]


def none_stepped_over(rr: NDArray[np.intp], cc: NDArray[np.intp], k: int, axes: Axes, pxy: tuple[float, float], nbins: int) -> NDArray[np.bool_]:
    """sar-cfar 1.13.0's split: no bin counts as stepped over."""
    return np.zeros(nbins, bool)


def side_corners_stepped_over(
    rr: NDArray[np.intp], cc: NDArray[np.intp], k: int, axes: Axes, pxy: tuple[float, float], nbins: int
) -> NDArray[np.bool_]:
    """1.14.0's rule, except that two pixels touching only at a corner step over nothing when one of the two pixels
    beside that corner (which the component does not hold) lies nearer the component's axis than the corner does.

    Along a thin diagonal hull the staircase runs through its own corners, with the sea beside each corner on either
    side of the hull, no nearer its axis. Where two ships end to end on a hull wider than a pixel are closed by the
    resampling to one corner at the hull's side, the pixel beside it towards the axis is sea inside the hull's width:
    that bin is left to the water test, as in 1.13.0. Tried 7 Dec (helper polarmerge), not shipped: BENCHMARKS.md.
    """
    out = np.zeros(nbins, bool)
    if rr.size < 2:
        return out
    b = sar_split._bin_of(rr, cc, k, axes, pxy)
    r0, c0 = int(rr.min()) - 1, int(cc.min()) - 1
    where = np.full((int(rr.max()) - r0 + 2, int(cc.max()) - c0 + 2), -1, np.int64)
    where[rr - r0, cc - c0] = b

    def across(r: NDArray[np.float64], c: NDArray[np.float64]) -> NDArray[np.float64]:
        return -(c * pxy[0] - axes["mx"][k]) * axes["uy"][k] + (r * pxy[1] - axes["my"][k]) * axes["ux"][k]

    r, c = rr.astype(np.float64), cc.astype(np.float64)
    for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):
        other = where[rr - r0 + dr, cc - c0 + dc]
        has = other >= 0
        if dr and dc:  # a corner: the two pixels beside it are (r + dr, c) and (r, c + dc)
            corner = np.abs(across(r + dr / 2, c + dc / 2))
            beside = np.minimum(np.abs(across(r + dr, c)), np.abs(across(r, c + dc)))
            has &= ~(beside < corner)
        lo, hi = np.minimum(b[has], other[has]), np.maximum(b[has], other[has])
        for step in range(1, int((hi - lo).max(initial=0))):
            inside = lo + step < hi
            out[np.clip(lo[inside] + step, 0, nbins - 1)] = True
    out[np.clip(b[np.abs(across(r, c)) <= axes["half"][k]], 0, nbins - 1)] = False
    return out


RULES: dict[str, SteppedOver] = {"1.13.0": none_stepped_over, "side-corners": side_corners_stepped_over}
"""The versions by name; ``shipped`` is the code on ``PYTHONPATH`` as it is."""


@contextmanager
def rule(name: str) -> Iterator[None]:
    """The split and the join of rescued pieces with stepped-over bins as ``name`` counts them (``shipped``: as is)."""
    if name == "shipped":
        yield
        return
    shipped = sar_split._stepped_over
    sar_split._stepped_over = sar_pieces._stepped_over = RULES[name]
    try:
        yield
    finally:
        sar_split._stepped_over = sar_pieces._stepped_over = shipped
