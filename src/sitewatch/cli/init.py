"""``sitewatch init``: make a workspace folder."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import WORKSPACE_ENV
from ..store.postgis import has_password
from ..workspace import init_workspace
from .options import OnceCommand, handle_errors


@click.command("init", cls=OnceCommand, short_help="Make a workspace: settings, database, archive.")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".", envvar=WORKSPACE_ENV)
@click.option(
    "--store", metavar="URL", default=None,
    help="Keep the database in this PostGIS team store (postgresql://user@host/dbname) instead of sitewatch.gpkg; "
    "written to sitewatch.toml without its password (give that in ~/.pgpass or PGPASSWORD).",
)  # fmt: skip
@handle_errors
def command(folder: Path, store: str | None) -> None:
    """Make FOLDER (default: SITEWATCH_WORKSPACE when set, else here) a workspace: sitewatch.toml,
    sitewatch.gpkg (or, with --store, the tables of a PostGIS database), archive/."""
    ws = init_workspace(folder, store=store)
    click.echo(f"workspace ready: {ws.root.resolve()} (database {ws.store_label}, archive {ws.archive.name}/)")
    if store and has_password(store):
        click.echo(
            "the password was not written to sitewatch.toml: give it in ~/.pgpass or PGPASSWORD for later commands",
            err=True,
        )
