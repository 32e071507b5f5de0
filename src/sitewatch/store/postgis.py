"""The team store: a workspace's database on PostgreSQL with PostGIS.

:class:`PostgisStore` has :class:`~sitewatch.store.Store`'s API and runs the same SQL (the store's own,
and the ``?``-placeholder queries other modules pass to :meth:`~PostgisStore.execute`): placeholders become
psycopg's, geometries travel as EWKB and come back as shapely geometries, and ``timestamptz`` and ``date``
values come back as the GeoPackage's text (``2024-10-17T09:30:00.000Z``), so that every caller reads the
same values from either store. JSON columns are read back as the text written.

Team use: several people (and Dask workers) write at once. Every write is a transaction; a stage's
rerun replaces rows by their owner (an observation's detections, a pair's changes) under a lock on that
owner, so two runs on the same observation follow one another instead of both inserting.
"""

from __future__ import annotations

import logging
import os
import re
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import shapely
from shapely.geometry.base import BaseGeometry

from .. import __version__
from ..errors import (
    STALL_LOGGER,
    MissingExtraError,
    StoreError,
    StoreUnavailableError,
    require_extra,
)
from .pg_locks import LockWatch, describe_holders
from .pg_schema import (
    MIGRATION_LOCK,
    PG_FEATURE_TABLES,
    PG_INPUT_TABLES,
    PG_INPUT_TRIGGER_PREFIX,
    PG_MIGRATIONS,
    PG_SCHEMA_VERSION,
    input_function_body,
)
from .sqlite import BUSY_TIMEOUT_S, LOCK_NOTICE_S, Connection, Store, _iso

_T = TypeVar("_T")

__all__ = ["PostgisStore", "is_store_url", "mask_url"]

URL_SCHEMES = ("postgresql://", "postgres://")

CONNECT_TIMEOUT_S = 10
"""How long opening the store waits for the server before saying it cannot reach it."""


def is_store_url(value: str) -> bool:
    """Whether a ``store`` setting names a PostgreSQL database (not a GeoPackage file)."""
    return value.strip().lower().startswith(URL_SCHEMES)


def mask_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) shown as ``***``:
    the form every message, log and provenance record gives it in."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        if ":" in user:
            netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = parts.query
    if "password=" in query.lower():
        pairs = [(k, "***" if k.lower() == "password" else v) for k, v in parse_qsl(query, keep_blank_values=True)]
        query = urlencode(pairs, safe="/*")
    return _unsplit(parts.scheme, netloc, parts.path, query, parts.fragment)


def _unsplit(scheme: str, netloc: str, path: str, query: str, fragment: str) -> str:
    """A URL put together again with its ``//`` kept when the host part is empty: ``urlunsplit`` makes
    ``postgresql:///db?host=/run/pg`` (libpq's form for a unix socket, or for no user name) into
    ``postgresql:/db…``, which libpq refuses and the ``store`` setting does not take."""
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")


def _url_parts(url: str) -> dict[str, str]:
    """What a URL gives libpq: its host, port, database and user, from the URL's parts or its parameters."""
    parts = urlsplit(url.strip())
    given = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
    try:
        port = str(parts.port or "")
    except ValueError:  # not a number: libpq names it
        port = ""
    user = unquote(parts.username or "") or given.get("user", "")
    return {
        # What libpq fills in for what the URL leaves out (PGHOST, PGPORT else 5432, PGDATABASE else the role's
        # name), so that a part written out or left to libpq is one server, one database: two roles' URLs naming
        # no database name two databases, each role's own.
        "host": (unquote(parts.hostname or "") or given.get("host", "") or os.environ.get("PGHOST", "")).lower(),
        "port": port or given.get("port", "") or os.environ.get("PGPORT", "") or "5432",
        "dbname": unquote(parts.path.lstrip("/")) or given.get("dbname", "") or os.environ.get("PGDATABASE", "")
        or user or _default_role(),
        "user": user,
    }


def same_database(a: str, b: str) -> bool:
    """Whether two URLs name one database of one server (its host, port and name), whichever role signs in."""
    pa, pb = _url_parts(a), _url_parts(b)
    return all(pa[k] == pb[k] for k in ("host", "port", "dbname"))


def url_role(url: str) -> str:
    """The role a URL signs in as, "" when it names none (libpq then takes PGUSER, else the login name)."""
    return _url_parts(url)["user"]


def url_without_role(url: str) -> str:
    """``url`` naming no role and no password (``user=`` and ``password=`` parameters too): each member who
    uses it signs in as their own role."""
    parts = urlsplit(url.strip())
    netloc = parts.netloc.rsplit("@", 1)[-1]
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in ("user", "password")]
    return _unsplit(parts.scheme, netloc, parts.path, urlencode(pairs, safe="/"), parts.fragment)


def url_without_password(url: str) -> str:
    """``url`` with no password in it (for ``sitewatch.toml``: libpq then reads ~/.pgpass or PGPASSWORD)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}@{host}"
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != "password"]
    return _unsplit(parts.scheme, netloc, parts.path, urlencode(pairs, safe="/"), parts.fragment)


def has_password(url: str) -> bool:
    """Whether ``url`` carries a password."""
    return mask_url(url) != url


def _to_pg(sql: str) -> str:
    """The store's SQL (``?`` placeholders) as psycopg's (``%s``, with a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _text_value(value: Any) -> Any:
    """A value as the GeoPackage holds it: times as its DATETIME text, dates as ISO dates."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


_ROW_TRIGGER = 1 | 4 | 8 | 16
"""``pg_trigger.tgtype`` of an input trigger: FOR EACH ROW (1), AFTER (no 2), INSERT (4), DELETE (8), UPDATE (16)."""

_TRUNCATE_TRIGGER = 32
"""``pg_trigger.tgtype`` of an input table's statement trigger: AFTER TRUNCATE, FOR EACH STATEMENT."""


class Row(tuple[Any, ...]):
    """A result row read by position or by column name, as :class:`sqlite3.Row` is."""

    _names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """The column names, in order (as :meth:`sqlite3.Row.keys`)."""
        return list(self._names)


_TIME_OIDS = frozenset({1082, 1114, 1184})
"""date, timestamp and timestamptz: read back as the GeoPackage's text."""


def _row_factory(cursor: Any) -> Any:
    description = cursor.description or ()
    names = {c.name: i for i, c in enumerate(description)}
    times = [i for i, c in enumerate(description) if c.type_code in _TIME_OIDS]

    def make(values: Any) -> Row:
        if times:
            values = list(values)
            for i in times:
                values[i] = _text_value(values[i])
        row = Row(values)
        row._names = names
        return row

    return make


class _Transaction:
    """What :meth:`PostgisStore.transaction` gives its block: SQLite's ``execute``/``executemany`` on psycopg, each
    statement watched for a wait on another session's lock."""

    def __init__(self, conn: Any, watch: LockWatch) -> None:
        self._conn = conn
        self._watch = watch

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        self._watch.begin("write to")
        try:
            return self._conn.execute(_to_pg(sql), tuple(parameters))
        finally:
            self._watch.end()

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        cur = self._conn.cursor()
        self._watch.begin("write to")
        try:
            cur.executemany(_to_pg(sql), list(parameters))
        finally:
            self._watch.end()
        return cur


def _psycopg() -> Any:
    import psycopg

    return psycopg


class PostgisStore(Store):
    """A sitewatch database in PostgreSQL with PostGIS, opened by its URL (``postgresql://user@host/db``).

    The schema is migrated on open, under an advisory lock; one made by a newer sitewatch is refused.
    A database without sitewatch's tables is refused unless ``create`` (``sitewatch init --store``, ``store copy``
    into it), so that a URL naming the wrong database never gets a new, empty store made there. ``read_only`` (the dashboard's): every transaction of the session is read-only, and the
    schema must be current. The URL is shown only with its password masked (:attr:`location`).
    """

    _pg: Any
    """The psycopg connection (autocommit: :meth:`transaction` says BEGIN and COMMIT)."""

    def __init__(self, url: str, *, read_only: bool = False, create: bool = False, origin: str = "") -> None:
        self.url = url
        # Where the URL came from, for an error reaching it ("--to", "SITEWATCH_STORE", "the store setting in FILE").
        self.origin = origin
        self.read_only = read_only
        self._depth = 0
        try:
            require_extra("psycopg", "postgis")
        except MissingExtraError as exc:
            raise StoreError(f"{self._named}: the PostGIS store: {exc}") from exc
        psycopg = _psycopg()
        try:
            self._pg = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, row_factory=_row_factory,
                                       fallback_application_name=_application_name(), **_dead_peer_limits(url))  # fmt: skip
        except psycopg.OperationalError as exc:
            hint = _connect_hint(exc, origin)
            if ("password" in hint or "createuser" in hint) and not url_role(url):
                # A team's shared URL names no role: which one wants a password, for the ~/.pgpass line.
                hint += f" (the URL names no role, so libpq signed in as {_default_role()!r}: PGUSER, else the login name)"
            message = f"{self._named}: cannot connect to the PostGIS store ({_reason(exc)}){hint}"
            if _unreachable(psycopg, exc):
                raise StoreUnavailableError(message, location=self.location, reason=_reason(exc)) from exc
            raise StoreError(message) from exc
        except psycopg.ProgrammingError as exc:  # a URL libpq cannot parse
            raise StoreError(f"{self._named}: not a PostgreSQL URL libpq reads ({_reason(exc)})") from exc
        self._pid = self._pg.info.backend_pid
        # The watch's thread reaches the store only through a weak reference, so that a store nobody closed is still
        # collected (and its connection closed) as before, and the thread stops with it.
        me = weakref.ref(self)
        self._watch = LockWatch(
            LOCK_NOTICE_S, lambda: (s._look() if (s := me()) is not None else None),
            lambda held, to: (s._say_waiting(held, to) if (s := me()) is not None else None),
        )  # fmt: skip
        weakref.finalize(self, self._watch.close)
        try:
            self._pg.execute("SET TIME ZONE 'UTC'")
            self._lock_wait_ms = self._bounded_lock_wait()
            self._check_postgis()
            self._register_types()
            if read_only:
                self._pg.execute("SET default_transaction_read_only = on")
                self._waiting("read", self._check_current)
            else:
                self._waiting("migrate", lambda: self._migrate(create=create))
        except psycopg.errors.InsufficientPrivilege as exc:
            message = f"{self.location}: {self._denied(exc)}"
            self._pg.close()
            raise StoreError(message) from exc
        except psycopg.OperationalError as exc:  # the server stopped between the connection and these reads
            self._pg.close()
            raise self._failed("read", exc) from exc
        except BaseException:
            self._pg.close()
            raise

    def _denied(self, exc: BaseException) -> str:
        """What a role refused the tables (another member's role: they belong to whoever made them) must be granted."""
        user = self._pg.info.user
        try:
            schema = self._pg.execute("SELECT current_schema()").fetchone()[0] or "public"
        except Exception:  # (the connection gone meanwhile: the usual schema)
            schema = "public"
        return (
            f"role {user!r} has no rights on sitewatch's tables here ({_reason(exc)}): the role that made them, "
            f"their owner, or a superuser must grant them, `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN "
            f"SCHEMA {schema} TO {user}; GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {schema} TO {user}` "
            "(or every member signs in as one role: README, A team store on PostGIS)"
        )

    @property
    def location(self) -> str:
        """The store's URL, password masked."""
        return mask_url(self.url)

    @property
    def _named(self) -> str:
        """The store's URL, password masked, and where it came from (for an error opening it)."""
        return f"{self.location} (from {self.origin})" if self.origin else self.location

    def _failed(self, action: str, exc: BaseException) -> StoreError:
        """The error to raise when ``action`` ("read", "write to") failed with psycopg's ``exc``: a
        :class:`StoreUnavailableError` when the server could not be reached (it may be again), else a StoreError."""
        psycopg = _psycopg()
        message = f"{self.location}: cannot {action} the PostGIS store ({_reason(exc)}){_gone(psycopg, exc)}"
        if _unreachable(psycopg, exc):
            return StoreUnavailableError(message, location=self.location, reason=_reason(exc))
        return StoreError(message)

    def _check_postgis(self) -> None:
        row = self._pg.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
        if row is None:
            db = self._pg.info.dbname
            raise StoreError(
                f"{self._named}: database {db!r} has no PostGIS; someone allowed to (a superuser, or the "
                f"database's owner where the server trusts the extension) must run `CREATE EXTENSION postgis;` "
                f"in it, e.g. `psql -d {db} -c 'CREATE EXTENSION postgis'` (Debian: apt-get install postgresql-15-postgis-3 first)"
            )

    def _register_types(self) -> None:
        """Geometries in and out as shapely; JSON read back as the text written."""
        from psycopg.adapt import Dumper, Loader
        from psycopg.types import TypeInfo
        from psycopg.types.string import TextLoader

        class GeometryDumper(Dumper):
            def dump(self, obj: Any) -> bytes:
                return str(shapely.to_wkb(shapely.set_srid(obj, 4326), hex=True, include_srid=True)).encode()

        class GeometryLoader(Loader):
            def load(self, data: Any) -> Any:
                return shapely.from_wkb(bytes(data).decode())

        info = TypeInfo.fetch(self._pg, "geometry")
        if info is None:  # in a schema not on the search_path
            raise StoreError(f"{self.location}: PostGIS's geometry type is not on the search_path of this connection")
        adapters = self._pg.adapters
        adapters.register_dumper(BaseGeometry, GeometryDumper)
        adapters.register_loader(info.oid, GeometryLoader)
        for name in ("json", "jsonb"):
            adapters.register_loader(name, TextLoader)

    # -- schema ---------------------------------------------------------------------------------

    def schema_version(self) -> int:
        """The schema version recorded in ``sitewatch_meta`` (0: none, as in a new database)."""
        # pg_tables read as a table (with this statement's snapshot), not to_regclass: a name looked up in the
        # catalogue caches may miss a table another session made since this transaction began (two users
        # opening a new store at once: the second, let in by the lock, saw no tables and made them again).
        exists = self._pg.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() "
            "AND tablename = 'sitewatch_meta')"
        ).fetchone()[0]
        if not exists:
            return 0
        row = self._pg.execute("SELECT value FROM sitewatch_meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _refuse_newer(self, current: int) -> None:
        if current > PG_SCHEMA_VERSION:
            raise StoreError(
                f"{self.location}: schema version {current}{self._written_by()} is newer than the schema "
                f"{PG_SCHEMA_VERSION} this sitewatch ({__version__}) reads; upgrade sitewatch (nothing was changed)"
            )

    def _written_by(self) -> str:
        """`` (made by sitewatch X)`` for a store whose last migration a sitewatch that records its version ran
        (``sitewatch_meta.schema_written_by``), for the message refusing it; "" otherwise."""
        try:
            row = self._pg.execute("SELECT value FROM sitewatch_meta WHERE key = 'schema_written_by'").fetchone()
        except _psycopg().Error:
            return ""
        return f" (made by sitewatch {row[0]})" if row else ""

    def _owner(self) -> str:
        """The role that owns the store's tables (who may migrate them), or "" when it cannot be read."""
        try:
            row = self._pg.execute(
                "SELECT tableowner FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'sitewatch_meta'"
            ).fetchone()
        except _psycopg().Error:
            return ""
        return str(row[0]) if row else ""

    def _cannot_migrate(self, current: int, exc: BaseException) -> StoreError:
        """The error of a store of an older schema that this role may not migrate (a colleague's read-only role, a
        member who is not the tables' owner): it must be migrated once, by the owner, before this sitewatch reads it."""
        owner = self._owner()
        who = f"the tables' owner (role {owner!r})" if owner else "the tables' owner"
        return StoreError(
            f"{self.location}: the store is of schema version {current}, made by an older sitewatch; this one "
            f"({__version__}) reads {PG_SCHEMA_VERSION} and updates the store once, the first time it opens it, but role "
            f"{self._pg.info.user!r} may not change its tables ({_reason(exc)}; nothing was changed): have {who} run one "
            "command of this sitewatch on it (`sitewatch observations`), then run this command again"
        )

    def _waiting(self, to: str, step: Callable[[], _T]) -> _T:
        """``step()`` (opening the store: reading its version, migrating it), waiting for another session's lock on
        its tables (QGIS or psql in a transaction, another sitewatch migrating it) up to :data:`BUSY_TIMEOUT_S`: after
        :data:`LOCK_NOTICE_S` of it, a warning (shown even under ``-q``) names the sessions holding locks, and ``step``
        runs again (what it did is rolled back); a StoreError naming them when they do not release them. Without a
        ``lock_timeout`` the wait was silent and had no end."""
        psycopg = _psycopg()
        try:
            self._pg.execute(f"SET lock_timeout = {round(min(LOCK_NOTICE_S, BUSY_TIMEOUT_S) * 1000)}")
            try:
                return step()
            except psycopg.errors.LockNotAvailable:
                if LOCK_NOTICE_S >= BUSY_TIMEOUT_S:
                    raise self._not_released(to) from None
            logging.getLogger(STALL_LOGGER).warning(
                "%s: waiting to %s the PostGIS store: %s; this command goes on when it is released (waiting up to %g s more)",
                self.location, to, self._lock_holders(), BUSY_TIMEOUT_S - LOCK_NOTICE_S,
            )  # fmt: skip
            self._pg.execute(f"SET lock_timeout = {round((BUSY_TIMEOUT_S - LOCK_NOTICE_S) * 1000)}")
            try:
                return step()
            except psycopg.errors.LockNotAvailable as exc:
                raise self._not_released(to) from exc
        finally:
            if not self._pg.closed:
                self._pg.execute(f"SET lock_timeout = {self._lock_wait_ms}")

    def _not_released(self, to: str, waited_s: float | None = None) -> StoreError:
        """The error of a lock another session kept past the wait: who holds it (as the notice said, else the
        sessions holding locks on the store's tables now) and what to do."""
        held = self._watch.holders or self._lock_holders()
        waited = BUSY_TIMEOUT_S if waited_s is None else waited_s
        return StoreError(
            f"{self.location}: cannot {to} the PostGIS store: {held}, and it was not released in {waited:g} s; "
            f"{_TO_FREE}, then run this command again (what this command recorded before is kept; a rerun does not "
            "duplicate it)"
        )

    def _bounded_lock_wait(self) -> int:
        """Set this session's ``lock_timeout``: :data:`BUSY_TIMEOUT_S`, or a shorter one the database's administrator
        set for the role or the database. Its milliseconds. Without it (PostgreSQL's default, 0), a statement waited
        for another session's lock in silence, as long as that session kept it."""
        ours = round(BUSY_TIMEOUT_S * 1000)
        row = self._pg.execute("SELECT setting FROM pg_catalog.pg_settings WHERE name = 'lock_timeout'").fetchone()
        theirs = int(row[0]) if row and str(row[0]).isdigit() else 0
        ms = theirs if 0 < theirs < ours else ours
        self._pg.execute(f"SET lock_timeout = {ms}")
        return ms

    def _look(self) -> str | None:
        """Who holds the lock this session's statement waits for (None: it waits for none), looked up on a
        connection of its own: this one is busy waiting."""
        psycopg = _psycopg()
        with psycopg.connect(self.url, autocommit=True, connect_timeout=min(CONNECT_TIMEOUT_S, 5),
                             fallback_application_name="sitewatch (who holds a lock)") as conn:  # fmt: skip
            return describe_holders(conn, self._pid)

    def _say_waiting(self, held: str, to: str) -> None:
        logging.getLogger(STALL_LOGGER).warning(
            "%s: waiting to %s the PostGIS store: %s; this command goes on when it is released (waiting up to %g s "
            "more): %s",
            self.location, to, held, self._lock_wait_ms / 1000 - LOCK_NOTICE_S, _TO_FREE,
        )  # fmt: skip

    def _stopped(self, to: str, exc: BaseException) -> StoreError | None:
        """The error for a statement the server stopped on a limit (a lock not released in time, the role's
        ``statement_timeout``, its ``idle_in_transaction_session_timeout``), saying which; None for other errors."""
        limit = _limit(_psycopg(), exc)
        if limit == "lock_timeout":
            return self._not_released(to, self._lock_wait_ms / 1000)
        if limit == "statement_timeout":
            shown = self._setting("statement_timeout")
            return StoreError(
                f"{self.location}: cannot {to} the PostGIS store: the server stopped a statement that ran longer than "
                f"the statement_timeout set for role {self._pg.info.user!r} or the database ({shown}; nothing of it was "
                f"kept): have the database's administrator raise it for this role (`ALTER ROLE {self._pg.info.user} SET "
                "statement_timeout = '30min'`), or run the command on fewer sites or images at a time"
            )
        if limit == "idle_in_transaction_session_timeout":
            return StoreError(
                f"{self.location}: cannot {to} the PostGIS store: the server ended this session, idle in a transaction "
                f"longer than the idle_in_transaction_session_timeout set for role {self._pg.info.user!r} or the "
                "database (nothing of that transaction was kept; what was recorded before is): run the command again; "
                "if it recurs, have the database's administrator raise it for this role (`ALTER ROLE "
                f"{self._pg.info.user} SET idle_in_transaction_session_timeout = '10min'`)"
            )
        return None

    def _setting(self, name: str) -> str:
        """A setting of this session as the server shows it (``30s``), or "its value unknown" once it is gone."""
        try:
            return str(self._pg.execute(f"SHOW {name}").fetchone()[0])
        except _psycopg().Error:
            return "its value unknown"

    def _lock_holders(self) -> str:
        """The other sessions holding locks on the store's tables or its migration lock, as a phrase naming each
        (pid, role, program, table and lock mode)."""
        try:
            rows = self._pg.execute(
                "SELECT l.pid, a.usename, coalesce(a.application_name, ''), "
                "CASE WHEN l.locktype = 'advisory' THEN NULL ELSE c.relname END, l.mode "
                "FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
                "LEFT JOIN pg_catalog.pg_class c ON c.oid = l.relation "
                "WHERE l.granted AND l.pid <> pg_backend_pid() AND l.database = "
                "(SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) AND ("
                "(l.locktype = 'relation' AND c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace) "
                "OR (l.locktype = 'advisory' AND ((l.classid::bigint << 32) | l.objid::bigint) = %s)) "
                "ORDER BY l.pid, c.relname",
                (MIGRATION_LOCK,),
            ).fetchall()
        except _psycopg().Error:
            rows = []
        if not rows:
            return "another session holds a lock on its tables"
        held = []
        for pid, user, app, table, mode in rows:
            who = f"session {pid} (role {user}{', ' + app if app else ''})"
            held.append(f"{who} holds {mode} on table {table}" if table else f"{who} holds sitewatch's migration lock (another sitewatch migrating it)")
        return "; ".join(held)

    def _no_store(self) -> StoreError:
        """A database without sitewatch's tables, opened by a command that does not make them."""
        return StoreError(
            f"{self._named}: no sitewatch store in database {self._pg.info.dbname!r} (none of its tables): "
            f"check the database name in {_the_url(self.origin)}, or run `sitewatch init --store URL` to make one there"
        )

    def _migrate(self, *, create: bool = False) -> None:
        psycopg = _psycopg()
        found = self.schema_version()
        if found == PG_SCHEMA_VERSION:
            return
        if found == 0 and not create:
            raise self._no_store()
        self._refuse_newer(found)
        try:
            with self._pg.transaction():
                # Under the lock, the version is read again: another user opening the store at the same
                # moment may have migrated it meanwhile.
                self._pg.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                current = self.schema_version()
                if current == 0 and not create:  # (dropped meanwhile)
                    raise self._no_store()
                self._refuse_newer(current)
                for version in range(current, PG_SCHEMA_VERSION):
                    self._pg.execute(PG_MIGRATIONS[version])
                    self._pg.execute(
                        "INSERT INTO sitewatch_meta VALUES ('schema_version', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (str(version + 1),),
                    )
                    self._pg.execute(
                        "INSERT INTO sitewatch_meta VALUES ('schema_written_by', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (__version__,),
                    )
        except psycopg.errors.InsufficientPrivilege as exc:
            if found:  # an older store: the role is not the owner, who may alter the tables
                raise self._cannot_migrate(found, exc) from exc
            user = self._pg.info.user
            raise StoreError(
                f"{self.location}: cannot make or migrate the sitewatch tables ({_reason(exc)}): role {user!r} may not "
                "create tables in this database; open it first (`sitewatch init --store URL`) as its owner "
                f"(`createdb -O {user} …` makes {user} the owner), or have the owner run `GRANT CREATE ON SCHEMA public TO {user}`"
            ) from exc
        except psycopg.errors.LockNotAvailable:
            raise  # (waited for again, or named, by _waiting)
        except psycopg.Error as exc:
            raise StoreError(f"{self.location}: cannot make or migrate the sitewatch tables ({_reason(exc)})") from exc

    def _may_note_changes(self) -> bool:
        """Whether this role may insert into ``input_changes`` (its owner: members are granted reading and deleting)."""
        return bool(self.execute("SELECT has_table_privilege('input_changes', 'INSERT')")[0][0])

    def records_input_changes(self) -> bool:
        """:meth:`Store.records_input_changes`: each trigger of the migration there and enabled always, as it made
        them (not disabled by ``ALTER TABLE … DISABLE TRIGGER``, nor left to sessions not in replica mode by
        ``ENABLE TRIGGER``), and the function they call as it made it."""
        # Each trigger on its table, firing as made (after each row inserted, updated or deleted; after a TRUNCATE)
        # and calling the function: a name alone also matched a trigger left on a table renamed away (a tool
        # rebuilding `detections` as a new table, whose writes went unnoted) or made again for INSERT only.
        want = {(t, f"{PG_INPUT_TRIGGER_PREFIX}{t}{end}", kind) for t in PG_INPUT_TABLES
                for end, kind in (("", _ROW_TRIGGER), ("_truncate", _TRUNCATE_TRIGGER))}  # fmt: skip
        rows = self.execute(
            "SELECT c.relname, t.tgname, t.tgtype FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid "
            "JOIN pg_proc AS p ON p.oid = t.tgfoid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal AND t.tgenabled = 'A' "
            "AND t.tgqual IS NULL AND t.tgattr::text = '' AND p.proname = 'sitewatch_input_changed' "
            "AND p.pronamespace = current_schema()::regnamespace "
            "AND substr(t.tgname, 1, ?) = ?", (len(PG_INPUT_TRIGGER_PREFIX), PG_INPUT_TRIGGER_PREFIX),
        )  # fmt: skip
        body = self.execute("SELECT prosrc FROM pg_proc WHERE proname = 'sitewatch_input_changed' "
                            "AND pronamespace = current_schema()::regnamespace")  # fmt: skip
        found = [(str(r[0]), str(r[1]), int(r[2])) for r in rows]
        return len(found) == len(want) and set(found) == want and [str(r[0]) for r in body] == [input_function_body()]

    def _check_current(self) -> None:
        current = self.schema_version()
        if current == 0:
            raise self._no_store()
        if current != PG_SCHEMA_VERSION:
            if current > PG_SCHEMA_VERSION:
                by, action = self._written_by(), "upgrade sitewatch"
            else:
                owner = self._owner()
                by, action = "", f"have the tables' owner{f' (role {owner!r})' if owner else ''} run `sitewatch observations` once to migrate it"
            raise StoreError(
                f"{self.location}: schema version {current}{by}, this sitewatch ({__version__}) reads {PG_SCHEMA_VERSION} "
                f"when read-only; {action} (nothing was changed)"
            )

    # -- transactions ---------------------------------------------------------------------------

    def still_usable(self, *, ask_server: bool = True) -> bool:
        """Whether this read-only store's session can serve another request as it is (the dashboard keeps it open
        between requests): its connection open and in no transaction and, ``ask_server``, the server still answering
        it (one statement) and the schema still the one it was opened at. False for a session the server ended meanwhile (restarted, an administrator's
        ``pg_terminate_backend``, ``idle_session_timeout``), a connection lost, or a store a newer sitewatch migrated
        since: its caller opens the store anew, which connects again or says why it cannot."""
        psycopg = _psycopg()
        if not self.read_only or self._depth or self._pg.closed:
            return False
        if self._pg.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            return False
        if not ask_server:
            return True
        try:
            row = self._pg.execute("SELECT value FROM sitewatch_meta WHERE key = 'schema_version'").fetchone()
        except psycopg.Error:
            return False
        return row is not None and str(row[0]) == str(PG_SCHEMA_VERSION)

    def close(self) -> None:
        """Close the connection to PostgreSQL."""
        self._watch.close()
        self._pg.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """All writes inside commit together or not at all. Nests (inner blocks join the outer)."""
        psycopg = _psycopg()
        if self._depth == 0:
            try:
                self._pg.execute("BEGIN")
            except psycopg.Error as exc:
                raise self._failed("write to", exc) from exc
        self._depth += 1
        try:
            yield _Transaction(self._pg, self._watch)
        except BaseException as exc:
            self._depth -= 1
            if self._depth == 0:
                if not self._pg.closed:
                    try:
                        self._pg.execute("ROLLBACK")
                    except psycopg.OperationalError:  # the session ended meanwhile (said below): nothing to roll back
                        pass
                if isinstance(exc, psycopg.Error) and (stopped := self._stopped("write to", exc)):
                    raise stopped from exc
                if isinstance(exc, psycopg.errors.InsufficientPrivilege) and not self.read_only:
                    raise StoreError(f"{self.location}: cannot write to the PostGIS store: {self._denied(exc)}") from exc
                if _cannot_write(psycopg, exc):
                    raise self._failed("write to", exc) from exc
            raise
        else:
            self._depth -= 1
            if self._depth == 0:
                try:
                    self._pg.execute("COMMIT")
                except psycopg.Error as exc:
                    raise (self._stopped("write to", exc) or self._failed("write to", exc)) from exc

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see the store as one moment: a ``REPEATABLE READ READ ONLY`` transaction, which other
        members' writes do not wait for. Inside a transaction of this store: that one's view."""
        psycopg = _psycopg()
        if self._depth:
            yield
            return
        try:
            self._pg.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        except psycopg.Error as exc:
            raise self._failed("read", exc) from exc
        try:
            yield
        finally:
            try:
                self._pg.execute("COMMIT")
            except psycopg.Error:  # the connection lost: what stopped the reads is raised already
                pass

    def _lock(self, db: Connection, key: str) -> None:
        db.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (key,))

    @contextmanager
    def turn(self, key: str) -> Iterator[None]:
        """A turn on ``key`` that other members' turns on it wait for (up to the session's lock wait, the holder
        named): the session's advisory lock on it (the key space of :meth:`_lock`), which other members' writes do
        not wait for (they lock rows, not the store). Not a transaction: the step in it (``alerts check`` posting to
        a webhook) may take long, and a session idle in a transaction that long was ended by a DBA's
        ``idle_in_transaction_session_timeout`` (the event posted, not marked: posted again by the next run) and kept
        VACUUM's horizon back meanwhile. Inside a transaction of this store: its lock, to that transaction's end."""
        psycopg = _psycopg()
        if self._depth:
            with self.transaction() as db:
                self._lock(db, key)
                yield
            return
        self._watch.begin("take a turn on")
        try:
            self._pg.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        except psycopg.Error as exc:
            raise (self._stopped("take a turn on", exc) or self._failed("take a turn on", exc)) from exc
        finally:
            self._watch.end()
        try:
            yield
        finally:
            try:
                self._pg.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
            except psycopg.Error:  # the session ended (what stopped the turn is raised already): its locks went with it
                pass

    def _lock_tables(self, db: Connection, tables: Iterable[str]) -> None:
        """``LOCK TABLE … IN EXCLUSIVE MODE``: other sessions' writes wait for this transaction, their reads do not."""
        db.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")

    def _touch(self, db: Connection, table: str) -> None:
        """Nothing: PostgreSQL has no ``gpkg_contents`` to date a layer's last change in."""

    def _extend(self, db: Connection, table: str, geoms: Iterable[BaseGeometry | None]) -> None:
        """Nothing: QGIS and GDAL take a PostGIS layer's extent from the table itself."""

    def _reach_edge(self, db: Connection, table: str, where: str, args: Sequence[Any]) -> bool:
        """False: no extent is recorded (see :meth:`_extend`)."""
        return False

    def update_extents(self, tables: Iterable[str] | None = None) -> None:
        """Nothing to do (see :meth:`_extend`)."""

    def execute(self, sql: str, args: Iterable[Any] = ()) -> list[Any]:
        """:meth:`Store.execute` through psycopg (``?`` as ``%s``); a StoreError when the server cannot be read."""
        psycopg = _psycopg()
        self._watch.begin("read" if not self._depth else "write to")
        try:
            return list(self._pg.execute(_to_pg(sql), tuple(args)).fetchall())
        except (psycopg.OperationalError, psycopg.errors.IdleInTransactionSessionTimeout) as exc:
            if self._depth and _limit(psycopg, exc):  # in a transaction: said once it is rolled back, as it ends
                raise
            raise (self._stopped("read", exc) or self._failed("read", exc)) from exc
        except psycopg.errors.InsufficientPrivilege as exc:
            if self._depth:  # in a transaction: rolled back, and said so, as it ends
                raise
            raise StoreError(f"{self.location}: {self._denied(exc)}") from exc
        finally:
            self._watch.end()

    def columns(self, table: str) -> list[str]:
        """:meth:`Store.columns` from ``information_schema``, for a table of the current schema."""
        return [
            r[0] for r in self.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "AND table_schema = current_schema() ORDER BY ordinal_position", (table,),
            )
        ]  # fmt: skip

    def _keys_follow(self, db: Connection, table: str, key: str) -> None:
        db.execute(
            f"SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max({key}), 0) + 1, false) FROM {table}", (table, key)
        )

    def _geom(self, geom: BaseGeometry | None) -> Any:
        return geom

    def _shape(self, value: Any) -> Any:
        return value

    def layers(self) -> tuple[str, ...]:
        """The feature tables, which QGIS lists as layers."""
        return tuple(PG_FEATURE_TABLES)


def _limit(psycopg: Any, exc: BaseException) -> str | None:
    """The server's limit that stopped a statement (``lock_timeout``, ``statement_timeout``,
    ``idle_in_transaction_session_timeout``), or None when none did."""
    errors = psycopg.errors
    if isinstance(exc, errors.LockNotAvailable):
        return "lock_timeout"
    if isinstance(exc, errors.QueryCanceled) and "statement timeout" in str(exc):
        return "statement_timeout"
    if isinstance(exc, errors.IdleInTransactionSessionTimeout) or (
        isinstance(exc, psycopg.Error) and "idle-in-transaction timeout" in str(exc)
    ):
        return "idle_in_transaction_session_timeout"
    return None


def _cannot_write(psycopg: Any, exc: BaseException) -> bool:
    """Whether a write failed because of where the store is (the server went away, a full disk, a read-only
    session, a role without the right to write), not what was written."""
    errors = psycopg.errors
    return isinstance(exc, (psycopg.OperationalError, errors.ReadOnlySqlTransaction, errors.InsufficientPrivilege))


_TO_FREE = (
    "end that session's transaction (COMMIT or ROLLBACK in it; in QGIS, save or discard the layer's edits), let the "
    "other sitewatch command or the administrator's VACUUM FULL or LOCK TABLE finish, or have the database's "
    "administrator end that session (`SELECT pg_terminate_backend(PID)`)"
)
"""What to do about another session's lock that keeps a command waiting."""


DEAD_PEER_LIMITS = {"keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10", "keepalives_count": "3",
                    "tcp_user_timeout": "60000"}  # fmt: skip
"""libpq's TCP settings of a connection whose URL does not give its own: a connection cut without a word (a VPN or
Wi-Fi dropped, a server's machine gone, a firewall forgetting the flow) is found dead within about a minute, and the
command stops naming the server. Without them a statement sent and acknowledged waited for its answer for ever
(no data in flight, nothing to time out); the server's own kernel answers the probes, so a long statement or a
lock wait is not cut. (Unix sockets ignore them.)"""


def _dead_peer_limits(url: str) -> dict[str, str]:
    """:data:`DEAD_PEER_LIMITS` less those ``url`` sets itself."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        given = conninfo_to_dict(url)
    except _psycopg().ProgrammingError:  # (refused, saying why, by connect)
        return {}
    return {k: v for k, v in DEAD_PEER_LIMITS.items() if k not in given}


def _application_name() -> str:
    """The name the server shows for this session (``pg_stat_activity.application_name``, and so in a colleague's
    message naming who holds a lock): ``sitewatch`` and the command running (``sitewatch alerts check``). A URL's own
    ``application_name`` wins."""
    import click

    ctx = click.get_current_context(silent=True)
    return ctx.command_path[:63] if ctx is not None and ctx.command_path.startswith("sitewatch") else "sitewatch"


_PASSWORD_PLACES = (
    "give the password in ~/.pgpass (a line host:port:database:user:password, the file mode 600) or in PGPASSWORD, "
    "never in sitewatch.toml"
)


def _default_role() -> str:
    """The role libpq signs in as when the URL names none: PGUSER, else the login name."""
    import getpass

    try:
        return os.environ.get("PGUSER") or getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's)
        return "?"


def _the_url(origin: str) -> str:
    """The URL, as a hint names it: with where it came from when known."""
    return f"the URL ({origin})" if origin else "the URL"


def _connect_hint(exc: BaseException, origin: str = "") -> str:
    """What to do about a connection libpq refused, where its own words do not say (they do for a server
    that is not running or a host it cannot resolve): "" when there is nothing to add. ``origin``: where the
    URL came from (``--to``, ``SITEWATCH_STORE``, ``the store setting in FILE``), which a hint to check it names."""
    text = str(exc)
    if "no password supplied" in text:
        return f": {_PASSWORD_PLACES}"
    if "password authentication failed" in text:
        return f": check the password; {_PASSWORD_PLACES}"
    if missing := re.search(r'database "([^"]+)" does not exist', text):
        db = missing.group(1)
        return (
            f": check the database's name in {_the_url(origin)} (renamed or "
            f"dropped on the server? `psql -l` lists its databases), or make it there (`createdb {db}`, then "
            f"`psql -d {db} -c 'CREATE EXTENSION postgis'`, see README, A team store on PostGIS)"
        )
    if missing := re.search(r'role "([^"]+)" does not exist', text):
        return f": check the user in {_the_url(origin)}, or have the server's administrator make the role (`createuser {missing.group(1)}`)"
    if getattr(exc, "sqlstate", None) == "53300" or ("too many" in text and "connections" in text) or "too many clients" in text:
        return f": {_FULL}"
    return ""


_FULL = (
    "the server lets no more sessions in (its max_connections, or the role's or the database's CONNECTION LIMIT, is "
    "reached; `SELECT usename, application_name, state FROM pg_stat_activity` lists who holds them): a sitewatch "
    "command holds one connection (`serve` one for each request it is answering and up to 4 idle, a Dask run's workers none); close "
    "idle sessions or have the database's administrator raise the limit, then run the command again"
)
"""What to do when the server refuses another connection for want of room (SQLSTATE 53300)."""


_UNREACHABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})
"""SQLSTATEs of a server going away or not letting one in now: admin_shutdown (stopped or restarted, the session
ended), crash_shutdown, cannot_connect_now (starting up, shutting down) and too_many_connections; class 08
(connection exception) is matched by its prefix."""


def _unreachable(psycopg: Any, exc: BaseException) -> bool:
    """Whether psycopg's ``exc`` says the server cannot be reached at the moment (stopped, restarting, refusing
    or too busy for another connection, the connection lost midway): it passes, unlike a refusal that stays (a
    wrong password, database or role, which :func:`_connect_hint` names) or an error in what was asked (a query
    cancelled, a full disk)."""
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = getattr(exc, "sqlstate", None)
    if state == "53300" or _connect_hint(exc).endswith(_FULL):  # no room for another session now: it passes
        return True
    if _connect_hint(exc):
        return False
    # No SQLSTATE: libpq's own failure (no server on the socket, refused, timed out, the connection lost).
    return state is None or state.startswith("08") or state in _UNREACHABLE_STATES


def _gone(psycopg: Any, exc: BaseException) -> str:
    """What to do when the connection failed midway (the server stopped, restarted or unreachable): "" for
    other errors."""
    if not isinstance(exc, psycopg.OperationalError):
        return ""
    if getattr(exc, "sqlstate", None) == "57P01" or "administrator command" in str(exc):
        # (A fast shutdown or restart says the same: the session was ended by the server, not lost on the way.)
        return (
            "; the server ended this session (restarted or shut down, or its administrator ended the session: "
            "pg_terminate_backend, as before renaming or dropping the database); what was recorded before is kept: "
            "once the server is back, run the command again (a rerun does not duplicate)"
        )
    return (
        "; what was recorded before is kept: check that the server is up and reachable, then run the command "
        "again (a rerun does not duplicate)"
    )


def _reason(exc: BaseException) -> str:
    """psycopg's message, on one line, with any URL in it masked."""
    text = " ".join(str(exc).split())
    return re.sub(r"postgres(ql)?://\S+", lambda m: mask_url(m.group(0)), text)
