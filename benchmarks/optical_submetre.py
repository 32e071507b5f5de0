"""Boxes of a SIMULATED hull at sub-metre to 3 m pixels, the learned stages' candidates against their hulls.

    python benchmarks/optical_submetre.py                 # 0.5, 0.6, 0.8, 1, 1.5, 2, 3 m; four hulls
    python benchmarks/optical_submetre.py --pixel 0.5 0.8

Each hull is drawn by :func:`sitewatch.testing.harbour.harbour_rgb` (8-bit RGB water with noise, a
quay, a grey hull with a white superstructure, a dark freeboard and a cast shadow) and detected as
``detect-image`` detects an 8-bit file. For each pixel size it prints the drawn size, the drawn
hull's own pixels boxed (the best a box of whole pixels can do), the box of the whole candidate
(``hull_max_pixel_m`` 0: as before 5 Dec, measured in the same run) and the box on its hull (the
default), with their errors against the drawn size. Nothing here is real imagery.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from sitewatch.detect.base import PixelDetection, measure_components
from sitewatch.detect.optical import OpticalParams, detect_optical, params_for_dn_scale
from sitewatch.testing.harbour import DrawnHull, harbour_rgb

HULLS = (
    DrawnHull(),
    DrawnHull(turn_deg=0.0),
    DrawnHull(beam_m=20.0, turn_deg=60.0),
    DrawnHull(length_m=120.0, beam_m=22.0, turn_deg=-40.0),
)


def _at(found: list[PixelDetection], hull: DrawnHull, p: float) -> PixelDetection | None:
    """The detection centred within 20 m of the drawn hull's centre (None: none)."""
    near = [d for d in found if abs(d.row * p - hull.row_m) < 20 and abs(d.col * p - hull.col_m) < 20]
    return near[0] if len(near) == 1 else None


def _size(d: PixelDetection | None, hull: DrawnHull) -> str:
    if d is None:
        return f"{'none':>24}"
    dl = 100 * (d.length_m / hull.length_m - 1)
    dw = 100 * (d.width_m / hull.beam_m - 1)
    return f"{d.length_m:6.1f} x {d.width_m:4.1f} ({dl:+4.0f}%,{dw:+4.0f}%)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pixel", type=float, nargs="+", default=[0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0])
    args = ap.parse_args()
    rendering = params_for_dn_scale(OpticalParams(), 255.0)
    whole_params = replace(rendering, hull_max_pixel_m=0.0)
    print("SIMULATED hulls; boxes in metres (length x width), errors against the drawn size")
    print(f"{'drawn':>16} {'turn':>5} {'pixel':>5}  {'its pixels boxed':>16}  {'whole candidate':>24}  {'on its hull':>24}")
    for hull in HULLS:
        for p in args.pixel:
            bands, inside = harbour_rgb(p, hull)
            own = measure_components(inside.astype(np.int32), np.array([1]), p)
            whole = _at(detect_optical(bands, p, params=whole_params), hull, p)
            on_hull = _at(detect_optical(bands, p, params=rendering), hull, p)
            print(
                f"{hull.length_m:7.0f} x {hull.beam_m:4.0f}  {hull.turn_deg:5.0f} {p:5.1f}  "
                f"{own['length_m'][0]:6.1f} x {own['width_m'][0]:5.1f}  {_size(whole, hull)}  {_size(on_hull, hull)}"
            )


if __name__ == "__main__":
    main()
