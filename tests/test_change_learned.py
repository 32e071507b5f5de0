"""The learned change scores of optical pairs (:mod:`sitewatch.change.learned`): at 10 m, where it applies, that
a block of rows gives what the whole grid gives, and what it finds on a pair with a built block in other light;
at sub-metre pixels, where its seeds come from and what they keep (the simulated pairs' own tests are in
``test_change_submetre.py``, which now run version 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from sitewatch.change import ChangeImage, ChangeResult, detect_changes
from sitewatch.change.blocks import RowBlocks
from sitewatch.change.learned import (
    FEATURES,
    FINE_MODEL_FILE,
    LEARNED_PIXEL_M,
    MODEL_FILE,
    learned_applies,
    learned_blocks,
    learned_model_file,
    model,
    pair_features,
)
from sitewatch.change.optical import COVER_CLASSES
from sitewatch.model import Grid
from sitewatch.testing.submetre_change import SubmetrePair, submetre_pair
from sitewatch.trees import tree_probability

H, W = 160, 140
BUILT = (slice(60, 75), slice(50, 66))


def _grid(pixel: float) -> Grid:
    return Grid("EPSG:32633", (pixel, 0.0, 300_000.0, 0.0, -pixel, 5_000_000.0), W, H)


def _pair(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Fields and a town (textured reflectance, blue, green, red, nir), the later date in other light, with a
    block of bright new roofs built on a field."""
    rng = np.random.default_rng(seed)
    texture = ndimage.gaussian_filter(rng.normal(size=(H, W)), 2) * 5
    field = np.array([0.04, 0.07, 0.05, 0.32])[:, None, None]
    town = np.array([0.09, 0.10, 0.11, 0.18])[:, None, None]
    base = np.where(np.arange(W)[None, None, :] < 80, field, town) * (1 + 0.2 * texture)
    after = base * np.array([1.08, 1.05, 1.1, 0.95])[:, None, None] + 0.005
    after[(slice(None), *BUILT)] = np.array([0.22, 0.23, 0.25, 0.27])[:, None, None]
    before = (base + rng.normal(0, 0.002, base.shape)).astype(np.float32)
    after = (after + rng.normal(0, 0.002, after.shape)).astype(np.float32)
    return before, after


def _images(pixel: float, before: np.ndarray, after: np.ndarray) -> tuple[ChangeImage, ChangeImage]:
    names = ("blue", "green", "red", "nir")
    return ChangeImage(before, _grid(pixel), "optical", names), ChangeImage(after, _grid(pixel), "optical", names)


@pytest.mark.parametrize("file", [MODEL_FILE, FINE_MODEL_FILE])
def test_the_shipped_trees_read_the_features_the_code_computes(file: str) -> None:
    m = model(file)
    assert tuple(m["features"]) == FEATURES
    assert 0.3 <= float(m["cut"]) < 1.0 and len(m["trees"]) > 0


@pytest.mark.parametrize(
    ("bands", "pixel", "file"),
    [(("blue", "green", "red"), 10.0, MODEL_FILE), (("blue", "green", "red", "nir"), 0.5, FINE_MODEL_FILE),
     (("blue", "green", "red"), 1.0, FINE_MODEL_FILE), (("blue", "green", "red"), 0.25, FINE_MODEL_FILE),
     (("blue", "green", "red"), 0.1, None), (("blue", "green", "red"), 3.0, None), (("green", "red", "nir"), 0.5, None)],
)  # fmt: skip
def test_each_model_has_its_pixel_sizes(bands: tuple[str, ...], pixel: float, file: str | None) -> None:
    assert learned_model_file(bands, pixel) == file
    assert learned_applies(bands, pixel) is (file is not None)


@pytest.mark.parametrize(
    ("bands", "pixel", "applies"),
    [(("blue", "green", "red", "nir"), 10.0, True), (("blue", "green", "red"), 10.0, True), (("green", "red", "nir"), 10.0, False),
     (("blue", "green", "red", "nir"), 3.0, False), (("blue", "green", "red", "nir"), 30.0, False), (("blue", "green", "red"), LEARNED_PIXEL_M[1], True)],
)  # fmt: skip
def test_the_learned_score_is_used_on_visible_bands_at_sentinel_2_class_pixels(bands: tuple[str, ...], pixel: float, applies: bool) -> None:
    assert learned_applies(bands, pixel) is applies


def test_a_pair_at_10_m_runs_version_5_and_at_3_m_or_without_it_the_chi_square_test() -> None:
    before, after = _pair()
    at10 = detect_changes(*_images(10.0, before, after))
    assert at10.method_version == "5" and "learned_cut" in at10.parameters and "chi2_seed" not in at10.parameters
    off = detect_changes(*_images(10.0, before, after), learned=False)
    assert off.method_version == "3" and "chi2_seed" in off.parameters and "learned_cut" not in off.parameters
    at3 = detect_changes(*_images(3.0, before, after))
    assert at3.method_version == "3" and "learned_cut" not in at3.parameters


def test_the_built_block_is_found_and_the_light_of_the_later_date_is_not_change() -> None:
    before, after = _pair()
    r = detect_changes(*_images(10.0, before, after))
    built = np.zeros((H, W), bool)
    built[BUILT] = True
    assert r.changed[BUILT].mean() > 0.8
    near = ndimage.binary_dilation(built, iterations=3)
    assert r.changed[~near].mean() < 0.01
    inside = [g for g in r.regions if g.pixels >= 0.8 * built.sum()]
    assert len(inside) == 1 and inside[0].direction == "appeared"


@pytest.mark.parametrize("rows", [1, 7, 40])
def test_blocks_of_rows_give_the_scores_of_the_whole_grid(rows: int) -> None:
    before, after = _pair(7)
    ok = np.ones((H, W), bool)
    ok[5:12, 30:70] = False  # no data, across the top blocks' halo
    stats = {"smooth_px": 3, "noise": "scene", "brightness_bands": [0, 1, 2], "classes": COVER_CLASSES}
    whole = tree_probability(pair_features(before, after, ok, [0, 1, 2], stats | {"blocks": RowBlocks(H * W)}), model()).reshape(H, W)
    whole[~ok] = np.nan
    got = np.full((H, W), -1.0)
    spans = []
    for r0, r1, p, z, br in learned_blocks(before, after, ok, [0, 1, 2], stats | {"blocks": RowBlocks(rows * W)}):
        got[r0:r1] = p
        spans.append((r0, r1))
        assert z.shape == p.shape == br.shape
    assert spans == RowBlocks(rows * W).spans(H, W)
    assert np.allclose(got, whole, atol=1e-9, equal_nan=True)
    a = detect_changes(*_images(10.0, before, after), blocks=RowBlocks(H * W))
    b = detect_changes(*_images(10.0, before, after), blocks=RowBlocks(rows * W))
    assert np.array_equal(a.changed, b.changed) and a.regions == b.regions


def test_pixels_not_compared_are_never_changed() -> None:
    before, after = _pair()
    before[:, 62:70, 52:60] = np.nan  # inside the built block
    r = detect_changes(*_images(10.0, before, after))
    assert not r.changed[62:70, 52:60].any() and r.changed[BUILT].any()


def test_an_8_bit_rendering_is_decided_by_the_learned_score_alone() -> None:
    """On renderings the chi-square levels do not hold (quantised, stretched): no seed or growth from them."""
    before, after = _pair()
    scale = float(max(before[:3].max(), after[:3].max()))
    b8, a8 = (np.round(x[:3] / scale * 255) / 255 for x in (before, after))
    names = ("blue", "green", "red")
    as_read = [ChangeImage(x.astype(np.float32), _grid(10.0), "optical", names, rendering=True) for x in (b8, a8)]
    r = detect_changes(*as_read)
    assert r.method_version == "5" and "learned_grow_pfa" not in r.parameters
    noisy = detect_changes(*[ChangeImage(x.astype(np.float32), _grid(10.0), "optical", names) for x in (b8, a8)])
    assert noisy.parameters["learned_grow_pfa"] == 1e-6
    assert r.changed.sum() <= noisy.changed.sum()


def test_change_image_reads_png_and_8_bit_files_as_renderings_and_others_as_reflectance(tmp_path: Path) -> None:
    from affine import Affine
    from PIL import Image

    from sitewatch.change_image import read_change_pair
    from sitewatch.testing import write_tiff

    before, after = _pair()
    scale = float(max(before[:3].max(), after[:3].max()))
    for name, x in (("b", before), ("a", after)):
        rgb = np.clip(np.round(x[[2, 1, 0]] / scale * 255), 0, 255).astype(np.uint8)
        Image.fromarray(rgb.transpose(1, 2, 0)).save(tmp_path / f"{name}.png")
        t = Affine(10.0, 0, 300_000.0, 0, -10.0, 5_000_000.0)
        write_tiff(tmp_path / f"{name}8.tif", rgb, crs="EPSG:32633", transform=t, descriptions=("red", "green", "blue"))
        write_tiff(tmp_path / f"{name}.tif", x, crs="EPSG:32633", transform=t, descriptions=("blue", "green", "red", "nir"))
    png = read_change_pair(tmp_path / "b.png", tmp_path / "a.png", sensor="optical", pixel_size=10.0)
    eight = read_change_pair(tmp_path / "b8.tif", tmp_path / "a8.tif", sensor="optical")
    floats = read_change_pair(tmp_path / "b.tif", tmp_path / "a.tif", sensor="optical")
    assert png.before.rendering and png.after.rendering and eight.before.rendering
    assert not floats.before.rendering and not floats.after.rendering
    r = detect_changes(png.before, png.after)
    assert r.method_version == "5" and "learned_grow_pfa" not in r.parameters and r.regions


def _submetre(seed: int, pixel_m: float = 0.5, learned: bool = True, changed: bool = True) -> tuple[SubmetrePair, ChangeResult]:
    pair = submetre_pair(seed, changed=changed)
    h, w = pair.truth.shape
    grid = Grid("EPSG:32631", (pixel_m, 0.0, 500_000.0, 0.0, -pixel_m, 5_000_000.0), w, h)
    names = ("blue", "green", "red")
    images = (ChangeImage(pair.before, grid, "optical", names), ChangeImage(pair.after, grid, "optical", names))
    return pair, detect_changes(*images, min_area_m2=25.0, learned=learned)


def test_sub_metre_pairs_run_version_6_with_the_sub_metre_trees_and_version_4_without() -> None:
    _, r = _submetre(0)
    assert r.method_version == "6" and r.parameters["learned_model"] == FINE_MODEL_FILE
    assert {"learned_cut", "learned_seed_chi2", "chi2_seed", "noise_scale"} <= set(r.parameters)
    _, off = _submetre(0, learned=False)
    assert off.method_version == "4" and "learned_cut" not in off.parameters
    _, finer = _submetre(0, pixel_m=0.1)
    assert finer.method_version == "4" and "learned_cut" not in finer.parameters


def test_sub_metre_regions_without_a_learned_seed_keep_the_strong_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trees that mark nothing (a cut no score reaches): the trench and the roof are still found, seeded by
    the sub-metre statistic past STRONG_PFA; with no strong seeds either, nothing is."""
    import sitewatch.change.learned as learned

    blind = dict(model(FINE_MODEL_FILE), cut=2.0)
    monkeypatch.setattr(learned, "model", lambda *_: blind)
    pair, r = _submetre(1)
    for rows, cols in pair.objects:
        assert r.changed[rows, cols].mean() > 0.5
    monkeypatch.setattr(learned, "STRONG_PFA", None)
    _, none = _submetre(1)
    assert none.regions == ()


def test_sub_metre_learned_seeds_need_the_tolerant_statistic(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same ground in other light half a pixel apart: with the gate no region, without it (the score
    alone seeding) regions along the drawn edges (BENCHMARKS.md: 118 in 20 pairs)."""
    import sitewatch.change.learned as learned

    def regions() -> int:
        return sum(len(_submetre(seed, changed=False)[1].regions) for seed in range(3))

    assert regions() == 0
    monkeypatch.setattr(learned, "FINE_SEED_QUANTILE", 0.0)
    assert regions() > 0
