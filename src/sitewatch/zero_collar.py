"""DN 0 read as no data in integer images that declare no no-data value (a black collar).

``gdalwarp`` (or QGIS "Save as") without ``-dstnodata``, Maxar and Airbus deliveries, Sentinel-2
tile edges exported by third-party tools and Sentinel-1 GRD exported from SNAP as GeoTIFF fill
the part of the raster the sensor did not image with DN 0 and declare no no-data value. Read as
values, that collar is dark, cloud-free data: a berth in it reads empty.

The rule, for files whose bands are integers wider than 8 bits, with no no-data value and no
mask or alpha band (:func:`zero_is_no_data`):

- optical: a pixel where **every** reflectance band is 0 is no data (no real surface is
  black in every band; one band at 0, dark water's clipped NIR, stays a value);
- SAR: a band's DN 0 is no data (the GRD convention sitewatch already applies to SAFE products).

Pixel by pixel, so tiled reads need no scene-wide step. 8-bit files are left alone: they are
renderings (previews, true-colour exports), in which a stretch makes real pixels black in every
channel (hull shadows, dark water), and a pixel of no data drops every optical candidate touching it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["ZERO_NO_DATA_NOTE", "zero_is_no_data", "zero_is_no_data_in", "all_bands_zero"]

ZERO_NO_DATA_NOTE = "DN 0 read as no data (no no-data value declared)"
"""What an output's provenance says when :func:`zero_is_no_data` applied."""


def zero_is_no_data(ds: Any, indexes: Iterable[int] | None = None) -> bool:
    """Whether DN 0 of bands ``indexes`` (1-based; all by default) of an open rasterio dataset
    stands for no data: each an integer wider than 8 bits, without a no-data value, a mask or an
    alpha band (any of which says where the data is, and is obeyed instead)."""
    from rasterio.enums import ColorInterp, MaskFlags

    idx = list(ds.indexes if indexes is None else indexes)
    if not idx or any(c == ColorInterp.alpha for c in ds.colorinterp):
        return False
    for i in idx:
        dt = np.dtype(ds.dtypes[i - 1])
        if dt.kind not in "iu" or dt.itemsize < 2:
            return False
        if ds.nodatavals[i - 1] is not None:
            return False
        if set(ds.mask_flag_enums[i - 1]) & {
            MaskFlags.per_dataset,
            MaskFlags.alpha,
            MaskFlags.nodata,
        }:
            return False
    return True


def zero_is_no_data_in(sources: Sequence[tuple[Path | str, int]]) -> bool:
    """:func:`zero_is_no_data` over bands given as (file, 1-based band) pairs: true only when it
    holds for every one (one file that says where its data is makes the files' zeros values)."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    by_file: dict[Path | str, list[int]] = {}
    for path, i in sources:
        by_file.setdefault(path, []).append(i)
    if not by_file:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        for path, idx in by_file.items():
            with rasterio.open(path) as ds:
                if not zero_is_no_data(ds, idx):
                    return False
    return True


def all_bands_zero(bands: Iterable[NDArray[Any]]) -> NDArray[np.bool_]:
    """Pixels where every band (arrays of one shape) is 0: an optical image's undeclared no data."""
    out: NDArray[np.bool_] | None = None
    for a in bands:
        z = np.asarray(a) == 0
        out = z if out is None else out & z
    if out is None:
        raise ValueError("all_bands_zero needs at least one band")
    return out
