"""Geodesy helpers: UTM zones, ground pixel sizes, pixel corners to map coordinates."""

from __future__ import annotations

import pytest
from affine import Affine
from pyproj import Transformer

from sitewatch.geo import ground_pixel_size, pixel_corners_to_polygon, utm_crs_for


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
