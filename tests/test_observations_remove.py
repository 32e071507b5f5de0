"""``sitewatch observations remove``: one observation out of a workspace, with what rests on it, on both stores."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from _report_world import build
from sitewatch.cli import main
from sitewatch.workspace import Workspace, init_workspace

SAR_17, SAR_20, OPT_17 = "dunai:sim-dunai-2024-10-17-sar", "dunai:sim-dunai-2024-10-20-sar", "dunai:sim-dunai-2024-10-17-optical"


@pytest.fixture(params=["geopackage", "postgis"])
def ws(request: pytest.FixtureRequest, tmp_path: Path) -> Workspace:
    """The report world (two days, SAR and optical) and a third SAR look on 23 October (a copy of the 20th's image),
    on either store (PostGIS with SITEWATCH_TEST_POSTGRES set)."""
    if request.param == "postgis":
        init_workspace(tmp_path / "ws", request.getfixturevalue("pg_url"))
    ws = build(tmp_path / "ws")
    with ws.store() as store:
        o = store.get_observation(SAR_20)
        shutil.copyfile(ws.root / o.path, ws.root / "archive/dunai/late.tif")
        scene = dataclasses.replace(o.scene, item_id="late", acquired=o.scene.acquired + timedelta(days=3))
        store.put_observation(dataclasses.replace(o, id="dunai:late", scene=scene, path="archive/dunai/late.tif", provenance={}))
    return ws


def _run(ws: Workspace, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, [*args, "-w", str(ws.root)])
    return r.exit_code, r.output


def _pairs(ws: Workspace) -> list[tuple[str, str]]:
    with ws.store() as store:
        return [tuple(r) for r in store.execute("SELECT before_id, after_id FROM change_pairs ORDER BY before_id, after_id")]


def test_an_observation_goes_with_its_detections_pairs_and_files_and_change_compares_its_neighbours(ws: Workspace) -> None:
    assert _run(ws, "change", "dunai")[0] == 0
    assert (SAR_17, SAR_20) in _pairs(ws) and (SAR_20, "dunai:late") in _pairs(ws)
    cog, truth = ws.archive / "dunai/sim-dunai-2024-10-20-sar.tif", ws.archive / "dunai/sim-dunai-2024-10-20-sar.truth.geojson"
    code, out = _run(ws, "observations", "remove", SAR_20, "--dry-run", "--json")
    assert code == 0 and json.loads(out) == {
        "dry_run": True, "observations": [SAR_20], "detections": 0, "change_pairs": 2, "changes": 0,
        "files": ["archive/dunai/sim-dunai-2024-10-20-sar.tif", "archive/dunai/sim-dunai-2024-10-20-sar.truth.geojson"],
        "files_not_deleted": [],
    }  # fmt: skip
    assert cog.exists() and truth.exists() and (SAR_17, SAR_20) in _pairs(ws)  # a dry run removes nothing
    code, out = _run(ws, "observations", "remove", SAR_20)
    assert code == 0 and "removed 1 observation(s), 0 detection(s), 2 change pair(s)" in out and "2 archived file(s)" in out
    assert not cog.exists() and not truth.exists() and (ws.archive / "dunai/late.tif").exists()
    assert all(SAR_20 not in pair for pair in _pairs(ws))
    code, out = _run(ws, "observations", "--json")
    assert SAR_20 not in [o["id"] for o in json.loads(out)]
    # Its neighbours are a pair now: the next `change` compares them.
    code, out = _run(ws, "change", "dunai")
    assert code == 0 and (SAR_17, "dunai:late") in _pairs(ws)
    # A rerun: the id is unknown now, said so, exit code 1.
    code, out = _run(ws, "observations", "remove", SAR_20)
    assert code == 1 and f"no observation {SAR_20!r}" in out


def test_an_unknown_id_removes_nothing(ws: Workspace) -> None:
    code, out = _run(ws, "observations", "remove", SAR_17, "dunai:nosuch")
    assert code == 1 and "no observation 'dunai:nosuch' in this workspace; nothing removed" in out
    assert (ws.archive / "dunai/sim-dunai-2024-10-17-sar.tif").exists()
    with ws.store() as store:
        assert store.get_observation(SAR_17).id == SAR_17 and any(d.observation_id == SAR_17 for d in store.detections())
    code, out = _run(ws, "observations", "remove", "dunai:nosuch", "--dry-run")
    assert code == 1 and "no observation 'dunai:nosuch'" in out


def test_the_timeline_no_longer_counts_a_day_whose_observations_were_removed(ws: Workspace) -> None:
    code, out = _run(ws, "timeline", "dunai")
    assert code == 0 and "2024-10-17  optical:1 sar:1" in out
    code, out = _run(ws, "observations", "remove", SAR_17, OPT_17)
    assert code == 0 and "removed 2 observation(s), 3 detection(s)" in out
    code, out = _run(ws, "timeline", "dunai")
    assert code == 0 and "2024-10-17" not in out


def test_a_file_another_observation_names_stays(ws: Workspace) -> None:
    with ws.store() as store:
        o = store.get_observation("dunai:late")
        scene = dataclasses.replace(o.scene, item_id="later", acquired=o.scene.acquired + timedelta(days=1))
        store.put_observation(dataclasses.replace(o, id="dunai:later", scene=scene))  # the same file
    code, out = _run(ws, "observations", "remove", "dunai:late")
    assert code == 0 and "0 archived file(s)" in out and (ws.archive / "dunai/late.tif").exists()
    code, out = _run(ws, "observations", "remove", "dunai:later")
    assert code == 0 and "1 archived file(s)" in out and not (ws.archive / "dunai/late.tif").exists()


def test_a_file_that_cannot_be_deleted_is_named_after_the_rows_went(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows go first: a file left is one no row names (never a row naming a missing file), said, exit code 3."""

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "unlink", refuse)
    r = CliRunner().invoke(main, ["observations", "remove", SAR_20, "-w", str(ws.root)])
    monkeypatch.undo()
    assert r.exit_code == 3 and "sim-dunai-2024-10-20-sar.tif: not deleted (Permission denied)" in r.output
    assert (ws.archive / "dunai/sim-dunai-2024-10-20-sar.tif").exists()
    with ws.store() as store:
        assert SAR_20 not in {o.id for o in store.observations("dunai")}


def test_a_site_named_remove_is_still_listed() -> None:
    from sitewatch.cli.observations import command

    ctx = command.make_context("observations", ["--", "remove"])
    assert ctx.params["site_id"] == "remove"
    assert command.make_context("observations", ["remove", "x"]).command.name == "remove"


def test_a_layer_extent_shrinks_when_the_observation_at_its_edge_goes(tmp_path: Path) -> None:
    """The extents in gpkg_contents (QGIS's "zoom to layer") are recomputed only for a layer a removed row reached the
    edge of: removing one inside leaves them; removing the one at the edge shrinks them to the others."""
    ws = build(tmp_path / "ws")

    def extent() -> tuple[float, ...]:
        with ws.store() as store:
            return tuple(store.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = 'detections'")[0])

    with ws.store() as store:
        store.update_extents()
        boxes = {d.observation_id: d.footprint.bounds for d in store.detections()}
    full = extent()
    edge = {oid for oid, b in boxes.items() if b[2] == full[2]}
    assert edge and len(edge) < len(boxes)  # one observation's detection reaches the east edge, not all
    assert _run(ws, "observations", "remove", *edge)[0] == 0
    with ws.store() as store:
        left = [d.footprint.bounds for d in store.detections()]
    assert extent()[2] == max(b[2] for b in left) < full[2]


def test_a_file_a_killed_removal_left_goes_with_the_next_sweep_on_either_store(ws: Workspace) -> None:
    """`observations remove` deletes files after its commit: a kill between the two leaves a file no row names, which
    :func:`remove_unrecorded` (run by the next fetch or ingest of the site) deletes, on both stores; the files rows
    name stay."""
    from sitewatch.ingest.removal import remove_unrecorded, unrecorded_marker

    left = ws.archive / "dunai" / "removed-before-its-file.tif"
    left.write_bytes(b"II*\x00")
    kept = sorted(p.name for p in (ws.archive / "dunai").iterdir() if p != left)
    unrecorded_marker(left).touch()  # as remove_observations puts it there before its commit
    with ws.store() as store:
        assert remove_unrecorded(ws, store, "dunai") == []  # just written: left alone
        assert remove_unrecorded(ws, store, "dunai", min_age_s=0.0) == [left]
    assert not left.exists() and sorted(p.name for p in (ws.archive / "dunai").iterdir()) == kept
