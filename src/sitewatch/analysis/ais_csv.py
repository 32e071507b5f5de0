"""Reading AIS position reports from CSV files as users get them.

Four column sets are told apart by the header (names compared by their letters and digits alone,
without case: ``# Timestamp``, ``speed_knots`` and ``Time (UTC)`` are ``timestamp``, ``speedknots`` and
``timeutc``):

- **marinecadastre**: NOAA / BOEM MarineCadastre.gov daily AIS files (``AIS_2023_01_01.csv``):
  ``MMSI, BaseDateTime, LAT, LON, SOG, COG, Heading, VesselName, IMO, CallSign, VesselType,
  Status, Length, Width, Draft, Cargo, TransceiverClass``. ``BaseDateTime`` is ISO 8601 without a
  zone (``2023-01-01T00:00:06``), UTC; ``Length`` and ``Width`` in metres.
- **dma**: the Danish Maritime Authority's daily AIS CSV (``aisdk-2024-10-17.csv``):
  ``# Timestamp`` (``17/10/2024 00:00:00``, day first, UTC), ``Type of mobile, MMSI, Latitude,
  Longitude, Navigational status, ROT, SOG, COG, Heading, IMO, Callsign, Name, Ship type,
  Cargo type, Width, Length, Type of position fixing device, Draught, Destination, ETA,
  Data source type, A, B, C, D``; ``Width`` and ``Length`` in metres.
- **marinetraffic**: MarineTraffic's vessel-position exports (its API's CSV): ``MMSI, IMO, SHIP_ID, LAT, LON,
  SPEED, HEADING, COURSE, STATUS, TIMESTAMP, DSRC, UTC_SECONDS`` and, in its extended form, ``SHIPNAME``,
  ``LENGTH``, ``WIDTH``…; told by ``SHIP_ID`` or ``DSRC``. ``SPEED`` is in tenths of a knot (``123``: 12.3 kn;
  ``1023``, AIS's 102.3, unknown), a whole number as MarineTraffic writes it: a ``SPEED`` with a fraction (``12.3``,
  knots) is refused, naming the file, the value and its line, and asks for the column to be named ``SOG``; a
  speed column by another name (``SOG``, ``speed_knots``) is knots. ``TIMESTAMP`` ISO 8601, UTC.
- **generic**: ``mmsi, time, lat, lon`` (``time`` ISO 8601, UTC, ``Z`` or an offset; no zone is
  UTC, or the zone the column's name gives: ``Time (UTC+10)``, :func:`header_zone`; a time's own zone
  wins over the name's), optionally ``sog`` (knots), ``cog`` (degrees), ``length`` and ``width`` (metres), ``name``.
  ``sitewatch simulate --ais`` writes this form. Each column may go by another name other exports
  use (:data:`GENERIC_ALIASES`: Global Fishing Watch's ``ssvid`` and ``speed_knots``, ``timestamp``,
  ``latitude``, ``lng``, ``speed``, ``course``, ``shipname``…). Without a length or width column, the
  antenna's distances ``A`` + ``B`` and ``C`` + ``D`` (AISHub's, VesselFinder's) give them.

Times are read as ISO 8601 (a space for the ``T``, and a trailing ``UTC`` as BigQuery's CSV writes it,
``2024-10-17 09:30:00 UTC``, or ``GMT`` as AISHub's does, and slashes in a year-first date are read too), as Unix seconds (``1729157400``, GFW's track files; years
2000-2099, so milliseconds are not taken for seconds), and in the DMA form also day first as the DMA
writes them. A file whose columns are separated by ``;``, tabs or ``|`` (a spreadsheet's CSV in a locale
whose decimal mark is a comma) is read so, and a decimal comma in its numbers (``42,88``) is a decimal mark.
Text is UTF-8; bytes that are not are read as Windows-1252 (:func:`_as_cp1252`). A gzip file (``.csv.gz``) or a zip
holding one CSV (the DMA's and MarineCadastre's daily downloads) is read as it is unpacked, never unpacked to disk.

Sources of the column sets: MarineCadastre's "AIS Data Dictionary" (the files at
coast.noaa.gov/htdata/CMSP/AISDataHandler) and the DMA's column list on its "AIS data" page (the
files at web.ais.dk/aisdata). First written from memory; on 5 Dec the names, their order and the
time formats were checked against public copies of both data dictionaries, and agree. No file
downloaded from either provider has been read by this code: a real day's file is still the test
this reader lacks.

A row is skipped and counted (:class:`AisReadSummary`) when its MMSI is not 9 digits (zeros that pad it
longer, as a fixed-width text column writes ``0273456780``, are dropped), its time cannot be read, or its
latitude or longitude is not a number in range - including 91 and 181, AIS's "not available", and 0, 0, a
transponder without a position fix. A file whose rows near the sites all have an MMSI that cannot be read
is refused, naming the column and a value, as is one none of whose times can be read. SOG 102.3, COG 360 and heading 511 (AIS's "not available") are read as
unknown, as are empty cells. A row outside every window asked for (:class:`AisWindow`: a box
and a time span) is counted as outside and not checked further (its MMSI and time are not read),
which is what lets a MarineCadastre day of millions of rows be read in seconds and in little
memory: :mod:`csv` reads :data:`CHUNK_ROWS` rows at a time, numpy parses and tests their positions
together, and only the rows kept are parsed further and stored, per MMSI, as numpy arrays.

Rows repeated (exports that overlap, one file given twice) are read once: of the kept rows of one MMSI at one
time, the first read is kept and the others dropped, counted as ``duplicates`` when within :data:`DUPLICATE_M`
(10 m) of it, else as ``conflicting`` (a track holds one position a time). Files are read in the order given,
so a rerun keeps the same rows. Where each file's positions are (its 0.1° cells, its box across 180° or not) is
gathered as it is read: :mod:`sitewatch.analysis.ais_coverage`.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import lzma
import math
import re
import zipfile
import zlib
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import partial
from itertools import islice
from pathlib import Path
from typing import IO, Literal, cast

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..untrusted import UTF16_MARKS
from .ais_coverage import Footprint, FootprintBuilder

__all__ = [
    "AisFormat",
    "AIS_FORMATS",
    "AisWindow",
    "AisTrack",
    "AisReadSummary",
    "AisData",
    "column_separator",
    "detect_format",
    "header_zone",
    "mmsi_of_cell",
    "open_ais_text",
    "read_ais",
]

AisFormat = Literal["marinecadastre", "dma", "marinetraffic", "generic"]

AIS_FORMATS: dict[str, dict[str, str]] = {
    # field -> column (normalised: lower case, no spaces, no '#'); the first four are required.
    "marinecadastre": {
        "mmsi": "mmsi", "time": "basedatetime", "lat": "lat", "lon": "lon", "sog": "sog", "cog": "cog",
        "name": "vesselname", "length": "length", "width": "width",
    },
    "dma": {
        "mmsi": "mmsi", "time": "timestamp", "lat": "latitude", "lon": "longitude", "sog": "sog", "cog": "cog",
        "name": "name", "length": "length", "width": "width",
    },
    # Before the generic form, whose names its header also holds: told by a column of MarineTraffic's own.
    "marinetraffic": {
        "mmsi": "mmsi", "time": "timestamp", "lat": "lat", "lon": "lon", "sog": "speed", "cog": "course",
        "name": "shipname", "length": "length", "width": "width",
    },
    "generic": {
        "mmsi": "mmsi", "time": "time", "lat": "lat", "lon": "lon", "sog": "sog", "cog": "cog",
        "name": "name", "length": "length", "width": "width",
    },
}  # fmt: skip
"""Each form's columns by the field they give (names normalised as :func:`_norm` does)."""

GENERIC_ALIASES: dict[str, tuple[str, ...]] = {
    "mmsi": ("mmsi", "ssvid"),  # GFW's "source-specific vessel id" is the MMSI in its AIS tables
    "time": ("time", "timestamp", "datetime", "basedatetime", "timeutc", "timestamputc", "datetimeutc"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "longitude", "lng", "long"),
    "sog": ("sog", "speed", "speedknots", "speedoverground"),
    "cog": ("cog", "course", "courseoverground"),
    "name": ("name", "vesselname", "shipname"),
    "length": ("length", "lengthm"),
    "width": ("width", "widthm", "beam"),
}  # fmt: skip
"""The generic form's columns: each field and the names it goes by, the first one present taken."""

_REQUIRED = ("mmsi", "time", "lat", "lon")

BAD_REASONS = ("mmsi", "time", "position")
"""Why a row is skipped: its MMSI is not 9 digits, its time unreadable, its position out of range or unknown."""


def _norm(name: str) -> str:
    # Letters and digits alone: '# Timestamp', 'speed_knots', 'Time (UTC)', a BOM left in the first name.
    return "".join(c for c in name.lower() if c.isalnum())


def _columns(form: str, cols: dict[str, int]) -> dict[str, int] | None:
    """Each field's column index in a header of ``form`` (normalised names -> index); None without a required one."""
    # A form's own names first; an optional field it lacks by another name (speed, course on DMA's names).
    names = GENERIC_ALIASES if form == "generic" else {
        f: (c,) if f in _REQUIRED else (c, *GENERIC_ALIASES[f]) for f, c in AIS_FORMATS[form].items()
    }  # fmt: skip
    found = {f: next((cols[a] for a in aliases if a in cols), None) for f, aliases in names.items()}
    if any(found[f] is None for f in _REQUIRED):
        return None
    return {f: i for f, i in found.items() if i is not None}


@dataclass(frozen=True)
class AisWindow:
    """Rows to keep: inside a box (degrees) during a time span (UTC, both ends included)."""

    west: float
    south: float
    east: float
    north: float
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InputError("AisWindow times must carry a timezone (UTC)")
        if not (self.west <= self.east and self.south <= self.north and self.start <= self.end):
            raise InputError(f"AisWindow is empty: {self}")


@dataclass(frozen=True)
class AisTrack:
    """One MMSI's kept reports, in time order, with what the vessel said about itself."""

    mmsi: str
    times: NDArray[np.float64]
    """Seconds since 1970-01-01 UTC, increasing (a report repeated at one time is kept once)."""
    lats: NDArray[np.float64]
    lons: NDArray[np.float64]
    sogs: NDArray[np.float64]
    """Speed over ground, knots; NaN where unknown."""
    cogs: NDArray[np.float64]
    """Course over ground, degrees clockwise from north; NaN where unknown."""
    name: str = ""
    length_m: float | None = None
    width_m: float | None = None


@dataclass(frozen=True)
class AisReadSummary:
    """What reading one file did."""

    path: str
    format: str
    rows: int
    kept: int
    outside: int
    """Rows outside every window: not checked further."""
    bad: dict[str, int] = field(default_factory=dict)
    """Rows skipped, by reason (:data:`BAD_REASONS`)."""
    not_ships: int = 0
    """Rows of MMSIs that are no ship station (first digit not 2-7, ITU-R M.585: coast stations, aids to
    navigation, SAR aircraft, SARTs, handhelds): read but not kept, as no vessel in an image answers them."""
    first: str | None = None
    last: str | None = None
    """The earliest and latest report time of the file (ISO 8601 UTC; None when none reads): what time it
    covers, so that an image of another day is not matched against it. Read from the rows kept, the first
    and last of every :data:`CHUNK_ROWS` and every :data:`SPAN_SAMPLE`-th row: a file in time order exactly,
    another to within minutes."""
    extent: tuple[float, float, float, float] | None = None
    """West, south, east, north of the file's valid positions (degrees; None without one), the smallest
    longitude interval holding them: west > east when it runs across 180°. What it covers is finer: the
    cells of :class:`~sitewatch.analysis.ais_coverage.Footprint`."""
    cells: int = 0
    """How many 0.1° cells (:data:`~sitewatch.analysis.ais_coverage.CELL_DEG`) hold a valid position: the area covered."""
    duplicates: int = 0
    """Rows near the sites dropped as repeats of one read before (:data:`DUPLICATE_M`): not in ``kept``."""
    conflicting: int = 0
    """Rows near the sites of an MMSI and time read before at another place (further than :data:`DUPLICATE_M`):
    a track holds one position a time, the first read; dropped, not in ``kept``."""
    simulated: bool = False
    """The file is simulated AIS (``sitewatch simulate --ais``: its ``simulated`` column true on its first row),
    said beside it wherever it is read, as simulated imagery is."""
    time_zone: str | None = None
    """The zone the time column's name gives (``UTC+10:00`` of ``Time (UTC+10)``), in which its times without
    one of their own were read; None when it names none or UTC."""

    @property
    def skipped(self) -> int:
        """Rows skipped for any reason (the sum of ``bad``)."""
        return sum(self.bad.values())


@dataclass(frozen=True)
class AisData:
    """The kept reports of one or more files, by MMSI."""

    tracks: dict[str, AisTrack]
    files: tuple[AisReadSummary, ...]
    footprints: tuple[Footprint, ...] = ()
    """Each file's positions' cells, in the order of ``files``."""


_HEADER_ZONE = re.compile(
    r"(?P<name>.*?)[\s_(\[]*(?:utc|gmt)\s*(?:(?P<sign>[+-])\s*(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?)?[\s)\]]*", re.IGNORECASE)
"""A time column's name that names its zone: ``Time (UTC+10)``, ``Timestamp (UTC)``, ``time_utc+0900``."""


def header_zone(name: str, path: str | Path = "AIS file") -> tuple[str, timezone | None]:
    """A time column's ``name`` without the zone it names, and that zone (``Time (UTC+10)`` is ``Time`` at
    UTC+10:00; ``Timestamp (UTC)`` is ``Timestamp`` at UTC); another name as it is, and None.

    Only a name that is a time column's without its zone (:data:`GENERIC_ALIASES`) is read so. An offset
    outside UTC-12 to UTC+14 is an :class:`~sitewatch.errors.InputError` naming the file and the column."""
    m = _HEADER_ZONE.fullmatch(name.strip().lstrip("\ufeff"))
    if m is None or _norm(m["name"]) not in GENERIC_ALIASES["time"]:
        return name, None
    if m["sign"] is None:
        return m["name"], UTC
    offset = timedelta(hours=int(m["h"]), minutes=int(m["m"] or 0))
    if offset > timedelta(hours=12 if m["sign"] == "-" else 14) or int(m["m"] or 0) >= 60:
        raise InputError(f"{path}: its column {name.strip()!r} names a zone no place keeps (UTC{m['sign']}"
                         f"{m['h']}{':' + m['m'] if m['m'] else ''}); the zones run from UTC-12 to UTC+14")  # fmt: skip
    return m["name"], timezone(-offset if m["sign"] == "-" else offset)


def _header_names(header: Sequence[str], path: str | Path = "AIS file") -> dict[str, int]:
    # Each column by its normalised name, the first of a name kept; a time column's without the zone it names.
    return {_norm(header_zone(h, path)[0]): i for i, h in reversed(list(enumerate(header)))}


def detect_format(header: Sequence[str], path: str | Path = "AIS file") -> tuple[AisFormat, dict[str, int]]:
    """The form whose required columns the header holds, and each field's column index.

    An :class:`~sitewatch.errors.InputError` names the file and, for each form, the columns missing.
    """
    cols = _header_names(header, path)
    # The DMA's files start '# Timestamp' and hold 'Type of mobile'; another export of mmsi, timestamp,
    # latitude, longitude is the generic form (its times ISO, never read day first).
    dma = "typeofmobile" in cols or any(h.lstrip("\ufeff").lstrip().startswith("#") for h in header[:1])
    # MarineTraffic's exports hold its own vessel id (SHIP_ID) or the receiver of each report (DSRC): its SPEED is
    # in tenths of a knot, which the generic form would read as knots.
    told = {"dma": dma, "marinetraffic": bool({"shipid", "dsrc"} & cols.keys())}
    for name in AIS_FORMATS:
        if told.get(name, True) and (found := _columns(name, cols)) is not None:
            return name, found  # type: ignore[return-value]
    if all(any(a in cols for a in GENERIC_ALIASES[f]) for f in _REQUIRED if f != "mmsi"):
        raise InputError(
            f"{path}: has no MMSI column (header {', '.join(_shown(h) for h in header[:8])}"
            f"{', …' if len(header) > 8 else ''}): a track of one vessel (as Global Fishing Watch's track download "
            "gives it)? add a column mmsi holding its 9-digit MMSI"
        )
    missing = "; ".join(
        f"{name} lacks {', '.join(repr(c) for f, c in fields.items() if f in _REQUIRED and _columns_of(name, f) & cols.keys() == set())}"
        for name, fields in AIS_FORMATS.items() if name != "marinetraffic"  # the generic form's names, and its own marker
    )
    raise InputError(
        f"{path}: not an AIS CSV sitewatch reads (header {', '.join(_shown(h) for h in header[:8])}"
        f"{', …' if len(header) > 8 else ''}): {missing}. Give MarineCadastre or Danish Maritime Authority "
        "files as downloaded, or columns mmsi, time, lat, lon (or ssvid, timestamp, latitude, longitude…)"
    )


def _columns_of(form: str, field: str) -> set[str]:
    return set(GENERIC_ALIASES[field]) if form == "generic" else {AIS_FORMATS[form][field]}


_SEPARATORS = (";", "\t", "|")
"""Column separators besides the comma: a spreadsheet's CSV where the decimal mark is a comma uses ';'."""


def column_separator(first_line: str) -> str:
    """The separator whose split of the header line is an AIS form: a comma unless another one alone is."""
    for separator in (",", *_SEPARATORS):
        header = next(csv.reader([first_line], delimiter=separator), [])
        try:
            cols = _header_names(header)
        except InputError:  # a zone no place keeps: refused by detect_format, naming the file
            continue
        if any(_columns(form, cols) is not None for form in AIS_FORMATS):
            return separator
    return ","


def _number(text: str, unknown: float | None = None) -> float:
    try:
        value = float(text)
    except ValueError:
        return math.nan
    if not math.isfinite(value) or (unknown is not None and value >= unknown):
        return math.nan
    return value


_UNIX_SECONDS = (datetime(2000, 1, 1, tzinfo=UTC).timestamp(), datetime(2100, 1, 1, tzinfo=UTC).timestamp())
"""Unix seconds read as such: AIS began around 2000; a count of milliseconds is far above the end."""


def _iso_seconds(text: str, zone: tzinfo = UTC) -> float:
    # fromisoformat reads '2024-10-17T09:30:00', a space for the T, '…Z' and offsets (Python 3.11+); a time without
    # a zone is at ``zone``, the one the column's name gives (header_zone), else UTC. One with its own keeps it.
    s = text.strip()
    if s[:1].isdigit() and s.replace(".", "", 1).isdigit() and len(s.partition(".")[0]) > 8:
        value = float(s)  # Unix seconds, as GFW's track files give them
        if not _UNIX_SECONDS[0] <= value < _UNIX_SECONDS[1]:
            raise ValueError(text)
        return value
    if s.endswith(("UTC", "GMT")):  # BigQuery's CSV: '2024-10-17 09:30:00 UTC'; AISHub's '… GMT'
        s, zone = s[:-3].rstrip(), UTC  # its own zone, whatever the column's name says
    if s[4:5] == "/" and s[7:8] == "/":  # '2024/10/17 09:30:00': year first, so never ambiguous
        s = s[:10].replace("/", "-") + s[10:]
    t = datetime.fromisoformat(s)
    return (t if t.tzinfo else t.replace(tzinfo=zone)).timestamp()


def _reads(seconds: Callable[[str], float], text: str) -> bool:
    """Whether ``seconds`` reads ``text`` as a time."""
    try:
        seconds(text)
    except (ValueError, OverflowError):
        return False
    return True


def _sides(row: Sequence[str], cols: tuple[int, int] | None, num: Callable[..., float]) -> float:
    """A size as the sum of two of AIS's antenna distances (A + B, C + D; 0 is "not available"), NaN without both."""
    if cols is None or max(cols) >= len(row):
        return math.nan
    a, b = num(row[cols[0]]), num(row[cols[1]])
    return a + b if a > 0 and b > 0 else math.nan


def mmsi_of_cell(text: str) -> str:
    """A cell's MMSI as its 9 digits: a spreadsheet's float (``273456780.0``) and text padded with zeros
    (``0273456780``, a fixed-width column) read as the number they write; anything else as written."""
    s = text.strip().removesuffix(".0")
    if len(s) > 9 and s.isdigit() and not s[:-9].strip("0"):
        return s[-9:]
    return s


def _is_mmsi(text: str) -> bool:
    return len(text) == 9 and text.isdigit()


def _dma_seconds(text: str) -> float:
    # '17/10/2024 09:30:00', day first; strptime is several times slower than slicing.
    s = text.strip()
    if len(s) != 19 or s[2] != "/" or s[5] != "/" or s[10] != " ":
        return _iso_seconds(s)  # a DMA file whose times were rewritten ISO (unambiguous)
    return datetime(int(s[6:10]), int(s[3:5]), int(s[0:2]), int(s[11:13]), int(s[14:16]), int(s[17:19]), tzinfo=UTC).timestamp()


class _Windows:
    """The windows as merged time spans per box, for a quick test of each row."""

    def __init__(self, windows: Sequence[AisWindow] | None) -> None:
        self.all = windows is None
        boxes: dict[tuple[float, float, float, float], list[tuple[float, float]]] = defaultdict(list)
        for w in windows or ():
            boxes[(w.west, w.south, w.east, w.north)].append((w.start.timestamp(), w.end.timestamp()))
        self.boxes = []
        for box, spans in boxes.items():
            merged: list[list[float]] = []
            for a, b in sorted(spans):
                if merged and a <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], b)
                else:
                    merged.append([a, b])
            self.boxes.append((box, [m[0] for m in merged], [m[1] for m in merged]))
        lons = [b[0][0] for b in self.boxes] + [b[0][2] for b in self.boxes]
        lats = [b[0][1] for b in self.boxes] + [b[0][3] for b in self.boxes]
        self.outer = (min(lons), min(lats), max(lons), max(lats)) if self.boxes else (0.0, 0.0, -1.0, -1.0)

    def boxes_at(self, lon: float, lat: float) -> list[tuple[list[float], list[float]]]:
        return [(starts, ends) for (w, s, e, n), starts, ends in self.boxes if w <= lon <= e and s <= lat <= n]

    @staticmethod
    def in_time(spans: list[tuple[list[float], list[float]]], t: float) -> bool:
        for starts, ends in spans:
            i = bisect_right(starts, t) - 1
            if i >= 0 and t <= ends[i]:
                return True
        return False


CHUNK_ROWS = 8192
"""Rows read at a time: their positions are parsed and tested by numpy, the few kept row by row."""

SPAN_SAMPLE = 64
"""Every this many rows one's time is read for the file's time span, besides the rows kept."""


def _floats(texts: list[str], decimal_comma: bool = False) -> NDArray[np.float64]:
    """The texts as numbers, NaN where one is not a number (a clean column in one pass of ``float``)."""
    if decimal_comma:
        texts = [t.replace(",", ".") for t in texts]
    try:
        return np.fromiter(map(float, texts), np.float64, len(texts))
    except ValueError:  # an empty cell or a word: that chunk one by one
        return np.fromiter((_number(t) for t in texts), np.float64, len(texts))


def _check_text(path: Path, head: bytes) -> None:
    """Refuse a file that is no text CSV (binary), saying what to do, before its bytes reach a message."""
    if b"\x00" in head:
        raise InputError(f"{path}: holds binary data, not a CSV; give the AIS CSV itself (--ais FILE.csv)")


def _shown(cell: str, most: int = 40) -> str:
    """A header cell as it may stand in a message: printable, and short."""
    text = "".join(c if c.isprintable() else "?" for c in cell.strip())
    return text if len(text) <= most else text[: most - 1] + "…"


def _as_cp1252(exc: UnicodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8 read as Windows-1252 (a spreadsheet's CSV saved on Windows in Western Europe:
    'Ø' is one byte), so a vessel's name survives; a byte that code page leaves undefined as Latin-1."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    part = exc.object[exc.start : exc.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in part), exc.end


codecs.register_error("sitewatch.cp1252", _as_cp1252)


_Report = tuple[float, float, float, float, float, int]
"""A kept row: time, lat, lon, SOG, COG, and the index of the file it came from."""


_GZIP, _ZIP = b"\x1f\x8b", b"PK\x03\x04"


@contextmanager
def _binary(path: Path, head: bytes) -> Iterator[IO[bytes]]:
    """The bytes of the CSV ``path`` holds: the file's own, or, as providers deliver a day, unpacked as read from a
    gzip file (``.csv.gz``) or from a zip holding one CSV (``aisdk-2024-10-17.zip``, ``AIS_2024_10_17.zip``)."""
    if head.startswith(_GZIP):
        with gzip.open(path, "rb") as f:
            yield cast(IO[bytes], f)  # a GzipFile is a binary stream; typeshed names it apart
    elif head.startswith(_ZIP):
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, UnicodeDecodeError, ValueError) as exc:  # a name not in its stated encoding too
            raise InputError(f"{path}: is a zip archive that cannot be opened ({exc}): is it damaged?") from exc
        with zf:
            files = [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
            csvs = [i for i in files if i.filename.lower().endswith((".csv", ".txt"))]
            if len(csvs) != 1:
                names = ", ".join(_shown(i.filename) for i in files[:5]) + (", …" if len(files) > 5 else "")
                raise InputError(f"{path}: is a zip archive of {len(files)} file(s) ({names or 'none'}), not of one CSV: "
                                 "unzip it and pass each AIS CSV inside (--ais FILE.csv)")  # fmt: skip
            try:
                member = zf.open(csvs[0])
            except (RuntimeError, NotImplementedError, UnicodeDecodeError) as exc:  # encrypted; AES; a garbled name
                raise InputError(f"{path}: {_shown(csvs[0].filename)} in the zip cannot be unpacked ({exc}): is it "
                                 "encrypted? unzip it and pass the CSV (--ais FILE.csv)") from exc  # fmt: skip
            with member as f:
                yield f
    else:
        with open(path, "rb") as f:
            yield f


@contextmanager
def open_ais_text(path: str | Path) -> Iterator[io.TextIOWrapper]:
    """The AIS CSV ``path`` as text (:func:`read_ais` reads it so): a gzip file or a zip of one CSV unpacked as read,
    UTF-8 with bytes that are not read as Windows-1252, or UTF-16 when it starts with UTF-16's byte-order mark (Excel's
    "Unicode Text", tab-separated). A file that is no text CSV (binary, a zip of several files) is an
    :class:`~sitewatch.errors.InputError` saying what to do."""
    path = Path(path)
    with open(path, "rb") as raw:
        head = raw.read(4096)
    with _binary(path, head) as data:
        first = data.read(4096) if head.startswith((_GZIP, _ZIP)) else head
        data.seek(0)
        if first.startswith(UTF16_MARKS):  # its every other byte is 0: no binary file
            yield io.TextIOWrapper(data, encoding="utf-16", errors="replace", newline="")
            return
        _check_text(path, first)
        yield io.TextIOWrapper(data, encoding="utf-8-sig", errors="sitewatch.cp1252", newline="")


MAX_LINE_CHARS = 4096
"""The longest line an AIS CSV may have: a row of any provider's is a few hundred characters."""
MAX_LINE_FIELDS = 256
"""The most separators a line may hold: MarineCadastre's rows have 17 columns, the DMA's 26."""


def _bounded_lines(f: io.TextIOWrapper, path: Path, separator: str) -> Iterator[str]:
    """The lines of ``f``, each refused when longer than :data:`MAX_LINE_CHARS` or of more than
    :data:`MAX_LINE_FIELDS` fields. A gzip file unpacks a thousand times larger than it is: a 40 kB one holding
    a 40 MB line of ``0,0,0…`` took 250 MB as one row (a 1 MB one, gigabytes), as a damaged download could."""
    number, readline = 0, f.readline
    while line := readline(MAX_LINE_CHARS):
        number += 1
        # A line shorter than MAX_LINE_FIELDS cannot hold that many separators: most are not counted.
        if len(line) < MAX_LINE_FIELDS:
            yield line
            continue
        cut = len(line) == MAX_LINE_CHARS and line[-1] not in "\r\n"
        if cut or line.count(separator) >= MAX_LINE_FIELDS:
            what = f"longer than {MAX_LINE_CHARS:,} characters" if cut else f"of more than {MAX_LINE_FIELDS} fields"
            raise InputError(f"{path}: not an AIS CSV: line {number} is {what}, as no AIS file's is (is it damaged?)")
        yield line


def _read_one(
    path: Path, windows: _Windows, into: dict[str, list[_Report]],
    static: dict[str, tuple[str, float, float]], footprint: FootprintBuilder, index: int = 0,
) -> AisReadSummary:
    try:
        with open_ais_text(path) as f:
            separator = column_separator(f.readline(MAX_LINE_CHARS))
            f.seek(0)
            return _read_rows(path, csv.reader(_bounded_lines(f, path, separator), delimiter=separator), windows,
                              into, static, separator != ",", footprint, index)  # fmt: skip
    except (EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, gzip.BadGzipFile, NotImplementedError) as exc:
        # A download cut short or damaged: each decompressor says so in its own way.
        raise InputError(f"{path}: is compressed (gzip or zip) but cannot be unpacked ({exc}): is it damaged or "
                         "cut short?") from exc  # fmt: skip
    except OSError as exc:
        raise InputError(f"{path}: cannot read the AIS file ({exc.strerror or exc})") from exc
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})") from exc


def _read_rows(
    path: Path, rows: Iterator[list[str]], windows: _Windows,
    into: dict[str, list[_Report]], static: dict[str, tuple[str, float, float]],
    decimal_comma: bool = False, footprint: FootprintBuilder | None = None, index: int = 0,
) -> AisReadSummary:
    # Columns separated by ';' (or tabs) leave the comma free to be a decimal mark: 42,88.
    num = (lambda text, unknown=None: _number(text.replace(",", "."), unknown)) if decimal_comma else _number
    header = next(rows, None)
    if header is None:
        raise InputError(f"{path}: is empty; an AIS CSV starts with a header row (mmsi, time, lat, lon…)")
    fmt, col = detect_format(header, path)
    i_sim = next((i for i, h in enumerate(header) if _norm(h) == "simulated"), None)
    simulated = False
    i_mmsi, i_time, i_lat, i_lon = (col[f] for f in _REQUIRED)
    i_sog, i_cog, i_name, i_len, i_wid = (col.get(f) for f in ("sog", "cog", "name", "length", "width"))
    # Without a length or width column, the antenna's distances to bow and stern (A, B) and to port and starboard
    # (C, D), as AISHub and VesselFinder give the size: length A + B, width C + D.
    abcd = {_norm(h): i for i, h in reversed(list(enumerate(header)))}
    i_a, i_b, i_c, i_d = (abcd.get(k) for k in "abcd")
    sum_len = (i_a, i_b) if i_len is None and i_a is not None and i_b is not None else None
    sum_wid = (i_c, i_d) if i_wid is None and i_c is not None and i_d is not None else None
    seconds = _dma_seconds if fmt == "dma" else _iso_seconds
    # MarineTraffic's own SPEED is in tenths of a knot (123: 12.3 kn; 1023 unknown); a speed column of that file by
    # another name (SOG, speed_knots: the generic form's, added by whoever joined a SHIP_ID or DSRC column) is knots.
    tenths = fmt == "marinetraffic" and i_sog is not None and _norm(header[i_sog]) == "speed"
    sog_scale = 10.0 if tenths else 1.0
    zone = header_zone(header[i_time], path)[1] if fmt == "generic" else None
    if zone is not None and zone != UTC:
        seconds = partial(_iso_seconds, zone=zone)  # 'Time (UTC+10)': its times without a zone are at UTC+10
    need = max(col.values()) + 1
    west, south, east, north = windows.outer
    bad: Counter[str] = Counter()
    n = kept = outside = not_ships = 0
    timed = untimed = 0  # rows whose time was read, and of those the ones whose time could not be
    first_bad_time, bad_time_line = "", 0
    named = 0  # rows whose MMSI was read (bad["mmsi"] of them could not be)
    first_bad_mmsi, bad_mmsi_line = "", 0
    sample_mmsis: list[str] = []  # of the file's first rows
    sample_times: list[str] = []  # of the file's first rows, near the sites or not
    spans: list[tuple[list[float], list[float]]] = []
    t_lo, t_hi = math.inf, -math.inf  # the file's time span
    cover = footprint if footprint is not None else FootprintBuilder()  # and where its positions are
    while True:
        line = getattr(rows, "line_num", 0)  # lines read before this chunk (a csv.reader counts them)
        if not (chunk := list(islice(rows, CHUNK_ROWS))):
            break
        where: list[int] | None = None  # each row's place in the chunk as read, when short rows were taken out
        short = [r for r in chunk if len(r) < need]
        if short:
            where = [i for i, r in enumerate(chunk) if len(r) >= need]
            chunk = [r for r in chunk if len(r) >= need]
            for r in short:
                if any(c.strip() for c in r):  # a blank line is no row
                    n += 1
                    bad["position" if len(r) <= max(i_lat, i_lon) else "time"] += 1
        if n == 0 and i_sim is not None and chunk and len(chunk[0]) > i_sim:
            simulated = chunk[0][i_sim].strip().lower() in ("true", "1", "yes")
        n += len(chunk)
        sample_times += [r[i_time] for r in chunk[: 20 - len(sample_times)]]
        sample_mmsis += [r[i_mmsi] for r in chunk[: 20 - len(sample_mmsis)]]
        lats = _floats([r[i_lat] for r in chunk], decimal_comma)
        lons = _floats([r[i_lon] for r in chunk], decimal_comma)
        # NaN fails too; 91 / 181 are AIS's "not available", and 0, 0 a transponder without a fix (no ship is
        # there): kept, it stretched the file's box printed to 0° and marked a cell in the Gulf of Guinea.
        valid = (lats >= -90) & (lats <= 90) & (lons >= -180) & (lons <= 180) & ((lats != 0) | (lons != 0))
        if unplaced := int((~valid).sum()):
            bad["position"] += unplaced
        if valid.any():
            cover.add(lons[valid], lats[valid])
        # The chunk's earliest and latest time written year first (ISO, Unix seconds) sort as text: a file out of
        # time order (sorted by MMSI, shuffled, two exports joined) has its ends there, where the samples missed
        # them and an image near an end was called not covered. Each is a time of the file, whatever its form, so
        # the span is never overstated.
        texts = [r[i_time] for r in chunk]
        ends = (min(texts), max(texts), texts[-1]) if chunk else ()  # the last row too: a word sorts after a time
        for text in (*(r[i_time] for r in chunk[::SPAN_SAMPLE]), *ends):
            try:
                t = seconds(text)
            except (ValueError, OverflowError):
                continue
            t_lo, t_hi = min(t_lo, t), max(t_hi, t)
        near = valid if windows.all else valid & (lons >= west) & (lons <= east) & (lats >= south) & (lats <= north)
        outside += int(valid.sum() - near.sum())
        for k in np.flatnonzero(near):
            row, lat, lon = chunk[k], float(lats[k]), float(lons[k])
            if not windows.all:
                spans = windows.boxes_at(lon, lat)
                if not spans:
                    outside += 1
                    continue
            timed += 1
            try:
                t = seconds(row[i_time])
            except (ValueError, OverflowError):
                bad["time"] += 1
                untimed += 1
                if not first_bad_time:  # its line, as an editor numbers them (one line a row)
                    first_bad_time, bad_time_line = row[i_time], line + 1 + int(k if where is None else where[k])
                continue
            t_lo, t_hi = min(t_lo, t), max(t_hi, t)
            if not windows.all and not windows.in_time(spans, t):
                outside += 1
                continue
            mmsi = mmsi_of_cell(row[i_mmsi])
            named += 1
            if not _is_mmsi(mmsi):
                bad["mmsi"] += 1
                if not first_bad_mmsi:
                    first_bad_mmsi, bad_mmsi_line = row[i_mmsi], line + 1 + int(k if where is None else where[k])
                continue
            if mmsi[0] not in "234567":
                not_ships += 1
                continue
            sog = num(row[i_sog], 102.3 * sog_scale) if i_sog is not None else math.nan
            if tenths and i_sog is not None:
                if not (math.isnan(sog) or sog.is_integer()):
                    # MarineTraffic writes tenths as whole numbers: 12.3 is knots, which read as tenths was 1.23 kn.
                    where_k = line + 1 + int(k if where is None else where[k])
                    raise InputError(
                        f"{path}: its {header[i_sog].strip()!r} column holds {row[i_sog].strip()!r} on line {where_k}, "
                        "not a whole number of tenths of a knot as MarineTraffic writes its SPEED (the file's SHIP_ID "
                        "or DSRC column marks it as MarineTraffic's): if its speeds are in knots, name the column SOG"
                    )
                sog /= sog_scale
            cog = num(row[i_cog], 360.0) if i_cog is not None else math.nan
            into[mmsi].append((t, lat, lon, sog, cog, index))
            kept += 1
            name = row[i_name].strip() if i_name is not None else ""
            length = num(row[i_len]) if i_len is not None else _sides(row, sum_len, num)
            width = num(row[i_wid]) if i_wid is not None else _sides(row, sum_wid, num)
            if name or length > 0 or width > 0:
                old = static.get(mmsi, ("", math.nan, math.nan))
                static[mmsi] = (name or old[0], length if length > 0 else old[1], width if width > 0 else old[2])
    if timed and untimed == timed and not any(_reads(seconds, t) for t in sample_times):
        # Not a few bad rows but a time column of another form: going on would call every detection dark.
        form = "DD/MM/YYYY HH:MM:SS, as the Danish Maritime Authority writes it" if fmt == "dma" else \
            "ISO 8601 in UTC or with an offset, e.g. 2024-10-17T09:30:00Z, or Unix seconds"
        raise InputError(f"{path}: no time could be read in its {header[i_time].strip()!r} column "
                         f"(e.g. {first_bad_time!r} on line {bad_time_line}): give the times as {form}")  # fmt: skip
    if named and bad["mmsi"] == named and not any(_is_mmsi(mmsi_of_cell(m)) for m in sample_mmsis):
        # Every row near the sites refused for its MMSI, while the rest of the file was never asked: going on would
        # call every detection dark.
        raise InputError(f"{path}: no MMSI could be read in its {header[i_mmsi].strip()!r} column "
                         f"(e.g. {_shown(first_bad_mmsi)!r} on line {bad_mmsi_line}): give each vessel's MMSI "
                         "as its 9 digits, e.g. 273456780")  # fmt: skip
    if n and sum(bad.values()) == n:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(bad.items()))
        raise InputError(f"{path}: no row could be read ({reasons}): check the columns hold 9-digit MMSIs and "
                         "latitude and longitude in decimal degrees, the right way round")  # fmt: skip
    def iso(t: float) -> str | None:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if math.isfinite(t) else None

    built = cover.build()
    return AisReadSummary(
        str(path), fmt, n, kept, outside, dict(bad), not_ships, iso(t_lo), iso(t_hi), built.extent, len(built.cells),
        simulated=simulated, time_zone=None if zone is None or zone == UTC else str(zone),
    )  # fmt: skip


DUPLICATE_M = 10.0
"""Two rows of one MMSI at one time (to the second, as read) within this many metres are one report read twice
(exports that overlap, a file given twice): the later read is dropped. 10 m holds a copy rounded to 4 decimals
(at most 7.9 m off) and is far below the distance a ship moves between two reports."""


def _track(
    mmsi: str, reports: list[_Report], static: tuple[str, float, float]
) -> tuple[AisTrack, NDArray[np.int64], NDArray[np.int64]]:
    """The MMSI's track, one report a time, the first read kept; and the file index of each row dropped as a
    duplicate (:data:`DUPLICATE_M`) and of each dropped as conflicting (the same time elsewhere)."""
    a = np.asarray(reports, dtype=np.float64)
    a = a[np.argsort(a[:, 0], kind="stable")]  # stable: of one time, the row read first comes first
    new = np.concatenate([[True], np.diff(a[:, 0]) > 0])
    first = np.maximum.accumulate(np.where(new, np.arange(len(a)), 0))  # each row's first row of its time
    k = np.cos(np.radians(a[:, 1]))
    apart = 6_371_008.8 * np.hypot(np.radians(a[:, 2] - a[first, 2]) * k, np.radians(a[:, 1] - a[first, 1]))
    duplicate = ~new & (apart <= DUPLICATE_M)
    conflicting = ~new & ~duplicate
    files = a[:, 5].astype(np.int64)
    a = a[new]
    name, length, width = static
    track = AisTrack(
        mmsi, a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy(), a[:, 3].copy(), a[:, 4].copy(), name,
        None if math.isnan(length) else length, None if math.isnan(width) else width,
    )
    return track, files[duplicate], files[conflicting]


def read_ais(paths: Iterable[str | Path], windows: Sequence[AisWindow] | None = None) -> AisData:
    """Read AIS CSV files (:data:`AIS_FORMATS`, told apart by their header), keeping the reports
    inside ``windows`` (all of them when None).

    A file that is none of the forms, or cannot be read, is an
    :class:`~sitewatch.errors.InputError` naming it; bad rows in a file are counted and skipped.
    """
    wins = _Windows(windows)
    reports: dict[str, list[_Report]] = defaultdict(list)
    static: dict[str, tuple[str, float, float]] = {}
    summaries, footprints = [], []
    for i, p in enumerate(paths):
        builder = FootprintBuilder()
        summaries.append(_read_one(Path(p), wins, reports, static, builder, i))
        footprints.append(builder.build())
    tracks: dict[str, AisTrack] = {}
    duplicates: Counter[int] = Counter()
    conflicting: Counter[int] = Counter()
    for mmsi, rows in sorted(reports.items()):
        tracks[mmsi], dup, clash = _track(mmsi, rows, static.get(mmsi, ("", math.nan, math.nan)))
        duplicates.update(dup.tolist())
        conflicting.update(clash.tolist())
    summaries = [
        replace(s, kept=s.kept - duplicates[i] - conflicting[i], duplicates=duplicates[i], conflicting=conflicting[i])
        for i, s in enumerate(summaries)
    ]
    return AisData(tracks, tuple(summaries), tuple(footprints))
