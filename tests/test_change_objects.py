"""Change leaves out the vessels detection found: a ship that came between two simulated passes is
not a change of the ground (SIMULATED imagery throughout)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from shapely.geometry import box, shape

from _two_dates import arriving, simulated_workspace, two_date_scenario
from sitewatch.change_objects import objects_mask
from sitewatch.cli import main
from sitewatch.geo import reproject_geometry
from sitewatch.model import Grid
from sitewatch.sources.scenario import Scenario, Vessel


def _scenario() -> Scenario:
    """A lake west of a field; a 120 m ship lies in the lake on the second date only."""
    ship = Vessel("ship", "cargo", 120.0, 20.0, arriving("lake", (-500.0, 100.0), 20.0))
    return two_date_scenario("lake", "Lake shore (SIMULATED)", "port", water_edge_m=-150.0, thing=ship,
                             name="ship-comes", title="A ship comes (SIMULATED)")


@pytest.mark.slow
def test_a_ship_that_came_between_two_passes_is_left_out_and_kept_on_request(tmp_path: Path) -> None:
    scenario = _scenario()
    paths, ws = simulated_workspace(scenario, tmp_path)
    runner = CliRunner()
    res = runner.invoke(main, ["detect", "lake", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    truth = next(p for p in paths if "s1" in p.name and "20241006" in p.name).with_suffix(".truth.geojson")
    (drawn,) = [shape(f["geometry"]) for f in json.loads(truth.read_text(encoding="utf-8"))["features"]]

    def ship_regions(*extra: str) -> tuple[dict[str, int], list[dict[str, object]]]:
        out = tmp_path / f"changes{len(extra)}.geojson"
        res = runner.invoke(main, ["change", "lake", "--json", "--out", str(out), *extra, "-w", str(ws.root)])
        assert res.exit_code == 0, res.output
        found: dict[str, int] = {"optical": 0, "sar": 0}
        for f in json.loads(out.read_text(encoding="utf-8"))["features"]:
            if shape(f["geometry"]).intersects(drawn):
                found[f["properties"]["sensor"]] += 1
        return found, json.loads(res.stdout)["pairs"]

    kept, _ = ship_regions("--with-detections")
    assert kept == {"optical": 1, "sar": 1}  # the ship, compared as ground, reads as change
    masked, pairs = ship_regions()
    assert masked == {"optical": 0, "sar": 0}
    for p in pairs:
        # The ship's footprint, grown, is what was left out: more than the hull, not much more.
        assert p["detections_masked"] == 1, p
        assert 120 * 20 < float(p["masked_m2"]) < 12 * 120 * 20, p  # type: ignore[arg-type]


def test_objects_mask_burns_footprints_into_the_grid_grown_by_whole_pixels() -> None:
    grid = Grid("EPSG:32652", (10.0, 0.0, 500_000.0, 0.0, -10.0, 4_900_000.0), 40, 30)
    hull = box(500_100.0, 4_899_850.0, 500_150.0, 4_899_830.0)  # 5 × 2 pixels: rows 15-16, cols 10-14
    wgs84 = reproject_geometry(hull, grid.crs, "EPSG:4326")
    plain = objects_mask([wgs84], grid, grow_px=0)
    rows, cols = np.nonzero(plain)
    assert rows.min() >= 14 and rows.max() <= 17 and cols.min() >= 9 and cols.max() <= 15 and plain[15:17, 10:15].all()
    grown = objects_mask([wgs84], grid, grow_px=2)
    assert grown.sum() > plain.sum() and np.array_equal(grown[plain], plain[plain])
    rows, cols = np.nonzero(grown)
    assert rows.max() - rows.min() == (np.ptp(np.nonzero(plain)[0])) + 4
    assert not objects_mask([], grid).any()
