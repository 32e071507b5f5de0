"""Quick-look PNGs of archived COGs: read from the overviews at screen size, kept in a bounded cache.

A 10,000 × 10,000 COG is read at :data:`QUICKLOOK_PX` on its longer side through rasterio's
``out_shape``, which GDAL serves from the COG's nearest overview level rather than from every
pixel (``benchmarks/web_quicklook.py`` measures it). The PNG has the image's extent exactly, so
the page's SVG overlay of the detections (:func:`~sitewatch.web.svg.overlay_svg`) lies on it.
PNGs are cached in memory, keyed by the file's sha256 as recorded in the store: a COG replaced
by a new ingest is a new key, and nothing is written to the workspace.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

from matplotlib.figure import Figure

from ..model import Observation
from ..report.charts import SIMULATED_LABEL, display_values

__all__ = ["QUICKLOOK_PX", "quicklook_shape", "quicklook_png", "QuicklookCache"]

QUICKLOOK_PX = 1024
"""The quick-look's longer side (px); an image smaller than that is shown pixel for pixel."""


def quicklook_shape(width: int, height: int, max_px: int = QUICKLOOK_PX) -> tuple[int, int]:
    """(rows, cols) of the quick-look of a ``width`` × ``height`` image: the longer side ``max_px``
    at most, the aspect kept, at least one pixel each way."""
    scale = min(1.0, max_px / max(width, height))
    return max(1, round(height * scale)), max(1, round(width * scale))


def quicklook_png(path: Path, obs: Observation, max_px: int = QUICKLOOK_PX) -> bytes:
    """The image of ``obs`` at ``path`` as a PNG of :func:`quicklook_shape` pixels, stretched as the
    report's chips are; a simulated one says so in its corner, so a copy keeps its label."""
    import rasterio

    with rasterio.open(path) as src:
        rows, cols = quicklook_shape(src.width, src.height, max_px)
        img = display_values(src, obs, out_shape=(rows, cols))
    # A figure of exactly cols × rows pixels: no margins, the image fills it.
    fig = Figure(figsize=(cols / 100, rows / 100), dpi=100)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest", aspect="auto", vmin=0, vmax=1)
    if obs.scene.simulated:
        ax.text(0.01, 0.99, SIMULATED_LABEL, transform=ax.transAxes, va="top", ha="left", fontsize=9,
                color="#6b4e00", bbox={"facecolor": "#fff3cd", "edgecolor": "#e0a800"})  # fmt: skip
    buf = io.BytesIO()
    # metadata Software=None: matplotlib would otherwise write its web address into the PNG.
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
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
        with self._lock:
            png = self._items.get(key)
            if png is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return png

    def put(self, key: tuple[str, ...], png: bytes) -> None:
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
