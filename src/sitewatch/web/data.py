"""What the dashboard shows, as JSON-ready dicts read from a store: plain functions, no web library.

The pages and the JSON API are two views of these values, so a page never says what its
API does not. Detections are the features :func:`~sitewatch.report.exports.detection_feature`
makes for ``sitewatch export``; timelines are :func:`~sitewatch.analysis.occupancy.timeline_to_dict`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from ..analysis.ais_coverage import StatedCoverage
from ..analysis.occupancy import (
    SiteRecords,
    Timeline,
    TimelineParams,
    build_timeline,
    load_timeline,
    read_site_records,
    timeline_to_dict,
)
from ..analysis.period_records import read_timeline_records
from ..errors import InputError, SiteError, SitewatchError, StoreError, StoreUnavailableError
from ..model import (
    Change,
    Observation,
    Site,
    acquired_label,
    direction_counts,
    iso_utc,
    parse_date_or_time,
    utc,
)
from ..report.credits import credit_text, scene_credit
from ..report.exports import detection_feature, select_detections
from ..report.html import in_period
from ..sites import right_handed
from ..store import Store
from ..store.changes import ChangePair, pairs_with_regions

__all__ = [
    "NotFound",
    "BadId",
    "check_id",
    "ID_PATTERNS",
    "site_summaries",
    "site_detail",
    "site_timeline",
    "site_detections",
    "DEFAULT_PERIOD_DAYS",
    "Period",
    "asked_period",
    "site_period",
    "load_period_records",
    "period_only_records",
    "period_timeline",
    "site_months",
    "observation_row",
    "observation_detail",
    "site_changes",
    "period_pairs",
    "period_changes",
    "pairs_regions",
    "pair_id",
    "change_pair_dict",
    "site_alerts",
    "links_data",
    "find_site",
    "find_observation",
]


class NotFound(SitewatchError, LookupError):
    """No site or observation of that id in the workspace; the message names the id."""


class BadId(InputError):
    """An id that cannot be one (a path: ``..``, ``\\``, an empty part); refused before any lookup."""


_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")

_CHAR = r"[^/\\\x00-\x1f\x7f]"
_PART = rf"(?:[^/\\\x00-\x1f\x7f~.]{_CHAR}*|\.[^/\\\x00-\x1f\x7f.]{_CHAR}*|\.\.{_CHAR}+)"
ID_PATTERNS: dict[int | None, str] = {1: rf"^{_PART}$", None: rf"^{_PART}(?:/{_PART})*$"}
""":func:`check_id`'s rule as a regular expression (ECMAScript as well as Python), by its ``parts``: what the
OpenAPI doc says an id parameter may be. Each part: not empty, ``.`` or ``..``, not beginning with ``~``, no
control character or ``\\``."""


def check_id(value: str, what: str, *, parts: int | None = 1) -> str:
    """``value`` if it can be a ``what`` id of at most ``parts`` parts joined by ``/`` (None: any number,
    as an observation's ``SITE/ITEM`` whose item may hold one); else :class:`BadId`. Ids are only ever looked up in the database, never used as
    paths, but one that reads as a path is refused outright rather than looked up."""
    pieces = value.split("/")
    if _UNSAFE.search(value) or (parts is not None and len(pieces) > parts) or any(p in ("", ".", "..") or p.startswith("~") for p in pieces):
        raise BadId(f"refused {what} id {value!r}: not an id (ids are looked up in the workspace database, never read as paths)")
    return value


def find_site(store: Store, site_id: str) -> Site:
    """The site ``site_id``, or :class:`NotFound` naming it."""
    try:
        return store.get_site(site_id)
    except StoreUnavailableError:
        raise  # the server gone (a restart): its own 503, not a second read's
    except (SiteError, StoreError):
        # Looked up after the store's error, not before the read: a site removed between a look and the read (a
        # `sites remove` at that moment) was a 500 (SiteError, a KeyError) rather than a 404.
        if not store.execute("SELECT 1 FROM sites WHERE site_id = ?", (site_id,)):
            raise NotFound(f"no site {site_id!r} in this workspace") from None
    return store.get_site(site_id)  # removed and added again between the two reads: read again (its error stands)


def find_observation(store: Store, observation_id: str) -> Observation:
    """The observation ``observation_id``, or :class:`NotFound` naming it."""
    try:
        return store.get_observation(observation_id)
    except StoreUnavailableError:
        raise  # as find_site
    except StoreError:
        # As find_site: an observation removed between a look and the read was a 503 (the store's "no observation").
        if not store.execute("SELECT 1 FROM observations WHERE observation_id = ?", (observation_id,)):
            raise NotFound(f"no observation {observation_id!r} in this workspace") from None
    return store.get_observation(observation_id)  # removed and ingested again between the two reads: read again


def site_summaries(store: Store) -> list[dict[str, Any]]:
    """Every site, by id: its kind, whether its place is resolved, how many observations and
    detections it has, the first and last acquisition dates, and whether any image is simulated."""
    obs = {
        r["site_id"]: r
        for r in store.execute(
            """SELECT site_id, count(*) AS n, min(acquired) AS first, max(acquired) AS last,
                      max(CASE WHEN simulated THEN 1 ELSE 0 END) AS sim
               FROM observations GROUP BY site_id"""
        )
    }
    dets = {r[0]: r[1] for r in store.execute("SELECT site_id, count(*) FROM detections GROUP BY site_id")}
    out = []
    for r in store.execute("SELECT site_id, name, kind, resolved FROM sites ORDER BY site_id"):
        o = obs.get(r["site_id"])
        out.append(
            {
                "id": r["site_id"],
                "name": r["name"] or "",
                "kind": r["kind"],
                "resolved": bool(r["resolved"]),
                "observations": o["n"] if o else 0,
                "detections": dets.get(r["site_id"], 0),
                "first_date": o["first"][:10] if o else None,
                "last_date": o["last"][:10] if o else None,
                "simulated": bool(o["sim"]) if o else False,
            }
        )
    return out


def observation_row(o: Observation, detections: int) -> dict[str, Any]:
    """An observation as one line of a site's list: when, what saw it, how much of it is usable."""
    return {
        "id": o.id,
        "date": o.scene.acquired.date().isoformat(),
        "acquired": iso_utc(o.scene.acquired),
        "acquired_date_only": o.acquired_date_only,
        "acquired_label": acquired_label(o),
        "sensor": o.scene.sensor,
        "platform": o.scene.platform or o.scene.provider,
        "resolution_m": o.scene.resolution_m,
        "cloud_fraction": o.cloud_fraction,
        "valid_fraction": o.valid_fraction,
        "detections": detections,
        "simulated": o.scene.simulated,
        # Last, so the keys before it keep their places.
        "credit": credit_text(scene_credit(o.scene)),
    }


def site_detail(store: Store, site_id: str, params: TimelineParams | None = None, *, empty: Period | None = None) -> dict[str, Any]:
    """One site: its fields, outline, berths and water (GeoJSON, WGS84) and its observations, oldest first (those
    of the dates ``params.start``..``params.end`` when either is given, with ``period`` saying which; none, for
    the ``empty`` period asked, whose end is before its start)."""
    site = find_site(store, site_id)
    counts: Mapping[str, int]
    if empty is not None:
        observations = []
        period = {"from": empty.start.isoformat() if empty.start else None, "to": empty.end.isoformat() if empty.end else None}
    elif params is not None and (params.start or params.end):
        records = period_only_records(store, site_id, params)
        # Counted from the period's detections, read with its images: not a row for each image of the site from the store.
        counts = Counter(d.observation_id for d in records.detections)
        observations = [observation_row(o, counts.get(o.id, 0)) for o in records.observations if in_period(o, params)]
    else:
        counts = {
            r[0]: r[1]
            for r in store.execute("SELECT observation_id, count(*) FROM detections WHERE site_id = ? GROUP BY observation_id", (site_id,))
        }
        observations = [observation_row(o, counts.get(o.id, 0)) for o in store.observations(site_id)]
    if empty is None:
        period = {"from": params.start.isoformat() if params and params.start else None,
                  "to": params.end.isoformat() if params and params.end else None}  # fmt: skip
    return ({"period": period} if period["from"] or period["to"] else {}) | {
        "id": site.id,
        "name": site.name,
        "kind": site.kind,
        "resolved": site.resolved,
        "coord_source": site.coord_source,
        "note": site.note,
        "tags": list(site.tags),
        "geometry": right_handed(site.geometry) if site.geometry is not None else None,
        "water": right_handed(site.water) if site.water is not None else None,
        "berths": [{"id": b.id, "name": b.name, "geometry": mapping(b.geometry)} for b in site.berths],
        "observations": observations,
        "detections": sum(o["detections"] for o in observations) if period["from"] or period["to"] else sum(counts.values()),
        "simulated": any(o["simulated"] for o in observations),
    }


def load_site_timeline(store: Store, site_id: str, params: TimelineParams | None = None) -> Timeline:
    """The occupancy timeline of ``site_id`` as ``sitewatch timeline`` builds it; of the dates ``params.start``..
    ``params.end`` read for those dates alone (:func:`load_period_records`)."""
    site = find_site(store, site_id)
    if params is not None and (params.start or params.end):
        return period_timeline(store, site, params)
    return load_timeline(store, site_id, params)


def site_timeline(store: Store, site_id: str, params: TimelineParams | None = None) -> dict[str, Any]:
    """The site's occupancy timeline as ``sitewatch timeline --json`` gives it."""
    return timeline_to_dict(load_site_timeline(store, site_id, params))


def site_detections(store: Store, site_id: str, params: TimelineParams | None = None) -> dict[str, Any]:
    """The site's detections as the GeoJSON FeatureCollection ``sitewatch export SITE`` writes, but for the file's
    ``sitewatch_version`` (those of the dates ``params.start``..``params.end``, the timeline's, when either is given)."""
    find_site(store, site_id)
    if params is not None and (params.start or params.end):
        records = period_only_records(store, site_id, params)
        obs = {o.id: o for o in records.observations if in_period(o, params)}
        features = [detection_feature(obs[d.observation_id], d) for d in records.detections if d.observation_id in obs]
    else:
        features = [detection_feature(o, d) for o, dets in select_detections(store, [site_id]) for d in dets]
    return {"type": "FeatureCollection", "features": features}


def observation_detail(store: Store, observation_id: str) -> dict[str, Any]:
    """One observation: its line of the site's list, its grid, its provenance (scene, time, sensor,
    file hash, the sitewatch version that archived it) and its detections as GeoJSON features."""
    o = find_observation(store, observation_id)
    features = [detection_feature(o, d) for d in store.detections(observation_id=o.id)]
    return observation_row(o, len(features)) | {
        "site_id": o.site_id,
        "scene_id": o.scene.id,
        "provider": o.scene.provider,
        "collection": o.scene.collection,
        "item_id": o.scene.item_id,
        "image": o.path,
        "sha256": o.sha256,
        "sitewatch_version": str(o.provenance.get("sitewatch_version", "")) or None,
        "grid": {
            "crs": o.grid.crs,
            "transform": list(o.grid.transform)[:6],
            "width": o.grid.width,
            "height": o.grid.height,
        },
        "provenance": dict(o.provenance),
        "features": features,
    }


def pair_id(before_id: str, after_id: str) -> str:
    """A stored change pair's id, ``BEFORE..AFTER``, as its regions' ids begin (``BEFORE..AFTER#N``): its two
    observations, so it stays the same when ``sitewatch change`` runs again or compares other pairs."""
    return f"{before_id}..{after_id}"


def change_pair_dict(p: ChangePair, regions: Sequence[Change], ends: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A stored pair as the dashboard gives it: its id, the two observations, what was compared, the regions
    (GeoJSON, WGS84, largest first), how many of each direction and their total area; with ``ends`` (region id
    -> :func:`~sitewatch.change_dating.ends_json`), each region's change dated: ``last_seen_without`` and
    ``first_seen`` (null for a region not dated: its pair's image ingested again since)."""
    dating = (lambda r: {"last_seen_without": None, "first_seen": None} | dict(ends.get(r.id) or {})) if ends is not None else (lambda r: {})
    return {
        "id": pair_id(p.before_id, p.after_id),
        "before_id": p.before_id, "after_id": p.after_id,
        "before_acquired": iso_utc(p.before_acquired), "after_acquired": iso_utc(p.after_acquired),
        "sensor": p.sensor, "method": p.method, "method_version": p.method_version,
        "compared_fraction": p.compared_fraction, "simulated": p.simulated,
        "counts": direction_counts(r.direction for r in regions),
        "area_m2": round(sum(r.area_m2 for r in regions), 1),
        "regions": [
            {"id": r.id, "direction": r.direction, "area_m2": round(r.area_m2, 1), "magnitude": round(r.magnitude, 3),
             "geometry": right_handed(r.polygon)} | dating(r)
            for r in regions
        ],
    }  # fmt: skip


def site_changes(store: Store, site_id: str) -> list[dict[str, Any]]:
    """The pairs ``sitewatch change`` compared and stored for the site, oldest after-image first, as
    :func:`change_pair_dict` gives each. Empty when change has not been run on the site."""
    from ..change_dating import ends_by_region

    find_site(store, site_id)
    pairs = pairs_with_regions(store, site_id)
    ends = ends_by_region(store.observations(site_id), pairs) if pairs else {}
    return [change_pair_dict(p, regions, ends) for p, regions in pairs]


def site_alerts(store: Store, site_id: str) -> list[dict[str, Any]]:
    """The alert events ``sitewatch alerts check`` recorded for the site (the ``alert_events`` table), by
    date: the rule, what happened, the observations and images it rests on, and when it was first reported."""
    find_site(store, site_id)
    out = []
    for r in store.execute(
        "SELECT event_key, event, first_reported FROM alert_events WHERE site_id = ? ORDER BY event_date, acquired, fid",
        (site_id,),
    ):
        e = _stored_event(r["event_key"], site_id, r["event"])
        out.append({
            "event_id": e.get("event_id"), "rule": e.get("rule"), "kind": e.get("kind"), "date": e.get("date"),
            "acquired": e.get("acquired"), "what": e.get("what", ""), "observations": list(e.get("observations") or []),
            "images": list(e.get("images") or []), "detections": list(e.get("detections") or []),
            "simulated": bool(e.get("simulated")), "first_reported": r["first_reported"],
        })  # fmt: skip
    return out


def _stored_event(key: str, site_id: str, text: str) -> dict[str, Any]:
    """An alert event as ``alerts check`` stored it (a JSON object); :class:`StoreError` naming it when damaged."""
    try:
        e = json.loads(text)
    except ValueError:
        e = None
    if not isinstance(e, dict):
        raise StoreError(f"alert event {key!r} of site {site_id!r} in the workspace database is damaged "
                         f"(not a JSON object: {text[:80]!r})")  # fmt: skip
    return e


def links_data(store: Store, root: Path, ais_files: Sequence[Path] = (), ais_coverage: StatedCoverage | None = None,
               ais_max_gap_s: float | None = None) -> dict[str, Any]:
    """The candidate links among every site with observations, as ``sitewatch links --json`` gives them;
    with ``ais_files``, settled by AIS as ``sitewatch links --ais`` settles them (covering ``ais_coverage``, if stated;
    placing reports at most ``ais_max_gap_s`` apart, as ``--max-gap-min`` says, default the matching's own)."""
    from ..analysis.links import ais_ids, links_to_dict, load_links

    ais = None
    if ais_files:
        from ..analysis.ais import AisParams, match_workspace

        ids = store.imaged_site_ids()
        params = AisParams() if ais_max_gap_s is None else AisParams(max_gap_s=ais_max_gap_s)
        ais = ais_ids(match_workspace(store, root, ids, list(ais_files), params, coverage=ais_coverage))
    doc = links_to_dict(load_links(store, None, ais=ais))
    return doc | {"ais_files": [str(f) for f in ais_files]}


DEFAULT_PERIOD_DAYS = 90
"""The dates a site's page shows when none are asked (``?from=``/``?to=``): the last this many, to its latest image.
Five years of daily images made a page of 1.7 MB that took 11 s; a period's page costs the same in any year."""


@dataclass(frozen=True)
class Period:
    """The dates a page or an API answer covers: ``start``..``end`` (the timeline's dates, local ones with its
    ``utc_offset_hours``; None: open), whether they were ``asked`` (else the page's default), and the site's
    ``first``/``last`` image dates, for the links to the periods before and after."""

    start: date | None
    end: date | None
    asked: bool = True
    first: date | None = None
    last: date | None = None

    @property
    def empty(self) -> bool:
        """Whether ``end`` is before ``start``: no date lies in the period (the API answers it with nothing)."""
        return self.start is not None and self.end is not None and self.end < self.start

    def query(self) -> str:
        """``?from=…&to=…`` that asks for this period again (empty for every date)."""
        parts = [f"{k}={v.isoformat()}" for k, v in (("from", self.start), ("to", self.end)) if v is not None]
        return "?" + "&".join(parts) if parts else ""

    def earlier(self) -> Period | None:
        """The period of as many days just before this one; None when no image is older than this one's start."""
        if self.start is None or self.end is None or self.first is None or self.first >= self.start:
            return None
        days = (self.end - self.start).days + 1
        try:
            return Period(self.start - timedelta(days=days), self.start - timedelta(days=1), True, self.first, self.last)
        except OverflowError:  # a period from year 1
            return None

    def later(self) -> Period | None:
        """The period of as many days just after this one; None when no image is newer than this one's end."""
        if self.start is None or self.end is None or self.last is None or self.last <= self.end:
            return None
        days = (self.end - self.start).days + 1
        try:
            return Period(self.end + timedelta(days=1), self.end + timedelta(days=days), True, self.first, self.last)
        except OverflowError:  # a period to 9999
            return None


def _asked_date(name: str, value: str | None) -> date | None:
    if value is None or value == "":
        return None
    try:
        when, date_only = parse_date_or_time(value)
    except SitewatchError as exc:
        raise BadId(f"refused {name}={value[:40]!r}: {exc}; give a date, e.g. ?{name}=2024-10-01") from None
    if not date_only:
        raise BadId(f"refused {name}={value[:40]!r}: a time; the timeline keeps whole dates: give a date, e.g. ?{name}=2024-10-01")
    return when.date()


def asked_period(start: str | None, end: str | None, *, reversed_empty: bool = False) -> Period:
    """The period the query's ``from`` and ``to`` ask (as text: each a date in any form ``sitewatch timeline --from``
    reads), open where not given; :class:`BadId` (a 400) naming a bad one, or ``to`` before ``from`` (unless
    ``reversed_empty``: the API's, whose doc cannot say that two valid dates are refused together, where it is a
    period holding no date, :attr:`Period.empty`)."""
    first, last = _asked_date("from", start), _asked_date("to", end)
    if first and last and last < first and not reversed_empty:
        raise BadId(f"refused to={end!r}: it is before from={start!r}; give a 'to' on or after 'from'")
    return Period(first, last, asked=first is not None or last is not None)


def site_period(store: Store, site_id: str, start: str | None, end: str | None, params: TimelineParams,
                default_days: int = DEFAULT_PERIOD_DAYS) -> Period:  # fmt: skip
    """The period a site's page shows: the one asked, else the last ``default_days`` dates to the site's latest
    image (every date of a site with none); with the site's first and last image dates (one indexed query)."""
    asked = asked_period(start, end)
    row = store.execute("SELECT min(acquired), max(acquired) FROM observations WHERE site_id = ?", (site_id,))[0]
    shift = timedelta(hours=params.utc_offset_hours)
    first, last = ((utc(v) + shift).date() if v else None for v in row[:2])
    if asked.asked or last is None:
        return replace(asked, first=first, last=last)
    return Period(last - timedelta(days=default_days - 1), last, False, first, last)


def _read_bounds(params: TimelineParams, days_before: int) -> tuple[datetime | None, datetime | None]:
    """The UTC times to read a period's observations between: ``days_before`` days before ``params.start`` and 2
    days after ``params.end`` (a local date runs up to 14 h past UTC's); open where the period is, or where it
    starts in year 1 or ends in 9999 (read from the first image or to the last)."""
    def bound(day: date | None, days: int) -> datetime | None:
        try:
            return None if day is None else datetime.combine(day + timedelta(days=days), time(), UTC)
        except OverflowError:
            return None

    return bound(params.start, -days_before), bound(params.end, 2)


def load_period_records(store: Store, site_id: str, params: TimelineParams, *,
                        site_geometry: BaseGeometry | None = None) -> SiteRecords:  # fmt: skip
    """The site's records a timeline of ``params.start``..``params.end`` rests on, read for those dates and the
    ``gap_days`` (+2) before them that settle its first date, as ``timeline --from`` reads them
    (:func:`~sitewatch.analysis.period_records.read_timeline_records`; the whole history only when a berth was hidden
    on every usable date of those weeks): a site with years of daily images is not read whole for one season, and
    the page's timeline is ``timeline --from``'s. ``site_geometry``: the site's polygon, as the timeline takes it."""
    return read_timeline_records(store, site_id, params, site_geometry=site_geometry)


def period_only_records(store: Store, site_id: str, params: TimelineParams) -> SiteRecords:
    """The site's records of the dates ``params.start``..``params.end`` (and 2 days either side: a local date runs up
    to 14 h from UTC's), for what shows the period's images and detections alone (no timeline)."""
    since, until = _read_bounds(params, 2)
    return read_site_records(store, site_id, since=since, until=until)


def period_observation_ids(store: Store, site_id: str, params: TimelineParams) -> set[str]:
    """The ids of the site's observations that count for a date of the period of ``params`` (as the site page keeps
    them, :func:`~sitewatch.report.html.in_period`), read for those dates alone (and 2 days either side: a local date
    runs up to 14 h from UTC's): what the changes and alerts of a period are judged by."""
    since, until = _read_bounds(params, 2)
    return {o.id for o in store.observations(site_id, since=since, until=until) if in_period(o, params)}


def period_pairs(store: Store, site_id: str, params: TimelineParams,
                 kept: Collection[str] | None = None) -> list[tuple[ChangePair, list[Change]]]:  # fmt: skip
    """The site's stored pairs of the period of ``params``, each with its regions (largest first), in their order:
    those whose after-image counts for one of its dates (:func:`period_observation_ids`, or ``kept`` when the caller
    has those ids), read for those dates alone (and 2 days either side), not every pair of the site's years."""
    find_site(store, site_id)
    if kept is None:
        kept = period_observation_ids(store, site_id, params)
    since, until = _read_bounds(params, 2)
    return [(p, regions) for p, regions in pairs_with_regions(store, site_id, since=since, until=until) if p.after_id in kept]


def period_changes(store: Store, site_id: str, params: TimelineParams) -> list[dict[str, Any]]:
    """The site's stored pairs of the period of ``params`` (:func:`period_pairs`) as :func:`site_changes` gives each."""
    from ..change_dating import ends_by_region

    pairs = period_pairs(store, site_id, params)
    ends: dict[str, Any] = {}
    if pairs:  # dated by the period's pairs, as the site page of the period dates them; their images read alone
        since, until = min(p.before_acquired for p, _ in pairs), max(p.after_acquired for p, _ in pairs)
        ends = ends_by_region(store.observations(site_id, since=since, until=until), pairs)
    return [change_pair_dict(p, regions, ends) for p, regions in pairs]


def pairs_regions(pairs: Sequence[tuple[ChangePair, Sequence[Change]]]) -> list[Change]:
    """The regions of ``pairs`` in the order :func:`~sitewatch.store.changes.changes` reads a site's (each pair's
    after-image, before-image, after id, then largest first), without reading them again."""
    order = [(p.after_acquired, p.before_acquired, p.after_id, -r.area_m2, r.id, r) for p, regions in pairs for r in regions]
    return [row[-1] for row in sorted(order, key=lambda row: row[:-1])]


def period_timeline(store: Store, site: Site, params: TimelineParams) -> Timeline:
    """The site's timeline of the period of ``params`` from :func:`load_period_records`."""
    records = load_period_records(store, site.id, params, site_geometry=site.geometry)
    return build_timeline(site.id, records.observations, records.detections, params, site_name=site.name,
                          undetected=records.undetected, site_geometry=site.geometry)  # fmt: skip


def site_months(store: Store, site_id: str, params: TimelineParams) -> list[dict[str, Any]]:
    """The site's whole span a month at a time, for the page's overview of years: per month (``YYYY-MM``, of the
    timeline's dates, local with ``utc_offset_hours``) the images and the dates with a vessel detected. Counted
    from two columns, not from built observations (cheap at any length); the dates with a vessel are the raw
    detections' (before the timeline's rules: usable images, hidden berths), and the page says so. Months
    without an image between the first and the last are listed with none."""
    shift = timedelta(hours=params.utc_offset_hours)
    images: dict[str, int] = {}
    for (value,) in store.execute("SELECT acquired FROM observations WHERE site_id = ?", (site_id,)):
        month = (utc(value) + shift).strftime("%Y-%m")
        images[month] = images.get(month, 0) + 1
    vessel_dates: dict[str, set[date]] = {}
    for (value,) in store.execute("SELECT DISTINCT acquired FROM detections WHERE site_id = ? AND kind = 'vessel'", (site_id,)):
        day = (utc(value) + shift).date()
        vessel_dates.setdefault(day.strftime("%Y-%m"), set()).add(day)
    if not images:
        return []
    first, last = min(images), max(images)
    out = []
    y, m = int(first[:4]), int(first[5:])
    while f"{y:04d}-{m:02d}" <= last:
        key = f"{y:04d}-{m:02d}"
        start = date(y, m, 1)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        end = date(y, m, 1) - timedelta(days=1)
        out.append({"month": key, "from": start.isoformat(), "to": end.isoformat(), "images": images.get(key, 0),
                    "vessel_dates": len(vessel_dates.get(key, ()))})
    return out


def empty_timeline(store: Store, site_id: str, params: TimelineParams, period: Period) -> dict[str, Any]:
    """The timeline of a period that holds no date (``to`` before ``from``) as ``site_timeline`` gives one: no row,
    its parameters naming the dates asked."""
    site = find_site(store, site_id)
    doc = timeline_to_dict(build_timeline(site.id, [], [], params, site_name=site.name))
    doc["parameters"] |= {"start": period.start.isoformat() if period.start else None,
                          "end": period.end.isoformat() if period.end else None}  # fmt: skip
    return doc
