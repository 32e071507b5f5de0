"""``sitewatch detect``: find vessels in every observation of the sites given, or of every site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..config import OPTICAL_MODES, settings_used_by
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    OnceCommand,
    handle_errors,
    is_quiet,
    json_option,
    progress_bar,
    scheduler_option,
    sites_asked,
    wait_workers_option,
    workers_option,
    workspace_option,
)
from .output import echo_json


@click.command("detect", cls=OnceCommand, short_help="Detect vessels in the sites' observations.")
@click.argument("site_ids", nargs=-1, shell_complete=complete_site_ids)
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
    site_ids: tuple[str, ...], workers: int | None, scheduler: str | None, wait_workers: float | None,
    optical_mode: str | None, force: bool, workspace: Path, as_json: bool,
) -> None:
    """Detect vessels in the observations of SITE_IDS (default: every site with
    observations); a rerun replaces, never duplicates.

    An observation whose image, record, site, length limits, optical mode and sitewatch
    code are those of the last run keeps its detections (its archived file is still
    checked); --force detects in it again. One run over every site reads only what is
    new: the daily job of a port list of thousands, in one process rather than one a site.

    With one SITE_ID, --json prints that site's summary; otherwise
    {"sites": [{"site": ID, ...summary}, ...]}.

    Exit code 0 when every observation was read, 3 when some could not be
    (missing, unreadable or changed since ingest: each is named, and its old
    detections are dropped), 1 when none could.
    """
    ws = open_workspace(workspace)
    settings = ws.settings(
        {"workers": workers, "scheduler": scheduler, "wait_workers": wait_workers, "optical_mode": optical_mode},
        names=settings_used_by("detect"),
    )
    from ..detection import detect_site  # rasterio, scipy: not imported for --help or a Tab

    ids = list(dict.fromkeys(site_ids))
    summaries: list[dict[str, Any]] = []
    # One store for every site (a PostGIS store's connection opened once a run, not once a site).
    with ws.store() as store, progress_bar("detect", is_quiet() or as_json) as progress:
        if len(ids) != 1:  # (one site: detect_site names it if it is not there)
            ids = sites_asked(store, ids)
        for sid in ids:
            summary = detect_site(
                ws,
                sid,
                workers=settings["workers"],
                scheduler=settings["scheduler"],
                wait_workers=settings["wait_workers"],
                progress=progress,
                min_length_m=settings["min_vessel_length_m"],
                max_length_m=settings["max_vessel_length_m"],
                optical_mode=settings["optical_mode"],
                force=force,
                store=store,
            )
            summaries.append({"site": sid} | summary)
            if not as_json:
                click.echo(_summary_line(sid, summary))
            for err in summary["errors"]:  # with --json too: standard output may be a script's, this is the user's
                click.echo(f"error: {err}", err=True)
    if as_json:
        one = len(site_ids) == 1
        echo_json({k: v for k, v in summaries[0].items() if k != "site"} if one else {"sites": summaries},
                              indent=1)  # fmt: skip
    elif not ids:
        click.echo("no site has observations: bring imagery in with `sitewatch fetch`, `ingest` or `import`")
    errors = sum(len(s["errors"]) for s in summaries)
    if errors:
        # As ingest: 3 when some observations failed (each named above), 1 when all did.
        raise SystemExit(3 if errors < sum(s["observations"] for s in summaries) else 1)


def _summary_line(site_id: str, summary: dict[str, Any]) -> str:
    """What detect found at one site, on one line."""
    cut = summary["truncated"]
    kinds = ", ".join(
        f"{n} {k}{'' if n == 1 else 's'}" + (f" ({cut[k]} cut by the image's edge or no data)" if cut.get(k) else "")
        for k, n in sorted(summary["detections"].items())
    ) or "nothing"
    if not summary["observations"]:
        # "0 observation(s), found nothing" read as if the images had been searched and held no vessel.
        return (f"{site_id}: no observations to detect in: bring imagery in with `sitewatch ingest {site_id} PATH`, "
                f"`import` or `fetch`")  # fmt: skip
    failed = f", {len(summary['errors'])} could not be read" if summary["errors"] else ""
    return f"{site_id}: {summary['observations']} observation(s){failed}, found {kinds}"
