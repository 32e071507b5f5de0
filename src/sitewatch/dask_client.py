"""The Dask client of a run on a cluster (:func:`sitewatch.run.map_jobs` given a scheduler's address).

Connected, asked and closed so that a scheduler that cannot be reached, ends mid-run or stops answering
ends the run within a stated time, with a :class:`~sitewatch.errors.ConfigError` or
:class:`~sitewatch.errors.WorkerError` that names its address, and so that no thread, socket or
connection of the client stays open in this process after the run, whichever way it ended.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .errors import ConfigError, WorkerError

__all__ = [
    "ASK_EVERY_S", "CLOSE_S", "SILENT_S", "STOPPING_S", "SilentScheduler", "ask", "connected", "is_lost", "lost", "result",
]

R = TypeVar("R")

SILENT_S = 60.0
"""How long the scheduler may leave a question unanswered (a process stopped or wedged, a machine frozen:
the connection stays up but nothing answers) before the run ends naming it."""

ASK_EVERY_S = 5.0
"""How often a run waiting for a job's result asks the scheduler whether it is still there."""

STOPPING_S = 10.0
"""How long a run that stops (Ctrl-C, an error) waits for each answer of the scheduler (cancel the jobs,
which of them still run) before it leaves the cluster as it is."""

CLOSE_S = 10.0
"""How long a run waits to close its connection to the scheduler (Dask's own: twice the connect timeout)."""


class SilentScheduler(WorkerError):
    """The scheduler has not answered a question within the time given (:func:`ask`)."""


@contextmanager
def connected(scheduler: str, timeout: float) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``scheduler``, closed on exit however the block ends.

    A scheduler that cannot be reached within ``timeout`` seconds is a ConfigError naming it. The client is
    not made Dask's default (``set_as_default``): the run's jobs are sent through it alone, and as the
    default, while the run lasted, it took the caller's own Dask computations to the cluster.
    """
    from distributed import Client

    cls = _client_class(Client)
    thread: list[int] = []  # the thread that makes the client: its client is stopped if it never answers

    def make() -> Any:
        thread.append(threading.get_ident())
        return cls(scheduler, timeout=timeout, set_as_default=False)

    try:
        # Dask's timeout bounds the connection, not the scheduler's answers to the client's first questions:
        # one that accepts connections but does not answer (stopped) held the command for ever.
        client = ask(scheduler, make, timeout + SILENT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(
            f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); start one with "
            "`dask scheduler` and workers with `dask worker ADDRESS`, or check --scheduler / the "
            "`scheduler` setting"
        ) from exc
    except BaseException:  # no answer (SilentScheduler), or Ctrl-C meanwhile: the half-made client's loop stopped
        _stop_loop(_starting.pop(thread[0], None) if thread else None)
        raise
    finally:
        if thread:
            _starting.pop(thread[0], None)
    # Around the close too: a client closed while it still tries to reconnect ends Dask's reconnect loop, which
    # then logs "Failed to reconnect to scheduler …, closing client" all the same.
    with _reconnect_lines_dropped():
        try:
            yield client
        finally:
            _close(client)


_RECONNECT_LINES = ("Failed to reconnect to scheduler", "Reconnecting...", "Client report stream closed to scheduler")
"""The beginnings of what ``distributed.client`` logs as it tries to reconnect to a scheduler that went away."""


class _NoReconnectLines(logging.Filter):
    """Drops ``distributed.client``'s lines about reconnecting: a run that lost its scheduler says so itself
    (:func:`lost`), and Dask's "Failed to reconnect to scheduler after 10.00 seconds, closing client" followed it
    on standard error, a second account of the same thing in other words."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a line of :data:`_RECONNECT_LINES`, True for any other."""
        return not str(record.msg).startswith(_RECONNECT_LINES)


@contextmanager
def _reconnect_lines_dropped() -> Iterator[None]:
    """``distributed.client``'s reconnect lines dropped while the block runs (that logger only, its other lines
    kept, and as it was after): a filter of its own each time, so that two runs at once remove each their own."""
    logger = logging.getLogger("distributed.client")
    dropped = _NoReconnectLines()
    logger.addFilter(dropped)
    try:
        yield
    finally:
        logger.removeFilter(dropped)


_classes: dict[type, type] = {}

_starting: dict[int, Any] = {}
"""Each client being started, by the thread that starts it (see :func:`connected`)."""


def _client_class(base: type) -> type:
    """``distributed.Client`` whose start, when it fails, stops the thread of its event loop.

    A Client that cannot connect raises from its constructor with its event loop still running in a
    thread of its own ("IO loop", holding an epoll descriptor and a socket pair): this process gained a
    thread and three descriptors each time a scheduler could not be reached, and nothing could close
    them, the client never having been returned.
    """
    if base not in _classes:

        class Client(base):  # (Dask names a client by its class: "Client-<uuid>" in the scheduler's logs)
            def start(self, **kwargs: Any) -> None:
                _starting[threading.get_ident()] = self
                try:
                    super().start(**kwargs)
                except BaseException:  # (Ctrl-C while it connects too)
                    _stop_loop(self)
                    raise

        _classes[base] = Client
    return _classes[base]


def _stop_loop(client: Any) -> None:
    """Stop the client's event loop thread, when Dask's own close could not (it failed, or timed out)."""
    runner = getattr(client, "_loop_runner", None)  # (no public way: Client.close stops it when it succeeds)
    if runner is not None:
        try:
            runner.stop()
            client.status = "closed"  # (else the client, collected, tries to close through the stopped loop)
        except Exception:  # a loop already stopped, or Dask's internals changed: nothing more to free
            pass


def _close(client: Any) -> None:
    """Close ``client`` within :data:`CLOSE_S`; one whose scheduler does not answer is dropped, not waited for."""
    try:
        client.close(timeout=CLOSE_S)
    except Exception:  # the scheduler silent (TimeoutError) or gone: its close never ends, the loop is left
        _stop_loop(client)


def ask(scheduler: str, question: Callable[[], R], seconds: float | None = None) -> R:
    """``question()``, a call of the client that waits for the scheduler's answer (Dask gives most no
    timeout), or a WorkerError naming the scheduler when it has not answered within ``seconds``
    (:data:`SILENT_S`).

    The call is made in a thread of its own, which ends once the client is closed.
    """
    seconds = SILENT_S if seconds is None else seconds
    answer: dict[str, Any] = {}

    def run() -> None:
        try:
            answer["value"] = question()
        except BaseException as exc:  # raised in the caller's thread, below
            answer["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name="sitewatch-dask-question")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise SilentScheduler(
            f"the Dask scheduler at {scheduler} has not answered for {seconds:g} s (stopped, overloaded, or its "
            "machine unreachable); what was finished is kept: check the scheduler (restart it and its workers "
            "with `dask scheduler` and `dask worker`), or run without --scheduler; then run again"
        )
    if "error" in answer:
        raise answer["error"]
    return answer["value"]


def result(client: Any, future: Any, scheduler: str) -> Any:
    """The result of the Dask ``future``, asking the scheduler every :data:`ASK_EVERY_S` whether it is there:
    a WorkerError naming it once it has not answered for :data:`SILENT_S`.

    A scheduler whose connection dropped is seen by Dask itself (the future is cancelled); one that keeps
    the connection up but does not answer (a stopped process) left the run waiting for ever.
    """
    while True:
        try:
            return future.result(timeout=ASK_EVERY_S)
        except TimeoutError:
            # Done meanwhile (the result came as the wait timed out), or the job's own TimeoutError: its outcome.
            if future.done():
                return future.result()
        ask(scheduler, lambda: _scheduler_info(client))


def _scheduler_info(client: Any) -> Any:
    """The scheduler's identity, without its list of workers where Dask can leave it out (2025.4 and later)."""
    try:
        return client.scheduler_info(n_workers=0)
    except TypeError:  # an older Dask: no n_workers
        return client.scheduler_info()


def is_lost(client: Any, exc: BaseException) -> bool:
    """Whether ``exc``, raised while the run used the cluster, says that the connection to the scheduler
    was lost (the scheduler ended, or its machine went away) rather than that a job failed."""
    if getattr(exc, "reason", None) == "scheduler-connection-lost":  # distributed's FutureCancelledError
        return True
    return isinstance(exc, Exception) and getattr(client, "status", "running") != "running"


def lost(client: Any, scheduler: str, timeout: float) -> WorkerError:
    """The error of a run whose scheduler went away mid-run (:func:`is_lost`), once Dask has tried to reconnect
    for ``timeout`` seconds (the client's connect timeout) or has reconnected.

    The run's jobs are cancelled by then either way; the wait is for the jobs still running on the workers,
    which go on writing their files without a scheduler: most have ended by then, and the caller removes
    what they wrote (a file one still writes afterwards is removed by the next run, as a killed command's).
    """
    deadline = time.monotonic() + timeout + 1
    while getattr(client, "status", "closed") == "connecting" and time.monotonic() < deadline:
        time.sleep(0.1)
    return WorkerError(
        f"lost the Dask scheduler at {scheduler} mid-run (it ended, or its machine went away; Dask tried to reconnect "
        f"for {timeout:g} s); what was finished is kept: start the scheduler and its workers again (`dask "
        "scheduler`, `dask worker`), or run without --scheduler; then run again"
    )
