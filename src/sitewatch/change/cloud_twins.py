"""Cloud and its shadow in an optical pair without a cloud mask: a bright patch of one date with a dark twin.

A pair compared without an SCL band (band files, a plain RGB export) compares cloud and its shadow as
change. A brightness threshold alone takes bright desert and new white roofs for cloud
(BENCHMARKS.md, "Would the optical detector's spectral cloud test do for change-image…"). What a cloud
has and a roof has not is a shadow of its own shape beside it, on the same date, displaced along the sun's
azimuth by the cloud's height times the tangent of the sun's zenith angle (a few hundred metres to a few
kilometres). So a patch is taken for cloud only when, on one date:

- it is bright and white-to-bluish: its mean visible reflectance at least :attr:`CloudTwinParams.bright`,
  its blue at least :attr:`~CloudTwinParams.blue_red` times its red (desert and most roofs are redder);
  NDVI below :attr:`~CloudTwinParams.ndvi` (not vegetation);
- it is not so at the same place on the other date: brighter than there by :attr:`~CloudTwinParams.brighter`;
- and the same shape displaced along one azimuth by :attr:`~CloudTwinParams.min_shift_m` to
  :attr:`~CloudTwinParams.max_shift_m` falls on pixels darkened on the same date (a shadow:
  at most :attr:`~CloudTwinParams.dark_ratio` of the other date's brightness) for at least
  :attr:`~CloudTwinParams.twin` of it, and more so by :attr:`~CloudTwinParams.contrast` than each quarter of
  a ring around that twin is (a shadow has its cloud's shape; a roof matched to a wide dark change has not);
  the azimuth is the one the scene's bright patches and dark pixels agree on best, within 15° (all clouds of
  one scene throw their shadows one way);
- and, where the other date's ground there has a pattern (a spread of :attr:`~CloudTwinParams.texture`), the
  twin's darkened pixels keep it (a correlation of :attr:`~CloudTwinParams.kept_pattern` at least): a shadow
  darkens the ground, a new car park beside a new roof replaces it.

The sun's azimuth from a scene's metadata is not read: none of the files change-image takes carries it.

Before the dates are compared, the later date's brightness is put on the earlier's by the mode of their
difference (band files read without a product's offset are 0.1 brighter throughout; most of the ground does
not change). The cloud and its shadow are then left out, widened as ``sitewatch change`` widens an SCL
band's cloud. Array math only: the two dates' bands (whole arrays, or rows read as the comparison reads
them) in, a mask and what it holds out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["CloudTwinParams", "CloudTwins", "cloud_twins", "clouds_beyond"]

_BLOCK_ROWS = 512
"""Rows read at a time: the masks of a whole tile are bytes a pixel; its bands are not held whole."""
_SAMPLE_PIXELS = 3000
"""Pixels of a bright patch whose displaced twin is looked at (a fraction is what is scored)."""


@dataclass(frozen=True)
class CloudTwinParams:
    """The cloud-and-shadow test's thresholds (module doc); reflectance 0..1."""

    bright: float = 0.2
    """Mean visible reflectance a cloud has at least."""
    brighter: float = 0.1
    """How much brighter than the other date a cloud is (after the dates' brightness is matched)."""
    blue_red: float = 0.85
    """Blue at least this times red: white to bluish (desert and most roofs are redder)."""
    ndvi: float = 0.4
    """NDVI below this (not vegetation), where a NIR band is given."""
    dark_ratio: float = 0.65
    """A shadow is at most this share of the other date's brightness there."""
    dark_drop: float = 0.015
    """... and darker than it by at least this."""
    min_shift_m: float = 100.0
    """Nearest a shadow lies to its cloud (a low cloud under a high sun); a building's own shadow is nearer."""
    max_shift_m: float = 5000.0
    """Farthest (a cloud 2 km up under a sun 68° from the zenith)."""
    twin: float = 0.4
    """Share of a patch's displaced twin that must be darkened for it to be cloud."""
    contrast: float = 0.35
    """... and by this share more than each quarter of a ring 100 to 200 m around that twin (a shadow has the cloud's shape)."""
    texture: float = 0.015
    """Spread (standard deviation) of the other date's brightness over a twin above which its pattern is looked for."""
    kept_pattern: float = 0.3
    """... and the least correlation with it a shadow keeps (a new surface there, a car park, has none)."""
    min_area_m2: float = 10_000.0
    """Smallest patch looked at (a cloud smaller than 100 × 100 m is not sought)."""

    def __post_init__(self) -> None:
        if not 0 < self.min_shift_m < self.max_shift_m:
            raise ValueError(f"min_shift_m {self.min_shift_m} and max_shift_m {self.max_shift_m}: 0 < min < max")
        if not 0 < self.twin <= 1:
            raise ValueError(f"twin {self.twin}: a share, in (0, 1]")


@dataclass(frozen=True)
class CloudTwins:
    """What :func:`cloud_twins` found: the pixels to leave out and how many of each kind."""

    hidden: NDArray[np.bool_]
    """Cloud and shadow of either date, widened: pixels not to compare."""
    cloud_px: int
    """Pixels of the clouds found (before widening)."""
    shadow_px: int
    """Pixels of their shadows (the clouds' twins, before widening)."""
    clouds: int
    """Clouds found (bright patches with a dark twin), both dates."""
    refused: int
    """Bright patches new on one date without a dark twin: not taken for cloud (new roofs, bright ground)."""
    azimuths: tuple[float | None, float | None]
    """The direction (degrees clockwise from the grid's up) in which each date's shadows lie from their clouds;
    None for a date without a bright patch."""
    offset: float
    """How much brighter the later date was throughout (the mode of the difference), taken off before the test."""
    held_px: int
    """Pixels both dates hold (within ``valid``): what :attr:`hidden` is a share of."""
    cloud: NDArray[np.bool_]
    """The clouds found, either date (before widening)."""
    refused_patches: NDArray[np.bool_]
    """The bright patches counted in :attr:`refused` (before widening): compared, unless a wider look finds their
    shadow (:func:`clouds_beyond`)."""


def _visible(rows: NDArray[np.floating], names: Sequence[str]) -> tuple[NDArray[np.float32], ...]:
    """Mean visible, blue, red and NIR (NaN where a band is missing) of bands × rows × cols."""
    get = {n: np.asarray(rows[i], np.float32) for i, n in enumerate(names)}
    vis_names = [n for n in ("blue", "green", "red") if n in get]
    vis = sum((get[n] for n in vis_names[1:]), get[vis_names[0]].copy()) / np.float32(len(vis_names))
    nan = np.full_like(vis, np.nan)
    return vis, get.get("blue", nan), get.get("red", nan), get.get("nir", nan)


def _offset(before: Any, after: Any, names: Sequence[str], valid: NDArray[np.bool_] | None) -> float:
    """The mode of the later date's mean visible reflectance less the earlier's (every 4th block of rows)."""
    h = before.shape[1]
    hist = np.zeros(400, np.int64)
    for a in range(0, h, 4 * _BLOCK_ROWS):
        b = min(h, a + _BLOCK_ROWS)
        d = _visible(after[:, a:b], names)[0] - _visible(before[:, a:b], names)[0]
        ok = np.isfinite(d) if valid is None else np.isfinite(d) & valid[a:b]
        hist += np.histogram(d[ok], bins=400, range=(-0.4, 0.4))[0]
    if not hist.any():
        return 0.0
    smooth = np.convolve(hist, np.ones(5), "same")
    return float(-0.4 + (int(np.argmax(smooth)) + 0.5) * 0.002)


def _pixel_masks(
    before: Any, after: Any, names: Sequence[str], valid: NDArray[np.bool_] | None, offset: float, p: CloudTwinParams,
) -> tuple[list[NDArray[np.bool_]], list[NDArray[np.bool_]], NDArray[np.bool_]]:  # fmt: skip
    """Each date's bright-and-new pixels and darkened pixels, and the pixels both dates hold."""
    h, w = before.shape[1:]
    bright = [np.zeros((h, w), bool), np.zeros((h, w), bool)]
    dark = [np.zeros((h, w), bool), np.zeros((h, w), bool)]
    held = np.zeros((h, w), bool)
    off = np.float32(offset)
    for a in range(0, h, _BLOCK_ROWS):
        b = min(h, a + _BLOCK_ROWS)
        dates = [_visible(before[:, a:b], names), tuple(x - off for x in _visible(after[:, a:b], names))]
        ok = np.isfinite(dates[0][0]) & np.isfinite(dates[1][0])
        if valid is not None:
            ok &= valid[a:b]
        held[a:b] = ok
        with np.errstate(invalid="ignore", divide="ignore"):
            for k in (0, 1):
                vis, blue, red, nir = dates[k]
                other = dates[1 - k][0]
                new = ok & (vis >= p.bright) & (vis - other >= p.brighter)
                if np.isfinite(blue).any() and np.isfinite(red).any():
                    new &= blue >= p.blue_red * red
                if np.isfinite(nir).any() and np.isfinite(red).any():
                    new &= (nir - red) < p.ndvi * (nir + red)
                bright[k][a:b] = new
                dark[k][a:b] = ok & (vis <= p.dark_ratio * other) & (other - vis >= p.dark_drop)
    return bright, dark, held


def _coarse(mask: NDArray[np.bool_], f: int) -> NDArray[np.float32]:
    """The share of ``mask`` in each ``f`` × ``f`` block (the last blocks padded)."""
    h, w = mask.shape
    hh, ww = -(-h // f) * f, -(-w // f) * f
    m = np.zeros((hh, ww), np.float32)
    m[:h, :w] = mask
    return m.reshape(hh // f, f, ww // f, f).mean(axis=(1, 3))


def _azimuth(bright: NDArray[np.bool_], dark: NDArray[np.bool_], pixel_m: float, p: CloudTwinParams) -> float | None:
    """The direction (degrees clockwise from up) in which the dark pixels best repeat the bright ones,
    between the shortest and longest shift: a cross-correlation on blocks of about 50 m."""
    f = max(1, round(50.0 / pixel_m))
    c, d = _coarse(bright, f), _coarse(dark, f)
    if c.sum() == 0:
        return None
    step = pixel_m * f
    reach = int(np.ceil(p.max_shift_m / step))
    shape = (c.shape[0] + reach, c.shape[1] + reach)
    corr = np.fft.irfft2(np.conj(np.fft.rfft2(c, shape)) * np.fft.rfft2(d, shape), shape)
    dy = np.fft.fftfreq(shape[0], 1.0 / shape[0])[:, None] * step
    dx = np.fft.fftfreq(shape[1], 1.0 / shape[1])[None, :] * step
    r = np.hypot(dx, dy)
    ring = (r >= p.min_shift_m) & (r <= p.max_shift_m)
    # Down the rows is south on a north-up grid: clockwise from up is atan2(east, north).
    az = (np.degrees(np.arctan2(dx, -dy)) % 360.0)[ring]
    score = corr[ring]
    bins = (az // 5).astype(int) % 72
    best = np.full(72, -np.inf)
    np.maximum.at(best, bins, score)
    # Two neighbouring bins together: a direction between two bins is not split.
    both = best + np.roll(best, -1)
    k = int(np.argmax(both))
    return float((k + 1) * 5.0 % 360.0)


def _dark_share(
    ys: NDArray[np.intp], xs: NDArray[np.intp], shifts: NDArray[np.intp], bright_any: NDArray[np.bool_],
    dark: NDArray[np.bool_], held: NDArray[np.bool_],
) -> NDArray[np.float64]:  # fmt: skip
    """For each shift (rows of dy, dx), the share of the displaced pixels that are darkened; NaN where too few of
    them are on the image, held by both dates and not bright themselves to say."""
    h, w = dark.shape
    n = np.zeros(len(shifts), np.int64)
    hits = np.zeros(len(shifts), np.int64)
    for a in range(0, len(shifts), 256):  # 256 shifts at a time: a few MB, whatever the pixel size
        ty = ys[None, :] + shifts[a : a + 256, 0:1]
        tx = xs[None, :] + shifts[a : a + 256, 1:2]
        inside = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
        ty, tx = np.where(inside, ty, 0), np.where(inside, tx, 0)
        ok = inside & held[ty, tx] & ~bright_any[ty, tx]
        n[a : a + 256] = ok.sum(axis=1)
        hits[a : a + 256] = (ok & dark[ty, tx]).sum(axis=1)
    return np.where(n >= max(5, ys.size // 5), hits / np.maximum(n, 1), np.nan)


def _quarters(ring: NDArray[np.bool_]) -> list[NDArray[np.bool_]]:
    """``ring`` cut into four quarters by the directions from its centre (above, right, below, left)."""
    ys, xs = np.nonzero(ring)
    if not ys.size:
        return []
    yy, xx = np.ogrid[: ring.shape[0], : ring.shape[1]]
    dy, dx = yy - ys.mean(), xx - xs.mean()
    up, right = dy + dx, dy - dx  # the diagonals part the quarters
    return [ring & (up < 0) & (right < 0), ring & (up < 0) & (right >= 0), ring & (up >= 0) & (right >= 0), ring & (up >= 0) & (right < 0)]


def _sample(mask: NDArray[np.bool_], at: tuple[int, int], rng: np.random.Generator) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Up to :data:`_SAMPLE_PIXELS` pixels of ``mask`` (a window whose corner is at row, col ``at``), in grid rows and cols."""
    ys, xs = np.nonzero(mask)
    if ys.size > _SAMPLE_PIXELS:
        pick = rng.choice(ys.size, _SAMPLE_PIXELS, replace=False)
        ys, xs = ys[pick], xs[pick]
    return ys + at[0], xs + at[1]


def _ground_replaced(
    before: Any, after: Any, names: Sequence[str], offset: float, k: int, blob: NDArray[np.bool_], sl: tuple[slice, slice],
    shift: NDArray[np.intp], dark: NDArray[np.bool_], p: CloudTwinParams,
) -> bool:  # fmt: skip
    """Whether the darkened twin of ``blob`` (its patch's pixels, ``sl`` its rows and cols, moved by ``shift``) is new
    ground, not shadow: a shadow darkens the ground and keeps its pattern (date ``k``'s brightness there follows the
    other date's), a new car park beside a new roof replaces it (the pattern gone). Told only where the
    other date has a pattern to keep (a spread of :attr:`CloudTwinParams.texture` at least)."""
    h, w = dark.shape
    sy, sx = int(shift[0]), int(shift[1])
    y0, y1 = max(0, sl[0].start + sy), min(h, sl[0].stop + sy)
    x0, x1 = max(0, sl[1].start + sx), min(w, sl[1].stop + sx)
    if y0 >= y1 or x0 >= x1:
        return False
    twin = blob[y0 - sl[0].start - sy : y1 - sl[0].start - sy, x0 - sl[1].start - sx : x1 - sl[1].start - sx]
    twin = twin & dark[y0:y1, x0:x1]  # its darkened pixels: those beside them, not shadow, would set the pattern
    if twin.sum() < 20:
        return False
    # (rows read whole, as BandRows gives them, then cut to the twin's columns)
    dates = [_visible(before[:, y0:y1], names)[0][:, x0:x1], _visible(after[:, y0:y1], names)[0][:, x0:x1] - np.float32(offset)]
    here, there = dates[k][twin].astype(np.float64), dates[1 - k][twin].astype(np.float64)
    if there.std() < p.texture or here.std() == 0:
        return here.std() == 0 and there.std() >= p.texture  # a flat twin over patterned ground: replaced
    return bool(np.corrcoef(here, there)[0, 1] < p.kept_pattern)


def cloud_twins(
    before: Any, after: Any, bands: Sequence[str], pixel_m: float, *, valid: NDArray[np.bool_] | None = None,
    margin_m: float = 100.0, params: CloudTwinParams | None = None,
) -> CloudTwins:  # fmt: skip
    """Cloud and shadow of either date of an optical pair (module doc), widened by ``margin_m``.

    ``before`` and ``after`` are bands × rows × cols reflectance on one grid of ``pixel_m`` metres (arrays, or
    :class:`~sitewatch.change.pair.BandRows`), their bands named by ``bands`` (``blue``, ``green``, ``red``, ``nir``;
    at least one visible); ``valid`` the pixels that may be compared (default: where both have data).
    """
    from scipy import ndimage

    p = params or CloudTwinParams()
    names = tuple(bands)
    if not {"blue", "green", "red"} & set(names):
        raise ValueError(f"cloud_twins needs a visible band (blue, green or red), got {', '.join(names)}")
    if before.shape != after.shape or before.shape[0] != len(names):
        raise ValueError(f"cloud_twins: dates of shapes {before.shape} and {after.shape} for bands {', '.join(names)}")
    offset = _offset(before, after, names, valid)
    bright, dark, held = _pixel_masks(before, after, names, valid, offset, p)
    h, w = held.shape
    cloud = np.zeros((h, w), bool)
    shadow = np.zeros((h, w), bool)
    refused_patches = np.zeros((h, w), bool)
    clouds = refused = 0
    azimuths: list[float | None] = []
    open_px = max(1, round(30.0 / pixel_m))
    ring = (max(1, round(100.0 / pixel_m)), max(2, round(200.0 / pixel_m)))
    min_px = max(4, int(p.min_area_m2 / pixel_m**2))
    rng = np.random.default_rng(0)
    bright_any = bright[0] | bright[1]
    for k in (0, 1):
        patches = ndimage.binary_opening(bright[k], iterations=open_px) if bright[k].any() else bright[k]
        az = _azimuth(patches, dark[k], pixel_m, p) if patches.any() else None
        azimuths.append(az)
        if az is None:
            continue
        labels, count = ndimage.label(patches)
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        # Shifts within 15° of the scene's azimuth, a pixel (at least 10 m) apart along each, from the shortest to the longest.
        step = max(pixel_m, 10.0)
        r = np.arange(p.min_shift_m, p.max_shift_m + step, step) / pixel_m
        angles = np.radians(az + np.arange(-15.0, 15.1, 3.0))
        dy = np.rint(-np.cos(angles)[:, None] * r[None, :]).astype(np.intp).ravel()
        dx = np.rint(np.sin(angles)[:, None] * r[None, :]).astype(np.intp).ravel()
        shifts = np.unique(np.stack([dy, dx], axis=1), axis=0)
        for i, sl in enumerate(ndimage.find_objects(labels), 1):
            if sl is None or sizes[i] < min_px:
                continue
            # The patch and a ring around it (100 to 200 m out): a shadow is darkened where the patch's twin
            # falls and not around it; a bright roof matched to a wide dark change is darkened in both.
            y0, y1 = max(0, sl[0].start - ring[1]), min(h, sl[0].stop + ring[1])
            x0, x1 = max(0, sl[1].start - ring[1]), min(w, sl[1].stop + ring[1])
            win = labels[y0:y1, x0:x1] == i
            around = ndimage.binary_dilation(win, iterations=ring[1]) & ~ndimage.binary_dilation(win, iterations=ring[0])
            inner = _dark_share(*_sample(win, (y0, x0), rng), shifts, bright_any, dark[k], held)
            # The ring's darkest quarter (above, right, below, left of the patch's centre): the corner of a wide
            # dark change is dark on two sides of the twin, a shadow on none.
            outer = np.full(len(shifts), np.nan)
            for side in _quarters(around):
                share = _dark_share(*_sample(side, (y0, x0), rng), shifts, bright_any, dark[k], held)
                outer = np.fmax(outer, share)
            score = np.where((inner >= p.twin) & np.isfinite(outer), inner - np.nan_to_num(outer), -1.0)
            j = int(np.argmax(score))
            blob = labels[sl] == i
            if score[j] < p.contrast or _ground_replaced(before, after, names, offset, k, blob, sl, shifts[j], dark[k], p):
                refused += 1
                refused_patches[sl] |= blob
                continue
            clouds += 1
            cloud[sl] |= blob
            # The patch's twin, where it lies on the image (its shadow, as dark as it is or not).
            sy, sx = int(shifts[j, 0]), int(shifts[j, 1])
            y0, y1 = max(0, sl[0].start + sy), min(h, sl[0].stop + sy)
            x0, x1 = max(0, sl[1].start + sx), min(w, sl[1].stop + sx)
            if y0 < y1 and x0 < x1:
                part = blob[y0 - sl[0].start - sy : y1 - sl[0].start - sy, x0 - sl[1].start - sx : x1 - sl[1].start - sx]
                shadow[y0:y1, x0:x1] |= part
    shadow &= ~cloud
    hidden = cloud | shadow
    if hidden.any():
        hidden = ndimage.binary_dilation(hidden, iterations=max(1, round(margin_m / pixel_m)))
    return CloudTwins(hidden & held, int(cloud.sum()), int(shadow.sum()), clouds, refused, (azimuths[0], azimuths[1]), offset,
                      int(held.sum()), cloud, refused_patches)  # fmt: skip


def clouds_beyond(refused_patches: NDArray[np.bool_], wide: CloudTwins, factor: int, corner: tuple[int, int]) -> tuple[NDArray[np.bool_], int]:
    """The patches of ``refused_patches`` (a grid's bright patches without a shadow twin on it) that the test run on
    a wider, coarser grid (``wide``) took for cloud, and how many: a patch is one when half its pixels or more lie
    under a cloud of ``wide``. ``wide``'s pixels are ``factor`` of the grid's a side, and the grid's first pixel lies
    in its pixel ``corner`` (row, col), its edges on the wide grid's (the wide grid is the grid grown by whole pixels)."""
    from scipy import ndimage

    h, w = refused_patches.shape
    r0, c0 = corner
    rows, cols = -(-h // factor), -(-w // factor)
    if r0 < 0 or c0 < 0 or r0 + rows > wide.cloud.shape[0] or c0 + cols > wide.cloud.shape[1]:
        raise ValueError(f"clouds_beyond: a {h} × {w} grid at {corner} of a {wide.cloud.shape} grid {factor} times coarser does not fit in it")
    under = np.repeat(np.repeat(wide.cloud[r0 : r0 + rows, c0 : c0 + cols], factor, axis=0), factor, axis=1)[:h, :w]
    labels, count = ndimage.label(refused_patches)
    if not count:
        return np.zeros((h, w), bool), 0
    size = np.bincount(labels.ravel(), minlength=count + 1)
    covered = np.bincount(labels.ravel(), weights=under.ravel(), minlength=count + 1)
    found = (covered >= 0.5 * size) & (size > 0)
    found[0] = False
    return found[labels], int(found.sum())
