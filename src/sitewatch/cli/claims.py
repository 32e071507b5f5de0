"""``sitewatch claims check FILE``: published claims marked supported, contradicted or not testable."""

from __future__ import annotations

from pathlib import Path

import click

from ..analysis.occupancy import TimelineParams
from ..detection_state import warn_older_detections
from ..evidence import ClaimsCheck, check_claims_file, claims_to_dict
from ..files import write_text_atomic
from ..report.exports import date_zone
from ..workspace import open_workspace
from .options import (
    OnceGroup,
    handle_errors,
    json_option,
    named_out,
    refuse_input_as_out,
    refuse_workspace_file,
    utc_offset_option,
    workspace_option,
)
from .output import echo_json, echo_wrapped, json_text, print_table

_IMAGES_SHOWN = 4


@click.group("claims", cls=OnceGroup, short_help="Check published claims against the imagery.")
def command() -> None:
    """Check published claims (a YAML claims file) against the workspace's imagery."""


def _print(check: ClaimsCheck) -> None:
    from rich.table import Table

    if any(r.simulated for r in check.results):
        click.echo("Simulated imagery: every verdict that rests on it says so.")
    if check.utc_offset_hours:  # said only when not UTC, the default, whose output is as it always was
        echo_wrapped(f"Claim dates are local dates at {date_zone(check.utc_offset_hours)}: each image counts for the date of "
                     f"its acquisition time plus {check.utc_offset_hours:g} h (image times stay in UTC).")  # fmt: skip
    if check.results:
        table = Table(title=f"Claims checked against the imagery ({check.title or check.path})")
        for col in ("id", "verdict", "reason", "images"):
            table.add_column(col)
        for r in check.results:
            shown = [im.path for im in r.images[:_IMAGES_SHOWN]]
            if len(r.images) > _IMAGES_SHOWN:
                shown.append(f"… and {len(r.images) - _IMAGES_SHOWN} more (--json lists them all)")
            verdict = r.verdict + (" (on the dates tested)" if r.partial else "")
            table.add_row(r.claim.id, verdict, r.reason, "\n".join(shown) or "–")
        print_table(table, id_header="reason", head="id")
    counts = {v: sum(r.verdict == v for r in check.results) for v in ("supported", "contradicted", "not testable")}
    echo_wrapped(", ".join(f"{n} {v}" for v, n in counts.items()) + f" of {len(check.results)} claim(s) checked")


@command.command("check", short_help="Mark each claim of a file supported, contradicted or not testable.")
@click.argument("claims_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), callback=named_out("JSON", (".json",)),
              help="Also write the verdicts as JSON to this file, .json (its folder must exist).")
@utc_offset_option("claim dates are then local dates at UTC+HOURS, as in `timeline` and `report`.")
@workspace_option
@json_option
@handle_errors
def check(claims_file: Path, out_path: Path | None, utc_offset: float, workspace: Path, as_json: bool) -> None:
    """Decide each claim of CLAIMS_FILE from the workspace's stored detections.

    A claim in error (an unknown kind, a missing field, an unknown site or
    berth, a bad date) is named with its field and refused; the others are
    checked. Exit code 0 when every claim was checked, whatever the verdicts;
    3 when some were refused; 1 when none could be read. Claim dates are UTC
    dates, or with --utc-offset local ones (an image at 23:30 UTC is on the
    next day's local date at UTC+10).
    """
    refuse_input_as_out(out_path, [claims_file])
    ws = open_workspace(workspace)
    refuse_workspace_file(ws, [("--out", out_path)])
    with ws.store() as store:
        result = check_claims_file(store, claims_file, TimelineParams(utc_offset_hours=utc_offset))
        warn_older_detections(store)
    doc = claims_to_dict(result)
    if out_path is not None:
        write_text_atomic(out_path, json_text(doc, indent=1) + "\n", make_folder=False)
    if as_json:
        echo_json(doc, indent=1)
    else:
        _print(result)
    for p in result.problems:
        click.echo(f"refused: {claims_file}: {p}", err=True)
    if out_path is not None and not as_json:
        click.echo(f"wrote {out_path}")
    if result.problems:
        raise SystemExit(3 if result.results else 1)
