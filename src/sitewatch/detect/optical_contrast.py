"""Vessels on open water in fine optical pixels (PlanetScope-class 3 m), found by contrast alone.

The image-only detector's two learned stages were trained on Sentinel-2's 10 m ports. At 3 m a
hull is ten times as many pixels, its texture and the top-hat windows see other things, and the
learned stages pass over plain ships lying in open water (ShipsNet's PlanetScope scenes of San
Francisco Bay and Long Beach: a third of the anchored ships found). No labelled imagery at 3 m
was available to train on, so this stage learns nothing: it asks whether something stands out
from the water around it, as a CFAR does in SAR.

1. **Contrast.** Each band minus its background over ``contrast_background_m`` (240 m: several
   hull lengths of water; a median along rows, then columns, of 24 m block means), divided by
   that band's robust spread (1.4826 × MAD) over the smoother half of the image (local spread
   at 60 m below its median; every third row and column), so sea state and compression noise
   set the scale. ``z`` is the root mean square of the bands' contrasts.
2. **Objects.** Components of ``z > contrast_grow_z`` (4) that hold a pixel above
   ``contrast_seed_z`` (24), as a hysteresis threshold.
3. **Open water around it.** In a ring from 2 pixels to ``contrast_ring_m`` (20 m) beyond the
   component, at least ``contrast_ring_fraction`` (0.8) of the pixels must be NDWI water and as
   large a share quiet (``z`` below the grow level). Land is textured and not water; a quay next
   to a hull breaks the ring, so ships alongside are left to the learned stages, which at these
   pixels mostly miss them too, and to the known-water mode, which finds them (BENCHMARKS.md,
   "Hulls alongside a quay or pier").
4. **The hull.** At high contrast a hull's glow and shadow pass the grow level too, so the hull
   is the component's pixels above half its upper contrast (the 75th percentile of its pixels
   above ``contrast_local_z``, 8) and above that level, the brighter-than-water ones when they
   are most of them. Its mean must stand ``contrast_local_z`` above the median of the ring in
   some band (a patch of rougher or muddier water stands out from the bay, hardly from its edge).
5. **Size and shape.** Measured (oriented box, as :func:`~sitewatch.detect.base.measure_components`)
   on the hull: a vessel's length and width limits (``min_length_m``…``max_width_m``) and a length
   at most ``contrast_max_elongation`` (12) times the width, which leaves out the long thin arms
   of wakes.

What the learned stages report on open water (its ring as in step 3) stands only where a contrast
object holds its centre: on the same scenes they had boxed wake pieces, water fronts and sea
clutter by the dozen there, which stand out from nothing. Off open water (at quays, by land) they
are left as they are.

A hull running from one edge of the image to the opposite one is left out (a breakwater in a
small chip; in tiles, the neighbouring tile sees a hull whole). Objects whose centre lies in a
detection already made, or that hold one's centre, are not repeated; those within the cloud
margin of cloud or no data are dropped. The score is ``1 - exp(-(peak z) / 16)`` floored at the
object threshold: it orders these detections by contrast, it is not a calibrated probability.

The constants were set from first principles and by looking at the four unlabelled ShipsNet
scenes in ``../shared/datasets/shipsnet-scenes`` (their SOURCE.md allows no figures), so they
carry no measured accuracy; see BENCHMARKS.md, "Open-water contrast at 3 m".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .base import PixelDetection, detections_from_measurements
from .optical_features import _px
from .optical_objects import _inside, _measure_pixels, box_window
from .optical_params import OpticalParams
from .optical_water import dilate

__all__ = ["contrast_z", "open_water_vessels"]

_BLOCKS = 10
"""The median background is a median filter over about this many blocks across, each block's value its mean."""


def _background(a: NDArray[np.float32], size_px: int) -> NDArray[np.float32]:
    """About the median of ``a`` over ``size_px`` pixels: medians over :data:`_BLOCKS` block means, spread back."""
    h, w = a.shape
    k = max(1, size_px // _BLOCKS)
    hb, wb = -(-h // k), -(-w // k)
    padded = np.pad(a, ((0, hb * k - h), (0, wb * k - w)), mode="edge")
    # Block means (a hull fills few blocks, and the median filter over them passes it by): several
    # times cheaper than block medians.
    blocks = padded.reshape(hb, k, wb, k).mean(axis=(1, 3), dtype=np.float32)
    size = max(3, (size_px // k) | 1)  # _BLOCKS, or its next odd number
    # Median along rows, then along columns: a separable stand-in for the square median, a tenth of its cost.
    bg = ndimage.median_filter(ndimage.median_filter(blocks, size=(1, size), mode="nearest"), size=(size, 1), mode="nearest")
    return np.repeat(np.repeat(bg, k, axis=0), k, axis=1)[:h, :w].astype(np.float32)


def _spread(residual: NDArray[np.float32], quiet: NDArray[np.bool_]) -> float:
    """Robust spread of ``residual`` over the ``quiet`` pixels; its standard deviation if that is zero (flat 8-bit water)."""
    r = residual[quiet]
    r = r[np.isfinite(r)]
    if r.size == 0:
        return 1.0
    mad = 1.4826 * float(np.median(np.abs(r - np.median(r))))
    return max(mad if mad > 0 else float(np.std(r)), 1e-6)


_STEP = 3
"""The noise statistics are taken on every third row and column: a spread needs thousands of pixels, not millions."""


def contrast_z(
    bands: Mapping[str, NDArray[np.float32]], pixel_size: tuple[float, float], params: OpticalParams, usable: NDArray[np.bool_]
) -> tuple[NDArray[np.float32], dict[str, float], NDArray[np.bool_]]:
    """Each pixel's contrast to the water around it, in units of the bands' noise (step 1 of the module doc),
    each band's noise (the spread the contrast is counted in), and whether the pixel is brighter than that
    water (mean of the bands).

    ``usable`` marks the pixels that count (data, not cloud); the others get 0.
    """
    p = 0.5 * (pixel_size[0] + pixel_size[1])
    names: list[str] = []
    for b in ("blue", "green", "red", "nir"):  # a stand-in (RGB's NIR is its red) counts once
        if b in bands and not any(bands[b] is bands[n] for n in names):
            names.append(b)
    sample = usable[::_STEP, ::_STEP]
    residuals = []
    for b in names:
        a = bands[b]
        fill = np.float32(np.median(a[::_STEP, ::_STEP][sample])) if sample.any() else np.float32(0.0)
        a = np.where(usable, a, fill).astype(np.float32)
        a -= _background(a, _px(params.contrast_background_m, p))
        residuals.append(a)
    lum = np.mean(residuals, axis=0)
    # Quiet water: the half of the sampled pixels whose 60 m neighbourhood varies least.
    lum_s = lum[::_STEP, ::_STEP]
    k = max(3, _px(60.0, p * _STEP) | 1)
    m1 = ndimage.uniform_filter(lum_s, k)
    m2 = ndimage.uniform_filter(lum_s * lum_s, k)
    local = np.sqrt(np.maximum(m2 - m1 * m1, 0.0))
    quiet = sample & (local <= np.median(local[sample])) if sample.any() else sample
    z = np.zeros(lum.shape, np.float32)
    spreads = {}
    for b, r in zip(names, residuals, strict=True):
        spreads[b] = _spread(r[::_STEP, ::_STEP], quiet)
        r /= np.float32(spreads[b])
        z += r * r
    z = np.sqrt(z / np.float32(len(residuals)))
    z[~usable] = 0.0
    return z, spreads, lum > 0


def open_water_vessels(
    bands: Mapping[str, NDArray[np.float32]],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    excluded: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
    found: Sequence[PixelDetection],
) -> list[PixelDetection]:
    """``found`` (the learned stages' vessels) checked in open water, and the vessels standing out from it.

    A vessel of ``found`` in open water (its ring, as in step 3 of the module doc, open and
    quiet) is kept only when a contrast object holds its centre: there the contrast test is the
    better judge, and what the learned stages report on open water that stands out from nothing
    are wakes, water fronts and sea clutter. Contrast objects not already in ``found`` are added.
    ``water`` is the scene's NDWI water, ``hidden`` cloud, shadow and no data, ``excluded``
    pixels already given to another kind of object (cranes).
    """
    z, spreads, brighter = contrast_z(bands, pixel_size, params, ~hidden)
    z[excluded] = 0.0
    objects = _contrast_objects(bands, z, spreads, brighter, water, hidden, pixel_size, params)
    backed = np.asarray(_centres_in(objects, found).any(axis=1))
    kept = [d for d, b in zip(found, backed, strict=True) if b or not _in_open_water(d, z, water, hidden, pixel_size, params)]
    # A contrast object is new unless it holds a kept vessel's centre or its centre lies in one.
    clash = np.asarray(_centres_in(kept, objects).any(axis=1) | _centres_in(objects, kept).any(axis=0))
    return kept + [o for o, c in zip(objects, clash, strict=True) if not c]


def _centres_in(boxes: Sequence[PixelDetection], points: Sequence[PixelDetection]) -> NDArray[np.bool_]:
    """Whether each of ``points``' centres lies in each of ``boxes`` (rows: points, columns: boxes)."""
    if not boxes or not points:
        return np.zeros((len(points), len(boxes)), bool)
    quads = np.array([b.corners for b in boxes], np.float64)
    cols = np.array([d.col for d in points])[:, None]
    rows = np.array([d.row for d in points])[:, None]
    return _inside(quads[None], cols, rows)


def _ring(inside: NDArray[np.bool_], reach: int, hidden: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Pixels 2 to ``reach`` pixels from ``inside`` (square distance), outside ``hidden``."""
    # Square dilations by doubling windows (optical_water.dilate): a few passes whatever the reach,
    # where a full square structure costs reach² a pixel (81 x 81 at 0.5 m).
    return np.asarray(dilate(inside, 2 * reach + 1) & ~dilate(inside, 5) & ~hidden)


def _open_water(ring: NDArray[np.bool_], water: NDArray[np.bool_], z: NDArray[np.float32], params: OpticalParams) -> bool:
    """Whether a ring (step 3 of the module doc) is open, quiet water."""
    if ring.sum() < 8:
        return False
    wet = float(water[ring].mean())
    calm = float((z[ring] <= params.contrast_grow_z).mean())
    return min(wet, calm) >= params.contrast_ring_fraction


def _in_open_water(
    d: PixelDetection,
    z: NDArray[np.float32],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
) -> bool:
    """Whether the vessel ``d`` lies in open water (its box's ring, step 3 of the module doc)."""
    if d.kind != "vessel":
        return False
    reach = max(3, _px(params.contrast_ring_m, 0.5 * (pixel_size[0] + pixel_size[1])))
    found = box_window(d.corners, z.shape, reach + 2)
    if found is None:
        return False
    window, box = found
    if not box.any():  # a box thinner than a pixel: its centre's pixel
        r0, c0 = window[0].start, window[1].start
        box[min(max(round(d.row) - r0, 0), box.shape[0] - 1), min(max(round(d.col) - c0, 0), box.shape[1] - 1)] = True
    return _open_water(_ring(box, reach, hidden[window]), water[window], z[window], params)


def _contrast_objects(
    bands: Mapping[str, NDArray[np.float32]],
    z: NDArray[np.float32],
    spreads: Mapping[str, float],
    brighter: NDArray[np.bool_],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
) -> list[PixelDetection]:
    """The vessels standing out from open water (steps 2-5 of the module doc)."""
    px, py = pixel_size
    p = 0.5 * (px + py)
    labels, n = ndimage.label(z > params.contrast_grow_z, structure=np.ones((3, 3), bool))
    if n == 0:
        return []
    flat = labels.ravel()
    area = np.bincount(flat, minlength=n + 1)
    seeded = np.zeros(n + 1, bool)
    seeded[np.unique(labels[z > params.contrast_seed_z])] = True
    seeded[0] = False
    # The grown object may hold glow and shadow besides the hull, but not a ship's area many times over.
    max_area = 4.0 * params.max_length_m * params.max_width_m / (px * py)
    min_area = params.min_length_m * max(params.min_length_m / params.contrast_max_elongation, p) / (px * py)
    ids = np.flatnonzero(seeded & (area <= max_area) & (area >= min_area))
    if ids.size == 0:
        return []
    near_hidden = dilate(hidden, _px(2 * params.cloud_margin_m, p)) if hidden.any() else None
    reach = max(3, _px(params.contrast_ring_m, p))
    slices = ndimage.find_objects(labels)
    h, w = labels.shape
    rows_all: list[NDArray[np.intp]] = []
    cols_all: list[NDArray[np.intp]] = []
    ks: list[NDArray[np.intp]] = []
    peaks: list[float] = []
    for i in ids:
        sl = slices[i - 1]
        r0, r1 = max(sl[0].start - reach - 2, 0), min(sl[0].stop + reach + 2, h)
        c0, c1 = max(sl[1].start - reach - 2, 0), min(sl[1].stop + reach + 2, w)
        obj = labels[r0:r1, c0:c1] == i
        zw = z[r0:r1, c0:c1]
        ring = _ring(obj, reach, hidden[r0:r1, c0:c1])
        if not _open_water(ring, water[r0:r1, c0:c1], zw, params):
            continue
        # The hull: at high contrast its glow and shadow pass the grow level too, so the level is
        # half the object's upper contrast (the 75th percentile over its pixels above the local
        # level), which a white bridge on a dark hull (under a quarter of it) does not raise as it
        # would raise the peak.
        strong = zw[obj & (zw >= params.contrast_local_z)]
        if strong.size == 0:
            continue
        core = obj & (zw >= max(params.contrast_local_z, 0.5 * float(np.percentile(strong, 75))))
        if (core & brighter[r0:r1, c0:c1]).sum() >= 0.5 * core.sum():
            core &= brighter[r0:r1, c0:c1]  # a bright hull without its shadow
        # Against the water right beside it, not the wide background: a patch of rougher or
        # muddier water stands out from the bay but hardly from its own edge.
        local = max(
            abs(float(bands[b][r0:r1, c0:c1][core].mean()) - float(np.median(bands[b][r0:r1, c0:c1][ring]))) / spread
            for b, spread in spreads.items()
        )
        if local < params.contrast_local_z:
            continue
        if near_hidden is not None and near_hidden[r0:r1, c0:c1][core].any():
            continue
        rr, cc = np.nonzero(core)
        if (rr.min() + r0 == 0 and rr.max() + r0 == h - 1) or (cc.min() + c0 == 0 and cc.max() + c0 == w - 1):
            continue  # across the whole image: a breakwater or a pier, or a hull too big to judge
        rows_all.append(rr + r0)
        cols_all.append(cc + c0)
        ks.append(np.full(rr.size, len(peaks), np.intp))
        peaks.append(float(strong.max()))
    if not peaks:
        return []
    rows = np.concatenate(rows_all)
    cols = np.concatenate(cols_all)
    order = np.lexsort((cols, rows))  # raster order, as from a labelled image
    m = _measure_pixels(rows[order], cols[order], np.concatenate(ks)[order], len(peaks), (h, w), (px, py))
    length, width = m["length_m"], m["width_m"]
    ok = (
        (length >= params.min_length_m)
        & (length <= params.max_length_m)
        & (width <= params.max_width_m)
        & (length <= params.contrast_max_elongation * np.maximum(width, p))
    )
    keep = np.flatnonzero(ok)
    score = np.maximum(1.0 - np.exp(-np.minimum(np.asarray(peaks)[keep] / 16.0, 30.0)), params.object_threshold)
    return detections_from_measurements({k: v[keep] for k, v in m.items()}, score, kind="vessel")

