"""The same inputs, the same evidence: one workspace built by hand under each variation, every output compared with
a baseline run's.

    python benchmarks/reproducibility.py --out /tmp/repro                      # every variation below
    python benchmarks/reproducibility.py --out /tmp/repro --only workers1 reverse
    python benchmarks/reproducibility.py --out /tmp/repro --scheduler tcp://127.0.0.1:8786   # adds a Dask run
    python benchmarks/reproducibility.py --out /tmp/repro --python /tmp/venv313/bin/python --only base-python
    python benchmarks/reproducibility.py --out /tmp/repro --store postgresql:///repro --only postgis   # a team store

With ``--store URL`` (a new database with PostGIS and nothing else: ``createdb repro && psql -d repro -c 'CREATE
EXTENSION postgis'``) the variation 'postgis' makes its workspace with ``init --store URL`` and runs every command
on that store; its tables are dumped from a ``store copy`` of it into a GeoPackage (the copy's own notes of its
inserts, ``input_changes``, left out).

The seed story's scenes are simulated once (``sitewatch simulate``, with its AIS). Each run makes a workspace:
``init``, ``sites import`` of the three layouts, ``ingest`` (one folder a site, unless the variation says
otherwise), ``detect``, ``change`` at the training ground; then ``timeline --json/--csv``, ``links --json --ais``,
``eval --json``, ``export`` of both layers in the four formats, ``report``, ``alerts check`` (README's rules),
``observations --json`` and ``detect-image`` on two scenes. Its outputs are dumped: every table of the GeoPackage
(and of the exported ones) sorted, without the columns that say when and where the run was made (README,
"Reproducible results"), the archive's sha256s, and the text outputs with the workspace's and inputs' folders and
today's times replaced. A variation prints ``identical`` or the files that differ; the runs' record (``runs``,
the report's list of runs and its first line, ``fid`` order) is shown apart, as it is the run's own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
SITES = ("dunai", "rason", "sergeyevka-base")
RULES = """rules:
  - {id: landing-ship-at-dunai-pier, kind: arrival, sites: [dunai], berth: pier-east, min_length_m: 95, max_length_m: 135}
  - {id: crane-beside-landing-ship, kind: object, sites: [dunai], object_kind: crane, min_length_m: 95}
  - {id: rason-piers-busy, kind: vessel_count, sites: [rason], above: 0}
  - {id: rajin-to-dunai, kind: link, sites: [rason, dunai]}
  - {id: dunai-large-change, kind: change, sites: [dunai], min_area_m2: 5000}
"""
THREADS1 = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
THREADS2 = {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
VARIATIONS: dict[str, tuple[dict[str, str], str, list[str]]] = {
    # name: (environment, how the files go in, options of ingest and detect)
    "workers1": ({}, "folder", ["--workers", "1"]),
    "threads1": (THREADS1, "folder", []),
    "threads2": (THREADS2, "folder", []),
    "hashseed0": ({"PYTHONHASHSEED": "0"}, "folder", []),
    "hashseed4242": ({"PYTHONHASHSEED": "4242"}, "folder", []),
    "tz": ({"TZ": "Pacific/Kiritimati"}, "folder", []),
    "locale": ({"LC_ALL": "de_DE.UTF-8", "LANG": "de_DE.UTF-8"}, "folder", []),
    "reverse": ({}, "reverse", []),
    "chunks": ({}, "chunks", []),
    "copied": ({}, "copied", []),
    "twodays": ({}, "twodays", []),
    "rerun": ({}, "rerun", []),
}
RUN_OWN = {"runs.jsonl", "_fids.txt", "alerts.json", "sitewatch_meta.jsonl", "log.txt"}
"""Outputs that are the run's own record (README, "Reproducible results"): shown apart from the evidence."""


class Runner:
    def __init__(self, python: str, env: dict[str, str], log: Path) -> None:
        self.python, self.env, self.log = python, env, log

    def __call__(self, *args: object, out: Path | None = None) -> str:
        env = os.environ | {"PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"} | self.env
        r = subprocess.run([self.python, "-m", "sitewatch", "-q", *map(str, args)], capture_output=True, text=True,
                           encoding="utf-8", env=env, check=False)  # fmt: skip
        with self.log.open("a", encoding="utf-8") as f:
            f.write(f"$ {' '.join(map(str, args))}  rc={r.returncode}\n{r.stderr[-2000:]}")
        if r.returncode not in (0, 3):
            raise SystemExit(f"sitewatch {' '.join(map(str, args))} failed ({r.returncode}): {r.stderr[-2000:]}")
        if out is not None:
            out.write_text(r.stdout, encoding="utf-8")
        return r.stdout


def _tifs(sim: Path, site: str) -> list[Path]:
    return sorted((sim / site).glob("*.tif"))


def build(sw: Runner, ws: Path, sim: Path, mode: str, opts: list[str], rules: Path, store: str = "") -> None:
    """The workspace made as ``mode`` says: the seed story's scenes ingested, detected, compared for change;
    its database the PostGIS ``store`` when one is given."""
    if mode != "rerun":
        sw("init", ws, *(["--store", store] if store else []))
    if store:
        held = {t: n for t, n in json.loads(sw("store", "info", "--json", "-w", ws))["counts"].items() if n}
        if held:
            raise SystemExit(f"{store}: holds rows already ({held}); give a new database (createdb, CREATE EXTENSION postgis)")
    for s in SITES:
        sw("sites", "import", sim / s / "layout.geojson", "-w", ws)
    rnd = random.Random(7)
    if mode in ("folder", "rerun"):
        for s in SITES:
            sw("ingest", s, sim / s, "-w", ws, *opts)
    elif mode == "reverse":
        for s in reversed(SITES):
            sw("ingest", s, *reversed(_tifs(sim, s)), "-w", ws, *opts)
    elif mode == "chunks":  # shuffled batches of 20, and the training ground's files one a command
        for s in SITES:
            files = _tifs(sim, s)
            rnd.shuffle(files)
            size = 1 if s == "sergeyevka-base" else 20
            for i in range(0, len(files), size):
                sw("ingest", s, *files[i : i + size], "-w", ws, *opts)
    elif mode == "copied":  # copied in a shuffled order (another folder listing order), on tmpfs where there is one
        shm = Path("/dev/shm")
        dst = (shm if shm.is_dir() and os.access(shm, os.W_OK) else ws.parent) / f"repro-copied-{os.getpid()}"
        try:
            for s in SITES:
                (dst / s).mkdir(parents=True)
                files = sorted((sim / s).iterdir())
                rnd.shuffle(files)
                for f in files:
                    shutil.copy2(f, dst / s / f.name)
            for s in SITES:
                sw("ingest", s, dst / s, "-w", ws, *opts)
        finally:
            shutil.rmtree(dst, ignore_errors=True)
    elif mode == "twodays":  # the first days' images ingested and detected (and alerts checked), then the rest
        for day in (1, 2):
            for s in SITES:
                files = [f for f in _tifs(sim, s) if (re.search(r"(\d{8})T", f.name).group(1) < "20241020") == (day == 1)]  # type: ignore[union-attr]
                if files:
                    sw("ingest", s, *files, "-w", ws, *opts)
            for s in SITES:
                sw("detect", s, "-w", ws, *opts)
            if day == 1:
                sw("alerts", "check", "--rules", rules, "--json", "-w", ws)
    for s in SITES:
        sw("detect", s, "-w", ws, *opts)
    sw("change", "sergeyevka-base", "-w", ws, "--json")


def outputs(sw: Runner, ws: Path, sim: Path, out: Path, rules: Path) -> None:
    """Every output of the workspace, dumped into ``out`` and normalised."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for s in SITES[:2]:
        sw("timeline", s, "--json", out / f"timeline-{s}.json", "--csv", out / f"timeline-{s}.csv", "-w", ws)
    sw("links", "--json", "--ais", sim / "ais.csv", "-w", ws, out=out / "links.json")
    sw("eval", "--json", "--no-record", "-w", ws, out=out / "eval.json")
    for layer in ("detections", "changes"):
        for fmt in ("geojson", "kml", "csv", "gpkg"):
            sw("export", "--layer", layer, "--out", out / f"export-{layer}.{fmt}", "-w", ws)
    sw("report", "--out", out / "report.html", "--ais", sim / "ais.csv", "-w", ws)
    sw("alerts", "check", "--rules", rules, "--json", "-w", ws, out=out / "alerts.json")
    sw("observations", "--json", "-w", ws, out=out / "observations.json")
    for img in ("dunai/sim-sar-dunai-20241017T0930.tif", "dunai/sim-planet-dunai-20241017T0040.tif"):
        sw("detect-image", sim / img, "--out", out / f"detect-image-{Path(img).stem}.geojson")
    if json.loads(sw("store", "info", "--json", "-w", ws))["store"] == "postgis":
        copied = out / "store-copy.gpkg"
        sw("store", "copy", "--to", copied, "-w", ws)
        con = sqlite3.connect(copied)
        try:  # the copy's own notes of the rows it inserted: the GeoPackage's alerts check removed its own
            with con:
                con.execute("DELETE FROM input_changes")
        finally:
            con.close()
        dump_tables(copied, out / "db")
        copied.unlink()
    else:
        dump_tables(ws / "sitewatch.gpkg", out / "db")
    for g in out.glob("export-*.gpkg"):
        dump_tables(g, out / f"{g.name}.tables")
        g.unlink()
    with (out / "archive.sha256").open("w", encoding="utf-8") as f:
        for p in sorted((ws / "archive").rglob("*")):
            if p.is_file():
                f.write(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(ws).as_posix()}\n")
    normalise(out, {str(ws.resolve()): "<WS>", str(out): "<OUT>", str(sim.resolve()): "<IN>"})


DROP_COLUMNS = {
    "runs": {"started", "finished", "run_id"},
    "observations": {"detected_at"},
    "change_pairs": {"computed_at", "pair_id"},
    "alert_events": {"first_reported", "webhook_delivered"},
    "gpkg_contents": {"last_change"},
}
"""The columns that say when a run was made (README, "Reproducible results")."""
ID_COLUMNS = ("detection_id", "observation_id", "change_id", "scene_id", "site_id", "berth_id")
"""The columns that name a row, in the order they are looked for."""
DROP_KEYS = {"ingested_at", "source_mtime_ns", "source_path", "metadata_files"}
"""Provenance that says when and from where a file came in."""


def _clean(v: object) -> object:
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items() if k not in DROP_KEYS}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def dump_tables(db: Path, out: Path) -> None:
    """Each table of ``db`` as sorted JSON lines (``fid`` apart, in ``_fids.txt`` with each row's id: the order rows
    were written)."""
    out.mkdir()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = sorted(r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        fids = []
        for t in tables:
            if t.startswith("rtree_") or t == "sqlite_sequence":
                continue
            cur = con.execute(f'SELECT * FROM "{t}"')
            cols = [d[0] for d in cur.description]
            rows = []
            for values in cur:
                row = dict(zip(cols, values, strict=True))
                for k, v in row.items():
                    if isinstance(v, bytes):
                        row[k] = v.hex()
                    elif isinstance(v, str) and v[:1] in "{[":
                        try:
                            row[k] = _clean(json.loads(v))
                        except ValueError:
                            pass
                if t == "sitewatch_meta" and isinstance(row.get("value"), dict) and isinstance(row["value"].get("files"), dict):
                    row["value"]["files"] = {f: st[0] for f, st in row["value"]["files"].items()}  # sizes; times are the run's
                fid = row.pop("fid", None)
                for col in DROP_COLUMNS.get(t, ()):
                    row.pop(col, None)
                line = json.dumps(row, sort_keys=True, ensure_ascii=False)
                rows.append(line)
                if fid is not None:  # by the row's own id (a hash of it would hold the paths normalise replaces)
                    ids = [str(row[c]) for c in ID_COLUMNS if c in row][:2] or [hashlib.sha256(line.encode()).hexdigest()[:12]]
                    fids.append(f"{t}\t{fid}\t{' '.join(ids)}")
            (out / f"{t}.jsonl").write_text("\n".join(sorted(rows)) + "\n", encoding="utf-8")
        (out / "_fids.txt").write_text("\n".join(sorted(fids)) + "\n", encoding="utf-8")
    finally:
        con.close()


def normalise(out: Path, folders: dict[str, str]) -> None:
    """Folders named by placeholders, and today's (or yesterday's) times by ``<NOW>``, in every text output."""
    days = {time.strftime("%Y-%m-%d", time.gmtime(time.time() - d * 86400)) for d in (0, 1)}
    stamp = re.compile(r"20\d\d-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?Z?( UTC)?")
    for p in out.rglob("*"):
        if not p.is_file() or p.suffix == ".png":
            continue
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        new = text
        for folder, name in sorted(folders.items(), key=lambda kv: -len(kv[0])):
            new = new.replace(folder, name)
        new = stamp.sub(lambda m: "<NOW>" if m.group(0)[:10] in days else m.group(0), new)
        new = re.sub(r"\(git [0-9a-f]{7,}\)", "(git <COMMIT>)", new)
        if p.name == "report.html":  # the list of runs, one row a run, each with its <NOW>
            new = "\n".join(line for line in new.splitlines() if "<NOW>" not in line)
        if new != text:
            p.write_text(new, encoding="utf-8")


def differing(a: Path, b: Path) -> list[str]:
    """The outputs (relative paths) that differ between two dumps, or that only one holds."""
    names = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    names |= {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    return sorted(n for n in names if not ((a / n).is_file() and (b / n).is_file() and (a / n).read_bytes() == (b / n).read_bytes()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="folder for the scenes, workspaces and dumps")
    ap.add_argument("--only", nargs="*", default=None, help="variations to run (default: all)")
    ap.add_argument("--scheduler", default="", help="a Dask scheduler's address: adds the variation 'dask'")
    ap.add_argument("--python", default="", help="another Python with sitewatch's dependencies: adds 'base-python'")
    ap.add_argument("--store", default="", help="a new PostGIS database's URL: adds the variation 'postgis'")
    args = ap.parse_args(argv)
    root = args.out.resolve()
    root.mkdir(parents=True, exist_ok=True)
    variations = dict(VARIATIONS)
    if args.scheduler:
        variations["dask"] = ({}, "folder", ["--scheduler", args.scheduler])
    if args.store:
        variations["postgis"] = ({}, "folder", [])
    sim, rules = root / "sim", root / "alerts.yaml"
    rules.write_text(RULES, encoding="utf-8")
    sw = Runner(sys.executable, {}, root / "simulate.log")
    if not (sim / "ais.csv").exists():
        sw("simulate", "seed-story", "--out", sim, "--ais", sim / "ais.csv")
    names = ["base", *(args.only if args.only is not None else [*variations, *(["base-python"] if args.python else [])])]
    for name in dict.fromkeys(names):
        t0 = time.perf_counter()
        env, mode, opts = variations.get(name, ({}, "folder", []))
        run_dir = root / "runs" / ("base" if name == "rerun" else name)
        if name != "rerun":
            shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        sw = Runner(args.python if name == "base-python" else sys.executable, env, run_dir / "log.txt")
        build(sw, run_dir / "ws", sim, mode, opts, rules, args.store if name == "postgis" else "")
        dump = run_dir / ("out-rerun" if name == "rerun" else "out")
        outputs(sw, run_dir / "ws", sim, dump, rules)
        if name == "base":
            print(f"base: {time.perf_counter() - t0:.0f} s")
            continue
        diff = differing(root / "runs" / "base" / "out", dump)
        evidence = [d for d in diff if Path(d).name not in RUN_OWN]
        own = [d for d in diff if Path(d).name in RUN_OWN]
        print(f"{name}: {'identical' if not evidence else 'DIFFERS: ' + ', '.join(evidence)}"
              + (f" (the run's own record differs: {', '.join(own)})" if own else "") + f"  [{time.perf_counter() - t0:.0f} s]")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
