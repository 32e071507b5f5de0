"""Simulated imagery with ground truth: SAR and optical scenes of a scenario's sites.

Everything written here is **simulated** and labelled so: the geography of
each site (land, piers, berths) is made up by the scenario, and so are the
ships. The pipeline runs on it exactly as on real imagery, which is what the
built-in demo (``sitewatch demo``) and the evaluation need.

Usage::

    from sitewatch.sources.simulate import load_scenario, simulate
    paths = simulate(load_scenario("seed-story"), Path("sim"), seed=7)

Contract of the output (the ingest and detection stages rely on it):

* ``out_dir/scenario.json`` -- the resolved scenario (``simulated: true``,
  its ``revisits`` statement, the seed and the list of scenes).
* ``out_dir/<site>/layout.geojson`` -- the site polygon with its simulated
  berths (lines) and water polygon, WGS84, in the format of
  :func:`sitewatch.sites.sites_to_geojson` (roles ``site``/``berth``/``water``),
  readable with :func:`sitewatch.sites.read_sites_file`.
* ``out_dir/<site>/<scene_id>.tif`` -- a north-up GeoTIFF in the site's UTM
  zone (:func:`sitewatch.geo.utm_crs_for` of the site centroid) covering the
  site polygon; the grid is snapped to multiples of 30 m so 10 m and 3 m
  scenes align. Scene ids are ``sim-<series>-<site>-<YYYYMMDDTHHMM>``.

  - SAR (``sar``): one float32 band ``VV``, linear sigma0, multiplicative
    Gamma speckle of the series' equivalent number of looks (default 4.6),
    nodata NaN (none in practice). Water around -19 dB (varying with a per-scene
    "wind"), land -9 dB (vegetation) to -5 dB (built-up), persistent bright point
    scatterers on built land at least 40 m from the water, ships as extended
    targets around -4 dB with +5..+9 dB scatterers whose sidelobes cross along
    the image axes.
  - Optical (``optical``): float32 reflectance 0..1, bands ``blue``,
    ``green``, ``red``, ``nir``; series with ``scl: true`` (the Sentinel-2-like
    ones) add a float32 band ``SCL`` with Sentinel-2 scene classes (3 cloud
    shadow, 4 vegetation, 5 built/bare, 6 water, 8/9 cloud medium/high, 10 thin
    cloud). Ships do not change the SCL class of the water under them.
    Cranes and trucks are drawn only in scenes of 5 m or finer. A site with forest or fields
    follows the season (:mod:`sitewatch.sources.sim_ground`): their colours and the sun's
    elevation change with the date; its ``ground`` works (trenches, vehicles) are drawn at
    every resolution, mixed into the pixels they cover.
  - Dataset tags: ``SITEWATCH_SIMULATED=true``, ``SITEWATCH_SCENE_ID``,
    ``SITEWATCH_SITE``, ``SITEWATCH_SENSOR`` (sar|optical),
    ``SITEWATCH_PLATFORM``, ``SITEWATCH_COLLECTION``, ``SITEWATCH_ACQUIRED``
    (``YYYY-MM-DDTHH:MM:SSZ``), ``SITEWATCH_RESOLUTION_M``,
    ``SITEWATCH_SCENARIO``, ``SITEWATCH_REVISIT`` (the series' revisit in words),
    ``SITEWATCH_REVISITS_NOTE`` (the scenario's revisit statement),
    ``SITEWATCH_SEED``, ``TIFFTAG_DATETIME``; optical
    adds ``SITEWATCH_CLOUD_COVER`` (percent of the scene), SAR adds
    ``SITEWATCH_POLARIZATION=VV``, ``SITEWATCH_ENL`` and ``SITEWATCH_IMPULSE_RESPONSE_M=0``
    (hulls are drawn without the radar's impulse response, so the detector takes their
    widths as measured).

* ``out_dir/<site>/<scene_id>.truth.geojson`` -- WGS84 FeatureCollection with
  properties ``scene_id``, ``acquired``, ``sensor``, ``site``, ``resolution_m``,
  ``simulated: true``; one feature per object drawn in the scene: properties
  ``id`` (stable across scenes), ``kind`` (vessel|crane|truck|vehicle|trench), ``class``,
  ``name``, ``length_m``, ``width_m``, ``heading_deg`` (long axis, clockwise
  from north, in [0, 180)), ``berth`` (id or null), ``visible`` (false when
  under cloud in optical), ``state`` (cranes: extended|retracted) and an
  oriented-rectangle polygon. Ground works add kind ``vehicle`` (with the
  ``group`` of their row) and kind ``trench`` (the scar of trench and spoil
  as a polygon, its ``length_m``, ``width_m``, ``trench_m`` and ``since``,
  the time it was dug).

The same scenario and seed give byte-identical files: each scene draws from
its own generator seeded by SHA-256 of (seed, scene id), and nothing records
the wall clock.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.errors
from numpy.typing import NDArray
from rasterio.features import rasterize
from rasterio.transform import from_origin
from scipy import ndimage
from shapely.geometry import LineString, Point, Polygon, mapping
from shapely.ops import unary_union

from ..errors import InputError, OutputError, SitewatchError
from ..files import owner_of, owner_running, partial_path, why_not_written
from ..geo import reproject_geometry
from ..model import Berth, Site
from ..sites import sites_to_geojson
from .scenario import (
    SNAP_M,
    Acquisitions,
    Cloud,
    Equipment,
    GroundWork,
    PlannedScene,
    Scenario,
    SimBerth,
    SimSite,
    Vessel,
    Visit,
    layout_origin,
    load_scenario,
    plan_scenes,
    presence_dates,
    scenario_to_json,
    shorten,
)
from .sim_ground import (
    BARE,
    SPOIL,
    TRENCH_FLOOR,
    VEHICLE,
    area_coverage,
    seasonal_colours,
    sun_factor,
    trench_geometry,
    vehicle_boxes,
)
from .sim_render import (
    Box,
    PixelGrid,
    cloud_field,
    coverage,
    psf_spread,
    shift_field,
    smooth_noise,
    speckle,
)

__all__ = [
    "Scenario",
    "PlannedScene",
    "load_scenario",
    "plan_scenes",
    "presence_dates",
    "shorten",
    "simulate",
    "layout_site",
    "SNAP_M",
]

F64 = NDArray[np.float64]


# Reflectance (blue, green, red, nir) of the surfaces: clear coastal water,
# autumn vegetation, concrete, a grey-painted deck, cloud tops.
_WATER = np.array([0.045, 0.040, 0.022, 0.012])
_VEGETATION = np.array([0.035, 0.060, 0.050, 0.260])
_BUILT = np.array([0.150, 0.160, 0.170, 0.210])
_DECK = np.array([0.100, 0.105, 0.110, 0.120])
_SUPERSTRUCTURE = np.array([0.230, 0.240, 0.250, 0.270])
_CRANE = np.array([0.060, 0.300, 0.420, 0.450])
_TRUCK = np.array([0.030, 0.045, 0.040, 0.100])  # olive canvas cover
_CRANE_BASE = np.array([0.090, 0.200, 0.260, 0.300])
_CLOUD = np.array([0.620, 0.630, 0.640, 0.660])
_BAND_NAMES = ("blue", "green", "red", "nir")

_BERTH_GAP_M = 2.0  # fenders: hull side to quay face
_HIGH_RES_M = 5.0  # cranes and trucks are drawn at this resolution or finer


def _stable_seed(*parts: object) -> int:
    """A 64-bit seed from text parts (Python's ``hash()`` is salted per process)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(_stable_seed(*parts))


# ---------------------------------------------------------------- site geometry


@dataclass(frozen=True)
class _Frame:
    """Where a site's layout metres sit in its UTM zone."""

    crs: str
    cx: float
    cy: float
    land: Any
    """Union of the land polygons, UTM metres (absolute)."""
    built: Any
    water_side: dict[str, float]
    """Berth id -> +1 when the water is on the left of the line's direction, -1 on the right."""
    forest: Any = None
    """Forest, fields and bare ground on land (absolute UTM), none overlapping another or built-up land."""
    fields: Any = None
    bare: Any = None

    def xy(self, pts: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(self.cx + x, self.cy + y) for x, y in pts]


def _frame(site: SimSite) -> _Frame:
    # The layout origin sits on the grid (multiples of SNAP_M), so layout lines
    # at multiples of the pixel size (straight quay faces) fall on pixel edges.
    crs, cx, cy = layout_origin(site.polygon)

    def absolute(pts: Sequence[tuple[float, float]]) -> Polygon:
        return Polygon([(cx + x, cy + y) for x, y in pts])

    land = unary_union([absolute(p) for p in site.layout.land])
    built = unary_union([absolute(p) for p in site.layout.built]).intersection(land) if site.layout.built else Polygon()
    sides = {}
    for b in site.layout.berths:
        (px, py), (tx, ty) = _point_on_line(b, b.length_m / 2)
        left = Point(cx + px - ty * 20.0, cy + py + tx * 20.0)  # 20 m to the left of the line
        sides[b.id] = -1.0 if land.contains(left) else 1.0
    lay = site.layout
    if not (lay.forest or lay.fields or lay.bare):
        return _Frame(crs, cx, cy, land, built, sides)
    # Each cover without what built-up land and the covers before it hold: a track or a building
    # over a field is the track, bare ground (a training area) cut from a forest is bare.
    taken = built
    covers = {}
    for key in ("bare", "forest", "fields"):
        polys = getattr(lay, key)
        part = unary_union([absolute(p) for p in polys]).intersection(land).difference(taken) if polys else Polygon()
        covers[key] = part
        taken = taken.union(part)
    return _Frame(crs, cx, cy, land, built, sides, covers["forest"], covers["fields"], covers["bare"])


def _point_on_line(berth: SimBerth, at_m: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Point ``at_m`` metres along the berth line and the unit tangent there (layout metres)."""
    pts = np.asarray(berth.line, dtype=float)
    seg = np.diff(pts, axis=0)
    lens = np.hypot(seg[:, 0], seg[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(lens)])
    i = int(np.clip(np.searchsorted(cum, at_m, side="right") - 1, 0, len(seg) - 1))
    t = seg[i] / lens[i]
    p = pts[i] + t * (at_m - cum[i])
    return (float(p[0]), float(p[1])), (float(t[0]), float(t[1]))


def _bearing(tx: float, ty: float) -> float:
    """Axis direction of a vector, degrees clockwise from north, in [0, 180)."""
    return round(math.degrees(math.atan2(tx, ty)) % 180.0, 6) % 180.0


def _at_berth(frame: _Frame, berth: SimBerth, at_m: float, offset_m: float) -> tuple[float, float, float, float, float]:
    """Absolute point ``offset_m`` to the water side (negative: land side) of the berth at ``at_m``.

    Returns (x, y, heading along the quay, normal x, normal y) with the normal pointing to the water.
    """
    (px, py), (tx, ty) = _point_on_line(berth, at_m)
    s = frame.water_side[berth.id]
    nx, ny = -ty * s, tx * s
    return frame.cx + px + nx * offset_m, frame.cy + py + ny * offset_m, _bearing(tx, ty), nx, ny


def _vessel_box(frame: _Frame, site: SimSite, vessel: Vessel, visit: Visit) -> Box:
    if visit.berth is not None:
        berth = next(b for b in site.layout.berths if b.id == visit.berth)
        at = visit.at_m if visit.at_m is not None else berth.length_m / 2
        x, y, heading, _, _ = _at_berth(frame, berth, at, _BERTH_GAP_M + vessel.width_m / 2)
        return Box(x, y, heading, vessel.length_m, vessel.width_m)
    assert visit.position is not None
    return Box(
        frame.cx + visit.position[0], frame.cy + visit.position[1], (visit.heading_deg or 0.0) % 180.0,
        vessel.length_m, vessel.width_m,
    )


def _equipment_box(frame: _Frame, site: SimSite, eq: Equipment, state: str) -> Box:
    berth = next(b for b in site.layout.berths if b.id == eq.berth)
    x, y, heading, nx, ny = _at_berth(frame, berth, eq.at_m, -eq.inset_m)
    if eq.kind == "crane" and state == "extended":
        # Boom from the base on the quay out over the berth, across the quay face.
        return Box(x + nx * eq.length_m / 2, y + ny * eq.length_m / 2, _bearing(nx, ny), eq.length_m, eq.width_m)
    if eq.kind == "crane":
        # Retracted (stowed) boom lies along the quay.
        (_, _), (tx, ty) = _point_on_line(berth, eq.at_m)
        return Box(x + tx * eq.length_m / 2, y + ty * eq.length_m / 2, heading, eq.length_m, eq.width_m)
    return Box(x, y, heading, eq.length_m, eq.width_m)


def _pixel_grid(site: SimSite, crs: str, res: float) -> PixelGrid:
    minx, miny, maxx, maxy = reproject_geometry(site.polygon, "EPSG:4326", crs).bounds
    x0 = math.floor(minx / SNAP_M) * SNAP_M
    y1 = math.ceil(maxy / SNAP_M) * SNAP_M
    x1 = math.ceil(maxx / SNAP_M) * SNAP_M
    y0 = math.floor(miny / SNAP_M) * SNAP_M
    return PixelGrid(x0, y1, res, int(math.ceil((x1 - x0) / res - 1e-9)), int(math.ceil((y1 - y0) / res - 1e-9)))


def layout_site(site: SimSite, scenario_name: str = "") -> Site:
    """The site as a :class:`~sitewatch.model.Site` with its simulated berths and water, WGS84."""
    frame = _frame(site)
    to_wgs = lambda g: _round_geom(reproject_geometry(g, frame.crs, "EPSG:4326"))  # noqa: E731
    berths = tuple(
        Berth(id=b.id, name=b.name, geometry=to_wgs(LineString(frame.xy(b.line)))) for b in site.layout.berths
    )
    area = reproject_geometry(site.polygon, "EPSG:4326", frame.crs)
    water = area.difference(frame.land)
    water = None if water.is_empty else to_wgs(water)  # an inland site (a training ground) has none
    return Site(
        id=site.id,
        name=site.name,
        kind=site.kind,
        geometry=site.polygon,
        berths=berths,
        water=water,
        tags=("simulated",),
        resolved=site.resolved,
        coord_source=(
            f"site polygon from the {'built-in gazetteer' if site.from_gazetteer else 'scenario'}; "
            f"berths and water from the SIMULATED layout of scenario {scenario_name!r}"
        ),
        note=(
            "SIMULATED geography: land, piers, berths and water are made up for the simulator, not mapped. " + site.note
        ).strip(),
    )


def _round_geom(geom: Any) -> Any:
    import shapely

    return shapely.transform(geom, lambda a: np.round(a, 7))


# ---------------------------------------------------------------- static rasters per site and resolution


@dataclass(frozen=True)
class _Base:
    """What does not change between scenes of one site at one resolution."""

    frame: _Frame
    grid: PixelGrid
    land: F64
    built: F64
    sar_land: F64
    """Mean sigma0 of the land part of each pixel (linear)."""
    water_db: F64
    """Spatial pattern of water brightness (dB offsets, sheltered water darker)."""
    sar_points: F64
    """Persistent point scatterers, already spread by the PSF (linear sigma0)."""
    optical: F64
    """Cloud-free reflectance without ships, (4, H, W)."""
    scl: F64
    texture: F64
    seasonal: F64 | None = None
    """Forest and fields fractions times their texture, (2, H, W): coloured per scene by the season."""
    trenches: dict[str, tuple[Any, tuple[tuple[slice, slice], F64] | None, tuple[tuple[slice, slice], F64] | None, float]] = field(
        default_factory=dict
    )
    """Trench id -> (scar polygon, scar coverage, trench coverage, trench length in metres)."""


def _fraction(geom: Any, grid: PixelGrid) -> F64:
    """Fraction of each pixel inside ``geom`` (absolute UTM), by rasterising a finer grid."""
    if geom.is_empty:
        return np.zeros((grid.height, grid.width))
    ss = 4 if grid.res >= 5 else 2
    transform = from_origin(grid.x0, grid.y0, grid.res / ss, grid.res / ss)
    fine = rasterize([(geom, 1)], out_shape=(grid.height * ss, grid.width * ss), transform=transform, dtype="uint8")
    return fine.reshape(grid.height, ss, grid.width, ss).mean(axis=(1, 3), dtype=np.float64)


def _base(site: SimSite, res: float, seed: int, ground: Sequence[GroundWork] = ()) -> _Base:
    frame = _frame(site)
    grid = _pixel_grid(site, frame.crs, res)
    shape = (grid.height, grid.width)
    land = _fraction(frame.land, grid)
    built = np.minimum(_fraction(frame.built, grid), land)
    veg = land - built
    rng = _rng(seed, site.id, "static", res)
    texture = smooth_noise(rng, shape, max(1.0, 60.0 / res))
    fine = smooth_noise(rng, shape, max(1.0, 15.0 / res))
    # SAR: vegetation about -9 dB, built-up about -5 dB, both textured.
    sar_land = veg * 10 ** ((-9.0 + 1.5 * texture) / 10) + built * 10 ** ((-5.0 + 2.0 * fine) / 10)
    sar_land = np.where(land > 0, sar_land / np.maximum(land, 1e-9), 0.0)
    # Water near the shore is sheltered from the wind, hence darker.
    dist_m = ndimage.distance_transform_edt(land < 0.5) * res
    water_db = 1.0 * smooth_noise(rng, shape, max(2.0, 800.0 / res)) - 2.0 * np.exp(-dist_m / 300.0)
    # Persistent scatterers on built land, far enough from the water that their
    # sidelobes stay on land (3 taps of the PSF at 10 m).
    solid = ndimage.distance_transform_edt(land >= 0.99) * res
    cand = np.flatnonzero((built.ravel() > 0.9) & (solid.ravel() > 40.0))
    impulses = np.zeros(shape)
    if cand.size and site.layout.scatterers > 0:
        pick = rng.choice(cand, size=min(site.layout.scatterers, cand.size), replace=False)
        impulses.flat[np.sort(pick)] = 10 ** rng.uniform(0.5, 2.0, size=pick.size)
    sar_points = psf_spread(impulses) if res >= _HIGH_RES_M else impulses
    # Optical: mix of the surfaces by fraction, with texture on land.
    tex = 1.0 + 0.12 * texture[None] + 0.05 * fine[None]
    water_frac = 1.0 - land
    optical = (
        water_frac[None] * _WATER[:, None, None]
        + veg[None] * _VEGETATION[:, None, None] * tex
        + built[None] * _BUILT[:, None, None] * (1.0 + 0.08 * fine[None])
    )
    scl = np.where(water_frac > 0.5, 6.0, np.where(built >= veg, 5.0, 4.0))
    if frame.forest is None:
        return _Base(frame, grid, land, built, sar_land, water_db, sar_points, optical, scl, texture)
    return _open_ground(site, frame, grid, land, built, sar_land, water_db, sar_points, texture, fine, ground)


def _open_ground(
    site: SimSite, frame: _Frame, grid: PixelGrid, land: F64, built: F64, sar_land: F64, water_db: F64,
    sar_points: F64, texture: F64, fine: F64, ground: Sequence[GroundWork],
) -> _Base:  # fmt: skip
    """The optical base of a site with forest, fields or bare ground: the season's part kept apart."""
    forest, fields, bare = (np.minimum(_fraction(g, grid), land - built) for g in (frame.forest, frame.fields, frame.bare))
    veg = np.clip(land - built - forest - fields - bare, 0.0, None)
    tex = 1.0 + 0.12 * texture[None] + 0.05 * fine[None]
    optical = (
        (1.0 - land)[None] * _WATER[:, None, None]
        + veg[None] * _VEGETATION[:, None, None] * tex
        + built[None] * _BUILT[:, None, None] * (1.0 + 0.08 * fine[None])
        + bare[None] * BARE[:, None, None] * (1.0 + 0.06 * texture[None])
    )
    seasonal = np.stack([forest, fields])[:, None] * tex[None]
    green = veg + forest + fields
    scl = np.where(1.0 - land > 0.5, 6.0, np.where(built + bare >= green, 5.0, 4.0))
    trenches = {}
    for g in ground:
        if g.site == site.id and g.kind == "trench":
            scar, core, length = trench_geometry(g, frame.cx, frame.cy)
            trenches[g.id] = (scar, area_coverage(scar, grid), area_coverage(core, grid), length)
    return _Base(frame, grid, land, built, sar_land, water_db, sar_points, optical, scl, texture, seasonal, trenches)


# ---------------------------------------------------------------- scene objects


@dataclass(frozen=True)
class _Object:
    """One object present in a scene."""

    id: str
    kind: str
    cls: str
    name: str
    box: Box
    berth: str | None
    tone: float = 1.0
    state: str | None = None
    group: str | None = None
    """The ground work (a row of vehicles) the object is part of."""


def _objects(scenario: Scenario, site: SimSite, frame: _Frame, scene: PlannedScene) -> list[_Object]:
    out = []
    for v in scenario.vessels:
        for visit in v.visits:
            if visit.site == site.id and visit.window.contains(scene.acquired):
                box = _vessel_box(frame, site, v, visit)
                out.append(_Object(v.id, "vessel", v.vessel_class, v.name, box, visit.berth, v.tone))
                break
    if scene.series.resolution_m <= _HIGH_RES_M:
        for eq in scenario.equipment:
            if eq.site != site.id:
                continue
            active = any(w.contains(scene.acquired) for w in eq.windows)
            if eq.kind == "truck" and not active:
                continue
            state = ("extended" if active else "retracted") if eq.kind == "crane" else None
            cls = "crane" if eq.kind == "crane" else "covered truck"
            out.append(_Object(eq.id, eq.kind, cls, "", _equipment_box(frame, site, eq, state or ""), eq.berth, 1.0, state))
    for g in scenario.ground:
        if g.site == site.id and g.kind == "vehicles" and g.present(scene.acquired):
            for k, box in enumerate(vehicle_boxes(g, frame.cx, frame.cy)):
                out.append(_Object(f"{g.id}-{k + 1}", "vehicle", "vehicle", g.name, box, None, group=g.id))
    return out


def _render_sar(base: _Base, objects: list[_Object], rng: np.random.Generator, looks: float) -> F64:
    grid = base.grid
    wind_db = rng.uniform(-21.0, -17.0)
    water = 10 ** ((wind_db + base.water_db) / 10)
    sigma = base.land * base.sar_land + (1.0 - base.land) * water + base.sar_points
    impulses = np.zeros_like(sigma)
    for obj in objects:
        if obj.kind != "vessel":
            continue
        cov = coverage(grid, obj.box, supersample=4, bow_taper=0.12)
        if cov is None:
            continue
        win, frac = cov
        hull = 0.4 * obj.tone
        sigma[win] = sigma[win] * (1.0 - frac) + frac * hull
        # Superstructure, masts and deck gear: a few strong scatterers on the centreline.
        for along, amp in ((-0.38, 3.0), (-0.22, 6.0), (0.05, 3.0), (0.3, 2.0), (0.42, 2.0)):
            x, y = obj.box.point(along * obj.box.length)
            c, r = grid.to_pixel(x, y)
            ri, ci = int(r), int(c)
            if 0 <= ri < grid.height and 0 <= ci < grid.width:
                impulses[ri, ci] += amp * obj.tone * rng.lognormal(0.0, 0.3)
    sigma = sigma + psf_spread(impulses)
    return sigma * speckle(rng, sigma.shape, looks)


def _clouds_for(scenario: Scenario, scene: PlannedScene, rng: np.random.Generator) -> Cloud | None:
    for c in scenario.clouds:
        if c.site == scene.site and c.day == scene.acquired.date():
            return c
    p = scene.series.cloud_probability
    if p > 0 and rng.random() < p:
        return Cloud(scene.site, scene.acquired.date(), float(rng.uniform(0.2, 0.8)))
    return None


def _ground_surface(base: _Base, site: SimSite, scene: PlannedScene, trenches: Sequence[str]) -> F64:
    """The cloud-free reflectance without objects of a site with open ground on the scene's date:
    forest and fields in the season's colours, the trenches dug by then, the sun's elevation."""
    refl = base.optical.copy()
    if base.seasonal is not None:
        forest, fields = seasonal_colours(scene.acquired)
        refl += base.seasonal[0] * forest[:, None, None] + base.seasonal[1] * fields[:, None, None]
    for tid in trenches:
        _, scar, core, _ = base.trenches[tid]
        for cov, colour in ((scar, SPOIL), (core, TRENCH_FLOOR)):
            if cov is not None:
                win, frac = cov
                refl[(slice(None), *win)] = refl[(slice(None), *win)] * (1 - frac) + frac * colour[:, None, None]
    if site.layout.seasonal:
        refl *= sun_factor(scene.acquired, site.polygon.centroid.y)
    return refl


def _render_optical(
    base: _Base, objects: list[_Object], rng: np.random.Generator, cloud: Cloud | None, surface: F64 | None = None,
    areas: dict[str, tuple[tuple[slice, slice], F64]] | None = None,
) -> tuple[F64, F64 | None, dict[str, bool], float]:
    """Reflectance (4, H, W), SCL (or None), object visibility and cloud cover (%).

    ``surface`` is the ground's reflectance when it is not the base's (:func:`_ground_surface`);
    ``areas`` (id -> coverage) are drawn in it already and only their visibility is told."""
    grid = base.grid
    refl = base.optical.copy() if surface is None else surface
    fracs: dict[str, tuple[tuple[slice, slice], F64]] = {}
    for obj in objects:
        taper = 0.12 if obj.kind == "vessel" else 0.0
        cov = coverage(grid, obj.box, supersample=4 if grid.res >= _HIGH_RES_M else 3, bow_taper=taper)
        if cov is None:
            continue
        win, frac = cov
        fracs[obj.id] = cov
        colour = {"vessel": _DECK * obj.tone, "crane": _CRANE, "truck": _TRUCK, "vehicle": VEHICLE}[obj.kind]
        refl[(slice(None), *win)] = refl[(slice(None), *win)] * (1 - frac) + frac * colour[:, None, None]
        if obj.kind == "crane":
            # The crane's portal base, where the boom is hinged.
            x, y = obj.box.point(-obj.box.length / 2)
            cb = coverage(grid, Box(x, y, obj.box.heading_deg, 6.0, 6.0), supersample=4)
            if cb is not None:
                bw, bf = cb
                refl[(slice(None), *bw)] = refl[(slice(None), *bw)] * (1 - bf) + bf * _CRANE_BASE[:, None, None]
        if obj.kind == "vessel":
            # Bridge block aft of midships, brighter than the deck.
            b = obj.box
            x, y = b.point(-0.22 * b.length)
            sup = coverage(grid, Box(x, y, b.heading_deg, 0.16 * b.length, 0.7 * b.width), supersample=4)
            if sup is not None:
                sw, sf = sup
                refl[(slice(None), *sw)] = refl[(slice(None), *sw)] * (1 - sf) + sf * _SUPERSTRUCTURE[:, None, None]
    opacity = np.zeros((grid.height, grid.width))
    if cloud is not None and cloud.cover > 0:
        centre = None
        if cloud.centre is not None:
            centre = grid.to_pixel(base.frame.cx + cloud.centre[0], base.frame.cy + cloud.centre[1])
        opacity = cloud_field(rng, grid, cloud.cover, centre)
    # Shadows fall to the north-west of the clouds (morning sun in the south-east).
    off = int(round(150.0 / grid.res))
    shadow = shift_field(opacity, -off, -off) * (1.0 - opacity)
    refl = refl * (1.0 - 0.6 * shadow)[None]
    cloud_refl = _CLOUD[:, None, None] * (0.9 + 0.05 * base.texture[None])
    refl = refl * (1.0 - opacity)[None] + opacity[None] * cloud_refl
    gain = rng.uniform(0.97, 1.03, size=4)
    # Pixel noise over water: 0.0002-0.002 reflectance in the sen2ships L2A scenes (median
    # 0.0008; neighbour differences over open water). 3 m PlanetScope-class pixels gather a
    # ninth of the light: twice the noise, an assumption, no 3 m reflectance was measured.
    noise_sd = 0.001 if grid.res >= _HIGH_RES_M else 0.002
    refl = refl * gain[:, None, None] + rng.normal(0.0, noise_sd, size=refl.shape)
    refl = np.clip(refl, 0.0, 1.0)
    visible = {}
    for obj in objects:
        if obj.id in fracs:
            win, frac = fracs[obj.id]
            visible[obj.id] = bool((opacity[win] * frac).sum() / max(frac.sum(), 1e-9) < 0.5)
        else:
            visible[obj.id] = False
    for key, (win, frac) in (areas or {}).items():
        visible[key] = bool((opacity[win] * frac).sum() / max(frac.sum(), 1e-9) < 0.5)
    scl = base.scl.copy()
    scl = np.where((shadow > 0.3) & (opacity < 0.15), 3.0, scl)
    scl = np.where(opacity > 0.15, 10.0, scl)
    scl = np.where(opacity > 0.5, 8.0, scl)
    scl = np.where(opacity > 0.9, 9.0, scl)
    cover = float(round(100.0 * float((opacity > 0.5).mean()), 2))
    return refl, scl, visible, cover


# ---------------------------------------------------------------- writing


def _write_tif(path: Path, bands: list[F64], names: Sequence[str], grid: PixelGrid, crs: str, tags: dict[str, str], nodata: float | None) -> None:
    """Write float32 bands to ``path`` via a temporary file, so no half-written file remains."""
    profile = {
        "driver": "GTiff",
        "dtype": "float32",
        "count": len(bands),
        "width": grid.width,
        "height": grid.height,
        "crs": crs,
        "transform": from_origin(grid.x0, grid.y0, grid.res, grid.res),
        "nodata": nodata,
        # Speckle and sensor noise barely compress: the fastest deflate level
        # loses ~1 % of size against the default and halves the writing time.
        "compress": "deflate",
        "zlevel": 1,
        "predictor": 3,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "interleave": "band" if len(bands) > 1 else "pixel",
    }
    # A name of this process's own: two `simulate` runs into one folder at once wrote the same ".partial" file,
    # so one renamed a file the other was still writing (a torn GeoTIFF) and the other failed to find its own.
    tmp = partial_path(path)
    try:
        with rasterio.open(tmp, "w", **profile) as dst:
            for i, (band, name) in enumerate(zip(bands, names, strict=True), start=1):
                dst.write(band.astype(np.float32), i)
                dst.set_band_description(i, name)
            dst.update_tags(**tags)
        os.replace(tmp, path)
    except (OSError, rasterio.errors.RasterioError) as exc:
        # GDAL's error names neither the file nor, on a full disk, why ("Write failed. See previous exception").
        raise OutputError(f"{path}: cannot write it ({why_not_written(exc, tmp)})") from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_json(path: Path, data: Any) -> None:
    tmp = partial_path(path)  # this process's own, as in _write_tif
    try:
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # (its own filename, if any, would be the partial file's)
        raise OutputError(f"{path}: cannot write it ({why_not_written(exc, tmp)})") from exc
    finally:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half file behind


def _truth(
    scene: PlannedScene, frame: _Frame, objects: list[_Object], visible: dict[str, bool], extra: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    feats = []
    for obj in objects:
        ring = Polygon(obj.box.corners() + [obj.box.corners()[0]])
        geom = _round_geom(reproject_geometry(ring, frame.crs, "EPSG:4326"))
        props: dict[str, Any] = {
            "id": obj.id,
            "kind": obj.kind,
            "class": obj.cls,
            "name": obj.name,
            "length_m": obj.box.length,
            "width_m": obj.box.width,
            "heading_deg": round(obj.box.heading_deg % 180.0, 3) % 180.0,
            "berth": obj.berth,
            "visible": visible.get(obj.id, True),
        }
        if obj.state is not None:
            props["state"] = obj.state
        if obj.group is not None:
            props["group"] = obj.group
        feats.append({"type": "Feature", "id": obj.id, "geometry": mapping(geom), "properties": props})
    return {
        "type": "FeatureCollection",
        "properties": {
            "scene_id": scene.scene_id,
            "acquired": scene.acquired.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sensor": scene.series.sensor,
            "platform": scene.series.platform,
            "site": scene.site,
            "resolution_m": scene.series.resolution_m,
            "simulated": True,
        },
        "features": feats + list(extra),
    }


def _trench_feature(work: GroundWork, base: _Base, visible: bool) -> dict[str, Any]:
    """A trench of the truth: its scar (trench and spoil heaps) as drawn, and since when it is there."""
    scar, _, _, length = base.trenches[work.id]
    geom = _round_geom(reproject_geometry(scar, base.frame.crs, "EPSG:4326"))
    props = {
        "id": work.id, "kind": "trench", "class": "trench line", "name": work.name, "length_m": round(length, 1),
        "width_m": work.width_m, "trench_m": work.trench_m, "heading_deg": None, "berth": None, "visible": visible,
        "since": work.windows[0].start.strftime("%Y-%m-%dT%H:%M:%SZ"), "group": work.id,
    }  # fmt: skip
    return {"type": "Feature", "id": work.id, "geometry": mapping(geom), "properties": props}


def _revisit_text(s: Acquisitions) -> str:
    """The series' revisit in words, as the report states it."""
    if s.revisit_days == 1:
        every = "daily"
    elif s.revisit_days > 1:
        every = f"every {s.revisit_days} days"
    else:
        every = f"on {len(s.dates)} listed dates"
    return f"{every} at {s.time_utc} UTC, {s.start.isoformat()} to {s.end.isoformat()} ({s.platform}, {s.resolution_m:g} m)"


def _tags(scenario: Scenario, scene: PlannedScene, seed: int) -> dict[str, str]:
    s: Acquisitions = scene.series
    return {
        "SITEWATCH_SIMULATED": "true",
        "SITEWATCH_SCENE_ID": scene.scene_id,
        "SITEWATCH_SITE": scene.site,
        "SITEWATCH_SENSOR": s.sensor,
        "SITEWATCH_PLATFORM": s.platform,
        "SITEWATCH_COLLECTION": s.collection,
        "SITEWATCH_ACQUIRED": scene.acquired.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SITEWATCH_RESOLUTION_M": f"{s.resolution_m:g}",
        "SITEWATCH_SCENARIO": scenario.name,
        "SITEWATCH_REVISIT": _revisit_text(s),
        "SITEWATCH_REVISITS_NOTE": " ".join(scenario.revisits.split()),
        "SITEWATCH_SEED": str(seed),
        "TIFFTAG_DATETIME": scene.acquired.strftime("%Y:%m:%d %H:%M:%S"),
    }


def _simulated_scenes(out_dir: Path) -> dict[str, list[Path]]:
    """Scenes in ``out_dir`` that the simulator wrote, by scenario name.

    Only ``<site>/sim-*.tif`` files tagged ``SITEWATCH_SIMULATED=true`` count: anything
    else in the folder was not written by the simulator and is left alone.
    """
    found: dict[str, list[Path]] = {}
    for path in sorted(out_dir.glob("*/sim-*.tif")):
        try:
            with rasterio.open(path) as src:
                tags = src.tags()
        except rasterio.errors.RasterioError:
            continue
        name = tags.get("SITEWATCH_SCENARIO")
        if tags.get("SITEWATCH_SIMULATED") == "true" and name:
            found.setdefault(name, []).append(path)
    return found


def _remove_scenes(out_dir: Path, foreign: dict[str, list[Path]], keep_sites: set[str]) -> None:
    """Delete another scenario's simulated scenes, their truth files, and its layouts in folders left empty of scenes."""
    for name, paths in foreign.items():
        folders = set()
        for path in paths:
            path.unlink()
            path.with_name(f"{path.stem}.truth.geojson").unlink(missing_ok=True)
            folders.add(path.parent)
        for folder in folders:
            layout = folder / "layout.geojson"
            if folder.name in keep_sites or any(folder.glob("sim-*.tif")) or not layout.is_file():
                continue
            if f"scenario {name!r}" in layout.read_text(encoding="utf-8"):
                layout.unlink()
            if not any(folder.iterdir()):
                folder.rmdir()


def _remove_partials(out_dir: Path, site_ids: Sequence[str]) -> None:
    """Delete the files a killed run left half-written (:func:`_write_tif`, :func:`_write_json`); those of another
    run writing into the folder at this moment are left alone, as ingest leaves them (:func:`owner_running`)."""
    names = [".scenario.json.*.partial"] + [f"{sid}/{pattern}" for sid in site_ids
                                             for pattern in (".sim-*.partial", ".layout.geojson.*.partial")]  # fmt: skip
    for partial in (p for name in names for p in out_dir.glob(name)):
        # (this process's own too: another simulate() of it, in a thread, may be writing it)
        if owner_of(partial) != (os.getpid(), True) and not owner_running(partial):
            partial.unlink(missing_ok=True)


@contextmanager
def _writing_into(out_dir: Path) -> Iterator[None]:
    """Name the folder or file that cannot be written (read-only, a file in the way, a full disk):
    an :class:`~sitewatch.errors.OutputError` instead of the bare OSError."""
    try:
        yield
    except SitewatchError:
        raise
    except OSError as exc:  # rasterio's write errors are OSErrors too
        where = exc.filename or out_dir
        raise OutputError(f"{where}: cannot write the simulated scenes there ({exc.strerror or exc})") from exc


def simulate(
    scenario: Scenario,
    out_dir: Path,
    *,
    seed: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    replace: bool = False,
) -> list[Path]:
    """Render every scene of ``scenario`` into ``out_dir``; return the GeoTIFF paths in scene order.

    ``seed`` defaults to the scenario's own. ``progress(done, total)`` is
    called after each scene. See the module docstring for the files written.

    A folder already holding scenes the simulator wrote for another scenario is
    refused (an :class:`~sitewatch.errors.InputError` naming it), as mixing them
    would pass one scenario's scenes off as the other's; with ``replace=True``
    those scenes, their truth files and that scenario's layouts are deleted
    first. Files the simulator did not write are never touched. Scenes of the
    same scenario are overwritten in place, and those it no longer plans (its dates or
    sites edited since) are deleted with their truth files. A folder or file that cannot be
    written (read-only, a file in the way, a full disk) is an
    :class:`~sitewatch.errors.OutputError` naming it.
    """
    with _writing_into(out_dir):
        seed = scenario.seed if seed is None else int(seed)
        out_dir = Path(out_dir)
        found = _simulated_scenes(out_dir) if out_dir.is_dir() else {}
        foreign = {name: paths for name, paths in found.items() if name != scenario.name}
        if foreign and not replace:
            listed = ", ".join(f"{name!r} ({len(p)} scene(s), e.g. {p[0].relative_to(out_dir)})" for name, p in foreign.items())
            raise InputError(
                f"{out_dir}: holds simulated scenes of another scenario: {listed}; simulating {scenario.name!r} "
                "into it would mix the two. Simulate into another folder, or replace them "
                "(`sitewatch simulate --replace`)"
            )
        if foreign:
            _remove_scenes(out_dir, foreign, {s.id for s in scenario.sites})
        out_dir.mkdir(parents=True, exist_ok=True)
        scenes = plan_scenes(scenario)
        planned = {out_dir / s.site / f"{s.scene_id}.tif" for s in scenes}
        stale = [p for p in found.get(scenario.name, []) if p not in planned]
        if stale:
            # Scenes an earlier run wrote for this scenario before its dates or sites were edited:
            # left in place they would be ingested with truth the scenario no longer says.
            _remove_scenes(out_dir, {scenario.name: stale}, {s.id for s in scenario.sites})
        _remove_partials(out_dir, [s.id for s in scenario.sites])
        resolved = scenario_to_json(scenario, scenes)
        resolved["seed"] = seed
        _write_json(out_dir / "scenario.json", resolved)
        sites = {s.id: s for s in scenario.sites}
        for site in scenario.sites:
            (out_dir / site.id).mkdir(exist_ok=True)
            _write_json(out_dir / site.id / "layout.geojson", sites_to_geojson([layout_site(site, scenario.name)]))
        bases: dict[tuple[str, float], _Base] = {}
        written = []
        for i, scene in enumerate(scenes):
            site = sites[scene.site]
            key = (site.id, scene.series.resolution_m)
            if key not in bases:
                bases[key] = _base(site, scene.series.resolution_m, seed, scenario.ground)
            base = bases[key]
            rng = _rng(seed, scene.scene_id)
            objects = _objects(scenario, site, base.frame, scene)
            tags = _tags(scenario, scene, seed)
            path = out_dir / site.id / f"{scene.scene_id}.tif"
            if scene.series.sensor == "sar":
                sigma = _render_sar(base, objects, rng, scene.series.enl)
                # Hulls are drawn sharp (no impulse response): widths are to be taken as measured.
                tags |= {"SITEWATCH_POLARIZATION": "VV", "SITEWATCH_ENL": f"{scene.series.enl:g}", "SITEWATCH_IMPULSE_RESPONSE_M": "0"}
                _write_tif(path, [sigma], ["VV"], base.grid, base.frame.crs, tags, float("nan"))
                visible = {o.id: True for o in objects}
                extra = []
            else:
                dug = [g for g in scenario.ground if g.site == site.id and g.kind == "trench" and g.present(scene.acquired)]
                surface = _ground_surface(base, site, scene, [g.id for g in dug]) if base.trenches or base.seasonal is not None else None
                areas = {g.id: cov for g in dug if (cov := base.trenches[g.id][1]) is not None}
                refl, scl, visible, cover = _render_optical(
                    base, objects, rng, _clouds_for(scenario, scene, rng), surface, areas
                )  # fmt: skip
                extra = [_trench_feature(g, base, visible.get(g.id, False)) for g in dug]
                tags["SITEWATCH_CLOUD_COVER"] = f"{cover:g}"
                bands = list(refl)
                names = list(_BAND_NAMES)
                if scene.series.scl and scl is not None:
                    bands.append(scl)
                    names.append("SCL")
                _write_tif(path, bands, names, base.grid, base.frame.crs, tags, None)
            _write_json(path.with_name(f"{scene.scene_id}.truth.geojson"), _truth(scene, base.frame, objects, visible, extra))
            written.append(path)
            if progress is not None:
                progress(i + 1, len(scenes))
        return written
