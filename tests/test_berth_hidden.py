"""What detect records of each berth hidden in an observation (no data, or cloud for optical)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from shapely.geometry import LineString, box

from sitewatch.detection import detect_site
from sitewatch.detection_optical import detect_optical_observation
from sitewatch.geo import reproject_geometry
from sitewatch.ingest import ingest_file
from sitewatch.model import Berth, Site
from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
from sitewatch.workspace import Workspace, init_workspace

SITE = tiny_site()
CRS, X0, Y0 = site_utm_origin(SITE)
QUAY_COL = 110
"""The quay face: water west of it, land east (10 m pixels)."""
NORTH_ROWS, SOUTH_ROWS = (50, 90), (160, 200)
"""Where each berth runs along the quay."""


def _site() -> Site:
    def berth(name: str, rows: tuple[int, int]) -> Berth:
        line = LineString([(X0 + QUAY_COL * 10.0, Y0 - r * 10.0) for r in rows])
        return Berth(name, reproject_geometry(line, CRS, "EPSG:4326"))

    west, south, east, north = SITE.require_geometry().bounds
    water = reproject_geometry(box(X0, Y0 - 2600.0, X0 + QUAY_COL * 10.0, Y0), CRS, "EPSG:4326")
    return replace(SITE, water=water, berths=(berth("north", NORTH_ROWS), berth("south", SOUTH_ROWS)))


def _workspace(tmp_path: Path, site: Site, data: np.ndarray, tags: dict[str, str], bands: list[str]) -> tuple[Workspace, Path]:
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
    tif = write_tiff(tmp_path / "scene.tif", data, crs=CRS, transform=Affine(10, 0, X0, 0, -10, Y0),
                     descriptions=bands, tags=tags)  # fmt: skip
    with ws.store() as store:
        ingest_file(ws, store, site, tif)
    return ws, tif


def _cloudy_workspace(tmp_path: Path, site: Site) -> tuple[Workspace, Path]:
    """A workspace holding ``site`` and one optical scene of 18 October with a cloud over the north berth."""
    tags = {"SITEWATCH_ACQUIRED": "2024-10-18T02:00:00Z", "SITEWATCH_SENSOR": "optical"}
    return _workspace(tmp_path, site, _optical(cloud=True), tags, ["blue", "green", "red", "nir"])


def _optical(cloud: bool) -> np.ndarray:
    data = np.empty((4, 260, 220), np.float32)
    data[:, :, :QUAY_COL] = np.array([0.045, 0.040, 0.022, 0.012])[:, None, None]  # harbour water
    data[:, :, QUAY_COL:] = np.array([0.150, 0.160, 0.170, 0.210])[:, None, None]  # quay
    if cloud:  # a bright white cloud over the north berth, the rest of the site clear
        data[:, 30:110, 80:140] = 0.7
    return data


def _hidden(ws: Workspace) -> dict[str, float]:
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    return dict(obs.provenance.get("berths_hidden", {"missing": -1.0}))


def test_a_berth_under_cloud_is_recorded_hidden_and_a_rerun_replaces_it(tmp_path: Path) -> None:
    site = _site()
    ws, _ = _cloudy_workspace(tmp_path, site)
    detect_site(ws, SITE.id, workers=1)
    hidden = _hidden(ws)
    assert hidden["north"] > 0.9 and hidden["south"] == 0.0
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
        assert obs.cloud_fraction is not None and obs.cloud_fraction < 0.2  # the site itself is usable
        # Tiled (tiles of 64 px: the north zone spans several cores) gives what one tile gives.
        path = str(Path(ws.root).resolve() / obs.path)
        _, _, tiled = detect_optical_observation(site, obs, path, limits={}, tile=64)
    assert tiled == pytest.approx(hidden, abs=0.02)
    # A rerun replaces what an earlier run recorded, stale berths included.
    with ws.store() as store:
        store.set_berths_hidden(obs.id, {"north": 0.0, "gone": 1.0})
    detect_site(ws, SITE.id, workers=1, force=True)
    assert _hidden(ws) == hidden


def test_a_berth_without_data_is_recorded_hidden_sar_one_pass_and_tiled(tmp_path: Path) -> None:
    site = _site()
    data = np.random.default_rng(0).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    data[:, : QUAY_COL + 60] *= 0.1  # water west, land east
    data[100:260, :] = np.nan  # the scene ends south of the north berth
    ws, _ = _workspace(tmp_path, site, data, {"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"}, ["VV"])
    detect_site(ws, SITE.id, workers=1)
    hidden = _hidden(ws)
    assert hidden["north"] == 0.0 and hidden["south"] == 1.0
    from sitewatch.detection_sar import detect_sar_observation

    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    path = str(Path(ws.root).resolve() / obs.path)
    _, tiled = detect_sar_observation(site, obs, path, limits={}, tile=64, tile_above=1000)
    assert tiled == hidden


def test_what_detect_recorded_stays_through_an_unchanged_rerun_and_a_second_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sitewatch import detection

    site = _site()
    ws, tif = _cloudy_workspace(tmp_path, site)
    detect_site(ws, SITE.id, workers=1)
    hidden = _hidden(ws)
    assert hidden["north"] > 0.9
    runs: list[str] = []
    real = detection.detect_observation
    monkeypatch.setattr(detection, "detect_observation", lambda job, **kw: runs.append(job.observation.id) or real(job, **kw))
    detect_site(ws, SITE.id, workers=1)
    assert runs == []  # the recorded fractions do not make the observation look new
    with ws.store() as store:
        ingest_file(ws, store, site, tif)  # the same file again: detections and what they measured stay
    assert _hidden(ws) == hidden


def test_the_hidden_berths_are_shown_where_departures_are(capsys: pytest.CaptureFixture[str]) -> None:
    from sitewatch.analysis import build_timeline
    from sitewatch.cli.timeline import _print
    from sitewatch.report.exports import timeline_to_csv
    from sitewatch.report.html import _vessel_change_text
    from test_occupancy import obs, vessel

    a = replace(obs("2024-10-17"), provenance={"berths_hidden": {"b1": 0.0}})
    b = replace(obs("2024-10-18"), provenance={"berths_hidden": {"b1": 0.8}})
    c = replace(obs("2024-10-19"), provenance={"berths_hidden": {"b1": 0.0, "b2": 0.9}})
    tl = build_timeline("dunai", [a, b, c], [vessel(a, 0)])
    rows = timeline_to_csv(tl).splitlines()
    head = rows[0].split(",")
    assert [r.split(",")[head.index("hidden_berths")] for r in rows[1:]] == ["", "b1", "b2"]
    _print(tl, "UTC")
    table = {line[:10]: line for line in capsys.readouterr().out.splitlines()}
    assert table["2024-10-18"].endswith("  hidden: b1") and "hidden" not in table["2024-10-17"]
    assert _vessel_change_text(tl.rows[2]) == "1 departure (b1); not seen (no data or cloud): b2"


def test_a_departure_after_hidden_dates_says_when_the_vessel_was_last_seen(capsys: pytest.CaptureFixture[str]) -> None:
    from sitewatch.analysis import build_timeline
    from sitewatch.cli.timeline import _print
    from sitewatch.report.exports import TIMELINE_CSV_COLUMNS, timeline_to_csv
    from test_occupancy import obs, vessel

    a = replace(obs("2024-10-17"), provenance={"berths_hidden": {"b1": 0.0}})
    b = replace(obs("2024-10-18"), provenance={"berths_hidden": {"b1": 0.8}})
    c = replace(obs("2024-10-19"), provenance={"berths_hidden": {"b1": 0.0}})
    tl = build_timeline("dunai", [a, b, c], [vessel(a, 0)])
    rows = timeline_to_csv(tl).splitlines()
    head = rows[0].split(",")
    assert head[-2:] == ["departures_last_seen", "truncated_vessels"] and tuple(head) == TIMELINE_CSV_COLUMNS  # earlier columns stay put
    assert [r.split(",")[-2] for r in rows[1:]] == ["", "", "b1:2024-10-17"]
    _print(tl, "UTC")
    table = {line[:10]: line for line in capsys.readouterr().out.splitlines()}
    assert table["2024-10-19"].endswith("  left b1, last seen 2024-10-17")
    assert "last seen" not in table["2024-10-17"] + table["2024-10-18"]
