"""What the commands print: tables that fit the terminal without cutting an id, and the lines and
``--json`` rows of ``ingest`` and ``import``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..units import pixel_size_text

if TYPE_CHECKING:
    from ..model import Observation

__all__ = ["ID_MIN_WIDTH", "add_id_column", "print_table", "duplicate_line", "observation_row", "pixel_size_text"]


ID_MIN_WIDTH = 12
"""An id column is never narrower than this (or its widest id); longer ids fold onto more lines."""


def add_id_column(table: Any, header: str, ids: Iterable[str]) -> None:
    """Add an id column to a rich table: ids are folded onto more lines when space is short, never cut.

    Ids are copied into other commands (`sitewatch show ID`). Print the table
    with :func:`print_table`, which gives the other columns room for their
    longest word first and the id column the rest.
    """
    del ids  # the widths are settled by print_table, once every row is in
    table.add_column(header, overflow="fold")


def print_table(table: Any, id_header: str = "id", width: int | None = None) -> None:
    """Print a rich table that fits the terminal (``width`` columns) without cutting any value.

    Rich, short of room, cuts cells with "…", which hides whole values (a
    platform's SIMULATED marker, dates). Here every column keeps its longest
    word (headers included) whole; the ``id_header`` column gets the remaining
    room, up to its widest id, and folds ids that do not fit; room left after
    that widens the other columns. On a terminal too narrow even for that,
    every column folds: cramped, but nothing is cut.
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
    ids = [str(column.header) == id_header for column in columns]
    low = [min(w, ID_MIN_WIDTH) if is_id else lw for w, lw, is_id in zip(widest, longest_word, ids, strict=True)]
    chrome = table._extra_width + sum(table._get_padding_width(i) for i in range(len(columns)))
    # markup=False: cells hold names and ids from files and catalogues, where "[/b]" made rich raise
    # MarkupError and "[link=…]" made a terminal hyperlink; they are printed as they are.
    console = Console(markup=False) if width is None else Console(width=width, markup=False)
    if width is None and not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped into a file, grep or awk: one line per row, however wide (COLUMNS still sets a width).
        console = Console(width=max(console.width, sum(widest) + chrome), markup=False)
    room = console.width - chrome
    if sum(widest) <= room and _print_plain_rows(table, console, widest):
        return
    if sum(widest) <= room or sum(low) > room:
        console.print(table)
        return
    widths = list(low)
    spare = room - sum(low)
    for i in (i for i, is_id in enumerate(ids) if is_id):
        extra = min(spare, widest[i] - widths[i])
        widths[i] += extra
        spare -= extra
    # Then unwrap whole columns, those needing least first: one line per cell reads best.
    for i in sorted(range(len(columns)), key=lambda i: widest[i] - widths[i]):
        if widest[i] - widths[i] <= spare:
            spare -= widest[i] - widths[i]
            widths[i] = widest[i]
    for column, w in zip(columns, widths, strict=True):
        column.width = w
    console.print(table)


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
    if len(lines) != 5 + len(shown) or lines[-1] != "" or lines[3:-2] != shown:
        return False  # the header or the row folded, a style written, other bars: not what this writes
    body = "\n".join(block(list(row)) for row in zip(*cells, strict=True))
    console.file.write(f"{title}{lines[0]}\n{lines[1]}\n{lines[2]}\n{body}\n{lines[-2]}\n")
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


def observation_row(obs: Observation, file: str, replaced: bool) -> dict[str, Any]:
    """One observation that ``ingest``/``import`` put in, as their ``--json`` lists it; ``replaced``
    when the workspace held that observation id before the run (a rerun, or a changed file)."""
    from ..model import iso_utc

    return {
        "id": obs.id, "file": file, "acquired": iso_utc(obs.scene.acquired),
        "acquired_date_only": obs.acquired_date_only, "sensor": obs.scene.sensor,
        "valid_pct": round(obs.valid_fraction * 100, 1), "replaced": replaced, "simulated": obs.scene.simulated,
    }  # fmt: skip
