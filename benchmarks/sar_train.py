"""Train the SAR detector's two small learned parts; print held-out figures.

Run:  python benchmarks/sar_train.py [--datasets DIR] [--write]

**Ship/clutter candidate model** (8-bit renderings only).

Candidates are the metric CFAR's own (``classify_8bit`` and ``render_8bit`` off) on the SAR-Ship-Dataset
samples (nominal 5 m) and the HRSID samples (nominal 1 m); a candidate is a ship
when its centroid falls inside a labelled box (one-to-one, as in
``benchmarks/sar_real.py``). The model is a logistic regression (L2, Newton
iterations, numpy) over :func:`sitewatch.detect.sar.candidate_vector`.

Held-out figures, box-level P/R/F1 with the model's 0.5 cut:

* leave-one-chip-out: each chip scored by a model fitted on the other chips;
* cross-dataset: fitted on one dataset, scored on the other (the harsher test:
  other sensor, other rendering, other pixel size).

**Length factors per rescue level** (``sitewatch.detect.sar.level_factor``): on
OpenSARShip GRD chips (10 m, VV, calibrated), for the chip's ship (``sar_real.centred_detection``),
the median of AIS length / measured length over pieces cut at the seed level (1) and
at the stricter levels (2 and up, pooled: few ships). Held out: leave-one-scene-out
over the GRD scenes (each zip is one Sentinel-1 acquisition); whole components get
no factor. The shipped detector's held-out length (VV+VH fused on dual-polarisation chips,
:mod:`sitewatch.detect.sar_dual`, with each scene's factors fitted on the other scenes) is
printed after.

``--write`` fits both on all the data and writes ``src/sitewatch/data/sar_candidate_lr.json``
and ``src/sitewatch/data/sar_length_levels.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from sar_real import (
    DEFAULT_DATASETS,
    Counts,
    centred_detection,
    hrsid_chips,
    opensarship_chips,
    ssdd_chips,
)
from sitewatch.detect.sar import (
    CANDIDATE_FEATURES,
    LENGTH_FILE,
    MODEL_FILE,
    SarParams,
    candidate_probability,
    candidate_vector,
    detect_sar,
    detect_sar_with_features,
    raw_length,
)

DATA = Path(__file__).resolve().parents[1] / "src" / "sitewatch" / "data"
OUT = DATA / MODEL_FILE
L2 = 1.0
"""Ridge penalty on the standardised weights."""


def labelled_candidates(chips: list, pixel: float, group: str) -> list[tuple[str, str, list[float], int, int]]:
    """(dataset, chip, vector, is_ship, boxes in chip) per candidate; boxes without candidates as vector-less rows."""
    rows = []
    params = SarParams(classify_8bit=False, render_8bit=False)
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


def level_factors(rows: list[tuple[str, int, float, float]]) -> list[float]:
    """Factors for levels 0..4 from (scene, level, measured, AIS) rows: 1, seed-level median, stricter median."""

    def med(sel: list[tuple[str, int, float, float]]) -> float:
        return float(np.exp(np.median([math.log(a / m) for _, _, m, a in sel]))) if len(sel) >= 3 else 1.0

    seed = med([r for r in rows if r[1] == 1])
    strict = med([r for r in rows if r[1] >= 2])
    return [1.0, seed, strict, strict, strict]


def length_rows(root: Path) -> list[tuple[str, int, float, float]]:
    """(scene, level, raw length, AIS length) of the centred detection of every OpenSARShip GRD chip with AIS."""
    out = []
    for chip in opensarship_chips(root):
        if chip.kind != "GRD" or chip.ais_length <= 0:
            continue
        found = detect_sar_with_features(chip.intensity, chip.pixel)
        d = centred_detection(chip, [x for x, _ in found])
        if d is None:
            continue
        ft = next(f for x, f in found if x is d)
        raw = float(raw_length({k: np.array([v]) for k, v in ft.items()}, ft["pixel_m"])[0])
        out.append((chip.scene, int(ft["level"]), raw, chip.ais_length))
    return out


def train_lengths(root: Path, write: bool) -> None:
    rows = length_rows(root)
    scenes = sorted({r[0] for r in rows})
    err_raw, err_cv = [], []
    for sc in scenes:
        f = level_factors([r for r in rows if r[0] != sc])
        for _, lv, m, a in (r for r in rows if r[0] == sc):
            err_raw.append(m - a)
            err_cv.append(m * f[min(lv, 4)] - a)
        print(f"    held out {sc[:60]:<60} n {sum(r[0] == sc for r in rows):3d}  factors {f[1]:.3f} / {f[2]:.3f}")
    for label, e in (("no factors", np.array(err_raw)), ("leave-one-scene-out", np.array(err_cv))):
        print(f"length vs AIS, {label:<20} n {e.size}  MAE {np.abs(e).mean():.1f} m  median {np.median(np.abs(e)):.1f} m  bias {e.mean():+.1f} m")
    f = level_factors(rows)
    print(f"factors on all scenes: seed level {f[1]:.3f}, stricter levels {f[2]:.3f}")
    held_out_dual(root, rows)
    if write:
        (DATA / LENGTH_FILE).write_text(json.dumps({"factors": [round(v, 4) for v in f], "levels": "0 whole, 1 seed, 2+ stricter"}) + "\n")
        print(f"wrote {DATA / LENGTH_FILE}")


def held_out_dual(root: Path, rows: list[tuple[str, int, float, float]]) -> None:
    """The shipped detector (VV+VH fused where the chip has both) with factors fitted without the scene scored.

    The factors are fitted on VV rows (as shipped) and applied to both channels' pieces.
    """
    import sitewatch.detect.sar as sar_mod
    from sitewatch.detect.sar_dual import detect_sar_dual

    chips = [c for c in opensarship_chips(root) if c.kind == "GRD" and c.ais_length > 0]
    shipped = sar_mod._level_factors
    err: list[tuple[float, float]] = []
    try:
        for sc in sorted({r[0] for r in rows}):
            f = tuple(level_factors([r for r in rows if r[0] != sc]))
            sar_mod._level_factors = lambda f=f: f  # type: ignore[assignment]
            for c in (c for c in chips if c.scene == sc):
                dets = detect_sar(c.intensity, c.pixel) if c.cross is None else detect_sar_dual(c.intensity, c.cross, c.pixel)
                d = centred_detection(c, dets)
                if d is not None:
                    err.append((d.length_m - c.ais_length, c.ais_length))  # type: ignore[attr-defined]
    finally:
        sar_mod._level_factors = shipped
    e = np.array(err)
    big = e[:, 1] > 200
    print(
        f"length vs AIS, VV+VH fused, leave-one-scene-out factors  n {len(e)}  MAE {np.abs(e[:, 0]).mean():.1f} m  median {np.median(np.abs(e[:, 0])):.1f} m"
        f"  bias {e[:, 0].mean():+.1f} m  (<= 200 m: n {int((~big).sum())} MAE {np.abs(e[~big, 0]).mean():.1f} m; > 200 m: n {int(big.sum())} MAE {np.abs(e[big, 0]).mean():.1f} m)"
    )


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
    train_lengths(args.datasets, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
