"""The indexes of schema 11 (the GeoPackage) and 2 (PostGIS): a store of the schema before gets them on open, once,
and the queries of a long history that read a whole table without them (import's scene check, a site's change
pairs, a period's pairs and regions, a site's alert events, the scenes a removed site leaves, a pair found by its
id) use them."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from _old_store import copy_rows, old_database
from sitewatch import __version__
from sitewatch.errors import StoreError
from sitewatch.ingest.identity import unique_item_id
from sitewatch.model import Change
from sitewatch.sites import builtin_sites
from sitewatch.store import Store
from sitewatch.store.alerts import record_events
from sitewatch.store.changes import change_pairs, changes, replace_changes
from sitewatch.store.schema import SCHEMA_VERSION
from test_store import _det, _obs

NEW_INDEXES = {"idx_observations_scene", "idx_change_pairs_site", "idx_change_pairs_after", "idx_changes_after",
               "idx_alert_events_site"}  # fmt: skip
LONG_TABLES = ("observations", "scenes", "change_pairs", "changes", "alert_events")
"""The tables that grow with the history (a row an image, a pair, an event)."""


def _fill(store: Store) -> None:
    """A site with a few days of observations, a detection each, a pair between each two and an alert event each."""
    store.put_site(builtin_sites()["dunai"])
    obs = []
    for day in range(4):
        o = _obs(item=f"scene-{day}")
        o = replace(o, scene=replace(o.scene, acquired=o.scene.acquired + timedelta(days=day)))
        store.put_scene(o.scene)
        store.put_observation(o)
        store.replace_detections(o, [_det(o, 0)])
        obs.append(o)
    for b, a in zip(obs, obs[1:], strict=False):
        region = Change(f"{a.id}#c0", "dunai", b.id, a.id, _det(a, 0).footprint, 50.0, 0.5, "appeared", "test")
        replace_changes(store, b, a, compared_fraction=1.0, method="test", method_version="1", parameters={}, changes=[region])
        record_events(store, [{"event_id": f"arrival:{a.id}", "rule": "arrival", "kind": "arrival", "site": "dunai",
                               "date": a.scene.acquired.date().isoformat(), "acquired": a.scene.acquired.isoformat(),
                               "what": "a vessel arrived", "observations": [a.id], "images": [], "detections": [],
                               "simulated": False, "details": {}}], webhook=False)  # fmt: skip


def _queries(store: Store, tmp_path: Path) -> None:
    """The reads of a long history that had no index, through the code that makes them."""
    web_data = pytest.importorskip("sitewatch.web.data", reason="pip install 'sitewatch[web]'")
    site = store.get_site("dunai")
    o = store.get_observation("dunai/scene-2")
    image = tmp_path / "scene-2.tif"
    image.write_bytes(b"an image of another site")  # another file than the stored one's: its scene id is checked
    unique_item_id(store, replace(site, id="other"), image, replace(o.scene, item_id="scene-2"), set())
    since, until = o.scene.acquired - timedelta(days=1), o.scene.acquired + timedelta(days=1)
    assert [p.after_id for p in change_pairs(store, "dunai")] == ["dunai/scene-1", "dunai/scene-2", "dunai/scene-3"]
    assert [p.after_id for p in change_pairs(store, "dunai", since=since, until=until)] == ["dunai/scene-1", "dunai/scene-2", "dunai/scene-3"]
    assert [c.after_id for c in changes(store, site_id="dunai", since=o.scene.acquired, until=o.scene.acquired)] == ["dunai/scene-2"]
    assert len(web_data.site_alerts(store, "dunai")) == 3
    from sitewatch.web.pairs import load_pair

    assert load_pair(store, "dunai/scene-1..dunai/scene-2").pair.after_id == "dunai/scene-2"


def _scans(plans: dict[str, list[str]]) -> dict[str, list[str]]:
    """The statements whose plan reads a whole table of the history (SQLite's ``SCAN t``, PostgreSQL's ``Seq Scan on t``)."""
    whole = re.compile(r"^(?:SCAN|.*Seq Scan on) (" + "|".join(LONG_TABLES) + r")\b")
    return {sql: plan for sql, plan in plans.items() if any(whole.match(step.strip(" ->")) for step in plan)}


def _used(plans: dict[str, list[str]]) -> set[str]:
    return {name for plan in plans.values() for step in plan for name in re.findall(r"\b(idx_\w+)", step)}


@contextmanager
def _sqlite_statements(store: Store) -> Iterator[list[str]]:
    """Every statement the store's connection runs meanwhile, with its values (SQLite's expanded SQL)."""
    seen: list[str] = []
    store._db.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        store._db.set_trace_callback(None)


def _sqlite_plans(store: Store, statements: list[str]) -> dict[str, list[str]]:
    """``EXPLAIN QUERY PLAN`` of each statement that reads a table of the history by a condition (an extent recomputed
    after a removal reads every geometry, by design)."""
    plans = {}
    for sql in statements:
        if re.match(r"\s*(SELECT|DELETE)\b", sql) and " WHERE " in sql and any(re.search(rf"\b{t}\b", sql) for t in LONG_TABLES):
            plans[sql] = [r[3] for r in store._db.execute("EXPLAIN QUERY PLAN " + sql)]
    return plans


def _schema_10(path: Path, tmp_path: Path) -> None:
    """A workspace database as sitewatch at schema 10 left it, with the rows of :func:`_fill`."""
    with Store(tmp_path / "rows.gpkg") as store:
        _fill(store)
    db = old_database(path, 10)
    copy_rows(db, tmp_path / "rows.gpkg", ["sites", "scenes", "observations", "detections", "change_pairs", "changes",
                                           "alert_events"])  # fmt: skip
    db.commit()
    db.close()


def _indexes(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%'")}


def test_a_workspace_of_schema_10_gets_the_indexes_once_and_its_queries_use_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Import asked for each file whether another site holds its scene id by reading every observation (12 ms a
    candidate at 19,209 rows); a site's change pairs and alert events, and a site removed, read whole tables."""
    import sitewatch.store.sqlite as sqlite_store

    path = tmp_path / "old.gpkg"
    _schema_10(path, tmp_path)
    assert _indexes(path).isdisjoint(NEW_INDEXES)
    ran: list[str] = []
    statements = sqlite_store._sql_statements
    monkeypatch.setattr(sqlite_store, "_sql_statements", lambda sql: [s for s in statements(sql) if not ran.append(s)])
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 15 and store.meta("schema_written_by") == __version__
        assert len(store.observations()) == 4 and len(change_pairs(store)) == 3  # every row kept
        with _sqlite_statements(store) as seen:
            _queries(store, tmp_path)
        plans = _sqlite_plans(store, seen)
        with _sqlite_statements(store) as removed:
            store.delete_site("dunai", observations=True)
        plans |= _sqlite_plans(store, removed)
    assert [s.split(" ON ")[0] for s in ran if "CREATE INDEX" in s] == [f"CREATE INDEX {n}" for n in (
        "idx_observations_scene", "idx_change_pairs_site", "idx_change_pairs_after", "idx_changes_after",
        "idx_alert_events_site", "idx_observations_undetected")]  # fmt: skip (the last: schema 14)
    assert NEW_INDEXES <= _indexes(path)
    assert _scans(plans) == {}
    assert NEW_INDEXES <= _used(plans)
    assert any("scene_id" in sql and "idx_observations_scene" in str(plan) for sql, plan in plans.items())
    ran.clear()
    with Store(path) as store:  # opened again: nothing to migrate
        assert store.schema_version() == SCHEMA_VERSION
    assert ran == [] and NEW_INDEXES <= _indexes(path)


def test_a_new_workspace_has_the_indexes_and_an_older_sitewatch_refuses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sitewatch.store.sqlite as sqlite_store
    from sitewatch.store.schema import MIGRATIONS

    path = tmp_path / "new.gpkg"
    with Store(path) as store:
        _fill(store)
        with _sqlite_statements(store) as seen:
            _queries(store, tmp_path)
        assert _scans(_sqlite_plans(store, seen)) == {}
    assert NEW_INDEXES <= _indexes(path)
    # The sitewatch before (schema 10) refuses it as the README says, naming both, and changes nothing in it.
    monkeypatch.setattr(sqlite_store, "MIGRATIONS", MIGRATIONS[:10])
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", 10)
    with pytest.raises(StoreError, match=re.escape(f"schema version 15 (made by sitewatch {__version__}) is newer than "
                                                   f"the schema 10 this sitewatch")):  # fmt: skip
        Store(path)
    monkeypatch.undo()
    with Store(path) as store:
        assert store.schema_version() == 15 and len(store.observations()) == 4


# -- PostGIS ----------------------------------------------------------------------------------------------------


def _pg_plans(store: Any, run: Callable[[], None]) -> dict[str, list[str]]:
    """``EXPLAIN`` (sequential scans off, so that a usable index is taken whatever the table's size) of each statement
    ``run`` reads the history with through :meth:`Store.execute`."""
    from sitewatch.store.postgis import _to_pg

    seen: list[tuple[str, tuple[Any, ...]]] = []
    execute = store.execute

    def recording(sql: str, args: Any = ()) -> Any:
        seen.append((sql, tuple(args)))
        return execute(sql, args)

    store.execute = recording
    try:
        run()
    finally:
        del store.execute
    plans = {}
    store._pg.execute("SET enable_seqscan = off")
    for sql, args in seen:
        if re.match(r"\s*SELECT\b", sql) and any(re.search(rf"\b{t}\b", sql) for t in LONG_TABLES):
            plans[sql] = [r[0] for r in store._pg.execute("EXPLAIN " + _to_pg(sql), args).fetchall()]
    store._pg.execute("RESET enable_seqscan")
    return plans


def test_a_postgis_store_of_schema_1_gets_the_indexes_once_and_its_queries_use_them(
    pg_empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    pg_url = pg_empty_url
    import sitewatch.store.postgis as postgis
    from sitewatch.store.pg_schema import PG_MIGRATIONS, PG_SCHEMA_VERSION

    def indexes() -> set[str]:
        return {r[0] for r in store.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")}

    with monkeypatch.context() as m:  # the store as the sitewatch of schema 1 made it
        m.setattr(postgis, "PG_MIGRATIONS", PG_MIGRATIONS[:1])
        m.setattr(postgis, "PG_SCHEMA_VERSION", 1)
        with postgis.PostgisStore(pg_url, create=True) as store:
            assert store.schema_version() == 1
            # This sitewatch writes and reads change pairs with their `inputs` (version 5): the column is there while
            # it fills the store, and gone again before the upgrade, as the sitewatch of schema 1 left it.
            with store.transaction() as db:
                db.execute("ALTER TABLE change_pairs ADD COLUMN inputs text")
            _fill(store)
            assert indexes().isdisjoint(NEW_INDEXES)
            old = _scans(_pg_plans(store, lambda: _queries(store, tmp_path)))
            assert old, "the queries read whole tables without the indexes"
            with store.transaction() as db:
                db.execute("ALTER TABLE change_pairs DROP COLUMN inputs")
    with postgis.PostgisStore(pg_url) as store:
        assert store.schema_version() == PG_SCHEMA_VERSION == 5 and store.meta("schema_written_by") == __version__
        assert NEW_INDEXES <= indexes() and len(store.observations()) == 4
        oids = store.execute("SELECT indexname, indexrelid::regclass::oid FROM pg_indexes JOIN pg_stat_user_indexes "
                             "ON indexrelname = indexname WHERE indexname LIKE 'idx_%' ORDER BY 1")  # fmt: skip
        plans = _pg_plans(store, lambda: _queries(store, tmp_path))
    assert _scans(plans) == {}
    assert NEW_INDEXES <= _used(plans)
    with postgis.PostgisStore(pg_url) as store:  # opened again: nothing migrated, the same indexes
        assert store.schema_version() == 5
        assert store.execute("SELECT indexname, indexrelid::regclass::oid FROM pg_indexes JOIN pg_stat_user_indexes "
                             "ON indexrelname = indexname WHERE indexname LIKE 'idx_%' ORDER BY 1") == oids  # fmt: skip
        store.delete_site("dunai", observations=True)
        assert store.observations() == []


def test_a_postgis_store_of_schema_2_is_refused_by_the_sitewatch_before(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sitewatch.store.postgis as postgis
    from sitewatch.store.pg_schema import PG_MIGRATIONS, PG_SCHEMA_VERSION

    postgis.PostgisStore(pg_url).close()
    monkeypatch.setattr(postgis, "PG_MIGRATIONS", PG_MIGRATIONS[:1])
    monkeypatch.setattr(postgis, "PG_SCHEMA_VERSION", 1)
    with pytest.raises(StoreError, match=re.escape(f"schema version {PG_SCHEMA_VERSION} (made by sitewatch {__version__}) is newer than "
                                                   "the schema 1 this sitewatch")):  # fmt: skip
        postgis.PostgisStore(pg_url)



def test_a_pair_is_found_by_its_id_when_its_observation_ids_hold_two_dots(tmp_path: Path) -> None:
    """The pair page looked a pair up by ``before_id || '..' || after_id`` (every row read); now by each cut of the id
    at a '..' through the pair's two ids: an id with '..' in an observation's id is still found, a wrong one is not."""
    pytest.importorskip("sitewatch.web.data", reason="pip install 'sitewatch[web]'")
    from sitewatch.web.data import NotFound
    from sitewatch.web.pairs import load_pair

    with Store(tmp_path / "db.gpkg") as store:
        store.put_site(builtin_sites()["dunai"])
        a, b = _obs(item="a..b"), _obs(item="..c")
        b = replace(b, scene=replace(b.scene, acquired=b.scene.acquired + timedelta(days=1)))
        for o in (a, b):
            store.put_scene(o.scene)
            store.put_observation(o)
        replace_changes(store, a, b, compared_fraction=1.0, method="test", method_version="1", parameters={}, changes=[])
        view = load_pair(store, "dunai/a..b..dunai/..c")
        assert (view.pair.before_id, view.pair.after_id) == ("dunai/a..b", "dunai/..c") and view.number == 1
        for wrong in ("dunai/a..b", "dunai/a..b..dunai/..", "dunai/a..b...dunai/..c", "", ".."):
            with pytest.raises(NotFound):
                load_pair(store, wrong)


# -- the observations waiting for detection (schema 14 of the GeoPackage, 4 of PostGIS) ------------------------------


def _undetected_reads(store: Store) -> None:
    """The reads of the observations detection has not run on: a site's (:meth:`Store.undetected`, which `alerts check`,
    `timeline`, `links`, the dashboard and `detect` ask of each site) and `export`'s count of them by site."""
    from sitewatch.cli.export import _undetected_notes

    store.clear_detections("dunai/scene-3")
    assert store.undetected("dunai") == {"dunai/scene-3"} and store.undetected() == {"dunai/scene-3"}
    assert [n.split(":")[:2] for n in _undetected_notes(store, None)] == [["dunai", " 1 observation(s) not detected yet, so not in this export"]]


def _undetected_plans(plans: dict[str, list[str]]) -> dict[str, str]:
    return {sql: " / ".join(plan) for sql, plan in plans.items() if "detected_at IS NULL" in sql}


def test_the_observations_waiting_for_detection_are_read_through_their_index(tmp_path: Path) -> None:
    # Each site's observations waiting for detection were found among all of its history (2,166 rows a site at
    # 1,800 days, asked of ten sites by each daily `alerts check`), and export's count of them by site read every
    # observation of the workspace (0.14-0.25 s at 19,000 on a GeoPackage): a partial index holds the few waiting.
    with Store(tmp_path / "ws.gpkg") as store:
        _fill(store)
        with _sqlite_statements(store) as seen:
            _undetected_reads(store)
        plans = _undetected_plans(_sqlite_plans(store, seen))
    assert len(plans) == 3, plans
    assert all("idx_observations_undetected" in plan for plan in plans.values()), plans


def test_a_postgis_store_reads_the_observations_waiting_for_detection_through_their_index(pg_url: str) -> None:
    from sitewatch.store.postgis import PostgisStore

    with PostgisStore(pg_url) as store:
        _fill(store)
        plans = _undetected_plans(_pg_plans(store, lambda: _undetected_reads(store)))
    assert len(plans) == 3, plans
    assert all("idx_observations_undetected" in plan for plan in plans.values()), plans
