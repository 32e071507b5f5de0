"""A timeline of a period read for that period: the same timeline as from the whole history, from fewer rows.

``timeline --from/--to`` and ``report --from/--to`` built the period's timeline from the site's whole history (a
site with years of daily images read whole for a month); now they read the period and the weeks before it that
settle its first dates, the whole history only when those do not (a berth hidden on every date of those weeks).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sitewatch.analysis import TimelineParams, build_timeline, timeline_to_dict
from sitewatch.analysis.occupancy import load_timeline
from sitewatch.analysis.period_records import read_timeline_records
from sitewatch.model import Detection, Observation, Site
from test_occupancy import obs, vessel

SITE = "dunai"
FIRST = date(2024, 1, 1)


class HistoryStore:
    """The store calls a timeline's reading makes, over lists; ``read`` counts the observations returned."""

    def __init__(self, observations: list[Observation], detections: list[Detection], undetected: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self._obs = sorted(observations, key=lambda o: (o.scene.acquired, o.id))
        self._dets = detections
        self._undetected = set(undetected)
        self.read = 0

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        yield

    @staticmethod
    def _between(t: datetime, since: datetime | None, until: datetime | None) -> bool:
        return (since is None or t >= since) and (until is None or t <= until)

    def observations(self, site_id: str, *, since: datetime | None = None, until: datetime | None = None) -> list[Observation]:
        out = [o for o in self._obs if o.site_id == site_id and self._between(o.scene.acquired, since, until)]
        self.read += len(out)
        return out

    def detections(self, *, site_id: str, kind: str | None = None, since: datetime | None = None,
                   until: datetime | None = None) -> list[Detection]:  # fmt: skip
        times = {o.id: o.scene.acquired for o in self._obs}
        return [d for d in self._dets if self._between(times[d.observation_id], since, until) and kind in (None, d.kind)]

    def undetected(self, site_id: str) -> set[str]:
        return set(self._undetected)

    def get_site(self, site_id: str) -> Site:
        return Site(site_id, site_id, "port", None, resolved=False)


def _hidden(o: Observation, fraction: float) -> Observation:
    return replace(o, provenance={**o.provenance, "berths_hidden": {"b1": fraction}})


def _whole(store: HistoryStore, params: TimelineParams) -> dict[str, Any]:
    return timeline_to_dict(build_timeline(SITE, store._obs, store._dets, params, undetected=store._undetected))


def _from_period(store: HistoryStore, params: TimelineParams) -> dict[str, Any]:
    records = read_timeline_records(store, SITE, params)  # type: ignore[arg-type]
    return timeline_to_dict(build_timeline(SITE, records.observations, records.detections, params,
                                           undetected=records.undetected))  # fmt: skip


def _daily(days: int, *, hidden_from: int | None = None, hidden_to: int | None = None) -> HistoryStore:
    """A ship at b1 on every date of ``days`` daily images; b1 hidden on the dates from ``hidden_from`` to ``hidden_to``
    (the ship not seen then)."""
    observations, detections = [], []
    for k in range(days):
        o = obs(FIRST + timedelta(days=k))
        hidden = hidden_from is not None and hidden_to is not None and hidden_from <= k <= hidden_to
        o = _hidden(o, 0.9 if hidden else 0.0)
        observations.append(o)
        if not hidden:
            detections.append(vessel(o, 0))
    return HistoryStore(observations, detections)


def test_a_period_s_timeline_reads_the_period_and_the_weeks_before_it_alone() -> None:
    """A month of two years of daily images: its timeline read 2 years of rows; now the month and gap_days + 2 days."""
    store = _daily(730)
    params = TimelineParams(start=FIRST + timedelta(days=700), end=FIRST + timedelta(days=729))
    tl = load_timeline(store, SITE, params)  # type: ignore[arg-type]
    assert len(tl.rows) == 30 and store.read <= 30 + params.gap_days + 3
    store.read = 0
    assert _from_period(store, params) == _whole(store, params)


def test_a_period_whose_weeks_before_all_hide_a_berth_is_read_from_the_whole_history() -> None:
    """b1 hidden on every date of the 47 days before the period: the ship last seen before them is carried to the
    period's first date (no arrival on it), which only the dates before those weeks can say."""
    store = _daily(200, hidden_from=100, hidden_to=159)
    params = TimelineParams(start=FIRST + timedelta(days=160), end=FIRST + timedelta(days=170))
    assert _from_period(store, params) == _whole(store, params)
    assert store.read >= 200
    assert _whole(store, params)["rows"][0]["arrivals"] == 0


def test_a_period_after_a_long_gap_needs_nothing_before_it() -> None:
    store = HistoryStore([obs("2024-01-05"), obs("2024-06-01"), obs("2024-06-02")], [])
    params = TimelineParams(start=date(2024, 6, 1))
    assert _from_period(store, params) == _whole(store, params)
    assert store.read == 2


@settings(max_examples=300, deadline=None)
@given(
    runs=st.lists(st.tuples(st.integers(1, 25), st.booleans(), st.sampled_from([0.0, 0.9]), st.booleans(), st.booleans(),
                            st.sampled_from([1, 1, 23])), min_size=1, max_size=12),  # fmt: skip
    start=st.one_of(st.none(), st.integers(0, 150)),
    length=st.one_of(st.none(), st.integers(0, 40)),
    gap=st.sampled_from([3, 10, 20]),
    offset=st.sampled_from([0.0, 9.0, -10.0]),
)
# A ship seen, then its berth hidden through the weeks before the period, seen again on its first date: no arrival.
@example(runs=[(5, True, 0.0, True, True, 1), (20, True, 0.9, False, True, 1), (5, True, 0.0, True, True, 1)], start=26,
         length=None, gap=10, offset=0.0)
# The same with the hidden weeks' images on the previous local date (UTC-10) and one date without images.
@example(runs=[(5, True, 0.0, True, True, 1), (1, False, 0.0, False, True, 1), (20, True, 0.9, False, True, 1),
               (5, True, 0.0, True, True, 23)], start=27, length=3, gap=10, offset=-10.0)
def test_a_period_s_timeline_is_the_whole_history_s(runs: list[tuple[int, bool, float, bool, bool, int]], start: int | None,
                                                    length: int | None, gap: int, offset: float) -> None:  # fmt: skip
    """Runs of days with images or without, a berth hidden or not, a ship there or not, images that count or are
    too broken to (at an hour a UTC offset may move to another date): every period's timeline read for that period
    is the whole history's, byte for byte."""
    observations, detections = [], []
    k = 0
    for days, seen, hidden, ship, usable, hour in runs:
        for _ in range(days):
            k += 1
            if not seen:
                continue
            o = _hidden(obs(FIRST + timedelta(days=k), hour=hour, valid=1.0 if usable else 0.2), hidden)
            observations.append(o)
            if ship and hidden == 0.0:
                detections.append(vessel(o, 0))
    store = HistoryStore(observations, detections)
    first = FIRST + timedelta(days=start) if start is not None else None
    end = (first or FIRST) + timedelta(days=length) if length is not None else None
    params = TimelineParams(start=first, end=end, gap_days=gap, utc_offset_hours=offset)
    assert _from_period(store, params) == _whole(store, params)


def test_a_timeline_without_a_period_reads_every_image() -> None:
    store = _daily(100)
    tl = load_timeline(store, SITE, TimelineParams())  # type: ignore[arg-type]
    assert len(tl.rows) == 100 and store.read == 100


def test_images_at_the_edge_of_the_read_may_be_a_pass_cut_by_it() -> None:
    """An image within pass_seconds of where the read begins may be one piece of a pass whose other piece is before
    it: the whole history is read."""
    params = TimelineParams(start=date(2024, 3, 1), gap_days=10)
    since = datetime(2024, 3, 1, tzinfo=UTC) - timedelta(days=12)
    edge = obs(since.date(), hour=0)
    store = HistoryStore([obs("2024-02-01"), edge, *(obs(since.date() + timedelta(days=k)) for k in range(1, 15))], [])
    assert _from_period(store, params) == _whole(store, params)
    assert store.read >= 16


def test_the_dashboard_s_period_timeline_is_timeline_from_s_when_a_berth_was_hidden_for_weeks_before_it() -> None:
    """The site page read its period and gap_days + 2 days before it, whatever those held: a ship seen, then its
    berth hidden through those weeks and seen again on the period's first date was an arrival there, which
    `timeline --from` (and the report) did not count. Now it reads what settles the period, as they do."""
    from sitewatch.web.data import period_timeline

    store = _daily(200, hidden_from=100, hidden_to=159)
    params = TimelineParams(start=FIRST + timedelta(days=160), end=FIRST + timedelta(days=170))
    site = store.get_site(SITE)
    page = timeline_to_dict(period_timeline(store, site, params))  # type: ignore[arg-type]
    assert page == {**_whole(store, params), "site_name": SITE}
    assert page["rows"][0]["arrivals"] == 0


def test_an_export_of_a_period_reads_that_period_alone() -> None:
    """`export --from/--to` read every image and detection of the site, then kept the period's."""
    from sitewatch.report.exports import select_detections

    store = _daily(730)
    start, end = datetime(2025, 11, 1, tzinfo=UTC), datetime(2025, 11, 30, 23, 59, 59, tzinfo=UTC)
    selected = select_detections(store, [SITE], start=start, end=end)  # type: ignore[arg-type]
    assert store.read <= 32
    whole = [(o, ds) for o, ds in select_detections(store, [SITE]) if start <= o.scene.acquired <= end]  # type: ignore[arg-type]
    assert selected == whole and len(selected) == 30
