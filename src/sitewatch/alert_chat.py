"""An alert event in the shape a team chat's incoming webhook takes (Slack, Mattermost, Discord, Microsoft Teams).

``alerts check --webhook URL`` POSTs sitewatch's own event JSON (:func:`sitewatch.alerts.event_to_dict`) to a
receiver of the team's own; a chat's incoming webhook refuses that, as it wants a message of its own shape:

- Slack and Mattermost incoming webhooks: ``{"text": ...}`` (Slack wants ``&``, ``<`` and ``>`` written as
  HTML entities; Mattermost reads the text as Markdown and shows entities as they are written);
- Discord: ``{"content": ...}`` of at most 2000 characters;
- Microsoft Teams, by a Power Automate / Workflows "when a Teams webhook request is received" flow (Office 365
  connectors, which took ``{"text": ...}``, are retired): ``{"type": "message", "attachments": [...]}`` holding
  one Adaptive Card.

``auto`` takes the shape from the URL's host where it can only be one (``hooks.slack.com``, ``discord.com``'s
``/api/webhooks/``, a Power Automate host) and sitewatch's own JSON for any other URL: a receiver of the team's
own gets what it got before, and those hosts refuse sitewatch's JSON (Slack answers 400 ``no_text``, Discord 400
"Cannot send an empty message"). A Mattermost server has the team's own host name: ``mattermost`` is asked for.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["WEBHOOK_FORMATS", "WebhookFormat", "event_to_payload", "event_to_text", "webhook_format_for"]

WebhookFormat = Literal["auto", "json", "slack", "mattermost", "discord", "teams"]
WEBHOOK_FORMATS: tuple[str, ...] = ("auto", "json", "slack", "mattermost", "discord", "teams")
"""The shapes ``alerts check --webhook-format`` (setting ``alerts_webhook_format``) posts an event in."""

DISCORD_CONTENT_MAX = 2000
"""Discord refuses a message whose ``content`` is longer (HTTP 400)."""

_SLACK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
_DISCORD_HOSTS = ("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com")
_TEAMS_HOST_ENDINGS = (".logic.azure.com", ".api.powerplatform.com")
# Teams' older incoming webhooks (Office 365 connectors): https://TENANT.webhook.office.com/webhookb2/…/IncomingWebhook/
# TOKEN/…, and before them outlook.office.com/webhook/…. Masked as the others; posted to as any other host (json).
_TEAMS_CONNECTOR_HOSTS = ("outlook.office.com", "outlook.office365.com")
_TEAMS_CONNECTOR_HOST_ENDINGS = (".webhook.office.com",)

CHAT_HOST_PATTERN = "|".join(
    [re.escape(h) for h in (*_SLACK_HOSTS, *_DISCORD_HOSTS, *_TEAMS_CONNECTOR_HOSTS)]
    + [r"[a-z0-9.-]+" + re.escape(e) for e in (*_TEAMS_HOST_ENDINGS, *_TEAMS_CONNECTOR_HOST_ENDINGS)]
)
"""A regular expression of the hosts of chat services' own webhooks (Slack's, Discord's, a Teams workflow's, Teams'
older incoming webhook's), whose URL (path or ``sig`` query) is the secret: :func:`sitewatch.config.webhook_value_shown`
masks it even in a URL refused."""


def webhook_format_for(url: str, fmt: str = "auto") -> str:
    """The shape to post to ``url`` in: ``fmt`` itself unless it is ``auto``, which takes it from the URL's host
    (``json``, sitewatch's own event, for any host not a chat service's own)."""
    if fmt != "auto":
        return fmt
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in _SLACK_HOSTS:
        return "slack"
    # Discord's API also answers under a version (``/api/v10/webhooks/…``), as bots and libraries write its URLs.
    if host in _DISCORD_HOSTS and re.match(r"/api(/v\d+)?/webhooks/", parts.path):
        # Discord's own "/slack" endpoint of a webhook takes Slack's shape.
        return "slack" if parts.path.rstrip("/").endswith("/slack") else "discord"
    if host.endswith(_TEAMS_HOST_ENDINGS):
        return "teams"
    return "json"


def _facts(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What a chat message says beside the event's sentence, as (name, value) pairs."""
    facts = [("site", str(event.get("site", ""))), ("date", str(event.get("date", ""))),
             ("image acquired", str(event.get("acquired", "")))]  # fmt: skip
    if event.get("observations"):
        facts.append(("rests on", ", ".join(str(o) for o in event["observations"])))
    if event.get("images"):
        # The archived files, under the workspace: what a colleague opens (the observation id alone needs `show`).
        facts.append(("images", ", ".join(str(i) for i in event["images"])))
    facts.append(("event", str(event.get("event_id", ""))))
    return facts


def event_to_text(event: Mapping[str, Any]) -> str:
    """The event as a few lines of plain text: the rule and its sentence (which says SIMULATED imagery when it is),
    then where it rests."""
    head = f"sitewatch alert [{event.get('rule', '')}]: {event.get('what', '')}"
    return "\n".join([head, *(f"{name}: {value}" for name, value in _facts(event))])


def _slack_escaped(text: str) -> str:
    """Slack's three control characters as its entities (a site named "Piers <east>" is not a link)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _shortened(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    tail = "\n" + text.rsplit("\n", 1)[-1]  # the event id stays: the line that finds it in alerts.jsonl
    return text[: limit - len(tail) - 1] + "…" + tail


def _adaptive_card(event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.2",
        "body": [
            {"type": "TextBlock", "text": f"sitewatch alert [{event.get('rule', '')}]", "weight": "Bolder", "wrap": True},
            {"type": "TextBlock", "text": str(event.get("what", "")), "wrap": True},
            {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in _facts(event)]},
        ],
    }


def event_to_payload(event: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """The JSON document to POST for ``event`` in shape ``fmt`` (not ``auto``: see :func:`webhook_format_for`)."""
    if fmt == "json":
        return dict(event)
    if fmt == "slack":
        return {"text": _slack_escaped(event_to_text(event))}
    if fmt == "mattermost":
        # No @channel, @all, @here or @user ping from a site's name or a rule's id: Mattermost notifies on the bare
        # word, and a webhook has no allowed_mentions; a zero-width space after the @ leaves the text as it reads.
        return {"text": re.sub(r"@(?=[\w.-])", "@\u200b", event_to_text(event))}
    if fmt == "discord":
        # No @everyone or role ping from a site's name or a rule's id.
        return {"content": _shortened(event_to_text(event), DISCORD_CONTENT_MAX), "allowed_mentions": {"parse": []}}
    if fmt == "teams":
        return {"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": _adaptive_card(event)}
        ]}  # fmt: skip
    raise ValueError(f"webhook format must be one of {', '.join(WEBHOOK_FORMATS)}, got {fmt!r}")
