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
