"""Vessels in SAR images: a block-wise, censored two-parameter CFAR over water.

How it works, in the order :func:`detect_sar` runs it:

1. **Intensity.** The input becomes linear intensity (see
   :attr:`SarParams.input_scale`): float images are taken as linear sigma0
   intensity, integer images (8/16-bit PNG/JPEG/GeoTIFF renderings) and float
   images of whole numbers (uncalibrated DN exports) as amplitude and squared,
   images with negative values as dB. **uint8 input** is taken for
   a display rendering and goes to :mod:`sitewatch.detect.sar_render` instead (grey levels
   and pixels, a small learned ship/clutter stage; :attr:`SarParams.render_8bit`).
2. **Water.** ``water`` is used as given, widened by a berth margin so that
   ships moored alongside a quay stay inside it; with ``water=None`` land is
   derived from the image (:func:`sitewatch.detect.water.land_from_sar`:
   large, bright, textured areas; ships alongside are cut off land by a
   morphological opening narrower than land and wider than a ship). Pixels
   flagged invalid (``valid`` False, non-finite, or 0, negative or above 10^10 intensity in float input)
   are neither tested nor used as background.
3. **Clutter statistics, per block.** One pass over the pixels (float32, row
   strips that stay in the CPU cache, threaded) gives per land/water cell
   (:attr:`SarParams.land_cell_m`) the sums of I and I², the count of used
   pixels and the brightest one, by reshape-and-fold sums; land, CFAR blocks
   (:attr:`SarParams.block_m`, k × k cells) and their backgrounds are built
   from these cells, never from pixels again. The background of a block is the
   ring of blocks within :attr:`SarParams.background_m` but outside
   :attr:`SarParams.guard_m` (box sums by integral images, so the window size
   costs nothing). Blocks whose mean square is far above their ring's (other
   ships, quay corners) are censored and the ring statistics taken again
   without them (the all-block rings less the censored blocks' own rings): a
   *censored two-parameter CFAR*, ``I > mu + k * sigma``, evaluated with one
   threshold per block rather than one window per pixel. That is what makes
   it fast; against a per-pixel sliding-window CFAR it finds the same vessels
   (``benchmarks/cfar_speed.py``).
4. **Components.** A cell whose brightest pixel beats its seed threshold is a
   candidate; only windows around candidate cells are read again at full
   resolution, all packed side by side on one canvas (:func:`~sitewatch.detect.sar_components._objects`) so a
   single labelling and label-indexed reductions serve every window. Pixels
   above the seed threshold start a component; it grows through connected
   water pixels above the lower growth threshold (hysteresis), and fragments
   closer than :attr:`SarParams.merge_m` join. A component is cut across its axis where a
   strip across it falls to the sea's level between two targets (ships end to end,
   :mod:`sitewatch.detect.sar_split`).
5. **Discrimination and measurement.** Oriented box from second moments
   (:func:`sitewatch.detect.base.measure_components`); components outside the
   length/width/elongation limits of vessels are dropped (isolated speckle,
   quay-wall lines, land edges). Length and width are measured from the
   target's intensity above the background (:func:`~sitewatch.detect.sar_size.size_from_features`), not
   from the component's extent, which includes sidelobes and smearing.

``score`` is the peak's margin over the seed threshold mapped to [0, 1]:
0.5 at the threshold, 1 at 20 dB above it.
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, fields, replace
from typing import Literal, cast

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from ..errors import InputError
from .base import PixelDetection, pixel_size_pair
from .sar_candidates import CANDIDATE_FEATURES, MODEL_FILE, candidate_probability, candidate_vector
from .sar_cells import _cell_block, _cell_pass, _in_threads
from .sar_components import CANVAS_PIXELS, _batches, _objects
from .sar_shore import _dilate_square
from .sar_size import (
    LENGTH_FILE,
    correct_size,
    level_factor,
    raw_length,
    size_features,
    size_from_features,
)
from .sar_thresholds import _cell_thresholds
from .versions import SAR_DETECTOR, SAR_VERSION
from .water import widen_water

__all__ = [
    "CANDIDATE_FEATURES",
    "DETECTOR",
    "LENGTH_FILE",
    "MODEL_FILE",
    "VERSION",
    "SarParams",
    "candidate_probability",
    "candidate_vector",
    "correct_size",
    "detect_sar",
    "detect_sar_with_features",
    "level_factor",
    "raw_length",
    "size_features",
    "size_from_features",
    "to_intensity",
]

DETECTOR = SAR_DETECTOR
VERSION = SAR_VERSION  # bumped in versions.py


InputScale = Literal["auto", "intensity", "amplitude", "db"]


@dataclass(frozen=True)
class SarParams:
    """Parameters of the SAR detector; one set serves every sensor and resolution.

    Sizes are in metres and converted to pixels with the pixel size given to
    :func:`detect_sar`, so the same values work at 1 m and at 10 m.
    """

    input_scale: InputScale = "auto"
    """How to read pixel values: ``"intensity"`` (linear power, sigma0),
    ``"amplitude"`` (squared to intensity), ``"db"`` (10·log10 intensity) or
    ``"auto"``: complex (SLC) → ``|z|²``; float values mostly negative (median below 0, some below
    -1) → dB; integer dtype or float values that are all whole numbers (uncalibrated DN) →
    amplitude, otherwise intensity. Negative intensity (a no-data value, noise taken out of
    linear sigma0) is invalid, like NaN."""
    k_seed: float = 6.0
    """Seed threshold: ``mu + k_seed * sigma`` of the block's background ring."""
    k_grow: float = 3.0
    """Growth threshold (hysteresis), lower than the seed one, for the vessel's extent."""
    seed_floor_db: float = 10.0
    """A seed is also at least this far above the background mean: heavy-tailed or quantised
    clutter (8-bit renderings whose sea is mostly 0) makes ``sigma`` alone unreliable."""
    block_m: float = 80.0
    """Side of the blocks over which one threshold holds (at least 1, at most 16 pixels)."""
    guard_m: float = 150.0
    """Half-width of the guard area around a block kept out of its background."""
    background_m: float = 700.0
    """Half-width of the background window around a block."""
    censor_ratio: float = 4.0
    """A block whose mean square exceeds this multiple of its ring's is left out of the background."""
    min_background_blocks: int = 6
    """Fewer background blocks than this: use the statistics of all water in the image instead."""
    merge_m: float = 20.0
    """Fragments of one vessel closer than this are merged."""
    min_length_m: float = 15.0
    """Shortest vessel reported (measured length, before the size correction)."""
    max_length_m: float = 500.0
    """Longest vessel reported; longer bright lines are quays, breakwaters, land edges."""
    max_width_m: float = 90.0
    """Widest vessel reported."""
    line_m: float = 600.0
    """Straight bright runs longer than this (quay walls, breakwaters) are removed before
    components are formed, so a hull alongside is not joined to its quay."""
    max_elongation: float = 16.0
    """Largest length/width ratio; thinner objects are quay walls and range sidelobe streaks."""
    min_pixels: int = 3
    """Smallest component, in pixels, whatever the pixel size."""
    min_area_m2: float = 100.0
    """Smallest component area (more pixels than ``min_pixels`` at fine resolution)."""
    rescue_db: tuple[float, ...] = (15.0, 20.0, 25.0)
    """Margins over the background mean (dB) at which a component that fails the shape tests,
    and whose seed pixels fail too, is cut again (bright hulls smeared by sidelobes)."""
    join_pieces: bool = True
    """Rescued pieces of one component whose union passes the shape tests become one vessel
    (a long hull broken into bow, superstructure and stern at the seed level)."""
    join_along: bool = True
    """Where the union of all a failed component's pieces is no vessel (a sidelobe speck or a
    neighbour in the same component), join those of its pieces that lie along one hull: added
    one by one to the largest while their union passes the shape tests and no water shows
    between them (:func:`~sitewatch.detect.sar_pieces._join_along`)."""
    split_water: bool = True
    """Cut a component across its axis where a strip across it falls to the sea's level
    between two targets (ships moored or anchored end to end; :mod:`sitewatch.detect.sar_split`)."""
    render_8bit: bool = True
    """Take uint8 input for a display rendering (PNG/JPEG chip: amplitude or dB, stretched and
    clipped, pixel size often only nominal) and detect with :mod:`sitewatch.detect.sar_render`,
    in grey levels and pixels, instead of the metric CFAR. The pixel size then only scales the
    measured lengths. With it off, uint8 input is squared amplitude for the CFAR."""
    classify_8bit: bool = True
    """On 8-bit renderings (uint8 input) keep only candidates the small ship/clutter model
    (``sitewatch/data/sar_candidate_lr.json``, trained by ``benchmarks/sar_train.py``)
    scores at least 0.5. Calibrated (float) and 16-bit input is never filtered."""
    berth_margin_m: float = 30.0
    """A given water mask is widened by this much so ships alongside a quay stay in it."""
    derive_water: bool = True
    """With no water mask given, derive land from the image and exclude it."""
    refine_water: bool = True
    """With a water mask given, also exclude land derived from the image (imprecise polygons)."""
    resolution_m: float | None = None
    """Full width at half maximum (m) of the image's impulse response, taken out of measured
    widths (:func:`~sitewatch.detect.sar_size.deconvolve_width`). None: twice the pixel size
    along each axis, the sampling of detected ground-range products (Sentinel-1 IW GRDH:
    10 m pixels, 20 × 22 m resolution; EW GRDM: 40 m, about 90 m); give the product's own for
    others (SLC chips: about the pixel size). 0: widths as measured. Lengths are not changed:
    their rule was fitted against AIS as measured (:func:`size_from_features`)."""
    psf_m: float = 10.0
    """Smearing of the radar return removed from the measured length and width
    (about one resolution cell of Sentinel-1 IW GRD; the correction never goes
    below the pixel size)."""
    land_cell_m: float = 40.0
    """Cell size of the land/water classification (:func:`~sitewatch.detect.water.land_from_sar`)."""
    land_open_m: float = 50.0
    """Opening radius that separates ships alongside from land: wider than a beam, narrower than land."""
    land_min_m2: float = 50_000.0
    """Smallest bright area taken as land."""
    land_contrast_db: float = 4.0
    """Land is at least this much brighter than the water level."""
    land_berth_m: float = 40.0
    """Coastline bumps up to this deep (hulls alongside a quay) are water."""
    shore_smooth_m: float = 30.0
    """With derived land: pixels whose mean over a square of this side is above the land/water
    threshold and that connect to land are *shore land* (quay edges, piers narrower than the
    land opening, ships alongside), found at pixel resolution in the candidate windows."""
    shore_band_m: float = 50.0
    """Edge band of the land-like region (wider than a beam): there shore land must also be
    straight (:attr:`shore_run_m`); deeper inside, land-like is land."""
    shore_run_m: float = 250.0
    """In the edge band, only pixels on a straight run of band pixels at least this long (in
    one of 8 directions) are shore land. Quay faces, pier sides and coasts are; a hull
    alongside, a bump shorter than this on the land's edge, is not, so it is tested (and
    grown) against the water like a ship in the open. (Runs at most 11.25° off a coast fit
    in the band: 250 m · sin 11.25° < 50 m.)"""
    shore_level_m: float = 70.0
    """Side of the square over which the local land level (geometric mean) around a shore
    land pixel is taken."""
    shore_seed_db: float = 10.0
    """A seed on shore land is at least this far above the local land level: a ship alongside
    must stand out from the land it touches as it would from water (hull metal, superstructure);
    land clutter does not."""
    shore_peak_db: float = 7.5
    """A candidate bordering shore land (a fifth of the pixels around it or more) peaks at least
    this far above the local land level: a hull alongside is brighter than the quay it lies
    against, pixels half land and half water along the shore are darker than land."""
    shore_water_frac: float = 0.2
    """With derived land, at least this fraction of the pixels around a candidate is water (a
    vessel floats: water along one long side at least); bright spots on land near the
    shore are surrounded by land."""
    shore_grow_db: float = 5.0
    """Growth threshold on shore land, over the local land level: the hull grows, the pier or
    quay it lies against does not."""

    def __post_init__(self) -> None:
        for fd in fields(self):
            v = getattr(self, fd.name)
            # Sizes become pixel counts: NaN or an infinite window stopped the detector on a ValueError.
            if isinstance(v, float) and not (math.isfinite(v) or (v == math.inf and fd.name.startswith("max_"))):
                raise InputError(f"SarParams.{fd.name} must be a finite number, got {v!r}")
        if self.input_scale not in ("auto", "intensity", "amplitude", "db"):
            raise InputError(f"input_scale must be auto, intensity, amplitude or db, not {self.input_scale!r}")
        if not 0 < self.k_grow <= self.k_seed:
            raise InputError("need 0 < k_grow <= k_seed")
        if not 0 < self.guard_m < self.background_m:
            raise InputError("need 0 < guard_m < background_m")
        if self.min_length_m >= self.max_length_m:
            raise InputError("need min_length_m < max_length_m")
        if self.resolution_m is not None and not (math.isfinite(self.resolution_m) and self.resolution_m >= 0):
            raise InputError(f"resolution must be 0 (widths as measured) or positive metres, got {self.resolution_m!r}")

    def land_kwargs(self) -> dict[str, float]:
        """Keyword arguments for :func:`~sitewatch.detect.water.land_from_sar`."""
        return {
            "cell_m": self.land_cell_m,
            "open_m": self.land_open_m,
            "min_land_m2": self.land_min_m2,
            "min_contrast_db": self.land_contrast_db,
            "berth_m": self.land_berth_m,
        }


def _nan_min(a: NDArray[np.floating], pool: Executor | None = None) -> float:
    """``np.nanmin``, NaN for an image with no finite value, without numpy's warning about it;
    with a pool the two halves of a large image in two threads."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice encountered"
        if pool is None or a.ndim != 2 or a.size < 1 << 22:
            return float(np.nanmin(a))
        return float(np.nanmin(_in_threads(np.nanmin, [a[: a.shape[0] // 2], a[a.shape[0] // 2 :]], pool)))


def to_intensity(image: NDArray[np.generic], scale: InputScale = "auto") -> NDArray[np.float32]:
    """Return linear intensity (float32) from intensity, amplitude or dB pixel values."""
    return _to_intensity(image, scale, None)


def _to_intensity(image: NDArray[np.generic], scale: InputScale, pool: Executor | None) -> NDArray[np.float32]:
    a = np.asarray(image)
    if np.iscomplexobj(a):
        # Single-look complex: the intensity is |z|² (casting to float would keep the real part).
        if scale == "db":
            raise InputError("input_scale 'db' does not apply to a complex (SLC) image: its intensity is |z|²")
        return np.square(np.abs(a)).astype(np.float32, copy=False)
    if scale == "auto":
        # Float pixels below the integer case (complex ones returned above); said so to mypy, as numpy's
        # stubs from 2.5 on take nanmin, median and comparisons only of scalars that have an order.
        floats = cast("NDArray[np.floating]", a)
        if np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
            scale = "amplitude"
        elif floats.size and _nan_min(floats, pool) < 0 and _mostly_db(floats):
            scale = "db"
        elif _digital_numbers(floats):
            scale = "amplitude"
        else:
            scale = "intensity"
    if scale == "amplitude":
        f = a.astype(np.float32)
        if np.issubdtype(a.dtype, np.floating):
            # A negative amplitude (a no-data value such as -9999) keeps its sign, so that it is
            # found invalid like negative intensity, rather than squared into a bright pixel.
            return f * np.abs(f)
        return f * f
    if scale == "db":
        return np.power(np.float32(10.0), a.astype(np.float32) / np.float32(10.0))
    return a.astype(np.float32, copy=False)


def _mostly_db(a: NDArray[np.floating]) -> bool:
    """Float pixels with negative values that are dB: the middle of the image is below 0 and some
    value below -1. Linear intensity is never below -1, and never mostly negative: a few negative
    pixels in it (a no-data value such as -9999, noise taken out of the sea) are invalid pixels,
    not a sign that the whole image is dB. A strided sample decides, so a whole scene costs little."""
    s = a.ravel()[:: max(1, a.size // 65536)]
    s = s[~np.isnan(s)]
    return bool(s.size) and float(np.median(s)) < 0 and float(s.min()) < -1


def _digital_numbers(a: NDArray[np.floating]) -> bool:
    """Float pixels that look like a GRD product's amplitude digital numbers stored as float.

    Uncalibrated GRD exports (SNAP, OpenSARShip's ``Patch/`` chips) hold the
    product's 16-bit DN amplitude in a float file; read as intensity, OpenSARShip's
    ships are found 0.85 of the time instead of 0.98 and measured 27 m off AIS
    instead of 17 m. Amplitude DN are whole numbers from 0 to 65535 and not all
    perfect squares; calibrated sigma0 is never whole, and DN intensity (the
    amplitude squared) is all perfect squares or, bright ships included, above
    65535. A strided sample decides, so a whole scene costs little.
    """
    s = a.ravel()[:: max(1, a.size // 65536)]
    s = s[np.isfinite(s)].astype(np.float64)
    if not s.size or not 1.0 < s.max() <= 65535.0 or not np.all(s == np.round(s)):
        return False
    root = np.round(np.sqrt(np.maximum(s, 0.0)))
    return not bool(np.all(root * root == s))


def detect_sar_with_features(
    image: NDArray[np.generic],
    pixel_size: float | tuple[float, float],
    *,
    valid: NDArray[np.bool_] | None = None,
    water: NDArray[np.bool_] | None = None,
    params: SarParams | None = None,
    workers: int = 1,
) -> list[tuple[PixelDetection, dict[str, float]]]:
    """Find vessels in a SAR image and measure them; each with its measures (:func:`size_features`).

    Parameters
    ----------
    image:
        2-D array: linear sigma0 intensity (float), 8/16-bit amplitude
        renderings (integer dtype) or dB; see :attr:`SarParams.input_scale`.
    pixel_size:
        Ground size of a pixel in metres, scalar or ``(x, y)``.
    valid:
        False where the image has no data. Non-finite pixels and zero, negative or
        absurdly bright intensity (:data:`~sitewatch.detect.sar_cells.MAX_INTENSITY`) of float
        input are invalid too.
    water:
        True on water (e.g. the site's water polygon rasterised). It is widened
        by :attr:`SarParams.berth_margin_m` to keep berths. ``None``: land is
        derived from the image (unless ``params.derive_water`` is False, then
        every valid pixel is water).
    params:
        Detector parameters; the defaults are the tested ones.
    workers:
        Threads in all, the caller's included: the pixel pass (row strips), land and the
        thresholds share them. The detections do not depend on it.

    Returns
    -------
    One :class:`PixelDetection` per vessel, in pixel coordinates of ``image``.
    """
    p = params or SarParams()
    a = np.asarray(image)
    if a.ndim != 2:
        raise InputError(f"detect_sar needs a 2-D image, got shape {a.shape}")
    px, py = pixel_size_pair(pixel_size)
    if not (px > 0 and py > 0 and math.isfinite(px * py)):
        raise InputError(f"pixel size must be positive metres, got {pixel_size!r}")
    if a.size == 0:
        return []
    if p.render_8bit and a.dtype == np.uint8:
        return _detect_rendering(a, valid, water, (px, py))
    nodata = _checked_mask(valid, a.shape, "valid")  # the caller's valid mask alone: land is not a hole in the image
    water = _checked_mask(water, a.shape, "water")
    given = _on_water(nodata, water, (px, py), p.berth_margin_m)
    # ``workers`` threads in all: this one and a pool of the others. Work handed to the pool that
    # no pool thread has taken up when its result is wanted is done here (sar_cells._in_threads),
    # so there are never more busy threads than workers.
    with ThreadPoolExecutor(workers - 1) if workers > 1 else nullcontext() as pool:
        intensity = _to_intensity(a, p.input_scale, pool)
        derive = p.refine_water if water is not None else p.derive_water
        # GRD products mark no-data with 0 and reprojection borders with NaN: in float input
        # those pixels are invalid too (found in the same pass as the cell sums).
        found = _detect(intensity, given, bool(np.issubdtype(a.dtype, np.floating)), (px, py), p, pool, derive, nodata)
    if p.classify_8bit and a.dtype == np.uint8 and found:
        prob = candidate_probability(np.array([candidate_vector(ft) for _, ft in found]))
        found = [df for df, q in zip(found, prob, strict=True) if q >= 0.5]
    return found


def _detect_rendering(
    a: NDArray[np.uint8], valid: NDArray[np.bool_] | None, water: NDArray[np.bool_] | None, pxy: tuple[float, float]
) -> list[tuple[PixelDetection, dict[str, float]]]:
    """The rendering detector, keeping detections whose centroid is valid and (if given) on water."""
    from .sar_render import detect_rendering

    water = _checked_mask(water, a.shape, "water")
    valid = _checked_mask(valid, a.shape, "valid")
    keep = _on_water(valid, water, pxy, SarParams().berth_margin_m)
    found = detect_rendering(a, pxy, valid=valid)
    if keep is None:
        return found
    h, w = a.shape
    return [(d, ft) for d, ft in found if keep[min(max(round(d.row), 0), h - 1), min(max(round(d.col), 0), w - 1)]]


def _checked_mask(mask: NDArray[np.bool_] | None, shape: tuple[int, ...], what: str) -> NDArray[np.bool_] | None:
    """``mask`` as booleans (None: not given); an :class:`InputError` when it is not of the image's shape."""
    if mask is None:
        return None
    m = np.asarray(mask, dtype=bool)
    if m.shape != shape:
        raise InputError(f"{what} mask shape {m.shape} differs from the image's {shape}")
    return m


def _on_water(
    valid: NDArray[np.bool_] | None, water: NDArray[np.bool_] | None, pxy: tuple[float, float], margin_m: float
) -> NDArray[np.bool_] | None:
    """Pixels valid and on ``water`` widened by ``margin_m`` to keep berths (None: every pixel)."""
    if water is None:
        return valid
    wide = widen_water(water, math.sqrt(pxy[0] * pxy[1]), margin_m)
    return wide if valid is None else valid & wide


def detect_sar(
    image: NDArray[np.generic],
    pixel_size: float | tuple[float, float],
    *,
    valid: NDArray[np.bool_] | None = None,
    water: NDArray[np.bool_] | None = None,
    params: SarParams | None = None,
    workers: int = 1,
) -> list[PixelDetection]:
    """Find vessels in a SAR image and measure them (see :func:`detect_sar_with_features`)."""
    return [d for d, _ in detect_sar_with_features(image, pixel_size, valid=valid, water=water, params=params, workers=workers)]


# ---------------------------------------------------------------- components
# (clutter statistics per cell and block: sitewatch.detect.sar_cells; water, land and
# thresholds per cell: sitewatch.detect.sar_thresholds; components in the candidate windows:
# sitewatch.detect.sar_components; pieces of failed components: sitewatch.detect.sar_pieces;
# measurement: sitewatch.detect.sar_size; shore land with derived water: sitewatch.detect.sar_shore)


def _detect(
    x: NDArray[np.float32],
    given: NDArray[np.bool_] | None,
    check_float: bool,
    pxy: tuple[float, float],
    p: SarParams,
    pool: Executor | None,
    derive_land: bool,
    valid: NDArray[np.bool_] | None = None,
) -> list[tuple[PixelDetection, dict[str, float]]]:
    px, py = pxy
    gpx = math.sqrt(px * py)
    f, k = _cell_block(p, gpx)
    # One pass over the pixels: sums and maxima per land/water cell. Land, CFAR blocks, their
    # backgrounds and the cells worth a closer look are all built from these cells; pixels are
    # read again only inside the windows around candidate cells.
    s1, s2, n, mx, pixmask = _cell_pass(x, given, check_float, f, pool)
    if not n.any():
        return []
    water_c, land, maps, levels = _cell_thresholds(s1, s2, n, k, p, gpx, derive_land, pool)
    nw = n if not land.any() else np.where(water_c, n, 0.0)
    hits = maps.seed_hits(mx) & (nw > 0)
    if not hits.any():
        return []
    h, w = x.shape
    merge_px = max(1, round(p.merge_m / gpx))
    pad = 1 + math.ceil((merge_px + 1) / f)
    coarse, _ = ndimage.label(_dilate_square(hits, pad))
    wins = [
        (lab, (sl[0].start * f, min(h, sl[0].stop * f), sl[1].start * f, min(w, sl[1].stop * f)))
        for lab, sl in enumerate(ndimage.find_objects(coarse), start=1)
        if sl is not None
    ]
    out: list[tuple[int, PixelDetection, dict[str, float]]] = []
    for batch in _batches(wins, CANVAS_PIXELS):
        out.extend(_objects(x, pixmask, water_c, maps, coarse, batch, f, merge_px, pxy, p, (land, levels), (valid, check_float)))
    out.sort(key=lambda t: t[0])  # stable: the order of the windows, then of the objects in each
    return [(d, ft) for _, d, ft in out]


def with_params(params: SarParams | None, **changes: float) -> SarParams:
    """A copy of ``params`` (or the defaults) with some fields changed."""
    return replace(params or SarParams(), **changes)  # type: ignore[arg-type]
