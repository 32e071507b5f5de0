"""Read rich tables back from a command's output, for the tests of what a terminal shows."""

from __future__ import annotations


def column_text(output: str, index: int) -> str:
    """The body cells of column ``index`` joined in order, folded pieces rejoined (ids have no spaces)."""
    pieces = [line.split("│")[index + 1].strip() for line in output.splitlines() if line.startswith("│")]
    return "".join(pieces)
