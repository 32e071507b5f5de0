"""Reading an archived observation for the detection stage: its bands' names, a window of its
pixels, or rows spread over the whole grid (a sample for what must be judged over all of it).

Every read goes through here, so an unreadable COG is one :class:`~sitewatch.errors.ImageReadError`
naming it, and a COG whose size is not its observation's grid is refused before any window is
read from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import rasterio
from numpy.typing import NDArray

from .detection_masks import Window
from .errors import ImageReadError
from .model import Observation

__all__ = ["observation_bands", "read_observation", "sample_rows"]


def observation_bands(path: str, obs: Observation) -> list[str]:
    """The archived bands' names (``band<i>`` for a band without one), after checking that the
    COG is the size of ``obs``'s grid."""
    try:
        with rasterio.open(path) as src:
            names, shape = [d or f"band{i + 1}" for i, d in enumerate(src.descriptions)], (src.height, src.width)
    except rasterio.errors.RasterioError as exc:
        raise ImageReadError(f"{path}: cannot read archived observation ({exc})") from exc
    if shape != obs.grid.shape:
        raise ImageReadError(
            f"{path}: is {shape[1]} x {shape[0]} pixels where its observation's grid is "
            f"{obs.grid.width} x {obs.grid.height}; ingest its source again"
        )
    return names


def read_observation(
    path: str,
    window: Window | None = None,
    out_shape: tuple[int, int] | None = None,
    bands: Sequence[int] | None = None,
) -> NDArray[np.float32]:
    """Bands of the archived COG (all, or the 0-based ``bands``) in a window, or the whole grid
    (decimated to ``out_shape`` when given), as float32 (bands, rows, cols)."""
    from rasterio.enums import Resampling
    from rasterio.windows import Window as RioWindow

    win = None if window is None else RioWindow(window[2], window[0], window[3] - window[2], window[1] - window[0])
    try:
        with rasterio.open(path) as src:
            indexes = list(src.indexes) if bands is None else [b + 1 for b in bands]
            shape = None if out_shape is None else (len(indexes), *out_shape)
            return src.read(indexes, window=win, out_shape=shape, resampling=Resampling.nearest, out_dtype="float32")
    except rasterio.errors.RasterioError as exc:
        raise ImageReadError(f"{path}: cannot read archived observation ({exc})") from exc


def sample_rows(path: str, shape: tuple[int, int], strips: int = 8, rows: int = 16) -> NDArray[np.float32]:
    """Every band of ``strips`` strips of ``rows`` full-resolution rows spread evenly down the grid,
    stacked (bands, strips * rows, cols): a sample of the whole grid's values at the cost of a few
    rows. Not a decimated read, which GDAL serves from the COG's overviews, whose resampled values
    (cubic) are not the image's: a whole-number or 8-bit band would no longer look like one."""
    h, w = shape
    n = min(strips, max(1, h // rows))
    starts = sorted({int(round(i * (h - min(rows, h)) / max(1, n - 1))) for i in range(n)})
    return np.concatenate([read_observation(path, (r, min(h, r + rows), 0, w)) for r in starts], axis=1)
