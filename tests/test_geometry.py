"""Where a ship is put and how it is measured on grids that are not north-up UTM.

Each scene is drawn on the ground: a hull of known length, width, true heading and position,
sampled into pixels through the image's own transform and CRS (rotated, mirrored, in degrees, far
from a projection's meridian), so the truth does not share the code's assumptions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from pyproj import CRS, Geod, Transformer
from shapely.geometry import Polygon

import sitewatch
from sitewatch.cli import main

N = 120
LENGTH, WIDTH, HEADING = 150.0, 25.0, 30.0
GEOD = Geod(ellps="WGS84")


def _linear(deg: float, px: float, py: float) -> tuple[float, float, float, float]:
    """(a, b, d, e) of a transform whose columns run ``deg`` anticlockwise of east, in CRS units."""
    t = math.radians(deg)
    return px * math.cos(t), py * math.sin(t), px * math.sin(t), -py * math.cos(t)


def _transform(crs: str, lon: float, lat: float, lin: tuple[float, float, float, float]) -> Affine:
    """A transform with ``lin`` putting (lon, lat) off the image's centre."""
    a, b, d, e = lin
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    c0, r0 = N / 2 + 5.3, N / 2 - 7.6
    return Affine(a, b, x - (a * c0 + b * r0), d, e, y - (d * c0 + e * r0))


def _ship_on_ground(transform: Affine, crs: str, lon: float, lat: float, ss: int = 4) -> np.ndarray:
    """Fraction of each pixel inside the hull, found in metres on the ground around (lon, lat)."""
    off = (np.arange(ss) + 0.5) / ss
    idx = (np.arange(N)[:, None] + off[None, :]).ravel()
    cols, rows = np.meshgrid(idx, idx)
    xs, ys = transform @ (cols, rows)
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m")
    x, y = Transformer.from_crs(crs, local, always_xy=True).transform(xs, ys)
    t = math.radians(HEADING)
    along = x * math.sin(t) + y * math.cos(t)
    across = x * math.cos(t) - y * math.sin(t)
    inside = (np.abs(along) <= LENGTH / 2) & (np.abs(across) <= WIDTH / 2)
    return inside.reshape(N, ss, N, ss).mean(axis=(1, 3))


def _sar_tiff(path: Path, crs: str, lon: float, lat: float, lin: tuple[float, float, float, float]) -> Path:
    t = _transform(crs, lon, lat, lin)
    mean = 0.02 * (1 + 100 * _ship_on_ground(t, crs, lon, lat))  # 20 dB hull on the sea
    img = (mean * np.random.default_rng(5).gamma(4.5, 1 / 4.5, mean.shape)).astype(np.float32)
    with rasterio.open(path, "w", driver="GTiff", width=N, height=N, count=1, dtype="float32", crs=crs, transform=t) as ds:
        ds.write(img, 1)
        ds.update_tags(SITEWATCH_IMPULSE_RESPONSE_M="0")  # hulls drawn without one
    return path


def _one_vessel(tif: Path, tmp_path: Path) -> tuple[dict, dict]:  # type: ignore[type-arg]
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--sensor", "sar", "--out", str(out)])
    assert r.exit_code == 0, r.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    vessels = [f for f in fc["features"] if f["properties"]["kind"] == "vessel"]
    assert len(vessels) == 1
    return vessels[0], fc["sitewatch"]


def _angle(a: float, b: float) -> float:
    """Difference of two undirected axes, degrees."""
    return abs((a - b + 90) % 180 - 90)


def _lonlat_turned(deg: float, lat: float, metres: float = 10.0) -> tuple[float, float, float, float]:
    """(a, b, d, e) in degrees of square ``metres`` pixels whose columns run ``deg`` anticlockwise of east
    (a transform fitted to a radar scene's GCPs in lon/lat)."""
    la = math.radians(lat)
    m_lat = 111_132.92 - 559.82 * math.cos(2 * la) + 1.175 * math.cos(4 * la)
    m_lon = 111_412.84 * math.cos(la) - 93.5 * math.cos(3 * la)
    a, b, d, e = _linear(deg, metres, metres)
    return a / m_lon, b / m_lon, d / m_lat, e / m_lat


GRIDS = {
    "north-up": ("EPSG:32633", 15.0, 43.0, (10.0, 0.0, 0.0, -10.0)),
    "rotated-30": ("EPSG:32633", 15.0, 43.0, _linear(30, 10.0, 10.0)),
    "south-up": ("EPSG:32633", 15.0, 43.0, (10.0, 0.0, 0.0, 10.0)),
    "east-left": ("EPSG:32633", 15.0, 43.0, (-10.0, 0.0, 0.0, -10.0)),
    "utm-70N-far-from-meridian": ("EPSG:32633", 11.0, 70.0, (10.0, 0.0, 0.0, -10.0)),
    "polar-stereographic-85N": ("EPSG:3413", 30.0, 85.0, (10.0, 0.0, 0.0, -10.0)),
    # Before, each pixel side's degrees were all taken as longitude (or all latitude): 6.6 × 18 m
    # pixels for 10 m ones on this grid, and a 150 m hull measured 101 m.
    "lonlat-turned-60-at-60N": ("EPSG:4326", 10.0, 60.0, _lonlat_turned(60.0, 60.0)),
    "lonlat-ascending-pass-at-60N": ("EPSG:4326", 10.0, 60.0, tuple(-v for v in _lonlat_turned(-12.0, 60.0))),
}


@pytest.mark.parametrize("grid", list(GRIDS))
def test_detect_image_heading_is_from_true_north_on_any_grid(tmp_path: Path, grid: str) -> None:
    # Before, the heading was measured from image up: 59° for a 30° hull on a grid turned by 30°,
    # 151° on a mirrored (south-up or east-left) one, 34° off UTM's meridian at 70°N, 135° on
    # a polar stereographic grid; the box drawn through the transform was right all along.
    crs, lon, lat, lin = GRIDS[grid]
    f, meta = _one_vessel(_sar_tiff(tmp_path / "s.tif", crs, lon, lat, lin), tmp_path)
    # The convention said in full: 0-180 of the long axis, not a vessel's course (0-360).
    assert meta["heading"] == "of the long axis, 0 to 180 (bow and stern not told apart), degrees clockwise from true north"
    # Which code made the file, beside which detector: the class candidates are sitewatch's catalogue's.
    assert meta["sitewatch_version"] == sitewatch.__version__ and meta["detector_version"]
    # Ground pixels of 10 m (UTM's scale factor, 10.3 m on polar stereographic at 85°N).
    assert meta["pixel_size_m"] == pytest.approx([10.0, 10.0], rel=0.035)
    props = f["properties"]
    assert _angle(props["heading_deg"], HEADING) <= 1.5
    assert 0.0 <= props["heading_deg"] < 180.0
    # The box is on the hull and as long as it.
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    c = Polygon(f["geometry"]["coordinates"][0]).centroid
    clon, clat = to_ll.transform(c.x, c.y)
    assert GEOD.inv(lon, lat, clon, clat)[2] < 10.0
    assert abs(props["length_m"] - LENGTH) <= 10.0


def test_pipeline_heading_is_from_true_north_not_the_utm_grid(tmp_path: Path) -> None:
    # At 75°N, 2.9° east of UTM zone 32's meridian, the site grid's north is 2.8° off true north:
    # the stored heading was the grid's (32.8° for a 30° hull).
    from sitewatch.detection import detect_site
    from sitewatch.ingest import ingest_file
    from sitewatch.testing import tiny_site
    from sitewatch.workspace import init_workspace

    lon, lat = 11.9, 75.0
    site = tiny_site("north", lon=lon, lat=lat, half_deg=0.004)
    ws = init_workspace(tmp_path / "ws")
    tif = _sar_tiff(tmp_path / "s.tif", "EPSG:32632", lon, lat, (10.0, 0.0, 0.0, -10.0))
    with rasterio.open(tif, "r+") as ds:
        ds.update_tags(SITEWATCH_ACQUIRED="2024-10-17T09:30:00Z")
        ds.set_band_description(1, "VV")
    with ws.store() as store:
        store.put_site(site)
        ingest_file(ws, store, site, tif)
    detect_site(ws, site.id, workers=1)
    with ws.store() as store:
        (d,) = store.detections(site.id, kind="vessel")
    assert _angle(d.heading_deg, HEADING) <= 1.5
    c = d.footprint.centroid
    assert GEOD.inv(lon, lat, c.x, c.y)[2] < 10.0


def test_a_skewed_grid_is_named_where_its_measurements_are_not_square(tmp_path: Path) -> None:
    # Pixel sides at 68 degrees on the ground: the detectors measure as if square-cornered (a
    # 150 m hull came out 184 m), and nothing said so.
    tif = _sar_tiff(tmp_path / "s.tif", "EPSG:32633", 15.0, 43.0, (10.0, 4.0, 0.0, -10.0))
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["-q", "detect-image", str(tif), "--sensor", "sar", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "warning" in r.stderr and "21.8 degrees off a right angle" in r.stderr and str(tif) in r.stderr
    assert "21.8 degrees off a right angle" in json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["note"]


@pytest.mark.parametrize("grid", ["rotated-30", "south-up", "lonlat-turned-60-at-60N", "polar-stereographic-85N"])
def test_square_grids_turned_or_mirrored_are_not_called_skewed(tmp_path: Path, grid: str) -> None:
    from sitewatch.geo import grid_skew_deg

    crs, lon, lat, lin = GRIDS[grid]
    assert grid_skew_deg(crs, _transform(crs, lon, lat, lin), N, N) < 0.1


def test_a_sinusoidal_grid_far_from_its_meridian_is_measured_on_the_ground(tmp_path: Path) -> None:
    # MODIS's sinusoidal grid at 60°N, 60°E: a column step is 10 m east, a row step 13.5 m at
    # 42° off a right angle. Before, the projection's scale along the meridian made rows 7.4 m,
    # and the grid passed for square.
    tif = _sar_tiff(tmp_path / "s.tif", "ESRI:54008", 60.0, 60.0, (10.0, 0.0, 0.0, -10.0))
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["-q", "detect-image", str(tif), "--sensor", "sar", "--out", str(out)])
    assert r.exit_code == 0, r.output
    meta = json.loads(out.read_text(encoding="utf-8"))["sitewatch"]
    assert meta["pixel_size_m"] == pytest.approx([10.0, 13.5], abs=0.01)
    assert "42.2 degrees off a right angle" in meta["note"] and "42.2 degrees" in r.stderr


@pytest.mark.parametrize("side", [1, -1])
def test_a_box_across_the_antimeridian_stays_beside_its_site(side: int) -> None:
    # A site ending at 180° (one side of it or the other); a ship's box over the line came back
    # with longitudes on both edges of the map: a polygon around the globe, centred 12,000 km away.
    from datetime import UTC, datetime

    from sitewatch.detect.base import PixelDetection
    from sitewatch.detection import to_detections
    from sitewatch.ingest import site_grid
    from sitewatch.model import Observation, SceneRef
    from sitewatch.sites import site_from_bbox

    bbox = (179.994, -17.004, 180.0, -16.996) if side > 0 else (-180.0, -17.004, -179.994, -16.996)
    site = site_from_bbox("edge", bbox, name="edge")
    grid = site_grid(site, 10.0)
    scene = SceneRef("local", "files", "s1", "sar", datetime(2024, 10, 17, tzinfo=UTC), 10.0)
    obs = Observation("edge:s1", site.id, scene, grid, "a.tif", "0" * 64, 1.0, None)
    edge_x, _ = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True).transform(180.0, -17.0)
    col = (edge_x - grid.transform[2]) / 10.0 - 0.5  # the pixel whose centre is on the antimeridian
    row = grid.height / 2
    corners = ((col - 7, row - 1), (col + 7, row - 1), (col + 7, row + 1), (col - 7, row + 1))
    (d,) = to_detections([PixelDetection(row, col, 150.0, 25.0, 90.0, 0.9, corners)], site, obs, "t", "1")
    minx, _, maxx, _ = d.footprint.bounds
    assert maxx - minx < 0.01
    c = d.centroid
    assert GEOD.inv(180.0, -17.0, c.x, c.y)[2] < 200.0
    assert abs(c.x - 180.0 * side) < 0.01  # beside the site, on its side of the line


def _gcp_tiff_across_the_antimeridian(path: Path) -> Path:
    """The SAR scene on a lon/lat grid over 180°, placed by GCPs numbered as GDAL gives them
    (longitudes on both sides of the line), as a radar product over Fiji is."""
    from rasterio.control import GroundControlPoint

    crs, lon, lat = "EPSG:4326", 179.999, -17.0
    t = _transform(crs, lon, lat, _lonlat_turned(0.0, lat))
    mean = 0.02 * (1 + 100 * _ship_on_ground(t, crs, lon, lat))
    img = (mean * np.random.default_rng(5).gamma(4.5, 1 / 4.5, mean.shape)).astype(np.float32)
    gcps = []
    for r in np.linspace(0, N, 5):
        for c in np.linspace(0, N, 5):
            x, y = t @ (c, r)
            gcps.append(GroundControlPoint(row=r, col=c, x=x - 360.0 if x > 180.0 else x, y=y, z=0.0))
    assert min(g.x for g in gcps) < -179.9 and max(g.x for g in gcps) > 179.9
    with rasterio.open(path, "w", driver="GTiff", width=N, height=N, count=1, dtype="float32") as ds:
        ds.write(img, 1)
        ds.gcps = (gcps, rasterio.crs.CRS.from_epsg(4326))
        ds.update_tags(SITEWATCH_IMPULSE_RESPONSE_M="0")
    return path


def test_gcps_on_both_sides_of_the_antimeridian_place_the_scene(tmp_path: Path) -> None:
    # Before, the transform fitted to GCPs at 179.99 and -179.99 made pixels 383 km wide: no vessel.
    with pytest.warns(rasterio.errors.NotGeoreferencedWarning):
        tif = _gcp_tiff_across_the_antimeridian(tmp_path / "gcp.tif")
    f, meta = _one_vessel(tif, tmp_path)
    assert meta["pixel_size_m"] == pytest.approx([10.0, 10.0], rel=0.01)
    c = Polygon(f["geometry"]["coordinates"][0]).centroid
    assert GEOD.inv(179.999, -17.0, c.x, c.y)[2] < 10.0
    assert abs(f["properties"]["length_m"] - LENGTH) <= 10.0


@pytest.mark.parametrize("lon", [179.999, -179.999])
def test_gcps_on_both_sides_of_the_antimeridian_warp_onto_a_site_grid(tmp_path: Path, lon: float) -> None:
    # As ingest and fetch place a Sentinel-1 product: a thin-plate spline through the GCPs. Before,
    # the spline jumped 360 degrees between two GCPs and nothing of the hull reached the grid.
    from sitewatch.fetch import read_window
    from sitewatch.ingest import site_grid
    from sitewatch.sites import site_from_bbox

    with pytest.warns(rasterio.errors.NotGeoreferencedWarning):
        tif = _gcp_tiff_across_the_antimeridian(tmp_path / "gcp.tif")
    ship = 179.999  # on the scene's own side of the line, whichever side the site is
    bbox = (179.994, -17.003, 180.0, -16.997) if lon > 0 else (-180.0, -17.003, -179.994, -16.997)
    grid = site_grid(site_from_bbox("edge", bbox, name="edge"), 10.0)
    out, how = read_window(str(tif), grid, gcp_method="tps", resampling=rasterio.enums.Resampling.nearest)
    assert how == "gcp-tps"
    bright = np.argwhere(np.nan_to_num(out) > 0.5)
    if lon > 0:  # the hull lies over this grid: its bright pixels at the ship
        assert len(bright) > 20
        r, c = bright.mean(axis=0)
        x, y = grid.affine @ (c + 0.5, r + 0.5)
        blon, blat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(x, y)
        assert GEOD.inv(ship, -17.0, blon, blat)[2] < 20.0
    else:  # east of the line: sea from the scene, no hull
        assert np.isfinite(out).mean() > 0.5 and len(bright) == 0
