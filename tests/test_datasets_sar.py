"""The SAR detector on real labelled Sentinel-1 imagery (OpenSARShip, SAR-Ship-Dataset); skipped without the datasets.

Floors that catch a broken or badly regressed detector; the honest figures
(held-out where a stage was learned) are in BENCHMARKS.md, "SAR detection".
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from _datasets import DATASETS, import_benchmarks, needs_dataset

pytestmark = needs_dataset("opensarship-s1-subset")

import_benchmarks()


@pytest.fixture(scope="module")
def grd_chips():  # type: ignore[no-untyped-def]
    from sar_real import opensarship_chips

    return [c for c in opensarship_chips(DATASETS) if c.kind == "GRD" and c.ais_length > 0]


def test_opensarship_grd_centred_ship_found_and_measured(grd_chips) -> None:  # type: ignore[no-untyped-def]
    from sar_real import centred_detection
    from sitewatch.detect.sar import detect_sar

    assert len(grd_chips) > 100  # the subset as SOURCE.md describes it, read from the zips
    found, errors = 0, []
    for chip in grd_chips:
        d = centred_detection(chip, detect_sar(chip.intensity, chip.pixel))
        if d is not None:
            found += 1
            errors.append(d.length_m - chip.ais_length)  # type: ignore[attr-defined]
    rate = found / len(grd_chips)
    mae = statistics.fmean(abs(e) for e in errors)
    # Measured 0.944 and 21.5 m (1.3.0, ship = within 30 m of the annotated bow-stern line;
    # BENCHMARKS.md); the targets are 0.95 and 17 m.
    assert rate >= 0.92, rate
    assert mae <= 25.0, mae
    assert abs(statistics.median(errors)) <= 15.0


def test_opensarship_grd_widths_against_ais_beam(grd_chips) -> None:  # type: ignore[no-untyped-def]
    """Widths with the GRD impulse response taken out (the default) against AIS beams, and as measured."""
    from sar_real import centred_detection
    from sitewatch.detect.sar import SarParams, detect_sar

    err, raw = [], []
    for chip in [c for c in grd_chips if c.ais_width > 0]:
        d = centred_detection(chip, detect_sar(chip.intensity, chip.pixel))
        r = centred_detection(chip, detect_sar(chip.intensity, chip.pixel, params=SarParams(resolution_m=0.0)))
        if d is not None and r is not None:
            err.append(d.width_m - chip.ais_width)  # type: ignore[attr-defined]
            raw.append(r.width_m - chip.ais_width)  # type: ignore[attr-defined]
    assert len(err) > 150
    # Measured (VV): MAE 7.4 m, median -1.3 m; as measured 16.9 m, median +17.0 m (BENCHMARKS.md "Widths").
    assert statistics.fmean(abs(e) for e in err) <= 10.0
    assert abs(statistics.median(err)) <= 5.0
    assert statistics.median(raw) >= 10.0  # what the default takes out: the test can fail both ways


def test_opensarship_dual_pol_chips_gain_from_the_cross_polarised_channel() -> None:
    from sar_real import centred_detection, opensarship_chips
    from sitewatch.detect.sar import detect_sar
    from sitewatch.detect.sar_dual import detect_sar_dual

    dual = [c for c in opensarship_chips(DATASETS) if c.kind == "GRD" and c.cross is not None]
    assert len(dual) > 100  # the three 1SDV GRD scenes (VH, VV) of SOURCE.md
    vv = sum(centred_detection(c, detect_sar(c.intensity, c.pixel)) is not None for c in dual)
    both, errors = 0, []
    for c in dual:
        d = centred_detection(c, detect_sar_dual(c.intensity, c.cross, c.pixel))
        if d is not None:
            both += 1
            if c.ais_length > 0:
                errors.append(d.length_m - c.ais_length)  # type: ignore[attr-defined]
    # Measured (1.6.0, BENCHMARKS.md): VV 114 of 125, VV+VH 124 of 125; length MAE on these
    # chips 21.4 m VV, 17.7 m VV+VH (n 107).
    assert both / len(dual) >= 0.97 and both > vv, (both, vv)
    assert statistics.fmean(abs(e) for e in errors) <= 19.5



def test_opensarship_long_hulls_are_not_reported_as_one_of_their_pieces(grd_chips) -> None:  # type: ignore[no-untyped-def]
    # sitewatch-sar 1.8.0 reported these two as a piece (BENCHMARKS.md, "Hull pieces (1.9.0)"): a
    # 333 m tanker touching a second ship as its 51 m bow piece (VV only; its pieces along the
    # hull are joined now), and a 363 m ship seen whole in VV as its 273 m VH piece (VV+VH).
    from sar_real import centred_detection
    from sitewatch.detect.sar import detect_sar
    from sitewatch.detect.sar_dual import detect_sar_dual

    chips = {c.name: c for c in grd_chips}
    tanker = chips["Tanker_x11818_y9503.tif"]
    d = centred_detection(tanker, detect_sar(tanker.intensity, tanker.pixel))
    assert d is not None and d.length_m > 150.0  # type: ignore[attr-defined]
    cargo = chips["Cargo_x5258_y11247.tif"]
    d = centred_detection(cargo, detect_sar_dual(cargo.intensity, cargo.cross, cargo.pixel))
    assert d is not None and d.length_m > 290.0  # type: ignore[attr-defined]

def test_sentinel1_box_chips_precision(tmp_path: Path) -> None:
    from sar_real import match_boxes, ssdd_chips
    from sitewatch.detect.sar import detect_sar

    chips = ssdd_chips(DATASETS)
    if not chips:
        pytest.skip("sar-ship-dataset-samples not present")
    tp = fp = fn = 0
    for _name, img, boxes in chips:
        dets = detect_sar(img, 5.0)
        t = match_boxes([(d.row, d.col, d.score) for d in dets], boxes)
        tp, fp, fn = tp + t[0], fp + t[1], fn + t[2]
    precision = tp / (tp + fp) if tp + fp else math.nan
    # 8-bit display renderings: the detector is weak here (BENCHMARKS.md); keep it from getting worse.
    assert tp >= 5
    assert precision >= 0.4, precision


def test_box_chips_rendering_detector() -> None:
    from sar_real import Counts, hrsid_chips, match_boxes, ssdd_chips
    from sitewatch.detect.sar import detect_sar

    chips = [(c, 5.0) for c in ssdd_chips(DATASETS)] + [(c, 1.0) for c in hrsid_chips(DATASETS)]
    if len(chips) < 16:
        pytest.skip("box-labelled chips not all present")
    total = Counts()
    for (_name, img, boxes), px in chips:
        total.add(match_boxes([(d.row, d.col, d.score) for d in detect_sar(img, px)], boxes))
    p, r, f = total.prf()
    # In-sample (the trees were fitted on these chips): 0.695 / 0.850 / 0.765; held out 0.64-0.67
    # (BENCHMARKS.md). A floor against regressions, not a claim.
    assert f >= 0.72 and r >= 0.75, (p, r, f)


def test_crowded_anchorage_looked_at_twice() -> None:
    # HRSID P0119: 122 hulls at anchor in a river. 1.11.0 found 94 (in-sample) with 9 false alarms;
    # the second pass on the chip without the kept ships finds 105 with 10 (BENCHMARKS.md).
    from sar_real import hrsid_chips, match_boxes
    from sitewatch.detect.sar import detect_sar

    chips = [c for c in hrsid_chips(DATASETS) if c[0].startswith("P0119")]
    if not chips:
        pytest.skip("hrsid-samples not present")
    _name, img, boxes = chips[0]
    tp, fp, _ = match_boxes([(d.row, d.col, d.score) for d in detect_sar(img, 1.0)], boxes)
    assert tp >= 100 and fp <= 15, (tp, fp)
