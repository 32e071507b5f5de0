"""What a terminal 80 or 60 columns wide shows of each command that prints a table or long lines, and what a file or
a pipe gets: no line wider than the terminal, no id split over two lines, no word cut, no ANSI code in a file, no
traceback when the reader goes, and on a terminal the latest rows with a line saying ``--all`` shows every one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from _report_world import build
from _tables import too_wide, whole_words
from sitewatch.cli import main, output

_CLAIMS = """\
title: Claims about the Dunai naval port, October 2024, as a long title that a narrow terminal wraps between words
claims:
  - id: a-ship-at-the-dunai-pier-on-the-seventeenth-of-october
    text: A ship was at the pier on 17 October.
    source: a test
    sites: [dunai]
    assert: {kind: vessel_present, date: 2024-10-17, min_length_m: 100, max_length_m: 130}
  - id: no-ship-at-the-dunai-pier-on-the-twentieth-of-october
    text: The pier was empty on 20 October.
    source: a test
    sites: [dunai]
    assert: {kind: vessel_present, date: 2024-10-20}
"""
_RULES = "rules:\n  - {id: gone-from-dunai, kind: departure, sites: [dunai]}\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report world (Dunai, SAR and optical on 17 and 20 October) with a claims file, a rules file and an AIS file."""
    root = build(tmp_path_factory.mktemp("narrow") / "ws").root
    (root / "claims.yaml").write_text(_CLAIMS, encoding="utf-8")
    (root / "rules.yaml").write_text(_RULES, encoding="utf-8")
    rows = ["mmsi,time,lat,lon,sog,length,name"]
    rows += [f"273111111,2024-10-17T21:0{m}:00Z,42.8801,132.3381,0.0,113,NIKOLAY" for m in range(4)]
    (root / "ais.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def two_ports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rason and Dunai, a 93 m ship last seen at Rason on 12 October and a 90 m one first seen at Dunai on the 14th."""
    from test_links import _workspace

    return _workspace(tmp_path_factory.mktemp("links") / "ws")


COMMANDS: dict[str, list[str]] = {
    "links": ["links"],
    "observations": ["observations"],
    "timeline": ["timeline"],
    "sites list": ["sites", "list"],
    "claims check": ["claims", "check", "claims.yaml"],
    "alerts check": ["alerts", "check", "--rules", "rules.yaml", "--all", "--out", "events.jsonl"],
    "ais": ["ais", "dunai", "--ais", "ais.csv"],
    "show": ["show", "dunai:sim-dunai-2024-10-17-sar"],
}


TABLE_THEN_LINES = {"links": 2, "claims check": 1, "observations": 0, "sites list": 0, "show": 0}
"""The commands that print a table, and how many lines of text follow it."""


def _run(root: Path, name: str, columns: int | None, *extra: str) -> str:
    args = [a if not a.endswith((".yaml", ".csv", ".jsonl")) else str(root / a) for a in COMMANDS[name]]
    res = CliRunner().invoke(main, [*args, "-w", str(root), *extra], env={"COLUMNS": None if columns is None else str(columns)})
    assert res.exit_code == 0, res.output
    return res.stdout


def _ids(root: Path) -> set[str]:
    """The ids a user copies from these outputs: the sites' and the observations'."""
    from sitewatch.workspace import open_workspace

    with open_workspace(root).store() as store:
        return {s.id for s in store.sites()} | {o.id for o in store.observations()}


def _split_ids(text: str, ids: set[str]) -> list[str]:
    """The words of ``text`` that begin an id but are not one: the first piece of an id folded over lines."""
    starts = {i[:n] for i in ids for n in range(4, len(i))}
    words = {w.rstrip(",;:)") for w in whole_words(text)}  # "dunai: AIS: 1 matched" names the site whole
    return sorted(w for w in words if w in starts and w not in ids)


@pytest.mark.parametrize("terminal", [False, True], ids=["COLUMNS", "terminal"])
@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_narrow_terminal_gets_every_line_within_its_width_and_every_id_whole(
    world: Path, two_ports: Path, monkeypatch: pytest.MonkeyPatch, name: str, columns: int, terminal: bool
) -> None:
    """At 80 columns `links` folded its ten columns a few characters wide: an observation id over five lines, "feasible"
    as "feasibl/e"; `observations` and `sites list` folded ids ("sergeyevka-ba/se"). Now on a terminal no line is
    wider than it (but a path longer than a whole line, written whole), and every id is whole on a line; with
    COLUMNS set into a file, the tables are as narrow and the other lines a line each, as a script reads them."""
    root = two_ports if name == "links" else world
    monkeypatch.setattr(output, "_stdout_is_terminal", lambda: terminal, raising=False)
    text = _run(root, name, columns)
    ids = _ids(root)
    if terminal:
        assert not too_wide(text, columns), text
    elif name in TABLE_THEN_LINES:  # into a file, COLUMNS narrows the table; the lines after it stay a line each
        assert not too_wide("\n".join(text.splitlines()[: len(text.splitlines()) - TABLE_THEN_LINES[name]]), columns), text
    assert not _split_ids(text, ids), text
    assert "…" not in text.replace("… ", "")  # nothing cut (a line of its own may begin with one)
    shown = {i for i in ids if i in whole_words(text)}
    if name == "links":
        assert {"rason/rason-2024-10-12-9", "dunai/dunai-2024-10-14-1", "archive/dunai/dunai-2024-10-14-1.tif"} <= whole_words(text)
    if name == "observations":
        assert shown >= ids - {"dunai"}, text
    if name == "sites list":
        assert shown >= {"dunai"}
    if name == "show":  # a line a field, the sha256 whole (`show` printed 120 columns at least, whatever the terminal)
        assert "dunai:sim-dunai-2024-10-17-sar" in shown and "\nsensor: sar\n" in text


def test_links_at_80_columns_give_a_record_a_link_its_ids_and_paths_whole(two_ports: Path) -> None:
    text = _run(two_ports, "links", 80)
    assert "  last seen at A: rason 2024-10-12 09:00 UTC\n" in text
    assert "\n    rason/rason-2024-10-12-9\n" in text and "\n    archive/rason/rason-2024-10-12-9.tif\n" in text
    assert "feasible: yes" in text and "1 feasible link of 1" in text


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_file_gets_a_line_a_row_and_no_ansi_code(world: Path, two_ports: Path, name: str) -> None:
    """Piped (no COLUMNS, not a terminal): what a script or grep reads, every row, however wide, no colour."""
    root = two_ports if name == "links" else world
    text = _run(root, name, None)
    assert "\x1b" not in text and "not shown" not in text
    if name == "observations":  # the whole row on a line
        assert "SIMULATED" in next(line for line in text.splitlines() if "dunai:sim-dunai-2024-10-17-sar" in line)
    if name == "links":  # each line of a cell whole, beside the same line of the other cells
        assert "dunai 2024-10-14 01:00 UTC" in next(line for line in text.splitlines() if "rason 2024-10-12 09:00 UTC" in line)


def test_a_terminal_shows_the_latest_rows_and_says_all_shows_every_one(world: Path, two_ports: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Years of history gave thousands of rows (3,754 links of five lines at 1,800 days: seconds of layout, more
    than a scrollback): a terminal now gets the latest, and a line naming what was left out and `--all`."""
    monkeypatch.setattr(output, "_stdout_is_terminal", lambda: True)
    monkeypatch.setattr(output, "TERMINAL_ROWS", 1)
    text = _run(world, "observations", 120)
    assert "dunai:sim-dunai-2024-10-20-sar" in text and "dunai:sim-dunai-2024-10-17-sar" not in text
    assert "… 3 earlier observations not shown: --all lists every one, --from/--to those of a period" in text
    every = _run(world, "observations", 120, "--all")
    assert "dunai:sim-dunai-2024-10-17-sar" in every and "not shown" not in every
    text = _run(world, "timeline", 120)
    assert "… 1 earlier dates not shown: --all lists every one" in text and "2024-10-17  " not in text
    assert "2024-10-20  " in text and "2024-10-17  " in _run(world, "timeline", 120, "--all")
    text = _run(world, "sites list", 120)
    assert "dunai" in text and "not shown" not in text  # one site: nothing to leave out
    from sitewatch.cli import links

    monkeypatch.setattr(links, "LINK_ROWS", 1)
    two = _run(two_ports, "links", 200, "--max-speed-kn", "200", "--window-days", "30")
    assert "1 feasible link of 1" in two and "not shown" not in two


@pytest.mark.parametrize("name", ["links", "observations", "timeline", "sites list", "claims check", "ais"])
def test_a_reader_that_goes_at_once_gets_no_traceback(world: Path, two_ports: Path, name: str) -> None:
    """`sitewatch links | head -0`: the reader gone before the first line, the command ends, exit code 1, nothing said."""
    root = two_ports if name == "links" else world
    args = [a if not a.endswith((".yaml", ".csv")) else str(root / a) for a in COMMANDS[name]]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src"), "TERM": "xterm-256color"}
    env.pop("COLUMNS", None)
    proc = subprocess.Popen([sys.executable, "-m", "sitewatch", *args, "-w", str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipe" not in err and b"Exception ignored" not in err, err
    assert proc.returncode == 1


def test_json_outputs_are_as_before(world: Path) -> None:
    """`--json` is the form for scripts: a terminal's width and row limit do not touch it."""
    res = CliRunner().invoke(main, ["observations", "-w", str(world), "--json"], env={"COLUMNS": "60"})
    assert len(json.loads(res.stdout)) == 4
