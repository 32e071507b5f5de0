"""Detection values in pixel space and the oriented-box measurement they share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError

__all__ = [
    "PixelDetection",
    "detections_from_measurements",
    "measure_components",
    "measure_pixel_lists",
    "pixel_size_pair",
    "touches_edge",
]


@dataclass(frozen=True)
class PixelDetection:
    """One object found in an image, in the image's pixel coordinates."""

    row: float
    """Centroid row (fractional, pixel centres at .5 are not assumed: row 0 is the first row's centre)."""
    col: float
    length_m: float
    width_m: float
    heading_deg: float
    """Long axis, degrees clockwise from image up (north on north-up grids), in [0, 180)."""
    score: float
    corners: tuple[tuple[float, float], ...]
    """Oriented box corners as (col, row) pixel coordinates, 4 points, not closed."""
    kind: str = "vessel"
    area_px: int = 0
    truncated: bool = False
    """The object's pixels reach the raster's edge or touch a pixel without data (no-data collar,
    NaN, outside the valid mask): part of it may lie where the image cannot show it, so its
    length and width are lower bounds and its class by size unknown. A tile's edge inside the
    raster does not count: tiles are read with context around the part they own."""


def pixel_size_pair(pixel_size: float | tuple[float, float]) -> tuple[float, float]:
    """Return ``(x, y)`` ground pixel size from a scalar or a pair (tuple, list or array of two)."""
    try:
        if isinstance(pixel_size, tuple | list | np.ndarray) and np.ndim(pixel_size) > 0:
            if np.shape(pixel_size) != (2,):
                raise ValueError
            return float(pixel_size[0]), float(pixel_size[1])
        return float(pixel_size), float(pixel_size)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"pixel size must be metres, one number or an (x, y) pair, got {pixel_size!r}") from None


def measure_components(
    labels: NDArray[np.integer],
    index: NDArray[np.integer],
    pixel_size: float | tuple[float, float],
    weights: NDArray[np.floating] | None = None,
) -> dict[str, NDArray[np.float64]]:
    """Measure an oriented box for each labelled component, vectorised over components.

    The long axis comes from the second moments of the component's pixels
    (weighted by ``weights`` if given) in metric coordinates; the box is the
    extent of the pixel footprints projected on that axis and its normal, so a
    one-pixel object is one pixel long, not zero.

    Returns arrays (one entry per label in ``index``): ``row``, ``col``,
    ``length_m``, ``width_m``, ``heading_deg``, ``area_px`` and ``corners``
    (shape ``(n, 4, 2)`` as (col, row)).
    """
    px, py = pixel_size_pair(pixel_size)
    index = np.asarray(index)
    n = index.size
    if n == 0:
        empty = np.zeros(0)
        return {k: empty for k in ("row", "col", "length_m", "width_m", "heading_deg", "area_px")} | {
            "corners": np.zeros((0, 4, 2))
        }
    # Sums over each component's pixel list (bincount), not over the whole label image per
    # moment: the work follows the labelled pixels, however large the image around them.
    lab_pos = np.full(max(int(labels.max()), int(index.max())) + 1, -1, dtype=np.int64)
    lab_pos[index] = np.arange(n)
    rr, cc = np.nonzero(labels)
    k = lab_pos[labels[rr, cc]]
    sel = k >= 0
    lr = rr[sel].astype(np.float64)
    lc = cc[sel].astype(np.float64)
    k = k[sel]
    w = np.ones(lr.size) if weights is None else np.asarray(weights, dtype=np.float64)[rr[sel], cc[sel]]
    return measure_pixel_lists(lr, lc, k, n, (px, py), w)


def measure_pixel_lists(
    lr: NDArray[np.float64],
    lc: NDArray[np.float64],
    k: NDArray[np.integer],
    n: int,
    pixel_size: tuple[float, float],
    w: NDArray[np.float64],
) -> dict[str, NDArray[np.float64]]:
    """:func:`measure_components` on pixel lists: rows ``lr``, cols ``lc``, component ``k`` (0..n-1), weights ``w``.

    For callers that already hold their components as pixel lists (sparse
    candidates in a large image) and need not build a label image.
    """
    px, py = pixel_size
    wsum = np.bincount(k, w, n)
    wsum = np.where(wsum > 0, wsum, 1.0)
    area = np.bincount(k, None, n).astype(np.float64)
    r0 = np.bincount(k, w * lr, n) / wsum
    c0 = np.bincount(k, w * lc, n) / wsum
    # Second moments in metres (x to the east/right, y to the north/up).
    xx = np.bincount(k, w * lc * lc, n) / wsum - c0 * c0
    yy = np.bincount(k, w * lr * lr, n) / wsum - r0 * r0
    xy = np.bincount(k, w * lc * lr, n) / wsum - c0 * r0
    sxx, syy, sxy = xx * px * px, yy * py * py, -xy * px * py
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)  # angle of long axis from +x (east), counter-clockwise
    ux, uy = np.cos(theta), np.sin(theta)  # long axis unit vector, metric (east, north)
    # Project every pixel of every component on the axes, per label; extents via min/max.
    dx = (lc - c0[k]) * px
    dy = -(lr - r0[k]) * py
    along = dx * ux[k] + dy * uy[k]
    across = -dx * uy[k] + dy * ux[k]
    # A pixel's footprint reaches half a pixel beyond its centre along either axis.
    half_along = 0.5 * (np.abs(ux[k]) * px + np.abs(uy[k]) * py)
    half_across = 0.5 * (np.abs(uy[k]) * px + np.abs(ux[k]) * py)
    amin = np.full(n, np.inf)
    amax = np.full(n, -np.inf)
    cmin = np.full(n, np.inf)
    cmax = np.full(n, -np.inf)
    np.minimum.at(amin, k, along - half_along)
    np.maximum.at(amax, k, along + half_along)
    np.minimum.at(cmin, k, across - half_across)
    np.maximum.at(cmax, k, across + half_across)
    length = amax - amin
    width = cmax - cmin
    heading = (90.0 - np.degrees(theta)) % 180.0
    corners = np.zeros((n, 4, 2))
    for j, (a, c) in enumerate(((amin, cmin), (amax, cmin), (amax, cmax), (amin, cmax))):
        ex = a * ux - c * uy
        ey = a * uy + c * ux
        corners[:, j, 0] = c0 + ex / px
        corners[:, j, 1] = r0 - ey / py
    return {
        "row": r0,
        "col": c0,
        "length_m": length,
        "width_m": width,
        "heading_deg": heading,
        "area_px": area,
        "corners": corners,
    }


def detections_from_measurements(
    m: dict[str, NDArray[np.float64]],
    scores: NDArray[np.floating],
    kind: str = "vessel",
    truncated: NDArray[np.bool_] | None = None,
) -> list[PixelDetection]:
    """Pack measurement arrays and scores into :class:`PixelDetection` values (``truncated``: one flag each, default none)."""
    out = []
    for i in range(len(m["row"])):
        out.append(
            PixelDetection(
                row=float(m["row"][i]),
                col=float(m["col"][i]),
                length_m=float(m["length_m"][i]),
                width_m=float(m["width_m"][i]),
                heading_deg=float(m["heading_deg"][i]) % 180.0,
                score=float(scores[i]),
                corners=tuple((float(x), float(y)) for x, y in m["corners"][i]),
                kind=kind,
                area_px=int(m["area_px"][i]),
                truncated=bool(truncated[i]) if truncated is not None else False,
            )
        )
    return out


def touches_edge(corners: NDArray[np.float64], shape: tuple[int, int]) -> NDArray[np.bool_]:
    """Whether each oriented box (``(n, 4, 2)`` corners as (col, row)) reaches past the pixel
    centres of the first or last row or column of an image of ``shape``: its object lies on
    the image's edge (or, turned, within a pixel of it)."""
    c = np.asarray(corners, dtype=np.float64).reshape(-1, 4, 2)
    h, w = shape
    col, row = c[..., 0], c[..., 1]
    return np.asarray(((col < 0) | (col > w - 1) | (row < 0) | (row > h - 1)).any(axis=1), dtype=bool)
