"""What the dashboard shows, as JSON-ready dicts read from a store: plain functions, no web library.

The pages and the JSON API are two views of these values, so a page never says what its
API does not. Detections are the features :func:`~sitewatch.report.exports.detection_feature`
makes for ``sitewatch export``; timelines are :func:`~sitewatch.analysis.occupancy.timeline_to_dict`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shapely.geometry import mapping

from ..analysis.ais_coverage import StatedCoverage
from ..analysis.occupancy import Timeline, TimelineParams, load_timeline, timeline_to_dict
from ..errors import InputError, SiteError, SitewatchError, StoreError, StoreUnavailableError
from ..model import Change, Observation, Site, acquired_label, direction_counts, iso_utc
from ..report.exports import detection_feature, select_detections
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
    "observation_detail",
    "site_changes",
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
    }


def site_detail(store: Store, site_id: str) -> dict[str, Any]:
    """One site: its fields, outline, berths and water (GeoJSON, WGS84) and its observations, oldest first."""
    site = find_site(store, site_id)
    counts = {
        r[0]: r[1]
        for r in store.execute("SELECT observation_id, count(*) FROM detections WHERE site_id = ? GROUP BY observation_id", (site_id,))
    }
    observations = [observation_row(o, counts.get(o.id, 0)) for o in store.observations(site_id)]
    return {
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
        "detections": sum(counts.values()),
        "simulated": any(o["simulated"] for o in observations),
    }


def load_site_timeline(store: Store, site_id: str, params: TimelineParams | None = None) -> Timeline:
    """The occupancy timeline of ``site_id`` as ``sitewatch timeline`` builds it."""
    find_site(store, site_id)
    return load_timeline(store, site_id, params)


def site_timeline(store: Store, site_id: str, params: TimelineParams | None = None) -> dict[str, Any]:
    """The site's occupancy timeline as ``sitewatch timeline --json`` gives it."""
    return timeline_to_dict(load_site_timeline(store, site_id, params))


def site_detections(store: Store, site_id: str) -> dict[str, Any]:
    """The site's detections as the GeoJSON FeatureCollection ``sitewatch export SITE`` writes."""
    find_site(store, site_id)
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


def change_pair_dict(p: ChangePair, regions: Sequence[Change]) -> dict[str, Any]:
    """A stored pair as the dashboard gives it: its id, the two observations, what was compared, the regions
    (GeoJSON, WGS84, largest first), how many of each direction and their total area."""
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
             "geometry": right_handed(r.polygon)}
            for r in regions
        ],
    }  # fmt: skip


def site_changes(store: Store, site_id: str) -> list[dict[str, Any]]:
    """The pairs ``sitewatch change`` compared and stored for the site, oldest after-image first, as
    :func:`change_pair_dict` gives each. Empty when change has not been run on the site."""
    find_site(store, site_id)
    return [change_pair_dict(p, regions) for p, regions in pairs_with_regions(store, site_id)]


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


def links_data(store: Store, root: Path, ais_files: Sequence[Path] = (), ais_coverage: StatedCoverage | None = None) -> dict[str, Any]:
    """The candidate links among every site with observations, as ``sitewatch links --json`` gives them;
    with ``ais_files``, settled by AIS as ``sitewatch links --ais`` settles them (covering ``ais_coverage``, if stated)."""
    from ..analysis.links import ais_ids, links_to_dict, load_links

    ais = None
    if ais_files:
        from ..analysis.ais import match_workspace

        ids = store.imaged_site_ids()
        ais = ais_ids(match_workspace(store, root, ids, list(ais_files), coverage=ais_coverage))
    doc = links_to_dict(load_links(store, None, ais=ais))
    return doc | {"ais_files": [str(f) for f in ais_files]}
