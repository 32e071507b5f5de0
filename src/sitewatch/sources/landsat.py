"""Landsat Collection 2 Level-2 products as USGS delivers them: one GeoTIFF a band beside ``…_MTL.txt``.

A product (``LC09_L2SP_116029_20241017_20241018_02_T1``, unpacked from EarthExplorer's tar) is its
``…_MTL.txt`` and the files named after its id beside it: surface reflectance ``…_SR_B2.TIF`` …,
stored as DN with reflectance = DN × ``REFLECTANCE_MULT_BAND_n`` + ``REFLECTANCE_ADD_BAND_n``
(2.75e-05 and −0.2 in Collection 2; DN 0 is fill), and the pixel quality band ``…_QA_PIXEL.TIF``,
read in SCL's classes (:func:`~sitewatch.detect.clouds.qa_pixel_to_scl`) as ingest's cloud mask.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..model import DATE_ONLY_NOTE
from ..platforms import platform_from_name

__all__ = [
    "LandsatProduct", "is_landsat_mtl", "landsat_products_in", "landsat_product_of", "open_landsat_l2",
    "landsat_product_id", "landsat_band_refusal", "landsat_tar_refusal", "landsat_level1_refusal",
    "landsat_level1_products_in", "numbered_band_refusal",
]  # fmt: skip

_L2_ID = re.compile(r"^L[COTE]0([4-9])_L2S[PR]_\d{6}_\d{8}_\d{8}_\d{2}_(?:T1|T2|RT)$")
"""A Collection 2 Level-2 product id (sensor, satellite 4-9, WRS path/row, dates, collection, tier)."""
_L1_FILE = re.compile(r"^(L[COTE]0\d_L1(?:TP|GT|GS)_\d{6}_\d{8}_\d{8}_\d{2}_(?:T1|T2|RT))_")
"""A file of a Collection 2 Level-1 product: top-of-atmosphere DN, which sitewatch does not read."""
_MTL_SUFFIXES = ("_MTL.txt", "_MTL.xml", "_MTL.json")
"""A product's metadata, in the order read: USGS delivers all three; a download file by file may hold one."""
_FILE_OF_PRODUCT = re.compile(r"^(L[COTE]0\d_L2S[PR]_\d{6}_\d{8}_\d{8}_\d{2}_(?:T1|T2|RT))_")
_BAND_NUMBERS = {8: (2, 3, 4, 5), 9: (2, 3, 4, 5), 4: (1, 2, 3, 4), 5: (1, 2, 3, 4), 7: (1, 2, 3, 4)}
"""blue, green, red, NIR band numbers: OLI (Landsat 8-9) against TM/ETM+ (4, 5, 7)."""
_NAMES = ("blue", "green", "red", "nir")


@dataclass(frozen=True)
class LandsatProduct:
    """A Landsat C2 L2 product as sitewatch reads it: where each band is, and how to scale it."""

    path: Path
    """The product's ``…_MTL.txt`` (or, without it, its ``…_MTL.xml`` or ``…_MTL.json``)."""
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


def landsat_product_id(path: Path | str) -> str | None:
    """The Level-2 product id an MTL file (``…_MTL.txt``, ``.xml`` or ``.json``) is named after, or None."""
    name = Path(str(path)).name
    for suffix in _MTL_SUFFIXES:
        if name.endswith(suffix) and _L2_ID.match(name[: -len(suffix)]):
            return name[: -len(suffix)]
    return None


def is_landsat_mtl(path: Path | str) -> bool:
    """Whether ``path`` is the MTL file a Collection 2 Level-2 product is read by: its ``…_MTL.txt``, or
    its ``…_MTL.xml`` or ``…_MTL.json`` when no MTL before it in that order lies beside it."""
    p = Path(str(path))
    product = landsat_product_id(p)
    return product is not None and p.is_file() and landsat_product_of(p) == p


def landsat_products_in(folder: Path) -> list[Path]:
    """The MTL file of every Level-2 product anywhere under ``folder`` (one a product)."""
    return sorted(p for p in folder.rglob("*_MTL.*") if is_landsat_mtl(p))


def landsat_product_of(path: Path | str) -> Path | None:
    """The MTL file beside a file of a Level-2 product (``…_SR_B4.TIF``), or None."""
    p = Path(str(path))
    m = _FILE_OF_PRODUCT.match(p.name)
    if m is None or str(p).startswith("/vsi"):
        return None
    for suffix in _MTL_SUFFIXES:
        mtl = p.with_name(f"{m.group(1)}{suffix}")
        if mtl.is_file() and _L2_ID.match(m.group(1)):
            return mtl
    return None


def landsat_band_refusal(path: Path | str, given: str = "") -> str | None:
    """Why a file of a Level-2 product (``…_SR_B4.TIF``, ``…_QA_PIXEL.TIF`` by its name) with no MTL beside it
    is not read as it is: a surface reflectance band's DN are reflectance × 36,364 + 7,273, not × 10,000, and
    QA_PIXEL holds bit flags. None for other files. ``given``: how it was given (``--band red``), said before it."""
    p = Path(str(path))
    if _L1_FILE.match(p.name) and Path(p.name).suffix.lower() in (".tif", ".tiff"):
        return f"{given + ' ' if given else ''}{landsat_level1_refusal(p)}"
    m = _FILE_OF_PRODUCT.match(p.name)
    if m is None or not _L2_ID.match(m.group(1)) or Path(p.name).suffix.lower() not in (".tif", ".tiff"):
        return None
    return (
        f"{given + ' ' if given else ''}{p}: a file of the Landsat Collection 2 Level-2 product {m.group(1)}, "
        f"without its {m.group(1)}_MTL.txt beside it; put the product's MTL (.txt, .xml or .json) beside its bands and "
        "give the product (its folder), which is read with its scale and offset (reflectance = DN x 2.75e-05 - 0.2) "
        "and its QA_PIXEL as the cloud mask"
    )


def numbered_band_refusal(path: Path | str, codes: Iterable[str], given: str) -> str | None:
    """Why bands called by number (``codes``: ``b2``, ``B04``, as ``--band`` or a band description gives them) are
    not read from a file whose name says Landsat 4, 5 or 7; None for any other file, or no number among ``codes``.

    sitewatch reads a band number as Sentinel-2's code, which is also Landsat 8-9's (B2 blue, B3 green, B4 red,
    B8 NIR); TM and ETM+ number theirs one lower (B1 blue, B2 green, B3 red, B4 NIR), so read by that code a
    Landsat 7 file's green became blue, its NIR red. ``given``: where the numbers were read (``--band b3``).
    """
    numbers = sorted({c.upper() for c in codes if re.fullmatch(r"b\d+", c, re.I)})
    platform = platform_from_name(Path(str(path)).name)
    if not numbers or platform not in ("landsat-4", "landsat-5", "landsat-7"):
        return None
    own = ", ".join(f"B{n} {b}" for n, b in zip(_BAND_NUMBERS[7], _NAMES, strict=True))
    return (
        f"{path}: a {platform} file (by its name) whose bands are called by number ({', '.join(numbers)}: {given}); "
        f"sitewatch reads band numbers as Sentinel-2 and Landsat 8-9 number them (B2 blue, B3 green, B4 red, B8 nir), "
        f"and {platform} numbers its own {own}: name each band blue, green, red or nir instead, or give the "
        "Collection 2 Level-2 product (its folder or _MTL.txt), which is read with its own band numbers"
    )


def landsat_level1_refusal(path: Path | str) -> str | None:
    """Why a file of a Collection 2 Level-1 product (``LC09_L1TP_…_B4.TIF``, its ``_MTL.txt``), or a
    folder holding one, is not read; None for anything else."""
    p = Path(str(path))
    m = _L1_FILE.match(p.name)
    if m is None and not str(p).startswith("/vsi") and p.is_dir():
        found = landsat_level1_products_in(p)
        m = _L1_FILE.match(found[0].name) if found else None
    if m is None:
        return None
    return (
        f"{p}: a Landsat Collection 2 Level-1 product ({m.group(1)}): top-of-atmosphere values, which sitewatch does "
        "not read; give the scene's Level-2 product (L2SP or L2SR, surface reflectance, with its QA_PIXEL)"
    )


def landsat_level1_products_in(folder: Path) -> list[Path]:
    """The ``…_MTL.txt`` (or ``.xml``/``.json``) of every Level-1 product anywhere under ``folder``, one a product."""
    found: dict[str, Path] = {}
    for q in sorted(folder.rglob("*_MTL.*")):
        m = _L1_FILE.match(q.name)
        if m and q.is_file() and q.name[len(m.group(1)) :] in _MTL_SUFFIXES:
            found.setdefault(str(q.parent / m.group(1)), q)
    return sorted(found.values())


def landsat_tar_refusal(path: Path | str) -> str | None:
    """Why a ``.tar`` (USGS's packing of a product) is not read: None for any other file."""
    p = Path(str(path))
    lower = p.name.lower()
    if not lower.endswith((".tar", ".tar.gz", ".tgz")) or str(p).startswith("/vsi"):
        return None
    stem = re.sub(r"\.(tar|tar\.gz|tgz)$", "", p.name, flags=re.I)
    what = "a Landsat product packed as USGS delivers it" if re.match(r"^L[COTE]0\d_", stem) else "a tar archive"
    return (
        f"{p}: {what}; sitewatch reads products unpacked: "
        f"`mkdir {stem} && tar xf {p.name} -C {stem}`, then give the folder {stem}"
    )


def _mtl_values(text: str) -> dict[str, str]:
    """``KEY = value`` lines of an MTL file (the first of each key), quotes taken off."""
    out: dict[str, str] = {}
    for m in re.finditer(r'^\s*(\w+)\s*=\s*"?([^"\r\n]*)"?\s*$', text, re.M):
        out.setdefault(m.group(1), m.group(2).strip())
    return out


def _mtl_xml_values(text: str) -> dict[str, str]:
    """``<KEY>value</KEY>`` elements of an ``…_MTL.xml`` (the first of each key)."""
    out: dict[str, str] = {}
    for m in re.finditer(r"<(\w+)>([^<]*)</\1>", text):
        out.setdefault(m.group(1), m.group(2).strip())
    return out


def _mtl_json_values(text: str) -> dict[str, str]:
    """The ``KEY: value`` leaves of an ``…_MTL.json``, its groups flattened (the first of each key)."""
    import json

    out: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, (dict, list)):
                    walk(v)
                elif v is not None:
                    out.setdefault(str(k), str(v).strip())
        elif isinstance(node, list):
            for v in node:
                walk(v)

    try:
        walk(json.loads(text))
    except (ValueError, RecursionError):  # ValueError: also a number of more than 4300 digits
        return {}
    return out


def open_landsat_l2(mtl: Path) -> LandsatProduct:
    """Read a Level-2 product by its MTL file (``…_MTL.txt``, ``.xml`` or ``.json``); a missing band file or value is named."""
    mtl = Path(mtl)
    name = landsat_product_id(mtl)
    m = None if name is None else _L2_ID.match(name)
    if name is None or m is None:
        raise InputError(f"{mtl}: not the MTL file of a Landsat Collection 2 Level-2 product (named LC09_L2SP_…_MTL.txt)")
    parse = _mtl_xml_values if mtl.name.endswith(".xml") else _mtl_json_values if mtl.name.endswith(".json") else _mtl_values
    try:
        meta = parse(mtl.read_text(encoding="utf-8", errors="replace"))
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
            scale = (float(meta.get(f"REFLECTANCE_MULT_BAND_{n}", "2.75e-05")), float(meta.get(f"REFLECTANCE_ADD_BAND_{n}", "-0.2")))
        except ValueError as exc:
            raise InputError(f"{mtl}: REFLECTANCE_MULT/ADD_BAND_{n} is not a number ({exc})") from exc
        if not all(map(math.isfinite, scale)):  # (NaN, a set of its own each: "scaled differently", which misled)
            raise InputError(f"{mtl}: REFLECTANCE_MULT/ADD_BAND_{n} is {scale[0]:g}/{scale[1]:g}, not a finite number")
        scales.add(scale)
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
    try:
        acquired = datetime.fromisoformat(when.group(1)).replace(hour=hh, minute=mm, second=ss, tzinfo=UTC)
    except ValueError as exc:  # 2024-02-30, or 25:00:00
        raise InputError(f"{mtl}: DATE_ACQUIRED {day!r} with SCENE_CENTER_TIME {centre!r} is no time ({exc}); pass --acquired") from exc
    return LandsatProduct(
        path=mtl,
        name=name,
        bands=bands,
        qa=qa if qa.is_file() else None,
        acquired=acquired,
        acquired_from=f"{mtl.name} DATE_ACQUIRED + SCENE_CENTER_TIME" if clock else f"{mtl.name} DATE_ACQUIRED ({DATE_ONLY_NOTE})",
        platform=f"landsat-{satellite}",
        quantification=1 / mult,
        offset=add / mult,
    )
