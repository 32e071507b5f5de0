"""``sitewatch links [SITE]...``: vessels that left one site and may have arrived at another."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from ..analysis.links import (
    AisId,
    LinkCandidate,
    LinkParams,
    Links,
    Move,
    ais_ids,
    links_to_dict,
    load_links,
)
from ..detection_state import warn_older_detections
from ..model import acquired_text
from ..units import pixel_size_text
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    DateOrTime,
    FiniteFloatRange,
    OnceCommand,
    ais_coverage_options,
    ais_files_option,
    ais_max_gap_option,
    all_rows_option,
    check_date_order,
    handle_errors,
    is_quiet,
    json_option,
    progress_bar,
    refuse_max_gap_without_ais,
    stated_ais_coverage,
    workspace_option,
)
from .output import echo_json, echo_wrapped, not_shown_line, print_table, rows_shown

_D = LinkParams()


def _ais_cell(k: LinkCandidate) -> str:
    def end(x: AisId | None) -> str:
        return x.text() if x else "not matched"

    return f"{k.ais}\n{end(k.ais_departure)}\n{end(k.ais_arrival)}"


def _end(m: Move) -> str:
    when = acquired_text(m.acquired, m.acquired_date_only)
    cut = ", cut" if m.truncated else ""
    pixels = f" at {pixel_size_text(m.resolution_m)} pixels" if m.resolution_m else ""  # (none: "at 0 m pixels")
    return f"{m.site_id} {when}\n{m.length_m:.0f} m{cut}{pixels}\n{m.observation_id}\nscene {m.scene_id}\n{m.path}"


LINK_ROWS = 20
"""The links a terminal is shown without ``--all`` (the latest; each takes five lines or more)."""


def _print(links: Links, show_all: bool = False) -> None:
    if links.simulated:
        click.echo("Simulated imagery.")
    for note in links.notes:
        echo_wrapped(f"note: {note}")
    if len(links.site_ids) < 2 or not links.links:
        for line in links.summary_lines():
            echo_wrapped(line)
        return
    from rich.table import Table

    table = Table(title="Candidate links (the same vessel at two sites?): evidence, not identity")
    with_ais = any(k.ais for k in links.links)
    for col in ("last seen at A", "first seen at B", "hours", "km by sea", "knots", "feasible", "size fit", "alternatives"):
        table.add_column(col)
    if with_ais:
        table.add_column("AIS")
    # On a terminal the latest links (they are in the order of their departures); piped or --all, every one.
    shown = links.links[len(links.links) - rows_shown(len(links.links), show_all, LINK_ROWS):]
    for k in shown:
        size = f"{k.similarity:.2f}" + (f"\nlength {k.length_sigmas:.1f}σ" if k.length_sigmas is not None else "")
        size += f"\nwidth {k.width_sigmas:.1f}σ" if k.width_sigmas is not None else ""
        size += f"\n{k.likely_class}" if k.likely_class else ""
        table.add_row(
            _end(k.departure), _end(k.arrival), f"{k.hours_apart:.0f}", f"{k.distance_km:.0f}\n{k.distance_by_text()}", f"{k.speed_kn:.1f}",
            "yes" if k.feasible else "no", size, f"{k.alternatives}\n{k.ambiguity_text()}",
            *([_ais_cell(k)] if with_ais else []),
        )  # fmt: skip
    print_table(table, id_header="last seen at A")
    if len(shown) < len(links.links):
        echo_wrapped(not_shown_line(len(links.links) - len(shown), "earlier links", ", --from/--to those of a period"))
    for k in shown:
        for note in k.notes:
            echo_wrapped(f"{k.departure.observation_id} → {k.arrival.observation_id}: {note}")
    n = len(links.feasible)
    echo_wrapped(
        f"{n} feasible link{'' if n == 1 else 's'} of {len(links.links)} that fit by size "
        f"(at most {links.params.max_speed_kn:g} kn, {links.params.window_days:g} days); "
        f"{links.departures} departures, {links.arrivals} arrivals. A link is a candidate: "
        "at these pixel sizes other vessels of the same size fit too (alternatives)."
    )
    routed = sum(k.distance_by == "route" for k in links.links)
    echo_wrapped(
        f"Distance by sea: {routed} of {len(links.links)} routed over water between the sites' centres on a 1 km land "
        f"mask (global-land-mask, NOAA GLOBE); {len(links.links) - routed} the great circle × "
        f"{links.params.detour_factor:g} (the fallback: the notes say why)."
    )
    if with_ais:
        n_ok = sum(k.ais == "confirmed" for k in links.feasible)
        n_out = sum(k.ais == "ruled out" for k in links.feasible)
        echo_wrapped(
            f"AIS: {n_ok} feasible link{'' if n_ok == 1 else 's'} confirmed (the same MMSI at both ends), {n_out} ruled "
            f"out (different MMSIs, or the vessel accounted for by another confirmed link), {len(links.feasible) - n_ok - n_out} not matched at both ends (size only)."
        )


@click.command("links", cls=OnceCommand, short_help="List vessels that may have gone from one site to another.")
@click.argument("site_ids", nargs=-1, shell_complete=complete_site_ids)
@click.option("--from", "start", type=DateOrTime("date"), metavar="DATE",
              help="Leave out links whose last sighting at the first site is before this UTC date.")
@click.option("--to", "end", type=DateOrTime("date"), metavar="DATE",
              help="Leave out links whose first sighting at the second site is after this UTC date.")
@click.option("--max-speed-kn", type=FiniteFloatRange(min=0, min_open=True), default=_D.max_speed_kn,
              show_default=True, metavar="KNOTS",
              help="Fastest passage counted feasible (25 kn: above landing ships' and merchant ships' speeds).")
@click.option("--window-days", type=FiniteFloatRange(min=0, min_open=True), default=_D.window_days,
              show_default=True, metavar="DAYS", help="Most days between the last sighting at one site and the first at the other.")
@click.option("--great-circle", is_flag=True,
              help="Measure every distance by sea as the great circle x 1.2, routing none (as sitewatch did before "
                   "it routed over water; each link says so).")  # fmt: skip
@ais_files_option("AIS CSV file (as `sitewatch ais` reads): the same MMSI at both ends confirms a link, two MMSIs rule it out; repeat for more.")
@ais_coverage_options
@ais_max_gap_option
@all_rows_option(f"the {LINK_ROWS} latest links")
@workspace_option
@json_option
@handle_errors
def command(
    site_ids: tuple[str, ...], start: date | None, end: date | None, max_speed_kn: float, window_days: float,
    great_circle: bool, ais_files: tuple[Path, ...], ais_coverage: Path | None, ais_period: tuple[datetime, datetime] | None,
    max_gap_min: float, show_all: bool, workspace: Path, as_json: bool,
) -> None:  # fmt: skip
    """Pair each departure from a site with the arrivals at the other sites (default: every site with observations).

    A pair is a candidate link when the arrival came within --window-days, the
    sizes fit within three standard deviations of the measurement error (which
    grows with the pixel size; a hull cut by the image's edge is a lower bound),
    and the distance by sea (a route over water between the two sites on a 1 km
    land mask; great circle x 1.2 where no route can be measured, and the link
    says so) over the hours between the two images is at most --max-speed-kn. Each link says how many other departures
    and arrivals fit as well: it is evidence, never an identity. With --ais, a
    link whose two ends were matched with the same MMSI (as `sitewatch ais`
    matches them) is confirmed, one with two different MMSIs is ruled out, as is
    one whose end's MMSI another link of that end confirms; the others stay
    size-only candidates.
    """
    check_date_order(start, end)
    coverage = stated_ais_coverage(ais_coverage, ais_period, ais_files)
    refuse_max_gap_without_ais(ais_files)
    params = LinkParams(
        window_days=window_days, max_speed_kn=max_speed_kn, start=start, end=end, sea_route=not great_circle
    )
    ws = open_workspace(workspace)
    with ws.store() as store:
        warn_older_detections(store, list(site_ids) or None)
        ais = None
        if ais_files:
            from ..analysis.ais import AisParams, match_workspace

            ids = list(site_ids) or store.imaged_site_ids()
            ais = ais_ids(match_workspace(store, ws.root, ids, ais_files, AisParams(max_gap_s=max_gap_min * 60),
                                          start=start, end=end, coverage=coverage))  # fmt: skip
        with progress_bar("routing by sea", is_quiet() or as_json) as progress:
            links = load_links(store, list(site_ids) or None, params, ais=ais, progress=progress)
    if as_json:
        echo_json(links_to_dict(links), indent=1, default=str)
    else:
        _print(links, show_all)

