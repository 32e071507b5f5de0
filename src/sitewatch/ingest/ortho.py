"""Orthorectification at import: an image placed by rational polynomial coefficients (RPCs: a Maxar
Basic or ortho-ready standard OR2A product, a Planet basic scene) or by ground control points (GCPs) instead
of a map grid, warped onto a site's grid as ``gdalwarp -rpc`` (or ``gdalwarp -tps``) would, but over the window
of the image that covers the site only, never the whole scene (``import``/``ingest`` ``--orthorectify``). An
OR2A file has a map grid too, projected at one height for the whole scene; its RPCs place it again (over a DEM).

RPCs map a ground point (longitude, latitude, height) to a pixel, so the height under each pixel decides
where it lands: a DEM gives it (``--dem``, gdalwarp's ``RPC_DEM``), or one height above the WGS84 ellipsoid
for the whole site (``--height``, gdalwarp's ``RPC_HEIGHT``), right at that height and shifted elsewhere by
the relief times the tangent of the view angle (a hill 50 m above the quay, seen 20° off nadir: 18 m).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio._err import CPLE_BaseError
from rasterio.control import GroundControlPoint
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.rpc import RPC
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window, from_bounds
from shapely.geometry import Polygon, box

from ..errors import ImageReadError, InputError, read_failure
from ..model import Grid
from ..sources.gcp import gcps_for_window, gcps_window
from .grid import _grid_box

__all__ = ["Orthorectify", "Placement", "check_dem", "placement_of", "TPS_MIN_GCPS"]

TPS_MIN_GCPS = 10
"""From this many GCPs on, a thin-plate spline through them (exact at each, as ``gdalwarp -tps``); fewer: the
polynomial of the highest order they allow (1 from 3 points, 2 from 6), as gdalwarp's default."""

_PAD = 8
"""Pixels of image read beyond those the points of the site's grid map to: the bilinear kernel's, and some to spare."""

_EDGE_POINTS = 21
"""Points along each edge of an image (its footprint), or each side of the lattice over a site's grid (its window),
mapped by the RPCs or GCPs."""


@dataclass(frozen=True)
class Orthorectify:
    """How an image without a map grid is to be orthorectified (``--orthorectify``, with ``--dem`` or ``--height``)."""

    dem: Path | None = None
    """A DEM GeoTIFF whose heights (above the WGS84 ellipsoid) place each pixel, as gdalwarp's ``RPC_DEM``."""
    height_m: float | None = None
    """One height above the WGS84 ellipsoid for the whole image (a port's quay level), as gdalwarp's ``RPC_HEIGHT``."""

    def __post_init__(self) -> None:
        if self.dem is not None and self.height_m is not None:
            raise InputError("--dem and --height: give one (a DEM's heights, or one height for the whole site)")
        if self.height_m is not None and not math.isfinite(self.height_m):
            raise InputError(f"--height {self.height_m}: not a height in metres")

    def rpc_options(self) -> dict[str, Any]:
        """GDAL's RPC transformer options (``RPC_DEM`` or ``RPC_HEIGHT``)."""
        if self.dem is not None:
            return {"RPC_DEM": str(self.dem)}
        return {"RPC_HEIGHT": self.height_m or 0.0}

    def describe(self) -> str:
        """What placed the pixels, in the words the output and the provenance use."""
        if self.dem is not None:
            vertical = dem_vertical_datum(self.dem)
            taken = f"above {vertical}, its CRS's" if vertical else "taken as above the WGS84 ellipsoid: its CRS names no vertical datum"
            return f"the heights of the DEM {self.dem.resolve()} ({taken})"
        return (
            f"one height, {self.height_m:g} m above the WGS84 ellipsoid (no DEM: ground above or below it is shifted "
            "by its relief times the tangent of the view angle)"
        )

    def absolute(self) -> Orthorectify:
        """The same with the DEM's path absolute (for a worker started in another folder)."""
        return Orthorectify(self.dem.resolve(), None) if self.dem is not None else self


def check_dem(dem: Path) -> None:
    """Refuse, naming it, a DEM that cannot be read or placed on the ground (before anything is cut)."""
    try:
        with rasterio.open(dem) as src:
            if src.crs is None:
                raise InputError(
                    f"--dem {dem}: has no CRS, so its heights cannot be placed under the image; give a DEM "
                    "GeoTIFF with one (gdal_translate -a_srs EPSG:4326 for one in longitude/latitude)"
                )
    except RasterioError as exc:
        raise InputError(f"--dem {dem}: not a readable raster ({read_failure(exc)})") from exc


def dem_vertical_datum(dem: Path) -> str | None:
    """The name of the vertical datum the DEM's CRS gives its heights above (``EGM96 height``), or None when it names
    none (GDAL then takes them as above the WGS84 ellipsoid, as Copernicus's and SRTM's are not: they are above the
    geoid)."""
    from pyproj import CRS

    with rasterio.open(dem) as src:
        if src.crs is None:
            return None
        crs = CRS.from_wkt(src.crs.to_wkt())
    return next((sub.name for sub in crs.sub_crs_list if sub.is_vertical), None) if crs.is_compound else None


def _check_dem_vertical(dem: Path, rpcs: RPC, lon: float, lat: float) -> None:
    """Refuse a DEM whose CRS says its heights are above a geoid that GDAL cannot turn into heights above the
    ellipsoid here (PROJ has not that geoid's grid: GDAL then takes them as ellipsoidal, without a word), when that
    moves the pixel at (``lon``, ``lat``), the site's centre."""
    from rasterio.transform import RPCTransformer

    vertical = dem_vertical_datum(dem)
    if vertical is None:
        return
    found = {}
    for shift, above in (("NO", 0.0), ("NO", 10.0), ("YES", 0.0)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # rasterio's TransformWarning: a point not transformed
                with RPCTransformer(rpcs, RPC_DEM=str(dem), RPC_DEM_APPLY_VDATUM_SHIFT=shift) as t:
                    rows, cols = t.rowcol([lon], [lat], zs=[above], op=lambda v: v)
            found[shift, above] = np.array([rows[0], cols[0]], float)
        except (RasterioError, CPLE_BaseError):
            found[shift, above] = np.array([np.nan, np.nan])
    # GDAL fails when the CRS names a grid it cannot find, and takes the heights as ellipsoidal without a word
    # when PROJ falls back to no shift (EGM96's grid not installed): either matters when 10 m of height moves a pixel.
    moves = np.abs(found["NO", 10.0] - found["NO", 0.0]).max() > 1e-3
    turned = found["YES", 0.0]
    if moves and (not np.isfinite(turned).all() or np.allclose(turned, found["NO", 0.0], rtol=0, atol=1e-6)):
        raise InputError(
            f"--dem {dem}: its CRS gives its heights above {vertical}, which GDAL cannot turn into heights above the "
            "WGS84 ellipsoid here (PROJ has not that geoid's grid; projsync --file NAME installs it), so the image "
            "would be placed off by the geoid's height there times the tangent of the view angle; install the grid, "
            "give a DEM of heights above the ellipsoid, or --height"
        )


def _check_dem_covers(dem: Path, grid: Grid, site_id: str) -> None:
    """Refuse a DEM that does not cover the whole of the site's grid, or has no data over part of it (a void, the
    sea left blank): GDAL's RPC transformer fails for each pixel there."""
    with rasterio.open(dem) as src:
        left, bottom, right, top = transform_bounds(grid.crs, src.crs, *_grid_box(grid).bounds, densify_pts=21)
        if box(*src.bounds).contains(box(left, bottom, right, top)):
            _check_dem_has_data(src, dem, (left, bottom, right, top), site_id)
            return
        w, s, e, n = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        sw, ss, se, sn = transform_bounds(grid.crs, "EPSG:4326", *_grid_box(grid).bounds)
    raise InputError(
        f"--dem {dem}: covers {w:.4f},{s:.4f},{e:.4f},{n:.4f} (W,S,E,N), not all of site {site_id!r} "
        f"({sw:.4f},{ss:.4f},{se:.4f},{sn:.4f}); give a DEM that covers the site, or --height"
    )


def _check_dem_has_data(src: Any, dem: Path, bounds: tuple[float, float, float, float], site_id: str) -> None:
    """Refuse a DEM with no data (its nodata value, or NaN) within ``bounds`` (the site's, in the DEM's CRS) or the
    pixel around them its bilinear heights take."""
    over = from_bounds(*bounds, transform=src.transform)
    c0, r0 = max(math.floor(over.col_off) - 1, 0), max(math.floor(over.row_off) - 1, 0)
    c1 = min(math.ceil(over.col_off + over.width) + 1, src.width)
    r1 = min(math.ceil(over.row_off + over.height) + 1, src.height)
    heights = src.read(1, window=Window(c0, r0, c1 - c0, r1 - r0), masked=True)
    if (np.ma.getmaskarray(heights) | ~np.isfinite(heights.filled(0))).any():
        raise InputError(
            f"--dem {dem}: has no data over part of site {site_id!r} (a void, or the sea left blank), where the RPCs "
            "cannot place a pixel; fill it (e.g. gdal_fillnodata, or the sea at its height) or give --height"
        )


def _dem_relief(dem: Path, grid: Grid) -> float:
    """The DEM's highest height over the grid less its lowest (0 when it has none there)."""
    with rasterio.open(dem) as src:
        bounds = transform_bounds(grid.crs, src.crs, *_grid_box(grid).bounds, densify_pts=21)
        over = from_bounds(*bounds, transform=src.transform)
        c0, r0 = max(math.floor(over.col_off) - 1, 0), max(math.floor(over.row_off) - 1, 0)
        c1 = min(math.ceil(over.col_off + over.width) + 1, src.width)
        r1 = min(math.ceil(over.row_off + over.height) + 1, src.height)
        if c1 <= c0 or r1 <= r0:
            return 0.0
        heights = src.read(1, window=Window(c0, r0, c1 - c0, r1 - r0), masked=True).astype(np.float64).filled(np.nan)
    finite = heights[np.isfinite(heights)]
    return float(finite.max() - finite.min()) if finite.size else 0.0


def _grid_lonlat_centre(grid: Grid) -> tuple[float, float]:
    from pyproj import Transformer

    t = grid.affine
    x, y = t @ (grid.width / 2, grid.height / 2)
    lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(x, y)
    return float(lon), float(lat)


@dataclass(frozen=True)
class Placement:
    """How the pixels of an image without a map grid find the ground: its RPCs, or its GCPs."""

    path: Path
    shape: tuple[int, int]
    """The image's (height, width) in pixels."""
    ortho: Orthorectify
    rpcs: RPC | None = None
    gcps: tuple[GroundControlPoint, ...] = ()
    gcp_crs: str = "EPSG:4326"
    over_grid: bool = False
    """The file has a map grid too (a Maxar OR2A at one height), set aside for its RPCs."""
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def method(self) -> str:
        """``rpc``, ``gcp-tps`` or ``gcp-polynomial-N`` (the polynomial's order)."""
        if self.rpcs is not None:
            return "rpc"
        if len(self.gcps) >= TPS_MIN_GCPS:
            return "gcp-tps"
        return f"gcp-polynomial-{2 if len(self.gcps) >= 6 else 1}"

    def describe(self) -> str:
        """One line for the output: how the image was placed."""
        if self.rpcs is not None:
            grid = ", not by its map grid (one height for the whole scene)" if self.over_grid else ""
            return f"orthorectified by sitewatch from its RPCs{grid} and {self.ortho.describe()}"
        how = "a thin-plate spline" if self.method == "gcp-tps" else f"a polynomial of order {self.method[-1]}"
        return f"warped by sitewatch through its {len(self.gcps)} GCPs ({how}; terrain is not modelled)"

    def provenance(self) -> dict[str, Any]:
        """What the observation's provenance says of it (``orthorectified``)."""
        record: dict[str, Any] = {"by": "sitewatch", "method": self.method, "note": self.describe()}
        if self.rpcs is not None:
            if self.ortho.dem is not None:
                record["dem"] = str(self.ortho.dem.resolve())
            else:
                record["height_m"] = self.ortho.height_m
        else:
            record["gcps"] = len(self.gcps)
        return record

    def _rpc_transformer(self, options: dict[str, Any]) -> Any:
        from rasterio.transform import RPCTransformer

        assert self.rpcs is not None
        return RPCTransformer(self.rpcs, **options)

    def _lonlat(self, rows: NDArray[np.float64], cols: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Pixel positions (GDAL's: 0, 0 the first pixel's outer corner) to longitude/latitude; refused by name when
        the RPCs or GCPs cannot place them."""
        what = "RPCs" if self.rpcs is not None else "GCPs"
        try:
            lon, lat = self._lonlat_unchecked(rows, cols)
        except (RasterioError, CPLE_BaseError) as exc:
            raise ImageReadError(f"{self.path}: its {what} cannot place its pixels ({exc})") from exc
        if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
            raise ImageReadError(f"{self.path}: its {what} cannot place its pixels")
        return lon, lat

    def _lonlat_unchecked(
        self, rows: NDArray[np.float64], cols: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if self.rpcs is not None:
            # The footprint and pixel size need no DEM (one that covers the site may not cover the scene):
            # at the height given, or the scene's mean height its RPCs declare.
            height = self.ortho.height_m if self.ortho.dem is None else self.rpcs.height_off
            with self._rpc_transformer({"RPC_HEIGHT": height or 0.0}) as t:
                xs, ys = t.xy(rows, cols, offset="ul")
            return np.asarray(xs, float), np.asarray(ys, float)
        from pyproj import Transformer
        from rasterio.transform import GCPTransformer

        with GCPTransformer(list(self.gcps), tps=self.method == "gcp-tps") as t:
            xs, ys = t.xy(rows, cols, offset="ul")
        lon, lat = Transformer.from_crs(self.gcp_crs, "EPSG:4326", always_xy=True).transform(np.asarray(xs, float), np.asarray(ys, float))
        return np.asarray(lon, float), np.asarray(lat, float)

    def footprint(self) -> Polygon:
        """The image's outline in longitude/latitude (its edges mapped point by point)."""
        height, width = self.shape
        u = np.linspace(0.0, 1.0, _EDGE_POINTS)
        rows = np.concatenate([np.zeros_like(u), u * height, np.full_like(u, height), u[::-1] * height])
        cols = np.concatenate([u * width, np.full_like(u, width), u[::-1] * width, np.zeros_like(u)])
        lon, lat = self._lonlat(rows, cols)
        outline = Polygon(zip(lon, lat, strict=True))
        return outline if outline.is_valid else Polygon(outline.convex_hull.exterior)

    def pixel_size_m(self) -> tuple[float, float]:
        """The ground size (across, along) of a pixel at the image's centre, in metres."""
        from pyproj import Geod

        height, width = self.shape
        r, c = height / 2, width / 2
        lon, lat = self._lonlat(np.array([r, r, r + 1]), np.array([c, c + 1, c]))
        geod = Geod(ellps="WGS84")
        across = geod.inv(lon[0], lat[0], lon[1], lat[1])[2]
        along = geod.inv(lon[0], lat[0], lon[2], lat[2])[2]
        if not (across > 0 and along > 0):
            raise ImageReadError(f"{self.path}: its {'RPCs' if self.rpcs is not None else 'GCPs'} give no pixel size")
        return float(across), float(along)

    def check_grid(self, grid: Grid, site_id: str) -> None:
        """Refuse, naming it, a DEM that does not cover the site or whose geoid cannot be used (checked once a job)."""
        if self.rpcs is not None and self.ortho.dem is not None:
            _check_dem_covers(self.ortho.dem, grid, site_id)
            lon, lat = _grid_lonlat_centre(grid)
            _check_dem_vertical(self.ortho.dem, self.rpcs, lon, lat)

    def window(self, grid: Grid) -> Window | None:
        """The window of the image that covers ``grid`` (plus a few pixels), or None when it misses it."""
        key = f"window {grid.crs} {tuple(grid.affine)} {grid.shape}"
        if key in self._cache:
            return self._cache[key]
        height, width = self.shape
        if self.rpcs is None:
            found = gcps_window(list(self.gcps), self.gcp_crs, grid, (height, width))
            self._cache[key] = found
            return found
        from pyproj import Transformer

        # A lattice over the whole grid, not its outline alone: with a DEM, a hill inside the site maps further out.
        u = np.linspace(0.0, 1.0, _EDGE_POINTS)
        gx, gy = (a.ravel() for a in np.meshgrid(u * grid.width, u * grid.height))
        t = grid.affine
        xs, ys = t.a * gx + t.b * gy + t.c, t.d * gx + t.e * gy + t.f
        lon, lat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
        try:
            with self._rpc_transformer(self.ortho.rpc_options()) as rt:
                rows, cols = rt.rowcol(np.asarray(lon, float), np.asarray(lat, float), zs=np.zeros(len(xs)), op=lambda v: v)
        except (RasterioError, CPLE_BaseError) as exc:
            raise ImageReadError(f"{self.path}: its RPCs cannot place the site ({exc})") from exc
        rows, cols = np.asarray(rows, float), np.asarray(cols, float)
        if not (np.isfinite(rows).all() and np.isfinite(cols).all()):
            raise ImageReadError(f"{self.path}: its RPCs cannot place the whole of the site")
        relief_r, relief_c = self._relief_shift(grid, np.asarray(lon, float), np.asarray(lat, float))
        pad_r, pad_c = _PAD + relief_r, _PAD + relief_c
        r0, c0 = max(int(np.floor(rows.min())) - pad_r, 0), max(int(np.floor(cols.min())) - pad_c, 0)
        r1, c1 = min(int(np.ceil(rows.max())) + pad_r, height), min(int(np.ceil(cols.max())) + pad_c, width)
        found = Window(c0, r0, c1 - c0, r1 - r0) if r1 > r0 and c1 > c0 else None
        self._cache[key] = found
        return found

    def _relief_shift(self, grid: Grid, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[int, int]:
        """How many rows and columns the DEM's relief over ``grid`` moves a point (0, 0 without a DEM): a mast or a
        hill between the points (``lon``, ``lat``) the window is found by maps up to that much further than they do,
        and further than GDAL's warper looks (it samples the grid's edges), unless told (``SOURCE_EXTRA``)."""
        key = f"relief {grid.crs} {tuple(grid.affine)} {grid.shape}"
        if key not in self._cache:
            shift = (0, 0)
            if self.ortho.dem is not None and (relief := _dem_relief(self.ortho.dem, grid)) > 0:
                (low_r, low_c), (high_r, high_c) = (self._rowcol_at(lon, lat, h) for h in (0.0, relief))
                shift = (math.ceil(np.abs(high_r - low_r).max()), math.ceil(np.abs(high_c - low_c).max()))
            self._cache[key] = shift
        return self._cache[key]

    def _source_extra(self, grid: Grid) -> dict[str, int]:
        """GDAL's warp option ``SOURCE_EXTRA``: the relief's shift, when a DEM places the image (:meth:`window`)."""
        self.window(grid)  # finds the shift
        shift = self._cache.get(f"relief {grid.crs} {tuple(grid.affine)} {grid.shape}", (0, 0))
        return {"SOURCE_EXTRA": max(shift)} if max(shift) > 0 else {}

    def _rowcol_at(self, lon: NDArray[np.float64], lat: NDArray[np.float64], height: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Where the RPCs put ground points at one ``height`` above the ellipsoid: rows and columns."""
        with self._rpc_transformer({"RPC_HEIGHT": height}) as rt:
            rows, cols = rt.rowcol(lon, lat, zs=np.zeros(len(lon)), op=lambda v: v)
        return np.asarray(rows, float), np.asarray(cols, float)

    def warp(
        self, values: NDArray[np.float32], out: NDArray[np.float32], window: Window, grid: Grid, resampling: Resampling
    ) -> None:
        """Put ``values`` (the image's ``window``, NaN no data) on ``grid`` into ``out``."""
        r0, c0 = float(window.row_off), float(window.col_off)
        try:
            if self.rpcs is not None:
                moved = RPC(**{**self.rpcs.to_dict(), "line_off": self.rpcs.line_off - r0, "samp_off": self.rpcs.samp_off - c0})
                reproject(
                    values, out, rpcs=moved, src_crs="EPSG:4326", src_nodata=np.nan, dst_transform=grid.affine,
                    dst_crs=grid.crs, dst_nodata=np.nan, resampling=resampling, **self.ortho.rpc_options(), **self._source_extra(grid),
                )  # fmt: skip
                return
            options: dict[str, Any] = (
                {"SRC_METHOD": "GCP_TPS"} if self.method == "gcp-tps"
                else {"SRC_METHOD": "GCP_POLYNOMIAL", "MAX_GCP_ORDER": int(self.method[-1])}
            )  # fmt: skip
            near = gcps_for_window(list(self.gcps), window) if self.method == "gcp-tps" else [
                GroundControlPoint(row=g.row - r0, col=g.col - c0, x=g.x, y=g.y, z=g.z) for g in self.gcps
            ]  # fmt: skip
            reproject(
                values, out, gcps=near, src_crs=self.gcp_crs, src_nodata=np.nan, dst_transform=grid.affine,
                dst_crs=grid.crs, dst_nodata=np.nan, resampling=resampling, **options,
            )  # fmt: skip
        except CPLE_BaseError as exc:  # GDAL's own error class, not a RasterioError
            raise ImageReadError(f"{self.path}: could not be orthorectified onto the site's grid ({exc})") from exc


def placement_of(src: Any, path: Path, ortho: Orthorectify | None) -> Placement | None:
    """How ``src`` is placed when orthorectified as ``ortho`` says: by its RPCs when it has them (also over a map grid:
    a Maxar ortho-ready OR2A file is on one, projected at one height for the whole scene, as ``gdalwarp -rpc`` sets
    it aside), else by its GCPs when it has no CRS; None otherwise, or when ``ortho`` is None. Refuses, naming the
    file, an RPC image given neither a DEM nor a height, and GCPs too few."""
    if ortho is None or (src.crs is not None and src.rpcs is None):
        return None
    shape = (src.height, src.width)
    if src.rpcs is not None:
        if ortho.dem is None and ortho.height_m is None:
            raise InputError(
                f"{path}: is placed by RPCs, which need the ground's height: give --dem PATH (a DEM GeoTIFF) or "
                "--height METRES (above the WGS84 ellipsoid, e.g. the quay's) with --orthorectify"
            )
        return Placement(path, shape, ortho, rpcs=src.rpcs, over_grid=src.crs is not None)
    gcps, crs = src.gcps
    if gcps:
        if len(gcps) < 3:
            raise ImageReadError(f"{path}: {len(gcps)} ground control point(s) are too few to place it (3 at least)")
        return Placement(path, shape, ortho, gcps=tuple(gcps), gcp_crs=crs.to_string() if crs else "EPSG:4326")
    return None

