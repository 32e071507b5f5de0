"""Tiny Planet PSScene deliveries for tests: analytic SR image, UDM2 and metadata JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from affine import Affine
from numpy.typing import NDArray

from ..detect.clouds import UDM2_BANDS
from . import write_tiff

__all__ = ["udm2_of_classes", "write_planet_scene"]


def udm2_of_classes(classes: NDArray[np.integer], unusable: NDArray[np.integer] | None = None) -> NDArray[np.uint8]:
    """A UDM2 (8 × rows × cols) from each pixel's class, the number of its UDM2 band (1 clear,
    2 snow, 3 shadow, 4 light haze, 5 heavy haze, 6 cloud; 0 none), and band 8's bit flags."""
    c = np.asarray(classes)
    out = np.zeros((len(UDM2_BANDS), *c.shape), np.uint8)
    for band in range(1, 7):
        out[band - 1] = c == band
    out[6] = np.where(c > 0, 90, 0)  # confidence, %
    if unusable is not None:
        out[7] = np.asarray(unusable, np.uint8)
    return out


def write_planet_scene(
    folder: Path,
    reflectance: NDArray[np.floating],
    udm2: NDArray[np.integer] | None,
    *,
    crs: str,
    west: float,
    north: float,
    pixel: float = 3.0,
    scene_id: str = "20241017_012345_22_2470",
    clip: bool = True,
    acquired: str = "2024-10-17T01:23:45.123Z",
) -> Path:
    """Write a PSScene ``ortho_analytic_4b_sr`` delivery into ``folder`` and return the image's path.

    ``reflectance`` (blue, green, red, nir × rows × cols; NaN where not imaged) is stored as Planet
    stores it, uint16 reflectance × 10,000 with no-data 0; ``udm2`` (None: no mask delivered) beside
    it as ``…_3B_udm2[_clip].tif``, and the item's ``…_metadata.json`` with its acquisition time.
    """
    folder.mkdir(parents=True, exist_ok=True)
    cut = "_clip" if clip else ""
    transform = Affine(pixel, 0, west, 0, -pixel, north)
    r = np.asarray(reflectance, np.float64)
    dn = np.where(np.isfinite(r), np.clip(np.round(np.nan_to_num(r) * 10_000), 1, 65535), 0).astype(np.uint16)
    image = write_tiff(folder / f"{scene_id}_3B_AnalyticMS_SR{cut}.tif", dn, crs=crs, transform=transform, nodata=0)
    if udm2 is not None:
        write_tiff(folder / f"{scene_id}_3B_udm2{cut}.tif", np.asarray(udm2, np.uint8), crs=crs, transform=transform)
    meta = {
        "id": scene_id,
        "type": "Feature",
        "properties": {"acquired": acquired, "item_type": "PSScene", "provider": "planetscope",
                       "satellite_id": scene_id.rsplit("_", 1)[-1], "pixel_resolution": pixel},
    }  # fmt: skip
    (folder / f"{scene_id}_metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    return image
