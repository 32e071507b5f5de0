"""``sitewatch change`` run again: a pair whose inputs have not changed is kept as stored, not read nor compared
again; each kind of changed input (an image's bytes, the site's polygon, a setting, the detections left out,
``--force``) compares again exactly the pairs it touches (:mod:`sitewatch.change_state`)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner
from shapely.geometry import box

import sitewatch.change_stage as change_stage
import sitewatch.change_state as change_state
from _old_store import old_database
from sitewatch.cli import main
from sitewatch.model import Detection
from sitewatch.store import Store
from sitewatch.store.schema import SCHEMA_VERSION
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff

BANDS = ("blue", "green", "red", "nir")
DAYS = ("20241001", "20241005", "20241009")
FIRST, SECOND = "base/base_20241001..base/base_20241005", "base/base_20241005..base/base_20241009"


def _image(day: str, seed: int = 0) -> np.ndarray:
    from scipy import ndimage

    rng = np.random.default_rng(11 + DAYS.index(day) + 10 * seed)  # each day its own light
    texture = ndimage.gaussian_filter(np.random.default_rng(11).normal(size=(120, 100)), 4) * 8
    img = np.array([0.06, 0.08, 0.09, 0.25])[:, None, None] * (1 + 0.3 * texture)
    if day != DAYS[0]:
        img[:, 60:70, 45:55] = np.array([0.12, 0.14, 0.18, 0.22])[:, None, None]  # dug, bare ground
    return (img * rng.uniform(0.9, 1.1, (4, 1, 1)) + rng.normal(0, 0.003, img.shape)).astype(np.float32)


def _write(folder: Path, day: str, seed: int = 0) -> Path:
    site = tiny_site("base", half_deg=0.004)
    crs, x0, y0 = site_utm_origin(site)
    folder.mkdir(parents=True, exist_ok=True)
    return write_tiff(folder / f"base_{day}.tif", _image(day, seed), crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
                      descriptions=BANDS)  # fmt: skip


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A workspace whose site has three 10 m optical images (1, 5 and 9 October): two pairs."""
    ws = workspace_with_sites(tmp_path / "ws", tiny_site("base", half_deg=0.004))
    files = [_write(tmp_path, day) for day in DAYS]
    res = CliRunner().invoke(main, ["ingest", "base", *map(str, files), "--sensor", "optical", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    return ws.root


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The pairs ``detect_changes`` is called on (before id..after id), in order."""
    calls: list[str] = []
    real = change_stage.detect_changes

    def counting(before: Any, after: Any, **kw: Any) -> Any:
        calls.append(f"{before.name}..{after.name}")
        return real(before, after, **kw)

    monkeypatch.setattr(change_stage, "detect_changes", counting)
    return calls


def _change(root: Path, *args: str) -> dict[str, Any]:
    res = CliRunner().invoke(main, ["change", "base", "--json", *args, "-w", str(root)])
    assert res.exit_code == 0, res.output
    return dict(json.loads(res.stdout))


def _rows(root: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(root / "sitewatch.gpkg")) as db:
        return db.execute(sql, args).fetchall()


def _last_run(root: Path) -> dict[str, Any]:
    return dict(json.loads(_rows(root, "SELECT summary FROM runs WHERE stage = 'change' ORDER BY run_id DESC LIMIT 1")[0][0]))


def _again(root: Path, compared: list[str], *args: str) -> list[str]:
    """The pairs a run of ``change`` (with ``args``) compares."""
    compared.clear()
    _change(root, *args)
    return sorted(compared)


def test_a_rerun_with_nothing_new_compares_no_pair_and_says_the_same(root: Path, compared: list[str]) -> None:
    first = _change(root)
    assert sorted(compared) == [FIRST, SECOND]
    assert _last_run(root) | {"errors": []} == {"pairs": 2, "compared": 2, "kept": 0, "regions": 1, "errors": []}
    stored = _rows(root, "SELECT * FROM change_pairs ORDER BY pair_id") + _rows(root, "SELECT * FROM changes ORDER BY fid")
    assert all(len(r[0]) == 64 for r in _rows(root, "SELECT inputs FROM change_pairs"))
    compared.clear()
    again = _change(root)
    assert compared == []  # not one pair read nor compared
    assert _last_run(root) == {"pairs": 2, "compared": 0, "kept": 2, "regions": 1, "errors": []}
    assert [p | {"kept": False} for p in again["pairs"]] == first["pairs"] and all(p["kept"] for p in again["pairs"])
    assert again["notes"] == first["notes"]  # "detection has not run on it" is said of the kept pairs too
    assert _rows(root, "SELECT * FROM change_pairs ORDER BY pair_id") + _rows(root, "SELECT * FROM changes ORDER BY fid") == stored
    text = CliRunner().invoke(main, ["change", "base", "-w", str(root)]).output
    assert "base: 2 of the 2 pairs unchanged since they were compared, kept (--force compares them again)" in text
    assert "1 appeared, 0 disappeared, 0 altered" in text
    assert _again(root, compared, "--force") == [FIRST, SECOND]


def test_an_image_ingested_again_with_other_bytes_compares_its_pairs_only(root: Path, tmp_path: Path, compared: list[str]) -> None:
    _change(root)
    other = _write(tmp_path, DAYS[2], seed=1)  # the file of 9 October written again, another light: other bytes
    res = CliRunner().invoke(main, ["ingest", "base", str(other), "--sensor", "optical", "--json", "-w", str(root)])
    assert res.exit_code == 0, res.output
    assert [(o["id"], o["replaced"]) for o in json.loads(res.stdout)["ingested"]] == [("base/base_20241009", True)]
    assert _again(root, compared) == [SECOND]
    assert _again(root, compared) == []


def test_quiet_prints_the_pairs_compared_this_run_and_a_summary_not_the_history(root: Path, tmp_path: Path) -> None:
    # A daily `sitewatch -q change` printed every pair and every dated change at each run: its log grew by the
    # site's whole history each day.
    def quiet() -> list[str]:
        res = CliRunner().invoke(main, ["-q", "change", "base", "-w", str(root)])
        assert res.exit_code == 0, res.output
        return res.output.splitlines()

    first = quiet()
    assert [line for line in first if " -> " in line] == [line for line in first if "altered" in line]
    assert len([line for line in first if "altered" in line]) == 2
    assert first[-1] == "base: 2 of the 2 pairs compared this run, 0 unchanged since they were compared, kept; 1 change on the ground in all"
    assert not any("dated by every stored pair" in line for line in first)
    assert quiet() == ["base: 0 of the 2 pairs compared this run, 2 unchanged since they were compared, kept; 1 change on the ground in all"]
    other = _write(tmp_path, DAYS[2], seed=1)  # 9 October's image with other bytes: its one pair compared again
    assert CliRunner().invoke(main, ["ingest", "base", str(other), "--sensor", "optical", "-w", str(root)]).exit_code == 0
    pair, *notes, summary = quiet()  # the notes on the pair compared, not on the one kept (base_20241001)
    assert pair.endswith("(base/base_20241005 -> base/base_20241009)")
    assert summary == "base: 1 of the 2 pairs compared this run, 1 unchanged since it was compared, kept; 1 change on the ground in all"
    assert notes and all("base_20241001" not in n for n in notes)
    loud = CliRunner().invoke(main, ["change", "base", "-w", str(root)]).output  # without -q, the history as before
    assert "base: 2 of the 2 pairs unchanged since they were compared, kept" in loud and "1. " in loud


def test_a_site_of_one_pair_is_summed_up_in_the_singular(tmp_path: Path) -> None:
    # "base: 1 of the 1 pairs compared this run, 0 unchanged since they were compared, kept; 1 change(s) on the ground"
    ws = workspace_with_sites(tmp_path / "ws", tiny_site("base", half_deg=0.004))
    files = [_write(tmp_path, day) for day in DAYS[:2]]
    assert CliRunner().invoke(main, ["ingest", "base", *map(str, files), "--sensor", "optical", "-w", str(ws.root)]).exit_code == 0

    def run(*args: str) -> list[str]:
        res = CliRunner().invoke(main, [*args, "change", "base", "-w", str(ws.root)])
        assert res.exit_code == 0, res.output
        return res.output.splitlines()

    assert run("-q")[-1] == "base: its one pair compared this run; 1 change on the ground in all"
    assert run("-q") == ["base: its one pair unchanged since it was compared, kept; 1 change on the ground in all"]
    assert "base: its one pair unchanged since it was compared, kept (--force compares it again)" in run()
    next(p for p in ws.root.rglob("*20241005*.tif") if "base" in p.name).unlink()  # its one pair not compared
    res = CliRunner().invoke(main, ["-q", "change", "base", "-w", str(ws.root)])
    assert res.exit_code == 1 and res.stdout.splitlines() == ["base: its one pair not compared (below); 1 change on the ground in all"]


def test_a_site_with_a_pair_not_compared_is_not_summed_up_as_of_one_pair(root: Path) -> None:
    # Of two pairs, one whose archived image is missing: "-q" said "base: its one pair compared this run", and
    # without "-q" "its one pair unchanged since it was compared, kept", of a site of two pairs.
    assert CliRunner().invoke(main, ["change", "base", "-w", str(root)]).exit_code == 0
    (archived,) = [p for p in root.rglob("*20241009*.tif") if "base" in p.name]
    archived.unlink()

    def run(*args: str) -> list[str]:
        res = CliRunner().invoke(main, [*args, "change", "base", "-w", str(root)])
        assert res.exit_code == 3, res.output
        return [line for line in res.stdout.splitlines() if line.startswith("base:")]

    assert run("-q") == ["base: 0 of the 2 pairs compared this run, 1 unchanged since it was compared, kept, 1 not "
                         "compared (below); 1 change on the ground in all"]  # fmt: skip
    assert "base: 1 of the 2 pairs unchanged since it was compared, kept (--force compares it again)" in run()


def test_the_pair_asked_for_is_not_summed_up_as_the_sites_one_pair(root: Path) -> None:
    # --before chose one of the site's two pairs: "base: its one pair compared this run", of a site of two.
    def run(*args: str) -> list[str]:
        res = CliRunner().invoke(main, [*args, "change", "base", "--before", "base/base_20241001", "-w", str(root)])
        assert res.exit_code == 0, res.output
        return [line for line in res.stdout.splitlines() if line.startswith("base:")]

    assert run("-q") == ["base: the pair asked for compared this run; 1 change on the ground in all"]
    assert run("-q") == ["base: the pair asked for unchanged since it was compared, kept; 1 change on the ground in all"]
    assert "base: the pair asked for unchanged since it was compared, kept (--force compares it again)" in run()


def test_shadow_twins_compares_again_only_the_pairs_it_reads(tmp_path: Path, compared: list[str]) -> None:
    # --shadow-twins entered every pair's inputs: a rerun with it compared again a SAR pair and a pair with an SCL
    # band, which it leaves as they were (their regions the same), as well as the plain optical pairs it reads.
    site = tiny_site("base", half_deg=0.004)
    ws = workspace_with_sites(tmp_path / "ws", site)
    crs, x0, y0 = site_utm_origin(site)
    scl = np.full((1, 120, 100), 4, np.float32)  # vegetation: no cloud
    groups = {"plain": ("optical", DAYS, BANDS), "scl": ("optical", ("20241101", "20241105"), (*BANDS, "SCL")),
              "sar": ("sar", ("20241201", "20241205"), ("VV", "VH"))}  # fmt: skip
    for group, (sensor, days, names) in groups.items():
        (tmp_path / group).mkdir()
        files = []
        for day, like in zip(days, DAYS, strict=False):  # each group's dates as the plain ones: the same dug ground
            img = _image(like)
            data = {"plain": img, "scl": np.concatenate([img, scl]), "sar": img[:2] * 10}[group]
            files.append(write_tiff(tmp_path / group / f"base_{day}.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
                                    descriptions=names))  # fmt: skip
        res = CliRunner().invoke(main, ["ingest", "base", *map(str, files), "--sensor", sensor, "-w", str(ws.root)])
        assert res.exit_code == 0, res.output
    root = ws.root
    assert len(_again(root, compared)) == 5  # and 9 Oct -> 1 Nov, plain to SCL: a cloud mask on one date
    assert _again(root, compared, "--shadow-twins") == [FIRST, SECOND]  # the plain pairs only
    assert _again(root, compared, "--shadow-twins") == []
    assert _again(root, compared) == [FIRST, SECOND]  # and back


def test_the_site_redrawn_compares_its_pairs_and_its_water_polygon_none(root: Path, compared: list[str]) -> None:
    _change(root)
    with Store(root / "sitewatch.gpkg") as store:
        site = store.get_site("base")
        store.put_site(replace(site, water=site.require_geometry().buffer(-0.001)))  # change does not read it
    assert _again(root, compared) == []
    with Store(root / "sitewatch.gpkg") as store:
        site = store.get_site("base")
        store.put_site(replace(site, geometry=site.require_geometry().buffer(-0.0005, join_style="mitre")))
    assert _again(root, compared) == [FIRST, SECOND]
    assert _again(root, compared) == []


@pytest.mark.parametrize(("args", "back"), [(("--min-area-m2", "300"), ()), (("--cover-classes", "0"), ()),
                                            (("--no-learned",), ()), (("--with-detections",), ())])  # fmt: skip
def test_a_setting_changed_compares_every_pair_again_once(root: Path, compared: list[str], args: tuple[str, ...], back: tuple[str, ...]) -> None:
    _change(root)
    assert _again(root, compared, *args) == [FIRST, SECOND]
    assert _again(root, compared, *args) == []
    assert _again(root, compared, *back) == [FIRST, SECOND]  # the stored regions are of the other setting


def test_a_vessel_detected_in_one_image_compares_its_pairs_only(root: Path, compared: list[str]) -> None:
    _change(root)
    with Store(root / "sitewatch.gpkg") as store:
        obs = store.get_observation("base/base_20241001")
        c = tiny_site("base", half_deg=0.004).require_geometry().centroid
        ship = Detection(f"{obs.id}#1", obs.id, "vessel", box(c.x - 0.0005, c.y - 0.0001, c.x + 0.0005, c.y + 0.0001),
                         80.0, 15.0, 90.0, 0.9, "test", "1")  # fmt: skip
        store.replace_detections(obs, [ship])
    assert _again(root, compared) == [FIRST]
    assert _last_run(root)["kept"] == 1
    assert _again(root, compared) == []
    assert _again(root, compared, "--with-detections") == [FIRST, SECOND]  # none left out: other inputs


def test_an_archived_file_is_read_again_only_when_its_times_changed(root: Path, compared: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The rerun checks each archived file against its sha256, as `detect` does, reading it only when its size or
    times are not those it had when last found right; a file whose bytes changed is compared again."""
    hashed: list[str] = []
    real: Callable[[Path], str] = change_state.sha256_file
    monkeypatch.setattr(change_state, "sha256_file", lambda p: hashed.append(Path(p).name) or real(p))
    _change(root)
    assert _again(root, compared) == [] and sorted(hashed) == [f"base_{d}.tif" for d in DAYS]  # found right once
    hashed.clear()
    assert _again(root, compared) == [] and hashed == []
    archived = root / "archive" / "base" / f"base_{DAYS[0]}.tif"
    os.utime(archived, ns=(archived.stat().st_atime_ns, archived.stat().st_mtime_ns + 10**9))
    assert _again(root, compared) == [] and hashed == [archived.name]  # the same bytes: kept
    # Other bytes in the archive behind sitewatch's back: that file's pair is compared again (as ever, from the file).
    with open(archived, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 1]))
    assert _again(root, compared) == [FIRST]


def test_a_workspace_of_schema_14_migrates_and_its_pairs_are_compared_once_more(root: Path, compared: list[str]) -> None:
    """Pairs stored before ``change_pairs.inputs`` are compared once more, keeping the rows that come out the same
    (``computed_at`` too), and then kept."""
    _change(root)
    stored = _rows(root, "SELECT pair_id, computed_at FROM change_pairs ORDER BY pair_id")
    with closing(sqlite3.connect(root / "sitewatch.gpkg")) as db, db:
        db.execute("ALTER TABLE change_pairs DROP COLUMN inputs")  # as schema 14 has it
        db.execute("UPDATE sitewatch_meta SET value = '14' WHERE key = 'schema_version'")
    assert _again(root, compared) == [FIRST, SECOND]
    assert _rows(root, "SELECT value FROM sitewatch_meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert _rows(root, "SELECT pair_id, computed_at FROM change_pairs ORDER BY pair_id") == stored
    assert all(len(r[0]) == 64 for r in _rows(root, "SELECT inputs FROM change_pairs"))
    assert _again(root, compared) == []


def test_the_migration_adds_the_column_to_a_schema_14_database_keeping_its_pairs(tmp_path: Path) -> None:
    path = tmp_path / "old.gpkg"
    db = old_database(path, 14)
    db.execute(
        """INSERT INTO change_pairs (site_id, before_id, after_id, before_acquired, after_acquired, before_sha256,
           after_sha256, sensor, compared_fraction, method, method_version, parameters, simulated, computed_at)
           VALUES ('s', 's/a', 's/b', '2024-10-01T00:00:00.000Z', '2024-10-02T00:00:00.000Z', 'x', 'y', 'sar', 1.0,
                   'log-ratio', '1', '{}', 0, '2024-10-03T00:00:00.000Z')"""
    )
    db.commit()
    db.close()
    from sitewatch.store.changes import change_pairs

    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        (pair,) = change_pairs(store, "s")
        assert pair.inputs == "" and change_state.stored_inputs(store, "s") == {}


def test_a_pair_another_command_replaced_meanwhile_is_an_error_not_shown_as_kept(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between the read of the stored inputs and that of the kept pairs' regions, another command (a member's `change
    --min-area-m2 500` on a team store) compared a pair from other inputs: its regions are not this run's to print."""
    import sitewatch.store.changes as store_changes

    _change(root)
    real = store_changes.pairs_with_regions

    def another_command_first(store: Store, site_id: str, **kw: Any) -> Any:
        with store.transaction() as db:
            db.execute("UPDATE change_pairs SET inputs = ? WHERE after_id = 'base/base_20241009'", ("0" * 64,))
        return real(store, site_id, **kw)

    monkeypatch.setattr(store_changes, "pairs_with_regions", another_command_first)
    res = CliRunner().invoke(main, ["change", "base", "--json", "-w", str(root)])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout)
    assert [(p["after"], p["kept"]) for p in doc["pairs"]] == [("base/base_20241005", True)]
    assert doc["errors"] == ["base/base_20241005 -> base/base_20241009: its stored pair was replaced by another command "
                             "meanwhile; run change again"]  # fmt: skip


def test_on_a_postgis_team_store_a_rerun_compares_no_pair_and_a_vessel_detected_its_pairs(
    tmp_path: Path, pg_url: str, compared: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    from sitewatch.workspace import open_workspace

    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    runner = CliRunner()
    root = tmp_path / "ws"
    assert runner.invoke(main, ["init", str(root), "--store", pg_url]).exit_code == 0
    with open_workspace(root).store() as store:
        store.put_site(tiny_site("base", half_deg=0.004))
    files = [_write(tmp_path, day) for day in DAYS]
    res = runner.invoke(main, ["ingest", "base", *map(str, files), "--sensor", "optical", "-w", str(root)])
    assert res.exit_code == 0, res.output
    first = _change(root)
    assert sorted(compared) == [FIRST, SECOND]
    assert _again(root, compared) == []
    with open_workspace(root).store() as store:
        assert len(change_state.stored_inputs(store, "base")) == 2
        obs = store.get_observation("base/base_20241005")
        c = tiny_site("base", half_deg=0.004).require_geometry().centroid
        store.replace_detections(obs, [Detection(f"{obs.id}#1", obs.id, "vessel", box(c.x - 0.0005, c.y - 0.0001, c.x + 0.0005,
                                                 c.y + 0.0001), 80.0, 15.0, 90.0, 0.9, "test", "1")])  # fmt: skip
        (summary,) = store.execute("SELECT summary FROM runs WHERE stage = 'change' ORDER BY run_id DESC LIMIT 1")[0]
    summary = json.loads(summary) if isinstance(summary, str) else summary
    assert (summary["compared"], summary["kept"]) == (0, 2)
    assert _again(root, compared) == [FIRST, SECOND]  # the vessel's image is in both pairs
    again = _change(root)
    assert [p["kept"] for p in again["pairs"]] == [True, True] and len(again["pairs"]) == len(first["pairs"])
