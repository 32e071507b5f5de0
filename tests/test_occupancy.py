"""Occupancy timeline: dates, merging sensors, arrivals/departures, periods."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from sitewatch.analysis import TimelineParams, build_timeline, timeline_to_dict
from sitewatch.analysis.occupancy import NOT_DETECTED
from sitewatch.model import Detection, Grid, Observation, SceneRef

LON, LAT = 132.338, 42.880
GRID = Grid("EPSG:32652", (10.0, 0.0, 500000.0, 0.0, -10.0, 4750000.0), 100, 100)


def obs(
    day: date | str,
    sensor: str = "sar",
    *,
    hour: int = 1,
    valid: float = 1.0,
    cloud: float | None = None,
    res: float = 10.0,
    site: str = "dunai",
) -> Observation:
    d = date.fromisoformat(day) if isinstance(day, str) else day
    t = datetime(d.year, d.month, d.day, hour, tzinfo=UTC)
    oid = f"{site}-{d.isoformat()}-{sensor}-{hour}"
    scene = SceneRef("simulator", "sim", oid, sensor, t, res, simulated=True)
    return Observation(oid, site, scene, GRID, f"archive/{oid}.tif", "0" * 64, valid, cloud)


def vessel(o: Observation, n: int, *, berth: str | None = "b1", dx_m: float = 0.0, length: float = 110.0, kind: str = "vessel") -> Detection:
    lon = LON + dx_m / 81_500.0
    fp = box(lon - 0.0005, LAT - 0.0001, lon + 0.0005, LAT + 0.0001)
    return Detection(f"{o.id}-d{n}", o.id, kind, fp, length, 15.0, 90.0, 0.9, "test", "1", berth_id=berth)


def test_arrival_and_departure_by_berth() -> None:
    a, b, c = obs("2024-10-14"), obs("2024-10-17"), obs("2024-10-20")
    dets = [vessel(b, 0), vessel(b, 1, berth="b2", dx_m=300)]
    tl = build_timeline("dunai", [a, b, c], dets)
    assert [r.vessels for r in tl.rows] == [0, 2, 0]
    assert [(r.arrivals, r.departures) for r in tl.rows] == [(0, 0), (2, 0), (0, 2)]
    assert tl.rows[1].at_berth == {"b1": 1, "b2": 1}
    assert tl.rows[2].departure_berths == ("b1", "b2")
    assert tl.presence_days == 1


def test_same_date_seen_by_both_sensors_is_one_date() -> None:
    s = obs("2024-10-17", "sar", hour=21)
    o = obs("2024-10-17", "optical", hour=2, res=3.0, cloud=0.0)
    dets = [vessel(s, 0), vessel(o, 0, length=113.0), vessel(o, 1, kind="crane", berth=None)]
    tl = build_timeline("dunai", [s, o], dets)
    assert len(tl.rows) == 1
    row = tl.rows[0]
    assert row.sensors == ("optical", "sar")
    assert row.vessels == 1
    assert row.by_sensor == {"optical": 1, "sar": 1}
    assert row.others == {"crane": 1}


def test_union_when_one_sensor_misses_a_vessel() -> None:
    s = obs("2024-10-17", "sar")
    o = obs("2024-10-17", "optical", res=3.0, cloud=0.1)
    dets = [vessel(s, 0), vessel(s, 1, berth=None, dx_m=900), vessel(o, 0)]
    tl = build_timeline("dunai", [s, o], dets)
    assert tl.rows[0].vessels == 2 and tl.rows[0].off_berth == 1


def test_swap_at_berth_is_arrival_and_departure() -> None:
    a, b = obs("2024-10-17"), obs("2024-10-18")
    tl = build_timeline("dunai", [a, b], [vessel(a, 0, length=90), vessel(b, 0, length=180)])
    assert (tl.rows[1].arrivals, tl.rows[1].departures) == (1, 1)


def test_unusable_observations_are_skipped_with_reason() -> None:
    good = obs("2024-10-17")
    cloudy = obs("2024-10-18", "optical", cloud=0.8)
    empty = obs("2024-10-19", valid=0.1)
    tl = build_timeline("dunai", [good, cloudy, empty], [vessel(cloudy, 0)])
    assert [r.date.isoformat() for r in tl.rows] == ["2024-10-17"]
    reasons = {s.observation_id: s.reason for s in tl.skipped}
    assert "cloud" in reasons[cloudy.id] and "valid" in reasons[empty.id]
    assert reasons[cloudy.id].endswith("% of the site's valid pixels > 20%")  # in percent, as --max-cloud takes it


def test_periods_split_at_gaps_and_count_presence_days() -> None:
    first = [obs(date(2023, 8, 25) + timedelta(days=3 * i), site="rason") for i in range(20)]
    second = [obs(date(2024, 10, 1) + timedelta(days=3 * i), site="rason") for i in range(5)]
    dets = [vessel(o, 0) for o in first[::2]] + [vessel(second[0], 0)]
    tl = build_timeline("rason", first + second, dets, site_name="Rason")
    assert [p.presence_days for p in tl.periods] == [10, 1]
    assert tl.periods[0].start == date(2023, 8, 25) and tl.periods[1].start == date(2024, 10, 1)
    assert tl.rows[len(first)].arrivals == 0  # first date of a period: what came before is unknown
    assert "Rason: 10 presence days between 2023-08-25 and 2023-10-18" in tl.summary_lines()[0]
    assert "0 arrivals, 1 departure, at most 1 vessel at once" in tl.summary_lines()[1]  # counts agree with their nouns
    limited = build_timeline("rason", first + second, dets, TimelineParams(end=date(2024, 1, 1)))
    assert len(limited.periods) == 1


def test_dict_is_json_ready() -> None:
    import json

    a = obs("2024-10-17")
    d = timeline_to_dict(build_timeline("dunai", [a], [vessel(a, 0)]))
    assert json.loads(json.dumps(d))["rows"][0]["date"] == "2024-10-17"
    from sitewatch import __version__

    assert d["sitewatch_version"] == __version__ and d["parameters"]["max_cloud_fraction"] == 0.2


def test_dict_without_sightings_is_the_dict_with_them_less_the_sightings() -> None:
    a, b = obs("2024-10-17"), obs("2024-10-18")
    tl = build_timeline("dunai", [a, b], [vessel(a, 0), vessel(b, 0), vessel(b, 1, berth="b2", dx_m=300)])
    full = timeline_to_dict(tl, sightings=True)
    assert [len(r["sightings"]) for r in full["rows"]] == [1, 2]
    for r in full["rows"]:
        r.pop("sightings")
        r.pop("carried_departures")  # departed vessels as last seen: sightings too
    assert timeline_to_dict(tl) == full


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 3)), min_size=1, max_size=25))
def test_counts_balance(days: list[tuple[int, int]]) -> None:
    """Within a period, vessels on a date = vessels on the first date + arrivals - departures."""
    start = date(2024, 1, 1)
    seen: dict[int, int] = dict(days)
    observations, dets = [], []
    for d, n in sorted(seen.items()):
        o = obs(start + timedelta(days=d))
        observations.append(o)
        dets += [vessel(o, k, berth=f"b{k}") for k in range(n)]
    tl = build_timeline("dunai", observations, dets, TimelineParams(gap_days=10))
    for p in tl.periods:
        rows = [r for r in tl.rows if r.period == p.index]
        total = rows[0].vessels
        for r in rows[1:]:
            total += r.arrivals - r.departures
            assert total == r.vessels
        assert p.presence_days == sum(1 for r in rows if r.vessels)
    assert sum(p.dates for p in tl.periods) == len(seen)


def test_equipment_changes_compare_fine_looks_only() -> None:
    from sitewatch.analysis import equipment_changes

    p17 = obs("2024-10-17", "optical", res=3.0, cloud=0.0)
    s18 = obs("2024-10-18", "sar")
    p20 = obs("2024-10-20", "optical", res=3.0, cloud=0.0)
    dets = [vessel(p17, 0), vessel(p17, 1, kind="crane", berth=None), vessel(s18, 0)]
    tl = build_timeline("dunai", [p17, s18, p20], dets)
    assert [r.fine for r in tl.rows] == [True, False, True]
    pairs = equipment_changes(tl)
    assert [(a.date.day, b.date.day) for a, b in pairs] == [(17, 20)]  # the SAR look on the 18th says nothing of cranes


def test_from_to_window_compares_its_first_date_with_the_usable_date_before_it() -> None:
    # A ship arrives on 17 Oct and leaves by 20 Oct; `timeline --from 2024-10-17 --to 2024-10-17`
    # used to start afresh on the 17th and report no arrival, and --from 20 Oct no departure.
    a, b, c = obs("2024-10-14"), obs("2024-10-17"), obs("2024-10-20")
    unusable = obs("2024-10-16", valid=0.1)
    dets = [vessel(b, 0)]
    full = build_timeline("dunai", [a, b, c, unusable], dets)
    assert [(r.arrivals, r.departures) for r in full.rows] == [(0, 0), (1, 0), (0, 1)]
    only_17 = build_timeline("dunai", [a, b, c, unusable], dets, TimelineParams(start=date(2024, 10, 17), end=date(2024, 10, 17)))
    assert [(r.date.isoformat(), r.arrivals, r.departures, r.period) for r in only_17.rows] == [("2024-10-17", 1, 0, 1)]
    assert only_17.periods[0].arrivals == 1 and only_17.skipped == ()  # 16 Oct is outside the window
    from_20 = build_timeline("dunai", [a, b, c], dets, TimelineParams(start=date(2024, 10, 20)))
    assert [(r.arrivals, r.departures, r.period) for r in from_20.rows] == [(0, 1, 1)]
    far = [obs("2024-06-01"), a, b]  # periods before the window do not shift its numbering
    assert [r.period for r in build_timeline("dunai", far, dets, TimelineParams(start=date(2024, 10, 1))).rows] == [1, 1]


def test_a_time_given_in_another_zone_is_dated_in_utc_or_at_the_offset() -> None:
    o = obs("2024-10-16", hour=17)  # 17:00 UTC is 02:00 on the 17th in Korea
    kst = replace(o, scene=replace(o.scene, acquired=o.scene.acquired.astimezone(timezone(timedelta(hours=9)))))
    assert [r.date for r in build_timeline("dunai", [kst], []).rows] == [date(2024, 10, 16)]
    local = TimelineParams(utc_offset_hours=-3)
    assert [r.date for r in build_timeline("dunai", [kst], [], local).rows] == [date(2024, 10, 16)]


def test_a_skip_reason_near_the_limit_does_not_read_as_equal_to_it() -> None:
    from sitewatch.analysis.occupancy import is_usable

    p = TimelineParams()
    assert is_usable(obs("2024-10-17", "optical", cloud=0.204), p) == "cloud over 20.4% of the site's valid pixels > 20.0%"
    assert is_usable(obs("2024-10-17", valid=0.497), p) == "valid 49.7% of the site < 50.0%"
    assert is_usable(obs("2024-10-17", "optical", cloud=0.92), p) == "cloud over 92% of the site's valid pixels > 20%"


def test_two_passes_of_one_sensor_count_the_vessels_of_both() -> None:
    morning, evening = obs("2024-10-17", hour=1), obs("2024-10-17", hour=13)
    dets = [vessel(morning, 0), vessel(evening, 0, berth="b2", dx_m=300)]  # one ship left, another came
    row = build_timeline("dunai", [morning, evening], dets).rows[0]
    assert row.vessels == 2 and row.by_sensor == {"sar": 2}  # was sar:1 beside 2 vessels seen by SAR alone


def test_length_tolerance_grows_with_the_pixel_size() -> None:
    # One 100 m ship at one berth, measured 100 m and then 135 m: on 30 m pixels (a ship of 3 pixels)
    # that is well within the measurement error, so it stayed; on 3 m pixels it is another ship.
    for res, swapped in ((30.0, False), (10.0, False), (3.0, True)):
        a, b = obs("2024-10-17", res=res), obs("2024-10-18", res=res)
        tl = build_timeline("dunai", [a, b], [vessel(a, 0, length=100), vessel(b, 0, length=135)])
        assert (tl.rows[1].arrivals, tl.rows[1].departures) == ((1, 1) if swapped else (0, 0)), res
    a, b = obs("2024-10-17"), obs("2024-10-18")  # 10 m: 60 m apart is still two ships
    tl = build_timeline("dunai", [a, b], [vessel(a, 0, length=90), vessel(b, 0, length=150)])
    assert (tl.rows[1].arrivals, tl.rows[1].departures) == (1, 1)


def test_the_limits_of_a_usable_observation_are_themselves_usable() -> None:
    # "at least 50 % valid", "at most 20 % cloud": a scene exactly at a limit counts.
    from sitewatch.analysis.occupancy import is_usable

    p = TimelineParams()
    assert is_usable(obs("2024-10-17", valid=0.5), p) is None
    assert is_usable(obs("2024-10-17", "optical", cloud=0.2), p) is None
    assert is_usable(obs("2024-10-17", "sar", cloud=0.9), p) is None  # cloud does not hide a ship from radar


def test_bad_parameters_are_refused_by_name() -> None:
    import pytest

    from sitewatch.errors import InputError

    with pytest.raises(InputError, match="gap_days"):
        TimelineParams(gap_days=0)
    with pytest.raises(InputError, match="max_cloud_fraction"):
        TimelineParams(max_cloud_fraction=20)  # percent given where a fraction is meant
    with pytest.raises(InputError, match="--from 2024-10-18 is after --to 2024-10-17"):
        TimelineParams(start=date(2024, 10, 18), end=date(2024, 10, 17))


def test_a_positive_utc_offset_moves_a_late_pass_to_the_next_local_date() -> None:
    o = obs("2024-10-16", hour=17)  # 17:00 UTC is 03:00 on the 17th in Primorsky (UTC+10)
    assert [r.date for r in build_timeline("dunai", [o], [], TimelineParams(utc_offset_hours=10)).rows] == [date(2024, 10, 17)]


def test_dates_exactly_gap_days_apart_stay_in_one_period() -> None:
    # "further apart than gap_days" starts a new period; 45 days apart is not further.
    a, b, c = obs("2024-01-01"), obs("2024-02-15"), obs("2024-04-01")  # 45, then 46 days
    tl = build_timeline("dunai", [a, b, c], [vessel(a, 0)])
    assert [r.period for r in tl.rows] == [1, 1, 2]
    assert (tl.rows[1].arrivals, tl.rows[1].departures) == (0, 1)


def test_observations_given_out_of_order_give_rows_in_date_order() -> None:
    a, b, c = obs("2024-10-14"), obs("2024-10-17"), obs("2024-10-20")
    tl = build_timeline("dunai", [c, a, b], [vessel(b, 0)])
    assert [r.date.day for r in tl.rows] == [14, 17, 20]
    assert [(r.arrivals, r.departures) for r in tl.rows] == [(0, 0), (1, 0), (0, 1)]


def test_observations_of_other_sites_and_undetected_ones_are_left_out() -> None:
    mine, theirs = obs("2024-10-17"), obs("2024-10-18", site="rason")
    later = obs("2024-10-19")
    tl = build_timeline("dunai", [mine, theirs, later], [vessel(mine, 0), vessel(theirs, 0)], undetected={later.id})
    assert [r.date.day for r in tl.rows] == [17]  # not read as "the ship left on the 19th"
    assert [(s.observation_id, s.reason) for s in tl.skipped] == [(later.id, NOT_DETECTED)]


def test_skipped_observations_and_departure_berths_are_listed_in_order() -> None:
    a, b = obs("2024-10-17"), obs("2024-10-20")
    late, early = obs("2024-10-19", valid=0.1), obs("2024-10-18", valid=0.1)
    dets = [vessel(a, 0, berth="b3"), vessel(a, 1, berth="b1", dx_m=300), vessel(a, 2, berth=None, dx_m=900)]
    tl = build_timeline("dunai", [a, b, late, early], dets)
    assert [s.date.day for s in tl.skipped] == [18, 19]
    assert tl.rows[1].departure_berths == ("-", "b1", "b3")
    back = build_timeline("dunai", [b, a], [vessel(b, k, berth=f"b{3 - k}", dx_m=300 * k) for k in range(3)])
    assert back.rows[1].arrival_berths == ("b1", "b2", "b3")


def test_presence_counts_only_dates_with_vessels_and_berth_presence_only_berthed_ones() -> None:
    a, b, c, d = obs("2024-10-14"), obs("2024-10-17"), obs("2024-10-20"), obs("2024-10-23")
    dets = [vessel(b, 0, berth=None), vessel(c, 0)]  # at anchor on the 17th, at the berth on the 20th
    p = build_timeline("dunai", [a, b, c, d], dets).periods[0]
    assert (p.dates, p.presence_days, p.berth_presence_days) == (4, 2, 1)
    assert (p.first_presence, p.last_presence) == (date(2024, 10, 17), date(2024, 10, 20))


def test_others_are_the_most_one_observation_saw_not_the_sum() -> None:
    # Two looks at one quay on one date both show its crane: one crane, not two.
    s = obs("2024-10-17", "optical", hour=1, res=3.0, cloud=0.0)
    t = obs("2024-10-17", "optical", hour=5, res=3.0, cloud=0.0)
    dets = [vessel(s, 0, kind="crane", berth=None), vessel(t, 0, kind="crane", berth=None)]
    assert build_timeline("dunai", [s, t], dets).rows[0].others == {"crane": 1}


def test_a_pixel_of_exactly_fine_resolution_counts_as_fine() -> None:
    assert build_timeline("dunai", [obs("2024-10-17", "optical", res=5.0, cloud=0.0)], []).rows[0].fine


def test_equipment_changes_stay_within_a_period_and_count_vessels_too() -> None:
    from sitewatch.analysis import equipment_changes

    o = [obs(day, "optical", res=3.0, cloud=0.0) for day in ("2024-01-01", "2024-01-02", "2024-01-03", "2024-06-01")]
    dets = [vessel(o[1], 0), vessel(o[3], 0, kind="crane", berth=None)]
    pairs = equipment_changes(build_timeline("dunai", o, dets))
    # The ship came on the 2nd and left on the 3rd; June is another period, its crane no change.
    assert [(a.date.isoformat(), b.date.isoformat()) for a, b in pairs] == [("2024-01-01", "2024-01-02"), ("2024-01-02", "2024-01-03")]


def test_the_simulated_flag_follows_the_rows_shown() -> None:
    real = obs("2024-10-17")
    real = replace(real, scene=replace(real.scene, simulated=False))
    sim = obs("2024-06-01")  # simulated, outside the window
    tl = build_timeline("dunai", [real, sim], [], TimelineParams(start=date(2024, 10, 1)))
    assert not tl.simulated and not tl.rows[0].simulated
    assert build_timeline("dunai", [sim], []).rows[0].simulated


def test_same_vessel_off_berth_is_matched_by_ground_distance() -> None:
    # The 150 m radius is metres on the ground: a degree of longitude at 42.9°N is only ~81.5 km.
    def offset(o: Observation, n: int, east_m: float, north_m: float, berth: str | None = None) -> Detection:
        lon, lat = LON + east_m / 81_600.0, LAT + north_m / 111_050.0
        fp = box(lon - 0.0005, lat - 0.0001, lon + 0.0005, lat + 0.0001)
        return Detection(f"{o.id}-d{n}", o.id, "vessel", fp, 110.0, 15.0, 90.0, 0.9, "test", "1", berth_id=berth)

    a, b = obs("2024-10-17"), obs("2024-10-18")
    for east, north, same in ((130, 0, True), (0, 130, True), (0, 170, False), (170, 0, False)):
        tl = build_timeline("dunai", [a, b], [offset(a, 0, 0, 0), offset(b, 0, east, north)])
        assert (tl.rows[1].arrivals, tl.rows[1].departures) == ((0, 0) if same else (1, 1)), (east, north)
    # A vessel given a berth on one date and none on the next is matched by position.
    tl = build_timeline("dunai", [a, b], [offset(a, 0, 0, 0, "b1"), offset(b, 0, 20, 0)])
    assert (tl.rows[1].arrivals, tl.rows[1].departures) == (0, 0)


def test_length_tolerance_is_inclusive_and_grows_as_the_spread_of_a_difference() -> None:
    # Exactly 25 m apart on 1 m pixels is "at most 25 m": the same ship.
    a, b = obs("2024-10-17", res=1.0), obs("2024-10-18", res=1.0)
    tl = build_timeline("dunai", [a, b], [vessel(a, 0, length=100), vessel(b, 0, length=125)])
    assert (tl.rows[1].arrivals, tl.rows[1].departures) == (0, 0)
    # Two 10 m looks: the difference has sigma hypot(8.5, 8.5) = 12.1 m, so 3 sigma = 36 m; 45 m is two ships
    # (adding the two sigmas, 51 m, would call them one).
    a, b = obs("2024-10-17"), obs("2024-10-18")
    tl = build_timeline("dunai", [a, b], [vessel(a, 0, length=100), vessel(b, 0, length=145)])
    assert (tl.rows[1].arrivals, tl.rows[1].departures) == (1, 1)


def test_the_look_that_saw_most_stands_for_the_vessels_of_a_date_then_the_finest() -> None:
    # The date's sightings (their position and length are what the next date is matched against)
    # come from the observation that saw most; on a tie, from the finest pixels.
    s = obs("2024-10-17", "sar", hour=21)
    o = obs("2024-10-17", "optical", hour=2, res=3.0, cloud=0.0)
    row = build_timeline("dunai", [s, o], [vessel(s, 0), vessel(s, 1, berth="b2", dx_m=300), vessel(o, 0, length=113.0)]).rows[0]
    assert [x.detection_id for x in row.sightings] == [f"{s.id}-d0", f"{s.id}-d1"]
    assert row.observation_ids == (o.id, s.id)  # in order of acquisition
    tie = build_timeline("dunai", [s, o], [vessel(s, 0), vessel(o, 0, length=113.0)]).rows[0]
    assert [(x.sensor, x.length_m) for x in tie.sightings] == [("optical", 113.0)]


def test_arrivals_and_departures_name_the_berths_that_changed() -> None:
    a, b, c = obs("2024-10-17"), obs("2024-10-18"), obs("2024-10-19")
    dets = [vessel(a, 0), vessel(b, 0, berth="b2", dx_m=300), vessel(b, 1), vessel(c, 0, berth="b3", dx_m=600)]
    tl = build_timeline("dunai", [a, b, c], dets)
    assert [(r.arrival_berths, r.departure_berths) for r in tl.rows[1:]] == [(("b2",), ()), (("b3",), ("b1", "b2"))]
    d = timeline_to_dict(tl)
    assert d["presence_days"] == 3 and d["periods"][0]["arrivals"] == 2 and d["periods"][0]["departures"] == 2
    empty = obs("2024-10-20")
    assert timeline_to_dict(build_timeline("dunai", [a, empty], [vessel(a, 0)]))["presence_days"] == 1


def _hidden(o: Observation, **berths: float) -> Observation:
    """The observation as detect leaves it: each berth's hidden fraction in its provenance."""
    return replace(o, provenance={**o.provenance, "berths_hidden": berths})


def test_a_vessel_at_a_berth_under_cloud_is_carried_forward_not_departed() -> None:
    # Day 2: the site 90 % clear (usable), but the cloud sits on b1.
    a = _hidden(obs("2024-10-17", "optical", res=3.0, cloud=0.0), b1=0.0, b2=0.0)
    b = _hidden(obs("2024-10-18", "optical", res=3.0, cloud=0.1), b1=0.9, b2=0.0)
    c = _hidden(obs("2024-10-20", "optical", res=3.0, cloud=0.0), b1=0.0, b2=0.0)
    tl = build_timeline("dunai", [a, b, c], [vessel(a, 0), vessel(c, 0)])
    assert [(r.arrivals, r.departures) for r in tl.rows] == [(0, 0), (0, 0), (0, 0)]
    assert [r.hidden_berths for r in tl.rows] == [(), ("b1",), ()]
    assert [r.vessels for r in tl.rows] == [1, 0, 1]  # presence counts only what was seen
    assert tl.presence_days == 2
    # Day 3 sees b1 empty: the vessel left, and that is said on day 3.
    tl = build_timeline("dunai", [a, b, c], [vessel(a, 0)])
    assert [(r.arrivals, r.departures) for r in tl.rows] == [(0, 0), (0, 0), (0, 1)]
    assert tl.rows[2].departure_berths == ("b1",)
    assert timeline_to_dict(tl)["rows"][1]["hidden_berths"] == ["b1"]


def test_a_berth_seen_by_one_look_of_the_date_is_seen_and_the_limit_is_a_parameter() -> None:
    a = _hidden(obs("2024-10-17"), b1=0.0)
    cloudy = _hidden(obs("2024-10-18", "optical", hour=2, res=3.0, cloud=0.1), b1=1.0)
    radar = _hidden(obs("2024-10-18", "sar", hour=21), b1=0.0)
    tl = build_timeline("dunai", [a, cloudy, radar], [vessel(a, 0)])
    assert tl.rows[1].hidden_berths == () and tl.rows[1].departures == 1
    half = _hidden(obs("2024-10-18"), b1=0.6)
    assert build_timeline("dunai", [a, half], [vessel(a, 0)]).rows[1].departures == 0
    loose = TimelineParams(max_berth_hidden_fraction=0.7)
    assert build_timeline("dunai", [a, half], [vessel(a, 0)], loose).rows[1].departures == 1


def test_a_departure_decided_after_hidden_dates_says_when_the_vessel_was_last_seen() -> None:
    # Seen at b1 on day 1, b1 under cloud on days 2 and 3, b1 seen empty on day 4: it left after day 1.
    a = _hidden(obs("2024-10-17"), b1=0.0, b2=0.0)
    b = _hidden(obs("2024-10-18"), b1=0.9, b2=0.0)
    c = _hidden(obs("2024-10-19"), b1=0.9, b2=0.0)
    d = _hidden(obs("2024-10-20"), b1=0.0, b2=0.0)
    # A vessel at b2 leaves on a date that sees it go: no last-seen date, as before.
    dets = [vessel(a, 0), vessel(a, 1, berth="b2", dx_m=300), vessel(b, 0, berth="b2", dx_m=300)]
    tl = build_timeline("dunai", [a, b, c, d], dets)
    assert [(r.arrivals, r.departures) for r in tl.rows] == [(0, 0), (0, 0), (0, 1), (0, 1)]
    assert [r.departures_last_seen for r in tl.rows] == [{}, {}, {}, {"b1": date(2024, 10, 17)}]
    (gone,) = tl.rows[3].carried_departures
    assert (gone.last_seen, gone.observation_id, gone.detection_id) == (date(2024, 10, 17), a.id, f"{a.id}-d0")
    rows = timeline_to_dict(tl)["rows"]
    assert rows[3]["departures_last_seen"] == {"b1": "2024-10-17"} and rows[2]["departures_last_seen"] == {}
    keys = list(rows[3])
    assert keys[keys.index("departure_berths") + 1] == "departures_last_seen"
    assert "carried_departures" not in rows[3]
    full = timeline_to_dict(tl, sightings=True)["rows"][3]["carried_departures"]
    assert [(s["observation_id"], s["last_seen"]) for s in full] == [(a.id, "2024-10-17")]


def test_a_vessel_seen_again_after_hidden_dates_stays_and_carries_no_last_seen() -> None:
    a = _hidden(obs("2024-10-17"), b1=0.0)
    b = _hidden(obs("2024-10-18"), b1=0.9)
    c = _hidden(obs("2024-10-20"), b1=0.0)
    tl = build_timeline("dunai", [a, b, c], [vessel(a, 0), vessel(c, 0)])
    assert [(r.departures, r.departures_last_seen) for r in tl.rows] == [(0, {}), (0, {}), (0, {})]
    assert all(s.last_seen is None for r in tl.rows for s in r.sightings)


def _at(
    o: Observation, n: int, east_m: float, north_m: float, length: float, *, cut: bool = False, heading: float = 90.0
) -> Detection:
    """A vessel at no berth, ``east_m``/``north_m`` from the site's reference point, its axis at ``heading``."""
    lon, lat = LON + east_m / 81_607.0, LAT + north_m / 110_540.0
    fp = box(lon - 0.0001, lat - 0.0001, lon + 0.0001, lat + 0.0001)
    return Detection(f"{o.id}-d{n}", o.id, "vessel", fp, length, 60.0, heading, 0.9, "test", "1", truncated=cut)


def _stayed(first: list[Detection], second: list[Detection], a: Observation, b: Observation) -> tuple[int, int]:
    row = build_timeline("dunai", [a, b], [*first, *second]).rows[1]
    return row.arrivals, row.departures


def test_a_cut_piece_of_a_long_hull_at_anchor_lies_up_to_half_the_missing_length_along_its_axis() -> None:
    a, b = obs("2024-10-17"), obs("2024-10-18")
    # A 400 m ship lying east-west, then only 50 m of it in the image: the piece's centroid can be
    # (400 - 50) / 2 = 175 m from the hull's along the axis, 150 m further as any vessel may move.
    for east in (140.0, 160.0, 175.0, -175.0, 320.0):
        assert _stayed([_at(a, 0, 0, 0, 400)], [_at(b, 0, east, 0, 50, cut=True)], a, b) == (0, 0), east
        # Cut first, whole next: the same.
        assert _stayed([_at(a, 0, east, 0, 50, cut=True)], [_at(b, 0, 0, 0, 400)], a, b) == (0, 0), east
    # Beyond the offset and the 150 m, or across the axis (no hull there), another vessel.
    assert _stayed([_at(a, 0, 0, 0, 400)], [_at(b, 0, 330, 0, 50, cut=True)], a, b) == (1, 1)
    assert _stayed([_at(a, 0, 0, 0, 400)], [_at(b, 0, 0, 160, 50, cut=True)], a, b) == (1, 1)
    assert _stayed([_at(a, 0, 0, 0, 400, heading=0.0)], [_at(b, 0, 160, 0, 50, cut=True)], a, b) == (1, 1)
    # The axis is the heading on the ground: north-south, the offset runs north.
    assert _stayed([_at(a, 0, 0, 0, 400, heading=0.0)], [_at(b, 0, 0, 300, 50, cut=True)], a, b) == (0, 0)


def test_two_whole_ships_are_matched_centroid_to_centroid_however_long() -> None:
    a, b = obs("2024-10-17"), obs("2024-10-18")
    assert _stayed([_at(a, 0, 0, 0, 400)], [_at(b, 0, 160, 0, 400)], a, b) == (1, 1)
    # Two neighbours 160 m apart on both dates are two vessels that stayed, not one.
    tl = build_timeline("dunai", [a, b], [_at(a, 0, 0, 0, 400), _at(a, 1, 160, 0, 400), _at(b, 0, 0, 0, 400), _at(b, 1, 160, 0, 400)])
    assert [(r.vessels, r.arrivals, r.departures) for r in tl.rows] == [(2, 0, 0), (2, 0, 0)]


def test_a_cut_piece_between_two_whole_neighbours_is_matched_to_the_hull_it_lies_on() -> None:
    from sitewatch.analysis.occupancy import _sighting, match_sightings

    a, b = obs("2024-10-17"), obs("2024-10-18")
    big, small = _at(a, 0, 0, 0, 400), _at(a, 1, 160, 120, 100)
    piece = _at(b, 0, 160, 0, 50, cut=True)  # on the 400 m hull's axis, 120 m from the 100 m boat
    before, after = [_sighting(big, a), _sighting(small, a)], [_sighting(piece, b)]
    # 160 m from its hull's centroid but 0 m beyond the offset its cut allows; the boat is 120 m away.
    assert match_sightings(before, after, TimelineParams()) == [(0, 0)]
    assert match_sightings(before[::-1], after, TimelineParams()) == [(1, 0)]
    # Two pieces that both lie on the hull (0 m beyond their offsets): the nearer is it, in either order.
    hull = [_sighting(_at(a, 0, 0, 0, 400, heading=0.0), a)]
    near = _sighting(_at(b, 0, 0, 100, 50, cut=True, heading=0.0), b)
    far = _sighting(_at(b, 1, 0, -170, 50, cut=True, heading=0.0), b)
    assert match_sightings(hull, [far, near], TimelineParams()) == [(0, 1)]
    assert match_sightings(hull, [near, far], TimelineParams()) == [(0, 0)]


def test_two_cut_pieces_may_lie_as_far_apart_as_the_longest_catalogue_class_allows() -> None:
    a, b = obs("2024-10-17"), obs("2024-10-18")
    # Two 60 m pieces of one hull of at most 235 m (Panamax, the catalogue's longest): 175 m apart along it.
    assert _stayed([_at(a, 0, 0, 0, 60, cut=True)], [_at(b, 0, 320, 0, 60, cut=True)], a, b) == (0, 0)
    assert _stayed([_at(a, 0, 0, 0, 60, cut=True)], [_at(b, 0, 330, 0, 60, cut=True)], a, b) == (1, 1)
    # A piece longer than that class is its own bound: 300 m and 100 m leave (300 - 100) / 2 = 100 m.
    assert _stayed([_at(a, 0, 0, 0, 300, cut=True)], [_at(b, 0, 245, 0, 100, cut=True)], a, b) == (0, 0)
    assert _stayed([_at(a, 0, 0, 0, 300, cut=True)], [_at(b, 0, 255, 0, 100, cut=True)], a, b) == (1, 1)
    # Along the longer piece's axis: 150 m and 60 m leave 235 - 105 = 130 m.
    longer = _at(a, 0, 0, 0, 150, cut=True, heading=0.0)
    assert _stayed([longer], [_at(b, 0, 0, 270, 60, cut=True, heading=90.0)], a, b) == (0, 0)
    assert _stayed([longer], [_at(b, 0, 270, 0, 60, cut=True, heading=90.0)], a, b) == (1, 1)


def test_a_sighting_without_a_heading_takes_the_offset_in_every_direction() -> None:
    from sitewatch.analysis.occupancy import Sighting, match_sightings

    whole = Sighting("w", "o1", "sar", LON, LAT, 400.0, None)
    cut = Sighting("c", "o2", "sar", LON, LAT + 300 / 110_540.0, 50.0, None, truncated=True)
    assert match_sightings([whole], [cut], TimelineParams()) == [(0, 0)]  # 300 m: 175 + 125
    far = replace(cut, lat=LAT + 330 / 110_540.0)
    assert match_sightings([whole], [far], TimelineParams()) == []


def test_a_sighting_without_a_heading_takes_the_other_looks_heading_as_the_axis() -> None:
    from sitewatch.analysis.occupancy import Sighting, match_sightings

    # The whole look's heading is the axis; without one, the cut piece's (east-west) is, not a circle.
    whole = Sighting("w", "o1", "sar", LON, LAT, 400.0, None)
    beside = Sighting("c", "o2", "sar", LON, LAT + 300 / 110_540.0, 50.0, None, truncated=True, heading_deg=90.0)
    along = replace(beside, lon=LON + 300 / 81_607.0, lat=LAT)
    assert match_sightings([whole], [beside], TimelineParams()) == []  # 300 m across the axis
    assert match_sightings([whole], [along], TimelineParams()) == [(0, 0)]  # 300 m along it: 175 + 125
    # Two cut pieces: the longer one's axis, else the shorter one's (north-south here).
    longer = Sighting("l", "o1", "sar", LON, LAT, 150.0, None, truncated=True, heading_deg=float("nan"))
    north = Sighting("n", "o2", "sar", LON, LAT + 270 / 110_540.0, 60.0, None, truncated=True, heading_deg=0.0)
    east = replace(north, lon=LON + 270 / 81_607.0, lat=LAT)
    assert match_sightings([longer], [north], TimelineParams()) == [(0, 0)]
    assert match_sightings([longer], [east], TimelineParams()) == []


def test_two_looks_of_a_date_count_a_cut_piece_of_a_long_hull_once() -> None:
    s, o = obs("2024-10-17", "sar", hour=21), obs("2024-10-17", "optical", hour=2, cloud=0.0)
    (row,) = build_timeline("dunai", [s, o], [_at(s, 0, 0, 0, 400), _at(o, 0, 170, 0, 50, cut=True)]).rows
    assert row.vessels == 1 and [x.length_m for x in row.sightings] == [400.0]
