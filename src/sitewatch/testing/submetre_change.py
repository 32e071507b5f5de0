"""SIMULATED sub-metre image pairs for optical change: one ground drawn twice, with or without new objects.

Nothing here is real imagery. A 0.5 m scene of grass, bare ground, a road, roofs with their shadows and
trees is drawn at 0.25 m and averaged to 0.5 m; the after image is the same ground seen with another
brightness, contrast and colour balance, misregistered by half a pixel, with its own pixel noise, in
8 bits as a delivered rendering is. ``changed=True`` adds a 20 × 4 m trench in the grass and a
15 × 10 m roof on bare ground: what the change test must find, where the rest must give nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["SubmetrePair", "submetre_pair"]

_GRASS = np.array([0.16, 0.26, 0.20])
_BARE = np.array([0.42, 0.38, 0.33])
_ROAD = np.array([0.36, 0.36, 0.35])
_TREE = np.array([0.08, 0.14, 0.09])
_ROOFS = np.array([[0.55, 0.30, 0.25], [0.62, 0.62, 0.60], [0.30, 0.31, 0.34], [0.45, 0.40, 0.36]])
_TRENCH = np.array([0.24, 0.20, 0.16])
"""Dug earth, darker than the bare ground's top soil and browner than the grass (red, green, blue)."""
_NEW_ROOF = np.array([0.70, 0.70, 0.68])


@dataclass(frozen=True)
class SubmetrePair:
    """Before and after (blue, green, red × rows × cols, 0-1 in steps of 1/255) and what changed."""

    before: NDArray[np.float32]
    after: NDArray[np.float32]
    truth: NDArray[np.bool_]
    """The pixels of the added trench and roof (none without ``changed``)."""
    objects: tuple[tuple[slice, slice], ...]
    """Each added object's rows and columns."""
    pixel_m: float = 0.5


def _ground(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    """Red, green, blue × n × n of the 0.25 m ground: grass with patches of bare ground, a road, six
    to nine roofs each with its shadow to the north-west, and a dozen trees."""
    from scipy import ndimage

    blobs = ndimage.gaussian_filter(rng.normal(size=(n, n)), n / 10)
    bare = blobs > np.quantile(blobs, 0.7)
    img = np.where(bare, _BARE[:, None, None], _GRASS[:, None, None])
    img = img * (1.0 + 0.06 * ndimage.gaussian_filter(rng.normal(size=(n, n)), 2.0) / 0.14)
    r0 = int(n * rng.uniform(0.55, 0.65))
    img[:, r0 : r0 + 28, :] = _ROAD[:, None, None]  # a 7 m road across the scene
    for _ in range(rng.integers(6, 10)):
        h, w = rng.integers(32, 72, 2)  # 8-18 m
        r, c = rng.integers(8, r0 - h - 8), rng.integers(8, n - w - 8)
        img[:, r - 6 : r + h - 6, c - 6 : c + w - 6] *= 0.45  # its shadow, 1.5 m up and left
        img[:, r : r + h, c : c + w] = _ROOFS[rng.integers(len(_ROOFS))][:, None, None]
    yy, xx = np.mgrid[:n, :n]
    for _ in range(12):
        r, c, rad = rng.integers(r0 + 40, n - 10), rng.integers(10, n - 10), rng.integers(8, 16)
        img[:, (yy - r) ** 2 + (xx - c) ** 2 <= rad * rad] = _TREE[:, None]
    return img


def _render(ground: NDArray[np.float64], shift: int) -> NDArray[np.float64]:
    """The 0.5 m image of the 0.25 m ``ground``: 2 × 2 means, ``shift`` fine pixels (a quarter metre each)
    down and right."""
    g = np.roll(ground, (shift, shift), axis=(1, 2))
    b, h, w = g.shape
    return g.reshape(b, h // 2, 2, w // 2, 2).mean(axis=(2, 4))


def submetre_pair(seed: int, size: int = 256, changed: bool = False) -> SubmetrePair:
    """A pair of ``size`` × ``size`` 0.5 m pixels (see the module docstring), drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    n = 2 * size
    ground = _ground(rng, n)
    later = ground.copy()
    truth_fine = np.zeros((n, n), bool)
    objects: list[tuple[slice, slice]] = []
    if changed:
        road = int(np.argmax(np.all(ground == _ROAD[:, None, None], axis=0).any(axis=1)))
        grass = np.isclose(ground[1] / ground[0], _GRASS[1] / _GRASS[0], rtol=1e-6)
        bare = np.isclose(ground[1] / ground[0], _BARE[1] / _BARE[0], rtol=1e-6)
        for (h, w), where, colour in (((16, 80), grass, _TRENCH), ((40, 60), bare, _NEW_ROOF)):
            # the first spot of the cover below the roofs' rows that holds the object whole
            from scipy import ndimage

            # A rectangle's erosion is its column's and then its row's, to the pixel, in a fraction of the time
            # (a 4,096² pair drew for minutes): the spots where the object and a 4-pixel margin fit.
            room = ndimage.binary_erosion(ndimage.binary_erosion(where, np.ones((h + 8, 1), bool)), np.ones((1, w + 8), bool))
            room[road - h // 2 - 8 :, :] = False
            spots = np.argwhere(room)
            if not spots.size:
                continue
            r, c = spots[len(spots) // 2] - (h // 2, w // 2)
            later[:, r : r + h, c : c + w] = colour[:, None, None]
            truth_fine[r : r + h, c : c + w] = True
            objects.append((slice(r // 2, (r + h) // 2), slice(c // 2, (c + w) // 2)))
    before = _render(ground, 0)
    after = _render(later, 1)  # half a 0.5 m pixel out of register
    gain = rng.uniform(0.8, 1.25) * rng.uniform(0.9, 1.1, 3)  # brightness and colour balance
    after = gain[:, None, None] * (after - after.mean()) * rng.uniform(0.85, 1.15) + after.mean() * gain[:, None, None]
    after += rng.uniform(-0.03, 0.03, 3)[:, None, None]
    before = before + rng.normal(0, 0.01, before.shape)
    after = after + rng.normal(0, 0.01, after.shape)
    truth = _render(truth_fine[None].astype(np.float64), 0)[0] >= 0.5

    def eight_bit(x: NDArray[np.float64]) -> NDArray[np.float32]:
        return (np.round(np.clip(x, 0, 1) * 255) / 255).astype(np.float32)[::-1].copy()  # blue, green, red

    return SubmetrePair(eight_bit(before), eight_bit(after), truth, tuple(objects))
