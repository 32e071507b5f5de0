"""Train the optical detector's two learned stages on the sen2ships port scenes (CPU, numpy only).

    python benchmarks/optical_train.py            # train on every port, write the shipped weights
    python benchmarks/optical_train.py --out X.npz --exclude genoa

Stage 1, pixels: a tiny MLP (16 features -> 16 ReLU units -> 1). Positives
are the labelled ship pixels; negatives a random sample of the other pixels
within reach of water, then (second round) as many again drawn from the
pixels the first-round model wrongly scores above 0.5 (quay edges,
container stacks, roofs). Stage 2, objects: a small MLP (8 ReLU units) over the
candidate components' shape, context and radiometry
(:data:`OBJECT_FEATURE_NAMES`); a candidate is a positive when its centroid
falls in a labelled box (``--object-positives centroid``, the default). With
``one-neg`` / ``one-drop`` only one candidate per labelled ship and pixel-score
level is a positive: of the candidates whose centroid falls in its box, the one
whose pixels best cover its mask (largest IoU with the mask, :func:`one_per_ship`);
the other candidates in the box become negatives (``one-neg``) or are left out of
training (``one-drop``). Labels are not exhaustive (small boats are often
unlabelled), so some "negatives" are real boats; the figures are therefore
a lower bound on precision.

``optical_sen2ships.py`` scores it leave-one-port-out: :func:`fit` is
called without the scored port, so neither stage has seen it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _sen2ships import Port, load_port, select_ports  # noqa: E402
from sitewatch.detect.optical import (  # noqa: E402
    OpticalParams,
    _px,
    mlp_forward,
    multi_candidates,
    pixel_features,
    vessel_probability,
)
from sitewatch.detect.optical_water import dilate  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "src" / "sitewatch" / "data" / "optical_vessel_mlp.npz"
N_NEG = 40_000
HIDDEN = 16
OBJ_HIDDEN = 8
"""Hidden units of the object MLP (``--object-hidden``)."""
OBJECT_POSITIVES = ("centroid", "one-neg", "one-drop")
"""How object-stage training candidates are labelled (``--object-positives``): every candidate whose centroid
falls in a labelled box is a positive (``centroid``, as shipped), or one per ship and pixel-score level
(:func:`one_per_ship`) with the other candidates in the box negatives (``one-neg``) or left out (``one-drop``)."""
Model = dict[str, NDArray[np.float32]]


@dataclass(frozen=True)
class Prepared:
    """One port with its features computed once (training reuses them across folds)."""

    port: Port
    features: NDArray[np.float32]
    water: NDArray[np.bool_]
    search: NDArray[np.bool_]
    ship: NDArray[np.bool_]


def prepare(name: str) -> Prepared:
    """Load a port and compute its pixel features."""
    port = load_port(name)
    feats, water = pixel_features(port.bands, port.pixel_size)
    p = float(np.mean(port.pixel_size))
    search = dilate(water, _px(2 * OpticalParams().near_water_m, p))
    ship = np.any(port.masks, axis=0) if port.masks else np.zeros(water.shape, bool)
    return Prepared(port, feats, water, search, ship)


def pixel_samples(
    d: Prepared, seed: int = 0, hard: Model | None = None
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Feature rows and 0/1 labels sampled from one port (hard negatives with ``hard``)."""
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(d.ship & d.search)
    neg_pool = np.flatnonzero(d.search & ~dilate(d.ship, 3))
    neg = rng.choice(neg_pool, size=min(N_NEG, neg_pool.size), replace=False)
    flat = d.features.reshape(d.features.shape[0], -1)
    if hard is not None:
        prob = mlp_forward(flat[:, neg_pool].T, hard)
        hard_pool = neg_pool[prob > 0.5]
        if hard_pool.size:
            extra = rng.choice(hard_pool, size=min(N_NEG, hard_pool.size), replace=False)
            neg = np.concatenate([neg, extra])
    x = np.concatenate([flat[:, pos].T, flat[:, neg].T]).astype(np.float32)
    y = np.concatenate([np.ones(pos.size), np.zeros(neg.size)]).astype(np.float32)
    return x, y


def object_samples(
    d: Prepared, model: Model, params: OpticalParams, positives: str = "centroid"
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Candidate objects of one port under ``model``, labelled by the centroid-in-box rule, or with one
    positive per ship and level (``positives``, one of :data:`OBJECT_POSITIVES`)."""
    if positives not in OBJECT_POSITIVES:
        raise ValueError(f"positives must be one of {OBJECT_POSITIVES}, got {positives!r}")
    prob = vessel_probability(d.features, d.search, model)
    hidden = np.zeros(d.water.shape, bool)
    m, x = multi_candidates(prob, d.features, d.water, hidden, d.port.pixel_size, params)
    b = d.port.boxes
    cx, cy = m["col"][:, None] + 0.5, m["row"][:, None] + 0.5
    inside = (b[:, 0] <= cx) & (cx <= b[:, 2]) & (b[:, 1] <= cy) & (cy <= b[:, 3])
    if positives == "centroid":
        return x, inside.any(axis=1).astype(np.float32)
    best = one_per_ship(prob, m, inside, d.port.masks, params.pixel_thresholds)
    if positives == "one-neg":
        return x, best.astype(np.float32)
    keep = best | ~inside.any(axis=1)
    return x[keep], best[keep].astype(np.float32)


def candidate_pixels(
    prob: NDArray[np.float32], m: dict[str, NDArray[np.float64]], levels: Sequence[float]
) -> tuple[list[NDArray[np.int32]], NDArray[np.intp], NDArray[np.intp]]:
    """Where the pixels of each candidate of ``multi_candidates`` are: the component labels of ``prob >
    t`` for each level t, and each candidate's level and label there.

    The candidates are the components of each level in raster (label) order, levels one after the
    other, less those dropped by size. A candidate is found as the next component, in that order,
    whose prob-weighted centroid is its own (to 1e-3 px)."""
    labels, cents = [], []
    for t in levels:
        lab, n = ndimage.label(prob > t, structure=np.ones((3, 3), bool))
        labels.append(lab.astype(np.int32))
        idx = np.flatnonzero(lab.ravel())
        k = lab.ravel()[idx]
        r, c = np.divmod(idx, lab.shape[1])
        w = prob.ravel()[idx].astype(np.float64)
        ws = np.bincount(k, w, n + 1)
        ws[ws == 0] = 1.0
        cents.append(np.column_stack([np.bincount(k, w * r, n + 1) / ws, np.bincount(k, w * c, n + 1) / ws]))
    n_cand = m["row"].size
    level = np.zeros(n_cand, np.intp)
    label = np.zeros(n_cand, np.intp)
    cur, last = 0, 0
    for i in range(n_cand):
        while True:
            if cur >= len(levels):
                raise RuntimeError(f"candidate {i} matches no component of any level")
            d2 = np.hypot(cents[cur][last + 1 :, 0] - m["row"][i], cents[cur][last + 1 :, 1] - m["col"][i])
            hit = np.flatnonzero(d2 < 1e-3)
            if hit.size:
                last = last + 1 + int(hit[0])
                break
            cur, last = cur + 1, 0
        level[i], label[i] = cur, last
    return labels, level, label


def one_per_ship(
    prob: NDArray[np.float32],
    m: dict[str, NDArray[np.float64]],
    inside: NDArray[np.bool_],
    masks: Sequence[NDArray[np.bool_]],
    levels: Sequence[float],
) -> NDArray[np.bool_]:
    """The one positive per labelled ship and pixel-score level: of the candidates of that level whose
    centroid lies in the ship's box (``inside``, candidates x ships), the one whose pixels have the largest
    IoU with the ship's mask (none when no such candidate touches the mask). A candidate chosen for any
    ship is a positive."""
    best = np.zeros(m["row"].size, bool)
    if not masks or not best.size:
        return best
    labels, level, label = candidate_pixels(prob, m, levels)
    for li, lab in enumerate(labels):
        size = np.bincount(lab.ravel())
        for j, mask in enumerate(masks):
            cand = np.flatnonzero((level == li) & inside[:, j])
            if not cand.size:
                continue
            inter = np.bincount(lab[mask], minlength=size.size)[label[cand]]
            iou = inter / (size[label[cand]] + mask.sum() - inter)
            if inter.max() > 0:
                best[cand[int(np.argmax(iou))]] = True
    return best


def train_mlp(
    x: NDArray[np.float32], y: NDArray[np.float32], *, epochs: int = 20, seed: int = 0, hidden: int = HIDDEN
) -> Model:
    """Fit the one-hidden-layer MLP with class-balanced logistic loss and Adam."""
    rng = np.random.default_rng(seed)
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-6
    z = (x - mean) / std
    f = z.shape[1]
    params = {
        "w1": rng.normal(0, 1 / np.sqrt(f), (f, hidden)),
        "b1": np.zeros(hidden),
        "w2": rng.normal(0, 1 / np.sqrt(hidden), (hidden, 1)),
        "b2": np.zeros(1),
    }
    _adam(params, z, y, epochs, rng, _mlp_grads)
    out = {k: np.asarray(val, dtype=np.float32) for k, val in params.items()}
    out["mean"] = mean.astype(np.float32)
    out["std"] = std.astype(np.float32)
    return out


def train_logistic(x: NDArray[np.float32], y: NDArray[np.float32], *, epochs: int = 200, seed: int = 0) -> Model:
    """Class-balanced L2 logistic regression for the object stage."""
    rng = np.random.default_rng(seed)
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-6
    z = (x - mean) / std
    params = {"w": np.zeros(z.shape[1]), "b": np.zeros(1)}
    _adam(params, z, y, epochs, rng, _logistic_grads)
    return {
        "obj_w": params["w"].astype(np.float32),
        "obj_b": params["b"].astype(np.float32),
        "obj_mean": mean.astype(np.float32),
        "obj_std": std.astype(np.float32),
    }


def _mlp_grads(p: dict, z: NDArray, y: NDArray, wt: NDArray) -> dict:
    h = np.maximum(z @ p["w1"] + p["b1"], 0.0)
    o = 1 / (1 + np.exp(-np.clip((h @ p["w2"] + p["b2"])[:, 0], -30, 30)))
    g_o = (wt * (o - y) / y.size)[:, None]
    g_h = (g_o @ p["w2"].T) * (h > 0)
    return {
        "w2": h.T @ g_o + 1e-4 * p["w2"],
        "b2": g_o.sum(axis=0),
        "w1": z.T @ g_h + 1e-4 * p["w1"],
        "b1": g_h.sum(axis=0),
    }


def _logistic_grads(p: dict, z: NDArray, y: NDArray, wt: NDArray) -> dict:
    o = 1 / (1 + np.exp(-np.clip(z @ p["w"] + p["b"], -30, 30)))
    g = wt * (o - y) / y.size
    return {"w": z.T @ g + 1e-3 * p["w"], "b": np.atleast_1d(g.sum())}


def _adam(params: dict, z: NDArray, y: NDArray, epochs: int, rng: np.random.Generator, grads_fn) -> None:  # type: ignore[no-untyped-def]
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    npos = max(1.0, float(y.sum()))
    w_pos = 0.5 * y.size / npos
    w_neg = 0.5 * y.size / max(1.0, y.size - npos)
    lr, b1, b2, step = 3e-3, 0.9, 0.999, 0
    for _ in range(epochs):
        order = rng.permutation(y.size)
        for start in range(0, y.size, 2048):
            i = order[start : start + 2048]
            grads = grads_fn(params, z[i], y[i], np.where(y[i] > 0, w_pos, w_neg))
            step += 1
            for k in params:
                m[k] = b1 * m[k] + (1 - b1) * grads[k]
                v[k] = b2 * v[k] + (1 - b2) * grads[k] ** 2
                params[k] -= lr * (m[k] / (1 - b1**step)) / (np.sqrt(v[k] / (1 - b2**step)) + 1e-8)


def fit(
    ports: list[Prepared],
    params: OpticalParams | None = None,
    seed: int = 0,
    *,
    positives: str = "centroid",
    obj_hidden: int = OBJ_HIDDEN,
) -> Model:
    """Both stages on these ports: pixel MLP (two rounds) then the object MLP (``obj_hidden`` units, training
    candidates labelled as ``positives``, one of :data:`OBJECT_POSITIVES`)."""
    params = params or OpticalParams()
    xs, ys = zip(*(pixel_samples(d, seed) for d in ports), strict=True)
    first = train_mlp(np.concatenate(xs), np.concatenate(ys), seed=seed)
    xs, ys = zip(*(pixel_samples(d, seed, hard=first) for d in ports), strict=True)
    model = train_mlp(np.concatenate(xs), np.concatenate(ys), seed=seed)
    xs, ys = zip(*(object_samples(d, model, params, positives) for d in ports), strict=True)
    obj = train_mlp(np.concatenate(xs), np.concatenate(ys), epochs=300, hidden=obj_hidden, seed=seed)
    model.update({"obj_" + k: v for k, v in obj.items()})
    return model


def save(model: Model, path: Path) -> None:
    """Write weights as a small npz."""
    np.savez_compressed(path, **model)


def fold_model(
    folder: Path,
    held: str,
    train_from: Sequence[str],
    prepared: dict[str, Prepared],
    params: OpticalParams | None = None,
    *,
    seed: int = 0,
    suffix: str = "",
    positives: str = "centroid",
    obj_hidden: int = OBJ_HIDDEN,
) -> Path:
    """The leave-one-port-out model of port ``held``, ``folder / f"lopo_{held}{suffix}.npz"``: when the file
    is missing, fit (:func:`fit`) on the ports of ``train_from`` but ``held`` and written there. ``prepared``
    keeps their features, prepared at the first fit, for the next folds. The one name of
    optical_sen2ships.py's, optical_known_water.py's and optical_rgb.py's fold models, so that one --models
    folder serves them all. ``positives`` and ``obj_hidden`` go to :func:`fit` (keep fold models trained
    otherwise in another folder)."""
    path = folder / f"lopo_{held}{suffix}.npz"
    if not path.exists():
        if not prepared:
            prepared.update({k: prepare(k) for k in train_from})
        ports = [d for k, d in prepared.items() if k != held]
        save(fit(ports, params, seed=seed, positives=positives, obj_hidden=obj_hidden), path)
    return path


def add_object_options(ap: argparse.ArgumentParser) -> None:
    """``--object-positives`` and ``--object-hidden``: how the object stage is trained (:func:`fit`)."""
    ap.add_argument("--object-positives", choices=OBJECT_POSITIVES, default="centroid",
                    help="object-stage training positives: every candidate with its centroid in a labelled box "
                         "(centroid, as shipped) or one per ship and pixel level, the best IoU with its mask, the "
                         "other candidates in the box negatives (one-neg) or left out (one-drop)")  # fmt: skip
    ap.add_argument("--object-hidden", type=int, default=OBJ_HIDDEN, help="hidden units of the object MLP")


def main() -> None:
    ap = argparse.ArgumentParser(description="train the optical detector on sen2ships")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--exclude", action="append", default=[])
    add_object_options(ap)
    args = ap.parse_args()
    if args.exclude:
        select_ports(args.exclude)  # a misspelt port would be trained on, not left out
    names = [n for n in select_ports() if n not in args.exclude]
    if not names:
        sys.exit("every sen2ships port is excluded: nothing to train on")
    fitted = fit([prepare(n) for n in names], positives=args.object_positives, obj_hidden=args.object_hidden)
    save(fitted, args.out)
    print(f"trained on {len(names)} ports ({', '.join(names)}): {args.out}")


if __name__ == "__main__":
    main()
