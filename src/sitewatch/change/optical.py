"""Optical change (``irmad-cva``; the package docstring says the method): per pixel, the chi-square
statistic of the normalised, smoothed and standardised change vector, less the common change of the
pixel's spectral class, and the brightness change that gives a region its direction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from .irmad import irmad_weights
from .submetre import (
    FINE_GAIN_RANGE,
    _quartile_match,
)
from .windows import _disc, _masked_mean

__all__ = ["COVER_CLASSES", "CLASS_MIN_PIXELS", "NOISE_MIN_P", "NoiseRule", "optical_change_statistic"]


def _robust_sd(v: NDArray[np.floating]) -> float:
    med = float(np.median(v))
    return 1.4826 * float(np.median(np.abs(v - med)))


NoiseRule = Literal["scene", "quiet", "half"]
"""Which pixels each band's noise spread is read from (see :func:`_noise_sd`)."""

NOISE_MIN_P = 0.01
"""``quiet``: the sampled pixels IR-MAD gives a no-change probability of at least this."""


def _noise_sd(
    d: NDArray[np.float64], ok: NDArray[np.bool_], share: NDArray[np.float64], sample: NDArray[np.intp],
    w: NDArray[np.float64], rule: NoiseRule, n_bands: int,
) -> float:  # fmt: skip
    """The noise spread of one band's smoothed difference ``d``, read from pixels whose window is whole.

    ``scene`` (method version 1): 1.4826 × the median absolute deviation over every compared pixel,
    most of which did not change; the change itself widens it where much of a scene changed.
    ``quiet``: the same over the ``sample``d pixels to which IR-MAD (weights ``w``) gives a no-change
    probability of at least :data:`NOISE_MIN_P`. ``half``: the variance over the half of the sampled
    pixels IR-MAD ranks likeliest unchanged (the half the radiometric normalisation is fitted to),
    made consistent for that selection as the minimum covariance determinant's is (Croux & Haesbroeck,
    J. Multivariate Anal. 71, 1999): times 0.5 / F(χ²(p + 2); χ²(p) median), p = ``n_bands``.
    Too few pixels (under 100) in the set: ``scene``.
    """
    whole = ok & (share >= 1.0)
    if rule != "scene":
        pick = sample[(w >= (NOISE_MIN_P if rule == "quiet" else float(np.median(w)))) & whole.ravel()[sample]]
        v = d.ravel()[pick]
        if pick.size > 100 and rule == "quiet":
            return _robust_sd(v)
        if pick.size > 100:
            from scipy import stats

            c = 0.5 / float(stats.chi2.cdf(stats.chi2.ppf(0.5, n_bands), n_bands + 2))
            return math.sqrt(c * float(np.var(v)))
    return _robust_sd(d[whole if whole.sum() > 100 else ok])


COVER_CLASSES = 6
"""Spectral classes the earlier image is cut into for the class-centred test (method version 3): about as
many broad covers as four bands tell apart (water, roofs and paving, bare soil, dry or sparse vegetation,
grass and crops, forest). Chosen before any figure was seen, not fitted."""

CLASS_MIN_PIXELS = 500
"""Compared pixels (whole smoothing window) a class needs for its own centre; a smaller class is tested
against the scene alone. The median of 500 has a standard error of about 0.06 noise spreads."""


def _cover_classes(
    before: NDArray[np.floating], ok: NDArray[np.bool_], sample: NDArray[np.intp], classes: int, smooth_px: int,
) -> NDArray[np.intp]:  # fmt: skip
    """Each compared pixel's spectral class in the earlier image, 1 to ``classes`` (0 where not compared):
    k-means (k-means++ seeding, a fixed seed) of the ``sample``d pixels' bands, each averaged over the
    ``smooth_px`` window the differences are averaged over and divided by its spread; every compared
    pixel goes to the nearest centre."""
    import warnings

    from scipy.cluster.vq import kmeans2, vq

    n_bands = before.shape[0]
    feat = np.stack([_masked_mean(before[k], ok, smooth_px)[0] for k in range(n_bands)]).reshape(n_bands, -1)
    scale = feat[:, sample].std(axis=1)
    scale[~(scale > 0)] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty cluster: one class fewer
        centres, _ = kmeans2(feat[:, sample].T / scale, classes, seed=np.random.default_rng(0), minit="++")
    label = np.zeros(ok.size, np.intp)
    flat = ok.ravel()
    step = 1 << 20  # a million pixels at a time: vq's working arrays are several times its input's
    for s in range(0, ok.size, step):
        f = flat[s : s + step]
        label[s : s + step][f] = vq(feat[:, s : s + step][:, f].T / scale, centres, check_finite=False)[0] + 1
    return label.reshape(ok.shape)


def _common_change(
    d: NDArray[np.float64], band: NDArray[np.floating], label: NDArray[np.intp], ok: NDArray[np.bool_],
    share: NDArray[np.float64], classes: int, smooth_px: int,
) -> NDArray[np.float64]:  # fmt: skip
    """The difference ``d`` (one band's, averaged over the window) each window would show if each of its
    pixels had changed as its class did: a class's change is a gain on the earlier ``band`` (the median
    over the class's whole windows of ``d`` over the window's mean of ``band``), as leaves turning or
    the sun sinking scale a textured surface; a window's is the mean over its pixels of their class's
    gain times their value, so a window across two covers gets some of each. Classes of fewer than
    :data:`CLASS_MIN_PIXELS` whole windows, and label 0, have none."""
    value = np.where(ok, band, 0.0).astype(np.float64)
    level = _masked_mean(value, ok, smooth_px)[0]
    whole = ok & (share >= 1.0) & (level > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = d / level
    del level
    gain = np.zeros(classes + 1)
    counts = np.bincount(label[whole], minlength=classes + 1)
    for c in np.flatnonzero(counts[1:] >= CLASS_MIN_PIXELS) + 1:
        gain[c] = float(np.median(ratio[whole & (label == c)]))
    del ratio, whole  # a whole-grid array each: not kept through the last mean
    value *= gain[label]
    return np.nan_to_num(_masked_mean(value, ok, smooth_px)[0])


_SAMPLE = 100_000
"""IR-MAD and the regressions run on at most this many compared pixels (an even stride), applied to all."""


def optical_change_statistic(
    before: NDArray[np.floating], after: NDArray[np.floating], ok: NDArray[np.bool_], *, smooth_px: int = 3,
    noise: NoiseRule = "scene", brightness_bands: Sequence[int] | None = None, classes: int = COVER_CLASSES,
    tolerance_px: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The chi-square statistic of the standardised change vector and the brightness change, per pixel.

    ``before`` and ``after`` are bands × rows × cols of the same bands, ``ok`` the compared pixels.
    Returns (z, brightness): z the squared length of the normalised, smoothed, standardised band
    differences, or with ``classes`` above 1 (and at least twice :data:`CLASS_MIN_PIXELS` compared) of
    the same less the median of the pixel's spectral class in ``before``, whichever is smaller (see the
    package docstring; NaN where not compared); brightness their mean over ``brightness_bands`` (indexes;
    default every band), signed, in noise spreads, not less the class's. ``tolerance_px`` above 0: z of
    the differences that tolerate that much misregistration instead (:func:`_tolerant_difference`).
    """
    z, zt, brightness = _optical_statistics(before, after, ok, smooth_px=smooth_px, noise=noise,
                                            brightness_bands=brightness_bands, classes=classes, tolerance_px=tolerance_px)
    return (z if zt is None else zt), brightness


def _optical_statistics(
    before: NDArray[np.floating], after: NDArray[np.floating], ok: NDArray[np.bool_], *, smooth_px: int,
    noise: NoiseRule, brightness_bands: Sequence[int] | None, classes: int, tolerance_px: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.float64]]:  # fmt: skip
    """:func:`optical_change_statistic`'s z, its misregistration-tolerant z (None when ``tolerance_px`` is 0;
    each band's difference divided by the same noise spread as z's) and the brightness change."""
    lit = range(before.shape[0]) if brightness_bands is None else brightness_bands
    if not lit:
        raise ValueError("brightness_bands: no band")
    n_bands = before.shape[0]
    idx = np.flatnonzero(ok)
    n_ok = idx.size
    if n_ok < 10 * n_bands:
        raise InputError(f"only {n_ok} pixels can be compared: too few to tell change from noise")
    sample = idx[:: max(1, n_ok // _SAMPLE)].copy()  # not a view: idx goes
    del idx  # 8 bytes a pixel, not kept through the rest
    xb = before.reshape(n_bands, -1)[:, sample].T.astype(np.float64)
    xa = after.reshape(n_bands, -1)[:, sample].T.astype(np.float64)
    w = irmad_weights(xb, xa)
    invariant = w >= np.median(w)
    z = np.zeros(ok.shape)
    zc = np.zeros(ok.shape)
    label = _cover_classes(before, ok, sample, classes, smooth_px) if classes > 1 and n_ok >= 2 * CLASS_MIN_PIXELS else None
    brightness = np.zeros(ok.shape)
    zt = np.zeros(ok.shape) if tolerance_px > 0 else None
    for k in range(n_bands):
        u, v = xb[invariant, k], xa[invariant, k]
        c = np.cov(u, v)
        # Orthogonal (total least squares) regression v = slope * u + offset: both dates have noise.
        if abs(c[0, 1]) > 1e-12:
            slope = (c[1, 1] - c[0, 0] + math.sqrt((c[1, 1] - c[0, 0]) ** 2 + 4 * c[0, 1] ** 2)) / (2 * c[0, 1])
        else:
            slope = 1.0
        slope = slope if slope > 1e-6 else 1.0
        offset = float(v.mean() - slope * u.mean())
        if tolerance_px > 0 and not FINE_GAIN_RANGE[0] <= slope <= FINE_GAIN_RANGE[1]:
            slope, offset = _quartile_match(xb[invariant, k], xa[invariant, k])
        diff = (after[k].astype(np.float64) - offset) / slope - before[k]
        d, share = _masked_mean(diff, ok, smooth_px)
        del diff
        sd = _noise_sd(d, ok, share, sample, w, noise, n_bands) or float(np.std(d[ok])) or 1.0
        # A mean of fewer pixels (the grid's edge, beside no data or cloud) is noisier: its spread is
        # that of a whole window over the square root of the share it holds.
        scale = np.sqrt(share) / sd
        if zt is not None:
            b, _ = _masked_mean(before[k].astype(np.float64), ok, smooth_px)
            zt += (np.nan_to_num(_tolerant_difference(b, b + d, ok, tolerance_px)) * scale) ** 2
        if label is not None:
            zc += ((d - _common_change(d, before[k], label, ok, share, classes, smooth_px)) * scale) ** 2
        d *= scale
        z += d**2
        if k in lit:
            brightness += d
    if label is not None:
        z = np.minimum(z, zc)
    z[~ok] = np.nan
    if zt is not None:
        zt[~ok] = np.nan
    brightness /= len(lit)
    brightness[~ok] = np.nan
    return z, zt, brightness


def _tolerant_difference(
    before: NDArray[np.float64], after: NDArray[np.float64], ok: NDArray[np.bool_], radius: int,
) -> NDArray[np.float64]:  # fmt: skip
    """How far each pixel of one band is from the values the other date takes within ``radius`` pixels of
    it (a disc), the larger of the two ways, signed as after minus before: 0 where either date's value is
    found near the same place in the other, as along an edge that moved by less than ``radius`` between
    the dates (misregistration); the plain difference inside anything new or gone that is wider than it.
    A form of robust change vector analysis (Thonfeld et al., JAG 50, 2016), both ways round so that an
    object smaller than the disc is found whether it appeared or went."""
    from scipy import ndimage

    disc = _disc(radius)

    def gap(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        lo = ndimage.minimum_filter(np.where(ok, y, np.inf), footprint=disc, mode="nearest")
        hi = ndimage.maximum_filter(np.where(ok, y, -np.inf), footprint=disc, mode="nearest")
        return np.maximum(np.maximum(x - hi, lo - x), 0.0)

    far = np.maximum(gap(after, before), gap(before, after))
    return np.where(ok, np.sign(after - before) * far, np.nan)
