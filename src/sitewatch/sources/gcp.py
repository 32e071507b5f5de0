"""Place GCP-referenced rasters (Sentinel-1 GRD) on a site grid.

A GRD measurement file has no affine transform: it carries a lattice of
ground control points (image row/col → lon/lat/height), one every ~20 km.
The slant geometry, the ascending/descending flip and terrain make the
image-to-ground mapping non-linear, so an affine transform fitted to the
item's bbox lands kilometres away from the truth. We warp with the GCPs
instead — a thin-plate spline through them (exact at every GCP) or a
polynomial of order ≥ 2 fitted to the ones near the site — and only over
the window of source pixels that covers the site, never the whole scene.

Sentinel-1 numbers its geolocation grid by sample and line: (0, 0) is the
centre of the first pixel, and the grid's last point sits at (samples − 1,
lines − 1). GDAL passes those numbers on unchanged (its SAFE driver, and the
tie points of the measurement GeoTIFFs, which declare PixelIsArea), while its
own convention puts (0, 0) at the first pixel's outer corner. Left as read, a
GRD image lands half a pixel (5 m) off; :func:`sentinel1_centred` moves the
points onto GDAL's convention, as ESA's SNAP reader does (its Sentinel-1
tie-point grids start at 0.5, 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from rasterio.control import GroundControlPoint
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window

from ..errors import InputError
from ..model import Grid

__all__ = ["GcpMethod", "sentinel1_centred", "across_antimeridian", "gcps_window", "gcps_for_window", "warp_with_gcps", "grid_bounds_in"]

GcpMethod = Literal["tps", "polynomial"]

_MIN_GCPS = {1: 3, 2: 6, 3: 10}


def sentinel1_centred(gcps: Sequence[GroundControlPoint]) -> list[GroundControlPoint]:
    """Sentinel-1 GCPs as GDAL reads them (sample and line numbers) moved to GDAL's pixel
    convention: half a pixel down and right, onto the centres they name."""
    return [GroundControlPoint(row=g.row + 0.5, col=g.col + 0.5, x=g.x, y=g.y, z=g.z, id=g.id) for g in gcps]


def across_antimeridian(
    gcps: Sequence[GroundControlPoint], gcp_crs: object, near_lon: float | None = None
) -> list[GroundControlPoint]:
    """GCPs in lon/lat with their longitudes made continuous over the antimeridian, others as they are.

    A scene over the antimeridian (Fiji, the Aleutians) numbers its GCPs on both sides of it: a
    surface fitted through them (an affine transform, a thin-plate spline) jumps 360 degrees
    between two of them and places no pixel right. Each longitude is taken within 180 degrees
    of ``near_lon`` (default: the first GCP's): the side of the line a grid to warp onto lies on,
    since GDAL finds its points' longitudes on that side (-179.99 beside a site east of the line).
    """
    from pyproj import CRS

    lons = np.array([g.x for g in gcps], dtype=np.float64)
    if lons.size == 0 or np.ptp(lons) <= 180.0:
        return list(gcps)
    try:
        geographic = CRS.from_user_input(gcp_crs or "EPSG:4326").is_geographic
    except Exception:
        return list(gcps)
    if not geographic:
        return list(gcps)
    near = float(lons[0]) if near_lon is None else near_lon
    shifted = lons + 360.0 * np.round((near - lons) / 360.0)
    return [
        GroundControlPoint(row=g.row, col=g.col, x=float(x), y=g.y, z=g.z, id=g.id)
        for g, x in zip(gcps, shifted, strict=True)
    ]


def _design(x: NDArray[np.float64], y: NDArray[np.float64], order: int) -> NDArray[np.float64]:
    terms = [np.ones_like(x)]
    for n in range(1, order + 1):
        for k in range(n + 1):
            terms.append(x ** (n - k) * y**k)
    return np.stack(terms, axis=1)


def _pixel_of(
    gcps: Sequence[GroundControlPoint], gcp_crs: str, crs: str, xs: NDArray[np.float64], ys: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    from pyproj import Transformer

    t = Transformer.from_crs(gcp_crs, crs, always_xy=True)
    gx, gy = t.transform(np.array([g.x for g in gcps]), np.array([g.y for g in gcps]))
    gx, gy = np.asarray(gx, float), np.asarray(gy, float)
    cx, cy = float(gx.mean()), float(gy.mean())
    s = float(max(np.ptp(gx), np.ptp(gy), 1.0))
    order = 2 if len(gcps) >= 6 else 1
    a = _design((gx - cx) / s, (gy - cy) / s, order)
    coef_c, *_ = np.linalg.lstsq(a, np.array([g.col for g in gcps], float), rcond=None)
    coef_r, *_ = np.linalg.lstsq(a, np.array([g.row for g in gcps], float), rcond=None)
    q = _design((xs - cx) / s, (ys - cy) / s, order)
    return q @ coef_c, q @ coef_r


def gcps_window(
    gcps: Sequence[GroundControlPoint],
    gcp_crs: str,
    grid: Grid,
    src_shape: tuple[int, int],
    pad: int = 32,
) -> Window | None:
    """The window of source pixels covering ``grid`` (plus ``pad`` pixels), or None if outside.

    The grid's outline is sampled densely and mapped to image coordinates with
    a polynomial fitted to the GCPs; the pad absorbs the fit's residual.
    """
    t = grid.affine
    n = 16
    u = np.linspace(0, 1, n)
    edge_c = np.concatenate([u * grid.width, np.full(n, grid.width), u * grid.width, np.zeros(n)])
    edge_r = np.concatenate([np.zeros(n), u * grid.height, np.full(n, grid.height), u * grid.height])
    xs = t.a * edge_c + t.b * edge_r + t.c
    ys = t.d * edge_c + t.e * edge_r + t.f
    cols, rows = _pixel_of(gcps, gcp_crs, grid.crs, xs, ys)
    # A quadratic over a whole 250 km scene bends away from the truth somewhere; refit it to the
    # GCPs around the first estimate so the window (and its pad) need not absorb that.
    near = _near(gcps, float(rows.mean()), float(cols.mean()), 3 * _spacing(gcps))
    if len(near) >= 12:
        cols, rows = _pixel_of(near, gcp_crs, grid.crs, xs, ys)
    height, width = src_shape
    c0 = int(np.floor(cols.min())) - pad
    c1 = int(np.ceil(cols.max())) + pad
    r0 = int(np.floor(rows.min())) - pad
    r1 = int(np.ceil(rows.max())) + pad
    c0, r0 = max(c0, 0), max(r0, 0)
    c1, r1 = min(c1, width), min(r1, height)
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def gcps_for_window(
    gcps: Sequence[GroundControlPoint], window: Window, min_count: int = 12
) -> list[GroundControlPoint]:
    """GCPs near ``window``, shifted into its pixel coordinates.

    A polynomial fitted to a whole 250 km scene bends away from the truth at
    any one place; keeping the GCPs around the window (at least ``min_count``
    of the nearest) makes the fit local. The thin-plate spline is exact at
    every GCP either way.
    """
    r0, c0 = float(window.row_off), float(window.col_off)
    rc, cc = r0 + window.height / 2, c0 + window.width / 2
    dist = np.array([max(abs(g.row - rc) - window.height / 2, abs(g.col - cc) - window.width / 2, 0.0) for g in gcps])
    spacing = _spacing(gcps)
    near = np.flatnonzero(dist <= 2.5 * spacing)
    if len(near) < min_count:
        near = np.argsort(dist)[: max(min_count, len(near))]
    return [
        GroundControlPoint(row=gcps[i].row - r0, col=gcps[i].col - c0, x=gcps[i].x, y=gcps[i].y, z=gcps[i].z)
        for i in sorted(int(j) for j in near)
    ]


def _near(gcps: Sequence[GroundControlPoint], row: float, col: float, radius: float) -> list[GroundControlPoint]:
    return [g for g in gcps if abs(g.row - row) <= radius and abs(g.col - col) <= radius]


def _spacing(gcps: Sequence[GroundControlPoint]) -> float:
    rows = np.unique(np.round([g.row for g in gcps]))
    cols = np.unique(np.round([g.col for g in gcps]))
    steps = np.concatenate([np.diff(rows), np.diff(cols)])
    return float(np.median(steps)) if steps.size else 1.0


def warp_with_gcps(
    data: NDArray[np.floating],
    gcps: Sequence[GroundControlPoint],
    gcp_crs: str,
    grid: Grid,
    *,
    method: GcpMethod = "tps",
    order: int = 2,
    resampling: Resampling = Resampling.bilinear,
) -> NDArray[np.float32]:
    """Warp a GCP-referenced array (NaN = no data) onto ``grid``.

    ``gcps`` are in the pixel coordinates of ``data`` (see :func:`gcps_for_window`).
    ``method="tps"`` fits a thin-plate spline through the GCPs; ``"polynomial"``
    a least-squares polynomial of ``order`` (2 or 3; order 1 is refused
    because an affine fit cannot follow SAR geometry).
    """
    if method == "polynomial" and order < 2:
        raise InputError("a GCP polynomial needs order 2 or more; an affine fit misplaces GRD pixels")
    if len(gcps) < _MIN_GCPS.get(order, 10):
        raise InputError(f"{len(gcps)} GCPs are too few to warp with")
    src = np.asarray(data, dtype=np.float32)
    out = np.full(grid.shape, np.nan, dtype=np.float32)
    options = {"SRC_METHOD": "GCP_TPS"} if method == "tps" else {"SRC_METHOD": "GCP_POLYNOMIAL", "MAX_GCP_ORDER": order}
    reproject(
        src,
        out,
        gcps=list(gcps),
        src_crs=gcp_crs,
        src_nodata=np.nan,
        dst_transform=grid.affine,
        dst_crs=grid.crs,
        dst_nodata=np.nan,
        resampling=resampling,
        **options,
    )
    return out


def grid_bounds_in(grid: Grid, crs: str) -> tuple[float, float, float, float]:
    """The grid's bounds in another CRS (densified edges)."""
    t = grid.affine
    x0, y0 = t @ (0, 0)
    x1, y1 = t @ (grid.width, grid.height)
    return transform_bounds(grid.crs, crs, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1), densify_pts=21)

