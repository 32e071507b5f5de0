"""Exact medians of values given in passes (:class:`StreamedMedian`): :func:`numpy.median`'s value over
every value, without holding them all. A SAR pair's tested pixels number hundreds of millions (a Sentinel-1
scene's log-ratio at each, float64, is over 3 GB); the values are counted in bins of their leading bits as
the comparison goes down the grid, and, once the bin holding the middle is known, only that bin's values
are kept on the next pass (or, when it holds too many, counted again in finer bins).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["StreamedMedian"]

_SIGN = np.uint64(1 << 63)


def _keys(x: NDArray[np.float64]) -> NDArray[np.uint64]:
    """Unsigned 64-bit keys in the order of the (non-NaN) floats ``x``: the sign bit flipped for the
    positives, every bit for the negatives. -0.0 keys as +0.0 (they are equal, as :func:`numpy.partition` has them)."""
    u = (np.ascontiguousarray(x, np.float64) + 0.0).view(np.uint64)
    neg = u >= _SIGN
    return np.where(neg, ~u, u | _SIGN)


def _value(key: np.uint64) -> float:
    """The float whose :func:`_keys` key is ``key``."""
    u = key ^ _SIGN if key >= _SIGN else ~key
    return float(np.array([u], np.uint64).view(np.float64)[0])


class _Rank:
    """The ``rank``-th smallest (from 0) of values given in passes, found among ever fewer keys: each pass
    either counts the values whose keys share the known leading bits, by their next bits (at most
    ``bits`` of them), or, when at most ``hold`` share them, keeps those values."""

    def __init__(self, rank: int, hold: int, bits: int) -> None:
        self.rank, self.hold, self.bits = rank, hold, bits
        self.lo = np.uint64(0)  # the keys still in the running: lo to lo + 2**free - 1
        self.free = 64
        self.count: int | None = None  # how many values hold those keys (all of them, before the first pass)
        self.below = 0  # how many values have smaller keys
        self.value: float | None = None
        self._hist: NDArray[np.int64] | None = None
        self._span: tuple[int, int] | None = None  # the least and greatest key counted this pass
        self._kept: list[NDArray[np.float64]] = []

    def _collecting(self) -> bool:
        return self.count is not None and self.count <= self.hold

    def _shift(self) -> int:
        return max(0, self.free - self.bits)

    def feed(self, x: NDArray[np.float64], keys: NDArray[np.uint64]) -> None:
        """This pass's next values (no NaN) and their :func:`_keys`."""
        if self.value is not None:
            return
        if self.free < 64:
            inside = (keys >= self.lo) & (keys <= self.lo + np.uint64((1 << self.free) - 1))
            x, keys = x[inside], keys[inside]
        if self._collecting():
            self._kept.append(np.array(x, np.float64))
            return
        shift = self._shift()
        bins = ((keys - self.lo) >> np.uint64(shift)).astype(np.intp)
        counts = np.bincount(bins, minlength=1 << (self.free - shift))
        self._hist = counts if self._hist is None else self._hist + counts
        if keys.size:  # so that a crowd of one value (a cap, a fill) is known as such without more passes
            lo, hi = int(keys.min()), int(keys.max())
            self._span = (lo, hi) if self._span is None else (min(lo, self._span[0]), max(hi, self._span[1]))

    def close(self) -> bool:
        """End the pass; True once the value is known."""
        if self.value is not None:
            return True
        if self._collecting():
            kept = np.concatenate(self._kept) if self._kept else np.zeros(0)
            self._kept = []
            k = self.rank - self.below
            self.value = float(np.partition(kept, k)[k])
            return True
        shift = self._shift()
        hist = self._hist if self._hist is not None else np.zeros(1 << (self.free - shift), np.int64)
        span, self._hist, self._span = self._span, None, None
        if span is not None and span[0] == span[1]:  # every value counted is one and the same
            self.value = _value(np.uint64(span[0]))
            return True
        cum = np.cumsum(hist)
        k = self.rank - self.below
        j = int(np.searchsorted(cum, k, side="right"))
        self.below += int(cum[j - 1]) if j else 0
        self.count = int(hist[j])
        self.lo = self.lo + (np.uint64(j) << np.uint64(shift))
        self.free = shift
        if self.free == 0:  # one key: the value itself
            self.value = _value(self.lo)
            return True
        return False


class StreamedMedian:
    """:func:`numpy.median` of all the values :meth:`feed` is given, exact, in as many passes over the same
    values (in the same order or not) as it takes: each pass, :meth:`feed` its values, then :meth:`close`;
    when that says True, :attr:`value` is the median (NaN if any value was NaN, as :func:`numpy.median`
    gives). Passes after the first keep at most ``hold`` values; usually two passes do."""

    def __init__(self, hold: int = 1 << 22, bits: int = 20) -> None:
        if not 1 <= bits <= 24:
            raise ValueError(f"a streamed median counts by 1 to 24 bits at a time (2**bits bins), not {bits}")
        self.hold, self.bits = hold, bits
        self.n = 0
        self.nan = False
        self._first = True
        self._ranks: list[_Rank] = []
        self._counting = _Rank(0, hold, bits)  # the first pass's counts, shared by both middle ranks
        self.value: float | None = None

    def feed(self, values: NDArray[np.floating]) -> None:
        """The next of this pass's values."""
        if self.value is not None:
            return
        x = np.asarray(values, np.float64).ravel()
        finite = ~np.isnan(x)
        if self._first:
            self.n += x.size
            self.nan |= not bool(finite.all())
        if not finite.all():
            x = x[finite]
        if self.nan:
            return
        keys = _keys(x)
        for r in self._ranks if not self._first else [self._counting]:
            r.feed(x, keys)

    def close(self) -> bool:
        """End the pass; True once :attr:`value` is known (after the first pass, with no values, NaN)."""
        if self.value is not None:
            return True
        if self._first:
            self._first = False
            if self.nan or self.n == 0:
                self.value = float("nan")
                return True
            half = self.n // 2
            hist = self._counting._hist
            self._ranks = [_Rank(k, self.hold, self.bits) for k in ((half,) if self.n % 2 else (half - 1, half))]
            for r in self._ranks:
                r._hist = None if hist is None else hist.copy()
                r._span = self._counting._span
        if not all([r.close() for r in self._ranks]):
            return False
        # numpy.median's own arithmetic: the mean of the middle one or two.
        self.value = float(np.mean(np.array([r.value for r in self._ranks], np.float64)))
        return True
