"""Simulation scenarios: the values a scenario file holds and how they are read and checked.

A scenario (YAML or TOML) describes a *simulated* world: sites with a made-up
layout (land, built-up areas, berth lines; on land forest, fields and bare ground,
which follow the season), acquisition series per site and sensor, vessels with
their visits, quay equipment (cranes, trucks), clouds, and ``ground`` works:
trench lines dug and rows of vehicles parked on open ground, the change the
truth records.
:mod:`sitewatch.sources.simulate` renders it into GeoTIFFs with ground truth.

Layout coordinates are **metres relative to the site centre** in the site's
UTM zone (x to the east, y to the north); the centre is the site polygon's
centroid projected to UTM and rounded to a multiple of 30 m, so that layout
lines at multiples of 10 m (or 3 m) fall on pixel edges of the scenes. Time windows given as
dates are whole UTC days, both ends included (``start: 2024-10-17``,
``end: 2024-10-19`` covers 17 Oct 00:00 to 20 Oct 00:00 UTC); full ISO 8601
times are taken as they are (naive ones as UTC), the end excluded.

Errors are :class:`~sitewatch.errors.InputError` naming the file and the
field (``seed-story.yaml: vessels[1].visits[0].berth: ...``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import yaml
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon

from ..errors import InputError, SiteError
from ..geo import reproject_geometry, utm_crs_for
from ..model import MAX_SITE_DEG, SENSORS, SITE_KINDS, check_new_site_id, is_date_only
from ..yaml_input import YAML_BOOL_HINT, yaml_problem
from ..yaml_input import StrictYamlLoader as _YamlLoader

__all__ = [
    "Scenario",
    "SimSite",
    "SimBerth",
    "Layout",
    "Acquisitions",
    "Window",
    "Visit",
    "Vessel",
    "Equipment",
    "Cloud",
    "GroundWork",
    "PlannedScene",
    "load_scenario",
    "scenario_from_mapping",
    "plan_scenes",
    "presence_dates",
    "shorten",
    "scenario_to_json",
]

Coords = tuple[tuple[float, float], ...]

SNAP_M = 30.0
"""The layout origin (site centre) and scene grids sit on multiples of this many metres."""

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
"""The rule for site ids everywhere in sitewatch (:class:`sitewatch.model.Site`); a series name too,
since both become folder and file names."""


@dataclass(frozen=True)
class SimBerth:
    """A simulated quay face: ships moor alongside it on its water side."""

    id: str
    line: Coords
    """Quay face, metres from the site centre; ``at_m`` positions count from its first point."""
    name: str = ""

    @property
    def length_m(self) -> float:
        """Length of the quay face, metres."""
        return float(LineString(self.line).length)


@dataclass(frozen=True)
class Layout:
    """The simulated geography of a site, in metres from its centre."""

    land: tuple[Coords, ...]
    """Land polygons (piers included); everything else inside the site is water."""
    built: tuple[Coords, ...] = ()
    """Built-up (concrete) areas on land: bright in SAR, grey in optical."""
    berths: tuple[SimBerth, ...] = ()
    scatterers: int = 40
    """Number of bright point scatterers (buildings, cranes, containers) on built land."""
    forest: tuple[Coords, ...] = ()
    """Deciduous forest on land: its leaves turn and fall with the season (:mod:`sitewatch.sources.sim_ground`)."""
    fields: tuple[Coords, ...] = ()
    """Meadows and fields on land: they dry and brown with the season."""
    bare: tuple[Coords, ...] = ()
    """Open bare ground on land (a training area, a gravel yard): no season."""

    @property
    def seasonal(self) -> bool:
        """Whether the site's scenes follow the season (leaf colour, sun elevation): it has forest or fields."""
        return bool(self.forest or self.fields)


@dataclass(frozen=True)
class SimSite:
    """A site of the scenario: the gazetteer (or scenario) polygon plus its simulated layout."""

    id: str
    name: str
    kind: str
    polygon: Polygon
    """Area of interest, WGS84."""
    layout: Layout
    from_gazetteer: bool = True
    note: str = ""
    """What the scenario says of the site's place (e.g. that the real location is unresolved)."""
    resolved: bool = True
    """False when the real place is not located and the polygon only stands in for it (``resolved: false``
    in the scenario): the site is stored unresolved, as the gazetteer's unlocated places are."""


@dataclass(frozen=True)
class Acquisitions:
    """A series of acquisitions of one site by one (simulated) sensor."""

    name: str
    """Short slug used in scene ids: ``sim-<name>-<site>-<YYYYMMDDTHHMM>``."""
    site: str
    sensor: Literal["sar", "optical"]
    platform: str
    collection: str
    resolution_m: float
    start: date
    end: date
    revisit_days: int = 0
    """Days between acquisitions from ``start`` to ``end`` (0: only the explicit ``dates``)."""
    dates: tuple[date, ...] = ()
    """Extra acquisition dates."""
    time_utc: str = "09:30"
    """Acquisition time of day, UTC, HH:MM."""
    cloud_probability: float = 0.0
    """Optical only: chance that a scene not listed under ``clouds`` gets random clouds."""
    scl: bool = False
    """Optical only: write a Sentinel-2 scene classification band ``SCL``."""
    enl: float = 4.6
    """SAR only: equivalent number of looks of the speckle."""

    def acquisition_dates(self) -> tuple[date, ...]:
        """Every acquisition date from ``start`` to ``end`` (the revisits and ``dates`` inside it), sorted."""
        out = set(d for d in self.dates if self.start <= d <= self.end)
        if self.revisit_days > 0:  # counted, not stepped past end: an end of 9999-12-31 has no day after it
            out.update(self.start + timedelta(days=k * self.revisit_days)
                       for k in range((self.end - self.start).days // self.revisit_days + 1))  # fmt: skip
        return tuple(sorted(out))


@dataclass(frozen=True)
class Window:
    """A time interval ``[start, end)`` in UTC, with an optional state label."""

    start: datetime
    end: datetime
    state: str = ""

    def contains(self, t: datetime) -> bool:
        """Whether ``t`` lies in ``[start, end)``."""
        return self.start <= t < self.end


@dataclass(frozen=True)
class Visit:
    """A vessel's stay at a site: alongside a berth, or at a fixed position."""

    site: str
    window: Window
    berth: str | None = None
    at_m: float | None = None
    """Position of the ship's centre along the berth line (default: the berth's middle)."""
    position: tuple[float, float] | None = None
    """Centre (metres from site centre) when not at a berth."""
    heading_deg: float | None = None
    """Long axis when not at a berth, degrees clockwise from north."""


@dataclass(frozen=True)
class Vessel:
    """A ship with its size and visits."""

    id: str
    vessel_class: str
    length_m: float
    width_m: float
    visits: tuple[Visit, ...]
    name: str = ""
    tone: float = 1.0
    """Relative brightness (SAR and optical deck), 1 = typical steel ship."""
    ais: bool = True
    """Whether the vessel broadcasts AIS (``sitewatch simulate --ais``); false: a dark vessel. The imagery ignores it."""
    mmsi: str = ""
    """Its MMSI in simulated AIS (9 digits); empty: one made from its id (:func:`sitewatch.sources.sim_ais.vessel_mmsi`)."""


@dataclass(frozen=True)
class Equipment:
    """A crane or truck on a quay, rendered only at high resolution (<= 5 m)."""

    id: str
    kind: Literal["crane", "truck"]
    site: str
    berth: str
    at_m: float
    length_m: float
    width_m: float
    windows: tuple[Window, ...] = ()
    """Crane: windows when the boom is extended toward the berth (else retracted).
    Truck: windows when it is on the quay (else absent)."""
    inset_m: float = 8.0
    """Distance of the object's centre (crane: its base) from the quay face, land side."""


@dataclass(frozen=True)
class GroundWork:
    """Something dug or brought onto open ground between two scenes: the change the scenario's truth records.

    A ``trench`` is a zig-zag line of dug earth: the trench itself (``trench_m`` wide, dark: its walls
    shade its floor) with spoil heaps either side, a scar of bare earth ``width_m`` wide. ``vehicles``
    is a row of ``count`` vehicles (``length_m`` x ``width_m`` each, ``spacing_m`` between their
    centres) from the first point of ``line`` toward the second. Both are drawn in optical scenes only.
    """

    id: str
    kind: Literal["trench", "vehicles"]
    site: str
    line: Coords
    """Trench: its course (layout metres); vehicles: the row's start and its direction."""
    windows: tuple[Window, ...]
    """When it is there (a trench: from the day it was dug on)."""
    width_m: float
    trench_m: float = 2.0
    zigzag_m: float = 0.0
    """Trench: how far the line swings either side of its course (0: straight)."""
    zigzag_period_m: float = 20.0
    """Trench: the length of one zig or zag (a fire bay), along the course."""
    count: int = 0
    length_m: float = 0.0
    spacing_m: float = 0.0
    name: str = ""

    def present(self, t: datetime) -> bool:
        """Whether the work is there at ``t`` (inside one of its windows)."""
        return any(w.contains(t) for w in self.windows)


@dataclass(frozen=True)
class Cloud:
    """Clouds over one site on one day (optical scenes of that day)."""

    site: str
    day: date
    cover: float
    """Fraction of the site under cloud, 0..1."""
    centre: tuple[float, float] | None = None
    """A point (metres from the site centre) the clouds are made to cover."""


@dataclass(frozen=True)
class Scenario:
    """A simulated world: sites, acquisition series, vessels, equipment and clouds."""

    name: str
    title: str
    seed: int
    revisits: str
    """Plain-language statement of the revisits chosen and why."""
    sites: tuple[SimSite, ...]
    acquisitions: tuple[Acquisitions, ...]
    vessels: tuple[Vessel, ...] = ()
    equipment: tuple[Equipment, ...] = ()
    clouds: tuple[Cloud, ...] = ()
    ground: tuple[GroundWork, ...] = ()
    """Trenches dug and vehicles assembled on open ground (the change the truth records)."""
    description: str = ""
    source: str = ""
    """File the scenario was read from."""

    def site(self, site_id: str) -> SimSite:
        """The scenario's site with id ``site_id``; a SiteError when it has none."""
        for s in self.sites:
            if s.id == site_id:
                return s
        raise SiteError(f"scenario {self.name!r} has no site {site_id!r}")


@dataclass(frozen=True)
class PlannedScene:
    """One scene the simulator will write."""

    scene_id: str
    site: str
    acquired: datetime
    series: Acquisitions


# ---------------------------------------------------------------- reading


class _Reader:
    """Field access that names the file and field path in every error."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, where: str, msg: str) -> InputError:
        return InputError(f"{self.origin}: {where}: {msg}")

    @staticmethod
    def path(where: str, key: str) -> str:
        return f"{where}.{key}" if where else key

    def get(self, m: Mapping[str, Any], key: str, where: str, default: Any = ..., kind: Any = None) -> Any:
        if not isinstance(m, Mapping):
            raise self.fail(where, f"expected a mapping, got {type(m).__name__}")
        if key not in m or m[key] is None:
            if default is ...:
                raise self.fail(self.path(where, key), "missing (required)")
            return default
        value = m[key]
        wrong_type = kind is not None and not isinstance(value, kind)
        if wrong_type or (isinstance(value, bool) and kind in (int, float, (int, float))):
            hint = f"; {YAML_BOOL_HINT}" if isinstance(value, bool) and kind is str else ""
            raise self.fail(self.path(where, key), f"expected {_kind_name(kind)}, got {value!r}{hint}")
        return value

    def number(self, m: Mapping[str, Any], key: str, where: str, default: Any = ..., positive: bool = False) -> Any:
        """A finite number as float (or ``default``, which may be None)."""
        value = self.get(m, key, where, default, (int, float))
        if value is None:
            return value
        try:
            number = float(value)
        except OverflowError:  # YAML's integers have no bound: one of 400 digits is past any float
            number = math.inf
        if not math.isfinite(number) or (positive and number <= 0):
            shown = f"one of {len(str(value))} digits" if isinstance(value, int) and math.isinf(number) else repr(value)
            raise self.fail(self.path(where, key), f"expected a {'positive ' if positive else ''}number, got {shown}")
        return number

    def day(self, value: Any, where: str) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = str(value).strip()
        try:
            return date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text).date()
        except ValueError:
            raise self.fail(where, f"expected a date YYYY-MM-DD, got {value!r}") from None

    def moment(self, value: Any, where: str, *, end: bool) -> datetime:
        """A date (whole day; an end date includes its day) or a full time, as aware UTC."""
        if isinstance(value, datetime):
            t = value
        elif isinstance(value, date):
            if end and value == date.max:  # its day ends past the last datetime Python has
                raise self.fail(where, f"{value} ends past the last date there is; give an earlier one")
            t = datetime.combine(value, time(0), tzinfo=UTC) + (timedelta(days=1) if end else timedelta(0))
        else:
            text = str(value).strip()
            if is_date_only(text):  # 2024-10-17 or 20241017: the whole day
                return self.moment(date.fromisoformat(text), where, end=end)
            try:
                t = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise self.fail(where, f"expected a date or ISO 8601 time, got {value!r}") from None
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)

    def window(self, m: Mapping[str, Any], where: str, state: str = "") -> Window:
        start = self.moment(self.get(m, "start", where), f"{where}.start", end=False)
        end = self.moment(self.get(m, "end", where), f"{where}.end", end=True)
        if end <= start:
            raise self.fail(f"{where}.end", f"must be after start ({start:%Y-%m-%d %H:%M})")
        return Window(start, end, str(m.get("state") or state))

    def coords(self, value: Any, where: str, *, min_points: int) -> Coords:
        try:
            pts = tuple((float(p[0]), float(p[1])) for p in value)
            if any(len(p) != 2 for p in value) or not all(math.isfinite(c) for p in pts for c in p):
                raise ValueError
        except (TypeError, ValueError, OverflowError, IndexError):  # OverflowError: a number of 400 digits
            raise self.fail(where, "expected a list of [x, y] pairs in metres") from None
        if len(pts) < min_points:
            raise self.fail(where, f"needs at least {min_points} points, got {len(pts)}")
        return pts

    def known(self, m: Any, where: str, keys: Iterable[str]) -> None:
        """Refuse keys of ``m`` not in ``keys``: a misspelt key would otherwise be ignored silently."""
        if not isinstance(m, Mapping):
            raise self.fail(where or "top level", f"expected a mapping, got {type(m).__name__}")
        known = list(keys)
        for key in m:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.fail(
                    self.path(where, str(key)), f"unknown key {key!r}{hint}; known: {', '.join(sorted(known))}"
                )

    def slug(self, m: Mapping[str, Any], key: str, where: str, default: Any = ...) -> str:
        """An id that becomes a folder or file name: lowercase letters, digits, ``-`` and ``_``."""
        value = str(self.get(m, key, where, default, str))
        if not _SLUG.fullmatch(value):
            raise self.fail(
                self.path(where, key),
                f"{value!r}: use lowercase Latin letters (a-z), digits, '-' and '_', starting with a letter or digit "
                f"(e.g. {_suggest_slug(value)!r})",
            )
        return value

    def items(self, m: Mapping[str, Any], key: str, where: str, required: bool = False) -> list[Any]:
        value = self.get(m, key, where, ... if required else [], list)
        return list(value)

    def site(self, m: Mapping[str, Any], where: str, sites: Mapping[str, SimSite]) -> str:
        """The id under ``site``, which must name one of the scenario's ``sites``."""
        site_id = str(self.get(m, "site", where, kind=str))
        if site_id not in sites:
            raise self.fail(f"{where}.site", f"{site_id!r} is not a site of this scenario ({', '.join(sites)})")
        return site_id

    def windows(self, m: Mapping[str, Any], key: str, where: str, keys: Iterable[str], state: str,
                required: bool = False) -> list[Window]:
        """The time windows listed under ``key``, each a mapping of ``keys`` (:meth:`window`)."""
        out = []
        for i, w in enumerate(self.items(m, key, where, required)):
            self.known(w, f"{where}.{key}[{i}]", keys)
            out.append(self.window(w, f"{where}.{key}[{i}]", state))
        return out


def _suggest_slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-_") or "site"


def _kind_name(kind: Any) -> str:
    if isinstance(kind, tuple):
        return " or ".join(_kind_name(k) for k in kind)
    return {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}.get(
        kind, getattr(kind, "__name__", str(kind))
    )


# The keys each part of a scenario file may hold (anything else is refused, naming the key).
_TOP_KEYS = (
    "name", "title", "seed", "description", "revisits", "sites", "acquisitions", "vessels", "equipment", "clouds", "ground",
)
_SITE_KEYS = ("id", "name", "kind", "polygon", "layout", "note", "resolved")
_LAYOUT_KEYS = ("land", "built", "berths", "scatterers", "forest", "fields", "bare")
_GROUND_KEYS = {
    "trench": ("id", "name", "kind", "site", "line", "dug", "width_m", "trench_m", "zigzag_m", "zigzag_period_m"),
    "vehicles": ("id", "name", "kind", "site", "line", "present", "count", "length_m", "width_m", "spacing_m"),
}
_FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
"""The end of a trench's window: once dug it stays (the scenario's scenes end long before)."""
_BERTH_KEYS = ("id", "name", "line")
MAX_SERIES_DATES = 10_000
"""Most acquisition dates one series may have: a daily series of 27 years (each is an image rendered)."""

_SERIES_KEYS = (
    "name", "site", "sensor", "platform", "collection", "resolution_m", "start", "end", "revisit_days", "dates",
    "time_utc", "cloud_probability", "scl", "enl",
)
_VESSEL_KEYS = ("id", "name", "class", "length_m", "width_m", "tone", "visits", "ais", "mmsi")
_VISIT_KEYS = ("site", "start", "end", "state", "berth", "at_m", "position", "heading_deg")
_EQUIPMENT_KEYS: tuple[str, ...] = ("id", "kind", "site", "berth", "at_m", "length_m", "width_m", "inset_m")
_CLOUD_KEYS = ("site", "date", "cover", "centre")


def _polygon(r: _Reader, coords: Coords, where: str) -> Polygon:
    poly = Polygon(coords)
    if not poly.is_valid or poly.area <= 0:
        raise r.fail(where, "polygon is not valid (self-intersecting or empty)")
    return poly


def layout_origin(polygon: Polygon) -> tuple[str, float, float]:
    """The UTM CRS of a site and its layout origin there: the polygon's centroid rounded to :data:`SNAP_M`."""
    c = polygon.centroid
    crs = utm_crs_for(c.x, c.y)
    cu = reproject_geometry(c, "EPSG:4326", crs)
    return crs, float(round(cu.x / SNAP_M) * SNAP_M), float(round(cu.y / SNAP_M) * SNAP_M)


def _in_layout_metres(polygon: Polygon) -> Polygon:
    """A site polygon (WGS84) in its layout's metres, from :func:`layout_origin`: where berths and positions are given."""
    crs, cx, cy = layout_origin(polygon)
    return affinity.translate(reproject_geometry(polygon, "EPSG:4326", crs), -cx, -cy)


def _check_berths_inside(r: _Reader, layout: Layout, polygon: Polygon, where: str) -> None:
    """A berth line must lie inside the site polygon (with 1 m of slack for rounding)."""
    if not layout.berths:
        return
    local = _in_layout_metres(polygon).buffer(1.0)
    for i, b in enumerate(layout.berths):
        line = LineString(b.line)
        if not local.covers(line):
            minx, miny, maxx, maxy = local.buffer(-1.0).bounds
            raise r.fail(
                f"{where}.berths[{i}].line",
                f"berth {b.id!r} lies {'partly ' if local.intersects(line) else ''}outside the site polygon "
                f"(which spans x {minx:.0f}..{maxx:.0f} m, y {miny:.0f}..{maxy:.0f} m from the site centre)",
            )


def _check_position_inside(r: _Reader, site: SimSite, position: tuple[float, float], where: str) -> None:
    """A ship placed away from berths must be inside the site, or no scene would ever show it."""
    local = _in_layout_metres(site.polygon)
    if not local.buffer(1.0).covers(Point(position)):
        minx, miny, maxx, maxy = local.bounds
        raise r.fail(
            where,
            f"[{position[0]:g}, {position[1]:g}] is outside site {site.id!r} (which spans x {minx:.0f}..{maxx:.0f} m, "
            f"y {miny:.0f}..{maxy:.0f} m from its centre)",
        )


def _read_site(r: _Reader, m: Mapping[str, Any], where: str) -> SimSite:
    from ..sites import builtin_sites

    r.known(m, where, _SITE_KEYS)
    site_id = r.slug(m, "id", where)
    try:
        check_new_site_id(site_id)  # it names the site's folder in archive/, as a site added by hand does
    except InputError as exc:
        raise r.fail(r.path(where, "id"), str(exc)) from None
    lay = r.get(m, "layout", where, kind=dict)
    lw = f"{where}.layout"
    r.known(lay, lw, _LAYOUT_KEYS)
    land = tuple(r.coords(p, f"{lw}.land[{i}]", min_points=3) for i, p in enumerate(r.items(lay, "land", lw, True)))
    for i, p in enumerate(land):
        _polygon(r, p, f"{lw}.land[{i}]")
    built = tuple(r.coords(p, f"{lw}.built[{i}]", min_points=3) for i, p in enumerate(r.items(lay, "built", lw)))
    for i, p in enumerate(built):
        _polygon(r, p, f"{lw}.built[{i}]")
    cover: dict[str, tuple[Coords, ...]] = {}
    for key in ("forest", "fields", "bare"):
        cover[key] = tuple(r.coords(p, f"{lw}.{key}[{i}]", min_points=3) for i, p in enumerate(r.items(lay, key, lw)))
        for i, p in enumerate(cover[key]):
            _polygon(r, p, f"{lw}.{key}[{i}]")
    berths = []
    for i, b in enumerate(r.items(lay, "berths", lw)):
        bw = f"{lw}.berths[{i}]"
        r.known(b, bw, _BERTH_KEYS)
        line = r.coords(r.get(b, "line", bw, kind=list), f"{bw}.line", min_points=2)
        repeated = [i for i in range(1, len(line)) if line[i] == line[i - 1]]
        if repeated:
            # A segment of no length has no direction: the ship or crane placed on it would be NaN.
            raise r.fail(f"{bw}.line", f"point {repeated[0]} repeats point {repeated[0] - 1} {list(line[repeated[0]])}; drop it")
        berths.append(SimBerth(id=str(r.get(b, "id", bw, kind=str)), line=line, name=str(b.get("name") or "")))
    ids = [b.id for b in berths]
    if len(set(ids)) != len(ids):
        raise r.fail(f"{lw}.berths", f"berth ids must be unique, got {ids}")
    scatterers = r.get(lay, "scatterers", lw, 40, int)
    if scatterers < 0:
        raise r.fail(f"{lw}.scatterers", f"expected a count >= 0, got {scatterers}")
    layout = Layout(land=land, built=built, berths=tuple(berths), scatterers=scatterers, **cover)
    note = str(r.get(m, "note", where, "", str)).strip()
    resolved = bool(r.get(m, "resolved", where, True, bool))
    if "polygon" in m:
        pts = r.coords(m["polygon"], f"{where}.polygon", min_points=3)
        poly = _polygon(r, pts, f"{where}.polygon")
        minx, miny, maxx, maxy = poly.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise r.fail(f"{where}.polygon", "expected [lon, lat] pairs in WGS84 degrees")
        if maxx - minx > 180 and maxy - miny <= MAX_SITE_DEG:  # as sitewatch.model.Site says it
            raise r.fail(
                f"{where}.polygon",
                f"site {site_id!r} runs from longitude {minx:g} to {maxx:g}: it crosses the antimeridian (180°), "
                "which a site cannot; split it at 180° into two sites",
            )
        if maxx - minx > MAX_SITE_DEG or maxy - miny > MAX_SITE_DEG:
            # Refused here, before anything is rendered: the simulator would
            # allocate a grid of the whole box (8+ GB for a few degrees).
            raise r.fail(
                f"{where}.polygon",
                f"site {site_id!r} spans {maxx - minx:.2f}° × {maxy - miny:.2f}° of longitude × latitude; "
                f"a site is at most {MAX_SITE_DEG:g}° across: draw it smaller, or make several sites",
            )
        kind = str(m.get("kind") or "port")
        if kind not in SITE_KINDS:
            raise r.fail(f"{where}.kind", f"{kind!r} is not one of {SITE_KINDS}")
        _check_berths_inside(r, layout, poly, lw)
        return SimSite(site_id, str(m.get("name") or site_id), kind, poly, layout, from_gazetteer=False, note=note, resolved=resolved)
    known = builtin_sites()
    if site_id not in known or known[site_id].geometry is None:
        raise r.fail(
            f"{where}.id",
            f"{site_id!r} is not a resolved built-in site; give the site a 'polygon' of [lon, lat] pairs "
            f"(built-in: {', '.join(sorted(k for k, s in known.items() if s.geometry is not None))})",
        )
    s = known[site_id]
    assert s.geometry is not None
    _check_berths_inside(r, layout, s.geometry, lw)
    return SimSite(site_id, str(m.get("name") or s.name), s.kind, s.geometry, layout, from_gazetteer=True, note=note, resolved=resolved)


def _read_series(r: _Reader, m: Mapping[str, Any], where: str, sites: Mapping[str, SimSite]) -> Acquisitions:
    r.known(m, where, _SERIES_KEYS)
    site = r.site(m, where, sites)
    sensor = str(r.get(m, "sensor", where, kind=str))
    if sensor not in SENSORS:
        raise r.fail(f"{where}.sensor", f"{sensor!r} is not one of {SENSORS}")
    start = r.day(r.get(m, "start", where), f"{where}.start")
    end = r.day(r.get(m, "end", where), f"{where}.end")
    if end < start:
        raise r.fail(f"{where}.end", "must not be before start")
    raw_tod = r.get(m, "time_utc", where, "09:30")
    if isinstance(raw_tod, int) and not isinstance(raw_tod, bool):
        # YAML 1.1 reads an unquoted 10:30 as sexagesimal 630.
        hh, mm = divmod(raw_tod, 60) if 0 <= raw_tod < 24 * 60 else (10, 30)  # the time meant
        raise r.fail(f"{where}.time_utc", f"got the number {raw_tod}; write the time in quotes, e.g. \"{hh:02d}:{mm:02d}\"")
    tod = str(raw_tod)
    try:
        parsed = time.fromisoformat(tod)
    except ValueError:
        raise r.fail(f"{where}.time_utc", f"expected HH:MM (UTC), got {tod!r}") from None
    if parsed.tzinfo is not None:
        # Refused rather than converted: a scenario states UTC times, and a silent
        # conversion would move the scenes' dates near midnight.
        offset = parsed.utcoffset() or timedelta(0)
        as_utc = (datetime.combine(date(2000, 1, 1), parsed.replace(tzinfo=None)) - offset).time()
        raise r.fail(
            f"{where}.time_utc",
            f"{tod!r} has a UTC offset; time_utc is UTC without one (here {as_utc:%H:%M}: time_utc: \"{as_utc:%H:%M}\")",
        )
    revisit = r.get(m, "revisit_days", where, 0, int)
    if revisit < 0:
        raise r.fail(f"{where}.revisit_days", "must be >= 0")
    if revisit and (end - start).days // revisit + 1 > MAX_SERIES_DATES:
        # Each date is an image rendered: a daily series from year 1 read for minutes before a word was said.
        raise r.fail(where, f"{(end - start).days // revisit + 1:,} dates from {start} to {end} every {revisit} day(s), more than "
                            f"a series may have ({MAX_SERIES_DATES:,}); narrow start..end or raise revisit_days")  # fmt: skip
    dates = tuple(r.day(d, f"{where}.dates[{i}]") for i, d in enumerate(r.items(m, "dates", where)))
    outside = [d.isoformat() for d in dates if not start <= d <= end]
    if outside:
        raise r.fail(
            f"{where}.dates",
            f"{', '.join(outside)} outside start..end ({start.isoformat()}..{end.isoformat()}); "
            "widen start/end or drop those dates",
        )
    if revisit == 0 and not dates:
        raise r.fail(where, "give revisit_days > 0 or a list of dates")
    prob = r.number(m, "cloud_probability", where, 0.0)
    if not 0 <= prob <= 1:
        raise r.fail(f"{where}.cloud_probability", "must be between 0 and 1")
    name = r.slug(m, "name", where, sensor)
    return Acquisitions(
        name=name,
        site=site,
        sensor=sensor,  # type: ignore[arg-type]
        platform=str(r.get(m, "platform", where, f"simulated-{sensor}", str)),
        collection=str(r.get(m, "collection", where, f"sim-{name}", str)),
        resolution_m=r.number(m, "resolution_m", where, 10.0, positive=True),
        start=start,
        end=end,
        revisit_days=revisit,
        dates=dates,
        time_utc=tod,
        cloud_probability=prob,
        scl=bool(r.get(m, "scl", where, False, bool)),
        enl=r.number(m, "enl", where, 4.6, positive=True),
    )


def _berth(r: _Reader, site: SimSite, berth_id: Any, where: str) -> SimBerth:
    for b in site.layout.berths:
        if b.id == berth_id:
            return b
    raise r.fail(where, f"{berth_id!r} is not a berth of site {site.id!r} (berths: {', '.join(b.id for b in site.layout.berths) or 'none'})")


def _read_vessel(r: _Reader, m: Mapping[str, Any], where: str, sites: Mapping[str, SimSite]) -> Vessel:
    r.known(m, where, _VESSEL_KEYS)
    visits = []
    for i, v in enumerate(r.items(m, "visits", where, True)):
        vw = f"{where}.visits[{i}]"
        r.known(v, vw, _VISIT_KEYS)
        site_id = r.site(v, vw, sites)
        berth_id = r.get(v, "berth", vw, None, str)
        at_m = r.number(v, "at_m", vw, None)
        position = None
        heading = None
        if berth_id is not None and v.get("position") is not None:
            raise r.fail(f"{vw}.position", "give berth (with at_m) or position, not both: a ship at a berth lies along it")
        if berth_id is not None and v.get("heading_deg") is not None:
            raise r.fail(f"{vw}.heading_deg", "a ship at a berth lies along it; heading_deg is for a visit at a position")
        if berth_id is None and at_m is not None:
            raise r.fail(f"{vw}.at_m", "a place along a berth: give the berth too, or drop at_m for a visit at a position")
        if berth_id is not None:
            b = _berth(r, sites[site_id], berth_id, f"{vw}.berth")
            if at_m is not None and not 0 <= at_m <= b.length_m:
                raise r.fail(f"{vw}.at_m", f"{at_m} is outside berth {b.id!r} (0..{b.length_m:.0f} m)")
        else:
            position = r.coords([r.get(v, "position", vw, kind=list)], f"{vw}.position", min_points=1)[0]
            heading = r.number(v, "heading_deg", vw, 0.0)
            _check_position_inside(r, sites[site_id], position, f"{vw}.position")
        visits.append(Visit(site_id, r.window(v, vw), berth_id, at_m, position, heading))
    for i, later in enumerate(visits):
        for j, earlier in enumerate(visits[:i]):
            w = earlier.window
            if later.window.start < w.end and w.start < later.window.end:
                # The renderer draws a ship at one place per scene: the later visit would vanish.
                raise r.fail(
                    f"{where}.visits[{i}]",
                    f"overlaps visits[{j}] ({w.start:%Y-%m-%d %H:%M}..{w.end:%Y-%m-%d %H:%M} UTC, "
                    "end excluded); a vessel is at one place at a time",
                )
    length_m = r.number(m, "length_m", where, positive=True)
    width_m = r.number(m, "width_m", where, positive=True)
    if width_m > length_m:
        raise r.fail(f"{where}.width_m", f"{width_m:g} is more than length_m {length_m:g} (width is the beam)")
    ais = r.get(m, "ais", where, True, bool)
    mmsi = str(r.get(m, "mmsi", where, "", (str, int)))
    if mmsi and not (len(mmsi) == 9 and mmsi.isdigit()):
        raise r.fail(f"{where}.mmsi", f"{mmsi!r} is not an MMSI (9 digits)")
    return Vessel(
        id=str(r.get(m, "id", where, kind=str)),
        vessel_class=str(r.get(m, "class", where, kind=str)),
        length_m=length_m,
        width_m=width_m,
        visits=tuple(visits),
        name=str(m.get("name") or ""),
        tone=r.number(m, "tone", where, 1.0, positive=True),
        ais=bool(ais),
        mmsi=mmsi,
    )


def _read_equipment(r: _Reader, m: Mapping[str, Any], where: str, sites: Mapping[str, SimSite]) -> Equipment:
    kind = str(r.get(m, "kind", where, kind=str))
    if kind not in ("crane", "truck"):
        raise r.fail(f"{where}.kind", f"{kind!r} is not one of ('crane', 'truck')")
    site_id = r.site(m, where, sites)
    b = _berth(r, sites[site_id], r.get(m, "berth", where, kind=str), f"{where}.berth")
    at_m = r.number(m, "at_m", where, b.length_m / 2)
    if not 0 <= at_m <= b.length_m:
        raise r.fail(f"{where}.at_m", f"{at_m} is outside berth {b.id!r} (0..{b.length_m:.0f} m)")
    key = "extended" if kind == "crane" else "present"
    r.known(m, where, _EQUIPMENT_KEYS + (key,))
    windows = r.windows(m, key, where, ("start", "end", "state"), "extended" if kind == "crane" else "present")
    defaults = {"crane": (32.0, 2.5), "truck": (12.0, 2.5)}[kind]
    return Equipment(
        id=str(r.get(m, "id", where, kind=str)),
        kind=kind,  # type: ignore[arg-type]
        site=site_id,
        berth=b.id,
        at_m=at_m,
        length_m=r.number(m, "length_m", where, defaults[0], positive=True),
        width_m=r.number(m, "width_m", where, defaults[1], positive=True),
        windows=tuple(windows),
        inset_m=r.number(m, "inset_m", where, 8.0),
    )


def _read_cloud(r: _Reader, m: Mapping[str, Any], where: str, sites: Mapping[str, SimSite]) -> Cloud:
    r.known(m, where, _CLOUD_KEYS)
    site_id = r.site(m, where, sites)
    cover = r.number(m, "cover", where)
    if not 0 <= cover <= 1:
        raise r.fail(f"{where}.cover", f"must be a fraction between 0 and 1, got {cover}")
    centre = None
    if m.get("centre") is not None:
        centre = r.coords([m["centre"]], f"{where}.centre", min_points=1)[0]
    return Cloud(site_id, r.day(r.get(m, "date", where), f"{where}.date"), cover, centre)


def _read_ground(r: _Reader, m: Mapping[str, Any], where: str, sites: Mapping[str, SimSite]) -> GroundWork:
    kind = str(r.get(m, "kind", where, kind=str))
    if kind not in _GROUND_KEYS:
        raise r.fail(f"{where}.kind", f"{kind!r} is not one of {tuple(_GROUND_KEYS)}")
    r.known(m, where, _GROUND_KEYS[kind])
    site_id = r.site(m, where, sites)
    line = r.coords(r.get(m, "line", where, kind=list), f"{where}.line", min_points=2)
    if any(line[i] == line[i - 1] for i in range(1, len(line))):
        raise r.fail(f"{where}.line", "two points in a row are the same; drop one")
    _check_position_inside(r, sites[site_id], line[0], f"{where}.line[0]")
    common: dict[str, Any] = {"id": r.slug(m, "id", where), "site": site_id, "line": line, "name": str(m.get("name") or "")}
    if kind == "trench":
        dug = r.moment(r.get(m, "dug", where), f"{where}.dug", end=False)
        width = r.number(m, "width_m", where, 8.0, positive=True)
        trench = r.number(m, "trench_m", where, 2.0, positive=True)
        if trench > width:
            raise r.fail(f"{where}.trench_m", f"{trench:g} is wider than the scar (width_m {width:g}) it is part of")
        if r.number(m, "zigzag_m", where, 0.0) < 0:
            raise r.fail(f"{where}.zigzag_m", "must be 0 (a straight line) or more")
        return GroundWork(
            kind="trench", windows=(Window(dug, _FOREVER, "dug"),), width_m=width, trench_m=trench,
            zigzag_m=r.number(m, "zigzag_m", where, 0.0), zigzag_period_m=r.number(m, "zigzag_period_m", where, 20.0, positive=True),
            **common,
        )  # fmt: skip
    windows = r.windows(m, "present", where, ("start", "end"), "present", required=True)
    count = r.get(m, "count", where, kind=int)
    if count < 1:
        raise r.fail(f"{where}.count", f"expected a count of 1 or more, got {count}")
    length = r.number(m, "length_m", where, 7.0, positive=True)
    return GroundWork(
        kind="vehicles", windows=tuple(windows), width_m=r.number(m, "width_m", where, 3.3, positive=True), count=count,
        length_m=length, spacing_m=r.number(m, "spacing_m", where, 2 * length, positive=True), **common,
    )  # fmt: skip


def _check_berths_not_shared(r: _Reader, vessels: Sequence[Vessel], sites: Mapping[str, SimSite]) -> None:
    """Refuse two ships alongside one berth at once whose hulls would lie over each other.

    The renderer would draw one blob where the truth lists two ships (``at_m`` defaults to the
    berth's middle, so two visits without it always collide), and every detector would be
    scored a miss for it.
    """
    placed = []
    for i, vessel in enumerate(vessels):
        for j, v in enumerate(vessel.visits):
            if v.berth is not None:
                berth = next(b for b in sites[v.site].layout.berths if b.id == v.berth)
                placed.append((f"vessels[{i}].visits[{j}]", vessel, v, berth.length_m / 2 if v.at_m is None else v.at_m))
    for k, (where, vessel, v, at) in enumerate(placed):
        for other_where, other, w, other_at in placed[:k]:
            if other is vessel or (v.site, v.berth) != (w.site, w.berth):
                continue
            if v.window.start < w.window.end and w.window.start < v.window.end and abs(at - other_at) < (vessel.length_m + other.length_m) / 2:
                raise r.fail(
                    where,
                    f"{vessel.id} ({vessel.length_m:g} m, at_m {at:g}) lies over {other.id} ({other.length_m:g} m, "
                    f"at_m {other_at:g}; {other_where}) at berth {v.berth!r} of {v.site!r} while both are there; "
                    "give them at_m values at least half their lengths summed apart, or other times",
                )


def scenario_from_mapping(data: Mapping[str, Any], origin: str = "scenario") -> Scenario:
    """Build and check a :class:`Scenario` from parsed YAML/TOML; errors name ``origin`` and the field."""
    r = _Reader(origin)
    if not isinstance(data, Mapping):
        raise r.fail("top level", "expected a mapping of scenario fields")
    r.known(data, "", _TOP_KEYS)
    for key in ("sites", "acquisitions"):
        if r.items(data, key, "", True) == []:
            raise r.fail(key, "empty; a scenario needs at least one (it would simulate nothing)")
    sites: dict[str, SimSite] = {}
    for i, s in enumerate(r.items(data, "sites", "", True)):
        site = _read_site(r, s, f"sites[{i}]")
        if site.id in sites:
            raise r.fail(f"sites[{i}].id", f"duplicate site {site.id!r}")
        sites[site.id] = site
    series = tuple(_read_series(r, a, f"acquisitions[{i}]", sites) for i, a in enumerate(r.items(data, "acquisitions", "", True)))
    vessels = tuple(_read_vessel(r, v, f"vessels[{i}]", sites) for i, v in enumerate(r.items(data, "vessels", "")))
    equipment = tuple(_read_equipment(r, e, f"equipment[{i}]", sites) for i, e in enumerate(r.items(data, "equipment", "")))
    clouds = tuple(_read_cloud(r, c, f"clouds[{i}]", sites) for i, c in enumerate(r.items(data, "clouds", "")))
    ground = tuple(_read_ground(r, g, f"ground[{i}]", sites) for i, g in enumerate(r.items(data, "ground", "")))
    seen: dict[tuple[str, date], int] = {}
    for i, c in enumerate(clouds):
        j = seen.setdefault((c.site, c.day), i)
        if j != i:
            # The renderer takes the first entry of a site and day: the other would be dropped unseen.
            raise r.fail(f"clouds[{i}]", f"repeats clouds[{j}] (site {c.site!r}, {c.day.isoformat()}); give one entry per site and day")
    _check_berths_not_shared(r, vessels, sites)
    for what, objs in (("vessels", vessels), ("equipment", equipment), ("ground", ground)):
        ids = [o.id for o in objs]
        dup = sorted({x for x in ids if ids.count(x) > 1})
        if dup:
            raise r.fail(what, f"ids must be unique, repeated: {dup}")
    name = str(r.get(data, "name", "", kind=str))
    if not name.strip():
        # The name tags every scene: simulate tells its own scenes (to rewrite or drop on a rerun)
        # from another scenario's (refused) by it, and an empty one is neither.
        raise r.fail("name", "empty; give the scenario a name (it tags every scene it simulates)")
    scenario = Scenario(
        name=name,
        title=str(r.get(data, "title", "", "", str)),
        seed=int(r.get(data, "seed", "", 0, int)),
        revisits=str(r.get(data, "revisits", "", "", str)).strip(),
        sites=tuple(sites.values()),
        acquisitions=series,
        vessels=vessels,
        equipment=equipment,
        clouds=clouds,
        ground=ground,
        description=str(r.get(data, "description", "", "", str)).strip(),
        source=origin,
    )
    ids = [p.scene_id for p in plan_scenes(scenario)]
    dup = sorted({x for x in ids if ids.count(x) > 1})
    if dup:
        raise r.fail("acquisitions", f"two series give the same scene ids {dup[:3]}: give them different 'name's")
    return scenario


def _packaged(name: str) -> Path | None:
    res = files("sitewatch").joinpath(f"data/scenarios/{name}.yaml")
    return Path(str(res)) if res.is_file() else None


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Read a scenario file (``.yaml``/``.yml``/``.toml``) or a packaged one by name (``seed-story``)."""
    path = Path(path_or_name)
    if not path.is_file():
        packaged = _packaged(str(path_or_name)) if isinstance(path_or_name, str) else None
        if packaged is None:
            raise InputError(
                f"{path_or_name}: no such scenario file or packaged scenario (packaged: {', '.join(packaged_scenarios())})"
            )
        path = packaged
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows Notepad) is not TOML
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.load(text, Loader=_YamlLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from exc
    except yaml.YAMLError as exc:  # by line and column, as claims and alert rules say it (not "<unicode string>")
        raise InputError(f"{path}: not valid YAML ({yaml_problem(exc, text)})") from exc
    except RecursionError as exc:  # "[[[[…" thousands deep: the parsers recurse
        raise InputError(f"{path}: nested too deeply to read") from exc
    except ValueError as exc:  # TOMLDecodeError, and either parser's int() of a number of more than 4300 digits
        raise InputError(f"{path}: not valid {'TOML' if path.suffix.lower() == '.toml' else 'YAML'} ({exc})") from exc
    return scenario_from_mapping(data, origin=str(path))


def packaged_scenarios() -> list[str]:
    """Names of the scenarios shipped with sitewatch."""
    folder = files("sitewatch").joinpath("data/scenarios")
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


# ---------------------------------------------------------------- planning


def plan_scenes(scenario: Scenario) -> list[PlannedScene]:
    """Every scene of the scenario, ordered by site, then time, then series name."""
    out = []
    for series in scenario.acquisitions:
        tod = time.fromisoformat(series.time_utc)
        for d in series.acquisition_dates():
            t = datetime.combine(d, tod, tzinfo=UTC)
            sid = f"sim-{series.name}-{series.site}-{t:%Y%m%dT%H%M}"
            out.append(PlannedScene(sid, series.site, t, series))
    return sorted(out, key=lambda p: (p.site, p.acquired, p.series.name))


def unseen_visits(scenario: Scenario, scenes: Sequence[PlannedScene] | None = None) -> list[str]:
    """``vessels[i].visits[j]`` (with the vessel id) of every visit that no planned scene of its site sees."""
    planned = plan_scenes(scenario) if scenes is None else scenes
    out = []
    for i, vessel in enumerate(scenario.vessels):
        for j, v in enumerate(vessel.visits):
            if not any(p.site == v.site and v.window.contains(p.acquired) for p in planned):
                out.append(
                    f"vessels[{i}].visits[{j}] ({vessel.id} at {v.site} from {v.window.start:%Y-%m-%d %H:%M}"
                    f" until {v.window.end:%Y-%m-%d %H:%M} UTC)"
                )
    return out


def presence_dates(
    scenario: Scenario, site_id: str, start: date | None = None, end: date | None = None, sensor: str | None = None
) -> list[date]:
    """Acquisition dates at a site (optionally of one sensor, within ``start..end``) on which a vessel is present."""
    days = set()
    for p in plan_scenes(scenario):
        if p.site != site_id or (sensor and p.series.sensor != sensor):
            continue
        d = p.acquired.date()
        if (start and d < start) or (end and d > end):
            continue
        if any(v.site == site_id and v.window.contains(p.acquired) for vessel in scenario.vessels for v in vessel.visits):
            days.add(d)
    return sorted(days)


def shorten(
    scenario: Scenario, days: int, *, start: date | None = None, sites: Iterable[str] | None = None,
    max_scenes_per_series: int | None = None,
) -> Scenario:
    """The scenario cut to ``days`` days from ``start`` (default: its first acquisition), optionally to some sites.

    Made for tests and quick looks; vessels, equipment and clouds are kept
    (the ones outside the window simply appear in no scene).
    """
    keep = set(sites) if sites is not None else {s.id for s in scenario.sites}
    first = start or min(d for a in scenario.acquisitions for d in a.acquisition_dates())
    last = first + timedelta(days=days - 1)
    series = []
    for a in scenario.acquisitions:
        if a.site not in keep:
            continue
        dates = tuple(d for d in a.acquisition_dates() if first <= d <= last)
        if max_scenes_per_series is not None:
            dates = dates[:max_scenes_per_series]
        if dates:
            series.append(dataclasses.replace(a, start=dates[0], end=dates[-1], revisit_days=0, dates=dates))
    return dataclasses.replace(
        scenario,
        name=f"{scenario.name}-short",
        sites=tuple(s for s in scenario.sites if s.id in keep),
        acquisitions=tuple(series),
        vessels=tuple(
            dataclasses.replace(v, visits=tuple(x for x in v.visits if x.site in keep)) for v in scenario.vessels
        ),
        equipment=tuple(e for e in scenario.equipment if e.site in keep),
        clouds=tuple(c for c in scenario.clouds if c.site in keep),
        ground=tuple(g for g in scenario.ground if g.site in keep),
    )


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Polygon):
        return [[round(x, 7), round(y, 7)] for x, y in value.exterior.coords]
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def scenario_to_json(scenario: Scenario, scenes: Sequence[PlannedScene] | None = None) -> dict[str, Any]:
    """The resolved scenario as JSON-ready data (``simulated: true``), with its scene list."""
    out: dict[str, Any] = {"simulated": True}
    out.update(_jsonable(scenario))
    out["source"] = Path(scenario.source).name if scenario.source else ""
    out["scenes"] = [
        {"scene_id": p.scene_id, "site": p.site, "acquired": _jsonable(p.acquired), "series": p.series.name,
         "sensor": p.series.sensor, "platform": p.series.platform, "resolution_m": p.series.resolution_m}
        for p in (scenes if scenes is not None else plan_scenes(scenario))
    ]
    return out
