"""End to end: a shortened seed-story scenario through every stage, and the CLI around it."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from sitewatch import __version__
from sitewatch.cli import main
from sitewatch.demo import run_demo
from sitewatch.sources.simulate import load_scenario, shorten
from sitewatch.workspace import init_workspace, open_workspace


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    # Dunai from 16 to 21 October: the Alligator arrives on the 17th and is gone by the 20th.
    scen = shorten(load_scenario("seed-story"), days=6, start=date(2024, 10, 16), sites=["dunai"])
    out = tmp_path_factory.mktemp("demo")
    return run_demo(out, scenario=scen, workers=1)


def test_demo_writes_report_database_and_archive(demo) -> None:  # type: ignore[no-untyped-def]
    assert demo.report.exists() and demo.database.exists()
    assert list(demo.archive.glob("dunai/*.tif"))
    html = demo.report.read_text(encoding="utf-8")
    assert "Simulated imagery" in html or "SIMULATED" in html
    assert "2024-10-17" in html and "2024-10-20" in html
    assert "Revisits chosen for the simulation" in html and "daily" in html
    assert html.count("Revisits chosen for the simulation") == 1  # the scenario's note, once for every site
    assert "revisit as simulated" in html
    # The pier before and after, on the two 3 m looks: ship and crane on the 17th, berth empty on the 20th.
    assert "2024-10-17 → 2024-10-20: vessels 1 → 0" in html


def test_demo_exports_every_detection_as_geojson_and_kml(demo) -> None:  # type: ignore[no-untyped-def]
    import json
    import xml.etree.ElementTree as ET

    geojson, kml = demo.exports
    with open_workspace(demo.out).store() as store:
        stored = len(store.detections(site_id="dunai"))
    features = json.loads(geojson.read_text(encoding="utf-8"))["features"]
    assert stored > 0 and len(features) == stored
    assert all(f["properties"]["simulated"] is True for f in features)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    root = ET.fromstring(kml.read_text(encoding="utf-8"))
    assert len(root.findall(".//k:Placemark", ns)) == stored
    assert "SIMULATED" in root.find(".//k:Document/k:name", ns).text


def test_demo_detects_the_landing_ship_and_its_departure(demo) -> None:  # type: ignore[no-untyped-def]
    from sitewatch.analysis.occupancy import timeline_for_site

    with open_workspace(demo.out).store() as store:
        tl = timeline_for_site(store, "dunai")
        by_date = {r.date.isoformat(): r for r in tl.rows}
        assert by_date["2024-10-17"].vessels >= 1
        assert by_date["2024-10-20"].departures >= 1 or by_date["2024-10-20"].vessels < by_date["2024-10-19"].vessels
    sar = demo.evaluation["by_sensor"]["sar"]
    assert sar["f1"] >= 0.9
    assert sar["tp"] >= 4


def test_demo_timelines_have_no_hidden_berths_so_no_last_seen_dates(demo) -> None:  # type: ignore[no-untyped-def]
    # The cloudy scenes that hide berths are skipped whole: the timelines are those of sightings alone.
    from dataclasses import replace

    from sitewatch.analysis.occupancy import build_timeline

    with open_workspace(demo.out).store() as store:
        for site in ("dunai", "rason"):
            observations, detections = store.observations(site), store.detections(site_id=site)
            tl = build_timeline(site, observations, detections, undetected=store.undetected(site))
            unrecorded = [replace(o, provenance={k: v for k, v in o.provenance.items() if k != "berths_hidden"})
                          for o in observations]  # fmt: skip
            assert tl.rows == build_timeline(site, unrecorded, detections, undetected=store.undetected(site)).rows
            assert all(r.carried_departures == () and r.departures_last_seen == {} for r in tl.rows)
            assert all(s.last_seen is None for r in tl.rows for s in r.sightings)


def test_rerun_does_not_duplicate(demo) -> None:  # type: ignore[no-untyped-def]
    with open_workspace(demo.out).store() as store:
        before = store.counts()
    # As if the last simulation had been interrupted: no completion marker, a scene missing.
    (demo.out / "simulated" / ".complete.json").unlink()
    victim = sorted((demo.out / "simulated" / "dunai").glob("*.tif"))[0]
    victim.unlink()
    scen = shorten(load_scenario("seed-story"), days=6, start=date(2024, 10, 16), sites=["dunai"])
    run_demo(demo.out, scenario=scen, workers=1)
    assert victim.exists()
    with open_workspace(demo.out).store() as store:
        assert store.counts() == before


def test_stage_commands_run_alone_on_the_workspace(demo) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    ws = str(demo.out)
    r = runner.invoke(main, ["-q", "detect", "dunai", "-w", ws, "--workers", "1", "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["timeline", "dunai", "-w", ws, "--json", "-"])
    assert r.exit_code == 0, r.output
    assert "2024-10-17" in r.output
    out = demo.out / "again.html"
    r = runner.invoke(main, ["report", "dunai", "--out", str(out), "-w", ws])
    assert r.exit_code == 0, r.output
    assert out.exists()


def test_cli_version_and_bad_workspace(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["--version"])
    assert r.exit_code == 0 and "sitewatch" in r.output
    r = runner.invoke(main, ["detect", "dunai", "-w", str(tmp_path)])
    assert r.exit_code == 1 and "sitewatch init" in r.output


def test_length_limits_from_settings_reach_the_detectors(demo) -> None:  # type: ignore[no-untyped-def]
    # A minimum longer than every ship leaves no vessel; the cranes (not vessels) are unaffected.
    from sitewatch.detection import detect_site

    ws = open_workspace(demo.out)
    summary = detect_site(ws, "dunai", workers=1, min_length_m=300.0)
    assert "vessel" not in summary["detections"]
    detect_site(ws, "dunai", workers=1)  # back to the defaults for the other tests
    with ws.store() as store:
        assert store.detections(site_id="dunai", kind="vessel")


def test_demo_refuses_a_workspace_with_the_analysts_own_sites(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = tmp_path / "mine"
    runner.invoke(main, ["init", str(ws)])
    # An analyst's own drawing of a site the demo also has, under the same id.
    runner.invoke(main, ["sites", "add", "dunai", "--bbox", "132.30,42.86,132.37,42.90", "--name", "My Dunai", "-w", str(ws)])
    r = runner.invoke(main, ["demo", "--out", str(ws)])
    assert r.exit_code != 0 and "site(s) of its own (dunai)" in r.output and "another --out" in r.output
    assert not (ws / "simulated").exists() and not (ws / "report.html").exists()


def test_eval_of_a_read_only_workspace_says_to_pass_no_record(demo, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """eval records its figures for the report, so on a colleague's workspace or a read-only mount it ended in
    'cannot write to the workspace database' without saying that --no-record prints them all the same."""
    import sqlite3
    from typing import Any

    connect = sqlite3.connect

    def read_only(path: Path, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        # As a file on a read-only disk opens (file modes bind no root): BEGIN passes, the first write fails.
        return connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    r = CliRunner().invoke(main, ["eval", "-w", str(demo.out)])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.exception
    assert "attempt to write a readonly database" in r.output and "pass --no-record" in r.output, r.output
    r = CliRunner().invoke(main, ["eval", "--no-record", "-w", str(demo.out)])
    assert r.exit_code == 0 and r.output.startswith("all ") and "F1 1.000" in r.output, r.output


def test_demo_refuses_a_workspace_of_a_team_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo switched such a folder to its own GeoPackage silently; init now refuses that switch, and the
    demo says why, before anything is written (no server is reached)."""
    from sitewatch.workspace import init_workspace, set_store_setting

    monkeypatch.delenv("SITEWATCH_STORE", raising=False)
    ws = init_workspace(tmp_path / "team")
    set_store_setting(ws.root, "postgresql://ana@db.example.org/sitewatch")
    r = CliRunner().invoke(main, ["demo", "--out", str(ws.root)])
    assert r.exit_code == 1 and "team store postgresql://ana@db.example.org/sitewatch" in r.output, r.output
    assert "another --out" in r.output and not (ws.root / "simulated").exists()
    assert 'store = "postgresql://ana@db.example.org/sitewatch"' in ws.config_path.read_text(encoding="utf-8")


def test_demo_with_another_scenario_replaces_the_simulated_scenes_in_its_own_folder(tmp_path: Path) -> None:
    from dataclasses import replace

    one = shorten(load_scenario("seed-story"), days=1, start=date(2024, 10, 17), sites=["dunai"])
    run_demo(tmp_path / "d", scenario=one, workers=1)
    other = replace(one, name="other-story")
    run_demo(tmp_path / "d", scenario=other, workers=1)  # refused by simulate without replace=True
    import rasterio

    scenes = sorted((tmp_path / "d" / "simulated" / "dunai").glob("*.tif"))
    names = set()
    for scene in scenes:
        with rasterio.open(scene) as ds:
            names.add(ds.tags().get("SITEWATCH_SCENARIO"))
    assert scenes and names == {"other-story"}  # the first scenario's scenes were replaced


def test_demo_notices_a_simulate_run_into_its_folder_after_it(tmp_path: Path) -> None:
    import os

    from sitewatch.demo import _COMPLETE, _scenario_matches
    from sitewatch.sources.scenario import scenario_to_json

    one = shorten(load_scenario("seed-story"), days=1, start=date(2024, 10, 17), sites=["dunai"])
    run_demo(tmp_path / "d", scenario=one, workers=1)
    simulated = tmp_path / "d" / "simulated"
    wanted = scenario_to_json(one) | {"seed_override": None}
    assert _scenario_matches(simulated, wanted)
    marker = (simulated / _COMPLETE).stat().st_mtime_ns
    os.utime(simulated / "scenario.json", ns=(marker + 10**9, marker + 10**9))  # simulate ran since
    assert not _scenario_matches(simulated, wanted)


def test_demo_says_its_presence_dates_are_the_observation_period(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sitewatch.cli.demo as demo_cli
    from sitewatch.demo import DemoResult

    presence = {"rason": [{"start": "2023-07-28", "end": "2024-02-13", "presence_days": 34}]}
    result = DemoResult(tmp_path, tmp_path / "report.html", tmp_path / "sitewatch.gpkg", tmp_path / "archive", ("rason",),
                        presence=presence, scenario="seed-story")  # fmt: skip
    monkeypatch.setattr(demo_cli, "run_demo", lambda out, **kw: result)
    r = CliRunner().invoke(main, ["demo", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "  rason: 34 presence day(s) in the observation period 2023-07-28 → 2024-02-13" in r.output


def test_demo_names_the_scenario_it_ran_and_refuses_negative_workers(demo, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    import sitewatch.cli.demo as demo_cli

    assert demo.scenario == "seed-story-short"  # the shortened scenario of the fixture
    monkeypatch.setattr(demo_cli, "run_demo", lambda out, **kw: replace(demo, scenario="other-story"))
    r = CliRunner().invoke(main, ["demo", "--out", str(demo.out), "--scenario", "other.yaml"])
    assert r.exit_code == 0, r.output
    assert "(other-story scenario)" in r.output and "seed-story" not in r.output
    r = CliRunner().invoke(main, ["demo", "--out", str(demo.out), "--workers", "-1"])
    assert r.exit_code == 2 and "--workers" in r.output


def test_detect_prints_its_summary_alone_on_standard_output(demo) -> None:  # type: ignore[no-untyped-def]
    """The progress bar is on standard error: a script reading detect's output gets no stray blank line."""
    r = CliRunner().invoke(main, ["detect", "dunai", "-w", str(demo.out), "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("dunai: "), repr(r.stdout)


def test_demo_refuses_a_folder_of_other_files(tmp_path: Path) -> None:
    """A folder that holds files and is no workspace is someone's: its report.html is not overwritten."""
    mine = tmp_path / "study"
    mine.mkdir()
    (mine / "report.html").write_text("my own report", encoding="utf-8")
    r = CliRunner().invoke(main, ["demo", "--out", str(mine)])
    assert r.exit_code == 1 and str(mine) in r.output and "another --out" in r.output, r.output
    assert (mine / "report.html").read_text(encoding="utf-8") == "my own report"
    assert sorted(p.name for p in mine.iterdir()) == ["report.html"]


def test_demo_rerun_applies_the_workspace_settings_as_detect_does(tmp_path: Path) -> None:
    """`sitewatch demo` is the stage commands in order: a limit edited into its sitewatch.toml holds."""
    one = shorten(load_scenario("seed-story"), days=1, start=date(2024, 10, 17), sites=["dunai"])
    run_demo(tmp_path / "d", scenario=one, workers=1)
    ws = open_workspace(tmp_path / "d")
    with ws.store() as store:
        assert store.detections(site_id="dunai", kind="vessel")  # the Alligator, 113 m
    toml = ws.config_path.read_text(encoding="utf-8")
    ws.config_path.write_text(toml.replace("[settings]", "[settings]\nmin_vessel_length_m = 300", 1), encoding="utf-8")
    run_demo(tmp_path / "d", scenario=one, workers=1)
    with ws.store() as store:
        assert not store.detections(site_id="dunai", kind="vessel")
        assert store.detections(site_id="dunai", kind="crane")  # cranes are no vessels: no length limit


def test_demo_takes_workers_and_cog_compress_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SITEWATCH_WORKERS and cog_compress were ignored by the demo (its --workers defaulted to 0,
    which overrode them, and its COGs were always deflate), against flag > env > toml > default."""
    import rasterio

    import sitewatch.cli.demo as demo_cli
    import sitewatch.demo as demo_module

    seen: dict[str, list[object]] = {"ingest": [], "detect": []}
    real_ingest, real_detect = demo_module.ingest_paths, demo_module.detect_site

    def ingest(*args, **kw):  # type: ignore[no-untyped-def]
        seen["ingest"].append(kw.get("workers"))
        return real_ingest(*args, **kw)

    def detect(*args, **kw):  # type: ignore[no-untyped-def]
        seen["detect"].append(kw.get("workers"))
        return real_detect(*args, **kw)

    monkeypatch.setattr(demo_module, "ingest_paths", ingest)
    monkeypatch.setattr(demo_module, "detect_site", detect)
    monkeypatch.setenv("SITEWATCH_WORKERS", "1")
    monkeypatch.setenv("SITEWATCH_COG_COMPRESS", "zstd")
    one = shorten(load_scenario("seed-story"), days=1, start=date(2024, 10, 17), sites=["dunai"])
    run_demo(tmp_path / "d", scenario=one)
    assert seen == {"ingest": [1], "detect": [1]}
    with open_workspace(tmp_path / "d").store() as store:
        paths = [o.path for o in store.observations("dunai")]
    assert paths
    for path in paths:
        with rasterio.open(tmp_path / "d" / path) as ds:
            assert ds.compression is not None and ds.compression.name.lower() == "zstd"
    given: dict[str, object] = {}
    monkeypatch.setattr(demo_cli, "run_demo", lambda out, **kw: given.update(kw) or (_ for _ in ()).throw(SystemExit(0)))
    CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "d")])
    assert given["workers"] is None  # the command passes no number of its own: the setting decides
    CliRunner().invoke(main, ["demo", "--out", str(tmp_path / "d"), "--workers", "2"])
    assert given["workers"] == 2


@pytest.mark.slow
def test_demo_exports_the_stored_change_regions_and_a_rerun_replaces_them(tmp_path: Path) -> None:
    import json
    import xml.etree.ElementTree as ET

    from sitewatch.store.changes import changes

    # The training ground alone, 28 September to 9 October: the trenches of 3-4 October among its pairs.
    scen = shorten(load_scenario("seed-story"), days=12, start=date(2024, 9, 28), sites=["sergeyevka-base"])
    for _ in range(2):  # the second run into the same folder replaces the files, it adds no region twice
        result = run_demo(tmp_path / "ground", scenario=scen, workers=1)
        names = [p.name for p in result.exports]
        assert names == ["detections.geojson", "detections.kml", "changes.geojson", "changes.kml"]
        with open_workspace(result.out).store() as store:
            stored = sorted(c.id for c in changes(store, site_id="sergeyevka-base"))
        fcs = [json.loads(result.exports[i].read_text(encoding="utf-8")) for i in (0, 2)]
        assert [fc["sitewatch_version"] for fc in fcs] == [__version__] * 2
        features = fcs[1]["features"]
        assert stored and sorted(f["properties"]["change_id"] for f in features) == stored
        assert all(f["properties"]["simulated"] is True for f in features)
        root = ET.fromstring(result.exports[3].read_text(encoding="utf-8"))
        assert len(root.findall(".//{http://www.opengis.net/kml/2.2}Placemark")) == len(stored)
        assert sorted(p.name for p in (result.out / "exports").iterdir()) == sorted(names)


def test_a_report_of_every_date_is_the_default_report_but_for_naming_its_period(demo) -> None:  # type: ignore[no-untyped-def]
    """`report --from/--to` over every date of the demo (its AIS matched too, as the demo's report has it) gives the
    default report's figures, chips, changes, AIS rows and evaluation: only the lines naming the period differ. (The
    default itself was checked byte for byte against the report before --from/--to existed: README, BENCHMARKS.)"""
    from sitewatch.analysis.occupancy import TimelineParams
    from sitewatch.report.html import render_report

    ws = open_workspace(demo.out)
    ais = [demo.ais["file"]]
    whole = render_report(ws, None, ais_files=ais)
    every = render_report(ws, None, TimelineParams(start=date(2024, 10, 1), end=date(2024, 10, 31)), ais_files=ais)
    assert "Period covered: 2024-10-01 to 2024-10-31 (UTC dates)." in every and "Period covered" not in whole
    named = ", 2024-10-01 to 2024-10-31 (UTC dates)"

    def strip(html: str) -> str:
        html = re.sub(r"Generated [^·]*·", "", html).replace(named, "").replace(" Period covered: 2024-10-01 to 2024-10-31 (UTC dates).", "")
        html = re.sub(r'<p class="period">.*?</p>\n', "", html, flags=re.S)
        return html.replace("&#34;start&#34;: &#34;2024-10-01&#34;, &#34;end&#34;: &#34;2024-10-31&#34;", "&#34;start&#34;: null, &#34;end&#34;: null")

    assert "data:image/png" in whole and "2024-10-17 → 2024-10-20: vessels 1 → 0" in whole
    assert strip(every) == strip(whole)


def test_demo_takes_context_m_and_sar_thermal_noise_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's ingest ignored `context_m` and `sar_thermal_noise` (it passed neither, so ingest's defaults
    held), though it says the workspace's settings apply as in `sitewatch ingest`."""
    import sitewatch.demo as demo_module

    class Seen(Exception):
        pass

    seen: dict[str, object] = {}

    def ingest(*args, **kw):  # type: ignore[no-untyped-def]
        seen.update(kw)
        raise Seen

    monkeypatch.setattr(demo_module, "ingest_paths", ingest)
    monkeypatch.setenv("SITEWATCH_SAR_THERMAL_NOISE", "subtract")
    one = shorten(load_scenario("seed-story"), days=1, start=date(2024, 10, 17), sites=["dunai"])
    (tmp_path / "d").mkdir()
    init_workspace(tmp_path / "d", store="")
    ws = open_workspace(tmp_path / "d")
    toml = ws.config_path.read_text(encoding="utf-8")
    ws.config_path.write_text(toml.replace("[settings]", "[settings]\ncontext_m = 250", 1), encoding="utf-8")
    with pytest.raises(Seen):
        run_demo(tmp_path / "d", scenario=one, workers=1)
    assert seen["context_m"] == 250 and seen["thermal_noise"] == "subtract"
