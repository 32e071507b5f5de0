"""Why scene-relative object features and the watershed split did not carry (opt5, issue 4).

    python benchmarks/optical_scene_relative.py --cache /tmp/opt5/base [--seed 0]

Needs a cache of ``benchmarks/optical_objects.py`` (its ``pix_*`` and ``cand_*``
files at that seed), e.g. after
``python benchmarks/optical_objects.py --variants mlp --cache /tmp/opt5/base``.

1. Shift and ranking: for each of the twelve radiometric/context object
   features, raw and as per-scene robust z-scores (``optical_objects.robust_z``),
   the pooled univariate ROC AUC for "candidate is a labelled ship", the range
   of per-port AUC (the same for both: a per-scene monotone transform leaves a
   port's ranking alone), and the spread of the ports' median over their ships
   in units of the pooled standard deviation (the port-to-port shift the
   z-scores remove). Each port's candidates come from the fold holding out the
   next port (a pixel model that saw it, as the object stage is trained).
2. Recall ceiling: each port under its own fold's pixel model (trained without
   it), the ships with a candidate centroid in their box, plain candidates
   against plain + the pieces of ``optical_objects.watershed_pieces``.

Figures: BENCHMARKS.md, "Scene-relative features and watershed split".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optical_objects as oo  # noqa: E402
from _sen2ships import select_ports  # noqa: E402
from optical_train import prepare  # noqa: E402
from sitewatch.detect import optical  # noqa: E402
from sitewatch.detect.optical import OBJECT_FEATURE_NAMES, OpticalParams  # noqa: E402


def shift_and_ranking(folder: Path, seed: int) -> None:
    """Print part 1 of the module doc."""
    names = select_ports()
    xs, zs, ys = [], [], []
    for i, k in enumerate(names):
        n = names[(i + 1) % len(names)]
        with np.load(folder / f"cand_{n}_s{seed}_{k}.npz") as f:
            x, y = f["x"], f["y"]
        xs.append(x[:, list(oo.RANKED)])
        zs.append(oo.robust_z(x))
        ys.append(y)
    big_x, big_z, big_y = np.concatenate(xs), np.concatenate(zs), np.concatenate(ys)
    print(f"{len(big_y)} candidates, {int(big_y.sum())} on ships")
    print(f"{'feature':<18} AUC raw   AUC rz   per-port AUC   port shift of ship medians raw / rz")
    for j, c in enumerate(oo.RANKED):
        per = [oo.roc_auc(x[:, j], y) for x, y in zip(xs, ys, strict=True)]
        print(
            f"{OBJECT_FEATURE_NAMES[c]:<18} {oo.roc_auc(big_x[:, j], big_y):.3f}     {oo.roc_auc(big_z[:, j], big_y):.3f}    "
            f"{np.nanmin(per):.2f}-{np.nanmax(per):.2f}      {_shift(xs, ys, j, big_x):.2f} / {_shift(zs, ys, j, big_z):.2f}"
        )


def _shift(parts: list[NDArray], ys: list[NDArray], j: int, pooled: NDArray) -> float:
    """Standard deviation of the ports' median of column ``j`` over their ships, over the pooled one."""
    med = [np.median(p[y > 0.5, j]) for p, y in zip(parts, ys, strict=True) if (y > 0.5).any()]
    return float(np.std(med) / (np.std(pooled[:, j]) + 1e-12))


def recall_ceiling(folder: Path, seed: int) -> None:
    """Print part 2 of the module doc."""
    params = OpticalParams()
    plain = optical.multi_candidates
    tot = np.zeros(4, int)
    print(f"{'port':<11} ships  candidates covered  +pieces covered")
    for n in select_ports():
        d = prepare(n)
        model = optical._load_model(str(folder / f"pix_{n}_s{seed}.npz"))
        row = []
        for mc in (plain, oo.with_wsplits):
            optical.multi_candidates = mc  # type: ignore[assignment]
            try:
                c = oo.candidates(d, model, params)
            finally:
                optical.multi_candidates = plain  # type: ignore[assignment]
            b = d.port.boxes
            cx, cy = c["col"][None, :] + 0.5, c["row"][None, :] + 0.5
            inside = (b[:, 0:1] <= cx) & (cx <= b[:, 2:3]) & (b[:, 1:2] <= cy) & (cy <= b[:, 3:4])
            row += [len(c["col"]), int(inside.any(axis=1).sum())]
        tot += row
        print(f"{n:<11} {len(d.port.boxes):5d}  {row[0]:10d} {row[1]:7d}  {row[2]:7d} {row[3]:7d}", flush=True)
    print(f"{'total':<11}        {tot[0]:10d} {tot[1]:7d}  {tot[2]:7d} {tot[3]:7d}")


def main() -> None:
    ap = argparse.ArgumentParser(description="scene-relative features and watershed split: diagnostics")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/opt5/base"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    shift_and_ranking(args.cache, args.seed)
    print()
    recall_ceiling(args.cache, args.seed)


if __name__ == "__main__":
    main()
