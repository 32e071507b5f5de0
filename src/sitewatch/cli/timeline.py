"""``sitewatch timeline SITE``: the occupancy timeline of one site."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import click

from ..analysis.occupancy import Timeline, load_timeline
from ..detection_state import warn_older_detections
from ..report.exports import date_zone, timeline_to_csv, timeline_to_json, write_text_atomic
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    OnceCommand,
    check_date_order,
    existing_folder,
    handle_errors,
    refuse_workspace_file,
    timeline_options,
    timeline_params,
    workspace_option,
)


def _print(tl: Timeline, zone: str) -> None:
    if tl.simulated:
        click.echo("Simulated imagery.")
    if zone != "UTC":
        click.echo(f"Dates are local dates at {zone}.")
    if tl.rows:  # a header over no row reads as a table that failed to fill
        # "date (UTC)" fits the column of an ISO date; a local zone is said on the line above instead.
        click.echo(f"{'date (UTC)' if zone == 'UTC' else 'date':<10}  {'seen by sensor':<20} {'vessels':>7}  {'arr':>3} {'dep':>3}  at berths / others")
    for r in tl.rows:
        berths = ", ".join(f"{b}:{n}" for b, n in r.at_berth.items())
        if r.off_berth:
            berths += (", " if berths else "") + f"elsewhere:{r.off_berth}"
        others = ", ".join(f"{k}:{n}" for k, n in r.others.items())
        seen = " ".join(f"{s}:{n}" for s, n in r.by_sensor.items())
        click.echo(
            f"{r.date.isoformat():<10}  {seen:<20} {r.vessels:>7}  {r.arrivals:>3} {r.departures:>3}  "
            f"{berths or '-'}{'  [' + others + ']' if others else ''}"
            f"{''.join(f'  left {b}, last seen {d.isoformat()}' for b, d in r.departures_last_seen.items())}"
            f"{'  hidden: ' + ', '.join(r.hidden_berths) if r.hidden_berths else ''}"
            f"{f'  cut by the image edge or no data: {r.truncated_vessels}' if r.truncated_vessels else ''}"
        )
    for s in tl.skipped:
        click.echo(f"skipped {s.date.isoformat()} {s.sensor} {s.observation_id}: {s.reason}")
    for line in tl.summary_lines():
        click.echo(line)


def _chart_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    # PNG bytes on standard output would garble a terminal and mix with the table or CSV/JSON there.
    if value is not None and str(value) == "-":
        raise click.BadParameter("the chart is a PNG and needs a file name, e.g. --chart timeline.png", ctx=ctx,
                                 param=param)  # fmt: skip
    return existing_folder(ctx, param, value)


@click.command("timeline", cls=OnceCommand, short_help="Print a site's timeline: vessels, arrivals, departures.")
@click.argument("site_id", shell_complete=complete_site_ids)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, allow_dash=True), callback=existing_folder,
              help="Write the rows as CSV ('-' for standard output).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, allow_dash=True), callback=existing_folder,
              help="Write the timeline as JSON ('-' for standard output).")
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False, path_type=Path), callback=_chart_file,
              help="Draw the timeline chart as PNG into a file.")
@timeline_options()
@workspace_option
@handle_errors
def command(
    site_id: str,
    csv_path: str | None,
    json_path: str | None,
    chart_path: Path | None,
    start: date | None,
    end: date | None,
    gap_days: int,
    min_valid: float,
    max_cloud: float,
    max_berth_hidden: float,
    utc_offset: float,
    workspace: Path,
) -> None:
    """Vessels present at SITE_ID on each usable date; arrivals, departures, presence days.

    A date seen by several sensors is one date. Observation periods split at
    gaps longer than --gap-days; presence days are counted per period.
    """
    if json_path == "-" and csv_path == "-":
        raise click.UsageError("--json - and --csv - both want standard output; send one of them to a file")
    # One file named twice would silently hold only the last document written into it.
    outputs = (("--json", json_path), ("--csv", csv_path), ("--chart", chart_path))
    files = {name: Path(path).resolve() for name, path in outputs if path and str(path) != "-"}
    for (name_a, a), (name_b, b) in itertools.combinations(files.items(), 2):
        if a == b:
            raise click.UsageError(f"{name_a} and {name_b} both name {a}; give each its own file")
    check_date_order(start, end)
    params = timeline_params(
        gap_days=gap_days, min_valid=min_valid, max_cloud=max_cloud, max_berth_hidden=max_berth_hidden, utc_offset=utc_offset, start=start, end=end
    )
    ws = open_workspace(workspace)
    refuse_workspace_file(ws, outputs)
    with ws.store() as store:
        tl = load_timeline(store, site_id, params)
        warn_older_detections(store, [site_id])
    to_stdout = "-" in (json_path, csv_path)  # then stdout holds that document alone; messages go to stderr
    # Files first: `timeline SITE --csv t.csv | head` closes standard output under the table.
    written: list[Path] = []
    if json_path and json_path != "-":
        written.append(write_text_atomic(Path(json_path), timeline_to_json(tl)))
    if csv_path and csv_path != "-":
        written.append(write_text_atomic(Path(csv_path), timeline_to_csv(tl)))
    if chart_path:
        from ..report.charts import timeline_chart_png

        write_text_atomic(chart_path, timeline_chart_png(tl))
        written.append(chart_path)
    if json_path == "-":
        click.echo(timeline_to_json(tl))
    elif csv_path == "-":
        click.echo(timeline_to_csv(tl), nl=False)
    else:
        _print(tl, date_zone(utc_offset))
    for path in written:
        click.echo(f"wrote {path}", err=to_stdout)
