"""Dask clusters for tests: in this process (``LocalCluster``), or a real ``dask scheduler`` process that a
test can kill or stop; each listening on loopback ports of its own, none on 8787.

``LocalCluster(dashboard_address=None)`` turns the dashboard off but not the scheduler's web server, which
then listens on 8787 on the machine's address: the first cluster of a test run took it, every later one (and
any other program's) found it taken, and tornado left the socket it had failed to bind open (a
ResourceWarning: unclosed socket, an error under ``-W error::ResourceWarning``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LOOPBACK_ANY_PORT = "127.0.0.1:0"
"""A web server's address for tests: loopback, a port the system picks."""


@contextmanager
def local_cluster(**kwargs: Any) -> Iterator[Any]:
    """``distributed.LocalCluster(**kwargs)`` whose scheduler's and workers' web servers listen on loopback
    ports the system picks (see the module's docstring)."""
    import distributed

    kwargs.setdefault("dashboard_address", LOOPBACK_ANY_PORT)
    kwargs.setdefault("worker_dashboard_address", LOOPBACK_ANY_PORT)  # (None: a port of its own on every interface)
    with distributed.LocalCluster(**kwargs) as cluster:
        yield cluster


@contextmanager
def scheduler_process(folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A ``dask scheduler`` process on a loopback port, no worker: its address and the process (to kill or
    stop). Ended (continued first, if stopped) on exit."""
    info = folder / "scheduler.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
         "--dashboard-address", LOOPBACK_ANY_PORT, "--scheduler-file", str(info)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        address = None
        while address is None and proc.poll() is None and time.monotonic() < deadline:
            address = _address(info)
            time.sleep(0 if address else 0.05)
        if address is None:
            raise RuntimeError(f"dask scheduler did not start (exit code {proc.poll()})")
        yield address, proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.wait()


def _address(info: Path) -> str | None:
    """The address in a scheduler file, or None while there is none or it is still being written (the file
    appears empty before its JSON does)."""
    try:
        return str(json.loads(info.read_text(encoding="utf-8"))["address"])
    except (OSError, ValueError, KeyError):
        return None


class OnStall(logging.Handler):
    """Calls ``action`` once, when a run says that its scheduler has no worker (the stall warning, logged
    once the jobs are sent and before the run waits for them): the moment a test acts at, whatever the
    machine's speed."""

    def __init__(self, action: Callable[[], object]) -> None:
        super().__init__()
        self.action: Callable[[], object] | None = action

    def emit(self, record: logging.LogRecord) -> None:
        if self.action is not None and "has no workers" in record.getMessage():
            action, self.action = self.action, None
            action()


@contextmanager
def on_stall(action: Callable[[], object]) -> Iterator[None]:
    """:class:`OnStall` on sitewatch's stall logger, within the block."""
    from sitewatch.errors import STALL_LOGGER

    handler = OnStall(action)
    logger = logging.getLogger(STALL_LOGGER)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
