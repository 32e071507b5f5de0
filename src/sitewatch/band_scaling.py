"""A GeoTIFF band's declared scale and offset (GDAL's band metadata): value = DN x scale + offset.

``gdal_translate -a_scale -a_offset``, ``gdal_edit -scale -offset`` and rioxarray's ``scale_factor`` /
``add_offset`` write them; a Sentinel-2 file saved with its -0.1 offset, a Landsat Level-2 one with its
2.75e-05 and -0.2, a SAR file of sigma0 dB x 100 in int16 with 0.01 carry them. Every reader of image files
(``ingest``/``import``, ``detect-image``, ``change-image``) takes them from here, so that such a file is read
as its values, not by its range; a file declaring nothing (scale 1, offset 0) is read as before. The caller's
own scaling (``--dn-scale``, ``--dn-offset``) overrides them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["DECLARED_SAR_SCALING", "DECLARED_SCALING", "Scaling", "apply_scaling", "band_scalings", "declares_any", "declared_scaling", "shared_scale"]

Scaling = tuple[float, float]
"""A band's (scale, offset): value = DN x scale + offset."""

DECLARED_SCALING = "the file's own band scale and offset (GDAL metadata): reflectance = DN x scale + offset"
"""The provenance's ``scaling_from`` (and ``detect-image``'s ``dn_scale_from``) for a file whose bands declare
how their values become reflectance."""

DECLARED_SAR_SCALING = "the file's own band scale and offset (GDAL metadata): value = DN x scale + offset, then read as any float file (dB, sigma0 or amplitude)"
"""The provenance's ``scaling_from`` for a SAR file whose bands declare a scale and offset."""


def band_scalings(ds: Any) -> tuple[Scaling, ...]:
    """Each band's (scale, offset) of an open rasterio dataset, (1.0, 0.0) where it declares none."""
    return tuple((float(s or 1.0), float(o or 0.0)) for s, o in zip(ds.scales, ds.offsets, strict=True))


def declares_any(scalings: Iterable[Scaling]) -> bool:
    """Whether any of ``scalings`` is other than (1.0, 0.0), what a band declaring nothing has."""
    return any(v != (1.0, 0.0) for v in scalings)


def declared_scaling(
    opened: Mapping[Path | str, Any], sources: Mapping[str, tuple[Path | str, int]]
) -> dict[str, Scaling] | None:
    """Each named band's (scale, offset) as its file declares them (``sources``: band name -> file and
    1-based band number; ``opened``: each file's open dataset), or None when none declares any."""
    declared = {band: band_scalings(opened[f])[i - 1] for band, (f, i) in sources.items()}
    return declared if declares_any(declared.values()) else None


def apply_scaling(a: NDArray[Any], scaling: Scaling) -> NDArray[np.float32]:
    """``a`` as float32 values: DN x scale + offset (NaN stays NaN)."""
    scale, offset = scaling
    return a.astype(np.float32) * np.float32(scale) + np.float32(offset)


def shared_scale(declared: Mapping[str, Scaling]) -> float | None:
    """The scale every band declares, or None when they differ."""
    scales = {s for s, _ in declared.values()}
    return next(iter(scales)) if len(scales) == 1 else None
