"""Sentinel-2 L2A SAFE products (folder or zip) through GDAL's SENTINEL2 driver: detect-image and ingest."""

from __future__ import annotations

import json
import math
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from numpy.typing import NDArray

from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.model import Observation
from sitewatch.sources.safe import is_s1_product, is_safe_product, open_s1_grd, open_s2_l2a
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.testing.safe import write_s1_grd_safe, write_s2_safe
from sitewatch.workspace import Workspace
from test_optical import anchored_ship

SITE = tiny_site()
BANDS = ("blue", "green", "red", "nir")


def _dn(refl: NDArray[np.float64], offset: int = 1000) -> dict[str, NDArray[np.uint16]]:
    dn = (np.clip(refl, 0, None) * 10_000 + offset).round().astype(np.uint16)
    return {k: dn[i] for i, k in enumerate(BANDS)}


def _product(tmp_path: Path, *, as_zip: bool, scl: NDArray[np.uint8] | None = None, **kw: object) -> Path:
    scl = np.full((75, 75), 6, np.uint8) if scl is None else scl
    folder = tmp_path / ("zip" if as_zip else "folder")
    folder.mkdir(exist_ok=True)
    return write_s2_safe(
        folder, _dn(anchored_ship(), 1000 if str(kw.get("baseline", "05.11")) >= "04" else 0),
        crs="EPSG:32652", west=600000.0, north=4750000.0, scl=scl, as_zip=as_zip, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _detect(path: Path | str, out: Path, *args: str) -> dict:  # type: ignore[type-arg]
    r = CliRunner().invoke(main, ["detect-image", str(path), "--out", str(out), *args])
    assert r.exit_code == 0, r.output
    return json.loads(out.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_detect_image_reads_an_l2a_product_with_its_own_scale_and_offset(tmp_path: Path, as_zip: bool) -> None:
    product = _product(tmp_path, as_zip=as_zip)
    assert is_safe_product(product)
    fc = _detect(product, tmp_path / "safe.geojson")
    meta = fc["sitewatch"]
    assert meta["sensor"] == "optical" and meta["source"] == str(product)
    assert (meta["dn_scale"], meta["dn_offset"], meta["dn_scale_from"]) == (10000.0, 1000.0, "given")
    assert meta["safe"]["processing_baseline"] == "05.11" and meta["safe"]["boa_add_offset"] == -1000.0
    assert meta["safe"]["dn_scale_from"] == meta["safe"]["dn_offset_from"] == "MTD_MSIL2A.xml"
    assert set(meta["safe"]["band_sources"]) == {*BANDS, "SCL"}
    assert fc["crs"]["properties"]["name"] == "EPSG:32652"
    # Credited by the product's name (S2B_MSIL2A_20241017T…), its folder or zip: its bands inside name no satellite.
    assert meta["credit"] == fc["features"][0]["properties"]["credit"] == "Contains modified Copernicus Sentinel data 2024"
    # The same bands as a GeoTIFF with --dn-offset 1000 give the same vessel.
    dn = _dn(anchored_ship())
    tif = write_tiff(
        tmp_path / "same.tif", np.stack([dn[k] for k in BANDS]), crs="EPSG:32652",
        transform=rasterio.transform.from_origin(600000.0, 4750000.0, 10, 10), descriptions=list(BANDS),
    )  # fmt: skip
    ref = _detect(tif, tmp_path / "tif.geojson", "--dn-offset", "1000")
    assert len(fc["features"]) == len(ref["features"]) == 1
    a, b = fc["features"][0]["properties"], ref["features"][0]["properties"]
    assert (a["row"], a["col"], a["length_m"]) == pytest.approx((b["row"], b["col"], b["length_m"]))


def test_scl_from_the_20m_subdataset_hides_the_ship_under_cloud(tmp_path: Path) -> None:
    scl = np.full((75, 75), 6, np.uint8)
    scl[25:45, 15:35] = 9  # cloud, high probability, over the ship (row 70, col 50 at 10 m)
    fc = _detect(_product(tmp_path, as_zip=False, scl=scl), tmp_path / "o.geojson")
    assert fc["features"] == [] and fc["sitewatch"]["cloud_fraction"] > 0.05


def test_a_product_before_baseline_4_has_no_offset(tmp_path: Path) -> None:
    product = _product(tmp_path, as_zip=False, baseline="02.08")
    assert open_s2_l2a(product).offset == 0.0
    fc = _detect(product, tmp_path / "o.geojson")
    assert fc["sitewatch"]["dn_offset"] == 0.0 and len(fc["features"]) == 1


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_a_product_without_its_scl_file_falls_back_to_the_spectral_cloud_test(tmp_path: Path, as_zip: bool) -> None:
    # GDAL's SENTINEL2 driver lists SCL in the 20 m subdataset even when its file is missing,
    # and reads it as zeros: no data everywhere, which the cloud mask took for all cloud.
    product = write_s2_safe(
        tmp_path, _dn(anchored_ship()), crs="EPSG:32652", west=600000.0, north=4750000.0, as_zip=as_zip
    )
    assert "SCL" not in open_s2_l2a(product).bands
    fc = _detect(product, tmp_path / "o.geojson")
    assert fc["sitewatch"]["cloud_fraction"] < 0.05 and len(fc["features"]) == 1
    assert "SCL" not in fc["sitewatch"]["safe"]["band_sources"]


def test_l1c_s1_and_broken_products_are_refused_by_name(tmp_path: Path) -> None:
    l1c = _product(tmp_path, as_zip=True, level="L1C")
    s1 = tmp_path / "S1A_IW_GRDH_1SDV_20241017T093005.SAFE"
    s1.mkdir()
    (s1 / "manifest.safe").write_text("<xfdu/>", encoding="utf-8")
    empty = tmp_path / "S2B_MSIL2A_EMPTY.SAFE"
    empty.mkdir()
    broken = tmp_path / "broken" / "S2B_MSIL2A_X.SAFE"
    broken.mkdir(parents=True)
    (broken / "MTD_MSIL2A.xml").write_text("<not-a-product/>", encoding="utf-8")
    not_safe = tmp_path / "tiffs.zip"
    with zipfile.ZipFile(not_safe, "w") as zf:
        zf.writestr("a.tif", b"x")
    for path, says in (
        (l1c, "Level-1C"), (s1, "could not read"), (empty, "MTD_MSIL2A.xml"), (broken, "S2B_MSIL2A_X.SAFE"),
        (not_safe, "without a Sentinel .SAFE product"),
    ):  # fmt: skip
        r = CliRunner().invoke(main, ["detect-image", str(path), "--out", str(tmp_path / "o.geojson")])
        assert r.exit_code == 1, (path, r.output)
        assert path.name in r.output and says in r.output, r.output
    with pytest.raises(InputError, match="trained on"):
        open_s2_l2a(l1c)
    r = CliRunner().invoke(main, ["detect-image", str(_product(tmp_path, as_zip=False)), "--sensor", "sar",
                                  "--out", str(tmp_path / "o.geojson")])  # fmt: skip
    assert r.exit_code == 1 and "optical" in r.output


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return workspace_with_sites(tmp_path / "ws", SITE)


def _ingest_the_one_observation(ws: Workspace, product: Path, times: int = 1) -> Observation:
    """Ingest ``product`` into the test site ``times`` times; the site's one observation."""
    for _ in range(times):
        r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(product), "-w", str(ws.root)])
        assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    return obs


def _site_product(tmp_path: Path, *, as_zip: bool, level: str = "L2A") -> Path:
    """A product over the test site: 10 m bands of known DN, SCL 20 m with a cloud block."""
    crs, x0, y0 = site_utm_origin(SITE)
    x0, y0 = float(np.floor(x0 / 20) * 20), float(np.ceil(y0 / 20) * 20)
    rows, cols = 260, 220
    bands = {k: np.full((rows, cols), v, np.uint16) for k, v in zip(BANDS, (1450, 1400, 1220, 1120), strict=True)}
    bands["red"][:, 150:] = 0  # no data east of column 150
    scl = np.full((rows // 2, cols // 2), 6, np.uint8)
    scl[:20, :20] = 9
    folder = tmp_path / ("zip" if as_zip else "folder")
    folder.mkdir(exist_ok=True)
    return write_s2_safe(folder, bands, crs=crs, west=x0, north=y0, scl=scl, as_zip=as_zip, level=level)


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_ingest_takes_a_product_as_one_optical_observation_once(ws, tmp_path: Path, as_zip: bool) -> None:  # type: ignore[no-untyped-def]
    product = _site_product(tmp_path, as_zip=as_zip)
    obs = _ingest_the_one_observation(ws, product, times=2)
    name = "S2B_MSIL2A_20241017T093005_N0511_R136_T52TGN_20241017T120000"
    assert obs.id == f"{SITE.id}/{name}"
    assert obs.scene.sensor == "optical" and obs.scene.platform == "sentinel-2b"
    assert obs.scene.acquired == datetime(2024, 10, 17, 9, 30, 5, 24000, tzinfo=UTC)
    prov = obs.provenance
    assert prov["acquired_from"] == "MTD_TL.xml SENSING_TIME"
    assert prov["safe"]["product"] == name and prov["safe"]["quantification_value"] == 10000.0
    assert prov["offset_applied"] == -1000.0 and prov["scale_applied"] == pytest.approx(1e-4)
    assert prov["source_path"] == str(product.resolve()) and len(prov["source_sha256"]) == 64
    with rasterio.open(ws.root / obs.path) as cog:
        assert cog.descriptions == ("blue", "green", "red", "nir", "SCL")
        data = cog.read()
        t = cog.transform
    valid = np.isfinite(data).all(axis=0)
    # (DN - 1000) / 10000, from the product's BOA_ADD_OFFSET and QUANTIFICATION_VALUE
    for i, refl in enumerate((0.045, 0.040, 0.022, 0.012)):
        assert np.nanmedian(data[i][valid]) == pytest.approx(refl, abs=1e-6)
    assert set(np.unique(data[4][valid])) <= {6.0, 9.0} and (data[4] == 9).any()
    # DN 0 (the red band's east strip) is no data, not reflectance -0.1.
    crs, x0, _ = site_utm_origin(SITE)
    east = np.floor(x0 / 20) * 20 + 150 * 10
    cols_east = (np.arange(data.shape[2]) + 0.5) * t.a + t.c > east + 20
    assert cols_east.any() and np.isnan(data[2][:, cols_east]).all()
    assert np.nanmin(data[:4]) >= 0


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_the_acquisition_time_is_the_granules_sensing_time_not_the_datatakes_start(ws, tmp_path: Path, as_zip: bool) -> None:  # type: ignore[no-untyped-def]
    # The datatake began at 23:58:30 on the 17th (the time in the product's name); this tile was
    # sensed three minutes later, on the 18th (UTC), which is the day its ships were seen.
    crs, x0, y0 = site_utm_origin(SITE)
    bands = {k: np.full((260, 220), 1400, np.uint16) for k in BANDS}
    product = write_s2_safe(
        tmp_path, bands, crs=crs, west=x0, north=y0, as_zip=as_zip,
        acquired="2024-10-17T23:58:30.024Z", sensed="2024-10-18T00:01:32.511Z",
    )  # fmt: skip
    opened = open_s2_l2a(product)
    assert opened.acquired == datetime(2024, 10, 18, 0, 1, 32, 511000, tzinfo=UTC)
    assert opened.acquired_from == "MTD_TL.xml SENSING_TIME" and "20241017T" in opened.name
    obs = _ingest_the_one_observation(ws, product)
    assert obs.scene.acquired == opened.acquired and obs.provenance["acquired_from"] == "MTD_TL.xml SENSING_TIME"


def test_ingest_folder_and_zip_of_one_product_is_one_observation(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = _site_product(tmp_path, as_zip=False)
    zipped = _site_product(tmp_path, as_zip=True)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "note.tif").write_bytes(b"not a tiff")  # a bad file beside the products is named, the rest go in
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(folder), str(zipped), str(inbox), "-w", str(ws.root)])
    assert r.exit_code == 3 and "note.tif" in r.output
    assert f"{zipped} is the same image as {folder}" in r.output
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(zipped.parent), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.provenance["source_path"] == str(zipped.resolve())


def test_ingest_refuses_l1c_by_name_and_detect_runs_on_the_observation(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    l1c = _site_product(tmp_path, as_zip=False, level="L1C")
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(l1c), "-w", str(ws.root)])
    assert r.exit_code == 1 and l1c.name in r.output and "Level-1C" in r.output
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(_site_product(tmp_path, as_zip=True)), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["-q", "detect", SITE.id, "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.cloud_fraction is not None and obs.cloud_fraction > 0  # from the SCL band


# -- Sentinel-1 GRD ---------------------------------------------------------------------------------


def _s1_product(tmp_path: Path, *, as_zip: bool, pols: tuple[str, ...] = ("VV", "VH"), ship: bool = True) -> Path:
    """A GRD product over the test site: sea (sigma0 0.02) with a 113 m ship, DN = sqrt(sigma0) × 500."""
    from test_sar import sea_with_ships

    crs, x0, y0 = site_utm_origin(SITE)
    ships = [(130.0, 110.0, 113.0, 15.6, 30.0)] if ship else []
    sigma0 = sea_with_ships(np.random.default_rng(21), (260, 220), ships)
    dn = np.clip(np.sqrt(sigma0) * 500, 1, 65535).astype(np.uint16)
    bands = {p: (dn if p in ("VV", "HH") else (dn * 0.4).astype(np.uint16)) for p in pols}
    folder = tmp_path / ("s1zip" if as_zip else "s1")
    folder.mkdir(exist_ok=True)
    return write_s1_grd_safe(folder, bands, crs=crs, west=x0, north=y0, as_zip=as_zip)


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_detect_image_reads_a_dual_pol_grd_product_as_sigma0_by_its_gcps(tmp_path: Path, as_zip: bool) -> None:
    product = _s1_product(tmp_path, as_zip=as_zip)
    assert is_s1_product(product)
    fc = _detect(product, tmp_path / "s1.geojson")
    meta = fc["sitewatch"]
    assert meta["sensor"] == "sar" and meta["source"] == str(product)
    assert meta["polarisation_bands"] == {"co": "VV", "cross": "VH"}
    assert set(meta["safe"]["band_sources"]) == {"VV", "VH"}
    for pol in ("VV", "VH"):  # the record says how, and from which LUT (the noise kept: setting sar_thermal_noise)
        assert re.match(rf"sigma0 = DN² / A², A bilinear .*\(calibration-s1a-iw-grd-{pol.lower()}-.*; thermal noise not subtracted \(setting sar_thermal_noise = keep", meta["safe"]["calibration"][pol])
    assert "GCPs" in meta["note"] and "crs" not in fc  # lon/lat from the GCPs: GeoJSON's own CRS
    (f,) = fc["features"]
    assert abs(f["properties"]["row"] - 130) < 2 and abs(f["properties"]["col"] - 110) < 2
    assert abs(f["properties"]["length_m"] - 113) < 20


def test_single_pol_grd_product_runs_the_single_channel_detector(tmp_path: Path) -> None:
    product = _s1_product(tmp_path, as_zip=False, pols=("VV",))
    product_info = open_s1_grd(product)
    band = product_info.bands["VV"]
    with rasterio.open(band.path) as vrt:  # the DN, with the GCPs
        assert vrt.dtypes[0] == "uint16" and vrt.nodata == 0 and len(vrt.gcps[0]) == 25
        shape = vrt.shape
    assert np.median(band.read((0, shape[0], 0, shape[1]))) == pytest.approx(0.02, rel=0.3)  # the sea's sigma0, not its DN
    fc = _detect(product, tmp_path / "s1.geojson")
    assert "polarisation_bands" not in fc["sitewatch"] and len(fc["features"]) == 1
    r = CliRunner().invoke(main, ["detect-image", str(product), "--sensor", "optical", "--out", str(tmp_path / "o.geojson")])
    assert r.exit_code == 1 and "SAR" in r.output


def test_grd_gcps_number_pixel_centres_as_sentinel_1_does(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """ESA's geolocation grid names pixel centres by sample and line number; GDAL reads the numbers
    as corner coordinates. Left so, the image lands half a pixel (7 m diagonally) up and left."""
    from pyproj import Transformer
    from rasterio.transform import from_gcps

    crs, x0, y0 = site_utm_origin(SITE)
    # Pixel centres 2.5 m east and 2.5 m south of the site grid's (a multiple of 10 m plus 5): read by
    # nearest neighbour, the target keeps its cell; half a pixel further east and south, it changes cell.
    x0, y0 = math.floor(x0 / 10) * 10 + 2.5, math.ceil(y0 / 10) * 10 - 2.5
    dn = np.full((260, 220), 70, np.uint16)
    dn[129:132, 99:102] = 3000  # a bright 3 x 3 target centred on pixel (130, 100)
    folder = tmp_path / "s1"
    folder.mkdir()
    product = write_s1_grd_safe(folder, {"VV": dn}, crs=crs, west=x0, north=y0)
    truth = (x0 + 100.5 * 10.0, y0 - 130.5 * 10.0)  # the centre of pixel (130, 100), in UTM
    to_utm = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    with rasterio.open(open_s1_grd(product).bands["VV"].path) as vrt:
        lon, lat = from_gcps(vrt.gcps[0]) @ (100.5, 130.5)  # GDAL's convention: the centre is +0.5
    assert np.hypot(*np.subtract(to_utm.transform(lon, lat), truth)) < 0.5

    obs = _ingest_the_one_observation(ws, product)
    with rasterio.open(ws.root / obs.path) as cog:
        vv, t = cog.read(1), cog.transform
    w = np.clip(np.nan_to_num(vv) - 1.0, 0, None)  # the target only (sigma0 36; the sea 0.02)
    rows, cols = np.indices(vv.shape)
    x, y = t @ (float((w * cols).sum() / w.sum()) + 0.5, float((w * rows).sum() / w.sum()) + 0.5)
    assert np.hypot(x - truth[0], y - truth[1]) < 4.0  # 3.5 m (the grid's cell); GCPs read as corners: 10.6 m
    # SAR is resampled by nearest neighbour, as GeoTIFFs are: values of the product, the hull's peaks kept
    assert {round(float(v), 4) for v in np.unique(vv[np.isfinite(vv)])} <= {round((70 / 500) ** 2, 4), 36.0}


@pytest.mark.parametrize("lost", ["calibration/calibration-", "annotation/s1a-"], ids=["calibration", "annotation"])
@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_a_dual_pol_product_missing_a_polarisations_file_is_refused_not_read_as_single_pol(ws, tmp_path: Path, as_zip: bool, lost: str) -> None:  # type: ignore[no-untyped-def]
    product = _s1_product(tmp_path, as_zip=False)
    (gone,) = [f for f in product.rglob("*-vh-*.xml") if lost in f.as_posix()]
    gone.unlink()  # GDAL's SAFE driver then offers VV alone, without a word
    if as_zip:
        product = _rezip(product, tmp_path / product.name.replace(".SAFE", ".zip"), product.name + "/")
    with pytest.raises(InputError, match=r"manifest lists VH \(measurement/s1a-iw-grd-vh-.*download the product again"):
        open_s1_grd(product)
    r = CliRunner().invoke(main, ["ingest", SITE.id, str(product), "-w", str(ws.root)])
    assert r.exit_code == 1 and product.name in r.output and "VH" in r.output, r.output
    with ws.store() as store:
        assert store.observations(SITE.id) == []


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_ingest_takes_a_grd_product_as_one_sar_observation_once(ws, tmp_path: Path, as_zip: bool) -> None:  # type: ignore[no-untyped-def]
    product = _s1_product(tmp_path, as_zip=as_zip)
    obs = _ingest_the_one_observation(ws, product, times=2)
    assert obs.id == f"{SITE.id}/{product.name.removesuffix('.SAFE').removesuffix('.zip')}"
    assert obs.scene.sensor == "sar" and obs.scene.platform == "sentinel-1a"
    assert obs.scene.acquired.replace(microsecond=0) == datetime(2024, 10, 17, 9, 30, 5, tzinfo=UTC)
    assert obs.provenance["acquired_from"] == "manifest.safe acquisitionPeriod/startTime"
    assert obs.provenance["bands"] == ["VV", "VH"] and "VV" in obs.provenance["safe"]["calibration"]
    with rasterio.open(ws.root / obs.path) as cog:
        vv = cog.read(1)
    assert np.nanmedian(vv) == pytest.approx(0.02, rel=0.3)  # sigma0 of the sea, not DN
    r = CliRunner().invoke(main, ["-q", "detect", SITE.id, "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        assert len(store.detections(observation_id=obs.id)) == 1


def _rezip(product: Path, archive: Path, prefix: str) -> Path:
    """The product's files zipped again by hand, under ``prefix`` instead of ``NAME.SAFE/``."""
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(product.rglob("*")):
            zf.write(f, prefix + f.relative_to(product).as_posix())
    return archive


def test_a_product_zipped_again_under_another_folder_is_still_the_product(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    product = _site_product(tmp_path, as_zip=False)
    renamed = _rezip(product, tmp_path / "download.zip", "my_product/")
    nested = _rezip(product, tmp_path / "nested.zip", f"outer/{product.name}/")
    flat = _rezip(product, tmp_path / "flat.zip", "")
    name = product.name.removesuffix(".SAFE")
    for archive in (renamed, nested, flat):
        assert is_safe_product(archive)
        assert open_s2_l2a(archive).name == name  # PRODUCT_URI when the folder is not NAME.SAFE
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(renamed), str(nested), str(flat), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    assert f"{nested} is the same image as {renamed}" in r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.id == f"{SITE.id}/{name}"


def test_a_product_with_a_damaged_band_file_names_the_band_and_archives_nothing(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s2 = _site_product(tmp_path, as_zip=False)
    (b04,) = s2.rglob("*_B04_10m.jp2")
    s1 = _s1_product(tmp_path, as_zip=False)
    (vh,) = (s1 / "measurement").glob("*-vh-*.tiff")
    for f in (b04, vh):
        f.write_bytes(f.read_bytes()[:300])  # cut short; GDAL says only "Read failed"
    for product, says in ((s2, "could not read its red band"), (s1, "could not read its VH measurement")):
        r = CliRunner().invoke(main, ["ingest", SITE.id, str(product), "-w", str(ws.root)])
        assert r.exit_code == 1 and f"{product.name}: {says}" in r.output, r.output
    assert ws.archive.is_dir() and not [f for f in ws.archive.rglob("*") if f.is_file()]


def test_a_grd_product_without_pixel_spacing_is_named_not_a_traceback(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    product = _s1_product(tmp_path, as_zip=False)
    for f in (product / "annotation").glob("*.xml"):
        f.write_text(re.sub(r"<rangePixelSpacing>.*?</rangePixelSpacing>", "", f.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(InputError, match="no pixel spacing in its annotation"):
        open_s1_grd(product)  # was ValueError: could not convert string to float: 'UNK'
    r = CliRunner().invoke(main, ["ingest", SITE.id, str(product), "-w", str(ws.root)])
    assert r.exit_code == 1 and f"{product.name}: no pixel spacing" in r.output, r.output


def test_band_files_taken_from_a_product_are_refused_pointing_to_the_product(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Read one file a band, baseline 05.11's DN went in without BOA_ADD_OFFSET: water at 0.145
    # instead of 0.045, and as a second observation of the acquisition beside the product's.
    product = _site_product(tmp_path, as_zip=False)
    flags = [
        arg for name, code in zip(BANDS, ("B02", "B03", "B04", "B08"), strict=True)
        for arg in ("--band", f"{name}={next(product.rglob(f'*_{code}_10m.jp2'))}")
    ]  # fmt: skip
    r = CliRunner().invoke(main, ["ingest", SITE.id, *flags, "-w", str(ws.root)])
    assert r.exit_code == 1 and f"a file of the SAFE product {product}; give the product itself" in r.output, r.output
    s1 = _s1_product(tmp_path, as_zip=False)
    (vv,) = (s1 / "measurement").glob("*-vv-*.tiff")
    r = CliRunner().invoke(main, ["ingest", SITE.id, "--band", f"vv={vv}", "-w", str(ws.root)])
    assert r.exit_code == 1 and f"a file of the SAFE product {s1}" in r.output, r.output
    with ws.store() as store:
        assert store.observations(SITE.id) == []
    for bands, says in ((flags, f"a file of the SAFE product {product}"), (["--band", f"vv={vv}"], f"a file of the SAFE product {s1}")):
        r = CliRunner().invoke(main, ["detect-image", *bands, "--out", str(tmp_path / "o.geojson")])
        assert r.exit_code == 1 and says in r.output, r.output
    r = CliRunner().invoke(main, ["detect-image", *flags, "--dn-offset", "1000", "--out", str(tmp_path / "o.geojson")])
    assert r.exit_code == 0, r.output  # the offset given: the files are read as told
    # A measurement given alone, not as --band: ingest said "has no CRS ... georeference it first",
    # and detect-image read its DN placed half a pixel off.
    r = CliRunner().invoke(main, ["ingest", SITE.id, str(vv), "-w", str(ws.root)])
    assert r.exit_code == 1 and f"{vv}: a file of the SAFE product {s1}; give the product itself" in r.output, r.output
    r = CliRunner().invoke(main, ["detect-image", str(vv), "--out", str(tmp_path / "o.geojson")])
    assert r.exit_code == 1 and f"{vv}: a file of the SAFE product {s1}; give the product itself as IMAGE" in r.output, r.output
    with ws.store() as store:
        assert store.observations(SITE.id) == []


def test_a_zip_of_two_products_is_refused_naming_both_not_read_as_the_first(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "two"
    folder.mkdir()
    products = [
        write_s2_safe(folder, _dn(anchored_ship()), crs="EPSG:32652", west=600000.0, north=4750000.0, acquired=when)
        for when in ("2024-10-17T09:30:05Z", "2024-10-20T09:30:05Z")
    ]
    archive = tmp_path / "both.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for product in products:
            for f in sorted(product.rglob("*")):
                zf.write(f, f.relative_to(folder).as_posix())
    with pytest.raises(InputError, match="holds 2 SAFE products") as err:
        open_s2_l2a(archive)  # read the 17 October product and passed over the other
    assert all(p.name in str(err.value) for p in products)
    r = CliRunner().invoke(main, ["ingest", SITE.id, str(archive), "-w", str(ws.root)])
    assert r.exit_code == 1 and "both.zip" in r.output and "holds 2 SAFE products" in r.output, r.output


def test_a_damaged_zip_is_named_as_such_and_the_others_go_in(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = _site_product(tmp_path, as_zip=True)
    cut = tmp_path / "cut" / good.name
    cut.parent.mkdir()
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # an unfinished download
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(cut), str(good), "-w", str(ws.root)])
    assert r.exit_code == 3, r.output
    assert f"{cut}: not a readable zip file" in r.output
    r = CliRunner().invoke(main, ["detect-image", str(cut), "--out", str(tmp_path / "o.geojson")])
    assert r.exit_code == 1 and "not a readable zip file" in r.output, r.output
    # In a folder it is named too, not passed over in silence.
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(tmp_path / "cut"), str(good.parent), "-w", str(ws.root)])
    assert r.exit_code == 3, r.output
    assert f"{cut}: not a readable zip file" in r.output


def test_a_product_given_by_its_main_metadata_file_is_the_product(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # QGIS opens a product by its MTD_MSIL2A.xml (or manifest.safe); that file was taken for an
    # image without a georeference.
    product = _site_product(tmp_path, as_zip=False)
    mtd = product / "MTD_MSIL2A.xml"
    assert is_safe_product(mtd)
    fc = _detect(mtd, tmp_path / "o.geojson")
    assert fc["sitewatch"]["safe"]["processing_baseline"] == "05.11"
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(mtd), str(product), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    assert f"{product} is the same image as {product}" not in r.output and "given more than once" in r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.provenance["source_path"] == str(product.resolve())
    s1 = _s1_product(tmp_path, as_zip=False, pols=("VV",))
    fc = _detect(s1 / "manifest.safe", tmp_path / "s1.geojson")
    assert fc["sitewatch"]["safe"]["calibration"]["VV"].startswith("sigma0 = DN² / A², A bilinear")  # calibrated, not read as DN


def test_a_vsizip_path_to_a_product_zip_is_the_product(tmp_path: Path) -> None:
    # Someone who writes GeoTIFFs in zips as /vsizip//abs/x.zip/chip.tif writes a product's zip
    # so too; GDAL opened the product file itself, and the error asked for --pixel-size.
    archive = _product(tmp_path, as_zip=True)
    top = archive.name.removesuffix(".zip")
    for path in (f"/vsizip/{archive}", f"/vsizip/{archive}/{top}", f"/vsizip/{archive}/{top}/MTD_MSIL2A.xml"):
        fc = _detect(path, tmp_path / "o.geojson")
        assert fc["sitewatch"]["source"] == path and fc["sitewatch"]["safe"]["processing_baseline"] == "05.11"
        assert len(fc["features"]) == 1


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_import_takes_a_product_into_the_sites_it_covers_once(ws, tmp_path: Path, as_zip: bool) -> None:  # type: ignore[no-untyped-def]
    product = _site_product(tmp_path, as_zip=as_zip)
    # The product itself, then the folder holding it: one observation, found both ways.
    for path in (product, product.parent):
        r = CliRunner().invoke(main, ["import", str(path), "-w", str(ws.root), "--json"])
        assert r.exit_code == 0, r.output
        (row,) = json.loads(r.stdout)["imported"]
        assert row["id"] == f"{SITE.id}/S2B_MSIL2A_20241017T093005_N0511_R136_T52TGN_20241017T120000"
    with ws.store() as store:
        assert len(store.observations(SITE.id)) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    r = CliRunner().invoke(main, ["import", str(empty), "-w", str(ws.root)])
    assert r.exit_code == 1 and "no GeoTIFF files or SAFE products found" in r.output


def test_a_zip_member_that_unpacks_too_big_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SAFE zip's metadata or calibration file was read whole into memory, whatever it unpacked to."""
    from sitewatch import untrusted
    from sitewatch.sources.safe import _read_bytes

    monkeypatch.setattr(untrusted, "MAX_MEMBER_BYTES", 2**20)
    with zipfile.ZipFile(tmp_path / "p.SAFE.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("p.SAFE/annotation/calibration/cal.xml", b" " * 2 * 2**20)
        zf.writestr("p.SAFE/manifest.safe", b"<xfdu/>")
    assert _read_bytes(f"/vsizip/{tmp_path}/p.SAFE.zip/p.SAFE/manifest.safe") == b"<xfdu/>"
    with pytest.raises(InputError, match=r"cal.xml unpacks to 2,097,152 bytes"):
        _read_bytes(f"/vsizip/{tmp_path}/p.SAFE.zip/p.SAFE/annotation/calibration/cal.xml")


def test_a_manifest_naming_files_outside_the_product_is_refused(tmp_path: Path) -> None:
    """GDAL followed "./measurement/../../elsewhere.tiff" in manifest.safe: a raster of this machine read as the product."""
    import shutil

    product = _s1_product(tmp_path, as_zip=False, pols=("VV",))
    measurement = next((product / "measurement").glob("*.tiff"))
    (product.parent / "elsewhere").mkdir()
    shutil.move(measurement, product.parent / "elsewhere" / measurement.name)
    manifest = product / "manifest.safe"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(f"./measurement/{measurement.name}",
                                                     f"./measurement/../../elsewhere/{measurement.name}"), encoding="utf-8")  # fmt: skip
    with pytest.raises(InputError, match=r"its metadata names a file outside the product \(.*/measurement/\.\./\.\./elsewhere/"):
        open_s1_grd(product)
