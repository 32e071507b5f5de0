"""A site on a Sentinel-1 slice boundary: what judging the pieces of one pass together changes, and what it costs.

A port watched by one relative orbit every 6 days (``--days`` days), a slice boundary across it so that
every pass comes in two slices whose split of the site varies (40-60 % in the first), with vessels that
stay for weeks at random places in the site; one Sentinel-2 look a week. The vessels each image shows
are the truth's inside its piece (a hull on the seam in both, cut). Built with ``build_timeline``:

- ``alone`` (``pass_seconds=0``, the baseline: each observation judged on its own, as before), and
- ``together`` (the default, 60 s: the pieces of a pass judged together),

it prints, for each, the usable dates, the observations skipped, the arrivals and departures counted
against the truth's, and the median time of ``build_timeline`` (and the ratio to the baseline's).

    python benchmarks/timeline_passes.py [--days 1095] [--seed 1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from shapely.geometry import box

from sitewatch.analysis import TimelineParams, build_timeline
from sitewatch.model import Detection, Grid, Observation, SceneRef

GRID = Grid("EPSG:32652", (10.0, 0.0, 500000.0, 0.0, -10.0, 4750000.0), 100, 100)
SITE = box(132.0, 42.0, 132.1, 42.1)
"""0.1° square: a vessel's place is its longitude (west to east) and latitude."""


def _obs(name: str, when: datetime, west: float, east: float, sensor: str, platform: str) -> Observation:
    share = max(0.0, min(east, 132.1) - max(west, 132.0)) / 0.1
    scene = SceneRef("bench", "c", name, sensor, when, 10.0, footprint=box(west, 41.9, east, 42.2), platform=platform)
    return Observation(f"port/{name}", "port", scene, GRID, f"a/{name}.tif", "0" * 64, round(share, 6),
                       0.0 if sensor == "optical" else None)  # fmt: skip


def world(days: int, seed: int) -> tuple[list[Observation], list[Detection], int]:
    """Observations, their detections, and the true number of arrivals and departures between usable dates."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2022, 1, 1, 9, 30, tzinfo=UTC)
    # Vessels: (arrive day, leave day, lon, lat, length): about 6 at a time, a few weeks each.
    vessels = []
    for k in range(days // 4):
        start = int(rng.integers(0, days))
        vessels.append((start, start + int(rng.integers(10, 40)), 132.005 + 0.09 * rng.random(),
                        42.005 + 0.09 * rng.random(), float(rng.uniform(80, 230)), k))  # fmt: skip
    observations: list[Observation] = []
    dets: list[Detection] = []
    looks: list[tuple[int, list[int]]] = []
    for day in range(days):
        here = [v for v in vessels if v[0] <= day < v[1]]
        if day % 6 == 0:
            seam = 132.0 + 0.1 * float(rng.uniform(0.4, 0.6))
            pieces = [_obs(f"s1-{day}-a", t0 + timedelta(days=day), 131.8, seam, "sar", "sentinel-1a"),
                      _obs(f"s1-{day}-b", t0 + timedelta(days=day, seconds=25), seam, 132.3, "sar", "sentinel-1a")]  # fmt: skip
        elif day % 7 == 3:
            pieces = [_obs(f"s2-{day}", t0 + timedelta(days=day, hours=-7), 131.8, 132.3, "optical", "sentinel-2b")]
        else:
            continue
        for o in pieces:
            west, east = o.scene.footprint.bounds[0], o.scene.footprint.bounds[2]  # type: ignore[union-attr]
            for n, (_, _, lon, lat, length, _k) in enumerate(here):
                lo, hi = lon - length / 2 / 81_500, lon + length / 2 / 81_500  # the hull along the parallel
                if hi <= west or lo >= east:
                    continue
                cut_lo, cut_hi = max(lo, west), min(hi, east)
                seen = (cut_hi - cut_lo) * 81_500
                fp = box(cut_lo, lat - 0.0001, cut_hi, lat + 0.0001)
                dets.append(Detection(f"{o.id}-{n}", o.id, "vessel", fp, seen, 15.0, 90.0, 0.9, "bench", "1",
                                      truncated=bool(cut_lo > lo or cut_hi < hi)))  # fmt: skip
        looks.append((day, [v[5] for v in here]))
        observations += pieces
    moves = sum(len(set(a) ^ set(b)) for (_, a), (_, b) in zip(looks, looks[1:], strict=False))
    return observations, dets, moves


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=1095)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    observations, dets, moves = world(args.days, args.seed)
    print(f"{len(observations)} observations ({sum(o.scene.sensor == 'sar' for o in observations)} Sentinel-1 slices), "
          f"{len(dets)} detections; the truth: {moves} arrivals and departures between consecutive looks")  # fmt: skip
    base = None
    for name, params in (("alone", TimelineParams(pass_seconds=0)), ("together", TimelineParams())):
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            tl = build_timeline("port", observations, dets, params, site_geometry=SITE)
            times.append(time.perf_counter() - t)
        median = statistics.median(times)
        base = base or median
        counted = sum(r.arrivals + r.departures for r in tl.rows)
        print(f"{name:9s} {len(tl.rows)} usable dates, {len(tl.skipped)} skipped, {counted} arrivals and departures "
              f"(truth {moves}), {tl.presence_days} presence days; build_timeline {median:.2f} s ({median / base:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
