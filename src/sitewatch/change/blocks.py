"""Row blocks: the grid compared a block of rows at a time (:class:`RowBlocks`), so that a whole Sentinel-2
tile pair needs a few bytes a pixel of whole-grid state (masks, classes) and not the hundred of its float64
working arrays; and the window mean of :func:`.windows._masked_mean` computed block by block to the same
bits (:class:`_BlockMeans`).

scipy's ``uniform_filter1d`` sums a line as it runs along it (each value the last plus the pixel entering
minus the pixel leaving), so the mean of a column cut at a block's edge, even with a halo of rows, differs
in its last bits from the mean of the whole column. :class:`_BlockMeans` runs the same sums down the
columns and carries them from one block to the next, as the filter carries them from one row to the next;
along the rows, each a whole line in every block, scipy's filter is used as it is.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError

__all__ = ["DEFAULT_BLOCKS", "RowBlocks"]


@dataclass(frozen=True)
class RowBlocks:
    """How many rows of the grid a comparison (optical or SAR) works on at a time (its results do not depend on it)."""

    pixels: int = 1 << 21
    """About how many pixels a block holds (whole rows; at least one row): a block's working arrays take
    some 300 bytes a pixel, so about 0.6 GB at this size, whatever the size of the grid."""

    def __post_init__(self) -> None:
        if self.pixels < 1:
            raise InputError(f"a row block must hold at least one pixel, got {self.pixels}")

    def spans(self, height: int, width: int) -> list[tuple[int, int]]:
        """The blocks of a ``height`` × ``width`` grid as (first row, row after the last), top to bottom."""
        rows = max(1, self.pixels // max(1, width))
        return [(r, min(height, r + rows)) for r in range(0, height, rows)]


DEFAULT_BLOCKS = RowBlocks()
"""The row blocks a comparison works in unless told."""


def _halo(size: int) -> int:
    """Rows a block's window means need above and below it: the window's half, and one more above for
    the row that leaves the running sum."""
    return size // 2 + 1 if size > 1 else 0


def _rows(data: Any, a: int, b: int, band: int | None = None) -> NDArray[Any]:
    """Rows ``a`` to ``b`` of bands × rows × cols ``data`` (an array, or a reader of rows), all bands or one."""
    return np.asarray(data[:, a:b] if band is None else data[band, a:b])


class _BlockMeans:
    """The window means of one pass down the grid, block after block (top to bottom, each block once):
    :func:`.windows._masked_mean`'s values to the bit, each quantity's column sums carried from a block to
    the next under its ``key``. Each block's arrays hold grid rows ``first`` to ``first + len`` (the block
    and its :func:`_halo`, cut at the grid's edges)."""

    def __init__(self, size: int, height: int) -> None:
        self.size, self.height = size, height
        self._carry: dict[Hashable, NDArray[np.float64]] = {}
        self._share: tuple[int, NDArray[np.float64]] | None = None

    def _down(self, key: Hashable, x: NDArray[np.float64], first: int, r0: int, r1: int) -> NDArray[np.float64]:
        """scipy's ``uniform_filter1d(…, axis=0, mode="constant")`` of the whole grid, rows ``r0`` to ``r1``."""
        size, h = self.size, self.height
        s1 = size // 2
        s2 = size - s1 - 1
        zero = np.zeros(x.shape[1])

        def row(j: int) -> NDArray[np.float64]:
            return x[j - first] if 0 <= j < h else zero

        out = np.empty((r1 - r0, x.shape[1]))
        if r0 == 0:
            tmp = np.zeros(x.shape[1])
            for j in range(-s1, s2 + 1):
                tmp += row(j)
            out[0] = tmp / size
            start = 1
        else:
            tmp = self._carry[key]
            start = r0
        for i in range(start, r1):
            tmp += row(i + s2) - row(i - 1 - s1)
            np.divide(tmp, size, out=out[i - r0])
        self._carry[key] = tmp
        return out

    def _filtered(self, key: Hashable, x: NDArray[np.float64], first: int, r0: int, r1: int) -> NDArray[np.float64]:
        from scipy import ndimage

        return ndimage.uniform_filter1d(self._down(key, x, first, r0, r1), self.size, axis=1, mode="constant")

    def share(self, ok: NDArray[np.bool_], first: int, r0: int, r1: int) -> NDArray[np.float64]:
        """Rows ``r0`` to ``r1`` of :func:`.windows._masked_mean`'s share (the block's, computed once)."""
        if self._share is not None and self._share[0] == r0:
            return self._share[1]
        core = ok[r0 - first : r1 - first]
        if self.size <= 1:
            den = core.astype(np.float64)
        else:
            den = self._filtered("_share", ok.astype(np.float64), first, r0, r1)
            den *= self.size * self.size
            np.round(den, out=den)
            den /= self.size * self.size
            den[~core] = 0.0
        self._share = (r0, den)
        return den

    def mean(self, key: Hashable, a: NDArray[np.floating], ok: NDArray[np.bool_], first: int, r0: int, r1: int) -> NDArray[np.float64]:
        """Rows ``r0`` to ``r1`` of :func:`.windows._masked_mean`'s mean of ``a``, the quantity called ``key``."""
        core = ok[r0 - first : r1 - first]
        if self.size <= 1:
            return np.where(core, a[r0 - first : r1 - first], np.nan).astype(np.float64)
        num = self._filtered(key, np.where(ok, a, 0.0).astype(np.float64, copy=False), first, r0, r1)
        den = self.share(ok, first, r0, r1)
        # The whole grid's mean divides by the share before it is zeroed off the compared pixels; both are
        # the same on them, and the rest is NaN either way.
        with np.errstate(invalid="ignore", divide="ignore"):
            num /= np.maximum(den, 1e-12)
        num[~(core & (den > 0))] = np.nan
        return num


def _sample(ok: NDArray[np.bool_], stride: int, spans: list[tuple[int, int]]) -> NDArray[np.intp]:
    """Every ``stride``-th compared pixel (flat indexes), counted from the first: ``np.flatnonzero(ok)[::stride]``
    without the index of every compared pixel (8 bytes a pixel)."""
    width = ok.shape[1]
    parts, seen = [], 0
    for a, b in spans:
        idx = np.flatnonzero(ok[a:b])
        parts.append(idx[(-seen) % stride :: stride] + a * width)
        seen += idx.size
    return np.concatenate(parts) if parts else np.zeros(0, np.intp)


def _in_span(sample: NDArray[np.intp], a: int, b: int, width: int) -> slice:
    """The part of the sorted flat indexes ``sample`` in rows ``a`` to ``b``."""
    lo, hi = np.searchsorted(sample, [a * width, b * width])
    return slice(int(lo), int(hi))
