"""An 8-bit SAR rendering stored in a wider type, told from genuine SAR values and read back as 8 bits.

A PNG or JPEG chip (SAR-Ship-Dataset, HRSID) is a display rendering, which the SAR detector reads
with its own stage for renderings (:attr:`sitewatch.detect.sar.SarParams.render_8bit`). Converters
store the same picture wider: 16-bit PNG or TIFF with the values × 257 (``0-255`` onto ``0-65535``,
what most do) or × 256 (a shift by 8 bits), float32 holding 0-255, or 0-1 (the values / 255).
Read as they are, the first two are 16-bit amplitude and the float ones intensity, and the same
picture gave 281 false alarms instead of 50 on the sample chips (``benchmarks/sar_encodings.py``).

The rules, on the image's valid values (:func:`rendering_divisor`), each of which genuine data does
not meet:

- integers, all multiples of 257 (or of 256, none above 65280): genuine 16-bit amplitude is not
  quantised in steps of 256;
- floats, all whole numbers in 0-255 with 255 among them (a stretched rendering saturates its
  brightest hull; all 16 sample chips reach 255): calibrated sigma0 and dB are never all whole.
  Uncalibrated amplitude DN stored as float (OpenSARShip's ``Patch/``, read as amplitude by the
  detector) are whole: their VV bands peak at 303 or more, but 16 of their 125 VH bands stay
  within 117-254. Those are read as a pair with their VV band (two-band files and ``--band``
  files are never taken for renderings); a lone VH DN band peaking at exactly 255 would be
  misread, the one case these rules cannot tell apart;
- floats in 0-1 that are all k / 255 for whole k (to 1e-3 of a step): genuine linear sigma0 in 0-1
  is continuous, so a sample of it is not all on a grid of 1/255 (the chance that one value falls
  within 1e-3 of a step is 0.2 %).

Every rule also needs at least :data:`MIN_LEVELS` distinct values, so that a constant or two-valued
image (a test pattern, a mask) is left as it is. Values stored unscaled in 16 bits (an 8-bit picture
as uint16 0-255) are **not** taken for a rendering: low-valued 16-bit amplitude (a calm sea's DN) is
the same numbers.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["MIN_LEVELS", "rendering_divisor", "to_rendering", "describe_divisor"]

MIN_LEVELS = 4
"""Fewest distinct values an image needs to be taken for a stored 8-bit rendering."""
_STEP_TOLERANCE = 1e-3
"""How far from a whole step of 1/255 (in steps) a 0-1 float value may lie: float32 keeps k/255 to 1e-5 of a step."""


def rendering_divisor(values: NDArray[np.generic]) -> float | None:
    """What an image's values were multiplied by when an 8-bit rendering was stored in them
    (257, 256, 1 or 1/255), or None when they are not such a rendering (see the module doc).

    ``values``: the image's valid pixel values (any shape; non-finite values are left out),
    a strided sample of a large image."""
    v = np.asarray(values).ravel()
    if v.dtype.kind == "f":
        v = v[np.isfinite(v)]
    elif v.dtype.kind not in "iu" or v.dtype.itemsize < 2:
        return None  # 8-bit is a rendering as it is; bool, complex: no
    if v.size == 0 or v.min() < 0:
        return None
    levels = np.unique(v)
    if levels.size < MIN_LEVELS:
        return None
    if v.dtype.kind in "iu":
        wide = levels.astype(np.int64)
        if not np.any(wide % 257) and wide.max() <= 255 * 257:
            return 257.0
        if not np.any(wide % 256) and wide.max() <= 255 * 256:
            return 256.0
        return None
    f = levels.astype(np.float64)
    if f.max() == 255 and np.array_equal(f, np.round(f)):
        return 1.0
    if f.max() <= 1:
        k = f * 255
        if np.all(np.abs(k - np.round(k)) <= _STEP_TOLERANCE):
            return 1 / 255
    return None


def to_rendering(a: NDArray[np.generic], divisor: float) -> NDArray[np.uint8]:
    """``a`` divided by ``divisor`` as the 8-bit rendering it holds (non-finite values as 0: the
    caller marks them invalid)."""
    f = np.asarray(a, dtype=np.float64) / divisor
    return np.clip(np.rint(np.nan_to_num(f, nan=0.0, posinf=0.0, neginf=0.0)), 0, 255).astype(np.uint8)


def describe_divisor(divisor: float, dtype: str) -> str:
    """How the values were read, for the output's metadata."""
    if divisor == 1 / 255:
        how = "float values 0-1 in steps of 1/255"
    elif divisor == 1:
        how = "float whole numbers 0-255"
    else:
        how = f"{dtype} values, each 8-bit value × {divisor:g}"
    return f"an 8-bit rendering stored as {how}: read as its 8-bit values"
