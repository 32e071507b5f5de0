"""A file whose bands declare a scale and offset (GDAL metadata) is read by them in ``detect-image`` and
``change-image`` as in ``ingest``: DN x scale + offset, not by its range (:mod:`sitewatch.band_scaling`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from numpy.typing import NDArray

from sitewatch.band_scaling import apply_scaling
from sitewatch.change_image import _read_sar, change_images, read_change_pair
from sitewatch.change_image_rows import _BandRows, _SarRows
from sitewatch.cli import main
from sitewatch.testing import write_tiff
from test_change_image import _ground
from test_optical_inputs import NAMES, port
from test_sar import sea_with_ships

LANDSAT = (2.75e-5, -0.2)
SENTINEL2 = (1e-4, -0.1)


def _declare(path: Path, scaling: tuple[float, float]) -> Path:
    with rasterio.open(path, "r+") as ds:
        ds.scales, ds.offsets = (scaling[0],) * ds.count, (scaling[1],) * ds.count
    return path


def _as_dn(reflectance: NDArray[Any], scaling: tuple[float, float]) -> tuple[NDArray[np.uint16], NDArray[np.float32]]:
    """``reflectance`` stored as uint16 DN of ``scaling``, and the values those DN declare (clipped at 0, as
    integer reflectance is): the float file the DN file must read as."""
    dn = np.clip(np.rint((reflectance - scaling[1]) / scaling[0]), 1, 65534).astype(np.uint16)
    values = apply_scaling(dn, scaling)
    return dn, np.maximum(values, np.float32(0.0))


def _features(out: Path) -> tuple[list[Any], dict[str, Any]]:
    fc = json.loads(out.read_text(encoding="utf-8"))
    return [(f["geometry"], {k: v for k, v in f["properties"].items() if k != "source"}) for f in fc["features"]], fc["sitewatch"]


def _detect(tmp_path: Path, name: str, *args: str) -> tuple[list[Any], dict[str, Any]]:
    out = tmp_path / f"{name}.geojson"
    r = CliRunner().invoke(main, ["-q", "detect-image", *args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return _features(out)


@pytest.mark.parametrize("scaling", [LANDSAT, SENTINEL2])
def test_detect_image_reads_an_optical_file_by_its_declared_scale_and_offset(tmp_path: Path, scaling: tuple[float, float]) -> None:
    """A Landsat-style file (x 2.75e-05 - 0.2) was read as DN / 10,000, several times too bright (all cloud:
    no ship); a Sentinel-2 one with its -0.1 declared 0.1 too bright. Each detects as the float file of the
    values it declares, and says so; --dn-scale given still overrides the declaration."""
    dn, values = _as_dn(port(), scaling)
    floats = write_tiff(tmp_path / "floats.tif", values, crs="EPSG:32633", descriptions=NAMES)
    declared = _declare(write_tiff(tmp_path / "dn.tif", dn, crs="EPSG:32633", descriptions=NAMES), scaling)
    want, _ = _detect(tmp_path, "floats", str(floats), "--sensor", "optical")
    got, meta = _detect(tmp_path, "dn", str(declared), "--sensor", "optical")
    assert got == want and len(want) >= 1
    assert "scale and offset" in meta["dn_scale_from"] and meta["dn_scale"] == pytest.approx(1 / scaling[0])
    assert meta["band_scaling"]["green"] == {"scale": pytest.approx(scaling[0]), "offset": pytest.approx(scaling[1])}
    _, given = _detect(tmp_path, "given", str(declared), "--sensor", "optical", "--dn-scale", "10000")
    assert given["dn_scale_from"] == "given" and "band_scaling" not in given


def test_detect_image_reads_band_files_by_their_declared_scale_and_offset(tmp_path: Path) -> None:
    dn, values = _as_dn(port(), LANDSAT)
    floats, files = [], []
    for i, n in enumerate(NAMES):
        floats += ["--band", f"{n}={write_tiff(tmp_path / f'f_{n}.tif', values[i], crs='EPSG:32633')}"]
        files += ["--band", f"{n}={_declare(write_tiff(tmp_path / f'dn_{n}.tif', dn[i], crs='EPSG:32633'), LANDSAT)}"]
    want, _ = _detect(tmp_path, "floats", *floats)
    got, meta = _detect(tmp_path, "dn", *files)
    assert got == want and len(want) >= 1 and "scale and offset" in meta["dn_scale_from"]


def _change_pair(tmp_path: Path, shape: tuple[int, int], scaling: tuple[float, float]) -> tuple[list[Path], list[Path]]:
    """A before/after optical pair as float reflectance and as uint16 DN declaring ``scaling``."""
    before, after = _ground(1, shape), _ground(2, shape) * np.float32(1.1)
    after[:, 100:130, 60:90] = np.float32(0.45)
    t = Affine(2.0, 0, 300_000.0, 0, -2.0, 4_750_000.0)
    floats, declared = [], []
    for name, img in (("before", before), ("after", after)):
        dn, values = _as_dn(img, scaling)
        floats.append(write_tiff(tmp_path / f"{name}_f.tif", values, crs="EPSG:32653", transform=t, descriptions=NAMES))
        declared.append(_declare(write_tiff(tmp_path / f"{name}_dn.tif", dn, crs="EPSG:32653", transform=t, descriptions=NAMES), scaling))
    return floats, declared


@pytest.mark.parametrize("rows", [True, False])
def test_change_image_reads_an_optical_pair_by_its_declared_scale_and_offset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: bool) -> None:
    """Through the row-block reader (integer band files on one metric grid, a DN scale otherwise counted from
    every value) and through the whole read: the declared pair's reflectance is the float pair's, and so is
    what changed."""
    import sitewatch.change_image_rows as change_image_rows

    if not rows:
        monkeypatch.setattr(change_image_rows, "_rows_pair", lambda *a: None)
    floats, declared = _change_pair(tmp_path, (200, 200), LANDSAT)
    pair = read_change_pair(*declared, sensor="optical")
    assert isinstance(pair.before.data, _BandRows) is rows
    want = read_change_pair(*floats, sensor="optical")
    for got_image, want_image in ((pair.before, want.before), (pair.after, want.after)):
        assert np.array_equal(np.asarray(got_image.data[:, 0:200]), np.asarray(want_image.data[:, 0:200]), equal_nan=True)
    _, held = change_images(*floats, sensor="optical")
    _, read = change_images(*declared, sensor="optical")
    assert read.changed.tobytes() == held.changed.tobytes() and read.regions == held.regions and len(held.regions) >= 1


# ---------------------------------------------------------------- SAR


def _sar_scene() -> NDArray[np.float32]:
    return sea_with_ships(np.random.default_rng(21), (120, 120), [(60.0, 60.0, 113.0, 15.6, 30.0)])


def _sar_files(tmp_path: Path, kind: str, shape: tuple[int, int] = (120, 120), seed: int = 21) -> tuple[Path, Path]:
    """A SAR image as a float file and as integers declaring the scale back to its values: sigma0 dB x 100
    in int16 (scale 0.01), or sigma0 x 10,000 in uint16 (scale 0.0001)."""
    x = sea_with_ships(np.random.default_rng(seed), shape, [(shape[0] / 2, 60.0, 113.0, 15.6, 30.0)])
    if kind == "db":
        dn: NDArray[Any] = np.clip(np.rint(1000 * np.log10(x)), -32767, 32767).astype(np.int16)
        scaling, nodata = (0.01, 0.0), -32768.0
    else:
        dn = np.clip(np.rint(x * 10_000), 1, 65534).astype(np.uint16)
        scaling, nodata = (1e-4, 0.0), 65535.0
    values = apply_scaling(dn, scaling)
    floats = write_tiff(tmp_path / f"{kind}_f.tif", values, crs="EPSG:32633")
    declared = _declare(write_tiff(tmp_path / f"{kind}_dn.tif", dn, crs="EPSG:32633", nodata=nodata), scaling)
    return floats, declared


@pytest.mark.parametrize("kind", ["db", "linear"])
def test_detect_image_reads_a_sar_file_by_its_declared_scale_and_offset(tmp_path: Path, kind: str) -> None:
    """dB x 100 in int16 was refused (negative integers); sigma0 x 10,000 in uint16 was read as amplitude DN
    and squared. Each now detects as the float file of the values it declares."""
    floats, declared = _sar_files(tmp_path, kind)
    want, _ = _detect(tmp_path, "floats", str(floats), "--sensor", "sar")
    got, meta = _detect(tmp_path, "dn", str(declared), "--sensor", "sar")
    assert got == want and len(want) == 1
    assert "scale and offset" in meta["values"] and meta["band_scaling"]["1"]["scale"] == pytest.approx(0.01 if kind == "db" else 1e-4)


@pytest.mark.parametrize("kind", ["db", "linear"])
def test_change_image_reads_a_sar_pair_by_its_declared_scale_and_offset(tmp_path: Path, kind: str) -> None:
    """uint16 goes through the row-block reader, int16 through the whole read: both as the float pair."""
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    fb, db = _sar_files(tmp_path / "b", kind, (300, 120), seed=1)
    fa, da = _sar_files(tmp_path / "a", kind, (300, 120), seed=2)
    pair = read_change_pair(db, da, sensor="sar")
    assert isinstance(pair.before.data, _SarRows) is (kind == "linear")
    assert np.array_equal(np.asarray(pair.before.data[:, 0:300]), _read_sar(fb, None).data, equal_nan=True)
    _, held = change_images(fb, fa, sensor="sar")
    _, read = change_images(db, da, sensor="sar")
    assert read.changed.tobytes() == held.changed.tobytes() and read.regions == held.regions


def test_a_sar_file_whose_declared_values_are_neither_db_nor_sigma0_is_refused_by_name(tmp_path: Path) -> None:
    """A declared scale that makes values both negative and far above any dB: refused, naming the file."""
    dn = np.full((60, 60), 200, np.int16)
    dn[:30] = -200
    path = _declare(write_tiff(tmp_path / "odd.tif", dn, crs="EPSG:32633", nodata=-32768), (2.0, 0.0))
    r = CliRunner().invoke(main, ["-q", "detect-image", str(path), "--sensor", "sar", "--out", str(tmp_path / "o.geojson")])
    assert r.exit_code != 0 and "odd.tif" in r.output and "neither" in r.output
