"""A learned change score for optical pairs of Sentinel-2's class (pixels of :data:`LEARNED_PIXEL_M`):
boosted depth-2 trees over each pixel's colours, differences, textures and the chi-square statistic of
:mod:`.optical`, trained by ``benchmarks/change_learned_train.py`` on OSCD's labelled cities (urban change:
new buildings, roads, cleared ground) and scored there leave-one-city-out (BENCHMARKS.md, "Learned change
score"). Method ``irmad-cva`` version 5: where it applies, a region's seeds are the pixels whose score
reaches the model's cut or whose chi-square statistic passes :data:`STRONG_PFA`, and it grows into the pixels
past :data:`GROW_PFA` (on 8-bit renderings the score alone), instead of the chi-square thresholds of version
3; everything else (regions, magnitude, direction) is as before.

At sub-metre pixels (:data:`LEARNED_FINE_PIXEL_M`) the same features are scored by other trees
(:data:`FINE_MODEL_FILE`, trained by ``benchmarks/change_submetre_train.py`` on the LEVIR-CD and DSIFN-CD
samples and scored there leave one crop out and leave one dataset out; BENCHMARKS.md, "Sub-metre learned
change score"): method version 6, where their seeds (gated by :data:`FINE_SEED_QUANTILE`) grow into the
changed pixels of version 4's sub-metre rules (:mod:`.submetre`).

The features, per pixel (the visible bands only, blue, green and red, so that an 8-bit rendering and a
reflectance file are read alike; :data:`FEATURES` names them):

- each date's visible bands stretched together, one gain and offset for the three (their pooled 0.1 and
  99.9 percentiles to 0 and 1: a rendering's stretch keeps the colour balance, so reflectance files and
  8-bit renderings give the same values), the later date's each band matched to the earlier's mean and
  spread;
- the difference of each band in units of its robust spread (1.4826 × the median absolute deviation),
  averaged over 3 × 3 and 7 × 7 pixels, and the length of the 3 × 3 difference vector averaged over 1, 7,
  15 and 31 pixels (how much of the neighbourhood changed);
- each date's brightness, its 3 × 3 texture (standard deviation) and the change of texture (new roofs are
  edges in a field), the earlier date's excess green (2G - R - B) and its change;
- :mod:`.optical`'s statistic over every compared band (its square root over the number of bands, so
  that three and four bands read alike) and brightness change, the first also averaged over 7, 15 and 31
  pixels, the second over 7.

Scene-wide quantities (stretch, band means and spreads, the spread of each difference) are read from an
even sample of the compared pixels; the rest is a window around each pixel, computed a block of rows at a
time with :data:`HALO` rows on each side (:func:`learned_blocks`), so memory stays bounded on a whole tile.
Pixels not compared take the scene's median value before the windows, and are never changed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..trees import tree_probability
from .blocks import DEFAULT_BLOCKS, RowBlocks, _rows, _sample
from .optical import optical_blocks

__all__ = [
    "FEATURES", "FINE_MODEL_FILE", "FINE_SEED_QUANTILE", "HALO", "LEARNED_FINE_PIXEL_M", "LEARNED_PIXEL_M", "MODEL_FILE", "SceneScales", "learned_applies",
    "learned_blocks", "learned_model_file", "pair_features", "scene_scales",
]  # fmt: skip

LEARNED_PIXEL_M = (5.0, 15.0)
"""The pixel sizes (metres, the coarser axis) the learned score is used at: it was trained on OSCD's 10 m
pairs and its windows are counted in pixels. Coarser pairs keep the chi-square thresholds, and so do finer
ones but those of :data:`LEARNED_FINE_PIXEL_M`, which have a model of their own."""

MODEL_FILE = "change_oscd_gb.json"
"""The trees in ``sitewatch/data``, written by ``benchmarks/change_learned_train.py``."""

LEARNED_FINE_PIXEL_M = (0.25, 1.0)
"""The pixel sizes (metres) the sub-metre score (:data:`FINE_MODEL_FILE`) is used at: it was trained on the
LEVIR-CD and DSIFN-CD samples' 0.5 m crops, and its windows are counted in pixels. Its seeds (gated by
:data:`FINE_SEED_QUANTILE`) grow into the changed pixels of ``irmad-cva`` 4's sub-metre rules, whose regions
without such a seed, or one past :data:`STRONG_PFA`, are dropped (:func:`~.compare.detect_changes`, method
version 6)."""

FINE_MODEL_FILE = "change_submetre_gb.json"
"""The sub-metre trees in ``sitewatch/data``, written by ``benchmarks/change_submetre_train.py``."""

FINE_SEED_QUANTILE = 0.5
"""Sub-metre: a pixel the score marks seeds a region only where its misregistration-tolerant chi-square
statistic (:mod:`.submetre`) also passes this quantile of chi-square's, that is differs more than half
the unchanged pixels do once each edge may lie a metre off (on simulated pairs of one ground half a
pixel apart, the score alone seeded 118 regions in 20 pairs, this gate none). Regions also keep the
sub-metre rules' pixels past :data:`STRONG_PFA` as seeds (a trench the score does not know)."""

_TRAINED_BY = {MODEL_FILE: "benchmarks/change_learned_train.py", FINE_MODEL_FILE: "benchmarks/change_submetre_train.py"}

HALO = 16
"""Rows a block's windows need above and below it (the widest window is 31 pixels)."""

STRONG_PFA: float | None = 1e-20
"""A pixel whose chi-square statistic passes this false-alarm probability is changed whatever its learned
score (a change far beyond the noise that is not of the kinds OSCD labels, such as trenches dug in a
field); None: the learned score alone. Not on 8-bit renderings (:attr:`~.pair.ChangeImage.rendering`)."""

GROW_PFA: float | None = 1e-6
"""Regions seeded by the learned score (or :data:`STRONG_PFA`) grow into neighbouring pixels whose chi-square
statistic passes this false-alarm probability (the chi-square test's own seed level); None: they do not
grow. Not on 8-bit renderings."""

_SAMPLE = 250_000
"""The scene-wide quantities are read from at most about this many compared pixels (an even stride)."""

_VISIBLE = ("blue", "green", "red")

FEATURES = (
    *(f"{k}_{d}" for k in _VISIBLE for d in ("before", "after", "diff3", "diff7")),
    "diff_length", "diff_length7", "diff_length15", "diff_length31",
    "texture_before", "texture_after", "texture_change",
    "green_excess", "green_excess_change", "brightness_before", "brightness_after",
    "statistic", "brightness_change", "statistic7", "statistic15", "statistic31", "brightness_change7",
)  # fmt: skip
"""The model's inputs, in order (module docstring)."""


def learned_model_file(bands: Sequence[str], pixel_m: float) -> str | None:
    """The model that scores a pair of these compared ``bands`` (lower-case names) at ``pixel_m``: :data:`MODEL_FILE`
    at :data:`LEARNED_PIXEL_M`, :data:`FINE_MODEL_FILE` at :data:`LEARNED_FINE_PIXEL_M`, None elsewhere or
    without blue, green and red."""
    if not all(b in bands for b in _VISIBLE):
        return None
    if LEARNED_PIXEL_M[0] <= pixel_m <= LEARNED_PIXEL_M[1]:
        return MODEL_FILE
    if LEARNED_FINE_PIXEL_M[0] <= pixel_m <= LEARNED_FINE_PIXEL_M[1]:
        return FINE_MODEL_FILE
    return None


def learned_applies(bands: Sequence[str], pixel_m: float) -> bool:
    """Whether a learned score is used on a pair of these compared ``bands`` (lower-case names) at ``pixel_m``."""
    return learned_model_file(bands, pixel_m) is not None


@lru_cache(maxsize=2)
def model(file: str = MODEL_FILE) -> dict[str, Any]:
    """The shipped trees of ``file`` (:data:`MODEL_FILE` or :data:`FINE_MODEL_FILE`, with their ``cut``), read once."""
    from ..detect.sar_candidates import read_packaged_model

    return read_packaged_model(file, FEATURES, _TRAINED_BY[file])


@dataclass(frozen=True)
class SceneScales:
    """The scene-wide quantities of the features (module docstring): per date the stretch's offset and
    gain, the earlier date's stretched band means and spreads and the later date's, each band's
    difference spread, and each stretched band's median (the value of pixels not compared)."""

    offset: tuple[float, float]
    gain: tuple[float, float]
    mean: tuple[NDArray[np.float64], NDArray[np.float64]]
    sd: tuple[NDArray[np.float64], NDArray[np.float64]]
    diff_sd: NDArray[np.float64]
    median: tuple[NDArray[np.float64], NDArray[np.float64]]


def _stretch(x: NDArray[np.float64]) -> tuple[float, float]:
    lo, hi = np.percentile(x, [0.1, 99.9])
    return float(lo), 1.0 / max(float(hi - lo), 1e-9)


def scene_scales(before: Any, after: Any, ok: NDArray[np.bool_], visible: Sequence[int], blocks: RowBlocks = DEFAULT_BLOCKS) -> SceneScales:
    """:class:`SceneScales` from an even sample of the ``ok`` pixels of ``before`` and ``after`` (bands × rows ×
    cols arrays or row readers), ``visible`` the indexes of blue, green and red."""
    height, width = ok.shape
    n_ok = int(ok.sum())
    spans = blocks.spans(height, width)
    sample = _sample(ok, max(1, n_ok // _SAMPLE), spans)
    vb = np.empty((len(visible), sample.size))
    va = np.empty((len(visible), sample.size))
    taken = 0
    for r0, r1 in spans:
        lo, hi = np.searchsorted(sample, [r0 * width, r1 * width])
        local = sample[lo:hi] - r0 * width
        bx, ax = _rows(before, r0, r1), _rows(after, r0, r1)
        for i, k in enumerate(visible):
            vb[i, taken : taken + local.size] = bx[k].ravel()[local]
            va[i, taken : taken + local.size] = ax[k].ravel()[local]
        taken += local.size
    ob, gb = _stretch(vb)
    oa, ga = _stretch(va)
    sb, sa = (vb - ob) * gb, (va - oa) * ga
    mb, ma = sb.mean(axis=1), sa.mean(axis=1)
    db, da = sb.std(axis=1) + 1e-6, sa.std(axis=1) + 1e-6
    matched = (sa - ma[:, None]) / da[:, None] * db[:, None] + mb[:, None]
    d = matched - sb
    med = np.median(d, axis=1)
    diff_sd = 1.4826 * np.median(np.abs(d - med[:, None]), axis=1) + 1e-4
    return SceneScales((ob, oa), (gb, ga), (mb, ma), (db, da), diff_sd, (np.median(sb, axis=1), np.median(matched, axis=1)))


def _window_features(
    bx: NDArray[Any], ax: NDArray[Any], okx: NDArray[np.bool_], z: NDArray[np.float64], brightness: NDArray[np.float64],
    scales: SceneScales, visible: Sequence[int], n_bands: int, space: NDArray[np.float32] | None = None,
) -> NDArray[np.float32]:  # fmt: skip
    """:data:`FEATURES` of every pixel of a window of rows (bands × rows × cols of each date, the compared
    pixels, :mod:`.optical`'s statistic and brightness change on the same rows), features × pixels (float32,
    each feature's row written as it is computed: 116 bytes a pixel, no other copy), in ``space`` when given
    (a features × at least as many pixels array, used again block after block: memory touched once)."""
    from scipy import ndimage

    out = np.empty((len(FEATURES), okx.size), np.float32) if space is None else space[:, : okx.size]
    row = iter(range(len(FEATURES)))

    def put(*values: NDArray[np.float64]) -> None:
        for v in values:
            out[next(row)] = v.ravel()

    def mean(v: NDArray[np.float64], size: int) -> NDArray[np.float64]:
        return ndimage.uniform_filter(v, size, mode="reflect")

    a = np.empty((len(visible), *okx.shape))
    b = np.empty_like(a)
    for i, k in enumerate(visible):
        a[i] = np.where(okx, (bx[k].astype(np.float64) - scales.offset[0]) * scales.gain[0], scales.median[0][i])
        s = (ax[k].astype(np.float64) - scales.offset[1]) * scales.gain[1]
        s = (s - scales.mean[1][i]) / scales.sd[1][i] * scales.sd[0][i] + scales.mean[0][i]
        b[i] = np.where(okx, s, scales.median[1][i])
    length = np.zeros(okx.shape)
    for i in range(len(visible)):
        dz = (b[i] - a[i]) / scales.diff_sd[i]
        d3 = mean(dz, 3)
        length += d3 * d3
        put(a[i], b[i], d3, mean(dz, 7))
    np.sqrt(length, out=length)
    put(length, mean(length, 7), mean(length, 15), mean(length, 31))
    ga, gb = a.mean(axis=0), b.mean(axis=0)
    textures = []
    for g in (ga, gb):
        m1 = mean(g, 3)
        textures.append(np.sqrt(np.maximum(mean(g * g, 3) - m1 * m1, 0.0)))
    put(textures[0], textures[1], textures[1] - textures[0])
    ea = 2 * a[1] - a[0] - a[2]
    eb = 2 * b[1] - b[0] - b[2]
    put(ea, eb - ea, ga, gb)
    stat = np.sqrt(np.where(okx, np.nan_to_num(z), 0.0) / n_bands)
    bright = np.where(okx, np.nan_to_num(brightness), 0.0)
    put(stat, bright, mean(stat, 7), mean(stat, 15), mean(stat, 31), mean(bright, 7))
    assert next(row, None) is None, "every feature written"
    return out


def pair_features(
    before: NDArray[np.floating], after: NDArray[np.floating], ok: NDArray[np.bool_], visible: Sequence[int], statistics: dict[str, Any],
) -> NDArray[np.float32]:  # fmt: skip
    """:data:`FEATURES` of every pixel of a whole pair at once (pixels × features, the grid's order: a view of a
    features × pixels array), as :func:`learned_blocks` computes them a block at a time: what the model is
    trained on."""
    z = np.full(ok.shape, np.nan)
    brightness = np.full(ok.shape, np.nan)
    for r0, r1, zb, _, bb in optical_blocks(before, after, ok, **statistics):
        z[r0:r1], brightness[r0:r1] = zb, bb
    scales = scene_scales(before, after, ok, visible, statistics.get("blocks", DEFAULT_BLOCKS))
    return _window_features(before, after, ok, z, brightness, scales, visible, before.shape[0]).T


_CHUNK = 1 << 18
"""Pixels scored by the trees at a time (their working arrays are a few bytes a pixel each)."""


def learned_blocks(
    before: Any, after: Any, ok: NDArray[np.bool_], visible: Sequence[int], statistics: dict[str, Any], file: str = MODEL_FILE,
) -> Iterator[tuple[int, int, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]]:  # fmt: skip
    """:func:`.optical.optical_blocks`' blocks, top to bottom, each with the learned score of its pixels:
    ``(r0, r1, score, z, brightness)`` (score NaN where not compared), by the shipped trees of ``file`` (:func:`model`).
    A block is scored once the blocks after it have given the :data:`HALO` rows its windows need, so at most
    a few blocks' values are held at a time."""
    m = model(file)
    height = ok.shape[0]
    n_bands = before.shape[0]
    scales = scene_scales(before, after, ok, visible, statistics.get("blocks", DEFAULT_BLOCKS))
    held: list[tuple[int, int, NDArray[np.float64], NDArray[np.float64]]] = []
    queue: list[tuple[int, int]] = []
    spans = statistics.get("blocks", DEFAULT_BLOCKS).spans(*ok.shape)
    widest = max(min(height, r1 + HALO) - max(0, r0 - HALO) for r0, r1 in spans) if spans else 0
    space = np.empty((len(FEATURES), widest * ok.shape[1]), np.float32)

    def rows(brightness: bool, a: int, b: int) -> NDArray[np.float64]:
        """Rows ``a`` to ``b`` of the held statistic, or of the brightness change."""
        return np.concatenate([(h[3] if brightness else h[2])[max(a, h[0]) - h[0] : min(b, h[1]) - h[0]] for h in held if h[1] > a and h[0] < b])

    def scored(r0: int, r1: int) -> tuple[int, int, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        ea, eb = max(0, r0 - HALO), min(height, r1 + HALO)
        okx = ok[ea:eb]
        z, br = rows(False, ea, eb), rows(True, ea, eb)
        x = _window_features(_rows(before, ea, eb), _rows(after, ea, eb), okx, z, br, scales, visible, n_bands, space)
        x = x[:, (r0 - ea) * ok.shape[1] : (r1 - ea) * ok.shape[1]]
        n = x.shape[1]
        p = np.concatenate([tree_probability(x[:, i : i + _CHUNK].T, m) for i in range(0, n, _CHUNK)]) if n else np.zeros(0)
        p = p.reshape(r1 - r0, ok.shape[1])
        p[~ok[r0:r1]] = np.nan
        return r0, r1, p, z[r0 - ea : r1 - ea], br[r0 - ea : r1 - ea]

    for r0, r1, z, _, br in optical_blocks(before, after, ok, **statistics):
        held.append((r0, r1, z, br))
        queue.append((r0, r1))
        while queue and r1 >= min(height, queue[0][1] + HALO):
            q0, q1 = queue.pop(0)
            yield scored(q0, q1)
            nxt = queue[0][0] if queue else height
            held = [h for h in held if h[1] > nxt - HALO]
    while queue:
        q0, q1 = queue.pop(0)
        yield scored(q0, q1)
