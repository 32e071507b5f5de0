"""What lies inside a candidate vessel and how sharp its edge is (issue 4 experiment; the shipped weights do not use it).

The eighteen object features describe a candidate by its size, its mean
pixel score and means of the pixel features over it; nothing says whether
it is uniform inside or mottled, what colour it is, or whether its edge is
a step. At 10 m, container stacks and roofs (Busan's false alarms) are
mottled and coloured, a hull or deck is more uniform; a hull alongside a
quay has water along much of its outline, a stack on a quay bright land all
round. Turned on by :attr:`OpticalParams.texture_features`;
:func:`~sitewatch.detect.optical_objects.multi_candidates` then appends
:data:`TEXTURE_FEATURE_NAMES` to each candidate's features. Only the
candidates' pixels and their one-pixel rings are read.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

__all__ = ["TEXTURE_FEATURE_NAMES", "texture_features"]

TEXTURE_FEATURE_NAMES: tuple[str, ...] = (
    "cv_nir",
    "cv_vis",
    "chroma",
    "blue_red_vs_ring",
    "edge_nir",
    "ring_bright_land",
)
"""Coefficient of variation of NIR over the candidate's pixels; the mean of blue's, green's and
red's; mean chroma (brightest minus darkest visible band over their mean); log blue/red of the
candidate minus that of its one-pixel ring; mean NIR gradient on the ring over the candidate's
NIR contrast to the scene's water; fraction of the ring that is land at least half as bright
(NIR above the water) as the candidate."""

_FLOOR = 0.01
"""Reflectance below which a mean or a contrast is not divided by (dark water, noise)."""
_EPS = 0.005
"""Added to blue and red before their ratio is taken."""


def texture_features(
    bands: Mapping[str, NDArray[np.floating]],
    nir_minus_water: NDArray[np.floating],
    water: NDArray[np.bool_],
    lab: NDArray[np.integer],
    inside_t: NDArray[np.intp],
    ring_lab: NDArray[np.integer],
    ring_t: NDArray[np.intp],
    k: int,
) -> NDArray[np.float32]:
    """:data:`TEXTURE_FEATURE_NAMES` of ``k`` candidates, ``(k, 6)``.

    ``lab`` (1..k) labels the candidates' pixels at flat tile indices
    ``inside_t``; ``ring_lab`` their one-pixel rings at ``ring_t``.
    ``bands`` are the tile's blue, green, red and NIR reflectance, and
    ``nir_minus_water`` its NIR less the scene's water NIR.
    """
    count = np.maximum(np.bincount(lab, minlength=k + 1)[1:], 1)
    ring_count = np.maximum(np.bincount(ring_lab, minlength=k + 1)[1:], 1)

    def at(img: NDArray[np.floating] | NDArray[np.bool_], flat: NDArray[np.intp]) -> NDArray[np.float64]:
        return np.nan_to_num(np.asarray(img).ravel()[flat].astype(np.float64))

    def mean(values: NDArray[np.float64], labels: NDArray[np.integer] = lab, n: NDArray[np.int64] = count) -> NDArray[np.float64]:
        return np.asarray(np.bincount(labels, weights=values, minlength=k + 1)[1:] / n)

    def cv(values: NDArray[np.float64]) -> NDArray[np.float64]:
        mu = mean(values)
        sd = np.sqrt(np.maximum(mean(values * values) - mu * mu, 0.0))
        return np.asarray(sd / np.maximum(mu, _FLOOR))

    blue, green, red, nir = (at(bands[b], inside_t) for b in ("blue", "green", "red", "nir"))
    rgb = np.stack([blue, green, red])
    chroma = (rgb.max(axis=0) - rgb.min(axis=0)) / np.maximum(rgb.mean(axis=0), _FLOOR)
    ring_blue, ring_red = at(bands["blue"], ring_t), at(bands["red"], ring_t)
    blue_red = np.log((mean(blue) + _EPS) / (mean(red) + _EPS)) - np.log(
        (mean(ring_blue, ring_lab, ring_count) + _EPS) / (mean(ring_red, ring_lab, ring_count) + _EPS)
    )
    contrast = mean(at(nir_minus_water, inside_t))
    edge = mean(_gradient(np.asarray(bands["nir"]), ring_t), ring_lab, ring_count) / np.maximum(contrast, _FLOOR)
    bright = ~at(water, ring_t).astype(bool) & (at(nir_minus_water, ring_t) >= 0.5 * contrast[ring_lab - 1])
    return np.column_stack(
        [
            cv(nir),
            (cv(blue) + cv(green) + cv(red)) / 3.0,
            mean(chroma),
            blue_red,
            edge,
            mean(bright.astype(np.float64), ring_lab, ring_count),
        ]
    ).astype(np.float32)


def _gradient(img: NDArray[np.floating], flat: NDArray[np.intp]) -> NDArray[np.float64]:
    """Gradient magnitude (central differences per pixel, one-sided at the tile's edges) at flat indices."""
    h, w = img.shape
    r, c = np.divmod(flat, w)
    left, right = np.maximum(c - 1, 0), np.minimum(c + 1, w - 1)
    up, down = np.maximum(r - 1, 0), np.minimum(r + 1, h - 1)

    def a(rows: NDArray[np.intp], cols: NDArray[np.intp]) -> NDArray[np.float64]:
        return np.nan_to_num(img[rows, cols].astype(np.float64))

    gx = (a(r, right) - a(r, left)) / np.maximum(right - left, 1)
    gy = (a(down, c) - a(up, c)) / np.maximum(down - up, 1)
    return np.asarray(np.hypot(gx, gy))
