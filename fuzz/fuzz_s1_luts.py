"""Fuzz a Sentinel-1 GRD product's calibration and noise LUTs as `sitewatch ingest`/`import` read them from a
SAFE product and `fetch` from a catalogue's ``schema-calibration-*``/``schema-noise-*`` assets: parsed, then
evaluated over a small window to turn DN into sigma0. The input's first byte picks the calibration file, a noise
file of IPF ≥ 2.9 (range and azimuth vectors) or one of IPF < 2.9 (noiseVector)."""

from __future__ import annotations

import atheris
from _harness import run

with atheris.instrument_imports(include=["sitewatch"]):
    import numpy as np

    from sitewatch.sources.s1_radiometry import S1Radiometry, parse_calibration, parse_noise

CALIBRATION = (
    b'<?xml version="1.0" encoding="UTF-8"?><calibration><calibrationVectorList count="2">'
    b"<calibrationVector><azimuthTime>2024-10-15T05:00:00.000000</azimuthTime><line>0</line>"
    b'<pixel count="3">0 40 80</pixel><sigmaNought count="3">500.1 510.2 520.3</sigmaNought></calibrationVector>'
    b"<calibrationVector><line>30</line><pixel count=\"3\">0 40 80</pixel><sigmaNought>501 511 521</sigmaNought>"
    b"</calibrationVector></calibrationVectorList></calibration>"
)
NOISE_NEW = (
    b'<?xml version="1.0" encoding="UTF-8"?><noise><noiseRangeVectorList count="2">'
    b"<noiseRangeVector><line>0</line><pixel>0 40 80</pixel><noiseRangeLut>90 100 110</noiseRangeLut></noiseRangeVector>"
    b"<noiseRangeVector><line>30</line><pixel>0 80</pixel><noiseRangeLut>95 105</noiseRangeLut></noiseRangeVector>"
    b"</noiseRangeVectorList><noiseAzimuthVectorList count=\"2\"><noiseAzimuthVector><swath>IW1</swath>"
    b"<firstAzimuthLine>0</firstAzimuthLine><firstRangeSample>0</firstRangeSample><lastAzimuthLine>20</lastAzimuthLine>"
    b"<lastRangeSample>39</lastRangeSample><line>0 10 20</line><noiseAzimuthLut>1 1.1 0.9</noiseAzimuthLut></noiseAzimuthVector>"
    b"<noiseAzimuthVector><swath>IW2</swath><firstAzimuthLine>0</firstAzimuthLine><firstRangeSample>40</firstRangeSample>"
    b"<lastAzimuthLine>40</lastAzimuthLine><lastRangeSample>80</lastRangeSample><line>0 40</line>"
    b"<noiseAzimuthLut>1 1</noiseAzimuthLut></noiseAzimuthVector></noiseAzimuthVectorList></noise>"
)
NOISE_OLD = (
    b'<?xml version="1.0" encoding="UTF-8"?><noise><noiseVectorList count="1"><noiseVector><line>0</line>'
    b"<pixel>0 40 80</pixel><noiseLut>90 100 110</noiseLut></noiseVector></noiseVectorList></noise>"
)
SEEDS = [b"\x00" + CALIBRATION, b"\x01" + NOISE_NEW, b"\x02" + NOISE_OLD]
DN = (np.arange(24 * 24, dtype=np.float32).reshape(24, 24) % 200) + 1
DN[0, :4] = 0


def read(data: bytes) -> None:
    mode = data[0] % 3 if data else 0
    body = data[1:]
    if mode == 0:
        radiometry = S1Radiometry(parse_calibration(body, "calibration-s1a-iw-grd-vv.xml"), "calibration-s1a-iw-grd-vv.xml")
    else:
        noise = parse_noise(body, "noise-s1a-iw-grd-vv.xml")
        radiometry = S1Radiometry(parse_calibration(CALIBRATION, "calibration.xml"), "calibration.xml", noise, "noise.xml")
    for row0, col0 in ((0, 0), (10, 30), (1000, 70000)):
        radiometry.sigma0(DN, row0, col0)
    radiometry.describe()


if __name__ == "__main__":
    run(read, SEEDS)
