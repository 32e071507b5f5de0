"""``sitewatch fetch``: cut a catalogue's scenes to a site and archive them as observations."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from ..model import iso_utc
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    OnceCommand,
    check_date_order,
    handle_errors,
    is_quiet,
    json_option,
    progress_bar,
    workspace_option,
)
from .search import chosen_catalog, stac_query_options


@click.command("fetch", cls=OnceCommand, short_help="Fetch a site's scenes from a STAC catalogue.")
@click.argument("site_id", shell_complete=complete_site_ids)
@stac_query_options
@click.option("--force", is_flag=True, help="Fetch again items already archived.")
@click.option("--gcp-method", type=click.Choice(["tps", "polynomial"]), default="tps", show_default=True,
              help="How Sentinel-1 GRD scenes are placed by their ground control points.")  # fmt: skip
@click.option("--retries", type=click.IntRange(0, 20), default=5, show_default=True,
              help="Retries (with backoff) of transient HTTP errors.")  # fmt: skip
@workspace_option
@json_option
@handle_errors
def command(
    site_id: str,
    catalog_name: str | None,
    collection: str,
    start: datetime,
    end: datetime,
    max_cloud: float | None,
    refresh: bool,
    force: bool,
    gcp_method: str,
    retries: int,
    workspace: Path,
    as_json: bool,
) -> None:
    """Fetch scenes over SITE_ID: only the site's window of each asset is read.

    Optical scenes cloudier over the site than --max-cloud (default: the
    `max_cloud` setting, 100), or with no valid pixel over it, are skipped
    before their bands are downloaded. A rerun fetches only what is missing;
    an acquisition the site already holds from another catalogue or collection
    is skipped. Items that failed are listed at the end.

    Exit code 0 when no item failed, 3 when some failed and the others were
    fetched or skipped (each failure is named), 1 when every item failed.
    """
    check_date_order(start, end)
    ws = open_workspace(workspace)
    settings = ws.settings({"max_cloud": max_cloud})
    catalog = chosen_catalog(ws, catalog_name, settings)
    from ..fetch import fetch_scenes  # pystac-client, rasterio: not imported for --help or a Tab

    with ws.store() as store, progress_bar(f"fetch {site_id}", is_quiet() or as_json) as progress:
        site = store.get_site(site_id)
        report = fetch_scenes(
            ws, store, site, catalog, collection, start, end,
            max_cloud=float(settings["max_cloud"]), refresh=refresh, force=force, retries=retries,
            gcp_method=gcp_method, compress=settings["cog_compress"], progress=progress,
            thermal_noise=settings["sar_thermal_noise"], context_m=settings["context_m"],
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps({
            "observations": [
                {"id": o.id, "item_id": o.scene.item_id, "acquired": iso_utc(o.scene.acquired),
                 "sensor": o.scene.sensor, "valid_pct": round(o.valid_fraction * 100, 1),
                 "cloud_pct": None if o.cloud_fraction is None else round(o.cloud_fraction * 100, 1),
                 "path": o.path, "sha256": o.sha256}
                for o in report.observations
            ],
            "skipped": [{"item_id": i, "reason": r} for i, r in report.skipped],
            "failed": [{"item_id": i, "error": e} for i, e in report.failed],
        }, indent=1))  # fmt: skip
    else:
        for o in report.observations:
            cloud = "" if o.cloud_fraction is None else f", cloud {o.cloud_fraction * 100:.1f}%"
            click.echo(f"{o.id}  {o.scene.acquired:%Y-%m-%d %H:%M}Z  valid {o.valid_fraction * 100:.1f}%{cloud}")
        click.echo(
            f"fetched {len(report.observations)}, skipped {len(report.skipped)}, failed {len(report.failed)} "
            f"({catalog.name}, {collection}, {site_id})"
        )
        if not is_quiet():
            for item_id, reason in report.skipped:
                click.echo(f"  skipped {item_id}: {reason}")
    for item_id, error in report.failed:  # with --json too: standard output may be a script's, this is the user's
        click.echo(f"failed {item_id}: {error}", err=True)
    if report.failed:
        # As ingest, import and detect: 3 when the others went in (or were judged), 1 when none did.
        raise SystemExit(3 if report.observations or report.skipped else 1)
