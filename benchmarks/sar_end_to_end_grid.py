"""Two ships moored end to end, drawn on the site's own grid: split into two vessels under each version of the split?

Run:  python benchmarks/sar_end_to_end_grid.py [--gaps 10,15,20,30] [--seeds 200-215]

SIMULATED 10 m SAR: the scenes of ``tests/test_sar.py``'s ``_in_line`` (two 100 × 16 m hulls end to end with
``gap`` metres of water between them, each pixel as bright as the share of it the hull covers, Gamma speckle ENL
4.5, hulls 20 dB over the sea), headings 0-165° by 15°, one scene per heading and seed. No resampling: the case
``sar_end_to_end_turned.py`` leaves out. Counted per version of the split's stepped-over bins (``_split_rules.py``;
``shipped`` is the code on ``PYTHONPATH``): the pairs that come out as two detections, and as the two ships (a
detection within 20 m of each hull's centre, its length within 25 m of 100 m).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from _split_rules import RULES, rule
from sitewatch.detect.sar import detect_sar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' own scenes, not written twice
from test_sar import PX, _in_line  # noqa: E402


def seeds(spec: str) -> list[int]:
    """``200-215`` or ``0,1,2``."""
    if "-" in spec:
        a, b = spec.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in spec.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gaps", default="10,15,20,30", help="water between the hulls (m), comma-separated")
    ap.add_argument("--seeds", default="200-215", help="random seeds, `A-B` or comma-separated")
    args = ap.parse_args()
    rules = ["1.13.0", "shipped", *(r for r in RULES if r != "1.13.0")]
    print("per version: share of pairs that come out as two detections / as the two ships")
    print(f"{'gap':>4s} {'pairs':>5s} | " + " ".join(f"{r:>13s}" for r in rules))
    for gap in (float(g) for g in args.gaps.split(",")):
        two = dict.fromkeys(rules, 0)
        right = dict.fromkeys(rules, 0)
        total = 0
        for heading in range(0, 166, 15):
            for seed in seeds(args.seeds):
                img, centres = _in_line(np.random.default_rng(seed), gap, float(heading))
                total += 1
                for name in rules:
                    with rule(name):
                        dets = detect_sar(img, PX)
                    two[name] += len(dets) == 2
                    right[name] += all(
                        any(math.hypot(d.row - r, d.col - c) * PX < 20.0 and abs(d.length_m - 100.0) < 25.0 for d in dets) for r, c in centres
                    )
        print(f"{gap:4.0f} {total:5d} | " + " ".join(f"{two[r] / total:6.3f}/{right[r] / total:.3f}" for r in rules))


if __name__ == "__main__":
    main()
