"""Copy a workspace's database into another store: a GeoPackage into a PostGIS team store, or back.

Rows are copied as they are, table by table (``fid`` and every column the two stores share, so the
detection times, the runs and the alert events' order stay what they were), with what ``sitewatch_meta``
keeps besides the schema version (what ``detect`` last ran on, so that it does not run again on every
observation), in one transaction on the target: a copy that fails leaves the target as it was. A target that already holds rows is refused
unless ``replace``, which empties it first: a copy run again gives the same rows, not twice the rows.
The target's tables are locked against writes while it is copied into (reads go on), so a member writing to
a team store at that moment, or a second copy, is waited for and then seen; the source is read as one
moment (:meth:`~sitewatch.store.Store.snapshot`), so rows committed to it during the copy are not half in it.
"""

from __future__ import annotations

from typing import Any

from ..errors import StoreError
from .sqlite import Store

__all__ = ["COPIED_TABLES", "copy_store"]

COPIED_TABLES = (
    "sites", "berths", "site_water", "scenes", "observations", "detections",
    "changes", "change_pairs", "runs", "alert_events",
)  # fmt: skip
"""Every table of sitewatch's own, in the order copied."""

_BOOLEAN_COLUMNS = frozenset({"resolved", "simulated", "truncated", "acquired_date_only", "webhook_pending"})
"""Columns the GeoPackage holds as 0/1 and PostgreSQL as boolean."""

_SCHEMA_KEYS = "('schema_version', 'schema_written_by')"
"""The ``sitewatch_meta`` rows that are the store's own, not copied: its schema version and the sitewatch that
migrated it last (a GeoPackage's would otherwise become the PostGIS store's, and be named when it is refused)."""

_KEYS = {"runs": "run_id", "change_pairs": "pair_id"}
"""The tables whose key is not ``fid``."""


def _value(source: Store, target: Store, column: str, value: Any) -> Any:
    if column == "geom":
        return target._geom(source._shape(value))
    if column in _BOOLEAN_COLUMNS and value is not None:
        return bool(value)
    return value


def copy_store(source: Store, target: Store, *, replace: bool = False) -> dict[str, int]:
    """Copy every row of ``source``'s tables into ``target``; how many rows of each table.

    ``target`` with rows already is refused (a :class:`StoreError` saying so) unless ``replace``.
    """
    copied: dict[str, int] = {}
    # The source as one moment, though members may be writing to it: not an observation whose scene
    # was committed after the scenes were read.
    with source.snapshot(), target.transaction() as db:
        # Looked at under the lock: a member writing to the store (or a second copy) at this moment is
        # waited for and then seen, not met halfway by rows of the same keys.
        target._lock_tables(db, (*COPIED_TABLES, "sitewatch_meta"))
        held = {t: n for t in COPIED_TABLES if (n := int(target.execute(f"SELECT count(*) FROM {t}")[0][0]))}
        if held and not replace:
            what = ", ".join(f"{n} {t}" for t, n in held.items())
            raise StoreError(
                f"{target.location}: holds rows already ({what}); pass --replace to empty it and copy again"
            )
        for table in reversed(COPIED_TABLES):
            db.execute(f"DELETE FROM {table}")
        for table in COPIED_TABLES:
            columns = [c for c in source.columns(table) if c in set(target.columns(table))]
            rows = source.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {_KEYS.get(table, 'fid')}")
            marks = ", ".join("?" * len(columns))
            db.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                [tuple(_value(source, target, c, v) for c, v in zip(columns, r, strict=True)) for r in rows],
            )
            target._keys_follow(db, table, _KEYS.get(table, "fid"))
            copied[table] = len(rows)
        # Each store keeps its own schema version (the GeoPackage's and PostGIS's are counted apart).
        db.execute(f"DELETE FROM sitewatch_meta WHERE key NOT IN {_SCHEMA_KEYS}")
        db.executemany(
            "INSERT INTO sitewatch_meta (key, value) VALUES (?, ?)",
            [tuple(r) for r in source.execute(f"SELECT key, value FROM sitewatch_meta WHERE key NOT IN {_SCHEMA_KEYS} ORDER BY key")],
        )
    target.update_extents()
    return copied
