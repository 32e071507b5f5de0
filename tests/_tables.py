"""Read rich tables (and the records a narrow terminal gets instead) back from a command's output, for the tests of
what a terminal shows."""

from __future__ import annotations


def whole_words(output: str) -> set[str]:
    """Every word of ``output``, a table's bars apart: an id split over two lines (folded) is not among them."""
    return set(output.replace("│", " ").replace("┃", " ").split())


def too_wide(output: str, columns: int) -> list[str]:
    """The lines of ``output`` wider than ``columns`` cells, but for a line of one word longer than that (a path
    that fits no line; it is written whole, not split)."""
    from rich.cells import cell_len

    return [line for line in output.splitlines() if cell_len(line) > columns and len(line.split()) > 1]
