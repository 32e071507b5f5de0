"""Change between two observations of one site: where the ground differs, and how.

:func:`detect_changes` takes two images of the same site grid (two observations in a workspace are
both cut to the site's grid, so their pixels line up) and returns the regions that changed, each a
polygon in the grid's CRS and in WGS84, its area, a magnitude and a direction. Image math only:
arrays and a :class:`~sitewatch.model.Grid` in, values out; reading observations and storing the
regions are :mod:`sitewatch.change_stage`'s.

**Optical** (``irmad-cva``). The two dates differ in illumination, atmosphere and sensor gain as
well as in what stands on the ground. Iteratively reweighted multivariate alteration detection
(IR-MAD; Nielsen, IEEE TIP 16(2), 2007) finds the pixels that did not change: each iteration
weights every pixel by its chi-square probability of no change and the canonical correlation
analysis of the two dates is made again with those weights. The more invariant half of the pixels
then fits, band by band, an orthogonal regression of the after image on the before image
(the radiometric normalisation of Canty & Nielsen, RSE 112, 2008), which puts the after image on
the before image's radiometry. The change vector is the difference of the normalised bands, each
averaged over 3 × 3 pixels (half a pixel of misregistration and pixel noise are not change) and
divided by its robust noise spread (1.4826 × the median absolute deviation over the compared
pixels, most of which did not change; ``noise`` selects two other rules, read from the pixels IR-MAD
finds unchanged, which BENCHMARKS.md scores: neither is better on every data set, and leaving one
OSCD city out chose this one). Its squared length is, for an unchanged pixel, close to
chi-square with one degree of freedom per band: a pixel changed when it exceeds the chi-square
quantile ``1 - pfa``.

One linear map per band cannot follow land covers that change each at its own pace between the dates
(forest turning faster than meadows in autumn, crops ripening, a slope that the lower sun shades): the
cover the map does not fit differs from the rest as a whole, a few noise spreads, and long
stretches of it passed the threshold (the demo's simulated forest, in six of its nine 10 m pairs). So
a pixel must also differ from the common change of its own cover (method version 3). The earlier
image is cut into ``classes`` spectral classes (k-means of its bands, averaged over the same window,
:data:`COVER_CLASSES`); the median change vector of each class's pixels is its common change (the
change of a few objects does not move a median); the test statistic is the smaller of the chi-square
length of the change vector and of that vector less its class's median. So a class that changed as a
whole is not flagged, a pixel that changed otherwise than its class still is, and version 3 keeps a
subset of version 2's changed pixels: it never finds a region that version 2 did not. What it cannot
tell apart is a change that took most of a class (every field of a site harvested between the dates
is the fields' common change). This is a stratified form of change vector analysis: classify the
first date, compare each pixel with the change of its class; M. J. Carlotto's cluster-based change
detection (IEEE TGRS 43(2), 2005) is of this kind.

**Sub-metre optical** (pixels of :data:`FINE_PIXEL_M`, 1 m, or finer; method version 4; coarser pairs
give what version 3 gave). Aerial, Maxar-, SkySat- or Google Earth-class pairs bought months or years
apart break three assumptions of the above. (1) A spectral class is a kind of object (roofs, roads,
shadow), not a land cover, and new buildings can make up most of one, so their change was the class's
"common change": the cover classes are not used. (2) New buildings cover a tenth to two thirds of a
picture, which widens the median absolute deviation the noise spread is read from, so only the strongest
changes passed: the squared length of the change vector is divided, in addition, by the lowest decile
of its values over chi-square's (:func:`_fine_scale`; at most 1: about 1 where little changed, so the
noise thresholds stand), and regions grow from their seeds (still the noise's ``pfa``) down to Otsu's
threshold of the length where that is below the noise's grow threshold (the changed pixels are then a
population of their own; never below chi-square's 0.9 quantile). (3) The two images are seldom
registered to better than a pixel or two, and pixels of the two dates are barely correlated, so half a
pixel along a roof's edge is a full-contrast difference and the regression of one date on the other
can take any slope: each band's difference is the distance from a pixel's value to the values the other
date takes within :data:`FINE_TOLERANCE_M` (both ways; :func:`_tolerant_difference`), and a band whose
gain falls outside :data:`FINE_GAIN_RANGE` is normalised by its quartiles instead. The changed pixels
are then made objects in metres: opened by a 1 m disc, closed by a 2 m one, holes smaller than
``min_area_m2`` filled. On two simulated 0.5 m scenes seen with another brightness, contrast and colour,
half a pixel apart, no region; with a 20 × 4 m trench and a 15 × 10 m roof added, both found and nothing
else (:mod:`sitewatch.testing.submetre_change`). On the LEVIR-CD samples (BENCHMARKS.md) it beats plain
change vector analysis, on the DSIFN-CD samples not quite; what it finds is any change, not building
change only, and where most of a picture changed it finds little of it.

The direction of an optical region is the sign of its brightness change, the mean over its pixels
and visible bands (blue, green, red) of the standardised difference (after minus before): more than
one noise spread brighter is ``appeared`` (new concrete, roofs, cleared or dug ground, a hull on dark
water: what is built or dug is mostly brighter than what it replaces), more than one darker
``disappeared``, and anything else ``altered`` (a change of colour with little change of brightness).
Near infrared is left out of the direction (method version 2): any vegetation cleared loses most of
its NIR, so dug ground in a field read ``disappeared`` (the demo's trenches: 17 of 21 regions).
This is a rule of thumb: a dark roof built on bright sand, or dark vehicles parked on worn ground,
read as ``disappeared``.

**SAR** (``log-ratio``). Each intensity is despeckled by a ``despeckle_px`` square mean over its
valid pixels and the two are compared by their log-ratio, ln(after / before), less its median (a
calibration offset between passes). For an unchanged pixel of two L-look intensities the ratio
follows Fisher's F(2L, 2L): L, the looks of the despeckled pair, is the one whose F distribution
has the log-ratio's observed median absolute deviation (robust: the changed minority does not move
it, and spatially correlated speckle gives fewer effective looks, as it should). That is the looks of
a typical window; a window whose backscatter sits in a few bright pixels (a point scatterer, a bright
building among dark ground, a shoreline) averages less of their speckle away and has fewer: each
window's looks are the scene's times its own (Σ μ)² / (n Σ μ²) over the typical window's (μ the mean
of the two dates in each of its n pixels; at most the scene's). With the scene's looks everywhere
(method version 1), bright single pixels on built-up land passed for change: 5.2 and 8.6 regions
per pair of the demo's sites where nothing changed. The stated false-alarm rate under no change is
0.01 regions per km² per pair on heterogeneous land at 4.6 looks (measured: BENCHMARKS.md). A pixel changed when
its log-ratio lies beyond the F quantiles of false-alarm probability ``pfa`` (both tails): brighter
after is ``appeared``, darker ``disappeared``. Pixels dark in both images (despeckled sigma0 below
``dark_db``, -14 dB: calm to moderately windy water lies at -25 to -15 dB in C-band VV, most land
above -12 dB) are compared but not tested: wind changes water's backscatter by several dB between
passes, which is not what was built, while a structure standing in the water is far brighter.

Regions are 8-connected groups of changed pixels (SAR: of one direction); those smaller than
``min_area_m2`` are dropped. Pixels without data in either image, outside ``area`` (the site), or
under cloud or shadow (the ``valid`` masks the caller gives) are not compared, and
:attr:`ChangeResult.compared_fraction` says how much of the site was. Nor are the pixels the caller
``exclude``s (the vessels and cranes detection found, which move between passes without the ground
changing): :attr:`ChangeResult.excluded_m2` says how much area they took.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from shapely import make_valid
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from .errors import InputError
from .geo import reproject_geometry
from .model import Change, ChangeDirection, Grid

__all__ = [
    "DEFAULT_PFA",
    "GROW",
    "ChangeImage",
    "ChangeRegion",
    "ChangeResult",
    "GridMismatchError",
    "METHOD_VERSIONS",
    "check_same_grid",
    "detect_changes",
    "irmad_weights",
    "optical_change_statistic",
    "sar_log_ratio",
    "to_changes",
]

METHOD_VERSIONS: dict[str, str] = {"irmad-cva": "4", "log-ratio": "2"}
"""The version of each method's rules, bumped whenever they change what a pair gives (``log-ratio`` 2:
the looks of each despeckling window, not the scene's everywhere; ``irmad-cva`` 3: a pixel must also
differ from the common change of its spectral class; ``irmad-cva`` 4: pixels of :data:`FINE_PIXEL_M` or
finer have their own rules, see the module docstring; a coarser pair gives what version 3 gave and says
``3``, or ``2`` without classes)."""

DEFAULT_PFA: dict[str, float] = {"optical": 1e-6, "sar": 1e-7}
"""Per-pixel false-alarm probability of the threshold a region must reach somewhere (its seed).
Regions grow from their seeds into the neighbouring pixels beyond the threshold of ``GROW`` times that
probability (hysteresis): a smoothed (optical) or despeckled (SAR) pixel shares its noise with its
neighbours, so one false alarm comes as a patch of a few pixels, which a single threshold of 1e-3 let
through a dozen times in a noise-only pair of 160 × 160 pixels, while a real change has a core far
beyond the noise. SAR's is lower because its 5 × 5 window spreads a false alarm further."""

GROW = 1000.0
"""How much likelier than the seeds' the false alarms of a region's extent may be (hysteresis)."""

Direction = ChangeDirection

OPTICAL_BANDS = ("blue", "green", "red", "nir")
"""The optical bands compared, when both images have them (any others are ignored)."""
VISIBLE_BANDS = ("blue", "green", "red")
"""The bands an optical region's direction is judged on (all compared bands when none of these is)."""


class GridMismatchError(InputError):
    """Two images to compare are not on one grid (CRS, transform or shape differ)."""


@dataclass(frozen=True)
class ChangeImage:
    """One image of a pair: its bands on a grid and which of its pixels can be compared."""

    data: NDArray[np.floating]
    """Bands × rows × cols. Optical: reflectance; SAR: linear intensity (sigma0), co-polarised band first."""
    grid: Grid
    """The grid the pixels lie on (the site's grid for an observation)."""
    sensor: Literal["sar", "optical"]
    bands: tuple[str, ...] = ()
    """Band names (``blue``, ``green``, ``red``, ``nir``; ``VV``…); default ``band1``…"""
    valid: NDArray[np.bool_] | None = None
    """Pixels to compare (no cloud, no shadow); default: every pixel. A pixel without a finite value in
    every band is never compared."""
    label: str = ""
    """What errors call the image (an observation id)."""

    def __post_init__(self) -> None:
        if self.data.ndim != 3:
            raise InputError(f"{self.name}: image data must be bands × rows × cols, got shape {self.data.shape}")
        if self.data.shape[1:] != self.grid.shape:
            raise InputError(f"{self.name}: data of {self.data.shape[2]} x {self.data.shape[1]} pixels on a "
                             f"grid of {self.grid.width} x {self.grid.height}")  # fmt: skip
        if self.bands and len(self.bands) != self.data.shape[0]:
            raise InputError(f"{self.name}: {len(self.bands)} band names for {self.data.shape[0]} bands")
        if self.valid is not None and self.valid.shape != self.grid.shape:
            raise InputError(f"{self.name}: valid mask of shape {self.valid.shape}, grid {self.grid.shape}")

    @property
    def name(self) -> str:
        return self.label or "image"

    @property
    def band_names(self) -> tuple[str, ...]:
        return self.bands or tuple(f"band{i + 1}" for i in range(self.data.shape[0]))

    def usable(self) -> NDArray[np.bool_]:
        """Pixels with a finite value in every band and in :attr:`valid`."""
        ok = np.all(np.isfinite(self.data), axis=0)
        return ok if self.valid is None else ok & self.valid


@dataclass(frozen=True)
class ChangeRegion:
    """One region that changed."""

    polygon: BaseGeometry
    """In the grid's CRS (the site's UTM zone)."""
    polygon_wgs84: BaseGeometry
    """The same, lon/lat, as stored and exported."""
    area_m2: float
    """Pixels × pixel area on the grid."""
    magnitude: float
    """Optical: mean length of the standardised change vector (noise spreads); SAR: mean |log-ratio| in dB."""
    direction: Direction
    pixels: int


@dataclass(frozen=True)
class ChangeResult:
    """What :func:`detect_changes` found for one pair."""

    regions: tuple[ChangeRegion, ...]
    sensor: Literal["sar", "optical"]
    method: str
    """``irmad-cva`` (optical) or ``log-ratio`` (SAR)."""
    method_version: str
    compared_fraction: float
    """Share of the area's pixels with data, not under cloud, in both images."""
    compared_pixels: int
    changed: NDArray[np.bool_] = field(repr=False)
    """Changed pixels kept in regions (rows × cols)."""
    parameters: dict[str, Any] = field(default_factory=dict)
    """The rule's values: threshold, looks, bands, pfa, min area…"""
    excluded_m2: float = 0.0
    """Area of the pixels that could have been compared but were left out (``exclude``: detected objects)."""

    def count(self, direction: Direction) -> int:
        return sum(1 for r in self.regions if r.direction == direction)

    @property
    def area_m2(self) -> float:
        return float(sum(r.area_m2 for r in self.regions))


RESAMPLE_HINT = (
    "to cut a GeoTIFF at another pixel size X, tag a copy of it (of each band file) SITEWATCH_RESOLUTION_M=X "
    "(`gdal_edit.py -mo SITEWATCH_RESOLUTION_M=X FILE`) and ingest that"
)
"""How an image is ingested at another site's pixel size, for two observations that differ in theirs."""


def check_same_grid(before: Grid, after: Grid, before_name: str = "before", after_name: str = "after") -> None:
    """Raise :class:`GridMismatchError` naming what differs when two grids are not the same."""
    from pyproj import CRS

    what = None
    how = "ingest both images into the same site, at the same resolution, so that they are cut to its grid"
    if CRS.from_user_input(before.crs) != CRS.from_user_input(after.crs):
        what = f"CRS {before.crs} against {after.crs}"
    elif not np.allclose(before.pixel_size, after.pixel_size, rtol=1e-6):
        what = f"pixel size {before.pixel_size[0]:g} m against {after.pixel_size[0]:g} m"
        # `ingest` cuts an image at its own ground resolution and has no option for another one: two
        # Sentinel-2 exports of one place came out at 9.63 and 9.666 m (OSCD's hongkong) and could not be compared.
        how = f"{RESAMPLE_HINT} (at {before.pixel_size[0]:g} m to compare them)"
    elif not np.allclose(before.transform, after.transform, rtol=0, atol=1e-6 * max(before.pixel_size)):
        what = f"origin ({before.transform[2]:.2f}, {before.transform[5]:.2f}) against ({after.transform[2]:.2f}, {after.transform[5]:.2f})"
    elif before.shape != after.shape:
        what = f"{before.width} x {before.height} pixels against {after.width} x {after.height}"
    if what:
        raise GridMismatchError(
            f"{before_name} and {after_name} are not on one grid ({what}): change compares pixels of one site grid; {how}"
        )


# -- optical ---------------------------------------------------------------------------------------


def _chi2_sf(dof: int, z: NDArray[np.float64]) -> NDArray[np.float64]:
    """Chi-square survival function of ``dof`` (a positive integer) degrees of freedom, in closed form:
    e^(-z/2) Σ (z/2)^k / k! for even ``dof``, with erfc(√(z/2)) and half-integer powers for odd (the
    same values as ``scipy.special.chdtrc`` to rounding, several times faster)."""
    from scipy import special

    h = 0.5 * z
    e = np.exp(-h)
    if dof % 2 == 0:
        total, term = np.ones_like(h), np.ones_like(h)
        for k in range(1, dof // 2):
            term = term * h / k
            total += term
        return np.asarray(e * total)
    out = special.erfc(np.sqrt(h))
    if dof > 1:
        term = np.sqrt(h) / math.gamma(1.5)
        total = term.copy()
        for k in range(2, (dof + 1) // 2):
            term = term * h / (k - 0.5)
            total += term
        out = out + e * total
    return np.asarray(out)


def irmad_weights(x: NDArray[np.floating], y: NDArray[np.floating], *, iterations: int = 50, tol: float = 1e-4) -> NDArray[np.float64]:
    """No-change probabilities of IR-MAD (Nielsen 2007) for pixels ``x`` and ``y`` (pixels × bands).

    Each iteration makes the weighted canonical correlation analysis of the two dates, the MAD
    variates (differences of the canonical variates) standardised by their variance 2(1 - ρ), and
    weights every pixel by the chi-square survival function of their squared sum; it stops when no
    canonical correlation moves by more than ``tol``.
    """
    from scipy import linalg

    # Both dates side by side: one centring, one weighted product for the three covariances and one
    # for the MAD variates per iteration (the pixel-sized work), the rest is on p × p matrices.
    Z = np.ascontiguousarray(np.hstack([np.asarray(x, np.float64), np.asarray(y, np.float64)]))
    n, p = np.shape(x)
    w = np.ones(n)
    last = np.full(p, -1.0)
    ridge = 1e-12 * np.eye(p)
    for _ in range(iterations):
        sw = w.sum()
        Zc = Z - (w @ Z) / sw
        s = (Zc * w[:, None]).T @ Zc / sw
        sxx, syy, sxy = s[:p, :p], s[p:, p:], s[:p, p:]
        try:
            r2, a = linalg.eigh(sxy @ np.linalg.solve(syy + ridge, sxy.T), sxx + ridge)
            b = np.linalg.solve(syy + ridge, sxy.T @ a)
        except (linalg.LinAlgError, ValueError):
            break  # a band constant over the weighted pixels: keep the last weights
        b /= np.sqrt(np.maximum(np.einsum("ij,ij->j", b, syy @ b), 1e-300))
        b *= np.sign(np.einsum("ij,ij->j", a, sxy @ b))
        rho = np.sqrt(np.clip(r2, 0.0, 1.0))
        mad = Zc @ np.vstack([a, -b])
        z = (mad * mad) @ (1.0 / np.maximum(2.0 * (1.0 - rho), 1e-12))
        new = _chi2_sf(p, z)
        if not np.isfinite(new).all() or new.sum() < 1e-9 * n:
            break  # every pixel improbable (the variances collapsed): keep the last usable weights
        w = new
        if float(np.max(np.abs(rho - last))) < tol:
            break
        last = rho
    return w


def _masked_mean(a: NDArray[np.floating], ok: NDArray[np.bool_], size: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean of ``a`` over the ``ok`` pixels of a ``size`` square around each pixel (NaN with none),
    and the share of that square they are (less than 1 at the grid's edge and beside no data)."""
    from scipy import ndimage

    if size <= 1:
        return np.where(ok, a, np.nan).astype(np.float64), ok.astype(np.float64)
    num = ndimage.uniform_filter(np.where(ok, a, 0.0).astype(np.float64), size, mode="constant")
    den = ndimage.uniform_filter(ok.astype(np.float64), size, mode="constant")
    den = np.round(den * size * size) / (size * size)  # whole pixels: the filter's sums carry rounding
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok & (den > 0), num / np.maximum(den, 1e-12), np.nan), np.where(ok, den, 0.0)


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


def _version(method: str, classes: int, fine: bool = False) -> str:
    """The version of the rules a pair ran: ``irmad-cva`` at :data:`FINE_PIXEL_M` or finer is version 4's;
    coarser, without spectral classes, version 2's test, with them version 3's."""
    if method != "irmad-cva" or fine:
        return METHOD_VERSIONS[method]
    return "2" if classes <= 1 else "3"


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
    label[flat] = vq(feat[:, flat].T / scale, centres, check_finite=False)[0] + 1
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
    level, _ = _masked_mean(value, ok, smooth_px)
    whole = ok & (share >= 1.0) & (level > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = d / level
    gain = np.zeros(classes + 1)
    counts = np.bincount(label[whole], minlength=classes + 1)
    for c in np.flatnonzero(counts[1:] >= CLASS_MIN_PIXELS) + 1:
        gain[c] = float(np.median(ratio[whole & (label == c)]))
    return np.nan_to_num(_masked_mean(gain[label] * value, ok, smooth_px)[0])


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
    module docstring; NaN where not compared); brightness their mean over ``brightness_bands`` (indexes;
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
    if idx.size < 10 * n_bands:
        raise InputError(f"only {idx.size} pixels can be compared: too few to tell change from noise")
    sample = idx[:: max(1, idx.size // _SAMPLE)]
    xb = before.reshape(n_bands, -1)[:, sample].T.astype(np.float64)
    xa = after.reshape(n_bands, -1)[:, sample].T.astype(np.float64)
    w = irmad_weights(xb, xa)
    invariant = w >= np.median(w)
    z = np.zeros(ok.shape)
    zc = np.zeros(ok.shape)
    label = _cover_classes(before, ok, sample, classes, smooth_px) if classes > 1 and idx.size >= 2 * CLASS_MIN_PIXELS else None
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


# -- sub-metre optical -----------------------------------------------------------------------------

FINE_PIXEL_M = 1.0
"""Pixels of this size or finer (metres) get the sub-metre rules of ``irmad-cva`` 4 (module docstring). At
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


def _disc(radius: int) -> NDArray[np.bool_]:
    """A disc of ``radius`` pixels as a structuring element."""
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return (yy**2 + xx**2) <= radius * radius + 1e-9


def _quartile_match(u: NDArray[np.float64], v: NDArray[np.float64]) -> tuple[float, float]:
    """The gain and offset that put ``u``'s median and interquartile range on ``v``'s (1 and the medians'
    difference when either range is empty): a normalisation that needs no pixel-by-pixel correlation."""
    qu, qv = np.quantile(u, [0.25, 0.5, 0.75]), np.quantile(v, [0.25, 0.5, 0.75])
    slope = float((qv[2] - qv[0]) / (qu[2] - qu[0])) if qu[2] > qu[0] and qv[2] > qv[0] else 1.0
    return slope, float(qv[1] - slope * qu[1])


def _fine_scale(z: NDArray[np.float64], whole: NDArray[np.bool_], n_bands: int) -> float:
    """The factor (at most 1) the squared length ``z`` of the standardised change vector is divided by at
    sub-metre: the :data:`FINE_QUIET_SHARE` quantile of ``z`` over the pixels with a whole window, over chi-square's with
    ``n_bands`` degrees of freedom. Under no change it is about 1 (as the per-band median absolute
    deviations already make it); where much of the scene changed, the changed pixels have widened
    those deviations and it is less. Never above 1: the rule only undoes a widening."""
    from scipy import stats

    v = z[whole & np.isfinite(z)]
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


# -- SAR -------------------------------------------------------------------------------------------


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
    looks: those of a whole window read from the log-ratio's spread (see the module docstring),
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


# -- regions ---------------------------------------------------------------------------------------


def _hysteresis(grow: NDArray[np.bool_], seed: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The 8-connected parts of ``grow`` that hold a ``seed`` pixel."""
    from scipy import ndimage

    labels, _ = ndimage.label(grow | seed, structure=np.ones((3, 3), bool))
    keep = np.unique(labels[seed])
    return np.isin(labels, keep[keep > 0])


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The polygons of ``geom`` (a made-valid pixel outline: a polygon, a multipolygon, or a collection
    with the lines and points of the corners it was split at), as one polygon or multipolygon."""
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    return unary_union(polys)


def _regions(
    mask: NDArray[np.bool_], grid: Grid, min_area_m2: float, value: NDArray[np.float64],
    direction_of: NDArray[np.float64] | Direction,
) -> tuple[list[ChangeRegion], NDArray[np.bool_]]:  # fmt: skip
    """8-connected regions of ``mask`` at least ``min_area_m2`` large, with their mean ``value``."""
    from rasterio.features import shapes
    from scipy import ndimage

    a, b, _, d, e, _ = grid.transform
    pixel_m2 = abs(a * e - b * d)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if n == 0:
        return [], np.zeros_like(mask)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes * pixel_m2 >= min_area_m2
    keep[0] = False
    labels = np.where(keep[labels], labels, 0).astype(np.int32)
    if not keep.any():
        return [], np.zeros_like(mask)
    ids = np.flatnonzero(keep)
    vmean = dict(zip(ids.tolist(), ndimage.mean(value, labels, ids), strict=True))
    dmean = None if isinstance(direction_of, str) else dict(zip(ids.tolist(), ndimage.mean(direction_of, labels, ids), strict=True))
    parts: dict[int, list[BaseGeometry]] = {}
    for geom, v in shapes(labels, mask=labels > 0, connectivity=8, transform=grid.affine):
        parts.setdefault(int(v), []).append(shape(geom))
    out = []
    for k in sorted(parts):
        # Pixels joined only at a corner give rings that touch themselves there: invalid for shapely, GEOS
        # and QGIS's tools. make_valid keeps the same pixels (only the rings are split at the corner).
        poly = _polygonal(make_valid(unary_union(parts[k])))
        if isinstance(direction_of, str):
            direction: Direction = direction_of
        else:
            bright = float(dmean[k]) if dmean is not None else 0.0
            direction = "appeared" if bright > 1.0 else "disappeared" if bright < -1.0 else "altered"
        out.append(
            ChangeRegion(
                polygon=poly,
                polygon_wgs84=reproject_geometry(poly, grid.crs, "EPSG:4326"),
                area_m2=round(float(sizes[k] * pixel_m2), 3),
                magnitude=round(float(vmean[k]), 4),
                direction=direction,
                pixels=int(sizes[k]),
            )
        )
    return out, labels > 0


# -- the entry point -------------------------------------------------------------------------------


def detect_changes(
    before: ChangeImage,
    after: ChangeImage,
    *,
    area: NDArray[np.bool_] | None = None,
    min_area_m2: float = 200.0,
    pfa: float | None = None,
    despeckle_px: int = 5,
    dark_db: float | None = -14.0,
    smooth_px: int = 3,
    exclude: NDArray[np.bool_] | None = None,
    noise: NoiseRule = "scene",
    classes: int = COVER_CLASSES,
) -> ChangeResult:
    """The regions that changed from ``before`` to ``after``, two images of one grid and one sensor.

    ``area`` marks the pixels that belong to the comparison (the site's polygon; default: all);
    ``min_area_m2`` drops smaller regions; ``pfa`` is the per-pixel false-alarm probability of the
    threshold (chi-square quantile for optical, F quantiles for SAR; default :data:`DEFAULT_PFA`); ``despeckle_px`` the SAR mean
    filter's side, ``dark_db`` the SAR level below which a pixel dark in both is not tested (None: test
    all), ``smooth_px`` the side of the optical differences' mean. ``exclude`` marks pixels left out of
    the comparison, as cloud is (the vessels and cranes detection found: :mod:`sitewatch.change_objects`);
    :attr:`ChangeResult.excluded_m2` says how much of what could be compared they were, and
    :attr:`ChangeResult.compared_fraction` does not count them as not compared. See the module docstring for the
    methods; ``noise`` which pixels the optical noise spread is read from (:func:`_noise_sd`); ``classes``
    how many spectral classes of ``before`` the optical test centres each pixel's change on (0 or 1: none,
    method version 2's test; not used on pixels of :data:`FINE_PIXEL_M` or finer). Raises :class:`GridMismatchError` when the grids differ and :class:`InputError` when
    the sensors differ or the images share no band to compare.
    """
    check_same_grid(before.grid, after.grid, before.name, after.name)
    if before.sensor != after.sensor:
        raise InputError(
            f"{before.name} is {before.sensor} and {after.name} is {after.sensor}: change compares two images "
            "of one sensor (SAR backscatter and optical reflectance measure different things); pick two of the same"
        )
    pfa = DEFAULT_PFA[before.sensor] if pfa is None else pfa
    if not 0 < pfa < 0.5:
        raise InputError(f"pfa must lie between 0 and 0.5, got {pfa}")
    if min_area_m2 < 0:
        raise InputError(f"the minimum region area must not be negative, got {min_area_m2} m²")
    domain = np.ones(before.grid.shape, bool) if area is None else np.asarray(area, bool)
    ok = before.usable() & after.usable() & domain
    n_domain = int(domain.sum())
    compared = int(ok.sum())
    fraction = round(compared / n_domain, 6) if n_domain else 0.0
    excluded_m2 = 0.0
    if exclude is not None:
        if exclude.shape != before.grid.shape:
            raise InputError(f"exclude mask of shape {exclude.shape}, grid {before.grid.shape}")
        ex = np.asarray(exclude, bool)
        a, b, _, d, e, _ = before.grid.transform
        excluded_m2 = round(float((ok & ex).sum()) * abs(a * e - b * d), 3)
        ok = ok & ~ex
    params: dict[str, Any] = {"pfa": pfa, "min_area_m2": min_area_m2}
    if before.sensor == "optical":
        names_b, names_a = [n.lower() for n in before.band_names], [n.lower() for n in after.band_names]
        common = [n for n in OPTICAL_BANDS if n in names_b and n in names_a]
        if not common:
            raise InputError(
                f"{before.name} and {after.name} share none of the bands {', '.join(OPTICAL_BANDS)}: nothing to compare"
            )
        xb = np.stack([before.data[names_b.index(n)] for n in common])
        xa = np.stack([after.data[names_a.index(n)] for n in common])
        method = "irmad-cva"
        pixel_m = max(before.grid.pixel_size)
        fine = pixel_m <= FINE_PIXEL_M
        if fine:
            classes = 0  # at sub-metre a spectral class is a kind of object (roofs, roads, shadow), not a cover
        version = _version(method, classes, fine)
        params |= {"bands": common, "smooth_px": smooth_px, "noise": noise, "classes": classes}
        if compared < 10 * len(common):
            return ChangeResult((), "optical", method, version, fraction, compared, np.zeros_like(ok), params, excluded_m2)
        visible = [i for i, n in enumerate(common) if n in VISIBLE_BANDS] or list(range(len(common)))
        tolerance = max(1, int(round(FINE_TOLERANCE_M / pixel_m))) if fine else 0
        z, zt, brightness = _optical_statistics(xb, xa, ok, smooth_px=smooth_px, noise=noise, brightness_bands=visible,
                                                classes=classes, tolerance_px=tolerance)
        from scipy import stats

        seed = float(stats.chi2.ppf(1.0 - pfa, len(common)))
        grow = float(stats.chi2.ppf(1.0 - min(0.1, pfa * GROW), len(common)))
        if zt is not None:
            share = _masked_mean(ok.astype(np.float64), ok, smooth_px)[1]
            scale = _fine_scale(z, ok & (share >= 1.0), len(common))
            z, brightness = zt / scale, brightness / math.sqrt(scale)
            grow = _fine_grow(z, ok, grow, len(common))
            params |= {"noise_scale": round(math.sqrt(scale), 4), "tolerance_px": tolerance}
        params |= {"chi2_seed": round(seed, 4), "chi2_grow": round(grow, 4)}
        with np.errstate(invalid="ignore"):
            changed = _hysteresis(ok & (z > grow), ok & (z > seed))
        if fine:
            changed = _fine_shapes(changed, pixel_m, min_area_m2) & ok
        regions, kept = _regions(changed, before.grid, min_area_m2, np.sqrt(np.nan_to_num(z)), brightness)
    else:
        method = "log-ratio"
        params |= {"despeckle_px": despeckle_px, "dark_db": dark_db, "band": before.band_names[0]}
        lr, tested, looks = sar_log_ratio(before.data[0], after.data[0], ok, despeckle_px=despeckle_px, dark_db=dark_db)
        if not np.isfinite(looks).any():
            return ChangeResult((), "sar", method, METHOD_VERSIONS[method], fraction, compared, np.zeros_like(ok), params, excluded_m2)
        t_seed, t_grow = _f_thresholds(looks, pfa), _f_thresholds(looks, min(0.1, pfa * GROW))
        to_db = 10 / math.log(10)
        params |= {"looks": round(float(np.nanmax(looks)), 3), "seed_db": round(to_db * float(np.min(t_seed)), 4),
                   "grow_db": round(to_db * float(np.min(t_grow)), 4)}  # fmt: skip
        db = np.nan_to_num(np.abs(lr)) * to_db
        with np.errstate(invalid="ignore"):
            up = _hysteresis(tested & (lr > t_grow), tested & (lr > t_seed))
            down = _hysteresis(tested & (lr < -t_grow), tested & (lr < -t_seed))
        r_up, k_up = _regions(up, before.grid, min_area_m2, db, "appeared")
        r_down, k_down = _regions(down, before.grid, min_area_m2, db, "disappeared")
        regions, kept = r_up + r_down, k_up | k_down
    regions.sort(key=lambda r: (-r.area_m2, r.polygon.bounds))
    version = _version(method, classes, before.sensor == "optical" and max(before.grid.pixel_size) <= FINE_PIXEL_M)
    return ChangeResult(tuple(regions), before.sensor, method, version, fraction, compared, kept, params, excluded_m2)


def to_changes(result: ChangeResult, site_id: str, before_id: str, after_id: str) -> list[Change]:
    """The regions as :class:`~sitewatch.model.Change` rows (WGS84 polygons), ids ``BEFORE..AFTER#n``."""
    return [
        Change(
            id=f"{before_id}..{after_id}#{i + 1}",
            site_id=site_id,
            before_id=before_id,
            after_id=after_id,
            polygon=r.polygon_wgs84,
            area_m2=r.area_m2,
            magnitude=r.magnitude,
            direction=r.direction,
            method=result.method,
            method_version=result.method_version,
        )
        for i, r in enumerate(result.regions)
    ]
