"""Workspace storage: a SQLite file that is also an OGC GeoPackage, or a PostGIS team store."""

from __future__ import annotations

from pathlib import Path

from .gpkg import register_gpkg_functions
from .postgis import is_store_url, mask_url
from .sqlite import Store, now_utc, stored_time

__all__ = ["Store", "now_utc", "stored_time", "open_store", "is_store_url", "mask_url", "register_gpkg_functions"]


def open_store(location: str | Path, *, read_only: bool = False, create: bool = False, origin: str = "") -> Store:
    """The store at ``location``: a ``postgresql://`` URL (a :class:`~sitewatch.store.postgis.PostgisStore`)
    or a GeoPackage file's path (a :class:`Store`). ``create``: make sitewatch's tables in a PostGIS database
    that has none (without it, such a database is refused: its URL may name the wrong one). ``origin``: where
    a URL came from (``--to``, ``SITEWATCH_STORE``, ``the store setting in FILE``), named by an error reaching it."""
    if isinstance(location, str) and is_store_url(location):
        from .postgis import PostgisStore

        return PostgisStore(location, read_only=read_only, create=create, origin=origin)
    return Store(location, read_only=read_only)
