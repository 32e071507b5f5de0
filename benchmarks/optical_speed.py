"""Speed of the optical detector on a 10,000 x 10,000 four-band scene.

    python benchmarks/optical_speed.py [--size 10000] [--workers 2] [--pixel 3]

The scene is a mosaic of the sen2ships Sentinel-2 port scenes (real port
texture everywhere: quays, basins, ships, so no tile can be skipped for
lack of water; a worst case) or, without the datasets, a synthetic harbour
pattern. It is held in memory as float32 reflectance and read by window, so
the figure is the detector's, not the disk's. Printed: seconds for the whole
scene with ``--workers`` threads and with one, and as a baseline measured in
the same run the cost of one NDWI pass plus one 3x3 mean filter over the
scene (the least any per-pixel detector must spend).

The machine is shared, so the load average is printed before and after, and
so is the CPU time the detector used (this process and its worker
processes): CPU seconds / workers is what the run would take on that many
idle cores with perfect sharing of tiles, an estimate the wall clock of a
loaded machine cannot give.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sitewatch.detect import optical  # noqa: E402
from sitewatch.detect.optical import OBJECT_FEATURE_NAMES, OpticalParams, scene_stats  # noqa: E402
from sitewatch.detect.optical_image import detect_optical_tiled  # noqa: E402
from sitewatch.detect.optical_water import ndwi  # noqa: E402

NAMES = ("blue", "green", "red", "nir")


def mosaic(size: int) -> tuple[dict[str, NDArray[np.float32]], str]:
    """Four float32 bands of ``size`` x ``size`` pixels tiled from the port scenes."""
    try:
        from _sen2ships import load_port, port_names

        names = [n for n in port_names() if n != "santos"]  # santos has no blue band
    except Exception:  # no datasets: synthetic basins and piers
        names = []
    out = {k: np.empty((size, size), np.float32) for k in NAMES}
    if names:
        ports = [load_port(n).bands for n in names]
        r = 0
        i = 0
        while r < size:
            c = 0
            row_h = 0
            while c < size:
                b = ports[i % len(ports)]
                i += 1
                h, w = b["green"].shape
                hh, ww = min(h, size - r), min(w, size - c)
                for k in NAMES:
                    out[k][r : r + hh, c : c + ww] = b[k][:hh, :ww]
                c += ww
                row_h = max(row_h, hh)
            r += row_h
        return out, f"mosaic of {len(names)} sen2ships ports"
    yy, xx = np.mgrid[0:size, 0:size]
    land = ((xx // 700) % 2 == 0) & ((yy // 900) % 3 != 0)
    rng = np.random.default_rng(0)
    for k, (wv, lv) in zip(NAMES, ((0.045, 0.15), (0.04, 0.16), (0.022, 0.17), (0.012, 0.21)), strict=True):
        out[k][:] = np.where(land, lv, wv) + rng.normal(0, 0.004, (size, size)).astype(np.float32)
    return out, "synthetic harbour pattern"


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description="optical detector speed")
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--single", action="store_true", help="also time one worker (slow)")
    ap.add_argument(
        "--deep", type=float, nargs="*", default=[],
        help="also compute the deep-land object features at these radii (m; issue 4 experiment, the object "
        "model still sees the 18 shipped features: the cost of the features alone)",
    )
    ap.add_argument(
        "--texture", action="store_true",
        help="also compute the texture object features (issue 4 experiment; the object model still sees the 18)",
    )
    ap.add_argument(
        "--pixel", type=float, default=8.5,
        help="ground pixel size the scene is given (m); at 5 m or finer the open-water contrast stage runs, "
        "and the same scene is timed again without it",
    )
    args = ap.parse_args()
    params = OpticalParams(deep_radii_m=tuple(args.deep), texture_features=args.texture)
    if args.deep or args.texture:
        shipped = optical.object_scores
        n = len(OBJECT_FEATURE_NAMES)
        optical.object_scores = lambda x, model: shipped(x[:, :n], model)  # type: ignore[assignment]
    bands, what = mosaic(args.size)
    shape = (args.size, args.size)
    pixel = (args.pixel, args.pixel)

    def read(win: tuple[int, int, int, int]) -> tuple[dict[str, NDArray[np.float32]], NDArray[np.bool_], None]:
        r0, r1, c0, c1 = win
        sub = {k: v[r0:r1, c0:c1] for k, v in bands.items()}
        return sub, np.ones((r1 - r0, c1 - c0), bool), None

    t0 = time.perf_counter()
    idx = ndwi(bands["green"], bands["nir"])
    ndimage.uniform_filter(idx, 3)
    base = time.perf_counter() - t0
    step = max(1, args.size // 1000)
    stats = scene_stats({k: v[::step, ::step] for k, v in bands.items()})
    print(f"scene: {args.size} x {args.size} x 4 float32 ({what}), pixel {pixel[0]} m; {args.workers} worker(s)"
          + (f"; deep-land features at {args.deep} m" if args.deep else "")
          + ("; texture features" if args.texture else ""))
    print(f"baseline (NDWI + 3x3 mean): {base:6.1f} s")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    dets, cloud, _ = detect_optical_tiled(read, shape, pixel, stats, params=params, workers=args.workers)
    t = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu0
    print(f"detector, {args.workers} worker(s):   {t:6.1f} s  ({t / base:4.1f}x baseline; "
          f"{t / (shape[0] * shape[1] / 1e6) * 1000:.0f} ms per megapixel; {len(dets)} detections)")
    print(f"detector CPU time:      {cpu:6.1f} s  (/ {args.workers} workers = {cpu / args.workers:.1f} s on idle cores)")
    print("load average after:  {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.pixel <= params.contrast_max_pixel_m:
        t0 = time.perf_counter()
        without = detect_optical_tiled(
            read, shape, pixel, stats, params=replace(params, contrast_max_pixel_m=0.0), workers=args.workers
        )[0]
        t2 = time.perf_counter() - t0
        print(f"without the contrast stage: {t2:6.1f} s  ({len(without)} detections; the stage costs {t / t2:.2f}x)")
    if args.single and args.workers != 1:
        t0 = time.perf_counter()
        detect_optical_tiled(read, shape, pixel, stats, params=params, workers=1)
        t1 = time.perf_counter() - t0
        print(f"detector, 1 worker:     {t1:6.1f} s  (threads give {t1 / t:.1f}x)")


if __name__ == "__main__":
    main()
