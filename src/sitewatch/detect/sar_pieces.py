"""Pieces of SAR components that fail the vessel shape tests: cut again, and joined along a hull.

A hull joined to sidelobe streaks, azimuth smearing or a wake fails the shape tests as a
whole; :func:`_rescue` cuts it again at stricter levels and keeps the pieces that pass,
:func:`_join_pieces` and :func:`_join_along` join pieces of one hull back into one vessel
where no water shows between them (the test of :mod:`sitewatch.detect.sar_split`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .sar_shore import _label_joined
from .sar_size import _measure, _pixels
from .sar_split import _axes, _stepped_over, _water_bins

if TYPE_CHECKING:
    from .sar import SarParams


def _rescue(
    lab: NDArray[np.integer],
    nl: int,
    xs: NDArray[np.float32],
    levels: list[NDArray[np.bool_]],
    merge_px: int,
    pxy: tuple[float, float],
    p: SarParams,
    sea: Sea | None = None,
) -> tuple[NDArray[np.integer], NDArray[np.integer], dict[str, NDArray[np.float64]]]:
    """Components passing the vessel shape tests, giving failed ones more chances.

    A hull joined to sidelobe streaks, azimuth smearing or a wake fails the shape test as
    a whole (too wide, too long). Its pixels above a stricter threshold (``levels``, in
    order: the seed threshold, then fixed margins over the background) are labelled again
    and the pieces that pass kept. A component is done at the first level where the piece
    holding its brightest pixel (the hull) passes; until then its other passing pieces are
    kept and taken out, and the rest is cut again at the next level. (Stopping at the first
    passing piece of any kind left large bright ships as a sidelobe fragment.)
    Returns the final labels, the kept label ids and their measurements (with ``level``:
    0 for whole components, i for pieces cut at ``levels[i - 1]``).
    """
    m, ok = _measure(lab, nl, pxy, p)
    keep_ids = [np.flatnonzero(ok) + 1]
    parts = [{k: v[ok] for k, v in m.items()} | {"level": np.zeros(int(ok.sum()))}]
    # Label → flag lookups (``table[lab]``) instead of np.isin: one gather, no sort.
    out = np.where(np.concatenate([[False], ok])[lab], lab, 0)
    remaining = np.concatenate([[False], ~ok])[lab]
    failed = np.flatnonzero(~ok) + 1
    peaks = _max_positions(xs, lab, failed)
    offset = nl
    for step, level in enumerate(levels, start=1):
        if not remaining.any():
            break
        piece = remaining & level
        lab2, nl2 = _label_joined(piece, merge_px)  # pieces of one hull within merge_m join, as in the first pass
        if nl2 == 0:
            break
        if p.join_pieces:
            lab2, nl2 = _join_pieces(lab, lab2, nl2, pxy, p, sea)
        m2, ok2 = _measure(lab2, nl2, pxy, p, spread_width=True)
        passed = np.flatnonzero(ok2) + 1
        if passed.size:
            hit = np.concatenate([[False], ok2])[lab2]
            out = np.where(hit, lab2 + offset, out)
            keep_ids.append(passed + offset)
            parts.append({k: v[ok2] for k, v in m2.items()} | {"level": np.full(passed.size, float(step))})
            done = failed[hit[peaks[:, 0], peaks[:, 1]]]
            gone = np.zeros(nl + 1, bool)
            gone[done] = True
            remaining &= ~hit & ~gone[lab]
        offset += nl2
    ids = np.concatenate(keep_ids)
    return out, ids, {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}


def _join_pieces(
    lab: NDArray[np.integer],
    lab2: NDArray[np.integer],
    nl2: int,
    pxy: tuple[float, float],
    p: SarParams,
    sea: Sea | None = None,
) -> tuple[NDArray[np.integer], int]:
    """Pieces of one failed component relabelled as one object where their union is a vessel.

    A long hull at 10 m often breaks at the seed level into bow, superstructure and stern
    a few pixels apart, beyond ``merge_m``; each piece passes the shape tests on its own, so
    one ship came out as two or three short vessels (OpenSARShip GRD ships over 200 m:
    pieces of 20-70 m). The pieces' union, without the sidelobe and wake pixels that made
    the whole component fail, passes the tests when the pieces lie along one hull; pieces
    of two ships side by side make a union too wide and stay apart. Where that union fails
    and ``sea`` is given, the pieces along one hull are joined without the rest
    (:func:`_join_along`).
    """
    piece = lab2 > 0
    pk = lab[piece]
    if pk.size == 0:
        return lab2, nl2
    pairs = np.unique(np.stack([pk, lab2[piece]], axis=1), axis=0)
    count = np.bincount(pairs[:, 0], minlength=int(lab.max()) + 1)
    multi = np.flatnonzero(count >= 2)
    if multi.size == 0:
        return lab2, nl2
    # Compact labels 1..len(multi) for the parents cut into two or more pieces.
    compact = np.zeros(count.size, np.int64)
    compact[multi] = np.arange(1, multi.size + 1)
    union = np.where(piece, compact[lab], 0)
    _, ok_u = _measure(union, multi.size, pxy, p, spread_width=True)
    groups = _join_along(lab, lab2, nl2, multi[~ok_u], pxy, p, sea) if sea is not None and not ok_u.all() else []
    if not ok_u.any() and not groups:
        return lab2, nl2
    # Joined parents take new labels after nl2, then all labels are made consecutive again.
    new_id = np.zeros(multi.size + 1, np.int64)
    new_id[1:][ok_u] = nl2 + np.arange(1, int(ok_u.sum()) + 1)
    joined = new_id[union]
    out = np.where(joined > 0, joined, lab2)
    if groups:
        table = np.arange(nl2 + 1)
        for j, g in enumerate(groups, start=int(ok_u.sum()) + 1):
            table[g] = nl2 + j
        out = np.where(joined > 0, out, table[lab2])
        ok_count = int(ok_u.sum()) + len(groups)
    else:
        ok_count = int(ok_u.sum())
    used = np.zeros(nl2 + ok_count + 1, bool)
    used[out] = True
    used[0] = False
    remap = np.cumsum(used) * used
    return remap[out], int(used.sum())


Sea = tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_], float]
"""What the water test between pieces needs, on the canvas: intensity, background mean, the
water's growth threshold, usable pixels and ``k_grow`` (see :mod:`sitewatch.detect.sar_split`)."""


def _join_along(
    lab: NDArray[np.integer],
    lab2: NDArray[np.integer],
    nl2: int,
    parents: NDArray[np.integer],
    pxy: tuple[float, float],
    p: SarParams,
    sea: Sea,
) -> list[NDArray[np.int64]]:
    """Groups of pieces (labels of ``lab2``) of one failed component each that are one vessel,
    where the union of *all* that component's pieces is not.

    A bright hull cut at a rescue level can come apart into several pieces along it while
    sidelobe specks or a neighbour in the same component make the union of all its pieces
    fail the shape tests: the hull was reported as its pieces (OpenSARShip GRD: a 333 m
    tanker touching a second ship, cut at the seed level into pieces of 40-75 m along its
    hull, reported as one 51 m piece). Here the pieces that pass the shape tests on their own are added, nearest first,
    to the largest one while the union still passes (the tests of :func:`_join_pieces`) and
    no strip across the union's axis between them is water (the test of
    :mod:`sitewatch.detect.sar_split`, whose cuts this never undoes: it joins pieces of one
    component). Nothing is fitted.
    """
    piece = lab2 > 0
    rr, cc = np.nonzero(piece & np.isin(lab, parents))
    if rr.size == 0:
        return []
    pk, pl = lab[rr, cc], lab2[rr, cc]
    _, ok2 = _measure(lab2, nl2, pxy, p, spread_width=True)
    pad = 2 + int(math.ceil(p.max_width_m / 2.0 / min(pxy)))
    xs, mu, tg, use, k_grow = sea
    groups: list[NDArray[np.int64]] = []
    for par in np.unique(pk):
        m = pk == par
        r, c, q = rr[m], cc[m], pl[m]
        ids = np.unique(q)
        ids = ids[ok2[ids - 1]]
        if ids.size < 2:
            continue
        size = np.array([np.count_nonzero(q == i) for i in ids])
        cy = np.array([r[q == i].mean() for i in ids]) * pxy[1]
        cx = np.array([c[q == i].mean() for i in ids]) * pxy[0]
        first = int(np.argmax(size))
        dist = np.hypot(cy - cy[first], cx - cx[first])
        group = [int(ids[first])]
        grouped = ids[first] == q
        for j in np.argsort(dist, kind="stable"):
            # Farther than a vessel's length plus its width from the largest piece: the union
            # cannot pass the shape tests (this only saves work on large clutter components).
            if j == first or dist[j] > p.max_length_m + p.max_width_m:
                continue
            mine = grouped | (q == ids[j])
            sl = (
                slice(max(int(r[mine].min()) - pad, 0), int(r[mine].max()) + pad + 1),
                slice(max(int(c[mine].min()) - pad, 0), int(c[mine].max()) + pad + 1),
            )
            trial = (np.isin(lab2[sl], group + [int(ids[j])]) & (lab[sl] == par)).astype(np.int64)
            if _measure(trial, 1, pxy, p, spread_width=True)[1][0] and not _water_between(trial, tuple(a[sl] for a in (xs, mu, tg, use)), k_grow, pxy):  # type: ignore[arg-type]
                group.append(int(ids[j]))
                grouped = mine
        if len(group) >= 2:
            groups.append(np.array(group, np.int64))
    return groups


def _water_between(
    trial: NDArray[np.int64], sea: tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]], k_grow: float, pxy: tuple[float, float]
) -> bool:
    """Whether a strip across the axis of the pieces ``trial`` (label 1) is water anywhere along them
    (not where a piece's own pixels step over the strip: :func:`~sitewatch.detect.sar_split._stepped_over`)."""
    xs, mu, tg, use = sea
    axes = _axes(trial, 1, xs, mu, pxy)
    water, _ = _water_bins(np.ones_like(trial), xs, mu, tg, k_grow, use, axes, pxy)
    rr, cc = np.nonzero(trial)
    return bool((water & ~_stepped_over(rr, cc, 0, axes, pxy, water.size)).any())


def _max_positions(xs: NDArray[np.float32], lab: NDArray[np.integer], ids: NDArray[np.integer]) -> NDArray[np.int64]:
    """(row, col) of the brightest pixel of each component ``ids``; on ties the first in raster
    order (``scipy.ndimage.maximum_position`` leaves ties to an unstable sort of the whole image)."""
    rr, cc, k = _pixels(lab, ids)
    if ids.size == 0:
        return np.zeros((0, 2), np.int64)
    order = np.lexsort((-xs[rr, cc], k))  # stable: raster order among equal values
    first = order[np.searchsorted(k[order], np.arange(ids.size))]
    return np.stack([rr[first], cc[first]], axis=-1).astype(np.int64)
