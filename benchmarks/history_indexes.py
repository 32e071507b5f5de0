"""The indexes of schema 11 on a history of years: what reads by scene id, a site's change pairs, a period's pairs
and regions or a site's alert events costs before (the code in ``--before-src``, schema 10) and after (this code,
on the same workspace migrated), in the same run, with the ratio.

``--workspace`` is a workspace of schema 10 with its history (``history_scale.py --out DIR`` leaves one in
``DIR/ws``); it is never written: each run works on a fresh copy (the database and settings copied, the archive
hard-linked). ``--day`` is a folder of one day's images new to it (another acquisition time than its observations).
``--pairs-of SITE``: before anything, the change pairs ``sitewatch change SITE`` stored in it (run it first on the
workspace) are copied to every other site, the pair of the same dates and sensor with the same regions moved by the
sites' offset (through the store's own ``replace_changes``), as if ``change`` had run on every site (into the
first copy, by the code before, so that it stays of schema 10); where the other site has both images.

Measured, each in a fresh process (CPU seconds, user+system, ``wait4``), before and after alternating, median of
``--repeat``:

- the migration itself, once (``sitewatch store info`` on the copy of schema 10), and an open after it;
- ``import DAY`` (into a fresh copy each run) and ``sites remove SITE --with-observations`` (likewise), the
  observations left checked to be the same;
- ``report SITE --from/--to`` (``--month``);
- the dashboard's requests (in one process per code, FastAPI's test client, after a first request to another
  site's page; CPU of the process over each request, ``process_time``): the site page, the site's changes and
  alerts, whole and for the page's 90 days, a pair's page; their answers checked to be byte for byte the same
  (but for the workspace's folder, which the pages name).

    python benchmarks/history_indexes.py --workspace WS --day DAY --before-src OLD/src --out DIR [--pairs-of port-00] [--repeat 5] [--reuse]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"

PROBE = r"""
import hashlib, json, sys, time
from fastapi.testclient import TestClient
from sitewatch.web.app import create_app
ws, warm, repeat, paths = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
client = TestClient(create_app(ws))
assert client.get(f"/sites/{warm}").status_code == 200  # the libraries loaded, as in a server running for a while
out = {}
for name, path in paths.items():
    cpu, digest = [], None
    for _ in range(repeat):
        c = time.process_time()
        r = client.get(path)
        cpu.append(time.process_time() - c)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        body = r.content.replace(ws.encode(), b"WORKSPACE")  # (pages name their folder)
        digest = hashlib.sha256(body).hexdigest()
    out[name] = {"cpu": cpu, "bytes": len(body), "sha256": digest}
print(json.dumps(out))
"""


def fresh_copy(workspace: Path, to: Path) -> Path:
    """``workspace``'s database and settings copied into ``to``, its archive hard-linked."""
    shutil.rmtree(to, ignore_errors=True)
    to.mkdir(parents=True)
    for name in ("sitewatch.gpkg", "sitewatch.toml"):
        shutil.copy(workspace / name, to / name)
    subprocess.run(["cp", "-al", str(workspace / "archive"), str(to / "archive")], check=True)
    return to


def cpu_of(src: Path, cmd: list[str], *, stdout: Path | None = None) -> float:
    """CPU seconds of ``python -m sitewatch CMD`` run by the code in ``src`` (one worker, UTC); stops on a failure."""
    env = {**os.environ, "PYTHONPATH": str(src), "SITEWATCH_WORKERS": "1", "TZ": "UTC"}
    out = stdout.open("wb") if stdout else subprocess.DEVNULL
    try:
        proc = subprocess.Popen([sys.executable, "-m", "sitewatch", *cmd], env=env, stdout=out, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        if stdout:
            out.close()  # type: ignore[union-attr]
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):
        sys.exit(f"{src}: sitewatch {' '.join(cmd)}: exit {code}\n{err.decode(errors='replace')[-1500:]}")
    return usage.ru_utime + usage.ru_stime


def schema_of(ws: Path) -> int:
    with closing(sqlite3.connect(ws / "sitewatch.gpkg")) as db:
        return int(db.execute("SELECT value FROM sitewatch_meta WHERE key = 'schema_version'").fetchone()[0])


def observations_of(ws: Path) -> list[tuple[Any, ...]]:
    """The observations whose equality says that two runs did the same (provenance without run time and source path)."""
    with closing(sqlite3.connect(ws / "sitewatch.gpkg")) as db:
        rows = []
        for oid, sha, text in db.execute("SELECT observation_id, sha256, provenance FROM observations ORDER BY observation_id"):
            prov = json.loads(text)
            for key in ("ingested_at", "source_path", "source_mtime_ns"):
                prov.pop(key, None)
            rows.append((oid, sha, json.dumps(prov, sort_keys=True)))
        return rows


def copy_pairs(ws: Path, site: str) -> int:
    """The change pairs stored for ``site`` copied to every other site of ``ws`` (see the module's doc); the count."""
    from shapely.affinity import translate

    from sitewatch.model import Change
    from sitewatch.store.changes import pairs_with_regions, replace_changes
    from sitewatch.workspace import open_workspace

    added = 0
    with open_workspace(ws).store() as store:
        pairs = pairs_with_regions(store, site)
        here = store.get_site(site).geometry.centroid
        for other in [s.id for s in store.sites() if s.id != site]:
            there = store.get_site(other).geometry.centroid
            dx, dy = there.x - here.x, there.y - here.y
            held = {r[0] for r in store.execute("SELECT observation_id FROM observations WHERE site_id = ?", (other,))}
            for p, regions in pairs:
                ids = [i.replace(site, other) for i in (p.before_id, p.after_id)]
                if not set(ids) <= held:  # (optical images at three of the ten sites)
                    continue
                before, after = (store.get_observation(i) for i in ids)
                moved = [Change(c.id.replace(site, other), other, before.id, after.id, translate(c.polygon, dx, dy), c.area_m2,
                                c.magnitude, c.direction, c.method, c.method_version) for c in regions]  # fmt: skip
                replace_changes(store, before, after, compared_fraction=p.compared_fraction, method=p.method,
                                method_version=p.method_version, parameters=p.parameters, changes=moved)  # fmt: skip
                added += 1
    return added


def web(src: Path, ws: Path, warm: str, repeat: int, paths: dict[str, str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src), "TZ": "UTC"}
    res = subprocess.run([sys.executable, "-c", PROBE, str(ws), warm, str(repeat), json.dumps(paths)], env=env,
                         capture_output=True, text=True)  # fmt: skip
    if res.returncode:
        sys.exit(f"{src}: the dashboard's requests failed\n{res.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return figures


def _prepare(args: argparse.Namespace, base: Path, before_src: Path) -> None:
    """The copy of ``--workspace`` every run starts from, with the pairs of ``--pairs-of`` copied to the other sites."""
    fresh_copy(args.workspace, base)
    if schema_of(base) != 10:
        sys.exit(f"{args.workspace}: schema {schema_of(base)}, not 10 (the schema before the indexes)")
    if args.pairs_of:
        env = {**os.environ, "PYTHONPATH": str(before_src), "TZ": "UTC"}
        added = subprocess.run([sys.executable, __file__, "--copy-pairs", str(base), args.pairs_of], env=env, check=True,
                               capture_output=True, text=True).stdout.strip()  # fmt: skip
        print(f"{added} change pairs copied from {args.pairs_of} to the other sites", flush=True)
    (base / ".prepared").write_text("", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, help="A workspace of schema 10 with its history (never written).")
    ap.add_argument("--day", type=Path, help="A folder of one day's images, new to the workspace.")
    ap.add_argument("--before-src", type=Path, help="The src folder of the code before (schema 10).")
    ap.add_argument("--out", type=Path, help="Where the copies go.")
    ap.add_argument("--site", default="port-00")
    ap.add_argument("--remove", default="port-09", help="The site `sites remove --with-observations` removes.")
    ap.add_argument("--warm", default="port-01")
    ap.add_argument("--month", default="2021-02")
    ap.add_argument("--pairs-of", metavar="SITE", help="Copy SITE's stored change pairs to every other site first.")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--reuse", action="store_true", help="Start from the prepared copy an earlier run left in --out.")
    ap.add_argument("--json", type=Path, help="Write the figures here.")
    ap.add_argument("--copy-pairs", nargs=2, metavar=("WS", "SITE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.copy_pairs:
        print(copy_pairs(Path(args.copy_pairs[0]), args.copy_pairs[1]))
        return
    if None in (args.workspace, args.day, args.before_src, args.out):
        ap.error("--workspace, --day, --before-src and --out are required")
    before_src, after_src = args.before_src.resolve(), SRC
    out = args.out.resolve()
    base = out / "base"
    if args.reuse and (base / ".prepared").exists():
        print(f"{base}: the copy of an earlier run, reused")
    else:
        _prepare(args, base, before_src)
    with closing(sqlite3.connect(base / "sitewatch.gpkg")) as db:
        counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("observations", "scenes", "detections", "change_pairs", "changes", "alert_events")}  # fmt: skip
    print(f"workspace: {json.dumps(counts)}", flush=True)
    figures: dict[str, dict[str, list[float]]] = {}

    def add(name: str, side: str, cpu: float) -> None:
        figures.setdefault(name, {"before": [], "after": []})[side].append(cpu)

    migrated = fresh_copy(base, out / "migrated")
    add("migration to schema 11 (once)", "after", cpu_of(after_src, ["store", "info", "-w", str(migrated)]))
    if schema_of(migrated) != 11:
        sys.exit("the copy was not migrated to schema 11")
    for _ in range(args.repeat):
        add("open: store info", "before", cpu_of(before_src, ["store", "info", "-w", str(base)]))
        add("open: store info", "after", cpu_of(after_src, ["store", "info", "-w", str(migrated)]))
    month = [f"{args.month}-01", f"{args.month}-28"]
    left: dict[str, list[tuple[Any, ...]]] = {}
    for k in range(args.repeat):
        order = [("before", before_src, base), ("after", after_src, migrated)]
        for side, src, ws in order if k % 2 == 0 else order[::-1]:
            run = fresh_copy(ws, out / f"run-{side}")
            add(f"import (one day, {len(list(args.day.iterdir()))} files)", side, cpu_of(src, ["-q", "import", str(args.day), "-w", str(run)]))
            left.setdefault(f"import {side}", observations_of(run))
            run = fresh_copy(ws, out / f"run-{side}")
            add(f"sites remove {args.remove} --with-observations", side,
                cpu_of(src, ["-q", "sites", "remove", args.remove, "--with-observations", "-w", str(run)]))
            left.setdefault(f"remove {side}", observations_of(run))
            add(f"report {args.site} --from/--to {args.month}", side,
                cpu_of(src, ["-q", "report", args.site, "-w", str(ws), "--out", str(out / f"report-{side}.html"), "--from", month[0], "--to", month[1]]))
    for what in ("import", "remove"):
        if left[f"{what} before"] != left[f"{what} after"]:
            sys.exit(f"{what}: the observations left differ between the two codes")
    print(f"import and sites remove: the same observations left by both ({len(left['import after'])}, {len(left['remove after'])})")
    with closing(sqlite3.connect(base / "sitewatch.gpkg")) as db:
        last = db.execute("SELECT max(acquired) FROM observations WHERE site_id = ?", (args.site,)).fetchone()[0][:10]
        pair = db.execute("SELECT before_id || '..' || after_id FROM change_pairs WHERE site_id = ? ORDER BY after_acquired DESC "
                          "LIMIT 1", (args.site,)).fetchone()  # fmt: skip
    period = f"?from={dt.date.fromisoformat(last) - dt.timedelta(days=89)}&to={last}"
    paths = {
        "site page (90 days)": f"/sites/{args.site}",
        "api changes": f"/api/sites/{args.site}/changes",
        "api changes (90 days)": f"/api/sites/{args.site}/changes{period}",
        "api alerts": f"/api/sites/{args.site}/alerts",
        "api alerts (90 days)": f"/api/sites/{args.site}/alerts{period}",
    }
    if pair:
        paths["pair page"] = f"/changes/{pair[0]}"
    answers = {}
    for k in range(2):
        order = [("before", before_src, base), ("after", after_src, migrated)]
        for side, src, ws in order if k % 2 == 0 else order[::-1]:
            got = web(src, ws, args.warm, args.repeat, paths)
            for name, f in got.items():
                for cpu in f["cpu"]:
                    add(f"web {name}", side, cpu)
                answers.setdefault(side, {})[name] = (f["bytes"], f["sha256"])
    if answers["before"] != answers["after"]:
        diff = {n for n in paths if answers["before"][n] != answers["after"][n]}
        sys.exit(f"the dashboard's answers differ between the two codes: {sorted(diff)}")
    print(f"dashboard: every answer byte-identical ({', '.join(f'{n} {b / 1e3:.0f} kB' for n, (b, _) in answers['after'].items())})")
    print(f"\n{'':48s}{'before':>10s}{'after':>10s}{'ratio':>8s}   (CPU s, median of {args.repeat}; the web's of {2 * args.repeat})")
    for name, f in figures.items():
        b = statistics.median(f["before"]) if f["before"] else float("nan")
        a = statistics.median(f["after"])
        print(f"{name:48s}{b:10.3f}{a:10.3f}{a / b if f['before'] else float('nan'):8.2f}")
    if args.json:
        args.json.write_text(json.dumps({"counts": counts, "figures": figures}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
