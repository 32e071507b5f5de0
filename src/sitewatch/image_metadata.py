"""What a file's metadata says of it: the sidecar files delivered with it (:func:`metadata_sidecars`)
and its acquisition time, read from its tags, those sidecars (:func:`acquired_from_xml` for a
provider's XML) or its name, the first that gives one saying it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from .errors import InputError
from .files import is_file
from .model import DATE_ONLY_NOTE, NoonOfDate, is_date_only, utc
from .sources.planet import planet_scene_id
from .sources.providers import airbus_dim_path, dimap_imaging_time, maxar_product_path
from .untrusted import parse_xml

__all__ = ["metadata_sidecars", "acquired_from_xml"]

# Element names (namespace ignored) holding the acquisition time in providers' XML metadata:
# Planet (ps:acquisitionDateTime, gml:beginPosition), Maxar/DigitalGlobe (FIRSTLINETIME,
# EARLIESTACQTIME). Airbus DIMAP splits it in two (IMAGING_DATE + IMAGING_TIME), read by
# providers.dimap_imaging_time from a Dimap_Document alone.
_XML_TIME_TAGS = (
    "acquisitionDateTime", "acquired", "FIRSTLINETIME", "firstLineTime", "EARLIESTACQTIME",
    "beginPosition", "acquisitionDate", "DATETIME",
)  # fmt: skip


def metadata_sidecars(path: Path) -> list[Path]:
    """Metadata files delivered next to a GeoTIFF: JSON, XML, Maxar ``.IMD``, Planet ``*_metadata.*``.

    A GeoTIFF given as a symlink (to a delivery kept on another disk) with none beside the link has those
    beside the file it leads to: the delivery's folder, where the provider put them."""
    found = _metadata_beside(Path(path))
    if not found and Path(path).is_symlink():
        found = _metadata_beside(Path(os.path.realpath(path)))
    return found


def _metadata_beside(path: Path) -> list[Path]:
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
        if is_file(n) and n != path and n not in seen:
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
        text = Path(path).read_text(encoding="utf-8", errors="replace")
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

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MAXAR_NAME_TIME = re.compile(
    r"(?<![A-Za-z0-9])(\d{2})(" + "|".join(_MONTHS) + r")(\d{2})(\d{2})(\d{2})(\d{2})-[MPS](?:1B|2A|3D|3X)S[-_]", re.I
)
"""A Maxar product's name: the acquisition's UTC date and time (two-digit year, month's abbreviation) before its product code."""

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
                meta = json.loads(sidecar.read_text(encoding="utf-8"))
            except (ValueError, RecursionError):  # not JSON, not UTF-8, or a number of more than 4300 digits
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
    # Maxar's names begin with the pass's UTC date and time, YYMMMDDhhmmss, before the product code: 24OCT19011107-M2AS-…,
    # a tile's 24OCT19011107-M2AS_R1C1-… (Polar Geospatial Center's names put the same time in full beside it,
    # WV02_20130426224306_…_13APR26224306-M1BS-…). Without it a tile without its .IMD gave no time, or its order number's digits one.
    maxar = _MAXAR_NAME_TIME.search(path.name)
    if maxar is not None:
        yy, mon, dd, hh, mi, ss = maxar.groups()
        try:
            when = datetime(
                (1900 if int(yy) >= 90 else 2000) + int(yy), _MONTHS.index(mon.upper()) + 1, int(dd), int(hh), int(mi), int(ss),
                tzinfo=UTC,
            )  # fmt: skip
        except ValueError:
            when = None
        if when is not None and when <= datetime.now(UTC) + timedelta(days=1):
            yield when, "file name (Maxar's acquisition time)"
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
