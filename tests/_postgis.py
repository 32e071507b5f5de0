"""Fixtures for the PostGIS store's tests: a server, and a fresh database with PostGIS for each test.

The server is ``SITEWATCH_TEST_POSTGRES``: a ``postgresql://`` URL of a user that may create databases
(`.ci/run` starts one and sets it), or ``auto``, a throwaway cluster made here with initdb and removed after.
Unset, the PostGIS tests are skipped, saying so.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from sitewatch.errors import STALL_LOGGER
from sitewatch.testing.postgres import TEST_ENV, start_cluster, stop_cluster

SKIP_REASON = (
    f"PostGIS tests: set {TEST_ENV}=postgresql://USER@HOST/DB (a user that may create databases, PostGIS "
    "installed on the server) or =auto (a throwaway cluster made with initdb; see README, Development)"
)


def with_database(url: str, dbname: str) -> str:
    """``url`` naming database ``dbname`` instead."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def admin(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Server:
    url: str
    """The server's maintenance database (to create and drop databases from)."""
    template: str
    """A database with PostGIS in it, which each test's database copies."""


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    """The server and a template database with PostGIS on it."""
    value = os.environ.get(TEST_ENV, "").strip()
    if not value:
        pytest.skip(SKIP_REASON)
    pytest.importorskip("psycopg", reason="the PostGIS tests need sitewatch[postgis] (psycopg)")
    folder: Path | None = None
    if value == "auto":
        # Not under pytest's own temporary folder: the postgres user could not reach into it (mode 0700).
        folder = Path(tempfile.mkdtemp(prefix="sitewatch-pg-"))
        value = start_cluster(folder)
    template = f"sitewatch_tmpl_{uuid.uuid4().hex[:8]}"
    try:
        admin(value, f"CREATE DATABASE {template}")
        admin(with_database(value, template), "CREATE EXTENSION postgis")
        yield Server(value, template)
    finally:
        try:
            admin(value, f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
        finally:
            if folder is not None:
                stop_cluster(folder)
                shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_empty_url(postgres_server: Server) -> Iterator[str]:
    """A new database with PostGIS (and nothing else) for one test; dropped after it."""
    name = f"sitewatch_test_{uuid.uuid4().hex[:10]}"
    admin(postgres_server.url, f"CREATE DATABASE {name} TEMPLATE {postgres_server.template}")
    try:
        yield with_database(postgres_server.url, name)
    finally:
        admin(postgres_server.url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_empty_url: str) -> str:
    """A new database with sitewatch's tables made in it, as `sitewatch init --store URL` makes them (the other
    commands refuse a database without them)."""
    from sitewatch.store.postgis import PostgisStore

    PostgisStore(pg_empty_url, create=True).close()
    return pg_empty_url


class Said(logging.Handler):
    """What the store says while it waits (STALL_LOGGER's warnings), with an event set at the first."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.event.set()


@pytest.fixture
def said() -> Iterator[Said]:
    """What the store says while it waits for a lock, gathered for the test to read."""
    handler = Said()
    logging.getLogger(STALL_LOGGER).addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger(STALL_LOGGER).removeHandler(handler)
