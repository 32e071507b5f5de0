"""Workspaces that move, folders of them that are symlinks to another disk, and paths given every way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.report.html import image_href
from sitewatch.workspace import Workspace

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
