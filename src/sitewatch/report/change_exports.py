"""The stored change regions for other programs: GeoJSON, KML (Google Earth), CSV and a GeoPackage (QGIS).

Each format is made from the FeatureCollection of :func:`stored_changes_to_geojson`, so every format
carries the same properties: the region (direction, area, magnitude), the pair it was found in
(both observations, their acquisition times, archived images and the sha256 of the images compared),
how (method and version, the fraction of the site compared) and whether the imagery is simulated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from shapely.geometry import shape

from ..files import written_whole
from ..model import Change, Observation, iso_utc, utc
from ..sites import kml_document, right_handed
from ..store.changes import ChangePair, pairs_with_regions
from ..store.gpkg import (
    APPLICATION_ID,
    USER_VERSION,
    as_multipolygon,
    register_gpkg_functions,
    to_gpkg_blob,
)
from ..store.schema import GPKG_CORE, GPKG_EXTENSIONS, rtree_index_sql
from ..store.sqlite import stored_time
from .colours import CHANGE_COLOURS, OTHER_COLOUR, changes_legend
from .credits import credits_text
from .detection_exports import (
    features_to_csv,
    kml_legend,
    kml_note,
    kml_placemark,
    kml_schema,
    kml_style,
    kml_text,
    kml_title,
    kml_when,
)
from .exports import acquired_in

if TYPE_CHECKING:
    from ..store import Store

__all__ = [
    "CHANGE_FIELDS",
    "CHANGE_CSV_COLUMNS",
    "select_changes",
    "stored_changes_to_geojson",
    "change_feature",
    "change_name",
    "changes_to_kml",
    "changes_to_csv",
    "write_changes_gpkg",
]

CHANGE_FIELDS: dict[str, str] = {
    "change_id": "TEXT", "site_id": "TEXT", "direction": "TEXT", "area_m2": "REAL", "magnitude": "REAL",
    "before_id": "TEXT", "after_id": "TEXT", "before_acquired": "DATETIME", "after_acquired": "DATETIME",
    "before_acquired_date_only": "BOOLEAN", "after_acquired_date_only": "BOOLEAN",
    "last_seen_without": "DATETIME", "last_seen_without_id": "TEXT", "last_seen_without_date_only": "BOOLEAN",
    "first_seen": "DATETIME", "first_seen_id": "TEXT", "first_seen_date_only": "BOOLEAN", "sensor": "TEXT",
    "resolution_m": "REAL", "before_image": "TEXT", "after_image": "TEXT", "before_sha256": "TEXT",
    "after_sha256": "TEXT", "method": "TEXT", "method_version": "TEXT", "compared_fraction": "REAL",
    "simulated": "BOOLEAN", "credit": "TEXT",
}  # fmt: skip
"""A region's properties in every format, in order, with their GeoPackage column types; ``credit`` (the credits
of its two images, :func:`~sitewatch.report.credits.credits_text`) added last."""

CHANGE_CSV_COLUMNS: tuple[str, ...] = ("change_id", "site_id", "direction", "lon", "lat", *list(CHANGE_FIELDS)[3:], "wkt")
"""The CSV's columns: the region, its centroid, the other properties, then the polygon as WKT."""

Selected = tuple[ChangePair, Observation | None, Observation | None, list[Change]]
"""A stored pair with its before and after observations (None: no longer in the workspace) and its chosen regions."""


def select_changes(
    store: Store,
    site_ids: Sequence[str] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    directions: Collection[str] = (),
    min_area_m2: float = 0.0,
) -> list[Selected]:
    """Each stored pair of ``site_ids`` (default: every site) whose *after* image was acquired from
    ``start`` to ``end`` (inclusive, aware times; None: open), in time order, with its observations and
    its regions (largest first) of ``directions`` (empty: all) and at least ``min_area_m2``.

    The after image is when a region was first seen changed, so that is the time filtered on; an after
    image known only by its date is kept when that date lies within the dates of ``start`` and ``end``.
    A pair left without regions is listed too (an empty list): it was compared.
    """
    sites = list(site_ids) if site_ids else [s.id for s in store.sites()]
    selected: list[Selected] = []
    for sid in sites:
        obs = {o.id: o for o in store.observations(sid)}
        for pair, regions in pairs_with_regions(store, sid):
            before, after = obs.get(pair.before_id), obs.get(pair.after_id)
            if not acquired_in(pair.after_acquired, after is not None and after.acquired_date_only, start, end):
                continue
            kept = [c for c in regions if (not directions or c.direction in directions) and c.area_m2 >= min_area_m2]
            selected.append((pair, before, after, kept))
    return selected


def stored_changes_to_geojson(
    store: Store,
    site_ids: Sequence[str] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    directions: Collection[str] = (),
    min_area_m2: float = 0.0,
) -> dict[str, Any]:
    """The stored change regions with their pairs' provenance as a GeoJSON FeatureCollection (EPSG:4326).

    The arguments choose them as :func:`select_changes` does; each region's properties are
    :data:`CHANGE_FIELDS`: ``before_image`` and ``after_image`` are the observations' archived COGs,
    relative to the workspace folder; ``before_sha256`` and ``after_sha256`` those of the images compared
    (an observation ingested again since holds another file); ``*_acquired_date_only`` says only the date
    of that image is known (its time is 12:00 UTC, assumed); ``last_seen_without`` and ``first_seen`` (with
    their observations' ``_id`` and ``_date_only``) date the change the region is part of by every stored
    pair that saw it, as ``sitewatch change`` dates it (:func:`~sitewatch.change_dating.region_ends`; null
    for a region of a pair whose image was ingested again since); ``simulated`` is true for a pair with a
    simulated image, whose regions are no evidence about the real site.
    """
    from ..change_dating import region_ends

    chosen = select_changes(store, site_ids, start=start, end=end, directions=directions, min_area_m2=min_area_m2)
    ends: dict[str, dict[str, dict[str, object]]] = {}
    for sid in dict.fromkeys(pair.site_id for pair, _, _, regions in chosen if regions):
        ends |= region_ends(store, sid)  # of the site's whole series: a change is dated by every pair that saw it
    features = [change_feature(pair, before, after, c, ends.get(c.id)) for pair, before, after, regions in chosen for c in regions]
    return {"type": "FeatureCollection", "features": features}


def change_feature(
    pair: ChangePair, before: Observation | None, after: Observation | None, c: Change, ends: Mapping[str, Mapping[str, object]] | None = None
) -> dict[str, Any]:
    """Region ``c`` of ``pair`` (whose observations are ``before`` and ``after``) as a GeoJSON Feature
    with the properties of :func:`stored_changes_to_geojson`; ``ends`` dates its change
    (:func:`~sitewatch.change_dating.ends_json`; None: not dated, its dating properties null)."""
    shown = after or before
    without, first = (ends or {}).get("last_seen_without") or {}, (ends or {}).get("first_seen") or {}
    props = {
        "change_id": c.id, "site_id": c.site_id, "direction": c.direction, "area_m2": c.area_m2,
        "magnitude": c.magnitude, "before_id": pair.before_id, "after_id": pair.after_id,
        "before_acquired": iso_utc(pair.before_acquired), "after_acquired": iso_utc(pair.after_acquired),
        "before_acquired_date_only": before is not None and before.acquired_date_only,
        "after_acquired_date_only": after is not None and after.acquired_date_only,
        "last_seen_without": without.get("acquired"), "last_seen_without_id": without.get("observation"),
        "last_seen_without_date_only": without.get("acquired_date_only"),
        "first_seen": first.get("acquired"), "first_seen_id": first.get("observation"), "first_seen_date_only": first.get("acquired_date_only"),
        "sensor": pair.sensor, "resolution_m": shown.scene.resolution_m if shown else None,
        "before_image": before.path if before else None, "after_image": after.path if after else None,
        "before_sha256": pair.before_sha256 or None, "after_sha256": pair.after_sha256 or None,
        "method": c.method, "method_version": c.method_version, "compared_fraction": pair.compared_fraction,
        "simulated": pair.simulated,
        "credit": credits_text(o.scene for o in (before, after) if o is not None) or None,
    }  # fmt: skip
    # Every region a MultiPolygon, as the GeoPackage has them: a layer of Polygons and MultiPolygons mixed is
    # "Unknown" to GDAL, and QGIS asks which of the two to load.
    return {"type": "Feature", "geometry": right_handed(as_multipolygon(c.polygon)), "properties": props}


def change_name(props: dict[str, Any]) -> str:
    """What a region is called in Google Earth's list: ``appeared 2,400 m² (optical)``, ``simulated``
    beside the sensor of a simulated pair."""
    sensor = "SAR" if props["sensor"] == "sar" else str(props["sensor"])
    return f"{props['direction']} {props['area_m2']:,.0f} m² ({sensor}{', simulated' if props['simulated'] else ''})"


def _kml_styles() -> str:
    # An outline in the dashboard's colour of each direction over a faint fill, so the ground under stays visible.
    styles = {**CHANGE_COLOURS, "other": OTHER_COLOUR}
    return "".join(kml_style(name, rgb, 2) for name, rgb in styles.items())


def changes_to_kml(fc: dict[str, Any], title: str = "sitewatch changes") -> str:
    """The features of :func:`stored_changes_to_geojson` as a KML 2.2 document.

    A folder per site, in it a folder per pair (``dunai 2024-10-01 → 2024-10-04 optical``), in it a Placemark
    per region with its polygon, styled by its direction in the dashboard's colours
    (:func:`~sitewatch.report.colours.changes_legend`, which the document's ``<Snippet>`` gives), a ``<TimeSpan>`` from the before to the after acquisition (Google
    Earth's time slider shows the region from when it may have appeared until it was seen) and the
    properties as ``ExtendedData``; the document's name says when the imagery is simulated.
    """
    feats = sorted(fc["features"], key=lambda f: (f["properties"]["site_id"], f["properties"]["after_acquired"],
                                                  f["properties"]["before_acquired"], f["properties"]["after_id"]))  # fmt: skip
    parts = [f"<name>{escape(kml_title(title, fc))}</name>{kml_legend(f'Outlines by direction: {changes_legend()}.')}{kml_note(fc)}{_kml_styles()}"
             + kml_schema("change", [f["properties"] for f in feats])]
    for site_id, in_site in groupby(feats, key=lambda f: f["properties"]["site_id"]):
        parts.append(f"<Folder><name>{escape(kml_text(site_id))}</name>")
        for _, in_pair in groupby(in_site, key=lambda f: (f["properties"]["before_id"], f["properties"]["after_id"])):
            regions = list(in_pair)
            first = regions[0]["properties"]
            # The site first: QGIS (GDAL) opens each folder as a layer, and one pair's dates at two sites read alike.
            pair_name = (f"{site_id} {first['before_acquired'][:10]} → {first['after_acquired'][:10]} {first['sensor']}"
                         + (" (simulated)" if first["simulated"] else ""))  # fmt: skip
            desc = f"{first['before_id']} → {first['after_id']}"
            parts.append(f"<Folder><name>{escape(kml_text(pair_name))}</name><description>{escape(kml_text(desc))}</description>")
            for f in regions:
                p = f["properties"]
                style = p["direction"] if p["direction"] in CHANGE_COLOURS else "other"
                span = f"<TimeSpan><begin>{kml_when(p, 'before_')}</begin><end>{kml_when(p, 'after_')}</end></TimeSpan>"
                parts.append(kml_placemark(change_name(p), span, style, p, f["geometry"], "change"))
            parts.append("</Folder>")
        parts.append("</Folder>")
    return kml_document(parts)


def changes_to_csv(fc: dict[str, Any]) -> str:
    """The features of :func:`stored_changes_to_geojson` as CSV, one row each (:data:`CHANGE_CSV_COLUMNS`);
    a text cell a spreadsheet would run as a formula starts with ``'``."""
    return features_to_csv(fc["features"], CHANGE_CSV_COLUMNS)


def write_changes_gpkg(path: Path, fc: dict[str, Any], layer: str = "changes") -> int:
    """Write the features of :func:`stored_changes_to_geojson` as a standalone GeoPackage of one
    MULTIPOLYGON layer (EPSG:4326) whose columns are :data:`CHANGE_FIELDS`, times as DATETIME and flags
    as BOOLEAN (so QGIS's temporal controller and attribute table read them as such), with a spatial
    index as the workspace's layers have; return how many regions it holds.

    It is written under a partial name and renamed over ``path`` once whole: a rerun replaces the
    file, and a failure leaves nothing behind.
    """
    feats = fc["features"]
    geoms = [as_multipolygon(shape(f["geometry"])) for f in feats]
    columns = ", ".join(f"{name} {kind}" for name, kind in CHANGE_FIELDS.items())
    bounds = [g.bounds for g in geoms if g is not None]
    extent = (min(b[0] for b in bounds), min(b[1] for b in bounds), max(b[2] for b in bounds), max(b[3] for b in bounds)) if bounds else (None,) * 4
    rows = [(to_gpkg_blob(g), *(_gpkg_value(CHANGE_FIELDS[k], f["properties"][k]) for k in CHANGE_FIELDS))
            for f, g in zip(feats, geoms, strict=True)]  # fmt: skip
    with written_whole(path, (sqlite3.Error,)) as tmp:
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            register_gpkg_functions(db)  # the spatial index's triggers call them on each insert
            # The spatial index QGIS reads a map view through, filled by its triggers as the rows go in
            # and kept by them when the layer is edited there.
            db.executescript(f"PRAGMA application_id = {APPLICATION_ID};\nPRAGMA user_version = {USER_VERSION};\nBEGIN;\n"
                             + GPKG_CORE + f"\nCREATE TABLE {layer} (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON, {columns});"
                             + GPKG_EXTENSIONS + rtree_index_sql(layer))  # fmt: skip
            db.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y, srs_id)"
                " VALUES (?, 'features', ?, ?, ?, ?, ?, ?, 4326)",
                # with how its paths were written (--share), which QGIS shows in the layer's properties
                (layer, layer, "Regions that changed between two observations of a site (sitewatch export)"
                 + (f"; {fc['note']}" if fc.get("note") else ""), *extent),
            )
            db.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'MULTIPOLYGON', 4326, 0, 0)", (layer,))
            marks = ", ".join("?" * (len(CHANGE_FIELDS) + 1))
            db.executemany(f"INSERT INTO {layer} (geom, {', '.join(CHANGE_FIELDS)}) VALUES ({marks})", rows)
            db.execute("COMMIT")
        finally:
            db.close()
    return len(feats)


def _gpkg_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "DATETIME":
        return stored_time(utc(value))
    return int(value) if kind == "BOOLEAN" else value
