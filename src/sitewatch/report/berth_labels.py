"""Where a map writes each berth's name: beside its line, the two faces of one pier named apart."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from shapely.geometry import Point

__all__ = ["Side", "label_sides"]

Side = Literal["left", "right", "above", "below"]
"""Which side of its berth's line a name is written on."""


def label_sides(centres: Sequence[Point], near: float) -> list[Side]:
    """The side of each berth (given by its line's centre) to write its name on.

    A berth alone is named on its right. Two faces of one pier (centres within ``near`` of each other)
    are named on their outer sides: faces side by side (a pier running north-south) left and right, faces
    one over the other (a pier running east-west) above and below; both names on the right had printed
    over each other, and the north and south faces' over the ships moored along them.
    """
    sides: list[Side] = []
    for i, c in enumerate(centres):
        others = [q for j, q in enumerate(centres) if j != i and c.distance(q) < near]
        if not others:
            sides.append("right")
            continue
        q = min(others, key=c.distance)
        dx, dy = c.x - q.x, c.y - q.y
        if abs(dx) >= abs(dy):
            sides.append("left" if dx < 0 else "right")
        else:
            sides.append("above" if dy > 0 else "below")
    return sides
