"""The seed story's published claims checked by `sitewatch demo` against its simulated imagery (the whole demo)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sitewatch.claims_file import builtin_claims_path
from sitewatch.cli import main
from sitewatch.demo import run_demo

pytestmark = pytest.mark.slow

VERDICTS = {
    "dunai-landing-ship-and-crane": "supported",
    "dunai-ship-is-alligator-class": "not testable",
    "dunai-landing-ships-october-and-november": "supported",
    "rajin-cargo-ship-at-dunai-two-days-later": "supported",
    "rason-ships-on-34-days": "supported",
    "sergeyevka-trenches-early-october": "supported",
    "demo-dunai-pier-empty-late-october": "contradicted",
    "demo-dunai-crane-27-october": "not testable",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return run_demo(tmp_path_factory.mktemp("claims-demo"))


def test_the_demo_prints_a_line_per_claim_with_its_verdict(demo) -> None:  # type: ignore[no-untyped-def]
    assert [line.split(": ")[:2] for line in demo.claims] == [[k, v] for k, v in VERDICTS.items()]
    assert all(line.endswith("(SIMULATED imagery)") for line in demo.claims)
    crane = next(line for line in demo.claims if line.startswith("dunai-landing-ship-and-crane"))
    assert "2024-10-17 00:40 UTC, 3 m optical: a 111 m vessel at pier-east" in crane
    assert "a crane, extended" in crane and "2024-10-20 00:40 UTC, 3 m optical: a crane, retracted" in crane


def test_the_claims_command_and_the_report_give_the_same_verdicts_with_the_images(demo) -> None:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(main, ["claims", "check", str(builtin_claims_path()), "-w", str(demo.out), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert {c["id"]: c["verdict"] for c in doc["claims"]} == VERDICTS
    days = next(c for c in doc["claims"] if c["id"] == "rason-ships-on-34-days")
    assert days["reason"].startswith("34 dates with a vessel at a berth of rason among 45 usable imaged dates")
    assert len(days["images"]) == 34 and all(im["simulated"] for im in days["images"])
    for c in doc["claims"]:
        for im in c["images"]:
            assert (demo.out / im["image"]).is_file()
    cls = next(c for c in doc["claims"] if c["id"] == "dunai-ship-is-alligator-class")
    assert "not testable as to class" in cls["reason"]
    html = demo.report.read_text(encoding="utf-8")
    assert "Claims checked against the imagery" in html
    assert 'href="archive/dunai/sim-planet-dunai-20241017T0040.tif"' in html


def test_the_demo_finds_the_trenches_dug_at_the_training_ground_and_eval_scores_them(demo) -> None:  # type: ignore[no-untyped-def]
    from sitewatch.evaluate import evaluate_workspace
    from sitewatch.store.changes import changes
    from sitewatch.workspace import open_workspace

    assert [line.split(":")[0] for line in demo.changes] == ["sergeyevka-base"]
    ws = open_workspace(demo.out)
    with ws.store() as store:
        dug = changes(store, before_id="sergeyevka-base/sim-planet-sergeyevka-base-20241001T0050",
                      after_id="sergeyevka-base/sim-planet-sergeyevka-base-20241008T0050")  # fmt: skip
    assert len(dug) >= 3 and sum(c.area_m2 for c in dug) > 10_000
    ev = evaluate_workspace(ws, record=False)
    fine = ev.changes["3 m optical"]
    assert fine.truth_objects == 6 and fine.found == fine.truth_objects  # 3 trench lines and 3 rows of vehicles
    assert ev.changes["10 m optical"].quiet_pairs > 0 and "all" in ev.changes
    assert ev.overall.tp == 67 and ev.overall.fp == 0 and ev.overall.fn == 0  # the ports' figures stay
    trench = next(line for line in demo.claims if line.startswith("sergeyevka-trenches-early-october"))
    assert "changed regions of at least 2,000 m²" in trench
    html = demo.report.read_text(encoding="utf-8")
    assert "sim-planet-sergeyevka-base-20241008T0050" in html
