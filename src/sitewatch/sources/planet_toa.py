"""Planet radiance products turned into top-of-atmosphere reflectance by their own metadata.

A PlanetScope analytic file without ``_SR`` (``…_3B_AnalyticMS_clip.tif``, ``…_AnalyticMS_8b.tif``, an
ortho tile's ``…_BGRN_Analytic.tif``) holds top-of-atmosphere radiance, W/(m²·sr·µm) × 100 as uint16, not
surface reflectance × 10,000: read as the latter, water came out several times too bright or too dark,
by the sun's height. Planet delivers beside it ``…_3B_AnalyticMS_metadata_clip.xml`` (unclipped:
``…_metadata.xml``), whose ``ps:bandSpecificMetadata`` gives each band (``ps:bandNumber``) a
``ps:reflectanceCoefficient``: TOA reflectance = DN × reflectanceCoefficient, the DN as stored, not first
multiplied by the radiometric scale factor 0.01 (Planet Imagery Product Specifications, "Radiometric
interpretation"; gis.stackexchange.com/q/227067, Planet's answer; support.planet.com, "What Is the
Order of Reflectance Coefficients … for SkySat Imagery": multipliers from radiance to TOA reflectance).

TOA reflectance is not the surface reflectance the detector was trained on (the atmosphere's haze is
left in, brightening dark water by a few hundredths), but it is reflectance: far nearer than radiance
read as reflectance. Without the XML nothing says the scale, and the file is refused.

A SkySat ``…_analytic…`` file without ``_sr`` or ``_dn`` (``…_ortho_analytic.tif``, ``…_basic_analytic.tif``)
holds top-of-atmosphere radiance too; Planet puts its reflectance coefficients, one per band in band order,
in the GeoTIFF header (support.planet.com, "What Is the Order of Reflectance Coefficients in the GeoTiff
Header for SkySat Imagery?"): the ImageDescription tag's JSON, ``properties.reflectance_coefficients``, as
ACOLITE's Planet reader takes them. A header without them is refused as PlanetScope without its XML is.

A SkySat ``…_analytic_dn…`` (``…_basic_analytic_dn…``) file holds raw digital numbers, not radiance; its
coefficients are not in a sidecar sitewatch reads, so it is refused unless the caller gives the scale.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import is_file
from ..untrusted import parse_xml
from .providers import ProviderProduct

__all__ = ["HEADER_NOTE", "PlanetTOA", "TOA_NOTE", "header_reflectance_coefficients", "planet_toa", "planet_metadata_xml", "reflectance_coefficients"]

TOA_NOTE = "TOA from ps:reflectanceCoefficient"
"""What a converted file's provenance and detect-image's output say of its reflectance."""

HEADER_NOTE = "TOA from the GeoTIFF header's reflectance_coefficients"
"""The same for a SkySat radiance file, whose coefficients are in its own header."""

_PS = "{http://schemas.planet.com/ps/v1/planet_product_metadata_geocorrected_level}"


@dataclass(frozen=True)
class PlanetTOA:
    """A Planet radiance file's per-band reflectance coefficients, read from its metadata XML."""

    metadata: Path
    """The ``…_metadata.xml`` (``…_metadata_clip.xml``) they were read from; for SkySat the image itself."""
    coefficients: tuple[float, ...]
    """TOA reflectance per DN, band 1 first, one for each band of the file."""
    note: str = TOA_NOTE
    """Where the coefficients came from, as the provenance says it (:data:`TOA_NOTE`, :data:`HEADER_NOTE`)."""

    def __post_init__(self) -> None:
        if not self.coefficients or not all(0.0 < c < 1.0 for c in self.coefficients):
            raise InputError(f"{self.metadata}: reflectance coefficients {list(self.coefficients)} are not each in (0, 1)")

    def provenance(self, bands: list[str] | tuple[str, ...] | None = None) -> dict[str, Any]:
        """What the provenance and detect-image's ``sitewatch`` member record of the conversion."""
        names = list(bands) if bands is not None else [f"band{i + 1}" for i in range(len(self.coefficients))]
        return {
            "reflectance": self.note,
            "metadata": str(self.metadata.resolve()),
            "reflectance_coefficients": dict(zip(names, self.coefficients, strict=False)),
        }


def _radiance_kind(product: ProviderProduct) -> str | None:
    """``planetscope`` for a PlanetScope radiance product, ``skysat`` for a SkySat one, ``skysat_dn`` for
    SkySat digital numbers, else None."""
    name = product.product.upper()
    if product.provider == "PlanetScope" and name.startswith(("ANALYTIC", "BGRN")) and "_SR" not in name:
        return "planetscope"
    if product.provider == "SkySat" and name.startswith("ANALYTIC") and name.endswith("_DN"):
        return "skysat_dn"
    if product.provider == "SkySat" and name.startswith("ANALYTIC") and "_SR" not in name:
        return "skysat"
    return None


def header_reflectance_coefficients(path: Path, count: int) -> tuple[float, ...] | None:
    """A SkySat radiance file's ``reflectance_coefficients`` from the JSON of its ImageDescription tag
    (under ``properties``, or at the top), band 1 first; None when the header gives none, an
    :class:`InputError` naming the file when they are not one number for each of ``count`` bands."""
    import rasterio
    from rasterio.errors import RasterioError

    try:
        with rasterio.open(path) as ds:
            text = ds.tags().get("TIFFTAG_IMAGEDESCRIPTION")
    except RasterioError:
        return None
    try:
        header = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(header, dict):
        return None
    found = header.get("properties", {}).get("reflectance_coefficients") if isinstance(header.get("properties"), dict) else None
    found = header.get("reflectance_coefficients") if found is None else found
    if found is None:
        return None
    if not isinstance(found, list) or len(found) != count or not all(_number(c) for c in found):
        raise InputError(
            f"{path}: its header's reflectance_coefficients {found!r} are not one number for each of its {count} "
            "bands; give the scene's analytic_sr (surface reflectance) product"
        )
    return tuple(float(c) for c in found)


def _number(value: object) -> bool:
    """Whether a header's ``value`` is a JSON number a float holds (not a boolean, nor an integer of 309 digits)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


def planet_metadata_xml(path: Path) -> Path | None:
    """The metadata XML Planet delivers beside a radiance file: its name less ``_clip``, then
    ``_metadata_clip.xml`` (a clipped file) or ``_metadata.xml``."""
    if str(path).startswith("/vsi"):
        return None
    stem = re.sub(r"_clip$", "", path.stem, flags=re.I)
    clipped = stem != path.stem
    names = [f"{stem}_metadata_clip.xml", f"{stem}_metadata.xml"] if clipped else [f"{stem}_metadata.xml"]
    for name in names:
        if is_file(path.parent / name):
            return path.parent / name
    return None


def reflectance_coefficients(xml: Path, count: int) -> tuple[float, ...]:
    """Each band's ``ps:reflectanceCoefficient`` in a Planet metadata XML, band 1 first; an
    :class:`InputError` naming the file when it does not give one for each of ``count`` bands."""
    try:
        root = parse_xml(xml.read_bytes(), str(xml))
    except (OSError, ET.ParseError) as exc:
        raise InputError(f"{xml}: not a readable Planet metadata XML ({exc})") from exc
    found: dict[int, float] = {}
    for band in root.iter(f"{_PS}bandSpecificMetadata"):
        number, coefficient = band.findtext(f"{_PS}bandNumber"), band.findtext(f"{_PS}reflectanceCoefficient")
        try:
            if number is not None and coefficient is not None:
                found[int(number)] = float(coefficient)
        except ValueError as exc:
            raise InputError(f"{xml}: band {number!r} has the reflectance coefficient {coefficient!r}, not a number") from exc
    if sorted(found) != list(range(1, count + 1)):
        raise InputError(
            f"{xml}: gives reflectance coefficients (ps:bandSpecificMetadata) for bands {sorted(found) or 'none'}, "
            f"and its image has {count}: give the metadata XML delivered with it, or the scene's _SR product"
        )
    return tuple(found[i] for i in range(1, count + 1))


def planet_toa(path: Path | str, product: ProviderProduct | None, count: int, *, scale_given: bool = False) -> PlanetTOA | None:
    """How a Planet radiance file becomes reflectance: its metadata XML's coefficients; None for
    any other file (surface reflectance, Visual, another provider's) or when ``scale_given``
    (detect-image's ``--dn-scale``) says it and no XML does.

    A SkySat radiance file (``…_analytic``, no ``_sr``/``_dn``) is converted by the coefficients in its
    own GeoTIFF header. A PlanetScope radiance file without its XML, a SkySat one whose header has no
    coefficients, and a SkySat ``analytic_dn`` file, are an :class:`InputError` naming the file unless
    ``scale_given``.
    """
    kind = None if product is None else _radiance_kind(product)
    if kind is None or product is None:
        return None
    path = Path(str(path))
    with_scale = " (or pass --dn-scale)" if not scale_given else ""
    if kind == "skysat_dn":
        if scale_given:
            return None
        raise InputError(
            f"{path}: {product.reason}: raw digital numbers, not reflectance, and the coefficients that would "
            "make them reflectance are not in a file sitewatch reads; give the scene's analytic_sr (surface "
            "reflectance) product, or pass detect-image --dn-scale"
        )
    if kind == "skysat":
        coefficients = header_reflectance_coefficients(path, count)
        if coefficients is not None:
            return PlanetTOA(path, coefficients, HEADER_NOTE)
        if scale_given:
            return None
        raise InputError(
            f"{path}: {product.reason}: top-of-atmosphere radiance, not reflectance, and its GeoTIFF header "
            "gives no reflectance_coefficients to make it reflectance; give the scene's analytic_sr (surface "
            "reflectance) product, or pass detect-image --dn-scale"
        )
    xml = planet_metadata_xml(path)
    if xml is None:
        if scale_given:
            return None
        raise InputError(
            f"{path}: {product.reason}: top-of-atmosphere radiance, not reflectance, and its metadata XML "
            f"({path.stem.removesuffix('_clip')}_metadata{'_clip' if path.stem.endswith('_clip') else ''}.xml), "
            "whose reflectance coefficients turn it into reflectance, is not beside it; give the scene's _SR "
            f"(surface reflectance) product, or put the metadata XML delivered with it beside it{with_scale}"
        )
    return PlanetTOA(xml, reflectance_coefficients(xml, count))
