"""``sitewatch ais --out FILE``: the matched, dark and unseen points as GeoJSON, CSV or KML.

Each format is made from the same rows (:func:`ais_point_features`), so every one carries the
columns of :data:`~sitewatch.analysis.ais.AIS_CSV_COLUMNS`, typed the same way.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any
from xml.sax.saxutils import escape

from ..analysis.ais import AIS_CSV_COLUMNS
from ..sites import kml_document
from .colours import AIS_STATUS_COLOUR_NAMES, AIS_STATUS_COLOURS
from .detection_exports import (
    features_to_csv,
    kml_legend,
    kml_placemark,
    kml_schema,
    kml_text,
    kml_title,
)

__all__ = ["AIS_OUT_SUFFIXES", "ais_points_to_csv", "ais_points_to_kml", "ais_point_features"]

AIS_OUT_SUFFIXES = (".geojson", ".json", ".csv", ".kml")
"""The names ``sitewatch ais --out`` writes: GeoJSON, CSV or KML by the suffix."""

_STATUSES = ("matched", "dark", "unseen")


def ais_point_features(fc: dict[str, Any]) -> list[dict[str, Any]]:
    """The features of :func:`~sitewatch.analysis.ais.ais_to_geojson` with every column of
    :data:`~sitewatch.analysis.ais.AIS_CSV_COLUMNS` first, in its order (None where a status has none: an
    unseen position has no detection, a dark detection no MMSI), then the others (``gate_m``, ``sog_kn``…).

    A file's fields are then the same whatever status its first point has (QGIS and GDAL type a GeoJSON
    layer's fields from its features); ``lon``, ``lat``, ``ais_lon`` and ``ais_lat`` are to 1 cm, as the point is."""
    out = []
    for f in fc["features"]:
        props = dict.fromkeys(AIS_CSV_COLUMNS) | f["properties"]
        props.update({k: round(props[k], 7) for k in ("lon", "lat", "ais_lon", "ais_lat") if props[k] is not None})
        out.append({**f, "properties": props})
    return out


def ais_points_to_csv(fc: dict[str, Any]) -> str:
    """The points as a spreadsheet's CSV, a row each (:data:`~sitewatch.analysis.ais.AIS_CSV_COLUMNS`)."""
    return features_to_csv(ais_point_features(fc), AIS_CSV_COLUMNS)


def _point_style(status: str) -> str:
    # A white circle tinted by IconStyle's colour (Google Earth's yellow pin would mix with the tint); KML colours
    # are aabbggrr. GDAL's LIBKML driver (QGIS) carries the style as the placemark's by name too.
    colour = AIS_STATUS_COLOURS[status]
    r, g, b = colour[1:3], colour[3:5], colour[5:7]
    icon = "https://maps.google.com/mapfiles/kml/shapes/placemark_circle.png"
    return (f'<Style id="ais-{status}"><IconStyle><color>ff{b}{g}{r}</color><scale>1.2</scale>'
            f"<Icon><href>{icon}</href></Icon></IconStyle></Style>")  # fmt: skip


def _point_name(p: dict[str, Any]) -> str:
    # The status first (what the colour says, for a reader who cannot tell the colours apart), then the vessel.
    sensor = "SAR" if p["sensor"] == "sar" else str(p["sensor"])
    if p["status"] == "dark":
        what = f"{'≥ ' if p['truncated'] else ''}{p['length_m']:.0f} m detection"
    else:
        what = f"MMSI {p['mmsi']}{' ' + p['name'] if p['name'] else ''}"
    return f"{p['status']} {what} ({sensor}{', simulated' if p['simulated'] else ''})"


def ais_points_to_kml(fc: dict[str, Any], title: str = "sitewatch AIS: matched, dark and unseen") -> str:
    """The points as a KML 2.2 document for Google Earth or QGIS.

    A folder per site, in it a folder per status (``SITE dark``: QGIS opens each folder as a layer), in it a
    Point placemark per row with the image's time as ``<TimeStamp>``, a style of its status (colours of
    :data:`~sitewatch.report.colours.AIS_STATUS_COLOURS`, named in the document's ``<Snippet>``; the
    placemark's name starts with the status too) and the CSV's columns as typed ``SchemaData``. The
    document's name says when the imagery is simulated, as the detections' KML does."""
    feats = sorted(ais_point_features(fc), key=lambda f: (f["properties"]["site_id"], _STATUSES.index(f["properties"]["status"]),
                                                            f["properties"]["acquired"]))  # fmt: skip
    rows = [{k: f["properties"][k] for k in AIS_CSV_COLUMNS} for f in feats]
    legend = "; ".join(f"{s} {AIS_STATUS_COLOUR_NAMES[s]}" for s in _STATUSES)
    parts = [f"<name>{escape(kml_title(title, fc))}</name>"
             + kml_legend(f"Points by status: {legend}. A dark detection is a candidate dark vessel only.")
             + "".join(_point_style(s) for s in _STATUSES) + kml_schema("ais", rows)]  # fmt: skip
    for site_id, in_site in groupby(zip(feats, rows, strict=True), key=lambda fr: fr[0]["properties"]["site_id"]):
        parts.append(f"<Folder><name>{escape(kml_text(site_id))}</name>")
        for status, of_status in groupby(in_site, key=lambda fr: fr[0]["properties"]["status"]):
            parts.append(f"<Folder><name>{escape(kml_text(site_id))} {status}</name>")
            for f, row in of_status:
                when = f"<TimeStamp><when>{escape(kml_text(row['acquired']))}</when></TimeStamp>"
                parts.append(kml_placemark(_point_name(row), when, f"ais-{status}", row, f["geometry"], "ais"))
            parts.append("</Folder>")
        parts.append("</Folder>")
    return kml_document(parts)
