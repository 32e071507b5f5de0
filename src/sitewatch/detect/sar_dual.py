"""Vessels in dual-polarisation SAR (Sentinel-1 IW VV+VH, or HH+HV): detect in both, fuse.

Sea clutter is far weaker in the cross-polarised channel (VH, HV) than in the co-polarised one
(VV, HH), while a hull's return, from its corners and superstructure, stays: a ship that is
2-11 dB over the sea in VV can be 10-16 dB over it in VH. Small boats, wakes and metal corners
facing the radar are sometimes brighter in VV. :func:`detect_sar_dual` therefore runs the same
detector (:func:`sitewatch.detect.sar.detect_sar_with_features`, one parameter set) on each
channel and fuses the two lists:

* a co-polarised and a cross-polarised detection are **the same object** when their boxes,
  each grown by ``merge_m`` plus one resolution cell (``psf_m``), overlap;
* a cross-polarised detection paired with co-polarised ones that pair with nothing else is
  reported once, at the cross-polarised centroid and heading, with the **mean** of the two
  lengths and widths (two measurements of one hull with partly independent clutter and
  sidelobes: OpenSARShip GRD, 107 dual-pol ships, MAE vs AIS 21.4 m VV, 19.4 m VH, 17.6 m
  mean) and the higher score;
* a co-polarised detection whose cross-polarised mates (two or more) pair with it alone is one
  object that the cross-polarised channel cut into pieces (a hull and a fragment at its end):
  it is reported once, at its longest cross-polarised mate, with the mean of the two, and the
  other mates are dropped (before sitewatch-sar 1.9.0 the pieces were kept and the co-polarised
  detection lost: OpenSARShip GRD, a 363 m ship seen whole in VV, 342 m, reported as its 273 m
  VH piece);
* everything else is kept as found in its own channel (a detection seen in only one channel
  is a detection; a co-polarised detection pairing with cross-polarised detections that also
  pair with other co-polarised ones is dropped, its mates kept).

Single-band input never comes here: :func:`sitewatch.detect.sar.detect_sar` is unchanged.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from .base import PixelDetection, pixel_size_pair
from .sar import SarParams, detect_sar
from .sar_size import _box_corners

__all__ = ["detect_sar_dual", "fuse_polarisations", "polarisation_of", "darker_is_cross", "CO_POL", "CROSS_POL"]

CO_POL = ("vv", "hh")
"""Names of co-polarised channels."""
CROSS_POL = ("vh", "hv")
"""Names of cross-polarised channels."""


def polarisation_of(name: str | None) -> str:
    """The channel a band name or description states (``vv``, ``vh``, ``hh``, ``hv``), alone (``VV``)
    or as a word of a longer one (SNAP's ``Sigma0_VH``); ``""`` when it names none, or several."""
    found = re.findall(r"(?<![a-z])(vv|vh|hh|hv)(?![a-z])", (name or "").lower())
    return found[0] if len(found) == 1 else ""


def darker_is_cross(bands: NDArray[np.generic]) -> tuple[int, int]:
    """(co, cross) indexes of two unnamed SAR bands: the one with the darker median (finite, non-zero
    values) is cross-polarised, sea clutter being 5-10 dB lower there. The darker is the lower in
    intensity, amplitude and dB alike (-22 dB < -15 dB), so values are compared as they are."""
    med = []
    for band in bands[:2]:
        ok = band[np.isfinite(band) & (band != 0)]
        med.append(float(np.median(ok)) if ok.size else -np.inf)
    return (0, 1) if med[0] >= med[1] else (1, 0)


def detect_sar_dual(
    co: NDArray[np.generic],
    cross: NDArray[np.generic],
    pixel_size: float | tuple[float, float],
    *,
    valid: NDArray[np.bool_] | tuple[NDArray[np.bool_] | None, NDArray[np.bool_] | None] | None = None,
    water: NDArray[np.bool_] | None = None,
    params: SarParams | None = None,
    workers: int = 1,
) -> list[PixelDetection]:
    """Find vessels in a co-registered co-/cross-polarised pair (e.g. VV and VH intensity).

    Both channels take the same ``water`` mask and parameters as
    :func:`~sitewatch.detect.sar.detect_sar`, and ``valid``: one mask for both, or a
    (co, cross) pair of each channel's own no-data mask, so that a channel without data
    somewhere does not blind the other there. The detections are fused by
    :func:`fuse_polarisations` (see the module docstring).
    """
    a, b = np.asarray(co), np.asarray(cross)
    if a.shape != b.shape:
        raise InputError(f"the two polarisations differ in shape: {a.shape} and {b.shape}")
    p = params or SarParams()
    va, vb = valid if isinstance(valid, tuple) else (valid, valid)
    kw = dict(water=water, params=p, workers=workers)
    return fuse_polarisations(detect_sar(a, pixel_size, valid=va, **kw), detect_sar(b, pixel_size, valid=vb, **kw), pixel_size, p)  # type: ignore[arg-type]


def fuse_polarisations(
    co: list[PixelDetection], cross: list[PixelDetection], pixel_size: float | tuple[float, float], params: SarParams | None = None
) -> list[PixelDetection]:
    """One list of vessels from the detections of the co- and cross-polarised channels.

    Cross-polarised detections first (in their order), then the co-polarised ones that pair
    with none; see the module docstring for the rule.
    """
    p = params or SarParams()
    pxy = pixel_size_pair(pixel_size)
    if not co or not cross:
        return list(cross) + list(co)
    pairs = _overlapping(co, cross, pxy, p.merge_m + p.psf_m)
    of_co: dict[int, list[int]] = {}
    of_cross: dict[int, list[int]] = {}
    for i, j in pairs:
        of_co.setdefault(i, []).append(j)
        of_cross.setdefault(j, []).append(i)
    # A co-polarised detection whose cross-polarised mates pair with it alone: one object the
    # cross-polarised channel cut into pieces (its hull and a fragment at one end). Its longest
    # mate stands for it, as the longest co-polarised piece does in the mirror case below.
    main: dict[int, int] = {}
    pieces: set[int] = set()
    for i, mates in of_co.items():
        if len(mates) >= 2 and all(len(of_cross[j]) == 1 for j in mates):
            longest = max(mates, key=lambda j: cross[j].length_m)
            main[longest] = i
            pieces.update(j for j in mates if j != longest)
    out = []
    for j, d in enumerate(cross):
        if j in pieces:
            continue
        mates = of_cross.get(j, [])
        if j in main:
            d = _mean_of(d, co[main[j]], pxy)
        # Co-polarised pieces of this one object only (one of them also pairing with another
        # cross-polarised detection means two ships or a split hull: no mean then).
        elif mates and all(len(of_co[i]) == 1 for i in mates):
            m = max((co[i] for i in mates), key=lambda e: e.length_m)
            d = _mean_of(d, m, pxy)
        out.append(d)
    out.extend(d for i, d in enumerate(co) if i not in of_co)
    return out


def _mean_of(d: PixelDetection, e: PixelDetection, pxy: tuple[float, float]) -> PixelDetection:
    """``d`` with the mean length and width of ``d`` and ``e``, the higher score, truncated if either is."""
    length, width = (d.length_m + e.length_m) / 2, (d.width_m + e.width_m) / 2
    one = np.array([0.0])
    c = _box_corners(one + d.row, one + d.col, one + d.heading_deg, one + length, one + width, pxy)[0]
    return replace(
        d,
        length_m=length,
        width_m=width,
        score=max(d.score, e.score),
        corners=tuple((float(x), float(y)) for x, y in c),
        truncated=d.truncated or e.truncated,  # one channel saw the hull cut: the mean is cut too
    )


def _overlapping(
    a: list[PixelDetection], b: list[PixelDetection], pxy: tuple[float, float], grow_m: float
) -> list[tuple[int, int]]:
    """Index pairs (i, j) whose boxes, in metres and grown by ``grow_m``, overlap."""
    from shapely import STRtree, buffer, polygons

    px, py = pxy

    def boxes(ds: list[PixelDetection]) -> NDArray[np.object_]:
        xy = np.array([d.corners for d in ds], dtype=np.float64) * (px, py)
        return buffer(polygons(xy), grow_m / 2, quad_segs=2)

    tree = STRtree(boxes(b))
    ia, ib = tree.query(boxes(a), predicate="intersects")
    return sorted(zip(ia.tolist(), ib.tolist(), strict=True))

