"""Vessels in 8-bit display renderings of SAR images (PNG/JPEG chips), in pixel units.

An 8-bit SAR chip is a *rendering*: amplitude or dB, stretched and clipped by whoever
made it (sea quantised to 0, ships saturated at 255), and its pixel size is rarely
stated. The metric CFAR of :mod:`sitewatch.detect.sar` depends on both (its blocks,
guard and background rings and size limits are in metres), so on such chips at a
nominal pixel size it found a candidate for only a quarter of the labelled ships.
This detector works on the grey values as they are and in pixels:

1. **Background, per block.** Median and 90th percentile of 8 × 8 pixel blocks, each
   smoothed by a median over 9 × 9 blocks (72 px: wider than the ships of these chips,
   so a cluster of ships does not lift its own background); the spread is their
   difference. The chip's water level is the 10th percentile of the block medians.
2. **Candidates.** Hysteresis on the image despeckled by a 3 × 3 median (fine-resolution
   hulls are speckle, dark pixels between bright ones, and would fall apart into fragments
   that each count as a false alarm): a component of pixels above
   ``median + max(1.5 spread, 20)`` holding one above ``median + max(3 spread, 40)`` (grey
   levels), at least 6 pixels. Grey values for the features and the measurement are the
   original ones.
3. **Ship or clutter.** Gradient-boosted depth-2 trees (numpy inference; weights in
   ``sitewatch/data/sar_render_gb.json``, trained by ``benchmarks/sar_render_train.py``
   on the SAR-Ship-Dataset and HRSID samples and OpenSARShip's own 8-bit renderings) over
   :data:`RENDER_FEATURES`, the mean score of 16 boosted models each of which also saw every
   training chip re-rendered at two display gammas drawn from 0.5-2 (a rendering's stretch is
   the renderer's choice; trees fitted on a few chips' stretches alone found dim ships at some
   gammas and none at others): the
   candidate's size and shape in pixels, its contrast, saturation, and its context
   (how far its background and the 25/65 px neighbourhood lie above the chip's water:
   land clutter sits on bright textured ground, ships on dark water), and the ring of
   pixels around it outside any candidate, in units of the chip's sea noise (the display
   stretch differs between renderings; noise units make contrast comparable across them).
4. **A second look without the kept ships.** In a crowded anchorage most 8-px blocks hold
   some hull pixels, which lift their 90th percentile: the seed level there rises and only each
   hull's saturated core, or nothing, stays a candidate, small and scored low. So the kept
   candidates (dilated by a pixel) are replaced by water (the smoothed block median plus speckle
   drawn from the chip's darkest fifth of blocks) and steps 1-3 run again on that image; what
   they keep is added, unless it lies within 2 px of a kept candidate (the rest of that hull,
   not another ship). This is a censored CFAR's idea, censoring only what the trees kept: land
   clutter they dropped stays in the background, so the land's levels do not fall.
5. **Measure.** Oriented box from the pixels' second moments; length and width are
   ``sqrt(12 · variance)`` of the pixel positions weighted by grey level above the
   background (as :func:`sitewatch.detect.sar.size_from_features`), times the pixel size.
6. **Pieces joined by the chip's typical ship** (sar-cfar 1.13.0). The hysteresis sometimes
   leaves a hull in two kept pieces, each counted as a vessel. The chip's *typical* ship is the
   median moment width and length (``sqrt(12 variance) + 1`` px, unweighted) of its first-pass
   candidates the trees are sure of (scored at least :attr:`RenderParams.sure_score`, at least
   :attr:`RenderParams.min_sure` of them; else nothing is joined). In order of area, a kept
   detection is dropped as a piece of a larger kept one when its centroid lies in the larger one's
   box lengthened by both half-lengths plus 4 px and across within the wider half-width plus 1 px,
   the two together measure at most 1.4 typical widths and 1.5 typical lengths, and the smaller is
   under 0.6 typical lengths: not a hull on its own, so ships moored end to end stay two
   (:func:`joined_pieces`; BENCHMARKS.md, "Hulls abreast split and hull pieces joined").
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from ..errors import InputError
from ..trees import tree_probability
from .base import PixelDetection, detections_from_measurements, measure_components, pixel_size_pair
from .sar_candidates import read_packaged_model

__all__ = [
    "RENDER_FEATURES",
    "RENDER_MODEL_FILE",
    "RenderParams",
    "detect_rendering",
    "joined_pieces",
    "render_probability",
    "rendering_candidates",
    "typical_hull",
]

RENDER_MODEL_FILE = "sar_render_gb.json"

RENDER_FEATURES = (
    "log_area_px",
    "elongation",
    "fill",
    "contrast_mean",
    "contrast_peak",
    "saturated",
    "background_over_water",
    "block_over_water",
    "bright_25px",
    "bright_65px",
    "spread_over_background",
    "mean_over_background",
    "log_length_px",
    "ring_low_over_water",
    "ring_median_over_water",
    "mean_over_ring",
    "ring_occupied",
    "peak_over_ring_spread",
    "log_sea_noise",
)
"""Inputs of the ship/clutter trees, in this order (see :func:`rendering_candidates`)."""


@dataclass(frozen=True)
class RenderParams:
    """Parameters of the rendering detector (grey levels and pixels; one set for every chip)."""

    block_px: int = 8
    """Side of the blocks whose median and 90th percentile make the background."""
    smooth_blocks: int = 9
    """The block statistics are smoothed by a median over this many blocks square."""
    k_seed: float = 3.0
    """A seed pixel lies this many spreads above the background median..."""
    seed_min: float = 40.0
    """...and at least this many grey levels."""
    k_grow: float = 1.5
    """A component grows through pixels this many spreads above the background median..."""
    grow_min: float = 20.0
    """...and at least this many grey levels."""
    min_area_px: int = 6
    """Smallest candidate."""
    despeckle_px: int = 3
    """Side of the median filter applied before the hysteresis (1: none)."""
    cut: float | None = None
    """Keep candidates the trees score at least this high; ``None``: the model file's cut."""
    second_pass: bool = True
    """Look again at the chip with the kept candidates replaced by water (module docstring, step 4)."""
    join_pieces: bool = True
    """Drop a kept detection that is a piece of a larger kept one, judged by the chip's typical ship
    (module docstring, step 6; :func:`joined_pieces`). The constants below were fixed before the rule
    was first scored (``benchmarks/_sar_pairs.py``, 5 Dec) and not changed after."""
    sure_score: float = 0.9
    """A first-pass candidate scored at least this is one of the chip's sure ships: the typical ship's
    width and length are the medians of theirs (:func:`typical_hull`)..."""
    min_sure: int = 3
    """...when the chip has at least this many, else it has no typical ship and nothing is joined."""
    join_reach_px: float = 4.0
    """A piece's centroid lies within the larger detection's box lengthened at each end by the piece's
    half-length plus this many pixels..."""
    join_across_px: float = 1.0
    """...and across its axis within the wider one's half-width plus this many pixels (3 Dec's geometry)..."""
    join_width: float = 1.4
    """...the two pieces' pixels together are at most this many typical widths wide (moment width)..."""
    join_length: float = 1.5
    """...and at most this many typical lengths long (one hull of the chip's typical size, not two)..."""
    piece_length: float = 0.6
    """...and the smaller one is shorter than this many typical lengths (moment length): not a hull on
    its own. Two ships moored end to end are each a hull, and together twice as long as one."""

    def __post_init__(self) -> None:
        if self.block_px < 2 or self.smooth_blocks < 1 or self.despeckle_px < 1:
            raise InputError("need block_px >= 2, smooth_blocks >= 1 and despeckle_px >= 1")
        if not 0 < self.k_grow <= self.k_seed:
            raise InputError("need 0 < k_grow <= k_seed")
        if self.min_sure < 1 or min(self.join_width, self.join_length, self.piece_length) <= 0:
            raise InputError("need min_sure >= 1 and join_width, join_length, piece_length > 0")


def _block_background(v: NDArray[np.float32], p: RenderParams) -> tuple[NDArray[np.float32], NDArray[np.float32], float, NDArray[np.float32], float]:
    """Smoothed block median and 90th percentile at pixel resolution, the water level, raw block
    medians, and the sea noise (median spread of the darkest fifth of the blocks, at least 2)."""
    b = p.block_px
    h, w = v.shape
    hb, wb = -(-h // b), -(-w // b)
    pad = np.pad(v, ((0, hb * b - h), (0, wb * b - w)), mode="reflect")
    blocks = pad.reshape(hb, b, wb, b).transpose(0, 2, 1, 3).reshape(hb, wb, b * b)
    med, q90 = np.percentile(blocks, [50, 90], axis=2)
    water = float(np.percentile(med, 10))
    dark = med <= np.percentile(med, 20)
    noise = max(float(np.median(q90[dark] - med[dark])), 2.0)
    meds = ndimage.median_filter(med, p.smooth_blocks, mode="reflect")
    q90s = ndimage.median_filter(q90, p.smooth_blocks, mode="reflect")

    def up(a: NDArray[Any]) -> NDArray[np.float32]:
        return np.repeat(np.repeat(a.astype(np.float32), b, 0), b, 1)[:h, :w]

    return up(meds), up(q90s), water, up(med), noise


def _ring_features(v: NDArray[np.float32], lab: NDArray[np.int32], length: NDArray[np.float64], water: float, noise: float) -> NDArray[np.float64]:
    """Per candidate, its surroundings: the pixels 3 to ``max(6, length)`` px from it that belong
    to no candidate. Columns: ring 25th percentile and median over the water level (sea noise
    units: near 0 on open sea, large on land), the candidate's mean over the ring median, the
    share of the ring taken by other candidates (a crowded anchorage or a built-up coast), the
    candidate's 90th percentile over the ring median in units of the ring's own spread, and
    the log of the sea noise (how coarse the rendering's grey levels are)."""
    out = np.zeros((int(lab.max()), 6))
    out[:, 5] = math.log(noise)
    taken = lab > 0
    h, w = v.shape
    for i, sl in enumerate(ndimage.find_objects(lab)):
        if sl is None:
            continue
        reach = int(max(6.0, length[i]))
        r1, r2 = max(sl[0].start - reach, 0), min(sl[0].stop + reach, h)
        c1, c2 = max(sl[1].start - reach, 0), min(sl[1].stop + reach, w)
        own = lab[r1:r2, c1:c2] == i + 1
        dist = ndimage.distance_transform_edt(~own)
        near = (dist > 2) & (dist <= reach)
        ring = near & ~taken[r1:r2, c1:c2]
        if ring.sum() < 5:
            continue
        sub = v[r1:r2, c1:c2]
        q25, q50, q90 = np.percentile(sub[ring], [25, 50, 90])
        inner = sub[own]
        out[i, :5] = (
            (q25 - water) / noise,
            (q50 - water) / noise,
            (float(inner.mean()) - q50) / noise,
            1.0 - ring.sum() / max(int(near.sum()), 1),
            (float(np.percentile(inner, 90)) - q50) / max(q90 - q25, 1.0),
        )
    return out


def rendering_candidates(
    image: NDArray[np.generic], params: RenderParams | None = None
) -> tuple[NDArray[np.int32], NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """Candidate labels, their feature rows (:data:`RENDER_FEATURES`) and per-candidate arrays.

    Returns ``(labels, features, extra)``: ``labels`` numbers the candidates 1..n in raster
    order of their first pixel; ``features`` has one row per candidate; ``extra`` holds the
    pixel-unit centroid (``row``, ``col``), the mean background grey level under each
    candidate (``background``), the grey-level weights image (``weights``, grey level
    above the background) used for the measurement, and each candidate's pixel count, centroid
    and unweighted second central moments (row-row, col-col, row-col) in pixels (``moments``,
    one row of 6 each: what the piece join, :func:`joined_pieces`, needs of its pixels).
    """
    p = params or RenderParams()
    v = np.asarray(image, dtype=np.float32)
    med, q90, water, bmed, noise = _block_background(v, p)
    spread = np.maximum(q90 - med, 1.0)
    vs = ndimage.median_filter(v, p.despeckle_px, mode="reflect") if p.despeckle_px > 1 else v
    seed = vs >= med + np.maximum(p.k_seed * spread, p.seed_min)
    grow = vs >= med + np.maximum(p.k_grow * spread, p.grow_min)
    lab, n = ndimage.label(grow, np.ones((3, 3), bool))
    has = np.zeros(n + 1, bool)
    has[lab[seed]] = True
    has[0] = False
    area_all = np.bincount(lab.ravel(), minlength=n + 1)
    has &= area_all >= p.min_area_px
    remap = (np.cumsum(has) * has).astype(np.int32)
    lab = remap[lab]
    n = int(has.sum())
    empty = np.zeros((0, len(RENDER_FEATURES)))
    if n == 0:
        return lab, empty, {"row": np.zeros(0), "col": np.zeros(0), "background": np.zeros(0), "weights": np.zeros_like(v), "moments": np.zeros((0, 6))}
    rr, cc = np.nonzero(lab)
    k = lab[rr, cc].astype(np.int64) - 1
    cnt = np.bincount(k, minlength=n).astype(np.float64)
    r0 = np.bincount(k, rr, n) / cnt
    c0 = np.bincount(k, cc, n) / cnt
    dr, dc = rr - r0[k], cc - c0[k]
    srr = np.bincount(k, dr * dr, n) / cnt
    scc = np.bincount(k, dc * dc, n) / cnt
    src = np.bincount(k, dr * dc, n) / cnt
    # Eigenvalues of the 2 × 2 covariance: the spreads along and across the long axis.
    mid = (srr + scc) / 2
    rad = np.sqrt(((srr - scc) / 2) ** 2 + src**2)
    length = np.sqrt(12 * np.maximum(mid + rad, 0)) + 1
    width = np.sqrt(12 * np.maximum(mid - rad, 0)) + 1
    vals = v[rr, cc].astype(np.float64)
    mk, sk = med[rr, cc].astype(np.float64), spread[rr, cc].astype(np.float64)
    contrast = (vals - mk) / sk
    peak = np.full(n, -np.inf)
    np.maximum.at(peak, k, contrast)
    mean_md = np.bincount(k, mk, n) / cnt
    mean_sp = np.bincount(k, sk, n) / cnt
    mean_v = np.bincount(k, vals, n) / cnt
    bright = (v >= water + p.grow_min).astype(np.float32)
    ri = np.clip(r0.astype(np.int64), 0, v.shape[0] - 1)
    ci = np.clip(c0.astype(np.int64), 0, v.shape[1] - 1)
    d25 = ndimage.uniform_filter(bright, 25, mode="reflect")[ri, ci] - cnt / 25**2
    d65 = ndimage.uniform_filter(bright, 65, mode="reflect")[ri, ci] - cnt / 65**2
    feats = np.column_stack(
        [
            np.log(cnt),
            length / width,
            cnt / (length * width),
            np.bincount(k, contrast, n) / cnt,
            peak,
            np.bincount(k, (vals >= 250).astype(np.float64), n) / cnt,
            np.log((mean_md + 1) / (water + 1)),
            np.log((bmed[ri, ci].astype(np.float64) + 1) / (water + 1)),
            d25,
            d65,
            np.log(mean_sp / (mean_md + 1)),
            np.log((mean_v + 1) / (mean_md + 1)),
            np.log(length),
            _ring_features(v, lab, length, water, noise),
        ]
    )
    weights = np.where(lab > 0, np.maximum(v - med, 0.0), 0.0)
    moments = np.column_stack([cnt, r0, c0, srr, scc, src])
    return lab, feats, {"row": r0, "col": c0, "background": mean_md, "weights": weights, "moments": moments}


@lru_cache(maxsize=1)
def _render_model() -> dict[str, Any]:
    return read_packaged_model(RENDER_MODEL_FILE, RENDER_FEATURES, "benchmarks/sar_render_train.py")


def render_probability(x: NDArray[np.float64], model: dict[str, Any] | None = None) -> NDArray[np.float64]:
    """Ship probability of each feature row under the boosted trees (``model`` or the shipped one;
    :func:`sitewatch.trees.tree_probability` says how the trees are read)."""
    return tree_probability(np.asarray(x, dtype=np.float64), model or _render_model())


def _without(v: NDArray[np.float32], lab: NDArray[np.int32], ids: NDArray[np.int64], p: RenderParams) -> NDArray[np.uint8]:
    """The rendering with the candidates ``ids`` (dilated by one pixel) replaced by water: the
    smoothed block median there plus speckle drawn (seed 0) from the pixels of the darkest fifth
    of the blocks, less their median."""
    med, _, _, bmed, _ = _block_background(v, p)
    gone = ndimage.binary_dilation(np.isin(lab, ids), np.ones((3, 3), bool))
    sea = v[bmed <= np.percentile(bmed, 20)]
    out = v.copy()
    out[gone] = med[gone] + np.random.default_rng(0).choice(sea - np.median(sea), int(gone.sum()))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _one_pass(
    image: NDArray[np.generic], p: RenderParams, model: dict[str, Any], cut: float
) -> tuple[NDArray[np.int32], NDArray[np.float64], dict[str, NDArray[np.float64]], NDArray[np.float64], NDArray[np.int64]]:
    """One pass: candidate labels, features, extra arrays, probabilities and the indices kept."""
    lab, feats, extra = rendering_candidates(image, p)
    prob = render_probability(feats, model) if len(feats) else np.zeros(0)
    return lab, feats, extra, prob, np.flatnonzero(prob >= cut)


def detect_rendering(
    image: NDArray[np.generic],
    pxy: tuple[float, float],
    params: RenderParams | None = None,
    model: dict[str, Any] | None = None,
    valid: NDArray[np.bool_] | None = None,
) -> list[tuple[PixelDetection, dict[str, float]]]:
    """Vessels in an 8-bit rendering; each with its feature values (and ``probability``).

    A vessel whose pixels lie on the image's edge or next to a pixel outside ``valid`` is
    ``truncated``. Those of the second pass (module docstring, step 4) follow the first's, less
    the pieces of larger ones (step 6), in the same order."""
    p = params or RenderParams()
    m_ = model or _render_model()
    cut = float(m_["cut"]) if p.cut is None else p.cut
    lab, feats, extra, prob, keep = _one_pass(image, p, m_, cut)
    found = _measured(lab, feats, extra, prob, keep, pxy, valid)
    moments = [extra["moments"][keep]]
    if p.second_pass and keep.size:
        again = _without(np.asarray(image, dtype=np.float32), lab, keep + 1, p)
        lab2, feats2, extra2, prob2, keep2 = _one_pass(again, p, m_, cut)
        # Within 2 px of a kept candidate lies the rest of its hull, not another ship.
        near = ndimage.binary_dilation(np.isin(lab, keep + 1), np.ones((5, 5), bool))
        keep2 = keep2[~np.isin(keep2 + 1, lab2[near])]
        found += _measured(lab2, feats2, extra2, prob2, keep2, pxy, valid)
        moments.append(extra2["moments"][keep2])
    if p.join_pieces and len(found) > 1:
        kept = joined_pieces([d for d, _ in found], np.vstack(moments), typical_hull(feats, prob, p), pxy, p)
        found = [found[i] for i in kept]
    return found


def typical_hull(feats: NDArray[np.float64], prob: NDArray[np.float64], params: RenderParams | None = None) -> tuple[float, float] | None:
    """The chip's typical ship, (width, length) in pixels: the medians of the moment width and length
    (``sqrt(12 variance) + 1``, unweighted, as the features ``elongation`` and ``log_length_px`` hold
    them) of the first-pass candidates ``feats`` scored ``prob`` at least :attr:`RenderParams.sure_score`;
    ``None`` when fewer than :attr:`RenderParams.min_sure` are (module docstring, step 6)."""
    p = params or RenderParams()
    if not len(feats):
        return None
    sure = np.asarray(prob) >= p.sure_score
    if int(sure.sum()) < p.min_sure:
        return None
    length = np.exp(feats[sure, RENDER_FEATURES.index("log_length_px")])
    width = length / feats[sure, RENDER_FEATURES.index("elongation")]
    return float(np.median(width)), float(np.median(length))


def _moment_size(srr: float, scc: float, src: float) -> tuple[float, float]:
    """Moment length and width, ``sqrt(12 variance) + 1`` along and across the long axis, of pixels
    whose central second moments are ``srr``, ``scc`` and ``src`` (the eigenvalues of their 2 × 2 matrix)."""
    mid = (srr + scc) / 2
    rad = math.sqrt(((srr - scc) / 2) ** 2 + src**2)
    return math.sqrt(12 * max(mid + rad, 0.0)) + 1, math.sqrt(12 * max(mid - rad, 0.0)) + 1


def _pooled(a: NDArray[np.float64], b: NDArray[np.float64]) -> tuple[float, float, float]:
    """Central second moments (row-row, col-col, row-col) of two pixel sets together, from each one's
    ``moments`` row (count, centroid row and col, its own three moments): no pixel is read again."""
    na, nb = float(a[0]), float(b[0])
    n = na + nb
    dr, dc, f = float(a[1] - b[1]), float(a[2] - b[2]), na * nb / (n * n)
    return (
        float(na * a[3] + nb * b[3]) / n + f * dr * dr,
        float(na * a[4] + nb * b[4]) / n + f * dc * dc,
        float(na * a[5] + nb * b[5]) / n + f * dr * dc,
    )


def joined_pieces(
    dets: Sequence[PixelDetection],
    moments: NDArray[np.float64],
    typical: tuple[float, float] | None,
    pxy: tuple[float, float],
    params: RenderParams | None = None,
    apart: Collection[frozenset[int]] = (),
) -> list[int]:
    """Indices of ``dets`` left, in order, after dropping the pieces of larger kept ones (module docstring,
    step 6): in order of ``area_px``, largest first, a detection goes when its moment length is under
    :attr:`RenderParams.piece_length` typical lengths and, for some larger one kept, its centroid lies
    within that one's box lengthened by both half-lengths plus :attr:`RenderParams.join_reach_px` px and
    across within the wider half-width plus :attr:`RenderParams.join_across_px` px, and their pixels
    together measure at most :attr:`RenderParams.join_width` typical widths and
    :attr:`RenderParams.join_length` typical lengths.

    ``moments`` holds a row per detection as :func:`rendering_candidates`' ``extra["moments"]`` (pixel
    count, centroid, unweighted central second moments, pixels); ``typical`` is
    :func:`typical_hull`'s (``None``: nothing joined); ``pxy`` the (x, y) pixel size the boxes were
    measured with (the box test runs in metres, its margins scaled by the pixel size; the sizes against
    the typical ship in pixels); ``apart`` index pairs never joined (two parts of a split, which
    ``benchmarks/_sar_pairs.py`` tries)."""
    p = params or RenderParams()
    if typical is None or len(dets) < 2:
        return list(range(len(dets)))
    typ_w, typ_l = typical
    px, py = pixel_size_pair(pxy)
    gpx = math.sqrt(px * py)
    order = sorted(range(len(dets)), key=lambda i: -dets[i].area_px)
    kept: list[int] = []
    for i in order:
        b, mb = dets[i], moments[i]
        piece = False
        if _moment_size(mb[3], mb[4], mb[5])[0] < p.piece_length * typ_l:
            for j in kept:
                if frozenset((i, j)) in apart:
                    continue
                a = dets[j]
                t = math.radians(a.heading_deg)
                dr, dc = (b.row - a.row) * py, (b.col - a.col) * px  # metres, rows down
                along = -dr * math.cos(t) + dc * math.sin(t)
                across = dr * math.sin(t) + dc * math.cos(t)
                if abs(along) > a.length_m / 2 + b.length_m / 2 + p.join_reach_px * gpx:
                    continue
                if abs(across) > max(a.width_m, b.width_m) / 2 + p.join_across_px * gpx:
                    continue
                length, width = _moment_size(*_pooled(moments[j], mb))
                if width <= p.join_width * typ_w and length <= p.join_length * typ_l:
                    piece = True
                    break
        if not piece:
            kept.append(i)
    return sorted(kept)


def _measured(
    lab: NDArray[np.int32],
    feats: NDArray[np.float64],
    extra: dict[str, NDArray[np.float64]],
    prob: NDArray[np.float64],
    keep: NDArray[np.int64],
    pxy: tuple[float, float],
    valid: NDArray[np.bool_] | None,
) -> list[tuple[PixelDetection, dict[str, float]]]:
    """The kept candidates of one pass measured (:func:`detect_rendering`)."""
    from .sar_size import _axis_variances, _box_corners  # shared measurement

    if keep.size == 0:
        return []
    ids = keep + 1
    m = measure_components(lab, ids, pxy)
    v_along, v_across = _axis_variances(extra["weights"], lab, ids, pxy, m["heading_deg"])
    gpx = math.sqrt(pxy[0] * pxy[1])
    length = np.maximum(np.sqrt(12.0 * v_along), gpx)
    width = np.minimum(np.maximum(np.sqrt(12.0 * v_across), gpx), length)
    sel = dict(m)
    sel["length_m"], sel["width_m"] = length, width
    sel["corners"] = _box_corners(m["row"], m["col"], m["heading_deg"], length, width, pxy)
    cut_off = np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    if valid is not None and not valid.all():
        cut_off = np.concatenate([cut_off, lab[ndimage.binary_dilation(~valid, np.ones((3, 3), bool))]])
    dets = detections_from_measurements(sel, prob[keep], truncated=np.isin(ids, cut_off))
    return [
        (d, {name: float(feats[i, j]) for j, name in enumerate(RENDER_FEATURES)} | {"probability": float(prob[i])})
        for d, i in zip(dets, keep, strict=True)
    ]
