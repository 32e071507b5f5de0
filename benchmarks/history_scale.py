"""Years of the daily job: what ONE day's run costs, and what the reading commands give, as the history grows.

A scenario of ten small ports (1.2 x 1.2 km, 120 x 120 pixels of 10 m SAR every day at 09:30 UTC; three of
them also a Sentinel-2-like optical image every 5th day at 01:50 UTC, a fifth of those cloudy; a dozen
ships calling 2-6 days at a time, a few days to a month apart) is simulated once over the whole period
(``sitewatch simulate``). Then one workspace is brought up to each history length in turn, every step
through the real commands:

- *the template* (not measured): the first ``--template`` days (60) go in as one ``import`` of a folder of
  their files and one ``detect`` of every site;
- *history* (not measured): copies of the template's rows placed before it, ``--template`` days further back
  each (:func:`fill`: each observation's scene, row, COG (hard-linked) and detections, with the dates
  shifted, written by the store's own methods; the detect state as a ``detect`` would leave it), then one
  ``detect`` and one ``alerts check`` (events recorded), so that the workspace holds the history length;
- *the daily job* (measured, each command in a fresh process as cron runs it): for each of the next
  3 days, ``import`` of that day's files alone (a folder of them), ``detect`` (every site, one run) and
  ``alerts check`` (with a webhook receiver in this script); the figure is the median of the 3 days;
- *the reading commands* (measured once at each length, fresh processes): ``timeline``, ``report``,
  ``export`` (GeoJSON, CSV), ``links``, ``observations`` (table and --json), and the dashboard's site
  page and API (in a process of its own, through FastAPI's test client), with their output's size.

Each figure is CPU seconds (user+system of the command's process, from ``wait4``) and peak RSS, with the
ratio to the shortest history measured in the same run. The days measured are real: simulated images through
the real commands; only the history before them is copied (the rows the real commands made of the template).

    python benchmarks/history_scale.py [--lengths 60,360,1080,1800] [--template 60] [--sites 10] [--out DIR] [--json figures.json] [--no-read]
    python benchmarks/history_scale.py --out DIR --reuse   # the simulated images of an earlier run in DIR
    python benchmarks/history_scale.py --lengths 60,1800 --no-read --before-src /work/main/src --profile-import DIR

``--rerun``: one more day at each length with nothing new, the job run again as a folder that keeps every file
makes it: ``import`` of the template's folder (no ``--new-only``), ``detect``, ``alerts check``, each measured as
"… (rerun)", and the check's CPU printed as a ratio to a new day's of the same run.

``--rerun-force``: one more day at each length that is ``detect --force`` with nothing new (the same images, the same
code), then ``alerts check``, measured as "… (force)"; with ``--before-src``, the sitewatch in SRC runs that day's
``detect --force`` and ``alerts check`` too, on a copy of the workspace made before it (the archive linked, not
copied), measured as "… (force, before)", its output compared byte for byte.

``--before-src SRC``: each day's ``alerts check`` is also run by the sitewatch in SRC (the code before a change) on
a copy of the workspace as it stands before the check (the database, settings, rules and events file; not the
archive), measured as "alerts check (before)"; the two runs' standard output and events files must be byte for
byte the same (the script stops otherwise). ``--profile-import DIR``: one more day at each length whose ``import``
runs under cProfile (``DIR/import-LENGTH.prof``; not measured), then its ``detect`` and ``alerts check`` as usual.
``--compare-to DIR``: the same comparison against an earlier run's ``--out`` (run with the other sitewatch as a
whole, e.g. when the newer one migrated the database to a schema the older cannot open, so that ``--before-src``
cannot run it on a copy), after the run: each day's output and the final ``alerts.jsonl``.
``--story``: at each length the first day's images are held back and imported with the third day's (into the past),
and the ``busy`` rule's threshold changes that day: with ``--before-src``, the byte-for-byte comparison through both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

START = dt.date(2021, 1, 1)
OPTICAL_EVERY = 5
RULES_TEMPLATE = """rules:
  - {{id: arrivals, kind: arrival, sites: [{all}]}}
  - {{id: departures, kind: departure, sites: [{all}]}}
  - {{id: busy, kind: vessel_count, sites: [{first}], above: 1}}
  - {{id: link, kind: link, sites: [{first}, {second}]}}
"""


def _box(lon: float, lat: float, half_m: float = 600.0) -> list[list[float]]:
    dlat = half_m / 111_320
    dlon = half_m / (111_320 * math.cos(math.radians(lat)))
    return [[lon - dlon, lat - dlat], [lon + dlon, lat - dlat], [lon + dlon, lat + dlat], [lon - dlon, lat + dlat],
            [lon - dlon, lat - dlat]]


def site_ids(n: int) -> list[str]:
    return [f"port-{k:02d}" for k in range(n)]


def scenario(days: int, n_sites: int) -> dict[str, Any]:
    """Ten small ports, SAR daily, optical every 5th day at three, ships calling (fixed seed)."""
    end = START + dt.timedelta(days=days - 1)
    ids = site_ids(n_sites)
    sites = [{"id": sid, "polygon": _box(132.0 + 0.1 * k, 43.0), "layout": {
        "scatterers": 10,
        "land": [[[-600, 600], [600, 600], [600, 150], [30, 150], [30, -350], [-30, -350], [-30, 150], [-600, 150]]],
        "berths": [{"id": "pier-east", "line": [[30, -330], [30, 140]]},
                   {"id": "pier-west", "line": [[-30, -330], [-30, 140]]}]}} for k, sid in enumerate(ids)]
    acquisitions: list[dict[str, Any]] = [
        {"name": "sar", "site": sid, "sensor": "sar", "platform": "simulated-sar-constellation",
         "collection": "sim-sar-vv", "resolution_m": 10, "start": START.isoformat(), "end": end.isoformat(),
         "revisit_days": 1, "time_utc": "09:30", "enl": 4.6} for sid in ids]
    acquisitions += [
        {"name": "s2", "site": sid, "sensor": "optical", "platform": "simulated-sentinel-2",
         "collection": "sim-sentinel-2-l2a", "resolution_m": 10, "start": START.isoformat(), "end": end.isoformat(),
         "revisit_days": OPTICAL_EVERY, "time_utc": "01:50", "cloud_probability": 0.2} for sid in ids[:3]]
    rng = random.Random(1)
    vessels = []
    for k in range(12):
        visits: list[dict[str, Any]] = []
        day = START + dt.timedelta(days=2 + k * 3)
        while True:
            stay_end = day + dt.timedelta(days=rng.randint(2, 6))
            if stay_end > end:
                break
            visits.append({"site": ids[(k + len(visits)) % n_sites], "berth": "pier-east" if k % 2 else "pier-west",
                           "at_m": 60 + (k // 2) * 75, "start": day.isoformat(), "end": stay_end.isoformat()})
            day = stay_end + dt.timedelta(days=rng.randint(5, 30))
        vessels.append({"id": f"ship-{k}", "class": "general cargo", "length_m": float(rng.choice([60, 70, 80])),
                        "width_m": 12.0, "visits": visits})
    return {"name": "history-scale", "seed": 7, "title": "Years of daily SAR at ten small ports (SIMULATED)",
            "sites": sites, "acquisitions": acquisitions, "vessels": vessels}


class _Receiver(http.server.BaseHTTPRequestHandler):
    got: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        _Receiver.got.append(json.loads(body)["event_id"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        pass


def measure(cmd: list[str], env: dict[str, str], *, stdout: Path | None = None, timeout: float | None = None) -> dict[str, Any]:
    """Run one command in a fresh process: its own CPU seconds and peak RSS (``wait4``), exit code, stderr tail;
    with ``timeout`` (wall seconds) it is killed then, and its code is "timeout"."""
    out = stdout.open("wb") if stdout else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.PIPE)
        timer = threading.Timer(timeout, proc.kill) if timeout else None
        if timer:
            timer.start()
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if timer:
            timer.cancel()
    finally:
        if stdout:
            out.close()  # type: ignore[union-attr]
    code: int | str = "timeout" if proc.returncode == -9 else proc.returncode
    return {"cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024, "code": code,
            "stderr": err.decode(errors="replace")[-1500:]}


def _day_of(p: Path) -> int:
    stamp = p.stem.split("-")[-1][:8]
    return (dt.date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:])) - START).days


WEB_PROBE = r"""
import sys, time
from fastapi.testclient import TestClient
from sitewatch.web.app import create_app
ws, site, what = sys.argv[1], sys.argv[2], sys.argv[3]
client = TestClient(create_app(ws))
r = client.get(what.replace("SITE", site))
assert r.status_code == 200, (r.status_code, r.text[:500])
sys.stdout.buffer.write(r.content)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", default="60,360,1080,1800", help="History lengths (days, multiples of --template) to measure at.")
    ap.add_argument("--template", type=int, default=60, help="Days really imported and detected, copied back in time.")
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--out", type=Path, help="Folder to keep (default: a temporary one, removed after).")
    ap.add_argument("--reuse", action="store_true", help="Reuse the simulated images in --out (sim/).")
    ap.add_argument("--json", type=Path, help="Write the figures here.")
    ap.add_argument("--read-timeout", type=float, default=300, help="Wall seconds a reading command may take (killed then).")
    ap.add_argument("--no-read", action="store_true", help="Measure the daily job alone.")
    ap.add_argument("--before-src", type=Path, help="Also run each day's alerts check with the sitewatch in this src folder, on a copy; compare.")
    ap.add_argument("--profile-import", type=Path, metavar="DIR", help="One more day at each length, its import under cProfile into DIR.")
    ap.add_argument("--rerun", action="store_true", help="One more day at each length that is a rerun: the template's "
                    "folder imported again (no --new-only), detect, alerts check, measured as '… (rerun)'.")
    ap.add_argument("--rerun-force", action="store_true", help="One more day at each length: detect --force with "
                    "nothing new, then alerts check, measured as '… (force)' (with --before-src: by both codes).")
    ap.add_argument("--story", action="store_true", help="At each length the first day's images come two days late, "
                    "with a rule changed (with --before-src: the comparison through both; the figures are not a day's).")
    ap.add_argument("--compare-to", type=Path, metavar="DIR", help="The --out of an earlier run (another sitewatch, "
                    "e.g. one whose schema the other cannot open): each day's alerts check output and alerts.jsonl "
                    "must be byte for byte the same as there.")
    ap.add_argument("--fill", nargs=4, metavar=("WS", "TEMPLATE", "FIRST", "END"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fill:
        ws, template, first, end = args.fill
        print(fill(Path(ws), int(template), range(int(first), int(end))))
        return
    root = args.out or Path(tempfile.mkdtemp(prefix="history-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        run(root, args)
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)


def run(root: Path, args: argparse.Namespace) -> None:
    lengths = sorted(int(x) for x in args.lengths.split(","))
    per_length = 3 + (1 if args.profile_import else 0) + (1 if args.rerun else 0) + (1 if args.rerun_force else 0)
    total = args.template + per_length * len(lengths)
    env = {**os.environ, "SITEWATCH_WORKERS": "1", "TZ": "UTC"}
    sw = [sys.executable, "-m", "sitewatch"]
    sim, ws = root / "sim", root / "ws"
    ids = site_ids(args.sites)
    if not (args.reuse and (sim / ".done").exists()):
        shutil.rmtree(sim, ignore_errors=True)
        (root / "history.yaml").write_text(yaml.safe_dump(scenario(total, args.sites), sort_keys=False), encoding="utf-8")
        subprocess.run([*sw, "-q", "simulate", str(root / "history.yaml"), "-o", str(sim)], check=True, env=env)
        (sim / ".done").write_text("", encoding="utf-8")
    shutil.rmtree(ws, ignore_errors=True)
    subprocess.run([*sw, "-q", "init", str(ws)], check=True, env=env, capture_output=True)
    for sid in ids:
        subprocess.run([*sw, "-q", "sites", "import", str(sim / sid / "layout.geojson"), "-w", str(ws)], check=True,
                       env=env, capture_output=True)
    (ws / "alerts.yaml").write_text(RULES_TEMPLATE.format(all=", ".join(ids), first=ids[0], second=ids[1]), encoding="utf-8")
    by_day: dict[int, list[Path]] = {}
    for p in sim.glob("*/sim-*.tif"):
        by_day.setdefault(_day_of(p), []).append(p)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/"

    figures: dict[int, dict[str, Any]] = {}
    T = args.template
    batch = root / "batch"
    shutil.rmtree(batch, ignore_errors=True)
    batch.mkdir()
    for d in range(T):
        for p in by_day.get(d, []):
            os.link(p, batch / p.name)
    for cmd in ([*sw, "-q", "import", str(batch), "-w", str(ws)], [*sw, "-q", "detect", "-w", str(ws)]):
        m = measure(cmd, env)
        print(f"template ({T} days): {cmd[3]} {m['cpu']:.1f} s CPU, {m['rss_mb']:.0f} MB, exit {m['code']}", flush=True)
        if m["code"] not in (0, 3):
            sys.exit(m["stderr"])
    copies = 0
    done = T  # the next real day to bring in
    for length in lengths:
        want = length // T - 1
        if want > copies:
            # In a process of its own: a child forked from this one counts this one's memory in its peak RSS.
            added = int(subprocess.run([sys.executable, __file__, "--fill", str(ws), str(T), str(copies + 1), str(want + 1)],
                                       env=env, check=True, capture_output=True, text=True).stdout)
            print(f"history to {length} days: {added} observations copied", flush=True)
            copies = want
        for cmd in ([*sw, "-q", "detect", "-w", str(ws)], [*sw, "-q", "alerts", "check", "-w", str(ws), "--webhook", hook]):
            m = measure(cmd, env)
            print(f"  catch-up {cmd[3]} {m['cpu']:.1f} s CPU, {m['rss_mb']:.0f} MB, exit {m['code']}", flush=True)
            if m["code"] not in (0, 3):
                sys.exit(m["stderr"])
        daily: dict[str, list[dict[str, Any]]] = {}
        for d in range(done, done + per_length):
            day = root / "day"
            shutil.rmtree(day, ignore_errors=True)
            day.mkdir()
            todays = [] if args.story and d == done else list(by_day.get(d, []))
            if args.story and d == done + 2:
                todays += by_day.get(done, [])  # the first day's images, two days late: an import into the past
                text = (ws / "alerts.yaml").read_text(encoding="utf-8")  # and a rule changed
                (ws / "alerts.yaml").write_text(text.replace("above: 1", "above: 0") if "above: 1" in text
                                                else text.replace("above: 0", "above: 1"), encoding="utf-8")
            for p in todays:
                os.link(p, day / p.name)
            extra = (1 if args.rerun else 0) + (1 if args.rerun_force else 0)
            profiled = args.profile_import is not None and d == done + per_length - 1 - extra
            rerun = args.rerun and d == done + per_length - 1 - (1 if args.rerun_force else 0)
            forced = args.rerun_force and d == done + per_length - 1
            if rerun:  # nothing new: the folder of every file imported so far, again (a job run twice, no --new-only)
                todays, day = [batch], batch
            if forced:  # nothing new: every image detected again with the same code
                todays = []
            for name, cmd in (("import", [*sw, "-q", "import", str(day), "-w", str(ws)]),
                              ("detect", [*sw, "-q", "detect", "-w", str(ws), *(["--force"] if forced else [])]),
                              ("alerts check", [*sw, "-q", "alerts", "check", "-w", str(ws), "--webhook", hook])):
                if name == "import" and not todays:  # (--story: the images held back; --rerun-force)
                    continue
                if forced and args.before_src:
                    before_env = {**env, "PYTHONPATH": str(args.before_src)}
                    copy = root / "ws-before"
                    if name == "detect":
                        _copy_workspace(ws, copy, archive=True)
                    bm = measure([copy.as_posix() if c == str(ws) else c for c in cmd], before_env,
                                 stdout=root / f"out-{d}.before" if name == "alerts check" else None)
                    if bm["code"] not in (0, 3):
                        sys.exit(f"day {d + 1} {name} (before): exit {bm['code']}\n{bm['stderr']}")
                    daily.setdefault(f"{name} (force, before)", []).append(bm)
                if profiled and name == "import":
                    args.profile_import.mkdir(parents=True, exist_ok=True)
                    prof = args.profile_import / f"import-{length}.prof"
                    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "sitewatch", *cmd[3:]]
                if name == "alerts check" and args.before_src and not profiled and not forced:
                    daily.setdefault("alerts check (before)", []).append(
                        _before(ws, root / "ws-before", cmd, {**env, "PYTHONPATH": str(args.before_src)}, root / f"out-{d}"))
                m = measure(cmd, env, stdout=root / f"out-{d}.after" if name == "alerts check" else None)
                if m["code"] not in (0, 3):
                    sys.exit(f"day {d + 1} {name}: exit {m['code']}\n{m['stderr']}")
                if name == "alerts check" and args.before_src and not profiled:
                    _same(root / f"out-{d}.before", root / f"out-{d}.after", root / "ws-before" / "alerts.jsonl", ws / "alerts.jsonl")
                if not profiled:
                    daily.setdefault(f"{name} (force)" if forced else f"{name} (rerun)" if rerun else name, []).append(m)
        done += per_length
        fig: dict[str, Any] = {"n_observations": _count(ws, "observations"), "n_detections": _count(ws, "detections"),
                               "n_events": _count(ws, "alert_events"), "n_runs": _count(ws, "runs"),
                               "gpkg_mb": (ws / "sitewatch.gpkg").stat().st_size / 1e6}
        for name, ms in daily.items():
            fig[name] = {"cpu": statistics.median(m["cpu"] for m in ms), "rss_mb": statistics.median(m["rss_mb"] for m in ms)}
        if not args.no_read:
            fig.update(reading(ws, ids[0], sw, env, root / f"read-{length}", args.read_timeout))
        figures[length] = fig
        print(f"history {length} days: {json.dumps(fig)}", flush=True)
        if "alerts check (rerun)" in fig:
            a, b = fig["alerts check (rerun)"], fig["alerts check"]
            print(f"  alerts check after the rerun: {a['cpu']:.2f} s CPU, {a['rss_mb']:.0f} MB; after a new day "
                  f"{b['cpu']:.2f} s, {b['rss_mb']:.0f} MB ({a['cpu'] / max(b['cpu'], 1e-9):.2f}x)", flush=True)
        for what in ("detect", "alerts check"):
            if f"{what} (force)" in fig and f"{what} (force, before)" in fig:
                a, b = fig[f"{what} (force)"], fig[f"{what} (force, before)"]
                print(f"  {what} of the detect --force day: {a['cpu']:.2f} s CPU, {a['rss_mb']:.0f} MB; the code before "
                      f"{b['cpu']:.2f} s, {b['rss_mb']:.0f} MB ({a['cpu'] / max(b['cpu'], 1e-9):.2f}x)", flush=True)
    server.shutdown()
    if args.compare_to:
        outs = sorted(root.glob("out-*.after"))
        for out in outs:
            _same(args.compare_to / out.name, out, args.compare_to / "ws" / "alerts.jsonl", ws / "alerts.jsonl")
        print(f"--compare-to: {len(outs)} days of alerts check output and alerts.jsonl byte-identical to {args.compare_to}")
    print_figures(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")


def _before(ws: Path, copy: Path, cmd: list[str], env: dict[str, str], out: Path) -> dict[str, Any]:
    """``cmd`` (an ``alerts check`` of ``ws``) run by another sitewatch (``env``'s PYTHONPATH) on a copy of the
    workspace as it stands now: its database, settings, rules and events file (the check reads no image)."""
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    for p in ws.iterdir():
        if p.is_file():
            shutil.copy2(p, copy / p.name)
    cmd = [copy.as_posix() if c == str(ws) else c for c in cmd]
    m = measure(cmd, env, stdout=out.with_suffix(".before"))
    if m["code"] not in (0, 3):
        sys.exit(f"alerts check (before): exit {m['code']}\n{m['stderr']}")
    return m


def _copy_workspace(ws: Path, copy: Path, *, archive: bool = False) -> None:
    """A copy of the workspace's files (database, settings, rules, events file) at ``copy``; with ``archive``, its
    archive linked in (``detect`` reads the images, and writes nothing there)."""
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir()
    for p in ws.iterdir():
        if p.is_file():
            shutil.copy2(p, copy / p.name)
    if archive:
        (copy / "archive").symlink_to((ws / "archive").resolve(), target_is_directory=True)


def _same(*files: Path) -> None:
    """Stop when the two runs' outputs (before, after) or events files (before, after) differ."""
    for a, b in (files[:2], files[2:]):
        if a.read_bytes() != b.read_bytes():
            sys.exit(f"{a} and {b} differ: the two codes reported different events")
    lines = files[3].read_bytes().count(b"\n")
    print(f"  alerts check: before and after byte-identical ({files[1].stat().st_size} bytes out, {lines} events in the file)",
          flush=True)


def reading(ws: Path, site: str, sw: list[str], env: dict[str, str], out: Path, timeout: float) -> dict[str, Any]:
    """The reading commands once each at this history length: CPU, peak RSS, output size."""
    out.mkdir(parents=True, exist_ok=True)
    w = ["-w", str(ws)]
    cmds: list[tuple[str, list[str], Path]] = [
        ("timeline", [*sw, "timeline", site, *w], out / "timeline.txt"),
        ("timeline --csv", [*sw, "-q", "timeline", site, *w, "--csv", str(out / "timeline.csv")], out / "timeline.csv"),
        ("report", [*sw, "-q", "report", site, *w, "--out", str(out / "report.html")], out / "report.html"),
        ("export geojson", [*sw, "-q", "export", site, *w, "--out", str(out / "dets.geojson")], out / "dets.geojson"),
        ("links", [*sw, "links", *w], out / "links.txt"),
        ("observations", [*sw, "observations", site, *w], out / "observations.txt"),
        ("observations --json", [*sw, "observations", site, *w, "--json"], out / "observations.json"),
    ]
    web = [("web site page", "/sites/SITE"), ("web api timeline", "/api/sites/SITE/timeline"),
           ("web api detections", "/api/sites/SITE/detections"), ("web api site", "/api/sites/SITE")]
    res: dict[str, Any] = {}
    for name, cmd, target in cmds:
        to_stdout = target.suffix in (".txt",) or name == "observations --json"
        m = measure(cmd, {**env, "COLUMNS": "120"}, stdout=target if to_stdout else None, timeout=timeout)
        res[name] = {"cpu": m["cpu"], "rss_mb": m["rss_mb"], "code": m["code"],
                     "bytes": target.stat().st_size if target.exists() else None,
                     "lines": target.read_bytes().count(b"\n") if target.exists() else None}
        if m["code"] not in (0, 3):
            res[name]["error"] = m["stderr"][-300:]
        print(f"  {name}: {res[name]}", flush=True)
    for name, path in web:
        target = out / (name.replace(" ", "_") + ".out")
        m = measure([sys.executable, "-c", WEB_PROBE, str(ws), site, path], env, stdout=target, timeout=timeout)
        res[name] = {"cpu": m["cpu"], "rss_mb": m["rss_mb"], "code": m["code"], "bytes": target.stat().st_size}
        if m["code"]:
            res[name]["error"] = m["stderr"][-300:]
    return res


def fill(ws_path: Path, template_days: int, copies: range) -> int:
    """Add copies of the template (the first ``template_days`` days, really imported and detected) before it,
    copy ``j`` shifted back ``template_days * j`` days: each observation's scene and row with the item id's
    date and the acquisition time shifted, its COG hard-linked under the new name, its detections renamed,
    through the store's own writes (``put_scene``, ``put_observation``, ``replace_detections``); the detect
    state gets each copy's fingerprint and file stat (``observation_fingerprint``, ``file_stat``) as a
    ``detect`` that found it right would. Returns the observations added."""
    import dataclasses

    from sitewatch.detection_state import _meta_key, file_stat, observation_fingerprint
    from sitewatch.workspace import open_workspace

    ws = open_workspace(ws_path)
    added = 0
    end = START + dt.timedelta(days=template_days)
    with ws.store() as store:
        template = [o for o in store.observations() if o.scene.acquired.date() < end and o.scene.acquired.date() >= START]
        dets: dict[str, list[Any]] = {}
        for d in store.detections():
            dets.setdefault(d.observation_id, []).append(d)
        for j in copies:
            delta = dt.timedelta(days=-template_days * j)
            for o in template:
                when = o.scene.acquired + delta
                old_stamp, new_stamp = o.scene.acquired.strftime("%Y%m%d"), when.strftime("%Y%m%d")
                item = o.scene.item_id.replace(old_stamp, new_stamp)
                scene = dataclasses.replace(o.scene, item_id=item, acquired=when)
                path = o.path.replace(old_stamp, new_stamp)
                if not (ws.root / path).exists():
                    os.link(ws.root / o.path, ws.root / path)
                prov = {**o.provenance, "acquired": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "scene_id": scene.id}
                obs = dataclasses.replace(o, id=f"{o.site_id}/{item}", scene=scene, path=path, provenance=prov)
                store.put_scene(scene)
                store.put_observation(obs)
                store.replace_detections(obs, [dataclasses.replace(d, id=d.id.replace(o.id, obs.id), observation_id=obs.id)
                                               for d in dets.get(o.id, [])])
                added += 1
        for sid in {o.site_id for o in template}:
            obs_all = store.observations(sid)
            for sensor in {o.scene.sensor for o in obs_all}:
                doc = json.loads(store.meta(_meta_key(sid, sensor)) or "{}")
                for o in obs_all:
                    if o.scene.sensor == sensor:
                        doc["observations"][o.id] = observation_fingerprint(o)
                        doc["files"][o.id] = list(file_stat(ws.root / o.path) or ())
                store.set_meta(_meta_key(sid, sensor), json.dumps(doc, sort_keys=True))
    return added


def _count(ws: Path, table: str) -> int:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(ws / "sitewatch.gpkg")) as con:
        return int(con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def print_figures(figures: dict[int, dict[str, Any]]) -> None:
    """Each command's CPU and peak RSS at each history length, with the ratio to the shortest."""
    lengths = sorted(figures)
    base = figures[lengths[0]]
    print("\nhistory (days)          " + "".join(f"{n:>22}" for n in lengths))
    for key in ("n_observations", "n_detections", "n_events", "gpkg_mb"):
        print(f"{key:24s}" + "".join(f"{figures[n][key]:>22.6g}" for n in lengths))
    keys = [k for k in base if isinstance(base[k], dict)]
    for key in keys:
        cells = []
        for n in lengths:
            f, b = figures[n].get(key, {}), base[key]
            size = f" {f['bytes'] / 1e3:.0f}kB" if f.get("bytes") is not None else ""
            cells.append(f"{f.get('cpu', math.nan):.2f}s {f.get('cpu', math.nan) / max(b['cpu'], 1e-9):.1f}x "
                         f"{f.get('rss_mb', math.nan):.0f}MB{size}")
        print(f"{key:24s}" + "".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
