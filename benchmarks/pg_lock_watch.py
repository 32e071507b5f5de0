"""What watching each statement for a lock wait costs the PostGIS store (``store/pg_locks.py``), in the same run.

The worst case for a per-statement cost: many small statements. N one-row reads (``Store.execute``, as the
dashboard's and the timeline's small queries), N small write transactions (``set_meta``: BEGIN, an upsert,
COMMIT) and N detections written as ``detect`` writes them (one ``replace_detections`` transaction of DETS per
observation), each with the watch (the store as it is) and without it (its ``begin``/``end`` made no-ops: the
store before the watch), alternated REPEAT times, best of each. Ratio: watched / unwatched.

The server is ``--url`` (a database with PostGIS that may be written to), else SITEWATCH_TEST_POSTGRES, else a
throwaway cluster started for the run (``sitewatch.testing.postgres``) on a unix socket of this machine.

    python benchmarks/pg_lock_watch.py [--n 5000] [--obs 100] [--dets 50] [--repeat 3] [--url postgresql://…]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from sitewatch.store.pg_locks import LockWatch
from sitewatch.store.postgis import PostgisStore
from sitewatch.testing.postgres import TEST_ENV, start_cluster, stop_cluster
from store_rtree import _world


def _with_db(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


def _timed(step: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--obs", type=int, default=100)
    ap.add_argument("--dets", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--url", default=os.environ.get(TEST_ENV, ""))
    args = ap.parse_args()
    folder = None
    server = args.url if args.url and args.url != "auto" else ""
    if not server:
        folder = Path(tempfile.mkdtemp(prefix="sitewatch-bench-pg-"))
        server = start_cluster(folder)
    name = f"sitewatch_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
        url = _with_db(server, name)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        PostgisStore(url, create=True).close()
        world = _world(1, args.obs, args.dets)
        with PostgisStore(url) as s:
            for obs, _ in world:
                s.put_observation(obs)

        def reads(s: PostgisStore) -> None:
            for i in range(args.n):
                s.execute("SELECT value FROM sitewatch_meta WHERE key = ?", (f"k{i % 10}",))

        def writes(s: PostgisStore) -> None:
            for i in range(args.n // 5):
                s.set_meta(f"k{i % 10}", str(i))

        def detect(s: PostgisStore) -> None:
            for obs, dets in world:
                s.replace_detections(obs, dets)

        steps = {"reads": reads, "write transactions": writes, "detections (detect's writes)": detect}
        best: dict[tuple[str, bool], float] = {}
        begin, end = LockWatch.begin, LockWatch.end
        for _ in range(args.repeat):
            for watched in (False, True):
                if not watched:
                    LockWatch.begin = lambda self, to: None  # type: ignore[method-assign]
                    LockWatch.end = lambda self: None  # type: ignore[method-assign]
                try:
                    with PostgisStore(url) as s:
                        for label, step in steps.items():
                            t = _timed(lambda step=step, s=s: step(s))
                            best[label, watched] = min(best.get((label, watched), t), t)
                finally:
                    LockWatch.begin, LockWatch.end = begin, end  # type: ignore[method-assign]
        load = os.getloadavg()[0]
        print(f"best of {args.repeat}; load average {load:.1f}; {args.n} reads, {args.n // 5} write transactions, "
              f"{args.obs * args.dets} detections in {args.obs} transactions")  # fmt: skip
        print("| step | without the watch | with it | ratio |\n|---|---|---|---|")
        for label in steps:
            a, b = best[label, False], best[label, True]
            print(f"| {label} | {a:.3f} s | {b:.3f} s | {b / a:.3f}× |")
        # The watch's own cost, apart from the server's noise: a begin and an end, against one read's round trip.
        watch = LockWatch(3600.0, lambda: None, lambda held, to: None)
        n = 200_000
        t = _timed(lambda: [(watch.begin("read"), watch.end()) for _ in range(n)])
        watch.close()
        per_read = best["reads", False] / args.n
        print(f"a statement's begin and end: {t / n * 1e6:.2f} µs, {t / n / per_read:.2%} of a read's {per_read * 1e6:.0f} µs")
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]
        if folder is not None:
            stop_cluster(folder)
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
