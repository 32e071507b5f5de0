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

from .base import PixelDetection, pixel_size_pair
from .sar import SarParams, detect_sar
from .sar_cells import _block_px

__all__ = ["Tile", "plan_tiles", "detect_sar_tiled", "shift_detection"]


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


def plan_tiles(height: int, width: int, tile: int, overlap: int, align: int = 1) -> list[Tile]:
    """Cut a raster into tiles of ``tile`` pixels with ``overlap`` around each, windows aligned to ``align``."""
    if tile <= 0:
        raise ValueError("tile size must be positive")
    tile = max(align, tile // align * align)
    out = []
    for r0 in range(0, height, tile):
        for c0 in range(0, width, tile):
            r1, c1 = min(height, r0 + tile), min(width, c0 + tile)
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


def detect_sar_tiled(
    read_window: Callable[[tuple[int, int, int, int]], tuple[NDArray[Any], NDArray[np.bool_] | None]],
    shape: tuple[int, int],
    pixel_size: float | tuple[float, float],
    *,
    params: SarParams | None = None,
    tile: int = 4096,
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
    without it every tile derives land from its own pixels. ``progress(done,
    total)`` is called after each tile. Returns detections in the raster's pixel
    coordinates, each once.
    """
    p = params or SarParams()
    px, py = pixel_size_pair(pixel_size)
    b = _block_px(p, math.sqrt(px * py))
    tiles = plan_tiles(shape[0], shape[1], tile, overlap_px(p, pixel_size), align=b)
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
