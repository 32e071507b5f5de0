"""Exact medians streamed in passes (:class:`sitewatch.change.median.StreamedMedian`) against ``np.median`` of
all the values at once, and the SAR path's other whole-grid savings (one grid of threshold bits, sizes
counted by blocks) against what they replace: equal values, not close ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

import sitewatch.change.sar as sar
from sitewatch.change import sar_log_ratio
from sitewatch.change.blocks import RowBlocks
from sitewatch.change.median import StreamedMedian
from sitewatch.change.regions import _hysteresis, _hysteresis_bits, _hysteresis_labels, _label_sizes


def _streamed(x: np.ndarray, hold: int = 1 << 22, bits: int = 20, chunks: int = 3, seed: int = 0) -> tuple[float, int]:
    """The median of ``x`` fed in ``chunks`` pieces a pass, in another order each pass; and the passes taken."""
    m = StreamedMedian(hold=hold, bits=bits)
    rng = np.random.default_rng(seed)
    for passes in range(1, 100):
        for piece in np.array_split(rng.permutation(x), chunks):
            m.feed(piece)
        if m.close():
            assert m.value is not None
            return m.value, passes
    raise AssertionError("no median after 99 passes")


def _same(got: float, want: float) -> bool:
    return bool(np.array_equal(np.float64(got), np.float64(want), equal_nan=True))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=60),
    st.sampled_from([(1 << 22, 20), (0, 1), (0, 7), (1, 3), (5, 16), (2, 24)]),
    st.integers(1, 5),
)
def test_streamed_median_is_numpys_on_any_floats(values: list[float], hold_bits: tuple[int, int], chunks: int) -> None:
    x = np.array(values, np.float64)
    with np.errstate(invalid="ignore"):
        want = float(np.median(x)) if x.size else float("nan")
    got, _ = _streamed(x, *hold_bits, chunks=chunks)
    assert _same(got, want), (got, want)


@pytest.mark.parametrize("hold, bits", [(1 << 22, 20), (0, 8), (0, 1), (10, 4)])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 1000, 1001])
def test_streamed_median_with_ties_across_the_middle(hold: int, bits: int, n: int) -> None:
    rng = np.random.default_rng(n)
    ties = rng.integers(-2, 3, n).astype(np.float64) * 0.1  # five values, each many times
    for x in (ties, np.r_[ties, np.full(n, 0.1)], np.r_[-0.0, 0.0, ties], np.full(n, 7.25)):
        got, _ = _streamed(x, hold, bits)
        assert _same(got, float(np.median(x)))


def test_streamed_median_of_nothing_is_nan_and_of_nan_is_nan() -> None:
    assert _same(_streamed(np.zeros(0))[0], float("nan"))
    x = np.r_[np.arange(10.0), np.nan]
    assert _same(_streamed(x)[0], float(np.median(x)))


def test_streamed_median_of_many_values_keeps_one_bin_and_takes_two_passes() -> None:
    rng = np.random.default_rng(3)
    for x in (rng.normal(0.02, 0.3, 1_000_000), rng.uniform(0.2, 1.0, 999_999), np.r_[np.ones(500_000), rng.random(400_000)]):
        got, passes = _streamed(x, hold=1 << 16, chunks=11)
        assert _same(got, float(np.median(x)))
        assert passes <= 3


def test_streamed_median_refines_a_crowded_bin_down_to_one_key() -> None:
    x = np.r_[np.full(1000, 0.5), np.nextafter(0.5, 1.0) * np.ones(999), np.zeros(3)]
    got, passes = _streamed(x, hold=0, bits=20)
    assert _same(got, float(np.median(x))) and passes >= 4


@pytest.mark.parametrize("hold", [0, 7, 1 << 22])
@pytest.mark.parametrize("rows", [1, 7, 150])
def test_sar_blocks_with_medians_found_in_many_passes_are_the_whole_grids(monkeypatch: pytest.MonkeyPatch, hold: int, rows: int) -> None:
    """However few values the medians keep (and so however many passes they take), the blocks' values are
    ``sar_log_ratio``'s, whose medians are ``np.median``'s of every value at once."""
    from test_change_sar_blocks import H, W, _pair

    monkeypatch.setattr(sar, "_MEDIAN_HOLD", hold)
    before, after = _pair()
    ok = before.usable() & after.usable()
    lr, tested, looks = sar_log_ratio(before.data[0], after.data[0], ok)
    runs = sar.sar_blocks(before.data, after.data, ok, blocks=RowBlocks(W * rows))
    assert runs is not None
    got_lr, got_looks = np.full((H, W), -1.0), np.full((H, W), -1.0)
    for r0, r1, lrb, tb, lb in runs:
        got_lr[r0:r1], got_looks[r0:r1] = lrb, lb
        assert np.array_equal(tb, tested[r0:r1])
    assert np.array_equal(got_lr, lr, equal_nan=True) and np.array_equal(got_looks, looks, equal_nan=True)


@pytest.mark.parametrize("seed", range(6))
def test_hysteresis_of_threshold_bits_is_that_of_two_masks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 300)), int(rng.integers(1, 300)))
    grow = ndimage.binary_dilation(rng.random(shape) < 0.02, iterations=int(rng.integers(0, 3))) | (rng.random(shape) < 0.1)
    seed_mask = grow & (rng.random(shape) < 0.05)
    state = (grow * 4 + seed_mask * 8 + (rng.random(shape) < 0.3) * 1 + (rng.random(shape) < 0.1) * 2).astype(np.uint8)
    assert np.array_equal(_hysteresis_bits(state, 4, 8), _hysteresis(grow, seed_mask))
    assert np.array_equal(_hysteresis_bits(state, 1, 2), _hysteresis((state & 1) > 0, (state & 2) > 0))
    assert not _hysteresis_bits(np.zeros(shape, np.uint8), 1, 2).any()
    for grow_bit, seed_bit in ((4, 8), (1, 2)):
        labels, n = _hysteresis_labels(state, grow_bit, seed_bit)
        want, m = ndimage.label(_hysteresis((state & grow_bit) > 0, (state & seed_bit) > 0), structure=np.ones((3, 3), bool))
        assert n == m and labels.dtype == want.dtype and np.array_equal(labels, want)  # the same numbers, not only the same parts


@pytest.mark.parametrize("shape", [(1, 1), (3, 5000), (2100, 600), (700, 3)])
def test_label_sizes_by_blocks_are_bincounts(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0])
    labels, n = ndimage.label(rng.random(shape) < 0.4, structure=np.ones((3, 3), bool))
    assert np.array_equal(_label_sizes(labels, n), np.bincount(labels.ravel(), minlength=n + 1))
