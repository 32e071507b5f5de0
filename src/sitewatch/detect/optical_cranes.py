"""Port cranes in fine optical imagery (5 m pixels or finer): painted, long, thin, at the water line."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .base import PixelDetection, detections_from_measurements
from .optical_features import _grey_opening, _px
from .optical_objects import _measure
from .optical_params import OpticalParams
from .optical_water import dilate


def _crane_objects(
    b: Mapping[str, NDArray[np.float32]],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
) -> tuple[list[PixelDetection], NDArray[np.bool_]]:
    """Long, thin, bright structures at the water line (fine pixels only), and their pixels.

    A crane (gantry, boom, jib) is a few metres wide and tens of metres long
    and stands on the quay. Port cranes are painted (yellow, orange, red,
    blue): a white top-hat of the brightest band at 2.5 crane widths, where
    the colour is saturated, picks them out from grey concrete, grey decks
    and white superstructures; geometry then separates them from ships,
    which are as long but several times wider. A grey crane on a grey quay
    is missed.
    """
    px, py = pixel_size
    p = 0.5 * (px + py)
    hi = np.maximum(np.maximum(b["blue"], b["green"]), b["red"])
    lo = np.minimum(np.minimum(b["blue"], b["green"]), b["red"])
    saturated = (hi - lo) > params.crane_min_saturation * hi
    size = _px(2.5 * params.crane_max_width_m, p)
    tophat = hi - _grey_opening(hi, size)
    # Cranes stand on the quay; an extended boom reaches out over the berth.
    shore = dilate(water, _px(120.0, p)) & dilate(~water, _px(120.0, p))
    cand = (tophat > params.crane_contrast) & saturated & shore & ~hidden
    labels, n = ndimage.label(cand, structure=np.ones((3, 3), bool))
    if n == 0:
        return [], np.zeros(water.shape, bool)
    margin = _px(2 * params.cloud_margin_m, p)
    near_hidden = np.bincount(labels[dilate(hidden, margin)], minlength=n + 1)[1:] > 0
    index = np.arange(1, n + 1)[~near_hidden]
    m = _measure(labels, index, pixel_size)
    width = np.maximum(m["width_m"], 1e-6)
    keep = (
        (m["length_m"] >= params.crane_min_length_m)
        & (m["width_m"] <= params.crane_max_width_m)
        & (m["length_m"] / width >= params.crane_min_elongation)
    )
    contrast = np.asarray(ndimage.mean(tophat, labels, index))
    score = np.clip(contrast / (4 * params.crane_contrast), 0.0, 1.0)
    mask = np.zeros(n + 1, bool)
    mask[index[keep]] = True
    m = {k: v[keep] for k, v in m.items()}
    return detections_from_measurements(m, score[keep], kind="crane"), mask[labels]
