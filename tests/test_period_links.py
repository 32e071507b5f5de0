"""Links of a period read for that period: the same links as from the whole history, from fewer rows.

``links --from/--to`` (and a report of a period over several sites) built every site's timeline from its whole
history; now each site's records are read for the period, a few days either side (the moves a link of the period
may pair) and the dates that settle those edges: the weeks before it (a vessel carried through a hidden berth) and
the dates after it up to the one that finds a vessel of the period gone.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sitewatch.analysis import TimelineParams, build_timeline
from sitewatch.analysis.links import LinkParams, find_links, links_to_dict, load_links
from sitewatch.model import Detection, Observation, Site
from test_occupancy import obs, vessel
from test_period_records import FIRST, HistoryStore

SITES = ("rason", "dunai")


class SitesStore(HistoryStore):
    """:class:`HistoryStore` over several sites: each read keeps the site's rows; ``read`` counts observations."""

    def detections(self, *, site_id: str, kind: str | None = None, since: datetime | None = None,
                   until: datetime | None = None) -> list[Detection]:  # fmt: skip
        mine = {o.id for o in self._obs if o.site_id == site_id}
        return [d for d in super().detections(site_id=site_id, kind=kind, since=since, until=until) if d.observation_id in mine]

    def undetected(self, site_id: str | None = None) -> set[str]:
        return {oid for oid in self._undetected if site_id is None or oid.startswith(f"{site_id}-")}

    def imaged_site_ids(self) -> list[str]:
        return sorted({o.site_id for o in self._obs})

    def sites(self) -> list[Site]:
        return [self.get_site(s) for s in SITES]


def _whole(store: SitesStore, params: LinkParams, tp: TimelineParams | None = None) -> dict[str, Any]:
    """The links as main found them: every site's timeline built from its whole history."""
    sites = [store.get_site(s) for s in SITES]
    timelines = {s.id: build_timeline(s.id, [o for o in store._obs if o.site_id == s.id], store._dets, tp) for s in sites}
    return links_to_dict(find_links(sites, timelines, store._obs, store._dets, params))


def _period(store: SitesStore, params: LinkParams, tp: TimelineParams | None = None) -> dict[str, Any]:
    return links_to_dict(load_links(store, list(SITES), params, timeline_params=tp))  # type: ignore[arg-type]


def _hidden(o: Observation, fraction: float) -> Observation:
    return replace(o, provenance={**o.provenance, "berths_hidden": {"b1": fraction}})


def _shuttle(days: int, *, hidden: dict[str, range] | None = None) -> SitesStore:
    """Daily images at both sites; a 110 m ship 3 days at Rason, 2 days at sea, 3 days at Dunai, 2 at sea, again;
    ``hidden``: a site's days (from FIRST) on which b1 is hidden (the ship not seen)."""
    observations, detections = [], []
    for site in SITES:
        for k in range(days):
            o = obs(FIRST + timedelta(days=k), site=site, hour=3 if site == "rason" else 9)
            if k in (hidden or {}).get(site, range(0)):
                observations.append(_hidden(o, 0.9))
                continue
            observations.append(o)
            if (k % 10 < 3) == (site == "rason") and k % 10 not in (3, 4, 8, 9):
                detections.append(vessel(o, 0))
    return SitesStore(observations, detections)


def test_a_period_s_links_read_the_period_and_the_days_around_it_alone() -> None:
    """A month of two years of daily images at two sites: its links read every image of both (1,460); now the
    month, a few days either side, and gap_days + 2 days before it."""
    store = _shuttle(730)
    params = LinkParams(start=FIRST + timedelta(days=400), end=FIRST + timedelta(days=429), sea_route=False)
    found = _period(store, params)
    # (from 2 days and gap_days + 2 before the month to 2 days and 3 after it, at each site)
    assert 2 * 30 < store.read <= 2 * (2 + TimelineParams().gap_days + 2 + 30 + 2 + 3)
    assert found == _whole(store, params) and len(found["links"]) == 8
    # At the end of the history: read again to gap_days after the period, which says that nothing follows.
    store.read = 0
    params = LinkParams(start=FIRST + timedelta(days=700), end=FIRST + timedelta(days=729), sea_route=False)
    assert _period(store, params) == _whole(store, params)
    assert store.read <= 2 * 2 * (2 + TimelineParams().gap_days + 2 + 30)
    store.read = 0
    assert _period(store, replace(params, start=None, end=None)) == _whole(store, replace(params, start=None, end=None))
    assert store.read == 2 * 730


def test_a_ship_whose_berth_was_hidden_for_weeks_before_the_period_is_no_arrival_on_its_first_date() -> None:
    """Dunai's berth hidden on each of the 60 dates before the period: the ship there before them is carried to the
    period's first date, which only the dates before those weeks can say (the whole history read then)."""
    store = _shuttle(200, hidden={"dunai": range(100, 165)})
    params = LinkParams(start=FIRST + timedelta(days=165), end=FIRST + timedelta(days=185), sea_route=False)
    assert _period(store, params) == _whole(store, params)
    assert store.read > 200 + 20


def test_a_ship_last_seen_in_the_period_and_found_gone_weeks_after_it_is_a_departure_of_the_period() -> None:
    """Rason's berth hidden on the 61 dates after the period: a ship seen on its last date is found gone only on the
    date after those weeks, a departure of the period all the same (read until then)."""
    store = _shuttle(300, hidden={"rason": range(102, 163)})
    params = LinkParams(start=FIRST + timedelta(days=80), end=FIRST + timedelta(days=101), sea_route=False)
    found = _period(store, params)
    assert found == _whole(store, params)
    assert found["departures"] == 5  # Rason's of days 82, 92 and 101 (gone on day 163), Dunai's of days 87 and 97


@settings(max_examples=150, deadline=None)
@given(
    runs=st.lists(st.tuples(st.sampled_from(SITES), st.integers(1, 12), st.booleans(), st.sampled_from([0.0, 0.9]),
                            st.integers(0, 2), st.booleans(), st.sampled_from([1, 12, 23])), min_size=1, max_size=14),  # fmt: skip
    start=st.one_of(st.none(), st.integers(0, 80)),
    length=st.one_of(st.none(), st.integers(0, 30)),
    gap=st.sampled_from([3, 10, 20]),
    window=st.sampled_from([1.0, 5.0, 30.0]),
    offset=st.sampled_from([0.0, 9.0, -10.0]),
)
# A ship at Rason, its berth hidden through the weeks after the period, then gone: a departure of the period.
@example(runs=[("rason", 5, True, 0.0, 1, True, 1), ("rason", 12, True, 0.9, 0, True, 1), ("rason", 12, True, 0.9, 0, True, 1),
               ("dunai", 3, True, 0.0, 1, True, 12), ("rason", 2, True, 0.0, 0, True, 1)],
         start=2, length=3, gap=20, window=30.0, offset=0.0)  # fmt: skip
def test_a_period_s_links_are_the_whole_history_s(runs: list[tuple[str, int, bool, float, int, bool, int]],
                                                  start: int | None, length: int | None, gap: int, window: float,
                                                  offset: float) -> None:  # fmt: skip
    """Runs of days at one site or the other, with images or without, a berth hidden or not, up to two ships there,
    images that count or not (at an hour a UTC offset may move to another date): every period's links read for that
    period are the whole history's, byte for byte."""
    observations, detections = [], []
    day = dict.fromkeys(SITES, 0)
    for site, days, seen, hidden, ships, usable, hour in runs:
        for _ in range(days):
            day[site] += 1
            if not seen:
                continue
            o = _hidden(obs(FIRST + timedelta(days=day[site]), site=site, hour=hour, valid=1.0 if usable else 0.2), hidden)
            observations.append(o)
            if hidden == 0.0:
                detections += [vessel(o, n, dx_m=400.0 * n, length=110.0 + 30 * n) for n in range(ships)]
    store = SitesStore(observations, detections)
    first = FIRST + timedelta(days=start) if start is not None else None
    end = (first or FIRST) + timedelta(days=length) if length is not None else None
    params = LinkParams(start=first, end=end, window_days=window, sea_route=False)
    tp = TimelineParams(gap_days=gap, utc_offset_hours=offset)
    assert _period(store, params, tp) == _whole(store, params, tp)


def test_a_period_near_the_ends_of_the_calendar_is_read_without_that_edge() -> None:
    store = _shuttle(40)
    params = LinkParams(start=date.min, end=date.max, sea_route=False)
    assert _period(store, params) == _whole(store, params)
