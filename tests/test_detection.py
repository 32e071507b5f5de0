"""The detection stage's checks of its settings (vessel length limits, workers)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from shapely.geometry import Point

from sitewatch.cli import main
from sitewatch.detection import check_length_limits, detect_site
from sitewatch.errors import ConfigError
from sitewatch.geo import reproject_geometry
from sitewatch.ingest import ingest_file
from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
from sitewatch.workspace import init_workspace

SITE = tiny_site()


@pytest.fixture()
def ws_with_sar(tmp_path: Path):  # type: ignore[no-untyped-def]
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(0).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    tif = write_tiff(
        tmp_path / "s1.tif",
        data,
        crs=crs,
        transform=Affine(10, 0, x0, 0, -10, y0),
        descriptions=["VV"],
        tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"},
    )
    with ws.store() as store:
        ingest_file(ws, store, SITE, tif)
    return ws


def test_limits_checked_only_against_the_detectors_that_run() -> None:
    check_length_limits(480, None, ["sar"])  # SAR's own longest is 500 m
    with pytest.raises(
        ConfigError, match=r"SITEWATCH_MIN_VESSEL_LENGTH_M.*optical detector's own are 20 and 450"
    ):
        check_length_limits(480, None, ["sar", "optical"])
    with pytest.raises(ConfigError, match="max_vessel_length_m"):
        check_length_limits(None, 10, ["sar"])


def test_cli_detect_names_the_length_setting(ws_with_sar) -> None:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(
        main,
        ["detect", SITE.id, "-w", str(ws_with_sar.root), "--workers", "1"],
        env={"SITEWATCH_MIN_VESSEL_LENGTH_M": "600"},
    )
    assert res.exit_code == 1, res.output
    assert "SITEWATCH_MIN_VESSEL_LENGTH_M" in res.output and "Traceback" not in res.output


def test_cli_detect_on_a_site_without_imagery_says_to_bring_some_in(tmp_path: Path) -> None:
    # A site just added said "harbour: 0 observation(s), found nothing", as if its images held no vessel.
    from sitewatch.testing import workspace_with_sites

    ws = workspace_with_sites(tmp_path / "ws", tiny_site("harbour"))
    r = CliRunner().invoke(main, ["detect", "harbour", "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("harbour: no observations to detect in") and "found nothing" not in r.stdout
    assert "sitewatch ingest harbour PATH" in r.stdout


def test_cli_detect_refuses_negative_workers(ws_with_sar) -> None:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(
        main, ["detect", SITE.id, "-w", str(ws_with_sar.root), "--workers", "-3"]
    )
    assert res.exit_code == 2, res.output  # click's usage error, naming the option
    assert "Invalid value for '--workers': -3" in res.output


def test_cli_ingest_names_a_bad_cog_compress(ws_with_sar, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (ws_with_sar.root / "sitewatch.toml").write_text("[settings]\ncog_compress = 'jpeg'\n", encoding="utf-8")
    tif = next(tmp_path.glob("s1.tif"))
    res = CliRunner().invoke(main, ["ingest", SITE.id, str(tif), "-w", str(ws_with_sar.root)])
    assert res.exit_code == 1, res.output
    assert "[settings] cog_compress must be one of deflate, zstd, lzw, got 'jpeg'" in res.output
    assert "Traceback" not in res.output and "JPEGSetupEncode" not in res.output


def _count_detections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make detection record the observations it runs on (still detecting in them)."""
    from sitewatch import detection

    seen: list[str] = []
    real = detection.detect_observation

    def counting(job: detection.DetectJob) -> detection.DetectResult:
        seen.append(job.observation.id)
        return real(job)

    monkeypatch.setattr(detection, "detect_observation", counting)
    return seen


def _rows(ws) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    with ws.store() as store:
        return [
            tuple(r)
            for r in store.execute("SELECT * FROM detections ORDER BY detection_id")
        ] + [tuple(r) for r in store.execute("SELECT observation_id, detected_at, cloud_fraction FROM observations")]


def test_detect_rerun_keeps_what_did_not_change(ws_with_sar, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from sitewatch.detection import detect_site

    seen = _count_detections(monkeypatch)
    first = detect_site(ws_with_sar, SITE.id, workers=1)
    rows = _rows(ws_with_sar)
    assert len(seen) == 1
    again = detect_site(ws_with_sar, SITE.id, workers=1)
    assert len(seen) == 1  # nothing changed: nothing detected again
    assert again == first and _rows(ws_with_sar) == rows
    detect_site(ws_with_sar, SITE.id, workers=1, force=True)
    assert len(seen) == 2
    detect_site(ws_with_sar, SITE.id, workers=1, min_length_m=30.0)  # other limits: detected again
    assert len(seen) == 3
    detect_site(ws_with_sar, SITE.id, workers=1)  # and back to the defaults
    assert len(seen) == 4
    detect_site(ws_with_sar, SITE.id, workers=1, optical_mode="image")  # a SAR observation's detections do not depend on it
    assert len(seen) == 4


def test_detect_rerun_builds_no_observation_it_keeps(ws_with_sar, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # A daily detect built every observation of the site's history from its row (JSON, geometry, times) to
    # fingerprint it, to find the day's one new image: at ten sites after five years, seconds a run, growing.
    # The state keeps a digest of the columns each fingerprint was made from; a row that still has them is
    # not built. A row changed in a column the fingerprint reads is built, and detected in again.
    import json

    from sitewatch.detection import detect_site
    from sitewatch.store.sqlite import Store

    seen = _count_detections(monkeypatch)
    first = detect_site(ws_with_sar, SITE.id, workers=1)
    detect_site(ws_with_sar, SITE.id, workers=1)  # (detect wrote the row's berths_hidden: its digest is taken anew)
    built: list[str] = []
    real = Store._observation_from_row

    def counting(self: Store, row: object) -> object:
        built.append(row["observation_id"])  # type: ignore[index]
        return real(self, row)

    monkeypatch.setattr(Store, "_observation_from_row", counting)
    assert detect_site(ws_with_sar, SITE.id, workers=1) == first
    assert built == [] and len(seen) == 1
    with ws_with_sar.store() as store:  # a provenance field detection depends on, changed on record
        (oid, text), = store.execute("SELECT observation_id, provenance FROM observations")
        prov = json.loads(text)
        prov["scale_applied"] = 2.0
        store.execute("UPDATE observations SET provenance = ? WHERE observation_id = ?", (json.dumps(prov), oid))
    detect_site(ws_with_sar, SITE.id, workers=1)
    assert built == [oid] and seen == [oid, oid]


def test_detect_rerun_follows_the_site(ws_with_sar, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from shapely.geometry import LineString

    from sitewatch.detection import detect_site
    from sitewatch.model import Berth

    seen = _count_detections(monkeypatch)
    detect_site(ws_with_sar, SITE.id, workers=1)
    c = SITE.require_geometry().centroid
    with ws_with_sar.store() as store:
        store.put_site(replace(SITE, berths=(Berth("quay", LineString([(c.x, c.y), (c.x + 0.001, c.y)]), "Quay"),)))
    detect_site(ws_with_sar, SITE.id, workers=1)
    assert len(seen) == 2


def test_detect_rerun_still_checks_the_archived_file(ws_with_sar, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from sitewatch.detection import detect_site

    detect_site(ws_with_sar, SITE.id, workers=1)
    with ws_with_sar.store() as store:
        (obs,) = store.observations(SITE.id)
    with open(ws_with_sar.root / obs.path, "ab") as fh:
        fh.write(b"\0")
    summary = detect_site(ws_with_sar, SITE.id, workers=1)
    assert len(summary["errors"]) == 1 and "sha256 differs" in summary["errors"][0]
    with ws_with_sar.store() as store:
        assert store.undetected(SITE.id) == {obs.id}


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The archived files detect reads whole (for their sha256), one entry a read."""
    from sitewatch import detection

    reads: list[str] = []
    real = detection.sha256_file

    def counting(path: Path) -> str:
        reads.append(str(path))
        return real(path)

    monkeypatch.setattr(detection, "sha256_file", counting)
    return reads


def test_detect_rerun_reads_no_unchanged_archived_file(ws_with_sar, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # A daily detect read every archived image of the site again (its sha256) to find the day's new one:
    # a year of daily images, the whole archive read every day.
    import json

    detect_site(ws_with_sar, SITE.id, workers=1)
    reads = _count_reads(monkeypatch)
    detect_site(ws_with_sar, SITE.id, workers=1)
    assert reads == []
    detect_site(ws_with_sar, SITE.id, workers=1, force=True)  # --force reads it again
    assert len(reads) == 1
    # A state kept by an earlier sitewatch (no file times): each file is read once more, then not.
    with ws_with_sar.store() as store:
        key = f"detect:{SITE.id}:sar"
        state = json.loads(store.meta(key) or "{}")
        del state["files"]
        store.set_meta(key, json.dumps(state))
    reads.clear()
    detect_site(ws_with_sar, SITE.id, workers=1)
    detect_site(ws_with_sar, SITE.id, workers=1)
    assert len(reads) == 1


def test_detect_recomputes_the_detections_extent_alone_and_only_after_writing(ws_with_sar, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # Each detect read every geometry of every layer (sites, scenes, observations, every site's detections) to
    # recompute the layers' extents: a daily run's work grew with the whole workspace, even when it kept everything.
    import pyogrio

    from sitewatch.store.sqlite import Store as SqliteStore

    recomputed: list[list[str] | None] = []
    real = SqliteStore.update_extents

    def spy(self: SqliteStore, tables: object = None) -> None:
        recomputed.append(None if tables is None else list(tables))  # type: ignore[call-overload]
        real(self, tables)  # type: ignore[arg-type]

    monkeypatch.setattr(SqliteStore, "update_extents", spy)
    detect_site(ws_with_sar, SITE.id, workers=1)
    assert recomputed == [["detections"]]
    detect_site(ws_with_sar, SITE.id, workers=1)  # nothing new: nothing recomputed
    assert recomputed == [["detections"]]
    with ws_with_sar.store() as store:
        dets = store.detections(site_id=SITE.id)
    if dets:  # the layer's extent is still that of its rows, as GDAL reads it
        bounds = pyogrio.read_info(ws_with_sar.db_path, layer="detections")["total_bounds"]
        xs = [b for d in dets for b in d.footprint.bounds[0::2]]
        assert bounds[0] == pytest.approx(min(xs)) and bounds[2] == pytest.approx(max(xs))


def test_detect_rerun_still_finds_a_file_changed_in_place_with_its_time_put_back(ws_with_sar, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import os

    detect_site(ws_with_sar, SITE.id, workers=1)
    with ws_with_sar.store() as store:
        (obs,) = store.observations(SITE.id)
    path = ws_with_sar.root / obs.path
    st = os.stat(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the same size
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the same modification time
    reads = _count_reads(monkeypatch)
    summary = detect_site(ws_with_sar, SITE.id, workers=1)
    assert reads and len(summary["errors"]) == 1 and "sha256 differs" in summary["errors"][0]


def test_a_workspace_that_sees_none_of_its_archived_images_is_refused_and_keeps_its_detections(ws_with_sar) -> None:  # type: ignore[no-untyped-def]
    # A team member's folder without the shared archive mounted (or an archive on an unplugged disk):
    # every observation was "missing", and its detections, the team's, were dropped.
    from sitewatch.detection import detect_site
    from sitewatch.errors import SitewatchError

    detect_site(ws_with_sar, SITE.id, workers=1)
    rows = _rows(ws_with_sar)
    archive = ws_with_sar.root / "archive"
    archive.rename(ws_with_sar.root / "archive-elsewhere")
    with pytest.raises(SitewatchError, match="none of .* archived images") as err:
        detect_site(ws_with_sar, SITE.id, workers=1, force=True)
    assert str(archive) in str(err.value)
    assert _rows(ws_with_sar) == rows
    (ws_with_sar.root / "archive-elsewhere").rename(archive)


def test_a_run_under_another_key_forgets_the_last_state(ws_with_sar) -> None:  # type: ignore[no-untyped-def]
    from sitewatch.detection import detect_site
    from sitewatch.detection_state import detect_key, load_state

    detect_site(ws_with_sar, SITE.id, workers=1)
    key = detect_key(SITE, {"min_length_m": None, "max_length_m": None})  # no optical_mode: SAR
    with ws_with_sar.store() as store:
        assert len(load_state(store, SITE.id, key, "sar")) == 1
        assert load_state(store, SITE.id, "another key", "sar") == {}
        assert load_state(store, SITE.id, key, "sar") == {}  # forgotten: an interrupted run cannot leave it behind


def _ingest_pair(ws, tmp_path: Path, descriptions: list[str]) -> None:  # type: ignore[no-untyped-def]
    """A two-band SAR GeoTIFF over the site: a 113 m ship 3 dB over the sea in co-pol, 20 dB in cross-pol."""
    from test_sar import SEA, ship_fraction, speckle

    rng = np.random.default_rng(5)
    shape = (260, 220)
    hull = ship_fraction(shape, 130.0, 110.0, 113.0, 15.6, 30.0)
    co = speckle(rng, SEA * (1 + hull * 10 ** 0.3), shape).astype("float32")
    cross = speckle(rng, SEA / 6.3 * (1 + hull * 10**2.0), shape).astype("float32")
    crs, x0, y0 = site_utm_origin(SITE)
    bands = {"VV": co, "VH": cross, "HH": co, "HV": cross}
    tif = write_tiff(
        tmp_path / "pair.tif",
        np.stack([bands[d.upper()[-2:]] if d else (co, cross)[i] for i, d in enumerate(descriptions)]),  # SNAP: Sigma0_VV
        crs=crs,
        transform=Affine(10, 0, x0, 0, -10, y0),
        descriptions=descriptions,
        tags={"SITEWATCH_ACQUIRED": "2024-10-18T09:30:00Z", "SITEWATCH_SENSOR": "sar"},
    )
    with ws.store() as store:
        ingest_file(ws, store, SITE, tif)


def _detected_vessels(ws):  # type: ignore[no-untyped-def]
    """``sitewatch detect`` on the site's one observation, and the vessels it stored."""
    r = CliRunner().invoke(main, ["-q", "detect", SITE.id, "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
        return [d for d in store.detections(observation_id=obs.id) if d.kind == "vessel"]


@pytest.mark.parametrize("descriptions", [["VH", "VV"], ["HH", "HV"], ["Sigma0_VV", "Sigma0_VH"], ["sigma0_hh", "sigma0_hv"], ["", ""]])
def test_detect_fuses_co_and_cross_polarised_bands(tmp_path: Path, descriptions: list[str]) -> None:
    """A ship faint in VV but clear in VH is found by the site pipeline, as by detect-image."""
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    _ingest_pair(ws, tmp_path, descriptions)
    dets = _detected_vessels(ws)
    assert len(dets) == 1 and abs(dets[0].length_m - 113) < 25
    crs, x0, y0 = site_utm_origin(SITE)
    centre = reproject_geometry(dets[0].footprint, "EPSG:4326", crs).centroid
    assert centre.distance(Point(x0 + 110.5 * 10, y0 - 130.5 * 10)) < 30


@pytest.mark.parametrize("names", [["VV", "VH"], ["", ""]])
def test_a_channel_without_data_does_not_blind_the_other(tmp_path: Path, names: list[str]) -> None:
    """A pair whose cross-polarised band is NaN where the ship is (a channel the product lacks there)
    is detected in the co-polarised one: the valid mask was taken over both bands, and hid the ship."""
    from test_sar import SEA, ship_fraction, speckle

    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    rng = np.random.default_rng(5)
    shape = (260, 220)
    co = speckle(rng, SEA * (1 + ship_fraction(shape, 130.0, 110.0, 113.0, 15.6, 30.0) * 100), shape).astype("float32")
    cross = speckle(rng, SEA / 6.3, shape).astype("float32")
    cross[:180] = np.nan
    crs, x0, y0 = site_utm_origin(SITE)
    tif = write_tiff(
        tmp_path / "pair.tif", np.stack([co, cross]), crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=names,
        tags={"SITEWATCH_ACQUIRED": "2024-10-18T09:30:00Z", "SITEWATCH_SENSOR": "sar"},
    )
    with ws.store() as store:
        ingest_file(ws, store, SITE, tif)
    dets = _detected_vessels(ws)
    assert len(dets) == 1 and abs(dets[0].length_m - 113) < 25


def test_detect_on_the_co_polarised_band_alone_misses_that_ship(tmp_path: Path) -> None:
    """The same ship in a VV-only observation: what the fusion adds (a check that the test above can fail)."""
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    _ingest_pair(ws, tmp_path, ["VV"])
    assert not _detected_vessels(ws)


@pytest.mark.parametrize("tag", [None, "0", "simulated"])
def test_detect_takes_the_impulse_response_the_image_states(tmp_path: Path, tag: str | None) -> None:
    """Widths lose a detected product's response unless the image says it has none (the simulator's scenes).
    "simulated": a scene of sitewatch's simulator from before it wrote the tag (archived in a workspace made
    then, detected again after an upgrade), whose hulls were drawn sharp too: its widths came out at the floor."""
    from test_sar import sea_with_ships

    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    crs, x0, y0 = site_utm_origin(SITE)
    tags = {"SITEWATCH_ACQUIRED": "2024-10-18T09:30:00Z", "SITEWATCH_SENSOR": "sar"}
    if tag == "simulated":
        tags["SITEWATCH_SIMULATED"] = "true"
    elif tag is not None:
        tags["SITEWATCH_IMPULSE_RESPONSE_M"] = tag
    data = sea_with_ships(np.random.default_rng(3), (260, 220), [(130.0, 110.0, 113.0, 15.6, 30.0)])
    tif = write_tiff(tmp_path / "one.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"], tags=tags)
    with ws.store() as store:
        ingest_file(ws, store, SITE, tif)
    assert CliRunner().invoke(main, ["-q", "detect", SITE.id, "-w", str(ws.root)]).exit_code == 0
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
        (d,) = [d for d in store.detections(observation_id=obs.id) if d.kind == "vessel"]
    from sitewatch.detect.sar import SarParams, detect_sar

    with rasterio.open(ws.root / obs.path) as cog:
        img = cog.read(1)
    (raw,) = detect_sar(np.nan_to_num(img), 10.0, params=SarParams(resolution_m=0.0))
    if tag in ("0", "simulated"):
        assert d.width_m == pytest.approx(raw.width_m, abs=0.01)
    else:
        assert d.width_m < raw.width_m - 3


def _optical_ws(tmp_path: Path, *, simulated: bool, water: bool = True, pixel: float = 10):  # type: ignore[no-untyped-def]
    """A workspace whose site has a water polygon (its west half) and one four-band optical observation."""
    from dataclasses import replace

    from shapely.geometry import box

    west, south, east, north = SITE.require_geometry().bounds
    site = replace(SITE, water=box(west, south, (west + east) / 2, north) if water else None)
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
    crs, x0, y0 = site_utm_origin(SITE)
    # Harbour water (blue, green, red, nir) in the west half, a quay in the east (an image without
    # water is not searched at all).
    data = np.empty((4, 260, 220), np.float32)
    data[:, :, :110] = np.array([0.045, 0.040, 0.022, 0.012])[:, None, None]
    data[:, :, 110:] = np.array([0.150, 0.160, 0.170, 0.210])[:, None, None]
    tags = {"SITEWATCH_ACQUIRED": "2024-10-18T02:00:00Z", "SITEWATCH_SENSOR": "optical"}
    if simulated:
        tags["SITEWATCH_SIMULATED"] = "true"
    tif = write_tiff(tmp_path / "s2.tif", data, crs=crs, transform=Affine(pixel, 0, x0, 0, -pixel, y0),
                     descriptions=["blue", "green", "red", "nir"], tags=tags)  # fmt: skip
    with ws.store() as store:
        ingest_file(ws, store, site, tif)
    return ws


@pytest.mark.parametrize(
    ("simulated", "mode", "known_water", "vessels_left"),
    [(False, "auto", False, 1), (True, "auto", True, 2), (False, "water", True, 2), (False, "image", False, 2)],
)
def test_optical_mode_decides_how_the_water_polygon_is_used(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch, simulated: bool, mode: str, known_water: bool, vessels_left: int
) -> None:
    """Real imagery: the learned detector, vessels far from the polygon dropped; simulated, or asked: known water."""
    from sitewatch.detect import optical, optical_image
    from sitewatch.detect.base import PixelDetection

    ws = _optical_ws(tmp_path, simulated=simulated)
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    h, w = obs.grid.shape
    given: list[object] = []

    def fake(bands, pixel, *, valid, water, scl, params, stats):  # type: ignore[no-untyped-def]
        given.append(water)
        box_ = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
        dets = [
            PixelDetection(h / 2, w * 0.1, 80.0, 14.0, 0.0, 0.9, box_),  # in the water (the west half)
            PixelDetection(h / 2, w * 0.9, 80.0, 14.0, 0.0, 0.9, box_),  # on land, far from it
            PixelDetection(h / 2, w * 0.9, 30.0, 8.0, 0.0, 0.9, box_, kind="crane"),  # cranes stand on land
        ]
        return optical.OpticalResult(dets, np.zeros((h, w), bool), np.zeros((h, w), bool), np.zeros((h, w), bool))

    monkeypatch.setattr(optical_image, "detect_optical_result", fake)  # the tiles' detector
    r = CliRunner().invoke(main, ["-q", "detect", SITE.id, "--optical-mode", mode, "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    (water,) = given
    assert (water is not None) == known_water
    with ws.store() as store:
        kinds = [d.kind for d in store.detections(observation_id=obs.id)]
    assert kinds.count("vessel") == vessels_left and kinds.count("crane") == 1


@pytest.mark.parametrize(("pixel", "simulated", "water", "mode", "said"), [
    (3, False, False, "auto", "give the site a water polygon"), (3, False, True, "auto", "detect with `--optical-mode water`"),
    (3, False, True, "water", ""), (3, True, False, "auto", ""), (10, False, False, "auto", ""),
])  # fmt: skip
def test_fine_optical_imagery_says_ships_alongside_are_not_found(  # type: ignore[no-untyped-def]
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch, pixel: float, simulated: bool, water: bool, mode: str, said: str
) -> None:
    """A site drawn without a water polygon, PlanetScope scenes of a landing ship at its pier: detect found
    cranes, and the timeline and report said "no vessel seen", with nothing to say such a ship is not found."""
    from sitewatch.detect import optical, optical_image

    ws = _optical_ws(tmp_path, simulated=simulated, water=water, pixel=pixel)

    def nothing(bands, pixel, *, valid, water, scl, params, stats):  # type: ignore[no-untyped-def]
        shape = next(iter(bands.values())).shape
        return optical.OpticalResult([], np.zeros(shape, bool), np.zeros(shape, bool), np.zeros(shape, bool))

    monkeypatch.setattr(optical_image, "detect_optical_result", nothing)
    with caplog.at_level(logging.WARNING, logger="sitewatch.detection"):
        detect_site(ws, SITE.id, workers=1, optical_mode=mode)
    notes = [m for m in caplog.messages if "moored alongside" in m]
    if said:
        (note,) = notes
        assert note.startswith(f"{SITE.id}: in its 1 optical observation(s) of 3 m or finer") and said in note
    else:
        assert not notes


def test_optical_mode_water_without_a_water_polygon_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ws = _optical_ws(tmp_path, simulated=False, water=False)
    with caplog.at_level(logging.WARNING, logger="sitewatch.detection"):
        detect_site(ws, SITE.id, workers=1, optical_mode="water")
    assert any("has no water polygon" in m and "'water' cannot be used" in m for m in caplog.messages)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sitewatch.detection"):
        detect_site(ws, SITE.id, workers=1, optical_mode="auto", force=True)
    assert not any("water polygon" in m for m in caplog.messages)


def test_optical_mode_setting_is_checked(tmp_path: Path) -> None:
    ws = _optical_ws(tmp_path, simulated=False)
    (ws.root / "sitewatch.toml").write_text('[settings]\noptical_mode = "polygon"\n', encoding="utf-8")
    r = CliRunner().invoke(main, ["-q", "detect", SITE.id, "-w", str(ws.root)])
    assert r.exit_code != 0 and "optical_mode" in r.output and "auto" in r.output


def test_detect_names_files_a_worker_in_another_folder_finds(ws_with_sar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A workspace opened by a relative path (the default, `-w .`) still gives a Dask worker
    started in another folder files it can read; it found none and dropped every detection."""
    import os

    from sitewatch import detection
    from sitewatch.workspace import open_workspace

    real = detection.detect_observation
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def in_another_folder(job: detection.DetectJob) -> detection.DetectResult:
        here = os.getcwd()
        os.chdir(elsewhere)
        try:
            return real(job)
        finally:
            os.chdir(here)

    monkeypatch.setattr(detection, "detect_observation", in_another_folder)
    monkeypatch.chdir(ws_with_sar.root)
    summary = detect_site(open_workspace(Path(".")), SITE.id, workers=1)
    assert summary["errors"] == []


def test_ingesting_the_same_file_again_leaves_its_detection_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingest again (a folder with one new file in it) made the next detect run on every file, and
    until then the optical observations had lost their cloud fraction (the timeline counted them clear)."""
    from dataclasses import replace

    ws = _optical_ws(tmp_path, simulated=False)
    seen = _count_detections(monkeypatch)
    detect_site(ws, SITE.id, workers=1)
    with ws.store() as store:
        (before,) = store.observations(SITE.id)
        site = store.get_site(SITE.id)
        ingest_file(ws, store, site, tmp_path / "s2.tif")
        (again,) = store.observations(SITE.id)
    assert before.cloud_fraction is not None and again.cloud_fraction == before.cloud_fraction
    assert again.sha256 == before.sha256
    with ws.store() as store:  # as ingested a second later (its time has whole seconds)
        store.put_observation(replace(again, provenance={**again.provenance, "ingested_at": "2099-01-01T00:00:00Z"}))
    detect_site(ws, SITE.id, workers=1)
    assert len(seen) == 1  # nothing new to detect in


def test_an_observation_replaced_while_detect_runs_does_not_get_the_old_images_detections(ws_with_sar, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """An ingest of another file under the same name during detect had its new record given the detections
    of the image detect had read (and marked as detected), until the next detect."""
    from dataclasses import replace

    from sitewatch import detection

    real = detection.detect_observation

    def meanwhile_ingested_again(job: detection.DetectJob) -> detection.DetectResult:
        result = real(job)
        with ws_with_sar.store() as store:  # as `ingest` in another terminal, with a changed file
            store.put_observation(replace(job.observation, sha256="0" * 64))
        return result

    monkeypatch.setattr(detection, "detect_observation", meanwhile_ingested_again)
    summary = detect_site(ws_with_sar, SITE.id, workers=1)
    (error,) = summary["errors"]
    assert "replaced or removed by another command while detect ran" in error
    with ws_with_sar.store() as store:
        (obs,) = store.observations(SITE.id)
        assert store.undetected(SITE.id) == {obs.id} and store.detections(SITE.id) == []


def test_an_unnamed_8_bit_pair_is_no_dual_polarisation_pair() -> None:
    """Grey and alpha of an 8-bit rendering, archived as band1 and band2, stay one channel (as in detect-image)."""
    from sitewatch.detection_sar import _unnamed_pair

    grey = np.random.default_rng(0).integers(20, 60, (40, 40)).astype("float32")
    assert _unnamed_pair(np.stack([grey, np.full_like(grey, 255)]), ["band1", "band2"]) == (None, None)
    assert _unnamed_pair(np.stack([grey / 100, grey / 1000]), ["band1", "band2"]) == (0, 1)
    assert _unnamed_pair(np.stack([grey / 1000, grey / 100]), ["band1", "band2"]) == (1, 0)
    assert _unnamed_pair(np.stack([grey / 100, grey / 1000]), ["VV", "band2"]) == (None, None)
    vv_db, vh_db = 10 * np.log10(grey / 100), 10 * np.log10(grey / 1000)  # about -4 and -14 dB
    assert _unnamed_pair(np.stack([vv_db, vh_db]), ["band1", "band2"]) == (0, 1)
    assert _unnamed_pair(np.stack([vh_db, vv_db]), ["band1", "band2"]) == (1, 0)


def test_a_new_optical_mode_leaves_the_sar_observations_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a site with SAR and optical observations a new optical mode made detect run again on every
    SAR observation too, which the mode does not touch."""
    ws = _optical_ws(tmp_path, simulated=False)
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(0).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    tif = write_tiff(tmp_path / "s1.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"],
                     tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z", "SITEWATCH_SENSOR": "sar"})  # fmt: skip
    with ws.store() as store:
        ingest_file(ws, store, store.get_site(SITE.id), tif)
    seen = _count_detections(monkeypatch)
    detect_site(ws, SITE.id, workers=1)
    assert sorted(seen) == ["tiny/s1", "tiny/s2"]
    detect_site(ws, SITE.id, workers=1, optical_mode="image")
    assert seen[2:] == ["tiny/s2"]
    detect_site(ws, SITE.id, workers=1)
    assert seen[3:] == ["tiny/s2"]
    detect_site(ws, SITE.id, workers=1, min_length_m=30.0)  # the limits concern both
    assert sorted(seen[4:]) == ["tiny/s1", "tiny/s2"]


def _obs_on_grid(res: float = 10.0):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from sitewatch.model import Grid, Observation, SceneRef

    crs, x0, y0 = site_utm_origin(SITE)
    scene = SceneRef("local", "files", "s1", "sar", datetime(2024, 10, 17, tzinfo=UTC), res)
    grid = Grid(crs, (res, 0.0, x0, 0.0, -res, y0), 200, 200)
    return Observation("tiny:s1", SITE.id, scene, grid, "a.tif", "0" * 64, 1.0, None), crs, x0, y0


def _pixel_box(row: float, col: float, half_len: float, half_wid: float, kind: str = "vessel", length_m: float = 113.0):  # type: ignore[no-untyped-def]
    from sitewatch.detect.base import PixelDetection

    corners = ((col - half_len, row - half_wid), (col + half_len, row - half_wid), (col + half_len, row + half_wid), (col - half_len, row + half_wid))
    return PixelDetection(row, col, length_m, 15.3, 90.0, 0.9, corners, kind)


def test_footprints_put_pixel_centres_where_the_grid_does() -> None:
    # Row 0, col 0 is the first pixel's centre: half a pixel in from the grid's corner.
    from sitewatch.detection import to_detections

    obs, crs, x0, y0 = _obs_on_grid()
    (d,) = to_detections([_pixel_box(40, 30, 5, 1)], SITE, obs, "t", "1")
    c = reproject_geometry(d.footprint, "EPSG:4326", crs).centroid
    assert c.x == pytest.approx(x0 + 305.0, abs=0.2) and c.y == pytest.approx(y0 - 405.0, abs=0.2)
    assert (d.row, d.col) == (40, 30)


def test_a_vessel_is_at_the_nearest_berth_within_40_m_and_a_crane_at_none() -> None:
    from shapely.geometry import LineString

    from sitewatch.detection import to_detections
    from sitewatch.model import Berth

    obs, crs, x0, y0 = _obs_on_grid()
    # Berth lines along x at y0 - 300 m and y0 - 1000 m; the ship's box spans rows 39.5..40.5 plus
    # its half width of 1 pixel: its north edge at row 38.5 lies 385 + 5 = 390 m below y0 + 0.
    def line(y: float) -> LineString:
        return reproject_geometry(LineString([(x0 + 100, y0 - y), (x0 + 600, y0 - y)]), crs, "EPSG:4326")

    def berth_of(row: float, *ys: float, kind: str = "vessel") -> str | None:
        site = replace(SITE, berths=tuple(Berth(f"b{y:g}", line(y), "") for y in ys))
        (d,) = to_detections([_pixel_box(row, 30, 5, 1, kind)], site, obs, "t", "1")
        return d.berth_id

    # The box's north edge is at y0 - (row - 1 + 0.5) * 10 m.
    assert berth_of(33.5, 300) == "b300"  # edge 330 m down: 30 m from the line
    assert berth_of(34.45, 300) == "b300"  # 39.5 m: still at it
    assert berth_of(35.0, 300) is None  # 45 m
    assert berth_of(33.5, 1000, 300) == "b300"  # the nearer of two
    assert berth_of(33.5, 300, kind="crane") is None


def test_ids_follow_the_position_and_classes_the_vessels_at_the_scenes_resolution() -> None:
    from sitewatch.detection import to_detections
    from sitewatch.vessels import class_candidates

    obs, *_ = _obs_on_grid(3.0)
    found = [_pixel_box(90, 10, 5, 1), _pixel_box(20, 50, 2, 1, "crane"), _pixel_box(20, 10, 5, 1, length_m=113.456)]
    dets = to_detections(found, SITE, obs, "t", "1")
    assert [(d.id, d.row, d.col, d.kind) for d in dets] == [
        ("tiny:s1#000", 20, 10, "vessel"), ("tiny:s1#001", 20, 50, "crane"), ("tiny:s1#002", 90, 10, "vessel")]
    assert dets[0].length_m == 113.46
    assert dets[0].class_candidates == class_candidates(113.456, 15.3, 3.0) != class_candidates(113.456, 15.3, 10.0)
    assert dets[1].class_candidates == ()


def test_commands_reading_detections_of_an_earlier_detector_say_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A workspace detected by an earlier sitewatch, opened after an upgrade: timeline, report, eval, links, alerts and
    claims read its detections of the detectors it ran then without a word until `detect` ran again, and a `detect`
    stopped midway left the two mixed. Each now says which site rests on which older detector, until detect runs
    (timeline and report here; the others call the same warn_older_detections)."""
    from sitewatch.detect.versions import CURRENT_DETECTORS
    from sitewatch.detection_state import older_detector_notes
    from test_sar import sea_with_ships

    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    crs, x0, y0 = site_utm_origin(SITE)
    for day, seed in ((17, 3), (18, 4)):
        data = sea_with_ships(np.random.default_rng(seed), (260, 220), [(130.0, 110.0, 113.0, 15.6, 30.0)])
        tags = {"SITEWATCH_ACQUIRED": f"2024-10-{day}T09:30:00Z", "SITEWATCH_SENSOR": "sar"}
        tif = write_tiff(tmp_path / f"s{day}.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"], tags=tags)
        with ws.store() as store:
            ingest_file(ws, store, SITE, tif)
    assert CliRunner().invoke(main, ["-q", "detect", SITE.id, "-w", str(ws.root)]).exit_code == 0

    def said(*command: str) -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sitewatch.detection"):
            res = CliRunner().invoke(main, [*command, "-w", str(ws.root)])
        assert res.exit_code == 0, res.output
        return [r.getMessage() for r in caplog.records if r.name == "sitewatch.detection"]

    with ws.store() as store:
        assert older_detector_notes(store) == []
        assert {(d.detector, d.detector_version) for d in store.detections(site_id=SITE.id)} == {("sar-cfar", CURRENT_DETECTORS["sar-cfar"])}
        total = len(store.detections(site_id=SITE.id))
    assert said("timeline", SITE.id) == []
    with ws.store() as store, store.transaction() as db:  # as an earlier sitewatch stored them
        db.execute("UPDATE detections SET detector_version = '1.10.0'")
    [note] = said("timeline", SITE.id)
    assert note.startswith(f"{SITE.id}: all stored detections were made by a detector this sitewatch no longer runs (sar-cfar 1.10.0;")
    assert f"`sitewatch detect {SITE.id}` runs again" in note
    report = tmp_path / "r.html"
    assert said("report", "--out", str(report)) == [note]
    with ws.store() as store, store.transaction() as db:  # a detect after the upgrade stopped after one observation
        db.execute("UPDATE detections SET detector_version = ? WHERE acquired < '2024-10-18'", (CURRENT_DETECTORS["sar-cfar"],))
        db.execute("DELETE FROM sitewatch_meta WHERE key LIKE 'detect:%'")  # forgotten as such a run starts
    with ws.store() as store:
        older = sum(1 for d in store.detections(site_id=SITE.id) if d.detector_version == "1.10.0")
    assert 0 < older < total
    [note] = said("timeline", SITE.id)
    assert note.startswith(f"{SITE.id}: {older} of the {total} stored detections were made by a detector")
    assert CliRunner().invoke(main, ["-q", "detect", SITE.id, "-w", str(ws.root)]).exit_code == 0
    assert said("timeline", SITE.id) == []


def test_cli_detect_opens_the_store_once_for_all_its_sites(ws_with_sar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # `detect` opened the store once to list the sites, then once more for each site: on a PostGIS team store each
    # opening is a connection, a dozen catalogue statements and PostGIS loaded again in the server's session (~30 ms
    # of server time each; 11 connections for the daily detect of ten ports). Now one store serves every site.
    import json

    from sitewatch.workspace import Workspace

    with ws_with_sar.store() as store:
        (tif,) = [ws_with_sar.root / o.path for o in store.observations()]
        for k in (1, 2):
            other = replace(SITE, id=f"{SITE.id}-{k}")
            store.put_site(other)
            ingest_file(ws_with_sar, store, other, tif)
    opened: list[int] = []
    real = Workspace.store

    def counting(self: Workspace, **kwargs: object) -> object:
        opened.append(1)
        return real(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Workspace, "store", counting)
    res = CliRunner().invoke(main, ["detect", "-w", str(ws_with_sar.root), "--workers", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert [s["site"] for s in json.loads(res.output)["sites"]] == [SITE.id, f"{SITE.id}-1", f"{SITE.id}-2"]
    assert len(opened) == 1
    res = CliRunner().invoke(main, ["detect", "no-such-site", "-w", str(ws_with_sar.root), "--workers", "1"])
    assert res.exit_code != 0 and "no site 'no-such-site'" in res.output


def test_a_daily_detect_reads_whole_rows_of_its_new_images_only(ws_with_sar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # A daily detect read every observation of the site whole, its scene's properties, links and footprint with it, to
    # find the day's new one: at 1,800 days 2,166 rows of ~2.7 kB a site, which a PostGIS server sorted on disk and sent
    # whole (150-250 ms of server time a site, 1.5 s of a ten-port detect's 2.3). It reads the columns its digest is
    # made of, and whole rows of the observations it builds: the new ones.
    from sitewatch.store.sqlite import Store

    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(1).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")

    def image(day: int) -> Path:
        return write_tiff(tmp_path / f"s1-{day}.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
                          descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": f"2024-10-{day}T09:30:00Z"})  # fmt: skip

    with ws_with_sar.store() as store:
        for day in (18, 19):
            ingest_file(ws_with_sar, store, SITE, image(day))
    detect_site(ws_with_sar, SITE.id, workers=1)
    before = detect_site(ws_with_sar, SITE.id, workers=1)  # (detect wrote the rows' berths_hidden: their digests taken anew)
    with ws_with_sar.store() as store:
        new = ingest_file(ws_with_sar, store, SITE, image(20))
    assert new is not None
    whole: list[str] = []
    real = Store.execute

    def recording(self: Store, sql: str, args: object = ()) -> list[object]:
        rows = real(self, sql, args)  # type: ignore[arg-type]
        if "scenes.properties" in sql and "FROM observations" in sql:  # whole rows, their scenes' too
            whole.extend(r["observation_id"] for r in rows)
        return rows

    monkeypatch.setattr(Store, "execute", recording)
    after = detect_site(ws_with_sar, SITE.id, workers=1)
    assert after["observations"] == before["observations"] + 1 and not after["errors"]
    assert whole == [new.id]
    whole.clear()
    assert detect_site(ws_with_sar, SITE.id, workers=1) == after  # the row detect wrote berths_hidden into, read again
    assert whole == [new.id]
    whole.clear()
    assert detect_site(ws_with_sar, SITE.id, workers=1) == after  # nothing new: no whole row read
    assert whole == []
