"""``ingest`` of the same files locally (``--workers 2``) and on a Dask cluster of 2 workers, same run.

FILES SAR GeoTIFFs (float32 gamma speckle, SIDE × SIDE pixels at 10 m in the site's UTM zone, the
site well inside each) are written to a temporary folder, then ingested into one site of two empty
workspaces: first locally with ``--workers 2`` (two worker processes, the baseline), then with
``--scheduler`` on a ``distributed.LocalCluster`` of 2 worker processes of one thread each, started
before the timer (its workers stay up from run to run, as a cluster's do; the local pool starts
its processes in each run, as every command does). Each run is a ``sitewatch ingest`` in this process (``CliRunner``), timed from
start to exit. The script checks that both workspaces hold the same observations with the same
COG bytes (sha256) and no partial file, and prints the times and their ratio.

    python benchmarks/ingest_dask.py [--files 16] [--side 3000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _write_inputs(folder: Path, files: int, side: int) -> list[Path]:
    import numpy as np
    from affine import Affine

    from sitewatch.testing import site_utm_origin, tiny_site, write_tiff

    crs, x0, y0 = site_utm_origin(tiny_site("a"))
    rng = np.random.default_rng(0)
    half = side * 10 / 2
    paths = []
    for i in range(files):
        data = rng.gamma(4.5, 0.01 / 4.5, (side, side)).astype("float32")
        paths.append(write_tiff(
            folder / f"s1_{i:03d}.tif", data, crs=crs, transform=Affine(10, 0, x0 + 1000 - half, 0, -10, y0 - 1000 + half),
            descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": f"2024-10-{i % 28 + 1:02d}T09:{i // 28:02d}:00Z"},
        ))  # fmt: skip
    return paths


def _ingest(root: Path, folder: Path, extra: list[str]) -> tuple[float, dict[str, str]]:
    """Seconds of one ingest into an empty workspace, and its observations' sha256 by id."""
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.testing import tiny_site, workspace_with_sites

    ws = workspace_with_sites(root, tiny_site("a"))
    start = time.perf_counter()
    res = CliRunner().invoke(main, ["-q", "ingest", "a", str(folder), "-w", str(root), *extra])
    seconds = time.perf_counter() - start
    if res.exit_code != 0:
        raise SystemExit(f"ingest {' '.join(extra)} failed ({res.exit_code}): {res.output}")
    left = [p.name for p in ws.archive.rglob(".*partial*")]
    if left:
        raise SystemExit(f"partial files left: {left}")
    with ws.store() as store:
        return seconds, {o.id: o.sha256 for o in store.observations("a")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--side", type=int, default=3000, help="pixels a side of each input file")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, alternating; the median is compared")
    args = parser.parse_args()

    from distributed import LocalCluster

    with tempfile.TemporaryDirectory(prefix="sitewatch-ingest-dask-") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        paths = _write_inputs(folder, args.files, args.side)
        mb = sum(p.stat().st_size for p in paths) / 1e6
        print(f"{args.files} files of {args.side} x {args.side} float32 ({mb:.0f} MB in all); "
              f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores", file=sys.stderr)  # fmt: skip
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as cluster:
            local: list[float] = []
            dask: list[float] = []
            for k in range(args.repeat):
                t, here = _ingest(Path(tmp) / f"local{k}", folder, ["--workers", "2"])
                local.append(t)
                t, there = _ingest(Path(tmp) / f"dask{k}", folder, ["--scheduler", cluster.scheduler_address])
                dask.append(t)
                if here != there:
                    raise SystemExit("the Dask run's observations or COGs differ from the local run's")
    a, b = statistics.median(local), statistics.median(dask)
    print("| run | seconds, each run | median | per file |")
    print("|---|---|---|---|")
    for label, times, m in (("local, --workers 2 (baseline)", local, a), ("Dask LocalCluster, 2 workers × 1 thread", dask, b)):
        print(f"| {label} | {', '.join(f'{t:.2f}' for t in times)} | {m:.2f} | {m / args.files:.3f} |")
    print(f"Dask / local: {b / a:.2f}×; same observations and COG bytes ({len(here)} observations)")


if __name__ == "__main__":
    main()
