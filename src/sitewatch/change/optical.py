"""Optical change (``irmad-cva``; the package docstring says the method): per pixel, the chi-square
statistic of the normalised, smoothed and standardised change vector, less the common change of the
pixel's spectral class, and the brightness change that gives a region its direction.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from .blocks import DEFAULT_BLOCKS, RowBlocks, _BlockMeans, _halo, _in_span, _rows, _sample
from .irmad import irmad_weights
from .pair import BandRows
from .submetre import (
    FINE_GAIN_RANGE,
    _quartile_match,
)
from .windows import _disc

__all__ = ["COVER_CLASSES", "CLASS_MIN_PIXELS", "NOISE_MIN_P", "NoiseRule", "optical_blocks", "optical_change_statistic"]


def _robust_sd(v: NDArray[np.floating], *, overwrite: bool = False) -> float:
    """1.4826 × the median absolute deviation of ``v``; ``overwrite``: ``v`` is the working space (a whole
    tile's values are too many to copy twice), the same value."""
    if not overwrite:
        med = float(np.median(v))
        return 1.4826 * float(np.median(np.abs(v - med)))
    med = float(np.median(v, overwrite_input=True))
    np.subtract(v, med, out=v)
    np.abs(v, out=v)
    return 1.4826 * float(np.median(v, overwrite_input=True))


NoiseRule = Literal["scene", "quiet", "half"]
"""Which pixels each band's noise spread is read from (see :func:`_noise_sd`)."""

NOISE_MIN_P = 0.01
"""``quiet``: the sampled pixels IR-MAD gives a no-change probability of at least this."""


def _noise_sd(
    whole: NDArray[np.float64], part: NDArray[np.float64], at_sample: NDArray[np.float64], whole_at_sample: NDArray[np.bool_],
    w: NDArray[np.float64], rule: NoiseRule, n_bands: int,
) -> float:  # fmt: skip
    """The noise spread of one band's smoothed difference, read from pixels whose window is whole: ``whole``
    the difference at every compared pixel whose window is whole, ``part`` at the other compared pixels
    (each in any order; both are the working space of ``scene``), ``at_sample`` at the sampled pixels and
    ``whole_at_sample`` which of them have a whole window.

    ``scene`` (method version 1): 1.4826 × the median absolute deviation over every compared pixel,
    most of which did not change; the change itself widens it where much of a scene changed.
    ``quiet``: the same over the sampled pixels to which IR-MAD (weights ``w``) gives a no-change
    probability of at least :data:`NOISE_MIN_P`. ``half``: the variance over the half of the sampled
    pixels IR-MAD ranks likeliest unchanged (the half the radiometric normalisation is fitted to),
    made consistent for that selection as the minimum covariance determinant's is (Croux & Haesbroeck,
    J. Multivariate Anal. 71, 1999): times 0.5 / F(χ²(p + 2); χ²(p) median), p = ``n_bands``.
    Too few pixels (under 100) in the set: ``scene``.
    """
    if rule != "scene":
        pick = (w >= (NOISE_MIN_P if rule == "quiet" else float(np.median(w)))) & whole_at_sample
        v = at_sample[pick]
        if v.size > 100 and rule == "quiet":
            return _robust_sd(v)
        if v.size > 100:
            from scipy import stats

            c = 0.5 / float(stats.chi2.cdf(stats.chi2.ppf(0.5, n_bands), n_bands + 2))
            return math.sqrt(c * float(np.var(v)))
    return _robust_sd(whole if whole.size > 100 else np.concatenate([whole, part]), overwrite=True)


COVER_CLASSES = 6
"""Spectral classes the earlier image is cut into for the class-centred test (method version 3): about as
many broad covers as four bands tell apart (water, roofs and paving, bare soil, dry or sparse vegetation,
grass and crops, forest). Chosen before any figure was seen, not fitted."""

CLASS_MIN_PIXELS = 500
"""Compared pixels (whole smoothing window) a class needs for its own centre; a smaller class is tested
against the scene alone. The median of 500 has a standard error of about 0.06 noise spreads."""


_SAMPLE = 100_000
"""IR-MAD and the regressions run on at most this many compared pixels (an even stride), applied to all."""


def optical_change_statistic(
    before: NDArray[np.floating], after: NDArray[np.floating], ok: NDArray[np.bool_], *, smooth_px: int = 3,
    noise: NoiseRule = "scene", brightness_bands: Sequence[int] | None = None, classes: int = COVER_CLASSES,
    tolerance_px: int = 0, blocks: RowBlocks = DEFAULT_BLOCKS,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The chi-square statistic of the standardised change vector and the brightness change, per pixel.

    ``before`` and ``after`` are bands × rows × cols of the same bands, ``ok`` the compared pixels.
    Returns (z, brightness): z the squared length of the normalised, smoothed, standardised band
    differences, or with ``classes`` above 1 (and at least twice :data:`CLASS_MIN_PIXELS` compared) of
    the same less the median of the pixel's spectral class in ``before``, whichever is smaller (see the
    package docstring; NaN where not compared); brightness their mean over ``brightness_bands`` (indexes;
    default every band), signed, in noise spreads, not less the class's. ``tolerance_px`` above 0: z of
    the differences that tolerate that much misregistration instead (:func:`_tolerant_difference`).
    ``blocks``: how many rows are worked on at a time (the values do not depend on it).
    """
    z, zt, brightness = _optical_statistics(before, after, ok, smooth_px=smooth_px, noise=noise, brightness_bands=brightness_bands,
                                            classes=classes, tolerance_px=tolerance_px, blocks=blocks)  # fmt: skip
    return (z if zt is None else zt), brightness


def _optical_statistics(
    before: NDArray[np.floating] | BandRows, after: NDArray[np.floating] | BandRows, ok: NDArray[np.bool_], *, smooth_px: int,
    noise: NoiseRule, brightness_bands: Sequence[int] | None, classes: int, tolerance_px: int, blocks: RowBlocks = DEFAULT_BLOCKS,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.float64]]:  # fmt: skip
    """:func:`optical_change_statistic`'s z, its misregistration-tolerant z (None when ``tolerance_px`` is 0;
    each band's difference divided by the same noise spread as z's) and the brightness change, as whole
    grids (:func:`optical_blocks`' blocks put together)."""
    z = np.full(ok.shape, np.nan)
    brightness = np.full(ok.shape, np.nan)
    zt = np.full(ok.shape, np.nan) if tolerance_px > 0 else None
    for r0, r1, zb, ztb, bb in optical_blocks(before, after, ok, smooth_px=smooth_px, noise=noise, brightness_bands=brightness_bands,
                                              classes=classes, tolerance_px=tolerance_px, blocks=blocks):  # fmt: skip
        z[r0:r1], brightness[r0:r1] = zb, bb
        if zt is not None and ztb is not None:
            zt[r0:r1] = ztb
    return z, zt, brightness


Block = tuple[int, int, NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.float64]]
"""Rows ``r0`` to ``r1`` of z, the misregistration-tolerant z (or None) and the brightness change."""


def optical_blocks(
    before: NDArray[np.floating] | BandRows, after: NDArray[np.floating] | BandRows, ok: NDArray[np.bool_], *, smooth_px: int = 3, noise: NoiseRule = "scene",
    brightness_bands: Sequence[int] | None = None, classes: int = COVER_CLASSES, tolerance_px: int = 0,
    blocks: RowBlocks = DEFAULT_BLOCKS,
) -> Iterator[Block]:  # fmt: skip
    """:func:`optical_change_statistic`'s values a block of rows at a time, top to bottom (see it for the
    arguments): ``(r0, r1, z, zt, brightness)`` of rows ``r0`` to ``r1``, zt None when ``tolerance_px``
    is 0. ``before`` and ``after`` are bands × rows × cols arrays, or readers whose ``[:, a:b]`` and
    ``[k, a:b]`` give those rows of every band or of band ``k``; ``ok`` is the whole grid's.

    The scene-wide quantities are taken first, each from every pixel as the whole grid gives it, a pass
    down the grid each (the sample's values and the cover features; the cover classes; each band's
    noise spread and class gains), then the blocks are compared: whatever ``blocks`` says, the values
    are those of the whole grid at once, to the bit. Misregistration tolerance (sub-metre pixels) looks
    ``tolerance_px`` rows beyond a block: those rows' window means come from a second pass running that far
    ahead (:class:`_AheadMeans`), so its values are the whole grid's too."""
    lit = range(before.shape[0]) if brightness_bands is None else brightness_bands
    if not lit:
        raise ValueError("brightness_bands: no band")
    n_bands = before.shape[0]
    height, width = ok.shape
    n_ok = int(ok.sum())
    if n_ok < 10 * n_bands:
        raise InputError(f"only {n_ok} pixels can be compared: too few to tell change from noise")
    spans = blocks.spans(height, width)
    sample = _sample(ok, max(1, n_ok // _SAMPLE), spans)
    classed = classes > 1 and n_ok >= 2 * CLASS_MIN_PIXELS
    xb, xa, feat, n_whole = _sample_pass(before, after, ok, sample, spans, smooth_px, classed)
    w = irmad_weights(xb, xa)
    invariant = w >= np.median(w)
    fits = [_fit(xb[invariant, k], xa[invariant, k], tolerance_px) for k in range(n_bands)]
    del xb, xa
    label, counts = _class_pass(before, ok, feat, classes, spans, smooth_px) if classed else (None, None)
    sds, gains = [], []
    for k in range(n_bands):
        sd, gain = _band_pass(before, after, ok, k, fits[k], sample, w, spans, smooth_px, noise, n_whole, n_ok, label,
                              None if counts is None else counts[k])  # fmt: skip
        sds.append(sd)
        gains.append(gain)
    means = _BlockMeans(smooth_px, height)
    halo = _halo(smooth_px)
    ahead = _AheadMeans(before, after, ok, fits, smooth_px) if tolerance_px > 0 else None
    for r0, r1 in spans:
        ea, eb = max(0, r0 - halo), min(height, r1 + halo)
        okx = ok[ea:eb]
        # With the tolerance, the pass ahead has the block's smoothed difference: its rows are read for the classes only.
        bx = _rows(before, ea, eb) if ahead is None or label is not None else None
        ax = _rows(after, ea, eb) if ahead is None else None
        core = ok[r0:r1]
        share = means.share(okx, ea, r0, r1)
        # The tolerant difference of the block's rows looks tolerance_px rows above and below them.
        ta, tb = max(0, r0 - tolerance_px), min(height, r1 + tolerance_px)
        if ahead is not None:
            ahead.advance(tb, keep_from=ta)
        z = np.zeros(core.shape)
        zc = np.zeros(core.shape)
        brightness = np.zeros(core.shape)
        zt = np.zeros(core.shape) if tolerance_px > 0 else None
        for k in range(n_bands):
            slope, offset = fits[k]
            if ahead is not None:  # the pass ahead has these rows' smoothed difference already, to the bit
                d = ahead.difference(k, r0, r1).copy()
            else:
                assert bx is not None and ax is not None
                d = means.mean(("d", k), (ax[k].astype(np.float64) - offset) / slope - bx[k], okx, ea, r0, r1)
            # A mean of fewer pixels (the grid's edge, beside no data or cloud) is noisier: its spread is
            # that of a whole window over the square root of the share it holds.
            scale = np.sqrt(share) / sds[k]
            if zt is not None and ahead is not None:
                b, a = ahead.rows(k, ta, tb)
                far = _tolerant_difference(b, a, ok[ta:tb], tolerance_px)[r0 - ta : r1 - ta]
                zt += (np.nan_to_num(far) * scale) ** 2
            gain = gains[k]
            if label is not None and gain is not None:
                assert bx is not None
                value = np.where(okx, bx[k], 0.0).astype(np.float64)
                value *= gain[label[ea:eb]]
                common = np.nan_to_num(means.mean(("c", k), value, okx, ea, r0, r1))
                del value
                zc += ((d - common) * scale) ** 2
            d *= scale
            z += d**2
            if k in lit:
                brightness += d
        if label is not None:
            z = np.minimum(z, zc)
        del zc
        z[~core] = np.nan
        if zt is not None:
            zt[~core] = np.nan
        brightness /= len(lit)
        brightness[~core] = np.nan
        yield r0, r1, z, zt, brightness


class _AheadMeans:
    """Each band's window mean of the earlier date and the smoothed difference of the later date laid on it (as
    :func:`optical_blocks` forms them), computed by a pass of its own down the grid that runs ahead of the blocks:
    the rows a block's misregistration-tolerant difference needs beyond it. Rows are kept from the lowest one still
    asked for; the values are the whole grid's to the bit (:class:`_BlockMeans`)."""

    def __init__(self, before: Any, after: Any, ok: NDArray[np.bool_], fits: list[tuple[float, float]], smooth_px: int) -> None:
        self.before, self.after, self.ok, self.fits = before, after, ok, fits
        self.height = ok.shape[0]
        self.means = _BlockMeans(smooth_px, self.height)
        self.halo = _halo(smooth_px)
        self.first = self.done = 0
        self.held: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = [
            (np.zeros((0, ok.shape[1])), np.zeros((0, ok.shape[1]))) for _ in fits
        ]

    def advance(self, to: int, keep_from: int) -> None:
        """Compute the rows up to ``to`` not yet computed, and let go of those above ``keep_from``."""
        r0, r1 = self.done, to
        if r1 > r0:
            ea, eb = max(0, r0 - self.halo), min(self.height, r1 + self.halo)
            bx, ax, okx = _rows(self.before, ea, eb), _rows(self.after, ea, eb), self.ok[ea:eb]
            for k, (slope, offset) in enumerate(self.fits):
                d = self.means.mean(("d", k), (ax[k].astype(np.float64) - offset) / slope - bx[k], okx, ea, r0, r1)
                b = self.means.mean(("b", k), bx[k].astype(np.float64), okx, ea, r0, r1)
                hb, hd = self.held[k]
                self.held[k] = (np.concatenate([hb[keep_from - self.first :], b]), np.concatenate([hd[keep_from - self.first :], d]))
            self.first, self.done = keep_from, r1
        elif keep_from > self.first:
            self.held = [(hb[keep_from - self.first :], hd[keep_from - self.first :]) for hb, hd in self.held]
            self.first = keep_from

    def rows(self, k: int, a: int, b: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Band ``k``'s mean of the earlier date and of the later one laid on it, rows ``a`` to ``b`` (held)."""
        hb, hd = self.held[k]
        b0 = hb[a - self.first : b - self.first]
        return b0, b0 + hd[a - self.first : b - self.first]

    def difference(self, k: int, a: int, b: int) -> NDArray[np.float64]:
        """Band ``k``'s smoothed difference, rows ``a`` to ``b`` (held; a view)."""
        return self.held[k][1][a - self.first : b - self.first]


def _fit(u: NDArray[np.float64], v: NDArray[np.float64], tolerance_px: int) -> tuple[float, float]:
    """The gain and offset that lay one band of the later date (``v``) on the earlier's (``u``), from the
    sampled pixels IR-MAD ranks likeliest unchanged: an orthogonal (total least squares) regression, as both
    dates have noise; with ``tolerance_px`` (sub-metre) outside :data:`FINE_GAIN_RANGE`, the quartiles'."""
    c = np.cov(u, v)
    if abs(c[0, 1]) > 1e-12:
        slope = (c[1, 1] - c[0, 0] + math.sqrt((c[1, 1] - c[0, 0]) ** 2 + 4 * c[0, 1] ** 2)) / (2 * c[0, 1])
    else:
        slope = 1.0
    slope = slope if slope > 1e-6 else 1.0
    offset = float(v.mean() - slope * u.mean())
    if tolerance_px > 0 and not FINE_GAIN_RANGE[0] <= slope <= FINE_GAIN_RANGE[1]:
        slope, offset = _quartile_match(u, v)
    return slope, offset


def _sample_pass(
    before: Any, after: Any, ok: NDArray[np.bool_], sample: NDArray[np.intp], spans: list[tuple[int, int]], smooth_px: int,
    classed: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None, int]:  # fmt: skip
    """The sampled pixels' bands of each date (pixels × bands, float64), with ``classed`` their cover
    features (each band's window mean, bands × pixels), and how many compared pixels have a whole window."""
    n_bands = before.shape[0]
    height, width = ok.shape
    xb = np.empty((n_bands, sample.size), before.dtype)
    xa = np.empty((n_bands, sample.size), after.dtype)
    feat = np.empty((n_bands, sample.size)) if classed else None
    means = _BlockMeans(smooth_px, height)
    halo = _halo(smooth_px)
    n_whole = 0
    for r0, r1 in spans:
        ea, eb = max(0, r0 - halo), min(height, r1 + halo)
        okx = ok[ea:eb]
        at = _in_span(sample, r0, r1, width)
        local = sample[at] - r0 * width
        n_whole += int((ok[r0:r1] & (means.share(okx, ea, r0, r1) >= 1.0)).sum())
        bx = _rows(before, ea, eb) if classed else _rows(before, r0, r1)
        core = bx[:, r0 - ea : r1 - ea] if classed else bx
        xb[:, at] = core.reshape(n_bands, -1)[:, local]
        xa[:, at] = _rows(after, r0, r1).reshape(n_bands, -1)[:, local]
        if feat is not None:
            for k in range(n_bands):
                feat[k, at] = means.mean(("f", k), bx[k], okx, ea, r0, r1).ravel()[local]
    return xb.T.astype(np.float64), xa.T.astype(np.float64), feat, n_whole


def _class_pass(
    before: Any, ok: NDArray[np.bool_], feat: NDArray[np.float64] | None, classes: int, spans: list[tuple[int, int]], smooth_px: int,
) -> tuple[NDArray[np.integer], NDArray[np.int64]]:  # fmt: skip
    """Each compared pixel's spectral class in the earlier image, 1 to ``classes`` (0 where not compared),
    and for each band how many compared pixels of each class have a whole window of positive mean (those
    its class gain is the median over, :func:`_band_pass`).

    The classes: k-means (k-means++ seeding, a fixed seed) of the sampled pixels' features ``feat`` (each
    band averaged over the ``smooth_px`` window the differences are averaged over), each divided by its
    spread; every compared pixel goes to the nearest centre."""
    import warnings

    from scipy.cluster.vq import kmeans2, vq

    assert feat is not None
    n_bands = before.shape[0]
    height, width = ok.shape
    scale = feat.std(axis=1)
    scale[~(scale > 0)] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty cluster: one class fewer
        centres, _ = kmeans2(feat.T / scale, classes, seed=np.random.default_rng(0), minit="++")
    label = np.zeros(ok.shape, np.min_scalar_type(classes))
    counts = np.zeros((n_bands, classes + 1), np.int64)
    means = _BlockMeans(smooth_px, height)
    halo = _halo(smooth_px)
    for r0, r1 in spans:
        ea, eb = max(0, r0 - halo), min(height, r1 + halo)
        bx, okx, core = _rows(before, ea, eb), ok[ea:eb], ok[r0:r1]
        f = np.stack([means.mean(("f", k), bx[k], okx, ea, r0, r1) for k in range(n_bands)])
        flat = core.ravel()
        lab = label[r0:r1].reshape(-1)
        lab[flat] = vq(f.reshape(n_bands, -1)[:, flat].T / scale, centres, check_finite=False)[0] + 1
        whole = core & (means.share(okx, ea, r0, r1) >= 1.0)
        for k in range(n_bands):
            counts[k] += np.bincount(label[r0:r1][whole & (f[k] > 0)], minlength=classes + 1)
    return label, counts


def _band_pass(
    before: Any, after: Any, ok: NDArray[np.bool_], k: int, fit: tuple[float, float], sample: NDArray[np.intp],
    w: NDArray[np.float64], spans: list[tuple[int, int]], smooth_px: int, noise: NoiseRule, n_whole: int, n_ok: int,
    label: NDArray[np.integer] | None, counts: NDArray[np.int64] | None,
) -> tuple[float, NDArray[np.float64] | None]:  # fmt: skip
    """Band ``k``'s noise spread (:func:`_noise_sd`) and, with ``label``, its class gains: a class's change is
    a gain on the earlier band, the median over the class's whole windows of positive mean of the smoothed
    difference over the window's mean of the band, as leaves turning or the sun sinking scale a textured
    surface (:func:`optical_blocks` gives a window the mean over its pixels of their class's gain times
    their value, so a window across two covers gets some of each). Classes of fewer than
    :data:`CLASS_MIN_PIXELS` such windows (``counts``), and label 0, have none.

    One pass down the grid that keeps each value the medians need (8 bytes a compared pixel, and as much
    for the gains), as the whole grid's arrays held them."""
    height, width = ok.shape
    slope, offset = fit
    whole_d, part_d = np.empty(n_whole), np.empty(n_ok - n_whole)
    at_sample, whole_at_sample = np.empty(sample.size), np.zeros(sample.size, bool)
    big = [] if counts is None else [int(c) for c in np.flatnonzero(counts[1:] >= CLASS_MIN_PIXELS) + 1]
    ratios = {c: np.empty(int(counts[c])) for c in big} if counts is not None else {}
    filled = dict.fromkeys([*ratios, "whole", "part"], 0)
    means = _BlockMeans(smooth_px, height)
    halo = _halo(smooth_px)
    for r0, r1 in spans:
        ea, eb = max(0, r0 - halo), min(height, r1 + halo)
        bx, okx, core = _rows(before, ea, eb, k), ok[ea:eb], ok[r0:r1]
        d = means.mean("d", (_rows(after, ea, eb, k).astype(np.float64) - offset) / slope - bx, okx, ea, r0, r1)
        whole = core & (means.share(okx, ea, r0, r1) >= 1.0)
        for key, v in (("whole", d[whole]), ("part", d[core & ~whole])):
            (whole_d if key == "whole" else part_d)[filled[key] : filled[key] + v.size] = v
            filled[key] += v.size
        at = _in_span(sample, r0, r1, width)
        local = sample[at] - r0 * width
        at_sample[at], whole_at_sample[at] = d.ravel()[local], whole.ravel()[local]
        if label is not None and big:
            level = means.mean("level", np.where(okx, bx, 0.0).astype(np.float64), okx, ea, r0, r1)
            positive = whole & (level > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = d / level
            lab = label[r0:r1]
            for c in big:
                v = ratio[positive & (lab == c)]
                ratios[c][filled[c] : filled[c] + v.size] = v
                filled[c] += v.size
    sd = _noise_sd(whole_d, part_d, at_sample, whole_at_sample, w, noise, before.shape[0])
    del whole_d, part_d
    if not sd:
        sd = float(np.std(_compared_difference(before, after, ok, k, fit, spans, smooth_px))) or 1.0
    if label is None:
        return sd, None
    gain = np.zeros(len(counts) if counts is not None else 1)
    for c in big:
        gain[c] = float(np.median(ratios.pop(c), overwrite_input=True))
    return sd, gain


def _compared_difference(
    before: Any, after: Any, ok: NDArray[np.bool_], k: int, fit: tuple[float, float], spans: list[tuple[int, int]], smooth_px: int,
) -> NDArray[np.float64]:  # fmt: skip
    """Band ``k``'s smoothed difference at every compared pixel, in the grid's order (the spread of a band
    whose robust spread is 0)."""
    height = ok.shape[0]
    slope, offset = fit
    means = _BlockMeans(smooth_px, height)
    halo = _halo(smooth_px)
    parts = []
    for r0, r1 in spans:
        ea, eb = max(0, r0 - halo), min(height, r1 + halo)
        okx = ok[ea:eb]
        diff = (_rows(after, ea, eb, k).astype(np.float64) - offset) / slope - _rows(before, ea, eb, k)
        parts.append(means.mean("d", diff, okx, ea, r0, r1)[ok[r0:r1]])
    return np.concatenate(parts)

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
