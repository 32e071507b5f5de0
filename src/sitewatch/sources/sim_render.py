"""Pixel math of the simulator: pure numpy functions over arrays and a metric pixel grid.

Nothing here reads or writes files. Positions are metres in the scene's
UTM CRS; a :class:`PixelGrid` maps them to pixels (north-up). Every random
draw comes from the ``numpy.random.Generator`` passed in, so the caller
controls reproducibility.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

__all__ = [
    "PixelGrid",
    "Box",
    "coverage",
    "smooth_noise",
    "psf_spread",
    "speckle",
    "cloud_field",
    "shift_field",
    "PSF_INTENSITY",
]

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

# Intensity point-spread function along one image axis, peak 1. A weighted
# (Hamming-like) SAR impulse response sampled at ~half the resolution: the
# first samples are main lobe (-9 dB), then sidelobes at about -19 and -24 dB.
# The 2-D response is the outer product, so bright points show the familiar
# cross of sidelobes along the image axes.
PSF_INTENSITY: F64 = np.array([0.004, 0.012, 0.12, 1.0, 0.12, 0.012, 0.004])


@dataclass(frozen=True)
class PixelGrid:
    """A north-up grid: top-left corner ``(x0, y0)`` in metres, square pixels of ``res`` metres."""

    x0: float
    y0: float
    res: float
    width: int
    height: int

    def to_pixel(self, x: float, y: float) -> tuple[float, float]:
        """(col, row) of a point, fractional, pixel centres at ``.5``."""
        return (x - self.x0) / self.res, (self.y0 - y) / self.res


@dataclass(frozen=True)
class Box:
    """An oriented rectangle in metres: centre, long-axis heading (clockwise from north), size."""

    cx: float
    cy: float
    heading_deg: float
    length: float
    width: float

    @property
    def axes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Unit vectors (east, north) along the long axis and across it."""
        h = math.radians(self.heading_deg)
        return (math.sin(h), math.cos(h)), (math.cos(h), -math.sin(h))

    def corners(self) -> list[tuple[float, float]]:
        """The four corners (x, y), metres, in order around the rectangle."""
        (ux, uy), (vx, vy) = self.axes
        a, b = self.length / 2, self.width / 2
        return [
            (self.cx + sa * a * ux + sb * b * vx, self.cy + sa * a * uy + sb * b * vy)
            for sa, sb in ((1, 1), (1, -1), (-1, -1), (-1, 1))
        ]

    def point(self, along: float, across: float = 0.0) -> tuple[float, float]:
        """A point at ``along``/``across`` metres from the centre in the box's frame."""
        (ux, uy), (vx, vy) = self.axes
        return self.cx + along * ux + across * vx, self.cy + along * uy + across * vy


def coverage(
    grid: PixelGrid, box: Box, *, supersample: int = 4, bow_taper: float = 0.0
) -> tuple[tuple[slice, slice], F64] | None:
    """Fraction of each pixel covered by ``box``, in the window of pixels it touches.

    ``bow_taper`` (fraction of the length) narrows the forward end to a point
    so hulls look like hulls; the nominal box stays the object's extent.
    Returns ``((rows, cols) slices, fractions)`` or None when the box misses the grid.
    """
    xs = [c[0] for c in box.corners()]
    ys = [c[1] for c in box.corners()]
    c0 = max(int(math.floor((min(xs) - grid.x0) / grid.res)), 0)
    c1 = min(int(math.ceil((max(xs) - grid.x0) / grid.res)), grid.width)
    r0 = max(int(math.floor((grid.y0 - max(ys)) / grid.res)), 0)
    r1 = min(int(math.ceil((grid.y0 - min(ys)) / grid.res)), grid.height)
    if c1 <= c0 or r1 <= r0:
        return None
    n = supersample
    sub = (np.arange(n) + 0.5) / n
    cols = (c0 + np.arange(c1 - c0)[:, None] + sub[None, :]).ravel()
    rows = (r0 + np.arange(r1 - r0)[:, None] + sub[None, :]).ravel()
    x = grid.x0 + cols[None, :] * grid.res - box.cx
    y = grid.y0 - rows[:, None] * grid.res - box.cy
    (ux, uy), (vx, vy) = box.axes
    along = x * ux + y * uy
    across = x * vx + y * vy
    half_w = np.full(along.shape, box.width / 2)
    if bow_taper > 0:
        start = box.length / 2 - bow_taper * box.length
        frac = np.clip((along - start) / (bow_taper * box.length), 0.0, 1.0)
        half_w = half_w * (1.0 - frac**2)
    inside = (np.abs(along) <= box.length / 2) & (np.abs(across) <= half_w)
    frac = inside.reshape(r1 - r0, n, c1 - c0, n).mean(axis=(1, 3))
    return (slice(r0, r1), slice(c0, c1)), frac


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma_px: float) -> F64:
    """Gaussian-filtered white noise with zero mean and unit standard deviation.

    Drawn on a coarse grid and zoomed, so large correlation lengths stay cheap.
    """
    step = max(1, int(sigma_px // 4))
    coarse_shape = (shape[0] // step + 3, shape[1] // step + 3)
    coarse = ndimage.gaussian_filter(rng.standard_normal(coarse_shape), sigma_px / step, mode="wrap")
    field = ndimage.zoom(coarse, step, order=1)[: shape[0], : shape[1]] if step > 1 else coarse[: shape[0], : shape[1]]
    sd = field.std()
    return (field - field.mean()) / (sd if sd > 0 else 1.0)


def psf_spread(impulses: F64, kernel: F64 = PSF_INTENSITY) -> F64:
    """Spread point intensities (peak values) with the separable SAR impulse response."""
    out = ndimage.convolve1d(impulses, kernel, axis=0, mode="constant")
    return ndimage.convolve1d(out, kernel, axis=1, mode="constant")


def speckle(rng: np.random.Generator, shape: tuple[int, int], looks: float) -> F64:
    """Multiplicative speckle of a multilooked intensity image: Gamma(L, 1/L), mean 1, ENL ``L``."""
    return rng.gamma(looks, 1.0 / looks, size=shape)


def cloud_field(
    rng: np.random.Generator, grid: PixelGrid, cover: float, centre_px: tuple[float, float] | None = None
) -> F64:
    """Cloud opacity 0..1 covering about ``cover`` of the grid, with soft edges.

    ``centre_px`` ((col, row)) biases the clouds to cover that point.
    """
    shape = (grid.height, grid.width)
    if cover <= 0:
        return np.zeros(shape)
    # Cloud cells a few hundred metres across, whatever the pixel size.
    field = smooth_noise(rng, shape, max(2.0, 250.0 / grid.res))
    if centre_px is not None:
        rr, cc = np.ogrid[: shape[0], : shape[1]]
        r2 = ((cc + 0.5 - centre_px[0]) ** 2 + (rr + 0.5 - centre_px[1]) ** 2) * grid.res**2
        field = field + 3.0 * np.exp(-r2 / (2 * 400.0**2))
    if cover >= 1:
        return np.ones(shape)
    thr = np.quantile(field, 1.0 - cover)
    # Opacity rises from 0 at the cloud edge to 1 within ~0.4 standard deviations.
    return np.clip((field - thr) / 0.4, 0.0, 1.0)


def shift_field(field: F64, rows: int, cols: int) -> F64:
    """``field`` moved by whole pixels (down/right positive), zero-filled at the edges."""
    out = np.zeros_like(field)
    h, w = field.shape
    rs, rd = (slice(0, h - rows), slice(rows, h)) if rows >= 0 else (slice(-rows, h), slice(0, h + rows))
    cs, cd = (slice(0, w - cols), slice(cols, w)) if cols >= 0 else (slice(-cols, w), slice(0, w + cols))
    out[rd, cd] = field[rs, cs]
    return out


def to_f32(a: F64) -> F32:
    """The array as C-contiguous float32."""
    return np.ascontiguousarray(a, dtype=np.float32)
