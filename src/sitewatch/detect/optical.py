"""Vessels (and, at 5 m or finer, cranes) in optical imagery: Sentinel-2 10 m, PlanetScope-class 3 m, sub-metre.

How it works
------------
1. **Reflectance.** Bands are float reflectance 0..1; :func:`to_reflectance`
   turns integer exports into that (see its docstring for L2A's offset).
2. **Water.** NDWI with a scene-adaptive threshold, and NIR below a
   scene-adaptive ceiling (:mod:`sitewatch.detect.optical_water`).
3. **Clouds.** Pixels under cloud or cloud shadow
   (:func:`sitewatch.detect.clouds.cloud_mask`: SCL when given, a spectral
   test otherwise) or outside ``valid`` are not searched, and an object
   within ``cloud_margin_m`` of them is not reported (but for ships at
   anchor, which need only the two-pixel water ring around them clear:
   ``_anchored``).
4. **Cranes** (pixels of ``crane_max_pixel_m`` = 5 m or finer): painted,
   long, thin objects at the water line
   (:func:`~sitewatch.detect.optical_cranes._crane_objects`) are kind
   ``"crane"``; their pixels are taken out of the vessel search, so a crane
   is never a vessel and a boom over a ship does not change the ship.
5. **Vessels, two ways.**

   - *Known water* (``water=`` given, e.g. the site's water polygon with its
     berths, as the pipeline passes it): anything opaque inside it — NIR
     ``opaque_nir`` above the water around it — is an object on the water;
     components of ship size are vessels. Piers and quays are outside the
     polygon and cannot be taken for ships.
   - *Image only* (no water mask: ``sitewatch detect-image``, the
     benchmark): only pixels within ``near_water_m`` of a body of water
     (water that holds a circle ``water_body_m``, the longest vessel's
     length, across: :func:`~sitewatch.detect.optical_water.water_bodies`)
     are searched, since the scene's darkest NIR is "water" in a town
     without any; then a learned pixel score, then learned object scoring.
     Sixteen per-pixel features (NDWI, contrast to the scene's water,
     white top-hats of NIR and visible brightness at a ship's beam, local
     texture, colour, water fractions at 30/100/300 m) go through a small
     MLP (16 ReLU units); components cut at each of ``pixel_thresholds``
     are candidates, each described by 18 object features (size, shape,
     score, water in a ring around it, contrast) and scored by a second
     small MLP; overlapping candidates keep the best score and are
     measured on the largest candidate that holds them alone. Ship-sized
     islands of non-water with a body of water all around are added as
     ships at anchor. Both MLPs are trained on the sen2ships port scenes by
     ``benchmarks/optical_train.py`` (weights in
     ``sitewatch/data/optical_vessel_mlp.npz``, numpy only at run time;
     figures leave-one-port-out in BENCHMARKS.md). Input without NIR runs
     a second pair trained on the same ports without NIR and on 8-bit JPEG
     renderings of them (``optical_vessel_mlp_rgb.npz``, :func:`model_for`;
     ``benchmarks/optical_rgb.py``). At pixels of ``contrast_max_pixel_m``
     (5 m) or finer, where those stages were not trained, vessels standing
     out from open water are also looked for by contrast alone, and what
     the learned stages find on open water stands only if it stands out
     there (:mod:`~sitewatch.detect.optical_contrast`). At pixels of
     ``hull_max_pixel_m`` (5 m) or finer the learned stages' vessels are boxed on
     their hulls, not on the whole candidates, whose pixel score holds 15 m of
     water around a hull (:mod:`~sitewatch.detect.optical_hulls`).
     At pixels of ``fine_max_pixel_m`` (1.5 m) or finer (aerial, Maxar, SkySat)
     boats and ships in harbours, marinas and at anchor, 4 m long and more, are
     also looked for as bright hulls beside smooth water, split where moored
     side by side (:mod:`~sitewatch.detect.optical_fine`): the learned stages
     report nothing under 20 m, and a moored boat has no open water around it.

   Every window is set in metres, so one parameter set serves 10 m and
   3 m pixels. Boxes are measured with the oriented-box moments of
   :func:`sitewatch.detect.base.measure_components`.

Where it lives: this module runs the stages and keeps the public API (every name
below is importable from here); reflectance in :mod:`~sitewatch.detect.optical_reflectance`,
parameters in :mod:`~sitewatch.detect.optical_params`, pixel features in
:mod:`~sitewatch.detect.optical_features`, the two MLPs in :mod:`~sitewatch.detect.optical_model`,
candidates and ships at anchor in :mod:`~sitewatch.detect.optical_objects`, hull boxes at fine
pixels in :mod:`~sitewatch.detect.optical_hulls`, sub-metre boats in :mod:`~sitewatch.detect.optical_fine`, cranes in :mod:`~sitewatch.detect.optical_cranes`.
"""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from ..errors import InputError
from .base import PixelDetection, detections_from_measurements, pixel_size_pair, touches_edge
from .clouds import cloud_mask, scl_no_data
from .optical_contrast import open_water_vessels
from .optical_cranes import _crane_objects
from .optical_features import (
    BANDS,
    FEATURE_NAMES,
    SceneStats,
    _band_set,
    _planes_of_usable,
    _px,
    feature_planes,
    pixel_features,
    scene_stats,
)
from .optical_fine import fine_vessels
from .optical_hulls import hull_boxes
from .optical_model import _load_model, mlp_forward, model_for, object_scores, vessel_probability
from .optical_objects import (
    OBJECT_FEATURE_NAMES,
    _anchored,
    _beside,
    _inside,
    _measure,
    _non_overlapping,
    _vessel_sized,
    candidate_objects,
    multi_candidates,
)
from .optical_params import MODEL_FILE as MODEL_FILE  # for tests and benchmarks, not in __all__
from .optical_params import RGB_MODEL_FILE, OpticalParams, params_for_dn_scale
from .optical_reflectance import RENDERING_CLOUD_BRIGHT, infer_dn_scale, to_reflectance
from .optical_water import dilate, water_bodies
from .versions import OPTICAL_DETECTOR, OPTICAL_VERSION

__all__ = [
    "DETECTOR",
    "VERSION",
    "BANDS",
    "OpticalParams",
    "detect_optical",
    "to_reflectance",
    "infer_dn_scale",
    "RENDERING_CLOUD_BRIGHT",
    "params_for_dn_scale",
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

DETECTOR = OPTICAL_DETECTOR
VERSION = OPTICAL_VERSION  # bumped in versions.py


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
    bodies: NDArray[np.bool_] | None = None
    """Image-only mode: the pieces of ``water`` wide enough to be a body of water
    (:func:`~sitewatch.detect.optical_water.water_bodies`); None with the caller's water mask."""


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
    for band in b.values():  # a NaN (or infinite) value in any band is no data there
        ok = ok & np.isfinite(band)
    if scl is not None:
        ok = ok & ~scl_no_data(scl)
    cloud = cloud_mask(b, scl=scl, pixel_size=p, bright=params.cloud_bright, valid=ok)
    hidden = cloud | ~ok
    feats, raw_water = _planes_of_usable(b, (px, py), None, stats)
    # Image only: the scene's darkest tenth is "water" even where there is none (roofs, shadows);
    # a ship is searched for near a body of water only.
    bodies = None if water is not None else water_bodies(raw_water, (px, py), params.water_body_m, params.min_length_m)
    search = dilate(raw_water if bodies is None else bodies, _px(2 * params.near_water_m, p)) & ~hidden
    if water is not None:
        w = np.asarray(water, bool)
        if w.shape != shape:
            raise InputError(f"water mask shape {w.shape} differs from the bands' {shape}")
        search &= w
    prob = vessel_probability(feats, search, model)
    return PixelScores(b, feats, raw_water, hidden, cloud, prob, bodies)


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
    ``"crane"``, best score first. Detections within ``params.cloud_margin_m``
    of cloud, cloud shadow or invalid pixels are not reported (with
    ``params.nodata_cut``, experimental: those beside invalid pixels alone are,
    ``truncated``). ``stats`` (from :func:`scene_stats`)
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
        cloud = sc.cloud if params.nodata_cut else None
        vessels = _vessel_objects(
            prob, sc.features, sc.water, sc.hidden, (px, py), params, model, sc.bands, cloud, bodies=sc.bodies
        )
        if p <= params.contrast_max_pixel_m:
            vessels = open_water_vessels(sc.bands, sc.water, sc.hidden, crane_px, (px, py), params, vessels)
        if p <= params.fine_max_pixel_m:
            vessels = vessels + fine_vessels(sc.bands, sc.water, sc.hidden, crane_px, (px, py), params, vessels)
    out = _flag_edge(vessels + cranes, sc.water.shape)
    return OpticalResult(sorted(out, key=lambda d: -d.score), sc.hidden, sc.cloud, sc.water)


def _flag_edge(found: list[PixelDetection], shape: tuple[int, int]) -> list[PixelDetection]:
    """Mark objects on the image's edge ``truncated`` (those near hidden pixels are dropped, or with
    ``nodata_cut`` those beside no data alone already marked). In a tiled run a tile's inner edges never
    count: a tile keeps only objects centred in its core, which lies further than a vessel's half-length inside."""
    if not found:
        return found
    cut = touches_edge(np.array([d.corners for d in found]), shape)
    return [replace(d, truncated=True) if c and not d.truncated else d for d, c in zip(found, cut, strict=True)]


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
    if params.nodata_cut:
        # Near cloud or shadow an object is dropped (a cloud's soft edge makes false ones); one
        # beside no data alone is cut by it, as by the image's edge, and reported truncated.
        touches = np.bincount(labels[dilate(sc.cloud, margin)], minlength=n + 1)[1:] > 0
        cut = np.bincount(labels[_beside(sc.hidden & ~sc.cloud)], minlength=n + 1) > 0
    else:
        touches = np.bincount(labels[dilate(sc.hidden, margin)], minlength=n + 1)[1:] > 0
        cut = np.zeros(n + 1, bool)
    index = index[~touches & (area >= params.min_length_m * min(px, py) * 0.5)]
    m = _measure(labels, index, pixel_size)
    ok = _vessel_sized(m, params)
    m = {k: v[ok] for k, v in m.items()}
    total = np.bincount(labels.ravel(), weights=sc.prob.ravel(), minlength=n + 1)
    count = np.bincount(labels.ravel(), minlength=n + 1)
    score = (total / np.maximum(count, 1))[index[ok]]
    # An opaque object in known water is most likely a vessel whatever the pixel model says.
    return detections_from_measurements(m, 0.5 + 0.5 * score, kind="vessel", truncated=cut[index[ok]])


# Here rather than in optical_objects: it looks up multi_candidates and object_scores in this
# module, which benchmarks/optical_objects.py replaces to try other candidates and scorers.
def _vessel_objects(
    prob: NDArray[np.float32],
    feats: NDArray[np.float32] | Sequence[NDArray[np.float32]],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
    model: Mapping[str, NDArray[np.float32]],
    bands: Mapping[str, NDArray[np.float32]] | None = None,
    cloud: NDArray[np.bool_] | None = None,
    *,
    bodies: NDArray[np.bool_] | None = None,
) -> list[PixelDetection]:
    """Candidates of every threshold scored by the object model; overlaps keep the best.

    ``cloud`` (cloud and shadow within ``hidden``), when given, is what the cloud margin keeps
    candidates from; one touching the rest of ``hidden`` (no data) is ``truncated``. ``bodies``
    (the bodies of water within ``water``), when given, is the water ships at anchor lie in."""
    ms, xs = multi_candidates(prob, feats, water, hidden, pixel_size, params, bands=bands, cloud=cloud)
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
    cut = (ms["truncated"][source] > 0) | (ms["truncated"][keep] > 0)
    out = detections_from_measurements({k: v[source] for k, v in ms.items()}, score[keep], kind="vessel", truncated=cut)
    if 0.5 * (pixel_size[0] + pixel_size[1]) <= params.hull_max_pixel_m:
        brighter = feats[FEATURE_NAMES.index("vis_minus_water")] > 0
        out = hull_boxes(out, prob, water, brighter, pixel_size, params)
    nir = feats[FEATURE_NAMES.index("nir_minus_water")]  # NIR up to a constant: differences suffice
    return out + _anchored(prob, nir, water if bodies is None else bodies, hidden, pixel_size, params, out)
