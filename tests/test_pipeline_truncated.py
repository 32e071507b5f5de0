"""The site pipeline keeps the detectors' ``truncated`` flag: a vessel cut by the edge of the site's
window or by missing data is stored as such, has no class candidates, and its length is shown and
matched as a lower bound."""

from __future__ import annotations

import math
import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from shapely.geometry import box

from _old_store import old_database
from sitewatch.detection import DetectJob, detect_observation, detect_site, to_detections
from sitewatch.geo import reproject_geometry
from sitewatch.ingest import ingest_file
from sitewatch.model import Site
from sitewatch.store import Store
from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
from sitewatch.workspace import init_workspace
from test_sar import sea_with_ships

RES = 10.0
W, H = 160, 200
"""The site's grid in pixels: a rectangle of the UTM zone, so the grid's edge is the site's edge."""
MARGIN = 20
"""Pixels of the source image beyond the site on every side."""
EDGE_SHIP = (100.0, 0.0, 200.0, 25.0, 90.0)
"""(row, col, length m, width m, heading) in the site's grid: half of it west of the site."""
COLLAR_SHIP = (40.0, 120.0, 200.0, 25.0, 90.0)
"""Its eastern half in a no-data collar (columns 120 on, rows 0-79 of the site)."""
WHOLE_SHIP = (160.0, 80.0, 200.0, 25.0, 90.0)


def _site(site_id: str = "cut") -> tuple[Site, str, float, float]:
    """A site whose polygon is a W x H rectangle of 10 m pixels in its UTM zone: (site, crs, west, north)."""
    crs, x0, y0 = site_utm_origin(tiny_site())
    x0, y0 = math.floor(x0 / RES) * RES, math.ceil(y0 / RES) * RES
    # A metre inside the pixels' edges, so the grid snapped to 10 m is exactly W x H.
    rect = box(x0 + 1, y0 - H * RES + 1, x0 + W * RES - 1, y0 - 1)
    return Site(id=site_id, name=site_id, kind="port", geometry=reproject_geometry(rect, crs, "EPSG:4326")), crs, x0, y0


def _sar_workspace(tmp_path: Path, *, water: bool = False):  # type: ignore[no-untyped-def]
    """The SAR ships above in a scene reaching MARGIN pixels beyond the site; with ``water`` the site's water
    polygon is the site itself and a shore 400 m east of it (columns 200 on, outside)."""
    site, crs, x0, y0 = _site()
    if water:
        site = replace(site, water=reproject_geometry(box(x0 - 400, y0 - H * RES - 400, x0 + 200 * RES, y0 + 400), crs, "EPSG:4326"))
    shape = (H + 2 * MARGIN, W + 2 * MARGIN)
    ships = [(r + MARGIN, c + MARGIN, *rest) for r, c, *rest in (EDGE_SHIP, COLLAR_SHIP, WHOLE_SHIP)]
    data = sea_with_ships(np.random.default_rng(11), shape, ships)
    data[MARGIN : MARGIN + 80, MARGIN + 120 :] = np.nan  # the collar, inside the site
    tif = write_tiff(
        tmp_path / "s1.tif", data, crs=crs, transform=Affine(RES, 0, x0 - MARGIN * RES, 0, -RES, y0 + MARGIN * RES),
        descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z", "SITEWATCH_IMPULSE_RESPONSE_M": "0"},
    )  # fmt: skip
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
        obs = ingest_file(ws, store, site, tif)
    assert obs is not None and obs.grid.shape == (H, W)
    return ws, site, obs


def _at(dets, row: float, col: float, tol: float = 12.0):  # type: ignore[no-untyped-def]
    (d,) = [d for d in dets if math.hypot(d.row - row, d.col - col) <= tol]
    return d


def test_detect_stores_the_vessels_cut_by_the_site_s_edge_or_missing_data_as_truncated(tmp_path: Path) -> None:
    ws, site, obs = _sar_workspace(tmp_path)
    detect_site(ws, site.id, workers=1)
    with ws.store() as store:
        dets = store.detections(site_id=site.id)
    edge, collar, whole = (_at(dets, r, c + (5 if c == 0 else -5 if c == 120 else 0)) for r, c, *_ in
                           (EDGE_SHIP, COLLAR_SHIP, WHOLE_SHIP))  # fmt: skip
    assert len(dets) == 3
    assert edge.truncated is True and collar.truncated is True and whole.truncated is False
    # Cut, measured short, and not classed by that size; the whole one is classed.
    assert edge.length_m < 150 and collar.length_m < 150 and whole.length_m > 150
    assert edge.class_candidates == () and collar.class_candidates == ()
    assert whole.class_candidates
    with closing(sqlite3.connect(ws.db_path)) as db:
        raw = db.execute("SELECT truncated, typeof(truncated) FROM detections ORDER BY detection_id").fetchall()
    assert sorted(raw) == [(0, "integer"), (1, "integer"), (1, "integer")]


def test_detect_says_how_many_it_found_cut_also_of_the_observations_it_keeps(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from sitewatch.cli import main

    ws, site, _ = _sar_workspace(tmp_path)
    first = CliRunner().invoke(main, ["detect", site.id, "-w", str(ws.root)])
    assert first.exit_code == 0, first.output
    assert "found 3 vessels (2 cut by the image's edge or no data)" in first.output
    again = CliRunner().invoke(main, ["detect", site.id, "--json", "-w", str(ws.root)])  # kept, counted from the rows
    assert json.loads(again.stdout)["truncated"] == {"vessel": 2}


def test_a_hull_cut_by_the_site_s_edge_is_truncated_with_a_water_polygon_too(tmp_path: Path) -> None:
    # The polygon's water was shrunk 20 m from the site's edge as from a shore: the hull's two
    # pixels at the edge were not searched, so it ended short of the edge, measured whole.
    ws, site, obs = _sar_workspace(tmp_path, water=True)
    detect_site(ws, site.id, workers=1)
    with ws.store() as store:
        dets = store.detections(site_id=site.id)
    edge = _at(dets, EDGE_SHIP[0], 5)
    assert edge.truncated is True and edge.class_candidates == ()
    assert _at(dets, *WHOLE_SHIP[:2]).truncated is False


def test_the_water_is_shrunk_from_its_shore_not_from_the_site_s_edge() -> None:
    from sitewatch.detection_masks import water_mask
    from sitewatch.ingest import site_grid

    site, crs, x0, y0 = _site()
    shore = x0 + 100 * RES  # land east of column 100
    site = replace(site, water=reproject_geometry(box(x0 - 400, y0 - H * RES - 400, shore, y0 + 400), crs, "EPSG:4326"))
    grid = site_grid(site, RES)
    mask = water_mask(site, grid)
    assert mask is not None
    assert mask[:, :98].all()  # to the site's edges (the grid's) on three sides
    assert not mask[:, 98:].any()  # 20 m off the shore
    assert np.array_equal(water_mask(site, grid, (0, 50, 0, 60)), mask[:50, :60])


def test_a_tiled_sar_observation_stores_the_same_flags(tmp_path: Path) -> None:
    ws, site, obs = _sar_workspace(tmp_path)
    job = DetectJob(site, obs, str(Path(ws.root).resolve() / obs.path), {})
    one = detect_observation(job)
    tiled = detect_observation(job, sar_tile=64, sar_tile_above=10_000)  # 32 k pixels: tiled, seams at 64 and 128
    assert not one.error and not tiled.error
    flags = sorted((round(d.row), round(d.col), d.truncated, bool(d.class_candidates)) for d in tiled.detections)
    assert flags == sorted((round(d.row), round(d.col), d.truncated, bool(d.class_candidates)) for d in one.detections)
    assert [f[2] for f in flags].count(True) == 2


def _optical_workspace(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A simulated optical observation of the site (known water: its west half), a deck on the site's west
    edge and one in open water."""
    site, crs, x0, y0 = _site()
    site = replace(site, water=reproject_geometry(box(x0 - 50, y0 - H * RES - 50, x0 + 100 * RES, y0 + 50), crs, "EPSG:4326"))
    data = np.empty((4, H, W), np.float32)
    data[:] = np.array([0.045, 0.040, 0.022, 0.012])[:, None, None]  # water
    data[:, :, 100:] = np.array([0.150, 0.160, 0.170, 0.210])[:, None, None]  # quay
    deck = np.array([0.20, 0.21, 0.22, 0.30])[:, None, None]
    data[:, 98:101, 0:8] = deck  # 80 m of it in the image, on its edge
    data[:, 148:151, 40:52] = deck  # 120 m, whole
    tif = write_tiff(tmp_path / "s2.tif", data, crs=crs, transform=Affine(RES, 0, x0, 0, -RES, y0),
                     descriptions=["blue", "green", "red", "nir"],
                     tags={"SITEWATCH_ACQUIRED": "2024-10-18T02:00:00Z", "SITEWATCH_SENSOR": "optical",
                           "SITEWATCH_SIMULATED": "true"})  # fmt: skip
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
        obs = ingest_file(ws, store, site, tif)
    assert obs is not None and obs.grid.shape == (H, W)
    return ws, site


def test_detect_stores_an_optical_vessel_on_the_site_s_edge_as_truncated(tmp_path: Path) -> None:
    ws, site = _optical_workspace(tmp_path)
    detect_site(ws, site.id, workers=1)
    with ws.store() as store:
        dets = [d for d in store.detections(site_id=site.id) if d.kind == "vessel"]
    edge, whole = _at(dets, 99, 3.5), _at(dets, 149, 45.5)
    assert edge.truncated is True and edge.class_candidates == ()
    assert whole.truncated is False and whole.class_candidates


def test_to_detections_withholds_the_classes_of_a_truncated_vessel_only() -> None:
    from sitewatch.detect.base import PixelDetection
    from test_detection import _obs_on_grid

    obs, *_ = _obs_on_grid()
    corners = ((25.0, 39.0), (35.0, 39.0), (35.0, 41.0), (25.0, 41.0))
    whole = PixelDetection(40, 30, 113.0, 15.3, 90.0, 0.9, corners)
    cut = replace(whole, row=80, truncated=True)
    crane = replace(whole, row=120, kind="crane", truncated=True)
    a, b, c = to_detections([whole, cut, crane], tiny_site(), obs, "t", "1")
    assert (a.truncated, b.truncated, c.truncated) == (False, True, True)
    assert a.class_candidates and b.class_candidates == () and c.class_candidates == ()
    assert b.length_m == a.length_m  # the measurement is kept: a lower bound


def test_a_workspace_of_schema_6_gets_the_column_with_its_old_rows_not_recorded(tmp_path: Path) -> None:
    from sitewatch.store.gpkg import to_gpkg_blob
    from sitewatch.store.schema import SCHEMA_VERSION
    from test_store import _det, _obs

    path = tmp_path / "old.gpkg"
    db = old_database(path, 6)
    obs = _obs()
    d = _det(obs, 0)
    # A row as sitewatch wrote it before version 7: no truncated column.
    db.execute(
        """INSERT INTO detections (geom, detection_id, observation_id, site_id, acquired, sensor, kind, length_m, width_m,
           heading_deg, score, detector, detector_version, row, col, berth_id, class_candidates, lon, lat, simulated)
           VALUES (?, ?, ?, 'dunai', '2024-10-17T09:30:00.000Z', 'sar', 'vessel', 110, 15, 30, 5, 'test', '1', 0, 0,
           NULL, '[["Ropucha", 0.5]]', 132.33, 42.88, 0)""",
        (to_gpkg_blob(d.footprint), d.id, obs.id),
    )
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 15
        (old,) = store.detections()
        assert old.truncated is None  # not recorded: neither whole nor cut is known
        assert [c.name for c in old.class_candidates] == ["Ropucha"]
        store.replace_detections(obs, [replace(_det(obs, 1), truncated=True), _det(obs, 2)])
        assert [x.truncated for x in store.detections()] == [True, False]
    # GDAL reads the new column as a boolean field of the detections layer.
    pyogrio = pytest.importorskip("pyogrio")
    meta = pyogrio.read_info(path, layer="detections")
    assert dict(zip(meta["fields"], meta["dtypes"], strict=True))["truncated"] == "bool"


def _cut(d, length: float):  # type: ignore[no-untyped-def]
    return replace(d, length_m=length, truncated=True)


def test_a_vessel_measured_short_because_cut_is_the_same_vessel_the_next_date() -> None:
    from sitewatch.analysis import build_timeline
    from test_occupancy import obs, vessel

    a, b, c = obs("2024-10-14"), obs("2024-10-17"), obs("2024-10-20")
    # 180 m at berth b1, then only 70 m of it inside the site's window, then whole again.
    tl = build_timeline("dunai", [a, b, c], [vessel(a, 0, length=180.0), _cut(vessel(b, 0), 70.0), vessel(c, 0, length=180.0)])
    assert [(r.vessels, r.arrivals, r.departures) for r in tl.rows] == [(1, 0, 0), (1, 0, 0), (1, 0, 0)]
    assert [r.truncated_vessels for r in tl.rows] == [0, 1, 0]
    # Taken as whole (as the timeline read it before), the cut look was a swap: one left, one came.
    whole = build_timeline("dunai", [a, b, c], [vessel(a, 0, length=180.0), vessel(b, 0, length=70.0), vessel(c, 0, length=180.0)])
    assert [(r.arrivals, r.departures) for r in whole.rows] == [(0, 0), (1, 1), (1, 1)]


def test_a_cut_length_is_still_a_lower_bound() -> None:
    from sitewatch.analysis import build_timeline
    from test_occupancy import obs, vessel

    a, b = obs("2024-10-14"), obs("2024-10-17")
    # At least 150 m of the first is seen: the 60 m boat at the berth next is another vessel.
    tl = build_timeline("dunai", [a, b], [_cut(vessel(a, 0), 150.0), vessel(b, 0, length=60.0)])
    assert (tl.rows[1].arrivals, tl.rows[1].departures) == (1, 1)
    # Two cut looks say nothing against each other.
    tl = build_timeline("dunai", [a, b], [_cut(vessel(a, 0), 150.0), _cut(vessel(b, 0), 40.0)])
    assert (tl.rows[1].arrivals, tl.rows[1].departures) == (0, 0)


def test_a_whole_look_of_the_date_stands_for_a_vessel_another_look_saw_cut(capsys: pytest.CaptureFixture[str]) -> None:
    from sitewatch.analysis import build_timeline, timeline_to_dict
    from sitewatch.cli.timeline import _print
    from sitewatch.report.exports import TIMELINE_CSV_COLUMNS, timeline_to_csv
    from test_occupancy import obs, vessel

    s = obs("2024-10-17", "sar", hour=21)
    o = obs("2024-10-17", "optical", hour=2, res=10.0, cloud=0.0)
    s2 = obs("2024-10-18", "sar", hour=21)
    # The SAR pass saw two vessels, one cut; the optical one saw that one whole.
    dets = [_cut(vessel(s, 0), 70.0), vessel(s, 1, berth="b2", dx_m=400), vessel(o, 0, length=180.0), _cut(vessel(s2, 0), 60.0)]
    tl = build_timeline("dunai", [s, o, s2], dets)
    first, second = tl.rows
    assert first.vessels == 2 and first.truncated_vessels == 0
    assert {(x.detection_id, x.length_m, x.truncated) for x in first.sightings} == {
        (f"{o.id}-d0", 180.0, False), (f"{s.id}-d1", 110.0, False)}  # fmt: skip
    assert (second.vessels, second.truncated_vessels, second.departures) == (1, 1, 1)  # b2 left; b1's is there, cut
    rows = timeline_to_csv(tl).splitlines()
    at = TIMELINE_CSV_COLUMNS.index("truncated_vessels")
    assert [r.split(",")[at] for r in rows] == ["truncated_vessels", "0", "1"]
    d = timeline_to_dict(tl, sightings=True)
    assert d["rows"][1]["truncated_vessels"] == 1 and d["rows"][1]["sightings"][0]["truncated"] is True
    _print(tl, "UTC")
    table = {line[:10]: line for line in capsys.readouterr().out.splitlines()}
    assert table["2024-10-18"].endswith("  cut by the image edge or no data: 1")
    assert "cut by" not in table["2024-10-17"]


def test_the_report_and_its_exports_show_a_truncated_length_as_a_lower_bound_without_classes(tmp_path: Path) -> None:
    import re

    from markupsafe import escape as html_escape

    from _report_world import build
    from sitewatch.report.exports import detections_to_geojson
    from sitewatch.report.html import TRUNCATED_TEXT, write_report

    ws = build(tmp_path / "ws")
    with ws.store() as store:
        sar = next(o for o in store.observations() if o.scene.sensor == "sar" and o.scene.acquired.day == 17)
        (d,) = store.detections(observation_id=sar.id)
        assert d.class_candidates  # stored before it was known to be cut: the outputs still withhold them
        store.replace_detections(sar, [replace(d, truncated=True)])
        optical = next(o for o in store.observations() if o.scene.sensor == "optical" and o.scene.acquired.day == 17)
        kept = store.detections(observation_id=optical.id)
        store.replace_detections(optical, [replace(kept[0], truncated=None), *kept[1:]])  # not recorded
        fc = detections_to_geojson(store)
    html = write_report(ws, None, tmp_path / "report.html").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr><td class="hash">([^<]+)</td>.*?</tr>', html)}
    cut, whole = rows[d.id], rows[kept[0].id]
    assert "≥ 118.0 × ≥ 16.0" in cut and html_escape(TRUNCATED_TEXT) in cut and "Alligator" not in cut
    assert "114.0 × 16.0" in whole and "≥" not in whole and "Alligator" in whole
    assert f"{d.id} · vessel ≥ 118 m (cut by the image&#39;s edge or missing data)" in html  # its close-up
    assert "A length marked ≥" in html
    props = {f["properties"]["id"]: f["properties"] for f in fc["features"]}
    assert props[d.id]["truncated"] is True and props[d.id]["class_candidates"] == []
    assert props[kept[0].id]["truncated"] is None and props[kept[0].id]["class_candidates"]
    assert props[kept[1].id]["truncated"] is False  # the crane


@pytest.mark.parametrize("first", [70.0, 150.0])
def test_two_cut_looks_of_a_date_keep_the_longer_lower_bound_whichever_came_first(first: float) -> None:
    from sitewatch.analysis import build_timeline
    from test_occupancy import obs, vessel

    s, s2, n = obs("2024-10-17", "sar", hour=21), obs("2024-10-17", "sar", hour=9), obs("2024-10-18", "sar", hour=21)
    other = 220.0 - first  # the other look: 150 m when the first is 70 m, and the other way round
    dets = [_cut(vessel(s, 0), first), _cut(vessel(s2, 0), other), vessel(n, 0, length=100.0)]
    day, next_day = build_timeline("dunai", [s, s2, n], dets).rows
    # At least 150 m of the vessel was seen on the 17th: the 100 m boat at the berth next is another.
    assert [x.length_m for x in day.sightings] == [150.0] and day.truncated_vessels == 1
    assert (next_day.arrivals, next_day.departures) == (1, 1)
