"""Train the SAR ship/clutter candidate model on the 8-bit box chips; print held-out figures.

Run:  python benchmarks/sar_train.py [--datasets DIR] [--write]

Candidates are the detector's own (``classify_8bit`` off) on the SAR-Ship-Dataset
samples (nominal 5 m) and the HRSID samples (nominal 1 m); a candidate is a ship
when its centroid falls inside a labelled box (one-to-one, as in
``benchmarks/sar_real.py``). The model is a logistic regression (L2, Newton
iterations, numpy) over :func:`sitewatch.detect.sar.candidate_vector`.

Held-out figures, box-level P/R/F1 with the model's 0.5 cut:

* leave-one-chip-out: each chip scored by a model fitted on the other chips;
* cross-dataset: fitted on one dataset, scored on the other (the harsher test:
  other sensor, other rendering, other pixel size).

``--write`` fits on every chip and writes ``src/sitewatch/data/sar_candidate_lr.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from sar_real import DEFAULT_DATASETS, Counts, hrsid_chips, ssdd_chips
from sitewatch.detect.sar import (
    CANDIDATE_FEATURES,
    MODEL_FILE,
    SarParams,
    candidate_probability,
    candidate_vector,
    detect_sar_with_features,
)

OUT = Path(__file__).resolve().parents[1] / "src" / "sitewatch" / "data" / MODEL_FILE
L2 = 1.0
"""Ridge penalty on the standardised weights."""


def labelled_candidates(chips: list, pixel: float, group: str) -> list[tuple[str, str, list[float], int, int]]:
    """(dataset, chip, vector, is_ship, boxes in chip) per candidate; boxes without candidates as vector-less rows."""
    rows = []
    params = SarParams(classify_8bit=False)
    for name, img, boxes in chips:
        found = detect_sar_with_features(img, pixel, params=params)
        used = [False] * len(boxes)
        for d, ft in sorted(found, key=lambda x: -x[0].score):
            hit = -1
            best = math.inf
            for i, (x0, y0, x1, y1) in enumerate(boxes):
                if used[i] or not (x0 - 0.5 <= d.col <= x1 + 0.5 and y0 - 0.5 <= d.row <= y1 + 0.5):
                    continue
                dd = (d.col - (x0 + x1) / 2) ** 2 + (d.row - (y0 + y1) / 2) ** 2
                if dd < best:
                    hit, best = i, dd
            if hit >= 0:
                used[hit] = True
            rows.append((group, name, candidate_vector(ft), int(hit >= 0), len(boxes)))
        if not found:
            rows.append((group, name, [], 0, len(boxes)))
    return rows


def fit(x: np.ndarray, y: np.ndarray) -> dict[str, object]:
    """L2-regularised logistic regression on standardised features (Newton's method).

    Classes are weighted to equal total weight (ships are about one candidate in ten), so
    the 0.5 cut balances missed ships against kept clutter instead of favouring clutter.
    """
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-9
    z = np.column_stack([np.ones(len(x)), (x - mean) / std])
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], L2)
    reg[0] = 0.0
    pos = max(float(y.sum()), 1.0)
    sw = np.where(y > 0, 0.5 * len(y) / pos, 0.5 * len(y) / max(len(y) - pos, 1.0))
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        g = z.T @ (sw * (p - y)) + reg * w
        h = (z * (sw * p * (1 - p))[:, None]).T @ z + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return {"features": list(CANDIDATE_FEATURES), "mean": mean.tolist(), "std": std.tolist(), "coef": w[1:].tolist(), "intercept": float(w[0])}


def score(rows: list, keep: np.ndarray) -> Counts:
    """Box-level counts when only candidates with ``keep`` are reported."""
    c = Counts()
    seen: dict[str, int] = {}
    for (_, chip, vec, ship, nbox), k in zip(rows, keep, strict=True):
        seen[chip] = nbox
        if not vec:
            continue
        if k:
            c.add((1, 0, 0) if ship else (0, 1, 0))
    c.fn = sum(seen.values()) - c.tp
    return c


def as_model(m: dict[str, object]) -> dict[str, object]:
    return {k: np.asarray(v) if isinstance(v, list) else v for k, v in m.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    rows = labelled_candidates(ssdd_chips(args.datasets), 5.0, "sar-ship-dataset") + labelled_candidates(
        hrsid_chips(args.datasets), 1.0, "hrsid"
    )
    has = np.array([bool(r[2]) for r in rows])
    x = np.array([r[2] if r[2] else [0.0] * len(CANDIDATE_FEATURES) for r in rows], dtype=np.float64)
    y = np.array([r[3] for r in rows], dtype=np.float64)
    chips = np.array([r[1] for r in rows])
    groups = np.array([r[0] for r in rows])
    print(f"candidates {int(has.sum())} (ships {int(y[has].sum())}) on {len(set(chips))} chips")
    everything = score(rows, has)
    print("no model (every candidate)        P {:.3f}  R {:.3f}  F1 {:.3f}".format(*everything.prf()))
    prob = np.zeros(len(rows))
    for chip in sorted(set(chips)):
        tr = has & (chips != chip)
        te = has & (chips == chip)
        if te.any():
            prob[te] = candidate_probability(x[te], as_model(fit(x[tr], y[tr])))
    c = score(rows, has & (prob >= 0.5))
    print("leave-one-chip-out                P {:.3f}  R {:.3f}  F1 {:.3f}".format(*c.prf()))
    for g in sorted(set(groups)):
        sel = groups == g
        sub = [r for r, s in zip(rows, sel, strict=True) if s]
        print(f"    {g:<29} P %.3f  R %.3f  F1 %.3f" % score(sub, (has & (prob >= 0.5))[sel]).prf())
    cross = np.zeros(len(rows))
    for g in sorted(set(groups)):
        tr = has & (groups != g)
        te = has & (groups == g)
        cross[te] = candidate_probability(x[te], as_model(fit(x[tr], y[tr])))
        sub = [r for r, s in zip(rows, groups == g, strict=True) if s]
        print(f"cross-dataset, scored on {g:<9} P %.3f  R %.3f  F1 %.3f" % score(sub, (has & (cross >= 0.5))[groups == g]).prf())
    print("cross-dataset, both               P {:.3f}  R {:.3f}  F1 {:.3f}".format(*score(rows, has & (cross >= 0.5)).prf()))
    model = fit(x[has], y[has])
    print("weights:", {f: round(w, 3) for f, w in zip(CANDIDATE_FEATURES, model["coef"], strict=True)})  # type: ignore[call-overload]
    if args.write:
        OUT.write_text(json.dumps(model, indent=1) + "\n")
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
