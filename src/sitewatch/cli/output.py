"""What the commands print: tables that fit the terminal without cutting or splitting an id (a record a row on a
terminal too narrow), lines wrapped between words on a terminal, the latest rows on a terminal with ``--all`` for
every one, and the lines and ``--json`` rows of ``ingest`` and ``import``."""

from __future__ import annotations

import codecs
import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..units import pixel_size_text

if TYPE_CHECKING:
    from ..model import Observation

__all__ = [
    "RECORD_INDENT", "TERMINAL_ROWS", "add_id_column", "print_table", "echo_wrapped", "line_width", "rows_shown",
    "not_shown_line", "duplicate_line", "observation_row", "pixel_size_text", "replaced_note", "echo_json", "echo_utf8", "json_text",
]  # fmt: skip


def json_text(doc: Any, **dumps: Any) -> str:
    """``doc`` as JSON text with every character as written (``Пирс``, ``Île``), not escaped as ``\\uXXXX``."""
    return json.dumps(doc, ensure_ascii=False, **dumps)


def echo_utf8(text: str, *, nl: bool = True) -> None:
    """Print ``text`` (and a newline, unless not ``nl``) on standard output as UTF-8, whatever its encoding.

    JSON is UTF-8 (RFC 8259). On Windows, output redirected to a file or a pipe is in the ANSI code page
    (cp1252 on most machines), which lacks Cyrillic and CJK names and would write é as a byte no JSON reader
    takes: there the UTF-8 bytes go to the stream's buffer, so ``sitewatch sites list --json > sites.json``
    is the same file on every system. A CSV too (``--csv -``): the bytes its file would hold, a ``--bom`` mark first.
    """
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        utf8 = codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        utf8 = False
    if utf8:
        click.echo(text, nl=nl)
    else:
        click.echo((text + ("\n" if nl else "")).encode("utf-8"), nl=False)


def echo_json(doc: Any, **dumps: Any) -> None:
    """Print ``doc`` as JSON (:func:`json_text`) on standard output, in UTF-8 (:func:`echo_utf8`)."""
    echo_utf8(json_text(doc, **dumps))


TERMINAL_ROWS = 50
"""A table on a terminal shows this many rows unless ``--all`` is given (piped, or ``--json``: every row)."""


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # a test's stream, or one closed
        return False


def rows_shown(count: int, show_all: bool, limit: int | None = None) -> int:
    """How many of ``count`` rows a table shows: ``limit`` (:data:`TERMINAL_ROWS`) on a terminal, every one with
    ``show_all`` or when standard output is a file or a program (which reads every row, as ``git log`` writes every
    commit into a pipe).

    Years of history make tables of thousands of rows (`links`: 3,754 at 1,800 days, each of five lines),
    more than a terminal's scrollback holds and seconds of layout; the command says how many it left out and that
    ``--all`` shows them (:func:`not_shown_line`)."""
    return count if show_all or not _stdout_is_terminal() else min(count, limit or TERMINAL_ROWS)


def not_shown_line(hidden: int, what: str, narrow: str = "") -> str:
    """The line under a table that left ``hidden`` rows out (:func:`rows_shown`): ``what`` names them
    ("earlier links"), ``narrow`` the options that choose others (", --from/--to those of a period")."""
    return f"… {hidden:,} {what} not shown: --all lists every one{narrow}; --json gives them all to a script"


def line_width() -> int | None:
    """The width lines of text are wrapped at on a terminal: ``COLUMNS``, else the terminal's; None when standard
    output is a file or a program (a line each, however long, for grep and awk; ``COLUMNS`` set or not)."""
    import shutil

    if not _stdout_is_terminal():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else shutil.get_terminal_size().columns


def echo_wrapped(text: str, indent: int = 4) -> None:
    """``click.echo`` a line of text, wrapped between words at :func:`line_width` (its further lines indented
    ``indent``), so that a terminal does not break an id or a path in two; a word too long stays whole."""

    width = line_width()
    if width is None:
        click.echo(text)
        return
    body = text.lstrip(" ")
    lead = " " * (len(text) - len(body))
    pad = lead + " " * indent
    lines = _wrap(body, max(1, width - len(pad)), first=max(1, width - len(lead))).split("\n")
    click.echo("\n".join([lead + lines[0], *(pad + line if line else line for line in lines[1:])]))


def add_id_column(table: Any, header: str, ids: Iterable[str]) -> None:
    """Add an id column to a rich table: an id is never cut nor split over lines.

    Ids are copied into other commands (`sitewatch show ID`). Print the table
    with :func:`print_table`, which gives every column room for its longest
    word (an id whole) and the id column the room left first; a terminal too
    narrow for that gets a record a row, its id on a line of its own.
    """
    del ids  # the widths are settled by print_table, once every row is in
    table.add_column(header, overflow="fold")


def print_table(table: Any, id_header: str = "id", width: int | None = None, head: str | None = None) -> None:
    """Print a rich table that fits the terminal (``width`` columns) without cutting or splitting any word.

    Rich, short of room, cuts cells with "…" (which hid a platform's
    SIMULATED marker, dates) or folds them mid-word (an id split over three
    lines cannot be copied). Here every column is at least as wide as its
    longest word (headers included) and wraps between words; room left
    widens the ``id_header`` column first, up to its widest line, then the
    others. A terminal too narrow for that gets one record a row instead
    (:func:`_print_records`: the row's ``head`` cell, by default its
    ``id_header`` one, on a line of its own, then each column as
    ``header: value``), words whole. Piped into a file or a
    program (no ``COLUMNS``) the table keeps one line per row, however wide.
    """
    from rich.cells import cell_len
    from rich.console import Console

    columns = table.columns
    for column in columns:
        column.overflow = "fold"
        column.no_wrap = False
    texts = [[str(column.header), *(str(c) for c in column.cells)] for column in columns]
    widest = [max(cell_len(line) for t in col for line in t.splitlines() or [""]) for col in texts]
    longest_word = [max((cell_len(w) for t in col for w in t.split()), default=1) for col in texts]
    chrome = table._extra_width + sum(table._get_padding_width(i) for i in range(len(columns)))
    # markup=False: cells hold names and ids from files and catalogues, where "[/b]" made rich raise
    # MarkupError and "[link=…]" made a terminal hyperlink; they are printed as they are.
    columns_env = os.environ.get("COLUMNS", "")
    columns_given = columns_env.isdigit() and int(columns_env) > 0  # as line_width and rich read it
    if width is None and "COLUMNS" in os.environ and not columns_given:
        # COLUMNS=0 (or no number) names no width, as for lines of text (line_width): rich took 0 columns, a word
        # a line. The terminal's width instead (shutil reads past such a COLUMNS); piped, as if unset, below.
        import shutil

        width = shutil.get_terminal_size().columns if Console().is_terminal else None
    console = Console(markup=False) if width is None else Console(width=width, markup=False)
    if width is None and not console.is_terminal and not columns_given:
        # Piped into a file, grep or awk: one line per row, however wide (COLUMNS still sets a width).
        console = Console(width=max(console.width, sum(widest) + chrome), markup=False)
    room = console.width - chrome
    if sum(widest) <= room and _print_plain_rows(table, console, widest):
        return
    if sum(widest) <= room:
        console.print(table)
        return
    if sum(longest_word) > room or not columns:
        _print_records(table, head or id_header, console.width, console.file)
        return
    widths = _column_widths(columns, id_header, widest, longest_word, room)
    for column, w in zip(columns, widths, strict=True):
        column.width = w
    # Each cell wrapped here between words (every word fits its column): its rows then written as one-line cells
    # are, without rich's layout of each cell (1 ms a row); rich lays out what that cannot be sure of.
    try:
        from dataclasses import replace

        plain = all(type(v) is str for col in columns for v in col._cells)  # rich text (styled): rich's own layout
        wrapped = [replace(col, _cells=[_wrap(v, w) for v in col._cells]) for col, w in zip(columns, widths, strict=True)] if plain else None
    except (AttributeError, TypeError):
        wrapped = None
    if wrapped is None:
        console.print(table)
        return
    ready = _replace_table(table, wrapped, table.rows)
    if not (table.rows and _print_plain_rows(ready, console, widths)):
        console.print(ready)  # rich's layout of the cells wrapped here: its own folds a line's leading space mid-word


def _column_widths(columns: list[Any], id_header: str, widest: list[int], low: list[int], room: int) -> list[int]:
    """Each column's width: its longest word (``low``), then the room left to the ``id_header`` column up to its
    widest line, then whole columns unwrapped (those needing least first: one line a cell reads best), then what is
    left shared among the columns still wrapped."""
    widths = list(low)
    spare = room - sum(low)
    for i in (i for i, column in enumerate(columns) if str(column.header) == id_header):
        extra = min(spare, widest[i] - widths[i])
        widths[i] += extra
        spare -= extra
    for i in sorted(range(len(columns)), key=lambda i: widest[i] - widths[i]):
        if widest[i] - widths[i] <= spare:
            spare -= widest[i] - widths[i]
            widths[i] = widest[i]
    wrapped = [i for i in range(len(columns)) if widths[i] < widest[i]]
    while spare > 0 and wrapped:
        share = max(1, spare // len(wrapped))
        for i in list(wrapped):
            extra = min(share, spare, widest[i] - widths[i])
            widths[i] += extra
            spare -= extra
            if widths[i] == widest[i]:
                wrapped.remove(i)
    return widths


def _wrap(text: str, width: int, first: int | None = None) -> str:
    """``text`` wrapped between words into lines of at most ``width`` cells (``first``: the first line's room), its
    own line breaks and the spaces between words on a line kept; a word longer than that stays whole on a line of
    its own."""
    import re

    from rich.cells import cell_len

    lines: list[str] = []
    for para in text.split("\n"):
        line, used = "", 0
        room = width if first is None or lines else first
        gap = ""
        for token in re.split(r"( +)", para):
            if not token:
                continue
            if token.startswith(" "):
                gap = token
                continue
            n = cell_len(token)
            if line and used + len(gap) + n > room:
                lines.append(line)
                line, used, room, gap = "", 0, width, ""
            elif not line and len(gap) + n > room:
                gap = ""  # spaces before a line's first word that would push it past the room: the word whole instead
            line, used, gap = f"{line}{gap}{token}", used + len(gap) + n, ""
        lines.append(line)
    return "\n".join(lines)


RECORD_INDENT = 2
"""A record's fields are indented this much under its id; a field's further lines twice as much."""


def _print_records(table: Any, head_header: str, width: int, file: Any) -> None:
    """Print ``table`` as one record a row, for a terminal too narrow for its columns' longest words (an id, a path).

    The row's id (its ``head_header`` cell, when of one line) on a line of its own, whole; then the other
    cells as ``header: value``, those of one line side by side as room allows, those of several lines a
    field each, their further lines indented; words wrap between them, never split. A blank line between
    records. A table of two columns without a header (``show``'s field and value) is a line ``field: value`` a row. Plain text: no box, no colour, no layout by rich (a row costs what its words do).
    """
    from rich.cells import cell_len

    columns = table.columns
    headers = [str(c.header) for c in columns]
    cells = [[str(v).rstrip("\n") for v in c.cells] for c in columns]
    head = next((i for i, h in enumerate(headers) if h == head_header and all("\n" not in v for v in cells[i])), None)
    out: list[str] = []
    if table.title is not None:
        out += [*_wrap(str(table.title), width).split("\n"), ""]
    one, two = " " * RECORD_INDENT, " " * (2 * RECORD_INDENT)

    def indent(lines: list[str], pad: str) -> list[str]:
        # A word too long for the line with its indent keeps the room it needs (less indent), not a split.
        return [(pad[: max(0, width - cell_len(line))] + line) if line else "" for line in lines]

    if not table.show_header and len(columns) == 2:  # a table of fields (`show`): a line a field, no record
        for key, value in zip(*cells, strict=True):
            first, *rest = value.split("\n")
            lines = _wrap(f"{key}: {first}", width - RECORD_INDENT, first=width).split("\n")
            out += lines[:1] + indent(lines[1:], one)
            for more in rest:
                out += indent(_wrap(more, width - RECORD_INDENT).split("\n"), one)
        file.write("".join(f"{line}\n" for line in out))
        return
    for r in range(len(table.rows)):
        if r:
            out.append("")
        if head is not None:
            out += _wrap(cells[head][r], width).split("\n")
        pending = ""
        for i, header in enumerate(headers):
            if i == head:
                continue
            value = cells[i][r]
            field = f"{header}: {value}" if value.strip() else f"{header}: –"
            if "\n" not in value and cell_len(field) <= width - RECORD_INDENT:
                if pending and cell_len(pending) + 2 + cell_len(field) <= width - RECORD_INDENT:
                    pending = f"{pending}  {field}"
                    continue
                if pending:
                    out += indent([pending], one)
                pending = field
                continue
            if pending:
                out += indent([pending], one)
                pending = ""
            first, *rest = value.split("\n")
            lines = _wrap(f"{header}: {first}", width - 2 * RECORD_INDENT, first=width - RECORD_INDENT).split("\n")
            out += indent(lines[:1], one) + indent(lines[1:], two)
            for more in rest:
                out += indent(_wrap(more, width - 2 * RECORD_INDENT).split("\n"), two)
        if pending:
            out += indent([pending], one)
    file.write("".join(f"{line}\n" for line in out))


def _print_plain_rows(table: Any, console: Any, widest: list[int]) -> bool:
    """Print ``table``, whose every line of every cell fits its column, as rich would, writing its rows here; False
    (nothing printed) when that cannot be sure to be rich's own output, which :func:`print_table` then prints.

    Rich lays out and renders each cell (measured, wrapped, padded, cropped): about 1 ms a row, so 2.5 s of CPU
    for a port list's 4,000 sites, nearly all of `sitewatch sites list`, and 5 lines a cell 14 s of `sitewatch
    links`' 3,754 at 1,800 days. Here rich renders the header and one row of each column's widest cell; if that
    row is the plain lines this writes (no style, no colour, the box's own bars, no cell folded, a cell of fewer
    lines than its row's tallest blank below), every row is written that way, one string each.
    """
    from dataclasses import replace

    from rich.cells import cell_len
    from rich.table import Row

    columns = table.columns
    try:  # (rich's Column keeps its cells in a private field: a rich that renames it has rich print the table)
        cells = [list(col._cells) for col in columns]
        probe = [replace(col, _cells=[]) for col in columns[:1]]
    except (AttributeError, TypeError):
        return False
    if (not probe or not table.rows or table.row_styles or table.caption is not None or table.show_lines or table.box is None
            or any(r.style is not None or r.end_section for r in table.rows)
            or any(c.justify != "left" for c in columns)
            or not all(type(v) is str and v.replace("\n", " ").isprintable() and not v.endswith("\n") for col in cells for v in col)):  # fmt: skip
        return False  # rich's own: a styled row, a right-aligned or rich-text cell, a tab, a line break ending a cell
    sample = [max(col, key=lambda v: max(cell_len(part) for part in v.split("\n"))) for col in cells]
    skeleton = _replace_table(table, [replace(col, _cells=[v]) for col, v in zip(columns, sample, strict=True)], [Row()])
    with console.capture() as capture:
        console.print(skeleton)
    titled = capture.get().split("\n")
    # The title (`links`' table has one) apart: what is left is rich's box, whose lines are checked below.
    untitled = _replace_table(skeleton, skeleton.columns, skeleton.rows)
    untitled.title = None
    with console.capture() as capture:
        console.print(untitled)
    lines = capture.get().split("\n")
    if titled[len(titled) - len(lines):] != lines:
        return False  # the title changed the box (its width): rich's own
    title = "".join(f"{t}\n" for t in titled[: len(titled) - len(lines)])
    box = table.box

    def line(row: list[str]) -> str:
        padded = (f" {v}{' ' * (w - cell_len(v))} " for v, w in zip(row, widest, strict=True))
        return f"{box.mid_left}{box.mid_vertical.join(padded)}{box.mid_right}"

    def block(row: list[str]) -> str:
        if "\n" not in "".join(row):
            return line(row)
        parts = [v.split("\n") for v in row]
        tall = max(len(p) for p in parts)
        return "\n".join(line([p[i] if i < len(p) else "" for p in parts]) for i in range(tall))

    shown = block(sample).split("\n")
    top = len(lines) - 2 - len(shown)  # the box's top, the header's lines (wrapped between words) and its rule
    if top < 3 or lines[-1] != "" or lines[top:-2] != shown or not lines[top - 1].startswith(box.head_row_left):
        return False  # the row folded, a style written, other bars: not what this writes
    body = "\n".join(block(list(row)) for row in zip(*cells, strict=True))
    header = "".join(f"{line}\n" for line in lines[:top])
    console.file.write(f"{title}{header}{body}\n{lines[-2]}\n")
    return True


def _replace_table(table: Any, columns: list[Any], rows: list[Any]) -> Any:
    """A copy of a rich ``table`` with other ``columns`` (their cells) and ``rows``."""
    import copy

    out = copy.copy(table)
    out.columns, out.rows = columns, rows
    return out


def duplicate_line(repeat: str, earlier: str, verb: str, earlier_failed: bool) -> str:
    """The line naming a repeat that ``ingest``/``import`` left out of a run.

    ``verb`` is ``ingested`` or ``imported``. The same path given twice is said to be given
    twice, and a repeat of a file that did not go in is not said to have gone in once.
    """
    if str(Path(repeat).resolve()) == str(Path(earlier).resolve()):
        head = f"duplicate: {repeat} given more than once"
    else:
        head = f"duplicate: {repeat} is the same image as {earlier}"
    return f"{head}, not read again ({earlier} did not go in: see below)" if earlier_failed else f"{head}, {verb} once"


def replaced_note(rows: list[dict[str, Any]]) -> str:
    """What ``ingest``/``import`` add to their summary when rows of :func:`observation_row` replaced
    observations the workspace held: a rerun said "imported 8 observation(s)" as a first run did, as if
    eight more were there now."""
    replaced = sum(bool(row["replaced"]) for row in rows)
    if not replaced:
        return ""
    every = "" if replaced == len(rows) == 1 else " each of them" if replaced == len(rows) else f" {replaced} of them"
    return f",{every} replacing the observation of its id held before (a rerun or a changed file; none added twice)"


def replaced_image_line(row: Mapping[str, Any], sha256: str) -> str | None:
    """The note for an observation of :func:`observation_row` whose archived image is another file now (``sha256``):
    evidence made from the one it replaced (detections, verdicts, exports that name its sha256) no longer rests on
    the archive. None when it replaced nothing, or the same bytes."""
    if not row["replaced_sha256"]:
        return None
    return (f"note: {row['id']}: its archived image was replaced by another file, from {row['file']} (sha256 "
            f"{row['replaced_sha256']} before, {sha256} now); the archive no longer holds the file before: what was "
            "made from it (detections, verdicts, exports that name its sha256) needs it back from a backup, or its "
            "source ingested again")  # fmt: skip


def observation_row(obs: Observation, file: str, held: Mapping[str, str]) -> dict[str, Any]:
    """One observation that ``ingest``/``import`` put in, as their ``--json`` lists it, given the archived images'
    sha256 the workspace ``held`` before the run, by observation id: ``replaced`` when it held that id (a rerun, or a
    changed file), ``replaced_sha256`` the sha256 of the archived image it replaced when that was another file (else
    None); ``orthorectified`` says how sitewatch placed an image that had no map grid (``--orthorectify``)."""
    from ..model import iso_utc

    # As the workspace keeps it, to the millisecond: a Maxar firstLineTime of 02:11:07.512345 was said so here and
    # stored (and shown by `observations`, `show`, `export`) as 02:11:07.512000.
    acquired = obs.scene.acquired.replace(microsecond=obs.scene.acquired.microsecond // 1000 * 1000)
    return {
        "id": obs.id, "file": file, "acquired": iso_utc(acquired),
        "acquired_date_only": obs.acquired_date_only, "sensor": obs.scene.sensor,
        "valid_pct": round(obs.valid_fraction * 100, 1), "replaced": obs.id in held,
        "replaced_sha256": before if (before := held.get(obs.id)) not in (None, obs.sha256) else None,
        "simulated": obs.scene.simulated,
    } | ({"orthorectified": placed["note"]} if (placed := obs.provenance.get("orthorectified")) else {})  # fmt: skip
