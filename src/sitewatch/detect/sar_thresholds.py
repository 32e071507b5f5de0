"""Water, land and the thresholds of every land/water cell of the SAR detector.

From the per-cell sums of :mod:`sitewatch.detect.sar_cells`, :func:`_cell_thresholds` derives
land (when asked), grows water back into it by one berth, and computes the seed threshold,
growth threshold and background mean of every cell, kept per CFAR block in a
:class:`_CellMaps` and expanded to cells (:func:`_expand`) only where a window needs them.
See :mod:`sitewatch.detect.sar` for how the detector uses them.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .sar_cells import (
    _aggregate,
    _block_px,
    _cell_block,
    _censored_rings,
    _CensoredRings,
    _in_threads,
    _started,
    _thresholds,
)
from .water import LandLevels, disk, land_and_levels_from_cells

if TYPE_CHECKING:
    from .sar import SarParams


_Sums = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]
"""The sums of I and I² and the count, per cell or per block."""


def _cell_thresholds(
    s1: NDArray[np.float64],
    s2: NDArray[np.float64],
    n: NDArray[np.float64],
    k: int,
    p: SarParams,
    gpx: float,
    derive_land: bool,
    pool: Executor | None,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], _CellMaps, LandLevels | None]:
    """Water, land (before the berth growth), the levels it was found with, and the seed threshold, growth threshold and background mean of every cell.

    The thresholds over all cells (no land taken out) are what an open-sea image uses and what
    berth cells are held to; with a pool they are computed while a thread of the pool derives
    land (after the block and ring sums handed to it first).
    """
    cell_m = gpx * _cell_block(p, gpx)[0]
    b = _block_px(p, gpx)

    def block_sums(c1: NDArray[np.float64], c2: NDArray[np.float64], cn: NDArray[np.float64]) -> _Sums:
        b1, b2, bn = _in_threads(lambda a: _aggregate(a, k), (c1, c2, cn), pool)
        return b1, b2, bn

    def thresholds(sums: _Sums, rings: _CensoredRings | None = None) -> _Sums:
        return _thresholds(*sums, p, b, gpx, pool, rings)

    def land_of(kw: dict[str, float]) -> tuple[NDArray[np.bool_], LandLevels | None]:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s1 / n  # NaN (0 / 0) where a cell has no used pixel
        return land_and_levels_from_cells(mean, cell_m, berth_m=0.0, **kw)

    pending = None
    levels: LandLevels | None = None
    if derive_land:
        kw = _cells_kwargs(p)
        rb = int(round(kw.pop("berth_m") / cell_m))
        if pool is not None:
            # The pool sums two of the three to blocks, takes the all-block ring sums, then
            # derives land, while this thread runs the threshold chain.
            sums = block_sums(s1, s2, n)
            rings = _censored_rings(*sums, p, b, gpx, pool)
            pending = _started(pool, land_of, kw)
            whole = thresholds(sums, rings)
            land, levels = pending()
        else:
            land, levels = land_of(kw)
        if not (~land & (n > 0)).any():
            # Land everywhere leaves no water to detect on or to take a background from. A vessel
            # detector's image has water, so the split is not trusted: pixels at a floor (SNAP's
            # noise removal writes ~1e-8 where the noise exceeded the signal) form a "dark class"
            # of their own below the sea, and the sea then reads as land. The image is taken as
            # all water, or as the caller's water mask.
            land, levels = np.zeros(n.shape, bool), None
        water_c = ~land
        if rb > 0 and land.any():
            # Hulls alongside make the quay's cells bright, so they come out as land: water
            # grows back into land by one berth. Those berth cells mix hull, quay wall and
            # land clutter; they take the stricter of the water-only threshold and one
            # whose background includes the land around (what land clutter looks like there).
            water_c = np.asarray(ndimage.binary_dilation(water_c, disk(rb)))
    else:
        land = np.zeros(n.shape, bool)
        water_c = np.ones(n.shape, bool)
    if pending is None and (not land.any() or (water_c & land).any()):
        whole = thresholds(block_sums(s1, s2, n))
    if not land.any():
        t_seed, t_grow, t_mu = whole
    else:
        t_seed, t_grow, t_mu = thresholds(block_sums(*(np.where(water_c, a, 0.0) for a in (s1, s2, n))))
    berth = water_c & land
    if not berth.any():
        # No berth cells (none grown back: at coarse pixels a berth is under one cell) need the
        # all-cells values, so they may not have been computed.
        whole = (t_seed, t_grow, t_mu)
    maps = _CellMaps(k, (t_seed, t_grow, t_mu), berth if berth.any() else None, (whole[0], whole[1]))
    return water_c, land, maps, levels


@dataclass(frozen=True)
class _CellMaps:
    """Seed threshold, growth threshold and background mean per cell, kept per CFAR block
    (``k`` × ``k`` cells) and expanded only where asked; berth cells take the stricter of
    their block's value and the all-cells one."""

    k: int
    blocks: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]
    berth: NDArray[np.bool_] | None
    whole: tuple[NDArray[np.float64], NDArray[np.float64]]

    def window(self, sl: tuple[slice, slice]) -> list[NDArray[np.float64]]:
        """Cell values of the three maps over the cell slice ``sl``."""
        k = self.k
        (r0, r1), (c0, c1) = (sl[0].start, sl[0].stop), (sl[1].start, sl[1].stop)
        bsl = (slice(r0 // k, -(-r1 // k)), slice(c0 // k, -(-c1 // k)))
        dr, dc = r0 - bsl[0].start * k, c0 - bsl[1].start * k

        def cells(a: NDArray[np.float64]) -> NDArray[np.float64]:
            blk = a[bsl]
            return _expand(blk, k, (blk.shape[0] * k, blk.shape[1] * k))[dr : dr + r1 - r0, dc : dc + c1 - c0]

        out = [cells(a) for a in self.blocks]
        if self.berth is not None:
            b = self.berth[sl]
            if b.any():
                out[0] = np.where(b, np.maximum(out[0], cells(self.whole[0])), out[0])
                out[1] = np.where(b, np.maximum(out[1], cells(self.whole[1])), out[1])
        return out

    def at(self, rows: NDArray[np.intp], cols: NDArray[np.intp]) -> list[NDArray[np.float64]]:
        """Values of the three maps on the grid of cells ``rows`` × ``cols`` (e.g. the cell of each
        pixel row and column of a window): :meth:`window` by one gather per map, no expansion."""
        r, c = rows[:, None], cols[None, :]
        br, bc = r // self.k, c // self.k
        out = [a[br, bc] for a in self.blocks]
        if self.berth is not None:
            b = self.berth[r, c]
            if b.any():
                out[0] = np.where(b, np.maximum(out[0], self.whole[0][br, bc]), out[0])
                out[1] = np.where(b, np.maximum(out[1], self.whole[1][br, bc]), out[1])
        return out

    def seed_hits(self, mx: NDArray[np.float32]) -> NDArray[np.bool_]:
        """Cells whose brightest used pixel ``mx`` beats their seed threshold."""
        hc, wc = mx.shape
        if self.berth is not None:
            return np.asarray(mx > self.window((slice(0, hc), slice(0, wc)))[0].astype(np.float32))
        t = self.blocks[0].astype(np.float32)
        return np.asarray(mx > np.repeat(np.repeat(t, self.k, axis=0), self.k, axis=1)[:hc, :wc])


def _expand(a: NDArray[Any], k: int, shape: tuple[int, int]) -> NDArray[Any]:
    """Repeat each cell k × k times and crop to ``shape``."""
    if k == 1:
        return a[: shape[0], : shape[1]]
    hb, wb = a.shape
    full = np.broadcast_to(a[:, None, :, None], (hb, k, wb, k)).reshape(hb * k, wb * k)
    return full[: shape[0], : shape[1]]


def _cells_kwargs(p: SarParams) -> dict[str, float]:
    kw = p.land_kwargs()
    kw.pop("cell_m")
    return kw
