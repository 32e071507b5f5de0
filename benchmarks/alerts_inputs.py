"""``alerts check`` with nothing new, before and after a change of how it tells that its window still holds.

Each side is a sitewatch (``--before SRC WS``, ``--after SRC WS``: its ``src`` folder and a workspace it made, e.g.
the two ``ws`` folders ``history_scale.py`` leaves, one run with each sitewatch: a newer schema may not be open to
the older). Each workspace's database, settings, rules and events file are copied to a temporary folder; one
``alerts check`` there settles its checkpoint; then ``--repeat`` rounds, each one run of each side in turn (fresh
processes, as cron runs it): CPU seconds (user+system, ``wait4``) and peak RSS, medians, the ratio after/before.
Every round's standard output must be byte for byte the same on both sides, and so must ``alerts.jsonl`` after
(the script stops otherwise). Then one run of each under cProfile: the seconds spent in what tells the window holds
(``--profiled NAME``, the functions' names; by default the digest of every stored row before, the triggers' notes
after) out of the whole.

    python benchmarks/alerts_inputs.py --before /work/main/src HS_MAIN/ws --after src HS_NEW/ws [--repeat 5]
    python benchmarks/alerts_inputs.py --writes 2000 [--repeat 3]

``--writes N`` (the sitewatch imported, in this process): what the triggers cost the writers. N images of one site
(scene, observation, two detections, detection's mark: what ``import`` and ``detect`` write an image) put into a
new GeoPackage with the triggers and into one with them dropped (as before them), after N images already there;
seconds of CPU, median of ``--repeat``, the ratio.
"""

from __future__ import annotations

import argparse
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PROFILED = ("_site_inputs", "records_input_changes", "_noted")
"""The functions that tell whether the window holds: the digest of every row (before), the notes (after)."""


def _copy(ws: Path, to: Path) -> Path:
    to.mkdir(parents=True)
    for p in ws.iterdir():
        if p.is_file():
            shutil.copy2(p, to / p.name)
    return to


def _run(src: Path, ws: Path, *, out: Path | None = None, profile: Path | None = None) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src), "TZ": "UTC"}
    head = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "sitewatch"] if profile else [sys.executable, "-m", "sitewatch"]
    with (out.open("wb") if out else open(os.devnull, "wb")) as f:  # noqa: SIM115
        proc = subprocess.Popen([*head, "-q", "alerts", "check", "-w", str(ws)], env=env, stdout=f, stderr=subprocess.PIPE)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{src} on {ws}: exit {code}\n{err.decode(errors='replace')[-2000:]}")
    return {"cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024}


def _profiled(prof: Path, names: tuple[str, ...]) -> tuple[float, float]:
    stats = pstats.Stats(str(prof))
    total = max(v[3] for v in stats.stats.values())  # type: ignore[attr-defined]
    part = sum(v[3] for (_, _, name), v in stats.stats.items() if name in names)  # type: ignore[attr-defined]
    return part, total


def _images(n: int, first: int) -> list[tuple[Any, list[Any]]]:
    from datetime import UTC, datetime, timedelta

    from shapely.geometry import box

    from sitewatch.model import Detection, Grid, Observation, SceneRef

    grid = Grid("EPSG:32652", (10.0, 0.0, 500000.0, 0.0, -10.0, 4750000.0), 100, 100)
    out = []
    for i in range(first, first + n):
        t = datetime(2020, 1, 1, 9, tzinfo=UTC) + timedelta(days=i)
        scene = SceneRef("simulator", "sim", f"img-{i}", "sar", t, 10.0, footprint=box(132.3, 42.8, 132.4, 42.9), simulated=True)
        o = Observation(f"port/img-{i}", "port", scene, grid, f"archive/port/img-{i}.tif", "0" * 64, 1.0)
        dets = [Detection(f"{o.id}#{k}", o.id, "vessel", box(132.33 + k * 0.01, 42.85, 132.335 + k * 0.01, 42.851), 100.0,
                          15.0, 90.0, 0.9, "test", "1") for k in range(2)]  # fmt: skip
        out.append((o, dets))
    return out


def writes(n: int, repeat: int) -> None:
    """The writers' cost of the triggers (``--writes``)."""
    import time

    from shapely.geometry import box

    from sitewatch.model import Site
    from sitewatch.store import Store
    from sitewatch.store.schema import INPUT_TRIGGER_PREFIX

    got: dict[str, list[float]] = {"without triggers": [], "with triggers": []}
    for _ in range(repeat):
        for k in got:
            with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "w.gpkg") as store:
                store.put_site(Site("port", "Port", "port", box(132.3, 42.8, 132.4, 42.9)))
                if k == "without triggers":
                    names = [r[0] for r in store.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                                         "AND substr(name, 1, ?) = ?", (len(INPUT_TRIGGER_PREFIX), INPUT_TRIGGER_PREFIX))]  # fmt: skip
                    with store.transaction() as db:
                        for name in names:
                            db.execute(f"DROP TRIGGER {name}")
                for phase in ("history", "measured"):
                    images = _images(n, 0 if phase == "history" else n)
                    t0 = time.process_time()
                    for o, dets in images:
                        store.put_scene(o.scene)
                        store.put_observation(o)
                        store.replace_detections(o, dets)
                    if phase == "measured":
                        got[k].append(time.process_time() - t0)
    med = {k: statistics.median(v) for k, v in got.items()}
    for k, v in got.items():
        print(f"{n} images written {k}: {med[k]:.2f} s CPU (runs {', '.join(f'{x:.2f}' for x in v)})")
    print(f"with/without: {med['with triggers'] / med['without triggers']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", nargs=2, type=Path, metavar=("SRC", "WS"))
    ap.add_argument("--after", nargs=2, type=Path, metavar=("SRC", "WS"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profiled", nargs="*", default=list(PROFILED), metavar="NAME")
    ap.add_argument("--writes", type=int, metavar="N", help="Measure the triggers' cost to the writers instead.")
    args = ap.parse_args()
    if args.writes:
        writes(args.writes, args.repeat)
        return
    if not (args.before and args.after):
        ap.error("--before SRC WS and --after SRC WS (or --writes N)")
    sides = {"before": args.before, "after": args.after}
    with tempfile.TemporaryDirectory(prefix="alerts-inputs-") as tmp:
        root = Path(tmp)
        ws = {k: _copy(w.resolve(), root / k) for k, (_, w) in sides.items()}
        src = {k: s.resolve() for k, (s, _) in sides.items()}
        for k in sides:
            _run(src[k], ws[k])  # settles the checkpoint
        got: dict[str, list[dict[str, Any]]] = {k: [] for k in sides}
        for i in range(args.repeat):
            for k in sides:
                got[k].append(_run(src[k], ws[k], out=root / f"{k}-{i}.out"))
            if (root / f"before-{i}.out").read_bytes() != (root / f"after-{i}.out").read_bytes():
                sys.exit(f"round {i}: the two sides printed different output")
        if (ws["before"] / "alerts.jsonl").read_bytes() != (ws["after"] / "alerts.jsonl").read_bytes():
            sys.exit("alerts.jsonl differs between the two sides")
        cpu = {k: statistics.median(m["cpu"] for m in got[k]) for k in sides}
        rss = {k: statistics.median(m["rss_mb"] for m in got[k]) for k in sides}
        for k in sides:
            runs = ", ".join(f"{m['cpu']:.2f}" for m in got[k])
            print(f"{k:7} {cpu[k]:.2f} s CPU (runs {runs}), {rss[k]:.0f} MB")
        events = (ws["after"] / "alerts.jsonl").read_bytes().count(b"\n")
        print(f"after/before: {cpu['after'] / cpu['before']:.2f} CPU, {rss['after'] / rss['before']:.2f} RSS; "
              f"output byte-identical in {args.repeat} rounds, alerts.jsonl identical ({events} events)")
        for k in sides:
            prof = root / f"{k}.prof"
            _run(src[k], ws[k], profile=prof)
            part, total = _profiled(prof, tuple(args.profiled))
            print(f"{k:7} profiled: {part:.3f} s of {total:.2f} s in {', '.join(args.profiled)}")


if __name__ == "__main__":
    main()
