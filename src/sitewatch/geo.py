"""Small geodesy helpers shared by the stages: ground pixel size, transforms of geometries."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import shapely
import shapely.affinity
from affine import Affine
from pyproj import CRS, Transformer
from shapely import MultiLineString, MultiPoint, MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

__all__ = [
    "cut_at_antimeridian",
    "grid_skew_deg",
    "ground_pixel_size",
    "ground_steps",
    "heading_from_north",
    "lonlat_centroid",
    "pixel_corners_to_polygon",
    "recentred_past_180",
    "reproject_geometry",
    "to_lonlat_beside",
    "unwrap_longitudes",
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


def unwrap_longitudes(geom: BaseGeometry, near_lon: float) -> BaseGeometry:
    """``geom`` (lon/lat) with each longitude within 180° of ``near_lon``.

    A small shape across the antimeridian comes out of a projection with longitudes on both sides
    (179.9995 and -179.9999): read as they are, it spans the globe and its centroid is thousands of
    kilometres away. Beside a place at 179.99 it goes on to 180.0001 instead.
    """
    return shapely.transform(geom, lambda xy: np.column_stack((xy[:, 0] + 360.0 * np.round((near_lon - xy[:, 0]) / 360.0), xy[:, 1])))


def to_lonlat_beside(geom: BaseGeometry, crs: str, near_lon: float) -> BaseGeometry:
    """``geom`` (in ``crs``) in lon/lat, its longitudes within 180° of ``near_lon`` (:func:`unwrap_longitudes`).

    A grid of a site that touches the antimeridian reaches a pixel past it; projected as it is, a box
    there has corners at 179.99 and -179.99 and spans the globe the long way.
    """
    return unwrap_longitudes(reproject_geometry(geom, crs, "EPSG:4326"), near_lon)


def recentred_past_180(crs: str, transform: Affine, width: int, height: int) -> tuple[str, Affine]:
    """A Mercator raster that runs past its 180° meridian as the same pixels in the Mercator centred 180°
    away (its x shifted by half the world's width); any other raster as it is.

    A Web Mercator map of Fiji runs on to x 20,039,180 m, past 20,037,508 (180°): GDAL's warp, asking
    the file for each pixel of the site's grid, finds 179.99° E inside it but -179.99° at x -20,036,396,
    outside, so the part east of 180° came out without data ("no valid pixel over site"). Centred on
    the opposite meridian the whole raster lies well within one world.
    """
    c = CRS.from_user_input(crs)
    if not c.is_projected:
        return crs, transform
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Discarding datum / nonstandard parameters": the PROJ string is read back
        params = c.to_dict()
    if params.get("proj") != "merc" or any(k in params for k in ("lonc", "alpha", "gamma")):
        return crs, transform
    lon_0, x0 = float(params.get("lon_0", 0.0)), float(params.get("x_0", 0.0))
    # x of the meridian 180° from lon_0 (x is linear in longitude): twice that of 90°.
    half = 2.0 * abs(float(Transformer.from_crs("EPSG:4326", c, always_xy=True).transform(lon_0 + 90.0, 0.0)[0]) - x0)
    xs = [(transform @ p)[0] for p in ((0, 0), (width, 0), (0, height), (width, height))]
    if min(xs) - x0 >= -half and max(xs) - x0 <= half:
        return crs, transform
    shift = -half if max(xs) - x0 > half else half
    moved = {k: v for k, v in params.items() if k != "type"} | {"lon_0": (lon_0 + 360.0) % 360.0 - 180.0}
    text = " ".join(f"+{k}" if v is None or v is True else f"+{k}={v}" for k, v in moved.items())
    return text, Affine.translation(shift, 0.0) @ transform


def cut_at_antimeridian(geom: BaseGeometry) -> BaseGeometry:
    """``geom`` (lon/lat) cut at the antimeridian, each part moved within -180..180 (RFC 7946, 3.1.9).

    A footprint kept beside its site (:func:`unwrap_longitudes`) may run on past 180° (180.0001) or
    -180°; GeoJSON, KML and PostGIS's geography take longitudes within -180..180 only, and moving the
    whole shape by 360° would not do: its corners would lie on both sides, spanning the globe the long
    way. Returned as it is when already within; else a Multi- geometry of the parts on either side.
    """
    if geom.is_empty:
        return geom
    minx, _, maxx, _ = geom.bounds
    if -180.0 <= minx and maxx <= 180.0:
        return geom
    dim = int(shapely.get_dimensions(geom))
    parts: list[BaseGeometry] = []
    for k in range(math.floor((minx + 180.0) / 360.0), math.floor((maxx + 180.0) / 360.0) + 1):
        west = -180.0 + 360.0 * k
        piece = geom.intersection(box(west, -90.0, west + 360.0, 90.0))
        parts += [
            shapely.affinity.translate(g, -360.0 * k)
            for g in shapely.get_parts(piece)
            if not g.is_empty and int(shapely.get_dimensions(g)) == dim  # not a corner touching the cut
        ]
    if len(parts) == 1:
        return parts[0]
    if dim == 2:
        return MultiPolygon([q for g in parts for q in shapely.get_parts(g)])
    if dim == 1:
        return MultiLineString([q for g in parts for q in shapely.get_parts(g)])
    return MultiPoint([q for g in parts for q in shapely.get_parts(g)])


def lonlat_centroid(geom: BaseGeometry) -> tuple[float, float]:
    """The centroid (lon, lat) of a lon/lat geometry, its longitude within -180..180.

    A shape cut at the antimeridian (:func:`cut_at_antimeridian`) has parts at 179.99 and -179.99,
    whose plain centroid falls near 0°, half the world away; its parts are put side by side first.
    """
    first = shapely.get_coordinates(geom)[0][0]
    c = unwrap_longitudes(geom, float(first)).centroid
    lon = c.x if -180.0 <= c.x <= 180.0 else (c.x + 180.0) % 360.0 - 180.0
    return lon, c.y


def utm_crs_for(lon: float, lat: float) -> str:
    """``EPSG:326nn``/``EPSG:327nn`` of the UTM zone holding a point."""
    zone = int(math.floor((lon + 180) / 6)) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def _ground_steps(crs: str, transform: Affine, width: int, height: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """((metres, azimuth) of one column step, (metres, azimuth) of one row step) on the ellipsoid, at
    the raster's centre: a short step each way through ``transform`` and ``crs`` to lon/lat."""
    from pyproj import Geod

    t = _transformer(CRS.from_user_input(crs).to_string(), "EPSG:4326")
    h = 1 / 16  # of a pixel, each way: the local scale, not an average over a large pixel
    c, r = width / 2, height / 2
    pts = [transform @ p for p in ((c - h, r), (c + h, r), (c, r - h), (c, r + h))]
    lon, lat = t.transform([p[0] for p in pts], [p[1] for p in pts], errcheck=True)
    az, _, dist = Geod(ellps="WGS84").inv(lon[0::2], lat[0::2], lon[1::2], lat[1::2])
    return (dist[0] / (2 * h), az[0]), (dist[1] / (2 * h), az[1])


def ground_steps(crs: str, transform: Affine, width: int, height: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """((metres, azimuth in degrees) of one column step, (metres, azimuth) of one row step) on the ellipsoid at
    the raster's centre: what a pixel measures on the ground and which way its sides point, whatever the CRS's
    own scale (Web Mercator's, a polar grid's turn). Raises for a CRS with no way to lon/lat."""
    return _ground_steps(crs, transform, width, height)


def ground_pixel_size(crs: str | None, transform: Affine, width: int, height: int) -> tuple[float, float]:
    """Ground size (x, y) in metres of one pixel at the raster's centre.

    Measured on the ellipsoid, so every CRS's own scale is in it: Web Mercator pixels are
    ``cos(latitude)`` smaller on the ground than their nominal size, degrees of longitude
    shorter than degrees of latitude, a sinusoidal grid's rows longer than its nominal size away
    from the central meridian, and a grid turned in lon/lat (a transform fitted to a radar
    scene's GCPs) mixes both in each pixel side. A CRS with no way to lon/lat gives the
    transform's size in its own unit.
    """
    px = math.hypot(transform.a, transform.d)
    py = math.hypot(transform.b, transform.e)
    if not crs:
        return px, py
    c = CRS.from_user_input(crs)
    try:
        (gx, _), (gy, _) = _ground_steps(crs, transform, width, height)
    except Exception:  # a local or non-Earth CRS: its unit, at true scale
        unit = c.axis_info[0].unit_conversion_factor if c.axis_info and not c.is_geographic else 1.0
        return px * unit, py * unit
    return float(gx), float(gy)


def grid_skew_deg(crs: str | None, transform: Affine, width: int, height: int) -> float:
    """How far from a right angle (degrees) a pixel's sides meet on the ground, at the raster's centre.

    0 for north-up, rotated and mirrored grids of a conformal projection (UTM, Web Mercator,
    polar stereographic) or of lon/lat; an affine transform with a shear (fitted to three control
    points of a scanned or oblique image, say), or a sinusoidal grid far from its meridian, makes
    pixels parallelograms on the ground.
    """
    if crs:
        try:
            (_, az_col), (_, az_row) = _ground_steps(crs, transform, width, height)
            between = abs((az_col - az_row + 180.0) % 360.0 - 180.0)  # 0-180 degrees
            return abs(90.0 - between)
        except Exception:  # a CRS with no way to lon/lat: the transform's own angle
            pass
    a, b, d, e = transform.a, transform.b, transform.d, transform.e
    n1, n2 = math.hypot(a, d), math.hypot(b, e)
    if n1 == 0 or n2 == 0:
        return 0.0
    return abs(math.degrees(math.asin(max(-1.0, min(1.0, (a * b + d * e) / (n1 * n2))))))


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
