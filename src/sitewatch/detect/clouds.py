"""Clouds and cloud shadows in optical scenes.

With a Sentinel-2 scene classification layer (SCL) the mask is its classes
**3 (cloud shadow), 8 (cloud, medium probability), 9 (cloud, high
probability) and 10 (thin cirrus)**; 0 (no data) and 1 (saturated or
defective) are no data (:func:`scl_no_data`): hidden too, but not cloud, so they
stay out of the cloud fraction. (The optical detector drops a vessel within its
cloud margin of either; only the experimental ``OpticalParams.nodata_cut`` reports
one beside no data as cut.) Class 11 (snow) is neither: snow is not cloud.

Without SCL a spectral test stands in: clouds are bright and white in the
visible (mean reflectance above ``bright``, spread between bands small) and
larger than any ship (an opening with a square wider than a beam removes
white decks and white roofs narrower than that); shadows are unusually dark
pixels next to a cloud. Both are widened by ``margin_m`` because cloud edges
are soft.

A PlanetScope scene's usable data mask (UDM2, :func:`udm2_to_scl`) is put into
SCL's classes, so that one rule (:data:`SCL_CLOUD`, :data:`SCL_NO_DATA`) reads both: cloud,
cloud shadow and heavy haze are cloud, unusable pixels no data; light haze and snow hide nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from .optical_water import dilate, erode

__all__ = [
    "cloud_mask", "SCL_HIDDEN", "cloud_fraction", "UDM2_BANDS", "UDM2_CLOUD_RULE", "udm2_to_scl",
    "QA_PIXEL_CLOUD_RULE", "qa_pixel_to_scl", "SCL_NO_DATA", "SCL_CLOUD", "scl_no_data",
]  # fmt: skip

SCL_HIDDEN: tuple[int, ...] = (0, 1, 3, 8, 9, 10)
"""SCL classes that hide the ground: no data, defective, shadow, cloud medium/high, cirrus."""
SCL_NO_DATA: tuple[int, ...] = (0, 1)
"""SCL classes without data (no data, saturated or defective): missing, not cloud (:func:`scl_no_data`)."""
SCL_CLOUD: tuple[int, ...] = (3, 8, 9, 10)
"""SCL classes of cloud and cloud shadow: what :func:`cloud_mask` returns from an SCL."""


def scl_no_data(scl: NDArray[np.integer]) -> NDArray[np.bool_]:
    """Pixels an SCL (or a UDM2 or QA_PIXEL put into its classes) marks as without data.

    They hide the ground as cloud does but are not cloud: they stay out of the cloud fraction,
    and with the experimental ``OpticalParams.nodata_cut`` a vessel beside them is reported
    ``truncated`` rather than dropped (by default it is dropped, as beside cloud).
    """
    return np.isin(np.asarray(scl), SCL_NO_DATA)

# Planet's PSScene asset table (https://docs.planet.com/data/imagery/planetscope/psscene/, "ortho_udm2")
# and the UDM2 page (https://developers.planet.com/docs/data/udm-2/): eight uint8 bands, 1-6 one class
# each (0 or 1, mutually exclusive), 7 the confidence in percent, 8 the original UDM's bit flags.
UDM2_BANDS: tuple[str, ...] = ("clear", "snow", "shadow", "haze_light", "haze_heavy", "cloud", "confidence", "udm1")
"""The bands of a UDM2 file, in order."""
_UDM1_CLOUD_BIT = 0b10
"""Bit 1 of band 8, the original UDM's cloud test: run on a decimated browse image, it takes snow for
cloud and misses small clouds. Planet's notebook on the UDM (planetlabs/notebooks, "Working with the
Unusable Data Mask") says to leave it out when another cloud test is used, as UDM2's own classes are
here; bit 0 (blackfill, not imaged) and bits 2-7 (a band's data missing or suspect) are unusable."""
UDM2_CLOUD_RULE = (
    "UDM2 as SCL classes: cloud (band 6) -> 9, heavy haze (band 5) -> 8, shadow (band 3) -> 3, "
    "unusable (band 8, any bit but 1) -> 0, all hidden; snow (band 2) -> 11, light haze (band 4) and clear -> 7, seen"
)
"""How :func:`udm2_to_scl` reads a UDM2, as provenance says it."""


def udm2_to_scl(udm2: NDArray[np.integer]) -> NDArray[np.uint8]:
    """A UDM2 (8 × rows × cols, :data:`UDM2_BANDS`) as Sentinel-2 SCL classes (rows × cols).

    Hidden, as SCL's classes of the same meaning are: cloud (SCL 9, cloud high probability), heavy
    haze (8, medium probability: Planet's "fair recognition of land cover, no reliable radiometry"),
    cloud shadow (3) and unusable data (0, no data). Seen: snow (11, as SCL's snow: the ground,
    not cloud), and light haze and clear (7, unclassified). Light haze is Planet's "reliable
    recognition of land cover" through thin haze, and since UDM2.1 (November 2023) its only haze
    class, band 5 staying 0 (https://support.planet.com/hc/en-us/articles/4403826651409-All-About-UDM2-1):
    hiding it would hide every hazy day, on which a hull on dark water is still plain.
    """
    u = np.asarray(udm2)
    if u.ndim != 3 or u.shape[0] != len(UDM2_BANDS):
        raise ValueError(f"a UDM2 has {len(UDM2_BANDS)} bands, got an array of shape {u.shape}")
    out = np.full(u.shape[1:], 7, np.uint8)
    out[u[1] != 0] = 11
    out[u[2] != 0] = 3
    out[u[4] != 0] = 8
    out[u[5] != 0] = 9
    out[(u[7].astype(np.int64) & ~_UDM1_CLOUD_BIT) != 0] = 0
    return out


QA_PIXEL_CLOUD_RULE = (
    "Landsat QA_PIXEL as SCL classes: fill (bit 0) -> 0, dilated cloud (bit 1) or cloud (bit 3) -> 9, "
    "cirrus (bit 2) -> 10, cloud shadow (bit 4) -> 3, all hidden; snow (bit 5) -> 11, the rest -> 7, seen"
)
"""How :func:`qa_pixel_to_scl` reads a QA_PIXEL band, as provenance says it (the bits ``sitewatch fetch`` counts)."""


def qa_pixel_to_scl(qa: NDArray[np.integer]) -> NDArray[np.uint8]:
    """A Landsat Collection 2 ``QA_PIXEL`` band as Sentinel-2 SCL classes, with the bits ``sitewatch
    fetch`` counts as cloud (:data:`sitewatch.fetch.LANDSAT_CLOUD_BITS`) hidden and fill as no data.

    The bits (https://www.usgs.gov/landsat-missions/landsat-collection-2-quality-assessment-bands): 0 fill,
    1 dilated cloud, 2 cirrus, 3 cloud, 4 cloud shadow, 5 snow.
    """
    q = np.asarray(qa).astype(np.int64)
    out = np.full(q.shape, 7, np.uint8)
    out[(q >> 5) & 1 == 1] = 11
    out[(q >> 4) & 1 == 1] = 3
    out[(q >> 2) & 1 == 1] = 10
    out[((q >> 1) & 1 == 1) | ((q >> 3) & 1 == 1)] = 9
    out[q & 1 == 1] = 0
    return out


def cloud_mask(
    bands: Mapping[str, NDArray[np.floating]],
    scl: NDArray[np.integer] | None = None,
    *,
    pixel_size: float = 10.0,
    bright: float = 0.25,
    whiteness: float = 0.25,
    min_cloud_m: float = 120.0,
    margin_m: float = 60.0,
    valid: NDArray[np.bool_] | None = None,
) -> NDArray[np.bool_]:
    """Boolean mask of pixels under cloud or cloud shadow.

    ``bands`` are reflectance 0..1 (see :func:`sitewatch.detect.optical.to_reflectance`);
    ``scl`` a Sentinel-2 SCL array of the same shape, which wins when given: its
    :data:`SCL_CLOUD` classes (its no-data classes are :func:`scl_no_data`'s, not cloud).
    ``valid`` marks the pixels with data (default: all): the spectral test takes its
    statistics over them alone and no pixel outside them is cloud, so a bright fill
    under a transparent alpha band is not taken for a cloud whose margin would hide
    the ships beside it.
    """
    ok = None if valid is None else np.asarray(valid, bool)
    if scl is not None:
        s = np.isin(np.asarray(scl), SCL_CLOUD)
        return s if ok is None else s & ok
    vis_names = [k for k in ("blue", "green", "red") if k in bands]
    if not vis_names:
        raise ValueError("cloud_mask needs at least one visible band")
    vis = [np.asarray(bands[k], dtype=np.float32) for k in vis_names]
    if ok is not None and ok.shape != vis[0].shape:
        raise ValueError(f"cloud_mask: valid mask shape {ok.shape} differs from the bands' {vis[0].shape}")
    # The mean as np.mean over the stacked bands sums them (in order, float32), without the stack.
    mean = vis[0].copy()
    for v in vis[1:]:
        mean += v
    mean /= np.float32(len(vis))
    # The whiteness and NIR tests only where the mean is bright (a few pixels in a hundred).
    cloudy = mean > bright
    if ok is not None:
        cloudy &= ok
    at = np.nonzero(cloudy)
    hi = lo = vis[0][at]
    for v in vis[1:]:
        hi, lo = np.maximum(hi, v[at]), np.minimum(lo, v[at])
    white = (hi - lo) / np.maximum(mean[at], 1e-6) < whiteness
    if "nir" in bands:
        # Clouds are bright in NIR too; bright white roofs are as well, but snow-free
        # water-side ships are excluded by the size opening below.
        white &= np.asarray(bands["nir"], dtype=np.float32)[at] > 0.8 * bright
    cloudy[at] = white
    size = max(3, int(round(min_cloud_m / pixel_size)))
    core = erode(cloudy, size)
    cloudy = dilate(core, size) & cloudy if core.any() else core
    seen = ~cloudy if ok is None else ~cloudy & ok
    if not cloudy.any() or not seen.any():
        return cloudy  # all clear, or overcast: no shadow to look for beside it
    margin = max(3, int(round(2 * margin_m / pixel_size)) | 1)
    near = dilate(cloudy, 4 * margin)
    clear = mean[seen]
    dark_ref = float(np.percentile(clear[:: max(1, clear.size // 1_000_000)], 5))
    shadow = near & (mean < dark_ref * 1.2)
    if "nir" in bands:
        # Water is dark in every band; shadow on water cannot be told apart, shadow on
        # land keeps some NIR: only count dark pixels whose NIR is not water-like low.
        shadow &= np.asarray(bands["nir"], dtype=np.float32) > np.asarray(bands["green"]) * 0.6
    out = np.asarray(dilate(cloudy | shadow, margin))
    return out if ok is None else out & ok


def cloud_fraction(hidden: NDArray[np.bool_], area: NDArray[np.bool_] | None = None) -> float:
    """Fraction of ``area`` (default: the whole image) hidden by cloud or shadow."""
    h = np.asarray(hidden, bool)
    if area is None:
        return float(h.mean()) if h.size else 0.0
    a = np.asarray(area, bool)
    n = int(a.sum())
    return float((h & a).sum() / n) if n else 0.0
