"""An 8-bit display rendering ingested into a site is judged the same by detect-image on its archived COG."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import rasterio
from click.testing import CliRunner
from pyproj import Transformer
from rasterio.transform import from_origin

from sitewatch.cli import main
from sitewatch.detect.optical_image import detect_optical_image


def _rendering(path: Path) -> None:
    """A 3 m 8-bit RGB rendering of a grey-green bay (as PlanetScope Visual products show harbour water)."""
    rng = np.random.default_rng(0)
    rgb = np.stack([np.full((400, 400), v, np.float64) for v in (62, 76, 66)]) + rng.normal(0, 1.5, (3, 400, 400))
    x0, y0 = Transformer.from_crs(4326, 32610, always_xy=True).transform(-122.40, 37.81)
    with rasterio.open(
        path, "w", driver="GTiff", width=400, height=400, count=3, dtype="uint8", crs="EPSG:32610",
        transform=from_origin(x0, y0, 3.0, 3.0),
    ) as dst:  # fmt: skip
        dst.write(np.clip(rgb, 0, 255).astype(np.uint8))
        dst.descriptions = ("red", "green", "blue")


def test_detect_image_on_the_archived_cog_keeps_the_rendering_cloud_rule(tmp_path: Path) -> None:
    scene = tmp_path / "20241017_183000_00_2470_3B_Visual.tif"
    _rendering(scene)
    ws = tmp_path / "ws"
    run = CliRunner()
    assert run.invoke(main, ["init", str(ws)]).exit_code == 0
    r = run.invoke(main, ["sites", "add", "bay", "--bbox=-122.399,37.802,-122.389,37.808", "-w", str(ws)])
    assert r.exit_code == 0, r.output
    r = run.invoke(main, ["ingest", "bay", str(scene), "-w", str(ws)])
    assert r.exit_code == 0, r.output
    (cog,) = glob.glob(str(ws / "archive" / "bay" / "*.tif"))
    with rasterio.open(cog) as ds:
        assert float(ds.tags()["SITEWATCH_SCALE_APPLIED"]) == 1 / 255
    # The sea of a rendering sits near reflectance's cloud level: read as reflectance (no tag), the
    # spectral test took most of this bay for cloud, and detect-image saw nothing the pipeline saw.
    result = detect_optical_image(cog)
    assert result.cloud_fraction is not None and result.cloud_fraction < 0.05, result.cloud_fraction
