"""``alerts check`` evaluates a window of the recent history (alert_window.py): the same events as the whole history.

A small history of two ports is brought in day by day; after each day two copies of the workspace run
``check_alerts``: one as it comes (from the checkpoint the run before left), one with the checkpoint removed first
(the whole history, as every run did before). What they report, the events file, the ``alert_events`` table and
the summary's count must be byte for byte the same every day, through vessels carried past hidden berths, links
between the ports, an image imported late into the past, a re-run detection, a second image of the last date and a
rule changed; and the window must have been used on most days, or the test would prove nothing.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import LineString, box

from sitewatch import alert_window
from sitewatch.alert_rules import parse_rules
from sitewatch.alert_window import CHECKPOINT_KEY, WindowRun
from sitewatch.alerts import check_alerts
from sitewatch.model import Berth, ClassCandidate, Detection, Grid, Observation, SceneRef, Site
from sitewatch.store import Store
from sitewatch.workspace import init_workspace, open_workspace

PLACES = {"rason": (130.300, 42.233), "dunai": (132.338, 42.880)}
GRID = Grid("EPSG:32652", (10.0, 0.0, 500000.0, 0.0, -10.0, 4750000.0), 100, 100)
START = date(2024, 1, 1)
RULES = [
    {"id": "arr", "kind": "arrival", "sites": ["rason", "dunai"]},
    {"id": "dep", "kind": "departure", "sites": ["rason", "dunai"], "berth": "pier"},
    {"id": "busy", "kind": "vessel_count", "sites": ["dunai"], "above": 1},
    {"id": "crane", "kind": "object", "sites": ["rason"], "object_kind": "crane"},
    {"id": "link", "kind": "link", "sites": ["rason", "dunai"], "feasible_only": False},
]
OTHER_RULES = [*RULES[:2], {"id": "busy", "kind": "vessel_count", "sites": ["dunai"], "above": 0}, *RULES[3:]]


def _site(sid: str) -> Site:
    lon, lat = PLACES[sid]
    pier = Berth("pier", LineString([(lon - 0.001, lat), (lon + 0.001, lat)]))
    return Site(sid, sid.title(), "port", box(lon - 0.02, lat - 0.02, lon + 0.02, lat + 0.02), berths=(pier,))


def _obs(sid: str, day: date, *, hour: int = 9, hidden: bool = False, valid: float = 1.0) -> Observation:
    item = f"{sid}-{day.isoformat()}-{hour:02d}"
    scene = SceneRef("simulator", "sim", item, "sar", datetime(day.year, day.month, day.day, hour, tzinfo=UTC), 10.0,
                     footprint=_site(sid).geometry, simulated=True)  # fmt: skip
    prov = {"berths_hidden": {"pier": 0.9 if hidden else 0.0}}
    return Observation(f"{sid}/{item}", sid, scene, GRID, f"archive/{sid}/{item}.tif", "0" * 64, valid, provenance=prov)


def _dets(o: Observation, ships: list[tuple[int, float, bool]], crane: bool) -> list[Detection]:
    lon, lat = PLACES[o.site_id]
    out = []
    for slot, length, at_pier in ships:
        x = lon + slot * 0.003
        out.append(Detection(f"{o.id}#{slot}", o.id, "vessel", box(x - 0.0005, lat - 0.0001, x + 0.0005, lat + 0.0001), length,
                             15.0, 90.0, 0.9, "test", "1", berth_id="pier" if at_pier else None,
                             class_candidates=(ClassCandidate("Ropucha (Project 775/775M) landing ship", 0.5),)))  # fmt: skip
    if crane:
        out.append(Detection(f"{o.id}#crane", o.id, "crane", box(lon, lat + 0.002, lon + 0.0003, lat + 0.0022), 36.0, 5.0,
                             0.0, 0.9, "test", "1"))  # fmt: skip
    return out


class History:
    """A seeded story: ships calling at both ports (some sailing Rason to Dunai within days), the pier hidden on some
    days (a ship there carried past them), days missed or half covered, cranes at Rason."""

    def __init__(self, days: int, seed: int) -> None:
        rng = random.Random(seed)
        self.days = days
        self.present: dict[tuple[str, int], list[tuple[int, float, bool]]] = {}
        for k in range(6):
            length = rng.choice([60.0, 80.0, 110.0, 140.0])
            day = rng.randint(0, 6)
            while day < days:
                stay = rng.randint(2, 6)
                sid = rng.choice(list(PLACES))
                for d in range(day, min(day + stay, days)):
                    self.present.setdefault((sid, d), []).append((k, length, k % 3 != 0))
                day += stay + rng.randint(1, 8)
        self.hidden = {(sid, d) for sid in PLACES for d in range(days) if rng.random() < 0.12}
        self.missing = {(sid, d) for sid in PLACES for d in range(days) if rng.random() < 0.08}
        self.half = {(sid, d) for sid in PLACES for d in range(days) if rng.random() < 0.05}
        self.crane = {d for d in range(days) if rng.random() < 0.2}

    def day(self, d: int) -> list[tuple[Observation, list[Detection]]]:
        out = []
        for sid in PLACES:
            if (sid, d) in self.missing:
                continue
            o = _obs(sid, START + timedelta(days=d), hidden=(sid, d) in self.hidden, valid=0.3 if (sid, d) in self.half else 1.0)
            ships = [s for s in self.present.get((sid, d), []) if not ((sid, d) in self.hidden and s[2])]
            out.append((o, _dets(o, ships, sid == "rason" and d in self.crane)))
        return out


def _put(store: Store, o: Observation, dets: list[Detection]) -> None:
    store.put_scene(o.scene)
    store.put_observation(o)
    store.replace_detections(o, dets)


def _table(root: Path) -> list[Any]:
    with open_workspace(root).store() as store:
        rows = store.execute("SELECT event_key, rule_id, kind, site_id, event_date, acquired, summary, observation_ids, "
                             "simulated, event, webhook_pending FROM alert_events ORDER BY fid")  # fmt: skip
        return [tuple(r) for r in rows]


@pytest.fixture(params=["geopackage", "postgis"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Two workspaces with the two ports: GeoPackages, or each a database of the PostGIS test server."""
    urls: list[str | None] = [None, None]
    names: list[str] = []
    server = None
    if request.param == "postgis":
        from _postgis import admin, with_database
        from sitewatch.store.postgis import PostgisStore

        server = request.getfixturevalue("postgres_server")
        urls = []
        for _ in range(2):
            name = f"sitewatch_test_{uuid.uuid4().hex[:10]}"
            names.append(name)
            admin(server.url, f"CREATE DATABASE {name} TEMPLATE {server.template}")
            urls.append(with_database(server.url, name))
            PostgisStore(urls[-1], create=True).close()
    roots = []
    try:
        for name, url in zip(("window", "whole"), urls, strict=True):
            w = init_workspace(tmp_path / name, url)
            with w.store() as store:
                for sid in PLACES:
                    store.put_site(_site(sid))
            roots.append(w.root)
        yield roots[0], roots[1]
    finally:
        for name in names:
            admin(server.url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _check(root: Path, raw: list[dict[str, Any]], *, whole: bool) -> tuple[Any, ...]:
    with open_workspace(root).store() as store:
        if whole:
            store.set_meta(CHECKPOINT_KEY, None)
        rules, errors = parse_rules({"rules": raw}, store.sites())
        assert not errors
        res = check_alerts(store, rules, out=root / "alerts.jsonl")
    return res.events, sorted(res.new), res.evaluated, res.retold


@pytest.mark.slow
def test_window_and_whole_history_report_the_same_events_day_by_day(pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    window_root, whole_root = pair
    runs: list[WindowRun] = []
    real = alert_window.evaluate_window

    def recording(*args: Any, **kwargs: Any) -> WindowRun:
        runs.append(real(*args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(alert_window, "evaluate_window", recording)
    story = History(75, seed=3)
    late = (("dunai", 41), ("rason", 44))  # imported days after their date
    for sid, d in late:
        story.missing.add((sid, d))
    rules = RULES
    windowed = 0
    for d in range(story.days):
        batch = story.day(d)
        if d == 52:  # the late images of day 41 and 44, eight and more days late: into the past
            story.missing -= set(late)
            batch += [(o, ds) for o, ds in story.day(41) + story.day(44) if (o.site_id, (o.scene.acquired.date() - START).days) in late]
        if d == 58:  # `detect --force` on an old image: its detections replaced (the same ones, new rows)
            batch += [(o, ds) for o, ds in story.day(20) if o.site_id == "dunai"]
        if d == 63:
            rules = OTHER_RULES
        for root in (window_root, whole_root):
            with open_workspace(root).store() as store:
                for o, ds in batch:
                    _put(store, o, ds)
        if d == 66:  # a second image of the last date, after the check of the first
            for root in (window_root, whole_root):
                with open_workspace(root).store() as store:
                    o = _obs("dunai", START + timedelta(days=65), hour=21)
                    _put(store, o, _dets(o, [(9, 90.0, True)], False))
        got = _check(window_root, rules, whole=False)
        got_full = runs[-1].full
        want = _check(whole_root, rules, whole=True)
        assert runs[-1].full
        assert got == want, f"day {d}"
        windowed += not got_full
        if d in (52, 58, 63):  # stale: the whole history
            assert got_full, f"day {d}: a window over changed history"
    a, b = (r / "alerts.jsonl" for r in (window_root, whole_root))
    assert a.read_bytes() == b.read_bytes() and a.read_bytes().count(b"\n") > 40
    assert _table(window_root) == _table(whole_root)
    assert windowed >= 45, windowed
    # A rerun reports nothing again.
    again = _check(window_root, rules, whole=False)
    assert again[1] == [] and not runs[-1].full


def test_a_window_reads_the_recent_observations_only(pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = pair
    story = History(80, seed=5)
    story.hidden.clear()
    with open_workspace(root).store() as store:
        for d in range(80):
            for o, ds in story.day(d):
                _put(store, o, ds)
    _check(root, RULES, whole=False)
    reads: list[int] = []
    real = Store.observations

    def counting(self: Store, *args: Any, **kwargs: Any) -> list[Any]:
        out = real(self, *args, **kwargs)
        reads.append(len(out))
        return out

    monkeypatch.setattr(Store, "observations", counting)
    with open_workspace(root).store() as store:
        o = _obs("dunai", START + timedelta(days=80))
        _put(store, o, [])
        rules, _ = parse_rules({"rules": RULES}, store.sites())
        run = alert_window.evaluate_window(store, rules)
    assert not run.full and len(reads) == 2 and max(reads) < 40, (run.why_full, reads)
    assert json.loads(run.checkpoint or "{}")["sites"]["dunai"]["start"] is not None


def test_a_rule_on_a_site_without_images_yet_keeps_the_window_until_its_first(pair: tuple[Path, Path]) -> None:
    # A site named by a rule before its images came has no usable date: it is read whole (nothing), the others
    # keep their window; its first image changes its digest and the run evaluates whole.
    root, _ = pair
    PLACES["vostok"] = (132.700, 42.890)
    try:
        story = History(40, seed=7)
        raw = [*RULES, {"id": "new-port", "kind": "arrival", "sites": ["vostok"]}]
        with open_workspace(root).store() as store:
            store.put_site(_site("vostok"))
            for d in range(40):
                for o, ds in story.day(d):
                    if o.site_id != "vostok":
                        _put(store, o, ds)
        _check(root, raw, whole=False)
        with open_workspace(root).store() as store:
            rules, _ = parse_rules({"rules": raw}, store.sites())
            run = alert_window.evaluate_window(store, rules)
            assert not run.full and run.starts["vostok"] is None and run.starts["dunai"] is not None, run.why_full
            o = _obs("vostok", START + timedelta(days=3))
            _put(store, o, [])
            run = alert_window.evaluate_window(store, rules)
            assert run.full and "vostok" in run.why_full, run.why_full
    finally:
        del PLACES["vostok"]


def test_events_deleted_by_hand_below_the_window_are_reported_again_as_a_whole_evaluation_does(pair: tuple[Path, Path]) -> None:
    """Rows deleted from alert_events (sqlite3, psql) of events older than the window were never reported again
    (only --all found them), though a whole evaluation, at the next upgrade or rules edit, reported them as new: the
    window and the whole history disagreed. A run that finds rows gone evaluates whole."""
    root, _ = pair
    story = History(60, seed=5)
    story.hidden.clear()
    with open_workspace(root).store() as store:
        for d in range(60):
            for o, ds in story.day(d):
                _put(store, o, ds)
    first = _check(root, RULES, whole=False)
    assert first[1], "the story has events"
    with open_workspace(root).store() as store:
        rules, _ = parse_rules({"rules": RULES}, store.sites())
        starts = alert_window.evaluate_window(store, rules).starts
        assert any(starts.values()), "a window to be below"
        rows = store.execute("SELECT event_key, site_id, event_date FROM alert_events ORDER BY event_date")
        old = [r[0] for r in rows if (s := starts.get(r[1])) is not None and str(r[2]) <= s.isoformat()]
        assert old, "events below the window"
        with store.transaction() as db:  # by hand
            db.execute("DELETE FROM alert_events WHERE event_key = ?", (old[0],))
    again = _check(root, RULES, whole=False)
    assert again[1] == [old[0]], again[1]
    assert _check(root, RULES, whole=False)[1] == []  # and once only
