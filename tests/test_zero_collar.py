"""A black collar of DN 0 in integer files that declare no no-data value (gdalwarp without
-dstnodata, vendors' deliveries, SNAP's GRD exports) is no data, not dark cloud-free pixels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.transform import from_origin
from shapely.geometry import LineString, box

from sitewatch.analysis.occupancy import load_timeline
from sitewatch.cli import main
from sitewatch.detect.image import _sar_window_reader, open_image_info
from sitewatch.detect.optical_image import detect_optical_image
from sitewatch.detection import DetectJob, detect_observation
from sitewatch.geo import reproject_geometry
from sitewatch.ingest import ingest_file, site_grid
from sitewatch.model import Berth
from sitewatch.testing import tiny_site, write_tiff
from sitewatch.workspace import init_workspace
from test_optical_inputs import band_files, port, write
from test_sar import SEA, sea_with_ships, ship_fraction, speckle

NOTE = "DN 0 read as no data (no no-data value declared)"


def _collared_port() -> np.ndarray:
    """uint16 reflectance x 10000 of :func:`port` with a 30-column collar at 0 in every band and
    dark water's NIR clipped to 0 beside the hull (one band: a value, not no data)."""
    img = port()
    img[3, 70:90, 40:50][img[3, 70:90, 40:50] < 0.05] = 0.0
    img[:, :, :30] = 0.0
    return np.rint(np.clip(img, 0, None) * 10000).astype(np.uint16)


@pytest.mark.parametrize("as_bands", [False, True])
@pytest.mark.parametrize("tile", [2048, 64])
def test_an_optical_collar_is_no_data_and_the_ship_stays(
    tmp_path: Path, as_bands: bool, tile: int
) -> None:
    img = _collared_port()
    source = (
        band_files(tmp_path, img, dtype="uint16")
        if as_bands
        else write(tmp_path / "s.tif", list(img), dtype="uint16")
    )
    res = detect_optical_image(source, tile=tile)  # type: ignore[arg-type]
    assert res.valid_fraction == pytest.approx(
        1 - 30 / 160
    )  # was 1.0: the collar seen as cloud-free
    assert [(round(d.row), round(d.col)) for d in res.detections] == [(80, 56)]
    assert res.zero_no_data


def test_detect_image_says_dn_0_was_read_as_no_data_and_obeys_a_declared_value(
    tmp_path: Path,
) -> None:
    img = _collared_port()
    out = tmp_path / "d.geojson"
    path = write(tmp_path / "s.tif", list(img), dtype="uint16")
    r = CliRunner().invoke(
        main, ["detect-image", "--sensor", "optical", str(path), "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    meta = json.loads(out.read_text(encoding="utf-8"))["sitewatch"]
    assert meta["no_data"] == NOTE and meta["valid_fraction"] == pytest.approx(
        1 - 30 / 160, abs=1e-4
    )
    # A declared no-data value is the file's word: DN 0 is then a value.
    declared = write(tmp_path / "d.tif", list(img), dtype="uint16", nodata=65535)
    res = detect_optical_image(declared)
    assert res.valid_fraction == 1.0 and not res.zero_no_data


def test_isolated_black_pixels_of_an_8_bit_rendering_stay_values(tmp_path: Path) -> None:
    """8-bit files are renderings: a stretch makes real pixels black in every channel, and a pixel
    of no data drops every candidate touching it, so their zeros are left alone."""
    img = port()
    rgb = np.clip(img[[2, 1, 0]] / 0.25 * 255, 0, 255).astype(np.uint8)
    black = rgb.copy()
    black[:, 81:83, 58:60] = 0  # pitch black against the hull (its shadow)
    black[:, 20, 20] = black[:, 140, 90] = 0
    plain = detect_optical_image(write(tmp_path / "plain.tif", list(rgb), dtype="uint8"))
    res = detect_optical_image(write(tmp_path / "black.tif", list(black), dtype="uint8"))
    assert (80, 56) in [(round(d.row), round(d.col)) for d in res.detections]
    assert len(res.detections) == len(plain.detections)
    assert res.valid_fraction == 1.0 and not res.zero_no_data


def _sar_amplitude(
    seed: int, shape: tuple[int, int], ships: list[tuple[float, float, float, float, float]]
) -> np.ndarray:
    """uint16 amplitude x 1000 (sea about 140), never 0 where imaged."""
    inten = sea_with_ships(np.random.default_rng(seed), shape, ships)
    return np.clip(np.rint(np.sqrt(inten) * 1000), 1, 65535).astype(np.uint16)


@pytest.mark.parametrize("tiled", [False, True])
def test_a_sar_collar_is_no_data_and_finds_nothing_at_its_edge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiled: bool
) -> None:
    import sitewatch.detect.image as image_mod

    amp = _sar_amplitude(
        5, (400, 400), [(100.0, 200.0, 120.0, 20.0, 30.0), (300.0, 120.0, 120.0, 20.0, 0.0)]
    )
    rr, cc = np.mgrid[:400, :400]
    collar = (cc < 60) | (cc > 340 - rr // 4)
    amp[collar] = 0
    path = write_tiff(
        tmp_path / "sar.tif",
        amp,
        crs="EPSG:32633",
        transform=from_origin(500000.0, 4000000.0, 10.0, 10.0),
    )
    _, valid = _sar_window_reader(open_image_info(path))((0, 400, 0, 400))
    assert valid is not None and np.array_equal(valid, ~collar)  # was None: all of it data
    if tiled:
        monkeypatch.setattr(image_mod, "TILE_ABOVE_PIXELS", 100)
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", "--sensor", "sar", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["sitewatch"]["no_data"] == NOTE
    assert sorted(
        (round(f["properties"]["row"]), round(f["properties"]["col"])) for f in fc["features"]
    ) == [(100, 200), (300, 120)]


# ---------------------------------------------------------------- the pipeline

QUAY = 0.4
"""The quay's face, as a share of the site grid's width from the west: land east of it."""


def _harbour_site(tmp_path: Path):  # type: ignore[no-untyped-def]
    site = tiny_site("collar", half_deg=0.01)
    grid = site_grid(site, 10.0)
    a, (h, w) = grid.affine, grid.shape
    qx = a.c + QUAY * w * 10.0
    water = box(a.c, a.f + h * a.e, qx, a.f)
    quay = LineString([(qx, a.f - 0.2 * h * 10.0), (qx, a.f - 0.8 * h * 10.0)])
    from dataclasses import replace

    site = replace(site, water=reproject_geometry(water, grid.crs, "EPSG:4326"),
                   berths=(Berth("quay", reproject_geometry(quay, grid.crs, "EPSG:4326")),))  # fmt: skip
    return site, grid


def _sar_day(tmp_path: Path, grid, day: str, collar_from: float | None) -> Path:  # type: ignore[no-untyped-def]
    """uint16 amplitude of the harbour on ``day`` with a ship alongside the quay; DN 0 east of
    ``collar_from`` (share of the width) when given, no no-data value declared."""
    h, w = grid.shape
    qc = int(QUAY * w)
    land = np.zeros((h, w))
    land[:, qc:] = 1.0
    hull = ship_fraction((h, w), h / 2, qc - 1.5, 113.0, 15.6, 0.0)
    inten = speckle(
        np.random.default_rng(int(day[-2:])),
        SEA * (1 - land) + 0.3 * land + hull * SEA * 100,
        (h, w),
    )
    amp = np.clip(np.rint(np.sqrt(inten) * 1000), 1, 65535).astype(np.uint16)
    if collar_from is not None:
        amp[:, int(collar_from * w) :] = 0
    return write_tiff(tmp_path / f"s1_{day}.tif", amp, crs=grid.crs, transform=grid.affine,
                      tags={"SITEWATCH_ACQUIRED": f"{day}T10:00:00Z", "SITEWATCH_SENSOR": "sar", "SITEWATCH_IMPULSE_RESPONSE_M": "0"})  # fmt: skip


def test_a_collar_over_the_berth_is_not_seen_as_an_empty_berth(tmp_path: Path) -> None:
    site, grid = _harbour_site(tmp_path)
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
        seen = ingest_file(ws, store, site, _sar_day(tmp_path, grid, "2024-10-16", None))
        cut = ingest_file(ws, store, site, _sar_day(tmp_path, grid, "2024-10-17", 0.3))
        assert seen is not None and cut is not None
        assert seen.valid_fraction == 1.0
        assert cut.valid_fraction == pytest.approx(0.3, abs=0.02)  # was 1.0
        assert cut.provenance["no_data"] == NOTE
        with rasterio.open(Path(ws.root) / cut.path) as ds:
            band = ds.read(1)
        assert (
            np.isnan(band[:, int(0.31 * grid.width) :]).all()
            and np.isfinite(band[:, : int(0.29 * grid.width)]).all()
        )
        for obs in (seen, cut):
            res = detect_observation(DetectJob(site, obs, str(Path(ws.root) / obs.path), {}))
            store.replace_detections(obs, res.detections)
        timeline = load_timeline(store, site.id)
    rows = {r.date.isoformat(): r for r in timeline.rows}
    assert rows["2024-10-16"].at_berth == {"quay": 1}
    # The 17th saw 30 % of the site, not the berth: skipped (under the usable 50 %), not a departure.
    assert "2024-10-17" not in rows
    assert [s.observation_id for s in timeline.skipped] == [cut.id]
