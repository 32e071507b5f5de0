"""Evaluation against the simulator's truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from _report_world import build
from sitewatch.evaluate import (
    EvalParams,
    ObservationEval,
    evaluate_workspace,
    latest_evaluation,
    scores_from,
)


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


def test_missed_ships_lower_recall(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws", detections=False)
    ev = evaluate_workspace(ws, ["dunai"], record=False)
    assert ev.overall.fn == 2 and ev.overall.recall == 0.0 and ev.overall.precision == 1.0
    assert ev.overall.f1 == 0.0


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
        data = json.loads(truth.read_text())
        truth.write_text(json.dumps(data | {"features": []}))
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
        truths[0].write_text(bad)
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
        st.execute("UPDATE observations SET detected_at = '2999-01-01T00:00:00.000Z' WHERE site_id = 'dunai'")
        rec = latest_evaluation(st, ["dunai"])
        assert rec is not None and rec["stale"]
