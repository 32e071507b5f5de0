"""``--out`` naming one of the command's own input files is refused before any work: the input
would be overwritten. Paths are compared resolved (``./x``, a symlink to the input)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from sitewatch.cli import main

CONTENT = "mmsi,time,lat,lon\n"


def _same(p: Path) -> str:
    return str(p)


def _dotted(p: Path) -> str:
    return os.path.join(".", p.parent.name, "..", p.parent.name, p.name)


def _symlink(p: Path) -> str:
    link = p.parent / f"link-{p.name}"
    link.symlink_to(p)
    return str(link)


ARGS: dict[str, Callable[[Path, str], list[str]]] = {
    "claims": lambda f, out: ["claims", "check", str(f), "--out", out],
    "alerts": lambda f, out: ["alerts", "check", "--rules", str(f), "--out", out],
    "ais": lambda f, out: ["ais", "dunai", "--ais", str(f), "--out", out],
}


@pytest.mark.parametrize("command", sorted(ARGS))
@pytest.mark.parametrize("spell", [_same, _dotted, _symlink], ids=["same", "dotted", "symlink"])
def test_out_that_is_the_input_file_is_refused_and_the_input_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, spell: Callable[[Path], str]
) -> None:
    root = tmp_path / "ws"
    assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
    folder = tmp_path / "in"
    folder.mkdir()
    given = folder / "input.json"  # a name every --out takes (ais writes GeoJSON only)
    given.write_text(CONTENT)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, [*ARGS[command](given, spell(given)), "-w", str(root)])
    assert res.exit_code == 2, res.output
    assert str(given) in res.stderr and "choose another path" in res.stderr
    assert given.read_text() == CONTENT
