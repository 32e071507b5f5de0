"""The seed story's published claims checked by `sitewatch demo` against its simulated imagery (the whole demo)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sitewatch.claims_file import builtin_claims_path
from sitewatch.cli import main
from sitewatch.demo import run_demo

pytestmark = pytest.mark.slow

RULES = Path(__file__).parents[1] / "src" / "sitewatch" / "data" / "alerts" / "seed-story.yaml"

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
    # As `claims check` and the report write them: the 34 days are supported on the dates that had an image.
    printed = VERDICTS | {"rason-ships-on-34-days": "supported (on the dates tested)"}
    assert [line.split(": ")[:2] for line in demo.claims] == [[k, v] for k, v in printed.items()]
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
    # When: the trenches dug on 3 and 4 October, bracketed by the 3 m image of the 1st and the 10 m one of the 5th.
    assert ("the first change on the ground: last seen without 2024-10-01 00:50 UTC (3 m optical), first seen "
            "2024-10-05 01:30 UTC (10 m optical) (of 5 dated)") in demo.changes[0], demo.changes  # fmt: skip
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


def test_the_demo_folder_holds_its_rules_and_claims_so_the_commands_run_there_as_written(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sitewatch.demo import _copy_story_files
    from sitewatch.workspace import open_workspace

    # `sitewatch alerts check` in the demo's folder said "alerts.yaml: no rules file there", and `sitewatch
    # claims check claims.yaml` "File 'claims.yaml' does not exist": the files sat inside the installed package.
    result = demo
    assert [p.name for p in result.story_files] == ["claims.yaml", "alerts.yaml"]
    assert (result.out / "alerts.yaml").read_bytes() == RULES.read_bytes()
    assert (result.out / "claims.yaml").read_bytes() == builtin_claims_path().read_bytes()
    ws = shutil.copytree(result.out, tmp_path / "copy")  # a copy: the checks record what they reported
    by_default = CliRunner().invoke(main, ["alerts", "check", "-w", str(ws), "--all", "--json"])
    named = CliRunner().invoke(main, ["alerts", "check", "-w", str(ws), "--all", "--json", "--rules", str(RULES)])
    assert by_default.exit_code == 0 and by_default.stdout.strip(), by_default.output
    def events(out: str) -> list[dict]:
        return [{k: v for k, v in json.loads(line).items() if k != "new"} for line in out.splitlines()]

    assert events(by_default.stdout) == events(named.stdout)  # the same events (the second run's are not new)
    claims = CliRunner().invoke(main, ["claims", "check", str(ws / "claims.yaml"), "-w", str(ws), "--json"])
    assert claims.exit_code == 0, claims.output
    # A rerun keeps a file the analyst edited, and removes what a run killed as it copied the file left beside it.
    (ws / "claims.yaml").write_text("claims: []\n", encoding="utf-8")
    from sitewatch.files import partial_owner, partial_path

    dead = partial_owner().replace(str(os.getpid()), "999999999", 1)  # this machine, a process long gone
    stale = partial_path(ws / "alerts.yaml", owner=dead)
    stale.write_text("rules: [", encoding="utf-8")
    assert _copy_story_files(open_workspace(ws), "seed-story") == (ws / "claims.yaml", ws / "alerts.yaml")
    assert (ws / "claims.yaml").read_text(encoding="utf-8") == "claims: []\n"
    assert not stale.exists()


def test_the_demo_s_claims_read_for_their_dates_give_the_whole_history_s_verdicts(demo) -> None:  # type: ignore[no-untyped-def]
    """Each claim reads what its verdict needs (a transit the moves about its dates, a change the pairs about them):
    the seed story's claims, the trenches' change and the Rajin-Dunai transit among them, get the verdicts, reasons
    and images the whole history gives, on the demo's GeoPackage (PostGIS: tests/test_claims_period.py and
    tests/test_claims_period_edges.py)."""
    from sitewatch.claims_file import check_against_sites, read_claims
    from sitewatch.evidence import (
        ClaimsCheck,
        check_claims,
        check_claims_file,
        claims_to_dict,
        load_world,
    )
    from sitewatch.workspace import open_workspace

    ws = open_workspace(demo.out)
    path = builtin_claims_path()
    with ws.store() as store:
        got = claims_to_dict(check_claims_file(store, path))
        claims = check_against_sites(read_claims(path), {s.id: s for s in store.sites()})
        world = load_world(store, [sid for c in claims.claims for sid in c.site_ids])
        want = claims_to_dict(ClaimsCheck(str(path), check_claims(claims.claims, world), claims.problems, claims.title))
    assert got == want
    assert {c["id"]: c["verdict"] for c in got["claims"]} == VERDICTS
    assert {p["kind"] for c in got["claims"] for p in c["parts"]} >= {"vessel_transit", "change_present"}
