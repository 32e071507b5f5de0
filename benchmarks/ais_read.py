"""Reading a day of AIS: ``read_ais`` filtering by the sites' boxes and the images' times while it reads,
against reading the whole file, in the same run.

A synthetic MarineCadastre-form file of ROWS rows (the size of a day of US coastal AIS: a few
million): VESSELS ships spread over a 10° × 10° sea, each reporting through the day, a few of them
moored inside two 3 km sites. Windows: the two sites' boxes (grown as ``sitewatch ais`` grows them)
around IMAGES image times each. Each variant runs in a fresh process so its peak memory
(``ru_maxrss``) is its own:

- ``filtered``: ``read_ais(files, windows)`` - the command's path;
- ``whole (sitewatch)``: ``read_ais(files)`` without windows, every row parsed and kept (baseline 1);
- ``whole (pandas)``: ``pandas.read_csv`` of the whole file, as a user's notebook would (baseline 2,
  when pandas is installed).

    python benchmarks/ais_read.py [--rows 3000000] [--images 4] [--keep FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

SITES = ((132.338, 42.880), (130.300, 42.233))
HEADER = ("MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,"
          "Length,Width,Draft,Cargo,TransceiverClass\n")  # fmt: skip
DAY = datetime(2024, 10, 17, tzinfo=UTC)


def write_file(path: Path, rows: int, vessels: int = 5000, seed: int = 0) -> None:
    """ROWS rows of ``vessels`` ships, time-ordered, as MarineCadastre writes a day."""
    rng = np.random.default_rng(seed)
    mmsi = 367_000_000 + np.arange(vessels)
    lon0 = rng.uniform(125.0, 135.0, vessels)
    lat0 = rng.uniform(35.0, 45.0, vessels)
    # 20 of them moored in the sites.
    for k in range(20):
        lon0[k], lat0[k] = SITES[k % 2][0] + rng.normal(0, 0.004), SITES[k % 2][1] + rng.normal(0, 0.004)
    sog = np.where(np.arange(vessels) < 20, 0.0, rng.uniform(0, 15, vessels))
    cog = rng.uniform(0, 360, vessels)
    chunk = 200_000
    with open(path, "w", encoding="utf-8") as f:
        f.write(HEADER)
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            idx = rng.integers(0, vessels, n)
            secs = (start + np.arange(n)) * 86400.0 / rows
            hours = secs / 3600.0
            d = sog[idx] * 1852 * hours / 111_000 * 0.05  # drift a little along the course
            lat = lat0[idx] + d * np.cos(np.radians(cog[idx]))
            lon = lon0[idx] + d * np.sin(np.radians(cog[idx]))
            lines = []
            for i in range(n):
                t = DAY + timedelta(seconds=float(secs[i]))
                lines.append(
                    f"{mmsi[idx[i]]},{t:%Y-%m-%dT%H:%M:%S},{lat[i]:.5f},{lon[i]:.5f},{sog[idx[i]]:.1f},{cog[idx[i]]:.1f},511,"
                    f"SHIP {idx[i]},,,70,0,{90 + idx[i] % 100},{14 + idx[i] % 10},5.0,,A\n"
                )
            f.write("".join(lines))


def _child(variant: str, path: str, images: int) -> None:
    import resource

    if variant == "filtered" or variant == "whole-sitewatch":
        from shapely.geometry import box

        from sitewatch.analysis.ais import AisParams, windows_for
        from sitewatch.analysis.ais_csv import read_ais
        from sitewatch.model import Grid, Observation, SceneRef, Site

        t0 = time.perf_counter()  # after the imports: the reading alone
        windows = None
        if variant == "filtered":
            sites, obs = {}, []
            for s, (lon, lat) in enumerate(SITES):
                sites[f"s{s}"] = Site(id=f"s{s}", name=f"s{s}", kind="port", geometry=box(lon - 0.018, lat - 0.0135, lon + 0.018, lat + 0.0135))
                for k in range(images):
                    when = DAY + timedelta(hours=2 + 20 * k / max(images - 1, 1))
                    scene = SceneRef("bench", "c", f"i{s}{k}", "sar", when, 10.0)
                    obs.append(Observation(f"s{s}/{k}", f"s{s}", scene, Grid("EPSG:32652", (10, 0, 0, 0, -10, 0), 1, 1), "x", "0", 1.0))
            windows = windows_for(obs, sites, AisParams())
        data = read_ais([path], windows)
        kept, tracks = data.files[0].kept, len(data.tracks)
    else:
        import pandas as pd

        t0 = time.perf_counter()
        df = pd.read_csv(path)
        kept, tracks = len(df), int(df["MMSI"].nunique())
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "kept": kept, "tracks": tracks}))


def _run(variant: str, path: Path, images: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", variant, str(path), "--images", str(images)],
                         check=True, capture_output=True, encoding="locale")  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _baseline_mb() -> float:
    code = "import resource, numpy, scipy.optimize, shapely, pyproj; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    return float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, encoding="locale").stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--images", type=int, default=4, help="Image times per site.")
    ap.add_argument("--keep", type=Path, help="Write (or reuse) the synthetic file here instead of a temporary one.")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], args.images)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "AIS_2024_10_17.csv"
        if not path.exists():
            t = time.perf_counter()
            write_file(path, args.rows)
            print(f"wrote {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
        print(f"python with numpy, scipy, shapely, pyproj imported: {_baseline_mb():.0f} MB peak")
        variants = ["filtered", "whole-sitewatch"]
        try:
            import pandas  # noqa: F401

            variants.append("whole-pandas")
        except ImportError:
            pass
        results = {v: _run(v, path, args.images) for v in variants}
        base = results["filtered"]
        print(f"{'variant':<18} {'seconds':>8} {'peak MB':>8} {'rows kept':>10} {'MMSIs':>6}  vs filtered (time, memory)")
        for v, r in results.items():
            print(f"{v:<18} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f} {r['kept']:>10,} {r['tracks']:>6}  "
                  f"{r['seconds'] / base['seconds']:.2f}x, {r['peak_mb'] / base['peak_mb']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
