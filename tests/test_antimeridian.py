"""Sites beside the antimeridian (Taveuni, Fiji: 16.8 S, 180°): what ingest stores, what change and export
write. A site stops at 180°, but its grid runs a pixel past it, and so may a detection's box or a change region."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import LineString, box, shape

from sitewatch.change import _regions
from sitewatch.cli import main
from sitewatch.geo import cut_at_antimeridian, lonlat_centroid
from sitewatch.model import Grid
from sitewatch.sites import site_from_bbox
from sitewatch.testing import workspace_with_sites, write_tiff

LAT = -16.80
WEST = site_from_bbox("taveuni-w", (179.96, -16.82, 180.0, -16.78), name="Taveuni, west of 180°", kind="port")
EAST = site_from_bbox("taveuni-e", (-180.0, -16.82, -179.96, -16.78), name="Taveuni, east of 180°", kind="port")
ZONE60S = "EPSG:32760"


def _x_of_180() -> float:
    """Easting of 180° at LAT in UTM zone 60 south (its central meridian is 177° E)."""
    return float(Transformer.from_crs("EPSG:4326", ZONE60S, always_xy=True).transform(180.0, LAT)[0])


def _every_lon(geometry: dict) -> list[float]:  # type: ignore[type-arg]
    return [float(x) for x in np.asarray(shape(geometry).exterior.coords if geometry["type"] == "Polygon" else
                                         [c for p in shape(geometry).geoms for c in p.exterior.coords])[:, 0]]  # fmt: skip


def test_a_shape_past_180_is_cut_there_into_parts_within_range() -> None:
    past = box(179.99, -16.81, 180.01, -16.80)
    cut = cut_at_antimeridian(past)
    assert cut.geom_type == "MultiPolygon" and len(cut.geoms) == 2
    west, east = sorted(cut.geoms, key=lambda p: -p.bounds[0])
    assert west.bounds == pytest.approx((179.99, -16.81, 180.0, -16.80))
    assert east.bounds == pytest.approx((-180.0, -16.81, -179.99, -16.80))
    assert cut.area == pytest.approx(past.area)
    # Past -180 the same way; a shape wholly past 180 is moved back whole, one within is left as it is.
    assert cut_at_antimeridian(box(-180.02, 1, -179.99, 2)).bounds == pytest.approx((-180, 1, 180, 2))
    assert cut_at_antimeridian(box(180.001, 1, 180.01, 2)).bounds == pytest.approx((-179.999, 1, -179.99, 2))
    inside = box(170, 1, 171, 2)
    assert cut_at_antimeridian(inside) is inside
    line = cut_at_antimeridian(LineString([(179.9, 1), (180.1, 1)]))
    assert line.geom_type == "MultiLineString" and line.length == pytest.approx(0.2)


@settings(max_examples=60, deadline=None)
@given(
    west=st.floats(-190.0, 185.0), width=st.floats(0.001, 5.0), south=st.floats(-80.0, 79.0), height=st.floats(0.001, 1.0),
)
def test_a_cut_keeps_the_area_and_puts_every_part_within_range(west: float, width: float, south: float, height: float) -> None:
    shape_ = box(west, south, west + width, south + height)
    cut = cut_at_antimeridian(shape_)
    minx, _, maxx, _ = cut.bounds
    assert -180.0 <= minx and maxx <= 180.0
    assert cut.area == pytest.approx(shape_.area, rel=1e-9)
    lon, lat = lonlat_centroid(cut)
    assert -180.0 <= lon <= 180.0 and lat == pytest.approx(south + height / 2)
    assert (lon - (west + width / 2)) % 360.0 == pytest.approx(0.0, abs=1e-6) or (
        (west + width / 2) - lon) % 360.0 == pytest.approx(0.0, abs=1e-6)  # fmt: skip


def test_the_centroid_of_parts_either_side_of_180_is_beside_them() -> None:
    # A plain centroid of the two parts falls near 0°: half the world away (a CSV's lon column).
    lon, lat = lonlat_centroid(cut_at_antimeridian(box(179.98, 1, 180.01, 2)))
    assert lon == pytest.approx(179.995) and lat == pytest.approx(1.5)
    lon, _ = lonlat_centroid(box(-180.03, 1, -179.99, 2))
    assert lon == pytest.approx(179.99)
    assert lonlat_centroid(box(10, 1, 12, 3)) == pytest.approx((11, 2))


def _sar_across_180(path: Path, when: str) -> Path:
    """A 10 m SAR scene in UTM 60S over both sites, with a 120 m hull lying east-west across 180°."""
    x180 = _x_of_180()
    x0 = math.floor((x180 - 3000) / 10) * 10
    to_xy = Transformer.from_crs("EPSG:4326", ZONE60S, always_xy=True)
    y0 = math.ceil(to_xy.transform(180.0, -16.77)[1] / 10) * 10
    rng = np.random.default_rng(3)
    data = rng.gamma(4.5, 0.01 / 4.5, (700, 600)).astype("float32")
    c180 = int(round((x180 - x0) / 10))
    r = int(round((y0 - to_xy.transform(180.0, LAT)[1]) / 10))
    data[r - 1 : r + 1, c180 - 6 : c180 + 6] = 1.5  # 20 m x 120 m, its middle on 180°
    return write_tiff(path, data, crs=ZONE60S, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"],
                      tags={"SITEWATCH_ACQUIRED": when})  # fmt: skip


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("taveuni")
    ws = workspace_with_sites(root / "ws", WEST, EAST)
    image = _sar_across_180(root / "taveuni_20240801.tif", "2024-08-01T09:30:00Z")
    for site in ("taveuni-w", "taveuni-e"):
        res = CliRunner().invoke(main, ["ingest", site, str(image), "-w", str(ws.root)])
        assert res.exit_code == 0, res.output
        res = CliRunner().invoke(main, ["detect", site, "--workers", "1", "-w", str(ws.root)])
        assert res.exit_code == 0, res.output
    return ws.root


def test_an_observation_at_180_keeps_its_footprint_beside_its_site(workspace: Path) -> None:
    # The grid's box, projected as it was, ran from 179.96 to -179.9999: round the globe, 360° wide, and
    # QGIS's "zoom to layer" on the observations layer showed the whole world.
    from sitewatch.workspace import open_workspace

    with open_workspace(workspace).store() as store:
        footprints = store.observation_footprints(["taveuni-w", "taveuni-e"])
    assert len(footprints) == 2
    for obs_id, fp in footprints.items():
        assert fp is not None
        minx, _, maxx, _ = fp.bounds
        assert maxx - minx < 0.1, (obs_id, fp.bounds)
        site_lon = 179.98 if obs_id.startswith("taveuni-w/") else -179.98
        assert abs(fp.centroid.x - site_lon) < 0.05


def test_export_cuts_a_box_past_180_as_rfc_7946_says(workspace: Path, tmp_path: Path) -> None:
    for fmt in ("geojson", "csv", "kml"):
        res = CliRunner().invoke(main, ["export", "--out", str(tmp_path / f"d.{fmt}"), "-w", str(workspace)])
        assert res.exit_code == 0, res.output
    fc = json.loads((tmp_path / "d.geojson").read_text(encoding="utf-8"))
    by_site = {f["properties"]["site_id"]: f for f in fc["features"]}
    assert set(by_site) == {"taveuni-w", "taveuni-e"}  # the hull, cut by each site's edge at 180°
    for f in fc["features"]:
        lons = _every_lon(f["geometry"])
        assert all(-180.0 <= x <= 180.0 for x in lons), lons
        assert shape(f["geometry"]).area < 1e-5  # never the long way round
    # The west site's box ran on past 180° (to 180.00002 and more): cut, its sliver east of 180 kept.
    west = by_site["taveuni-w"]["geometry"]
    assert west["type"] == "MultiPolygon" and min(_every_lon(west)) == pytest.approx(-180.0)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "d.csv").read_text(encoding="utf-8"))))
    for row in rows:
        lon = float(row["lon"])
        assert abs(abs(lon) - 180.0) < 0.01, row["lon"]  # beside 180°, not the parts' plain centroid near 0°
    kml = (tmp_path / "d.kml").read_text(encoding="utf-8")
    for block in kml.split("<coordinates>")[1:]:
        for triple in block.split("</coordinates>")[0].split():
            assert -180.0 <= float(triple.split(",")[0]) <= 180.0


def test_a_change_region_at_180_lies_beside_the_grid() -> None:
    x180 = _x_of_180()
    x0 = math.floor((x180 - 500) / 10) * 10
    y0 = math.ceil(Transformer.from_crs("EPSG:4326", ZONE60S, always_xy=True).transform(180.0, LAT)[1] / 10) * 10
    grid = Grid(crs=ZONE60S, transform=(10.0, 0.0, float(x0), 0.0, -10.0, float(y0)), width=60, height=40)
    mask = np.zeros(grid.shape, bool)
    c180 = int(round((x180 - x0) / 10))
    mask[10:30, c180 - 10 : c180 + 10] = True  # 200 x 200 m, half each side of 180°
    value = np.where(mask, 5.0, 0.0)
    regions, _ = _regions(mask, grid, 100.0, value, "appeared")
    assert len(regions) == 1
    minx, _, maxx, _ = regions[0].polygon_wgs84.bounds
    assert maxx - minx < 0.01 and 179.99 < minx < 180.0 < maxx  # was -179.999 .. 179.999: the long way round


def _lon360_sar(path: Path, west: float, north: float, cols: int = 400, rows: int = 300) -> Path:
    """A lon/lat SAR image numbered 0..360, 0.0001° pixels, its west edge at ``west`` (may be past 180)."""
    data = np.random.default_rng(5).gamma(4.5, 0.01 / 4.5, (rows, cols)).astype("float32")
    return write_tiff(path, data, crs="EPSG:4326", transform=Affine(0.0001, 0, west, 0, -0.0001, north),
                      descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": "2024-08-05T09:30:00Z"})  # fmt: skip


def test_import_of_a_0_to_360_image_finds_the_sites_past_180(tmp_path: Path) -> None:
    # Its footprint was the box as numbered, 179.98 to 180.02: it met the site west of 180 alone, and
    # the site east of it (which ingest cuts it to well: 47 % of it) was left out without a word; an
    # image of Ushuaia numbered 291.7 met no site at all ("covers no site").
    ushuaia = site_from_bbox("ushuaia", (-68.33, -54.82, -68.30, -54.80), name="Ushuaia", kind="port")
    ws = workspace_with_sites(tmp_path / "ws", WEST, EAST, ushuaia)
    images = tmp_path / "incoming"
    images.mkdir()
    _lon360_sar(images / "fiji_20240805.tif", 179.98, -16.79)
    _lon360_sar(images / "ushuaia_20240805.tif", 360.0 - 68.33, -54.80)
    res = CliRunner().invoke(main, ["import", str(images), "-w", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    got = {o["id"] for o in json.loads(res.output)["imported"]}
    assert got == {"taveuni-w/fiji_20240805", "taveuni-e/fiji_20240805", "ushuaia/ushuaia_20240805"}


def test_a_polygon_across_180_is_refused_saying_how_to_make_it_two_sites(tmp_path: Path) -> None:
    # Google Earth writes the ring as drawn (179.97 ... -179.97); RFC 7946 cuts it into a MultiPolygon of two
    # parts meeting at 180°, which was refused as any multipolygon is, with no word of the antimeridian.
    ring = [[179.97, -17.70], [-179.97, -17.70], [-179.97, -17.66], [179.97, -17.66], [179.97, -17.70]]
    kml = tmp_path / "levuka.kml"
    kml.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark>'
        "<name>Levuka</name><Polygon><outerBoundaryIs><LinearRing><coordinates>"
        + " ".join(f"{x},{y},0" for x, y in ring)
        + "</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>",
        encoding="utf-8",
    )
    cut = {"type": "MultiPolygon", "coordinates": [
        [[[179.97, -17.70], [180.0, -17.70], [180.0, -17.66], [179.97, -17.66], [179.97, -17.70]]],
        [[[-180.0, -17.70], [-179.97, -17.70], [-179.97, -17.66], [-180.0, -17.66], [-180.0, -17.70]]],
    ]}  # fmt: skip
    rfc = tmp_path / "levuka.geojson"
    rfc.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Levuka"}, "geometry": cut}]}), encoding="utf-8")  # fmt: skip
    ws = workspace_with_sites(tmp_path / "ws")
    res = CliRunner().invoke(main, ["sites", "import", str(kml), "-w", str(ws.root)])
    assert res.exit_code == 1 and "crosses the antimeridian (180°)" in res.output and "two sites" in res.output
    res = CliRunner().invoke(main, ["sites", "import", str(rfc), "-w", str(ws.root)])
    assert res.exit_code == 1, res.output
    assert "its parts meet at the antimeridian" in res.output and "import each part as a site" in res.output
    # Each part a feature of its own: two sites, either side of 180°.
    parts = [{"type": "Feature", "properties": {"id": f"levuka-{side}"}, "geometry": {"type": "Polygon", "coordinates": c}}
             for side, c in zip(("w", "e"), cut["coordinates"], strict=True)]  # fmt: skip
    rfc.write_text(json.dumps({"type": "FeatureCollection", "features": parts}), encoding="utf-8")
    res = CliRunner().invoke(main, ["sites", "import", str(rfc), "-w", str(ws.root)])
    assert res.exit_code == 0 and "levuka-w" in res.output and "levuka-e" in res.output, res.output


R_180 = 20037508.342789244  # Web Mercator's x of 180°


def _merc_across_180(path: Path, when: str, block: bool = False) -> Path:
    """A Web Mercator optical map centred on 180° at 16.8 S (as a Pacific web map exports it: x runs on past
    20,037,508 m), about 10 m on the ground a pixel: land north, water south, and a 300 × 200 m roof across 180°."""
    res = 10 / 0.9573  # Web Mercator metres of 10 ground metres at 16.8° S
    n = 240
    yc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(179.0, LAT)[1]
    rng = np.random.default_rng(7 if block else 6)
    land = np.arange(n)[:, None] < n // 2
    bands = []
    for water, ground in ((0.05, 0.08), (0.04, 0.12), (0.03, 0.14), (0.01, 0.30)):
        b = np.where(land, ground, water) + rng.normal(0, 0.005, (n, n))
        if block:
            b[60:80, 105:135] = 0.45
        bands.append(np.broadcast_to(b, (n, n)).astype("float32"))
    return write_tiff(path, np.stack(bands), crs="EPSG:3857", transform=Affine(res, 0, R_180 - n / 2 * res, 0, -res, yc + n / 2 * res),
                      descriptions=["blue", "green", "red", "nir"], tags={"SITEWATCH_ACQUIRED": when})  # fmt: skip


def test_a_mercator_raster_past_180_is_recentred_on_the_opposite_meridian() -> None:
    from sitewatch.geo import recentred_past_180

    t = Affine(10.0, 0, R_180 - 1000, 0, -10.0, -1_895_000)
    crs, moved = recentred_past_180("EPSG:3857", t, 200, 100)
    assert "+lon_0=-180" in crs and moved.c == pytest.approx(-1000)
    # Every pixel is where it was on the ground, either side of 180°.
    old = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    new = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    for col in (0.5, 99.5, 100.5, 199.5):
        lon_a, lat_a = old.transform(*(t @ (col, 50)))
        lon_b, lat_b = new.transform(*(moved @ (col, 50)))
        assert (lon_a - lon_b) % 360 == pytest.approx(0, abs=1e-9) or (lon_b - lon_a) % 360 == pytest.approx(0, abs=1e-9)
        assert lat_a == pytest.approx(lat_b)
    # Within the world, or not Mercator: as it is.
    assert recentred_past_180("EPSG:3857", Affine(10, 0, 1_000_000, 0, -10, 0), 200, 100)[0] == "EPSG:3857"
    assert recentred_past_180("EPSG:32760", Affine(10, 0, 830_000, 0, -10, 8_140_000), 200, 100)[0] == "EPSG:32760"


def test_a_web_mercator_image_across_180_is_cut_to_the_site_east_of_it(tmp_path: Path) -> None:
    # GDAL's warp found no pixel of it east of 180°: `import` put it in the west site only and said
    # "no valid pixel over site 'taveuni-e'".
    ws = workspace_with_sites(tmp_path / "ws", WEST, EAST)
    folder = tmp_path / "incoming"
    folder.mkdir()
    _merc_across_180(folder / "fiji_20240802.tif", "2024-08-02T09:30:00Z")
    res = CliRunner().invoke(main, ["import", str(folder), "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    assert "taveuni-e/fiji_20240802" in res.output and "taveuni-w/fiji_20240802" in res.output


def test_change_image_compares_a_web_mercator_pair_across_180_whole(tmp_path: Path) -> None:
    # Its grid was UTM zone 31's (the middle of 179.98 and -179.98 is 0°), and the half past 180° had no
    # data: 48 % compared and half the roof (30,441 m²).
    before = _merc_across_180(tmp_path / "before.tif", "2024-08-01T09:30:00Z")
    after = _merc_across_180(tmp_path / "after.tif", "2024-08-02T09:30:00Z", block=True)
    out = tmp_path / "change.geojson"
    res = CliRunner().invoke(main, ["change-image", str(before), str(after), "--out", str(out)])
    assert res.exit_code == 0, res.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert len(fc["features"]) == 1
    region = fc["features"][0]
    assert 60_000 <= region["properties"]["area_m2"] <= 85_000  # 300 x 200 m and its edge pixels
    assert all(-180.0 <= x <= 180.0 for x in _every_lon(region["geometry"]))
    assert region["geometry"]["type"] == "MultiPolygon" and len(region["geometry"]["coordinates"]) == 2  # cut at 180°


def test_fetch_reads_a_web_mercator_asset_across_180_onto_the_grid_east_of_it(tmp_path: Path) -> None:
    # The window over the east site's grid was sought at x -20,036,396 m, the far edge of the world: the asset
    # there gave no pixel.
    from sitewatch.fetch import read_window
    from sitewatch.ingest.grid import site_grid

    asset = _merc_across_180(tmp_path / "asset.tif", "2024-08-02T09:30:00Z")
    covered = {}
    for site in (WEST, EAST):
        values, how = read_window(str(asset), site_grid(site, 10.0))
        assert how == "affine"
        covered[site.id] = float(np.isfinite(values).mean())
    # 1.2 × 2.4 km of each 4.3 × 4.4 km grid, the same either side (was 0 east of 180°).
    assert covered["taveuni-e"] == pytest.approx(covered["taveuni-w"], abs=0.03) and covered["taveuni-e"] > 0.1, covered
