"""The seed story's fact 3 through the whole pipeline: the cargo ship last seen at Rason on 12 Oct 2024
and first seen at Dunai on the 14th is found as a link, shown in the report and scored by eval."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.demo import run_demo
from sitewatch.sources.simulate import load_scenario, shorten

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    # Both sites, 10 to 15 October: the cargo ship leaves Rason after the 12th and is at Dunai from the 14th.
    scen = shorten(load_scenario("seed-story"), days=6, start=date(2024, 10, 10))
    return run_demo(tmp_path_factory.mktemp("links-demo"), scenario=scen, workers=1)


def test_demo_finds_the_cargo_ship_from_rason_to_dunai(demo) -> None:  # type: ignore[no-untyped-def]
    (line,) = demo.links
    assert line.startswith("rason 2024-10-12 → dunai 2024-10-14:") and "(feasible)" in line and "(simulated)" in line
    assert demo.evaluation["links"] | {"true_links": None} == {
        "found": 1, "true": 1, "truth_links": 1, "missed": 0, "missed_links": [], "true_links": None,
    }  # fmt: skip
    assert demo.evaluation["links"]["true_links"] == ["cargo-rajin-dunai: rason 2024-10-12 → dunai 2024-10-14"]


def test_links_command_and_report_show_the_images_the_link_rests_on(demo) -> None:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(main, ["links", "-w", str(demo.out), "--json"])
    assert res.exit_code == 0, res.output
    (link,) = json.loads(res.output)["links"]
    assert link["from"]["site_id"] == "rason" and link["to"]["site_id"] == "dunai"
    assert 30 < link["hours_apart"] < 48 and link["feasible"] and link["simulated"]
    html = demo.report.read_text(encoding="utf-8")
    assert "Links between sites" in html
    section = html[html.index('id="links"'):]
    for end in ("from", "to"):
        assert link[end]["image"] in section and link[end]["observation_id"] in section
    assert '<span class="tag">SIMULATED</span>' in section[: section.index("</table>")]
    assert "1 feasible link found, 1 with the same truth vessel at both ends; 0 of the 1 true passage between sites missed" in section
    res = CliRunner().invoke(main, ["eval", "-w", str(demo.out), "--no-record"])
    assert "links: 1 found, 1 true (same truth vessel at both ends), 0 true links missed (of 1)" in res.output


def test_demo_links_are_settled_by_the_simulated_ais(demo) -> None:  # type: ignore[no-untyped-def]
    # The cargo ship broadcasts at both ends: its link (the true one, by eval) is confirmed by one MMSI.
    (line,) = demo.links
    assert "; confirmed by AIS: the same MMSI " in line
    res = CliRunner().invoke(main, ["links", "-w", str(demo.out), "--ais", str(demo.ais["file"]), "--json"])
    assert res.exit_code == 0, res.output
    (link,) = json.loads(res.output)["links"]
    assert link["ais"]["status"] == "confirmed" and link["ais"]["from"]["mmsi"] == link["ais"]["to"]["mmsi"]
    assert demo.evaluation["links"]["true_links"] == ["cargo-rajin-dunai: rason 2024-10-12 → dunai 2024-10-14"]
    section = demo.report.read_text(encoding="utf-8").split('id="links"')[1]
    assert "confirmed by AIS: the same MMSI " + link["ais"]["from"]["mmsi"] in section


def test_dashboard_links_page_gives_each_end_a_date_and_time_in_utc(demo) -> None:  # type: ignore[no-untyped-def]
    # The page showed the API's "2024-10-12T09:10:00Z", which wrapped mid-time in its narrow column.
    pytest.importorskip("fastapi", reason="the web extra: pip install 'sitewatch[web]'")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from sitewatch.web import create_app

    client = TestClient(create_app(demo.out))
    page = client.get("/links").text
    assert "rason</a>, 2024-10-12 09:10 UTC" in page and "dunai</a>, 2024-10-14 00:40 UTC" in page
    assert "T09:10:00Z" not in page
    # and an observation's page says when it was archived the same way
    page = client.get("/observations/dunai/sim-sar-dunai-20241014T0930").text
    assert re.search(r"archived by</th><td>sitewatch \S+ on \d{4}-\d\d-\d\d \d\d:\d\d UTC<", page)
