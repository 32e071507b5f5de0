"""Fixtures shared by test modules: the PostGIS server and a database per test (see _postgis.py).

And one BLAS thread a test process, and in the commands and workers it starts: the tests run one process a core
(pytest-xdist), and OpenBLAS's threads on top of those spun against each other wherever a test multiplies
matrices outside IR-MAD's loop and sitewatch's workers (which hold themselves to one: :mod:`sitewatch.blas`).
numpy is loaded before this file (pytest-randomly seeds it), so the limit is set on the loaded libraries as well as
in the environment the libraries loaded later and the children read.
"""

from _postgis import pg_empty_url, pg_url, postgres_server, said
from sitewatch.blas import one_blas_thread_in_process

one_blas_thread_in_process()  # the libraries loaded already, and through the environment those loaded later

__all__ = ["pg_empty_url", "pg_url", "postgres_server", "said"]
