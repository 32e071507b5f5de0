"""Pixel neighbourhoods: the mean over the usable pixels of a square window (the optical differences'
smoothing, SAR's despeckling) and a disc as a structuring element.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def _masked_mean(a: NDArray[np.floating], ok: NDArray[np.bool_], size: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean of ``a`` over the ``ok`` pixels of a ``size`` square around each pixel (NaN with none),
    and the share of that square they are (less than 1 at the grid's edge and beside no data)."""
    from scipy import ndimage

    if size <= 1:
        return np.where(ok, a, np.nan).astype(np.float64), ok.astype(np.float64)
    # In place where it can be (the same values): a whole Sentinel-2 tile is 1 GB an array.
    num = ndimage.uniform_filter(np.where(ok, a, 0.0).astype(np.float64, copy=False), size, mode="constant")
    den = ndimage.uniform_filter(ok.astype(np.float64), size, mode="constant")
    den *= size * size
    np.round(den, out=den)
    den /= size * size  # whole pixels: the filter's sums carry rounding
    with np.errstate(invalid="ignore", divide="ignore"):
        num /= np.maximum(den, 1e-12)
    num[~(ok & (den > 0))] = np.nan
    den[~ok] = 0.0
    return num, den


def _disc(radius: int) -> NDArray[np.bool_]:
    """A disc of ``radius`` pixels as a structuring element."""
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return (yy**2 + xx**2) <= radius * radius + 1e-9
