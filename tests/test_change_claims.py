"""Change claims (change_present / change_absent) decided from stored change pairs (evidence_change.py)."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from shapely.geometry import box

from sitewatch.analysis.occupancy import TimelineParams
from sitewatch.evidence import World, check_claim
from sitewatch.model import Change
from sitewatch.store.changes import ChangePair
from test_claims import _site, claim, obs

SITE = _site("base")


def _pair(b: Any, a: Any, compared: float = 1.0) -> ChangePair:
    return ChangePair("base", b.id, a.id, b.scene.acquired, a.scene.acquired, "optical", compared, "irmad-cva", "1")


def _region(p: ChangePair, n: int, area: float, direction: str = "appeared") -> Change:
    return Change(f"{p.before_id}..{p.after_id}#{n}", "base", p.before_id, p.after_id, box(0, 0, 0.001, 0.001), area,
                  9.0, direction, "irmad-cva", "1")  # fmt: skip


def _series(days: list[str], compared: dict[int, float] | None = None) -> tuple[list[Any], list[ChangePair]]:
    o = [obs(d, site="base", sensor="optical", res=3.0) for d in days]
    return o, [_pair(o[i - 1], o[i], (compared or {}).get(i, 1.0)) for i in range(1, len(o))]


def _verdict(kind: str, o: list[Any], pairs: list[ChangePair], regions: list[Change], **extra: Any) -> Any:
    c = claim({"kind": kind, **extra}, sites=("base",), **{"from": "2024-10-01", "to": "2024-10-10"})
    return check_claim(c, World({"base": SITE}, o, [], change_pairs=pairs, changes=regions))


DAYS = ["2024-09-24", "2024-10-01", "2024-10-08", "2024-10-17"]


def test_a_region_in_a_pair_bracketing_the_dates_supports_present_and_contradicts_absent() -> None:
    o, pairs = _series(DAYS)
    regions = [_region(pairs[1], 1, 7800.0), _region(pairs[1], 2, 500.0)]
    r = _verdict("change_present", o, pairs, regions, min_area_m2=2000)
    assert r.verdict == "supported"
    assert "2024-10-01 09:00 UTC, 3 m optical → 2024-10-08 09:00 UTC, 3 m optical: 1 changed region of at least 2,000 m²" in r.reason
    assert "7,800 m² in all" in r.reason and r.reason.endswith("(SIMULATED imagery)")
    assert [im.observation_id for im in r.images] == [o[1].id, o[2].id]
    assert r.parts[0].images[1].change_ids == (regions[0].id,)
    assert _verdict("change_absent", o, pairs, regions, min_area_m2=2000).verdict == "contradicted"


def test_no_region_of_the_size_or_direction_contradicts_present_and_supports_absent() -> None:
    o, pairs = _series(DAYS)
    small = [_region(pairs[1], 1, 800.0), _region(pairs[2], 1, 9000.0, "altered")]
    for extra in ({"min_area_m2": 2000}, {"direction": "appeared"}):
        r = _verdict("change_present", o, pairs, small[:1] if "min_area_m2" in extra else small[1:], **extra)
        assert r.verdict == "contradicted", r.reason
        assert "bracketing 2024-10-01 to 2024-10-10" in r.reason
    assert _verdict("change_absent", o, pairs, small[:1], min_area_m2=2000).verdict == "supported"


def test_no_pair_bracketing_the_dates_is_not_testable() -> None:
    o2, pairs2 = _series(DAYS[:3])  # ends on 8 Oct, before the 10th
    r = _verdict("change_present", o2, pairs2, [])
    assert r.verdict == "not testable" and "no stored pair of base's images brackets 2024-10-01 to 2024-10-10" in r.reason
    assert _verdict("change_absent", o2, [], []).verdict == "not testable"  # nothing compared at all
    o3, pairs3 = _series(["2024-10-02", "2024-10-08", "2024-10-17"])  # starts after the 1st
    assert _verdict("change_present", o3, pairs3, []).verdict == "not testable"


def test_not_testable_for_want_of_a_bracketing_pair_says_what_is_missing() -> None:
    # Images inside the dates only: `sitewatch change` had run, and running it again cannot bracket them.
    late, pairs = _series(["2024-10-02", "2024-10-17"])
    r = _verdict("change_present", late, pairs, [])
    assert "no image of base on or before 2024-10-01 (the first is of 2024-10-02)" in r.reason
    assert "no image of base on or after" not in r.reason and "run `sitewatch change" not in r.reason, r.reason
    inside, pairs = _series(["2024-10-02", "2024-10-09"])
    r = _verdict("change_present", inside, pairs, [])
    assert "no image of base on or before 2024-10-01" in r.reason
    assert "no image of base on or after 2024-10-10 (the last is of 2024-10-09)" in r.reason
    # The images to bracket the dates are there, but no pair of them was compared: then run change.
    o, _ = _series(DAYS)
    assert _verdict("change_present", o, [], []).reason.endswith("run `sitewatch change base`")


def test_a_bracketing_pair_that_compared_little_of_the_site_cannot_say_nothing_changed() -> None:
    o, pairs = _series(DAYS, compared={2: 0.2})
    r = _verdict("change_absent", o, pairs, [])
    assert r.verdict == "not testable" and "compared only 20% of the site" in r.reason
    # ...but a region it found still counts
    assert _verdict("change_present", o, pairs, [_region(pairs[1], 1, 5000.0)]).verdict == "supported"


def test_a_malformed_change_assertion_is_named() -> None:
    from sitewatch.claims_file import parse_claims

    raw = {"id": "c", "text": "t", "source": "s", "sites": ["base"], "date": "2024-10-03",
           "assert": {"kind": "change_present", "direction": "dug"}}  # fmt: skip
    problems = parse_claims([raw]).problems
    assert problems and problems[0].field == "assert.direction" and "appeared" in problems[0].message
    raw["assert"] = {"kind": "change_absent", "berth": "pier-east"}
    assert parse_claims([raw]).problems[0].field == "assert.berth"


def test_a_pair_whose_image_was_ingested_again_since_does_not_count() -> None:
    import dataclasses

    o, pairs = _series(DAYS)
    stale = [dataclasses.replace(p, before_sha256="cd" * 32) if i == 1 else p for i, p in enumerate(pairs)]
    r = _verdict("change_present", o, stale, [_region(stale[1], 1, 5000.0)])
    assert r.verdict == "not testable"  # the only run bracketing the dates goes through the stale pair


def test_the_reason_names_a_pair_within_the_dates_before_a_larger_region_beyond_them() -> None:
    fine, fine_pairs = _series(DAYS)
    coarse = [obs(d, site="base", sensor="optical", res=10.0, hour=1) for d in ("2024-09-30", "2024-10-12")]
    wide = _pair(coarse[0], coarse[1])
    regions = [_region(fine_pairs[1], 1, 3000.0), _region(wide, 1, 20000.0)]
    r = _verdict("change_present", fine + coarse, [*fine_pairs, wide], regions)
    assert r.verdict == "supported"
    assert r.reason.startswith("2024-10-01 09:00 UTC, 3 m optical → 2024-10-08 09:00 UTC, 3 m optical: 1 changed region")
    assert "(and 1 other pair with such regions)" in r.reason and "reach outside" not in r.reason


def test_with_a_utc_offset_a_pair_brackets_the_dates_by_its_images_local_dates() -> None:
    # The after image, 9 Oct 20:00 UTC, is on 10 Oct at UTC+10: it ends the claimed dates there, not in UTC.
    o = [obs("2024-09-24", site="base", sensor="optical", res=3.0), obs("2024-10-09", site="base", sensor="optical", res=3.0, hour=20)]
    pairs = [_pair(o[0], o[1])]
    c = claim({"kind": "change_present"}, sites=("base",), **{"from": "2024-10-01", "to": "2024-10-10"})
    utc = check_claim(c, World({"base": SITE}, o, [], change_pairs=pairs, changes=[_region(pairs[0], 1, 7800.0)]))
    assert utc.verdict == "not testable" and "the last is of 2024-10-09" in utc.reason, utc.reason
    local = World({"base": SITE}, o, [], params=TimelineParams(utc_offset_hours=10), change_pairs=pairs,
                  changes=[_region(pairs[0], 1, 7800.0)])  # fmt: skip
    r = check_claim(c, local)
    assert r.verdict == "supported", r.reason
    assert r.parts[0].tested == (date(2024, 9, 24), date(2024, 10, 10))


def _claimed(kind: str, start: str, end: str, o: list[Any], pairs: list[ChangePair], regions: list[Change]) -> Any:
    c = claim({"kind": kind}, sites=("base",), **{"from": start, "to": end})
    return check_claim(c, World({"base": SITE}, o, [], change_pairs=pairs, changes=regions))


def test_a_region_another_pair_already_saw_before_the_dates_does_not_support_them() -> None:
    # Trenches dug on 3 October: the 3 m pair 1 -> 8 October holds them, and so does the 10 m pair 30 September ->
    # 5 October. A claim of 6 to 9 October rests on the 3 m pair, but the 10 m one saw them on the 5th: not in the dates.
    fine, fine_pairs = _series(DAYS)
    coarse = [obs(d, site="base", sensor="optical", res=10.0, hour=1) for d in ("2024-09-30", "2024-10-05", "2024-10-15")]
    early, late = _pair(coarse[0], coarse[1]), _pair(coarse[1], coarse[2])
    regions = [_region(fine_pairs[1], 1, 7800.0, "altered"), _region(early, 1, 18500.0)]
    r = _claimed("change_present", "2024-10-06", "2024-10-09", fine + coarse, [*fine_pairs, early, late], regions)
    assert r.verdict == "not testable", r.reason
    assert "already seen in 2024-09-30 01:00 UTC, 10 m optical → 2024-10-05 01:00 UTC, 10 m optical, before 2024-10-06" in r.reason
    assert {im.observation_id for im in r.images} == {fine[1].id, fine[2].id, coarse[0].id, coarse[1].id}
    absent = _claimed("change_absent", "2024-10-06", "2024-10-09", fine + coarse, [*fine_pairs, early, late], regions)
    assert absent.verdict == "not testable", absent.reason
    # A region elsewhere on the ground is another change: it still supports (the pair reaching outside, said so).
    apart = [regions[0], dataclasses.replace(regions[1], polygon=box(0.01, 0.01, 0.011, 0.011))]
    r = _claimed("change_present", "2024-10-06", "2024-10-09", fine + coarse, [*fine_pairs, early, late], apart)
    assert r.verdict == "supported" and "reach outside" in r.reason, r.reason
    # Claimed on days the 10 m pair also spans, it supports: the change may lie in them.
    r = _claimed("change_present", "2024-10-01", "2024-10-10", fine + coarse, [*fine_pairs, early, late], regions)
    assert r.verdict == "supported", r.reason
    # ...and the reason dates it by both series: the 3 m pair's before image and the 10 m pair's after image.
    assert ("; dated by every pair: last seen without 2024-10-01 09:00 UTC (3 m optical), first seen 2024-10-05 01:00 UTC "
            "(10 m optical) (SIMULATED imagery)") in r.reason, r.reason  # fmt: skip


def test_a_region_another_pair_places_after_the_dates_does_not_support_them() -> None:
    # The 3 m pair 8 -> 17 October holds a region; the 10 m pair 15 -> 20 October shows it appearing after the 15th.
    fine, fine_pairs = _series(DAYS)
    coarse = [obs(d, site="base", sensor="optical", res=10.0, hour=1) for d in ("2024-10-05", "2024-10-15", "2024-10-20")]
    first, second = _pair(coarse[0], coarse[1]), _pair(coarse[1], coarse[2])
    regions = [_region(fine_pairs[2], 1, 3000.0), _region(second, 1, 6000.0)]
    r = _claimed("change_present", "2024-10-09", "2024-10-12", fine + coarse, [*fine_pairs, first, second], regions)
    assert r.verdict == "not testable", r.reason
    assert "not yet there in 2024-10-15 01:00 UTC, 10 m optical → 2024-10-20 01:00 UTC, 10 m optical, after 2024-10-12" in r.reason
