"""The nouns of sitewatch as frozen dataclasses (see docs/architecture.md).

Geometries are shapely objects in WGS84 (lon, lat) unless a field says
otherwise. Times are timezone-aware UTC datetimes. Each class checks itself
in ``__post_init__`` so a bad value fails where it is made, not three stages
later.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args

from affine import Affine
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from .errors import InputError

__all__ = [
    "ChangeDirection",
    "CHANGE_DIRECTIONS",
    "direction_counts",
    "Sensor",
    "SiteKind",
    "Berth",
    "Site",
    "Grid",
    "SceneRef",
    "Observation",
    "Detection",
    "ClassCandidate",
    "Change",
    "Link",
    "Claim",
    "utc",
    "SITE_ID_MAX_LENGTH",
    "SITE_ID_PATTERN",
    "sites_named",
    "WINDOWS_DEVICE_NAMES",
    "check_new_site_id",
    "site_id_as_written",
    "berth_as_named",
    "is_date_only",
    "iso_utc",
    "parse_date_or_time",
    "written_date",
    "DATE_ONLY_HOUR",
    "DATE_ONLY_NOTE",
    "NoonOfDate",
    "acquired_label",
    "acquired_text",
    "acquired_given",
    "says_date_only",
]

Sensor = Literal["sar", "optical"]
SiteKind = Literal[
    "port", "naval_base", "berth", "training_ground", "town", "city", "launch_site", "area", "other"
]
SITE_KINDS: tuple[str, ...] = SiteKind.__args__  # type: ignore[attr-defined]
SENSORS: tuple[str, ...] = Sensor.__args__  # type: ignore[attr-defined]
SITE_ID_PATTERN = r"[a-z0-9][a-z0-9_-]*"
"""What a site id may be (whole match): it names the site's folder in the archive."""

SITE_ID_MAX_LENGTH = 64
"""The longest id a new site may take: it names the site's folder in ``archive/`` and the files exports write
(``SITE.timeline.csv``…), which a file system holds to 255 bytes."""

WINDOWS_DEVICE_NAMES = frozenset(
    ["con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))]
)
"""Names Windows keeps for devices, with or without an extension (``con``, ``con.timeline.csv``): no folder or
file there may take them, so a site id among them would leave a workspace that cannot be copied to Windows."""


def site_id_as_written(name: str) -> str:
    """The site id ``name`` as a person writes it means (claims files, alert rules): site ids are lower case
    (:data:`SITE_ID_PATTERN`), so an article's "Dunai" can mean only dunai."""
    return name.strip().lower()


def berth_as_named(name: str, known: Sequence[str]) -> str:
    """``name`` as ``known`` (a site's berth ids) spells it, when it is one of them in another case ("Pier-East" for
    pier-east) and only one is spelt so; otherwise ``name`` unchanged, for the caller to refuse."""
    if name in known:
        return name
    same = [k for k in known if k.casefold() == name.casefold()]
    return same[0] if len(same) == 1 else name


def sites_named(name: str, names: Iterable[tuple[str, str]]) -> list[str]:
    """The ids of the sites among ``names`` (id, name pairs) whose name is ``name``, whatever its case and spaces: a
    command or claims file given a site's name (``Гавань Дуная``) where its id (``site``) is wanted is told the id."""
    wanted = " ".join(name.split()).casefold()
    return [sid for sid, named in names if named and " ".join(named.split()).casefold() == wanted]


def check_new_site_id(site_id: str, where: str = "") -> None:
    """Refuse an id too long for a new site (:data:`SITE_ID_MAX_LENGTH`) or one Windows keeps for a device
    (:data:`WINDOWS_DEVICE_NAMES`), naming it and ``where`` it came from.

    Checked where a site comes in (``sites add``, ``sites import``), not when a stored site is read, so that a
    workspace holding one made before can still list and remove it.
    """
    if site_id in WINDOWS_DEVICE_NAMES:
        raise InputError(
            f"{where + ': ' if where else ''}site id {site_id!r} is a name Windows keeps for a device (CON, PRN, "
            "AUX, NUL, COM1-9, LPT1-9): no folder or file may take it there, so the site's folder in archive/ and "
            f"the files exports write could not be copied to Windows: give another, such as '{site_id}-port'"
        )
    if len(site_id) > SITE_ID_MAX_LENGTH:
        shown = site_id[:40] + "…"
        raise InputError(
            f"{where + ': ' if where else ''}site id {shown!r} is {len(site_id)} characters long; a site id is at "
            f"most {SITE_ID_MAX_LENGTH} (it names the site's folder in archive/ and the files exports write): give a shorter one"
        )


def iso_utc(value: datetime) -> str:
    """An aware time as ISO 8601 in UTC with a ``Z`` (``2024-10-17T09:30:00Z``), as every ``--json`` prints times."""
    return utc(value).isoformat().replace("+00:00", "Z")


def utc(value: datetime | str) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken as UTC."""
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InputError(f"not an ISO 8601 time: {value!r}") from exc
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+05:00 is a time before year 1 in UTC
        raise InputError(f"{value.isoformat()} is out of range in UTC (years 1 to 9999)") from exc


def is_date_only(text: str) -> bool:
    """True when an ISO 8601 text names a day without a time (``2024-10-17``, ``20241017``)."""
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


DATE_ONLY_HOUR = 12
"""Hour (UTC) given to an acquisition known only by its date (a file name, ``--acquired 2024-10-17``):
noon keeps the date for any --utc-offset within ±12 h, where midnight put western sites a day early."""

DATE_ONLY_NOTE = f"{DATE_ONLY_HOUR}:00 UTC assumed"
"""What the provenance's ``acquired_from`` says of an acquisition known only by its date."""


class NoonOfDate(datetime):
    """An acquisition time given as a date alone (``--acquired 2016-10-18``): :data:`DATE_ONLY_HOUR` UTC
    of that day, a type of its own so that the provenance can say the time of day is assumed."""

    @classmethod
    def of(cls, day: date) -> NoonOfDate:
        """Noon UTC of ``day``."""
        return cls(day.year, day.month, day.day, DATE_ONLY_HOUR, tzinfo=UTC)


def says_date_only(acquired_from: object) -> bool:
    """True when an ``acquired_from`` (a provenance's) says only the date was known, its time assumed."""
    return DATE_ONLY_NOTE in str(acquired_from or "")


def acquired_given(acquired: datetime) -> str:
    """The ``acquired_from`` of a time given with ``--acquired`` (a date alone says its time is assumed)."""
    return f"--acquired, date only ({DATE_ONLY_NOTE})" if isinstance(acquired, NoonOfDate) else "--acquired"


DATE_EXAMPLES = "2024-10-01, 20241001 or 2024-10-01T09:30Z"
"""The forms of a date or time option, as its error message names them."""

_WEEK = re.compile(r"\d{4}-?W\d{2}")


_MONTHS = {m: i for i, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
    ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
    ("december", "dec")), start=1) for m in names}  # fmt: skip
"""English month names and their abbreviations, as articles write dates ("17 October 2024", "Oct. 17, 2024")."""

_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{4})")
_MONTH_DAY_YEAR = re.compile(r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")


def written_date(text: str) -> date | None:
    """A date written out with its month's name, either order ("17 October 2024", "Oct. 17, 2024"); None else.

    The one reader of such dates: claims files and every date option (:func:`parse_date_or_time`) take them.
    A numeric day and month (05/10/2024) is not read: it is 5 October or 10 May as the writer meant.
    """
    low = " ".join(text.lower().split())
    if m := _DAY_MONTH_YEAR.fullmatch(low):
        day, month, year = m.group(1), m.group(2), m.group(3)
    elif m := _MONTH_DAY_YEAR.fullmatch(low):
        month, day, year = m.group(1), m.group(2), m.group(3)
    else:
        return None
    if month not in _MONTHS:
        return None
    try:
        return date(int(year), _MONTHS[month], int(day))
    except ValueError:
        return None


def parse_date_or_time(text: str) -> tuple[datetime, bool]:
    """A date or time as the command line gives it: aware UTC, and whether it was a date alone.

    Every form :meth:`datetime.fromisoformat` reads: ``2024-10-01``, ``20241001``, ``2024-W40-2``,
    ``2024-10-01T09:30Z``, ``2024-10-01 09:30+02:00`` (a time without an offset is UTC), and a date
    written with its month's name, as claims files take it (``17 October 2024``, ``Oct. 17, 2024``:
    :func:`written_date`). A date alone
    is its midnight; what it means beyond that (a whole day, noon) is the caller's to say. A week
    without its day (``2024-W40``, which Python reads as its Monday) is refused: as the end of a
    period it would silently drop six days. Raises :class:`InputError` saying what is wrong with
    the value, for the caller to name its option.
    """
    text = text.strip()
    if _WEEK.fullmatch(text):
        raise InputError(f"{text!r} is a week, not a day: give one of its days ({text}-1 to {text}-7) or a calendar date")
    try:
        when = utc(text)
    except InputError as exc:
        if isinstance(exc.__cause__, OverflowError):
            raise InputError(f"{text!r}: {exc}") from None
        if (written := written_date(text)) is not None:
            return datetime(written.year, written.month, written.day, tzinfo=UTC), True
        raise InputError(f"{text!r} is not an ISO 8601 date or time (e.g. {DATE_EXAMPLES})") from None
    return when, is_date_only(text)


@dataclass(frozen=True)
class Berth:
    """A named mooring place inside a site: a quay line or a berth polygon."""

    id: str
    """Slug, unique within the site."""
    geometry: LineString | Polygon
    """Quay line or berth area, WGS84."""
    name: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            raise InputError("a berth needs an id")
        if not isinstance(self.geometry, (LineString, Polygon)) or self.geometry.is_empty:
            raise InputError(f"berth {self.id!r}: geometry must be a non-empty line or polygon")


MAX_SITE_DEG = 2.0
"""Widest site (degrees of longitude or latitude): a site's grid lies in one UTM zone (6° wide)."""


@dataclass(frozen=True)
class Site:
    """A named area of interest."""

    id: str
    """Slug: lowercase letters, digits, ``-`` and ``_``."""
    name: str
    kind: str
    geometry: Polygon | None
    """Area of interest, WGS84. None only for an unresolved place with no coordinates at all."""
    berths: tuple[Berth, ...] = ()
    water: BaseGeometry | None = None
    """Water polygon (WGS84); when absent, water is derived from the imagery."""
    tags: tuple[str, ...] = ()
    coord_source: str = ""
    """Where the coordinates came from (gazetteer, paper, imagery)."""
    resolved: bool = True
    """False when the place could not be located; its geometry must not be trusted."""
    note: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(SITE_ID_PATTERN, self.id or ""):
            raise InputError(
                f"site id {self.id!r}: use lowercase Latin letters (a-z), digits, '-' and '_' (e.g. 'dunai')"
            )
        if self.kind not in SITE_KINDS:
            raise InputError(f"site {self.id!r}: kind {self.kind!r} is not one of {SITE_KINDS}")
        if self.geometry is None:
            if self.resolved:
                raise InputError(f"site {self.id!r}: a resolved site needs a polygon")
            return
        if not isinstance(self.geometry, Polygon) or self.geometry.is_empty:
            raise InputError(f"site {self.id!r}: geometry must be a non-empty polygon")
        minx, miny, maxx, maxy = self.geometry.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise InputError(
                f"site {self.id!r}: bounds {self.geometry.bounds} are not WGS84 lon/lat "
                "(did you swap latitude and longitude?)"
            )
        if not self.geometry.is_valid:
            raise InputError(f"site {self.id!r}: polygon is not valid (self-intersecting?)")
        if maxx - minx > 180 and maxy - miny <= MAX_SITE_DEG:
            raise InputError(
                f"site {self.id!r} runs from longitude {minx:g} to {maxx:g}: it crosses the antimeridian (180°), "
                "which a site cannot; split it at 180° into two sites"
            )
        if maxx - minx > MAX_SITE_DEG or maxy - miny > MAX_SITE_DEG:
            raise InputError(
                f"site {self.id!r} spans {maxx - minx:.1f}° × {maxy - miny:.1f}° of longitude × latitude; "
                f"a site is one place (a port, a base: at most {MAX_SITE_DEG:g}° across), cut to one "
                "grid — redraw it smaller, or make several sites"
            )
        if self.water is not None and (
            self.water.geom_type not in ("Polygon", "MultiPolygon") or self.water.is_empty or not self.water.is_valid
        ):
            raise InputError(
                f"site {self.id!r}: its water must be a valid, non-empty polygon or multipolygon "
                f"(got {'an invalid ' if not self.water.is_valid else 'a '}{self.water.geom_type})"
            )
        seen: set[str] = set()
        for b in self.berths:
            if b.id in seen:
                raise InputError(f"site {self.id!r}: berth id {b.id!r} is given twice; berth ids must be unique")
            seen.add(b.id)

    def require_geometry(self) -> Polygon:
        """The site's polygon, or a SiteError saying the place is unresolved."""
        if self.geometry is None:
            from .errors import SiteError

            raise SiteError(
                f"site {self.id!r} is unresolved and has no coordinates; give it a polygon "
                f"with `sitewatch sites add {self.id} --bbox W,S,E,N` first"
            )
        return self.geometry

    @property
    def centroid(self) -> Point:
        """Centroid of the site's polygon (lon, lat, WGS84); a SiteError when the site is unresolved."""
        return self.require_geometry().centroid

    def utm_epsg(self) -> int:
        """EPSG code of the WGS84 UTM zone holding the site's centroid."""
        lon, lat = self.centroid.x, self.centroid.y
        zone = int(math.floor((lon + 180) / 6)) % 60 + 1
        return (32600 if lat >= 0 else 32700) + zone


@dataclass(frozen=True)
class Grid:
    """A raster grid: CRS, affine transform and shape."""

    crs: str
    """CRS as ``EPSG:n`` or WKT."""
    transform: tuple[float, float, float, float, float, float]
    """Affine coefficients (a, b, c, d, e, f) as in rasterio."""
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise InputError(f"grid shape must be positive, got {self.width}x{self.height}")

    @property
    def affine(self) -> Affine:
        """The transform as a rasterio ``Affine``, pixel (col, row) to CRS coordinates."""
        return Affine(*self.transform)

    @property
    def pixel_size(self) -> tuple[float, float]:
        """Pixel size (x, y) in CRS units (metres for projected CRSs)."""
        a, b, _, d, e, _ = self.transform
        return math.hypot(a, d), math.hypot(b, e)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels, numpy's order."""
        return self.height, self.width


@dataclass(frozen=True)
class SceneRef:
    """One image somewhere: a STAC item, a local file or a simulated scene."""

    provider: str
    """'simulator', 'local', 'earth-search', 'planetary-computer', 'cdse', ..."""
    collection: str
    item_id: str
    sensor: str
    acquired: datetime
    resolution_m: float
    hrefs: Mapping[str, str] = field(default_factory=dict)
    """Band or asset name -> path or URL."""
    footprint: BaseGeometry | None = None
    platform: str = ""
    cloud_cover: float | None = None
    """Scene-wide cloud cover (%) as the provider states it."""
    simulated: bool = False
    properties: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sensor not in SENSORS:
            raise InputError(f"scene {self.item_id!r}: sensor {self.sensor!r} not in {SENSORS}")
        if self.acquired.tzinfo is None:
            raise InputError(f"scene {self.item_id!r}: acquisition time must carry a timezone")
        if not self.resolution_m > 0:
            raise InputError(f"scene {self.item_id!r}: resolution must be positive")

    @property
    def id(self) -> str:
        """The scene's key, ``provider:collection:item_id``."""
        return f"{self.provider}:{self.collection}:{self.item_id}"


@dataclass(frozen=True)
class Observation:
    """One scene cut to one site, stored as a COG in the archive."""

    id: str
    site_id: str
    scene: SceneRef
    grid: Grid
    path: str
    """COG path relative to the workspace."""
    sha256: str
    valid_fraction: float
    cloud_fraction: float | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.valid_fraction <= 1.0:
            raise InputError(f"observation {self.id}: valid fraction {self.valid_fraction} not in [0, 1]")

    @property
    def acquired_date_only(self) -> bool:
        """True when only the date of the acquisition is known (a date alone in the file name, a tag or a
        sidecar, a Landsat MTL without SCENE_CENTER_TIME, ``--acquired 2024-10-17``): ``scene.acquired`` is then
        :data:`DATE_ONLY_HOUR` UTC of that date, an assumed time the provenance's ``acquired_from`` names."""
        return says_date_only(self.provenance.get("acquired_from"))


@dataclass(frozen=True)
class ClassCandidate:
    """One vessel class a detection may belong to, with its likelihood."""

    name: str
    likelihood: float


@dataclass(frozen=True)
class Detection:
    """One object found in one observation."""

    id: str
    observation_id: str
    kind: str
    """'vessel', 'crane', ..."""
    footprint: Polygon
    """Oriented box, WGS84."""
    length_m: float
    width_m: float
    heading_deg: float
    """Orientation of the long axis, degrees clockwise from true north (not the grid's), in [0, 180)."""
    score: float
    detector: str
    detector_version: str
    row: float = 0.0
    col: float = 0.0
    berth_id: str | None = None
    class_candidates: tuple[ClassCandidate, ...] = ()
    """Classes that fit the measured size, likeliest first; none for a truncated vessel."""
    truncated: bool | None = False
    """The object reaches the image's edge (the site's window) or a pixel without data (a no-data
    collar, outside the site): part of it may lie where the image cannot show it, so ``length_m``
    and ``width_m`` are lower bounds and no class is given by size
    (:attr:`sitewatch.detect.base.PixelDetection.truncated`). None: not recorded, a detection
    stored before sitewatch kept the flag (``sitewatch detect`` records it on its next run)."""

    def __post_init__(self) -> None:
        if not self.kind:
            raise InputError(f"detection {self.id!r}: no kind ('vessel', 'crane', ...)")
        for name in ("length_m", "width_m"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"detection {self.id!r}: {name} must be a finite number of metres, at least 0, got {value}")
        for name in ("heading_deg", "score", "row", "col"):
            if not math.isfinite(getattr(self, name)):
                raise InputError(f"detection {self.id!r}: {name} must be finite, got {getattr(self, name)}")

    @property
    def centroid(self) -> Point:
        """Centroid of the footprint (lon, lat, WGS84)."""
        return self.footprint.centroid


ChangeDirection = Literal["appeared", "disappeared", "altered"]
CHANGE_DIRECTIONS: tuple[ChangeDirection, ...] = get_args(ChangeDirection)
"""What a change region's brightness says happened (:mod:`sitewatch.change`)."""


def direction_counts(directions: Iterable[str]) -> dict[str, int]:
    """How many of ``directions`` are each of :data:`CHANGE_DIRECTIONS` (0 for those absent)."""
    counts: dict[str, int] = dict.fromkeys(CHANGE_DIRECTIONS, 0)
    for d in directions:
        counts[d] = counts.get(d, 0) + 1
    return counts


@dataclass(frozen=True)
class Change:
    """A region that changed between two observations of a site."""

    id: str
    site_id: str
    before_id: str
    after_id: str
    polygon: BaseGeometry
    area_m2: float
    magnitude: float
    direction: ChangeDirection
    method: str
    method_version: str = ""
    """Version of the method's rules (:data:`sitewatch.change.METHOD_VERSIONS`)."""

    def __post_init__(self) -> None:
        if self.direction not in CHANGE_DIRECTIONS:
            raise InputError(f"change {self.id!r}: direction {self.direction!r} is not one of {', '.join(CHANGE_DIRECTIONS)}")
        if not (math.isfinite(self.area_m2) and self.area_m2 >= 0):
            raise InputError(f"change {self.id!r}: area_m2 must be a finite number of square metres, at least 0, got {self.area_m2}")
        if self.polygon is None or self.polygon.is_empty:
            raise InputError(f"change {self.id!r}: no polygon")


@dataclass(frozen=True)
class Link:
    """The same vessel seen at two sites."""

    a_id: str
    b_id: str
    hours_apart: float
    distance_km: float
    similarity: float
    feasible: bool

    def __post_init__(self) -> None:
        for name in ("hours_apart", "distance_km", "similarity"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"link {self.a_id!r}-{self.b_id!r}: {name} must be finite and at least 0, got {value}")


ClaimVerdict = Literal["supported", "contradicted", "not testable", "open"]
CLAIM_VERDICTS: tuple[ClaimVerdict, ...] = get_args(ClaimVerdict)
"""What the imagery says of a claim (:mod:`sitewatch.evidence`); ``open`` until it is checked."""


@dataclass(frozen=True)
class Claim:
    """A statement from a source that imagery can test."""

    id: str
    text: str
    source: str
    start: datetime
    end: datetime
    site_ids: tuple[str, ...]
    verdict: ClaimVerdict = "open"
    evidence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.verdict not in CLAIM_VERDICTS:
            raise InputError(f"claim {self.id!r}: verdict {self.verdict!r} is not one of {', '.join(CLAIM_VERDICTS)}")
        if self.end < self.start:
            raise InputError(f"claim {self.id!r}: ends ({self.end:%Y-%m-%d}) before it starts ({self.start:%Y-%m-%d})")


def acquired_text(acquired: datetime, date_only: bool, *, seconds: bool = False) -> str:
    """An acquisition time as sitewatch shows it: ``2024-10-17 09:30 UTC``, or, for an image known
    only by its date (a date alone in the file name or the MTL), the date and ``time unknown``, so
    that the 12:00 UTC stored for it is not read as the time the image was taken."""
    when = acquired.astimezone(UTC)
    if date_only:
        return f"{when:%Y-%m-%d}, time unknown"
    return f"{when:%Y-%m-%d %H:%M:%S} UTC" if seconds else f"{when:%Y-%m-%d %H:%M} UTC"


def acquired_label(obs: Observation, *, seconds: bool = False) -> str:
    """An observation's acquisition time as a report shows it (:func:`acquired_text`)."""
    return acquired_text(obs.scene.acquired, obs.acquired_date_only, seconds=seconds)
