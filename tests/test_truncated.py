"""Detections cut by the image's edge or by pixels without data are flagged ``truncated``."""

from __future__ import annotations

import json
import math

import numpy as np
import rasterio
from click.testing import CliRunner
from rasterio.transform import from_origin

from sitewatch.cli import main
from sitewatch.detect.base import touches_edge
from sitewatch.detect.optical import _flag_edge
from sitewatch.detect.sar import detect_sar
from sitewatch.detect.tiling import detect_sar_tiled
from test_sar import PX, SEA, sea_with_ships, speckle

HULL = (60.0, 60.0, 200.0, 25.0, 90.0)  # row, col, length m, width m, heading: 20 px east-west


def _near(dets, row: float, col: float, tol: float = 12.0):
    return [d for d in dets if math.hypot(d.row - row, d.col - col) <= tol]


def test_hull_inside_the_image_is_whole() -> None:
    img = sea_with_ships(np.random.default_rng(1), (120, 120), [HULL])
    (d,) = _near(detect_sar(img, PX), 60, 60)
    assert not d.truncated
    assert d.length_m > 150


def test_hull_crossing_the_image_edge_is_truncated() -> None:
    img = sea_with_ships(np.random.default_rng(2), (120, 120), [HULL])[:, 60:]  # bow at col 0
    (d,) = _near(detect_sar(img, PX), 60, 5)
    assert d.truncated
    assert d.length_m < 150  # measured short: why the flag is needed


def test_hull_half_in_nan_is_truncated_and_one_a_pixel_off_is_not() -> None:
    img = sea_with_ships(np.random.default_rng(3), (120, 120), [HULL, (20.0, 30.0, 120.0, 15.0, 90.0)])
    img[:, 60:] = np.nan  # the first hull's eastern half lies in a no-data collar
    dets = detect_sar(img, PX)
    (cut,) = _near(dets, 60, 55)
    assert cut.truncated
    (whole,) = _near(dets, 20, 30)  # ends at col 36, far from the collar
    assert not whole.truncated


def test_hull_next_to_pixels_outside_the_valid_mask_is_truncated() -> None:
    img = sea_with_ships(np.random.default_rng(4), (120, 120), [HULL])
    valid = np.ones(img.shape, bool)
    valid[:, 60:] = False
    img[:, 60:] = SEA  # the data are there, the caller says they are not
    (d,) = _near(detect_sar(img, PX, valid=valid), 60, 55)
    assert d.truncated


def test_hull_across_a_tile_seam_is_whole_in_a_tiled_run() -> None:
    img = sea_with_ships(np.random.default_rng(5), (160, 160), [(64.0, 64.0, 200.0, 25.0, 90.0)])

    def read(win: tuple[int, int, int, int]):
        r0, r1, c0, c1 = win
        return img[r0:r1, c0:c1], None

    tiled = detect_sar_tiled(read, img.shape, PX, tile=64)  # seams at row and col 64
    (d,) = _near(tiled, 64, 64)
    assert not d.truncated
    (one,) = _near(detect_sar(img, PX), 64, 64)
    assert one.length_m == d.length_m


def test_tiled_run_flags_a_hull_on_the_raster_edge() -> None:
    img = sea_with_ships(np.random.default_rng(6), (160, 160), [(100.0, 0.0, 200.0, 25.0, 90.0)])

    def read(win: tuple[int, int, int, int]):
        r0, r1, c0, c1 = win
        return img[r0:r1, c0:c1], None

    (d,) = _near(detect_sar_tiled(read, img.shape, PX, tile=64), 100, 5)
    assert d.truncated


def test_eight_bit_rendering_flags_a_hull_on_the_edge() -> None:
    rng = np.random.default_rng(7)
    grey = np.clip(speckle(rng, 30.0, (128, 128)), 0, 255)
    grey[55:65, 0:30] = 250  # a bright hull cut by the left edge
    grey[20:28, 60:90] = 250  # one inside
    dets = detect_sar(grey.astype(np.uint8), PX)
    cut = [d for d in dets if d.col < 20]
    inside = [d for d in dets if 65 < d.col < 85]
    assert cut and all(d.truncated for d in cut)
    assert inside and not any(d.truncated for d in inside)


def test_optical_boxes_on_the_image_edge_are_flagged() -> None:
    on_edge = ((-0.5, 10.0), (20.5, 10.0), (20.5, 13.0), (-0.5, 13.0))
    inside = ((5.5, 10.0), (20.5, 10.0), (20.5, 13.0), (5.5, 13.0))
    assert touches_edge(np.array([on_edge, inside]), (50, 50)).tolist() == [True, False]
    from sitewatch.detect.base import PixelDetection

    def det(corners):
        return PixelDetection(11.5, 10.0, 200.0, 30.0, 90.0, 0.9, corners)

    flagged = _flag_edge([det(on_edge), det(inside)], (50, 50))
    assert [d.truncated for d in flagged] == [True, False]


def test_detect_image_writes_truncated_and_no_class_for_a_cut_hull(tmp_path) -> None:
    img = sea_with_ships(np.random.default_rng(8), (120, 120), [HULL, (20.0, 90.0, 150.0, 20.0, 90.0)])
    img[:, :58] = 0.0  # a DN-0-like collar, float: no data; the first hull's western part lies in it
    path = tmp_path / "cut.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=120, height=120, count=1, dtype="float32", crs="EPSG:32631", transform=from_origin(500000, 6000000, PX, PX)
    ) as ds:
        ds.write(img, 1)
    out = tmp_path / "d.geojson"
    res = CliRunner().invoke(main, ["detect-image", str(path), "--sensor", "sar", "--out", str(out)])
    assert res.exit_code == 0, res.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    props = {round(f["properties"]["row"] / 20): f["properties"] for f in fc["features"]}
    assert all(isinstance(f["properties"]["truncated"], bool) for f in fc["features"])
    assert props[3]["truncated"] and props[3]["class_candidates"] == []
    assert not props[1]["truncated"] and props[1]["class_candidates"]
    assert "lower bound" in fc["sitewatch"]["truncated"]


def test_optical_ship_cut_by_the_image_edge_is_truncated() -> None:
    from sitewatch.detect.optical import detect_optical
    from test_optical import scene, vessels

    bands, water = scene(10.0)  # a 113 m ship alongside, rows 54 to 66
    (whole,) = vessels(detect_optical(bands, 10.0, water=water))
    assert not whole.truncated
    top = {k: v[60:] for k, v in bands.items()}  # the ship's bow above the image's first row
    cut = vessels(detect_optical(top, 10.0, water=water[60:]))
    assert cut and all(d.truncated for d in cut)
    assert all(d.length_m < 100 for d in cut)


def test_lone_zero_pixels_beside_a_hull_are_dark_sea_not_a_hole() -> None:
    img = sea_with_ships(np.random.default_rng(9), (120, 120), [HULL])
    # Single-look complex chips hold sea pixels whose I and Q are both 0: intensity 0, data all the same.
    img[57:64:3, 48:73:4] = 0.0
    img[60, 49] = img[60, 71] = 0.0  # right at the bow and the stern
    (d,) = _near(detect_sar(img, PX), 60, 60)
    assert not d.truncated
    img[:, 70:] = 0.0  # a collar of zeros is no data
    (d,) = _near(detect_sar(img, PX), 60, 60)
    assert d.truncated
