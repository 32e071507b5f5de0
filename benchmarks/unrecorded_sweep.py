"""The cost of the sweep ``fetch`` and ``ingest`` now start with: the site's archive folder listed and each file
compared with what the observations name (:func:`sitewatch.ingest.removal.remove_unrecorded`), when nothing is left
behind (the usual run). Baseline, measured in the same run: reading the site's observations, which ``fetch`` does
anyway before it fetches anything (``store.observations(site)``).

A workspace in a temporary folder with one site of N observations, each with a COG file (4 bytes: the sweep reads
no pixel), rows copied from one tiny ingested image.

    python benchmarks/unrecorded_sweep.py [--sizes 200 2000] [--repeat 5] [--marked]

``--marked``: one marker left beside a COG a row names (a re-ingest killed before its commit), so that each sweep
reads the rows' paths and compares them, the case a killed command leaves.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"
sys.path.insert(0, str(SRC))


def _workspace(root: Path, n: int):  # type: ignore[no-untyped-def]
    import numpy as np
    from affine import Affine

    from sitewatch.ingest import ingest_paths
    from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff

    site = tiny_site()
    ws = workspace_with_sites(root / "ws", site)
    crs, x0, y0 = site_utm_origin(site)
    data = np.random.default_rng(0).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    image = write_tiff(root / "a.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"],
                       tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"})  # fmt: skip
    with ws.store() as store:
        (first,) = ingest_paths(ws, store, site, [image], workers=1).observations
        with store.transaction():
            for k in range(1, n):
                item = f"copy_{k:05d}"
                path = f"archive/{site.id}/{item}.tif"
                (ws.root / path).write_bytes(b"II*\x00")
                scene = dataclasses.replace(first.scene, item_id=item, acquired=first.scene.acquired + timedelta(hours=k))
                store.put_observation(dataclasses.replace(first, id=f"{site.id}/{item}", scene=scene, path=path))
    return ws, site.id


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 2000])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--marked", action="store_true", help="a marker beside one recorded COG: the rows are read")
    args = ap.parse_args()
    from sitewatch.ingest.removal import remove_unrecorded, unrecorded_marker

    print(f"{'observations':>12}  {'read observations (s)':>21}  {'sweep (s)':>9}  sweep / read")
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="unrecorded-sweep-") as tmp:
            ws, site_id = _workspace(Path(tmp), n)
            with ws.store() as store:
                read, sweep = [], []
                for _ in range(args.repeat):
                    if args.marked:  # (taken away by each sweep, once old: put back, untimed)
                        unrecorded_marker(ws.archive / site_id / "copy_00001.tif").touch()
                    t0 = time.perf_counter()
                    store.observations(site_id)
                    read.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    assert remove_unrecorded(ws, store, site_id, min_age_s=0.0) == []
                    sweep.append(time.perf_counter() - t0)
            r, s = statistics.median(read), statistics.median(sweep)
            print(f"{n:>12}  {r:>21.4f}  {s:>9.4f}  {s / r:.2f}x")


if __name__ == "__main__":
    main()
