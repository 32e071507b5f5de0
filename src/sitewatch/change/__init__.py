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

**Learned score** (optical pairs of :data:`~.learned.LEARNED_PIXEL_M`, Sentinel-2's class, with blue, green and
red; method version 5; ``learned=False`` keeps version 3's test). Boosted trees trained on OSCD's labelled
cities score each pixel from its colours, differences, textures and the chi-square statistic above
(:mod:`.learned`); a pixel scoring the model's cut seeds a region, as does one whose statistic passes
:data:`~.learned.STRONG_PFA`, and regions grow into the pixels past :data:`~.learned.GROW_PFA`, except on 8-bit
renderings, where the score alone decides.

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

**Sub-metre learned score** (pixels of :data:`~.learned.LEARNED_FINE_PIXEL_M` with blue, green and red;
method version 6; ``learned=False`` keeps version 4). The features of the learned score above, scored by
trees trained on the LEVIR-CD and DSIFN-CD samples (:data:`~.learned.FINE_MODEL_FILE`): a pixel scoring
the model's cut whose misregistration-tolerant statistic passes chi-square's
:data:`~.learned.FINE_SEED_QUANTILE`, or whose statistic passes :data:`~.learned.STRONG_PFA`, seeds a
region; regions grow into version 4's changed pixels, and version 4's regions without such a seed are
dropped, before the shaping in metres.

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

The modules: :mod:`.pair` (the images and what is found), :mod:`.compare` (:func:`detect_changes`,
:func:`to_changes`), :mod:`.optical` with :mod:`.irmad` and :mod:`.submetre`, :mod:`.sar`,
:mod:`.regions` (the whole grid labelled at once: the reference), :mod:`.blocklabels` (the same regions
labelled a block of rows at a time, as the comparison makes them), :mod:`.windows` (the pixel
neighbourhoods both sensors average over) and :mod:`.blocks` (the blocks of rows the optical and SAR tests
and the labelling go down the grid in, :class:`~.blocks.RowBlocks`: what it finds does not depend on them,
the memory it takes does).
"""

from __future__ import annotations

# The names imported "as" themselves are importable from here, as from the single module this package
# was, without being its API: what other modules, tests and benchmarks reach for.
from .blocks import RowBlocks
from .compare import DEFAULT_PFA, GROW, METHOD_VERSIONS, detect_changes, to_changes
from .compare import OPTICAL_BANDS as OPTICAL_BANDS
from .compare import VISIBLE_BANDS as VISIBLE_BANDS
from .irmad import _chi2_sf as _chi2_sf
from .irmad import irmad_weights
from .optical import CLASS_MIN_PIXELS as CLASS_MIN_PIXELS
from .optical import COVER_CLASSES as COVER_CLASSES
from .optical import NOISE_MIN_P as NOISE_MIN_P
from .optical import NoiseRule as NoiseRule
from .optical import optical_change_statistic
from .pair import RESAMPLE_HINT as RESAMPLE_HINT
from .pair import ChangeImage, ChangeRegion, ChangeResult, GridMismatchError, check_same_grid
from .pair import Direction as Direction
from .regions import _regions as _regions
from .sar import sar_log_ratio
from .submetre import FINE_CLOSE_M as FINE_CLOSE_M
from .submetre import FINE_GAIN_RANGE as FINE_GAIN_RANGE
from .submetre import FINE_OPEN_M as FINE_OPEN_M
from .submetre import FINE_PIXEL_M as FINE_PIXEL_M
from .submetre import FINE_QUIET_SHARE as FINE_QUIET_SHARE
from .submetre import FINE_TOLERANCE_M as FINE_TOLERANCE_M

__all__ = [
    "DEFAULT_PFA",
    "GROW",
    "ChangeImage",
    "ChangeRegion",
    "ChangeResult",
    "GridMismatchError",
    "METHOD_VERSIONS",
    "RowBlocks",
    "check_same_grid",
    "detect_changes",
    "irmad_weights",
    "optical_change_statistic",
    "sar_log_ratio",
    "to_changes",
]
