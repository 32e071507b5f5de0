"""What an AIS file covers: the places it holds positions near, and the area and period a user states.

A file's silence about a vessel says something only where and when the file could have heard it. Its
time span is the first to the last report (:attr:`~sitewatch.analysis.ais_csv.AisReadSummary.first`);
its area is **where its positions are**, not the box around them: a file of a port polygon's traffic,
or two regions' files joined into one, does not cover the land and sea between, and a file with traffic
both sides of the antimeridian (lon 179.9 and -179.9) does not cover every longitude. So the area is
the set of :data:`CELL_DEG` cells (0.1°, about 11 km) holding at least one valid position
(:class:`Footprint`), and an image counts as covered when a held cell reaches within
:data:`COVER_DISTANCE_M` (20 km) of its site's box: a position within 20 km of the site always counts,
one up to about 35 km away may (the far corner of its cell). A quiet anchorage further than that from
any reported position is "not covered" unless the user states the area (:class:`StatedCoverage`).

The box printed for a file (:attr:`Footprint.extent`) is the smallest longitude interval holding its
positions: west greater than east when it runs across 180°.

A user who knows a file's coverage (a provider's "all AIS inside this polygon from T0 to T1", whose quiet
hours hold no report) states it: ``--ais-coverage AREA.geojson`` (:func:`read_coverage_area`) and
``--ais-period FROM/TO`` (:func:`parse_period`). Stated, they replace the positions' cells and the reports'
span: an image of a site touching the area, taken within the period, is covered, whatever the files hold.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError

__all__ = [
    "CELL_DEG",
    "COVER_DISTANCE_M",
    "Footprint",
    "FootprintBuilder",
    "StatedCoverage",
    "read_coverage_area",
    "parse_period",
]

CELL_DEG = 0.1
"""A footprint cell's side (degrees): about 11 km north-south; 3,600 × 1,800 cells over the globe."""

COVER_DISTANCE_M = 20_000.0
"""A file covers a site when a cell holding one of its positions reaches within this of the site's box:
an image's surroundings hold traffic within 20 km in any port or approach an AIS receiver hears."""

_COLS = round(360 / CELL_DEG)
_ROWS = round(180 / CELL_DEG)
_EARTH_RADIUS_M = 6_371_008.8


def _cells(lons: NDArray[np.float64], lats: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Each position's cell column (0 at -180°, wrapping) and row (0 at -90°)."""
    cols = np.floor((lons + 180.0) / CELL_DEG).astype(np.int64) % _COLS  # +180° is -180°: column 0
    rows = np.clip(np.floor((lats + 90.0) / CELL_DEG).astype(np.int64), 0, _ROWS - 1)
    return cols, rows


@dataclass(frozen=True)
class Footprint:
    """The cells of one file's valid positions, and its antimeridian-aware box."""

    cells: frozenset[int]
    """row × 3600 + column of each :data:`CELL_DEG` cell holding a position."""
    extent: tuple[float, float, float, float] | None
    """West, south, east, north (degrees; west > east across 180°); None without a position."""

    def reaches(self, west: float, south: float, east: float, north: float, distance_m: float = COVER_DISTANCE_M) -> bool:
        """Whether a held cell lies within ``distance_m`` of the box (lon/lat degrees, west <= east)."""
        if not self.cells:
            return False
        dlat = math.degrees(distance_m / _EARTH_RADIUS_M)
        s, n = max(south - dlat, -90.0), min(north + dlat, 90.0)
        widest = max(abs(s), abs(n))  # the box's widest degree of longitude in metres is at its pole-most edge
        dlon = math.degrees(distance_m / (_EARTH_RADIUS_M * max(math.cos(math.radians(widest)), 1e-6)))
        w, e = west - dlon, east + dlon
        r0, r1 = (int(math.floor((v + 90.0) / CELL_DEG)) for v in (s, n))
        r0, r1 = max(r0, 0), min(r1, _ROWS - 1)
        if e - w >= 360:
            c0, c1 = 0, _COLS - 1
        else:
            c0, c1 = (int(math.floor((v + 180.0) / CELL_DEG)) for v in (w, e))  # may run past ±180: wrapped below
        if (r1 - r0 + 1) * (c1 - c0 + 1) > len(self.cells):  # a huge box: test the cells instead
            cols = {c % _COLS for c in range(c0, c1 + 1)} if c1 - c0 < _COLS else set(range(_COLS))
            return any(r0 <= cell // _COLS <= r1 and cell % _COLS in cols for cell in self.cells)
        return any(r * _COLS + c % _COLS in self.cells for r in range(r0, r1 + 1) for c in range(c0, c1 + 1))


class FootprintBuilder:
    """A file's footprint gathered a chunk of positions at a time (:meth:`add`), then :meth:`build`."""

    def __init__(self) -> None:
        self._held = np.zeros(_ROWS * _COLS, dtype=bool)  # 6.5 MB: marking cells costs a fancy assignment a chunk
        self._west = np.full(_COLS, np.inf)  # per column the least and greatest longitude: the box's exact edges
        self._east = np.full(_COLS, -np.inf)
        self._south, self._north = math.inf, -math.inf

    def add(self, lons: NDArray[np.float64], lats: NDArray[np.float64]) -> None:
        """Valid positions (lon in -180..180, lat in -90..90)."""
        if not lons.size:
            return
        lons = np.where(lons == 180.0, -180.0, lons)  # one meridian: kept on one side, as its column
        cols, rows = _cells(lons, lats)
        self._held[rows * _COLS + cols] = True
        np.fmin.at(self._west, cols, lons)
        np.fmax.at(self._east, cols, lons)
        self._south, self._north = min(self._south, float(lats.min())), max(self._north, float(lats.max()))

    def build(self) -> Footprint:
        """The footprint of the positions added so far."""
        held = np.flatnonzero(np.isfinite(self._west))
        if not held.size:
            return Footprint(frozenset(), None)
        west, east = self._west[held], self._east[held]
        # The smallest interval holding every longitude is the circle less its widest empty gap.
        gaps = west[1:] - east[:-1]
        around = west[0] + 360.0 - east[-1]  # the gap across 180°
        if gaps.size and float(gaps.max()) > around:
            k = int(np.argmax(gaps))
            w, e = float(west[k + 1]), float(east[k])  # runs across 180°: west > east
        else:
            w, e = float(west[0]), float(east[-1])
        return Footprint(frozenset(np.flatnonzero(self._held).tolist()), (w, self._south, e, self._north))


def extent_text(extent: tuple[float, float, float, float]) -> str:
    """A box as words: 'lon 131.00 to 132.00, lat 42.00 to 43.00', saying when it runs across 180°."""
    west, south, east, north = extent
    across = " (across 180°)" if west > east else ""
    return f"lon {west:.2f} to {east:.2f}{across}, lat {south:.2f} to {north:.2f}"


@dataclass(frozen=True)
class StatedCoverage:
    """The area and period the user says the AIS files cover (either may be left to the files)."""

    area: Any = None
    """A shapely (Multi)Polygon in lon/lat, or None: the files' positions say."""
    area_source: str = ""
    """The file it was read from, as named."""
    start: datetime | None = None
    end: datetime | None = None
    """The period (aware, UTC, both ends included), or None: the files' reports say."""

    def __post_init__(self) -> None:
        if (self.start is None) != (self.end is None):
            raise InputError("a stated AIS period needs both its start and its end (FROM/TO)")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise InputError(f"the stated AIS period ends ({self.end:%Y-%m-%dT%H:%M:%SZ}) before it starts "
                             f"({self.start:%Y-%m-%dT%H:%M:%SZ}): give FROM/TO in that order")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """For --json: the area's file and bounds, the period as ISO 8601 UTC."""
        return {
            "area": self.area_source or None,
            "area_bounds": [round(v, 6) for v in self.area.bounds] if self.area is not None else None,
            "start": self.start.strftime("%Y-%m-%dT%H:%M:%SZ") if self.start else None,
            "end": self.end.strftime("%Y-%m-%dT%H:%M:%SZ") if self.end else None,
        }


def parse_period(text: str) -> tuple[datetime, datetime]:
    """``FROM/TO`` (ISO 8601 dates or times, UTC unless they say): a date alone as FROM is its first moment,
    as TO its whole day. Raises :class:`InputError` naming the value."""
    from datetime import timedelta

    from ..model import parse_date_or_time

    parts = text.split("/")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise InputError(f"{text!r} is not a period: give FROM/TO, e.g. 2024-10-17/2024-10-18 or "
                         "2024-10-17T06:00Z/2024-10-17T18:00Z")  # fmt: skip
    start, _ = parse_date_or_time(parts[0])
    end, end_date_only = parse_date_or_time(parts[1])
    if end_date_only:
        end = end + timedelta(days=1) - timedelta(microseconds=1)
    if end < start:
        raise InputError(f"{text!r} ends before it starts: give FROM/TO in that order")
    return start, end


def read_coverage_area(path: str | Path) -> Any:
    """The (Multi)Polygon of a GeoJSON file (a FeatureCollection, a Feature or a bare geometry; several
    polygons are their union) in lon/lat: the area an AIS delivery covers. An error names the file and
    what is wrong (no polygon, not lon/lat, across 180° as one polygon)."""
    from shapely.geometry import shape
    from shapely.ops import unary_union
    from shapely.validation import make_valid

    from ..geo import reproject_geometry
    from ..sites import _geojson_crs

    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(f"{path}: cannot read the AIS coverage area ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise InputError(f"{path}: not JSON ({exc}); give the area as a GeoJSON polygon (--ais-coverage AREA.geojson)") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a GeoJSON object; give a FeatureCollection, Feature or Polygon")
    kind = data.get("type")
    if kind == "FeatureCollection":
        raw = [f.get("geometry") for f in data.get("features") or [] if isinstance(f, dict)]
    elif kind == "Feature":
        raw = [data.get("geometry")]
    else:
        raw = [data]
    geoms = []
    for g in raw:
        if not isinstance(g, dict) or g.get("type") not in ("Polygon", "MultiPolygon"):
            what = g.get("type") if isinstance(g, dict) else g
            raise InputError(f"{path}: holds a {what!r}, not a Polygon or MultiPolygon: the AIS coverage is an area")
        try:
            geoms.append(shape(g))
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            raise InputError(f"{path}: a polygon cannot be read ({exc})") from exc
    if not geoms:
        raise InputError(f"{path}: holds no polygon; give the area the AIS files cover as a GeoJSON polygon")
    area = unary_union([make_valid(g) for g in geoms])
    crs = _geojson_crs(data, str(path))
    if crs is not None:
        area = reproject_geometry(area, crs, "EPSG:4326")
    minx, miny, maxx, maxy = area.bounds
    if area.is_empty or area.area == 0:
        raise InputError(f"{path}: the area is empty (its polygons enclose nothing)")
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InputError(f"{path}: coordinates {tuple(round(v, 4) for v in area.bounds)} are not lon/lat degrees within "
                         "±180, ±90; an area across 180° is two polygons (a MultiPolygon), one each side")  # fmt: skip
    return area
