"""``input_changes`` in a workspace that never runs ``alerts check``: what its rows cost, unbounded and folded.

A GeoPackage with three sites; ``input_changes`` filled with N notes (the three sites, times over a year), as the
triggers leave them when ``alerts check`` never removes any. Measured in this process, medians of ``--repeat``:

- ``read``: what each ``alerts check`` reads of them before anything else (``alert_window._noted``): the N rows,
  against the rows left once folded (``Store.compact_input_changes``: one a site);
- ``record_run``: a command's end, which now folds them past ``INPUT_CHANGES_MOST``: with N rows under it (the count
  alone), against the baseline of ``record_run`` without the fold (as before it), run in turn;
- ``fold``: the one fold of N rows, and the GeoPackage's size before and after (``VACUUM``-ed).

    python benchmarks/input_changes_bound.py [--rows 5000,50000,500000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sitewatch.alert_window import _noted  # noqa: E402
from sitewatch.store import sqlite as sqlite_store  # noqa: E402
from sitewatch.testing import tiny_site  # noqa: E402
from sitewatch.workspace import init_workspace  # noqa: E402


def _median(f: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _paired(store: sqlite_store.Store, repeat: int) -> tuple[float, float]:
    """Medians of ``record_run`` without the fold (as before it) and with it, run in turn (ABAB…), 4 × ``repeat``."""
    real = store.compact_input_changes
    without, with_ = [], []
    for _ in range(4 * repeat):
        for fold, into in ((False, without), (True, with_)):
            store.compact_input_changes = real if fold else (lambda most=None: 0)  # type: ignore[method-assign]
            t0 = time.perf_counter()
            store.record_run("bench", None, {}, {})
            into.append(time.perf_counter() - t0)
    store.compact_input_changes = real  # type: ignore[method-assign]
    return statistics.median(without), statistics.median(with_)


def _fill(path: Path, n: int) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [(f"port-{i % 3}", (t0 + timedelta(minutes=i * 17 % 525600)).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
            for i in range(n)]  # fmt: skip
    with sqlite3.connect(path) as db:  # (no geometry trigger on this table: plain sqlite3 writes it)
        db.execute("DELETE FROM input_changes")
        db.executemany("INSERT INTO input_changes (site_id, acquired) VALUES (?, ?)", rows)


def _size(path: Path) -> int:
    with sqlite3.connect(path) as db:
        db.execute("VACUUM")
    return os.path.getsize(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="5000,50000,500000")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(f"INPUT_CHANGES_MOST = {sqlite_store.INPUT_CHANGES_MOST}")
    print("| rows | read them (alerts check) | read, folded | ratio | record_run, no fold (baseline) | record_run "
          "| ratio | the fold | GeoPackage before / after |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "ws")
        gpkg = ws.root / "sitewatch.gpkg"
        with ws.store() as store:
            for k in range(3):
                store.put_site(tiny_site(f"port-{k}"))
        for n in (int(x) for x in args.rows.split(",")):
            _fill(gpkg, n)
            before = _size(gpkg)
            with ws.store() as store:
                read = _median(lambda store=store: _noted(store), args.repeat)
                most = sqlite_store.INPUT_CHANGES_MOST
                under = ratio = "-"
                if n <= most:  # a command's end under the bound: the count alone, against no fold at all (before)
                    base_s, under_s = _paired(store, args.repeat)
                    base = f"{base_s * 1000:.2f} ms"
                    under, ratio = f"{under_s * 1000:.2f} ms", f"{under_s / base_s:.2f}"
                else:
                    base = "-"
                t0 = time.perf_counter()
                gone = store.compact_input_changes(most=0)
                fold = time.perf_counter() - t0
                left = int(store.execute("SELECT count(*) FROM input_changes")[0][0])
                read_after = _median(lambda store=store: _noted(store), args.repeat)
            after = _size(gpkg)
            assert gone == n - left and left == 3, (gone, left)
            print(f"| {n:,} | {read * 1000:.2f} ms | {read_after * 1000:.3f} ms | {read / read_after:,.0f} | "
                  f"{base} | {under} | {ratio} | {fold * 1000:.0f} ms | "
                  f"{before / 1024:,.0f} kB / {after / 1024:,.0f} kB |")


if __name__ == "__main__":
    main()
