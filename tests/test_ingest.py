"""Ingest: any CRS in, the site's UTM grid out, bad files skipped by name, reruns idempotent."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.errors import ImageReadError, InputError
from sitewatch.ingest import ingest_file, ingest_paths, read_scene_ref, site_grid
from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
from sitewatch.workspace import init_workspace

SITE = tiny_site()


def _sar(path: Path, when: str = "2024-10-17T09:30:00Z", seed: int = 0) -> Path:
    crs, x0, y0 = site_utm_origin(SITE)
    rng = np.random.default_rng(seed)
    data = rng.gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    return write_tiff(
        path,
        data,
        crs=crs,
        transform=Affine(10, 0, x0, 0, -10, y0),
        descriptions=["VV"],
        tags={"SITEWATCH_ACQUIRED": when},
    )


@pytest.fixture()
def ws(tmp_path: Path):  # type: ignore[no-untyped-def]
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    return ws


def test_grid_is_site_utm_zone_snapped() -> None:
    g = site_grid(SITE, 10.0)
    assert g.crs == "EPSG:32653"
    assert g.transform[0] == 10.0 and g.transform[4] == -10.0
    assert g.transform[2] % 10 == 0 and g.transform[5] % 10 == 0
    assert 150 < g.width < 200 and 200 < g.height < 250


def test_ingest_reprojects_from_geographic_crs(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A lon/lat raster with a bright square at a known place must land there in the UTM COG.
    lon0, lat0 = 132.32, 42.895
    res = 0.0001
    data = np.full((400, 500), 0.01, dtype="float32")
    data[200:210, 180:190] = 1.0  # centre lon 132.3385, lat 42.8745 (pixel centres at +0.5)
    src = write_tiff(
        tmp_path / "geo_20241018.tif",
        data,
        crs="EPSG:4326",
        transform=Affine(res, 0, lon0, 0, -res, lat0),
        descriptions=["VV"],
    )
    with ws.store() as store:
        obs = ingest_file(ws, store, SITE, src)
    assert obs is not None
    assert obs.scene.acquired == datetime(2024, 10, 18, tzinfo=UTC)
    with rasterio.open(ws.root / obs.path) as cog:
        assert cog.crs.to_epsg() == 32653
        arr = cog.read(1)
        rows, cols = np.nonzero(arr > 0.5)
        x, y = cog.transform @ (cols.mean() + 0.5, rows.mean() + 0.5)
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(32653, 4326, always_xy=True).transform(x, y)
    assert abs(lon - (lon0 + 185 * res)) < 2.5e-4
    assert abs(lat - (lat0 - 205 * res)) < 2.5e-4


def test_corrupt_file_is_skipped_by_name_and_others_proceed(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "in"
    folder.mkdir()
    _sar(folder / "good.tif")
    (folder / "corrupt.tif").write_bytes(b"II*\x00" + b"\x00garbage" * 50)
    with ws.store() as store, warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        report = ingest_paths(ws, store, SITE, [folder])
        assert len(report.observations) == 1
        assert len(report.skipped) == 1 and "corrupt.tif" in report.skipped[0][1]
        assert store.counts()["observations"] == 1
    assert not list((ws.archive / SITE.id).glob(".*partial"))


def test_rerun_leaves_counts_unchanged(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "in"
    folder.mkdir()
    _sar(folder / "a.tif", "2024-10-17T09:30:00Z", 1)
    _sar(folder / "b.tif", "2024-10-18T09:30:00Z", 2)
    with ws.store() as store:
        ingest_paths(ws, store, SITE, [folder])
        first = store.counts()
        ingest_paths(ws, store, SITE, [folder])
        assert store.counts() == first
        assert first["observations"] == 2
    assert len(list((ws.archive / SITE.id).glob("*.tif"))) == 2


def test_missing_crs_and_time_are_refused(tmp_path: Path) -> None:
    nocrs = write_tiff(tmp_path / "nocrs_20241017.tif", np.zeros((5, 5), "float32"), crs=None)
    with pytest.raises(ImageReadError, match="no CRS"):
        read_scene_ref(nocrs)
    notime = write_tiff(tmp_path / "notime.tif", np.zeros((5, 5), "float32"), descriptions=["VV"])
    with pytest.raises(InputError, match="--acquired"):
        read_scene_ref(notime)


def test_scene_outside_site_is_not_ingested(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    far = write_tiff(
        tmp_path / "far_20241017.tif",
        np.ones((10, 10), "float32"),
        crs="EPSG:32653",
        transform=Affine(10, 0, 200_000, 0, -10, 3_000_000),
        descriptions=["VV"],
    )
    with ws.store() as store:
        report = ingest_paths(ws, store, SITE, [far])
        assert not report.observations and "no valid pixel" in report.skipped[0][1]


def test_cli_ingest_names_bad_file(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "in"
    folder.mkdir()
    _sar(folder / "good.tif")
    (folder / "broken.tif").write_bytes(b"not a tiff")
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(folder), "-w", str(ws.root)])
    assert r.exit_code == 3, r.output  # some skipped
    assert "ingested 1 observation" in r.output
    assert "broken.tif" in r.output


def test_interrupted_commit_leaves_no_cog_and_is_cleaned(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sitewatch.ingest import archive_file, partial_path

    src = _sar(tmp_path / "a.tif")
    archived = archive_file(ws, SITE, src)  # written, then "killed" before the commit
    assert archived is not None
    final = ws.root / archived[0].path
    assert not final.exists() and partial_path(final).exists()
    with ws.store() as store:
        assert store.counts()["observations"] == 0
        ingest_paths(ws, store, SITE, [tmp_path / "nothing-here.tif"])
        assert not partial_path(final).exists()


def test_8bit_rendering_ingested_and_detected_is_not_cloud(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sitewatch.detection import detect_site

    # A Planet-visual-like 8-bit RGB rendering over the site: grey-green water at a third of
    # the range (reflectance's cloud level), with a 200 m ship at anchor.
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.empty((3, 260, 220), np.uint8)
    data[:] = np.array([70, 85, 75], np.uint8)[:, None, None]
    data[:, 120:124, 100:120] = np.array([180, 176, 170], np.uint8)[:, None, None]
    src = write_tiff(
        tmp_path / "visual_20241017.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
        descriptions=["red", "green", "blue"],
    )
    with ws.store() as store:
        obs = ingest_file(ws, store, SITE, src)
    assert obs is not None and obs.scene.sensor == "optical"
    assert obs.provenance["scale_applied"] == pytest.approx(1 / 255)
    detect_site(ws, SITE.id, workers=1)
    with ws.store() as store:
        (stored,) = store.observations(SITE.id)
    # With the reflectance cloud test the whole sea was "cloud" and the scene unusable.
    assert stored.cloud_fraction is not None and stored.cloud_fraction < 0.05
