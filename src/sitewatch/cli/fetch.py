"""``sitewatch fetch``: cut a catalogue's scenes to sites (one search a group of sites close together) and archive them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import settings_used_by
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
    sites_asked,
    workspace_option,
)
from .output import echo_json, echo_wrapped
from .search import StacQuery, cached_search_note, chosen_catalog, stac_query_options

if TYPE_CHECKING:
    from ..fetch import FetchReport


@click.command("fetch", cls=OnceCommand, short_help="Fetch sites' scenes from a STAC catalogue.")
@click.argument("site_ids", nargs=-1, metavar="[SITE]...", shell_complete=complete_site_ids)
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
    site_ids: tuple[str, ...],
    query: StacQuery,
    force: bool,
    gcp_method: str,
    retries: int,
    workspace: Path,
    as_json: bool,
) -> None:
    """Fetch scenes over SITE (default: every site): only the site's window of each asset is read.

    Optical scenes cloudier over the site than --max-cloud (default: the
    `max_cloud` setting, 100), or with no valid pixel over it, are skipped
    before their bands are downloaded. A rerun fetches only what is missing,
    and an item the catalogue changed since it was fetched (reprocessed under
    the same id: its properties or assets differ), which replaces its
    observation; an acquisition the site already holds from another catalogue
    or collection is skipped. Items that failed are listed at the end.

    Several sites (or none: every site) are asked for in one search a group of
    sites close together (--group-km); an item over two sites is listed once
    and cut for each. A group whose search fails is named with its sites; the
    others proceed. With one SITE, --json prints its report; otherwise
    {"sites": [{"site": ID, "observations": ..., "skipped": ..., "failed": ...}, ...]},
    a site whose search failed with "error" instead.

    Exit code 0 when no item failed, 3 when some failed and the others were
    fetched or skipped (each failure is named), 1 when every item failed.
    """
    check_date_order(query.start, query.end)
    ws = open_workspace(workspace)
    settings = ws.settings({"max_cloud": query.max_cloud}, names=settings_used_by("fetch"))
    catalog = chosen_catalog(ws, query.catalog_name, settings)
    from ..fetch import fetch_scenes  # pystac-client, rasterio: not imported for --help or a Tab
    from ..fetch_many import fetch_sites

    one = len(site_ids) == 1
    options = query.options(
        max_cloud=float(settings["max_cloud"]), force=force, retries=retries, gcp_method=gcp_method,
        compress=settings["cog_compress"], thermal_noise=settings["sar_thermal_noise"], context_m=settings["context_m"],
    )
    reports: dict[str, FetchReport] = {}
    search_failed: dict[str, str] = {}
    with ws.store() as store:
        if one:
            with progress_bar(f"fetch {site_ids[0]}", is_quiet() or as_json) as progress:
                site = store.get_site(site_ids[0])
                ids = [site.id]
                reports[site.id] = fetch_scenes(ws, store, site, catalog, options, progress=progress)
        else:
            ids = sites_asked(store, list(dict.fromkeys(site_ids)), every=True)
            sites = [store.get_site(sid) for sid in ids]
            with progress_bar(f"fetch {len(ids)} sites", is_quiet() or as_json) as progress:
                reports, search_failed = fetch_sites(ws, store, sites, catalog, options, progress=progress)
    if as_json:
        if one:
            echo_json(_report_json(reports[ids[0]]), indent=1)
        else:
            echo_json({"sites": [{"site": sid} | _report_json(reports[sid]) if sid in reports else
                                             {"site": sid, "error": search_failed[sid]} for sid in ids]}, indent=1)  # fmt: skip
    else:
        for sid in ids:
            if sid not in reports:
                continue
            report = reports[sid]
            for o in report.observations:
                cloud = "" if o.cloud_fraction is None else f", cloud {o.cloud_fraction * 100:.1f}%"
                click.echo(f"{o.id}  {o.scene.acquired:%Y-%m-%d %H:%M}Z  valid {o.valid_fraction * 100:.1f}%{cloud}")
            replaced = f" ({len(report.replaced)} fetched again)" if report.replaced else ""
            click.echo(
                f"fetched {len(report.observations)}{replaced}, skipped {len(report.skipped)}, failed {len(report.failed)} "
                f"({catalog.name}, {query.collection}, {sid})"
            )
            for item_id, reason in report.replaced:  # (with -q too: detections were dropped)
                echo_wrapped(f"  replaced {item_id}: {reason}")
            if not is_quiet():
                for item_id, reason in report.skipped:
                    click.echo(f"  skipped {item_id}: {reason}")
        if not ids:
            click.echo("no site in this workspace: add one with `sitewatch sites add`")
        if not is_quiet() and (note := cached_search_note([r.search_cached for r in reports.values()])):
            click.echo(note)
    # with --json too: standard output may be a script's, this is the user's
    for sid in ids:
        if sid in reports and (gone := reports[sid].unrecorded_removed):
            click.echo(f"note: removed {len(gone)} file(s) from {sid}'s archive that no observation named (a run killed "
                       f"between moving an image into place and recording it left them): {', '.join(gone)}", err=True)  # fmt: skip
    for sid in ids:
        if sid in reports:
            for item_id, error in reports[sid].failed:
                click.echo(f"failed {item_id if one else f'{sid}/{item_id}'}: {error}", err=True)
        else:
            click.echo(f"failed {sid}: {search_failed[sid]}", err=True)
    failures = sum(len(r.failed) for r in reports.values()) + len(search_failed)
    if failures:
        # As ingest, import and detect: 3 when the others went in (or were judged), 1 when none did.
        done = any(r.observations or r.skipped for r in reports.values())
        raise SystemExit(3 if done else 1)


def _report_json(report: FetchReport) -> dict[str, Any]:
    """A site's fetch as ``--json`` prints it."""
    return {
        "observations": [
            {"id": o.id, "item_id": o.scene.item_id, "acquired": iso_utc(o.scene.acquired),
             "sensor": o.scene.sensor, "valid_pct": round(o.valid_fraction * 100, 1),
             "cloud_pct": None if o.cloud_fraction is None else round(o.cloud_fraction * 100, 1),
             "path": o.path, "sha256": o.sha256}
            for o in report.observations
        ],
        "skipped": [{"item_id": i, "reason": r} for i, r in report.skipped],
        "failed": [{"item_id": i, "error": e} for i, e in report.failed],
        "replaced": [{"item_id": i, "reason": r} for i, r in report.replaced],
        "unrecorded_removed": list(report.unrecorded_removed),
        "search_cached_at": None if report.search_cached is None else iso_utc(datetime.fromtimestamp(report.search_cached, UTC)),
    }  # fmt: skip
