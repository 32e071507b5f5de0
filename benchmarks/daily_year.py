"""A year of the daily cron job, one cycle a simulated day: what each day costs as the history grows, and
whether every event is told exactly once.

A scenario of three small ports (1.2 x 1.2 km, 120 x 120 pixels of 10 m SAR) imaged every day of 2025 at
09:30 UTC, one of them (``alpha``) a second time at 21:00 UTC every 9th day, six ships calling at them, is
simulated once (``sitewatch simulate``, a few seconds). Then, for each day, the day's images are copied into
the folder a downloader would fill (``incoming/``, which keeps every file, as a download folder does; with
``--drop`` a fresh folder of the day's files alone; ``--new-only`` runs ``import --new-only``), and the job a
user puts in cron runs, with ``TZ`` a zone with summer time (Europe/Berlin), each command in this process (with
``--subprocess`` in one of its own, as cron runs it: slower, Python's imports each time):

    sitewatch -q import incoming/
    sitewatch -q detect alpha; sitewatch -q detect bravo; sitewatch -q detect charlie
    sitewatch alerts check --webhook http://127.0.0.1:PORT/   (a receiver in this process)
    (Sundays) sitewatch timeline alpha --csv ...; sitewatch report alpha --out ...

Days that test the job's bookkeeping (fixed, so runs compare):

- ``bravo`` has no image every 11th day (a pass lost), and ``alpha`` two images every 9th day;
- every 37th day ``charlie``'s image comes two days late (a catalogue publishing late), after the next day's;
- every 29th day the job does not run (the machine was off); the next day's job catches up;
- every 41st day the job is killed (SIGKILL) 0.4 s into ``detect alpha``; the next day's job reruns;
- on 26 October (the clock goes back an hour in Europe/Berlin, and a 02:30 cron job fires twice) the job
  runs twice.

Measured per day: each command's wall time, the GeoPackage's size, rows added to each table, files added in
``archive/`` and elsewhere in the workspace. At the end: each command's time at day 30, 90, 180, N as a
ratio to its time at days 2-6 (medians over 5 days), wall and CPU, the database's bytes a day, and the checks: every event
the receiver got once (no repeat, none lost: the receiver's set equals ``alerts check --all``'s), the
arrivals alerted against the arrivals in the simulator's truth (on the days imaged).

    python benchmarks/daily_year.py [--days 365] [--out DIR] [--drop | --new-only] [--subprocess] [--csv days.csv]
    python benchmarks/daily_year.py --figures days.csv     # the figures of a run kept with --csv
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import http.server
import json
import math
import os
import random
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import yaml

YEAR = dt.date(2025, 1, 1)
SITES = (("alpha", 132.0), ("bravo", 132.1), ("charlie", 132.2))
TZ = "Europe/Berlin"
DST_BACK = dt.date(2025, 10, 26)
"""The clock goes back an hour in Europe/Berlin: a cron job at 02:30 local runs twice."""

RULES = """rules:
  - {id: arrivals, kind: arrival, sites: [alpha, bravo, charlie]}
  - {id: departures, kind: departure, sites: [alpha, bravo, charlie]}
  - {id: busy-alpha, kind: vessel_count, sites: [alpha], above: 1}
  - {id: alpha-to-bravo, kind: link, sites: [alpha, bravo]}
"""


def _box(lon: float, lat: float, half_m: float = 600.0) -> list[list[float]]:
    dlat = half_m / 111_320
    dlon = half_m / (111_320 * math.cos(math.radians(lat)))
    return [[lon - dlon, lat - dlat], [lon + dlon, lat - dlat], [lon + dlon, lat + dlat], [lon - dlon, lat + dlat],
            [lon - dlon, lat - dlat]]


def scenario(days: int) -> dict[str, Any]:
    """Three small ports, SAR daily, ships calling for 2-6 days at a time (fixed seed)."""
    end = YEAR + dt.timedelta(days=days - 1)
    sites = [{"id": sid, "polygon": _box(lon, 43.0), "layout": {
        "scatterers": 10,
        "land": [[[-600, 600], [600, 600], [600, 150], [30, 150], [30, -350], [-30, -350], [-30, 150], [-600, 150]]],
        "berths": [{"id": "pier-east", "line": [[30, -330], [30, 140]]},
                   {"id": "pier-west", "line": [[-30, -330], [-30, 140]]}]}} for sid, lon in SITES]
    acquisitions: list[dict[str, Any]] = [
        {"name": "sar", "site": sid, "sensor": "sar", "platform": "simulated-sar-constellation",
         "collection": "sim-sar-vv", "resolution_m": 10, "start": YEAR.isoformat(), "end": end.isoformat(),
         "revisit_days": 1, "time_utc": "09:30", "enl": 4.6} for sid, _ in SITES]
    acquisitions.append({"name": "sar-pm", "site": "alpha", "sensor": "sar", "platform": "simulated-sar-constellation",
                         "collection": "sim-sar-vv", "resolution_m": 10, "start": YEAR.isoformat(),
                         "end": end.isoformat(), "revisit_days": 9, "time_utc": "21:00", "enl": 4.6})
    # Ships over the whole year whatever --days, so that a shorter run is the start of the year's.
    year_end = dt.date(YEAR.year, 12, 31)
    rng = random.Random(1)
    vessels = []
    for k in range(6):
        visits: list[dict[str, Any]] = []
        day = YEAR + dt.timedelta(days=2 + k * 5)
        while True:
            stay_end = day + dt.timedelta(days=rng.randint(2, 6))
            if stay_end > year_end:
                break
            visits.append({"site": SITES[(k + len(visits)) % 3][0], "berth": "pier-east" if k % 2 else "pier-west",
                           "at_m": 120 + (k // 2) * 170, "start": day.isoformat(), "end": stay_end.isoformat()})
            day = stay_end + dt.timedelta(days=rng.randint(8, 30))
        vessels.append({"id": f"ship-{k}", "class": "general cargo", "length_m": float(rng.choice([80, 90, 100, 110])),
                        "width_m": 14.0, "visits": visits})
    return {"name": "daily-year", "seed": 7, "title": "A year of daily SAR at three small ports (SIMULATED)",
            "sites": sites, "acquisitions": acquisitions, "vessels": vessels}


class _Receiver(http.server.BaseHTTPRequestHandler):
    got: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        _Receiver.got.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        pass


def _run(cmd: list[str], env: dict[str, str], fresh: bool) -> tuple[float, float, int, str]:
    """Run one sitewatch command: wall seconds, CPU seconds, exit code, standard error."""
    t0 = time.perf_counter()
    if fresh:
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        return time.perf_counter() - t0, cpu, done.returncode, done.stderr
    from click.testing import CliRunner

    from sitewatch.cli import main

    c0 = time.process_time()
    res = CliRunner().invoke(main, cmd[3:], catch_exceptions=True)
    err = res.output + (repr(res.exception) if res.exception and not isinstance(res.exception, SystemExit) else "")
    return time.perf_counter() - t0, time.process_time() - c0, res.exit_code, err


def _tables(db: Path) -> dict[str, int]:
    with closing(sqlite3.connect(db)) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'rtree_%'"
                                           " AND name NOT LIKE 'gpkg_%'")]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def _files(ws: Path) -> dict[str, int]:
    out: Counter[str] = Counter()
    for p in ws.rglob("*"):
        if p.is_file():
            rel = p.relative_to(ws).parts
            top = rel[0] if len(rel) > 1 else "(top)"
            if top == "incoming":
                continue
            out[top] += 1
    return dict(out)


def _scenes_of(sim: Path, day: dt.date) -> list[Path]:
    stamp = day.strftime("%Y%m%d")
    return sorted(p for p in sim.glob(f"*/sim-*-{stamp}T*.tif"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--out", type=Path, help="Folder to keep (default: a temporary one, removed after).")
    ap.add_argument("--drop", action="store_true", help="Give import the day's files alone, not the folder of all.")
    ap.add_argument("--csv", type=Path, help="Write the per-day figures here.")
    ap.add_argument("--new-only", action="store_true", help="import --new-only (with a folder that keeps every file).")
    ap.add_argument("--subprocess", action="store_true",
                    help="Run every command in a fresh process, as cron does (slower: imports each time). Default: "
                         "in this process (the job killed mid-way always runs in its own).")
    ap.add_argument("--figures", type=Path, metavar="CSV", help="Print the figures of a run's --csv, and run nothing.")
    args = ap.parse_args()
    if args.figures:
        print_figures(_read_csv(args.figures), str(args.figures))
        return
    root = args.out or Path(tempfile.mkdtemp(prefix="daily-year-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        run(root, args)
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)


def run(root: Path, args: argparse.Namespace) -> None:
    env = {**os.environ, "TZ": TZ, "SITEWATCH_WORKERS": "1"}
    os.environ.update(TZ=TZ, SITEWATCH_WORKERS="1")
    time.tzset()
    sw = [sys.executable, "-m", "sitewatch"]
    sim, ws = root / "sim", root / "ws"
    for p in (sim, ws):
        shutil.rmtree(p, ignore_errors=True)
    (root / "year.yaml").write_text(yaml.safe_dump(scenario(args.days), sort_keys=False), encoding="utf-8")
    subprocess.run([*sw, "-q", "simulate", str(root / "year.yaml"), "-o", str(sim)], check=True, env=env,
                   capture_output=True)
    subprocess.run([*sw, "-q", "init", str(ws)], check=True, env=env, capture_output=True)
    for sid, _ in SITES:
        subprocess.run([*sw, "-q", "sites", "import", str(sim / sid / "layout.geojson"), "-w", str(ws)], check=True,
                       env=env, capture_output=True)
    (ws / "alerts.yaml").write_text(RULES, encoding="utf-8")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/"
    incoming = ws / "incoming"
    incoming.mkdir()

    rows: list[dict[str, Any]] = []
    pending: list[Path] = []
    late: dict[int, list[Path]] = {}
    delivered: list[Path] = []
    prev_tables, prev_files = _tables(ws / "sitewatch.gpkg"), _files(ws)
    exits: Counter[str] = Counter()
    for n in range(args.days):
        day = YEAR + dt.timedelta(days=n)
        scenes = [p for p in _scenes_of(sim, day) if not (p.parent.name == "bravo" and n % 11 == 5)]
        late_now = [p for p in scenes if p.parent.name == "charlie" and n % 37 == 30]
        late.setdefault(n + 2, []).extend(late_now)
        pending += [p for p in scenes if p not in late_now] + late.pop(n, [])
        if n % 29 == 13:
            rows.append({"day": n + 1, "date": day.isoformat(), "ran": "skipped"})
            continue
        if args.drop:
            shutil.rmtree(incoming)
            incoming.mkdir()
        for p in pending:
            shutil.copy2(p, incoming / p.name)
        delivered += pending
        pending = []
        row: dict[str, Any] = {"day": n + 1, "date": day.isoformat(), "ran": "yes", "images": len(scenes)}
        cmds: list[tuple[str, list[str]]] = [
            ("import", [*sw, "-q", "import", str(incoming), "-w", str(ws), *(["--new-only"] if args.new_only else [])])]
        cmds += [(f"detect {sid}", [*sw, "-q", "detect", sid, "-w", str(ws)]) for sid, _ in SITES]
        cmds.append(("alerts", [*sw, "-q", "alerts", "check", "-w", str(ws), "--webhook", hook]))
        if day.weekday() == 6:
            cmds.append(("timeline", [*sw, "-q", "timeline", "alpha", "-w", str(ws), "--csv", str(root / "alpha.csv")]))
            cmds.append(("report", [*sw, "-q", "report", "alpha", "-w", str(ws), "--out", str(root / "alpha.html")]))
        for repeat in range(2 if day == DST_BACK else 1):
            for name, cmd in cmds:
                if n % 41 == 20 and name == "detect alpha" and repeat == 0:
                    # killed mid-way (a reboot, the OOM killer): always a process of its own
                    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    time.sleep(0.4)
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    row["ran"] = "killed"
                    break
                wall, cpu, code, err = _run(cmd, env, args.subprocess)
                key = name.split()[0] if name.startswith(("alerts", "import")) else name
                row[key] = row.get(key, 0) + wall
                row[f"cpu {key}"] = row.get(f"cpu {key}", 0) + cpu
                exits[f"{name}: {code}"] += 1
                if code not in (0, 3):
                    print(f"day {n + 1} {name}: exit {code}\n{err[-2000:]}", file=sys.stderr)
            if row["ran"] == "killed":
                break
        tables, files = _tables(ws / "sitewatch.gpkg"), _files(ws)
        row["db_bytes"] = (ws / "sitewatch.gpkg").stat().st_size
        for t, c in tables.items():
            row[f"+{t}"] = c - prev_tables.get(t, 0)
        for d, c in files.items():
            row[f"+files {d}"] = c - prev_files.get(d, 0)
        prev_tables, prev_files = tables, files
        rows.append(row)
        if (n + 1) % 30 == 0:
            print(f"day {n + 1}: {json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()})}",
                  flush=True)

    # a last job with nothing new: it tells nothing, and --all gives every event the receiver should hold
    subprocess.run([*sw, "-q", "alerts", "check", "-w", str(ws), "--webhook", hook], env=env, check=True,
                   capture_output=True)
    every = subprocess.run([*sw, "-q", "alerts", "check", "--all", "--json", "-w", str(ws)], env=env, check=True,
                           capture_output=True, text=True).stdout
    server.shutdown()
    report(rows, args, ws, every, delivered, sim, exits)


def _median_in(rows: list[dict[str, Any]], key: str, first: int, last: int) -> float | None:
    """The median of ``key`` over the days ``first``..``last`` on which it was measured."""
    vals = [r[key] for r in rows if key in r and first <= r["day"] <= last]
    return statistics.median(vals) if vals else None


def _truth_arrivals(sim: Path, delivered: list[Path]) -> set[tuple[str, str, str]]:
    """(site, date, berth) of each arrival in the images delivered: at a berth there, not in the last image before."""
    by_site: dict[str, dict[str, set[tuple[str, str]]]] = {}
    for p in delivered:
        truth = json.loads(p.with_suffix(".truth.geojson").read_text(encoding="utf-8"))
        date = p.stem.split("-")[-1][:8]
        date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
        seen = by_site.setdefault(p.parent.name, {}).setdefault(date, set())
        for f in truth["features"]:
            props = f["properties"]
            if props.get("berth") and props.get("visible", True):
                seen.add((props["id"], props["berth"]))
    out = set()
    for site, dates in by_site.items():
        before: set[tuple[str, str]] = set()
        for date in sorted(dates):
            for _vessel, berth in dates[date] - before:
                out.add((site, date, berth))
            before = dates[date]
    return out


def print_figures(rows: list[dict[str, Any]], mode: str) -> None:
    """Each command's time at day 30, 90, 180 and the last against days 2-6; the database's growth; rows added."""
    ran = [r for r in rows if r["ran"] != "skipped"]
    last = rows[-1]["day"]
    marks = sorted({d for d in (30, 90, 180, last) if d <= last})
    print(f"\n{last} days, {len(ran)} jobs run ({mode})")
    print("(ratios: median of the 5 days up to the day against days 2-6; timeline, report: weekly, the 2 weeks up to it "
          "against days 1-14)")
    print("command (s)          days 2-6   " + "  ".join(f"day {d:>3}" for d in marks) + f"   day {last} (s)")
    for key in [k for base in ("import", *(f"detect {s}" for s, _ in SITES), "alerts", "timeline", "report")
                for k in (base, f"cpu {base}")]:
        weekly = key.endswith(("timeline", "report"))
        base = _median_in(rows, key, 1, 14) if weekly else _median_in(rows, key, 2, 6)
        if base is None:
            continue
        ratios = []
        v = None
        for d in marks:
            v = _median_in(rows, key, d - 13, d) if weekly else _median_in(rows, key, d - 4, d)
            ratios.append(f"{(v if v is not None else math.nan) / base:6.2f}x")
        print(f"{key:18s} {base:8.3f}   " + "  ".join(ratios) + f"   {v if v is not None else math.nan:8.3f}")
    sizes = [(r["day"], r["db_bytes"]) for r in ran]
    growth = (sizes[-1][1] - sizes[0][1]) / max(1, sizes[-1][0] - sizes[0][0])
    print(f"GeoPackage: {sizes[0][1] / 1e6:.2f} MB after day {sizes[0][0]}, {sizes[-1][1] / 1e6:.2f} MB after day "
          f"{sizes[-1][0]}: {growth / 1e3:.1f} kB a day")
    added = Counter[str]()
    for r in ran:
        for k, v in r.items():
            if k.startswith("+"):
                added[k] += v
    print("added over the year: " + ", ".join(f"{k[1:]} {v}" for k, v in sorted(added.items()) if v))


def _read_csv(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            rows.append({k: v if k in ("date", "ran") else int(v) if k in ("day", "images", "db_bytes") or k.startswith("+")
                         else float(v) for k, v in r.items() if v != ""})
    return rows


def report(rows: list[dict[str, Any]], args: argparse.Namespace, ws: Path, every: str, delivered: list[Path],
           sim: Path, exits: Counter[str]) -> None:
    if args.csv:
        keys = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("day", "date", "ran"), k))
        with args.csv.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, keys)
            w.writeheader()
            w.writerows(rows)
    print_figures(rows, "day files alone" if args.drop else "incoming/ keeps every file"
                  + (", import --new-only" if args.new_only else ""))
    print("exit codes: " + ", ".join(f"{k} x{v}" for k, v in sorted(exits.items())))

    got = Counter(e["event_id"] for e in _Receiver.got)
    repeats = {k: v for k, v in got.items() if v > 1}
    events = [json.loads(line) for line in every.splitlines() if line.strip()]
    ids = {e["event_id"] for e in events}
    lines = Counter(json.loads(line)["event_id"]
                    for line in (ws / "alerts.jsonl").read_text(encoding="utf-8").splitlines() if line.strip())
    print(f"events: {len(ids)} known (alerts check --all), {len(got)} posted to the webhook "
          f"({sum(got.values())} posts), {len(lines)} in alerts.jsonl ({sum(lines.values())} lines)")
    print(f"  posted more than once: {len(repeats)} {sorted(repeats.items())[:5]}")
    print(f"  known but never posted: {len(ids - set(got))} {sorted(ids - set(got))[:5]}")
    print(f"  posted but no longer known: {len(set(got) - ids)} {sorted(set(got) - ids)[:5]}")
    truth = _truth_arrivals(sim, delivered)
    told = {(e["site"], e["date"], e["details"].get("berth")) for e in events if e["kind"] == "arrival"}
    print(f"arrivals: {len(truth)} in the simulator's truth (days imaged), {len(told)} alerted; "
          f"{len(truth & told)} agree, {len(truth - told)} missed, {len(told - truth)} not in the truth")
    if truth - told:
        print(f"  missed: {sorted(truth - told)[:8]}")
    if told - truth:
        print(f"  not in the truth: {sorted(told - truth)[:8]}")


if __name__ == "__main__":
    main()
