"""A site's detections for other programs: KML (Google Earth), CSV (spreadsheets) and a GeoPackage (QGIS).

Each text format is made from the FeatureCollection of
:func:`~sitewatch.report.exports.detections_to_geojson`, so every format carries the same
properties; the GeoPackage is written by the workspace's own :class:`~sitewatch.store.Store`, so
its ``detections`` and ``sites`` layers have the workspace's columns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import shapely
from shapely.geometry import shape

from ..errors import StoreError
from ..files import written_whole
from ..geo import lonlat_centroid
from ..share import SHARED_NOTE
from ..sites import kml_document, kml_geometry
from ..untrusted import without_controls
from .colours import KIND_CUES, OTHER_CUE
from .credits import credits_text
from .exports import csv_cell, select_detections

if TYPE_CHECKING:
    from ..model import Detection, Observation
    from ..share import SharedPaths
    from ..store import Store

__all__ = [
    "DETECTION_CSV_COLUMNS",
    "detection_name",
    "detections_to_csv",
    "detections_to_kml",
    "features_to_csv",
    "kml_legend",
    "kml_note",
    "kml_placemark",
    "kml_schema",
    "kml_style",
    "kml_text",
    "kml_title",
    "kml_when",
    "write_detections_gpkg",
]

DETECTION_CSV_COLUMNS: tuple[str, ...] = (
    "id", "site_id", "kind", "lon", "lat", "length_m", "width_m", "heading_deg", "score", "truncated",
    "class_candidates", "berth", "observation_id", "scene_id", "acquired", "acquired_date_only", "sensor",
    "platform", "resolution_m", "image", "detector", "sha256", "simulated", "credit", "wkt",
)  # fmt: skip
"""The CSV's columns: the centroid first, the properties (the image's credit the last of them), then the
oriented box as WKT."""


def detection_name(props: dict[str, Any]) -> str:
    """What a detection is called in Google Earth's list: ``118 m vessel (SAR)``; ``≥ 118 m`` for a
    truncated one (its length a lower bound), and ``simulated`` beside the sensor of a simulated scene."""
    sensor = "SAR" if props["sensor"] == "sar" else str(props["sensor"])
    length = f"{'≥ ' if props['truncated'] else ''}{props['length_m']:.0f} m"
    return f"{length} {props['kind']} ({sensor}{', simulated' if props['simulated'] else ''})"


def kml_text(value: Any) -> str:
    """A property as the text of a KML element: ``true``/``false``, empty for None, without control characters."""
    if isinstance(value, bool):
        return "true" if value else "false"
    # XML 1.0 has no place for control characters (a catalogue's scene id may hold one): the file would not parse.
    return "" if value is None else without_controls(str(value))


def kml_title(title: str, fc: dict[str, Any]) -> str:
    """The ``<name>`` of a KML document of ``fc``'s features: ``title``, and ``(SIMULATED imagery)`` when any of
    them rests on a simulated scene, since Google Earth's Places list shows a document by its name alone."""
    simulated = any(f["properties"]["simulated"] for f in fc["features"])
    return f"{title} (SIMULATED imagery)" if simulated else title


def kml_note(fc: dict[str, Any]) -> str:
    """The document's ``<description>``: the collection's ``note`` (how its paths were written), if any."""
    return f"<description>{escape(kml_text(fc['note']))}</description>" if fc.get("note") else ""


def kml_legend(text: str) -> str:
    """What the outlines' styles mean as the document's ``<Snippet>``, which Google Earth shows under its
    name in the Places list (before ``<description>`` in KML 2.2's order)."""
    return f'<Snippet maxLines="3">{escape(text)}</Snippet>'


def kml_style(name: str, colour: str, width: float) -> str:
    """A ``<Style>`` of id ``name``: an outline of ``colour`` (``#rrggbb``), ``width`` pixels wide, over a
    faint fill of it, so the ground under stays visible."""
    # KML colours are aabbggrr.
    r, g, b = colour[1:3], colour[3:5], colour[5:7]
    return (f'<Style id="{escape(name)}"><LineStyle><color>ff{b}{g}{r}</color><width>{width:g}</width></LineStyle>'
            f"<PolyStyle><color>40{b}{g}{r}</color></PolyStyle></Style>")  # fmt: skip


_OTHER_STYLE = "other-kind"
"""The style of a detection of a kind not in :data:`~sitewatch.report.colours.KIND_CUES`."""


def _kind_styles() -> str:
    # KML draws no dashes: each kind's line is as wide as its cue says (Google Earth draws LineStyle's width,
    # GDAL's LIBKML driver gives QGIS each placemark's style by name, "@vessel"), and its name ("118 m vessel")
    # says the kind in the Places list and the balloon.
    return "".join(kml_style(kind, cue.colour, cue.kml_width) for kind, cue in KIND_CUES.items()) + kml_style(
        _OTHER_STYLE, OTHER_CUE.colour, OTHER_CUE.kml_width)


def _kinds_legend() -> str:
    widths = "; ".join(f"{kind} {cue.colour_name}, {cue.kml_width:g} px" for kind, cue in KIND_CUES.items())
    return f"Outlines by kind, colour and line width: {widths}; any other kind {OTHER_CUE.colour_name}."


def _candidates(props: dict[str, Any]) -> dict[str, float]:
    return {name: round(p, 3) for name, p in props["class_candidates"]}


def kml_when(props: dict[str, Any], prefix: str = "") -> str:
    """A feature's ``{prefix}acquired`` as a KML time (``<when>``, ``<begin>``, ``<end>``): KML takes a date
    alone, so an image known only by its date (``{prefix}acquired_date_only``) is not given the assumed 12:00."""
    acquired = str(props[f"{prefix}acquired"])
    return acquired[:10] if props[f"{prefix}acquired_date_only"] else acquired


def _kml_type(values: Sequence[Any]) -> str:
    # KML's SimpleField types; GDAL (and so QGIS) reads bool, int and double fields as such, text as text.
    given = [v for v in values if v is not None]
    if given and all(isinstance(v, bool) for v in given):
        return "bool"
    if given and all(isinstance(v, int) and not isinstance(v, bool) for v in given):
        return "int"
    if given and all(isinstance(v, int | float) and not isinstance(v, bool) for v in given):
        return "double"
    return "string"


def kml_schema(schema_id: str, rows: Sequence[dict[str, Any]]) -> str:
    """A ``<Schema>`` typing the properties of ``rows`` (``bool``, ``int``, ``double``, else ``string``), in the
    order the rows give them, for :func:`kml_placemark`'s ``SchemaData``.

    Written as ``Data`` (untyped), every value came into QGIS (GDAL's LIBKML driver) as text: lengths
    sorted as words ("111" before "35"), a filter ``length_m > 100`` compared text, and ``simulated`` was
    the word ``false``. Typed so, they come in as numbers and booleans. No rows, no Schema (nothing uses it).
    """
    if not rows:
        return ""
    names = list(dict.fromkeys(k for row in rows for k in row))
    fields = "".join(f'<SimpleField name="{escape(name)}" type="{_kml_type([row.get(name) for row in rows])}"/>' for name in names)
    return f'<Schema name="{escape(schema_id)}" id="{escape(schema_id)}">{fields}</Schema>'


def kml_placemark(name: str, when: str, style: str, data: dict[str, Any], geometry: dict[str, Any], schema: str) -> str:
    """One feature's KML Placemark: its ``name``, its time (``when``, a ``<TimeStamp>`` or ``<TimeSpan>``
    element), its ``style`` id, ``data`` as ``ExtendedData`` (``SchemaData`` of the document's ``<Schema>``
    ``schema``, :func:`kml_schema`; None left out) and its GeoJSON ``geometry``."""
    cells = "".join(f'<SimpleData name="{escape(k)}">{escape(kml_text(v))}</SimpleData>'
                    for k, v in data.items() if v is not None and kml_text(v) != "")  # fmt: skip
    # In KML 2.2's order (a strict reader refuses others): the time, then the style.
    return (
        f"<Placemark><name>{escape(kml_text(name))}</name>{when}<styleUrl>#{style}</styleUrl>"
        f'<ExtendedData><SchemaData schemaUrl="#{escape(schema)}">{cells}</SchemaData></ExtendedData>'
        f"{kml_geometry(shape(geometry))}</Placemark>"
    )


def detections_to_kml(fc: dict[str, Any], title: str = "sitewatch detections") -> str:
    """The features of :func:`~sitewatch.report.exports.detections_to_geojson` as a KML 2.2 document.

    A folder per site, in it a folder per acquisition date (UTC; named ``SITE DATE``, as QGIS lists it as a
    layer), in it a Placemark per detection
    with its box, the acquisition time as ``<TimeStamp>`` (Google Earth's time slider), a style of its
    kind (the dashboard's colour, and a line width of its own since KML cannot dash; the document's
    ``<Snippet>`` names them) and the properties as ``ExtendedData``; the document's name says when the
    imagery is simulated (:func:`kml_title`).
    """
    feats = sorted(fc["features"], key=lambda f: (f["properties"]["site_id"], f["properties"]["acquired"]))
    rows = [_kml_row(f["properties"]) for f in feats]
    parts = [f"<name>{escape(kml_title(title, fc))}</name>{kml_legend(_kinds_legend())}{kml_note(fc)}{_kind_styles()}"
             + kml_schema("detection", rows)]
    for site_id, in_site in groupby(feats, key=lambda f: f["properties"]["site_id"]):
        parts.append(f"<Folder><name>{escape(kml_text(site_id))}</name>")
        for day, on_day in groupby(in_site, key=lambda f: f["properties"]["acquired"][:10]):
            # The site in the date's name too: QGIS (GDAL) opens each folder as a layer of its own, and the same
            # date at two sites was "2024-10-14" and "2024-10-14 (#2)", neither saying which site.
            parts.append(f"<Folder><name>{escape(kml_text(site_id))} {escape(day)}</name>")
            for f in on_day:
                p = f["properties"]
                style = p["kind"] if p["kind"] in KIND_CUES else _OTHER_STYLE
                parts.append(kml_placemark(
                    detection_name(p), f"<TimeStamp><when>{kml_when(p)}</when></TimeStamp>", style, _kml_row(p), f["geometry"], "detection"
                ))  # fmt: skip
            parts.append("</Folder>")
        parts.append("</Folder>")
    return kml_document(parts)


def _kml_row(props: dict[str, Any]) -> dict[str, Any]:
    # A detection's properties as its placemark's data: class candidates as the CSV writes them.
    return {**props, "class_candidates": csv_cell(_candidates(props))}


def detections_to_csv(fc: dict[str, Any]) -> str:
    """The features of :func:`~sitewatch.report.exports.detections_to_geojson` as CSV, one row each
    (:data:`DETECTION_CSV_COLUMNS`); a text cell a spreadsheet would run as a formula starts with ``'``."""
    features = [{**f, "properties": {**f["properties"], "class_candidates": _candidates(f["properties"])}} for f in fc["features"]]
    return features_to_csv(features, DETECTION_CSV_COLUMNS)


def features_to_csv(features: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """GeoJSON features as CSV, a row each: the ``columns`` of their properties, ``lon`` and ``lat`` of
    their geometry's centroid and ``wkt`` of the geometry; cells as :func:`~sitewatch.report.exports.csv_cell`
    writes them, None as an empty cell."""
    buf = io.StringIO()
    w = csv.writer(buf)  # lines end CRLF (RFC 4180), the csv module's own default
    w.writerow(columns)
    for f in features:
        p = dict(f["properties"])
        geom = shape(f["geometry"])
        lon, lat = lonlat_centroid(geom)  # of parts either side of the antimeridian too
        p.update(lon=round(lon, 7), lat=round(lat, 7), wkt=shapely.to_wkt(geom, rounding_precision=7))
        w.writerow(["" if p[k] is None else csv_cell(p[k]) for k in columns])
    return buf.getvalue()


def write_detections_gpkg(
    store: Store,
    path: Path,
    site_ids: Sequence[str] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    kind: str | None = None,
    share: SharedPaths | None = None,
    selected: list[tuple[Observation, list[Detection]]] | None = None,
) -> int:
    """Write a standalone GeoPackage of the chosen detections (as :func:`select_detections` chooses
    them) with their sites, observations and scenes; return how many detections it holds.

    It is a new database with the workspace's schema, written under a partial name and renamed
    over ``path`` once whole: a rerun replaces the file, and a failure leaves nothing behind. With
    ``share``, the observations' provenance, the scenes' files and the sites' coordinate sources name no
    local path outside the workspace, and ``sitewatch_meta`` says so under ``paths``. ``selected``: what
    :func:`select_detections` gave for these arguments, when the caller has it already (``sitewatch export``
    makes its count and message from it): the store is then not read for them again.
    """
    from ..store import Store

    if selected is None:
        selected = select_detections(store, site_ids, start=start, end=end, kind=kind)
    # The sites read once (every site's polygon, berths and water were read twice: once for their ids); the
    # sites named, by id as store.sites() orders them, read alone rather than among thousands.
    chosen = [store.get_site(sid) for sid in sorted(set(site_ids))] if site_ids else store.sites()
    # The footprints of the chosen sites' observations only, not of every site in the workspace.
    footprints: dict[str, Any] = store.observation_footprints(s.id for s in chosen)
    with written_whole(path, (StoreError,)) as tmp, Store(tmp) as out, out.transaction():
        for s in chosen:
            out.put_site(share.site(s) if share else s)
        for o, dets in selected:
            out.put_observation(share.observation(o) if share else o, footprints.get(o.id))
            out.replace_detections(o, dets)
        if share:
            out.set_meta("paths", SHARED_NOTE)
        # The credits of the images the detections were found in: the layers' columns are the workspace's, so the
        # credit a picture made of them needs is in the metadata table, as `imagery_credits`.
        out.set_meta("imagery_credits", credits_text(o.scene for o, dets in selected if dets))
    return sum(len(dets) for _, dets in selected)
