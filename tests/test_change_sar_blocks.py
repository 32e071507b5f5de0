"""The SAR comparison a block of rows at a time (:func:`sitewatch.change.sar.sar_blocks`): whatever the blocks,
what the whole grid at once gives (:func:`sitewatch.change.sar_log_ratio`), to the bit; the mask and regions too."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from scipy import ndimage
from shapely.geometry import Point

from sitewatch.change import ChangeImage, detect_changes, sar_log_ratio
from sitewatch.change.blocks import RowBlocks
from sitewatch.change.compare import GROW
from sitewatch.change.regions import _hysteresis, _regions
from sitewatch.change.sar import _f_thresholds, sar_blocks
from sitewatch.change_image import _read_sar, change_images, read_change_pair
from sitewatch.change_image_rows import _SarRows
from sitewatch.model import Grid
from sitewatch.testing import write_tiff

H, W = 150, 120
GRID = Grid("EPSG:32633", (10.0, 0.0, 300_000.0, 0.0, -10.0, 5_000_000.0), W, H)
APPEARED = (slice(58, 71), slice(40, 55))  # across the edge at row 64 of blocks of 8, 16, 32 or 64 rows
INSIDE = Point(300_000.0 + 47.5 * 10, 5_000_000.0 - 64.5 * 10)  # its middle, on the grid
GONE = (slice(100, 112), slice(80, 96))
ROWS = [1, 2, 3, 5, 7, 8, 13, 16, 37, H]


def _pair(seed: int = 5) -> tuple[ChangeImage, ChangeImage]:
    """Two dates of gamma-speckled sigma0 (float32, 4.6 looks) on textured land, with dark water both dates
    (not tested), a bright scatterer, no data, a block that appeared and one that went."""
    rng = np.random.default_rng(seed)
    texture = ndimage.gaussian_filter(rng.normal(size=(H, W)), 4)
    db = -9.0 + 1.5 * texture / texture.std()
    db[:, :20] = -22.0  # water
    db[GONE] = -3.0
    mean = 10 ** (db / 10)
    mean[30, 90] = 10.0
    after = mean.copy()
    after[APPEARED] = 10 ** (2.0 / 10)
    after[GONE] = 10 ** (-12.0 / 10)

    def speckled(m: np.ndarray) -> np.ndarray:
        return (m * rng.gamma(4.6, 1 / 4.6, m.shape)).astype(np.float32)[None]

    b, a = speckled(mean), speckled(after)
    b[0, 5:9, 70:90] = np.nan  # no data
    a[0, 140:, 100:] = 0.0  # a collar
    return ChangeImage(b, GRID, "sar"), ChangeImage(a, GRID, "sar")


def _whole(before: ChangeImage, after: ChangeImage, pfa: float = 1e-7) -> tuple[np.ndarray, list, dict]:
    """The whole-grid SAR test as it was before the row blocks (the mask, regions and parameters)."""
    ok = before.usable() & after.usable()
    lr, tested, looks = sar_log_ratio(before.data[0], after.data[0], ok)
    t_seed, t_grow = _f_thresholds(looks, pfa), _f_thresholds(looks, min(0.1, pfa * GROW))
    to_db = 10 / math.log(10)
    params = {"looks": round(float(np.nanmax(looks)), 3), "seed_db": round(to_db * float(np.min(t_seed)), 4),
              "grow_db": round(to_db * float(np.min(t_grow)), 4)}  # fmt: skip
    db = np.nan_to_num(np.abs(lr)) * to_db
    with np.errstate(invalid="ignore"):
        up = _hysteresis(tested & (lr > t_grow), tested & (lr > t_seed))
        down = _hysteresis(tested & (lr < -t_grow), tested & (lr < -t_seed))
    r_up, k_up = _regions(up, before.grid, 200.0, db, "appeared")
    r_down, k_down = _regions(down, before.grid, 200.0, db, "disappeared")
    regions = r_up + r_down
    regions.sort(key=lambda r: (-r.area_m2, r.polygon.bounds))
    return k_up | k_down, regions, params


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("despeckle", [1, 3, 4, 5])
def test_sar_values_block_by_block_are_the_whole_grids_to_the_bit(rows: int, despeckle: int) -> None:
    before, after = _pair()
    ok = before.usable() & after.usable()
    lr, tested, looks = sar_log_ratio(before.data[0], after.data[0], ok, despeckle_px=despeckle)
    runs = sar_blocks(before.data, after.data, ok, despeckle_px=despeckle, blocks=RowBlocks(W * rows))
    assert runs is not None
    got_lr, got_tested, got_looks = np.full((H, W), -1.0), np.zeros((H, W), bool), np.full((H, W), -1.0)
    spans = []
    for r0, r1, lrb, tb, lb in runs:
        spans.append((r0, r1))
        got_lr[r0:r1], got_tested[r0:r1], got_looks[r0:r1] = lrb, tb, lb
    assert spans == RowBlocks(W * rows).spans(H, W)
    assert np.array_equal(got_lr, lr, equal_nan=True)
    assert np.array_equal(got_tested, tested)
    assert np.array_equal(got_looks, looks, equal_nan=True)


@pytest.mark.parametrize("rows", ROWS)
def test_sar_pair_in_blocks_gives_the_whole_grids_mask_regions_and_parameters(rows: int) -> None:
    before, after = _pair()
    mask, regions, params = _whole(before, after)
    result = detect_changes(before, after, blocks=RowBlocks(W * rows))
    assert result.changed.tobytes() == mask.tobytes()
    assert result.regions == tuple(regions)
    assert {k: result.parameters[k] for k in params} == params
    assert {r.direction for r in result.regions} == {"appeared", "disappeared"}


@pytest.mark.parametrize("rows", [8, 16, 32, 64])
def test_a_sar_region_across_a_block_edge_is_one_region(rows: int) -> None:
    before, after = _pair()
    result = detect_changes(before, after, blocks=RowBlocks(W * rows))
    hits = [r for r in result.regions if r.polygon.intersects(INSIDE.buffer(60))]
    assert len(hits) == 1 and hits[0].direction == "appeared"
    assert hits[0].polygon.contains(INSIDE)
    assert hits[0].polygon.bounds[1] < 5_000_000.0 - 64 * 10 < hits[0].polygon.bounds[3]


def test_too_few_tested_pixels_give_no_blocks_and_no_regions() -> None:
    before, after = _pair()
    ok = np.zeros((H, W), bool)
    ok[:3, :3] = True
    assert sar_blocks(before.data, after.data, ok, blocks=RowBlocks(W)) is None
    area = np.zeros((H, W), bool)
    area[:3, :3] = True
    result = detect_changes(before, after, area=area, blocks=RowBlocks(W))
    assert result.regions == () and not result.changed.any()


def _sar_files(tmp_path: Path, kind: str) -> tuple[Path, Path]:
    """The pair as two GeoTIFFs of 600 rows (chunks of 256 and a part): sigma0 (float32), dB (float32), or
    amplitude DN (uint16, a collar of DN 0)."""
    reps = 4
    before, after = _pair()
    t = Affine(10.0, 0, 300_000.0, 0, -10.0, 5_000_000.0)
    paths = []
    for name, image in (("b", before), ("a", after)):
        x = np.concatenate([np.nan_to_num(image.data[0], nan=0.0)] * reps, axis=0)
        if kind == "db":
            data = (10 * np.log10(np.maximum(x, 1e-6))).astype(np.float32)
            data[x == 0] = np.nan
        elif kind == "amplitude":
            data = np.clip(np.rint(np.sqrt(x) * 1000), 0, 65_535).astype(np.uint16)
        else:
            data = x.astype(np.float32)
        paths.append(tmp_path / f"{name}_{kind}.tif")
        write_tiff(paths[-1], data, crs="EPSG:32633", transform=t)
    return paths[0], paths[1]


@pytest.mark.parametrize("kind", ["sigma0", "db", "amplitude"])
def test_sar_images_read_by_chunks_of_rows_compare_as_read_whole(tmp_path: Path, kind: str) -> None:
    """A SAR pair taller than a chunk: the rows read give the whole read's values, whatever window, and the
    comparison finds what it finds on the images read whole."""
    fb, fa = _sar_files(tmp_path, kind)
    pair = read_change_pair(fb, fa, sensor="sar")
    assert isinstance(pair.before.data, _SarRows) and isinstance(pair.after.data, _SarRows)
    whole_b, whole_a = (_read_sar(f, None).data for f in (fb, fa))
    for r0, r1 in ((0, 600), (250, 262), (255, 257), (599, 600), (3, 300), (250, 520), (10, 20)):
        assert np.array_equal(pair.before.data[:, r0:r1], whole_b[:, r0:r1], equal_nan=True)
        assert np.array_equal(pair.after.data[0, r0:r1], whole_a[0, r0:r1], equal_nan=True)
    grid = pair.before.grid
    held = detect_changes(ChangeImage(whole_b, grid, "sar", ("VV",)), ChangeImage(whole_a, grid, "sar", ("VV",)))
    _, streamed = change_images(fb, fa, sensor="sar")
    assert streamed.changed.tobytes() == held.changed.tobytes() and streamed.regions == held.regions and len(held.regions) >= 4
    assert streamed.parameters == held.parameters


def test_a_sar_pair_not_on_one_grid_is_read_whole(tmp_path: Path) -> None:
    fb, _ = _sar_files(tmp_path, "sigma0")
    other = tmp_path / "shifted.tif"
    write_tiff(other, np.ones((600, W), np.float32), crs="EPSG:32633", transform=Affine(10.0, 0, 300_010.0, 0, -10.0, 5_000_000.0))
    pair = read_change_pair(fb, other, sensor="sar")
    assert isinstance(pair.before.data, np.ndarray)
