"""Fuzz an AIS CSV as `sitewatch ais` reads it, keeping the reports inside one window."""

from __future__ import annotations

import gzip
import io
import zipfile
from datetime import UTC, datetime

import atheris
from _harness import as_file, run

with atheris.instrument_imports(include=["sitewatch"]):
    from sitewatch.analysis.ais_csv import AisWindow, read_ais

WINDOWS = [AisWindow(128.0, 34.0, 130.0, 36.0, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC))]
SEEDS = [
    b"mmsi,time,lat,lon,sog,cog,length,width,name\n"
    b"440123456,2024-10-17T09:30:00Z,35.05,129.05,12.5,90,200,30,HANJIN\n"
    b"440123456,2024-10-17T09:40:00+09:00,35.06,129.06,102.3,360,,,\n"
    b"992440001,2024-10-17T09:30:00,35.05,129.05,,,,,buoy\n",
    b"MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,Length,Width,Draft,Cargo,"
    b"TransceiverClass\n367000001,2024-01-01T00:00:06,35.01,129.02,0.1,200.5,511,TUG A,IMO1,CS,31,0,30,10,3,,A\n",
    b"# Timestamp,Type of mobile,MMSI,Latitude,Longitude,Navigational status,ROT,SOG,COG,Heading,IMO,Callsign,Name,"
    b"Ship type,Cargo type,Width,Length\n17/10/2024 00:00:00,Class A,219000001,35.5,129.5,Moored,0,0,0,0,,,,,,12,80\n",
]



def _zipped(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("aisdk-2024-10-17.csv", data)
    return buf.getvalue()


# A gzip file and a zip of one CSV are read as they are unpacked: their damaged forms must be named, never raise.
SEEDS += [gzip.compress(SEEDS[0], mtime=0), _zipped(SEEDS[2])]


def read(data: bytes) -> None:
    read_ais([as_file(data, "ais.csv")], WINDOWS)


if __name__ == "__main__":
    run(read, SEEDS)
