"""Pieces of one satellite pass (two Sentinel-1 slices of a datatake, two strips of one capture) are judged
together: the date's coverage is their union, so a 40 % piece's vessels count and do not read as departures."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner
from rasterio import open as rasterio_open
from shapely.geometry import box, mapping

from sitewatch.analysis import TimelineParams, build_timeline
from sitewatch.analysis.passes import pass_valid_fraction, passes, same_pass, usability
from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.evidence import World
from sitewatch.geo import reproject_geometry
from sitewatch.model import DATE_ONLY_NOTE, Detection, Grid, Observation, SceneRef, Site
from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
from test_sar import sea_with_ships

GRID = Grid("EPSG:32652", (10.0, 0.0, 500000.0, 0.0, -10.0, 4750000.0), 100, 100)
SITE = box(132.0, 42.0, 132.1, 42.1)
T0 = datetime(2024, 10, 17, 9, 30, tzinfo=UTC)


def piece(
    name: str,
    west: float,
    east: float,
    *,
    seconds: float = 0.0,
    valid: float | None = None,
    platform: str = "sentinel-1a",
    sensor: str = "sar",
    cloud: float | None = None,
    orbit: dict[str, object] | None = None,
    day: date | None = None,
) -> Observation:
    """A slice of the site between longitudes ``west`` and ``east`` (its footprint), holding that share of it."""
    when = T0 + timedelta(seconds=seconds)
    if day is not None:
        when = when.replace(year=day.year, month=day.month, day=day.day)
    footprint = box(west, 41.9, east, 42.2)
    share = max(0.0, min(east, 132.1) - max(west, 132.0)) / 0.1
    scene = SceneRef("earth-search", "sentinel-1-grd", name, sensor, when, 10.0, footprint=footprint,
                     platform=platform, properties=orbit or {})  # fmt: skip
    return Observation(f"port/{name}", "port", scene, GRID, f"archive/port/{name}.tif", "0" * 64,
                       round(share if valid is None else valid, 6), cloud)  # fmt: skip


def ship(o: Observation, n: int, lon: float, *, length: float = 150.0, berth: str | None = None,
         truncated: bool = False) -> Detection:  # fmt: skip
    fp = box(lon - 0.0009, 42.05 - 0.0001, lon + 0.0009, 42.05 + 0.0001)
    return Detection(f"{o.id}-d{n}", o.id, "vessel", fp, length, 20.0, 90.0, 0.9, "test", "1", berth_id=berth,
                     truncated=truncated)  # fmt: skip


# -- which observations are one pass --------------------------------------------------------------


def test_two_slices_of_one_datatake_are_one_pass_and_their_union_is_their_sum() -> None:
    a, b = piece("s12", 131.9, 132.06), piece("s13", 132.06, 132.3, seconds=25)
    assert (a.valid_fraction, b.valid_fraction) == (0.6, 0.4)
    assert same_pass(a, b, 60.0)
    (one,) = passes([b, a], 60.0, SITE)
    assert [p.id for p in one.pieces] == ["port/s12", "port/s13"] and one.valid_fraction == 1.0


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"platform": "sentinel-1c"}, "another satellite"),
        ({"platform": ""}, "an unknown platform is no evidence of one"),
        ({"seconds": 61}, "further apart than pass_seconds"),
        ({"sensor": "optical"}, "another sensor"),
        ({"orbit": {"sat:relative_orbit": 61}}, "another relative orbit"),
    ],
)
def test_what_is_not_one_pass(change: dict[str, object], why: str) -> None:
    a = piece("s12", 131.9, 132.06, orbit={"sat:relative_orbit": 127})
    kwargs: dict[str, object] = {"seconds": 25, "orbit": {"sat:relative_orbit": 127}} | change
    b = piece("s13", 132.06, 132.3, **kwargs)  # type: ignore[arg-type]
    assert not same_pass(a, b, 60.0), why
    reasons = usability([a, b], TimelineParams(), site=SITE)
    assert reasons["port/s12"] is None and reasons["port/s13"] == "valid 40% of the site < 50%"


def test_the_orbit_a_fetch_recorded_and_the_stac_item_s_datatake_tell_passes_apart() -> None:
    a = replace(piece("s12", 131.9, 132.06), provenance={"orbit": {"relative_orbit": 127}})
    b = replace(piece("s13", 132.06, 132.3, seconds=25), provenance={"orbit": {"relative_orbit": 127}})
    assert same_pass(a, b, 60.0)
    other = replace(b, provenance={"stac_item": {"properties": {"s1:datatake_id": "398110"}}})
    assert same_pass(a, other, 60.0)  # a figure only one of them records says nothing
    a2 = replace(a, provenance={"stac_item": {"properties": {"s1:datatake_id": "398109"}}})
    assert not same_pass(a2, other, 60.0)


def test_two_images_known_only_by_their_date_are_not_one_pass() -> None:
    a = replace(piece("a", 131.9, 132.06), provenance={"acquired_from": f"file name ({DATE_ONLY_NOTE})"})
    b = replace(piece("b", 132.06, 132.3), provenance={"acquired_from": f"file name ({DATE_ONLY_NOTE})"})
    assert a.acquired_date_only and not same_pass(a, b, 60.0)


def test_overlapping_pieces_are_never_counted_twice() -> None:
    # Two tiles of one datatake that overlap over 30 % of the site: 45 % and 45 % hold 60 %, not 90 %.
    a, b = piece("t1", 131.9, 132.045), piece("t2", 132.015, 132.3)
    assert (a.valid_fraction, b.valid_fraction) == (0.45, 0.85)
    b = replace(b, valid_fraction=0.45)  # no data over part of its footprint
    assert pass_valid_fraction([a, b], SITE) == pytest.approx(0.6)
    # Without the site's polygon, all they can share: no more than the larger piece.
    assert pass_valid_fraction([a, b]) == 0.45


def test_pass_seconds_zero_judges_each_observation_alone() -> None:
    a, b = piece("s12", 131.9, 132.06), piece("s13", 132.06, 132.3, seconds=25)
    assert usability([a, b], TimelineParams(pass_seconds=0), site=SITE)["port/s13"] == "valid 40% of the site < 50%"
    with pytest.raises(InputError, match="pass_seconds"):
        TimelineParams(pass_seconds=-1)


# -- the timeline ---------------------------------------------------------------------------------


def _three_passes(split: tuple[float, float] = (0.6, 0.4)) -> tuple[list[Observation], list[Detection]]:
    """Whole looks on the 5th and 29th; on the 17th the pass in two slices, the seam at ``split``; four ships, one
    on the seam (cut in both slices), one at a berth in the east slice."""
    seam = 132.0 + split[0] * 0.1
    before = piece("whole-05", 131.9, 132.3, day=date(2024, 10, 5))
    after = piece("whole-29", 131.9, 132.3, day=date(2024, 10, 29))
    west, east = piece("s12", 131.9, seam), piece("s13", seam, 132.3, seconds=25)
    # As detect records it: the east quay lies beyond the west slice's data.
    west = replace(west, provenance={"berths_hidden": {"quay-east": 1.0}})
    east = replace(east, provenance={"berths_hidden": {"quay-east": 0.0}})
    if sum(split) < 1:
        east = replace(east, valid_fraction=split[1])
    dets = []
    for o in (before, after):
        dets += [ship(o, 0, 132.02), ship(o, 1, 132.09), ship(o, 2, 132.095, berth="quay-east", length=120),
                 ship(o, 3, seam, length=200)]  # fmt: skip
    dets += [ship(west, 0, 132.02), ship(west, 3, seam - 0.0006, length=90, truncated=True)]
    dets += [ship(east, 1, 132.09), ship(east, 2, 132.095, berth="quay-east", length=120),
             ship(east, 3, seam + 0.0006, length=110, truncated=True)]  # fmt: skip
    return [before, west, east, after], dets


def test_a_pass_in_two_slices_is_one_usable_date_with_every_vessel_of_both() -> None:
    observations, dets = _three_passes()
    tl = build_timeline("port", observations, dets, site_geometry=SITE)
    assert not tl.skipped
    mid = tl.rows[1]
    assert mid.observation_ids == ("port/s12", "port/s13")
    # The seam ship is two cut sightings of one vessel: four vessels, as on the whole looks, none gone or come.
    assert [r.vessels for r in tl.rows] == [4, 4, 4]
    assert [(r.arrivals, r.departures) for r in tl.rows] == [(0, 0), (0, 0), (0, 0)]
    assert mid.truncated_vessels == 1 and mid.hidden_berths == ()


def test_before_the_fix_the_40_percent_slice_was_skipped_and_its_vessels_left_and_came_back() -> None:
    # What each piece judged alone gives (pass_seconds=0): the east slice skipped, its off-berth ship a
    # departure on the 17th and an arrival on the 29th (its berth was hidden, so the berthed one was carried).
    observations, dets = _three_passes()
    tl = build_timeline("port", observations, dets, TimelineParams(pass_seconds=0), site_geometry=SITE)
    assert [s.observation_id for s in tl.skipped] == ["port/s13"]
    assert [(r.arrivals, r.departures) for r in tl.rows] == [(0, 0), (0, 1), (1, 0)]


def test_two_slices_under_half_each_make_a_usable_date_together() -> None:
    # 48 % and 46 % (a no-data collar on the east slice): each alone unusable, the date lost; together 94 %.
    observations, dets = _three_passes((0.48, 0.46))
    alone = build_timeline("port", observations, dets, TimelineParams(pass_seconds=0), site_geometry=SITE)
    assert [r.date.day for r in alone.rows] == [5, 29]
    tl = build_timeline("port", observations, dets, site_geometry=SITE)
    assert [r.date.day for r in tl.rows] == [5, 17, 29] and not tl.skipped
    assert [r.departures for r in tl.rows] == [0, 0, 0]


def test_a_pass_that_covers_too_little_together_is_skipped_saying_so() -> None:
    a = piece("s12", 131.9, 132.03)
    b = replace(piece("s13", 132.03, 132.3, seconds=25), valid_fraction=0.15)
    tl = build_timeline("port", [a, b], [], site_geometry=SITE)
    assert not tl.rows
    why = {s.observation_id: s.reason for s in tl.skipped}
    assert why["port/s13"] == "valid 15% of the site < 50%; with the other pieces of its pass (port/s12): valid 45% of the site < 50%"


def test_a_cloudy_piece_does_not_spoil_a_clear_one_nor_count_itself() -> None:
    clear = piece("p1", 131.9, 132.06, sensor="optical", platform="planetscope", cloud=0.0)
    cloudy = piece("p2", 132.06, 132.3, seconds=2, sensor="optical", platform="planetscope", cloud=0.9)
    why = usability([clear, cloudy], TimelineParams(), site=SITE)
    assert why["port/p1"] is None
    assert why["port/p2"] == ("valid 40% of the site < 50%; with the other pieces of its pass "
                              "(port/p1): cloud over 36% of the site's valid pixels > 20% (valid 100% together)")  # fmt: skip


def test_an_undetected_piece_adds_nothing_to_the_union() -> None:
    a, b = piece("s12", 131.9, 132.04), piece("s13", 132.04, 132.3, seconds=25)
    why = usability([a, b], TimelineParams(), site=SITE, undetected={"port/s13"})
    assert why["port/s12"].startswith("valid 40%") and why["port/s13"].startswith("no current detections")  # type: ignore[union-attr]


def test_claims_judge_the_pieces_of_a_pass_together_too() -> None:
    observations, dets = _three_passes()
    site = Site(id="port", name="port", kind="port", geometry=SITE)
    world = World({"port": site}, observations, dets)
    usable, skipped = world.on_date("port", date(2024, 10, 17))
    assert sorted(o.id for o in usable) == ["port/s12", "port/s13"] and skipped == []


# -- end to end: two GeoTIFF slices ingested, detected, on the timeline and in alerts --------------


RES, W, H, M = 10.0, 120, 100, 15
SEAM = 72  # the site's column where the first slice ends: 60 % / 40 %


def _slices(folder: Path) -> Path:
    """Three passes of a 1.2 x 1 km site as GeoTIFFs, the middle one in two slices; its site as GeoJSON."""
    crs, x0, y0 = site_utm_origin(tiny_site())
    x0, y0 = math.floor(x0 / RES) * RES, math.ceil(y0 / RES) * RES
    rect = box(x0 + 1, y0 - H * RES + 1, x0 + W * RES - 1, y0 - 1)
    site = folder / "site.geojson"
    site.write_text(json.dumps({"type": "Feature", "properties": {},
                                "geometry": mapping(reproject_geometry(rect, crs, "EPSG:4326"))}), encoding="utf-8")  # fmt: skip
    ships = [(30.0, 30.0, 150.0, 20.0, 0.0), (30.0, 100.0, 150.0, 20.0, 0.0), (75.0, SEAM, 200.0, 25.0, 90.0)]
    shifted = [(r + M, c + M, *rest) for r, c, *rest in ships]
    transform = Affine(RES, 0, x0 - M * RES, 0, -RES, y0 + M * RES)
    for seed, day in enumerate(("2024-10-05", "2024-10-17", "2024-10-29")):
        data = sea_with_ships(np.random.default_rng(seed), (H + 2 * M, W + 2 * M), shifted)
        tags = {"SITEWATCH_IMPULSE_RESPONSE_M": "0", "SITEWATCH_PLATFORM": "sentinel-1a"}
        if day != "2024-10-17":
            write_tiff(folder / f"S1A_{day}.tif", data, crs=crs, transform=transform, descriptions=["VV"],
                       tags=tags | {"SITEWATCH_ACQUIRED": f"{day}T09:30:00Z"})  # fmt: skip
            continue
        cut = M + SEAM  # each slice as delivered: its own columns only
        write_tiff(folder / f"S1A_{day}_slice12.tif", data[:, :cut], crs=crs, transform=transform,
                   descriptions=["VV"], tags=tags | {"SITEWATCH_ACQUIRED": f"{day}T09:30:00Z"})  # fmt: skip
        write_tiff(folder / f"S1A_{day}_slice13.tif", data[:, cut:], crs=crs,
                   transform=transform @ Affine.translation(cut, 0), descriptions=["VV"],
                   tags=tags | {"SITEWATCH_ACQUIRED": f"{day}T09:30:25Z"})  # fmt: skip
    return site


def test_two_slices_ingested_and_detected_make_one_date_without_false_departures_or_alerts(tmp_path: Path) -> None:
    site = _slices(tmp_path)
    ws = str(tmp_path / "ws")
    run = CliRunner()
    for args in (["init", ws], ["sites", "add", "port", "--geojson", str(site), "-w", ws],
                 ["ingest", "port", *sorted(str(p) for p in tmp_path.glob("S1A_*.tif")), "--workers", "1", "-w", ws],
                 ["detect", "port", "--workers", "1", "-w", ws]):  # fmt: skip
        res = run.invoke(main, args)
        assert res.exit_code == 0, res.output
    obs = json.loads(run.invoke(main, ["observations", "port", "--json", "-w", ws]).stdout)
    assert sorted(o["valid_pct"] for o in obs) == [40.0, 60.0, 100.0, 100.0]
    pieces = ["port/S1A_2024-10-17_slice12", "port/S1A_2024-10-17_slice13"]
    assert [o["pass"] and o["pass"]["pieces"] for o in obs] == [None, pieces, pieces, None]
    # Judged by the outline of each slice's valid pixels ingest records (within a 128th of the grid of them), not
    # the file's bounds in lon/lat, a little wider than its UTM pixels (which made the slices seem to share a few %
    # of the site, the union's bound that much short): at most that short of the 100 % they hold.
    together = obs[1]["pass"]["valid_pct"]
    assert 99 <= together <= 100
    listed = run.invoke(main, ["observations", "port", "-w", ws]).output
    assert (f"one pass, judged together by the timeline: {pieces[0]} + {pieces[1]} (at least {together}% of the site "
            "together)") in listed  # fmt: skip
    tl = json.loads(run.invoke(main, ["timeline", "port", "--json", "-", "-w", ws]).stdout)
    assert tl["skipped"] == []
    rows = {r["date"]: r for r in tl["rows"]}
    mid = rows["2024-10-17"]
    assert mid["observation_ids"] == ["port/S1A_2024-10-17_slice12", "port/S1A_2024-10-17_slice13"]
    assert [r["vessels"] for r in tl["rows"]] == [3, 3, 3]  # the seam ship once
    assert [(r["arrivals"], r["departures"]) for r in tl["rows"]] == [(0, 0), (0, 0), (0, 0)]
    assert mid["truncated_vessels"] == 1
    (tmp_path / "ws" / "alerts.yaml").write_text(
        "rules:\n  - id: moves\n    kind: departure\n    sites: [port]\n  - id: comes\n    kind: arrival\n    sites: [port]\n",
        encoding="utf-8",
    )
    res = run.invoke(main, ["alerts", "check", "--all", "--json", "-w", ws])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == ""  # one JSON line an event: none


def _slice_catalogue(folder: Path) -> Path:
    """The GeoTIFFs of :func:`_slices` as Sentinel-1 RTC items of a static STAC catalogue: the middle pass two
    slice items of one datatake, 25 s apart, with their orbit and datatake, as Planetary Computer lists them."""
    import pystac
    from rasterio.shutil import copy as copy_raster

    items = []
    for tif in sorted(folder.glob("S1A_*.tif")):
        with rasterio_open(tif) as r:
            when = r.tags()["SITEWATCH_ACQUIRED"]
            geom = mapping(reproject_geometry(box(*r.bounds), r.crs.to_string(), "EPSG:4326"))
        cog = folder / "delivery" / "data" / f"{tif.stem}_vv.tif"
        cog.parent.mkdir(parents=True, exist_ok=True)
        copy_raster(tif, cog, driver="COG")
        take = "2" if "slice" in tif.stem else tif.stem[-2:]
        props = {"platform": "sentinel-1a", "sat:orbit_state": "descending", "sat:relative_orbit": 127,
                 "sat:absolute_orbit": 55000 + int(take), "s1:datatake_id": f"3980{take}"}  # fmt: skip
        xs, ys = zip(*geom["coordinates"][0], strict=True)
        item = pystac.Item(tif.stem, geom, [min(xs), min(ys), max(xs), max(ys)],
                           datetime.fromisoformat(when.replace("Z", "+00:00")), props)  # fmt: skip
        item.add_asset("vv", pystac.Asset(f"../../data/{cog.name}", media_type=pystac.MediaType.COG, roles=["data"]))
        items.append(item)
    extent = pystac.Extent(pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]), pystac.TemporalExtent([[None, None]]))
    collection = pystac.Collection("sentinel-1-rtc", "slices of datatakes", extent)
    collection.add_items(items)
    catalogue = pystac.Catalog("delivery", "a delivery")
    catalogue.add_child(collection)
    catalogue.normalize_hrefs(str(folder / "delivery"))
    catalogue.save(pystac.CatalogType.SELF_CONTAINED)
    return folder / "delivery" / "catalog.json"


def test_two_slice_items_fetched_from_a_catalogue_are_one_pass_on_the_timeline(tmp_path: Path) -> None:
    site = _slices(tmp_path)
    catalogue = _slice_catalogue(tmp_path)
    ws = str(tmp_path / "ws")
    run = CliRunner()
    for args in (["init", ws], ["sites", "add", "port", "--geojson", str(site), "-w", ws],
                 ["fetch", "port", "--catalog", str(catalogue), "--collection", "sentinel-1-rtc",
                  "--from", "2024-10-01", "--to", "2024-10-31", "-w", ws],
                 ["detect", "port", "--workers", "1", "-w", ws]):  # fmt: skip
        res = run.invoke(main, args)
        assert res.exit_code == 0, res.output
    obs = json.loads(run.invoke(main, ["observations", "port", "--json", "-w", ws]).stdout)
    # Both slices fetched (25 s apart: not one acquisition twice), and their footprints meet along the seam.
    assert [o["valid_pct"] for o in obs] == [100.0, 60.0, 40.0, 100.0]
    assert obs[1]["pass"] == {"pieces": [obs[1]["id"], obs[2]["id"]], "valid_pct": 100.0}
    tl = json.loads(run.invoke(main, ["timeline", "port", "--json", "-", "-w", ws]).stdout)
    assert tl["skipped"] == [] and [r["vessels"] for r in tl["rows"]] == [3, 3, 3]
    assert sum(r["arrivals"] + r["departures"] for r in tl["rows"]) == 0
