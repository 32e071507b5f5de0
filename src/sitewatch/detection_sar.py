"""The detection stage on a SAR observation: its archived COG read whole, or tile by tile when large.

A grid of at most :data:`~sitewatch.detect.image.TILE_ABOVE_PIXELS` pixels (64 M: a 10 m site
of 80 km a side, every site of the demo) is read whole and detected in one pass, as it always
was. A larger one (a site over a whole Sentinel-1 GRD scene; purchased sub-metre SAR of a port,
a 5 km site at 0.3 m being 279 M pixels) goes through
:func:`~sitewatch.detect.tiling.detect_sar_tiled`, the tiling ``sitewatch detect-image``
runs on whole scenes: cores read by window from the COG with the detector's context around
them (1280 m), each detection kept by the one tile whose core holds its centroid; cores of 4096
pixels at 1.88 m and coarser, larger at finer pixels (:func:`~sitewatch.detect.tiling.tile_core`).
Read whole, the detector took 8.8 bytes a pixel (about 9 GB for the largest grid sitewatch
takes, 2³⁰ pixels); tiled, memory is one window's.

Each window's valid pixels are those inside the site polygon with data (an observation archived
with a margin around its site: every pixel with data, and only detections whose centroid lies in the
site kept, :func:`~sitewatch.detection_masks.in_site`), and its water the
site's water polygon and berths cut to it (:func:`~sitewatch.detection_masks.water_mask`), so
a site with a polygon gets from the tiles what one pass gives. Without a polygon each tile
derives land from its own pixels, as detect-image does on whole scenes: the land/water
threshold is then the tile's, not the grid's, and may differ near tile edges. A dual-
polarisation observation (co- and cross-polarised bands archived together) is tiled channel
by channel and the two lists fused (:func:`~sitewatch.detect.sar_dual.fuse_polarisations`), as
detect-image does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .detect.base import PixelDetection
from .detection_masks import BerthHidden, Window, has_context, in_site, water_mask, window_grid
from .detection_read import observation_bands, read_observation, sample_rows
from .geo import ground_pixel_size
from .ingest.grid import site_mask
from .model import Observation, Site

if TYPE_CHECKING:
    from .detect.sar import SarParams

__all__ = ["detect_sar_observation"]


def _polarisations(names: Sequence[str]) -> tuple[int | None, int | None]:
    """Indexes of the co-polarised (VV, else HH) and cross-polarised (VH, else HV) bands, if named,
    as detect-image reads band descriptions (:func:`~sitewatch.detect.sar_dual.polarisation_of`)."""
    from .detect.sar_dual import polarisation_of

    tokens = [polarisation_of(n) for n in names]

    def first(*wanted: str) -> int | None:
        return next((tokens.index(w) for w in wanted if w in tokens), None)

    return first("vv", "hh"), first("vh", "hv")


def _unnamed_pair(data: NDArray[np.float32], names: Sequence[str]) -> tuple[int | None, int | None]:
    """(co, cross) of two SAR bands without names, as detect-image takes them (the darker one
    cross-polarised, :func:`~sitewatch.detect.sar_dual.darker_is_cross`); else (None, None)."""
    from .detect.sar_dual import darker_is_cross

    if len(names) != 2 or not all(re.fullmatch(r"band\d+", n) for n in names):
        return None, None
    pair = data[:2][np.isfinite(data[:2])]
    if pair.size == 0 or (pair.min() >= 0 and pair.max() <= 255 and np.all(pair == np.round(pair))):
        return None, None  # an 8-bit rendering (grey and alpha, say), which detect-image leaves alone too
    for band in data[:2]:
        ok = band[np.isfinite(band) & (band != 0)]
        if ok.size and float(ok.min()) == float(ok.max()):
            return None, None  # an alpha or mask band: one channel, not a pair
    return darker_is_cross(data)


def detect_sar_observation(
    site: Site,
    obs: Observation,
    path: str,
    *,
    limits: dict[str, Any],
    tile: int | None = None,
    tile_above: int | None = None,
) -> tuple[list[PixelDetection], dict[str, float]]:
    """Pixel detections of an archived SAR observation: in one pass, or tiled above ``tile_above`` pixels;
    and the fraction of each berth's zone without data (:class:`~sitewatch.detection_masks.BerthHidden`).

    ``limits`` are ``min_length_m``/``max_length_m`` overrides, ``tile`` the core of a tile in
    pixels (None: chosen from the pixel size, as detect-image's), ``tile_above`` detect-image's :data:`~sitewatch.detect.image.TILE_ABOVE_PIXELS` when
    None. Raises :class:`~sitewatch.errors.ImageReadError` for an unreadable COG or one whose
    size is not the observation's grid.
    """
    from .detect import sar
    from .detect.image import TILE_ABOVE_PIXELS, impulse_response_from_tags

    names = observation_bands(path, obs)
    grid = obs.grid
    pixel = ground_pixel_size(grid.crs, grid.affine, grid.width, grid.height)
    # A water mask from the site's polygon is trusted as it is; without one the
    # detector derives land and water from the image itself.
    params = sar.SarParams(refine_water=False, berth_margin_m=0.0) if site.water is not None else sar.SarParams()
    params = replace(params, **limits, resolution_m=impulse_response_from_tags(obs.provenance.get("tags") or {}))
    if grid.width * grid.height <= (TILE_ABOVE_PIXELS if tile_above is None else tile_above):
        found, hidden = _one_pass(site, obs, path, names, pixel, params)
    else:
        found, hidden = _tiled(site, obs, path, names, pixel, params, tile)
    return (in_site(found, site, grid) if has_context(obs) else found), hidden


def _no_data(data: NDArray[np.float32], co: int | None, cross: int | None) -> NDArray[np.bool_]:
    """Pixels the detector has no data at: where neither channel of a pair has any, else where a
    band has none (as the one channel's valid mask leaves them out)."""
    if co is not None and cross is not None:
        return ~(np.isfinite(data[co]) | np.isfinite(data[cross]))
    return ~np.all(np.isfinite(data), axis=0)


def _one_pass(
    site: Site, obs: Observation, path: str, names: list[str], pixel: tuple[float, float], params: SarParams
) -> tuple[list[PixelDetection], dict[str, float]]:
    """The observation read whole and detected in one pass; its berths' hidden fractions from the same read."""
    from .detect import sar, sar_dual

    data = read_observation(path)
    berths = BerthHidden(site, obs.grid)
    # With a margin around the site the detector's background is taken from all of it (the caller keeps the site's).
    inside = np.ones(obs.grid.shape, bool) if has_context(obs) else site_mask(site, obs.grid)
    water = water_mask(site, obs.grid)
    co, cross = _polarisations(names)
    if co is None and cross is None:
        co, cross = _unnamed_pair(data, names)
    if co is not None and cross is not None:
        # VV+VH (or HH+HV) archived together: detect in both and fuse, as detect-image does.
        # Each channel leaves out its own non-finite pixels: one without data somewhere (NaN)
        # must not blind the other there.
        no_data = _no_data(data, co, cross)
        berths.add_by_window(lambda win: no_data[win[0] : win[1], win[2] : win[3]])
        found = sar_dual.detect_sar_dual(data[co], data[cross], pixel, valid=inside, water=water, params=params)
        return found, berths.fractions()
    valid = inside & np.all(np.isfinite(data), axis=0)
    no_data = _no_data(data, None, None)
    berths.add_by_window(lambda win: no_data[win[0] : win[1], win[2] : win[3]])
    found = sar.detect_sar(data[0 if co is None else co], pixel, valid=valid, water=water, params=params)
    return found, berths.fractions()


def _tiled(
    site: Site, obs: Observation, path: str, names: list[str], pixel: tuple[float, float], params: SarParams, tile: int | None
) -> tuple[list[PixelDetection], dict[str, float]]:
    """The observation read window by window: each channel tiled, a pair fused. The berths' hidden
    fractions come from reading each berth's zone (its window, not the grid: memory stays a window's)."""
    from .detect.sar_dual import fuse_polarisations
    from .detect.tiling import detect_sar_tiled

    grid = obs.grid
    co, cross = _polarisations(names)
    if co is None and cross is None and len(names) == 2:
        # Whether two unnamed bands are a pair is judged from rows spread over the whole grid.
        co, cross = _unnamed_pair(sample_rows(path, grid.shape), names)
    water = (lambda win: water_mask(site, grid, win)) if site.water is not None else None
    context = has_context(obs)

    def reader(band: int | None) -> Callable[[Window], tuple[NDArray[np.float32], NDArray[np.bool_]]]:
        def read(win: Window) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
            inside = np.ones((win[1] - win[0], win[3] - win[2]), bool) if context else site_mask(site, window_grid(grid, win))
            if band is not None:  # one channel of a pair: its own no-data is left out by the detector
                return read_observation(path, win, bands=[band])[0], inside
            # One channel: valid where every band has data, as in one pass.
            data = read_observation(path, win)
            return data[0 if co is None else co], inside & np.all(np.isfinite(data), axis=0)

        return read

    berths = BerthHidden(site, grid)
    berths.add_by_window(lambda win: _no_data(read_observation(path, win), co, cross))
    if co is not None and cross is not None:
        found = [detect_sar_tiled(reader(b), grid.shape, pixel, params=params, tile=tile, water=water) for b in (co, cross)]
        return fuse_polarisations(found[0], found[1], pixel, params), berths.fractions()
    return detect_sar_tiled(reader(None), grid.shape, pixel, params=params, tile=tile, water=water), berths.fractions()
