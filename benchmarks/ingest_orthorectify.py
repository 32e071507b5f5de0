"""``ingest --orthorectify`` of one site out of a large RPC scene, against warping the whole scene first, same run.

One SIDE × SIDE float32 RPC scene (no map grid; about 0.5 m a pixel, so 10 km across at the default 20,000; a
bright 20-pixel square near the site's centre; tiled, uncompressed) is written to a temporary folder. Then, each in
its own process so that each peak memory is its own:

- baseline, what the refusal told users to do: the whole scene warped through its RPCs at a constant height
  (``gdalwarp -rpc -to RPC_HEIGHT=0 -r bilinear``, done with rasterio's ``reproject`` band to band, which is GDAL's
  warper with its chunking, one thread) to a GeoTIFF in the site's UTM zone, then ``sitewatch ingest`` of that file;
- ``sitewatch ingest SITE scene.tif --orthorectify --height 0``: the site's window only.

Printed: wall seconds and peak resident memory (the process's ru_maxrss) of each, their ratios, and how far apart
the bright square lands in the two observations (metres; both should be within a pixel of each other).

    PYTHONPATH=src python benchmarks/ingest_orthorectify.py [--side 20000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LON, LAT = 132.338, 42.880  # tiny_site()'s centre
DLON, DLAT = 6e-6, 4.5e-6  # about 0.49 x 0.50 m


def _rpcs(side: int) -> object:
    from rasterio.rpc import RPC

    def coeffs(**terms: float) -> list[float]:
        out = [0.0] * 20
        for name, value in terms.items():
            out[int(name[1:])] = value
        return out

    return RPC(
        height_off=0.0, height_scale=500.0, lat_off=LAT, lat_scale=0.05, long_off=LON, long_scale=0.05,
        line_off=side / 2, line_scale=0.05 / DLAT, samp_off=side / 2, samp_scale=0.05 / DLON,
        samp_num_coeff=coeffs(c1=1.0, c3=0.02, c4=0.001), samp_den_coeff=coeffs(c0=1.0),
        line_num_coeff=coeffs(c2=-1.0, c3=0.03, c5=0.001), line_den_coeff=coeffs(c0=1.0),
    )  # fmt: skip


def _write_scene(path: Path, side: int) -> None:
    import warnings

    import numpy as np
    import rasterio
    from rasterio.windows import Window

    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no geotransform: the RPCs place it
        with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=1, dtype="float32", tiled=True,
                           blockxsize=512, blockysize=512, rpcs=_rpcs(side), BIGTIFF="YES") as dst:  # fmt: skip
            rows = 1024
            for r0 in range(0, side, rows):
                n = min(rows, side - r0)
                block = rng.gamma(4.5, 0.01 / 4.5, (n, side)).astype("float32")
                centre = side // 2
                if r0 <= centre < r0 + n:
                    block[centre - r0: centre - r0 + 20, centre: centre + 20] = 1.0
                dst.write(block[None], window=Window(0, r0, side, n))
            dst.set_band_description(1, "VV")
            dst.update_tags(SITEWATCH_ACQUIRED="2024-10-17T09:30:00Z")


def _bright_metres(ws_root: Path) -> tuple[float, float, str]:
    """The bright square's centre (lon, lat) in the workspace's one observation, and its id."""
    import numpy as np
    import rasterio
    from pyproj import Transformer

    from sitewatch.workspace import open_workspace

    with open_workspace(ws_root).store() as store:
        (obs,) = store.observations()
    with rasterio.open(ws_root / obs.path) as cog:
        arr = cog.read(1)
        rows, cols = np.nonzero(arr > 0.5)
        x, y = cog.transform @ (cols.mean() + 0.5, rows.mean() + 0.5)
        lon, lat = Transformer.from_crs(cog.crs, "EPSG:4326", always_xy=True).transform(x, y)
    return float(lon), float(lat), obs.id


def _child(mode: str, scene: Path, root: Path) -> None:
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.testing import tiny_site, workspace_with_sites

    site = tiny_site("a")
    workspace_with_sites(root / "ws", site)
    start = time.perf_counter()
    if mode == "whole":
        import rasterio
        from rasterio.enums import Resampling
        from rasterio.warp import calculate_default_transform, reproject

        from sitewatch.geo import utm_crs_for

        crs = utm_crs_for(LON, LAT)
        with rasterio.open(scene) as src:
            transform, width, height = calculate_default_transform(
                "EPSG:4326", crs, src.width, src.height, rpcs=src.rpcs, RPC_HEIGHT=0
            )
            profile = {"driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "float32",
                       "crs": crs, "transform": transform, "tiled": True, "BIGTIFF": "YES", "nodata": float("nan")}  # fmt: skip
            ortho = root / "ortho.tif"
            with rasterio.open(ortho, "w", **profile) as dst:
                reproject(rasterio.band(src, 1), rasterio.band(dst, 1), rpcs=src.rpcs, src_crs="EPSG:4326",
                          resampling=Resampling.bilinear, RPC_HEIGHT=0, num_threads=1)  # fmt: skip
                dst.set_band_description(1, "VV")
                dst.update_tags(SITEWATCH_ACQUIRED="2024-10-17T09:30:00Z")
        warped = time.perf_counter() - start
        args = ["-q", "ingest", "a", str(ortho), "--workers", "1", "-w", str(root / "ws")]
    else:
        warped = 0.0
        args = ["-q", "ingest", "a", str(scene), "--orthorectify", "--height", "0", "--workers", "1", "-w", str(root / "ws")]
    res = CliRunner().invoke(main, args)
    if res.exit_code != 0:
        raise SystemExit(f"{mode}: ingest failed ({res.exit_code}): {res.output}")
    seconds = time.perf_counter() - start
    lon, lat, obs_id = _bright_metres(root / "ws")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "warp_seconds": warped, "peak_mb": peak_mb, "lon": lon, "lat": lat, "id": obs_id}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=20000)
    parser.add_argument("--child", choices=["whole", "window"], help=argparse.SUPPRESS)
    parser.add_argument("--scene", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.scene, args.root)
        return
    from pyproj import Geod

    with tempfile.TemporaryDirectory(prefix="rpcortho-bench-") as tmp:
        scene = Path(tmp) / "basic_20241017.tif"
        start = time.perf_counter()
        _write_scene(scene, args.side)
        print(f"scene {args.side} x {args.side} float32 ({scene.stat().st_size / 1e9:.1f} GB) written in "
              f"{time.perf_counter() - start:.0f} s")  # fmt: skip
        results = {}
        for mode in ("whole", "window"):
            root = Path(tmp) / mode
            root.mkdir()
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--scene", str(scene), "--root", str(root)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        whole, window = results["whole"], results["window"]
        apart = Geod(ellps="WGS84").inv(whole["lon"], whole["lat"], window["lon"], window["lat"])[2]
        print(f"baseline, whole scene warped then ingested: {whole['seconds']:.1f} s (warp {whole['warp_seconds']:.1f} s), "
              f"peak {whole['peak_mb']:.0f} MB")  # fmt: skip
        print(f"ingest --orthorectify, site's window only:  {window['seconds']:.1f} s, peak {window['peak_mb']:.0f} MB")
        print(f"ratio: {whole['seconds'] / window['seconds']:.1f}x faster, {whole['peak_mb'] / window['peak_mb']:.1f}x less memory")
        print(f"the bright square lands {apart:.2f} m apart in the two observations")


if __name__ == "__main__":
    main()
