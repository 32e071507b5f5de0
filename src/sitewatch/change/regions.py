"""Changed pixels made regions: grown from their seeds (hysteresis), 8-connected groups of at least the
minimum area as valid polygons in the grid's CRS and in WGS84, with their magnitude and direction.

Here the whole grid is labelled at once (an int32 label a pixel, and copies): the reference that
:mod:`.blocklabels`, which the comparison uses, is held to, to the bit, and the baseline of
``benchmarks/change_labels_memory.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from shapely import make_valid
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from ..geo import reproject_geometry, to_lonlat_beside
from ..model import Grid
from .pair import ChangeRegion, Direction


def _hysteresis(grow: NDArray[np.bool_], seed: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The 8-connected parts of ``grow`` that hold a ``seed`` pixel."""
    from scipy import ndimage

    labels, n = ndimage.label(grow | seed, structure=np.ones((3, 3), bool))
    # A table of the labels kept, looked up: np.isin sorts the whole grid's labels once there are many.
    keep = np.zeros(n + 1, bool)
    keep[labels[seed]] = True
    keep[0] = False
    return keep[labels]


def _hysteresis_labels(state: NDArray[np.uint8], grow: int, seed: int) -> tuple[NDArray[np.int32], int]:
    """``ndimage.label`` of :func:`_hysteresis`'s mask of the pixels whose ``state`` has the bit ``grow``
    and of those with ``seed``, and how many labels, without that mask: the 8-connected parts of either bit
    are labelled once, those without a seed pixel set to 0 and the others renumbered 1, 2… in their order.
    The same labels: the parts kept are whole parts of the mask, and ``ndimage.label`` numbers parts in the
    order the raster first meets them (rows, then columns), an order a subset keeps."""
    from scipy import ndimage

    labels, n = ndimage.label(state & np.uint8(grow | seed), structure=np.ones((3, 3), bool))
    keep = np.zeros(n + 1, bool)
    rows = max(1, (1 << 20) // max(1, state.shape[1]))
    for a in range(0, state.shape[0], rows):
        block = labels[a : a + rows]
        keep[block[(state[a : a + rows] & np.uint8(seed)) != 0]] = True
    keep[0] = False
    renumber = np.cumsum(keep, dtype=np.int32)
    kept = int(renumber[-1])
    renumber[~keep] = 0
    for a in range(0, state.shape[0], rows):  # in place, a block at a time: no second grid of labels
        labels[a : a + rows] = renumber[labels[a : a + rows]]
    return labels, kept


def _hysteresis_bits(state: NDArray[np.uint8], grow: int, seed: int) -> NDArray[np.bool_]:
    """:func:`_hysteresis` of the pixels whose ``state`` has the bit ``grow`` and of those with ``seed``."""
    return _hysteresis_labels(state, grow, seed)[0] > 0


@dataclass(frozen=True)
class PixelValues:
    """A value at some pixels of a grid, the only ones a mean over regions will need (the changed pixels'
    magnitude and brightness: a whole tile's float64 grid is 1 GB)."""

    index: NDArray[np.intp]
    """Flat indexes of the pixels (rows × cols order), ascending."""
    values: NDArray[np.float64]
    """The value at each."""


def _label_means(value: NDArray[np.float64] | PixelValues, labels: NDArray[np.int32], ids: NDArray[np.intp]) -> NDArray[np.float64]:
    """The mean of ``value`` over the pixels of each label in ``ids``: ``scipy.ndimage.mean``'s sums, in the
    same order, of a whole grid or of :class:`PixelValues` holding every labelled pixel."""
    from scipy import ndimage

    if not isinstance(value, PixelValues):
        return np.asarray(ndimage.mean(value, labels, ids))
    at = labels.ravel()[value.index]
    counts = np.bincount(at, minlength=labels.max(initial=0) + 1)
    sums = np.bincount(at, weights=value.values, minlength=counts.size)
    return np.asarray(sums[ids] / counts[ids].astype(np.float64))


def _label_sizes(labels: NDArray[np.int32], n: int) -> NDArray[np.intp]:
    """How many pixels hold each label 0 to ``n``: ``np.bincount(labels.ravel())``, a block of rows at a time
    (bincount makes a whole grid's int32 labels intp first: 8 bytes a pixel)."""
    sizes = np.zeros(n + 1, np.intp)
    rows = max(1, (1 << 20) // max(1, labels.shape[1]))
    for a in range(0, labels.shape[0], rows):
        sizes += np.bincount(labels[a : a + rows].ravel(), minlength=n + 1)
    return sizes


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The polygons of ``geom`` (a made-valid pixel outline: a polygon, a multipolygon, or a collection
    with the lines and points of the corners it was split at), as one polygon or multipolygon."""
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    return unary_union(polys)


def _regions(
    mask: NDArray[np.bool_], grid: Grid, min_area_m2: float, value: NDArray[np.float64] | PixelValues,
    direction_of: NDArray[np.float64] | PixelValues | Direction,
) -> tuple[list[ChangeRegion], NDArray[np.bool_]]:  # fmt: skip
    """8-connected regions of ``mask`` at least ``min_area_m2`` large, with their mean ``value`` (a whole
    grid, or :class:`PixelValues` at every pixel of ``mask``) and direction (one, or from the mean of
    ``direction_of``, as ``value``)."""
    from scipy import ndimage

    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    return _labelled_regions(labels, n, grid, min_area_m2, value, direction_of)


def _labelled_regions(
    labels: NDArray[np.int32], n: int, grid: Grid, min_area_m2: float, value: NDArray[np.float64] | PixelValues,
    direction_of: NDArray[np.float64] | PixelValues | Direction,
) -> tuple[list[ChangeRegion], NDArray[np.bool_]]:  # fmt: skip
    """:func:`_regions` of the mask whose ``ndimage.label`` (8-connected) is ``labels``, ``n`` labels (cut in place)."""
    from rasterio.features import shapes

    a, b, _, d, e, _ = grid.transform
    pixel_m2 = abs(a * e - b * d)
    if n == 0:
        return [], np.zeros(labels.shape, bool)
    sizes = _label_sizes(labels, n)
    keep = sizes * pixel_m2 >= min_area_m2
    keep[0] = False
    drop = keep[labels]
    np.logical_not(drop, out=drop)
    labels[drop] = 0  # in place: the whole grid's labels are 4 bytes a pixel
    del drop
    if not keep.any():
        return [], np.zeros(labels.shape, bool)
    ids = np.flatnonzero(keep)
    vmean = dict(zip(ids.tolist(), _label_means(value, labels, ids), strict=True))
    dmean = None if isinstance(direction_of, str) else dict(zip(ids.tolist(), _label_means(direction_of, labels, ids), strict=True))
    parts: dict[int, list[BaseGeometry]] = {}
    kept = labels > 0
    for geom, v in shapes(labels, mask=kept, connectivity=8, transform=grid.affine):
        parts.setdefault(int(v), []).append(shape(geom))
    return _made_regions(parts, sizes, pixel_m2, vmean, dmean, direction_of, grid), kept


def _made_regions(
    parts: dict[int, list[BaseGeometry]], sizes: NDArray[np.intp], pixel_m2: float, vmean: dict[int, float],
    dmean: dict[int, float] | None, direction_of: NDArray[np.float64] | PixelValues | Direction, grid: Grid,
) -> list[ChangeRegion]:  # fmt: skip
    """The regions of the labels ``parts`` holds the pixel outlines of (in the grid's CRS), in label order,
    with their pixel counts ``sizes`` and mean values ``vmean`` and ``dmean`` (the direction's, or None when
    ``direction_of`` is the direction of all)."""
    out = []
    # Longitudes beside the grid's centre: a region at the antimeridian, projected as it is, would have
    # corners at 179.99 and -179.99 and span the globe the long way.
    cx, cy = grid.affine @ (grid.width / 2, grid.height / 2)
    near_lon = reproject_geometry(Point(cx, cy), grid.crs, "EPSG:4326").x
    for k in sorted(parts):
        # Pixels joined only at a corner give rings that touch themselves there: invalid for shapely, GEOS
        # and QGIS's tools. make_valid keeps the same pixels (only the rings are split at the corner).
        poly = _polygonal(make_valid(unary_union(parts[k])))
        if isinstance(direction_of, str):
            direction: Direction = direction_of
        else:
            bright = float(dmean[k]) if dmean is not None else 0.0
            direction = "appeared" if bright > 1.0 else "disappeared" if bright < -1.0 else "altered"
        out.append(
            ChangeRegion(
                polygon=poly,
                polygon_wgs84=to_lonlat_beside(poly, grid.crs, near_lon),
                area_m2=round(float(sizes[k] * pixel_m2), 3),
                magnitude=round(float(vmean[k]), 4),
                direction=direction,
                pixels=int(sizes[k]),
            )
        )
    return out
