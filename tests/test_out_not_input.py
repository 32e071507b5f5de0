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
    # `report --claims claims.yaml --out claims.yaml` wrote the report over the claims it had just checked.
    "report --claims": lambda f, out: ["report", "--claims", str(f), "--out", out],
    "report --ais": lambda f, out: ["report", "--ais", str(f), "--out", out],
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
    # A name the --out takes (ais writes GeoJSON only, report HTML only), so that the path is what is refused.
    given = folder / ("input.html" if command.startswith("report") else "input.json")
    given.write_text(CONTENT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, [*ARGS[command](given, spell(given)), "-w", str(root)])
    assert res.exit_code == 2, res.output
    assert str(given) in res.stderr and "choose another path" in res.stderr
    assert given.read_text(encoding="utf-8") == CONTENT


OWN_FILE_ARGS: dict[str, Callable[[Path, str], list[str]]] = {
    "report": lambda f, out: ["report", "--out", out],
    "timeline --csv": lambda f, out: ["timeline", "dunai", "--csv", out],
    "timeline --chart": lambda f, out: ["timeline", "dunai", "--chart", out],
    "claims": lambda f, out: ["claims", "check", str(f), "--out", out],
    "alerts": lambda f, out: ["alerts", "check", "--rules", str(f), "--out", out],
    "sites export": lambda f, out: ["sites", "export", out, "--format", "geojson"],
    "export": lambda f, out: ["export", "--out", out, "--format", "csv"],
}


@pytest.mark.parametrize("command", sorted(OWN_FILE_ARGS))
@pytest.mark.parametrize("own", ["sitewatch.gpkg", "sitewatch.toml"])
def test_out_that_is_the_workspace_database_or_settings_is_refused_and_the_workspace_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, own: str
) -> None:
    # `sitewatch report --out s<TAB>` completed to sitewatch.gpkg wrote the report over the workspace's database.
    root = tmp_path / "ws"
    assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
    assert CliRunner().invoke(main, ["sites", "add", "dunai", "--builtin", "-w", str(root)]).exit_code == 0
    given = tmp_path / "input.yaml"
    given.write_text("claims: []\n", encoding="utf-8")
    before = (root / own).read_bytes()
    monkeypatch.chdir(root)
    res = CliRunner().invoke(main, OWN_FILE_ARGS[command](given, own))
    if command in ("report", "timeline --csv", "timeline --chart", "claims"):
        # These write one kind of file (.html, .csv, .png, .json): a .gpkg or .toml is refused by its name first.
        assert res.exit_code == 2 and "written as" in res.stderr and own in res.stderr, res.output
    else:
        assert res.exit_code == 1, res.output
        assert "is the workspace's own" in res.stderr and own in res.stderr
    assert (root / own).read_bytes() == before
    assert CliRunner().invoke(main, ["sites", "list"]).exit_code == 0


EMPTY_OUT_ARGS: list[list[str]] = [
    ["report", "--out"],
    ["timeline", "dunai", "--csv"],
    ["timeline", "dunai", "--json"],
    ["timeline", "dunai", "--chart"],
    ["export", "--out"],
    ["claims", "check", "{given}", "--out"],
    ["alerts", "check", "--rules", "{given}", "--out"],
    ["sites", "export"],
    ["change", "dunai", "--out"],
    ["ais", "dunai", "--ais", "{given}", "--out"],
]


@pytest.mark.parametrize("args", EMPTY_OUT_ARGS, ids=[" ".join(a).replace("{given}", "FILE") for a in EMPTY_OUT_ARGS])
def test_an_empty_output_name_is_a_usage_error_naming_the_option(tmp_path: Path, args: list[str]) -> None:
    # `--out "$OUT"` with OUT unset: `report` rendered the whole report, then failed with a ValueError traceback;
    # `timeline --csv ""` printed the table and exited 0 without a CSV.
    root = tmp_path / "ws"
    assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
    assert CliRunner().invoke(main, ["sites", "add", "dunai", "--builtin", "-w", str(root)]).exit_code == 0
    given = tmp_path / "input.json"
    given.write_text(CONTENT, encoding="utf-8")
    res = CliRunner().invoke(main, [*(a.format(given=given) for a in args), "", "-w", str(root)])
    assert res.exit_code == 2, res.output
    assert f"Invalid value for '{args[-1] if args[-1].startswith('--') else 'PATH'}': an empty name" in res.stderr


def test_an_output_under_a_file_says_the_file_is_no_folder(tmp_path: Path) -> None:
    # `--out notes.txt/x.kml` said "folder notes.txt does not exist" of a file the user could see there.
    root = tmp_path / "ws"
    assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    res = CliRunner().invoke(main, ["export", "--out", str(tmp_path / "notes.txt" / "x.kml"), "-w", str(root)])
    assert res.exit_code == 2 and "notes.txt is a file, not a folder" in res.stderr, res.output
    res = CliRunner().invoke(main, ["export", "--out", str(tmp_path / "missing" / "x.kml"), "-w", str(root)])
    assert res.exit_code == 2 and "missing does not exist" in res.stderr, res.output
