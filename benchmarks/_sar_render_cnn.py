"""A small convolutional ship/clutter scorer for candidates in 8-bit SAR renderings (numpy only).

An experiment, not part of the package: held out it scored far below the boosted trees
the detector ships (BENCHMARKS.md, "SAR detection"), so the detector does not use it.

Each candidate of :func:`sitewatch.detect.sar_render.rendering_candidates` is seen through a
window centred on its centroid at :data:`SCALES` scales: :data:`PATCH_PX` pixels square at
the chip's resolution, and two and four times that side averaged down to the same size
(ships of 10-100 px fit in one or another; the widest shows whether the ground around is
water or land). Grey levels are expressed over the candidate's local background
(block median) in units of :data:`GREY_SCALE`, so a rendering's stretch matters less.
The network (three 3 × 3 convolutions with ReLU and 2 × 2 max pooling, global mean and max
pooling, one logistic unit) is trained with PyTorch by ``benchmarks/sar_render_cnn_train.py``
and written to a small ``.npz``; inference here needs only numpy.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from sitewatch.errors import InputError

__all__ = ["CNN_MODEL_FILE", "GREY_SCALE", "PATCH_PX", "SCALES", "candidate_patches", "cnn_probability"]

CNN_MODEL_FILE = "sar_render_cnn.npz"
MODEL_PATH = Path(__file__).resolve().parent / CNN_MODEL_FILE
"""Where ``sar_render_cnn_train.py --write`` puts the weights (not committed)."""
PATCH_PX = 32
"""Side of the window the network sees, in pixels, at each of the two scales."""
SCALES = 3
"""Windows of PATCH_PX, 2 and 4 × PATCH_PX pixels, each averaged down to PATCH_PX square."""
GREY_SCALE = 64.0
"""Grey levels over the local background are divided by this (then clipped to ±4)."""


def candidate_patches(
    image: NDArray[np.generic], row: NDArray[np.float64], col: NDArray[np.float64], background: NDArray[np.float64]
) -> NDArray[np.float32]:
    """Windows around each centroid, shape ``(n, SCALES, PATCH_PX, PATCH_PX)``: fine to coarse.

    ``background`` is each candidate's local background grey level; the chip is padded by
    reflection so candidates at the edge get full windows.
    """
    v = np.asarray(image, dtype=np.float32)
    h = 2 * PATCH_PX  # the coarsest window spans 4 * PATCH_PX fine pixels
    pad = np.pad(v, h, mode="reflect")
    n = len(row)
    out = np.zeros((n, SCALES, PATCH_PX, PATCH_PX), np.float32)
    ri = np.round(np.asarray(row)).astype(np.int64) + h
    ci = np.round(np.asarray(col)).astype(np.int64) + h
    half = PATCH_PX // 2
    for i in range(n):
        r, c = ri[i], ci[i]
        out[i, 0] = pad[r - half : r + half, c - half : c + half]
        for k in range(1, SCALES):
            f, q = 2**k, PATCH_PX * 2 ** (k - 1)
            out[i, k] = pad[r - q : r + q, c - q : c + q].reshape(PATCH_PX, f, PATCH_PX, f).mean(axis=(1, 3))
    out -= np.asarray(background, dtype=np.float32)[:, None, None, None]
    return np.clip(out / GREY_SCALE, -4.0, 4.0)


def _conv_relu(x: NDArray[np.float32], w: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    """3 × 3 'same' convolution (cross-correlation, as torch) plus bias, then ReLU; x (n, c, h, w)."""
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = sliding_window_view(xp, (3, 3), axis=(2, 3))  # (n, c, h, w, 3, 3)
    y = np.einsum("nchwij,ocij->nohw", win, w, optimize=True) + b[None, :, None, None]
    return np.maximum(y, 0.0).astype(np.float32)


def _pool2(x: NDArray[np.float32]) -> NDArray[np.float32]:
    n, c, h, w = x.shape
    return np.asarray(x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5)))


@lru_cache(maxsize=1)
def _cnn_model() -> dict[str, Any]:
    with np.load(MODEL_PATH) as z:
        m = {k: z[k] for k in z.files}
    if int(m["patch_px"]) != PATCH_PX or float(m["grey_scale"]) != GREY_SCALE:
        raise InputError(f"{CNN_MODEL_FILE} was trained on other windows; rerun benchmarks/sar_render_cnn_train.py")
    return m


def cnn_probability(patches: NDArray[np.float32], model: dict[str, Any] | None = None, batch: int = 256) -> NDArray[np.float64]:
    """Ship probability of each window (``model``: arrays as in the written ``.npz``)."""
    m = model or _cnn_model()
    out = np.zeros(len(patches))
    for s in range(0, len(patches), batch):
        x = np.asarray(patches[s : s + batch], dtype=np.float32)
        for k in range(3):
            x = _conv_relu(x, m[f"conv{k}_w"], m[f"conv{k}_b"])
            if k < 2:
                x = _pool2(x)
        z = np.concatenate([x.mean(axis=(2, 3)), x.max(axis=(2, 3))], axis=1)
        raw = z @ m["fc_w"].T[:, 0] + m["fc_b"][0]
        out[s : s + batch] = 1.0 / (1.0 + np.exp(-raw))
    return out
