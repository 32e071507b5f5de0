"""``sitewatch alerts check``: rules over the stored observations, each event reported once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import click

from ..alert_chat import WEBHOOK_FORMATS
from ..alert_rules import RULES_FILE
from ..alerts import WEBHOOK_TIMEOUT_S, check_alerts, load_rules
from ..config import settings_used_by
from ..detection_state import warn_older_detections
from ..errors import StoreError
from ..model import acquired_label
from ..store import Store
from ..workspace import open_workspace
from .options import (
    DateOrTime,
    FiniteFloatRange,
    OnceGroup,
    existing_folder,
    handle_errors,
    json_option,
    refuse_input_as_out,
    refuse_workspace_file,
    workspace_option,
)
from .output import echo_json, echo_wrapped

EVENTS_FILE = "alerts.jsonl"
"""The JSON-lines file in the workspace that new events are appended to when --out is not given."""


@click.group("alerts", cls=OnceGroup, short_help="Tell once when a rule's event shows in the stored observations.")
def command() -> None:
    """Alert rules (a YAML file) over what the workspace computed: arrivals, departures, cranes, vessel counts, changes, links."""


@command.command("check", short_help="Evaluate the rules and print the events not reported before.")
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help=f"Rules file (YAML; default: {RULES_FILE} in the workspace).")
@click.option("--since", type=DateOrTime("date"), metavar="DATE", help="Only events on or after this UTC date.")
@click.option("--all", "show_all", is_flag=True, help="Show every event again, not only those not reported before.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.jsonl", callback=existing_folder,
              help=f"JSON-lines file the new events are appended to (default: {EVENTS_FILE} in the workspace).")
@click.option("--webhook", metavar="URL",
              help="POST each new event to this URL, shaped as --webhook-format says (default: the alerts_webhook setting; none when empty).")
@click.option("--webhook-format", type=click.Choice(WEBHOOK_FORMATS, case_sensitive=False), default=None,
              help="What is POSTed: json (sitewatch's event), slack, mattermost, discord or teams (a chat message); "
                   "auto takes Slack's, Discord's or a Teams workflow's shape from the URL's host, else json. "
                   "Default: the alerts_webhook_format setting, auto.")
@click.option("--forget-webhook", is_flag=True,
              help="Forget the webhook earlier runs posted to: new events (and those waiting for it) are no longer kept for it.")
@click.option("--webhook-timeout", type=FiniteFloatRange(min=0, min_open=True), default=WEBHOOK_TIMEOUT_S,
              show_default=True, metavar="SECONDS", help="Seconds a webhook POST may take before it counts as failed.")
@workspace_option
@json_option
@handle_errors
def check(
    rules_path: Path | None, since: date | None, show_all: bool, out: Path | None, webhook: str | None,
    webhook_format: str | None, forget_webhook: bool, webhook_timeout: float, workspace: Path, as_json: bool,
) -> None:  # fmt: skip
    """Evaluate every rule and print the events not reported before (exit 1 when a rule or a delivery failed).

    Events are remembered in the workspace: a second run prints only new ones.
    An event not delivered to the webhook is kept and retried on the next run.
    """
    ws = open_workspace(workspace)
    refuse_input_as_out(out, [rules_path or ws.root / RULES_FILE])
    refuse_workspace_file(ws, [("--out", out)])
    # --webhook URL: the alerts_webhook setting is not read (a bad SITEWATCH_ALERTS_WEBHOOK does not stop the run).
    names = [n for n in settings_used_by("alerts check") if n != "alerts_webhook" or webhook is None]
    settings = ws.settings({"alerts_webhook_format": webhook_format}, names=names)
    hook = webhook if webhook is not None else settings["alerts_webhook"] or None
    if forget_webhook and hook:
        raise click.UsageError("--forget-webhook is for a run without a webhook; this one has "
                               f"{'--webhook' if webhook is not None else 'the alerts_webhook setting'}")  # fmt: skip
    with ws.store() as store:
        rules, errors = load_rules(store, rules_path or ws.root / RULES_FILE)
        warn_older_detections(store, {s for r in rules for s in r.sites})
        result = check_alerts(
            store, rules, since=since, show_all=show_all, out=out or ws.root / EVENTS_FILE, webhook=hook,
            timeout=webhook_timeout, forget_webhook=forget_webhook, webhook_format=settings["alerts_webhook_format"],
        )  # fmt: skip
        # Each image an event rests on with its acquisition time, so that a line is cited with a time and its zone.
        when = {} if as_json else _acquired_labels(store, result.events)
    if as_json:
        for e in result.events:
            echo_json({**e, "new": e["event_id"] in result.new}, sort_keys=True)
    else:
        for e in result.events:
            mark = "" if e["event_id"] in result.new else " (reported before)"
            echo_wrapped(f"{e['date']} {e['site']} [{e['rule']}]{mark}: {e['what']}", indent=2)
            rests = ", ".join(f"{o} ({when[o]})" if o in when else o for o in e["observations"])
            echo_wrapped(f"    rests on {rests}; images {', '.join(e['images'])}", indent=2)
        n = len(result.new)
        click.echo(f"{n} new event{'' if n == 1 else 's'} of {result.evaluated} from {len(rules)} rule{'' if len(rules) == 1 else 's'}"
                   + (f"; {result.delivered} delivered to the webhook" if hook else ""), err=True)  # fmt: skip
    for line in [*errors, *result.delivery_errors]:
        click.echo(f"error: {line}", err=True)
    if result.retold:
        n = len(result.retold)
        click.echo(f"note: {n} event{'' if n == 1 else 's'} not reported again: an image that came late moved "
                   f"{'it' if n == 1 else 'them'} to an earlier date ({', '.join(result.retold)}); "
                   "`alerts check --all` shows the events as they now stand", err=True)
    if result.pending and not hook and result.webhook_of_earlier_runs:
        click.echo(f"note: {result.pending} event(s) wait for the webhook earlier runs of this workspace posted to "
                   f"({result.webhook_of_earlier_runs}): this run has none; the next run with it (--webhook URL or the "
                   "alerts_webhook setting, as the team's scheduled run has) posts them; `alerts check --forget-webhook` "
                   "forgets it", err=True)  # fmt: skip
    elif result.pending and not hook:
        click.echo(f"note: {result.pending} event(s) wait for a webhook (--webhook URL or the alerts_webhook setting)", err=True)
    if errors or result.delivery_errors:
        raise SystemExit(1)


_FEW_IMAGES = 200
"""Up to this many images the events rest on are read one by one; more (``--all`` over years) a site at a time."""


def _acquired_labels(store: Store, events: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Observation id → its acquisition time as a line cites it, for the images ``events`` rest on. A daily run's
    few new events read their few images, not every observation of their sites (years of history: thousands)."""
    sites = {e["site"] for e in events}
    # Those of the events' sites alone, as reading their sites gave (a link's first image, at the other site, is
    # cited without a time unless that site has an event of its own).
    ids = {o for e in events for o in e["observations"] if o.split("/", 1)[0] in sites}
    if len(ids) > _FEW_IMAGES:
        return {o.id: acquired_label(o) for sid in sites for o in store.observations(sid)}
    labels = {}
    for oid in sorted(ids):
        try:
            labels[oid] = acquired_label(store.get_observation(oid))
        except StoreError:  # removed since (`sites remove`): the line names it without a time, as before
            continue
    return labels
