"""Change on a simulated optical pair with partial cloud and no SCL band: cloud is masked, not change
(SIMULATED imagery)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from _two_dates import simulated_workspace
from sitewatch.cli import main
from sitewatch.sources.scenario import Acquisitions, Cloud, Layout, Scenario, SimSite

LON, LAT = 131.661, 44.338


def _scenario(resolution_m: float) -> Scenario:
    """A round site (clouds cross its edge, not only the grid's) of field and lake; nothing changes on
    the ground; on the second date cloud covers part of it, and no SCL band says where."""
    site = SimSite(
        id="round", name="Round site (SIMULATED)", kind="training_ground",
        polygon=Point(LON, LAT).buffer(0.007),
        layout=Layout(land=(((-300.0, -2000.0), (2000.0, -2000.0), (2000.0, 2000.0), (-300.0, 2000.0)),), scatterers=0),
        from_gazetteer=False,
    )  # fmt: skip
    days = (date(2024, 10, 1), date(2024, 10, 6))
    series = (Acquisitions("opt", "round", "optical", "simulated-opt", "sim-opt", resolution_m, days[0], days[1], dates=days),)
    clouds = (Cloud("round", days[1], 0.45, (150.0, 250.0)),)
    return Scenario("cloudy", "Partial cloud (SIMULATED)", 7, "two dates", (site,), series, clouds=clouds)


@pytest.mark.slow
@pytest.mark.parametrize("resolution_m", [10.0, 3.0])
def test_partial_cloud_without_scl_gives_no_change_regions(tmp_path: Path, resolution_m: float) -> None:
    scenario = _scenario(resolution_m)
    _, ws = simulated_workspace(scenario, tmp_path)
    res = CliRunner().invoke(main, ["change", "round", "--json", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    (pair,) = json.loads(res.stdout)["pairs"]
    assert pair["simulated"] and 0.1 < pair["compared_fraction"] < 0.9, pair  # the cloud was masked, not all of it
    assert pair["appeared"] + pair["disappeared"] + pair["altered"] == 0, pair
