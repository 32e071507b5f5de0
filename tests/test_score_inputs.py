"""``sitewatch score`` on label files as real datasets write them: COCO without bboxes or with
odd categories, rotated VOC boxes, DOTA txt, odd encodings, folders that need pairing. Each
test is one probe that crashed, refused a readable file or gave a silently wrong figure."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from _datasets import DATASETS
from sitewatch.cli import main

SHIP = "<object><name>ship</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>20</xmax><ymax>14</ymax></bndbox></object>"
"""A ship over columns 10..20, rows 10..14; detections at (row 12, col 15) fall in it."""


def _dets(path: Path, points: list[tuple[float, float, Any]], source: str = "a.jpg") -> Path:
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[[c - 1, r - 1], [c + 1, r - 1], [c + 1, r + 1], [c - 1, r - 1]]]},
            "properties": {"row": r, "col": c, "score": s, "kind": "vessel"},
        }
        for r, c, s in points
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats, "sitewatch": {"source": source, "detector": "sar-cfar"}}), encoding="utf-8")
    return path


def _score(*args: object) -> tuple[int, Any]:
    """Exit code and ``(tp, fp, fn)`` (or the error output)."""
    r = CliRunner().invoke(main, ["score", *map(str, args), "--json"])
    if r.exit_code in (0, 3):
        out = json.loads(r.stdout)
        return r.exit_code, (out["tp"], out["fp"], out["fn"])
    return r.exit_code, r.output


def _coco(path: Path, anns: list[dict[str, Any]], cats: list[dict[str, Any]] | None = None, images: list[dict[str, Any]] | None = None) -> Path:
    images = images or [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}]
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "ship"}] if cats is None else cats}), encoding="utf-8")
    return path


def _rle(cols: range, rows: range, h: int = 100, w: int = 100) -> list[int]:
    """Uncompressed COCO RLE (column-major runs, zeros first) of a rectangle of pixels."""
    flat = [1 if (i // h in cols and i % h in rows) else 0 for i in range(h * w)]
    runs, cur, n = [], 0, 0
    for v in flat:
        if v != cur:
            runs.append(n)
            cur, n = v, 0
        n += 1
    return [*runs, n]


def _rle_string(counts: list[int]) -> str:
    """pycocotools' rleToString: 5-bit groups, each count after the second as a delta."""
    out = []
    for i, x in enumerate(counts):
        x -= counts[i - 2] if i > 2 else 0
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


# --- COCO


@pytest.mark.parametrize(
    "segmentation",
    [
        [[10, 10, 21, 10, 21, 15, 10, 15]],  # polygon, pixel-edge coordinates
        {"counts": _rle(range(10, 21), range(10, 15)), "size": [100, 100]},
        {"counts": _rle_string(_rle(range(10, 21), range(10, 15))), "size": [100, 100]},
        str({"counts": _rle(range(10, 21), range(10, 15)), "size": [100, 100]}),  # sen2ships' per-port files
    ],
    ids=["polygon", "rle-list", "rle-string", "rle-python-text"],
)
def test_coco_annotations_without_bbox_are_boxed_by_their_segmentation(tmp_path: Path, segmentation: Any) -> None:
    """Refused before ("no usable bbox"); COCO's bbox is optional where a mask is given."""
    labels = _coco(tmp_path / "c.json", [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 1, "segmentation": segmentation}])
    assert _score(_dets(tmp_path / "a.geojson", [(12, 20.4, 0.9)]), labels) == (0, (1, 0, 0))
    # Column 21 lies beyond the mask's last column (20): the box is the mask's, not wider.
    assert _score(_dets(tmp_path / "b.geojson", [(12, 20.6, 0.9)]), labels) == (0, (0, 1, 1))


def test_a_zero_sized_coco_bbox_is_not_a_silent_miss(tmp_path: Path) -> None:
    """A bbox of width 0 held no detection: its ship counted missed and the detection false."""
    d = _dets(tmp_path / "a.geojson", [(12, 15, 0.9)])
    flat = {"id": 5, "image_id": 1, "category_id": 1, "bbox": [15, 10, 0, 5]}
    code, out = _score(d, _coco(tmp_path / "c.json", [flat]))
    assert code == 1 and "c.json: annotation 5 has a zero width or height (bbox [15, 10, 0, 5])" in out
    with_mask = flat | {"segmentation": [[10, 10, 21, 10, 21, 15, 10, 15]]}
    assert _score(d, _coco(tmp_path / "c.json", [with_mask])) == (0, (1, 0, 0))


def test_class_names_differing_in_case_are_one_class(tmp_path: Path) -> None:
    """--class ship left out the file's `Ship` objects (and VOC's ` Ship `): fewer misses than there were."""
    cats = [{"id": 1, "name": "ship"}, {"id": 2, "name": "Ship"}, {"id": 3, "name": "buoy"}]
    anns = [{"id": i, "image_id": 1, "category_id": i, "bbox": [10 + 30 * (i - 1), 10, 11, 5]} for i in (1, 2, 3)]
    d = _dets(tmp_path / "a.geojson", [(12, 15, 0.9)])
    assert _score(d, _coco(tmp_path / "c.json", anns, cats), "--class", "ship") == (0, (1, 0, 1))
    (tmp_path / "a.xml").write_text(f"<annotation>{SHIP.replace('<name>ship', '<name> Ship ')}</annotation>", encoding="utf-8")
    assert _score(d, tmp_path / "a.xml", "--class", "SHIP") == (0, (1, 0, 0))


def test_coco_categories_by_id_and_missing_ones(tmp_path: Path) -> None:
    d = _dets(tmp_path / "a.geojson", [(12, 15, 0.9)])
    ann = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 11, 5]}
    # No categories at all: --class 1 names the category id (it was "no labelled object of class '1'").
    assert _score(d, _coco(tmp_path / "c.json", [ann], cats=[]), "--class", "1") == (0, (1, 0, 0))
    # A category_id the file does not list: --class cannot know whether it is a ship.
    code, out = _score(d, _coco(tmp_path / "c.json", [ann | {"category_id": 9}]), "--class", "ship")
    assert code == 1 and "c.json: annotation 1 has category_id 9, which is not among its categories (1: ship)" in out


def test_coco_file_names_in_another_case_or_written_on_windows_are_found(tmp_path: Path) -> None:
    d = _dets(tmp_path / "a.geojson", [(12, 15, 0.9)], source="/data/a.jpg")
    ann = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 11, 5]}]
    for name in ("A.JPG", "images\\train\\a.jpg"):
        assert _score(d, _coco(tmp_path / "c.json", ann, images=[{"id": 1, "file_name": name}])) == (0, (1, 0, 0)), name


def test_coco_images_sharing_a_name_are_told_apart_by_the_source_folders(tmp_path: Path) -> None:
    images = [{"id": 1, "file_name": "train/x.jpg"}, {"id": 2, "file_name": "val/x.jpg"}]
    labels = _coco(tmp_path / "c.json", [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [10, 10, 11, 5]}], images=images)
    assert _score(_dets(tmp_path / "x.geojson", [(12, 15, 0.9)], source="/data/val/x.jpg"), labels) == (0, (1, 0, 0))
    assert _score(_dets(tmp_path / "x.geojson", [(12, 15, 0.9)], source="/data/train/x.jpg"), labels) == (0, (0, 1, 0))
    code, out = _score(_dets(tmp_path / "x.geojson", [], source="x.jpg"), labels)
    assert code == 1 and "2 images are named 'x'" in out and "does not tell which" in out


def test_coco_boxes_written_as_corners_or_fractions_are_refused(tmp_path: Path) -> None:
    """[x0, y0, x1, y1] read as [x, y, w, h], or YOLO-like fractions, scored as if they were right."""
    d = _dets(tmp_path / "a.geojson", [(12, 15, 0.9)])
    corners = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 21, 15]}, {"id": 2, "image_id": 1, "category_id": 1, "bbox": [70, 70, 90, 80]}]
    code, out = _score(d, _coco(tmp_path / "c.json", corners))
    assert code == 1 and "annotation 2 (bbox [70, 70, 90, 80]) reaches beyond its image (100 × 100 pixels)" in out
    fractions = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0.1, 0.1, 0.11, 0.05]}]
    code, out = _score(d, _coco(tmp_path / "c.json", fractions, images=[{"id": 1, "file_name": "a.jpg"}]))
    assert code == 1 and "every bbox lies within 0..1" in out


def test_label_and_detection_json_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Windows tools write UTF-8 with a BOM: "not readable JSON (Unexpected UTF-8 BOM)"."""
    labels = _coco(tmp_path / "c.json", [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 11, 5]}])
    d = _dets(tmp_path / "a.geojson", [(12, 15, 0.9)])
    for f in (labels, d):
        f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    assert _score(d, labels) == (0, (1, 0, 0))


# --- Pascal VOC


def _voc(path: Path, objects: str, prolog: bytes = b"", encoding: str = "utf-8") -> Path:
    path.write_bytes(prolog + f"<annotation><filename>a.jpg</filename>{objects}</annotation>".encode(encoding))
    return path


def test_difficult_objects_are_neither_missed_nor_false(tmp_path: Path) -> None:
    """VOC and DOTA score difficult objects so; they counted as misses, SAR-Ship-Dataset's <Difficult> spelling too."""
    hard = SHIP.replace("<bndbox>", "<Difficult>1</Difficult><bndbox>").replace(">10<", ">50<").replace(">20<", ">60<").replace(">14<", ">54<")
    labels = _voc(tmp_path / "a.xml", SHIP + hard)
    assert _score(_dets(tmp_path / "a.geojson", [(12, 15, 0.9)]), labels) == (0, (1, 0, 0))
    on_hard = _dets(tmp_path / "a.geojson", [(12, 15, 0.9), (52, 55, 0.8), (53, 56, 0.7)])
    assert _score(on_hard, labels) == (0, (1, 0, 0))
    assert _score(on_hard, labels, "--difficult", "count") == (0, (2, 1, 0))


@pytest.mark.parametrize("angle, hit", [(math.pi / 4, (62, 62)), (-math.pi / 4, (38, 62))])
def test_rolabelimg_rotated_boxes_are_read_clockwise_in_radians(tmp_path: Path, angle: float, hit: tuple[int, int]) -> None:
    """<robndbox> (RSDD, roLabelImg) was refused. A 40 x 4 box at 45° holds points along its long side only;
    roLabelImg turns the w side clockwise on the image (y down) by a positive angle."""
    rob = f"<object><name>ship</name><robndbox><cx>50.5</cx><cy>50.5</cy><w>40</w><h>4</h><angle>{angle}</angle></robndbox></object>"
    labels = _voc(tmp_path / "a.xml", rob)
    miss = (100 - hit[0], hit[1])  # the other diagonal: inside the box's envelope, outside the box
    assert _score(_dets(tmp_path / "a.geojson", [(*hit, 0.9)]), labels) == (0, (1, 0, 0))
    assert _score(_dets(tmp_path / "a.geojson", [(*miss, 0.9)]), labels) == (0, (0, 1, 1))


def test_ssdd_corners_and_polygons_are_outlines(tmp_path: Path) -> None:
    corners = "<x1>10</x1><y1>40</y1><x2>40</x2><y2>10</y2><x3>44</x3><y3>14</y3><x4>14</x4><y4>44</y4>"
    for shape in (f"<rotated_bndbox><rotated_bbox_cx>27</rotated_bbox_cx>{corners}</rotated_bndbox>", f"<polygon>{corners}</polygon>"):
        labels = _voc(tmp_path / "a.xml", f"<object><name>ship</name>{shape}<bndbox><xmin>10</xmin><ymin>10</ymin><xmax>44</xmax><ymax>44</ymax></bndbox></object>")
        assert _score(_dets(tmp_path / "a.geojson", [(27, 27, 0.9)]), labels) == (0, (1, 0, 0)), shape
        # In the <bndbox> (the envelope), not in the ship's outline: scored by the outline.
        assert _score(_dets(tmp_path / "a.geojson", [(12, 12, 0.9)]), labels) == (0, (0, 1, 1)), shape


def test_an_angle_in_degrees_is_refused(tmp_path: Path) -> None:
    labels = _voc(tmp_path / "a.xml", "<object><name>ship</name><robndbox><cx>5</cx><cy>5</cy><w>4</w><h>2</h><angle>45</angle></robndbox></object>")
    code, out = _score(_dets(tmp_path / "a.geojson", []), labels)
    assert code == 1 and "a.xml: object 0 ('ship') <robndbox> has angle 45, not an angle in radians" in out


@pytest.mark.parametrize(
    "prolog, encoding, root",
    [
        (b"<?xml version='1.0' encoding='GBK'?>", "gbk", "<annotation><folder>\u8239</folder>"),  # expat reads no GBK: a traceback
        (b"", "utf-8", "<annotation xmlns='http://example.org/voc'>"),
    ],
    ids=["gbk", "namespace"],
)
def test_voc_in_gbk_or_with_a_namespace_is_read(tmp_path: Path, prolog: bytes, encoding: str, root: str) -> None:
    p = tmp_path / "a.xml"
    p.write_bytes(prolog + f"{root}{SHIP}</annotation>".encode(encoding))
    assert _score(_dets(tmp_path / "a.geojson", [(12, 15, 0.9)]), p) == (0, (1, 0, 0))


# --- DOTA and YOLO txt


def test_dota_labels_are_read_with_header_difficult_and_class(tmp_path: Path) -> None:
    labels = tmp_path / "a.txt"
    labels.write_text("imagesource:GoogleEarth\r\ngsd:0.25\r\n10 40 40 10 44 14 14 44 ship 0\r\n60 60 70 60 70 70 60 70 harbor 0\r\n80 80 90 80 90 90 80 90 ship 1\r\n", encoding="utf-8")
    d = _dets(tmp_path / "a.geojson", [(27.5, 27.5, 0.9), (12, 12, 0.8)])  # the second inside the envelope only
    assert _score(d, labels) == (0, (1, 1, 1))  # the harbour missed; the difficult ship neither
    assert _score(d, labels, "--class", "ship") == (0, (1, 1, 0))


def test_a_folder_of_dota_labels_pairs_and_ignores_other_text(tmp_path: Path) -> None:
    (tmp_path / "l").mkdir()
    (tmp_path / "l" / "a.txt").write_text("10 10 21 10 21 15 10 15 ship 0\n", encoding="utf-8")
    (tmp_path / "l" / "classes.txt").write_text("ship\nharbor\n", encoding="utf-8")
    _dets(tmp_path / "d" / "a.geojson", [(12, 15, 0.9)], source="a.png")
    assert _score(tmp_path / "d", tmp_path / "l") == (0, (1, 0, 0))  # classes.txt is no image left unscored


def _sized(path: Path, points: list[tuple[float, float, Any]], size: list[int] | None) -> Path:
    """Detections of an image of ``size`` [width, height] pixels, as detect-image records it."""
    _dets(path, points)
    fc = json.loads(path.read_text(encoding="utf-8"))
    if size is not None:
        fc["sitewatch"]["image_size"] = size
    path.write_text(json.dumps(fc), encoding="utf-8")
    return path


def test_yolo_labels_are_read_with_the_image_size_detect_image_records(tmp_path: Path) -> None:
    """YOLO txt (the SAR-Ship-Dataset's own labels since 2021, and many others') was refused: its boxes are
    fractions of the image's size, which the detections did not record. The twelve SAR-Ship-Dataset chips'
    VOC boxes written as YOLO now score as the VOC files do, P 0.742, R 0.971."""
    labels = tmp_path / "l" / "a.txt"
    labels.parent.mkdir()
    # On a 200 × 100 image: columns 20..40, rows 5..15 (pixel edges), so pixel centres 20..39 and 5..14.
    labels.write_text("0 0.15 0.1 0.1 0.1\n", encoding="utf-8")
    for (row, col), hit in (((10, 20), 1), ((10, 39), 1), ((10, 40), 0), ((15, 30), 0), ((5, 30), 1)):
        assert _score(_sized(tmp_path / "a.geojson", [(row, col, 0.9)], [200, 100]), labels) == (0, (hit, 1 - hit, 1 - hit)), (row, col)
    # In a folder too; the class names come from classes.txt beside them.
    (tmp_path / "l" / "classes.txt").write_text("ship\nbuoy\n", encoding="utf-8")
    labels.write_text("0 0.15 0.1 0.1 0.1\n1 0.9 0.9 0.02 0.02\n", encoding="utf-8")
    d = _sized(tmp_path / "d" / "a.geojson", [(10, 30, 0.9)], [200, 100])
    assert _score(d.parent, labels.parent) == (0, (1, 0, 1))
    assert _score(d.parent, labels.parent, "--class", "ship") == (0, (1, 0, 0))
    # Without the image's size (an older detect-image's file) it is named, with what to do.
    code, out = _score(_sized(tmp_path / "old.geojson", [], None), labels)
    assert code == 1 and "a.txt: YOLO labels are fractions of the image's size, which" in out and "run detect-image" in out


def test_yolo_obb_labels_are_outlines(tmp_path: Path) -> None:
    # Ultralytics' oriented boxes: class x1 y1 … x4 y4, fractions; a thin box along the diagonal of a 100 × 100 image.
    labels = tmp_path / "a.txt"
    labels.write_text("0 0.38 0.36 0.64 0.62 0.62 0.64 0.36 0.38\n", encoding="utf-8")
    assert _score(_sized(tmp_path / "a.geojson", [(49.5, 49.5, 0.9)], [100, 100]), labels) == (0, (1, 0, 0))
    assert _score(_sized(tmp_path / "a.geojson", [(40, 60, 0.9)], [100, 100]), labels) == (0, (0, 1, 1))  # in the envelope only


@pytest.mark.parametrize(
    "text, why",
    [
        ("0 15 10 10 10\n", "outside 0..1"),  # pixels, not fractions
        ("0 0.5 0.5 0.1\n", "not a YOLO object"),
        ("0.5 0.5 0.5 0.1 0.1\n", "not a class number"),
        ("3 0.5 0.5 0.1 0.1\n", "classes.txt names 1 class(es)"),
        ("0 0.5 0.5 0 0.1\n", "zero width or height"),
    ],
)
def test_yolo_lines_that_are_not_yolo_are_named(tmp_path: Path, text: str, why: str) -> None:
    (tmp_path / "classes.txt").write_text("ship\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    code, out = _score(_sized(tmp_path / "a.geojson", [], [100, 100]), tmp_path / "a.txt")
    assert code == 1 and "a.txt, line 1" in out and why in out, out


@pytest.mark.dataset
def test_sar_ship_dataset_voc_boxes_as_yolo_score_as_the_voc_files(tmp_path: Path) -> None:
    import re

    chips = DATASETS / "sar-ship-dataset-samples" / "Raw images"
    if not chips.is_dir():
        pytest.skip("../shared/datasets not present")
    out, yolo = tmp_path / "out", tmp_path / "yolo"
    out.mkdir()
    yolo.mkdir()
    r = CliRunner().invoke(main, ["-q", "detect-image", str(chips), "--sensor", "sar", "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    for xml in chips.glob("*.xml"):
        text = xml.read_text(encoding="utf-8")
        w, h = (int(re.search(f"<{k}>(\\d+)<", text)[1]) for k in ("width", "height"))  # type: ignore[index]
        lines = []
        for box in re.findall(r"<bndbox>.*?</bndbox>", text, re.S):
            x0, y0, x1, y1 = (int(v) for v in re.findall(r">(\d+)<", box))
            # VOC's inclusive pixels xmin..xmax are the edges xmin..xmax + 1.
            lines.append(f"0 {(x0 + x1 + 1) / 2 / w} {(y0 + y1 + 1) / 2 / h} {(x1 + 1 - x0) / w} {(y1 + 1 - y0) / h}")
        (yolo / f"{xml.stem}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _score(out, yolo) == _score(out, chips) == (0, (66, 23, 2))


# --- LabelMe


def _labelme(path: Path, shapes: list[dict[str, Any]], size: tuple[int, int] = (100, 100)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": f"{path.stem}.jpg", "imageData": None, "imageWidth": size[0], "imageHeight": size[1]}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_labelme_polygons_rectangles_and_rotated_boxes_are_read(tmp_path: Path) -> None:
    """LabelMe's JSON (one file per image) was refused: "neither COCO nor a GeoJSON FeatureCollection"."""
    diagonal = [[36 + 1.4, 36 - 1.4], [64 + 1.4, 64 - 1.4], [64 - 1.4, 64 + 1.4], [36 - 1.4, 36 + 1.4]]
    shapes = [
        {"label": "ship", "points": diagonal, "shape_type": "polygon", "flags": {}},
        {"label": "ship", "points": [[21, 15], [10, 10]], "shape_type": "rectangle", "flags": {}},  # corners in any order
        {"label": "buoy", "points": [[80, 80], [84, 80], [84, 84], [80, 84]], "shape_type": "rotation", "flags": {}},
        {"label": "ship", "points": [[90, 10], [96, 10], [96, 16], [90, 16]], "shape_type": "polygon", "flags": {"difficult": True}},
    ]
    labels = _labelme(tmp_path / "l" / "a.json", shapes)
    # On the diagonal hull, in the rectangle (positions 10..21, 10..15: pixel centres 10..20, 10..14), at sea.
    d = _dets(tmp_path / "d" / "a.geojson", [(50, 50, 0.9), (12, 20, 0.8), (40, 60, 0.7)])
    assert _score(d, labels, "--class", "ship") == (0, (2, 1, 0))  # beside the diagonal hull is no hit; the difficult one no miss
    assert _score(d.parent, labels.parent) == (0, (2, 1, 1))  # the buoy missed, in a folder too
    assert _score(_dets(tmp_path / "d" / "a.geojson", [(12, 21, 0.9)]), labels, "--class", "ship") == (0, (0, 1, 2))  # col 21 is past the rectangle



def test_x_anylabeling_rectangles_of_four_corners_are_read(tmp_path: Path) -> None:
    """X-AnyLabeling saves every rectangle as its four corners (LabelMe as two): each was refused, "a rectangle
    has two corners, not 4", though the module says it reads X-AnyLabeling's files."""
    shapes = [{"label": "ship", "points": [[21, 15], [10, 15], [10, 10], [21, 10]], "shape_type": "rectangle", "flags": {}}]
    labels = _labelme(tmp_path / "a.json", shapes)
    assert _score(_dets(tmp_path / "a.geojson", [(12, 20, 0.8)]), labels) == (0, (1, 0, 0))
    assert _score(_dets(tmp_path / "a.geojson", [(12, 21, 0.8)]), labels) == (0, (0, 1, 1))  # col 21 is past it
    code, out = _score(_dets(tmp_path / "a.geojson", []), _labelme(tmp_path / "b.json", [{**shapes[0], "points": shapes[0]["points"][:3]}]))
    assert code == 1 and "a rectangle has two corners (LabelMe) or four (X-AnyLabeling), not 3" in out, out

@pytest.mark.parametrize(
    "shape, why",
    [
        ({"label": "ship", "points": [[5, 5]], "shape_type": "point"}, "not an outline"),
        ({"label": "ship", "points": [[5, 5], [5, 9]], "shape_type": "rectangle"}, "zero width or height"),
        ({"label": "ship", "points": [[5, 5], [9, 9]], "shape_type": "polygon"}, "an outline of 2 point(s)"),
        ({"label": "ship", "points": [[5, "x"], [9, 9], [1, 1]], "shape_type": "polygon"}, "not [x, y] pairs"),
    ],
)
def test_labelme_shapes_that_are_no_area_are_named(tmp_path: Path, shape: dict[str, Any], why: str) -> None:
    code, out = _score(_dets(tmp_path / "a.geojson", []), _labelme(tmp_path / "a.json", [shape]))
    assert code == 1 and "a.json: shape 0 ('ship'" in out and why in out, out


# --- GeoJSON


def _fc(path: Path, geometry: dict[str, Any] | None) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": geometry, "properties": {}}]}), encoding="utf-8")
    return path


def test_a_multipolygon_of_separate_areas_is_not_one_box(tmp_path: Path) -> None:
    """Its bounding box held the water between two ships: a detection there scored true."""
    def sq(x: float) -> list[list[list[float]]]:
        return [[[x, x], [x + 10, x], [x + 10, x + 10], [x, x + 10], [x, x]]]

    d = _dets(tmp_path / "a.geojson", [(50, 50, 0.9)])
    code, out = _score(d, _fc(tmp_path / "t.geojson", {"type": "MultiPolygon", "coordinates": [sq(10), sq(80)]}))
    assert code == 1 and "t.geojson: feature 0 is a MultiPolygon of 2 separate areas" in out
    # QGIS saves single polygons as one-part MultiPolygons: read as the polygon.
    assert _score(d, _fc(tmp_path / "t.geojson", {"type": "MultiPolygon", "coordinates": [sq(45)]})) == (0, (1, 0, 0))
    code, out = _score(d, _fc(tmp_path / "t.geojson", None))
    assert code == 1 and "t.geojson: feature 0 has no geometry (null)" in out


# --- pairing and detections


def test_two_label_files_of_one_image_are_an_error_not_a_choice(tmp_path: Path) -> None:
    (tmp_path / "l").mkdir()
    _voc(tmp_path / "l" / "a.xml", SHIP)
    (tmp_path / "l" / "a.txt").write_text("", encoding="utf-8")
    _dets(tmp_path / "d" / "a.geojson", [(12, 15, 0.9)])
    code, out = _score(tmp_path / "d", tmp_path / "l")
    assert code == 1 and "a.txt and a.xml are both labels of image 'a'" in out


def test_labels_in_a_subfolder_are_pointed_to(tmp_path: Path) -> None:
    (tmp_path / "l" / "train").mkdir(parents=True)
    _voc(tmp_path / "l" / "train" / "a.xml", SHIP)
    _dets(tmp_path / "d" / "a.geojson", [(12, 15, 0.9)])
    code, out = _score(tmp_path / "d", tmp_path / "l")
    assert code == 1 and "train/a.xml is in a subfolder" in out


def test_detection_scores_that_are_null_or_not_numbers(tmp_path: Path) -> None:
    """A null score stopped score ("lacks what detect-image writes"); a NaN one was scored in no order."""
    labels = _voc(tmp_path / "a.xml", SHIP)
    d = _dets(tmp_path / "a.geojson", [(12, 15, None)])
    assert _score(d, labels) == (0, (1, 0, 0))
    code, out = _score(d, labels, "--min-score", "0.5")
    assert code == 1 and "a.geojson: feature 0 has no score, so --min-score cannot judge it" in out
    d.write_text(d.read_text(encoding="utf-8").replace("null", "NaN"), encoding="utf-8")
    code, out = _score(d, labels)
    assert code == 1 and "a.geojson: feature 0 has a score that is not a number" in out


def test_coco_image_ids_given_twice_are_refused(tmp_path: Path) -> None:
    """The second image took the first one's boxes silently."""
    images = [{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "b.jpg"}]
    labels = _coco(tmp_path / "c.json", [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 11, 5]}], images=images)
    code, out = _score(_dets(tmp_path / "a.geojson", [(12, 15, 0.9)]), labels)
    assert code == 1 and "c.json: image id 1 is given twice (a.jpg, b.jpg)" in out


@pytest.mark.dataset
@pytest.mark.skipif(not (DATASETS / "sen2ships").is_dir(), reason="../shared/datasets/sen2ships not present")
def test_sen2ships_masks_box_as_their_bboxes() -> None:
    """The RLE reader against the dataset's own boxes: every mask of the combined file (counts as lists)
    and of the per-port files (RLE as Python text) gives exactly its annotation's bbox."""
    from sitewatch.boxlabels import _segmentation_box

    files = sorted((DATASETS / "sen2ships" / "sen2ships").rglob("*coco*.json"))
    checked = 0
    for f in files:
        for a in json.loads(f.read_bytes())["annotations"]:
            b, (x, y, w, h) = _segmentation_box(a["segmentation"]), a["bbox"]
            assert b is not None and (b.x0, b.y0, b.x1, b.y1) == (x - 0.5, y - 0.5, x + w - 0.5, y + h - 0.5), (f.name, a["id"])
            checked += 1
    assert len(files) == 21 and checked == 2 * 582


@pytest.mark.dataset
@pytest.mark.skipif(not (DATASETS / "dota-devkit-examples").is_dir(), reason="../shared/datasets/dota-devkit-examples not present")
def test_dota_p0706_is_read_whole(tmp_path: Path) -> None:
    """531 ships (6 difficult) and 5 harbours; a detection on its second ship, which is not difficult, is true."""
    labels = DATASETS / "dota-devkit-examples" / "example" / "labelTxt" / "P0706.txt"
    d = _dets(tmp_path / "P0706.geojson", [(320, 812, 0.9)], source="P0706.png")
    assert _score(d, labels, "--class", "ship") == (0, (1, 0, 524))
    assert _score(d, labels, "--class", "ship", "--difficult", "count") == (0, (1, 0, 530))


def _mask(path: Path, objects: list[tuple[tuple[int, int, int], slice, slice]], size: tuple[int, int] = (40, 60)) -> Path:
    """A PNG mask: black, with each object's rows and columns painted in its colour."""
    import numpy as np
    from PIL import Image

    a = np.zeros((*size, 3), np.uint8)
    for colour, rows, cols in objects:
        a[rows, cols] = colour
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return path


def test_an_instance_mask_is_labels_one_object_a_colour(tmp_path: Path) -> None:
    """HRSID's and sen2ships' masks had no way into `score`; each colour is one box, its pixels' extent."""
    labels = _mask(tmp_path / "m.png", [((128, 0, 0), slice(10, 15), slice(10, 21)), ((0, 128, 0), slice(10, 15), slice(22, 30))])
    d = _dets(tmp_path / "a.geojson", [(12, 15, 0.9), (12, 25, 0.8), (12, 21.4, 0.7)])  # col 21.4: between the two boxes
    assert _score(d, labels) == (0, (2, 1, 0))


def test_a_folder_of_chips_and_hrsid_masks_pairs_each_chip_with_its_instance_mask(tmp_path: Path) -> None:
    chips = tmp_path / "data"
    one = ((128, 0, 0), slice(10, 15), slice(10, 21))
    _mask(chips / "P1_0_800_0_800.png", [])  # the chip itself: not labels
    _mask(chips / "P1_0_800_0_800_instance_id_RGB.png", [one, ((0, 128, 0), slice(30, 35), slice(40, 50))])
    _mask(chips / "P1_0_800_0_800_instance_color_RGB.png", [one])  # the class mask: not labels either
    d = _dets(tmp_path / "out" / "P1_0_800_0_800.geojson", [(12, 15, 0.9)], source="data/P1_0_800_0_800.png")
    assert _score(d.parent, chips) == (0, (1, 0, 1))


def test_a_class_mask_is_refused(tmp_path: Path) -> None:
    ship = (128, 0, 0)
    labels = _mask(tmp_path / "SegmentationClass" / "a.png", [(ship, slice(10, 15), slice(10, 21)), (ship, slice(30, 35), slice(40, 50))])
    code, out = _score(_dets(tmp_path / "a.geojson", [(12, 15, 0.9)]), labels)
    assert code == 1 and "one colour for several separate objects, a class mask" in out


@pytest.mark.dataset
@pytest.mark.skipif(not (DATASETS / "sen2ships").is_dir(), reason="../shared/datasets/sen2ships not present")
def test_sen2ships_instance_masks_box_as_the_coco_file() -> None:
    """Each port's SegmentationObject mask gives exactly the boxes of coco_annotations.json."""
    from sitewatch.boxlabels import read_labels
    from sitewatch.masklabels import read_instance_mask

    root = DATASETS / "sen2ships" / "sen2ships"
    _, coco, _ = read_labels(root / "coco_annotations.json")
    masks = sorted(root.glob("*/*_masks/SegmentationObject/*.png"))
    for m in masks:
        port = m.parents[2].name
        assert sorted(read_instance_mask(m), key=repr) == sorted(coco[f"{port}_rgb"], key=repr), port  # type: ignore[call-overload]
    assert len(masks) == 13


def test_a_16_bit_instance_mask_keeps_every_object(tmp_path: Path) -> None:
    """Ids above 255 in a 16-bit mask: converted to colour they would have merged."""
    import numpy as np
    from PIL import Image

    a = np.zeros((40, 60), np.uint16)
    a[10:15, 10:21], a[10:15, 22:30] = 300, 301
    Image.fromarray(a).save(tmp_path / "m.png")
    d = _dets(tmp_path / "a.geojson", [(12, 15, 0.9), (12, 25, 0.8)])
    assert _score(d, tmp_path / "m.png") == (0, (2, 0, 0))


def _broken_pngs() -> list[Any]:
    import io
    import struct
    import zlib

    import numpy as np
    from PIL import Image

    mask = np.zeros((8, 8, 3), np.uint8)
    mask[1:3, 1:4] = 255
    out = io.BytesIO()
    Image.fromarray(mask).save(out, format="PNG")
    png = out.getvalue()
    at = png.index(b"IDAT")
    short_idat = png[: at - 4] + struct.pack(">I", struct.unpack(">I", png[at - 4 : at])[0] - 8) + png[at:]
    ihdr = b"IHDR" + bytes(9)  # 9 bytes of the 13 a header holds
    short_ihdr = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 9) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
    return [
        pytest.param(short_idat, "broken PNG file", id="png-chunk-misread"),  # PIL's SyntaxError
        pytest.param(short_ihdr, "Truncated IHDR chunk", id="png-short-header"),  # PIL's ValueError
    ]


@pytest.mark.parametrize(("name", "data", "named"), [
    pytest.param("l.json", b'{"images": [{"id": 1}], "annotations": 5}', r"l.json: its 'annotations' is not a list",
                 id="coco-annotations-not-a-list"),  # TypeError: 'int' object is not iterable
    pytest.param("l.geojson", b'{"type": "FeatureCollection", "features": 5}', r"l.geojson: its 'features' is not a list",
                 id="geojson-features-not-a-list"),  # TypeError
    pytest.param("l.geojson", b'{"type": "FeatureCollection", "crs": {"properties": [1]}, "features": []}',
                 r"l.geojson: cannot read its 'crs' member", id="geojson-crs-properties-not-an-object"),  # AttributeError
    pytest.param("l.geojson", b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"class": "ship"},'
                 b' "geometry": {"type": "Polygo", "coordinates": []}}]}', r"l.geojson: feature 0 has no usable geometry",
                 id="geojson-unknown-geometry-type"),  # shapely's GeometryTypeError
    pytest.param("l.json", b'{"images": [{"id": 1}], "categories": [{"id": 1, "name": "ship"}], "annotations": [{"image_id": 1, "category_id": 1, "segmentation": {"size": [1e400, 1],'
                 b' "counts": [1]}}]}', r"l.json: annotation #0 has no bbox and its segmentation is not readable",
                 id="coco-rle-size-infinite"),  # OverflowError: cannot convert float infinity to integer
    pytest.param("l.geojson", b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"class": "ship"},'
                 b' "geometry": {"type": "Polygon", "coordinates": ""}}]}', r"l.geojson: feature 0 has no usable geometry",
                 id="geojson-coordinates-empty-text"),  # IndexError: string index out of range
    pytest.param("l.geojson", b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": 1.5,'
                 b' "geometry": null}]}', r"l.geojson: feature 0 has properties that are no JSON object",
                 id="geojson-properties-a-number"),  # TypeError: argument of type 'float' is not iterable
    pytest.param("l.json", b'{"images": [{"id": 1}], "categories": [{"id": 1, "name": "ship"}], "annotations": [{"image_id": 1,'
                 b' "category_id": 1, "bbox": [10, 10, -1' + b"0" * 400 + b', 5]}]}', r"l.json: annotation #0 has no usable bbox",
                 id="coco-bbox-past-float"),  # OverflowError
    *[pytest.param("l.png", *p.values, id=p.id) for p in _broken_pngs()],
])  # fmt: skip
def test_malformed_label_files_found_by_fuzzing_are_input_errors(tmp_path: Path, name: str, data: bytes, named: str) -> None:
    """Inputs fuzz/fuzz_labels.py found that ended `score` in a traceback."""
    from sitewatch.boxlabels import read_labels
    from sitewatch.errors import InputError

    (tmp_path / name).write_bytes(data)
    with pytest.raises(InputError, match=named):
        read_labels(tmp_path / name, classes=("ship",))


def test_a_label_file_with_a_number_of_more_than_4300_digits_is_an_input_error(tmp_path: Path) -> None:
    from sitewatch.boxlabels import read_labels
    from sitewatch.errors import InputError

    (tmp_path / "l.json").write_text('{"images": ' + "1" * 5000 + "}", encoding="utf-8")
    with pytest.raises(InputError, match=r"l.json: not readable JSON .*4300 digits"):
        read_labels(tmp_path / "l.json")


_DET = {"type": "Feature", "properties": {"row": 12, "col": 15, "score": 0.9, "kind": "vessel"},
        "geometry": {"type": "Polygon", "coordinates": [[[14, 11], [16, 11], [16, 13], [14, 11]]]}}  # fmt: skip


@pytest.mark.parametrize(("features", "named"), [
    pytest.param(5, "a.geojson: its 'features' is not a list", id="features-not-a-list"),  # TypeError
    pytest.param([{**_DET, "properties": 1.5}], "a.geojson: feature 0 has properties that are no JSON object",
                 id="properties-a-number"),  # AttributeError: 'float' object has no attribute 'get'
    pytest.param([{**_DET, "properties": {**_DET["properties"], "kind": ["vessel"]}}], "a.geojson: feature 0 has kind ['vessel']",
                 id="kind-a-list"),  # TypeError: unhashable type: 'list'
    pytest.param([{**_DET, "geometry": {"type": "Polygo", "coordinates": []}}], "a.geojson: feature 0 lacks what detect-image",
                 id="unknown-geometry-type"),  # shapely's GeometryTypeError
    pytest.param([{**_DET, "geometry": {"type": "Point", "coordinates": []}}], "a.geojson: feature 0 lacks what detect-image",
                 id="empty-point"),  # GEOSException: getX called on empty Point
    pytest.param([{**_DET, "properties": {**_DET["properties"], "col": 10**400}}], "a.geojson: feature 0 lacks what detect-image",
                 id="col-past-float"),  # OverflowError
    pytest.param([{**_DET, "properties": {**_DET["properties"], "score": 10**400}}], "a.geojson: feature 0 has a score that is not",
                 id="score-past-float"),  # OverflowError
    pytest.param([{**_DET, "properties": {**_DET["properties"], "length_m": 10**400}}], None,
                 id="length-past-float"),  # OverflowError; now no length, as for a length that is no number
])  # fmt: skip
def test_malformed_detections_found_by_fuzzing_are_named(tmp_path: Path, features: Any, named: str | None) -> None:
    """Detections files fuzz/fuzz_detections.py found that ended `score` in a traceback."""
    labels = _voc(tmp_path / "a.xml", SHIP)
    d = tmp_path / "a.geojson"
    d.write_text(json.dumps({"type": "FeatureCollection", "features": features, "sitewatch": {"source": "a.jpg", "detector": "sar-cfar"}}), encoding="utf-8")
    code, out = _score(d, labels)
    if named is None:
        assert code == 0 and out == (1, 0, 0), out
    else:
        assert code == 1 and named in out and "Traceback" not in out, out


def test_a_coco_rle_mask_spanning_a_huge_image_is_boxed_without_measuring_it(tmp_path: Path) -> None:
    """Two pixels at opposite corners of a 30 000 × 30 000 RLE mask (a file of 200 bytes): its length was measured
    over an int32 array of the whole extent, 3.4 GB, when a detection matched it. No labelled object is that big:
    such a mask is boxed and scored, its length left unmeasured."""
    from sitewatch.boxlabels import MAX_MEASURED_PIXELS, read_labels

    n = 30_000
    assert n * n > MAX_MEASURED_PIXELS
    seg = {"size": [n, n], "counts": [0, 1, n * n - 2, 1]}
    _coco(tmp_path / "l.json", [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": seg}],
          images=[{"id": 1, "file_name": "a.jpg", "width": n, "height": n}])
    fmt, boxes, _ = read_labels(tmp_path / "l.json")
    assert isinstance(boxes, dict)
    (box,) = boxes["a"]
    assert (box.x0, box.y0, box.x1, box.y1) == (-0.5, -0.5, n - 0.5, n - 0.5) and box.length is None


def test_a_pixel_size_of_400_digits_is_no_pixel_size(tmp_path: Path) -> None:
    """An OverflowError traceback of `score` (found by fuzz/fuzz_detections.py); now no length is measured, as for
    a pixel size that is no number."""
    labels = _voc(tmp_path / "a.xml", SHIP)
    d = tmp_path / "a.geojson"
    d.write_text(json.dumps({"type": "FeatureCollection", "features": [_DET],
                             "sitewatch": {"source": "a.jpg", "detector": "sar-cfar", "pixel_size_m": [10, 10**400]}}), encoding="utf-8")  # fmt: skip
    assert _score(d, labels) == (0, (1, 0, 0))


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L", "I;16"])
def test_instance_mask_boxes_are_each_colours_extent_in_blocks_of_rows(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Labelled a few rows at a time (LABEL_ROWS made small), every colour's box and length are those of its own
    pixels: with and without black, with transparent pixels (RGBA: not an object), in 8- and 16-bit grey."""
    import numpy as np
    from PIL import Image

    from sitewatch import masklabels
    from sitewatch.boxlabels import mask_length

    monkeypatch.setattr(masklabels, "LABEL_ROWS", 7)
    rng = np.random.default_rng(3)
    ids = np.zeros((50, 70), np.int64)
    for k in range(1, 9):
        r, c = rng.integers(0, 40), rng.integers(0, 60)
        ids[r : r + rng.integers(2, 10), c : c + rng.integers(2, 10)] = k
    if mode == "RGB":
        ids[ids == 0] = 9  # no black at all: every colour an object, as the reader has always counted it
    palette = np.array([(0, 0, 0)] + [tuple(int(v) for v in rng.integers(1, 256, 3)) for _ in range(9)], np.uint8)
    if mode in ("RGBA", "RGB"):
        pixels = palette[ids]
        if mode == "RGBA":
            alpha = np.full(ids.shape, 255, np.uint8)
            alpha[:, :3] = 0  # transparent: not an object, whatever its colour
            ids[:, :3] = 0
            pixels = np.dstack([pixels, alpha])
        Image.fromarray(pixels, mode).save(tmp_path / "m.png")
    else:
        grey = (ids * 37 + (0 if mode == "L" else 1000) * (ids > 0)).astype(np.uint8 if mode == "L" else np.uint16)
        Image.fromarray(grey).save(tmp_path / "m.png")
    boxes = masklabels.read_instance_mask(tmp_path / "m.png")
    expected = []
    for k in np.unique(ids):
        if k == 0 and mode != "RGB":
            continue
        rows, cols = np.nonzero(ids == k)
        window = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
        expected.append(((cols.min() - 0.5, rows.min() - 0.5, cols.max() + 0.5, rows.max() + 0.5), mask_length((ids == k)[window], 1.0, 1.0)))
    got = [((b.x0, b.y0, b.x1, b.y1), b.length(1.0, 1.0) if b.length else None) for b in boxes]
    assert sorted(got) == sorted(expected)


@pytest.mark.parametrize("width", [10**400, float("inf"), float("nan")])
def test_a_coco_image_width_no_float_holds_is_named(tmp_path: Path, width: float) -> None:
    """A COCO image 400 digits wide (or of infinite or NaN width, which Python's JSON writes and reads) failed the
    check of its boxes against the image with an OverflowError traceback (found by fuzz/fuzz_labels.py); now the
    image and the field are named."""
    from sitewatch.boxlabels import read_labels
    from sitewatch.errors import InputError

    _coco(tmp_path / "l.json", [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [1, 1, 10, 4]}],
          images=[{"id": 7, "file_name": "a.jpg", "width": width, "height": 100}])
    with pytest.raises(InputError, match=r"l\.json: image 7 has width .*no number of pixels"):
        read_labels(tmp_path / "l.json")


def test_a_transform_or_image_size_no_float_holds_is_named_not_a_traceback(tmp_path: Path) -> None:
    """The grid detect-image now records, damaged: a transform whose products overflow, a side of 400 digits."""
    d = _dets(tmp_path / "a.geojson", [(1, 1, 0.5)])
    fc = json.loads(d.read_text(encoding="utf-8"))
    fc["crs"] = {"type": "name", "properties": {"name": "EPSG:32633"}}
    fc["sitewatch"] |= {"coordinates": "crs", "transform": [1e308, 0, 1e308, 0, -1, 0], "image_size": [10**400, 5]}
    d.write_text(json.dumps(fc), encoding="utf-8")
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n", encoding="utf-8")
    code, out = _score(d, tmp_path / "a.txt")
    assert code == 1 and "feature 0 lies nowhere through the file's transform" in out
    fc["sitewatch"]["transform"] = [10, 0, 0, 0, -10, 0]
    d.write_text(json.dumps(fc), encoding="utf-8")
    code, out = _score(d, tmp_path / "a.txt")
    assert code == 1 and "YOLO labels are fractions of the image's size, which" in out
