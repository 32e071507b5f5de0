"""A workspace database as an older sitewatch left it, for the migration tests: the schema's first
migrations run, then rows put in as that version wrote them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from sitewatch.store.gpkg import multipolygon_blob, register_gpkg_functions
from sitewatch.store.schema import MIGRATIONS


def old_database(path: Path, version: int) -> sqlite3.Connection:
    """A GeoPackage made at ``path`` at schema ``version``, open (with the SQL functions the store gives
    its connection) for the test to put rows in; the test commits and closes it."""
    db = sqlite3.connect(path)
    register_gpkg_functions(db)
    db.create_function("sitewatch_multipolygon", 1, multipolygon_blob)
    db.executescript("\n".join(MIGRATIONS[:version]) + f"\nINSERT INTO sitewatch_meta VALUES ('schema_version', '{version}');")
    return db


def copy_rows(db: sqlite3.Connection, source: Path, tables: Iterable[str]) -> None:
    """Copy into ``db`` the rows of ``tables`` of the newer database at ``source``, in the columns the
    older schema has (later versions added some); a table it does not have yet is left to be made."""
    db.execute("ATTACH ? AS new", (str(source),))
    for table in tables:
        cols = ", ".join(r[1] for r in db.execute(f"PRAGMA main.table_info({table})"))
        if cols:
            db.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM new.{table}")
