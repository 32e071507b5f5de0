"""The workspace store: a valid GeoPackage, transactional, idempotent writes, migrations."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import LineString, MultiPolygon, Point, box

from sitewatch.errors import StoreError
from sitewatch.model import Berth, Detection, Grid, Observation, SceneRef, Site
from sitewatch.sites import builtin_sites
from sitewatch.store import Store
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
    with sqlite3.connect(ws.db_path) as db:
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
    with sqlite3.connect(path) as db:
        db.execute("UPDATE sitewatch_meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer"):
        Store(path)


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

    from sitewatch.store.schema import MIGRATIONS

    path = tmp_path / "old.gpkg"
    db = sqlite3.connect(path)
    db.executescript("\n".join(MIGRATIONS[:3]) + "\nINSERT INTO sitewatch_meta VALUES ('schema_version', '3');")
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
        with ws.store() as store, pytest.raises(StoreError, match=r"sitewatch.gpkg: cannot write .*database is locked"):
            store.put_site(builtin_sites()["dunai"])
    finally:
        other.execute("ROLLBACK")
        other.close()


_ASSIGNABLE = {"GEOMETRY": None, "POLYGON": {"Polygon"}, "MULTIPOLYGON": {"MultiPolygon"}, "LINESTRING": {"LineString"}}


def _geometry_type_problems(path: Path) -> list[str]:
    """What breaks GeoPackage's rules on geometry columns: the declared type (gpkg_geometry_columns and the
    column's own), the SRS of each blob, and each stored geometry assignable to the declared type."""
    problems = []
    with sqlite3.connect(path) as db:
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
    from sitewatch.store.schema import MIGRATIONS

    path = tmp_path / "old.gpkg"
    db = sqlite3.connect(path)
    db.executescript("\n".join(MIGRATIONS[:4]) + "\nINSERT INTO sitewatch_meta VALUES ('schema_version', '4');")
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
