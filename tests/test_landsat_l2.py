"""A Landsat Collection 2 Level-2 product folder (``…_SR_Bn.TIF``, ``…_QA_PIXEL.TIF``, ``…_MTL.txt``)
goes into ingest as one observation, scaled as USGS says, its QA_PIXEL the cloud mask."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.detect.clouds import SCL_HIDDEN, qa_pixel_to_scl
from sitewatch.detection import detect_site
from sitewatch.ingest import site_mask
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.workspace import Workspace

SITE = tiny_site()
P = 30.0
CRS, _X, _Y = site_utm_origin(SITE, margin_m=600.0)
X0, Y0 = math.floor(_X / P) * P, math.ceil(_Y / P) * P
H, W = 120, 100
NAME = "LC09_L2SP_116030_20241017_20241018_02_T1"
CLEAR, WATER_BIT, FILL = 1 << 6, 1 << 7, 1
CLOUD, SHADOW = (1 << 1) | (1 << 3) | (3 << 8), (1 << 4) | (3 << 10)
MTL = f"""GROUP = LANDSAT_METADATA_FILE
  GROUP = PRODUCT_CONTENTS
    LANDSAT_PRODUCT_ID = "{NAME}"
    PROCESSING_LEVEL = "L2SP"
  END_GROUP = PRODUCT_CONTENTS
  GROUP = IMAGE_ATTRIBUTES
    SPACECRAFT_ID = "LANDSAT_9"
    DATE_ACQUIRED = 2024-10-17
    SCENE_CENTER_TIME = "01:47:33.2481230Z"
  END_GROUP = IMAGE_ATTRIBUTES
  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
{"".join(f"    REFLECTANCE_MULT_BAND_{n} = 2.75E-05{chr(10)}    REFLECTANCE_ADD_BAND_{n} = -0.200000{chr(10)}" for n in range(1, 8))}  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
END_GROUP = LANDSAT_METADATA_FILE
END
"""
REFLECTANCE = {1: 0.08, 2: 0.045, 3: 0.040, 4: 0.022, 5: 0.012}
"""Coastal aerosol, then blue, green, red, NIR of harbour water (Landsat 8-9 band numbers)."""


def _qa() -> np.ndarray:
    qa = np.full((H, W), CLEAR | WATER_BIT, np.uint16)
    qa[10:40, 10:50] = CLOUD
    qa[70:90, 60:90] = SHADOW
    qa[:, :3] = FILL
    return qa


def _product(folder: Path, *, qa: bool = True) -> Path:
    folder.mkdir(parents=True)
    transform = Affine(P, 0, X0, 0, -P, Y0)
    for n, r in REFLECTANCE.items():
        dn = np.full((H, W), round((r + 0.2) / 2.75e-5), np.uint16)
        dn[:, :3] = 0  # fill
        write_tiff(folder / f"{NAME}_SR_B{n}.TIF", dn, crs=CRS, transform=transform, nodata=0)
    if qa:
        write_tiff(folder / f"{NAME}_QA_PIXEL.TIF", _qa(), crs=CRS, transform=transform, nodata=1)
    (folder / f"{NAME}_MTL.txt").write_text(MTL, encoding="utf-8")
    return folder / f"{NAME}_MTL.txt"


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return workspace_with_sites(tmp_path / "ws", SITE)


def test_qa_pixel_bits_read_as_scl() -> None:
    qa = np.array([CLEAR, CLEAR | WATER_BIT, FILL, CLOUD, 1 << 1, 1 << 2, SHADOW, 1 << 5])
    assert qa_pixel_to_scl(qa).tolist() == [7, 7, 0, 9, 9, 10, 3, 11]


def test_a_landsat_l2_folder_is_one_observation_scaled_as_usgs_says_with_its_qa_as_the_cloud_mask(tmp_path: Path, ws: Workspace) -> None:
    mtl = _product(tmp_path / "download" / NAME)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(tmp_path / "download"), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.id == f"{SITE.id}/{NAME}" and obs.scene.platform == "landsat-9"
    assert obs.scene.acquired.isoformat() == "2024-10-17T01:47:33+00:00"
    assert obs.provenance["bands"] == ["blue", "green", "red", "nir", "SCL"]
    assert obs.provenance["landsat"]["metadata"] == str(mtl.resolve()) and obs.provenance["cloud_mask"]["from"] == "qa_pixel"
    with rasterio.open(ws.root / obs.path) as cog:
        data = cog.read()
    # Reflectance = DN x 2.75e-05 - 0.2, band 2 as blue (not band 1, the coastal aerosol band); no data at the fill.
    for i, n in enumerate((2, 3, 4, 5)):
        values = data[i][np.isfinite(data[i])]
        assert values.size and np.allclose(values, REFLECTANCE[n], atol=2e-5)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(mtl), "-w", str(ws.root)])  # by its MTL: the same product
    assert r.exit_code == 0, r.output
    detect_site(ws, SITE.id, workers=1)
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    t = obs.grid.affine
    r0, c0 = round((Y0 - t.f) / P), round((t.c - X0) / P)
    hidden = np.isin(qa_pixel_to_scl(_qa()), SCL_HIDDEN)[r0 : r0 + obs.grid.height, c0 : c0 + obs.grid.width]
    valid = site_mask(SITE, obs.grid) & np.all(np.isfinite(data[:4]), axis=0)
    assert obs.cloud_fraction == pytest.approx(float(hidden[valid].mean()), abs=1e-6) and obs.cloud_fraction > 0.05


def test_a_band_file_of_a_landsat_product_is_refused_naming_the_product(tmp_path: Path, ws: Workspace) -> None:
    mtl = _product(tmp_path / NAME)
    b4 = tmp_path / NAME / f"{NAME}_SR_B4.TIF"
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(b4), "-w", str(ws.root)])
    assert r.exit_code == 1 and f"a file of the Landsat product {NAME}" in r.output and str(mtl) in r.output
    bands = [f"--band={k}={tmp_path / NAME / f'{NAME}_SR_B{n}.TIF'}" for k, n in (("green", 3), ("red", 4))]
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *bands, "-w", str(ws.root)])
    assert r.exit_code == 1 and "2.75e-05" in r.output  # read alone it went in as DN / 10000: water at 0.8


def test_a_landsat_product_without_a_band_is_named_and_without_qa_goes_in(tmp_path: Path, ws: Workspace) -> None:
    _product(tmp_path / "a" / NAME)
    (tmp_path / "a" / NAME / f"{NAME}_SR_B5.TIF").unlink()
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(tmp_path / "a"), "-w", str(ws.root)])
    assert r.exit_code == 1 and f"{NAME}_SR_B5.TIF is not beside it" in r.output
    _product(tmp_path / "b" / NAME, qa=False)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(tmp_path / "b"), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.provenance["bands"] == ["blue", "green", "red", "nir"] and "cloud_mask" not in obs.provenance


def _detect_image(tmp_path: Path, *args: str) -> tuple[int, str, dict]:  # type: ignore[type-arg]
    import json

    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", *args, "--out", str(out)])
    return r.exit_code, r.output, (json.loads(out.read_text(encoding="utf-8")) if out.exists() else {})


@pytest.mark.parametrize("given", ["folder", "mtl"])
def test_detect_image_reads_a_landsat_product_scaled_by_its_mtl_with_its_qa_as_the_cloud_mask(tmp_path: Path, given: str) -> None:
    """detect-image took neither the product's folder nor its MTL (a folder, not an image); its band
    files alone were refused by name, or read as DN / 10,000 with --band."""
    mtl = _product(tmp_path / NAME)
    code, output, fc = _detect_image(tmp_path, str(mtl.parent if given == "folder" else mtl))
    assert code == 0, output
    assert f"sensor: optical, a Landsat Collection 2 Level-2 product ({NAME})" in output
    meta = fc["sitewatch"]
    assert meta["sensor"] == "optical" and meta["landsat"]["product"] == NAME
    assert meta["dn_scale"] == pytest.approx(1 / 2.75e-5) and meta["dn_offset"] == pytest.approx(0.2 / 2.75e-5)
    assert meta["landsat"]["dn_scale_from"] == meta["landsat"]["dn_offset_from"] == mtl.name
    assert meta["cloud_mask"] == {"from": "qa_pixel", "path": str(mtl.with_name(f"{NAME}_QA_PIXEL.TIF"))}
    valid = _qa() != FILL
    hidden = np.isin(qa_pixel_to_scl(_qa()), SCL_HIDDEN) & valid
    assert meta["valid_fraction"] == pytest.approx(valid.mean(), abs=1e-4)
    assert meta["cloud_fraction"] == pytest.approx(hidden.sum() / valid.sum(), abs=1e-4)


def test_detect_image_refuses_a_landsat_band_file_naming_the_product(tmp_path: Path) -> None:
    mtl = _product(tmp_path / NAME)
    b = {n: str(mtl.with_name(f"{NAME}_SR_B{i}.TIF")) for n, i in (("blue", 2), ("green", 3), ("red", 4), ("nir", 5))}
    code, output, fc = _detect_image(tmp_path, *(f"--band={n}={p}" for n, p in b.items()))
    assert code != 0 and f"a band file of the Landsat product {NAME}" in output and mtl.name in output and not fc
    code, output, _ = _detect_image(tmp_path, b["red"])
    assert code != 0 and f"a band file of the Landsat product {NAME}" in output
    code, output, _ = _detect_image(tmp_path, str(mtl), "--sensor", "sar")
    assert code != 0 and "a Landsat product is optical; drop --sensor sar" in output


def test_detect_image_refuses_a_folder_of_several_landsat_products(tmp_path: Path) -> None:
    _product(tmp_path / "all" / NAME)
    other = tmp_path / "all" / "two"
    other.mkdir()
    for f in (tmp_path / "all" / NAME).iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    code, output, _ = _detect_image(tmp_path, str(tmp_path / "all"))
    assert code != 0 and "holds 2 Landsat products" in output and "give one's folder or _MTL.txt" in output


def test_detect_image_takes_landsat_band_files_when_both_their_scale_and_offset_are_given(tmp_path: Path) -> None:
    mtl = _product(tmp_path / NAME)
    b = [f"--band={n}={mtl.with_name(f'{NAME}_SR_B{i}.TIF')}" for n, i in (("blue", 2), ("green", 3), ("red", 4), ("nir", 5))]
    code, output, _ = _detect_image(tmp_path, *b, "--dn-offset", "7272.73")  # the offset alone leaves it / 10,000
    assert code != 0 and "a band file of the Landsat product" in output
    code, output, fc = _detect_image(tmp_path, *b, "--dn-offset", "7272.73", "--dn-scale", "36363.6")
    assert code == 0, output
    assert fc["sitewatch"]["dn_scale"] == 36363.6


def test_a_landsat_7_file_whose_bands_go_by_number_is_refused_not_read_as_landsat_8s(tmp_path: Path) -> None:
    """Landsat 7's product names (LE07_…) named no satellite; once they do, its band numbers (B1 blue … B4 nir)
    are not read as Sentinel-2's and Landsat 8-9's (B2 blue … B8 nir): its green was read as blue, its NIR as red."""
    from sitewatch.detect.optical_image import named_optical_bands, parse_band_args
    from sitewatch.errors import InputError
    from sitewatch.ingest.scene_ref import read_scene_ref

    le07 = "LE07_L2SP_116030_20001017_20200917_02_T1"
    tags = {"SITEWATCH_ACQUIRED": "2000-10-17T01:30:00Z"}
    stack = write_tiff(tmp_path / f"{le07}_stack.tif", np.ones((4, 8, 8), np.uint16), crs=CRS,
                       descriptions=("B1", "B2", "B3", "B4"), tags=tags)
    for read in (lambda: named_optical_bands(stack), lambda: read_scene_ref(stack, sensor="optical")):
        with pytest.raises(InputError, match=r"landsat-7 file \(by its name\) whose bands are called by number \(B1, B2, B3, B4: its band"):
            read()
    with pytest.raises(InputError, match=r"_stack.tif: a landsat-7 file .*\(B3: --band b3\).* numbers its own B1 blue, B2 green, B3 red, B4 nir"):
        parse_band_args((f"b3={stack}",))
    named = write_tiff(tmp_path / f"{le07}_named.tif", np.ones((4, 8, 8), np.uint16), crs=CRS,
                       descriptions=("blue", "green", "red", "nir"), tags=tags)
    assert named_optical_bands(named)[0] == {"blue": 1, "green": 2, "red": 3, "nir": 4}
    assert read_scene_ref(named, sensor="optical")[0].platform == "landsat-7"
    assert parse_band_args((f"red={named}", f"b8={tmp_path / f'{NAME}_x.tif'}"))["nir"] == tmp_path / f"{NAME}_x.tif"
