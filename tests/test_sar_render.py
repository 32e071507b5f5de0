"""The detector for 8-bit SAR renderings (``sitewatch.detect.sar_render``) on chips made here."""

from __future__ import annotations

import numpy as np
import pytest

from sitewatch.detect.sar import SarParams, detect_sar
from sitewatch.detect.sar_render import (
    RENDER_FEATURES,
    RenderParams,
    detect_rendering,
    render_probability,
    rendering_candidates,
)
from sitewatch.errors import InputError


def _chip(rng: np.random.Generator, ships: list[tuple[int, int, int, int]], land: bool = False) -> np.ndarray:
    """A 256² dB-like rendering: dark speckled sea, bright rectangular hulls, optionally a textured coast."""
    a = rng.gamma(2.0, 6.0, (256, 256))
    if land:
        # Right third: brighter ground with buildings, small bright blocks (an urban coast).
        a[:, 170:] = rng.gamma(2.0, 20.0, (256, 86))
        for r, c in rng.integers(0, 80, (60, 2)):
            a[r * 3 : r * 3 + 3, 172 + c : 172 + c + 5] = 230
    for r, c, h, w in ships:
        a[r : r + h, c : c + w] = rng.uniform(200, 255, (h, w))
    return np.clip(a, 0, 255).astype(np.uint8)


SHIPS = [(40, 40, 22, 8), (120, 60, 8, 26), (200, 110, 18, 7)]


def test_ships_on_open_sea_found_and_measured() -> None:
    img = _chip(np.random.default_rng(3), SHIPS)
    found = detect_rendering(img, (5.0, 5.0))
    assert len(found) == len(SHIPS)
    for r, c, h, w in SHIPS:
        d = min((d for d, _ in found), key=lambda d: abs(d.row - (r + h / 2 - 0.5)) + abs(d.col - (c + w / 2 - 0.5)))
        assert abs(d.row - (r + h / 2 - 0.5)) < 1 and abs(d.col - (c + w / 2 - 0.5)) < 1
        assert abs(d.length_m - 5.0 * max(h, w)) <= 0.2 * 5.0 * max(h, w)  # pixel size only scales


def test_pixel_size_scales_lengths_not_detections() -> None:
    img = _chip(np.random.default_rng(4), SHIPS)
    at5 = detect_rendering(img, (5.0, 5.0))
    at1 = detect_rendering(img, (1.0, 1.0))
    assert [(d.row, d.col) for d, _ in at5] == [(d.row, d.col) for d, _ in at1]
    assert all(abs(a.length_m - 5 * b.length_m) < 1e-6 for (a, _), (b, _) in zip(at5, at1, strict=True))


def test_uint8_goes_to_the_rendering_detector_and_masks_apply() -> None:
    img = _chip(np.random.default_rng(5), SHIPS)
    assert len(detect_sar(img, 5.0)) == len(SHIPS)
    valid = np.ones(img.shape, bool)
    valid[:100] = False  # the first ship's rows
    assert len(detect_sar(img, 5.0, valid=valid)) == len(SHIPS) - 1
    water = np.ones(img.shape, bool)
    water[:100] = False  # land over the first ship, beyond the berth margin of the water below
    assert len(detect_sar(img, 5.0, water=water)) == len(SHIPS) - 1
    assert len(detect_sar(img, 5.0, valid=np.ones(img.shape, bool), water=np.ones(img.shape, bool))) == len(SHIPS)
    # A mask of another shape is named, whichever of the two it is and whether or not the other is given.
    with pytest.raises(InputError, match=r"valid mask shape \(1, 4\) differs"):
        detect_sar(img, 5.0, valid=np.ones((1, 4), bool), water=water)
    with pytest.raises(InputError, match=r"water mask shape \(1, 4\) differs"):
        detect_sar(img, 5.0, valid=valid, water=np.ones((1, 4), bool))
    # Switched off: the metric CFAR (squared amplitude), another detector.
    assert detect_sar(img, 5.0, params=SarParams(render_8bit=False)) != detect_sar(img, 5.0)


def test_land_clutter_is_mostly_rejected() -> None:
    img = _chip(np.random.default_rng(6), SHIPS, land=True)
    _, feats, _ = rendering_candidates(img)
    found = detect_rendering(img, (5.0, 5.0))
    on_land = [d for d, _ in found if d.col >= 170]
    assert len(feats) > 20  # the coast gives many candidates...
    assert len(on_land) <= 3  # ...the trees drop almost all
    assert sum(d.col < 170 for d, _ in found) == len(SHIPS)


def test_speckled_hull_is_one_candidate() -> None:
    # A fine-resolution hull crossed by one-pixel speckle dips (dark columns) every 8 px, on open sea.
    rng = np.random.default_rng(7)
    img = _chip(rng, [])
    hull = rng.uniform(200, 255, (8, 40))
    hull[:, 7::8] = 15
    img[100:108, 100:140] = hull.astype(np.uint8)
    lab, _, _ = rendering_candidates(img)
    assert len(np.unique(lab[100:108, 100:140])) - 1 == 1  # despeckled: one hull, one candidate
    raw, _, _ = rendering_candidates(img, RenderParams(despeckle_px=1))
    assert len(np.unique(raw[100:108, 100:140])) - 1 > 1  # without: fragments, each a false alarm


def test_ring_features_tell_sea_from_land() -> None:
    img = _chip(np.random.default_rng(6), SHIPS, land=True)
    _, feats, extra = rendering_candidates(img)
    low = feats[:, RENDER_FEATURES.index("ring_median_over_water")]
    sea = [i for i, (r, c) in enumerate(zip(extra["row"], extra["col"], strict=True)) if any(
        abs(r - (r0 + h / 2)) < h and abs(c - (c0 + w / 2)) < w for r0, c0, h, w in SHIPS)]
    land = extra["col"] > 180
    assert len(sea) == len(SHIPS) and land.sum() > 10
    assert np.all(np.abs(low[sea]) < 2)  # open sea around the ships: the water level, in noise units
    assert np.median(low[land]) > 3 * np.max(np.abs(low[sea]))


def test_small_ships_found_under_any_display_gamma() -> None:
    # Five small, dim hulls (110-200 grey levels, 4-6 px wide) on speckled sea, rendered with
    # display gammas 0.7-2: the trees were trained on chips re-rendered at gammas 0.5-2 too (1.8.0's,
    # trained on the chips as they were, found none of them at gamma 1 and 1.4).
    ships = [(40, 40, 12, 5), (120, 60, 5, 14), (200, 110, 10, 4), (60, 180, 14, 6), (180, 200, 6, 6)]
    rng = np.random.default_rng(1)
    a = rng.gamma(2.0, 10.0, (256, 256))
    for r, c, h, w in ships:
        a[r : r + h, c : c + w] = rng.uniform(110, 200, (h, w))
    for gamma in (0.7, 1.0, 1.4, 2.0):
        img = np.clip(np.round(255 * (np.clip(a, 0, 255) / 255) ** gamma), 0, 255).astype(np.uint8)
        found = [d for d, _ in detect_rendering(img, (5.0, 5.0))]
        hit = [any(r - 1 <= d.row <= r + h and c - 1 <= d.col <= c + w for d in found) for r, c, h, w in ships]
        assert sum(hit) >= 4, gamma
        assert len(found) <= sum(hit) + 1, gamma  # no more than one false alarm


def test_tree_inference_by_hand() -> None:
    # One tree: feature 0 <= 1 -> (feature 1 <= 0: -2 else 4); > 1 -> leaf 1.
    model = {"features": list(RENDER_FEATURES), "rate": 0.5, "base": 0.0, "cut": 0.5,
             "trees": [[0, 1.0, [[1, 0.0, -2.0, 4.0], [-1, 0.0, 1.0, 1.0]]]]}
    x = np.zeros((3, len(RENDER_FEATURES)))
    x[0, :2] = (0.0, -1.0)
    x[1, :2] = (0.0, 1.0)
    x[2, :2] = (2.0, 0.0)
    p = render_probability(x, model)
    assert np.allclose(p, 1 / (1 + np.exp(-np.array([-1.0, 2.0, 0.5]))))


def test_params_checked() -> None:
    import pytest

    from sitewatch.errors import InputError

    with pytest.raises(InputError):
        RenderParams(k_grow=4.0, k_seed=3.0)
    with pytest.raises(InputError):
        RenderParams(despeckle_px=0)


def test_crowded_anchorage_found_by_a_second_look() -> None:
    # 24 bright hulls 10 px apart (an anchorage): they lift the 90th percentile of most blocks, so
    # the seed level rises and the first pass keeps only those at the crowd's edge. With those
    # taken out and replaced by water, the second pass finds the rest, each hull once.
    ships = [(60 + i * 30, 50 + j * 18, 20, 8) for i in range(4) for j in range(6)]
    for seed in range(3):
        rng = np.random.default_rng(seed)
        a = rng.gamma(2.0, 6.0, (256, 256))
        for r, c, h, w in ships:
            a[r : r + h, c : c + w] = rng.uniform(200, 255, (h, w))
        img = np.clip(a, 0, 255).astype(np.uint8)

        def hits(found: list) -> int:
            return sum(any(r - 1 <= d.row <= r + h and c - 1 <= d.col <= c + w for d, _ in found) for r, c, h, w in ships)

        first = detect_rendering(img, (1.0, 1.0), RenderParams(second_pass=False))
        both = detect_rendering(img, (1.0, 1.0))
        assert hits(first) <= 18, seed
        assert hits(both) == len(both) == len(ships), seed  # every hull, once: no piece of a kept hull again
        assert [d for d, _ in both[: len(first)]] == [d for d, _ in first]  # the first pass's come first, unchanged


def test_second_look_leaves_open_sea_and_land_alone() -> None:
    # Nothing kept, nothing to look at again; ships on open sea and a coast: the same detections.
    for img in (_chip(np.random.default_rng(3), []), _chip(np.random.default_rng(6), SHIPS, land=True)):
        assert [d for d, _ in detect_rendering(img, (5.0, 5.0))] == [d for d, _ in detect_rendering(img, (5.0, 5.0), RenderParams(second_pass=False))]


def _hulls_and_piece(seed: int, sure: bool = True) -> np.ndarray:
    """Vertical 22 × 8 px hulls on speckled sea: four sure ones (the chip's typical ship) unless not ``sure``, a
    hull at rows 120-141 with a 6 × 6 bright piece 3 px of sea off its bow (rows 111-116), and two hulls moored
    end to end (rows 150-171 and 175-196, 3 px of sea between)."""
    rng = np.random.default_rng(seed)
    a = rng.gamma(2.0, 6.0, (256, 256))
    typical = [(30, 30 + 60 * i, 22, 8) for i in range(4)] if sure else []
    for r, c, h, w in [*typical, (120, 40, 22, 8), (111, 41, 6, 6), (150, 150, 22, 8), (175, 150, 22, 8)]:
        a[r : r + h, c : c + w] = rng.uniform(200, 255, (h, w))
    return np.clip(a, 0, 255).astype(np.uint8)


def test_hull_piece_joined_by_the_chips_typical_ship_but_not_hulls_end_to_end() -> None:
    # 1.12.0 reported the piece off the bow as a second vessel. 1.13.0 drops it: it lies within the hull's
    # lengthened box, the two together are one typical hull, and it is far shorter than one. The hulls end
    # to end are each a typical hull (and twice as long together): both stay.
    def at(found: list, rows: tuple[int, int], cols: tuple[int, int]) -> list:
        return [d for d, _ in found if rows[0] <= d.row <= rows[1] and cols[0] <= d.col <= cols[1]]

    for seed in range(3):
        img = _hulls_and_piece(seed)
        for pxy in ((1.0, 1.0), (5.0, 5.0)):
            found = detect_rendering(img, pxy)
            (hull,) = at(found, (105, 145), (30, 55))
            assert abs(hull.row - 130.5) < 1 and abs(hull.col - 43.5) < 1, (seed, pxy)
            pair = at(found, (145, 200), (140, 165))
            assert len(pair) == 2 and abs(pair[0].row - 160.5) < 1 and abs(pair[1].row - 185.5) < 1, (seed, pxy)
            assert len(found) == 7, (seed, pxy)  # the four typical hulls, the hull, the two end to end
        before = detect_rendering(img, (1.0, 1.0), RenderParams(join_pieces=False))
        assert len(at(before, (105, 145), (30, 55))) == 2, seed  # the hull and its piece, as 1.12.0 found them
        assert [d for d, _ in detect_rendering(img, (1.0, 1.0))] == [d for d, _ in before if d.row > 117 or d.row < 100]


def test_no_join_without_a_typical_ship() -> None:
    # Without the four other hulls the chip is still sure of a few ships (the hull and the two in line), so
    # the piece is joined; asking for more sure ships than the chip has candidates leaves it without a
    # typical ship, and nothing is joined.
    from sitewatch.detect.sar_render import joined_pieces, typical_hull

    img = _hulls_and_piece(0, sure=False)
    _, feats, _ = rendering_candidates(img)
    prob = render_probability(feats)
    none = RenderParams(min_sure=len(feats) + 1)
    assert typical_hull(feats, prob) is not None and typical_hull(feats, prob, none) is None
    unjoined = [d for d, _ in detect_rendering(img, (1.0, 1.0), RenderParams(join_pieces=False))]
    assert len(unjoined) == 4 and len(detect_rendering(img, (1.0, 1.0))) == 3
    assert [d for d, _ in detect_rendering(img, (1.0, 1.0), none)] == unjoined
    assert joined_pieces(unjoined, np.zeros((4, 6)), None, (1.0, 1.0)) == [0, 1, 2, 3]


def test_pooled_moments_are_the_pixels_moments() -> None:
    # The join measures two pieces together from each one's moments, not from their pixels: the same numbers.
    from sitewatch.detect.sar_render import _moment_size, _pooled

    img = _hulls_and_piece(1)
    lab, _, extra = rendering_candidates(img)
    m = extra["moments"]
    for i, j in ((0, 1), (2, 5), (3, 4)):
        rr, cc = np.nonzero((lab == i + 1) | (lab == j + 1))
        cov = np.cov(np.vstack([rr, cc]).astype(float), bias=True)
        assert np.allclose(_pooled(m[i], m[j]), (cov[0, 0], cov[1, 1], cov[0, 1]))
        val = np.linalg.eigvalsh(cov)
        assert np.allclose(_moment_size(*_pooled(m[i], m[j])), (np.sqrt(12 * val[1]) + 1, np.sqrt(12 * val[0]) + 1))
