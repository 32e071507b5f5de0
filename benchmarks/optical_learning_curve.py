"""Learning curve of the image-only optical detector on sen2ships: held-out F1 against training ports.

    python benchmarks/optical_learning_curve.py                      # k = 2 4 7 10, two draws each
    python benchmarks/optical_learning_curve.py --k 3 7 --draws 1    # the short version
    python benchmarks/optical_learning_curve.py --cache /tmp/optical_curve   # keep the models, reuse them

Would labelling more ports lift the detector (issue 4)? For each port with
imagery as the held-out port, both learned stages are trained exactly as
the leave-one-port-out folds of ``optical_sen2ships.py`` train them
(``optical_train.fit``, training seed ``--seed``) but on a random subset of
k of the other ports, and the real detector (``detect_optical`` at the
``OpticalParams`` defaults) is run on the held-out port and scored with
``optical_sen2ships.score``; TP/FP/FN are pooled over the held-out ports.
k = all the other ports (10) is the existing fold, one run (it must give
``optical_sen2ships.py``'s pooled figures). The subsets are drawn with a
generator seeded from (k, draw, held-out port name), so they are the same on
every run and do not change when another k is added. In-sample figures: each
model's own training ports scored by it, pooled over the models of that k
and draw, so the gap between train and held out is visible.

A curve is then fitted to the held-out pooled F1 of every (k, draw) point:
linear in log k (with a bootstrap over held-out ports for its spread) and
saturating, F1 = a - b k^-c, and the k at which each would reach 0.6 and
0.8 if the trend held is printed. Few points and a wide spread: read it
as a direction, not a forecast.

``--cache DIR`` keeps every model as ``DIR/k{k}_d{draw}_s{seed}_{port}.npz``;
a model already there is reused, so a cache must be cleared when the
detector or ``optical_train.fit`` changes. Fits take 2-25 s each (k = 2 ... 10).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sen2ships import port_names, select_ports  # noqa: E402
from optical_sen2ships import Score, pooled, score  # noqa: E402
from optical_train import Prepared, fit, prepare, save  # noqa: E402
from sitewatch.detect.optical import OpticalParams, detect_optical  # noqa: E402

DRAW_SEED = 4
"""Seed of the training-port draws (issue 4), fixed so every run draws the same subsets."""
TARGETS = (0.6, 0.8)
BOOTSTRAP = 2000


@dataclass(frozen=True)
class Run:
    """One model: its held-out port, training ports and scores."""

    held: str
    k: int
    draw: int
    train: tuple[str, ...]
    held_out: Score
    in_sample: tuple[Score, ...]
    """One score per training port, in ``train`` order."""


def draw_ports(others: list[str], k: int, draw: int, held: str) -> tuple[str, ...]:
    """``k`` of ``others`` (sorted), the same for the same (k, draw, held-out port) on every run."""
    if k >= len(others):
        return tuple(others)
    rng = np.random.default_rng([DRAW_SEED, k, draw, zlib.crc32(held.encode())])
    pick = rng.choice(len(others), size=k, replace=False)
    return tuple(others[i] for i in sorted(pick))


def model_path(folder: Path, held: str, k: int, draw: int, seed: int) -> Path:
    return folder / f"k{k}_d{draw}_s{seed}_{held}.npz"


def fitted(path: Path, ports: list[Prepared], params: OpticalParams, seed: int) -> Path:
    """Fit (unless cached) and write atomically, so an interrupted run leaves no half-written model."""
    if not path.exists():
        tmp = path.with_name(path.stem + ".partial.npz")
        save(fit(ports, params, seed=seed), tmp)
        os.replace(tmp, path)
    return path


def detect_score(d: Prepared, params: OpticalParams) -> Score:
    port = d.port
    return score(port, detect_optical(port.bands, port.pixel_size, params=params))


def _prf(s: Score) -> str:
    return f"{s.tp:4d} {s.fp:4d} {s.fn:4d}  {s.precision:5.2f} {s.recall:5.2f} {s.f1:5.2f}"


def fit_log_linear(k: NDArray[np.float64], f1: NDArray[np.float64]) -> tuple[float, float]:
    """Least-squares F1 = alpha + beta ln k; returns (alpha, beta)."""
    beta, alpha = np.polyfit(np.log(k), f1, 1)
    return float(alpha), float(beta)


def k_log_linear(alpha: float, beta: float, target: float) -> float:
    """k where alpha + beta ln k reaches ``target`` (inf when the slope is not positive)."""
    if beta <= 0 or (target - alpha) / beta > 700:  # exp would overflow
        return float("inf")
    return float(np.exp((target - alpha) / beta))


def fit_saturating(k: NDArray[np.float64], f1: NDArray[np.float64]) -> tuple[float, float, float] | None:
    """Least-squares F1 = a - b k^-c (a <= 1, b >= 0, 0.05 <= c <= 3); None when it does not converge."""
    from scipy.optimize import curve_fit

    try:
        (a, b, c), _ = curve_fit(
            lambda x, a, b, c: a - b * x ** (-c),
            k,
            f1,
            p0=(0.6, 0.5, 0.5),
            bounds=([0.0, 0.0, 0.05], [1.0, 10.0, 3.0]),
            maxfev=20_000,
        )
    except (RuntimeError, ValueError):
        return None
    return float(a), float(b), float(c)


def k_saturating(a: float, b: float, c: float, target: float) -> float:
    """k where a - b k^-c reaches ``target`` (inf when the asymptote a is below it)."""
    if a <= target or b <= 0:
        return float("inf")
    return float(((a - target) / b) ** (-1.0 / c))


def _k(x: float) -> str:
    return "never" if not np.isfinite(x) else (f"{x:.0f}" if x < 1e4 else f"{x:.1e}")


def curve_report(runs: list[Run], held: list[str]) -> None:
    """Fit both curves to the held-out pooled F1 of every (k, draw) and bootstrap the log-linear one."""
    points = sorted({(r.k, r.draw) for r in runs})
    if len({k for k, _ in points}) < 2:
        print("\none k only: no curve to fit")
        return
    counts = {(r.held, r.k, r.draw): (r.held_out.tp, r.held_out.fp, r.held_out.fn) for r in runs}
    inside = {(r.k, r.draw): pooled([s for q in runs if (q.k, q.draw) == (r.k, r.draw) for s in q.in_sample]).f1 for r in runs}
    table = np.array([[counts[(h, k, d)] for h in held] for k, d in points], dtype=np.float64)  # (points, ports, 3)
    ks = np.array([k for k, _ in points], dtype=np.float64)

    def f1_of(t: NDArray[np.float64]) -> NDArray[np.float64]:
        tp, fp, fn = t[..., 0], t[..., 1], t[..., 2]
        return 2 * tp / np.maximum(1.0, 2 * tp + fp + fn)

    f1 = f1_of(table.sum(axis=1))
    alpha, beta = fit_log_linear(ks, f1)
    resid = f1 - (alpha + beta * np.log(ks))
    print(f"\ncurve fitted to {len(points)} held-out points (k, draw): pooled F1 against k")
    print(
        f"  linear in ln k: F1 = {alpha:.3f} + {beta:.3f} ln k  (+{beta * np.log(2):.3f} per doubling of k; "
        f"rms residual {np.sqrt(np.mean(resid**2)):.3f})"
    )
    print("    would reach " + ", ".join(f"{t:.1f} at k ~ {_k(k_log_linear(alpha, beta, t))}" for t in TARGETS))
    ai, bi = fit_log_linear(ks, np.array([inside[p] for p in points]))
    print(f"  in-sample, linear in ln k: F1 = {ai:.3f} + {bi:.3f} ln k  ({bi * np.log(2):+.3f} per doubling)")
    if beta > bi:
        lk = (ai - alpha) / (beta - bi)
        print(
            f"    the two lines meet at k ~ {_k(float(np.exp(lk)))}, F1 ~ {alpha + beta * lk:.2f}: held-out F1 "
            "seldom climbs past in-sample F1, so with these features and this model that is about its ceiling"
        )
    else:
        print("    the two lines do not meet (held out rises no faster than in-sample)")
    rng = np.random.default_rng(0)
    boot_beta, boot_k = [], {t: [] for t in TARGETS}
    for _ in range(BOOTSTRAP):
        pick = rng.integers(0, len(held), len(held))
        a, b = fit_log_linear(ks, f1_of(table[:, pick].sum(axis=1)))
        boot_beta.append(b * np.log(2))
        for t in TARGETS:
            boot_k[t].append(k_log_linear(a, b, t))
    lo, hi = np.percentile(boot_beta, [10, 90])
    print(f"    bootstrap over the {len(held)} held-out ports ({BOOTSTRAP}x), 10-90 %: per doubling {lo:+.3f} .. {hi:+.3f}")
    for t in TARGETS:
        q = np.percentile(np.asarray(boot_k[t]), [10, 50, 90], method="nearest")  # k may be inf
        print(f"      k for {t:.1f}: {_k(q[0])} .. {_k(q[2])} (median {_k(q[1])})")
    sat = fit_saturating(ks, f1)
    if sat is None:
        print("  saturating a - b k^-c: did not converge")
    else:
        a, b, c = sat
        print(f"  saturating: F1 = {a:.3f} - {b:.3f} k^-{c:.2f} (asymptote {a:.2f})")
        if a >= 1.0 - 1e-6 or c <= 0.05 + 1e-6:
            print("    (a or c at its bound: the points do not pin an asymptote; the curve is the log line again)")
        print("    would reach " + ", ".join(f"{t:.1f} at k ~ {_k(k_saturating(a, b, c, t))}" for t in TARGETS))


def main() -> None:
    ap = argparse.ArgumentParser(description="optical detector: learning curve over training ports (sen2ships)")
    ap.add_argument("--k", type=int, nargs="+", default=[2, 4, 7, 10], help="training-port counts")
    ap.add_argument("--draws", type=int, default=2, help="random port subsets per k (one when k takes every port)")
    ap.add_argument("--seed", type=int, default=0, help="training seed of every model (as optical_sen2ships --seed)")
    ap.add_argument("--ports", nargs="*", default=None, help="held-out ports (default every port)")
    ap.add_argument("--cache", type=Path, default=None, help="keep the models here and reuse them")
    args = ap.parse_args()
    held = select_ports(args.ports)
    everyone = port_names()
    top = len(everyone) - 1
    bad = [k for k in args.k if not 1 <= k <= top]
    if bad or args.draws < 1:
        sys.exit(f"--k must lie in 1..{top} (the other ports) and --draws be at least 1; got --k {args.k} --draws {args.draws}")
    ks = sorted(set(args.k))
    params = OpticalParams()
    print(f"learning curve on sen2ships: {len(held)} held-out ports, k = {ks}, {args.draws} draw(s), seed {args.seed}")
    t0 = time.perf_counter()
    prepared = {n: prepare(n) for n in everyone}
    print(f"features of {len(prepared)} ports: {time.perf_counter() - t0:.0f} s")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.cache or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print("\nheld-out port  k draw  training ports                          tp   fp   fn   prec  rec   F1   | in-sample F1  s")
        for k in ks:
            for draw in range(1 if k == top else args.draws):
                for n in held:
                    t1 = time.perf_counter()
                    train = draw_ports([p for p in everyone if p != n], k, draw, n)
                    path = fitted(
                        model_path(folder, n, k, draw, args.seed), [prepared[p] for p in train], params, args.seed
                    )
                    run_params = replace(params, model=str(path))
                    r = Run(
                        n,
                        k,
                        draw,
                        train,
                        detect_score(prepared[n], run_params),
                        tuple(detect_score(prepared[p], run_params) for p in train),
                    )
                    runs.append(r)
                    names = ",".join(p[:4] for p in train)
                    print(
                        f"{n:<13} {k:2d} {draw:3d}   {names:<38} {_prf(r.held_out)} | "
                        f"{pooled(list(r.in_sample)).f1:5.2f} {time.perf_counter() - t1:5.1f}",
                        flush=True,
                    )
    print(f"\npooled over {len(held)} held-out ports (P/R/F1 'mean' = mean of the draws' pooled figures)")
    print(" k  draw      tp   fp   fn   prec  rec   F1   | in-sample tp   fp   fn   prec  rec   F1")
    summary = []
    for k in ks:
        per_draw = []
        for draw in sorted({r.draw for r in runs if r.k == k}):
            sel = [r for r in runs if r.k == k and r.draw == draw]
            h = pooled([r.held_out for r in sel])
            i = pooled([s for r in sel for s in r.in_sample])
            per_draw.append((h, i))
            print(f"{k:2d} {draw:5d}    {_prf(h)} |         {_prf(i)}")
        mean = [np.mean([getattr(h, f) for h, _ in per_draw]) for f in ("precision", "recall", "f1")]
        summary.append((k, mean, [h.f1 for h, _ in per_draw], float(np.mean([i.f1 for _, i in per_draw]))))
    print("\n k  held-out P    R     F1 (mean)  F1 of each draw          in-sample F1 (mean)  gap")
    for k, (p, r, f), each, ins in summary:
        print(f"{k:2d}  {p:9.2f} {r:5.2f} {f:6.2f}      {' '.join(f'{x:.2f}' for x in each):<24} {ins:6.2f}  {ins - f:+.2f}")
    print("\nheld-out F1 by port (mean of the draws)")
    print(f"{'port':<12} " + " ".join(f"k={k:<4d}" for k in ks))
    for n in held:
        row = [np.mean([r.held_out.f1 for r in runs if r.held == n and r.k == k]) for k in ks]
        print(f"{n:<12} " + " ".join(f"{x:6.2f}" for x in row))
    curve_report(runs, held)


if __name__ == "__main__":
    main()
