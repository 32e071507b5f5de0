"""Vessels (and, at 5 m or finer, cranes) in optical imagery: Sentinel-2 10 m, PlanetScope-class 3 m.

How it works
------------
1. **Reflectance.** Bands are float reflectance 0..1; :func:`to_reflectance`
   turns integer exports into that (see its docstring for L2A's offset).
2. **Water.** NDWI with a scene-adaptive threshold, and NIR below a
   scene-adaptive ceiling (:mod:`sitewatch.detect.optical_water`).
3. **Clouds.** Pixels under cloud or cloud shadow
   (:func:`sitewatch.detect.clouds.cloud_mask`: SCL when given, a spectral
   test otherwise) or outside ``valid`` are not searched, and an object
   within ``cloud_margin_m`` of them is not reported.
4. **Cranes** (pixels of ``crane_max_pixel_m`` = 5 m or finer): painted,
   long, thin objects at the water line (:func:`_crane_objects`) are kind
   ``"crane"``; their pixels are taken out of the vessel search, so a crane
   is never a vessel and a boom over a ship does not change the ship.
5. **Vessels, two ways.**

   - *Known water* (``water=`` given, e.g. the site's water polygon with its
     berths, as the pipeline passes it): anything opaque inside it — NIR
     ``opaque_nir`` above the water around it — is an object on the water;
     components of ship size are vessels. Piers and quays are outside the
     polygon and cannot be taken for ships.
   - *Image only* (no water mask: ``sitewatch detect-image``, the
     benchmark): a learned pixel score, then learned object scoring.
     Sixteen per-pixel features (NDWI, contrast to the scene's water,
     white top-hats of NIR and visible brightness at a ship's beam, local
     texture, colour, water fractions at 30/100/300 m) go through a small
     MLP (16 ReLU units); components cut at each of ``pixel_thresholds``
     are candidates, each described by 18 object features (size, shape,
     score, water in a ring around it, contrast) and scored by a second
     small MLP; overlapping candidates keep the best score and are
     measured on the largest candidate that holds them alone. Ship-sized
     islands of non-water with water all around are added as ships at
     anchor. Both MLPs are trained on the sen2ships port scenes by
     ``benchmarks/optical_train.py`` (weights in
     ``sitewatch/data/optical_vessel_mlp.npz``, numpy only at run time;
     figures leave-one-port-out in BENCHMARKS.md). Input without NIR runs
     a second pair trained on the same ports without NIR and on 8-bit JPEG
     renderings of them (``optical_vessel_mlp_rgb.npz``, :func:`model_for`;
     ``benchmarks/optical_rgb.py``).

   Every window is set in metres, so one parameter set serves 10 m and
   3 m pixels. Boxes are measured with the oriented-box moments of
   :func:`sitewatch.detect.base.measure_components`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from ..errors import InputError
from .base import (
    PixelDetection,
    detections_from_measurements,
    measure_components,
    measure_pixel_lists,
    pixel_size_pair,
)
from .clouds import cloud_mask
from .optical_water import dilate, erode, ndwi, nir_ceiling, square_filter, water_threshold

__all__ = [
    "DETECTOR",
    "VERSION",
    "BANDS",
    "OpticalParams",
    "detect_optical",
    "to_reflectance",
    "infer_dn_scale",
    "RENDERING_CLOUD_BRIGHT",
    "pixel_features",
    "feature_planes",
    "vessel_probability",
    "FEATURE_NAMES",
    "OBJECT_FEATURE_NAMES",
    "candidate_objects",
    "multi_candidates",
    "object_scores",
    "score_pixels",
    "PixelScores",
    "mlp_forward",
    "SceneStats",
    "scene_stats",
    "OpticalResult",
    "detect_optical_result",
    "RGB_MODEL_FILE",
    "model_for",
]

DETECTOR = "optical-mlp"
VERSION = "0.3.1"
BANDS: tuple[str, ...] = ("blue", "green", "red", "nir")
MODEL_FILE = "optical_vessel_mlp.npz"
RGB_MODEL_FILE = "optical_vessel_mlp_rgb.npz"

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


@dataclass(frozen=True)
class OpticalParams:
    """Parameters of :func:`detect_optical`; one set serves every port and resolution."""

    pixel_thresholds: tuple[float, ...] = (0.8, 0.9, 0.97)
    """Pixel scores at which components are cut. Each level proposes candidates (a low
    level keeps whole hulls, a high one splits ships moored side by side or against a
    quay); the object model scores them all and overlapping candidates keep the best."""
    object_threshold: float = 0.85
    """Object-model score a candidate needs to be reported as a vessel (the best pooled F1
    of the leave-one-port-out sweep in BENCHMARKS.md)."""
    min_length_m: float = 20.0
    """Shortest object reported as a vessel (metres)."""
    max_length_m: float = 450.0
    """Longest object reported as a vessel (metres)."""
    max_width_m: float = 90.0
    """Widest object reported as a vessel; wider blobs are quays or roofs."""
    near_water_m: float = 150.0
    """Only pixels this close to water are searched (ships are on water, berthed ones beside it)."""
    crane_max_pixel_m: float = 5.0
    """Cranes are looked for only when pixels are this fine or finer."""
    crane_min_length_m: float = 20.0
    """Shortest boom or gantry reported as a crane."""
    crane_max_width_m: float = 10.0
    """A crane is narrower than this; a ship as long is wider."""
    crane_min_elongation: float = 3.5
    """Length / width of a crane."""
    crane_contrast: float = 0.05
    """Reflectance step (top-hat) a crane needs against the quay around it."""
    crane_min_saturation: float = 0.5
    """(brightest - darkest visible band) / brightest band of a painted crane."""
    opaque_nir: float = 0.03
    """With a known water mask: NIR above the nearby water that makes a pixel opaque (an object)."""
    cloud_margin_m: float = 100.0
    """Objects this close to cloud, shadow or no-data are not reported (cloud edges are soft)."""
    cloud_bright: float = 0.25
    """Spectral cloud test (no SCL): mean visible reflectance above which white pixels may be cloud.
    8-bit display renderings use :data:`RENDERING_CLOUD_BRIGHT` instead."""
    model: str = MODEL_FILE
    """Weights file in ``sitewatch/data`` (or a path)."""
    rgb_model: str = RGB_MODEL_FILE
    """Weights used instead of ``model`` when the input has no NIR band (RGB only, e.g. an
    8-bit preview): trained on the same ports with NIR removed, see :func:`model_for`."""

    def __post_init__(self) -> None:
        if not all(0.0 < t < 1.0 for t in self.pixel_thresholds) or not 0.0 < self.object_threshold <= 1.0:
            raise InputError("optical thresholds must lie in (0, 1)")
        if not 0 < self.min_length_m < self.max_length_m:
            raise InputError("optical min_length_m must be positive and below max_length_m")


def to_reflectance(
    array: NDArray[Any], *, scale: float | None = None, offset: float = 0.0
) -> NDArray[np.float32]:
    """Convert a band to float32 reflectance 0..1.

    - float input is taken as reflectance already (values above 2 are
      rejected: pass ``scale``);
    - ``uint8`` (RGB PNG/JPEG previews) is divided by 255;
    - other integers are Sentinel-2 L2A digital numbers: ``(DN - offset) / 10000``.
      Products of processing baseline 04.00 and later (from 25 January 2022)
      carry ``BOA_ADD_OFFSET = -1000``: pass ``offset=1000``;
    - ``scale`` overrides the divisor (e.g. 65535 for 16-bit "Raw" exports
      stretched to the full range).

    Results are clipped at 0; NaN stays NaN.
    """
    a = np.asarray(array)
    if scale is None:
        if np.issubdtype(a.dtype, np.floating):
            out = a.astype(np.float32, copy=False)
            if out.size and np.nanpercentile(out[:: max(1, out.shape[0] // 64)], 99) > 2.0:
                raise InputError(
                    "float band values above 2: not reflectance; pass scale (e.g. 10000)"
                )
            return out
        scale = 255.0 if a.dtype == np.uint8 else 10000.0
    out = (a.astype(np.float32) - np.float32(offset)) / np.float32(scale)
    return np.maximum(out, 0.0, where=~np.isnan(out), out=out)


RENDERING_CLOUD_BRIGHT = 0.85
"""Spectral cloud threshold for 8-bit display renderings (``uint8`` / 255, not reflectance).

A display stretch (Sentinel Hub true colour is reflectance x 2.5; Planet visual products
are colour-balanced 8-bit) puts harbour water at 0.25-0.35 of the range and clouds at
saturation, so the reflectance threshold 0.25 took the sea for cloud: 74 % of a clear
PlanetScope rendering of San Francisco Bay (shipsnet scene 1) was hidden and no ship was
reported. At 0.85 the four clear shipsnet scenes keep 0-5.2 % (beach sand, white roofs:
as bright and white as cloud in three bands; 0.7 kept 0-6.6 %, 0.9 0-3.9 %)."""


# A scene's brightest percent stays below reflectance ~1.3 (cloud tops, snow, glint): as
# Sentinel-2 digital numbers (x 10000, + 1000 from baseline 04.00) under 15000.
# Exports stretched to the full 16-bit range (x 65535, e.g. EO Browser "Raw") put a port's
# land there: sen2ships' ports have a 99th percentile of 13,800-33,000 in their brightest
# band, Sentinel-2 L1C city scenes (OSCD) 2,200-4,500.
_STRETCHED_P99 = 15000.0


def infer_dn_scale(samples: Sequence[NDArray[Any]]) -> float | None:
    """The divisor that turns a scene's integer band values into reflectance, from their range.

    ``samples`` holds each band (a decimated read is enough). Floats need none
    (``None``); ``uint8`` is 255; other integers are 65535 when the brightest
    band's 99th percentile (0 and 65535 left out: no data, saturation) is above
    15000 — reflectance 1.4-1.5 as Sentinel-2 digital numbers, which a scene's
    brightest percent does not reach, but land of reflectance 0.23 in a full-range
    16-bit export — and 10000 (Sentinel-2, Landsat-style and Planet surface reflectance)
    otherwise. A scene of open water alone cannot be told apart; pass the scale.
    """
    if not samples or any(np.issubdtype(np.asarray(a).dtype, np.floating) for a in samples):
        return None
    if all(np.asarray(a).dtype == np.uint8 for a in samples):
        return 255.0
    p99 = 0.0
    for a in samples:
        v = np.asarray(a).ravel()
        v = v[(v > 0) & (v < 65535)]
        if v.size:
            p99 = max(p99, float(np.percentile(v, 99)))
    return 65535.0 if p99 > _STRETCHED_P99 else 10000.0


# ---------------------------------------------------------------- features


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
    out = {k: np.asarray(v, dtype=np.float32) for k, v in bands.items()}
    if "red" not in out:
        out["red"] = out["green"]
    if "nir" not in out:
        out["nir"] = out["red"]  # RGB only: red is the darkest visible band over water
    if "blue" not in out:
        out["blue"] = out["green"]
    return out


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
    index = np.nan_to_num(ndwi(b["green"], b["nir"]), nan=0.0)
    nir = np.nan_to_num(b["nir"], nan=0.0)
    t = water_threshold(index, nir)
    ceiling = nir_ceiling(nir)
    w = np.asarray((index > t) & (nir < ceiling)) if water is None else np.asarray(water, bool)
    vis = np.nan_to_num((b["blue"] + b["green"] + b["red"]) / np.float32(3.0), nan=0.0)
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
    b = _band_set(bands)
    p = float(np.mean(pixel_size_pair(pixel_size)))
    stats = stats or scene_stats(b, water)
    blue, green, red, nir = b["blue"], b["green"], b["red"], b["nir"]
    index = np.nan_to_num(ndwi(green, nir), nan=0.0)
    nir = np.nan_to_num(nir, nan=0.0)
    if water is None:
        water = np.asarray((index > stats.water_threshold) & (nir < stats.nir_ceiling))
    vis = (blue + green + red) / np.float32(3.0)
    vis = np.nan_to_num(vis, nan=0.0)
    ref_ndwi, ref_nir, ref_vis = stats.ndwi, stats.nir, stats.vis
    beam = _px(60.0, p)
    wide = _px(150.0, p)
    wf = water.astype(np.float32)
    mean30 = ndimage.uniform_filter(nir, _px(30.0, p))
    sq30 = ndimage.uniform_filter(nir * nir, _px(30.0, p))
    feats = [
        index,
        index - np.float32(ref_ndwi),
        nir - np.float32(ref_nir),
        vis - np.float32(ref_vis),
        nir - _grey_opening(nir, beam),
        vis - _grey_opening(vis, beam),
        nir - ndimage.uniform_filter(nir, wide),
        np.sqrt(np.maximum(sq30 - mean30 * mean30, 0.0)),
        (nir - red) / np.maximum(nir + red, 1e-6),
        (blue - red) / np.maximum(blue + red, 1e-6),
        ndimage.uniform_filter(wf, _px(30.0, p)),
        ndimage.uniform_filter(wf, _px(100.0, p)),
        ndimage.uniform_filter(wf, _px(300.0, p)),
        erode(~water, _px(30.0, p)).astype(np.float32),
        # A ship in water is a narrow dip of NDWI; a shoreline is a step and has no such dip.
        _grey_closing(index, beam) - index,
        nir - _grey_opening(nir, _px(30.0, p)),
    ]
    return [np.asarray(f, dtype=np.float32) for f in feats], water


@lru_cache(maxsize=4)
def _load_model(name: str) -> dict[str, NDArray[np.float32]]:
    """Weights of the pixel MLP: ``mean``, ``std``, ``w1``, ``b1``, ``w2``, ``b2``."""
    try:
        if "/" in name or "\\" in name:
            with open(name, "rb") as fh:
                data = np.load(fh)
                return {k: data[k].astype(np.float32) for k in data.files}
        ref = resources.files("sitewatch").joinpath("data", name)
        with ref.open("rb") as fh:
            data = np.load(fh)
            return {k: data[k].astype(np.float32) for k in data.files}
    except (OSError, ValueError) as exc:
        raise InputError(
            f"optical model {name!r} not found or unreadable; reinstall sitewatch "
            "or train one with benchmarks/optical_train.py"
        ) from exc


def _folded(model: Mapping[str, NDArray[np.float32]]) -> tuple[NDArray[np.float32], ...]:
    """First-layer weights with the feature standardisation folded in (one matmul, no copies)."""
    w1 = (model["w1"] / model["std"][:, None]).astype(np.float32)
    b1 = (model["b1"] - (model["mean"] / model["std"]) @ model["w1"]).astype(np.float32)
    return w1, b1, model["w2"].astype(np.float32), model["b2"].astype(np.float32)


def mlp_forward(x: NDArray[np.float32], model: Mapping[str, NDArray[np.float32]]) -> NDArray[np.float32]:
    """Probability from raw features ``x`` (n, f): one hidden ReLU layer, sigmoid out."""
    w1, b1, w2, b2 = _folded(model)
    h = np.maximum(x @ w1 + b1, 0.0)
    out = (h @ w2 + b2)[:, 0]
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(out, -30, 30))), dtype=np.float32)


def vessel_probability(
    features: NDArray[np.float32] | Sequence[NDArray[np.float32]],
    search: NDArray[np.bool_],
    model: Mapping[str, NDArray[np.float32]],
    chunk: int = 1 << 18,
) -> NDArray[np.float32]:
    """Vessel score per pixel where ``search`` is set (0 elsewhere).

    ``features`` is the ``(f, H, W)`` array of :func:`pixel_features` or the
    planes of :func:`feature_planes`. Runs over blocks of rows of about
    ``chunk`` pixels (the block's features fit in cache); blocks with nothing
    to search are skipped, and scoring every pixel of a block costs less
    than gathering the searched ones.
    """
    w1, b1, w2, b2 = _folded(model)
    w1t, b1c, w2t = np.ascontiguousarray(w1.T), b1[:, None], np.ascontiguousarray(w2.T)
    nf = len(features)
    h_, w_ = search.shape
    rows = max(1, chunk // max(1, w_))
    prob = np.zeros((h_, w_), dtype=np.float32)
    any_row = search.any(axis=1)
    block = np.empty((nf, rows * w_), dtype=np.float32)
    for r0 in range(0, h_, rows):
        r1 = min(h_, r0 + rows)
        if not np.asarray(any_row)[r0:r1].any():
            continue
        n = (r1 - r0) * w_
        x = block[:, :n]
        for i in range(nf):
            x[i] = features[i][r0:r1].ravel()
        h = w1t @ x
        h += b1c
        np.maximum(h, 0.0, out=h)
        z = (w2t @ h)[0] + b2[0]
        np.clip(z, -30.0, 30.0, out=z)
        prob[r0:r1] = (1.0 / (1.0 + np.exp(-z))).reshape(r1 - r0, w_)
    prob[~search] = 0.0
    return prob


@dataclass(frozen=True)
class PixelScores:
    """Intermediate rasters of one scene (kept together so training can reuse them)."""

    bands: Mapping[str, NDArray[np.float32]]
    features: Sequence[NDArray[np.float32]]
    """Feature planes in :data:`FEATURE_NAMES` order."""
    water: NDArray[np.bool_]
    """Raw NDWI water (or the caller's water mask)."""
    hidden: NDArray[np.bool_]
    """Cloud, cloud shadow or no data."""
    cloud: NDArray[np.bool_]
    """Cloud or cloud shadow."""
    prob: NDArray[np.float32]
    """Pixel vessel score (0 outside the searched area)."""


def score_pixels(
    bands: Mapping[str, NDArray[np.floating]],
    pixel_size: tuple[float, float],
    model: Mapping[str, NDArray[np.float32]],
    *,
    valid: NDArray[np.bool_] | None = None,
    water: NDArray[np.bool_] | None = None,
    scl: NDArray[np.integer] | None = None,
    params: OpticalParams | None = None,
    stats: SceneStats | None = None,
) -> PixelScores:
    """Masks, features and pixel vessel score of one scene (stages 1-3 of the module doc)."""
    params = params or OpticalParams()
    b = _band_set(bands)
    shape = b["green"].shape
    px, py = pixel_size
    if not (px > 0 and py > 0):
        raise InputError(f"pixel size must be positive, got {pixel_size!r}")
    p = 0.5 * (px + py)
    ok = np.ones(shape, bool) if valid is None else np.asarray(valid, bool)
    if ok.shape != shape:
        raise InputError(f"valid mask shape {ok.shape} differs from the bands' {shape}")
    ok = ok & np.isfinite(b["green"]) & np.isfinite(b["nir"])
    cloud = cloud_mask(b, scl=scl, pixel_size=p, bright=params.cloud_bright)
    hidden = cloud | ~ok
    feats, raw_water = feature_planes(b, (px, py), None, stats)
    search = dilate(raw_water, _px(2 * params.near_water_m, p)) & ~hidden
    if water is not None:
        w = np.asarray(water, bool)
        if w.shape != shape:
            raise InputError(f"water mask shape {w.shape} differs from the bands' {shape}")
        search &= w
    prob = vessel_probability(feats, search, model)
    return PixelScores(b, feats, raw_water, hidden, cloud, prob)


# ---------------------------------------------------------------- objects


def detect_optical(
    bands: Mapping[str, NDArray[np.floating]],
    pixel_size: float | tuple[float, float],
    *,
    valid: NDArray[np.bool_] | None = None,
    water: NDArray[np.bool_] | None = None,
    scl: NDArray[np.integer] | None = None,
    params: OpticalParams | None = None,
    stats: SceneStats | None = None,
) -> list[PixelDetection]:
    """Find vessels (and cranes at 5 m or finer) in an optical scene.

    ``bands`` maps ``blue``/``green``/``red``/``nir`` to 2-D reflectance
    arrays of one shape (see :func:`to_reflectance`); RGB alone works,
    NIR is used when present. ``pixel_size`` is the *ground* size in metres
    (x, y) — for Web Mercator grids use :func:`sitewatch.geo.ground_pixel_size`.
    ``valid`` marks pixels with data; ``water`` replaces the NDWI water mask
    (e.g. a site's water polygon rasterised); ``scl`` is the Sentinel-2 scene
    classification, used for the cloud mask when given.

    Returns :class:`PixelDetection` values of kind ``"vessel"`` and
    ``"crane"``, best score first. Detections touching cloud, cloud shadow or
    invalid pixels are not reported. ``stats`` (from :func:`scene_stats`)
    fixes the water references when the scene is processed in tiles.
    """
    return detect_optical_result(
        bands, pixel_size, valid=valid, water=water, scl=scl, params=params, stats=stats
    ).detections


@dataclass(frozen=True)
class OpticalResult:
    """Detections with the masks the pipeline also needs (cloud fraction, water)."""

    detections: list[PixelDetection]
    hidden: NDArray[np.bool_]
    """Cloud, cloud shadow or no data: nothing can be seen there."""
    cloud: NDArray[np.bool_]
    """Cloud and cloud shadow only."""
    water: NDArray[np.bool_]


def detect_optical_result(
    bands: Mapping[str, NDArray[np.floating]],
    pixel_size: float | tuple[float, float],
    *,
    valid: NDArray[np.bool_] | None = None,
    water: NDArray[np.bool_] | None = None,
    scl: NDArray[np.integer] | None = None,
    params: OpticalParams | None = None,
    stats: SceneStats | None = None,
) -> OpticalResult:
    """:func:`detect_optical` that also returns the hidden (cloud/no-data) and water masks."""
    params = params or OpticalParams()
    model = _load_model(model_for(bands, params))
    px, py = pixel_size_pair(pixel_size)
    sc = score_pixels(bands, (px, py), model, valid=valid, water=water, scl=scl, params=params, stats=stats)
    p = 0.5 * (px + py)
    cranes: list[PixelDetection] = []
    crane_px = np.zeros(sc.water.shape, bool)
    if p <= params.crane_max_pixel_m:
        cranes, crane_px = _crane_objects(sc.bands, sc.water, sc.hidden, (px, py), params)
    if water is not None:
        vessels = _site_vessels(sc, np.asarray(water, bool), crane_px, (px, py), params)
    else:
        prob = np.where(crane_px, np.float32(0.0), sc.prob)
        vessels = _vessel_objects(prob, sc.features, sc.water, sc.hidden, (px, py), params, model)
    out = vessels + cranes
    return OpticalResult(sorted(out, key=lambda d: -d.score), sc.hidden, sc.cloud, sc.water)


def model_for(bands: Iterable[str], params: OpticalParams | None = None) -> str:
    """Weights file the detector runs on for these band names: ``rgb_model`` without ``nir``.

    Without NIR, red stands in for it (:func:`_band_set`) and every NIR feature is a
    visible one; the four-band model never saw such inputs, so a model trained on the
    same ports with NIR removed (and on 8-bit renderings of them) scores them instead.
    """
    params = params or OpticalParams()
    return params.model if "nir" in set(bands) else params.rgb_model


def _site_vessels(
    sc: PixelScores,
    search: NDArray[np.bool_],
    crane_px: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
) -> list[PixelDetection]:
    """Vessels when the caller knows where the water is (a site's water polygon, berths included).

    Inside known water anything opaque is an object on the water: pixels
    that are not water by NDWI, or whose NIR stands ``opaque_nir`` above the
    scene's water. Piers and quays are outside the polygon, so they cannot
    be taken for ships; the pixel model's mean score over the object is its
    score.
    """
    px, py = pixel_size
    p = 0.5 * (px + py)
    nir = sc.bands["nir"]
    # Contrast against the water around each pixel (mean of the water pixels within
    # ~250 m), not the scene's: thin haze and sun glint vary across a scene but
    # slowly, a hull stands out from the water right beside it.
    size = _px(250.0, p)
    wf = (sc.water & ~sc.hidden).astype(np.float32)
    num = ndimage.uniform_filter(np.where(wf > 0, nir, np.float32(0.0)), size)
    den = ndimage.uniform_filter(wf, size)
    background = np.where(den > 0.05, num / np.maximum(den, 1e-6), np.float32(np.inf))
    opaque = search & ~sc.hidden & (nir - background > params.opaque_nir)
    # A one-pixel line along a quay face is mixed quay and water, not a hull.
    opaque = ndimage.binary_opening(opaque, structure=np.ones((2, 2), bool))
    if crane_px.any():
        # A crane boom over a ship is not ship; where the hull lies on both sides
        # of the boom, the gap it leaves is bridged so the ship stays one object.
        opaque &= ~crane_px
        opaque |= ndimage.binary_closing(opaque, structure=np.ones((5, 5), bool)) & crane_px
    labels, n = ndimage.label(opaque, structure=np.ones((3, 3), bool))
    if n == 0:
        return []
    index = np.arange(1, n + 1)
    area = np.bincount(labels.ravel(), minlength=n + 1)[1:] * px * py
    margin = _px(2 * params.cloud_margin_m, p)
    touches = np.bincount(labels[dilate(sc.hidden, margin)], minlength=n + 1)[1:] > 0
    index = index[~touches & (area >= params.min_length_m * min(px, py) * 0.5)]
    m = _measure(labels, index, pixel_size)
    ok = (m["length_m"] >= params.min_length_m) & (m["length_m"] <= params.max_length_m) & (
        m["width_m"] <= params.max_width_m
    )
    m = {k: v[ok] for k, v in m.items()}
    total = np.bincount(labels.ravel(), weights=sc.prob.ravel(), minlength=n + 1)
    count = np.bincount(labels.ravel(), minlength=n + 1)
    score = (total / np.maximum(count, 1))[index[ok]]
    # An opaque object in known water is most likely a vessel whatever the pixel model says.
    return detections_from_measurements(m, 0.5 + 0.5 * score, kind="vessel")


OBJECT_FEATURE_NAMES: tuple[str, ...] = (
    "log_length",
    "log_width",
    "log_area",
    "elongation",
    "fill",
    "prob_mean",
    "prob_max",
    "ring_water",
    "ring_water_wide",
    "water_100m",
    "water_300m",
    "nir_minus_water",
    "vis_minus_water",
    "ndwi",
    "nir_std_30m",
    "ndwi_blackhat",
    "nir_tophat_30m",
    "threshold",
)


def candidate_objects(
    prob: NDArray[np.float32],
    feats: NDArray[np.float32] | Sequence[NDArray[np.float32]],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
    threshold: float = 0.9,
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.float32]]:
    """Components of pixel score above ``threshold`` that fit a vessel's size, measured, with object features.

    Returns the measurement arrays of :func:`measure_components` and an
    ``(n, len(OBJECT_FEATURE_NAMES))`` feature matrix. Components touching
    hidden (cloud, no-data) pixels are dropped: a half-seen ship cannot be
    measured and may not be a ship.
    """
    px, py = pixel_size
    labels, n = ndimage.label(prob > threshold, structure=np.ones((3, 3), bool))
    nf = len(OBJECT_FEATURE_NAMES)
    if n == 0:
        return measure_components(labels, np.zeros(0, int), pixel_size), np.zeros((0, nf), np.float32)
    index = np.arange(1, n + 1)
    area = np.bincount(labels.ravel(), minlength=n + 1)[1:] * px * py
    margin = _px(2 * params.cloud_margin_m, 0.5 * (px + py))
    touches = _touching(labels, n, hidden, margin)
    # Cheap pre-filter on area before the per-pixel measurement.
    ok = ~touches & (area >= 0.5 * params.min_length_m * min(px, py)) & (
        area <= params.max_length_m * params.max_width_m
    )
    index = index[ok]
    m = _measure(labels, index, pixel_size, weights=prob)
    size_ok = (
        (m["length_m"] >= params.min_length_m)
        & (m["length_m"] <= params.max_length_m)
        & (m["width_m"] <= params.max_width_m)
    )
    m = {k: v[size_ok] for k, v in m.items()}
    index = index[size_ok]
    if index.size == 0:
        return m, np.zeros((0, nf), np.float32)
    # Renumber the kept components 1..k so per-object sums are short bincounts.
    k = index.size
    lut = np.zeros(n + 1, _label_dtype(k))
    lut[index] = np.arange(1, k + 1)
    kept = lut[labels]
    # Ring just outside each object: a ship has water along much of its outline.
    grown = square_filter(kept, 3, np.maximum)
    wide = square_filter(kept, 7, np.maximum)
    inside = np.flatnonzero(kept)
    ring = np.flatnonzero((kept == 0) & (grown > 0))
    ring_w = np.flatnonzero((kept == 0) & (wide > 0))
    lab_in = kept.ravel()[inside]
    fi = {name: i for i, name in enumerate(FEATURE_NAMES)}

    def lab_mean(img: NDArray[np.floating], where: NDArray[np.intp] = inside, lab: NDArray[np.int32] = lab_in) -> NDArray[np.float64]:
        total = np.bincount(lab, weights=np.asarray(img).ravel()[where], minlength=k + 1)[1:]
        count = np.bincount(lab, minlength=k + 1)[1:]
        return total / np.maximum(count, 1)

    wf = water.ravel().astype(np.float32)
    ring_mean = lab_mean(wf, ring, grown.ravel()[ring])
    ring_w_mean = lab_mean(wf, ring_w, wide.ravel()[ring_w])
    peak = np.full(k + 1, -np.inf)
    np.maximum.at(peak, lab_in, prob.ravel()[inside])
    length = m["length_m"]
    width = np.maximum(m["width_m"], 1e-3)
    area_m2 = m["area_px"] * px * py
    x = np.column_stack(
        [
            np.log(length),
            np.log(width),
            np.log(np.maximum(area_m2, 1.0)),
            length / width,
            area_m2 / (length * width),
            lab_mean(prob),
            peak[1:],
            ring_mean,
            ring_w_mean,
            lab_mean(feats[fi["water_100m"]]),
            lab_mean(feats[fi["water_300m"]]),
            lab_mean(feats[fi["nir_minus_water"]]),
            lab_mean(feats[fi["vis_minus_water"]]),
            lab_mean(feats[fi["ndwi"]]),
            lab_mean(feats[fi["nir_std_30m"]]),
            lab_mean(feats[fi["ndwi_blackhat_beam"]]),
            lab_mean(feats[fi["nir_tophat_30m"]]),
            np.full(k, threshold),
        ]
    ).astype(np.float32)
    return m, x


def _label_dtype(k: int) -> type[np.signedinteger[Any]]:
    """Narrowest integer type holding labels 0..k (halves the traffic of max filters over labels)."""
    return np.int16 if k < np.iinfo(np.int16).max else np.int32


def _touching(labels: NDArray[np.integer], n: int, hidden: NDArray[np.bool_], margin: int) -> NDArray[np.bool_]:
    """Which of components 1..n come within ``margin`` pixels of a hidden pixel."""
    if not hidden.any():
        return np.zeros(n, bool)
    return np.asarray(np.bincount(labels[dilate(hidden, margin)], minlength=n + 1)[1:] > 0)


def _measure(
    labels: NDArray[np.integer],
    index: NDArray[np.integer],
    pixel_size: tuple[float, float],
    weights: NDArray[np.floating] | None = None,
) -> dict[str, NDArray[np.float64]]:
    """:func:`~sitewatch.detect.base.measure_components` over the labelled pixels only.

    Same moments and box, but it touches just the pixels of ``index`` instead
    of whole-image arrays: on a tile with a few hundred small candidates
    that is tens of times less work.
    """
    n = int(np.asarray(index).size)
    if n == 0:
        return measure_components(labels, np.zeros(0, int), pixel_size)
    lut = np.zeros(int(labels.max()) + 1, np.int64)
    lut[index] = np.arange(1, n + 1)
    flat = lut[labels.ravel()]
    sel = np.flatnonzero(flat)
    k = flat[sel] - 1
    rows, cols = np.divmod(sel, labels.shape[1])
    # Sub-image of the candidates with a one-pixel frame: measure_components works on it unchanged.
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    if (r1 - r0) * (c1 - c0) < 0.25 * labels.size:
        sub = np.zeros((r1 - r0, c1 - c0), np.int64)
        sub[rows - r0, cols - c0] = k + 1
        w = None if weights is None else np.asarray(weights)[r0:r1, c0:c1]
        m = measure_components(sub, np.arange(1, n + 1), pixel_size, weights=w)
        m["row"] = m["row"] + r0
        m["col"] = m["col"] + c0
        m["corners"] = m["corners"] + np.array([c0, r0], np.float64)
        return m
    w = np.ones(sel.size) if weights is None else np.asarray(weights, np.float64).ravel()[sel]
    return measure_pixel_lists(
        rows.astype(np.float64), cols.astype(np.float64), k, n, pixel_size_pair(pixel_size), w
    )


def object_scores(x: NDArray[np.float32], model: Mapping[str, NDArray[np.float32]]) -> NDArray[np.float32]:
    """Vessel likelihood of each candidate object (small MLP; mean pixel score without one)."""
    if "obj_w1" not in model:
        return x[:, OBJECT_FEATURE_NAMES.index("prob_mean")].astype(np.float32)
    sub = {k: model["obj_" + k] for k in ("mean", "std", "w1", "b1", "w2", "b2")}
    return mlp_forward(x, sub)


def _vessel_objects(
    prob: NDArray[np.float32],
    feats: NDArray[np.float32] | Sequence[NDArray[np.float32]],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
    model: Mapping[str, NDArray[np.float32]],
) -> list[PixelDetection]:
    """Candidates of every threshold scored by the object model; overlaps keep the best."""
    ms, xs = multi_candidates(prob, feats, water, hidden, pixel_size, params)
    if not len(xs):
        return []
    score = object_scores(xs, model)
    good = np.flatnonzero(score >= params.object_threshold)
    ms = {k: v[good] for k, v in ms.items()}
    score = score[good]
    keep = _non_overlapping(ms["corners"], ms["row"], ms["col"], score)
    # Measure each kept object on the largest accepted candidate that holds it and no other
    # kept object: the high threshold that separates a ship from its quay cuts its ends off.
    source = keep.copy()
    if keep.size:
        holds = _inside(ms["corners"][:, None], ms["col"][keep][None, :], ms["row"][keep][None, :])
        sole = holds.sum(axis=1) == 1
        for j in range(keep.size):
            cand = np.flatnonzero(sole & holds[:, j])
            if cand.size:
                source[j] = cand[np.argmax(ms["length_m"][cand])]
    out = detections_from_measurements({k: v[source] for k, v in ms.items()}, score[keep], kind="vessel")
    nir = feats[FEATURE_NAMES.index("nir_minus_water")]  # NIR up to a constant: differences suffice
    return out + _anchored(prob, nir, water, hidden, pixel_size, params, out)


def _anchored(
    prob: NDArray[np.float32],
    nir: NDArray[np.float32],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
    found: list[PixelDetection],
) -> list[PixelDetection]:
    """Ships at anchor the object model passed over: non-water islands of ship size in open water.

    Something opaque of a ship's length with water all around it (every pixel
    of a two-pixel ring is water), ``opaque_nir`` brighter in the NIR than
    that ring and with a mean pixel score of at least 0.5 is a vessel, an oil
    platform or a rock; the size limits leave mostly vessels. Objects already found are not
    repeated. The score is the mean pixel score, floored at ``object_threshold``.
    """
    px, py = pixel_size
    labels, n = ndimage.label(~water & ~hidden, structure=np.ones((3, 3), bool))
    if n == 0:
        return []
    area = np.bincount(labels.ravel(), minlength=n + 1)
    max_area = params.max_length_m * params.max_width_m / (px * py)
    small = (area <= max_area) & (area * px * py >= 0.5 * params.min_length_m * min(px, py))
    small[0] = False
    ids = np.flatnonzero(small)
    k = ids.size
    if k == 0:
        return []
    # Renumber the small islands 1..k (in order, so the ring's max picks the same island):
    # short bincounts, and a narrow integer type for the ring's max filter.
    lut = np.zeros(n + 1, _label_dtype(k))
    lut[ids] = np.arange(1, k + 1)
    kept = lut[labels]
    # Ring of each small island: pixels within two of it that are not in it.
    grown = square_filter(kept, 5, np.maximum)
    ring = (kept == 0) & (grown > 0)
    ring_lab = grown[ring]
    ring_wet = np.bincount(ring_lab, weights=(water[ring] & ~hidden[ring]).astype(np.float64), minlength=k + 1)
    ring_all = np.bincount(ring_lab, minlength=k + 1)
    # A hull is bright against the water around it and scores as a ship; a speck of
    # noise in a hazy water mask is neither.
    ring_nir = np.bincount(ring_lab, weights=nir[ring].astype(np.float64), minlength=k + 1) / np.maximum(ring_all, 1)
    inside = np.flatnonzero(kept)
    lab_in = kept.ravel()[inside]
    area_k = np.concatenate([[0], area[ids]])
    in_nir = np.bincount(lab_in, weights=nir.ravel()[inside].astype(np.float64), minlength=k + 1) / np.maximum(area_k, 1)
    mean_k = np.bincount(lab_in, weights=prob.ravel()[inside], minlength=k + 1) / np.maximum(area_k, 1)
    edge = np.unique(np.concatenate([kept[0], kept[-1], kept[:, 0], kept[:, -1]]))
    ok = (ring_wet >= 0.999 * np.maximum(ring_all, 1)) & (in_nir - ring_nir > params.opaque_nir) & (mean_k >= 0.5)
    ok[0] = False
    ok[edge] = False
    index = ids[np.flatnonzero(ok[1:])]
    mean = np.zeros(n + 1)
    mean[ids] = mean_k[1:]
    m = _measure(labels, index, pixel_size)
    size_ok = (m["length_m"] >= params.min_length_m) & (m["length_m"] <= params.max_length_m) & (
        m["width_m"] <= params.max_width_m
    )
    m = {k: v[size_ok] for k, v in m.items()}
    index = index[size_ok]
    if not index.size:
        return []
    score = np.maximum(mean[index], params.object_threshold)
    if found:
        quads = np.array([d.corners for d in found])
        rows = np.array([d.row for d in found])
        cols = np.array([d.col for d in found])
        dup = _inside(quads[None], m["col"][:, None], m["row"][:, None]).any(axis=1) | _inside(
            m["corners"][:, None], cols[None], rows[None]
        ).any(axis=1)
        m = {k: v[~dup] for k, v in m.items()}
        score = score[~dup]
    return detections_from_measurements(m, score, kind="vessel")


def multi_candidates(
    prob: NDArray[np.float32],
    feats: NDArray[np.float32] | Sequence[NDArray[np.float32]],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.float32]]:
    """:func:`candidate_objects` at every level of ``params.pixel_thresholds``, concatenated."""
    parts = [candidate_objects(prob, feats, water, hidden, pixel_size, params, t) for t in params.pixel_thresholds]
    ms = {k: np.concatenate([m[k] for m, _ in parts]) for k in parts[0][0]}
    return ms, np.concatenate([x for _, x in parts]).astype(np.float32)


def _non_overlapping(
    corners: NDArray[np.float64], row: NDArray[np.float64], col: NDArray[np.float64], score: NDArray[np.float32]
) -> NDArray[np.intp]:
    """Indices kept by greedy suppression: best score first; a candidate whose centroid lies in a
    kept box, or whose box holds a kept centroid, is the same object seen at another threshold."""
    order = np.argsort(-score, kind="stable")
    kept: list[int] = []
    for i in order:
        if kept:
            k = np.asarray(kept)
            if _inside(corners[k], col[i], row[i]).any() or _inside(corners[i][None], col[k], row[k]).any():
                continue
        kept.append(int(i))
    return np.asarray(kept, dtype=np.intp)


def _inside(quads: NDArray[np.float64], x: NDArray[np.float64] | float, y: NDArray[np.float64] | float) -> NDArray[np.bool_]:
    """Whether points (x, y) lie inside convex quads ``(n, 4, 2)`` (broadcast over n)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    a = quads
    b = np.roll(quads, -1, axis=-2)
    cross = (b[..., 0] - a[..., 0]) * (y[..., None] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (x[..., None] - a[..., 0])
    return np.asarray(np.all(cross >= 0, axis=-1) | np.all(cross <= 0, axis=-1))


def _crane_objects(
    b: Mapping[str, NDArray[np.float32]],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
) -> tuple[list[PixelDetection], NDArray[np.bool_]]:
    """Long, thin, bright structures at the water line (fine pixels only), and their pixels.

    A crane (gantry, boom, jib) is a few metres wide and tens of metres long
    and stands on the quay. Port cranes are painted (yellow, orange, red,
    blue): a white top-hat of the brightest band at 2.5 crane widths, where
    the colour is saturated, picks them out from grey concrete, grey decks
    and white superstructures; geometry then separates them from ships,
    which are as long but several times wider. A grey crane on a grey quay
    is missed.
    """
    px, py = pixel_size
    p = 0.5 * (px + py)
    hi = np.maximum(np.maximum(b["blue"], b["green"]), b["red"])
    lo = np.minimum(np.minimum(b["blue"], b["green"]), b["red"])
    saturated = (hi - lo) > params.crane_min_saturation * hi
    size = _px(2.5 * params.crane_max_width_m, p)
    tophat = hi - _grey_opening(hi, size)
    # Cranes stand on the quay; an extended boom reaches out over the berth.
    shore = dilate(water, _px(120.0, p)) & dilate(~water, _px(120.0, p))
    cand = (tophat > params.crane_contrast) & saturated & shore & ~hidden
    labels, n = ndimage.label(cand, structure=np.ones((3, 3), bool))
    if n == 0:
        return [], np.zeros(water.shape, bool)
    margin = _px(2 * params.cloud_margin_m, p)
    near_hidden = np.bincount(labels[dilate(hidden, margin)], minlength=n + 1)[1:] > 0
    index = np.arange(1, n + 1)[~near_hidden]
    m = _measure(labels, index, pixel_size)
    width = np.maximum(m["width_m"], 1e-6)
    keep = (
        (m["length_m"] >= params.crane_min_length_m)
        & (m["width_m"] <= params.crane_max_width_m)
        & (m["length_m"] / width >= params.crane_min_elongation)
    )
    contrast = np.asarray(ndimage.mean(tophat, labels, index))
    score = np.clip(contrast / (4 * params.crane_contrast), 0.0, 1.0)
    mask = np.zeros(n + 1, bool)
    mask[index[keep]] = True
    m = {k: v[keep] for k, v in m.items()}
    return detections_from_measurements(m, score[keep], kind="crane"), mask[labels]
