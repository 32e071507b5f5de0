"""Evaluation against the simulator's truth."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from shapely.geometry import box, mapping

from _report_world import CRS, CX, CY, _wgs, build
from sitewatch.cli.eval import _line
from sitewatch.evaluate import (
    EvalParams,
    ObservationEval,
    evaluate_observation,
    evaluate_workspace,
    latest_evaluation,
    matching_rule,
    scores_from,
)
from sitewatch.model import ClassCandidate, Detection, Grid, Observation, SceneRef
from sitewatch.report.html import render_report


def test_perfect_detections_score_one_and_are_recorded(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    ev = evaluate_workspace(ws)
    assert ev.overall.tp == 2 and ev.overall.fp == 0 and ev.overall.fn == 0
    assert ev.overall.f1 == 1.0
    assert ev.overall.length_mae_m == pytest.approx(3.0)  # |118-113| and |114-113|
    assert set(ev.by_sensor) == {"sar", "optical"}
    assert ev.by_sensor["sar"].length_mae_m == pytest.approx(5.0)
    assert ev.overall.class_in_candidates == 1.0
    pc = ev.presence["dunai"]
    assert (pc.truth_days, pc.detected_days, pc.agreeing_days) == (1, 1, 1)
    with ws.store() as st:
        rec = latest_evaluation(st)
    assert rec is not None and rec["overall"]["f1"] == 1.0 and rec["version"]


def test_missed_ships_lower_recall_and_leave_precision_undefined(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws", detections=False)
    ev = evaluate_workspace(ws, ["dunai"], record=False)
    # Nothing detected: no claim to be right or wrong about, so no precision (as `sitewatch score`).
    assert ev.overall.fn == 2 and ev.overall.recall == 0.0 and ev.overall.precision is None
    assert ev.overall.f1 == 0.0


def test_eval_with_no_detections_prints_a_dash_and_null_for_precision(tmp_path: Path) -> None:
    from sitewatch.cli import main

    ws = build(tmp_path / "ws", detections=False)
    res = CliRunner().invoke(main, ["eval", "-w", str(ws.root), "--no-record"])
    assert res.exit_code == 0, res.output
    first = res.output.splitlines()[0]
    assert "FN    2  P     –  R 0.000  F1 0.000" in first, first
    res = CliRunner().invoke(main, ["eval", "-w", str(ws.root), "--no-record", "--json"])
    overall = json.loads(res.output)["overall"]
    assert (overall["precision"], overall["recall"], overall["f1"]) == (None, 0.0, 0.0)


def test_eval_and_score_give_the_same_figures_for_the_same_counts() -> None:
    from sitewatch.boxscore import Counts

    for tp in range(3):
        for fp in range(3):
            for fn in range(3):
                s = scores_from([ObservationEval("o", "s", "sc", "sar", "t", 10.0, tp=tp, fp=fp, fn=fn)])
                c = Counts(tp=tp, fp=fp, fn=fn)
                for name in ("precision", "recall", "f1"):
                    mine, theirs = getattr(s, name), getattr(c, name)
                    assert mine == (None if theirs is None else round(theirs, 4)), (tp, fp, fn, name)


def test_cranes_can_be_evaluated_too(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    ev = evaluate_workspace(ws, params=EvalParams(kind="crane"), record=False)
    # The SAR scene has no crane detector: one crane missed there, one found in the optical scene.
    assert (ev.overall.tp, ev.overall.fn) == (1, 1)


def test_real_scenes_are_skipped(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws", simulated=False)
    ev = evaluate_workspace(ws, record=False)
    assert ev.overall.observations == 0 and len(ev.skipped) == 4


def test_scores_of_nothing_are_undefined_not_perfect() -> None:
    for evals in ([], [ObservationEval("o", "s", "sc", "sar", "t", 10.0, tp=0, fp=0, fn=0)]):
        s = scores_from(evals)
        assert (s.precision, s.recall, s.f1) == (None, None, None) and s.length_mae_m is None
    e = ObservationEval("o", "s", "sc", "sar", "t", 10.0, tp=8, fp=2, fn=0)
    assert scores_from([e]).precision == 0.8
    assert scores_from([ObservationEval("o", "s", "sc", "sar", "t", 10.0, tp=0, fp=0, fn=3)]).f1 == 0.0


def test_kind_must_be_one_the_detectors_produce_and_long_ship_positive(tmp_path: Path) -> None:
    from sitewatch.cli import main
    from sitewatch.errors import InputError

    with pytest.raises(InputError, match="'ship'.*vessel, crane"):
        EvalParams(kind="ship")
    with pytest.raises(InputError, match="more than 0"):
        EvalParams(long_ship_m=-5)
    ws = build(tmp_path / "ws")
    for args, option in ((["--kind", "ship"], "--kind"), (["--long-ship", "-5"], "--long-ship"),
                         (["--long-ship", "0"], "--long-ship")):
        res = CliRunner().invoke(main, ["eval", "-w", str(ws.root), *args])
        assert res.exit_code == 2 and option in res.output, res.output
    with ws.store() as st:
        assert latest_evaluation(st) is None  # nothing recorded


def test_nothing_to_match_shows_a_dash_and_null(tmp_path: Path) -> None:
    from sitewatch.cli import main

    ws = build(tmp_path / "ws", detections=False)
    for truth in (ws.root / "archive").rglob("*.truth.geojson"):  # no ship, no crane anywhere
        data = json.loads(truth.read_text(encoding="utf-8"))
        truth.write_text(json.dumps(data | {"features": []}), encoding="utf-8")
    res = CliRunner().invoke(main, ["eval", "-w", str(ws.root), "--kind", "crane"])
    assert res.exit_code == 0, res.output
    assert "1.000" not in res.output and "F1     –" in res.output
    assert "no matched crane longer than --long-ship" in res.output and "ships" not in res.output
    assert "presence days" not in res.output  # the timeline's days are vessels' days
    assert "presence days" in CliRunner().invoke(main, ["eval", "-w", str(ws.root)]).output
    data = json.loads(CliRunner().invoke(main, ["eval", "-w", str(ws.root), "--json"]).output)
    assert data["overall"]["f1"] is None and data["by_sensor"]["sar"]["precision"] is None


def test_cli_eval_json(tmp_path: Path) -> None:
    from sitewatch.cli import main

    ws = build(tmp_path / "ws")
    res = CliRunner().invoke(main, ["eval", "-w", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["overall"]["f1"] == 1.0
    # The rule stated beside the figures, as `score --json` states its own: an assignment, not best score first.
    assert data["rule"] == matching_rule(EvalParams()) and "least total distance" in data["rule"]
    assert "grown by 1 pixel(s)" in data["rule"] and "whatever the detections' scores" in data["rule"]
    # Not the least distance alone (one pair, or none, would have less): the most pairs, then the least distance.
    assert "as many are kept as can be one to one, and of the ways to keep that many, the one of least" in data["rule"]
    res = CliRunner().invoke(main, ["eval", "--help"])
    assert "the most matches, then the least total distance between centroids, not by" in " ".join(res.output.split())
    res = CliRunner().invoke(main, ["eval", "-w", str(ws.root), "nowhere"])
    assert res.exit_code == 1 and "no site 'nowhere'" in res.output


def test_nothing_to_evaluate_is_an_error_not_a_perfect_score(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.evaluate import latest_evaluation
    from sitewatch.workspace import init_workspace

    ws = init_workspace(tmp_path / "empty")
    r = CliRunner().invoke(main, ["eval", "-w", str(ws.root)])
    assert r.exit_code == 1 and "nothing to evaluate" in r.output
    assert "real imagery with labelled boxes is scored by `sitewatch detect-image` and `sitewatch score`" in r.output
    with ws.store() as store:
        assert latest_evaluation(store) is None


def test_a_site_named_twice_is_evaluated_once(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    once = evaluate_workspace(ws, ["dunai"], record=False)
    twice = evaluate_workspace(ws, ["dunai", "dunai"], record=False)
    assert twice.overall == once.overall and len(twice.observations) == len(once.observations)


def test_an_unreadable_truth_file_is_named_and_the_others_proceed(tmp_path: Path) -> None:
    from sitewatch.cli import main

    ws = build(tmp_path / "ws")
    truths = sorted((ws.root / "archive" / "dunai").glob("*.truth.geojson"))
    assert len(truths) > 1
    for bad in ("garbage", '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}}]}'):
        truths[0].write_text(bad, encoding="utf-8")
        ev = evaluate_workspace(ws, record=False)
        assert len(ev.observations) == len(truths) - 1
        assert any(truths[0].name in why for _, why in ev.skipped), ev.skipped
    r = CliRunner().invoke(main, ["eval", "-w", str(ws.root), "--no-record"])
    # Exit 3, as ingest and detect when some inputs were refused and the others done (it was 0).
    assert r.exit_code == 3, r.output
    assert truths[0].name in r.stderr and "TP" in r.stdout
    r = CliRunner().invoke(main, ["eval", "-w", str(ws.root), "--no-record", "--json"])
    assert r.exit_code == 3 and truths[0].name in r.stderr
    assert len(json.loads(r.stdout)["observations"]) == len(truths) - 1


def test_report_takes_an_evaluation_of_its_own_sites_and_says_when_detection_ran_since(tmp_path: Path) -> None:
    """The report showed the latest eval whatever sites it covered, and after a new detect run."""
    ws = build(tmp_path / "ws")
    evaluate_workspace(ws, ["dunai"])
    with ws.store() as st:
        assert latest_evaluation(st, ["elsewhere"]) is None  # dunai's figures are not another site's
        rec = latest_evaluation(st, ["dunai"])
        assert rec is not None and rec["sites"] == ["dunai"] and not rec["stale"]
    html = render_report(ws, ["dunai"])
    assert "Detection has run again since" not in html
    # The report states eval's rule in full, and what the detections table's figures are.
    assert "the pairs chosen for the most matches, then the least total distance between centroids, not by score." in html
    assert "heading: the bearing of its long axis, degrees clockwise from true north, 0–179" in html
    with ws.store() as st:
        st.execute("UPDATE observations SET detected_at = '2999-01-01T00:00:00.000Z' WHERE site_id = 'dunai'")
        rec = latest_evaluation(st, ["dunai"])
        assert rec is not None and rec["stale"]
    assert "Detection has run again since: these figures may not be the current detections'" in render_report(ws, ["dunai"])


# evaluate_observation on hand-made truth: the scoring rules themselves.


def _obs(res: float = 10.0, *, crs: str = CRS, transform: tuple[float, float, float, float, float, float] | None = None, size: int = 120) -> Observation:
    scene = SceneRef("simulator", "sim", "s1", "sar", datetime(2024, 10, 17, 1, tzinfo=UTC), res, simulated=True)
    t = transform or (res, 0.0, CX - 600.0, 0.0, -res, CY + 600.0)
    return Observation("o1", "dunai", scene, Grid(crs, t, size, size), "a.tif", "0" * 64, 1.0, None)


def _truth(*ships: tuple[str, float, float, float], **props: object) -> dict[str, object]:
    """Ships (id, dx, dy, length) 16 m wide along x around the grid's centre, in WGS84."""
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": mapping(_wgs(box(CX + dx - n / 2, CY + dy - 8, CX + dx + n / 2, CY + dy + 8))),
         "properties": {"id": sid, "kind": "vessel", "length_m": n, "class": "Alligator"} | props}
        for sid, dx, dy, n in ships
    ]}


def _det(did: str, dx: float, dy: float, length: float = 100.0, classes: tuple[str, ...] = ("Alligator",)) -> Detection:
    fp = _wgs(box(CX + dx - length / 2, CY + dy - 2, CX + dx + length / 2, CY + dy + 2))
    cands = tuple(ClassCandidate(c, 1.0 / len(classes)) for c in classes)
    return Detection(did, "o1", "vessel", fp, length, 16.0, 90.0, 0.9, "t", "1", class_candidates=cands)


def test_a_hit_needs_the_centroid_inside_the_truth_box_grown_by_one_pixel() -> None:
    truth = _truth(("a", 0, 0, 100))
    # The box reaches 8 m north of its centre; one 10 m pixel more is 18 m.
    inside = evaluate_observation(_obs(), [_det("d", 0, 16)], truth)
    assert (inside.tp, inside.fp, inside.fn) == (1, 0, 0)
    assert inside.pairs[0].distance_m == pytest.approx(16.0, abs=0.05)
    beside = evaluate_observation(_obs(), [_det("d", 0, 25)], truth)
    assert (beside.tp, beside.fp, beside.fn) == (0, 1, 1)
    assert (beside.missed, beside.false_alarms) == (("a",), ("d",))
    # On 3 m pixels the margin is 3 m: 16 m north of the centre is beside the ship.
    assert evaluate_observation(_obs(3.0), [_det("d", 0, 16)], truth).tp == 0
    assert evaluate_observation(_obs(), [_det("d", 0, 16)], truth, EvalParams(buffer_pixels=0)).tp == 0
    with pytest.raises(Exception, match="buffer_pixels"):
        EvalParams(buffer_pixels=-1)


def test_a_detection_matches_one_ship_at_most_and_the_best_pairing_wins() -> None:
    # Two ships side by side (centres 20 m apart); d1 lies between them, nearer to both than d2 is to b.
    # Each ship taking its nearest detection would match d1 twice; one-to-one gives a-d1, b-d2.
    truth = _truth(("a", 0, 0, 100), ("b", 0, 20, 100))
    ev = evaluate_observation(_obs(), [_det("d1", 0, 9), _det("d2", 0, 33)], truth)
    assert sorted((p.truth_id, p.detection_id) for p in ev.pairs) == [("a", "d1"), ("b", "d2")]
    # Two pairs (22 m in all) rather than a-d1 alone (9 m): the most pairs first, as the rule says.
    assert sum(p.distance_m for p in ev.pairs) == pytest.approx(22.0, abs=0.1)
    assert (ev.tp, ev.fp, ev.fn) == (2, 0, 0)
    two_on_one = evaluate_observation(_obs(), [_det("d1", 0, 1), _det("d2", 0, -2)], _truth(("a", 0, 0, 100)))
    assert (two_on_one.tp, two_on_one.fp, two_on_one.fn) == (1, 1, 0)
    assert [p.detection_id for p in two_on_one.pairs] == ["d1"] and two_on_one.false_alarms == ("d2",)


def test_hidden_ships_and_ships_outside_the_cut_are_not_counted() -> None:
    dets = [_det("d", 0, 0)]
    for visible in (False, "false", "no", 0):
        ev = evaluate_observation(_obs(), [], _truth(("a", 0, 0, 100), visible=visible))
        assert ev.fn == 0, visible
    for visible in (True, None, "yes"):
        assert evaluate_observation(_obs(), dets, _truth(("a", 0, 0, 100), visible=visible)).tp == 1, visible
    outside = evaluate_observation(_obs(), [], _truth(("far", 900, 0, 100)))  # the cut spans +-600 m
    assert outside.fn == 0


def test_a_geographic_grid_is_scored_in_metres() -> None:
    # A grid in degrees: the one-pixel margin is the scene's resolution in metres, not in degrees.
    lon0, lat0 = _wgs(box(CX - 600, CY - 600, CX - 600, CY - 600)).bounds[:2]
    grid = (0.0001, 0.0, lon0, 0.0, -0.0001, lat0 + 0.011)
    truth = _truth(("a", 0, 0, 100))
    assert evaluate_observation(_obs(transform=grid, crs="EPSG:4326"), [_det("d", 0, 16)], truth).tp == 1
    assert evaluate_observation(_obs(transform=grid, crs="EPSG:4326"), [_det("d", 0, 40)], truth).tp == 0


def test_length_error_is_signed_per_ship_and_only_over_long_ships() -> None:
    truth = _truth(("a", -300, 0, 100), ("b", 0, -200, 120), ("c", 300, 0, 80))
    dets = [_det("da", -300, 0, 105), _det("db", 0, -200, 117), _det("dc", 300, 0, 95, classes=("Ropucha",))]
    ev = evaluate_observation(_obs(), dets, truth)
    assert ev.tp == 3
    s = scores_from([ev])
    # a: +5, b: -3; c is 80 m, not longer than 80 m, so its +15 m is left out.
    assert (s.long_ships, s.length_mae_m, s.length_bias_m) == (2, 4.0, 1.0)
    assert s.class_in_candidates == pytest.approx(2 / 3, abs=1e-4)  # c's candidates miss its class
    short = _truth(("s", 0, 0, 70))
    assert scores_from([evaluate_observation(_obs(), [_det("d", 0, 0, 95)], short)]).long_ships == 0  # by the true length


def test_a_truncated_detection_is_a_hit_but_not_a_length_or_a_class() -> None:
    """A hull cut by the image's edge was charged its lower-bound length in the MAE and its withheld
    class candidates as a wrong class."""
    truth = _truth(("a", -300, 0, 100), ("b", 0, -200, 120))
    whole = _det("da", -300, 0, 105)
    cut = replace(_det("db", 0, -200, 60, classes=()), truncated=True)
    ev = evaluate_observation(_obs(), [whole, cut], truth)
    assert (ev.tp, ev.fp, ev.fn) == (2, 0, 0)
    assert [p.truncated for p in sorted(ev.pairs, key=lambda p: p.truth_id)] == [False, True]
    s = scores_from([ev])
    assert (s.long_ships, s.length_mae_m, s.length_bias_m, s.truncated) == (1, 5.0, 5.0, 1)
    assert s.class_in_candidates == 1.0
    assert "(1 cut by the image's edge or no data, not measured)" in _line("all", s)


def test_with_nothing_to_find_recall_is_undefined_and_false_alarms_cost_precision() -> None:
    s = scores_from([ObservationEval("o", "s", "sc", "sar", "t", 10.0, tp=0, fp=2, fn=0)])
    assert (s.precision, s.recall, s.f1) == (0.0, None, 0.0)


def test_workspace_figures_use_the_long_ship_threshold_and_sign_of_errors(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    ev = evaluate_workspace(ws, params=EvalParams(long_ship_m=120), record=False)
    assert ev.overall.long_ships == 0 and ev.by_sensor["sar"].long_ships == 0 and ev.by_site["dunai"].long_ships == 0
    d = evaluate_workspace(ws, record=False).to_dict()
    assert sorted(e for o in d["observations"] for e in o["length_errors_m"]) == [1.0, 5.0]  # measured - true
    assert d["overall"]["length_bias_m"] == pytest.approx(3.0)


def test_presence_check_names_missed_and_extra_days(tmp_path: Path) -> None:
    from sitewatch.analysis import TimelineParams

    missed = evaluate_workspace(build(tmp_path / "a", detections=False), record=False).presence["dunai"]
    assert (missed.truth_days, missed.detected_days, missed.missed, missed.extra) == (1, 0, ("2024-10-17",), ())
    ws = build(tmp_path / "b")
    for truth in (ws.root / "archive").rglob("*.truth.geojson"):  # the crane stays, the ship goes
        data = json.loads(truth.read_text(encoding="utf-8"))
        data["features"] = [f for f in data["features"] if f["properties"]["kind"] != "vessel"]
        truth.write_text(json.dumps(data), encoding="utf-8")
    extra = evaluate_workspace(ws, record=False).presence["dunai"]
    assert (extra.truth_days, extra.extra, extra.missed) == (0, ("2024-10-17",), ())
    # At UTC+10 the SAR pass (21:00 UTC) is on the 18th: truth and timeline move together.
    local = evaluate_workspace(build(tmp_path / "c"), record=False, timeline_params=TimelineParams(utc_offset_hours=10))
    pc = local.presence["dunai"]
    assert (pc.truth_days, pc.detected_days, pc.agreeing_days) == (2, 2, 2)
