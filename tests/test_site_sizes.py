"""Sites of extreme sizes, and images that cover them partly: a berth smaller than a pixel is refused by
name; two frames of one pass, each half no data within its bounds, are judged on the data they hold."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner
from shapely.geometry import box

from sitewatch.analysis import load_timeline
from sitewatch.analysis.passes import passes
from sitewatch.cli import main
from sitewatch.detection import detect_site
from sitewatch.errors import InputError
from sitewatch.geo import reproject_geometry
from sitewatch.ingest import ingest_file
from sitewatch.model import Site
from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
from sitewatch.workspace import init_workspace
from test_sar import sea_with_ships

RES = 10.0


def _utm_site(site_id: str, width_m: float, height_m: float) -> tuple[Site, str, float, float]:
    """A site that is a ``width_m`` × ``height_m`` rectangle of its UTM zone, its top left on the 10 m pixels
    (a metre inside them): (site, crs, west, north)."""
    crs, x0, y0 = site_utm_origin(tiny_site())
    x0, y0 = math.floor(x0 / RES) * RES, math.ceil(y0 / RES) * RES
    rect = box(x0 + 1, y0 - height_m + 1, x0 + width_m - 1, y0 - 1)
    return Site(id=site_id, name=site_id, kind="port", geometry=reproject_geometry(rect, crs, "EPSG:4326")), crs, x0, y0


# -- a site smaller than a pixel ----------------------------------------------------------------


def test_a_berth_smaller_than_a_pixel_is_refused_by_name_not_skipped_as_missed(tmp_path: Path) -> None:
    # 8 × 5 m between pixel centres: the image covers it, but no 10 m pixel's centre lies in it. Before,
    # ingest skipped the file as "no valid pixel over site 'tiny'", as if the image had missed the berth.
    crs, x0, y0 = site_utm_origin(tiny_site())
    x0, y0 = math.floor(x0 / RES) * RES, math.ceil(y0 / RES) * RES
    berth = Site(id="berth", name="berth", kind="port",
                 geometry=reproject_geometry(box(x0 + 506, y0 - 513, x0 + 514, y0 - 508), crs, "EPSG:4326"))  # fmt: skip
    tif = write_tiff(tmp_path / "s1.tif", np.full((100, 100), 0.02, np.float32), crs=crs,
                     transform=Affine(RES, 0, x0, 0, -RES, y0), descriptions=["VV"],
                     tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"})  # fmt: skip
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(berth)
    result = CliRunner().invoke(main, ["ingest", "berth", str(tif), "-w", str(ws.root)])
    assert result.exit_code == 1, result.output
    assert "no valid pixel" not in result.output
    assert "site 'berth' (8 × 5 m) is smaller than one 10 m pixel of this image" in result.output
    assert "use finer imagery" in result.output
    with ws.store() as store:
        assert store.observations(site_id="berth") == []
    assert not any((ws.archive / "berth").glob("*")) if (ws.archive / "berth").exists() else True
    # The same berth at 2 m pixels holds pixels: it goes in.
    fine = write_tiff(tmp_path / "fine.tif", np.full((500, 500), 0.02, np.float32), crs=crs,
                      transform=Affine(2.0, 0, x0, 0, -2.0, y0), descriptions=["VV"],
                      tags={"SITEWATCH_ACQUIRED": "2024-10-18T09:30:00Z"})  # fmt: skip
    result = CliRunner().invoke(main, ["ingest", "berth", str(fine), "-w", str(ws.root)])
    assert result.exit_code == 0, result.output


def test_too_small_for_names_the_site_its_size_and_the_pixel() -> None:
    from sitewatch.ingest.grid import site_grid, too_small_for

    site, _, _, _ = _utm_site("pier-7", 300.0, 30.0)
    err = too_small_for(site, site_grid(site, 60.0))
    assert isinstance(err, InputError) and "site 'pier-7' (298 × 28 m) is smaller than one 60 m pixel" in str(err)


def test_import_refuses_the_image_for_the_sub_pixel_berth_only(tmp_path: Path) -> None:
    site, crs, x0, y0 = _utm_site("port", 600.0, 600.0)
    berth = Site(id="berth", name="berth", kind="port",
                 geometry=reproject_geometry(box(x0 + 206, y0 - 213, x0 + 214, y0 - 208), crs, "EPSG:4326"))  # fmt: skip
    tif = write_tiff(tmp_path / "S1A_20241017T093000.tif", np.full((80, 80), 0.02, np.float32), crs=crs,
                     transform=Affine(RES, 0, x0 - 100, 0, -RES, y0 + 100), descriptions=["VV"])  # fmt: skip
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
        store.put_site(berth)
    result = CliRunner().invoke(main, ["import", str(tif), "-w", str(ws.root)])
    assert result.exit_code == 3, result.output
    assert "port/S1A_20241017T093000" in result.output
    assert "site 'berth' (8 × 5 m) is smaller than one 10 m pixel" in result.output


# -- two frames of one pass, each half no data --------------------------------------------------

N = 200
"""The site's side in pixels (2 km)."""


def _frames(tmp_path: Path, west_cols: int, east_from: int) -> tuple[Path, Path, Site, list[tuple[float, float, float, float, float]]]:
    """Two frames of one Sentinel-1A pass 21 s apart, each a file over the whole site whose pixels west of
    ``west_cols`` (east of ``east_from``) hold data and the rest NaN, as a frame warped to the site's zone, or
    a swath's edge, is delivered. Ships: one in each frame's part alone."""
    site, crs, x0, y0 = _utm_site("port", N * RES, N * RES)
    ships = [(60.0, 40.0, 120.0, 16.0, 30.0), (140.0, 170.0, 90.0, 14.0, 0.0)]
    data = sea_with_ships(np.random.default_rng(5), (N, N), ships)
    out = []
    for name, keep, when in (("S1A_west", slice(0, west_cols), "09:30:00"), ("S1A_east", slice(east_from, N), "09:30:21")):
        piece = np.full_like(data, np.nan)
        piece[:, keep] = data[:, keep]
        out.append(write_tiff(tmp_path / f"{name}.tif", piece, crs=crs, transform=Affine(RES, 0, x0, 0, -RES, y0),
                              descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": f"2024-10-17T{when}Z",
                              "SITEWATCH_PLATFORM": "sentinel-1a", "SITEWATCH_IMPULSE_RESPONSE_M": "0"}))  # fmt: skip
    return out[0], out[1], site, ships


def test_two_frames_each_half_no_data_are_judged_on_the_data_they_hold(tmp_path: Path) -> None:
    # Each frame holds 45 % of the site, the two together 90 %. Their files' bounds are the same, so by
    # the footprints they seemed to share all of it: the pass counted 45 %, under the 50 % a date needs,
    # and both frames were skipped with their vessels (read as departures the date before, arrivals after).
    west, east, site, ships = _frames(tmp_path, 90, 110)
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
        a, b = (ingest_file(ws, store, site, f) for f in (west, east))
    assert a is not None and b is not None
    assert (a.valid_fraction, b.valid_fraction) == (0.45, 0.45)
    (one,) = passes([a, b], 60.0, site.geometry)
    assert 0.88 <= one.valid_fraction <= 0.9  # a lower bound, within a 128th of the grid of the truth
    assert "valid_outline" in a.provenance and "valid_outline" in b.provenance
    detect_site(ws, site.id, workers=1)
    with ws.store() as store:
        tl = load_timeline(store, site.id)
    assert tl.skipped == ()
    (row,) = tl.rows
    assert row.date.isoformat() == "2024-10-17" and row.vessels == len(ships)
    observed = CliRunner().invoke(main, ["observations", "port", "-w", str(ws.root)])
    assert re.search(r"at least (8[89]|90)\.\d% of the site together", observed.output), observed.output


def test_a_whole_image_records_no_outline_and_overlapping_frames_are_never_counted_twice(tmp_path: Path) -> None:
    # 60 % and 60 %, overlapping over 20 %: together 100 %, never the 120 % of their sum.
    west, east, site, _ = _frames(tmp_path, 120, 80)
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
        a, b = (ingest_file(ws, store, site, f) for f in (west, east))
        assert a is not None and b is not None
        (one,) = passes([a, b], 60.0, site.geometry)
        assert 0.97 <= one.valid_fraction <= 1.0
        whole = write_tiff(tmp_path / "whole.tif", np.full((N, N), 0.02, np.float32), crs=a.grid.crs,
                           transform=a.grid.affine, descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": "2024-10-18T09:30:00Z"})  # fmt: skip
        full = ingest_file(ws, store, site, whole)
    assert full is not None and full.valid_fraction == 1.0 and "valid_outline" not in full.provenance


@pytest.mark.parametrize("cells", [1, 7, 300])
def test_valid_outline_holds_every_valid_pixel(cells: int) -> None:
    from sitewatch.ingest.grid import valid_outline
    from sitewatch.model import Grid

    rng = np.random.default_rng(cells)
    valid = rng.random((cells, cells + 3)) < 0.3
    valid[0, 0] = True
    grid = Grid("EPSG:32653", (10.0, 0.0, 1000.0, 0.0, -10.0, 5000.0), cells + 3, cells)
    outline = valid_outline(valid, grid)
    assert outline is not None
    import shapely

    rows, cols = np.nonzero(valid)
    xs, ys = grid.affine @ (cols + 0.5, rows + 0.5)
    assert shapely.contains_xy(outline.buffer(1e-6), xs, ys).all()
    assert valid_outline(np.zeros((3, 3), bool), grid) is None


# -- a site smaller than the detectors' context --------------------------------------------------


def test_detect_says_when_a_site_is_too_small_for_the_detectors(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A 300 × 30 m pier with a 110 × 16 m hull along it, the image reaching 500 m beyond: archived without a margin
    # (as before margins, or with context_m 0) the site's grid is the pier, so the clutter came from the pier's own
    # pixels, the hull a sixth of them. It was found 28 m long and classed a harbour tug, silently; detect says why
    # such a site's vessels may be missed or measured short. Archived with its margin (the default), it is not.
    pier, crs, x0, y0 = _utm_site("pier", 300.0, 30.0)
    data = sea_with_ships(np.random.default_rng(3), (103, 130), [(51.5, 65.0, 110.0, 16.0, 90.0)])
    tif = write_tiff(tmp_path / "s1.tif", data, crs=crs, transform=Affine(RES, 0, x0 - 500, 0, -RES, y0 + 500),
                     descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z", "SITEWATCH_IMPULSE_RESPONSE_M": "0"})  # fmt: skip
    basin, _, _, _ = _utm_site("basin", 1000.0, 1000.0)
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(pier)
        store.put_site(basin)
    run = CliRunner()
    for site in ("pier", "basin"):
        ingested = run.invoke(main, ["ingest", site, str(tif), "-w", str(ws.root)], env={"SITEWATCH_CONTEXT_M": "0"})
        assert ingested.exit_code == 0, ingested.output
    with caplog.at_level(logging.WARNING, logger="sitewatch.detection"):
        said = run.invoke(main, ["detect", "pier", "--workers", "1", "-w", str(ws.root)])
    assert said.exit_code == 0, said.output
    (note,) = [m for m in caplog.messages if "smaller than the detectors need" in m]
    assert note.startswith("pier is 298 × 28 m, smaller than the detectors need (500 m a side), and 1 of its "
                           "observations were archived without a margin of image around it")  # fmt: skip
    assert "Ingest their images again" in note and "give the berth as a berth of it" in note
    # Its image ingested again with the default margin: nothing to say, and the hull is measured whole.
    caplog.clear()
    assert run.invoke(main, ["ingest", "pier", str(tif), "-w", str(ws.root)]).exit_code == 0
    with caplog.at_level(logging.WARNING, logger="sitewatch.detection"):
        again = run.invoke(main, ["detect", "pier", "--workers", "1", "-w", str(ws.root)])
    assert again.exit_code == 0 and not any("smaller than the detectors need" in m for m in caplog.messages)
    with ws.store() as store:
        (obs,) = store.observations(site_id="pier")
        (hull,) = store.detections(site_id="pier")
    assert obs.provenance["context_m"] >= 500
    assert abs(hull.length_m - 110.0) <= 12.0, hull.length_m
    # A site of 500 m or more a side is not told so.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sitewatch.detection"):
        other = run.invoke(main, ["detect", "basin", "--workers", "1", "-w", str(ws.root)])
    assert other.exit_code == 0 and not any("smaller than the detectors need" in m for m in caplog.messages)


# -- a site of tens of kilometres in the report -------------------------------------------------


def test_a_chip_of_a_site_wider_than_the_chip_reads_the_image_at_the_chip_s_size(tmp_path: Path) -> None:
    # A 30 km site at 10 m: its overview chip (at most 960 px) read all 3,000 × 3,000 pixels as float64, and
    # matplotlib copied them; at 100 km that was 7.5 GB for the report (benchmarks/site_sizes.py). Now at most
    # twice the chip's side is read (from the COG's overviews), and the outlines still fall on the hulls.
    from shapely.geometry import Point

    from sitewatch.model import Detection
    from sitewatch.report.charts import chip_figure
    from sitewatch.report.html import OVERVIEW_CHIP_PX

    side = 3000
    site, crs, x0, y0 = _utm_site("strait", side * RES, side * RES)
    rng = np.random.default_rng(0)
    data = (0.02 * rng.gamma(4.5, 1 / 4.5, (side, side))).astype(np.float32)
    data[2000:2003, 1000:1012] = 2.0  # a 120 m hull, 10 km from the west edge and 20 km from the north
    tif = write_tiff(tmp_path / "s1.tif", data, crs=crs, transform=Affine(RES, 0, x0, 0, -RES, y0), descriptions=["VV"],
                     tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"})  # fmt: skip
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
        obs = ingest_file(ws, store, site, tif)
    assert obs is not None and obs.grid.shape == (side, side)
    hull = reproject_geometry(box(x0 + 10000, y0 - 20030, x0 + 10120, y0 - 20000), crs, "EPSG:4326")
    det = Detection("strait/s1#000", obs.id, "vessel", hull, 120.0, 30.0, 90.0, 0.9, "test", "1")
    fig = chip_figure(ws.root / obs.path, obs, [det], site.require_geometry(), margin_m=0, size_px=OVERVIEW_CHIP_PX)
    assert fig is not None
    shown = fig.axes[0].images[0].get_array()
    assert max(shown.shape[:2]) <= 2 * OVERVIEW_CHIP_PX[1]
    # The hull's outline (its casing and its line) drawn where the hull is in the pixels read.
    f = max(shown.shape[:2]) / side
    xs, ys = fig.axes[0].lines[0].get_data()
    centre = Point(float(np.mean(xs[:-1])) + 0.5, float(np.mean(ys[:-1])) + 0.5)
    assert centre.distance(Point(1006 * f, 2001.5 * f)) < 2


def test_fetch_refuses_a_sub_pixel_berth_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A catalogue's items cover the berth, at pixels larger than it: each was skipped "no valid pixel over
    # the site", as if it had missed the berth.
    import json

    import test_stac_static as stac

    delivery = stac.delivery.__wrapped__(tmp_path)  # type: ignore[attr-defined]
    ws = init_workspace(tmp_path / "ws")
    # Grids are snapped to whole pixels of the zone: 10 m pixel centres at 5 m past a multiple of 10, 20 m ones at
    # 10 m past a multiple of 20. 16..24 m past a multiple of 20 holds neither.
    x, y = math.floor((stac.X0 + 1500) / 20) * 20 + 16, math.floor((stac.Y1 - 1500) / 20) * 20 + 16
    berth = Site(id="berth", name="berth", kind="port", geometry=reproject_geometry(box(x, y, x + 8, y + 5), stac.UTM, "EPSG:4326"))
    with ws.store() as store:
        store.put_site(berth)
    res = CliRunner().invoke(main, ["fetch", "berth", "-w", str(ws.root), "--catalog", str(delivery), "--collection", "s2",
                                    "--from", "2024-10-04", "--to", "2024-10-31", "--json"])  # fmt: skip
    out = json.loads(res.stdout)
    assert not out["observations"]
    reasons = [r.get("reason") or r.get("error") or json.dumps(r) for r in out.get("failed", []) + out.get("skipped", [])]
    assert reasons and not any("no valid pixel" in r for r in reasons), reasons
    assert any("site 'berth' (8 × 5 m) is smaller than one" in r for r in reasons), reasons
