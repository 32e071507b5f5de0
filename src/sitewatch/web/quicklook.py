"""Quick-look PNGs of archived COGs: read from the overviews at screen size, kept in a bounded cache.

A 10,000 × 10,000 COG is read at :data:`QUICKLOOK_PX` on its longer side through rasterio's
``out_shape``, which GDAL serves from the COG's nearest overview level rather than from every
pixel (``benchmarks/web_quicklook.py`` measures it). The PNG has the image's extent exactly, so
the page's SVG overlay of the detections (:func:`~sitewatch.web.svg.overlay_svg`) lies on it.
A quick-look of part of an image (a change pair's, :func:`view_window`) has its window's extent.
PNGs are cached in memory, keyed by the file's sha256 as recorded in the store: a COG replaced
by a new ingest is a new key, and nothing is written to the workspace.
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from pathlib import Path

from matplotlib.figure import Figure

from ..model import Grid, Observation, acquired_label
from ..report.charts import SIMULATED_LABEL, display_values
from ..report.credits import credit_text, scene_credit

__all__ = ["QUICKLOOK_PX", "WINDOW_MIN_PX", "PixelWindow", "quicklook_shape", "quicklook_png", "bounds_window", "view_window", "QuicklookCache"]

QUICKLOOK_PX = 1024
"""The quick-look's longer side (px) at most; a smaller image is blown up by whole pixels towards :data:`WINDOW_MIN_PX`."""

WINDOW_MIN_PX = 512
"""The longer side (px) a small quick-look (a change pair's window, a small image) is blown up towards by
whole pixels: a window of 65 pixels shown pixel for pixel would have its SIMULATED label cover a third of
it once the page widened it."""


def quicklook_shape(width: int, height: int, max_px: int = QUICKLOOK_PX, min_px: int = 1) -> tuple[int, int]:
    """(rows, cols) of the quick-look of a ``width`` × ``height`` image: the longer side ``max_px``
    at most, the aspect kept, at least one pixel each way. An image whose longer side is under ``min_px``
    is blown up by the largest whole number that keeps it within ``min_px`` (and ``max_px``), each of its
    pixels shown as k × k."""
    longer = max(width, height)
    scale = max_px / longer if longer > max_px else max(1, min(min_px, max_px) // longer)
    return max(1, round(height * scale)), max(1, round(width * scale))


PixelWindow = tuple[int, int, int, int]
"""Part of a grid: (column offset, row offset, width, height) in whole pixels, as rasterio's ``Window``."""


def bounds_window(grid: Grid, bounds: tuple[float, float, float, float]) -> PixelWindow | None:
    """The pixels of the north-up ``grid`` that cover ``bounds`` (minx, miny, maxx, maxy in its CRS),
    rounded outwards and cut to the grid; None when none of them lies on it."""
    a, _, c, _, e, f = grid.transform
    minx, miny, maxx, maxy = bounds
    cols = sorted(((minx - c) / a, (maxx - c) / a))
    rows = sorted(((maxy - f) / e, (miny - f) / e))
    # A whisker of float error must not add a pixel: 1e-6 of one is no pixel.
    col0, col1 = max(0, math.floor(cols[0] + 1e-6)), min(grid.width, math.ceil(cols[1] - 1e-6))
    row0, row1 = max(0, math.floor(rows[0] + 1e-6)), min(grid.height, math.ceil(rows[1] - 1e-6))
    if col1 <= col0 or row1 <= row0:
        return None
    return col0, row0, col1 - col0, row1 - row0


def view_window(grid: Grid, extent: tuple[float, float, float, float] | None, *, margin_m: float = 60.0,
                margin_share: float = 0.15, min_px: int = 64) -> PixelWindow:  # fmt: skip
    """The part of ``grid`` to show ``extent`` (minx, miny, maxx, maxy in the grid's CRS) in context: grown
    on every side by ``margin_m`` or ``margin_share`` of its longer side, whichever is more, to at least
    ``min_px`` pixels a side (a 20 m region is not blown up to the page's width), and cut to the grid.
    The whole grid when ``extent`` is None or lies off it."""
    whole = (0, 0, grid.width, grid.height)
    if extent is None:
        return whole
    minx, miny, maxx, maxy = extent
    grow = max(margin_m, margin_share * max(maxx - minx, maxy - miny))
    px, py = grid.pixel_size
    # Centred on the extent, each side at least min_px pixels long.
    half_x = max((maxx - minx) / 2 + grow, min_px * px / 2)
    half_y = max((maxy - miny) / 2 + grow, min_px * py / 2)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    return bounds_window(grid, (cx - half_x, cy - half_y, cx + half_x, cy + half_y)) or whole


def quicklook_png(
    path: Path, obs: Observation, max_px: int = QUICKLOOK_PX, window: PixelWindow | None = None, min_px: int = 1
) -> bytes:
    """The image of ``obs`` at ``path`` (or its ``window``) as a PNG of :func:`quicklook_shape` pixels,
    stretched as the report's chips are; a simulated one says so in its corner, so a copy keeps its label. Its
    bottom corner carries its site, acquisition time (UTC) and the credit its licence asks for
    (:func:`~sitewatch.report.credits.scene_credit`), as does its PNG's ``Copyright`` text: a picture saved from
    the dashboard keeps them. They lie on the image, not under it: the page's overlay needs the image's extent."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(path) as src:
        win = Window(*window) if window is not None else None
        width, height = (window[2], window[3]) if window is not None else (src.width, src.height)
        # Read no more pixels than it has; a small one is blown up by whole pixels when drawn.
        img = display_values(src, obs, window=win, out_shape=quicklook_shape(width, height, max_px))
    rows, cols = quicklook_shape(width, height, max_px, min_px)
    # A figure of exactly cols × rows pixels: no margins, the image fills it.
    fig = Figure(figsize=(cols / 100, rows / 100), dpi=100)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest", aspect="auto", vmin=0, vmax=1)
    if obs.scene.simulated:
        ax.text(0.01, 0.99, SIMULATED_LABEL, transform=ax.transAxes, va="top", ha="left", fontsize=9,
                color="#6b4e00", bbox={"facecolor": "#fff3cd", "edgecolor": "#e0a800"})  # fmt: skip
    credit = credit_text(scene_credit(obs.scene))
    caption = f"{obs.site_id} · {acquired_label(obs)}\n{credit}".replace("$", r"\$")
    ax.text(0.01, 0.01, caption, transform=ax.transAxes, va="bottom", ha="left", fontsize=7, color="#222222",
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 2}, wrap=True)  # fmt: skip
    buf = io.BytesIO()
    # metadata Software=None: matplotlib would otherwise write its web address into the PNG; Copyright is PNG's
    # own keyword for a picture's credit.
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None, "Copyright": credit,
                                                       "Description": caption.replace("\n", " · ")})  # fmt: skip
    return buf.getvalue()


class QuicklookCache:
    """PNG bytes by key, the least recently used dropped once they hold more than ``max_bytes``.

    Safe across the server's threads. Two requests for the same missing key may both render it;
    the second simply replaces the first.
    """

    def __init__(self, max_bytes: int = 64_000_000) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, ...], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, ...]) -> bytes | None:
        """The PNG stored under ``key``, now the most recently used (None: not cached); counts a hit or a miss."""
        with self._lock:
            png = self._items.get(key)
            if png is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return png

    def put(self, key: tuple[str, ...], png: bytes) -> None:
        """Store ``png`` under ``key``, dropping the least recently used to fit; one over ``max_bytes`` is not kept."""
        with self._lock:
            old = self._items.pop(key, None)
            self._size -= len(old) if old else 0
            if len(png) > self.max_bytes:
                return
            self._items[key] = png
            self._size += len(png)
            while self._size > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)
