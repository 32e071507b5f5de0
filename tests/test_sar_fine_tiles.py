"""SAR tiles at sub-metre pixels: cores chosen from the pixel size within a window budget, stitched as one pass."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.transform import from_origin

from sitewatch.cli import main
from sitewatch.detect import tiling
from sitewatch.detect.sar import SarParams, detect_sar
from sitewatch.detect.sar_cells import _block_px
from sitewatch.detect.tiling import (
    MAX_WINDOW_PX,
    MIN_CORE_PX,
    SAR_TILE_PX,
    detect_sar_tiled,
    overlap_px,
    plan_tiles,
    tile_core,
)
from sitewatch.detection import DetectJob, detect_observation
from sitewatch.errors import InputError
from test_detection_sar_tiles import _harbour

SEA = 0.02


def _read_fraction(shape: tuple[int, int], core: tuple[int, int], o: int, b: int) -> float:
    """Pixels the tiles' windows hold over the raster's."""
    tiles = plan_tiles(*shape, core, o, align=b)
    return sum((t.window[1] - t.window[0]) * (t.window[3] - t.window[2]) for t in tiles) / (shape[0] * shape[1])


@pytest.mark.parametrize("px", [40.0, 10.0, 5.0, 2.0])
def test_cores_stay_4096_pixels_at_coarse_pixels(px: float) -> None:
    # Where the context is a small part of a 4096-pixel core, tiles are cut as they always were.
    assert tile_core(SarParams(), px, (30000, 30000)) == (SAR_TILE_PX, SAR_TILE_PX)
    assert tile_core(SarParams(), px, (5000, 9000)) == (SAR_TILE_PX, SAR_TILE_PX)


@pytest.mark.parametrize("px", [1.5, 1.0, 0.5, 0.3, 0.25, 0.2])
def test_fine_cores_are_as_large_as_the_window_budget_allows(px: float) -> None:
    p, shape = SarParams(), (40000, 40000)
    o, b = overlap_px(p, px), _block_px(p, px)
    rows, cols = tile_core(p, px, shape)
    assert rows == cols and rows // b * b >= MIN_CORE_PX
    tiles = plan_tiles(*shape, (rows, cols), o, align=b)
    assert max(max(t.window[1] - t.window[0], t.window[3] - t.window[2]) for t in tiles) <= MAX_WINDOW_PX
    # Six contexts, or the largest core (a block more) whose window can stay within the budget.
    assert rows == 6 * o or rows // b * b + b + 2 * o + b - 1 > MAX_WINDOW_PX
    if rows // b * b > SAR_TILE_PX:  # fewer pixels detected twice than with the old 4096-pixel cores
        assert _read_fraction(shape, (rows, cols), o, b) < _read_fraction(shape, (SAR_TILE_PX, SAR_TILE_PX), o, b)


def test_a_side_that_fits_one_window_is_not_cut() -> None:
    p = SarParams()
    rows, cols = tile_core(p, 0.5, (12000, 30000))
    assert rows == 12000 and cols < 12000
    assert tile_core(p, 0.5, (12000, 12000)) == (12000, 12000)  # a 6 km port at 0.5 m: one window, not 3 x 3 tiles
    assert len(plan_tiles(12000, 12000, (12000, 12000), overlap_px(p, 0.5), align=_block_px(p, 0.5))) == 1


def test_a_core_as_long_as_the_side_is_one_tile_even_unaligned() -> None:
    tiles = plan_tiles(8200, 8000, (8200, 8000), 2560, align=160)
    assert [t.core for t in tiles] == [(0, 8200, 0, 8000)]
    shorter = plan_tiles(8200, 8000, 4100, 2560, align=160)  # shorter cores are still aligned: 4000
    assert sorted({t.core[0] for t in shorter}) == [0, 4000, 8000] and sorted({t.core[2] for t in shorter}) == [0, 4000]


def test_pixels_too_fine_for_any_tile_are_refused_with_the_size_to_resample_to() -> None:
    p = SarParams()

    def never(win: tuple[int, int, int, int]) -> tuple[np.ndarray, None]:
        raise AssertionError("no window is read before the tiles are known to fit")

    with pytest.raises(InputError, match=r"pixels of 0\.1 m.*resample the image to ([0-9.]+) m") as err:
        detect_sar_tiled(never, (20000, 20000), 0.1)
    m = re.search(r"resample the image to ([0-9.]+) m", str(err.value))
    assert m is not None
    coarsest = float(m.group(1))
    rows, _ = tile_core(p, coarsest, (20000, 20000))  # the size it names holds tiles
    assert rows // _block_px(p, coarsest) * _block_px(p, coarsest) >= MIN_CORE_PX
    with pytest.raises(InputError):
        tile_core(p, round(coarsest - 0.01, 2), (20000, 20000))  # and a hundredth finer does not
    assert tile_core(p, 0.1, (16000, 9000)) == (16000, 9000)  # a raster one window holds is never refused


def test_detect_image_refuses_a_scene_of_too_fine_pixels(tmp_path) -> None:
    # 20,000 x 20,000 float32 at 0.1 m, sparse on disk: refused with the size to resample to, no tile read.
    path = tmp_path / "fine.tif"
    profile = dict(driver="GTiff", width=20000, height=20000, count=1, dtype="float32", crs="EPSG:32652",
                   transform=from_origin(300000, 4300000, 0.1, 0.1), tiled=True, blockxsize=512, blockysize=512, SPARSE_OK=True)  # fmt: skip
    with rasterio.open(path, "w", **profile):
        pass
    res = CliRunner().invoke(main, ["detect-image", str(path), "--sensor", "sar", "--out", str(tmp_path / "d.geojson")])
    assert res.exit_code != 0
    assert "pixels of 0.1 m" in res.output and "resample the image to 0.19 m" in res.output
    assert not (tmp_path / "d.geojson").exists()


def test_detect_names_an_observation_too_fine_for_any_tile(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The 683 x 512 harbour at 10 m, with the tiling's limits lowered so that its context (128
    # pixels) is past them, as 1280 m is at 0.1 m: the observation's error, not the run's end.
    site, obs, path = _harbour(tmp_path, ["VV"], True)
    monkeypatch.setattr(tiling, "SAR_TILE_PX", 256)
    monkeypatch.setattr(tiling, "MAX_WINDOW_PX", 300)
    monkeypatch.setattr(tiling, "MIN_CORE_PX", 64)
    res = detect_observation(DetectJob(site, obs, path, {}), sar_tile_above=100_000)
    assert res.error is not None and res.error.startswith(f"{obs.id}: pixels of 10 m")
    assert "resample the image to" in res.error and not res.detections


def _hulls(rng: np.random.Generator, shape: tuple[int, int], hulls: list[tuple[float, float, float, float, float]]) -> np.ndarray:
    """Sea speckle with solid 20 dB hulls ((row, col, length px, width px, heading rad)), float32."""
    mean = np.full(shape, SEA)
    rr, cc = np.mgrid[0 : shape[0], 0 : shape[1]]
    for r, c, length, width, t in hulls:
        along = (rr - r) * math.cos(t) + (cc - c) * math.sin(t)
        across = -(rr - r) * math.sin(t) + (cc - c) * math.cos(t)
        mean[(np.abs(along) <= length / 2) & (np.abs(across) <= width / 2)] = SEA * 100
    return (mean * rng.gamma(4.5, 1 / 4.5, shape)).astype(np.float32)


def test_fine_pixel_tiles_find_what_one_pass_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0.5 m pixels with a shorter context (430 m: 860 pixels), a window budget of 2400 pixels a
    # side: a 2600 x 1200 raster is cut across its rows only, in cores of the fine regime, with
    # hulls across every seam; tiles and one pass give the same detections.
    px, p = 0.5, SarParams(background_m=200.0, max_length_m=150.0)
    monkeypatch.setattr(tiling, "MAX_WINDOW_PX", 2400)
    monkeypatch.setattr(tiling, "MIN_CORE_PX", 256)
    shape = (2600, 1200)
    rows, cols = tile_core(p, px, shape)
    b = _block_px(p, px)
    core = rows // b * b
    assert cols == 1200 and core < SAR_TILE_PX and 6 * overlap_px(p, px) > SAR_TILE_PX
    seams = list(range(core, shape[0], core))
    assert len(seams) >= 3
    rng = np.random.default_rng(4)
    hulls = [(float(s), 250.0 + 350.0 * (i % 3), 120.0 + 20 * i, 24.0, 0.3 + 0.4 * i) for i, s in enumerate(seams)]
    hulls += [(60.0, 600.0, 140.0, 26.0, 1.2), (2540.0, 1150.0, 100.0, 20.0, 0.0)]  # at the raster's edges
    img = _hulls(rng, shape, hulls)
    whole = detect_sar(img, px, params=p)
    windows: list[tuple[int, int, int, int]] = []

    def read(win: tuple[int, int, int, int]) -> tuple[np.ndarray, None]:
        windows.append(win)
        return img[win[0] : win[1], win[2] : win[3]], None

    tiled = detect_sar_tiled(read, shape, px, params=p)
    assert len(windows) == len(seams) + 1
    assert all(w[1] - w[0] <= 2400 and (w[2], w[3]) == (0, 1200) for w in windows)
    assert len(whole) == len(tiled) >= len(hulls)
    for a in whole:
        near = [d for d in tiled if abs(d.row - a.row) <= 1 and abs(d.col - a.col) <= 1]
        assert len(near) == 1
        assert abs(near[0].length_m - a.length_m) < 1.0
