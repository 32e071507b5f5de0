"""``alerts check``'s window is given up whenever what it read before a site's end changed, by any write path.

The database notes each change itself (triggers writing ``input_changes``, alert_window.py): a late image, a
``detect --force``, an edited site, scene or observation, a row deleted or replaced by another program (QGIS, the
``sqlite3`` shell, ``psql``), a ``TRUNCATE``, a copy into another store. Each test stores a checkpoint, checks that
the next run would use its window, makes one write, and requires the next run to evaluate the whole history naming
the site; the writes after the end (the day's new image) and those that change nothing must keep the window.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import box

from sitewatch.alert_rules import parse_rules
from sitewatch.alert_window import CHECKPOINT_KEY, WindowRun, evaluate_window, store_checkpoint
from sitewatch.alerts import check_alerts
from sitewatch.store import Store
from sitewatch.store.schema import INPUT_TABLES
from sitewatch.workspace import init_workspace, open_workspace
from test_alert_window import RULES, START, History, _dets, _obs, _put, _site

DAYS = 30
STORY = History(DAYS, seed=11)


@pytest.fixture(params=["geopackage", "postgis"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A workspace with the two ports' 30 days and a checkpoint stored by ``alerts check`` (GeoPackage, or a
    database of the PostGIS test server)."""
    url = request.getfixturevalue("pg_url") if request.param == "postgis" else None
    w = init_workspace(tmp_path / "ws", url)
    _fill(w.root)
    return w.root


def _fill(root: Path) -> None:
    """Put the two ports and the story's days into the workspace at ``root``, then run ``alerts check`` once (its
    checkpoint stored, the notes of the fill taken in)."""
    with open_workspace(root).store() as store:
        for sid in ("rason", "dunai"):
            store.put_site(_site(sid))
        for d in range(DAYS):
            for o, ds in STORY.day(d):
                _put(store, o, ds)
    _check(root)


def _rules(store: Store) -> list[Any]:
    rules, errors = parse_rules({"rules": RULES}, store.sites())
    assert not errors
    return rules


def _check(root: Path) -> None:
    with open_workspace(root).store() as store:
        check_alerts(store, _rules(store), out=root / "alerts.jsonl")


def _next(root: Path) -> WindowRun:
    """What the next ``alerts check`` would evaluate (nothing stored)."""
    with open_workspace(root).store() as store:
        return evaluate_window(store, _rules(store))


def _old(sid: str, day: int) -> tuple[Any, list[Any]]:
    [(o, ds)] = [(o, ds) for o, ds in STORY.day(day) if o.site_id == sid]
    return o, ds


def _write(root: Path, write: Callable[[Store], None]) -> None:
    with open_workspace(root).store() as store:
        write(store)


def _sql(sql: str, *args: Any) -> Callable[[Store], None]:
    def run(store: Store) -> None:
        with store.transaction() as db:
            db.execute(sql, args)

    return run


OLD_DAY = next(d for d in range(8, 20) if any(o.site_id == "dunai" and ds for o, ds in STORY.day(d)))
"""A day of the 30, well before the end, with an image of Dunai and detections in it."""
OLD = _obs("dunai", START + timedelta(days=OLD_DAY)).id

STALE_WRITES: dict[str, Callable[[Store], None]] = {
    # sitewatch's own write paths
    "an image imported late, into the past": lambda s: _put(s, _obs("dunai", START + timedelta(days=OLD_DAY), hour=21), []),
    "an image imported late, not detected yet": lambda s: s.put_observation(_obs("dunai", START + timedelta(days=OLD_DAY), hour=22)),
    "detect run again on an old image with other results": lambda s: s.replace_detections(
        _old("dunai", OLD_DAY)[0], [replace(d, length_m=d.length_m + 1) for d in _old("dunai", OLD_DAY)[1]]),
    "detect run again on an old image finding one object fewer": lambda s: s.replace_detections(
        _old("dunai", OLD_DAY)[0], _old("dunai", OLD_DAY)[1][1:]),
    "an old image's detections cleared (its COG replaced)": lambda s: s.clear_detections(OLD),
    "an old image's cloud fraction measured again": lambda s: s.set_cloud_fraction(OLD, 0.4),
    "an old image's hidden berths measured again": lambda s: s.set_berths_hidden(OLD, {"pier": 0.7}),
    "an old image's scene edited": lambda s: s.put_scene(replace(_old("dunai", OLD_DAY)[0].scene, cloud_cover=55.0)),
    "an old observation put again with another COG": lambda s: s.put_observation(replace(_old("dunai", OLD_DAY)[0], sha256="1" * 64)),
    "an old observation removed (`observations remove`)": lambda s: s.delete_observations([OLD]),
    "the site's berth moved": lambda s: s.put_site(replace(_site("dunai"), berths=(replace(_site("dunai").berths[0], name="moved"),))),
    "the site's water drawn": lambda s: s.put_site(replace(_site("dunai"), water=box(132.33, 42.87, 132.35, 42.89))),
    # other programs (QGIS editing a layer, the sqlite3 shell, psql): the database's triggers, not sitewatch's code
    "an old detection edited in place": _sql("UPDATE detections SET length_m = 200 WHERE observation_id = ?", OLD),
    "an old detection deleted": _sql("DELETE FROM detections WHERE observation_id = ?", OLD),
    "an old observation deleted": _sql("DELETE FROM observations WHERE observation_id = ?", OLD),
    "an old observation moved to after the end": _sql("UPDATE observations SET acquired = ? WHERE observation_id = ?",
                                                      "2030-01-01T09:00:00.000Z", OLD),
    "a berth renamed": _sql("UPDATE berths SET name = ? WHERE site_id = ?", "Pier 1", "dunai"),
    "the site renamed": _sql("UPDATE sites SET name = ? WHERE site_id = ?", "Dunai bay", "dunai"),
}  # fmt: skip


@pytest.mark.parametrize("what", list(STALE_WRITES))
def test_a_write_before_the_end_gives_the_window_up(root: Path, what: str) -> None:
    assert not _next(root).full, "the window is not used: the test would prove nothing"
    _write(root, STALE_WRITES[what])
    run = _next(root)
    assert run.full and "dunai" in run.why_full and "rason" not in run.why_full, (what, run.why_full)


KEPT_WRITES: dict[str, Callable[[Store], None]] = {
    "the day's new image": lambda s: _put(s, (o := _obs("dunai", START + timedelta(days=DAYS))), _dets(o, [(1, 110.0, True)], False)),
    "an old image's scene put again as it is (an import run again)": lambda s: s.put_scene(_old("dunai", OLD_DAY)[0].scene),
    "an old observation's cloud fraction set to what it is": lambda s: s.set_cloud_fraction(OLD, None),
    "detect --force on an old image, the same results": lambda s: s.replace_detections(*_old("dunai", OLD_DAY)),
    "a site of no rule edited": lambda s: s.put_site(replace(_site("dunai"), id="vostok", name="Vostok")),
}  # fmt: skip


@pytest.mark.parametrize("what", list(KEPT_WRITES))
def test_a_write_after_the_end_or_that_changes_nothing_keeps_the_window(root: Path, what: str) -> None:
    _write(root, KEPT_WRITES[what])
    run = _next(root)
    assert not run.full, (what, run.why_full)


def _again(**stamps: str) -> Callable[[Store], None]:
    """An old observation put again with the same COG, its provenance stamped anew (``ingested_at``: an ``import`` or
    ``ingest`` run again; ``retrieved_at``: ``fetch --force``), without the berths' fractions detection recorded."""

    def put(store: Store) -> None:
        o = _old("dunai", OLD_DAY)[0]
        store.put_observation(replace(o, provenance={"acquired_from": "tag", **stamps}))

    return put


def _stamped(store: Store) -> None:
    """The old observation as a first import stored it (stamped), then detected."""
    o, ds = _old("dunai", OLD_DAY)
    store.put_observation(replace(o, provenance={"acquired_from": "tag", "ingested_at": "2024-10-20T00:00:00Z",
                                                 "retrieved_at": "2024-10-20T00:00:00.000Z"}))  # fmt: skip
    store.replace_detections(o, ds)
    store.set_berths_hidden(OLD, {"pier": 0.0})


def _older_form(store: Store) -> None:
    """The old observation's provenance as an older sitewatch left it: compact (SQLite's ``json_set``), keys in
    another order (PostgreSQL's ``jsonb``)."""
    [text] = [r[0] for r in store.execute("SELECT provenance FROM observations WHERE observation_id = ?", (OLD,))]
    doc = json.loads(text)
    older = json.dumps(dict(sorted(doc.items(), key=lambda kv: (len(kv[0]), kv[0]))), separators=(",", ":"))
    assert older != text
    _sql("UPDATE observations SET provenance = ? WHERE observation_id = ?", older, OLD)(store)


RERUN_WRITES: dict[str, tuple[Callable[[Store], None] | None, Callable[[Store], None]]] = {
    "an old observation put again as it is": (None, lambda s: s.put_observation(_old("dunai", OLD_DAY)[0])),
    "an old image imported again (a new ingested_at)": (_stamped, _again(ingested_at="2026-12-07T09:00:00Z",
                                                                        retrieved_at="2024-10-20T00:00:00.000Z")),
    "an old image fetched again with --force (a new retrieved_at)": (_stamped, _again(
        ingested_at="2026-12-07T09:00:00Z", retrieved_at="2026-12-07T09:00:00.000Z")),
    "an old image imported again into a store an older sitewatch wrote": (
        lambda s: (_stamped(s), _older_form(s)), _again(ingested_at="2026-12-07T09:00:00Z")),
    "an old image's hidden berths measured again the same, an older sitewatch's form": (
        lambda s: (_stamped(s), _older_form(s)), lambda s: s.set_berths_hidden(OLD, {"pier": 0.0})),
    "the sites put again as they are (sites import run again)": (None, lambda s: [s.put_site(_site(x)) for x in ("rason", "dunai")]),
}  # fmt: skip
"""Writes that put rows back with the same meaning: (what the store held before, if not the fill's; the write)."""


@pytest.mark.parametrize("what", list(RERUN_WRITES))
def test_a_row_written_back_with_the_same_meaning_notes_nothing(root: Path, what: str) -> None:
    before, write = RERUN_WRITES[what]
    if before is not None:
        _write(root, before)
        _check(root)
    assert not _next(root).full, "the window is not used: the test would prove nothing"
    with open_workspace(root).store() as store:
        assert store.execute("SELECT count(*) FROM input_changes")[0][0] == 0
        stored = [tuple(r) for r in store.execute("SELECT * FROM observations ORDER BY fid")]
    _write(root, write)
    with open_workspace(root).store() as store:
        assert store.execute("SELECT count(*) FROM input_changes")[0][0] == 0, what
        assert [tuple(r) for r in store.execute("SELECT * FROM observations ORDER BY fid")] == stored, what
    run = _next(root)
    assert not run.full, (what, run.why_full)


def test_a_row_replaced_by_insert_or_replace_is_noted_at_its_old_time(tmp_path: Path) -> None:
    # SQLite deletes the row an INSERT OR REPLACE replaces without a delete trigger: the old row, before the end, is
    # noted by the BEFORE INSERT trigger; the new one is after the end.
    w = init_workspace(tmp_path / "ws")
    _fill(w.root)
    columns = [c for c in INPUT_TABLES["observations"] if c != "fid"]
    moved = ", ".join("'2030-01-01T09:00:00.000Z'" if c == "acquired" else c for c in columns)
    _write(w.root, _sql(f"INSERT OR REPLACE INTO observations ({', '.join(columns)}) SELECT {moved} FROM observations "
                        "WHERE observation_id = ?", OLD))  # fmt: skip
    with w.store() as store:
        assert [r[0] for r in store.execute("SELECT acquired FROM observations WHERE observation_id = ?", (OLD,))] == [
            "2030-01-01T09:00:00.000Z"]
    run = _next(w.root)
    assert run.full and "dunai" in run.why_full, run.why_full


@pytest.mark.parametrize("key", ["detection_id", "fid"])
def test_a_row_update_or_replace_deletes_is_noted_at_its_time(tmp_path: Path, key: str) -> None:
    # UPDATE OR REPLACE (the sqlite3 shell) deletes the other row holding the new key without a delete trigger: the
    # newest detection given an old detection's id (or fid) deleted that one, before the end, and only the updated
    # row's own time, after it, was noted: the window was kept over a changed past.
    w = init_workspace(tmp_path / "ws")
    _fill(w.root)
    assert not _next(w.root).full
    with w.store() as store:
        [(newest,)] = store.execute(f"SELECT {key} FROM detections WHERE site_id = 'dunai' ORDER BY acquired DESC LIMIT 1")
        [(old,)] = store.execute(f"SELECT {key} FROM detections WHERE observation_id = ? LIMIT 1", (OLD,))
        before = store.execute("SELECT count(*) FROM detections WHERE observation_id = ?", (OLD,))[0][0]
    _write(w.root, _sql(f"UPDATE OR REPLACE detections SET {key} = ? WHERE {key} = ?", old, newest))
    with w.store() as store:  # the old image lost a detection
        assert store.execute("SELECT count(*) FROM detections WHERE observation_id = ?", (OLD,))[0][0] == before - 1
    run = _next(w.root)
    assert run.full and "dunai" in run.why_full and "rason" not in run.why_full, run.why_full


def test_the_migration_to_13_gives_every_window_up_once(tmp_path: Path) -> None:
    # A replace made before schema 13 went unnoted: the first run after the migration evaluates whole, once.
    import sqlite3

    from sitewatch.store.gpkg import register_gpkg_functions

    w = init_workspace(tmp_path / "ws")
    _fill(w.root)
    db = sqlite3.connect(w.root / "sitewatch.gpkg")
    register_gpkg_functions(db)  # the layers' R-tree triggers call them
    for table in INPUT_TABLES:
        db.execute(f"DROP TRIGGER sitewatch_input_{table}_update_replace")
    db.execute("DROP INDEX idx_observations_undetected")  # (schema 14)
    db.execute("ALTER TABLE change_pairs DROP COLUMN inputs")  # (schema 15)
    db.execute("UPDATE sitewatch_meta SET value = '12' WHERE key = 'schema_version'")
    db.execute("UPDATE OR REPLACE detections SET detection_id = (SELECT detection_id FROM detections WHERE observation_id = ? "
               "LIMIT 1) WHERE fid = (SELECT max(fid) FROM detections WHERE site_id = 'dunai')", (OLD,))  # fmt: skip
    db.commit()
    db.close()
    run = _next(w.root)  # migrated on opening
    assert run.full and "dunai" in run.why_full and "rason" in run.why_full, run.why_full
    _check(w.root)
    assert not _next(w.root).full


def test_the_land_mask_installed_or_removed_gives_the_window_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Links are routed on global-land-mask when it is installed, by great circle otherwise: their distances and
    # feasibility differ. The checkpoint did not say which, so a window was kept over links another mask had found.
    from sitewatch.analysis import sea_route

    w = init_workspace(tmp_path / "ws")
    _fill(w.root)
    assert not _next(w.root).full
    installed = sea_route.land_mask_file()
    monkeypatch.setattr(sea_route, "land_mask_file", lambda: None if installed else tmp_path / "mask.npz")
    run = _next(w.root)
    assert run.full and "rules, parameters or sitewatch changed" in run.why_full, run.why_full


def test_without_its_triggers_the_store_is_read_whole(root: Path) -> None:
    with open_workspace(root).store() as store:
        postgis = hasattr(store, "_pg")
    drop = ("ALTER TABLE detections DISABLE TRIGGER sitewatch_input_detections" if postgis
            else "DROP TRIGGER sitewatch_input_detections_delete")  # fmt: skip
    _write(root, _sql(drop))
    run = _next(root)
    assert run.full and "triggers" in run.why_full, run.why_full
    _check(root)
    assert _next(root).full  # and stays so: no window without them


def test_a_truncated_table_gives_every_window_up(pg_url: str, tmp_path: Path) -> None:
    # TRUNCATE fires no row trigger: the statement trigger notes every site.
    w = init_workspace(tmp_path / "ws", pg_url)
    _fill(w.root)
    assert not _next(w.root).full
    _write(w.root, _sql("TRUNCATE detections"))
    run = _next(w.root)
    assert run.full and "rason" in run.why_full and "dunai" in run.why_full, run.why_full


def test_a_write_in_a_replica_session_is_noted(pg_url: str, tmp_path: Path) -> None:
    # session_replication_role = replica (a logical replica applying changes, a tool skipping triggers) fires only
    # the triggers enabled ALWAYS.
    import psycopg

    w = init_workspace(tmp_path / "ws", pg_url)
    _fill(w.root)
    assert not _next(w.root).full
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM detections WHERE observation_id = %s", (OLD,))
    run = _next(w.root)
    assert run.full and "dunai" in run.why_full, run.why_full


@pytest.mark.parametrize("rebuild", [
    # a tool rebuilding the table under its name: the triggers stay with the old table, renamed away
    "ALTER TABLE detections RENAME TO detections_before; "
    "CREATE TABLE detections (LIKE detections_before INCLUDING ALL); INSERT INTO detections SELECT * FROM detections_before",
    # a trigger of the same name made again for inserts alone
    "CREATE OR REPLACE TRIGGER sitewatch_input_detections AFTER INSERT ON detections "
    "FOR EACH ROW EXECUTE FUNCTION sitewatch_input_changed(); "
    "ALTER TABLE detections ENABLE ALWAYS TRIGGER sitewatch_input_detections",
])  # fmt: skip
def test_a_trigger_of_the_right_name_on_another_table_or_event_is_not_trusted(pg_url: str, tmp_path: Path, rebuild: str) -> None:
    # The check read the triggers' names (and that they were enabled): each was found, so the window was kept while
    # a detection deleted from the rebuilt table went unnoted.
    import psycopg

    w = init_workspace(tmp_path / "ws", pg_url)
    _fill(w.root)
    assert not _next(w.root).full
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for statement in rebuild.split("; "):
            conn.execute(statement)
        conn.execute("DELETE FROM detections WHERE observation_id = %s", (OLD,))
    run = _next(w.root)
    assert run.full and "triggers" in run.why_full, run.why_full


def test_a_store_copied_with_its_checkpoint_is_read_whole_once(root: Path, tmp_path: Path) -> None:
    from sitewatch.store.copy import copy_store

    with open_workspace(root).store() as source, Store(tmp_path / "copy.gpkg") as target:
        copy_store(source, target)
        assert target.meta(CHECKPOINT_KEY) == source.meta(CHECKPOINT_KEY)  # carried along
    copy = init_workspace(tmp_path / "copied")
    (copy.root / "sitewatch.gpkg").unlink()
    (tmp_path / "copy.gpkg").rename(copy.root / "sitewatch.gpkg")
    run = _next(copy.root)
    assert run.full and "dunai" in run.why_full, run.why_full
    _check(copy.root)
    assert not _next(copy.root).full


def test_a_run_that_finds_another_s_checkpoint_stored_meanwhile_stores_none(root: Path) -> None:
    # Run A reads; an image comes late into the past; run B reads (the image too), stores its checkpoint and removes
    # the note of that image. A's checkpoint, stored over B's, would stand for the history without the image with
    # no note left of it: the next run would keep its window over a changed past.
    with open_workspace(root).store() as store:
        a = evaluate_window(store, _rules(store))
    _write(root, STALE_WRITES["an image imported late, into the past"])
    _check(root)
    with open_workspace(root).store() as store:
        b = store.meta(CHECKPOINT_KEY)
        assert not store_checkpoint(store, a)
        assert store.meta(CHECKPOINT_KEY) == b


def test_the_notes_taken_in_are_removed_with_the_checkpoint(root: Path) -> None:
    with open_workspace(root).store() as store:
        assert store.execute("SELECT count(*) FROM input_changes")[0][0] == 0
    _write(root, KEPT_WRITES["the day's new image"])
    with open_workspace(root).store() as store:
        assert store.execute("SELECT count(*) FROM input_changes")[0][0] > 0
    _check(root)
    with open_workspace(root).store() as store:
        assert store.execute("SELECT count(*) FROM input_changes")[0][0] == 0


def test_the_input_triggers_compare_every_column(tmp_path: Path) -> None:
    # An update trigger compares the old and new row column by column: a column added by a later migration and left
    # out of the triggers would let a change of it go unnoted.
    with Store(tmp_path / "new.gpkg") as store:
        assert store.records_input_changes()
        for table in INPUT_TABLES:
            [sql] = [r[0] for r in store.execute("SELECT sql FROM sqlite_master WHERE name = ?", (f"sitewatch_input_{table}_update",))]
            compared = set(re.findall(r'OLD\."(\w+)"', sql)) | {"fid"}
            assert compared == set(store.columns(table)), table


@pytest.fixture
def member(pg_url: str) -> Iterator[str]:
    """The URL of a member's role, granted the tables as the README says, on a store made by the sitewatch before
    ``input_changes`` and then migrated by its owner."""
    import psycopg

    from _postgis import admin, with_database
    from sitewatch.store.pg_schema import PG_SCHEMA_VERSION

    role = f"sitewatch_member_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:  # the store as the version before left it (2: later ones undone)
        conn.execute("DROP TABLE input_changes; DROP FUNCTION sitewatch_input_changed() CASCADE")
        conn.execute("DROP INDEX idx_observations_undetected")  # (version 4)
        conn.execute("ALTER TABLE change_pairs DROP COLUMN inputs")  # (version 5)
        conn.execute("UPDATE sitewatch_meta SET value = '2' WHERE key = 'schema_version'")
    admin(pg_url, f"CREATE ROLE {role} LOGIN", f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
          f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}")  # fmt: skip
    from sitewatch.store.postgis import PostgisStore

    with PostgisStore(pg_url) as owner:  # the owner's first command of this sitewatch migrates it
        assert owner.schema_version() == PG_SCHEMA_VERSION and owner.records_input_changes()
    try:
        yield pg_url.replace("postgresql://postgres@", f"postgresql://{role}@", 1)
    finally:
        admin(pg_url, f"DROP OWNED BY {role}")
        admin(with_database(pg_url, "postgres"), f"DROP ROLE IF EXISTS {role}")


def test_a_member_granted_the_tables_before_the_upgrade_writes_and_checks_alerts(member: str, tmp_path: Path) -> None:
    # The triggers write input_changes as its owner (a member's INSERT into observations goes on), and the members
    # who may insert observations were granted what alerts check does with it.
    w = init_workspace(tmp_path / "ws", member)
    _fill(w.root)
    assert not _next(w.root).full
    _write(w.root, STALE_WRITES["an image imported late, into the past"])
    run = _next(w.root)
    assert run.full and "dunai" in run.why_full, run.why_full
    _check(w.root)
    assert not _next(w.root).full  # its checkpoint stored, the notes it took in removed
    assert all(json.loads(line)["event_id"] for line in (w.root / "alerts.jsonl").read_text(encoding="utf-8").splitlines())


def _notes(root: Path) -> list[tuple[Any, ...]]:
    with open_workspace(root).store() as store:
        return [tuple(r) for r in store.execute("SELECT site_id, acquired FROM input_changes ORDER BY id")]


@pytest.mark.parametrize("what", ["an image imported late, into the past", "an old detection deleted", "the site renamed",
                                  "an old observation moved to after the end"])  # fmt: skip
def test_notes_folded_into_one_a_site_still_give_the_window_up(root: Path, what: str) -> None:
    """``input_changes`` grew without bound in a workspace that never runs ``alerts check``; folded, it must still
    tell each site's change before its end."""
    _write(root, STALE_WRITES[what])
    _write(root, KEPT_WRITES["the day's new image"])
    before = _notes(root)
    with open_workspace(root).store() as store:
        assert store.compact_input_changes(most=1) == len(before) - len(_notes(root)) > 0
    assert len(_notes(root)) <= 2 and {s for s, _ in _notes(root)} == {s for s, _ in before}
    run = _next(root)
    assert run.full and "dunai" in run.why_full and "rason" not in run.why_full, (what, run.why_full)


def test_notes_folded_keep_the_window_when_nothing_before_the_end_changed(root: Path) -> None:
    _write(root, KEPT_WRITES["the day's new image"])
    _write(root, KEPT_WRITES["a site of no rule edited"])
    with open_workspace(root).store() as store:
        assert store.compact_input_changes(most=0) > 0
    assert not _next(root).full


def test_notes_folded_while_a_run_had_taken_some_in_are_not_lost(root: Path) -> None:
    """A run takes in the notes it found at its start and removes them with its checkpoint: notes folded meanwhile
    (an image late into the past among them, noted after its start) must outlive that checkpoint."""
    _write(root, KEPT_WRITES["the day's new image"])
    with open_workspace(root).store() as store:
        a = evaluate_window(store, _rules(store))
    assert a.taken_in and not a.full
    _write(root, STALE_WRITES["an image imported late, into the past"])
    with open_workspace(root).store() as store:
        assert store.compact_input_changes(most=0) > 0
        assert store_checkpoint(store, a)
    run = _next(root)
    assert run.full and "dunai" in run.why_full, run.why_full


def test_every_command_bounds_the_notes_when_alerts_check_never_runs(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sitewatch.store import sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "INPUT_CHANGES_MOST", 3)
    for day in range(DAYS, DAYS + 4):
        _write(root, lambda s, day=day: _put(s, (o := _obs("dunai", START + timedelta(days=day))),
                                             _dets(o, [(1, 110.0, True), (2, 90.0, False)], False)))  # fmt: skip
        assert len(_notes(root)) > 3
        with open_workspace(root).store() as store:
            store.record_run("detect", "dunai", {}, {})  # as each command ends
        assert _notes(root) == [("dunai", _notes(root)[0][1])]  # one a site: its earliest
    assert not _next(root).full  # the days after the end: the window kept


def test_a_member_who_may_not_insert_notes_leaves_them_unfolded(member: str, tmp_path: Path) -> None:
    """A team member is granted reading and deleting ``input_changes``, not inserting: its commands end without
    folding (an error there would fail every command of a member), the owner's fold them."""
    w = init_workspace(tmp_path / "ws", member)
    _fill(w.root)
    _write(w.root, KEPT_WRITES["the day's new image"])
    before = _notes(w.root)
    with open_workspace(w.root).store() as store:
        assert store.compact_input_changes(most=0) == 0
        store.record_run("detect", "dunai", {}, {})
    assert _notes(w.root) == before
