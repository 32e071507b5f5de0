"""Run independent jobs locally (processes) or on a Dask distributed cluster.

No home-made scheduler: one process pool on a laptop, ``dask.distributed``
when the user gives ``--scheduler tcp://…`` (or ``scheduler`` in
sitewatch.toml). Jobs are plain picklable functions over values; results come
back in input order so downstream writes are deterministic.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import secrets
import select
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from multiprocessing.queues import SimpleQueue
from pathlib import Path
from typing import Any, TypeVar, cast

from .blas import one_blas_thread_in_process
from .errors import STALL_LOGGER, ConfigError, OutputError, WorkerError, require_extra
from .files import partial_path

__all__ = ["map_jobs"]

log = logging.getLogger(__name__)

_WORKER_DIED = (
    "a worker process {how} {when}; what was finished is kept: run again with fewer workers "
    "(--workers, or the `workers` setting; 1 works in this process)"
)

_WATCH_S = 0.2
"""How often the run checks, while it waits for a result, that no worker has died."""

_CONNECT_TIMEOUT_S = 10
"""How long to try a Dask scheduler's address before giving up (Dask's own default is 30 s)."""

T = TypeVar("T")
R = TypeVar("R")


def map_jobs(
    func: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int = 0,
    scheduler: str = "",
    describe: Callable[[T], str] | None = None,
    shared_folder: Path | None = None,
    workers_write: bool = True,
    wait_workers: float | None = None,
) -> Generator[R, None, None]:
    """Yield ``func(item)`` for each item, in order.

    ``workers`` 0 means one per core; 1 runs in this process (easiest to
    debug, and what small batches want). ``scheduler`` is a Dask scheduler
    address; it needs the ``dask`` extra. ``describe`` names an item for the user
    (a file, an observation) in the error of a worker that died running it.

    Ctrl-C (SIGINT, which a terminal sends to the whole process group) stops
    the run at once: worker processes ignore it, and this process, on
    KeyboardInterrupt, drops the pending jobs, ends the workers and re-raises.
    The same happens when the caller stops iterating early (and on SIGTERM, which the CLI
    raises as a KeyboardInterrupt). Workers end by themselves when this process has gone. A worker that dies mid-job
    (killed, out of memory), even while it sends its result, ends the run with a
    :class:`~sitewatch.errors.WorkerError` naming that job and how the worker ended.

    ``shared_folder`` is a folder the jobs read (detect's archive) or, with ``workers_write``, write into
    (ingest's archive). On a Dask cluster every worker must see it, the same files at the same path, and
    be able to write there when they write: each is checked before any job is sent, and a
    :class:`~sitewatch.errors.ConfigError` names the workers that cannot. A Dask run of writing jobs
    that stops (a job raising, Ctrl-C) then also waits for the jobs already running on workers, which
    cannot be stopped mid-job, so that the caller can remove what they wrote.

    A scheduler no worker has joined is named in a warning (shown even under ``-q``: the run is stalled); the
    jobs wait for a worker, for ever, or at most ``wait_workers`` seconds (the ``wait_workers`` setting), after
    which a :class:`~sitewatch.errors.WorkerError` names the scheduler and nothing has run.
    """
    if scheduler and items:  # nothing to run (a rerun that keeps everything) needs no cluster
        yield from _map_on_dask(func, items, scheduler, describe, shared_folder, workers_write, wait_workers)
        return
    n = workers or _cores()
    if n <= 1 or len(items) <= 2:
        for item in items:
            yield func(item)
        return
    yield from _map_in_processes(func, items, min(n, len(items)), describe)


def _map_on_dask(
    func: Callable[[T], R],
    items: Sequence[T],
    scheduler: str,
    describe: Callable[[T], str] | None,
    shared_folder: Path | None,
    workers_write: bool = True,
    wait_workers: float | None = None,
) -> Generator[R, None, None]:
    """:func:`map_jobs` on the Dask cluster whose scheduler is at ``scheduler``."""
    require_extra("distributed", "dask")
    from distributed import KilledWorker

    from .dask_client import SilentScheduler, ask, connected, is_lost, lost, result

    with connected(scheduler, _CONNECT_TIMEOUT_S) as client:
        futures: list[Any] = []
        k = 0  # the job whose result is awaited
        try:
            if shared_folder is not None:
                _check_workers_see(client, shared_folder, write=workers_write, scheduler=scheduler)
            futures = client.map(func, list(items), pure=False)
            if futures and not ask(scheduler, client.scheduler_info).get("workers"):
                # Dask would wait for one without a word; an adaptive cluster may yet start one (the jobs are
                # submitted first: what it scales by). Said even under -q: a cron job would look hung.
                logging.getLogger(STALL_LOGGER).warning(
                    "the Dask scheduler at %s has no workers: the jobs wait until one joins%s "
                    "(start one with `dask worker %s`, or press Ctrl-C)",
                    scheduler, "" if wait_workers is None else f", for at most {wait_workers:g} s (wait_workers)", scheduler,
                )  # fmt: skip
                if wait_workers is not None:
                    _wait_for_a_worker(client, futures, scheduler, wait_workers)
            for fut in futures:
                yield result(client, fut, scheduler)
                k += 1
        except KilledWorker as exc:  # Dask gave up on a job after it killed several workers
            _stop_dask_jobs(client, futures, scheduler, settle=shared_folder is not None and workers_write)
            job = describe(items[k]) if describe is not None else f"job {k + 1} of {len(items)}"
            raise WorkerError(
                f"Dask workers died running a job, {job} ({exc}): out of memory, or killed; what was finished "
                "is kept: give the workers more memory (`dask worker --memory-limit`) and run again"
            ) from exc
        except SilentScheduler:  # it would not answer a cancel either
            raise
        except Exception as exc:
            if is_lost(client, exc):  # not the job's error: the cluster's, named as such, not a Dask traceback
                raise lost(client, scheduler, _CONNECT_TIMEOUT_S) from exc
            _stop_dask_jobs(client, futures, scheduler, settle=shared_folder is not None and workers_write)
            raise
        except BaseException:  # Ctrl-C, SIGTERM, or the caller stopping early (GeneratorExit)
            _stop_dask_jobs(client, futures, scheduler, settle=shared_folder is not None and workers_write)
            raise


def _wait_for_a_worker(client: Any, futures: Sequence[Any], scheduler: str, seconds: float) -> None:
    """Wait up to ``seconds`` for a worker to join; a WorkerError naming the scheduler when none has."""
    try:
        client.wait_for_workers(1, timeout=seconds)
    except TimeoutError as exc:  # (asyncio's and dask's are the builtin since Python 3.11)
        client.cancel(list(futures))  # no worker: none of them can be running
        raise WorkerError(
            f"no worker joined the Dask scheduler at {scheduler} in {seconds:g} s (--wait-workers, the "
            "`wait_workers` setting), so nothing was run: start workers with `dask worker "
            f"{scheduler}`, or check --scheduler / the `scheduler` setting, or run without it; then run again"
        ) from exc


def _check_workers_see(client: Any, folder: Path, *, scheduler: str, write: bool = True) -> None:
    """A ConfigError naming each Dask worker that cannot use ``folder``: one that does not see
    it at that path, sees another folder there (the same path on a disk of its own), or (``write``)
    may not write there.

    The folder gets a file of this command's, with a random word in it, which each worker reads.
    """
    token = secrets.token_hex(8)
    probe = partial_path(folder / "sitewatch-probe")  # a partial file: removed as one if this command is killed
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_text(token, encoding="utf-8")
    except OSError as exc:
        if not write:  # a read-only archive (a team's shared mount): the jobs need only read it
            log.warning("%s: cannot check that the Dask workers see it (%s)", folder, exc.strerror or exc)
            return
        raise OutputError(f"{folder}: cannot write into it ({exc.strerror or exc})") from exc
    try:
        # on_error="return": a worker that cannot run the check at all (no sitewatch there to unpickle it
        # with) is named with the others, not raised as that worker's traceback.
        from .dask_client import ask

        seen: dict[str, Any] = ask(
            scheduler,
            lambda: client.run(_cannot_use, str(probe), token, write, _code_fingerprint(), on_error="return"),
        )
    finally:
        probe.unlink(missing_ok=True)
    broken = sorted((a, f"{type(why).__name__}: {why}") for a, why in seen.items() if isinstance(why, BaseException))
    if broken:
        raise ConfigError(
            "Dask worker(s) cannot run sitewatch ("
            + "; ".join(f"{address}: cannot run sitewatch there ({why})" for address, why in broken)
            + "): install sitewatch[dask], the same version as this command's, on every worker machine and "
            "start its workers from that Python; or run without --scheduler"
        )
    if other := sorted((a, why) for a, why in seen.items() if isinstance(why, str) and why.startswith(_OTHER_CODE)):
        raise ConfigError(
            "Dask worker(s) run another sitewatch than this command's ("
            + "; ".join(f"{address}: {why}" for address, why in other)
            + "): their results would be recorded as this version's; install this one on every worker machine "
            "(the same version, with no local edits) and restart the workers; or run without --scheduler"
        )
    if blind := sorted((address, why) for address, why in seen.items() if why):
        raise ConfigError(
            f"Dask worker(s) cannot use the workspace folder {folder} ("
            + "; ".join(f"{address}: {why}" for address, why in blind)
            + "): every worker must see the workspace at the path this machine sees it at (a file system "
            f"they share, mounted there){' and may write there' if write else ''}; or run without --scheduler"
        )


_OTHER_CODE = "runs another sitewatch than this command's"


def _code_fingerprint() -> str:
    """A digest of this sitewatch's code and data files (what detection's results depend on): a Dask worker's
    must be the command's."""
    from .detection_state import _code_hash

    return _code_hash()


def _cannot_use(probe: str, token: str, write: bool = True, code: str = "") -> str:
    """On a Dask worker: why it cannot use the folder of the file ``probe`` that the command wrote
    ``token`` into (``write``: to write there too), or "" when it can. ``code``: the command's
    :func:`_code_fingerprint`, which this worker's must equal."""
    if code and code != _code_fingerprint():
        from . import __version__

        return f"{_OTHER_CODE} (sitewatch {__version__} there, with other code)"
    path = Path(probe)
    if not path.parent.is_dir():
        return "no such folder there"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "another folder of that path, not the command's"
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    if text != token:
        return "another folder of that path, not the command's"
    if write and not os.access(path.parent, os.W_OK):
        return "may not write there"
    return ""


_SETTLE_S = 120.0
"""How long a stopped Dask run waits for the jobs already running on workers (see :func:`map_jobs`)."""


def _stop_dask_jobs(client: Any, futures: Sequence[Any], scheduler: str, *, settle: bool) -> None:
    """Cancel a Dask run's jobs; with ``settle``, wait (at most :data:`_SETTLE_S`) for those running.

    A worker's thread cannot be stopped mid-job: cancelled, a running job still writes its files.
    Ctrl-C again stops the wait, leaving them to the next run (:func:`~sitewatch.ingest.remove_partials`).
    A scheduler that does not answer within :data:`~sitewatch.dask_client.STOPPING_S` is left as it is.
    """
    from .dask_client import STOPPING_S, ask

    if not futures:
        return
    keys = {fut.key for fut in futures}
    try:
        ask(scheduler, lambda: client.cancel(list(futures)), STOPPING_S)
    except Exception:  # the scheduler gone or silent: the reason the run stops, raised already
        return
    if not settle:
        return
    deadline = time.monotonic() + _SETTLE_S
    said = False
    while time.monotonic() < deadline:
        try:
            stacks = ask(scheduler, client.call_stack, STOPPING_S)  # the jobs each worker runs now, cancelled or not
        except Exception:  # the scheduler gone or silent: the reason the run stops, raised already
            return
        running = sum(key in keys for jobs in stacks.values() for key in jobs)
        if not running:
            return
        if not said:
            log.warning(
                "stopping: waiting for %d job(s) running on Dask workers (a running job cannot be stopped) "
                "so that the files they write are removed; Ctrl-C again leaves them to the next run", running
            )  # fmt: skip
            said = True
        time.sleep(_WATCH_S)


def _map_in_processes(
    func: Callable[[T], R], items: Sequence[T], n: int, describe: Callable[[T], str] | None
) -> Generator[R, None, None]:
    """:func:`map_jobs` on ``n`` worker processes, watched: a worker that dies stops the run."""
    context = _WatchedContext(multiprocessing.get_context())
    # Which worker (pid) took which job, written by the worker as it starts it: how the job a dead
    # worker was running is named.
    started = context.Array("q", len(items), lock=False)
    pool: ProcessPoolExecutor | None = None
    futures: list[Future[R]] = []
    try:
        # Workers are started while submitting; SIGINT and SIGTERM stay blocked until each has
        # set its own handling of them, so neither can kill one mid-start. The parent gets a
        # signal sent meanwhile once the jobs are submitted, as it unblocks them: inside this
        # try, so that the workers it has just started are stopped too (they ran on, and the
        # command waited for their jobs before exiting).
        with _stop_signals_blocked():
            pool = ProcessPoolExecutor(
                max_workers=n, mp_context=cast(BaseContext, context), initializer=_init_worker, initargs=(started, os.getpid())
            )
            for k, item in enumerate(items):  # (one by one: the pool may break while they are handed out)
                futures.append(pool.submit(_run_job, func, k, item))
        for future in futures:
            yield _watched_result(future, context.processes)
    except BrokenProcessPool as exc:
        ended = _ended(context.processes)  # before _stop_pool ends the others
        if pool is not None:
            _stop_pool(pool, context)
        # Their exit codes once all are joined: the pool's thread may be reaping one meanwhile. Under
        # forkserver the pool may see the death before its sentinel shows here: then every worker's
        # (the others' SIGTERM is told apart from the death in _worker_died).
        dead = [(p.pid, p.exitcode) for p in ended or context.processes if p.exitcode is not None]
        raise WorkerError(_worker_died(dead, started, futures, items, describe)) from exc
    except BaseException:  # KeyboardInterrupt, or GeneratorExit when the caller stops early
        if pool is not None:
            _stop_pool(pool, context)
        raise
    pool.shutdown()


class _WatchedContext:
    """The pool's multiprocessing context (which the executor documents as "should provide
    SimpleQueue, Queue and Process"), keeping the worker processes and the result queue it makes,
    so that the run reaches them without the executor's private attributes."""

    def __init__(self, context: BaseContext) -> None:
        self._context = context
        self.processes: list[BaseProcess] = []
        self.simple_queues: list[SimpleQueue[Any]] = []

    def Process(self, *args: Any, **kwargs: Any) -> BaseProcess:  # noqa: N802 (the context's name)
        proc = cast(BaseProcess, self._context.Process(*args, **kwargs))  # type: ignore[attr-defined]
        self.processes.append(proc)
        return proc

    def SimpleQueue(self) -> SimpleQueue[Any]:  # noqa: N802
        queue = self._context.SimpleQueue()
        self.simple_queues.append(queue)
        return queue

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def _watched_result(future: Future[R], processes: Sequence[BaseProcess]) -> R:
    """The future's result, once there; BrokenProcessPool as soon as a worker has died.

    The pool notices a worker that died while it waited for a job or ran one, but not one killed
    (SIGKILL, out of memory) while it sent a result larger than the pipe holds: the pool's thread
    then waits for the rest of that result for ever, and so did the run.
    """
    while not wait([future], timeout=_WATCH_S).done:
        if _ended(processes):
            raise BrokenProcessPool("a worker process has ended")
    return future.result()


def _ended(processes: Sequence[BaseProcess]) -> list[BaseProcess]:
    """The processes that have ended, seen by their sentinels.

    Not by their exit codes: under the forkserver start method, reading one while the pool's thread
    reads it too can spoil it (255).
    """
    sentinels = {}
    for proc in list(processes):
        try:
            sentinels[proc.sentinel] = proc
        except ValueError:  # not started yet
            continue
    return [sentinels[s] for s in multiprocessing.connection.wait(list(sentinels), timeout=0)]  # type: ignore[index]


def _worker_died(
    dead: Sequence[tuple[int | None, int]],
    started: Sequence[int],
    futures: Sequence[Future[Any]],
    items: Sequence[T],
    describe: Callable[[T], str] | None,
) -> str:
    """The user's message for a worker that died: how it ended, and the job it was on."""
    # Others may have been ended with SIGTERM meanwhile, by the pool once it saw one die.
    first = [d for d in dead if d[1] != -signal.SIGTERM] or dead
    if not first:
        return _WORKER_DIED.format(how="ended", when="before it finished its job (killed, or out of memory?)")
    pid, code = first[0]
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
        how = f"was killed by {name}" + (" (out of memory?)" if -code == getattr(signal, "SIGKILL", 9) else "")
    else:
        how = f"ended with exit code {code}"
    taken = [k for k, p in enumerate(started) if p == pid]
    if not taken:
        return _WORKER_DIED.format(how=how, when="before it finished its job")
    k = taken[-1]  # a worker takes its jobs one by one, in order
    future = futures[k] if k < len(futures) else None
    if future is not None and future.done() and not future.cancelled() and future.exception() is None:
        return _WORKER_DIED.format(how=how, when="between two jobs")
    label = describe(items[k]) if describe is not None else f"job {k + 1} of {len(items)}"
    return _WORKER_DIED.format(how=how, when=f"before it finished its job ({label})")


def _cores() -> int:
    """The cores this process may run on (``taskset``, ``docker --cpuset-cpus``), not all the machine's."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""Ctrl-C, and ``kill PID`` (which the CLI raises as a KeyboardInterrupt): both stop a run."""


@contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM held pending in this thread (and in processes and threads started
    meanwhile), delivered on exit."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


_PARENT_CHECK_S = 1.0
"""How often a worker checks that the process that started it is still there."""


_started: Any = None
"""In a worker: the run's table of which worker started which job (see :func:`_map_in_processes`)."""


def _run_job(func: Callable[[T], R], k: int, item: T) -> R:
    """In a worker: job ``k``, recorded as this worker's."""
    _started[k] = os.getpid()
    return func(item)


def _init_worker(started: Any, command: int) -> None:
    """Pool initializer: Ctrl-C is the parent's to handle, so a worker neither dies nor prints a
    traceback; SIGTERM (the parent ending it) ends it at once; and it ends when the command has gone
    (:func:`end_with_command`; ``command`` is its pid). ``started`` is the run's table of which
    worker started which job, shared memory each worker writes its pid into. BLAS runs on one thread
    (:func:`~sitewatch.blas.one_blas_thread_in_process`): the workers fill the cores already, and a
    forked worker inherited the command's thread per core.
    """
    global _started
    _started = started
    one_blas_thread_in_process()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handler (cli.options.Terminated) is inherited
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    end_with_command(command)


def end_with_command(command: int) -> None:
    """In a worker process: end it as soon as ``command`` (the process whose pool started it) has gone.

    A command killed outright (SIGKILL, out of memory) cannot stop its workers, and they would wait
    for ever on the pool's pipes, which they hold open themselves. Under the fork and spawn start
    methods the command is the worker's parent; under forkserver (Python 3.14's default on Linux)
    the parent is the fork server, which outlives the command while any worker it forked lives, so
    the command itself is watched: through a pidfd where the system has them (Linux 5.3), else by
    asking every second whether it is there (``os.kill(pid, 0)``). On Windows that call does not ask: it
    ends the process (TerminateProcess), so a worker's first look would end its own command. There workers
    are spawned, so the command is their parent, and its handle (the parent process's sentinel) is waited
    on instead.
    """
    if not _SIGNAL_ZERO_ASKS:
        _end_with_parent_process()
        return
    parent = os.getppid()
    try:
        watch = os.pidfd_open(command) if hasattr(os, "pidfd_open") else None
    except ProcessLookupError:  # gone already
        os._exit(1)
    except OSError:  # a kernel without pidfds, or a sandbox refusing them
        watch = None
    threading.Thread(
        target=_end_with, args=(command, parent, watch), daemon=True, name="sitewatch-command-watch"
    ).start()


_SIGNAL_ZERO_ASKS = os.name != "nt"
"""Whether ``os.kill(pid, 0)`` asks whether a process is there (POSIX) rather than ending it (Windows)."""


def _end_with_parent_process() -> None:
    """End this process when the process that started it ends (waited on through its sentinel, no polling);
    nothing to watch where this process was not started by :mod:`multiprocessing`."""
    process = multiprocessing.parent_process()
    if process is not None:
        threading.Thread(target=_exit_after, args=(process,), daemon=True, name="sitewatch-command-watch").start()


def _exit_after(process: BaseProcess) -> None:
    process.join()
    os._exit(1)


def _end_with(command: int, parent: int, watch: int | None) -> None:
    if watch is not None:
        select.select([watch], [], [])  # readable once the command has ended
    else:
        while os.getppid() == parent and _running(command):
            time.sleep(_PARENT_CHECK_S)
    os._exit(1)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # there, and another user's: the pid was taken again
        return False
    return True


def _stop_pool(pool: ProcessPoolExecutor, context: _WatchedContext) -> None:
    """Cancel the jobs not started and end the workers without waiting for the running ones."""
    # The executor has no public way to end its workers before Python 3.14 (terminate_workers): they
    # are those its context made.
    procs = list(context.processes)
    manager = getattr(pool, "_executor_manager_thread", None)  # shutdown() forgets it
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=5)
    # A worker ended while it wrote its result (one of more than 16 kB, as an ingested observation's
    # record can be, goes in parts) left the pool's own thread reading the rest of it, and this process
    # holds the pipe's writing end too, so that read never ended, nor did Python's exit, which waits for
    # the thread. With the workers gone nothing else writes to it: closing it ends the read (EOF), and
    # the thread fails the jobs still pending (none of which this run cancelled itself).
    if not any(proc.is_alive() for proc in procs):
        for queue in context.simple_queues:
            queue._writer.close()  # type: ignore[attr-defined]
    # The pool's own thread closes its wake-up pipe once it sees the workers gone, and at exit
    # Python writes to that pipe unlocked (CPython gh-125451, fixed in 3.12.8 and 3.13.1): a
    # command that exited meanwhile printed an OSError traceback after "interrupted".
    if isinstance(manager, threading.Thread) and manager.is_alive():
        manager.join(timeout=5)


def _identity(x: Any) -> Any:  # used by tests to check the pool plumbing
    return x
