"""Change regions scored against the truth of what appeared (change_eval.py)."""

from __future__ import annotations

from typing import Any

import pytest
from shapely.geometry import box, mapping

from sitewatch.change_eval import ChangeScore, score_pair, truth_changes, truth_footprint
from sitewatch.errors import InputError
from sitewatch.geo import reproject_geometry

CRS = "EPSG:32652"
X0, Y0 = 713000.0, 4913800.0


def test_a_region_over_a_trench_finds_it_and_the_areas_are_measured_on_the_ground() -> None:
    trench = box(0, 0, 400, 8)  # 3200 m²
    rows = box(0, 100, 70, 107)  # 490 m²
    over = box(-10, -6, 410, 14)  # 8400 m², holds the trench
    far = box(1000, 1000, 1030, 1030)  # 900 m², nothing there
    s = score_pair([over, far], [("trench", trench), ("rows", rows)], compared_m2=2e6)
    assert (s.truth_objects, s.found, s.regions, s.true_regions) == (2, 1, 2, 1)
    assert s.recall == 0.5 and s.precision == 0.5
    assert s.overlap_m2 == pytest.approx(3200.0)
    assert s.area_precision == pytest.approx(3200 / 9300)
    assert s.area_recall == pytest.approx(3200 / 3690)
    assert s.area_f1 == pytest.approx(2 * 3200 / (9300 + 3690))
    assert s.quiet_pairs == 0 and s.false_per_km2_pair is None


def test_false_regions_on_pairs_without_true_change_are_per_km2_per_pair() -> None:
    quiet = score_pair([box(0, 0, 20, 20)] * 3, [], compared_m2=2e6) + score_pair([], [], compared_m2=1e6)
    assert (quiet.pairs, quiet.quiet_pairs, quiet.quiet_regions) == (2, 2, 3)
    assert quiet.false_per_km2_pair == pytest.approx(1.0)  # 3 regions over 3 km²-pairs
    assert quiet.recall is None and quiet.area_recall is None and quiet.precision == 0.0
    both = quiet + score_pair([box(0, 0, 10, 10)], [("t", box(0, 0, 5, 5))], 1e6)
    assert both.pairs == 3 and both.quiet_pairs == 2 and both.found == 1
    assert ChangeScore.from_dict(both.to_dict()) == both
    assert "true changes found 1 of 1 (R 1.000)" in both.line("3 m optical")
    assert "3 false region(s) on the 2 pair(s) without a true change (1.000 per km² per pair)" in both.line("x")


def _fc(*features: tuple[str, str, Any, bool]) -> dict[str, Any]:
    feats = []
    for fid, kind, geom, visible in features:
        g = reproject_geometry(geom, CRS, "EPSG:4326")
        props = {"id": fid, "kind": kind, "visible": visible} | ({"group": fid.rsplit("-", 1)[0]} if kind == "vehicle" else {})
        feats.append({"type": "Feature", "geometry": mapping(g), "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def test_the_truth_of_a_pair_is_what_one_scene_has_and_the_other_not_vehicles_by_row() -> None:
    trench = box(X0, Y0, X0 + 300, Y0 + 8)
    v1, v2 = box(X0, Y0 + 50, X0 + 3, Y0 + 57), box(X0 + 6, Y0 + 50, X0 + 9, Y0 + 57)
    ship = box(X0 + 500, Y0, X0 + 600, Y0 + 15)
    before = _fc(("ship", "vessel", ship, True))
    after = _fc(("trench-1", "trench", trench, True), ("row-1", "vehicle", v1, True), ("row-2", "vehicle", v2, True),
                ("cloudy", "trench", box(X0, Y0 + 200, X0 + 100, Y0 + 208), False))  # fmt: skip
    out = truth_changes(before, after, CRS)
    assert [k for k, _ in out] == ["row", "trench-1"]  # the ship is not change truth; the trench under cloud unseen
    assert dict(out)["row"].area == pytest.approx(42.0, rel=1e-3)
    assert truth_changes(after, after, CRS) == []
    assert [k for k, _ in truth_changes(after, before, CRS)] == ["row", "trench-1"]  # gone counts too


def test_a_truth_footprint_is_read_in_the_crs_asked_and_one_without_a_geometry_is_named_by_its_index() -> None:
    # Both evaluations (detections and changes) read the truth's footprints through truth_footprint.
    lonlat = box(130.0, 42.0, 130.001, 42.001)
    got = truth_footprint({"geometry": mapping(lonlat)}, 0, CRS)
    assert got.equals_exact(reproject_geometry(lonlat, "EPSG:4326", CRS), 1e-6)
    for bad in ({"properties": {}}, {"geometry": None}, {"geometry": {"type": "Polygon"}}):
        with pytest.raises(InputError, match=r"ground truth feature 3 has no usable geometry"):
            truth_footprint(bad, 3, CRS)
