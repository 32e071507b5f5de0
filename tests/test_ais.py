"""AIS: reading the three CSV forms, positions at an image's time, assignment, dark and unseen,
the ``sitewatch ais`` command, and simulated AIS against the scenario's truth."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Point, box

from _report_world import CRS, CX, CY, build
from sitewatch.analysis.ais import (
    AIS_CSV_COLUMNS,
    AisParams,
    AisPosition,
    match_observation,
    position_at,
    positions_at,
    windows_for,
)
from sitewatch.analysis.ais_csv import AisTrack, AisWindow, read_ais
from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.geo import reproject_geometry
from sitewatch.model import DATE_ONLY_NOTE, Detection, Grid, Observation, SceneRef, Site

T = datetime(2024, 10, 17, 9, 30, tzinfo=UTC)
LON, LAT = 132.338, 42.880
M_LAT = 111_195.0  # metres per degree of latitude on the 6371 km sphere
M_LON = M_LAT * math.cos(math.radians(LAT))


def _write(path: Path, text: str) -> Path:
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


def _at(east_m: float, north_m: float) -> tuple[float, float]:
    return LON + east_m / M_LON, LAT + north_m / M_LAT


# ---------------------------------------------------------------- reading


def test_reads_marinecadastre_rows(tmp_path: Path) -> None:
    f = _write(tmp_path / "AIS_2024_10_17.csv", """
MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,Width,Draft,Cargo,TransceiverClass
367000001,2024-10-17T09:28:00,42.88,132.338,10.5,90.0,511,SEA HAWK,IMO1234567,WDA1,70,0,90,14,5.0,70,A
367000001,2024-10-17T09:31:00,42.881,132.339,102.3,360.0,511,SEA HAWK,IMO1234567,WDA1,70,0,90,14,5.0,70,A
""")
    data = read_ais([f])
    (s,) = data.files
    assert (s.format, s.rows, s.kept, s.skipped) == ("marinecadastre", 2, 2, 0)
    tr = data.tracks["367000001"]
    assert (tr.name, tr.length_m, tr.width_m) == ("SEA HAWK", 90.0, 14.0)
    assert tr.times[0] == datetime(2024, 10, 17, 9, 28, tzinfo=UTC).timestamp()
    assert tr.sogs[0] == 10.5 and math.isnan(tr.sogs[1]) and math.isnan(tr.cogs[1])  # 102.3 and 360: not available


def test_reads_danish_maritime_authority_rows(tmp_path: Path) -> None:
    f = _write(tmp_path / "aisdk-2024-10-17.csv", """
# Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,Heading,IMO,Callsign,Name,Ship type,Cargo type,Width,Length,Type of position fixing device,Draught,Destination,ETA,Data source type,A,B,C,D
17/10/2024 09:29:30,Class A,219000001,55.70,12.60,Moored,0,0.0,,511,Unknown,OXAB,DANA,Cargo,,16,100,GPS,6.0,AARHUS,,AIS,50,50,8,8
17/10/2024 09:32:00,Class A,219000001,55.70,12.60,Moored,0,0.1,12.0,511,Unknown,OXAB,DANA,Cargo,,16,100,GPS,6.0,AARHUS,,AIS,50,50,8,8
""")
    data = read_ais([f])
    assert data.files[0].format == "dma" and data.files[0].kept == 2
    tr = data.tracks["219000001"]
    # Day first: 17 October, not the 10th of the 17th month.
    assert tr.times[0] == datetime(2024, 10, 17, 9, 29, 30, tzinfo=UTC).timestamp()
    assert (tr.name, tr.length_m, tr.width_m, tr.lats[0], tr.lons[0]) == ("DANA", 100.0, 16.0, 55.70, 12.60)


def test_reads_the_generic_form_and_its_time_zones(tmp_path: Path) -> None:
    f = _write(tmp_path / "mine.csv", """
mmsi,time,lat,lon
273000001,2024-10-17T09:30:00Z,42.88,132.338
273000001,2024-10-17T19:31:00+10:00,42.88,132.338
""")
    data = read_ais([f])
    tr = data.tracks["273000001"]
    assert data.files[0].format == "generic"
    assert list(tr.times) == [T.timestamp(), (T + timedelta(minutes=1)).timestamp()]
    assert (tr.name, tr.length_m) == ("", None) and math.isnan(tr.sogs[0])


def test_bad_rows_are_counted_and_the_others_proceed(tmp_path: Path) -> None:
    f = _write(tmp_path / "bad.csv", """
mmsi,time,lat,lon,sog
273000001,2024-10-17T09:30:00Z,42.88,132.338,1
27300001,2024-10-17T09:30:00Z,42.88,132.338,1
273000002,2024-10-17T09:30:00Z,91,132.338,1
273000003,2024-10-17T09:30:00Z,42.88,181,1
273000004,not a time,42.88,132.338,1
273000005,2024-10-17T09:30:00Z,north,132.338,1
273000006,2024-10-17T09:31:00Z,42.88,132.338,1
""")
    s = read_ais([f]).files[0]
    assert (s.rows, s.kept, s.skipped) == (7, 2, 5)
    assert s.bad == {"mmsi": 1, "position": 3, "time": 1}
    assert set(read_ais([f]).tracks) == {"273000001", "273000006"}


@pytest.mark.parametrize(("times", "example"), [
    (["1728977400000", "1728977580000"], "'1728977400000' on line 2"),  # Unix milliseconds (seconds are read)
    (["17/10/2024 09:30", "17/10/2024 09:33"], "'17/10/2024 09:30' on line 2"),  # a spreadsheet's own date format
])  # fmt: skip
def test_a_time_column_no_row_of_which_reads_is_an_error_naming_a_value(tmp_path: Path, times: list[str], example: str) -> None:
    # Every row skipped ("40 skipped (time 40)") and the command went on: every detection came out
    # dark, a finding made of a format.
    rows = "".join(f"273000001,{t},42.88,132.338\n" for t in times)
    f = _write(tmp_path / "mine.csv", "mmsi,time,lat,lon\n" + rows)
    with pytest.raises(InputError) as err:
        read_ais([f])
    text = str(err.value)
    assert str(f) in text and example in text and "ISO 8601" in text, text


def test_one_bad_time_near_the_sites_among_good_ones_elsewhere_is_a_skipped_row(tmp_path: Path) -> None:
    f = _write(tmp_path / "mixed.csv", "mmsi,time,lat,lon\n273000001,2024-10-17T09:30:00Z,55.0,12.0\n"
                                       "273000002,garbled,42.88,132.338\n")  # fmt: skip
    window = AisWindow(132.3, 42.8, 132.4, 42.9, T - timedelta(hours=1), T + timedelta(hours=1))
    s = read_ais([f], [window]).files[0]
    assert s.bad == {"time": 1} and s.outside == 1


def test_a_file_no_row_of_which_reads_is_an_error_saying_why(tmp_path: Path) -> None:
    # lat and lon swapped: every position out of range, every row skipped, every detection "dark".
    f = _write(tmp_path / "swapped.csv", "mmsi,time,lat,lon\n273000001,2024-10-17T09:30:00Z,132.338,42.88\n"
                                         "273000001,2024-10-17T09:33:00Z,132.339,42.88\n")  # fmt: skip
    with pytest.raises(InputError) as err:
        read_ais([f])
    text = str(err.value)
    assert str(f) in text and "no row" in text and "position 2" in text, text


def test_a_header_of_no_known_form_names_the_file_and_the_missing_columns(tmp_path: Path) -> None:
    f = _write(tmp_path / "ships.csv", "id,when,y,x\n1,2024-10-17,42,132\n")
    with pytest.raises(InputError) as err:
        read_ais([f])
    text = str(err.value)
    assert str(f) in text and "'basedatetime'" in text and "'latitude'" in text and "'mmsi'" in text


def test_rows_outside_the_windows_are_counted_not_kept(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.csv", """
mmsi,time,lat,lon
273000001,2024-10-17T09:30:00Z,42.88,132.338
273000002,2024-10-17T09:30:00Z,10.0,10.0
273000003,2024-10-17T12:00:00Z,42.88,132.338
273000004,not a time,10.0,10.0
""")
    win = AisWindow(132.3, 42.8, 132.4, 42.9, T - timedelta(minutes=10), T + timedelta(minutes=10))
    data = read_ais([f], [win])
    assert set(data.tracks) == {"273000001"}
    assert (data.files[0].kept, data.files[0].outside, data.files[0].skipped) == (1, 3, 0)


# ---------------------------------------------------------------- positions


def _track(mmsi: str, reports: list[tuple[float, float, float, float | None, float | None]], length: float | None = None) -> AisTrack:
    """Reports as (seconds from T, east m, north m, sog kn, cog)."""
    import numpy as np

    pts = [_at(e, n) for _, e, n, _, _ in reports]
    nan = float("nan")
    return AisTrack(
        mmsi, np.array([T.timestamp() + s for s, *_ in reports]), np.array([p[1] for p in pts]),
        np.array([p[0] for p in pts]), np.array([nan if r[3] is None else r[3] for r in reports]),
        np.array([nan if r[4] is None else r[4] for r in reports]), "", length, None,
    )  # fmt: skip


def _metres(pos: AisPosition) -> tuple[float, float]:
    return (pos.lon - LON) * M_LON, (pos.lat - LAT) * M_LAT


def test_position_is_interpolated_between_the_reports_around_the_image() -> None:
    tr = _track("273000001", [(-120, 0, 0, 5, 90), (120, 400, 200, 5, 90)])
    pos = position_at(tr, T)
    assert pos is not None and pos.method == "interpolated" and pos.seconds_from_report == 120
    assert _metres(pos) == pytest.approx((200, 100), abs=0.5)
    pos = position_at(tr, T + timedelta(seconds=60))
    assert pos is not None and _metres(pos) == pytest.approx((300, 150), abs=0.5)


def test_a_gap_too_large_is_not_interpolated() -> None:
    moving = _track("273000001", [(-900, 0, 0, 10, 90), (900, 9000, 0, 10, 90)])
    assert position_at(moving, T) is None  # 30 min apart, 15 min from either: not guessed
    assert position_at(moving, T, AisParams(max_gap_s=1800)) is not None
    # Near one of them, dead-reckoned from it along its SOG/COG: 10 kn east for 100 s.
    pos = position_at(moving, T - timedelta(seconds=800))
    assert pos is not None and pos.method == "dead-reckoned" and pos.seconds_from_report == 100
    assert _metres(pos) == pytest.approx((100 * 10 * 1852 / 3600, 0), abs=0.5)
    # ...backwards from a report after the image.
    pos = position_at(moving, T + timedelta(seconds=800))
    assert pos is not None and _metres(pos) == pytest.approx((9000 - 100 * 10 * 1852 / 3600, 0), abs=0.5)
    moored = _track("273000002", [(-900, 50, 50, 0.0, None), (900, 50, 50, 0.0, None)])
    assert position_at(moored, T) is None  # still too far from a report
    pos = position_at(moored, T - timedelta(seconds=790))
    assert pos is not None and pos.method == "held" and _metres(pos) == pytest.approx((50, 50), abs=0.5)
    assert position_at(_track("273000003", [(-60, 0, 0, None, None)]), T) is None  # speed unknown: not guessed


# ---------------------------------------------------------------- matching

GRID = Grid(CRS, (10.0, 0.0, CX - 1000.0, 0.0, -10.0, CY + 1000.0), 200, 200)


def _site() -> Site:
    sw, ne = _at(-1000, -1000), _at(1000, 1000)
    return Site(id="dunai", name="Dunai", kind="port", geometry=box(sw[0], sw[1], ne[0], ne[1]))


def _obs(*, date_only: bool = False) -> Observation:
    scene = SceneRef("simulator", "sim", "s1", "sar", T, 10.0, simulated=True)
    prov = {"acquired_from": f"file name, date only ({DATE_ONLY_NOTE})"} if date_only else {}
    return Observation("dunai/s1", "dunai", scene, GRID, "archive/dunai/s1.tif", "0" * 64, 1.0, None, prov)


def _det(n: int, east_m: float, north_m: float, length: float = 100.0) -> Detection:
    lon, lat = _at(east_m, north_m)
    fp = box(lon - 0.0004, lat - 0.00005, lon + 0.0004, lat + 0.00005)
    return Detection(f"dunai/s1#{n}", "dunai/s1", "vessel", fp, length, 15.0, 90.0, 0.9, "test", "1")


def test_crossing_tracks_are_assigned_to_their_own_ships() -> None:
    # A goes east along +50 m, B west along -50 m; they pass each other between the reports.
    a = _track("273000001", [(-150, -200, 50, 4, 90), (30, 160, 50, 4, 90)], length=100)
    b = _track("273000002", [(-150, 200, -50, 4, 270), (30, -160, -50, 4, 270)], length=100)
    ship_a, ship_b = _det(0, 100, 50), _det(1, -100, -50)
    res = match_observation(_obs(), [ship_b, ship_a], [a, b], _site())
    assert {m.detection_id: m.mmsi for m in res.matched} == {ship_a.id: "273000001", ship_b.id: "273000002"}
    assert all(m.distance_m < 5 for m in res.matched) and not res.dark and not res.unseen
    # Their last reports before the image lie nearer the other ship: the time of the image is what decides.
    assert abs(-200 - 100) > abs(-200 - (-100))


def test_assignment_is_one_to_one_not_greedy() -> None:
    # P1 is nearest D2, but P1-D1 with P2-D2 is the better whole: a greedy pass would leave D1 dark.
    p1 = _track("273000001", [(-10, 60, 0, 0, None), (10, 60, 0, 0, None)])
    p2 = _track("273000002", [(-10, 160, 0, 0, None), (10, 160, 0, 0, None)])
    d1, d2 = _det(0, 0, 0), _det(1, 100, 0)
    res = match_observation(_obs(), [d1, d2], [p1, p2], _site(), AisParams(max_distance_m=120))
    assert {m.detection_id: m.mmsi for m in res.matched} == {d1.id: "273000001", d2.id: "273000002"}


def test_size_breaks_a_tie_between_two_ships() -> None:
    long_ais = _track("273000001", [(-10, 0, 40, 0, None), (10, 0, 40, 0, None)], length=200)
    short_ais = _track("273000002", [(-10, 0, -40, 0, None), (10, 0, -40, 0, None)], length=60)
    # The detections sit where distance alone would pair them crosswise (30 m against 50 m).
    short_det, long_det = _det(0, 0, 10, length=60), _det(1, 0, -10, length=200)
    res = match_observation(_obs(), [short_det, long_det], [long_ais, short_ais], _site())
    assert {m.detection_id: m.mmsi for m in res.matched} == {long_det.id: "273000001", short_det.id: "273000002"}


def test_dark_unseen_and_hidden() -> None:
    ship = _det(0, 0, 0)
    far = _track("273000001", [(-60, 600, 600, 0, None), (60, 600, 600, 0, None)])
    res = match_observation(_obs(), [ship], [far], _site())
    assert [d.detection_id for d in res.dark] == [ship.id] and res.dark[0].nearest_mmsi == "273000001"
    assert [u.mmsi for u in res.unseen] == ["273000001"] and not res.matched
    # Under cloud (or without data) there, the image could not show it: hidden, not unseen.
    res = match_observation(_obs(), [ship], [far], _site(), view_of=lambda pts: dict.fromkeys(pts, "cloud"))
    assert not res.unseen and [(p.mmsi, why) for p, why in res.hidden] == [("273000001", "cloud")]
    # Outside the site polygon: neither.
    outside = _track("273000002", [(-60, 1500, 0, 0, None), (60, 1500, 0, 0, None)])
    res = match_observation(_obs(), [], [outside], _site())
    assert not res.unseen and not res.hidden and not res.dark


def test_an_observation_known_only_by_its_date_is_not_matched() -> None:
    ship = _det(0, 0, 0)
    here = _track("273000001", [(-60, 0, 0, 0, None), (60, 0, 0, 0, None)])
    res = match_observation(_obs(date_only=True), [ship], [here], _site())
    assert res.status == "date only" and "only the date" in res.note
    assert not res.matched and not res.dark and not res.unseen
    assert match_observation(_obs(), [ship], [here], _site()).matched  # the same with its time


def test_a_site_beside_the_antimeridian_matches_the_ships_across_it(tmp_path: Path) -> None:
    """Taveuni, Fiji, lies on 180°: a ship crossing it between two reports is interpolated the short way (not
    through Greenwich), measured 0.02° and not 359.98° from a detection across the line, and its rows are read
    from the other side's longitudes as well."""
    import numpy as np

    t0 = T.timestamp()
    site = Site(id="taveuni", name="Taveuni", kind="port", geometry=box(179.985, -16.52, 179.9999, -16.50))
    scene = SceneRef("simulator", "sim", "s1", "sar", T, 10.0, simulated=True)
    grid = Grid("EPSG:32760", (10.0, 0.0, 600000.0, 0.0, -10.0, 8180000.0), 200, 200)
    obs = Observation("taveuni/s1", "taveuni", scene, grid, "archive/taveuni/s1.tif", "0" * 64, 1.0, None, {})
    at_lon, lat = 179.9995, -16.51
    ship = Detection("taveuni/s1#0", "taveuni/s1", "vessel", box(at_lon - 0.0004, lat - 0.00005, at_lon + 0.0004, lat + 0.00005),
                     100.0, 15.0, 270.0, 0.9, "test", "1")  # fmt: skip
    # Westward at about 6 kn: 0.001° east of 180° a minute before the image, 0.002° west of it a minute after.
    crossing = AisTrack("512000001", np.array([t0 - 60, t0 + 60]), np.array([lat, lat]), np.array([-179.999, 179.998]),
                        np.array([6.0, 6.0]), np.array([270.0, 270.0]), "", 100.0, None)  # fmt: skip
    pos = position_at(crossing, T)
    assert pos is not None and pos.lon == pytest.approx(179.9995, abs=1e-6)
    res = match_observation(obs, [ship], [crossing], site)
    assert [(m.mmsi, m.distance_m < 5) for m in res.matched] == [("512000001", True)] and not res.dark
    # Moored 0.0001° across the line, its hull centred 53 m away on the site's side: near the site, and matched.
    moored = AisTrack("512000002", np.array([t0 - 60, t0 + 60]), np.array([lat, lat]), np.array([-179.9999, -179.9999]),
                      np.array([0.0, 0.0]), np.array([np.nan, np.nan]), "", 100.0, None)  # fmt: skip
    res = match_observation(obs, [replace(ship, footprint=box(179.9994, lat - 0.00005, 179.9998, lat + 0.00005))], [moored], site)
    assert [(m.mmsi, round(m.distance_m)) for m in res.matched] == [("512000002", 53)] and not res.dark

    csv = _write(tmp_path / "a.csv", """
mmsi,time,lat,lon
512000001,2024-10-17T09:29:00Z,-16.51,-179.999
512000001,2024-10-17T09:31:00Z,-16.51,179.998
512000003,2024-10-17T09:30:00Z,-16.51,-179.5
""")
    data = read_ais([csv], windows_for([obs], {"taveuni": site}, AisParams()))
    assert set(data.tracks) == {"512000001"} and data.tracks["512000001"].times.size == 2


def test_positions_at_leaves_out_tracks_without_a_position() -> None:
    tracks = [_track("273000001", [(-60, 0, 0, 0, None), (60, 0, 0, 0, None)]), _track("273000002", [(3600, 0, 0, 0, None)])]
    assert [p.mmsi for p in positions_at(tracks, T)] == ["273000001"]


# ---------------------------------------------------------------- the command


def _wgs(east: float, north: float) -> tuple[float, float]:
    p = reproject_geometry(Point(CX + east, CY + north), CRS, "EPSG:4326")
    return p.x, p.y


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The report world (a 118 m SAR detection at 21:00 and a 114 m optical one at 01:00 on 17 Oct) and an
    AIS file: the ship broadcasting around the SAR look only, and a second MMSI 300 m off inside the site."""
    root = tmp_path_factory.mktemp("ais") / "ws"
    build(root)
    ship, other = _wgs(3, 4), _wgs(-300, -300)
    rows = ["mmsi,time,lat,lon,sog,length,name"]
    for minutes in (-4, -1, 2, 5):
        t = datetime(2024, 10, 17, 21, tzinfo=UTC) + timedelta(minutes=minutes, seconds=10)
        stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"273111111,{stamp},{ship[1]:.6f},{ship[0]:.6f},0.0,113,NIKOLAY")
        rows.append(f"273222222,{stamp},{other[1]:.6f},{other[0]:.6f},0.0,90,CARGO")
    rows.append("12345,2024-10-17T21:00:00Z,42.88,132.338,0,1,BAD")
    # The file is a day's, 17 October (a vessel 5 km off at its first and last minute): the images of the
    # 20th are outside it, not matched (test_ais_coverage.py), while the 01:00 image is inside.
    far = _wgs(5000, 0)
    rows += [f"273333333,2024-10-17T{t}Z,{far[1]:.6f},{far[0]:.6f},0.0,50,FAR" for t in ("00:00:05", "23:59:55")]
    ais = root / "ais.csv"
    ais.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root, ais


def test_command_prints_matched_dark_and_unseen(world: tuple[Path, Path], tmp_path: Path) -> None:
    root, ais = world
    out = tmp_path / "ais.geojson"
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(root), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Simulated imagery." in res.output
    assert "skipped (mmsi 1)" in res.output
    assert "matched dunai:sim-dunai-2024-10-17-sar#0 = MMSI 273111111 NIKOLAY" in res.output
    assert "dark    dunai:sim-dunai-2024-10-17-optical#0" in res.output  # no AIS around 01:00
    assert "unseen  MMSI 273222222 CARGO" in res.output
    assert "dunai: AIS: 1 matched, 1 dark, 1 unseen over 2 observation(s); 2 outside the AIS files' times or area" in res.output
    assert "candidate only" in res.output
    # A position names its coordinates (it printed "at 132.3…, 42.8…", lon first, as a map search box reads lat).
    dark = next(line for line in res.output.splitlines() if line.startswith("  dark    "))
    assert re.search(r"at lat 4\d\.\d{5}, lon 13\d\.\d{5}", dark), dark
    # Each image's time says its zone (it read "2024-10-17 21:00 sar", a local time to a reader at Dunai).
    assert "2024-10-17 21:00 UTC sar     dunai:sim-dunai-2024-10-17-sar: 1 matched" in res.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    statuses = sorted(f["properties"]["status"] for f in fc["features"])
    assert statuses == ["dark", "matched", "unseen"]
    assert all(f["properties"]["simulated"] is True and f["properties"]["image"].startswith("archive/") for f in fc["features"])
    # Each point's lon, lat attributes are where it is drawn: a match's were its AIS position, metres off its point.
    for f in fc["features"]:
        assert [round(f["properties"]["lon"], 7), round(f["properties"]["lat"], 7)] == f["geometry"]["coordinates"]
    (match,) = (f["properties"] for f in fc["features"] if f["properties"]["status"] == "matched")
    assert (match["ais_lon"], match["ais_lat"]) != (match["lon"], match["lat"])
    # Computed on request: a second run says the same, and the workspace holds no new rows.
    again = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(root), "--json"])
    doc = json.loads(again.output)
    assert doc["sites"]["dunai"] == {"observations": 2, "date_only": 0, "not_detected": 0, "not_covered": 2, "matched": 1,
                                     "dark": 1, "unseen": 1, "hidden": 0, "unplaced": 0}  # fmt: skip
    sar = next(o for o in doc["observations"] if o["observation_id"] == "dunai:sim-dunai-2024-10-17-sar")
    assert sar["matched"][0]["ais_length_m"] == 113 and sar["matched"][0]["length_m"] == 118
    assert sar["matched"][0]["distance_m"] < 20


def test_command_says_when_the_ais_file_is_simulated(world: tuple[Path, Path], tmp_path: Path) -> None:
    # `simulate --ais` writes a `simulated` column, which nothing read: `ais` said "Simulated imagery." of the
    # images and nothing of the AIS positions it matched them with, themselves made up.
    root, ais = world
    lines = ais.read_text(encoding="utf-8").splitlines()
    sim = tmp_path / "sim-ais.csv"
    sim.write_text("\n".join([lines[0] + ",simulated", *(line + ",true" for line in lines[1:])]) + "\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(sim), "-w", str(root)])
    assert res.exit_code == 0, res.output
    assert f"read {sim} (generic, SIMULATED AIS): 11 rows" in res.output
    doc = json.loads(CliRunner().invoke(main, ["ais", "dunai", "--ais", str(sim), "--ais", str(ais), "-w", str(root), "--json"]).stdout)
    assert [f["simulated"] for f in doc["files"]] == [True, False]
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(root)])
    assert "SIMULATED AIS" not in res.output and f"read {ais} (generic): 11 rows" in res.output
    out = tmp_path / "r.html"  # the report's AIS section names it so too
    assert CliRunner().invoke(main, ["report", "-w", str(root), "--out", str(out), "--ais", str(sim)]).exit_code == 0
    assert "sim-ais.csv (generic, SIMULATED AIS, 11 rows" in out.read_text(encoding="utf-8")


def test_command_writes_kml_points_and_refuses_other_suffixes(world: tuple[Path, Path], tmp_path: Path) -> None:
    # Was: `--out dark.kml` refused ("name the file .geojson or .json or .csv"): the dark vessels could not go to
    # Google Earth. A point per row, a style per status, the CSV's columns as typed SchemaData.
    root, ais = world
    out = tmp_path / "dark.kml"
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(root), "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = ET.fromstring(out.read_bytes())
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    assert doc.findtext("k:Document/k:name", namespaces=ns).endswith("(SIMULATED imagery)")
    styles = {s.get("id"): s.findtext("k:IconStyle/k:color", namespaces=ns) for s in doc.iterfind(".//k:Style", ns)}
    assert styles == {"ais-matched": "ffe9b456", "ais-dark": "ff005ed5", "ais-unseen": "ff42e4f0"}
    fields = {f.get("name"): f.get("type") for f in doc.iterfind(".//k:Schema/k:SimpleField", ns)}
    assert list(fields) == list(AIS_CSV_COLUMNS)
    assert (fields["mmsi"], fields["length_m"], fields["distance_m"], fields["simulated"]) == ("string", "double", "double", "bool")
    marks = {pm.findtext("k:styleUrl", namespaces=ns): pm for pm in doc.iterfind(".//k:Placemark", ns)}
    assert set(marks) == {"#ais-matched", "#ais-dark", "#ais-unseen"}
    m = marks["#ais-matched"]
    assert m.findtext("k:name", namespaces=ns) == "matched MMSI 273111111 NIKOLAY (SAR, simulated)"
    assert m.findtext("k:TimeStamp/k:when", namespaces=ns).startswith("2024-10-17T21:00")
    data = {d.get("name"): d.text for d in m.iterfind(".//k:SimpleData", ns)}
    lon, lat = (float(v) for v in m.findtext("k:Point/k:coordinates", namespaces=ns).split(",")[:2])
    assert (float(data["lon"]), float(data["lat"])) == (lon, lat) and float(data["ais_length_m"]) == 113
    assert marks["#ais-dark"].findtext("k:name", namespaces=ns).startswith("dark 114 m detection (optical, simulated)")
    # A folder per site and status, as QGIS opens them as layers.
    assert [f.findtext("k:name", namespaces=ns) for f in doc.iterfind(".//k:Folder/k:Folder", ns)] == [
        "dunai matched", "dunai dark", "dunai unseen"]
    for name in ("dark.kmz", "dark.txt"):
        res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(root), "--out", str(tmp_path / name)])
        assert res.exit_code == 2 and name in res.stderr and ".kml" in res.stderr, res.output
        assert not (tmp_path / name).exists()


def test_command_kml_points_come_into_gdal_typed(world: tuple[Path, Path], tmp_path: Path) -> None:
    # What QGIS reads (GDAL's LIBKML driver): a layer per site and status, numbers as numbers, points as points.
    pyogrio = pytest.importorskip("pyogrio")
    if "LIBKML" not in pyogrio.list_drivers():
        pytest.skip("GDAL without its LIBKML driver")
    root, ais = world
    out = tmp_path / "ais.kml"
    assert CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(root), "--out", str(out)]).exit_code == 0
    layers = {str(name): str(kind) for name, kind in pyogrio.list_layers(out)}
    assert {"dunai matched", "dunai dark", "dunai unseen"} <= set(layers)
    meta, _, wkb, values = pyogrio.raw.read(out, layer="dunai matched")
    col = dict(zip(meta["fields"], values, strict=True))
    assert [shapely.from_wkb(g).geom_type for g in wkb] == ["Point"]
    assert col["distance_m"].dtype.kind == "f" and col["simulated"].dtype == bool and list(col["mmsi"]) == ["273111111"]


def test_command_geojson_points_carry_the_csv_columns(world: tuple[Path, Path], tmp_path: Path) -> None:
    # Was: each status its own properties (a dark point had no `mmsi`, a match a `gate_m`), and an unseen
    # position's AIS length sat in `length_m`, which is a detection's measured length at every other point.
    root, ais = world
    out = tmp_path / "ais.geojson"
    assert CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(root), "--out", str(out)]).exit_code == 0
    fc = json.loads(out.read_text(encoding="utf-8"))
    for f in fc["features"]:
        assert list(f["properties"])[: len(AIS_CSV_COLUMNS)] == list(AIS_CSV_COLUMNS)
    by = {f["properties"]["status"]: f["properties"] for f in fc["features"]}
    assert by["dark"]["mmsi"] is None and isinstance(by["dark"]["length_m"], float)
    assert by["unseen"]["length_m"] is None and by["unseen"]["ais_length_m"] == 90


def test_command_reads_a_time_column_in_the_zone_its_name_gives(world: tuple[Path, Path], tmp_path: Path) -> None:
    # Was: refused, "generic lacks 'time'", for a header "Time (UTC+10)" of local times. Read in that zone, the file
    # matches as the UTC one does, and the read line and the report say which zone its times were read in.
    root, ais = world
    lines = ais.read_text(encoding="utf-8").splitlines()
    local = [lines[0].replace(",time,", ",Time (UTC+10),")]
    for line in lines[1:]:
        mmsi, stamp, rest = line.split(",", 2)
        t = datetime.fromisoformat(stamp) + timedelta(hours=10)
        local.append(f"{mmsi},{t:%Y-%m-%d %H:%M:%S},{rest}")
    zoned = tmp_path / "local.csv"
    zoned.write_text("\n".join(local) + "\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(zoned), "-w", str(root)])
    assert res.exit_code == 0, res.output
    assert f"read {zoned} (generic, times without a zone at UTC+10:00 as its header says): 11 rows" in " ".join(res.output.split())
    assert "dunai: AIS: 1 matched, 1 dark, 1 unseen over 2 observation(s)" in res.output
    html = tmp_path / "r.html"
    assert CliRunner().invoke(main, ["report", "-w", str(root), "--out", str(html), "--ais", str(zoned)]).exit_code == 0
    assert "local.csv (generic, times without a zone at UTC+10:00 as its header says, 11 rows" in html.read_text(encoding="utf-8")


def test_command_date_range_and_gap(world: tuple[Path, Path]) -> None:
    root, ais = world
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(root), "--from", "2024-10-18", "--json"])
    assert res.exit_code == 0, res.output
    assert [o["acquired"][:10] for o in json.loads(res.output)["observations"]] == ["2024-10-20", "2024-10-20"]
    # Reports 3 min apart: with a gap of 2 min nothing is interpolated, and the nearest is 50 s off: held.
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(root), "--max-gap-min", "2", "--json"])
    sar = next(o for o in json.loads(res.output)["observations"] if o["observation_id"].endswith("17-sar"))
    assert sar["matched"][0]["method"] == "held"


def test_command_refuses_a_file_of_another_form(world: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = world
    bad = _write(tmp_path / "positions.csv", "ship,when,y,x\n")
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(bad), "-w", str(root)])
    assert res.exit_code == 1 and str(bad) in res.output and "'mmsi'" in res.output
    res = CliRunner().invoke(main, ["ais", "nowhere", "--ais", str(bad), "-w", str(root)])
    assert res.exit_code == 1 and "nowhere" in res.output


def test_command_says_an_image_known_only_by_its_date_is_not_matched(world: tuple[Path, Path], tmp_path: Path) -> None:
    root, ais = world
    import shutil

    copy = tmp_path / "ws"
    shutil.copytree(root, copy)
    from sitewatch.workspace import open_workspace

    with open_workspace(copy).store() as st:
        obs = st.get_observation("dunai:sim-dunai-2024-10-17-sar")
        dated = replace(obs, provenance=dict(obs.provenance) | {"acquired_from": f"file name, date only ({DATE_ONLY_NOTE})"})
        st.put_observation(dated)
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(copy)])
    assert res.exit_code == 0, res.output
    assert "dunai:sim-dunai-2024-10-17-sar: not matched: only the date of this image is known" in res.output
    # No time is printed for it: "2024-10-17 21:00" (or midnight) would be a time the image does not have.
    assert "2024-10-17 (time unknown) sar     dunai:sim-dunai-2024-10-17-sar: not matched" in res.output
    assert "1 known only by date, not matched" in res.output


# ---------------------------------------------------------------- simulated AIS


def test_simulated_ais_follows_the_scenario_and_leaves_the_dark_ships_out(tmp_path: Path) -> None:
    from sitewatch.analysis.ais_eval import broadcasting_vessels
    from sitewatch.sources.sim_ais import simulated_ais_rows, vessel_mmsi, write_simulated_ais
    from sitewatch.sources.simulate import _frame, _vessel_box, load_scenario, shorten

    scen = shorten(load_scenario("seed-story"), days=4, start=date(2024, 10, 14), sites=["dunai"])
    dark = {v.id for v in scen.vessels if not v.ais}
    assert dark == {"alligator-nikolay-vilkov", "ropucha-landing-ship"}
    every = simulated_ais_rows(scen)
    rows = [r for r in every if r["vessel_id"] != "traffic-dunai"]  # passing traffic offshore: below
    assert {r["vessel_id"] for r in rows} == {"cargo-rajin-dunai"}  # at the quay 14-16 Oct; the Alligator is dark
    site = scen.site("dunai")
    frame = _frame(site)
    cargo = next(v for v in scen.vessels if v.id == "cargo-rajin-dunai")
    visit = next(v for v in cargo.visits if v.site == "dunai")
    box_ = _vessel_box(frame, site, cargo, visit)
    from pyproj import Transformer

    to_utm = Transformer.from_crs("EPSG:4326", frame.crs, always_xy=True)
    offsets = [math.hypot(*(a - b for a, b in zip(to_utm.transform(float(r["lon"]), float(r["lat"])), (box_.cx, box_.cy), strict=True)))
               for r in rows]  # fmt: skip
    assert max(offsets) < 50 and 2 < sum(offsets) / len(offsets) < 25  # 10 m noise
    times = sorted({datetime.fromisoformat(r["time"]) for r in rows})
    assert all(visit.window.contains(t) for t in times)
    assert all(r["mmsi"] == vessel_mmsi(cargo) for r in rows)
    path, n = write_simulated_ais(scen, tmp_path / "ais.csv")
    assert n == len(every) and broadcasting_vessels([path])["cargo-rajin-dunai"] == vessel_mmsi(cargo)
    assert read_ais([path]).files[0].format == "generic"
    assert simulated_ais_rows(scen) == every  # the same seed, the same reports
    # Passing traffic reports around every image of the site, beyond what `sitewatch ais` reads around it, so
    # the file covers the days the only ships at Dunai are dark (the 17th: the Alligator) as a real day's file would.
    traffic = [r for r in every if r["vessel_id"] == "traffic-dunai"]
    assert {r["time"][:10] for r in traffic} == {"2024-10-14", "2024-10-15", "2024-10-16", "2024-10-17"}
    far = [to_utm.transform(float(r["lon"]), float(r["lat"])) for r in traffic]
    assert min(math.hypot(x - box_.cx, y - box_.cy) for x, y in far) > 20_000


def test_scenario_ais_keys_are_checked(tmp_path: Path) -> None:
    from sitewatch.sources.scenario import load_scenario

    text = Path(__file__).parents[1].joinpath("src/sitewatch/data/scenarios/seed-story.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("    ais: false\n", "    ais: false\n    mmsi: 12345\n", 1), encoding="utf-8")
    with pytest.raises(InputError, match=r"mmsi: '12345' is not an MMSI"):
        load_scenario(bad)
    bad.write_text(text.replace("    ais: false\n", "    ais: maybe\n", 1), encoding="utf-8")
    with pytest.raises(InputError, match=r"vessels\[0\]\.ais"):
        load_scenario(bad)


def test_simulated_ais_scored_against_the_truth_in_a_demo(tmp_path: Path) -> None:
    from sitewatch.demo import run_demo
    from sitewatch.sources.simulate import load_scenario, shorten

    # Dunai on 16 and 17 October: the cargo ship at the quay (broadcasting) on the 16th, the Alligator (dark) on the 17th.
    scen = shorten(load_scenario("seed-story"), days=2, start=date(2024, 10, 16), sites=["dunai"])
    demo = run_demo(tmp_path / "demo", scenario=scen, workers=1)
    assert (tmp_path / "demo" / "ais" / "simulated-ais.csv").is_file()
    c = demo.ais["sites"]["dunai"]
    assert c["matched"] >= 1 and c["dark"] >= 1 and c["unseen"] == 0
    d = demo.ais["dark"]
    assert d["truly_dark_detected"] >= 1 and d["truly_dark_found"] == d["truly_dark_detected"]
    assert d["dark_broadcasting"] == 0 and d["matched_right"] == d["matched"] == c["matched"]
    res = CliRunner().invoke(main, ["eval", "-w", str(tmp_path / "demo"), "--no-record", "--ais", str(tmp_path / "demo" / "ais" / "simulated-ais.csv")])
    assert res.exit_code == 0, res.output
    assert f"AIS dark vessels: {d['truly_dark_found']} of {d['truly_dark_detected']} detections of dark vessels found dark" in res.output


def test_report_has_an_ais_section_naming_each_image(world: tuple[Path, Path], tmp_path: Path) -> None:
    root, ais = world
    out = tmp_path / "r.html"
    res = CliRunner().invoke(main, ["report", "-w", str(root), "--out", str(out), "--ais", str(ais)])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    section = html[html.index('id="ais"'):html.index('id="provenance"')]
    assert "candidate only" in section and "ais.csv (generic, 11 rows" in section
    # Each row's image is a link to the file, as every image named in the report is.
    link = re.search(r'dunai:sim-dunai-2024-10-17-sar · <a href="([^"]+)">archive/dunai/sim-dunai-2024-10-17-sar.tif</a>', section)
    assert link and (out.parent / unquote(link.group(1))).resolve() == (root / "archive/dunai/sim-dunai-2024-10-17-sar.tif").resolve()
    assert "MMSI 273111111 NIKOLAY" in section and "MMSI 273222222 CARGO" in section
    without = tmp_path / "plain.html"
    assert CliRunner().invoke(main, ["report", "-w", str(root), "--out", str(without)]).exit_code == 0
    assert 'id="ais"' not in without.read_text(encoding="utf-8")


def test_stations_that_are_no_ship_are_not_kept(tmp_path: Path) -> None:
    # A coast station (00…), an aid to navigation (99…) and a SAR aircraft (111…) report positions too.
    f = _write(tmp_path / "a.csv", """
mmsi,time,lat,lon
002191000,2024-10-17T09:30:00Z,42.88,132.338
992191234,2024-10-17T09:30:00Z,42.88,132.338
111219001,2024-10-17T09:30:00Z,42.88,132.338
219000001,2024-10-17T09:30:00Z,42.88,132.338
""")
    data = read_ais([f])
    assert set(data.tracks) == {"219000001"}
    assert (data.files[0].kept, data.files[0].not_ships, data.files[0].skipped) == (1, 3, 0)


def test_view_states_read_data_and_cloud_from_the_image(tmp_path: Path) -> None:
    import numpy as np
    from affine import Affine

    from sitewatch.analysis.ais import view_states
    from sitewatch.testing import write_tiff

    # 200 × 200 pixels of 10 m on GRID; SCL cloud (9) in the north-west quarter, no data in the south-east one.
    bands = np.full((5, 200, 200), 0.05, np.float32)
    bands[4] = 6  # water
    bands[4, :100, :100] = 9
    bands[:4, 100:, 100:] = np.nan
    path = write_tiff(tmp_path / "o.tif", bands, crs=CRS, transform=Affine(*GRID.transform),
                      descriptions=("blue", "green", "red", "nir", "SCL"))  # fmt: skip
    scene = SceneRef("simulator", "sim", "o", "optical", T, 10.0)
    obs = Observation("dunai/o", "dunai", scene, GRID, "o.tif", "0" * 64, 0.75, 0.25)
    states = view_states(path, obs, {"nw": _wgs(-500, 500), "se": _wgs(500, -500), "ne": _wgs(500, 500), "far": _wgs(5000, 0)})
    assert states == {"nw": "cloud", "se": "no data", "ne": "in view", "far": "no data"}
    # Without an SCL band, the spectral test: a bright white cloud of 600 m.
    bright = np.full((4, 200, 200), 0.05, np.float32)
    bright[:, 20:80, 20:80] = 0.6
    path = write_tiff(tmp_path / "p.tif", bright, crs=CRS, transform=Affine(*GRID.transform), descriptions=("blue", "green", "red", "nir"))
    states = view_states(path, obs, {"cloud": _wgs(-500, 500), "clear": _wgs(500, -500)})
    assert states == {"cloud": "cloud", "clear": "in view"}


@pytest.mark.parametrize(("data", "words"), [
    # A gzip file or a zip of one CSV is read (test_ais_provider_files.py); a damaged one is named so.
    (b"PK\x03\x04" + bytes(range(256)) * 40, "zip archive that cannot be opened"),
    (b"\x1f\x8b\x08\x00" + bytes(range(256)) * 40, "cannot be unpacked"),
    (b"mmsi\x00,time,lat,lon\n\x00\x01\x02", "binary data"),
    (b"\x1b[31m" + b"x" * 50_000 + b"\n1\n", "not an AIS CSV"),
    # (A spreadsheet's CSV separated by ';' or tabs is read: test_ais_headers.py.)
    # (UTF-16 with its byte-order mark, Excel's "Unicode Text", is read: test_ais_headers.py.)
], ids=["zip", "gzip", "nul", "long-header"])  # fmt: skip
def test_a_file_that_is_not_a_text_csv_is_named_with_what_to_do_in_a_short_line(tmp_path: Path, data: bytes, words: str) -> None:
    path = tmp_path / "ais.csv"
    path.write_bytes(data)
    with pytest.raises(InputError) as err:
        read_ais([path])
    message = str(err.value)
    assert str(path) in message and words in message, message
    assert len(message) < 700 and message.isprintable(), message


def test_every_simulated_ais_row_says_it_is_simulated() -> None:
    """Its MMSIs have a real country's MID first: a row copied out of the file must not pass for a real report."""
    from sitewatch.sources.scenario import load_scenario
    from sitewatch.sources.sim_ais import ais_csv_text, simulated_ais_rows

    rows = simulated_ais_rows(load_scenario("seed-story"))
    assert rows and all(r["simulated"] == "true" for r in rows)
    assert ais_csv_text(rows).splitlines()[0].endswith(",simulated")
