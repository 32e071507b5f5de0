"""Removing one observation from a site with a long history: ``sitewatch observations remove ID`` against the way
the same-acquisition advice gave before it, which took the whole site out (``sites remove SITE
--with-observations``, then the sites imported and every other image of the site ingested again).

A second figure recomputes every layer's extent after the removal, as the command's first version did (now only a
layer whose edge a removed row reached is read again). The baseline is only that first step, the removal of the site's rows and archive folder; the re-import and the
re-ingest of the other images, which the old way needed too, are not counted (they cost far more: each image cut
again, detection and change run again), so the ratio understates the gain.

A GeoPackage workspace is built with one site of ``--observations`` SAR observations (a small placeholder file each
in the archive, as removal does not read them), three detections each and a change pair (one region) between each
two consecutive ones. Each measurement runs on a fresh copy of it (wall seconds, median of ``--repeat``), in this
process, the database opened first. Not simulated imagery: no pixel is read.

    python benchmarks/observations_remove.py [--observations 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shapely.geometry import box

from sitewatch.ingest.removal import remove_observations
from sitewatch.model import Change, Detection, Grid, Observation, SceneRef, Site
from sitewatch.store.changes import replace_changes
from sitewatch.workspace import Workspace, init_workspace, open_workspace

SITE = Site("port", "Port", "port", box(132.3, 42.8, 132.4, 42.9))


def _shift(i: int) -> int:
    """Where observation ``i``'s rows lie, 0-96 steps apart: the layers' edges are held by a few of them, as the
    scenes and vessels of a real history differ in place (the middle one, 1,000 of 2,000, lies inside)."""
    return (i * 7) % 97


def _obs(i: int) -> Observation:
    d = _shift(i) / 10000
    scene = SceneRef("local", "test", f"scene-{i:05d}", "sar", datetime(2020, 1, 1, 9, 30, tzinfo=UTC) + timedelta(days=i),
                     10.0, footprint=box(132.3 + d, 42.8 + d, 132.4 + d, 42.9 + d))  # fmt: skip
    grid = Grid("EPSG:32653", (10.0, 0.0, 5e5 + 10 * _shift(i), 0.0, -10.0, 4.7e6 + 10 * _shift(i)), 10, 10)
    return Observation(f"port/scene-{i:05d}", "port", scene, grid, f"archive/port/scene-{i:05d}.tif", f"{i:064x}", 1.0)


def build(root: Path, n: int) -> Workspace:
    """The workspace: the site, ``n`` observations with their files, detections and consecutive pairs."""
    ws = init_workspace(root)
    (ws.archive / "port").mkdir(parents=True, exist_ok=True)
    with ws.store() as store:
        store.put_site(SITE)
        previous = None
        for i in range(n):
            obs = _obs(i)
            (ws.root / obs.path).write_bytes(b"placeholder")
            store.put_observation(obs, footprint=obs.scene.footprint)
            x = 132.33 + _shift(i) / 10000
            store.replace_detections(obs, [Detection(f"{obs.id}#{k}", obs.id, "vessel", box(x + k / 1000, x - 89.45, x + 0.0005 + k / 1000, x - 89.449),
                                                     110.0, 15.0, 30.0, 5.0, "test", "1") for k in range(3)])  # fmt: skip
            if previous is not None:
                x = 132.33 + _shift(i) / 10000
                region = Change(f"{obs.id}-c", "port", previous.id, obs.id, box(x, x - 89.45, x + 0.001, x - 89.449), 100.0, 2.0,
                                "appeared", "test", "1")  # fmt: skip
                replace_changes(store, previous, obs, compared_fraction=1.0, method="test", method_version="1",
                                parameters={}, changes=[region])  # fmt: skip
            previous = obs
    return ws


def _timed(template: Path, scratch: Path, run: str, middle: str) -> float:
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(template, scratch)
    ws = open_workspace(scratch)
    with ws.store() as store:
        start = time.perf_counter()
        if run.startswith("observations remove"):
            removal, failed = remove_observations(ws, store, [middle])
            assert len(removal.observations) == 1 and not failed
            if run != "observations remove":  # as it first did: every layer's extent read again, edge or not
                store.update_extents(("observations", "detections", "changes", "scenes"))
        else:
            with store.transaction():
                store.delete_site("port", observations=True)
            shutil.rmtree(ws.archive / "port")
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--observations", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        template = build(Path(tmp) / "ws", args.observations).root
        middle = _obs(args.observations // 2).id
        runs = ("sites remove --with-observations", "observations remove, every extent recomputed", "observations remove")
        seconds: dict[str, list[float]] = {run: [] for run in runs}
        for _ in range(args.repeat):  # alternating, so that the machine's load falls on both alike
            for run in seconds:
                seconds[run].append(_timed(template, Path(tmp) / "run", run, middle))
    base, whole, new = (statistics.median(seconds[r]) for r in runs)
    print(f"site of {args.observations} observations, one removed (median of {args.repeat}, wall seconds):")
    print(f"  baseline, sites remove --with-observations (the old advice's first step only): {base:.4f} s")
    print(f"  observations remove ID, every layer's extent recomputed: {whole:.4f} s  ({base / whole:.1f}x faster than the baseline)")
    print(f"  observations remove ID, extents recomputed only where a row removed reached the edge: {new:.4f} s  "
          f"({base / new:.1f}x faster than the baseline, {whole / new:.1f}x than every extent recomputed)")


if __name__ == "__main__":
    main()
