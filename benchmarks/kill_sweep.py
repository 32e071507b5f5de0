"""Kill `sitewatch demo` at seeded moments, run it again into the same folder, compare with a baseline.

    python benchmarks/kill_sweep.py --out /tmp/ks --kills 6 --signal KILL --seed 20261206

Makes the baseline (`/tmp/ks/base`, one uninterrupted demo) unless it is there, then for each kill: a demo into
`/tmp/ks/runs/SIG-N` stopped by the signal at a moment drawn uniformly over the baseline's run time (INT goes
to the whole process group, as Ctrl-C does; KILL and TERM to the command alone), then a demo into the same
folder run to its end. Each result is compared with the baseline: exports/, timelines/ and ais/ byte for byte,
`sitewatch eval --no-record --json` equal, `PRAGMA integrity_check`, row counts of every table (but runs),
no duplicate or orphan observation, detection or change, every archived COG named by an observation, and no
hidden partial, journal or temporary file left. Prints a line per kill and the number that matched.
Several hours of CPU for many kills: each costs up to two demos (about 90 s each on 2 cores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

DEMO = [sys.executable, "-m", "sitewatch", "-q", "demo", "--out"]
LEFTOVER_ENDS = (".partial", "-journal", "-wal", "-shm", ".tmp")


def _start(out: Path) -> subprocess.Popen[str]:
    # SIGINT back to its default: a shell's background job (`… &`) starts with it ignored, and so would the demo.
    return subprocess.Popen(
        [*DEMO, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
        start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def _eval(root: Path) -> str:
    cmd = [sys.executable, "-m", "sitewatch", "eval", "--no-record", "--json", "-w", str(root)]
    return subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8").stdout


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for sub in ("exports", "timelines", "ais")
        for p in sorted((root / sub).rglob("*"))
        if p.is_file()
    }


def _counts(db: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    # (an R-tree's node and parent tables are its shape, which follows the order rows went in, not what it holds)
    kept = [n for n in names if n not in ("runs", "sqlite_sequence") and not n.endswith(("_node", "_parent"))]
    return {n: db.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in kept}


def problems(base: Path, got: Path) -> list[str]:
    """What differs between the demo folder ``got`` and the baseline ``base`` (nothing: they match)."""
    found = [f"differs: {k}" for k, v in _digests(base).items() if _digests(got).get(k) != v]
    found += [f"left behind: {p.relative_to(got)}" for p in got.rglob("*") if p.name.endswith(LEFTOVER_ENDS)]
    db = sqlite3.connect(got / "sitewatch.gpkg")
    if (ok := db.execute("PRAGMA integrity_check").fetchone()[0]) != "ok":
        found.append(f"integrity_check: {ok}")
    want, have = _counts(sqlite3.connect(base / "sitewatch.gpkg")), _counts(db)
    found += [f"rows of {t}: {have.get(t)} (baseline {n})" for t, n in want.items() if have.get(t) != n]
    checks = {
        "duplicate detections": "SELECT count(*) FROM (SELECT 1 FROM detections GROUP BY observation_id, kind, row, col HAVING count(*) > 1)",
        "orphan detections": "SELECT count(*) FROM detections WHERE observation_id NOT IN (SELECT observation_id FROM observations)",
        "orphan changes": "SELECT count(*) FROM changes c WHERE NOT EXISTS (SELECT 1 FROM change_pairs p WHERE p.before_id = c.before_id AND p.after_id = c.after_id)",
    }  # fmt: skip
    found += [f"{what}: {n}" for what, sql in checks.items() if (n := db.execute(sql).fetchone()[0])]
    named = {os.path.normpath(got / r[0]) for r in db.execute("SELECT path FROM observations")}
    found += [f"archived, named by no observation: {p.relative_to(got)}" for p in (got / "archive").rglob("*.tif") if os.path.normpath(p) not in named]
    if _eval(got) != _eval(base):
        found.append("sitewatch eval figures differ")
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("kill-sweep"))
    ap.add_argument("--kills", type=int, default=6)
    ap.add_argument("--signal", choices=["KILL", "INT", "TERM"], default="KILL")
    ap.add_argument("--seed", type=int, default=20261206)
    args = ap.parse_args()
    base = args.out / "base"
    if not (base / "sitewatch.gpkg").exists():
        t = time.monotonic()
        subprocess.run([*DEMO, str(base)], check=True, capture_output=True)
        (args.out / "base-seconds.txt").write_text(f"{time.monotonic() - t:.1f}", encoding="utf-8")
    run_time = float((args.out / "base-seconds.txt").read_text(encoding="utf-8"))
    sig = getattr(signal, f"SIG{args.signal}")
    rng = random.Random(args.seed)
    matched = 0
    for n, moment in enumerate(sorted(rng.uniform(1.0, run_time) for _ in range(args.kills))):
        folder = args.out / "runs" / f"{args.signal}-{n}"
        proc = _start(folder)
        killed = True
        try:
            proc.wait(timeout=moment)
            killed = False  # it finished first (a machine less loaded than the baseline's)
        except subprocess.TimeoutExpired:
            (os.killpg if sig == signal.SIGINT else os.kill)(proc.pid, sig)
        _, err = proc.communicate()
        rerun = _start(folder)
        rerun.communicate()
        found = problems(base, folder) if rerun.returncode == 0 else [f"rerun exit code {rerun.returncode}"]
        matched += not found
        said = err.strip().splitlines()[-1] if err.strip() else ""
        print(json.dumps({"moment_s": round(moment, 1), "killed": killed, "exit": proc.returncode, "said": said, "problems": found}), flush=True)
    print(f"{matched} of {args.kills} reruns after SIG{args.signal} matched the baseline")


if __name__ == "__main__":
    main()
