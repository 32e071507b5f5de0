"""Object-stage variants of the image-only optical detector, scored leave-one-port-out on sen2ships.

    python benchmarks/optical_objects.py                      # mlp, gbt, gbt_rank, mlp_rank
    python benchmarks/optical_objects.py --variants mlp gbt   # some of them
    python benchmarks/optical_objects.py --scale 5.8 --ports genoa   # a port resampled to 5.8 m pixels

For each held-out port the pixel MLP is trained once on the other ten ports
(as ``optical_train.fit`` does) and cached with the candidates it yields on
those ten (``--cache``); each variant then fits only its object scorer on
those candidates, and the held-out port is run through the real detector
(``detect_optical``: same candidates, overlap suppression, anchorage stage)
with the variant's object scorer in place of the object MLP. Variants:

- ``mlp``: the shipped object MLP (8 ReLU units), refitted on the cache
  (checks that the cache reproduces ``optical_sen2ships.py``);
- ``gbt``: boosted depth-2 trees (``sar_render_train.fit``, numpy) on the
  18 object features;
- ``gbt_rank``: the same trees on the 18 features and each candidate's rank
  (0..1) among the scene's candidates in each radiometric feature, so a
  port-to-port shift of a feature cancels;
- ``mlp_rank``: the object MLP on those same 18 + 12 features;
- ``mean``: the mean of the ``mlp`` and ``gbt`` scores;
- ``mlp_self``, ``gbt_self``: per-scene self-training on ``mlp`` / ``gbt``
  (:func:`self_trained`): each scene's candidates scored >= 0.9 by the fold's
  scorer are taken for ships, <= 0.2 for clutter; with at least 5 of each a
  local L2 logistic regression on the 18 features (standardised on the
  scene's candidates) is fitted to them and the score becomes the mean of
  the two. ``gbt_self``'s nested threshold applies the same rule to each
  training-port scene. Tried 4 Dec (issue 4); see the commit message;
- ``mlp_noprob``: the object MLP without the two pixel-score features
  (``prob_mean``, ``prob_max``): on its training ports the pixel model is
  in-sample, so those are more confident there than on a held-out port.

``--split`` adds candidates cut from over-size components at narrow necks
(:func:`split_candidates`; ships moored end to end or against a wharf),
for training and at run time. ``--split`` and ``--oof`` change the
candidates: give each its own ``--cache``.

``--deep 35 60`` gives every candidate (training ports and the held-out run
alike) the deep-land features of ``OpticalParams.deep_radii_m`` at those
radii after the 18 (``sitewatch.detect.optical_deep``); a variant name
ending ``_deep35`` or ``_deep35_60`` (``mlp_deep35``, ``gbt_deep35_60``)
uses the 18 and those radii's features, a plain name the 18 alone, so one
run scores the baseline and the additions on the same candidates. The
candidates change: give it its own ``--cache`` (the ``pix_*`` files of
another cache may be copied in, the pixel models are the same).

``--texture`` gives every candidate the six texture features of
``OpticalParams.texture_features`` after the deep ones
(``sitewatch.detect.optical_texture``); a variant ending ``_tex``
(``mlp_tex``, ``gbt_tex``) uses the 18 and those six. ``--auc`` prints each
extra feature's univariate ROC AUC (pooled and per port, each port's
candidates from one fold); ``--in-sample`` also fits every variant on all
ports (pixel model of all ports) and scores them on the same ports.

``mlp_rz`` / ``mlp_rzcat`` (opt5, 5 Dec): the object MLP on each candidate's twelve
radiometric/context features as robust z-scores among its scene's candidates
(:func:`robust_z`), replacing the raw ones (``mlp_rz``: 6 geometric + 12) or
after the 18 raw ones (``mlp_rzcat``: 30); ``gbt_rz`` / ``gbt_rzcat`` the trees on
the same columns; ``mlp_rk`` the object MLP on the 6 geometric columns and the
twelve others as ranks within the scene (``mlp_rank`` without the raw twelve). ``--pixel-rz`` trains and runs the
pixel MLP on its features standardised over the scene's water
(:func:`pixel_rz`; own ``--cache``: the pixel models differ). ``--wsplit``
adds the pieces of merged components cut along valleys of the pixel score
(:func:`watershed_pieces`: markers at a higher pixel-score level) as
candidates at every level, for training and at run time (own ``--cache``;
the ``pix_*`` files of a plain cache may be copied in)::

    python benchmarks/optical_objects.py --variants mlp mlp_rz mlp_rzcat --cache /tmp/opt5/base
    python benchmarks/optical_objects.py --pixel-rz --variants mlp --cache /tmp/opt5/pixrz
    python benchmarks/optical_objects.py --wsplit --variants mlp --cache /tmp/opt5/ws

``--oof`` trains the object scorers on out-of-fold candidates: port k's
candidates in fold n come from a pixel model trained without n and k (55
pair models, cached), so the object stage learns from pixel scores as
unsure as the held-out port's. Every variant's threshold is then nested.

The MLPs keep the shipped object threshold 0.85 (except with ``--oof``);
every other scorer's is chosen inside the training ports
(``--threshold nested``, default): the ten training ports are split in two
groups, each group's candidates scored by a scorer fitted on the other's,
and the threshold of the best pooled F1 over the ten (overlap suppression
and one-to-one matching as the detector and the benchmark do, without the
anchorage stage) is used. ``--threshold 0.85`` fixes it instead.

``--scale M`` resamples each scored port to M-metre ground pixels
(bilinear bands, nearest masks, boxes scaled) before running the fold
models: the check that windows and limits are set in metres.

Figures (3-5 Dec, issue 4): BENCHMARKS.md, "Issue 4, second round", "Deep
land", "Texture, colour and edges" and "Scene-relative features and watershed split". None of these variants beat the shipped detector by more than the
seed spread.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sar_render_train  # noqa: E402
from _sen2ships import Port, select_ports  # noqa: E402
from optical_sen2ships import HEADER, Score, _line, pooled, score  # noqa: E402
from optical_train import Model, Prepared, pixel_samples, prepare, save, train_mlp  # noqa: E402
from sitewatch.detect import optical  # noqa: E402
from sitewatch.detect.base import measure_components  # noqa: E402
from sitewatch.detect.optical import (  # noqa: E402
    OBJECT_FEATURE_NAMES,
    OpticalParams,
    _measure,
    _non_overlapping,
    candidate_objects,
    detect_optical,
    vessel_probability,
)
from sitewatch.detect.optical_deep import deep_feature_names  # noqa: E402
from sitewatch.detect.optical_features import FEATURE_NAMES, _band_set  # noqa: E402
from sitewatch.detect.optical_texture import TEXTURE_FEATURE_NAMES  # noqa: E402
from sitewatch.detect.optical_water import erode  # noqa: E402
from sitewatch.detect.sar_render import render_probability  # noqa: E402

RANKED = tuple(
    i
    for i, n in enumerate(OBJECT_FEATURE_NAMES)
    if n not in ("log_length", "log_width", "log_area", "elongation", "fill", "threshold")
)
GEOMETRY = tuple(i for i in range(len(OBJECT_FEATURE_NAMES)) if i not in RANKED)
"""The six geometric columns (size, shape, pixel-score level), physical whatever the port."""
RZ_MIN = 5
"""Fewest candidates in a scene for robust z-scores; fewer get 0 (the scene's centre)."""
NO_PROB = tuple(i for i, n in enumerate(OBJECT_FEATURE_NAMES) if n not in ("prob_mean", "prob_max"))
Scorer = Callable[[NDArray[np.float32]], NDArray[np.float32]]
DEEP_RADII: tuple[float, ...] = ()
"""``--deep``: radii of the deep-land features the candidates carry after the 18 (``OpticalParams.deep_radii_m``)."""
TEXTURE = False
"""``--texture``: the candidates carry the texture features after the deep ones (``OpticalParams.texture_features``)."""


def columns(variant: str) -> NDArray[np.intp]:
    """Feature columns a variant uses: the 18; with ``_deep35`` / ``_deep35_60`` the deep-land
    features of those radii (``--deep`` must have computed them); with ``_tex`` the texture
    features (``--texture``)."""
    base = np.arange(len(OBJECT_FEATURE_NAMES))
    variant, tex = _strip_tex(variant)
    n_deep = len(deep_feature_names(DEEP_RADII))
    if tex:
        if not TEXTURE:
            raise SystemExit(f"{variant}_tex: run with --texture")
        start = len(OBJECT_FEATURE_NAMES) + n_deep
        base = np.concatenate([base, np.arange(start, start + len(TEXTURE_FEATURE_NAMES))])
    if "_deep" not in variant:
        return base
    radii = tuple(float(r) for r in variant.split("_deep", 1)[1].split("_"))
    names = deep_feature_names(DEEP_RADII)
    want = deep_feature_names(radii)
    missing = set(want) - set(names)
    if missing:
        raise SystemExit(f"{variant}: run with --deep covering {sorted(missing)}")
    return np.concatenate([base, [len(OBJECT_FEATURE_NAMES) + names.index(n) for n in want]])


def _strip_tex(variant: str) -> tuple[str, bool]:
    """The variant without its ``_tex`` suffix, and whether it had one."""
    return (variant[: -len("_tex")], True) if variant.endswith("_tex") else (variant, False)


def with_ranks(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """The features and each candidate's rank (0..1) among these candidates in the radiometric ones."""
    if len(x) < 2:
        return np.hstack([x, np.full((len(x), len(RANKED)), 0.5, np.float32)])
    r = np.argsort(np.argsort(x[:, RANKED], axis=0, kind="stable"), axis=0) / (len(x) - 1)
    return np.hstack([x, r.astype(np.float32)])


def robust_z(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Each candidate's radiometric/context features (:data:`RANKED`) as robust z-scores among the
    scene's candidates: (x - median) / (IQR / 1.349), the spread falling back to the standard
    deviation and then 1 when zero, clipped to +-10. Fixed before any figure (opt5, idea 1)."""
    v = x[:, RANKED].astype(np.float64)
    if len(x) < RZ_MIN:
        return np.zeros(v.shape, np.float32)
    q1, med, q3 = np.percentile(v, [25, 50, 75], axis=0)
    sd = (q3 - q1) / 1.349
    sd = np.where(sd > 0, sd, v.std(axis=0))
    sd = np.where(sd > 0, sd, 1.0)
    return np.clip((v - med) / sd, -10, 10).astype(np.float32)


def with_rank_only(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """``mlp_rk``: the six geometric columns raw and the twelve others as ranks (0..1) within the scene."""
    return np.ascontiguousarray(with_ranks(x)[:, [*GEOMETRY, *range(x.shape[1], x.shape[1] + len(RANKED))]])


def with_rz(x: NDArray[np.float32], keep_raw: bool) -> NDArray[np.float32]:
    """``rz``: the six geometric columns raw and the twelve others as :func:`robust_z`;
    ``rzcat`` (``keep_raw``): the 18 raw and the twelve robust z-scores after them."""
    z = robust_z(x)
    base = x if keep_raw else x[:, GEOMETRY]
    return np.ascontiguousarray(np.hstack([base, z]).astype(np.float32))


PIXEL_RZ = tuple(
    i for i, n in enumerate(FEATURE_NAMES) if n not in ("water_30m", "water_100m", "water_300m", "not_water_min_30m")
)
"""``--pixel-rz``: the pixel features standardised on the scene's water (the four water fractions stay as they are)."""
PIXEL_RZ_MIN = 100
"""``--pixel-rz``: fewest water pixels for the scene's statistics; with fewer the features are left raw."""
PIXEL_RZ_ON = False
"""``--pixel-rz`` given: the pixel MLP (training and detector) reads :func:`pixel_rz` features."""


def pixel_rz(features: NDArray[np.float32] | list[NDArray[np.float32]], water: NDArray[np.bool_]) -> NDArray[np.float32]:
    """The pixel MLP's inputs as robust z-scores over the scene's water: for each feature of
    :data:`PIXEL_RZ`, (x - median) / (IQR / 1.349) over the NDWI water pixels (every 7th, finite), the
    spread falling back to the standard deviation and then 1, clipped to +-50. Fixed before any
    figure (opt5, idea 1 for the pixel stage); the object features keep the raw planes."""
    f = np.stack(features).astype(np.float32, copy=True)
    sel = np.flatnonzero(water.ravel())[::7]
    if sel.size < PIXEL_RZ_MIN:
        return f
    flat = f.reshape(f.shape[0], -1)
    for i in PIXEL_RZ:
        v = flat[i, sel].astype(np.float64)
        v = v[np.isfinite(v)]
        if v.size < PIXEL_RZ_MIN:
            continue
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        sd = (q3 - q1) / 1.349
        sd = sd if sd > 0 else float(v.std())
        sd = sd if sd > 0 else 1.0
        f[i] = np.clip((f[i] - med) / sd, -50, 50)
    return f


_LAST_WATER: list[NDArray[np.bool_]] = []
"""The raw water of the scene ``feature_planes`` last described (``--pixel-rz`` in the detector)."""


def install_pixel_rz() -> None:
    """Make the detector's pixel MLP read :func:`pixel_rz` features (``--pixel-rz``)."""
    planes, score = optical.feature_planes, optical.vessel_probability

    def feature_planes(*a, **k):  # type: ignore[no-untyped-def]
        feats, water = planes(*a, **k)
        _LAST_WATER[:] = [water]
        return feats, water

    def vessel_probability(features, search, model, chunk=1 << 18):  # type: ignore[no-untyped-def]
        return score(pixel_rz(features, _LAST_WATER[0]), search, model, chunk)

    optical.feature_planes = feature_planes  # type: ignore[assignment]
    optical.vessel_probability = vessel_probability  # type: ignore[assignment]


def pixel_stage(ports: list[Prepared], seed: int = 0) -> Model:
    """The pixel MLP of ``optical_train.fit`` (two rounds, hard negatives); ``--pixel-rz``: on :func:`pixel_rz` features."""
    if PIXEL_RZ_ON:
        ports = [replace(d, features=pixel_rz(d.features, d.water)) for d in ports]
    xs, ys = zip(*(pixel_samples(d, seed) for d in ports), strict=True)
    first = train_mlp(np.concatenate(xs), np.concatenate(ys), seed=seed)
    xs, ys = zip(*(pixel_samples(d, seed, hard=first) for d in ports), strict=True)
    return train_mlp(np.concatenate(xs), np.concatenate(ys), seed=seed)


def candidates(d: Prepared, model: Model, params: OpticalParams) -> dict[str, NDArray]:
    """Candidates of one port under a pixel model: features, label, and what matching needs."""
    prob = vessel_probability(pixel_rz(d.features, d.water) if PIXEL_RZ_ON else d.features, d.search, model)
    hidden = np.zeros(d.water.shape, bool)
    m, x = optical.multi_candidates(prob, d.features, d.water, hidden, d.port.pixel_size, params, bands=_band_set(d.port.bands))
    b = d.port.boxes
    cx, cy = m["col"][:, None] + 0.5, m["row"][:, None] + 0.5
    inside = (b[:, 0] <= cx) & (cx <= b[:, 2]) & (b[:, 1] <= cy) & (cy <= b[:, 3])
    return {"x": x, "y": inside.any(axis=1).astype(np.float32), "corners": m["corners"], "row": m["row"], "col": m["col"]}


def fold_cache(
    n: str, prepared: dict[str, Prepared], folder: Path, seed: int, oof: bool = False
) -> tuple[Path, dict[str, dict[str, NDArray]]]:
    """Pixel model without port ``n`` and its candidates on every other port (cached in ``folder``).

    With ``oof`` each training port's candidates come from a pixel model that did not see
    that port either (out-of-fold), as the held-out port's do.
    """
    params = OpticalParams(deep_radii_m=DEEP_RADII, texture_features=TEXTURE)
    pix = folder / f"pix_{n}_s{seed}.npz"
    if not pix.exists():
        save(pixel_stage([d for k, d in prepared.items() if k != n], seed), pix)
    model = optical._load_model(str(pix))
    cands = {}
    for k, d in prepared.items():
        if k == n:
            continue
        if oof:
            # Port k's candidates under a pixel model that saw neither n nor k (shared by folds n and k).
            a, b = sorted((n, k))
            pair = folder / f"pix_{a}_{b}_s{seed}.npz"
            if not pair.exists():
                save(pixel_stage([e for j, e in prepared.items() if j not in (n, k)], seed), pair)
            model = optical._load_model(str(pair))
        path = folder / f"{'oof' if oof else 'cand'}_{n}_s{seed}_{k}.npz"
        if not path.exists():
            np.savez(path, **candidates(d, model, params))
        with np.load(path) as z:
            cands[k] = {f: z[f] for f in z.files}
    return pix, cands


SELF_HI, SELF_LO, SELF_MIN = 0.9, 0.2, 5
"""Self-training rule, fixed in advance: pseudo-ship at or above HI, pseudo-clutter at or below LO, MIN of each."""
SELF_LOG: list[tuple[str, int, int, int, bool]] = []
"""One row per self-trained scorer call: (context, candidates, pseudo-ships, pseudo-clutter, fired)."""
SELF_CONTEXT = "inner"
"""Which call is being logged: ``inner`` (threshold search on training ports) or the held-out port's name."""


def local_logistic(x: NDArray[np.float64], y: NDArray[np.float64], ridge: float = 1.0) -> NDArray[np.float64]:
    """L2 logistic regression (intercept unpenalised, class-balanced weights), Newton's method; returns [w, b]."""
    n = len(y)
    npos = max(1.0, float(y.sum()))
    nneg = max(1.0, float(n - y.sum()))
    sw = np.where(y > 0.5, n / (2 * npos), n / (2 * nneg))
    a = np.hstack([x, np.ones((n, 1))])
    pen = np.full(a.shape[1], ridge)
    pen[-1] = 0.0
    w = np.zeros(a.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -30, 30)))
        g = a.T @ (sw * (p - y)) + pen * w
        h = (a * (sw * p * (1 - p))[:, None]).T @ a + np.diag(pen) + 1e-9 * np.eye(a.shape[1])
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def self_trained(base: Scorer) -> Scorer:
    """``base`` adapted to each scene it scores: a local logistic regression fitted on the scene's own
    confident candidates (pseudo-labels from ``base``) is averaged with ``base``."""

    def scorer(z: NDArray[np.float32]) -> NDArray[np.float32]:
        s = np.asarray(base(z), np.float32)
        pos, neg = s >= SELF_HI, s <= SELF_LO
        fired = int(pos.sum()) >= SELF_MIN and int(neg.sum()) >= SELF_MIN
        SELF_LOG.append((SELF_CONTEXT, len(s), int(pos.sum()), int(neg.sum()), fired))
        if not fired:
            return s
        f = z[:, : len(OBJECT_FEATURE_NAMES)].astype(np.float64)
        sd = f.std(axis=0)
        f = (f - f.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        lab = pos | neg
        w = local_logistic(f[lab], pos[lab].astype(np.float64))
        loc = 1.0 / (1.0 + np.exp(-np.clip(f @ w[:-1] + w[-1], -30, 30)))
        return (0.5 * (s + loc)).astype(np.float32)

    return scorer


def fit_scorer(variant: str, x: NDArray[np.float32], y: NDArray[np.float32], seed: int) -> Scorer:
    """Fit one variant's object scorer on its design rows ``x``; it maps a scene's candidates
    (every feature column) to scores."""
    if variant.endswith("_self"):
        return self_trained(fit_scorer(variant[: -len("_self")], x, y, seed))
    cols = columns(variant)
    inner = _fit(_strip_tex(variant)[0].split("_deep", 1)[0], x, y, seed)
    return lambda z: inner(z[:, cols])


SCORERS = ("mlp", "mlp_noprob", "mlp_rank", "mlp_rk", "mlp_rz", "mlp_rzcat", "mean", "gbt", "gbt_rank", "gbt_rz", "gbt_rzcat")
"""The object scorers of :func:`_fit`; a variant is one of them, or one with ``_deep<r>[_<r>…]`` or ``_self``."""


def check_variant(variant: str) -> None:
    """Stop with a message naming ``variant`` when it is not a scorer of :data:`SCORERS` (or one with a suffix)."""
    name = variant
    variant = _strip_tex(variant.removesuffix("_self"))[0] + ("_self" if variant.endswith("_self") else "")
    base, _, radii = variant.removesuffix("_self").partition("_deep")
    deep_ok = not radii or (variant == variant.removesuffix("_self") and all(r.replace(".", "", 1).isdigit() for r in radii.split("_")))
    if base not in SCORERS or not deep_ok or (variant.partition("_deep")[1] and not radii):
        raise SystemExit(f"unknown variant {name!r}: one of {', '.join(SCORERS)}, or one of them with _deep35[_60], _tex or _self")


def _fit(variant: str, x: NDArray[np.float32], y: NDArray[np.float32], seed: int) -> Scorer:
    if variant == "mlp":
        m = train_mlp(x, y, epochs=300, hidden=8, seed=seed)
        return lambda z: optical.mlp_forward(z, m)
    if variant == "mlp_noprob":
        m = train_mlp(x[:, NO_PROB], y, epochs=300, hidden=8, seed=seed)
        return lambda z: optical.mlp_forward(z[:, NO_PROB], m)
    if variant == "mlp_rank":
        m = train_mlp(x, y, epochs=300, hidden=8, seed=seed)
        return lambda z: optical.mlp_forward(with_ranks(z), m)
    if variant in ("mlp_rz", "mlp_rzcat"):
        m = train_mlp(x, y, epochs=300, hidden=8, seed=seed)
        cat = variant == "mlp_rzcat"
        return lambda z: optical.mlp_forward(with_rz(z, cat), m)
    if variant == "mlp_rk":
        m = train_mlp(x, y, epochs=300, hidden=8, seed=seed)
        return lambda z: optical.mlp_forward(with_rank_only(z), m)
    if variant in ("gbt_rz", "gbt_rzcat"):
        g = sar_render_train.fit(x.astype(np.float64), y)
        cat = variant == "gbt_rzcat"
        return lambda z: render_probability(with_rz(z, cat).astype(np.float64), g).astype(np.float32)
    if variant == "mean":
        a, b = fit_scorer("mlp", x, y, seed), fit_scorer("gbt", x, y, seed)
        return lambda z: 0.5 * (a(z) + b(z))
    if variant.startswith("gbt"):
        g = sar_render_train.fit(x.astype(np.float64), y)
        prep = with_ranks if variant == "gbt_rank" else (lambda z: z)
        return lambda z: render_probability(prep(z).astype(np.float64), g).astype(np.float32)
    raise ValueError(variant)


def design(variant: str, x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Training rows of one port's candidates for a variant (ranks are taken within the port)."""
    # C order whatever the columns: x[:, index] is laid out column by column, and the
    # object MLP's float32 standardisation (hence its whole fit) changes with the layout.
    x = np.ascontiguousarray(x[:, columns(variant)])
    if variant.endswith("_rank"):
        return with_ranks(x)
    if variant.endswith(("_rz", "_rzcat")):
        return with_rz(x, variant.endswith("_rzcat"))
    if variant.endswith("_rk"):
        return with_rank_only(x)
    return x


def inner_threshold(variant: str, cands: dict[str, dict[str, NDArray]], boxes: dict[str, NDArray], seed: int) -> float:
    """Object threshold of the best pooled F1 over these ports, each scored by a scorer fitted on the other group."""
    names = sorted(cands)
    sweep = [float(t) for t in np.round(np.arange(0.3, 0.96, 0.05), 2)]
    counts = {t: [0, 0, 0] for t in sweep}
    for g in range(2):
        held = names[g::2]
        train = [k for k in names if k not in held]
        x = np.concatenate([design(variant, cands[k]["x"]) for k in train])
        y = np.concatenate([cands[k]["y"] for k in train])
        scorer = fit_scorer(variant, x, y, seed)
        for k in held:
            c = cands[k]
            s = scorer(c["x"])
            for t in sweep:
                tp, fp, fn = _match(c, s, t, boxes[k])
                counts[t][0] += tp
                counts[t][1] += fp
                counts[t][2] += fn
    f1 = {t: 2 * a / max(1, 2 * a + b + c) for t, (a, b, c) in counts.items()}
    best = max(f1.values())
    return max(t for t, v in f1.items() if v >= best - 1e-12)


def _match(c: dict[str, NDArray], s: NDArray[np.float32], t: float, boxes: NDArray) -> tuple[int, int, int]:
    """TP, FP, FN of the candidates scored ``s`` at threshold ``t`` (overlap suppression, one-to-one)."""
    good = np.flatnonzero(s >= t)
    keep = good[_non_overlapping(c["corners"][good], c["row"][good], c["col"][good], s[good])]
    taken = np.zeros(len(boxes), bool)
    tp = fp = 0
    for i in keep:
        x, y = c["col"][i] + 0.5, c["row"][i] + 0.5
        inside = (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3]) & ~taken
        if inside.any():
            taken[np.flatnonzero(inside)[0]] = True
            tp += 1
        else:
            fp += 1
    return tp, fp, int((~taken).sum())


def split_candidates(
    prob: NDArray[np.float32],
    feats: list[NDArray[np.float32]] | NDArray[np.float32],
    water: NDArray[np.bool_],
    hidden: NDArray[np.bool_],
    pixel_size: tuple[float, float],
    params: OpticalParams,
    threshold: float,
    neck_m: float = 15.0,
) -> tuple[dict[str, NDArray], NDArray[np.float32]]:
    """Candidates cut from over-size components (too long or too wide) at their narrow necks.

    Ships moored end to end or against a quay merge into one component that
    the size limits drop. Eroding it by ``neck_m`` separates parts joined by
    necks narrower than ``2 * neck_m``; every pixel goes to the nearest eroded
    part, a one-pixel line between parts is cleared, and the parts are
    described like any candidate.
    """
    px, py = pixel_size
    labels, n = ndimage.label(prob > threshold, structure=np.ones((3, 3), bool))
    nf = len(OBJECT_FEATURE_NAMES)
    empty = (measure_components(labels, np.zeros(0, int), pixel_size), np.zeros((0, nf), np.float32))
    if n == 0:
        return empty
    area = np.bincount(labels.ravel(), minlength=n + 1)[1:] * px * py
    big = np.flatnonzero((area >= params.min_length_m * 10.0) & (area <= 4 * params.max_length_m * params.max_width_m)) + 1
    if not big.size:
        return empty
    m = _measure(labels, big, pixel_size)
    over = big[(m["length_m"] > params.max_length_m) | (m["width_m"] > params.max_width_m)]
    if not over.size:
        return empty
    sub = np.isin(labels, over)
    r = max(1, int(neck_m / (0.5 * (px + py)) + 0.5))
    seeds, k = ndimage.label(erode(sub, 2 * r + 1), structure=np.ones((3, 3), bool))
    if k < 2:
        return empty
    _, (ri, ci) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    pieces = np.where(sub & (labels[ri, ci] == labels), seeds[ri, ci], 0)
    hi = ndimage.maximum_filter(pieces, 3)
    lo = ndimage.minimum_filter(np.where(pieces > 0, pieces, k + 1), 3)
    cut = sub & ((hi != pieces) | ((lo != pieces) & (lo <= k)))
    p2 = np.where(sub & ~cut, prob, np.float32(0.0)).astype(np.float32)
    return candidate_objects(p2, feats, water, hidden, pixel_size, params, threshold)


WS_FILL = 0.5
"""``--wsplit``: a vessel-sized component filling less than this of its oriented box is also split (fixed a priori)."""
WS_MIN_MARKER = 2
"""``--wsplit``: fewest pixels in a marker (a peak of the pixel score); smaller peaks are noise."""


def marker_level(threshold: float) -> float:
    """Pixel score of the markers for components cut at ``threshold``: half-way from it to 1
    (0.8 -> 0.9, 0.9 -> 0.95, 0.97 -> 0.985)."""
    return threshold + 0.5 * (1.0 - threshold)


def watershed_pieces(
    prob: NDArray[np.float32],
    pixel_size: tuple[float, float],
    params: OpticalParams,
    threshold: float,
) -> NDArray[np.float32]:
    """The pixel score with merged components cut along its valleys (0 on the cut lines and off the split components).

    A component of ``prob > threshold`` is split when it is over-long or over-wide
    (``max_length_m`` / ``max_width_m``; area up to 4x the largest vessel's) or, vessel-sized,
    fills less than :data:`WS_FILL` of its oriented box, and it holds at least two markers:
    connected parts of ``prob > marker_level(threshold)`` of :data:`WS_MIN_MARKER` pixels or more.
    Every pixel of the component goes to the marker it floods from along the lowest pixel-score
    path (scipy's ``watershed_ift`` on 1 - score; the rest of the image is one background seed, so
    no flood leaves the component), and a one-pixel line between pieces is cleared.
    """
    px, py = pixel_size
    labels, n = ndimage.label(prob > threshold, structure=np.ones((3, 3), bool))
    zero = np.zeros(prob.shape, np.float32)
    if n == 0:
        return zero
    area = np.bincount(labels.ravel(), minlength=n + 1)[1:] * px * py
    cand = np.flatnonzero((area >= params.min_length_m * 10.0) & (area <= 4 * params.max_length_m * params.max_width_m)) + 1
    if not cand.size:
        return zero
    m = _measure(labels, cand, pixel_size)
    fill = m["area_px"] * px * py / np.maximum(m["length_m"] * m["width_m"], 1e-9)
    over = (m["length_m"] > params.max_length_m) | (m["width_m"] > params.max_width_m)
    sel = cand[over | (fill < WS_FILL)]
    if not sel.size:
        return zero
    sub = np.isin(labels, sel)
    mk, k = ndimage.label(sub & (prob > marker_level(threshold)), structure=np.ones((3, 3), bool))
    if k < 2:
        return zero
    size = np.bincount(mk.ravel(), minlength=k + 1)
    mk = np.where(size[mk] >= WS_MIN_MARKER, mk, 0)
    # Components with fewer than two markers stay whole (they are candidates already).
    on = mk > 0
    pairs = np.unique(np.stack([labels[on], mk[on]]), axis=1)
    per_comp = np.bincount(pairs[0], minlength=n + 1)
    sub &= per_comp[labels] >= 2
    if not sub.any():
        return zero
    markers = np.where(sub, np.where(per_comp[labels] >= 2, mk, 0), k + 1).astype(np.int32)
    cost = np.round((1.0 - np.clip(prob, 0.0, 1.0)) * 254).astype(np.uint8)
    flooded = ndimage.watershed_ift(cost, markers, structure=np.ones((3, 3), bool))
    pieces = np.where(sub, flooded, 0)
    hi = ndimage.maximum_filter(pieces, 3)
    lo = ndimage.minimum_filter(np.where(pieces > 0, pieces, k + 2), 3)
    cut = sub & ((hi != pieces) | ((lo != pieces) & (lo <= k + 1)))
    return np.where(sub & ~cut, prob, np.float32(0.0)).astype(np.float32)


def with_wsplits(prob, feats, water, hidden, pixel_size, params, bands=None, cloud=None):  # type: ignore[no-untyped-def]
    """``multi_candidates`` plus the pieces of :func:`watershed_pieces` at every level (for ``--wsplit``)."""
    if params.texture_features:
        raise SystemExit("--wsplit and --texture together are not supported")
    parts = [candidate_objects(prob, feats, water, hidden, pixel_size, params, t, cloud=cloud) for t in params.pixel_thresholds]
    for t in params.pixel_thresholds:
        p2 = watershed_pieces(prob, pixel_size, params, t)
        if p2.any():
            parts.append(candidate_objects(p2, feats, water, hidden, pixel_size, params, t, cloud=cloud))
    ms = {k: np.concatenate([m[k] for m, _ in parts]) for k in parts[0][0]}
    return ms, np.concatenate([x for _, x in parts]).astype(np.float32)


def with_splits(prob, feats, water, hidden, pixel_size, params, bands=None):  # type: ignore[no-untyped-def]
    """``multi_candidates`` plus :func:`split_candidates` at every level (for ``--split``; not with ``--texture``)."""
    if params.texture_features:
        raise SystemExit("--split and --texture together are not supported")
    parts = [candidate_objects(prob, feats, water, hidden, pixel_size, params, t) for t in params.pixel_thresholds]
    parts += [split_candidates(prob, feats, water, hidden, pixel_size, params, t) for t in params.pixel_thresholds]
    ms = {k: np.concatenate([m[k] for m, _ in parts]) for k in parts[0][0]}
    return ms, np.concatenate([x for _, x in parts]).astype(np.float32)


def resample(port: Port, metres: float) -> Port:
    """The port at ``metres`` ground pixels: bilinear bands, nearest masks, boxes scaled."""
    f = float(np.mean(port.pixel_size)) / metres
    bands = {k: ndimage.zoom(v, f, order=1).astype(np.float32) for k, v in port.bands.items()}
    masks = [ndimage.zoom(m.astype(np.uint8), f, order=0).astype(bool) for m in port.masks]
    return Port(port.name, bands, (metres, metres), masks, port.boxes * f)


def run_detector(port: Port, pix: Path, scorer: Scorer, threshold: float) -> list:
    """The detector on ``port`` with this pixel model and this object scorer."""
    original = optical.object_scores
    optical.object_scores = lambda x, model: scorer(x)  # type: ignore[assignment]
    try:
        params = replace(
            OpticalParams(), model=str(pix), object_threshold=threshold, deep_radii_m=DEEP_RADII, texture_features=TEXTURE
        )
        return detect_optical(port.bands, port.pixel_size, params=params)
    finally:
        optical.object_scores = original  # type: ignore[assignment]


def roc_auc(v: NDArray, y: NDArray) -> float:
    """Area under the ROC curve of ``v`` for labels ``y`` (Mann-Whitney, ties counted half)."""
    pos, neg = v[y > 0.5], v[y <= 0.5]
    if not pos.size or not neg.size:
        return float("nan")
    ranks = _mid_ranks(np.concatenate([pos, neg]))
    return float((ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def _mid_ranks(a: NDArray) -> NDArray[np.float64]:
    """Ranks 1..n of ``a``, ties sharing their mean rank."""
    order = np.argsort(a, kind="stable")
    s = a[order]
    first = np.r_[True, s[1:] != s[:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], s.size]
    out = np.empty(a.size)
    out[order] = (0.5 * (starts + ends - 1) + 1)[group]
    return out


def extra_feature_names() -> list[str]:
    """Names of the columns after the 18: deep-land (``--deep``), then texture (``--texture``)."""
    return list(deep_feature_names(DEEP_RADII)) + (list(TEXTURE_FEATURE_NAMES) if TEXTURE else [])


def print_auc(names: list[str], folder: Path, seed: int) -> None:
    """Univariate ROC AUC of ring_water and each extra feature, "candidate is a labelled ship": each port's
    candidates from one fold (the next port's held out), pooled and the range over the ports."""
    per: dict[str, dict[str, float]] = {}
    xs, ys = [], []
    for i, k in enumerate(names):
        n = names[(i + 1) % len(names)]
        with np.load(folder / f"cand_{n}_s{seed}_{k}.npz") as z:
            x, y = z["x"], z["y"]
        xs.append(x)
        ys.append(y)
        per[k] = {}
    feats = ["ring_water", "ring_water_wide", *extra_feature_names()]
    col = {f: (OBJECT_FEATURE_NAMES.index(f) if f in OBJECT_FEATURE_NAMES else len(OBJECT_FEATURE_NAMES) + extra_feature_names().index(f)) for f in feats}
    x_all, y_all = np.concatenate(xs), np.concatenate(ys)
    print(f"\nunivariate ROC AUC, candidate on a labelled ship ({len(y_all)} candidates, {int(y_all.sum())} on ships)")
    print(f"{'feature':<20} pooled  min-max over ports  " + " ".join(f"{k[:6]:>6}" for k in names))
    for f in feats:
        a = [roc_auc(x[:, col[f]], y) for x, y in zip(xs, ys, strict=True)]
        print(f"{f:<20} {roc_auc(x_all[:, col[f]], y_all):.3f}   {np.nanmin(a):.2f}-{np.nanmax(a):.2f}           " + " ".join(f"{v:6.2f}" for v in a))


def in_sample(variants: list[str], prepared: dict, folder: Path, seed: int) -> None:
    """Every variant's object stage fitted on all ports' candidates (pixel model of all ports) and scored on all."""
    pix, cands = fold_cache("all", prepared, folder, seed)
    boxes = {k: d.port.boxes for k, d in prepared.items()}
    y = np.concatenate([c["y"] for c in cands.values()])
    print("\nin-sample (both stages fitted on all ports, scored on the same ports)")
    for v in variants:
        t = 0.85 if v.startswith("mlp") else inner_threshold(v, cands, boxes, seed)
        scorer = fit_scorer(v, np.concatenate([design(v, c["x"]) for c in cands.values()]), y, seed)
        s = pooled([score(d.port, run_detector(d.port, pix, scorer, t)) for d in prepared.values()])
        print(f"{v:<12} TP {s.tp} FP {s.fp} FN {s.fn}  P {s.precision:.2f} R {s.recall:.2f} F1 {s.f1:.3f} (t {t:.2f})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description="object-stage variants, leave-one-port-out on sen2ships")
    ap.add_argument("--variants", nargs="*", default=["mlp", "gbt", "gbt_rank", "mlp_rank"])
    ap.add_argument("--ports", nargs="*", default=None)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/optical_objects"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threshold", default="nested", help="'nested' (chosen inside the training ports) or a number")
    ap.add_argument("--scale", type=float, default=None, help="resample scored ports to this ground pixel (m)")
    ap.add_argument("--oof", action="store_true", help="train object scorers on out-of-fold pixel scores")
    ap.add_argument("--split", action="store_true", help="also cut over-size components at narrow necks")
    ap.add_argument("--wsplit", action="store_true", help="also cut merged components along pixel-score valleys (watershed)")
    ap.add_argument("--pixel-rz", action="store_true", help="pixel MLP on features standardised over the scene's water")
    ap.add_argument("--deep", type=float, nargs="*", default=[], help="deep-land radii (m) the candidates carry")
    ap.add_argument("--texture", action="store_true", help="candidates carry the texture features (variants *_tex)")
    ap.add_argument("--auc", action="store_true", help="also print each extra feature's univariate ROC AUC")
    ap.add_argument("--in-sample", action="store_true", help="also fit and score every variant on all ports")
    args = ap.parse_args()
    global DEEP_RADII, SELF_CONTEXT, TEXTURE, PIXEL_RZ_ON
    DEEP_RADII = tuple(args.deep)
    TEXTURE = args.texture
    for v in args.variants:  # before the minutes of fitting pixel models
        check_variant(v)
    everyone = select_ports()
    names = select_ports(args.ports)
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.split:
        optical.multi_candidates = with_splits  # type: ignore[assignment]
    if args.pixel_rz:
        PIXEL_RZ_ON = True
        install_pixel_rz()
    if args.wsplit:
        optical.multi_candidates = with_wsplits  # type: ignore[assignment]
    prepared = {k: prepare(k) for k in everyone}
    boxes = {k: d.port.boxes for k, d in prepared.items()}
    results: dict[str, list[Score]] = {v: [] for v in args.variants}
    for n in names:
        t0 = time.perf_counter()
        pix, cands = fold_cache(n, prepared, args.cache, args.seed, args.oof)
        port = prepared[n].port if args.scale is None else resample(prepared[n].port, args.scale)
        x_all = {v: np.concatenate([design(v, c["x"]) for c in cands.values()]) for v in args.variants}
        y_all = np.concatenate([c["y"] for c in cands.values()])
        line = []
        for v in args.variants:
            if args.threshold == "nested":
                fixed = v.startswith("mlp") and not args.oof
                t = 0.85 if fixed else inner_threshold(v, cands, boxes, args.seed)
            else:
                t = float(args.threshold)
            scorer = fit_scorer(v, x_all[v], y_all, args.seed)
            SELF_CONTEXT = f"{v}:{n}"
            s = score(port, run_detector(port, pix, scorer, t))
            SELF_CONTEXT = "inner"
            results[v].append(s)
            line.append(f"{v} F1 {s.f1:.2f} (P {s.precision:.2f} R {s.recall:.2f}, t {t:.2f})")
        print(f"{n:<11} {time.perf_counter() - t0:5.0f}s  " + "; ".join(line), flush=True)
    for v, sc in results.items():
        print(f"\n{v}\n{HEADER}")
        for n, s in zip(names, sc, strict=True):
            print(_line(n, s))
        print(_line("POOLED", pooled(sc)))
    for v in args.variants:
        if not v.endswith("_self"):
            continue
        rows = [r for r in SELF_LOG if r[0].startswith(f"{v}:")]
        inner = [r for r in SELF_LOG if r[0] == "inner"]
        print(f"\n{v}: self-training fired on {sum(r[4] for r in rows)} of {len(rows)} held-out scenes")
        for r in rows:
            print(f"  {r[0].split(':')[1]:<11} candidates {r[1]:5d}  pseudo-ships {r[2]:4d}  pseudo-clutter {r[3]:5d}  {'fired' if r[4] else 'not fired'}")
    inner = [r for r in SELF_LOG if r[0] == "inner"]
    if inner:
        print(f"inner threshold scenes (all _self variants): fired on {sum(r[4] for r in inner)} of {len(inner)}")
    if args.auc:
        print_auc(names, args.cache, args.seed)
    if args.in_sample:
        in_sample(args.variants, prepared, args.cache, args.seed)


if __name__ == "__main__":
    main()
