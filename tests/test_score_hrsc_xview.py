"""``sitewatch score`` on HRSC2016 XML (one file per image, rotated ``mbox_*`` and axis-aligned ``box_*``) and
xView's single GeoJSON over many images (``image_id``, ``bounds_imcoords`` in pixels). The label files are
written here from what the formats hold; both were refused ("not a Pascal VOC annotation", or read as
GeoJSON boxes in lon/lat)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sitewatch.cli import main


def _dets(path: Path, points: list[tuple[float, float, float]], source: str, pixel_m: float = 2.0) -> Path:
    """detect-image's output for image ``source``: detections at (row, col) of length ``length_m``."""
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[[c - 1, r - 1], [c + 1, r - 1], [c + 1, r + 1], [c - 1, r - 1]]]},
            "properties": {"row": r, "col": c, "score": 0.9, "kind": "vessel", "length_m": length},
        }
        for r, c, length in points
    ]
    meta = {"source": source, "detector": "optical", "pixel_size_m": [pixel_m, pixel_m], "image_size": [200, 100]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats, "sitewatch": meta}), encoding="utf-8")
    return path


def _score(*args: object) -> tuple[int, Any]:
    """Exit code and the ``--json`` output (or the error's text)."""
    r = CliRunner().invoke(main, ["score", *map(str, args), "--json"])
    return r.exit_code, (json.loads(r.stdout) if r.exit_code in (0, 3) else r.output)


def _hrsc(path: Path, objects: str, size: tuple[int, int] = (200, 100), resolution: float = 2.0) -> Path:
    """An HRSC2016 annotation of one image, as the dataset lays it out."""
    path.write_text(
        f"<?xml version='1.0' encoding='utf-8'?>\n<HRSC_Image><Img_ID>100000001</Img_ID><Img_FileName>{path.stem}</Img_FileName>"
        f"<Img_FileFmt>bmp</Img_FileFmt><Img_SizeWidth>{size[0]}</Img_SizeWidth><Img_SizeHeight>{size[1]}</Img_SizeHeight>"
        f"<Img_SizeDepth>3</Img_SizeDepth><Img_Resolution>{resolution}</Img_Resolution><segmented>0</segmented>"
        f"<HRSC_Objects>{objects}</HRSC_Objects></HRSC_Image>\n",
        encoding="utf-8",
    )
    return path


def _object(cls: str, box: tuple[int, int, int, int], mbox: tuple[float, float, float, float, float] | None, difficult: int = 0) -> str:
    xml = f"<HRSC_Object><Object_ID>1</Object_ID><Class_ID>{cls}</Class_ID><truncated>0</truncated><difficult>{difficult}</difficult>"
    xml += "".join(f"<box_{k}>{v}</box_{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True))
    if mbox is not None:
        xml += "".join(f"<mbox_{k}>{v}</mbox_{k}>" for k, v in zip(("cx", "cy", "w", "h", "ang"), mbox, strict=True))
    return xml + "</HRSC_Object>"


# A hull 40 × 4 pixels turned 45° clockwise on the image around (50.5, 50.5): its axis-aligned box is 31..70.
DIAGONAL = _object("100000005", (31, 31, 70, 70), (50.5, 50.5, 40, 4, math.pi / 4))


def test_hrsc_rotated_boxes_are_outlines_clockwise_in_radians_and_give_a_length(tmp_path: Path) -> None:
    labels = _hrsc(tmp_path / "100000001.xml", DIAGONAL)
    # Along the long side (row 62, col 62) it is a hit, measured 80 m + 6 m against 40 px × 2 m.
    code, out = _score(_dets(tmp_path / "a.geojson", [(62, 62, 86.0)], "100000001.bmp"), labels)
    assert code == 0, out
    assert (out["tp"], out["fp"], out["fn"]) == (1, 0, 0)
    assert out["length_error_m"]["median"] == pytest.approx(6.0, abs=0.01)
    # The other diagonal lies in the axis-aligned box_* but not in the ship: scored by the rotated box.
    code, out = _score(_dets(tmp_path / "a.geojson", [(38, 62, 80.0)], "100000001.bmp"), labels)
    assert (code, out["tp"], out["fp"], out["fn"]) == (0, 0, 1, 1)


def test_hrsc_axis_aligned_boxes_give_no_length_and_classes_and_difficult_are_read(tmp_path: Path) -> None:
    # Columns 10..20, rows 10..14 inclusive, as VOC's <bndbox>: (12, 20.4) is inside, half a pixel past the last column.
    plain = _object("100000002", (10, 10, 20, 14), None)
    hard = _object("100000002", (100, 60, 120, 70), None, difficult=1)
    other = _object("100000027", (150, 80, 160, 90), None)
    labels = _hrsc(tmp_path / "chip.xml", plain + hard + other)
    dets = _dets(tmp_path / "chip.geojson", [(12, 20.4, 30.0), (65, 110, 40.0)], "chip.bmp")
    code, out = _score(dets, labels, "--class", "100000002")
    assert code == 0, out
    # The difficult one is neither a hit nor a false alarm; Class_ID 100000027 is not counted.
    assert (out["tp"], out["fp"], out["fn"], out["length_error_m"]) == (1, 0, 0, None)
    code, out = _score(dets, labels, "--difficult", "count")
    assert (out["tp"], out["fp"], out["fn"]) == (2, 0, 1)
    code, out = _score(dets, labels, "--class", "ship")
    assert code == 1 and "classes found: 100000002, 100000027" in out


def test_hrsc_problems_are_named(tmp_path: Path) -> None:
    dets = _dets(tmp_path / "chip.geojson", [], "chip.bmp")
    labels = _hrsc(tmp_path / "chip.xml", "<HRSC_Object><Class_ID>100000001</Class_ID></HRSC_Object>")
    code, out = _score(dets, labels)
    assert code == 1 and "chip.xml: HRSC_Object 0 (Class_ID '100000001') has neither a rotated box" in out
    labels = _hrsc(tmp_path / "chip.xml", _object("100000001", (1, 1, 9, 9), (5, 5, 8, 2, 45)))
    code, out = _score(dets, labels)
    assert code == 1 and "mbox_ang 45, not an angle in radians" in out
    # Another image's size and resolution are pointed out, as VOC's <size> and DOTA's gsd are.
    labels = _hrsc(tmp_path / "chip.xml", "", size=(300, 100), resolution=0.5)
    code, out = _score(dets, labels)
    assert code == 0 and any("300 × 100" in w for w in out["warnings"]) and any("gsd 0.5" in w for w in out["warnings"])


def _xview(path: Path, boxes: list[tuple[str, str, int]]) -> Path:
    """An xView-style GeoJSON: one feature per object, its lon/lat box as geometry, its pixels in bounds_imcoords."""
    feats = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[[38.9, 9.0], [38.91, 9.0], [38.91, 9.01], [38.9, 9.01], [38.9, 9.0]]]},
            "properties": {"bounds_imcoords": bounds, "edited_by": "wwoscarbecerril", "cat_id": k, "type_id": type_id,
                           "ingest_time": "2017/07/24 12:49:09.118+00", "index_right": 2356, "image_id": image, "feature_id": k},
        }  # fmt: skip
        for k, (image, bounds, type_id) in enumerate(boxes)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return path


def test_xview_boxes_are_pixels_per_image_id_and_filtered_by_type_id(tmp_path: Path) -> None:
    labels = _xview(tmp_path / "xView_train.geojson", [("1036.tif", "10,10,20,15", 40), ("1036.tif", "50,50,60,60", 18),
                                                       ("2.tif", "100,20,140,30", 40), ("77.tif", "0,0,5,5", 40)])  # fmt: skip
    dets = tmp_path / "out"
    # Pixel edges 10..20: column 19 is the box's last, 19.6 beyond it.
    _dets(dets / "1036.geojson", [(12, 19, 50.0), (12, 19.6, 50.0)], "/data/train_images/1036.tif")
    _dets(dets / "2.geojson", [(25, 120, 80.0)], "2.tif")
    code, out = _score(dets, labels, "--class", "40")
    # 77.tif has no detections file: named, not scored, exit 3 (as a COCO file's images are).
    assert code == 3, out
    assert (out["tp"], out["fp"], out["fn"], out["length_error_m"]) == (2, 1, 0, None)
    assert out["not_scored"]["coco_images"] == ["77"]
    code, out = _score(dets / "1036.geojson", labels)
    assert (out["tp"], out["fp"], out["fn"]) == (1, 1, 1)  # type 18 too when no --class is given


def test_xview_problems_are_named(tmp_path: Path) -> None:
    dets = _dets(tmp_path / "9.geojson", [], "9.tif")
    code, out = _score(dets, _xview(tmp_path / "x.geojson", [("1036.tif", "10,10,20,15", 40)]))
    assert code == 1 and "no image named '9'" in out and "xView images are found by their image_id" in out
    code, out = _score(dets, _xview(tmp_path / "x.geojson", [("9.tif", "20,10,10,15", 40)]))
    assert code == 1 and "x.geojson: feature 0 has bounds_imcoords '20,10,10,15': xmin > xmax" in out
    code, out = _score(dets, _xview(tmp_path / "x.geojson", [("9.tif", "10 10 20 15", 40)]))
    assert code == 1 and 'not "xmin,ymin,xmax,ymax" in pixels' in out


def test_xview_features_of_no_area_are_warned_of_counted_and_left_out(tmp_path: Path) -> None:
    # The real xView_train.geojson has features with a zero-width box or an empty bounds_imcoords: one such
    # feature refused the whole file, every image's labels with it.
    labels = _xview(tmp_path / "xView_train.geojson", [("9.tif", "10,10,20,15", 40), ("9.tif", "30,30,30,40", 40),
                                                       ("9.tif", "", 18), ("9.tif", "50,50,60,50", 40),
                                                       ("8.tif", "", 40), ("9.tif", "70,70,80,80", 40)])  # fmt: skip
    dets = _dets(tmp_path / "out" / "9.geojson", [(12, 15, 50.0)], "9.tif")
    code, out = _score(dets, labels, "--per-image")
    assert code == 0, out
    assert (out["tp"], out["fp"], out["fn"], out["no_area_labels"]) == (1, 0, 1, 3)
    assert out["per_image"]["9"]["no_area_labels"] == 3
    assert [w for w in out["warnings"] if "left out" in w] == [
        "xView_train.geojson: feature 1 (class 40) has bounds_imcoords '30,30,30,40', a box of zero width or height, "
        "in image '9': left out of the counts",
        "xView_train.geojson: feature 2 (class 18) has an empty bounds_imcoords, in image '9': left out of the counts",
        "xView_train.geojson: feature 3 (class 40) has bounds_imcoords '50,50,60,50', a box of zero width or height, "
        "in image '9': left out of the counts",
    ]  # 8.tif's is not said: that image is not scored here
    code, out = _score(dets, labels, "--class", "40")  # a class left out by --class is not counted as of no area
    assert (code, out["fn"], out["no_area_labels"]) == (0, 1, 2)
    r = CliRunner().invoke(main, ["score", str(dets), str(labels)])
    assert r.exit_code == 0 and "warning: xView_train.geojson: feature 1 (class 40)" in r.output
