"""Small geodesy helpers shared by the stages: ground pixel size, transforms of geometries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from shapely import Polygon
from shapely.geometry.base import BaseGeometry

__all__ = [
    "grid_skew_deg",
    "ground_pixel_size",
    "heading_from_north",
    "pixel_corners_to_polygon",
    "reproject_geometry",
    "utm_crs_for",
]


@lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def reproject_geometry(geom: BaseGeometry, src: str, dst: str) -> BaseGeometry:
    """Reproject a shapely geometry between two CRSs (lon/lat axis order for geographic ones)."""
    if CRS.from_user_input(src) == CRS.from_user_input(dst):
        return geom
    t = _transformer(str(src), str(dst))
    return shapely.transform(geom, t.transform, interleaved=False)


def utm_crs_for(lon: float, lat: float) -> str:
    """``EPSG:326nn``/``EPSG:327nn`` of the UTM zone holding a point."""
    zone = int(math.floor((lon + 180) / 6)) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def ground_pixel_size(crs: str | None, transform: Affine, width: int, height: int) -> tuple[float, float]:
    """Ground size (x, y) in metres of one pixel at the raster's centre.

    Projected CRSs in metres give the transform's pixel size, corrected by the
    projection's scale factor at the centre (Web Mercator pixels are
    ``cos(latitude)`` smaller on the ground than their nominal size).
    Geographic CRSs convert degrees to metres at the centre's latitude.
    """
    px = math.hypot(transform.a, transform.d)
    py = math.hypot(transform.b, transform.e)
    if not crs:
        return px, py
    c = CRS.from_user_input(crs)
    cx, cy = transform @ (width / 2, height / 2)
    if c.is_geographic:
        lat = math.radians(cy)
        m_per_deg_lat = 111_132.92 - 559.82 * math.cos(2 * lat) + 1.175 * math.cos(4 * lat)
        m_per_deg_lon = 111_412.84 * math.cos(lat) - 93.5 * math.cos(3 * lat)
        # Each pixel side in metres, east and north apart: a grid turned in lon/lat (a transform
        # fitted to a radar scene's GCPs) has sides with degrees of both, which are not alike.
        return (
            math.hypot(transform.a * m_per_deg_lon, transform.d * m_per_deg_lat),
            math.hypot(transform.b * m_per_deg_lon, transform.e * m_per_deg_lat),
        )
    unit = c.axis_info[0].unit_conversion_factor if c.axis_info else 1.0
    lon, lat = _transformer(c.to_string(), "EPSG:4326").transform(cx, cy)
    try:
        from pyproj import Proj

        factors = Proj(c).get_factors(lon, lat)
        kx, ky = factors.parallel_scale, factors.meridional_scale
    except Exception:  # a CRS pyproj cannot give factors for: take it as true scale
        kx = ky = 1.0
    return px * unit / kx, py * unit / ky


def grid_skew_deg(crs: str | None, transform: Affine, width: int, height: int) -> float:
    """How far from a right angle (degrees) a pixel's sides meet on the ground, at the raster's centre.

    0 for north-up, rotated and mirrored grids; an affine transform with a shear (fitted to
    three control points of a scanned or oblique image, say) makes pixels parallelograms.
    Geographic CRSs are judged in metres (a degree of longitude is shorter than one of latitude).
    """
    a, b, d, e = transform.a, transform.b, transform.d, transform.e
    if crs:
        try:
            c = CRS.from_user_input(crs)
        except Exception:
            c = None
        if c is not None and c.is_geographic:
            lat = math.radians((transform @ (width / 2, height / 2))[1])
            k = math.cos(lat) if abs(lat) < math.pi / 2 else 0.0
            a, b = a * k, b * k
    n1, n2 = math.hypot(a, d), math.hypot(b, e)
    if n1 == 0 or n2 == 0:
        return 0.0
    cos = (a * b + d * e) / (n1 * n2)
    return abs(math.degrees(math.asin(max(-1.0, min(1.0, cos)))))


def heading_from_north(
    heading_deg: Sequence[float],
    rows: Sequence[float],
    cols: Sequence[float],
    transform: Affine,
    crs: str | None,
    pixel_size: tuple[float, float],
) -> list[float]:
    """Long-axis headings measured in an image, as degrees clockwise from true north, in [0, 180).

    Detectors measure ``heading_deg`` clockwise from image up, with ``pixel_size`` (x, y) metres
    a pixel (:class:`~sitewatch.detect.base.PixelDetection`): that is north only on a north-up
    grid. A rotated, south-up or east-left (mirrored) transform, a grid far from its projection's
    meridian (UTM's convergence, polar stereographic) each turn it; this follows a short step
    along each axis from its centroid (``rows``, ``cols``: pixel centres at integers) through
    ``transform`` and the CRS to longitude and latitude and takes the step's geodesic azimuth.
    Without a CRS the azimuth is the transform's own (clockwise from its y axis).
    """
    h = np.radians(np.asarray(heading_deg, dtype=np.float64))
    if h.size == 0:
        return []
    px, py = pixel_size
    step = 0.5 * min(px, py)  # metres: half a pixel each way, within the object
    dc, dr = step * np.sin(h) / px, -step * np.cos(h) / py
    c = np.asarray(cols, dtype=np.float64) + 0.5  # the transform maps pixel corners
    r = np.asarray(rows, dtype=np.float64) + 0.5
    a, b, xoff, d, e, yoff = transform[:6]
    x0, y0 = a * (c - dc) + b * (r - dr) + xoff, d * (c - dc) + e * (r - dr) + yoff
    x1, y1 = a * (c + dc) + b * (r + dr) + xoff, d * (c + dc) + e * (r + dr) + yoff
    az = np.degrees(np.arctan2(x1 - x0, y1 - y0))
    if crs:
        try:
            from pyproj import Geod

            t = _transformer(CRS.from_user_input(crs).to_string(), "EPSG:4326")
            lon0, lat0 = t.transform(x0, y0, errcheck=True)
            lon1, lat1 = t.transform(x1, y1, errcheck=True)
            az = np.asarray(Geod(ellps="WGS84").inv(lon0, lat0, lon1, lat1)[0], dtype=np.float64)
        except Exception:  # a CRS with no way to longitude and latitude: its own grid's azimuth
            pass
    return [float(v) % 180.0 for v in az]


def pixel_corners_to_polygon(corners: list[tuple[float, float]] | tuple[tuple[float, float], ...], transform: Affine) -> Polygon:
    """Map (col, row) pixel corners through an affine transform to a polygon in the raster's CRS."""
    return Polygon([transform @ (c, r) for c, r in corners])
