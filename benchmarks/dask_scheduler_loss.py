"""What `sitewatch ingest --scheduler` does when its scheduler goes away mid-run, or the user presses Ctrl-C.

    python benchmarks/dask_scheduler_loss.py [--src SRC] [--modes none,sigint,killsched,termsched,stopsched,stopsched+sigint]
                                             [--files 10] [--side 3000] [--after 2] [--limit 240]

Writes FILES SAR GeoTIFFs (SIDE × SIDE float32, as ``ingest_dask.py``), then for each mode starts ``dask
scheduler`` and ``dask worker`` (2 processes of one thread, importing SRC) on loopback, runs ``python -m
sitewatch ingest`` of the files into a new workspace on them, and AFTER seconds after its jobs reach the
scheduler: nothing (``none``), Ctrl-C
to the command (``sigint``), SIGKILL or SIGTERM to the scheduler (``killsched``, ``termsched``), SIGSTOP to it
(``stopsched``: a wedged scheduler, the connection up), or SIGSTOP then, 10 s later, Ctrl-C to the command
(``stopsched+sigint``). Prints, per mode: the command's exit code, the seconds from the event to its exit (or
``HANG`` past LIMIT, when it is killed), the last lines of its stderr (INFO lines dropped), the files left in
the archive (hidden partial files included) 3 s after, the observations stored, and, if the scheduler still
answers, the clients still connected to it and the tasks it still holds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _cluster(src: Path, folder: Path) -> tuple[str, subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    info = folder / "scheduler.json"
    info.unlink(missing_ok=True)
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
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "2", "--nthreads", "1",
         "--dashboard-address", "127.0.0.1:0"],
        env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(5)  # the workers joined
    return address, sched, worker


def _tasks(dask_scheduler: object) -> int:
    return len(dask_scheduler.tasks)  # type: ignore[attr-defined]


def _run(mode: str, src: Path, scenes: Path, tmp: Path, after: float, limit: float) -> None:
    from sitewatch.testing import (  # (this checkout's: the workspace's schema is main's)
        tiny_site,
        workspace_with_sites,
    )

    root = tmp / f"ws-{mode}"
    shutil.rmtree(root, ignore_errors=True)
    ws = workspace_with_sites(root, tiny_site("a"))
    address, sched, worker = _cluster(src, tmp)
    try:
        env = {**os.environ, "PYTHONPATH": str(src)}
        cmd = subprocess.Popen([sys.executable, "-m", "sitewatch", "ingest", "a", str(scenes), "--scheduler", address,
                                "-w", str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
        # (SIGINT back to its default: a shell's background job starts with it ignored, and so would the command.)
        from distributed import Client

        with Client(address, timeout=10, set_as_default=False) as c:  # the event once the jobs are on the cluster
            while not c.run_on_scheduler(_tasks) and cmd.poll() is None:
                time.sleep(0.2)
        time.sleep(after)
        event = time.monotonic()
        if mode == "sigint":
            cmd.send_signal(signal.SIGINT)
        elif mode == "killsched":
            sched.kill()
        elif mode == "termsched":
            sched.terminate()
        elif mode == "stopsched":
            sched.send_signal(signal.SIGSTOP)
        elif mode == "stopsched+sigint":
            sched.send_signal(signal.SIGSTOP)
            time.sleep(10)
            cmd.send_signal(signal.SIGINT)
            event = time.monotonic()
        try:
            _, err = cmd.communicate(timeout=limit)
            took = f"{time.monotonic() - event:.1f} s"
        except subprocess.TimeoutExpired:
            cmd.kill()
            _, err = cmd.communicate()
            took = f"HANG (killed after {limit:g} s)"
        print(f"## {mode}: exit {cmd.returncode}, {took} from the event to the exit")
        lines = [line for line in err.splitlines() if " INFO " not in line and " - INFO - " not in line]
        print("stderr:", *(f"    {line[:300]}" for line in lines[-6:]), sep="\n")
        time.sleep(3)
        left = sorted(p.name for p in ws.archive.rglob("*") if p.is_file()) if ws.archive.exists() else []
        with ws.store() as store:
            print(f"archive files: {left}; observations: {len(store.observations('a'))}")
        if sched.poll() is None:
            os.kill(sched.pid, signal.SIGCONT)
            from distributed import Client

            with Client(address, timeout=10, set_as_default=False) as c:
                clients = c.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.clients)) - 2  # (this one, fire-and-forget)
                tasks = c.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
            print(f"scheduler: {clients} other client(s) connected, {tasks} task(s) held")
        print(flush=True)
    finally:
        for p in (worker, sched):
            if p.poll() is None:
                os.kill(p.pid, signal.SIGCONT)
                p.terminate()
            p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=HERE / "src", help="the sitewatch src folder to run (default: this checkout's)")
    ap.add_argument("--modes", default="none,sigint,killsched,termsched,stopsched,stopsched+sigint")
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--side", type=int, default=3000)
    ap.add_argument("--after", type=float, default=2.0, help="seconds from the jobs' arrival on the cluster to the event")
    ap.add_argument("--limit", type=float, default=240.0, help="seconds after the event before the command is killed")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE / "benchmarks"))
    from ingest_dask import _write_inputs

    with tempfile.TemporaryDirectory(prefix="sitewatch-scheduler-loss-") as name:
        tmp = Path(name)
        scenes = tmp / "in"
        scenes.mkdir()
        sys.path.insert(0, str(HERE / "src"))
        _write_inputs(scenes, args.files, args.side)
        print(f"sitewatch {args.src}; {args.files} files of {args.side} x {args.side}; load average {os.getloadavg()[0]:.1f}\n")
        for mode in args.modes.split(","):
            _run(mode, args.src.resolve(), scenes, tmp, args.after, args.limit)


if __name__ == "__main__":
    main()
