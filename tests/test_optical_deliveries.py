"""Real deliveries' quirks: Planet orders of the first Doves, the original UDM beside a scene,
Landsat products as USGS ships them, and providers' names as users meet them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.ingest import metadata_sidecars, read_scene_ref
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.workspace import Workspace

SITE = tiny_site("port", half_deg=0.004)


def _planet_image(folder: Path, name: str, value: int = 1200) -> Path:
    crs, x0, y0 = site_utm_origin(SITE)
    folder.mkdir(parents=True, exist_ok=True)
    data = np.full((4, 200, 200), value, dtype=np.uint16)
    data[:, 80:90, 60:120] = 2500
    return write_tiff(folder / name, data, crs=crs, transform=Affine(3, 0, x0, 0, -3, y0), nodata=0)


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return workspace_with_sites(tmp_path / "ws", SITE)


def test_a_doves_scene_id_finds_its_metadata_json(tmp_path: Path) -> None:
    """The first Doves' scene ids have three parts (20180905_101500_1034): their item JSON
    (…_1034_metadata.json) was missed, and the time read from the name's date at 12:00."""
    image = _planet_image(tmp_path, "20180905_101500_1034_3B_AnalyticMS_SR_clip.tif")
    meta = tmp_path / "20180905_101500_1034_metadata.json"
    meta.write_text(json.dumps({"id": "20180905_101500_1034", "properties": {
        "acquired": "2018-09-05T10:15:00.123Z", "item_type": "PSScene", "provider": "planetscope"}}), encoding="utf-8")  # fmt: skip
    (tmp_path / "20180905_101501_1034_metadata.json").write_text("{}", encoding="utf-8")  # the next scene's: not this one's
    assert metadata_sidecars(image) == [meta]
    scene, bands = read_scene_ref(image)
    assert scene.acquired.isoformat() == "2018-09-05T10:15:00.123000+00:00"
    assert scene.platform == "planetscope" and bands == ["blue", "green", "red", "nir"]


def _mask(folder: Path, name: str, count: int) -> Path:
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.zeros((count, 200, 200), np.uint8)
    data[0] = 1  # UDM2: clear everywhere (UDM: band 1, bit 0 blackfill, set in a corner below)
    if count == 1:
        data[0] = 0
        data[0, :10, :10] = 1
    return write_tiff(folder / name, data, crs=crs, transform=Affine(3, 0, x0, 0, -3, y0))


def test_the_original_udm_beside_a_scene_is_a_mask_not_an_image(tmp_path: Path, ws: Workspace) -> None:
    """An older order delivers the original UDM (…_3B_AnalyticMS_DN_udm_clip.tif, one band of bit flags)
    beside the scene: ingest of the folder refused it as 'a PlanetScope AnalyticMS file' of one band
    (exit 3 for every such order), and detect-image took it for an image."""
    order = tmp_path / "order"
    image = _planet_image(order, "20170623_180038_0f34_3B_AnalyticMS_SR_clip.tif")
    udm = _mask(order, "20170623_180038_0f34_3B_AnalyticMS_DN_udm_clip.tif", 1)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(order), "--acquired", "2017-06-23T18:00:38", "-w", str(ws.root)])
    assert r.exit_code == 0, r.output  # the UDM went with its image, unread
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.provenance["source_path"] == str(image.resolve()) and obs.provenance["bands"] == ["blue", "green", "red", "nir"]
    # Alone, it is named as what it is, by ingest, import and detect-image.
    r = CliRunner().invoke(main, ["-q", "import", str(udm), "-w", str(ws.root)])
    assert r.exit_code == 1 and f"{udm}: a Planet usable data mask of the original kind (UDM), not an image" in r.output
    r = CliRunner().invoke(main, ["detect-image", str(udm), "--out", str(tmp_path / "d.geojson")])
    assert r.exit_code == 1 and f"{udm}: a Planet usable data mask of the original kind (UDM), not an image" in r.output
    assert not (tmp_path / "d.geojson").exists()


def test_detect_image_names_a_udm2_given_as_the_image(tmp_path: Path) -> None:
    """A UDM2 given as IMAGE was read as an 8-band PlanetScope image (its snow band as blue)."""
    _planet_image(tmp_path, "20241017_012345_22_2470_3B_AnalyticMS_SR_clip.tif")
    udm2 = _mask(tmp_path, "20241017_012345_22_2470_3B_udm2_clip.tif", 8)
    (tmp_path / "20241017_012345_22_2470_metadata.json").write_text(
        json.dumps({"properties": {"acquired": "2024-10-17T01:23:45Z", "item_type": "PSScene"}}), encoding="utf-8")  # fmt: skip
    r = CliRunner().invoke(main, ["detect-image", str(udm2), "--out", str(tmp_path / "d.geojson")])
    assert r.exit_code == 1 and f"{udm2}: a Planet usable data mask (UDM2), not an image" in r.output
    assert "20241017_012345_22_2470_3B_AnalyticMS_SR_clip.tif" in r.output  # the image to give instead


# -- Landsat Collection 2 Level-2 products ------------------------------------------------------


def _landsat(folder: Path, *, metadata: str | None = "_MTL.txt") -> tuple[Path, str]:
    """A Landsat 9 product unpacked into ``folder``, its metadata as ``metadata`` says (None: none)."""
    from test_landsat_l2 import MTL, NAME, _product

    mtl = _product(folder)
    if metadata is None:
        mtl.unlink()
    elif metadata == "_MTL.xml":
        mtl.unlink()
        (folder / f"{NAME}_MTL.xml").write_text(
            "<LANDSAT_METADATA_FILE><IMAGE_ATTRIBUTES><DATE_ACQUIRED>2024-10-17</DATE_ACQUIRED>"
            "<SCENE_CENTER_TIME>01:47:33.2481230Z</SCENE_CENTER_TIME></IMAGE_ATTRIBUTES>"
            "<LEVEL2_SURFACE_REFLECTANCE_PARAMETERS>"
            + "".join(f"<REFLECTANCE_MULT_BAND_{n}>2.75E-05</REFLECTANCE_MULT_BAND_{n}><REFLECTANCE_ADD_BAND_{n}>-0.200000"
                      f"</REFLECTANCE_ADD_BAND_{n}>" for n in range(1, 8))  # fmt: skip
            + "</LEVEL2_SURFACE_REFLECTANCE_PARAMETERS></LANDSAT_METADATA_FILE>"
        , encoding="utf-8")
    elif metadata == "_MTL.json":
        mtl.unlink()
        (folder / f"{NAME}_MTL.json").write_text(json.dumps({"LANDSAT_METADATA_FILE": {
            "IMAGE_ATTRIBUTES": {"DATE_ACQUIRED": "2024-10-17", "SCENE_CENTER_TIME": "01:47:33.2481230Z"},
            "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS": {
                k: v for n in range(1, 8) for k, v in ((f"REFLECTANCE_MULT_BAND_{n}", "2.75E-05"), (f"REFLECTANCE_ADD_BAND_{n}", "-0.200000"))
            },
        }}), encoding="utf-8")  # fmt: skip
    elif metadata == "both":
        (folder / f"{NAME}_MTL.xml").write_text(MTL.replace("LANDSAT_9", "not read"), encoding="utf-8")
    return folder, NAME


@pytest.fixture()
def landsat_ws(tmp_path: Path) -> Workspace:
    from test_landsat_l2 import SITE as LANDSAT_SITE

    return workspace_with_sites(tmp_path / "lws", LANDSAT_SITE)


@pytest.mark.parametrize("metadata", ["_MTL.xml", "_MTL.json", "both"])
def test_a_landsat_product_with_its_mtl_xml_goes_in_as_one_product(tmp_path: Path, landsat_ws: Workspace, metadata: str) -> None:
    """A product whose metadata came as …_MTL.xml (downloaded file by file) went in as one 'SAR or optical?'
    refusal a band file, and detect-image called its folder 'a folder, not an image'; with both MTLs it is one product."""
    folder, name = _landsat(tmp_path / "product", metadata=metadata)
    r = CliRunner().invoke(main, ["-q", "ingest", "tiny", str(folder), "-w", str(landsat_ws.root)])
    assert r.exit_code == 0, r.output
    with landsat_ws.store() as store:
        (obs,) = store.observations("tiny")
    assert obs.id == f"tiny/{name}" and obs.provenance["bands"] == ["blue", "green", "red", "nir", "SCL"]
    assert obs.scene.acquired.isoformat() == "2024-10-17T01:47:33+00:00"
    assert obs.provenance["landsat"]["metadata"].endswith("_MTL.txt" if metadata == "both" else metadata)
    r = CliRunner().invoke(main, ["detect-image", str(folder), "--out", str(tmp_path / "d.geojson"), "--json"])
    assert r.exit_code == 0, r.output
    said = json.loads(r.output.splitlines()[-1])
    assert said["cloud_mask"]["from"] == "qa_pixel" and said["dn_scale"] == pytest.approx(1 / 2.75e-5)


def test_landsat_band_files_without_their_mtl_are_not_read_as_dn_over_10000(tmp_path: Path, landsat_ws: Workspace) -> None:
    """Without any MTL beside them, a Level-2 product's band files given with --band were read as DN / 10,000
    (water at reflectance 0.75): their names say what they are, and they are refused unless scaled."""
    folder, name = _landsat(tmp_path / "bands", metadata=None)
    given = [a for b, n in (("blue", 2), ("green", 3), ("red", 4), ("nir", 5)) for a in ("--band", f"{b}={folder / f'{name}_SR_B{n}.TIF'}")]
    r = CliRunner().invoke(main, ["ingest", "tiny", *given, "-w", str(landsat_ws.root)])
    assert r.exit_code != 0 and f"a file of the Landsat Collection 2 Level-2 product {name}" in r.output
    assert "_MTL.txt" in r.output
    r = CliRunner().invoke(main, ["detect-image", *given, "--out", str(tmp_path / "d.geojson")])
    assert r.exit_code == 1 and f"a file of the Landsat Collection 2 Level-2 product {name}" in r.output
    r = CliRunner().invoke(main, ["detect-image", *given, "--dn-scale", "36363.64", "--dn-offset", "-7272.73", "--out", str(tmp_path / "d.geojson")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["-q", "ingest", "tiny", str(folder), "-w", str(landsat_ws.root)])
    assert r.exit_code == 1 and "SAR or optical" not in r.output and f"{name}_SR_B2.TIF: a file of the Landsat" in r.output
    assert f"{name}_QA_PIXEL.TIF: a file of the Landsat" in r.output
    with landsat_ws.store() as store:
        assert store.observations("tiny") == []


@pytest.mark.parametrize("where", ["file", "folder"])
def test_a_landsat_tar_is_named_as_a_packed_product(tmp_path: Path, landsat_ws: Workspace, where: str) -> None:
    """USGS delivers a product as LC09_L2SP_….tar: ingest called it 'not a readable raster (… not recognized
    as being in a supported file format)', and a folder holding it had 'no GeoTIFF files'."""
    import tarfile

    folder, name = _landsat(tmp_path / "unpacked")
    dl = tmp_path / "downloads"
    dl.mkdir()
    with tarfile.open(dl / f"{name}.tar", "w") as tar:
        for f in sorted(folder.iterdir()):
            tar.add(f, arcname=f.name)
    given = dl / f"{name}.tar" if where == "file" else dl
    r = CliRunner().invoke(main, ["-q", "ingest", "tiny", str(given), "-w", str(landsat_ws.root)])
    assert r.exit_code == 1 and f"{dl / name}.tar: a Landsat product packed as USGS delivers it" in r.output
    assert "tar xf" in r.output
    r = CliRunner().invoke(main, ["detect-image", str(dl / f"{name}.tar"), "--out", str(tmp_path / "d.geojson")])
    assert r.exit_code == 1 and "a Landsat product packed as USGS delivers it" in r.output
    # Unpacked beside the tar (as tar xf does), the product goes in and the tar is not named.
    for f in folder.iterdir():
        (dl / f.name).write_bytes(f.read_bytes())
    r = CliRunner().invoke(main, ["-q", "ingest", "tiny", str(dl), "-w", str(landsat_ws.root)])
    assert r.exit_code == 0, r.output


# -- providers' names ---------------------------------------------------------------------------

WORLDVIEW_IMD = "".join(f"BEGIN_GROUP = BAND_{b}\nEND_GROUP = BAND_{b}\n" for b in ("C", "B", "G", "Y", "R", "RE", "N", "N2")) + (
    'BEGIN_GROUP = IMAGE_1\n\tsatId = "WV02";\n\tfirstLineTime = 2024-11-02T02:11:07.512345Z;\nEND_GROUP = IMAGE_1\nEND;\n'
)


def _maxar(path: Path, count: int) -> Path:
    crs, x0, y0 = site_utm_origin(SITE)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.stack([np.full((100, 100), 500 + 100 * i, np.uint16) for i in range(count)])
    return write_tiff(path, data, crs=crs, transform=Affine(2, 0, x0, 0, -2, y0))


def test_a_lower_case_maxar_name_is_known_as_maxar(tmp_path: Path) -> None:
    """Maxar's product code in a lower-case name (…-m2as-…, as some portals and copies name files) was not
    read: an 8-band WorldView file went in by count, its coastal band as blue and yellow as NIR."""
    from sitewatch.errors import InputError

    image = _maxar(tmp_path / "24nov02021107-m2as-012345678010_01_p001.tif", 8)
    with pytest.raises(InputError, match=r"Maxar M2AS file.*no \.IMD lies beside it"):
        read_scene_ref(image, acquired=None)
    (tmp_path / "24nov02021107-m2as-012345678010_01_p001.imd").write_text(WORLDVIEW_IMD, encoding="utf-8")
    scene, bands = read_scene_ref(image)
    assert bands == ["coastal", "blue", "green", "yellow", "red", "rededge", "nir", "nir2"]
    assert scene.platform == "worldview-2" and scene.acquired.isoformat().startswith("2024-11-02T02:11:07")


def test_a_maxar_file_whose_imd_lists_other_bands_is_refused(tmp_path: Path) -> None:
    """A 4-band file beside an .IMD listing 8 bands went in as blue, green, red, NIR 'bands from' that .IMD."""
    from sitewatch.errors import InputError

    image = _maxar(tmp_path / "24NOV02021107-M2AS-012345678010_01_P001.TIF", 4)
    (tmp_path / "24NOV02021107-M2AS-012345678010_01_P001.IMD").write_text(WORLDVIEW_IMD, encoding="utf-8")
    with pytest.raises(InputError, match=r"its metadata lists 8 bands and the file has 4"):
        read_scene_ref(image)


def test_maxar_tiles_find_their_products_imd(tmp_path: Path, ws: Workspace) -> None:
    """A tiled delivery (….TIL, tiles …-M2AS_R1C1-….TIF) has one .IMD for its tiles: each tile was refused
    as having no .IMD beside it (8 bands) or no acquisition time (4 bands)."""
    tiles = [_maxar(tmp_path / "order" / f"24NOV02021107-M2AS_R1C{c}-012345678010_01_P001.TIF", 8) for c in (1, 2)]
    imd = tmp_path / "order" / "24NOV02021107-M2AS-012345678010_01_P001.IMD"
    imd.write_text(WORLDVIEW_IMD, encoding="utf-8")
    (tmp_path / "order" / "24NOV02021107-M2AS-012345678010_01_P001.TIL").write_text("numTiles = 2;\n", encoding="utf-8")
    assert metadata_sidecars(tiles[0]) == [imd]
    scene, bands = read_scene_ref(tiles[1])
    assert bands[6] == "nir" and scene.platform == "worldview-2" and scene.acquired.isoformat().startswith("2024-11-02T02:11:07")
    assert scene.properties["bands_from"].endswith(f"bands from {imd.name}")


@pytest.mark.parametrize(
    ("name", "when"),
    [
        ("20241017_012345_22_2470_3B_AnalyticMS_SR_clip.tif", "2024-10-17T01:23:45+00:00"),
        ("20180905_101500_1034_3B_AnalyticMS_SR.tif", "2018-09-05T10:15:00+00:00"),
        ("20230415_083012_ssc6_u0001_analytic_SR_clip.tif", "2023-04-15T08:30:12+00:00"),
        ("harbour_20241017_0001.tif", "2024-10-17T12:00:00+00:00"),  # not Planet's naming: a counter, not a time
    ],
)
def test_a_planet_name_alone_gives_its_time(tmp_path: Path, name: str, when: str) -> None:
    """A Planet or SkySat file without its metadata (copied alone) was placed at 12:00 UTC of its date,
    though its name holds the time of the pass (20241017_012345_…): hours off, a day off at some sites."""
    scene, _ = read_scene_ref(_planet_image(tmp_path, name))
    assert scene.acquired.isoformat() == when


@pytest.mark.parametrize("rgba", [True, False], ids=["alpha-colour", "by-name"])
def test_detect_image_reads_a_visual_files_alpha_band_as_its_mask(tmp_path: Path, rgba: bool) -> None:
    """A Planet Visual file is red, green, blue and alpha, 0 where nothing was imaged: detect-image read
    the transparent part as ground (valid fraction 1.0: black water), as ingest does not."""
    import rasterio

    crs, x0, y0 = site_utm_origin(SITE)
    data = np.zeros((4, 200, 200), np.uint8)
    data[:3] = np.array([20, 30, 40], np.uint8)[:, None, None]
    data[3] = 255
    data[:, :, :50] = 0  # not imaged: black and transparent, as Planet delivers it
    path = tmp_path / "20241017_012345_22_2470_3B_Visual_clip.tif"
    profile = {"driver": "GTiff", "width": 200, "height": 200, "count": 4, "dtype": "uint8", "crs": crs,
               "transform": Affine(3, 0, x0, 0, -3, y0)}  # fmt: skip
    with rasterio.open(path, "w", **profile, **({"photometric": "RGB", "alpha": "YES"} if rgba else {})) as dst:
        dst.write(data)
    r = CliRunner().invoke(main, ["detect-image", str(path), "--out", str(tmp_path / "d.geojson"), "--json"])
    assert r.exit_code == 0, r.output
    said = json.loads(r.output.splitlines()[-1])
    assert said["valid_fraction"] == pytest.approx(0.75, abs=0.01) and said["cloud_fraction"] == pytest.approx(0.0, abs=0.01)


def test_a_udm2_in_another_folder_than_its_image_says_where_it_must_be(tmp_path: Path, ws: Workspace) -> None:
    """The image and its UDM2 given from two folders: the UDM2 was refused as 'read with its scene's image
    (…_AnalyticMS_SR_clip.tif beside it): give that', though that image had been given, and went in unmasked."""
    image = _planet_image(tmp_path / "images", "20241017_012345_22_2470_3B_AnalyticMS_SR_clip.tif")
    (tmp_path / "masks").mkdir()
    udm2 = _mask(tmp_path / "masks", "20241017_012345_22_2470_3B_udm2_clip.tif", 8)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image.parent), str(udm2), "--acquired", "2024-10-17T01:23:45", "-w", str(ws.root)])
    assert r.exit_code == 3
    assert f"{udm2}: a Planet usable data mask (UDM2) of {image}, which went in without it" in r.output
    assert f"move it beside {image.name}" in r.output


def test_two_scenes_with_alike_udm2s_are_not_called_duplicates(tmp_path: Path, ws: Workspace) -> None:
    """Two scenes of a clipped order whose UDM2s are byte for byte alike (all clear, one grid): the second
    UDM2 was reported 'the same image as' the first, 'ingested once', though each scene is read with its own."""
    order = tmp_path / "order"
    for scene, value in (("20241017_012345_22_2470", 1200), ("20241018_012345_22_2470", 1300)):
        _planet_image(order, f"{scene}_3B_AnalyticMS_SR_clip.tif", value)
        _mask(order, f"{scene}_3B_udm2_clip.tif", 8)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(order), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    assert "duplicate" not in r.output
    with ws.store() as store:
        masks = sorted(Path(o.provenance["cloud_mask"]["path"]).name for o in store.observations(SITE.id))
    assert masks == ["20241017_012345_22_2470_3B_udm2_clip.tif", "20241018_012345_22_2470_3B_udm2_clip.tif"]


def test_a_landsat_level1_product_is_named_as_level1(tmp_path: Path, landsat_ws: Workspace) -> None:
    """A Collection 2 Level-1 product (LC09_L1TP_…: top-of-atmosphere DN, no surface reflectance) went in as
    one 'SAR or optical?' refusal a band file (its identical bands 'duplicates'), and detect-image called its
    folder 'a folder, not an image' and its MTL 'not recognized as being in a supported file format'."""
    from test_landsat_l2 import MTL, NAME

    folder, name = _landsat(tmp_path / "l2")
    l1 = NAME.replace("_L2SP_", "_L1TP_")
    product = tmp_path / "downloads" / l1
    product.mkdir(parents=True)
    for f in folder.iterdir():
        (product / f.name.replace("_SR_B", "_B").replace(NAME, l1)).write_bytes(f.read_bytes())
    (product / f"{l1}_MTL.txt").write_text(MTL.replace(NAME, l1), encoding="utf-8")
    said = f"a Landsat Collection 2 Level-1 product ({l1}): top-of-atmosphere values"
    r = CliRunner().invoke(main, ["-q", "ingest", "tiny", str(product.parent), "-w", str(landsat_ws.root)])
    assert r.exit_code == 1 and r.output.count(said) == 1 and "SAR or optical" not in r.output, r.output
    for given in (product, product / f"{l1}_MTL.txt", product / f"{l1}_B4.TIF"):
        r = CliRunner().invoke(main, ["detect-image", str(given), "--out", str(tmp_path / "d.geojson")])
        assert r.exit_code == 1 and said in r.output, r.output


def test_a_skysat_collects_udm2_is_its_cloud_mask(tmp_path: Path, ws: Workspace) -> None:
    """A SkySat collect's UDM2 (…_ssc6_u0001_pansharpened_udm2_clip.tif) was not paired with its image (only
    PlanetScope scene ids were): the image went in unmasked and the mask was refused as 'not an image; … give that'."""
    order = tmp_path / "order"
    image = _planet_image(order, "20230415_083012_ssc6_u0001_pansharpened_clip.tif")
    _planet_image(order, "20230415_083012_ssc6_u0002_pansharpened_clip.tif", 1300)  # the next frame, no mask
    udm2 = _mask(order, "20230415_083012_ssc6_u0001_pansharpened_udm2_clip.tif", 8)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(order), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        found = {Path(o.provenance["source_path"]).name: o.provenance.get("cloud_mask", {}).get("path") for o in store.observations(SITE.id)}
    assert found == {image.name: str(udm2.resolve()), "20230415_083012_ssc6_u0002_pansharpened_clip.tif": None}


def test_ingest_reads_a_visual_files_alpha_band_by_its_layout_as_its_mask(tmp_path: Path, ws: Workspace) -> None:
    """A Visual file whose fourth band is alpha by Planet's layout, without GDAL's alpha interpretation: ingest
    archived its transparent part as data (GDAL's mask knows no alpha there), white fill and all."""
    import rasterio

    crs, x0, y0 = site_utm_origin(SITE, margin_m=0.0)
    data = np.zeros((4, 200, 200), np.uint8)
    data[:3] = np.array([20, 30, 40], np.uint8)[:, None, None]
    data[3] = 255
    data[:3, :, 60:120], data[3, :, 60:120] = 255, 0  # transparent, white
    path = tmp_path / "20241017_012345_22_2470_3B_Visual_clip.tif"
    with rasterio.open(path, "w", driver="GTiff", width=200, height=200, count=4, dtype="uint8", crs=crs,
                       transform=Affine(3, 0, x0, 0, -3, y0), photometric="MINISBLACK") as dst:  # fmt: skip
        dst.write(data)
    with rasterio.open(path) as src:
        assert "alpha" not in [c.name for c in src.colorinterp]
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(path), "--acquired", "2024-10-17T01:23:45", "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    with rasterio.open(ws.root / obs.path) as cog:
        red = cog.read(1)
    t = obs.grid.affine
    col = ((np.arange(obs.grid.width) + 0.5) * t.a + t.c - x0) / 3  # the file's column at each archive column
    row = (y0 - ((np.arange(obs.grid.height) + 0.5) * t.e + t.f)) / 3
    seen = red[(row > 2) & (row < 198)]
    assert np.isnan(seen[:, (col > 62) & (col < 118)]).all()
    assert np.isfinite(seen[:, (col > 2) & (col < 58)]).all()


def test_a_renamed_scene_and_its_renamed_udm2_go_together(tmp_path: Path, ws: Workspace) -> None:
    """A user's renaming (dunai_2024-10-17.tif, dunai_2024-10-17_udm2.tif): the mask was refused as not an
    image and the scene went in unmasked, since only Planet's scene ids paired them."""
    image = _planet_image(tmp_path / "renamed", "dunai_2024-10-17.tif")
    udm2 = _mask(tmp_path / "renamed", "dunai_2024-10-17_udm2.tif", 8)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image.parent), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.provenance["cloud_mask"]["path"] == str(udm2.resolve()) and obs.provenance["bands"][-1] == "SCL"
