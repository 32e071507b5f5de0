"""The dashboard while its store is down: a PostGIS server stopped, restarted or lost mid-request answers 503 with
Retry-After (it passes) naming the store without its password, and 200 again once it is back, without restarting
the app; the session kept between requests is replaced when the server ended it, and follows the store setting; a GeoPackage deleted or replaced by a folder since the start is named as such. Other database errors
(a bug) stay 500.

The PostGIS tests make a cluster of their own (stopped and started again here, which the session's shared one
must not be): they run when SITEWATCH_TEST_POSTGRES is set and PostgreSQL's programs are installed.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.testing.postgres import (
    TEST_ENV,
    find_pg_bin,
    restart_cluster,
    start_cluster,
    stop_cluster,
)
from sitewatch.web import create_app

pytest.importorskip("fastapi", reason="the web extra: pip install 'sitewatch[web]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from sitewatch.web.app import RETRY_AFTER_S  # noqa: E402 (the web extra is there: checked above)

PAGES = ("/", "/sites/harbour", "/links")
API = ("/api/sites", "/api/sites/harbour", "/api/sites/harbour/timeline", "/api/links")
FILES = ("/sites/harbour/timeline.png",)


def _add_site(root: Path) -> None:
    res = CliRunner().invoke(main, ["sites", "add", "harbour", "--bbox", "131.10,42.70,131.14,42.73", "--kind", "port", "-w", str(root)])
    assert res.exit_code == 0, res.output


def _client(root: Path) -> TestClient:
    return TestClient(create_app(root), raise_server_exceptions=False)


def _all_answer(client: TestClient, status: int) -> dict[str, Any]:
    """Every page, API route and file answered ``status``; the answers by address."""
    answers = {url: client.get(url) for url in (*PAGES, *API, *FILES)}
    assert {url: r.status_code for url, r in answers.items()} == dict.fromkeys(answers, status)
    return answers


# -- PostGIS --------------------------------------------------------------------------------------


@pytest.fixture
def cluster() -> Iterator[tuple[Path, str]]:
    """A cluster of this test's own (its folder, and the URL of a database with PostGIS in it, a password given)."""
    import os

    if not os.environ.get(TEST_ENV, "").strip():
        pytest.skip(f"PostGIS tests: set {TEST_ENV} (see tests/_postgis.py)")
    pytest.importorskip("psycopg", reason="the PostGIS tests need sitewatch[postgis] (psycopg)")
    if find_pg_bin() is None:
        pytest.skip("no initdb/pg_ctl: this test stops and starts a cluster of its own")
    import psycopg

    folder = Path(tempfile.mkdtemp(prefix="sitewatch-pg-down-"))  # not under pytest's folder: postgres could not reach it
    try:
        url = start_cluster(folder)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE served")
        db = url.replace("/postgres?", "/served?")
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        # The socket's role is trusted: the password is not checked, only carried (and must never be shown).
        yield folder, db + "&password=s3cret-pw"
    finally:
        stop_cluster(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_root(cluster: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    root = tmp_path / "ws"
    res = CliRunner().invoke(main, ["init", str(root), "--store", cluster[1]])
    assert res.exit_code == 0, res.output
    _add_site(root)
    return root


def _terminate_sessions(cluster: tuple[Path, str]) -> None:
    """End every session of the served database, as a restart of the server does (FATAL admin_shutdown)."""
    import psycopg

    admin = cluster[1].replace("/served?", "/postgres?")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'served' AND pid <> pg_backend_pid()")


def _says_unreachable(r: Any) -> str:
    text = r.json()["detail"] if r.headers["content-type"] == "application/json" else r.text
    assert r.headers["retry-after"] == str(RETRY_AFTER_S)
    assert re.search(r"the workspace(&#39;|')s store postgresql://\w+@/served\?host=", text)  # the store, named
    assert "s3cret-pw" not in text  # its password never shown
    assert "cannot be reached" in text and "no restart needed" in text and "run the command again" not in text
    return text


@pytest.mark.slow
def test_a_postgis_server_stopped_while_serving_is_503_with_retry_after_then_200_when_back(
    cluster: tuple[Path, str], pg_root: Path
) -> None:
    folder, _ = cluster
    client = _client(pg_root)
    _all_answer(client, 200)
    stop_cluster(folder)  # immediate: as a crash or a power cut would
    answers = _all_answer(client, 503)
    for url, r in answers.items():
        text = _says_unreachable(r)
        assert "Is the server running" in text, url  # libpq's own words, kept
        expected = "text/html" if url in PAGES else "application/json"
        assert r.headers["content-type"].startswith(expected), url
    restart_cluster(folder)
    _all_answer(client, 200)  # the same app: each request connects anew


@pytest.mark.slow
def test_a_postgis_server_with_no_connection_left_is_503_with_retry_after(
    cluster: tuple[Path, str], pg_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Too many clients (here those of the dashboard's role: its connection limit reached) passes as others leave."""
    import psycopg

    with psycopg.connect(cluster[1], autocommit=True) as conn:
        conn.execute("CREATE ROLE viewer LOGIN")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO viewer")
    monkeypatch.setenv("SITEWATCH_STORE", cluster[1].replace("postgresql://postgres@", "postgresql://viewer@"))
    client = _client(pg_root)
    assert client.get("/api/sites").status_code == 200
    with psycopg.connect(cluster[1], autocommit=True) as conn:
        conn.execute("ALTER ROLE viewer CONNECTION LIMIT 0")
        # (The dashboard's session kept open between requests still answers: ended, it must connect anew.)
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'viewer'")
    for url in ("/api/sites", "/sites/harbour"):
        r = client.get(url)
        assert r.status_code == 503, (url, r.text)
        text = _says_unreachable(r)
        assert "too many connections for role" in text and "password=***" in text  # (the setting's URL carries it)
    with psycopg.connect(cluster[1], autocommit=True) as conn:
        conn.execute("ALTER ROLE viewer CONNECTION LIMIT -1")
    assert client.get("/api/sites").status_code == 200


@pytest.mark.slow
def test_a_session_ended_mid_request_or_mid_opening_is_503_not_500(
    cluster: tuple[Path, str], pg_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server restarted in the middle of a request ends its session (admin_shutdown): between two queries that
    was a 503 telling to "run the command again"; between the connection and the store's first reads (its PostGIS
    check), a 500 "internal error (AdminShutdown …)"."""
    from sitewatch.store.postgis import PostgisStore
    from sitewatch.web import data

    client = _client(pg_root)
    find_site = data.find_site

    def restarted_meanwhile(store: Any, site_id: str) -> Any:
        _terminate_sessions(cluster)
        return find_site(store, site_id)

    monkeypatch.setattr(data, "find_site", restarted_meanwhile)
    for url in ("/sites/harbour", "/api/sites/harbour", "/api/sites/harbour/timeline"):
        r = client.get(url)
        assert r.status_code == 503, (url, r.text)
        assert "terminating connection due to administrator command" in _says_unreachable(r)
    monkeypatch.setattr(data, "find_site", find_site)

    check = PostgisStore._check_postgis

    def restarted_at_open(store: PostgisStore) -> None:
        _terminate_sessions(cluster)
        check(store)

    monkeypatch.setattr(PostgisStore, "_check_postgis", restarted_at_open)
    r = client.get("/api/sites")
    assert r.status_code == 503, r.text
    assert "administrator command" in _says_unreachable(r)
    monkeypatch.setattr(PostgisStore, "_check_postgis", check)
    assert client.get("/api/sites").status_code == 200


def _count_openings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs of the PostGIS stores opened from now on (each a new server session)."""
    from sitewatch.store.postgis import PostgisStore

    opened: list[str] = []
    init = PostgisStore.__init__

    def counted(self: PostgisStore, url: str, **kwargs: Any) -> None:
        init(self, url, **kwargs)
        opened.append(url)

    monkeypatch.setattr(PostgisStore, "__init__", counted)
    return opened


def _sessions(cluster: tuple[Path, str], database: str = "served") -> int:
    import psycopg

    with psycopg.connect(cluster[1].replace("/served?", "/postgres?"), autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                            (database,)).fetchone()[0]  # fmt: skip


@pytest.mark.slow
def test_the_dashboard_reads_a_postgis_store_through_one_session_and_replaces_one_the_server_ended(
    cluster: tuple[Path, str], pg_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each request opened the store anew (a connection, a dozen statements, PostGIS loaded again in the new
    session): now one session serves request after request, and one the server ended (a restart, an
    administrator's pg_terminate_backend) is replaced at the next request, which answers 200, not 503."""
    client = _client(pg_root)  # (its check of the store at the start opens the session the requests use)
    opened = _count_openings(monkeypatch)
    _all_answer(client, 200)
    assert opened == [] and _sessions(cluster) == 1
    _terminate_sessions(cluster)
    assert _sessions(cluster) == 0
    _all_answer(client, 200)  # not one 503: the ended session is found at the first request and replaced
    assert len(opened) == 1 and _sessions(cluster) == 1
    folder, _ = cluster
    stop_cluster(folder)
    restart_cluster(folder)  # back before the next request: nothing to tell the user
    _all_answer(client, 200)
    assert len(opened) == 2 and _sessions(cluster) == 1


@pytest.mark.slow
def test_the_dashboard_reads_the_store_a_changed_setting_names_at_the_next_request(
    cluster: tuple[Path, str], pg_root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The session kept between requests is the store the setting names at each request: changed (SITEWATCH_STORE
    here, sitewatch.toml alike), the next request reads the other database, and the old one's session is closed."""
    import psycopg

    other = cluster[1].replace("/served?", "/other?")
    with psycopg.connect(cluster[1].replace("/served?", "/postgres?"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE other")
    with psycopg.connect(other, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
    second = tmp_path / "second"
    assert CliRunner().invoke(main, ["init", str(second), "--store", other]).exit_code == 0
    res = CliRunner().invoke(main, ["sites", "add", "dock", "--bbox", "131.20,42.70,131.24,42.73", "-w", str(second)])
    assert res.exit_code == 0, res.output
    client = _client(pg_root)
    assert [s["id"] for s in client.get("/api/sites").json()["sites"]] == ["harbour"]
    monkeypatch.setenv("SITEWATCH_STORE", other)
    assert [s["id"] for s in client.get("/api/sites").json()["sites"]] == ["dock"]
    assert (_sessions(cluster, "served"), _sessions(cluster, "other")) == (0, 1)
    monkeypatch.delenv("SITEWATCH_STORE")
    assert [s["id"] for s in client.get("/api/sites").json()["sites"]] == ["harbour"]
    assert (_sessions(cluster, "served"), _sessions(cluster, "other")) == (1, 0)


@pytest.mark.slow
def test_a_request_that_lost_its_session_does_not_give_it_to_the_next(
    cluster: tuple[Path, str], pg_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session ended in the middle of a request (503 for that one) is not kept: the next request connects anew."""
    from sitewatch.web import data

    client = _client(pg_root)
    opened = _count_openings(monkeypatch)
    find_site = data.find_site

    def restarted_meanwhile(store: Any, site_id: str) -> Any:
        _terminate_sessions(cluster)
        return find_site(store, site_id)

    monkeypatch.setattr(data, "find_site", restarted_meanwhile)
    assert client.get("/api/sites/harbour").status_code == 503
    monkeypatch.setattr(data, "find_site", find_site)
    assert client.get("/api/sites/harbour").status_code == 200
    assert len(opened) == 1 and client.app.state.dashboard.pool.idle() == 1  # type: ignore[attr-defined]


@pytest.mark.slow
def test_another_database_error_on_postgis_stays_a_500(pg_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A query the server refuses (a bug: a column that does not exist) is no outage: 500, no Retry-After."""
    from sitewatch.web import data

    monkeypatch.setattr(data, "site_summaries", lambda store: store.execute("SELECT no_such_column FROM sites"))
    r = _client(pg_root).get("/api/sites")
    assert r.status_code == 500 and "retry-after" not in r.headers
    assert "UndefinedColumn" in r.json()["detail"]


def test_which_postgresql_errors_pass() -> None:
    """Unreachable (503 with Retry-After): libpq's own failures, the server shutting down or starting, too many
    clients. Not (a refusal that stays, or what was asked): a wrong password or database, a cancelled query, a full disk."""
    psycopg = pytest.importorskip("psycopg", reason="sitewatch[postgis]")
    from sitewatch.store.postgis import _unreachable

    errors = psycopg.errors
    passing = [
        psycopg.OperationalError('connection to server on socket "/tmp/x/.s.PGSQL.5432" failed: No such file or directory'),
        psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"),
        errors.AdminShutdown("terminating connection due to administrator command"),
        errors.CannotConnectNow("the database system is starting up"),
        errors.TooManyConnections("sorry, too many clients already"),
        errors.ConnectionFailure("connection failure"),
    ]
    staying = [
        psycopg.OperationalError('connection failed: FATAL: password authentication failed for user "ana"'),
        psycopg.OperationalError('connection failed: FATAL: database "nope" does not exist'),
        errors.QueryCanceled("canceling statement due to statement timeout"),
        errors.DiskFull("could not extend file"),
        errors.UndefinedColumn("column does not exist"),
    ]
    assert [_unreachable(psycopg, e) for e in passing] == [True] * len(passing)
    assert [_unreachable(psycopg, e) for e in staying] == [False] * len(staying)


# -- GeoPackage -----------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    root = tmp_path / "ws"
    assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
    _add_site(root)
    return root


def test_a_geopackage_deleted_while_serving_is_named_gone_and_read_again_when_put_back(root: Path) -> None:
    """It answered 503 "cannot open the workspace database (unable to open database file)", SQLite's words,
    which say neither that the file went away nor what to do."""
    client = _client(root)
    _all_answer(client, 200)
    db = root / "sitewatch.gpkg"
    kept = db.read_bytes()
    db.unlink()
    for url, r in _all_answer(client, 503).items():
        text = r.json()["detail"] if url not in PAGES else r.text
        assert f"the workspace database {db} is gone (deleted or moved since the dashboard started)" in text, url
        assert "put it back" in text and "without a restart" in text, url
        assert "retry-after" not in r.headers, url  # it does not come back by itself
    db.mkdir()
    r = client.get("/api/sites")
    assert r.status_code == 503 and "is no longer a file" in r.json()["detail"]
    db.rmdir()
    db.write_bytes(kept)
    _all_answer(client, 200)


def test_a_geopackage_locked_says_when_to_try_again(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    def locked(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr("sitewatch.web.data.site_summaries", locked)
    r = _client(root).get("/")
    assert r.status_code == 503 and r.headers["retry-after"] == str(RETRY_AFTER_S)
