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
from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
from sitewatch.workspace import Workspace, init_workspace

SITE = tiny_site("port", half_deg=0.004)


def _planet_image(folder: Path, name: str, value: int = 1200) -> Path:
    crs, x0, y0 = site_utm_origin(SITE)
    folder.mkdir(parents=True, exist_ok=True)
    data = np.full((4, 200, 200), value, dtype=np.uint16)
    data[:, 80:90, 60:120] = 2500
    return write_tiff(folder / name, data, crs=crs, transform=Affine(3, 0, x0, 0, -3, y0), nodata=0)


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    return ws


def test_a_doves_scene_id_finds_its_metadata_json(tmp_path: Path) -> None:
    """The first Doves' scene ids have three parts (20180905_101500_1034): their item JSON
    (…_1034_metadata.json) was missed, and the time read from the name's date at 12:00."""
    image = _planet_image(tmp_path, "20180905_101500_1034_3B_AnalyticMS_SR_clip.tif")
    meta = tmp_path / "20180905_101500_1034_metadata.json"
    meta.write_text(json.dumps({"id": "20180905_101500_1034", "properties": {
        "acquired": "2018-09-05T10:15:00.123Z", "item_type": "PSScene", "provider": "planetscope"}}))  # fmt: skip
    (tmp_path / "20180905_101501_1034_metadata.json").write_text("{}")  # the next scene's: not this one's
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
        json.dumps({"properties": {"acquired": "2024-10-17T01:23:45Z", "item_type": "PSScene"}}))  # fmt: skip
    r = CliRunner().invoke(main, ["detect-image", str(udm2), "--out", str(tmp_path / "d.geojson")])
    assert r.exit_code == 1 and f"{udm2}: a Planet usable data mask (UDM2), not an image" in r.output
    assert "20241017_012345_22_2470_3B_AnalyticMS_SR_clip.tif" in r.output  # the image to give instead
