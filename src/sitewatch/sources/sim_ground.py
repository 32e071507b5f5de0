"""Open ground for the simulator: the season of fields and forest, and what is dug or parked on it.

Pure geometry and colour; :mod:`sitewatch.sources.simulate` draws them. Everything here is
SIMULATED: the shapes and reflectances are plausible round numbers, not measurements.

* **Season.** A site with forest or fields follows the autumn of the northern temperate zone:
  from mid-September (day 258) to the end of October (day 305) its leaves turn and fall and its
  meadows dry, each linearly in time (:func:`season_of`), and the noon sun sinks (:func:`sun_factor`).
  Neither is a change of interest; both change every pixel of vegetation a little between two dates.
* **Trenches.** A fighting trench is 1-3 m wide and dug in short straight bays that zig and zag
  (so a blast or a shooter cannot rake its length); the spoil thrown out either side makes a scar
  of bare earth 5-10 m wide along it (:func:`trench_geometry`).
* **Vehicles.** A row of vehicles a few metres each, parked nose to tail or side by side
  (:func:`vehicle_boxes`).
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from rasterio.features import rasterize
from rasterio.transform import from_origin
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from .scenario import GroundWork
from .sim_render import Box, PixelGrid

__all__ = [
    "BARE",
    "SPOIL",
    "TRENCH_FLOOR",
    "VEHICLE",
    "area_coverage",
    "season_of",
    "seasonal_colours",
    "sun_factor",
    "trench_geometry",
    "vehicle_boxes",
]

F64 = NDArray[np.float64]

# Reflectance (blue, green, red, nir) of the open-ground surfaces.
BARE = np.array([0.100, 0.125, 0.150, 0.210])
"""Worn, dry bare ground of a training area or track."""
SPOIL = np.array([0.075, 0.095, 0.120, 0.160])
"""Freshly dug subsoil thrown out of a trench: moist, darker than the worn surface."""
TRENCH_FLOOR = np.array([0.025, 0.030, 0.035, 0.050])
"""Inside a trench: its walls shade the floor."""
VEHICLE = np.array([0.030, 0.045, 0.040, 0.090])
"""Olive-painted vehicles."""

# Vegetation at the start and at the end of the autumn.
_FOREST = (np.array([0.030, 0.055, 0.035, 0.300]), np.array([0.040, 0.060, 0.075, 0.210]))
_FIELDS = (np.array([0.040, 0.075, 0.060, 0.280]), np.array([0.065, 0.085, 0.105, 0.220]))
_AUTUMN_DAYS = (258, 305)
"""Day of the year the autumn starts (15 September) and ends (31 October)."""


def season_of(t: datetime) -> float:
    """How far the autumn has gone on ``t``: 0 before mid-September, 1 from the end of October."""
    day = t.timetuple().tm_yday
    start, end = _AUTUMN_DAYS
    return float(min(1.0, max(0.0, (day - start) / (end - start))))


def seasonal_colours(t: datetime) -> tuple[F64, F64]:
    """Reflectance of forest and of fields on ``t``."""
    f = season_of(t)
    return _FOREST[0] + f * (_FOREST[1] - _FOREST[0]), _FIELDS[0] + f * (_FIELDS[1] - _FIELDS[0])


def sun_factor(t: datetime, lat_deg: float) -> float:
    """Brightness of the ground at local noon on ``t`` relative to the equinox's, at latitude ``lat_deg``.

    Surface reflectance is corrected for the sun's elevation, but not fully (slopes, shade, the
    surface's own angular response): a fifth of the change of sin(elevation) is kept.
    """
    day = t.timetuple().tm_yday
    decl = 23.44 * math.sin(math.radians(360.0 / 365.0 * (day - 81)))
    elev, equinox = math.radians(90.0 - lat_deg + decl), math.radians(90.0 - lat_deg)
    return 1.0 + 0.2 * (math.sin(elev) / math.sin(equinox) - 1.0)


def _zigzag(course: LineString, amplitude: float, period: float) -> LineString:
    """The course swung ``amplitude`` metres either side, changing side every ``period`` metres."""
    if amplitude <= 0:
        return course
    n = max(1, round(course.length / period))
    pts = []
    for k in range(n + 1):
        d = course.length * k / n
        a, b = course.interpolate(max(0.0, d - 0.5)), course.interpolate(min(course.length, d + 0.5))
        tx, ty = b.x - a.x, b.y - a.y
        norm = math.hypot(tx, ty) or 1.0
        p = course.interpolate(d)
        s = amplitude * (1 if k % 2 else -1)
        pts.append((p.x - ty / norm * s, p.y + tx / norm * s))
    return LineString(pts)


def trench_geometry(work: GroundWork, cx: float, cy: float) -> tuple[BaseGeometry, BaseGeometry, float]:
    """The scar (trench and spoil) and the trench itself, absolute UTM metres, and the trench's length."""
    course = LineString([(cx + x, cy + y) for x, y in work.line])
    line = _zigzag(course, work.zigzag_m, work.zigzag_period_m)
    scar = line.buffer(work.width_m / 2, cap_style="flat", join_style="mitre", mitre_limit=3.0)
    core = line.buffer(work.trench_m / 2, cap_style="flat", join_style="mitre", mitre_limit=3.0)
    return scar, core, float(line.length)


def vehicle_boxes(work: GroundWork, cx: float, cy: float) -> list[Box]:
    """The row's vehicles, the first centred on the first point of ``line``, along it toward the second."""
    (x0, y0), (x1, y1) = work.line[0], work.line[1]
    dx, dy = x1 - x0, y1 - y0
    norm = math.hypot(dx, dy)
    ux, uy = dx / norm, dy / norm
    # Parked side by side: the long axis across the row.
    heading = math.degrees(math.atan2(-uy, ux)) % 180.0
    return [
        Box(cx + x0 + ux * k * work.spacing_m, cy + y0 + uy * k * work.spacing_m, heading, work.length_m, work.width_m)
        for k in range(work.count)
    ]


def area_coverage(geom: BaseGeometry, grid: PixelGrid, *, sub_m: float = 0.5) -> tuple[tuple[slice, slice], F64] | None:
    """Fraction of each pixel inside ``geom`` (absolute UTM), rasterised on sub-pixels of about ``sub_m``
    metres in the window of pixels the shape touches; None when it misses the grid."""
    if geom.is_empty:
        return None
    minx, miny, maxx, maxy = geom.bounds
    c0 = max(int(math.floor((minx - grid.x0) / grid.res)), 0)
    c1 = min(int(math.ceil((maxx - grid.x0) / grid.res)), grid.width)
    r0 = max(int(math.floor((grid.y0 - maxy) / grid.res)), 0)
    r1 = min(int(math.ceil((grid.y0 - miny) / grid.res)), grid.height)
    if c1 <= c0 or r1 <= r0:
        return None
    ss = max(1, round(grid.res / sub_m))
    transform = from_origin(grid.x0 + c0 * grid.res, grid.y0 - r0 * grid.res, grid.res / ss, grid.res / ss)
    fine = rasterize([(geom, 1)], out_shape=((r1 - r0) * ss, (c1 - c0) * ss), transform=transform, dtype="uint8")
    frac = fine.reshape(r1 - r0, ss, c1 - c0, ss).mean(axis=(1, 3), dtype=np.float64)
    return (slice(r0, r1), slice(c0, c1)), frac
