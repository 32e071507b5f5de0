"""Fixtures shared by test modules: the PostGIS server and a database per test (see _postgis.py).

And one BLAS thread a test process, and in the commands and workers it starts: the tests run one process a core
(pytest-xdist), and OpenBLAS's threads on top of those spun against each other on the small matrices of the change
tests (IR-MAD's: ``tests/test_change_stage.py`` took 73 s of CPU, 39 s with one thread). numpy is loaded before
this file (pytest-randomly seeds it), so the limit is set on the loaded library (threadpoolctl) as well as in the
environment its children read.
"""

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before any other BLAS loads (scipy's own), and for the children

from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(limits=1, user_api="blas")  # the BLAS already loaded (numpy's)

from _postgis import pg_empty_url, pg_url, postgres_server, said  # noqa: E402

__all__ = ["pg_empty_url", "pg_url", "postgres_server", "said"]
