"""sitewatch.change on real Sentinel-2 pairs with urban change labels (OSCD); skipped without the datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _datasets import DATASETS, import_benchmarks, needs_dataset

pytestmark = needs_dataset("oscd", "Onera Satellite Change Detection dataset - Images")

import_benchmarks()


@pytest.mark.slow
def test_oscd_pooled_f1_holds_its_floor_and_beats_plain_cva() -> None:
    """Pooled over the six cities with images and labels: F1 0.286 measured (BENCHMARKS.md; 0.258 before
    irmad-cva 3's class-centred test), plain RGB change vector analysis with Otsu 0.174. The floor sits a
    little below the measurement."""
    from change_oscd import (
        OSCD_CITIES,
        counts,
        cva_otsu_changed,
        figures,
        oscd_pair,
        sitewatch_changed,
    )

    ours, baseline = np.zeros(3, np.int64), np.zeros(3, np.int64)
    for city in OSCD_CITIES:
        pair = oscd_pair(city)
        ours += counts(sitewatch_changed(pair, learned=False), pair)
        baseline += counts(cva_otsu_changed(pair), pair)
    f1, f1_base = figures(ours)[2], figures(baseline)[2]
    assert f1 >= 0.27, f1
    assert f1 > f1_base + 0.05, (f1, f1_base)


def test_oscd_date_two_is_laid_on_date_one_grid() -> None:
    from change_oscd import oscd_pair

    pair = oscd_pair("abudhabi")  # date 2 is 782 × 795 pixels, date 1 785 × 799
    assert pair.before.shape == pair.after.shape == (4, 799, 785) and pair.label.shape == (799, 785)
    assert np.isnan(pair.after[:, -1, :]).all() and np.isfinite(pair.after[:, :795, :782]).all()
    assert 0.03 < pair.label.mean() < 0.045  # SOURCE.md: 3.76 % changed


@pytest.mark.slow
def test_oscd_abudhabi_from_its_band_folders_scores_as_its_stacked_files(tmp_path: Path) -> None:
    """OSCD abudhabi's ``imgs_1``/``imgs_2`` given to change-image as they are, one file a band: the mask
    scores F1 0.323 against ``abudhabi-cm.tif`` (P 0.493, R 0.241; the learned score, which saw abudhabi's RGB
    pair in training: in-sample), what the dates stacked by hand into two files score (date 2 laid on date 1's
    grid by its georeference, not from its corner as the benchmark does). With --no-learned, version 3's
    F1 0.300 (P 0.272, R 0.334)."""
    import json

    import rasterio
    from click.testing import CliRunner

    from sitewatch.cli import main

    images = DATASETS / "oscd" / "Onera Satellite Change Detection dataset - Images" / "abudhabi"
    out, mask = tmp_path / "abudhabi.geojson", tmp_path / "abudhabi.tif"
    r = CliRunner().invoke(main, ["change-image", str(images / "imgs_1"), str(images / "imgs_2"), "--out", str(out), "--mask", str(mask), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["before_bands"]["nir"].endswith("_B08.tif")
    with rasterio.open(mask) as ds:
        changed = ds.read(1) > 0
    with rasterio.open(DATASETS / "oscd" / "Onera Satellite Change Detection dataset - Train Labels" / "abudhabi" / "cm" / "abudhabi-cm.tif") as ds:
        label = ds.read(1) == 2
    tp = float((changed & label).sum())
    precision, recall = tp / changed.sum(), tp / label.sum()
    assert 2 * precision * recall / (precision + recall) == pytest.approx(0.323, abs=0.0015), (precision, recall)
    r = CliRunner().invoke(main, ["change-image", str(images / "imgs_1"), str(images / "imgs_2"), "--out", str(out), "--mask", str(mask), "--no-learned"])
    assert r.exit_code == 0, r.output
    with rasterio.open(mask) as ds:
        changed = ds.read(1) > 0
    tp = float((changed & label).sum())
    precision, recall = tp / changed.sum(), tp / label.sum()
    assert 2 * precision * recall / (precision + recall) == pytest.approx(0.300, abs=0.0015), (precision, recall)


@pytest.mark.slow
def test_an_offset_on_one_date_of_oscd_abudhabi_leaves_the_mask_as_it_is(tmp_path: Path) -> None:
    """Band files out of a SAFE go without the product's BOA_ADD_OFFSET (1,000 DN from baseline 04.00): the
    same 1,000 DN added to every band of abudhabi's second date leaves change-image's mask pixel for pixel as
    it was (README)."""
    import rasterio
    from click.testing import CliRunner

    from sitewatch.cli import main

    images = DATASETS / "oscd" / "Onera Satellite Change Detection dataset - Images" / "abudhabi"
    offset = tmp_path / "imgs_2_offset"
    offset.mkdir()
    for code in ("B02", "B03", "B04", "B08"):
        (f,) = (images / "imgs_2").glob(f"*_{code}.tif")
        with rasterio.open(f) as src:
            profile, dn = src.profile, src.read(1).astype(np.uint32)
        with rasterio.open(offset / f.name, "w", **profile) as dst:
            dst.write(np.clip(dn + 1000, 0, 65_535).astype(np.uint16), 1)
    masks = []
    for after in (images / "imgs_2", offset):
        mask = tmp_path / f"{after.name}.tif"
        r = CliRunner().invoke(main, ["-q", "change-image", str(images / "imgs_1"), str(after), "--out", str(tmp_path / f"{after.name}.geojson"), "--mask", str(mask)])
        assert r.exit_code == 0, r.output
        with rasterio.open(mask) as ds:
            masks.append(ds.read(1))
    assert masks[0].any() and np.array_equal(masks[0], masks[1])
