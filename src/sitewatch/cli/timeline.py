"""``sitewatch timeline [SITE]...``: the occupancy timeline of each site named, or of every site with observations."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import click

from ..analysis.occupancy import Timeline, TimelineParams, load_timeline
from ..detection_state import warn_older_detections
from ..report.csv_types import with_bom
from ..report.exports import (
    TIMELINE_CSV_COLUMNS,
    date_zone,
    timeline_to_csv,
    timeline_to_dict,
    timeline_to_json,
    write_text_atomic,
)
from ..workspace import Workspace, open_workspace
from .completers import complete_site_ids
from .options import (
    OnceCommand,
    all_rows_option,
    bom_option,
    check_date_order,
    handle_errors,
    named_out,
    refuse_workspace_file,
    sites_asked,
    timeline_options,
    timeline_params,
    workspace_option,
)
from .output import TERMINAL_ROWS, echo_utf8, echo_wrapped, json_text, not_shown_line, rows_shown


def _print(tl: Timeline, zone: str, show_all: bool = False) -> None:
    if tl.simulated:
        click.echo("Simulated imagery.")
    if zone != "UTC":
        click.echo(f"Dates are local dates at {zone}.")
    # On a terminal the latest dates (years of history are a row a date); piped or --all, every one.
    rows = tl.rows[len(tl.rows) - rows_shown(len(tl.rows), show_all):]
    if len(rows) < len(tl.rows):
        echo_wrapped(not_shown_line(len(tl.rows) - len(rows), "earlier dates", ", --from/--to those of a period"))
    if rows:  # a header over no row reads as a table that failed to fill
        # "date (UTC)" fits the column of an ISO date; a local zone is said on the line above instead.
        echo_wrapped(f"{'date (UTC)' if zone == 'UTC' else 'date':<10}  {'seen by sensor':<20} {'vessels':>7}  {'arr':>3} {'dep':>3}  at berths / others", indent=12)
    for r in rows:
        berths = ", ".join(f"{b}:{n}" for b, n in r.at_berth.items())
        if r.off_berth:
            berths += (", " if berths else "") + f"elsewhere:{r.off_berth}"
        others = ", ".join(f"{k}:{n}" for k, n in r.others.items())
        seen = " ".join(f"{s}:{n}" for s, n in r.by_sensor.items())
        echo_wrapped(
            f"{r.date.isoformat():<10}  {seen:<20} {r.vessels:>7}  {r.arrivals:>3} {r.departures:>3}  "
            f"{berths or '-'}{'  [' + others + ']' if others else ''}"
            f"{''.join(f'  left {b}, last seen {d.isoformat()}' for b, d in r.departures_last_seen.items())}"
            f"{'  hidden: ' + ', '.join(r.hidden_berths) if r.hidden_berths else ''}"
            f"{f'  cut by the image edge or no data: {r.truncated_vessels}' if r.truncated_vessels else ''}",
            indent=12,  # under "seen by sensor"
        )
    for s in tl.skipped:
        if rows and s.date < rows[0].date and len(rows) < len(tl.rows):
            continue  # a date not shown
        echo_wrapped(f"skipped {s.date.isoformat()} {s.sensor} {s.observation_id}: {s.reason}")
    for line in tl.summary_lines():
        echo_wrapped(line)


# `--csv t.xlsx` wrote CSV text, `--chart t.jpg` (or t.pdf) PNG bytes, under names their programs refuse.
_csv_out = named_out("CSV", (".csv",), " (a spreadsheet opens it)")
_json_out = named_out("JSON", (".json",))
_png_out = named_out("a PNG image", (".png",))


def _chart_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    # PNG bytes on standard output would garble a terminal and mix with the table or CSV/JSON there.
    if value is not None and str(value) == "-":
        raise click.BadParameter("the chart is a PNG and needs a file name, e.g. --chart timeline.png", ctx=ctx,
                                 param=param)  # fmt: skip
    return _png_out(ctx, param, value)


SITE_FIELD = "{site}"
"""In an output file's name, each site's id: a file per site (``--chart charts/{site}.png``)."""


def _per_site(path: str | Path, site_id: str) -> Path:
    return Path(str(path).replace(SITE_FIELD, site_id))


@click.command("timeline", cls=OnceCommand, short_help="Print sites' timelines: vessels, arrivals, departures.")
@click.argument("site_ids", nargs=-1, metavar="[SITE]...", shell_complete=complete_site_ids)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, allow_dash=True), callback=_csv_out,
              help="Write the rows as CSV ('-' for standard output; several sites: one CSV, or a file each with {site} in the name).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, allow_dash=True), callback=_json_out,
              help="Write the timeline as JSON ('-' for standard output; several sites: {\"sites\": [...]}, or a file each with {site}).")
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False, path_type=Path), callback=_chart_file,
              help="Draw the timeline chart as PNG into a file (several sites: {site} in the name, a file each).")
@timeline_options()
@all_rows_option(f"the {TERMINAL_ROWS} latest dates of each site")
@bom_option
@workspace_option
@handle_errors
def command(
    site_ids: tuple[str, ...],
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
    show_all: bool,
    bom: bool,
    workspace: Path,
) -> None:
    """Vessels present at each SITE on each usable date; arrivals, departures, presence days
    (default: every site with observations).

    A date seen by several sensors is one date. Observation periods split at
    gaps longer than --gap-days; presence days are counted per period.

    With one SITE the outputs are that site's. With several (or none: every site with
    observations), the table gives each site in turn, --csv one CSV of every site's rows
    (its site_id column tells them apart), --json {"sites": [TIMELINE, ...]}; {site} in a
    file's name writes a file a site instead (--chart needs it).
    """
    if json_path == "-" and csv_path == "-":
        raise click.UsageError("--json - and --csv - both want standard output; send one of them to a file")
    if bom and not csv_path:
        raise click.UsageError("--bom marks the CSV as UTF-8 for Excel: add --csv FILE")
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
    ids = list(dict.fromkeys(site_ids))
    if len(ids) != 1:
        if chart_path is not None and SITE_FIELD not in str(chart_path):
            raise click.UsageError(f"--chart draws one PNG a site: put {SITE_FIELD} in its name, e.g. --chart charts/{SITE_FIELD}.png")
        _several(ws, ids, params, json_path, csv_path, chart_path, date_zone(utc_offset), show_all, bom)
        return
    (site_id,) = ids
    with ws.store() as store:
        tl = load_timeline(store, site_id, params)
        warn_older_detections(store, [site_id])
    # One site: {site} in a name is its id, as it would be among several.
    json_path, csv_path = (None if p is None else p.replace(SITE_FIELD, site_id) for p in (json_path, csv_path))
    chart_path = None if chart_path is None else _per_site(chart_path, site_id)
    to_stdout = "-" in (json_path, csv_path)  # then stdout holds that document alone; messages go to stderr
    # Files first: `timeline SITE --csv t.csv | head` closes standard output under the table.
    written: list[Path] = []
    if json_path and json_path != "-":
        written.append(write_text_atomic(Path(json_path), timeline_to_json(tl)))
    if csv_path and csv_path != "-":
        written.append(write_text_atomic(Path(csv_path), with_bom(timeline_to_csv(tl), bom)))
    if chart_path:
        from ..report.charts import timeline_chart_png

        write_text_atomic(chart_path, timeline_chart_png(tl))
        written.append(chart_path)
    if json_path == "-":
        echo_utf8(timeline_to_json(tl))
    elif csv_path == "-":
        echo_utf8(with_bom(timeline_to_csv(tl), bom), nl=False)
    else:
        _print(tl, date_zone(utc_offset), show_all)
    for path in written:
        click.echo(f"wrote {path}", err=to_stdout)


def _several(ws: Workspace, ids: list[str], params: TimelineParams, json_path: str | None, csv_path: str | None,
             chart_path: Path | None, zone: str, show_all: bool = False, bom: bool = False) -> None:  # fmt: skip
    """The timelines of ``ids`` (none: every site with observations), read first, then written: a site unknown
    (named with the nearest ids) or unreadable stops the command before any file is written."""
    with ws.store() as store:
        ids = sites_asked(store, ids)
        timelines = [load_timeline(store, sid, params) for sid in ids]
        warn_older_detections(store, ids)
    to_stdout = "-" in (json_path, csv_path)
    written: list[Path] = []
    if json_path and json_path != "-":
        if SITE_FIELD in json_path:
            written += [write_text_atomic(_per_site(json_path, tl.site_id), timeline_to_json(tl)) for tl in timelines]
        else:
            written.append(write_text_atomic(Path(json_path), _sites_json(timelines)))
    if csv_path and csv_path != "-":
        if SITE_FIELD in csv_path:
            written += [write_text_atomic(_per_site(csv_path, tl.site_id), with_bom(timeline_to_csv(tl), bom)) for tl in timelines]
        else:
            written.append(write_text_atomic(Path(csv_path), with_bom(_sites_csv(timelines), bom)))
    if chart_path:
        from ..report.charts import timeline_chart_png

        for tl in timelines:
            written.append(write_text_atomic(_per_site(chart_path, tl.site_id), timeline_chart_png(tl)))
    if json_path == "-":
        echo_utf8(_sites_json(timelines))
    elif csv_path == "-":
        echo_utf8(with_bom(_sites_csv(timelines), bom), nl=False)
    elif not timelines:
        click.echo("no site has observations: bring imagery in with `sitewatch fetch`, `ingest` or `import`")
    else:
        for k, tl in enumerate(timelines):
            if k:
                click.echo("")
            click.echo(f"== {tl.site_id} ==")
            _print(tl, zone, show_all)
    for path in written:
        click.echo(f"wrote {path}", err=to_stdout)


def _sites_json(timelines: list[Timeline]) -> str:
    """Several sites' timelines as one JSON document: ``{"sites": [TIMELINE, ...]}``, each as ``timeline --json``."""
    return json_text({"sites": [timeline_to_dict(tl) for tl in timelines]}, indent=1)


def _sites_csv(timelines: list[Timeline]) -> str:
    """Several sites' rows as one CSV (its ``site_id`` column tells them apart): the header once."""
    if not timelines:
        return "\r\n".join([",".join(TIMELINE_CSV_COLUMNS), ""])
    first, *others = (timeline_to_csv(tl) for tl in timelines)
    return first + "".join(text.split("\r\n", 1)[1] for text in others)
