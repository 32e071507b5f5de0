"""Sentinel SAFE products on disk (a ``.SAFE`` folder or its ``.zip``), read through GDAL's drivers.

Users who download from the Copernicus Browser / Data Space get SAFE products, and QGIS
opens them with GDAL's ``SENTINEL2`` driver. This module meets them there: it finds the
product's main metadata file (inside the zip through ``/vsizip/``), lets the driver list
the subdatasets and name the bands, and reads from the XML only what the driver does not
give (the reflectance offset per band comes from the driver's band metadata; the
acquisition time from the granule's ``SENSING_TIME``).

Only Sentinel-2 Level-2A (surface reflectance) is supported: Level-1C is top-of-atmosphere
reflectance, and the optical detector's models were trained on L2A. Sentinel-1 GRD products are
read as sigma0 through their calibration LUTs, and their noise LUTs when the ``sar_thermal_noise``
setting says ``subtract`` (:mod:`.s1_radiometry`).
"""

from __future__ import annotations

import math
import posixpath
import re
import shlex
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ImageReadError, InputError, SitewatchError, SitewatchWarning
from ..model import utc
from ..untrusted import read_zip_member
from .s1_radiometry import S1Radiometry, ThermalNoise, parse_calibration, parse_noise

__all__ = [
    "S2Product",
    "is_safe_product",
    "open_s2_l2a",
    "safe_products_in",
    "safe_product_name",
    "product_root",
    "vsizip_product",
    "resampled_band_vrt",
    "S1Product",
    "S1Band",
    "NoiseNotRemovedWarning",
    "open_s1_grd",
    "is_s1_product",
    "product_holding",
]

_MTD_L2A = "MTD_MSIL2A.xml"
_MTD_L1C = "MTD_MSIL1C.xml"
_S1_MANIFEST = "manifest.safe"
_OPTICAL_CODES = {"blue": "B2", "green": "B3", "red": "B4", "nir": "B8"}
"""Band names sitewatch uses → the SENTINEL2 driver's BANDNAME in the 10 m subdataset."""


@dataclass(frozen=True)
class S2Product:
    """A Sentinel-2 L2A SAFE product as sitewatch reads it: where each band is, and how to scale it."""

    path: Path
    """The ``.SAFE`` folder or ``.zip`` the user gave."""
    name: str
    """Product name without ``.SAFE`` (``S2B_MSIL2A_20241017T093005_N0511_R136_T33TUG_20241017T120000``)."""
    metadata: str
    """GDAL path of ``MTD_MSIL2A.xml`` (``/vsizip//abs/p.zip/NAME.SAFE/MTD_MSIL2A.xml`` inside a zip)."""
    bands: dict[str, tuple[str, int]]
    """blue/green/red/nir (10 m subdataset) and, when present, SCL (20 m subdataset) → (subdataset, band index)."""
    acquired: datetime
    acquired_from: str
    """Which metadata item gave ``acquired`` (``MTD_TL.xml SENSING_TIME``, the granule's)."""
    quantification: float
    """BOA_QUANTIFICATION_VALUE: reflectance = (DN + offset) / quantification."""
    offsets: dict[str, float]
    """BOA_ADD_OFFSET per band (DN; −1000 from processing baseline 04.00, 0 before)."""
    processing_baseline: str
    platform: str
    """``sentinel-2a`` / ``sentinel-2b`` / ``sentinel-2c`` (from SPACECRAFT_NAME)."""
    footprint_wkt: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.quantification > 0:
            raise InputError(f"{self.path}: BOA_QUANTIFICATION_VALUE {self.quantification} is not a positive number")
        if not {"green", "red"} <= set(self.bands):
            raise InputError(f"{self.path}: the 10 m subdataset lacks B03 or B04")

    @property
    def offset(self) -> float:
        """The one BOA offset of the bands read (they share it in every baseline so far)."""
        values = {v for k, v in self.offsets.items() if k in self.bands}
        if len(values) > 1:
            raise InputError(f"{self.path}: the bands have different BOA_ADD_OFFSET values {sorted(values)}")
        return values.pop() if values else 0.0

    def provenance(self) -> dict[str, Any]:
        """What the archive records about the product and the conversion applied."""
        return {
            "product": self.name,
            "metadata": self.metadata,
            "processing_baseline": self.processing_baseline,
            "quantification_value": self.quantification,
            "boa_add_offset": self.offset,
            "band_sources": {b: f"{sds} band {i}" for b, (sds, i) in self.bands.items()},
            "acquired_from": self.acquired_from,
        }


_MAIN_FILES = ((_MTD_L2A, "S2_L2A"), (_MTD_L1C, "S2_L1C"), (_S1_MANIFEST, "S1"))
"""A product's main metadata file, which names its kind."""
_MAIN_NAMES = {name for name, _ in _MAIN_FILES}


def _safe_folder_kind(folder: Path) -> str | None:
    for name, kind in _MAIN_FILES:
        if (folder / name).is_file():
            return kind
    return "unknown" if folder.suffix.upper() == ".SAFE" else None


def _zip_product(path: Path) -> tuple[str, str] | None:
    """(folder of the product in the zip, kind) of the product a zip holds, or None when it holds none.

    The folder is the ``NAME.SAFE`` at the zip's top, as the Copernicus Browser delivers it;
    else the shallowest folder holding a product's main metadata file (a zip made again by
    hand: the product in another folder, or under another name), "" when that file is at
    the zip's top.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    tops = sorted({n.split("/", 1)[0] for n in names if n.split("/", 1)[0].upper().endswith(".SAFE")})
    if tops:
        top = tops[0]
        inside = {n[len(top) + 1 :] for n in names if n.startswith(top + "/")}
        for name, kind in _MAIN_FILES:
            if name in inside:
                return top, kind
        return top, "unknown"
    found = [
        (n.count("/"), i, n.rpartition("/")[0], kind)
        for n in names for i, (name, kind) in enumerate(_MAIN_FILES) if n.rpartition("/")[2] == name
    ]  # fmt: skip
    if not found:
        return None
    _, _, folder, kind = min(found)
    return folder, kind


def vsizip_product(path: str | Path) -> Path | None:
    """The local zip a ``/vsizip/`` path names when it points at a SAFE product in it (the zip
    itself, its ``NAME.SAFE`` folder or its main metadata file), else None: such a path is the
    product, not an image GDAL opens."""
    m = re.fullmatch(r"/vsizip/(.+?\.zip)(/.*)?", str(path), flags=re.I)
    if m is None:
        return None
    member = (m.group(2) or "").strip("/")
    local = Path(m.group(1))
    last = member.rpartition("/")[2]
    if member and not (last.upper().endswith(".SAFE") or last in {name for name, _ in _MAIN_FILES}):
        return None
    return local if is_safe_product(local) else None


def is_safe_product(path: str | Path) -> bool:
    """Whether ``path`` is a SAFE product: a ``.SAFE`` folder (or one holding a product's main
    metadata file), or a zip with a ``.SAFE`` folder at its top or a product's main metadata
    file in any folder."""
    if isinstance(path, str) and path.startswith("/vsi"):
        return False
    p = product_root(Path(path))
    if p.is_dir():
        return _safe_folder_kind(p) is not None
    return p.suffix.lower() == ".zip" and p.is_file() and _zip_product(p) is not None


def safe_products_in(folder: Path) -> list[Path]:
    """SAFE products (folders and zips) anywhere under ``folder``, not looking inside them, and
    zip files that cannot be read as zips (an unfinished download): reading them names them."""
    found: list[Path] = []
    for p in sorted(folder.rglob("*")):
        if any(parent in found for parent in p.parents):
            continue
        if (p.is_dir() and _safe_folder_kind(p) is not None) or (
            p.suffix.lower() == ".zip" and p.is_file() and (is_safe_product(p) or not zipfile.is_zipfile(p))
        ):
            found.append(p)
    return found


def product_holding(path: Path) -> Path | None:
    """The SAFE product folder ``path`` lies inside (a band file in its ``GRANULE`` or
    ``measurement`` folder), or None."""
    for parent in Path(path).resolve().parents:
        if _safe_folder_kind(parent) not in (None, "unknown"):
            return parent
    return None


def safe_product_name(path: str | Path) -> str:
    """The product's name without ``.SAFE``, the same for its folder and its zip."""
    return re.sub(r"\.SAFE$", "", _product_location(Path(path))[1], flags=re.I)


def _product_uri(mtd: bytes) -> str:
    """The product's own name (``PRODUCT_URI``) in ``MTD_MSIL2A.xml``, for a product whose folder
    was renamed: its folder and zip are then still one image by name."""
    m = re.search(rb"<PRODUCT_URI>\s*([^<\s]+?)\s*</PRODUCT_URI>", mtd)
    return m.group(1).decode(errors="replace") if m else ""


def product_root(path: Path) -> Path:
    """The product folder of its main metadata file (``MTD_MSIL2A.xml``, ``manifest.safe``), the
    file QGIS opens a product by; any other path as it is."""
    if path.name in {name for name, _ in _MAIN_FILES} and path.is_file():
        return path.parent
    return path


def _product_location(path: Path) -> tuple[str, str, str]:
    """(kind, product name, GDAL folder path of the ``.SAFE``) of a SAFE folder or zip."""
    path = product_root(path)
    if path.is_dir():
        kind = _safe_folder_kind(path) or "unknown"
        name = path.name
        if kind == "S2_L2A" and not name.upper().endswith(".SAFE"):
            name = _product_uri((path / _MTD_L2A).read_bytes()) or name
        return kind, name, str(path.resolve())
    if path.suffix.lower() == ".zip":
        found = _zip_product(path)
        if found is None and not zipfile.is_zipfile(path):
            raise ImageReadError(
                f"{path}: not a readable zip file (damaged or cut short, as an unfinished download is); "
                "download it again"
            )
        if found is None:
            raise InputError(
                f"{path}: a zip file without a Sentinel .SAFE product in it; unzip it, `unzip {shlex.quote(str(path))} -d "
                f"{shlex.quote(str(path.with_suffix('')))}`, and give the folder {path.with_suffix('')}, whose images go in with the files "
                "delivered beside them (a Planet order's UDM2 and metadata, a Maxar .IMD); `detect-image` also reads "
                "one in place as /vsizip//ABSOLUTE/PATH.zip/FILE.tif, and `ingest` and `import` take files on disk only"
            )
        with zipfile.ZipFile(path) as zf:
            folders = sorted({n.rpartition("/")[0] for n in zf.namelist() if n.rpartition("/")[2] in _MAIN_NAMES})
        if len(folders) > 1:
            # Only one would be read, and the others passed over without a word.
            raise InputError(
                f"{path}: holds {len(folders)} SAFE products ({', '.join(f or '(top)' for f in folders)}); "
                "sitewatch reads one product a zip: unzip it and give the .SAFE folders"
            )
        top, kind = found
        name = top.rpartition("/")[2]
        if kind == "S2_L2A" and not name.upper().endswith(".SAFE"):
            with zipfile.ZipFile(path) as zf:
                name = _product_uri(read_zip_member(zf, f"{top}/{_MTD_L2A}" if top else _MTD_L2A, str(path))) or name
        name = name or re.sub(r"(\.SAFE)?\.zip$", "", path.name, flags=re.I)
        return kind, name, f"/vsizip/{path.resolve()}" + (f"/{top}" if top else "")
    raise InputError(f"{path}: not a SAFE product (a .SAFE folder or its .zip)")


def open_s2_l2a(path: str | Path) -> S2Product:
    """Open a Sentinel-2 L2A SAFE product (folder or zip) through GDAL's SENTINEL2 driver.

    Raises :class:`InputError` naming the product when it is not an L2A product
    (L1C is refused: top-of-atmosphere reflectance, while the detector was trained on
    L2A; Sentinel-1 and unknown SAFE products are refused too) and
    :class:`ImageReadError` when GDAL cannot read it.
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    path = Path(path)
    kind, top, folder = _product_location(path)
    if kind == "S2_L1C":
        raise InputError(
            f"{path}: a Sentinel-2 Level-1C product (top-of-atmosphere reflectance); sitewatch takes "
            "Level-2A (surface reflectance, S2X_MSIL2A_…), which its optical models were trained on: "
            "download the L2A product of the same date"
        )
    if kind == "S1":
        raise InputError(f"{path}: a Sentinel-1 SAFE product, not Sentinel-2 (read it with open_s1_grd)")
    if kind != "S2_L2A":
        raise InputError(f"{path}: not a Sentinel-2 L2A SAFE product (no {_MTD_L2A} in {top})")
    metadata = f"{folder}/{_MTD_L2A}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the product file has no grid of its own
            with rasterio.open(metadata) as ds:
                tags = dict(ds.tags())
                subdatasets = list(ds.subdatasets)
            sds10 = _subdataset(subdatasets, "10m", path)
            bands: dict[str, tuple[str, int]] = {}
            offsets: dict[str, float] = {}
            with rasterio.open(sds10) as ds:
                by_code = {ds.tags(i).get("BANDNAME", ""): i for i in range(1, ds.count + 1)}
                files10 = list(ds.files)
                _check_inside(files10, folder, path)
                for name, code in _OPTICAL_CODES.items():
                    if code in by_code and _band_file_present(files10, code):
                        bands[name] = (sds10, by_code[code])
                        offsets[name] = float(ds.tags(by_code[code]).get("BOA_ADD_OFFSET", 0) or 0)
            sds20 = next((s for s in subdatasets if _resolution_of(s) == "20m"), None)
            if sds20 is not None:
                with rasterio.open(sds20) as ds:
                    scl = [i for i in range(1, ds.count + 1) if ds.tags(i).get("BANDNAME") == "SCL"]
                    files20 = list(ds.files)
                    _check_inside(files20, folder, path)
                if scl and _band_file_present(files20, "SCL"):
                    bands["SCL"] = (sds20, scl[0])
    except RasterioError as exc:
        raise _unreadable(path, exc) from exc
    when, when_from = _acquired(tags, path, _granule_sensing_time(files10))
    baseline = tags.get("PROCESSING_BASELINE", "")
    _check_offsets(offsets, baseline, path)
    spacecraft = next((v for k, v in tags.items() if k.endswith("SPACECRAFT_NAME")), "")
    return S2Product(
        path=path,
        name=safe_product_name(path),
        metadata=metadata,
        bands=bands,
        acquired=when,
        acquired_from=when_from,
        quantification=float(tags.get("BOA_QUANTIFICATION_VALUE", 10000) or 10000),
        offsets=offsets,
        processing_baseline=baseline,
        platform=spacecraft.lower(),
        footprint_wkt=tags.get("FOOTPRINT", ""),
        tags=tags,
    )


def _band_file_present(files: list[str], code: str) -> bool:
    """Whether GDAL found the image file of band ``code`` (``B2``, ``SCL``) among a subdataset's files.

    The SENTINEL2 driver lists every band of a resolution whether or not its file is in
    the product, and reads a missing one as zeros: a missing SCL would read as no data
    everywhere (all cloud), a missing B08 as an empty NIR band. ``files`` holds only the
    files that exist.
    """
    padded = re.sub(r"^B(\d)$", r"B0\1", code)
    pattern = re.compile(rf"_{padded}(_\d+m)?\.jp2$", re.I)
    return any(pattern.search(f) for f in files)


def _resolution_of(subdataset: str) -> str:
    # SENTINEL2_L2A:<metadata path>:10m:EPSG_32633 (the path itself may hold colons only in /vsi… prefixes)
    parts = subdataset.rsplit(":", 2)
    return parts[1] if len(parts) == 3 else ""


def _subdataset(subdatasets: list[str], resolution: str, path: Path) -> str:
    matching = [s for s in subdatasets if _resolution_of(s) == resolution]
    if not matching:
        raise ImageReadError(f"{path}: GDAL lists no {resolution} subdataset (is the GRANULE folder complete?)")
    if len(matching) > 1:
        # A product spanning two UTM zones; the first is read (the other zone's pixels are left out).
        warnings.warn(f"{path}: {len(matching)} {resolution} subdatasets (UTM zones); reading {matching[0]}", stacklevel=3)
    return matching[0]


def _granule_sensing_time(files: list[str]) -> str:
    """``SENSING_TIME`` of the product's one granule (``GRANULE/…/MTD_TL.xml``), "" when not found."""
    tiles = [f for f in files if f.replace("\\", "/").endswith("/MTD_TL.xml")]
    if len(tiles) != 1:
        return ""
    try:
        text = _read_bytes(tiles[0])
    except (OSError, KeyError, zipfile.BadZipFile):
        return ""
    m = re.search(rb"<SENSING_TIME[^>]*>\s*([^<\s]+)\s*</SENSING_TIME>", text)
    return m.group(1).decode(errors="replace") if m else ""


def _acquired(tags: dict[str, str], path: Path, sensed: str = "") -> tuple[datetime, str]:
    """The acquisition time: the granule's sensing time, else the datatake's start.

    ``PRODUCT_START_TIME`` (the time in the product's name) is when the datatake began; the
    tile itself was sensed minutes later, as far along the datatake as it lies, and near
    midnight UTC on another day. STAC catalogues (Earth Search) date an item by the granule too.
    """
    candidates = [("MTD_TL.xml SENSING_TIME", sensed), (f"{_MTD_L2A} PRODUCT_START_TIME", tags.get("PRODUCT_START_TIME"))]
    candidates += [(f"{_MTD_L2A} {k}", v) for k, v in sorted(tags.items()) if k.endswith("DATATAKE_SENSING_START")]
    for source, value in candidates:
        if value:
            try:
                return utc(value), source
            except ValueError:
                continue
    raise InputError(f"{path}: no SENSING_TIME in MTD_TL.xml, nor PRODUCT_START_TIME or DATATAKE_SENSING_START in {_MTD_L2A}; pass --acquired")


def _check_offsets(offsets: dict[str, float], baseline: str, path: Path) -> None:
    """From baseline 04.00 every L2A product carries BOA_ADD_OFFSET; without it the values would be
    read 0.1 too bright, so its absence there is an error, not a default."""
    try:
        major = float(baseline)
    except ValueError:
        return
    if major >= 4.0 and offsets and not any(offsets.values()):
        raise InputError(
            f"{path}: processing baseline {baseline} but no BOA_ADD_OFFSET in {_MTD_L2A}; "
            "the product's metadata looks incomplete"
        )


def resampled_band_vrt(subdataset: str, band: int, size: tuple[int, int], src_size: tuple[int, int],
                       crs: str, transform: tuple[float, ...]) -> str:  # fmt: skip
    """A VRT (XML text, which GDAL opens as a file name) of one band resampled by nearest
    neighbour onto a finer grid covering the same extent: the 20 m SCL on the 10 m grid."""
    from xml.sax.saxutils import escape

    (w, h), (sw, sh) = size, src_size
    gt = ",".join(repr(float(v)) for v in transform)
    return (
        f'<VRTDataset rasterXSize="{w}" rasterYSize="{h}"><SRS>{escape(crs)}</SRS><GeoTransform>{gt}</GeoTransform>'
        f'<VRTRasterBand dataType="UInt16" band="1"><SimpleSource resampling="nearest">'
        f'<SourceFilename relativeToVRT="0">{escape(subdataset)}</SourceFilename><SourceBand>{band}</SourceBand>'
        f'<SrcRect xOff="0" yOff="0" xSize="{sw}" ySize="{sh}"/><DstRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
        f"</SimpleSource></VRTRasterBand></VRTDataset>"
    )


# -- Sentinel-1 GRD -------------------------------------------------------------------------------


class NoiseNotRemovedWarning(SitewatchWarning):
    """A Sentinel-1 measurement's thermal noise LUT is missing or unreadable: its sigma0 keeps the noise."""


@dataclass(frozen=True)
class S1Band:
    """One polarisation of a GRD product: its digital numbers, placed by GCPs, and how they become sigma0.

    GDAL opens :attr:`path` for the size and the georeference; :meth:`read` gives sigma0.
    """

    polarisation: str
    path: str
    """A VRT (XML text) of the measurement's DN (no data 0) with the annotation's GCPs, moved to
    GDAL's pixel convention."""
    radiometry: S1Radiometry

    def read(self, window: tuple[int, int, int, int]) -> NDArray[np.float32]:
        """sigma0 of the pixels (row0, row1, col0, col1) of the measurement; 0 where DN is 0 (no data)."""
        import rasterio
        from rasterio.windows import Window

        r0, r1, c0, c1 = window
        with rasterio.open(self.path) as ds:
            dn = ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0))
        return self.radiometry.sigma0(dn, r0, c0)


@dataclass(frozen=True)
class S1Product:
    """A Sentinel-1 GRD SAFE product: each polarisation's measurement as sigma0, placed by its GCPs."""

    path: Path
    """The ``.SAFE`` folder or ``.zip`` the user gave."""
    name: str
    manifest: str
    """GDAL path of ``manifest.safe``."""
    bands: dict[str, S1Band]
    """``VV``/``VH`` (or ``HH``/``HV``), co-polarised first → the measurement, read as sigma0."""
    acquired: datetime
    acquired_from: str
    platform: str
    """``sentinel-1a`` … (from the annotation's MISSION_ID)."""
    resolution_m: float
    footprint: tuple[float, float, float, float]
    """lon/lat bounds of the GCPs."""
    subdatasets: dict[str, str] = field(default_factory=dict)
    """Polarisation → GDAL's (uncalibrated amplitude) subdataset the VRT reads."""

    def provenance(self) -> dict[str, Any]:
        """What the archive records about the product and the conversion applied."""
        return {
            "product": self.name,
            "metadata": self.manifest,
            "band_sources": dict(self.subdatasets),
            "calibration": {p: b.radiometry.describe() for p, b in self.bands.items()},
            "placement": "GCPs of the annotation (thin-plate spline)",
            "acquired_from": self.acquired_from,
        }


_CO_FIRST = ("VV", "HH", "VH", "HV")


def open_s1_grd(path: str | Path, *, thermal_noise: ThermalNoise = "keep") -> S1Product:
    """Open a Sentinel-1 GRD SAFE product (folder or zip) through GDAL's SAFE driver.

    GDAL 3.10 offers calibrated (``SENTINEL1_CALIB:SIGMA0:…``) subdatasets for SLC products only,
    and no thermal noise removal, so each polarisation is read from its uncalibrated amplitude
    subdataset and turned into sigma0 through its calibration LUT on read (:class:`S1Band`,
    :mod:`.s1_radiometry`), as ``sitewatch fetch`` does for GRD.

    ``thermal_noise`` (the ``sar_thermal_noise`` setting): ``keep`` reads no noise LUT, sigma0 =
    DN² / A², what the SAR detector was validated on; ``subtract`` takes each measurement's noise
    LUT off, sigma0 = (DN² − N) / A², as SNAP does.

    A missing or malformed calibration LUT is an :class:`InputError` naming it; with ``subtract``,
    a missing or unreadable noise LUT is a :class:`NoiseNotRemovedWarning`, and that polarisation
    is read without noise removal, as its provenance says.
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    from .gcp import sentinel1_centred

    if thermal_noise not in ("keep", "subtract"):
        raise ValueError(f"thermal_noise must be 'keep' or 'subtract', got {thermal_noise!r}")
    path = Path(path)
    kind, top, folder = _product_location(path)
    if kind != "S1":
        raise InputError(f"{path}: not a Sentinel-1 SAFE product (no {_S1_MANIFEST} in {top})")
    manifest = f"{folder}/{_S1_MANIFEST}"
    subdatasets: dict[str, str] = {}
    vrts: dict[str, S1Band] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(manifest) as ds:
                tags = dict(ds.tags())
                names = list(ds.subdatasets)
                gcps, _ = ds.gcps
            if tags.get("PRODUCT_TYPE", "GRD") != "GRD":
                raise InputError(
                    f"{path}: a Sentinel-1 {tags.get('PRODUCT_TYPE')} product; sitewatch reads GRD (ground range) products"
                )
            for sds in names:
                m = re.search(r":[A-Z0-9]+_(VV|VH|HH|HV):AMPLITUDE$", sds)
                if m:
                    subdatasets[m.group(1)] = sds
            for pol in sorted(subdatasets, key=_CO_FIRST.index):
                with rasterio.open(subdatasets[pol]) as ds:
                    files = list(ds.files)
                    _check_inside(files, folder, path)
                    pol_gcps, gcp_crs = ds.gcps
                    size = (ds.width, ds.height)
                cal_file = next((f for f in files if "/calibration/calibration-" in f.replace("\\", "/")), None)
                if cal_file is None:
                    raise InputError(f"{path}: no calibration file for {pol}")
                vrt = _dn_vrt(subdatasets[pol], size, sentinel1_centred(pol_gcps), gcp_crs.to_string() if gcp_crs else "EPSG:4326")
                vrts[pol] = S1Band(pol, vrt, _radiometry(cal_file, path, thermal_noise))
    except RasterioError as exc:
        raise _unreadable(path, exc) from exc
    if not vrts:
        raise InputError(f"{path}: GDAL finds no VV, VH, HH or HV measurement in the product")
    _check_all_polarisations(manifest, set(vrts), path)
    when_text = tags.get("ACQUISITION_START_TIME", "")
    try:
        when = utc(when_text if when_text.endswith("Z") else when_text + "Z")
    except ValueError:
        raise InputError(f"{path}: no acquisition start time in {_S1_MANIFEST}; pass --acquired") from None
    try:
        spacing = float(tags.get("PIXEL_SPACING") or 10)  # GDAL says "UNK" when the annotation lacks it
    except ValueError:
        spacing = 0.0
    if not (math.isfinite(spacing) and spacing > 0):
        raise InputError(
            f"{path}: no pixel spacing in its annotation (rangePixelSpacing {tags.get('PIXEL_SPACING')!r}); "
            "the product looks damaged: download it again"
        )
    lons, lats = [g.x for g in gcps], [g.y for g in gcps]
    mission = tags.get("MISSION_ID", "")
    return S1Product(
        path=path,
        name=re.sub(r"\.SAFE$", "", top, flags=re.I),
        manifest=manifest,
        bands=vrts,
        acquired=when,
        acquired_from=f"{_S1_MANIFEST} acquisitionPeriod/startTime",
        platform=f"sentinel-1{mission[2:].lower()}" if mission.startswith("S1") else "sentinel-1",
        resolution_m=spacing,
        footprint=(min(lons), min(lats), max(lons), max(lats)) if gcps else (0.0, 0.0, 0.0, 0.0),
        subdatasets=subdatasets,
    )


def is_s1_product(path: str | Path) -> bool:
    """Whether ``path`` is a Sentinel-1 SAFE product (folder or zip)."""
    if not is_safe_product(path):
        return False
    try:
        return _product_location(Path(path))[0] == "S1"
    except InputError:
        return False


def _unreadable(product: Path, exc: Exception) -> SitewatchError:
    """The error for a product GDAL could not open: a file named outside it said as such.

    GDAL 3.12 (rasterio 1.5) refuses such a name itself ("Path traversal detected in …") before
    :func:`_check_inside` sees the file list; the user gets the same words either way.
    """
    traversal = re.search(r"Path traversal detected in (.+)$", str(exc))
    if traversal:
        return _outside(product, traversal.group(1).strip())
    return ImageReadError(f"{product}: GDAL could not read the product ({exc})")


def _outside(product: Path, name: str) -> InputError:
    return InputError(
        f"{product}: its metadata names a file outside the product ({name}); "
        "a product from ESA names only its own files: download it again from a source you trust"
    )


def _check_inside(files: list[str], folder: str, product: Path) -> None:
    """Refuse a product whose metadata names a file outside it.

    GDAL follows the hrefs of ``manifest.safe`` (and the granule paths of ``MTD_MSIL2A.xml``) as
    they are: ``./measurement/../../../elsewhere.tiff`` read a raster (and calibration) of this
    machine as the product's measurement.
    """
    root = posixpath.normpath(folder.replace("\\", "/")) + "/"
    outside = [f for f in files if not posixpath.normpath(f.replace("\\", "/")).startswith(root)]
    if outside:
        raise _outside(product, outside[0])


def _read_bytes(gdal_path: str) -> bytes:
    """The bytes of a file GDAL names, on disk or (``/vsizip/``) in a zip."""
    if gdal_path.startswith("/vsizip/"):
        zip_path, member = re.split(r"(?i)(?<=\.zip)/", gdal_path[len("/vsizip/") :], maxsplit=1)
        with zipfile.ZipFile(zip_path) as zf:
            return read_zip_member(zf, member, zip_path)
    return Path(gdal_path).read_bytes()


def _check_all_polarisations(manifest: str, read: set[str], product: Path) -> None:
    """Refuse a product whose manifest lists a measurement GDAL did not offer.

    GDAL's SAFE driver leaves out, without a word, a polarisation whose annotation or
    calibration file is missing or unreadable: a dual-pol product would be read as
    single-pol, and run through the other detector, as if nothing were amiss.
    """
    try:
        text = _read_bytes(manifest).decode("utf-8", errors="replace")
    except (OSError, KeyError, zipfile.BadZipFile, InputError):
        return  # GDAL read the manifest; what it offered stands
    listed: dict[str, str] = {}
    for href in re.findall(r'href="\.?/?(measurement/[^"]+)"', text):
        m = re.search(r"-(vv|vh|hh|hv)-", href.rpartition("/")[2], flags=re.I)
        if m:
            listed.setdefault(m.group(1).upper(), href)
    missing = {pol: href for pol, href in listed.items() if pol not in read}
    if missing:
        pols = ", ".join(sorted(missing, key=_CO_FIRST.index))
        raise InputError(
            f"{product}: its manifest lists {pols} ({', '.join(missing.values())}), which GDAL cannot read: "
            "the measurement, its annotation or its calibration file is missing or damaged; download the product again"
        )


def _radiometry(cal_file: str, product: Path, thermal_noise: ThermalNoise) -> S1Radiometry:
    """The calibration LUT (an error when missing or malformed) and, with ``subtract``, the noise LUT
    (a warning when missing or unreadable) of a measurement; with ``keep`` the noise file is not
    read. The noise file is the calibration file's sibling, ``noise-<same name>``, as ESA names it."""
    import xml.etree.ElementTree as ET

    try:
        calibration = parse_calibration(_read_bytes(cal_file), cal_file)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError(f"{product}: the calibration LUT {cal_file} could not be read ({exc})") from exc
    except InputError as exc:
        raise InputError(f"{product}: {exc}; download the product again") from exc
    if thermal_noise == "keep":
        return S1Radiometry(calibration, cal_file)
    folder, _, name = cal_file.replace("\\", "/").rpartition("/")
    noise_file = f"{folder}/noise-{name.removeprefix('calibration-')}"
    inside = "/".join(noise_file.split("/")[-3:])  # annotation/calibration/noise-….xml
    try:
        noise = parse_noise(_read_bytes(noise_file), inside)
    except (FileNotFoundError, KeyError):
        why = f"no thermal noise LUT ({inside} is missing)"
    except (OSError, zipfile.BadZipFile) as exc:
        why = f"the thermal noise LUT {inside} could not be read ({exc})"
    except (InputError, ET.ParseError) as exc:
        why = str(exc)
    else:
        return S1Radiometry(calibration, cal_file, noise, noise_file)
    warnings.warn(f"{product}: {why}; its sigma0 keeps the noise (dark sea reads brighter)", NoiseNotRemovedWarning, stacklevel=3)
    return S1Radiometry(calibration, cal_file, noise_missing=why)


def _dn_vrt(subdataset: str, size: tuple[int, int], gcps: list[Any], gcp_crs: str) -> str:
    """VRT (XML text) of a measurement's DN as they are, no data 0, with ``gcps`` (already moved to
    GDAL's pixel convention) in place of the annotation's."""
    from xml.sax.saxutils import escape

    w, h = size
    points = "".join(
        f'<GCP Id="{i}" Pixel="{g.col!r}" Line="{g.row!r}" X="{g.x!r}" Y="{g.y!r}" Z="{(g.z or 0.0)!r}"/>'
        for i, g in enumerate(gcps, start=1)
    )
    return (
        f'<VRTDataset rasterXSize="{w}" rasterYSize="{h}"><GCPList Projection="{escape(gcp_crs)}">{points}</GCPList>'
        f'<VRTRasterBand dataType="UInt16" band="1"><NoDataValue>0</NoDataValue>'
        f'<SimpleSource><SourceFilename relativeToVRT="0">{escape(subdataset)}</SourceFilename>'
        f'<SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
        f'<DstRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/></SimpleSource></VRTRasterBand></VRTDataset>'
    )
