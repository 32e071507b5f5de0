"""Measurement of SAR vessels: oriented boxes, shape tests, size features and length.

Length and width are measured from the target's intensity above the background
(:func:`size_from_features` over :func:`size_features`), not from the component's extent,
which includes sidelobes and smearing; pieces cut at a rescue level get a per-level length
factor (``sar_length_levels.json``). :func:`_measure` holds the vessel shape tests.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .base import measure_components, measure_pixel_lists

if TYPE_CHECKING:
    from .sar import SarParams

__all__ = ["LENGTH_FILE", "correct_size", "deconvolve_width", "level_factor", "raw_length", "size_features", "size_from_features"]


def correct_size(length_m: NDArray[np.float64], width_m: NDArray[np.float64], pixel_size: float, psf_m: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Remove the smearing of the return (one point-spread width) from measured sizes.

    The measured extent is the footprint of every pixel above the growth
    threshold: the hull plus about half a resolution cell at each end. The
    correction never shrinks an object below one pixel.
    """
    blur = max(psf_m, pixel_size)
    return (np.maximum(length_m - blur, pixel_size), np.maximum(width_m - blur, pixel_size))


LENGTH_FILE = "sar_length_levels.json"


def raw_length(feats: dict[str, NDArray[np.float64]], pixel_m: float) -> NDArray[np.float64]:
    """Length before the per-level factor: the intensity-weighted spread, at most the component's
    extent, at least one pixel; for pieces cut at a rescue level (``level`` > 0), the geometric
    mean of that and the dB-weighted spread (``length_db_m``, also at most the extent).

    The weighted spread of a hull bright at bow and stern and dim amidships (tankers, bulk
    carriers at 10 m) exceeds its length (two points at the ends: sqrt(12) / 2 = 1.7 × the
    distance); the extent of the pixels above the growth threshold bounds it.

    Pieces come from components too bright for the shape tests; there one scatterer 30-45 dB
    over the sea (superstructure, a corner) takes most of the linear weight and the spread
    follows it (OpenSARShip GRD: 47 m for a 97 m cargo ship, extent 143 m). Weights in dB
    spread over the hull but also over the smear of small ships, so they are mixed in on
    pieces only: OpenSARShip GRD, VV+VH fused, level factors leave-one-scene-out, MAE vs AIS
    19.2 -> 17.9 m, better in each of the four held-out scenes and each AIS length band.
    Whole components (every simulated ship) keep the intensity-weighted spread."""
    lin = np.minimum(feats["length_int_m"], feats["length_ext_m"])
    if "length_db_m" in feats and "level" in feats:
        db = np.minimum(feats["length_db_m"], feats["length_ext_m"])
        lin = np.where(feats["level"] > 0, np.sqrt(np.maximum(lin, 0.0) * np.maximum(db, 0.0)), lin)
    return np.maximum(lin, pixel_m)


@lru_cache(maxsize=1)
def _level_factors() -> tuple[float, ...]:
    text = resources.files("sitewatch").joinpath("data", LENGTH_FILE).read_text(encoding="utf-8")
    return tuple(float(v) for v in json.loads(text)["factors"])


def level_factor(level: NDArray[np.float64], factors: tuple[float, ...] | None = None) -> NDArray[np.float64]:
    """Length factor of pieces cut at each ``level`` (0: whole component, factor 1)."""
    f = np.asarray(factors or _level_factors(), dtype=np.float64)
    return np.where(level > 0, f[np.clip(level.astype(np.int64), 0, f.size - 1)], 1.0)


def size_from_features(
    feats: dict[str, NDArray[np.float64]], pixel_m: float, factors: tuple[float, ...] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Vessel length and width from the target's own intensity, not from the mask's extent.

    The rule: ``sqrt(12 · variance)`` of the pixel positions along (across) the long axis,
    each weighted by its intensity above the local background mean. For a hull of uniform
    brightness that is its length; pixels that are only just above the growth threshold
    (sidelobes, range/azimuth smearing, speckle at the mask's edge) weigh almost nothing,
    whereas they set the mask's extent. Two effects are left uncorrected because they
    pull opposite ways and about cancel: the point spread adds its variance (about one
    resolution cell, so +5 to +10 m on a 100 m hull at 10 m), while the brightest
    scatterers (superstructure) sit inside the hull ends and make the weighted spread
    smaller than a uniform hull's. Measured against truth, the rule's bias is -4 m on
    the simulated scenes (ships 84-130 m) and within -8 m for OpenSARShip GRD ships up
    to 150 m (AIS lengths), where the mask extent was +17 m and +30 m too long.
    The result is at least one pixel, and the width never exceeds the length.

    Pieces cut out of a failed component at a stricter level (:func:`~sitewatch.detect.sar_pieces._rescue`, large bright
    ships smeared by sidelobes) lose the weaker ends of the hull: their length is scaled by
    a factor per level learned on OpenSARShip GRD against AIS (``sar_length_levels.json``,
    ``benchmarks/sar_train.py``; about 0.98 for seed-level pieces, 1.13 for stricter ones).
    Whole components (every simulated ship) are not scaled. ``factors``: per level, instead of
    the shipped ones (for held-out fits).
    """
    length = np.maximum(raw_length(feats, pixel_m) * level_factor(feats["level"], factors), pixel_m)
    width = np.minimum(np.maximum(feats["width_int_m"], pixel_m), length)
    return length, width


_SPREAD_PER_FWHM = math.sqrt(12.0) / (2.0 * math.sqrt(2.0 * math.log(2.0)))
"""``sqrt(12) · sigma`` of a Gaussian impulse response per metre of its full width at half maximum."""


def deconvolve_width(
    width_m: NDArray[np.float64],
    heading_deg: NDArray[np.float64],
    resolution_xy: tuple[float, float],
    floor_m: float,
) -> NDArray[np.float64]:
    """Measured widths with the radar's impulse response taken out (in quadrature).

    The width is ``sqrt(12 · variance)`` across the hull, and a hull imaged through an
    impulse response of spread ``sigma`` across it has the variance of both: the measured
    width is ``sqrt(w² + 12 sigma²)``. ``resolution_xy`` is the response's full width at half
    maximum along columns and rows (m); across a hull at ``heading_deg`` (clockwise from
    image up) its variance mixes the two. The result is at least ``floor_m`` and at most
    the measured width. On Sentinel-1 IW GRD (OpenSARShip, 215 ships with an AIS beam,
    VV+VH) the measured widths are 17 m too wide at the median (13 m beams come out
    32 m); with a 20 m response taken out (twice the 10 m pixel, the product's nominal
    20 × 22 m) the error is 0.2 m at the median, MAE 17.5 → 6.9 m, and a response fitted
    per held-out scene lands at 28-29 m of spread in each of the four, against 29.4 m
    for 20 m (``benchmarks/sar_real.py``, BENCHMARKS.md "Widths").
    """
    h = np.radians(heading_deg)
    across_x, across_y = (_SPREAD_PER_FWHM * r for r in resolution_xy)
    spread2 = (across_x * np.cos(h)) ** 2 + (across_y * np.sin(h)) ** 2
    return np.clip(np.sqrt(np.maximum(width_m**2 - spread2, 0.0)), np.minimum(floor_m, width_m), width_m)


def _box_corners(
    row: NDArray[np.float64],
    col: NDArray[np.float64],
    heading_deg: NDArray[np.float64],
    length_m: NDArray[np.float64],
    width_m: NDArray[np.float64],
    pxy: tuple[float, float],
) -> NDArray[np.float64]:
    """Corners (n, 4, 2) as (col, row) of oriented boxes centred on (row, col)."""
    px, py = pxy
    theta = np.radians(90.0 - heading_deg)
    ux, uy = np.cos(theta), np.sin(theta)
    out = np.zeros((row.size, 4, 2))
    for j, (sa, sc) in enumerate(((-1, -1), (1, -1), (1, 1), (-1, 1))):
        a, c = sa * length_m / 2, sc * width_m / 2
        out[:, j, 0] = col + (a * ux - c * uy) / px
        out[:, j, 1] = row - (a * uy + c * ux) / py
    return out


def _pixels(lab: NDArray[np.integer], ids: NDArray[np.integer]) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.int64]]:
    """Rows, columns and component index (position in ``ids``) of the pixels of components ``ids``."""
    lab_pos = np.full(max(int(lab.max()), int(ids.max(initial=0))) + 1, -1, dtype=np.int64)
    lab_pos[ids] = np.arange(ids.size)
    flat = np.flatnonzero(lab)  # faster than np.nonzero in 2-D, and the same pixels in the same order
    k = lab_pos[lab.ravel()[flat]]
    sel = k >= 0
    rr, cc = np.divmod(flat[sel], lab.shape[1])
    return rr, cc, k[sel]


def _axis_variances(
    w: NDArray[np.float64], lab: NDArray[np.integer], ids: NDArray[np.integer], pxy: tuple[float, float], heading_deg: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Weighted variance (m²) of each component's pixel positions along and across its long axis."""
    pix = _pixels(lab, ids)
    return _axis_variances_px(w[pix[0], pix[1]], pix, ids.size, pxy, heading_deg)


def _axis_variances_px(
    wk: NDArray[np.floating],
    pix: tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.int64]],
    n: int,
    pxy: tuple[float, float],
    heading_deg: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`_axis_variances` over a pixel list from :func:`_pixels` with the weights ``wk`` of
    its pixels (sums by bincount: small windows, many calls)."""
    px, py = pxy
    rr, cc, k = pix
    wk = wk.astype(np.float64, copy=False)
    y = rr * py
    x = cc * px
    theta = np.radians(90.0 - heading_deg)
    ux, uy = np.cos(theta), np.sin(theta)
    s = np.maximum(np.bincount(k, wk, n), 1e-30)
    my = np.bincount(k, wk * y, n) / s
    mx = np.bincount(k, wk * x, n) / s
    dy = y - my[k]
    dx = x - mx[k]
    vyy = np.bincount(k, wk * dy * dy, n) / s
    vxx = np.bincount(k, wk * dx * dx, n) / s
    vxy = -np.bincount(k, wk * dx * dy, n) / s  # rows run down, y up
    along = vxx * ux * ux + 2 * vxy * ux * uy + vyy * uy * uy
    across = vxx * uy * uy - 2 * vxy * ux * uy + vyy * ux * ux
    return np.maximum(along, 0.0), np.maximum(across, 0.0)


def size_features(
    xs: NDArray[np.float32],
    mu: NDArray[np.float64],
    ts: NDArray[np.float64],
    lab: NDArray[np.integer],
    ids: NDArray[np.integer],
    m: dict[str, NDArray[np.float64]],
    pxy: tuple[float, float],
) -> dict[str, NDArray[np.float64]]:
    """Size and brightness measures of components ``ids`` of ``lab`` (one array per feature).

    ``length_ext_m``/``width_ext_m``: extent of the component (every pixel above the growth
    threshold); ``length_mom_m``/``width_mom_m``: sqrt(12 · variance) of its pixel positions
    along/across the long axis (a uniform rectangle's length); ``length_int_m``: the same
    weighted by intensity above the background (``width_int_m`` across); ``length_db_m``: weighted by
    dB above the background instead; ``length_seed_m``: extent of the pixels above
    the seed threshold; ``peak_db``/``mean_db``: brightest and mean pixel over the background;
    ``axis_diag``: |sin 2θ| of the long axis to the image axes (0 along them, 1 diagonal);
    ``row_px``/``col_px``: the intensity-weighted centroid (pixels of the window).
    """
    px, py = pxy
    n = ids.size
    theta = np.radians(90.0 - m["heading_deg"])  # long axis from +x, counter-clockwise (y up)
    ux, uy = np.cos(theta), np.sin(theta)

    # Everything is taken at the components' pixels only (the canvas around them is mostly empty).
    pix = _pixels(lab, ids)
    rr, cc, k = pix
    xk, muk = xs[rr, cc], mu[rr, cc]

    def var_along_across(wk: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return _axis_variances_px(wk, pix, n, pxy, m["heading_deg"])

    va, vc = var_along_across(np.ones(rr.size))
    wk = np.maximum(xk - muk, 0.0)
    vai, vci = var_along_across(wk)
    # Weighted by dB over the background instead: one very bright scatterer (superstructure,
    # a corner reflector) dominates the linear weights of a bright hull and shortens its spread.
    vad, _ = var_along_across(10.0 * np.log10(np.maximum(xk / np.maximum(muk, 1e-30), 1.0)))
    # Extent along the axis of the seed pixels (a higher threshold, k_seed instead of k_grow).
    seed = xk > ts[rr, cc]
    rs, cs, ks = rr[seed], cc[seed], k[seed]
    along = (cs - m["col"][ks]) * px * ux[ks] - (rs - m["row"][ks]) * py * uy[ks]
    half = 0.5 * (np.abs(ux[ks]) * px + np.abs(uy[ks]) * py)
    amin = np.full(n, np.inf)
    amax = np.full(n, -np.inf)
    np.minimum.at(amin, ks, along - half)
    np.maximum.at(amax, ks, along + half)
    seed_len = np.where(np.isfinite(amax - amin), amax - amin, 0.0)
    wsum = np.maximum(np.bincount(k, wk, n), 1e-30)
    row_px = np.bincount(k, wk * rr, n) / wsum
    col_px = np.bincount(k, wk * cc, n) / wsum
    cnt = np.maximum(np.bincount(k, None, n), 1.0)
    bg = np.maximum(np.bincount(k, muk, n) / cnt, 1e-30)
    xk64 = xk.astype(np.float64)
    peak = np.full(n, -np.inf)
    np.maximum.at(peak, k, xk64)
    mean = np.bincount(k, xk64, n) / cnt
    return {
        "length_ext_m": m["length_m"],
        "width_ext_m": m["width_m"],
        "length_mom_m": np.sqrt(12.0 * va),
        "width_mom_m": np.sqrt(12.0 * vc),
        "length_int_m": np.sqrt(12.0 * vai),
        "width_int_m": np.sqrt(12.0 * vci),
        "length_db_m": np.sqrt(12.0 * vad),
        "length_seed_m": seed_len,
        "area_m2": m["area_px"] * px * py,
        "peak_db": 10.0 * np.log10(np.maximum(peak / bg, 1e-12)),
        "mean_db": 10.0 * np.log10(np.maximum(mean / bg, 1e-12)),
        "axis_diag": np.abs(np.sin(2.0 * theta)),
        "pixel_m": np.full(n, math.sqrt(px * py)),
        "level": m["level"] if "level" in m else np.zeros(n),
        "row_px": np.where(wsum > 1e-30, row_px, m["row"]),
        "col_px": np.where(wsum > 1e-30, col_px, m["col"]),
    }


def _measure(
    lab: NDArray[np.integer], nl: int, pxy: tuple[float, float], p: SarParams, spread_width: bool = False
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.bool_]]:
    """Oriented boxes of labels 1..nl and whether each passes the vessel shape tests.

    ``spread_width``: test the width of a rectangle with the component's spread across its
    axis (plus one pixel footprint) rather than its extent, so sidelobe pixels sticking out
    of a bright hull do not make it too wide. Used only on the bright cores of components
    that failed (:func:`~sitewatch.detect.sar_pieces._rescue`): on whole components it lets blobs of clutter pass.
    """
    ids = np.arange(1, nl + 1)
    if nl == 0:
        m = measure_components(lab, ids, pxy)
    else:  # measure_components on the pixel list, which the spread takes too
        pix = _pixels(lab, ids)
        m = measure_pixel_lists(pix[0].astype(np.float64), pix[1].astype(np.float64), pix[2], nl, pxy, np.ones(pix[0].size))
    gpx = math.sqrt(pxy[0] * pxy[1])
    length, width = m["length_m"], m["width_m"]
    if spread_width and nl:
        _, v_across = _axis_variances_px(np.ones(pix[0].size), pix, ids.size, pxy, m["heading_deg"])
        width = np.minimum(width, np.sqrt(12.0 * v_across) + gpx)
    ok = (
        (m["area_px"] >= max(p.min_pixels, p.min_area_m2 / (pxy[0] * pxy[1])))
        & (length >= p.min_length_m)
        & (length <= p.max_length_m)
        & (width <= p.max_width_m)
        & (length <= p.max_elongation * np.maximum(width, gpx))
    )
    return m, ok
