"""Thin hulls in a grid turned against the site's: found whole in the file, and after ingest's resampling?

Run:  python benchmarks/sar_thin_turned.py [--beams 14,12,10] [--step 5] [--shifts 6] [--rule RULE] [--tuning]

SIMULATED 10 m SAR (Gamma speckle, ENL 4.5; hulls 20 dB over the sea): a hull 80 m long (120 m for
beams under 14 m) heading 135° on the site's grid is drawn on the pixel centres of a file whose grid
is turned 0-90° against the site's (a polar stereographic file at 69-78° N is turned 33-61° from UTM),
at a few sub-pixel shifts. The file is detected on its own grid, as ``detect-image`` detects it (the
baseline, same run), and after ``reproject`` by nearest neighbour onto the site's north-up grid, as
ingest puts SAR on it. Printed per beam: the share of hulls found as one vessel (no second piece
within the hull's length of it) and the median |length error| of those, for both, and the ratio
of the resampled error to the baseline's. The code measured is the one on ``PYTHONPATH``; ``--rule 1.13.0`` or
``--rule side-corners`` puts another version of its stepped-over bins in place (``_split_rules.py``), and
``--tuning`` draws the scenes that the side-corners rule was tuned on (other seeds and shifts).
"""

from __future__ import annotations

import argparse
import math
import statistics

import numpy as np

from _split_rules import RULES, rule
from _turned_grid import PX, N, turned_scene  # (the scenes shared with sar_end_to_end_turned.py)
from sitewatch.detect.sar import detect_sar


def scene(turn: float, shift: tuple[float, float], length: float, beam: float, seed: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """The file (its own grid), the same resampled onto the site's grid, and the hull's centre in the file (row, col)."""
    return turned_scene(turn, shift, seed, lambda along, across: (np.abs(along) <= length / 2) & (np.abs(across) <= beam / 2))


def near(img: np.ndarray, centre: tuple[float, float], length: float) -> list[float]:
    """Lengths of the detections within the hull's length of its centre."""
    return [d.length_m for d in detect_sar(img, PX) if math.hypot(d.row - centre[0], d.col - centre[1]) * PX < length]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--beams", default="14,12,10", help="beams (m) of the hulls, comma-separated")
    ap.add_argument("--step", type=int, default=5, help="degrees between grid turns, 0-90")
    ap.add_argument("--shifts", type=int, default=6, help="sub-pixel shifts of the file's grid per turn")
    ap.add_argument("--rule", default="shipped", choices=["shipped", *RULES], help="the split's stepped-over bins")
    ap.add_argument("--tuning", action="store_true", help="the scenes the side-corners rule was tuned on")
    args = ap.parse_args()
    print(f"{'beam':>5s} {'hulls':>5s} | {'one vessel, file':>16s} {'resampled':>9s} | {'median |err|, file':>18s} {'resampled':>9s} {'ratio':>6s} | split turns (resampled)")
    for beam in (float(b) for b in args.beams.split(",")):
        length = 80.0 if beam >= 14.0 else 120.0
        whole = {"file": 0, "resampled": 0}
        err: dict[str, list[float]] = {"file": [], "resampled": []}
        split: list[int] = []
        total = 0
        for turn in range(0, 91, args.step):
            for i in range(args.shifts):
                if args.tuning:
                    shift, seed = ((i * 0.23 + 0.1) % 1.0, (i * 0.71 + 0.05) % 1.0), 7_000_000 + 1000 * turn + i
                else:
                    shift, seed = ((i * 0.37) % 1.0, (i * 0.61) % 1.0), 1000 * turn + i
                src, dst, centre = scene(float(turn), shift, length, beam, seed)
                total += 1
                with rule(args.rule):
                    found = (("file", near(src, centre, length)), ("resampled", near(dst, (N / 2 - 0.5, N / 2 - 0.5), length)))
                for key, got in found:
                    if len(got) == 1:
                        whole[key] += 1
                        err[key].append(abs(got[0] - length))
                    elif key == "resampled":
                        split.append(turn)
        med = {k: statistics.median(v) if v else math.nan for k, v in err.items()}
        print(f"{beam:5.0f} {total:5d} | {whole['file'] / total:16.3f} {whole['resampled'] / total:9.3f} | {med['file']:16.1f} m {med['resampled']:7.1f} m"
              f" {med['resampled'] / med['file']:6.2f} | {sorted(set(split)) or '-'}")  # fmt: skip


if __name__ == "__main__":
    main()
