"""Exports: the timeline as CSV/JSON, detections as GeoJSON (KML, CSV, GeoPackage: :mod:`.detection_exports`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..analysis.occupancy import Timeline, timeline_to_dict
from ..files import write_text_atomic
from ..model import Detection, Observation, iso_utc
from ..sites import right_handed
from .credits import credit_text, scene_credit

if TYPE_CHECKING:
    from ..store import Store

__all__ = [
    "TIMELINE_CSV_COLUMNS",
    "acquired_in",
    "date_zone",
    "timeline_to_csv",
    "timeline_to_json",
    "detections_to_geojson",
    "detections_feature_collection",
    "detection_feature",
    "with_sitewatch_version",
    "select_detections",
    "csv_cell",
    "write_text_atomic",
]

TIMELINE_CSV_COLUMNS: tuple[str, ...] = (
    "site_id",
    "date",
    "date_zone",
    "period",
    "sensors",
    "vessels",
    "at_berth",
    "off_berth",
    "by_sensor",
    "others",
    "arrivals",
    "departures",
    "arrival_berths",
    "departure_berths",
    "hidden_berths",
    "observation_ids",
    "scene_ids",
    "simulated",
    # Added last, so the columns before them keep their places.
    "departures_last_seen",
    "truncated_vessels",
)


def date_zone(utc_offset_hours: float) -> str:
    """What a timeline date is: ``UTC``, or ``UTC+10``, ``UTC-3:30`` with ``--utc-offset``.

    The timeline takes the date of each acquisition time plus the offset, so
    with one its dates (and --from/--to) are local dates, not UTC dates.
    """
    if not utc_offset_hours:
        return "UTC"
    minutes = round(abs(utc_offset_hours) * 60)
    hours, rest = divmod(minutes, 60)
    return f"UTC{'+' if utc_offset_hours > 0 else '-'}{hours}" + (f":{rest:02d}" if rest else "")


def csv_cell(value: Any) -> str:
    """A value as a CSV cell: a mapping ``a:1;b:2``, a sequence ``x;y``, a bool ``true``/``false``; text a spreadsheet
    would run as a formula (``=…``, ``+…``, ``-…``, ``@…``) is marked as text with a leading apostrophe."""
    # Mappings as "a:1;b:2" and sequences as "x;y" keep one row per date and stay spreadsheet-friendly.
    if isinstance(value, dict):
        return _not_formula(";".join(f"{k}:{v}" for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return _not_formula(";".join(str(v) for v in value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (int, float)) else _not_formula(str(value))


def _not_formula(text: str) -> str:
    # Berth ids and scene ids come from downloaded gazetteers and catalogues: a spreadsheet opening
    # the CSV runs a cell starting "=", "+", "-" or "@" as a formula (=HYPERLINK(…), =WEBSERVICE(…)).
    # A leading apostrophe is the spreadsheets' own "this is text" mark (OWASP's CSV-injection advice).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def timeline_to_csv(tl: Timeline) -> str:
    """The timeline rows as CSV text, one row per usable date."""
    buf = io.StringIO()
    w = csv.writer(buf)  # lines end CRLF (RFC 4180), the csv module's own default
    w.writerow(TIMELINE_CSV_COLUMNS)
    # Each row says whether its date is a UTC date or a local one (--utc-offset): CSVs get combined.
    zone = date_zone(tl.params.utc_offset_hours)
    for row in timeline_to_dict(tl)["rows"]:
        w.writerow([csv_cell(row[c]) if c != "date_zone" else zone for c in TIMELINE_CSV_COLUMNS])
    return buf.getvalue()


def timeline_to_json(tl: Timeline) -> str:
    """The timeline (parameters, periods with their summary lines, rows, skipped observations) as JSON."""
    return json.dumps(timeline_to_dict(tl), indent=1, ensure_ascii=False)


def acquired_in(acquired: datetime, date_only: bool, start: datetime | None, end: datetime | None) -> bool:
    """Whether an acquisition time lies from ``start`` to ``end`` (inclusive, aware times; None: open).

    An image known only by its date (``date_only``) has no time to compare: it is in when its date
    lies within the dates of ``start`` and ``end``.
    """
    if date_only:
        day = acquired.date()
        return (start is None or day >= start.date()) and (end is None or day <= end.date())
    return (start is None or acquired >= start) and (end is None or acquired <= end)


def select_detections(
    store: Store,
    site_ids: Sequence[str] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    kind: str | None = None,
) -> list[tuple[Observation, list[Detection]]]:
    """Each observation of ``site_ids`` (default: every site) acquired from ``start`` to ``end``
    (inclusive, aware times; None: open), oldest first, with its detections of ``kind`` (None: all).

    An observation with no detection of that kind is listed too (an empty list): it was looked at.
    An image known only by its date (:attr:`~sitewatch.model.Observation.acquired_date_only`) is
    kept when that date lies within the dates of ``start`` and ``end``.
    """
    # Of every site, those with observations (one query): a port list's thousands of others have none to read.
    sites = list(site_ids) if site_ids else store.imaged_site_ids()
    # Read the period's rows alone (a day either side: an image known by its date alone is kept by its date), not
    # the site's years of them.
    since, until = _widened(start, -1), _widened(end, 1)
    selected = []
    for sid in sites:
        by_obs: dict[str, list[Detection]] = {}
        for d in store.detections(site_id=sid, kind=kind, since=since, until=until):
            by_obs.setdefault(d.observation_id, []).append(d)
        selected += [(o, by_obs.get(o.id, [])) for o in store.observations(sid, since=since, until=until)
                     if acquired_in(o.scene.acquired, o.acquired_date_only, start, end)]  # fmt: skip
    return selected


def _widened(t: datetime | None, days: int) -> datetime | None:
    """``t`` moved by ``days`` days; None for none, or past year 1 or 9999 (read without that edge)."""
    try:
        return None if t is None else t + timedelta(days=days)
    except OverflowError:
        return None


def detections_to_geojson(
    store: Store,
    site_ids: Sequence[str] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """Detections with their provenance (scene, time, sensor, file hash) as a GeoJSON FeatureCollection.

    ``start``, ``end`` and ``kind`` choose them as :func:`select_detections` does.
    ``truncated`` says a detection reaches the image's edge or a pixel without data (its length and
    width lower bounds, its ``class_candidates`` empty); null for one stored before it was recorded.
    ``acquired_date_only`` says only the date of the image is known: its ``acquired`` is 12:00 UTC of
    that date, assumed (:attr:`~sitewatch.model.Observation.acquired_date_only`). ``image`` is the
    observation's archived COG, relative to the workspace folder; ``simulated`` is true for a
    simulated scene, whose detections are no evidence about the real site.
    """
    return detections_feature_collection(select_detections(store, site_ids, start=start, end=end, kind=kind))


def detections_feature_collection(selected: Sequence[tuple[Observation, Sequence[Detection]]]) -> dict[str, Any]:
    """What :func:`select_detections` chose as :func:`detections_to_geojson`'s FeatureCollection."""
    return {"type": "FeatureCollection", "features": [detection_feature(o, d) for o, dets in selected for d in dets]}


def with_sitewatch_version(fc: dict[str, Any]) -> dict[str, Any]:
    """``fc`` as a file holds it: a top-level ``sitewatch_version`` (a GeoJSON foreign member) after its ``type``.

    Each feature's ``detector`` names the version that found it; a file exported later from the store is written
    by another version, which the file names as ``detect-image``'s output names its own. The dashboard's
    answers are the collection without it, as :func:`detections_to_geojson` gives it.
    """
    return {"type": fc["type"], "sitewatch_version": __version__} | {k: v for k, v in fc.items() if k != "type"}


def detection_feature(o: Observation, d: Detection) -> dict[str, Any]:
    """One detection of observation ``o`` as a GeoJSON Feature, with the properties
    :func:`detections_to_geojson` gives it."""
    return {
        "type": "Feature",
        "geometry": right_handed(d.footprint),
        "properties": {
            "id": d.id,
            "site_id": o.site_id,
            "kind": d.kind,
            "length_m": d.length_m,
            "width_m": d.width_m,
            "heading_deg": d.heading_deg,
            "score": d.score,
            "berth": d.berth_id,
            # A truncated vessel's size is a lower bound: no class by that size (null: not recorded).
            "truncated": d.truncated,
            "class_candidates": [] if d.truncated else [[c.name, c.likelihood] for c in d.class_candidates],
            "detector": f"{d.detector} {d.detector_version}",
            "observation_id": d.observation_id,
            "scene_id": o.scene.id,
            "acquired": iso_utc(o.scene.acquired),
            "acquired_date_only": o.acquired_date_only,
            "sensor": o.scene.sensor,
            "platform": o.scene.platform or None,
            "resolution_m": o.scene.resolution_m,
            "image": o.path,
            "sha256": o.sha256,
            "simulated": o.scene.simulated,
            # The credit the image's licence asks for beside a picture made of it (report/credits.py); last, so
            # the properties before it keep their places.
            "credit": credit_text(scene_credit(o.scene)),
        },
    }
