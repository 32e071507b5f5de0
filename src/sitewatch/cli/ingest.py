"""``sitewatch ingest``: cut a folder of GeoTIFFs to a site and archive them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from ..ingest import ingest_paths
from ..model import utc
from ..workspace import open_workspace
from .options import handle_errors, is_quiet, progress_bar, workspace_option


@click.command("ingest")
@click.argument("site_id")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--sensor", type=click.Choice(["sar", "optical"]), help="When the files do not say.")
@click.option("--acquired", help="Acquisition time (ISO 8601, UTC) when the files do not say.")
@workspace_option
@handle_errors
def command(site_id: str, paths: tuple[Path, ...], sensor: str | None, acquired: str | None, workspace: Path) -> None:
    """Ingest GeoTIFF files or folders (any CRS) into SITE_ID as observations."""
    ws = open_workspace(workspace)
    when: datetime | None = utc(acquired) if acquired else None
    with ws.store() as store, progress_bar("ingest", is_quiet()) as progress:
        site = store.get_site(site_id)
        report = ingest_paths(ws, store, site, paths, acquired=when, sensor=sensor, progress=progress)
    click.echo(f"ingested {len(report.observations)} observation(s) into {site_id!r}")
    for path, reason in report.skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    if report.skipped and not report.observations:
        raise SystemExit(1)
