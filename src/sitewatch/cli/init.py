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
@click.option(
    "--replace", is_flag=True,
    help="With --store: switch a workspace whose database is another one (a PostGIS store, or a sitewatch.gpkg "
    "holding rows) to this one; nothing is copied or deleted (default: refuse it; `store copy --use` moves the rows).",
)  # fmt: skip
@handle_errors
def command(folder: Path, store: str | None, replace: bool) -> None:
    """Make FOLDER (default: SITEWATCH_WORKSPACE when set, else here) a workspace: sitewatch.toml,
    sitewatch.gpkg (or, with --store, the tables of a PostGIS database), archive/."""
    ws = init_workspace(folder, store=store, replace=replace)
    click.echo(f"workspace ready: {ws.root.resolve()} (database {ws.store_label}, archive {ws.archive.name}/)")
    if store and has_password(store):
        click.echo(
            "the password was not written to sitewatch.toml: give it in ~/.pgpass or PGPASSWORD for later commands",
            err=True,
        )
