"""Hulls moored abreast split, and hull pieces joined, by the chip's own typical ship (5 Dec, `pairs`).

Two label-free rules on the 8-bit rendering detector's kept candidates (:mod:`sitewatch.detect.sar_render`),
both judged against the size of the ships the same chip is sure of: the *typical* width and length are the
medians of the unweighted moment width and length (``sqrt(12 variance) + 1`` px, as the candidate features
``log_length_px`` and ``elongation`` measure them) of the chip's first-pass candidates scored at least
:attr:`PairRule.confident`, when there are at least :attr:`PairRule.min_typical` of them (else neither rule acts).

1. **Split** (:func:`split_pairs`). A kept candidate about twice as wide as the chip's ships (moment width
   within :attr:`PairRule.wide` times the typical width) is cut in two along one of its axes when each part is
   about one ship wide in the cutting direction and the mean despeckled grey level across the cut has two
   ridges with a dip between them. Both axes are tried: two hulls abreast are longer than wide together when
   the hulls are long (cut along the long axis) and wider than long when they are short (cut across it); a
   single hull is never as wide as two, so it is not considered, and a single long hull's halves along its
   length are far wider than a ship in that direction. The parts keep the candidate's score.
2. **Join** (:func:`joined_typical`). A kept detection is dropped as a piece of a larger kept one when its
   centroid lies in the larger one's box lengthened by both half-lengths plus 4 px, across within the wider
   half-width plus 1 px (3 Dec's geometry), **and** the two together look like one hull of the chip's typical
   size (their pixels' moment width at most :attr:`PairRule.join_width`, length at most
   :attr:`PairRule.join_length` times typical), **and** the smaller is not hull-shaped on its own (its moment
   length under :attr:`PairRule.piece_length` typical lengths). Two ships moored end to end are each a hull,
   and together twice as long as one: neither test joins them. The two parts of one split are never joined.

Every constant was fixed before the first scored run (commit "Pair split and typical-hull join rules, constants
fixed before scoring"); they are round values, not fitted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from sitewatch.detect.sar_render import RENDER_FEATURES, RenderParams, _block_background


@dataclass(frozen=True)
class PairRule:
    """Constants of the split and join rules (fixed before scoring)."""

    confident: float = 0.9
    """A first-pass candidate scored at least this is one of the chip's sure ships (the typical size)."""
    min_typical: int = 3
    """At least this many sure ships, else no typical size and neither rule acts on the chip."""
    wide: tuple[float, float] = (1.5, 2.6)
    """A candidate whose moment width is within these multiples of the typical width may be two hulls abreast."""
    part: tuple[float, float] = (0.6, 1.4)
    """Each part's moment size in the cutting direction must lie within these multiples of the typical width."""
    dip: float = 0.15
    """Across the cut, the lower ridge's mean grey level stands at least this share of its height over the
    background above the dip between the ridges."""
    join_width: float = 1.4
    """Join: the two pieces together at most this many typical widths wide..."""
    join_length: float = 1.5
    """...and at most this many typical lengths long..."""
    piece_length: float = 0.6
    """...and the smaller piece shorter than this many typical lengths (not a hull on its own)."""


def typical_size(feats: NDArray[np.float64], prob: NDArray[np.float64], rule: PairRule) -> tuple[float, float] | None:
    """(width, length) in pixels: medians over the candidates scored at least ``rule.confident`` (``None``: too few)."""
    if not len(feats):
        return None
    sure = prob >= rule.confident
    if int(sure.sum()) < rule.min_typical:
        return None
    length = np.exp(feats[sure, RENDER_FEATURES.index("log_length_px")])
    width = length / feats[sure, RENDER_FEATURES.index("elongation")]
    return float(np.median(width)), float(np.median(length))


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


def joined_typical(
    dets: list,
    pixels: list[tuple[NDArray[np.int64], NDArray[np.int64]]],
    typ: tuple[float, float] | None,
    siblings: set[frozenset[int]] | None = None,
    rule: PairRule | None = None,
) -> list[int]:
    """Indices of ``dets`` (pixel units: ``length_m`` in px) kept after dropping pieces of a larger kept one
    (module docstring, rule 2); ``pixels`` holds each detection's (rows, cols); ``siblings`` the index pairs of
    the two parts of one split (never joined)."""
    rule = rule or PairRule()
    if typ is None or len(dets) < 2:
        return list(range(len(dets)))
    typ_w, typ_l = typ
    siblings = siblings or set()
    order = sorted(range(len(dets)), key=lambda i: -dets[i].area_px)
    kept: list[int] = []
    for i in order:
        b = dets[i]
        rb, cb = (x.astype(np.float64) for x in pixels[i])
        piece = False
        if _moments(rb, cb)[0] < rule.piece_length * typ_l if rb.size > 1 else True:
            for j in kept:
                if frozenset((i, j)) in siblings:
                    continue
                a = dets[j]
                t = math.radians(a.heading_deg)
                dr, dc = b.row - a.row, b.col - a.col
                along = -dr * math.cos(t) + dc * math.sin(t)
                across = dr * math.sin(t) + dc * math.cos(t)
                if abs(along) > a.length_m / 2 + b.length_m / 2 + 4 or abs(across) > max(a.width_m, b.width_m) / 2 + 1:
                    continue
                ra, ca = (x.astype(np.float64) for x in pixels[j])
                length, width, _, _ = _moments(np.concatenate([ra, rb]), np.concatenate([ca, cb]))
                if width <= rule.join_width * typ_w and length <= rule.join_length * typ_l:
                    piece = True
                    break
        if not piece:
            kept.append(i)
    return sorted(kept)


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
