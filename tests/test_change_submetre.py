"""Optical change at sub-metre pixels (irmad-cva 6, and 4 without the learned score): simulated pairs with and without new objects, and the
LEVIR-CD and DSIFN-CD samples (skipped without ../shared/datasets)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from _datasets import DATASETS, import_benchmarks
from sitewatch.change import (
    FINE_PIXEL_M,
    METHOD_VERSIONS,
    ChangeImage,
    ChangeResult,
    detect_changes,
)
from sitewatch.model import Grid
from sitewatch.testing.submetre_change import SubmetrePair, submetre_pair

BANDS = ("blue", "green", "red")


def _detect(pair: SubmetrePair, pixel_m: float = 0.5, **kwargs: float | bool) -> ChangeResult:
    h, w = pair.truth.shape
    grid = Grid("EPSG:32631", (pixel_m, 0.0, 500_000.0, 0.0, -pixel_m, 5_000_000.0), w, h)
    return detect_changes(ChangeImage(pair.before, grid, "optical", BANDS), ChangeImage(pair.after, grid, "optical", BANDS),
                          min_area_m2=25.0, **kwargs)  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_same_ground_in_other_light_half_a_pixel_apart_gives_no_region(seed: int) -> None:
    """Another brightness, contrast and colour balance, other pixel noise, half a pixel of misregistration:
    nothing changed on the ground. Version 3 (and version 2's test) found about 12 regions per pair along
    the roofs' edges; version 4 and version 6 (its learned seeds) none."""
    result = _detect(submetre_pair(seed))
    assert result.method_version == "6" and METHOD_VERSIONS["irmad-cva"] == "6"
    assert result.regions == ()
    assert _detect(submetre_pair(seed), learned=False).regions == ()


@pytest.mark.parametrize("seed", range(3))
def test_a_new_trench_and_roof_are_found_and_nothing_else(seed: int) -> None:
    pair = submetre_pair(seed, changed=True)
    assert len(pair.objects) == 2
    result = _detect(pair)
    for rows, cols in pair.objects:
        assert result.changed[rows, cols].mean() > 0.5
    labels, n = ndimage.label(result.changed, structure=np.ones((3, 3), bool))
    assert n == len(result.regions) == 2
    assert set(np.unique(labels[pair.truth]).tolist()) - {0} == {1, 2}
    roof = max(result.regions, key=lambda r: r.area_m2)
    assert roof.direction == "appeared" and 120 < roof.area_m2 < 260  # 150 m² drawn


def test_the_sub_metre_rules_stop_above_one_metre() -> None:
    """The same arrays on a 3 m grid run version 3's rules (no tolerance, no quartile scale)."""
    pair = submetre_pair(0, changed=True)
    fine, coarse = _detect(pair), _detect(pair, pixel_m=3.0)
    assert FINE_PIXEL_M == 1.0
    assert fine.parameters["classes"] == 0 and "noise_scale" in fine.parameters
    assert coarse.method_version == "3" and "noise_scale" not in coarse.parameters and coarse.parameters["classes"] == 6
    assert _detect(pair, pixel_m=3.0, classes=0).method_version == "2"
    assert _detect(pair, pixel_m=1.0).method_version == "6"
    assert _detect(pair, pixel_m=1.0, learned=False).method_version == "4"


@pytest.mark.dataset
@pytest.mark.skipif(not (DATASETS / "levir-cd-samples").is_dir() or not (DATASETS / "dsifn-cd-samples").is_dir(),
                    reason="../shared/datasets/levir-cd-samples or dsifn-cd-samples not present")  # fmt: skip
def test_sub_metre_samples_beat_plain_change_vector_analysis() -> None:
    """Pooled over the 21 LEVIR-CD and DSIFN-CD sample crops (0.5 m RGB, regions of 25 m² and more), version 4
    (``learned=False``): measured F1 0.367 against 0.327 for RGB change vector analysis with Otsu's threshold
    (BENCHMARKS.md, "Sub-metre optical change"); on LEVIR alone 0.308 against 0.232 (on DSIFN alone 0.417
    against 0.415: a tie, not asserted). Version 3 gave 0.004 and 0.069. In-sample figures: the rules were
    revised after both sets had been scored. The margins sit about half-way below the measurements.
    Version 6, the default, with the shipped sub-metre trees (fitted on these very crops, so in-sample):
    measured 0.456 (LEVIR 0.382, DSIFN 0.520); held out, 0.436 leave one crop out and 0.398 leave one
    dataset out (``benchmarks/change_submetre_train.py``): asserted above version 4 by half the held-out gain."""
    import_benchmarks()
    from change_oscd import (
        PNG_SETS,
        counts,
        cva_otsu_changed,
        figures,
        pair_folders,
        png_pairs,
        sitewatch_changed,
    )

    ours, base, six = {}, {}, {}
    for _, folder in PNG_SETS:
        pairs = [p for root in pair_folders(DATASETS / folder) for p in png_pairs(root)]
        ours[folder] = sum((counts(sitewatch_changed(p, min_area_m2=25.0, learned=False), p) for p in pairs), np.zeros(3, np.int64))
        base[folder] = sum((counts(cva_otsu_changed(p), p) for p in pairs), np.zeros(3, np.int64))
        six[folder] = sum((counts(sitewatch_changed(p, min_area_m2=25.0), p) for p in pairs), np.zeros(3, np.int64))
    pooled, pooled_base = figures(sum(ours.values()))[2], figures(sum(base.values()))[2]
    assert pooled > pooled_base + 0.02, (pooled, pooled_base)
    levir, levir_base = figures(ours["levir-cd-samples"])[2], figures(base["levir-cd-samples"])[2]
    assert levir > levir_base + 0.05, (levir, levir_base)
    pooled_six = figures(sum(six.values()))[2]
    assert pooled_six > pooled + 0.03, (pooled_six, pooled)
    assert all(figures(six[f])[2] > figures(ours[f])[2] for f in six), {f: (figures(six[f])[2], figures(ours[f])[2]) for f in six}
