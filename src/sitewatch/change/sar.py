"""SAR change (``log-ratio``; the package docstring says the method): the despeckled log-ratio of two
intensities, the equivalent looks of each window, and the F-distribution thresholds they give.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from .windows import _masked_mean

__all__ = ["sar_log_ratio"]


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


def _f_thresholds(looks: NDArray[np.float64], pfa: float) -> NDArray[np.float64]:
    """ln of the F(2L, 2L) quantile 1 - pfa/2 for each pixel's looks (computed once per distinct value)."""
    from scipy import stats

    out = np.full(looks.shape, np.inf)
    finite = np.isfinite(looks) & (looks > 0)
    values, inverse = np.unique(np.round(looks[finite], 6), return_inverse=True)
    out[finite] = np.log(stats.f.ppf(1.0 - pfa / 2, 2 * values, 2 * values))[inverse]
    return out
