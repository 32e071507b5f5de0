"""``sar_render_train.py``'s tried inputs for land clutter (``--core-shape``, ``--ring-cv``; 7 Dec, not shipped):
they measure what their docstring says, and the detector's own passes see them when asked."""

from __future__ import annotations

import numpy as np
import pytest

from _datasets import import_benchmarks

import_benchmarks()


def _sea(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(10, 40, (96, 96)).astype(np.float32)


def _columns(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sar_render_train import shape_texture_columns
    from sitewatch.detect.sar_render import rendering_candidates

    lab, feats, _ = rendering_candidates(img.astype(np.uint8))
    return lab, shape_texture_columns(img, lab, feats, ["core-shape", "ring-cv"])


def test_a_bright_hull_is_all_core_and_follows_its_box() -> None:
    img = _sea()
    img[40:46, 30:60] = 230
    lab, cols = _columns(img)
    i = int(lab[43, 45]) - 1
    assert i >= 0
    core, ragged, _ = cols[i]
    assert core == pytest.approx(1.0, abs=0.05)
    assert abs(ragged) < 0.2


def test_the_ring_of_a_hull_among_bright_points_varies_more_than_on_open_sea() -> None:
    sea = _sea()
    sea[40:46, 30:60] = 230
    land = sea.copy()
    rng = np.random.default_rng(1)
    for r, c in rng.integers(5, 91, (120, 2)):
        if not (34 <= r <= 52 and 24 <= c <= 66):
            land[r, c] = 200  # single bright points: brighter ground round it, no candidates (too small)
    cv = []
    for img in (sea, land):
        lab, cols = _columns(img)
        cv.append(cols[int(lab[43, 45]) - 1, 2])
    assert cv[1] > cv[0] + 0.3


def test_the_detector_passes_see_the_extra_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    import sar_render_train
    import sitewatch.detect.sar_render as sar_render

    monkeypatch.setattr(sar_render, "rendering_candidates", sar_render.rendering_candidates)
    monkeypatch.setattr(sar_render_train, "rendering_candidates", sar_render_train.rendering_candidates)
    monkeypatch.setattr(sar_render_train, "SHAPE_TEXTURE", [])
    img = _sea()
    img[40:46, 30:60] = 230
    plain = sar_render.rendering_candidates(img.astype(np.uint8))[1].shape[1]
    sar_render_train.use_shape_texture(["ring-cv"])
    assert sar_render.rendering_candidates(img.astype(np.uint8))[1].shape[1] == plain + 1
    assert sar_render_train.n_features() == plain + 1
