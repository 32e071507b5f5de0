"""Workspace storage: a SQLite file that is also an OGC GeoPackage."""

from .sqlite import Store

__all__ = ["Store"]
