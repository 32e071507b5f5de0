"""``sitewatch score``: detect-image output against VOC, COCO and GeoJSON labels, as the benchmarks count."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from sitewatch.boxscore import Box, Detected, match_boxes, score_files
from sitewatch.cli import main
from sitewatch.errors import InputError


def _dets(path: Path, points: list[tuple[float, float, float]], source: str = "chip.png", kind: str = "vessel") -> Path:
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[[c - 1, r - 1], [c + 1, r - 1], [c + 1, r + 1], [c - 1, r + 1], [c - 1, r - 1]]]},
            "properties": {"row": r, "col": c, "score": s, "kind": kind, "length_m": 20.0, "width_m": 5.0, "heading_deg": 0.0},
        }
        for r, c, s in points
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats, "sitewatch": {"source": source, "detector": "sar-cfar"}}), encoding="utf-8")
    return path


VOC = """<annotation><filename>chip</filename>
<object><name>ship</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>20</xmax><ymax>14</ymax></bndbox></object>
<object><name>ship</name><bndbox><xmin>40</xmin><ymin>40</ymin><xmax>44</xmax><ymax>60</ymax></bndbox></object>
<object><name>buoy</name><bndbox><xmin>80</xmin><ymin>80</ymin><xmax>82</xmax><ymax>82</ymax></bndbox></object>
</annotation>"""


def test_one_to_one_best_score_first_nearest_centre() -> None:
    boxes = [Box(0, 0, 10, 10), Box(5, 0, 15, 10)]
    # Both detections fall in both boxes; the better one takes the box whose centre is nearer.
    assert match_boxes([Detected(9, 5, 0.9), Detected(6, 5, 0.5)], boxes) == (2, 0, 0)
    assert match_boxes([Detected(7, 5, 0.9), Detected(7.5, 5, 0.8), Detected(8, 5, 0.7)], boxes) == (2, 1, 0)
    assert match_boxes([], boxes) == (0, 0, 2)


def test_voc_counts_and_classes(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "chip.xml").write_text(VOC, encoding="utf-8")
    (tmp_path / "dets").mkdir()
    # Inside the first ship (edge pixel 20 + 0.5 still counts), two on the second (one too many), one at sea.
    _dets(tmp_path / "dets" / "chip.geojson", [(12, 20.4, 0.9), (50, 42, 0.8), (52, 42, 0.7), (100, 100, 0.6)])
    r = CliRunner().invoke(main, ["score", str(tmp_path / "dets"), str(tmp_path / "labels"), "--json", "--class", "ship"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (out["tp"], out["fp"], out["fn"]) == (2, 2, 0) and out["f1"] == pytest.approx(4 / 6)
    every = score_files([(tmp_path / "dets" / "chip.geojson", tmp_path / "labels" / "chip.xml")])
    assert (every.tp, every.fp, every.fn) == (2, 2, 1)  # the buoy counts when no --class is given
    high = score_files([(tmp_path / "dets" / "chip.geojson", tmp_path / "labels" / "chip.xml")], classes=["ship"], min_score=0.75)
    assert (high.tp, high.fp, high.fn) == (2, 0, 0)


def test_coco_finds_the_image_by_the_detections_source(tmp_path: Path) -> None:
    coco = {
        "images": [{"id": 1, "file_name": "a.tif", "width": 50, "height": 50}, {"id": 2, "file_name": "b.tif"}],
        "categories": [{"id": 1, "name": "ship"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 5, 5]}, {"id": 2, "image_id": 2, "category_id": 1, "bbox": [0, 0, 3, 3]}],
    }
    labels = tmp_path / "coco.json"
    labels.write_text(json.dumps(coco), encoding="utf-8")
    # Pixel 14 is the box's last column (edges 10..15); pixel 15 is outside.
    inside = _dets(tmp_path / "out1.geojson", [(12, 14, 0.9)], source="/data/a.tif")
    outside = _dets(tmp_path / "out2.geojson", [(12, 15, 0.9)], source="/data/a.tif")
    assert (score_files([(inside, labels)]).tp, score_files([(outside, labels)]).tp) == (1, 0)
    r = CliRunner().invoke(main, ["score", str(_dets(tmp_path / "c.geojson", [], source="c.tif")), str(labels)])
    assert r.exit_code == 1 and "no image named 'c'" in r.output


def test_geojson_labels_must_share_the_detections_coordinates(tmp_path: Path) -> None:
    labels = tmp_path / "truth.geojson"
    box = [[[9, 9], [15, 9], [15, 15], [9, 15], [9, 9]]]
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": box}, "properties": {}}]}), encoding="utf-8")
    dets = _dets(tmp_path / "d.geojson", [(12, 12, 0.9)])
    assert score_files([(dets, labels)]).tp == 1
    fc = json.loads(dets.read_text(encoding="utf-8"))
    fc["crs"] = {"type": "name", "properties": {"name": "EPSG:32652"}}
    dets.write_text(json.dumps(fc), encoding="utf-8")
    with pytest.raises(InputError, match="different coordinates"):
        score_files([(dets, labels)])


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    dets = _dets(tmp_path / "d.geojson", [(1, 1, 0.5)])
    (tmp_path / "labels").mkdir()
    r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "labels")])
    assert r.exit_code == 1 and "no label file for d.geojson" in r.output
    bad = tmp_path / "bad.xml"
    bad.write_text("<annotation><object>", encoding="utf-8")
    r = CliRunner().invoke(main, ["score", str(dets), str(bad)])
    assert r.exit_code == 1 and "bad.xml: not readable XML" in r.output
    txt = tmp_path / "labels.txt"
    txt.write_text("x", encoding="utf-8")
    r = CliRunner().invoke(main, ["score", str(dets), str(txt)])
    assert r.exit_code == 1 and "labels.txt, line 1: not a DOTA object" in r.output
    csv = tmp_path / "labels.csv"
    csv.write_text("x", encoding="utf-8")
    r = CliRunner().invoke(main, ["score", str(dets), str(csv)])
    assert r.exit_code == 1 and "Pascal VOC .xml, COCO or LabelMe .json, DOTA or YOLO .txt, GeoJSON or an instance mask .png" in r.output


def test_a_label_file_declaring_entities_is_refused(tmp_path: Path) -> None:
    """Entities declared in a downloaded VOC file were expanded as it was parsed (up to expat's amplification cap)."""
    dets = _dets(tmp_path / "chip.geojson", [(12, 15, 0.9)])
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 9}">' for i in range(1, 4))
    xml = f'<!DOCTYPE annotation [<!ENTITY l0 "ship">{laughs}]>' + VOC.replace("<name>buoy</name>", "<name>&l3;</name>")
    (tmp_path / "chip.xml").write_text(xml, encoding="utf-8")
    r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "chip.xml")])
    assert r.exit_code == 1 and "chip.xml: declares XML entities" in r.output, r.output


def test_a_label_file_nested_too_deeply_is_named(tmp_path: Path) -> None:
    """COCO/GeoJSON labels of "[[[[…" 100 000 deep ended `score` in a RecursionError traceback."""
    dets = _dets(tmp_path / "chip.geojson", [(12, 15, 0.9)])
    (tmp_path / "chip.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "chip.json")])
    assert r.exit_code == 1 and "chip.json: its JSON is nested too deeply to read" in r.output, r.output


def test_a_detections_file_is_never_its_own_labels(tmp_path: Path) -> None:
    # detect-image --out written next to the chips: chip.geojson and chip.xml side by side.
    (tmp_path / "chip.xml").write_text(VOC, encoding="utf-8")
    _dets(tmp_path / "chip.geojson", [(12, 15, 0.9), (100, 100, 0.6)])
    for dets in (tmp_path, tmp_path / "chip.geojson"):
        r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path), "--json"])
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        assert (out["tp"], out["fp"], out["fn"]) == (1, 1, 2)
    with pytest.raises(InputError, match="detect-image output, not labels"):
        score_files([(tmp_path / "chip.geojson", tmp_path / "chip.geojson")])


PIXEL_CRS = 'LOCAL_CS["pixel",LOCAL_DATUM["image",0],UNIT["unknown",1],AXIS["x",EAST],AXIS["y",SOUTH]]'


def _with_crs(path: Path, name: str | None, coordinates: str | None = None) -> Path:
    fc = json.loads(path.read_text(encoding="utf-8"))
    if name is not None:
        fc["crs"] = {"type": "name", "properties": {"name": name}}
    if coordinates is not None:
        fc.setdefault("sitewatch", {})["coordinates"] = coordinates
    path.write_text(json.dumps(fc), encoding="utf-8")
    return path


def test_geojson_crs_spelled_differently_is_the_same_crs(tmp_path: Path) -> None:
    box = [[[500009, 9], [500015, 9], [500015, 15], [500009, 15], [500009, 9]]]
    truth = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": box}, "properties": {}}]}
    labels = tmp_path / "truth.geojson"
    # GDAL, QGIS and geopandas write the OGC URN; detect-image writes EPSG:32633.
    labels.write_text(json.dumps(truth | {"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}}}), encoding="utf-8")
    dets = _dets(tmp_path / "d.geojson", [(12, 12, 0.9)])
    fc = json.loads(dets.read_text(encoding="utf-8"))
    fc["features"][0]["geometry"]["coordinates"] = box
    dets.write_text(json.dumps(fc), encoding="utf-8")
    assert score_files([(_with_crs(dets, "EPSG:32633", "crs"), labels)]).tp == 1
    with pytest.raises(InputError, match="different coordinates"):
        score_files([(_with_crs(dets, "EPSG:32634", "crs"), labels)])


def test_pixel_geojson_labels_need_no_crs_member(tmp_path: Path) -> None:
    # Boxes drawn over a JPEG carry no crs; detect-image's pixel output names its LOCAL_CS.
    labels = tmp_path / "truth.geojson"
    box = [[[9, 9], [15, 9], [15, 15], [9, 15], [9, 9]]]
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": box}, "properties": {}}]}), encoding="utf-8")
    dets = _with_crs(_dets(tmp_path / "d.geojson", [(12, 12, 0.9)]), PIXEL_CRS, "pixel (x=col, y=row, pixel centres at integers)")
    assert score_files([(dets, labels)]).tp == 1


def _geojson_labels(path: Path, rings: list[list[list[float]]], crs: str | None = None) -> Path:
    feats = [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {"class": "ship"}} for ring in rings]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats} | ({"crs": {"type": "name", "properties": {"name": crs}}} if crs else {})), encoding="utf-8")
    return path


def test_geojson_rotated_boxes_are_outlines_not_their_envelopes(tmp_path: Path) -> None:
    """A GeoJSON polygon was scored by its bounding box: DOTA's P0706 quadrilaterals written as GeoJSON
    scored F1 0.846 where the same quadrilaterals as DOTA .txt score 0.812 (17 more true positives, each a
    detection beside a diagonal hull or on its neighbour's)."""
    # A 40 × 4 box along the diagonal from (36, 36) to (64, 64), as a DOTA quadrilateral would be drawn.
    h = 2 / math.sqrt(2)
    ring = [[36 + h, 36 - h], [64 + h, 64 - h], [64 - h, 64 + h], [36 - h, 36 + h], [36 + h, 36 - h]]
    labels = _geojson_labels(tmp_path / "truth.geojson", [ring])
    pixel = "pixel (x=col, y=row, pixel centres at integers)"
    on_hull = _with_crs(_dets(tmp_path / "a.geojson", [(60, 60, 0.9)]), PIXEL_CRS, pixel)
    assert score_files([(on_hull, labels)]).tp == 1
    beside = _with_crs(_dets(tmp_path / "b.geojson", [(40, 60, 0.9)]), PIXEL_CRS, pixel)  # in the envelope only
    c = score_files([(beside, labels)])
    assert (c.tp, c.fp, c.fn) == (0, 1, 1)
    # An axis-aligned rectangle is still a box: every point of it holds.
    square = _geojson_labels(tmp_path / "square.geojson", [[[30, 30], [70, 30], [70, 70], [30, 70], [30, 30]]])
    assert score_files([(beside, square)]).tp == 1


def test_geojson_labels_in_a_crs_are_scored_at_the_detections_centroid(tmp_path: Path) -> None:
    """With GeoJSON labels the centre of a detection's box was scored, while pixel labels (VOC, COCO, DOTA,
    masks) and the benchmarks score its centroid (col, row): an optical detector's box may lie off it
    (7.5 pixels at sen2ships' Genoa, where COCO's boxes scored 20 true positives and the same boxes as
    EPSG:3857 GeoJSON 19)."""
    dets = _with_crs(_dets(tmp_path / "d.geojson", [(12, 12, 0.9)]), "EPSG:32633", "crs")
    fc = json.loads(dets.read_text(encoding="utf-8"))
    fc["sitewatch"]["transform"] = [10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0]
    # The centroid, pixel (12, 12), is at (500125, 4999875); its box is drawn 80 m east of it.
    x, y = 500205.0, 4999875.0
    fc["features"][0]["geometry"]["coordinates"] = [[[x - 30, y - 5], [x + 30, y - 5], [x + 30, y + 5], [x - 30, y + 5], [x - 30, y - 5]]]
    dets.write_text(json.dumps(fc), encoding="utf-8")
    around_centroid = [[500105.0, 4999855.0], [500145.0, 4999855.0], [500145.0, 4999895.0], [500105.0, 4999895.0], [500105.0, 4999855.0]]
    labels = _geojson_labels(tmp_path / "truth.geojson", [around_centroid], "EPSG:32633")
    c = score_files([(dets, labels)])
    assert (c.tp, c.fp, c.fn) == (1, 0, 0)
    # A file without the transform (an older detect-image) is scored at its box's centre, as before.
    del fc["sitewatch"]["transform"]
    dets.write_text(json.dumps(fc), encoding="utf-8")
    assert score_files([(dets, labels)]).tp == 0


def test_a_class_no_label_has_is_an_error_not_a_zero(tmp_path: Path) -> None:
    (tmp_path / "chip.xml").write_text(VOC, encoding="utf-8")
    dets = _dets(tmp_path / "chip.geojson", [(12, 15, 0.9)])
    r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "chip.xml"), "--class", "boat"])
    assert r.exit_code == 1 and "no labelled object of class 'boat'" in r.output and "buoy, ship" in r.output
    r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "chip.xml"), "--kind", "vessels"])
    assert r.exit_code == 2 and "vessels" in r.output


def test_an_empty_label_file_is_an_image_without_objects(tmp_path: Path) -> None:
    # The message for a missing label file asks for an empty one; it must then be accepted.
    (tmp_path / "labels").mkdir()
    (tmp_path / "dets").mkdir()
    _dets(tmp_path / "dets" / "calm.geojson", [(5, 5, 0.9)], source="calm.jpg")
    r = CliRunner().invoke(main, ["score", str(tmp_path / "dets"), str(tmp_path / "labels")])
    assert r.exit_code == 1 and "needs an empty label file" in r.output
    for suffix in (".xml", ".json"):
        (tmp_path / "labels" / f"calm{suffix}").write_text("\n", encoding="utf-8")
        r = CliRunner().invoke(main, ["score", str(tmp_path / "dets"), str(tmp_path / "labels"), "--json"])
        assert r.exit_code == 0, r.output
        assert (json.loads(r.output)["fp"], json.loads(r.output)["fn"]) == (1, 0)
        (tmp_path / "labels" / f"calm{suffix}").unlink()


def test_label_files_named_in_another_case_are_found(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "dets").mkdir()
    (tmp_path / "labels" / "CHIP.XML").write_text(VOC, encoding="utf-8")
    _dets(tmp_path / "dets" / "chip.geojson", [(12, 15, 0.9)], source="chip.jpg")
    r = CliRunner().invoke(main, ["score", str(tmp_path / "dets"), str(tmp_path / "labels"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["tp"] == 1


def test_coco_problems_are_told_plainly(tmp_path: Path) -> None:
    coco = {
        "images": [{"id": 1, "file_name": "algiers_rgb.tiff"}],
        "categories": [{"id": 1, "name": "ship"}],
        "annotations": [{"id": 7, "image_id": 12, "category_id": 1, "bbox": [10, 10, 5, 5]}],
    }
    labels = tmp_path / "coco.json"
    labels.write_text(json.dumps(coco), encoding="utf-8")
    dets = _dets(tmp_path / "algiers_rgb.geojson", [], source="algiers_rgb.tiff")
    with pytest.raises(InputError, match="annotation 7 is of image_id 12, which is not among its images"):
        score_files([(dets, labels)])
    coco["annotations"][0]["image_id"] = 1
    labels.write_text(json.dumps(coco), encoding="utf-8")
    # --band runs record a source per band: the image is then found by the detections file's name.
    fc = json.loads(dets.read_text(encoding="utf-8"))
    fc["sitewatch"]["source"] = {"red": "/x/B04.tif", "green": "/x/B03.tif"}
    (tmp_path / "algiers.geojson").write_text(json.dumps(fc), encoding="utf-8")
    with pytest.raises(InputError, match=r"no image named 'algiers' \(the name of algiers.geojson\).*algiers_rgb"):
        score_files([(tmp_path / "algiers.geojson", labels)])


def test_a_box_the_wrong_way_round_names_its_file(tmp_path: Path) -> None:
    dets = _dets(tmp_path / "chip.geojson", [])
    bad = tmp_path / "chip.xml"
    bad.write_text("<annotation><object><name>ship</name><bndbox><xmin>20</xmin><ymin>10</ymin><xmax>10</xmax><ymax>14</ymax></bndbox></object></annotation>", encoding="utf-8")
    with pytest.raises(InputError, match=r"chip.xml: an object's bndbox has xmin > xmax or ymin > ymax \(20, 10, 10, 14\)"):
        score_files([(dets, bad)])
    coco = tmp_path / "coco.json"
    coco.write_text(json.dumps({"images": [{"id": 1, "file_name": "chip.png"}], "annotations": [{"id": 3, "image_id": 1, "bbox": [5, 5, -2, 4]}]}), encoding="utf-8")
    with pytest.raises(InputError, match=r"^\S*coco.json: annotation 3 has a negative width or height"):
        score_files([(dets, coco)])
    coco.write_text(json.dumps({"images": [{"file_name": "chip.png"}], "annotations": []}), encoding="utf-8")
    with pytest.raises(InputError, match=r"coco.json: its images and categories need an id each"):
        score_files([(dets, coco)])


def test_a_geojson_detect_image_did_not_write_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "dets").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "chip.xml").write_text(VOC, encoding="utf-8")
    _dets(tmp_path / "dets" / "chip.geojson", [(12, 15, 0.9)], source="chip.jpg")
    # A sites export or hand-drawn boxes left in the detections folder, with or without features.
    for features in ([], [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}, "properties": {"class": "ship"}}]):
        (tmp_path / "dets" / "chip_truth.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
        (tmp_path / "labels" / "chip_truth.xml").write_text(VOC, encoding="utf-8")
        r = CliRunner().invoke(main, ["score", str(tmp_path / "dets"), str(tmp_path / "labels")])
        # Named and left out; the chip detect-image did write is scored (a partial run: exit 3).
        assert r.exit_code == 3 and "chip_truth.geojson: not a `sitewatch detect-image --out` file" in r.output, r.output
        assert "1 image(s): TP 1" in r.output, r.output
        # Alone, it is an error.
        r = CliRunner().invoke(main, ["score", str(tmp_path / "dets" / "chip_truth.geojson"), str(tmp_path / "labels")])
        assert r.exit_code == 1 and "not a `sitewatch detect-image --out` file" in r.output, r.output


def test_label_files_left_unscored_are_reported_and_exit_3(tmp_path: Path) -> None:
    """detect-image failed on some chips: their ships must not vanish from the misses unnoticed.
    The run is partial, as README's exit codes say (3, each left out named on standard error, with
    --json too); score exited 0, and named only the first five."""
    names = ("a", "b", "c", "d", "e", "f", "g", "h")
    for name in names:
        (tmp_path / f"{name}.xml").write_text(VOC, encoding="utf-8")
    (tmp_path / "out").mkdir()
    _dets(tmp_path / "out" / "a.geojson", [(12, 15, 0.9)], source="a.jpg")
    left_out = "7 label file(s) have no detections and are not scored: " + ", ".join(f"{n}.xml" for n in names[1:])
    r = CliRunner().invoke(main, ["score", str(tmp_path / "out"), str(tmp_path), "--json"])
    assert r.exit_code == 3, r.output
    assert json.loads(r.stdout)["images"] == 1
    assert left_out in r.stderr
    # and in the JSON, for a script that reads no standard error
    assert [Path(f).name for f in json.loads(r.stdout)["not_scored"]["label_files"]] == [f"{n}.xml" for n in names[1:]]
    r = CliRunner().invoke(main, ["score", str(tmp_path / "out"), str(tmp_path)])
    assert r.exit_code == 3 and "1 image(s): TP 1" in r.stdout and left_out in r.stderr, r.output
    for name in names[1:]:  # every chip has its detections now: the whole set is scored
        _dets(tmp_path / "out" / f"{name}.geojson", [], source=f"{name}.jpg")
    r = CliRunner().invoke(main, ["score", str(tmp_path / "out"), str(tmp_path), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["images"] == 8 and r.stderr == "", r.output


def test_malformed_features_are_named_not_a_traceback(tmp_path: Path) -> None:
    dets = _dets(tmp_path / "chip.geojson", [(12, 15, 0.9)])
    bad_dets = tmp_path / "bad.geojson"
    bad_dets.write_text(json.dumps({"type": "FeatureCollection", "features": [1], "sitewatch": {"detector": "sar-cfar"}}), encoding="utf-8")
    (tmp_path / "chip.xml").write_text(VOC, encoding="utf-8")
    labels = tmp_path / "labels.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [1]}), encoding="utf-8")
    coco = tmp_path / "coco.json"
    coco.write_text(json.dumps({"images": [], "annotations": [3]}), encoding="utf-8")
    for d, lab, what in ((bad_dets, tmp_path / "chip.xml", "bad.geojson: feature 0 is not"), (dets, labels, "labels.geojson: feature 0 is not"), (dets, coco, "coco.json: annotation 0 is not")):
        r = CliRunner().invoke(main, ["score", str(d), str(lab)])
        assert r.exit_code == 1 and what in r.output, r.output


def test_one_image_labels_are_not_shared_by_many_detections_files(tmp_path: Path) -> None:
    (tmp_path / "chip.xml").write_text(VOC, encoding="utf-8")
    (tmp_path / "out").mkdir()
    for name in ("chip", "other"):
        _dets(tmp_path / "out" / f"{name}.geojson", [(12, 15, 0.9)], source=f"{name}.jpg")
    r = CliRunner().invoke(main, ["score", str(tmp_path / "out"), str(tmp_path / "chip.xml")])
    assert r.exit_code == 1 and "chip.xml holds one image's labels" in r.output, r.output
    r = CliRunner().invoke(main, ["score", str(tmp_path / "out" / "chip.geojson"), str(tmp_path / "chip.xml")])
    assert r.exit_code == 0, r.output


def test_no_detections_leave_precision_undefined_a_dash_and_null(tmp_path: Path) -> None:
    (tmp_path / "chip.xml").write_text(VOC, encoding="utf-8")
    dets = _dets(tmp_path / "chip.geojson", [])
    r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "chip.xml")])
    assert r.exit_code == 0 and "TP 0  FP 0  FN 3  P –  R 0.000  F1 0.000" in r.output, r.output
    r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "chip.xml"), "--json"])
    out = json.loads(r.output)
    assert (out["precision"], out["recall"], out["f1"]) == (None, 0.0, 0.0)


def test_an_empty_detections_file_is_called_empty(tmp_path: Path) -> None:
    (tmp_path / "chip.xml").write_text(VOC, encoding="utf-8")
    (tmp_path / "chip.geojson").write_text("", encoding="utf-8")
    r = CliRunner().invoke(main, ["score", str(tmp_path / "chip.geojson"), str(tmp_path / "chip.xml")])
    assert r.exit_code == 1 and "chip.geojson: an empty file, not a `sitewatch detect-image --out` file" in r.output, r.output


def test_a_voc_object_without_a_box_is_an_error_not_a_skip(tmp_path: Path) -> None:
    # Skipping it would score a detection of that ship false.
    rotated = tmp_path / "chip.xml"
    rotated.write_text("<annotation><object><name>ship</name><hbox><cx>12</cx><cy>15</cy><w>8</w><h>3</h></hbox></object></annotation>", encoding="utf-8")
    with pytest.raises(InputError, match=r"chip.xml: object 0 \(.ship.\) has no <bndbox>, <robndbox>, <rotated_bndbox> or <polygon>"):
        score_files([(_dets(tmp_path / "chip.geojson", [(12, 15, 0.9)]), rotated)])


def test_point_or_line_geojson_labels_are_refused(tmp_path: Path) -> None:
    # A centroid never falls exactly on a point: point labels would all count as misses.
    labels = tmp_path / "truth.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [12, 12]}, "properties": {}}]}), encoding="utf-8")
    with pytest.raises(InputError, match="truth.geojson: feature 0 is a Point, not an area"):
        score_files([(_dets(tmp_path / "d.geojson", [(12, 12, 0.9)]), labels)])


def test_pixel_labels_with_y_running_negative_are_explained(tmp_path: Path) -> None:
    # QGIS shows an image without georeference with y = -row; boxes drawn there lie above the image.
    labels = tmp_path / "truth.geojson"
    box = [[[9, -9], [15, -9], [15, -15], [9, -15], [9, -9]]]
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": box}, "properties": {}}]}), encoding="utf-8")
    dets = _with_crs(_dets(tmp_path / "d.geojson", [(12, 12, 0.9)]), PIXEL_CRS, "pixel (x=col, y=row, pixel centres at integers)")
    with pytest.raises(InputError, match="truth.geojson: every box lies at y < 0.*y = -row"):
        score_files([(dets, labels)])


def test_coco_images_sharing_a_name_are_not_merged(tmp_path: Path) -> None:
    coco = {
        "images": [{"id": 1, "file_name": "train/x.jpg"}, {"id": 2, "file_name": "val/x.jpg"}, {"id": 3, "file_name": "val/y.jpg"}],
        "categories": [{"id": 1, "name": "ship"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 5, 5]}, {"id": 2, "image_id": 2, "category_id": 1, "bbox": [30, 30, 5, 5]}],
    }
    labels = tmp_path / "coco.json"
    labels.write_text(json.dumps(coco), encoding="utf-8")
    assert score_files([(_dets(tmp_path / "y.geojson", [], source="y.jpg"), labels)]).fn == 0
    with pytest.raises(InputError, match=r"coco.json: 2 images are named 'x' \(train/x.jpg, val/x.jpg\)"):
        score_files([(_dets(tmp_path / "x.geojson", [(12, 12, 0.9)], source="x.jpg"), labels)])


def test_an_image_is_scored_once(tmp_path: Path) -> None:
    coco = {"images": [{"id": 1, "file_name": "x.jpg"}], "annotations": [{"id": 1, "image_id": 1, "bbox": [10, 10, 5, 5]}]}
    (tmp_path / "coco.json").write_text(json.dumps(coco), encoding="utf-8")
    (tmp_path / "x.xml").write_text(VOC, encoding="utf-8")
    (tmp_path / "out").mkdir()
    _dets(tmp_path / "out" / "x.geojson", [(12, 12, 0.9)], source="x.jpg")
    _dets(tmp_path / "out" / "x_again.geojson", [(12, 12, 0.9)], source="/other/x.jpg")
    for labels in ("coco.json", "x.xml"):
        with pytest.raises(InputError, match="x.geojson and x_again.geojson are both detections of image 'x'"):
            score_files([(tmp_path / "out" / "x.geojson", tmp_path / labels), (tmp_path / "out" / "x_again.geojson", tmp_path / labels)])


def test_a_missing_class_key_is_named(tmp_path: Path) -> None:
    labels = tmp_path / "truth.geojson"
    box = [[[9, 9], [15, 9], [15, 15], [9, 15], [9, 9]]]
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": box}, "properties": {"class": "ship"}}]}), encoding="utf-8")
    with pytest.raises(InputError, match=r"no labelled object of class 'ship' \(classes found: \(no 'type' property; see --class-key\)\)"):
        score_files([(_dets(tmp_path / "d.geojson", [(12, 12, 0.9)]), labels)], classes=["ship"], class_key="type")


def test_a_voc_file_named_after_another_image_is_pointed_out(tmp_path: Path) -> None:
    (tmp_path / "b.xml").write_text(VOC, encoding="utf-8")
    (tmp_path / "a.xml").write_text(VOC, encoding="utf-8")
    dets = _dets(tmp_path / "a.geojson", [(12, 15, 0.9)], source="a.jpg")
    r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "b.xml")])
    assert r.exit_code == 0 and "note: a.geojson (image 'a') is scored against b.xml" in r.stderr, r.output
    r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "a.xml")])
    assert r.exit_code == 0 and "note:" not in r.stderr


def test_detections_named_in_upper_case_are_found_in_a_folder(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "chip.xml").write_text(VOC, encoding="utf-8")
    (tmp_path / "dets").mkdir()
    _dets(tmp_path / "dets" / "CHIP.GEOJSON", [(12, 15, 0.9)])
    r = CliRunner().invoke(main, ["score", str(tmp_path / "dets"), str(tmp_path / "labels"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["tp"] == 1


def test_detect_image_outputs_named_json_are_found_in_a_folder(tmp_path: Path) -> None:
    """detect-image --out x.json writes the same GeoJSON; a folder of them is scored, other .json files left alone."""
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "chip.xml").write_text(VOC, encoding="utf-8")
    (tmp_path / "dets").mkdir()
    _dets(tmp_path / "dets" / "chip.json", [(12, 15, 0.9)])
    (tmp_path / "dets" / "notes.json").write_text("{}", encoding="utf-8")
    r = CliRunner().invoke(main, ["score", str(tmp_path / "dets"), str(tmp_path / "labels"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["tp"] == 1


def test_coco_images_without_detections_are_named_when_a_folder_is_scored(tmp_path: Path) -> None:
    """As label files left over in a folder are: images detect-image failed on must not vanish from the count silently."""
    coco = {
        "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}],
        "annotations": [{"id": 1, "image_id": 1, "bbox": [10, 10, 5, 5]}, {"id": 2, "image_id": 2, "bbox": [10, 10, 5, 5]}],
    }
    (tmp_path / "coco.json").write_text(json.dumps(coco), encoding="utf-8")
    (tmp_path / "out").mkdir()
    _dets(tmp_path / "out" / "a.geojson", [(12, 12, 0.9)], source="a.jpg")
    r = CliRunner().invoke(main, ["score", str(tmp_path / "out"), str(tmp_path / "coco.json")])
    assert r.exit_code == 3, r.output  # partial, as with label files left out
    assert "1 image(s) of coco.json have no detections and are not scored: b" in r.stderr
    j = CliRunner().invoke(main, ["score", str(tmp_path / "out"), str(tmp_path / "coco.json"), "--json"])
    assert json.loads(j.stdout)["not_scored"] == {"label_files": [], "coco_images": ["b"], "detections_files": []}
    # One detections file scored against a COCO file is that image alone, not a partial run.
    r = CliRunner().invoke(main, ["score", str(tmp_path / "out" / "a.geojson"), str(tmp_path / "coco.json")])
    assert r.exit_code == 0 and r.stderr == "", r.output


def test_the_better_score_chooses_first_whatever_the_order_given() -> None:
    # b (7) lies in both boxes, nearer A's centre; a (3) lies in A only. Taken first, b takes A and
    # leaves a nothing; taken second, it finds A gone and takes B.
    boxes = [Box(0, 0, 10, 10), Box(5, 0, 15, 10)]
    a, b = (3.0, 5.0), (7.0, 5.0)
    assert match_boxes([Detected(*a, 0.5), Detected(*b, 0.9)], boxes) == (1, 1, 1)
    assert match_boxes([Detected(*b, 0.5), Detected(*a, 0.9)], boxes) == (2, 0, 0)


def test_a_detection_takes_the_box_with_the_nearest_centre_in_x_and_y() -> None:
    # (9, 5) lies in both, nearer B's centre (10, 5); A is left for (3, 5), which only A holds.
    assert match_boxes([Detected(9, 5, 0.9), Detected(3, 5, 0.5)], [Box(0, 0, 10, 10), Box(5, 0, 15, 10)]) == (2, 0, 0)
    # The same stacked in y.
    assert match_boxes([Detected(5, 9, 0.9), Detected(5, 3, 0.5)], [Box(0, 0, 10, 10), Box(0, 5, 10, 15)]) == (2, 0, 0)


def test_a_box_holds_its_edges_and_only_points_inside_in_both_axes() -> None:
    b = Box(0, 0, 10, 4)
    assert b.holds(10, 4) and b.holds(0, 0)
    assert not b.holds(5, 4.01) and not b.holds(5, -1) and not b.holds(10.01, 2)
    with pytest.raises(InputError, match="wrong way round"):
        Box(5, 0, 1, 4)


def test_figures_of_nothing_are_undefined() -> None:
    from sitewatch.boxscore import Counts

    c = Counts()
    assert (c.precision, c.recall, c.f1) == (None, None, None)
    c.add("a", (0, 2, 0))
    assert (c.precision, c.recall, c.f1) == (0.0, None, 0.0)
    c.add("b", (3, 1, 2))
    assert (c.tp, c.fp, c.fn, c.images) == (3, 3, 2, 2) and c.f1 == pytest.approx(6 / 11)


def test_min_score_is_inclusive_and_other_kinds_are_not_scored(tmp_path: Path) -> None:
    (tmp_path / "chip.xml").write_text(VOC, encoding="utf-8")
    pair = [(_dets(tmp_path / "chip.geojson", [(12, 15, 0.75), (50, 42, 0.7)]), tmp_path / "chip.xml")]
    assert score_files(pair, classes=["ship"], min_score=0.75).tp == 1
    crane = [(_dets(tmp_path / "c.geojson", [(12, 15, 0.9)], kind="crane"), tmp_path / "chip.xml")]
    assert (score_files(crane).tp, score_files(crane).fp) == (0, 0)
    assert score_files(crane, kinds=["crane"]).tp == 1


def test_voc_boxes_reach_half_a_pixel_beyond_both_edges_and_read_x_as_columns(tmp_path: Path) -> None:
    (tmp_path / "chip.xml").write_text(VOC, encoding="utf-8")  # first ship: columns 10..20, rows 10..14
    for row, col, hit in ((12, 9.6, 1), (9.6, 15, 1), (12, 9.4, 0), (15, 15, 0)):
        dets = _dets(tmp_path / "chip.geojson", [(row, col, 0.9)])
        assert score_files([(dets, tmp_path / "chip.xml")], classes=["ship"]).tp == hit, (row, col)


def test_voc_boxes_are_compared_with_row_and_col_not_the_geometry(tmp_path: Path) -> None:
    # detect-image on a georeferenced image writes the box in the image's CRS and row/col in pixels.
    (tmp_path / "chip.xml").write_text(VOC, encoding="utf-8")
    dets = _with_crs(_dets(tmp_path / "chip.geojson", [(12, 15, 0.9)]), "EPSG:32652", "crs")
    fc = json.loads(dets.read_text(encoding="utf-8"))
    fc["features"][0]["geometry"]["coordinates"] = [[[500000, 4750000], [500010, 4750000], [500010, 4750010], [500000, 4750000]]]
    dets.write_text(json.dumps(fc), encoding="utf-8")
    assert score_files([(dets, tmp_path / "chip.xml")], classes=["ship"]).tp == 1


def test_a_xml_file_that_is_not_voc_is_named(tmp_path: Path) -> None:
    (tmp_path / "chip.xml").write_text("<kml><object><name>ship</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></kml>", encoding="utf-8")
    with pytest.raises(InputError, match="not a Pascal VOC annotation"):
        score_files([(_dets(tmp_path / "chip.geojson", []), tmp_path / "chip.xml")])


def test_coco_boxes_are_x_y_width_height_and_filtered_by_class(tmp_path: Path) -> None:
    coco = {
        "images": [{"id": 1, "file_name": "a.tif"}],
        "categories": [{"id": 1, "name": "ship"}, {"id": 2, "name": "buoy"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 30, 4]},  # cols 10..39, rows 20..23
                        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [60, 60, 2, 2]}],
    }
    labels = tmp_path / "coco.json"
    labels.write_text(json.dumps(coco), encoding="utf-8")
    wide = _dets(tmp_path / "a.geojson", [(22, 35, 0.9)], source="a.tif")
    assert (score_files([(wide, labels)], classes=["ship"]).tp, score_files([(wide, labels)], classes=["ship"]).fn) == (1, 0)
    assert score_files([(wide, labels)]).fn == 1  # the buoy too when no class is named


def test_geojson_labels_are_filtered_by_class(tmp_path: Path) -> None:
    def feat(x: float, cls: str) -> dict[str, object]:
        ring = [[x, 0], [x + 4, 0], [x + 4, 4], [x, 4], [x, 0]]
        return {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {"class": cls}}

    labels = tmp_path / "truth.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [feat(0, "ship"), feat(20, "buoy")]}), encoding="utf-8")
    dets = _dets(tmp_path / "d.geojson", [(2, 2, 0.9)])
    assert (score_files([(dets, labels)], classes=["ship"]).fn, score_files([(dets, labels)]).fn) == (0, 1)


def test_wgs84_labels_named_epsg_4326_go_with_detections_without_a_crs(tmp_path: Path) -> None:
    # detect-image writes no crs member for WGS84 (GeoJSON's own lon/lat); EPSG:4326 names lat/lon axes,
    # but a GeoJSON file that names it still holds lon/lat.
    ring = [[132.0, 42.0], [132.1, 42.0], [132.1, 42.1], [132.0, 42.1], [132.0, 42.0]]
    labels = tmp_path / "truth.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:4326"}},
                                  "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {}}]}), encoding="utf-8")
    dets = _dets(tmp_path / "d.geojson", [(42.05, 132.05, 0.9)])
    fc = json.loads(dets.read_text(encoding="utf-8"))
    fc["features"][0]["geometry"]["coordinates"] = [[[132.04, 42.04], [132.06, 42.04], [132.06, 42.06], [132.04, 42.06], [132.04, 42.04]]]
    dets.write_text(json.dumps(fc), encoding="utf-8")
    assert score_files([(dets, labels)]).tp == 1


def test_in_a_folder_an_unreadable_detections_file_is_named_and_the_others_scored(tmp_path: Path) -> None:
    # One chip's detect-image run was cut short: its output is empty. The other chips still count.
    labels = tmp_path / "labels"
    labels.mkdir()
    for name in ("a", "b"):
        (labels / f"{name}.xml").write_text(VOC, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    _dets(out / "a.geojson", [])
    (out / "b.geojson").write_text("", encoding="utf-8")
    r = CliRunner().invoke(main, ["score", str(out), str(labels)])
    assert r.exit_code == 3, r.output
    assert "1 detections file(s) cannot be read" in r.output and "b.geojson: an empty file" in r.output, r.output
    assert "1 image(s): TP 0  FP 0  FN 3" in r.output, r.output
    r = CliRunner().invoke(main, ["score", str(out), str(labels), "--json"])
    assert r.exit_code == 3 and json.loads(r.stdout)["images"] == 1, r.output


def _measured(path: Path, points: list[tuple[float, float, float]], pixel_m: tuple[float, float]) -> Path:
    """Detections of length 100 m at (row, col), in an image of ``pixel_m`` pixels."""
    _dets(path, [(r, c, 0.9) for r, c, _ in points])
    fc = json.loads(path.read_text(encoding="utf-8"))
    for f, (_, _, length) in zip(fc["features"], points, strict=True):
        f["properties"]["length_m"] = length
    fc["sitewatch"]["pixel_size_m"] = list(pixel_m)
    path.write_text(json.dumps(fc), encoding="utf-8")
    return path


def test_length_error_against_rotated_boxes_and_masks_not_axis_aligned_ones(tmp_path: Path) -> None:
    import math

    import numpy as np
    from PIL import Image

    # A DOTA ship 50 px long at 30°, pixels 2 m: 100 m labelled; detected 110 m → +10 m.
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    corners = [(60 + c * dx - s * dy, 60 + s * dx + c * dy) for dx, dy in ((-25, -4), (25, -4), (25, 4), (-25, 4))]
    (tmp_path / "chip.txt").write_text(" ".join(f"{x:.3f} {y:.3f}" for x, y in corners) + " ship 0\n", encoding="utf-8")
    dets = _measured(tmp_path / "chip.geojson", [(60.0, 60.0, 110.0)], (2.0, 2.0))
    r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "chip.txt"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["length_error_m"] == pytest.approx({"n": 1, "median": 10.0, "median_abs": 10.0, "mean_abs": 10.0}, abs=0.05)
    text = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "chip.txt")]).output
    assert "median +10.0 m" in text
    # An instance mask: a diagonal hull 40 px along the diagonal (about 56.6 px), on 1.5 × 1.5 m pixels.
    mask = np.zeros((100, 100, 3), np.uint8)
    for k in range(40):
        mask[30 + k, 30 + k : 33 + k] = (255, 0, 0)
    Image.fromarray(mask).save(tmp_path / "hull_instance_id_RGB.png")
    hull = _measured(tmp_path / "hull.geojson", [(50.0, 51.0, 90.0)], (1.5, 1.5))
    m = CliRunner().invoke(main, ["score", str(hull), str(tmp_path / "hull_instance_id_RGB.png"), "--json"])
    assert m.exit_code == 0, m.output
    error = json.loads(m.output)["length_error_m"]
    assert error["n"] == 1 and 90.0 - 1.5 * 59 < error["median"] < 90.0 - 1.5 * 55  # labelled ≈ 56-59 px
    # An axis-aligned VOC box gives no length: a diagonal ship fills its corners.
    (tmp_path / "chip.xml").write_text(VOC, encoding="utf-8")
    voc = _measured(tmp_path / "voc.geojson", [(12.0, 15.0, 30.0)], (2.0, 2.0))
    plain = CliRunner().invoke(main, ["score", str(voc), str(tmp_path / "chip.xml"), "--json"])
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.output)["tp"] == 1 and json.loads(plain.output)["length_error_m"] is None


def _hull_quad() -> str:
    """A DOTA line of a hull 150 × 8 m at 20° around pixel (60, 60), on pixels 3 m wide and 2 m tall: a parallelogram
    in pixels, 150 m long once each axis is scaled by its own size (an axis-aligned quad gives no length)."""
    c, s = math.cos(math.radians(20)), math.sin(math.radians(20))
    corners = [(60 + (c * dx - s * dy) / 3, 60 + (s * dx + c * dy) / 2) for dx, dy in ((-75, -4), (75, -4), (75, 4), (-75, 4))]
    return " ".join(f"{x:.6f} {y:.6f}" for x, y in corners) + " ship 0\n"


def test_length_error_uses_each_axis_of_a_non_square_pixel(tmp_path: Path) -> None:
    # 150 m, not measured with the mean of 3 and 2.
    (tmp_path / "chip.txt").write_text(_hull_quad(), encoding="utf-8")
    dets = _measured(tmp_path / "chip.geojson", [(60.0, 60.0, 150.0)], (3.0, 2.0))
    r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "chip.txt"), "--json"])
    assert json.loads(r.output)["length_error_m"]["median"] == pytest.approx(0.0, abs=0.01)


def test_an_axis_aligned_box_gives_no_length_in_any_format(tmp_path: Path) -> None:
    """A DOTA quadrilateral (or YOLO oriented box, LabelMe rotation or polygon, COCO polygon) that is axis-aligned gave
    its long side as the hull's length while the same rectangle in GeoJSON gave none: the SAR chips' VOC boxes written
    as DOTA had a length error of −32 m, a box's long side. An axis-aligned rectangle is a box drawn around the
    object in every format; a rotated one still gives its length."""
    dets = _measured(tmp_path / "chip.geojson", [(60.0, 60.0, 110.0)], (2.0, 2.0))
    fc = json.loads(dets.read_text(encoding="utf-8"))
    fc["sitewatch"]["image_size"] = [120, 120]
    dets.write_text(json.dumps(fc), encoding="utf-8")
    _with_crs(dets, PIXEL_CRS)  # detect-image's pixel output: GeoJSON labels in pixels too
    upright = [(35.0, 58.0), (85.0, 58.0), (85.0, 62.0), (35.0, 62.0)]  # 50 × 4 px around the detection
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    turned = [(60 + c * dx - s * dy, 60 + s * dx + c * dy) for dx, dy in ((-25, -2), (25, -2), (25, 2), (-25, 2))]

    def lengths(corners: list[tuple[float, float]]) -> dict[str, object]:
        flat = [v for xy in corners for v in xy]
        edge = [(x + 0.5, y + 0.5) for x, y in corners]  # positions from the image's corner (LabelMe, COCO)
        files = {
            "dota.txt": " ".join(f"{v:.6f}" for v in flat) + " ship 0\n",
            "yolo.txt": "0 " + " ".join(f"{(v + 0.5) / 120:.8f}" for v in flat) + "\n",
            "labelme.json": json.dumps({"shapes": [{"label": "ship", "points": edge, "shape_type": "rotation", "flags": {}}],
                                        "imagePath": "chip.png", "imageWidth": 120, "imageHeight": 120}),
            "polygon.json": json.dumps({"shapes": [{"label": "ship", "points": edge, "shape_type": "polygon", "flags": {}}],
                                        "imagePath": "chip.png", "imageWidth": 120, "imageHeight": 120}),
            "coco.json": json.dumps({"images": [{"id": 1, "file_name": "chip.png", "width": 120, "height": 120}],
                                     "categories": [{"id": 1, "name": "ship"}],
                                     "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
                                                      "segmentation": [[v + 0.5 for v in flat]]}]}),
            "pixels.geojson": json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"class": "ship"},
                                          "geometry": {"type": "Polygon", "coordinates": [[*map(list, corners), list(corners[0])]]}}]}),
        }  # fmt: skip
        out: dict[str, object] = {}
        for name, text in files.items():
            folder = tmp_path / name.replace(".", "_")
            folder.mkdir(exist_ok=True)
            label = folder / ("chip" + name[name.index("."):])
            label.write_text(text, encoding="utf-8")
            r = CliRunner().invoke(main, ["score", str(dets), str(label), "--json"])
            assert r.exit_code == 0 and json.loads(r.stdout)["tp"] == 1, (name, r.output)
            err = json.loads(r.stdout)["length_error_m"]
            out[name] = None if err is None else round(err["median"], 1)
        return out

    assert set(lengths(upright).values()) == {None}, lengths(upright)
    assert set(lengths(turned).values()) == {10.0}, lengths(turned)  # 50 px × 2 m = 100 m labelled, 110 m detected
    # A rectangle in Web Mercator metres (millions) is one too, its area's last digits not lost to rounding.
    from sitewatch.boxlabels import fills_its_box

    x, y = 990_736.3, 5_528_411.7
    assert fills_its_box([(x, y), (x + 200.4, y), (x + 200.4, y + 30.2), (x, y + 30.2)])
    assert not fills_its_box([(x, y), (x + 200.4, y + 0.5), (x + 200.4, y + 30.7), (x, y + 30.2)])


def test_length_error_of_geojson_labels_in_web_mercator_is_in_ground_metres(tmp_path: Path) -> None:
    import math

    from pyproj import Transformer

    # A 200 m ship at Genoa (44.4° N), drawn at 30° as a polygon in EPSG:3857, where a ground metre
    # is 1/cos(44.4°) = 1.40 of the projection's: read as they are, its labelled length was 280 m.
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(8.9, 44.4)
    k = 1 / math.cos(math.radians(44.4))
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    ring = [[x + k * (c * dx - s * dy), y + k * (s * dx + c * dy)] for dx, dy in ((-100, -15), (100, -15), (100, 15), (-100, 15), (-100, -15))]
    labels = tmp_path / "truth.geojson"
    labels.write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:3857"}},
        "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {"class": "ship"}}],
    }), encoding="utf-8")  # fmt: skip
    dets = _measured(tmp_path / "d.geojson", [(12.0, 12.0, 210.0)], (7.15, 7.15))
    fc = json.loads(dets.read_text(encoding="utf-8"))
    fc["features"][0]["geometry"]["coordinates"] = [[[x - 5, y - 5], [x + 5, y - 5], [x + 5, y + 5], [x - 5, y + 5], [x - 5, y - 5]]]
    dets.write_text(json.dumps(fc), encoding="utf-8")
    r = CliRunner().invoke(main, ["score", str(_with_crs(dets, "EPSG:3857", "crs")), str(labels), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["length_error_m"]["median"] == pytest.approx(10.0, abs=0.5)


@pytest.mark.parametrize("crs", [None, "EPSG:4326"])
def test_length_error_of_geojson_labels_in_lon_lat_is_measured_on_the_ground(tmp_path: Path, crs: str | None) -> None:
    import math

    # A 200 m ship at 60° N drawn at 30° as a lon/lat polygon (a Sentinel-1 product's detections are
    # lon/lat from its GCPs): its length was left out, "length_error_m": null.
    lon0, lat0 = 10.0, 60.0
    # Metres in a degree of longitude and of latitude at 60° N on the WGS84 ellipsoid (the usual series).
    mx = 111_412.84 * math.cos(math.radians(lat0)) - 93.5 * math.cos(math.radians(3 * lat0))
    my = 111_132.95 - 559.82 * math.cos(math.radians(2 * lat0)) + 1.17 * math.cos(math.radians(4 * lat0))
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    ring = [[lon0 + (c * dx - s * dy) / mx, lat0 + (s * dx + c * dy) / my] for dx, dy in ((-100, -15), (100, -15), (100, 15), (-100, 15), (-100, -15))]
    labels = tmp_path / "truth.geojson"
    truth: dict[str, object] = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {}}]}
    if crs is not None:
        truth["crs"] = {"type": "name", "properties": {"name": crs}}
    labels.write_text(json.dumps(truth), encoding="utf-8")
    dets = _measured(tmp_path / "d.geojson", [(12.0, 12.0, 210.0)], (10.0, 10.0))
    fc = json.loads(dets.read_text(encoding="utf-8"))
    d = 1e-5
    fc["features"][0]["geometry"]["coordinates"] = [[[lon0 - d, lat0 - d], [lon0 + d, lat0 - d], [lon0 + d, lat0 + d], [lon0 - d, lat0 + d], [lon0 - d, lat0 - d]]]
    dets.write_text(json.dumps(fc), encoding="utf-8")
    if crs is not None:
        _with_crs(dets, crs, "crs")
    r = CliRunner().invoke(main, ["score", str(dets), str(labels), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["length_error_m"]["median"] == pytest.approx(10.0, abs=0.5)


def test_detections_of_an_image_a_coco_file_does_not_list_say_how_to_go_on(tmp_path: Path) -> None:
    """A folder detected whole, scored against a COCO file of one split: the error told the evaluator to
    rename a detections file that was named after its image all along."""
    coco = {"images": [{"id": 1, "file_name": "test/a.jpg"}], "categories": [{"id": 1, "name": "ship"}], "annotations": []}
    labels = tmp_path / "test.json"
    labels.write_text(json.dumps(coco), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    _dets(out / "a.geojson", [], source="chips/a.jpg")
    _dets(out / "b.geojson", [], source="chips/b.jpg")
    r = CliRunner().invoke(main, ["score", str(out), str(labels)])
    assert r.exit_code == 1 and "no image named 'b'" in r.output and "take b.geojson out of DETECTIONS" in r.output, r.output


def test_detections_only_in_subfolders_are_pointed_to(tmp_path: Path) -> None:
    """Chips detected split by split into out/train/ and out/test/: `score out/ labels/` said only that out/
    held no detections."""
    out = tmp_path / "out"
    (out / "train").mkdir(parents=True)
    _dets(out / "train" / "chip.geojson", [(12, 15, 0.9)])
    (tmp_path / "chip.xml").write_text(VOC, encoding="utf-8")
    r = CliRunner().invoke(main, ["score", str(out), str(tmp_path)])
    assert r.exit_code == 1 and "no detections in this folder" in r.output and "train/ hold(s) .geojson files" in r.output, r.output


@st.composite
def _rotated_box(draw: st.DrawFn) -> Box:
    """A rotated rectangle (as DOTA labels give them) anywhere in a 60-pixel square, maybe difficult."""
    cx, cy = draw(st.floats(0, 60)), draw(st.floats(0, 60))
    half_l, half_w = draw(st.floats(0.5, 15)), draw(st.floats(0.5, 15))
    a = math.radians(draw(st.floats(0, 180)))
    u, v = (half_l * math.cos(a), half_l * math.sin(a)), (-half_w * math.sin(a), half_w * math.cos(a))
    corners = [(cx + su * u[0] + sv * v[0], cy + su * u[1] + sv * v[1]) for su, sv in ((1, 1), (-1, 1), (-1, -1), (1, -1))]
    return Box.around(corners, difficult=draw(st.booleans()))


def _axis_box(x: int, y: int, w: int, h: int, difficult: bool) -> Box:
    return Box(x, y, x + w, y + h, difficult=difficult)


AXIS_BOXES = st.builds(_axis_box, st.integers(0, 40), st.integers(0, 40), st.integers(0, 20), st.integers(0, 20), st.booleans())
DETECTIONS = st.builds(Detected, st.floats(-5, 70), st.floats(-5, 70), st.floats(0, 1))


@settings(max_examples=200, deadline=None)
@given(st.lists(DETECTIONS, max_size=12), st.lists(st.one_of(AXIS_BOXES, _rotated_box()), max_size=8))
def test_matching_is_one_to_one_and_every_detection_is_counted_once(dets: list[Detected], boxes: list[Box]) -> None:
    """Whatever overlaps: each box matches at most one detection and each detection at most one box, a
    match holds the detection and is no difficult box, and every detection is a true positive, a false
    one or left out, every box that is not difficult a true positive or a miss. A detection left
    unmatched found every box that holds it taken by one scored at least as high."""
    matched: list[tuple[int, int]] = []
    tp, fp, fn = match_boxes(dets, boxes, matched)
    assert tp == len(matched) and fp >= 0 and fn >= 0
    assert len({j for j, _ in matched}) == tp and len({i for _, i in matched}) == tp
    assert all(boxes[i].holds(dets[j].x, dets[j].y) and not boxes[i].difficult for j, i in matched)
    left_out = sum(
        j not in dict(matched) and any(b.difficult and b.holds(d.x, d.y) for b in boxes) for j, d in enumerate(dets)
    )
    assert tp + fp + left_out == len(dets)
    assert tp + fn == sum(not b.difficult for b in boxes)
    taker = {i: j for j, i in matched}
    for j, d in enumerate(dets):
        if j not in dict(matched):
            for i, b in enumerate(boxes):
                if b.holds(d.x, d.y) and not b.difficult:
                    assert i in taker and dets[taker[i]].score >= d.score, (j, i)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.builds(Detected, st.integers(-5, 70), st.integers(-5, 70), st.floats(0, 1)), max_size=12),
    st.lists(AXIS_BOXES, max_size=8),
    st.integers(-10_000, 10_000),
    st.integers(-10_000, 10_000),
)
def test_matching_moves_with_the_image(dets: list[Detected], boxes: list[Box], dx: int, dy: int) -> None:
    """Moving detections and boxes together (by whole pixels, so that no edge is rounded) matches the
    same pairs: pixel labels and map coordinates far from the origin are scored alike."""
    matched: list[tuple[int, int]] = []
    moved: list[tuple[int, int]] = []
    counts = match_boxes(dets, boxes, matched)
    assert match_boxes(
        [Detected(d.x + dx, d.y + dy, d.score) for d in dets],
        [Box(b.x0 + dx, b.y0 + dy, b.x1 + dx, b.y1 + dy, difficult=b.difficult) for b in boxes],
        moved,
    ) == counts
    assert moved == matched


@settings(max_examples=100, deadline=None)
@given(_rotated_box())
def test_a_rotated_box_holds_its_centre_and_its_corners(box: Box) -> None:
    """A detection at a rotated box's centre, or on one of its corners (edges count), is a true positive."""
    xs, ys = [p[0] for p in box.outline], [p[1] for p in box.outline]
    centre = (sum(xs) / 4, sum(ys) / 4)
    for x, y in [centre, *box.outline]:
        assert box.holds(x, y), (x, y)
        expected = (0, 0, 0) if box.difficult else (1, 0, 0)
        assert match_boxes([Detected(x, y, 0.5)], [box]) == expected


def test_csv_and_json_give_each_image_a_row_with_the_rule_stated(tmp_path: Path) -> None:
    """A paper's table: each image's counts, P, R, F1 and length error, the sums, and the rule they were counted by."""
    import csv

    (tmp_path / "labels").mkdir()
    (tmp_path / "dets").mkdir()
    (tmp_path / "labels" / "chip.xml").write_text(VOC, encoding="utf-8")
    (tmp_path / "labels" / "calm.xml").write_text("<annotation><size><width>50</width><height>50</height></size></annotation>", encoding="utf-8")
    (tmp_path / "labels" / "quad.txt").write_text(_hull_quad(), encoding="utf-8")
    _dets(tmp_path / "dets" / "chip.geojson", [(12, 15, 0.9), (100, 100, 0.6)], source="chip.jpg")
    _dets(tmp_path / "dets" / "calm.geojson", [(5, 5, 0.9), (20, 20, 0.5)], source="calm.jpg")  # no ships: false positives only
    _measured(tmp_path / "dets" / "quad.geojson", [(60.0, 60.0, 160.0)], (3.0, 2.0))  # labelled 150 m
    fc = json.loads((tmp_path / "dets" / "quad.geojson").read_text(encoding="utf-8"))
    fc["sitewatch"]["source"] = "quad.png"
    (tmp_path / "dets" / "quad.geojson").write_text(json.dumps(fc), encoding="utf-8")
    out = tmp_path / "scores.csv"
    args = ["score", str(tmp_path / "dets"), str(tmp_path / "labels"), "--class", "ship"]
    r = CliRunner().invoke(main, [*args, "--csv", str(out)])
    assert r.exit_code == 0, r.output
    rows = {row["image"]: row for row in csv.DictReader(out.read_text(encoding="utf-8").splitlines())}
    assert list(rows) == ["calm", "chip", "quad", "(all images)"]
    calm, chip, quad, total = rows["calm"], rows["chip"], rows["quad"], rows["(all images)"]
    assert (calm["tp"], calm["fp"], calm["fn"], calm["precision"], calm["recall"], calm["f1"]) == ("0", "2", "0", "0", "", "0")
    assert (chip["tp"], chip["fp"], chip["fn"], chip["precision"], chip["recall"]) == ("1", "1", "1", "0.5", "0.5")
    assert chip["labels"].endswith("chip.xml") and chip["detections"].endswith("chip.geojson") and chip["length_n"] == "0"
    assert quad["length_n"] == "1" and float(quad["length_error_median_m"]) == pytest.approx(10.0, abs=0.01)
    assert (total["tp"], total["fp"], total["fn"]) == ("2", "3", "1") and float(total["f1"]) == pytest.approx(4 / 8)
    j = CliRunner().invoke(main, [*args, "--json", "--per-image"])
    doc = json.loads(j.stdout)
    assert "one-to-one per image" in doc["rule"] and "difficult are neither missed" in doc["rule"]
    assert doc["settings"] == {"classes": ["ship"], "kinds": ["vessel"], "min_score": 0.0, "difficult": "ignore"}
    assert doc["per_image"]["calm"] | {"detections": None, "labels": None} == {
        "detections": None, "labels": None, "detector": "sar-cfar", "tp": 0, "fp": 2, "fn": 0, "precision": 0.0, "recall": None, "f1": 0.0, "length_error_m": None, "off_image_labels": 0, "no_area_labels": 0,
    }  # fmt: skip
    assert doc["per_image"]["quad"]["length_error_m"]["n"] == 1
    # Which detector, in which version, the figures are of; versions pooled are warned of.
    assert doc["detectors"] == ["sar-cfar"] and doc["per_image"]["chip"]["detector"] == "sar-cfar" and doc["sitewatch"]
    for name, version in (("chip", "1.13.0"), ("calm", "1.12.0"), ("quad", "1.13.0")):
        fc = json.loads((tmp_path / "dets" / f"{name}.geojson").read_text(encoding="utf-8"))
        fc["sitewatch"]["detector_version"] = version
        (tmp_path / "dets" / f"{name}.geojson").write_text(json.dumps(fc), encoding="utf-8")
    mixed = CliRunner().invoke(main, [*args, "--json", "--csv", str(out)])
    assert json.loads(mixed.stdout)["detectors"] == ["sar-cfar 1.12.0", "sar-cfar 1.13.0"]
    assert "2 versions of sar-cfar (sar-cfar 1.12.0, sar-cfar 1.13.0)" in mixed.stderr
    assert [row["detector"] for row in csv.DictReader(out.read_text(encoding="utf-8").splitlines())] == ["sar-cfar 1.12.0", "sar-cfar 1.13.0", "sar-cfar 1.13.0", ""]
    # The CSV alone on standard output; a name no spreadsheet takes for CSV is refused before any work.
    s = CliRunner().invoke(main, [*args, "--csv", "-"])
    assert s.exit_code == 0 and s.stdout.startswith("image,detections,labels,detector,tp,") and "P " not in s.stdout
    bad = CliRunner().invoke(main, [*args, "--csv", str(tmp_path / "scores.xlsx")])
    assert bad.exit_code == 2 and "name the file .csv" in bad.output
    both = CliRunner().invoke(main, [*args, "--csv", "-", "--json"])
    assert both.exit_code == 2 and "standard output" in both.output


def test_geojson_labels_in_another_crs_are_carried_into_the_detections(tmp_path: Path) -> None:
    """Labels in lon/lat (GeoJSON's own CRS) against detections in the image's UTM zone were refused
    ("reproject the labels"); sen2ships' Genoa boxes in lon/lat now score as its COCO file (20 TP, 17 FP, 9 FN)."""
    from pyproj import Transformer

    # A 200 m ship at 30° drawn in lon/lat around the detection's centroid, pixel (12, 12) of a 10 m UTM grid.
    x, y = 500125.0, 4999875.0
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    to_lonlat = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    ring = [list(to_lonlat.transform(x + c * dx - s * dy, y + s * dx + c * dy)) for dx, dy in ((-100, -15), (100, -15), (100, 15), (-100, 15), (-100, -15))]
    labels = _geojson_labels(tmp_path / "truth.geojson", [ring])  # no crs member: WGS84 lon/lat
    dets = _measured(tmp_path / "d.geojson", [(12.0, 12.0, 210.0)], (10.0, 10.0))
    fc = json.loads(dets.read_text(encoding="utf-8"))
    fc["crs"] = {"type": "name", "properties": {"name": "EPSG:32633"}}
    fc["sitewatch"] |= {"coordinates": "crs", "transform": [10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0], "image_size": [100, 100]}
    fc["features"][0]["geometry"]["coordinates"] = [[[x - 5, y - 5], [x + 5, y - 5], [x + 5, y + 5], [x - 5, y + 5], [x - 5, y - 5]]]
    dets.write_text(json.dumps(fc), encoding="utf-8")
    r = CliRunner().invoke(main, ["score", str(dets), str(labels), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (out["tp"], out["fp"], out["fn"]) == (1, 0, 0)
    assert out["length_error_m"]["median"] == pytest.approx(10.0, abs=0.5)  # measured where it was drawn
    # 40 m beside the hull, within its envelope in lon/lat: outside the carried outline.
    fc["features"][0]["properties"] |= {"col": 12.0 - 2.0, "row": 12.0 - 3.5}
    dets.write_text(json.dumps(fc), encoding="utf-8")
    assert score_files([(dets, labels)]).tp == 0
    # A wrong crs member (or pixels read as lon/lat) puts every label off the image: named, not scored as all missed.
    _geojson_labels(labels, [ring], "EPSG:32634")
    with pytest.raises(InputError, match="none of its 1 label.* lies on the image of d.geojson .*EPSG:32634 into EPSG:32633"):
        score_files([(dets, labels)])
    # A file that does not record its image's grid cannot check that: refused, saying how to go on.
    del fc["sitewatch"]["transform"]
    dets.write_text(json.dumps(fc), encoding="utf-8")
    with pytest.raises(InputError, match="different coordinates.*does not record its image's grid.*run detect-image"):
        score_files([(dets, labels)])


def test_labels_of_another_image_size_or_pixel_size_are_warned_of(tmp_path: Path) -> None:
    """Labels drawn on an 800 × 800 chip scored against detections of a copy resized to 400 × 400 were scored
    without a word (every box in the wrong place), and DOTA's P0706 (gsd 0.2556 m) detected at --pixel-size 1
    gave length errors of -19.8 m, 3.9 times the ground's, as if they were metres."""
    import numpy as np
    from PIL import Image

    def dets(name: str, size: list[int], pixel_m: float = 2.0) -> Path:
        path = _measured(tmp_path / f"{name}.geojson", [(12.0, 15.0, 30.0)], (pixel_m, pixel_m))
        fc = json.loads(path.read_text(encoding="utf-8"))
        fc["sitewatch"] |= {"image_size": size, "source": f"{name}.png"}
        path.write_text(json.dumps(fc), encoding="utf-8")
        return path

    (tmp_path / "voc.xml").write_text(VOC.replace("<filename>chip</filename>", "<size><width>800</width><height>800</height><depth>1</depth></size>"), encoding="utf-8")
    coco = {"images": [{"id": 1, "file_name": "voc.png", "width": 800, "height": 600}], "categories": [{"id": 1, "name": "ship"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 11, 5]}]}  # fmt: skip
    (tmp_path / "coco.json").write_text(json.dumps(coco), encoding="utf-8")
    mask = np.zeros((800, 800, 3), np.uint8)
    mask[10:15, 10:21] = (255, 0, 0)
    Image.fromarray(mask).save(tmp_path / "voc_instance_id_RGB.png")
    (tmp_path / "dota.txt").write_text("imagesource:GoogleEarth\ngsd:0.5\n10 10 21 10 21 15 10 15 ship 0\n", encoding="utf-8")
    for labels, size, said in (
        ("voc.xml", [400, 400], "voc.xml labels 'voc' as 800 × 800 pixels, and voc.geojson is of an image of 400 × 400"),
        ("coco.json", [800, 800], "coco.json labels 'voc' as 800 × 600 pixels"),
        ("voc_instance_id_RGB.png", [400, 400], "as 800 × 800 pixels"),
    ):
        r = CliRunner().invoke(main, ["score", str(dets("voc", size)), str(tmp_path / labels), "--json"])
        assert r.exit_code == 0 and said in r.stderr and said in json.loads(r.stdout)["warnings"][0], (labels, r.output)
        same = CliRunner().invoke(main, ["score", str(dets("voc", [800, 600] if labels == "coco.json" else [800, 800])), str(tmp_path / labels), "--json"])
        assert same.exit_code == 0 and "warning" not in same.stderr and json.loads(same.stdout)["warnings"] == [], labels
    r = CliRunner().invoke(main, ["score", str(dets("dota", [800, 800], 2.0)), str(tmp_path / "dota.txt")])
    assert r.exit_code == 0 and "dota.txt gives gsd 0.5 m, and dota.geojson was measured at 2 m a pixel" in r.stderr and "--pixel-size 0.5" in r.stderr
    assert "warning" not in CliRunner().invoke(main, ["score", str(dets("dota", [800, 800], 0.502)), str(tmp_path / "dota.txt")]).stderr


def test_average_precision_sweeps_every_score_threshold_in_one_run(tmp_path: Path) -> None:
    """A paper reports AP beside P, R and F1 at one threshold; the greedy best-first matching makes each
    threshold's matches the first of the full run's, so one run gives the whole precision-recall curve."""
    from sitewatch.boxscore import average_precision

    # Two ships; detections 0.9 on one, 0.8 at sea, 0.7 on the other: (R, P) = (0.5, 1), (0.5, 0.5), (1, 2/3).
    assert average_precision([(0.9, True), (0.8, False), (0.7, True)], 2) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert average_precision([(0.7, True), (0.9, True), (0.8, False)], 2) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)  # any order given
    assert average_precision([], 2) == 0.0 and average_precision([(0.9, False)], 0) is None
    # Through the command, over two images pooled: the same curve, and a difficult ship's detection is left out of it.
    (tmp_path / "labels").mkdir()
    (tmp_path / "dets").mkdir()
    (tmp_path / "labels" / "a.xml").write_text(VOC, encoding="utf-8")  # ships at rows 10..14 and 40..60; a buoy
    (tmp_path / "labels" / "b.xml").write_text("<annotation><object><name>ship</name><difficult>1</difficult><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>", encoding="utf-8")
    _dets(tmp_path / "dets" / "a.geojson", [(12, 15, 0.9), (50, 42, 0.7)], source="a.jpg")
    _dets(tmp_path / "dets" / "b.geojson", [(90, 90, 0.8), (5, 5, 0.95)], source="b.jpg")  # at sea; on the difficult ship
    r = CliRunner().invoke(main, ["score", str(tmp_path / "dets"), str(tmp_path / "labels"), "--class", "ship", "--json"])
    out = json.loads(r.stdout)
    assert (out["tp"], out["fp"], out["fn"]) == (2, 1, 0) and out["average_precision"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    text = CliRunner().invoke(main, ["score", str(tmp_path / "dets"), str(tmp_path / "labels"), "--class", "ship"]).stdout
    assert "average precision over every score threshold (this rule, not COCO's IoU): 0.833" in text


def test_labels_wholly_off_the_image_are_warned_of_and_not_counted_as_misses(tmp_path: Path) -> None:
    """A chip scored against its scene's label file (labels cut from a bigger scene) counted every label off the
    chip a miss, silently: recall 1/4 for a detector that found the chip's one ship. They are named, by file and
    number, and left out of the counts; a label partly on the image still counts."""
    dets = _dets(tmp_path / "chip.geojson", [(50, 50, 0.9)])
    fc = json.loads(dets.read_text(encoding="utf-8"))
    fc["sitewatch"]["image_size"] = [100, 80]  # 100 columns, 80 rows
    dets.write_text(json.dumps(fc), encoding="utf-8")
    voc = """<annotation><filename>chip</filename>
<object><name>ship</name><bndbox><xmin>45</xmin><ymin>45</ymin><xmax>55</xmax><ymax>55</ymax></bndbox></object>
<object><name>ship</name><bndbox><xmin>95</xmin><ymin>10</ymin><xmax>120</xmax><ymax>14</ymax></bndbox></object>
<object><name>ship</name><bndbox><xmin>140</xmin><ymin>10</ymin><xmax>160</xmax><ymax>14</ymax></bndbox></object>
<object><name>ship</name><bndbox><xmin>10</xmin><ymin>85</ymin><xmax>30</xmax><ymax>90</ymax></bndbox></object>
</annotation>"""
    (tmp_path / "chip.xml").write_text(voc, encoding="utf-8")
    r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "chip.xml"), "--json", "--per-image"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["tp"], doc["fp"], doc["fn"]) == (1, 0, 1)  # the one across the right edge is still a miss
    assert doc["off_image_labels"] == 2 and doc["per_image"]["chip"]["off_image_labels"] == 2
    assert "chip.xml: 2 label(s) of image 'chip' lie wholly off the image chip.geojson was detected on" in " ".join(r.stderr.split())
    # A DOTA quadrilateral beyond the image's corner, its envelope over the corner: off too.
    (tmp_path / "chip.txt").write_text("50 45 55 45 55 55 50 55 ship 0\n96.5 -8.5 108.5 3.5 110.5 1.5 98.5 -10.5 ship 0\n", encoding="utf-8")
    doc = json.loads(CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "chip.txt"), "--json"]).stdout)
    assert (doc["tp"], doc["fn"], doc["off_image_labels"]) == (1, 0, 1)
    # GeoJSON labels in the detections' pixel coordinates likewise.
    _with_crs(dets, PIXEL_CRS)
    feats = [{"type": "Feature", "properties": {"class": "ship"}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
             for ring in ([[48, 48], [52, 48], [52, 52], [48, 52], [48, 48]], [[20, 90], [30, 90], [30, 95], [20, 95], [20, 90]])]
    (tmp_path / "truth.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    r = CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "truth.geojson"), "--json"])
    doc = json.loads(r.stdout)
    assert (doc["tp"], doc["fn"], doc["off_image_labels"]) == (1, 0, 1), r.output
    # In a CRS, by the image's footprint (its transform and size): a UTM label 1 km east of a 1 km image.
    utm = _with_crs(_dets(tmp_path / "utm.geojson", [(12, 12, 0.9)]), "EPSG:32633", "crs")
    u = json.loads(utm.read_text(encoding="utf-8"))
    u["sitewatch"] |= {"transform": [10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0], "image_size": [100, 100]}
    utm.write_text(json.dumps(u), encoding="utf-8")
    on = [[500105.0, 4999855.0], [500145.0, 4999855.0], [500145.0, 4999895.0], [500105.0, 4999895.0], [500105.0, 4999855.0]]
    off = [[x + 2000.0, y] for x, y in on]
    c = score_files([(utm, _geojson_labels(tmp_path / "utm_truth.geojson", [on, off], "EPSG:32633"))])
    assert (c.tp, c.fn, c.off_image) == (1, 0, {"utm": 1})
    # Without the image's size (an older detect-image's output, a VOC file without <size>) nothing is left out.
    del fc["sitewatch"]["image_size"]
    dets.write_text(json.dumps(fc), encoding="utf-8")
    doc = json.loads(CliRunner().invoke(main, ["score", str(dets), str(tmp_path / "chip.xml"), "--json"]).stdout)
    assert (doc["fn"], doc["off_image_labels"]) == (3, 0)
