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
   flagged invalid (``valid`` False, non-finite, or exactly 0 in float input)
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
   resolution, all packed side by side on one canvas (:func:`_objects`) so a
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
   target's intensity above the background (:func:`size_from_features`), not
   from the component's extent, which includes sidelobes and smearing.

``score`` is the peak's margin over the seed threshold mapped to [0, 1]:
0.5 at the threshold, 1 at 20 dB above it.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from ..errors import InputError
from .base import PixelDetection, detections_from_measurements, measure_components, pixel_size_pair
from .sar_cells import (
    _aggregate,
    _block_px,
    _cell_block,
    _cell_pass,
    _thresholds,
)
from .sar_shore import (
    _dilate_square,
    _floats_and_stands_out,
    _long_runs,
    _shore_thresholds,
)
from .sar_split import _axes, _water_bins, split_at_water
from .water import LandLevels, disk, land_and_levels_from_cells, widen_water

__all__ = ["DETECTOR", "VERSION", "SarParams", "detect_sar", "detect_sar_with_features", "size_features", "size_from_features", "candidate_vector", "candidate_probability", "to_intensity", "correct_size"]

DETECTOR = "sar-cfar"
VERSION = "1.10.0"


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
    ``"auto"``: negative values anywhere → dB, integer dtype or float values that
    are all whole numbers (uncalibrated DN) → amplitude, otherwise intensity."""
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
    between them (:func:`_join_along`)."""
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
        if self.input_scale not in ("auto", "intensity", "amplitude", "db"):
            raise InputError(f"input_scale must be auto, intensity, amplitude or db, not {self.input_scale!r}")
        if not 0 < self.k_grow <= self.k_seed:
            raise InputError("need 0 < k_grow <= k_seed")
        if not 0 < self.guard_m < self.background_m:
            raise InputError("need 0 < guard_m < background_m")
        if self.min_length_m >= self.max_length_m:
            raise InputError("need min_length_m < max_length_m")

    def land_kwargs(self) -> dict[str, float]:
        """Keyword arguments for :func:`~sitewatch.detect.water.land_from_sar`."""
        return {
            "cell_m": self.land_cell_m,
            "open_m": self.land_open_m,
            "min_land_m2": self.land_min_m2,
            "min_contrast_db": self.land_contrast_db,
            "berth_m": self.land_berth_m,
        }


def to_intensity(image: NDArray[np.generic], scale: InputScale = "auto") -> NDArray[np.float32]:
    """Return linear intensity (float32) from intensity, amplitude or dB pixel values."""
    a = np.asarray(image)
    if scale == "auto":
        if np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
            scale = "amplitude"
        elif np.nanmin(a) < 0 if a.size else False:
            scale = "db"
        elif _digital_numbers(a):
            scale = "amplitude"
        else:
            scale = "intensity"
    if scale == "amplitude":
        f = a.astype(np.float32)
        return f * f
    if scale == "db":
        return np.power(np.float32(10.0), a.astype(np.float32) / np.float32(10.0))
    return a.astype(np.float32, copy=False)


def _digital_numbers(a: NDArray[np.generic]) -> bool:
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


def correct_size(length_m: NDArray[np.float64], width_m: NDArray[np.float64], pixel_size: float, psf_m: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Remove the smearing of the return (one point-spread width) from measured sizes.

    The measured extent is the footprint of every pixel above the growth
    threshold: the hull plus about half a resolution cell at each end. The
    correction never shrinks an object below one pixel.
    """
    blur = max(psf_m, pixel_size)
    return (np.maximum(length_m - blur, pixel_size), np.maximum(width_m - blur, pixel_size))


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
        False where the image has no data. Non-finite pixels and exact zeros
        of float input are invalid too.
    water:
        True on water (e.g. the site's water polygon rasterised). It is widened
        by :attr:`SarParams.berth_margin_m` to keep berths. ``None``: land is
        derived from the image (unless ``params.derive_water`` is False, then
        every valid pixel is water).
    params:
        Detector parameters; the defaults are the tested ones.
    workers:
        Threads for the pixel passes (row strips).

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
    intensity = to_intensity(a, p.input_scale)
    given = None if valid is None else np.asarray(valid, dtype=bool)
    if given is not None and given.shape != a.shape:
        raise InputError(f"valid mask shape {given.shape} differs from the image's {a.shape}")
    if water is not None:
        if water.shape != a.shape:
            raise InputError(f"water mask shape {water.shape} differs from the image's {a.shape}")
        wide = widen_water(np.asarray(water, dtype=bool), math.sqrt(px * py), p.berth_margin_m)
        given = wide if given is None else given & wide
    derive = p.refine_water if water is not None else p.derive_water
    # GRD products mark no-data with 0 and reprojection borders with NaN: in float input
    # those pixels are invalid too (found in the same pass as the cell sums).
    found = _detect(intensity, given, bool(np.issubdtype(a.dtype, np.floating)), (px, py), p, workers, derive)
    if p.classify_8bit and a.dtype == np.uint8 and found:
        prob = candidate_probability(np.array([candidate_vector(ft) for _, ft in found]))
        found = [df for df, q in zip(found, prob, strict=True) if q >= 0.5]
    return found


def _detect_rendering(
    a: NDArray[np.uint8], valid: NDArray[np.bool_] | None, water: NDArray[np.bool_] | None, pxy: tuple[float, float]
) -> list[tuple[PixelDetection, dict[str, float]]]:
    """The rendering detector, keeping detections whose centroid is valid and (if given) on water."""
    from .sar_render import detect_rendering

    keep = None if valid is None else np.asarray(valid, dtype=bool)
    if water is not None:
        if water.shape != a.shape:
            raise InputError(f"water mask shape {water.shape} differs from the image's {a.shape}")
        wide = widen_water(np.asarray(water, dtype=bool), math.sqrt(pxy[0] * pxy[1]), SarParams().berth_margin_m)
        keep = wide if keep is None else keep & wide
    if keep is not None and keep.shape != a.shape:
        raise InputError(f"valid mask shape {keep.shape} differs from the image's {a.shape}")
    found = detect_rendering(a, pxy)
    if keep is None:
        return found
    h, w = a.shape
    return [(d, ft) for d, ft in found if keep[min(max(round(d.row), 0), h - 1), min(max(round(d.col), 0), w - 1)]]


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
# (clutter statistics per cell and block: sitewatch.detect.sar_cells; shore land with
# derived water: sitewatch.detect.sar_shore)


def _detect(
    x: NDArray[np.float32],
    given: NDArray[np.bool_] | None,
    check_float: bool,
    pxy: tuple[float, float],
    p: SarParams,
    workers: int,
    derive_land: bool,
) -> list[tuple[PixelDetection, dict[str, float]]]:
    px, py = pxy
    gpx = math.sqrt(px * py)
    f, k = _cell_block(p, gpx)
    # One pass over the pixels: sums and maxima per land/water cell. Land, CFAR blocks, their
    # backgrounds and the cells worth a closer look are all built from these cells; pixels are
    # read again only inside the windows around candidate cells.
    with ThreadPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
        s1, s2, n, mx, pixmask = _cell_pass(x, given, check_float, f, pool)
        if not n.any():
            return []
        cells = _cell_thresholds(s1, s2, n, k, p, gpx, derive_land, pool)
    water_c, land, maps, levels = cells
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
        out.extend(_objects(x, pixmask, water_c, maps, coarse, batch, f, merge_px, pxy, p, (land, levels)))
    out.sort(key=lambda t: t[0])  # stable: the order of the windows, then of the objects in each
    return [(d, ft) for _, d, ft in out]


def _cell_thresholds(
    s1: NDArray[np.float64],
    s2: NDArray[np.float64],
    n: NDArray[np.float64],
    k: int,
    p: SarParams,
    gpx: float,
    derive_land: bool,
    pool: Executor | None,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], _CellMaps, LandLevels | None]:
    """Water, land (before the berth growth), the levels it was found with, and the seed threshold, growth threshold and background mean of every cell.

    The thresholds over all cells (no land taken out) are what an open-sea image uses and what
    berth cells are held to; with a pool they are computed while land is being derived (in the
    pool's other thread, then in both).
    """
    cell_m = gpx * _cell_block(p, gpx)[0]
    b = _block_px(p, gpx)

    def all_cells() -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        return _thresholds(_aggregate(s1, k), _aggregate(s2, k), _aggregate(n, k), p, b, gpx, pool)

    pending = None
    levels: LandLevels | None = None
    if derive_land:
        kw = _cells_kwargs(p)
        rb = int(round(kw.pop("berth_m") / cell_m))
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s1 / n  # NaN (0 / 0) where a cell has no used pixel
        if pool is not None:
            pending = pool.submit(land_and_levels_from_cells, mean, cell_m, berth_m=0.0, **kw)
            whole = all_cells()
            land, levels = pending.result()
        else:
            land, levels = land_and_levels_from_cells(mean, cell_m, berth_m=0.0, **kw)
        water_c = ~land
        if rb > 0 and land.any():
            # Hulls alongside make the quay's cells bright, so they come out as land: water
            # grows back into land by one berth. Those berth cells mix hull, quay wall and
            # land clutter; they take the stricter of the water-only threshold and one
            # whose background includes the land around (what land clutter looks like there).
            water_c = np.asarray(ndimage.binary_dilation(water_c, disk(rb)))
    else:
        land = np.zeros(n.shape, bool)
        water_c = np.ones(n.shape, bool)
    if pending is None and (not land.any() or (water_c & land).any()):
        whole = all_cells()
    if not land.any():
        t_seed, t_grow, t_mu = whole
    else:
        nw = np.where(water_c, n, 0.0)
        t_seed, t_grow, t_mu = _thresholds(
            _aggregate(np.where(water_c, s1, 0.0), k), _aggregate(np.where(water_c, s2, 0.0), k), _aggregate(nw, k), p, b, gpx, pool
        )
    berth = water_c & land
    maps = _CellMaps(k, (t_seed, t_grow, t_mu), berth if berth.any() else None, (whole[0], whole[1]))
    return water_c, land, maps, levels


@dataclass(frozen=True)
class _CellMaps:
    """Seed threshold, growth threshold and background mean per cell, kept per CFAR block
    (``k`` × ``k`` cells) and expanded only where asked; berth cells take the stricter of
    their block's value and the all-cells one."""

    k: int
    blocks: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]
    berth: NDArray[np.bool_] | None
    whole: tuple[NDArray[np.float64], NDArray[np.float64]]

    def window(self, sl: tuple[slice, slice]) -> list[NDArray[np.float64]]:
        """Cell values of the three maps over the cell slice ``sl``."""
        k = self.k
        (r0, r1), (c0, c1) = (sl[0].start, sl[0].stop), (sl[1].start, sl[1].stop)
        bsl = (slice(r0 // k, -(-r1 // k)), slice(c0 // k, -(-c1 // k)))
        dr, dc = r0 - bsl[0].start * k, c0 - bsl[1].start * k

        def cells(a: NDArray[np.float64]) -> NDArray[np.float64]:
            blk = a[bsl]
            return _expand(blk, k, (blk.shape[0] * k, blk.shape[1] * k))[dr : dr + r1 - r0, dc : dc + c1 - c0]

        out = [cells(a) for a in self.blocks]
        if self.berth is not None:
            b = self.berth[sl]
            if b.any():
                out[0] = np.where(b, np.maximum(out[0], cells(self.whole[0])), out[0])
                out[1] = np.where(b, np.maximum(out[1], cells(self.whole[1])), out[1])
        return out

    def seed_hits(self, mx: NDArray[np.float32]) -> NDArray[np.bool_]:
        """Cells whose brightest used pixel ``mx`` beats their seed threshold."""
        hc, wc = mx.shape
        if self.berth is not None:
            return np.asarray(mx > self.window((slice(0, hc), slice(0, wc)))[0].astype(np.float32))
        k = self.k
        t = self.blocks[0].astype(np.float32)
        hb, wb = t.shape
        if hb * k == hc and wb * k == wc:
            m = mx
        else:
            m = np.zeros((hb * k, wb * k), np.float32)
            m[:hc, :wc] = mx
        hit = m.reshape(hb, k, wb, k) > t[:, None, :, None]
        return hit.reshape(hb * k, wb * k)[:hc, :wc]


CANVAS_PIXELS = 4_000_000
"""Candidate windows are measured together on canvases of about this many pixels (bounded memory)."""


def _batches(wins: list[tuple[int, tuple[int, int, int, int]]], limit: int) -> list[list[tuple[int, tuple[int, int, int, int]]]]:
    """Consecutive groups of windows whose areas add up to about ``limit`` pixels (a bigger window alone)."""
    out: list[list[tuple[int, tuple[int, int, int, int]]]] = [[]]
    total = 0
    for lab, (r0, r1, c0, c1) in wins:
        a = (r1 - r0) * (c1 - c0)
        if out[-1] and total + a > limit:
            out.append([])
            total = 0
        out[-1].append((lab, (r0, r1, c0, c1)))
        total += a
    return out


def _pack(sizes: list[tuple[int, int]], gap: int) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Top-left corners of rectangles ``sizes`` (h, w) placed on shelves ``gap`` apart, and the canvas shape."""
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i][0])
    area = sum((hh + gap) * (ww + gap) for hh, ww in sizes)
    shelf_w = max(max(ww for _, ww in sizes), int(math.sqrt(area) * 1.2))
    pos = [(0, 0)] * len(sizes)
    y = x = shelf_h = 0
    for i in order:
        hh, ww = sizes[i]
        if x and x + ww > shelf_w:
            y, x, shelf_h = y + shelf_h + gap, 0, 0
        pos[i] = (y, x)
        x += ww + gap
        shelf_h = max(shelf_h, hh)
    return pos, (y + shelf_h, shelf_w)


def _expand(a: NDArray[Any], k: int, shape: tuple[int, int]) -> NDArray[Any]:
    """Repeat each cell k × k times and crop to ``shape``."""
    if k == 1:
        return a[: shape[0], : shape[1]]
    hb, wb = a.shape
    full = np.broadcast_to(a[:, None, :, None], (hb, k, wb, k)).reshape(hb * k, wb * k)
    return full[: shape[0], : shape[1]]


def _cells_kwargs(p: SarParams) -> dict[str, float]:
    kw = p.land_kwargs()
    kw.pop("cell_m")
    return kw


def _objects(
    x: NDArray[np.float32],
    pixmask: NDArray[np.bool_] | None,
    water_c: NDArray[np.bool_],
    maps: _CellMaps,
    coarse: NDArray[np.integer],
    wins: list[tuple[int, tuple[int, int, int, int]]],
    f: int,
    merge_px: int,
    pxy: tuple[float, float],
    p: SarParams,
    derived: tuple[NDArray[np.bool_], LandLevels | None] | None = None,
) -> list[tuple[int, PixelDetection, dict[str, float]]]:
    """Components, discrimination and measurement in windows of candidate cells, all at once.

    The windows are copied side by side onto one canvas, ``merge_px + 2`` pixels apart, so one
    labelling and one set of label-indexed reductions serve all of them; no component or merge
    reaches across a gap. ``water_c`` and ``maps`` give water and the thresholds per cell;
    ``wins`` the (coarse label, pixel window) of each window. Returns (window
    position, detection in image pixels, features) for the objects each window owns (the coarse
    label at its centroid: bounding boxes of two coarse groups may overlap).
    """
    h, w = x.shape
    gpx = math.sqrt(pxy[0] * pxy[1])
    sizes = [(r1 - r0, c1 - c0) for _, (r0, r1, c0, c1) in wins]
    pos, shape = _pack(sizes, merge_px + 2)
    xs = np.zeros(shape, np.float32)
    use = np.zeros(shape, bool)
    ts = np.full(shape, np.inf)
    tg = np.full(shape, np.inf)
    mu = np.zeros(shape)
    owner = np.full(shape, -1, np.int32)
    dsts = []
    land_c, levels = derived if derived is not None else (None, None)
    core = np.zeros(shape, bool) if levels is not None else None
    line_px = int(round(p.line_m / gpx))
    lines = gpx >= 5.0 and line_px >= 3
    big = []
    for j, ((_, (r0, r1, c0, c1)), (y, x0)) in enumerate(zip(wins, pos, strict=True)):
        hh, ww = r1 - r0, c1 - c0
        dst = (slice(y, y + hh), slice(x0, x0 + ww))
        sl = (slice(r0 // f, -(-r1 // f)), slice(c0 // f, -(-c1 // f)))
        xs[dst] = x[r0:r1, c0:c1]
        u = _expand(water_c[sl], f, (hh, ww))
        use[dst] = u if pixmask is None else u & pixmask[r0:r1, c0:c1]
        for canvas, cell_values in zip((ts, tg, mu), maps.window(sl), strict=True):
            canvas[dst] = _expand(cell_values, f, (hh, ww))
        owner[dst] = j
        dsts.append(dst)
        if core is not None and land_c is not None:
            core[dst] = _expand(land_c[sl], f, (hh, ww))
        if lines and max(hh, ww) >= line_px:
            big.append(dst)
    grow = (xs > tg) & use
    walls = [(dst, _long_runs(grow[dst], line_px)) for dst in big]
    shore = None
    tg_water = tg  # the water's growth threshold: the sea's speckle for the split at water gaps
    if core is not None and levels is not None and core.any():
        tg_water = tg.copy() if p.split_water else tg
        shore = _shore_thresholds(xs, use, core, ts, tg, levels, gpx, p, dsts)
        grow = (xs > tg) & use
    for dst, wall in walls:
        # Quay walls and breakwaters are long straight runs of bright pixels; at 5 m and
        # coarser a hull alongside touches them. Taking the runs out first leaves the hull
        # on its own. (Finer images show the gap between hull and wall.) The runs are found
        # over the water thresholds: against the shore's, speckle breaks a wall into pieces.
        grow[dst] &= ~wall
    seed = grow & (xs > ts)
    lab, nl = ndimage.label(grow, np.ones((3, 3), bool))
    if nl == 0:
        return []
    has_seed = np.zeros(nl + 1, bool)
    has_seed[lab[seed]] = True
    has_seed[0] = False
    kept = has_seed[lab]
    if merge_px > 1:
        # Bright parts of one hull often break apart at 10 m; join those within merge_m.
        joined, nl = ndimage.label(ndimage.binary_dilation(kept, np.ones((merge_px, merge_px), bool)))
        lab = np.where(kept, joined, 0)
    else:
        lab, nl = ndimage.label(kept, np.ones((3, 3), bool))
    if nl == 0:
        return []
    if p.split_water:
        lab, nl = split_at_water(
            lab, nl, xs, mu, tg_water, p.k_grow, seed, use, pxy, p.min_length_m + max(p.psf_m, gpx), merge_px, lambda parts, n: _measure(parts, n, pxy, p, spread_width=True)[1]
        )
    lab, ids, m = _rescue(lab, nl, xs, [seed] + [xs > np.maximum(ts, mu * 10.0 ** (t / 10.0)) for t in p.rescue_db], merge_px, pxy, p, (xs, mu, tg_water, use, p.k_grow) if p.join_along else None)
    if shore is not None and ids.size:
        ok = _floats_and_stands_out(xs, lab, ids, shore, p)
        ids = ids[ok]
        m = {key: v[ok] for key, v in m.items()}
    if ids.size == 0:
        return []
    rr, cc, kk = _pixels(lab, ids)
    peak_rel = np.full(ids.size, -np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):  # a sea quantised to 0 (8-bit) gives ts = 0: score 1
        np.maximum.at(peak_rel, kk, xs[rr, cc] / ts[rr, cc])
    feats = size_features(xs, mu, ts, lab, ids, m, pxy)
    sel = dict(m)
    sel["length_m"], sel["width_m"] = size_from_features(feats, gpx)
    # The box: the measured length × width around the component's centroid. (The centre of
    # the backscatter, weighted like the size, sits further from OpenSARShip's chip centres:
    # centred-ship detection 0.80 against 0.83.)
    sel["corners"] = _box_corners(sel["row"], sel["col"], sel["heading_deg"], sel["length_m"], sel["width_m"], pxy)
    wi = owner[np.clip((sel["row"] + 0.5).astype(np.int64), 0, shape[0] - 1), np.clip((sel["col"] + 0.5).astype(np.int64), 0, shape[1] - 1)]
    top = np.array([y for y, _ in pos], dtype=np.float64)[wi]
    left = np.array([x0 for _, x0 in pos], dtype=np.float64)[wi]
    dr = np.array([win[0] for _, win in wins], dtype=np.float64)[wi] - top
    dc = np.array([win[2] for _, win in wins], dtype=np.float64)[wi] - left
    sel["row"] = sel["row"] + dr
    sel["col"] = sel["col"] + dc
    sel["corners"] = sel["corners"] + np.stack([dc, dr], axis=-1)[:, None, :]
    feats["row_px"] = feats["row_px"] - top  # in pixels of the window, as before
    feats["col_px"] = feats["col_px"] - left
    labs = np.array([lab_ for lab_, _ in wins])[wi]
    own = coarse[np.minimum((sel["row"] + 0.5).astype(np.int64), h - 1) // f, np.minimum((sel["col"] + 0.5).astype(np.int64), w - 1) // f] == labs
    score = np.clip(0.5 + 0.5 * np.log10(np.maximum(peak_rel, 1e-12)) / 2.0, 0.0, 1.0)
    dets = detections_from_measurements(sel, score)
    return [(int(labs[i]), d, {key: float(v[i]) for key, v in feats.items()}) for i, d in enumerate(dets) if own[i]]


def _rescue(
    lab: NDArray[np.integer],
    nl: int,
    xs: NDArray[np.float32],
    levels: list[NDArray[np.bool_]],
    merge_px: int,
    pxy: tuple[float, float],
    p: SarParams,
    sea: Sea | None = None,
) -> tuple[NDArray[np.integer], NDArray[np.integer], dict[str, NDArray[np.float64]]]:
    """Components passing the vessel shape tests, giving failed ones more chances.

    A hull joined to sidelobe streaks, azimuth smearing or a wake fails the shape test as
    a whole (too wide, too long). Its pixels above a stricter threshold (``levels``, in
    order: the seed threshold, then fixed margins over the background) are labelled again
    and the pieces that pass kept. A component is done at the first level where the piece
    holding its brightest pixel (the hull) passes; until then its other passing pieces are
    kept and taken out, and the rest is cut again at the next level. (Stopping at the first
    passing piece of any kind left large bright ships as a sidelobe fragment.)
    Returns the final labels, the kept label ids and their measurements (with ``level``:
    0 for whole components, i for pieces cut at ``levels[i - 1]``).
    """
    m, ok = _measure(lab, nl, pxy, p)
    keep_ids = [np.flatnonzero(ok) + 1]
    parts = [{k: v[ok] for k, v in m.items()} | {"level": np.zeros(int(ok.sum()))}]
    # Label → flag lookups (``table[lab]``) instead of np.isin: one gather, no sort.
    out = np.where(np.concatenate([[False], ok])[lab], lab, 0)
    remaining = np.concatenate([[False], ~ok])[lab]
    failed = np.flatnonzero(~ok) + 1
    peaks = _max_positions(xs, lab, failed)
    offset = nl
    for step, level in enumerate(levels, start=1):
        if not remaining.any():
            break
        piece = remaining & level
        if merge_px > 1:
            # Pieces of one hull within merge_m join, as in the first pass.
            joined, nl2 = ndimage.label(ndimage.binary_dilation(piece, np.ones((merge_px, merge_px), bool)))
            lab2 = np.where(piece, joined, 0)
        else:
            lab2, nl2 = ndimage.label(piece, np.ones((3, 3), bool))
        if nl2 == 0:
            break
        if p.join_pieces:
            lab2, nl2 = _join_pieces(lab, lab2, nl2, pxy, p, sea)
        m2, ok2 = _measure(lab2, nl2, pxy, p, spread_width=True)
        passed = np.flatnonzero(ok2) + 1
        if passed.size:
            hit = np.concatenate([[False], ok2])[lab2]
            out = np.where(hit, lab2 + offset, out)
            keep_ids.append(passed + offset)
            parts.append({k: v[ok2] for k, v in m2.items()} | {"level": np.full(passed.size, float(step))})
            done = failed[hit[peaks[:, 0], peaks[:, 1]]]
            gone = np.zeros(nl + 1, bool)
            gone[done] = True
            remaining &= ~hit & ~gone[lab]
        offset += nl2
    ids = np.concatenate(keep_ids)
    return out, ids, {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}


def _join_pieces(
    lab: NDArray[np.integer],
    lab2: NDArray[np.integer],
    nl2: int,
    pxy: tuple[float, float],
    p: SarParams,
    sea: Sea | None = None,
) -> tuple[NDArray[np.integer], int]:
    """Pieces of one failed component relabelled as one object where their union is a vessel.

    A long hull at 10 m often breaks at the seed level into bow, superstructure and stern
    a few pixels apart, beyond ``merge_m``; each piece passes the shape tests on its own, so
    one ship came out as two or three short vessels (OpenSARShip GRD ships over 200 m:
    pieces of 20-70 m). The pieces' union, without the sidelobe and wake pixels that made
    the whole component fail, passes the tests when the pieces lie along one hull; pieces
    of two ships side by side make a union too wide and stay apart. Where that union fails
    and ``sea`` is given, the pieces along one hull are joined without the rest
    (:func:`_join_along`).
    """
    piece = lab2 > 0
    pk = lab[piece]
    if pk.size == 0:
        return lab2, nl2
    pairs = np.unique(np.stack([pk, lab2[piece]], axis=1), axis=0)
    count = np.bincount(pairs[:, 0], minlength=int(lab.max()) + 1)
    multi = np.flatnonzero(count >= 2)
    if multi.size == 0:
        return lab2, nl2
    # Compact labels 1..len(multi) for the parents cut into two or more pieces.
    compact = np.zeros(count.size, np.int64)
    compact[multi] = np.arange(1, multi.size + 1)
    union = np.where(piece, compact[lab], 0)
    _, ok_u = _measure(union, multi.size, pxy, p, spread_width=True)
    groups = _join_along(lab, lab2, nl2, multi[~ok_u], pxy, p, sea) if sea is not None and not ok_u.all() else []
    if not ok_u.any() and not groups:
        return lab2, nl2
    # Joined parents take new labels after nl2, then all labels are made consecutive again.
    new_id = np.zeros(multi.size + 1, np.int64)
    new_id[1:][ok_u] = nl2 + np.arange(1, int(ok_u.sum()) + 1)
    joined = new_id[union]
    out = np.where(joined > 0, joined, lab2)
    if groups:
        table = np.arange(nl2 + 1)
        for j, g in enumerate(groups, start=int(ok_u.sum()) + 1):
            table[g] = nl2 + j
        out = np.where(joined > 0, out, table[lab2])
        ok_count = int(ok_u.sum()) + len(groups)
    else:
        ok_count = int(ok_u.sum())
    used = np.zeros(nl2 + ok_count + 1, bool)
    used[out] = True
    used[0] = False
    remap = np.cumsum(used) * used
    return remap[out], int(used.sum())


Sea = tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_], float]
"""What the water test between pieces needs, on the canvas: intensity, background mean, the
water's growth threshold, usable pixels and ``k_grow`` (see :mod:`sitewatch.detect.sar_split`)."""


def _join_along(
    lab: NDArray[np.integer],
    lab2: NDArray[np.integer],
    nl2: int,
    parents: NDArray[np.integer],
    pxy: tuple[float, float],
    p: SarParams,
    sea: Sea,
) -> list[NDArray[np.int64]]:
    """Groups of pieces (labels of ``lab2``) of one failed component each that are one vessel,
    where the union of *all* that component's pieces is not.

    A bright hull cut at a rescue level can come apart into several pieces along it while
    sidelobe specks or a neighbour in the same component make the union of all its pieces
    fail the shape tests: the hull was reported as its pieces (OpenSARShip GRD: a 333 m
    tanker touching a second ship, cut at the seed level into pieces of 40-75 m along its
    hull, reported as one 51 m piece). Here the pieces that pass the shape tests on their own are added, nearest first,
    to the largest one while the union still passes (the tests of :func:`_join_pieces`) and
    no strip across the union's axis between them is water (the test of
    :mod:`sitewatch.detect.sar_split`, whose cuts this never undoes: it joins pieces of one
    component). Nothing is fitted.
    """
    piece = lab2 > 0
    rr, cc = np.nonzero(piece & np.isin(lab, parents))
    if rr.size == 0:
        return []
    pk, pl = lab[rr, cc], lab2[rr, cc]
    _, ok2 = _measure(lab2, nl2, pxy, p, spread_width=True)
    pad = 2 + int(math.ceil(p.max_width_m / 2.0 / min(pxy)))
    xs, mu, tg, use, k_grow = sea
    groups: list[NDArray[np.int64]] = []
    for par in np.unique(pk):
        m = pk == par
        r, c, q = rr[m], cc[m], pl[m]
        ids = np.unique(q)
        ids = ids[ok2[ids - 1]]
        if ids.size < 2:
            continue
        size = np.array([np.count_nonzero(q == i) for i in ids])
        cy = np.array([r[q == i].mean() for i in ids]) * pxy[1]
        cx = np.array([c[q == i].mean() for i in ids]) * pxy[0]
        first = int(np.argmax(size))
        dist = np.hypot(cy - cy[first], cx - cx[first])
        group = [int(ids[first])]
        grouped = ids[first] == q
        for j in np.argsort(dist, kind="stable"):
            # Farther than a vessel's length plus its width from the largest piece: the union
            # cannot pass the shape tests (this only saves work on large clutter components).
            if j == first or dist[j] > p.max_length_m + p.max_width_m:
                continue
            mine = grouped | (q == ids[j])
            sl = (
                slice(max(int(r[mine].min()) - pad, 0), int(r[mine].max()) + pad + 1),
                slice(max(int(c[mine].min()) - pad, 0), int(c[mine].max()) + pad + 1),
            )
            trial = (np.isin(lab2[sl], group + [int(ids[j])]) & (lab[sl] == par)).astype(np.int64)
            if _measure(trial, 1, pxy, p, spread_width=True)[1][0] and not _water_between(trial, tuple(a[sl] for a in (xs, mu, tg, use)), k_grow, pxy):  # type: ignore[arg-type]
                group.append(int(ids[j]))
                grouped = mine
        if len(group) >= 2:
            groups.append(np.array(group, np.int64))
    return groups


def _water_between(
    trial: NDArray[np.int64], sea: tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]], k_grow: float, pxy: tuple[float, float]
) -> bool:
    """Whether a strip across the axis of the pieces ``trial`` (label 1) is water anywhere along them."""
    xs, mu, tg, use = sea
    axes = _axes(trial, 1, xs, mu, pxy)
    water, _ = _water_bins(np.ones_like(trial), xs, mu, tg, k_grow, use, axes, pxy)
    return bool(water.any())


def _max_positions(xs: NDArray[np.float32], lab: NDArray[np.integer], ids: NDArray[np.integer]) -> NDArray[np.int64]:
    """(row, col) of the brightest pixel of each component ``ids``; on ties the first in raster
    order (``scipy.ndimage.maximum_position`` leaves ties to an unstable sort of the whole image)."""
    rr, cc, k = _pixels(lab, ids)
    if ids.size == 0:
        return np.zeros((0, 2), np.int64)
    order = np.lexsort((-xs[rr, cc], k))  # stable: raster order among equal values
    first = order[np.searchsorted(k[order], np.arange(ids.size))]
    return np.stack([rr[first], cc[first]], axis=-1).astype(np.int64)


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
    text = resources.files("sitewatch").joinpath("data", LENGTH_FILE).read_text()
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

    Pieces cut out of a failed component at a stricter level (:func:`_rescue`, large bright
    ships smeared by sidelobes) lose the weaker ends of the hull: their length is scaled by
    a factor per level learned on OpenSARShip GRD against AIS (``sar_length_levels.json``,
    ``benchmarks/sar_train.py``; about 0.98 for seed-level pieces, 1.13 for stricter ones).
    Whole components (every simulated ship) are not scaled. ``factors``: per level, instead of
    the shipped ones (for held-out fits).
    """
    length = np.maximum(raw_length(feats, pixel_m) * level_factor(feats["level"], factors), pixel_m)
    width = np.minimum(np.maximum(feats["width_int_m"], pixel_m), length)
    return length, width


MODEL_FILE = "sar_candidate_lr.json"

CANDIDATE_FEATURES = (
    "log_length_px",
    "log_width_px",
    "log_length_int_px",
    "log_width_int_px",
    "log_area_px",
    "fill",
    "peak_db",
    "mean_db",
    "peak_minus_mean_db",
    "int_to_ext_length",
)


def candidate_vector(ft: dict[str, float]) -> list[float]:
    """The ship/clutter model's inputs from one candidate's :func:`size_features`, in pixel units.

    Pixel units because 8-bit chips rarely come with a trustworthy pixel size; brightness
    ratios are clipped at 40 dB (a sea quantised to 0 puts the background near zero).
    """
    px = ft["pixel_m"]
    le, we = ft["length_ext_m"] / px, ft["width_ext_m"] / px
    li, wi = max(ft["length_int_m"] / px, 1.0), max(ft["width_int_m"] / px, 1.0)
    area = ft["area_m2"] / (px * px)
    peak, mean = min(ft["peak_db"], 40.0), min(ft["mean_db"], 40.0)
    return [
        math.log(le), math.log(we), math.log(li), math.log(wi), math.log(area),
        area / max(le * we, 1.0), peak, mean, peak - mean, li / max(le, 1.0),
    ]


@lru_cache(maxsize=1)
def _candidate_model() -> dict[str, Any]:
    text = resources.files("sitewatch").joinpath("data", MODEL_FILE).read_text()
    m = json.loads(text)
    if tuple(m["features"]) != CANDIDATE_FEATURES:
        raise InputError(f"{MODEL_FILE} was trained on other features; rerun benchmarks/sar_train.py")
    return {k: np.asarray(v, dtype=np.float64) if k != "features" and isinstance(v, list) else v for k, v in m.items()}


def candidate_probability(x: NDArray[np.float64], model: dict[str, Any] | None = None) -> NDArray[np.float64]:
    """Probability that each row of candidate vectors (:func:`candidate_vector`) is a ship.

    A logistic regression on standardised features: ``sigmoid(b + w · (x - mean) / std)``.
    """
    m = model or _candidate_model()
    z = (np.asarray(x, dtype=np.float64) - m["mean"]) / m["std"]
    return np.asarray(1.0 / (1.0 + np.exp(-(z @ m["coef"] + float(m["intercept"])))))


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
    lab_pos = np.full(int(lab.max()) + 1, -1, dtype=np.int64)
    lab_pos[ids] = np.arange(ids.size)
    rr, cc = np.nonzero(lab)
    k = lab_pos[lab[rr, cc]]
    sel = k >= 0
    return rr[sel], cc[sel], k[sel]


def _axis_variances(
    w: NDArray[np.float64], lab: NDArray[np.integer], ids: NDArray[np.integer], pxy: tuple[float, float], heading_deg: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Weighted variance (m²) of each component's pixel positions along and across its long axis."""
    return _axis_variances_px(w, _pixels(lab, ids), ids.size, pxy, heading_deg)


def _axis_variances_px(
    w: NDArray[np.float64],
    pix: tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.int64]],
    n: int,
    pxy: tuple[float, float],
    heading_deg: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`_axis_variances` over a pixel list from :func:`_pixels` (sums by bincount: small windows, many calls)."""
    px, py = pxy
    rr, cc, k = pix
    wk = w[rr, cc].astype(np.float64)
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

    pix = _pixels(lab, ids)
    rr, cc, k = pix

    def var_along_across(w: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return _axis_variances_px(w, pix, n, pxy, m["heading_deg"])

    inside = lab > 0
    va, vc = var_along_across(inside.astype(np.float64))
    wi = np.where(inside, np.maximum(xs - mu, 0.0), 0.0)
    vai, vci = var_along_across(wi)
    # Weighted by dB over the background instead: one very bright scatterer (superstructure,
    # a corner reflector) dominates the linear weights of a bright hull and shortens its spread.
    vad, _ = var_along_across(np.where(inside, 10.0 * np.log10(np.maximum(xs / np.maximum(mu, 1e-30), 1.0)), 0.0))
    # Extent along the axis of the seed pixels (a higher threshold, k_seed instead of k_grow).
    seed = xs[rr, cc] > ts[rr, cc]
    rs, cs, ks = rr[seed], cc[seed], k[seed]
    along = (cs - m["col"][ks]) * px * ux[ks] - (rs - m["row"][ks]) * py * uy[ks]
    half = 0.5 * (np.abs(ux[ks]) * px + np.abs(uy[ks]) * py)
    amin = np.full(n, np.inf)
    amax = np.full(n, -np.inf)
    np.minimum.at(amin, ks, along - half)
    np.maximum.at(amax, ks, along + half)
    seed_len = np.where(np.isfinite(amax - amin), amax - amin, 0.0)
    wk = wi[rr, cc]
    wsum = np.maximum(np.bincount(k, wk, n), 1e-30)
    row_px = np.bincount(k, wk * rr, n) / wsum
    col_px = np.bincount(k, wk * cc, n) / wsum
    cnt = np.maximum(np.bincount(k, None, n), 1.0)
    bg = np.maximum(np.bincount(k, mu[rr, cc], n) / cnt, 1e-30)
    xk = xs[rr, cc].astype(np.float64)
    peak = np.full(n, -np.inf)
    np.maximum.at(peak, k, xk)
    mean = np.bincount(k, xk, n) / cnt
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
    that failed (:func:`_rescue`): on whole components it lets blobs of clutter pass.
    """
    ids = np.arange(1, nl + 1)
    m = measure_components(lab, ids, pxy)
    gpx = math.sqrt(pxy[0] * pxy[1])
    length, width = m["length_m"], m["width_m"]
    if spread_width:
        _, v_across = _axis_variances((lab > 0).astype(np.float64), lab, ids, pxy, m["heading_deg"])
        width = np.minimum(width, np.sqrt(12.0 * v_across) + gpx)
    ok = (
        (m["area_px"] >= max(p.min_pixels, p.min_area_m2 / (pxy[0] * pxy[1])))
        & (length >= p.min_length_m)
        & (length <= p.max_length_m)
        & (width <= p.max_width_m)
        & (length <= p.max_elongation * np.maximum(width, gpx))
    )
    return m, ok


def with_params(params: SarParams | None, **changes: float) -> SarParams:
    """A copy of ``params`` (or the defaults) with some fields changed."""
    return replace(params or SarParams(), **changes)  # type: ignore[arg-type]
