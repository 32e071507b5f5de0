"""The dashboard's PostGIS stores, kept open between requests.

Opening a PostGIS store is a connection, a dozen catalogue and setting statements, and PostGIS loaded again into the
new server session at its first geometry (25-45 ms of server time): each request of the dashboard paid it, most of
a site page's server time. :class:`StorePool` keeps the read-only stores its requests are done with and hands one to
the next request, after asking the server whether its session still answers (:meth:`PostgisStore.still_usable`):
a session the server ended (a restart, ``pg_terminate_backend``, ``idle_session_timeout``) or a connection lost is
closed and the store opened anew, so the request is answered, not told of an outage that is over. Each store is
kept under the URL it was opened with: when the workspace's ``store`` setting names another database, the next
request opens that one and the stores of the old one are closed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import cast

from ..store import Store
from ..store.postgis import PostgisStore

__all__ = ["StorePool", "MAX_IDLE_STORES"]

MAX_IDLE_STORES = 4
"""Stores (server sessions) kept open between requests at most: those of a burst of concurrent requests above this
are closed as they finish."""


class StorePool:
    """Read-only PostGIS stores the dashboard's requests take and give back (thread-safe: one request a store)."""

    def __init__(self, max_idle: int = MAX_IDLE_STORES) -> None:
        self.max_idle = max_idle
        self._idle: list[PostgisStore] = []
        self._lock = threading.Lock()

    @contextmanager
    def store(self, url: str, open_store: Callable[[], Store]) -> Iterator[Store]:
        """A store of ``url`` for one request: an idle one whose session still answers, else ``open_store()``'s
        (whose errors are the caller's); given back after the request unless its session broke meanwhile."""
        store = self._take(url) or open_store()
        try:
            yield store
        finally:
            self.give_back(store)

    def _take(self, url: str) -> PostgisStore | None:
        """The most recently used idle store of ``url`` that still answers; the idle stores of other URLs (the
        setting changed) and those whose session ended are closed."""
        with self._lock:
            others = [s for s in self._idle if s.url != url]
            mine = [s for s in self._idle if s.url == url]
            self._idle = []
        for s in others:
            s.close()
        found = None
        while mine:
            s = mine.pop()
            if s.still_usable():
                found = s
                break
            s.close()
        with self._lock:  # the others of url, back (a concurrent request may have given some back meanwhile)
            self._idle[:0] = mine
        return found

    def give_back(self, store: Store) -> None:
        """``store`` kept for another request, or closed: its session broken (a request that failed with the
        server), :attr:`max_idle` kept already, or not a PostGIS store."""
        usable = getattr(store, "still_usable", None)  # (a PostgisStore's; a GeoPackage's is opened for each request)
        if usable is not None and usable(ask_server=False):  # (asked when taken: a session may end while it waits)
            with self._lock:
                if len(self._idle) < self.max_idle:
                    self._idle.append(cast(PostgisStore, store))  # (one, or a stand-in with its still_usable)
                    return
        store.close()

    def idle(self) -> int:
        """How many stores are kept open, waiting for a request."""
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        """Close every idle store (the server stopping)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for s in idle:
            s.close()
