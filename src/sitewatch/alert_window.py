"""``alerts check`` over years of daily history: evaluate the recent window, remember where it starts.

A full evaluation reads every observation and detection of the rules' sites and builds their whole timelines,
every run (8 s at 1,800 days of ten sites). What a new image can change is the end of the history, so each run
remembers, in the store (``sitewatch_meta``, key :data:`CHECKPOINT_KEY`; SQLite and PostGIS alike):

- per site, a **start**: a usable date of its timeline on which no berth was hidden, so that no vessel is carried
  past it. A timeline built from that date's observations on has, after that date, the rows of the whole one
  (the first date's vessels are the state before the next, exactly as in the whole timeline), and the moves
  (arrivals, departures) decided after it are the whole timeline's;
- per site, the **end** (its last usable date at that run) and a **digest** of its stored inputs acquired before
  the end (observation and scene rows, which detection run made each observation's detections, the site, its
  berths and water): an image imported late into the past, a ``detect --force``, an edited site, changes it;
- the rules, their parameters and the sitewatch version (:func:`rules_digest`);
- how many events the rules have **below** the starts, which need no second look.

The next run reads each site from its start on, evaluates the rules there, and keeps the events that the window
holds whole (:func:`in_window`): a site's events dated after its start, a link's whose arrival is at least
:data:`LINK_DAYS` after both sites' starts (so that every departure within the link window of the arrival, and
every arrival competing for those departures, lies in the window), change events always (the ``changes`` table is
read whole). Those are exactly the whole evaluation's events of those dates; every other event of the whole
evaluation was evaluated by an earlier run and is known. The starts are chosen :data:`LINK_DAYS` before the last
date that had no hidden berth at any of the rules' sites, so that whatever the next images change (a departure
decided by a new image was last seen on or after that date) lands in the next window.

Anything else falls back to the whole evaluation, which then writes the first checkpoint: no checkpoint, other
rules, another sitewatch, a site's inputs before its end changed, ``--all``. ``--since`` evaluates whole and
leaves the checkpoint as it was (the events before its date are not recorded).
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .analysis.links import LinkParams
from .analysis.occupancy import SiteRecords, TimelineParams

if TYPE_CHECKING:
    from .alert_rules import Rule
    from .alerts import AlertEvent, _Workspace
    from .store import Store

__all__ = ["CHECKPOINT_KEY", "LINK_DAYS", "SiteInputs", "WindowRun", "evaluate_window", "in_window", "read_window",
           "rules_digest"]

CHECKPOINT_KEY = "alerts_checkpoint"
"""The ``sitewatch_meta`` key of what the last ``alerts check`` evaluated (JSON)."""

_STATE_VERSION = 1
"""Bumped when what the checkpoint means changes: an older one is then not trusted."""

LINK_DAYS = math.floor(LinkParams().window_days) + 1
"""Days after both sites' starts from which a link's arrival is held whole by the window (the link window, 14
days, and one)."""

_SPANNED = ("arrival", "departure", "vessel_count")
_SITE_KINDS = ("arrival", "departure", "object", "vessel_count")


def _plain(value: Any) -> Any:
    """A stored value JSON cannot write, as text for a digest: blobs and geometries (PostGIS gives shapely) by their
    bytes, the rest (times, decimals) by repr."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    wkb = getattr(value, "wkb", None)
    if isinstance(wkb, bytes):
        return wkb.hex()
    return repr(value)


def _row_digest(row: Any) -> bytes:
    # One json.dumps a row (C), not a call per value: years of observations are tens of thousands of rows a run.
    values = list(row.values()) if isinstance(row, Mapping) else list(row)
    return hashlib.sha256(json.dumps(values, default=_plain).encode("utf-8")).digest()


@dataclass(frozen=True)
class SiteInputs:
    """A site's stored inputs, each observation's row (with its scene's and its detections' ids) digested."""

    site: bytes
    """Digest of the site's rows (sites, berths, site_water)."""
    observations: tuple[tuple[str, bytes], ...]
    """(acquired as stored, digest) of each observation, in acquisition order."""

    def before(self, day: date) -> str:
        """Digest of the site and of the observations acquired before ``day`` (UTC)."""
        bound = f"{day.isoformat()}T"
        h = hashlib.sha256(self.site)
        for acquired, digest in self.observations:
            if str(acquired) < bound:
                h.update(digest)
        return h.hexdigest()


def _site_inputs(store: Store, sid: str) -> SiteInputs:
    from .store.sqlite import _OBSERVATIONS_WITH_SCENES, stored_time

    site = hashlib.sha256()
    for table, order in (("sites", "site_id"), ("berths", "fid"), ("site_water", "fid")):
        for row in store.execute(f"SELECT * FROM {table} WHERE site_id = ? ORDER BY {order}", (sid,)):
            site.update(_row_digest(row))
    dets: dict[str, list[Any]] = {}
    for oid, fid in store.execute("SELECT observation_id, fid FROM detections WHERE site_id = ? ORDER BY fid", (sid,)):
        dets.setdefault(oid, []).append(fid)
    rows = store.execute(f"{_OBSERVATIONS_WITH_SCENES} WHERE observations.site_id = ? ORDER BY observations.acquired, "
                         "observations.observation_id", (sid,))  # fmt: skip
    out = []
    for row in rows:
        oid = row["observation_id"]
        # The detections' row ids: a `detect` that replaced them (--force, a new detector) gives new ones.
        acquired = row["acquired"]
        text = stored_time(acquired) if isinstance(acquired, datetime) else str(acquired)
        out.append((text, hashlib.sha256(_row_digest(row) + repr(dets.get(oid, [])).encode()).digest()))
    return SiteInputs(site.digest(), tuple(out))


def read_window(store: Store, sid: str, start: date | None) -> tuple[SiteRecords, SiteInputs]:
    """A site's observations acquired on ``start`` or later (None: all), their detections, the undetected ones, and
    the digest of the site's stored inputs, all in one snapshot of the store."""
    since = None if start is None else datetime(start.year, start.month, start.day, tzinfo=UTC)
    with store.snapshot():
        records = SiteRecords(store.observations(sid, since=since), store.detections(site_id=sid, since=since),
                              store.undetected(sid))  # fmt: skip
        return records, _site_inputs(store, sid)


def rules_digest(rules: Sequence[Rule]) -> str:
    """What the events depend on besides the stored rows: the rules in order, the timeline's and links' parameters,
    the sitewatch version and this module's."""
    from . import __version__

    doc = [_STATE_VERSION, __version__, repr(TimelineParams()), repr(LinkParams()), [repr(r) for r in rules]]
    return hashlib.sha256(json.dumps(doc).encode("utf-8")).hexdigest()


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def in_window(e: AlertEvent, rule: Rule, starts: Mapping[str, date | None]) -> bool:
    """Whether the window from ``starts`` holds event ``e`` whole (see the module's docstring)."""
    if e.kind == "change":
        return True
    if e.kind == "link":
        a, b = (starts.get(s) for s in rule.sites)
        if a is None and b is None:
            return True
        return e.date >= max(x for x in (a, b) if x is not None) + timedelta(days=LINK_DAYS)
    start = starts.get(e.site_id)
    return start is None or e.date > start


@dataclass
class WindowRun:
    """What :func:`evaluate_window` found."""

    events: list[AlertEvent]
    """The events held whole by the window (every event when ``full``), sorted as :func:`~sitewatch.alerts.evaluate_rules` sorts."""
    evaluated: int
    """How many events the whole evaluation has: those below the window (known) and ``events``."""
    full: bool
    """True when the whole history was evaluated."""
    starts: dict[str, date | None] = field(default_factory=dict)
    """Each site's start (None: read whole) this run read from."""
    checkpoint: str | None = None
    """The checkpoint to store once this run's events are recorded (None: remove it; nothing to start from)."""
    why_full: str = ""
    """Why the whole history was evaluated (no checkpoint, rules changed, a site's inputs changed...)."""

    def recent_keys(self, stored: Iterable[tuple[str, str, str, str]]) -> set[str]:
        """Of the stored events (key, site, kind, date), those a new event of this run may re-tell
        (:func:`sitewatch.alerts.retold_events`): all with ``full``, else the spanned kinds dated after their
        site's start (a new event is dated after it, and re-tells only an event of a later or equal date)."""
        out = set()
        for key, site, kind, day in stored:
            if self.full:
                out.add(key)
            elif kind in _SPANNED:
                start = self.starts.get(site)
                if start is None or str(day) > start.isoformat():
                    out.add(key)
        return out


def _load(store: Store, digest: str) -> tuple[dict[str, Any] | None, str]:
    text = store.meta(CHECKPOINT_KEY)
    if not text:
        return None, "no checkpoint"
    try:
        doc = json.loads(text)
    except ValueError:
        return None, "checkpoint not JSON"
    if not isinstance(doc, dict) or doc.get("rules") != digest:
        return None, "rules, parameters or sitewatch changed"
    return doc, ""


def _choose_starts(
    ws: _Workspace, sids: Sequence[str], old: Mapping[str, date | None]
) -> tuple[dict[str, date | None], dict[str, date | None]] | None:
    """Each site's next start and its end (last usable date), or None when a site gives no bound (no date without a
    hidden berth before its last): the next run then evaluates whole. A site without a usable date yet (a rule
    written before its images) is read whole, and its end is None: any image stored for it changes its digest."""
    ends: dict[str, date | None] = {}
    clear: dict[str, date] = {}
    for sid in sids:
        rows = ws.timeline(sid).rows
        if not rows:
            ends[sid] = None
            continue
        ends[sid] = rows[-1].date
        seen = [r.date for r in rows[:-1] if not r.hidden_berths]
        if not seen:
            return None
        clear[sid] = seen[-1]
    # A departure a new image decides was last seen on or after the site's last clear date: the window of every
    # site must hold its links whole (LINK_DAYS) from there.
    if not clear:
        return None
    cap = min(clear.values()) - timedelta(days=LINK_DAYS)
    pass_s = TimelineParams().pass_seconds
    starts: dict[str, date | None] = {}
    for sid in sids:
        start = old.get(sid)
        if ends[sid] is None:
            starts[sid] = None
            continue
        times = sorted(o.scene.acquired.astimezone(UTC) for o in ws.observations(sid).values())
        for r in reversed(ws.timeline(sid).rows):
            if r.date > cap or r.hidden_berths:
                continue
            if start is not None and r.date <= start:
                break
            # No piece of a pass may straddle the start: the last image before it is more than a pass away.
            midnight = datetime(r.date.year, r.date.month, r.date.day, tzinfo=UTC)
            i = bisect_left(times, midnight)  # times[i - 1]: the last image before the start, times[i]: its first
            if i == 0 or i == len(times) or (times[i] - times[i - 1]).total_seconds() <= max(pass_s, 3600.0):
                continue
            start = r.date
            break
        starts[sid] = start
    return starts, ends


def evaluate_window(store: Store, rules: Sequence[Rule], *, full: bool = False) -> WindowRun:
    """The rules' events from each site's remembered start on (all of them when the checkpoint is missing or stale,
    or with ``full``), and the checkpoint to store for the next run."""
    from .alerts import _evaluate, _Workspace

    digest = rules_digest(rules)
    sids = list(dict.fromkeys(s for r in rules for s in r.sites))
    doc, why = (None, "--all") if full else _load(store, digest)
    run: WindowRun | None = None
    below = 0
    if doc is not None:
        sites = doc.get("sites") or {}
        if set(sites) != set(sids):
            why = "the rules' sites changed"
        else:
            starts = {sid: _day(sites[sid].get("start")) for sid in sids}
            ws = _Workspace(store, starts, inputs=True)
            by_rule = {r.id: r for r in rules}
            events = [e for e in _evaluate(ws, rules) if in_window(e, by_rule[e.rule_id], starts)]
            stale = [sid for sid in sids if ws.inputs(sid).before(_day(sites[sid]["end"]) or date.max) != sites[sid]["digest"]]
            if stale:
                why = f"stored inputs before the last evaluated date changed at {', '.join(stale)}"
            else:
                below = int(doc.get("below", 0))
                run = WindowRun(events, below + len(events), False, starts)
    if run is None:
        ws = _Workspace(store, None, inputs=True)
        run = WindowRun(_evaluate(ws, rules), 0, True, {sid: None for sid in sids}, why_full=why)
        run.evaluated = len(run.events)
    chosen = _choose_starts(ws, sids, run.starts)
    if chosen is None:
        return run
    starts, ends = chosen
    by_rule = {r.id: r for r in rules}
    below += sum(1 for e in run.events if not in_window(e, by_rule[e.rule_id], starts))
    run.checkpoint = json.dumps({
        "version": _STATE_VERSION, "rules": digest, "below": below,
        "sites": {sid: {"start": _iso(starts[sid]), "end": _iso(ends[sid]),
                        "digest": ws.inputs(sid).before(ends[sid] or date.max)} for sid in sids},
    }, sort_keys=True)  # fmt: skip
    return run
