"""Optical change where land covers change each at its own pace (irmad-cva 3, the class-centred test):
a cover that changed as a whole is not a change, what changed within it still is."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sitewatch.change import COVER_CLASSES, METHOD_VERSIONS, ChangeImage, detect_changes
from sitewatch.model import Grid

H = W = 160
GRID = Grid("EPSG:32652", (10.0, 0.0, 500_000.0, 0.0, -10.0, 4_700_000.0), W, H)
BANDS = ("blue", "green", "red", "nir")
FIELDS = np.array([0.040, 0.075, 0.060, 0.280])
FOREST = np.array([0.030, 0.055, 0.035, 0.300])
WOOD = (slice(20, 90), slice(10, 80))
"""A forest of 70 × 70 pixels in fields: a fifth of the image."""
ROOF = (slice(40, 52), slice(40, 52))
"""A roof built in the forest."""
FIELDS_GAIN = np.array([1.05, 1.03, 1.10, 0.95])
FOREST_GAIN = np.array([1.08, 1.04, 1.20, 0.90])
"""An autumn week: the forest's red rises and its near infrared falls faster than the fields'."""


def _pair(seed: int, *, roof: bool = False) -> tuple[ChangeImage, ChangeImage]:
    """Textured fields and forest; after: each multiplied by its own gains (and a roof where ``roof``)."""
    rng = np.random.default_rng(seed)
    texture = 1 + 0.1 * ndimage.gaussian_filter(rng.normal(size=(H, W)), 2) / 0.14
    forest = np.zeros((H, W), bool)
    forest[WOOD] = True
    before = np.where(forest, FOREST[:, None, None], FIELDS[:, None, None]) * texture
    after = np.where(forest, (FOREST * FOREST_GAIN)[:, None, None], (FIELDS * FIELDS_GAIN)[:, None, None]) * texture
    if roof:
        after[(slice(None), *ROOF)] = np.array([0.20, 0.21, 0.22, 0.25])[:, None, None]
    images = [x + rng.normal(0, 0.003, x.shape) for x in (before, after)]
    return tuple(ChangeImage(x.astype(np.float32), GRID, "optical", BANDS) for x in images)  # type: ignore[return-value]


@pytest.mark.parametrize("seed", range(4))
def test_two_covers_that_shift_differently_give_no_region(seed: int) -> None:
    """Nothing but the season changed: version 2's one map per band left the forest as a region of
    thousands of pixels; version 3 finds none."""
    before, after = _pair(seed)
    old = detect_changes(before, after, learned=False, classes=0)
    assert old.changed[WOOD].mean() > 0.5  # the old test: the forest as a whole
    result = detect_changes(before, after, learned=False)
    assert result.method_version == "3" and METHOD_VERSIONS["irmad-cva"] == "6"  # 4 differs only at 1 m or finer, 5 is the learned score, 6 the sub-metre one
    assert result.parameters["classes"] == COVER_CLASSES
    assert result.regions == ()
    assert detect_changes(before, after).regions == ()  # nor the learned score (version 5), which grows into it


@pytest.mark.parametrize("seed", range(4))
def test_what_is_built_in_a_cover_that_shifted_is_still_found(seed: int) -> None:
    before, after = _pair(seed, roof=True)
    result = detect_changes(before, after, learned=False)
    assert len(result.regions) == 1
    assert len(detect_changes(before, after).regions) == 1  # the learned score too
    (region,) = result.regions
    assert region.direction == "appeared"
    assert result.changed[ROOF].all()
    assert 144 <= region.pixels <= 144 + 4 * 14  # the roof, grown by at most the smoothing window's rim


def test_the_class_centred_test_only_takes_pixels_away() -> None:
    """Version 3 tests the smaller of two statistics: its changed pixels are some of version 2's."""
    rng = np.random.default_rng(11)
    before, after = _pair(5, roof=True)
    data = after.data.copy()
    data[:, 120:126, 100:140] = np.array([0.075, 0.095, 0.120, 0.160])[:, None, None]  # dug earth in a field
    data[:, 130:150, 10:30] *= rng.uniform(0.6, 1.4, (4, 1, 1)).astype(np.float32)
    after = ChangeImage(data, GRID, "optical", BANDS)
    old, new = detect_changes(before, after, learned=False, classes=0), detect_changes(before, after, learned=False)
    assert new.changed.any()
    assert not (new.changed & ~old.changed).any()


def test_too_few_pixels_for_classes_is_version_2s_test() -> None:
    """Under twice CLASS_MIN_PIXELS compared pixels no class is formed: the same pixels as without classes."""
    before, after = _pair(2, roof=True)
    area = np.zeros((H, W), bool)
    area[30:60, 30:60] = True  # 900 pixels around the roof
    old = detect_changes(before, after, learned=False, classes=0, area=area)
    new = detect_changes(before, after, learned=False, area=area)
    assert new.changed[ROOF].all()
    assert np.array_equal(old.changed, new.changed)
