"""Shell completion: ``sitewatch completion SHELL`` and what a Tab offers, driven as the shell drives it
(``_SITEWATCH_COMPLETE=bash_complete`` with ``COMP_WORDS`` and ``COMP_CWORD``), on a workspace of two sites."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from _old_store import copy_rows, old_database
from sitewatch.cli import main
from sitewatch.store.schema import SCHEMA_VERSION
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.workspace import Workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Sites ``dunai`` and ``dunay``, and one SAR observation of ``dunai``."""
    root = tmp_path_factory.mktemp("completion")
    dunai = tiny_site("dunai")
    ws = workspace_with_sites(root / "ws", dunai, tiny_site("dunay", lon=132.5))
    crs, x0, y0 = site_utm_origin(dunai)
    data = np.random.default_rng(0).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    tif = write_tiff(root / "a_20241017.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
                     descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"})  # fmt: skip
    res = CliRunner().invoke(main, ["-q", "ingest", "dunai", str(tif), "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    return ws


def complete(line: str, workspace: Path | None = None) -> list[str]:
    """What bash is offered for the last word of ``line`` (the word being typed: "" after a space), with
    SITEWATCH_WORKSPACE set to ``workspace`` (unset when None)."""
    words = line.split(" ")
    env = {
        "_SITEWATCH_COMPLETE": "bash_complete",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
        "SITEWATCH_WORKSPACE": str(workspace) if workspace is not None else None,
        "SITEWATCH_STORE": None,
    }
    res = CliRunner().invoke(main, [], prog_name="sitewatch", env=env)
    assert res.exit_code == 0, (res.output, res.exception)
    assert res.stderr == ""
    lines = [line for line in res.stdout.splitlines() if line]  # nothing is click's one empty line
    assert all(line.startswith("plain,") for line in lines), lines
    return [line.removeprefix("plain,") for line in lines]


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: its sha256 and mtime in ns."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_commands_and_subcommands_complete() -> None:
    assert complete("sitewatch ti") == ["timeline"]
    everything = complete("sitewatch ")
    assert everything[:3] == ["init", "store", "sites"] and "completion" in everything and "detect-image" in everything
    assert complete("sitewatch sites re") == ["remove"]
    assert "--verbose" in complete("sitewatch --")
    assert complete("sitewatch export --format k") == ["kml"]  # a click.Choice
    assert complete("sitewatch completion ") == ["bash", "zsh", "fish"]


def test_command_names_complete_without_importing_every_command() -> None:
    """Click's own completion of a group imported each command's module for its line of help: about 2 s
    at `sitewatch <Tab>`."""
    code = (
        "import sys\n"
        "from sitewatch.cli import main\n"
        "try:\n"
        "    main(prog_name='sitewatch')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('sitewatch.cli.')), file=sys.stderr)\n"
    )
    env = {**os.environ, "_SITEWATCH_COMPLETE": "bash_complete", "COMP_WORDS": "sitewatch ", "COMP_CWORD": "1"}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, encoding="utf-8", check=True)
    assert "plain,timeline" in res.stdout
    assert "sitewatch.cli.detect'" not in res.stderr and "sitewatch.cli.timeline'" not in res.stderr, res.stderr


ID_COMMANDS = ("ais", "change", "detect", "eval", "export", "fetch", "import_", "ingest", "links", "observations",
               "report", "search", "show", "sites", "timeline")  # fmt: skip
"""The command modules with a SITE, --site or OBSERVATION_ID completed from the workspace."""


def test_a_tab_on_a_command_that_completes_ids_imports_no_image_library() -> None:
    """A Tab imports the command's module: detect, ingest, import, eval, ais, fetch and search imported rasterio,
    scipy or pystac-client at module level, and a Tab on them took 0.8-2.1 s."""
    code = (
        "import importlib, sys\n"
        f"for m in {ID_COMMANDS!r}:\n"
        "    importlib.import_module('sitewatch.cli.' + m)\n"
        "print(','.join(m for m in ('rasterio', 'scipy', 'pystac_client') if m in sys.modules))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8", check=True)
    assert res.stdout.strip() == ""


def test_site_ids_complete_from_the_workspace_the_command_would_use(ws: Workspace) -> None:
    assert complete("sitewatch timeline ", ws.root) == ["dunai", "dunay"]
    assert complete("sitewatch detect dunay", ws.root) == ["dunay"]
    assert complete(f"sitewatch timeline -w {ws.root} dun") == ["dunai", "dunay"]  # -w beats the unset env
    assert complete(f"sitewatch -q export -w {ws.root} dunai ") == ["dunay"]  # not again what is given
    assert complete("sitewatch import x.tif --site ", ws.root) == ["dunai", "dunay"]
    assert complete("sitewatch sites remove d", ws.root) == ["dunai", "dunay"]
    assert complete("sitewatch timeline x", ws.root) == []


def test_observation_ids_complete(ws: Workspace) -> None:
    with ws.store() as store:
        (obs,) = store.observations("dunai")
    assert complete("sitewatch show ", ws.root) == [obs.id]
    assert complete("sitewatch change dunai --before ", ws.root) == [obs.id]
    assert complete("sitewatch change dunay --before ", ws.root) == []


def test_completion_writes_nothing_to_the_workspace(ws: Workspace) -> None:
    before = snapshot(ws.root)
    for line in ("sitewatch timeline ", "sitewatch show ", "sitewatch report d", "sitewatch observations "):
        assert complete(line, ws.root)
    assert snapshot(ws.root) == before


def test_no_workspace_completes_nothing_silently(tmp_path: Path) -> None:
    assert complete("sitewatch timeline ", tmp_path / "nowhere") == []
    assert complete("sitewatch timeline ", tmp_path) == []  # a folder, no workspace in it
    assert not (tmp_path / "sitewatch.gpkg").exists()


def test_a_team_store_or_a_broken_toml_completes_nothing(tmp_path: Path, ws: Workspace) -> None:
    copy = tmp_path / "ws"
    shutil.copytree(ws.root, copy)
    # An address that does not answer: never asked (libpq waits at least 2 s), so nothing, at once.
    (copy / "sitewatch.toml").write_text('[settings]\nstore = "postgresql://nobody@192.0.2.1/none"\n', encoding="utf-8")
    assert complete("sitewatch timeline ", copy) == []
    (copy / "sitewatch.toml").write_text("[settings\n", encoding="utf-8")
    assert complete("sitewatch timeline ", copy) == []


def test_a_locked_database_completes_nothing(tmp_path: Path, ws: Workspace) -> None:
    copy = tmp_path / "ws"
    shutil.copytree(ws.root, copy)
    holder = sqlite3.connect(copy / "sitewatch.gpkg", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        assert complete("sitewatch timeline ", copy) == []
    finally:
        holder.close()
    assert complete("sitewatch timeline ", copy) == ["dunai", "dunay"]


def test_an_older_database_is_neither_migrated_nor_read(tmp_path: Path, ws: Workspace) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    db = old_database(folder / "sitewatch.gpkg", SCHEMA_VERSION - 1)
    copy_rows(db, ws.db_path, ["sites"])
    db.commit()
    db.close()
    assert sqlite3.connect(folder / "sitewatch.gpkg").execute("SELECT count(*) FROM sites").fetchone() == (2,)
    before = snapshot(folder)
    assert complete("sitewatch timeline ", folder) == []
    assert snapshot(folder) == before


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_each_shells_script(shell: str) -> None:
    res = CliRunner().invoke(main, ["completion", shell])
    assert res.exit_code == 0, res.output
    assert "_SITEWATCH_COMPLETE" in res.stdout and f"{shell}_complete" in res.stdout


def test_completion_of_an_unknown_shell_is_refused() -> None:
    res = CliRunner().invoke(main, ["completion", "tcsh"])
    assert res.exit_code == 2
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in res.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_sourcing_the_script_completes_site_ids(tmp_path: Path, ws: Workspace) -> None:
    """The script as a user's ~/.bashrc sources it, its function called as bash calls it at a Tab."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "sitewatch").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m sitewatch "$@"\n', encoding="utf-8")
    (bin_ / "sitewatch").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_}{os.pathsep}{os.environ['PATH']}", "SITEWATCH_WORKSPACE": str(ws.root)}
    script = (
        'eval "$(sitewatch completion bash)"\n'
        "COMP_WORDS=(sitewatch timeline du); COMP_CWORD=2\n"
        "_sitewatch_completion sitewatch\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    res = subprocess.run(["bash", "--norc", "-c", script], env=env, capture_output=True, text=True, encoding="utf-8")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["dunai", "dunay"]
