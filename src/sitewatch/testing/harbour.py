"""A SIMULATED sub-metre harbour in 8-bit RGB, as a Maxar-class rendering shows one: for tests and benchmarks.

Nothing here is real imagery: water, a quay and one hull drawn with numpy, so a detector's box
can be checked against the hull's known length and beam.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["DrawnHull", "harbour_rgb"]


@dataclass(frozen=True)
class DrawnHull:
    """The hull :func:`harbour_rgb` draws: its centre in metres from the top left corner, its size, its heading."""

    row_m: float = 200.0
    col_m: float = 230.0
    """130 m off the quay: in open water."""
    length_m: float = 70.0
    beam_m: float = 18.0
    turn_deg: float = 25.0
    """Turn of the hull's long axis from east, clockwise on the image (heading 115 degrees)."""


def harbour_rgb(
    pixel_m: float, hull: DrawnHull = DrawnHull(), seed: int = 0, size_m: float = 400.0
) -> tuple[dict[str, NDArray[np.float32]], NDArray[np.bool_]]:
    """SIMULATED: a ``size_m`` square 8-bit RGB rendering at ``pixel_m`` metres, as reflectance (DN / 255).

    Dark harbour water (20, 40, 60 DN, noise of 3 DN), a textured quay with a roof along the left
    100 m, and a grey hull whose bow narrows over its last 8 m, with a white superstructure aft, a
    dark freeboard 1 m wide on the shadow side and its shadow cast 4 m onto the water there.
    Returns the bands (``red``, ``green``, ``blue``) and the hull's pixels.
    """
    rng = np.random.default_rng(seed)
    n = int(round(size_m / pixel_m))
    y, x = np.mgrid[:n, :n].astype(np.float32) * pixel_m + pixel_m / 2  # pixel centres, metres
    rgb = np.array([20, 40, 60], np.float32)[:, None, None] + rng.normal(0, 3, (3, n, n)).astype(np.float32)
    land = x < 100
    rgb[:, land] = rng.normal(150, 20, int(land.sum())).astype(np.float32)
    rgb[:, land & (x > 20) & (x < 60) & (y > 40) & (y < 90)] = 210  # a roof
    t = np.deg2rad(hull.turn_deg)
    u = (x - hull.col_m) * np.cos(t) + (y - hull.row_m) * np.sin(t)  # along the hull, to the bow
    v = -(x - hull.col_m) * np.sin(t) + (y - hull.row_m) * np.cos(t)  # across it, to the shadow side
    half_l, half_b = hull.length_m / 2, hull.beam_m / 2
    inside = (np.abs(u) <= half_l) & (np.abs(v) <= half_b)
    inside &= ~((u > half_l - 8) & (np.abs(v) > (half_l - u) * half_b / 8))
    rgb[:, inside] = 140
    rgb[:, inside & (v > half_b - 1)] = np.array([45, 48, 52], np.float32)[:, None]
    rgb[:, inside & (u > -half_l + 5) & (u < -half_l + 19) & (np.abs(v) < half_b - 3)] = 235
    rgb[:, ~inside & ~land & (v > half_b) & (v < half_b + 4) & (np.abs(u) < half_l - 2)] *= 0.45
    rgb = np.clip(np.round(rgb), 0, 255) / np.float32(255)
    return {"red": rgb[0], "green": rgb[1], "blue": rgb[2]}, inside
