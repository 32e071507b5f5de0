"""Detection over rasters too big to hold: overlapping tiles read by window, stitched without duplicates.

Each tile owns a *core* (the tiles' cores partition the raster) and is read
with an *overlap* around it wide enough for the CFAR background window and
the longest vessel, so an object near a core edge is seen whole, with the same
clutter statistics as in one pass over the whole image. A detection is kept
only by the tile whose core holds its centroid: nothing is lost at the seams
and nothing is reported twice. Windows start on multiples of the CFAR block so
every tile cuts the same blocks.

Memory is bounded by one tile plus its overlap, whatever the raster size: the
detector's own arrays are the window (4 bytes a pixel for float32) plus cell
and block statistics (about a sixteenth of that at 10 m) and the canvas of
candidate windows. Measured (``benchmarks/sar_scene_tiles.py``): a 25,000 ×
17,000 scene in 4096-px tiles peaks at about 480 MB resident, interpreter and
GDAL's block cache included.

The context is fixed on the ground (1280 m), so at sub-metre pixels it is thousands of pixels
and a 4096-pixel core would be read with more than twice its side around it. :func:`tile_core`
then takes a larger core, within :data:`MAX_WINDOW_PX`, and refuses pixels so fine that the
context alone fills a window (``benchmarks/sar_fine_tiles.py``).

A caller that knows where the water is (a site's water polygon, rasterised) gives it window by
window (``water``), so no mask of the whole raster is ever made: the detection stage reads an
archived observation this way (:mod:`sitewatch.detection_sar`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from .base import PixelDetection, pixel_size_pair
from .sar import SarParams, detect_sar
from .sar_cells import _block_px

__all__ = ["Tile", "plan_tiles", "tile_core", "detect_sar_tiled", "shift_detection", "SAR_TILE_PX", "MAX_WINDOW_PX"]

SAR_TILE_PX = 4096
"""Core of a tile in pixels where the context is at most a sixth of it (pixels of 1.88 m or coarser:
at 10 m a 4096-pixel core is read with 128 pixels around it)."""

MAX_WINDOW_PX = 16384
"""Side of the largest window a tile reads at finer pixels, core and context: 16384² pixels, about
2.4 GB at the 8.5 bytes a pixel detect-image peaked at (``benchmarks/sar_fine_tiles.py``: 240 M pixels
at 0.5 m in one window, 2.0 GB). That is the window the 4096-pixel core already took at 0.21 m; at
0.5 m it took 9120² for a core of 4000, and a 12,000-pixel grid was detected 3.4 times over."""

MIN_CORE_PX = 2048
"""Smallest core :func:`tile_core` takes (as the optical tiling's): finer pixels are refused."""


@dataclass(frozen=True)
class Tile:
    """One tile: the core it owns and the window it reads (row/col offsets and sizes)."""

    core: tuple[int, int, int, int]
    """(row0, row1, col0, col1) of the owned area, half-open."""
    window: tuple[int, int, int, int]
    """(row0, row1, col0, col1) read from the raster, core plus overlap, clipped to it."""

    def owns(self, row: float, col: float) -> bool:
        """Whether a centroid in raster pixel coordinates belongs to this tile."""
        r0, r1, c0, c1 = self.core
        return r0 - 0.5 <= row < r1 - 0.5 and c0 - 0.5 <= col < c1 - 0.5


def plan_tiles(height: int, width: int, tile: int | tuple[int, int], overlap: int, align: int = 1) -> list[Tile]:
    """Cut a raster into tiles of ``tile`` pixels (or (rows, cols)) with ``overlap`` around each,
    windows aligned to ``align``."""
    rows, cols = (tile, tile) if isinstance(tile, int) else tile
    if rows <= 0 or cols <= 0:
        raise ValueError("tile size must be positive")
    # A core as long as the raster's side is one tile on that side, whether or not it is aligned.
    rows, cols = (n if n >= side else max(align, n // align * align) for n, side in ((rows, height), (cols, width)))
    out = []
    for r0 in range(0, height, rows):
        for c0 in range(0, width, cols):
            r1, c1 = min(height, r0 + rows), min(width, c0 + cols)
            wr0 = max(0, (r0 - overlap) // align * align)
            wc0 = max(0, (c0 - overlap) // align * align)
            out.append(Tile((r0, r1, c0, c1), (wr0, min(height, r1 + overlap), wc0, min(width, c1 + overlap))))
    return out


def shift_detection(d: PixelDetection, drow: float, dcol: float) -> PixelDetection:
    """The same detection with its pixel coordinates moved by (drow, dcol)."""
    return replace(
        d,
        row=d.row + drow,
        col=d.col + dcol,
        corners=tuple((c + dcol, r + drow) for c, r in d.corners),
    )


def overlap_px(params: SarParams, pixel_size: float | tuple[float, float]) -> int:
    """Overlap that keeps tiling invisible: background window plus half the longest vessel."""
    px, py = pixel_size_pair(pixel_size)
    g = math.sqrt(px * py)
    return int(math.ceil((params.background_m + params.block_m + params.max_length_m) / g))


def tile_core(params: SarParams, pixel_size: float | tuple[float, float], shape: tuple[int, int]) -> tuple[int, int]:
    """Core of a tile in pixels (rows, cols) for a raster of ``shape``, chosen from the pixel size.

    Where the context (:func:`overlap_px`) is at most a sixth of :data:`SAR_TILE_PX` (pixels of 1.88 m
    or coarser) the core is that, as it always was. At finer pixels a side of the raster that fits
    in a window of :data:`MAX_WINDOW_PX` is not cut at all, and a longer one is cut into cores of
    six contexts (as the optical tiling's), or fewer if a window would then pass the budget: the
    context is read again by fewer tiles. Raises :class:`~sitewatch.errors.InputError` when the
    raster must be cut and a core of :data:`MIN_CORE_PX` with its context would not fit a window,
    naming the pixel size to resample the image to.
    """
    overlap = overlap_px(params, pixel_size)
    if 6 * overlap <= SAR_TILE_PX:
        return SAR_TILE_PX, SAR_TILE_PX
    px, py = pixel_size_pair(pixel_size)
    b = _block_px(params, math.sqrt(px * py))
    if all(n <= MAX_WINDOW_PX for n in shape):
        return shape
    # A core's window starts on a block, so it can reach up to a block less one pixel further.
    room = (MAX_WINDOW_PX - 2 * overlap - b + 1) // b * b
    if room < MIN_CORE_PX:
        coarsest = _coarsest_pixel(params, math.sqrt(px * py))
        raise InputError(
            f"pixels of {math.sqrt(px * py):.3g} m: the SAR detector needs {overlap * math.sqrt(px * py):.0f} m "
            f"({overlap} pixels) of context around each tile, and a tile of {MIN_CORE_PX} pixels with it would be "
            f"more than the {MAX_WINDOW_PX} x {MAX_WINDOW_PX} pixels it holds in memory; resample the image to "
            f"{coarsest:g} m pixels or coarser (gdalwarp -tr {coarsest:g} {coarsest:g} -r average, on intensity), "
            f"or cut it to at most {MAX_WINDOW_PX} pixels a side"
        )
    core = min(6 * overlap, room)
    return (shape[0] if shape[0] <= MAX_WINDOW_PX else core, shape[1] if shape[1] <= MAX_WINDOW_PX else core)


def _coarsest_pixel(params: SarParams, g: float) -> float:
    """The finest pixel size, in hundredths of a metre, at which a core of :data:`MIN_CORE_PX` with its
    context fits a window: the size to resample to."""
    p = math.ceil(g * 100) / 100
    while MAX_WINDOW_PX - 2 * overlap_px(params, p) - _block_px(params, p) + 1 < MIN_CORE_PX:
        p = round(p + 0.01, 2)
    return p


def detect_sar_tiled(
    read_window: Callable[[tuple[int, int, int, int]], tuple[NDArray[Any], NDArray[np.bool_] | None]],
    shape: tuple[int, int],
    pixel_size: float | tuple[float, float],
    *,
    params: SarParams | None = None,
    tile: int | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    water: Callable[[tuple[int, int, int, int]], NDArray[np.bool_] | None] | None = None,
) -> list[PixelDetection]:
    """Run :func:`~sitewatch.detect.sar.detect_sar` tile by tile and stitch the results.

    ``read_window((row0, row1, col0, col1))`` returns the pixels of that
    window and its valid mask (or None), e.g. a rasterio windowed read; see
    :func:`sitewatch.detect.image.detect_image`. ``water(window)``, when given,
    returns the water mask of that window (the detector's ``water``: the whole
    raster's mask cut to the window, or None to derive land from the pixels);
    without it every tile derives land from its own pixels. ``tile`` is the core of a
    tile in pixels; None (the default) chooses it from the pixel size
    (:func:`tile_core`, which refuses pixels too fine for any tile). ``progress(done,
    total)`` is called after each tile. Returns detections in the raster's pixel
    coordinates, each once.
    """
    p = params or SarParams()
    px, py = pixel_size_pair(pixel_size)
    b = _block_px(p, math.sqrt(px * py))
    core = tile_core(p, (px, py), shape) if tile is None else tile
    tiles = plan_tiles(shape[0], shape[1], core, overlap_px(p, pixel_size), align=b)
    out: list[PixelDetection] = []
    for i, t in enumerate(tiles):
        out.extend(_one_tile(read_window, t, (px, py), p, workers, water))
        if progress is not None:
            progress(i + 1, len(tiles))
    return out


def _one_tile(
    read_window: Callable[[tuple[int, int, int, int]], tuple[NDArray[Any], NDArray[np.bool_] | None]],
    t: Tile,
    pxy: tuple[float, float],
    p: SarParams,
    workers: int,
    water: Callable[[tuple[int, int, int, int]], NDArray[np.bool_] | None] | None,
) -> Iterator[PixelDetection]:
    arr, valid = read_window(t.window)
    if valid is not None and not valid.any():
        return iter(())
    w = None if water is None else water(t.window)
    dets = detect_sar(arr, pxy, valid=valid, water=w, params=p, workers=workers)
    r0, c0 = t.window[0], t.window[2]
    shifted = (shift_detection(d, r0, c0) for d in dets)
    return (d for d in shifted if t.owns(d.row, d.col))
