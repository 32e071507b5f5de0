"""AIS files as providers and a user's own tools write them, walked through as an analyst would (7 Dec):
MMSIs as zero-padded text, a transponder's 0, 0 without a fix, rows out of time order, a file thinned to a report
every 15 minutes (and --max-gap-min in `links`, `report` and `serve`), `ais --out` as CSV, gzip and zip files,
AISHub's CSV.

The files are written here; none is real data."""

from __future__ import annotations

import csv
import gzip
import json
import random
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from shapely.geometry import Point

import sitewatch.analysis.ais as ais_module
from _report_world import CRS, CX, CY, build
from sitewatch.analysis.ais_csv import AisWindow, read_ais
from sitewatch.analysis.ais_eval import broadcasting_vessels
from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.geo import reproject_geometry

T = datetime(2024, 10, 17, 9, 30, tzinfo=UTC)
WINDOW = AisWindow(132.3, 42.8, 132.4, 42.9, T - timedelta(minutes=10), T + timedelta(minutes=10))


def _write(path: Path, text: str) -> Path:
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


def test_mmsis_written_as_text_padded_with_zeros_are_read(tmp_path: Path) -> None:
    # Was: every row skipped ("mmsi 2"), so every vessel at the site came out dark.
    f = _write(tmp_path / "export.csv", """
mmsi;timestamp;latitude;longitude
0273456780;2024-10-17T09:30:00Z;42,88;132,338
00273456781;2024-10-17T09:30:00Z;42,881;132,339
1273456782;2024-10-17T09:30:00Z;42,882;132,339
""")
    data = read_ais([f])
    assert set(data.tracks) == {"273456780", "273456781"}
    assert data.files[0].bad == {"mmsi": 1}  # ten digits that are not zeros first: no MMSI


def test_a_file_whose_mmsis_near_the_sites_all_fail_is_refused_naming_the_column(tmp_path: Path) -> None:
    # Was: the rows near the sites skipped for their MMSI, those elsewhere never asked, no error: every
    # detection at the site was called dark.
    rows = [f"MMSI-{273000000 + i},2024-10-17T09:{28 + i}:00Z,42.88,132.338" for i in range(3)]
    rows += [f"MMSI-{273000010 + i},2024-10-17T09:30:00Z,10.0,10.0" for i in range(30)]
    f = _write(tmp_path / "export.csv", "MMSI,time,lat,lon\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError) as err:
        read_ais([f], [WINDOW])
    text = str(err.value)
    assert str(f) in text and "'MMSI' column" in text and "'MMSI-273000000' on line 2" in text, text
    # One bad MMSI among good ones is a skipped row, as before.
    g = _write(tmp_path / "mixed.csv", "mmsi,time,lat,lon\nMMSI-1,2024-10-17T09:30:00Z,42.88,132.338\n"
                                       "273000001,2024-10-17T09:30:00Z,10.0,10.0\n")  # fmt: skip
    assert read_ais([g], [WINDOW]).files[0].bad == {"mmsi": 1}


def test_a_position_of_0_0_is_no_position(tmp_path: Path) -> None:
    # Was: read as a place in the Gulf of Guinea, so the file's box, printed on every image it did not
    # cover, ran from lon 0.00, lat 0.00 to the port.
    f = _write(tmp_path / "spire.csv", """
timestamp,mmsi,latitude,longitude
2024-10-17T09:30:00Z,273000001,42.88,132.338
2024-10-17T09:31:00Z,273000001,0.0,0.0
2024-10-17T09:32:00Z,273000002,1.5,12.5
""")
    (s,) = read_ais([f]).files
    assert s.bad == {"position": 1} and s.kept == 2
    assert s.extent == (12.5, 1.5, 132.338, 42.88)


def _shuffled_day(path: Path) -> list[str]:
    """A day of a ship far from the window, one report a minute, written in no time order (sorted by MMSI, then
    shuffled within it, as two exports joined): the rows' times, as written."""
    times = [(datetime(2024, 10, 17, tzinfo=UTC) + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ") for m in range(1440)]
    order = times[:]
    random.Random(7).shuffle(order)
    path.write_text("mmsi,time,lat,lon\n" + "".join(f"273000009,{t},10.0,10.0\n" for t in order), encoding="utf-8")
    return times


def test_the_span_of_a_file_out_of_time_order_is_its_first_and_last_report(tmp_path: Path) -> None:
    # Was: read from every 64th row, so a shuffled day spanned 00:05 to 23:5x, and an image taken in its first or
    # last minutes was "not covered", its vessels not judged.
    times = _shuffled_day(tmp_path / "day.csv")
    (s,) = read_ais([tmp_path / "day.csv"], [WINDOW]).files
    assert (s.first, s.last) == (times[0], times[-1])


def _wgs(east: float, north: float) -> tuple[float, float]:
    p = reproject_geometry(Point(CX + east, CY + north), CRS, "EPSG:4326")
    return p.x, p.y


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report world: a 118 m SAR detection at 21:00 and a 114 m optical one at 01:00 on 17 October."""
    root = tmp_path_factory.mktemp("walk") / "ws"
    build(root)
    return root


def test_zero_padded_mmsis_match_the_vessel_rather_than_calling_it_dark(world: Path, tmp_path: Path) -> None:
    ship = _wgs(3, 4)
    rows = ["MMSI,TIMESTAMP,LAT,LON,SPEED,SHIPNAME"]
    for minutes in (-4, -1, 2, 5):
        t = datetime(2024, 10, 17, 21, tzinfo=UTC) + timedelta(minutes=minutes, seconds=10)
        rows.append(f"0273111111,{t:%Y-%m-%dT%H:%M:%S}+00:00,{ship[1]:.6f},{ship[0]:.6f},0.0,NIKOLAY")
    rows += [f"0273333333,2024-10-17T{t}Z,{ship[1] + 0.05:.6f},{ship[0]:.6f},0.0,FAR" for t in ("00:00:05", "23:59:55")]
    ais = _write(tmp_path / "padded.csv", "\n".join(rows) + "\n")
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(world), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    sar = next(o for o in doc["observations"] if o["observation_id"] == "dunai:sim-dunai-2024-10-17-sar")
    assert [m["mmsi"] for m in sar["matched"]] == ["273111111"] and sar["dark"] == []


def test_a_vessel_whose_reports_are_too_far_apart_to_place_is_named_not_left_silently_dark(world: Path, tmp_path: Path) -> None:
    # A file thinned to a report every 15 minutes (a provider's history, satellite AIS): the moored ship's reports
    # 8 min before and 7 min after the image are further apart than --max-gap-min 10, so it has no position and
    # its detection is dark. Was: "no AIS position near" and nothing more, the ship's AIS in the file unmentioned.
    ship = _wgs(3, 4)
    rows = ["mmsi,time,lat,lon,sog,name"]
    for t in ("20:37", "20:52", "21:07", "21:22"):
        rows.append(f"273111111,2024-10-17T{t}:00Z,{ship[1]:.6f},{ship[0]:.6f},0.0,NIKOLAY")
    rows += [f"273333333,2024-10-17T{t}Z,{ship[1] + 0.05:.6f},{ship[0]:.6f},0.0,FAR" for t in ("00:00:05", "23:59:55")]
    ais = _write(tmp_path / "thinned.csv", "\n".join(rows) + "\n")
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(world)])
    assert res.exit_code == 0, res.output
    assert "1 dark, 0 unseen, 1 AIS vessel(s) not placed" in res.output
    assert ("unplaced MMSI 273111111 NIKOLAY" in res.output and "reports 8 min before and 7 min after the image, "
            "15 min apart (over --max-gap-min 10)" in res.output and "--max-gap-min 15 would place it" in res.output), res.output
    assert "1 time(s) an AIS vessel reporting near the site could not be placed" in res.output
    doc = json.loads(CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(world), "--json"]).output)
    sar = next(o for o in doc["observations"] if o["observation_id"] == "dunai:sim-dunai-2024-10-17-sar")
    assert [(u["mmsi"], u["before_s"], u["after_s"]) for u in sar["unplaced"]] == [("273111111", 480.0, 420.0)]
    assert doc["sites"]["dunai"]["unplaced"] == 1
    # As the line says: with --max-gap-min 15 it is placed and matched, and nothing is left unplaced.
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(world), "--max-gap-min", "15", "--json"])
    sar = next(o for o in json.loads(res.output)["observations"] if o["observation_id"] == "dunai:sim-dunai-2024-10-17-sar")
    assert [m["mmsi"] for m in sar["matched"]] == ["273111111"] and sar["dark"] == [] and sar["unplaced"] == []
    # The report's AIS section says so beside the dark detection (it printed the detection alone).
    html = tmp_path / "report.html"
    res = CliRunner().invoke(main, ["report", "dunai", "--ais", str(ais), "-w", str(world), "--out", str(html)])
    assert res.exit_code == 0, res.output
    assert "AIS near the site not placed at this time, its reports too far apart" in html.read_text(encoding="utf-8")
    assert "MMSI 273111111 NIKOLAY" in html.read_text(encoding="utf-8")


def test_an_unplaced_vessel_whose_near_report_has_no_speed_is_not_said_to_have_none_near(world: Path, tmp_path: Path) -> None:
    # A file without SOG (mmsi,time,lat,lon): the report 2 min before the 21:00 image is within reach of it but
    # has no speed to carry the ship to the image's time. The line said "none within 3 min of it", which was false.
    ship = _wgs(3, 4)
    for times, said in [
        (("20:43", "20:58", "21:09"), "reports 2 min before and 9 min after the image, 11 min apart (over --max-gap-min 10)"),
        (("20:43", "20:58"), "last report 2 min before the image, none on the other side within 10 min"),
    ]:
        rows = ["mmsi,time,lat,lon,name"]
        rows += [f"273111111,2024-10-17T{t}:00Z,{ship[1]:.6f},{ship[0]:.6f},NIKOLAY" for t in times]
        ais = _write(tmp_path / "nosog.csv", "\n".join(rows) + "\n")
        res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(world)])
        assert res.exit_code == 0, res.output
        line = " ".join(res.output.split())
        assert f"unplaced MMSI 273111111 NIKOLAY at lat 42.88004, lon 132.33803: {said}" in line, line
        assert "within 3 min of it" not in line, line
        assert "and its report 2 min from the image gives no speed or course (SOG, COG) to carry it to the image's time" in line, line


def _thinned(path: Path) -> Path:
    ship = _wgs(3, 4)
    rows = ["mmsi,time,lat,lon,sog,name"]
    rows += [f"273111111,2024-10-17T{t}:00Z,{ship[1]:.6f},{ship[0]:.6f},0.0,NIKOLAY" for t in ("20:37", "20:52", "21:07", "21:22")]
    rows += [f"273333333,2024-10-17T{t}Z,{ship[1] + 0.05:.6f},{ship[0]:.6f},0.0,FAR" for t in ("00:00:05", "23:59:55")]
    return _write(path, "\n".join(rows) + "\n")


def test_links_and_report_take_the_max_gap_that_ais_takes(world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Was: `ais --max-gap-min 15` placed a thinned file's ships, while `links --ais` and `report --ais` had no such
    # option and matched them with 10 minutes: the report called dark the ship `ais` had matched.
    ais = _thinned(tmp_path / "thinned.csv")
    html = tmp_path / "report.html"
    res = CliRunner().invoke(main, ["report", "dunai", "--ais", str(ais), "--max-gap-min", "15", "-w", str(world), "--out", str(html)])
    assert res.exit_code == 0, res.output
    text = html.read_text(encoding="utf-8")
    assert "= MMSI 273111111 NIKOLAY" in text and "not placed at this time" not in text
    seen: list[float] = []
    real = ais_module.match_workspace

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real(*args, **kwargs)
        seen.append(result.params.max_gap_s)
        return result

    monkeypatch.setattr(ais_module, "match_workspace", spy)
    res = CliRunner().invoke(main, ["links", "--ais", str(ais), "--max-gap-min", "15", "-w", str(world)])
    assert res.exit_code == 0, res.output
    assert seen == [900.0]
    # Without --ais it would change nothing: refused, as --ais-coverage is.
    for cmd in (["links"], ["report", "--out", str(tmp_path / "r.html")]):
        res = CliRunner().invoke(main, [*cmd, "--max-gap-min", "15", "-w", str(world)])
        assert res.exit_code == 2 and "give the AIS files too (--ais FILE)" in res.output, res.output


def test_ais_out_csv_is_a_spreadsheet_of_the_points(world: Path, tmp_path: Path) -> None:
    # Was: refused ("written as GeoJSON; name the file .geojson"): the dark vessels could not go to an editor's
    # spreadsheet but through GeoJSON.
    ais = _thinned(tmp_path / "thinned.csv")
    out = tmp_path / "dark.csv"
    res = CliRunner().invoke(main, ["ais", "dunai", "--ais", str(ais), "-w", str(world), "--max-gap-min", "15", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    by_status = {r["status"]: r for r in rows}
    assert set(by_status) == {"matched", "dark"}  # the SAR ship matched, the 01:00 optical one dark
    m = by_status["matched"]
    assert (m["observation_id"], m["mmsi"], m["name"], m["simulated"]) == ("dunai:sim-dunai-2024-10-17-sar", "273111111", "NIKOLAY", "true")
    assert m["image"].startswith("archive/") and float(m["lat"]) > 42 and float(m["ais_lat"]) > 42
    assert by_status["dark"]["mmsi"] == "" and float(by_status["dark"]["length_m"]) > 100


def test_a_gzip_file_or_a_zip_of_one_csv_is_read_as_downloaded(tmp_path: Path) -> None:
    # Was: refused, "gunzip it" / "unzip it": a day of MarineCadastre or the DMA unpacked to gigabytes first.
    text = "mmsi,time,lat,lon,name\n273000001,2024-10-17T09:30:00Z,42.88,132.338,ØSTERSØ\n"
    gz = tmp_path / "spire.csv.gz"
    gz.write_bytes(gzip.compress(text.encode("cp1252")))  # a Windows spreadsheet's bytes, compressed
    day = tmp_path / "aisdk-2024-10-17.zip"
    with zipfile.ZipFile(day, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("aisdk-2024-10-17.csv", text)
    data = read_ais([gz, day])
    assert [f.rows for f in data.files] == [1, 1] and data.files[1].duplicates == 1
    assert data.tracks["273000001"].name == "ØSTERSØ"
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as zf:
        zf.writestr("a.csv", text)
        zf.writestr("b.csv", text)
    with pytest.raises(InputError, match=r"two\.zip: is a zip archive of 2 file\(s\) \(a\.csv, b\.csv\), not of one CSV"):
        read_ais([two])
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gzip.compress((text * 2000).encode())[:500])
    with pytest.raises(InputError, match=r"cut\.csv\.gz: is compressed \(gzip or zip\) but cannot be unpacked"):
        read_ais([cut])


@pytest.mark.parametrize(("piece", "times", "what"), [("0,", 20_000_000, "longer than 4,096 characters"), (",0", 300, "of more than 256 fields")],
                         ids=["long-line", "many-fields"])  # fmt: skip
def test_a_gzip_that_unpacks_to_a_huge_line_is_refused_as_read_not_held_whole(tmp_path: Path, piece: str, times: int, what: str) -> None:
    row = piece * times
    # A 40 kB gzip of one 40 MB line of "0,0,0…" took 250 MB as one row read whole (a 1 MB one gigabytes): a
    # damaged download or a zip bomb could take the machine's memory. Now line 2 is refused as it is read.
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(("mmsi,time,lat,lon\n" + row + "\n").encode(), compresslevel=9))
    with pytest.raises(InputError, match=rf"bomb\.csv\.gz: not an AIS CSV: line 2 is {what}, as no AIS file's is"):
        read_ais([bomb])
    # A header line too long is refused the same way, not read whole to find its separator.
    bomb.write_bytes(gzip.compress(("mmsi,time,lat,lon" + "x" * 20_000_000 + "\n").encode(), compresslevel=9))
    with pytest.raises(InputError, match=r"line 1 is longer than 4,096 characters"):
        read_ais([bomb])


def test_an_aishub_export_is_read_with_its_gmt_times_and_its_size_from_a_b_c_d(tmp_path: Path) -> None:
    # AISHub's human-readable CSV (VesselFinder's has the same A, B, C, D): times '2024-10-17 09:30:00 GMT' and
    # the size as the antenna's distances. Was: refused, "no time could be read in its 'TIME' column"; and with
    # readable times, no AIS length (the gate took 50 m for half a hull of unknown length).
    f = _write(tmp_path / "aishub.csv", """
MMSI,TIME,LONGITUDE,LATITUDE,COG,SOG,HEADING,ROT,NAVSTAT,IMO,NAME,CALLSIGN,TYPE,A,B,C,D,DRAUGHT,DEST,ETA
273000001,2024-10-17 09:30:00 GMT,132.338,42.88,356,0.1,116,0,1,9118824,JIN HAI,BVKU,70,97,27,10,6,7.5,DUNAI,10-17 07:00
273000002,2024-10-17 09:31:00 GMT,132.339,42.881,0,0,511,0,1,0,NO SIZE,,0,0,0,0,0,0,,
""")
    data = read_ais([f])
    assert data.files[0].skipped == 0
    a = data.tracks["273000001"]
    assert (a.times[0], a.length_m, a.width_m) == (T.timestamp(), 124.0, 16.0)
    b = data.tracks["273000002"]
    assert (b.length_m, b.width_m) == (None, None)  # 0 is AIS's "not available"


def test_a_marinetraffic_export_has_its_speed_read_in_tenths_of_a_knot(tmp_path: Path) -> None:
    # MarineTraffic's CSV gives SPEED as knots x 10. Read as the generic form's knots, a ship at 12.3 kn (123) had
    # no speed (above 102.3, AIS's "not available") and a moored one at 0.5 kn (5) moved at 5 kn.
    f = _write(tmp_path / "marinetraffic.csv", """
MMSI,IMO,SHIP_ID,LAT,LON,SPEED,HEADING,COURSE,STATUS,TIMESTAMP,DSRC,UTC_SECONDS,SHIPNAME,LENGTH,WIDTH
273000001,9118824,712345,42.88,132.338,123,90,91,0,2024-10-17T09:30:00,TER,12,JIN HAI,124,16
273000001,9118824,712345,42.881,132.339,1023,511,360,0,2024-10-17 09:31:00,SAT,40,JIN HAI,124,16
273000002,0,712346,42.882,132.339,5,511,40,5,2024-10-17T09:30:00,TER,3,PIER BOAT,,
""")
    data = read_ais([f])
    assert data.files[0].format == "marinetraffic" and data.files[0].skipped == 0
    a, b = data.tracks["273000001"], data.tracks["273000002"]
    assert a.sogs[0] == pytest.approx(12.3) and np.isnan(a.sogs[1])  # 1023: AIS's 102.3, unknown
    assert b.sogs[0] == pytest.approx(0.5) and b.cogs[0] == 40.0
    assert (a.times[0], a.name, a.length_m, a.width_m) == (T.timestamp(), "JIN HAI", 124.0, 16.0)
    # Without a column of MarineTraffic's own, speed is the generic form's knots, as before.
    plain = _write(tmp_path / "plain.csv", "mmsi,timestamp,lat,lon,speed\n273000001,2024-10-17T09:30:00Z,42.88,132.338,5\n")
    generic = read_ais([plain])
    assert generic.files[0].format == "generic" and generic.tracks["273000001"].sogs[0] == 5.0


def test_a_file_with_a_marinetraffic_column_and_speeds_in_knots_is_not_read_in_tenths(tmp_path: Path) -> None:
    # A SHIP_ID or DSRC column told MarineTraffic's form and every speed was divided by 10: a generic file's SOG
    # (knots) of 12.3 read as 1.23 kn (a ship under way taken for one drifting), and a SPEED of 12.3, which
    # MarineTraffic never writes (its tenths are whole numbers), as well.
    sog = _write(tmp_path / "sog.csv", "mmsi,timestamp,lat,lon,sog,dsrc\n273000001,2024-10-17T09:30:00Z,42.88,132.338,12.3,TER\n")
    data = read_ais([sog])
    assert data.files[0].format == "marinetraffic" and data.tracks["273000001"].sogs[0] == pytest.approx(12.3)
    knots = _write(tmp_path / "knots.csv", "MMSI,TIMESTAMP,LAT,LON,SPEED,SHIP_ID\n"
                   "273000001,2024-10-17T09:30:00Z,42.88,132.338,12,55\n273000001,2024-10-17T09:31:00Z,42.88,132.338,12.3,55\n")  # fmt: skip
    with pytest.raises(InputError, match=r"knots.csv: its 'SPEED' column holds '12.3' on line 3, not a whole number of "
                                         r"tenths of a knot .* if its speeds are in knots, name the column SOG"):  # fmt: skip
        read_ais([knots])
    # Named SOG as the error asks, the file is read in knots.
    renamed = _write(tmp_path / "renamed.csv", knots.read_text().replace("SPEED", "SOG"))
    assert list(read_ais([renamed]).tracks["273000001"].sogs) == pytest.approx([12.0, 12.3])


def test_simulated_ais_gzipped_is_scored_as_read(tmp_path: Path) -> None:
    # `eval --ais sim.csv.gz` matched the gzipped file (read_ais reads it) and then fell over reading its vessel ids
    # itself: "UnicodeDecodeError: 'utf-8' codec can't decode byte 0x8b", a traceback.
    text = "mmsi,time,lat,lon,vessel_id,simulated\n273456780,2024-10-14T09:30:00Z,42.88,132.338,cargo,true\n"
    gz = tmp_path / "sim.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    assert broadcasting_vessels([gz]) == {"cargo": "273456780"}


def test_a_word_in_the_time_column_does_not_cut_the_span_of_a_file_in_time_order(tmp_path: Path) -> None:
    # A word sorts after every time written as digits, so a chunk's greatest text is then no time: its last row
    # still gives the file's last report (the span read the 193rd of 200 rows as the last).
    times = [(datetime(2024, 10, 17, tzinfo=UTC) + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ") for m in range(200)]
    rows = [f"273000009,{t},10.0,10.0" for t in times]
    rows.insert(50, "273000009,n/a,10.0,10.0")
    f = _write(tmp_path / "day.csv", "mmsi,time,lat,lon\n" + "\n".join(rows) + "\n")
    (s,) = read_ais([f], [WINDOW]).files
    assert (s.first, s.last) == (times[0], times[-1])


def test_the_dashboard_takes_the_max_gap_too(world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `serve --ais` settled the links page's links with 10 minutes whatever `ais --max-gap-min` had been told.
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from sitewatch.web import create_app

    ais = _thinned(tmp_path / "thinned.csv")
    seen: list[float] = []
    real = ais_module.match_workspace

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real(*args, **kwargs)
        seen.append(result.params.max_gap_s)
        return result

    monkeypatch.setattr(ais_module, "match_workspace", spy)
    client = TestClient(create_app(world, ais_files=[ais], ais_max_gap_s=900.0))
    assert client.get("/api/links").status_code == 200 and seen == [900.0]
    res = CliRunner().invoke(main, ["serve", "-w", str(world), "--max-gap-min", "15"])
    assert res.exit_code == 2 and "give the AIS files too (--ais FILE)" in res.output, res.output


def test_simulated_ais_vessel_ids_name_the_mmsis_read_ais_reads(tmp_path: Path) -> None:
    # `eval --ais` took the MMSIs as written while `ais` took the zeros padding them off: each match of a padded
    # MMSI was scored as naming another vessel's MMSI (matched_right 0 of 1). A semicolon-separated file too.
    padded = _write(tmp_path / "padded.csv",
                    "mmsi,time,lat,lon,vessel_id,simulated\n0273456780,2024-10-14T09:30:00Z,42.88,132.338,cargo,true\n")
    semi = _write(tmp_path / "semi.csv",
                  "mmsi;time;lat;lon;vessel_id;simulated\n273456781.0;2024-10-14T09:30:00Z;42,88;132,338;tug;true\n")
    assert broadcasting_vessels([padded, semi]) == {"cargo": "273456780", "tug": "273456781"}
    assert set(read_ais([padded, semi]).tracks) == {"273456780", "273456781"}
