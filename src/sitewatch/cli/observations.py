"""``sitewatch observations``: what the archive holds for a site."""

from __future__ import annotations

import shlex
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from ..model import Observation, acquired_label, iso_utc
from ..store import stored_time
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    DateOrTime,
    OnceCommand,
    all_rows_option,
    check_date_order,
    handle_errors,
    json_option,
    workspace_option,
)
from .output import (
    TERMINAL_ROWS,
    add_id_column,
    echo_json,
    echo_wrapped,
    not_shown_line,
    pixel_size_text,
    print_table,
    rows_shown,
)


class _ListOrRemove(OnceCommand):
    """``sitewatch observations [SITE]`` lists; ``sitewatch observations remove ID…`` removes
    (:mod:`.observations_remove`). A site named ``remove`` is listed with ``sitewatch observations -- remove``."""

    subcommands = ("remove",)
    """The words that, first, make this the command of that name (read by the README test, as a group's)."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:  # fmt: skip
        if args and args[0] == "remove":
            from .observations_remove import command as remove

            return remove.make_context(f"{info_name} remove", list(args[1:]), parent=parent, **extra)
        return super().make_context(info_name, args, parent=parent, **extra)


def _shifted(t: datetime | None, days: int) -> datetime | None:
    """``t`` moved by ``days`` days; None for no time, or one past year 1 or 9999 (read without that edge)."""
    try:
        return None if t is None else t + timedelta(days=days)
    except OverflowError:
        return None


def _quiet_edges(observations: list[Observation], since: datetime | None, until: datetime | None, pass_seconds: float) -> bool:
    """Whether no site's observations read from ``since`` to ``until`` come within ``pass_seconds`` of those edges:
    pieces of one pass follow each other within that, so the passes of those read are the whole history's."""
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    for o in observations:  # (oldest first)
        first.setdefault(o.site_id, o.scene.acquired)
        last[o.site_id] = o.scene.acquired
    reach = timedelta(seconds=pass_seconds)
    return not any((since is not None and t - since <= reach) for t in first.values()) and not any(
        until is not None and until - t <= reach for t in last.values())  # fmt: skip


@click.command("observations", cls=_ListOrRemove, short_help="List the observations (scenes cut to sites).")
@click.argument("site_id", required=False, shell_complete=complete_site_ids)
@click.option("--sensor", type=click.Choice(["sar", "optical"]), help="Only this sensor.")
@click.option("--from", "start", type=DateOrTime("start"), metavar="DATE",
              help="First acquisition kept (UTC): 2024-10-01, 20241001 or 2024-10-01T09:30Z.")
@click.option("--to", "end", type=DateOrTime("end"), metavar="DATE",
              help="Last acquisition kept (UTC); a date includes its whole day.")
@all_rows_option(f"the {TERMINAL_ROWS} latest")
@workspace_option
@json_option
@handle_errors
def command(site_id: str | None, sensor: str | None, start: datetime | None, end: datetime | None, show_all: bool,
            workspace: Path, as_json: bool) -> None:  # fmt: skip
    """List observations (scenes cut to sites), oldest first; ids work with `sitewatch show`.

    --from/--to keep the observations acquired in that period (a site watched for years has thousands).
    `sitewatch observations remove ID [ID ...]` removes observations (see its --help).
    """
    check_date_order(start, end)
    from ..analysis.occupancy import TimelineParams

    pass_seconds = TimelineParams().pass_seconds
    with open_workspace(workspace).store() as store:
        if site_id is not None:
            store.get_site(site_id)  # an unknown site is an error naming the known ones
        # Of a period: its observations and a day either side (a pass's other pieces, an acquisition's other file),
        # not every site's years of them; every one when an image near the read's edges may be a piece of a pass
        # that goes on past them.
        since, until = _shifted(start, -1), _shifted(end, 1)
        observations = store.observations(site_id, sensor=sensor, since=since, until=until)
        if not _quiet_edges(observations, since, until, pass_seconds):
            since = until = None
            observations = store.observations(site_id, sensor=sensor)
        counts: dict[str, int] = {}
        where = (" AND site_id = ?" if site_id is not None else "") + (" AND acquired >= ?" if since else "") + (
            " AND acquired <= ?" if until else "")  # fmt: skip
        args = [a for a in (site_id, since and stored_time(since), until and stored_time(until)) if a is not None]
        for row in store.execute(f"SELECT observation_id, count(*) AS n FROM detections WHERE 1=1{where} GROUP BY observation_id", args):
            counts[row["observation_id"]] = int(row["n"])
        # Not detected yet (or its image failed detection): no count, which 0 would claim.
        undetected = store.undetected(site_id)
        shapes = {sid: store.get_site(sid).geometry for sid in sorted({o.site_id for o in observations})}
    from ..analysis.passes import passes

    # Pieces of one pass (two slices of a Sentinel-1 datatake): the timeline judges them together.
    pass_of = {
        o.id: group
        for sid, shape in shapes.items()
        for group in passes([o for o in observations if o.site_id == sid], pass_seconds, shape)
        if len(group.pieces) > 1
        for o in group.pieces
    }
    from ..ingest.acquisition import held_twice

    # One acquisition held twice (a COG copy, a second order of the scene, ingested before such files were refused).
    twice = [pair for sid, shape in shapes.items() for pair in held_twice([o for o in observations if o.site_id == sid], shape)]
    twin_of: dict[str, list[str]] = {}
    for a, b in twice:
        twin_of.setdefault(a.id, []).append(b.id)
        twin_of.setdefault(b.id, []).append(a.id)
    # Cut after the passes are found: a pass's pieces outside the period are still named with it.
    observations = [o for o in observations if (start is None or o.scene.acquired >= start)
                    and (end is None or o.scene.acquired <= end)]  # fmt: skip
    rows = [
        {
            "id": o.id,
            # ISO 8601 in UTC, whole, for scripts; the table shows it to the minute
            "acquired": iso_utc(o.scene.acquired),
            # True: only the date is known, "acquired" is its 12:00 UTC (assumed), not the time of the image.
            "acquired_date_only": o.acquired_date_only,
            "sensor": o.scene.sensor,
            "platform": o.scene.platform,
            "resolution_m": o.scene.resolution_m,
            "valid_pct": round(100 * o.valid_fraction, 1),
            "cloud_pct": None if o.cloud_fraction is None else round(100 * o.cloud_fraction, 1),
            "detections": None if o.id in undetected else counts.get(o.id, 0),
            "simulated": o.scene.simulated,
            "sha256": o.sha256,
            # The other pieces of its pass and the least share of the site they hold together; null: a pass alone.
            "pass": {"pieces": [p.id for p in pass_of[o.id].pieces], "valid_pct": round(100 * pass_of[o.id].valid_fraction, 1)}
            if o.id in pass_of else None,
            # The other observations of the same acquisition (held twice); null: none.
            "same_acquisition": twin_of.get(o.id),
        }
        for o in observations
    ]
    if as_json:
        echo_json(rows, indent=1)
        return
    from rich.table import Table

    # Sensor and resolution, valid and cloud share a column: at 80 columns the
    # table then still has room for the id and every other word whole.
    table = Table()
    # A time stored for a date alone (12:00 UTC) is not shown as the time the image was taken.
    when = {o.id: acquired_label(o).removesuffix(" UTC") for o in observations}
    listed = rows  # on a terminal the latest (rows are oldest first); piped or --all, every one
    rows = rows[len(rows) - rows_shown(len(rows), show_all):]
    res = {o.id: o.scene.resolution_m for o in observations}
    add_id_column(table, "id", [str(r["id"]) for r in rows])
    for header in ("acquired (UTC)", "sensor", "platform", "valid / cloud %", "detections"):
        table.add_column(header)
    for r in rows:
        plat = str(r["platform"]) + (" (SIMULATED)" if r["simulated"] else "")
        cloud = "–" if r["cloud_pct"] is None else str(r["cloud_pct"])
        table.add_row(
            str(r["id"]), when[str(r["id"])], f"{r['sensor']} {pixel_size_text(res[str(r['id'])])}", plat,
            f"{r['valid_pct']} / {cloud}", "–" if r["detections"] is None else str(r["detections"]),
        )  # fmt: skip
    if not rows:
        if start is not None or end is not None:
            click.echo("no observations acquired in that period (--from/--to); `sitewatch observations` without them lists every one")
            return
        click.echo("no observations; add some with `sitewatch ingest`, `sitewatch fetch` or `sitewatch import`")
        return
    print_table(table)
    if len(rows) < len(listed):
        echo_wrapped(not_shown_line(len(listed) - len(rows), "earlier observations", ", --from/--to those of a period"))
    kept = {r["id"] for r in rows}
    for group in {id(g): g for oid, g in pass_of.items() if oid in kept}.values():
        echo_wrapped(
            f"one pass, judged together by the timeline: {' + '.join(p.id for p in group.pieces)} "
            f"(at least {100 * group.valid_fraction:.1f}% of the site together)"
        )
    for a, b in twice:
        if a.id in kept or b.id in kept:
            click.echo(
                f"held twice: {a.id} and {b.id} are one acquisition ({a.scene.platform}, {a.scene.sensor}, "
                f"{acquired_label(a)}), two files of it ingested before such a second file was refused: each of its "
                "vessels counts twice in detect's totals, the report and the exports; keep one: "
                f"`sitewatch observations remove {shlex.quote(b.id)}` takes the other out"
            )
