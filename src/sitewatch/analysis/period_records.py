"""The records a timeline of a period rests on, read for that period (and the dates before it that settle it).

A timeline of ``--from``/``--to`` judges the period's first date against the usable dates before it (an arrival on
it is one only if the vessel was not there the date before; a vessel not seen because its berth was hidden is carried
forward), so :func:`~sitewatch.analysis.occupancy.build_timeline` was given the site's whole history: a site with
years of daily images was read whole (thousands of rows, megabytes from a PostGIS server) for a month's report.

:func:`read_timeline_records` reads the period and ``gap_days`` (+2) days before it, and keeps that read only when
it can tell the timeline of the period is the one the whole history gives: a date read before the period (not the
first, which may be read in part) after which nothing earlier counts — a date with no berth hidden (no vessel carried
past it) or more than ``gap_days`` after the usable date before it (a new observation period) — and no pass cut by
the read's edges. Otherwise (a berth hidden on every date of those weeks) it reads the whole history, as before: the
timeline is the same either way, byte for byte.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from .occupancy import (
    SiteRecords,
    TimelineParams,
    hidden_berths,
    observation_date,
    read_site_records,
)

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from ..model import Observation
    from ..store import Store

__all__ = ["read_timeline_records", "period_settled", "read_move_records", "moves_settled"]


def _midnight(day: date | None, days: int) -> datetime | None:
    """00:00 UTC ``days`` days after ``day``; None for no day, or one past year 1 or 9999 (read without that edge)."""
    try:
        return None if day is None else datetime.combine(day + timedelta(days=days), time(), UTC)
    except OverflowError:
        return None


def read_timeline_records(store: Store, site_id: str, params: TimelineParams, *,
                          site_geometry: BaseGeometry | None = None) -> SiteRecords:  # fmt: skip
    """The site's records (:func:`~sitewatch.analysis.occupancy.read_site_records`) its timeline of ``params``'s
    period is built from, the same timeline as from the whole history: those of the period (to 2 days after
    ``params.end``: a local date runs up to 14 h past UTC's) and ``gap_days`` + 2 days before ``params.start`` when
    those settle it (:func:`period_settled`), else every one up to the period's end. Without a period: every one."""
    if params.start is None and params.end is None:
        return read_site_records(store, site_id)
    until = _midnight(params.end, 2)
    since = _midnight(params.start, -(params.gap_days + 2))
    if since is not None:
        records = read_site_records(store, site_id, since=since, until=until)
        if period_settled(records, params, since, until, site_geometry=site_geometry):
            return records
    records = read_site_records(store, site_id, until=until)
    if period_settled(records, params, None, until, site_geometry=site_geometry):
        return records
    return read_site_records(store, site_id)


def period_settled(records: SiteRecords, params: TimelineParams, since: datetime | None, until: datetime | None, *,
                   site_geometry: BaseGeometry | None = None) -> bool:  # fmt: skip
    """Whether the timeline of ``params``'s period built from ``records`` (read from ``since`` to ``until``, None:
    without that edge) is the one the site's whole history gives.

    Its rows after a date ``d`` depend on no date before ``d`` when ``d`` has no berth hidden (no vessel is carried
    past it) or begins an observation period (its usable date before is more than ``gap_days`` earlier); the first
    date read (``since`` may fall inside it) can neither settle it nor be the date before. The period's first usable
    date settles it too when no usable date was read since that first date and it lies more than ``gap_days`` after
    it. Pieces of a pass are judged together: an image read within ``pass_seconds`` of an edge may belong to a pass
    cut by it, and so does not settle."""
    from .passes import usability

    obs = records.observations
    reach = timedelta(seconds=params.pass_seconds)
    if obs and ((since is not None and obs[0].scene.acquired - since <= reach)
                or (until is not None and until - obs[-1].scene.acquired <= reach)):  # fmt: skip
        return False
    if since is None:
        return True
    reasons = usability(obs, params, site=site_geometry, undetected=records.undetected)
    first = min((observation_date(o, params.utc_offset_hours) for o in obs), default=None)
    usable: dict[date, list[Observation]] = {}
    for o in obs:
        if reasons[o.id] is None:
            usable.setdefault(observation_date(o, params.utc_offset_hours), []).append(o)
    start = params.start or date.min
    if first is None or first >= start:  # nothing read in the gap_days + 2 days before the period: it begins anew
        return True
    before = None  # the usable date read before the one in hand (not the first date read)
    for day in sorted(usable):
        if day == first:
            continue
        gap = (day - (before or first)).days
        new_period = gap > params.gap_days  # (from the first date: no usable one read between, the truth's is earlier)
        if day >= start:
            return new_period  # the period's first usable date: settled by dates before it, or by its own gap
        if new_period or not hidden_berths(usable[day], params):
            return True
        before = day
    return True  # no usable date in the period: no row to get wrong


def read_move_records(store: Store, site_id: str, params: TimelineParams, *,
                      site_geometry: BaseGeometry | None = None) -> SiteRecords:  # fmt: skip
    """The site's records whose timeline (built over them all, without a period) gives the departures and arrivals
    dated in ``params``'s period as the whole history's does (``links --from/--to``): those of the period, the
    ``gap_days`` + 2 days before it when they settle its first date (:func:`period_settled`), and the days after it
    up to a date that settles its last (:func:`moves_settled`: a departure is found on the usable date after the
    vessel's last, weeks later when its berth was hidden meanwhile), reading further either way only when needed.
    Without a period: every one."""
    if params.start is None and params.end is None:
        return read_site_records(store, site_id)
    since = _midnight(params.start, -(params.gap_days + 2))
    # Three days after the period first (the next usable date, whole), then gap_days more (past them, the next date
    # begins an observation period), then the rest of the history.
    untils = [_midnight(params.end, 3), _midnight(params.end, params.gap_days + 3), None] if params.end else [None]
    k = 0
    while True:
        records = read_site_records(store, site_id, since=since, until=untils[k])
        if since is not None and not period_settled(records, params, since, None, site_geometry=site_geometry):
            since = None  # (read again to the same end, from the beginning)
        elif k + 1 == len(untils) or moves_settled(records, params, untils[k], site_geometry=site_geometry):
            return records
        else:
            k += 1


def moves_settled(records: SiteRecords, params: TimelineParams, until: datetime | None, *,
                  site_geometry: BaseGeometry | None = None) -> bool:
    """Whether ``records`` (read up to ``until``; None: to the end of the history) hold every date on which a
    vessel seen by ``params.end`` can be found gone: a usable date after the period, read whole, that has no berth
    hidden (no vessel carried past it) or begins an observation period (more than ``gap_days`` after the usable
    date before it), or the certainty that the next one, not read, begins one; and no pass cut by ``until``."""
    from .passes import usability

    obs = records.observations
    if until is None or params.end is None or not obs:
        return True
    if until - obs[-1].scene.acquired <= timedelta(seconds=params.pass_seconds):
        return False
    # A date is read whole when ``until`` is past its end: its UTC date's (an image known only by its date) and
    # its local date's (the others').
    late = timedelta(hours=max(0.0, -params.utc_offset_hours))
    try:
        unread = min((until + timedelta(hours=params.utc_offset_hours)).date(), until.date())  # the first date not whole
    except OverflowError:
        return False
    reasons = usability(obs, params, site=site_geometry, undetected=records.undetected)
    usable: dict[date, list[Observation]] = {}
    for o in obs:
        if reasons[o.id] is None:
            usable.setdefault(observation_date(o, params.utc_offset_hours), []).append(o)
    before = max((day for day in usable if day <= params.end), default=None)
    if before is None:
        return True  # no vessel seen in the period or the days read before it: none to find gone
    for day in sorted(d for d in usable if d > params.end):
        end_of_day = _midnight(day, 1)
        if end_of_day is None or until < end_of_day + late:
            return False  # read in part
        if (day - before).days > params.gap_days or not hidden_berths(usable[day], params):
            return True
        before = day
    return (unread - before).days > params.gap_days  # the next usable date, if any, begins an observation period
