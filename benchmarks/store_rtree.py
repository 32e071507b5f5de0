"""What the GeoPackage's spatial index (schema 6, ``gpkg_rtree_index``) costs sitewatch's writes
and saves GDAL's (and so QGIS's) map-view reads.

A workspace store of SITES sites spread over the globe, each with OBS observations of DETS
detections (ship-sized boxes inside a 3 km site), written through ``Store.replace_detections``
twice in the same run: into the store as it is (the triggers fill the index, calling sitewatch's
ST_ functions for each row) and, as the baseline, into the same store with its indexes dropped
(schema 5's tables). Then:

- opening the store (the five functions registered on each connection, and the schema check);
- the migration that fills the index of a workspace of schema 5 with those rows;
- GDAL reading a map view through pyogrio, as QGIS asks for it (features in a box): one berth
  (300 m) and one site, against the same file without its index, where GDAL reads every row.

    python benchmarks/store_rtree.py [--sites 8] [--obs 167] [--dets 36]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from shapely.affinity import rotate
from shapely.geometry import box

from sitewatch.model import Detection, Grid, Observation, SceneRef
from sitewatch.store import Store, register_gpkg_functions
from sitewatch.store.schema import FEATURE_TABLES

_TRIGGERS = ("insert", "update2", "update4", "update5", "update6", "update7", "delete")


def _drop_indexes(path: Path) -> None:
    """The store as schema 5 had it: no R-tree, no triggers, no gpkg_extensions rows."""
    con = sqlite3.connect(path)
    with con:
        for table in FEATURE_TABLES:
            for name in _TRIGGERS:
                con.execute(f"DROP TRIGGER IF EXISTS rtree_{table}_geom_{name}")
            con.execute(f"DROP TABLE IF EXISTS rtree_{table}_geom")
        con.execute("DELETE FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index'")
    con.close()


def _world(sites: int, obs: int, dets: int, seed: int = 0) -> list[tuple[Observation, list[Detection]]]:
    rng = np.random.default_rng(seed)
    out = []
    for s in range(sites):
        lon, lat = -150.0 + 300.0 * s / max(sites - 1, 1), -50.0 + 100.0 * ((s * 37) % sites) / max(sites - 1, 1)
        for k in range(obs):
            when = datetime(2024, 1, 1, 9, 30, tzinfo=UTC) + timedelta(days=3 * k)
            scene = SceneRef(provider="bench", collection="c", item_id=f"s{s}-{k}", sensor="sar", acquired=when,
                             resolution_m=10.0, footprint=box(lon, lat, lon + 0.03, lat + 0.03))  # fmt: skip
            o = Observation(id=f"site{s}/{k}", site_id=f"site{s}", scene=scene,
                            grid=Grid("EPSG:32601", (10.0, 0.0, 0.0, 0.0, -10.0, 0.0), 300, 300),
                            path="x.tif", sha256="0" * 64, valid_fraction=1.0)  # fmt: skip
            xy = rng.uniform(0.002, 0.028, size=(dets, 2))
            boxes = [rotate(box(lon + x, lat + y, lon + x + 0.0012, lat + y + 0.0002), float(a), use_radians=False)
                     for (x, y), a in zip(xy, rng.uniform(0, 180, dets), strict=True)]  # fmt: skip
            out.append((o, [Detection(id=f"{o.id}#{i}", observation_id=o.id, kind="vessel", footprint=b, length_m=120.0,
                                      width_m=20.0, heading_deg=0.0, score=1.0, detector="bench", detector_version="1")
                             for i, b in enumerate(boxes)]))  # fmt: skip
    return out


def _write(path: Path, world: list[tuple[Observation, list[Detection]]], indexed: bool) -> float:
    with Store(path):
        pass
    if not indexed:
        _drop_indexes(path)
    with Store(path) as store:
        for o, _ in world:
            store.put_observation(o, footprint=o.scene.footprint)  # type: ignore[arg-type]
        t = time.perf_counter()
        for o, dets in world:
            store.replace_detections(o, dets)
        return time.perf_counter() - t


def _read(path: Path, bbox: tuple[float, float, float, float], repeat: int = 20) -> tuple[float, int]:
    import pyogrio

    pyogrio.raw.read(path, layer="detections", bbox=bbox)  # warm the file cache
    t = time.perf_counter()
    for _ in range(repeat):
        n = len(pyogrio.raw.read(path, layer="detections", bbox=bbox, columns=["detection_id"])[3][0])
    return (time.perf_counter() - t) / repeat, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=8)
    ap.add_argument("--obs", type=int, default=167, help="Observations per site (the demo's count).")
    ap.add_argument("--dets", type=int, default=36, help="Detections per observation (a busy port).")
    args = ap.parse_args()
    world = _world(args.sites, args.obs, args.dets)
    n = sum(len(d) for _, d in world)
    print(f"{args.sites} sites, {len(world)} observations, {n} detections")
    with tempfile.TemporaryDirectory() as tmp:
        plain, indexed = Path(tmp) / "plain.gpkg", Path(tmp) / "indexed.gpkg"
        base = _write(plain, world, indexed=False)
        cost = _write(indexed, world, indexed=True)
        print(f"replace_detections, all: {base:.2f} s without index (baseline), {cost:.2f} s with ({cost / base:.2f}x, "
              f"{(cost - base) / n * 1e6:.0f} µs a detection)")  # fmt: skip

        t = time.perf_counter()
        for _ in range(100):
            Store(indexed).close()
        opened = (time.perf_counter() - t) / 100
        with closing(sqlite3.connect(":memory:")) as con:
            t = time.perf_counter()
            for _ in range(1000):
                register_gpkg_functions(con)
            registering = (time.perf_counter() - t) / 1000
        print(f"open: {opened * 1e3:.2f} ms per Store, of which registering the five functions {registering * 1e6:.1f} µs")

        old = Path(tmp) / "v5.gpkg"
        shutil.copy(plain, old)
        with closing(sqlite3.connect(old)) as con, con:  # sqlite3's own with commits, closing() closes
            con.execute("UPDATE sitewatch_meta SET value = '5' WHERE key = 'schema_version'")
        t = time.perf_counter()
        Store(old).close()
        print(f"migration 5 -> 6 (fill every index): {time.perf_counter() - t:.2f} s")

        lon, lat = -150.0, -50.0  # site 0
        for label, view in (("one berth (300 m)", (lon + 0.01, lat + 0.01, lon + 0.0135, lat + 0.0127)),
                            ("one site (3 km)", (lon, lat, lon + 0.03, lat + 0.03))):  # fmt: skip
            slow, n_slow = _read(plain, view)
            fast, n_fast = _read(indexed, view)
            assert n_slow == n_fast, (n_slow, n_fast)
            print(f"GDAL read, {label}: {n_fast} features, {slow * 1e3:.1f} ms without index (baseline), "
                  f"{fast * 1e3:.1f} ms with (x{slow / fast:.1f} faster)")  # fmt: skip


if __name__ == "__main__":
    main()
