"""Every output of a study is the same whatever the time zone of the PostGIS server or of the process.

The study (:mod:`_zone_study`: import, ingest, detect, timeline, links, AIS, change, claims, eval, alerts, export as
GeoJSON, KML and CSV, the report, the dashboard's API and pages) runs on the GeoPackage in a process under
``TZ=UTC``; that is the reference. Against it: the same study on the GeoPackage in a process under
``TZ=Pacific/Honolulu`` (-10), and on a PostGIS database whose ``timezone`` is ``America/St_Johns`` (-03:30). The
study's images are taken at 00:40 to 02:00 and 09:10 to 09:30 UTC: at -10 every one of them falls on the day before
its UTC date, at -03:30 the optical ones, so a date or a time taken in the wrong zone shows as a difference. (Each
zone was run both ways, and ``Pacific/Kiritimati``, +14, too: eight studies, a tenth of the tests' time; each way in one
zone catches a date or time taken in the process's or the server's zone. A PostGIS store in UTC is every other
PostGIS test's.) Last, the
reference's store copied into PostGIS (in another zone) and back comes back the same, row for row; an alert
event's time is stored in UTC on either store, read back from a server at +14; and a session holding a lock is
said to hold it since a UTC time.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from _postgis import Said, admin
from _zone_study import simulate_study, study
from sitewatch.cli import main
from sitewatch.store import Store
from sitewatch.store.alerts import record_events, stored_events
from test_postgis_operations import (
    _detections,
    _in_thread,
    _raw,
    _stored,
    short_waits,  # noqa: F401  (a fixture: lock waits of seconds, not minutes)
)

slow = pytest.mark.slow

PROCESS_ZONE = "Pacific/Honolulu"
"""-10:00: every image on the day before its UTC date."""
SERVER_ZONE = "America/St_Johns"
"""-03:30: a half hour, the optical images on the day before and the radar ones not."""

STUDY = Path(__file__).with_name("_zone_study.py")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("fastapi", reason="the study reads the dashboard too: pip install 'sitewatch[web]'")
    return simulate_study(tmp_path_factory.mktemp("zones-sim"))


def _study_in_zone(simulated: Path, ws: Path, zone: str) -> dict[str, Any]:
    """The study on a GeoPackage, run by a process of its own under ``TZ=zone``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITEWATCH_")} | {"TZ": zone}
    done = subprocess.run([sys.executable, str(STUDY), str(simulated), str(ws)], env=env, capture_output=True,
                          encoding="utf-8", timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got: dict[str, Any] = json.loads(done.stdout)
    return got


@pytest.fixture(scope="module")
def reference_run(simulated: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """The study on the GeoPackage under ``TZ=UTC``, and its workspace."""
    ws = tmp_path_factory.mktemp("zones-utc") / "ws"
    return _study_in_zone(simulated, ws, "UTC"), ws


@pytest.fixture(scope="module")
def reference(reference_run: tuple[dict[str, Any], Path]) -> dict[str, Any]:
    """What the study gives on the GeoPackage under ``TZ=UTC``."""
    return reference_run[0]


def _in_zone(url: str, zone: str) -> None:
    """Every new session of the database of ``url`` in ``zone``, as on a server whose ``timezone`` is that."""
    import psycopg

    dbname = url.split("?")[0].rsplit("/", 1)[1]
    admin(url, f"ALTER DATABASE {dbname} SET timezone TO '{zone}'")
    with psycopg.connect(url) as conn:
        assert conn.execute("SHOW timezone").fetchone() == (zone,)


def differences(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """The outputs of ``got`` that differ from ``want``'s, each named with the first lines that differ."""
    found = []
    for key in sorted(set(got) | set(want)):
        if got.get(key) == want.get(key):
            continue
        a, b = (json.dumps(x.get(key), indent=1, sort_keys=True, ensure_ascii=False) if not isinstance(x.get(key), str)
                else x[key] for x in (want, got))  # fmt: skip
        lines = [line[:240] for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)]
        found.append(f"{key}:\n" + "\n".join(lines[2:12]))
    return found


@slow
def test_the_study_gives_its_outputs(reference: dict[str, Any]) -> None:
    """The reference has what the comparisons rest on: images on both sides of a day boundary in the zones, links,
    changes, alerts and claims (else an output absent from every run would compare equal)."""
    acquired = {o["acquired"][11:16] for o in reference["observations json"]}
    assert {"00:40", "09:30"} <= acquired
    assert reference["links"]["links"] and reference["change"]["sites"][0]["pairs"] and len(reference["alerts"]) >= 4
    assert reference["alerts again"] == [] and reference["claims"]["claims"]
    assert "RUN-TIME" in json.dumps(reference["report"])  # (when it ran: masked, the only difference between runs)


@slow
def test_the_process_s_time_zone_changes_no_output(simulated: Path, reference: dict[str, Any], tmp_path: Path) -> None:
    found = differences(_study_in_zone(simulated, tmp_path / "ws", PROCESS_ZONE), reference)
    assert not found, "\n\n".join(found)


@slow
def test_a_postgis_server_in_another_time_zone_changes_no_output(
    simulated: Path, reference: dict[str, Any], pg_empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The database's ``timezone`` is every session's unless it sets its own: what a server outside UTC has."""
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    _in_zone(pg_empty_url, SERVER_ZONE)
    found = differences(study(simulated, tmp_path / "ws", pg_empty_url), reference)
    assert not found, "\n\n".join(found)


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of sitewatch's GeoPackage at ``path`` (GeoPackage's own tables aside: when a layer
    last changed; and ``input_changes``, each store's own notes of its writes, the copy's inserts in the copy),
    keys and geometries included."""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'gpkg%' "
                                           "AND name NOT LIKE 'rtree%' AND name NOT LIKE 'sqlite%' "
                                           "AND name != 'input_changes'")]  # fmt: skip
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


@slow
def test_a_store_copied_through_postgis_in_another_time_zone_comes_back_the_same(
    reference_run: tuple[dict[str, Any], Path], pg_empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row, times included, of the reference's GeoPackage copied into PostGIS at -10 h and back. Before, the
    alert events' ``acquired`` came back in the store's form (``…T00:40:00.000Z``), not as written (``…T00:40:00Z``)."""
    _, ws = reference_run
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    _in_zone(pg_empty_url, "Pacific/Honolulu")
    res = CliRunner().invoke(main, ["store", "copy", "--to", pg_empty_url, "-w", str(ws)])
    assert res.exit_code == 0, res.output
    monkeypatch.setenv("SITEWATCH_STORE", pg_empty_url)
    res = CliRunner().invoke(main, ["store", "copy", "--to", str(tmp_path / "back.gpkg"), "-w", str(ws)])
    assert res.exit_code == 0, res.output
    want, got = _rows(ws / "sitewatch.gpkg"), _rows(tmp_path / "back.gpkg")
    assert want["alert_events"] and want["runs"] and want["change_pairs"]
    assert {t: rows for t, rows in got.items() if rows != want.get(t)} == {}


EVENT = {"event_id": "e1", "rule": "r", "kind": "arrival", "site": "dunai", "date": "2024-10-17",
         "acquired": "2024-10-17T09:30:00+09:00", "what": "x", "observations": [], "simulated": True}  # fmt: skip
"""An event whose time is written with an offset (09:30 at +09:00 is 00:30 UTC)."""


def test_an_alert_event_s_time_is_stored_in_utc_in_the_store_s_form(tmp_path: Path) -> None:
    """The GeoPackage kept the event's own text (with its offset, or without milliseconds): the ``acquired`` column
    the dashboard orders a site's events by mixed forms, and differed from the PostGIS store's."""
    with Store(tmp_path / "s.gpkg") as store:
        assert record_events(store, [EVENT], webhook=False) == 1
        assert [r[0] for r in store.execute("SELECT acquired FROM alert_events")] == ["2024-10-17T00:30:00.000Z"]
        assert stored_events(store) == [EVENT]  # (the event itself as written)


def test_an_alert_event_s_time_reads_the_same_from_postgis_in_another_time_zone(pg_url: str) -> None:
    from sitewatch.store.postgis import PostgisStore

    _in_zone(pg_url, "Pacific/Kiritimati")
    with PostgisStore(pg_url) as store:
        assert record_events(store, [EVENT], webhook=False) == 1
        assert [r[0] for r in store.execute("SELECT acquired FROM alert_events")] == ["2024-10-17T00:30:00.000Z"]
        assert stored_events(store) == [EVENT]


@pytest.mark.usefixtures("short_waits")
def test_the_lock_holder_s_time_is_said_in_utc_from_a_server_in_another_time_zone(pg_url: str, said: Said) -> None:
    """The message naming a session that holds a lock says since when it holds it, in UTC: read on a connection of
    its own (the waiting one is busy), which has the database's zone, here +14 h."""
    _in_zone(pg_url, "Pacific/Kiritimati")
    _stored(pg_url)
    with _raw(pg_url, "psql") as dba:
        dba.execute("BEGIN")
        began = dba.execute("SELECT now()").fetchone()[0].astimezone(UTC)
        dba.execute("LOCK TABLE detections IN ACCESS EXCLUSIVE MODE")
        try:
            thread, _ = _in_thread(lambda: _detections(pg_url))
            thread.join(20)
        finally:
            dba.execute("ROLLBACK")
    shown = re.search(r"idle in transaction since (\d\d:\d\d:\d\d) UTC", said.messages[0])
    assert shown, said.messages[0]
    assert shown.group(1) == began.strftime("%H:%M:%S")
