"""Speed of optical change detection: ``detect_changes`` now against its IR-MAD as first merged, same run.

    python benchmarks/change_speed.py            # a synthetic 1000 × 1000 pair, then the OSCD cities if present
    python benchmarks/change_speed.py --repeat 3
    python benchmarks/change_speed.py --versions   # irmad-cva 3 (its class-centred test) against 2, same run

Both paths run :func:`sitewatch.change.detect_changes` with its defaults on the same pairs; the old
path swaps in :func:`_irmad_weights_v1` below (the IR-MAD loop as merged: separate covariances of
each date, ``scipy.linalg.solve`` on the 4 × 4 matrices, ``scipy.special.chdtrc``), which the
profile showed took 80 % of the time. Printed per pair set: seconds per megapixel of each path (the
best of ``--repeat`` runs), their ratio, and how many changed pixels differ between the two (the
rewrite computes the same quantities in another order: floating-point noise only).

``--versions`` times the shipped ``detect_changes`` against the same with ``classes=0`` (version 2's test:
no spectral classes) on the same pairs, and counts the changed pixels version 3 drops.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _irmad_weights_v1(x: NDArray[np.floating], y: NDArray[np.floating], *, iterations: int = 50, tol: float = 1e-4) -> NDArray[np.float64]:
    """IR-MAD as first merged (kept here only for this comparison)."""
    from scipy import linalg, special

    X, Y = np.ascontiguousarray(x, np.float64), np.ascontiguousarray(y, np.float64)
    n, p = X.shape
    w = np.ones(n)
    last = np.full(p, -1.0)
    for _ in range(iterations):
        sw = w.sum()
        Xc, Yc = X - (w @ X) / sw, Y - (w @ Y) / sw
        Xw, Yw = Xc * w[:, None], Yc * w[:, None]
        sxx, syy, sxy = Xw.T @ Xc / sw, Yw.T @ Yc / sw, Xw.T @ Yc / sw
        ridge = 1e-12 * np.eye(p)
        try:
            r2, a = linalg.eigh(sxy @ linalg.solve(syy + ridge, sxy.T), sxx + ridge)
        except (linalg.LinAlgError, ValueError):
            break
        b = linalg.solve(syy + ridge, sxy.T @ a)
        b /= np.sqrt(np.maximum(np.einsum("ij,ij->j", b, syy @ b), 1e-300))
        b *= np.sign(np.einsum("ij,ij->j", a, sxy @ b))
        rho = np.sqrt(np.clip(r2, 0.0, 1.0))
        mad = Xc @ a - Yc @ b
        z = (mad**2 / np.maximum(2.0 * (1.0 - rho), 1e-12)).sum(axis=1)
        new = special.chdtrc(p, z)
        if not np.isfinite(new).all() or new.sum() < 1e-9 * n:
            break
        w = new
        if float(np.max(np.abs(rho - last))) < tol:
            break
        last = rho
    return w


Pairs = list[tuple[str, NDArray[np.float32], NDArray[np.float32], tuple[str, ...]]]


def synthetic(size: int = 1000, seed: int = 3) -> Pairs:
    """A textured 4-band 10 m scene, the later date in other light, with a few dozen patches changed."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    texture = ndimage.gaussian_filter(rng.normal(size=(size, size)), 4) * 8
    before = np.array([0.06, 0.08, 0.09, 0.25])[:, None, None] * (1 + 0.3 * texture)
    after = before * rng.uniform(0.9, 1.1, (4, 1, 1)) + 0.01
    for _ in range(40):
        r, c = rng.integers(0, size - 20, 2)
        after[:, r : r + 15, c : c + 15] = rng.uniform(0.05, 0.3, (4, 1, 1))
    before = before + rng.normal(0, 0.003, before.shape)
    after = after + rng.normal(0, 0.003, after.shape)
    return [(f"synthetic {size}x{size}", before.astype(np.float32), after.astype(np.float32), ("blue", "green", "red", "nir"))]


def oscd() -> Pairs:
    import change_oscd

    if not change_oscd.IMAGES.is_dir():
        return []
    return [(p.name, p.before, p.after, p.bands) for p in (change_oscd.oscd_pair(c) for c in change_oscd.OSCD_CITIES)]


def _run(pair: tuple[str, NDArray[np.float32], NDArray[np.float32], tuple[str, ...]], irmad: Callable[..., NDArray[np.float64]],
         **kwargs: int) -> tuple[float, NDArray[np.bool_]]:  # fmt: skip
    from sitewatch import change
    from sitewatch.change import optical  # whose statistics call irmad_weights
    from sitewatch.model import Grid

    _, before, after, bands = pair
    h, w = before.shape[1:]
    grid = Grid("EPSG:32631", (10.0, 0.0, 500_000.0, 0.0, -10.0, 5_000_000.0), w, h)
    keep = optical.irmad_weights
    optical.irmad_weights = irmad  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        # The statistics' speed (versions 2 and 3): the learned score's cost is change_image_tile.py --compare-learned's.
        res = change.detect_changes(change.ChangeImage(before, grid, "optical", bands), change.ChangeImage(after, grid, "optical", bands),
                                     **{"learned": False} | kwargs)  # type: ignore[arg-type]
        return time.perf_counter() - t0, res.changed
    finally:
        optical.irmad_weights = keep  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each path per pair; the best counts")
    parser.add_argument("--versions", action="store_true", help="irmad-cva 3 against its test without classes (version 2)")
    args = parser.parse_args()
    from sitewatch import change

    new = change.irmad_weights
    _run(synthetic(200)[0], new)  # imports and caches out of the timing
    old_run = partial(_run, irmad=new, classes=0) if args.versions else partial(_run, irmad=_irmad_weights_v1)
    head = ("v2 s/Mpx", "v3 s/Mpx", "v3 / v2", "pixels v3 drops") if args.versions else ("old s/Mpx", "new s/Mpx", "speed-up", "pixels differing")
    print(f"{'pairs':<26} {'Mpx':>6} {head[0]:>10} {head[1]:>10} {head[2]:>9} {head[3]:>17}")
    for title, pairs in (("synthetic", synthetic()), ("OSCD (6 cities)", oscd())):
        if not pairs:
            continue
        mpx = sum(p[1][0].size for p in pairs) / 1e6
        t_old = t_new = 0.0
        differ = 0
        for pair in pairs:
            olds = [old_run(pair) for _ in range(args.repeat)]
            news = [_run(pair, new) for _ in range(args.repeat)]
            t_old += min(t for t, _ in olds)
            t_new += min(t for t, _ in news)
            differ += int((olds[0][1] != news[0][1]).sum())
        ratio = t_new / t_old if args.versions else t_old / t_new
        print(f"{title:<26} {mpx:6.2f} {t_old / mpx:10.2f} {t_new / mpx:10.2f} {ratio:8.2f}x {differ:17d}")


if __name__ == "__main__":
    main()
