"""The job runner: same results in order, in-process or in worker processes; Dask needs its extra."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import sitewatch
from _dask import local_cluster, on_stall
from sitewatch.errors import MissingExtraError
from sitewatch.run import _identity, map_jobs


@pytest.mark.parametrize("workers", [1, 2])
def test_results_in_input_order(workers: int) -> None:
    items = list(range(23))
    assert list(map_jobs(_identity, items, workers=workers)) == items


def _blas_threads(_: int) -> set[int]:
    from threadpoolctl import threadpool_info

    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_workers_run_blas_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers fill the cores: a BLAS thread per core in each (a forked worker inherits the command's)
    would only contend."""
    from threadpoolctl import threadpool_limits

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)  # the tests' own limit (conftest.py)
    with threadpool_limits(limits=2, user_api="blas"):
        if _blas_threads(0) != {2}:
            pytest.skip("BLAS cannot run two threads here (one core)")
        assert list(map_jobs(_blas_threads, [0, 1, 2], workers=2)) == [{1}] * 3


def test_scheduler_without_dask_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # The dev extra installs dask, so a skip "when distributed is installed" never ran: hide it instead.
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingExtraError, match=r"sitewatch\[dask\]"):
        list(map_jobs(_identity, [1], scheduler="tcp://127.0.0.1:1"))


def test_dask_cluster_gives_the_same_results() -> None:
    pytest.importorskip("distributed")
    with local_cluster(n_workers=1, threads_per_worker=1, processes=False) as cluster:
        items = list(range(7))
        assert list(map_jobs(_identity, items, scheduler=cluster.scheduler_address)) == items


def test_unreachable_scheduler_is_named_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    pytest.importorskip("distributed")
    from sitewatch import run
    from sitewatch.errors import ConfigError

    monkeypatch.setattr(run, "_CONNECT_TIMEOUT_S", 1)
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError, match=rf"tcp://127.0.0.1:{port}.*dask scheduler"):
        list(map_jobs(_identity, [1], scheduler=f"tcp://127.0.0.1:{port}"))


_SLOW_JOBS = """
import sys, time
from pathlib import Path

from sitewatch.run import map_jobs

def job(i):
    Path(sys.argv[1], f"started-{i}").touch()
    time.sleep(120)
    return i

if __name__ == "__main__":
    try:
        list(map_jobs(job, list(range(8)), workers=2))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
"""


def test_ctrl_c_stops_the_pool_at_once(tmp_path: Path) -> None:
    """SIGINT to the process group (what a terminal's Ctrl-C sends) ends parent and workers, without tracebacks."""
    proc = _start_slow(tmp_path, _SLOW_JOBS)
    try:
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=20)  # the jobs would take 120 s each
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert len(list(tmp_path.glob("started-*"))) == 2  # the pending jobs were dropped
    if Path("/proc/self/stat").exists():  # no worker left behind in the group (given a moment on a busy machine)
        assert _group_gone(proc, 10), "a worker outlived the command"
    else:
        with pytest.raises(ProcessLookupError):
            os.killpg(proc.pid, 0)


_SIGNAL_WHILE_STARTING = """
import multiprocessing, os, signal, sys, time
from concurrent.futures import ProcessPoolExecutor

import click

from sitewatch import run
from sitewatch.cli.options import handle_errors

class SignalledWhileStarting(ProcessPoolExecutor):
    def submit(self, *args, **kwargs):
        future = super().submit(*args, **kwargs)  # the workers are started, the job handed out
        os.kill(os.getpid(), signal.{signame})  # before map_jobs has waited for a result (held till then: one)
        return future

run.ProcessPoolExecutor = SignalledWhileStarting

def job(i):
    time.sleep(120)
    return i

@click.command()
@click.argument("folder")
@handle_errors
def slow(folder):
    try:
        list(run.map_jobs(job, list(range(8)), workers=2))
    finally:
        left = multiprocessing.active_children()
        for worker in left:  # so that the command still ends when the test fails
            worker.kill()
        print(len(left), "workers left", file=sys.stderr)

if __name__ == "__main__":
    slow()
"""


@pytest.mark.parametrize(("signame", "code", "word"), [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_a_signal_while_the_workers_start_stops_them_too(tmp_path: Path, signame: str, code: int, word: str) -> None:
    """Ctrl-C (or SIGTERM) while the pool started its workers and was handed the jobs was raised
    where map_jobs did not stop them: they ran their jobs on, and the command, having said
    "interrupted", waited for every job before it exited. The signal is sent at that moment by
    the pool itself, so the test does not depend on timing."""
    proc = _popen(tmp_path, _SIGNAL_WHILE_STARTING.format(signame=signame))
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert (proc.returncode, err) == (code, f"0 workers left\n{word}\n")


_KILLED_WHILE_SENDING = """
import gc, multiprocessing.queues, os, signal, struct, sys, time

from sitewatch.run import map_jobs

def job(item):
    command, i = item
    if i == 0:
        # What a worker ended while it sends a large result leaves in the pipe: a header and part of it.
        results = next(o for o in gc.get_objects() if type(o) is multiprocessing.queues.SimpleQueue)
        results._writer._send(struct.pack("!i", 1 << 20) + bytes(1000))
        os.kill(command, signal.SIGINT)
    time.sleep(120)
    return i

if __name__ == "__main__":
    try:
        list(map_jobs(job, [(os.getpid(), i) for i in range(8)], workers=2))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="a pipe of the fork start method")
def test_a_worker_ended_while_it_sent_its_result_does_not_hang_the_exit(tmp_path: Path) -> None:
    """Ctrl-C while a worker was writing a large result (an ingested observation's record): the workers
    were ended, but the pool's thread went on waiting for the rest of the result, from a pipe this
    process holds open, and Python's exit waited for that thread: 'interrupted', then no exit."""
    proc = _popen(tmp_path, _KILLED_WHILE_SENDING)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert (proc.returncode, err) == (130, "interrupted\n")


def _first_at_once(i: int) -> int:
    if i:
        time.sleep(60)
    return i


def test_a_pool_stopped_early_leaves_no_thread_of_it_running() -> None:
    """A run stopped early (Ctrl-C, SIGTERM, or a caller that stops reading) returned while the pool's
    own thread was still closing its wake-up pipe, and Python, exiting meanwhile, wrote to that pipe:
    now and then, on a busy machine, an OSError traceback after "interrupted" (CPython gh-125451)."""
    before = set(threading.enumerate())
    results = map_jobs(_first_at_once, list(range(8)), workers=2)
    assert next(results) == 0
    results.close()  # GeneratorExit in map_jobs: the pool is stopped as on Ctrl-C
    assert set(threading.enumerate()) - before == set()


_SLOW_COMMAND = """
import sys, time
from pathlib import Path

import click

from sitewatch.cli.options import handle_errors
from sitewatch.run import map_jobs

def job(i):
    Path(sys.argv[1], f"started-{i}").write_text(str(__import__("os").getpid()))
    time.sleep(120)
    return i

@click.command()
@click.argument("folder")
@handle_errors
def slow(folder):
    list(map_jobs(job, list(range(8)), workers=2))

if __name__ == "__main__":
    slow()
"""


FOREGROUND_SIGINT = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
"""First line of a script that is sent SIGINT: Ctrl-C handled as in a terminal's foreground, whatever
the test run's own handling. A test run started in the background (``pytest &`` in a script) has SIGINT
ignored and passes that on to its subprocesses, where sitewatch rightly keeps it ignored."""


def _popen(tmp_path: Path, source: str) -> subprocess.Popen[str]:
    """``source`` run with sitewatch importable, in a process group of its own, given ``tmp_path``."""
    script = tmp_path / "slow.py"
    script.write_text(FOREGROUND_SIGINT + source, encoding="utf-8")
    src = str(Path(sitewatch.__file__).parents[1])
    env = os.environ | {"PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="locale", start_new_session=True,
    )  # fmt: skip


def _start_slow(tmp_path: Path, source: str) -> subprocess.Popen[str]:
    """``source`` (a script running two workers in slow jobs) in a process group of its own, once
    both workers are inside a job."""
    proc = _popen(tmp_path, source)
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("started-*"))) < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.05)
    return proc


def _live_in_group(pgid: int) -> list[int]:
    """Processes of a process group that still run (a zombie, ended but not yet reaped, does not)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append(int(stat.parent.name))
    return live


def _group_gone(proc: subprocess.Popen[str], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        proc.poll()  # reaps the command once it has ended
        if not _live_in_group(proc.pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
def test_sigterm_stops_the_command_and_its_workers(tmp_path: Path) -> None:
    """`kill PID`, `timeout`, systemd and `docker stop` send SIGTERM to sitewatch alone: it
    died at once and left its workers behind for ever (blocked on a pipe nobody read); now it
    stops as on Ctrl-C, says so and exits 143."""
    proc = _start_slow(tmp_path, _SLOW_COMMAND)
    try:
        os.kill(proc.pid, signal.SIGTERM)  # the command alone, not its group
        gone = _group_gone(proc, 20)
        _, err = proc.communicate(timeout=20) if gone else ("", "")
    finally:
        if not gone:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert gone, "workers left behind after SIGTERM"
    assert proc.returncode == 143, err
    assert err == "terminated\n"


def _group_gone_after_sigkill(proc: subprocess.Popen[str]) -> bool:
    """Whether the command's process group has ended within 20 s of SIGKILL to the command alone (what is
    left is killed after, so that no test leaves processes behind)."""
    gone = False
    try:
        os.kill(proc.pid, signal.SIGKILL)
        gone = _group_gone(proc, 20)
    finally:
        if not gone:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    return gone


_SLOW_TILES = """
import sys, time
from pathlib import Path

from sitewatch.detect.optical_image import _map_tiles

def tile(i):
    Path(sys.argv[1], f"started-{i}").write_text(str(__import__("os").getpid()))
    time.sleep(120)
    return i

if __name__ == "__main__":
    list(_map_tiles(tile, list(range(8)), 2))
"""

_FORKSERVER = 'import multiprocessing; multiprocessing.set_start_method("forkserver", force=True)\n'


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
@pytest.mark.parametrize("source", [_SLOW_COMMAND, _FORKSERVER + _SLOW_COMMAND, _SLOW_TILES], ids=["fork", "forkserver", "tiles"])
def test_workers_end_when_the_command_is_killed(tmp_path: Path, source: str) -> None:
    """SIGKILL (or the out-of-memory killer) cannot be caught: the workers notice the command has gone
    and end, rather than wait for ever. Under forkserver (Python 3.14's default on Linux) a worker's
    parent is the fork server, which outlives the command while any worker lives; detect-image's tile
    workers (a large optical scene) waited for ever too, each holding its tile's bands."""
    gone = _group_gone_after_sigkill(_start_slow(tmp_path, source))
    assert gone, "workers (or the fork server) left behind after the command was killed"


_SPAWNED_WORKER = """
import multiprocessing, os, sys, time
from pathlib import Path

from sitewatch.run import _end_with_parent_process

def worker():
    _end_with_parent_process()  # what a worker does on Windows, where os.kill(pid, 0) would end the command
    Path(sys.argv[1], "started-0").write_text(str(os.getpid()), encoding="utf-8")
    Path(sys.argv[1], "started-1").write_text("", encoding="utf-8")
    time.sleep(120)

if __name__ == "__main__":
    multiprocessing.get_context("spawn").Process(target=worker).start()  # Windows's only start method
    time.sleep(120)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
def test_a_spawned_worker_ends_with_its_command_without_signalling_it(tmp_path: Path) -> None:
    """On Windows a worker asked every second whether its command was there with os.kill(pid, 0), which
    Windows does not ask but carries out (TerminateProcess): the first look ended the command. There the
    worker now waits on its parent's sentinel, as here under spawn."""
    gone = _group_gone_after_sigkill(_start_slow(tmp_path, _SPAWNED_WORKER))
    assert gone, "the spawned worker outlived its command"


def test_a_worker_on_windows_never_calls_os_kill(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import sitewatch.run as run

    parent_ended = threading.Event()
    exited = threading.Event()

    class Parent:
        def join(self) -> None:
            parent_ended.wait(10)

    def no_kill(*args: object) -> None:
        raise AssertionError("os.kill(pid, 0) ends a process on Windows")

    monkeypatch.setattr(run, "_SIGNAL_ZERO_ASKS", False)
    monkeypatch.setattr(os, "kill", no_kill)
    monkeypatch.setattr(run.multiprocessing, "parent_process", lambda: Parent())
    monkeypatch.setattr(os, "_exit", lambda code: exited.set())
    run.end_with_command(os.getpid())
    assert not exited.wait(0.3)  # the command is there: the worker goes on
    parent_ended.set()
    assert exited.wait(5)  # the command gone: the worker ends


def test_tile_workers_are_threads_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS has fork, but a forked child can crash in its system libraries (Python's default there is
    spawn): the tiles go to threads there, as on Windows; on Linux to forked processes."""
    from sitewatch.detect import optical_image

    def pid(_: int) -> int:
        return os.getpid()

    monkeypatch.setattr(optical_image.sys, "platform", "darwin")
    assert set(optical_image._map_tiles(pid, [0, 1, 2, 3], 2)) == {os.getpid()}
    if "fork" in multiprocessing.get_all_start_methods():
        monkeypatch.setattr(optical_image.sys, "platform", "linux")
        assert os.getpid() not in set(optical_image._map_tiles(pid, [0, 1, 2, 3], 2))


def test_cli_says_interrupted_and_exits_130() -> None:
    import click
    from click.testing import CliRunner

    from sitewatch.cli.options import handle_errors

    @click.command()
    @handle_errors
    def stopped() -> None:
        raise KeyboardInterrupt

    result = CliRunner().invoke(stopped)
    assert result.exit_code == 130
    assert result.stderr == "interrupted\n"


def _interrupt(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("patched", "args"),
    [
        ("click.Path.convert", ["sites", "list", "-w", "somewhere"]),  # a subcommand's option, being parsed
        ("click.IntRange.convert", ["-q", "detect", "dunai", "--workers", "2"]),
        ("sitewatch.cli.unknown_env", ["sites", "list"]),  # the group's own body, before the command's
    ],
)
def test_ctrl_c_while_the_arguments_are_parsed_says_interrupted_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, patched: str, args: list[str]
) -> None:
    """Ctrl-C in the moment click parsed the command line gave click's "Aborted!" and exit 1, which a
    script cannot tell from a failure, instead of "interrupted" and 130 as in the command."""
    from click.testing import CliRunner

    from sitewatch.cli import main

    monkeypatch.setattr(patched, _interrupt)
    result = CliRunner().invoke(main, args)
    assert (result.exit_code, result.stderr) == (130, "interrupted\n")


def test_a_scheduler_without_workers_is_said_to_have_none(caplog: pytest.LogCaptureFixture) -> None:
    """A scheduler no worker has joined held the jobs without a word; now it is named, and the
    jobs still run once a worker joins."""
    pytest.importorskip("distributed")
    with local_cluster(n_workers=0, processes=False) as cluster:
        with caplog.at_level("WARNING", logger="sitewatch.run"), on_stall(lambda: cluster.scale(1)):  # (not a timer: see test_dask_jobs)
            assert list(map_jobs(_identity, [1, 2], scheduler=cluster.scheduler_address)) == [1, 2]
    assert f"the Dask scheduler at {cluster.scheduler_address} has no workers" in caplog.text


def _die_on_3(x: int) -> int:
    if x == 3:
        os._exit(1)  # as the kernel's out-of-memory killer ends a process
    return x


def test_a_worker_that_dies_is_named_without_a_traceback() -> None:
    """A worker killed mid-job (out of memory) gave a BrokenProcessPool traceback."""
    from sitewatch.errors import WorkerError

    with pytest.raises(WorkerError, match=r"^a worker process ended with exit code 1 before it finished its job "
                       r"\(job 4 of 6\); .*fewer workers"):  # fmt: skip
        list(map_jobs(_die_on_3, list(range(6)), workers=2))


def _killed_on_3(x: int) -> int:
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's out-of-memory killer sends
    return x


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_worker_killed_mid_job_names_the_job_and_the_signal() -> None:
    """A worker killed while it computed said 'killed, or out of memory' and not which job it was on."""
    from sitewatch.errors import WorkerError

    with pytest.raises(WorkerError, match=r"^a worker process was killed by SIGKILL \(out of memory\?\) before it "
                       r"finished its job \(item 3\); what was finished is kept"):  # fmt: skip
        list(map_jobs(_killed_on_3, list(range(6)), workers=2, describe=lambda x: f"item {x}"))


def _killed_worker(x: int) -> int:
    from types import SimpleNamespace

    from distributed import KilledWorker

    # What the client gets when the job's workers died, each in turn, up to the allowed failures.
    raise KilledWorker(f"job {x}", SimpleNamespace(address="tcp://127.0.0.1:1"), 3)


def test_a_job_that_kills_dask_workers_is_named_without_a_traceback() -> None:
    pytest.importorskip("distributed")
    from sitewatch.errors import WorkerError

    with local_cluster(n_workers=1, threads_per_worker=1, processes=False) as cluster:
        with pytest.raises(WorkerError, match="Dask workers died running a job"):
            list(map_jobs(_killed_worker, [1, 2], scheduler=cluster.scheduler_address))


def _pid(_: int) -> int:
    return os.getpid()


def test_one_worker_per_core_counts_the_cores_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """workers 0 under `taskset -c 0` (or a container's cpuset) started one process per core of the machine."""
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this system")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert set(map_jobs(_pid, list(range(6)), workers=0)) == {os.getpid()}  # one core: in this process


def test_no_jobs_need_no_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rerun of detect with every observation kept failed when the scheduler setting named one that was down."""
    pytest.importorskip("distributed")
    from sitewatch import run

    monkeypatch.setattr(run, "_CONNECT_TIMEOUT_S", 1)
    assert list(map_jobs(_identity, [], scheduler="tcp://127.0.0.1:1")) == []


_KILLED_WHILE_RETURNING = """
import click

from sitewatch.cli.options import handle_errors
from sitewatch.run import map_jobs
from sitewatch.testing.processes import die_while_sending

def job(name):
    if name == "b.tif":
        # Killed outright (SIGKILL, as the out-of-memory killer ends a process) half-way through
        # sending its 1 MB result: the length went, and part of the bytes.
        die_while_sending(1 << 16)
    return bytes(1 << 20)

@click.command()
@click.argument("folder")
@handle_errors
def run(folder):
    names = ["a.tif", "b.tif", "c.tif", "d.tif"]
    for result in map_jobs(job, names, workers=2, describe=lambda name: f"file {name}"):
        print(len(result))

if __name__ == "__main__":
    run()
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
def test_a_worker_killed_while_it_returns_a_large_result_ends_the_run(tmp_path: Path) -> None:
    """A worker killed outright (the out-of-memory killer) while it sent a result larger than the pipe's
    buffer left the pool's thread reading the rest for ever: the run hung until Ctrl-C. It now ends
    with an error naming the job and how the worker died, and no worker left behind."""
    proc = _popen(tmp_path, _KILLED_WHILE_RETURNING)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert err.startswith("Error: a worker process was killed by SIGKILL (out of memory?) before it finished its job (file b.tif)")
    assert out.split() in ([], [str(1 << 20)])  # at most the job before it (the death may be seen first)
    assert _group_gone(proc, 10), "a worker outlived the command"


def test_a_worker_that_died_between_jobs_is_said_to_have() -> None:
    """Which job a dead worker was on comes from the pids its jobs were started by; one whose last job
    had returned died between two jobs (the out-of-memory killer may pick an idle worker too)."""
    from concurrent.futures import Future

    from sitewatch.run import _worker_died

    returned: Future[int] = Future()
    returned.set_result(0)
    pending: Future[int] = Future()
    started = [101, 202, 101, 0]
    futures = [returned, pending, returned, pending]
    items = ["a.tif", "b.tif", "c.tif", "d.tif"]
    idle = _worker_died([(101, -9), (202, -15)], started, futures, items, str)
    assert idle.startswith("a worker process was killed by SIGKILL (out of memory?) between two jobs; ")
    busy = _worker_died([(101, -15), (202, -11)], started, futures, items, str)
    assert busy.startswith("a worker process was killed by SIGSEGV before it finished its job (b.tif); ")
    assert _worker_died([(202, 3)], started, futures, items, None).startswith(
        "a worker process ended with exit code 3 before it finished its job (job 2 of 4); "
    )
    # Died while the jobs were still being handed out: its job's future not yet made.
    assert "before it finished its job (b.tif)" in _worker_died([(202, -9)], started, futures[:1], items, str)
