"""Pieces of one hull reported as several vessels: two label-free rules tried after the detector (issue 4).

    python benchmarks/optical_hull_pieces.py                      # the shipped model, in-sample
    python benchmarks/optical_hull_pieces.py --models DIR          # leave-one-port-out fold models (lopo_PORT.npz)
    python benchmarks/optical_hull_pieces.py --model M.npz         # any one model on every port

``optical_errors.py`` found that a quarter of the in-sample false positives of the shipped model are a
second (third…) detection over a ship another detection already matched. Both rules run on the
detector's final vessel list, best score first, and drop a detection when a kept one

- ``overlap``: holds its centroid in its oriented box, or it holds the kept one's centroid (the
  detector's own overlap suppression, applied again to the final boxes: the detector suppresses on
  the candidates' boxes, then re-measures each kept object on a larger candidate, and adds the
  anchorage stage's ships after);
- ``pieces``: as ``overlap``, or the two boxes come within ``GAP_PX`` pixels of each other and the
  dropped one's centroid lies within the kept one's half-width plus ``AXIS_PX`` pixels of the kept
  one's long axis (a piece further along the same hull, not a ship alongside).

The constants (``GAP_PX`` 1, ``AXIS_PX`` 1) were fixed after looking at the shipped model's in-sample
pairs and before any leave-one-port-out run of the rules. Scoring as ``optical_sen2ships.py``
(one-to-one, centroid in a labelled box). ``--models DIR`` reuses fold models written by
``optical_sen2ships.py --models DIR`` (trains the missing ones, as that script does).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _sen2ships  # noqa: E402
from _sen2ships import load_port, port_names, select_ports  # noqa: E402
from optical_sen2ships import HEADER, Score, _line, pooled, score  # noqa: E402
from optical_train import Prepared, fold_model  # noqa: E402
from sitewatch.detect.base import PixelDetection  # noqa: E402
from sitewatch.detect.optical import OpticalParams, detect_optical  # noqa: E402

GAP_PX = 1.0
AXIS_PX = 1.0
RULES = ("none", "overlap", "pieces")


def _inside(corners: NDArray[np.float64], col: float, row: float) -> bool:
    """Whether (col, row) lies in the convex quadrilateral ``corners`` (4 x (col, row))."""
    sign = 0.0
    for k in range(4):
        a, b = corners[k], corners[(k + 1) % 4]
        cross = (b[0] - a[0]) * (row - a[1]) - (b[1] - a[1]) * (col - a[0])
        if abs(cross) < 1e-9:
            continue
        if sign == 0.0:
            sign = np.sign(cross)
        elif np.sign(cross) != sign:
            return False
    return True


def _edge_points(corners: NDArray[np.float64], n: int = 9) -> NDArray[np.float64]:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return np.concatenate([corners[k] + (corners[(k + 1) % 4] - corners[k]) * t for k in range(4)])


def _gap(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Distance between two oriented boxes in pixels (0 when one holds a corner of the other)."""
    if any(_inside(a, *p) for p in b) or any(_inside(b, *p) for p in a):
        return 0.0
    pa, pb = _edge_points(a), _edge_points(b)
    return float(np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(axis=2)).min())


def _axis(corners: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
    """Unit long axis of a box and its half-width (pixels)."""
    e1, e2 = corners[1] - corners[0], corners[2] - corners[1]
    l1, l2 = float(np.hypot(*e1)), float(np.hypot(*e2))
    return (e1 / max(l1, 1e-9), l2 / 2) if l1 >= l2 else (e2 / max(l2, 1e-9), l1 / 2)


def drop_pieces(dets: list[PixelDetection], rule: str) -> list[PixelDetection]:
    """The vessels kept by ``rule`` (see the module doc); other kinds pass unchanged."""
    if rule == "none":
        return dets
    vessels = sorted((d for d in dets if d.kind == "vessel"), key=lambda d: -d.score)
    kept: list[PixelDetection] = []
    for d in vessels:
        q = np.asarray(d.corners, np.float64)
        drop = False
        for e in kept:
            p = np.asarray(e.corners, np.float64)
            if _inside(p, d.col, d.row) or _inside(q, e.col, e.row):
                drop = True
            elif rule == "pieces" and _gap(p, q) <= GAP_PX:
                axis, half_width = _axis(p)
                v = np.array([d.col - e.col, d.row - e.row])
                drop = abs(v[0] * axis[1] - v[1] * axis[0]) <= half_width + AXIS_PX
            if drop:
                break
        if not drop:
            kept.append(d)
    return kept + [d for d in dets if d.kind != "vessel"]


def main() -> None:
    ap = argparse.ArgumentParser(description="hull pieces dropped after the optical detector")
    ap.add_argument("--models", type=Path, default=None, help="folder of leave-one-port-out fold models")
    ap.add_argument("--model", default=None, help="one model for every port (default: the shipped one)")
    ap.add_argument("--ports", nargs="*", default=None)
    ap.add_argument("--datasets", type=Path, default=None)
    ap.add_argument("--root", type=Path, default=None)
    args = ap.parse_args()
    if args.root is not None or args.datasets is not None:
        _sen2ships.use_root(args.root or args.datasets / "sen2ships" / "sen2ships")
    names = select_ports(args.ports)
    params = OpticalParams()
    prepared: dict[str, Prepared] = {}
    scores: dict[str, list[Score]] = {r: [] for r in RULES}
    print(f"{'rule':<8} " + HEADER)
    for n in names:
        if args.models is not None:
            args.models.mkdir(parents=True, exist_ok=True)
            run = replace(params, model=str(fold_model(args.models, n, port_names(), prepared, params)))
        else:
            run = params if args.model is None else replace(params, model=args.model)
        port = load_port(n)
        dets = detect_optical(port.bands, port.pixel_size, params=run)
        for r in RULES:
            scores[r].append(score(port, drop_pieces(dets, r)))
            print(f"{r:<8} " + _line(n, scores[r][-1]))
    what = "leave-one-port-out fold models" if args.models is not None else (args.model or "shipped model, in-sample")
    print(f"\npooled ({what})")
    for r in RULES:
        print(f"{r:<8} " + _line("POOLED", pooled(scores[r])))


if __name__ == "__main__":
    main()
