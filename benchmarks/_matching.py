"""One-to-one matching of two runs' detections, shared by the tiling benchmarks.

``sar_fine_tiles.py`` and ``sar_pipeline_tiles.py`` each count the detections a tiled run and a
whole-image run agree on; they differ in which pairs may match, not in how the pairs are taken.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["one_to_one"]


def one_to_one(pairs: Iterable[tuple[int, int]]) -> int:
    """How many of ``pairs`` (i, j), taken in the order given (nearest first), are kept when each i
    and each j may be taken once (greedy)."""
    used_a: set[int] = set()
    used_b: set[int] = set()
    for i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
    return len(used_a)
