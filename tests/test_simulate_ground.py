"""The simulated training ground: trenches dug and vehicles parked, drawn and written with the truth."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
from shapely.geometry import shape

from sitewatch.sources.scenario import load_scenario
from sitewatch.sources.simulate import layout_site, simulate

SITE = "sergeyevka-base"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scen = load_scenario("seed-story")
    planet = next(a for a in scen.acquisitions if a.site == SITE and a.name == "planet")
    keep = (date(2024, 10, 1), date(2024, 10, 8), date(2024, 10, 24))
    scen = dataclasses.replace(
        scen, name="ground-test", sites=(scen.site(SITE),),
        acquisitions=(dataclasses.replace(planet, dates=keep, start=keep[0], end=keep[-1]),),
        vessels=(), equipment=(), clouds=(),
    )  # fmt: skip
    out = tmp_path_factory.mktemp("ground")
    simulate(scen, out)
    return out / SITE


def _truth(folder: Path, day: str) -> dict:  # type: ignore[type-arg]
    return json.loads(next(folder.glob(f"*{day}T*.truth.geojson")).read_text(encoding="utf-8"))


def test_the_trenches_are_in_the_truth_from_the_day_they_were_dug(sim: Path) -> None:
    assert [f["properties"]["kind"] for f in _truth(sim, "20241001")["features"]] == []
    after = _truth(sim, "20241008")
    trenches = [f for f in after["features"] if f["properties"]["kind"] == "trench"]
    assert sorted(f["id"] for f in trenches) == ["trench-east", "trench-south-1", "trench-south-2"]
    for f in trenches:
        p = f["properties"]
        assert p["width_m"] == 8 and p["trench_m"] == 2 and 300 < p["length_m"] < 900 and p["visible"]
        assert p["since"].startswith("2024-10-0")
        # The scar polygon: some hundreds of metres long and 8 m wide (about 8 m² per metre of trench).
        area = shape(f["geometry"]).area * (111_000**2) * np.cos(np.radians(44.35))
        assert area / p["length_m"] == pytest.approx(8.0, rel=0.15)
    assert after["properties"]["simulated"] is True


def test_the_vehicles_are_in_the_truth_by_row_once_assembled(sim: Path) -> None:
    assert not [f for f in _truth(sim, "20241008")["features"] if f["properties"]["kind"] == "vehicle"]
    vehicles = [f["properties"] for f in _truth(sim, "20241024")["features"] if f["properties"]["kind"] == "vehicle"]
    assert len(vehicles) == 24 and {v["group"] for v in vehicles} == {"vehicles-row-1", "vehicles-row-2"}
    assert all(v["length_m"] == 7 and v["width_m"] == 3.3 for v in vehicles)


def test_a_trench_is_drawn_as_fresh_earth_where_there_was_field(sim: Path) -> None:
    def red(day: str) -> np.ndarray:
        with rasterio.open(next(sim.glob(f"*{day}T*.tif"))) as src:
            return src.read(3)

    before, after = red("20241001"), red("20241008")
    scar = [f for f in _truth(sim, "20241008")["features"] if f["id"] == "trench-south-2"][0]
    with rasterio.open(next(sim.glob("*20241008T*.tif"))) as src:
        from sitewatch.geo import reproject_geometry

        g = reproject_geometry(shape(scar["geometry"]), "EPSG:4326", src.crs.to_string())
        row, col = src.index(g.centroid.x, g.centroid.y)
    diff = after - before
    assert diff[row - 3 : row + 4, col - 3 : col + 4].max() > 0.02  # bare earth is redder than the field
    assert np.median(np.abs(diff)) < 0.01  # elsewhere only the season and the sun moved a little


def test_the_site_says_its_location_is_unresolved_and_simulated() -> None:
    site = layout_site(load_scenario("seed-story").site(SITE), "seed-story")
    assert site.kind == "training_ground" and site.water is None
    assert "SIMULATED" in site.note and "UNRESOLVED" in site.note and "sergeyevka-131e" in site.note


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"kind": "moat"}, "ground[0].kind", "'moat' is not one of"),
        ({"trench_m": 9}, "ground[0].trench_m", "wider than the scar"),
        ({"present": []}, "ground[0].present", "unknown key"),
        ({"line": [[5000, 0], [5100, 0]]}, "ground[0].line[0]", "outside site"),
        ({"dug": "early October"}, "ground[0].dug", "expected a date"),
    ],
)
def test_a_ground_work_in_error_is_named_with_its_field(change: dict, field: str, words: str) -> None:  # type: ignore[type-arg]
    from sitewatch.errors import InputError
    from sitewatch.sources.scenario import scenario_from_mapping

    trench = {"id": "t", "kind": "trench", "site": "base", "dug": "2024-10-03", "line": [[0, 0], [100, 0]]} | change
    data = {
        "name": "x", "seed": 1,
        "sites": [{"id": "base", "kind": "training_ground", "polygon": [[131.66, 44.34], [131.68, 44.34], [131.68, 44.35], [131.66, 44.35]],
                   "layout": {"land": [[[-900, -900], [900, -900], [900, 900], [-900, 900]]]}}],
        "acquisitions": [{"site": "base", "sensor": "optical", "dates": ["2024-10-01"], "start": "2024-10-01", "end": "2024-10-01"}],
        "ground": [trench],
    }  # fmt: skip
    with pytest.raises(InputError, match=words) as err:
        scenario_from_mapping(data, "s.yaml")
    assert f"s.yaml: {field}" in str(err.value)
