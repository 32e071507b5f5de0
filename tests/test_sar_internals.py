"""The fast paths of the SAR detector against their plain definitions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy import ndimage

from sitewatch.detect.sar import SarParams
from sitewatch.detect.sar_cells import _cell_pass, _ring_sum
from sitewatch.detect.sar_components import _pack
from sitewatch.detect.sar_pieces import _join_pieces, _max_positions, _water_between
from sitewatch.detect.sar_thresholds import _CellMaps, _expand
from sitewatch.detect.water import _median_at_most, _opening, _otsu_hist, disk


def _plain_cells(x: np.ndarray, used: np.ndarray, f: int) -> tuple[np.ndarray, ...]:
    h, w = x.shape
    hc, wc = -(-h // f), -(-w // f)
    s1, s2, n, mx = (np.zeros((hc, wc)) for _ in range(4))
    for i in range(hc):
        for j in range(wc):
            v = x[i * f : (i + 1) * f, j * f : (j + 1) * f].astype(np.float64)
            u = used[i * f : (i + 1) * f, j * f : (j + 1) * f]
            s1[i, j], s2[i, j], n[i, j] = v[u].sum(), (v[u] ** 2).sum(), u.sum()
            mx[i, j] = v[u].max(initial=0.0)
    return s1, s2, n, mx


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("shape", [(37, 29), (40, 40), (5, 61)])
def test_cell_pass_matches_plain_sums(workers: int, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0] * 100 + workers)
    x = rng.gamma(4.5, 0.01, shape).astype(np.float32)
    x[rng.random(shape) < 0.05] = 0.0  # no-data zeros
    x[rng.random(shape) < 0.05] = np.nan
    given = rng.random(shape) > 0.1
    used = given & np.isfinite(x) & (x != 0)
    with ThreadPoolExecutor(workers) as pool:
        s1, s2, n, mx, mask = _cell_pass(x, given, True, 4, pool if workers > 1 else None)
    assert mask is not None and np.array_equal(mask, used)
    got: tuple[np.ndarray, ...] = (s1, s2, n, mx)
    for a, b in zip(got, _plain_cells(x, used, 4), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-9)


def test_cell_pass_without_masks_reports_all_used() -> None:
    x = np.full((9, 10), 2.0, np.float32)
    s1, s2, n, mx, mask = _cell_pass(x, None, True, 4, None)
    assert mask is None
    assert n.tolist() == [[16, 16, 8], [16, 16, 8], [4, 4, 2]]
    assert s1[2, 2] == 4.0 and s2[0, 0] == 64.0 and mx.max() == 2.0


def test_ring_sum_is_box_minus_guard() -> None:
    a = np.random.default_rng(1).random((23, 17))
    g, r = 1, 4
    got = _ring_sum(a, g, r)
    pad = np.pad(a, r)
    for i, j in [(0, 0), (5, 7), (22, 16), (11, 3)]:
        win = pad[i : i + 2 * r + 1, j : j + 2 * r + 1]
        assert got[i, j] == pytest.approx(win.sum() - win[r - g : r + g + 1, r - g : r + g + 1].sum())


def test_opening_and_dark_median_match_scipy_and_numpy() -> None:
    rng = np.random.default_rng(2)
    for i in range(40):
        m = rng.random(tuple(rng.integers(2, 30, 2))) > rng.uniform(0.2, 0.8)
        assert np.array_equal(_opening(m, 1), ndimage.binary_opening(m, disk(1)))
        v = np.concatenate([rng.normal(size=int(rng.integers(20, 400))), rng.normal(6, 1, 50)])
        if i % 2:
            v = np.round(v, 1)  # ties, values on bin edges
        t, hist, edges = _otsu_hist(v)
        assert _median_at_most(v, t, hist, edges) == np.median(v[v <= t])


def test_max_positions_first_in_raster_order() -> None:
    xs = np.array([[1, 3, 3], [3, 0, 5], [2, 2, 0]], np.float32)
    lab = np.array([[1, 1, 1], [1, 0, 2], [3, 3, 0]])
    got = _max_positions(xs, lab, np.array([1, 3, 2]))
    assert got.tolist() == [[0, 1], [2, 0], [1, 2]]


def test_pack_keeps_rectangles_apart() -> None:
    rng = np.random.default_rng(3)
    sizes = [(int(rng.integers(1, 40)), int(rng.integers(1, 40))) for _ in range(60)]
    pos, shape = _pack(sizes, 3)
    grown = np.zeros(shape, np.int32)
    for (y, x), (h, w) in zip(pos, sizes, strict=True):
        assert y + h <= shape[0] and x + w <= shape[1]
        grown[y : y + h + 3, x : x + w + 3] += 1  # each rectangle with its gap below and right
    assert grown.max() == 1


def test_cell_maps_expand_blocks_to_cells() -> None:
    rng = np.random.default_rng(4)
    blocks = tuple(rng.random((4, 5)) for _ in range(3))
    maps = _CellMaps(3, blocks, None, (blocks[0], blocks[1]))  # type: ignore[arg-type]
    sl = (slice(2, 10), slice(4, 13))
    full = [_expand(b, 3, (11, 14)) for b in blocks]
    for got, want in zip(maps.window(sl), full, strict=True):
        assert np.array_equal(got, want[sl])
    mx = rng.random((11, 14)).astype(np.float32)
    assert np.array_equal(maps.seed_hits(mx), mx > full[0].astype(np.float32))


def test_ring_count_and_sparse_rings_match_dense() -> None:
    from sitewatch.detect.sar_cells import _ring_count, _sparse_ring_sums

    rng = np.random.default_rng(5)
    keep = rng.random((31, 44)) > 0.02
    assert np.array_equal(_ring_count(keep, 2, 6), _ring_sum(keep.astype(np.float64), 2, 6))
    a = np.zeros((31, 44))
    idx = rng.choice(a.size, 12, replace=False)
    a.ravel()[idx] = rng.random(12)
    np.testing.assert_allclose(_sparse_ring_sums((a,), np.sort(idx), 2, 6)[0], _ring_sum(a, 2, 6), atol=1e-12)


def test_threads_do_not_change_detections_on_a_coast_with_nodata() -> None:
    from sitewatch.detect.sar import detect_sar

    rng = np.random.default_rng(6)
    img = rng.gamma(4.5, 0.02 / 4.5, (600, 640)).astype(np.float32)
    img[:, 420:] = rng.gamma(2.0, 0.5, (600, 220)).astype(np.float32)  # bright land
    for r, c in [(100, 150), (300, 260), (480, 405)]:  # ships, the last alongside the coast
        img[r - 6 : r + 6, c - 2 : c + 2] = 2.0
    img[:, :5] = np.nan
    one = detect_sar(img, 10.0, workers=1)
    two = detect_sar(img, 10.0, workers=2)
    assert len(one) >= 2
    assert [(d.row, d.col, d.length_m) for d in one] == [(d.row, d.col, d.length_m) for d in two]


def test_dilate_square_matches_scipy() -> None:
    from sitewatch.detect.sar_shore import _dilate_square

    rng = np.random.default_rng(7)
    for q in (1, 2, 3):
        m = rng.random((int(rng.integers(1, 40)), int(rng.integers(1, 40)))) > 0.95
        want = ndimage.binary_dilation(m, np.ones((2 * q + 1, 2 * q + 1), bool))
        assert np.array_equal(_dilate_square(m, q), want)


def test_long_runs_match_scipy_openings_with_the_same_line_elements() -> None:
    from sitewatch.detect.sar_shore import _RUN_DIRECTIONS, _long_runs

    rng = np.random.default_rng(0)
    for trial in range(12):
        a = rng.random((40, 50)) < (0.9 if trial % 2 else 0.7)
        n = int(rng.integers(3, 14))
        ref = np.zeros_like(a)
        for step, piece in _RUN_DIRECTIONS:
            m = max(1, -(-n // len(piece)))
            pts = [(k * step[0] + pr, k * step[1] + pc) for k in range(m) for pr, pc in piece]
            r = max(max(abs(y), abs(x)) for y, x in pts)
            se = np.zeros((2 * r + 1, 2 * r + 1), bool)
            for y, x in pts:
                se[r + y, r + x] = True
            ref |= ndimage.binary_opening(a, se)
        assert (_long_runs(a, n) == ref).all()


def test_join_pieces_makes_one_hull_of_collinear_pieces_only() -> None:
    # One failed component (label 1) holding three pieces along a row, 10 m pixels: bow,
    # superstructure and stern of a ~250 m hull. Component 2 holds two pieces side by side
    # 150 m apart across their axis: a union too wide for a vessel, so they stay apart.
    lab = np.zeros((60, 60), np.int32)
    lab2 = np.zeros_like(lab)
    lab[8:13, 2:30] = 1
    lab2[9:12, 3:9], lab2[9:12, 12:19], lab2[9:12, 22:28] = 1, 2, 3
    lab[30:50, 20:60] = 2
    lab2[31:34, 22:40], lab2[45:48, 22:40] = 4, 5
    out, n = _join_pieces(lab, lab2, 5, (10.0, 10.0), SarParams())
    assert n == 3  # the hull and the two pieces of component 2
    assert len(np.unique(out[10, 3:28][lab2[10, 3:28] > 0])) == 1
    assert out[31, 30] != out[46, 30] and out[31, 30] > 0 and out[46, 30] > 0
    assert ((out > 0) == (lab2 > 0)).all()
    assert set(np.unique(out)) == {0, 1, 2, 3}



def _hull_with_a_speck(deck: float) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """One failed component (label 1): three pieces along a row (bow, superstructure, stern of
    a ~250 m hull, 10 m pixels) and a sidelobe speck 150 m off the axis that makes the union
    of all four too wide. The deck between the pieces is ``deck`` times the sea's mean."""
    lab = np.zeros((40, 40), np.int32)
    lab2 = np.zeros_like(lab)
    lab[5:26, 2:30] = 1
    lab2[9:12, 3:9], lab2[9:12, 12:19], lab2[9:12, 22:28], lab2[24:26, 14:17] = 1, 2, 3, 4
    xs = np.ones(lab.shape, np.float32)
    xs[9:12, 3:28] = deck
    xs[lab2 > 0] = 100.0
    mu = np.ones(lab.shape)
    tg = mu + 3.0  # sea standard deviation 1 with k_grow 3
    return lab, lab2, (xs, mu, tg, np.ones(lab.shape, bool), 3.0)


def test_join_pieces_joins_the_pieces_along_a_hull_without_the_speck() -> None:
    lab, lab2, sea = _hull_with_a_speck(deck=5.0)
    out, n = _join_pieces(lab, lab2, 4, (10.0, 10.0), SarParams())
    assert n == 4  # without the sea (as in sitewatch-sar 1.8.0): the union of all four is too wide, nothing joined
    out, n = _join_pieces(lab, lab2, 4, (10.0, 10.0), SarParams(), sea)
    assert n == 2
    assert len(np.unique(out[10, 3:28][lab2[10, 3:28] > 0])) == 1
    assert out[25, 15] not in (0, out[10, 5])
    assert ((out > 0) == (lab2 > 0)).all()


def test_join_pieces_leaves_pieces_with_water_between_them_apart() -> None:
    lab, lab2, sea = _hull_with_a_speck(deck=1.0)  # sea level between the pieces: two ships or more
    out, n = _join_pieces(lab, lab2, 4, (10.0, 10.0), SarParams(), sea)
    assert n == 4
    assert len(np.unique(out[lab2 > 0])) == 4

@pytest.mark.parametrize("turn", [False, True])
def test_water_between_is_not_found_where_a_diagonal_hull_steps_over_a_corner(turn: bool) -> None:
    # A hull one pixel wide along a diagonal: its pixels touch at their corners, 14 m apart along it, and a 10 m
    # bin between two of them holds only the sea beside the corner. That is no water between pieces.
    xs = np.full((30, 30), 1.0, np.float32)
    trial = np.zeros((30, 30), np.int64)
    i = np.arange(4, 26)
    trial[i, 29 - i if turn else i] = 1
    trial[10, 11 if not turn else 18] = 1  # a doubled pixel here and there: a staircase, not an even line
    xs[trial > 0] = 100.0
    sea = (xs, np.full(xs.shape, 1.0), np.full(xs.shape, 1.9), np.ones(xs.shape, bool))
    assert not _water_between(trial, sea, 3.0, (10.0, 10.0))
    # Two pixels of the line gone: the pieces no longer touch, and the sea between them is water.
    gap = trial.copy()
    gap[15:17] = 0
    xs2 = np.where(gap > 0, xs, np.float32(1.0))
    assert _water_between(gap, (xs2, *sea[1:]), 3.0, (10.0, 10.0))


def test_raw_length_is_bounded_by_the_extent() -> None:
    from sitewatch.detect.sar import raw_length

    # Bright bow and stern, dim amidships: the weighted spread (330 m) exceeds the 240 m extent.
    feats = {"length_int_m": np.array([330.0, 120.0, 2.0]), "length_ext_m": np.array([240.0, 150.0, 4.0])}
    assert raw_length(feats, 10.0).tolist() == [240.0, 120.0, 10.0]


@pytest.mark.parametrize("f", [1, 2, 3, 4, 5])
def test_fold_stats_adds_in_the_order_of_separate_folds(f: int) -> None:
    from sitewatch.detect.sar_cells import _fold, _fold_stats

    rng = np.random.default_rng(f)
    x = (rng.gamma(4.5, 0.01, (6 * f, 7 * f)) * rng.choice([1.0, 1e4], (6 * f, 7 * f))).astype(np.float32)
    s, q, m = _fold_stats(x, f)
    # Bit for bit: the detector's thresholds and so its detections must not move.
    assert np.array_equal(s, _fold(x, f, np.add))
    assert np.array_equal(q, _fold(np.square(x), f, np.add))
    assert np.array_equal(m, _fold(x, f, np.maximum))


@pytest.mark.parametrize("bad", [np.nan, 0.0, np.inf, -np.inf])
def test_cell_pass_leaves_out_a_single_unusable_pixel(bad: float) -> None:
    # The strips are checked by their minimum and maximum first: one bad pixel anywhere, +inf
    # included (the minimum misses it), must still be found.
    x = np.full((16, 24), 2.0, np.float32)
    x[13, 21] = bad
    s1, s2, n, mx, mask = _cell_pass(x, None, True, 4, None)
    assert mask is not None and not mask[13, 21] and mask.sum() == x.size - 1
    assert n[3, 5] == 15 and s1[3, 5] == 30.0 and s2[3, 5] == 60.0 and mx[3, 5] == 2.0
    assert n.sum() == x.size - 1


def test_cell_pass_leaves_out_negative_and_absurdly_bright_intensity() -> None:
    # Negative intensity (a fill, noise taken out) and intensity above MAX_INTENSITY (FLT_MAX) are
    # no returns: the cheap checks (the strip's minimum, the cells' maxima) must find them.
    x = np.full((8, 8), 2.0, np.float32)
    x[1, 1] = -1.0
    x[6, 6] = np.finfo(np.float32).max
    s1, s2, n, mx, mask = _cell_pass(x, None, True, 4, None)
    assert mask is not None and not mask[1, 1] and not mask[6, 6] and mask.sum() == 62
    assert n[0, 0] == n[1, 1] == 15 and s1[0, 0] == s1[1, 1] == 30.0 and s2[1, 1] == 60.0 and mx[1, 1] == 2.0
    y = np.full((8, 8), 2.0, np.float32)
    y[6, 6] = 1e20  # a positive minimum: found by the maxima alone
    _, _, n, _, mask = _cell_pass(y, None, True, 4, None)
    assert mask is not None and not mask[6, 6] and n[1, 1] == 15


def test_ring_count_of_counts_is_exact() -> None:
    from sitewatch.detect.sar_cells import _ring_count

    rng = np.random.default_rng(8)
    n = np.full((40, 53), 64.0)
    n[-1] = 32.0  # partial blocks at the edges, some no-data
    n[:, -1] = 16.0
    n[rng.random(n.shape) < 0.01] = rng.integers(0, 64)
    for g, r in ((1, 4), (2, 9)):
        assert np.array_equal(_ring_count(n, g, r), _ring_sum(n, g, r))
        assert np.array_equal(_ring_count(n > 20, g, r), _ring_sum((n > 20).astype(np.float64), g, r))


def test_thresholds_are_the_same_with_threads() -> None:
    from sitewatch.detect.sar_cells import _thresholds

    rng = np.random.default_rng(9)
    n = np.full((120, 150), 64.0)
    s1 = rng.gamma(4.5, 0.03 / 4.5, n.shape) * 64
    s2 = s1 * s1 / 64 * 1.2
    ships = rng.integers(0, n.size, 60)
    s1.flat[ships] *= 100
    s2.flat[ships] *= 1e4
    n[:10] = s1[:10] = s2[:10] = 0.0  # no data
    p = SarParams()
    one = _thresholds(s1, s2, n, p, 8, 10.0)
    with ThreadPoolExecutor(2) as pool:
        two = _thresholds(s1, s2, n, p, 8, 10.0, pool)
    for a, b in zip(one, two, strict=True):
        assert np.array_equal(a, b)


def test_work_in_threads_is_done_by_the_caller_when_the_pool_is_busy() -> None:
    import threading

    from sitewatch.detect.sar_cells import _in_threads

    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(release.wait, 10.0)  # the pool's only thread is taken until the caller is done
        got: list[list[int]] = []
        caller = threading.Thread(target=lambda: got.append(_in_threads(lambda v: v * v, [1, 2, 3], pool)))
        caller.start()
        caller.join(5.0)
        release.set()
    assert got == [[1, 4, 9]]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 6])
def test_dilate_box_matches_scipy_for_even_sizes_too(size: int) -> None:
    from sitewatch.detect.sar_shore import _dilate_box

    rng = np.random.default_rng(size)
    for _ in range(20):
        m = rng.random(tuple(rng.integers(1, 40, 2))) > rng.choice([0.5, 0.9, 0.99])
        assert np.array_equal(_dilate_box(m, size), ndimage.binary_dilation(m, np.ones((size, size), bool)))


def test_cell_maps_at_pixels_match_the_window() -> None:
    rng = np.random.default_rng(10)
    blocks = tuple(rng.random((5, 6)) for _ in range(3))
    whole = (rng.random((5, 6)), rng.random((5, 6)))
    berth = rng.random((14, 17)) > 0.7
    maps = _CellMaps(3, blocks, berth, whole)  # type: ignore[arg-type]
    sl = (slice(2, 10), slice(4, 13))
    f, (r0, r1, c0, c1) = 4, (9, 38, 17, 51)  # pixels whose cells are the slice, cut at both ends
    rows, cols = np.arange(r0, r1) // f, np.arange(c0, c1) // f
    for got, cells in zip(maps.at(rows, cols), maps.window(sl), strict=True):
        want = _expand(cells, f, (cells.shape[0] * f, cells.shape[1] * f))[r0 - 8 : r1 - 8, c0 - 16 : c1 - 16]
        assert np.array_equal(got, want)


def test_dark_median_when_the_middle_ranks_fall_in_two_bins() -> None:
    rng = np.random.default_rng(11)
    for i in range(300):
        v = rng.normal(size=int(rng.integers(2, 60)))
        if i % 3 == 0:
            v = np.round(v, 1)
        _, hist, edges = _otsu_hist(v, int(rng.choice([4, 16, 64])))
        assert hist is not None and edges is not None
        for t in edges[1:-1]:
            dark = v[v <= t]
            assert _median_at_most(v, float(t), hist, edges) == (np.median(dark) if dark.size else np.median(v))


def test_caller_takes_up_the_items_from_the_back_while_the_pool_works_on_one() -> None:
    import threading
    import time

    from sitewatch.detect.sar_cells import _in_threads

    release = threading.Event()

    def fn(i: int) -> int:
        if i == 1:
            release.wait(20.0)  # the pool's thread is held on item 1 ...
        elif i == 2:
            release.set()  # ... until the caller gets to item 2, which it can only reach from the back
        return i * i

    with ThreadPoolExecutor(1) as pool:
        start = time.perf_counter()
        got = _in_threads(fn, range(10), pool)
    assert got == [i * i for i in range(10)]
    assert time.perf_counter() - start < 10.0  # waiting for item 1 first would have taken the 20 s


@pytest.mark.parametrize("workers", [1, 2])
def test_detection_leaves_no_reference_cycles_holding_its_arrays(workers: int) -> None:
    # A cycle (a closure calling itself, a pool job holding its owner) keeps the per-cell
    # arrays alive until the garbage collector happens to run: a scene's worth of memory per call.
    import gc

    from sitewatch.detect.sar import detect_sar

    rng = np.random.default_rng(12)
    img = rng.gamma(4.5, 0.02 / 4.5, (600, 640)).astype(np.float32)
    img[:, 420:] = rng.gamma(2.0, 0.5, (600, 220)).astype(np.float32)  # bright land
    img[100:112, 148:152] = 2.0
    img[:, :5] = np.nan
    img[300, 300] = np.inf
    assert detect_sar(img, 10.0, workers=workers)  # imports and caches first
    was, flags = gc.isenabled(), gc.get_debug()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        detect_sar(img, 10.0, workers=workers)
        gc.collect()
        held = [a for o in gc.garbage for a in gc.get_referents(o) if isinstance(a, np.ndarray) and a.nbytes > 10_000]
    finally:
        gc.set_debug(flags)
        gc.garbage.clear()
        if was:
            gc.enable()
    assert not held, [a.shape for a in held]
