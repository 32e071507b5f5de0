"""The benchmarks read every labelled item a datasets folder holds, under any name, as ``sitewatch
detect-image`` and ``sitewatch score`` read it: more data of the same kinds (withheld chips, ports,
scenes, pairs) dropped beside ours, or in a folder of its own, is scored, never skipped in silence."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _datasets import DATASETS, import_benchmarks, needs_dataset

import_benchmarks()


def _chip(path: Path, colour: bool = False) -> np.ndarray:
    """A 64 × 64 8-bit chip (sea speckle and one bright hull), grey or with channels a little apart."""
    rng = np.random.default_rng(0)
    a = rng.integers(10, 40, (64, 64)).astype(np.uint8)
    a[20:24, 30:44] = 220
    if colour:
        rgb = np.stack([a, np.clip(a.astype(int) + 3, 0, 255), np.clip(a.astype(int) - 2, 0, 255)], -1).astype(np.uint8)
        Image.fromarray(rgb).save(path)
    else:
        Image.fromarray(a).save(path)
    return a


VOC = """<annotation><object><name>ship</name><bndbox><xmin>29.5</xmin><ymin>19</ymin><xmax>44</xmax><ymax>24</ymax></bndbox></object></annotation>"""


def test_sar_ship_chips_in_any_case_and_subfolder_are_read_and_unlabelled_ones_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sar_real import ssdd_chips

    raw = tmp_path / "sar-ship-dataset-samples" / "Raw images"
    raw.mkdir(parents=True)
    _chip(raw / "a.jpg")
    _chip(raw / "NEW.JPG")  # a withheld chip under another name, in upper case
    (raw / "a.xml").write_text(VOC, encoding="utf-8")
    (raw / "NEW.xml").write_text(VOC.replace("Name>", "name>").replace("<object>", "<Object>").replace("</object>", "</Object>"), encoding="utf-8")
    _chip(raw / "lonely.jpg")  # no label file: named, not a crash
    ssdd = tmp_path / "sar-ship-dataset-samples" / "SSDD"  # SSDD's layout: JPEGImages/ beside Annotations/
    (ssdd / "JPEGImages").mkdir(parents=True)
    (ssdd / "Annotations").mkdir()
    _chip(ssdd / "JPEGImages" / "000001.jpg")
    (ssdd / "Annotations" / "000001.xml").write_text(VOC, encoding="utf-8")
    chips = {name: boxes for name, _img, boxes in ssdd_chips(tmp_path)}
    assert set(chips) == {"a", "NEW", "000001"}
    assert chips["a"] == [(29.5, 19.0, 44.0, 24.0)]  # decimal corners kept, as `sitewatch score` reads them
    assert "lonely.jpg" in capsys.readouterr().err


def test_hrsid_jpeg_chips_labelled_by_a_coco_file_are_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sar_real import hrsid_chips

    data = tmp_path / "hrsid-samples" / "data"
    data.mkdir(parents=True)
    _chip(data / "P1_0_800_0_800.png")
    mask = np.zeros((64, 64, 3), np.uint8)
    mask[20:24, 30:44] = (128, 0, 0)
    Image.fromarray(mask).save(data / "P1_0_800_0_800_instance_id_RGB.png")
    Image.fromarray(mask).save(data / "P1_0_800_0_800_instance_color_RGB.png")
    jpg = tmp_path / "hrsid-samples" / "HRSID_JPG"
    (jpg / "JPEGImages").mkdir(parents=True)
    (jpg / "annotations").mkdir()
    _chip(jpg / "JPEGImages" / "P2_0_800_0_800.jpg")
    _chip(jpg / "JPEGImages" / "P3_0_800_0_800.jpg")  # not in the COCO file: named, not scored
    coco = {"images": [{"id": 7, "file_name": "P2_0_800_0_800.jpg", "width": 64, "height": 64}],
            "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [30, 20, 14, 4], "iscrowd": 0}],
            "categories": [{"id": 1, "name": "ship"}]}  # fmt: skip
    (jpg / "annotations" / "test2017.json").write_text(json.dumps(coco), encoding="utf-8")
    chips = {name: boxes for name, _img, boxes in hrsid_chips(tmp_path)}
    assert chips == {"P1_0_800_0_800": [(30.0, 20.0, 43.0, 23.0)], "P2_0_800_0_800": [(30.0, 20.0, 43.0, 23.0)]}
    assert "P3_0_800_0_800.jpg" in capsys.readouterr().err


def test_a_colour_jpeg_chip_is_read_as_detect_image_reads_it(tmp_path: Path) -> None:
    from sar_real import grey
    from sitewatch.detect.image import _sar_window_reader, open_image_info

    path = tmp_path / "c.png"
    grey_levels = _chip(path, colour=True)
    info = open_image_info(path, pixel_size=1.0, renderings=True)
    wanted = _sar_window_reader(info)((0, 64, 0, 64))[0]
    assert not np.array_equal(wanted, grey_levels)  # the channels' mean power, not the red channel
    assert np.array_equal(grey(path), wanted)


def test_a_root_with_only_some_sar_datasets_scores_those(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sar_real

    raw = tmp_path / "sar-ship-dataset-samples" / "Raw images"
    raw.mkdir(parents=True)
    _chip(raw / "a.jpg")
    (raw / "a.xml").write_text(VOC, encoding="utf-8")
    assert sar_real.main(["--datasets", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert "sar-ship-dataset  px  5.0 m  boxes    1" in out.out
    assert "no hrsid-samples or opensarship-s1-subset" in out.err


@needs_dataset("opensarship-s1-subset")[0]
@needs_dataset("opensarship-s1-subset")[1]
def test_an_opensarship_zip_of_another_name_anywhere_in_the_folder_is_read(tmp_path: Path) -> None:
    from sar_real import opensarship_chips

    src = DATASETS / "opensarship-s1-subset" / "OpenSARShip2" / "S1A_IW_GRDH_1SSV_20160131T204259_20160131T204324_009743_00E3C6_E792.zip"
    folder = tmp_path / "opensarship-s1-subset"
    folder.mkdir()
    (folder / "S1B_IW_GRDH_1SSV_20990101T000000_NEW.ZIP").symlink_to(src)  # straight in the folder, upper-case suffix
    (folder / "deep" / "er").mkdir(parents=True)
    with zipfile.ZipFile(folder / "deep" / "er" / "notes.zip", "w") as zf:  # no Ship.xml: named, not a crash
        zf.writestr("readme.txt", "not a scene")
    chips = opensarship_chips(tmp_path)
    assert len(chips) == 124 and {c.scene for c in chips} == {"S1B_IW_GRDH_1SSV_20990101T000000_NEW"}



S2 = DATASETS / "sen2ships" / "sen2ships"


@pytest.fixture
def sen2ships_root(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A folder of port folders, read by the sen2ships benchmarks until the test ends."""
    import _sen2ships

    before = _sen2ships.ROOT
    root = tmp_path / "sen2ships"
    root.mkdir()
    _sen2ships.use_root(root)
    yield root
    _sen2ships.use_root(before)


def _port(root: Path, src: str, dst: str, suffix: str = ".tiff", labels: str | None = None) -> None:
    (root / dst).mkdir()
    for f in (S2 / src).glob("*.tiff"):
        (root / dst / f.name.replace(".tiff", suffix)).symlink_to(f)
    if labels is not None:
        (root / dst / f"{dst}_coco.json").symlink_to(S2 / labels / f"{labels}_coco.json")


@needs_dataset("sen2ships", "sen2ships", "casablanca")[0]
@needs_dataset("sen2ships", "sen2ships", "casablanca")[1]
def test_a_sen2ships_port_of_a_new_name_with_its_own_labels_is_scored(sen2ships_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from _sen2ships import load_port, port_names

    (sen2ships_root / "coco_annotations.json").symlink_to(S2 / "coco_annotations.json")
    _port(sen2ships_root, "casablanca", "gdansk", labels="casablanca")  # not in coco_annotations.json
    _port(sen2ships_root, "honolulu", "Honolulu", suffix=".TIF")  # the combined file's port, in another case, .TIF
    _port(sen2ships_root, "klang", "odd_grid", labels="genoa")  # labels drawn on another grid
    _port(sen2ships_root, "busan", "unlabelled")
    assert port_names() == ["Honolulu", "gdansk"]
    err = capsys.readouterr().err
    assert "odd_grid: labels in odd_grid_coco.json drawn on 2201 x 871 pixels, its bands 646 x 1540" in err
    assert "unlabelled: no labels" in err
    gdansk, honolulu = load_port("gdansk"), load_port("Honolulu")
    assert len(gdansk.masks) == 15 and set(gdansk.bands) == {"blue", "green", "red", "nir"}
    assert len(honolulu.masks) == 12 and set(honolulu.bands) == {"blue", "green", "red", "nir"}


def _tif(path: Path, a: np.ndarray) -> None:
    import rasterio

    path.parent.mkdir(parents=True, exist_ok=True)
    from rasterio.transform import from_origin

    profile = dict(driver="GTiff", width=a.shape[1], height=a.shape[0], count=1, dtype=a.dtype)
    with rasterio.open(path, "w", crs="EPSG:32631", transform=from_origin(500_000, 5_000_000, 10, 10), **profile) as dst:
        dst.write(a, 1)


@pytest.fixture
def change_root(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A datasets folder read by change_oscd.py until the test ends."""
    import change_oscd

    before = change_oscd.DATASETS
    change_oscd.use_datasets(tmp_path)
    yield tmp_path
    change_oscd.use_datasets(before)


def test_every_oscd_city_with_bands_and_a_change_map_is_scored(change_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import change_oscd

    images = change_root / "oscd" / "Onera Satellite Change Detection dataset - Images"
    for city, date_2 in (("newcity", "imgs_2"), ("nolabel", "imgs_2")):
        for folder in ("imgs_1", date_2):
            for code in ("B02", "B03", "B04", "B08"):
                _tif(images / city / folder / f"T99XYZ_20200101_{code}.TIF", np.full((8, 9), 1000, np.uint16))
    (images / "rgbonly" / "pair").mkdir(parents=True)
    cm = np.ones((8, 9), np.uint8)
    cm[2:4, 2:5] = 2
    _tif(change_root / "oscd" / "Onera Satellite Change Detection dataset - Test Labels" / "newcity" / "cm" / "newcity-cm.tif", cm)
    _tif(change_root / "oscd" / "Onera Satellite Change Detection dataset - Train Labels" / "rgbonly" / "cm" / "rgbonly-cm.tif", cm)
    assert change_oscd.oscd_cities() == ["newcity"]
    err = capsys.readouterr().err
    assert "no imgs_1/imgs_2 band stacks, not scored: rgbonly" in err and "no change map, not scored: nolabel" in err
    pair = change_oscd.oscd_pair("newcity")
    assert pair.before.shape == (4, 8, 9) and int(pair.label.sum()) == 6


def test_levir_and_dsifn_crops_are_paired_by_name_whatever_their_suffix_and_label_scale(change_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import change_oscd

    rgb = np.zeros((16, 16, 3), np.uint8)
    label = np.zeros((16, 16), np.uint8)
    label[4:8, 4:8] = 1  # a 0/1 map, not 0/255
    ours = change_root / "levir-cd-samples" / "samples_LEVIR"
    more = change_root / "levir-cd-samples" / "test"
    for root, name, suffix in ((ours, "a", ".png"), (more, "B_1", ".PNG")):
        for sub in ("A", "B"):
            (root / sub).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgb).save(root / sub / f"{name}{suffix}")
        (root / "label").mkdir(exist_ok=True)
        Image.fromarray(label).save(root / "label" / f"{name}{suffix}")
    Image.fromarray(rgb[..., 0]).save(more / "A" / "grey.png")  # a grey crop, and no B or label for it
    for sub, size in (("A", 16), ("B", 8), ("label", 16)):  # dates of different sizes: named, not a crash
        Image.fromarray(np.zeros((size, size), np.uint8)).save(more / sub / "small.png")
    folders = change_oscd.pair_folders(change_root / "levir-cd-samples")
    assert folders == [ours, more]
    pairs = [p for f in folders for p in change_oscd.png_pairs(f)]
    assert [p.name for p in pairs] == ["a", "B_1"]
    assert all(int(p.label.sum()) == 16 for p in pairs)
    err = capsys.readouterr().err
    assert "grey.png" in err and "small.png (sizes 16x16 / 8x8 / 16x16)" in err


@needs_dataset("sen2ships", "sen2ships", "athens")[0]
@needs_dataset("sen2ships", "sen2ships", "athens")[1]
def test_the_sen2ships_benchmark_detects_what_detect_image_does() -> None:
    """Athens has one pixel at DN 0 in all four bands: detect-image reads it as no data (and reports
    nothing within 100 m of it), so the benchmark must too, or its figures are not the command's."""
    from _sen2ships import band_files, load_port
    from sitewatch.detect import detect_image_file
    from sitewatch.detect.optical import detect_optical

    port = load_port("athens")
    bench = sorted((round(d.row), round(d.col)) for d in detect_optical(port.bands, port.pixel_size) if d.kind == "vessel")
    found = detect_image_file(bands={b: f[0] for b, f in band_files(S2 / "athens").items()}, sensor="optical")
    cli = sorted((round(d.row), round(d.col)) for d in found.detections if d.kind == "vessel")
    assert bench == cli


def test_a_new_sar_ship_chip_stays_in_its_datasets_source_group() -> None:
    """sar_render_train.py's leave-one-source-out split put any chip of an unseen name (SSDD's 000001.jpg)
    in HRSID's group, so its trees were fitted on its own dataset's chips."""
    from sar_render_train import source

    assert source("000001", "sar-ship-dataset") == "sar-ship-dataset other"
    assert [source(c, "sar-ship-dataset") for c in ("Gao_ship_hh_1", "Sen_ship_vv_2", "ship010902")] == ["gaofen-3", "sentinel-1", "sar-ship-dataset other"]
    assert [source(c, "hrsid") for c in ("P0119_2400_3200_6000_6800", "P9999_0_800_0_800")] == ["hrsid P0119", "hrsid other"]


def test_an_hh_hv_scene_zip_takes_the_darker_band_for_the_cross_polarised_one(tmp_path: Path) -> None:
    """A 1SDH scene's chips may hold (HH, HV): the co-polarised band was taken to be the last one."""
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    from sar_real import opensarship_chips

    rng = np.random.default_rng(1)
    hh, hv = rng.gamma(1.0, 0.05, (2, 40, 40)).astype(np.float32) * np.array([1.0, 0.1], np.float32)[:, None, None]
    with MemoryFile() as mf:
        with mf.open(driver="GTiff", width=40, height=40, count=2, dtype="float32", crs="EPSG:32631",
                     transform=from_origin(500_000, 5_000_000, 10, 10)) as ds:  # fmt: skip
            ds.write(np.stack([hh, hv]))
        chip = mf.read()
    ship = ("<ship><Center_x>100</Center_x><Center_y>200</Center_y><Length>120</Length><UpperLeft_x>80</UpperLeft_x>"
            "<UpperLeft_y>180</UpperLeft_y><LowerRight_x>120</LowerRight_x><LowerRight_y>220</LowerRight_y></ship>")  # fmt: skip
    folder = tmp_path / "opensarship-s1-subset"
    folder.mkdir()
    with zipfile.ZipFile(folder / "S1A_IW_GRDH_1SDH_20990101T000000.zip", "w") as zf:
        zf.writestr("S/Ship.xml", f"<ShipList>{ship}</ShipList>")
        zf.writestr("S/Patch_Cal/Cargo_x100_y200.tif", chip)
    (c,) = opensarship_chips(tmp_path)
    assert np.array_equal(c.intensity, hh) and c.cross is not None and np.array_equal(c.cross, hv)


@needs_dataset("sen2ships", "sen2ships", "honolulu")[0]
@needs_dataset("sen2ships", "sen2ships", "honolulu")[1]
def test_a_darker_port_that_detect_image_would_read_otherwise_is_named(sen2ships_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A port whose values do not fill the 16-bit range is read here as x 65535 and by detect-image as
    x 10000 unless told: the benchmark says so, and how to make the two agree."""
    import rasterio

    from _sen2ships import load_port

    (sen2ships_root / "dark").mkdir()
    (sen2ships_root / "dark" / "dark_coco.json").symlink_to(S2 / "honolulu" / "honolulu_coco.json")
    for f in (S2 / "honolulu").glob("*.tiff"):
        with rasterio.open(f) as src:
            profile, a = src.profile, src.read(1)
        with rasterio.open(sen2ships_root / "dark" / f.name, "w", **profile) as dst:
            dst.write(a // 3, 1)
    load_port("dark")
    assert "detect-image would read its values / 10000.0" in capsys.readouterr().err


@needs_dataset("sen2ships", "sen2ships", "casablanca")[0]
@needs_dataset("sen2ships", "sen2ships", "casablanca")[1]
def test_a_port_labelled_by_boxes_alone_is_read(sen2ships_root: Path) -> None:
    """COCO annotations without an RLE segmentation (a bbox alone) gave a KeyError."""
    from _sen2ships import load_port

    _port(sen2ships_root, "casablanca", "boxes_only")
    coco = json.loads((S2 / "casablanca" / "casablanca_coco.json").read_text(encoding="utf-8"))
    for a in coco["annotations"]:
        del a["segmentation"]
    (sen2ships_root / "boxes_only" / "boxes_only_coco.json").write_text(json.dumps(coco), encoding="utf-8")
    port = load_port("boxes_only")
    x, y, w, h = coco["annotations"][0]["bbox"]
    assert len(port.masks) == 15 and int(port.masks[0].sum()) == int(w * h)
