"""Clutter statistics of the SAR detector, per land/water cell and per CFAR block.

One pass over the pixels (:func:`_cell_pass`) gives per cell of ``land_cell_m`` the sums of
I and I², the count of used pixels and the brightest one; CFAR blocks (k × k cells) and the
background ring of every block (:func:`_ring_sum`, integral images) are built from these
cells, with censoring of bright blocks (:class:`_CensoredRings`, :func:`_thresholds`). See
:mod:`sitewatch.detect.sar` for how the detector uses them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from .sar import SarParams


MAX_INTENSITY = 1e10
"""Brightest float intensity taken for a radar return (100 dB): calibrated sigma0 stays below 10^4
and a 16-bit amplitude squared below 4.3·10^9. Brighter pixels (a float fill such as FLT_MAX, a
corrupt value) are invalid like NaN: their squares, summed with the sea's, left nothing of the sea's
statistics in float arithmetic, and one such pixel hid every ship after it or made ships of noise."""

GEO_CENSOR = 3.0
"""A block whose mean exceeds this multiple of its ring's geometric block mean is censored first."""


def _cell_block(p: SarParams, gpx: float) -> tuple[int, int]:
    """Land/water cell side ``f`` in pixels and CFAR block side in cells ``k`` (block = f·k pixels)."""
    f = int(max(1, round(p.land_cell_m / gpx)))
    k = int(max(1, round(p.block_m / (f * gpx))))
    return f, k


def _block_px(p: SarParams, gpx: float) -> int:
    f, k = _cell_block(p, gpx)
    return f * k


def _fold(a: NDArray[Any], f: int, op: np.ufunc, dtype: Any = None) -> NDArray[Any]:
    """Reduce f × f groups of ``a`` (shape a multiple of f) with ``op``, by strided slices (fast for small f)."""
    h, w = a.shape
    v = a.reshape(h // f, f, w)
    if f > 1 and (dtype is None or dtype == a.dtype):
        r, first = op(v[:, 0], v[:, 1]), 2
    else:
        r, first = v[:, 0].astype(dtype or a.dtype, copy=True), 1
    for j in range(first, f):
        op(r, v[:, j], out=r)
    return _fold_columns(r, f, op)


def _fold_columns(r: NDArray[Any], f: int, op: np.ufunc) -> NDArray[Any]:
    """Reduce groups of f columns of ``r`` (width a multiple of f) with ``op``; ``r`` itself for f = 1."""
    if f == 1:
        return r
    c = op(r[:, 0::f], r[:, 1::f])
    for j in range(2, f):
        op(c, r[:, j::f], out=c)
    return c


def _fold_stats(xs: NDArray[np.float32], f: int) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """Sums of I and I² and the maximum over the f × f cells of ``xs`` (shape a multiple of f).

    What :func:`_fold` gives for ``xs``, ``np.square(xs)`` and ``np.maximum``, with the same
    additions in the same order, but each row of a cell row is read once for all three while
    it is in cache, and squared a row at a time: a squared copy of the whole strip would not
    stay in the cache, and writing it cost as much as the three folds together.
    """
    h, w = xs.shape
    v = xs.reshape(h // f, f, w)
    s, m, q = v[:, 0].copy(), v[:, 0].copy(), np.square(v[:, 0])
    sq = np.empty_like(q)
    for j in range(1, f):
        row = v[:, j]
        s += row
        np.maximum(m, row, out=m)
        q += np.square(row, out=sq)
    return _fold_columns(s, f, np.add), _fold_columns(q, f, np.add), _fold_columns(m, f, np.maximum)


def _aggregate(a: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """Sum k × k groups of cells (partial groups at the far edges)."""
    if k == 1:
        return a
    h, w = a.shape
    hb, wb = -(-h // k), -(-w // k)
    if hb * k != h or wb * k != w:
        a = np.pad(a, ((0, hb * k - h), (0, wb * k - w)))
    return _fold(a, k, np.add)


def _strip_cells(
    xs: NDArray[np.float32], us: NDArray[np.bool_] | None, look: bool, f: int, pw: int
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32], NDArray[np.float32] | float, NDArray[np.bool_] | None]:
    """Sums of I and I², maximum and count of the used pixels per f × f cell of a row strip,
    and its float pixels that are not used (None: all used). ``us``: the pixels given as used;
    ``look``: look for NaN, 0, negative and too bright (:data:`MAX_INTENSITY`) pixels; ``pw``: columns of zeros that complete the
    last cell."""
    good = None
    if look:
        # NaN fails both comparisons; negative intensity is a no-data value or noise taken out,
        # never a return; above MAX_INTENSITY a fill value (FLT_MAX) or a corrupt pixel.
        good = xs > 0
        good &= xs <= MAX_INTENSITY
        if good.all():
            good = None
        else:
            us = good if us is None else us & good
    if us is not None:
        xs = np.where(us, xs, np.float32(0))
    rows = xs.shape[0]
    ph = -(-rows // f) * f - rows
    if ph or pw:  # edge strip: pad to whole cells (zeros count as unused)
        xs = np.pad(xs, ((0, ph), (0, pw)))
        us = np.pad(np.ones((rows, xs.shape[1] - pw), bool) if us is None else us, ((0, ph), (0, pw)))
    counts: NDArray[np.float32] | float = f * f if us is None else _fold(us.view(np.uint8), f, np.add, np.float32)
    return (*_fold_stats(xs, f), counts, good)


def _cell_pass(
    x: NDArray[np.float32], given: NDArray[np.bool_] | None, check_float: bool, f: int, pool: Executor | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float32], NDArray[np.bool_] | None]:
    """The one pass over all pixels: per f × f cell the sums of I and I², the count and the
    maximum of the used pixels, and the mask of used pixels (None: all used).

    Used: ``given`` (valid and water) and, for float input, finite and non-zero. Row strips
    are folded while they are in the CPU cache (:func:`_fold_stats`); with a ``pool`` strips
    run in threads (numpy releases the GIL inside its loops).
    """
    h, w = x.shape
    hc, wc = -(-h // f), -(-w // f)
    s1 = np.zeros((hc, wc))
    s2 = np.zeros((hc, wc))
    n = np.zeros((hc, wc))
    mx = np.zeros((hc, wc), np.float32)
    # Alone, strips of a quarter megapixel (1 MB) stay in the CPU cache through the folds. In
    # threads every numpy call hands the interpreter lock over, which costs more than the cache
    # saves: four times larger strips, four times fewer calls.
    strip = max(1, (1 << 20 if pool is not None else 1 << 18) // max(w, 1) // f) * f
    bad: dict[int, NDArray[np.bool_]] = {}

    def one(r0: int) -> None:
        xs = x[r0 : r0 + strip]
        # A positive minimum rules out NaN (the minimum would be NaN), 0, negative values and
        # -inf; otherwise every pixel is looked at. +inf and other values above MAX_INTENSITY show
        # in the maxima: then the strip is folded again, looking.
        look = check_float and not xs.min() > 0
        with np.errstate(over="ignore"):  # a square past float32 (FLT_MAX): the strip is folded again
            folded = _strip_cells(xs, None if given is None else given[r0 : r0 + strip], look, f, wc * f - w)
        if check_float and not look and folded[2].max() > MAX_INTENSITY:
            folded = _strip_cells(xs, None if given is None else given[r0 : r0 + strip], True, f, wc * f - w)
        sums, squares, peaks, counts, good = folded
        cells = slice(r0 // f, r0 // f + sums.shape[0])
        s1[cells], s2[cells], mx[cells], n[cells] = sums, squares, peaks, counts
        if good is not None:
            bad[r0] = good

    _in_threads(one, range(0, h, strip), pool)
    if not bad:
        return s1, s2, n, mx, given
    used = np.ones((h, w), bool) if given is None else given.copy()
    for r0, good in bad.items():
        used[r0 : r0 + good.shape[0]] &= good
    return s1, s2, n, mx, used


def _ring_sum(a: NDArray[np.float64], g: int, r: int) -> NDArray[np.float64]:
    """Sum over the (2r+1)² window minus the (2g+1)² window centred on each cell, zero outside."""
    h, w = a.shape
    c = np.zeros((h + 2 * r + 1, w + 2 * r + 1))
    c[r + 1 : r + 1 + h, r + 1 : r + 1 + w] = a
    np.cumsum(c, axis=0, out=c)
    np.cumsum(c, axis=1, out=c)

    def box(q: int) -> NDArray[np.float64]:
        # In place: every temporary of this size is memory the system must map and clear anew.
        o, e = r - q, r + q + 1
        out = np.subtract(c[e : e + h, e : e + w], c[o : o + h, e : e + w])
        out -= c[e : e + h, o : o + w]
        out += c[o : o + h, o : o + w]
        return out

    ring = box(r)
    ring -= box(g)
    return ring


def _ring_mean(rs: NDArray[np.float64], rn: NDArray[np.float64], total: float, tot_n: float, min_n: float) -> NDArray[np.float64]:
    """Mean over the background ring of every block, from the ring sums of a quantity and of the
    count; the image's mean (``total`` / ``tot_n``) where the ring holds fewer than ``min_n``."""
    m = rs / np.maximum(rn, 1.0)
    few = rn < min_n
    if few.any():
        # Too little water around (a small chip, a narrow channel): the image's water as background.
        m[few] = total / max(tot_n, 1.0)
    return m


def _started(pool: Executor, fn: Callable[[Any], Any], arg: Any) -> Callable[[], Any]:
    """``fn(arg)`` handed to the pool; the call returned gives its result, and computes it in the
    calling thread instead if no thread of the pool has taken it up yet (busy with other work):
    a caller never waits idle."""
    fut = pool.submit(fn, arg)
    return lambda: fn(arg) if fut.cancel() else fut.result()


def _in_threads(fn: Callable[[Any], Any], items: Sequence[Any], pool: Executor | None) -> list[Any]:
    """``fn`` of each item, in order; with a pool this thread works along with the pool's: it
    takes the first item, then, from the back, each item no thread of the pool has taken up yet
    (the pool's threads work from the front). ``pool.map`` would leave it waiting, and while the
    pool is busy with other work nothing would be done."""
    if pool is None or len(items) < 2:
        return [fn(a) for a in items]
    rest = [pool.submit(fn, a) for a in items[1:]]
    first = fn(items[0])
    here = {j: fn(items[j + 1]) for j in reversed(range(len(rest))) if rest[j].cancel()}
    return [first] + [here[j] if j in here else f.result() for j, f in enumerate(rest)]


def _sparse_ring_sums(arrays: Sequence[NDArray[np.float64]], idx: NDArray[np.intp], g: int, r: int) -> list[NDArray[np.float64]]:
    """:func:`_ring_sum` of arrays that are zero except at the flat indices ``idx``: each of those
    blocks adds its value over its own ring (the ring is symmetric), by one bincount."""
    spread = _ring_spread(idx, arrays[0].shape, g, r)
    return [_spread_sum(a, idx, spread) for a in arrays]


def _ring_spread(idx: NDArray[np.intp], shape: tuple[int, ...], g: int, r: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The cells of the rings of the blocks at flat indices ``idx`` (inside the image), and which
    of those blocks each belongs to: what :func:`_spread_sum` adds up."""
    h, w = shape
    d = np.arange(-r, r + 1)
    dy, dx = np.meshgrid(d, d, indexing="ij")
    ring = (np.abs(dy) > g) | (np.abs(dx) > g)
    iy, ix = np.divmod(idx, w)
    yy = iy[:, None] + dy[ring]
    xx = ix[:, None] + dx[ring]
    ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
    return (yy * w + xx)[ok], np.broadcast_to(np.arange(idx.size)[:, None], ok.shape)[ok]


def _spread_sum(a: NDArray[np.float64], idx: NDArray[np.intp], spread: tuple[NDArray[np.intp], NDArray[np.intp]]) -> NDArray[np.float64]:
    """The values of ``a`` at ``idx`` each added over its block's ring (:func:`_ring_spread`)."""
    flat, src = spread
    return np.bincount(flat, a.ravel()[idx][src], a.size).astype(np.float64, copy=False).reshape(a.shape)


def _ring_count(counts: NDArray[np.generic], g: int, r: int) -> NDArray[np.float64]:
    """:func:`_ring_sum` of whole-number ``counts`` (booleans too), exactly: where nearly every
    block holds the same count c, c times the product of the window's row and column spans
    (clipped at the edges) less the other blocks' shortfall, spread over their own rings."""
    h, w = counts.shape
    a = counts.astype(np.float64, copy=False)
    c = float(a.max())
    short = np.flatnonzero(a != c)
    if short.size * ((2 * r + 1) ** 2 - (2 * g + 1) ** 2) > 2 * a.size:
        return _ring_sum(a, g, r)

    def span(m: int, q: int) -> NDArray[np.float64]:
        i = np.arange(m)
        return (np.minimum(i + q, m - 1) - np.maximum(i - q, 0) + 1).astype(np.float64)

    out = np.outer(span(h, r), span(w, r)) - np.outer(span(h, g), span(w, g))
    if c != 1.0:
        out *= c
    if short.size:
        out -= _sparse_ring_sums((c - a,), short, g, r)[0]
    return out


def _block_ring(job: tuple[int, NDArray[np.float64]], g: int, r: int) -> NDArray[np.float64]:
    """Ring sums of the block sums ``job`` = (index, array): 0 for I, 1 for I², 2 for the count (exact)."""
    i, a = job
    return _ring_count(a, g, r) if i == 2 else _ring_sum(a, g, r)


class _CensoredRings:
    """Ring statistics over the blocks not censored, for a series of censoring masks.

    Censored blocks are few (ships, bright corners): the ring sums over all blocks are taken
    once and the censored blocks' share, spread over their own rings, subtracted. With many
    censored blocks (coasts, land) the sums are taken again over the kept ones. The censoring
    rounds need only the mean square (:meth:`mean_square`); the mean and spread are taken for
    the last mask (:meth:`stats`). With a pool the all-block sums are taken in its threads
    while the caller finds the censoring masks and the censored blocks' share.
    """

    def __init__(self, s: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]], g: int, r: int, min_n: float, pool: Executor | None):
        self.s, self.g, self.r, self.min_n, self.pool = s, g, r, min_n, pool
        self.ring_cells = (2 * r + 1) ** 2 - (2 * g + 1) ** 2
        self.full: dict[int, NDArray[np.float64] | Callable[[], NDArray[np.float64]]] = {}
        self.totals = tuple(float(a.sum()) for a in s)
        # Not a method: what the pool holds must not hold this object (a reference cycle would
        # keep its arrays until the garbage collector runs).
        self.ring = partial(_block_ring, g=g, r=r)
        if pool is not None:
            # The all-block sums start at once, in the order they are needed (the censoring
            # rounds take I² and the count, the last mask I too), while the caller finds the
            # first mask. They go unused only where many blocks are censored (coasts), and
            # then took the other core's time.
            for i in (1, 2, 0):
                self.full[i] = _started(pool, self.ring, (i, s[i]))

    def mean_square(self, keep: NDArray[np.bool_]) -> NDArray[np.float64] | None:
        """Mean square of the rings, None when no block is kept."""
        got = self._rings(keep, (1, 2))
        if got is None:
            return None
        (rs2, rn), (t2, tn) = got
        return _ring_mean(rs2, rn, t2, tn, self.min_n)

    def stats(self, keep: NDArray[np.bool_]) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        """Mean and standard deviation of the rings, None when no block is kept."""
        got = self._rings(keep, (0, 1, 2))
        if got is None:
            return None
        (rs1, rs2, rn), (t1, t2, tn) = got
        m1 = _ring_mean(rs1, rn, t1, tn, self.min_n)
        var = _ring_mean(rs2, rn, t2, tn, self.min_n)
        var -= m1 * m1
        np.maximum(var, 0.0, out=var)
        return m1, np.sqrt(var, out=var)

    def _rings(self, keep: NDArray[np.bool_], which: tuple[int, ...]) -> tuple[list[NDArray[np.float64]], list[float]] | None:
        """Ring sums over the kept blocks and image totals of the sums ``which`` (indices into
        ``s``, the count last); None when no block is kept."""
        n = self.s[2]
        drop = np.flatnonzero(~keep & (n > 0))
        if drop.size * self.ring_cells > 2 * n.size:
            c = [np.where(keep, self.s[i], 0.0) for i in which]
            tot = [float(a.sum()) for a in c]
            if tot[-1] == 0:
                return None
            return _in_threads(self.ring, list(zip(which, c, strict=True)), self.pool), tot
        tot = [self.totals[i] - float(self.s[i].ravel()[drop].sum()) for i in which]
        if tot[-1] == 0:
            return None
        for i in which:
            if i not in self.full:
                self.full[i] = self.ring((i, self.s[i]))
        spread = _ring_spread(drop, n.shape, self.g, self.r) if drop.size else None

        def censored(i: int) -> NDArray[np.float64]:  # the all-block ring less the censored blocks' share
            ring = self._full(i)
            return ring if spread is None else ring - _spread_sum(self.s[i], drop, spread)

        return _in_threads(censored, which, self.pool), tot


    def _full(self, i: int) -> NDArray[np.float64]:
        got = self.full[i]
        if callable(got):
            got = self.full[i] = got()
        return got


def _censored_rings(
    s1: NDArray[np.float64], s2: NDArray[np.float64], n: NDArray[np.float64], p: SarParams, b: int, gpx: float, pool: Executor | None
) -> _CensoredRings:
    """The ring statistics of blocks of ``b`` pixels (guard and background from ``p``); with a
    pool their all-block ring sums are its next jobs."""
    bm = b * gpx
    g = max(1, math.ceil(p.guard_m / bm))
    r = max(g + 1, math.ceil(p.background_m / bm))
    return _CensoredRings((s1, s2, n), g, r, p.min_background_blocks * b * b, pool)


def _thresholds(
    s1: NDArray[np.float64],
    s2: NDArray[np.float64],
    n: NDArray[np.float64],
    p: SarParams,
    b: int,
    gpx: float,
    pool: Executor | None = None,
    rings: _CensoredRings | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Seed and growth thresholds per block and the background mean, with censoring
    (``rings``: those of :func:`_censored_rings`, if already made)."""
    rings = rings if rings is not None else _censored_rings(s1, s2, n, p, b, gpx, pool)
    g, r = rings.g, rings.r
    div = np.maximum(n, 1.0)
    blk_m2 = s2 / div
    keep = n > 0
    # First guess of the clutter level: the geometric mean of the ring's block means. A large
    # bright ship fills many blocks of a small chip and inflates the arithmetic ring mean that
    # censoring compares with (so it censors nothing); the log-mean barely moves.
    lm = np.where(keep, np.log(np.maximum(s1, 1e-30) / div), 0.0)
    cnt, lsum = _ring_count(keep, g, r), _ring_sum(lm, g, r)
    geo = np.exp(lsum / np.maximum(cnt, 1.0))
    keep &= (cnt < p.min_background_blocks) | (s1 / div <= GEO_CENSOR * geo)
    for _ in range(2):
        # Censor blocks far brighter than their background, then take the ring again without them.
        m2 = rings.mean_square(keep)
        if m2 is None:
            break
        keep = (n > 0) & (blk_m2 <= p.censor_ratio * m2)
    st = rings.stats(keep)
    if st is None:  # every block censored (tiny chip filled by a ship): uncensored image stats
        st = rings.stats(n >= 0)
    assert st is not None
    mu, sd = st
    seed = np.maximum(mu + p.k_seed * sd, mu * 10.0 ** (p.seed_floor_db / 10.0))
    return seed, mu + p.k_grow * sd, mu
