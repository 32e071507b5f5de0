"""A folder of one file per band, read as the band files of one scene: the files found by their
Sentinel-2 band codes (``…_B02.tif`` blue, ``…_B03.tif`` green, ``…_B04.tif`` red, ``…_B08.tif`` nir),
as ``--band B02=PATH`` names them (:func:`~sitewatch.detect.optical_image.parse_band_args`).

OSCD's ``imgs_1/`` (``S2A_OPER_MSI_L1C_TL_…_B02.tif``), a SAFE's ``IMG_DATA/R10m/`` (``T33TUL_…_B02_10m.jp2``)
and EO Browser's downloads (``…_Sentinel-2_L2A_B02_(Raw).tiff``) all name their bands so. The other
bands of such a folder (B01, B05…B12, B8A: 20 and 60 m) are left alone.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError
from .optical_image import _ALIASES

__all__ = ["BAND_CODES", "BAND_FILE_SUFFIXES", "SENTINEL2_BAND_CODES", "band_files_in"]

BAND_FILE_SUFFIXES = (".tif", ".tiff", ".jp2")
"""The files of a folder that may be band files (any case)."""

SENTINEL2_BAND_CODES: dict[str, str] = {k.upper(): v for k, v in _ALIASES.items() if re.fullmatch(r"b0\d", k)}
"""Sentinel-2 band code -> band name, the codes ``--band`` takes (``B02`` blue, ``B03`` green, ``B04`` red,
``B08`` nir). One-digit codes (``B2``) are not looked for in file names: Landsat's ``…_B8.TIF`` is panchromatic."""

BAND_CODES: dict[str, str] = {name: code for code, name in SENTINEL2_BAND_CODES.items()}
"""Band name -> its Sentinel-2 code (``blue`` -> ``B02``), for saying which file a band was read from."""

_TOKENS = re.compile(r"[_\-.()\s]+")


def _band_code(path: Path) -> str | None:
    """The Sentinel-2 band code the file's name holds as a word of its own (``…_B02_10m``), or None."""
    codes = {t.upper() for t in _TOKENS.split(path.stem)} & set(SENTINEL2_BAND_CODES)
    return codes.pop() if len(codes) == 1 else None


def band_files_in(folder: Path) -> dict[str, Path]:
    """Band name -> file of the band files directly in ``folder`` (module doc), in the order blue, green,
    red, nir. Raises :class:`InputError` naming the folder when it holds none of them (and where, under it,
    such files are: a SAFE's ``GRANULE/…/IMG_DATA/R10m``), or two files of one band."""
    found: dict[str, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in BAND_FILE_SUFFIXES and (code := _band_code(p)) is not None:
            found.setdefault(SENTINEL2_BAND_CODES[code], []).append(p)
    for name, files in found.items():
        if len(files) > 1:
            raise InputError(f"{folder}: {len(files)} files of band {name} ({', '.join(f.name for f in files)}); give a folder with one file a band")
    if not found:
        looked = ", ".join(f"*{code}* ({name})" for code, name in SENTINEL2_BAND_CODES.items())
        below = sorted({p.parent for p in folder.rglob("*") if p.suffix.lower() in BAND_FILE_SUFFIXES and _band_code(p) and p.parent != folder})
        where = f"; under it, band files are in {', '.join(map(str, below[:2]))}: give that folder" if below else ""
        raise InputError(f"{folder}: no Sentinel-2 band files in it (looked for {looked}, {'/'.join(BAND_FILE_SUFFIXES)}; subfolders are not read){where}")
    order = list(SENTINEL2_BAND_CODES.values())
    return {name: found[name][0] for name in sorted(found, key=order.index)}
