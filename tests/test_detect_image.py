"""``sitewatch detect-image`` on PNG chips and GeoTIFFs made here, and its errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from PIL import Image
from rasterio.transform import from_origin

from sitewatch.cli import main
from sitewatch.report.credits import UNKNOWN_CREDIT, UNKNOWN_YEAR
from test_sar import PX, sea_with_ships


def _scene() -> np.ndarray:
    return sea_with_ships(np.random.default_rng(21), (120, 120), [(60.0, 60.0, 113.0, 15.6, 30.0)])


def test_png_chip_needs_pixel_size_then_writes_pixel_geojson(tmp_path: Path) -> None:
    img = _scene()
    png = tmp_path / "chip.png"
    Image.fromarray((np.sqrt(img) / np.sqrt(img).max() * 255).astype(np.uint8)).save(png)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(png), "--sensor", "sar", "--out", str(out)])
    assert r.exit_code != 0
    assert "chip.png" in r.output and "--pixel-size" in r.output
    assert not out.exists()
    r = CliRunner().invoke(main, ["detect-image", str(png), "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["crs"]["properties"]["name"].startswith('LOCAL_CS["pixel"')
    assert len(fc["features"]) == 1
    assert "8-bit rendering" in fc["sitewatch"]["impulse_response_m"]  # its widths are not deconvolved
    f = fc["features"][0]
    props = f["properties"]
    assert abs(props["row"] - 60) < 1.5 and abs(props["col"] - 60) < 1.5
    assert abs(props["length_m"] - 113) <= 15
    assert {"width_m", "heading_deg", "score"} <= set(props)
    ring = np.array(f["geometry"]["coordinates"][0])
    assert ring.shape == (5, 2) and abs(ring[:4, 0].mean() - props["col"]) < 1


def test_georeferenced_geotiff_gives_crs_coordinates(tmp_path: Path) -> None:
    img = _scene()
    tif = tmp_path / "scene.tif"
    transform = from_origin(500000.0, 4000000.0, PX, PX)
    with rasterio.open(tif, "w", driver="GTiff", width=120, height=120, count=1, dtype="float32", crs="EPSG:32633", transform=transform) as ds:
        ds.write(img, 1)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["detections"] == 1 and abs(summary["pixel_size_m"][0] - PX) < 0.1
    assert summary["credit"] == UNKNOWN_CREDIT  # as its features say: a script reading the summary credits the image too
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["crs"]["properties"]["name"] == "EPSG:32633"
    x, y = np.array(fc["features"][0]["geometry"]["coordinates"][0])[:4].mean(axis=0)
    assert abs(x - (500000 + 60.5 * PX)) < 15 and abs(y - (4000000 - 60.5 * PX)) < 15
    # The transform, with which `score` places each centroid (col, row) where GeoJSON labels are drawn.
    assert fc["sitewatch"]["transform"] == list(transform)[:6]
    # A file naming no satellite: credited "unknown" in words that say to add one, not left uncredited.
    assert fc["features"][0]["properties"]["credit"] == fc["sitewatch"]["credit"] == UNKNOWN_CREDIT


def test_detections_carry_the_credit_the_files_name_and_date_give(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sitewatch.detect.inputs import detect_image_file
    from sitewatch.image_credit import files_credit

    img = _scene()[:64, 28:92]  # the ship, in a 64-pixel square
    profile = {"driver": "GTiff", "width": 64, "height": 64, "count": 1, "dtype": "float32", "crs": "EPSG:32633",
               "transform": from_origin(500000.0, 4000000.0, PX, PX)}  # fmt: skip
    named = tmp_path / "S1A_IW_GRDH_1SDV_20241017T093005_20241017T093030_056123_06DF11_ABCD_crop.tif"
    tagged = tmp_path / "crop.tif"  # a satellite tagged, its time not
    for path, tags in ((named, {}), (tagged, {"SITEWATCH_PLATFORM": "WV03"})):
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(img, 1)
            ds.update_tags(**tags)
    fc = detect_image_file(named, sensor="sar").geojson()
    assert {f["properties"]["credit"] for f in fc["features"]} == {"Contains modified Copernicus Sentinel data 2024"}
    assert fc["features"] and fc["sitewatch"]["credit"] == "Contains modified Copernicus Sentinel data 2024"
    assert detect_image_file(tagged, sensor="sar").credit == f"© {UNKNOWN_YEAR} Maxar Technologies"
    # One image's band files: one tagged with its satellite and time, one with its satellite alone (one with its time
    # alone): the image's year, not "year unknown" beside it as if the second were another image.
    bands = []
    for name, tags in (("b04.tif", {"SITEWATCH_PLATFORM": "sentinel-2b", "SITEWATCH_ACQUIRED": "2024-10-17T10:00:00Z"}),
                       ("b08.tif", {"SITEWATCH_PLATFORM": "sentinel-2b"}), ("b11.tif", {"SITEWATCH_ACQUIRED": "2024-10-17T10:00:00Z"})):  # fmt: skip
        with rasterio.open(tmp_path / name, "w", **profile) as ds:
            ds.write(img, 1)
            ds.update_tags(**tags)
        bands.append(tmp_path / name)
    assert files_credit(bands) == files_credit(bands[1:]) == "Contains modified Copernicus Sentinel data 2024"
    # Read without the ingest package, which reading a file's metadata pulled in whole (its archive, cut and
    # orthorectification modules): 0.4 to 0.6 s more for every detect-image and change-image, after detection's own.
    monkeypatch.setitem(sys.modules, "sitewatch.ingest", None)
    monkeypatch.setitem(sys.modules, "sitewatch.ingest.metadata", None)
    assert files_credit([named]) == "Contains modified Copernicus Sentinel data 2024"


@pytest.mark.parametrize("name, content", [("missing.tif", None), ("notimage.tif", b"hello")])
def test_bad_input_is_named(tmp_path: Path, name: str, content: bytes | None) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    r = CliRunner().invoke(main, ["detect-image", str(path), "--pixel-size", "10", "--out", str(tmp_path / "o.geojson")])
    assert r.exit_code != 0
    assert name in r.output
    assert "sensor:" not in r.output  # the bad file is named first, without a word on which detector would have run
    assert not (tmp_path / "o.geojson").exists()


def test_optical_bad_inputs_are_named(tmp_path: Path) -> None:
    png = tmp_path / "c.png"
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(png)
    out = tmp_path / "o.geojson"
    r = CliRunner().invoke(main, ["detect-image", "--sensor", "optical", "--out", str(out)])
    assert r.exit_code == 2 and "--band NAME=PATH" in r.output  # a missing argument: a usage error
    r = CliRunner().invoke(main, ["detect-image", str(png), "--sensor", "optical", "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 1 and "c.png" in r.output and "1 band" in r.output
    assert not out.exists()


def test_colour_jpeg_rendering_is_detected_as_a_rendering(tmp_path: Path) -> None:
    # An RGB JPEG of a SAR chip whose channels differ slightly (as many dataset chips do) is read
    # as one 8-bit rendering, not as float amplitude: same ship as the grey PNG.
    img = _scene()
    grey = (np.sqrt(img) / np.sqrt(img).max() * 255).astype(np.uint8)
    rgb = np.stack([grey, np.clip(grey.astype(int) + 1, 0, 255).astype(np.uint8), grey], axis=-1)
    jpg = tmp_path / "chip.jpg"
    Image.fromarray(rgb).save(jpg, quality=95)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(jpg), "--sensor", "sar", "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    feats = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert len(feats) == 1
    assert abs(feats[0]["properties"]["row"] - 60) < 1.5 and abs(feats[0]["properties"]["col"] - 60) < 1.5
    from sitewatch.detect.image import _sar_window_reader, open_image_info

    a, _ = _sar_window_reader(open_image_info(jpg, 10.0))((0, 120, 0, 120))
    assert a.dtype == np.uint8 and a.shape == (120, 120)


def _dual_pol(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """A VV and a VH GeoTIFF of one ship that is faint in VV (3 dB) and bright in VH (20 dB)."""
    from test_sar_dual import _pair

    co, cross = _pair(np.random.default_rng(3), 3.0, 20.0)
    paths = []
    for name, a in (("vv", co), ("vh", cross)):
        p = tmp_path / f"{name}.tif"
        with rasterio.open(p, "w", driver="GTiff", width=120, height=120, count=1, dtype="float32", crs="EPSG:32633", transform=from_origin(500000.0, 4000000.0, PX, PX)) as ds:
            ds.write(a, 1)
        paths.append(p)
    return paths[0], paths[1], co, cross


def test_sar_band_pair_is_detected_in_both_polarisations(tmp_path: Path) -> None:
    vv, vh, _, _ = _dual_pol(tmp_path)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(vv), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["detections"] == 0  # VV alone: nothing to see
    r = CliRunner().invoke(main, ["detect-image", "--band", f"vv={vv}", "--band", f"VH={vh}", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["detections"] == 1
    props = json.loads(out.read_text(encoding="utf-8"))["features"][0]["properties"]
    assert abs(props["row"] - 60) < 1.5 and abs(props["col"] - 60) < 1.5
    for bad, msg in ((["--band", f"vv={vv}"], "one co-polarised"), (["--band", f"vv={vv}", "--band", f"xx={vh}"], "vv, vh, hh, hv")):
        r = CliRunner().invoke(main, ["detect-image", *bad, "--out", str(out)])
        assert r.exit_code != 0 and msg in r.output, r.output


def test_gdal_virtual_paths_are_read_for_image_and_band(tmp_path: Path) -> None:
    import zipfile

    vv, vh, _, _ = _dual_pol(tmp_path)
    chips = tmp_path / "chips.zip"
    with zipfile.ZipFile(chips, "w") as z:
        z.write(vv, "vv.tif")
        z.write(vh, "vh.tif")
    inside = f"/vsizip/{chips}"  # chips is absolute: /vsizip//tmp/.../chips.zip
    assert inside.startswith("/vsizip//")
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", f"{inside}/vv.tif", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["image"] == f"{inside}/vv.tif"
    assert json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["source"] == f"{inside}/vv.tif"
    r = CliRunner().invoke(main, ["detect-image", "--band", f"vv={inside}/vv.tif", "--band", f"vh={inside}/vh.tif", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["detections"] == 1
    assert json.loads(r.output)["source"] == {"vv": f"{inside}/vv.tif", "vh": f"{inside}/vh.tif"}
    for args in ([f"{inside}/missing.tif"], ["--band", f"vv={inside}/missing.tif", "--band", f"vh={inside}/vh.tif"]):
        r = CliRunner().invoke(main, ["detect-image", *args, "--out", str(out)])
        assert r.exit_code == 1, r.output
        assert f"{inside}/missing.tif: GDAL cannot open this virtual path" in r.output
    # The zip itself, of several files: GDAL's message listed every one of them (40 kB for an OpenSARShip zip).
    with zipfile.ZipFile(chips, "a") as z:
        for i in range(300):
            z.writestr(f"chips/Cargo_x{i}_y{i}.tif", b"")
    for zipped in (inside, f"{inside}/"):
        r = CliRunner().invoke(main, ["detect-image", zipped, "--out", str(out)])
        assert r.exit_code == 1 and len(r.output) < 600, r.output
        assert "the path names the archive, not a file in it: name the one to read after it, /vsizip//ABSOLUTE/PATH.zip/FOLDER/FILE.tif" in r.output


@pytest.mark.parametrize("names", [("VV", "VH"), ("Sigma0_VH", "Sigma0_VV"), (None, None)])
def test_two_band_sar_geotiff_is_a_polarisation_pair(tmp_path: Path, names: tuple[str | None, str | None]) -> None:
    _, _, co, cross = _dual_pol(tmp_path)
    # Band order from the names (VH first in the second case, as in Sentinel-1 SAFE order);
    # without names the darker band is the cross-polarised one.
    first, second = (cross, co) if names[0] and "VH" in names[0] else (co, cross)
    tif = tmp_path / "pair.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=120, height=120, count=2, dtype="float32", crs="EPSG:32633", transform=from_origin(500000.0, 4000000.0, PX, PX)) as ds:
        ds.write(np.stack([first, second]))
        if names[0]:
            ds.descriptions = names
    from sitewatch.detect.image import _polarisation_bands, detect_image, open_image_info

    assert _polarisation_bands(open_image_info(tif)) == ((2, 1) if first is cross else (1, 2))
    _, dets = detect_image(tif)
    assert len(dets) == 1 and abs(dets[0].row - 60) < 1.5
    out = tmp_path / "d.geojson"
    assert CliRunner().invoke(main, ["detect-image", str(tif), "--sensor", "sar", "--out", str(out)]).exit_code == 0
    recorded = json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["polarisation_bands"]
    assert recorded == ({"co": 2, "cross": 1} if first is cross else {"co": 1, "cross": 2})


def test_unnamed_db_pair_takes_the_darker_band_for_cross_pol(tmp_path: Path) -> None:
    """In dB the cross-polarised band is the more negative: comparing magnitudes took it for co-pol."""
    _, _, co, cross = _dual_pol(tmp_path)
    tif = tmp_path / "pair_db.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=120, height=120, count=2, dtype="float32", crs="EPSG:32633", transform=from_origin(500000.0, 4000000.0, PX, PX)) as ds:
        ds.write(10 * np.log10(np.stack([co, cross])).astype(np.float32))
    from sitewatch.detect.image import _polarisation_bands, open_image_info

    assert _polarisation_bands(open_image_info(tif)) == (1, 2)


def test_big_polarisation_pair_runs_tiled_with_the_same_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sitewatch.detect.image as image_mod

    vv, vh, _, _ = _dual_pol(tmp_path)
    _, whole = image_mod.detect_sar_bands({"vv": vv, "vh": vh})
    monkeypatch.setattr(image_mod, "TILE_ABOVE_PIXELS", 100)
    calls: list[tuple[int, int]] = []
    _, tiled = image_mod.detect_sar_bands({"vv": vv, "vh": vh}, progress=lambda d, t: calls.append((d, t)))
    assert len(tiled) == len(whole) == 1
    assert abs(tiled[0].row - whole[0].row) < 1e-6 and tiled[0].length_m == pytest.approx(whole[0].length_m)
    assert calls[-1][0] == calls[-1][1]  # progress over both channels ends at its total


@pytest.mark.parametrize("tiled", [False, True])
def test_no_data_in_one_polarisation_does_not_hide_a_ship_in_the_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiled: bool) -> None:
    """VH declared no-data over a ship VV sees clearly: the pair's masks were and-ed, so the ship was
    lost in one pass over the image, while tiled (each channel with its own mask) it was found."""
    import sitewatch.detect.image as image_mod

    rng = np.random.default_rng(3)
    co = sea_with_ships(rng, (120, 120), [(60.0, 60.0, 120.0, 20.0, 30.0)])
    cross = (sea_with_ships(rng, (120, 120), []) / 6.3).astype(np.float32)
    cross[:80] = -9999.0
    paths = {}
    for name, a in (("vv", co), ("vh", cross)):
        paths[name] = tmp_path / f"{name}.tif"
        with rasterio.open(paths[name], "w", driver="GTiff", width=120, height=120, count=1, dtype="float32", nodata=-9999.0 if name == "vh" else None, crs="EPSG:32633", transform=from_origin(500000.0, 4000000.0, PX, PX)) as ds:
            ds.write(a, 1)
    if tiled:
        monkeypatch.setattr(image_mod, "TILE_ABOVE_PIXELS", 100)
    _, dets = image_mod.detect_sar_bands(paths)
    assert len(dets) == 1 and abs(dets[0].row - 60) < 1.5 and abs(dets[0].col - 60) < 1.5


def test_pixel_geojson_is_not_read_as_wgs84(tmp_path: Path) -> None:
    # GDAL reads an unknown crs name ("pixel") as EPSG:4326, misplacing boxes at latitude 100-800.
    import pyogrio

    png = tmp_path / "chip.png"
    img = _scene()
    Image.fromarray((np.sqrt(img) / np.sqrt(img).max() * 255).astype(np.uint8)).save(png)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(png), "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    crs = pyogrio.read_info(out)["crs"]
    assert "4326" not in crs and crs.startswith('LOCAL_CS["pixel"')


def test_image_coordinates_without_a_crs_are_not_read_as_wgs84(tmp_path: Path) -> None:
    import pyogrio

    tif = tmp_path / "nocrs.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=120, height=120, count=1, dtype="float32",
                       transform=from_origin(500000.0, 4000000.0, PX, PX)) as ds:  # fmt: skip
        ds.write(_scene(), 1)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert pyogrio.read_info(out)["crs"].startswith('LOCAL_CS["unknown"')


def _optical_tif(path: Path, descriptions: list[str]) -> Path:
    data = np.random.default_rng(3).integers(300, 900, (len(descriptions), 40, 40)).astype(np.uint16)
    with rasterio.open(
        path, "w", driver="GTiff", width=40, height=40, count=len(descriptions), dtype="uint16",
        crs="EPSG:32633", transform=from_origin(500000.0, 4000000.0, 10, 10),
    ) as ds:  # fmt: skip
        ds.write(data)
        for i, d in enumerate(descriptions):
            ds.set_band_description(i + 1, d)
    return path


@pytest.mark.parametrize("names", [["blue", "green", "red", "nir"], ["B02", "B03", "B04", "B08"]])
def test_named_optical_bands_pick_the_optical_detector_and_say_so(tmp_path: Path, names: list[str]) -> None:
    tif = _optical_tif(tmp_path / "stack.tif", names)
    out = tmp_path / "y.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "sensor: optical, from the band descriptions blue, green, red, nir" in r.output
    assert json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["sensor"] == "optical"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--sensor", "sar", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "warning: --sensor sar on optical bands" in r.output
    assert json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["sensor"] == "sar"


def test_unnamed_bands_keep_the_sar_default(tmp_path: Path) -> None:
    tif = _optical_tif(tmp_path / "stack.tif", ["", "", "", ""])
    out = tmp_path / "y.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "sensor: sar, the default" in r.output
    assert json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["sensor"] == "sar"


@pytest.mark.parametrize(
    "dtype, colours, why, descriptions",
    [
        ("uint8", None, "red, green, blue", None),  # GDAL's own: every 3-band 8-bit GeoTIFF is RGB
        ("uint8", ["red", "green", "blue", "alpha"], "red, green, blue (band 4 not read: no band is named nir)", None),
        ("uint16", ["blue", "green", "red", "undefined"], "blue, green, red (band 4 not read: no band is named nir)", None),
        # Placeholder descriptions, as some exports write them, name nothing: the colours still count.
        ("uint8", ["blue", "green", "red"], "blue, green, red", ["Band 1", "Band 2", "band_3"]),
    ],
)
def test_colour_interpretation_picks_the_optical_detector_and_its_bands(
    tmp_path: Path, dtype: str, colours: list[str] | None, why: str, descriptions: list[str] | None
) -> None:
    from rasterio.enums import ColorInterp

    from sitewatch.detect.optical_image import open_optical

    count = len(colours or "rgb")
    data = np.random.default_rng(3).integers(30, 90, (count, 40, 40)).astype(dtype)
    tif = tmp_path / "rgb.tif"
    with rasterio.open(
        tif, "w", driver="GTiff", width=40, height=40, count=count, dtype=dtype,
        crs="EPSG:32633", transform=from_origin(500000.0, 4000000.0, 10, 10),
    ) as ds:  # fmt: skip
        ds.write(data)
        if colours:
            ds.colorinterp = [ColorInterp[c] for c in colours]
        if descriptions:
            ds.descriptions = tuple(descriptions)
    out = tmp_path / "y.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert f"sensor: optical, from the colour interpretation {why}" in r.output
    meta = json.loads(out.read_text(encoding="utf-8"))["sitewatch"]
    assert meta["sensor"] == "optical" and "rgb" in meta["model"]  # no band was taken for NIR
    order = colours or ["red", "green", "blue"]
    assert {k: i for k, (_, i) in open_optical(tif).bands.items()} == {c: order.index(c) + 1 for c in ("red", "green", "blue")}


def test_colour_png_chip_keeps_the_sar_default(tmp_path: Path) -> None:
    amp = np.sqrt(_scene())
    grey = (amp / amp.max() * 255).astype(np.uint8)
    png = tmp_path / "chip.png"
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(png)
    r = CliRunner().invoke(main, ["detect-image", str(png), "--pixel-size", "10", "--out", str(tmp_path / "d.geojson")])
    assert r.exit_code == 0, r.output
    assert "sensor: sar, the default" in r.output


def test_every_band_file_is_recorded_as_a_source(tmp_path: Path) -> None:
    paths = {n: _optical_tif(tmp_path / f"{n}.tif", [n]) for n in ("blue", "green", "red", "nir")}
    out = tmp_path / "y.geojson"
    args = [a for n, p in paths.items() for a in ("--band", f"{n}={p}")]
    r = CliRunner().invoke(main, ["detect-image", *args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "sensor: optical, from the --band names" in r.output
    want = {n: str(p) for n, p in paths.items()}
    assert json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["source"] == want
    assert ", ".join(f"{n}={p}" for n, p in want.items()) in r.output
    r = CliRunner().invoke(main, ["detect-image", *args, "--out", str(out), "--json"])
    assert json.loads(r.output)["source"] == want


@pytest.mark.parametrize(
    "args, option",
    [(["--dn-scale", "0"], "--dn-scale"), (["--pixel-size", "-1"], "--pixel-size"), (["--workers", "0"], "--workers")],
)
def test_out_of_range_numbers_are_refused_by_name(tmp_path: Path, args: list[str], option: str) -> None:
    tif = _optical_tif(tmp_path / "stack.tif", ["blue", "green", "red", "nir"])
    out = tmp_path / "y.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), *args, "--out", str(out)])
    assert r.exit_code == 2 and f"Invalid value for '{option}'" in r.output
    assert not out.exists()


def test_not_georeferenced_warning_shown_only_with_verbose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # rasterio warns on every open of a file without a georeference; detect-image has
    # judged that already (--pixel-size), so a warning that slips through one of its reads
    # (a thread's warnings filter is process-wide and racy) must stay quiet without -v.
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    import sitewatch.detect.image as image_mod

    real = image_mod.detect_image

    def leaky(*a, **k):  # type: ignore[no-untyped-def]
        warnings.warn(NotGeoreferencedWarning("Dataset has no geotransform, gcps, or rpcs."), stacklevel=1)
        return real(*a, **k)

    monkeypatch.setattr(image_mod, "detect_image", leaky)
    png = tmp_path / "chip.png"
    Image.fromarray(np.zeros((30, 30), np.uint8)).save(png)
    for verbose, shown in (([], False), (["-v"], True)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            r = CliRunner().invoke(main, [*verbose, "detect-image", str(png), "--pixel-size", "10", "--out", str(tmp_path / "o.geojson")])
        assert r.exit_code == 0, r.output
        assert any(issubclass(w.category, NotGeoreferencedWarning) for w in caught) == shown


def test_sar_with_optical_band_names_is_refused_without_a_promise_to_run(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["detect-image", "--sensor", "sar", "--band", f"blue={tmp_path / 'b.tif'}",
                                  "--band", f"green={tmp_path / 'g.tif'}", "--out", str(tmp_path / "x.geojson")])  # fmt: skip
    assert r.exit_code != 0 and "vv, vh, hh, hv" in r.output
    assert "warning" not in r.output  # no "runs SAR" warning before the refusal


def test_vessels_carry_class_candidates_by_measured_size(tmp_path: Path) -> None:
    """A 113 x 15.6 m hull at 10 m: the two landing-ship classes lead, with likelihoods that are shares."""
    tif = tmp_path / "scene.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=120, height=120, count=1, dtype="float32", crs="EPSG:32633",
                       transform=from_origin(500000.0, 4000000.0, PX, PX)) as ds:  # fmt: skip
        ds.write(_scene(), 1)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(out)])
    assert r.exit_code == 0, r.output
    (f,) = json.loads(out.read_text(encoding="utf-8"))["features"]
    cands = f["properties"]["class_candidates"]
    likelihoods = [p for _, p in cands]
    assert likelihoods == sorted(likelihoods, reverse=True) and 0.9 <= sum(likelihoods) <= 1.001  # below 0.02 left out
    assert {n.split()[0] for n, _ in cands[:2]} == {"Ropucha", "Alligator/Tapir"}


def _scene_tif(tmp_path: Path, tags: dict[str, str] | None = None) -> Path:
    tif = tmp_path / "scene.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=120, height=120, count=1, dtype="float32", crs="EPSG:32633",
                       transform=from_origin(500000.0, 4000000.0, PX, PX)) as ds:  # fmt: skip
        ds.write(_scene(), 1)
        ds.update_tags(**(tags or {}))
    return tif


def _width(tif: Path, tmp_path: Path, *args: str) -> tuple[float, object]:
    out = tmp_path / "w.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(out), *args])
    assert r.exit_code == 0, r.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    (f,) = fc["features"]
    return f["properties"]["width_m"], fc["sitewatch"]["impulse_response_m"]


def test_widths_lose_the_impulse_response_given_tagged_or_by_default(tmp_path: Path) -> None:
    """Default: a detected product's response, twice the pixel; --resolution 0 or the image's own tag 0: as measured."""
    tif = _scene_tif(tmp_path)
    default, used = _width(tif, tmp_path)
    assert "twice the pixel size" in str(used)
    measured, used0 = _width(tif, tmp_path, "--resolution", "0")
    assert used0 == 0 and measured > default
    narrower, _ = _width(tif, tmp_path, "--resolution", "10")
    assert default <= narrower <= measured
    tagged, used_tag = _width(_scene_tif(tmp_path, {"SITEWATCH_IMPULSE_RESPONSE_M": "0"}), tmp_path)
    assert tagged == measured and used_tag == 0.0


def test_resolution_is_refused_for_optical_and_when_negative(tmp_path: Path) -> None:
    tif = _optical_tif(tmp_path / "o.tif", ["blue", "green", "red", "nir"])
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--resolution", "20", "--out", str(tmp_path / "o.geojson")])
    assert r.exit_code != 0 and "--resolution applies to SAR" in r.output
    r = CliRunner().invoke(main, ["detect-image", str(_scene_tif(tmp_path)), "--resolution", "-1", "--out", str(tmp_path / "x.geojson")])
    assert r.exit_code != 0 and "--resolution" in r.output


def test_negative_nodata_of_a_float_image_is_not_read_as_db(tmp_path: Path) -> None:
    """A float sigma0 GeoTIFF with nodata -9999 (a common fill): the fill is invalid, not a sign of dB values."""
    img = _scene()
    img[:20] = -9999.0
    tif = tmp_path / "filled.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=120, height=120, count=1, dtype="float32", crs="EPSG:32633",
                       transform=from_origin(500000.0, 4000000.0, PX, PX), nodata=-9999.0) as ds:  # fmt: skip
        ds.write(img, 1)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["detections"] == 1


def test_output_file_is_readable_as_other_outputs_are(tmp_path: Path) -> None:
    """The atomic write's temporary file is private (0600); the output takes the umask's mode like any new file."""
    import os

    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(_scene_tif(tmp_path)), "--out", str(out)])
    assert r.exit_code == 0, r.output
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_out_to_a_device_or_pipe_writes_into_it_without_replacing_it(tmp_path: Path) -> None:
    """--out /dev/stdout (or a named pipe) is written into; renaming a file over it would replace the device."""
    import os
    import stat
    import threading

    fifo = tmp_path / "pipe.geojson"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    r = CliRunner().invoke(main, ["detect-image", str(_scene_tif(tmp_path)), "--out", str(fifo)])
    reader.join(timeout=60)
    assert r.exit_code == 0, r.output
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert "vessel(s)" not in r.stdout and "vessel(s)" in r.stderr  # --out /dev/stdout: the GeoJSON alone
    assert len(json.loads(got[0])["features"]) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_out_dash_writes_the_geojson_to_standard_output(tmp_path: Path) -> None:
    """'-' is standard output, as for timeline --csv/--json; not a file named '-'."""
    r = CliRunner().invoke(main, ["detect-image", str(_scene_tif(tmp_path)), "--out", "-"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["features"]) == 1
    assert not Path("-").exists() and not (tmp_path / "-").exists()
    r = CliRunner().invoke(main, ["detect-image", str(_scene_tif(tmp_path)), "--out", "-", "--json"])
    assert r.exit_code != 0 and "--out -" in r.output


def test_out_naming_an_input_file_is_refused_before_it_is_overwritten(tmp_path: Path) -> None:
    tif = _scene_tif(tmp_path)
    before = tif.read_bytes()
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(tmp_path / "." / "scene.tif")])
    assert r.exit_code != 0 and "scene.tif" in r.output and "input" in r.output
    vh = tmp_path / "vh.tif"
    vh.write_bytes(before)
    r = CliRunner().invoke(main, ["detect-image", "--band", f"vv={tif}", "--band", f"vh={vh}", "--out", str(vh)])
    assert r.exit_code != 0 and "vh.tif" in r.output and "input" in r.output
    assert tif.read_bytes() == before and vh.read_bytes() == before


def test_band_pair_on_different_grids_is_refused_by_name(tmp_path: Path) -> None:
    """Two files of one size are not a pair when they cover different ground: fused, their ships would be false."""
    vv, vh, _, cross = _dual_pol(tmp_path)
    moved = tmp_path / "vh_moved.tif"
    with rasterio.open(moved, "w", driver="GTiff", width=120, height=120, count=1, dtype="float32", crs="EPSG:32633",
                       transform=from_origin(510000.0, 4000000.0, PX, PX)) as ds:  # fmt: skip
        ds.write(cross, 1)
    r = CliRunner().invoke(main, ["detect-image", "--band", f"vv={vv}", "--band", f"vh={moved}", "--out", str(tmp_path / "d.geojson")])
    assert r.exit_code != 0 and "vh_moved.tif" in r.output and "co-registered" in r.output
    assert not (tmp_path / "d.geojson").exists()


def test_alpha_band_of_a_png_chip_is_not_read_as_sar(tmp_path: Path) -> None:
    """An RGBA (or grey + alpha) rendering is read as its grey: the alpha band is no radar channel."""
    from sitewatch.detect.image import _sar_window_reader, open_image_info

    img = _scene()
    grey = (np.sqrt(img) / np.sqrt(img).max() * 255).astype(np.uint8)
    for mode in ("RGBA", "LA"):
        png = tmp_path / f"chip_{mode}.png"
        Image.fromarray(grey).convert(mode).save(png)
        a, _ = _sar_window_reader(open_image_info(png, 10.0))((0, 120, 0, 120))
        assert a.dtype == np.uint8 and np.array_equal(a, grey), mode


def test_a_transform_in_degrees_without_a_crs_is_not_taken_for_metres(tmp_path: Path) -> None:
    """0.0001-unit pixels with no CRS are not 0.1 mm pixels (the detector asked for hundreds of GiB): named, with the way out."""
    tif = tmp_path / "nocrs.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=120, height=120, count=1, dtype="float32",
                       transform=from_origin(130.0, 42.0, 0.0001, 0.0001)) as ds:  # fmt: skip
        ds.write(_scene(), 1)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(out)])
    assert r.exit_code == 1 and "nocrs.tif" in r.output and "--pixel-size" in r.output, r.output
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--pixel-size", "0.0001", "--out", str(out)])
    assert r.exit_code == 1 and "--pixel-size" in r.output, r.output
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--pixel-size", str(PX), "--out", str(out), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["detections"] == 1, r.output


def test_complex_slc_is_read_as_intensity_and_signed_negative_integers_are_named(tmp_path: Path) -> None:
    """A complex (SLC) image is |z|², not its real part; int16 with negative values (scaled dB?) is no amplitude."""
    img = _scene()
    phase = np.exp(1j * np.random.default_rng(5).uniform(0, 2 * np.pi, img.shape))
    for name, data, dtype in (("slc.tif", np.sqrt(img) * phase, "complex64"), ("db100.tif", 1000 * np.log10(img), "int16")):
        with rasterio.open(tmp_path / name, "w", driver="GTiff", width=120, height=120, count=1, dtype=dtype, crs="EPSG:32633",
                           transform=from_origin(500000.0, 4000000.0, PX, PX)) as ds:  # fmt: skip
            ds.write(data.astype(dtype), 1)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tmp_path / "slc.tif"), "--out", str(out), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["detections"] == 1, r.output
    r = CliRunner().invoke(main, ["detect-image", str(tmp_path / "db100.tif"), "--out", str(out)])
    assert r.exit_code == 1 and "db100.tif" in r.output and "negative" in r.output, r.output
    assert "Traceback" not in r.output


def test_an_unwritable_out_is_named_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only folder (simulated: tests may run as root, who may write anywhere)."""
    import os

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    image = _scene_tif(tmp_path)
    monkeypatch.setattr(os, "replace", refuse)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(image), "--out", str(out)])
    assert r.exit_code == 1 and not isinstance(r.exception, PermissionError), r.exception
    assert "d.geojson" in r.output and "Permission denied" in r.output
    assert not out.exists() and not list(tmp_path.glob(".d.geojson*"))  # nothing half-written


def test_dn_scale_and_offset_are_refused_for_sar_as_resolution_is_for_optical(tmp_path: Path) -> None:
    for option in ("--dn-scale", "--dn-offset"):
        r = CliRunner().invoke(main, ["detect-image", str(_scene_tif(tmp_path)), "--sensor", "sar", option, "100", "--out", str(tmp_path / "o.geojson")])
        assert r.exit_code != 0 and option in r.output and "optical" in r.output, r.output
        assert not (tmp_path / "o.geojson").exists()


@pytest.mark.parametrize(("sensor", "bands"), [("sar", 1), ("optical", 4)])
def test_an_image_with_no_finite_pixel_finds_nothing_without_numpy_warnings(tmp_path: Path, sensor: str, bands: int) -> None:
    import warnings

    from sitewatch.detect.image import detect_image

    path = tmp_path / "nan.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=bands, dtype="float32",
                       crs="EPSG:32652", transform=from_origin(600000, 4680000, 10, 10)) as ds:  # fmt: skip
        ds.write(np.full((bands, 64, 64), np.nan, np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "All-NaN slice encountered" reached users
        _, dets = detect_image(path, sensor)
    assert dets == []


def test_cranes_are_not_counted_as_vessels_in_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At 3 m a PlanetScope scene gave 20 vessels and 1 crane; detect-image said '21 vessel(s)'."""
    import dataclasses

    import sitewatch.detect.image as image_mod

    real = image_mod.detect_image

    def with_a_crane(*args: object, **kwargs: object) -> tuple[object, list[object]]:
        info, dets = real(*args, **kwargs)  # type: ignore[arg-type]
        return info, [*dets, dataclasses.replace(dets[0], kind="crane")]

    monkeypatch.setattr(image_mod, "detect_image", with_a_crane)
    png = tmp_path / "chip.png"
    img = _scene()
    Image.fromarray((np.sqrt(img) / np.sqrt(img).max() * 255).astype(np.uint8)).save(png)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(png), "--sensor", "sar", "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "1 vessel(s) and 1 crane(s) in" in r.output
    r = CliRunner().invoke(main, ["detect-image", str(png), "--sensor", "sar", "--pixel-size", "10", "--out", str(out), "--json"])
    summary = json.loads(r.output.strip().splitlines()[-1])
    assert summary["detections"] == 2 and summary["vessels"] == 1


def test_real_and_imaginary_parts_of_a_complex_chip_are_refused_not_read_as_db(tmp_path: Path) -> None:
    """OpenSARShip's SLC Patch chips hold I and Q as float bands (-1824..1913): read as dB they
    overflowed and gave 0 vessels with exit 0."""
    rng = np.random.default_rng(5)
    z = (rng.normal(size=(80, 80)) + 1j * rng.normal(size=(80, 80))) * 300
    z[38:42, 30:50] *= 8  # a ship
    tif = tmp_path / "slc.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=80, height=80, count=2, dtype="float32") as ds:
        ds.write(np.stack([z.real, z.imag]).astype("float32"))
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--sensor", "sar", "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 1, r.output
    assert "slc.tif" in r.output and "complex" in r.output and "dB" in r.output
    assert not out.exists()
    db = tmp_path / "db.tif"  # a dB image (negative values, none above 100) is still read as dB
    with rasterio.open(db, "w", driver="GTiff", width=80, height=80, count=1, dtype="float32") as ds:
        ds.write((10 * np.log10(np.abs(z) ** 2 / 1e6)).astype("float32")[None])
    r = CliRunner().invoke(main, ["detect-image", str(db), "--sensor", "sar", "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 0, r.output


def test_no_empty_line_is_left_by_the_progress_bar_off_a_terminal(tmp_path: Path) -> None:
    """Run into a log or a pipe, detect-image and ingest printed an empty line where the bar had been."""
    from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
    from sitewatch.workspace import init_workspace

    png = tmp_path / "chip.png"
    img = _scene()
    Image.fromarray((np.sqrt(img) / np.sqrt(img).max() * 255).astype(np.uint8)).save(png)
    r = CliRunner().invoke(main, ["detect-image", str(png), "--sensor", "sar", "--pixel-size", "10", "--out", str(tmp_path / "d.geojson")])
    assert r.exit_code == 0, r.output
    assert "" not in r.output.splitlines(), r.output
    site = tiny_site()
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
    crs, x0, y0 = site_utm_origin(site)
    tif = write_tiff(
        tmp_path / "s1.tif", np.full((260, 220), 0.01, np.float32), crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
        descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"},
    )  # fmt: skip
    r = CliRunner().invoke(main, ["ingest", site.id, str(tif), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    assert "" not in r.output.splitlines(), r.output


def test_one_band_file_of_an_optical_satellite_is_not_run_as_sar_by_default(tmp_path: Path) -> None:
    """detect-image on EO Browser's Genoa B08 file ran the SAR detector (35 "vessels") by default."""
    from sitewatch.testing import write_tiff

    tif = write_tiff(
        tmp_path / "2023-07-10-00:00_2023-07-10-23:59_Sentinel-2_L2A_B08_(Raw).tiff",
        np.full((60, 60), 1500, np.uint16), crs="EPSG:3857", transform=Affine(10, 0, 990000, 0, -10, 5530000),
    )  # fmt: skip
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(out)])
    assert r.exit_code == 1, r.output
    assert "sentinel-2" in r.output and "--band blue=" in r.output and "--sensor sar" in r.output
    assert not out.exists()
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--sensor", "sar", "--out", str(out)])
    assert r.exit_code == 0, r.output  # asked for, it runs

def test_a_header_claiming_an_absurd_size_is_an_error_at_once(tmp_path: Path) -> None:
    """A 1 MB GeoTIFF claiming 300 000 × 300 000 pixels set detect-image tiling empty pixels for days."""
    huge = tmp_path / "huge.tif"
    with rasterio.open(huge, "w", driver="GTiff", width=300_000, height=300_000, count=1, dtype="uint8",
                       crs="EPSG:32652", transform=from_origin(600000, 4750000, 1, 1), tiled=True,
                       blockxsize=4096, blockysize=4096, sparse_ok=True, BIGTIFF="YES"):  # fmt: skip
        pass
    assert huge.stat().st_size < 1_000_000
    r = CliRunner().invoke(main, ["detect-image", str(huge), "--out", str(tmp_path / "o.geojson")])
    assert r.exit_code == 1 and "huge.tif: 300000 × 300000 pixels, more than sitewatch reads" in r.output, r.output


def test_no_image_and_no_band_is_a_usage_error(tmp_path: Path) -> None:
    # A missing argument is exit code 2 (README, "Scripting"); detect-image said so with 1.
    from click.testing import CliRunner

    from sitewatch.cli import main

    res = CliRunner().invoke(main, ["detect-image", "--out", str(tmp_path / "v.geojson")])
    assert res.exit_code == 2 and "give IMAGE or --band" in res.stderr, res.output


@pytest.mark.parametrize("name", ["ships.kml", "ships.csv", "ships"])
def test_out_not_named_for_geojson_is_refused_before_any_work(tmp_path: Path, name: str) -> None:
    """``--out ships.kml`` wrote GeoJSON text into a file Google Earth then could not open."""
    png = tmp_path / "chip.png"
    Image.fromarray((np.sqrt(_scene()) / np.sqrt(_scene()).max() * 255).astype(np.uint8)).save(png)
    out = tmp_path / name
    r = CliRunner().invoke(main, ["detect-image", str(png), "--pixel-size", "10", "--out", str(out)])
    assert r.exit_code == 2 and name in r.output and ".geojson" in r.output, r.output
    assert not out.exists()


def _chip(path: Path, seed: int) -> Path:
    img = sea_with_ships(np.random.default_rng(seed), (120, 120), [(60.0, 60.0, 113.0, 15.6, 30.0)])
    Image.fromarray((np.sqrt(img) / np.sqrt(img).max() * 255).astype(np.uint8)).save(path)
    return path


def test_a_folder_of_chips_gives_one_geojson_each_as_one_at_a_time_does(tmp_path: Path) -> None:
    chips = tmp_path / "chips"
    chips.mkdir()
    for k in range(3):
        _chip(chips / f"chip{k}.png", k)
    (chips / "chip0.xml").write_text("<annotation/>", encoding="utf-8")  # labels beside the chips are left alone
    Image.fromarray(np.zeros((120, 120, 3), np.uint8)).save(chips / "chip1_instance_id_RGB.png")  # so is an HRSID mask
    (chips / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "broken.geojson").write_text("{}", encoding="utf-8")  # an earlier run's result for an image that fails now
    r = CliRunner().invoke(main, ["detect-image", str(chips), "--sensor", "sar", "--pixel-size", "10", "--out", str(out), "--json"])
    assert r.exit_code == 3, r.output  # partial: the broken image is named, the others written
    summary = json.loads(r.stdout)
    assert [Path(i["image"]).name for i in summary["images"]] == ["chip0.png", "chip1.png", "chip2.png"]
    assert {i["credit"] for i in summary["images"]} == {UNKNOWN_CREDIT}  # each image's, as its features carry it
    assert [Path(f["image"]).name for f in summary["failed"]] == ["broken.png"]
    assert "broken.png" in r.stderr and "removed" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["chip0.geojson", "chip1.geojson", "chip2.geojson"]
    single = tmp_path / "chip1.geojson"
    assert CliRunner().invoke(main, ["detect-image", str(chips / "chip1.png"), "--sensor", "sar", "--pixel-size", "10", "--out", str(single)]).exit_code == 0
    assert json.loads((out / "chip1.geojson").read_text(encoding="utf-8"))["features"] == json.loads(single.read_text(encoding="utf-8"))["features"]
    # A rerun writes the same files again, not more.
    (chips / "broken.png").unlink()
    again = CliRunner().invoke(main, ["-q", "detect-image", str(chips), "--sensor", "sar", "--pixel-size", "10", "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in out.iterdir()) == ["chip0.geojson", "chip1.geojson", "chip2.geojson"]


def test_a_folder_needs_a_folder_out_and_a_file_a_file_out(tmp_path: Path) -> None:
    chips = tmp_path / "chips"
    chips.mkdir()
    png = _chip(chips / "a.png", 1)
    file_out = CliRunner().invoke(main, ["detect-image", str(chips), "--pixel-size", "10", "--out", str(tmp_path / "d.geojson")])
    assert file_out.exit_code == 1 and "--out must be a folder that exists" in file_out.output
    assert not (tmp_path / "d.geojson").exists()
    folder_out = CliRunner().invoke(main, ["detect-image", str(png), "--pixel-size", "10", "--out", str(tmp_path)])
    assert folder_out.exit_code == 2 and "is a folder; give a .geojson file" in folder_out.output
    _chip(chips / "a.jpg", 2)  # a.png and a.jpg would both write a.geojson
    clash = CliRunner().invoke(main, ["detect-image", str(chips), "--pixel-size", "10", "--out", str(tmp_path)])
    assert clash.exit_code == 1 and "a.jpg" in clash.output and "a.png" in clash.output
    assert not (tmp_path / "a.geojson").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    none = CliRunner().invoke(main, ["detect-image", str(empty), "--pixel-size", "10", "--out", str(tmp_path)])
    assert none.exit_code == 1 and "no image in it" in none.output
    unset = CliRunner().invoke(main, ["detect-image", str(chips), "--pixel-size", "10", "--out", ""])  # --out "$OUT", OUT unset
    assert unset.exit_code == 2 and "an empty name" in unset.output
    bands = CliRunner().invoke(main, ["detect-image", str(chips), "--band", f"udm2={png}", "--out", str(tmp_path)])
    assert bands.exit_code == 1 and "--band: for one image" in bands.output


def test_a_folder_names_its_subfolders_of_images_it_does_not_read(tmp_path: Path) -> None:
    """A withheld set split into train/ and test/ was read as its one top-level chip, "1 of 1 image(s)",
    exit code 0, the other chips skipped in silence."""
    chips = tmp_path / "JPEGImages"
    (chips / "train").mkdir(parents=True)
    (chips / "test" / "deep").mkdir(parents=True)
    _chip(chips / "top.png", 0)
    _chip(chips / "train" / "a.png", 1)
    _chip(chips / "train" / "b.jpg", 2)
    _chip(chips / "test" / "deep" / "c.png", 3)
    (chips / "labels").mkdir()
    (chips / "labels" / "a.xml").write_text("<annotation/>", encoding="utf-8")  # a folder of labels alone is no folder of images
    (chips / "chips_masks").mkdir()  # nor are label maps in a folder named for them (sen2ships' …_segmentation_masks/)
    Image.fromarray(np.zeros((120, 120), np.uint8)).save(chips / "chips_masks" / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    r = CliRunner().invoke(main, ["-q", "detect-image", str(chips), "--sensor", "sar", "--pixel-size", "10", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert "test/ holds 1 image(s), train/ holds 2 image(s)" in r.stderr and "labels/" not in r.stderr and "masks" not in r.stderr, r.stderr
    assert [(Path(s["folder"]).name, s["images"]) for s in json.loads(r.stdout)["subfolders_not_read"]] == [("test", 1), ("train", 2)]
    (chips / "top.png").unlink()
    none = CliRunner().invoke(main, ["detect-image", str(chips), "--sensor", "sar", "--pixel-size", "10", "--out", str(out)])
    assert none.exit_code == 1 and "no image in it" in none.output and "train/ holds 2 image(s)" in none.output, none.output


def test_a_folder_refused_for_one_reason_says_it_three_times_then_counts(tmp_path: Path) -> None:
    """OpenSARShip's 124 Patch_Cal chips without --pixel-size printed 124 lines of one refusal."""
    chips = tmp_path / "chips"
    chips.mkdir()
    for k in range(6):
        _chip(chips / f"c{k}.png", k)
    out = tmp_path / "out"
    out.mkdir()
    r = CliRunner().invoke(main, ["detect-image", str(chips), "--sensor", "sar", "--out", str(out), "--json"])
    assert r.exit_code == 1, r.output
    assert r.stderr.count("skipped: ") == 4 and "skipped: 3 more image(s) for the same reason: the image has no georeference" in r.stderr, r.stderr
    assert len(json.loads(r.stdout)["failed"]) == 6  # every image still named for a script


def test_a_disabled_bar_is_never_stopped_so_no_rich_prints_its_empty_line() -> None:
    """rich before 14.3 stops a disabled bar off a terminal with an empty line (test above, under rich 13): `shown`
    neither starts nor stops one, and a bar that is drawn is started and stopped as its own `with` does."""
    import io

    from rich.console import Console
    from rich.progress import Progress

    from sitewatch.cli.options import shown

    calls: list[str] = []
    for disable in (True, False):
        out = io.StringIO()
        bar = Progress(transient=True, disable=disable, console=Console(file=out, force_terminal=not disable))
        bar.start, bar.stop = (lambda d=disable: calls.append(f"start {d}")), (lambda d=disable: calls.append(f"stop {d}"))  # type: ignore[method-assign]
        with shown(bar) as got:
            got.update(got.add_task("detecting", total=2), completed=1)
        assert got is bar and (out.getvalue() == "" or not disable)
    assert calls == ["start False", "stop False"]


def test_a_simulated_scene_says_so_in_the_line_the_json_and_each_feature(tmp_path: Path) -> None:
    # A scene of sitewatch's simulator (the demo's archive) is tagged SITEWATCH_SIMULATED=true: detect-image says
    # so as change-image does, in its line, its --json and each feature (a GIS shows a feature's properties).
    img = _scene()
    transform = from_origin(500000.0, 4000000.0, PX, PX)
    files = {}
    for name, tags in (("sim.tif", {"SITEWATCH_SIMULATED": "true"}), ("real.tif", {})):
        files[name] = tmp_path / name
        with rasterio.open(files[name], "w", driver="GTiff", width=120, height=120, count=1, dtype="float32", crs="EPSG:32633", transform=transform) as ds:
            ds.write(img, 1)
            ds.update_tags(**tags)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(files["sim.tif"]), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("SIMULATED imagery: 1 vessel(s) in "), r.stdout
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["sitewatch"]["simulated"] is True and [f["properties"]["simulated"] for f in fc["features"]] == [True]
    summary = json.loads(CliRunner().invoke(main, ["detect-image", str(files["sim.tif"]), "--out", str(out), "--json"]).output)
    assert summary["simulated"] is True
    # A folder of them: each image's line and --json entry.
    folder_out = tmp_path / "out"
    folder_out.mkdir()
    r = CliRunner().invoke(main, ["detect-image", str(tmp_path), "--out", str(folder_out), "--json"])
    assert r.exit_code == 0, r.output
    assert {Path(i["image"]).name: i["simulated"] for i in json.loads(r.output)["images"]} == {"sim.tif": True, "real.tif": False}
    # An untagged image is not called simulated.
    r = CliRunner().invoke(main, ["detect-image", str(files["real.tif"]), "--out", str(out)])
    assert r.exit_code == 0 and r.stdout.startswith("1 vessel(s) in "), r.stdout
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["sitewatch"]["simulated"] is False and [f["properties"]["simulated"] for f in fc["features"]] == [False]
