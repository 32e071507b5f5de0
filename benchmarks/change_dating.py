"""Dating a site's changes by every stored pair (``sitewatch.change_dating.date_changes``) on a long record.

A synthetic site imaged for ``--days`` days by two series (10 m every ``--coarse-every`` days, 3 m every
``--fine-every`` days), each chained image to image as ``sitewatch change`` pairs them, some pairs half under
cloud. ``--changes`` changes on the ground, each a small box at its own place and day, are found by every
pair of either series that spans its day; and each pair holds ``--noise`` false regions elsewhere.

Two ways, timed in the same run on the same regions:

- ``baseline``: every region tried against every change made so far (the first version: each change's window
  recomputed from its regions, then the polygons), the way it was written on 7 December;
- ``date_changes``: the shipped function (a region tried only against the changes whose window ends after its
  pair's before image, found by bisection).

Both must give the same changes with the same ends; the ratio is baseline / shipped.

    python benchmarks/change_dating.py [--days 365] [--changes 200] [--noise 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "src"))

from shapely.geometry import box  # noqa: E402

from sitewatch.change_dating import date_changes  # noqa: E402
from sitewatch.model import Change  # noqa: E402
from sitewatch.store.changes import ChangePair  # noqa: E402

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _series(days: int, every: int, res: str, hour: int, rng: random.Random) -> list[ChangePair]:
    times = [T0 + timedelta(days=d, hours=hour) for d in range(0, days, every)]
    return [
        ChangePair("s", f"s/{res}-{a:%Y%m%d}", f"s/{res}-{b:%Y%m%d}", a, b, "optical",
                   0.3 if rng.random() < 0.1 else 1.0, "irmad-cva", "5")  # fmt: skip
        for a, b in zip(times, times[1:], strict=False)
    ]


def world(days: int, n_changes: int, noise: int, coarse_every: int, fine_every: int, seed: int = 1) -> tuple[list[ChangePair], list[Change]]:
    """The pairs and regions of the synthetic site (module doc)."""
    rng = random.Random(seed)
    pairs = _series(days, coarse_every, "10", 1, rng) + _series(days, fine_every, "3", 0, rng)
    regions: list[Change] = []
    for k in range(n_changes):
        when = T0 + timedelta(days=rng.uniform(0, days))
        x, y = rng.uniform(0, 0.05), rng.uniform(0, 0.05)
        for p in pairs:
            if p.before_acquired < when < p.after_acquired and p.compared_fraction == 1.0:
                regions.append(Change(f"{p.before_id}..{p.after_id}#c{k}", "s", p.before_id, p.after_id,
                                      box(x, y, x + 2e-4, y + 2e-4), 900.0, 9.0, "appeared", "irmad-cva", "5"))  # fmt: skip
    for p in pairs:
        for j in range(noise):
            x, y = rng.uniform(0, 0.05), rng.uniform(0, 0.05)
            regions.append(Change(f"{p.before_id}..{p.after_id}#n{j}", "s", p.before_id, p.after_id,
                                  box(x, y, x + 1e-4, y + 1e-4), 300.0, 5.0, "altered", "irmad-cva", "5"))  # fmt: skip
    return pairs, regions


def baseline(pairs: Sequence[ChangePair], changes: Sequence[Change]) -> list[tuple[datetime, datetime, int]]:
    """The first version's grouping: every change so far tried, its window recomputed each time."""
    by_ids = {(p.before_id, p.after_id): p for p in pairs}
    held = sorted(((c, by_ids[(c.before_id, c.after_id)]) for c in changes),
                  key=lambda t: (t[1].after_acquired, t[1].before_acquired, -t[0].area_m2, t[0].id))  # fmt: skip
    groups: list[list[tuple[Change, ChangePair]]] = []
    for c, p in held:
        for g in groups:
            lo = max(q.before_acquired for _, q in g)
            hi = min(q.after_acquired for _, q in g)
            if max(lo, p.before_acquired) < min(hi, p.after_acquired) and any(c.polygon.intersects(d.polygon) for d, _ in g):
                g.append((c, p))
                break
        else:
            groups.append([(c, p)])
    return sorted((max(q.before_acquired for _, q in g), min(q.after_acquired for _, q in g), len(g)) for g in groups)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--changes", type=int, default=200)
    ap.add_argument("--noise", type=int, default=2, help="false regions per pair")
    ap.add_argument("--coarse-every", type=int, default=5)
    ap.add_argument("--fine-every", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    pairs, regions = world(a.days, a.changes, a.noise, a.coarse_every, a.fine_every)
    print(f"{len(pairs)} pairs, {len(regions)} regions ({a.changes} changes on the ground, {a.noise} false a pair), {a.days} days")
    times: dict[str, list[float]] = {"baseline": [], "date_changes": []}
    for _ in range(a.repeat):
        t = time.perf_counter()
        old = baseline(pairs, regions)
        times["baseline"].append(time.perf_counter() - t)
        t = time.perf_counter()
        new = date_changes(pairs, regions)
        times["date_changes"].append(time.perf_counter() - t)
    shipped = sorted((d.seen_without, d.seen_with, len(d.regions)) for d in new)
    if shipped != old:
        raise SystemExit(f"the two ways disagree: {len(old)} changes against {len(shipped)}")
    base = statistics.median(times["baseline"])
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"{name:14s} {m:8.3f} s  ratio {base / m:6.1f}×")
    print(f"same {len(new)} changes both ways")


if __name__ == "__main__":
    main()
