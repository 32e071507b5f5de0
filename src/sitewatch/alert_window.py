"""``alerts check`` over years of daily history: evaluate the recent window, remember where it starts.

A full evaluation reads every observation and detection of the rules' sites and builds their whole timelines,
every run (8 s at 1,800 days of ten sites). What a new image can change is the end of the history, so each run
remembers, in the store (``sitewatch_meta``, key :data:`CHECKPOINT_KEY`; SQLite and PostGIS alike):

- per site, a **start**: a usable date of its timeline on which no berth was hidden, so that no vessel is carried
  past it. A timeline built from that date's observations on has, after that date, the rows of the whole one
  (the first date's vessels are the state before the next, exactly as in the whole timeline), and the moves
  (arrivals, departures) decided after it are the whole timeline's;
- per site, the **end** (its last usable date at that run);
- the rules, their parameters and the sitewatch version (:func:`rules_digest`);
- how many events the rules have **below** the starts, which need no second look;
- how many events ``alert_events`` held (**recorded**): a run that finds fewer (rows deleted by hand: sitewatch
  deletes none) evaluates whole, so that the events those rows recorded are reported again, whatever their date,
  as a whole evaluation reports every event not recorded. Alerts are about what was not reported: a deleted row
  is such an event, and a window must not decide otherwise than the whole history would.

Whether anything stored before a site's end changed since (an image imported late into the past, a ``detect
--force``, an edited site, a deleted observation...) is not found by reading the history again: the database notes
it itself. Triggers on the six tables the rules read (sites, berths, site_water, scenes, observations, detections;
:func:`sitewatch.store.schema.input_log_sql`, the PostGIS store's version 3) add a row to ``input_changes`` for
every row inserted, deleted or updated to other values: the site and the acquisition time of the old row and of
the new (no time for a site's own rows: the whole site; for a scene, each of its observations). A run reads those
rows (as many as were written since the last run, not the history) and evaluates whole when one lies before a
site's end; the checkpoint, once stored, removes the rows it has taken in.

Why triggers and not the other ways to the same answer:

- *digests of every stored row* (what each run did: read and hash the 19,146 observation rows of five years,
  1.06 s of a 2.84 s profile) grow with the history;
- *the per-observation digests ``detect`` keeps* cover only what ``detect`` wrote: not ``sites import``, ``sites
  remove``, ``import``'s upserts, a copy between stores, nor a layer edited in QGIS;
- *a counter or running digest bumped by each of sitewatch's write paths* misses every path that forgets it, now
  or later, and every writer that is not sitewatch (QGIS, the ``sqlite3`` shell, ``psql``, a team member's older
  script); it is also one row every writer would update, a queue for the team store's members;
- *digests of the rows since a date* cannot see a change before it, which is the change that matters.

A trigger is part of the table: every ``INSERT``, ``UPDATE`` and ``DELETE`` runs it, whichever program and code
path wrote, in the writer's transaction (a write rolled back leaves no note; none is committed without its note).
SQLite's ``INSERT OR REPLACE`` and ``UPDATE OR REPLACE`` delete without a delete trigger: a ``BEFORE INSERT`` and a
``BEFORE UPDATE`` one (schema 13) note the rows they replace; PostgreSQL's ``TRUNCATE`` fires no row trigger: a
statement trigger notes every site. What a trigger cannot see is its own absence: each run checks that every trigger
is there as the migration made it (and, on PostGIS, enabled, on its table, for its events;
:meth:`~sitewatch.store.Store.records_input_changes`) and evaluates whole otherwise.

Which rows a checkpoint has taken in is decided by what the run read, not by times or sequence numbers (a
PostgreSQL sequence is not in commit order; a store copied or restored starts another): a run reads the ids of the
rows noted before it reads anything (every change they note is in what it then reads), checks every row noted
after its reads (every change it may have read), and stores its checkpoint only if the one it started from is
still there (each carries a random ``nonce``): with the checkpoint, in one transaction, it removes the ids read
first, and nothing else. A run that finds another's checkpoint stored meanwhile stores none (the other's stands,
with the rows noted after that run's start). A store copied into another (``sitewatch store copy``) brings the
checkpoint along, and the copy's inserts are noted in the target: its first run evaluates whole.

The next run reads each site from its start on, evaluates the rules there, and keeps the events that the window
holds whole (:func:`in_window`): a site's events dated after its start, a link's whose arrival is at least
:data:`LINK_DAYS` after both sites' starts (so that every departure within the link window of the arrival, and
every arrival competing for those departures, lies in the window), change events always (the ``changes`` table is
read whole). Those are exactly the whole evaluation's events of those dates; every other event of the whole
evaluation was evaluated by an earlier run and is known. The starts are chosen :data:`LINK_DAYS` before the last
date that had no hidden berth at any of the rules' sites, so that whatever the next images change (a departure
decided by a new image was last seen on or after that date) lands in the next window.

Anything else falls back to the whole evaluation, which then writes the first checkpoint: no checkpoint, other
rules, another sitewatch, a site's inputs before its end changed, the triggers missing, ``--all``. ``--since``
evaluates whole and leaves the checkpoint as it was (the events before its date are not recorded).
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .analysis.links import LinkParams
from .analysis.occupancy import SiteRecords, TimelineParams, read_site_records

if TYPE_CHECKING:
    from .alert_rules import Rule
    from .alerts import AlertEvent, _Workspace
    from .store import Store

__all__ = ["CHECKPOINT_KEY", "LINK_DAYS", "WindowRun", "evaluate_window", "in_window", "read_window", "rules_digest",
           "store_checkpoint"]

CHECKPOINT_KEY = "alerts_checkpoint"
"""The ``sitewatch_meta`` key of what the last ``alerts check`` evaluated (JSON)."""

_STATE_VERSION = 2
"""Bumped when what the checkpoint means changes: an older one is then not trusted."""

LINK_DAYS = math.floor(LinkParams().window_days) + 1
"""Days after both sites' starts from which a link's arrival is held whole by the window (the link window, 14
days, and one)."""

_SPANNED = ("arrival", "departure", "vessel_count")
_SITE_KINDS = ("arrival", "departure", "object", "vessel_count")


def read_window(store: Store, sid: str, start: date | None) -> SiteRecords:
    """A site's observations acquired on ``start`` or later (None: all), their detections and the undetected
    ones, in one snapshot of the store."""
    since = None if start is None else datetime(start.year, start.month, start.day, tzinfo=UTC)
    return read_site_records(store, sid, since=since)


def _noted(store: Store) -> list[tuple[int, str | None, str | None]]:
    """The rows of ``input_changes``: (id, site or None for every site, acquisition time as stored or None for the
    whole site)."""
    return [(int(r[0]), None if r[1] is None else str(r[1]), None if r[2] is None else str(r[2]))
            for r in store.execute("SELECT id, site_id, acquired FROM input_changes ORDER BY id")]  # fmt: skip


def _stale(noted: Iterable[tuple[int, str | None, str | None]], sites: Mapping[str, Any], sids: Sequence[str]) -> list[str]:
    """The sites (in ``sids``' order) of which a noted change lies before their end (any, for a site without one)."""
    hit: set[str] = set()
    for _, sid, acquired in noted:
        if sid is None:
            return list(sids)
        if sid in sites and sid not in hit:
            end = _day(sites[sid].get("end"))
            # As stored: GeoPackage text, PostGIS times read back as the same text ("…T09:30:00.000Z").
            if end is None or acquired is None or acquired < f"{end.isoformat()}T":
                hit.add(sid)
    return [sid for sid in sids if sid in hit]


def rules_digest(rules: Sequence[Rule]) -> str:
    """What the events depend on besides the stored rows: the rules in order, the timeline's and links' parameters,
    the land mask links are routed on (``global-land-mask`` installed or not), the sitewatch version and this
    module's."""
    from . import __version__
    from .analysis import sea_route

    # Installed or removed between runs, the mask changes a link's distance and feasibility: a run of a window
    # kept the links below it as another mask had found them.
    mask = sea_route.LAND_MASK_TEXT if sea_route.land_mask_file() else None
    doc = [_STATE_VERSION, __version__, repr(TimelineParams()), repr(LinkParams()), mask, [repr(r) for r in rules]]
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
    """The checkpoint to store once this run's events are recorded (:func:`store_checkpoint`; one without sites
    when there is nothing to start from)."""
    loaded: str | None = None
    """The checkpoint this run started from, as stored (None: none): another stored since, this run's is not."""
    taken_in: tuple[int, ...] = ()
    """The ``input_changes`` rows noted before this run read anything: what its checkpoint takes in."""
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


def _load(text: str | None, digest: str) -> tuple[dict[str, Any] | None, str]:
    if not text:
        return None, "no checkpoint"
    try:
        doc = json.loads(text)
    except ValueError:
        return None, "checkpoint not JSON"
    if not isinstance(doc, dict) or "sites" not in doc:
        return None, "no checkpoint"
    if doc.get("rules") != digest:
        return None, "rules, parameters or sitewatch changed"
    return doc, ""


def _choose_starts(
    ws: _Workspace, sids: Sequence[str], old: Mapping[str, date | None]
) -> tuple[dict[str, date | None], dict[str, date | None]] | None:
    """Each site's next start and its end (last usable date), or None when a site gives no bound (no date without a
    hidden berth before its last): the next run then evaluates whole. A site without a usable date yet (a rule
    written before its images) is read whole, and its end is None: any change noted at it is stale."""
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
    or with ``full``), and the checkpoint to store for the next run (:func:`store_checkpoint`)."""
    from .alerts import _evaluate, _Workspace

    digest = rules_digest(rules)
    sids = list(dict.fromkeys(s for r in rules for s in r.sites))
    # Before any read: the changes noted so far are all in what this run reads next.
    with store.snapshot():
        loaded = store.meta(CHECKPOINT_KEY)
        noting = store.records_input_changes()
        taken_in = tuple(i for i, _, _ in _noted(store))
    doc, why = (None, "--all") if full else _load(loaded, digest)
    if doc is not None and not noting:
        doc, why = None, "the store does not note its changes (input_changes' triggers missing or disabled)"
    run: WindowRun | None = None
    below = 0
    if doc is not None:
        sites = doc.get("sites") or {}
        if set(sites) != set(sids):
            why = "the rules' sites changed"
        else:
            starts = {sid: _day(sites[sid].get("start")) for sid in sids}
            ws = _Workspace(store, starts)
            by_rule = {r.id: r for r in rules}
            events = [e for e in _evaluate(ws, rules) if in_window(e, by_rule[e.rule_id], starts)]
            # After the reads: every change they may hold is noted by now (or its checkpoint was stored meanwhile).
            with store.snapshot():
                now = store.meta(CHECKPOINT_KEY)
                stale = _stale(_noted(store), sites, sids)
            if now != loaded:
                why = "another run stored its checkpoint meanwhile"
            elif isinstance(doc.get("recorded"), int) and _recorded(store) < doc["recorded"]:
                # Rows deleted from alert_events (sitewatch never deletes one): the events they recorded are not
                # known any more, and a whole evaluation reports them again; a window would not see those below it.
                why = "events deleted from alert_events since the last run"
            elif stale:
                why = f"stored inputs before the last evaluated date changed at {', '.join(stale)}"
            else:
                below = int(doc.get("below", 0))
                run = WindowRun(events, below + len(events), False, starts)
    if run is None:
        ws = _Workspace(store, None)
        run = WindowRun(_evaluate(ws, rules), 0, True, {sid: None for sid in sids}, why_full=why)
        run.evaluated = len(run.events)
    run.loaded, run.taken_in = loaded, taken_in
    # A random nonce: a run stores its checkpoint only over the one it started from, never over another's.
    chosen = _choose_starts(ws, sids, run.starts) if noting else None
    if chosen is None:
        run.checkpoint = json.dumps({"version": _STATE_VERSION, "nonce": uuid.uuid4().hex}, sort_keys=True)
        return run
    starts, ends = chosen
    by_rule = {r.id: r for r in rules}
    below += sum(1 for e in run.events if not in_window(e, by_rule[e.rule_id], starts))
    run.checkpoint = json.dumps({
        "version": _STATE_VERSION, "rules": digest, "below": below, "nonce": uuid.uuid4().hex,
        "sites": {sid: {"start": _iso(starts[sid]), "end": _iso(ends[sid])} for sid in sids},
    }, sort_keys=True)  # fmt: skip
    return run


def _recorded(store: Store) -> int:
    """How many events ``alert_events`` holds."""
    return int(store.execute("SELECT count(*) FROM alert_events")[0][0])


def store_checkpoint(store: Store, run: WindowRun) -> bool:
    """Store ``run``'s checkpoint, and remove the ``input_changes`` rows it has taken in, in one transaction; unless
    the checkpoint stored is no longer the one the run started from (another run stored its own meanwhile: that
    one stands, and the rows noted since this run started stay). Whether it was stored. Called with the events
    below the new checkpoint recorded, and, so that two runs do not interleave here, in their turn
    (:func:`sitewatch.store.alerts.alerts_turn`)."""
    with store.transaction() as db:
        rows = store.execute("SELECT value FROM sitewatch_meta WHERE key = ?", (CHECKPOINT_KEY,))
        if (str(rows[0][0]) if rows else None) != run.loaded:
            return False
        checkpoint = run.checkpoint
        if checkpoint is not None and "sites" in (doc := json.loads(checkpoint)):
            # How many events are recorded with it: fewer at the next run, rows were deleted (by hand, as sitewatch
            # never deletes one), and that run evaluates whole, so that it reports them as a whole evaluation does.
            checkpoint = json.dumps(doc | {"recorded": _recorded(store)}, sort_keys=True)
        db.execute("INSERT INTO sitewatch_meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   (CHECKPOINT_KEY, checkpoint))  # fmt: skip
        ids = list(run.taken_in)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            db.execute(f"DELETE FROM input_changes WHERE id IN ({', '.join('?' * len(part))})", part)
    return True
