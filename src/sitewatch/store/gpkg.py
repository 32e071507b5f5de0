"""Geometry encoding for OGC GeoPackage: the standard GP header followed by WKB.

Kept separate from the store so the encoding can be tested on its own and
reused by exports. See OGC 12-128r18, section 2.1.3 "Geometry Encoding". Also the
SQL functions the spatial index's triggers call (:func:`register_gpkg_functions`).
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Callable

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

__all__ = [
    "to_gpkg_blob", "from_gpkg_blob", "as_multipolygon", "multipolygon_blob", "register_gpkg_functions",
    "APPLICATION_ID", "USER_VERSION",
]  # fmt: skip

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10400  # GeoPackage 1.4

_MAGIC = b"GP"


def to_gpkg_blob(geom: BaseGeometry | None, srs_id: int = 4326) -> bytes | None:
    """Encode a geometry as a GeoPackage binary blob (little-endian, XY envelope)."""
    if geom is None:
        return None
    if geom.is_empty:
        flags = 0b0001_0001  # empty, no envelope, little endian
        return _MAGIC + bytes([0, flags]) + struct.pack("<i", srs_id) + shapely.to_wkb(geom, byte_order=1)
    flags = 0b0000_0011  # envelope [minx, maxx, miny, maxy], little endian
    minx, miny, maxx, maxy = geom.bounds
    header = _MAGIC + bytes([0, flags]) + struct.pack("<i4d", srs_id, minx, maxx, miny, maxy)
    return header + shapely.to_wkb(geom, byte_order=1, output_dimension=2)


_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def from_gpkg_blob(blob: bytes | None) -> BaseGeometry | None:
    """Decode a GeoPackage binary blob to a shapely geometry."""
    if blob is None:
        return None
    if blob[:2] != _MAGIC:
        raise ValueError("not a GeoPackage geometry blob")
    flags = blob[3]
    envelope = _ENVELOPE_BYTES[(flags >> 1) & 0b111]
    return shapely.from_wkb(bytes(blob[8 + envelope :]))


def as_multipolygon(geom: BaseGeometry | None) -> MultiPolygon | None:
    """The polygons of ``geom`` as one MultiPolygon, for a MULTIPOLYGON column (None when it has none).

    A GeoPackage column declared MULTIPOLYGON holds only MultiPolygons (a Polygon is not one of its
    subtypes): a one-part footprint is promoted, as ``ogr2ogr -nlt PROMOTE_TO_MULTI`` does, and a
    GeometryCollection that repairing a footprint made keeps its polygons.
    """
    parts = _polygons(geom) if geom is not None else []
    return MultiPolygon(parts) if parts else None


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    return [p for g in getattr(geom, "geoms", ()) for p in _polygons(g)]


def multipolygon_blob(blob: bytes | None) -> bytes | None:
    """A stored geometry blob made a MultiPolygon blob (:func:`as_multipolygon`), keeping its SRS id."""
    if blob is None:
        return None
    srs_id = struct.unpack("<i" if blob[3] & 1 else ">i", bytes(blob[4:8]))[0]
    return to_gpkg_blob(as_multipolygon(from_gpkg_blob(blob)), srs_id)


# -- the SQL functions of the R-tree triggers (GeoPackage Annex F.3, "GeoPackage SQLite Extension") ----------

_EMPTY_FLAG = 0b1_0000


def _envelope(blob: object) -> tuple[float, float, float, float] | None:
    """``(minx, maxx, miny, maxy)`` of a GeoPackage geometry blob; None for NULL, an empty geometry
    or a blob that is not a GeoPackage geometry.

    Read from the header's envelope when it has one (sitewatch always writes one); GDAL writes
    points without, and other writers may leave it out: then from the geometry itself.
    """
    if not isinstance(blob, bytes) or len(blob) < 8 or blob[:2] != _MAGIC or blob[3] & _EMPTY_FLAG:
        return None
    flags = blob[3]
    kind = (flags >> 1) & 0b111
    if kind not in _ENVELOPE_BYTES:
        return None
    if kind:  # [minx, maxx, miny, maxy, …] in the blob's byte order
        minx, maxx, miny, maxy = struct.unpack_from("<4d" if flags & 1 else ">4d", blob, 8)
        return minx, maxx, miny, maxy
    try:
        geom = from_gpkg_blob(blob)
    except (ValueError, shapely.errors.GEOSException):
        return None
    if geom is None or geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    return minx, maxx, miny, maxy


def st_is_empty(blob: object) -> int | None:
    """``ST_IsEmpty(geom)``: 1 for an empty geometry, 0 for another, NULL for NULL (or what is not a geometry)."""
    if not isinstance(blob, bytes) or len(blob) < 8 or blob[:2] != _MAGIC:
        return None
    return 0 if _envelope(blob) is not None else 1


def _bound(i: int) -> Callable[[object], float | None]:
    def bound(blob: object) -> float | None:
        env = _envelope(blob)
        return None if env is None else env[i]

    return bound


GPKG_FUNCTIONS: dict[str, Callable[[object], float | None]] = {
    "ST_IsEmpty": st_is_empty,
    "ST_MinX": _bound(0),
    "ST_MaxX": _bound(1),
    "ST_MinY": _bound(2),
    "ST_MaxY": _bound(3),
}
"""The functions the spatial index's triggers call, by their SQL names."""


def register_gpkg_functions(db: sqlite3.Connection) -> None:
    """Give a SQLite connection ``ST_IsEmpty``, ``ST_MinX``, ``ST_MaxX``, ``ST_MinY``, ``ST_MaxY``.

    The triggers that keep a GeoPackage's R-tree spatial indexes in step call them on every insert,
    and on every update of a feature table: a connection without them (the ``sqlite3`` shell,
    a script's own ``sqlite3.connect``) can read and delete rows but not insert or update them
    ("no such function: ST_IsEmpty"), which leaves the index whole. GDAL, and so QGIS, register
    their own; sitewatch's store registers these, and so must a script that writes to the tables.
    """
    for name, func in GPKG_FUNCTIONS.items():
        db.create_function(name, 1, func, deterministic=True)
