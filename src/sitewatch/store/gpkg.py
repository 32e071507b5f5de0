"""Geometry encoding for OGC GeoPackage: the standard GP header followed by WKB.

Kept separate from the store so the encoding can be tested on its own and
reused by exports. See OGC 12-128r18, section 2.1.3 "Geometry Encoding".
"""

from __future__ import annotations

import struct

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

__all__ = ["to_gpkg_blob", "from_gpkg_blob", "as_multipolygon", "multipolygon_blob", "APPLICATION_ID", "USER_VERSION"]

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
