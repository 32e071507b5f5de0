"""Change regions labelled a block of rows at a time (:mod:`sitewatch.change.blocklabels`) against the whole
grid's labelling (:mod:`sitewatch.change.regions`): the same parts, numbered alike, the same pixel counts,
means to the bit and polygons to the bit, on masks whose parts cross many block edges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from sitewatch.change import ChangeImage, detect_changes
from sitewatch.change.blocklabels import block_hysteresis, block_regions, label_parts
from sitewatch.change.blocks import RowBlocks
from sitewatch.change.regions import PixelValues, _hysteresis, _regions
from sitewatch.model import Grid

EIGHT = np.ones((3, 3), bool)


def _grid(shape: tuple[int, int], pixel: float = 10.0) -> Grid:
    # An origin and pixel whose products round: vertices computed otherwise than GDAL would differ in their last bits.
    return Grid("EPSG:32633", (pixel, 0.0, 500123.37, 0.0, -pixel, 4123456.91), shape[1], shape[0])


def _rows(mask: np.ndarray):  # noqa: ANN202
    return lambda a, b: mask[a:b]


def _same_regions(got: list, want: list) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g.pixels, g.area_m2, g.magnitude, g.direction) == (w.pixels, w.area_m2, w.magnitude, w.direction)
        assert g.polygon.wkb == w.polygon.wkb  # the same vertices, in the same order, to the bit
        assert g.polygon_wgs84.wkb == w.polygon_wgs84.wkb


def _check(mask: np.ndarray, rows_per_block: int, min_area_m2: float = 0.0, seed: int = 0) -> None:
    shape = mask.shape
    blocks = RowBlocks(rows_per_block * shape[1])
    rng = np.random.default_rng(seed)
    value = rng.normal(size=shape) * 3.0
    grid = _grid(shape)
    parts = label_parts(_rows(mask), shape, blocks)
    want, n = ndimage.label(mask, structure=EIGHT)
    assert parts.n == n
    got = np.zeros(shape, np.int32)
    for a, b, lab in parts.labelled(_rows(mask)):
        got[a:b] = lab
    assert np.array_equal(got, want)  # the same numbering: the order the raster first meets the parts
    assert np.array_equal(parts.sizes, np.bincount(want.ravel(), minlength=n + 1) * (np.arange(n + 1) > 0))
    for k, sl in enumerate(ndimage.find_objects(want), 1):
        assert tuple(parts.box[k]) == (sl[0].start, sl[0].stop, sl[1].start, sl[1].stop)
        assert parts.first[k] == np.flatnonzero(want == k)[0]
    # Means of a whole grid (ndimage.mean) and of PixelValues at the mask's pixels, and a direction of each kind.
    for direction in (value, "appeared"):
        r_want, k_want = _regions(mask, grid, min_area_m2, value, direction)
        r_got, k_got = block_regions(_rows(mask), grid, min_area_m2, value, direction, blocks)
        assert np.array_equal(k_got, k_want)
        _same_regions(r_got, r_want)
    at = np.flatnonzero(mask)
    pv = PixelValues(at, value.ravel()[at])
    r_want, _ = _regions(mask, grid, min_area_m2, pv, pv)
    r_got, _ = block_regions(_rows(mask), grid, min_area_m2, pv, pv, blocks)
    _same_regions(r_got, r_want)


def _spiral(size: int) -> np.ndarray:
    """A one-pixel-wide square spiral (its arms a pixel apart): a single part crossing every row block many times."""
    m = np.zeros((size, size), bool)
    r, c, lo, hi = 0, 0, 0, size - 1
    while lo <= hi:
        m[lo, lo : hi + 1] = True
        m[lo : hi + 1, hi] = True
        if lo + 2 <= hi:
            m[hi, lo : hi + 1] = True
            m[lo + 2 : hi + 1, lo] = True
            m[lo + 2, lo : lo + 3] = True
        lo, hi = lo + 2, hi - 2
    del r, c
    return m


def _shapes() -> dict[str, np.ndarray]:
    u = np.zeros((20, 15), bool)
    u[2:18, 2:4] = u[2:18, 11:13] = u[16:18, 2:13] = True  # a U: its arms are two parts until the last rows
    holes = np.zeros((18, 18), bool)
    holes[1:17, 1:17] = True
    holes[4:7, 4:7] = holes[10:14, 9:15] = False
    holes[11:13, 11:13] = True  # an island in a hole
    diag = np.eye(16, dtype=bool) | np.fliplr(np.eye(16, dtype=bool))  # joined only at corners, across every edge
    stairs = np.zeros((16, 16), bool)
    for i in range(0, 16, 2):
        stairs[i, i] = stairs[i + 1, i + 1 if i + 1 < 16 else i] = True
    comb = np.zeros((21, 17), bool)
    comb[0] = True
    comb[:, ::2] = True  # one part spanning every block, its teeth joined only at the top
    return {"u": u, "spiral": _spiral(31), "holes": holes, "diagonals": diag, "stairs": stairs, "comb": comb}


@pytest.mark.parametrize("name", sorted(_shapes()))
@pytest.mark.parametrize("rows", [1, 2, 3, 7, 1000])
def test_shapes_crossing_block_edges_give_the_whole_grids_regions(name: str, rows: int) -> None:
    mask = _shapes()[name]
    _check(mask, rows)
    _check(np.flipud(mask), rows)
    _check(mask.T.copy(), rows)


def test_a_spiral_is_one_region_whatever_the_blocks() -> None:
    mask = _spiral(41)
    grid = _grid(mask.shape)
    regions, kept = block_regions(_rows(mask), grid, 0.0, np.ones(mask.shape), "appeared", RowBlocks(41))
    assert len(regions) == 1 and regions[0].pixels == int(mask.sum())
    assert np.array_equal(kept, mask)
    assert regions[0].polygon.area == pytest.approx(mask.sum() * 100.0)


@settings(max_examples=150, deadline=None)
@given(
    arrays(bool, st.tuples(st.integers(1, 24), st.integers(1, 24)), elements=st.booleans()),
    st.integers(1, 5),
    st.sampled_from([0.0, 200.0, 500.0]),
)
def test_random_masks_give_the_whole_grids_regions(mask: np.ndarray, rows: int, min_area: float) -> None:
    _check(mask, rows, min_area)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.floats(0.3, 0.6))
def test_sparse_random_masks_with_seeds_give_the_hysteresis_and_its_regions(seed: int, rows: int, density: float) -> None:
    rng = np.random.default_rng(seed)
    grow = rng.random((30, 27)) < density
    seeds = grow & (rng.random(grow.shape) < 0.03)
    blocks = RowBlocks(rows * grow.shape[1])
    assert np.array_equal(block_hysteresis(grow, seeds, blocks), _hysteresis(grow, seeds))
    grid = _grid(grow.shape)
    value = rng.normal(size=grow.shape)
    changed = _hysteresis(grow, seeds)
    r_want, k_want = _regions(changed, grid, 200.0, value, value)
    r_got, k_got = block_regions(_rows(grow), grid, 200.0, value, value, blocks, seeds=_rows(seeds))
    assert np.array_equal(k_got, k_want)
    _same_regions(r_got, r_want)


def test_an_empty_mask_gives_no_parts_and_no_regions() -> None:
    mask = np.zeros((9, 8), bool)
    parts = label_parts(_rows(mask), mask.shape, RowBlocks(16))
    assert parts.n == 0
    regions, kept = block_regions(_rows(mask), _grid(mask.shape), 0.0, np.zeros(mask.shape), "appeared", RowBlocks(16))
    assert regions == [] and not kept.any()


def _optical_pair(shape: tuple[int, int], pixel: float, seed: int = 5) -> tuple[ChangeImage, ChangeImage]:
    """Two dates of textured ground (four bands) with bright patches built and one gone, some across many
    row edges, on a grid of ``pixel`` metres."""
    rng = np.random.default_rng(seed)
    h, w = shape
    texture = ndimage.gaussian_filter(rng.normal(size=shape), 2) * 5
    base = np.array([0.05, 0.08, 0.07, 0.3])[:, None, None] * (1 + 0.3 * texture)
    after = base.copy()
    for r, c, dh, dw in ((5, 5, 30, 4), (40, 20, 6, 30), (10, 50, 3, 3), (55, 60, 12, 12)):
        after[:, r : r + dh, c : c + dw] = np.array([0.25, 0.26, 0.27, 0.30])[:, None, None]
    after[:, 30:45, 70:78] *= 0.3
    before = (base + rng.normal(0, 0.003, base.shape)).astype(np.float32)
    after = (after + rng.normal(0, 0.003, after.shape)).astype(np.float32)
    grid = _grid(shape, pixel)
    bands = ("blue", "green", "red", "nir")
    return ChangeImage(before, grid, "optical", bands), ChangeImage(after, grid, "optical", bands)


def _sar_pair(shape: tuple[int, int], seed: int = 7) -> tuple[ChangeImage, ChangeImage]:
    rng = np.random.default_rng(seed)
    mean = np.full(shape, 0.1)
    later = mean.copy()
    later[8:60, 10:16] = 1.0  # appeared, across many row edges
    later[40:52, 40:70] = 0.005  # gone
    grid = _grid(shape)
    before = (mean * rng.gamma(4.6, 1 / 4.6, shape)).astype(np.float32)[None]
    after = (later * rng.gamma(4.6, 1 / 4.6, shape)).astype(np.float32)[None]
    return ChangeImage(before, grid, "sar", ("vv",)), ChangeImage(after, grid, "sar", ("vv",))


@pytest.mark.parametrize("kind", ["optical 10 m", "optical 0.5 m", "sar"])
@pytest.mark.parametrize("rows", [1, 3, 8])
def test_detect_changes_in_blocks_gives_the_whole_grids_labelling(kind: str, rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """``detect_changes`` labelling by blocks of rows against the same comparison with the whole grid labelled
    at once (the hysteresis and the regions of :mod:`.regions`, as before blocks): the same result, to the bit."""
    import sitewatch.change.compare as compare

    shape = (72, 90)
    pair = _sar_pair(shape) if kind == "sar" else _optical_pair(shape, 0.5 if "0.5" in kind else 10.0)
    got = detect_changes(*pair, min_area_m2=0.5 if "0.5" in kind else 200.0, blocks=RowBlocks(rows * shape[1]))

    def whole_regions(rows_of, grid, min_area_m2, value, direction_of, blocks, seeds=None):  # noqa: ANN001, ANN202
        mask = rows_of(0, grid.height)
        if seeds is not None:
            mask = _hysteresis(mask, seeds(0, grid.height))
        return _regions(mask, grid, min_area_m2, value, direction_of)

    monkeypatch.setattr(compare, "block_regions", whole_regions)
    monkeypatch.setattr(compare, "block_hysteresis", lambda grow, seed, blocks: _hysteresis(grow, seed))
    want = detect_changes(*pair, min_area_m2=0.5 if "0.5" in kind else 200.0, blocks=RowBlocks(rows * shape[1]))
    assert len(want.regions) >= 2
    assert got.changed.tobytes() == want.changed.tobytes()
    assert got.parameters == want.parameters
    _same_regions(list(got.regions), list(want.regions))
