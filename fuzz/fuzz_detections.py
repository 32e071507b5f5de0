"""Fuzz a detections file (detect-image's GeoJSON) as `sitewatch score DETECTIONS LABELS` scores it against
a Pascal VOC label file (pixel coordinates) or GeoJSON labels in UTM (ground coordinates); the input's first
byte picks the labels and whether the detections are its bytes or a seed with values of other types swapped in."""

from __future__ import annotations

import json

import atheris
from _harness import as_file, mutated_json, run

with atheris.instrument_imports(include=["sitewatch"]):
    from sitewatch.boxscore import score_files

VOC = (b"<annotation><object><name>ship</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>20</xmax><ymax>14</ymax>"
       b"</bndbox></object></annotation>")  # fmt: skip
UTM = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:32652"}}, "features": [
    {"type": "Feature", "properties": {"class": "ship"}, "geometry": {"type": "Polygon", "coordinates": [
        [[500000, 3900000], [500100, 3900000], [500100, 3900020], [500000, 3900000]]]}}]}  # fmt: skip
PIXEL_DETS = {"type": "FeatureCollection", "sitewatch": {"source": "a.jpg", "detector": "sar-cfar", "pixel_size_m": [10, 10]},
              "features": [{"type": "Feature", "properties": {"row": 12, "col": 15, "score": 0.9, "kind": "vessel", "length_m": 80},
                            "geometry": {"type": "Polygon", "coordinates": [[[14, 11], [16, 11], [16, 13], [14, 11]]]}}]}  # fmt: skip
UTM_DETS = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32652"}},
            "sitewatch": {"source": "a.tif", "detector": "sar-cfar", "coordinates": "crs", "image_size": [20, 10],
                          "transform": [10.0, 0.0, 500000.0, 0.0, -10.0, 3900020.0]},
            "features": [{"type": "Feature", "properties": {"row": 1, "col": 5, "score": 0.5, "kind": "vessel", "length_m": 90},
                          "geometry": {"type": "Polygon", "coordinates": [[[500040, 3900005], [500060, 3900005],
                                                                           [500060, 3900015], [500040, 3900005]]]}}]}  # fmt: skip
SEEDS = [b"\x00" + json.dumps(PIXEL_DETS).encode(), b"\x01" + json.dumps(UTM_DETS).encode(), b"\x02" + bytes(64), b"\x03" + bytes(64)]


def read(data: bytes) -> None:
    mode = data[0] % 4 if data else 0
    labels = as_file(VOC, "a.xml") if mode % 2 == 0 else as_file(json.dumps(UTM).encode(), "a.geojson")
    body = mutated_json(data[1:], [PIXEL_DETS if mode % 2 == 0 else UTM_DETS]) if mode >= 2 else data[1:]
    score_files([(as_file(body, "a.geojson" if mode % 2 == 0 else "a_dets.geojson"), labels)], classes=("ship",))


if __name__ == "__main__":
    run(read, SEEDS)
