"""Optical products known by their provider's file names or metadata, and the order of their bands.

Commercial deliveries carry no band descriptions: a PlanetScope ``…_3B_AnalyticMS_SR_clip.tif`` is
four uint16 bands without names, which the band-name rules cannot tell from a SAR image. Their
providers' naming schemes and metadata sidecars say what they are, and the provider's documentation
says which band is which. Only the schemes cited below are recognised, and a layout that cannot be
known (an 8-band Maxar file without its ``.IMD``, an Airbus file without its ``DIM_….XML``) is left
unknown (``bands`` None) for the caller to refuse rather than guess.

- **PlanetScope** (support.planet.com, "How can we interpret image file names": scene id
  ``20190109_015005_1020`` or ``20151027_145652_1_0b0d``, level ``3B``, product ``AnalyticMS``,
  ``Visual`` …). Band order (docs.planet.com, PSScene assets): 4-band analytic blue, green, red,
  NIR; 8-band coastal_blue, blue, green_i, green, yellow, red, rededge, NIR; 3-band analytic and
  Visual red, green, blue (developers.planet.com, PSScene3Band: an alpha band after them).
- **SkySat** (developers.planet.com, SkySatScene/SkySatCollect; names ``20200101_123456_ssc1d1_0001_…``):
  analytic and pansharpened products are blue, green, red, NIR (support.planet.com, "Order of
  Reflectance Coefficients … for SkySat Imagery": BGRN); visual is 3-band RGB (ESA, "SkySat Full
  Archive and New Tasking"); panchromatic is one band.
- **Maxar** (Polar Geospatial Center, "Commercial Satellite Imagery Documentation":
  ``WV02_…-M1BS-500069507110_01_P004``; ``M`` multispectral, ``P`` panchromatic, ``S`` pansharpened;
  ``1BS`` basic, ``2AS`` standard, ``3DS`` ortho). The ``.IMD`` lists the bands in file order
  (``BEGIN_GROUP = BAND_B`` …); without it a 4-band file is blue, green, red, NIR (QuickBird,
  GeoEye-1, WorldView-4: PCI Catalyst, "QuickBird"), while 8-band WorldView-2/3 (coastal, blue,
  green, yellow, red, red edge, NIR1, NIR2) and WorldView Legion (… red edge 1, red edge 2, NIR)
  differ, so an 8-band file needs its ``.IMD``.
- **Airbus Pléiades, Pléiades Neo, SPOT 6/7** (Airbus, "Pléiades and SPOT 6/7 Format Delivery":
  DIMAP V2, ``IMG_PHR1A_MS_…`` beside ``DIM_PHR1A_MS_….XML``; Pléiades Neo's names put the time first,
  ``IMG_PNEO3_202303071043378_MS-FS_ORT_…``). The band order is chosen at order
  time and stated in the DIM file's ``Raster_Index_List`` (``BAND_ID`` B0 blue, B1 green, B2 red,
  B3 NIR, by ``BAND_INDEX``); without it nothing is assumed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from ..errors import InputError

__all__ = [
    "ProviderProduct", "provider_product", "optical_band_indexes", "maxar_product_path", "airbus_dim_path",
    "dimap_imaging_time", "MAXAR_BAND_NAMES", "maxar_til_tiles",
]  # fmt: skip

BGRN = ("blue", "green", "red", "nir")
RGB = ("red", "green", "blue")
PLANET_8B = ("coastal_blue", "blue", "green_i", "green", "yellow", "red", "rededge", "nir")

_PLANET_SCENE = re.compile(r"^\d{8}_\d{6}(?:_\d{1,2})?_[0-9a-f]{4}_", re.I)
_PLANET_PRODUCT = re.compile(r"_(AnalyticMS(?:_SR)?(?:_8b)?|Analytic(?:_SR)?(?:_8b)?|BGRN(?:_SR)?|Visual)(?=_|\.|$)", re.I)
_SKYSAT_SCENE = re.compile(r"^\d{8}_\d{6}(?:_\d{1,2})?_ss(?:c)?\d+", re.I)
_SKYSAT_PRODUCT = re.compile(r"_(?:ortho_)?(analytic(?:_sr)?(?:_dn)?|pansharpened|visual|panchromatic(?:_dn)?)(?=_|\.|$)", re.I)
_MAXAR_PRODUCT = re.compile(r"[-_]([MPS])(1B|2A|3D|3X)S[-_]", re.I)
_MAXAR_TILE = re.compile(r"_R\d+C\d+(?=-)", re.I)
"""A tile of a tiled Maxar delivery (``…-M2AS_R1C1-….TIF``, listed in the product's ``.TIL``), whose
``.IMD`` and ``.XML`` are the product's, named without it."""
_AIRBUS = re.compile(r"^(?:IMG|DIM)_(PHR1[AB]|SPOT[67]|PNEO[3-6])_(?:\d{15}_)?(P|MS(?:-FS|-N|-X)?|PMS(?:-FS|-N|-X)?)_", re.I)
"""Pléiades and SPOT name the spectral mode first (``IMG_PHR1A_MS_202410170930051_ORT_…``), Pléiades Neo
the acquisition's date and time to the tenth (``IMG_PNEO3_202303071043378_MS-FS_ORT_PWOI_…``)."""

MAXAR_BAND_NAMES = {"B": "blue", "G": "green", "R": "red", "N": "nir", "C": "coastal", "Y": "yellow", "RE": "rededge", "N2": "nir2", "P": "pan"}
"""sitewatch's name for each band a Maxar ``.IMD`` or ``.XML`` lists (``BAND_N`` is NIR1, ``BAND_N2`` NIR2)."""
_AIRBUS_BANDS = {"B0": "blue", "B1": "green", "B2": "red", "B3": "nir", "B": "blue", "G": "green", "R": "red", "NIR": "nir", "P": "pan"}


@dataclass(frozen=True)
class ProviderProduct:
    """An optical product as its provider's naming or metadata states it."""

    provider: str
    """``PlanetScope``, ``SkySat``, ``Maxar`` or ``Airbus``."""
    product: str
    """What the name or metadata calls it: ``AnalyticMS_SR``, ``Visual``, ``M1BS``, ``P1BS``, ``MS`` …"""
    how: str
    """Where that was read: ``by Planet's file naming``, ``by its sidecar NAME`` …"""
    bands: tuple[str, ...] | None
    """Each band's name in file order for this file's band count; None when it cannot be known."""
    unknown_why: str = ""
    """Why ``bands`` is None, for the refusal."""
    panchromatic: bool = False
    """One panchromatic band: grey, which the optical detector does not take."""

    def __post_init__(self) -> None:
        if self.bands is None and not self.unknown_why:
            raise ValueError("a product whose band order is unknown says why")

    @property
    def reason(self) -> str:
        """Why the file is optical, for the ``sensor:`` line: ``a PlanetScope AnalyticMS_SR file, by Planet's file naming``."""
        article = "an" if self.provider[0] in "AEIOU" else "a"
        return f"{article} {self.provider} {self.product} file, {self.how}"


def provider_product(path: Path | str, count: int) -> ProviderProduct | None:
    """The optical product ``path`` is by its provider's naming or its metadata sidecar, or None.

    ``count`` is the file's band count, which picks the layout among a provider's products.
    """
    name = Path(str(path)).name
    local = not str(path).startswith("/vsi")
    if _PLANET_SCENE.match(name) and (m := _PLANET_PRODUCT.search(name)):
        return _planet("PlanetScope", m.group(1), "by Planet's file naming", count)
    if _SKYSAT_SCENE.match(name) and (m := _SKYSAT_PRODUCT.search(name)):
        return _skysat(m.group(1), "by Planet's SkySat file naming", count)
    if m := _MAXAR_PRODUCT.search(name):
        return _maxar((m.group(1) + m.group(2)).upper() + "S", "by Maxar's product code in its name", count, Path(str(path)) if local else None)
    if m := _AIRBUS.match(name):
        return _airbus(m.group(1).upper(), m.group(2).upper(), count, Path(str(path)) if local else None)
    if local:
        return _from_sidecars(Path(str(path)), count)
    return None


def optical_band_indexes(product: ProviderProduct, path: Path | str) -> dict[str, int]:
    """blue/green/red/nir → 1-based band index in ``path`` by ``product``'s layout.

    Raises :class:`~sitewatch.errors.InputError` naming the file for a panchromatic band, a layout that
    cannot be known, or one without green and red (or NIR)."""
    if product.panchromatic:
        raise InputError(
            f"{path}: {product.reason}: a panchromatic band, one grey band, and the optical detector reads colour "
            "(green with red or NIR); give the scene's multispectral or pansharpened file"
            + (" (M1BS/M2AS beside this P1BS/P2AS)" if product.provider == "Maxar" else "")
        )
    if product.bands is None:
        raise InputError(
            f"{path}: {product.reason}, without band descriptions; {product.unknown_why}, and sitewatch does not guess: "
            "give the bands one file each (gdal_translate -b N) with --band blue=… --band green=… --band red=… --band nir=…"
        )
    found = {b: i + 1 for i, b in enumerate(product.bands) if b in BGRN}
    if "green" not in found or not ({"red", "nir"} & set(found)):
        raise InputError(f"{path}: {product.reason}: its bands ({', '.join(product.bands)}) hold no green with red or NIR")
    return found


def _planet(provider: str, product: str, how: str, count: int) -> ProviderProduct:
    visual = product.lower() == "visual"
    layouts = (
        {3: RGB, 4: (*RGB, "alpha")} if visual
        else {3: RGB, 4: BGRN, 8: PLANET_8B} if not product.upper().startswith("BGRN")
        else {4: BGRN}
    )  # fmt: skip
    bands = layouts.get(count)
    why = "" if bands else f"Planet's {product} products have {' or '.join(map(str, layouts))} bands, this file {count}"
    return ProviderProduct(provider, product, how, bands, why)


def _skysat(product: str, how: str, count: int) -> ProviderProduct:
    kind = product.lower()
    if kind.startswith("panchromatic"):
        return ProviderProduct("SkySat", product, how, ("pan",) if count == 1 else None, f"a panchromatic product of {count} bands", panchromatic=count == 1)
    layouts = {3: RGB, 4: (*RGB, "alpha")} if kind == "visual" else {4: BGRN}
    bands = layouts.get(count)
    why = "" if bands else f"SkySat {product} products have {' or '.join(map(str, layouts))} bands, this file {count}"
    return ProviderProduct("SkySat", product, how, bands, why)


def _maxar(product: str, how: str, count: int, path: Path | None, imd: tuple[str, ...] | None = None) -> ProviderProduct:
    if imd is None and path is not None:
        how_imd = _maxar_sidecar_bands(path)
        if how_imd is not None:
            imd, sidecar = how_imd
            how = f"{how}, bands from {sidecar}"
    if imd is not None and len(imd) == count:
        return ProviderProduct("Maxar", product, how, imd, panchromatic=imd == ("pan",))
    if imd is not None and imd != ("pan",) and count != 1:
        # Not the file the metadata describes (or a subset of its bands): which of them it holds cannot be known.
        return ProviderProduct("Maxar", product, how, None, f"its metadata lists {len(imd)} bands and the file has {count}")
    if product.startswith("P") or (imd == ("pan",)):
        return ProviderProduct("Maxar", product, how, ("pan",) if count == 1 else None, f"a panchromatic product of {count} bands", panchromatic=count == 1)
    if count == 4:
        return ProviderProduct("Maxar", product, how, BGRN)
    why = (
        f"its metadata lists {len(imd)} bands and the file has {count}" if imd is not None
        else "Maxar's 3-band products are natural colour (red, green, blue) or colour infrared (NIR, red, green), "
        "told apart by the .IMD or .XML delivered with the file, and neither lies beside it" if count == 3
        else f"Maxar's {count}-band layouts differ by satellite (WorldView-2/3 and Legion place NIR apart) and no .IMD lies beside it"
    )  # fmt: skip
    return ProviderProduct("Maxar", product, how, None, why)


def _maxar_sidecar_bands(path: Path) -> tuple[tuple[str, ...], str] | None:
    """Band names in file order from the Maxar ``.IMD`` (``BEGIN_GROUP = BAND_B``) or ``.XML``
    (``<BAND_B>``) beside ``path``, and that file's name."""
    for base in (path, maxar_product_path(path)):
        for suffix in (".IMD", ".imd", ".XML", ".xml"):
            sidecar = None if base is None else base.with_suffix(suffix)
            if sidecar is not None and sidecar.is_file() and (bands := maxar_bands(sidecar)):
                return bands, sidecar.name
    return None


def maxar_product_path(path: Path) -> Path | None:
    """The product's name for a tile of a tiled Maxar delivery (``…-M2AS_R1C1-…`` → ``…-M2AS-…``), or None."""
    if not _MAXAR_PRODUCT.search(path.name) or not _MAXAR_TILE.search(path.name):
        return None
    return path.with_name(_MAXAR_TILE.sub("", path.name, count=1))


def maxar_til_tiles(til: Path) -> list[Path]:
    """The tile files a Maxar ``.TIL`` lists (``filename = "…_R1C1-….TIF";`` in each ``TILE_n`` group), in its folder,
    as GDAL's TIL driver reads them; those not there are left out (GDAL names them as it opens the ``.TIL``)."""
    try:
        text = til.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    names = re.findall(r"^\s*filename\s*=\s*\"([^\"]+)\"", text, re.M | re.I)
    return [til.parent / n for n in names if Path(n).name == n and (til.parent / n).is_file()]


def maxar_bands(sidecar: Path) -> tuple[str, ...]:
    """The band names a Maxar ``.IMD`` or ``.XML`` lists, in file order (empty: none listed)."""
    try:
        text = sidecar.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    groups = re.findall(r"BEGIN_GROUP\s*=\s*BAND_([A-Z0-9]+)", text) or re.findall(r"<BAND_([A-Z0-9]+)>", text)
    seen: list[str] = []
    for g in groups:
        if g not in seen:
            seen.append(g)
    return tuple(MAXAR_BAND_NAMES.get(g, g.lower()) for g in seen)


def _airbus(satellite: str, spectral: str, count: int, path: Path | None) -> ProviderProduct:
    product = f"{satellite} {spectral}"
    how = "by Airbus's DIMAP file naming"
    if spectral == "P":
        return ProviderProduct("Airbus", product, how, ("pan",) if count == 1 else None, f"a panchromatic product of {count} bands", panchromatic=count == 1)
    dim = _airbus_dim(path) if path is not None else None
    if dim is None:
        return ProviderProduct("Airbus", product, how, None, "Airbus writes the band order chosen for the order in the product's DIM_….XML, which is not beside it")
    bands, dim_path = dim
    if len(bands) != count:
        return ProviderProduct("Airbus", product, how, None, f"{dim_path.name} lists {len(bands)} bands and the file has {count}")
    return ProviderProduct("Airbus", product, f"{how}, bands from {dim_path.name}", bands)


def _airbus_dim(path: Path) -> tuple[tuple[str, ...], Path] | None:
    """Band names in file order from the DIM_….XML of an ``IMG_…`` file (its tiles ``_R1C1`` share one)."""
    dim = airbus_dim_path(path)
    if dim is not None and (bands := airbus_bands(dim)):
        return bands, dim
    return None


def airbus_dim_path(path: Path) -> Path | None:
    """The ``DIM_….XML`` delivered beside an Airbus ``IMG_…`` file (its tiles ``_R1C1`` share one), or None."""
    if path.name.upper().startswith("DIM_"):
        candidates = [path]
    elif _AIRBUS.match(path.name):
        stem = re.sub(r"_R\d+C\d+$", "", path.stem, flags=re.I)
        candidates = [path.with_name("DIM_" + stem[4:] + s) for s in (".XML", ".xml")]
    else:
        return None
    return next((dim for dim in candidates if dim.is_file()), None)


def dimap_imaging_time(root: ET.Element) -> datetime | None:
    """When a DIMAP document's image was taken: the earliest ``IMAGING_DATE`` + ``IMAGING_TIME`` of its sources.

    The two layouts (Airbus, "Pléiades Imagery User Guide" and "SPOT 6 & SPOT 7 Imagery User Guide", DIMAP V2;
    the DIMAP V1 specification of SPOT 1-5 products; GDAL's DIMAP driver reads both): V2's
    ``Dataset_Sources/Source_Identification/Strip_Source`` (``<IMAGING_TIME>08:19:23.8Z``) and V1's
    ``Dataset_Sources/Source_Information/Scene_Source`` (``<IMAGING_TIME>07:23:55``, no zone: UTC, as the
    formats state). ``Product_Information/Delivery_Identification/PRODUCTION_DATE`` is when the product was
    made, days or years after the pass, and is never read. A source with a date and no time gives a
    :class:`~sitewatch.model.NoonOfDate`, only when no source gives a time.
    """
    from ..model import NoonOfDate, utc

    timed: list[datetime] = []
    dated: list[datetime] = []
    for source in root.iter():
        if source.tag.rsplit("}", 1)[-1] not in ("Strip_Source", "Scene_Source"):
            continue
        fields = {el.tag.rsplit("}", 1)[-1]: (el.text or "").strip() for el in source}
        day = re.fullmatch(r"\d{4}-\d{2}-\d{2}", fields.get("IMAGING_DATE", ""))
        if day is None:
            continue
        clock = re.fullmatch(r"(\d{2}:\d{2}:\d{2})(\.\d+)?Z?", fields.get("IMAGING_TIME", ""))
        try:
            if clock is None:
                dated.append(NoonOfDate.of(date.fromisoformat(day.group(0))))
            else:  # Python reads at most microseconds
                timed.append(utc(f"{day.group(0)}T{clock.group(1)}{(clock.group(2) or '')[:7]}+00:00"))
        except (ValueError, InputError):
            continue
    return min(timed or dated, default=None)


def airbus_bands(dim: Path) -> tuple[str, ...]:
    """The band names a DIMAP V2 ``DIM_….XML`` gives in file order (``Raster_Index``: BAND_ID by BAND_INDEX)."""
    try:
        text = dim.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    pairs = re.findall(r"<Raster_Index>\s*(.*?)</Raster_Index>", text, re.S)
    order: list[tuple[int, str]] = []
    for body in pairs:
        band = re.search(r"<BAND_ID>\s*([^<\s]+)\s*</BAND_ID>", body)
        # (at most 9 digits: int() refuses more than 4300 with a ValueError, and no image has a billion bands)
        index = re.search(r"<BAND_INDEX>\s*(\d{1,9})\s*</BAND_INDEX>", body)
        if band and index:
            order.append((int(index.group(1)), band.group(1).upper()))
    order.sort()
    if [i for i, _ in order] != list(range(1, len(order) + 1)):
        return ()
    return tuple(_AIRBUS_BANDS.get(b, b.lower()) for _, b in order)


def _from_sidecars(path: Path, count: int) -> ProviderProduct | None:
    """A product known by the metadata delivered beside it (Planet ``_metadata.json``/``.xml``, Maxar ``.IMD``)."""
    from ..image_metadata import metadata_sidecars
    from ..platforms import MAXAR_PLATFORMS, platform_from_metadata

    for sidecar in metadata_sidecars(path):
        platform = platform_from_metadata(sidecar)
        how = f"by its sidecar {sidecar.name}"
        if platform == "planetscope":
            return _planet("PlanetScope", "scene", how, count)
        if platform == "skysat":
            return _skysat("scene" if count != 1 else "panchromatic", how, count)
        if platform in MAXAR_PLATFORMS:
            bands = maxar_bands(sidecar)
            return _maxar(platform, how, count, None, bands or None)
    return None
