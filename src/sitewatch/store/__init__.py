"""Workspace storage: a SQLite file that is also an OGC GeoPackage."""

from .sqlite import Store, now_utc

__all__ = ["Store", "now_utc"]
