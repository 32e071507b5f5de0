"""Change on the simulator's own scenes: an object placed on a field between two dates is found
where the simulator drew it, in the optical and in the SAR pair. Simulated imagery throughout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from shapely.geometry import shape

from _two_dates import arriving, simulated_workspace, two_date_scenario
from sitewatch import __version__
from sitewatch.cli import main
from sitewatch.sources.scenario import Scenario, Vessel


def _scenario() -> Scenario:
    # A lake to the west; a 150 × 60 m structure (drawn as the simulator draws a hull) set down on the field on 4 October.
    thing = Vessel("structure", "structure", 150.0, 60.0, arriving("field", (300.0, -200.0), 60.0))
    return two_date_scenario("field", "Training field (SIMULATED)", "training_ground", water_edge_m=-450.0, thing=thing,
                             name="change-test", title="A structure appears (SIMULATED)")


@pytest.mark.slow
def test_a_structure_set_down_between_two_simulated_dates_is_found_where_it_was_drawn(tmp_path: Path) -> None:
    scenario = _scenario()
    paths, ws = simulated_workspace(scenario, tmp_path)
    runner = CliRunner()
    out = tmp_path / "changes.geojson"
    res = runner.invoke(main, ["change", "field", "--json", "--out", str(out), "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    pairs = json.loads(res.stdout)["pairs"]
    assert sorted(p["sensor"] for p in pairs) == ["optical", "sar"] and all(p["simulated"] for p in pairs)
    truth = next(p for p in paths if "s2" in p.name and "20241006" in p.name).with_suffix(".truth.geojson")
    (drawn,) = [shape(f["geometry"]) for f in json.loads(truth.read_text(encoding="utf-8"))["features"]]
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["sitewatch_version"] == __version__  # (as export's files: the version that wrote them)
    regions = written["features"]
    for sensor in ("optical", "sar"):
        found = [shape(f["geometry"]) for f in regions if f["properties"]["sensor"] == sensor]
        hits = [g for g in found if g.intersects(drawn)]
        assert len(hits) == 1, (sensor, len(found))
        # Where it was drawn: most of the drawn object lies in the region found.
        assert hits[0].intersection(drawn).area / drawn.area > 0.6, sensor
        assert all(f["properties"]["simulated"] for f in regions)
    sar = [f for f in regions if f["properties"]["sensor"] == "sar" and shape(f["geometry"]).intersects(drawn)]
    assert sar[0]["properties"]["direction"] == "appeared"
    # The report's section says the pairs are simulated.
    report = tmp_path / "report.html"
    assert runner.invoke(main, ["report", "field", "--out", str(report), "-w", str(ws.root)]).exit_code == 0
    section = report.read_text(encoding="utf-8").split("<h3>Changes</h3>", 1)[1].split("</table>", 1)[0]
    assert "Simulated imagery" in section and "optical (simulated)" in section and "sar (simulated)" in section
