"""Claims read for their dates against the whole history, on sparse histories that try the reads' edges.

:mod:`test_claims_period` checks eight months of near-daily images; here each site is imaged in bursts with gaps of
weeks between them (a vessel last seen before a gap is gone only weeks later), some vessels are seen once, a site's
history begins late, pairs of two series (10 m and 3 m) are chained and some span months, and claims are of transits
within 0 days to thousands, and of changes on dates in a gap without images: the verdicts, reasons and images read
for the dates are the whole history's, on GeoPackage and on PostGIS.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import box

from sitewatch.model import Change, Observation
from sitewatch.store import Store
from sitewatch.store.changes import replace_changes
from sitewatch.workspace import init_workspace, open_workspace
from test_alert_window import PLACES, START, _dets, _obs, _put, _site
from test_claims_period import _both

pytestmark = pytest.mark.slow  # each reads a history whole and again for each claim: seconds to half a minute

DAYS = 300
WITHINS = (0, 6, 5000)


def _days_imaged(rng: random.Random, first: int) -> list[int]:
    """Bursts of a few days' images with gaps of up to nine weeks between them, from day ``first``."""
    days, d = [], first
    while d < DAYS:
        burst = rng.randint(1, 6)
        days += [x for x in range(d, min(d + burst, DAYS)) if rng.random() < 0.85]
        d += burst + rng.choice([1, 2, 5, 20, 47, 63])
    return days


def _sparse(store: Store, seed: int) -> None:
    """A sparse history of Rason (from day 0) and Dunai (from day 30 or later: a site added late), vessels calling
    and sailing Rason to Dunai, some seen on one image alone; a 3 m image now and then; change pairs stored."""
    rng = random.Random(seed)
    imaged = {"rason": _days_imaged(rng, 0), "dunai": _days_imaged(rng, rng.choice([30, 90]))}
    present: dict[tuple[str, int], list[tuple[int, float, bool]]] = {}
    for k in range(8):
        length = rng.choice([60.0, 80.0, 110.0, 140.0])
        d = rng.randint(0, 20)
        while d < DAYS:
            stay = rng.choice([0, 1, 3, 10, 40])  # 0: seen on one day alone
            sid = rng.choice(list(PLACES))
            for x in range(d, min(d + stay + 1, DAYS)):
                present.setdefault((sid, x), []).append((k, length, k % 2 == 0))
            if sid == "rason" and rng.random() < 0.6:  # sails to Dunai, arriving days later
                came = d + stay + rng.randint(1, 4)
                for x in range(came, min(came + rng.randint(0, 5) + 1, DAYS)):
                    present.setdefault(("dunai", x), []).append((k, length, True))
                d = came + 6
            d += stay + rng.randint(1, 30)
    for sid, days in imaged.items():
        for d in days:
            o = _obs(sid, START + timedelta(days=d), hour=rng.choice([0, 9, 23]), hidden=rng.random() < 0.1,
                     valid=0.3 if rng.random() < 0.05 else 1.0)  # fmt: skip
            if rng.random() < 0.25:
                o = replace(o, scene=replace(o.scene, resolution_m=3.0))
            _put(store, o, _dets(o, present.get((sid, d), []), False))
    for sid in PLACES:
        series: dict[float, list[Observation]] = {}
        for o in store.observations(sid):
            series.setdefault(o.scene.resolution_m, []).append(o)
        pairs = [(b, a) for chain in series.values() for b, a in zip(chain, chain[1:], strict=False)]
        tens = series.get(10.0, [])
        pairs += [(tens[i], tens[i + rng.randint(3, 12)]) for i in range(0, max(len(tens) - 12, 0), 9)]  # spanning months
        for b, a in pairs:
            regions = []
            if rng.random() < 0.4:
                lon, lat = PLACES[sid]
                for k in range(rng.randint(1, 2)):
                    gx, gy = lon + rng.choice([-0.01, 0.0]), lat + rng.choice([0.0, 0.005])
                    regions.append(Change(f"{b.id}>{a.id}#{k}", sid, b.id, a.id, box(gx, gy, gx + 0.002, gy + 0.002),
                                          rng.choice([500.0, 5000.0]), 0.5, rng.choice(["appeared", "disappeared"]), "test", "1"))  # fmt: skip
            replace_changes(store, b, a, compared_fraction=rng.choice([0.0, 0.3, 0.8, 1.0, 1.0]), method="test",
                            method_version="1", parameters={}, changes=regions)  # fmt: skip


def _claims(seed: int, count: int) -> list[dict[str, Any]]:
    """Transits within 0 days to thousands, changes and presence claims at random dates (many at one site)."""
    rng = random.Random(seed)
    out = []
    for k in range(count):
        first = rng.randint(-10, DAYS + 5)
        length = rng.choice([0, 0, 1, 3, 9, 30])
        span = {"from": (START + timedelta(days=first)).isoformat(), "to": (START + timedelta(days=first + length)).isoformat()}
        kind = rng.choice(["transit", "transit", "change", "present"])
        sites = ["rason", "dunai"] if kind == "transit" and rng.random() < 0.8 else ["dunai", "rason"]
        if kind == "transit":
            asserted: dict[str, Any] = {"kind": "vessel_transit", "within_days": rng.choice(WITHINS)}
            if rng.random() < 0.5:
                asserted["min_length_m"] = rng.choice([70, 100])
        elif kind == "change":
            sites = [rng.choice(list(PLACES))]
            asserted = {"kind": rng.choice(["change_present", "change_absent"])}
            if rng.random() < 0.4:
                asserted["direction"] = rng.choice(["appeared", "disappeared"])
        else:
            sites = [rng.choice(list(PLACES))]
            asserted = {"kind": rng.choice(["vessel_present", "vessel_absent"])}
        out.append({"id": f"c{k}", "text": f"c{k}", "source": "s", "sites": sites, **span, "assert": asserted})
    return out


@pytest.fixture(scope="module", params=[11])
def sparse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = init_workspace(tmp_path_factory.mktemp("claims-sparse") / "ws").root
    with open_workspace(root).store() as store:
        for sid in PLACES:
            store.put_site(_site(sid))
        _sparse(store, request.param)
    return root


@pytest.mark.parametrize("offset, gap_days", [(10.0, 45), (-9.5, 3), (0.0, 1)])
def test_claims_on_a_sparse_history_read_for_their_dates_are_the_whole_history_s(
    sparse: Path, tmp_path: Path, offset: float, gap_days: int
) -> None:  # fmt: skip
    """Transits across gaps of weeks (a vessel gone only at the next burst), vessels seen once, a site whose history
    begins late, changes of two series with pairs spanning months and dates in a gap: every verdict is the whole
    history's, with ``gap_days`` as small as 1 (an observation period a burst)."""
    got, want, _ = _both(sparse, tmp_path, _claims(int(offset * 7) + gap_days, 60), offset, gap_days=gap_days)
    assert got == want


@pytest.mark.parametrize("within", WITHINS)
def test_a_transit_claim_of_every_window_reads_as_the_whole_history(sparse: Path, tmp_path: Path, within: int) -> None:
    """A transit claim of every week of the history within 0 days to thousands, many at one pair of sites (reads
    shared among those of one key): the whole history's verdicts."""
    claims = [{"id": f"t{d}", "text": "t", "source": "s", "sites": ["rason", "dunai"],
               "from": (START + timedelta(days=d)).isoformat(), "to": (START + timedelta(days=d + 6)).isoformat(),
               "assert": {"kind": "vessel_transit", "within_days": within}} for d in range(0, DAYS, 7)]  # fmt: skip
    claims += [{**c, "id": f"{c['id']}-again"} for c in claims[::5]]
    got, want, _ = _both(sparse, tmp_path, claims, 0.0)
    assert got == want


def test_on_postgis_claims_on_a_sparse_history_are_the_whole_history_s(sparse: Path, tmp_path: Path, pg_url: str) -> None:
    """The sparse history on PostGIS (timestamptz against the day's edges; images at 00:00 and 23:00 UTC): the
    whole history's verdicts, with local dates either side of UTC."""
    from sitewatch.store.copy import copy_store

    ws = init_workspace(tmp_path / "pg", pg_url)
    with open_workspace(sparse).store() as source, ws.store() as target:
        copy_store(source, target)
    for offset in (0.0, 10.0, -9.5):
        got, want, _ = _both(ws.root, tmp_path, _claims(3, 40), offset)
        assert got == want


def _edge_history(store: Store, seed: int) -> None:
    """Images every other day or so at a day's first or last millisecond (UTC), 10 m and 3 m, chained pairs and
    pairs over a fortnight, a third with a region: the reads' midnights fall on images' times."""
    rng = random.Random(seed)
    site = _site("dunai")
    store.put_site(site)
    for d in range(0, 90):
        if rng.random() < 0.45:
            continue
        o = _obs("dunai", START + timedelta(days=d), hour=0)
        at = o.scene.acquired + rng.choice([timedelta(0), timedelta(hours=23, minutes=59, seconds=59, milliseconds=999)])
        o = replace(o, scene=replace(o.scene, acquired=at, resolution_m=rng.choice([10.0, 10.0, 3.0])))
        _put(store, o, [])
    series: dict[float, list[Observation]] = {}
    for o in store.observations("dunai"):
        series.setdefault(o.scene.resolution_m, []).append(o)
    pairs = [(b, a) for chain in series.values() for b, a in zip(chain, chain[1:], strict=False)]
    tens = series[10.0]
    pairs += [(tens[i], tens[i + 6]) for i in range(0, len(tens) - 6, 5)]
    lon, lat = PLACES["dunai"]
    for b, a in pairs:
        regions = [Change(f"{b.id}>{a.id}#1", "dunai", b.id, a.id, box(lon, lat, lon + 0.002, lat + 0.002), 5000.0, 0.5,
                          rng.choice(["appeared", "disappeared"]), "test", "1")] if rng.random() < 0.35 else []  # fmt: skip
        replace_changes(store, b, a, compared_fraction=1.0, method="test", method_version="1", parameters={}, changes=regions)


def _edge_claims() -> list[dict[str, Any]]:
    out = []
    for d in range(-2, 95, 1):
        for length in (0, 2):
            span = {"from": (START + timedelta(days=d)).isoformat(), "to": (START + timedelta(days=d + length)).isoformat()}
            out.append({"id": f"c{d}-{length}", "text": "c", "source": "s", "sites": ["dunai"], **span,
                        "assert": {"kind": "change_present", "direction": "appeared"}})  # fmt: skip
    return out


@pytest.mark.parametrize("postgis", [False, True])
def test_change_claims_whose_reads_edge_on_images_times_are_the_whole_history_s(tmp_path: Path, postgis: bool,
                                                                                request: pytest.FixtureRequest) -> None:  # fmt: skip
    """Change claims of every day of three months at a site imaged at its days' first and last milliseconds: a read
    from or to a midnight meets a pair ending or beginning there, on GeoPackage (ISO text) and PostGIS (timestamptz),
    with local dates either side of UTC: the whole history's verdicts."""
    root = init_workspace(tmp_path / "ws").root
    with open_workspace(root).store() as store:
        _edge_history(store, 7)
    if postgis:
        from sitewatch.store.copy import copy_store

        ws = init_workspace(tmp_path / "pg", request.getfixturevalue("pg_url"))
        with open_workspace(root).store() as source, ws.store() as target:
            copy_store(source, target)
        root = ws.root
    for offset in (0.0, 10.0, -9.5):
        got, want, _ = _both(root, tmp_path, _edge_claims(), offset)
        assert got == want
        assert {r["verdict"] for r in got["claims"]} == {"supported", "contradicted", "not testable"}


@pytest.fixture(scope="module")
def gappy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six ships calling at both ports over 200 days (the story of :mod:`test_alert_window`, ships of four lengths:
    each link has rivals), with weeks without an image at one port or the other (a ship last seen before them is
    gone only after them)."""
    from test_alert_window import History

    root = init_workspace(tmp_path_factory.mktemp("claims-gappy") / "ws").root
    story = History(200, seed=9)
    story.missing |= {("rason", d) for d in range(40, 75)} | {("dunai", d) for d in range(100, 121)}
    story.missing |= {("rason", d) for d in range(150, 200) if d % 9}
    with open_workspace(root).store() as store:
        for sid in PLACES:
            store.put_site(_site(sid))
        for d in range(200):
            for o, dets in story.day(d):
                _put(store, o, dets)
    return root


@pytest.mark.parametrize("within, offset", [(6, -9.5), (40, 0.0)])
def test_transits_about_weeks_without_images_are_the_whole_history_s(gappy: Path, tmp_path: Path, within: int,
                                                                     offset: float) -> None:  # fmt: skip
    """Transits both ways claimed of every fifth day of 200 (with and without a size): those whose vessel was last
    seen before weeks without an image, whose links' rivals lie weeks from the dates: the whole history's verdicts."""
    claims = []
    for d in range(0, 200, 5):
        for k, (sites, size) in enumerate([(["rason", "dunai"], {}), (["dunai", "rason"], {}),
                                           (["rason", "dunai"], {"min_length_m": 100})]):  # fmt: skip
            claims.append({"id": f"t{d}-{k}", "text": "t", "source": "s", "sites": sites,
                           "from": (START + timedelta(days=d)).isoformat(), "to": (START + timedelta(days=d + d % 4)).isoformat(),
                           "assert": {"kind": "vessel_transit", "within_days": within, **size}})  # fmt: skip
    got, want, _ = _both(gappy, tmp_path, claims, offset)
    assert got == want
    if within >= 2:
        assert {r["verdict"] for r in got["claims"]} >= {"supported", "not testable"}, got
