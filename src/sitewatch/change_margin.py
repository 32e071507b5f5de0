"""The image around a site's grid, read coarse from the observations' source files, for ``change --shadow-twins``.

The shadow-twin cloud test (:mod:`sitewatch.change.cloud_twins`) sees only the archived grid: the site's box, or
a small site's box with its margin (``context_m``). A cloud over the site whose shadow falls beyond the grid
(100 m to 5 km away) has no twin on it, is refused, and is compared as change. When the test refused a patch,
each date's source file, where it is still the file that was ingested (same size and time; a Maxar ``.TIL``'s
tiles the same by their sha256 too), is read again at :data:`MARGIN_PIXEL_M` pixels (or the grid's, if coarser)
over the grid grown by the test's farthest shadow, the test is run on that wider pair, and a refused patch that
it takes for cloud is left out. Read coarse, the wider
pair costs a few hundred thousand pixels whatever the site's pixel size; a pair whose test refused nothing reads
nothing more, so its results are those of the grid alone.

Only a file ingested as one file (a GeoTIFF, a Planet or Maxar scene; not band files, a SAFE or Landsat product,
nor one orthorectified) is read: its values become reflectance as its provenance says ingest made them
(``(DN + offset_applied) × scale_applied``), checked against the archive where the two overlap.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .model import Grid, Observation

__all__ = ["MARGIN_PIXEL_M", "WideGrid", "read_wide", "source_away", "source_unchanged", "wide_grid"]

MARGIN_PIXEL_M = 20.0
"""Pixel of the wider read: a cloud the test seeks is 100 m across at least (25 such pixels), its shadow 100 m away."""

_CACHE_MB = 32
"""GDAL's block cache while a source is read (MB)."""

_MISMATCH = 0.02
"""Median difference of mean visible reflectance between the wider read and the archive, over the archived
grid, above which the source is taken not to read as the archive does (and not used)."""


@dataclass(frozen=True)
class WideGrid:
    """A grid grown on every side by whole coarse pixels, each ``factor`` × ``factor`` of the site's grid's."""

    grid: Grid
    """The wider, coarser grid."""
    factor: int
    """Pixels of the site's grid a side of one of its pixels."""
    corner: tuple[int, int]
    """Its (row, col) in which the site's grid's first pixel lies (the site's grid's corner is on its pixels' edges)."""

    def __post_init__(self) -> None:
        if self.factor < 1 or min(self.corner) < 0:
            raise ValueError(f"WideGrid: factor {self.factor} and corner {self.corner} (factor ≥ 1, corner ≥ 0)")


def wide_grid(grid: Grid, margin_m: float, pixel_m: float = MARGIN_PIXEL_M) -> WideGrid:
    """``grid`` grown by ``margin_m`` (at least) on every side, at ``pixel_m`` (rounded to a whole number of its
    pixels; at least its own)."""
    px = max(abs(grid.transform[0]), abs(grid.transform[4]))
    factor = max(1, round(pixel_m / px))
    step = factor * px
    m = math.ceil(margin_m / step)
    a, b, c, d, e, f = grid.transform
    t = (a * factor, b * factor, c - m * factor * (a + b), d * factor, e * factor, f - m * factor * (d + e))
    rows, cols = -(-grid.height // factor), -(-grid.width // factor)
    return WideGrid(Grid(grid.crs, t, cols + 2 * m, rows + 2 * m), factor, (m, m))


def _source_unread(obs: Observation) -> tuple[Path | None, str]:
    """The source file of ``obs`` to read again, or None and why not."""
    prov = obs.provenance
    if prov.get("source") != "file" or prov.get("band_files") or prov.get("orthorectified"):
        return None, f"{obs.id} was not ingested from one image file"
    path = prov.get("source_path")
    if not isinstance(path, str) or not os.path.isfile(path):
        return None, f"{obs.id}'s source file ({path}) is not there"
    st = os.stat(path)
    if prov.get("source_size") != st.st_size or prov.get("source_mtime_ns") not in (None, st.st_mtime_ns):
        return None, f"{obs.id}'s source file ({path}) has changed since it was ingested"
    if isinstance(tiles := prov.get("tiles"), list) and _tiles_now(Path(path)) != [(t.get("path"), t.get("sha256")) for t in tiles]:
        # A Maxar .TIL is a list of names: its tiles may be delivered again under it, its size and time unchanged.
        return None, f"{obs.id}'s source file ({path}) has changed since it was ingested (the tiles it lists)"
    return Path(path), ""


def source_unchanged(obs: Observation) -> bool:
    """Whether the observation's source file is one image file, there and as it was ingested (:func:`read_wide`
    reads it)."""
    return _source_unread(obs)[0] is not None


def source_away(obs: Observation) -> bool:
    """Whether the observation was ingested from one image file that is gone or changed since."""
    prov = obs.provenance
    one_file = prov.get("source") == "file" and not prov.get("band_files") and not prov.get("orthorectified")
    return one_file and not source_unchanged(obs)


def _tiles_now(til: Path) -> list[tuple[str, str]]:
    """The tiles a Maxar ``.TIL`` lists now, each as its path and sha256, as ingest recorded them."""
    from .ingest.identity import til_tiles

    return [(t["path"], t["sha256"]) for t in til_tiles(til)]


def _factor(value: Any, band: str) -> float:
    """A provenance scale or offset: one number, or one a band (0 for a band without one)."""
    if isinstance(value, dict):
        value = {str(k).lower(): v for k, v in value.items()}.get(band, 0.0)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _read_source(obs: Observation, path: Path, wide: Grid, names: tuple[str, ...]) -> NDArray[np.float32]:
    """The bands ``names`` of the observation's source file on ``wide`` (average of its pixels), as reflectance;
    NaN beyond the file and where it has no data."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    bands = [str(b).lower() for b in obs.provenance.get("bands", [])]
    prov = obs.provenance
    out = np.full((len(names), wide.height, wide.width), np.nan, np.float32)
    # One band at a time, with GDAL's block cache kept small: the window read (11 km at 3 m, 230 MB of four bands)
    # is read once and averaged as it goes, not held in the cache (the process's peak memory doubled at 3 m).
    with rasterio.Env(GDAL_CACHEMAX=_CACHE_MB), rasterio.open(path) as src:
        if src.crs is None:
            raise ValueError(f"{path} has no CRS")
        nodata = src.nodata if src.nodata is not None else (0.0 if prov.get("no_data") else None)
        for k, name in enumerate(names):
            reproject(rasterio.band(src, bands.index(name) + 1), out[k], src_nodata=nodata, dst_transform=wide.affine,
                      dst_crs=wide.crs, dst_nodata=np.nan, resampling=Resampling.average)  # fmt: skip
            offset, scale = _factor(prov.get("offset_applied", 0.0), name), _factor(prov.get("scale_applied", 1.0), name)
            out[k] = (out[k] + np.float32(offset)) * np.float32(scale)
    return out


def _coarse_mean(data: NDArray[np.floating], factor: int) -> NDArray[np.float32]:
    """bands × rows × cols averaged over ``factor`` × ``factor`` blocks (NaN where a block has no value)."""
    n, h, w = data.shape
    hh, ww = -(-h // factor) * factor, -(-w // factor) * factor
    pad = np.full((n, hh, ww), np.nan, np.float32)
    pad[:, :h, :w] = data
    blocks = pad.reshape(n, hh // factor, factor, ww // factor, factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN block is NaN
        return np.nanmean(blocks, axis=(2, 4)).astype(np.float32)


def read_wide(
    obs: Observation, archived: NDArray[np.floating], names: tuple[str, ...], wide: WideGrid,
) -> tuple[NDArray[np.float32] | None, str]:  # fmt: skip
    """The observation's bands ``names`` on ``wide`` read from its source file, and ``""``; or None and why not (the
    file not one image, gone or changed, holding nothing beyond the site's grid, or not reading as ``archived``, the
    same bands on the site's grid, holds them)."""
    path, why = _source_unread(obs)
    if path is None:
        return None, why
    bands = [str(b).lower() for b in obs.provenance.get("bands", [])]
    if not set(names) <= set(bands):
        return None, f"{obs.id}'s provenance does not name its bands {', '.join(names)}"
    try:
        out = _read_source(obs, path, wide.grid, names)
    except (OSError, ValueError) as exc:  # rasterio's errors are OSErrors or ValueErrors
        return None, f"{obs.id}'s source file ({path}) could not be read ({exc})"
    r0, c0 = wide.corner
    here = _coarse_mean(np.asarray(archived, np.float32), wide.factor)
    there = out[:, r0 : r0 + here.shape[1], c0 : c0 + here.shape[2]]
    around: NDArray[np.bool_] = np.asarray(np.isfinite(out).all(axis=0))
    # (and the wide pixels along the grid's edge, which the average's kernel may reach from it)
    around[max(0, r0 - 1) : r0 + here.shape[1] + 1, max(0, c0 - 1) : c0 + here.shape[2] + 1] = False
    if not around.any():
        return None, f"{obs.id}'s source file ({path}) holds no image around the site's"
    diff = np.abs(np.nanmean(here, axis=0) - np.nanmean(there, axis=0))
    diff = diff[np.isfinite(diff)]
    if not diff.size or float(np.median(diff)) > _MISMATCH:
        return None, f"{obs.id}'s source file ({path}) does not read as its archived image"
    return out, ""
