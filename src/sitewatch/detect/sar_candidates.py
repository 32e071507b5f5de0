"""The ship/clutter model of the metric SAR detector on 8-bit renderings with ``render_8bit`` off.

A logistic regression over a candidate's :func:`~sitewatch.detect.sar_size.size_features` in
pixel units (``sitewatch/data/sar_candidate_lr.json``, trained by ``benchmarks/sar_train.py``);
:attr:`sitewatch.detect.sar.SarParams.classify_8bit` keeps candidates it scores at least 0.5.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError

__all__ = ["CANDIDATE_FEATURES", "MODEL_FILE", "candidate_probability", "candidate_vector", "read_packaged_model"]


MODEL_FILE = "sar_candidate_lr.json"

CANDIDATE_FEATURES = (
    "log_length_px",
    "log_width_px",
    "log_length_int_px",
    "log_width_int_px",
    "log_area_px",
    "fill",
    "peak_db",
    "mean_db",
    "peak_minus_mean_db",
    "int_to_ext_length",
)


def candidate_vector(ft: dict[str, float]) -> list[float]:
    """The ship/clutter model's inputs from one candidate's :func:`~sitewatch.detect.sar_size.size_features`, in pixel units.

    Pixel units because 8-bit chips rarely come with a trustworthy pixel size; brightness
    ratios are clipped at 40 dB (a sea quantised to 0 puts the background near zero).
    """
    px = ft["pixel_m"]
    le, we = ft["length_ext_m"] / px, ft["width_ext_m"] / px
    li, wi = max(ft["length_int_m"] / px, 1.0), max(ft["width_int_m"] / px, 1.0)
    area = ft["area_m2"] / (px * px)
    peak, mean = min(ft["peak_db"], 40.0), min(ft["mean_db"], 40.0)
    return [
        math.log(le), math.log(we), math.log(li), math.log(wi), math.log(area),
        area / max(le * we, 1.0), peak, mean, peak - mean, li / max(le, 1.0),
    ]


def read_packaged_model(file: str, features: tuple[str, ...], trained_by: str) -> dict[str, Any]:
    """The JSON model ``file`` shipped in ``sitewatch/data``, as stored; an :class:`InputError` when its
    ``features`` are not ``features`` (the code's), naming the benchmark ``trained_by`` that trains it again."""
    text = resources.files("sitewatch").joinpath("data", file).read_text(encoding="utf-8")
    m: dict[str, Any] = json.loads(text)
    if tuple(m["features"]) != features:
        raise InputError(f"{file} was trained on other features; rerun {trained_by}")
    return m


@lru_cache(maxsize=1)
def _candidate_model() -> dict[str, Any]:
    m = read_packaged_model(MODEL_FILE, CANDIDATE_FEATURES, "benchmarks/sar_train.py")
    return {k: np.asarray(v, dtype=np.float64) if k != "features" and isinstance(v, list) else v for k, v in m.items()}


def candidate_probability(x: NDArray[np.float64], model: dict[str, Any] | None = None) -> NDArray[np.float64]:
    """Probability that each row of candidate vectors (:func:`candidate_vector`) is a ship.

    A logistic regression on standardised features: ``sigmoid(b + w · (x - mean) / std)``.
    """
    m = model or _candidate_model()
    z = (np.asarray(x, dtype=np.float64) - m["mean"]) / m["std"]
    return np.asarray(1.0 / (1.0 + np.exp(-(z @ m["coef"] + float(m["intercept"])))))
