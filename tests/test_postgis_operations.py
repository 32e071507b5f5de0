"""The PostGIS team store under what a team's database goes through: another session's lock (a colleague's QGIS
editing a layer in an open transaction, a DBA's LOCK TABLE), limits the DBA sets on the role (statement_timeout,
idle_in_transaction_session_timeout), the session ended under a command.

Needs SITEWATCH_TEST_POSTGRES (see tests/_postgis.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from _postgis import Said, admin
from sitewatch.errors import StoreError
from sitewatch.store import mask_url
from sitewatch.store.alerts import deliver_pending, pending_count, record_events
from sitewatch.store.postgis import PostgisStore
from test_store import _det, _obs


def _raw(url: str, app: str = "QGIS") -> Any:
    """A plain psycopg connection (autocommit) to ``url``: another program's session, named as QGIS names its own."""
    import psycopg

    return psycopg.connect(url, autocommit=True, application_name=app)


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A notice after 0.3 s of waiting for a lock, an error after 1.5 s (5 s and 30 s in use)."""
    import sitewatch.store.postgis as postgis

    monkeypatch.setattr(postgis, "LOCK_NOTICE_S", 0.3)
    monkeypatch.setattr(postgis, "BUSY_TIMEOUT_S", 1.5)


def _in_thread(work: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(work())
        except Exception as exc:
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def _stored(url: str) -> Any:
    obs = _obs()
    with PostgisStore(url) as s:
        s.put_observation(obs)
        s.replace_detections(obs, [_det(obs, i) for i in range(3)])
    return obs


def _detections(url: str) -> int:
    with PostgisStore(url) as s:
        return len(s.detections())


@pytest.mark.usefixtures("short_waits")
def test_a_read_under_a_dbas_lock_table_says_who_holds_it_and_stops_in_bounded_time(pg_url: str, said: Said) -> None:
    # `timeline`, `report`, `serve` under a DBA's LOCK TABLE (or VACUUM FULL) waited in silence with no end: the
    # store's reads had no lock_timeout (only the migration had one).
    _stored(pg_url)
    with _raw(pg_url, "psql") as dba:
        dba.execute("BEGIN")
        dba.execute("LOCK TABLE detections IN ACCESS EXCLUSIVE MODE")
        pid = dba.info.backend_pid
        try:
            thread, result = _in_thread(lambda: _detections(pg_url))
            thread.join(20)
            alive = thread.is_alive()
        finally:
            dba.execute("ROLLBACK")
    assert not alive, "the read waited for the lock with no end"
    [err] = result
    assert isinstance(err, StoreError), err
    assert f"waiting to read the PostGIS store: session {pid} (role " in said.messages[0]
    assert "psql, idle in transaction since " in said.messages[0] and "LOCK TABLE detections" in said.messages[0]
    assert "holds a lock on table detections" in said.messages[0]
    assert str(err).startswith(f"{mask_url(pg_url)}: cannot read the PostGIS store: session {pid} ")
    assert "not released in 1.5 s" in str(err) and "pg_terminate_backend" in str(err) and "run this command again" in str(err)


@pytest.mark.usefixtures("short_waits")
def test_a_write_under_a_colleagues_uncommitted_edit_waits_says_who_and_goes_on_when_saved(pg_url: str, said: Said) -> None:
    # A colleague's QGIS editing the detections layer (a row changed, the transaction open until they save): a
    # `detect` rerun replacing that observation's detections waited in silence for as long as QGIS kept it.
    obs = _stored(pg_url)
    with _raw(pg_url) as qgis:
        qgis.execute("BEGIN")
        qgis.execute("UPDATE detections SET score = 0.5 WHERE detection_id = %s", (_det(obs, 1).id,))
        pid = qgis.info.backend_pid

        def rerun() -> int:
            with PostgisStore(pg_url) as s:
                s.replace_detections(obs, [_det(obs, i) for i in range(2)])
                return len(s.detections())

        thread, result = _in_thread(rerun)
        try:
            assert said.event.wait(20), "the write waited for the lock without saying so"
        finally:
            qgis.execute("COMMIT")  # the edits saved
    thread.join(20)
    assert result == [2]
    assert f"waiting to write to the PostGIS store: session {pid} (role " in said.messages[0]
    assert "QGIS, idle in transaction since" in said.messages[0]
    assert "holds rows of the store it changed and has not committed yet" in said.messages[0]


@pytest.mark.usefixtures("short_waits")
def test_a_write_under_a_lock_not_released_stops_naming_it_and_leaves_nothing_half_written(pg_url: str, said: Said) -> None:
    obs = _stored(pg_url)
    with _raw(pg_url) as qgis:
        qgis.execute("BEGIN")
        qgis.execute("UPDATE detections SET score = 0.5 WHERE detection_id = %s", (_det(obs, 2).id,))
        pid = qgis.info.backend_pid

        def rerun() -> None:
            with PostgisStore(pg_url) as s:
                s.replace_detections(obs, [_det(obs, i) for i in range(5)])

        thread, result = _in_thread(rerun)
        thread.join(20)
        alive = thread.is_alive()
        qgis.execute("ROLLBACK")
    assert not alive, "the write waited for the lock with no end"
    [err] = result
    assert isinstance(err, StoreError)
    assert f"cannot write to the PostGIS store: session {pid} (role " in str(err)
    assert "holds rows of the store it changed" in str(err) and "not released in 1.5 s" in str(err)
    assert _detections(pg_url) == 3  # the run before, whole; nothing of the stopped one


def test_a_sessions_lock_timeout_is_bounded_and_a_shorter_one_of_the_role_kept(pg_url: str) -> None:
    import psycopg

    with PostgisStore(pg_url) as s:
        assert s.execute("SHOW lock_timeout") == [("30s",)]
        assert s.execute("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")[0][0] == "sitewatch"
    user = psycopg.connect(pg_url).info.user
    admin(pg_url, f"ALTER ROLE {user} SET lock_timeout = '2s'")
    try:
        with PostgisStore(pg_url) as s:
            assert s.execute("SHOW lock_timeout") == [("2s",)]
    finally:
        admin(pg_url, f"ALTER ROLE {user} RESET lock_timeout")


def _dba_sets(url: str, setting: str) -> None:
    """What a DBA sets for the database (``ALTER DATABASE … SET``), as for a role: every new session has it."""
    admin(url, f"ALTER DATABASE {urlsplit(url).path.lstrip('/')} SET {setting}")


def test_a_statement_timeout_set_by_the_dba_is_named_with_what_to_do(pg_url: str) -> None:
    # The DBA's statement_timeout stopping a statement was said as a server gone away ("check that the server is
    # up and reachable").
    _dba_sets(pg_url, "statement_timeout = '300ms'")
    with PostgisStore(pg_url) as s:
        with pytest.raises(StoreError) as err:
            s.execute("SELECT pg_sleep(1)")
        assert "the server stopped a statement that ran longer than the statement_timeout" in str(err.value)
        assert "(300ms;" in str(err.value) and "ALTER ROLE" in str(err.value) and "server is up" not in str(err.value)
        with pytest.raises(StoreError) as err, s.transaction() as db:
            db.execute("INSERT INTO sitewatch_meta VALUES ('x', 'y')")
            db.execute("SELECT pg_sleep(1)")
        assert "statement_timeout" in str(err.value) and "server is up" not in str(err.value)
        assert s.meta("x") is None


def test_a_session_ended_for_idling_in_a_transaction_is_named_with_what_to_do(pg_url: str) -> None:
    # The DBA's idle_in_transaction_session_timeout ending the session: said as "check that the server is up".
    _dba_sets(pg_url, "idle_in_transaction_session_timeout = '300ms'")
    with PostgisStore(pg_url) as s:
        with pytest.raises(StoreError) as err, s.transaction() as db:
            db.execute("INSERT INTO sitewatch_meta VALUES ('x', 'y')")
            time.sleep(1.5)
            db.execute("INSERT INTO sitewatch_meta VALUES ('z', 'y')")
    message = str(err.value)
    assert "idle in a transaction longer than the idle_in_transaction_session_timeout" in message, message
    assert "nothing of that transaction was kept" in message and "server is up" not in message
    with PostgisStore(pg_url) as s:
        assert s.meta("x") is None


_EVENT = {"event_id": "e1", "rule": "r", "kind": "arrival", "site": "dunai", "date": "2024-10-17",
          "acquired": "2024-10-17T09:30:00Z", "what": "x", "observations": [], "simulated": True}  # fmt: skip


def test_a_slow_webhook_under_the_dbas_idle_in_transaction_timeout_is_posted_once_and_marked(pg_url: str) -> None:
    # The delivery's turn was a transaction open while the webhook answered: a DBA's
    # idle_in_transaction_session_timeout shorter than the answer ended the session after the event was posted and
    # before it was marked delivered: an error, and the next run posted it again.
    _dba_sets(pg_url, "idle_in_transaction_session_timeout = '300ms'")
    posted: list[str] = []

    def post(event: Any) -> None:
        time.sleep(1.0)  # a receiver slower than the DBA's limit
        posted.append(event["event_id"])

    with PostgisStore(pg_url) as s:
        record_events(s, [_EVENT], webhook=True)
        assert deliver_pending(s, post) == (["e1"], {})
    with PostgisStore(pg_url) as s:
        assert pending_count(s) == 0
        assert deliver_pending(s, post) == ([], {})
    assert posted == ["e1"]


@pytest.mark.usefixtures("short_waits")
def test_two_alerts_runs_overlapping_the_second_waits_for_the_first_s_turn_naming_it(pg_url: str, said: Said) -> None:
    from sitewatch.store.alerts import _DELIVERY

    with PostgisStore(pg_url) as first, PostgisStore(pg_url) as second, first.turn(_DELIVERY):
        pid = first.execute("SELECT pg_backend_pid()")[0][0]
        started = time.monotonic()
        with pytest.raises(StoreError) as err, second.turn(_DELIVERY):
            pass
        assert time.monotonic() - started < 10
    assert f"waiting to take a turn on the PostGIS store: session {pid} (role " in said.messages[0]
    assert "sitewatch, idle), its last statement" in said.messages[0]
    assert "holds sitewatch's turn on what this command records (another sitewatch command" in said.messages[0]
    assert "cannot take a turn on the PostGIS store: session" in str(err.value) and "not released in 1.5 s" in str(err.value)


def test_a_session_ended_by_the_administrator_says_so_not_that_the_server_may_be_down(pg_url: str) -> None:
    # pg_terminate_backend (a DBA ending sessions before renaming the database) and a fast restart: "check that the
    # server is up and reachable", when it was up all along.
    with PostgisStore(pg_url) as s:
        pid = s.execute("SELECT pg_backend_pid()")[0][0]
        admin(pg_url, f"SELECT pg_terminate_backend({pid})")
        with pytest.raises(StoreError) as err:
            s.execute("SELECT 1 FROM sites")
    assert "the server ended this session (restarted or shut down, or its administrator ended the session" in str(err.value)
    assert "run the command again" in str(err.value)


def test_a_role_out_of_connections_is_told_the_limit_and_how_many_sitewatch_holds(pg_url: str) -> None:
    # max_connections or a CONNECTION LIMIT reached: psycopg's "too many connections for role" and nothing to do.
    import uuid

    import psycopg

    from sitewatch.errors import StoreUnavailableError

    role = f"sw_small_{uuid.uuid4().hex[:8]}"
    try:
        admin(pg_url, f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1", f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    except psycopg.errors.InsufficientPrivilege:
        pytest.skip("the test server's user may not create roles")
    parts = urlsplit(pg_url)
    url = urlunsplit((parts.scheme, f"{role}@{parts.netloc.rsplit('@', 1)[-1]}", parts.path, parts.query, parts.fragment))
    try:
        with _raw(url, "psql"), pytest.raises(StoreUnavailableError) as err:
            PostgisStore(url, read_only=True)
        message = str(err.value)
        assert f'too many connections for role "{role}"' in message
        assert "max_connections, or the role's or the database's CONNECTION LIMIT, is reached" in message
        assert "a sitewatch command holds one connection (`serve` one for each request it is answering" in message
    finally:
        admin(pg_url, f"DROP OWNED BY {role}", f"DROP ROLE {role}")


def test_the_dashboard_names_a_renamed_database_and_answers_again_once_it_is_back(
    pg_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from _postgis import with_database
    from sitewatch.web.app import create_app
    from sitewatch.workspace import init_workspace

    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    ws = init_workspace(tmp_path / "ws", store=pg_url)
    client = TestClient(create_app(ws.root))
    assert client.get("/api/sites").status_code == 200
    name = urlsplit(pg_url).path.lstrip("/")
    server = with_database(pg_url, "postgres")
    admin(server, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
          f"ALTER DATABASE {name} RENAME TO {name}_x")  # fmt: skip
    try:
        answer = client.get("/api/sites")
        assert answer.status_code == 503
        assert f'database "{name}" does not exist' in answer.json()["detail"]
        assert "renamed or dropped on the server? `psql -l` lists its databases" in answer.json()["detail"]
    finally:
        admin(server, f"ALTER DATABASE {name}_x RENAME TO {name}")
    assert client.get("/api/sites").status_code == 200  # no restart of the dashboard needed


@pytest.mark.usefixtures("short_waits")
def test_a_command_under_a_lock_not_released_ends_in_one_line_with_exit_code_1(
    pg_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, said: Said
) -> None:
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.workspace import init_workspace

    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    ws = init_workspace(tmp_path / "ws", store=pg_url)
    with _raw(pg_url, "psql") as dba:
        dba.execute("BEGIN")
        dba.execute("LOCK TABLE observations IN ACCESS EXCLUSIVE MODE")
        pid = dba.info.backend_pid
        try:
            started = time.monotonic()
            result = CliRunner().invoke(main, ["-q", "observations", "-w", str(ws.root)])
            took = time.monotonic() - started
        finally:
            dba.execute("ROLLBACK")
    assert result.exit_code == 1 and took < 10, (result.exit_code, took, result.output)
    assert f"waiting to read the PostGIS store: session {pid} (role " in said.messages[0]
    assert f"Error: {mask_url(pg_url)}: cannot read the PostGIS store: session {pid} (role " in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_a_connection_cut_without_a_word_is_found_dead_not_waited_on_for_ever(pg_url: str) -> None:
    # A VPN dropped mid-command: a statement sent and acknowledged waited for its answer with no end (libpq's default:
    # no TCP keepalives). The store's connections now probe a silent peer; a URL's own settings are kept.
    with PostgisStore(pg_url) as s:
        given = s._pg.info.get_parameters()
    assert {k: given.get(k) for k in ("keepalives", "keepalives_idle", "keepalives_count", "tcp_user_timeout")} == {
        "keepalives": "1", "keepalives_idle": "30", "keepalives_count": "3", "tcp_user_timeout": "60000"}
    with PostgisStore(pg_url + "&keepalives_idle=7" if "?" in pg_url else pg_url + "?keepalives_idle=7") as s:
        assert s._pg.info.get_parameters()["keepalives_idle"] == "7"
