"""Ships cut by a no-data collar on the sen2ships ports: reported cut, or lost?

    python benchmarks/optical_collar.py                 # both diagonals, every port with bands
    python benchmarks/optical_collar.py --fill 1        # the collar white (a fill under alpha 0), not 0
    python benchmarks/optical_collar.py --cuts diag     # one collar
    python benchmarks/optical_collar.py --ports busan   # some ports
    python benchmarks/optical_collar.py --rules drop    # the shipped rule alone (code without nodata_cut)

A scene's no-data collar (a Sentinel-2 tile's diagonal edge, a Planet scene's black fill, a Landsat
collar) cuts the ships lying across it. Each port is run by the shipped model as it is (the baseline
of ``optical_sen2ships.py --shipped``, which must not move), and with half the image beyond a diagonal
set to no data as a real collar has it (every band ``--fill``, 0 by default, ``valid`` False, the water
references taken over the valid pixels as ``detect-image`` and the pipeline take them). ``diag``
blanks the lower-right half (row/h + col/w > 1), ``anti`` the lower-left (row/h > col/w). Each
collared port is run under both rules: ``drop`` (the default: an object within the cloud margin of
cloud or no data is dropped) and ``cut`` (``OpticalParams.nodata_cut``: beside no data alone it is
reported ``truncated``, and the margin keeps to cloud and shadow).

Counts of a collared run, against the labelled ships not wholly under the collar:

- ``cut``: ships with pixels on both sides of the collar's edge, and how many of them a detection
  matches (``found``; ``trunc``: of those, reported ``truncated``);
- ``near``: whole ships within ``2 x cloud_margin_m`` of the collar, and how many are found;
- ``fa_zone``: false alarms (unmatched detections) centred within that distance of the collar,
  and ``fa_new`` those of them with no false alarm of the baseline run within 100 m.

Matching is :func:`optical_sen2ships.match` (centroid in a labelled box, best score first).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sen2ships import Port, load_port, select_ports  # noqa: E402
from optical_sen2ships import HEADER, Score, _line, match, pooled, score  # noqa: E402
from sitewatch.detect.base import PixelDetection  # noqa: E402
from sitewatch.detect.optical import OpticalParams, detect_optical, scene_stats  # noqa: E402

CUTS = ("diag", "anti")
RULES = ("drop", "cut")


def collar(shape: tuple[int, int], cut: str) -> NDArray[np.bool_]:
    """No-data pixels of a collar ``cut`` (one of :data:`CUTS`) on an image of ``shape``."""
    h, w = shape
    r = (np.arange(h)[:, None] + 0.5) / h
    c = (np.arange(w)[None, :] + 0.5) / w
    return np.asarray(r + c > 1.0 if cut == "diag" else r > c)


def run(port: Port, nodata: NDArray[np.bool_] | None, params: OpticalParams, fill: float = 0.0) -> list[PixelDetection]:
    """The shipped model on ``port``, with ``nodata`` pixels (if any) set to ``fill`` and not valid, as a real collar is."""
    if nodata is None:
        return detect_optical(port.bands, port.pixel_size, params=params)
    bands = {k: np.where(nodata, np.float32(fill), v) for k, v in port.bands.items()}
    stats = scene_stats({k: np.where(nodata, np.float32(np.nan), v) for k, v in port.bands.items()})
    return detect_optical(bands, port.pixel_size, valid=~nodata, params=params, stats=stats)


@dataclass
class Tally:
    """Counts of the collared runs (see the module doc)."""

    cut: int = 0
    cut_found: int = 0
    cut_trunc: int = 0
    near: int = 0
    near_found: int = 0
    fa_zone: int = 0
    fa_new: int = 0

    def add(self, other: Tally) -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def line(self, name: str) -> str:
        return (
            f"{name:<12} {self.cut:4d} {self.cut_found:6d} {self.cut_trunc:6d}  {self.near:4d} {self.near_found:6d}"
            f"  {self.fa_zone:7d} {self.fa_new:6d}"
        )


TALLY_HEADER = "port          cut  found  trunc  near  found  fa_zone fa_new"


def tally(
    port: Port, nodata: NDArray[np.bool_], dets: list[PixelDetection], base: list[PixelDetection], params: OpticalParams
) -> tuple[Tally, Score]:
    """Counts of one collared run, and its score against the ships not wholly under the collar."""
    seen = [i for i, m in enumerate(port.masks) if (m & ~nodata).any()]
    visible = Port(port.name, port.bands, port.pixel_size, [port.masks[i] for i in seen], port.boxes[seen])
    taken, det_of = match(visible, dets)
    p = 0.5 * (port.pixel_size[0] + port.pixel_size[1])
    dist = ndimage.distance_transform_edt(~nodata) * p  # metres to the nearest no-data pixel
    zone = 2 * params.cloud_margin_m
    t = Tally()
    for j, m in enumerate(visible.masks):
        if (m & nodata).any():
            t.cut += 1
            if taken[j]:
                t.cut_found += 1
                t.cut_trunc += bool(det_of[j].truncated)
        elif dist[m].min() <= zone:
            t.near += 1
            t.near_found += bool(taken[j])
    _, base_of = match(port, base)
    base_matched = {id(d) for d in base_of.values()}
    base_fa = np.array([(d.row, d.col) for d in base if d.kind == "vessel" and id(d) not in base_matched]).reshape(-1, 2)
    matched = {id(d) for d in det_of.values()}
    h, w = nodata.shape
    for d in dets:
        if d.kind != "vessel" or id(d) in matched:
            continue
        if dist[min(max(int(round(d.row)), 0), h - 1), min(max(int(round(d.col)), 0), w - 1)] > zone:
            continue
        t.fa_zone += 1
        near_base = base_fa.size and (np.hypot(base_fa[:, 0] - d.row, base_fa[:, 1] - d.col) * p <= 100.0).any()
        t.fa_new += not near_base
    return t, score(visible, dets)


def main() -> None:
    ap = argparse.ArgumentParser(description="optical detector on sen2ships with a synthetic no-data collar")
    ap.add_argument("--ports", nargs="*", default=None)
    ap.add_argument("--cuts", nargs="*", default=list(CUTS), choices=CUTS)
    ap.add_argument("--rules", nargs="*", default=list(RULES), choices=RULES)
    ap.add_argument("--fill", type=float, default=0.0, help="reflectance of the collar's bands (0: black fill)")
    args = ap.parse_args()
    names = select_ports(args.ports)
    params = OpticalParams()
    rule_params = {r: params if r == "drop" else replace(params, nodata_cut=True) for r in args.rules}
    print(f"optical detector (shipped model) on sen2ships ({len(names)} ports) with a no-data collar of {args.fill:g}")
    base_scores: list[Score] = []
    runs = [(c, r) for c in args.cuts for r in args.rules]
    cut_scores: dict[tuple[str, str], list[Score]] = {k: [] for k in runs}
    tallies: dict[tuple[str, str], list[tuple[str, Tally]]] = {k: [] for k in runs}
    t0 = time.perf_counter()
    for n in names:
        port = load_port(n)
        base = run(port, None, params)
        base_scores.append(score(port, base))
        for c, r in runs:
            nodata = collar(port.bands["green"].shape, c)
            dets = run(port, nodata, rule_params[r], args.fill)
            t, s = tally(port, nodata, dets, base, params)
            tallies[c, r].append((n, t))
            cut_scores[c, r].append(s)
    print(f"({time.perf_counter() - t0:.0f} s)")
    print("\nno collar (must equal optical_sen2ships.py --shipped)")
    print(HEADER)
    for n, s in zip(names, base_scores, strict=True):
        print(_line(n, s))
    print(_line("POOLED", pooled(base_scores)))
    for c, r in runs:
        print(f"\ncollar '{c}', rule '{r}': ships not wholly under the collar")
        print(HEADER)
        for n, s in zip(names, cut_scores[c, r], strict=True):
            print(_line(n, s))
        print(_line("POOLED", pooled(cut_scores[c, r])))
        print(f"\ncollar '{c}', rule '{r}': ships cut by it and near it, false alarms along it")
        print(TALLY_HEADER)
        total = Tally()
        for n, t in tallies[c, r]:
            total.add(t)
            print(t.line(n))
        print(total.line("POOLED"))
    print("\npooled over the collars")
    print("rule         " + TALLY_HEADER[13:] + "    tp   fp   fn")
    for r in args.rules:
        total = Tally()
        for c in args.cuts:
            for _, t in tallies[c, r]:
                total.add(t)
        s = pooled([x for c in args.cuts for x in cut_scores[c, r]])
        print(total.line(r) + f"  {s.tp:4d} {s.fp:4d} {s.fn:4d}")


if __name__ == "__main__":
    main()
