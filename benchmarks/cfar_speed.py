"""Speed of the SAR detector against a straightforward scipy two-parameter CFAR, same scene, same run.

Run:  python benchmarks/cfar_speed.py [--size 8000] [--ships 300] [--repeat 5]

The scene is synthetic (issue 3: 8,000 × 8,000): 10 m pixels, linear sigma0 sea with
ENL 4.5 gamma speckle, ships 40-300 m at random headings 12-25 dB above the sea. The
baseline computes, for every pixel, the mean and standard deviation of a square
background ring (``scipy.ndimage.uniform_filter`` over the outer and guard windows, the
same sizes in metres as the detector's), thresholds with the same seed / growth rules,
labels, and measures and filters components exactly as the detector does; on 2 cores its
four filters run in two threads (scipy releases the GIL inside them).

Each measurement runs in its own child process pinned to 1 or 2 CPUs
(``os.sched_setaffinity``), so "1 core" means one core and the peak memory is that
run's own: the child's peak resident set while it detects (``VmHWM`` reset after the
scene is made, so the interpreter and the 256 MB input image count, the scene's
temporaries not) and the tracemalloc peak of one run (the detector's allocations, the
input excluded). Printed: megapixels per second (best and median of ``--repeat`` runs
after a warm-up for sitewatch; one run for the baseline, which takes ~20 s), the CPU time
of the fastest run (all threads: less sensitive than wall time to other jobs), the speed
ratio against the baseline on the same number of cores, the peaks, and whether the
detections agree (centroids within one pixel). Then the dual-polarisation path
(:func:`sitewatch.detect.sar_dual.detect_sar_dual`) on the same scene plus a cross-polarised
channel (same ships, sea 8 dB darker, its own speckle): megapixels of scene per second (each
scene pixel is read in two channels) and its peaks, the two input images counted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from sitewatch.detect.base import detections_from_measurements, measure_components
from sitewatch.detect.sar import SarParams, correct_size, detect_sar
from sitewatch.detect.sar_dual import detect_sar_dual

PX = 10.0


def synthetic_scene(size: int, ships: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Sea clutter with rectangular ships; returns the image and the true (row, col) centres."""
    rng = np.random.default_rng(seed)
    img = rng.gamma(4.5, 0.03 / 4.5, size=(size, size)).astype(np.float32)
    centres = []
    for _ in range(ships):
        length = rng.uniform(40, 300) / PX
        width = max(1.0, length * rng.uniform(0.12, 0.18))
        r, c = rng.uniform(60, size - 60, 2)
        theta = math.radians(rng.uniform(0, 180))
        n = 4 * int(length * width) + 8
        a = rng.uniform(-length / 2, length / 2, n)
        w = rng.uniform(-width / 2, width / 2, n)
        rr = np.round(r - a * math.cos(theta) + w * math.sin(theta)).astype(int)
        cc = np.round(c + a * math.sin(theta) + w * math.cos(theta)).astype(int)
        level = 0.03 * 10 ** (rng.uniform(12, 25) / 10)
        img[rr, cc] = (level * rng.gamma(4.5, 1 / 4.5, n)).astype(np.float32)
        centres.append((r, c))
    return img, np.array(centres)


def baseline_cfar(x: np.ndarray, pixel: float, p: SarParams, workers: int = 1) -> list:
    """Per-pixel sliding-window two-parameter CFAR with scipy: the textbook way."""
    g = 2 * math.ceil(p.guard_m / pixel) + 1
    r = 2 * math.ceil(p.background_m / pixel) + 1
    x64 = x.astype(np.float64)
    sq = x64 * x64
    jobs = ((x64, r), (x64, g), (sq, r), (sq, g))

    def box(job: tuple[np.ndarray, int]) -> np.ndarray:
        a, size = job
        return ndimage.uniform_filter(a, size, mode="constant") * size * size

    if workers > 1:
        with ThreadPoolExecutor(workers) as ex:
            s_out, s_in, q_out, q_in = ex.map(box, jobs)
    else:
        s_out, s_in, q_out, q_in = map(box, jobs)
    n = r * r - g * g
    mu = (s_out - s_in) / n
    sd = np.sqrt(np.maximum((q_out - q_in) / n - mu * mu, 0))
    seed = x64 > np.maximum(mu + p.k_seed * sd, mu * 10 ** (p.seed_floor_db / 10))
    grow = x64 > mu + p.k_grow * sd
    lab, nl = ndimage.label(grow, np.ones((3, 3), bool))
    has = np.zeros(nl + 1, bool)
    has[lab[seed]] = True
    has[0] = False
    kept = has[lab]
    k = max(1, round(p.merge_m / pixel))
    joined, nl = ndimage.label(ndimage.binary_dilation(kept, np.ones((k, k), bool)))
    lab = np.where(kept, joined, 0)
    idx = np.arange(1, nl + 1)
    m = measure_components(lab, idx, pixel)
    ok = (
        (m["area_px"] >= p.min_pixels)
        & (m["length_m"] >= p.min_length_m)
        & (m["length_m"] <= p.max_length_m)
        & (m["width_m"] <= p.max_width_m)
        & (m["length_m"] <= p.max_elongation * np.maximum(m["width_m"], pixel))
    )
    sel = {key: v[ok] for key, v in m.items()}
    sel["length_m"], sel["width_m"] = correct_size(sel["length_m"], sel["width_m"], pixel, p.psf_m)
    return detections_from_measurements(sel, np.ones(int(ok.sum())))


CPU_TIMES: list[float] = []
"""Process CPU seconds (all threads) of each timed run of :func:`timed`: on a shared machine
wall time follows the load, CPU time much less."""


def timed(fn: Callable[[], Any], repeat: int = 1, warm: bool = False) -> tuple[Any, list[float], float]:
    """Result, wall times of ``repeat`` runs, tracemalloc peak (MB) of the first run.

    ``warm``: the traced first run is a warm-up and not timed (then ``repeat`` more runs).
    The CPU time of each timed run goes to :data:`CPU_TIMES`.
    """
    CPU_TIMES.clear()
    tracemalloc.start()
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    times = [] if warm else [time.perf_counter() - t]
    if not warm:
        CPU_TIMES.append(time.process_time() - c)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    while len(times) < repeat:
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        CPU_TIMES.append(time.process_time() - c)
    return out, times, peak


def child(which: str, cores: int, size: int, ships: int, repeat: int, out: Path) -> None:
    """One measurement in this process, pinned to ``cores`` CPUs; results as JSON in ``out``."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < cores:
        raise SystemExit(f"need {cores} CPUs, have {len(cpus)}")
    os.sched_setaffinity(0, cpus[:cores])
    img, _ = synthetic_scene(size, ships)
    p = SarParams()
    reset = _reset_peak_rss()  # the scene's float64 temporaries do not count
    if which == "baseline":
        dets, times, peak = timed(lambda: baseline_cfar(img, PX, p, workers=cores), repeat=1)
    elif which == "dual":
        # A cross-polarised channel of the same scene: the same ships and sea 8 dB darker, new speckle.
        cross = (img * np.random.default_rng(8).gamma(4.5, 1 / 4.5 / 6.3, size=img.shape)).astype(np.float32)
        reset = _reset_peak_rss()
        dets, times, peak = timed(lambda: detect_sar_dual(img, cross, PX, workers=cores), repeat=repeat, warm=True)
    else:
        # The first (traced) run also warms caches and imports; the best of the others counts.
        dets, times, peak = timed(lambda: detect_sar(img, PX, workers=cores), repeat=repeat, warm=True)
    rss = _peak_rss_mb() if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.write_text(json.dumps({"t": min(times), "median": float(np.median(times)), "cpu": min(CPU_TIMES), "peak": peak, "rss": rss, "rc": [(d.row, d.col) for d in dets]}), encoding="utf-8")


def _reset_peak_rss() -> bool:
    """Reset this process's peak resident set (Linux ``clear_refs``); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="utf-8")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(which: str, cores: int, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = [sys.executable, __file__, "--child", which, "--cores", str(cores), "--size", str(args.size),
               "--ships", str(args.ships), "--repeat", str(args.repeat), "--out", str(out)]
        subprocess.run(cmd, check=True)
        res: dict[str, Any] = json.loads(out.read_text())
    res["dets"] = [type("D", (), {"row": r, "col": c})() for r, c in res["rc"]]
    return res


def agreement(a: list, b: list) -> tuple[int, int, int, float]:
    """(matched within 1 px, only in a, only in b, largest centroid distance of the matched)."""
    if not a or not b:
        return 0, len(a), len(b), 0.0
    pa = np.array([(d.row, d.col) for d in a])
    pb = np.array([(d.row, d.col) for d in b])
    dist = np.hypot(pa[:, None, 0] - pb[None, :, 0], pa[:, None, 1] - pb[None, :, 1])
    j = dist.argmin(axis=1)
    dmin = dist[np.arange(len(a)), j]
    ok = dmin <= 1.0
    matched = int(ok.sum())
    return matched, len(a) - matched, len(b) - len(set(j[ok].tolist())), float(dmin[ok].max(initial=0.0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--size", type=int, default=8000)
    ap.add_argument("--ships", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cores", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--child", choices=("baseline", "sitewatch", "dual"), help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.cores, args.size, args.ships, args.repeat, args.out)
        return 0
    mpix = args.size * args.size / 1e6
    print(f"scene {args.size} x {args.size} ({mpix:.0f} Mpix), {args.ships} ships, 10 m pixels; load {os.getloadavg()[0]:.2f} before")
    runs = {}
    for cores in (1, 2):
        base = run_child("baseline", cores, args)
        ours = run_child("sitewatch", cores, args)
        runs[cores] = (base, ours)
        for name, r in (("baseline scipy two-parameter CFAR", base), ("sitewatch detect_sar            ", ours)):
            print(f"{name} ({cores} core{'s' if cores > 1 else ' '}): {r['t']:7.2f} s {mpix / r['t']:8.1f} Mpix/s (median {mpix / r['median']:6.1f}, CPU {r['cpu']:5.2f} s)"
                  f"  peak RSS {r['rss']:6.0f} MB  tracemalloc {r['peak']:6.0f} MB  {len(r['dets'])} detections")
        matched, only_ours, only_base, dmax = agreement(ours["dets"], base["dets"])
        print(f"  {cores} core{'s' if cores > 1 else ''}: x{base['t'] / ours['t']:.1f} baseline; agreement {matched} matched within 1 px"
              f" (max {dmax:.2f} px), {only_ours} only sitewatch, {only_base} only baseline")
    for cores in (1, 2):
        r = run_child("dual", cores, args)
        print(f"sitewatch detect_sar_dual (VV+VH, {cores} core{'s' if cores > 1 else ' '}): {r['t']:7.2f} s {mpix / r['t']:8.1f} Mpix/s of scene (median {mpix / r['median']:6.1f}, CPU {r['cpu']:5.2f} s)"
              f"  peak RSS {r['rss']:6.0f} MB  tracemalloc {r['peak']:6.0f} MB  {len(r['dets'])} detections")
    img, truth = synthetic_scene(args.size, args.ships)
    del img
    found = agreement(runs[2][1]["dets"], [type("T", (), {"row": r, "col": c})() for r, c in truth])
    print(f"(ships recovered by sitewatch within 1 px of the drawn centre: {found[0]}/{len(truth)}); load {os.getloadavg()[0]:.2f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
