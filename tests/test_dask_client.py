"""A run on a Dask cluster whose scheduler cannot be reached, ends mid-run or stops answering: an error naming
it within a stated time, nothing of the client left open in this process, nothing half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

import sitewatch.dask_client as dask_client
import sitewatch.run as run
from _dask import local_cluster, on_stall, scheduler_process
from sitewatch.cli import main
from sitewatch.errors import ConfigError, WorkerError
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff

distributed = pytest.importorskip("distributed")

posix = pytest.mark.skipif(sys.platform == "win32", reason="stops the scheduler with SIGSTOP")

SITE = tiny_site("pier")


def _open() -> tuple[int, int]:
    """This process's threads and open descriptors."""
    fds = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else 0
    return threading.active_count(), fds


def _free_port() -> int:
    import socket

    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_scheduler_that_cannot_be_reached_leaves_no_thread_or_descriptor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run against a scheduler that could not be reached left the Dask client's event loop running in a
    thread of its own, holding three descriptors (its epoll and a socket pair): a process that retried (a
    library caller, a test session) gained a thread and three descriptors each time."""
    monkeypatch.setattr(run, "_CONNECT_TIMEOUT_S", 0.5)
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(ConfigError):  # the first: whatever Dask sets up once per process
        list(run.map_jobs(run._identity, [1], scheduler=address))
    threads, fds = set(threading.enumerate()), _open()[1]
    for _ in range(2):
        with pytest.raises(ConfigError, match=f"cannot reach the Dask scheduler at '{address}'"):
            list(run.map_jobs(run._identity, [1], scheduler=address))
    # (another test's client may still be closing its loop meanwhile: only this one's threads count)
    deadline = time.monotonic() + 10  # (Dask stops the failed client's loop thread without waiting for it)
    while (set(threading.enumerate()) - threads or _open()[1] > fds) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t.name for t in set(threading.enumerate()) - threads]
    assert _open()[1] <= fds


def test_a_run_leaves_dask_as_it_found_it(tmp_path: Path) -> None:
    """The run's client was made Dask's default while the run lasted: a caller's own Dask computations,
    made while it went through the results (a dask array, a dataframe), were sent to the cluster. The
    client is the run's alone, and gone with its thread and connection when the run ends."""
    import dask

    seen = []
    with local_cluster(n_workers=1, threads_per_worker=1, processes=False) as cluster:
        with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
            client.submit(run._identity, 0).result()  # (the worker's own threads, started with its first job)
        before = threading.active_count()  # (not descriptors: the in-process cluster's own come and go)
        for _ in run.map_jobs(run._identity, [1, 2, 3], scheduler=cluster.scheduler_address):
            seen.append(dask.config.get("scheduler", None))
        assert threading.active_count() == before
    assert seen == [None, None, None]


def _sar(path: Path) -> Path:
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(1).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    return write_tiff(path, data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"],
                      tags={"SITEWATCH_ACQUIRED": "2024-10-10T09:30:00Z"})  # fmt: skip


@posix
def test_a_scheduler_that_ends_mid_run_is_named_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduler killed while ingest waited for its jobs: the command ended in a traceback of Dask's
    (FutureCancelledError: "Client lost the connection to the scheduler"), naming neither the scheduler nor
    what to do. Now an error naming it, once Dask has tried to reconnect; nothing written."""
    monkeypatch.setattr(run, "_CONNECT_TIMEOUT_S", 1)
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    scene = _sar(tmp_path / "s1_20241010.tif")
    with scheduler_process(tmp_path) as (address, scheduler):
        with on_stall(scheduler.kill):  # once the jobs are sent and the command waits for them
            res = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(scene), "--scheduler", address, "-w", str(ws.root)])
    assert res.exit_code == 1, res.output
    assert f"Error: lost the Dask scheduler at {address} mid-run (it ended, or its machine went away" in res.output
    assert "Traceback" not in res.output and not isinstance(res.exception, distributed.client.FutureCancelledError)
    assert [p.name for p in ws.archive.rglob("*") if p.is_file()] == []
    with ws.store() as store:
        assert store.observations() == []


@posix
def test_dasks_own_reconnect_line_does_not_follow_the_lost_scheduler_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After sitewatch's "lost the Dask scheduler at … mid-run", Dask's own logger printed "Failed to reconnect to
    scheduler after 1.00 seconds, closing client" on standard error. Its reconnect lines are dropped while a run
    lasts; that logger's other lines, and the logger itself once the run has ended, are as they were."""
    import logging

    class Seen(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.DEBUG)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(record.getMessage())

    monkeypatch.setattr(run, "_CONNECT_TIMEOUT_S", 1)
    logger = logging.getLogger("distributed.client")
    seen, filters, level = Seen(), list(logger.filters), logger.level
    logger.addHandler(seen)
    try:
        ws = workspace_with_sites(tmp_path / "ws", SITE)
        scene = _sar(tmp_path / "s1_20241010.tif")
        with scheduler_process(tmp_path) as (address, scheduler):
            with on_stall(scheduler.kill):
                res = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(scene), "--scheduler", address, "-w", str(ws.root)])
        assert res.exit_code == 1 and f"lost the Dask scheduler at {address} mid-run" in res.output, res.output
        assert not [line for line in seen.lines if "reconnect" in line.lower()], seen.lines
        assert logger.filters == filters and logger.level == level  # as it was
        logger.error("Failed to reconnect to scheduler after 1.00 seconds, closing client")  # outside a run: kept
        logger.error("another line of Dask's")
        assert seen.lines[-2:] == ["Failed to reconnect to scheduler after 1.00 seconds, closing client", "another line of Dask's"]
    finally:
        logger.removeHandler(seen)



def test_dasks_reconnect_line_on_closing_a_reconnecting_client_is_dropped_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client closed while it still tries to reconnect (the run stopped another way meanwhile: Ctrl-C, a job's
    error) ends Dask's reconnect loop, which then logs "Failed to reconnect to scheduler after 10.00 seconds,
    closing client" (its ``while … else``). That came from the close, after the lines were no longer dropped."""
    import logging

    seen: list[str] = []

    class Seen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    class Reconnecting:
        def __init__(self, *args: object, **kwargs: object) -> None:
            self.status = "connecting"

        def close(self, timeout: float) -> None:
            logging.getLogger("distributed.client").error("Failed to reconnect to scheduler after %.2f seconds, closing client", 10.0)
            self.status = "closed"

    monkeypatch.setattr(dask_client, "_client_class", lambda base: Reconnecting)
    logger, handler = logging.getLogger("distributed.client"), Seen()
    filters = list(logger.filters)
    logger.addHandler(handler)
    try:
        with dask_client.connected("tcp://127.0.0.1:1", 1) as client:
            assert client.status == "connecting"
        assert client.status == "closed" and seen == [] and logger.filters == filters
    finally:
        logger.removeHandler(handler)

@posix
def test_a_scheduler_that_stops_answering_ends_the_run_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scheduler stopped (SIGSTOP: as a wedged process or a frozen machine, the connection stays up and
    nothing answers) left the run waiting for ever. Now it ends once the scheduler has not answered for
    dask_client.SILENT_S, with an error naming it."""
    monkeypatch.setattr(dask_client, "SILENT_S", 1.0)
    monkeypatch.setattr(dask_client, "ASK_EVERY_S", 0.2)
    monkeypatch.setattr(dask_client, "CLOSE_S", 1.0)
    ended: list[BaseException | None] = []

    def runs(address: str) -> None:
        try:
            list(run.map_jobs(time.sleep, [1, 1], scheduler=address))
            ended.append(None)
        except BaseException as exc:  # (checked below, in the test's thread)
            ended.append(exc)

    with scheduler_process(tmp_path) as (address, scheduler):
        with on_stall(lambda: os.kill(scheduler.pid, signal.SIGSTOP)):
            thread = threading.Thread(target=runs, args=(address,), daemon=True)
            thread.start()
            thread.join(60)  # (the old code waited for ever: a failure, not a hung test)
        assert not thread.is_alive(), "the run still waits for a scheduler that does not answer"
    assert len(ended) == 1 and isinstance(ended[0], WorkerError), ended
    assert str(ended[0]).startswith(f"the Dask scheduler at {address} has not answered for 1 s")


_INTERRUPTED_WHILE_SILENT = """
import logging, os, signal, sys, threading, time
from pathlib import Path

from sitewatch import run
from sitewatch.errors import STALL_LOGGER

try:
    from sitewatch import dask_client
    dask_client.STOPPING_S = dask_client.CLOSE_S = 1.0
except ImportError:  # (the code before it)
    pass
address, pid, folder = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])


# Ctrl-C as in a terminal: a shell runs a job it puts in the background (`cmd &`, CI run so) with SIGINT ignored,
# and Python then raises no KeyboardInterrupt for it (the run waited the 60 s out, as if nobody had pressed it).
signal.signal(signal.SIGINT, signal.default_int_handler)


class Stop(logging.Handler):
    def emit(self, record):  # the jobs sent, the run about to wait: stop the scheduler, then Ctrl-C
        os.kill(pid, signal.SIGSTOP)
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()


logging.getLogger(STALL_LOGGER).addHandler(Stop())
try:
    list(run.map_jobs(time.sleep, [1, 1], scheduler=address, shared_folder=folder))
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


@posix
def test_ctrl_c_while_the_scheduler_does_not_answer_ends_the_run(tmp_path: Path) -> None:
    """Ctrl-C while the scheduler did not answer: the run, stopping, asked it which jobs still ran (to wait
    for the files they write) and waited for the answer for ever, deaf to Ctrl-C. Now each question has
    dask_client.STOPPING_S, the close dask_client.CLOSE_S."""
    script = tmp_path / "interrupted.py"
    script.write_text(_INTERRUPTED_WHILE_SILENT, encoding="utf-8")
    (tmp_path / "archive").mkdir()
    with scheduler_process(tmp_path) as (address, scheduler):
        proc = subprocess.Popen(
            [sys.executable, str(script), address, str(scheduler.pid), str(tmp_path / "archive")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8",
        )  # fmt: skip
        try:
            out, err = proc.communicate(timeout=120)  # (the old code: for ever)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"Ctrl-C did not end a run whose scheduler does not answer: {err[-2000:]}")
    assert proc.returncode == 0 and out == "interrupted\n", err


@posix
def test_a_scheduler_that_accepts_but_does_not_answer_ends_the_connecting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scheduler stopped before the run connected: the system accepts the connection for it, and the Dask
    client waited for its first answer for ever (its timeout bounds the connecting alone). Now the run ends
    after the connect timeout and dask_client.SILENT_S, naming it, the half-made client's thread stopped."""
    monkeypatch.setattr(run, "_CONNECT_TIMEOUT_S", 1)
    monkeypatch.setattr(dask_client, "SILENT_S", 1.0)
    ended: list[BaseException | None] = []

    def runs(address: str) -> None:
        try:
            list(run.map_jobs(time.sleep, [1], scheduler=address))
            ended.append(None)
        except BaseException as exc:  # (checked below, in the test's thread)
            ended.append(exc)

    with scheduler_process(tmp_path) as (address, scheduler):
        before = threading.active_count()
        os.kill(scheduler.pid, signal.SIGSTOP)
        thread = threading.Thread(target=runs, args=(address,), daemon=True)
        thread.start()
        thread.join(60)  # (the old code waited for ever: a failure, not a hung test)
        assert not thread.is_alive(), "the run still waits for a scheduler that does not answer"
        assert len(ended) == 1 and isinstance(ended[0], WorkerError), ended
        assert str(ended[0]).startswith(f"the Dask scheduler at {address} has not answered for 2 s")
        deadline = time.monotonic() + 10
        while threading.active_count() > before and time.monotonic() < deadline:  # (the loop's thread ending)
            time.sleep(0.05)
        assert threading.active_count() == before, [t.name for t in threading.enumerate()]


class _Late:
    """A Dask future whose result comes just as the wait for it times out."""

    def __init__(self) -> None:
        self.waits = 0

    def result(self, timeout: float | None = None) -> str:
        self.waits += 1
        if self.waits == 1:
            raise TimeoutError("timed out after 5 s.")
        return "the result"

    def done(self) -> bool:
        return self.waits >= 1


def test_a_result_that_comes_as_the_wait_times_out_is_the_result() -> None:
    """The wait for a result timed out (to ask the scheduler whether it is there) just as the result came:
    the future was done, and its wait's TimeoutError was raised as the job's, ending the run (seen under
    load: `ingest` on Dask ended with "timed out after 5 s.")."""
    assert dask_client.result(None, _Late(), "tcp://127.0.0.1:1") == "the result"
