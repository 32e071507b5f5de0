"""How far apart a set of outline colours stays for readers with a colour vision deficiency, or in print.

Dichromacy is simulated with the matrices of Machado, Oliveira & Fernandes, "A Physiologically-based Model
for Simulation of Color Vision Deficiency", IEEE TVCG 15(6), 2009 (severity 1.0: protanopia, deuteranopia,
tritanopia), applied to linear sRGB as the paper does; greyscale keeps CIELAB lightness alone, as a page
printed in black and white does. The distance between two colours is CIEDE2000
(:func:`skimage.color.deltaE_ciede2000`): about 2 is the least a viewer notices side by side, and thin
outlines over imagery need much more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError

__all__ = ["VISIONS", "MACHADO_2009", "hex_rgb", "simulate", "min_delta_e", "closest_pair"]

MACHADO_2009: dict[str, NDArray[np.float64]] = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}  # fmt: skip
"""Machado et al. (2009), Table 1 at severity 1.0: linear RGB in, linear RGB as the dichromat sees it out."""
VISIONS = ("normal", *MACHADO_2009, "greyscale")
"""Each way a colour is seen that :func:`simulate` knows."""


def hex_rgb(colour: str) -> NDArray[np.float64]:
    """``#rrggbb`` as sRGB from 0 to 1; raises :class:`~sitewatch.errors.InputError` naming anything else."""
    text = colour.strip()
    if len(text) != 7 or text[0] != "#":
        raise InputError(f"colour {colour!r} is not #rrggbb: write it as six hex digits after '#', e.g. #0072b2")
    try:
        return np.array([int(text[i:i + 2], 16) for i in (1, 3, 5)], dtype="float64") / 255.0
    except ValueError:
        raise InputError(f"colour {colour!r} is not #rrggbb: write it as six hex digits after '#', e.g. #0072b2") from None


def _to_linear(srgb: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _to_srgb(lin: NDArray[np.float64]) -> NDArray[np.float64]:
    lin = np.clip(lin, 0.0, 1.0)  # the matrices can leave the gamut by a little
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


def simulate(colours: Iterable[str], vision: str) -> NDArray[np.float64]:
    """``colours`` (``#rrggbb``) as seen with ``vision`` (one of :data:`VISIONS`), as CIELAB (n × 3)."""
    from skimage.color import rgb2lab

    if vision not in VISIONS:
        raise InputError(f"unknown vision {vision!r}: use one of {', '.join(VISIONS)}")
    srgb = np.array([hex_rgb(c) for c in colours]).reshape(-1, 3)
    if vision in MACHADO_2009:
        srgb = _to_srgb(_to_linear(srgb) @ MACHADO_2009[vision].T)
    lab = rgb2lab(srgb[np.newaxis])[0]
    if vision == "greyscale":
        lab[:, 1:] = 0.0
    return lab


def closest_pair(colours: Mapping[str, str], vision: str) -> tuple[float, str, str]:
    """The smallest CIEDE2000 difference between two of ``colours`` (name → ``#rrggbb``) seen with ``vision``,
    and the two names; raises :class:`~sitewatch.errors.InputError` for fewer than two colours."""
    from skimage.color import deltaE_ciede2000

    if len(colours) < 2:
        raise InputError(f"need two colours or more to compare, got {len(colours)}: {dict(colours)}")
    names = list(colours)
    lab = simulate(colours.values(), vision)
    return min((float(deltaE_ciede2000(lab[i], lab[j])), names[i], names[j]) for i, j in combinations(range(len(names)), 2))


def min_delta_e(colours: Mapping[str, str], vision: str) -> float:
    """The smallest CIEDE2000 difference between two of ``colours`` seen with ``vision`` (:func:`closest_pair`)."""
    return closest_pair(colours, vision)[0]
