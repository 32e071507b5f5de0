"""``sitewatch demo``: the seed-story scenario end to end, offline, on simulated imagery."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ..alert_rules import RULES_FILE
from ..demo import run_demo
from ..sources.scenario import Scenario
from ..sources.simulate import load_scenario
from .options import OnceCommand, handle_errors, is_quiet, shown
from .output import echo_json

DEFAULT_SCENARIO = "seed-story"

_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def default_out(scenario_name: str) -> Path:
    """The demo's folder when --out is not given: ``sitewatch-demo``, or ``sitewatch-demo-NAME`` for another scenario.

    Each scenario its own folder, so that `sitewatch demo` and then `sitewatch demo --scenario departures` both
    run as typed (a demo folder of another scenario is refused). A name that is no plain file name (spaces, a
    slash) keeps ``sitewatch-demo``.
    """
    if scenario_name == DEFAULT_SCENARIO or not _FOLDER_NAME.fullmatch(scenario_name):
        return Path("sitewatch-demo")
    return Path(f"sitewatch-demo-{scenario_name}")


@click.command("demo", cls=OnceCommand, short_help="Run the whole pipeline on simulated imagery, offline.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write (a workspace). Default: sitewatch-demo, or sitewatch-demo-NAME for another scenario NAME.")
@click.option("--scenario", default=DEFAULT_SCENARIO, show_default=True, help="Packaged scenario (seed-story, departures) or a .yaml/.toml file.")
@click.option("--seed", type=int, help="Override the scenario's random seed.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Ingest and detection worker processes (0: one per core). Default: the `workers` setting (SITEWATCH_WORKERS).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handle_errors
def command(out: Path | None, scenario: str, seed: int | None, workers: int | None, as_json: bool) -> None:
    """Simulate a scenario's imagery (default: the seed story) and run every stage on it; writes report.html.

    Needs no network and no account. All imagery is SIMULATED and labelled so.
    """
    scen: str | Scenario = scenario
    if out is None:
        scen = load_scenario(scenario)
        out = default_out(scen.name)
    quiet = is_quiet() or as_json
    if quiet:
        result = run_demo(out, scenario=scen, seed=seed, workers=workers)
    else:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with shown(Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True, console=(console := Console(stderr=True)), disable=not console.is_terminal)) as bar:
            tasks: dict[str, int] = {}

            def progress(stage: str, done: int, total: int, what: str) -> None:
                if stage not in tasks:
                    tasks[stage] = int(bar.add_task(stage, total=total))
                bar.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

            result = run_demo(out, scenario=scen, seed=seed, workers=workers, progress=progress)
    if as_json:
        echo_json({
            "scenario": result.scenario,
            "out": str(result.out.resolve()),
            "report": str(result.report.resolve()),
            "database": str(result.database.resolve()),
            "archive": str(result.archive.resolve()),
            "exports": [str(x.resolve()) for x in result.exports],
            "timings_s": result.timings_s,
            "evaluation": result.evaluation,
            "presence": result.presence,
            "links": list(result.links),
            "ais": result.ais,
            "claims": list(result.claims),
            "changes": list(result.changes),
            "story_files": [str(x.resolve()) for x in result.story_files],
        }, indent=1, default=str)
        return
    click.echo(f"sitewatch demo — SIMULATED imagery ({result.scenario} scenario)")
    for sid, periods in result.presence.items():
        for p in periods:
            # The period imaged, not the dates with a vessel: "34 presence day(s) 2023-07-28 → 2024-02-13" read as
            # ships there from 28 July, where the first was on 25 August.
            click.echo(f"  {sid}: {p['presence_days']} presence day(s) in the observation period "
                       f"{p['start'][:10]} → {p['end'][:10]}")  # fmt: skip
    for line in result.links:
        click.echo(f"  link: {line}")
    for sid, c in result.ais.get("sites", {}).items():
        click.echo(f"  {sid}: AIS: {c['matched']} matched, {c['dark']} dark, {c['unseen']} unseen (simulated AIS)")
    if dark := result.ais.get("dark"):
        click.echo(f"  AIS against the truth: {dark['truly_dark_found']} of {dark['truly_dark_detected']} detections of dark "
                   f"vessels found dark; {dark['dark_broadcasting']} broadcasting vessel(s) called dark")  # fmt: skip
    for line in result.changes:
        click.echo(f"  change: {line}")
    for line in result.claims:
        click.echo(f"  claim: {line}")
    click.echo(f"report:    {result.report.resolve()}")
    click.echo(f"database:  {result.database.resolve()}")
    click.echo(f"archive:   {result.archive.resolve()}/")
    if result.exports:
        click.echo(f"exports:   {result.exports[0].parent.resolve()}/ ({', '.join(x.name for x in result.exports)})")
    for path in result.story_files:
        how = "sitewatch alerts check" if path.name == RULES_FILE else f"sitewatch claims check {path.name}"
        click.echo(f"{path.stem + ':':<10} {path.resolve()} ({how}, in that folder)")
    click.echo(f"took {result.timings_s.get('total', 0):.1f} s")
