"""The sweep of a site's archive folder (:func:`~sitewatch.ingest.removal.remove_unrecorded`) removes only a marked
file no row names: a row naming it another way than ``archive/SITE/NAME.tif`` (absolute, with ``./``, in other case)
keeps it, a folder reached through a symlink out of the workspace (which a copy of it may share) is not swept, and an
ingest's own input lying in the folder is read, not removed."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from _report_world import build
from sitewatch.cli import main
from sitewatch.ingest import removal
from sitewatch.ingest.removal import remove_unrecorded, unrecorded_marker
from sitewatch.workspace import Workspace, init_workspace

SAR_20 = "dunai:sim-dunai-2024-10-20-sar"


def _aged(folder: Path) -> None:
    """Every file of ``folder`` a day old (its mtime; its ctime is passed over by ``min_age_s=0``)."""
    old = time.time() - 86400
    for p in folder.iterdir():
        os.utime(p, (old, old), follow_symlinks=False)


@pytest.mark.parametrize("store", ["geopackage", "postgis"])
@pytest.mark.parametrize("form", ["absolute", "resolved", "dot", "double-slash", "case", "backslash", "other-site"])
def test_a_cog_its_row_names_another_way_is_kept(request: pytest.FixtureRequest, tmp_path: Path, form: str, store: str) -> None:
    """A row naming its COG by an absolute path (the workspace's, or through its link), with ``./`` or ``//``, in
    other case or with backslashes (a disk that ignores case, a Windows member's row), or a row of another site
    naming it in upper case, keeps it, on either store (PostGIS with SITEWATCH_TEST_POSTGRES set)."""
    if store == "postgis":
        init_workspace(tmp_path / "ws", request.getfixturevalue("pg_url"))
    ws = build(tmp_path / "ws")
    name = "late.tif"
    with ws.store() as store:
        o = store.get_observation(SAR_20)
        shutil.copyfile(ws.root / o.path, ws.archive / "dunai" / name)
        written = {
            "absolute": str((ws.root / "archive/dunai" / name).absolute()),
            "resolved": str((ws.root / "archive/dunai" / name).resolve()),
            "dot": f"./archive/dunai/{name}",
            "double-slash": f"archive//dunai/{name}",
            "case": f"archive/dunai/{name.upper()}",
            "backslash": f"archive\\dunai\\{name}",
            "other-site": f"ARCHIVE/DUNAI/{name}",
        }[form]
        scene = dataclasses.replace(o.scene, item_id="late")
        other = "dunai"
        if form == "other-site":
            other = "dunai-east"
            store.put_site(dataclasses.replace(store.get_site("dunai"), id=other))
        store.put_observation(dataclasses.replace(o, id=f"{other}:late", site_id=other, scene=scene, path=written, provenance={}))
    unrecorded_marker(ws.archive / "dunai" / name).touch()  # as a re-ingest of it killed before its commit leaves it
    _aged(ws.archive / "dunai")
    listed = sorted(p.name for p in (ws.archive / "dunai").iterdir() if not p.name.startswith("."))
    with ws.store() as store:
        assert remove_unrecorded(ws, store, "dunai", min_age_s=0.0) == []
    assert sorted(p.name for p in (ws.archive / "dunai").iterdir() if not p.name.startswith(".")) == listed


def test_an_ingest_input_in_the_sites_archive_folder_is_read_not_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's image put into ``archive/SITE/`` and ingested from there is the run's input: the sweep the ingest
    runs first does not delete it before it is read (nor after)."""
    ws = build(tmp_path / "ws")
    with ws.store() as store:
        o = store.get_observation(SAR_20)
    mine = ws.archive / "dunai" / "bought_20241025.tif"
    shutil.copyfile(ws.root / o.path, mine)
    _aged(ws.archive / "dunai")
    monkeypatch.setattr(removal, "UNRECORDED_MIN_AGE_S", 0.0)
    res = CliRunner().invoke(main, ["ingest", "dunai", str(mine), "--acquired", "2024-10-25", "-w", str(ws.root)])
    assert res.exit_code == 0 and "ingested 1 observation(s) into 'dunai'" in res.output, res.output
    assert mine.exists() and "no observation named" not in res.output
    with ws.store() as store:
        assert store.get_observation("dunai/bought_20241025").path == "archive/dunai/bought_20241025.tif"


@pytest.mark.parametrize("linked", ["archive", "site folder"])
def test_an_archive_on_another_disk_that_a_copy_of_the_workspace_shares_keeps_the_copys_cogs(tmp_path: Path, linked: str) -> None:
    """``archive/`` (or a site's folder) a symlink to another disk, and the workspace copied whole (``cp -a``, which
    copies the link): both workspaces' COGs are in one folder, each recorded in its own database. The sweep of one
    must not take the other's COGs for ones a killed run left: through a link out of the workspace nothing goes."""
    a = build(tmp_path / "a")
    disk = tmp_path / "disk"
    disk.mkdir()
    moved = a.archive if linked == "archive" else a.archive / "dunai"
    shutil.move(moved, disk / moved.name)
    moved.symlink_to(disk / moved.name, target_is_directory=True)
    b_root = tmp_path / "b"
    shutil.copytree(a.root, b_root, symlinks=True)
    b = Workspace(b_root)
    with b.store() as store:
        o = store.get_observation(SAR_20)
        shutil.copyfile(b.root / o.path, b.archive / "dunai" / "b-only.tif")  # b's ingest, after the copy
        scene = dataclasses.replace(o.scene, item_id="b-only")
        store.put_observation(dataclasses.replace(o, id="dunai:b-only", scene=scene, path="archive/dunai/b-only.tif", provenance={}))
    unrecorded_marker(b.archive / "dunai" / "b-only.tif").touch()  # b's commit under way (its own database's lock)
    # Aged: a network disk whose clock runs behind this machine's gives a file just renamed an old ctime.
    _aged(disk / moved.name if linked == "site folder" else disk / "archive" / "dunai")
    with a.store() as store:
        assert remove_unrecorded(a, store, "dunai", min_age_s=0.0) == []
    assert (b.archive / "dunai" / "b-only.tif").exists()
