"""KML (Google Earth, QGIS, ``sitewatch sites export``) read as a GeoJSON FeatureCollection of sites.

Every Placemark with a polygon or a line is a feature, however deep its
Folders nest; altitudes are dropped. ``ExtendedData`` (``Data`` or
``SimpleData``, as sitewatch and QGIS write it) gives the properties
(``role``, ``site_id``, ``id``, ``kind``...); a Placemark without them is a
site named by its ``<name>``, its ``<description>`` (Google Earth's) the site's note. Pins (Points) and other geometries are skipped,
each with a :class:`~sitewatch.errors.SkippedInputWarning`.
"""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

from .errors import InputError, SkippedInputWarning
from .untrusted import parse_xml, read_zip_member

__all__ = ["kml_to_geojson", "read_kml"]

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_OTHER_GEOMETRIES = ("Point", "MultiGeometry", "Model", "Track", "MultiTrack", "LinearRing")


def _local(tag: str) -> str:
    # KML 2.2, Google's older 2.1 namespace and none at all read the same.
    return tag.rsplit("}", 1)[-1]


def _child(el: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in el if _local(c.tag) == name), None)


def _coords(el: ET.Element | None, where: str) -> list[list[float]]:
    text = "" if el is None else "".join(el.itertext())
    out = []
    for tup in text.split():
        try:
            lon, lat = (float(v) for v in tup.split(",")[:2])  # lon,lat[,alt]
        except ValueError as exc:
            raise InputError(f"{where}: coordinates {tup!r} are not lon,lat[,alt]") from exc
        out.append([lon, lat])
    return out


def _ring(boundary: ET.Element | None, where: str) -> list[list[float]]:
    ring = None if boundary is None else _child(boundary, "LinearRing")
    return _coords(None if ring is None else _child(ring, "coordinates"), where)


def _geometry(el: ET.Element, where: str) -> dict[str, Any] | None:
    kind = _local(el.tag)
    if kind == "Polygon":
        inner = [_ring(b, where) for b in el if _local(b.tag) == "innerBoundaryIs"]
        return {"type": "Polygon", "coordinates": [_ring(_child(el, "outerBoundaryIs"), where), *inner]}
    if kind == "LineString":
        return {"type": "LineString", "coordinates": _coords(_child(el, "coordinates"), where)}
    if kind == "MultiGeometry":
        parts = [g for g in (_geometry(c, where) for c in el) if g is not None]
        types = {g["type"] for g in parts}
        if len(parts) == 1:
            return parts[0]
        if types == {"Polygon"}:
            return {"type": "MultiPolygon", "coordinates": [g["coordinates"] for g in parts]}
        if types == {"LineString"}:
            return {"type": "MultiLineString", "coordinates": [g["coordinates"] for g in parts]}
        if parts:  # polygons and lines in one placemark: refused by name (it was skipped as if it held neither)
            return {"type": "GeometryCollection", "geometries": parts}
        return None
    return None


_INTEGER_TYPES = frozenset({"int", "uint", "short", "ushort"})
_REAL_TYPES = frozenset({"float", "double"})
_INTEGER = re.compile(r"[+-]?[0-9]+")


def _schemas(root: ET.Element) -> dict[str, dict[str, str]]:
    """Each ``<Schema>``'s declared field types (``int``, ``string``…), by the schema's id."""
    out: dict[str, dict[str, str]] = {}
    for schema in (el for el in root.iter() if _local(el.tag) == "Schema"):
        fields = {str(f.get("name")): (f.get("type") or "").strip().lower()
                  for f in schema if _local(f.tag) == "SimpleField" and f.get("name")}  # fmt: skip
        for key in (schema.get("id"), schema.get("name")):
            if key:
                out.setdefault(key, fields)
    return out


def _typed(name: str, text: str, declared: dict[str, str]) -> str | int | float:
    """A ``SimpleData`` value as its ``<Schema>`` types it: GDAL and QGIS write a layer's fields so.

    A number keeps its type, so that the integer ``id`` field QGIS gives every new layer reads as a
    row number (the name then makes the site's id) as it does from GeoJSON: read as text, every
    QGIS-saved KML gave sites ``1``, ``2``…, and a second such file replaced the first one's sites.
    GDAL's LIBKML driver leaves ``id`` out of the Schema it writes; undeclared, an ``id`` of digits
    alone is such a number too. (Google Earth and ``sites export`` write ``Data``, which stays text.)
    """
    kind = declared.get(name)
    try:
        if kind in _INTEGER_TYPES or (kind is None and name == "id" and _INTEGER.fullmatch(text.strip())):
            return int(text.strip())
        if kind in _REAL_TYPES:
            return float(text.strip())
    except ValueError:
        pass  # a value its schema does not fit stays the text it is
    return text


def _properties(placemark: ET.Element, schemas: dict[str, dict[str, str]]) -> dict[str, str | int | float]:
    props: dict[str, str | int | float] = {}
    name = _child(placemark, "name")
    if name is not None and (name.text or "").strip():
        props["name"] = (name.text or "").strip()
    data = _child(placemark, "ExtendedData")
    for el in [] if data is None else data.iter():
        if _local(el.tag) == "Data" and el.get("name"):
            value = _child(el, "value")
            props[str(el.get("name"))] = "" if value is None else (value.text or "")
        elif _local(el.tag) == "SimpleData" and el.get("name"):
            props[str(el.get("name"))] = el.text or ""
    for el in [] if data is None else (e for e in data.iter() if _local(e.tag) == "SchemaData"):
        declared = schemas.get((el.get("schemaUrl") or "").rsplit("#", 1)[-1], {})
        for cell in el:
            if _local(cell.tag) == "SimpleData" and cell.get("name") and cell.text:
                props[str(cell.get("name"))] = _typed(str(cell.get("name")), cell.text, declared)
    # Google Earth keeps what one writes about a place in its Description box, and has no other field: the
    # site's note (it was dropped). Not when the data says what the place is (role: `sites export` writes
    # its own summary of the data there) or gives a note.
    description = _child(placemark, "description")
    if description is not None and "role" not in props and "note" not in props:
        props["note"] = _description_text("".join(description.itertext()))
    return {k: v for k, v in props.items() if v != ""}


_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(\s[^<>]*)?/?>")
_LINE_TAGS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})


def _description_text(text: str) -> str:
    """A ``<description>`` as plain text: Google My Maps and Google Earth's rich Description write HTML (lines
    ended by ``<br>``, ``&amp;``, links), which the note kept, markup and all. Text with no tag in it (a ``<``
    alone, as in "3 < 4 m") is kept as written."""
    from html.parser import HTMLParser

    if not _TAG.search(text):
        return text.strip()
    parts: list[str] = []

    class _Text(HTMLParser):
        def handle_starttag(self, tag: str, attrs: Any) -> None:
            if tag in _LINE_TAGS and parts and not parts[-1].endswith("\n"):
                parts.append("\n")

        def handle_endtag(self, tag: str) -> None:
            self.handle_starttag(tag, [])

        def handle_data(self, data: str) -> None:
            parts.append(data)

    reader = _Text(convert_charrefs=True)
    reader.feed(text)
    reader.close()
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))  # (entities read by the parser)
    return "\n".join(line for line in lines if line)


def kml_to_geojson(text: str | bytes, origin: str = "KML") -> dict[str, Any]:
    """The Placemarks of a KML document as a GeoJSON FeatureCollection (lon/lat)."""
    try:
        root = parse_xml(text, origin)
    except ET.ParseError as exc:
        raise InputError(f"{origin}: not a valid KML (XML) file ({exc})") from exc
    if _local(root.tag) != "kml":
        raise InputError(f"{origin}: not a KML file (its root element is <{_local(root.tag)}>, not <kml>)")
    features = []
    skipped = []  # the placemarks without a polygon or line, named when they are all there is
    schemas = _schemas(root)
    for pm in (el for el in root.iter() if _local(el.tag) == "Placemark"):
        props = _properties(pm, schemas)
        where = f"{origin}, placemark {props.get('name', '(no name)')!r}"
        try:
            geom = next((g for g in (_geometry(c, where) for c in pm) if g is not None), None)
        except RecursionError as exc:  # MultiGeometry in MultiGeometry thousands deep
            raise InputError(f"{where}: its geometry is nested too deeply to read") from exc
        if geom is None:
            found = next((_local(c.tag) for c in pm if _local(c.tag) in _OTHER_GEOMETRIES), "no geometry")
            skipped.append(f"{props.get('name', '(no name)')!r} ({found})")
            warnings.warn(SkippedInputWarning(f"{where}: skipped, a site or berth needs a polygon or line ({found})"),
                          stacklevel=2)  # fmt: skip
            continue
        feature: dict[str, Any] = {"type": "Feature", "properties": props, "geometry": geom}
        if "id" not in props and _SLUG.fullmatch(pm.get("id") or ""):
            feature["id"] = pm.get("id")
        features.append(feature)
    if skipped and not features:  # "holds no features" would hide the pins it does hold
        more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
        raise InputError(f"{origin}: nothing to import: no placemark has a polygon or line (placemark {skipped[0]}{more}); "
                         "a site is an area: draw it as a polygon (Google Earth: Add Polygon), not as a pin")  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def read_kml(path: Path) -> dict[str, Any]:
    """A ``.kml`` file, or the first ``.kml`` inside a ``.kmz``, as :func:`kml_to_geojson` gives it."""
    try:
        if path.suffix.lower() != ".kmz":
            return kml_to_geojson(path.read_bytes(), origin=str(path))
        with zipfile.ZipFile(path) as kmz:
            names = [n for n in kmz.namelist() if n.lower().endswith(".kml")]
            if not names:
                raise InputError(f"{path}: the KMZ holds no .kml document")
            doc = "doc.kml" if "doc.kml" in names else names[0]  # Google Earth's main document
            return kml_to_geojson(read_zip_member(kmz, doc, str(path)), origin=f"{path}!{doc}")
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except (zipfile.BadZipFile, NotImplementedError, UnicodeDecodeError) as exc:
        # zipfile's directory: a version it lacks ("zip file version 15.7"), names flagged UTF-8 that are not
        raise InputError(f"{path}: not a KMZ (zip) file ({exc})") from exc
