"""Object detection in imagery: pure functions over numpy arrays.

Each detector takes an image array plus its pixel size and returns
:class:`PixelDetection` values in pixel coordinates; :mod:`sitewatch.pipeline`
turns them into map geometries and stores them.
"""

from .base import PixelDetection, measure_components

__all__ = ["PixelDetection", "measure_components"]
