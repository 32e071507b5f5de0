"""The site's grid and the pixels on it.

The site grid is the site polygon's bounding box in the site's UTM zone, snapped outward to
whole pixels at the scene's ground resolution; a site narrower than :data:`SMALL_SITE_M` gets
:data:`CONTEXT_M` of image around that box (:func:`context_for`), which the detectors take their
background from. :func:`site_mask` is the polygon on it: what is counted, detected and reported is
the site's, never the margin's (:func:`context_held` says how much margin an archived grid holds).
:func:`no_data_as_nan` is the one no-data rule of ingest, import and fetch, and
:func:`valid_pixels` the pixels an observation's valid fraction counts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from affine import Affine
from numpy.typing import NDArray
from rasterio.features import geometry_mask
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from ..errors import InputError
from ..geo import reproject_geometry, utm_crs_for
from ..model import Grid, Site
from ..units import pixel_size_text

__all__ = ["CONTEXT_M", "MAX_GRID_PIXELS", "SMALL_SITE_M", "context_for", "context_held", "site_grid", "site_mask", "too_small_for", "no_data_as_nan", "valid_pixels", "valid_outline",
           "OUTLINE_CELLS"]

OUTLINE_CELLS = 128
"""Most cells a side of :func:`valid_outline`'s raster: its outline is at most a 128th of the grid off the data's."""

MAX_GRID_PIXELS = 2**30
"""Most pixels a site's grid may have (32768 × 32768): a largest site (2° across) at 10 m fits; a file
claiming millimetre pixels gets an error naming its pixel size, not an allocation of tens of GB."""


SMALL_SITE_M = 500.0
"""A site narrower than this (either side of its box, in metres) is smaller than the detectors' context:
its vessels fill much of it, and the SAR clutter and optical water taken from its own pixels are theirs."""

CONTEXT_M = 1000.0
"""Image archived around the box of a site narrower than :data:`SMALL_SITE_M`, metres each side: the SAR
detector's background window reaches 700 m beyond the 150 m guard around a block (850 m). Measured on
250 × 80 m berths (``benchmarks/site_margin.py``): drawn tight, 8 of 62 OpenSARShip ships and none of 275
sen2ships ones or 12 simulated SAR ones were found; with 1000 m, 56, 88 and 10 (a 2 km site around them:
55, 81, 12); with 500 m 55, 76 and 12, with 250 m 56, 67 and 11."""


def context_for(site: Site, context_m: float | None = None) -> float:
    """Metres of image to archive around ``site``'s box: ``context_m`` (default :data:`CONTEXT_M`) for a
    site narrower than :data:`SMALL_SITE_M` on either side, 0 for any other (whose grid stays its box, as
    archived before margins were: their observations keep comparing with the new ones)."""
    margin = CONTEXT_M if context_m is None else float(context_m)
    if margin < 0 or not math.isfinite(margin):
        raise InputError(f"context_m must be 0 or more metres, got {context_m!r}")
    if margin == 0:
        return 0.0
    geom = site.require_geometry()
    minx, miny, maxx, maxy = reproject_geometry(geom, "EPSG:4326", utm_crs_for(geom.centroid.x, geom.centroid.y)).bounds
    return margin if min(maxx - minx, maxy - miny) < SMALL_SITE_M else 0.0


def context_held(site: Site, grid: Grid) -> float:
    """Metres of image an archived ``grid`` holds around ``site``'s box on its narrowest side (0 when that is
    under one pixel: a grid that is the site's box, snapped to whole pixels, as every grid was before margins)."""
    minx, miny, maxx, maxy = reproject_geometry(site.require_geometry(), "EPSG:4326", grid.crs).bounds
    t = grid.affine
    gx0, gy1 = t @ (0, 0)
    gx1, gy0 = t @ (grid.width, grid.height)
    held = min(minx - min(gx0, gx1), miny - min(gy0, gy1), max(gx0, gx1) - maxx, max(gy0, gy1) - maxy)
    return float(math.floor(held)) if held >= max(grid.pixel_size) else 0.0


def site_grid(site: Site, resolution_m: float, crs: str | None = None, *, context_m: float | None = None) -> Grid:
    """The site's grid: its polygon's bounds in ``crs`` (default: its UTM zone), grown by the margin of
    :func:`context_for` (``context_m``: the margin a small site gets, default :data:`CONTEXT_M`; 0: none),
    snapped to pixels.

    A site is at most :data:`~sitewatch.model.MAX_SITE_DEG` across (:class:`Site` refuses wider ones), so its
    grid fits one UTM zone.
    """
    geom = site.require_geometry()
    crs = crs or utm_crs_for(geom.centroid.x, geom.centroid.y)
    minx, miny, maxx, maxy = reproject_geometry(geom, "EPSG:4326", crs).bounds
    margin = context_for(site, context_m)
    minx, miny, maxx, maxy = minx - margin, miny - margin, maxx + margin, maxy + margin
    r = float(resolution_m)
    x0, y1 = math.floor(minx / r) * r, math.ceil(maxy / r) * r
    width = max(1, math.ceil((maxx - x0) / r))
    height = max(1, math.ceil((y1 - miny) / r))
    if width * height > MAX_GRID_PIXELS:
        raise InputError(
            f"site {site.id!r} ({(maxx - minx) / 1000:.1f} × {(maxy - miny) / 1000:.1f} km) at {pixel_size_text(r)} pixels would be "
            f"{width} × {height} pixels, more than sitewatch handles ({MAX_GRID_PIXELS:,}); is the image's pixel size "
            "right? Resample it coarser (gdalwarp -tr) or cut the site smaller"
        )
    t = Affine(r, 0.0, x0, 0.0, -r, y1)
    return Grid(crs=crs, transform=(t.a, t.b, t.c, t.d, t.e, t.f), width=width, height=height)


def site_mask(site: Site, grid: Grid) -> NDArray[np.bool_]:
    """True for pixels of ``grid`` whose centre lies inside the site polygon."""
    geom = reproject_geometry(site.require_geometry(), "EPSG:4326", grid.crs)
    return geometry_mask([geom], out_shape=grid.shape, transform=grid.affine, invert=True)


def too_small_for(site: Site, grid: Grid) -> InputError:
    """The error for a site no pixel centre of ``grid`` lies in: smaller than (or as thin as) one pixel.

    Such a site would be "imaged" by the one pixel around it, a mixture of the berth, the quay and
    the hull alongside, and its observations would hold no pixel to detect on: it is refused by
    name, rather than skipped as if the image had missed it ("no valid pixel over the site").
    """
    minx, miny, maxx, maxy = reproject_geometry(site.require_geometry(), "EPSG:4326", grid.crs).bounds
    px = min(abs(grid.affine.a), abs(grid.affine.e))
    return InputError(
        f"site {site.id!r} ({maxx - minx:.0f} × {maxy - miny:.0f} m) is smaller than one {pixel_size_text(px)} pixel of this image: "
        "no pixel's centre lies in it, so nothing in it can be measured. Draw the site around the water a vessel "
        f"there lies in (at least {pixel_size_text(2 * px)} across; a berth goes in as a berth line of that site: "
        "`sites import` with role berth), or use finer imagery"
    )


# -- no data --------------------------------------------------------------------------------------


def no_data_as_nan(values: NDArray[np.floating] | np.ma.MaskedArray) -> NDArray[np.float32]:
    """Pixel values as sitewatch archives them: float32, NaN where there is no data.

    No data is what a file's mask says (its no-data value: a masked read) and every value that
    is not finite: NaN, and ±inf too, which is no measurement (a float export's overflow, a
    division by a zero calibration gain). The one rule of ingest, import and fetch, applied to
    the values as read, before they are resampled onto the site's grid (GDAL leaves NaN out of a
    bilinear kernel, an infinity it spreads to the pixels around), and to what is archived.
    The values are returned as they are (no copy) when nothing needs changing.
    """
    a = np.ma.filled(values.astype(np.float32, copy=False), np.nan) if np.ma.isMaskedArray(values) else values
    a = np.asarray(a, dtype=np.float32)
    inf = np.isinf(a)
    return np.where(inf, np.float32(np.nan), a) if inf.any() else a


def valid_pixels(data: NDArray[np.floating], inside: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Pixels (of bands × rows × cols on a site's grid) inside the site with data in every band:
    the valid fraction's pixels (:func:`no_data_as_nan`'s rule)."""
    return np.all(np.isfinite(data), axis=0) & inside


def valid_outline(valid: NDArray[np.bool_], grid: Grid) -> BaseGeometry | None:
    """Where an observation has data, as a polygon in the grid's CRS that holds every valid pixel (an
    outer bound: cells of up to 1/:data:`OUTLINE_CELLS` of the grid with any valid pixel); None when
    there is none.

    A scene's footprint (a file's bounds; the bounding box of a Sentinel-1 product's corners) takes in
    its no-data too: two frames of one pass, a swath's edge half empty, seemed to share the whole site,
    and their union was counted as the larger piece alone (:func:`sitewatch.analysis.passes.pass_valid_fraction`).
    """
    from rasterio.features import shapes
    from shapely.geometry import shape
    from shapely.ops import unary_union

    if not valid.any():
        return None
    h, w = valid.shape
    k = max(1, math.ceil(max(h, w) / OUTLINE_CELLS))
    hc, wc = -(-h // k), -(-w // k)
    padded = np.zeros((hc * k, wc * k), bool)
    padded[:h, :w] = valid
    cells = padded.reshape(hc, k, wc, k).any(axis=(1, 3))
    t = grid.affine @ Affine.scale(k)
    parts = [shape(g) for g, v in shapes(cells.astype(np.uint8), mask=cells, transform=t, connectivity=8) if v]
    return unary_union(parts).simplify(0)


def _grid_box(grid: Grid) -> Any:
    t = grid.affine
    x0, y0 = t @ (0, 0)
    x1, y1 = t @ (grid.width, grid.height)
    return box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
