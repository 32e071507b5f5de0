"""Object detection in imagery: pure functions over numpy arrays.

Each detector takes an image array plus its pixel size and returns
:class:`PixelDetection` values in pixel coordinates; :mod:`sitewatch.detection`
turns them into map geometries and stores them.

:func:`detect_image_file` is ``sitewatch detect-image`` in one call: vessels in an image file,
a SAFE or Landsat product or a set of band files, read as what it is (:mod:`sitewatch.detect.inputs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import PixelDetection, measure_components

if TYPE_CHECKING:
    from .inputs import ImageDetections, detect_image_file

__all__ = ["PixelDetection", "measure_components", "detect_image_file", "ImageDetections"]

_LAZY = {"detect_image_file", "ImageDetections"}


def __getattr__(name: str) -> Any:
    # Loaded on first use: importing any detector module would otherwise import every one of them.
    if name in _LAZY:
        from . import inputs

        return getattr(inputs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
