"""AIS files in the shapes investigators get them besides MarineCadastre's and the DMA's own: other
names for the columns (Global Fishing Watch's ``ssvid``, ``timestamp``, ``speed_knots``), times written
as BigQuery exports them or as Unix seconds, and a European spreadsheet's semicolons and decimal commas.

The files are written here from the published column descriptions; none is real data."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sitewatch.analysis.ais_csv import read_ais
from sitewatch.errors import InputError

T = datetime(2024, 10, 17, 9, 30, tzinfo=UTC)


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text.lstrip("\n"), encoding=encoding)
    return path


def test_dma_column_names_with_iso_times_are_read(tmp_path: Path) -> None:
    # Was: taken for a DMA file and refused, "give the times as DD/MM/YYYY HH:MM:SS, as the Danish
    # Maritime Authority writes it", of times that are unambiguous ISO 8601.
    f = _write(tmp_path / "export.csv", """
MMSI,Timestamp,Latitude,Longitude
273000001,2024-10-17T09:30:00Z,42.88,132.338
273000001,2024-10-17T19:33:00+10:00,42.881,132.339
""")
    data = read_ais([f])
    tr = data.tracks["273000001"]
    assert list(tr.times) == [T.timestamp(), T.timestamp() + 180]
    assert data.files[0].skipped == 0


def test_a_dma_file_still_reads_its_day_first_times(tmp_path: Path) -> None:
    f = _write(tmp_path / "aisdk.csv", """
# Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,Heading,IMO,Callsign,Name,Ship type,Cargo type,Width,Length
05/10/2024 09:30:00,Class A,219000001,55.7,12.6,Moored,0,0.0,,511,Unknown,OXAB,DANA,Cargo,,16,100
""")
    tr = read_ais([f]).tracks["219000001"]
    assert tr.times[0] == datetime(2024, 10, 5, 9, 30, tzinfo=UTC).timestamp()  # 5 October, not 10 May


@pytest.mark.parametrize(("header", "row"), [
    # Global Fishing Watch's names (ssvid is its MMSI), a BigQuery CSV's time ("… UTC").
    ("ssvid,timestamp,lat,lon,speed_knots,course,shipname",
     "273000001,2024-10-17 09:30:00 UTC,42.88,132.338,10.5,90,ØSTERSØ"),
    # GFW's anonymised track files: Unix seconds, speed and course.
    ("mmsi,timestamp,distance_from_shore,distance_from_port,speed,course,lat,lon,is_fishing,source",
     "273000001,1729157400,0,0,10.5,90,42.88,132.338,-1,x"),
    ("mmsi,timestamp,distance_from_shore,distance_from_port,speed,course,lat,lon,is_fishing,source",
     "273000001,1729157400.0,0,0,10.5,90,42.88,132.338,-1,x"),
    # A tracking site's export: upper case, longitude as LNG, UTC time with a space.
    ("MMSI,TIMESTAMP,LAT,LNG,SPEED,COURSE,NAME", "273000001,2024-10-17 09:30:00,42.88,132.338,10.5,90,ØSTERSØ"),
    ("mmsi,datetime,latitude,longitude,sog,cog,vessel_name",
     "273000001,2024-10-17T09:30:00Z,42.88,132.338,10.5,90,ØSTERSØ"),
], ids=["gfw-bigquery", "gfw-unix", "gfw-unix-float", "tracker", "datetime"])  # fmt: skip
def test_common_other_names_of_the_columns_are_read(tmp_path: Path, header: str, row: str) -> None:
    f = _write(tmp_path / "track.csv", f"{header}\n{row}\n")
    data = read_ais([f])
    (s,) = data.files
    assert (s.rows, s.kept, s.skipped) == (1, 1, 0)
    tr = data.tracks["273000001"]
    assert tr.times[0] == T.timestamp()
    assert (tr.lats[0], tr.lons[0], tr.sogs[0], tr.cogs[0]) == (42.88, 132.338, 10.5, 90.0)
    assert tr.name in ("ØSTERSØ", "")


def test_unix_milliseconds_are_an_error_saying_so(tmp_path: Path) -> None:
    f = _write(tmp_path / "ms.csv", "mmsi,timestamp,lat,lon\n273000001,1729157400000,42.88,132.338\n")
    with pytest.raises(InputError) as err:
        read_ais([f])
    assert str(f) in str(err.value) and "'1729157400000'" in str(err.value)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_a_semicolon_separated_file_with_decimal_commas_is_read(tmp_path: Path, encoding: str) -> None:
    # A spreadsheet's CSV in a locale whose decimal mark is a comma: was refused, "save it comma-separated".
    # UTF-16 with its byte-order mark (Excel's "Unicode Text") was refused, "save it as UTF-8".
    f = _write(tmp_path / "eu.csv", """
MMSI;Zeit;Time;Lat;Lon;SOG;COG;Length;Width;Name
273000001;x;2024-10-17T09:30:00Z;42,88;132,338;10,5;90,0;112,5;15;Ижора
273000001;x;2024-10-17T09:33:00Z;42.881;132.339;;;112,5;15;Ижора
""", encoding)
    data = read_ais([f])
    (s,) = data.files
    assert (s.rows, s.kept, s.skipped) == (2, 2, 0)
    tr = data.tracks["273000001"]
    assert list(tr.lats) == [42.88, 42.881] and list(tr.lons) == [132.338, 132.339]
    assert tr.sogs[0] == 10.5 and math.isnan(tr.sogs[1]) and tr.cogs[0] == 90.0
    assert (tr.name, tr.length_m, tr.width_m) == ("Ижора", 112.5, 15.0)


def test_a_tab_separated_file_is_read(tmp_path: Path) -> None:
    f = _write(tmp_path / "ais.tsv", "mmsi\ttime\tlat\tlon\n273000001\t2024-10-17T09:30:00Z\t42.88\t132.338\n")
    tr = read_ais([f]).tracks["273000001"]
    assert (tr.times[0], tr.lats[0], tr.lons[0]) == (T.timestamp(), 42.88, 132.338)


def test_excel_unicode_text_is_read(tmp_path: Path) -> None:
    # Excel's "Unicode Text (*.txt)": UTF-16 (little-endian, with its mark), tab-separated, lines ended CRLF; the only
    # way Excel on Windows saves Cyrillic or Korean text it was given. It was refused ("is UTF-16: save it as UTF-8").
    text = "MMSI\tTime\tLat\tLon\tName\r\n273000001\t2024-10-17T09:30:00Z\t42,88\t132,338\tИжора 부산\r\n"
    for name, data in (("le.txt", b"\xff\xfe" + text.encode("utf-16-le")), ("be.txt", b"\xfe\xff" + text.encode("utf-16-be"))):
        (tmp_path / name).write_bytes(data)
        tr = read_ais([tmp_path / name]).tracks["273000001"]
        assert (tr.times[0], tr.lats[0], tr.lons[0], tr.name) == (T.timestamp(), 42.88, 132.338, "Ижора 부산")


def test_speed_and_course_by_other_names_on_a_file_of_dma_names(tmp_path: Path) -> None:
    f = _write(tmp_path / "export.csv", "MMSI,Timestamp,Latitude,Longitude,Speed,Course,Ship name\n"
                                        "273000001,2024-10-17T09:30:00Z,42.88,132.338,10.5,90,ØSTERSØ\n")  # fmt: skip
    tr = read_ais([f]).tracks["273000001"]
    assert (tr.sogs[0], tr.cogs[0], tr.name) == (10.5, 90.0, "ØSTERSØ")


def test_an_unreadable_time_column_is_named_with_the_line_of_its_first_value(tmp_path: Path) -> None:
    rows = "".join(f"273000001,{t},42.88,132.338\n" for t in ("17.10.2024 09:30", "17.10.2024 09:33"))
    f = _write(tmp_path / "mine.csv", "mmsi,time,lat,lon\n,,\n" + "x,y\n" + rows)  # two short rows before them
    with pytest.raises(InputError) as err:
        read_ais([f])
    assert "'17.10.2024 09:30' on line 4" in str(err.value), err.value


def test_a_windows_1252_file_keeps_its_names(tmp_path: Path) -> None:
    # A spreadsheet's CSV saved on Windows in a European locale: Ø was read as U+FFFD, the name lost.
    f = tmp_path / "excel.csv"
    f.write_bytes("MMSI;Time;Lat;Lon;Name\n273000001;2024-10-17T09:30:00Z;42,88;132,338;ØSTERSØ – Å\n".encode("cp1252"))
    assert read_ais([f]).tracks["273000001"].name == "ØSTERSØ – Å"
    g = tmp_path / "utf8.csv"  # UTF-8 stays UTF-8
    g.write_text("mmsi,time,lat,lon,name\n273000001,2024-10-17T09:30:00Z,42.88,132.338,Ижора ØST\n", encoding="utf-8")
    assert read_ais([g]).tracks["273000001"].name == "Ижора ØST"


def test_a_one_vessel_track_without_an_mmsi_column_is_refused_saying_to_add_one(tmp_path: Path) -> None:
    # A Global Fishing Watch track download: Lon, Lat, Timestamp, Speed, Course, Seg_id, one vessel, no MMSI.
    f = _write(tmp_path / "track.csv", "Lon,Lat,Timestamp,Speed,Course,Seg_id\n132.338,42.88,2024-10-17T09:30:00Z,0.1,90,s1\n")
    with pytest.raises(InputError) as err:
        read_ais([f])
    text = str(err.value)
    assert str(f) in text and "no MMSI column" in text and "add a column mmsi" in text, text


def test_a_file_of_dma_names_that_is_no_dma_file_is_named_for_what_it_is(tmp_path: Path) -> None:
    # An export with mmsi, timestamp, latitude, longitude (and ISO times) was read, and reported, as the DMA's.
    f = _write(tmp_path / "export.csv", "mmsi,timestamp,latitude,longitude\n273000001,2024-10-17T09:30:00Z,42.88,132.338\n")
    assert read_ais([f]).files[0].format == "generic"
    dma = _write(tmp_path / "aisdk.csv", "# Timestamp,MMSI,Latitude,Longitude\n17/10/2024 09:30:00,273000001,42.88,132.338\n")
    assert read_ais([dma]).files[0].format == "dma"  # its '#', or its 'Type of mobile', says it is the DMA's


@pytest.mark.parametrize("written", ["2024/10/17 09:30:00", "2024-10-17T09:30:00.000000000Z", "2024-10-17T09:30:00+0000"])
def test_other_unambiguous_ways_of_writing_a_time_are_read(tmp_path: Path, written: str) -> None:
    f = _write(tmp_path / "t.csv", f"mmsi,time,lat,lon\n273000001,{written},42.88,132.338\n")
    assert read_ais([f]).tracks["273000001"].times[0] == T.timestamp()


@pytest.mark.parametrize(("header", "local", "zone"), [
    ("Time (UTC+10)", "2024-10-17 19:30:00", "UTC+10:00"),
    ("time_utc+0900", "2024-10-17T18:30:00", "UTC+09:00"),
    ("Timestamp (UTC-03:30)", "2024-10-17 06:00:00", "UTC-03:30"),
    ("Timestamp (UTC)", "2024-10-17 09:30:00", None),
    ("DateTime GMT", "2024-10-17 09:30:00", None),
])  # fmt: skip
def test_a_time_column_naming_its_zone_reads_its_times_in_it(tmp_path: Path, header: str, local: str, zone: str | None) -> None:
    # Was: 'Time (UTC+10)' and 'time_utc+0900' refused ("generic lacks 'time'"); read as UTC they would put every
    # report hours off the image. A time carrying its own zone keeps it, whatever the column's name says.
    f = _write(tmp_path / "local.csv", f"""
mmsi,{header},lat,lon
273000001,{local},42.88,132.338
273000001,2024-10-17T09:33:00Z,42.881,132.339
273000001,2024-10-17 18:36:00+09:00,42.882,132.34
273000001,2024-10-17 09:39:00 UTC,42.883,132.341
""")
    data = read_ais([f])
    assert list(data.tracks["273000001"].times) == [T.timestamp() + s for s in (0, 180, 360, 540)]
    assert data.files[0].skipped == 0 and data.files[0].time_zone == zone


@pytest.mark.parametrize("header", ["time_utc+25", "Time (UTC-13)", "Time (UTC+05:75)"])
def test_a_time_column_naming_a_zone_no_place_keeps_is_refused_by_name(tmp_path: Path, header: str) -> None:
    f = _write(tmp_path / "odd.csv", f"mmsi,{header},lat,lon\n273000001,2024-10-17 09:30:00,42.88,132.338\n")
    with pytest.raises(InputError, match=rf"odd\.csv: its column {re.escape(repr(header))} names a zone no place keeps"):
        read_ais([f])
    edge = _write(tmp_path / "edge.csv", "mmsi,Time (UTC-12),lat,lon\n273000001,2024-10-16 21:30:00,42.88,132.338\n")
    assert list(read_ais([edge]).tracks["273000001"].times) == [T.timestamp()]
