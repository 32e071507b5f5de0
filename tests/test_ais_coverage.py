"""An image the AIS files say nothing about - taken on another day than the files', or of a place
they do not reach - is not matched: its detections are not "dark".

AIS comes as daily files (MarineCadastre's ``AIS_2024_10_20.csv``, the DMA's ``aisdk-2024-10-20.csv``)
of one region; ``sitewatch ais dunai --ais AIS_2024_10_20.csv`` on a site imaged over weeks called every
vessel of every other day dark."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from _report_world import CRS, CX, CY, build
from sitewatch.analysis.ais_csv import read_ais
from sitewatch.cli import main
from sitewatch.geo import reproject_geometry


def _wgs(dx: float, dy: float) -> tuple[float, float]:
    p = reproject_geometry(Point(CX + dx, CY + dy), CRS, "EPSG:4326")
    return p.x, p.y


def _day_file(path: Path, day: int, lon: float, lat: float) -> Path:
    """A day's file: a vessel 5 km off the site reporting from just after midnight to just before the next."""
    rows = ["mmsi,time,lat,lon,sog"]
    start = datetime(2024, 10, day, tzinfo=UTC)
    for minutes in range(0, 24 * 60, 6):
        t = start + timedelta(minutes=minutes, seconds=5)
        rows.append(f"273333333,{t:%Y-%m-%dT%H:%M:%SZ},{lat:.6f},{lon:.6f},0.0")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cover") / "ws"
    build(root)  # a vessel detected at 01:00 (optical) and 21:00 (SAR) on 17 October; none on the 20th
    return root


def _run(root: Path, ais: Path) -> dict:  # type: ignore[type-arg]
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(root), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_images_of_another_day_than_the_files_are_not_matched(root: Path, tmp_path: Path) -> None:
    ais = _day_file(tmp_path / "AIS_2024_10_20.csv", 20, *_wgs(5000, 0))
    doc = _run(root, ais)
    by_day = {o["observation_id"]: o for o in doc["observations"]}
    for obs_id in ("dunai:sim-dunai-2024-10-17-sar", "dunai:sim-dunai-2024-10-17-optical"):
        o = by_day[obs_id]
        assert o["status"] == "not covered" and o["dark"] == [], o
        assert "2024-10-20" in o["note"], o["note"]
    assert doc["sites"]["dunai"]["dark"] == 0 and doc["sites"]["dunai"]["not_covered"] == 2
    assert by_day["dunai:sim-dunai-2024-10-20-sar"]["status"] == "matched"
    text = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(root)]).output
    assert "dunai: AIS: 0 matched, 0 dark, 0 unseen over 2 observation(s); 2 outside the AIS files' times or area" in text, text


def test_images_of_a_place_the_files_do_not_reach_are_not_matched(root: Path, tmp_path: Path) -> None:
    ais = _day_file(tmp_path / "aisdk-2024-10-17.csv", 17, 12.6, 55.7)  # Danish waters
    doc = _run(root, ais)
    seventeenth = [o for o in doc["observations"] if "10-17" in o["observation_id"]]
    assert [o["status"] for o in seventeenth] == ["not covered", "not covered"]
    assert doc["sites"]["dunai"]["dark"] == 0


def test_an_image_within_the_files_time_and_area_is_matched_and_its_vessel_dark(root: Path, tmp_path: Path) -> None:
    ais = _day_file(tmp_path / "AIS_2024_10_17.csv", 17, *_wgs(5000, 0))
    doc = _run(root, ais)
    seventeenth = [o for o in doc["observations"] if "10-17" in o["observation_id"]]
    assert [o["status"] for o in seventeenth] == ["matched", "matched"]
    assert doc["sites"]["dunai"]["dark"] == 2 and doc["sites"]["dunai"]["not_covered"] == 2  # the 20th: not covered


def test_a_files_time_span_and_extent_are_read(tmp_path: Path) -> None:
    ais = tmp_path / "a.csv"
    ais.write_text("mmsi,time,lat,lon\n273000001,2024-10-17T10:00:00Z,42.0,132.0\n"
                   "273000002,2024-10-17T02:00:00Z,43.0,131.0\n273000003,2024-10-17T05:00:00Z,91,181\n", encoding="utf-8")  # fmt: skip
    s = read_ais([ais]).files[0]
    assert (s.first, s.last) == ("2024-10-17T02:00:00Z", "2024-10-17T10:00:00Z")
    assert s.extent == (131.0, 42.0, 132.0, 43.0)
