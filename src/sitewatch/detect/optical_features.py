"""Per-pixel features of the optical vessel model, against the scene's own water."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from ..errors import InputError
from .base import pixel_size_pair
from .optical_water import erode, ndwi, nir_ceiling, square_filter, water_threshold

__all__ = ["BANDS", "FEATURE_NAMES", "SceneStats", "feature_planes", "pixel_features", "scene_stats"]

BANDS: tuple[str, ...] = ("blue", "green", "red", "nir")

FEATURE_NAMES: tuple[str, ...] = (
    "ndwi",
    "ndwi_minus_water",
    "nir_minus_water",
    "vis_minus_water",
    "nir_tophat_beam",
    "vis_tophat_beam",
    "nir_minus_mean_150m",
    "nir_std_30m",
    "ndvi",
    "blue_red",
    "water_30m",
    "water_100m",
    "water_300m",
    "not_water_min_30m",
    "ndwi_blackhat_beam",
    "nir_tophat_30m",
)


def _px(metres: float, pixel: float) -> int:
    """Odd window size in pixels spanning ``metres`` (at least 3)."""
    n = max(3, int(round(metres / pixel)))
    return n + 1 - n % 2


def _grey_opening(a: NDArray[np.float32], size: int) -> NDArray[np.float32]:
    """Flat square grey opening via separable min/max filters (fast on big scenes)."""
    return np.asarray(square_filter(square_filter(a, size, np.minimum), size, np.maximum))


def _grey_closing(a: NDArray[np.float32], size: int) -> NDArray[np.float32]:
    """Flat square grey closing via separable max/min filters."""
    return np.asarray(square_filter(square_filter(a, size, np.maximum), size, np.minimum))


def _finite(a: NDArray[np.float32]) -> NDArray[np.float32]:
    """``np.nan_to_num(a, nan=0.0)``, without its passes and copy when every value is finite already.

    A finite sum means finite values (a NaN or an infinity would carry into it); an
    overflowing sum only sends the array through ``nan_to_num``, which leaves it as it is.
    """
    return a if np.isfinite(a.sum()) else np.nan_to_num(a, nan=0.0)


def _transposed(a: NDArray[Any], block: int = 512) -> NDArray[Any]:
    """``a.T`` as a C-contiguous array, copied a block of rows at a time (several times faster than ``.T.copy()``)."""
    out = np.empty(a.shape[::-1], a.dtype)
    for i in range(0, a.shape[0], block):
        out[:, i : i + block] = a[i : i + block].T
    return out


def _box_means(at: NDArray[np.float32], sizes: Sequence[int]) -> list[NDArray[np.float32]]:
    """``ndimage.uniform_filter(a, s)`` for each size ``s``, bit for bit, from ``at``, the transpose of ``a``.

    scipy runs the pass along axis 0 first, copying each strided column into
    a line buffer, at four times the cost of the pass along rows. The same
    pass along the rows of the transpose is the same arithmetic on the same
    lines; its result is transposed back for the pass along axis 1.
    """
    return [
        ndimage.uniform_filter1d(_transposed(ndimage.uniform_filter1d(at, s, axis=1)), s, axis=1) for s in sizes
    ]


def _band_set(bands: Mapping[str, NDArray[np.floating]]) -> dict[str, NDArray[np.float32]]:
    """Check band names and shapes; stand in for missing blue (green) and NIR (red)."""
    unknown = set(bands) - set(BANDS)
    if unknown:
        raise InputError(f"unknown optical band(s) {sorted(unknown)}; use {list(BANDS)}")
    if "green" not in bands or ("red" not in bands and "nir" not in bands):
        raise InputError("optical detection needs green and red (or green and nir) bands")
    shapes = {np.shape(b) for b in bands.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise InputError(f"optical bands must be 2-D and the same shape, got {sorted(shapes)}")
    out = {k: _usable(np.asarray(v, dtype=np.float32)) for k, v in bands.items()}
    if "red" not in out:
        out["red"] = out["green"]
    if "nir" not in out:
        out["nir"] = out["red"]  # RGB only: red is the darkest visible band over water
    if "blue" not in out:
        out["blue"] = out["green"]
    return out


def _usable(a: NDArray[np.float32]) -> NDArray[np.float32]:
    """A band as the features take it: negative reflectance at 0, infinities as NaN (no data).

    Negative values are noise about zero (Sentinel-2 L2A's offset leaves them in dark water);
    integer inputs are clipped at 0 by :func:`~sitewatch.detect.optical.to_reflectance`, and a
    float band of the same scene must read alike: below zero, NDWI's denominator can vanish or
    turn negative and NDWI run to thousands (false vessels in dark water). An infinity is no
    measurement; left in, its square turned the running sums of the 30 m NIR texture into NaN
    to the end of its rows and columns, most of a scene, and no ship there was found.
    The band is returned as it is (no copy) when it has neither, as a clear scene's bands do.
    """
    if not a.size:
        return a
    lo, hi = np.fmin.reduce(a, axis=None), np.fmax.reduce(a, axis=None)  # NaN left out
    if not (lo < 0 or hi == np.inf):
        return a
    a = np.where(np.isinf(a), np.float32(np.nan), a)
    return np.maximum(a, np.float32(0.0), out=a)  # NaN stays NaN


@dataclass(frozen=True)
class SceneStats:
    """Scene-wide references the features are taken against (one value per scene, not per tile)."""

    water_threshold: float
    """NDWI above which a pixel is water..."""
    nir_ceiling: float
    """...and NIR reflectance below which (see :func:`~sitewatch.detect.optical_water.nir_ceiling`)."""
    ndwi: float
    """Median NDWI of the scene's water."""
    nir: float
    """Median NIR reflectance of the water."""
    vis: float
    """Median visible reflectance of the water."""


def scene_stats(bands: Mapping[str, NDArray[np.floating]], water: NDArray[np.bool_] | None = None) -> SceneStats:
    """Water threshold and water reflectance of a scene (a decimated copy of it is enough).

    Tiled runs compute these once over the whole scene so that a tile of open
    sea and a tile of quays judge contrast against the same water.
    """
    b = _band_set(bands)
    # No data (NaN) stays out of every figure: read as 0 it was NIR-dark "water" of NDWI 0, and a
    # scene half under a no-data collar took it for its water, its threshold and references with it.
    index = ndwi(b["green"], b["nir"])
    nir = b["nir"]
    t = water_threshold(index, nir)
    ceiling = nir_ceiling(nir)
    w = np.asarray((index > t) & (nir < ceiling)) if water is None else np.asarray(water, bool)
    vis = (b["blue"] + b["green"] + b["red"]) / np.float32(3.0)
    w = w & np.isfinite(index) & np.isfinite(vis)
    step = max(1, int(np.sqrt(w.size / 1_000_000)))
    sl = (slice(None, None, step), slice(None, None, step))
    ws = w[sl]
    if not ws.any():
        return SceneStats(t, ceiling, 0.5, 0.0, 0.0)
    return SceneStats(
        t,
        ceiling,
        float(np.median(index[sl][ws])),
        float(np.median(nir[sl][ws])),
        float(np.median(vis[sl][ws])),
    )


def pixel_features(
    bands: Mapping[str, NDArray[np.floating]],
    pixel_size: float | tuple[float, float],
    water: NDArray[np.bool_] | None = None,
    stats: SceneStats | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """Per-pixel features (``(n_features, H, W)`` float32, see :data:`FEATURE_NAMES`) and the water mask used.

    Contrasts are taken against the scene's own water (``stats``, computed
    from ``bands`` when not given) so haze and export scaling cancel.
    """
    feats, water = feature_planes(bands, pixel_size, water, stats)
    return np.stack(feats), water


def feature_planes(
    bands: Mapping[str, NDArray[np.floating]],
    pixel_size: float | tuple[float, float],
    water: NDArray[np.bool_] | None = None,
    stats: SceneStats | None = None,
) -> tuple[list[NDArray[np.float32]], NDArray[np.bool_]]:
    """:func:`pixel_features` as a list of 2-D planes: the detector never stacks them.

    Stacking sixteen tile-sized planes into one array costs a fresh
    allocation of 16 planes and a copy, as much as computing half of them.
    """
    return _planes_of_usable(_band_set(bands), pixel_size, water, stats)


def _planes_of_usable(
    b: Mapping[str, NDArray[np.float32]],
    pixel_size: float | tuple[float, float],
    water: NDArray[np.bool_] | None = None,
    stats: SceneStats | None = None,
) -> tuple[list[NDArray[np.float32]], NDArray[np.bool_]]:
    """:func:`feature_planes` of bands :func:`_band_set` already took (the detector's own call:
    checking the four bands again was two passes over each)."""
    p = float(np.mean(pixel_size_pair(pixel_size)))
    stats = stats or scene_stats(b, water)
    blue, green, red, nir = b["blue"], b["green"], b["red"], b["nir"]
    index = _finite(ndwi(green, nir))
    nir = _finite(nir)
    if water is None:
        water = np.asarray((index > stats.water_threshold) & (nir < stats.nir_ceiling))
    vis = (blue + green + red) / np.float32(3.0)
    vis = _finite(vis)
    ref_ndwi, ref_nir, ref_vis = stats.ndwi, stats.nir, stats.vis
    beam = _px(60.0, p)
    wide = _px(150.0, p)
    nir_t = _transposed(nir)
    mean30, mean_wide = _box_means(nir_t, (_px(30.0, p), wide))
    (sq30,) = _box_means(nir_t * nir_t, (_px(30.0, p),))
    water30, water100, water300 = _box_means(_transposed(water).astype(np.float32), [_px(m, p) for m in (30.0, 100.0, 300.0)])
    feats = [
        index,
        index - np.float32(ref_ndwi),
        nir - np.float32(ref_nir),
        vis - np.float32(ref_vis),
        nir - _grey_opening(nir, beam),
        vis - _grey_opening(vis, beam),
        nir - mean_wide,
        np.sqrt(np.maximum(sq30 - mean30 * mean30, 0.0)),
        (nir - red) / np.maximum(nir + red, 1e-6),
        (blue - red) / np.maximum(blue + red, 1e-6),
        water30,
        water100,
        water300,
        erode(~water, _px(30.0, p)).astype(np.float32),
        # A ship in water is a narrow dip of NDWI; a shoreline is a step and has no such dip.
        _grey_closing(index, beam) - index,
        nir - _grey_opening(nir, _px(30.0, p)),
    ]
    return [np.asarray(f, dtype=np.float32) for f in feats], water
