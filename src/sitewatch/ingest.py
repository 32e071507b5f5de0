"""Ingest: cut a scene to a site, reproject it to the site's grid, archive it as a COG.

The site grid is the site polygon's bounding box in the site's UTM zone,
snapped outward to whole pixels at the scene's ground resolution. Every
observation keeps its provenance (source, hashes, acquisition time, sensor,
resolution, sitewatch version) in the store and in the COG's tags.

Files are written to a temporary name in the archive and renamed into place
only when complete, then recorded in the store in one transaction: an
interrupted ingest leaves no half-written COG and no half row, and a rerun
replaces what it wrote before instead of adding to it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import socket
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray
from pyproj.exceptions import ProjError
from rasterio._err import CPLE_BaseError
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.features import geometry_mask
from rasterio.warp import reproject, transform_bounds
from shapely.geometry import MultiPolygon, Polygon, box

from . import __version__
from .detect.clouds import QA_PIXEL_CLOUD_RULE, UDM2_CLOUD_RULE, qa_pixel_to_scl
from .errors import (
    ImageReadError,
    InputError,
    Level1CWarning,
    OutputError,
    SitewatchError,
    SkippedInputWarning,
)
from .files import owner_of, partial_owner, partial_path
from .geo import ground_pixel_size, reproject_geometry, utm_crs_for
from .model import (
    DATE_ONLY_NOTE,
    Grid,
    NoonOfDate,
    Observation,
    SceneRef,
    Site,
    acquired_given,
    is_date_only,
    iso_utc,
    says_date_only,
    utc,
)
from .platforms import level_1c_note, platform_of, platform_sensor
from .run import map_jobs
from .sources.landsat import (
    LandsatProduct,
    is_landsat_mtl,
    landsat_level1_products_in,
    landsat_level1_refusal,
    landsat_product_id,
    landsat_product_of,
    landsat_products_in,
    landsat_tar_refusal,
    open_landsat_l2,
)
from .sources.planet import check_udm2, planet_scene_id, read_udm2_as_scl, udm2_apart, udm2_sibling
from .sources.planet_toa import PlanetTOA, planet_toa
from .sources.product_files import refuse_files_of_a_product
from .sources.providers import (
    airbus_dim_path,
    dimap_imaging_time,
    maxar_product_path,
    optical_band_indexes,
    provider_product,
)
from .sources.s1_radiometry import ThermalNoise
from .sources.safe import (
    NoiseNotRemovedWarning,
    S1Product,
    S2Product,
    is_s1_product,
    is_safe_product,
    open_s1_grd,
    open_s2_l2a,
    product_root,
    safe_product_name,
    safe_products_in,
)
from .store import Store, now_utc, stored_time
from .untrusted import check_not_linking, parse_xml
from .workspace import Workspace
from .zero_collar import ZERO_NO_DATA_NOTE, all_bands_zero, zero_is_no_data

__all__ = [
    "IngestReport",
    "band_resampling",
    "site_grid",
    "MAX_GRID_PIXELS",
    "site_mask",
    "no_data_as_nan",
    "valid_pixels",
    "read_scene_ref",
    "write_observation",
    "Archived",
    "archive_observation",
    "archive_file",
    "commit_archived",
    "partial_path",
    "remove_partials",
    "ingest_file",
    "ingest_paths",
    "FileJob",
    "archive_job",
    "map_file_jobs",
    "unique_item_id",
    "same_images",
    "SourceDigest",
    "expand_paths",
    "sha256_file",
    "metadata_sidecars",
    "acquired_from_xml",
    "RASTER_SUFFIXES",
]

log = logging.getLogger(__name__)

RASTER_SUFFIXES = (".tif", ".tiff", ".gtiff")
MAX_WHOLE_READ_PIXELS = 2**28
"""A file with more pixels a band than this (1 GB as float32) is read over the site's window only, not whole:
a purchased strip is cut without decoding all of it, and a header claiming 10⁶ × 10⁶ pixels allocates nothing."""
MAX_GRID_PIXELS = 2**30
"""Most pixels a site's grid may have (32768 × 32768): a largest site (2° across) at 10 m fits; a file
claiming millimetre pixels gets an error naming its pixel size, not an allocation of tens of GB."""
_SAR_BANDS = {"VV", "VH", "HH", "HV"}
_BAND_ORDER = {b: i for i, b in enumerate(("BLUE", "GREEN", "RED", "NIR", "SCL", "VV", "HH", "VH", "HV"))}
"""The order in which bands given one file each are read and stored."""
_OPTICAL_ALIASES = {
    "b02": "blue", "b2": "blue", "blue": "blue",
    "b03": "green", "b3": "green", "green": "green",
    "b04": "red", "b4": "red", "red": "red",
    "b08": "nir", "b8": "nir", "nir": "nir", "nir08": "nir",
    "scl": "SCL",
}  # fmt: skip


@dataclass(frozen=True)
class IngestReport:
    """What an ingest run did: observations written and inputs skipped with the reason."""

    observations: tuple[Observation, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    """(input path or id, reason) for every input that was not ingested."""
    duplicates: tuple[tuple[str, str], ...] = ()
    """(input path, earlier input path) for every file that is the same image as an earlier one
    of the run: it went in once, as that one."""
    sources: tuple[str, ...] = ()
    """The input path of each of ``observations``, in the same order (as given, not resolved)."""
    missed: tuple[str, ...] = ()
    """The inputs of ``skipped`` that are readable but hold no valid pixel over the site (the
    others were refused: unreadable, no CRS...)."""


def sha256_file(path: Path) -> str:
    """sha256 of a file; of a folder (a SAFE product), over each file's relative path and sha256."""
    if Path(path).is_dir():
        h = hashlib.sha256()
        for f in sorted(q for q in Path(path).rglob("*") if q.is_file()):
            h.update(f"{f.relative_to(path).as_posix()}\0{sha256_file(f)}\n".encode())
        return h.hexdigest()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class SourceDigest:
    """An input file's sha256, read at most once in a run and only when something asks for it.

    Its size, known without reading it (None for a folder), rules out without hashing a stored
    source of another size (provenance ``source_size``) as its copy. The digest, once read, goes
    to the worker in :class:`FileJob`, so that the provenance's ``source_sha256`` is not read again.
    """

    def __init__(self, path: Path, sha256: str | None = None) -> None:
        self.path = Path(path)
        self.sha256 = sha256
        """The digest when it has been read (or was known), else None."""
        self.size = _size(self.path) if self.path.is_file() else None

    def value(self) -> str:
        """The file's sha256, read now if it has not been."""
        if self.sha256 is None:
            self.sha256 = sha256_file(self.path)
        return self.sha256

    def same_as(self, prov: Mapping[str, Any]) -> bool:
        """Whether the stored source of provenance ``prov`` is this file's content (hashed only when
        its size, if recorded, is this file's)."""
        stored = prov.get("source_size")
        if not prov.get("source_sha256") or (self.size is not None and isinstance(stored, int) and stored != self.size):
            return False
        return bool(prov["source_sha256"] == self.value())


def _warp_to_grid(
    values: NDArray[np.float32],
    out: NDArray[np.float32],
    src: rasterio.io.DatasetReader,
    window: rasterio.windows.Window | None,
    grid: Grid,
    resampling: Resampling,
) -> None:
    """Resample one band read from ``src`` (over ``window``, or whole) onto the site's ``grid`` into ``out``;
    NaN is no data on both sides."""
    reproject(
        values,
        out,
        src_transform=src.transform if window is None else src.window_transform(window),
        src_crs=src.crs,
        dst_transform=grid.affine,
        dst_crs=grid.crs,
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=resampling,
    )


def site_grid(site: Site, resolution_m: float, crs: str | None = None) -> Grid:
    """The site's grid: its polygon's bounds in ``crs`` (default: its UTM zone), snapped to pixels.

    A site is at most :data:`~sitewatch.model.MAX_SITE_DEG` across (:class:`Site` refuses wider ones), so its
    grid fits one UTM zone.
    """
    geom = site.require_geometry()
    crs = crs or utm_crs_for(geom.centroid.x, geom.centroid.y)
    minx, miny, maxx, maxy = reproject_geometry(geom, "EPSG:4326", crs).bounds
    r = float(resolution_m)
    x0, y1 = math.floor(minx / r) * r, math.ceil(maxy / r) * r
    width = max(1, math.ceil((maxx - x0) / r))
    height = max(1, math.ceil((y1 - miny) / r))
    if width * height > MAX_GRID_PIXELS:
        raise InputError(
            f"site {site.id!r} ({(maxx - minx) / 1000:.1f} × {(maxy - miny) / 1000:.1f} km) at {r:g} m pixels would be "
            f"{width} × {height} pixels, more than sitewatch handles ({MAX_GRID_PIXELS:,}); is the image's pixel size "
            "right? Resample it coarser (gdalwarp -tr) or cut the site smaller"
        )
    t = Affine(r, 0.0, x0, 0.0, -r, y1)
    return Grid(crs=crs, transform=(t.a, t.b, t.c, t.d, t.e, t.f), width=width, height=height)


def site_mask(site: Site, grid: Grid) -> NDArray[np.bool_]:
    """True for pixels of ``grid`` whose centre lies inside the site polygon."""
    geom = reproject_geometry(site.require_geometry(), "EPSG:4326", grid.crs)
    return geometry_mask([geom], out_shape=grid.shape, transform=grid.affine, invert=True)


# -- no data --------------------------------------------------------------------------------------


def no_data_as_nan(values: NDArray[np.floating] | np.ma.MaskedArray) -> NDArray[np.float32]:
    """Pixel values as sitewatch archives them: float32, NaN where there is no data.

    No data is what a file's mask says (its no-data value: a masked read) and every value that
    is not finite: NaN, and ±inf too, which is no measurement (a float export's overflow, a
    division by a zero calibration gain). The one rule of ingest, import and fetch, applied to
    the values as read, before they are resampled onto the site's grid (GDAL leaves NaN out of a
    bilinear kernel, an infinity it spreads to the pixels around), and to what is archived.
    The values are returned as they are (no copy) when nothing needs changing.
    """
    a = np.ma.filled(values.astype(np.float32, copy=False), np.nan) if np.ma.isMaskedArray(values) else values
    a = np.asarray(a, dtype=np.float32)
    inf = np.isinf(a)
    return np.where(inf, np.float32(np.nan), a) if inf.any() else a


def valid_pixels(data: NDArray[np.floating], inside: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Pixels (of bands × rows × cols on a site's grid) inside the site with data in every band:
    the valid fraction's pixels (:func:`no_data_as_nan`'s rule)."""
    return np.all(np.isfinite(data), axis=0) & inside


# -- reading what a file is -----------------------------------------------------------------------


# Element names (namespace ignored) holding the acquisition time in providers' XML metadata:
# Planet (ps:acquisitionDateTime, gml:beginPosition), Maxar/DigitalGlobe (FIRSTLINETIME,
# EARLIESTACQTIME). Airbus DIMAP splits it in two (IMAGING_DATE + IMAGING_TIME), read by
# providers.dimap_imaging_time from a Dimap_Document alone.
_XML_TIME_TAGS = (
    "acquisitionDateTime", "acquired", "FIRSTLINETIME", "firstLineTime", "EARLIESTACQTIME",
    "beginPosition", "acquisitionDate", "DATETIME",
)  # fmt: skip


def metadata_sidecars(path: Path) -> list[Path]:
    """Metadata files delivered next to a GeoTIFF: JSON, XML, Maxar ``.IMD``, Planet ``*_metadata.*``."""
    path = Path(path)
    names = [path.with_suffix(s) for s in (".json", ".xml", ".XML", ".IMD", ".imd")]
    names += [path.with_name(path.stem + s) for s in ("_metadata.json", "_metadata.xml")]
    if (product := maxar_product_path(path)) is not None:
        names += [product.with_suffix(s) for s in (".XML", ".xml", ".IMD", ".imd")]  # a tile's: its product's
    if (dim := airbus_dim_path(path)) is not None:
        names.append(dim)  # IMG_PHR1A_MS_…_R1C1.TIF comes with DIM_PHR1A_MS_….XML
    if path.stem.upper() == "IMAGERY":
        names += [path.with_name(n) for n in ("METADATA.DIM", "metadata.dim")]  # a DIMAP V1 (SPOT 1-5) scene
    # Planet names the metadata after the scene id, not the asset: 20241015_012345_22_2470_3B_AnalyticMS_SR.tif
    # comes with 20241015_012345_22_2470_3B_AnalyticMS_metadata.xml.
    if re.match(r"\d{8}_\d{6}_", path.stem) and path.parent.is_dir():
        # The scene id has three parts for the first Doves (20180905_101500_1034_metadata.json): four would take in "3B".
        scene_id = planet_scene_id(path.name)
        prefix = f"{scene_id}_" if scene_id else "_".join(path.stem.split("_")[:4])
        names += sorted(path.parent.glob(f"{_glob_escape(prefix)}*metadata*.xml"))
        names += sorted(path.parent.glob(f"{_glob_escape(prefix)}*metadata*.json"))
    seen: list[Path] = []
    for n in names:
        if n.is_file() and n != path and n not in seen:
            seen.append(n)
    return seen


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def acquired_from_xml(path: Path) -> datetime | None:
    """Acquisition time from a provider's XML (Planet, Maxar, Airbus DIMAP) or Maxar ``.IMD`` text, or None.

    An element holding a date alone (``<acquisitionDate>2024-10-15</acquisitionDate>``) gives a
    :class:`~sitewatch.model.NoonOfDate`, and only when no element gives the time.
    """
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return None
    if Path(path).suffix.lower() == ".imd":
        # Maxar ODL (DigitalGlobe, "Imagery Support Data (ISD) Documentation"): each IMAGE_n group of a Basic (1B)
        # product gives firstLineTime, of a Standard/Ortho (2A, 3D) product earliestAcqTime and latestAcqTime;
        # generationTime is when the file was made. The first line's (earliest) time is the one both levels
        # give, as S1's start time is; the scan lasts seconds. Of several images (a mosaic), the earliest.
        stamps = re.findall(r"\b(?:firstLineTime|earliestAcqTime)\s*=\s*\"?([0-9T:.\-+Z]+)", text, re.I)
        return min((when for when in map(_lenient_utc, stamps) if when is not None), default=None)
    import xml.etree.ElementTree as ET

    try:
        root = parse_xml(text, str(path))
    except (ET.ParseError, InputError):
        return None
    if root.tag.rsplit("}", 1)[-1] == "Dimap_Document":
        return dimap_imaging_time(root)  # not its PRODUCTION_DATE, nor any other element
    # Maxar's XML twin of the .IMD (<IMAGE><FIRSTLINETIME>, <EARLIESTACQTIME>): the earliest image's, as from the .IMD.
    maxar = [_lenient_utc(el.text or "") for el in root.iter() if el.tag.rsplit("}", 1)[-1].upper() in ("FIRSTLINETIME", "EARLIESTACQTIME")]
    if any(maxar):
        return min(when for when in maxar if when is not None)
    found: dict[str, str] = {}
    for el in root.iter():
        local = el.tag.rsplit("}", 1)[-1]
        if local in _XML_TIME_TAGS and (el.text or "").strip() and local not in found:
            found[local] = el.text.strip()  # type: ignore[union-attr]
    for tag in _XML_TIME_TAGS:
        if tag in found and (when := _lenient_utc(found[tag])) is not None:
            return when
    for tag in _XML_TIME_TAGS:
        if tag in found and (day := re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:?\d{2})?", found[tag])):
            try:
                return NoonOfDate.of(date.fromisoformat(day.group(1)))  # an xs:date: its zone does not move the date
            except ValueError:
                continue
    return None


def _lenient_utc(text: str) -> datetime | None:
    text = text.strip().strip('"')
    m = re.match(r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$", text)
    if not m:
        return None
    frac = (m.group(2) or "")[:7]  # Python takes at most microseconds
    try:
        return utc(m.group(1).replace(" ", "T") + frac + (m.group(3) or "Z"))
    except ValueError:
        return None


_WEEK_ALONE = re.compile(r"\d{4}-?W\d{2}")
"""A week without its day (``2024-W42``), which :func:`~datetime.date.fromisoformat` reads as its Monday: not a date."""

_ESA_OLD_NAME = re.compile(r"(?<![A-Za-z0-9])S2[ABCD]_OPER_")
"""ESA's Sentinel-2 naming before December 2016, whose first date-time is when the file was made."""


def _acquired_from(tags: Mapping[str, str], path: Path) -> tuple[datetime, str] | None:
    """The acquisition time from a file's tags, sidecar metadata or name, and where it came from.

    The first source that gives one says it. A date alone (``SITEWATCH_ACQUIRED=2024-10-15``, a
    sidecar's ``"datetime": "2024-10-15"``) is :data:`~sitewatch.model.DATE_ONLY_HOUR` UTC of that
    date, its source saying the time is assumed, unless a later source gives a time on that date.
    """
    sources = _acquisition_times(tags, path)
    for when, how in sources:
        if isinstance(when, NoonOfDate):
            return next(
                (timed for timed in _readable(sources) if not isinstance(timed[0], NoonOfDate) and timed[0].date() == when.date()),
                (when, f"{how}, date only ({DATE_ONLY_NOTE})"),
            )
        return when, how
    return None


def _readable(sources: Iterator[tuple[datetime, str]]) -> Iterator[tuple[datetime, str]]:
    """``sources`` up to the first that cannot be read: looked through only for the time of a date already known."""
    try:
        yield from sources
    except InputError:
        return


def _acquisition_times(tags: Mapping[str, str], path: Path) -> Iterator[tuple[datetime, str]]:
    """Each acquisition time a file's tags, sidecars and name give, in the order they are believed:
    a date alone as a :class:`~sitewatch.model.NoonOfDate`, its source named as for a time."""
    def read(value: str, source: str) -> datetime:
        if is_date_only(value) and not _WEEK_ALONE.fullmatch(value.strip()):
            return NoonOfDate.of(date.fromisoformat(value.strip()))
        try:
            return utc(value)
        except InputError:
            raise InputError(f"{path}: {source} {value!r} is not an ISO 8601 time; pass --acquired") from None

    named = next((key for key in ("SITEWATCH_ACQUIRED", "ACQUISITION_DATETIME", "acquired", "datetime") if tags.get(key)), None)
    if named is not None:
        yield read(tags[named], f"tag {named}"), f"tag {named}"
    for sidecar in metadata_sidecars(path):
        if sidecar.suffix.lower() == ".json":
            try:
                meta = json.loads(sidecar.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                continue
            props = meta.get("properties", meta) if isinstance(meta, dict) else None
            for key in ("datetime", "acquired", "acquisition_time"):
                if isinstance(props, dict) and props.get(key):
                    yield read(str(props[key]), f"{sidecar.name}: {key}"), f"sidecar {sidecar.name}"
                    break
        else:
            when = acquired_from_xml(sidecar)
            if when is not None:
                yield when, f"sidecar {sidecar.name}"
    if named is None and tags.get("TIFFTAG_DATETIME"):
        # After the provider's metadata: TIFF 6.0 defines DateTime (tag 306) as when the image was created, which
        # for a delivered product is when it was processed, days after the pass its metadata states.
        # TIFF's form is "2024:10:15 01:23:45"; a date alone there is read as one, as in any other tag.
        stamp = tags["TIFFTAG_DATETIME"].strip()
        for form in ("%Y:%m:%d %H:%M:%S", "%Y:%m:%d"):
            try:
                parsed = datetime.strptime(stamp, form)
            except ValueError:
                continue
            yield (parsed.replace(tzinfo=UTC) if "%H" in form else NoonOfDate.of(parsed.date())), "tag TIFFTAG_DATETIME"
            break
    yield from _acquisition_time_in_name(path)


def _acquisition_time_in_name(path: Path) -> Iterator[tuple[datetime, str]]:
    """The acquisition time a file's name gives, if it gives one (a date alone as a :class:`~sitewatch.model.NoonOfDate`)."""
    if _ESA_OLD_NAME.search(path.stem):
        # ESA's names before December 2016: a product's holds its sensing start after "_V"; a tile's or
        # band file's (S2A_OPER_MSI_L1C_TL_SGS__20160927T081713_A006607_T49QHE_B02) only the time it was
        # made, hours after the pass (08:17 for a pass over Hong Kong at about 02:50 UTC, 10:30 local solar time), maybe the next day.
        v = re.search(r"_V(20\d{2})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})", path.stem)
        if v is not None:
            yield datetime.strptime("".join(v.groups()), "%Y%m%d%H%M%S").replace(tzinfo=UTC), "file name, sensing start (_V)"
        return
    # Planet's PlanetScope and SkySat names begin with the pass's date and time: 20241017_012345_22_2470_…, 20230415_083012_ssc6_…
    planet = re.match(r"(20\d{2})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})_", path.name)
    if planet and (planet_scene_id(path.name) or re.match(r"\d{8}_\d{6}_ss(?:c)?\d", path.name, re.I)):
        try:
            when = datetime.strptime("".join(planet.groups()), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        except ValueError:
            when = None
        if when is not None:
            yield when, "file name (Planet's scene id)"
            return
    # 20241015, 20241015T012345, 2024-10-15, 2024-10-15T01:23:45
    m = re.search(r"(20\d{2})(\d{2})(\d{2})(?:T?(\d{2})(\d{2})(\d{2})?)?", path.stem) or re.search(
        r"(20\d{2})-(\d{2})-(\d{2})(?:T(\d{2}):?(\d{2})(?::?(\d{2}))?)?", path.stem
    )
    if m:
        y, mo, d, hh, mm, ss = m.groups()
        try:
            if hh is None:
                when = NoonOfDate.of(date(int(y), int(mo), int(d)))
            else:
                when = datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss or 0), tzinfo=UTC)
        except ValueError:
            return
        # Digits of a future day are some other number in the name (a tile or orbit id), not its date.
        if when <= datetime.now(UTC) + timedelta(days=1):
            yield when, "file name"


def _band_names(
    descriptions: Sequence[str | None], count: int, sensor: str, path: Path, colours: Sequence[str] = ()
) -> list[str]:
    names = [(d or "").strip() for d in descriptions]
    if sensor == "sar":
        return [n.upper() if n.upper() in _SAR_BANDS else (n or f"band{i + 1}") for i, n in enumerate(names)]
    mapped = [_OPTICAL_ALIASES.get(n.lower(), "") for n in names]
    if all(mapped) and len(set(mapped)) == len(mapped):
        return mapped
    named = [m for m in mapped if m]
    if len(set(named)) == len(named) and "green" in named and {"red", "nir"} & set(named):
        # Some bands named, as detect-image reads them: PlanetScope's 8-band files describe theirs coastal_blue,
        # blue, green_i, green, yellow, red, rededge, nir (support.planet.com, "PlanetScope 8-band asset: band
        # order"), and read by count their coastal blue was taken for blue, green I for green, yellow for red.
        return _provider_band_names([m or n for m, n in zip(mapped, names, strict=True)])
    from .detect.optical_image import bands_by_colour

    by_colour = {i: c for c, i in bands_by_colour(descriptions, colours).items()}
    if by_colour:
        # As detect-image reads it: an RGBA file's alpha band is not NIR, a BGR file is not RGB.
        return [by_colour.get(i + 1) or (colours[i] if colours[i] == "alpha" else f"band{i + 1}") for i in range(count)]
    if count == 3:
        return ["red", "green", "blue"]  # the usual order of an RGB product
    if count >= 4:
        # PlanetScope analytic and most 4-band products store blue, green, red, nir.
        return ["blue", "green", "red", "nir"] + [f"band{i + 5}" for i in range(count - 4)]
    if count == 1:
        raise InputError(
            f"{path}: one band, and sitewatch cannot tell which; for an optical scene delivered "
            "as one file a band, give each with --band NAME=PATH (blue, green, red, nir)"
        )
    raise InputError(f"{path}: cannot tell which of {count} bands are which; name them blue/green/red/nir")


def _nominal_when_close(ground: tuple[float, float], src: Any) -> tuple[float, float]:
    """The file's own pixel size in metres when the ground size is within 0.5 % of it.

    A UTM grid's ground size differs from its nominal one by the zone's scale factor
    (0.9996-1.001): a 10 m Sentinel-2 tile measures 10.003 m, and cutting it to a 10.003 m
    site grid would interpolate every pixel for nothing. Web Mercator's factor (1/cos
    latitude) is far larger and is kept.
    """
    if not (src.crs.is_projected and src.crs.linear_units in ("metre", "meter")):
        return ground
    nominal = (abs(src.transform.a), abs(src.transform.e))
    if all(n > 0 and abs(g / n - 1) < 0.005 for g, n in zip(ground, nominal, strict=True)):
        return nominal
    return ground


def _wgs84_footprint(crs: Any, bounds: Sequence[float]) -> Polygon | MultiPolygon:
    """The lon/lat box of ``bounds`` (in ``crs``); one across the antimeridian is two boxes.

    ``transform_bounds`` gives west > east for such an image (a Fiji scene in UTM zone 60
    runs from 179.7 to -179.7): one box from those would span the rest of the world instead.
    """
    w, s, e, n = transform_bounds(crs, "EPSG:4326", *bounds)
    if w > e:
        return MultiPolygon([box(w, s, 180.0, n), box(-180.0, s, e, n)])
    return box(w, s, e, n)


def read_scene_ref(
    path: Path, *, acquired: datetime | None = None, sensor: str | None = None, name_bands: bool = True,
    thermal_noise: ThermalNoise = "keep",
) -> tuple[SceneRef, list[str]]:
    """Describe a GeoTIFF as a SceneRef plus its band names, from its tags and sidecars.

    ``name_bands=False`` (the bands are named by the caller) returns no band names.
    A Sentinel-2 L2A or Sentinel-1 GRD SAFE product (folder or zip) is described from its metadata;
    the latter opened with ``thermal_noise`` (the ``sar_thermal_noise`` setting), so that a noise
    LUT that cannot be subtracted is said here, once.
    """
    path = Path(path)
    if is_s1_product(path):
        return _s1_scene_ref(open_s1_grd(path, thermal_noise=thermal_noise), acquired, sensor)
    if is_safe_product(path):
        return _safe_scene_ref(open_s2_l2a(path), acquired, sensor)
    if is_landsat_mtl(path):
        return _landsat_scene_ref(open_landsat_l2(path), acquired, sensor)
    if path.suffix.lower() == ".zip" and path.is_file():
        safe_product_name(path)  # names a damaged zip, or one without a product, as such
    if (packed := landsat_tar_refusal(path) or landsat_level1_refusal(path)) is not None:
        raise InputError(packed)
    try:
        with warnings.catch_warnings():
            # A missing georeference is reported below as our own error, naming the file.
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(path)
        with src:
            check_not_linking(src.driver, path)
            tags = src.tags()
            if src.crs is None and src.gcps[0]:
                # Georeferenced, but by points, not a transform: gdal_translate -a_ullr would throw them away.
                raise ImageReadError(
                    f"{path}: is placed by {len(src.gcps[0])} ground control points (GCPs), not a transform "
                    f"sitewatch can cut by; warp it first, e.g. `gdalwarp -r bilinear {path.name} warped.tif` "
                    "(-r near for SAR; -tps for many points), and ingest warped.tif"
                )
            if src.crs is None and src.rpcs is not None:
                # A Basic (L1B) product, placed by its rational polynomial coefficients and the terrain: a bounding
                # box given with gdal_translate -a_ullr would put it hundreds of metres off, tilted.
                raise ImageReadError(
                    f"{path}: is not orthorectified: it carries rational polynomial coefficients (RPCs, a Basic or "
                    "L1B product), not a map grid; orthorectify it first, e.g. "
                    f"`gdalwarp -rpc -to RPC_DEM=dem.tif -t_srs EPSG:4326 -r bilinear {path.name} ortho.tif` "
                    "(without a DEM the relief shifts it), or order the provider's ortho product, and ingest that"
                )
            if src.crs is None:
                raise ImageReadError(
                    f"{path}: has no CRS; sitewatch cannot place it on the ground "
                    "(georeference it first, e.g. with gdal_translate -a_srs / -a_ullr)"
                )
            try:
                px, py = _nominal_when_close(
                    ground_pixel_size(src.crs.to_string(), src.transform, src.width, src.height), src
                )
                footprint = _wgs84_footprint(src.crs, src.bounds)
            except (ProjError, CPLE_BaseError) as exc:  # a local or non-Earth CRS: no way to lon/lat
                name = re.search(r'"([^"]*)"', src.crs.to_wkt())
                raise ImageReadError(
                    f"{path}: its CRS ({name.group(1) if name else src.crs.to_string()[:80]}) cannot be turned "
                    "into longitude/latitude; reproject it to a standard one (e.g. gdalwarp -t_srs EPSG:4326)"
                ) from exc
            descriptions = list(src.descriptions)
            colours = [c.name for c in src.colorinterp] if src.driver == "GTiff" else []
            count = src.count
    except RasterioError as exc:
        raise ImageReadError(f"{path}: not a readable raster ({exc})") from exc
    from .detect.optical_image import bands_by_colour

    # PlanetScope, SkySat, Maxar and Airbus files carry no band descriptions: their names and sidecars say optical.
    product = provider_product(path, count) if not any((d or "").strip() for d in descriptions) else None
    kind = sensor or tags.get("SITEWATCH_SENSOR")
    if not kind:
        upper = {(d or "").upper() for d in descriptions}
        kind = "sar" if upper & _SAR_BANDS else ("optical" if count >= 3 or product is not None else "")
    if kind == "optical" and product is not None and name_bands:
        optical_band_indexes(product, path)  # a panchromatic band, or a layout that cannot be known, refused by name
    if kind == "optical" and name_bands:
        # A Planet radiance file without its metadata XML, or SkySat DN, refused by name before anything is written.
        planet_toa(path, product or provider_product(path, count), count)
    by_provider = kind == "optical" and product is not None and product.bands is not None and not bands_by_colour(descriptions, colours)
    found = (acquired, acquired_given(acquired)) if acquired else _acquired_from(tags, path)
    when, when_from = found or (None, "")
    if when is None:
        made = (
            " (the time in an ESA name of this kind, S2A_OPER_…_TL_…, is when the file was made, not the pass)"
            if _ESA_OLD_NAME.search(path.stem) else ""
        )  # fmt: skip
        raise InputError(
            f"{path}: no acquisition time in its tags, a sidecar JSON or its name{made}; pass --acquired"
        )
    platform, platform_from = platform_of(tags, path, metadata_sidecars(path))
    stated = platform_sensor(platform)
    if kind in ("sar", "optical") and stated and kind != stated:
        # Read as the other sensor, a Sentinel-2 band file became a "SAR" scene of a hundred false vessels.
        if sensor:
            given = "given (--sensor, or the --band names)"
        elif tags.get("SITEWATCH_SENSOR"):
            given = "its SITEWATCH_SENSOR tag says"
        elif kind == "sar":
            given = f"its band names ({', '.join(d for d in descriptions if d)}) say"
        else:  # guessed from the band count: a three-band rendering of a SAR scene is no optical image
            given = f"its {count} bands suggested; no --sensor was given"
        raise InputError(
            f"{path}: a {platform} image ({platform_from}), so {stated}, not {kind} as {given}"
            + ("; give the bands of a scene delivered one file a band together: `sitewatch ingest SITE --band NAME=PATH …`"
               if stated == "optical" and count == 1 else "")
        )
    if kind not in ("sar", "optical"):
        if count == 1 and stated == "optical":
            # EO Browser's one-band exports (…_Sentinel-2_L2A_B08_(Raw).tiff): asking "SAR or optical?"
            # of a file its name says Sentinel-2 took, and offering --sensor sar, misled.
            raise InputError(
                f"{path}: one band of a {platform} scene (from its {platform_from}); give the scene's band "
                "files together: `sitewatch ingest SITE --band blue=… --band green=… --band red=… --band nir=…`"
            )
        if count == 1:
            raise InputError(
                f"{path}: one unnamed band, SAR or optical?  Pass --sensor sar for a SAR image; give the "
                "bands of an optical scene delivered one file a band together: `sitewatch ingest SITE "
                "--band NAME=PATH …`"
            )
        raise InputError(f"{path}: cannot tell whether it is SAR or optical; pass --sensor")
    simulated = tags.get("SITEWATCH_SIMULATED", "").lower() == "true"
    level1c = level_1c_note(path) if kind == "optical" else None
    if level1c:
        warnings.warn(level1c, Level1CWarning, stacklevel=2)
    provider, collection = "simulator" if simulated else "local", tags.get("SITEWATCH_COLLECTION", "local-geotiff")
    item_id = tags.get("SITEWATCH_SCENE_ID", path.stem)
    whole = _SCENE_ID.fullmatch(item_id) if "SITEWATCH_SCENE_ID" in tags else None
    if "SITEWATCH_COLLECTION" not in tags and whole:
        # An archived COG (of another workspace) is tagged with its scene's whole id, provider:collection:item:
        # the same scene, not a new one whose item id is that whole id. A file's own name is never split so:
        # EO Browser's exports hold two colons (`2023-07-10-00:00_2023-07-10-23:59_…`), which made
        # "2023-07-10-00" the provider and "59_Sentinel-2_L2A_…" the observation's name.
        provider, collection, item_id = whole.groups()
    scene = SceneRef(
        provider=provider,
        collection=collection,
        item_id=item_id,
        sensor=kind,
        acquired=utc(when),
        resolution_m=round(float(tags.get("SITEWATCH_RESOLUTION_M", 0)) or min(px, py), 3),
        hrefs={"data": str(path.resolve())},
        footprint=footprint,
        platform=platform,
        simulated=simulated,
        properties={k: v for k, v in tags.items() if k.startswith("SITEWATCH_") or k.startswith("TIFFTAG_")}
        | {"acquired_from": when_from}
        | ({"platform_from": platform_from} if platform_from else {})
        | ({"processing_level": "L1C (top-of-atmosphere), by its file name"} if level1c else {})
        | ({"bands_from": product.reason} if by_provider and product is not None else {}),
    )
    if by_provider and product is not None and product.bands is not None:
        # The provider's layout: a Pléiades file of red, green, blue, NIR, an 8-band WorldView file's NIR in band 7.
        return scene, _provider_band_names(product.bands) if name_bands else []
    return scene, _band_names(descriptions, count, kind, path, colours) if name_bands else []


_SCENE_ID = re.compile(r"((?:\[[^\]]*\]|[^:\[\]]+)(?::\d+)?):([^:]+):(.+)")
"""A scene's whole id, provider:collection:item. The provider of a catalogue named by its URL is the URL's
host with its port (``127.0.0.1:8080``, ``[::1]:8080``); an item id may hold colons (a file named after a time)."""


def _provider_band_names(bands: Sequence[str]) -> list[str]:
    """A provider's band names as archived: its blue/green/red/nir as such, others by their own name."""
    return [b if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", b) else f"band{i + 1}" for i, b in enumerate(bands)]


def _safe_scene_ref(product: S2Product, acquired: datetime | None, sensor: str | None) -> tuple[SceneRef, list[str]]:
    if sensor == "sar":
        raise InputError(f"{product.path}: a Sentinel-2 product is optical; drop --sensor sar")
    import shapely.wkt

    sds, _ = product.bands["green"]
    try:
        with rasterio.open(sds) as src:
            px, py = _nominal_when_close(
                ground_pixel_size(src.crs.to_string(), src.transform, src.width, src.height), src
            )
            footprint = _wgs84_footprint(src.crs, src.bounds)
    except RasterioError as exc:
        raise ImageReadError(f"{product.path}: GDAL could not read the 10 m bands ({exc})") from exc
    if product.footprint_wkt:
        try:
            footprint = shapely.wkt.loads(product.footprint_wkt)
        except Exception:  # shapely's parse errors have no common base; the grid's box stands
            pass
    return _product_scene_ref(product, "sentinel-2-l2a-safe", min(px, py), footprint, acquired)


def _landsat_scene_ref(product: LandsatProduct, acquired: datetime | None, sensor: str | None) -> tuple[SceneRef, list[str]]:
    if sensor == "sar":
        raise InputError(f"{product.path}: a Landsat product is optical; drop --sensor sar")
    first = product.bands["green"][0]
    try:
        with rasterio.open(first) as src:
            if src.crs is None:
                raise ImageReadError(f"{first}: has no CRS; sitewatch cannot place it on the ground")
            px, py = _nominal_when_close(ground_pixel_size(src.crs.to_string(), src.transform, src.width, src.height), src)
            footprint = _wgs84_footprint(src.crs, src.bounds)
    except RasterioError as exc:
        raise ImageReadError(f"{product.path}: GDAL could not read its band {first.name} ({exc})") from exc
    return _product_scene_ref(product, "landsat-c2-l2", min(px, py), footprint, acquired)


def _product_scene_ref(
    product: S2Product | LandsatProduct, collection: str, pixel_m: float, footprint: Any, acquired: datetime | None
) -> tuple[SceneRef, list[str]]:
    """The scene of an optical product read whole (a Sentinel-2 SAFE, a Landsat Level-2 folder) and its band names."""
    scene = SceneRef(
        provider="local",
        collection=collection,
        item_id=product.name,
        sensor="optical",
        acquired=acquired or product.acquired,
        resolution_m=round(pixel_m, 3),
        hrefs={"data": str(product.path.resolve())},
        footprint=footprint,
        platform=product.platform,
        properties={"acquired_from": acquired_given(acquired) if acquired else product.acquired_from},
    )
    return scene, list(product.bands)


def _s1_scene_ref(product: S1Product, acquired: datetime | None, sensor: str | None) -> tuple[SceneRef, list[str]]:
    if sensor == "optical":
        raise InputError(f"{product.path}: a Sentinel-1 product is SAR; drop --sensor optical")
    scene = SceneRef(
        provider="local",
        collection="sentinel-1-grd-safe",
        item_id=product.name,
        sensor="sar",
        acquired=acquired or product.acquired,
        resolution_m=product.resolution_m,
        hrefs={"data": str(product.path.resolve())},
        footprint=box(*product.footprint),
        platform=product.platform,
        properties={"acquired_from": acquired_given(acquired) if acquired else product.acquired_from},
    )
    return scene, list(product.bands)


# -- writing observations -------------------------------------------------------------------------


_MAX_NAME = 200
"""Longest archive file name taken from an id as it is: with ``.`` before it and ``.stac.json.PID.partial``
after (:func:`partial_path`), a name stays under the 255 bytes file systems allow."""


def _safe_name(text: str) -> str:
    """A file name for an item id: the id itself when it is safe (and not too long), else made safe
    (cut to :data:`_MAX_NAME`) plus a digest of the id, so that two ids (``harbour east``,
    ``harbour_east``) never share one archive file."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "scene"
    if safe == text and len(safe) <= _MAX_NAME:
        return safe
    # A catalogue's id of 400 characters ended the whole fetch in "File name too long".
    return f"{safe[:_MAX_NAME]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


Archived = tuple[Observation, Polygon, tuple[tuple[Path, Path], ...]]
"""An observation written to the archive but not yet recorded: the observation, its WGS84
footprint, and the files to move into place when it is (each partial file and its final name)."""


def write_observation(
    ws: Workspace,
    store: Store,
    site: Site,
    scene: SceneRef,
    data: NDArray[np.floating],
    grid: Grid,
    band_names: Sequence[str],
    provenance: Mapping[str, Any],
    *,
    cloud_fraction: float | None = None,
    sidecars: Mapping[str, Path] | None = None,
    compress: str = "deflate",
) -> Observation | None:
    """Archive ``data`` (bands × rows × cols, NaN = no data) on ``grid`` as a COG and record it.

    Returns None (and archives nothing) when the site has no valid pixel in it.
    ``sidecars`` (name → file) are copied next to the COG, e.g. ``{"truth": path}``,
    and recorded in the provenance as paths relative to the workspace.
    """
    archived = archive_observation(
        ws, site, scene, data, grid, band_names, provenance,
        cloud_fraction=cloud_fraction, sidecars=sidecars, compress=compress,
    )  # fmt: skip
    return _commit(ws, store, archived)


def _commit(ws: Workspace, store: Store, archived: Archived | None) -> Observation | None:
    """Record what :func:`archive_observation` or :func:`archive_file` wrote (None: nothing, the
    site had no valid pixel in it) and return its observation."""
    if archived is None:
        return None
    commit_archived(ws, store, *archived)
    return archived[0]


def commit_archived(
    ws: Workspace,
    store: Store,
    obs: Observation,
    footprint: Polygon,
    files: Sequence[tuple[Path, Path]] | None = None,
) -> None:
    """Record an archived observation and move its COG and sidecars into place, together.

    ``files`` are the (partial, final) pairs of :data:`Archived` (default: the COG written by this
    process). The row and the renames happen in one transaction (the renames last, just before
    the commit), so an interrupted run leaves either both or neither: the partial files of a
    commit that fails are removed, and those of a killed run by the next ingest of the site.
    """
    final = ws.root / obs.path
    moves = list(files) if files is not None else [(partial_path(final), final)]
    try:
        with store.transaction():
            store.put_observation(obs, footprint=footprint)
            for partial, dest in moves:
                try:
                    os.replace(partial, dest)
                except OSError as exc:
                    raise OutputError(f"{dest}: cannot move it into place in the archive ({exc.strerror or exc})") from exc
    except BaseException:
        _discard(partial for partial, _ in moves)
        raise


def _writer_running(partial: Path) -> bool:
    """Whether the command that owns a partial file (:func:`~sitewatch.files.owner_of`) is another one,
    still running, or one on another machine, which cannot be looked up from here."""
    owner = owner_of(partial)
    if owner is None:
        return False
    pid, here = owner
    if not here:
        return True  # its own next run removes it once it has gone
    if os.name == "nt" or pid == os.getpid():
        return False  # (Windows: os.kill would end the process, not test it)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def remove_partials(ws: Workspace, site_id: str) -> int:
    """Delete the files an interrupted or killed run left half-done in a site's archive folder.

    The partial files of another command writing into the site at this moment are left alone, and so
    are those of a command on another machine (written for it by Dask workers): its next run there
    removes them. GDAL's own temporary files beside a partial COG (``….partial.ovr.tmp``, the overviews
    being built when the writer was killed) go with it, and so does the file a command killed while
    it checked its Dask workers left in the archive folder (:func:`~sitewatch.run.map_jobs`).
    """
    n = 0
    for p in [*ws.archive.glob(".*.partial"), *(ws.archive / site_id).glob(".*.partial*")]:
        if not _writer_running(p):
            _discard([p])  # (on a read-only workspace, the write that follows names the problem)
            n += not p.exists()
    return n


def archive_observation(
    ws: Workspace,
    site: Site,
    scene: SceneRef,
    data: NDArray[np.floating],
    grid: Grid,
    band_names: Sequence[str],
    provenance: Mapping[str, Any],
    *,
    cloud_fraction: float | None = None,
    sidecars: Mapping[str, Path] | None = None,
    compress: str = "deflate",
    owner: str | None = None,
) -> Archived | None:
    """Write the COG (and sidecars) of an observation without touching the store.

    Returns the observation, its WGS84 footprint and the files written, or None when the
    site has no valid pixel in ``data``. The COG and sidecars are left at :func:`partial_path`
    of their final names until :func:`commit_archived` records them. Safe to run in a
    worker process, or on a Dask worker: ``owner`` (:func:`~sitewatch.files.partial_owner`) is then
    the command's that will commit them, by default this process.
    """
    data = no_data_as_nan(np.asarray(data))  # ±inf archived as NaN, whoever made the values
    if data.ndim == 2:
        data = data[None]
    if data.shape[1:] != grid.shape or data.shape[0] != len(band_names):
        raise InputError(f"{scene.id}: data shape {data.shape} does not fit grid {grid.shape} × {len(band_names)} bands")
    inside = site_mask(site, grid)
    valid = valid_pixels(data, inside)
    n_inside = int(inside.sum())
    valid_fraction = float(valid.sum()) / n_inside if n_inside else 0.0
    if valid_fraction == 0.0:
        return None
    folder = ws.archive / site.id
    name = _safe_name(scene.item_id)
    final = folder / f"{name}.tif"
    tmp = partial_path(final, owner)
    # (each partial name once: it holds a random part)
    sidecar_files = [(src, _sidecar_path(folder, name, k, src)) for k, src in (sidecars or {}).items()]
    sidecar_partials = [partial_path(dest, owner) for _, dest in sidecar_files]
    written = [tmp, *sidecar_partials]
    prov = dict(provenance) | {
        "sitewatch_version": __version__,
        "sensor": scene.sensor,
        "acquired": iso_utc(scene.acquired),
        "resolution_m": scene.resolution_m,
        "scene_id": scene.id,
        "simulated": scene.simulated,
        "bands": list(band_names),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with rasterio.open(
            tmp,
            "w",
            driver="COG",
            width=grid.width,
            height=grid.height,
            count=data.shape[0],
            dtype="float32",
            crs=grid.crs,
            transform=grid.affine,
            nodata=float("nan"),
            compress=compress,
            predictor=3 if compress in ("deflate", "zstd", "lzw") else None,
            blocksize=256,
        ) as dst:
            dst.write(data)
            for i, band in enumerate(band_names, start=1):
                dst.set_band_description(i, band)
            dst.update_tags(
                SITEWATCH_SCENE_ID=scene.id,
                SITEWATCH_SITE=site.id,
                SITEWATCH_SENSOR=scene.sensor,
                # The date alone when only the date is known, as read back by ingest and import (as date only)
                # and as gdalinfo shows it: not the 12:00 UTC assumed for it, which would pass for a time.
                SITEWATCH_ACQUIRED=scene.acquired.astimezone(UTC).strftime(
                    "%Y-%m-%d" if says_date_only(prov.get("acquired_from")) else "%Y-%m-%dT%H:%M:%SZ"
                ),
                SITEWATCH_SIMULATED=str(scene.simulated).lower(),
                SITEWATCH_VERSION=__version__,
                # Read back by ingest and import, as the acquisition is: the archive's sidecar of a Maxar or
                # Airbus file (NAME.metadata.XML) is not where their names are looked for.
                **({"SITEWATCH_PLATFORM": scene.platform} if scene.platform else {}),
            )
            scale = prov.get("scale_applied")
            if isinstance(scale, int | float) and not isinstance(scale, bool) and scale > 0:
                # What the values were multiplied by to become reflectance (1/255: an 8-bit display
                # rendering), so that detect-image on this COG judges its clouds as the pipeline does.
                dst.update_tags(SITEWATCH_SCALE_APPLIED=repr(float(scale)))
        digest = sha256_file(tmp)
        copied: dict[str, str] = {}
        moves: list[tuple[Path, Path]] = []
        for key, (src_path, dest), part in zip(sidecars or {}, sidecar_files, sidecar_partials, strict=True):
            # Beside its final name until the commit, as the COG: an interrupted copy never leaves a cut
            # sidecar where the one an earlier run recorded was, nor one that no observation names.
            shutil.copyfile(src_path, part)
            moves.append((part, dest))
            copied[key] = dest.relative_to(ws.root).as_posix()
        moves.append((tmp, final))
    except (OSError, RasterioError, CPLE_BaseError) as exc:
        _discard(written)
        if isinstance(exc, SitewatchError):
            raise
        # A full disk, a read-only or vanished workspace: GDAL's or the system's words, and the file.
        why = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise OutputError(f"{final}: cannot write it into the archive ({why})") from exc
    except BaseException:
        _discard(written)
        raise
    obs = Observation(
        id=f"{site.id}/{scene.item_id}",
        site_id=site.id,
        scene=scene,
        grid=grid,
        path=final.relative_to(ws.root).as_posix(),
        sha256=digest,
        valid_fraction=round(valid_fraction, 6),
        cloud_fraction=cloud_fraction,
        provenance=prov | copied,
    )
    footprint = reproject_geometry(_grid_box(grid), grid.crs, "EPSG:4326")
    return obs, footprint, tuple(moves)


def _discard(partials: Iterable[Path]) -> None:
    """Remove partial files after a failed write, as far as the file system lets (it may be read-only)."""
    for p in partials:
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass


def _sidecar_path(folder: Path, name: str, key: str, src_path: Path) -> Path:
    return folder / f"{name}.{key}{''.join(Path(src_path).suffixes[-1:]) or '.json'}"


def _grid_box(grid: Grid) -> Any:
    t = grid.affine
    x0, y0 = t @ (0, 0)
    x1, y1 = t @ (grid.width, grid.height)
    return box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _read_s1(product: S1Product, grid: Grid, out: NDArray[np.float32]) -> None:
    """Each polarisation of a Sentinel-1 GRD product as sigma0 on ``grid``, placed by its GCPs
    over the window that covers the grid, and calibrated before it is placed (as ``sitewatch fetch`` does GRD)."""
    from .fetch import read_window

    for k, (pol, band) in enumerate(product.bands.items()):
        try:
            out[k], _ = read_window(band.path, grid, convert=band.radiometry.convert, gcp_method="tps",
                                    resampling=band_resampling(pol, "sar"))  # fmt: skip
        except RasterioError as exc:
            raise ImageReadError(f"{product.path}: could not read its {pol} measurement ({exc})") from exc


def _window_over(src: Any, grid: Grid) -> Any:
    """The window of ``src`` that covers ``grid`` with a few pixels to spare, so that a site
    is cut from a 10,980-pixel Sentinel-2 band without decoding all of it."""
    from rasterio.windows import Window, from_bounds

    x0, y0, x1, y1 = transform_bounds(grid.crs, src.crs, *_grid_box(grid).bounds)
    pad = 3 * max(abs(src.transform.a), abs(grid.transform[0]))
    win = from_bounds(x0 - pad, y0 - pad, x1 + pad, y1 + pad, src.transform).round_offsets().round_lengths()
    try:
        return win.intersection(Window(0, 0, src.width, src.height))
    except Exception:  # rasterio's WindowError: no overlap, the whole band is read and found empty
        return None


def _big_file_window(src: Any, grid: Grid, path: Path | str) -> Any:
    """The window over the site of a file too big to read whole (see :data:`MAX_WHOLE_READ_PIXELS`)."""
    if src.width * src.height <= MAX_WHOLE_READ_PIXELS:
        return None
    try:
        window = _window_over(src, grid)
    except Exception:  # rasterio's WindowError: a rotated grid, which from_bounds cannot cut
        window = None
    if window is None:
        raise ImageReadError(
            f"{path}: {src.width} × {src.height} pixels, too many to read whole, and its part over the site "
            "could not be cut (a rotated grid?); cut it first (gdal_translate -projwin)"
        )
    return window


def _qa_pixel_as_scl(qa: Path, window: Any) -> NDArray[np.uint8]:
    """A Landsat QA_PIXEL band's window (None: all of it) in SCL's classes (:func:`qa_pixel_to_scl`)."""
    try:
        with rasterio.open(qa) as src:
            return qa_pixel_to_scl(src.read(1, window=window))
    except RasterioError as exc:
        raise ImageReadError(f"{qa}: could not read the QA_PIXEL band ({exc})") from exc


def band_resampling(band: str, sensor: str) -> Resampling:
    """Class maps (SCL) must not be interpolated, nor SAR: averaging neighbours smooths the speckle
    and the hull's peaks that the CFAR detector measures (OpenSARShip GRD chips half a pixel off the
    site grid: 3 ships of 4 found, 15-31 m short and half as wide, against detect-image's 4 on the
    chips themselves, which nearest-neighbour reproduces). Reflectances may be averaged. The same
    rule for GeoTIFFs, SAFE products and fetched assets, placed by transform or by GCPs."""
    return Resampling.nearest if band.upper() == "SCL" or sensor == "sar" else Resampling.bilinear


def ingest_file(
    ws: Workspace,
    store: Store,
    site: Site,
    path: Path,
    *,
    acquired: datetime | None = None,
    sensor: str | None = None,
    resolution_m: float | None = None,
    compress: str = "deflate",
    thermal_noise: ThermalNoise = "keep",
) -> Observation | None:
    """Cut one GeoTIFF to the site, archive it (a COG compressed with ``compress``, the
    ``cog_compress`` setting; a Sentinel-1 product's noise as ``thermal_noise``, the
    ``sar_thermal_noise`` setting, says) and record it. None when it misses the site."""
    scene, _ = read_scene_ref(path, acquired=acquired, sensor=sensor, thermal_noise=thermal_noise)
    content = SourceDigest(path)
    item = unique_item_id(store, site, path, scene, (), content=content)
    archived = archive_file(
        ws, site, path, acquired=acquired, sensor=sensor, resolution_m=resolution_m, compress=compress, item_id=item,
        thermal_noise=thermal_noise, source_sha256=content.sha256,
    )  # fmt: skip
    return _commit(ws, store, archived)


def _cut_to_grid(
    path: Path,
    scene: SceneRef,
    bands: Sequence[str],
    sources: Sequence[tuple[Path | str, int]],
    grid: Grid,
    product: S2Product | LandsatProduct | None,
    classes: Callable[[Any], NDArray[np.uint8]] | None = None,
    toa: PlanetTOA | None = None,
    given: tuple[float | None, float | None] | None = None,
) -> tuple[NDArray[np.float32], float, bool] | None:
    """Each band (``sources``: file and band number) reprojected onto ``grid``, NaN where no data,
    the factor that turned its values into reflectance and whether DN 0 was read as no data (a
    black collar: :mod:`sitewatch.zero_collar`); None when the files miss the grid.

    ``product``: the Sentinel-2 SAFE or Landsat Level-2 product the files belong to, whose own
    offset and quantification apply and of whose bands only the site's window is read.
    ``classes``: the reader of a cloud mask on the first file's grid (a Planet UDM2, a Landsat
    QA_PIXEL) in SCL's classes, given that grid's window (None: all of it); it is the last band
    (``bands`` ends with ``SCL``, which ``sources`` does not hold).
    ``toa``: a Planet radiance file's reflectance coefficients, each band's own factor (the factor
    returned is then 1.0).
    ``given``: the user's (divisor, offset) for the values (``--dn-scale``, ``--dn-offset``), either
    None: the offset is taken off each value (after DN 0 is read as no data) and the divisor, when
    not given, is read from the values' range as without them.
    """
    out = np.full((len(bands), grid.height, grid.width), np.nan, dtype=np.float32)
    if classes is not None:
        bands = bands[:-1]  # the last, SCL, is read by ``classes`` below
    scale = 1.0
    zero = False
    divisor, offset = given or (None, None)
    try:
        with ExitStack() as stack:
            opened = {f: stack.enter_context(rasterio.open(f)) for f, _ in sources}
            for f, src in opened.items():
                check_not_linking(src.driver, f)
                if src.crs is None:
                    raise ImageReadError(f"{f}: has no CRS; sitewatch cannot place it on the ground")
            first = opened[sources[0][0]]
            for f, src in opened.items():
                if not box(*transform_bounds(src.crs, grid.crs, *src.bounds)).intersects(_grid_box(grid)):
                    if src is first:
                        return None
                    # One band file of another place: name it, not the first file, which does cover the site.
                    raise ImageReadError(f"{f}: does not cover the site, though {sources[0][0]} does")
            big = product is None and any(s.width * s.height > MAX_WHOLE_READ_PIXELS for s in opened.values())
            if product is not None:
                # The product says how its values are scaled: (DN + BOA_ADD_OFFSET) / QUANTIFICATION_VALUE.
                scale = 1 / product.quantification
            elif toa is not None:
                pass  # each band by its own coefficient, below: radiance, whose range says nothing of its scale
            elif divisor is not None:
                scale = 1 / divisor
            elif scene.sensor == "optical" and first.dtypes[0] in ("uint8", "uint16", "int16"):
                # Integer reflectance: 8-bit RGB products are 0-255; surface reflectance products
                # (Sentinel-2 L2A, PlanetScope SR) are scaled by 10,000, full-range 16-bit exports
                # by 65,535 (told apart by their range, on a decimated read; of the site's window in a big file).
                sample_window = _big_file_window(first, grid, path) if big else None
                height, width = (first.height, first.width) if sample_window is None else (sample_window.height, sample_window.width)
                step = max(1, int((width * height / 1_000_000) ** 0.5))
                shape = (max(1, int(height) // step), max(1, int(width) // step))
                samples = [
                    opened[f].read(i, out_shape=shape, window=sample_window)
                    for (f, i), b in zip(sources, bands, strict=True) if b.upper() != "SCL"
                ]  # fmt: skip
                from .detect.optical_reflectance import infer_dn_scale

                scale = 1 / (infer_dn_scale(samples) or 1.0)
            windows = [
                _window_over(opened[f], grid) if product is not None else _big_file_window(opened[f], grid, path) if big else None
                for f, _ in sources
            ]
            values = [(s, w) for s, w, b in zip(sources, windows, bands, strict=True) if b.upper() != "SCL"]
            zero = product is None and bool(values) and all(zero_is_no_data(opened[f], [i]) for (f, i), _ in values)
            # Optical: DN 0 in every band, on the files' own grid (a bilinear kernel must not blend the collar in).
            collar = _zero_in_every_band(opened, values) if zero and scene.sensor != "sar" else None
            # An alpha band (a Visual product's, named by its provider's layout or its colour) is 0 where nothing was
            # imaged; GDAL's mask knows it only from the colour interpretation, so it is read here for both.
            transparent = None
            if "alpha" in bands and len({f for f, _ in sources}) == 1:
                k = list(bands).index("alpha")
                transparent = opened[sources[k][0]].read(sources[k][1], window=windows[k]) == 0
            if zero and scene.sensor != "sar" and collar is None:
                zero = False  # band files on different grids: no pixel-wise rule across them
            for k, ((f, i), band) in enumerate(zip(sources, bands, strict=True)):
                src = opened[f]
                window = windows[k]
                try:
                    src_arr = no_data_as_nan(src.read(i, out_dtype="float32", masked=True, window=window))
                except RasterioError as exc:
                    # Name the band: GDAL's own message ("Read failed") does not say which file is damaged.
                    raise ImageReadError(f"{path}: could not read its {band} band ({exc})") from exc
                if zero and band.upper() != "SCL":
                    if collar is None:
                        src_arr[src_arr == 0] = np.nan  # SAR: DN 0 is no data, as in a GRD product
                    else:
                        src_arr[collar] = np.nan
                if transparent is not None and band.upper() != "SCL":
                    src_arr[transparent] = np.nan
                if product is not None and band.upper() != "SCL":
                    src_arr[src_arr == 0] = np.nan  # DN 0 is the product's no-data value
                    src_arr += np.float32(product.offset)
                if offset and band.upper() != "SCL":
                    src_arr -= np.float32(offset)
                if band.upper() != "SCL":
                    src_arr = src_arr * np.float32(scale if toa is None else toa.coefficients[i - 1])
                _warp_to_grid(src_arr, out[k], src, window, grid, band_resampling(band, scene.sensor))
            if classes is not None:
                window = windows[0]
                _warp_to_grid(
                    classes(window).astype(np.float32), out[-1], first, window, grid, band_resampling("SCL", scene.sensor)
                )
    except RasterioError as exc:
        raise ImageReadError(f"{path}: could not be read ({exc})") from exc
    return out, scale, zero


def _zero_in_every_band(opened: Mapping[Path | str, Any], values: Sequence[tuple[tuple[Path | str, int], Any]]) -> NDArray[np.bool_] | None:
    """Pixels at DN 0 in every band of ``values`` ((file, band), window), read as stored; None
    when the bands are not on one grid (band files of different sizes or places)."""
    grids = {
        (opened[f].width, opened[f].height, tuple(opened[f].transform), None if w is None else (w.col_off, w.row_off, w.width, w.height))
        for (f, _), w in values
    }
    if len(grids) != 1:
        return None
    return all_bands_zero(opened[f].read(i, window=w) for (f, i), w in values)


def archive_file(
    ws: Workspace,
    site: Site,
    path: Path,
    *,
    acquired: datetime | None = None,
    sensor: str | None = None,
    resolution_m: float | None = None,
    compress: str = "deflate",
    item_id: str | None = None,
    band_files: Mapping[str, Path] | None = None,
    thermal_noise: ThermalNoise = "keep",
    source_sha256: str | None = None,
    owner: str | None = None,
    dn_scale: float | None = None,
    dn_offset: float | None = None,
) -> Archived | None:
    """Cut one image to the site and write its COG, without touching the store.

    The image is a GeoTIFF, a Sentinel-2 L2A or Sentinel-1 GRD SAFE product (read as
    reflectance or sigma0, :mod:`sitewatch.sources.safe`; ``thermal_noise`` says whether a
    Sentinel-1 product's noise LUT is subtracted) or, with ``band_files``, a set of
    single-band files. ``band_files`` (band name → single-band file, e.g. Sentinel-2 bands delivered
    one file each) makes one observation of several files; ``path`` is then the
    one its acquisition time and id are read from. ``item_id`` overrides the id
    the file would get (see :func:`ingest_paths`). ``source_sha256`` is ``path``'s sha256 when
    the caller has read it already (:class:`SourceDigest`); it is read here otherwise. ``owner`` is
    that of the partial files written (:func:`archive_observation`). ``dn_scale`` and ``dn_offset`` (an
    optical file, or band files, that is no product): reflectance = (value - ``dn_offset``) / ``dn_scale``,
    instead of the divisor read from the values' range (:func:`_check_given_scaling` says which files).
    """
    path = Path(path)
    s1 = open_s1_grd(path, thermal_noise=thermal_noise) if not band_files and is_s1_product(path) else None
    product = open_s2_l2a(path) if not band_files and s1 is None and is_safe_product(path) else None
    landsat = open_landsat_l2(path) if not band_files and is_landsat_mtl(path) else None
    if band_files:
        sensor = sensor or band_files_sensor(band_files)
    elif s1 is None and product is None and landsat is None:
        _refuse_bands_of_a_product({"": path})
    scene, bands = read_scene_ref(path, acquired=acquired, sensor=sensor, name_bands=not band_files, thermal_noise=thermal_noise)
    sources: list[tuple[Path | str, int]] = [(path, i) for i in range(1, len(bands) + 1)]
    if band_files:
        bands = list(band_files)
        sources = [(Path(f), 1) for f in band_files.values()]
    if product is not None:
        sources = list(product.bands.values())
    if landsat is not None:
        sources = list(landsat.bands.values())
    if item_id:
        scene = replace(scene, item_id=item_id)
    elif band_files:
        scene = replace(scene, item_id=band_files_name(band_files))
    # A Planet scene's UDM2 is its cloud mask, archived as the band SCL in SCL's classes (as a
    # Sentinel-2 SCL is): detect then reads it instead of running the spectral cloud test.
    plain = not band_files and s1 is None and product is None and landsat is None
    # A Planet radiance file (…_3B_AnalyticMS_clip.tif): TOA reflectance by its metadata XML's coefficients.
    toa = planet_toa(path, provider_product(path, len(bands)), len(bands)) if plain and scene.sensor == "optical" else None
    udm2 = udm2_sibling(path) if plain and scene.sensor == "optical" else None
    classes: Callable[[Any], NDArray[np.uint8]] | None = None
    if udm2 is not None and "SCL" not in bands:
        check_udm2(udm2, path)
        bands = [*bands, "SCL"]
        classes = partial(read_udm2_as_scl, udm2)
    else:
        udm2 = None
    if landsat is not None and landsat.qa is not None:
        bands = [*bands, "SCL"]
        classes = partial(_qa_pixel_as_scl, landsat.qa)
    given = (dn_scale, dn_offset) != (None, None)
    if given:
        _check_given_scaling(path, scene.sensor, "a Sentinel-1 product" if s1 else "a Sentinel-2 product" if product else
                             "a Landsat product" if landsat else "a Planet radiance file" if toa else None)  # fmt: skip
    grid = site_grid(site, resolution_m or scene.resolution_m)
    if s1 is not None:
        out = np.full((len(bands), grid.height, grid.width), np.nan, dtype=np.float32)
        _read_s1(s1, grid, out)  # as sigma0, placed by its GCPs
        scale, zero = 1.0, False
    else:
        cut = _cut_to_grid(path, scene, bands, sources, grid, product or landsat, classes, toa, (dn_scale, dn_offset) if given else None)
        if cut is None:
            return None
        out, scale, zero = cut
    sidecars = {}
    truth = path.with_name(path.stem + ".truth.geojson")
    if truth.exists():
        sidecars["truth"] = truth
    metadata = metadata_sidecars(path) if product is None and s1 is None and landsat is None else []  # a product's own metadata is recorded below
    if metadata:
        sidecars["metadata"] = metadata[0]  # the provider's metadata is archived next to the COG
    provenance: dict[str, Any] = {
        "source": "sentinel-1 safe" if s1 else "landsat c2 l2" if landsat else "file" if product is None else "sentinel-2 safe",
        "source_path": str(path.resolve()),
        "source_sha256": source_sha256 or sha256_file(path),
        "ingested_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scale_applied": scale,
        "acquired_from": scene.properties.get("acquired_from", ""),
        "tags": {k: v for k, v in scene.properties.items() if k != "acquired_from"},
        "metadata_files": [str(m.resolve()) for m in metadata],
    }
    if path.is_file() and (size := _size(path)) is not None:
        # so that a later run rules out a file of another size as a copy of this one without hashing it
        provenance["source_size"] = size
    if zero:
        provenance["no_data"] = ZERO_NO_DATA_NOTE
    if given:
        # As a product's own: reflectance = (DN + offset_applied) x scale_applied.
        provenance["offset_applied"] = -(dn_offset or 0.0)
        provenance["scaling_from"] = " and ".join(o for o, v in (("--dn-scale", dn_scale), ("--dn-offset", dn_offset)) if v is not None)
    if toa is not None:
        provenance["scale_applied"] = dict(zip(bands, toa.coefficients, strict=False))
        provenance["planet"] = toa.provenance([b for b in bands if b != "SCL"])
    if band_files:
        provenance["band_files"] = {
            b: {
                "path": str(Path(f).resolve()),
                # the first band file is the source, hashed just above
                "sha256": provenance["source_sha256"] if Path(f).resolve() == path.resolve() else sha256_file(Path(f)),
            }
            for b, f in band_files.items()
        }
    if product is not None:
        provenance["safe"] = product.provenance()
        provenance["offset_applied"] = product.offset
    if s1 is not None:
        provenance["safe"] = s1.provenance()
    if udm2 is not None:
        provenance["cloud_mask"] = {"from": "udm2", "path": str(udm2.resolve()), "sha256": sha256_file(udm2)}
        provenance["cloud_rule"] = UDM2_CLOUD_RULE
    if landsat is not None:
        provenance["landsat"] = landsat.provenance() | {"band_sha256": {b: sha256_file(f) for b, (f, _) in landsat.bands.items()}}
        provenance["offset_applied"] = landsat.offset
        if landsat.qa is not None:
            provenance["cloud_mask"] = {"from": "qa_pixel", "path": str(landsat.qa.resolve()), "sha256": sha256_file(landsat.qa)}
            provenance["cloud_rule"] = QA_PIXEL_CLOUD_RULE
    return archive_observation(ws, site, scene, out, grid, bands, provenance, sidecars=sidecars, compress=compress, owner=owner)


@dataclass(frozen=True)
class FileJob:
    """One image to cut to one site in a worker (:func:`archive_job`): plain values, picklable."""

    ws: Workspace
    site: Site
    path: Path
    acquired: datetime | None
    sensor: str | None
    compress: str = "deflate"
    item_id: str | None = None
    band_files: Mapping[str, Path] | None = None
    thermal_noise: ThermalNoise = "keep"
    source_sha256: str | None = None
    """The file's sha256 when the parent read it to choose the id (else the worker reads it)."""
    owner: str = field(default_factory=partial_owner)
    """The command that made the job, which commits or removes what it writes (:func:`~sitewatch.files.partial_path`)."""
    dn_scale: float | None = None
    dn_offset: float | None = None
    """The user's scaling of an optical file's values (``--dn-scale``, ``--dn-offset``; :func:`archive_file`)."""

    def absolute(self) -> FileJob:
        """The job as a Dask worker started in another folder, on another machine, needs it: its
        paths absolute, and the workspace without its store setting (a worker never opens the
        store, and a URL given with ``--store`` may hold a password)."""
        return replace(
            self, ws=Workspace(self.ws.root.resolve()), path=self.path.resolve(),
            band_files={b: Path(f).resolve() for b, f in self.band_files.items()} if self.band_files else None,
        )  # fmt: skip


def archive_job(job: FileJob) -> Archived | None | str:
    """Worker side of ingest and import: the archived observation, None, or the error message naming the file."""
    missing = next((f for f in (job.path, *(job.band_files or {}).values()) if not Path(f).exists()), None)
    if missing is not None:
        # The command found it (click checks that the paths exist): a Dask worker on another machine, or in
        # another mount, does not see it there; "not a readable raster (No such file)" blamed the file.
        return (
            f"{missing}: not found where the job ran ({socket.gethostname()}), though the command sees it: every Dask "
            "worker must see the input files at the paths the command's machine sees them at (a shared file system "
            "mounted there), or run without --scheduler"
        )
    try:
        with warnings.catch_warnings():
            # ingest_paths said it when it read the product's scene (read_scene_ref); once is enough
            warnings.simplefilter("ignore", NoiseNotRemovedWarning)
            warnings.simplefilter("ignore", Level1CWarning)
            return archive_file(
                job.ws, job.site, job.path, acquired=job.acquired, sensor=job.sensor, compress=job.compress,
                item_id=job.item_id, band_files=job.band_files, thermal_noise=job.thermal_noise,
                source_sha256=job.source_sha256, owner=job.owner, dn_scale=job.dn_scale, dn_offset=job.dn_offset,
            )  # fmt: skip
    except (ImageReadError, InputError) as exc:
        return str(exc)


def map_file_jobs(
    ws: Workspace,
    jobs: Sequence[FileJob],
    *,
    workers: int = 0,
    scheduler: str = "",
    describe: Callable[[FileJob], str] = lambda job: str(job.path),
) -> Generator[Archived | None | str, None, None]:
    """:func:`archive_job` of each job, in order, in worker processes or on a Dask cluster (``scheduler``);
    ``describe`` names a job in the error of a worker that died running it.

    On Dask the jobs go with absolute paths (:meth:`FileJob.absolute`), each worker is first checked to
    see the workspace's archive at the path this machine sees it at, and a run that stops waits for the
    jobs running on workers (:func:`~sitewatch.run.map_jobs`), so that the caller's
    :func:`remove_partials` finds every file they wrote.
    """
    if scheduler:
        jobs = [job.absolute() for job in jobs]
    return map_jobs(
        archive_job, jobs, workers=workers, scheduler=scheduler, describe=describe, shared_folder=ws.archive.resolve()
    )


def _check_given_scaling(path: Path, sensor: str, product: str | None) -> None:
    """Refuse ``--dn-scale``/``--dn-offset`` for a file they cannot apply to: SAR values are not
    reflectance, and a product (``product`` names its kind) is read with its own scaling."""
    if sensor != "optical":
        raise InputError(f"{path}: --dn-scale and --dn-offset are for optical images (reflectance); this one is {sensor}")
    if product is not None:
        raise InputError(f"{path}: is {product}, read with its own scale and offset; --dn-scale and --dn-offset are for other files")


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


def unique_item_id(
    store: Store, site: Site, path: Path, scene: SceneRef, taken: Collection[str], *, copies: bool = True,
    band_paths: Collection[str] = (), content: SourceDigest | None = None,
) -> str:
    """The id a file's observation gets in ``site``: its name, unless another image holds that.

    Files are named after themselves (``harbour_20241017.tif`` → ``harbour_20241017``). When
    that observation already comes from another file, or another file of this run
    (``taken``) claims it — Sentinel Hub names every download ``response.tiff`` — the
    acquisition time is added (the date alone for an image known by its date), then a digest of the path. The same file (by path, or by
    content when it has moved) always lands on the same id again, so a rerun replaces
    instead of adding; with ``copies``, so does a byte-identical copy under another name, or
    with another acquisition time (``--acquired``, a date in its new name): a file that is not
    an observation of the same time and sensor by its path is matched by content against the
    site's observations of its sensor (a SAFE product is not). The file is hashed only when a
    stored source could be its copy: one whose size the provenance records as this file's
    (``source_size``), or does not record (an observation ingested before it was recorded). ``content`` is the file's
    :class:`SourceDigest`, shared by the sites of one import and passed on to the worker, so
    that a file is hashed at most once in a run. Bands given one file each
    (``band_paths``, resolved) are the same image as an observation made of any of those files,
    whatever the order or the set of bands given.
    """
    base = scene.item_id
    source = str(Path(path).resolve())
    # An image known by its date alone gets the date: its assumed noon in the id (`…_20161130T120000`)
    # read as the time it was taken. Ids so made before keep going to their files (`legacy` below).
    timed = scene.acquired.strftime("%Y%m%dT%H%M%S")
    stamp = scene.acquired.strftime("%Y%m%d") if says_date_only(scene.properties.get("acquired_from")) else timed
    digest = hashlib.sha256(source.encode()).hexdigest()[:8]
    if content is None:
        content = SourceDigest(Path(path))

    def same_file(prov: Mapping[str, Any]) -> bool:
        if band_paths and isinstance(prov.get("band_files"), dict):
            return bool({str(b.get("path")) for b in prov["band_files"].values()} & set(band_paths))
        if prov.get("source_path") in (None, source):
            return True
        if isinstance(prov.get("safe"), dict) and is_safe_product(path):
            # A SAFE product is the same image as its folder, its zip or a copy of either.
            return bool(prov["safe"].get("product") == safe_product_name(path))
        return content.same_as(prov)

    if copies:
        # Acquired within the same second: stored times are ISO text (the GeoPackage) or timestamptz (PostGIS),
        # and both compare with these bounds in the stored form.
        second = scene.acquired.astimezone(UTC).replace(microsecond=0)
        rows = store.execute(
            "SELECT observation_id, scene_id, provenance FROM observations WHERE site_id = ? AND sensor = ? "
            "AND acquired >= ? AND acquired < ? ORDER BY observation_id",
            (site.id, scene.sensor, stored_time(second), stored_time(second + timedelta(seconds=1))),
        )
        for row in rows:
            prov = json.loads(row["provenance"])
            item = str(row["observation_id"]).split("/", 1)[1]
            if (
                item not in taken and prov.get("source_path") and prov.get("source_sha256")
                and "band_files" not in prov and same_file(prov)
            ):  # fmt: skip
                return item  # this file's observation, or that of a copy of it under another name
            if item not in taken and scene.properties.get("SITEWATCH_SCENE_ID") and row["scene_id"] == scene.id:
                # An archived COG (this workspace's or a colleague's) of a scene the site holds, taken at that
                # second: that image cut to the site again, its observation again, not a second look that
                # would count each of its vessels twice.
                return item
        if not is_safe_product(path):
            # A copy imported with another time (--acquired, or a date in its new name) is still that image:
            # kept as a second observation, one image made two looks, on two dates of the timeline.
            # Only sources of this file's size (or of no recorded size) can be it: the file is hashed
            # when there is one. (The provenance is read here, not with the SQL dialects' JSON functions.)
            rows = store.execute(
                "SELECT observation_id, provenance FROM observations WHERE site_id = ? AND sensor = ? ORDER BY observation_id",
                (site.id, scene.sensor),
            )
            for row in rows:
                prov = json.loads(row["provenance"])
                if prov.get("source_sha256") is None:
                    continue
                if content.size is not None and prov.get("source_size") not in (None, content.size):
                    continue
                item = str(row["observation_id"]).split("/", 1)[1]
                if item not in taken and "band_files" not in prov and content.same_as(prov):
                    return item
    if stamp != timed:
        for item in (f"{base}_{timed}", f"{base}_{timed}_{digest}"):
            legacy = store.execute("SELECT provenance FROM observations WHERE observation_id = ?", (f"{site.id}/{item}",))
            if item not in taken and legacy and same_file(json.loads(legacy[0]["provenance"])):
                return item
    for item in (base, f"{base}_{stamp}", f"{base}_{stamp}_{digest}"):
        if item in taken:
            continue
        held = store.execute(
            "SELECT provenance FROM observations WHERE observation_id = ?", (f"{site.id}/{item}",)
        )
        # The scene id (provider:collection:item) is one row of the workspace's scenes: another
        # site's observation of another image under that name (EO Browser names a day's exports
        # alike in every port) would have its scene, resolution and file taken over by this one.
        elsewhere = store.execute(
            "SELECT provenance FROM observations WHERE scene_id = ? AND site_id != ?",
            (replace(scene, item_id=item).id, site.id),
        )
        if any(not same_file(json.loads(row["provenance"])) for row in elsewhere):
            continue
        if not held or same_file(json.loads(held[0]["provenance"])):
            return item
    return f"{base}_{stamp}_{digest}"


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """The images PATHS name: GeoTIFFs, and SAFE products (folders and zips) taken whole; a
    folder is searched for both, without looking inside the products it holds."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir() and is_safe_product(p):
            out.append(p)
        elif p.is_dir():
            # SAFE products in the folder go in whole; the files inside them are theirs, not scenes.
            # So do Landsat Level-2 products, by their MTL files, and their band files are theirs.
            products = safe_products_in(p)
            landsat = set(landsat_products_in(p))
            # A Level-1 product is named once, by its MTL, not once a band file.
            level1 = landsat_level1_products_in(p)
            of_level1 = {(m.parent, m.name.split("_MTL.")[0]) for m in level1}
            out += sorted(
                q for q in p.rglob("*")
                if q.suffix.lower() in RASTER_SUFFIXES and not q.name.startswith(".")
                and not any(d in products for d in q.parents) and landsat_product_of(q) not in landsat
                and not any(q.parent == d and q.name.startswith(f"{pid}_") for d, pid in of_level1)
            )  # fmt: skip
            out += products + sorted(landsat) + level1
            # A product still in USGS's .tar is named (not "no GeoTIFF found"), unless it is unpacked there too.
            unpacked = {landsat_product_id(m) for m in landsat}
            out += sorted(
                q for q in p.rglob("*") if landsat_tar_refusal(q) and q.is_file() and not q.name.startswith(".")
                and re.sub(r"\.(tar|tar\.gz|tgz)$", "", q.name, flags=re.I) not in unpacked
                and q.name.upper().startswith(("LC0", "LE0", "LT0", "LO0"))
            )  # fmt: skip
        else:
            out.append(product_root(p))  # a product's MTD_MSIL2A.xml or manifest.safe: the product
    return out


def same_images(
    files: list[Path], digests: dict[Path, str] | None = None
) -> tuple[list[Path], list[tuple[Path, Path]]]:
    """``files`` with every repeat of an image left out, and (repeat, first) for each one left out.

    The same file given twice (a folder and a file in it) or byte-identical copies in two
    folders are one image: one observation, as a moved file is on a rerun. Only files that
    share a size are hashed; ``digests`` (resolved path → sha256), when given, receives their
    digests, so that the run does not read them again.
    """
    sizes = [_size(f) for f in files]
    count = Counter(sizes)
    if digests is None:
        digests = {}  # resolved path -> sha256: a path given twice is hashed once
    first: dict[str, Path] = {}
    kept: list[Path] = []
    repeats: list[tuple[Path, Path]] = []
    for f, n in zip(files, sizes, strict=True):
        if f.is_dir() or f.suffix.lower() == ".zip":
            # SAFE products (folder or zip) are one image by their product name; one that is not
            # a product is named by its job.
            try:
                key = f"safe:{safe_product_name(f)}"
            except (InputError, ImageReadError):  # a damaged zip, say: named by its job
                kept.append(f)
                continue
            if key in first:
                repeats.append((f, first[key]))
            else:
                first[key] = f
                kept.append(f)
            continue
        if n is None or count[n] < 2:
            kept.append(f)
            continue
        real = f.resolve()
        try:
            if real not in digests:
                digests[real] = sha256_file(f)
        except OSError:
            kept.append(f)
            continue
        digest = digests[real]
        if digest in first:
            repeats.append((f, first[digest]))
        else:
            first[digest] = f
            kept.append(f)
    return kept, repeats


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:  # a missing file is named by its job
        return None


def ingest_paths(
    ws: Workspace,
    store: Store,
    site: Site,
    paths: Iterable[Path],
    *,
    acquired: datetime | None = None,
    sensor: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int = 0,
    scheduler: str = "",
    compress: str = "deflate",
    band_files: Mapping[str, Path] | None = None,
    thermal_noise: ThermalNoise = "keep",
    dn_scale: float | None = None,
    dn_offset: float | None = None,
) -> IngestReport:
    """Ingest files and folders of GeoTIFFs into ``site``; a bad file is skipped and named.

    ``thermal_noise`` (the ``sar_thermal_noise`` setting) says whether a Sentinel-1 GRD
    product's noise LUT is subtracted. Files are cut and written in parallel (``workers``, 0 = one per core),
    or on the Dask cluster whose scheduler is at ``scheduler`` (:func:`map_file_jobs`); the store is written
    here, one observation per transaction, in file order.
    Each file's observation id comes from :func:`unique_item_id`; a file that is the same
    image as an earlier one of the run goes in once (``IngestReport.duplicates``). With
    ``band_files`` (band name → single-band file) those files make one
    observation and ``paths`` is ignored. ``dn_scale`` and ``dn_offset`` scale an optical file's
    values to reflectance, (value - offset) / scale, instead of the scale read from their range
    (a file they cannot apply to, SAR or a product, is skipped and named).
    """
    started = now_utc()
    # A Planet UDM2 goes in with its image, as its cloud mask: set apart before repeats are looked for,
    # so that two scenes' masks alike byte for byte are not one "image".
    files, masks = udm2_apart(expand_paths(paths))
    digests: dict[Path, str] = {}
    files, repeats = same_images(files, digests)
    if band_files:
        # In one order whatever the order of the flags, so that a rerun reads the same first file.
        band_files = dict(sorted(band_files.items(), key=lambda kv: _BAND_ORDER.get(kv[0].upper(), len(_BAND_ORDER))))
        _refuse_bands_of_a_product(band_files)
        _check_one_date(band_files)
        files = [next(iter(band_files.values()))]
    remove_partials(ws, site.id)
    done: list[Observation] = []
    sources: list[str] = []
    missed: list[str] = []
    skipped: list[tuple[str, str]] = [(str(f), why) for f, why in masks] if not band_files else []
    jobs: list[FileJob] = []
    taken: set[str] = set()
    for f in files:
        content = SourceDigest(f, digests.get(f.resolve()))
        try:
            scene, _ = read_scene_ref(
                f, acquired=acquired, sensor=sensor or (band_files_sensor(band_files) if band_files else None),
                name_bands=not band_files, thermal_noise=thermal_noise,
            )  # fmt: skip
        except (ImageReadError, InputError):
            item = None  # the job names the file and the reason
        else:
            if band_files:
                scene = replace(scene, item_id=band_files_name(band_files))
            item = unique_item_id(
                store, site, f, scene, taken, copies=not band_files,
                band_paths={str(Path(b).resolve()) for b in (band_files or {}).values()}, content=content,
            )  # fmt: skip
            taken.add(item)
        jobs.append(FileJob(
            ws, site, f, acquired, sensor, compress, item, band_files, thermal_noise, content.sha256, dn_scale=dn_scale, dn_offset=dn_offset,
        ))  # fmt: skip
    results = map_file_jobs(ws, jobs, workers=workers, scheduler=scheduler)
    try:
        for i, (f, result) in enumerate(zip(files, results, strict=True)):
            if isinstance(result, str):
                warnings.warn(result, SkippedInputWarning, stacklevel=2)
                skipped.append((str(f), result))
            elif result is None:
                skipped.append((str(f), f"{f}: no valid pixel over site {site.id!r}"))
                missed.append(str(f))
            else:
                commit_archived(ws, store, *result)
                done.append(result[0])
                sources.append(str(f))
            if progress:
                progress(i + 1, len(files), f.name)
    except BaseException:
        # Ctrl-C: the workers are ended first, then the COGs they wrote that were not committed go.
        results.close()
        remove_partials(ws, site.id)
        raise
    # Again at the end: the workers of a run killed just before this one started may have
    # been finishing a file then (they end within a second of their parent).
    remove_partials(ws, site.id)
    if not files and not skipped:
        given = ", ".join(str(p) for p in paths)
        skipped.append((given, f"no GeoTIFF files or SAFE products found in {given}"))
    store.record_run(
        "ingest",
        site.id,
        {"paths": [str(p) for p in paths], "sensor": sensor}
        | ({"band_files": {b: str(f) for b, f in band_files.items()}} if band_files else {}),
        {"observations": len(done), "skipped": len(skipped), "duplicates": len(repeats)},
        started=started,
    )
    return IngestReport(
        tuple(done), tuple(skipped), tuple((str(f), str(g)) for f, g in repeats), tuple(sources), tuple(missed)
    )
