"""A scene delivered one file a band (``--band NAME=PATH``): the sensor and the name its files make,
the order they are read in, and the checks that they are the bands of one acquisition and not
files taken out of a product.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from ..errors import InputError
from ..image_metadata import _acquired_from
from ..sources.product_files import refuse_files_of_a_product
from .scene_ref import _SAR_BANDS

__all__ = ["band_files_sensor", "band_files_name"]

_BAND_ORDER = {b: i for i, b in enumerate(("BLUE", "GREEN", "RED", "NIR", "SCL", "VV", "HH", "VH", "HV"))}
"""The order in which bands given one file each are read and stored."""


def _refuse_bands_of_a_product(band_files: Mapping[str, Path]) -> None:
    """Refuse band files (key ``""``: a file given alone) taken out of a SAFE or Landsat product
    (:func:`~sitewatch.sources.product_files.refuse_files_of_a_product`): read alone they go
    without the product's scaling, and they would go in as a second observation of the
    acquisition beside the product's. The advice names ``sitewatch ingest``."""
    refuse_files_of_a_product(
        band_files,
        landsat_file="a file",
        landsat_advice=lambda mtl: (
            f"give the product (`sitewatch ingest SITE {mtl}`, or its folder), which is read with its own scale and offset "
            "(reflectance = DN x 2.75e-05 - 0.2) and its QA_PIXEL band"
        ),
        safe_advice=lambda root: f"give the product itself (`sitewatch ingest SITE {root}`), which is read with its own offset, scale or calibration",
    )


def _check_one_date(band_files: Mapping[str, Path]) -> None:
    """Refuse band files whose own tags, sidecars or names give different acquisition dates:
    bands of two scenes (a slip among EO Browser downloads) would make one false image."""
    dates: dict[str, tuple[str, Path]] = {}
    for band, f in band_files.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                with rasterio.open(f) as src:
                    tags = src.tags()
        except RasterioError:
            continue  # named as unreadable by its job
        found = _acquired_from(tags, Path(f))
        if found is not None:
            dates.setdefault(found[0].date().isoformat(), (band, Path(f)))
    if len(dates) > 1:
        listed = "; ".join(f"--band {band} {f} is of {day}" for day, (band, f) in sorted(dates.items()))
        raise InputError(f"the band files are of different dates ({listed}): give the bands of one acquisition")


def band_files_sensor(band_files: Mapping[str, Path]) -> str:
    """``sar`` when the bands given one file each are polarisations (VV, VH, …), else ``optical``."""
    return "sar" if {b.upper() for b in band_files} <= _SAR_BANDS else "optical"


def band_files_name(band_files: Mapping[str, Path]) -> str:
    """What the names of one scene's band files share, the band part cut out.

    ``S2_L2A_B02_(Raw).tiff`` and ``S2_L2A_B03_(Raw).tiff`` → ``S2_L2A_(Raw)``; the first
    file's name when they share nothing.
    """
    stems = [Path(f).stem for f in band_files.values()]
    head = os.path.commonprefix(stems)
    tail = os.path.commonprefix([x[::-1] for x in stems])[::-1]
    if len(stems) < 2 or len(head) + len(tail) >= min(len(x) for x in stems):
        return stems[0]
    head = head[: max((head.rfind(c) for c in "_-. "), default=-1) + 1]
    cut = [i for i in (tail.find(c) for c in "_-. ") if i >= 0]
    tail = tail[min(cut) :] if cut else ""
    return (head.rstrip("_-. ") + tail).strip("_-. ") or stems[0]
