"""The pixels of the objects detection found, to leave out of a change comparison.

A ship that berthed or left between two observations is a change of the image, not of the ground:
detection and the timeline already report it. :func:`objects_mask` burns the footprints of the
stored detections of both observations into the site's grid, grown by :data:`GROW_PX` pixels (a
footprint is an oriented box fitted to the object's pixels; its hull's edge, its wake and, in SAR, the
sidelobes of a bright hull reach a pixel or two beyond it), and :func:`sitewatch.change.detect_changes`
leaves those pixels out of the comparison, as it does cloud.

Which kinds are left out is :data:`MASKED_KINDS`: vessels, and cranes. A port crane travels along
its rails and slews its boom between two passes; where it stood or where its boom shadow fell is
equipment moving, which the crane detections report, not a quay that was built. The crane's
footings and rails lie under the gantry in either image and cannot be told apart from it in either:
masking its footprint loses nothing the comparison could show.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from .geo import reproject_geometry
from .model import Detection, Grid

__all__ = ["GROW_PX", "MASKED_KINDS", "masked_detections", "objects_mask"]

MASKED_KINDS: tuple[str, ...] = ("vessel", "crane")
"""Detection kinds whose footprints are left out of a change comparison by default."""

GROW_PX = 2
"""Pixels each footprint is grown by (8-connected) before it is left out."""


def masked_detections(detections: Iterable[Detection], kinds: Iterable[str] = MASKED_KINDS) -> list[Detection]:
    """The detections of the ``kinds`` to leave out."""
    wanted = set(kinds)
    return [d for d in detections if d.kind in wanted]


def objects_mask(footprints_wgs84: Iterable[BaseGeometry], grid: Grid, *, grow_px: int = GROW_PX) -> NDArray[np.bool_]:
    """True for the pixels of ``grid`` any footprint (WGS84) touches, grown by ``grow_px`` pixels."""
    from rasterio.features import rasterize
    from scipy import ndimage

    shapes = [(reproject_geometry(g, "EPSG:4326", grid.crs), 1) for g in footprints_wgs84 if not g.is_empty]
    if not shapes:
        return np.zeros(grid.shape, bool)
    burnt = rasterize(shapes, out_shape=grid.shape, transform=grid.affine, all_touched=True, dtype="uint8") > 0
    if grow_px > 0:
        burnt = ndimage.binary_dilation(burnt, structure=np.ones((3, 3), bool), iterations=grow_px)
    return np.asarray(burnt, bool)
