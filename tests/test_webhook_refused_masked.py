"""A refused webhook URL (no scheme, a typo in it, a bad port) was shown with its path in the error: for Slack's,
Discord's and a Teams workflow's webhooks the path (or the ``sig`` query) IS the secret, which the same URL accepted
is never shown with (``webhook_shown``). Another host's refused URL is still named as given, but for a password or
bare user name."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sitewatch.alerts import check_webhook_url
from sitewatch.cli import main
from sitewatch.config import load_settings, webhook_value_shown
from sitewatch.errors import ConfigError, InputError
from sitewatch.workspace import init_workspace

REFUSED = [
    ("hooks.slack.com/services/T0/B0/tok3n", "hooks.slack.com/services/***"),
    ("htps://hooks.slack.com/services/T0/B0/tok3n", "htps://hooks.slack.com/services/***"),
    (" ftp://HOOKS.SLACK.COM/services/T0/B0/tok3n/", " ftp://HOOKS.SLACK.COM/services/***"),
    ("https://hooks.slack.com:x/services/T0/B0/tok3n", "https://hooks.slack.com:x/services/***"),
    ("discord.com/api/webhooks/123/tok3n", "discord.com/api/***"),
    ("https://tok3n@/api/webhooks/1/2", "https://***@/api/webhooks/1/2"),  # no host: a user name masked, as before
    ("prod-01.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=tok3n",
     "prod-01.westus.logic.azure.com/workflows/***?***"),
    ("https://discord.com:bad/tok3n", "https://discord.com:bad/***"),
    # Teams' older incoming webhooks (Office 365 connectors), shown whole when refused: the token is in the path.
    ("contoso.webhook.office.com/webhookb2/9f0e@72f9/IncomingWebhook/tok3n/5a1c",
     "contoso.webhook.office.com/webhookb2/***"),
    ("htps://contoso.webhook.office.com/webhookb2/9f0e@72f9/IncomingWebhook/tok3n/5a1c",
     "htps://contoso.webhook.office.com/webhookb2/***"),
    ("https://Contoso.Webhook.Office.com:x/webhookb2/9f0e@72f9/IncomingWebhook/tok3n/5a1c",
     "https://Contoso.Webhook.Office.com:x/webhookb2/***"),
    ("outlook.office.com/webhook/9f0e@72f9/IncomingWebhook/tok3n/5a1c", "outlook.office.com/webhook/***"),
    ("htps://prod-01.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=tok3n",
     "htps://prod-01.westus.logic.azure.com/workflows/***?***"),
    # The // forgotten, the URL pasted with its key, a Windows user's backslashes (and urllib's words on its port):
    ("https:hooks.slack.com/services/T0/B0/tok3n", "https:hooks.slack.com/services/***"),
    ("webhook=hooks.slack.com/services/T0/B0/tok3n", "webhook=hooks.slack.com/services/***"),
    ("https:\\\\hooks.slack.com\\services\\T0\\B0\\tok3n", "https:\\\\hooks.slack.com/services/***"),
    ("https://hooks.slack.com:x\\services\\T0\\B0\\tok3n", "https://hooks.slack.com:x/services/***"),
]


@pytest.mark.parametrize("url, shown", REFUSED)
def test_a_chat_webhook_refused_is_shown_without_its_secret(url: str, shown: str) -> None:
    assert webhook_value_shown(url) == shown
    with pytest.raises(InputError) as caught:
        check_webhook_url(url)
    assert "tok3n" not in str(caught.value) and f"webhook {shown!r}" in str(caught.value)
    with pytest.raises(ConfigError) as refused:
        load_settings(None, env={"SITEWATCH_ALERTS_WEBHOOK": url})
    assert "tok3n" not in str(refused.value) and repr(shown.strip()) in str(refused.value)


def test_another_host_s_refused_url_is_named_as_given() -> None:
    # What is wrong with it is seen: the path of a host that is not a chat service's is not its secret.
    for url in ("htps://hooks.example.org/alerts/team", "hooks.slack.com.example.org/services/a/b", "https://evilhooks.slack.com:x/a/b",
                "htps://webhook.office.com.example.org/a/b", "htps://notwebhook.office.com/a/b"):
        assert webhook_value_shown(url) == url
    assert webhook_value_shown("htps://bot:pw@hooks.example.org/a/b") == "htps://bot:***@hooks.example.org/a/b"


def test_alerts_check_names_a_refused_slack_webhook_without_its_token(tmp_path: Path) -> None:
    root = init_workspace(tmp_path / "ws").root
    (root / "alerts.yaml").write_text("rules: []\n", encoding="utf-8")
    for args, env in ((["--webhook", "hooks.slack.com/services/T0/B0/tok3n"], {}),
                      ([], {"SITEWATCH_ALERTS_WEBHOOK": "hooks.slack.com/services/T0/B0/tok3n"})):  # fmt: skip
        res = CliRunner(env=env).invoke(main, ["alerts", "check", "-w", str(root), *args])
        assert res.exit_code != 0 and "tok3n" not in res.output and "hooks.slack.com/services/***" in res.output, res.output
