"""Run independent jobs locally (processes) or on a Dask distributed cluster.

No home-made scheduler: one process pool on a laptop, ``dask.distributed``
when the user gives ``--scheduler tcp://…`` (or ``scheduler`` in
sitewatch.toml). Jobs are plain picklable functions over values; results come
back in input order so downstream writes are deterministic.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from .errors import ConfigError, require_extra

__all__ = ["map_jobs"]

_CONNECT_TIMEOUT_S = 10
"""How long to try a Dask scheduler's address before giving up (Dask's own default is 30 s)."""

T = TypeVar("T")
R = TypeVar("R")


def map_jobs(
    func: Callable[[T], R], items: Sequence[T], *, workers: int = 0, scheduler: str = ""
) -> Iterator[R]:
    """Yield ``func(item)`` for each item, in order.

    ``workers`` 0 means one per core; 1 runs in this process (easiest to
    debug, and what small batches want). ``scheduler`` is a Dask scheduler
    address; it needs the ``dask`` extra.
    """
    if scheduler:
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
        with client:
            futures = client.map(func, list(items), pure=False)
            for fut in futures:
                yield fut.result()
        return
    n = workers or (os.cpu_count() or 1)
    if n <= 1 or len(items) <= 2:
        for item in items:
            yield func(item)
        return
    with ProcessPoolExecutor(max_workers=min(n, len(items))) as pool:
        yield from pool.map(func, items, chunksize=max(1, len(items) // (4 * n)))


def _identity(x: Any) -> Any:  # used by tests to check the pool plumbing
    return x
