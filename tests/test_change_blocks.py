"""The optical comparison a block of rows at a time (:mod:`sitewatch.change.blocks`): whatever the blocks,
what the whole grid at once gives, to the bit; and ``change-image``'s band files read a chunk of rows at a time."""

from __future__ import annotations

import gc
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from scipy import ndimage
from shapely.geometry import Point

from _fds import needs_proc, open_files
from sitewatch.change import ChangeImage, detect_changes, optical_change_statistic
from sitewatch.change.blocks import RowBlocks, _BlockMeans, _halo
from sitewatch.change.windows import _masked_mean
from sitewatch.change_image import _read_optical, change_images, read_change_pair
from sitewatch.change_image_rows import _BandRows, _streamed_dn_scale
from sitewatch.detect.band_folder import band_files_in
from sitewatch.detect.optical_reflectance import infer_dn_scale
from sitewatch.errors import InputError
from sitewatch.model import Grid
from sitewatch.testing import write_tiff

H, W = 150, 120
GRID = Grid("EPSG:32633", (10.0, 0.0, 300_000.0, 0.0, -10.0, 5_000_000.0), W, H)
CHANGED = (slice(58, 71), slice(40, 55))  # across the edge at row 64 of blocks of 8, 16, 32 or 64 rows
INSIDE = Point(300_000.0 + 47.5 * 10, 5_000_000.0 - 64.5 * 10)  # its middle, on the grid


def _pair(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two dates of textured land and water (float32 reflectance, four bands), the later in other light with
    a block built; and a cloud over both dates' pixels to leave out."""
    rng = np.random.default_rng(seed)
    texture = ndimage.gaussian_filter(rng.normal(size=(H, W)), 3) * 6
    base = np.array([0.05, 0.08, 0.07, 0.3])[:, None, None] * (1 + 0.3 * texture)
    base[:, :, :25] = np.array([0.045, 0.04, 0.022, 0.012])[:, None, None]
    base[:, 100:, 60:] *= 1.6  # a second cover, for the classes
    after = base * np.array([1.05, 1.1, 0.95, 1.2])[:, None, None] + 0.01
    after[(slice(None), *CHANGED)] = np.array([0.25, 0.26, 0.27, 0.30])[:, None, None]
    before = (base + rng.normal(0, 0.003, base.shape)).astype(np.float32)
    after = (after + rng.normal(0, 0.003, after.shape)).astype(np.float32)
    before[:, 5:9, 70:90] = np.nan  # no data
    valid = np.ones((H, W), bool)
    valid[120:135, 10:30] = False  # cloud
    return before, after, valid


def _image(data: np.ndarray, valid: np.ndarray | None = None) -> ChangeImage:
    return ChangeImage(data, GRID, "optical", ("blue", "green", "red", "nir"), valid)


@pytest.mark.parametrize("size", [1, 3, 4, 5])
@pytest.mark.parametrize("rows", [1, 2, 7, H])
def test_window_means_block_by_block_are_the_whole_grids_to_the_bit(size: int, rows: int) -> None:
    rng = np.random.default_rng(size * 100 + rows)
    a = rng.normal(size=(41, 23)) * 10 ** rng.uniform(-3, 3, (41, 23))
    ok = rng.random((41, 23)) > 0.2
    mean, share = _masked_mean(a, ok, size)
    got_mean, got_share = np.empty_like(mean), np.empty_like(share)
    means = _BlockMeans(size, 41)
    halo = _halo(size)
    for r0, r1 in RowBlocks(rows * 23).spans(41, 23):
        ea, eb = max(0, r0 - halo), min(41, r1 + halo)
        got_mean[r0:r1] = means.mean("a", a[ea:eb], ok[ea:eb], ea, r0, r1)
        got_share[r0:r1] = means.share(ok[ea:eb], ea, r0, r1)
    assert np.array_equal(got_mean, mean, equal_nan=True)
    assert np.array_equal(got_share, share)


@pytest.mark.parametrize("noise", ["scene", "quiet", "half"])
def test_a_grid_cut_into_many_blocks_gives_what_one_block_gives(noise: str) -> None:
    before, after, valid = _pair()
    whole = RowBlocks(H * W)
    one = optical_change_statistic(before, after, np.isfinite(before).all(0) & valid, noise=noise, blocks=whole)  # type: ignore[arg-type]
    for rows in (1, 8, 37):
        cut = optical_change_statistic(before, after, np.isfinite(before).all(0) & valid, noise=noise, blocks=RowBlocks(rows * W))  # type: ignore[arg-type]
        assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(one, cut, strict=True))
    a = detect_changes(_image(before, valid), _image(after), noise=noise, blocks=whole)  # type: ignore[arg-type]
    b = detect_changes(_image(before, valid), _image(after), noise=noise, blocks=RowBlocks(8 * W))  # type: ignore[arg-type]
    assert np.array_equal(a.changed, b.changed) and a.changed.any()
    assert a.regions == b.regions and a.parameters == b.parameters


@pytest.mark.parametrize("rows", [8, 16, 32, 64])
def test_a_region_across_a_block_edge_is_one_region(rows: int) -> None:
    """The built block spans rows 58-70: blocks of these rows cut it (at 64, and more often); it is still
    one region, the one the whole grid gives, with its pixels counted once."""
    before, after, valid = _pair()
    whole = detect_changes(_image(before, valid), _image(after), blocks=RowBlocks(H * W))
    cut = detect_changes(_image(before, valid), _image(after), blocks=RowBlocks(rows * W))
    built = [r for r in cut.regions if r.polygon.contains(INSIDE)]
    assert len(built) == 1 and built[0].pixels >= 13 * 15 * 0.9
    assert sum(r.pixels for r in cut.regions) == int(cut.changed.sum())
    assert cut.regions == whole.regions and np.array_equal(cut.changed, whole.changed)


@pytest.mark.parametrize("rows", [1, 7, 64])
def test_a_sub_metre_pair_in_blocks_gives_what_the_whole_grid_gives(rows: int) -> None:
    """At sub-metre the misregistration-tolerant difference looks two pixels (1 m) beyond a block's rows, which a
    second pass running ahead of the blocks gives: cut into blocks, a pair gives the whole grid's statistic, changed
    pixels, regions and parameters, to the bit, with the learned score and without."""
    from sitewatch.testing.submetre_change import submetre_pair

    size = 200  # a new roof and a trench
    pair = submetre_pair(4, size=size, changed=True)
    before = pair.before.copy()
    before[:, 20:26, 30:60] = np.nan  # no data, beside which the windows and the tolerance are cut short
    ok = np.isfinite(before).all(0)
    one = optical_change_statistic(before, pair.after, ok, classes=0, tolerance_px=2, blocks=RowBlocks(size * size))
    cut = optical_change_statistic(before, pair.after, ok, classes=0, tolerance_px=2, blocks=RowBlocks(rows * size))
    assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(one, cut, strict=True))
    grid = Grid("EPSG:32633", (0.5, 0.0, 300_000.0, 0.0, -0.5, 5_000_000.0), size, size)
    images = [ChangeImage(x, grid, "optical", ("blue", "green", "red")) for x in (before, pair.after)]
    for learned in (True, False):
        a = detect_changes(*images, min_area_m2=5.0, learned=learned, blocks=RowBlocks(size * size))
        b = detect_changes(*images, min_area_m2=5.0, learned=learned, blocks=RowBlocks(rows * size))
        assert a.method_version == ("6" if learned else "4") and a.parameters["tolerance_px"] == 2
        assert np.array_equal(a.changed, b.changed) and a.changed.any()
        assert a.regions == b.regions and a.parameters == b.parameters


def test_row_blocks_hold_at_least_a_row() -> None:
    assert RowBlocks(1).spans(3, 10) == [(0, 1), (1, 2), (2, 3)]
    assert RowBlocks(25).spans(5, 10) == [(0, 2), (2, 4), (4, 5)]
    with pytest.raises(InputError, match="at least one pixel"):
        RowBlocks(0)


def _band_files(tmp_path: Path, name: str, data: np.ndarray) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    t = Affine(10.0, 0, 300_000.0, 0, -10.0, 5_000_000.0)
    for k, code in enumerate(("B02", "B03", "B04", "B08")):
        write_tiff(folder / f"T33TUL_2024090{k}T100031_{code}_10m.tif", data[k], crs="EPSG:32633", transform=t, nodata=0)
    return folder


def _dn(reflectance: np.ndarray) -> np.ndarray:
    return np.clip(np.nan_to_num(reflectance) * 10_000 + 1, 1, 65_535).astype(np.uint16)


def test_band_files_read_by_chunks_of_rows_compare_as_read_whole(tmp_path: Path) -> None:
    """A pair taller than a chunk (256 rows): the rows read give the whole read's values, whatever window,
    and the comparison finds what it finds on the arrays read whole."""
    reps = 4  # 600 rows: two chunks of 256 and a part
    before, after, _ = _pair()
    b, a = (np.concatenate([x] * reps, axis=1) for x in (before, after))
    b_dn, a_dn = _dn(b), _dn(a)
    b_dn[:, 300:310, :] = 0  # no data in every band: not compared
    fb, fa = _band_files(tmp_path, "b", b_dn), _band_files(tmp_path, "a", a_dn)
    pair = read_change_pair(fb, fa)
    assert isinstance(pair.before.data, _BandRows) and isinstance(pair.after.data, _BandRows)
    whole = _read_optical(dict(band_files_in(fb)), "b", None, None).data
    for r0, r1 in ((0, 600), (250, 262), (255, 257), (599, 600), (3, 300), (250, 520), (0, 600), (10, 20)):
        assert np.array_equal(pair.before.data[:, r0:r1], whole[:, r0:r1], equal_nan=True)
        assert np.array_equal(pair.before.data[2, r0:r1], whole[2, r0:r1], equal_nan=True)
    grid = pair.before.grid
    held = detect_changes(*(ChangeImage(np.asarray(x.data[:, 0 : grid.height]), grid, "optical", x.bands) for x in (pair.before, pair.after)))
    _, streamed = change_images(fb, fa)
    assert np.array_equal(held.changed, streamed.changed) and held.regions == streamed.regions and len(held.regions) >= reps
    one_block = detect_changes(pair.before, pair.after, blocks=RowBlocks(grid.height * grid.width))  # rows of three chunks at once
    assert np.array_equal(one_block.changed, streamed.changed) and one_block.regions == streamed.regions


def test_jpeg2000_band_files_are_decoded_once_and_compare_as_read_whole(tmp_path: Path) -> None:
    """Band files in JPEG 2000 (as a Sentinel-2 product holds them) are decoded in the first pass into a
    temporary file, which the later passes read (decoding them again each pass took four times the CPU of
    the whole read): the same values and the same regions as the arrays read whole, and no file left."""
    reps = 4
    before, after, _ = _pair()
    folders = []
    for name, x in (("b", before), ("a", after)):
        folders.append(_jp2_folder(tmp_path / name, _dn(np.concatenate([x] * reps, axis=1))))
    pair = read_change_pair(*folders)
    for x in (pair.before, pair.after):
        assert isinstance(x.data, _BandRows) and x.data.spill is not None
    whole = _read_optical(dict(band_files_in(folders[0])), "b", None, None).data
    for r0, r1 in ((0, 600), (250, 262), (599, 600), (250, 520)):
        assert np.array_equal(pair.before.data[:, r0:r1], whole[:, r0:r1], equal_nan=True)
    grid = pair.before.grid
    held = detect_changes(*(ChangeImage(np.asarray(x.data[:, 0 : grid.height]), grid, "optical", x.bands) for x in (pair.before, pair.after)))
    _, streamed = change_images(*folders)
    assert np.array_equal(held.changed, streamed.changed) and held.regions == streamed.regions and len(held.regions) >= reps
    assert not [f for f in Path(tempfile.gettempdir()).iterdir() if f.name.startswith("sitewatch-rows-")]


def _jp2_folder(folder: Path, dn: np.ndarray) -> Path:
    """Four band files in JPEG 2000 (as a Sentinel-2 product holds them), read with a spill."""
    import rasterio

    folder.mkdir()
    for k, code in enumerate(("B02", "B03", "B04", "B08")):
        profile = {"driver": "JP2OpenJPEG", "width": dn.shape[2], "height": dn.shape[1], "count": 1, "dtype": "uint16",
                   "crs": "EPSG:32633", "transform": Affine(10.0, 0, 300_000.0, 0, -10.0, 5_000_000.0), "nodata": 0,
                   "quality": 100, "reversible": True}  # fmt: skip
        with rasterio.open(folder / f"T33TUL_2024090{k}T100031_{code}_10m.jp2", "w", **profile) as ds:
            ds.write(dn[k], 1)
    return folder


def _spills_open() -> list[str]:
    """This process's descriptors on an unnamed temporary file (a spill is removed from its folder as it is made)."""
    return [fd for fd, link in open_files().items() if link.startswith(tempfile.gettempdir()) and link.endswith("(deleted)")]


@needs_proc
def test_a_spill_is_closed_when_the_pair_is_refused_and_when_it_goes(tmp_path: Path) -> None:
    """The temporary file a JPEG 2000 date is decoded into was never closed: left open (held by the
    traceback) when the pair was refused for not overlapping, and closed by the file object's own finaliser,
    which warns (ResourceWarning, an error in the test run on Python 3.13), when the pair went."""
    before, after, _ = _pair()
    b, a = _jp2_folder(tmp_path / "b", _dn(before)), _jp2_folder(tmp_path / "a", _dn(after))
    nothing = _jp2_folder(tmp_path / "none", np.zeros_like(_dn(after)))  # no data anywhere: no overlap
    already = _spills_open()
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(InputError, match="do not overlap") as refused:
            read_change_pair(b, nothing)
        assert _spills_open() == already, refused.value  # closed while the error is still held
        del refused
        pair = read_change_pair(b, a)
        assert isinstance(pair.before.data, _BandRows) and pair.before.data.spill is not None
        assert len(_spills_open()) == len(already) + 2
        del pair
        gc.collect()
        assert _spills_open() == already
    assert not [w for w in warned if issubclass(w.category, ResourceWarning)], [str(w.message) for w in warned]


@pytest.mark.parametrize("high", [9_000, 14_999, 15_000, 15_001, 30_000])
def test_the_dn_scale_from_counts_is_the_one_from_the_values(high: int) -> None:
    rng = np.random.default_rng(high)
    bands = [rng.integers(0, 3_000, 5_000).astype(np.uint16), np.r_[rng.integers(1, 3_000, 4_940), np.full(60, high)].astype(np.uint16)]
    bands[1][:7] = 65_535  # saturated: left out
    hist = np.stack([np.bincount(x, minlength=65_536) for x in bands])
    assert _streamed_dn_scale(hist, ["uint16", "uint16"]) == infer_dn_scale(bands)
    assert _streamed_dn_scale(hist[:1], ["uint8"]) == 255.0
