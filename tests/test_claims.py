"""Claims checked against the imagery (evidence.py, claims_file.py, `sitewatch claims check`).

Each kind supported, contradicted and not testable on small hand-made observations and detections;
malformed claims named by id and field while the others are checked; the CLI's exit codes.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from shapely.affinity import rotate
from shapely.geometry import LineString, box

from _a11y import accessible_name, elements, links_named_alike
from _report_world import build
from sitewatch.claims_file import (
    builtin_claims_path,
    check_against_sites,
    parse_claims,
    read_claims,
)
from sitewatch.cli import main
from sitewatch.evidence import World, check_claim, check_claims
from sitewatch.model import Berth, Detection, Grid, Observation, SceneRef, Site
from sitewatch.vessels import class_candidates

LON, LAT = 132.338, 42.880
RASON = (130.300, 42.233)
GRID = Grid("EPSG:32653", (10.0, 0.0, 500000.0, 0.0, -10.0, 4750000.0), 100, 100)
# A north-south pier face 0.002° (~160 m) east of the centre; a crane's boom east-west is across it.
PIER = Berth("pier-east", LineString([(LON + 0.002, LAT - 0.003), (LON + 0.002, LAT + 0.002)]), "Pier, east face")


def _site(sid: str = "dunai", lon: float = LON, lat: float = LAT, berths: tuple[Berth, ...] = (PIER,)) -> Site:
    return Site(sid, sid.title(), "port", box(lon - 0.02, lat - 0.02, lon + 0.02, lat + 0.02), berths)


def obs(day: str, *, site: str = "dunai", hour: int = 9, res: float = 10.0, sensor: str = "sar",
        cloud: float | None = None, valid: float = 1.0, hidden: dict[str, float] | None = None) -> Observation:  # fmt: skip
    d = date.fromisoformat(day)
    item = f"{site}-{day}-{sensor}-{res:g}"
    scene = SceneRef("simulator", "sim", item, sensor, datetime(d.year, d.month, d.day, hour, tzinfo=UTC), res, simulated=True)
    prov = {"berths_hidden": hidden} if hidden else {}
    return Observation(f"{site}/{item}", site, scene, GRID, f"archive/{site}/{item}.tif", "ab" * 32, valid, cloud, prov)


def vessel(o: Observation, n: int, length: float, *, berth: str | None = "pier-east", width: float = 15.0,
           truncated: bool = False, lon: float = LON + 0.0022, lat: float = LAT) -> Detection:  # fmt: skip
    fp = box(lon - 0.0001, lat - 0.0006, lon + 0.0001, lat + 0.0006)
    cands = () if truncated else class_candidates(length, width, o.scene.resolution_m)
    return Detection(f"{o.id}#{n}", o.id, "vessel", fp, length, width, 0.0, 0.9, "test", "1", berth_id=berth,
                     class_candidates=cands, truncated=truncated)  # fmt: skip


def crane(o: Observation, n: int, heading: float) -> Detection:
    fp = rotate(box(LON + 0.0017, LAT - 0.00002, LON + 0.0021, LAT + 0.00002), 90 - heading, origin="centroid")
    return Detection(f"{o.id}#{n}", o.id, "crane", fp, 32.0, 3.0, heading, 0.8, "test", "1")


def world(observations: list[Observation], detections: list[Detection], sites: list[Site] | None = None) -> World:
    sites = sites or [_site()]
    return World({s.id: s for s in sites}, observations, detections)


def claim(assertion: dict[str, Any], *, sites: tuple[str, ...] = ("dunai",), **when: Any) -> Any:
    raw = {"id": "c1", "text": "as published", "source": {"who": "a think tank", "when": "2024"},
           "sites": list(sites), **(when or {"date": "2024-10-17"}), "assert": assertion}  # fmt: skip
    parsed = parse_claims([raw])
    assert not parsed.problems, parsed.problems
    return parsed.claims[0]


def verdict(assertion: dict[str, Any], observations: list[Observation], detections: list[Detection], **kw: Any) -> Any:
    sites = kw.pop("site_objs", None)
    return check_claim(claim(assertion, **kw), world(observations, detections, sites))


LANDING = {"kind": "vessel_present", "berth": "pier-east", "min_length_m": 100, "max_length_m": 130}


# --- vessel present / absent ------------------------------------------------------------------


def test_a_vessel_of_the_claimed_size_at_the_berth_supports_and_the_reason_names_the_image() -> None:
    o = obs("2024-10-17", hour=0, res=3.0, sensor="optical", cloud=0.0)
    r = verdict(LANDING, [o], [vessel(o, 0, 111.0)])
    assert r.verdict == "supported"
    assert r.reason.startswith("2024-10-17 00:00 UTC, 3 m optical: a 111 m vessel at pier-east")
    assert r.reason.endswith("(SIMULATED imagery)")
    (im,) = r.images
    assert (im.path, im.sha256, im.detection_ids) == (o.path, o.sha256, (f"{o.id}#0",))


def test_an_empty_berth_or_a_vessel_far_from_the_size_contradicts() -> None:
    o = obs("2024-10-17")
    r = verdict(LANDING, [o], [])
    assert r.verdict == "contradicted" and "no vessel of 100–130 m at pier-east" in r.reason
    assert verdict(LANDING, [o], [vessel(o, 0, 60.0)]).verdict == "contradicted"
    assert verdict(LANDING, [o], [vessel(o, 0, 111.0, berth="other")]).verdict == "contradicted"


def test_no_usable_image_is_not_testable_never_contradicted() -> None:
    assert verdict(LANDING, [], []).verdict == "not testable"
    assert "no image of dunai" in verdict(LANDING, [], []).reason
    cloudy = obs("2024-10-17", res=3.0, sensor="optical", cloud=0.6)
    r = verdict(LANDING, [cloudy], [])
    assert r.verdict == "not testable" and "cloud over 60%" in r.reason
    assert [im.observation_id for im in r.images] == [cloudy.id]  # the image that could not tell, and why
    hidden = obs("2024-10-17", hidden={"pier-east": 1.0})
    assert verdict(LANDING, [hidden], []).verdict == "not testable"
    half = obs("2024-10-17", valid=0.3)
    assert verdict(LANDING, [half], []).verdict == "not testable"


def test_a_length_within_the_measurement_error_or_a_cut_hull_is_not_testable() -> None:
    o = obs("2024-10-17")  # 10 m pixels: the length error is ±17 m at two sigmas
    r = verdict(LANDING, [o], [vessel(o, 0, 92.0)])
    assert r.verdict == "not testable" and "within the ±17 m error of 10 m pixels" in r.reason
    assert verdict(LANDING, [o], [vessel(o, 0, 80.0, truncated=True)]).verdict == "not testable"
    assert verdict(LANDING, [o], [vessel(o, 0, 140.0, truncated=True)]).verdict == "contradicted"


def test_a_class_claim_at_10_m_is_not_testable_as_to_class_even_with_the_right_size() -> None:
    o = obs("2024-10-17")
    r = verdict({"kind": "vessel_present", "berth": "pier-east", "class": "Alligator"}, [o], [vessel(o, 0, 113.0)])
    assert r.verdict == "not testable"
    assert "not testable as to class" in r.reason and "Alligator/Tapir" in r.reason and "Ropucha" in r.reason
    assert "a 113 m vessel at pier-east" in r.reason


def test_a_class_claim_is_contradicted_by_a_vessel_of_another_size_and_supported_when_size_decides() -> None:
    o = obs("2024-10-17", res=3.0, sensor="optical", cloud=0.0)
    r = verdict({"kind": "vessel_present", "class": "Alligator"}, [o], [vessel(o, 0, 90.0, width=14.0)])
    assert r.verdict == "contradicted"
    r = verdict({"kind": "vessel_present", "class": "general cargo"}, [o], [vessel(o, 0, 90.0, width=14.0)])
    assert r.verdict == "supported" and "small coaster / general cargo by size (0.85)" in r.reason


def test_absence_supported_contradicted_and_not_testable() -> None:
    gone = {"kind": "vessel_absent", "berth": "pier-east"}
    o = obs("2024-10-20", res=3.0, sensor="optical", cloud=0.0)
    assert verdict(gone, [o], [], date="2024-10-20").verdict == "supported"
    r = verdict(gone, [o], [vessel(o, 0, 111.0)], date="2024-10-20")
    assert r.verdict == "contradicted" and "a 111 m vessel at pier-east" in r.reason
    assert verdict(gone, [], [], date="2024-10-20").verdict == "not testable"
    hidden = obs("2024-10-20", hidden={"pier-east": 0.9})
    assert verdict(gone, [hidden], [], date="2024-10-20").verdict == "not testable"


# --- objects ---------------------------------------------------------------------------------------


def test_a_crane_extended_across_the_berth_then_retracted_along_it() -> None:
    a = obs("2024-10-17", res=3.0, sensor="optical", cloud=0.0)
    b = obs("2024-10-20", res=3.0, sensor="optical", cloud=0.0)
    dets = [crane(a, 0, 90.0), crane(b, 0, 0.0)]
    extended = {"kind": "object_present", "object": "crane", "state": "extended"}
    r = verdict(extended, [a, b], dets)
    assert r.verdict == "supported" and "a crane, extended (boom across pier-east)" in r.reason
    assert verdict(extended, [a, b], dets, date="2024-10-20").verdict == "contradicted"
    retracted = {"kind": "object_present", "object": "crane", "state": "retracted"}
    assert verdict(retracted, [a, b], dets, date="2024-10-20").verdict == "supported"
    assert verdict({"kind": "object_absent", "object": "crane"}, [a, b], dets, date="2024-10-20").verdict == "contradicted"
    c = obs("2024-10-21", res=3.0, sensor="optical", cloud=0.0)
    assert verdict({"kind": "object_absent", "object": "crane"}, [c], [], date="2024-10-21").verdict == "supported"


def test_a_crane_on_10_m_pixels_is_not_testable() -> None:
    o = obs("2024-10-17")  # SAR 10 m: cranes do not show
    r = verdict({"kind": "object_present", "object": "crane"}, [o], [])
    assert r.verdict == "not testable" and "cranes show only on pixels of 5 m or finer" in r.reason
    assert verdict({"kind": "object_absent", "object": "crane"}, [o], []).verdict == "not testable"


def test_a_crane_state_without_berths_is_not_testable() -> None:
    a = obs("2024-10-17", res=3.0, sensor="optical", cloud=0.0)
    r = verdict({"kind": "object_present", "object": "crane", "state": "extended"}, [a], [crane(a, 0, 90.0)],
                site_objs=[_site(berths=())])  # fmt: skip
    assert r.verdict == "not testable" and "state cannot be told" in r.reason


# --- ranges ----------------------------------------------------------------------------------------


def test_all_dates_of_a_range_with_some_untested_says_which_dates_were_tested() -> None:
    days = ["2024-10-17", "2024-10-18", "2024-10-20"]  # the 19th has no image
    o = [obs(d) for d in days]
    r = verdict(LANDING | {"on": "all"}, o, [vessel(x, 0, 111.0) for x in o], **{"from": "2024-10-17", "to": "2024-10-20"})
    assert r.verdict == "supported" and r.partial
    assert r.parts[0].tested == tuple(date.fromisoformat(d) for d in days)
    assert r.parts[0].untested == (date(2024, 10, 19),)
    assert "not tested: 2024-10-19" in r.reason
    r = verdict(LANDING | {"on": "all"}, o, [vessel(x, 0, 111.0) for x in o[:2]], **{"from": "2024-10-17", "to": "2024-10-20"})
    assert r.verdict == "contradicted" and r.reason.startswith("2024-10-20")


def test_some_date_of_a_range_is_contradicted_only_when_every_date_was_tested() -> None:
    o = [obs(d) for d in ("2024-10-17", "2024-10-18")]
    rng = {"from": "2024-10-17", "to": "2024-10-18"}
    assert verdict(LANDING, o, [vessel(o[1], 0, 111.0)], **rng).verdict == "supported"
    assert verdict(LANDING, o, [], **rng).verdict == "contradicted"
    r = verdict(LANDING, o, [], **{"from": "2024-10-17", "to": "2024-10-19"})
    assert r.verdict == "not testable" and "2024-10-19" in r.reason


# --- presence days ---------------------------------------------------------------------------------


def _rason_days(n_imaged: int, n_present: int) -> tuple[list[Observation], list[Detection]]:
    start = date(2023, 9, 1)
    o = [obs((start + timedelta(days=i)).isoformat(), site="rason") for i in range(n_imaged)]
    rason_pier = (RASON[0] + 0.0022, RASON[1])
    return o, [vessel(x, 0, 98.0, lon=rason_pier[0], lat=rason_pier[1]) for x in o[:n_present]]


RASON_SITE = _site("rason", *RASON, berths=(Berth("pier-1", LineString([(RASON[0] + 0.002, RASON[1] - 0.003),
                                                                        (RASON[0] + 0.002, RASON[1] + 0.002)])),))  # fmt: skip


def _days_claim(days: int, tolerance: int, o: list[Observation], d: list[Detection], to: str) -> Any:
    d = [Detection(x.id, x.observation_id, x.kind, x.footprint, x.length_m, x.width_m, x.heading_deg, x.score,
                   x.detector, x.detector_version, berth_id="pier-1", class_candidates=x.class_candidates) for x in d]  # fmt: skip
    return verdict({"kind": "presence_days", "berth": "any", "days": days, "tolerance": tolerance}, o, d,
                   sites=("rason",), site_objs=[RASON_SITE], **{"from": "2023-09-01", "to": to})  # fmt: skip


def test_presence_days_within_the_tolerance_support_and_more_contradict() -> None:
    o, d = _rason_days(10, 6)
    r = _days_claim(6, 0, o, d, "2023-09-10")
    assert r.verdict == "supported" and r.reason.startswith("6 dates with a vessel at a berth of rason among 10 usable imaged dates")
    assert len(r.images) == 6
    assert _days_claim(4, 1, o, d, "2023-09-10").verdict == "contradicted"  # 6 > 4 + 1
    r = _days_claim(8, 1, o, d, "2023-09-10")  # every day imaged: 6 < 7
    assert r.verdict == "contradicted" and r.reason.endswith(": fewer than claimed, with every day of the range imaged (SIMULATED imagery)")
    assert "all 0 days" not in r.reason  # was "even if all 0 days without a usable image had one"


def test_presence_days_below_the_claim_with_days_unimaged_is_not_testable() -> None:
    o, d = _rason_days(10, 6)
    r = _days_claim(9, 0, o, d, "2023-09-20")  # 10 days unimaged could hold 3 more
    assert r.verdict == "not testable" and "could hold the rest" in r.reason
    assert _days_claim(30, 0, o, d, "2023-09-20").verdict == "contradicted"  # 6 + 10 < 30


def test_presence_days_with_no_usable_image_in_the_range_is_not_testable() -> None:
    # "0 days" over a range no image saw was "supported (on the dates tested)", with no date tested.
    r = _days_claim(0, 0, [], [], "2023-09-10")
    assert r.verdict == "not testable" and "no usable image" in r.reason and not r.images
    o, d = _rason_days(10, 6)
    r = verdict({"kind": "presence_days", "days": 0}, o, d, sites=("rason",), site_objs=[RASON_SITE],
                **{"from": "2019-01-01", "to": "2019-02-01"})  # fmt: skip
    assert r.verdict == "not testable"


# --- transit ---------------------------------------------------------------------------------------


def _transit(dunai_days: list[str], rason_days: list[str], ship_at_dunai: str | None, dunai_kind: str = "port",
             *, size: dict[str, float] | None = None, lengths: tuple[float, float] = (92.0, 90.0)) -> Any:  # fmt: skip
    rason = _site("rason", *RASON, berths=())
    dunai = replace(_site(berths=()), kind=dunai_kind)
    r_obs = [obs(d, site="rason") for d in rason_days]
    d_obs = [obs(d, site="dunai", hour=1) for d in dunai_days]
    dets = [vessel(o, 0, lengths[0], berth=None, lon=RASON[0], lat=RASON[1]) for o in r_obs if o.scene.acquired.day <= 12]
    dets += [vessel(o, 0, lengths[1], berth=None) for o in d_obs if ship_at_dunai and o.scene.acquired.date().isoformat() >= ship_at_dunai]
    return verdict({"kind": "vessel_transit", "within_days": 2, **(size or {})}, r_obs + d_obs, dets, sites=("rason", "dunai"),
                   site_objs=[rason, dunai], **{"from": "2024-10-11", "to": "2024-10-13"})  # fmt: skip


DAYS = [f"2024-10-{d}" for d in range(10, 17)]


def test_a_vessel_gone_from_one_site_and_at_the_other_two_days_later_supports() -> None:
    r = _transit(DAYS, DAYS, "2024-10-14")
    assert r.verdict == "supported", r.reason
    assert "last seen at rason" in r.reason and "first seen at dunai, 2 days later" in r.reason
    assert "a candidate link, not an identity" in r.reason
    assert [im.site_id for im in r.images] == ["rason", "dunai"]


def test_no_link_contradicts_only_when_both_sites_were_imaged_every_day() -> None:
    assert _transit(DAYS, DAYS, "2024-10-16").verdict == "contradicted"  # 4 days later: too late
    r = _transit([d for d in DAYS if d != "2024-10-14"], DAYS, None)
    assert r.verdict == "not testable" and "dunai has no usable image on 1 date (2024-10-14)" in r.reason


def test_a_transit_a_day_or_no_day_later_says_so_in_words() -> None:
    # The reason read "1 days later" (and "0 days later" for an arrival seen the same date).
    assert "first seen at dunai, 1 day later, " in _transit(DAYS, DAYS, "2024-10-13").reason
    from sitewatch.evidence import _later

    assert (_later(0), _later(2)) == ("the same day", "2 days later")


def test_a_transit_whose_vessel_measured_just_outside_the_claimed_size_is_not_testable_not_contradicted() -> None:
    # A landing ship (~113 m) measured 93 m at its first sighting at the destination (10 m pixels, ±17 m): the
    # link was dropped and the claim called "contradicted ... with both sites imaged on every date", where
    # vessel_present calls such a vessel "may fit" and the date not testable.
    landing = {"min_length_m": 100, "max_length_m": 130}
    r = _transit(DAYS, DAYS, "2024-10-14", size=landing, lengths=(113.0, 93.0))
    assert r.verdict == "not testable", r.reason
    assert "a 93 m vessel first seen at dunai, 2 days later: a candidate link whose size may fit" in r.reason
    assert "within the ±17 m error of 10 m pixels" in r.reason
    assert [im.site_id for im in r.images] == ["rason", "dunai"]
    assert _transit(DAYS, DAYS, "2024-10-14", size=landing, lengths=(113.0, 111.0)).verdict == "supported"
    # Far outside the size (a 60 m vessel at the destination) is no such link: contradicted, as before.
    assert _transit(DAYS, DAYS, "2024-10-14", size=landing, lengths=(113.0, 60.0)).verdict == "contradicted"


def test_a_transit_to_an_inland_site_is_not_testable_saying_there_is_no_sea_route() -> None:
    # `links` gives a pair with a training ground no link: the claim was "contradicted" (both sites
    # imaged every day) or "not testable" for want of images, never for the reason it was.
    r = _transit(DAYS, DAYS, "2024-10-14", dunai_kind="training_ground")
    assert r.verdict == "not testable" and "no sea route between rason and dunai" in r.reason, r.reason


# --- the file ----------------------------------------------------------------------------------------


GOOD = {"id": "ok", "text": "t", "source": "s", "sites": ["dunai"], "date": "2024-10-17",
        "assert": {"kind": "vessel_present"}}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"assert": {"kind": "vessel_presnt"}}, "assert.kind", "unknown kind 'vessel_presnt'"),
        ({"text": None}, "text", "missing"),
        ({"date": "2024-13-40"}, "date", "not a date"),
        ({"date": None, "from": "2024-10-20", "to": "2024-10-17"}, "from", "is after"),
        ({"assert": {"kind": "vessel_present", "class": "Frigate"}}, "assert.class", "no class of the vessel catalogue"),
        ({"assert": {"kind": "presence_days"}}, "assert.days", "missing"),
        ({"assert": [{"kind": "vessel_present"}, {"kind": "object_present", "object": "truck"}]}, "assert[1].object", "truck"),
        ({"assert": {"kind": "vessel_present", "colour": "grey"}}, "assert.colour", "not a field of vessel_present"),
        ({"assert": {"kind": "vessel_present", "min_length_m": -5}}, "assert.min_length_m", "above 0"),
        ({"source": {"who": "x", "url": "y"}}, "source.url", "not a field"),
        # a transit's destination not among the claim's sites was named as the field `site`, which it has not
        ({"sites": ["dunai", "rason"], "assert": {"kind": "vessel_transit", "within_days": 3, "destination": "vladivostok"}},
         "assert.destination", "'vladivostok' is not among the claim's sites"),
        # found by fuzz/fuzz_claims.py: OverflowError (int too large to convert to float) tracebacks
        ({"assert": {"kind": "vessel_present", "max_length_m": 10**400}}, "assert.max_length_m", "got one of 401 digits"),
        ({"assert": {"kind": "presence_days", "days": 10**400}}, "assert.days", "got one of 401 digits"),
    ],
)
def test_a_malformed_claim_is_named_with_its_field_and_the_others_proceed(change: dict[str, Any], field: str, words: str) -> None:
    bad = {k: v for k, v in ({**GOOD, "id": "bad"} | change).items() if v is not None}
    parsed = parse_claims([GOOD, bad])
    assert [c.id for c in parsed.claims] == ["ok"]
    (problem,) = parsed.problems
    assert (problem.claim, problem.field) == ("bad", field) and words in problem.message, problem


def test_an_id_in_another_script_is_told_to_use_latin_letters() -> None:
    # 'дунай-1' was refused with "use letters, digits, …": Cyrillic letters are letters to their reader.
    parsed = parse_claims([GOOD, {**GOOD, "id": "дунай-1"}])
    (problem,) = parsed.problems
    assert problem.field == "id" and "'дунай-1': use Latin letters (a-z, A-Z), digits" in problem.message, problem


def test_a_site_given_by_its_name_is_told_its_id() -> None:
    # 'Гавань Дуная' is the name of site 'dunai': it was "not a site of the workspace … add it with `sitewatch sites add`".
    from dataclasses import replace

    checked = check_against_sites(parse_claims([{**GOOD, "sites": ["Гавань Дуная"]}]), {"dunai": replace(_site(), name="Гавань Дуная")})
    (problem,) = checked.problems
    assert "'гавань дуная' is the name of site 'dunai', not an id: write sites: [dunai]" in problem.message, problem


def test_a_name_two_sites_share_is_told_both_ids() -> None:
    # Two places of one name (the gazetteer's two Sergeyevkas): the first id alone was told, "write sites: [a]", which
    # could be the other place.
    from dataclasses import replace

    sites = {"sergeyevka-2": replace(_site("sergeyevka-2"), name="Сергеевка"), "sergeyevka": replace(_site("sergeyevka"), name="Сергеевка")}
    (problem,) = check_against_sites(parse_claims([{**GOOD, "sites": ["Сергеевка"]}]), sites).problems
    assert ("'сергеевка' is the name of 2 sites, 'sergeyevka', 'sergeyevka-2', not an id: write the id of the one meant "
            "(sites: [sergeyevka] or sites: [sergeyevka-2])") in problem.message, problem  # fmt: skip


def test_unknown_sites_and_berths_are_named_and_duplicate_ids_refused() -> None:
    raw = [GOOD, {**GOOD, "id": "far", "sites": ["atlantis"]},
           {**GOOD, "id": "pier", "assert": {"kind": "vessel_present", "berth": "pier-9"}}, GOOD]  # fmt: skip
    checked = check_against_sites(parse_claims(raw), {"dunai": _site()})
    assert [c.id for c in checked.claims] == ["ok"]
    assert [(p.claim, p.field) for p in checked.problems] == [("ok", "id"), ("far", "sites"), ("pier", "assert.berth")]
    assert "'atlantis' is not a site of the workspace" in str(checked.problems[1])


def test_a_file_that_is_not_claims_is_an_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("claims: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match="c.yaml: not valid YAML"):
        read_claims(bad)
    bad.write_text("- 3\n", encoding="utf-8")
    parsed = read_claims(bad)
    assert not parsed.claims and parsed.problems[0].claim == "#1"


def test_the_builtin_claims_file_reads_whole() -> None:
    parsed = read_claims(builtin_claims_path())
    assert not parsed.problems
    assert {c.id for c in parsed.claims} >= {"dunai-landing-ship-and-crane", "rajin-cargo-ship-at-dunai-two-days-later",
                                             "rason-ships-on-34-days"}  # fmt: skip
    assert check_claims(parsed.claims[:0], world([], [])) == ()


# --- the command ---------------------------------------------------------------------------------------


def _file(tmp_path: Path, claims: list[dict[str, Any]]) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"title": "test claims", "claims": claims}), encoding="utf-8")
    return path


SHIP_17 = {"id": "ship-17", "text": "a landing ship at the pier on 17 October", "source": {"who": "a think tank"},
           "sites": ["dunai"], "date": "2024-10-17",
           "assert": [{"kind": "vessel_present", "berth": "pier-1", "min_length_m": 100},
                      {"kind": "object_present", "object": "crane", "state": "extended"}]}  # fmt: skip
GONE_20 = {"id": "gone-20", "text": "the pier empty on 20 October", "source": "a think tank", "sites": ["dunai"],
           "date": "2024-10-20", "assert": {"kind": "vessel_absent", "berth": "pier-1"}}  # fmt: skip
SHIP_20 = {**GONE_20, "id": "ship-20", "assert": {"kind": "vessel_present", "berth": "pier-1"}}
CLOUD_18 = {**GONE_20, "id": "none-18", "date": "2024-10-18"}


def test_claims_check_prints_each_verdict_with_its_images_and_exits_0(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    out = tmp_path / "verdicts.json"
    res = CliRunner().invoke(main, ["claims", "check", str(_file(tmp_path, [SHIP_17, GONE_20, SHIP_20, CLOUD_18])),
                                    "-w", str(ws.root), "--out", str(out)], env={"COLUMNS": "200"})  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "2 supported, 1 contradicted, 1 not testable of 4 claim(s) checked" in res.output
    assert "archive/dunai/sim-dunai-2024-10-17-optical.tif" in res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    verdicts = {c["id"]: c["verdict"] for c in doc["claims"]}
    assert verdicts == {"ship-17": "supported", "gone-20": "supported", "ship-20": "contradicted", "none-18": "not testable"}
    ship = doc["claims"][0]
    assert ship["simulated"] and "(SIMULATED imagery)" in ship["reason"]
    assert {im["observation_id"] for im in ship["images"]} >= {"dunai:sim-dunai-2024-10-17-optical"}
    assert all(len(im["sha256"]) == 64 and im["image"].startswith("archive/") for im in ship["images"])


def test_claims_check_out_is_a_json_file(tmp_path: Path) -> None:
    # `--out verdicts.csv` wrote the JSON document into a .csv (exit 0), which a spreadsheet shows as one column.
    ws = build(tmp_path / "ws")
    out = tmp_path / "verdicts.csv"
    res = CliRunner().invoke(main, ["claims", "check", str(_file(tmp_path, [SHIP_17])), "-w", str(ws.root), "--out", str(out)])
    assert res.exit_code == 2 and "verdicts.csv" in res.output and "name the file .json" in res.output, res.output
    assert not out.exists()


def test_claims_check_exits_3_when_some_are_refused_and_1_when_none_could_be_read(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    bad = {**GONE_20, "id": "bad", "sites": ["atlantis"]}
    res = CliRunner().invoke(main, ["claims", "check", str(_file(tmp_path, [SHIP_17, bad])), "-w", str(ws.root), "--json"])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout)
    assert [c["id"] for c in doc["claims"]] == ["ship-17"] and doc["refused"][0]["claim"] == "bad"
    assert "refused:" in res.stderr and "claim bad: sites: 'atlantis' is not a site" in res.stderr
    res = CliRunner().invoke(main, ["claims", "check", str(_file(tmp_path, [bad])), "-w", str(ws.root)])
    assert res.exit_code == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text("{{{", encoding="utf-8")
    res = CliRunner().invoke(main, ["claims", "check", str(broken), "-w", str(ws.root)])
    assert res.exit_code == 1 and "not valid YAML" in res.output


def test_the_report_shows_the_claims_with_links_to_their_images(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws")
    out = tmp_path / "report.html"
    res = CliRunner().invoke(main, ["report", "-w", str(ws.root), "--out", str(out), "--claims", str(_file(tmp_path, [SHIP_17, {**SHIP_17, "id": "ship-17b"}]))])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    assert "Claims checked against the imagery" in html and "ship-17" in html
    # The report lies beside the workspace's folder: the link leads into it from there.
    assert 'href="ws/archive/dunai/sim-dunai-2024-10-17-optical.tif"' in html
    assert '<span class="tag">SIMULATED</span>' in html
    # Two findings' links read "supported" and led to two claims: in a screen reader's list of links they were
    # one name twice. Each names its claim (read out, not shown).
    els = elements(html)
    verdicts = [accessible_name(e) for e in els if e.tag == "a" and e.attrs.get("href", "").startswith("#claim-")]
    assert verdicts == ["supported: claim ship-17", "supported: claim ship-17b"]
    assert links_named_alike(els) == {}


def test_the_report_warns_of_a_refused_claim(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A misspelt claim was left out of the report with no word on the terminal (only a line in the HTML).
    ws = build(tmp_path / "ws")
    out = tmp_path / "report.html"
    bad = {**GONE_20, "id": "typo", "assert": {"kind": "vessel_absent", "berth": "pier-9"}}
    with caplog.at_level("WARNING"):
        res = CliRunner().invoke(main, ["report", "-w", str(ws.root), "--out", str(out), "--claims", str(_file(tmp_path, [SHIP_17, bad]))])
    assert res.exit_code == 0, res.output
    said = " ".join(rec.getMessage() for rec in caplog.records if rec.levelname == "WARNING")
    assert "claim typo" in said and "pier-9" in said and "claims.yaml" in said, said
    assert "ship-17" in out.read_text(encoding="utf-8")


def test_a_verdict_as_the_model_claim() -> None:
    o = obs("2024-10-17")
    r = verdict(LANDING, [o], [vessel(o, 0, 111.0)])
    c = r.to_claim()
    assert (c.verdict, c.evidence, c.site_ids) == ("supported", (o.id,), ("dunai",))
    assert c.start == datetime(2024, 10, 17, tzinfo=UTC) and c.end.date() == date(2024, 10, 17)


LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


_CLAIM_X = "claims:\n  - id: x\n    text: t\n    source: s\n    sites: [dunai]\n    assert: {kind: vessel_present}\n"


@pytest.mark.parametrize(("text", "words"), [
    (_CLAIM_X + "    date: 2024-13-01\n", "'2024-13-01' is not a date"),
    (_CLAIM_X + "    date: 2024-02-30\n", "'2024-02-30' is not a date"),
    (_CLAIM_X + "    date: 2024-10-17T09:30\n", "2024-10-17T09:30 is a time"),
])  # fmt: skip
def test_an_impossible_date_is_refused_naming_its_claim_not_a_traceback(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    (problem,) = read_claims(path).problems
    assert (problem.claim, problem.field) == ("x", "date") and words in problem.message, problem


def test_aliases_that_expand_past_any_memory_and_a_key_given_twice_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(LAUGHS, encoding="utf-8")
    with pytest.raises(ValueError, match="c.yaml: not valid YAML .*aliases expand"):
        read_claims(path)
    path.write_text("title: a\ntitle: b\nclaims: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match="c.yaml: not valid YAML .*key 'title' given twice"):
        read_claims(path)


def test_a_file_not_in_utf8_is_named_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes("title: caf\xe9\nclaims: []\n".encode("latin-1"))
    with pytest.raises(ValueError, match="c.yaml: .*save it as UTF-8"):
        read_claims(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_file_in_utf16_with_its_mark_is_read(tmp_path: Path, encoding: str) -> None:
    # Windows PowerShell's Out-File and Notepad's "Unicode" save UTF-16 with its byte-order mark, CRLF: it was
    # refused, "not UTF-8 (byte 0)"; the mark says what the file is.
    text = ("title: Дунай\r\nclaims:\r\n  - id: x\r\n    text: 나진항 선박\r\n    source: s\r\n    sites: [dunai]\r\n"
            "    date: 2024-10-17\r\n    assert: {kind: vessel_present}\r\n")  # fmt: skip
    path = tmp_path / "c.yaml"
    path.write_bytes(("\ufeff" + text).encode(encoding))
    parsed = read_claims(path)
    assert parsed.title == "Дунай" and [c.text for c in parsed.claims] == ["나진항 선박"] and not parsed.problems


def test_a_file_in_utf32_is_read_and_a_utf16_one_cut_short_told_so(tmp_path: Path) -> None:
    # UTF-32's little-endian mark begins with UTF-16's: read as UTF-16 it was a NUL between every two letters; and a
    # UTF-16 file cut short was "not UTF-8 (byte 157)".
    text = ("title: Дунай\r\nclaims:\r\n  - id: x\r\n    text: 나진항 선박\r\n    source: s\r\n    sites: [dunai]\r\n"
            "    date: 2024-10-17\r\n    assert: {kind: vessel_present}\r\n")  # fmt: skip
    path = tmp_path / "c.yaml"
    path.write_bytes(("\ufeff" + text).encode("utf-32-le"))
    parsed = read_claims(path)
    assert parsed.title == "Дунай" and [c.text for c in parsed.claims] == ["나진항 선박"]
    path.write_bytes(text.encode("utf-16")[:-1])
    with pytest.raises(ValueError, match=r"c\.yaml: cannot read the claims file: it is UTF-16 by its byte-order mark, but breaks off"):
        read_claims(path)


def test_the_on_field_written_in_yaml_is_read_as_on_not_as_a_boolean_key(tmp_path: Path) -> None:
    # YAML 1.1 reads a bare `on` as true: `{kind: vessel_present, on: all}` had the key True, refused
    # as "assert.True: not a field", so the documented `on:` could not be written in a claims file.
    path = tmp_path / "c.yaml"
    path.write_text("claims:\n  - id: x\n    text: t\n    source: s\n    sites: [dunai]\n"
                    "    from: 2024-10-17\n    to: 2024-10-19\n"
                    "    assert: {kind: vessel_present, berth: pier-east, on: all}\n", encoding="utf-8")  # fmt: skip
    parsed = read_claims(path)
    assert not parsed.problems, parsed.problems
    assert parsed.claims[0].assertions[0].on == "all"


def test_a_bare_no_where_text_belongs_says_to_quote_it(tmp_path: Path) -> None:
    # YAML 1.1 reads `source: No` (a newspaper's initials, Norway's code) as False.
    path = tmp_path / "c.yaml"
    path.write_text(_CLAIM_X.replace("source: s", "source: No"), encoding="utf-8")
    (problem,) = read_claims(path).problems
    assert (problem.claim, problem.field) == ("x", "source") and "got False" in problem.message, problem
    assert "put the text in quotes" in problem.message, problem


def test_some_date_of_a_range_with_no_image_at_all_says_so_not_0_dates_tested() -> None:
    # Was "not seen on the 0 dates tested of 2019-01-01 to 2019-01-31; 31 dates without a usable image …".
    o = obs("2024-10-17")
    r = verdict(LANDING, [o], [vessel(o, 0, 111.0)], **{"from": "2019-01-01", "to": "2019-01-31"})
    assert r.verdict == "not testable"
    assert r.reason.startswith("no date of 2019-01-01 to 2019-01-31 has a usable image that could tell"), r.reason
    assert "0 dates" not in r.reason and "no image of dunai" in r.reason


@pytest.mark.parametrize(("written", "day"), [
    ("17 October 2024", date(2024, 10, 17)), ("17 Oct 2024", date(2024, 10, 17)),
    ("October 17, 2024", date(2024, 10, 17)), ("Oct 17 2024", date(2024, 10, 17)), ("1 november 2024", date(2024, 11, 1)),
])  # fmt: skip
def test_a_date_written_out_as_published_is_read(tmp_path: Path, written: str, day: date) -> None:
    # A claim copied from an article ("on 17 October 2024") was refused: "is not a date (YYYY-MM-DD)".
    path = tmp_path / "c.yaml"
    path.write_text(_CLAIM_X + f"    date: {written}\n", encoding="utf-8")
    parsed = read_claims(path)
    assert not parsed.problems, parsed.problems
    assert (parsed.claims[0].assertions[0].start, parsed.claims[0].assertions[0].end) == (day, day)


@pytest.mark.parametrize(("written", "words"), [
    ("17/10/2024", "'17/10/2024' is not a date (YYYY-MM-DD): write 2024-10-17"),
    ("17.10.2024", "write 2024-10-17"),
    ("10/17/2024", "write 2024-10-17"),
    ("05/10/2024", "write 2024-10-05 (5 October) or 2024-05-10 (10 May), as meant"),
    ("2024-10", "'2024-10' is a month: give from: 2024-10-01 and to: 2024-10-31"),
    ("2024-10-17T23:30:00-03:00", "is a time: give a date (YYYY-MM-DD; claim dates are UTC dates, and this time's is 2024-10-18)"),
])  # fmt: skip
def test_a_date_in_another_numeric_form_is_refused_saying_what_to_write(tmp_path: Path, written: str, words: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(_CLAIM_X + f"    date: '{written}'\n", encoding="utf-8")
    (problem,) = read_claims(path).problems
    assert words in problem.message, problem.message


def test_a_yaml_number_of_more_than_4300_digits_is_an_input_error(tmp_path: Path) -> None:
    """PyYAML's int() refuses it with a ValueError, which ended `claims check` in a traceback."""
    from sitewatch.errors import InputError

    (tmp_path / "claims.yaml").write_text("- " + "1" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"claims.yaml: not valid YAML .*4300 digits"):
        read_claims(tmp_path / "claims.yaml")


def test_an_image_that_decides_two_parts_names_the_detections_of_both() -> None:
    # The seed story's first claim: a landing ship and a crane extended to it, both seen on the 3 m
    # image of the 17th. The claim's image named the ship alone, not the crane that decided the second part.
    o = obs("2024-10-17", hour=0, res=3.0, sensor="optical", cloud=0.0)
    ship, arm = vessel(o, 1, 111.0), crane(o, 0, 90.0)
    r = verdict([LANDING, {"kind": "object_present", "object": "crane", "state": "extended"}], [o], [arm, ship])
    assert r.verdict == "supported"
    (im,) = r.images
    assert im.detection_ids == (ship.id, arm.id)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("Alligator-class", "Alligator/Tapir (Project 1171) landing ship"),  # as an article writes it: refused before
        ("Alligator class", "Alligator/Tapir (Project 1171) landing ship"),
        ("Ropucha-class landing ship", "Ropucha (Project 775/775M) landing ship"),  # words of the name, not one run of it
        ("ropucha", "Ropucha (Project 775/775M) landing ship"),
        ("Tapir", "Alligator/Tapir (Project 1171) landing ship"),
        ("general cargo ship", "small coaster / general cargo"),  # refused as no class, with no hint
        ("Class Ropucha", "Ropucha (Project 775/775M) landing ship"),  # the word order some reporters use: refused before
        ("class Alligator", "Alligator/Tapir (Project 1171) landing ship"),
    ],
)
def test_a_class_written_as_an_article_writes_it_is_read(written: str, meant: str) -> None:
    (a,) = claim({"kind": "vessel_present", "class": written}).assertions
    assert a.vessel_class == meant


@pytest.mark.parametrize(
    ("written", "words"),
    [
        # a close spelling is refused (a fact-check does not guess a class) naming the class it is close to
        ("Aligator", "'Aligator' is no class of the vessel catalogue (did you mean 'Alligator/Tapir (Project 1171) landing ship'?)"),
        ("Ropusha-class", "(did you mean 'Ropucha (Project 775/775M) landing ship'?)"),
        # a name that fits several says which, not every class of the catalogue
        ("landing ship", "'landing ship' fits 2 classes (Ropucha (Project 775/775M) landing ship; "
                         "Alligator/Tapir (Project 1171) landing ship): name one of them"),
        ("large landing ship", "'large landing ship' fits 2 classes"),  # was "no class of the vessel catalogue"
        ("oil tanker", "(did you mean 'product tanker (MR)'?)"),
        # the word before a name that fits several, or alone: refused as those would be
        ("Class landing ship", "'Class landing ship' fits 2 classes (Ropucha (Project 775/775M) landing ship; "),
        ("Class", "'Class' is no class of the vessel catalogue; the classes are: Ropucha (Project 775/775M) landing ship;"),
    ],
)
def test_a_class_misspelt_or_fitting_several_is_refused_saying_which(written: str, words: str) -> None:
    parsed = parse_claims([{**GOOD, "assert": {"kind": "vessel_present", "class": written}}])
    (problem,) = parsed.problems
    assert problem.field == "assert.class" and words in problem.message, problem.message


def test_a_site_named_in_another_case_is_the_site_of_that_id() -> None:
    # Site ids are lower case; an article's "Dunai" was refused as "not a site of the workspace".
    raw = [{**GOOD, "sites": ["Dunai"]}, {**GOOD, "id": "t", "sites": ["RASON", "Dunai"],
           "assert": {"kind": "vessel_transit", "within_days": 2, "origin": "Rason", "destination": "DUNAI"}}]  # fmt: skip
    checked = check_against_sites(parse_claims(raw), {"dunai": _site(), "rason": _site("rason", *RASON)})
    assert not checked.problems, checked.problems
    assert [c.site_ids for c in checked.claims] == [("dunai",), ("rason", "dunai")]
    assert checked.claims[1].assertions[0].site_ids == ("rason", "dunai")


@pytest.mark.parametrize(("written", "day"), [
    ("Thursday, 17 October 2024", date(2024, 10, 17)), ("Thu 17 Oct 2024", date(2024, 10, 17)),
    ("Sunday, October 20, 2024", date(2024, 10, 20)),
])  # fmt: skip
def test_a_date_with_its_weekday_as_an_article_writes_it_is_read(tmp_path: Path, written: str, day: date) -> None:
    # Refused before as "is not a date (YYYY-MM-DD)", with nothing said about the weekday.
    path = tmp_path / "c.yaml"
    path.write_text(_CLAIM_X + f"    date: '{written}'\n", encoding="utf-8")
    parsed = read_claims(path)
    assert not parsed.problems, parsed.problems
    assert parsed.claims[0].assertions[0].start == day


@pytest.mark.parametrize(("written", "words"), [
    ("Friday, 17 October 2024", "'Friday, 17 October 2024': 2024-10-17 was a Thursday, not a Friday; check which is meant"),
    ("17 October", "'17 October' has no year: write the date with its year (YYYY-MM-DD)"),
    ("October 17", "'October 17' has no year"),
])  # fmt: skip
def test_a_wrong_weekday_or_a_date_without_its_year_is_refused_saying_so(tmp_path: Path, written: str, words: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(_CLAIM_X + f"    date: '{written}'\n", encoding="utf-8")
    (problem,) = read_claims(path).problems
    assert words in problem.message, problem.message


def test_a_transit_whose_vessel_was_still_at_the_origin_on_the_last_date_with_no_image_after_is_not_testable() -> None:
    # Rason imaged 11-13 October with a vessel there on each date and no image after: it may have left on
    # the 13th after its image and been the vessel first seen at Dunai on the 14th. The claim was
    # "contradicted ... with both sites imaged on every date", though no image could show it gone.
    rason = _site("rason", *RASON, berths=())
    dunai = _site(berths=())
    r_obs = [obs(f"2024-10-{d}", site="rason") for d in (11, 12, 13)]
    d_obs = [obs(f"2024-10-{d}", site="dunai", hour=1) for d in range(11, 16)]
    dets = [vessel(o, 0, 92.0, berth=None, lon=RASON[0], lat=RASON[1]) for o in r_obs]
    dets += [vessel(o, 0, 90.0, berth=None) for o in d_obs if o.scene.acquired.day >= 14]
    transit = {"kind": "vessel_transit", "within_days": 2}
    when = {"from": "2024-10-11", "to": "2024-10-13"}
    r = verdict(transit, r_obs + d_obs, dets, sites=("rason", "dunai"), site_objs=[rason, dunai], **when)
    assert r.verdict == "not testable", r.reason
    assert "rason has no usable image on 1 date (2024-10-14)" in r.reason
    # With no vessel at Rason, none could have left on the 13th: the 14th is not needed.
    r = verdict(transit, r_obs + d_obs, [d for d in dets if d.observation_id not in {o.id for o in r_obs}],
                sites=("rason", "dunai"), site_objs=[rason, dunai], **when)
    assert r.verdict == "contradicted", r.reason


def test_a_transit_contradicted_names_the_images_that_saw_no_such_vessel() -> None:
    # "no vessel left rason ... with both sites imaged on every date" named no image at all.
    r = _transit(DAYS, DAYS, "2024-10-16")  # 4 days later: too late
    assert r.verdict == "contradicted"
    assert r.reason.endswith("(SIMULATED imagery)")  # resting on no image, it did not say the imagery was simulated
    rason = [im.observation_id for im in r.images if im.site_id == "rason"]
    dunai = [im.observation_id for im in r.images if im.site_id == "dunai"]
    assert rason == [f"rason/rason-2024-10-{d}-sar-10" for d in (11, 12, 13)]
    assert dunai == [f"dunai/dunai-2024-10-{d}-sar-10" for d in range(11, 16)]
    assert all(not im.detection_ids for im in r.images if im.site_id == "dunai")


def test_a_yaml_error_names_the_lines_as_an_editor_shows_them(tmp_path: Path) -> None:
    # It read "(while scanning a quoted scalar in "<unicode string>", line 3, column 11: text: "unclosed ^ found …)".
    path = tmp_path / "c.yaml"
    path.write_text('claims:\n  - id: a\n    text: "unclosed\n    sites: [dunai]\n', encoding="utf-8")
    with pytest.raises(ValueError) as err:
        read_claims(path)
    assert str(err.value) == (f"{path}: not valid YAML (found unexpected end of stream at line 5, column 1; while "
                              "scanning a quoted scalar at line 3, column 11: 'text: \"unclosed')")


def test_a_yaml_error_quotes_at_most_80_characters_of_its_line_and_places_a_bad_character(tmp_path: Path) -> None:
    # A claims file on one line (JSON written by a script) was quoted whole in the message; a form feed was
    # "not allowed in "<unicode string>", position 5", a character count rather than a line and column.
    path = tmp_path / "c.yaml"
    path.write_text('{"claims": [{"id": "a", "text": "' + "x" * 5000 + '" "sites": [dunai]}]}\n', encoding="utf-8")
    with pytest.raises(ValueError) as err:
        read_claims(path)
    assert len(str(err.value)) < 400, str(err.value)
    assert "but got '<scalar>' at line 1, column 5036: '…" + "x" * 59 + '" "sites": [dunai]}]}\'; ' in str(err.value)
    assert "while parsing a flow mapping at line 1, column 13: '{\"claims\": [{\"id\": \"a\", \"text\": \"xxx" in str(err.value)
    path.write_text("claims:\n  - id: a\x0cb\n", encoding="utf-8")
    with pytest.raises(ValueError) as err:
        read_claims(path)
    assert str(err.value) == (f"{path}: not valid YAML (unacceptable character #x000c (special characters are not "
                              "allowed) at line 2, column 10)")


WEST = Berth("pier-west", LineString([(LON - 0.002, LAT - 0.003), (LON - 0.002, LAT + 0.002)]), "Pier, west face")


def test_no_vessel_at_two_claimed_berths_one_hidden_by_cloud_is_not_testable() -> None:
    # "At pier-east or pier-west" with pier-east under cloud and pier-west empty: a vessel may be at pier-east.
    # It was contradicted (and "the pier empty" supported) because one claimed berth was seen.
    site = _site(berths=(PIER, WEST))
    o = obs("2024-10-17", res=3.0, sensor="optical", cloud=0.1, hidden={"pier-east": 1.0})
    both = {"berth": ["pier-east", "pier-west"], "min_length_m": 100, "max_length_m": 130}
    r = verdict({"kind": "vessel_present", **both}, [o], [], site_objs=[site])
    assert r.verdict == "not testable", r.reason
    assert "pier-east hidden (cloud or no data)" in r.reason
    assert verdict({"kind": "vessel_absent", **both}, [o], [], site_objs=[site]).verdict == "not testable"
    assert verdict({"kind": "vessel_absent", "berth": "any"}, [o], [], site_objs=[site]).verdict == "not testable"
    # The berth that was seen alone is decided, and so are both when a second image that day saw pier-east.
    assert verdict({"kind": "vessel_present", "berth": "pier-west"}, [o], [], site_objs=[site]).verdict == "contradicted"
    sar = obs("2024-10-17", hour=9)
    assert verdict({"kind": "vessel_absent", **both}, [o, sar], [], site_objs=[site]).verdict == "supported"
    # A fitting vessel at the berth that was seen still decides.
    r = verdict({"kind": "vessel_present", **both}, [o], [vessel(o, 0, 111.0, berth="pier-west")], site_objs=[site])
    assert r.verdict == "supported"


def test_no_crane_at_a_claimed_berth_hidden_by_cloud_is_not_testable() -> None:
    # "A crane at pier-east" on a 3 m image whose cloud (10 % of the site) lay on pier-east was contradicted.
    o = obs("2024-10-17", res=3.0, sensor="optical", cloud=0.1, hidden={"pier-east": 1.0})
    at_pier = {"kind": "object_present", "object": "crane", "berth": "pier-east"}
    r = verdict(at_pier, [o], [])
    assert r.verdict == "not testable" and "pier-east hidden (cloud or no data)" in r.reason, r.reason
    assert verdict({**at_pier, "kind": "object_absent"}, [o], []).verdict == "not testable"
    clear = obs("2024-10-17", res=3.0, sensor="optical", cloud=0.0)
    assert verdict(at_pier, [clear], []).verdict == "contradicted"


def test_a_berth_named_in_another_case_is_the_berth_so_spelt() -> None:
    # "Pier-East" was refused as "not a berth of dunai (its berths: pier-east, …)".
    raw = [{**GOOD, "assert": {"kind": "vessel_present", "berth": ["Pier-East"]}},
           {**GOOD, "id": "two", "assert": {"kind": "vessel_present", "berth": "PIER-EAST"}}]  # fmt: skip
    checked = check_against_sites(parse_claims(raw), {"dunai": _site()})
    assert not checked.problems, checked.problems
    assert [c.assertions[0].berths for c in checked.claims] == [("pier-east",), ("pier-east",)]
    # Two berths spelt alike but for case: which one is meant cannot be told, and the name is refused.
    twins = _site(berths=(PIER, replace(PIER, id="PIER-EAST")))
    (problem,) = check_against_sites(parse_claims([raw[0]]), {"dunai": twins}).problems
    assert problem.field == "assert.berth" and "'Pier-East' is not a berth of dunai" in problem.message


def test_a_claim_missing_several_fields_names_them_all() -> None:
    # It said "source: missing" alone; once source was added, "sites: missing"; then "assert: missing".
    (problem,) = parse_claims([{"id": "half", "text": "a ship at Dunai", "date": "2024-10-17"}]).problems
    assert (problem.claim, problem.field, problem.message) == ("half", "source", "missing, and so are sites, assert")


def test_presence_days_does_not_count_a_date_whose_claimed_berth_was_hidden_as_one_without_a_vessel() -> None:
    # Ten dates imaged, a vessel at pier-1 on six; on the other four pier-1 lay under cloud. "10 days" was
    # contradicted ("fewer than claimed, with every day of the range imaged"): those four may have had one.
    o, d = _rason_days(10, 6)
    o = o[:6] + [replace(x, provenance={"berths_hidden": {"pier-1": 1.0}}) for x in o[6:]]
    r = _days_claim(10, 0, o, d, "2023-09-10")
    assert r.verdict == "not testable", r.reason
    assert "among 6 usable imaged dates of the 10 days 2023-09-01 to 2023-09-10, and 4 imaged dates with a claimed berth hidden" in r.reason
    assert "the 4 days without a usable image or with a claimed berth hidden could hold the rest" in r.reason
    assert r.parts[0].untested == tuple(date(2023, 9, 7 + i) for i in range(4))
    assert _days_claim(6, 0, o, d, "2023-09-10").verdict == "supported"


def test_a_transit_whose_vessel_was_last_seen_at_the_origin_the_day_before_the_range_is_not_testable() -> None:
    # Rason imaged every day with a vessel there on the 10th only, Dunai with one from the 12th: it left between
    # the images of the 10th and the 11th, perhaps on the 11th before its image. The claim "left between the 11th
    # and the 13th" was "contradicted ... with both sites imaged on every date" (the mirror of the next-day rule).
    rason = _site("rason", *RASON, berths=())
    dunai = _site(berths=())
    r_obs = [obs(d, site="rason") for d in DAYS]
    d_obs = [obs(d, site="dunai", hour=1) for d in DAYS]
    dets = [vessel(r_obs[0], 0, 92.0, berth=None, lon=RASON[0], lat=RASON[1])]
    dets += [vessel(o, 0, 90.0, berth=None) for o in d_obs if o.scene.acquired.day >= 12]
    transit = {"kind": "vessel_transit", "within_days": 2}
    when = {"from": "2024-10-11", "to": "2024-10-13"}
    r = verdict(transit, r_obs + d_obs, dets, sites=("rason", "dunai"), site_objs=[rason, dunai], **when)
    assert r.verdict == "not testable", r.reason
    assert "last seen at rason (gone on 2024-10-11)" in r.reason
    assert "left between the images of 2024-10-10 and 2024-10-11, on 2024-10-11 or before it" in r.reason
    assert [im.site_id for im in r.images] == ["rason", "dunai"]
    # Gone a day earlier (last seen on the 9th, absent on the 10th), it left before the range: contradicted.
    r_obs9 = [obs("2024-10-09", site="rason"), *r_obs]
    dets9 = [vessel(r_obs9[0], 0, 92.0, berth=None, lon=RASON[0], lat=RASON[1]), *dets[1:]]
    r = verdict(transit, r_obs9 + d_obs, dets9, sites=("rason", "dunai"), site_objs=[rason, dunai], **when)
    assert r.verdict == "contradicted", r.reason
