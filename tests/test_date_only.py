"""Acquisitions known only by their date: flagged in every machine-readable output, dated as given.

An EO Browser export named by its date, a Landsat MTL without SCENE_CENTER_TIME or ``--acquired
2024-10-17`` is stored at 12:00 UTC of that date; its provenance's ``acquired_from`` says the time
is assumed. Programs read ``acquired_date_only``; the timeline keeps the date whatever --utc-offset.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from _old_store import copy_rows, old_database
from _report_world import build
from sitewatch.analysis import TimelineParams, build_timeline, load_timeline
from sitewatch.analysis.occupancy import observation_date
from sitewatch.cli import main
from sitewatch.model import DATE_ONLY_HOUR, DATE_ONLY_NOTE, NoonOfDate, Observation, acquired_given
from sitewatch.report.exports import detections_to_geojson, timeline_to_csv, timeline_to_json
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
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


# -- machine-readable outputs -------------------------------------------------------------------


def test_observations_json_show_json_and_the_detections_geojson_say_the_time_is_assumed(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws", simulated=False)
    oid = _mark_date_only(ws)
    res = CliRunner().invoke(main, ["observations", "dunai", "-w", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["id"]: r for r in json.loads(res.stdout)}
    assert (rows[oid]["acquired"], rows[oid]["acquired_date_only"]) == ("2024-10-17T12:00:00Z", True)
    assert [r["acquired_date_only"] for i, r in rows.items() if i != oid] == [False, False, False]
    for observation_id, date_only in ((oid, True), ("dunai:sim-dunai-2024-10-17-sar", False)):
        res = CliRunner().invoke(main, ["show", observation_id, "-w", str(ws.root), "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["acquired_date_only"] is date_only
    with ws.store() as st:
        features = detections_to_geojson(st)["features"]
    by_obs = {(f["properties"]["observation_id"], f["properties"]["acquired_date_only"]) for f in features}
    assert by_obs == {(oid, True), ("dunai:sim-dunai-2024-10-17-sar", False)}


def test_eval_json_s_observation_rows_say_the_time_is_assumed_beside_acquired(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    oid = _mark_date_only(ws)
    res = CliRunner().invoke(main, ["eval", "-w", str(ws.root), "--no-record", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["observation_id"]: r for r in json.loads(res.stdout)["observations"]}
    assert (rows[oid]["acquired"], rows[oid]["acquired_date_only"]) == ("2024-10-17T12:00:00Z", True)
    assert [r["acquired_date_only"] for i, r in rows.items() if i != oid] == [False, False, False]
    keys = list(rows[oid])
    assert keys[keys.index("acquired") + 1] == "acquired_date_only"


def test_show_s_table_gives_the_date_with_time_unknown(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws", simulated=False)
    oid = _mark_date_only(ws)
    res = CliRunner().invoke(main, ["show", oid, "-w", str(ws.root)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    (line,) = [ln for ln in res.output.splitlines() if "│ acquired " in ln]
    assert "2024-10-17, time unknown" in line and "12:00" not in line
    timed = CliRunner().invoke(main, ["show", "dunai:sim-dunai-2024-10-17-sar", "-w", str(ws.root)], env={"COLUMNS": "200"})
    assert "2024-10-17T21:00:00Z" in timed.output and "time unknown" not in timed.output


@pytest.mark.parametrize(("given", "date_only"), [("2016-10-18", True), ("2016-10-18T12:00:00Z", False)])
def test_import_json_says_whether_the_time_was_given(tmp_path: Path, given: str, date_only: bool) -> None:
    site = tiny_site()
    ws = workspace_with_sites(tmp_path / "ws", site)
    crs, x0, y0 = site_utm_origin(site)
    data = np.random.default_rng(2).gamma(4.0, 0.01, (1, 60, 60)).astype(np.float32)
    chip = write_tiff(tmp_path / "chip.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0))
    args = ["import", str(chip), "--site", site.id, "--sensor", "sar", "--acquired", given, "-w", str(ws.root)]
    res = CliRunner().invoke(main, [*args, "--json"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["imported"]
    assert (row["acquired"], row["acquired_date_only"]) == ("2016-10-18T12:00:00Z", date_only)
    text = CliRunner().invoke(main, args).output  # the same file again: its observation replaced
    assert ("2016-10-18, time unknown" in text) is date_only and ("2016-10-18T12:00:00Z" in text) is not date_only


# -- the GeoPackage -----------------------------------------------------------------------------


def _flags(path: Path, table: str) -> dict[str, int | None]:
    db = sqlite3.connect(path)
    try:
        key = "detection_id" if table == "detections" else "observation_id"
        return dict(db.execute(f"SELECT {key}, acquired_date_only FROM {table}").fetchall())
    finally:
        db.close()


def test_the_observations_and_detections_layers_carry_the_flag_beside_acquired(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    oid = _mark_date_only(ws)
    gpkg = ws.root / "sitewatch.gpkg"
    assert {k: v for k, v in _flags(gpkg, "observations").items() if v} == {oid: 1}
    detections = _flags(gpkg, "detections")
    assert {k.split("#")[0] for k, v in detections.items() if v} == {oid} and 0 in detections.values()
    with ws.store() as st:  # the same COG given a time later: its detections follow
        o = st.get_observation(oid)
        st.put_observation(dataclasses.replace(o, provenance={**o.provenance, "acquired_from": "--acquired"}))
    assert not any(_flags(gpkg, "detections").values()) and not any(_flags(gpkg, "observations").values())
    pyogrio = pytest.importorskip("pyogrio")
    for layer in ("observations", "detections"):
        meta = pyogrio.read_info(gpkg, layer=layer)
        assert dict(zip(meta["fields"], meta["dtypes"], strict=True))["acquired_date_only"] == "bool"


def test_a_workspace_of_schema_7_gets_the_flag_from_its_observations_provenance(tmp_path: Path) -> None:
    from sitewatch.store import Store
    from sitewatch.store.schema import SCHEMA_VERSION

    ws = build(tmp_path / "ws")
    oid = _mark_date_only(ws)
    new = ws.root / "sitewatch.gpkg"
    old = tmp_path / "old.gpkg"
    db = old_database(old, 7)
    copy_rows(db, new, ("sites", "berths", "site_water", "scenes", "observations", "detections"))
    db.commit()
    db.close()
    with Store(old) as st:
        assert st.schema_version() == SCHEMA_VERSION
        assert [o.id for o in st.observations("dunai") if o.acquired_date_only] == [oid]
    assert _flags(old, "observations") == _flags(new, "observations")
    assert _flags(old, "detections") == _flags(new, "detections")
    assert set(_flags(old, "observations").values()) == {0, 1}


def test_a_provenance_not_json_does_not_stop_the_migration(tmp_path: Path) -> None:
    from sitewatch.store import Store

    ws = build(tmp_path / "ws")
    old = tmp_path / "old.gpkg"
    db = old_database(old, 7)
    copy_rows(db, ws.root / "sitewatch.gpkg", ("observations",))
    db.execute("UPDATE observations SET provenance = 'edited by hand'")  # json_extract would fail on it
    db.commit()
    db.close()
    with Store(old) as st:
        assert st.schema_version() >= 8
    assert set(_flags(old, "observations").values()) == {0}
