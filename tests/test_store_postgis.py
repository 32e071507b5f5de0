"""The PostGIS team store: the GeoPackage store's behaviour on both backends, and what a team needs of it
(schema versions, two writers at once, bad URLs named, copying a workspace in).

Needs SITEWATCH_TEST_POSTGRES (see tests/_postgis.py); the tests that do not need a server run always.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from click.testing import CliRunner
from shapely.geometry import LineString, box

from _postgis import Said, Server, admin, with_database
from sitewatch import __version__
from sitewatch.cli import main
from sitewatch.errors import StoreError
from sitewatch.model import Berth, Change, Site
from sitewatch.sites import builtin_sites
from sitewatch.store import Store, mask_url, open_store
from sitewatch.store.alerts import (
    known_event_keys,
    mark_delivered,
    pending_count,
    record_events,
    stored_events,
)
from sitewatch.store.changes import change_pairs, changes, replace_changes
from sitewatch.store.copy import copy_store
from sitewatch.store.pg_schema import PG_FEATURE_TABLES, PG_SCHEMA_VERSION
from sitewatch.store.postgis import (
    PostgisStore,
    has_password,
    same_database,
    url_role,
    url_without_password,
    url_without_role,
)
from sitewatch.store.schema import SCHEMA_VERSION
from sitewatch.testing.postgres import PASSWORD_ROLE
from sitewatch.workspace import Workspace, init_workspace, open_workspace, set_store_setting
from test_store import _det, _obs


@pytest.fixture(params=["geopackage", "postgis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same tests on both stores."""
    location: Any = tmp_path / "s.gpkg" if request.param == "geopackage" else request.getfixturevalue("pg_url")
    with open_store(location) as s:
        yield s


def _site() -> Site:
    site = builtin_sites()["dunai"]
    return Site(**{**site.__dict__, "berths": (Berth("pier-1", LineString([(132.33, 42.87), (132.34, 42.87)])),),
                   "water": box(132.33, 42.86, 132.35, 42.875)})  # fmt: skip


# -- the store's API, on both -------------------------------------------------------------------


def test_sites_observations_detections_round_trip_and_reruns_do_not_duplicate(store: Store) -> None:
    site, obs = _site(), _obs()
    for _ in range(2):
        store.put_site(site)
        store.put_observation(obs, footprint=box(132.3, 42.8, 132.4, 42.9))
        store.replace_detections(obs, [_det(obs, i) for i in range(3)])
    assert store.get_site("dunai") == site and store.sites() == [site]
    assert store.get_observation(obs.id) == obs and store.observations("dunai", sensor="sar") == [obs]
    assert store.detections(site_id="dunai") == [_det(obs, i) for i in range(3)]
    assert store.counts() == {"sites": 1, "berths": 1, "site_water": 1, "scenes": 1, "observations": 1, "detections": 3}
    assert store.undetected() == set()
    assert store.observation_footprints(["dunai"])[obs.id].equals(box(132.3, 42.8, 132.4, 42.9))
    store.clear_detections(obs.id)
    assert store.undetected("dunai") == {obs.id} and store.detections() == []


def test_an_interrupted_transaction_leaves_no_half_rows(store: Store) -> None:
    obs = _obs()
    store.put_observation(obs)
    with pytest.raises(RuntimeError), store.transaction():
        store.replace_detections(obs, [_det(obs, 1)])
        raise RuntimeError("stop")
    assert store.detections() == []


def test_the_same_cog_again_keeps_what_detection_measured_and_another_drops_its_detections(store: Store) -> None:
    obs = _obs()
    store.put_observation(obs)
    store.replace_detections(obs, [_det(obs, 1)])
    store.set_cloud_fraction(obs.id, 0.25)
    store.set_berths_hidden(obs.id, {"pier-1": 0.5})
    store.put_observation(obs)
    again = store.get_observation(obs.id)
    assert again.cloud_fraction == 0.25 and again.provenance["berths_hidden"] == {"pier-1": 0.5}
    assert len(store.detections()) == 1 and store.undetected() == set()
    store.put_observation(type(obs)(**{**obs.__dict__, "sha256": "1" * 64}))
    assert store.detections() == [] and store.undetected() == {obs.id}


def test_a_pair_compared_again_to_the_same_regions_keeps_its_rows(store: Store) -> None:
    """``change`` run again with nothing new finds the same regions: the pair's rows stay as stored (their fids, and
    ``computed_at``, when these regions were found), where they were deleted and inserted anew; other regions, or the
    same regions of another comparison (other parameters), replace them, ``computed_at`` then the new run's."""
    before, after = _obs(item="a"), _obs(item="b")
    after = replace(after, scene=replace(after.scene, acquired=datetime(2024, 10, 18, tzinfo=UTC)))
    found = [Change(f"c{i}", "dunai", before.id, after.id, box(132.33, 42.88, 132.331 + i / 1000, 42.881), 100.0 * (i + 1),
                    2.0, "appeared", "test", "1") for i in range(2)]  # fmt: skip

    def compare(regions: list[Change], parameters: dict[str, Any]) -> Any:
        return replace_changes(store, before, after, compared_fraction=0.9, method="test", method_version="1",
                               parameters=parameters, changes=regions)  # fmt: skip

    def rows() -> list[Any]:
        return [tuple(r) for r in store.execute("SELECT * FROM change_pairs ORDER BY pair_id")] + [
            tuple(r) for r in store.execute("SELECT * FROM changes ORDER BY fid")]  # fmt: skip

    first = compare(found, {"x": 1.5})
    stored = rows()
    again = compare(list(reversed(found)), {"x": 1.5})
    assert rows() == stored
    assert again.computed_at == first.computed_at == change_pairs(store, "dunai")[0].computed_at
    compare(found, {"x": 2.5})
    assert rows() != stored and change_pairs(store, "dunai")[0].parameters == {"x": 2.5}
    stored = rows()
    compare([found[0], replace(found[1], area_m2=300.0)], {"x": 2.5})
    assert rows() != stored and sorted(c.area_m2 for c in changes(store, "dunai")) == [100.0, 300.0]
    compare(found[:1], {"x": 2.5})
    assert [c.id for c in changes(store, "dunai")] == ["c0"]


def test_a_pair_keeps_what_its_regions_rest_on_and_the_same_regions_again_only_update_it(store: Store) -> None:
    """``change_pairs.inputs`` (schema 15, PostGIS 5): stored with the pair, read back by ``change_pairs`` and
    ``stored_inputs``; the same regions compared from other inputs (a change of sitewatch that finds them again) keep
    the pair's rows and ``computed_at``, and only the record of the inputs follows."""
    from sitewatch.change_state import stored_inputs

    before, after = _obs(item="a"), _obs(item="b")
    after = replace(after, scene=replace(after.scene, acquired=datetime(2024, 10, 18, tzinfo=UTC)))
    found = [Change("c0", "dunai", before.id, after.id, box(132.33, 42.88, 132.331, 42.881), 100.0, 2.0, "appeared", "test", "1")]

    def compare(inputs: str) -> Any:
        return replace_changes(store, before, after, compared_fraction=0.9, method="test", method_version="1",
                               parameters={"x": 1}, changes=found, inputs=inputs)  # fmt: skip

    first = compare("a" * 64)
    assert change_pairs(store, "dunai")[0].inputs == "a" * 64 == first.inputs
    assert stored_inputs(store, "dunai") == {(before.id, after.id): "a" * 64}
    fids = [tuple(r) for r in store.execute("SELECT fid FROM changes")]
    again = compare("b" * 64)
    assert again.computed_at == first.computed_at and [tuple(r) for r in store.execute("SELECT fid FROM changes")] == fids
    assert stored_inputs(store, "dunai") == {(before.id, after.id): "b" * 64}
    assert stored_inputs(store, "rason") == {}


def test_a_postgis_store_of_version_4_gets_change_pairs_inputs_keeping_its_pairs(pg_url: str) -> None:
    before, after = _obs(item="a"), _obs(item="b")
    with PostgisStore(pg_url) as s:
        replace_changes(s, before, after, compared_fraction=0.9, method="test", method_version="1", parameters={},
                        changes=[], inputs="c" * 64)  # fmt: skip
    with _raw(pg_url) as conn:  # the store as sitewatch of PostGIS schema 4 left it
        conn.execute("ALTER TABLE change_pairs DROP COLUMN inputs")
        conn.execute("UPDATE sitewatch_meta SET value = '4' WHERE key = 'schema_version'")
    with PostgisStore(pg_url) as s:
        assert s.schema_version() == PG_SCHEMA_VERSION == 5
        (pair,) = change_pairs(s, "dunai")
        assert (pair.before_id, pair.after_id, pair.inputs) == (before.id, after.id, "")


def test_meta_runs_changes_and_alert_events(store: Store) -> None:
    store.set_meta("k", "v")
    store.set_meta("k", "w")
    assert store.meta("k") == "w"
    store.set_meta("k", None)
    assert store.meta("k") is None
    store.record_run("detect", "dunai", {"a": 1}, {"b": 2})
    (run,) = store.execute("SELECT stage, site_id, parameters, summary, finished FROM runs")
    assert (run["stage"], json.loads(run["parameters"]), json.loads(run[3])) == ("detect", {"a": 1}, {"b": 2})
    assert run["finished"].endswith("Z") and len(run["finished"]) == 24  # the GeoPackage's DATETIME text on both

    before, after = _obs(item="a"), _obs(item="b")
    after = type(after)(**{**after.__dict__, "scene": type(after.scene)(**{**after.scene.__dict__, "acquired": datetime(2024, 10, 18, tzinfo=UTC)})})
    found = [Change(f"c{i}", "dunai", before.id, after.id, box(132.33, 42.88, 132.331 + i / 1000, 42.881), 100.0 * (i + 1),
                    2.0, "appeared", "test", "1") for i in range(2)]  # fmt: skip
    for _ in range(2):
        replace_changes(store, before, after, compared_fraction=0.9, method="test", method_version="1",
                        parameters={"x": 1}, changes=found)  # fmt: skip
    assert [c.id for c in changes(store, "dunai")] == ["c1", "c0"]  # largest first
    assert changes(store)[0].polygon.equals(found[1].polygon)
    (pair,) = change_pairs(store, "dunai")
    assert pair.after_acquired == datetime(2024, 10, 18, tzinfo=UTC) and pair.parameters == {"x": 1}

    event = {"event_id": "e1", "rule": "r", "kind": "arrival", "site": "dunai", "date": "2024-10-17",
             "acquired": "2024-10-17T09:30:00Z", "what": "x", "observations": [before.id], "simulated": True}  # fmt: skip
    assert record_events(store, [event], webhook=True) == 1
    assert record_events(store, [event], webhook=True) == 0
    assert known_event_keys(store) == {"e1"} and stored_events(store) == [event] and pending_count(store) == 1
    mark_delivered(store, ["e1"])
    assert pending_count(store) == 0


def test_queries_other_modules_run_read_the_same_on_both(store: Store) -> None:
    """The SQL the web app, the report and eval pass to ``execute``: booleans, aggregates, times as text."""
    from sitewatch.web.data import site_summaries

    store.put_site(_site())
    obs = _obs()
    store.put_observation(obs)
    store.replace_detections(obs, [_det(obs, i) for i in range(2)])
    (summary,) = site_summaries(store)
    assert summary | {"resolved": None} == {
        "id": "dunai", "name": summary["name"], "kind": summary["kind"], "resolved": None, "observations": 1,
        "detections": 2, "first_date": "2024-10-17", "last_date": "2024-10-17", "simulated": False,
    }  # fmt: skip
    assert store.execute("SELECT count(*) FROM observations WHERE NOT simulated")[0][0] == 1
    assert store.execute("SELECT 1 FROM observations WHERE detected_at > ? LIMIT 1", ("2000-01-01T00:00:00.000Z",))
    assert not store.execute("SELECT 1 FROM observations WHERE acquired >= ? AND acquired < ?",
                             ("2024-10-17T09:30:01.000Z", "2024-10-17T09:30:02.000Z"))  # fmt: skip


def test_removing_a_site_with_its_observations_removes_the_scenes_only_they_named(store: Store) -> None:
    # The scene rows stayed: a later, different file of the same name was then taken for a clash with them.
    dunai, other = _site(), Site(**{**_site().__dict__, "id": "other", "berths": ()})
    store.put_site(dunai)
    store.put_site(other)
    own, shared = _obs(item="own"), _obs(item="shared")
    elsewhere = type(shared)(**{**shared.__dict__, "id": "other/shared", "site_id": "other"})
    for obs in (own, shared, elsewhere):
        store.put_observation(obs)
    store.replace_detections(own, [_det(own, 0)])
    store.delete_site("dunai", observations=True)
    assert [r[0] for r in store.execute("SELECT scene_id FROM scenes")] == [shared.scene.id]  # other's still names it
    assert store.observations() == [elsewhere] and store.detections() == []
    store.delete_site("other", observations=True)
    assert store.counts()["scenes"] == 0


def test_removing_observations_removes_what_rests_on_them_or_nothing_when_one_is_unknown(store: Store) -> None:
    """``observations remove``: an observation goes with its detections, the change pairs and regions of which it is
    the before or the after image and its scene when no other observation names it; an unknown id among the ids
    removes nothing, and a removal is noted for ``alerts check``."""
    store.put_site(_site())
    store.put_site(replace(_site(), id="other", berths=()))
    a, b, c = _obs(item="a"), _obs(item="b"), _obs(item="c")
    b = replace(b, scene=replace(b.scene, acquired=datetime(2024, 10, 18, tzinfo=UTC)))
    c = replace(c, scene=replace(c.scene, acquired=datetime(2024, 10, 19, tzinfo=UTC)))
    twin = replace(c, id="other/c", site_id="other", path="archive/other/c.tif")  # of c's scene, at another site
    for obs in (a, b, c, twin):
        store.put_observation(obs)
        store.replace_detections(obs, [_det(obs, 0), _det(obs, 1)])
    for before, after in ((a, b), (b, c), (a, c)):
        region = Change(f"{before.id}>{after.id}", "dunai", before.id, after.id, box(132.33, 42.88, 132.331, 42.881),
                        100.0, 2.0, "appeared", "test", "1")  # fmt: skip
        replace_changes(store, before, after, compared_fraction=0.9, method="test", method_version="1", parameters={},
                        changes=[region])  # fmt: skip
    assert store.observation_dependents([b.id]) == {"detections": 2, "change_pairs": 2, "changes": 2}
    rows = (store.counts(), len(change_pairs(store, "dunai")))
    with pytest.raises(StoreError, match=r"no observation 'dunai/nosuch' in this workspace; nothing removed"):
        store.delete_observations([b.id, "dunai/nosuch"])
    assert (store.counts(), len(change_pairs(store, "dunai"))) == rows and store.get_observation(b.id) == b
    with store.transaction() as db:
        db.execute("DELETE FROM input_changes")
    assert store.delete_observations([b.id, b.id, c.id]) == [b, c]
    assert store.observations() == [a, twin]
    assert {d.observation_id for d in store.detections()} == {a.id, twin.id}
    assert change_pairs(store, "dunai") == [] and changes(store, "dunai") == []
    assert sorted(r[0] for r in store.execute("SELECT scene_id FROM scenes")) == [a.scene.id, c.scene.id]  # twin's
    assert store.execute("SELECT count(*) FROM input_changes WHERE site_id = 'dunai'")[0][0] > 0
    with pytest.raises(StoreError, match=r"no observation 'dunai/b'"):  # a rerun: gone
        store.delete_observations([b.id])
    store.delete_observations([twin.id])
    assert sorted(r[0] for r in store.execute("SELECT scene_id FROM scenes")) == [a.scene.id]


def test_a_pair_of_an_observation_removed_while_change_compared_it_is_not_recorded(store: Store) -> None:
    """``change`` compared a pair while `observations remove` took one of its images out: the pair and its regions
    were recorded after the removal's commit, resting on an observation no longer there (its neighbours' pair then
    beside it). Recorded only while both are stored as compared; the stage names the pair instead."""
    from sitewatch.errors import ObservationGoneError

    store.put_site(_site())
    before, after = _obs(item="a"), _obs(item="b")
    after = replace(after, scene=replace(after.scene, acquired=datetime(2024, 10, 18, tzinfo=UTC)))
    for obs in (before, after):
        store.put_observation(obs)
    region = Change("c0", "dunai", before.id, after.id, box(132.33, 42.88, 132.331, 42.881), 100.0, 2.0, "appeared", "test", "1")

    def compare() -> Any:
        return replace_changes(store, before, after, compared_fraction=0.9, method="test", method_version="1",
                               parameters={}, changes=[region], stored_only=True)  # fmt: skip

    store.put_observation(replace(after, sha256="2" * 64))  # replaced: another image under its id
    with pytest.raises(ObservationGoneError, match=r"dunai/a -> dunai/b: removed or replaced by another command"):
        compare()
    store.put_observation(after)
    assert compare().after_id == after.id
    store.delete_observations([after.id])
    with pytest.raises(ObservationGoneError):
        compare()
    assert change_pairs(store, "dunai") == [] and changes(store, "dunai") == []


# -- PostGIS only -------------------------------------------------------------------------------


def test_layers_are_postgis_geometry_columns_in_wgs84_with_gist_indexes(pg_url: str) -> None:
    with PostgisStore(pg_url) as s:
        cols = {r[0]: (r[1], r[2]) for r in s.execute("SELECT f_table_name, type, srid FROM geometry_columns")}
        assert cols == {t: (g.upper(), 4326) for t, g in PG_FEATURE_TABLES.items()}
        gist = {r[0] for r in s.execute("SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist%'")}
        assert gist == set(PG_FEATURE_TABLES)
        s.put_site(_site())
        assert s.execute("SELECT ST_Area(geom::geography) > 0, ST_SRID(geom) FROM sites")[0][:] == (True, 4326)


def test_schema_version_and_a_newer_database_refused(pg_url: str) -> None:
    # The refusal said 'schema version 2 is newer than this sitewatch (1)': no sitewatch version on either side.
    with PostgisStore(pg_url) as s:
        assert s.schema_version() == PG_SCHEMA_VERSION and s.meta("schema_written_by") == __version__
        s.set_meta("schema_version", str(PG_SCHEMA_VERSION + 1))
        s.set_meta("schema_written_by", "9.9.9")
        before = s.execute("SELECT key, value FROM sitewatch_meta ORDER BY key")
    newer = f"schema version {PG_SCHEMA_VERSION + 1} (made by sitewatch 9.9.9)"
    with pytest.raises(StoreError) as err:
        PostgisStore(pg_url)
    assert f"{newer} is newer than the schema {PG_SCHEMA_VERSION} this sitewatch ({__version__}) reads" in str(err.value)
    assert "upgrade sitewatch (nothing was changed)" in str(err.value)
    with pytest.raises(StoreError, match=re.escape(f"{newer}, this sitewatch ({__version__})")) as err:
        PostgisStore(pg_url, read_only=True)
    assert "upgrade sitewatch" in str(err.value)
    with _raw(pg_url) as conn:
        assert [tuple(r) for r in conn.execute("SELECT key, value FROM sitewatch_meta ORDER BY key")] == [tuple(r) for r in before]


def _open(url: str, ready: Any) -> None:
    ready.wait()  # every process connects at the same moment
    with PostgisStore(url, create=True) as s:
        sys.exit(0 if s.schema_version() == PG_SCHEMA_VERSION else 3)


def test_two_users_opening_a_new_store_at_once_migrate_it_once(pg_empty_url: str) -> None:
    pg_url = pg_empty_url
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(4)
    procs = [ctx.Process(target=_open, args=(pg_url, ready)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 4
    with PostgisStore(pg_url) as s:
        assert s.execute("SELECT count(*) FROM sitewatch_meta WHERE key = 'schema_version'")[0][0] == 1


def _detect(url: str, site_id: str, rounds: int) -> int:
    """What `detect` writes for one observation, ``rounds`` times over, from its own process."""
    obs = _obs(site_id=site_id)
    with PostgisStore(url) as s:
        for _ in range(rounds):
            with s.transaction():
                s.replace_detections(obs, [_det(obs, i) for i in range(20)])
                s.set_berths_hidden(obs.id, {})
            s.record_run("detect", site_id, {}, {})
        return len(s.detections(site_id=site_id))


def test_two_people_detecting_at_once_both_succeed_and_reruns_replace(pg_url: str) -> None:
    with PostgisStore(pg_url) as s:
        for site_id in ("dunai", "rason"):
            s.put_observation(_obs(site_id=site_id, item=f"scene-{site_id}"))
            s.put_observation(_obs(site_id=site_id))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        # Two sites at once, and the same site twice at once (a rerun racing the first run).
        assert pool.starmap(_detect, [(pg_url, "dunai", 15), (pg_url, "rason", 15), (pg_url, "dunai", 15), (pg_url, "rason", 15)]) == [20] * 4
    with PostgisStore(pg_url) as s:
        assert s.counts()["detections"] == 40
        assert s.execute("SELECT count(*) FROM runs")[0][0] == 60


def test_read_only_store_refuses_writes(pg_url: str) -> None:
    PostgisStore(pg_url).close()
    with PostgisStore(pg_url, read_only=True) as s, pytest.raises(StoreError, match="cannot write"):
        s.put_site(_site())


def test_an_unreachable_server_is_named_with_its_password_masked(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://ana:s3cret@/sitewatch?host={tmp_path}&port=1"
    with pytest.raises(StoreError) as err:
        PostgisStore(url)
    message = str(err.value)
    assert "cannot connect to the PostGIS store" in message and "s3cret" not in message
    assert mask_url(url) in message and "ana:***@" in message


def test_init_with_an_unreachable_store_makes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`init --store URL` with the server down exited 1 ("nothing done") but left the folder, a
    sitewatch.toml naming the store and archive/: the store is now reached before anything is made."""
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    url = f"postgresql://ana@/sitewatch?host={tmp_path}&port=1"
    res = CliRunner().invoke(main, ["init", str(tmp_path / "ws"), "--store", url])
    assert res.exit_code == 1 and "Error:" in res.output, res.output
    assert not (tmp_path / "ws").exists()
    kept = init_workspace(tmp_path / "kept")  # a workspace already there keeps its settings
    res = CliRunner().invoke(main, ["init", str(kept.root), "--store", url])
    assert res.exit_code == 1
    assert "store =" not in kept.config_path.read_text(encoding="utf-8").replace("# store =", "")


def test_the_cluster_helper_names_a_failure_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """README's `python -m sitewatch.testing.postgres start DIR`, run again on DIR (a cluster already
    made there), ended in a Python traceback around initdb's message."""
    from sitewatch.testing.postgres import main as cluster_main

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "PG_VERSION").write_text("15\n", encoding="utf-8")
    assert cluster_main(["start", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_the_wrong_password_is_named(postgres_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    admin(postgres_server.url, f"DROP ROLE IF EXISTS {PASSWORD_ROLE}", f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'right'")
    try:
        url = with_database(postgres_server.url, postgres_server.template).replace("postgres@", f"{PASSWORD_ROLE}:wrong@", 1)
        if "@" not in url or PASSWORD_ROLE not in url:
            pytest.skip("the server's URL names no user to swap")
        try:
            PostgisStore(url).close()
        except StoreError as exc:
            assert "password authentication failed" in str(exc) and "wrong" not in str(exc)
            assert "~/.pgpass" in str(exc) and "PGPASSWORD" in str(exc)  # where the right one goes
        else:
            pytest.skip("this server does not ask that role for a password (SITEWATCH_TEST_POSTGRES=auto's does)")
        # None given: libpq's "no password supplied" alone did not say where to give it.
        monkeypatch.delenv("PGPASSWORD", raising=False)
        monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
        with pytest.raises(StoreError, match=r"no password supplied.*give the password.*~/\.pgpass.*PGPASSWORD"):
            PostgisStore(url.replace(":wrong@", "@", 1))
        # A URL naming no role (a team's shared sitewatch.toml): the error says which role wanted the password.
        monkeypatch.setenv("PGUSER", PASSWORD_ROLE)
        with pytest.raises(StoreError, match=rf"names no role, so libpq signed in as '{PASSWORD_ROLE}'"):
            PostgisStore(url.replace(f"{PASSWORD_ROLE}:wrong@", "", 1))
    finally:
        admin(postgres_server.url, f"DROP ROLE IF EXISTS {PASSWORD_ROLE}")


def test_a_role_that_does_not_exist_of_a_url_naming_none_says_where_it_came_from(
    postgres_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A team's shared URL names no role: "check the user in the URL" pointed at a URL without one.
    parts = urlsplit(with_database(postgres_server.url, postgres_server.template))
    url = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    monkeypatch.setenv("PGUSER", "no_such_member_xyz")
    with pytest.raises(StoreError, match=r"names no role, so libpq signed in as 'no_such_member_xyz'"):
        PostgisStore(url)


def test_a_database_that_does_not_exist_is_named_with_how_to_make_it(postgres_server: Server) -> None:
    with pytest.raises(StoreError, match=r'database "sitewatch_nothere" does not exist.*createdb sitewatch_nothere.*CREATE EXTENSION postgis'):
        PostgisStore(with_database(postgres_server.url, "sitewatch_nothere"))


def test_a_store_connection_error_names_where_its_url_came_from(
    postgres_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`store copy --to URL` of a database that does not exist was told to check "the store setting in
    sitewatch.toml, or SITEWATCH_STORE", neither of which named it."""
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    missing = with_database(postgres_server.url, "sitewatch_nothere")
    ws = init_workspace(tmp_path / "ws")
    res = CliRunner().invoke(main, ["store", "copy", "--to", missing, "-w", str(ws.root)])
    assert res.exit_code == 1 and f"{mask_url(missing)} (from --to): cannot connect" in res.output, res.output
    assert "check the database's name in the URL (--to)" in res.output and "SITEWATCH_STORE" not in res.output
    assert "store setting" not in res.output
    monkeypatch.setenv("SITEWATCH_STORE", missing)
    res = CliRunner().invoke(main, ["observations", "-w", str(ws.root)])
    assert res.exit_code == 1 and "(from SITEWATCH_STORE): cannot connect" in res.output, res.output
    assert "check the database's name in the URL (SITEWATCH_STORE)" in res.output
    monkeypatch.delenv("SITEWATCH_STORE")
    set_store_setting(ws.root, missing)
    res = CliRunner().invoke(main, ["observations", "-w", str(ws.root)])
    assert res.exit_code == 1 and f"(from the store setting in {ws.config_path}): cannot connect" in res.output, res.output
    res = CliRunner().invoke(main, ["init", str(tmp_path / "new"), "--store", missing])
    assert res.exit_code == 1 and "(from --store): cannot connect" in res.output, res.output


def test_a_database_without_postgis_says_create_extension(postgres_server: Server) -> None:
    name = "sitewatch_test_nopostgis"
    admin(postgres_server.url, f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name} TEMPLATE template0")
    try:
        with pytest.raises(StoreError, match=r"has no PostGIS.*CREATE EXTENSION postgis"):
            PostgisStore(with_database(postgres_server.url, name))
    finally:
        admin(postgres_server.url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_without_psycopg_the_store_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg fails as if not installed
    with pytest.raises(StoreError, match=r"postgresql://ana:\*\*\*@db/x: .*pip install 'sitewatch\[postgis\]'"):
        open_store("postgresql://ana:pw@db/x")


def test_mask_url() -> None:
    assert mask_url("postgresql://ana:pa:ss@db:5432/x?sslmode=require") == "postgresql://ana:***@db:5432/x?sslmode=require"
    assert mask_url("postgresql://ana@db/x?password=pw&host=h") == "postgresql://ana@db/x?password=***&host=h"
    assert mask_url("postgresql://db/x") == "postgresql://db/x"
    # libpq's form for a unix socket or no user name kept its "//" (urlunsplit made it "postgresql:/x…",
    # which libpq and the store setting refuse), and so was taken for a URL with a password
    assert mask_url("postgresql:///x?host=/run/pg&port=5433") == "postgresql:///x?host=/run/pg&port=5433"
    assert mask_url("postgresql:///x?password=pw") == "postgresql:///x?password=***"
    assert url_without_password("postgresql:///x?host=/run/pg&password=pw") == "postgresql:///x?host=/run/pg"
    assert not has_password("postgresql:///x?host=/run/pg")


def test_one_database_is_known_by_its_server_and_name_whichever_role_or_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPORT", raising=False)
    assert same_database("postgresql://db.example.org/sitewatch", "postgresql://ben:pw@db.example.org:5432/sitewatch")
    assert same_database("postgresql:///sitewatch?host=/run/pg&user=ana", "postgresql://ben@/sitewatch?host=/run/pg")
    assert not same_database("postgresql://db.example.org/sitewatch", "postgresql://db.example.org:5433/sitewatch")
    assert not same_database("postgresql://db.example.org/sitewatch", "postgresql://db.example.org/postgres")
    assert url_role("postgresql:///x?user=ana") == "ana" and url_role("postgresql://db/x") == ""
    assert url_without_role("postgresql://ben:pw@db/x?sslmode=require&user=ben") == "postgresql://db/x?sslmode=require"


def test_a_url_naming_no_database_names_the_one_libpq_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    """libpq takes a URL's missing database from PGDATABASE, else the role's name, and its missing host from PGHOST:
    two roles' URLs naming no database were one database (`store copy --to postgresql://ben@db` from
    postgresql://ana@db refused as 'this workspace's own database'; `init` said it was the same one), and a host
    left to PGHOST was another server than the same host written out."""
    for name in ("PGPORT", "PGDATABASE", "PGHOST", "PGUSER"):
        monkeypatch.delenv(name, raising=False)
    assert not same_database("postgresql://ana@db.example.org", "postgresql://ben@db.example.org")
    assert same_database("postgresql://ana@db.example.org", "postgresql://db.example.org/ana")
    assert same_database("postgresql://ana@db.example.org/my%2Ddb", "postgresql://db.example.org/my-db")
    monkeypatch.setenv("PGUSER", "ana")
    assert same_database("postgresql://db.example.org", "postgresql://ana@db.example.org/ana")
    monkeypatch.setenv("PGDATABASE", "team")
    assert same_database("postgresql://ana@db.example.org", "postgresql://ben@db.example.org/team")
    monkeypatch.setenv("PGHOST", "db.example.org")
    assert same_database("postgresql:///team", "postgresql://db.example.org/team")
    assert url_role("postgresql://db.example.org/team") == ""  # PGUSER is libpq's, not the URL's


def test_init_store_with_a_url_without_a_host_part_writes_it_as_given(
    tmp_path: Path, pg_empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `init --store postgresql:///db?host=…` wrote store = "postgresql:/db?host=…" (and said a password was left
    # out): every later command refused the setting.
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    parts = urlsplit(pg_empty_url)  # its host, port and user as parameters, the host part empty
    given = [("host", parts.hostname), ("port", parts.port), ("user", parts.username)]
    params = [(k, str(v)) for k, v in given if v] + parse_qsl(parts.query)
    url = f"postgresql://{parts.path}?{urlencode(params, safe='/')}"
    res = CliRunner().invoke(main, ["init", str(tmp_path / "ws"), "--store", url])
    assert res.exit_code == 0, res.output
    assert "~/.pgpass" not in res.output and f"database {url}" in res.output
    assert f'store = "{url}"' in (tmp_path / "ws" / "sitewatch.toml").read_text(encoding="utf-8")
    res = CliRunner().invoke(main, ["store", "info", "-w", str(tmp_path / "ws")])
    assert res.exit_code == 0 and res.output.startswith(f"postgis: {url} (schema"), res.output


# -- workspaces on PostGIS ----------------------------------------------------------------------


def test_init_store_writes_the_setting_without_the_password_and_commands_use_it(
    tmp_path: Path, pg_empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_url = pg_empty_url  # init makes the tables
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    withpw = pg_url.replace("postgres@", "postgres:hunter2@", 1)  # the socket trusts it; the password is ignored
    res = CliRunner().invoke(main, ["init", str(tmp_path / "ws"), "--store", withpw])
    assert res.exit_code == 0, res.output
    assert "hunter2" not in res.output and "postgres:***@" in res.output and "~/.pgpass" in res.output
    toml = (tmp_path / "ws" / "sitewatch.toml").read_text(encoding="utf-8")
    assert f'store = "{pg_url}"' in toml and "hunter2" not in toml
    assert not (tmp_path / "ws" / "sitewatch.gpkg").exists()
    res = CliRunner().invoke(main, ["sites", "add", "tiny", "--bbox", "132.33,42.87,132.34,42.88", "-w", str(tmp_path / "ws")])
    assert res.exit_code == 0, res.output
    with PostgisStore(pg_url) as s:
        assert [x.id for x in s.sites()] == ["tiny"]
    res = CliRunner().invoke(main, ["store", "info", "-w", str(tmp_path / "ws"), "--json"])
    assert json.loads(res.output)["store"] == "postgis" and json.loads(res.output)["counts"]["sites"] == 1
    # SITEWATCH_STORE beats sitewatch.toml: empty is the folder's GeoPackage
    monkeypatch.setenv("SITEWATCH_STORE", "")
    assert Workspace(tmp_path / "ws").store_url == ""


def test_a_store_setting_that_is_no_url_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    init_workspace(tmp_path / "ws")
    monkeypatch.setenv("SITEWATCH_STORE", "mysql://ana:pw@db/x")
    res = CliRunner().invoke(main, ["observations", "-w", str(tmp_path / "ws")])
    assert res.exit_code == 1 and "environment variable SITEWATCH_STORE (the store setting) must be empty" in res.output and "pw" not in res.output


def test_store_info_says_when_sitewatch_store_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A member's SITEWATCH_STORE left set in a shell profile beat the shared folder's sitewatch.toml, and `store info`
    # named the database it led to without a word of why.
    ws = init_workspace(tmp_path / "ws")
    set_store_setting(ws.root, "postgresql://db.example.org/sitewatch")
    monkeypatch.setenv("SITEWATCH_STORE", "")
    res = CliRunner().invoke(main, ["store", "info", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    first = res.output.splitlines()[0]
    assert first.startswith("geopackage: ") and first.endswith(
        "; from SITEWATCH_STORE, over sitewatch.toml's postgresql://db.example.org/sitewatch)"
    ), first
    res = CliRunner().invoke(main, ["store", "info", "-w", str(ws.root), "--json"])
    assert json.loads(res.output)["setting"] == "SITEWATCH_STORE"
    monkeypatch.delenv("SITEWATCH_STORE")
    set_store_setting(ws.root, "")
    res = CliRunner().invoke(main, ["store", "info", "-w", str(ws.root), "--json"])
    assert json.loads(res.output)["setting"] == "default"
    assert "from SITEWATCH_STORE" not in CliRunner().invoke(main, ["store", "info", "-w", str(ws.root)]).output


def test_store_copy_moves_a_geopackage_workspace_into_postgis(
    tmp_path: Path, pg_empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg_url = pg_empty_url  # the copy makes the tables in a new database
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    ws = init_workspace(tmp_path / "ws")
    obs = _obs()
    with ws.store() as s:
        s.put_site(_site())
        s.put_observation(obs, footprint=box(132.3, 42.8, 132.4, 42.9))
        s.replace_detections(obs, [_det(obs, i) for i in range(3)])
        s.record_run("detect", "dunai", {}, {"n": 3})
        detected_at = s.execute("SELECT detected_at FROM observations")[0][0]
    args = ["store", "copy", "--to", pg_url, "-w", str(ws.root)]
    res = CliRunner().invoke(main, [*args, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["counts"] | {} == {
        "sites": 1, "berths": 1, "site_water": 1, "scenes": 1, "observations": 1, "detections": 3,
        "changes": 0, "change_pairs": 0, "runs": 1, "alert_events": 0,
    }  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "holds rows already" in res.output and "--replace" in res.output
    res = CliRunner().invoke(main, [*args, "--replace", "--use"])
    assert res.exit_code == 0, res.output
    with open_workspace(ws.root).store() as pg:
        assert isinstance(pg, PostgisStore)
        assert pg.sites() == [_site()] and pg.get_observation(obs.id) == obs
        assert pg.detections() == [_det(obs, i) for i in range(3)]
        assert pg.execute("SELECT detected_at FROM observations")[0][0] == detected_at  # eval's staleness holds
        assert pg.counts()["detections"] == 3
        pg.record_run("detect", "dunai", {}, {})  # keys go on after the copied ones
        assert [r[0] for r in pg.execute("SELECT run_id FROM runs ORDER BY run_id")] == [1, 2]
    # and back, into the folder's own GeoPackage (emptied first)
    res = CliRunner().invoke(main, ["store", "copy", "--to", str(ws.db_path), "--replace", "--use", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    with open_workspace(ws.root).store() as back:
        assert not isinstance(back, PostgisStore) and back.counts()["detections"] == 3
        assert back.execute("SELECT count(*) FROM runs")[0][0] == 2


def test_commands_refuse_a_database_without_sitewatch_tables_and_only_init_makes_them(
    tmp_path: Path, pg_empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A URL naming another database of the server (`/postgres` for `/sitewatch`) had every command make
    # sitewatch's tables there: the member then worked alone in a new, empty store.
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    withpw = pg_empty_url.replace("postgres@", "postgres:hunter2@", 1)
    ws = init_workspace(tmp_path / "ws")
    monkeypatch.setenv("SITEWATCH_STORE", withpw)
    for args in (["sites", "list"], ["observations"], ["store", "info"], ["sites", "add", "x", "--bbox", "132.33,42.87,132.34,42.88"]):
        res = CliRunner().invoke(main, [*args, "-w", str(ws.root)])
        assert res.exit_code == 1, (args, res.output)
        assert f"{mask_url(withpw)} (from SITEWATCH_STORE): no sitewatch store in database" in res.output and "hunter2" not in res.output
        assert "check the database name in the URL (SITEWATCH_STORE)" in res.output and "sitewatch init --store URL" in res.output
    for read_only in (False, True):
        with pytest.raises(StoreError, match="no sitewatch store in database"):
            PostgisStore(pg_empty_url, read_only=read_only)
    assert _public_tables(pg_empty_url) == {"spatial_ref_sys"}  # PostGIS's own: nothing made
    monkeypatch.delenv("SITEWATCH_STORE")
    res = CliRunner().invoke(main, ["init", str(tmp_path / "team"), "--store", pg_empty_url])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["sites", "list", "-w", str(tmp_path / "team")])
    assert res.exit_code == 0, res.output
    assert "sitewatch_meta" in _public_tables(pg_empty_url)


def test_init_store_on_a_workspace_of_another_store_is_refused_unless_replace(
    tmp_path: Path, pg_url: str, postgres_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `init --store OTHER` switched a workspace silently: its next COGs could overwrite files the old store names.
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    other = with_database(postgres_server.url, f"sitewatch_test_{uuid.uuid4().hex[:10]}")
    admin(postgres_server.url, f"CREATE DATABASE {urlsplit(other).path[1:]} TEMPLATE {postgres_server.template}")
    try:
        ws = tmp_path / "ws"
        assert CliRunner().invoke(main, ["init", str(ws), "--store", pg_url]).exit_code == 0
        res = CliRunner().invoke(main, ["init", str(ws), "--store", pg_url.replace("postgres@", "postgres:pw@", 1)])
        assert res.exit_code == 0, res.output  # the same store again: nothing to say
        withpw = other.replace("postgres@", "postgres:hunter2@", 1)
        res = CliRunner().invoke(main, ["init", str(ws), "--store", withpw])
        assert res.exit_code == 1, res.output
        assert mask_url(pg_url) in res.output and mask_url(withpw) in res.output and "hunter2" not in res.output
        assert "--replace" in res.output and "store copy" in res.output
        assert Workspace(ws).store_url == pg_url
        assert _public_tables(other) == {"spatial_ref_sys"}  # nothing made there either
        res = CliRunner().invoke(main, ["init", str(ws), "--store", withpw, "--replace"])
        assert res.exit_code == 0, res.output
        assert Workspace(ws).store_url == other
        # A GeoPackage workspace holding sites is refused too; a new, empty one is not.
        gpkg = init_workspace(tmp_path / "g")
        with gpkg.store() as s:
            s.put_site(_site())
        res = CliRunner().invoke(main, ["init", str(gpkg.root), "--store", pg_url])
        assert res.exit_code == 1 and "sitewatch.gpkg" in res.output and mask_url(pg_url) in res.output, res.output
        assert Workspace(gpkg.root).store_url == ""
        fresh = init_workspace(tmp_path / "fresh")
        assert CliRunner().invoke(main, ["init", str(fresh.root), "--store", pg_url]).exit_code == 0
    finally:
        admin(postgres_server.url, f"DROP DATABASE IF EXISTS {urlsplit(other).path[1:]} WITH (FORCE)")


def test_a_second_member_in_the_shared_folder_is_told_to_name_the_store_without_a_role(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The README's "for each member: sitewatch init /shared/study --store postgresql://ROLE@…": the second
    # member's init was refused as another database, with the advice to `store copy` the team store onto itself
    # (which, with --replace, rewrote every row of it under a lock on every table).
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    parts = urlsplit(pg_url)
    owner = parts.username or "postgres"
    ws = tmp_path / "shared"
    assert CliRunner().invoke(main, ["init", str(ws), "--store", pg_url]).exit_code == 0
    ben = pg_url.replace(f"{owner}@", "ben@", 1) if "@" in parts.netloc else pg_url + "&user=ben"
    res = CliRunner().invoke(main, ["init", str(ws), "--store", ben])
    assert res.exit_code == 1, res.output
    roleless = url_without_role(pg_url)
    assert "same database as role" in res.output and "sign in as role 'ben'" in res.output, res.output
    assert f"--store '{roleless}'" in res.output and "store copy" not in res.output
    assert Workspace(ws).store_url == pg_url
    res = CliRunner().invoke(main, ["store", "copy", "--to", ben, "--replace", "-w", str(ws)])
    assert res.exit_code == 1 and "is this workspace's own database" in res.output, res.output
    # The store named without a role: every member signs in as their own (here PGUSER, the owner).
    monkeypatch.setenv("PGUSER", owner)
    res = CliRunner().invoke(main, ["init", str(ws), "--store", roleless])
    assert res.exit_code == 0, res.output
    assert Workspace(ws).store_url == roleless
    res = CliRunner().invoke(main, ["sites", "add", "tiny", "--bbox", "132.33,42.87,132.34,42.88", "-w", str(ws)])
    assert res.exit_code == 0, res.output
    with PostgisStore(pg_url) as s:
        assert [x.id for x in s.sites()] == ["tiny"]


def _public_tables(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_an_older_store_is_still_migrated_on_open(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only a database with none of the tables is refused: one at an older schema version is migrated as before.
    import sitewatch.store.postgis as postgis

    later = [*postgis.PG_MIGRATIONS, "CREATE TABLE sitewatch_later (x integer)"]
    monkeypatch.setattr(postgis, "PG_MIGRATIONS", later)
    monkeypatch.setattr(postgis, "PG_SCHEMA_VERSION", len(later))
    with PostgisStore(pg_url) as s:
        assert s.schema_version() == len(later) and s.execute("SELECT count(*) FROM sitewatch_later")[0][0] == 0


def test_init_store_and_store_copy_refuse_what_is_no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    res = CliRunner().invoke(main, ["init", str(tmp_path / "a"), "--store", "mysql://ana:pw@db/x"])
    assert res.exit_code == 1 and "--store must be a postgresql://" in res.output and ":pw@" not in res.output
    ws = init_workspace(tmp_path / "ws")
    res = CliRunner().invoke(main, ["store", "copy", "--to", str(ws.db_path), "-w", str(ws.root)])
    assert res.exit_code == 1 and "is this workspace's own database" in res.output
    res = CliRunner().invoke(main, ["store", "info", "-w", str(ws.root), "--json"])
    assert json.loads(res.output) | {"location": None} == {
        "store": "geopackage", "location": None, "setting": "default", "schema_version": SCHEMA_VERSION,
        "counts": {"sites": 0, "berths": 0, "site_water": 0, "scenes": 0, "observations": 0, "detections": 0,
                   "change_pairs": 0, "changes": 0, "runs": 0, "alert_events": 0},
    }  # fmt: skip


def test_store_copy_carries_what_detect_kept_so_nothing_is_detected_again(tmp_path: Path, pg_url: str) -> None:
    # detect's record of what each site's detections were made from (sitewatch_meta, detect:SITE:SENSOR) went
    # nowhere: the first `detect` after a copy ran on every observation again, though the rows were all there.
    source = tmp_path / "source.gpkg"
    with open_store(source) as s:
        s.put_site(_site())
        s.set_meta("detect:dunai:sar", '{"key": "k", "observations": {"dunai/a": "f"}}')
    with open_store(pg_url) as pg:
        pg.set_meta("detect:gone:sar", "an earlier store's")
    with open_store(source) as s, open_store(pg_url) as pg:
        copy_store(s, pg, replace=True)
    with open_store(pg_url) as pg:
        assert pg.meta("detect:dunai:sar") == '{"key": "k", "observations": {"dunai/a": "f"}}'
        assert pg.meta("detect:gone:sar") is None  # --replace empties the target, this too
        assert pg.schema_version() == PG_SCHEMA_VERSION  # each store keeps its own schema version
    back = tmp_path / "back.gpkg"
    with open_store(pg_url) as pg, open_store(back) as b:
        copy_store(pg, b)
    with open_store(back) as b:
        assert b.meta("detect:dunai:sar") == '{"key": "k", "observations": {"dunai/a": "f"}}'
        assert b.schema_version() == SCHEMA_VERSION


def test_a_copy_into_a_store_someone_is_writing_waits_for_it_then_refuses(tmp_path: Path, pg_url: str) -> None:
    # The check for rows already there ran before the copy's transaction: a member's write (or a second
    # copy) committing meanwhile met the copy's rows of the same keys, and the copy ended in a traceback
    # (UniqueViolation on sites_pkey). Now the copy locks the tables, waits, and sees what is there.
    source = tmp_path / "source.gpkg"
    with open_store(source) as s:
        s.put_site(_site())
    outcome: dict[str, BaseException | None] = {}

    def run_copy() -> None:
        try:
            with open_store(source) as s, open_store(pg_url) as pg:
                copy_store(s, pg)
            outcome["error"] = None
        except BaseException as exc:  # noqa: BLE001 (what the copy ended in, for the test to read)
            outcome["error"] = exc

    with open_store(pg_url) as writer:
        with writer.transaction():
            writer.put_site(Site(id="rason", name="Rason", kind="port", geometry=box(130.3, 42.2, 130.4, 42.3)))
            copying = threading.Thread(target=run_copy)
            copying.start()
            copying.join(2.0)  # the copy meets the write that has not committed yet
        copying.join(60)
    assert isinstance(outcome["error"], StoreError), outcome
    assert "holds rows already (1 sites)" in str(outcome["error"]) and "--replace" in str(outcome["error"])
    with open_store(pg_url) as pg:
        assert [x.id for x in pg.sites()] == ["rason"]


def test_two_members_ingesting_an_image_of_one_name_into_two_sites_keep_both(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both chose `response` before either had recorded it; the scene id (local:local-geotiff:response) is one
    # row of the store, so the second took over the first's scene: its time, footprint and file.
    from sitewatch.ingest import ingest_paths
    from sitewatch.testing import tiny_site
    from test_ingest import SITE, _colleague_ingests_first, _sar

    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    init_workspace(tmp_path / "ws", store=pg_url)
    ws = open_workspace(tmp_path / "ws")
    other = tiny_site("other")  # the same place under another id: the colleague's port
    with ws.store() as s:
        s.put_site(SITE)
        s.put_site(other)
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    mine = _sar(tmp_path / "a" / "response.tif", "2023-08-21T10:00:00Z")
    theirs = _sar(tmp_path / "b" / "response.tif", "2023-09-05T10:00:00Z", seed=1)
    _colleague_ingests_first(monkeypatch, ws, other, theirs)
    with ws.store() as store:
        report = ingest_paths(ws, store, SITE, [mine], workers=1)
        assert report.observations == () and "run the ingest (or import) again" in report.skipped[0][1]
        report = ingest_paths(ws, store, SITE, [mine], workers=1)
        assert [o.id for o in report.observations] == [f"{SITE.id}/response_20230821T100000"]
        days = {o.id: (o.scene.id, o.scene.acquired.day) for o in store.observations()}
        assert days == {
            "other/response": ("local:local-geotiff:response", 5),
            f"{SITE.id}/response_20230821T100000": ("local:local-geotiff:response_20230821T100000", 21),
        }


def test_a_member_whose_role_has_no_rights_on_the_tables_is_told_what_to_grant(pg_url: str) -> None:
    # The tables belong to the role of whoever opened the store first; another member's role could not read
    # them, and every command ended in a traceback (psycopg.errors.InsufficientPrivilege on sitewatch_meta).
    role = f"sitewatch_member_{uuid.uuid4().hex[:8]}"
    member_url = pg_url.replace("postgresql://postgres@", f"postgresql://{role}@", 1)
    PostgisStore(pg_url).close()  # made by the first member
    admin(pg_url, f"CREATE ROLE {role} LOGIN")
    try:
        with pytest.raises(StoreError) as err:
            PostgisStore(member_url)
        message = str(err.value)
        assert message.startswith(f"{mask_url(member_url)}: ") and f"role {role!r} has no rights on" in message
        grants = re.findall(r"`(GRANT [^`]*)`", message)
        assert grants, message
        admin(pg_url, *grants[0].split("; "))  # what the message says to run, as the tables' owner
        with PostgisStore(member_url) as s:
            s.put_site(_site())
            assert [x.id for x in s.sites()] == ["dunai"]
    finally:
        admin(pg_url, f"DROP OWNED BY {role}")
        admin(with_database(pg_url, "postgres"), f"DROP ROLE IF EXISTS {role}")


def test_a_copy_out_of_a_store_being_written_is_of_one_moment(tmp_path: Path, pg_url: str) -> None:
    # The source was read table by table, each query seeing what was committed by then: an ingest committing
    # between the read of `scenes` and that of `observations` left an observation without its scene in the copy,
    # which then failed to open it (IndexError reading the observation). Now the copy reads one snapshot.
    with open_store(pg_url) as pg:
        pg.put_site(_site())
        pg.put_observation(_obs())
    source = open_store(pg_url)
    read = source.execute

    def a_member_ingests_meanwhile(sql: str, args: Any = ()) -> list[Any]:
        rows = read(sql, args)
        if sql.startswith("SELECT") and " FROM scenes " in sql:
            with open_store(pg_url) as member:  # another command, its own connection, commits now
                member.put_observation(_obs(item="scene-2"))
                member.replace_detections(_obs(item="scene-2"), [_det(_obs(item="scene-2"), 0)])
        return rows

    source.execute = a_member_ingests_meanwhile  # type: ignore[method-assign]
    try:
        with open_store(tmp_path / "copy.gpkg") as copy:
            counts = copy_store(source, copy)
    finally:
        source.close()
    assert counts["scenes"] == counts["observations"] == 1 and counts["detections"] == 0
    with open_store(tmp_path / "copy.gpkg") as copy:
        assert [o.id for o in copy.observations()] == [_obs().id]  # opens: every observation has its scene


def test_store_copy_use_says_when_sitewatch_store_still_overrides_it(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # `--use` wrote sitewatch.toml and said "sitewatch.gpkg is now this workspace's database" while SITEWATCH_STORE
    # (set, here to nothing: the GeoPackage) went on overriding it: the next commands used another database.
    monkeypatch.setenv("SITEWATCH_STORE", "")
    ws = init_workspace(tmp_path / "ws")
    res = CliRunner().invoke(main, ["store", "copy", "--to", pg_url, "--use", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    assert f"{mask_url(pg_url)} is now the `store` in sitewatch.toml" in res.output
    assert "SITEWATCH_STORE is set and overrides it" in res.output and "sitewatch.gpkg is now" not in res.output


def test_an_image_ingested_again_while_detect_records_its_old_one_waits_for_it(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # detect looks at the observation's sha256 and then replaces its detections; on PostgreSQL each statement
    # sees what was committed by then, so an ingest of another image committing in between had the old
    # image's detections recorded as the new one's, detected_at set: "current" until the next detect.
    # Now ingest's write of the observation and detect's record of it take one lock, one after the other.
    from sitewatch.detection import detect_site
    from sitewatch.ingest import ingest_paths
    from test_ingest import SITE, _sar

    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    init_workspace(tmp_path / "ws", store=pg_url)
    ws = open_workspace(tmp_path / "ws")
    (tmp_path / "in").mkdir()
    image = _sar(tmp_path / "in" / "pier.tif", "2024-10-17T09:30:00Z")
    with ws.store() as s:
        s.put_site(SITE)
        [obs] = ingest_paths(ws, s, SITE, [image], workers=1).observations
    again = replace(obs, sha256="0" * 64)  # the same id, another image (its COG is ingest's concern here)
    execute = PostgisStore.execute
    ingesting: list[threading.Thread] = []

    def another_ingest_commits_meanwhile(self: PostgisStore, sql: str, args: Any = ()) -> list[Any]:
        rows = execute(self, sql, args)
        if sql.startswith("SELECT sha256 FROM observations") and not ingesting:
            def ingest() -> None:
                with PostgisStore(pg_url) as member:
                    member.put_observation(again)
            ingesting.append(threading.Thread(target=ingest))
            ingesting[0].start()
            ingesting[0].join(2.0)  # before: done at once; now: waits for detect's transaction
        return rows

    monkeypatch.setattr(PostgisStore, "execute", another_ingest_commits_meanwhile)
    detect_site(ws, SITE.id, workers=1)
    ingesting[0].join(30)
    monkeypatch.undo()
    with ws.store() as s:
        assert s.get_observation(obs.id).sha256 == again.sha256
        assert obs.id in s.undetected(SITE.id) and s.detections(observation_id=obs.id) == []


def test_a_server_gone_midway_is_named_with_what_to_do(pg_url: str) -> None:
    # "cannot write to the PostGIS store (terminating connection due to administrator command)" said neither
    # what became of the run's earlier writes nor what to do.
    with PostgisStore(pg_url) as s:
        s.put_site(_site())
        pid = s.execute("SELECT pg_backend_pid()")[0][0]
        admin(pg_url, f"SELECT pg_terminate_backend({pid})")  # the server ends this connection (a restart, a crash)
        with pytest.raises(StoreError) as err:
            s.put_observation(_obs())
    message = str(err.value)
    assert message.startswith(f"{mask_url(pg_url)}: cannot write to the PostGIS store (")
    assert "what was recorded before is kept" in message and "run the command again" in message
    with PostgisStore(pg_url) as s:
        assert [x.id for x in s.sites()] == ["dunai"] and s.observations() == []


def _sar_with_vessels(path: Path) -> Path:
    """test_ingest's SAR speckle over its tiny site, with three bright hulls that detect finds."""
    import numpy as np
    from affine import Affine

    from sitewatch.testing import site_utm_origin, write_tiff
    from test_ingest import SITE

    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(0).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    for row, col in ((60, 50), (130, 110), (200, 160)):
        data[row : row + 3, col : col + 12] = 1.0
    return write_tiff(path, data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"],
                      tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"})  # fmt: skip


@pytest.mark.parametrize("backend", ["geopackage", "postgis"])
def test_a_site_removed_while_detect_records_its_detections_leaves_none_behind(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `sites remove --with-observations` committing between detect's look at an observation's sha256 and the
    # write of its detections left those detections, of no observation, in a team store. Now the removal takes
    # the lock detect holds from that look to the write (the GeoPackage's write transactions are one at a time).
    from sitewatch.detection import detect_site
    from sitewatch.ingest import ingest_paths
    from test_ingest import SITE

    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    location: Any = request.getfixturevalue("pg_url") if backend == "postgis" else None
    init_workspace(tmp_path / "ws", store=location)
    ws = open_workspace(tmp_path / "ws")
    (tmp_path / "in").mkdir()
    with ws.store() as s:
        s.put_site(SITE)
        [obs] = ingest_paths(ws, s, SITE, [_sar_with_vessels(tmp_path / "in" / "pier.tif")], workers=1).observations
    cls: Any = PostgisStore if backend == "postgis" else Store
    execute = cls.execute
    removing: list[threading.Thread] = []

    def removed_meanwhile(self: Store, sql: str, args: Any = ()) -> list[Any]:
        rows = execute(self, sql, args)
        if sql.startswith("SELECT sha256 FROM observations") and not removing:
            def remove() -> None:
                with ws.store() as member:
                    member.delete_site(SITE.id, observations=True)
            removing.append(threading.Thread(target=remove))
            removing[0].start()
            removing[0].join(2.0)  # before (PostGIS): done at once; now: waits for detect's transaction
        return rows

    monkeypatch.setattr(cls, "execute", removed_meanwhile)
    detect_site(ws, SITE.id, workers=1)
    removing[0].join(30)
    monkeypatch.undo()
    with ws.store() as s:
        assert s.observations() == [] and s.detections() == [] and s.counts()["detections"] == 0
        assert obs.id not in s.undetected()


def _raw(url: str) -> Any:
    """A plain psycopg connection (autocommit) to ``url``: another program's session."""
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _a_later_sitewatch(monkeypatch: pytest.MonkeyPatch) -> int:
    """This sitewatch as one with a second migration, which alters a table (as an upgrade's would): the test's store
    (at schema 1) is then of an older schema. The version it migrates to."""
    import sitewatch.store.postgis as postgis

    later = [*postgis.PG_MIGRATIONS, "ALTER TABLE observations ADD COLUMN later_column text"]
    monkeypatch.setattr(postgis, "PG_MIGRATIONS", later)
    monkeypatch.setattr(postgis, "PG_SCHEMA_VERSION", len(later))
    return len(later)


def _open_in_thread(url: str) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def run() -> None:
        try:
            with PostgisStore(url) as s:
                result.append(s.schema_version())
        except Exception as exc:
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_an_older_store_migrated_under_another_sessions_lock_says_who_holds_it_and_goes_on(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, said: Said
) -> None:
    # A colleague's psql (or QGIS) in a transaction holding a lock on a table the migration alters: the command
    # waited in silence, with no end (no lock_timeout), as long as the transaction stayed open.
    import sitewatch.store.postgis as postgis

    monkeypatch.setattr(postgis, "LOCK_NOTICE_S", 0.3)
    version = _a_later_sitewatch(monkeypatch)
    with _raw(pg_url) as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE observations IN ACCESS EXCLUSIVE MODE")
        pid = holder.info.backend_pid
        thread, result = _open_in_thread(pg_url)
        assert said.event.wait(20), "the command waited for the lock without saying so"
        assert f"waiting to migrate the PostGIS store: session {pid} (role postgres) holds AccessExclusiveLock on " \
               "table observations; this command goes on when it is released" in said.messages[0]  # fmt: skip
        holder.execute("ROLLBACK")
    thread.join(20)
    assert result == [version]


def test_an_older_store_under_a_lock_not_released_is_refused_naming_it_and_left_as_it_was(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, said: Said
) -> None:
    import sitewatch.store.postgis as postgis

    monkeypatch.setattr(postgis, "LOCK_NOTICE_S", 0.2)
    monkeypatch.setattr(postgis, "BUSY_TIMEOUT_S", 0.6)
    _a_later_sitewatch(monkeypatch)
    with _raw(pg_url) as holder:
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE observations IN ACCESS EXCLUSIVE MODE")
        thread, result = _open_in_thread(pg_url)
        thread.join(20)
        alive = thread.is_alive()
        holder.execute("ROLLBACK")
    assert not alive, "the command waited for the lock with no end"
    thread.join(20)
    [err] = result
    assert isinstance(err, StoreError), err
    assert "cannot migrate the PostGIS store: session" in str(err) and "AccessExclusiveLock on table observations" in str(err)
    assert "not released in 0.6 s" in str(err) and "then run this command again" in str(err)
    with _raw(pg_url) as conn:
        assert conn.execute("SELECT value FROM sitewatch_meta WHERE key = 'schema_version'").fetchone()[0] == str(PG_SCHEMA_VERSION)


def test_two_commands_opening_an_older_store_at_once_one_migrates_the_other_waits_and_goes_on(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, said: Said
) -> None:
    # Another sitewatch mid-migration (holding MIGRATION_LOCK, its ALTER done, not committed yet): this one waits
    # for it, says whose lock it waits for, then finds the store migrated and migrates nothing again.
    import sitewatch.store.postgis as postgis
    from sitewatch.store.pg_schema import MIGRATION_LOCK

    monkeypatch.setattr(postgis, "LOCK_NOTICE_S", 0.3)
    version = _a_later_sitewatch(monkeypatch)
    with _raw(pg_url) as other:
        other.execute("BEGIN")
        other.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        other.execute(postgis.PG_MIGRATIONS[-1])
        other.execute("UPDATE sitewatch_meta SET value = %s WHERE key = 'schema_version'", (str(version),))
        thread, result = _open_in_thread(pg_url)
        assert said.event.wait(20)
        assert "holds sitewatch's migration lock (another sitewatch migrating it)" in said.messages[0]
        other.execute("COMMIT")
    thread.join(20)
    assert result == [version]  # (migrating again: 'column "later_column" of relation "observations" already exists')


def _read_only_role(pg_url: str) -> tuple[str, str]:
    """A role that may only read the store's tables (a colleague's read-only account), and its URL."""
    role = f"sitewatch_reader_{uuid.uuid4().hex[:8]}"
    admin(pg_url, f"CREATE ROLE {role} LOGIN", f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    return role, pg_url.replace("postgresql://postgres@", f"postgresql://{role}@", 1)


def _drop_role(pg_url: str, role: str) -> None:
    admin(pg_url, f"DROP OWNED BY {role}")
    admin(with_database(pg_url, "postgres"), f"DROP ROLE IF EXISTS {role}")


def test_an_older_store_opened_by_a_read_only_role_says_who_must_migrate_it(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It said 'role may not create tables in this database; open it first (`sitewatch init --store URL`) as its
    # owner …, or have the owner run `GRANT CREATE ON SCHEMA public TO …`': no grant of CREATE lets a role alter
    # another's tables, and init on an existing store is not what to run.
    _a_later_sitewatch(monkeypatch)
    role, url = _read_only_role(pg_url)
    try:
        for read_only in (False, True):
            with pytest.raises(StoreError) as err:
                PostgisStore(url, read_only=read_only)
            message = str(err.value)
            assert f"schema version {PG_SCHEMA_VERSION}," in message and "the tables' owner (role 'postgres')" in message, message
            assert "`sitewatch observations`" in message and "nothing was changed" in message, message
            assert "GRANT CREATE" not in message and "init --store" not in message, message
        monkeypatch.delenv("SITEWATCH_STORE", raising=False)
        ws = init_workspace(tmp_path / "ws")
        monkeypatch.setenv("SITEWATCH_STORE", url)
        res = CliRunner().invoke(main, ["observations", "-w", str(ws.root)])
        assert res.exit_code == 1 and "Traceback" not in res.output and "role 'postgres'" in res.output, res.output
        with _raw(pg_url) as conn:
            assert conn.execute("SELECT value FROM sitewatch_meta WHERE key = 'schema_version'").fetchone()[0] == str(PG_SCHEMA_VERSION)
        monkeypatch.setenv("SITEWATCH_STORE", pg_url)  # the owner runs one command: migrated; then the reader reads
        assert CliRunner().invoke(main, ["observations", "-w", str(ws.root)]).exit_code == 0
        monkeypatch.setenv("SITEWATCH_STORE", url)
        res = CliRunner().invoke(main, ["observations", "-w", str(ws.root)])
        assert res.exit_code == 0, res.output
    finally:
        _drop_role(pg_url, role)


def test_a_read_only_role_reads_and_a_write_fails_in_one_line_naming_the_permission(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with PostgisStore(pg_url) as s:
        s.put_site(_site())
        s.put_observation(_obs(), footprint=box(132.3, 42.8, 132.4, 42.9))
    role, url = _read_only_role(pg_url)
    try:
        monkeypatch.delenv("SITEWATCH_STORE", raising=False)
        ws = init_workspace(tmp_path / "ws")
        monkeypatch.setenv("SITEWATCH_STORE", url)
        for args in (["observations"], ["timeline", "dunai"], ["export", "--out", str(tmp_path / "d.geojson")]):
            res = CliRunner().invoke(main, [*args, "-w", str(ws.root)])
            assert res.exit_code == 0, (args, res.output)
        res = CliRunner().invoke(main, ["sites", "add", "x", "--bbox", "132.33,42.87,132.34,42.88", "-w", str(ws.root)])
        assert res.exit_code == 1 and "Traceback" not in res.output, res.output
        assert "cannot write to the PostGIS store" in res.output and "permission denied for table" in res.output
    finally:
        _drop_role(pg_url, role)


def test_store_copy_keeps_each_stores_own_schema_record(tmp_path: Path, pg_url: str) -> None:
    # sitewatch_meta was copied but for schema_version: the GeoPackage's schema_written_by (the sitewatch that last
    # migrated the GeoPackage) became the team store's, and a refusal of the store would have named the wrong one.
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as s:
        s.put_site(_site())
        s.set_meta("schema_written_by", "0.0.1")
    with ws.store() as source, PostgisStore(pg_url) as target:
        copy_store(source, target, replace=True)
    with PostgisStore(pg_url) as s:
        assert s.meta("schema_written_by") == __version__ and [x.id for x in s.sites()] == ["dunai"]
    with ws.store() as s:
        assert s.meta("schema_written_by") == "0.0.1"


def test_store_info_does_not_say_sitewatch_store_overrides_the_same_url_with_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str
) -> None:
    """sitewatch.toml keeps a URL without its password; a member's SITEWATCH_STORE of that URL with it named the same
    database, yet `store info` said it overrode the file's ('over sitewatch.toml's' the very URL)."""
    from sitewatch.store.postgis import has_password

    ws = init_workspace(tmp_path / "ws")
    with_password = pg_url if has_password(pg_url) else pg_url + ("&" if "?" in pg_url else "?") + "password=pw"
    set_store_setting(ws.root, with_password)
    monkeypatch.setenv("SITEWATCH_STORE", with_password)
    res = CliRunner().invoke(main, ["store", "info", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    first = res.output.splitlines()[0]
    assert first.endswith("; from SITEWATCH_STORE)") and "over" not in first, first
