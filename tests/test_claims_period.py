"""Claims checked from the dates their verdict needs: the same verdicts as from the whole history, from fewer rows.

``claims check`` (and ``report --claims``) read every claimed site's whole history, years of a team store's rows
for a claim of a month; now a claim of a vessel or object on dates, or of presence days, reads its site's timeline
of those dates (the dates, and the weeks before the first that settle it), as ``timeline --from/--to`` does; a
transit the moves of its two sites about its dates, as ``links --from/--to`` does; a change the stored pairs about
its dates (:mod:`sitewatch.evidence_reads`).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from sitewatch.analysis import TimelineParams
from sitewatch.claims_file import check_against_sites, read_claims
from sitewatch.evidence import (
    ClaimsCheck,
    check_claims,
    check_claims_file,
    claims_to_dict,
    load_world,
)
from sitewatch.model import Change
from sitewatch.store import Store
from sitewatch.store.changes import replace_changes
from sitewatch.workspace import init_workspace, open_workspace
from test_alert_window import PLACES, START, History, _obs, _put, _site

DAYS = 240


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight months of two ports (a GeoPackage): ships calling, some sailing Rason to Dunai, the pier hidden on
    some days (a ship there carried past them), days missed or half covered, cranes at Rason (on a 3 m image every
    third day); change pairs stored (:func:`_store_pairs`)."""
    root = init_workspace(tmp_path_factory.mktemp("claims-period") / "ws").root
    story = History(DAYS, seed=5)
    with open_workspace(root).store() as store:
        for sid in PLACES:
            store.put_site(_site(sid))
        for d in range(DAYS):
            for o, dets in story.day(d):
                if o.site_id == "rason" and d % 3 == 0:  # a 3 m image every third day: cranes show on it
                    o = replace(o, scene=replace(o.scene, resolution_m=3.0))
                _put(store, o, dets)
        _store_pairs(store, seed=5)
    return root


def _store_pairs(store: Store, seed: int) -> None:
    """Change pairs as ``sitewatch change`` stores them: each series (Rason's 10 m and 3 m images) chained image to
    image, at Dunai only from day 40 to day 200 (dates before and after no pair brackets), and a 10 m pair over eight
    images now and then (the chain crossed: no cut there); a third of them with a region or two, at a few places
    (so regions of both series join into one change on the ground), some pairs comparing little or nothing."""
    rng = random.Random(seed)
    for sid in PLACES:
        series: dict[float, list[Any]] = {}
        for o in store.observations(sid):
            series.setdefault(o.scene.resolution_m, []).append(o)
        pairs = [(b, a) for chain in series.values() for b, a in zip(chain, chain[1:], strict=False)]
        if sid == "dunai":
            pairs = [(b, a) for b, a in pairs if 40 <= (b.scene.acquired.date() - START).days < 200]
        tens = series[10.0]
        pairs += [(tens[i], tens[i + 8]) for i in range(0, len(tens) - 8, 17)]
        for b, a in pairs:
            regions = []
            if rng.random() < 0.3:
                lon, lat = PLACES[sid]
                for k in range(rng.randint(1, 2)):
                    x, y = lon + rng.choice([-0.01, 0.0, 0.01]), lat + rng.choice([0.0, 0.005])
                    regions.append(Change(f"{b.id}>{a.id}#{k}", sid, b.id, a.id, box(x, y, x + 0.002, y + 0.002),
                                          rng.choice([500.0, 5000.0]), 0.5, rng.choice(["appeared", "disappeared"]), "test", "1"))  # fmt: skip
            replace_changes(store, b, a, compared_fraction=rng.choice([0.0, 0.3, *[0.8, 1.0] * 8]), method="test",
                            method_version="1", parameters={}, changes=regions)  # fmt: skip


def _claims(first: int, length: int, count: int) -> list[dict[str, Any]]:
    """A claim of every kind over the days ``first`` to ``first + length`` of the history."""
    start = START + timedelta(days=first)
    end = start + timedelta(days=length)
    span = {"from": start.isoformat(), "to": end.isoformat()}
    one = {"date": start.isoformat()}

    def claim(cid: str, sites: list[str], when: dict[str, str], asserted: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": cid, "text": cid, "source": "s", "sites": sites, **when, "assert": asserted}

    return [
        claim("present", ["dunai"], span, {"kind": "vessel_present", "berth": "pier", "min_length_m": 70}),
        claim("present-all", ["rason"], span, {"kind": "vessel_present", "on": "all"}),
        claim("absent", ["rason"], one, {"kind": "vessel_absent", "berth": "pier"}),
        claim("crane", ["rason"], span, {"kind": "object_present", "object": "crane"}),
        claim("no-crane", ["rason"], one, {"kind": "object_absent", "object": "crane"}),
        claim("days", ["dunai"], span, {"kind": "presence_days", "days": count, "tolerance": 1}),
        claim("days-pier", ["rason"], span, {"kind": "presence_days", "days": count, "berth": "pier"}),
        claim("transit", ["rason", "dunai"], span, {"kind": "vessel_transit", "within_days": 6}),
        claim("change", ["dunai"], span, {"kind": "change_present"}),
        claim("no-change", ["rason"], span, {"kind": "change_absent", "direction": "appeared", "min_area_m2": 1000}),
        claim("change-rason", ["rason"], one, {"kind": "change_present"}),
        claim("two-parts", ["rason"], one, [{"kind": "vessel_present"},
                                            {"kind": "presence_days", "days": count, "from": start.isoformat(),
                                             "to": end.isoformat()}]),  # fmt: skip
    ]


def _whole(store: Store, path: Path, params: TimelineParams) -> dict[str, Any]:
    """The verdicts as main gave them: every claimed site's whole history read."""
    claims = check_against_sites(read_claims(path, utc_offset_hours=params.utc_offset_hours), {s.id: s for s in store.sites()})
    world = load_world(store, [sid for c in claims.claims for sid in c.site_ids], params)
    check = ClaimsCheck(str(path), check_claims(claims.claims, world), claims.problems, claims.title, params.utc_offset_hours, params)
    return claims_to_dict(check)


def _both(root: Path, tmp: Path, claims: list[dict[str, Any]], offset: float,
          **more: Any) -> tuple[dict[str, Any], dict[str, Any], int]:  # fmt: skip
    """(period-read verdicts, whole-history verdicts, observations the period read returned); ``more``: more of
    :class:`TimelineParams` (``gap_days``)."""
    path = tmp / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": claims}), encoding="utf-8")
    params = TimelineParams(utc_offset_hours=offset, **more)
    with open_workspace(root).store() as store:
        read = 0
        real, by_id = store.observations, store.observations_by_id

        def counted(method: Any) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                nonlocal read
                out = method(*args, **kwargs)
                read += len(out)
                return out

            return call

        store.observations, store.observations_by_id = counted(real), counted(by_id)  # type: ignore[method-assign]
        got = claims_to_dict(check_claims_file(store, path, params))
        store.observations, store.observations_by_id = real, by_id  # type: ignore[method-assign]
        want = _whole(store, path, params)
    assert not got["refused"]
    return got, want, read


def test_a_claim_of_a_week_reads_that_week_and_the_weeks_before_it_alone(history: Path, tmp_path: Path) -> None:
    """Eight months of daily images at two ports: claims of a week at each (of a vessel, a crane, presence days)
    read each site's 240 rows; now the week and the gap_days + 2 days before it, once a site."""
    claims = [c for c in _claims(DAYS - 10, 6, 3) if c["id"] in ("present", "present-all", "crane", "days", "days-pier")]
    got, want, read = _both(history, tmp_path, claims, 0.0)
    assert got == want
    assert {r["verdict"] for r in got["claims"]} >= {"supported", "contradicted"}, got
    assert read <= 2 * (7 + TimelineParams().gap_days + 3), read  # the whole history: over 400


def test_a_transit_and_a_change_read_their_dates_not_the_whole_history(history: Path, tmp_path: Path) -> None:
    """A transit read both sites' whole history (446 observations), a change its site's: now the transit reads the
    moves about its week (departures a window before it, arrivals a window after, and the rivals of each), the change
    the pairs about its week, and the verdicts are the whole history's."""
    claims = [c for c in _claims(DAYS // 2, 6, 3) if c["id"] in ("transit", "change", "no-change", "change-rason")]
    got, want, read = _both(history, tmp_path, claims, 0.0)
    assert got == want
    assert {r["verdict"] for r in got["claims"]} >= {"supported", "not testable"}, got
    assert read <= 300, read  # the whole history: 446; the transit reads gap_days + 2 days before its moves


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.integers(0, DAYS - 1), length=st.integers(0, 30), count=st.integers(0, 12),
       offset=st.sampled_from([0.0, 10.0, -9.5]))  # fmt: skip
@example(first=0, length=0, count=0, offset=0.0)  # the history's first date: nothing before it
@example(first=DAYS - 3, length=30, count=2, offset=-9.5)  # dates past the history's last
def test_every_claim_s_verdict_read_for_its_dates_is_the_whole_history_s(history: Path, tmp_path: Path, first: int, length: int,
                                                                         count: int, offset: float) -> None:  # fmt: skip
    """Claims of every kind on any dates of the history (a ship carried through days its berth was hidden, dates
    missed or half covered, local dates either side of UTC; a transit over the history's first or last dates; a change
    where no pair brackets the dates, or a long pair crosses the chain): the verdicts, reasons and images are the
    whole history's, byte for byte."""
    got, want, _ = _both(history, tmp_path, _claims(first, length, count), offset)
    assert got == want



@pytest.mark.parametrize("first, length", [(0, 9), (DAYS // 2, 6), (DAYS - 1, 20)])
def test_on_postgis_the_claims_read_for_their_dates_give_the_whole_history_s_verdicts(
    history: Path, tmp_path: Path, pg_url: str, first: int, length: int
) -> None:  # fmt: skip
    """The same history on a PostGIS store (its pairs found by their span there, times as timestamptz, not text):
    claims of every kind at the history's first ten dates, its middle, its last day and past its end (a transit whose
    window runs past the history's edge, a change no pair brackets) give the whole history's verdicts."""
    from sitewatch.store.copy import copy_store

    ws = init_workspace(tmp_path / "pg", pg_url)
    with open_workspace(history).store() as source, ws.store() as target:
        copy_store(source, target)
    got, want, _ = _both(ws.root, tmp_path, _claims(first, length, 3), 0.0)
    assert got == want


@pytest.mark.parametrize("early", [True, False])
def test_a_change_seen_outside_the_dates_by_a_pair_beyond_the_first_read_is_read_for(tmp_path: Path, early: bool) -> None:
    """A 10 m pair of days 0 and 30 brackets a claim of days 15 and 16 with a region; a 3 m pair of days 2 and 5 (or
    25 and 28) shows it already there before the dates (or not yet after them), so the claim is not testable. The
    first read (a week either side) meets the long pair but not the short one, whose region reaches across its edge
    next to the run: it is read wider, and the verdict is the whole history's (it was supported)."""
    root = init_workspace(tmp_path / "ws").root
    with open_workspace(root).store() as store:
        store.put_site(_site("dunai"))
        days = (0, 30, 2, 5) if early else (0, 30, 25, 28)
        obs = [_obs("dunai", START + timedelta(days=d)) for d in days]
        obs[2:] = [replace(o, scene=replace(o.scene, resolution_m=3.0)) for o in obs[2:]]
        for o in obs:
            _put(store, o, [])
        lon, lat = PLACES["dunai"]
        for b, a in (obs[:2], obs[2:]):
            region = Change(f"{a.id}#1", "dunai", b.id, a.id, box(lon, lat, lon + 0.002, lat + 0.002), 5000.0, 0.5, "appeared", "test", "1")
            replace_changes(store, b, a, compared_fraction=1.0, method="test", method_version="1", parameters={}, changes=[region])
    span = {"from": (START + timedelta(days=15)).isoformat(), "to": (START + timedelta(days=16)).isoformat()}
    claims = [{"id": "dug", "text": "dug", "source": "s", "sites": ["dunai"], **span, "assert": {"kind": "change_present"}}]
    got, want, _ = _both(root, tmp_path, claims, 0.0)
    assert got == want
    assert got["claims"][0]["verdict"] == "not testable", got
    assert ("already seen in" if early else "not yet there in") in got["claims"][0]["reason"]


def test_a_transit_on_the_calendar_s_last_days_is_not_testable(history: Path, tmp_path: Path) -> None:
    """A transit claim of 9999-12-29 to 9999-12-31 within 3 days raised OverflowError (the arrival's dates, and the
    day after the last at the origin, past the calendar): its dates after the last hold no image, so it is not
    testable, from its dates' read as from the whole history; so are the calendar's first days."""
    for first, last in (("9999-12-29", "9999-12-31"), ("0001-01-01", "0001-01-03")):
        claims = [{"id": "transit", "text": "t", "source": "s", "sites": ["rason", "dunai"], "from": first, "to": last,
                   "assert": {"kind": "vessel_transit", "within_days": 3}}]  # fmt: skip
        got, want, _ = _both(history, tmp_path, claims, 10.0)
        assert got == want
        assert got["claims"][0]["verdict"] == "not testable"
