"""The workspace store: one SQLite file that is also an OGC GeoPackage.

Every write goes through :meth:`Store.transaction`, so an interrupted run
leaves no half rows. Rows have natural keys (site id, scene id, observation
id, detection id) and writes are upserts or replace-by-owner, so rerunning a
stage gives the same rows, not twice the rows.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import shlex
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from .. import __version__
from ..errors import STALL_LOGGER, SiteError, StoreError, StoreReadOnlyError
from ..model import (
    SITE_ID_PATTERN,
    Berth,
    ClassCandidate,
    Detection,
    Grid,
    Observation,
    SceneRef,
    Site,
    sites_named,
    utc,
)
from .gpkg import (
    APPLICATION_ID,
    USER_VERSION,
    as_multipolygon,
    from_gpkg_blob,
    multipolygon_blob,
    register_gpkg_functions,
    to_gpkg_blob,
)
from .schema import INPUT_TRIGGER_PREFIX, MIGRATIONS, SCHEMA_VERSION

__all__ = ["Connection", "Store", "now_utc", "provenance_to_write", "stored_json", "stored_time"]


def now_utc() -> str:
    """The current time as stored in the database (UTC, ISO 8601, microseconds)."""
    return _now()


def stored_time(t: datetime) -> str:
    """A time as the store holds it and compares it (UTC, ISO 8601, milliseconds, "…T09:30:00.000Z")."""
    return _iso(t)


def _now() -> str:
    return _iso(datetime.now(UTC))


def _acquired_between(column: str, since: datetime | None, until: datetime | None) -> str:
    """SQL conditions (each ``AND …``) on ``column`` for the times of :func:`_times`."""
    return (f" AND {column} >= ?" if since is not None else "") + (f" AND {column} <= ?" if until is not None else "")


def _times(since: datetime | None, until: datetime | None) -> list[str]:
    """The arguments of :func:`_acquired_between`: times in the stored form, which both stores compare (GeoPackage
    ISO text, PostGIS timestamptz)."""
    return [stored_time(t) for t in (since, until) if t is not None]


def stored_json(value: Any) -> str:
    """The one form the store writes JSON in (keys sorted, Python's separators): a value written again as it is
    changes no byte of its row (the input triggers note a change of bytes, :func:`~sitewatch.store.schema.input_log_sql`)."""
    return json.dumps(value, sort_keys=True, default=str)


INPUT_CHANGES_MOST = 5000
"""Most rows ``input_changes`` keeps before they are folded into one a site (:meth:`Store.compact_input_changes`):
about 250 kB of a GeoPackage (measured: 5,000 rows of a site's id and a time); ``alerts check`` reads them all at each
run."""

_STAMPS = ("ingested_at", "retrieved_at")
"""Provenance that says when an image came in, not what it is: the same image put again keeps the stored ones."""


def provenance_to_write(new: Mapping[str, Any], stored: tuple[str, str, Any] | None, sha256: str) -> str:
    """The provenance text to store for an observation whose COG has ``sha256``, given its stored row's
    ``(provenance text, sha256, detected_at)`` (None: not stored).

    With the same COG, the berths' hidden fractions detection measured (``berths_hidden``) are kept when it was
    detected, and a provenance that differs from the stored one only in when the image came in (:data:`_STAMPS`:
    an ``import`` or ``ingest`` run again, ``fetch --force``) is the stored text as it is, whatever its form
    (an older sitewatch's spacing or key order): the row is written back unchanged, which no trigger notes.
    """
    doc = json.loads(stored_json(dict(new)))  # as it reads back: values through JSON (default=str)
    if stored is None or stored[1] != sha256:
        return stored_json(doc)
    try:
        old = json.loads(stored[0])
    except ValueError:
        return stored_json(doc)
    if not isinstance(old, dict):
        return stored_json(doc)
    if stored[2] is not None and old.get("berths_hidden") is not None:
        doc["berths_hidden"] = old["berths_hidden"]
    if {k: v for k, v in doc.items() if k not in _STAMPS} == {k: v for k, v in old.items() if k not in _STAMPS}:
        return str(stored[0])
    return stored_json(doc)


def _iso(t: datetime) -> str:
    """GeoPackage's DATETIME form: ISO 8601 in UTC with milliseconds."""
    return utc(t).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"


_DETECTION_COLUMNS = ("geom", "detection_id", "observation_id", "site_id", "acquired", "sensor", "kind", "length_m",
                      "width_m", "heading_deg", "score", "detector", "detector_version", "row", "col", "berth_id",
                      "class_candidates", "lon", "lat", "simulated", "truncated", "acquired_date_only")
"""The columns :meth:`Store.replace_detections` writes, in the order of its rows."""

KNOWN_SITES_SHOWN = 12
"""Most site ids a 'no site' error lists: a port list holds thousands, and the message is one line."""


def known_sites_text(site_id: str, known: list[str]) -> str:
    """The workspace's sites, for an error about ``site_id``: all of a few, else the ids most like it and a count."""
    if not known:
        return "it has none"
    if len(known) <= KNOWN_SITES_SHOWN:
        return f"have: {', '.join(known)}"
    import difflib

    like = difflib.get_close_matches(site_id, known, n=5, cutoff=0.6)
    near = f"; the nearest: {', '.join(like)}" if like else ""
    return f"it has {len(known):,} sites{near}; `sitewatch sites list` lists them"


def select_equal(table: str, order_by: str, **equal: Any) -> tuple[str, list[Any]]:
    """SQL and arguments that select the rows of ``table`` whose columns equal the values of ``equal``
    (a None value: any), in ``order_by`` order."""
    kept = {col: val for col, val in equal.items() if val is not None}
    where = "".join(f" AND {col} = ?" for col in kept)
    return f"SELECT * FROM {table} WHERE 1=1{where} ORDER BY {order_by}", list(kept.values())


def _footprint(geom: BaseGeometry | None) -> BaseGeometry | None:
    """A scene footprint as read from the MULTIPOLYGON layer: one part is the Polygon it was."""
    if isinstance(geom, MultiPolygon) and len(geom.geoms) == 1:
        return geom.geoms[0]
    return geom


_SCENE_COLUMNS = ("provider", "collection", "item_id", "sensor", "acquired", "resolution_m", "hrefs", "geom", "platform",
                  "cloud_cover", "simulated", "properties")  # fmt: skip
_OBSERVATION_COLUMNS = ("observation_id", "site_id", "scene_id", "sensor", "acquired", "crs", "transform", "width", "height",
                        "path", "sha256", "valid_fraction", "cloud_fraction", "provenance")  # fmt: skip
"""The columns of ``observations`` an :class:`~sitewatch.model.Observation` is built from (and its row sorted by): not
its footprint over the site (``geom``, read by :meth:`Store.observation_footprints`), which a site's years of rows
read whole sent as thousands of geometries that no caller of :meth:`Store.observations` looked at."""

_OBSERVATIONS_WITH_SCENES = (
    "SELECT "
    + ", ".join(f"observations.{c}" for c in _OBSERVATION_COLUMNS) + ", "
    + ", ".join(f"scenes.{c} AS scene_{c}" for c in _SCENE_COLUMNS)
    + " FROM observations LEFT JOIN scenes ON scenes.scene_id = observations.scene_id"
)
"""Each observation with its scene's columns (named ``scene_`` + column), in one statement: read one after the other
(the scene by a second query), a `sites remove` committed between the two left an observation without its scene
and the reader (the dashboard, a report) failed with IndexError. One statement reads one state of the store."""


_IDS_AT_ONCE = 500
"""Most ids one ``IN (…)`` of :meth:`Store._observations_where` names (SQLite's limit of 32,766 parameters far off)."""


BUSY_TIMEOUT_S = 30.0
"""How long a write waits for another process's write transaction before the store says it is busy."""


_CANNOT_WRITE = ("SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN")
"""SQLite's error codes (and their extended forms) for a database that cannot be written at the moment:
a read-only file or folder, a full disk, an I/O error, another writer."""


LOCK_NOTICE_S = 5.0
"""How long a write waits for another program's lock on the file before it says so (and waits on, up to
:data:`BUSY_TIMEOUT_S` in all)."""

_LOCKED_BY = (
    "another program holds a lock on the workspace database: QGIS (or another GIS) with one of its layers "
    "in editing mode, or another sitewatch command writing to it"
)
_TO_FREE_IT = (
    "in QGIS, save or discard the layer's edits and leave editing mode (Toggle Editing), or close the layer "
    "or the other program, or let the other sitewatch command finish"
)


def _busy(exc: BaseException) -> bool:
    """Whether SQLite gave up waiting for another connection's lock."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return isinstance(exc, sqlite3.OperationalError) and name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def _cannot_write(exc: BaseException) -> bool:
    """Whether a write failed because of where the database is, not what was written."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return isinstance(exc, sqlite3.OperationalError) and name.startswith(_CANNOT_WRITE)


def _sql_statements(script: str) -> Iterator[str]:
    """The statements of an SQL script, one at a time (a trigger's body, with its own semicolons, in one), so that
    they can run inside a transaction :meth:`Store.transaction` began: ``executescript`` commits it first."""
    statement = ""
    for part in script.split(";"):
        statement += part + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n\t;"):
                yield statement.strip()
            statement = ""


@functools.cache
def _input_triggers() -> dict[str, str]:
    """The input triggers (``CREATE TRIGGER`` statements by name) as the migrations leave them, each as the last that
    made it (after ``DROP TRIGGER``, none)."""
    want: dict[str, str] = {}
    for migration in MIGRATIONS:
        for statement in _sql_statements(migration):
            made = re.match(r"CREATE TRIGGER (\w+)", statement)
            dropped = re.match(r"DROP TRIGGER (?:IF EXISTS )?(\w+)", statement)
            if made and made.group(1).startswith(INPUT_TRIGGER_PREFIX):
                want[made.group(1)] = statement.rstrip(";")
            elif dropped:
                want.pop(dropped.group(1), None)
    return want


_T = TypeVar("_T")


class Connection(Protocol):
    """What :meth:`Store.transaction` gives its block: ``execute`` and ``executemany`` with ``?`` placeholders
    (a :class:`sqlite3.Connection`, or the PostGIS store's equivalent)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any:
        """Run one statement with ``?`` placeholders."""
        ...

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        """Run one statement once for each set of parameters."""
        ...


class Store:
    """A sitewatch GeoPackage database.

    Open with ``Store(path)``; the schema is created or migrated on open.
    A database written by a newer sitewatch is refused rather than damaged.
    ``Store(path, read_only=True)`` opens an existing database that SQLite will not let
    this connection write (the web dashboard's): it is not migrated, and one of another
    schema version is refused.
    """

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        try:
            if read_only:
                # SQLite itself refuses every write on this connection (the dashboard's guarantee);
                # mode=ro also never creates a missing file.
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S)
            else:
                self._db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the workspace database ({exc})") from exc
        try:
            self._setup(read_only)
        except BaseException:
            # A file that is no database, of a newer schema, or locked: refused with the connection closed,
            # not left to the garbage collector (an open file cannot be renamed or removed on Windows).
            self._db.close()
            raise

    def _setup(self, read_only: bool) -> None:
        """The connection's functions and settings, then the schema checked (read-only) or migrated."""
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA foreign_keys = OFF")
        # The spatial indexes' triggers call ST_IsEmpty, ST_MinX… (and run on every insert, and
        # every update of a feature table): each connection that writes needs them.
        register_gpkg_functions(self._db)
        # SQLite's default, set again for builds made with SQLITE_TRUSTED_SCHEMA=0, where functions
        # Python registers (it cannot mark them innocuous) may not run from triggers (OGC geopackage#668).
        self._db.execute("PRAGMA trusted_schema = ON")
        self._db.create_function("sitewatch_multipolygon", 1, multipolygon_blob, deterministic=True)  # migration 5
        self._depth = 0
        if read_only:
            self._check_current()
        else:
            self._migrate()

    # -- schema ---------------------------------------------------------------------------------

    @property
    def location(self) -> str:
        """Where the database is, for messages: its file (the PostGIS store: its URL, password masked)."""
        return str(self.path)

    def schema_version(self) -> int:
        """The schema version recorded in ``sitewatch_meta`` (0: none, as in a new database)."""
        try:
            row = self._db.execute("SELECT value FROM sitewatch_meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError as exc:
            if _busy(exc):  # locked by another program: not a database without the table
                raise
            return 0
        return int(row[0]) if row else 0

    def _file_schema_version(self) -> int:
        """:meth:`schema_version`, the file's first read: a :class:`StoreError` saying the file is no SQLite database
        at all, and, while another program holds a lock that keeps readers out (an exclusive transaction), the
        wait :meth:`_begin_write` makes for a write: said after :data:`LOCK_NOTICE_S`, an error after
        :data:`BUSY_TIMEOUT_S`."""
        try:
            return self._waiting("read", self.schema_version)
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                raise self._not_released("read") from exc
            raise StoreError(f"{self.path}: not a SQLite/GeoPackage file ({exc})") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a SQLite/GeoPackage file ({exc})") from exc

    def _waiting(self, to: str, step: Callable[[], _T]) -> _T:
        """``step()`` (a statement that takes a lock), waiting for another program's lock up to
        :data:`BUSY_TIMEOUT_S`: after :data:`LOCK_NOTICE_S` of it, a warning (shown even under ``-q``) that this
        command is waiting ``to`` read or write names the file and who may hold it. SQLite's busy error when the
        lock is not released; the full wait set again after (a COMMIT waiting for readers)."""
        try:
            self._db.execute(f"PRAGMA busy_timeout = {round(min(LOCK_NOTICE_S, BUSY_TIMEOUT_S) * 1000)}")
            try:
                return step()
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or LOCK_NOTICE_S >= BUSY_TIMEOUT_S:
                    raise
            logging.getLogger(STALL_LOGGER).warning(
                "%s: waiting to %s: %s; this command goes on when it is released (waiting up to %g s more): %s",
                self.path, to, _LOCKED_BY, BUSY_TIMEOUT_S - LOCK_NOTICE_S, _TO_FREE_IT,
            )  # fmt: skip
            self._db.execute(f"PRAGMA busy_timeout = {round((BUSY_TIMEOUT_S - LOCK_NOTICE_S) * 1000)}")
            return step()
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {round(BUSY_TIMEOUT_S * 1000)}")

    def _not_released(self, what: str) -> StoreError:
        """The error of a lock held past :data:`BUSY_TIMEOUT_S`: ``what`` this command could not do, and what to do."""
        return StoreError(
            f"{self.path}: cannot {what} the workspace database: {_LOCKED_BY}, and it was not released "
            f"in {BUSY_TIMEOUT_S:g} s; {_TO_FREE_IT}, then run this command again"
        )

    def _migrate(self) -> None:
        current = self._file_schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: schema version {current}{self._written_by()} is newer than the schema "
                             f"{SCHEMA_VERSION} this sitewatch ({__version__}) reads; upgrade sitewatch (nothing was changed)")  # fmt: skip
        for version in range(current, SCHEMA_VERSION):
            # The write lock taken as every write takes it: another program's lock (QGIS editing a layer of a
            # workspace made by an older sitewatch) is waited for, said after LOCK_NOTICE_S and named when not
            # released; a migration in one `executescript` waited 30 s in silence, then 'migration to schema N
            # failed (database is locked)'.
            try:
                self._begin_write()
            except StoreReadOnlyError as exc:
                raise self._cannot_migrate(current, exc.__cause__ or exc) from exc
            try:
                # Another command opening the workspace at the same moment may have run this migration
                # between the version read above and this lock: checked under the lock, so that nothing
                # is run twice (ALTER TABLE … ADD COLUMN failed: "duplicate column name").
                if self.schema_version() > version:
                    self._db.execute("ROLLBACK")
                    continue
                for statement in _sql_statements(MIGRATIONS[version]):
                    self._db.execute(statement)
                self._db.execute("INSERT OR REPLACE INTO sitewatch_meta VALUES ('schema_version', ?)", (str(version + 1),))
                self._db.execute("INSERT OR REPLACE INTO sitewatch_meta VALUES ('schema_written_by', ?)", (__version__,))
                self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self._db.execute(f"PRAGMA user_version = {USER_VERSION}")
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if _busy(exc):
                    raise self._not_released("write to") from exc
                if (getattr(exc, "sqlite_errorname", "") or "").startswith("SQLITE_READONLY"):
                    raise self._cannot_migrate(current, exc) from exc
                raise StoreError(f"{self.path}: migration to schema {version + 1} failed ({exc})") from exc

    def _written_by(self) -> str:
        """`` (made by sitewatch X)`` for a database whose last migration a sitewatch that records its version ran
        (``sitewatch_meta.schema_written_by``), for the message refusing it; "" otherwise."""
        try:
            row = self._db.execute("SELECT value FROM sitewatch_meta WHERE key = 'schema_written_by'").fetchone()
        except sqlite3.Error:
            return ""
        return f" (made by sitewatch {row[0]})" if row else ""

    def _cannot_migrate(self, current: int, exc: BaseException) -> StoreError:
        """The error of a workspace of an older schema that this connection may not write (a colleague's, a
        read-only mount): it must be migrated once before this sitewatch reads it. Not a
        :class:`StoreReadOnlyError`: no option of the command (``eval --no-record``) would let it go on."""
        return StoreError(
            f"{self.path}: the workspace database is of schema version {current}, made by an older sitewatch; this "
            f"one reads {SCHEMA_VERSION} and updates the database once, the first time it opens it, but cannot write "
            f"to it ({exc}): have someone who may write to it run one sitewatch command in the workspace "
            "(`sitewatch observations`), or copy the workspace (`cp -a`) and use the copy"
        )

    def _check_current(self) -> None:
        """A read-only store cannot migrate: one of another schema version is refused, saying what to do."""
        current = self._file_schema_version()
        if current != SCHEMA_VERSION:
            action = "upgrade sitewatch" if current > SCHEMA_VERSION else "run `sitewatch observations` on it once to migrate it"
            by = self._written_by() if current > SCHEMA_VERSION else ""
            self._db.close()
            raise StoreError(
                f"{self.path}: schema version {current}{by}, this sitewatch ({__version__}) reads {SCHEMA_VERSION} "
                f"when read-only; {action}"
            )

    def records_input_changes(self) -> bool:
        """Whether the database notes every change of ``alerts check``'s inputs in ``input_changes``: each of the
        triggers the migrations made (:func:`~sitewatch.store.schema.input_log_sql`) is there, as they made it (not
        dropped with a table made again, not edited), and no other of their names."""
        want = _input_triggers()
        rows = self.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND substr(name, 1, ?) = ?",
                            (len(INPUT_TRIGGER_PREFIX), INPUT_TRIGGER_PREFIX))  # fmt: skip
        return {str(r[0]): str(r[1]).strip().rstrip(";") for r in rows} == want

    def compact_input_changes(self, most: int | None = None) -> int:
        """Fold the rows of ``input_changes`` into one a site when there are more than ``most`` (default
        :data:`INPUT_CHANGES_MOST`): a workspace that never runs ``alerts check`` (which removes the rows it took in)
        noted a row for each observation, scene and detection written, for ever. How many rows went.

        ``alerts check`` asks of the rows only whether one lies before a site's end (:func:`~sitewatch.alert_window`'s
        ``_stale``): the earliest of each site tells the same (a row without a time, the whole site, before any), and
        a row without a site (every site) tells it of all. So the rows read are replaced by those, in one transaction:
        a snapshot holds either set, and each gives every checkpoint the same answer. The rows removed are the ones
        read, by id, never a range (a PostgreSQL identity is not in commit order: a row committed since, with a smaller
        id, stays); the new rows come after every run's start, so a run that took in some of the old ones removes
        only those with its checkpoint, and the next run, finding the new rows, evaluates whole once more: a change
        may be told twice, never missed. On a team store, done by a member who may insert into the table (its owner)."""
        most = INPUT_CHANGES_MOST if most is None else most
        if int(self.execute("SELECT count(*) FROM input_changes")[0][0]) <= most or not self._may_note_changes():
            return 0
        with self.transaction() as db:
            rows = [(int(r[0]), r[1], r[2]) for r in self.execute("SELECT id, site_id, acquired FROM input_changes")]
            if len(rows) <= most:
                return 0  # (another command folded them meanwhile)
            earliest: dict[str | None, Any] = {}
            for _, sid, acquired in rows:
                if sid is None:
                    earliest = {None: None}
                    break
                if sid not in earliest or (earliest[sid] is not None and (acquired is None or str(acquired) < str(earliest[sid]))):
                    earliest[sid] = acquired
            for sid, acquired in sorted(earliest.items(), key=lambda kv: str(kv[0])):
                db.execute("INSERT INTO input_changes (site_id, acquired) VALUES (?, ?)", (sid, acquired))
            ids = [i for i, _, _ in rows]
            for k in range(0, len(ids), 500):
                part = ids[k : k + 500]
                db.execute(f"DELETE FROM input_changes WHERE id IN ({', '.join('?' * len(part))})", part)
        return len(rows) - len(earliest)

    def _may_note_changes(self) -> bool:
        """Whether this connection may add rows to ``input_changes`` (a GeoPackage's: always)."""
        return True

    def meta(self, key: str) -> str | None:
        """A value kept in ``sitewatch_meta`` (None when there is none)."""
        rows = self.execute("SELECT value FROM sitewatch_meta WHERE key = ?", (key,))
        return None if not rows else str(rows[0][0])

    def set_meta(self, key: str, value: str | None) -> None:
        """Keep ``value`` under ``key`` in ``sitewatch_meta``; None deletes it."""
        with self.transaction() as db:
            if value is None:
                db.execute("DELETE FROM sitewatch_meta WHERE key = ?", (key,))
            else:
                db.execute(
                    "INSERT INTO sitewatch_meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    def close(self) -> None:
        """Close the connection to the database."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """All writes inside commit together or not at all. Nests (inner blocks join the outer)."""
        if self._depth == 0:
            self._begin_write()
        self._depth += 1
        try:
            yield self._db
        except BaseException as exc:
            self._depth -= 1
            if self._depth == 0:
                # A full disk (SQLITE_FULL) or a failed write has SQLite roll the transaction back itself: a ROLLBACK
                # then fails ("no transaction is active") and would hide the error that says why.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if _cannot_write(exc):
                    raise self._cannot_write_error(exc) from exc
            raise
        else:
            self._depth -= 1
            if self._depth == 0:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.OperationalError as exc:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise self._cannot_write_error(exc) from exc

    def _begin_write(self) -> None:
        """``BEGIN IMMEDIATE``, waiting up to :data:`BUSY_TIMEOUT_S` for another connection's write lock; after
        :data:`LOCK_NOTICE_S` of it, a warning (shown even under ``-q``) names the file and who may hold it."""
        try:
            self._waiting("write", lambda: self._db.execute("BEGIN IMMEDIATE"))
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                raise self._not_released("write to") from exc
            # "readonly database", "disk I/O error"
            raise self._cannot_write_error(exc) from exc

    def _cannot_write_error(self, exc: BaseException) -> StoreError:
        """The error for a write the database refused because of where it is (read-only, full, failing disk)."""
        message = f"{self.path}: cannot write to the workspace database ({exc})"
        if (getattr(exc, "sqlite_errorname", "") or "").startswith("SQLITE_READONLY"):
            return StoreReadOnlyError(message)
        return StoreError(message)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see the database as one moment, whatever other connections commit meanwhile (what a
        copy reads, table after table). SQLite: a read transaction; other processes' writes wait for its end
        (as for a write, up to :data:`BUSY_TIMEOUT_S`). Inside a transaction of this store: that one's view."""
        if self._depth or self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            if self._db.in_transaction:
                self._db.execute("COMMIT")  # (nothing was written: this ends the read)

    def _lock(self, db: Connection, key: str) -> None:
        """Wait, inside a transaction, until no other one holds ``key``; hold it to the end. SQLite has
        nothing to do: its write transactions (``BEGIN IMMEDIATE``) already run one at a time."""

    def _lock_tables(self, db: Connection, tables: Iterable[str]) -> None:
        """Inside a transaction, keep every other writer out of ``tables`` to its end (reads go on). SQLite
        has nothing to do: its write transactions (``BEGIN IMMEDIATE``) hold the whole file already."""

    @contextmanager
    def turn(self, key: str) -> Iterator[None]:
        """A turn on ``key`` that other commands' turns on it wait for, without keeping anyone else from writing
        meanwhile: for a step that takes long and writes little (``alerts check`` posting an event to a webhook),
        which inside :meth:`transaction` would hold the whole file's lock and make every other command wait
        for it, then give up after :data:`BUSY_TIMEOUT_S`. SQLite: an operating-system lock on a hidden file
        beside the database (``.sitewatch.gpkg.KEY.lock``), waited for as long as the other holds it;
        a :class:`StoreError` naming that file when it cannot be made."""
        from .filelock import held_file_lock

        slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")
        path = self.path.with_name(f".{self.path.name}.{slug}.lock")

        def say_waiting() -> None:
            logging.getLogger(__name__).info("%s: waiting for another command's turn (%s)", self.path, key)

        with ExitStack() as held:
            try:
                held.enter_context(held_file_lock(path, say_waiting))
            except OSError as exc:
                raise StoreError(f"{path}: cannot make the lock file of {key!r} beside the workspace database "
                                 f"({exc.strerror or exc})") from exc  # fmt: skip
            yield

    def _touch(self, db: Connection, table: str) -> None:
        db.execute(
            "UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?", (_now(), table)
        )

    def _extend(self, db: Connection, table: str, geoms: Iterable[BaseGeometry | None]) -> None:
        # GDAL, and so QGIS's "zoom to layer", take a layer's extent from gpkg_contents: grow it
        # with every geometry written, or a new site far from the others lies outside it.
        boxes = [g.bounds for g in geoms if g is not None and not g.is_empty]
        if not boxes:
            return
        db.execute(
            """UPDATE gpkg_contents SET min_x = min(coalesce(min_x, :a), :a), min_y = min(coalesce(min_y, :b), :b),
               max_x = max(coalesce(max_x, :c), :c), max_y = max(coalesce(max_y, :d), :d) WHERE table_name = :t""",
            {"a": min(b[0] for b in boxes), "b": min(b[1] for b in boxes), "c": max(b[2] for b in boxes),
             "d": max(b[3] for b in boxes), "t": table},
        )  # fmt: skip

    def _reach_edge(self, db: Connection, table: str, where: str, args: Sequence[Any]) -> bool:
        """Whether a row of ``table`` matching ``where`` reaches the layer's extent in gpkg_contents (or the layer has
        none recorded): removing it may shrink the extent."""
        ext = db.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?", (table,)).fetchone()
        if ext is None or any(v is None for v in ext):
            return True
        for row in db.execute(f"SELECT geom FROM {table} WHERE {where}", args).fetchall():
            geom = from_gpkg_blob(row[0])
            if geom is not None and not geom.is_empty:
                b = geom.bounds
                if b[0] <= ext[0] or b[1] <= ext[1] or b[2] >= ext[2] or b[3] >= ext[3]:
                    return True
        return False

    def update_extents(self, tables: Iterable[str] | None = None) -> None:
        """Recompute the extent in gpkg_contents of ``tables`` (default: every feature table) from their geometries."""
        with self.transaction() as db:
            names = list(tables) if tables is not None else [r[0] for r in db.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type = 'features'"
            ).fetchall()]  # fmt: skip
            for table in names:
                bounds = [from_gpkg_blob(r[0]) for r in db.execute(f"SELECT geom FROM {table}")]
                boxes = [g.bounds for g in bounds if g is not None and not g.is_empty]
                ext = (
                    (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
                    if boxes else (None, None, None, None)  # an empty layer has no extent, not its old one
                )  # fmt: skip
                db.execute(
                    "UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=? WHERE table_name=?",
                    (*ext, table),
                )

    # -- sites ----------------------------------------------------------------------------------

    def put_site(self, site: Site) -> None:
        """Insert or replace a site with its berths and water polygon."""
        with self.transaction() as db:
            db.execute(
                """INSERT INTO sites (geom, site_id, name, kind, resolved, coord_source, note, tags)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(site_id) DO UPDATE SET geom=excluded.geom, name=excluded.name,
                   kind=excluded.kind, resolved=excluded.resolved, coord_source=excluded.coord_source,
                   note=excluded.note, tags=excluded.tags""",
                (
                    self._geom(site.geometry),
                    site.id,
                    site.name,
                    site.kind,
                    bool(site.resolved),
                    site.coord_source,
                    site.note,
                    json.dumps(list(site.tags)),
                ),
            )
            # Upserts, not a delete and an insert of each: a site imported again as it is changes no row (the input
            # triggers would note every berth deleted and put again, and `alerts check` evaluate the whole history).
            kept = [b.id for b in site.berths]
            others = f" AND berth_id NOT IN ({', '.join('?' * len(kept))})" if kept else ""  # (PostgreSQL has no "IN ()")
            db.execute(f"DELETE FROM berths WHERE site_id = ?{others}", (site.id, *kept))
            db.executemany(
                """INSERT INTO berths (geom, site_id, berth_id, name) VALUES (?, ?, ?, ?)
                   ON CONFLICT(site_id, berth_id) DO UPDATE SET geom=excluded.geom, name=excluded.name""",
                [(self._geom(b.geometry), site.id, b.id, b.name) for b in site.berths],
            )
            if site.water is None:
                db.execute("DELETE FROM site_water WHERE site_id = ?", (site.id,))
            else:
                db.execute(
                    """INSERT INTO site_water (geom, site_id) VALUES (?, ?)
                       ON CONFLICT(site_id) DO UPDATE SET geom=excluded.geom""", (self._geom(site.water), site.id)
                )
            for t in ("sites", "berths", "site_water"):
                self._touch(db, t)
            self._extend(db, "sites", [site.geometry])
            self._extend(db, "berths", [b.geometry for b in site.berths])
            self._extend(db, "site_water", [site.water])

    def delete_site(self, site_id: str, *, observations: bool = False) -> None:
        """Drop a site with its berths and water; with ``observations``, its observations, their
        detections and the scenes no other observation names too (their archived files are the
        caller's to remove, after this commits)."""
        with self.transaction() as db:
            self._lock(db, f"site {site_id}")  # an ingest's commit into it checks that it is there under this lock
            if db.execute("DELETE FROM sites WHERE site_id = ?", (site_id,)).rowcount == 0:
                raise SiteError(f"no site {site_id!r} in this workspace")
            db.execute("DELETE FROM berths WHERE site_id = ?", (site_id,))
            db.execute("DELETE FROM site_water WHERE site_id = ?", (site_id,))
            tables: tuple[str, ...] = ("sites", "berths", "site_water")
            if observations:
                held = db.execute(
                    "SELECT observation_id, scene_id FROM observations WHERE site_id = ? ORDER BY observation_id",
                    (site_id,),
                ).fetchall()
                # The lock detect holds from its look at an observation's sha256 to the write of its detections:
                # one it records meanwhile would outlive this removal, detections of no observation (a team
                # store; on SQLite this write transaction already waits for detect's). In one order, as detect
                # and ingest take one at a time.
                for oid in sorted({r[0] for r in held}):
                    self._lock(db, f"detections {oid}")
                scene_ids = sorted({r[1] for r in held})
                # An ingest recording an observation of one of these scenes commits before the scene rows
                # no observation names are looked for below, or waits for this removal (a team store).
                self._lock_tables(db, ("scenes",))
                db.execute("DELETE FROM detections WHERE site_id = ?", (site_id,))
                db.execute("DELETE FROM observations WHERE site_id = ?", (site_id,))
                db.execute("DELETE FROM changes WHERE site_id = ?", (site_id,))  # sitewatch change's regions
                db.execute("DELETE FROM change_pairs WHERE site_id = ?", (site_id,))
                # Scenes only these observations named: left, a later image of the same name (another file)
                # would be taken for a clash with them.
                db.executemany(
                    "DELETE FROM scenes WHERE scene_id = ? AND NOT EXISTS "
                    "(SELECT 1 FROM observations WHERE observations.scene_id = scenes.scene_id)",
                    [(sid,) for sid in scene_ids],
                )
                tables += ("observations", "detections", "changes", "scenes")
            self.update_extents(tables)

    def observation_dependents(self, observation_ids: Sequence[str]) -> dict[str, int]:
        """What rests on these observations: how many detections, change pairs and change regions
        (``sitewatch change``'s) :meth:`delete_observations` would remove with them."""
        ids = list(dict.fromkeys(observation_ids))
        counts = {"detections": 0, "change_pairs": 0, "changes": 0}
        for start in range(0, len(ids), _IDS_AT_ONCE):
            part = ids[start:start + _IDS_AT_ONCE]
            marks = ", ".join("?" * len(part))
            counts["detections"] += int(self.execute(f"SELECT count(*) FROM detections WHERE observation_id IN ({marks})", part)[0][0])
            for table in ("change_pairs", "changes"):
                counts[table] += int(self.execute(f"SELECT count(*) FROM {table} WHERE before_id IN ({marks}) OR after_id IN ({marks})",
                                                  part * 2)[0][0])  # fmt: skip
        return counts

    def delete_observations(self, observation_ids: Sequence[str]) -> list[Observation]:
        """Drop observations with their detections, the change pairs and regions that rest on them, and the
        scenes no other observation names, in one transaction; return the observations removed.

        Nothing is removed when any id is unknown: a StoreError names them all. Their archived files are the
        caller's to remove, after this commits (an interrupted run leaves a file, never a row naming a missing one).
        The input triggers note each row deleted, so the next ``alerts check`` looks at those sites again."""
        ids = list(dict.fromkeys(observation_ids))
        with self.transaction() as db:
            removed = self.observations_by_id(ids)
            if missing := [i for i in ids if i not in {o.id for o in removed}]:
                raise StoreError(
                    f"no observation {', '.join(repr(i) for i in missing)} in this workspace; nothing removed "
                    "(list them with `sitewatch observations [SITE]`)"
                )
            # The locks `sites remove` takes, in its order: the sites (an ingest's commit into one), each
            # observation's detections (detect's write of them) and the scenes (an ingest naming one of them).
            for site_id in sorted({o.site_id for o in removed}):
                self._lock(db, f"site {site_id}")
            for oid in sorted(ids):
                self._lock(db, f"detections {oid}")
            self._lock_tables(db, ("scenes",))
            # A layer's extent is recomputed (every geometry of it read) only when a row removed reached its edge:
            # one observation out of years of history otherwise read them all (0.1 s at 2,000 observations).
            scene_ids = sorted({o.scene.id for o in removed})
            edges: set[str] = set()
            for start in range(0, len(ids), _IDS_AT_ONCE):
                part = ids[start:start + _IDS_AT_ONCE]
                marks = ", ".join("?" * len(part))
                for table, where, args in (("detections", f"observation_id IN ({marks})", part),
                                           ("changes", f"before_id IN ({marks}) OR after_id IN ({marks})", part * 2),
                                           ("observations", f"observation_id IN ({marks})", part)):  # fmt: skip
                    if self._reach_edge(db, table, where, args):
                        edges.add(table)
            for start in range(0, len(scene_ids), _IDS_AT_ONCE):
                part = scene_ids[start:start + _IDS_AT_ONCE]
                if self._reach_edge(db, "scenes", f"scene_id IN ({', '.join('?' * len(part))})", part):
                    edges.add("scenes")
            for start in range(0, len(ids), _IDS_AT_ONCE):
                part = ids[start:start + _IDS_AT_ONCE]
                marks = ", ".join("?" * len(part))
                db.execute(f"DELETE FROM detections WHERE observation_id IN ({marks})", part)
                db.execute(f"DELETE FROM changes WHERE before_id IN ({marks}) OR after_id IN ({marks})", part * 2)
                db.execute(f"DELETE FROM change_pairs WHERE before_id IN ({marks}) OR after_id IN ({marks})", part * 2)
                db.execute(f"DELETE FROM observations WHERE observation_id IN ({marks})", part)
            # Scenes only these observations named: left, a later image of the same name (another file) would be
            # taken for a clash with them.
            db.executemany(
                "DELETE FROM scenes WHERE scene_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM observations WHERE observations.scene_id = scenes.scene_id)",
                [(sid,) for sid in scene_ids],
            )
            self.update_extents(sorted(edges))
        return removed

    def _site_from_row(self, row: Any, berth_rows: list[Any] | None = None, water_row: Any = ...) -> Site:
        """The site of a ``sites`` row, with its berths' and water's rows (read here when not given)."""
        sid = row["site_id"]
        if berth_rows is None:
            berth_rows = self.execute("SELECT * FROM berths WHERE site_id = ? ORDER BY berth_id", (sid,))
        berths = tuple(Berth(id=b["berth_id"], geometry=self._shape(b["geom"]), name=b["name"] or "") for b in berth_rows)
        if water_row is ...:
            water = self.execute("SELECT geom FROM site_water WHERE site_id = ?", (sid,))
            water_row = water[0] if water else None
        return Site(
            id=sid,
            name=row["name"],
            kind=row["kind"],
            geometry=self._shape(row["geom"]),
            berths=berths,
            water=self._shape(water_row["geom"]) if water_row else None,
            tags=tuple(json.loads(row["tags"] or "[]")),
            coord_source=row["coord_source"] or "",
            resolved=bool(row["resolved"]),
            note=row["note"] or "",
        )

    def get_site(self, site_id: str) -> Site:
        """The site stored under ``site_id``; a SiteError naming the workspace's sites when none is."""
        rows = self.execute("SELECT * FROM sites WHERE site_id = ?", (site_id,))
        if not rows:
            pairs = [(r[0], r[1] or "") for r in self.execute("SELECT site_id, name FROM sites ORDER BY site_id")]
            known = [sid for sid, _ in pairs]
            if site_id.lower() != site_id and site_id.lower() in known:  # `sites add Dunai` would be refused too
                raise SiteError(f"no site {site_id!r} in this workspace: site ids are lower case; did you mean {site_id.lower()!r}?")
            named = sites_named(site_id, pairs)
            if named:  # 'Гавань Дуная', the name of site 'site'
                raise SiteError(f"no site {site_id!r} in this workspace: that is the name of site {named[0]!r}"
                                f"{'' if len(named) == 1 else ' (and of ' + ', '.join(named[1:]) + ')'}; give its id")  # fmt: skip
            # An id it could not be (Cyrillic, a space) is no command to suggest: `sites add Гавань Дуная` is refused.
            if re.fullmatch(SITE_ID_PATTERN, site_id):
                add = f"add one with `sitewatch sites add {site_id} --bbox W,S,E,N`"
            else:
                add = (f"add one with `sitewatch sites add ID --name {shlex.quote(site_id)} --bbox W,S,E,N` (ID: lowercase "
                       "Latin letters, digits, '-' and '_')")  # fmt: skip
            raise SiteError(f"no site {site_id!r} in this workspace ({known_sites_text(site_id, known)}); {add}")
        return self._site_from_row(rows[0])

    def sites(self) -> list[Site]:
        """Every site stored, ordered by id."""
        # Three queries whatever the number of sites (a port list holds thousands), not two a site.
        berths: dict[str, list[Any]] = {}
        for b in self.execute("SELECT * FROM berths ORDER BY site_id, berth_id"):
            berths.setdefault(b["site_id"], []).append(b)
        water: dict[str, Any] = {}
        for w in self.execute("SELECT site_id, geom FROM site_water"):
            water[w["site_id"]] = w  # one a site (site_id is UNIQUE)
        return [
            self._site_from_row(r, berths.get(r["site_id"], []), water.get(r["site_id"]))
            for r in self.execute("SELECT * FROM sites ORDER BY site_id")
        ]

    def imaged_site_ids(self) -> list[str]:
        """The ids of the sites that have observations, ordered: one query, whatever the number of sites."""
        return [r[0] for r in self.execute("SELECT DISTINCT site_id FROM observations ORDER BY site_id")]

    # -- scenes and observations ---------------------------------------------------------------

    def put_scene(self, scene: SceneRef) -> None:
        """Record a scene (footprint WGS84), replacing what is stored under its id."""
        footprint = as_multipolygon(scene.footprint)  # the layer is MULTIPOLYGON (antimeridian footprints)
        with self.transaction() as db:
            db.execute(
                """INSERT INTO scenes (geom, scene_id, provider, collection, item_id, sensor, platform,
                   acquired, resolution_m, cloud_cover, simulated, hrefs, properties)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(scene_id) DO UPDATE SET geom=excluded.geom, platform=excluded.platform,
                   sensor=excluded.sensor, simulated=excluded.simulated,
                   acquired=excluded.acquired, resolution_m=excluded.resolution_m,
                   cloud_cover=excluded.cloud_cover, hrefs=excluded.hrefs, properties=excluded.properties""",
                (
                    self._geom(footprint),
                    scene.id,
                    scene.provider,
                    scene.collection,
                    scene.item_id,
                    scene.sensor,
                    scene.platform,
                    _iso(scene.acquired),
                    scene.resolution_m,
                    scene.cloud_cover,
                    bool(scene.simulated),
                    stored_json(dict(scene.hrefs)),
                    stored_json(dict(scene.properties)),
                ),
            )
            self._extend(db, "scenes", [footprint])

    def _scene_from_row(self, row: Any, prefix: str = "") -> SceneRef:
        """The scene of a row of ``scenes`` (or of its columns named ``prefix`` + column, as joined to an observation)."""

        def col(name: str) -> Any:
            return row[prefix + name]

        return SceneRef(
            provider=col("provider"),
            collection=col("collection"),
            item_id=col("item_id"),
            sensor=col("sensor"),
            acquired=utc(col("acquired")),
            resolution_m=col("resolution_m"),
            hrefs=json.loads(col("hrefs")),
            footprint=_footprint(self._shape(col("geom"))),
            platform=col("platform") or "",
            cloud_cover=col("cloud_cover"),
            simulated=bool(col("simulated")),
            properties=json.loads(col("properties")),
        )

    def put_observation(self, obs: Observation, footprint: Polygon | None = None) -> None:
        """Insert or replace an observation (and its scene) by its id.

        Replacing it with a different COG (another sha256) deletes the detections made on
        the old one: they no longer describe the image on record, and the observation
        waits for ``sitewatch detect`` again (:meth:`undetected`). With the same COG the
        detections stay, and so do the cloud fraction and the berths' hidden fractions
        (provenance ``berths_hidden``) detection measured with them; and a record that differs from the
        stored one only in when the image came in (an ``import`` run again) leaves the row as stored, byte for
        byte (:func:`provenance_to_write`), so that ``alerts check`` finds nothing changed.
        """
        with self.transaction() as db:
            # The lock detect holds from reading an observation's sha256 to recording its detections: an image
            # replaced meanwhile would have the old one's detections recorded as its own.
            self._lock(db, f"detections {obs.id}")
            self.put_scene(obs.scene)
            held = db.execute("SELECT provenance, sha256, detected_at, cloud_fraction FROM observations "
                              "WHERE observation_id = ?", (obs.id,)).fetchone()  # fmt: skip
            provenance = provenance_to_write(obs.provenance, None if held is None else tuple(held[:3]), obs.sha256)
            # With the same COG the detection state stays (when it was detected, the cloud fraction it measured). The
            # inserted row holds every value the stored one will (not NULL for a column the upsert keeps): the
            # trigger that notes a row INSERT OR REPLACE deletes compares them, and noted each image put again.
            same = held is not None and held[1] == obs.sha256
            detected_at = held[2] if same else None
            cloud_fraction = held[3] if same and detected_at is not None else obs.cloud_fraction
            db.execute(
                """DELETE FROM detections WHERE observation_id IN
                   (SELECT observation_id FROM observations WHERE observation_id = ? AND sha256 != ?)""",
                (obs.id, obs.sha256),
            )
            db.execute(
                """INSERT INTO observations (geom, observation_id, site_id, scene_id, sensor, acquired, crs,
                   transform, width, height, path, sha256, valid_fraction, cloud_fraction, simulated,
                   provenance, acquired_date_only, detected_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(observation_id) DO UPDATE SET geom=excluded.geom, crs=excluded.crs,
                   transform=excluded.transform, width=excluded.width, height=excluded.height,
                   path=excluded.path, valid_fraction=excluded.valid_fraction, cloud_fraction=excluded.cloud_fraction,
                   provenance=excluded.provenance,
                   acquired=excluded.acquired, acquired_date_only=excluded.acquired_date_only,
                   sensor=excluded.sensor, simulated=excluded.simulated, scene_id=excluded.scene_id,
                   detected_at=excluded.detected_at, sha256=excluded.sha256""",
                (
                    self._geom(footprint),
                    obs.id,
                    obs.site_id,
                    obs.scene.id,
                    obs.scene.sensor,
                    _iso(obs.scene.acquired),
                    obs.grid.crs,
                    json.dumps(list(obs.grid.transform)),
                    obs.grid.width,
                    obs.grid.height,
                    obs.path,
                    obs.sha256,
                    obs.valid_fraction,
                    cloud_fraction,
                    bool(obs.scene.simulated),
                    provenance,
                    bool(obs.acquired_date_only),
                    detected_at,
                ),
            )
            # Detections kept with the same COG follow it: a date once assumed may since have been given a time.
            db.execute(
                "UPDATE detections SET acquired_date_only = ? WHERE observation_id = ?",
                (bool(obs.acquired_date_only), obs.id),
            )
            self._touch(db, "observations")
            self._extend(db, "observations", [footprint])

    def set_cloud_fraction(self, observation_id: str, cloud_fraction: float | None) -> None:
        """Record an observation's cloud fraction over the site (0–1; None: not measured)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE observations SET cloud_fraction = ? WHERE observation_id = ?",
                (cloud_fraction, observation_id),
            )

    def set_berths_hidden(self, observation_id: str, fractions: Mapping[str, float]) -> None:
        """Record what detection measured of each berth's zone hidden, in the observation's
        provenance (``berths_hidden``), replacing what an earlier run recorded."""
        with self.transaction() as db:
            rows = self.execute("SELECT provenance FROM observations WHERE observation_id = ?", (observation_id,))
            if not rows:
                return
            provenance = json.loads(rows[0][0])
            if provenance.get("berths_hidden") == dict(fractions):
                return  # as stored (a detect --force of the same image): its row unchanged, in whatever form
            provenance["berths_hidden"] = dict(sorted(fractions.items()))
            db.execute(
                "UPDATE observations SET provenance = ? WHERE observation_id = ?",
                (stored_json(provenance), observation_id),
            )

    def _observations_where(self, since: datetime | None = None, until: datetime | None = None, *,
                            columns: Iterable[str] | None = None, ids: Iterable[str] | None = None, **equal: Any) -> list[Any]:  # fmt: skip
        """The rows of :data:`_OBSERVATIONS_WITH_SCENES` whose observation columns equal the values of ``equal``
        (None: any), acquired from ``since`` to ``until`` (inclusive, either open when None), oldest first: each
        observation and its scene read by one statement. ``columns``: only these columns of the row (an observation's
        by its name, its scene's as ``scene_`` + name), not the scene's properties, links and footprint (a site's
        years of rows are megabytes, which a PostGIS server sends whole); ``ids``: only these observations."""
        kept = {col: val for col, val in equal.items() if val is not None}
        where = "".join(f" AND observations.{col} = ?" for col in kept)
        where += _acquired_between("observations.acquired", since, until)
        args: list[Any] = [*kept.values(), *_times(since, until)]
        select = _OBSERVATIONS_WITH_SCENES
        if columns is not None:
            names = [f"scenes.{c[6:]} AS {c}" if c.startswith("scene_") and c[6:] in _SCENE_COLUMNS else f"observations.{c}"
                     for c in columns]  # fmt: skip
            select = f"SELECT {', '.join(names)} FROM observations LEFT JOIN scenes ON scenes.scene_id = observations.scene_id"
        order = " ORDER BY observations.acquired, observations.observation_id"
        if ids is None:
            return self.execute(f"{select} WHERE 1=1{where}{order}", args)
        wanted, rows = sorted(set(ids)), []
        for start in range(0, len(wanted), _IDS_AT_ONCE):
            part = wanted[start:start + _IDS_AT_ONCE]
            rows += self.execute(f"{select} WHERE 1=1{where} AND observations.observation_id IN ({', '.join('?' * len(part))}){order}",
                                 [*args, *part])  # fmt: skip
        return sorted(rows, key=lambda r: (r["acquired"], r["observation_id"])) if len(wanted) > _IDS_AT_ONCE else rows

    def _observation_from_row(self, row: Any) -> Observation:
        """The observation of a row of :data:`_OBSERVATIONS_WITH_SCENES`; a StoreError when its scene is not stored."""
        if row["scene_provider"] is None:  # NOT NULL in scenes: no scene row joined
            raise StoreError(f"{self.location}: observation {row['observation_id']!r} names scene {row['scene_id']!r}, which "
                             "the workspace database does not hold: it is damaged; restore it from a backup")  # fmt: skip
        return Observation(
            id=row["observation_id"],
            site_id=row["site_id"],
            scene=self._scene_from_row(row, prefix="scene_"),
            grid=Grid(
                crs=row["crs"],
                transform=tuple(json.loads(row["transform"])),
                width=row["width"],
                height=row["height"],
            ),
            path=row["path"],
            sha256=row["sha256"],
            valid_fraction=row["valid_fraction"],
            cloud_fraction=row["cloud_fraction"],
            provenance=json.loads(row["provenance"]),
        )

    def observations(self, site_id: str | None = None, sensor: str | None = None, *, since: datetime | None = None,
                     until: datetime | None = None) -> list[Observation]:  # fmt: skip
        """Observations, oldest first, optionally of one site and/or sensor, acquired from ``since`` to ``until``
        (inclusive; the dashboard's period of a site with years of daily images reads that period, not all of them)."""
        return [self._observation_from_row(r) for r in self._observations_where(since, until, site_id=site_id, sensor=sensor)]

    def observations_by_id(self, observation_ids: Iterable[str]) -> list[Observation]:
        """The observations stored under these ids, oldest first (an id none is stored under is left out)."""
        ids = set(observation_ids)
        return [self._observation_from_row(r) for r in self._observations_where(ids=ids)] if ids else []

    def get_observation(self, observation_id: str) -> Observation:
        """The observation stored under ``observation_id``; a StoreError when there is none."""
        rows = self._observations_where(observation_id=observation_id)
        if not rows:
            raise StoreError(f"no observation {observation_id!r}; list them with `sitewatch observations [SITE]`")
        return self._observation_from_row(rows[0])

    # -- detections -----------------------------------------------------------------------------

    def replace_detections(self, observation: Observation, detections: Iterable[Detection]) -> int:
        """Replace every detection of an observation with ``detections``, atomically, and record when they were made
        (``detected_at``).

        Detections that are the stored ones value for value (a ``detect --force`` of an unchanged image with
        unchanged code) are left as stored, ``detected_at`` with them (when they were first made; ``runs`` records
        each run): no row the input triggers watch is written, so ``alerts check`` keeps its window."""
        detections = list(detections)  # read twice: the rows, then the layer's extent
        rows = []
        for d in detections:
            c = d.footprint.centroid
            rows.append(
                (
                    self._geom(d.footprint),
                    d.id,
                    observation.id,
                    observation.site_id,
                    _iso(observation.scene.acquired),
                    observation.scene.sensor,
                    d.kind,
                    d.length_m,
                    d.width_m,
                    d.heading_deg,
                    d.score,
                    d.detector,
                    d.detector_version,
                    d.row,
                    d.col,
                    d.berth_id,
                    json.dumps([[c.name, c.likelihood] for c in d.class_candidates]),
                    c.x,
                    c.y,
                    bool(observation.scene.simulated),
                    None if d.truncated is None else bool(d.truncated),
                    bool(observation.acquired_date_only),
                )
            )
        with self.transaction() as db:
            self._lock(db, f"detections {observation.id}")
            if self._as_stored(db, observation.id, rows):
                return len(rows)
            db.execute("DELETE FROM detections WHERE observation_id = ?", (observation.id,))
            db.execute("UPDATE observations SET detected_at = ? WHERE observation_id = ?", (_now(), observation.id))
            db.executemany(
                f"INSERT INTO detections ({', '.join(_DETECTION_COLUMNS)}) VALUES ({', '.join('?' * len(_DETECTION_COLUMNS))})",
                rows,
            )
            self._touch(db, "detections")
            self._extend(db, "detections", [d.footprint for d in detections])
        return len(rows)

    def _as_stored(self, db: Connection, observation_id: str, rows: list[tuple[Any, ...]]) -> bool:
        """Whether ``rows`` (values of :data:`_DETECTION_COLUMNS`) are an observation's stored detections, value for
        value (geometries by their WKB), and it is marked detected."""
        held = db.execute("SELECT detected_at FROM observations WHERE observation_id = ?", (observation_id,)).fetchone()
        if held is None or held[0] is None:
            return False
        stored = db.execute(f"SELECT {', '.join(_DETECTION_COLUMNS)} FROM detections WHERE observation_id = ?",
                            (observation_id,)).fetchall()  # fmt: skip
        if len(stored) != len(rows):
            return False

        def comparable(row: Any) -> tuple[Any, ...]:
            geom, *rest = tuple(row)
            shape = self._shape(geom)
            return (None if shape is None else shape.wkb, *rest)

        # Python compares True with the GeoPackage's 1 as equal, and floats exactly: what the triggers compare.
        return sorted(map(comparable, stored), key=lambda r: r[1]) == sorted(map(comparable, rows), key=lambda r: r[1])

    def clear_detections(self, observation_id: str) -> None:
        """Drop an observation's detections and mark it as waiting for detection (its COG failed)."""
        with self.transaction() as db:
            db.execute("DELETE FROM detections WHERE observation_id = ?", (observation_id,))
            db.execute("UPDATE observations SET detected_at = NULL WHERE observation_id = ?", (observation_id,))
            self._touch(db, "detections")

    def undetected(self, site_id: str | None = None) -> set[str]:
        """Ids of the observations that detection has not run on since their COG was written."""
        sql = "SELECT observation_id FROM observations WHERE detected_at IS NULL"
        args: tuple[str, ...] = ()
        if site_id is not None:
            sql += " AND site_id = ?"
            args = (site_id,)
        return {r[0] for r in self.execute(sql, args)}

    def detections(
        self, site_id: str | None = None, observation_id: str | None = None, kind: str | None = None, *,
        since: datetime | None = None, until: datetime | None = None,
    ) -> list[Detection]:  # fmt: skip
        """Detections, in acquisition then id order; of images acquired from ``since`` to ``until`` (inclusive) if given."""
        sql, args = select_equal(
            "detections", "acquired, detection_id", site_id=site_id, observation_id=observation_id, kind=kind
        )
        if since is not None or until is not None:
            where, order = sql.split(" ORDER BY ")
            sql, args = f"{where}{_acquired_between('acquired', since, until)} ORDER BY {order}", [*args, *_times(since, until)]
        return [
            Detection(
                id=r["detection_id"],
                observation_id=r["observation_id"],
                kind=r["kind"],
                footprint=self._shape(r["geom"]),
                length_m=r["length_m"],
                width_m=r["width_m"],
                heading_deg=r["heading_deg"],
                score=r["score"],
                detector=r["detector"],
                detector_version=r["detector_version"],
                row=r["row"] or 0.0,
                col=r["col"] or 0.0,
                berth_id=r["berth_id"],
                class_candidates=tuple(ClassCandidate(n, p) for n, p in json.loads(r["class_candidates"])),
                truncated=None if r["truncated"] is None else bool(r["truncated"]),
            )
            for r in self.execute(sql, args)
        ]

    # -- runs and counts ------------------------------------------------------------------------

    def record_run(
        self,
        stage: str,
        site_id: str | None,
        parameters: dict[str, Any],
        summary: dict[str, Any],
        started: str | None = None,
    ) -> None:
        """Keep a row saying which stage ran, when, with which parameters and sitewatch version.

        ``started`` is the stage's start (UTC ISO time, from :func:`now_utc`); default: now. Then, when
        ``input_changes`` holds more than :data:`INPUT_CHANGES_MOST` rows, folds them (:meth:`compact_input_changes`).
        """
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs (stage, site_id, started, finished, parameters, version, summary) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    stage,
                    site_id,
                    started or _now(),
                    _now(),
                    json.dumps(parameters, sort_keys=True, default=str),
                    __version__,
                    json.dumps(summary, sort_keys=True, default=str),
                ),
            )
        self.compact_input_changes()

    def counts(self) -> dict[str, int]:
        """Row counts of the feature tables."""
        return {
            t: int(self.execute(f"SELECT count(*) FROM {t}")[0][0])
            for t in ("sites", "berths", "site_water", "scenes", "observations", "detections")
        }

    def execute(self, sql: str, args: Iterable[Any] = ()) -> list[Any]:
        """Rows of a query (``?`` placeholders), each read by position or column name; SQL that both SQLite
        and PostgreSQL accept runs on either store (booleans as TRUE/FALSE, no json_* or date functions)."""
        return self._db.execute(sql, tuple(args)).fetchall()

    def columns(self, table: str) -> list[str]:
        """The columns of one of the store's tables, in their order."""
        return [r["name"] for r in self.execute(f"PRAGMA table_info({table})")]

    def _keys_follow(self, db: Connection, table: str, key: str) -> None:
        """After rows were written with their keys given: new rows' keys follow them (SQLite's do already)."""

    # -- how geometries are written and read (the PostGIS store's differ) -----------------------

    def _geom(self, geom: BaseGeometry | None) -> Any:
        """A geometry as a query parameter for a geometry column."""
        return to_gpkg_blob(geom)

    def _shape(self, value: Any) -> Any:
        """A geometry column's value as a shapely geometry (None for NULL)."""
        return from_gpkg_blob(value)

    def observation_footprints(self, site_ids: Iterable[str]) -> dict[str, BaseGeometry | None]:
        """Each observation's footprint over the site (as ingest recorded it), by observation id, of ``site_ids``."""
        ids = sorted(set(site_ids))
        marks = ", ".join("?" * len(ids))
        return {
            r["observation_id"]: self._shape(r["geom"])
            for r in self.execute(f"SELECT observation_id, geom FROM observations WHERE site_id IN ({marks})", ids)
        }
