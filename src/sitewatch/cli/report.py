"""``sitewatch report``: one self-contained HTML report of some or all sites."""

from __future__ import annotations

from pathlib import Path

import click

from ..analysis.occupancy import TimelineParams
from ..workspace import open_workspace
from .options import handle_errors, workspace_option


@click.command("report")
@click.argument("site_ids", nargs=-1)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"),
              show_default=True, help="HTML file to write.")
@click.option("--gap-days", type=int, default=TimelineParams.gap_days, show_default=True,
              help="Timeline: dates further apart than this start a new observation period.")
@click.option("--max-cloud", type=float, default=TimelineParams.max_cloud_fraction, show_default=True,
              help="Timeline: most cloud fraction over the site for an optical observation to count.")
@workspace_option
@handle_errors
def command(site_ids: tuple[str, ...], out_path: Path, gap_days: int, max_cloud: float, workspace: Path) -> None:
    """Write report.html for SITE_IDS (default: every site with observations).

    One file that works offline: maps, timelines, image chips, every
    detection with its provenance, and the figures of the last `sitewatch eval`.
    """
    from ..report.html import write_report

    ws = open_workspace(workspace)
    params = TimelineParams(gap_days=gap_days, max_cloud_fraction=max_cloud)
    path = write_report(ws, list(site_ids) or None, out_path, params)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
