"""Fuzz a label file as `sitewatch score DETECTIONS LABELS` reads it; the input's first byte picks the
format: Pascal VOC .xml, COCO .json, DOTA or YOLO .txt, GeoJSON or an instance-mask .png, or a seed's COCO or
GeoJSON with values of other types swapped in."""

from __future__ import annotations

import io
import json

import atheris
from _harness import as_file, mutated_json, run

with atheris.instrument_imports(include=["sitewatch"]):
    import numpy as np
    from PIL import Image

    from sitewatch.boxlabels import read_labels

SUFFIXES = (".xml", ".json", ".txt", ".geojson", ".png")


def _png() -> bytes:
    mask = np.zeros((8, 8, 3), np.uint8)
    mask[1:3, 1:4] = (255, 0, 0)
    mask[5:7, 4:8] = (0, 9, 200)
    out = io.BytesIO()
    Image.fromarray(mask).save(out, format="PNG")
    return out.getvalue()


SEEDS = [
    b"\x00<annotation><object><name>ship</name><difficult>0</difficult><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>9</xmax>"
    b"<ymax>8</ymax></bndbox></object><object><name>ship</name><robndbox><cx>5</cx><cy>5</cy><w>4</w><h>2</h>"
    b"<angle>0.5</angle></robndbox></object><object><name>s</name><polygon><x1>1</x1><y1>1</y1><x2>4</x2><y2>1</y2>"
    b"<x3>4</x3><y3>3</y3></polygon></object></annotation>",
    b'\x01{"images": [{"id": 1, "file_name": "a/P1.jpg", "width": 100, "height": 80}], "categories": [{"id": 1, "name": "ship"}],'
    b' "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 5], "segmentation": [[10, 10, 30, 10, 30, 15]]},'
    b' {"id": 2, "image_id": 1, "category_id": 1, "segmentation": {"size": [80, 100], "counts": [100, 50, 7850]}},'
    b' {"id": 3, "image_id": 1, "category_id": 1, "segmentation": {"size": [4, 4], "counts": "538"}}]}',
    b"\x02imagesource:GoogleEarth\ngsd:0.5\n10 10 20 10 20 15 10 15 ship 0\n1,1,4,1,4,3,1,3,boat,1\n",
    b'\x03{"type": "FeatureCollection", "crs": {"properties": {"name": "EPSG:32633"}}, "features": [{"type": "Feature",'
    b' "properties": {"class": "ship"}, "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [4, 1], [3, 3], [0, 0]]]}}]}',
    b"\x04" + _png(),
]


SEEDS.append(b"\x05" + bytes(64))
SEEDS.append(b"\x020 0.5 0.5 0.1 0.2\n1 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2\n")  # YOLO and YOLO OBB
DOCS = [json.loads(SEEDS[1][1:]), json.loads(SEEDS[3][1:])]


def read(data: bytes) -> None:
    mode = data[0] % (len(SUFFIXES) + 1) if data else 0
    if mode == len(SUFFIXES):
        read_labels(as_file(mutated_json(data[1:], DOCS), "labels.json"), classes=("ship",))
    else:
        read_labels(as_file(data[1:], f"labels{SUFFIXES[mode]}"), classes=("ship",))


if __name__ == "__main__":
    run(read, SEEDS)
