"""``sitewatch report``: one self-contained HTML report of some or all sites."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from ..detection_state import warn_older_detections
from ..share import SHARED_NOTE
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    OnceCommand,
    ais_coverage_options,
    ais_files_option,
    ais_max_gap_option,
    check_date_order,
    handle_errors,
    html_out,
    refuse_input_as_out,
    refuse_max_gap_without_ais,
    refuse_workspace_file,
    share_option,
    stated_ais_coverage,
    timeline_options,
    timeline_params,
    workspace_option,
)


@click.command("report", cls=OnceCommand, short_help="Write one self-contained HTML report.")
@click.argument("site_ids", nargs=-1, shell_complete=complete_site_ids)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"),
              show_default=True, callback=html_out, help="HTML file to write, .html (its folder must exist).")
@ais_files_option("Add an AIS section: these AIS CSV files matched with the detections, as `sitewatch ais` does.")
@ais_coverage_options
@ais_max_gap_option
@click.option("--claims", "claims_files", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Add a claims section: the claims of these files checked against the imagery, as `sitewatch claims check` does.")
@share_option
@timeline_options()
@workspace_option
@handle_errors
def command(
    site_ids: tuple[str, ...],
    out_path: Path,
    ais_files: tuple[Path, ...],
    ais_coverage: Path | None,
    ais_period: tuple[datetime, datetime] | None,
    max_gap_min: float,
    claims_files: tuple[Path, ...],
    share: bool,
    start: date | None,
    end: date | None,
    gap_days: int,
    min_valid: float,
    max_cloud: float,
    max_berth_hidden: float,
    utc_offset: float,
    workspace: Path,
) -> None:
    """Write report.html for SITE_IDS (default: every site with observations).

    One file that works offline: maps, timelines, image chips, every
    detection with its provenance, and the figures of the last `sitewatch eval`.
    The timeline options are those of `sitewatch timeline`; the report covers
    every date in the archive, or with --from/--to those dates alone (its title
    says which): a vessel there before --from is no arrival on it. With --share, the report names no local path outside the
    workspace (a user name, a Downloads folder): one to hand to an editor or publish.
    """
    from ..report.html import write_report

    check_date_order(start, end)
    refuse_input_as_out(out_path, [*ais_files, *claims_files, *([ais_coverage] if ais_coverage else [])])
    coverage = stated_ais_coverage(ais_coverage, ais_period, ais_files)
    refuse_max_gap_without_ais(ais_files)
    ws = open_workspace(workspace)
    refuse_workspace_file(ws, [("--out", out_path)])
    params = timeline_params(gap_days=gap_days, min_valid=min_valid, max_cloud=max_cloud, max_berth_hidden=max_berth_hidden, utc_offset=utc_offset,
                             start=start, end=end)
    path = write_report(ws, list(site_ids) or None, out_path, params, ais_files, claims_files, share=share,
                        ais_coverage=coverage, ais_max_gap_s=max_gap_min * 60)
    with ws.store() as store:
        warn_older_detections(store, list(site_ids) or None)
    size = path.stat().st_size
    # "(0.0 MB)" read as an empty file: a report of a workspace without observations is a few kB.
    line = f"wrote {path} ({size / 1e6:.1f} MB)" if size >= 100_000 else f"wrote {path} ({size / 1e3:.0f} kB)"
    # As `export --share` does: the terminal says the paths were shortened, not only the report's header.
    click.echo(f"{line}; {SHARED_NOTE}" if share else line)
