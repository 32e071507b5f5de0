"""The sub-metre rules of ``irmad-cva`` 4, for pixels of :data:`FINE_PIXEL_M` or finer (the package
docstring says why): a band whose gain went astray matched by its quartiles, the noise scale read from
the quietest pixels, Otsu's grow threshold, and changed pixels made objects in metres.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .windows import _disc

__all__ = ["FINE_PIXEL_M", "FINE_QUIET_SHARE", "FINE_TOLERANCE_M", "FINE_OPEN_M", "FINE_CLOSE_M", "FINE_GAIN_RANGE"]

FINE_PIXEL_M = 1.0
"""Pixels of this size or finer (metres) get the sub-metre rules of ``irmad-cva`` 4 (package docstring). At
3 m a building or a trench is a few pixels and the demo's pairs are days apart; at 0.3-1 m (aerial,
Maxar, SkySat, Pléiades Neo, Google Earth) it is hundreds of pixels and the dates are often years apart."""

FINE_QUIET_SHARE = 0.1
"""Sub-metre: the noise spread is also read from this quietest share of the compared pixels (the lowest
decile of the change vector's length), which a change of up to nine tenths of a scene leaves alone; the
median absolute deviation (a half) is widened by the change once a sixth or more of the scene changed.
The lower quartile was the first choice; the decile scored better on the LEVIR-CD samples (and on DSIFN-CD's)
in ``python benchmarks/change_submetre.py --grid``."""

FINE_TOLERANCE_M = 1.0
"""Sub-metre: how far (metres) an edge may lie from where the other date has it without being change.
Two sub-metre images of one place, bought or rendered apart, are seldom registered better than a pixel
or two, and half a pixel along a roof's edge is a full-contrast difference there."""

FINE_OPEN_M = 1.0
"""Sub-metre: changed areas narrower than twice this (metres) are taken away by a morphological opening
with a disc of this radius: the rim of a roof, a kerb or a shadow's edge half a pixel out of register."""


FINE_CLOSE_M = 2.0
"""Sub-metre: gaps narrower than twice this (metres) between changed parts are closed (a morphological
closing with a disc of this radius, after the opening): a roof, a yard or a building site is seen in
pieces where parts of it happen to match what was there before."""

FINE_GAIN_RANGE = (0.5, 2.0)
"""Sub-metre: a band's gain from the earlier date to the later (the orthogonal regression's slope) outside
this range is not illumination, haze or a rendering's contrast but a regression gone astray: pixels of two
sub-metre dates are barely correlated (misregistration, parallax, shadows, cars), and the slope of two
uncorrelated variables is anything (-120 to 20 on the LEVIR-CD and DSIFN-CD samples, where a slope of 13
made new pink roofs match the fields they replaced). Such a band is matched by the quartiles of
IR-MAD's invariant half instead (:func:`_quartile_match`)."""


def _quartile_match(u: NDArray[np.float64], v: NDArray[np.float64]) -> tuple[float, float]:
    """The gain and offset that put ``u``'s median and interquartile range on ``v``'s (1 and the medians'
    difference when either range is empty): a normalisation that needs no pixel-by-pixel correlation."""
    qu, qv = np.quantile(u, [0.25, 0.5, 0.75]), np.quantile(v, [0.25, 0.5, 0.75])
    slope = float((qv[2] - qv[0]) / (qu[2] - qu[0])) if qu[2] > qu[0] and qv[2] > qv[0] else 1.0
    return slope, float(qv[1] - slope * qu[1])


def _fine_scale(v: NDArray[np.float64], n_bands: int) -> float:
    """The factor (at most 1) the squared length of the standardised change vector is divided by at
    sub-metre: the :data:`FINE_QUIET_SHARE` quantile of its values ``v`` at the compared pixels with a whole
    window, over chi-square's with ``n_bands`` degrees of freedom. Under no change it is about 1 (as the per-band
    median absolute deviations already make it); where much of the scene changed, the changed pixels have widened
    those deviations and it is less. Never above 1: the rule only undoes a widening."""
    from scipy import stats

    if v.size < 100:
        return 1.0
    ref = float(stats.chi2.ppf(FINE_QUIET_SHARE, n_bands))
    q = float(np.quantile(v, FINE_QUIET_SHARE))
    return min(1.0, q / ref) if q > 0 else 1.0


def _otsu(v: NDArray[np.float64], bins: int = 256) -> float:
    """Otsu's threshold of the values ``v`` (a histogram of ``bins`` bins up to their 99.9th percentile: a
    few extreme values do not squeeze the rest into a handful of bins)."""
    hi = float(np.quantile(v, 0.999))
    counts, edges = np.histogram(v, bins=bins, range=(float(v.min()), hi if hi > v.min() else float(v.max()) + 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts).astype(np.float64)
    w1 = w0[-1] - w0
    s0 = np.cumsum(counts * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = w0 * w1 * (s0 / w0 - (s0[-1] - s0) / w1) ** 2
    between[~np.isfinite(between)] = -1.0
    return float(edges[int(np.argmax(between)) + 1])


def _fine_grow(z: NDArray[np.float64], ok: NDArray[np.bool_], grow: float, n_bands: int) -> float:
    """The grow threshold (on ``z``) at sub-metre: Otsu's threshold of the change vector's length where it
    is below the noise's ``grow`` (much of the scene changed, and the changed pixels form their own
    population), never below the chi-square quantile 0.9 (a tenth of unchanged pixels pass it)."""
    from scipy import stats

    v = np.sqrt(z[ok & np.isfinite(z)])
    if v.size < 100:
        return grow
    return max(float(stats.chi2.ppf(0.9, n_bands)), min(grow, _otsu(v) ** 2))


def _fine_shapes(mask: NDArray[np.bool_], pixel_m: float, min_area_m2: float) -> NDArray[np.bool_]:
    """Sub-metre changed pixels as objects: opened by a disc of :data:`FINE_OPEN_M`, closed by one of
    :data:`FINE_CLOSE_M`, their holes smaller than ``min_area_m2`` filled (a hole smaller than the smallest
    region reported is part of its region)."""
    from scipy import ndimage

    r = int(round(FINE_OPEN_M / pixel_m))
    if r >= 1:
        mask = ndimage.binary_opening(mask, structure=_disc(r))
    r = int(round(FINE_CLOSE_M / pixel_m))
    if r >= 1:
        mask = ndimage.binary_closing(mask, structure=_disc(r))
    holes = ndimage.binary_fill_holes(mask) & ~mask
    labels, n = ndimage.label(holes)
    if n:
        small = np.bincount(labels.ravel()) * pixel_m**2 < min_area_m2
        small[0] = False
        mask = mask | small[labels]
    return mask
