"""The learned parts of the optical detector: weights, the pixel MLP and the object MLP."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib import resources

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from .optical_objects import OBJECT_FEATURE_NAMES
from .optical_params import OpticalParams

__all__ = ["mlp_forward", "model_for", "object_scores", "vessel_probability"]


@lru_cache(maxsize=4)
def _load_model(name: str) -> dict[str, NDArray[np.float32]]:
    """Weights of the pixel MLP: ``mean``, ``std``, ``w1``, ``b1``, ``w2``, ``b2``."""
    try:
        if "/" in name or "\\" in name:
            with open(name, "rb") as fh:
                data = np.load(fh)
                return {k: data[k].astype(np.float32) for k in data.files}
        ref = resources.files("sitewatch").joinpath("data", name)
        with ref.open("rb") as fh:
            data = np.load(fh)
            return {k: data[k].astype(np.float32) for k in data.files}
    except (OSError, ValueError) as exc:
        raise InputError(
            f"optical model {name!r} not found or unreadable; reinstall sitewatch "
            "or train one with benchmarks/optical_train.py"
        ) from exc


def _folded(model: Mapping[str, NDArray[np.float32]]) -> tuple[NDArray[np.float32], ...]:
    """First-layer weights with the feature standardisation folded in (one matmul, no copies)."""
    w1 = (model["w1"] / model["std"][:, None]).astype(np.float32)
    b1 = (model["b1"] - (model["mean"] / model["std"]) @ model["w1"]).astype(np.float32)
    return w1, b1, model["w2"].astype(np.float32), model["b2"].astype(np.float32)


def mlp_forward(x: NDArray[np.float32], model: Mapping[str, NDArray[np.float32]]) -> NDArray[np.float32]:
    """Probability from raw features ``x`` (n, f): one hidden ReLU layer, sigmoid out."""
    w1, b1, w2, b2 = _folded(model)
    h = np.maximum(x @ w1 + b1, 0.0)
    out = (h @ w2 + b2)[:, 0]
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(out, -30, 30))), dtype=np.float32)


def vessel_probability(
    features: NDArray[np.float32] | Sequence[NDArray[np.float32]],
    search: NDArray[np.bool_],
    model: Mapping[str, NDArray[np.float32]],
    chunk: int = 1 << 18,
) -> NDArray[np.float32]:
    """Vessel score per pixel where ``search`` is set (0 elsewhere).

    ``features`` is the ``(f, H, W)`` array of :func:`pixel_features` or the
    planes of :func:`feature_planes`. Runs over blocks of rows of about
    ``chunk`` pixels (the block's features fit in cache); blocks with nothing
    to search are skipped, and scoring every pixel of a block costs less
    than gathering the searched ones.
    """
    w1, b1, w2, b2 = _folded(model)
    w1t, b1c, w2t = np.ascontiguousarray(w1.T), b1[:, None], np.ascontiguousarray(w2.T)
    nf = len(features)
    h_, w_ = search.shape
    rows = max(1, chunk // max(1, w_))
    prob = np.zeros((h_, w_), dtype=np.float32)
    any_row = search.any(axis=1)
    block = np.empty((nf, rows * w_), dtype=np.float32)
    for r0 in range(0, h_, rows):
        r1 = min(h_, r0 + rows)
        if not np.asarray(any_row)[r0:r1].any():
            continue
        n = (r1 - r0) * w_
        x = block[:, :n]
        for i in range(nf):
            x[i] = features[i][r0:r1].ravel()
        h = w1t @ x
        h += b1c
        np.maximum(h, 0.0, out=h)
        z = (w2t @ h)[0] + b2[0]
        np.clip(z, -30.0, 30.0, out=z)
        prob[r0:r1] = (1.0 / (1.0 + np.exp(-z))).reshape(r1 - r0, w_)
    prob[~search] = 0.0
    return prob


def object_scores(x: NDArray[np.float32], model: Mapping[str, NDArray[np.float32]]) -> NDArray[np.float32]:
    """Vessel likelihood of each candidate object (small MLP; mean pixel score without one)."""
    if "obj_w1" not in model:
        return x[:, OBJECT_FEATURE_NAMES.index("prob_mean")].astype(np.float32)
    sub = {k: model["obj_" + k] for k in ("mean", "std", "w1", "b1", "w2", "b2")}
    return mlp_forward(x, sub)


def model_for(bands: Iterable[str], params: OpticalParams | None = None) -> str:
    """Weights file the detector runs on for these band names: ``rgb_model`` without ``nir``.

    Without NIR, red stands in for it (:func:`~sitewatch.detect.optical_features._band_set`)
    and every NIR feature is a visible one; the four-band model never saw such inputs, so a
    model trained on the same ports with NIR removed (and on 8-bit renderings of them)
    scores them instead.
    """
    params = params or OpticalParams()
    return params.model if "nir" in set(bands) else params.rgb_model
