"""Fixtures shared by test modules: the PostGIS server and a database per test (see _postgis.py)."""

from _postgis import pg_empty_url, pg_url, postgres_server, said

__all__ = ["pg_empty_url", "pg_url", "postgres_server", "said"]
