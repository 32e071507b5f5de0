"""Tables in the terminal: every value whole at 80-100 columns, ids folded rather than cut."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.table import Table

from _report_world import build
from _tables import too_wide, whole_words
from sitewatch.cli import main
from sitewatch.cli.output import add_id_column, print_table


def _rich_renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one each time rich renders lines (of a cell, a row or a title) from now on."""
    from rich.console import Console

    rendered: list[int] = []
    real = Console.render_lines

    def counted(self: Console, *args: object, **kwargs: object) -> object:
        rendered.append(1)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Console, "render_lines", counted)
    return rendered


@pytest.mark.parametrize("columns", [80, 100])
def test_observations_are_readable_and_say_simulated(tmp_path: Path, columns: int) -> None:
    ws = build(tmp_path / "ws")
    r = CliRunner().invoke(main, ["observations", "-w", str(ws.root)], env={"COLUMNS": str(columns)})
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert "…" not in r.output and max(len(line) for line in lines) <= columns
    assert r.output.count("(SIMULATED)") == 4  # one per observation, never cut
    for word in ("acquired", "(UTC)", "sensor", "platform", "detections", "2024-10-17", "optical", "100.0"):
        assert word in r.output
    words = whole_words(r.output)  # each id on one line, whole
    for day in (17, 20):
        for sensor in ("sar", "optical"):
            assert f"dunai:sim-dunai-2024-10-{day}-{sensor}" in words


def test_print_table_gives_a_record_a_row_when_an_id_does_not_fit(capsys: pytest.CaptureFixture[str]) -> None:
    """At 60 columns a Sentinel-2 id folded over four lines of its column (copied, it came out in pieces): a terminal
    too narrow for every column's longest word now gets a record a row, its id on a line of its own."""
    table = Table()
    long_id = "genoa:S2A_MSIL2A_20240510T101601_R065_T32TMQ_20240510T161604"
    add_id_column(table, "id", [long_id])
    for header in ("acquired (UTC)", "platform"):
        table.add_column(header)
    table.add_row(long_id, "2024-05-10 10:16", "sentinel-2a (SIMULATED)")
    table.add_row(long_id.replace("genoa", "spezia"), "2024-05-11 10:16", "sentinel-2b")
    print_table(table, width=60)
    out = capsys.readouterr().out
    assert out.splitlines() == [
        long_id,
        "  acquired (UTC): 2024-05-10 10:16",
        "  platform: sentinel-2a (SIMULATED)",
        "",
        long_id.replace("genoa", "spezia"),
        "  acquired (UTC): 2024-05-11 10:16  platform: sentinel-2b",
    ]


def test_print_table_wraps_between_words_and_keeps_the_id_whole(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Room for every column's longest word but not its widest cell: the cells wrap between words, the id column
    widest first; no word is split and rich lays out only the header and one row (written here, the same bytes)."""
    from rich.console import Console

    def table() -> Table:
        t = Table()
        add_id_column(t, "id", [])
        for header in ("name", "kind"):
            t.add_column(header)
        for i in range(40):
            t.add_row(f"port-{i:03d}-of-the-long-list", f"Port number {i} of a long list of ports", "port")
        return t

    rendered = _rich_renders(monkeypatch)
    print_table(table(), width=60)
    monkeypatch.undo()
    ours = capsys.readouterr().out
    assert not too_wide(ours, 60) and {f"port-{i:03d}-of-the-long-list" for i in range(40)} <= whole_words(ours)
    assert "│ port-000-of-the-long-list │ Port number 0 of a    │ port │\n│                           │ long list of ports    │      │" in ours
    assert len(rendered) < 30  # the header and one row, not 40 rows' cells
    reference = table()
    reference.columns[0].width, reference.columns[1].width, reference.columns[2].width = 25, 21, 4
    for column in reference.columns:
        column.overflow = "fold"
    Console(width=60, markup=False).print(reference)
    assert ours == capsys.readouterr().out


def test_piped_tables_keep_one_line_per_row(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    r = CliRunner().invoke(main, ["observations", "-w", str(ws.root)], env={"COLUMNS": None})
    assert r.exit_code == 0, r.output
    rows = [line for line in r.output.splitlines() if "dunai/" in line or "dunai:" in line]
    assert len(rows) == 4 and all("(SIMULATED)" in line for line in rows)  # no word folded onto a next line
    assert max(len(line) for line in r.output.splitlines()) > 80


def test_observations_json_gives_the_time_in_iso_8601_utc(tmp_path: Path) -> None:
    import json

    ws = build(tmp_path / "ws")
    r = CliRunner().invoke(main, ["observations", "dunai", "--json", "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    with ws.store() as store:
        want = {o.id: o.scene.acquired for o in store.observations("dunai")}
    for row in rows:
        assert row["acquired"].endswith("Z") and "T" in row["acquired"]
        assert datetime.fromisoformat(row["acquired"]) == want[row["id"]]


def test_observations_not_yet_detected_have_no_detection_count(tmp_path: Path) -> None:
    """An observation detection has not run on said "0 detections", which reads as "no vessel"."""
    import json

    ws = build(tmp_path / "ws")
    with ws.store() as store:
        first, *rest = store.observations("dunai")
        store.clear_detections(first.id)  # as when its image failed the sha256 check
    r = CliRunner().invoke(main, ["observations", "dunai", "--json", "-w", str(ws.root)])
    rows = {row["id"]: row["detections"] for row in json.loads(r.output)}
    assert rows[first.id] is None and all(isinstance(rows[o.id], int) for o in rest)
    r = CliRunner().invoke(main, ["observations", "dunai", "-w", str(ws.root)], env={"COLUMNS": None})
    line = next(line for line in r.output.splitlines() if first.id in line)
    assert line.rstrip(" │").endswith("–"), line


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["timeline", "x"], "--min-valid"),
        (["timeline", "x"], "--max-cloud"),
        (["score", "d.geojson", "t.json"], "--min-score"),
        (["eval"], "--long-ship"),
        (["detect-image", "i.tif", "--out", "o.geojson"], "--pixel-size"),
        (["detect-image", "i.tif", "--out", "o.geojson"], "--resolution"),
        (["detect-image", "i.tif", "--out", "o.geojson"], "--dn-scale"),
        (["detect-image", "i.tif", "--out", "o.geojson"], "--dn-offset"),
    ],
)
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_number_options_refuse_nan_and_infinity(command: list[str], option: str, value: str) -> None:
    """NaN passes any range check (it compares False) and inf any range open above: both are named."""
    r = CliRunner().invoke(main, [*command, option, value])
    said = f"{value!r} is not a finite number" in r.output or f"{value} is not in the range" in r.output
    assert r.exit_code == 2 and option in r.output and said, r.output


def test_unbounded_number_option_help_names_no_range() -> None:
    """--dn-offset has no bounds: its help said "[x<=None]"."""
    r = CliRunner().invoke(main, ["detect-image", "--help"])
    assert r.exit_code == 0 and "None]" not in r.output and "[x>0]" in r.output


def test_names_that_look_like_rich_markup_are_printed_as_they_are(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A site name (or item id) with "[/b]" made `sites list` die with rich's MarkupError; "[link=…]" made a hyperlink."""
    from sitewatch.cli.options import progress_bar

    name = "Pier [/b] [link=https://evil.example]7[/link] [red]"
    ws = tmp_path / "ws"
    assert CliRunner().invoke(main, ["init", str(ws)]).exit_code == 0
    r = CliRunner().invoke(main, ["sites", "add", "-w", str(ws), "p", "--bbox", "10,10,10.01,10.01", "--name", name])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["sites", "list", "-w", str(ws)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert name in r.output
    monkeypatch.setenv("FORCE_COLOR", "1")  # the bar renders as on a terminal
    with progress_bar(name) as progress:
        progress(1, 2, "[/i] item")  # rendered as text, not markup: no MarkupError


def _port_list_table(rows: int, tab: bool = False) -> Table:
    """A table as `sites list` makes of a port list: names in several scripts, an empty cell, a header wider than its cells."""
    table = Table()
    add_id_column(table, "id", [])
    for header in ("name", "kind", "resolved", "berths", "centre (lat, lon)"):
        table.add_column(header, overflow="fold")
    names = ("Port Cornor", "Порт Мурманск", "横須賀港", "ميناء جدة", "Ñuñoa Bahía", "")
    for i in range(rows):
        name = names[i % len(names)] + ("\tquay" if tab and i == 3 else "")
        table.add_row(f"wpi-{10000 + 17 * i}", name, "port", "yes" if i % 7 else "NO", str(i % 3), f"{i / 100:.4f}, {-i / 50:.4f}")
    return table


@pytest.mark.parametrize("tab", [False, True])
def test_a_long_table_is_printed_as_rich_prints_it(capsys: pytest.CaptureFixture[str], tab: bool) -> None:
    """The rows of a table whose cells fit on a line are written without rich's layout of each cell: the same bytes."""
    from rich.console import Console

    print_table(_port_list_table(300, tab), width=120)
    ours = capsys.readouterr().out
    reference = _port_list_table(300, tab)
    for column in reference.columns:
        column.overflow, column.no_wrap = "fold", False
    Console(width=120, markup=False).print(reference)
    assert ours == capsys.readouterr().out
    assert len(ours.splitlines()) == (305 if tab else 304)  # rich's own, a tab widening its cell past the width


def test_a_long_table_is_not_laid_out_cell_by_cell(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`sites list` of 4,000 sites took 2.5 s of CPU, nearly all of it rich rendering each of its 24,000 cells (about
    1 ms a row); a table whose cells fit on a line has its header and one row rendered by rich, whatever its length."""

    rendered = _rich_renders(monkeypatch)
    print_table(_port_list_table(2000), width=120)
    assert len(capsys.readouterr().out.splitlines()) == 2004 and len(rendered) < 50


def _links_table(rows: int, end: str = "") -> Table:
    """A table as `sitewatch links` makes: a title, cells of several lines (as many as five, some fewer than their
    row's tallest, one line blank), σ and Hangul in them; ``end`` added to one cell ("\\n": a line break ending it)."""
    table = Table(title="Candidate links (the same vessel at two sites?): evidence, not identity")
    for header in ("last seen at A", "first seen at B", "hours", "size fit", "alternatives"):
        table.add_column(header)
    for i in range(rows):
        a = f"rason 2024-10-{1 + i % 28:02d}\n{100 + i} m at 10 m pixels\nrason/S1A_{i:04d}\nscene S1A_{i:04d}\narchive/rason/{i}.tif"
        size = f"0.{i % 100:02d}" + (f"\nlength {i / 7:.1f}σ\nwidth 0.3σ" if i % 3 else "") + ("\n\n부산" if i % 5 == 0 else "")
        table.add_row(a + (end if i == 7 else ""), f"dunai 2024-10-{2 + i % 27:02d}\n{90 + i} m", str(i * 3), size, f"{i % 4}\n{'clear' if i % 4 == 0 else 'ambiguous'}")
    return table


@pytest.mark.parametrize("end", ["", "\n", "\tquay"])
def test_a_table_of_cells_of_several_lines_is_printed_as_rich_prints_it(capsys: pytest.CaptureFixture[str], end: str) -> None:
    """`links` at 1,800 days: 3,754 rows of 5 lines, two thirds of its 16 s in rich's layout of each cell. Its rows
    are now written here, line by line: the same bytes as rich's, title, short cells and blank lines included."""
    from rich.console import Console

    print_table(_links_table(200, end), id_header="last seen at A", width=200)
    ours = capsys.readouterr().out
    reference = _links_table(200, end)
    for column in reference.columns:
        column.overflow, column.no_wrap = "fold", False
    Console(width=200, markup=False).print(reference)
    assert ours == capsys.readouterr().out
    assert len(ours.splitlines()) == 1 + 4 + 200 * 5 + (1 if end else 0)  # rich's own: a line break ending a cell, a tab widening it


def test_a_table_of_cells_of_several_lines_is_not_laid_out_cell_by_cell(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """As `sites list`'s one-line rows: rich renders the title, header and one row, however long the table."""

    rendered = _rich_renders(monkeypatch)
    print_table(_links_table(1000), id_header="last seen at A", width=200)
    assert len(capsys.readouterr().out.splitlines()) == 1 + 4 + 1000 * 5 and len(rendered) < 50


def test_observations_from_to_keep_the_period(tmp_path: Path) -> None:
    """Years of daily images make thousands of rows: --from/--to list a period's, as `export` and `links` do."""
    import json

    ws = build(tmp_path / "ws")
    every = json.loads(CliRunner().invoke(main, ["observations", "dunai", "--json", "-w", str(ws.root)]).output)
    r = CliRunner().invoke(main, ["observations", "dunai", "--json", "--from", "2024-10-18", "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == [row for row in every if row["acquired"] >= "2024-10-18"] != []
    r = CliRunner().invoke(main, ["observations", "dunai", "--json", "--to", "2024-10-17", "-w", str(ws.root)])
    assert json.loads(r.output) == [row for row in every if row["acquired"] < "2024-10-18"] != []
    r = CliRunner().invoke(main, ["observations", "--from", "2024-10-18", "--to", "2024-10-19", "-w", str(ws.root)])
    assert r.exit_code == 0 and "no observations acquired in that period" in r.output, r.output
    r = CliRunner().invoke(main, ["observations", "--from", "2024-10-20", "--to", "2024-10-19", "-w", str(ws.root)])
    assert r.exit_code == 2 and "is before --from" in r.output


@pytest.mark.parametrize("show_header", [True, False])
def test_a_cell_beginning_with_a_space_keeps_its_words_whole(capsys: pytest.CaptureFixture[str], show_header: bool) -> None:
    """A cell that begins with a space (a name as written in a file, a value joined to an empty one) in a column
    as wide as its longest word: the space pushed the word past the column and rich folded it mid-word
    (" 2024-10-17" as " 2024-10-1" and "7"); a table without a header went to rich with its cells unwrapped."""
    table = Table(show_header=show_header)
    add_id_column(table, "id", [])
    table.add_column("when")
    table.add_row("sim-planet-dunai-20241017T0040", " 2024-10-17 00:40 yes")
    table.add_row("sim-planet-dunai-20241018T0040", "2024-10-18 00:40")
    print_table(table, width=47)
    out = capsys.readouterr().out
    assert not too_wide(out, 47)
    assert {"sim-planet-dunai-20241017T0040", "2024-10-17", "2024-10-18", "00:40"} <= whole_words(out), out


@pytest.mark.parametrize("columns", ["0", "", "wide"])
def test_a_columns_of_no_width_is_taken_as_unset(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                 columns: str) -> None:
    """COLUMNS=0 (or empty, or no number) names no width: lines of text took it so (echo_wrapped), but a table
    took 0 columns, and piped into a file gave every word of every cell a line of its own."""
    monkeypatch.setenv("COLUMNS", columns)
    table = Table()
    add_id_column(table, "id", [])
    for header in ("name", "kind"):
        table.add_column(header)
    table.add_row("dunai", "Dunai port", "port")
    print_table(table)
    out = capsys.readouterr().out
    assert "│ dunai │ Dunai port │ port │" in out, out
