"""SIMULATED 10 m SAR hulls drawn in a file whose grid is turned against the site's, and put on the site's grid as
ingest puts SAR on it (nearest neighbour): the scenes of ``sar_thin_turned.py`` and ``sar_end_to_end_turned.py``."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import Resampling, reproject

PX = 10.0
SEA = 0.01
N = 100
"""Side of the site's grid (pixels); the file is half as wide again, so its corners cover the site at any turn."""

HEADING = 135.0
"""The hulls' heading on the site's grid (degrees)."""


def turned_scene(turn: float, shift: tuple[float, float], seed: int,
                 hulls: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:  # fmt: skip
    """The file (Gamma speckle, ENL 4.5; hull pixels 20 dB over the sea), the same resampled onto the site's grid, and
    the site's centre in the file (row, col). ``hulls(along, across)`` marks the hull pixels from each pixel centre's
    distance (metres) along and across the heading :data:`HEADING` from the site's centre; the file's grid is turned
    ``turn`` degrees and shifted ``shift`` pixels."""
    rng = np.random.default_rng(seed)
    crs = CRS.from_epsg(32633)
    x0, y0 = 500000.0, 7000000.0
    cx, cy = x0 + N * PX / 2, y0 - N * PX / 2
    m = N * 3 // 2
    src_t = Affine.translation(cx, cy) @ Affine.rotation(-turn) @ Affine.translation((shift[0] - m / 2) * PX, (m / 2 + shift[1]) * PX) @ Affine.scale(PX, -PX)
    src = (SEA * rng.gamma(4.5, 1 / 4.5, (m, m))).astype(np.float32)
    cc, rr = np.meshgrid(np.arange(m) + 0.5, np.arange(m) + 0.5)
    x, y = src_t.a * cc + src_t.b * rr + src_t.c, src_t.d * cc + src_t.e * rr + src_t.f
    a = math.radians(HEADING)
    along, across = (x - cx) * math.sin(a) + (y - cy) * math.cos(a), (x - cx) * math.cos(a) - (y - cy) * math.sin(a)
    hull = hulls(along, across)
    src[hull] = (100 * SEA * rng.gamma(4.5, 1 / 4.5, int(hull.sum()))).astype(np.float32)
    dst = np.zeros((N, N), np.float32)
    reproject(src, dst, src_transform=src_t, src_crs=crs, dst_transform=Affine(PX, 0.0, x0, 0.0, -PX, y0), dst_crs=crs,
              resampling=Resampling.nearest)  # fmt: skip
    inv = ~src_t
    col, row = inv.a * cx + inv.b * cy + inv.c, inv.d * cx + inv.e * cy + inv.f
    return src, dst, (row - 0.5, col - 0.5)
