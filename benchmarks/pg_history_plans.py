"""The PostGIS store's plans of the queries that schema 2's indexes serve, on a history of years, before and after.

Takes a PostGIS store of schema 1 holding a long history (``sitewatch store copy --to URL`` of the workspace
``history_indexes.py`` prepares, run by the sitewatch of schema 1), ANALYZEs it and times each query with
``EXPLAIN (ANALYZE)`` (the median of ``--repeat`` executions, the server's own time), then opens it with this
sitewatch (the migration to schema 2, timed) and does the same again. It prints each plan's first line (what it
reads) and the ratio. The store is migrated: copy it first to keep one of schema 1.

    PYTHONPATH=src python benchmarks/pg_history_plans.py URL [--site port-00] [--repeat 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from typing import Any


def queries(conn: Any, site: str) -> dict[str, tuple[str, tuple[Any, ...]]]:
    """Each query as this sitewatch sends it (``%s`` for PostgreSQL), with arguments from the store's own rows."""
    last, scene = conn.execute(
        "SELECT acquired, scene_id FROM observations WHERE site_id = %s ORDER BY acquired DESC LIMIT 1", (site,)
    ).fetchone()
    before, after = conn.execute(
        "SELECT before_id, after_id FROM change_pairs WHERE site_id = %s ORDER BY after_acquired DESC LIMIT 1", (site,)
    ).fetchone()
    since = last.replace(hour=0, minute=0, second=0) - dt.timedelta(days=91)
    period = "after_id IN (SELECT observation_id FROM observations WHERE 1=1 AND site_id = %s AND acquired >= %s AND acquired <= %s)"
    return {
        "import: a scene id held by another site": ("SELECT provenance FROM observations WHERE scene_id = %s AND site_id != %s",
                                                    (scene.replace(site, "port-99"), site)),
        "a site's change pairs": ("SELECT * FROM change_pairs WHERE 1=1 AND site_id = %s ORDER BY after_acquired, before_acquired, after_id", (site,)),
        "a period's change pairs (90 days)": (f"SELECT * FROM change_pairs WHERE 1=1 AND {period} ORDER BY after_acquired, before_acquired, "
                                              "after_id", (site, since, last)),
        "a period's change regions (90 days)": (f"SELECT * FROM changes WHERE 1=1 AND {period} ORDER BY after_acquired, before_acquired, "
                                                "after_id, area_m2 DESC, change_id", (site, since, last)),
        "a site's alert events": ("SELECT event_key, event, first_reported FROM alert_events WHERE site_id = %s ORDER BY event_date, "
                                  "acquired, fid", (site,)),
        "sites remove: a scene still used": ("SELECT 1 FROM observations WHERE observations.scene_id = %s", (scene,)),
        "a pair by its two ids": ("SELECT site_id, before_id, after_id FROM change_pairs WHERE (before_id = %s AND after_id = %s)",
                                  (before, after)),
    }  # fmt: skip


def timed(conn: Any, sql: str, args: tuple[Any, ...], repeat: int) -> tuple[float, str]:
    """The median execution time (ms) of ``EXPLAIN (ANALYZE)`` over ``repeat`` runs, and the plan's first node."""
    times, plan = [], ""
    for _ in range(repeat):
        rows = [r[0] for r in conn.execute("EXPLAIN (ANALYZE) " + sql, args).fetchall()]
        times.append(float(next(r for r in rows if r.startswith("Execution Time")).split()[2]))
        plan = " / ".join(r.strip(" ->").split("  (")[0] for r in rows if "Scan" in r)
    return statistics.median(times), plan


def measure(url: str, site: str, repeat: int) -> dict[str, tuple[float, str]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
        return {name: timed(conn, sql, args, repeat) for name, (sql, args) in queries(conn, site).items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--site", default="port-00")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    import psycopg

    from sitewatch.store.postgis import PostgisStore

    with psycopg.connect(args.url) as conn:
        version = conn.execute("SELECT value FROM sitewatch_meta WHERE key = 'schema_version'").fetchone()[0]
    if version != "1":
        sys.exit(f"{args.url}: schema {version}, not 1 (the schema before the indexes)")
    before = measure(args.url, args.site, args.repeat)
    t = time.perf_counter()
    PostgisStore(args.url).close()
    print(f"migration to schema 2: {time.perf_counter() - t:.2f} s wall (the client's open included)")
    after = measure(args.url, args.site, args.repeat)
    for name in before:
        (b, bplan), (a, aplan) = before[name], after[name]
        print(f"{name}: {b:.3f} ms -> {a:.3f} ms ({b / max(a, 1e-6):.0f}x)\n    before: {bplan}\n    after:  {aplan}")


if __name__ == "__main__":
    main()
