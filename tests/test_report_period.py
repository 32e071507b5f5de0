"""`sitewatch report --from/--to`: a report of one period of a long archive.

The report world (:mod:`_report_world`) holds 17 and 20 Oct 2024, SAR and optical, the ship at the berth on
the 17th only; these tests add a SAR look on 16 Oct that sees the same ship, so that a period from the 17th
begins with a vessel already there the usable date before.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from _report_world import build
from sitewatch.cli import main
from sitewatch.workspace import Workspace

EARLY = "dunai:sim-dunai-2024-10-16-sar"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    w = build(tmp_path_factory.mktemp("period") / "ws")
    with w.store() as st:
        o = st.get_observation("dunai:sim-dunai-2024-10-17-sar")
        scene = dataclasses.replace(o.scene, item_id="sim-dunai-2024-10-16-sar", acquired=datetime(2024, 10, 16, 21, tzinfo=UTC))
        early = dataclasses.replace(o, id=EARLY, scene=scene)
        st.put_observation(early)
        st.replace_detections(early, [dataclasses.replace(d, id=d.id.replace(o.id, EARLY), observation_id=EARLY)
                                      for d in st.detections(observation_id=o.id)])  # fmt: skip
    return w


def _report(ws: Workspace, out: Path, *args: str) -> str:
    res = CliRunner().invoke(main, ["report", "dunai", "-w", str(ws.root), "--out", str(out), *args])
    assert res.exit_code == 0, res.output
    return out.read_text(encoding="utf-8")


def _timeline(ws: Workspace, *args: str) -> dict:  # type: ignore[type-arg]
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--json", "-", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _timeline_rows(html: str) -> list[tuple[str, str, str]]:
    """(date, arrivals, departures) of each row of the report's timeline table."""
    out = []
    for row in re.findall(r'<tr[^>]*><td class="date">(.*?)</tr>', html, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", "<td>" + row, re.S)
        out.append((re.sub(r"<[^>]+>", "", cells[0]), cells[7].split(" ")[0], cells[8].split(" ")[0]))
    return out


def test_a_period_report_counts_its_dates_alone_and_its_edges_as_the_timeline_does(ws: Workspace, tmp_path: Path) -> None:
    """The report had no --from/--to: a report about one autumn of five years wrote every date (2.3 MB, 16.8 s at
    1,800 days). Its figures are now the period's, with the edge as `timeline --from` has it: the ship seen on the
    16th (the usable date before the period) and on the 17th is no arrival on the 17th, and its absence on the 20th
    is a departure."""
    html = _report(ws, tmp_path / "p.html", "--from", "2024-10-17", "--to", "2024-10-20")
    assert "<h1>sitewatch report, 2024-10-17 to 2024-10-20 (UTC dates)</h1>" in html
    assert "<title>sitewatch report, 2024-10-17 to 2024-10-20 (UTC dates) (simulated imagery)</title>" in html
    assert "Period covered: 2024-10-17 to 2024-10-20 (UTC dates). Timeline parameters:" in html  # the provenance
    params = json.loads(re.search(r"Timeline parameters: <code>(.*?)</code>", html).group(1).replace("&#34;", '"'))  # type: ignore[union-attr]
    assert (params["start"], params["end"]) == ("2024-10-17", "2024-10-20")
    assert _timeline_rows(html) == [("2024-10-17", "0", "0"), ("2024-10-20", "0", "1")]
    tl = _timeline(ws, "--from", "2024-10-17", "--to", "2024-10-20")
    assert [(r["date"], str(r["arrivals"]), str(r["departures"])) for r in tl["rows"]] == _timeline_rows(html)
    name, rest = tl["summary"][0].split(": ", 1)  # the findings: 1 presence day, the period's; the name set apart
    assert f"<bdi>{name}</bdi>: {rest}" in html
    assert "1 presence day" in tl["summary"][0]
    # Nothing of the 16th: no chip, no detection row, no link to its image, not in the imagery lines.
    assert EARLY not in html and "sim-dunai-2024-10-16" not in html
    assert "sar · sim (SIMULATED) · 10 m: 2 scene(s), 2024-10-17 to 2024-10-20" in html  # two scenes of the period, not three
    # The whole archive: the 16th is its first date (no arrival: nothing came before), the ship stays on the 17th.
    whole = _report(ws, tmp_path / "w.html")
    assert _timeline_rows(whole) == [("2024-10-16", "0", "0"), ("2024-10-17", "0", "0"), ("2024-10-20", "0", "1")]
    assert EARLY in whole and "Period covered" not in whole and "<h1>sitewatch report</h1>" in whole
    assert html.count("data:image/png") < whole.count("data:image/png")


def test_a_period_after_the_ship_left_shows_no_detection(ws: Workspace, tmp_path: Path) -> None:
    """--from 20241020 (any form `timeline` reads): the departure is counted on the 20th, and no chip or
    detection of the 16th or 17th is written."""
    html = _report(ws, tmp_path / "p.html", "--from", "20241020")
    assert "<h1>sitewatch report, from 2024-10-20 (UTC dates)</h1>" in html
    assert _timeline_rows(html) == [("2024-10-20", "0", "1")]
    assert "2024-10-17-sar#0" not in html and "2024-10-17-optical" not in html
    html = _report(ws, tmp_path / "t.html", "--to", "2024-10-16")
    assert "<h1>sitewatch report, to 2024-10-16 (UTC dates)</h1>" in html
    assert _timeline_rows(html) == [("2024-10-16", "0", "0")]
    assert "dunai:sim-dunai-2024-10-17" not in html and "dunai:sim-dunai-2024-10-20" not in html  # (the 16th's look reuses the 17th's file)


def test_a_period_without_images_says_so_rather_than_asking_for_imagery(ws: Workspace, tmp_path: Path) -> None:
    html = _report(ws, tmp_path / "p.html", "--from", "2025-01-01")
    assert "No usable observations in the period covered (from 2025-01-01 (UTC dates)): no image of the site falls in it." in html
    assert "bring imagery of the site in" not in html and "dunai:sim-dunai" not in html


def test_local_dates_cut_the_period_as_the_timeline_does(ws: Workspace, tmp_path: Path) -> None:
    """With --utc-offset the period's dates are local, as the timeline's: the SAR looks at 21:00 UTC fall on the next
    local day at UTC+10, so --to 2024-10-17 keeps the 16th's look (the 17th, local) and the 17th's optical one."""
    html = _report(ws, tmp_path / "p.html", "--to", "2024-10-17", "--utc-offset", "10")
    assert "<h1>sitewatch report, to 2024-10-17 (local dates at UTC+10)</h1>" in html
    assert [r[0] for r in _timeline_rows(html)] == [r["date"] for r in _timeline(ws, "--to", "2024-10-17", "--utc-offset", "10")["rows"]]
    assert EARLY in html and "dunai:sim-dunai-2024-10-17-optical" in html and "dunai:sim-dunai-2024-10-17-sar" not in html


def test_a_report_of_every_date_differs_from_the_default_only_where_it_names_its_period(ws: Workspace, tmp_path: Path) -> None:
    """The default report (no dates) is the report it was; a period that holds every date gives the same figures,
    images and tables: only the lines naming the period differ."""
    whole = _report(ws, tmp_path / "w.html")
    every = _report(ws, tmp_path / "e.html", "--from", "2024-10-01", "--to", "2024-10-31")

    def strip(html: str) -> str:
        html = re.sub(r"Generated [^·]*·", "", html)
        html = html.replace(", 2024-10-01 to 2024-10-31 (UTC dates)", "").replace(" Period covered: 2024-10-01 to 2024-10-31 (UTC dates).", "")
        html = re.sub(r'<p class="period">.*?</p>\n', "", html, flags=re.S)
        return html.replace('"start": "2024-10-01", "end": "2024-10-31"', '"start": null, "end": null').replace(
            "&#34;start&#34;: &#34;2024-10-01&#34;, &#34;end&#34;: &#34;2024-10-31&#34;", "&#34;start&#34;: null, &#34;end&#34;: null")

    assert strip(every) == strip(whole)


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2024/10/01"], "Invalid value for '--from': '2024/10/01' is not an ISO 8601 date or time"),
    (["--to", "2024-W40"], "Invalid value for '--to': '2024-W40' is a week, not a day"),
    (["--from", "20241020", "--to", "2024-10-17"], "Invalid value for '--to': '2024-10-17' is before --from '20241020'"),
    (["--from", "2024-10-17T09:30Z"], "'2024-10-17T09:30Z' is a time; the timeline keeps whole dates"),
])  # fmt: skip
def test_bad_dates_are_refused_as_timeline_refuses_them(ws: Workspace, tmp_path: Path, args: list[str], message: str) -> None:
    """The same forms and messages as `timeline` (exit 2), and no file written."""
    out = tmp_path / "r.html"
    for cmd in (["report", "--out", str(out)], ["timeline"]):
        res = CliRunner().invoke(main, [cmd[0], "dunai", "-w", str(ws.root), *cmd[1:], *args])
        assert res.exit_code == 2 and message in res.stderr, (cmd, res.output)
    assert not out.exists()
