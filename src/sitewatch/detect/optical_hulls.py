"""The learned stages' vessels boxed on their hulls at fine pixels (0.3-5 m).

The pixel model was trained at 10 m, and several of its features are taken over windows set in
metres; the local texture of NIR over 30 m (``nir_std_30m``) is high wherever that window holds a
hull, so the pixel score stays high for about 15 m all round a hull, on the water. At 10 m that
is a pixel and a half, as blurred as the hull itself; at 0.5 m it is 30 pixels, and a candidate
cut from the score is the hull with a 15 m border of water: a 70 m x 18 m hull drawn at 0.5-3 m
was boxed 93-98 m x 46-52 m (the object model still takes such a candidate for a ship, and the
open-water contrast stage's own, tight box is then not repeated, its centre lying inside).

So at pixels of ``hull_max_pixel_m`` (5 m) or finer each vessel the learned stages report is
measured again on its hull: the pixels inside its box that the pixel score holds (above the lowest
candidate level) and that are not NDWI water; the brighter than water ones alone when they are
most of them (a bright hull without its shadow on the water, which is dry by NDWI as often as
not); opened by 2 x 2 pixels (water pixels that noise takes below the NDWI threshold, alone or on
the hull's outline) and in pieces of at least a tenth of the largest. Which vessels the learned
stages report, and their scores, do not change: the candidates, their object features and the
choice between overlapping ones are those of the whole candidates (the ships-at-anchor and contrast
stages after them, which leave out what lies in a reported box, see the hulls' boxes). A vessel
whose hull so measured is not of a vessel's size keeps its box.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .base import PixelDetection
from .optical_objects import _measure_pixels, _vessel_sized, box_window
from .optical_params import OpticalParams

__all__ = ["hull_boxes"]

_PIECE = 0.1
"""A dry piece counts as hull when it is at least this share of the largest in the box."""


def hull_boxes(
    found: list[PixelDetection],
    prob: NDArray[np.float32],
    water: NDArray[np.bool_],
    brighter: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
) -> list[PixelDetection]:
    """``found`` with each box measured on the hull inside it (module doc), in the same order.

    ``prob`` is the pixel score, ``water`` the NDWI water, ``brighter`` whether a pixel is brighter
    than the scene's water (visible bands).
    """
    return [_on_hull(d, prob, water, brighter, pixel_size, params) for d in found]


def _on_hull(
    d: PixelDetection,
    prob: NDArray[np.float32],
    water: NDArray[np.bool_],
    brighter: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
) -> PixelDetection:
    """One detection measured on its hull, or as it was when none of a vessel's size is found."""
    found = box_window(d.corners, prob.shape)
    if found is None:
        return d
    win, box = found
    h, w = prob.shape
    r0, c0 = win[0].start, win[1].start
    dry = box & ~water[win] & (prob[win] > min(params.pixel_thresholds))
    bright = dry & brighter[win]
    if 2 * int(bright.sum()) >= int(dry.sum()):
        dry = bright
    dry = ndimage.binary_opening(dry, structure=np.ones((2, 2), bool))
    pieces, n = ndimage.label(dry, structure=np.ones((3, 3), bool))
    if n == 0:
        return d
    area = np.bincount(pieces.ravel(), minlength=n + 1)
    area[0] = 0
    rows, cols = np.nonzero(area[pieces] >= _PIECE * area.max())
    rows, cols = rows + r0, cols + c0
    m = _measure_pixels(rows, cols, np.zeros(rows.size, np.intp), 1, (h, w), pixel_size, prob[rows, cols].astype(np.float64))
    if not _vessel_sized(m, params)[0]:
        return d
    return replace(
        d,
        row=float(m["row"][0]),
        col=float(m["col"][0]),
        length_m=float(m["length_m"][0]),
        width_m=float(m["width_m"][0]),
        heading_deg=float(m["heading_deg"][0]) % 180.0,
        corners=tuple((float(x), float(y)) for x, y in m["corners"][0]),
        area_px=int(m["area_px"][0]),
    )
