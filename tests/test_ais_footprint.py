"""What an AIS file covers is where its positions are, not the box around them; a user may state it;
and a report read twice (overlapping exports) counts once.

- A file with traffic both sides of the antimeridian had a box of every longitude: an image anywhere on
  its days was "covered" and its vessels dark.
- A file of two regions (a concatenation, or a port-polygon export) covered the sea between them.
- A provider's "all AIS in this polygon from T0 to T1" had its quiet hours "not covered".
- The same rows in two overlapping exports were counted twice as "near the sites".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from shapely.geometry import Point, box, mapping

from _report_world import CRS, CX, CY, LAT, LON, build
from sitewatch.analysis.ais_coverage import (
    Footprint,
    FootprintBuilder,
    parse_period,
    read_coverage_area,
)
from sitewatch.analysis.ais_csv import read_ais
from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.geo import reproject_geometry


def _wgs(dx: float, dy: float) -> tuple[float, float]:
    p = reproject_geometry(Point(CX + dx, CY + dy), CRS, "EPSG:4326")
    return p.x, p.y


def _file(path: Path, places: list[tuple[float, float]], start: datetime = datetime(2024, 10, 17, tzinfo=UTC),
          hours: float = 24.0) -> Path:  # fmt: skip
    """Ships at anchor at ``places`` (lon, lat), one an MMSI, reporting every 6 minutes for ``hours``."""
    rows = ["mmsi,time,lat,lon,sog"]
    for minutes in range(0, int(hours * 60), 6):
        t = start + timedelta(minutes=minutes, seconds=5)
        for i, (lon, lat) in enumerate(places):
            rows.append(f"{273333000 + i},{t:%Y-%m-%dT%H:%M:%SZ},{lat:.6f},{lon:.6f},0.0")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("footprint") / "ws"
    build(root)  # a vessel detected at 01:00 (optical) and 21:00 (SAR) on 17 October; none on the 20th
    return root


def _ais(root: Path, *args: str) -> dict:  # type: ignore[type-arg]
    res = CliRunner().invoke(main, ["ais", "dunai", "-w", str(root), "--json", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _statuses(doc: dict) -> list[str]:  # type: ignore[type-arg]
    return [o["status"] for o in doc["observations"] if "10-17" in o["observation_id"]]


# ---------------------------------------------------------------- where a file's positions are


def test_a_file_across_the_antimeridian_has_a_box_across_it_and_covers_no_other_sea(root: Path, tmp_path: Path) -> None:
    # Traffic on Dunai's latitude, 47° of longitude east of it, both sides of 180°.
    ais = _file(tmp_path / "pacific.csv", [(179.9, 42.8), (-179.9, 42.9), (179.95, 42.85)])
    s = read_ais([ais]).files[0]
    assert s.extent == (179.9, 42.8, -179.9, 42.9)  # 0.2° of longitude across 180°, not 359.8°
    assert s.cells == 3
    doc = _ais(root, "--ais", str(ais))
    assert _statuses(doc) == ["not covered", "not covered"]  # Dunai (lon 132) was "covered", its ship dark
    assert doc["sites"]["dunai"]["dark"] == 0
    note = doc["observations"][0]["note"]
    assert "lon 179.90 to -179.90 (across 180°)" in note and "20 km" in note, note


def test_a_file_of_two_regions_does_not_cover_the_sea_between(root: Path, tmp_path: Path) -> None:
    # Two ports' exports joined: traffic 100 km west and 100 km east of Dunai, none near it.
    ais = _file(tmp_path / "two-ports.csv", [_wgs(-100_000, 0), _wgs(100_000, 0)])
    west, _, east, _ = read_ais([ais]).files[0].extent  # type: ignore[misc]
    assert west < LON < east  # the box spans Dunai...
    doc = _ais(root, "--ais", str(ais))
    assert _statuses(doc) == ["not covered", "not covered"]  # ...the file does not
    text = CliRunner().invoke(main, ["ais", "dunai", "-w", str(root), "--ais", str(ais)]).output
    assert "4 outside the AIS files' times or area" in text, text  # the 20th: outside its time


def test_traffic_within_20_km_of_the_site_covers_it(root: Path, tmp_path: Path) -> None:
    ais = _file(tmp_path / "near.csv", [_wgs(-100_000, 0), _wgs(15_000, 8_000)])  # one ship 17 km off
    doc = _ais(root, "--ais", str(ais))
    assert _statuses(doc) == ["matched", "matched"]
    assert doc["sites"]["dunai"]["dark"] == 2
    assert "20 km" in doc["coverage"]["rule"] and doc["coverage"]["stated"] is None


def test_the_footprint_reaches_by_distance_and_wraps_at_180() -> None:
    b = FootprintBuilder()
    b.add(np.array([179.99, 180.0]), np.array([10.0, 10.0]))  # +180 is -180
    fp = b.build()
    assert fp.extent == (179.99, 10.0, -180.0, 10.0)
    assert fp.reaches(-179.95, 9.95, -179.9, 10.05)  # a site just east of 180°: its 20 km reach wraps
    assert not fp.reaches(-179.0, 10.0, -178.9, 10.1)  # 100 km away
    assert not Footprint(frozenset(), None).reaches(0, 0, 1, 1)
    near = FootprintBuilder()
    near.add(np.array([LON + 0.22]), np.array([LAT]))  # 18 km east
    assert near.build().reaches(LON - 0.01, LAT - 0.01, LON + 0.01, LAT + 0.01)
    far = FootprintBuilder()
    far.add(np.array([LON + 0.6]), np.array([LAT]))  # 49 km east
    assert not far.build().reaches(LON - 0.01, LAT - 0.01, LON + 0.01, LAT + 0.01)


# ---------------------------------------------------------------- coverage the user states


def test_a_stated_period_covers_the_quiet_hours(root: Path, tmp_path: Path) -> None:
    # Reports only from 00:00 to 00:30 on the 17th: the 01:00 and 21:00 images are outside their span.
    ais = _file(tmp_path / "quiet.csv", [_wgs(5000, 0)], hours=0.5)
    assert _statuses(_ais(root, "--ais", str(ais))) == ["not covered", "not covered"]
    doc = _ais(root, "--ais", str(ais), "--ais-period", "2024-10-17/2024-10-17")
    assert _statuses(doc) == ["matched", "matched"] and doc["sites"]["dunai"]["dark"] == 2
    assert doc["coverage"]["stated"] == {"area": None, "area_bounds": None, "start": "2024-10-17T00:00:00Z",
                                         "end": "2024-10-17T23:59:59Z"}  # fmt: skip
    # A period that ends before the SAR image: that one is not covered, however near the file's reports.
    doc = _ais(root, "--ais", str(ais), "--ais-period", "2024-10-17T00:00Z/2024-10-17T12:00Z")
    assert _statuses(doc) == ["matched", "not covered"]  # the optical image of 01:00; the SAR image of 21:00
    text = CliRunner().invoke(main, ["ais", "dunai", "-w", str(root), "--ais", str(ais), "--ais-period",
                                     "2024-10-17T00:00Z/2024-10-17T12:00Z"]).output  # fmt: skip
    assert "AIS coverage as stated: period 2024-10-17T00:00:00Z to 2024-10-17T12:00:00Z" in text, text
    assert "the period stated is 2024-10-17T00:00:00Z to 2024-10-17T12:00:00Z" in text, text


def _area(path: Path, geom: object) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": mapping(geom)}]}), encoding="utf-8")  # fmt: skip
    return path


def test_a_stated_area_covers_a_site_with_no_traffic_near_and_uncovers_one_outside(root: Path, tmp_path: Path) -> None:
    far = _file(tmp_path / "far.csv", [_wgs(-100_000, 0)])  # the delivery's only traffic is 100 km off
    assert _statuses(_ais(root, "--ais", str(far))) == ["not covered", "not covered"]
    area = _area(tmp_path / "area.geojson", box(LON - 1.5, LAT - 1, LON + 1, LAT + 1))
    doc = _ais(root, "--ais", str(far), "--ais-coverage", str(area))
    assert _statuses(doc) == ["matched", "matched"] and doc["sites"]["dunai"]["dark"] == 2
    assert doc["coverage"]["stated"]["area"] == str(area)
    # A file near Dunai, said to cover Danish waters only: Dunai is outside what it covers.
    near = _file(tmp_path / "near.csv", [_wgs(5000, 0)])
    danish = _area(tmp_path / "danish.geojson", box(10, 54, 13, 57))
    doc = _ais(root, "--ais", str(near), "--ais-coverage", str(danish))
    assert _statuses(doc) == ["not covered", "not covered"]
    assert "outside the area stated (danish.geojson)" in doc["observations"][0]["note"]


def test_the_report_takes_the_stated_coverage(root: Path, tmp_path: Path) -> None:
    ais = _file(tmp_path / "quiet.csv", [_wgs(5000, 0)], hours=0.5)
    out = tmp_path / "r.html"
    args = ["report", "dunai", "-w", str(root), "--ais", str(ais), "--out", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    before = out.read_text(encoding="utf-8")
    res = CliRunner().invoke(main, [*args, "--ais-period", "2024-10-17/2024-10-20"])
    assert res.exit_code == 0, res.output
    after = out.read_text(encoding="utf-8")
    assert before.count("no AIS file covers") == 4 and after.count("no AIS file covers") == 0
    assert "the files cover, as stated, 2024-10-17 00:00 to 2024-10-20 23:59 UTC" in after
    day = _file(tmp_path / "day.csv", [_wgs(5000, 0)])
    twice = CliRunner().invoke(main, ["report", "dunai", "-w", str(root), "--out", str(out), "--ais", str(day),
                                      "--ais", str(day)])  # fmt: skip
    assert twice.exit_code == 0, twice.output
    html = out.read_text(encoding="utf-8")
    assert "day.csv (generic, 240 rows, 6 near the sites, 0 skipped)" in html  # 6 rows around the two images of the 17th
    assert "day.csv (generic, 240 rows, 0 near the sites, 0 skipped, 6 repeated rows dropped)" in html


@pytest.mark.parametrize(("args", "message"), [
    (["--ais-period", "2024-10-17"], "is not a period: give FROM/TO"),
    (["--ais-period", "2024-10-18/2024-10-17"], "ends before it starts"),
    (["--ais-period", "2024-10-17/tomorrow"], "is not an ISO 8601 date or time"),
])  # fmt: skip
def test_a_bad_period_is_refused_naming_it(root: Path, tmp_path: Path, args: list[str], message: str) -> None:
    ais = _file(tmp_path / "a.csv", [_wgs(5000, 0)], hours=0.5)
    res = CliRunner().invoke(main, ["ais", "dunai", "-w", str(root), "--ais", str(ais), *args])
    assert res.exit_code == 2 and message in res.output and "--ais-period" in res.output, res.output


def test_a_bad_area_is_refused_naming_the_file(root: Path, tmp_path: Path) -> None:
    ais = _file(tmp_path / "a.csv", [_wgs(5000, 0)], hours=0.5)
    point = tmp_path / "point.geojson"
    point.write_text(json.dumps({"type": "Point", "coordinates": [LON, LAT]}), encoding="utf-8")
    res = CliRunner().invoke(main, ["ais", "dunai", "-w", str(root), "--ais", str(ais), "--ais-coverage", str(point)])
    assert res.exit_code != 0 and "point.geojson: holds a 'Point', not a Polygon" in res.output, res.output
    with pytest.raises(InputError, match="not lon/lat degrees"):
        read_coverage_area(_area(tmp_path / "utm.geojson", box(500000, 4700000, 510000, 4710000)))
    with pytest.raises(InputError, match="not JSON"):
        (tmp_path / "bad.geojson").write_text("{", encoding="utf-8")
        read_coverage_area(tmp_path / "bad.geojson")
    res = CliRunner().invoke(main, ["report", "dunai", "-w", str(root), "--ais-period", "2024-10-17/2024-10-18",
                                    "--out", str(tmp_path / "r.html")])  # fmt: skip
    assert res.exit_code == 2 and "give the AIS files too (--ais FILE)" in res.output, res.output


def test_parse_period_reads_times_and_whole_days() -> None:
    start, end = parse_period("2024-10-17T06:00+02:00/2024-10-18")
    assert start == datetime(2024, 10, 17, 4, tzinfo=UTC)
    assert end == datetime(2024, 10, 18, 23, 59, 59, 999999, tzinfo=UTC)


# ---------------------------------------------------------------- duplicates


def test_rows_repeated_across_overlapping_files_count_once(root: Path, tmp_path: Path) -> None:
    lon, lat = _wgs(5000, 0)
    a = _file(tmp_path / "export-a.csv", [(lon, lat)], hours=24)
    b = tmp_path / "export-b.csv"  # the second export repeats the first's last 12 hours, rounded to 4 decimals
    lines = a.read_text(encoding="utf-8").splitlines()
    repeated = [line.split(",") for line in lines[1 + len(lines[1:]) // 2 :]]
    b.write_text("mmsi,time,lat,lon,sog\n" + "".join(f"{m},{t},{float(y):.4f},{float(x):.4f},{v}\n" for m, t, y, x, v in repeated), encoding="utf-8")
    once = _ais(root, "--ais", str(a))
    twice = _ais(root, "--ais", str(a), "--ais", str(b))
    kept_once = once["files"][0]["kept"]
    fa, fb = twice["files"]
    assert fa["kept"] == kept_once and fa["duplicates"] == 0
    assert fb["kept"] == 0 and fb["duplicates"] > 0 and fb["conflicting"] == 0  # before: kept, counted twice
    assert fa["kept"] + fb["kept"] == kept_once
    assert twice["sites"] == once["sites"]
    assert _ais(root, "--ais", str(a), "--ais", str(b)) == twice  # a rerun: the same
    text = CliRunner().invoke(main, ["ais", "dunai", "-w", str(root), "--ais", str(a), "--ais", str(b)]).output
    assert f"{fb['duplicates']} duplicate(s) dropped (same MMSI and time, within 10 m)" in text, text


def test_a_row_repeated_in_one_file_counts_once_and_another_place_at_that_time_is_conflicting(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("mmsi,time,lat,lon\n"
                    "273000001,2024-10-17T10:00:00Z,42.000000,132.000000\n"
                    "273000001,2024-10-17T10:00:00Z,42.000000,132.000000\n"   # the same row again
                    "273000001,2024-10-17T10:00:00Z,42.00004,132.00004\n"     # 5 m off: the same report rounded
                    "273000001,2024-10-17T10:00:00Z,42.010000,132.000000\n"   # 1.1 km off at the same second
                    "273000001,2024-10-17T10:03:00Z,42.001000,132.000000\n", encoding="utf-8")  # fmt: skip
    data = read_ais([path])
    s = data.files[0]
    assert (s.kept, s.duplicates, s.conflicting) == (2, 2, 1)
    track = data.tracks["273000001"]
    assert track.lats.tolist() == [42.0, 42.001]  # the first read of each time


@pytest.mark.parametrize("command", [["links"], ["report", "--out", "r.html"]])
def test_the_stated_coverage_without_ais_files_is_refused(root: Path, tmp_path: Path, command: list[str]) -> None:
    area = _area(tmp_path / "area.geojson", box(LON - 1, LAT - 1, LON + 1, LAT + 1))
    args = [*command, "-w", str(root), "--ais-coverage", str(area), "--ais-period", "2024-10-17/2024-10-18"]
    res = CliRunner().invoke(main, [a if a != "r.html" else str(tmp_path / a) for a in args])
    assert res.exit_code == 2, res.output
    assert "--ais-coverage and --ais-period state what the --ais files cover" in res.output, res.output
