"""``sitewatch eval``: score detections against the simulator's ground truth."""

from __future__ import annotations

from pathlib import Path

import click

from ..detection_state import warn_older_detections
from ..errors import StoreReadOnlyError
from ..evaluate import EVAL_KINDS, EvalParams, Evaluation, Scores, evaluate_workspace
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    FiniteFloatRange,
    OnceCommand,
    ais_files_option,
    handle_errors,
    json_option,
    workspace_option,
)
from .output import echo_json


def _ratio(value: float | None) -> str:
    return f"{'–':>5}" if value is None else f"{value:.3f}"


def _line(label: str, s: Scores, kind: str = "vessel") -> str:
    noun = "ships" if kind == "vessel" else f"{kind}s"
    length = (
        f"length MAE {s.length_mae_m:.1f} m (bias {s.length_bias_m:+.1f} m) over {s.long_ships} {noun}"
        if s.length_mae_m is not None and s.length_bias_m is not None
        else f"no matched {kind} longer than --long-ship" if kind != "vessel" else "no matched long ships"
    )
    cut = f" ({s.truncated} cut by the image's edge or no data, not measured)" if s.truncated else ""
    return (
        f"{label:<12} obs {s.observations:>4}  TP {s.tp:>4}  FP {s.fp:>4}  FN {s.fn:>4}  "
        f"P {_ratio(s.precision)}  R {_ratio(s.recall)}  F1 {_ratio(s.f1)}  {length}{cut}"
    )


@click.command("eval", cls=OnceCommand, short_help="Score detections against the simulator's truth.")
@click.argument("site_ids", nargs=-1, shell_complete=complete_site_ids)
@click.option("--kind", type=click.Choice(EVAL_KINDS), default="vessel", show_default=True,
              help="Object kind to evaluate (the kinds the detectors produce).")
@click.option("--long-ship", "long_ship_m", type=FiniteFloatRange(min=0, min_open=True), default=80.0,
              show_default=True, metavar="METRES",
              help="Length errors are summarised for true ships longer than this (m).")
@click.option("--no-record", is_flag=True, help="Do not record the figures in the workspace.")
@ais_files_option("Also score AIS matching: simulated AIS (`simulate --ais`) against which vessels were dark.")
@workspace_option
@json_option
@handle_errors
def command(
    site_ids: tuple[str, ...], kind: str, long_ship_m: float, no_record: bool, ais_files: tuple[Path, ...],
    workspace: Path, as_json: bool,
) -> None:
    """Compare detections with ground truth (simulated scenes): precision, recall, F1, length error.

    Matching is one-to-one per observation; a detection matches a visible
    truth object when its centroid lies inside the object grown by one pixel,
    the pairs chosen for the most matches, then the least total distance
    between centroids, not by
    score (`score` takes detections best score first; --json's `rule` says it
    in full; README, "Definitions and units"). The figures are recorded so `sitewatch report` shows them. Precision with
    no detection, recall with no truth object, and F1 with neither are undefined
    and shown as "–" (null in JSON), as `sitewatch score` shows them.

    Exit code 0 when every simulated scene's truth was read, 3 when some truth
    files were missing or unreadable (each is named; the others are evaluated),
    1 when nothing could be evaluated.
    """
    ws = open_workspace(workspace)
    try:
        ev = evaluate_workspace(
            ws, list(site_ids) or None, EvalParams(kind=kind, long_ship_m=long_ship_m), record=not no_record
        )
    except StoreReadOnlyError as exc:  # a colleague's workspace, a shared read-only mount
        raise click.ClickException(f"{exc}: the figures are recorded there for `sitewatch report`; pass --no-record "
                                   "to print them without recording them") from exc
    with ws.store() as store:  # figures of an earlier detector's detections, said so
        warn_older_detections(store, list(site_ids) or None)
    # Real scenes have no truth to read and are only counted (below); a simulated scene whose truth
    # file is missing or unreadable is an input refused.
    refused = [(obs_id, why) for obs_id, why in ev.skipped if not why.startswith("no ground truth")]
    for obs_id, why in refused:
        click.echo(f"skipped {obs_id}: {why}", err=True)
    if not ev.observations:
        raise click.ClickException(
            "nothing to evaluate: no observation has ground truth (eval needs simulated scenes, "
            "e.g. from `sitewatch simulate` or `sitewatch demo`); real imagery with labelled boxes is scored "
            "by `sitewatch detect-image` and `sitewatch score` (README, \"Score detections against labelled boxes\")"
        )
    dark = None
    if ais_files:  # AIS matching against the scenario's dark vessels, beside the detection figures
        from ..analysis.ais_eval import evaluate_ais_files

        dark = evaluate_ais_files(ws, list(site_ids) or None, ais_files)[1]
    if as_json:
        echo_json(ev.to_dict() | ({"ais": dark.to_dict()} if dark else {}), indent=1, default=str)
    else:
        _print(ev, kind)
        if dark is not None:
            click.echo(
                f"AIS dark vessels: {dark.truly_dark_found} of {dark.truly_dark_detected} detections of dark vessels "
                f"found dark; of {dark.dark} called dark {dark.dark_right} right, {dark.dark_broadcasting} broadcasting, "
                f"{dark.dark_false_alarms} false alarms (P {_ratio(dark.precision)} R {_ratio(dark.recall)}); "
                f"MMSI right in {dark.matched_right} of {dark.matched} matches"
            )
    if refused:
        # As ingest and detect: some inputs (truth files missing or unreadable) refused, the others done.
        raise SystemExit(3)


def _print(ev: Evaluation, kind: str) -> None:
    """The evaluation as lines for people: overall, per sensor and site, presence days."""
    click.echo(_line("all", ev.overall, kind))
    for name, s in ev.by_sensor.items():
        click.echo(_line(f"sensor {name}", s, kind))
    for name, s in ev.by_site.items():
        click.echo(_line(f"site {name}", s, kind))
    for name, pc in ev.presence.items() if kind == "vessel" else ():  # the timeline counts vessels only
        click.echo(
            f"presence days at {name}: timeline {pc.detected_days}, truth {pc.truth_days}, "
            f"agreeing {pc.agreeing_days}"
        )
    if ev.links is not None and kind == "vessel":
        from ..analysis.link_eval import LinkScore

        click.echo(LinkScore.from_dict(ev.links).line())
    for name, score in ev.changes.items():
        click.echo(score.line(name))
    if ev.skipped:
        click.echo(f"{len(ev.skipped)} observation(s) without usable ground truth skipped")
