"""The ``changes`` layer and the ``change_pairs`` table: what ``sitewatch change`` found, pair by pair.

A pair (before, after) is written whole in one transaction: its old regions and its pair row go,
the new ones come in, so a rerun of the same pair replaces what the last run wrote and a stopped run
leaves the last complete one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..errors import ObservationGoneError
from ..model import Change, Observation, utc
from .gpkg import as_multipolygon
from .sqlite import Connection, Store, _acquired_between, _iso, _times, now_utc, select_equal

__all__ = ["ChangePair", "replace_changes", "change_pairs", "changes", "pairs_with_regions", "pairs_meeting"]


@dataclass(frozen=True)
class ChangePair:
    """One pair of observations compared, as stored."""

    site_id: str
    before_id: str
    after_id: str
    before_acquired: datetime
    after_acquired: datetime
    sensor: str
    compared_fraction: float
    method: str
    method_version: str
    parameters: dict[str, Any] = field(default_factory=dict)
    simulated: bool = False
    computed_at: str = ""
    before_sha256: str = ""
    """The archived COG compared (an observation ingested again since has another)."""
    after_sha256: str = ""
    inputs: str = ""
    """The digest of what the regions rest on (:func:`sitewatch.change_state.pair_inputs`); "" when not recorded (a
    pair stored before schema 15)."""

    def current(self, observations: Mapping[str, Observation]) -> bool:
        """Whether both images are stored in ``observations`` (by id) as they were compared: neither gone nor
        ingested again since (another file, another sha256; a pair stored without its sha256 counts)."""
        return (
            self.before_id in observations and self.after_id in observations
            and self.before_sha256 in ("", observations[self.before_id].sha256)
            and self.after_sha256 in ("", observations[self.after_id].sha256)
        )  # fmt: skip


def replace_changes(
    store: Store, before: Observation, after: Observation, *, compared_fraction: float, method: str,
    method_version: str, parameters: dict[str, Any], changes: Sequence[Change], inputs: str = "", stored_only: bool = False,
) -> ChangePair:  # fmt: skip
    """Record the pair and its regions, replacing what an earlier run recorded for it, in one transaction.

    ``inputs``: the digest of what they rest on (:func:`sitewatch.change_state.pair_inputs`), stored with them.
    ``stored_only``: record the pair only while both observations are stored as compared (their sha256), else an
    :class:`~sitewatch.errors.ObservationGoneError` (``sitewatch change``: one removed while it compared them).

    A pair compared again to what is stored, value for value (its images, parameters and regions: ``change --force``
    with nothing new, or a change of sitewatch that finds the same regions), is left as stored, ``computed_at`` with
    it (when these regions were found): the stored pair is returned, and only its ``inputs`` written when they
    differ."""
    simulated = before.scene.simulated or after.scene.simulated
    pair = ChangePair(
        after.site_id, before.id, after.id, before.scene.acquired, after.scene.acquired, after.scene.sensor,
        compared_fraction, method, method_version, dict(parameters), simulated, now_utc(), before.sha256, after.sha256,
        inputs,
    )  # fmt: skip
    geoms = [as_multipolygon(c.polygon) for c in changes]
    rows = [
        (store._geom(g), c.id, c.site_id, c.before_id, c.after_id, _iso(pair.before_acquired), _iso(pair.after_acquired),
         pair.sensor, c.direction, c.area_m2, c.magnitude, c.method, c.method_version, simulated)
        for c, g in zip(changes, geoms, strict=True)
    ]  # fmt: skip
    pair_row = (pair.site_id, before.id, after.id, _iso(pair.before_acquired), _iso(pair.after_acquired), before.sha256,
                after.sha256, pair.sensor, compared_fraction, method, method_version,
                json.dumps(parameters, sort_keys=True, default=str), simulated)  # fmt: skip
    with store.transaction() as db:
        store._lock(db, f"changes {before.id} {after.id}")  # two runs of one pair at once: one after the other
        # The locks a removal of the observations takes (`observations remove`, `sites remove`), in its order: one
        # removed or replaced while they were compared is then seen here, and no pair resting on it is recorded.
        if stored_only:
            for oid in sorted({before.id, after.id}):
                store._lock(db, f"detections {oid}")
            current = db.execute(
                "SELECT count(*) FROM observations WHERE (observation_id = ? AND sha256 = ?) OR (observation_id = ? AND sha256 = ?)",
                (before.id, before.sha256, after.id, after.sha256),
            ).fetchone()[0]
            if current != len({before.id, after.id}):
                raise ObservationGoneError(
                    f"{before.id} -> {after.id}: removed or replaced by another command while they were compared; "
                    "nothing recorded of this pair (run `sitewatch change` again)"
                )
        held = _as_stored(store, db, pair_row, rows)
        if held is not None:
            computed_at, recorded = held
            if recorded != inputs:
                db.execute("UPDATE change_pairs SET inputs = ? WHERE before_id = ? AND after_id = ?",
                           (inputs or None, before.id, after.id))  # fmt: skip
            return replace(pair, computed_at=computed_at)
        db.execute("DELETE FROM changes WHERE before_id = ? AND after_id = ?", (before.id, after.id))
        db.execute("DELETE FROM change_pairs WHERE before_id = ? AND after_id = ?", (before.id, after.id))
        db.execute(
            """INSERT INTO change_pairs (site_id, before_id, after_id, before_acquired, after_acquired, before_sha256,
               after_sha256, sensor, compared_fraction, method, method_version, parameters, simulated, computed_at, inputs)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (*pair_row, pair.computed_at, inputs or None),
        )  # fmt: skip
        db.executemany(
            """INSERT INTO changes (geom, change_id, site_id, before_id, after_id, before_acquired, after_acquired,
               sensor, direction, area_m2, magnitude, method, method_version, simulated)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            rows,
        )
        store._touch(db, "changes")
        store._extend(db, "changes", geoms)
    return pair


_PAIR_COLUMNS = ("site_id", "before_id", "after_id", "before_acquired", "after_acquired", "before_sha256", "after_sha256",
                 "sensor", "compared_fraction", "method", "method_version", "parameters", "simulated")
_CHANGE_COLUMNS = ("geom", "change_id", "site_id", "before_id", "after_id", "before_acquired", "after_acquired", "sensor",
                   "direction", "area_m2", "magnitude", "method", "method_version", "simulated")


def _as_stored(store: Store, db: Connection, pair_row: tuple[Any, ...], rows: list[tuple[Any, ...]]) -> tuple[str, str] | None:
    """The stored ``computed_at`` and ``inputs`` ("" for none) of the pair when its row holds ``pair_row`` (values of
    :data:`_PAIR_COLUMNS`) and its regions are ``rows`` (of :data:`_CHANGE_COLUMNS`), value for value (geometries by
    their WKB); else None."""
    before_id, after_id = pair_row[1], pair_row[2]
    held = db.execute(f"SELECT {', '.join(_PAIR_COLUMNS)}, computed_at, inputs FROM change_pairs WHERE before_id = ? AND after_id = ?",
                      (before_id, after_id)).fetchone()  # fmt: skip
    if held is None or tuple(held)[:-2] != pair_row:
        return None
    stored = db.execute(f"SELECT {', '.join(_CHANGE_COLUMNS)} FROM changes WHERE before_id = ? AND after_id = ?",
                        (before_id, after_id)).fetchall()  # fmt: skip

    def comparable(row: Any) -> tuple[Any, ...]:
        geom, *rest = tuple(row)
        shape = store._shape(geom)
        return (None if shape is None else shape.wkb, *rest)

    if sorted(map(comparable, stored), key=lambda r: r[1]) != sorted(map(comparable, rows), key=lambda r: r[1]):
        return None
    return str(tuple(held)[-2]), str(tuple(held)[-1] or "")


def _after_of_period(site_id: str | None, since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    """SQL (`` AND …``) and arguments keeping the rows whose after-image is an observation (of ``site_id``, if given)
    acquired from ``since`` to ``until`` as the store holds it now; nothing when neither is given. By the
    observation's own time, not the row's ``after_acquired`` (the time when compared), as the site page keeps pairs.
    The rows are found by their ``after_id`` (its index), the period's few; the caller keeps those of ``site_id``
    (all of them: a pair is of its after-image's site), rather than asking SQL, which would read the site's every
    row through the index on ``site_id`` to test each."""
    if since is None and until is None:
        return "", []
    of_site = " AND site_id = ?" if site_id else ""
    sql = (f" AND after_id IN (SELECT observation_id FROM observations WHERE 1=1{of_site}"
           f"{_acquired_between('acquired', since, until)})")  # fmt: skip
    return sql, [*([site_id] if site_id else []), *_times(since, until)]


def change_pairs(store: Store, site_id: str | None = None, *, since: datetime | None = None,
                 until: datetime | None = None) -> list[ChangePair]:  # fmt: skip
    """Pairs compared (of one site), in the order of their after image, then before image; with ``since`` or
    ``until``, the pairs whose after-image's observation was acquired from ``since`` to ``until`` (inclusive),
    read alone (a site's pairs of years are not read for one season)."""
    period, args = _after_of_period(site_id, since, until)
    of_site = site_id if site_id and not period else None
    sql = ("SELECT * FROM change_pairs WHERE 1=1" + (" AND site_id = ?" if of_site else "") + period
           + " ORDER BY after_acquired, before_acquired, after_id")  # fmt: skip
    return [_pair(r) for r in store.execute(sql, [*([of_site] if of_site else []), *args]) if site_id is None or r["site_id"] == site_id]


def _pair(r: Any) -> ChangePair:
    return ChangePair(
        r["site_id"], r["before_id"], r["after_id"], utc(r["before_acquired"]), utc(r["after_acquired"]), r["sensor"],
        r["compared_fraction"], r["method"], r["method_version"], json.loads(r["parameters"]), bool(r["simulated"]),
        r["computed_at"], r["before_sha256"], r["after_sha256"], r["inputs"] or "",
    )  # fmt: skip


def changes(store: Store, site_id: str | None = None, before_id: str | None = None, after_id: str | None = None, *,
            since: datetime | None = None, until: datetime | None = None) -> list[Change]:  # fmt: skip
    """Stored change regions, largest first within each pair, pairs in time order; with ``since`` or ``until``,
    the regions of the pairs :func:`change_pairs` keeps for that period."""
    order = "after_acquired, before_acquired, after_id, area_m2 DESC, change_id"
    period, more = _after_of_period(site_id, since, until)
    sql, args = select_equal("changes", order, site_id=None if period else site_id, before_id=before_id, after_id=after_id)
    if period:
        where, order = sql.split(" ORDER BY ")
        sql, args = f"{where}{period} ORDER BY {order}", [*args, *more]
    return [_change(store, r) for r in store.execute(sql, args) if site_id is None or r["site_id"] == site_id]


def _change(store: Store, r: Any) -> Change:
    return Change(
        id=r["change_id"], site_id=r["site_id"], before_id=r["before_id"], after_id=r["after_id"],
        polygon=_polygon(store._shape(r["geom"])), area_m2=r["area_m2"], magnitude=r["magnitude"],
        direction=r["direction"], method=r["method"], method_version=r["method_version"],
    )  # fmt: skip


def pairs_with_regions(store: Store, site_id: str, *, since: datetime | None = None,
                       until: datetime | None = None) -> list[tuple[ChangePair, list[Change]]]:  # fmt: skip
    """The site's stored pairs as :func:`change_pairs` orders them (of the period from ``since`` to ``until``, if
    given, as it keeps them), each with its regions (largest first): two queries for the site, not one a pair."""
    by_pair: dict[tuple[str, str], list[Change]] = defaultdict(list)
    for c in changes(store, site_id=site_id, since=since, until=until):
        by_pair[(c.before_id, c.after_id)].append(c)
    return [(p, by_pair.get((p.before_id, p.after_id), [])) for p in change_pairs(store, site_id, since=since, until=until)]


def pairs_meeting(store: Store, site_id: str, since: datetime, until: datetime) -> tuple[list[ChangePair], list[Change]]:
    """The site's pairs whose span, from the before image to the after image as they were compared, meets ``since``
    to ``until`` (an end inside it, or the span around it), ordered as :func:`change_pairs` orders them, and their
    regions as :func:`changes` orders them: the pairs around a claim's dates, not the site's years of them."""
    meets = " AND after_acquired >= ? AND before_acquired <= ?"
    args = [site_id, *_times(since, until)]
    pairs = store.execute(f"SELECT * FROM change_pairs WHERE site_id = ?{meets} ORDER BY after_acquired, before_acquired, after_id",
                          args)  # fmt: skip
    regions = store.execute(f"SELECT * FROM changes WHERE site_id = ?{meets} "
                            "ORDER BY after_acquired, before_acquired, after_id, area_m2 DESC, change_id", args)  # fmt: skip
    return [_pair(r) for r in pairs], [_change(store, r) for r in regions]


def _polygon(geom: Any) -> Any:
    """A MULTIPOLYGON of one part as the Polygon it was."""
    return geom.geoms[0] if geom is not None and geom.geom_type == "MultiPolygon" and len(geom.geoms) == 1 else geom
