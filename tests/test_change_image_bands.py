"""``sitewatch change-image`` on one file per band: ``--before-band``/``--after-band`` and folders of band files
(OSCD's ``imgs_1/``, a SAFE's ``R10m/``), read as ``detect-image --band`` reads them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.report.credits import UNKNOWN_CREDIT
from sitewatch.testing import write_tiff

UTM = "EPSG:32640"
PX = 10.0
T = Affine(PX, 0, 220_000.0, 0, -PX, 2_700_000.0)
CODES = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08"}
BLOCK = (60, 90, 40, 75)  # rows, cols of a 300 x 350 m block built between the dates


def _dn(seed: int, built: bool) -> np.ndarray:
    """Four bands of fields and tracks as Sentinel-2 DN (reflectance x 10,000), noise of their own per seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:150, 0:150]
    base = 0.08 + 0.04 * (((yy // 30) + (xx // 40)) % 3)
    bands = np.stack([base * f for f in (0.8, 1.0, 1.1, 2.5)]) + rng.normal(0, 0.004, (4, 150, 150))
    if built:
        r0, r1, c0, c1 = BLOCK
        bands[:, r0:r1, c0:c1] = 0.35
    return np.clip(bands * 10_000, 1, 65_535).astype(np.uint16)


def _date(tmp_path: Path, name: str, seed: int, built: bool) -> tuple[Path, Path, dict[str, Path]]:
    """One date three ways: a folder of Sentinel-2 band files (with a 20 m band beside them, as OSCD's), the
    same files as ``NAME=PATH``, and the four stacked into one file whose bands are described."""
    dn = _dn(seed, built)
    folder = tmp_path / name
    folder.mkdir()
    stem = f"T40RBN_2023071{seed}T065919"
    files = {b: write_tiff(folder / f"{stem}_{code}.tif", dn[k], crs=UTM, transform=T) for k, (b, code) in enumerate(CODES.items())}
    write_tiff(folder / f"{stem}_B8A.tif", dn[3, ::2, ::2], crs=UTM, transform=T @ Affine.scale(2))
    stacked = tmp_path / f"{name}.tif"
    with rasterio.open(files["blue"]) as src:
        profile = src.profile | {"count": 4}
    with rasterio.open(stacked, "w", **profile) as dst:
        for k, path in enumerate(files.values(), start=1):
            with rasterio.open(path) as src:
                dst.write(src.read(1), k)
            dst.set_band_description(k, list(CODES)[k - 1])
    return folder, stacked, files


def _band_args(option: str, files: dict[str, Path]) -> list[str]:
    return [a for name, path in files.items() for a in (option, f"{name}={path}")]


def _run(args: list[str], out: Path, mask: Path | None = None) -> dict:
    extra = ["--mask", str(mask)] if mask else []
    r = CliRunner().invoke(main, ["change-image", *args, "--out", str(out), *extra, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def _mask(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def test_band_files_folders_and_stacked_files_give_the_same_regions_and_mask(tmp_path: Path) -> None:
    """A user with OSCD's ``imgs_1``/``imgs_2`` or a SAFE's band files had to stack them by hand first;
    given one file a band, or their folder, the pair is the stacked pair, region for region and pixel for pixel."""
    d1, s1, f1 = _date(tmp_path, "d1", 1, built=False)
    d2, s2, f2 = _date(tmp_path, "d2", 2, built=True)
    stacked = _run([str(s1), str(s2)], tmp_path / "stacked.geojson", tmp_path / "stacked.tif")
    bands = _run(_band_args("--before-band", f1) + _band_args("--after-band", f2), tmp_path / "bands.geojson", tmp_path / "bands.tif")
    folders = _run([str(d1), str(d2)], tmp_path / "folders.geojson", tmp_path / "folders.tif")
    assert stacked["appeared"] >= 1 and stacked["regions"] == bands["regions"] == folders["regions"]
    regions = json.loads((tmp_path / "stacked.geojson").read_text(encoding="utf-8"))["features"]
    assert regions
    def uncredited(features: list[dict]) -> list[dict]:
        return [f | {"properties": {k: v for k, v in f["properties"].items() if k != "credit"}} for f in features]

    # The credit is what the files say: Sentinel-2's tile names do, the stacked file (d1.tif) names no satellite.
    assert {f["properties"]["credit"] for f in regions} == {UNKNOWN_CREDIT}
    for route in ("bands", "folders"):
        fc = json.loads((tmp_path / f"{route}.geojson").read_text(encoding="utf-8"))
        assert uncredited(fc["features"]) == uncredited(regions), route
        assert {f["properties"]["credit"] for f in fc["features"]} == {"Contains modified Copernicus Sentinel data 2023"}
        assert np.array_equal(_mask(tmp_path / f"{route}.tif"), _mask(tmp_path / "stacked.tif")), route
        assert fc["sitewatch"]["before_bands"] == {b: str(p) for b, p in f1.items()}  # which file was read as which band
        assert fc["sitewatch"]["after_bands"] == {b: str(p) for b, p in f2.items()}
    assert folders["before"] == str(d1) and folders["before_bands"]["nir"].endswith("_B08.tif")
    assert _mask(tmp_path / "folders.tif")[75, 57] == 255


def test_a_date_can_be_a_stacked_file_and_the_other_a_folder(tmp_path: Path) -> None:
    d1, s1, _ = _date(tmp_path, "d1", 1, built=False)
    d2, s2, _ = _date(tmp_path, "d2", 2, built=True)
    mixed = _run([str(s1), str(d2)], tmp_path / "m.geojson")
    stacked = _run([str(s1), str(s2)], tmp_path / "s.geojson")
    assert mixed["regions"] == stacked["regions"] >= 1


def test_a_band_of_another_pixel_size_is_refused_as_detect_image_refuses_it(tmp_path: Path) -> None:
    """OSCD's 20 m B8A given as nir beside 10 m bands: detect-image refuses bands off one grid, so does change-image."""
    d1, _, f1 = _date(tmp_path, "d1", 1, built=False)
    _, _, f2 = _date(tmp_path, "d2", 2, built=True)
    coarse = {**f1, "nir": next(d1.glob("*_B8A.tif"))}
    out = tmp_path / "c.geojson"
    r = CliRunner().invoke(main, ["change-image", *_band_args("--before-band", coarse), *_band_args("--after-band", f2), "--out", str(out)])
    assert r.exit_code == 1 and "band nir" in r.output and "B8A.tif" in r.output and "resample the bands to one grid" in r.output
    assert not out.exists()
    detect = CliRunner().invoke(main, ["detect-image", *_band_args("--band", coarse), "--out", str(tmp_path / "d.geojson")])
    assert detect.exit_code == 1 and "resample the bands to one grid" in detect.output


@pytest.mark.parametrize(
    ("case", "said", "code"),
    [
        ("missing file", "--before-band red {tmp}/nowhere_B04.tif: no such file", 1),
        ("missing image", "{tmp}/nowhere.tif: no such file", 1),
        ("too few bands", "--after-band: blue, red given; change-image needs at least green and red (or green and nir)", 1),
        ("band given twice", "--after-band blue given twice", 1),
        ("mismatched band sets", "--after-band has no nir band, which --before-band has", 1),
        ("folder without bands", "{tmp}/empty: no Sentinel-2 band files in it (looked for *B02* (blue)", 1),
        ("folders of other bands", "AFTER {tmp}/d2 has no nir band (no *B08* file), which BEFORE {tmp}/d1 has", 1),
        ("a cloud mask", "--before-band scl: change-image compares", 1),
        ("sar with bands", "--sensor sar: --before-band and --after-band are optical band files", 1),
        ("one side's bands only", "--after-band: give the later date's band files too", 2),
        ("files and bands", "give BEFORE and AFTER (image files or folders of band files), or --before-band and --after-band", 2),
    ],
)
def test_bad_band_input_is_named_in_one_line_and_nothing_is_written(tmp_path: Path, case: str, said: str, code: int) -> None:
    d1, s1, f1 = _date(tmp_path, "d1", 1, built=False)
    d2, s2, f2 = _date(tmp_path, "d2", 2, built=True)
    before, after = _band_args("--before-band", f1), _band_args("--after-band", f2)
    extra: list[str] = []
    if case == "missing file":
        before = _band_args("--before-band", {**f1, "red": tmp_path / "nowhere_B04.tif"})
    elif case == "missing image":
        before, after = [str(tmp_path / "nowhere.tif"), str(s2)], []
    elif case == "too few bands":
        after = _band_args("--after-band", {k: f2[k] for k in ("blue", "red")})
    elif case == "band given twice":
        after += ["--after-band", f"B02={f2['green']}"]
    elif case == "mismatched band sets":
        after = _band_args("--after-band", {k: v for k, v in f2.items() if k != "nir"})
    elif case == "folder without bands":
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "README.txt").write_text("no bands here", encoding="utf-8")
        before, after = [str(tmp_path / "empty"), str(d2)], []
    elif case == "folders of other bands":
        next(d2.glob("*_B08.tif")).unlink()
        before, after = [str(d1), str(d2)], []
    elif case == "a cloud mask":
        before += ["--before-band", f"scl={f1['blue']}"]
    elif case == "sar with bands":
        extra = ["--sensor", "sar"]
    elif case == "one side's bands only":
        after = []
    elif case == "files and bands":
        before = [str(s1)]
    out, mask = tmp_path / "out.geojson", tmp_path / "out.tif"
    r = CliRunner().invoke(main, ["change-image", *before, *after, *extra, "--out", str(out), "--mask", str(mask)])
    assert r.exit_code == code, r.output
    error = [line for line in r.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and said.format(tmp=tmp_path) in error[0], r.output
    if code == 1:
        assert r.output.strip() == error[0]  # the one line, nothing else
    assert not out.exists() and not mask.exists()


def test_a_safe_given_whole_points_to_its_band_folder(tmp_path: Path) -> None:
    """A folder whose band files are further down (a SAFE's GRANULE/…/IMG_DATA/R10m) is refused naming where they are."""
    r10 = tmp_path / "S2A_MSIL2A_20230715.SAFE" / "GRANULE" / "L2A_T40RBN" / "IMG_DATA" / "R10m"
    r10.mkdir(parents=True)
    for code in CODES.values():
        write_tiff(r10 / f"T40RBN_20230715T065919_{code}_10m.tif", _dn(1, False)[0], crs=UTM, transform=T)
    out = tmp_path / "o.geojson"
    r = CliRunner().invoke(main, ["change-image", str(r10.parents[3]), str(r10), "--out", str(out)])
    assert r.exit_code == 1 and f"band files are in {r10}: give that folder" in r.output and not out.exists()

