"""Detections written and read through the PostGIS team store against the GeoPackage store, in the same run.

A store of SITES sites with OBS observations each of DETS detections (ship-sized rotated boxes), as
``sitewatch detect`` writes them: one ``replace_detections`` transaction per observation. Then each
site's detections read back (``Store.detections(site_id=…)``, as the timeline and the report read them),
a map view of one site read by a bounding box (the GeoPackage through its R-tree, PostGIS through its
GiST index; QGIS asks for those), and a rerun of every observation (replace: delete and insert). The
baseline is the GeoPackage; ratios are PostGIS time / GeoPackage time (above 1: PostGIS slower).

The PostGIS server is ``--url`` (a database with PostGIS that may be emptied), else SITEWATCH_TEST_POSTGRES,
else a throwaway cluster started for the run (``sitewatch.testing.postgres``, durable: fsync on) on a
unix socket of the same machine, so no network is in the figures.

    python benchmarks/store_postgis.py [--sites 10] [--obs 100] [--dets 100] [--url postgresql://…]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from sitewatch.model import Detection, Observation
from sitewatch.store import Store, open_store
from sitewatch.testing.postgres import TEST_ENV, start_cluster, stop_cluster
from store_rtree import _world


def _with_db(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _run(store: Store, world: list[tuple[Observation, list[Detection]]], sites: int) -> dict[str, float]:
    for o, _ in world:
        store.put_observation(o, footprint=o.scene.footprint)  # type: ignore[arg-type]
    out = {"write": _timed(lambda: [store.replace_detections(o, d) for o, d in world])}
    out["read"] = _timed(lambda: [store.detections(site_id=f"site{s}") for s in range(sites)])
    lon, lat = world[0][0].scene.footprint.bounds[:2]  # type: ignore[union-attr]
    bbox = (lon, lat, lon + 0.01, lat + 0.01)
    if isinstance(store, Store) and type(store).__name__ == "PostgisStore":
        sql = "SELECT fid FROM detections WHERE geom && ST_MakeEnvelope(?, ?, ?, ?, 4326)"
    else:
        sql = "SELECT id FROM rtree_detections_geom WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?"
        bbox = (bbox[2], bbox[0], bbox[3], bbox[1])
    out["map view ×100"] = _timed(lambda: [store.execute(sql, bbox) for _ in range(100)])
    out["rerun (replace)"] = _timed(lambda: [store.replace_detections(o, d) for o, d in world])
    assert store.counts()["detections"] == sum(len(d) for _, d in world)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--obs", type=int, default=100)
    ap.add_argument("--dets", type=int, default=100)
    ap.add_argument("--url", default=os.environ.get(TEST_ENV, ""))
    args = ap.parse_args()
    world = _world(args.sites, args.obs, args.dets)
    n = sum(len(d) for _, d in world)
    tmp = Path(tempfile.mkdtemp(prefix="sitewatch-bench-pg-"))
    cluster = None
    try:
        url = args.url
        if url in ("", "auto"):
            cluster = Path(tempfile.mkdtemp(prefix="sitewatch-bench-cluster-"))  # its own: postgres must reach it
            url = start_cluster(cluster, durable=True)  # commits flushed to disk, as the GeoPackage's are
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS sitewatch_bench")
            conn.execute("CREATE DATABASE sitewatch_bench")
        url = _with_db(url, "sitewatch_bench")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        load = os.getloadavg()
        with Store(tmp / "bench.gpkg") as gpkg:
            base = _run(gpkg, world, args.sites)
        with open_store(url, create=True) as pg:  # a new database: its tables made, as `init --store` does
            postgis = _run(pg, world, args.sites)
        after = os.getloadavg()
        print(f"{args.sites} sites × {args.obs} observations × {args.dets} detections = {n} detections; "
              f"load average {load[0]:.1f} before, {after[0]:.1f} after")  # fmt: skip
        print(f"{'':18} {'GeoPackage':>12} {'PostGIS':>12} {'ratio':>7}")
        for k in base:
            rate = f"  (PostGIS {n / postgis[k]:,.0f}, GeoPackage {n / base[k]:,.0f} detections/s)" if k != "map view ×100" else ""
            print(f"{k:18} {base[k]:10.2f} s {postgis[k]:10.2f} s {postgis[k] / base[k]:6.2f}×{rate}")
    finally:
        if cluster is not None:
            stop_cluster(cluster)
            shutil.rmtree(cluster, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
