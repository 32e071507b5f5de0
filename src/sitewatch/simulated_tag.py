"""Whether an image is a scene of sitewatch's simulator: its ``SITEWATCH_SIMULATED=true`` GeoTIFF tag.

One reading of the tag for every command that reads image files itself (``detect-image``,
``change-image``), so each says SIMULATED on the same files.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["SIMULATED_TAG", "files_simulated", "simulated_lead", "tagged_simulated"]

SIMULATED_TAG = "SITEWATCH_SIMULATED"
"""The dataset tag the simulator (and the archive, for a simulated observation) writes: ``true``."""


def tagged_simulated(tags: Mapping[str, str]) -> bool:
    """Whether a file's dataset ``tags`` say it is simulated (``SITEWATCH_SIMULATED=true``, any case)."""
    return str(tags.get(SIMULATED_TAG, "")).strip().lower() == "true"


def files_simulated(paths: Iterable[Path | str | None]) -> bool:
    """Whether any of ``paths`` (image files, band files, GDAL virtual paths) is tagged simulated; a file
    whose tags cannot be read (a folder, a PNG without tags, a product) counts as not tagged."""
    import rasterio

    for path in paths:
        if path is None:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # NotGeoreferencedWarning of a chip
                with rasterio.open(path) as ds:
                    if tagged_simulated(ds.tags()):
                        return True
        except (rasterio.errors.RasterioError, OSError):
            continue
    return False


def simulated_lead(simulated: bool) -> str:
    """What a command's output line starts with for simulated imagery (``SIMULATED imagery: ``), else nothing."""
    return "SIMULATED imagery: " if simulated else ""
