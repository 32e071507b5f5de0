"""What the dashboard's quick-look of a large archived COG costs: first request, second request,
against reading the whole raster, all in the same run.

A SIZE × SIZE single-band float32 COG (SAR-like: dark water, bright land and ships, deflate,
overviews down to under 512 px) is recorded as one observation of a workspace; then, through the
app in-process (FastAPI's TestClient):

- baseline: reading the full raster (band 1, every pixel) with rasterio, as a renderer without
  overviews would have to (the file is then in the OS's page cache for every figure after it);
- the read alone: the image at 1024 px through ``out_shape`` (GDAL takes the overviews),
  stretched for display;
- the first request for ``/observations/ID/quicklook.png`` (that read, then drawn with its
  SIMULATED label and encoded as PNG);
- the second request for it (the in-memory cache).

    python benchmarks/web_quicklook.py [--size 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.shutil import copy as rio_copy

from sitewatch.model import Grid, Observation, SceneRef
from sitewatch.report.charts import display_values
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites
from sitewatch.web import create_app
from sitewatch.web.quicklook import quicklook_shape

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note that its TestClient will move to httpx2
    from fastapi.testclient import TestClient


def _write_cog(path: Path, size: int, crs: str, transform: Affine) -> None:
    """A SAR-like image written in strips of rows (never whole in memory), then copied to a COG."""
    tmp = path.with_suffix(".strips.tif")
    rng = np.random.default_rng(0)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "float32", "crs": crs,
               "transform": transform, "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate"}  # fmt: skip
    with rasterio.open(tmp, "w", **profile) as dst:
        step = 1000
        cols = np.arange(size)
        for r0 in range(0, size, step):
            rows = np.arange(r0, min(r0 + step, size))[:, None]
            land = (rows < size * 0.4 + 0.05 * size * np.sin(cols / size * 12)).astype("float32")
            # Quantised speckle: compresses like a real archive's COG rather than like pure noise.
            speckle = np.round(rng.exponential(1.0, (len(rows), size)), 1).astype("float32")
            block = (0.01 + 0.2 * land) * speckle
            ships = (rows % 900 < 12) & (cols % 700 < 90) & ~land.astype(bool)
            block[ships] = 1.0
            dst.write(block, 1, window=((r0, r0 + len(rows)), (0, size)))
        factors = [2**k for k in range(1, 12) if size / 2**k >= 256]
        dst.build_overviews(factors, Resampling.average)
    rio_copy(tmp, path, driver="COG", compress="deflate", overviews="FORCE_USE_EXISTING")
    tmp.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10_000, help="side of the COG in pixels")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        site = tiny_site("bench")
        ws = workspace_with_sites(Path(tmp) / "ws", site)
        crs, x0, y0 = site_utm_origin(site)
        res = 1.0
        transform = Affine(res, 0, x0, 0, -res, y0)
        rel = "archive/bench/big.tif"
        path = ws.root / rel
        path.parent.mkdir(parents=True)
        t = time.perf_counter()
        _write_cog(path, args.size, crs, transform)
        made = time.perf_counter() - t
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        scene = SceneRef(provider="bench", collection="bench", item_id="big", sensor="sar",
                         acquired=datetime(2024, 10, 17, 9, 30, tzinfo=UTC), resolution_m=res, simulated=True)  # fmt: skip
        obs = Observation(id="bench/big", site_id="bench", scene=scene, grid=Grid(crs, tuple(transform)[:6], args.size, args.size),  # type: ignore[arg-type]
                          path=rel, sha256=sha, valid_fraction=1.0)  # fmt: skip
        with ws.store() as st:
            st.put_observation(obs)
        client = TestClient(create_app(ws.root))

        t = time.perf_counter()
        with rasterio.open(path) as src:
            full = src.read(1)
        baseline = time.perf_counter() - t
        nbytes = full.nbytes
        del full

        t = time.perf_counter()
        with rasterio.open(path) as src:
            display_values(src, obs, out_shape=quicklook_shape(src.width, src.height))
        overview_read = time.perf_counter() - t

        timings = []
        for _ in range(2):
            t = time.perf_counter()
            r = client.get("/observations/bench/big/quicklook.png")
            timings.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text

        print(f"COG {args.size} x {args.size} float32 ({path.stat().st_size / 1e6:.0f} MB on disk, "
              f"{nbytes / 1e6:.0f} MB in memory; written in {made:.1f} s)")  # fmt: skip
        print(f"full raster read (baseline):  {baseline:8.3f} s")
        print(f"overview read alone:          {overview_read:8.3f} s  ({overview_read / baseline:.3f} x baseline)")
        print(f"quick-look, first request:    {timings[0]:8.3f} s  ({timings[0] / baseline:.3f} x baseline)")
        print(f"quick-look, second request:   {timings[1]:8.4f} s  ({timings[1] / baseline:.4f} x baseline)")
        print(f"PNG {len(r.content) / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
