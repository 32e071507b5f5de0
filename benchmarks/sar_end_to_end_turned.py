"""Two ships moored end to end in a grid turned against the site's: still two vessels after ingest's resampling?

Run:  python benchmarks/sar_end_to_end_turned.py [--beams 14,20] [--gaps 10,15,20,30] [--step 15] [--shifts 6]
      [--tried] [--tuning]

SIMULATED 10 m SAR (Gamma speckle, ENL 4.5; hulls 20 dB over the sea): two hulls 80 m long heading 135°,
end to end with ``gap`` metres of water between them, drawn on the pixel centres of a file whose grid is
turned 0-75° against the site's, at a few sub-pixel shifts, then put on the site's north-up grid by nearest
neighbour as ingest puts SAR on it. Counted: the scenes whose two hulls come out as two vessels (two
detections shorter than 130 m near the pair), and those whose two hulls are found as they are (a detection
within 20 m of each hull's centre, its length within 25 m of 80 m): a cut inside one hull, where its staircase
steps, also leaves two short detections. Measured with the same scenes for each rule: the shipped split
(sar-cfar 1.14.0: a bin that two touching pixels step over is no gap, :func:`_stepped_over`), the baseline
with that rule off (sar-cfar 1.13.0's split), the rule's cost where the pixels that touch at a corner across
the gap are two ships', and with ``--tried`` the rule tried on 7 Dec (``_split_rules.py``). ``--tuning``: the
scenes that rule was tuned on (other seeds and shifts; use ``--step 5``). The code measured is the one on
``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator

import numpy as np

from _split_rules import rule
from _turned_grid import HEADING, PX, N, turned_scene  # (the scenes shared with sar_thin_turned.py)
from sitewatch.detect.sar import detect_sar

LENGTH = 80.0


def scene(turn: float, shift: tuple[float, float], beam: float, gap: float, seed: int) -> np.ndarray:
    """Two hulls end to end around the site's centre, drawn in the turned file and resampled onto the site's grid."""
    off = (LENGTH + gap) / 2

    def hulls(along: np.ndarray, across: np.ndarray) -> np.ndarray:
        return ((np.abs(along - off) <= LENGTH / 2) | (np.abs(along + off) <= LENGTH / 2)) & (np.abs(across) <= beam / 2)

    return turned_scene(turn, shift, seed, hulls)[1]


def centres(gap: float) -> list[tuple[float, float]]:
    """The two hulls' centres on the site's grid (row, col): along the heading :data:`HEADING` from the site's centre."""
    a = math.radians(HEADING)
    off = (LENGTH + gap) / 2 / PX
    return [(N / 2 - 0.5 - s * off * math.cos(a), N / 2 - 0.5 + s * off * math.sin(a)) for s in (-1, 1)]


def two_vessels(img: np.ndarray, gap: float) -> tuple[bool, bool]:
    """Whether the pair comes out as two detections near the centre, each shorter than the pair (the first count),
    and whether each hull is found: a detection within 20 m of its centre whose length is within 25 m of its own (a
    cut inside one hull can also give two short detections, the first count but not this one)."""
    near = [d for d in detect_sar(img, PX) if math.hypot(d.row - N / 2, d.col - N / 2) * PX < LENGTH * 1.5]
    found = all(any(math.hypot(d.row - r, d.col - c) * PX < 20.0 and abs(d.length_m - LENGTH) < 25.0 for d in near) for r, c in centres(gap))
    return sum(d.length_m < 130.0 for d in near) >= 2, found


def scenes(step: int, shifts: int, tuning: bool) -> Iterator[tuple[int, tuple[float, float], int]]:
    """(turn, sub-pixel shift, seed) of each scene: the benchmark's own, or with ``tuning`` the other seeds and shifts
    that the rule tried on 7 Dec was tuned on."""
    for turn in range(0, 76, step):
        for i in range(shifts):
            if tuning:
                yield turn, ((i * 0.23 + 0.1) % 1.0, (i * 0.71 + 0.05) % 1.0), 7_000_000 + 1000 * turn + i
            else:
                yield turn, ((i * 0.37) % 1.0, (i * 0.61) % 1.0), 1000 * turn + i


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--beams", default="14,20", help="beams (m) of the hulls, comma-separated")
    ap.add_argument("--gaps", default="10,15,20,30", help="water between the hulls (m), comma-separated")
    ap.add_argument("--step", type=int, default=15, help="degrees between grid turns, 0-75")
    ap.add_argument("--shifts", type=int, default=6, help="sub-pixel shifts of the file's grid per turn")
    ap.add_argument("--tried", action="store_true", help="also the rule tried on 7 Dec and not shipped (side corners)")
    ap.add_argument("--tuning", action="store_true", help="the scenes that rule was tuned on instead of the benchmark's own")
    args = ap.parse_args()
    rules = ["1.13.0", "shipped"] + (["side-corners"] if args.tried else [])
    print("per rule: share of pairs that come out as two vessels / as the two ships (each found within 20 m of its centre, length within 25 m)")
    print(f"{'beam':>5s} {'gap':>4s} {'pairs':>5s} | " + " ".join(f"{r:>13s}" for r in rules) + " | two vessels: ratio shipped / 1.13.0, turns merged only by the shipped rule")
    for beam in (float(b) for b in args.beams.split(",")):
        for gap in (float(g) for g in args.gaps.split(",")):
            two = dict.fromkeys(rules, 0)
            right = dict.fromkeys(rules, 0)
            total = 0
            lost: set[int] = set()
            for turn, shift, seed in scenes(args.step, args.shifts, args.tuning):
                img = scene(float(turn), shift, beam, gap, seed)
                total += 1
                for name in rules:
                    with rule(name):
                        t, r = two_vessels(img, gap)
                    two[name] += t
                    right[name] += r
                    if name == "1.13.0":
                        base = t
                    elif name == "shipped" and base and not t:
                        lost.add(turn)
            ratio = two["shipped"] / two["1.13.0"] if two["1.13.0"] else math.nan
            cells = " ".join(f"{two[r] / total:6.3f}/{right[r] / total:.3f}" for r in rules)
            print(f"{beam:5.0f} {gap:4.0f} {total:5d} | {cells} | {ratio:6.2f} {sorted(lost) or '-'}")


if __name__ == "__main__":
    main()
