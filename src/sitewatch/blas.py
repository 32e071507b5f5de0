"""BLAS on one thread, where more only waste CPU: around products too small to share out, and in
sitewatch's own worker processes, which fill the cores already.

OpenBLAS (numpy's and scipy's) starts a thread per core and keeps them spinning between calls; on
IR-MAD's skinny products (pixels × 6, fifty times a pair) they took three times the CPU of one
thread, and slower wall time (BENCHMARKS.md, "BLAS threads").
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager

__all__ = ["one_blas_thread", "one_blas_thread_in_process"]

_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""The variables the BLAS libraries numpy and scipy ship with read for their thread count as they load."""


def one_blas_thread() -> AbstractContextManager[object]:
    """A context in which every loaded BLAS library runs on one thread; their counts come back after it."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def one_blas_thread_in_process() -> None:
    """For good, in a worker process: one thread in the BLAS libraries loaded already (inherited from a
    forked parent) and, through the environment, in those loaded from now on (a spawned worker's)."""
    from threadpoolctl import threadpool_limits

    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    threadpool_limits(limits=1, user_api="blas")
