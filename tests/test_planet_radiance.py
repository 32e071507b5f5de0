"""A Planet radiance file (``…_3B_AnalyticMS_clip.tif``, no ``_SR``) becomes TOA reflectance by the
reflectance coefficients of its metadata XML in ingest, import and detect-image, and is refused without
it; SkySat ``analytic_dn`` is refused unless --dn-scale says its scale. Tiny deliveries made here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.detect.optical_image import _read, open_optical
from sitewatch.sources.planet_toa import HEADER_NOTE, TOA_NOTE
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.workspace import Workspace

SITE = tiny_site("port", half_deg=0.004)
P = 3.0
CRS, _X, _Y = site_utm_origin(SITE)
X0, Y0 = math.floor(_X / P) * P, math.ceil(_Y / P) * P  # on the site grid's 3 m lattice: no resampling
H, W = 360, 300
SCENE = "20241017_012345_22_2470"
COEFFICIENTS = (2.0e-5, 2.1e-5, 2.4e-5, 3.5e-5)
"""TOA reflectance per DN, blue, green, red, NIR: water of reflectance 0.05 is DN 2,500 in blue, which
read as reflectance × 10,000 was 0.25, five times too bright."""
WATER = np.array([0.05, 0.06, 0.04, 0.02])
LAND = np.array([0.12, 0.14, 0.16, 0.30])


def _reflectance() -> np.ndarray:
    img = np.broadcast_to(WATER[:, None, None], (4, H, W)).copy()
    img[:, :, 200:] = LAND[:, None, None]
    return img


def _xml(coefficients: tuple[float, ...] = COEFFICIENTS) -> str:
    bands = "".join(
        f"<ps:bandSpecificMetadata><ps:bandNumber>{i}</ps:bandNumber><ps:radiometricScaleFactor>0.01</ps:radiometricScaleFactor>"
        f"<ps:reflectanceCoefficient>{c!r}</ps:reflectanceCoefficient></ps:bandSpecificMetadata>"
        for i, c in enumerate(coefficients, 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ps:EarthObservation xmlns:ps="http://schemas.planet.com/ps/v1/planet_product_metadata_geocorrected_level" '
        'xmlns:eop="http://earth.esa.int/eop" xmlns:gml="http://www.opengis.net/gml">'
        "<gml:using><eop:EarthObservationEquipment><eop:platform><eop:Platform><eop:shortName>PlanetScope</eop:shortName>"
        "</eop:Platform></eop:platform><eop:acquisitionParameters><ps:Acquisition>"
        "<ps:acquisitionDateTime>2024-10-17T01:23:45+00:00</ps:acquisitionDateTime>"
        "</ps:Acquisition></eop:acquisitionParameters></eop:EarthObservationEquipment></gml:using>"
        f"<gml:resultOf><ps:EarthObservationResult>{bands}</ps:EarthObservationResult></gml:resultOf>"
        "</ps:EarthObservation>\n"
    )


def _radiance(folder: Path, *, xml: bool = True, name: str = f"{SCENE}_3B_AnalyticMS_clip.tif") -> Path:
    """A PSScene ortho_analytic_4b delivery: DN = reflectance / coefficient, as Planet's radiance × 100
    relates to TOA reflectance, and (``xml``) its ``…_AnalyticMS_metadata_clip.xml``."""
    folder.mkdir(parents=True, exist_ok=True)
    dn = np.round(_reflectance() / np.array(COEFFICIENTS)[:, None, None]).astype(np.uint16)
    image = write_tiff(folder / name, dn, crs=CRS, transform=Affine(P, 0, X0, 0, -P, Y0), nodata=0)
    if xml:
        (folder / f"{SCENE}_3B_AnalyticMS_metadata_clip.xml").write_text(_xml(), encoding="utf-8")
    return image


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return workspace_with_sites(tmp_path / "ws", SITE)


def _archived(ws: Workspace) -> tuple[dict, np.ndarray]:  # type: ignore[type-arg]
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    with rasterio.open(ws.root / obs.path) as ds:
        return obs.provenance, ds.read()


def test_ingest_turns_radiance_into_toa_reflectance_by_the_metadata_xml(tmp_path: Path, ws: Workspace) -> None:
    image = _radiance(tmp_path / "order")
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image.parent), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    prov, data = _archived(ws)
    assert prov["planet"]["reflectance"] == TOA_NOTE
    assert prov["planet"]["metadata"].endswith("_3B_AnalyticMS_metadata_clip.xml")
    assert prov["scale_applied"] == dict(zip(["blue", "green", "red", "nir"], COEFFICIENTS, strict=True))
    water = data[:4, :, :10].reshape(4, -1)
    water = water[:, np.isfinite(water).all(axis=0)]
    assert water.size and np.allclose(np.median(water, axis=1), WATER, atol=2e-4)


def test_import_reads_the_radiance_file_the_same_way(tmp_path: Path, ws: Workspace) -> None:
    image = _radiance(tmp_path / "order")
    r = CliRunner().invoke(main, ["-q", "import", str(image), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = [o for s in store.sites() for o in store.observations(s.id)]
    assert obs.provenance["planet"]["reflectance"] == TOA_NOTE


def test_ingest_refuses_radiance_without_its_metadata_xml(tmp_path: Path, ws: Workspace) -> None:
    image = _radiance(tmp_path / "order", xml=False)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image), "-w", str(ws.root)])
    assert r.exit_code == 1, r.output
    assert str(image) in r.output and "radiance" in r.output and "_SR" in r.output
    assert "_3B_AnalyticMS_metadata_clip.xml" in r.output
    with ws.store() as store:
        assert store.observations(SITE.id) == []
    assert not [p for p in (ws.root).rglob("*.tif")]  # nothing half-written


def test_a_refused_radiance_file_does_not_stop_the_others(tmp_path: Path, ws: Workspace) -> None:
    image = _radiance(tmp_path / "order", xml=False)
    dn = np.round(_reflectance() * 10_000).astype(np.uint16)
    sr = write_tiff(image.with_name("20241018_012345_22_2470_3B_AnalyticMS_SR_clip.tif"), dn, crs=CRS, transform=Affine(P, 0, X0, 0, -P, Y0), nodata=0)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image.parent), "-w", str(ws.root)])
    assert r.exit_code == 3 and str(image) in r.output, r.output
    with ws.store() as store:
        assert [o.id for o in store.observations(SITE.id)] == [f"{SITE.id}/{sr.stem}"]


def test_a_metadata_xml_of_other_bands_is_refused_by_name(tmp_path: Path, ws: Workspace) -> None:
    image = _radiance(tmp_path / "order")
    xml = image.with_name(f"{SCENE}_3B_AnalyticMS_metadata_clip.xml")
    xml.write_text(_xml(COEFFICIENTS[:3]), encoding="utf-8")
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image), "-w", str(ws.root)])
    assert r.exit_code == 1 and str(xml) in r.output and "bands [1, 2, 3]" in r.output, r.output


def test_the_sr_product_is_read_as_before(tmp_path: Path, ws: Workspace) -> None:
    folder = tmp_path / "order"
    folder.mkdir()
    dn = np.round(_reflectance() * 10_000).astype(np.uint16)
    image = write_tiff(folder / f"{SCENE}_3B_AnalyticMS_SR_clip.tif", dn, crs=CRS, transform=Affine(P, 0, X0, 0, -P, Y0), nodata=0)
    (folder / f"{SCENE}_3B_AnalyticMS_metadata_clip.xml").write_text(_xml(), encoding="utf-8")  # delivered with SR orders too: not read
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    prov, data = _archived(ws)
    assert prov["scale_applied"] == pytest.approx(1e-4) and "planet" not in prov
    assert np.allclose(np.nanmedian(data[:4, :, :10].reshape(4, -1), axis=1), WATER, atol=2e-4)
    src = open_optical(image)
    assert src.toa is None


def test_detect_image_sees_toa_reflectance(tmp_path: Path) -> None:
    image = _radiance(tmp_path / "order")
    src = open_optical(image)
    assert src.toa is not None and src.toa.coefficients == COEFFICIENTS
    bands, valid, _ = _read(src, (0, 20, 0, 20), None, 0.0)
    assert valid.all()
    for k, name in enumerate(("blue", "green", "red", "nir")):
        assert float(np.median(bands[name])) == pytest.approx(WATER[k], abs=2e-4)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(image), "--out", str(out)])
    assert r.exit_code == 0, r.output
    meta = json.loads(out.read_text(encoding="utf-8"))["sitewatch"]
    assert meta["planet"]["reflectance"] == TOA_NOTE
    assert meta["planet"]["reflectance_coefficients"] == dict(zip(["blue", "green", "red", "nir"], COEFFICIENTS, strict=True))
    assert meta["dn_scale_from"] == f"{SCENE}_3B_AnalyticMS_metadata_clip.xml" and meta["dn_scale"] is None


def test_detect_image_refuses_radiance_without_xml_unless_dn_scale(tmp_path: Path) -> None:
    image = _radiance(tmp_path / "order", xml=False)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(image), "--out", str(out)])
    assert r.exit_code != 0 and str(image) in r.output and "--dn-scale" in r.output and "_SR" in r.output, r.output
    assert not out.exists()
    r = CliRunner().invoke(main, ["detect-image", str(image), "--dn-scale", "50000", "--out", str(out)])
    assert r.exit_code == 0, r.output
    meta = json.loads(out.read_text(encoding="utf-8"))["sitewatch"]
    assert meta["dn_scale"] == 50000 and meta["dn_scale_from"] == "given" and "planet" not in meta


def test_dn_scale_overrides_the_metadata_xml(tmp_path: Path) -> None:
    image = _radiance(tmp_path / "order")
    src = open_optical(image, scale_given=True)
    bands, _, _ = _read(src, (0, 20, 0, 20), 50000.0, 0.0)
    assert float(np.median(bands["blue"])) == pytest.approx(2500 / 50000, abs=1e-4)


def test_skysat_analytic_dn_is_refused_unless_dn_scale(tmp_path: Path, ws: Workspace) -> None:
    name = "20241017_012345_ssc6d1_0001_basic_analytic_dn.tif"
    image = _radiance(tmp_path / "order", xml=False, name=name)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(image), "--out", str(out)])
    assert r.exit_code != 0 and str(image) in r.output and "digital numbers" in r.output and "--dn-scale" in r.output, r.output
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image), "-w", str(ws.root)])
    assert r.exit_code == 1 and str(image) in r.output and "analytic_sr" in r.output, r.output
    r = CliRunner().invoke(main, ["detect-image", str(image), "--dn-scale", "50000", "--out", str(out)])
    assert r.exit_code == 0, r.output


SKYSAT = "20241017_012345_ssc6d1_0001"


def _skysat(folder: Path, product: str = "ortho_analytic", header: object = None) -> Path:
    """A SkySat radiance delivery: DN = reflectance / coefficient, and (``header``) the ImageDescription
    JSON Planet writes its reflectance coefficients into."""
    folder.mkdir(parents=True, exist_ok=True)
    dn = np.round(_reflectance() / np.array(COEFFICIENTS)[:, None, None]).astype(np.uint16)
    tags = None if header is None else {"TIFFTAG_IMAGEDESCRIPTION": json.dumps(header)}
    return write_tiff(folder / f"{SKYSAT}_{product}.tif", dn, crs=CRS, transform=Affine(P, 0, X0, 0, -P, Y0), nodata=0, tags=tags)


HEADER = {"properties": {"reflectance_coefficients": list(COEFFICIENTS)}}


@pytest.mark.parametrize("product", ["ortho_analytic", "basic_analytic", "analytic"])
def test_skysat_radiance_becomes_toa_reflectance_by_its_header(tmp_path: Path, ws: Workspace, product: str) -> None:
    image = _skysat(tmp_path / "order", product, HEADER)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    prov, data = _archived(ws)
    assert prov["planet"]["reflectance"] == HEADER_NOTE and prov["planet"]["metadata"] == str(image.resolve())
    assert prov["scale_applied"] == dict(zip(["blue", "green", "red", "nir"], COEFFICIENTS, strict=True))
    water = data[:4, :, :10].reshape(4, -1)
    water = water[:, np.isfinite(water).all(axis=0)]
    assert water.size and np.allclose(np.median(water, axis=1), WATER, atol=2e-4)


def test_skysat_radiance_import_and_detect_image_read_the_header(tmp_path: Path, ws: Workspace) -> None:
    image = _skysat(tmp_path / "order", header=HEADER)
    r = CliRunner().invoke(main, ["-q", "import", str(image), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = [o for s in store.sites() for o in store.observations(s.id)]
    assert obs.provenance["planet"]["reflectance"] == HEADER_NOTE
    src = open_optical(image)
    assert src.toa is not None and src.toa.coefficients == COEFFICIENTS
    bands, _, _ = _read(src, (0, 20, 0, 20), None, 0.0)
    assert float(np.median(bands["blue"])) == pytest.approx(WATER[0], abs=2e-4)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(image), "--out", str(out)])
    assert r.exit_code == 0, r.output
    meta = json.loads(out.read_text(encoding="utf-8"))["sitewatch"]
    assert meta["planet"]["reflectance"] == HEADER_NOTE and meta["dn_scale_from"] == image.name and meta["dn_scale"] is None


def test_skysat_radiance_without_header_coefficients_is_refused_unless_dn_scale(tmp_path: Path, ws: Workspace) -> None:
    image = _skysat(tmp_path / "order", header={"properties": {"product": "ortho_analytic"}})
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image), "-w", str(ws.root)])
    assert r.exit_code == 1 and str(image) in r.output and "analytic_sr" in r.output and "radiance" in r.output, r.output
    r = CliRunner().invoke(main, ["-q", "import", str(image), "-w", str(ws.root)])
    assert r.exit_code != 0 and "analytic_sr" in r.output, r.output
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", str(image), "--out", str(out)])
    assert r.exit_code != 0 and str(image) in r.output and "--dn-scale" in r.output, r.output
    assert not out.exists()
    r = CliRunner().invoke(main, ["detect-image", str(image), "--dn-scale", "50000", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["dn_scale_from"] == "given"


def test_skysat_header_coefficients_of_other_bands_are_refused(tmp_path: Path, ws: Workspace) -> None:
    image = _skysat(tmp_path / "order", header={"properties": {"reflectance_coefficients": list(COEFFICIENTS[:3])}})
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image), "-w", str(ws.root)])
    assert r.exit_code == 1 and str(image) in r.output and "reflectance_coefficients" in r.output, r.output


def test_skysat_analytic_sr_is_read_as_before(tmp_path: Path, ws: Workspace) -> None:
    folder = tmp_path / "order"
    folder.mkdir()
    dn = np.round(_reflectance() * 10_000).astype(np.uint16)
    header = {"atmospheric_correction": {"aot_method": "fixed"}, "properties": {"reflectance_coefficients": list(COEFFICIENTS)}}
    image = write_tiff(folder / f"{SKYSAT}_ortho_analytic_sr.tif", dn, crs=CRS, transform=Affine(P, 0, X0, 0, -P, Y0), nodata=0,
                       tags={"TIFFTAG_IMAGEDESCRIPTION": json.dumps(header)})  # fmt: skip
    assert open_optical(image).toa is None
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    prov, data = _archived(ws)
    assert prov["scale_applied"] == pytest.approx(1e-4) and "planet" not in prov
    assert np.allclose(np.nanmedian(data[:4, :, :10].reshape(4, -1), axis=1), WATER, atol=2e-4)
