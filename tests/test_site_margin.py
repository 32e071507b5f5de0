"""A small site (one berth) archived with a margin of image around it: the detectors take their background
from the margin, and only what lies in the site is reported; old archives without one are detected as before."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.detection import detect_site
from sitewatch.errors import InputError
from sitewatch.ingest import ingest_file, site_grid
from sitewatch.ingest.grid import CONTEXT_M, context_for, context_held
from sitewatch.testing import write_tiff
from sitewatch.workspace import Workspace, init_workspace
from test_sar import sea_with_ships
from test_site_sizes import RES, _utm_site

BERTH_SHIP = (104.0, 112.5, 110.0, 16.0, 90.0)
"""A 110 × 16 m hull lying east-west in the middle of the 250 × 80 m berth (row, col of the image, length, beam, heading)."""
MARGIN_SHIP = (134.0, 112.5, 90.0, 14.0, 90.0)
"""A 90 m hull 300 m south of the berth: in the margin, outside the site."""


def _berth_scene(tmp_path: Path, seed: int, ships: list[tuple[float, float, float, float, float]]) -> tuple[Path, object]:
    """A 10 m SAR scene reaching 1 km around a 250 × 80 m berth, and the berth as a site."""
    berth, crs, x0, y0 = _utm_site("berth", 250.0, 80.0)
    data = sea_with_ships(np.random.default_rng(seed), (208, 225), ships)
    tif = write_tiff(tmp_path / f"s1-{seed}.tif", data, crs=crs, transform=Affine(RES, 0, x0 - 1000, 0, -RES, y0 + 1000),
                     descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z", "SITEWATCH_IMPULSE_RESPONSE_M": "0"})  # fmt: skip
    return tif, berth


def _ingest_and_detect(ws: Workspace, site_id: str, tif: Path) -> list[dict]:  # type: ignore[type-arg]
    run = CliRunner()
    res = run.invoke(main, ["ingest", site_id, str(tif), "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    res = run.invoke(main, ["detect", site_id, "--workers", "1", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    with ws.store() as store:
        return [{"kind": d.kind, "length_m": d.length_m, "truncated": d.truncated, "classes": d.class_candidates}
                for d in store.detections(site_id=site_id)]  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_ship_at_a_berth_drawn_tight_is_found_and_measured_whole(tmp_path: Path, seed: int) -> None:
    # The berth alone was the archive's grid: the SAR clutter came from the berth's own 8 × 25 pixels, the hull a
    # third of them. Seeds 0-3 gave a 30 m vessel, nothing, nothing, a 45 m vessel. With 1 km of sea archived
    # around the berth: 104-113 m, one vessel each time.
    tif, berth = _berth_scene(tmp_path, seed, [BERTH_SHIP])
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(berth)  # type: ignore[arg-type]
    found = _ingest_and_detect(ws, "berth", tif)
    vessels = [d for d in found if d["kind"] == "vessel"]
    assert len(vessels) == 1, found
    assert abs(vessels[0]["length_m"] - 110.0) <= 12.0, vessels
    assert not vessels[0]["truncated"]


def test_a_ship_in_the_margin_outside_the_site_is_not_reported(tmp_path: Path) -> None:
    tif, berth = _berth_scene(tmp_path, 0, [BERTH_SHIP, MARGIN_SHIP])
    basin, _, _, _ = _utm_site("basin", 1000.0, 1000.0)  # the berth and the water south of it: both ships in it
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(berth)  # type: ignore[arg-type]
        store.put_site(basin)
    at_berth = [d for d in _ingest_and_detect(ws, "berth", tif) if d["kind"] == "vessel"]
    in_basin = [d for d in _ingest_and_detect(ws, "basin", tif) if d["kind"] == "vessel"]
    assert len(in_basin) == 2, in_basin  # the margin's ship is there to be found
    assert len(at_berth) == 1 and abs(at_berth[0]["length_m"] - 110.0) <= 12.0, at_berth
    with ws.store() as store:
        (obs,) = store.observations(site_id="berth")
        (footprint,) = [d.footprint for d in store.detections(site_id="berth")]
    assert berth.require_geometry().contains(footprint.centroid)  # type: ignore[attr-defined]
    # Provenance says how much image the archive holds around the site; the valid fraction is the site's own.
    assert obs.provenance["context_m"] >= CONTEXT_M
    assert obs.valid_fraction == 1.0
    assert obs.grid.width > 200 and obs.grid.height > 200


def test_an_observation_archived_without_a_margin_is_detected_on_the_site_alone(tmp_path: Path) -> None:
    # An archive made before margins (or with context_m 0) records none: its grid is the site's box and its
    # detectors see the site's pixels only, as always (the old result, a short vessel or none, is kept).
    tif, berth = _berth_scene(tmp_path, 0, [BERTH_SHIP])
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(berth)  # type: ignore[arg-type]
        obs = ingest_file(ws, store, berth, tif, context_m=0)  # type: ignore[arg-type]
    assert obs is not None and "context_m" not in obs.provenance
    assert obs.grid.shape == site_grid(berth, RES, context_m=0).shape == (8, 25)  # type: ignore[arg-type]
    detect_site(ws, "berth", workers=1)
    with ws.store() as store:
        lengths = [d.length_m for d in store.detections(site_id="berth")]
    assert lengths == [29.85]


def test_only_sites_under_500_m_get_a_margin_and_its_size_is_checked() -> None:
    berth, _, _, _ = _utm_site("berth", 250.0, 80.0)
    pier, _, _, _ = _utm_site("pier", 2000.0, 30.0)  # long but thin: its ship has no water beside it either
    port, _, _, _ = _utm_site("port", 600.0, 600.0)
    assert context_for(berth) == context_for(pier) == CONTEXT_M
    assert context_for(port) == 0.0 and context_for(berth, 0) == 0.0 and context_for(berth, 300) == 300.0
    # A port's grid is its box, as before margins: its old and new observations keep one grid.
    assert context_held(port, site_grid(port, RES)) == 0.0
    held = context_held(berth, site_grid(berth, RES))
    assert CONTEXT_M <= held < CONTEXT_M + RES
    with pytest.raises(InputError, match="context_m must be 0 or more metres"):
        context_for(berth, -5)
    with pytest.raises(InputError, match="context_m must be 0 or more metres"):
        context_for(berth, math.nan)


def test_the_context_m_setting_reaches_ingest(tmp_path: Path) -> None:
    tif, berth = _berth_scene(tmp_path, 0, [BERTH_SHIP])
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(berth)  # type: ignore[arg-type]
    res = CliRunner().invoke(main, ["ingest", "berth", str(tif), "-w", str(ws.root), "--json"], env={"SITEWATCH_CONTEXT_M": "300"})
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["ingested"]
    with ws.store() as store:
        (obs,) = store.observations(site_id="berth")
    assert 300 <= obs.provenance["context_m"] < 310


def test_an_optical_berth_s_cloud_fraction_is_the_site_s_not_the_margin_s(tmp_path: Path) -> None:
    # Water all round; the scene's own cloud mask (SCL 9) covers 400 m of sea north of the berth, in the margin.
    # The detector sees the whole grid (its water statistics), but the berth is clear: its cloud fraction is 0.
    berth, crs, x0, y0 = _utm_site("berth", 250.0, 80.0)
    rows, cols = 208, 225
    bands = np.full((5, rows, cols), 0.03, np.float32)
    bands[3] = 0.01  # NIR: water
    bands[4] = 6  # SCL water
    bands[4, 30:70, :] = 9  # SCL cloud, high probability: rows 30-70 are 300-700 m north of the berth (rows 100-108)
    bands[:4, 30:70, :] = 0.6
    tif = write_tiff(tmp_path / "s2.tif", bands, crs=crs, transform=Affine(RES, 0, x0 - 1000, 0, -RES, y0 + 1000),
                     descriptions=["B02", "B03", "B04", "B08", "SCL"], tags={"SITEWATCH_ACQUIRED": "2024-10-17T01:50:00Z"})  # fmt: skip
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(berth)
    _ingest_and_detect(ws, "berth", tif)
    with ws.store() as store:
        (obs,) = store.observations(site_id="berth")
    assert obs.provenance["context_m"] >= CONTEXT_M
    assert obs.cloud_fraction == 0.0


def test_a_berth_read_in_tiles_keeps_the_site_s_detections_as_one_pass_does(tmp_path: Path) -> None:
    # Sub-metre SAR of a berth with its margin can pass the size above which detect reads a SAR grid in tiles: the
    # tiles' windows are searched whole too, and only the berth's hull is kept.
    from sitewatch.detection import DetectJob, detect_observation

    tif, berth = _berth_scene(tmp_path, 0, [BERTH_SHIP, MARGIN_SHIP])
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(berth)  # type: ignore[arg-type]
        obs = ingest_file(ws, store, berth, tif)  # type: ignore[arg-type]
    assert obs is not None
    job = DetectJob(berth, obs, str(ws.root / obs.path), {})  # type: ignore[arg-type]
    whole = detect_observation(job)
    tiled = detect_observation(job, sar_tile=64, sar_tile_above=1000)
    assert not whole.error and not tiled.error, (whole.error, tiled.error)
    for res in (whole, tiled):
        (hull,) = [d for d in res.detections if d.kind == "vessel"]
        assert abs(hull.length_m - 110.0) <= 12.0


def test_import_and_fetch_archive_a_berth_with_the_context_m_setting_s_margin(tmp_path: Path) -> None:
    from shapely.geometry import box

    import test_stac_static as stac
    from sitewatch.geo import reproject_geometry
    from sitewatch.model import Site

    tif, berth = _berth_scene(tmp_path, 0, [BERTH_SHIP])
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(berth)  # type: ignore[arg-type]
    res = CliRunner().invoke(main, ["import", str(tif), "-w", str(ws.root)], env={"SITEWATCH_CONTEXT_M": "400"})
    assert res.exit_code == 0, res.output
    with ws.store() as store:
        (obs,) = store.observations(site_id="berth")
    assert 400 <= obs.provenance["context_m"] < 410

    delivery = stac.delivery.__wrapped__(tmp_path)  # type: ignore[attr-defined]
    x, y = stac.X0 + 1500, stac.Y1 - 1500
    pier = Site(id="pier", name="pier", kind="port", geometry=reproject_geometry(box(x, y, x + 250, y + 80), stac.UTM, "EPSG:4326"))
    with ws.store() as store:
        store.put_site(pier)
    res = CliRunner().invoke(main, ["fetch", "pier", "-w", str(ws.root), "--catalog", str(delivery), "--collection", "s2",
                                    "--from", "2024-10-04", "--to", "2024-10-31", "--json"], env={"SITEWATCH_CONTEXT_M": "300"})  # fmt: skip
    assert res.exit_code in (0, 3), res.output
    assert json.loads(res.stdout)["observations"], res.output
    with ws.store() as store:
        fetched = store.observations(site_id="pier")
    assert fetched and all(300 <= o.provenance["context_m"] < 330 for o in fetched)


def test_the_dashboard_shows_a_berth_s_box_not_its_margin(tmp_path: Path) -> None:
    # Its quick-look showed the whole grid: 2.25 km of sea round a 250 m berth, the berth a speck in the middle.
    pytest.importorskip("fastapi", reason="the web extra: pip install 'sitewatch[web]'")
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")
    import io
    import re
    import warnings

    from PIL import Image

    from sitewatch.web import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    tif, berth = _berth_scene(tmp_path, 0, [BERTH_SHIP])
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(berth)  # type: ignore[arg-type]
    _ingest_and_detect(ws, "berth", tif)
    with ws.store() as store:
        (obs,) = store.observations(site_id="berth")
    client = TestClient(create_app(ws))
    page = client.get(f"/observations/{obs.id}")
    assert page.status_code == 200, page.text
    assert "the site's box shown, not the 1000 m of image archived around it" in page.text
    width, height = (int(v) for v in re.search(r'width="(\d+)" height="(\d+)" src="/observations/[^"]+/quicklook.png"', page.text).groups())  # type: ignore[union-attr]
    png = Image.open(io.BytesIO(client.get(f"/observations/{obs.id}/quicklook.png").content))
    assert png.size == (width, height)
    assert 2.5 < width / height < 3.5  # the berth's 25 × 8 pixels, not the grid's 225 × 208
    # The outlines' picture spans the same box (the berth's 250 × 80 m, to whole pixels), so they lie on the ship.
    box_w, box_h = (float(v) for v in re.search(r'class="overlay"[^>]*viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ([\d.]+)"', page.text).groups())  # type: ignore[union-attr]
    assert (box_w, box_h) == (250.0, 80.0)


def test_a_berth_on_a_team_store_keeps_its_margin(tmp_path: Path, pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    # The provenance goes through PostGIS's json column: the margin read back is what detect uses, and detect says
    # nothing about a missing margin.
    import logging

    from sitewatch.workspace import open_workspace

    tif, berth = _berth_scene(tmp_path, 0, [BERTH_SHIP, MARGIN_SHIP])
    run = CliRunner()
    assert run.invoke(main, ["init", str(tmp_path / "ws"), "--store", pg_url]).exit_code == 0
    ws = open_workspace(tmp_path / "ws")
    with ws.store() as store:
        assert type(store).__name__ == "PostgisStore"
        store.put_site(berth)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="sitewatch.detection"):
        found = [d for d in _ingest_and_detect(ws, "berth", tif) if d["kind"] == "vessel"]
    assert not any("smaller than the detectors need" in m for m in caplog.messages)
    assert len(found) == 1 and abs(found[0]["length_m"] - 110.0) <= 12.0, found
    with ws.store() as store:
        (obs,) = store.observations(site_id="berth")
    assert obs.provenance["context_m"] >= CONTEXT_M
