"""Links between sites: a departure at one site paired with an arrival at another (analysis/links.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from shapely.geometry import box

from sitewatch.analysis.link_eval import score_links, truth_links
from sitewatch.analysis.links import (
    AisId,
    LinkParams,
    find_links,
    great_circle_km,
    links_to_dict,
    moves_from_timeline,
)
from sitewatch.analysis.occupancy import build_timeline
from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.model import DATE_ONLY_NOTE, Detection, Grid, Observation, SceneRef, Site
from sitewatch.workspace import init_workspace

PLACES = {"rason": (130.300, 42.233), "dunai": (132.338, 42.880), "ussuriysk": (131.957, 43.805), "harbin": (126.63, 45.75), "songhua": (126.63, 45.75)}
GRID = Grid("EPSG:32652", (10.0, 0.0, 500000.0, 0.0, -10.0, 4750000.0), 100, 100)


def site(sid: str, kind: str = "port") -> Site:
    lon, lat = PLACES[sid]
    return Site(sid, sid.title(), kind, box(lon - 0.02, lat - 0.02, lon + 0.02, lat + 0.02))


def obs(sid: str, day: str, hour: int = 9, *, res: float = 10.0, date_only: bool = False) -> Observation:
    d = date.fromisoformat(day)
    item = f"{sid}-{day}-{hour}"
    scene = SceneRef("simulator", "sim", item, "sar", datetime(d.year, d.month, d.day, 12 if date_only else hour, tzinfo=UTC),
                     res, simulated=True)  # fmt: skip
    prov = {"acquired_from": f"file name, date only ({DATE_ONLY_NOTE})"} if date_only else {}
    return Observation(f"{sid}/{item}", sid, scene, GRID, f"archive/{sid}/{item}.tif", "0" * 64, 1.0, None, prov)


def ship(o: Observation, n: int, length: float, *, width: float = 14.0, dx: float = 0.0, truncated: bool = False) -> Detection:
    lon, lat = PLACES[o.site_id]
    lon += dx / 82_000
    fp = box(lon - 0.0005, lat - 0.0001, lon + 0.0005, lat + 0.0001)
    return Detection(f"{o.id}#{n}", o.id, "vessel", fp, length, width, 90.0, 0.9, "test", "1", truncated=truncated)


def links_of(sites: list[Site], observations: list[Observation], detections: list[Detection], **kw):  # type: ignore[no-untyped-def]
    timelines = {
        s.id: build_timeline(s.id, [o for o in observations if o.site_id == s.id], detections) for s in sites
    }
    return find_links(sites, timelines, observations, detections, LinkParams(**kw))


def rason_to_dunai(
    *, dunai_day: str = "2024-10-14", dunai_hour: int = 1, length_b: float = 90.0, **kw
):  # type: ignore[no-untyped-def]
    """A 90 m ship at Rason on 11-12 Oct (gone on the 13th); at Dunai on ``dunai_day`` (not the day before)."""
    r = [obs("rason", "2024-10-11"), obs("rason", "2024-10-12"), obs("rason", "2024-10-13")]
    before = date.fromisoformat(dunai_day).toordinal() - 1
    d = [obs("dunai", date.fromordinal(before).isoformat(), dunai_hour), obs("dunai", dunai_day, dunai_hour)]
    dets = [ship(r[0], 0, 92.0), ship(r[1], 0, 93.0, truncated=kw.pop("cut_a", False)),
            ship(d[1], 0, length_b, truncated=kw.pop("cut_b", False))]  # fmt: skip
    return links_of([site("rason"), site("dunai")], r + d, dets, **kw)


def test_a_ship_last_seen_at_one_site_and_first_at_another_is_a_feasible_link() -> None:
    found = rason_to_dunai()
    assert (found.departures, found.arrivals) == (1, 1)
    (link,) = found.links
    assert (link.departure.site_id, link.departure.date, link.departure.other_date) == ("rason", date(2024, 10, 12), date(2024, 10, 13))
    assert (link.arrival.site_id, link.arrival.date, link.arrival.observation_id) == ("dunai", date(2024, 10, 14), "dunai/dunai-2024-10-14-1")
    assert link.hours_apart == 40.0  # 12 Oct 09:00 to 14 Oct 01:00
    gc = great_circle_km(*PLACES["rason"], *PLACES["dunai"])
    assert 175 < gc < 190
    # Routed over water between the sites' centres: near the 200 km coastal track drawn by hand.
    assert link.distance_by == "route" and 185 < link.distance_km < 210
    assert "routed over water on a 1 km land mask" in link.distance_text
    assert link.speed_kn == pytest.approx(link.distance_km / 1.852 / 40, abs=0.01)
    assert "km by sea (routed)" in link.summary_line()
    assert link.feasible and link.alternatives == 0
    assert link.length_sigmas == pytest.approx(3 / (2**0.5 * (3**2 + 8**2) ** 0.5), abs=0.01)
    assert link.to_link().a_id == "rason/rason-2024-10-12-9#0"
    doc = links_to_dict(found)
    assert doc["links"][0]["from"]["image"] == "archive/rason/rason-2024-10-12-9.tif"
    assert doc["links"][0]["to"]["scene_id"] == "simulator:sim:dunai-2024-10-14-1"
    assert doc["links"][0]["distance_by"] == "route" and doc["parameters"]["sea_route"] is True
    assert doc["parameters"]["land_mask"].startswith("global-land-mask 1.0.0")
    json.dumps(doc)


def test_the_shared_class_is_named_only_when_size_tells_it() -> None:
    # Both ends landing-ship sized: the table said "Ropucha (Project 775/775M) landing ship", as if size had told
    # a Ropucha from an Alligator, which `claims check` calls not testable as to class.
    from dataclasses import replace

    from sitewatch.model import ClassCandidate

    def with_classes(found_classes: tuple[ClassCandidate, ...]) -> str | None:
        r = [obs("rason", "2024-10-11"), obs("rason", "2024-10-12"), obs("rason", "2024-10-13")]
        d = [obs("dunai", "2024-10-13", 1), obs("dunai", "2024-10-14", 1)]
        dets = [replace(ship(o, 0, 112.0), class_candidates=found_classes) for o in (r[0], r[1], d[1])]
        (link,) = links_of([site("rason"), site("dunai")], r + d, dets).links
        return link.likely_class

    landing = (ClassCandidate("Ropucha (Project 775/775M) landing ship", 0.5),
               ClassCandidate("Alligator/Tapir (Project 1171) landing ship", 0.45))  # fmt: skip
    assert with_classes(landing) == "Ropucha or Alligator/Tapir (size cannot tell which)"
    cargo = (ClassCandidate("small coaster / general cargo", 0.8), ClassCandidate("other (not in catalogue)", 0.2))
    assert with_classes(cargo) == "small coaster / general cargo"
    unknown = (ClassCandidate("other (not in catalogue)", 0.5), ClassCandidate("small coaster / general cargo", 0.4))
    assert with_classes(unknown) == "other (not in catalogue) or small coaster / general cargo (size cannot tell which)"


def test_without_routing_the_distance_is_the_great_circle_times_the_detour_factor_and_says_so() -> None:
    found = rason_to_dunai(sea_route=False)
    (link,) = found.links
    gc = great_circle_km(*PLACES["rason"], *PLACES["dunai"])
    assert link.distance_by == "great circle" and link.distance_km == pytest.approx(gc * 1.2, abs=0.1)
    assert link.distance_text == "great circle × 1.2: routing turned off (--great-circle, LinkParams.sea_route False)"
    assert "km by sea (great circle × 1.2)" in link.summary_line()
    assert "distance by sea between dunai and rason: great circle × 1.2: routing turned off (--great-circle, LinkParams.sea_route False)" in found.notes
    assert links_to_dict(found)["links"][0]["distance_by"] == "great circle"


def test_sites_beyond_the_routing_limit_fall_back_and_say_so() -> None:
    (link,) = rason_to_dunai(max_route_km=100).links
    assert link.distance_by == "great circle" and "beyond the 100 km routing limit" in link.distance_text


def test_the_same_inputs_give_the_same_distance() -> None:
    assert rason_to_dunai().links[0].distance_km == rason_to_dunai().links[0].distance_km


def test_a_passage_faster_than_the_top_speed_is_not_feasible() -> None:
    # Seen at Rason at 09:00 on the 12th and at Dunai at 13:00 the same day: 4 h for ~220 km, ~30 kn.
    r = [obs("rason", "2024-10-12"), obs("rason", "2024-10-13")]
    d = [obs("dunai", "2024-10-11", 13), obs("dunai", "2024-10-12", 13)]
    dets = [ship(r[0], 0, 90.0), ship(d[1], 0, 90.0)]
    (link,) = links_of([site("rason"), site("dunai")], r + d, dets).links
    assert link.hours_apart == 4.0 and link.speed_kn > 25 and not link.feasible
    (fast,) = links_of([site("rason"), site("dunai")], r + d, dets, max_speed_kn=40).links
    assert fast.feasible


def test_an_arrival_before_the_departure_or_beyond_the_window_is_no_link() -> None:
    assert rason_to_dunai(dunai_day="2024-10-12", dunai_hour=1).links == ()  # Dunai at 01:00, Rason last at 09:00
    assert rason_to_dunai(dunai_day="2024-10-28").links == ()  # 16 days later, window 14
    assert len(rason_to_dunai(dunai_day="2024-10-28", window_days=20).links) == 1


def test_sizes_must_fit_within_three_sigmas_and_a_cut_hull_is_a_lower_bound() -> None:
    assert rason_to_dunai(length_b=150.0).links == ()  # 57 m apart: 4.7 sigmas at 10 m
    assert len(rason_to_dunai(length_b=150.0, cut_a=True).links) == 1  # 93 m cut: the ship may be 150 m
    assert rason_to_dunai(length_b=40.0, cut_a=True).links == ()  # a cut 93 m is still longer than 40 m
    (link,) = rason_to_dunai(length_b=40.0, cut_b=True).links  # a 40 m piece of a 93 m ship
    assert link.length_sigmas == 0 and link.notes


def test_an_image_known_only_by_its_date_counts_its_whole_day() -> None:
    r = [obs("rason", "2024-10-12", date_only=True), obs("rason", "2024-10-13")]
    d = [obs("dunai", "2024-10-12", 1), obs("dunai", "2024-10-14", 1)]
    dets = [ship(r[0], 0, 90.0), ship(d[1], 0, 90.0)]
    (link,) = links_of([site("rason"), site("dunai")], r + d, dets).links
    assert link.departure.acquired_date_only
    assert link.hours_apart == 49.0  # from 00:00 of the 12th, not the 12:00 stored
    assert "known only by its date" in link.notes[0]
    assert links_to_dict(links_of([site("rason"), site("dunai")], r + d, dets))["links"][0]["from"]["acquired_date_only"]


def test_every_link_counts_the_other_vessels_that_fit_as_well() -> None:
    r = [obs("rason", "2024-10-11"), obs("rason", "2024-10-12"), obs("rason", "2024-10-13")]
    d = [obs("dunai", "2024-10-13", 1), obs("dunai", "2024-10-14", 1)]
    dets = [ship(r[0], 0, 90.0), ship(r[0], 1, 95.0, dx=400), ship(r[1], 0, 90.0), ship(r[2], 0, 95.0, dx=400),
            ship(d[1], 0, 92.0)]  # fmt: skip
    found = links_of([site("rason"), site("dunai")], r + d, dets)
    assert found.departures == 2 and len(found.feasible) == 2
    assert [(k.other_departures, k.other_arrivals) for k in found.links] == [(1, 0), (1, 0)]
    assert "one of 2 departures" in found.links[0].ambiguity_text()


def test_each_pair_of_sites_is_routed_once_and_progress_counts_the_pairs() -> None:
    r = [obs("rason", "2024-10-11"), obs("rason", "2024-10-12"), obs("rason", "2024-10-13")]
    d = [obs("dunai", "2024-10-13", 1), obs("dunai", "2024-10-14", 1)]
    dets = [ship(r[0], 0, 90.0), ship(r[0], 1, 95.0, dx=400), ship(r[1], 0, 90.0), ship(r[2], 0, 95.0, dx=400),
            ship(d[1], 0, 92.0)]  # fmt: skip
    sites = [site("rason"), site("dunai")]
    timelines = {s.id: build_timeline(s.id, [o for o in r + d if o.site_id == s.id], dets) for s in sites}
    calls: list[tuple[int, int, str]] = []
    found = find_links(sites, timelines, r + d, dets, LinkParams(), progress=lambda *c: calls.append(c))
    # Two departures to one arrival: two links, one pair of sites, routed once (a route takes up to seconds).
    assert len(found.links) == 2 and {k.distance_by for k in found.links} == {"route"}
    assert calls == [(0, 1, "dunai – rason"), (1, 1, "")]
    assert found.links == links_of(sites, r + d, dets).links  # the same links with or without progress


def test_a_site_inland_has_no_sea_route_and_says_so() -> None:
    r = [obs("rason", "2024-10-12"), obs("rason", "2024-10-13")]
    u = [obs("ussuriysk", "2024-10-13"), obs("ussuriysk", "2024-10-14")]
    dets = [ship(r[0], 0, 90.0), ship(u[1], 0, 90.0)]
    found = links_of([site("rason"), site("ussuriysk", "town")], r + u, dets)
    assert found.links == () and (found.departures, found.arrivals) == (1, 1)
    assert len(found.notes) == 1 and "no sea route between rason and ussuriysk" in found.notes[0]
    assert "ussuriysk is a town" in found.notes[0]


def test_a_port_far_from_the_mask_sea_gets_the_fallback_said_as_such() -> None:
    """A port more than 100 km from the mask's sea (up a long river, on a lake) is not routed, nor ruled
    out: its passages are measured by the fallback. Harbin given the kind "port" stands for one."""
    r = [obs("rason", "2024-10-12"), obs("rason", "2024-10-13")]
    h = [obs("harbin", "2024-10-16"), obs("harbin", "2024-10-17")]
    dets = [ship(r[0], 0, 90.0), ship(h[1], 0, 90.0)]
    found = links_of([site("rason"), site("harbin")], r + h, dets)
    (link,) = found.links
    assert link.distance_by == "great circle" and link.distance_km == pytest.approx(1.2 * link.great_circle_km, abs=0.1)
    why = "harbin's centre (126.630, 45.750) is more than 100 km from the sea on the 1 km land mask, which has no rivers, canals or lakes"
    assert link.distance_text == f"great circle × 1.2: {why}"
    assert found.notes == (f"distance by sea between harbin and rason: great circle × 1.2: {why}",)


def test_a_port_up_a_river_is_routed_from_a_straight_leg_the_link_names() -> None:
    """Ussuriysk given the kind "port": 55 km from the mask's sea, its route starts with a straight leg,
    and the link says the distance is a lower bound."""
    r = [obs("rason", "2024-10-12"), obs("rason", "2024-10-13")]
    u = [obs("ussuriysk", "2024-10-13"), obs("ussuriysk", "2024-10-14")]
    (link,) = links_of([site("rason"), site("ussuriysk")], r + u, [ship(r[0], 0, 90.0), ship(u[1], 0, 90.0)]).links
    assert link.distance_by == "route" and link.distance_km > link.great_circle_km
    assert "ussuriysk's centre 55 km from the sea on the mask (a river or canal it lacks: that leg a straight line, " \
           "so the distance is a lower bound)" in link.distance_text


def test_the_moves_are_the_timelines_departures_and_arrivals() -> None:
    r = [obs("rason", f"2024-10-{d}") for d in (10, 11, 12, 13, 14)]
    dets = [ship(r[0], 0, 90.0), ship(r[1], 0, 90.0), ship(r[1], 1, 120.0, dx=500), ship(r[3], 0, 120.0, dx=500)]
    obs_by_id = {o.id: o for o in r}
    tl = build_timeline("rason", r, dets)
    dep, arr = moves_from_timeline(tl, obs_by_id, {d.id: d for d in dets})
    assert len(dep) == sum(row.departures for row in tl.rows) == 3
    assert len(arr) == sum(row.arrivals for row in tl.rows) == 2


def test_a_period_s_links_count_the_departures_and_arrivals_of_that_period_alone() -> None:
    """`links --from/--to` said how many departures and arrivals it paired the links from: the departures from
    --from to the end of the history and the arrivals from its beginning to --to (years of them, for a month)."""
    r = [obs("rason", day) for day in ("2024-10-11", "2024-10-12", "2024-10-13", "2024-11-20", "2024-11-21")]
    d = [obs("dunai", day, 1) for day in ("2024-09-30", "2024-10-01", "2024-10-13", "2024-10-14")]
    # Rason: gone on 13 Oct, a 60 m boat in on 20 Nov and out; Dunai: a 120 m ship in on 1 Oct and out, in on 14 Oct.
    dets = [ship(r[0], 0, 92.0), ship(r[1], 0, 93.0), ship(r[3], 0, 60.0), ship(d[1], 0, 120.0), ship(d[3], 0, 90.0)]
    whole = links_of([site("rason"), site("dunai")], r + d, dets)
    assert (whole.departures, whole.arrivals, len(whole.links)) == (3, 3, 1)
    month = links_of([site("rason"), site("dunai")], r + d, dets, start=date(2024, 10, 10), end=date(2024, 10, 20))
    assert (month.departures, month.arrivals) == (1, 1)  # on the old code (2, 2): 20 Nov's departure, 1 Oct's arrival
    assert month.links == whole.links
    since = links_of([site("rason"), site("dunai")], r + d, dets, start=date(2024, 10, 10))
    assert (since.departures, since.arrivals, since.links) == (2, 2, whole.links)  # (2, 3) on the old code


def test_params_are_checked() -> None:
    with pytest.raises(InputError, match="max_speed_kn"):
        LinkParams(max_speed_kn=0)
    with pytest.raises(InputError, match="window_days"):
        LinkParams(window_days=float("nan"))


def test_links_scored_against_the_truth() -> None:
    found = rason_to_dunai()
    (link,) = found.links
    truth_of = {link.departure.detection_id: "cargo", link.arrival.detection_id: "cargo"}
    sightings = [("cargo", "rason", date(2024, 10, 12)), ("cargo", "dunai", date(2024, 10, 14)),
                 ("other", "rason", date(2024, 10, 1)), ("other", "dunai", date(2024, 10, 30))]  # fmt: skip
    assert len(truth_links(sightings, 14)) == 1  # "other" took 29 days: beyond the window
    score = score_links(found, truth_of, sightings)
    assert (score.found, score.true, score.truth_links, score.missed) == (1, 1, 1, 0)
    wrong = score_links(found, truth_of | {link.arrival.detection_id: "other"}, sightings)
    assert (wrong.true, wrong.missed) == (0, 1)


def _workspace(root: Path, inland: bool = False) -> Path:
    ws = init_workspace(root)
    st = ws.store()
    st.put_site(site("rason"))
    st.put_site(site("dunai", "town" if inland else "naval_base"))
    r = [obs("rason", "2024-10-11"), obs("rason", "2024-10-12"), obs("rason", "2024-10-13")]
    d = [obs("dunai", "2024-10-13", 1), obs("dunai", "2024-10-14", 1)]
    dets = {r[0].id: [ship(r[0], 0, 92.0)], r[1].id: [ship(r[1], 0, 93.0)], d[1].id: [ship(d[1], 0, 90.0)]}
    for o in r + d:
        st.put_observation(o)
        st.replace_detections(o, dets.get(o.id, []))
    st.close()
    return root


def test_links_command_prints_a_table_or_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _workspace(tmp_path / "ws")
    runner = CliRunner()
    res = runner.invoke(main, ["links", "-w", str(root)], env={"COLUMNS": "200"})  # (the image paths on one line)
    assert res.exit_code == 0, res.output
    assert "Simulated imagery." in res.output and "archive/rason/rason-2024-10-12-9.tif" in res.output
    assert "1 feasible link of 1" in res.output
    res = runner.invoke(main, ["links", "rason", "dunai", "-w", str(root), "--json", "--max-speed-kn", "1"])
    doc = json.loads(res.output)
    assert doc["links"][0]["feasible"] is False and doc["parameters"]["max_speed_kn"] == 1
    assert doc["links"][0]["distance_by"] == "route" and doc["parameters"]["sea_route"] is True
    res = runner.invoke(main, ["links", "-w", str(root), "--json", "--great-circle"])
    doc = json.loads(res.output)
    assert doc["parameters"]["sea_route"] is False and doc["parameters"]["land_mask"] is None
    from sitewatch.analysis import links as links_module

    monkeypatch.setattr(links_module, "land_mask_file", lambda: None)  # the package not installed: no mask named
    res = runner.invoke(main, ["links", "-w", str(root), "--json"])
    assert json.loads(res.output)["parameters"]["land_mask"] is None
    monkeypatch.undo()
    (link,) = doc["links"]
    assert link["distance_by"] == "great circle" and link["distance_km"] == pytest.approx(1.2 * link["great_circle_km"], abs=0.1)
    res = runner.invoke(main, ["links", "-w", str(root), "--from", "2024-10-13", "--json"])
    assert json.loads(res.output)["links"] == []
    res = runner.invoke(main, ["links", "dunai", "-w", str(root)])
    assert res.exit_code == 0 and "Links need two sites or more with observations; 1 site here: dunai." in res.output
    res = runner.invoke(main, ["links", "rason", "atlantis", "-w", str(root)])
    assert res.exit_code == 1 and "atlantis" in res.output


def test_links_command_says_when_there_is_no_sea_route(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", inland=True)
    res = CliRunner().invoke(main, ["links", "-w", str(root)])
    assert res.exit_code == 0, res.output
    assert "no sea route between rason and dunai" in res.output and "No links" in res.output


def test_a_departure_rests_on_the_last_image_of_its_date_and_an_arrival_on_the_first() -> None:
    # Two passes a day at Rason: the ship is seen at 01:00 and at 21:00 on the 12th; the 21:00 look bounds the passage.
    r = [obs("rason", "2024-10-11"), obs("rason", "2024-10-12", 1), obs("rason", "2024-10-12", 21), obs("rason", "2024-10-13")]
    d = [obs("dunai", "2024-10-13", 1), obs("dunai", "2024-10-14", 1), obs("dunai", "2024-10-14", 23)]
    dets = [ship(r[1], 0, 90.0), ship(r[2], 0, 91.0), ship(d[1], 0, 90.0), ship(d[2], 0, 90.0)]
    (link,) = links_of([site("rason"), site("dunai")], r + d, dets).links
    assert link.departure.observation_id == "rason/rason-2024-10-12-21"
    assert link.arrival.observation_id == "dunai/dunai-2024-10-14-1"
    assert link.hours_apart == 28.0


def test_no_departure_or_arrival_is_said_plainly() -> None:
    r = [obs("rason", "2024-10-12"), obs("rason", "2024-10-13")]
    d = [obs("dunai", "2024-10-12"), obs("dunai", "2024-10-13")]
    dets = [ship(r[0], 0, 90.0), ship(r[1], 0, 90.0)]  # stays at Rason; Dunai empty
    found = links_of([site("rason"), site("dunai")], r + d, dets)
    assert found.links == () and found.summary_lines() == ["No links: 0 departures and 0 arrivals at rason, dunai."]


def _two_ships_each_way():  # type: ignore[no-untyped-def]
    """Rason → Dunai: one departure (93 m) and two arrivals that fit it (90 m, 91 m)."""
    r = [obs("rason", "2024-10-12"), obs("rason", "2024-10-13")]
    d = [obs("dunai", "2024-10-13", 1), obs("dunai", "2024-10-14", 1), obs("dunai", "2024-10-15", 1)]
    dets = [ship(r[0], 0, 93.0), ship(d[1], 0, 90.0), ship(d[2], 0, 90.0), ship(d[2], 1, 91.0, dx=400)]
    return [site("rason"), site("dunai")], r + d, dets


def test_ais_confirms_a_link_with_the_same_mmsi_and_rules_out_one_with_another() -> None:
    sites, observations, dets = _two_ships_each_way()
    timelines = {s.id: build_timeline(s.id, [o for o in observations if o.site_id == s.id], dets) for s in sites}
    plain = find_links(sites, timelines, observations, dets)
    assert len(plain.links) == 2 and all(k.ais is None and k.ais_text() == "" for k in plain.links)
    ais = {dets[0].id: AisId("273456789", "LADA"), dets[1].id: AisId("273456789", "LADA"), dets[3].id: AisId("987654321")}
    found = find_links(sites, timelines, observations, dets, ais=ais)
    by_arrival = {k.arrival.detection_id: k for k in found.links}
    first, second = by_arrival[dets[1].id], by_arrival[dets[3].id]
    assert first.ais == "confirmed" and first.ais_text() == "confirmed by AIS: the same MMSI 273456789 LADA at both ends"
    assert second.ais == "ruled out" and "MMSI 273456789 LADA at rason, MMSI 987654321 at dunai" in second.ais_text()
    # The arrival AIS ruled out is no alternative any more; without AIS both count.
    assert [k.alternatives for k in plain.links] == [1, 1]
    assert first.alternatives == 0 and first.ais_ruled_out_arrivals == 1
    assert first.ambiguity_text() == "no other vessel of that size in the window after AIS ruled out 1"
    assert plain.links[0].ambiguity_text() == "one of 2 arrivals that fit this departure"
    assert "confirmed by AIS" in " ".join(found.summary_lines())
    doc = links_to_dict(found)
    confirmed = next(k for k in doc["links"] if k["to"]["detection_id"] == dets[1].id)
    assert confirmed["ais"]["status"] == "confirmed" and confirmed["ais"]["from"] == {"mmsi": "273456789", "name": "LADA"}
    assert links_to_dict(plain)["links"][0]["ais"] is None
    # One end not matched (a dark vessel at Dunai): the link stays a size-only candidate.
    half = find_links(sites, timelines, observations, dets, ais={dets[0].id: AisId("273456789")})
    assert {k.ais for k in half.links} == {"not matched"}
    assert "dunai not matched" in half.links[0].ais_text() and "size-only candidate" in half.links[0].ais_text()


def _ais_csv(path: Path, arrival_mmsi: str) -> Path:
    # Held positions (SOG 0) at the ships, at the times of the images of the departure and the arrival.
    lon_r, lat_r = PLACES["rason"]
    lon_d, lat_d = PLACES["dunai"]
    path.write_text(
        "mmsi,time,lat,lon,sog,name\n"
        f"273456789,2024-10-12T09:00:00Z,{lat_r},{lon_r},0,LADA\n"
        f"{arrival_mmsi},2024-10-14T01:00:00Z,{lat_d},{lon_d},0,{'LADA' if arrival_mmsi == '273456789' else 'OTHER'}\n",
        encoding="utf-8",
    )
    return path


def test_links_command_with_ais_files(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws")
    runner = CliRunner()
    same = _ais_csv(tmp_path / "same.csv", "273456789")
    res = runner.invoke(main, ["links", "-w", str(root), "--ais", str(same)])
    assert res.exit_code == 0, res.output
    assert "confirmed" in res.output and "AIS: 1 feasible link confirmed" in res.output
    res = runner.invoke(main, ["links", "-w", str(root), "--ais", str(same), "--json"])
    (link,) = json.loads(res.output)["links"]
    assert link["ais"]["status"] == "confirmed" and link["ais"]["to"]["mmsi"] == "273456789"
    other = _ais_csv(tmp_path / "other.csv", "445000111")
    res = runner.invoke(main, ["links", "-w", str(root), "--ais", str(other), "--json"])
    assert json.loads(res.output)["links"][0]["ais"]["status"] == "ruled out"
    res = runner.invoke(main, ["links", "-w", str(root), "--json"])
    assert json.loads(res.output)["links"][0]["ais"] is None
    res = runner.invoke(main, ["links", "-w", str(root), "--ais", str(tmp_path / "missing.csv")])
    assert res.exit_code == 2 and "missing.csv" in res.output


def test_a_vessel_confirmed_by_ais_at_one_arrival_is_ruled_out_at_the_departures_other_arrivals() -> None:
    sites, observations, dets = _two_ships_each_way()
    timelines = {s.id: build_timeline(s.id, [o for o in observations if o.site_id == s.id], dets) for s in sites}
    # The 91 m arrival is dark: its own ends say nothing, but the departure's MMSI arrived on the 14th.
    ais = {dets[0].id: AisId("273456789", "LADA"), dets[1].id: AisId("273456789", "LADA")}
    found = find_links(sites, timelines, observations, dets, ais=ais)
    other = next(k for k in found.links if k.arrival.detection_id == dets[3].id)
    assert other.ais == "ruled out"
    assert other.ais_text() == (
        "ruled out by AIS: MMSI 273456789 LADA is accounted for by the confirmed link to dunai 2024-10-14"
    )
    doc = next(k for k in links_to_dict(found)["links"] if k["to"]["detection_id"] == dets[3].id)
    assert doc["ais"]["status"] == "ruled out" and doc["ais"]["accounted_for_by"] == {
        "from": dets[0].id, "to": dets[1].id,
    }  # fmt: skip


def test_an_arrival_confirmed_by_ais_from_one_departure_is_ruled_out_from_the_others() -> None:
    r = [obs("rason", "2024-10-11"), obs("rason", "2024-10-12"), obs("rason", "2024-10-13"), obs("rason", "2024-10-14")]
    d = [obs("dunai", "2024-10-13", 1), obs("dunai", "2024-10-14", 1)]
    dets = [ship(r[0], 0, 90.0), ship(r[0], 1, 95.0, dx=400), ship(r[1], 0, 90.0), ship(r[2], 0, 95.0, dx=400),
            ship(d[1], 0, 92.0)]  # fmt: skip
    sites = [site("rason"), site("dunai")]
    timelines = {s.id: build_timeline(s.id, [o for o in r + d if o.site_id == s.id], dets) for s in sites}
    found = find_links(sites, timelines, r + d, dets, ais={dets[3].id: AisId("445000111"), dets[4].id: AisId("445000111")})
    by_departure = {k.departure.detection_id: k for k in found.links}
    assert by_departure[dets[3].id].ais == "confirmed"
    other = by_departure[dets[2].id]
    assert other.ais == "ruled out"
    assert other.ais_text() == "ruled out by AIS: MMSI 445000111 is accounted for by the confirmed link from rason 2024-10-13"


def test_alternatives_after_ais_leave_out_the_candidates_ais_ruled_out() -> None:
    r = [obs("rason", "2024-10-12"), obs("rason", "2024-10-13")]
    d = [obs("dunai", "2024-10-13", 1), obs("dunai", "2024-10-14", 1), obs("dunai", "2024-10-15", 1),
         obs("dunai", "2024-10-16", 1)]  # fmt: skip
    # One departure and three arrivals that fit it: the 14th's confirmed, the 15th's dark, the 16th's another MMSI.
    dets = [ship(r[0], 0, 93.0), ship(d[1], 0, 90.0), ship(d[2], 0, 90.0), ship(d[3], 0, 90.0),
            ship(d[2], 1, 91.0, dx=400), ship(d[3], 1, 91.0, dx=400), ship(d[3], 2, 92.0, dx=-400)]  # fmt: skip
    sites = [site("rason"), site("dunai")]
    timelines = {s.id: build_timeline(s.id, [o for o in r + d if o.site_id == s.id], dets) for s in sites}
    ais = {dets[0].id: AisId("273456789"), dets[1].id: AisId("273456789"), dets[6].id: AisId("987654321")}
    plain = find_links(sites, timelines, r + d, dets)
    assert [k.other_arrivals for k in plain.links] == [2, 2, 2]
    found = find_links(sites, timelines, r + d, dets, ais=ais)
    assert [k.ais for k in found.links] == ["confirmed", "ruled out", "ruled out"]
    # The confirmed link is left alone; each ruled-out one is one of two (itself and the confirmed one).
    assert [(k.other_arrivals, k.ais_ruled_out_arrivals) for k in found.links] == [(0, 2), (1, 1), (1, 1)]
    assert found.links[0].ambiguity_text() == "no other vessel of that size in the window after AIS ruled out 2"
    assert found.links[1].ambiguity_text() == "one of 2 arrivals that fit this departure after AIS ruled out 1"
    # Unsettled candidates still count: the 15th's arrival dark and the departure's MMSI unknown.
    half = find_links(sites, timelines, r + d, dets, ais={dets[6].id: AisId("987654321")})
    assert [k.ais for k in half.links] == ["not matched", "not matched", "not matched"]
    assert [k.other_arrivals for k in half.links] == [2, 2, 2]
    doc = links_to_dict(found)["links"][0]
    assert doc["alternatives"] == 0 and doc["ais_ruled_out_arrivals"] == 2 and doc["ais_ruled_out_departures"] == 0


def test_the_site_far_from_the_sea_is_named_whichever_way_the_vessel_went() -> None:
    """Songhua (Harbin) to Rason: the pair's points are routed in the order of the site ids, and the note named
    Rason (the harbour) as far from the sea whenever the departure's id sorted last."""
    h = [obs("songhua", "2024-10-12"), obs("songhua", "2024-10-13")]  # Harbin's port on the Songhua: an id after rason
    r = [obs("rason", "2024-10-16"), obs("rason", "2024-10-17")]
    found = links_of([site("rason"), site("songhua", "port")], r + h, [ship(h[0], 0, 90.0), ship(r[1], 0, 90.0)])
    (link,) = found.links
    assert (link.departure.site_id, link.arrival.site_id) == ("songhua", "rason")
    assert link.distance_text.startswith("great circle × 1.2: songhua's centre (126.630, 45.750) is more than 100 km")


def test_the_distance_by_sea_is_never_less_than_the_great_circle_between_the_sightings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sites close together, sightings at their far ends: the route between the centres (6.3 km) was
    shorter than the straight line between the sightings (7.4 km), and so was the speed it implied."""
    monkeypatch.setitem(PLACES, "west", (131.00, 42.0))  # open sea off Primorye
    monkeypatch.setitem(PLACES, "east", (131.05, 42.0))
    w, e = [obs("west", "2024-10-12"), obs("west", "2024-10-13")], [obs("east", "2024-10-13"), obs("east", "2024-10-14")]
    (link,) = links_of([site("west"), site("east")], w + e, [ship(w[0], 0, 90.0, dx=-1600), ship(e[1], 0, 90.0, dx=1600)]).links
    assert link.distance_by == "route" and link.distance_km == link.great_circle_km > 7
    assert link.distance_text.startswith("the great circle between the two sightings, longer than the 6.3 km route over water")


def test_each_move_is_timed_once_not_once_for_every_departure_and_arrival_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    """At ten sites over 1,800 days every departure was set against every arrival, each pair making the arrival's
    times again (millions of pairs, seconds of Python): now each move's times are taken once, and a departure meets
    only the arrivals within its window; the links are the same as every pair tried."""
    from datetime import timedelta

    from sitewatch.analysis.links import Move, moves_from_timeline

    observations, dets = [], []
    for sid in ("rason", "dunai"):
        for k in range(120):
            o = obs(sid, (date(2024, 1, 1) + timedelta(days=k)).isoformat(), 9 if sid == "rason" else 1)
            observations.append(o)
            if (k // 3 + (sid == "dunai")) % 2:  # three days there, three away, the two sites out of step
                dets.append(ship(o, 0, 90.0))
    sites = [site("rason"), site("dunai")]
    timelines = {s.id: build_timeline(s.id, [o for o in observations if o.site_id == s.id], dets) for s in sites}
    obs_by_id, det_by_id = {o.id: o for o in observations}, {d.id: d for d in dets}
    moves = [moves_from_timeline(timelines[s.id], obs_by_id, det_by_id) for s in sites]
    departures = [m for dep, _ in moves for m in dep]
    arrivals = [m for _, arr in moves for m in arr]
    every_pair = [(d.detection_id, a.detection_id) for d in departures for a in arrivals
                  if a.site_id != d.site_id and a.time_bounds()[1] > d.time_bounds()[0] and (a.date - d.date).days <= 14]  # fmt: skip
    calls = 0
    real = Move.time_bounds

    def counting(self: Move) -> tuple[datetime, datetime]:
        nonlocal calls
        calls += 1
        return real(self)

    monkeypatch.setattr(Move, "time_bounds", counting)
    found = find_links(sites, timelines, observations, dets, LinkParams())
    assert len(departures) > 30 and len(arrivals) > 30 and calls <= len(departures) + len(arrivals)
    assert sorted((k.departure.detection_id, k.arrival.detection_id) for k in found.links) == sorted(every_pair)


def test_load_links_reads_each_sites_observations_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each site's observations were read twice, for its timeline and for its moves' images (19,080 rows built
    twice at ten sites over 1,800 days, 40 % of the run), and in two snapshots that a detect could write between."""
    from sitewatch.analysis.links import load_links
    from sitewatch.workspace import open_workspace

    ws = open_workspace(_workspace(tmp_path / "ws"))
    with ws.store() as store:
        reads: list[str] = []
        real = store.observations

        def counting(site_id: str | None = None, *args: object, **kwargs: object) -> list[Observation]:
            reads.append(str(site_id))
            return real(site_id, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "observations", counting)
        found = load_links(store)
    assert sorted(reads) == ["dunai", "rason"] and len(found.links) == 1


def test_a_ship_through_the_corinth_canal_is_a_feasible_link_where_the_route_round_the_peloponnese_was_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Piraeus at 01:00, Patras at 09:00: 8 hours. Round the Peloponnese (the mask closes the canal) it was 533 km,
    36 kn, "too fast"; through the canal it is 187 km, 12.6 kn."""
    monkeypatch.setitem(PLACES, "piraeus", (23.63, 37.94))
    monkeypatch.setitem(PLACES, "patras", (21.73, 38.25))
    a = [obs("piraeus", "2024-10-12", 1), obs("piraeus", "2024-10-13", 1)]
    b = [obs("patras", "2024-10-11", 9), obs("patras", "2024-10-12", 9)]
    found = links_of([site("piraeus"), site("patras")], a + b, [ship(a[0], 0, 60.0), ship(b[1], 0, 60.0)])
    (k,) = found.links
    assert k.hours_apart == 8.0 and k.distance_by == "route" and 180 < k.distance_km < 200
    assert k.feasible and k.speed_kn < 14
