"""SAR change (``log-ratio``; the package docstring says the method): the despeckled log-ratio of two
intensities, the equivalent looks of each window, and the F-distribution thresholds they give; of the whole
grid at once (:func:`sar_log_ratio`) or, to the same bits, a block of rows at a time (:func:`sar_blocks`, what
:func:`~.compare.detect_changes` runs).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .blocks import DEFAULT_BLOCKS, RowBlocks, _BlockMeans, _halo, _rows
from .median import StreamedMedian
from .windows import _masked_mean

__all__ = ["sar_blocks", "sar_log_ratio"]

_MEDIAN_HOLD = 1 << 22
"""Values a :class:`~.median.StreamedMedian` of :func:`_sar_scene` keeps once it knows their bin (32 MB)."""


def _looks_for_mad(mad: float) -> float:
    """The looks L whose log F(2L, 2L) (symmetric about 0) has median absolute deviation ``mad``."""
    from scipy import optimize, stats

    def gap(log_l: float) -> float:
        looks = math.exp(log_l)
        return math.log(stats.f.ppf(0.75, 2 * looks, 2 * looks)) - mad

    lo, hi = math.log(0.3), math.log(1e5)
    if gap(hi) > 0:
        return 1e5
    if gap(lo) < 0:
        return 0.3
    return math.exp(optimize.brentq(gap, lo, hi, xtol=1e-4))


def sar_log_ratio(
    before: NDArray[np.floating], after: NDArray[np.floating], ok: NDArray[np.bool_], *,
    despeckle_px: int = 5, dark_db: float | None = -14.0,
) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]:  # fmt: skip
    """Despeckled log-ratio ln(after / before) less its median, the pixels it tests, and each pixel's
    looks: those of a whole window read from the log-ratio's spread (see the package docstring),
    times how evenly the window's backscatter is spread (:func:`_window_spread`) and the share of the window with data (fewer at the grid's edge and beside no data, whose
    wider log-ratio would otherwise pass for change). Looks are NaN when too few pixels are tested."""
    b, share = _masked_mean(np.maximum(before, 0.0), ok, despeckle_px)
    a, _ = _masked_mean(np.maximum(after, 0.0), ok, despeckle_px)
    ok = ok & np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.where(ok, np.log(a / b), np.nan)
    tested = ok.copy()
    if dark_db is not None:
        dark = 10 ** (dark_db / 10)
        tested &= ~((a < dark) & (b < dark))
    whole = tested & (share >= 1.0)
    if whole.sum() < 10:
        return lr, tested, np.full(ok.shape, np.nan)
    lr = lr - float(np.median(lr[whole]))
    looks = _looks_for_mad(float(np.median(np.abs(lr[whole]))))
    spread = _window_spread(before, after, ok, a, b, despeckle_px)
    return lr, tested, looks * share * np.minimum(1.0, spread / float(np.median(spread[whole])))


def _window_spread(
    before: NDArray[np.floating], after: NDArray[np.floating], ok: NDArray[np.bool_], a: NDArray[np.float64],
    b: NDArray[np.float64], despeckle_px: int,
) -> NDArray[np.float64]:  # fmt: skip
    """How evenly each despeckling window's backscatter is spread over its pixels: (Σ μ)² / (n Σ μ²) for the
    means μ of its n pixels with data, 1 when they are all alike, 1/n when one pixel holds it all.

    The mean of n independent L-look intensities of means μ has (Σ μ)² / Σ μ² × L looks, not n × L: a
    window around one bright scatterer or a bright edge averages little of that pixel's speckle away.
    Each μ is read as the test's null hypothesis has it, one mean for both dates: the mean of the two
    intensities (their square is μ² × (1 + 1/2L) on average, a constant the caller's division by the
    scene's median takes out). A pixel bright in one date only (a speckle peak) counts as bright, so
    the window around it gets few looks; so does a real change, whose threshold rises accordingly.
    Capped at 1."""
    pooled = (np.maximum(before, 0.0) + np.maximum(after, 0.0)) / 2
    sq, _ = _masked_mean(pooled.astype(np.float64) ** 2, ok, despeckle_px)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = ((a + b) / 2) ** 2 / sq
    return np.where(np.isfinite(spread), np.minimum(spread, 1.0), 1.0)


@dataclass(frozen=True)
class _SarScene:
    """The scene-wide quantities of :func:`sar_log_ratio`, from every pixel: the log-ratio's median and the
    median of the windows' spread over the tested pixels with a whole window, the looks of a whole window,
    and the pixels whose window means are both positive (a byte a pixel, the spread's window needs them
    in the rows beside a block)."""

    median: float
    looks: float
    spread_median: float
    positive: NDArray[np.bool_]


class _LogRatioRows:
    """One block's despeckled means, log-ratio (not yet less the median), tested pixels and share, with the
    window means of each quantity carried down the grid (:class:`~.blocks._BlockMeans`)."""

    def __init__(self, despeckle_px: int, height: int, dark_db: float | None) -> None:
        self.size, self.halo, self.height = despeckle_px, _halo(despeckle_px), height
        self.means = _BlockMeans(despeckle_px, height)
        self.pooled = _BlockMeans(despeckle_px, height)
        self.dark = None if dark_db is None else 10 ** (dark_db / 10)

    def block(self, before: Any, after: Any, ok: NDArray[np.bool_], r0: int, r1: int) -> tuple[NDArray[Any], ...]:
        """Rows ``r0`` to ``r1``: the means ``b`` and ``a``, the share, the pixels with both means positive,
        the log-ratio there (NaN elsewhere) and the tested pixels; also the extended rows' inputs."""
        ea, eb = max(0, r0 - self.halo), min(self.height, r1 + self.halo)
        bx, ax, okx = np.maximum(_rows(before, ea, eb, 0), 0.0), np.maximum(_rows(after, ea, eb, 0), 0.0), ok[ea:eb]
        b = self.means.mean("b", bx, okx, ea, r0, r1)
        a = self.means.mean("a", ax, okx, ea, r0, r1)
        share = self.means.share(okx, ea, r0, r1)
        positive = ok[r0:r1] & np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            lr = np.where(positive, np.log(a / b), np.nan)
        tested = positive.copy()
        if self.dark is not None:
            tested &= ~((a < self.dark) & (b < self.dark))
        self._extended = (ea, eb, bx, ax)
        return b, a, share, positive, lr, tested

    def spread(self, positive: NDArray[np.bool_], a: NDArray[np.float64], b: NDArray[np.float64], r0: int, r1: int) -> NDArray[np.float64]:
        """:func:`_window_spread` of rows ``r0`` to ``r1`` (of the last :meth:`block`), ``positive`` the whole grid's."""
        ea, eb, bx, ax = self._extended
        pooled = (bx + ax) / 2
        sq = self.pooled.mean("sq", pooled.astype(np.float64) ** 2, positive[ea:eb], ea, r0, r1)
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = ((a + b) / 2) ** 2 / sq
        return np.where(np.isfinite(spread), np.minimum(spread, 1.0), 1.0)


def _sar_scene(
    before: Any, after: Any, ok: NDArray[np.bool_], despeckle_px: int, dark_db: float | None, spans: list[tuple[int, int]],
) -> _SarScene | None:  # fmt: skip
    """:func:`sar_log_ratio`'s scene-wide quantities from every pixel, in passes down the grid until each is
    known: the pixels with both means positive (the first pass), and over the tested pixels with a whole
    window the log-ratio's median, then its median absolute deviation, and the windows' spread's median,
    each exact (:class:`~.median.StreamedMedian`: :func:`numpy.median`'s value, counted in bins and then
    chosen among the few values of one bin, not a float64 of every pixel held at once). Usually four passes:
    the log-ratio counted; kept in its middle bin, and the spread counted; the spread kept, the deviations
    counted; the deviations kept. None when fewer than 10 pixels are tested with a whole window."""
    height = ok.shape[0]
    positive = np.zeros(ok.shape, bool)
    lr_median, mad, spread_median = (StreamedMedian(hold=_MEDIAN_HOLD) for _ in range(3))
    median: float | None = None
    first = True
    while True:
        want_mad = median is not None and mad.value is None
        want_spread = not first and spread_median.value is None
        rows = _LogRatioRows(despeckle_px, height, dark_db)
        for r0, r1 in spans:
            b, a, share, pos, lr, tested = rows.block(before, after, ok, r0, r1)
            whole = tested & (share >= 1.0)
            if first:
                positive[r0:r1] = pos
            if median is None:
                lr_median.feed(lr[whole])
            if want_mad:
                mad.feed(np.abs(lr[whole] - median))
            if want_spread:
                spread_median.feed(rows.spread(positive, a, b, r0, r1)[whole])
        if first and lr_median.n < 10:
            return None
        first = False
        if median is None and lr_median.close():
            median = lr_median.value
        if want_mad:
            mad.close()
        if want_spread:
            spread_median.close()
        if mad.value is not None and spread_median.value is not None:
            break
    assert median is not None and mad.value is not None and spread_median.value is not None
    return _SarScene(median, _looks_for_mad(mad.value), spread_median.value, positive)


SarBlock = tuple[int, int, NDArray[np.float64], NDArray[np.bool_], NDArray[np.float64]]
"""Rows ``r0`` to ``r1`` of the log-ratio less its median, the tested pixels and each pixel's looks."""


def sar_blocks(
    before: Any, after: Any, ok: NDArray[np.bool_], *, despeckle_px: int = 5, dark_db: float | None = -14.0,
    blocks: RowBlocks = DEFAULT_BLOCKS,
) -> Iterator[SarBlock] | None:  # fmt: skip
    """:func:`sar_log_ratio`'s values a block of rows at a time, top to bottom: ``(r0, r1, lr, tested,
    looks)`` of rows ``r0`` to ``r1``; None when too few pixels are tested (its looks all NaN). ``before``
    and ``after`` are bands × rows × cols arrays whose band 0 is compared, or readers whose ``[0, a:b]``
    give those rows; ``ok`` is the whole grid's.

    The scene-wide quantities are taken first from every pixel (:func:`_sar_scene`), then the blocks are
    computed: whatever ``blocks`` says, the values are those of the whole grid at once, to the bit."""
    height, width = ok.shape
    spans = blocks.spans(height, width)
    scene = _sar_scene(before, after, ok, despeckle_px, dark_db, spans)
    if scene is None:
        return None

    def run(scene: _SarScene) -> Iterator[SarBlock]:
        rows = _LogRatioRows(despeckle_px, height, dark_db)
        for r0, r1 in spans:
            b, a, share, _, lr, tested = rows.block(before, after, ok, r0, r1)
            spread = rows.spread(scene.positive, a, b, r0, r1)
            yield r0, r1, lr - scene.median, tested, scene.looks * share * np.minimum(1.0, spread / scene.spread_median)

    return run(scene)


def _f_thresholds(looks: NDArray[np.float64], pfa: float) -> NDArray[np.float64]:
    """ln of the F(2L, 2L) quantile 1 - pfa/2 for each pixel's looks (computed once per distinct value)."""
    from scipy import stats

    out = np.full(looks.shape, np.inf)
    finite = np.isfinite(looks) & (looks > 0)
    values, inverse = np.unique(np.round(looks[finite], 6), return_inverse=True)
    out[finite] = np.log(stats.f.ppf(1.0 - pfa / 2, 2 * values, 2 * values))[inverse]
    return out
