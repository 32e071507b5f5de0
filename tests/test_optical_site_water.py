"""`sitewatch detect` with a site's water polygon searches all the water near it, however narrow."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from affine import Affine
from shapely.geometry import box

from sitewatch.detect import optical_image
from sitewatch.detection_optical import detect_optical_observation
from sitewatch.geo import reproject_geometry
from sitewatch.ingest import ingest_file
from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
from sitewatch.workspace import init_workspace

SITE = tiny_site()
CRS, X0, Y0 = site_utm_origin(SITE)


@pytest.mark.parametrize("with_water", [True, False])
def test_the_water_body_rule_is_off_where_the_site_says_where_the_water_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_water: bool
) -> None:
    # A river port 150 m wide: narrower than a body of water (water_body_m), which keeps detect-image off a
    # town's dark roofs; with the site's polygon saying where the water is, the river is searched.
    river = reproject_geometry(box(X0 + 1000.0, Y0 - 2600.0, X0 + 1150.0, Y0), CRS, "EPSG:4326")
    site = replace(SITE, water=river if with_water else None)
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
    data = np.empty((4, 260, 220), np.float32)
    data[:] = np.array([0.150, 0.160, 0.170, 0.210])[:, None, None]  # land
    data[:, :, 100:115] = np.array([0.045, 0.040, 0.022, 0.012])[:, None, None]  # the river
    tif = write_tiff(tmp_path / "scene.tif", data, crs=CRS, transform=Affine(10, 0, X0, 0, -10, Y0),
                     descriptions=["blue", "green", "red", "nir"],
                     tags={"SITEWATCH_ACQUIRED": "2024-10-18T02:00:00Z", "SITEWATCH_SENSOR": "optical"})  # fmt: skip
    with ws.store() as store:
        ingest_file(ws, store, site, tif)
        (obs,) = store.observations(site.id)
    seen: list[Any] = []
    real = optical_image.detect_optical_tiled

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["params"])
        return real(*args, **kwargs)

    monkeypatch.setattr(optical_image, "detect_optical_tiled", spy)
    detect_optical_observation(site, obs, str(Path(ws.root).resolve() / obs.path), limits={}, mode="auto")
    (params,) = seen
    assert params.water_body_m == (0.0 if with_water else 450.0)
