"""Two ships moored end to end in a grid turned against the site's: still two vessels after ingest's resampling?

Run:  python benchmarks/sar_end_to_end_turned.py [--beams 14,20] [--gaps 10,15,20,30] [--step 15] [--shifts 6]

SIMULATED 10 m SAR (Gamma speckle, ENL 4.5; hulls 20 dB over the sea): two hulls 80 m long heading 135°,
end to end with ``gap`` metres of water between them, drawn on the pixel centres of a file whose grid is
turned 0-75° against the site's, at a few sub-pixel shifts, then put on the site's north-up grid by nearest
neighbour as ingest puts SAR on it. Counted: the scenes whose two hulls come out as two vessels (two
detections shorter than 130 m near the pair). Measured twice in one run, with the same scenes: the shipped
split (sar-cfar 1.14.0: a bin that two touching pixels step over is no gap, :func:`_stepped_over`), and the
baseline with that rule off (sar-cfar 1.13.0's split), the rule's cost where the pixels that touch at a
corner across the gap are two ships'. The code measured is the one on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from _turned_grid import PX, N, turned_scene  # (the scenes shared with sar_thin_turned.py)
from sitewatch.detect import sar_pieces, sar_split
from sitewatch.detect.sar import detect_sar

LENGTH = 80.0


def scene(turn: float, shift: tuple[float, float], beam: float, gap: float, seed: int) -> np.ndarray:
    """Two hulls end to end around the site's centre, drawn in the turned file and resampled onto the site's grid."""
    off = (LENGTH + gap) / 2

    def hulls(along: np.ndarray, across: np.ndarray) -> np.ndarray:
        return ((np.abs(along - off) <= LENGTH / 2) | (np.abs(along + off) <= LENGTH / 2)) & (np.abs(across) <= beam / 2)

    return turned_scene(turn, shift, seed, hulls)[1]


def two_vessels(img: np.ndarray) -> bool:
    """Whether the pair comes out as two ships' detections (each shorter than the pair's length) near the centre."""
    near = [d for d in detect_sar(img, PX) if math.hypot(d.row - N / 2, d.col - N / 2) * PX < LENGTH * 1.5]
    return sum(d.length_m < 130.0 for d in near) >= 2


@contextmanager
def rule_off() -> Iterator[None]:
    """sar-cfar 1.13.0's split: no bin counts as stepped over."""
    shipped = sar_split._stepped_over

    def none(rr: object, cc: object, k: int, axes: object, pxy: object, nbins: int) -> np.ndarray:
        return np.zeros(nbins, bool)

    sar_split._stepped_over = none
    sar_pieces._stepped_over = none
    try:
        yield
    finally:
        sar_split._stepped_over = shipped
        sar_pieces._stepped_over = shipped


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--beams", default="14,20", help="beams (m) of the hulls, comma-separated")
    ap.add_argument("--gaps", default="10,15,20,30", help="water between the hulls (m), comma-separated")
    ap.add_argument("--step", type=int, default=15, help="degrees between grid turns, 0-75")
    ap.add_argument("--shifts", type=int, default=6, help="sub-pixel shifts of the file's grid per turn")
    args = ap.parse_args()
    print(f"{'beam':>5s} {'gap':>4s} {'pairs':>5s} | {'two vessels, 1.13.0 rule':>24s} {'shipped':>8s} {'ratio':>6s} | turns merged only by the shipped rule")
    for beam in (float(b) for b in args.beams.split(",")):
        for gap in (float(g) for g in args.gaps.split(",")):
            base = shipped = total = 0
            lost: set[int] = set()
            for turn in range(0, 76, args.step):
                for i in range(args.shifts):
                    img = scene(float(turn), ((i * 0.37) % 1.0, (i * 0.61) % 1.0), beam, gap, 1000 * turn + i)
                    total += 1
                    with rule_off():
                        b = two_vessels(img)
                    s = two_vessels(img)
                    base, shipped = base + b, shipped + s
                    if b and not s:
                        lost.add(turn)
            ratio = shipped / base if base else math.nan
            print(f"{beam:5.0f} {gap:4.0f} {total:5d} | {base / total:24.3f} {shipped / total:8.3f} {ratio:6.2f} | {sorted(lost) or '-'}")


if __name__ == "__main__":
    main()
