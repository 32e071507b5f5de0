"""Where the detection stage looks, rasterised on an observation's grid or on a window of it.

The site polygon (:func:`~sitewatch.ingest.site_mask` on :func:`window_grid`), the site's
water polygon shrunk from the shore with the water along its berths kept (:func:`water_mask`),
and the band around that polygon a vessel found by the image alone must lie in
(:func:`near_water_at`). A window's masks are the whole grid's cut to the window: the shore
erosion runs on the window grown by its reach, so a detector that reads an observation tile by
tile sees the masks one pass over the whole grid would.

An observation archived with a margin of image around its site (a small site's; provenance
``context_m``: :func:`has_context`) is searched over the whole grid, so that the detectors take their
background from the water around the site, and only what lies in the site is kept (:func:`in_site`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from rasterio.features import geometry_mask
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from .detect.base import PixelDetection
from .geo import reproject_geometry
from .model import Grid, Observation, Site

__all__ = [
    "BERTH_DISTANCE_M",
    "SHORE_MARGIN_M",
    "Window",
    "BerthHidden",
    "window_grid",
    "has_context",
    "in_site",
    "grid_mask",
    "water_mask",
    "near_water_at",
]

BERTH_DISTANCE_M = 40.0
"""A vessel whose box comes this close to a berth line is taken to be at that berth."""

SHORE_MARGIN_M = 20.0
"""Water within this distance of the shore is not searched (mixed land/water pixels, polygon error)."""

Window = tuple[int, int, int, int]
"""(row0, row1, col0, col1) of a grid, half-open."""


def window_grid(grid: Grid, window: Window) -> Grid:
    """The part of ``grid`` a window covers, as a grid of its own."""
    r0, r1, c0, c1 = window
    t = grid.affine
    a, b, c, d, e, f = t.a, t.b, t.c, t.d, t.e, t.f
    # The origin moved by whole pixels: (c0, r0) through the transform.
    return Grid(grid.crs, (a, b, a * c0 + b * r0 + c, d, e, d * c0 + e * r0 + f), c1 - c0, r1 - r0)


def has_context(obs: Observation) -> bool:
    """Whether ``obs``'s grid holds a margin of image around its site (provenance ``context_m``, recorded by
    :func:`~sitewatch.ingest.archive_observation`): its detectors then look at the whole grid and keep what
    lies in the site (:func:`in_site`). An observation archived before margins has none: detected on the
    site's pixels alone, as it always was."""
    held = obs.provenance.get("context_m")
    return isinstance(held, int | float) and not isinstance(held, bool) and held > 0


def in_site(found: Sequence[PixelDetection], site: Site, grid: Grid) -> list[PixelDetection]:
    """The detections (pixel coordinates of ``grid``) whose centroid lies in the site polygon: a vessel in the
    margin around a site is the detectors' background, not the site's (its timeline, presence and report)."""
    from shapely.geometry import Point
    from shapely.prepared import prep

    inside = prep(reproject_geometry(site.require_geometry(), "EPSG:4326", grid.crs))
    t = grid.affine
    # Detector pixel coordinates put pixel centres on integers; the affine maps pixel corners.
    return [d for d in found if inside.covers(Point(t @ (d.col + 0.5, d.row + 0.5)))]


def grid_mask(local: BaseGeometry, grid: Grid) -> NDArray[np.bool_]:
    """Pixels of ``grid`` whose centre lies inside a geometry given in the grid's CRS."""
    return geometry_mask([local], out_shape=grid.shape, transform=grid.affine, invert=True)


def water_mask(site: Site, grid: Grid, window: Window | None = None) -> NDArray[np.bool_] | None:
    """Where to look for vessels, from the site's water polygon and berths; None without a polygon.

    The polygon's water is shrunk by :data:`SHORE_MARGIN_M` from its shore (not from the edge of
    the site or of the grid) so that bright shore pixels (mixed
    land and water, or a slightly misdrawn coast) are not taken for ships, except within
    :data:`BERTH_DISTANCE_M` of a berth line, where ships lie alongside the quay and must stay
    in. With ``window`` the mask of that window of ``grid`` (as the whole grid's, cut).
    """
    if site.water is None:
        return None
    from scipy import ndimage

    steps = max(1, round(SHORE_MARGIN_M / min(grid.pixel_size)))
    r0, r1, c0, c1 = window or (0, grid.height, 0, grid.width)
    # Eroded on the window grown by the erosion's reach (a step a pixel, edges included), then cut.
    grown = (max(0, r0 - steps), min(grid.height, r1 + steps), max(0, c0 - steps), min(grid.width, c1 + steps))
    cut = (slice(r0 - grown[0], r1 - grown[0]), slice(c0 - grown[2], c1 - grown[2]))
    local = window_grid(grid, grown)
    water = grid_mask(reproject_geometry(site.water, "EPSG:4326", grid.crs), local)
    # Only a shore shrinks the water: the site's edge and the grid's are where the image stops, not
    # land. Eroded from there too, the water would end short of them, and a hull cut by the site's
    # window would end short of its edge in the search, measured whole though it is cut (``truncated``).
    beyond = ~grid_mask(reproject_geometry(site.require_geometry(), "EPSG:4326", grid.crs), local)
    mask = ndimage.binary_erosion(water | beyond, iterations=steps, border_value=1)[cut] & water[cut]
    if site.berths:
        near = unary_union(
            [reproject_geometry(b.geometry, "EPSG:4326", grid.crs).buffer(BERTH_DISTANCE_M) for b in site.berths]
        )
        mask |= grid_mask(near, window_grid(grid, (r0, r1, c0, c1))) & water[cut]
    return np.asarray(mask)


def near_water_at(water: BaseGeometry, grid: Grid, rows: Sequence[float], cols: Sequence[float]) -> list[bool]:
    """Whether each pixel (``rows``, ``cols``, rounded) lies within :data:`BERTH_DISTANCE_M` of a
    water polygon (WGS84): its pixel as the polygon, buffered, rasterised on ``grid`` has it,
    without rasterising the whole grid. Pixels outside the grid are not near."""
    near = reproject_geometry(water, "EPSG:4326", grid.crs).buffer(BERTH_DISTANCE_M)
    out = []
    for row, col in zip(rows, cols, strict=True):
        r, c = round(row), round(col)
        inside = 0 <= r < grid.height and 0 <= c < grid.width
        out.append(inside and bool(grid_mask(near, window_grid(grid, (r, r + 1, c, c + 1)))[0, 0]))
    return out


class BerthHidden:
    """How much of each berth's zone an observation hid: no data, or (optical) cloud.

    A berth's zone is its line buffered by :data:`BERTH_DISTANCE_M` (where a detection is taken
    to be at it, :func:`~sitewatch.detection.to_detections`) cut to the site polygon, as pixels
    of the observation's grid. :meth:`add` takes the hidden mask of one window (a tile's core:
    windows must not overlap) and may be called from several threads; :meth:`fractions` gives
    ``{berth id: hidden pixels / zone pixels}`` over the windows added, berths whose zone holds
    no pixel of the grid left out (nothing says whether they were seen).
    """

    def __init__(self, site: Site, grid: Grid) -> None:
        inside = reproject_geometry(site.require_geometry(), "EPSG:4326", grid.crs)
        self._grid = grid
        self._zones = [
            (b.id, reproject_geometry(b.geometry, "EPSG:4326", grid.crs).buffer(BERTH_DISTANCE_M).intersection(inside))
            for b in site.berths
        ]
        self._counts = {bid: [0, 0] for bid, _ in self._zones}
        self._lock = threading.Lock()

    def window_of(self, berth: int) -> Window | None:
        """The window of the grid holding the zone of the ``berth``-th berth (None: outside the grid)."""
        zone = self._zones[berth][1]
        if zone.is_empty:
            return None
        inv = ~self._grid.affine
        x0, y0, x1, y1 = zone.bounds
        cols, rows = zip(*(inv @ (x, y) for x in (x0, x1) for y in (y0, y1)), strict=True)
        r0, r1 = max(0, int(np.floor(min(rows)))), min(self._grid.height, int(np.ceil(max(rows))) + 1)
        c0, c1 = max(0, int(np.floor(min(cols)))), min(self._grid.width, int(np.ceil(max(cols))) + 1)
        return (r0, r1, c0, c1) if r0 < r1 and c0 < c1 else None

    def add(self, window: Window, hidden: NDArray[np.bool_]) -> None:
        """Count the zone pixels of ``window`` and those of them ``hidden`` (the window's shape) marks."""
        local = window_grid(self._grid, window)
        x0, y0 = local.affine @ (0, 0)
        x1, y1 = local.affine @ (local.width, local.height)
        frame = box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        for bid, zone in self._zones:
            if zone.is_empty or not zone.intersects(frame):
                continue
            in_zone = grid_mask(zone, local)
            total, hid = int(in_zone.sum()), int((in_zone & hidden).sum())
            with self._lock:
                self._counts[bid][0] += hid
                self._counts[bid][1] += total

    def add_by_window(self, hidden_at: Callable[[Window], NDArray[np.bool_]]) -> None:
        """Count every zone from its own window, ``hidden_at(window)`` giving that window's hidden mask."""
        for k in range(len(self._zones)):
            window = self.window_of(k)
            if window is not None:
                zone_id, zone = self._zones[k]
                in_zone = grid_mask(zone, window_grid(self._grid, window))
                hidden = hidden_at(window)
                self._counts[zone_id][0] += int((in_zone & hidden).sum())
                self._counts[zone_id][1] += int(in_zone.sum())

    def fractions(self) -> dict[str, float]:
        """Berth id → hidden pixels / zone pixels counted (0–1, 4 places); berths without a counted pixel left out."""
        return {bid: round(hid / total, 4) for bid, (hid, total) in sorted(self._counts.items()) if total}
