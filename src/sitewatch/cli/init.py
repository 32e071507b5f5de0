"""``sitewatch init``: make a workspace folder."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import WORKSPACE_ENV
from ..workspace import init_workspace
from .options import OnceCommand, handle_errors


@click.command("init", cls=OnceCommand, short_help="Make a workspace: settings, database, archive.")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".", envvar=WORKSPACE_ENV)
@handle_errors
def command(folder: Path) -> None:
    """Make FOLDER (default: SITEWATCH_WORKSPACE when set, else here) a workspace: sitewatch.toml,
    sitewatch.gpkg, archive/."""
    ws = init_workspace(folder)
    click.echo(f"workspace ready: {ws.root.resolve()} (database {ws.db_path.name}, archive {ws.archive.name}/)")
