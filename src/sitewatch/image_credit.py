"""The imagery credit of image files read outside a workspace (``detect-image``, ``change-image``).

A workspace credits an observation by its scene (:func:`~sitewatch.report.credits.scene_credit`); a file given
to ``detect-image`` has no scene, so its credit is read from what the file says of itself, as ``ingest`` reads
it: the satellite from its ``SITEWATCH_PLATFORM`` tag, its provider's metadata beside it (a Maxar ``.IMD``, a
Planet XML or JSON, a STAC item) or a documented file or product name (``S2B_MSIL2A_…``, ``LC09_L2SP_…``), and
the year from its acquisition time (tags, that metadata, its name). A file naming no satellite is credited
"unknown" (:data:`~sitewatch.report.credits.UNKNOWN_CREDIT`), one naming a satellite but no time has
:data:`~sitewatch.report.credits.UNKNOWN_YEAR` where the year goes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

__all__ = ["file_platform_and_time", "image_credits", "files_credit"]


def file_platform_and_time(path: Path | str) -> tuple[str, datetime | None]:
    """The satellite an image file (or product, or GDAL virtual path) names and when it was taken (None: not
    said), from its tags, its provider's metadata beside it and its name; ``("", None)`` for a file saying neither."""
    import rasterio

    from .errors import InputError
    from .image_metadata import _acquired_from, metadata_sidecars
    from .platforms import platform_of

    tags: dict[str, str] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NotGeoreferencedWarning of a chip
            with rasterio.open(path) as ds:
                tags = ds.tags()
    except (rasterio.errors.RasterioError, OSError):
        pass  # a product's folder, a file GDAL cannot read: its name and sidecars still say
    local = Path(str(path))
    sidecars = metadata_sidecars(local) if local.exists() else []
    platform = platform_of(tags, local, sidecars)[0]
    try:
        found = _acquired_from(tags, local)
    except InputError:  # a tag or sidecar time that is no time: the year is not known
        found = None
    return platform, None if found is None else found[0]


def image_credits(paths: Iterable[Path | str], *, simulated: bool = False) -> list[tuple[str, datetime | None, bool]]:
    """One image given as ``paths`` (its file, or its band files) as :func:`~sitewatch.report.credits.images_credits_text`
    takes images: each satellite its files name (a band file naming none beside one that does is the same scene),
    with the image's time (the first its files give: a band file naming no time beside one that does was taken then
    too), else one unknown; one simulated entry for a simulated image."""
    if simulated:
        return [("", None, True)]
    read = [file_platform_and_time(p) for p in paths]
    # One image, one acquisition: a band file tagged with its satellite alone was credited "year unknown" beside
    # its sibling's year, as if it were another image.
    when = next((w for _, w in read if w is not None), None)
    known = [(platform, w if w is not None else when, False) for platform, w in read if platform]
    return known or [("", None, False)]


def files_credit(paths: Iterable[Path | str], *, simulated: bool = False) -> str:
    """The credit line of one image given as ``paths`` (:func:`image_credits`)."""
    from .report.credits import images_credits_text

    return images_credits_text(image_credits(paths, simulated=simulated))
