"""How far apart two looks of one vessel off its berth may lie and still be read as the vessel that stayed.

Run:  python benchmarks/cut_tolerance.py

For a hull seen whole on one date and cut (``truncated``) on the next, and for two cut looks, sweeps
the second look's centroid away from the first in 1 m steps, along the hull's axis and across it, and
prints the largest offset :func:`sitewatch.analysis.occupancy.match_sightings` still pairs. The
baseline, in the same run, is the plain centroid distance the timeline used before (every pair within
``match_distance_m``, 150 m). Then the time to match 300 sightings against 300 (a tenth of them cut),
both ways. No data needed; simulated geometry only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from sitewatch.analysis import TimelineParams, occupancy
from sitewatch.analysis.occupancy import Sighting, match_sightings

LON, LAT = 132.338, 42.880
M_PER_DEG_LON, M_PER_DEG_LAT = 111_320.0 * np.cos(np.radians(LAT)), 110_540.0
CASES = [  # (first length, first cut?, second length, second cut?)
    (400.0, False, 50.0, True),
    (180.0, False, 70.0, True),
    (110.0, False, 110.0, False),
    (60.0, True, 60.0, True),
    (150.0, True, 60.0, True),
]


def _at(length: float, cut: bool, east: float = 0.0, north: float = 0.0) -> Sighting:
    lon, lat = LON + east / M_PER_DEG_LON, LAT + north / M_PER_DEG_LAT
    return Sighting("d", "o", "sar", lon, lat, length, None, 10.0, cut, heading_deg=90.0)  # axis east-west


@contextmanager
def _plain_distance() -> Iterator[None]:
    """The rule before cut hulls had an offset: centroid to centroid for every pair."""
    saved = occupancy._cut_distance_m
    occupancy._cut_distance_m = lambda east, north, d, *rest: d  # type: ignore[assignment]
    try:
        yield
    finally:
        occupancy._cut_distance_m = saved


def _reach(first: Sighting, second: Callable[[float], Sighting], params: TimelineParams) -> int:
    """Largest whole-metre offset (0-600) at which the two looks are still one vessel."""
    return max((m for m in range(601) if match_sightings([first], [second(m)], params)), default=-1)


def main() -> int:
    params = TimelineParams()
    print("first look          second look          along axis (m)    across axis (m)")
    print("                                         before   now      before   now")
    for la, ca, lb, cb in CASES:
        first = _at(la, ca)

        def along(m: float, lb: float = lb, cb: bool = cb) -> Sighting:
            return _at(lb, cb, east=m)

        def across(m: float, lb: float = lb, cb: bool = cb) -> Sighting:
            return _at(lb, cb, north=m)

        with _plain_distance():
            before = _reach(first, along, params), _reach(first, across, params)
        now = _reach(first, along, params), _reach(first, across, params)
        name = lambda length, cut: f"{length:.0f} m {'cut' if cut else 'whole'}"  # noqa: E731
        print(f"{name(la, ca):<20}{name(lb, cb):<21}{before[0]:>6}{now[0]:>8}{before[1]:>9}{now[1]:>8}")

    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 3000, (300, 2))
    lengths = rng.uniform(20, 300, 300)
    a = [replace(_at(float(L), bool(i % 10 == 0), *p), heading_deg=float(h)) for i, (L, p, h) in
         enumerate(zip(lengths, pos, rng.uniform(0, 180, 300), strict=True))]  # fmt: skip
    b = [replace(s, lon=s.lon + 30 / M_PER_DEG_LON) for s in a]

    def timed() -> float:
        t = time.perf_counter()
        for _ in range(5):
            match_sightings(a, b, params)
        return (time.perf_counter() - t) / 5

    with _plain_distance():
        base = timed()
    new = timed()
    print(f"match 300 x 300: plain distance {base * 1e3:.1f} ms, cut offsets {new * 1e3:.1f} ms (x{new / base:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
