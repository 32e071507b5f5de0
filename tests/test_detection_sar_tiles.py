"""The detection stage reads a large SAR observation tile by tile, as detect-image reads a scene.

Read whole, a SAR observation took the detector's 8.8 bytes a pixel (about 9 GB for a grid of 2³⁰
pixels: a site over a whole Sentinel-1 scene, or sub-metre SAR of a port). Above a size threshold
(here lowered to cut a 683 x 512 grid in 2 x 2 tiles) it is now read by window: the same
detections as one pass, ships across the seams once, the site's water polygon and berths cut to
each window, a dual-polarisation pair tiled channel by channel and fused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from _harbour import ingest_harbour
from sitewatch.detection import DetectJob, DetectResult, detect_observation
from sitewatch.ingest import site_grid
from sitewatch.model import Observation, Site
from sitewatch.testing import tiny_site, write_tiff
from test_sar import SEA, ship_fraction, speckle

TILE = 344
"""A core of 344 pixels (43 CFAR blocks of 8) with the 128 pixels of context at 10 m: the
683 x 512 grid is cut in 2 x 2 tiles, seams at row and column 344 (pixel 343.5 is the second tile's)."""
QUAY_COL = 430
"""Land (a quay) from this column east; the berth runs along its face."""
SHIPS = [
    (344.0, 150.0, 150.0, 24.0, 0.0),  # across the row seam
    (150.0, 344.0, 150.0, 24.0, 90.0),  # across the column seam
    (344.0, 344.0, 160.0, 26.0, 135.0),  # across both
    (560.0, 220.0, 120.0, 20.0, 60.0),
    (344.0, QUAY_COL - 1.5, 113.0, 15.6, 0.0),  # alongside the quay, across the row seam
    (200.0, QUAY_COL - 1.5, 113.0, 15.6, 0.0),  # alongside
]


def _hulls(shape: tuple[int, int]) -> np.ndarray:
    """Fraction of each pixel covered by the hulls, drawn in a crop around each one."""
    out = np.zeros(shape)
    for r, c, length, width, heading in SHIPS:
        reach = int(length / 10 / 2 + width / 10) + 2
        r0, c0 = int(r) - reach, int(c) - reach
        crop = ship_fraction((2 * reach + 1, 2 * reach + 1), r - r0, c - c0, length, width, heading)
        out[r0 : r0 + crop.shape[0], c0 : c0 + crop.shape[1]] += crop
    return np.minimum(out, 1.0)


def _harbour(tmp_path: Path, bands: list[str], polygon: bool, named: bool = True) -> tuple[Site, Observation, str]:
    """A 10 m SAR observation of a 5 x 7 km harbour (sea west of a quay at column 430, land east of
    it), the ships above, in ``bands`` (named so unless not ``named``); with ``polygon`` the site
    has a water polygon and a berth along the quay."""
    site = tiny_site("sar-tiles", half_deg=0.03)
    grid = site_grid(site, 10.0)
    h, w = grid.shape
    rng = np.random.default_rng(7)
    hull = _hulls((h, w))
    land = np.zeros((h, w))
    land[:, QUAY_COL:] = 1.0
    sea = {"VV": SEA, "VH": SEA / 6.3}
    data = [
        speckle(rng, sea[b] * (1 - land) + 0.3 * land + hull * sea[b] * 10**2.0, (h, w)).astype(np.float32) for b in bands
    ]
    a = grid.affine
    src = write_tiff(
        tmp_path / "s1_20241017.tif", np.stack(data), crs=grid.crs, transform=a, descriptions=bands if named else [],
        tags={"SITEWATCH_ACQUIRED": "2024-10-17T10:00:00Z", "SITEWATCH_SENSOR": "sar", "SITEWATCH_IMPULSE_RESPONSE_M": "0"},
    )  # fmt: skip
    site, obs, path = ingest_harbour(tmp_path, site, grid, src, QUAY_COL * 10.0 if polygon else None)
    assert obs.grid.shape == (683, 512)
    return site, obs, path


CASES = {
    "polygon": (["VV"], True, True),
    "derived": (["VV"], False, True),
    "dual": (["VV", "VH"], True, True),
    "unnamed pair": (["VH", "VV"], True, False),  # the darker band, first here, is the cross-polarised one
}


@pytest.fixture(scope="module", params=list(CASES))
def harbour(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Site, Observation, str]:
    bands, polygon, named = CASES[request.param]
    return (request.param, *_harbour(tmp_path_factory.mktemp(request.param.replace(" ", "_")), bands, polygon, named))


def _rows(res: DetectResult) -> list[tuple[Any, ...]]:
    assert not res.error, res.error
    return [(d.kind, d.row, d.col, d.length_m, d.width_m, d.heading_deg, d.score, d.berth_id) for d in res.detections]


def test_a_large_sar_observation_in_tiles_gives_what_one_pass_gives(harbour) -> None:  # type: ignore[no-untyped-def]
    case, site, obs, path = harbour
    job = DetectJob(site, obs, path, {})
    one = _rows(detect_observation(job))  # 350 k pixels: under the threshold, one pass
    four = _rows(detect_observation(job, sar_tile=TILE, sar_tile_above=100_000))
    # Every ship once, in one pass and in tiles alike (none twice across a seam); with land derived
    # from the image, the hull alongside in the second tile is lost in the quay in both.
    found = SHIPS if case != "derived" else SHIPS[:-1]
    assert len(four) == len(one) == len(found), (case, one)
    for row, col, *_ in found:
        assert sum(abs(r[1] - row) < 3 and abs(r[2] - col) < 3 for r in four) == 1, (case, row, col)
    for a, b in zip(four, one, strict=True):
        assert abs(a[1] - b[1]) <= 1.0 and abs(a[2] - b[2]) <= 1.0 and a[7] == b[7], (case, a, b)
    if case != "derived":  # the site's polygon and berth, cut to each window: what one pass sees, to the digit
        assert [(r[0], r[-1]) for r in four] == [(r[0], r[-1]) for r in one]
        assert [list(r[1:-1]) for r in four] == [pytest.approx(list(r[1:-1]), abs=1e-6) for r in one]
        assert sum(r[7] == "quay" for r in four) == 2  # the two alongside, at their berth


def test_the_pipeline_reads_a_large_sar_observation_window_by_window(harbour, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The whole grid was read at once, whatever its size: 8.8 bytes a pixel through the detector.
    # Now, above the threshold, every read is a window of a tile (or a few rows to judge two
    # unnamed bands), none of the whole grid.
    case, site, obs, path = harbour
    reads: list[tuple[bool, tuple[int, ...]]] = []
    real = rasterio.io.DatasetReader.read

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(self, *args, **kwargs)
        reads.append((kwargs.get("window") is not None, out.shape))
        return out

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    res = detect_observation(DetectJob(site, obs, path, {}), sar_tile=TILE, sar_tile_above=100_000)
    assert not res.error and len(res.detections) >= len(SHIPS) - 1
    assert all(windowed for windowed, _ in reads)
    # Two unnamed bands are judged a pair from 8 strips of 16 rows, both bands.
    strips = [shape for _, shape in reads if shape[1] == 16]
    assert strips == ([(2, 16, 512)] * 8 if case == "unnamed pair" else [])
    # 2 x 2 tiles of a core and its 129 pixels of context (1280 m), each channel of a pair read on its own,
    # and each berth's zone once (every band), for how much of it has no data.
    reads = [shape for _, shape in reads if shape[1] != 16]
    zones, tiles = reads[: len(site.berths)], reads[len(site.berths) :]
    assert all(rows * cols < TILE * TILE for _, rows, cols in zones), zones
    assert len(tiles) == 4 * (1 if case in ("polygon", "derived") else 2)
    assert all(shape[0] == 1 and shape[1] <= TILE + 131 and shape[2] <= TILE + 129 for shape in tiles), tiles
