"""The records a claim's verdict rests on, read for the claim's dates rather than its sites' whole history.

:func:`~sitewatch.evidence.check_claims_file` reads, for each claim, what its verdict needs (a team store holds years
of daily rows; a claim is of days or weeks), and each read gives the verdict the whole history gives, byte for byte:

- **A vessel, an object, presence days** (:func:`period_world`): the site's timeline records of the dates and the
  ``gap_days`` + 2 days before them that settle the first (:func:`~sitewatch.analysis.period_records.read_timeline_records`).
- **A transit** (:func:`transit_world`): the moves of both sites that a link of the claim, and the rivals it counts,
  can be made of: departures from ``within`` days (at least 1: the links' window) before the first date, arrivals up
  to that window after the last, and the ``pairing_reach_days`` either side by which an arrival's date may precede its
  departure's (:func:`transit_link_period`), each read with the dates that settle it
  (:func:`~sitewatch.analysis.period_records.read_move_records`, as ``links --from/--to``). Those records hold the
  dates the verdict looks at too: the range and the next day at the origin (a vessel still there on the last date),
  the range and ``within`` days after it at the destination.
- **A change** (:func:`change_world`): the site's stored pairs whose span meets the dates and some weeks either side
  (:func:`~sitewatch.store.changes.pairs_meeting`), their regions and images, kept when they settle the verdict
  (:func:`change_settled`: no pair with regions crosses the read's edge next to the run of pairs that brackets the
  dates), else read wider, at last whole; with no pair bracketing the dates, the site's images of
  those days too (and of the days before or after them when none lies on that side: the verdict names the first or
  last).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from .analysis.occupancy import TimelineParams, observation_date
from .claims_file import Assertion
from .evidence import World, transit_link_period
from .model import Change, Observation, Site
from .store.changes import ChangePair

if TYPE_CHECKING:
    from .store import Store

__all__ = ["read_key", "claim_world", "period_world", "transit_world", "change_world", "change_settled", "CHANGE_READ_DAYS", "CHANGE_READS"]

CHANGE_READ_DAYS = 7
"""Days either side of a change claim's dates whose pairs are read first; when those do not settle the verdict
(:func:`change_settled`: a pair crosses the read's edge), the read goes past the pairs read and this many days more."""
CHANGE_READS = 6
"""Reads of a change claim's pairs, each wider, before the site's every pair is read."""


def read_key(a: Assertion) -> tuple[object, ...]:
    """What the records a claim part is decided from depend on: parts of one key are decided from one read."""
    if a.kind == "vessel_transit":
        return ("transit", *a.site_ids, a.start, a.end, a.within_days or 0)
    return ("change" if a.kind.startswith("change_") else "dates", a.site_ids[0], a.start, a.end)


def claim_world(store: Store, sites: Mapping[str, Site], a: Assertion, params: TimelineParams) -> World:
    """The world a claim part is decided from, read for it: :func:`transit_world`, :func:`change_world`, or
    :func:`period_world` for a vessel, an object or presence days."""
    if a.kind == "vessel_transit":
        return transit_world(store, sites, (a.site_ids[0], a.site_ids[-1], a.start, a.end, a.within_days or 0), params)
    if a.kind.startswith("change_"):
        return change_world(store, sites, (a.site_ids[0], a.start, a.end), params)
    return period_world(store, sites, (a.site_ids[0], a.start, a.end), params)


def period_world(store: Store, sites: Mapping[str, Site], key: tuple[str, date, date], params: TimelineParams) -> World:
    """The world of one site's claim dates: the records its timeline of ``start`` to ``end`` is built from
    (:func:`~sitewatch.analysis.period_records.read_timeline_records`: those dates, and the ``gap_days`` + 2 days
    before them that settle the first, else more), which give each date's usable images, and the timeline of the
    range, as the whole history does: a claim of a month no longer reads years of a site's rows."""
    from .analysis.period_records import read_timeline_records

    site_id, start, end = key
    site = sites[site_id]
    records = read_timeline_records(store, site_id, replace(params, start=start, end=end), site_geometry=site.geometry)
    return World(sites, records.observations, records.detections, frozenset(records.undetected), params)


def transit_world(store: Store, sites: Mapping[str, Site], key: tuple[str, str, date, date, int],
                  params: TimelineParams) -> World:  # fmt: skip
    """The world of a transit from ``origin`` to ``destination`` last seen at the origin from ``start`` to ``end``
    within ``within`` days: each site's records whose timeline gives every move dated from
    :func:`transit_link_period`'s first date less ``pairing_reach_days`` to its last plus them as the whole history
    does (:func:`~sitewatch.analysis.period_records.read_move_records`): the links the verdict weighs, with the
    rivals each counts, are made of those moves alone."""
    from .analysis.links import pairing_reach_days
    from .analysis.period_records import read_move_records

    origin, destination, start, end, within = key
    first, last = transit_link_period(start, end, within)
    reach = pairing_reach_days(params.utc_offset_hours)
    moves = replace(params, start=_moved(first, -reach), end=_moved(last, reach))
    observations: list[Observation] = []
    detections = []
    undetected: set[str] = set()
    for sid in dict.fromkeys((origin, destination)):
        records = read_move_records(store, sid, moves, site_geometry=sites[sid].geometry)
        observations += records.observations
        detections += records.detections
        undetected |= records.undetected
    return World(sites, observations, detections, frozenset(undetected), params)


def _moved(day: date | None, days: int) -> date | None:
    """``day`` moved by ``days``; None for none, or past year 1 or 9999 (then read without that edge)."""
    try:
        return None if day is None else day + timedelta(days=days)
    except OverflowError:
        return None


def _midnight(day: date, days: int) -> datetime | None:
    try:
        return datetime.combine(day + timedelta(days=days), time(), UTC)
    except OverflowError:
        return None


def change_world(store: Store, sites: Mapping[str, Site], key: tuple[str, date, date], params: TimelineParams) -> World:
    """The world of a change claim at a site from ``start`` to ``end``: the stored pairs whose span meets the dates and
    :data:`CHANGE_READ_DAYS` either side, their regions and their images (by id), kept when :func:`change_settled`
    says they give the verdict the site's every pair gives; else read past the pairs that cross the read's edges
    (:data:`CHANGE_READS` times), at last every pair and image of the site. When no pair brackets the dates, the
    verdict names the site's first image after the first date, or its last before the last (what to do about them):
    the site's images of those days, and those before or after them when none lies on that side of the dates."""
    from .store.changes import change_pairs, changes, pairs_meeting

    site_id, start, end = key
    claim = Assertion("change_present", (site_id,), start, end)
    held: dict[str, Observation | None] = {}  # each image read once, however wide the reads go
    since, until = _midnight(start, -CHANGE_READ_DAYS), _midnight(end, CHANGE_READ_DAYS + 1)
    for _ in range(CHANGE_READS):
        if since is None or until is None:
            break
        pairs, regions = pairs_meeting(store, site_id, since, until)
        wanted = {i for p in pairs for i in (p.before_id, p.after_id)} - held.keys()
        held |= dict.fromkeys(wanted) | {o.id: o for o in store.observations_by_id(wanted) if o.site_id == site_id}
        images = [o for o in held.values() if o is not None]
        settled = change_settled(claim, pairs, regions, images, params, since, until)
        if settled == "wider":
            # Past the pairs that cross the edges (a cut is at an image where one ends and the next begins).
            week, day = timedelta(days=CHANGE_READ_DAYS), timedelta(days=1)
            try:
                since = min([since - week, *(p.before_acquired - day for p in pairs)])
                until = max([until + week, *(p.after_acquired + day for p in pairs)])
            except OverflowError:
                break  # (at the calendar's edge: read whole)
            continue
        if settled == "no run":
            more = _hint_images(store, site_id, start, end, params.utc_offset_hours, since, until)
            images = list({o.id: o for o in images + more}.values())
        return World(sites, sorted(images, key=lambda o: (o.scene.acquired, o.id)), (), frozenset(), params, pairs, regions)
    return World(sites, store.observations(site_id), (), frozenset(), params, change_pairs(store, site_id),
                 changes(store, site_id=site_id))  # fmt: skip


def _hint_images(store: Store, site_id: str, start: date, end: date, offset: float, since: datetime,
                 until: datetime) -> list[Observation]:  # fmt: skip
    """The site's images the verdict's hint on dates no pair brackets rests on: those of the dates and 3 days either
    side; when none is of ``start`` or before, those before, back to ``since``, then every one; likewise after ``end``
    (the hint names the first image when none is of ``start`` or before, the last when none is of ``end`` or after)."""
    near_since, near_until = _midnight(start, -3) or since, _midnight(end, 4) or until
    out = store.observations(site_id, since=near_since, until=near_until)
    for side, edges in (("before", [(since, near_since), (None, since)]), ("after", [(near_until, until), (until, None)])):
        for lo, hi in edges:
            days = [observation_date(o, offset) for o in out]
            if any(d <= start for d in days) if side == "before" else any(d >= end for d in days):
                break
            out += store.observations(site_id, since=lo, until=hi)
    return out


def change_settled(a: Assertion, pairs: Sequence[ChangePair], regions: Sequence[Change], observations: Sequence[Observation],
                   params: TimelineParams, since: datetime, until: datetime) -> Literal["settled", "no run", "wider"]:  # fmt: skip
    """Whether the pairs read from ``since`` to ``until`` (every pair whose span meets them: :func:`pairs_meeting`),
    with their regions and ``observations`` (their images), decide a change claim of ``a.start`` to ``a.end`` as the
    site's every pair does (:func:`~sitewatch.evidence_change.change_part`): ``settled``; ``no run``: no pair brackets
    the dates, in the read as in the whole history; ``wider``: they may not, read more.

    The run bracketing the dates in a series is read whole: its latest first pair whose chain reaches the last date
    is the one that meets ``since`` (a chain from before it goes through that pair, whose own chain is the same and
    whose before image is later), and the pairs after it in the chain begin at most at the last date. What reaches
    beyond the read is the rest: a region of a run's pair is placed outside the dates by a pair of any series whose
    after image lies between the run's first before image and the first date (or whose before image lies between the
    last date and the run's last after image), and joined into a change on the ground
    (:func:`~sitewatch.change_dating.date_changes`) with regions of pairs whose spans overlap its own. Both need only
    the pairs with regions, and neither reaches across a *cut* of them: a time within no such pair's span (an image
    where one ends and the next begins may be one), known from the pairs read, since a pair crossing a time read would
    have been read. With a cut from ``since`` to the run's first before image (and to two days and the UTC offset
    before the first date, so that no date convention puts it on them), and one from its last after image to
    ``until``, the verdict is the whole history's. (A series is a sensor and pixel size, whose images a pair compares
    among themselves.)"""
    from .evidence_change import bracketing_runs

    obs = {o.id: o for o in observations}
    pairs = [p for p in pairs if p.compared_fraction > 0 and p.current(obs)]  # as change_part counts them
    slack = timedelta(days=2, hours=abs(params.utc_offset_hours))
    try:
        first = datetime.combine(a.start, time(), UTC) - slack
        last = datetime.combine(a.end, time(), UTC) + timedelta(days=1) + slack
    except OverflowError:
        return "wider"  # (at the calendar's edge)

    def series(p: ChangePair) -> str:
        return f"{obs[p.after_id].scene.resolution_m:g} m {p.sensor}"

    offset = params.utc_offset_hours
    runs = bracketing_runs(pairs, a, series, lambda oid, _: observation_date(obs[oid], offset))
    if not runs:
        return "no run"
    low = min(first, *(p.before_acquired for run in runs for p in run))
    high = max(last, *(p.after_acquired for run in runs for p in run))
    marked = {(c.before_id, c.after_id) for c in regions}
    with_regions = [p for p in pairs if (p.before_id, p.after_id) in marked]
    return "settled" if _cut(with_regions, since, low) and _cut(with_regions, high, until) else "wider"


def _cut(pairs: Sequence[ChangePair], lo: datetime, hi: datetime) -> bool:
    """Whether some time from ``lo`` to ``hi`` lies strictly inside no pair's span (``lo`` or ``hi`` itself, or an
    image time of a pair between them)."""
    if lo > hi:
        return False
    spans = sorted((p.before_acquired, p.after_acquired) for p in pairs)
    times = sorted({lo, hi, *(t for s in spans for t in s if lo <= t <= hi)})
    return any(not any(b < t < a for b, a in spans if b < hi and a > lo) for t in times)
