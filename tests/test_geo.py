"""Geodesy helpers: UTM zones, ground pixel sizes, pixel corners to map coordinates."""

from __future__ import annotations

import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from sitewatch.geo import (
    ground_pixel_size,
    heading_from_north,
    pixel_corners_to_polygon,
    utm_crs_for,
)


@pytest.mark.parametrize(
    ("lon", "lat", "crs"),
    [
        (132.34, 42.88, "EPSG:32653"),  # Primorsky, just east of 132°E: zone 53 north
        (5.9, 43.1, "EPSG:32631"),  # 5.9°E is still zone 31 (6°E starts 32): zones are floored, not rounded
        (-70.6, -33.4, "EPSG:32719"),  # Santiago: zone 19 south
        (10.0, 0.0, "EPSG:32632"),  # the equator is in the northern zones
        (180.0, 10.0, "EPSG:32601"),  # the antimeridian wraps to zone 1
    ],
)
def test_utm_zone_of_a_point(lon: float, lat: float, crs: str) -> None:
    assert utm_crs_for(lon, lat) == crs


def test_a_degree_pixel_is_sized_in_metres_at_its_latitude() -> None:
    # At 60°N a degree of longitude is about 55.8 km and a degree of latitude about 111.4 km.
    px, py = ground_pixel_size("EPSG:4326", Affine(0.001, 0, 10.0, 0, -0.001, 60.05), 100, 100)
    assert px == pytest.approx(55.8, rel=0.005) and py == pytest.approx(111.4, rel=0.005)


def test_web_mercator_pixels_shrink_by_cos_latitude_at_the_raster_centre() -> None:
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    _, y60 = to_merc.transform(10.0, 60.0)
    _, y70 = to_merc.transform(10.0, 70.0)
    x0, _ = to_merc.transform(10.0, 70.0)
    height = round(2 * (y70 - y60) / 10.0)  # from 70°N down past 60°N: the centre row is at 60°N
    px, py = ground_pixel_size("EPSG:3857", Affine(10.0, 0, x0, 0, -10.0, y70), 100, height)
    assert px == pytest.approx(5.0, rel=0.01) and py == pytest.approx(5.0, rel=0.01)


def test_pixels_in_feet_are_given_in_metres() -> None:
    # New York State Plane (Long Island), US survey feet: a 1 ft pixel is 0.3048 m on the ground.
    px, _ = ground_pixel_size("EPSG:2263", Affine(1.0, 0, 1_000_000.0, 0, -1.0, 200_000.0), 100, 100)
    assert px == pytest.approx(0.3048, rel=0.002)


def test_non_square_pixels_keep_their_x_and_y() -> None:
    px, py = ground_pixel_size("EPSG:32652", Affine(10.0, 0, 500_000.0, 0, -20.0, 4_750_000.0), 100, 100)
    assert px == pytest.approx(10.0, rel=0.001) and py == pytest.approx(20.0, rel=0.001)
    assert ground_pixel_size(None, Affine(3.0, 0, 0, 0, -4.0, 0), 10, 10) == (3.0, 4.0)


def test_pixel_corners_are_col_row() -> None:
    poly = pixel_corners_to_polygon([(0, 0), (4, 0), (4, 1), (0, 1)], Affine(10.0, 0, 1000.0, 0, -20.0, 5000.0))
    assert poly.bounds == (1000.0, 4980.0, 1040.0, 5000.0)


def _turn(a: float, b: float) -> float:
    """Degrees between two headings of an axis (mod 180)."""
    return abs((a - b + 90.0) % 180.0 - 90.0)


HEADINGS = st.floats(-360.0, 360.0, allow_nan=False)
PIXEL_SIZES = st.tuples(st.floats(0.3, 60.0), st.floats(0.3, 60.0))


@settings(max_examples=100, deadline=None)
@given(HEADINGS, st.floats(-360.0, 360.0), PIXEL_SIZES, st.booleans(), st.floats(0, 500), st.floats(0, 500))
def test_a_grid_turned_or_mirrored_turns_or_mirrors_the_heading(
    h: float, turn: float, size: tuple[float, float], mirrored: bool, row: float, col: float
) -> None:
    """Without a CRS the heading is the transform's own: a grid turned θ anticlockwise on the map shows
    an object at h from image up at h - θ from the map's y axis, and a grid mirrored east-west at -h,
    whatever the pixels' aspect and wherever in the image the object lies."""
    px, py = size
    t = Affine.rotation(turn) @ Affine.translation(1000.0, -2000.0) @ Affine.scale(-px if mirrored else px, -py)
    (got,) = heading_from_north([h], [row], [col], t, None, (px, py))
    assert 0.0 <= got < 180.0
    assert _turn(got, (-h if mirrored else h) - turn) < 1e-6, got


@settings(max_examples=60, deadline=None)
@given(HEADINGS, st.floats(-180.0, 180.0), st.floats(-179.0, 179.0), st.floats(-75.0, 75.0), st.floats(1.0, 60.0))
def test_on_world_mercator_a_heading_is_the_grids_whatever_its_turn_or_place(
    h: float, turn: float, lon: float, lat: float, size: float
) -> None:
    """World Mercator (EPSG:3395) is conformal on the ellipsoid with its meridians along y: a square-pixel
    grid at any place, turned θ, gives an object h from image up at h - θ from true north (to a small
    fraction of a degree: its scale changes over a pixel only). Not Web Mercator: its spherical formulas
    on WGS84 coordinates are not conformal, and true headings differ from its grid's by up to 0.19°
    (at the equator, 0.1° at 45°) - which the geodesic step measures, as it should."""
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3395", always_xy=True).transform(lon, lat)
    t = Affine.translation(x, y) @ Affine.rotation(turn) @ Affine.scale(size, -size)
    (got,) = heading_from_north([h], [0.0], [0.0], t, "EPSG:3395", (size, size))
    assert _turn(got, h - turn) < 1e-3, got
