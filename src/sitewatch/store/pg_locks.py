"""Another session's lock on the PostGIS team store: waited for a bounded time, and named.

PostgreSQL has a statement wait for a lock for as long as its holder keeps it: a colleague's QGIS editing the
detections layer (its transaction open until the edits are saved), a psql session left "idle in transaction", a
DBA's ``VACUUM FULL`` or ``LOCK TABLE``. A sitewatch command then stood still, saying nothing, without end.

Each session of the store has a ``lock_timeout`` (:data:`~sitewatch.store.sqlite.BUSY_TIMEOUT_S`: PostgreSQL's
error 55P03 then) and a :class:`LockWatch`: a thread that, once a statement has run
:data:`~sitewatch.store.sqlite.LOCK_NOTICE_S`, looks whether it waits for a lock and, when it does, who holds it,
on a short second connection (the first is busy waiting). The warning names them, and so does the error when they
keep it. A statement that is merely slow is not said to wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["LockWatch", "describe_holders"]

QUERY_SHOWN = 80
"""How much of a holder's last statement a message quotes."""

_WAITED = """SELECT l.locktype, l.mode, c.relname FROM pg_catalog.pg_locks l
    LEFT JOIN pg_catalog.pg_class c ON c.oid = l.relation WHERE l.pid = %s AND NOT l.granted"""

_HOLDERS = """SELECT a.pid, a.usename, coalesce(a.application_name, ''), a.state,
    to_char(a.xact_start AT TIME ZONE 'UTC', 'HH24:MI:SS'), a.query, a.backend_type
    FROM pg_catalog.pg_stat_activity a WHERE a.pid = ANY (pg_catalog.pg_blocking_pids(%s)) ORDER BY a.pid"""


def _what(locktype: str, mode: str, table: str | None) -> str:
    """The lock a session waits for, as what its holder holds."""
    if locktype == "relation" and table:
        return f"a lock on table {table} (this command waits for {mode})"
    if locktype in ("transactionid", "tuple"):
        return "rows of the store it changed and has not committed yet"
    if locktype == "advisory":
        return "sitewatch's turn on what this command records (another sitewatch command recording it)"
    return f"a {locktype} lock (this command waits for {mode})"


def _holder(pid: int, user: str | None, app: str, state: str | None, since: str | None, query: str | None,
            kind: str | None) -> str:  # fmt: skip
    """One session holding the lock: who (pid, role, program), what it does and since when, its last statement."""
    about = [x for x in (f"role {user}" if user else "", app) if x]
    if state:
        about.append(f"{state} since {since} UTC" if since and state.startswith("idle in transaction") else state)
    elif kind and kind != "client backend":
        about.append(kind)
    text = f"session {pid}" + (f" ({', '.join(about)})" if about else "")
    if query and not query.startswith("<insufficient"):
        short = " ".join(query.split())
        text += f", its last statement `{short[:QUERY_SHOWN]}{'…' if len(short) > QUERY_SHOWN else ''}`"
    return text


def describe_holders(conn: Any, pid: int) -> str | None:
    """Who holds the lock session ``pid`` waits for, and what lock, looked up on ``conn`` (another session), as a
    phrase (``session 4242 (role ben, QGIS, idle in transaction since 02:51:03 UTC) holds a lock on table
    detections …``): None when it waits for no lock (a statement that is merely slow)."""
    waited = conn.execute(_WAITED, (pid,)).fetchall()
    if not waited:
        return None
    holders = [_holder(*row) for row in conn.execute(_HOLDERS, (pid,)).fetchall()]
    what = _what(*waited[0])
    if not holders:  # (released between the two looks)
        return f"another session holds {what}"
    return f"{'; '.join(holders)} {'holds' if len(holders) == 1 else 'hold'} {what}"


class LockWatch:
    """Watches one connection's statements (:meth:`begin`, :meth:`end`): one that has run ``notice_s`` is looked at
    by ``look()`` (who holds the lock it waits for, or None), and ``say(text, to)`` is called once with what it found.
    :attr:`holders` keeps it for the error when the lock is not released. A daemon thread, started at the first
    statement and polling a few times a second: a statement costs two assignments, not a thread or a lock."""

    def __init__(self, notice_s: float, look: Callable[[], str | None], say: Callable[[str, str], None]) -> None:
        self._notice_s = notice_s
        self._look = look
        self._say = say
        self._running: tuple[int, float, str] | None = None
        """(serial, when it began, what it does) of the statement running; None between statements."""
        self._serial = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.holders = ""
        """Who held the lock the running (or last) statement waited for, as the notice said; "" when none was said."""

    def begin(self, to: str) -> None:
        """A statement that may wait for a lock begins; ``to``: "read" or "write to" (for the message)."""
        self._serial += 1
        self.holders = ""
        self._running = (self._serial, time.monotonic(), to)
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="sitewatch-lock-watch", daemon=True)
            self._thread.start()

    def end(self) -> None:
        """The statement ended (done or failed)."""
        self._running = None

    def close(self) -> None:
        """Stop watching (the connection is closed)."""
        self._stop.set()

    def _watch(self) -> None:
        said = 0
        poll = min(1.0, max(0.02, self._notice_s / 5))
        while not self._stop.wait(poll):
            running = self._running
            if running is None or running[0] == said or time.monotonic() - running[1] < self._notice_s:
                continue
            said = running[0]
            try:
                found = self._look()
            except Exception as exc:  # the look-up's own connection refused (max_connections reached): said so
                found = f"a lock another session holds (who could not be looked up: {' '.join(str(exc).split())})"
            current = self._running
            if found and current is not None and current[0] == said:
                self.holders = found
                self._say(found, current[2])
