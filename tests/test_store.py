"""The workspace store: a valid GeoPackage, transactional, idempotent writes, migrations."""

from __future__ import annotations

import logging
import sqlite3
import struct
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from _fds import needs_proc, open_on
from _old_store import copy_rows, old_database
from sitewatch.errors import StoreError
from sitewatch.model import Berth, Detection, Grid, Observation, SceneRef, Site
from sitewatch.sites import builtin_sites
from sitewatch.store import Store, register_gpkg_functions
from sitewatch.store.gpkg import from_gpkg_blob, to_gpkg_blob
from sitewatch.store.schema import SCHEMA_VERSION
from sitewatch.workspace import init_workspace, open_workspace


def _obs(site_id: str = "dunai", item: str = "scene-1") -> Observation:
    scene = SceneRef(
        provider="local",
        collection="test",
        item_id=item,
        sensor="sar",
        acquired=datetime(2024, 10, 17, 9, 30, tzinfo=UTC),
        resolution_m=10.0,
        footprint=box(132.3, 42.8, 132.4, 42.9),
    )
    return Observation(
        id=f"{site_id}/{item}",
        site_id=site_id,
        scene=scene,
        grid=Grid("EPSG:32653", (10.0, 0.0, 5e5, 0.0, -10.0, 4.7e6), 10, 10),
        path="archive/x.tif",
        sha256="0" * 64,
        valid_fraction=1.0,
    )


def _det(obs: Observation, i: int) -> Detection:
    return Detection(
        id=f"{obs.id}#{i}",
        observation_id=obs.id,
        kind="vessel",
        footprint=box(132.33 + i * 0.001, 42.88, 132.3305 + i * 0.001, 42.881),
        length_m=110.0,
        width_m=15.0,
        heading_deg=30.0,
        score=5.0,
        detector="test",
        detector_version="1",
    )


def test_gpkg_blob_round_trip() -> None:
    for g in (Point(1, 2), box(0, 0, 1, 1), LineString([(0, 0), (1, 1)])):
        assert from_gpkg_blob(to_gpkg_blob(g)).equals(g)
    assert to_gpkg_blob(None) is None


def test_workspace_is_a_geopackage_gdal_reads(tmp_path: Path) -> None:
    pyogrio = pytest.importorskip("pyogrio")
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        site = builtin_sites()["dunai"]
        site = Site(**{**site.__dict__, "berths": (Berth("pier-1", LineString([(132.33, 42.87), (132.34, 42.87)])),)})
        store.put_site(site)
        obs = _obs()
        store.put_observation(obs, footprint=box(132.3, 42.8, 132.4, 42.9))
        store.replace_detections(obs, [_det(obs, i) for i in range(3)])
        store.update_extents()
    layers = {name for name, _ in pyogrio.list_layers(ws.db_path)}
    assert {"sites", "berths", "scenes", "observations", "detections"} <= layers
    info = pyogrio.read_info(ws.db_path, layer="detections")
    assert info["features"] == 3
    assert info["crs"] == "EPSG:4326"
    assert info["driver"] == "GPKG"
    assert pyogrio.read_info(ws.db_path, layer="berths")["features"] == 1
    with closing(sqlite3.connect(ws.db_path)) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47


def test_rewrites_do_not_duplicate(tmp_path: Path) -> None:
    with Store(tmp_path / "db.gpkg") as store:
        obs = _obs()
        for _ in range(3):
            store.put_site(builtin_sites()["dunai"])
            store.put_observation(obs)
            store.replace_detections(obs, [_det(obs, i) for i in range(4)])
        assert store.counts()["observations"] == 1
        assert store.counts()["detections"] == 4
        assert store.counts()["sites"] == 1
        store.replace_detections(obs, [_det(obs, 0)])
        assert [d.id for d in store.detections(site_id="dunai")] == ["dunai/scene-1#0"]


def test_interrupted_transaction_leaves_no_half_rows(tmp_path: Path) -> None:
    with Store(tmp_path / "db.gpkg") as store:
        obs = _obs()
        store.put_observation(obs)
        store.replace_detections(obs, [_det(obs, 0), _det(obs, 1)])
        with pytest.raises(RuntimeError), store.transaction():
            store.replace_detections(obs, [_det(obs, 5)])
            raise RuntimeError("killed half-way")
        assert [d.id for d in store.detections()] == ["dunai/scene-1#0", "dunai/scene-1#1"]


def test_schema_version_and_newer_database_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.gpkg"
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE sitewatch_meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer"):
        Store(path)


@pytest.mark.parametrize("stale", [5, 6])
def test_a_migration_another_command_ran_meanwhile_is_not_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stale: int
) -> None:
    """Two commands opening a workspace of an older schema at once both read its version, and the one
    that got the lock second ran the migrations again: "migration to schema 7 failed (duplicate column
    name: truncated)". Here the version is read before the other command's migrations committed."""
    path = tmp_path / "db.gpkg"
    Store(path).close()  # the other command: migrated to the current schema
    reads = iter([stale])
    real = Store.schema_version
    monkeypatch.setattr(Store, "schema_version", lambda self: next(reads, None) or real(self))
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert [r[1] for r in store._db.execute("PRAGMA table_info(detections)")].count("truncated") == 1
    with pytest.raises(StoreError, match="migration to schema 7 failed"):  # a real failure is still one
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("UPDATE sitewatch_meta SET value = '6' WHERE key = 'schema_version'")
        Store(path)


@needs_proc
def test_a_database_refused_is_left_closed(tmp_path: Path) -> None:
    """A file that is no database, or of a newer schema, was refused with its connection left open until the
    garbage collector came (Python 3.13 warns: ResourceWarning); on Windows the file stays locked meanwhile."""
    text = tmp_path / "notes.gpkg"
    text.write_text("not a database, " * 100, encoding="utf-8")
    with pytest.raises(StoreError) as refused:
        Store(text)
    assert open_on(text) == [], refused.value  # the traceback still holds the store it refused
    newer = tmp_path / "newer.gpkg"
    Store(newer).close()
    with closing(sqlite3.connect(newer)) as db:
        db.execute(f"UPDATE sitewatch_meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'")
        db.commit()
    for read_only in (False, True):
        with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}") as refused:
            Store(newer, read_only=read_only)
        assert open_on(newer) == [], refused.value


def test_a_newer_database_is_refused_naming_both_sitewatch_versions(tmp_path: Path) -> None:
    """A workspace a newer sitewatch migrated, opened by this one: refused, nothing changed, and the message names
    the schema versions and, where the newer one recorded it, the sitewatch that made it, and this one's."""
    from sitewatch import __version__

    path = tmp_path / "w.gpkg"
    old_database(path, 4).close()
    with Store(path) as store:  # migrated here: this sitewatch's version recorded with the schema
        assert store.meta("schema_written_by") == __version__
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(f"UPDATE sitewatch_meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'")
        db.execute("UPDATE sitewatch_meta SET value = '9.9.9' WHERE key = 'schema_written_by'")
    before = path.read_bytes()
    for read_only in (False, True):
        with pytest.raises(StoreError) as refused:
            Store(path, read_only=read_only)
        said = str(refused.value)
        assert f"schema version {SCHEMA_VERSION + 1} (made by sitewatch 9.9.9)" in said, said
        assert f"{SCHEMA_VERSION} this sitewatch ({__version__}) reads" in said or f"this sitewatch ({__version__}) reads {SCHEMA_VERSION}" in said, said
        assert "upgrade sitewatch" in said, said
    assert path.read_bytes() == before


def test_not_a_workspace_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="sitewatch init"):
        open_workspace(tmp_path)


def test_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="bad.gpkg"):
        Store(bad)


def test_observation_round_trip(tmp_path: Path) -> None:
    with Store(tmp_path / "db.gpkg") as store:
        obs = _obs()
        store.put_observation(obs)
        back = store.get_observation(obs.id)
        assert back.grid == obs.grid
        assert back.scene.acquired == obs.scene.acquired
        assert back.scene.id == obs.scene.id


def test_site_flags_read_as_booleans_in_gdal_also_after_migration(tmp_path: Path) -> None:
    import pyogrio

    path = tmp_path / "old.gpkg"
    db = old_database(path, 3)
    db.execute("INSERT INTO sites (site_id, name, kind, resolved) VALUES ('old', 'Old', 'area', 0)")
    db.commit()
    db.close()
    with Store(path) as store:
        store.put_site(Site(id="new", name="New", kind="port", geometry=box(132.3, 42.8, 132.4, 42.9)))
    meta, _, _, fields = pyogrio.raw.read(path, layer="sites")
    types = dict(zip(meta["fields"], meta["dtypes"], strict=True))
    assert types["resolved"] == "bool"  # was int64: QGIS showed 0 and 1
    resolved = dict(zip(fields[list(meta["fields"]).index("site_id")], fields[list(meta["fields"]).index("resolved")], strict=True))
    assert resolved == {"old": False, "new": True}


def test_layer_extents_follow_the_sites_as_gdal_reads_them(tmp_path: Path) -> None:
    # GDAL (and QGIS's "zoom to layer") takes a layer's extent from gpkg_contents, which only detect updated.
    import pyogrio

    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(Site(id="a", name="A", kind="port", geometry=box(132.3, 42.8, 132.4, 42.9),
                            berths=(Berth(id="q", geometry=LineString([(132.31, 42.81), (132.32, 42.81)])),)))  # fmt: skip
        store.update_extents()  # as detect leaves it
        store.put_site(Site(id="far", name="Far", kind="area", geometry=box(10.0, 10.0, 10.1, 10.1)))
    assert pyogrio.read_info(ws.db_path, layer="sites")["total_bounds"] == (10.0, 10.0, 132.4, 42.9)
    assert pyogrio.read_info(ws.db_path, layer="berths")["total_bounds"] == (132.31, 42.81, 132.32, 42.81)
    with ws.store() as store:
        store.delete_site("a")
    assert pyogrio.read_info(ws.db_path, layer="sites")["total_bounds"] == (10.0, 10.0, 10.1, 10.1)
    assert pyogrio.read_info(ws.db_path, layer="berths")["total_bounds"] is None


def test_a_database_another_process_is_writing_is_named_not_a_traceback(tmp_path, monkeypatch):
    """A write that waits out the busy timeout is a StoreError naming the file (was sqlite3's own error)."""
    from sitewatch.store import sqlite as store_sqlite

    monkeypatch.setattr(store_sqlite, "BUSY_TIMEOUT_S", 0.1)
    ws = init_workspace(tmp_path / "ws")
    other = sqlite3.connect(ws.root / "sitewatch.gpkg", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another command in the middle of a write
    try:
        with ws.store() as store, pytest.raises(StoreError, match=r"sitewatch.gpkg: cannot write .*another program holds a lock"):
            store.put_site(builtin_sites()["dunai"])
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_database_another_program_holds_locked_is_named_while_waiting_and_at_the_end(tmp_path, monkeypatch, caplog):
    """QGIS holding a write transaction on the GeoPackage (a layer in editing mode): the command said nothing
    for the whole busy timeout. Now a warning names the file and the other program after LOCK_NOTICE_S,
    and the error at the end says what to do."""
    import logging

    from sitewatch.errors import STALL_LOGGER
    from sitewatch.store import sqlite as store_sqlite

    monkeypatch.setattr(store_sqlite, "LOCK_NOTICE_S", 0.2)
    monkeypatch.setattr(store_sqlite, "BUSY_TIMEOUT_S", 0.6)
    ws = init_workspace(tmp_path / "ws")
    other = sqlite3.connect(ws.root / "sitewatch.gpkg", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # QGIS: a layer in editing mode, an edit not yet saved
    try:
        with caplog.at_level(logging.WARNING, logger=STALL_LOGGER), ws.store() as store:
            with pytest.raises(StoreError) as failed:
                store.put_site(builtin_sites()["dunai"])
            [warned] = [r.getMessage() for r in caplog.records if r.name == STALL_LOGGER]
            assert warned.startswith(f"{ws.db_path}: waiting to write: another program holds a lock") and "QGIS" in warned
            message = str(failed.value)
            assert message.startswith(f"{ws.db_path}: cannot write to the workspace database: another program holds")
            assert "not released in 0.6 s" in message and "leave editing mode" in message and "run this command again" in message
            # Released while the command waits: it goes on, having said why it waited.
            caplog.clear()
            monkeypatch.setattr(store_sqlite, "BUSY_TIMEOUT_S", 10.0)
            with _released_on_stall(other):
                store.put_site(builtin_sites()["dunai"])
            assert [r.name for r in caplog.records] == [STALL_LOGGER] and not other.in_transaction
        with ws.store() as store:
            assert [s.id for s in store.sites()] == ["dunai"]
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


class _ReleaseOnStall(logging.Handler):
    def __init__(self, other: sqlite3.Connection) -> None:
        super().__init__(logging.WARNING)
        self.other = other

    def emit(self, record: logging.LogRecord) -> None:
        if self.other.in_transaction:
            self.other.execute("ROLLBACK")


@contextmanager
def _released_on_stall(other: sqlite3.Connection) -> Iterator[None]:
    """``other``'s transaction rolled back when a command says it waits for its lock: not after a fixed time,
    which a loaded machine could spend before the command even asked (it then never waited, and said nothing)."""
    from sitewatch.errors import STALL_LOGGER

    handler = _ReleaseOnStall(other)
    logging.getLogger(STALL_LOGGER).addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger(STALL_LOGGER).removeHandler(handler)


def test_a_database_locked_against_readers_is_waited_for_as_a_write_waits(tmp_path, monkeypatch, caplog):
    """A lock that keeps readers out too (another program's BEGIN EXCLUSIVE) held as a command opens the workspace:
    its first read waited the whole timeout in silence, took the lock for a file without sitewatch's tables, and
    failed a second timeout later with "migration to schema 1 failed (database is locked)". Now the read waits as
    a write does: said after LOCK_NOTICE_S, named at the end with what to do; released in time, the command goes on."""
    import logging

    from sitewatch.errors import STALL_LOGGER
    from sitewatch.store import sqlite as store_sqlite

    monkeypatch.setattr(store_sqlite, "LOCK_NOTICE_S", 0.2)
    monkeypatch.setattr(store_sqlite, "BUSY_TIMEOUT_S", 0.6)
    ws = init_workspace(tmp_path / "ws")
    other = sqlite3.connect(ws.root / "sitewatch.gpkg", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level(logging.WARNING, logger=STALL_LOGGER):
            with pytest.raises(StoreError) as failed:
                ws.store()
            [warned] = [r.getMessage() for r in caplog.records if r.name == STALL_LOGGER]
            assert warned.startswith(f"{ws.db_path}: waiting to read: another program holds a lock") and "QGIS" in warned
            message = str(failed.value)
            assert message.startswith(f"{ws.db_path}: cannot read the workspace database: another program holds")
            assert "not released in 0.6 s" in message and "run this command again" in message and "migration" not in message
            caplog.clear()
            monkeypatch.setattr(store_sqlite, "BUSY_TIMEOUT_S", 10.0)
            with _released_on_stall(other), ws.store() as store:
                store.put_site(builtin_sites()["dunai"])
            assert [r.name for r in caplog.records] == [STALL_LOGGER] and not other.in_transaction
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


def test_an_older_workspace_migrated_under_another_programs_lock_waits_as_a_write_does(tmp_path, monkeypatch, caplog):
    """A workspace of an older schema opened while QGIS edits one of its layers (the first command after an
    upgrade): the migration waited the whole timeout in silence and failed with 'migration to schema 7 failed
    (database is locked)'. Now it waits as every write does (said after LOCK_NOTICE_S, named at the end with
    what to do, nothing of it run) and, the lock released in time, migrates."""
    import logging

    from sitewatch.errors import STALL_LOGGER
    from sitewatch.store import sqlite as store_sqlite

    monkeypatch.setattr(store_sqlite, "LOCK_NOTICE_S", 0.2)
    monkeypatch.setattr(store_sqlite, "BUSY_TIMEOUT_S", 0.6)
    path = tmp_path / "old.gpkg"
    old_database(path, 6).close()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # QGIS: a layer in editing mode
    try:
        with caplog.at_level(logging.WARNING, logger=STALL_LOGGER):
            with pytest.raises(StoreError) as failed:
                Store(path)
            [warned] = [r.getMessage() for r in caplog.records if r.name == STALL_LOGGER]
            assert warned.startswith(f"{path}: waiting to write: another program holds a lock"), warned
            message = str(failed.value)
            assert message.startswith(f"{path}: cannot write to the workspace database: another program holds"), message
            assert "not released in 0.6 s" in message and "leave editing mode" in message and "migration" not in message
            with closing(sqlite3.connect(path)) as db:
                assert db.execute("SELECT value FROM sitewatch_meta WHERE key = 'schema_version'").fetchone() == ("6",)
            caplog.clear()
            monkeypatch.setattr(store_sqlite, "BUSY_TIMEOUT_S", 10.0)
            with _released_on_stall(other), Store(path) as store:
                assert store.schema_version() == SCHEMA_VERSION
            assert [r.name for r in caplog.records] == [STALL_LOGGER] and not other.in_transaction
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


def test_an_older_workspace_that_cannot_be_written_says_it_needs_migrating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A colleague's workspace made by an older sitewatch, on a read-only mount: every command said 'migration to
    schema 3 failed (attempt to write a readonly database)'. Now it says the database is of an older schema, that
    this sitewatch updates it once, and what to do; `eval` does not suggest --no-record, which would not help."""
    from click.testing import CliRunner

    from sitewatch.cli import main

    ws = init_workspace(tmp_path / "ws")
    ws.db_path.unlink()
    old_database(ws.db_path, 2).close()
    before = ws.db_path.read_bytes()
    connect = sqlite3.connect

    def read_only(path: Path, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        return connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    for command in (["observations"], ["eval"]):
        res = CliRunner().invoke(main, [*command, "-w", str(ws.root)])
        assert res.exit_code == 1 and isinstance(res.exception, SystemExit), (command, res.exception)
        said = " ".join(res.output.split())
        assert f"{ws.db_path}: the workspace database is of schema version 2, made by an older sitewatch" in said, said
        assert f"this one reads {SCHEMA_VERSION}" in said and "cp -a" in said and "readonly" in said, said
        assert "migration to schema" not in said and "--no-record" not in said, said
    assert ws.db_path.read_bytes() == before
    monkeypatch.setattr(sqlite3, "connect", connect)
    with Store(ws.db_path) as store:  # where it may be written, it is migrated
        assert store.schema_version() == SCHEMA_VERSION


def test_the_wait_for_a_locked_database_is_said_even_under_quiet(tmp_path):
    """-q hides warnings, but not this one: a cron job waiting on QGIS's lock would look hung."""
    import subprocess
    import sys

    ws = init_workspace(tmp_path / "ws")
    other = sqlite3.connect(ws.root / "sitewatch.gpkg", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    code = (
        "import sys; import sitewatch.store.sqlite as s; s.LOCK_NOTICE_S = 0.2; s.BUSY_TIMEOUT_S = 0.5\n"
        "from sitewatch.cli import main; main(sys.argv[1:])"
    )
    try:
        r = subprocess.run(
            [sys.executable, "-c", code, "-q", "sites", "add", "p", "--bbox", "131.0,42.0,131.1,42.1", "-w", str(ws.root)],
            capture_output=True, encoding="locale", timeout=60,
        )  # fmt: skip
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert r.returncode == 1
    assert f"WARNING sitewatch.stalled: {ws.db_path}: waiting to write: another program holds a lock" in r.stderr
    assert "not released in 0.5 s" in r.stderr and "Traceback" not in r.stderr


_ASSIGNABLE = {"GEOMETRY": None, "POLYGON": {"Polygon"}, "MULTIPOLYGON": {"MultiPolygon"}, "LINESTRING": {"LineString"}}


def _geometry_type_problems(path: Path) -> list[str]:
    """What breaks GeoPackage's rules on geometry columns: the declared type (gpkg_geometry_columns and the
    column's own), the SRS of each blob, and each stored geometry assignable to the declared type."""
    problems = []
    with closing(sqlite3.connect(path)) as db:
        srs_ids = {r[0] for r in db.execute("SELECT srs_id FROM gpkg_spatial_ref_sys")}
        for table, column, declared, srs_id in db.execute(
            "SELECT table_name, column_name, geometry_type_name, srs_id FROM gpkg_geometry_columns"
        ).fetchall():
            column_type = next(r[2] for r in db.execute(f"PRAGMA table_info({table})") if r[1] == column)
            if column_type != declared:
                problems.append(f"{table}.{column}: column type {column_type}, gpkg_geometry_columns {declared}")
            if srs_id not in srs_ids:
                problems.append(f"{table}: srs_id {srs_id} is not in gpkg_spatial_ref_sys")
            for (blob,) in db.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"):
                if int.from_bytes(blob[4:8], "little") != srs_id:
                    problems.append(f"{table}: a geometry with srs_id {int.from_bytes(blob[4:8], 'little')}")
                kind = from_gpkg_blob(blob).geom_type
                if _ASSIGNABLE[declared] is not None and kind not in _ASSIGNABLE[declared]:
                    problems.append(f"{table}: a {kind} in a {declared} layer")
    return problems


_ACROSS_180 = MultiPolygon([box(179.5, -17.0, 180.0, -16.0), box(-180.0, -17.0, -179.5, -16.0)])


def test_scene_footprints_across_the_antimeridian_fit_the_scenes_layer(tmp_path: Path) -> None:
    """The scenes layer was declared POLYGON and held a MultiPolygon for a scene across 180°."""
    import pyogrio
    import shapely

    ws = init_workspace(tmp_path / "ws")
    fiji = Site(id="fiji", name="Suva", kind="port", geometry=box(178.40, -18.16, 178.46, -18.11),
                berths=(Berth("q", LineString([(178.42, -18.14), (178.43, -18.14)])), Berth("b", box(178.44, -18.14, 178.45, -18.13))),
                water=MultiPolygon([box(178.41, -18.15, 178.42, -18.14), box(178.43, -18.13, 178.44, -18.12)]))  # fmt: skip
    across = _obs("fiji", "across")
    across = Observation(**{**across.__dict__, "scene": SceneRef(**{**across.scene.__dict__, "footprint": _ACROSS_180})})
    with ws.store() as store:
        store.put_site(fiji)
        for obs in (across, _obs("fiji", "plain")):
            store.put_observation(obs, footprint=box(178.40, -18.16, 178.46, -18.11))
            store.replace_detections(obs, [_det(obs, 0)])
        assert store.get_observation(across.id).scene.footprint.equals(_ACROSS_180)
        assert store.get_observation("fiji/plain").scene.footprint == box(132.3, 42.8, 132.4, 42.9)  # a Polygon, as given
    assert _geometry_type_problems(ws.db_path) == []
    info = pyogrio.read_info(ws.db_path, layer="scenes")
    assert info["geometry_type"] == "MultiPolygon" and info["features"] == 2
    assert info["total_bounds"] == (-180.0, -17.0, 180.0, 42.9)
    _, _, geoms, _ = pyogrio.raw.read(ws.db_path, layer="scenes")
    assert {shapely.from_wkb(g).geom_type for g in geoms} == {"MultiPolygon"}


def test_scenes_of_an_older_workspace_become_multipolygons(tmp_path: Path) -> None:
    path = tmp_path / "old.gpkg"
    db = old_database(path, 4)
    for item, footprint in (("a", box(132.3, 42.8, 132.4, 42.9)), ("b", _ACROSS_180), ("c", None)):
        db.execute(
            "INSERT INTO scenes (geom, scene_id, provider, collection, item_id, sensor, acquired, resolution_m, simulated,"
            " hrefs, properties) VALUES (?, ?, 'local', 'test', ?, 'sar', '2024-10-17T09:30:00.000Z', 10, 0, '{}', '{}')",
            (to_gpkg_blob(footprint), f"local:test:{item}", item),
        )
    db.commit()
    db.close()
    assert _geometry_type_problems(path) == ["scenes: a MultiPolygon in a POLYGON layer"]
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        rows = {r["scene_id"]: store._scene_from_row(r).footprint for r in store.execute("SELECT * FROM scenes")}
    assert rows["local:test:a"] == box(132.3, 42.8, 132.4, 42.9) and rows["local:test:b"].equals(_ACROSS_180)
    assert rows["local:test:c"] is None
    assert _geometry_type_problems(path) == []


def test_a_read_only_database_is_named_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A workspace on a read-only disk (or a database file the user may not write): every command
    that writes ended in sqlite3's 'attempt to write a readonly database' traceback."""
    from click.testing import CliRunner

    from sitewatch.cli import main

    ws = init_workspace(tmp_path / "ws")
    connect = sqlite3.connect

    def read_only(path: Path, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        # As a file on a read-only disk opens (file modes bind no root): BEGIN passes, the first write fails.
        return connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    res = CliRunner().invoke(main, ["sites", "add", "harbour", "--bbox", "132.30,42.86,132.37,42.90", "-w", str(ws.root)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.exception
    assert f"{ws.db_path}: cannot write to the workspace database (attempt to write a readonly database)" in res.output
    monkeypatch.setattr(sqlite3, "connect", connect)
    with ws.store() as store:
        assert store.counts()["sites"] == 0
        store.put_site(builtin_sites()["dunai"])  # the failed transaction was rolled back, not left open


# -- the spatial index (GeoPackage's gpkg_rtree_index) --------------------------------------------


def _index_problems(path: Path) -> list[str]:
    """What keeps a feature table's R-tree from being its spatial index (GeoPackage Annex F.3): no
    gpkg_extensions row or no R-tree, a row missing or left over, or bounds that are not those of
    the row's geometry as the R-tree stores them (float32, moved outwards by at most two of its steps)."""
    problems = []
    with closing(sqlite3.connect(path)) as db:
        extensions = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_extensions'").fetchone() is not None
        for table, column in db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall():
            rtree = f"rtree_{table}_{column}"
            registered = extensions and db.execute(
                "SELECT count(*) FROM gpkg_extensions WHERE table_name = ? AND column_name = ? "
                "AND extension_name = 'gpkg_rtree_index' AND scope = 'write-only'", (table, column),
            ).fetchone()[0]  # fmt: skip
            if registered != 1 or not db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (rtree,)).fetchone():
                problems.append(f"{table}: no spatial index")
                continue
            geoms = {fid: from_gpkg_blob(blob) for fid, blob in db.execute(f"SELECT fid, {column} FROM {table}")}
            want = {fid: g.bounds for fid, g in geoms.items() if g is not None and not g.is_empty}
            got = {r[0]: (r[1], r[3], r[2], r[4]) for r in db.execute(f"SELECT id, minx, maxx, miny, maxy FROM {rtree}")}
            if set(got) != set(want):
                problems.append(f"{table}: index holds fids {sorted(got)}, the table's geometries are {sorted(want)}")
            for fid in set(got) & set(want):
                (x0, y0, x1, y1), (a0, b0, a1, b1) = want[fid], got[fid]
                outwards = a0 <= x0 and b0 <= y0 and a1 >= x1 and b1 >= y1
                close = all(abs(v - w) <= abs(w) * 2**-21 for v, w in zip((a0, b0, a1, b1), (x0, y0, x1, y1), strict=True))
                if not (outwards and close):
                    problems.append(f"{table} fid {fid}: index bounds {got[fid]}, geometry {want[fid]}")
    return problems


def _layers(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as db:
        return [r[0] for r in db.execute("SELECT table_name FROM gpkg_geometry_columns ORDER BY 1")]


def test_every_layer_has_a_spatial_index_that_gdal_finds_and_reads_through(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The GeoPackage had no R-tree: QGIS and GDAL read every row of a layer for each map view."""
    import pyogrio
    import shapely

    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        dunai = builtin_sites()["dunai"]
        store.put_site(Site(**{**dunai.__dict__, "berths": (Berth("pier-1", LineString([(132.33, 42.87), (132.34, 42.87)])),),
                               "water": box(132.32, 42.86, 132.36, 42.89)}))  # fmt: skip
        store.put_site(Site(id="lost", name="Lost", kind="port", geometry=None, resolved=False))  # a NULL geometry
        obs = _obs()
        store.put_observation(obs, footprint=box(132.3, 42.8, 132.4, 42.9))
        store.replace_detections(obs, [_det(obs, i) for i in range(12)])
    assert _layers(ws.db_path) == ["berths", "changes", "detections", "observations", "scenes", "site_water", "sites"]
    assert _index_problems(ws.db_path) == []
    for layer in _layers(ws.db_path):
        (has,) = pyogrio.raw.read(ws.db_path, sql=f"SELECT HasSpatialIndex('{layer}', 'geom')")[3]
        assert has.tolist() == [1], layer
        assert pyogrio.read_info(ws.db_path, layer=layer)["capabilities"]["fast_spatial_filter"], layer
    # GDAL reads a map view's features through the index, and finds those the view holds.
    view = (132.3345, 42.87, 132.3375, 42.89)  # detections 4 to 7 (each 0.0005° wide, 0.001° apart)
    pyogrio.set_gdal_config_options({"CPL_DEBUG": "ON"})
    try:
        capfd.readouterr()
        meta, _, _, fields = pyogrio.raw.read(ws.db_path, layer="detections", bbox=view)
        log = capfd.readouterr().err
    finally:
        pyogrio.set_gdal_config_options({"CPL_DEBUG": None})
    assert 'JOIN "rtree_detections_geom"' in log, log
    ids = sorted(fields[list(meta["fields"]).index("detection_id")].tolist())
    assert ids == sorted(d.id for d in (_det(obs, i) for i in range(12)) if d.footprint.intersects(shapely.box(*view)))
    assert ids == [f"dunai/scene-1#{i}" for i in range(4, 8)]


def test_the_index_follows_every_write_sitewatch_gdal_or_a_script_makes(tmp_path: Path) -> None:
    """Triggers keep the index, whoever writes: GDAL (QGIS editing a layer) trusts an index it finds and
    updates it through them alone, so a feature it added would be missing from every map view."""
    import pyogrio
    import shapely

    ws = init_workspace(tmp_path / "ws")
    dunai = builtin_sites()["dunai"]
    with ws.store() as store:
        store.put_site(dunai)
        obs = _obs()
        store.put_observation(obs, footprint=box(132.3, 42.8, 132.4, 42.9))
        store.replace_detections(obs, [_det(obs, i) for i in range(5)])
        store.replace_detections(obs, [_det(obs, i) for i in range(2, 4)])  # delete, then insert
        store.put_site(Site(id="dunai", name="Dunai", kind="port", geometry=box(10.0, 10.0, 10.1, 10.1)))  # an upsert moves it
        assert _index_problems(ws.db_path) == []
        store.put_site(Site(id="dunai", name="Dunai", kind="port", geometry=None, resolved=False))  # to NULL
        assert _index_problems(ws.db_path) == []
        store.put_site(dunai)  # and back
        store.put_site(Site(id="far", name="Far", kind="area", geometry=box(20.0, 20.0, 20.1, 20.1)))
        store.delete_site("far")
    assert _index_problems(ws.db_path) == []
    # A water polygon drawn in QGIS: GDAL inserts it, its own ST_ functions run sitewatch's triggers.
    drawn = box(132.33, 42.87, 132.35, 42.88)
    pyogrio.raw.write(ws.db_path, geometry=np.array([shapely.to_wkb(drawn)], dtype=object), field_data=[np.array(["dunai"])],
                      fields=["site_id"], layer="site_water", driver="GPKG", geometry_type="Polygon", crs="EPSG:4326",
                      append=True)  # fmt: skip
    assert _index_problems(ws.db_path) == []
    meta, _, _, fields = pyogrio.raw.read(ws.db_path, layer="site_water", bbox=(132.34, 42.875, 132.341, 42.876))
    assert fields[0].tolist() == ["dunai"]
    with ws.store() as store:
        assert store.get_site("dunai").water is not None and store.get_site("dunai").water.equals(drawn)
    # A script's own connection: it may read and delete, but an insert or update is refused whole
    # (the index is never left behind) until it registers the functions.
    with closing(sqlite3.connect(ws.db_path)) as db, db:
        with pytest.raises(sqlite3.OperationalError, match="no such function: ST_IsEmpty"):
            db.execute("UPDATE detections SET score = 1")
        db.execute("DELETE FROM detections WHERE detection_id = 'dunai/scene-1#2'")
    assert _index_problems(ws.db_path) == []

    with closing(sqlite3.connect(ws.db_path)) as db, db:
        register_gpkg_functions(db)
        db.execute("UPDATE detections SET geom = ? WHERE detection_id = 'dunai/scene-1#3'", (to_gpkg_blob(box(132.0, 42.0, 132.1, 42.1)),))
        db.execute("UPDATE detections SET fid = fid + 100")  # a new fid: update5 moves its index row
    assert _index_problems(ws.db_path) == []


def test_gpkg_functions_read_any_writer_s_geometries() -> None:
    """ST_IsEmpty, ST_MinX… as the triggers call them: from the header's envelope, from the geometry when
    a writer (GDAL, for points) left the envelope out, in either byte order; NULL for NULL."""
    import shapely

    from sitewatch.store.gpkg import GPKG_FUNCTIONS

    def call(name: str, blob: object) -> object:
        return GPKG_FUNCTIONS[name](blob)

    line = LineString([(132.1, 42.2), (132.4, 42.0)])
    no_envelope = b"GP\x00\x01" + (4326).to_bytes(4, "little") + shapely.to_wkb(Point(3.5, -2.0), byte_order=1)
    big_endian = b"GP\x00\x02" + (4326).to_bytes(4, "big") + struct.pack(">4d", 1.0, 2.0, 3.0, 4.0) + shapely.to_wkb(box(1, 3, 2, 4), byte_order=0)
    cases = {
        to_gpkg_blob(line): (0, 132.1, 132.4, 42.0, 42.2),
        no_envelope: (0, 3.5, 3.5, -2.0, -2.0),
        big_endian: (0, 1.0, 2.0, 3.0, 4.0),
        to_gpkg_blob(Polygon()): (1, None, None, None, None),
        None: (None, None, None, None, None),
        b"not a geometry": (None, None, None, None, None),
    }
    for blob, expected in cases.items():
        got = tuple(call(name, blob) for name in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"))
        assert got == expected, blob


def test_the_triggers_are_those_gdal_writes(tmp_path: Path) -> None:
    """Annex F.3 of GeoPackage 1.4, as GDAL makes it for a layer of its own (names and bodies, but for
    quoting and spaces): QGIS and validators find the triggers they expect."""
    import pyogrio
    import shapely

    def triggers(path: Path, table: str) -> dict[str, str]:
        with closing(sqlite3.connect(path)) as db:
            return {
                name: "".join(sql.replace('"', "").split()).lower()
                for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,))
                if name.startswith("rtree_")
            }

    gdal = tmp_path / "gdal.gpkg"
    pyogrio.raw.write(gdal, geometry=np.array([shapely.to_wkb(box(0, 0, 1, 1))], dtype=object), field_data=[], fields=[],
                      layer="detections", driver="GPKG", geometry_type="Polygon", crs="EPSG:4326")  # fmt: skip
    ws = init_workspace(tmp_path / "ws")
    ours = triggers(ws.db_path, "detections")
    assert sorted(ours) == [f"rtree_detections_geom_{n}" for n in ("delete", "insert", "update2", "update4", "update5", "update6", "update7")]
    assert ours == triggers(gdal, "detections")


def test_a_workspace_of_schema_5_gets_its_spatial_indexes_filled(tmp_path: Path) -> None:
    from sitewatch.store.schema import rtree_index_sql

    path = tmp_path / "old.gpkg"
    with Store(tmp_path / "new.gpkg") as store:  # rows to copy: a site with berths and water, scenes, detections
        dunai = builtin_sites()["dunai"]
        store.put_site(Site(**{**dunai.__dict__, "berths": (Berth("pier-1", LineString([(132.33, 42.87), (132.34, 42.87)])),),
                               "water": box(132.32, 42.86, 132.36, 42.89)}))  # fmt: skip
        store.put_site(Site(id="lost", name="Lost", kind="port", geometry=None, resolved=False))
        obs = _obs()
        store.put_observation(obs, footprint=box(132.3, 42.8, 132.4, 42.9))
        store.replace_detections(obs, [_det(obs, i) for i in range(6)])
    db = old_database(path, 5)
    # Into schema 5's columns and layers: not the later versions' (detections' truncated, 7; acquired_date_only, 8; changes, 9).
    copy_rows(db, tmp_path / "new.gpkg", _layers(tmp_path / "new.gpkg"))
    db.commit()
    db.close()
    assert _index_problems(path) == [f"{t}: no spatial index" for t in _layers(path)]
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 15
        assert len(store.detections()) == 6
    assert _index_problems(path) == []
    # An index QGIS made on a layer before the upgrade ("create spatial index"; GDAL before 3.9 wrote
    # GeoPackage 1.3's update1 trigger, which an upsert breaks) is made again, not a failure.
    again = tmp_path / "qgis.gpkg"
    db = old_database(again, 5)
    db.execute("CREATE TABLE gpkg_extensions (table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, "
               "definition TEXT NOT NULL, scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))")  # fmt: skip
    db.executescript(rtree_index_sql("detections") + """
CREATE TRIGGER rtree_detections_geom_update1 AFTER UPDATE OF geom ON detections
  WHEN OLD.fid = NEW.fid AND (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO rtree_detections_geom VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom));
END;""")
    db.commit()
    db.close()
    with Store(again) as store:
        assert store.schema_version() == SCHEMA_VERSION
        names = {r[0] for r in store.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert "rtree_detections_geom_update1" not in names and "rtree_detections_geom_update6" in names
    assert _index_problems(again) == []



_WRITE_PAST_THE_LIMIT = """
import resource, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from test_store import _det, _obs
from sitewatch.errors import StoreError
from sitewatch.sites import builtin_sites
from sitewatch.store import Store

path = Path(sys.argv[1])
with Store(path) as store:
    obs = _obs()
    store.put_site(builtin_sites()["dunai"])
    store.put_observation(obs)
    store.replace_detections(obs, [_det(obs, 0)])
    # No file may grow past the database's size now (as on a disk that fills; Python ignores SIGXFSZ).
    resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size, resource.RLIM_INFINITY))
    try:
        store.replace_detections(obs, [_det(obs, i) for i in range(5000)])
    except StoreError as exc:
        print("StoreError:", exc)
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    print("detections:", store.counts()["detections"])
    store.replace_detections(obs, [_det(obs, i) for i in range(5000)])
    print("then:", store.counts()["detections"])
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX's")
def test_a_write_that_fails_mid_statement_is_named_and_leaves_the_rows_as_they_were(tmp_path: Path) -> None:
    """A write that fails mid-statement (a full disk, a file-size limit) has SQLite roll the transaction
    back itself; the store then ran ROLLBACK again, and `sitewatch change` on a full disk ended in a traceback
    saying "cannot rollback - no transaction is active" instead of naming the database and what failed."""
    path = tmp_path / "db.gpkg"
    run = subprocess.run(
        [sys.executable, "-c", _WRITE_PAST_THE_LIMIT, str(path), str(Path(__file__).parent)],
        capture_output=True, text=True, encoding="utf-8", timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert f"StoreError: {path}: cannot write to the workspace database (disk I/O error)" in run.stdout, run.stdout
    assert "detections: 1\nthen: 5000" in run.stdout, run.stdout
