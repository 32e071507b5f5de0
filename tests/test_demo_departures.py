"""The packaged `departures` scenario (seed-story fact 2): `sitewatch demo --scenario departures` end to end.

Landing ships leave Chongjin and Hungnam at night for Ulysses Bay (Vladivostok). The morning optical
series cannot tell when they left; the SAR series' dusk and dawn passes bracket each departure within
the night. The demo runs once for the module (about 20 s of CPU).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.model import Detection, Observation
from sitewatch.sources.scenario import load_scenario, packaged_scenarios
from sitewatch.workspace import open_workspace

KST = timedelta(hours=9)
"""Chongjin and Hungnam keep Korean time, UTC+9."""

VERDICTS = {
    "chongjin-landing-ship-left-8-october": "supported",
    "hungnam-landing-ship-left-9-october": "supported",
    "chongjin-to-vladivostok": "supported",
    "hungnam-to-vladivostok": "supported",
    "chongjin-ship-is-ropucha-class": "not testable",
    "demo-hungnam-landing-ship-11-october": "contradicted",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`sitewatch demo --scenario departures --json`, the packaged scenario named as a user names it."""
    out = tmp_path_factory.mktemp("departures-demo") / "demo"
    res = CliRunner().invoke(main, ["demo", "--scenario", "departures", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    return dict(json.loads(res.stdout))


def test_the_scenario_is_packaged_simulated_and_says_where_its_facts_come_from() -> None:
    assert "departures" in packaged_scenarios()
    scen = load_scenario("departures")
    assert {s.id for s in scen.sites} == {"chongjin", "hungnam", "vladivostok-ulysses-bay"}
    text = Path(scen.source).read_text(encoding="utf-8")
    assert "SIMULATED" in text and "SEED-STORY.md" in text and "MADE UP" in text
    # Landing ships of the story's class table, dark, and every departure from a Korean port at night
    landing = [v for v in scen.vessels if v.vessel_class in ("Ropucha", "Alligator")]
    assert sorted((v.vessel_class, v.length_m, v.width_m) for v in landing) == [("Alligator", 113.0, 15.6), ("Ropucha", 112.5, 15.0)]
    assert not any(v.ais for v in landing)
    leaving = [vis.window.end for v in landing for vis in v.visits if vis.site in ("chongjin", "hungnam")]
    assert len(leaving) == 4
    assert all(not 6 <= (t + KST).hour < 19 for t in leaving), leaving  # between 19:00 and 06:00 KST


def test_the_claims_file_fits_the_scenario_sites_and_berths() -> None:
    from sitewatch.claims_file import builtin_claims_path, check_against_sites, read_claims
    from sitewatch.sources.simulate import layout_site

    scen = load_scenario("departures")
    sites = {s.id: s for s in (layout_site(site, scen.name) for site in scen.sites)}
    claims = check_against_sites(read_claims(builtin_claims_path("departures")), sites)
    assert claims.problems == () and [c.id for c in claims.claims] == list(VERDICTS)


@pytest.mark.slow
def test_simulate_takes_the_packaged_name(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["simulate", "departures", "--out", str(tmp_path / "sim"), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["scenario"] == "departures" and doc["scenes"] == 81
    assert doc["per_series"]["chongjin/sar-dawn"] == doc["per_series"]["chongjin/sar-dusk"] == 12
    assert doc["per_series"]["chongjin/s2"] == 3
    assert res.stderr == ""  # no visit falls between the acquisitions of its site


@pytest.mark.slow
def test_the_demo_checks_the_departure_claims(demo: dict[str, Any]) -> None:
    assert demo["scenario"] == "departures"
    assert [line.split(": ")[:2] for line in demo["claims"]] == [[k, v] for k, v in VERDICTS.items()]
    left = next(line for line in demo["claims"] if line.startswith("chongjin-landing-ship-left-8-october"))
    # Decided by the dusk pass of the 8th (18:20 KST) and the images of the 9th: the optical has none of either day.
    assert "2024-10-08 09:20 UTC, 10 m SAR: a " in left and "optical" not in left
    assert "not testable as to class" in next(line for line in demo["claims"] if "ropucha-class" in line)
    assert [Path(p).name for p in demo["story_files"]] == ["claims.yaml", "alerts.yaml"]


@pytest.mark.slow
def test_the_alert_rules_give_each_departure_on_the_dusk_pass_before_it(demo: dict[str, Any]) -> None:
    res = CliRunner().invoke(main, ["alerts", "check", "-w", demo["out"], "--all", "--json"])
    assert res.exit_code == 0, res.output
    events = [json.loads(line) for line in res.stdout.splitlines()]
    left = [(e["rule"], e["date"], e["observations"]) for e in events if e["rule"].startswith("landing-ship-leaves")]
    assert left == [
        ("landing-ship-leaves-chongjin", "2024-10-09", ["chongjin/sim-sar-dusk-chongjin-20241008T0920"]),
        ("landing-ship-leaves-hungnam", "2024-10-10", ["hungnam/sim-sar-dusk-hungnam-20241009T0930"]),
        ("landing-ship-leaves-chongjin", "2024-10-13", ["chongjin/sim-sar-dusk-chongjin-20241012T0920"]),
        ("landing-ship-leaves-hungnam", "2024-10-14", ["hungnam/sim-sar-dusk-hungnam-20241013T0930"]),
    ]
    arrived = [e["date"] for e in events if e["rule"] == "landing-ship-at-ulysses-bay"]
    assert arrived == ["2024-10-09", "2024-10-10", "2024-10-13", "2024-10-14"] and len(events) == 8
    assert all(e["simulated"] for e in events)


@pytest.mark.slow
def test_eval_scores_the_departures_demo(demo: dict[str, Any]) -> None:
    ev = demo["evaluation"]
    assert ev["overall"]["f1"] >= 0.95 and ev["by_sensor"]["sar"]["fp"] == 0
    assert {sid: p["agreeing_days"] == p["truth_days"] for sid, p in ev["presence"].items()} == {
        "chongjin": True, "hungnam": False, "vladivostok-ulysses-bay": True}  # fmt: skip
    # Hungnam 5 Oct: the cargo ship is in the morning optical scene only, which is 29 % cloud (over the 20 % limit)
    assert ev["presence"]["hungnam"]["missed"] == ["2024-10-05"]
    links = ev["links"]
    assert links["missed"] == 0 and links["truth_links"] == 6
    for trip in ("ropucha-landing-ship: chongjin 2024-10-08 → vladivostok-ulysses-bay 2024-10-09",
                 "alligator-landing-ship: hungnam 2024-10-09 → vladivostok-ulysses-bay 2024-10-10"):  # fmt: skip
        assert trip in links["true_links"]


def _bracket(obs: list[Observation], dets: list[Detection], berth: str, left: datetime) -> tuple[Observation, Observation]:
    """The last image before ``left`` that shows a landing-ship-sized vessel at ``berth``, and the first after it."""
    at = {d.observation_id for d in dets if d.berth_id == berth and 95 <= d.length_m <= 135}
    before = [o for o in obs if o.scene.acquired < left]
    after = [o for o in obs if o.scene.acquired > left]
    assert before and after and before[-1].id in at, (berth, left, [o.id for o in before[-2:]])
    return before[-1], after[0]


@pytest.mark.slow
def test_every_night_departure_is_bracketed_by_the_sar_within_the_night(demo: dict[str, Any]) -> None:
    scen = load_scenario("departures")
    ws = open_workspace(Path(demo["out"]))
    departures = [(vis.site, vis.berth, vis.window.end) for v in scen.vessels if v.vessel_class in ("Ropucha", "Alligator")
                  for vis in v.visits if vis.site in ("chongjin", "hungnam")]  # fmt: skip
    with ws.store() as store:
        for site, berth, left in departures:
            assert berth is not None
            obs = sorted(store.observations(site), key=lambda o: o.scene.acquired)
            dets = store.detections(site, kind="vessel")
            last, first = _bracket(obs, dets, berth, left)
            # The SAR saw the ship in the evening and the empty berth before dawn: under 13 hours, all of it night
            assert (last.scene.sensor, first.scene.sensor) == ("sar", "sar"), (last.id, first.id)
            assert first.scene.acquired - last.scene.acquired < timedelta(hours=13)
            assert (last.scene.acquired + KST).hour >= 18 and (first.scene.acquired + KST).hour < 7
            assert not any(d.observation_id == first.id and d.berth_id == berth for d in dets)
            # The morning optical series alone brackets it by days: it cannot tell the night
            optical = [o for o in obs if o.scene.sensor == "optical"]
            before = [o for o in optical if o.scene.acquired < left]
            after = [o for o in optical if o.scene.acquired > left]
            assert before and after and after[0].scene.acquired - before[-1].scene.acquired >= timedelta(days=2)
            assert datetime(2024, 10, 8, tzinfo=UTC) <= left < datetime(2024, 10, 14, tzinfo=UTC)


def test_demo_help_names_every_packaged_scenario() -> None:
    res = CliRunner().invoke(main, ["demo", "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert all(name in text for name in packaged_scenarios()), text


def test_each_scenario_has_its_own_default_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sitewatch demo` then `sitewatch demo --scenario departures` both ran into ./sitewatch-demo, where the second
    was refused (the seed story's sites in it); now a scenario other than the seed story has a folder of its own."""
    import sitewatch.cli.demo as demo_cli
    from sitewatch.errors import InputError

    def fake(out: Path, **kw: Any) -> None:
        raise InputError(f"OUT={out} SCENARIO={getattr(kw['scenario'], 'name', kw['scenario'])}")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo_cli, "run_demo", fake)
    for args, out, name in ((["demo"], "sitewatch-demo", "seed-story"),
                            (["demo", "--scenario", "departures"], "sitewatch-demo-departures", "departures"),
                            (["demo", "--scenario", "departures", "--out", "mine"], "mine", "departures")):  # fmt: skip
        res = CliRunner().invoke(main, args)
        assert f"OUT={out} SCENARIO={name}" in res.output, (args, res.output)
    assert demo_cli.default_out("my scenario/1") == Path("sitewatch-demo")  # not a plain file name


def test_the_demo_folder_of_another_scenario_is_refused_saying_so(tmp_path: Path) -> None:
    """The seed story's demo folder given to `--scenario departures` was refused as 'a workspace with 3 site(s) of
    its own (dunai, rason, sergeyevka-base)': the demo's own sites, not the analyst's."""
    from dataclasses import replace

    from sitewatch.demo import _DEMO_NOTE, run_demo
    from sitewatch.errors import InputError
    from sitewatch.sites import builtin_sites
    from sitewatch.workspace import init_workspace

    out = tmp_path / "sitewatch-demo"
    ws = init_workspace(out, store="")
    with ws.store() as store, store.transaction():
        for sid in ("dunai", "rason"):
            site = builtin_sites()[sid]
            store.put_site(replace(site, note=(site.note + " " + _DEMO_NOTE).strip()))
    (out / "simulated").mkdir()
    (out / "simulated" / "scenario.json").write_text(json.dumps({"simulated": True, "name": "seed-story"}), encoding="utf-8")
    with pytest.raises(InputError) as err:
        run_demo(out, scenario="departures")
    msg = str(err.value)
    assert "holds the demo of the scenario 'seed-story' (its sites dunai, rason)" in msg and "another --out" in msg
    assert "of its own" not in msg
    assert sorted(p.name for p in (out / "simulated").iterdir()) == ["scenario.json"]  # nothing simulated
