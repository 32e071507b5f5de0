"""Descriptors, threads, child processes and memory of one process that runs many Dask commands, two sitewatches.

    python benchmarks/dask_leaks.py --src-old OLD_SRC [--src SRC] [--commands 20] [--cluster processes|local]

For each sitewatch (``--src-old``, e.g. a ``git worktree`` of main's ``src``; then ``--src``, default this
checkout's) a cluster of its own is started on loopback ports, whose worker imports that sitewatch (the
workers must run the command's code): ``dask scheduler`` and ``dask worker`` processes (``--cluster
processes``, the default) or a ``distributed.LocalCluster`` of one worker process in the measuring process
(``--cluster local``). One Python process then runs ``--commands`` commands in a loop through click's
``CliRunner``, as a scheduled job or a library caller would: in turn ``ingest`` of two small SAR GeoTIFFs
into one site of a new workspace on the cluster, and the same ``ingest`` naming a scheduler that cannot be
reached (a loopback port nothing listens on; the connect timeout set to 1 s in both). After each command it
prints its open descriptors (``/proc/self/fd``), threads, child processes and resident memory; then the
growth from the first command to the last of each sitewatch, and their ratios (new / old). Linux only.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> int:
    """Processes whose parent is ``pid``."""
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text(encoding="utf-8")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                n += 1
    return n


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _state() -> dict[str, float]:
    gc.collect()
    return {"fds": len(os.listdir("/proc/self/fd")), "threads": threading.active_count(),
            "children": _children(os.getpid()), "rss_mb": round(_rss_mb(), 1)}  # fmt: skip


def _child(args: argparse.Namespace) -> None:
    """In the measuring process (its sitewatch first on sys.path): the commands, a JSON line after each."""
    from click.testing import CliRunner

    import sitewatch.run as run
    from sitewatch.cli import main
    from sitewatch.testing import tiny_site, workspace_with_sites

    run._CONNECT_TIMEOUT_S = 1  # type: ignore[assignment]  (both sitewatches have it)
    cluster = None
    address = args.scheduler
    if args.cluster == "local":
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0", worker_dashboard_address="127.0.0.1:0")  # fmt: skip
        address = cluster.scheduler_address
    nowhere = f"tcp://127.0.0.1:{_free_port()}"
    print(json.dumps({"k": 0, "command": "(before)", **_state()}), flush=True)
    for k in range(1, args.commands + 1):
        on = address if k % 2 else nowhere
        root = Path(args.work) / f"ws{k}"  # a workspace each: a rerun would find the files unchanged, send no job
        workspace_with_sites(root, tiny_site("a"))
        start = time.perf_counter()
        res = CliRunner().invoke(main, ["-q", "ingest", "a", args.inputs, "--scheduler", on, "-w", str(root)])
        seconds = time.perf_counter() - start
        wanted = 0 if on == address else 1
        if res.exit_code != wanted or (on == nowhere and "cannot reach the Dask scheduler" not in res.output):
            raise SystemExit(f"command {k} ({on}): exit {res.exit_code}, not {wanted}: {res.output[-2000:]}")
        kind = "ingest on the cluster" if on == address else "ingest, scheduler unreachable"
        print(json.dumps({"k": k, "command": kind, "seconds": round(seconds, 2), **_state()}), flush=True)
    if cluster is not None:
        cluster.close()


def _inputs(folder: Path) -> None:
    sys.path.insert(0, str(HERE / "src"))
    import numpy as np
    from affine import Affine

    from sitewatch.testing import site_utm_origin, tiny_site, write_tiff

    crs, x0, y0 = site_utm_origin(tiny_site("a"))
    for day in (10, 11):
        data = np.random.default_rng(day).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
        write_tiff(folder / f"s1_202410{day}.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
                   descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": f"2024-10-{day}T09:30:00Z"})  # fmt: skip


def _cluster(src: Path, folder: Path) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """``dask scheduler`` and one ``dask worker`` (one thread) on loopback, the worker importing ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    info = folder / "scheduler.json"
    sched = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
         "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(info)],
        env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not info.is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    address = json.loads(info.read_text(encoding="utf-8"))["address"]
    worker = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1", "--nthreads", "1",
         "--dashboard-address", "127.0.0.1:0", "--no-nanny"],
        env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return address, [worker, sched]


def _measure(src: Path, args: argparse.Namespace, inputs: Path, work: Path) -> list[dict[str, object]]:
    procs: list[subprocess.Popen[bytes]] = []
    address = ""
    if args.cluster == "processes":
        address, procs = _cluster(src, work)
    try:
        cmd = [sys.executable, __file__, "--child", "--cluster", args.cluster, "--commands", str(args.commands),
               "--inputs", str(inputs), "--work", str(work), "--scheduler", address]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(src)}
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, encoding="utf-8", cwd=work)
        if out.returncode != 0:
            raise SystemExit(f"{src}: the measuring process failed ({out.returncode}): {out.stderr[-3000:]}")
        return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    finally:
        for p in procs:
            p.terminate()
            p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src-old", type=Path, help="the baseline sitewatch's src folder (main's)")
    ap.add_argument("--src", type=Path, default=HERE / "src", help="the sitewatch measured against it (default: this checkout's)")
    ap.add_argument("--commands", type=int, default=20, help="commands run in one process (half on the cluster, half unreachable)")
    ap.add_argument("--cluster", choices=["processes", "local"], default="processes",
                    help="`dask scheduler` + `dask worker` processes, or a LocalCluster in the measuring process")  # fmt: skip
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--inputs", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    ap.add_argument("--scheduler", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    if args.src_old is None:
        ap.error("--src-old is required: the baseline sitewatch's src folder")
    if not Path("/proc/self/fd").is_dir():
        raise SystemExit("needs Linux's /proc")
    results = {}
    with tempfile.TemporaryDirectory(prefix="sitewatch-dask-leaks-") as tmp:
        inputs = Path(tmp) / "in"
        inputs.mkdir()
        _inputs(inputs)
        for label, src in (("old", args.src_old), ("new", args.src)):
            work = Path(tmp) / label
            work.mkdir()
            results[label] = _measure(src.resolve(), args, inputs, work)
    cols = ("fds", "threads", "children", "rss_mb")
    print(f"{args.commands} commands in one process, cluster: {args.cluster}; load average {os.getloadavg()[0]:.1f}")
    print("| sitewatch | # | command | s | fds | threads | children | RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for label, rows in results.items():
        for r in rows:
            print(f"| {label} | {r['k']} | {r['command']} | {r.get('seconds', '')} | "
                  + " | ".join(str(r[c]) for c in cols) + " |")  # fmt: skip
    print()
    print("| growth, command 1 to the last | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    growth = {}
    for label, rows in results.items():
        first, last = rows[1], rows[-1]
        growth[label] = {c: round(float(last[c]) - float(first[c]), 1) for c in cols}  # type: ignore[arg-type]
        print(f"| {label} ({args.src_old if label == 'old' else args.src}) | " + " | ".join(str(growth[label][c]) for c in cols) + " |")
    ratio = {c: (f"{growth['new'][c] / growth['old'][c]:.2f}" if growth["old"][c] else "n/a (old: 0)") for c in cols}
    print("| new / old | " + " | ".join(ratio[c] for c in cols) + " |")


if __name__ == "__main__":
    main()
