"""Workspace storage: a SQLite file that is also an OGC GeoPackage."""

from .gpkg import register_gpkg_functions
from .sqlite import Store, now_utc

__all__ = ["Store", "now_utc", "register_gpkg_functions"]
