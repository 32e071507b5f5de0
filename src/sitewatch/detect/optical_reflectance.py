"""Band values to float reflectance 0..1, and the divisor an integer export needs."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError

__all__ = ["RENDERING_CLOUD_BRIGHT", "infer_dn_scale", "to_reflectance"]


def to_reflectance(
    array: NDArray[Any], *, scale: float | None = None, offset: float = 0.0
) -> NDArray[np.float32]:
    """Convert a band to float32 reflectance 0..1.

    - float input is taken as reflectance already (values above 2 are
      rejected: pass ``scale``);
    - ``uint8`` (RGB PNG/JPEG previews) is divided by 255;
    - other integers are Sentinel-2 L2A digital numbers: ``(DN - offset) / 10000``.
      Products of processing baseline 04.00 and later (from 25 January 2022)
      carry ``BOA_ADD_OFFSET = -1000``: pass ``offset=1000``;
    - ``scale`` overrides the divisor (e.g. 65535 for 16-bit "Raw" exports
      stretched to the full range).

    Results are clipped at 0; NaN stays NaN.
    """
    a = np.asarray(array)
    if scale is None:
        if np.issubdtype(a.dtype, np.floating):
            out = a.astype(np.float32, copy=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # no finite value: NaN, not > 2
                high = float(np.nanpercentile(out[:: max(1, out.shape[0] // 64)], 99)) if out.size else 0.0
            if high > 2.0:
                raise InputError(
                    "float band values above 2: not reflectance; pass scale (e.g. 10000)"
                )
            return out
        scale = 255.0 if a.dtype == np.uint8 else 10000.0
    out = (a.astype(np.float32) - np.float32(offset)) / np.float32(scale)
    return np.maximum(out, 0.0, where=~np.isnan(out), out=out)


RENDERING_CLOUD_BRIGHT = 0.85
"""Spectral cloud threshold for 8-bit display renderings (``uint8`` / 255, not reflectance).

A display stretch (Sentinel Hub true colour is reflectance x 2.5; Planet visual products
are colour-balanced 8-bit) puts harbour water at 0.25-0.35 of the range and clouds at
saturation, so the reflectance threshold 0.25 took the sea for cloud: 74 % of a clear
PlanetScope rendering of San Francisco Bay (shipsnet scene 1) was hidden and no ship was
reported. At 0.85 the four clear shipsnet scenes keep 0-5.2 % (beach sand, white roofs:
as bright and white as cloud in three bands; 0.7 kept 0-6.6 %, 0.9 0-3.9 %)."""


# A scene's brightest percent stays below reflectance ~1.3 (cloud tops, snow, glint): as
# Sentinel-2 digital numbers (x 10000, + 1000 from baseline 04.00) under 15000.
# Exports stretched to the full 16-bit range (x 65535, e.g. EO Browser "Raw") put a port's
# land there: sen2ships' ports have a 99th percentile of 13,800-33,000 in their brightest
# band, Sentinel-2 L1C city scenes (OSCD) 2,200-4,500.
_STRETCHED_P99 = 15000.0


def infer_dn_scale(samples: Sequence[NDArray[Any]]) -> float | None:
    """The divisor that turns a scene's integer band values into reflectance, from their range.

    ``samples`` holds each band (a decimated read is enough). Floats need none
    (``None``); ``uint8`` is 255; other integers are 65535 when the brightest
    band's 99th percentile (0 and 65535 left out: no data, saturation) is above
    15000 — reflectance 1.4-1.5 as Sentinel-2 digital numbers, which a scene's
    brightest percent does not reach, but land of reflectance 0.23 in a full-range
    16-bit export — and 10000 (Sentinel-2, Landsat-style and Planet surface reflectance)
    otherwise. A scene of open water alone cannot be told apart; pass the scale.
    """
    if not samples or any(np.issubdtype(np.asarray(a).dtype, np.floating) for a in samples):
        return None
    if all(np.asarray(a).dtype == np.uint8 for a in samples):
        return 255.0
    p99 = 0.0
    for a in samples:
        v = np.asarray(a).ravel()
        v = v[(v > 0) & (v < 65535)]
        if v.size:
            p99 = max(p99, float(np.percentile(v, 99)))
    return 65535.0 if p99 > _STRETCHED_P99 else 10000.0
