"""``sitewatch detect``: find vessels in every observation of a site."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..config import OPTICAL_MODES
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    OnceCommand,
    handle_errors,
    is_quiet,
    json_option,
    progress_bar,
    scheduler_option,
    wait_workers_option,
    workers_option,
    workspace_option,
)


@click.command("detect", cls=OnceCommand, short_help="Detect vessels in a site's observations.")
@click.argument("site_id", shell_complete=complete_site_ids)
@workers_option
@scheduler_option
@wait_workers_option
@click.option("--optical-mode", type=click.Choice(OPTICAL_MODES), default=None,
              help="How optical detection uses the site's water polygon (setting optical_mode; default auto: the learned detector, vessels kept within 40 m of the polygon; known water on simulated scenes).")
@click.option("--force", is_flag=True, help="Detect again in observations whose inputs have not changed since the last run.")
@workspace_option
@json_option
@handle_errors
def command(
    site_id: str, workers: int | None, scheduler: str | None, wait_workers: float | None, optical_mode: str | None,
    force: bool, workspace: Path, as_json: bool,
) -> None:
    """Detect vessels in SITE_ID's observations; a rerun replaces, never duplicates.

    An observation whose image, record, site, length limits, optical mode and sitewatch
    code are those of the last run keeps its detections (its archived file is still
    checked); --force detects in it again.

    Exit code 0 when every observation was read, 3 when some could not be
    (missing, unreadable or changed since ingest: each is named, and its old
    detections are dropped), 1 when none could.
    """
    ws = open_workspace(workspace)
    settings = ws.settings(
        {"workers": workers, "scheduler": scheduler, "wait_workers": wait_workers, "optical_mode": optical_mode}
    )
    from ..detection import detect_site  # rasterio, scipy: not imported for --help or a Tab

    with progress_bar("detect", is_quiet() or as_json) as progress:
        summary = detect_site(
            ws,
            site_id,
            workers=settings["workers"],
            scheduler=settings["scheduler"],
            wait_workers=settings["wait_workers"],
            progress=progress,
            min_length_m=settings["min_vessel_length_m"],
            max_length_m=settings["max_vessel_length_m"],
            optical_mode=settings["optical_mode"],
            force=force,
        )
    if as_json:
        click.echo(json.dumps(summary, indent=1))
    else:
        cut = summary["truncated"]
        kinds = ", ".join(
            f"{n} {k}{'' if n == 1 else 's'}" + (f" ({cut[k]} cut by the image's edge or no data)" if cut.get(k) else "")
            for k, n in sorted(summary["detections"].items())
        ) or "nothing"
        failed = f", {len(summary['errors'])} could not be read" if summary["errors"] else ""
        click.echo(f"{site_id}: {summary['observations']} observation(s){failed}, found {kinds}")
    for err in summary["errors"]:  # with --json too: standard output may be a script's, this is the user's
        click.echo(f"error: {err}", err=True)
    if summary["errors"]:
        # As ingest: 3 when some observations failed (each named above), 1 when all did.
        raise SystemExit(3 if len(summary["errors"]) < summary["observations"] else 1)
