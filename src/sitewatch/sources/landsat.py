"""Landsat Collection 2 Level-2 products as USGS delivers them: one GeoTIFF a band beside ``…_MTL.txt``.

A product (``LC09_L2SP_116029_20241017_20241018_02_T1``, unpacked from EarthExplorer's tar) is its
``…_MTL.txt`` and the files named after its id beside it: surface reflectance ``…_SR_B2.TIF`` …,
stored as DN with reflectance = DN × ``REFLECTANCE_MULT_BAND_n`` + ``REFLECTANCE_ADD_BAND_n``
(2.75e-05 and −0.2 in Collection 2; DN 0 is fill), and the pixel quality band ``…_QA_PIXEL.TIF``,
read in SCL's classes (:func:`~sitewatch.detect.clouds.qa_pixel_to_scl`) as ingest's cloud mask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["LandsatProduct", "is_landsat_mtl", "landsat_products_in", "landsat_product_of", "open_landsat_l2"]

_L2_ID = re.compile(r"^L[COTE]0([4-9])_L2S[PR]_\d{6}_\d{8}_\d{8}_\d{2}_(?:T1|T2|RT)$")
"""A Collection 2 Level-2 product id (sensor, satellite 4-9, WRS path/row, dates, collection, tier)."""
_BAND_NUMBERS = {8: (2, 3, 4, 5), 9: (2, 3, 4, 5), 4: (1, 2, 3, 4), 5: (1, 2, 3, 4), 7: (1, 2, 3, 4)}
"""blue, green, red, NIR band numbers: OLI (Landsat 8-9) against TM/ETM+ (4, 5, 7)."""
_NAMES = ("blue", "green", "red", "nir")


@dataclass(frozen=True)
class LandsatProduct:
    """A Landsat C2 L2 product as sitewatch reads it: where each band is, and how to scale it."""

    path: Path
    """The product's ``…_MTL.txt``."""
    name: str
    """The product id."""
    bands: dict[str, tuple[Path, int]]
    """blue/green/red/nir → (``…_SR_Bn.TIF``, band index)."""
    qa: Path | None
    """``…_QA_PIXEL.TIF``, None when it is not beside the bands (clouds then by the spectral test)."""
    acquired: datetime
    acquired_from: str
    platform: str
    quantification: float
    """1 / ``REFLECTANCE_MULT_BAND_n``: reflectance = (DN + ``offset``) / ``quantification``."""
    offset: float
    """``REFLECTANCE_ADD_BAND_n`` × ``quantification`` (−7272.7 in Collection 2)."""

    def provenance(self) -> dict[str, Any]:
        """What the archive records about the product and the conversion applied."""
        return {
            "product": self.name,
            "metadata": str(self.path.resolve()),
            "reflectance_mult": 1 / self.quantification,
            "reflectance_add": self.offset / self.quantification,
            "band_sources": {b: str(f.resolve()) for b, (f, _) in self.bands.items()},
            "qa_pixel": None if self.qa is None else str(self.qa.resolve()),
            "acquired_from": self.acquired_from,
        }


def is_landsat_mtl(path: Path | str) -> bool:
    """Whether ``path`` is the ``…_MTL.txt`` of a Collection 2 Level-2 product."""
    p = Path(str(path))
    return p.name.endswith("_MTL.txt") and bool(_L2_ID.match(p.name[: -len("_MTL.txt")])) and p.is_file()


def landsat_products_in(folder: Path) -> list[Path]:
    """The ``…_MTL.txt`` of every Level-2 product anywhere under ``folder``."""
    return sorted(p for p in folder.rglob("*_MTL.txt") if is_landsat_mtl(p))


def landsat_product_of(path: Path | str) -> Path | None:
    """The ``…_MTL.txt`` beside a file of a Level-2 product (``…_SR_B4.TIF``), or None."""
    p = Path(str(path))
    m = re.match(r"^(L[COTE]0\d_L2S[PR]_\d{6}_\d{8}_\d{8}_\d{2}_(?:T1|T2|RT))_", p.name)
    if m is None or str(p).startswith("/vsi"):
        return None
    mtl = p.with_name(f"{m.group(1)}_MTL.txt")
    return mtl if is_landsat_mtl(mtl) else None


def _mtl_values(text: str) -> dict[str, str]:
    """``KEY = value`` lines of an MTL file (the first of each key), quotes taken off."""
    out: dict[str, str] = {}
    for m in re.finditer(r'^\s*(\w+)\s*=\s*"?([^"\r\n]*)"?\s*$', text, re.M):
        out.setdefault(m.group(1), m.group(2).strip())
    return out


def open_landsat_l2(mtl: Path) -> LandsatProduct:
    """Read a Level-2 product by its ``…_MTL.txt``; a missing band file or value is named."""
    mtl = Path(mtl)
    name = mtl.name[: -len("_MTL.txt")]
    m = _L2_ID.match(name)
    if m is None:
        raise InputError(f"{mtl}: not the MTL file of a Landsat Collection 2 Level-2 product (named LC09_L2SP_…_MTL.txt)")
    try:
        meta = _mtl_values(mtl.read_text(errors="replace"))
    except OSError as exc:
        raise InputError(f"{mtl}: cannot be read ({exc.strerror or exc})") from exc
    satellite = int(m.group(1))
    bands: dict[str, tuple[Path, int]] = {}
    scales: set[tuple[float, float]] = set()
    for band, n in zip(_NAMES, _BAND_NUMBERS[satellite], strict=True):
        f = mtl.with_name(f"{name}_SR_B{n}.TIF")
        if not f.is_file():
            raise InputError(f"{mtl}: its {band} band {f.name} is not beside it; unpack the whole product")
        bands[band] = (f, 1)
        try:
            scales.add((float(meta.get(f"REFLECTANCE_MULT_BAND_{n}", "2.75e-05")),
                        float(meta.get(f"REFLECTANCE_ADD_BAND_{n}", "-0.2"))))  # fmt: skip
        except ValueError as exc:
            raise InputError(f"{mtl}: REFLECTANCE_MULT/ADD_BAND_{n} is not a number ({exc})") from exc
    if len(scales) != 1:
        raise InputError(f"{mtl}: its bands are scaled differently ({sorted(scales)}); sitewatch reads one scale a product")
    mult, add = scales.pop()
    if not mult > 0:
        raise InputError(f"{mtl}: REFLECTANCE_MULT_BAND is {mult:g}, not a positive scale")
    qa = mtl.with_name(f"{name}_QA_PIXEL.TIF")
    day, centre = meta.get("DATE_ACQUIRED", ""), meta.get("SCENE_CENTER_TIME", "")
    when = re.match(r"(\d{4}-\d{2}-\d{2})$", day)
    clock = re.match(r"(\d{2}):(\d{2}):(\d{2})", centre)
    if when is None:
        raise InputError(f"{mtl}: no DATE_ACQUIRED; pass --acquired")
    hh, mm, ss = (int(g) for g in clock.groups()) if clock else (12, 0, 0)
    acquired = datetime.fromisoformat(when.group(1)).replace(hour=hh, minute=mm, second=ss, tzinfo=UTC)
    return LandsatProduct(
        path=mtl,
        name=name,
        bands=bands,
        qa=qa if qa.is_file() else None,
        acquired=acquired,
        acquired_from=f"{mtl.name} DATE_ACQUIRED + SCENE_CENTER_TIME" if clock else f"{mtl.name} DATE_ACQUIRED (12:00 UTC assumed)",
        platform=f"landsat-{satellite}",
        quantification=1 / mult,
        offset=add / mult,
    )
