"""The detection stage reads an optical observation tile by tile, as detect-image reads a file.

A site grid of 0.3-0.5 m imagery is 10,000-17,000 pixels a side; read whole and run through the
detector in one pass it took about 125 bytes a pixel (35 GB for a 5 km port at 0.3 m). Tiles
must change nothing else: the same detections, stitched without duplicates at the seams, the
same cloud fraction, the site's water polygon (known-water mode) and berths cut to each window.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from numpy.typing import NDArray

from _harbour import ingest_harbour
from sitewatch.detect.optical_image import MAX_WINDOW_PX, decimated_shape
from sitewatch.detection import DetectJob, DetectResult, detect_observation
from sitewatch.detection_masks import (
    BERTH_DISTANCE_M,
    grid_mask,
    near_water_at,
    water_mask,
    window_grid,
)
from sitewatch.geo import reproject_geometry
from sitewatch.ingest import site_grid
from sitewatch.model import Observation, Site
from sitewatch.testing import tiny_site, write_tiff
from test_optical import CLOUD, DECK, QUAY, WATER, coverage

QUAY_X = 4300.0
"""Land east of this many metres from the grid's west edge."""
TILE = 354
"""The smallest core at 10 m (six overlaps of 59 pixels): the 683 x 512 grid is cut in 2 x 2 tiles."""


def _harbour(tmp_path: Path) -> tuple[Site, Observation, str]:
    """A 10 m optical observation of a 5 x 7 km harbour, ships across the tile seams at row and
    column 354 (one alongside the quay), a cloud across the row seam; the site has a water
    polygon and a berth along the quay."""
    site = tiny_site("tiles", half_deg=0.03)
    grid = site_grid(site, 10.0)
    h, w = grid.shape
    x = (np.arange(w) + 0.5) * 10.0
    land = np.broadcast_to((x >= QUAY_X)[None, :], (h, w)).astype(float)
    img = WATER[:, None, None] * (1 - land) + QUAY[:, None, None] * land

    def put(cy: float, cx: float, length: float, beam: float, heading: float, colour: NDArray[Any] = DECK) -> None:
        nonlocal img
        c = coverage(max(h, w), 10.0, cx, cy, length, beam, heading)[:h, :w]
        img = img * (1 - c) + colour[:, None, None] * c

    for cy, cx, heading in [(3540, 1000, 30), (3545, 2500, 0), (1500, 3540, 90), (3540, 3540, 135), (5000, 1200, 60)]:
        put(cy, cx, 150.0, 25.0, heading)  # at anchor
    for cy in (2000.0, 3530.0, 4500.0):
        put(cy, QUAY_X - 10.0, 113.0, 15.6, 0.0)  # alongside
    put(3540.0, 1800.0, 400.0, 300.0, 0.0, CLOUD)
    img = img + np.random.default_rng(0).normal(0, 0.003, img.shape)
    a = grid.affine
    src = write_tiff(
        tmp_path / "harbour_20241017.tif", img.astype(np.float32), crs=grid.crs, transform=a,
        descriptions=["blue", "green", "red", "nir"], tags={"SITEWATCH_ACQUIRED": "2024-10-17T10:00:00Z"},
    )  # fmt: skip
    site, obs, path = ingest_harbour(tmp_path, site, grid, src, QUAY_X)
    assert obs.grid.shape == (683, 512)
    return site, obs, path


@pytest.fixture(scope="module")
def harbour(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, Observation, str]:
    return _harbour(tmp_path_factory.mktemp("harbour"))


def _rows(res: DetectResult) -> list[tuple[Any, ...]]:
    assert not res.error, res.error
    return [(d.kind, d.row, d.col, d.length_m, d.width_m, d.heading_deg, d.score, d.berth_id) for d in res.detections]


@pytest.mark.parametrize("mode", ["water", "auto"])
def test_an_observation_in_several_tiles_gives_what_one_tile_gives(harbour, mode: str) -> None:  # type: ignore[no-untyped-def]
    site, obs, path = harbour
    job = DetectJob(site, obs, path, {"optical_mode": mode})
    one = detect_observation(job)  # 683 x 512 pixels: one tile of 2048
    four = detect_observation(job, tile=TILE)
    # Row by row: pytest from 9.1 refuses approx over a list of tuples.
    a, b = _rows(four), _rows(one)
    assert [(r[0], r[-1]) for r in a] == [(r[0], r[-1]) for r in b]
    assert [list(r[1:-1]) for r in a] == [pytest.approx(list(r[1:-1]), abs=1e-6) for r in b]
    assert four.cloud_fraction == one.cloud_fraction and one.cloud_fraction is not None
    assert 0.005 < one.cloud_fraction < 0.01  # the 400 x 300 m cloud and its margin, of the site's pixels
    # Ships across the seam at row 354 (pixel 353.5 is the second tile's), each once.
    seam = [r for r in _rows(four) if abs(r[1] - 353.5) < 1.5]
    if mode == "water":  # known water: ships at anchor and alongside, the one alongside at its berth
        assert len(seam) == 4 and len(four.detections) == 8
        assert sum(r[7] == "quay" for r in _rows(four)) == 3
    else:  # the learned detector (real imagery) finds the ships at anchor
        assert len(seam) == 3 and len(four.detections) == 5


def test_the_pipeline_reads_an_optical_observation_window_by_window(harbour, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The whole grid was read at once (and run through the detector in one pass): for a site
    # grid of 12,000 x 12,000 pixels, about 18 GB. Now the only read of the whole grid is
    # decimated (the water references), the rest are tile windows.
    site, obs, path = harbour
    reads: list[tuple[bool, tuple[int, ...]]] = []
    real = rasterio.io.DatasetReader.read

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(self, *args, **kwargs)
        reads.append((kwargs.get("window") is not None, out.shape[-2:]))
        return out

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    res = detect_observation(DetectJob(site, obs, path, {"optical_mode": "water"}), tile=TILE)
    assert not res.error and res.detections
    whole = [shape for windowed, shape in reads if not windowed]
    assert whole == [decimated_shape(obs.grid.shape)]
    assert len(reads) == 5 and all(shape <= (TILE + 2 * 59, TILE + 2 * 59) for windowed, shape in reads if windowed)
    # A grid over 4 M pixels is read whole only decimated to about a million pixels.
    rows, cols = decimated_shape((16_700, 16_700))
    assert rows * cols <= 1_100_000 and MAX_WINDOW_PX**2 < 16_700**2


def test_a_windows_water_mask_is_the_whole_grids_cut(harbour) -> None:  # type: ignore[no-untyped-def]
    site, obs, _ = harbour
    whole = water_mask(site, obs.grid)
    assert whole is not None and whole.any() and not whole.all()
    for r0, r1, c0, c1 in [(0, 354, 0, 354), (295, 683, 295, 512), (100, 101, 420, 440), (0, 683, 425, 435)]:
        cut = water_mask(site, obs.grid, (r0, r1, c0, c1))
        assert cut is not None and np.array_equal(cut, whole[r0:r1, c0:c1]), (r0, r1, c0, c1)
    assert water_mask(replace(site, water=None), obs.grid, (0, 10, 0, 10)) is None


def test_near_water_is_the_buffered_polygon_rasterised(harbour) -> None:  # type: ignore[no-untyped-def]
    site, obs, _ = harbour
    grid = obs.grid
    near = grid_mask(reproject_geometry(site.water, "EPSG:4326", grid.crs).buffer(BERTH_DISTANCE_M), grid)
    rng = np.random.default_rng(1)
    rows = list(rng.uniform(-2, grid.height + 1, 200))
    cols = list(rng.uniform(420, 445, 200))  # across the polygon's east edge and its 40 m
    got = near_water_at(site.water, grid, rows, cols)
    want = [
        0 <= round(r) < grid.height and 0 <= round(c) < grid.width and bool(near[round(r), round(c)])
        for r, c in zip(rows, cols, strict=True)
    ]
    assert got == want and any(got) and not all(got)
    assert window_grid(grid, (5, 9, 7, 8)).affine == grid.affine @ grid.affine.translation(7, 5)
