"""Hulls moored abreast split, and hull pieces joined, by the chip's own typical ship (5 Dec, `pairs`).

Two label-free rules on the 8-bit rendering detector's kept candidates (:mod:`sitewatch.detect.sar_render`),
both judged against the size of the ships the same chip is sure of: the *typical* width and length are the
medians of the unweighted moment width and length (``sqrt(12 variance) + 1`` px, as the candidate features
``log_length_px`` and ``elongation`` measure them) of the chip's first-pass candidates scored at least
:attr:`~sitewatch.detect.sar_render.RenderParams.sure_score`, when there are at least
:attr:`~sitewatch.detect.sar_render.RenderParams.min_sure` of them (else neither rule acts):
:func:`sitewatch.detect.sar_render.typical_hull`.

The join (rule 2) shipped in sar-cfar 1.13.0 and lives in the package
(:func:`sitewatch.detect.sar_render.joined_pieces`, its constants in
:class:`~sitewatch.detect.sar_render.RenderParams`); this module keeps the split, which did not ship, and
the pixel moments the benchmark's variants hand to the join (:func:`pixel_moments`: a split part has no
moments of the pass's own).

1. **Split** (:func:`split_pairs`). A kept candidate about twice as wide as the chip's ships (moment width
   within :attr:`PairRule.wide` times the typical width) is cut in two along one of its axes when each part is
   about one ship wide in the cutting direction and the mean despeckled grey level across the cut has two
   ridges with a dip between them. Both axes are tried: two hulls abreast are longer than wide together when
   the hulls are long (cut along the long axis) and wider than long when they are short (cut across it); a
   single hull is never as wide as two, so it is not considered, and a single long hull's halves along its
   length are far wider than a ship in that direction. The parts keep the candidate's score.
2. **Join** (:func:`sitewatch.detect.sar_render.joined_pieces`, shipped in 1.13.0). A kept detection is
   dropped as a piece of a larger kept one when its centroid lies in the larger one's box lengthened by both
   half-lengths plus 4 px, across within the wider half-width plus 1 px (3 Dec's geometry), **and** the two
   together look like one hull of the chip's typical size (their pixels' moment width at most 1.4, length at
   most 1.5 times typical), **and** the smaller is not hull-shaped on its own (its moment length under 0.6
   typical lengths). Two ships moored end to end are each a hull, and together twice as long as one: neither
   test joins them. The two parts of one split are never joined (``apart``).

Every constant was fixed before the first scored run (commit "Pair split and typical-hull join rules, constants
fixed before scoring"); they are round values, not fitted. The join's moved to
:class:`~sitewatch.detect.sar_render.RenderParams` unchanged (``sure_score`` 0.9, ``min_sure`` 3,
``join_width`` 1.4, ``join_length`` 1.5, ``piece_length`` 0.6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from sitewatch.detect.sar_render import RenderParams, _block_background


@dataclass(frozen=True)
class PairRule:
    """Constants of the split rule (fixed before scoring; the typical ship and the join's are
    :class:`~sitewatch.detect.sar_render.RenderParams`')."""

    wide: tuple[float, float] = (1.5, 2.6)
    """A candidate whose moment width is within these multiples of the typical width may be two hulls abreast."""
    part: tuple[float, float] = (0.6, 1.4)
    """Each part's moment size in the cutting direction must lie within these multiples of the typical width."""
    dip: float = 0.15
    """Across the cut, the lower ridge's mean grey level stands at least this share of its height over the
    background above the dip between the ridges."""


def pixel_moments(rows: NDArray[np.integer], cols: NDArray[np.integer]) -> NDArray[np.float64]:
    """One row of :func:`~sitewatch.detect.sar_render.joined_pieces`' ``moments`` for the pixels ``(rows, cols)``:
    count, centroid row and col, unweighted central second moments row-row, col-col, row-col (pixels)."""
    r, c = np.asarray(rows, np.float64), np.asarray(cols, np.float64)
    dr, dc = r - r.mean(), c - c.mean()
    return np.array([r.size, r.mean(), c.mean(), (dr * dr).mean(), (dc * dc).mean(), (dr * dc).mean()])


def _moments(r: NDArray[np.float64], c: NDArray[np.float64]) -> tuple[float, float, NDArray[np.float64], NDArray[np.float64]]:
    """Moment length and width (``sqrt(12 variance) + 1``) and the unit long and short axes (row, col)."""
    cov = np.cov(np.vstack([r, c]), bias=True)
    val, vec = np.linalg.eigh(cov)
    return math.sqrt(12 * max(val[1], 0.0)) + 1, math.sqrt(12 * max(val[0], 0.0)) + 1, vec[:, 1], vec[:, 0]


def _size_along(r: NDArray[np.float64], c: NDArray[np.float64], d: NDArray[np.float64]) -> float:
    t = r * d[0] + c * d[1]
    return math.sqrt(12 * float(t.var())) + 1


def _best_cut(
    r: NDArray[np.float64], c: NDArray[np.float64], vs: NDArray[np.float64], bg: float, d: NDArray[np.float64], typ_w: float, rule: PairRule, min_px: int
) -> tuple[float, NDArray[np.bool_]] | None:
    """The cut across direction ``d`` (relative dip depth, left-part mask) that passes the part and ridge tests."""
    t = r * d[0] + c * d[1]
    b = np.floor(t - t.min()).astype(np.int64)
    nb = int(b.max()) + 1
    if nb < 3:
        return None
    cnt = np.bincount(b, minlength=nb)
    prof = np.bincount(b, vs, minlength=nb) / np.maximum(cnt, 1)
    best: tuple[float, int] | None = None
    for k in range(1, nb - 1):
        if cnt[k] == 0:
            continue
        left = b < k
        nl = int(left.sum())
        if nl < min_px or r.size - nl < min_px:
            continue
        sl, sr = _size_along(r[left], c[left], d), _size_along(r[~left], c[~left], d)
        if not all(rule.part[0] * typ_w <= s <= rule.part[1] * typ_w for s in (sl, sr)):
            continue
        lo_l, lo_r = prof[:k][cnt[:k] > 0], prof[k + 1 :][cnt[k + 1 :] > 0]
        if not lo_l.size or not lo_r.size:
            continue
        ridge = min(float(lo_l.max()), float(lo_r.max()))
        if ridge <= bg:
            continue
        depth = (ridge - float(prof[k])) / (ridge - bg)
        if depth >= rule.dip and (best is None or depth > best[0]):
            best = (depth, k)
    if best is None:
        return None
    return best[0], b < best[1]


def split_pairs(
    image: NDArray[np.generic],
    lab: NDArray[np.int32],
    keep: NDArray[np.int64],
    typ: tuple[float, float] | None,
    p: RenderParams,
    rule: PairRule | None = None,
    inline: bool = False,
) -> tuple[NDArray[np.int32], list[tuple[int, int]]]:
    """``lab`` with each kept candidate that is two hulls abreast cut in two (module docstring, rule 1): the part
    on one side keeps the label, the other gets a new one. Returns the new labels and ``(kept index, new label)``
    per split (index 0-based as ``keep``'s entries).

    ``inline`` (rule 1b, designed after the held-out diagnosis of P0119, ``--diagnose-pairs``: 17 of its 19 misses
    are merged end to end): the same rule turned by 90 degrees with the same constants, a candidate about twice
    as long as the chip's ships (moment length within :attr:`PairRule.wide` typical lengths) cut across its long
    axis when each part is about one ship long and the profile along it has two ridges."""
    rule = rule or PairRule()
    if typ is None or not keep.size:
        return lab, []
    typ_w = typ[1] if inline else typ[0]
    v = np.asarray(image, dtype=np.float32)
    med, *_ = _block_background(v, p)
    vs = ndimage.median_filter(v, p.despeckle_px, mode="reflect") if p.despeckle_px > 1 else v
    out = lab.copy()
    nxt = int(lab.max()) + 1
    splits: list[tuple[int, int]] = []
    objs = ndimage.find_objects(lab)
    for i in keep:
        sl = objs[int(i)]
        if sl is None:
            continue
        own = lab[sl] == i + 1
        rr, cc = np.nonzero(own)
        if rr.size < 2 * p.min_area_px:
            continue
        r, c = rr.astype(np.float64), cc.astype(np.float64)
        length, width, ax_long, ax_short = _moments(r, c)
        if not rule.wide[0] * typ_w <= (length if inline else width) <= rule.wide[1] * typ_w:
            continue
        vals = vs[sl][own].astype(np.float64)
        bg = float(med[sl][own].mean())
        axes = (ax_long,) if inline else (ax_short, ax_long)
        cuts = [x for d in axes if (x := _best_cut(r, c, vals, bg, d, typ_w, rule, p.min_area_px)) is not None]
        if not cuts:
            continue
        _, left = max(cuts, key=lambda x: x[0])
        sub = out[sl]
        sub[rr[~left], cc[~left]] = nxt
        splits.append((int(i), nxt))
        nxt += 1
    return out, splits


def split_verdict(
    image: NDArray[np.generic], lab: NDArray[np.int32], i: int, typ: tuple[float, float], p: RenderParams, rule: PairRule | None = None
) -> str:
    """Why candidate ``i`` (0-based) is or is not split (diagnosis only): the width gate, or per axis the
    parts' sizes and the deepest dip among cuts whose parts pass (or the deepest at all)."""
    rule = rule or PairRule()
    v = np.asarray(image, dtype=np.float32)
    med, *_ = _block_background(v, p)
    vs = ndimage.median_filter(v, p.despeckle_px, mode="reflect")
    rr, cc = np.nonzero(lab == i + 1)
    r, c = rr.astype(np.float64), cc.astype(np.float64)
    length, width, ax_long, ax_short = _moments(r, c)
    head = f"W/w {width / typ[0]:.2f} L/L {length / typ[1]:.2f}"
    if not rule.wide[0] * typ[0] <= width <= rule.wide[1] * typ[0]:
        return head + ": width gate"
    vals, bg = vs[rr, cc].astype(np.float64), float(med[rr, cc].mean())
    said = []
    for name, d in (("across", ax_short), ("along", ax_long)):
        loose = PairRule(part=(0.0, np.inf), dip=-np.inf)
        any_cut = _best_cut(r, c, vals, bg, d, typ[0], loose, p.min_area_px)
        parts_ok = _best_cut(r, c, vals, bg, d, typ[0], PairRule(part=rule.part, dip=-np.inf), p.min_area_px)
        said.append(
            f"{name}: deepest dip {any_cut[0]:.2f}" if any_cut else f"{name}: no cut"
        )
        said[-1] += f", with parts one ship wide {parts_ok[0]:.2f}" if parts_ok else ", no cut with parts one ship wide"
    return head + ": " + "; ".join(said)
