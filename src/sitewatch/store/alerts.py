"""The ``alert_events`` table: the events ``sitewatch alerts check`` has reported, so that a rerun reports only new ones.

An event is known by its key (rule, site, the observations it rests on). New events of a run are recorded
in one transaction; an event to be posted to a webhook stays ``webhook_pending`` until a POST succeeds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..model import utc
from .sqlite import Store, now_utc, stored_time

__all__ = ["known_event_keys", "record_events", "record_spans", "pending_events", "mark_delivered", "mark_failed", "stored_events",
           "pending_count", "alerts_turn", "deliver_pending"]

_LOCK = "sitewatch alerts check"
"""What two ``alerts check`` runs at once (cron runs overlapping, two members of a team store) take turns on."""

_DELIVERY = "alerts webhook"
"""What two ``alerts check`` runs take turns on to post an event (:meth:`~sitewatch.store.Store.turn`)."""


@contextmanager
def alerts_turn(store: Store) -> Iterator[None]:
    """A transaction that no other run's turn overlaps: the events known, the new ones recorded, one decision."""
    with store.transaction() as db:
        store._lock(db, _LOCK)
        yield


def known_event_keys(store: Store) -> set[str]:
    """The keys of every event reported before."""
    return {r[0] for r in store.execute("SELECT event_key FROM alert_events")}


def record_events(store: Store, events: Sequence[Mapping[str, Any]], *, webhook: bool) -> int:
    """Record events (as :func:`sitewatch.alerts.event_to_dict` gives them) in one transaction; an event
    already recorded is left as it is. ``webhook``: each new one waits to be posted. Returns how many were new.

    The ``acquired`` column holds the store's form of the time (:func:`~sitewatch.store.sqlite.stored_time`, as every
    other time column): the event's own ``2024-10-17T00:40:00Z`` was kept on the GeoPackage, and a copy through PostGIS
    (which gives its times in the store's form) changed it."""
    now = now_utc()
    added = 0
    with store.transaction() as db:
        for e in events:
            cur = db.execute(
                """INSERT INTO alert_events (event_key, rule_id, kind, site_id, event_date, acquired, summary,
                   observation_ids, simulated, event, first_reported, webhook_pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(event_key) DO NOTHING""",
                (e["event_id"], e["rule"], e["kind"], e["site"], e["date"], stored_time(utc(e["acquired"])), e["what"],
                 json.dumps(e["observations"]), bool(e["simulated"]), json.dumps(e, sort_keys=True), now, bool(webhook)),
            )  # fmt: skip
            added += cur.rowcount
    return added


_HAS_SPAN = '"not_yet": "'
"""How an event's JSON (``json.dumps`` as :func:`record_events` writes it) holds a ``not_yet`` date."""


def record_spans(store: Store, events: Sequence[Mapping[str, Any]]) -> int:
    """Give each recorded event whose ``details`` lack ``not_yet`` (recorded by a sitewatch from before it kept
    one: the usable date before the event, on which it had not happened) the ``not_yet`` of the same event
    (``event_id``) in ``events``, this run's evaluation; one transaction. Without it, an image that comes late
    after an upgrade told such an event again (:func:`sitewatch.alerts.retold_events` had no span to find it
    in). Returns how many were given one."""
    spans = {str(e["event_id"]): d["not_yet"] for e in events if isinstance(d := e.get("details"), Mapping) and d.get("not_yet")}
    if not spans:
        return 0
    updates = []
    for key, text in store.execute("SELECT event_key, event FROM alert_events"):
        # Every event this sitewatch records has its span: only those of an older one are decoded. Each run
        # decoded every event ever recorded (years of a daily job: thousands) to find none to give one.
        if key not in spans or (isinstance(text, str) and _HAS_SPAN in text):
            continue
        event = json.loads(text)
        details = event.get("details")
        if isinstance(details, dict) and not details.get("not_yet"):
            details["not_yet"] = spans[key]
            updates.append((json.dumps(event, sort_keys=True), key))
    if updates:
        with store.transaction() as db:
            db.executemany("UPDATE alert_events SET event = ? WHERE event_key = ?", updates)
    return len(updates)


def stored_events(store: Store, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every recorded event (``keys``: those of these keys) as it was reported, in the order recorded."""
    if keys is None:
        return [json.loads(r[0]) for r in store.execute("SELECT event FROM alert_events ORDER BY fid")]
    wanted, rows = sorted(set(keys)), []
    for i in range(0, len(wanted), 500):  # under SQLite's limit of bound parameters
        part = wanted[i:i + 500]
        rows += store.execute(f"SELECT fid, event FROM alert_events WHERE event_key IN ({', '.join('?' * len(part))})", part)
    return [json.loads(r[1]) for r in sorted(rows, key=lambda r: r[0])]


def pending_events(store: Store) -> list[dict[str, Any]]:
    """Events waiting to be posted to the webhook, oldest first."""
    return [json.loads(r[0]) for r in store.execute("SELECT event FROM alert_events WHERE webhook_pending ORDER BY fid")]


def pending_count(store: Store) -> int:
    """How many events wait to be posted to the webhook."""
    return int(store.execute("SELECT count(*) FROM alert_events WHERE webhook_pending")[0][0])


def mark_delivered(store: Store, keys: Iterable[str]) -> None:
    """The events were posted: no longer pending."""
    now = now_utc()
    with store.transaction() as db:
        db.executemany(
            "UPDATE alert_events SET webhook_pending = FALSE, webhook_delivered = ?, webhook_error = NULL WHERE event_key = ?",
            [(now, k) for k in keys],
        )


def mark_failed(store: Store, errors: Mapping[str, str]) -> None:
    """The events could not be posted: still pending, with the error kept."""
    with store.transaction() as db:
        db.executemany(
            "UPDATE alert_events SET webhook_error = ? WHERE event_key = ?", [(msg, k) for k, msg in errors.items()]
        )


def deliver_pending(store: Store, post: Callable[[Mapping[str, Any]], None]) -> tuple[list[str], dict[str, str]]:
    """POST each pending event, oldest first, each in a turn of its own: still pending when the turn comes
    (another run may have posted it meanwhile), posted and marked delivered together, so that an event is
    never posted by two runs and a run stopped in the middle leaves it pending. The first failure ends the
    delivery (each other would wait out the timeout) and is kept with the event. Returns the keys delivered
    and the error of the one that failed.

    The turn is :meth:`~sitewatch.store.Store.turn`'s, not a write transaction: a slow receiver (seconds an
    event, up to the timeout) kept every other command from writing to a GeoPackage while it was posted to,
    and one waiting longer than the store's busy timeout stopped with an error."""
    delivered: list[str] = []
    errors: dict[str, str] = {}
    for key in [e["event_id"] for e in pending_events(store)]:
        with store.turn(_DELIVERY):
            rows = store.execute("SELECT event FROM alert_events WHERE event_key = ? AND webhook_pending", (key,))
            if not rows:
                continue
            try:
                post(json.loads(rows[0][0]))
            except OSError as exc:
                errors[key] = str(exc)
            else:
                mark_delivered(store, [key])
                delivered.append(key)
        if errors:
            mark_failed(store, errors)
            break
    return delivered, errors
