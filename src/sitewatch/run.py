"""Run independent jobs locally (processes) or on a Dask distributed cluster.

No home-made scheduler: one process pool on a laptop, ``dask.distributed``
when the user gives ``--scheduler tcp://…`` (or ``scheduler`` in
sitewatch.toml). Jobs are plain picklable functions over values; results come
back in input order so downstream writes are deterministic.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, TypeVar

from .errors import ConfigError, WorkerError, require_extra

__all__ = ["map_jobs"]

log = logging.getLogger(__name__)

_WORKER_DIED = (
    "a worker process ended before it finished its job (killed, or out of memory); what was "
    "finished is kept: run again with fewer workers (--workers, or the `workers` setting; "
    "1 works in this process)"
)

_CONNECT_TIMEOUT_S = 10
"""How long to try a Dask scheduler's address before giving up (Dask's own default is 30 s)."""

T = TypeVar("T")
R = TypeVar("R")


def map_jobs(
    func: Callable[[T], R], items: Sequence[T], *, workers: int = 0, scheduler: str = ""
) -> Generator[R, None, None]:
    """Yield ``func(item)`` for each item, in order.

    ``workers`` 0 means one per core; 1 runs in this process (easiest to
    debug, and what small batches want). ``scheduler`` is a Dask scheduler
    address; it needs the ``dask`` extra.

    Ctrl-C (SIGINT, which a terminal sends to the whole process group) stops
    the run at once: worker processes ignore it, and this process, on
    KeyboardInterrupt, drops the pending jobs, ends the workers and re-raises.
    The same happens when the caller stops iterating early (and on SIGTERM, which the CLI
    raises as a KeyboardInterrupt). Workers end by themselves when this process has gone. A worker that dies mid-job
    (killed, out of memory) ends the run with a :class:`~sitewatch.errors.WorkerError`.
    """
    if scheduler and items:  # nothing to run (a rerun that keeps everything) needs no cluster
        require_extra("distributed", "dask")
        from distributed import Client

        try:
            client = Client(scheduler, timeout=_CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS`, or check --scheduler / the "
                "`scheduler` setting"
            ) from exc
        from distributed import KilledWorker

        with client:
            futures = client.map(func, list(items), pure=False)
            if futures and not client.scheduler_info().get("workers"):
                # Dask would wait for one without a word; an adaptive cluster may yet start one.
                log.warning(
                    "the Dask scheduler at %s has no workers: the jobs wait until one joins "
                    "(start one with `dask worker %s`, or press Ctrl-C)",
                    scheduler, scheduler,
                )  # fmt: skip
            try:
                for fut in futures:
                    yield fut.result()
            except KilledWorker as exc:  # Dask gave up on a job after it killed several workers
                client.cancel(futures)
                raise WorkerError(
                    f"Dask workers died running a job ({exc}): out of memory, or killed; what was finished "
                    "is kept: give the workers more memory (`dask worker --memory-limit`) and run again"
                ) from exc
            except BaseException:
                client.cancel(futures)
                raise
        return
    n = workers or _cores()
    if n <= 1 or len(items) <= 2:
        for item in items:
            yield func(item)
        return
    pool: ProcessPoolExecutor | None = None
    try:
        # Workers are started while submitting; SIGINT and SIGTERM stay blocked until each has
        # set its own handling of them, so neither can kill one mid-start. The parent gets a
        # signal sent meanwhile once the jobs are submitted, as it unblocks them: inside this
        # try, so that the workers it has just started are stopped too (they ran on, and the
        # command waited for their jobs before exiting).
        with _stop_signals_blocked():
            pool = ProcessPoolExecutor(max_workers=min(n, len(items)), initializer=_init_worker)
            results = pool.map(func, items, chunksize=max(1, len(items) // (4 * n)))
        yield from results
    except BrokenProcessPool as exc:
        if pool is not None:
            _stop_pool(pool)
        raise WorkerError(_WORKER_DIED) from exc
    except BaseException:  # KeyboardInterrupt, or GeneratorExit when the caller stops early
        if pool is not None:
            _stop_pool(pool)
        raise
    pool.shutdown()


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


def _init_worker() -> None:
    """Pool initializer: Ctrl-C is the parent's to handle, so a worker neither dies nor prints a
    traceback; SIGTERM (the parent ending it) ends it at once; and it ends when the parent has gone.

    A parent killed outright (SIGKILL, out of memory) cannot stop its workers, and they would wait
    for ever on the pool's pipes, which they hold open themselves.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handler (cli.options.Terminated) is inherited
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    # The process that started it: sitewatch's own, or the fork server of the forkserver start
    # method, which ends with it.
    parent = os.getppid()
    threading.Thread(target=_end_with_parent, args=(parent,), daemon=True, name="sitewatch-parent-watch").start()


def _end_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_S)
    os._exit(1)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel the jobs not started and end the workers without waiting for the running ones."""
    # The executor has no public way to end its workers before Python 3.14 (terminate_workers).
    procs = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)  # shutdown() forgets it
    results = getattr(pool, "_result_queue", None)  # and this
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=5)
    # A worker ended while it wrote its result (one of more than 16 kB, as an ingested observation's
    # record can be, goes in parts) left the pool's own thread reading the rest of it, and this process
    # holds the pipe's writing end too, so that read never ended, nor did Python's exit, which waits for
    # the thread. With the workers gone nothing else writes to it: closing it ends the read (EOF).
    # The thread then fails the futures still pending, which must not include those the map already
    # cancelled (an InvalidStateError traceback): they are left out, as its own shutdown leaves them out.
    if results is not None and not any(proc.is_alive() for proc in procs):
        pending = getattr(manager, "pending_work_items", None)
        if manager is not None and isinstance(pending, dict):
            manager.pending_work_items = {k: w for k, w in dict(pending).items() if not w.future.done()}
        results._writer.close()
    # The pool's own thread closes its wake-up pipe once it sees the workers gone, and at exit
    # Python writes to that pipe unlocked (CPython gh-125451, fixed in 3.12.8 and 3.13.1): a
    # command that exited meanwhile printed an OSError traceback after "interrupted".
    if isinstance(manager, threading.Thread) and manager.is_alive():
        manager.join(timeout=5)


def _identity(x: Any) -> Any:  # used by tests to check the pool plumbing
    return x
