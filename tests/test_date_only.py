"""Acquisitions known only by their date: dated as given.

An EO Browser export named by its date, a Landsat MTL without SCENE_CENTER_TIME or ``--acquired
2024-10-17`` is stored at 12:00 UTC of that date; its provenance's ``acquired_from`` says the time
is assumed. The timeline keeps the date whatever --utc-offset.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import pytest

from _report_world import build
from sitewatch.analysis import TimelineParams, build_timeline, load_timeline
from sitewatch.analysis.occupancy import observation_date
from sitewatch.model import DATE_ONLY_HOUR, DATE_ONLY_NOTE, NoonOfDate, Observation, acquired_given
from sitewatch.report.exports import timeline_to_csv, timeline_to_json
from sitewatch.workspace import Workspace
from test_occupancy import obs, vessel

DATE_ONLY = f"file name, date only ({DATE_ONLY_NOTE})"
"""``acquired_from`` of an EO Browser export named by its date, as ingest records it."""


def _date_only(o: Observation, said: str = DATE_ONLY) -> Observation:
    """``o`` known by its date alone: 12:00 UTC of its date, and a provenance that says the time is assumed."""
    scene = dataclasses.replace(o.scene, acquired=o.scene.acquired.replace(hour=DATE_ONLY_HOUR))
    return dataclasses.replace(o, scene=scene, provenance={**o.provenance, "acquired_from": said})


def _mark_date_only(ws: Workspace) -> str:
    """Mark the optical look of 17 October in a ``_report_world`` workspace as known by its date alone."""
    with ws.store() as st:
        o = next(o for o in st.observations("dunai") if o.id.endswith("2024-10-17-optical"))
        st.put_observation(_date_only(o))  # the same COG: its detections stay
    return o.id


@pytest.mark.parametrize(("said", "date_only"), [
    (DATE_ONLY, True),
    (f"LC09_L2SP_MTL.txt DATE_ACQUIRED ({DATE_ONLY_NOTE})", True),
    (acquired_given(NoonOfDate.of(date(2024, 10, 17))), True),
    ("file name", False),
    ("--acquired", False),
    ("LC09_L2SP_MTL.txt DATE_ACQUIRED + SCENE_CENTER_TIME", False),
])  # fmt: skip
def test_an_observation_says_whether_only_its_date_is_known(said: str, date_only: bool) -> None:
    assert _date_only(obs("2024-10-17"), said).acquired_date_only is date_only
    assert obs("2024-10-17").acquired_date_only is False  # no acquired_from at all: a simulated scene's time


# -- the timeline's date ------------------------------------------------------------------------


@pytest.mark.parametrize("hours", [-12, 0, 13, 14])
def test_a_date_only_acquisition_counts_for_its_date_at_every_utc_offset(hours: int) -> None:
    given = _date_only(obs("2024-10-17"))
    params = TimelineParams(utc_offset_hours=hours)
    assert observation_date(given, hours) == date(2024, 10, 17)
    tl = build_timeline("dunai", [given], [vessel(given, 0)], params)
    assert [(r.date, r.vessels) for r in tl.rows] == [(date(2024, 10, 17), 1)]
    # --from/--to and the skipped list take the same date.
    window = dataclasses.replace(params, start=date(2024, 10, 17), end=date(2024, 10, 17))
    assert len(build_timeline("dunai", [given], [], window).rows) == 1
    cloudy = _date_only(obs("2024-10-17", "optical", cloud=0.9))
    assert [s.date for s in build_timeline("dunai", [cloudy], [], params).skipped] == [date(2024, 10, 17)]


@pytest.mark.parametrize(("hour", "hours", "day"), [
    (12, -12, 17), (11, -12, 16), (12, 0, 17), (12, 13, 18), (12, 14, 18), (9, 14, 17), (10, 14, 18),
])  # fmt: skip
def test_a_timed_acquisition_is_dated_at_the_offset_as_before(hour: int, hours: int, day: int) -> None:
    timed = obs("2024-10-17", hour=hour)  # 12:00 here is the time of the image, not an assumed one
    tl = build_timeline("dunai", [timed], [], TimelineParams(utc_offset_hours=hours))
    assert [r.date for r in tl.rows] == [date(2024, 10, day)]


def test_a_date_only_look_and_a_timed_one_of_that_date_are_one_date_at_utc_plus_13() -> None:
    # SAR at 09:00 UTC on the 17th is 22:00 on the 17th at UTC+13; the optical export named 2024-10-17 is that date too.
    sar, optical = obs("2024-10-17", hour=9), _date_only(obs("2024-10-17", "optical", cloud=0.0, res=3.0))
    tl = build_timeline("dunai", [sar, optical], [vessel(sar, 0), vessel(optical, 0)], TimelineParams(utc_offset_hours=13))
    assert [(r.date, r.sensors, r.vessels) for r in tl.rows] == [(date(2024, 10, 17), ("optical", "sar"), 1)]


def test_the_report_s_imagery_lines_date_a_date_only_scene_as_the_timeline_does() -> None:
    from sitewatch.report.html import _imagery_lines

    scenes = [_date_only(obs("2024-10-16", "optical")), _date_only(obs("2024-10-19", "optical"))]
    assert "2024-10-16 to 2024-10-19" in _imagery_lines(scenes, utc_offset_hours=14)[0][0]


def test_eval_s_presence_days_date_a_date_only_look_as_the_timeline_does(tmp_path: Path) -> None:
    from sitewatch.evaluate import evaluate_workspace

    ws = build(tmp_path / "ws")
    _mark_date_only(ws)
    # At UTC+13 the SAR pass (21:00 UTC on the 17th) is on the 18th; the optical look known by its date is on the 17th.
    pc = evaluate_workspace(ws, record=False, timeline_params=TimelineParams(utc_offset_hours=13)).presence["dunai"]
    assert (pc.truth_days, pc.detected_days, pc.agreeing_days, pc.missed, pc.extra) == (2, 2, 2, (), ())
    with ws.store() as st:
        tl = load_timeline(st, "dunai", TimelineParams(utc_offset_hours=13))
    assert [r.date.isoformat() for r in tl.rows if r.present] == ["2024-10-17", "2024-10-18"]
    # The timeline files carry dates, not times: the date given is the date they write.
    assert [r["date"] for r in json.loads(timeline_to_json(tl))["rows"]][:2] == ["2024-10-17", "2024-10-18"]
    assert timeline_to_csv(tl).splitlines()[1].startswith("dunai,2024-10-17,UTC+13,")
