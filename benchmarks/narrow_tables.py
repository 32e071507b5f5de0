"""What the table commands print at 80, 120 and 200 columns, in a terminal and into a file, with two source trees:
CPU, peak memory, lines, lines wider than the terminal, ids split over lines, ANSI codes in a file.

The baseline tree (``BASELINE_SRC``, e.g. main's ``src`` exported with ``git archive main src | tar -x -C /tmp/main``)
and this checkout's ``src`` each run each command (``links``, ``observations``, ``timeline``, ``sites list``) in a
fresh process as a user runs it, ``--repeat`` times:

- ``tty N``: on a pseudo-terminal N columns wide (``TERM=xterm-256color``, no ``COLUMNS``): what a terminal shows;
- ``COLUMNS=N > file``: into a file with ``COLUMNS`` set (a width asked for, every row);
- ``> file``: into a file, no ``COLUMNS`` (a line a row, however wide);
- ``--json`` (``timeline --json -``): the document for scripts, which must be byte for byte the same in both trees.

The figures are the median CPU seconds (user + system, ``wait4``) and the largest peak RSS, the candidate's ratio to
the baseline measured in the same run, and of the output (ANSI codes stripped): its lines, the lines wider than the
width asked for (but for a line of one word longer than it: a path no line can hold), the ids split over lines (a
word that is the start of an observation or site id of the ``--json`` output but not the whole id: folded), and the
ANSI escape codes written into a file (should be 0). The exit status is 1 when a ``--json`` output differs.

    python benchmarks/narrow_tables.py BASELINE_SRC --workspace WS [--commands links,observations] [--columns 80,120,200] [--repeat 3]

Workspaces: the demo's (``sitewatch demo --out DIR``) and the ten-site history of ``benchmarks/history_scale.py
--out DIR`` (``DIR/ws``; ``--lengths 1800`` for five years).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COMMANDS: dict[str, list[str]] = {
    "links": ["links"],
    "observations": ["observations"],
    "timeline": ["timeline"],
    "sites list": ["sites", "list"],
}
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def run_file(cmd: list[str], env: dict[str, str], target: Path) -> dict[str, Any]:
    """One command in a fresh process, its standard output into ``target``: CPU seconds, peak RSS, exit code."""
    with target.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    return {"cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024, "code": os.waitstatus_to_exitcode(status)}


def run_tty(cmd: list[str], env: dict[str, str], columns: int, target: Path) -> dict[str, Any]:
    """As :func:`run_file`, standard output a pseudo-terminal ``columns`` wide (what it shows copied into ``target``,
    the terminal's ``\\r\\n`` made ``\\n``)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # EIO: the process closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status, usage = os.wait4(proc.pid, 0)
    os.close(master)
    target.write_bytes(b"".join(chunks).replace(b"\r\n", b"\n"))
    return {"cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024, "code": os.waitstatus_to_exitcode(status)}


def ids_of(doc: Any) -> set[str]:
    """The observation and site ids a ``--json`` document names (those a user copies into another command)."""
    found: set[str] = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                if k in ("observation_id", "id", "site_id", "site") and isinstance(v, str):
                    found.add(v)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(doc)
    return found


def quality(raw: bytes, width: int | None, ids: set[str]) -> dict[str, int]:
    """Lines, lines wider than ``width``, ids split (a word that starts an id, is not one), ANSI codes in ``raw``."""
    from rich.cells import cell_len

    text = ANSI.sub(b"", raw).decode("utf-8", "replace")
    lines = text.splitlines()
    wide = 0 if width is None else sum(cell_len(line) > width and len(line.split()) > 1 for line in lines)
    prefixes = {i[:n] for i in ids if len(i) >= 8 for n in range(6, len(i))}  # the start of a long id, folded
    words = set(text.replace("│", " ").replace("┃", " ").split())
    split = sum(w in prefixes and w not in ids for w in words)
    return {"lines": len(lines), "wide": wide, "split": split, "ansi": len(ANSI.findall(raw))}


def main() -> None:
    """Run both trees on the workspace and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("baseline", type=Path, help="the baseline's src folder")
    ap.add_argument("--candidate", type=Path, default=ROOT / "src", help="the candidate's src folder (default: this checkout's)")
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated, of: " + ", ".join(COMMANDS))
    ap.add_argument("--columns", default="80,120,200")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="keep the outputs here")
    args = ap.parse_args()
    out = args.keep or Path(tempfile.mkdtemp(prefix="narrow-tables-"))
    out.mkdir(parents=True, exist_ok=True)
    widths = [int(c) for c in args.columns.split(",")]
    same = True
    print(f"workspace {args.workspace}; median of {args.repeat} fresh processes; CPU = user + system; "
          "wide = lines wider than the width, split = ids split over lines, ansi = escape codes")  # fmt: skip
    print(f"{'command':13} {'output':19} {'base s':>7} {'MB':>5} {'cand s':>7} {'MB':>5} {'ratio':>6}  "
          f"{'lines':>14} {'wide':>11} {'split':>11} {'ansi':>7}")  # fmt: skip
    for name in args.commands.split(","):
        argv = COMMANDS[name]
        ids: set[str] = set()
        cases: list[tuple[str, list[str], int | None, str]] = [
            ("--json", ["--json", "-"] if name == "timeline" else ["--json"], None, "file"),
            *((f"tty {w}", [], w, "tty") for w in widths),
            *((f"COLUMNS={w} > file", [], w, "file") for w in widths),
            ("> file", [], None, "file"),
        ]
        for case, extra, width, how in cases:
            row: dict[str, Any] = {}
            for label, src in (("baseline", args.baseline), ("candidate", args.candidate)):
                env = {**os.environ, "PYTHONPATH": str(src.resolve()), "TZ": "UTC", "SITEWATCH_WORKERS": "1"}
                env.pop("COLUMNS", None)
                env.pop("LINES", None)
                if how == "file" and width is not None:
                    env["COLUMNS"] = str(width)
                if how == "tty":
                    env["TERM"] = "xterm-256color"
                target = out / f"{label}-{name}-{case}.out".replace(" ", "_").replace(">", "").replace("=", "")
                cmd = [sys.executable, "-m", "sitewatch", *argv, "-w", str(args.workspace), *extra]
                runs = [run_tty(cmd, env, width or 80, target) if how == "tty" else run_file(cmd, env, target)
                        for _ in range(args.repeat)]  # fmt: skip
                if any(r["code"] != 0 for r in runs):
                    sys.exit(f"{label} {name} {case}: exit {runs[0]['code']}")
                row[label] = (statistics.median(r["cpu"] for r in runs), max(r["rss_mb"] for r in runs), target)
            (b, bmb, bt), (c, cmb, ct) = row["baseline"], row["candidate"]
            if case == "--json":
                equal = bt.read_bytes() == ct.read_bytes()
                same &= equal
                ids = ids_of(json.loads(ct.read_bytes()))
                figures = f"{'same bytes' if equal else 'DIFFERENT':>14}"
            else:
                qb, qc = quality(bt.read_bytes(), width, ids), quality(ct.read_bytes(), width, ids)
                figures = " ".join(f"{f'{qb[k]:,} → {qc[k]:,}':>{n}}" for k, n in (("lines", 14), ("wide", 11), ("split", 11), ("ansi", 7)))
            print(f"{name:13} {case:19} {b:7.2f} {bmb:5.0f} {c:7.2f} {cmb:5.0f} {c / b:6.2f}  {figures}", flush=True)
    if args.keep is None:
        for p in out.iterdir():
            p.unlink()
        out.rmdir()
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
