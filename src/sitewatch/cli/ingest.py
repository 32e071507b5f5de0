"""``sitewatch ingest``: cut a folder of GeoTIFFs to a site and archive them."""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

import click

from ..errors import SkippedInputWarning
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
    """Ingest GeoTIFF files or folders (any CRS) into SITE_ID as observations.

    Exit code 0 when every file went in, 3 when some were skipped (each is
    named with the reason), 1 when none went in.
    """
    ws = open_workspace(workspace)
    when: datetime | None = utc(acquired) if acquired else None
    with ws.store() as store, progress_bar("ingest", is_quiet()) as progress, warnings.catch_warnings():
        # Skipped files are listed below with their reason; no second, raw warning.
        warnings.simplefilter("ignore", SkippedInputWarning)
        site = store.get_site(site_id)
        report = ingest_paths(
            ws, store, site, paths, acquired=when, sensor=sensor, progress=progress,
            workers=ws.settings()["workers"], compress=ws.settings()["cog_compress"],
        )  # fmt: skip
    click.echo(f"ingested {len(report.observations)} observation(s) into {site_id!r}")
    for _path, reason in report.skipped:
        click.echo(f"skipped: {reason}", err=True)
    if report.skipped:
        raise SystemExit(3 if report.observations else 1)
