"""Workspaces that move, folders of them that are symlinks to another disk, and paths given every way."""

from __future__ import annotations

import errno
import json
import os
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.report.html import image_href
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.workspace import Workspace

SITE = tiny_site()

COG = "archive/dunai/sim-s2-dunai-20241017T0040.tif"


def _linked_archive(tmp_path: Path) -> Workspace:
    """A workspace whose archive/ is a symlink to a folder on a big disk (here: elsewhere in tmp_path)."""
    disk = tmp_path / "big disk" / "imagery"
    (disk / "dunai").mkdir(parents=True)
    (disk / "dunai" / Path(COG).name).write_bytes(b"II*\0")
    root = tmp_path / "ws"
    root.mkdir()
    (root / "archive").symlink_to(disk, target_is_directory=True)
    return Workspace(root)


def test_a_report_links_through_an_archive_that_is_a_symlink(tmp_path: Path) -> None:
    # The links went to the disk's own folders (../big%20disk/imagery/…): broken once the workspace was copied
    # with its link pointed at the disk's new place, and naming that disk's folders in a --share report.
    ws = _linked_archive(tmp_path)
    assert image_href(ws, COG, ws.root) == COG
    assert image_href(ws, COG, ws.root, share=True) == COG
    (ws.root / "reports").mkdir()
    assert image_href(ws, COG, ws.root / "reports") == f"../{COG}"
    (tmp_path / "out").mkdir()
    assert image_href(ws, COG, tmp_path / "out") == f"../ws/{COG}"
    assert (tmp_path / "out" / image_href(ws, COG, tmp_path / "out")).is_file()


def test_a_report_of_a_workspace_opened_through_a_symlink_links_relative(tmp_path: Path) -> None:
    ws = _linked_archive(tmp_path)
    link = tmp_path / "link-to-ws"
    link.symlink_to(ws.root, target_is_directory=True)
    opened = Workspace(link)
    assert image_href(opened, COG, link) == COG
    assert image_href(opened, COG, ws.root) == COG  # the same folder by its real name


def test_a_workspace_named_with_a_tilde_the_shell_left_is_in_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SITEWATCH_WORKSPACE="~/ws" quoted in a script or an env file: init made a folder named "~" in the current
    # one, and every other command said "workspace folder /here/~/ws does not exist".
    home, here = tmp_path / "home", tmp_path / "here"
    home.mkdir(), here.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(here)
    monkeypatch.setenv("SITEWATCH_WORKSPACE", "~/ws")
    runner = CliRunner()
    made = runner.invoke(main, ["init"])
    assert made.exit_code == 0, made.output
    assert (home / "ws" / "sitewatch.gpkg").is_file() and not (here / "~").exists()
    listed = runner.invoke(main, ["sites", "list", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.output)["features"] == [], listed.output
    listed = runner.invoke(main, ["sites", "list", "--json", "-w", "~/ws/"], env={"SITEWATCH_WORKSPACE": None})
    assert listed.exit_code == 0, listed.output


def _sar(path: Path, when: str | None = "2024-10-17T09:30:00Z", seed: int = 0) -> Path:
    crs, x0, y0 = site_utm_origin(SITE)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(seed).gamma(4.5, 0.01 / 4.5, (120, 100)).astype("float32")
    data[50:53, 40:52] = 3.0  # a ship
    return write_tiff(path, data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"],
                      tags={"SITEWATCH_ACQUIRED": when} if when else None)  # fmt: skip


def _links_folder(tmp_path: Path) -> Path:
    """A folder of links to imagery on a big disk: one good, one to a disk not mounted, and a loop."""
    real = _sar(tmp_path / "big disk" / "s1-20241017.tif")
    folder = tmp_path / "links"
    folder.mkdir()
    (folder / "good.tif").symlink_to(real)
    (folder / "gone.tif").symlink_to(tmp_path / "not mounted" / "s1-20241018.tif")
    (folder / "loop-a.tif").symlink_to(folder / "loop-b.tif")
    (folder / "loop-b.tif").symlink_to(folder / "loop-a.tif")
    return folder


@pytest.mark.parametrize("command", ["ingest", "import"])
def test_a_folder_of_links_names_the_dangling_link_and_the_loop_and_takes_the_others(
    tmp_path: Path, command: str
) -> None:
    # A loop was a RuntimeError traceback ("Symlink loop from …"); a dangling link was "not found where the job ran
    # (host), though the command sees it: every Dask worker must see the input files…" without any Dask.
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    folder = _links_folder(tmp_path)
    args = [command, SITE.id] if command == "ingest" else [command]
    for _ in range(2):  # a rerun adds nothing
        r = CliRunner().invoke(main, ["-q", *args, str(folder), "-w", str(ws.root), "--workers", "1"])
        assert r.exit_code == 3, r.output
        assert "gone.tif: a symlink to" in r.output and "which does not exist" in r.output, r.output
        assert "loop-a.tif: a symlink loop" in r.output and "loop-b.tif: a symlink loop" in r.output, r.output
        assert "Dask" not in r.output and "Traceback" not in r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.provenance["source_path"] == str(tmp_path / "big disk" / "s1-20241017.tif")  # the file, not the link


def test_detect_image_names_a_dangling_link_in_its_folder(tmp_path: Path) -> None:
    # Links that led nowhere were left out of the folder's images without a word ("1 of 1 image(s)").
    folder = _links_folder(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    r = CliRunner().invoke(main, ["detect-image", str(folder), "--out", str(out)])
    assert r.exit_code == 3, r.output
    assert "gone.tif: a symlink to" in r.output and "loop-a.tif: a symlink loop" in r.output, r.output
    assert "1 of 4 image(s)" in r.output and (out / "good.geojson").is_file()


def test_a_workspace_moved_and_renamed_keeps_working(tmp_path: Path) -> None:
    # Copied with cp -a or tar to a colleague, under another name with a space: the database names its COGs
    # relative to the folder, so nothing points back at the old place but the inputs' own paths (provenance).
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    runner = CliRunner()
    assert runner.invoke(main, ["-q", "ingest", SITE.id, str(_sar(tmp_path / "in" / "a.tif")), "-w", str(ws.root)]).exit_code == 0
    moved = tmp_path / "colleague" / "harbour study"
    moved.parent.mkdir()
    ws.root.rename(moved)
    with closing(sqlite3.connect(moved / "sitewatch.gpkg")) as db:
        dump = "\n".join(db.iterdump())
    assert str(ws.root) not in dump.replace(str(tmp_path / "in"), "")
    for args in (["detect", SITE.id, "--force"], ["report", "--out", str(moved / "r.html")],
                 ["ingest", SITE.id, str(_sar(tmp_path / "in" / "b.tif", "2024-10-18T09:30:00Z", seed=1))]):  # fmt: skip
        r = runner.invoke(main, ["-q", *args, "-w", str(moved)])
        assert r.exit_code == 0, (args, r.output)
    html = (moved / "r.html").read_text(encoding="utf-8")
    assert f'href="archive/{SITE.id}/' in html and str(ws.root) not in html


def test_nothing_renames_across_an_archive_or_exports_on_another_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # archive/ and exports/ symlinks to another file system: a rename between the two fails with EXDEV. Every
    # file is written under a partial name beside its final one, so no rename crosses; this holds it so.
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    disk = tmp_path / "other fs"
    (ws.root / "archive").rmdir()
    (disk / "archive").mkdir(parents=True)
    (disk / "exports").mkdir()
    (ws.root / "archive").symlink_to(disk / "archive", target_is_directory=True)
    (ws.root / "exports").symlink_to(disk / "exports", target_is_directory=True)
    real_replace, real_rename = os.replace, os.rename

    def same_fs_only(real: Any) -> Any:
        def move(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            if Path(src).resolve().parent != Path(dst).resolve().parent:
                raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(src), None, str(dst))
            real(src, dst, *args, **kwargs)
        return move

    monkeypatch.setattr(os, "replace", same_fs_only(real_replace))
    monkeypatch.setattr(os, "rename", same_fs_only(real_rename))
    runner = CliRunner()
    for args in (["ingest", SITE.id, str(_sar(tmp_path / "in" / "a.tif")), "--workers", "1"], ["detect", SITE.id],
                 ["export", "--out", "exports/d.gpkg"], ["export", "--out", "exports/d.geojson"],
                 ["report", "--out", "exports/r.html"]):  # fmt: skip
        monkeypatch.chdir(ws.root)
        r = runner.invoke(main, ["-q", *args, "-w", "."])
        assert r.exit_code == 0, (args, r.output)
    assert len(list((disk / "archive" / SITE.id).glob("*.tif"))) == 1
    assert {p.name for p in (disk / "exports").iterdir()} == {"d.gpkg", "d.geojson", "r.html"}
    hrefs = re.findall(r'href="(archive/[^"]+|\.\./[^"]+)"', (disk / "exports" / "r.html").read_text(encoding="utf-8"))
    assert hrefs and all((disk / "exports" / unquote(h)).is_file() for h in hrefs)  # from the file's real folder


def test_a_link_to_a_delivery_on_another_disk_reads_the_sidecars_beside_the_file(tmp_path: Path) -> None:
    # The provider's metadata (its acquisition time), and a simulated scene's truth, lie beside the file on the
    # disk, not beside the link: ingest refused the link for want of a time, and eval skipped its observation.
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    real = _sar(tmp_path / "big disk" / "delivery" / "scene_20241019.tif", when=None)
    real.with_suffix(".json").write_text('{"properties": {"datetime": "2024-10-19T09:31:00Z"}}', encoding="utf-8")
    real.with_name("scene_20241019.truth.geojson").write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "dunai-pass.tif").symlink_to(real)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(inbox / "dunai-pass.tif"), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.scene.acquired.isoformat().startswith("2024-10-19T09:31")
    assert obs.provenance["metadata_files"] == [str(real.with_suffix(".json"))]
    assert list((ws.archive / SITE.id).glob("*.truth.geojson"))


def test_a_link_to_a_planet_image_finds_the_udm2_beside_the_image(tmp_path: Path) -> None:
    # The usable data mask (its clouds) lies beside the image on the disk: the link alone left it unread.
    from sitewatch.sources.planet import udm2_sibling

    delivery = tmp_path / "big disk" / "PSScene"
    delivery.mkdir(parents=True)
    image = delivery / "20241015_012345_22_2470_3B_AnalyticMS_SR.tif"
    mask = delivery / "20241015_012345_22_2470_3B_udm2.tif"
    image.write_bytes(b"II*\0"), mask.write_bytes(b"II*\0")
    (tmp_path / "inbox").mkdir()
    link = tmp_path / "inbox" / image.name
    link.symlink_to(image)
    assert udm2_sibling(link) == mask
    (tmp_path / "inbox" / mask.name).write_bytes(b"II*\0")  # one beside the link is the link's own
    assert udm2_sibling(link) == tmp_path / "inbox" / mask.name


def test_an_archive_link_to_a_disk_not_mounted_is_said_so(tmp_path: Path) -> None:
    # ingest said "cannot write it into the archive (File exists: archive)" and init "File exists (archive)".
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    (ws.root / "archive").rmdir()
    (ws.root / "archive").symlink_to(tmp_path / "not mounted" / "archive", target_is_directory=True)
    runner = CliRunner()
    for args in (["ingest", SITE.id, str(_sar(tmp_path / "in" / "a.tif")), "-w", str(ws.root)], ["init", str(ws.root)]):
        r = runner.invoke(main, args)
        assert r.exit_code == 1, r.output
        assert "archive is a symlink to" in r.output and "which does not exist" in r.output and "mounted" in r.output, r.output
    with ws.store() as store:
        assert store.counts()["observations"] == 0
