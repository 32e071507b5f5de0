"""Boosted depth-2 trees as sitewatch ships them (JSON, trained by the benchmarks on the CPU), evaluated in numpy."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["tree_probability"]


def tree_probability(x: NDArray[np.floating], model: dict[str, Any]) -> NDArray[np.float64]:
    """The logistic of ``rate`` times the sum of the leaves each row of ``x`` reaches, plus ``base``.

    A tree is ``[feature, threshold, [left, right]]`` with each side ``[feature, threshold,
    value_if_at_most, value_if_above]`` (feature -1: a leaf, both values equal).
    """
    x = np.asarray(x)
    raw = np.full(len(x), float(model.get("base", 0.0)))
    rate = float(model["rate"])
    for j, t, sides in model["trees"]:
        # Each row's leaf chosen with dense comparisons and selections (no masked writes): a column of a
        # feature-major array (``x`` the transpose of features × rows) is read contiguously.
        leaf = [a if j2 < 0 else np.where(x[:, j2] <= t2, a, b) for j2, t2, a, b in sides]
        raw += rate * np.where(x[:, j] <= t, leaf[0], leaf[1])
    return np.asarray(1.0 / (1.0 + np.exp(-raw)), dtype=np.float64)
