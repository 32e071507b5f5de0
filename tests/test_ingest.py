"""Ingest: any CRS in, the site's UTM grid out, bad files skipped by name, reruns idempotent."""

from __future__ import annotations

import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.errors import ImageReadError, InputError
from sitewatch.ingest import ingest_file, ingest_paths, read_scene_ref, site_grid
from sitewatch.ingest.identity import sha256_file
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.workspace import Workspace, init_workspace

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
def ws(tmp_path: Path) -> Workspace:
    return workspace_with_sites(tmp_path / "ws", SITE)


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
    assert obs.scene.acquired == datetime(2024, 10, 18, 12, tzinfo=UTC)  # a date-only name: noon
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


def test_a_file_claiming_millimetre_pixels_is_refused_by_name(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A GeoTIFF claiming 1 mm pixels made ingest allocate the site at that pixel size (terabytes) and die."""
    crs, x0, y0 = site_utm_origin(SITE)
    src = write_tiff(tmp_path / "mm_20241017.tif", np.ones((10, 10), "float32"), crs=crs,
                     transform=Affine(0.001, 0, x0, 0, -0.001, y0), descriptions=["VV"])  # fmt: skip
    with ws.store() as store:
        report = ingest_paths(ws, store, SITE, [src])
    assert not report.observations
    assert "at 0.001 m pixels would be" in report.skipped[0][1] and "is the image's pixel size right?" in report.skipped[0][1]
    widest = tiny_site("wide", lon=0.0, lat=0.0, half_deg=1.0)  # the widest site there is, at the equator
    assert site_grid(widest, 10.0).width * site_grid(widest, 10.0).height < 2**30


def test_a_tif_that_is_vrt_xml_is_refused_unless_named_vrt(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """GDAL picks the format by content: an "image.tif" that was VRT XML read any file it named (or fetched a URL)."""
    (tmp_path / "private").mkdir()
    secret = _sar(tmp_path / "private" / "elsewhere_20241017.tif")  # a raster of this machine, not given
    vrt = f'''<VRTDataset rasterXSize="220" rasterYSize="260"><SRS>{rasterio.open(secret).crs.to_wkt()}</SRS>
<GeoTransform>{", ".join(map(str, rasterio.open(secret).transform.to_gdal()))}</GeoTransform>
<VRTRasterBand dataType="Float32" band="1"><Description>VV</Description><SimpleSource>
<SourceFilename relativeToVRT="0">{secret}</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>'''
    disguised = tmp_path / "bought_20241017.tif"
    disguised.write_text(vrt, encoding="utf-8")
    (tmp_path / "mosaic_20241017.vrt").write_text(vrt, encoding="utf-8")
    with ws.store() as store:
        report = ingest_paths(ws, store, SITE, [disguised])
        assert not report.observations and "GDAL reads it as VRT" in report.skipped[0][1]
        assert ingest_file(ws, store, SITE, tmp_path / "mosaic_20241017.vrt") is not None  # named so: yours
    r = CliRunner().invoke(main, ["detect-image", str(disguised), "--out", str(tmp_path / "o.geojson")])
    assert r.exit_code == 1 and "GDAL reads it as VRT" in r.output


def test_a_header_claiming_a_huge_image_is_cut_over_the_site_not_read_whole(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Ingest read every file whole: a 12 kB GeoTIFF claiming 100 000 × 100 000 pixels asked for 40 GB and died."""
    from rasterio.windows import Window

    crs, x0, y0 = site_utm_origin(SITE)
    huge = tmp_path / "huge_20241017.tif"
    with rasterio.open(huge, "w", driver="GTiff", width=100_000, height=100_000, count=1, dtype="float32", crs=crs,
                       transform=Affine(10, 0, x0, 0, -10, y0), tiled=True, blockxsize=512, blockysize=512,
                       sparse_ok=True, BIGTIFF="YES") as dst:  # fmt: skip
        dst.set_band_description(1, "VV")
        dst.write(np.full((1, 512, 512), 0.05, "float32"), window=Window(0, 0, 512, 512))  # the rest: sparse tiles
    assert huge.stat().st_size < 2_000_000
    with ws.store() as store:
        obs = ingest_file(ws, store, SITE, huge)
    assert obs is not None
    with rasterio.open(ws.root / obs.path) as src:
        assert np.nanmax(src.read(1)) == pytest.approx(0.05)


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
    from sitewatch.ingest import archive_file

    src = _sar(tmp_path / "a.tif")
    archived = archive_file(ws, SITE, src)  # written, then "killed" before the commit
    assert archived is not None
    ((partial, final),) = archived[2]
    assert final == ws.root / archived[0].path
    assert not final.exists() and partial.exists()
    with ws.store() as store:
        assert store.counts()["observations"] == 0
        ingest_paths(ws, store, SITE, [tmp_path / "nothing-here.tif"])
        assert not partial.exists()


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


def _ship_sar(path: Path, when: str, ship: bool = True) -> Path:
    """A SAR scene over the site with (or without) one bright 150 m ship in open water."""
    crs, x0, y0 = site_utm_origin(SITE)
    rng = np.random.default_rng(3)
    data = rng.gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    if ship:
        data[120:123, 100:115] = 2.0
    return write_tiff(
        path, data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"],
        tags={"SITEWATCH_ACQUIRED": when},
    )  # fmt: skip


def test_same_file_name_in_two_folders_makes_two_observations_and_reruns_add_none(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Sentinel Hub names every download response.tiff.
    for sub, when in (("a", "2023-08-21T10:00:00Z"), ("b", "2023-09-05T10:00:00Z")):
        (tmp_path / sub).mkdir()
        _sar(tmp_path / sub / "response.tif", when)
    with ws.store() as store:
        report = ingest_paths(ws, store, SITE, [tmp_path / "a", tmp_path / "b"])
        ids = sorted(o.id for o in report.observations)
        assert ids == [f"{SITE.id}/response", f"{SITE.id}/response_20230905T100000"]
        ingest_paths(ws, store, SITE, [tmp_path / "b"])  # a later run, one folder: same ids
        ingest_paths(ws, store, SITE, [tmp_path / "a", tmp_path / "b"])
        assert sorted(o.id for o in store.observations(SITE.id)) == ids
        days = {o.id: o.scene.acquired.day for o in store.observations(SITE.id)}
        assert days == {ids[0]: 21, ids[1]: 5}
        (tmp_path / "c").mkdir()
        (tmp_path / "b" / "response.tif").rename(tmp_path / "c" / "response.tif")  # the same image, moved
        ingest_paths(ws, store, SITE, [tmp_path / "c"])
        assert sorted(o.id for o in store.observations(SITE.id)) == ids


def test_one_image_in_two_folders_of_one_run_makes_one_observation(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    first = _sar(tmp_path / "a" / "response.tif", "2023-08-21T10:00:00Z")
    copy = tmp_path / "b" / "response.tif"
    copy.write_bytes(first.read_bytes())
    with ws.store() as store:
        report = ingest_paths(ws, store, SITE, [tmp_path / "a", tmp_path / "b"])
        assert [o.id for o in report.observations] == [f"{SITE.id}/response"]
        assert report.duplicates == ((str(copy), str(first)),) and not report.skipped
        assert [o.id for o in store.observations(SITE.id)] == [f"{SITE.id}/response"]
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(tmp_path / "a"), str(copy), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    assert f"duplicate: {copy} is the same image as {first}, ingested once" in r.output
    with ws.store() as store:
        assert [o.id for o in store.observations(SITE.id)] == [f"{SITE.id}/response"]


def test_a_copy_under_another_name_in_a_later_run_is_the_same_observation(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    first = _sar(tmp_path / "a" / "pier.tif", "2023-08-21T10:00:00Z")
    other = _sar(tmp_path / "b" / "other.tif", "2023-08-21T10:00:00Z", seed=1)  # same time, another image
    (tmp_path / "b" / "delivery_copy.tif").write_bytes(first.read_bytes())
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(first), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    # The copy sorts before pier.tif in b/ and went in as a second observation of the same image.
    (tmp_path / "b" / "pier.tif").write_bytes(first.read_bytes())
    for command in (["ingest", SITE.id, str(tmp_path / "b")], ["import", str(tmp_path / "b" / "delivery_copy.tif")]):
        r = CliRunner().invoke(main, ["-q", *command, "-w", str(ws.root)])
        assert r.exit_code == 0, r.output
        with ws.store() as store:
            assert sorted(o.id for o in store.observations(SITE.id)) == [f"{SITE.id}/other", f"{SITE.id}/pier"]
    assert other.exists()


def test_a_repeat_is_not_said_to_have_gone_in_when_its_first_did_not(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    first = tmp_path / "a" / "x.tif"
    first.write_bytes(b"not a tiff")
    copy = tmp_path / "b" / "x.tif"
    copy.write_bytes(first.read_bytes())
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(tmp_path / "a"), str(copy), str(first), "-w", str(ws.root)])
    assert r.exit_code == 1, r.output
    assert "ingested once" not in r.output
    assert f"duplicate: {copy} is the same image as {first}, not read again ({first} did not go in" in r.output
    assert f"duplicate: {first} given more than once" in r.output


def test_replacing_an_image_drops_its_detections_until_detect_runs(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sitewatch.analysis.occupancy import NOT_DETECTED, load_timeline
    from sitewatch.detection import detect_site

    src = _ship_sar(tmp_path / "pier.tif", "2024-10-17T09:30:00Z")
    with ws.store() as store:
        (obs,) = ingest_paths(ws, store, SITE, [src]).observations
        assert store.undetected(SITE.id) == {obs.id}
        tl = load_timeline(store, SITE.id)
        assert not tl.rows and tl.skipped[0].reason == NOT_DETECTED  # not "no vessel seen"
    detect_site(ws, SITE.id, workers=1)
    with ws.store() as store:
        assert store.detections(observation_id=obs.id) and not store.undetected(SITE.id)
        ingest_paths(ws, store, SITE, [src])  # the same file again: its detections stand
        assert store.detections(observation_id=obs.id)
        _ship_sar(src, "2024-10-20T09:30:00Z", ship=False)  # another image under the same name
        ingest_paths(ws, store, SITE, [src])
        (again,) = store.observations(SITE.id)
        assert again.id == obs.id and again.scene.acquired.day == 20
        assert not store.detections(observation_id=obs.id)
        assert store.undetected(SITE.id) == {obs.id}


def test_reingest_with_another_sensor_changes_it(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    crs, x0, y0 = site_utm_origin(SITE)
    src = write_tiff(
        tmp_path / "stack_20241017.tif", np.full((4, 60, 60), 0.05, "float32"), crs=crs,
        transform=Affine(10, 0, x0, 0, -10, y0),
    )  # fmt: skip
    with ws.store() as store:
        ingest_paths(ws, store, SITE, [src], sensor="sar")
        ingest_paths(ws, store, SITE, [src], sensor="optical")
        (obs,) = store.observations(SITE.id)
        assert obs.scene.sensor == "optical" and store.observations(SITE.id, sensor="optical")


def test_dates_and_scene_names_read_from_file_names() -> None:
    from sitewatch.ingest import _acquired_from, band_files_name

    assert band_files_name({"blue": Path("B02_scene.tif"), "red": Path("B04_scene.tif")}) == "scene"
    assert band_files_name({"vv": Path("a.tif"), "vh": Path("b.tif")}) == "a"

    eo_browser = Path("2023-07-10-00:00_2023-07-10-23:59_Sentinel-2_L2A_B02_(Raw).tiff")
    # A name that gives only the date (here EO Browser's search window) is taken as noon UTC, and says so.
    assert _acquired_from({}, eo_browser) == (datetime(2023, 7, 10, 12, tzinfo=UTC), "file name, date only (12:00 UTC assumed)")
    exact = (datetime(2024, 10, 17, 9, 30, 5, tzinfo=UTC), "file name")
    assert _acquired_from({}, Path("pier_2024-10-17T09:30:05.tif")) == exact
    assert _acquired_from({}, Path("pier_20241017T093005.tif")) == exact
    assert _acquired_from({}, Path("chip_20481024.tif")) is None  # a future "date" is another number: ask for --acquired


def test_bands_one_file_each_ingest_as_one_observation(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    crs, x0, y0 = site_utm_origin(SITE)
    files = []
    for name, value in (("B02", 900), ("B03", 800), ("B04", 700), ("B08", 600)):
        files.append(write_tiff(
            tmp_path / f"2024-10-17-00:00_2024-10-17-23:59_Sentinel-2_L2A_{name}_(Raw).tiff",
            np.full((60, 60), value, np.uint16), crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
        ))  # fmt: skip
    single = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(files[0]), "-w", str(ws.root)])
    assert single.exit_code == 1 and files[0].name in single.output and "--band" in single.output
    args = [f"--band={b}={f}" for b, f in zip(("blue", "green", "red", "B08"), files, strict=True)]
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *args, "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.scene.sensor == "optical" and obs.scene.acquired == datetime(2024, 10, 17, 12, tzinfo=UTC)
    assert obs.provenance["acquired_from"] == "file name, date only (12:00 UTC assumed)"
    assert obs.id == f"{SITE.id}/2024-10-17-00:00_2024-10-17-23:59_Sentinel-2_L2A_(Raw)"  # the band cut out
    assert list(obs.provenance["bands"]) == ["blue", "green", "red", "nir"]
    assert set(obs.provenance["band_files"]) == {"blue", "green", "red", "nir"}
    with rasterio.open(ws.root / obs.path) as cog:
        assert cog.descriptions == ("blue", "green", "red", "nir")
        assert cog.read(4)[30, 30] == pytest.approx(600 / 10_000)  # L2A scaled by 10,000
    both = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(files[0]), args[0], "-w", str(ws.root)])
    assert both.exit_code != 0 and "not both" in both.output


def test_detect_names_a_missing_or_changed_cog_exits_nonzero_and_drops_its_detections(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sitewatch.analysis.occupancy import NOT_DETECTED, load_timeline

    a = _ship_sar(tmp_path / "a_20241017.tif", "2024-10-17T09:30:00Z")
    b = _ship_sar(tmp_path / "b_20241018.tif", "2024-10-18T09:30:00Z")
    with ws.store() as store:
        oa, ob = ingest_paths(ws, store, SITE, [a, b]).observations
    run = ["-q", "detect", SITE.id, "-w", str(ws.root), "--workers", "1"]
    assert CliRunner().invoke(main, run).exit_code == 0
    with ws.store() as store:
        assert store.detections(observation_id=oa.id)
    cog = ws.root / oa.path
    cog.write_bytes(cog.read_bytes()[:-10] + b"0123456789")  # changed behind sitewatch's back
    r = CliRunner().invoke(main, run)
    assert r.exit_code == 3 and oa.id in r.output and "sha256" in r.output
    assert "2 observation(s), 1 could not be read" in r.output
    with ws.store() as store:
        assert not store.detections(observation_id=oa.id) and store.detections(observation_id=ob.id)
        assert [s.reason for s in load_timeline(store, SITE.id).skipped] == [NOT_DETECTED]
    cog.unlink()
    (ws.root / ob.path).unlink()
    r = CliRunner().invoke(main, run)
    assert r.exit_code == 1 and ob.path in r.output
    assert f"{ob.id}: its archived image" in r.output and "missing" in r.output  # named by the observation's id


def test_workspace_of_schema_1_learns_which_observations_were_detected_and_gets_datetime_columns(tmp_path: Path) -> None:
    import sqlite3

    from sitewatch.store import Store
    from sitewatch.store.schema import MIGRATIONS

    path = tmp_path / "old.gpkg"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "\nINSERT INTO sitewatch_meta VALUES ('schema_version', '1');")
    db.execute("INSERT INTO runs (stage, site_id, started, finished, parameters, version) "
               "VALUES ('detect', 'pier', 'a', '2024-10-20T00:00:00Z', '{}', 'x')")  # fmt: skip
    for oid, site in (("pier/a", "pier"), ("bay/b", "bay")):
        db.execute(
            "INSERT INTO observations (observation_id, site_id, scene_id, sensor, acquired, crs, transform, width, "
            "height, path, sha256, valid_fraction, simulated, provenance) "
            "VALUES (?, ?, ?, 'sar', '2024-10-17T09:30:00.123456Z', 'EPSG:4326', '[]', 1, 1, 'p', 's', 1, 0, '{}')",
            (oid, site, oid),
        )
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.undetected() == {"bay/b"}  # its site never had a detect run
        types = {r[1]: r[2] for r in store.execute("PRAGMA table_info(observations)")}
        assert (types["acquired"], types["simulated"], types["detected_at"]) == ("DATETIME", "BOOLEAN", "DATETIME")
        # GeoPackage DATETIME: milliseconds, as GDAL reads them without a "non-conformant" remark.
        assert store.execute("SELECT acquired FROM observations")[0][0] == "2024-10-17T09:30:00.123Z"
        assert store.execute("SELECT detected_at FROM observations WHERE observation_id = 'pier/a'")[0][0] == "2024-10-20T00:00:00Z"


def test_a_site_wider_than_a_place_is_refused_by_name(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from sitewatch.sites import site_from_bbox

    with pytest.raises(InputError, match=r"site 'huge' spans 360.0° × 180.0°"):
        site_from_bbox("huge", (-180, -90, 180, 90))
    r = CliRunner().invoke(main, ["sites", "add", "wide", "--bbox", "-10,0,10,1", "-w", str(ws.root)])
    assert r.exit_code != 0 and "site 'wide' spans 20.0°" in r.output


def test_an_observation_the_detector_cannot_use_is_named_and_the_others_proceed(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    crs, x0, y0 = site_utm_origin(SITE)
    red = write_tiff(tmp_path / "S2_20241018_red.tif", np.full((60, 60), 700, np.uint16), crs=crs,
                     transform=Affine(10, 0, x0, 0, -10, y0))  # fmt: skip
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, f"--band=red={red}", "-w", str(ws.root)])
    assert r.exit_code != 0 and "needs at least green and red" in r.output
    sar = _ship_sar(tmp_path / "s1_20241017.tif", "2024-10-17T09:30:00Z")
    with ws.store() as store:
        ingest_paths(ws, store, SITE, [sar])
        (red_only,) = ingest_paths(ws, store, SITE, [], band_files={"red": red}).observations  # the library allows it
    r = CliRunner().invoke(main, ["-q", "detect", SITE.id, "-w", str(ws.root), "--workers", "1"])
    assert r.exit_code == 3 and f"{red_only.id}: optical detection needs" in r.output
    with ws.store() as store:
        assert store.undetected(SITE.id) == {red_only.id} and store.detections(site_id=SITE.id)


def test_a_utm_file_keeps_its_own_pixel_size_not_the_scale_factors(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    crs, x0, y0 = site_utm_origin(SITE)
    src = write_tiff(tmp_path / "s1_20241017.tif", np.full((260, 220), 0.01, "float32"), crs=crs,
                     transform=Affine(10, 0, x0 - 3, 0, -10, y0 + 7), descriptions=["VV"])  # fmt: skip
    scene, _ = read_scene_ref(src)
    assert scene.resolution_m == 10.0  # the ground size at the site is 10 m × the zone's scale factor
    with ws.store() as store:
        (obs,) = ingest_paths(ws, store, SITE, [src]).observations
    assert obs.grid.transform[0] == 10.0


@pytest.mark.parametrize(
    "colours, dtype, names",
    [
        (["red", "green", "blue", "alpha"], "uint8", ("red", "green", "blue", "alpha")),  # not blue/green/red/nir
        (["blue", "green", "red"], "uint16", ("blue", "green", "red")),  # not red/green/blue
    ],
)
def test_unnamed_bands_are_named_by_their_colour_interpretation(
    ws, tmp_path: Path, colours: list[str], dtype: str, names: tuple[str, ...]  # type: ignore[no-untyped-def]
) -> None:
    from rasterio.enums import ColorInterp

    from sitewatch.detection import detect_site

    crs, x0, y0 = site_utm_origin(SITE)
    values = {"red": 60, "green": 40, "blue": 20, "alpha": 255}
    data = np.stack([np.full((260, 220), values[c], dtype) for c in colours])
    path = tmp_path / "visual_20241017.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=220, height=260, count=len(colours), dtype=dtype, crs=crs,
        transform=Affine(10, 0, x0, 0, -10, y0),
    ) as dst:  # fmt: skip
        dst.write(data)
        dst.colorinterp = [ColorInterp[c] for c in colours]
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(path), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    with rasterio.open(ws.root / obs.path) as cog:
        assert cog.descriptions == names
        red, blue = cog.read(names.index("red") + 1), cog.read(names.index("blue") + 1)
    assert np.nanmedian(red) > np.nanmedian(blue)  # red is the band the file says is red
    assert detect_site(ws, SITE.id)["errors"] == []  # the alpha band is archived, not read as a band


def _band_tiffs(tmp_path: Path, x_shift_m: float = 0.0) -> list[Path]:
    crs, x0, y0 = site_utm_origin(SITE)
    return [
        write_tiff(
            tmp_path / f"2024-10-17-00:00_2024-10-17-23:59_Sentinel-2_L2A_{name}_(Raw).tiff",
            np.full((60, 60), value, np.uint16), crs=crs, transform=Affine(10, 0, x0 + x_shift_m, 0, -10, y0),
        )  # fmt: skip
        for name, value in (("B02", 900), ("B03", 800), ("B04", 700), ("B08", 600))
    ]


def test_band_files_rerun_in_another_order_or_with_other_bands_replaces_not_adds(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = _band_tiffs(tmp_path)
    names = ("blue", "green", "red", "nir")
    runs = [
        [f"--band={b}={f}" for b, f in zip(names, files, strict=True)],
        [f"--band={b}={f}" for b, f in reversed(list(zip(names, files, strict=True)))],  # flags in another order
        [f"--band=green={files[1]}", f"--band=red={files[2]}", "--acquired", "2024-10-17T02:10:00Z"],  # time corrected
    ]
    for args in runs:
        r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *args, "-w", str(ws.root)])
        assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.id == f"{SITE.id}/2024-10-17-00:00_2024-10-17-23:59_Sentinel-2_L2A_(Raw)"
    assert obs.scene.acquired == datetime(2024, 10, 17, 2, 10, tzinfo=UTC)
    assert list(obs.provenance["bands"]) == ["green", "red"]
    assert [p.name for p in (ws.root / "archive" / SITE.id).glob("*.tif")] == [Path(obs.path).name]


def test_band_files_in_any_flag_order_are_stored_in_band_order(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = _band_tiffs(tmp_path)
    args = [f"--band=nir={files[3]}", f"--band=red={files[2]}", f"--band=green={files[1]}", f"--band=blue={files[0]}"]
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *args, "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert list(obs.provenance["bands"]) == ["blue", "green", "red", "nir"]
    assert obs.provenance["source_path"] == str(files[0].resolve())


def test_one_file_given_as_two_bands_is_refused_and_the_observation_kept(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = _band_tiffs(tmp_path)
    good = [f"--band={b}={f}" for b, f in zip(("blue", "green", "red", "nir"), files, strict=True)]
    assert CliRunner().invoke(main, ["-q", "ingest", SITE.id, *good, "-w", str(ws.root)]).exit_code == 0
    with ws.store() as store:
        (before,) = store.observations(SITE.id)
    slip = [f"--band=blue={files[0]}", f"--band=green={files[0]}", f"--band=red={files[2]}"]  # B02 twice
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *slip, "-w", str(ws.root)])
    assert r.exit_code == 1
    assert "--band blue and --band green are the same file" in r.output and files[0].name in r.output
    # Two bands only, one file for both, or one missing: that is said, not that green and red are too few.
    two = CliRunner().invoke(main, ["-q", "ingest", SITE.id, f"--band=blue={files[0]}", f"--band=green={files[0]}", "-w", str(ws.root)])
    assert two.exit_code == 1 and "are the same file" in two.output and "needs at least" not in two.output, two.output
    gone = CliRunner().invoke(main, ["-q", "ingest", SITE.id, f"--band=blue={tmp_path / 'no.tif'}", f"--band=green={files[1]}", "-w", str(ws.root)])
    assert gone.exit_code == 1 and "no such file" in gone.output and "needs at least" not in gone.output, gone.output
    twice = CliRunner().invoke(main, ["-q", "ingest", SITE.id, f"--band=blue={files[0]}", f"--band=blue={files[1]}"])
    assert "given twice" in twice.output and "for SAR" not in twice.output
    with ws.store() as store:
        (after,) = store.observations(SITE.id)
    assert after.sha256 == before.sha256


def test_band_file_of_another_place_is_named(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    here = _band_tiffs(tmp_path)
    away_dir = tmp_path / "away"
    away_dir.mkdir()
    away = _band_tiffs(away_dir, x_shift_m=500_000)  # the same names, 500 km east
    args = [f"--band=green={here[1]}", f"--band=red={away[2]}"]
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *args, "-w", str(ws.root)])
    assert r.exit_code == 1
    assert f"{away[2]}: does not cover the site" in r.output
    assert f"{here[1]}: no valid pixel" not in r.output


def test_acquired_date_alone_is_noon_and_a_future_time_is_refused(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = _band_tiffs(tmp_path)
    args = [f"--band=green={files[1]}", f"--band=red={files[2]}"]
    future = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *args, "--acquired", "2099-01-01", "-w", str(ws.root)])
    assert future.exit_code == 2 and "Invalid value for '--acquired': '2099-01-01' is in the future" in future.output
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *args, "--acquired", "2024-10-16", "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    # As for a date in a file name: noon keeps the local date for any --utc-offset within ±12 h.
    assert obs.scene.acquired == datetime(2024, 10, 16, 12, tzinfo=UTC)
    imp = CliRunner().invoke(main, ["-q", "import", str(files[1]), "--acquired", "2099-01-01", "-w", str(ws.root)])
    assert imp.exit_code == 2 and "in the future" in imp.output
    typo = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *args, "--acquired", "2024-13-01", "-w", str(ws.root)])
    assert typo.exit_code == 2 and "Invalid value for '--acquired': '2024-13-01' is not an ISO 8601 date or time" in typo.output


def test_zip_of_geotiffs_gives_advice_that_ingest_can_follow(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import zipfile

    chips = tmp_path / "chips.zip"  # as OpenSARShip delivers its chips
    with zipfile.ZipFile(chips, "w") as zf:
        zf.write(_sar(tmp_path / "a_20241017.tif"), "Patch/a_20241017.tif")
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(chips), "-w", str(ws.root)])
    assert r.exit_code == 1 and "chips.zip" in r.output and "unzip it" in r.output
    # The advice used to be a /vsizip/ path, which ingest refuses before reading anything:
    vsi = f"/vsizip/{chips}/Patch/a_20241017.tif"
    refused = CliRunner().invoke(main, ["-q", "ingest", SITE.id, vsi, "-w", str(ws.root)])
    assert refused.exit_code == 2 and "does not exist" in refused.output
    assert "ingest` and `import` take files on disk only" in r.output


def test_unreadable_time_in_a_tag_or_sidecar_names_the_file_and_where(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tagged = _sar(tmp_path / "tagged.tif", when="17/10/2024 09:30")  # a day-first date written by hand
    side = _sar(tmp_path / "side.tif", seed=1)
    import json as _json

    with rasterio.open(side, "r+") as ds:
        ds.update_tags(SITEWATCH_ACQUIRED="")
    (tmp_path / "side.json").write_text(_json.dumps({"datetime": "yesterday"}), encoding="utf-8")
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(tagged), str(side), "-w", str(ws.root)])
    assert r.exit_code == 1
    assert f"{tagged}: tag SITEWATCH_ACQUIRED '17/10/2024 09:30' is not an ISO 8601 time; pass --acquired" in r.output
    assert f"{side}: side.json: datetime 'yesterday' is not an ISO 8601 time" in r.output


def test_band_files_of_two_dates_are_refused_naming_them(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = _band_tiffs(tmp_path)  # 2024-10-17
    later_dir = tmp_path / "later"
    later_dir.mkdir()
    later = [f.rename(later_dir / f.name.replace("2024-10-17", "2024-10-22")) for f in _band_tiffs(later_dir)]
    args = [f"--band=green={first[1]}", f"--band=red={later[2]}"]  # one download of each day, picked by mistake
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *args, "-w", str(ws.root)])
    assert r.exit_code == 1 and "different dates" in r.output
    assert f"--band green {first[1]} is of 2024-10-17" in r.output and f"--band red {later[2]} is of 2024-10-22" in r.output
    with ws.store() as store:
        assert not store.observations(SITE.id)


def test_same_file_name_in_two_sites_keeps_each_sites_scene(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """EO Browser names a day's exports alike in every port: hedland's and cartagena's 2023-07-30
    bands made one scene row, so hedland's observation read cartagena's file and resolution."""
    from sitewatch.testing import tiny_site

    other = tiny_site("other", lon=-75.53, lat=10.40)
    files = {}
    for site, px in ((SITE, 10.0), (other, 20.0)):
        crs, x0, y0 = site_utm_origin(site)
        (tmp_path / site.id).mkdir()
        files[site.id] = write_tiff(
            tmp_path / site.id / "response.tif",
            np.random.default_rng(1).gamma(4.5, 0.01 / 4.5, (200, 200)).astype("float32"),
            crs=crs, transform=Affine(px, 0, x0, 0, -px, y0), descriptions=["VV"],
            tags={"SITEWATCH_ACQUIRED": "2023-07-30T12:00:00Z"},
        )  # fmt: skip
    with ws.store() as store:
        store.put_site(other)
        for site in (SITE, other):
            ingest_paths(ws, store, site, [files[site.id]])
        for site in (SITE, other):  # a rerun replaces, in each site
            ingest_paths(ws, store, site, [files[site.id]])
        a, b = store.observations(SITE.id) + store.observations(other.id)
        assert len(store.observations()) == 2
    assert a.scene.id != b.scene.id
    assert (a.scene.resolution_m, b.scene.resolution_m) == (10.0, 20.0)
    assert a.scene.hrefs["data"] == str(files[SITE.id].resolve())
    assert b.scene.hrefs["data"] == str(files[other.id].resolve())


def test_sar_half_a_pixel_off_the_site_grid_is_not_interpolated(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Bilinear resampling of OpenSARShip GRD chips half a pixel off the site grid smoothed speckle and
    hulls: 3 ships of 4 found, 15-31 m short, where detect-image found 4 on the chips themselves."""
    crs, x0, y0 = site_utm_origin(SITE)
    x0, y0 = 10 * round(x0 / 10) + 5, 10 * round(y0 / 10) + 5
    data = np.random.default_rng(4).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    data[120:123, 100:115] = 2.0
    tif = write_tiff(
        tmp_path / "s1.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"],
        tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"},
    )  # fmt: skip
    with ws.store() as store:
        (obs,) = ingest_paths(ws, store, SITE, [tif]).observations
    assert obs.grid.affine.c % 10 == 0  # the site's grid, half a pixel from the file's
    with rasterio.open(ws.root / obs.path) as src:
        archived = src.read(1)
    archived = archived[np.isfinite(archived)]
    assert np.isin(archived, data).all()  # each value is one of the file's, none an average
    assert archived.max() == 2.0


def test_an_esa_name_of_before_2016_gives_its_sensing_start_or_asks_for_the_time(tmp_path: Path) -> None:
    """OSCD's Hong Kong bands (S2A_OPER_MSI_L1C_TL_SGS__20160927T081713_…) went in as acquired at 08:17,
    the time the tile was made (the pass was at about 02:50 UTC), and with no platform."""
    from sitewatch.ingest import _acquired_from
    from sitewatch.platforms import platform_from_name

    tile = "S2A_OPER_MSI_L1C_TL_SGS__20160927T081713_A006607_T49QHE_B02.tif"
    assert _acquired_from({}, Path(tile)) is None
    product = Path("S2A_OPER_PRD_MSIL1C_PDMC_20160927T081713_R089_V20160927T025222_20160927T025222.tif")
    assert _acquired_from({}, product) == (datetime(2016, 9, 27, 2, 52, 22, tzinfo=UTC), "file name, sensing start (_V)")
    assert platform_from_name(tile) == platform_from_name(product.name) == "sentinel-2a"
    crs, x0, y0 = site_utm_origin(SITE)
    path = write_tiff(tmp_path / tile, np.full((3, 40, 40), 900, np.uint16), crs=crs, transform=Affine(10, 0, x0, 0, -10, y0))
    with pytest.raises(InputError, match="when the file was made.*pass --acquired"):
        read_scene_ref(path)


@pytest.mark.parametrize(("name", "said"), [
    ("Дунай 17.10.2024 Planet", "pass --acquired 2024-10-17 (the name's '17.10.2024' is not read: a date in a file name is read year first"),
    ("dunai 05-10-2024", "pass --acquired 2024-10-05 (5 October) or 2024-05-10 (10 May), as meant (the name's '05-10-2024'"),
    ("scene 31.31.2024", "pass --acquired"),  # no date: nothing to say of it
])  # fmt: skip
def test_a_date_written_day_first_in_a_file_name_is_said_with_what_to_pass(tmp_path: Path, name: str, said: str) -> None:
    # A local user names the file "Дунай 17.10.2024": the name's date is not read (year first only), and the refusal
    # said "no acquisition time in its tags, a sidecar JSON or its name; pass --acquired", as if it held none.
    crs, x0, y0 = site_utm_origin(SITE)
    path = write_tiff(tmp_path / f"{name}.tif", np.full((3, 40, 40), 900, np.uint16), crs=crs, transform=Affine(10, 0, x0, 0, -10, y0))
    with pytest.raises(InputError) as err:
        read_scene_ref(path)
    assert str(err.value).startswith(f"{path}: no acquisition time in its tags, a sidecar JSON or its name; {said}"), err.value
    assert ("the name's" in str(err.value)) == ("31.31" not in name)


_PAUSED_INGEST = """
import sys, time
from pathlib import Path

import sitewatch.ingest.entry as ingest
from sitewatch.cli import main

folder = Path(sys.argv[1])
commit = ingest.commit_archived

def paused(*args, **kw):
    (folder / "ready").touch()  # its COG is written, not yet committed
    deadline = time.monotonic() + 60
    while not (folder / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return commit(*args, **kw)

ingest.commit_archived = paused
if __name__ == "__main__":  # workers started by spawn or forkserver import this script too
    main(sys.argv[2:])
"""


def test_two_ingests_of_one_site_at_once_keep_their_own_files(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A second ingest into a site removed the first one's COG, not yet committed, as left by a
    killed run (the first then ended in a FileNotFoundError traceback); both wrote one
    temporary name, so one could commit the other's half-written file."""
    import os
    import subprocess
    import sys

    import sitewatch
    from sitewatch.ingest import sha256_file

    src = _sar(tmp_path / "a_20241017.tif")
    script = tmp_path / "paused_ingest.py"
    script.write_text(_PAUSED_INGEST, encoding="utf-8")
    lib = str(Path(sitewatch.__file__).parents[1])
    env = os.environ | {"PYTHONPATH": os.pathsep.join([lib, os.environ.get("PYTHONPATH", "")])}
    first = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), "-q", "ingest", SITE.id, str(src), "-w", str(ws.root)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="locale",
    )  # fmt: skip
    try:
        deadline = datetime.now(UTC).timestamp() + 60
        while not (tmp_path / "ready").exists():
            assert first.poll() is None, first.communicate()
            assert datetime.now(UTC).timestamp() < deadline, "the first ingest never got to its commit"
        second = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(src), "-w", str(ws.root)])
        (tmp_path / "go").touch()
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert second.exit_code == 0, second.output
    assert first.returncode == 0, err
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert sha256_file(ws.root / obs.path) == obs.sha256
    assert [p.name for p in (ws.archive / SITE.id).iterdir()] == [Path(obs.path).name]


def test_an_ingest_into_a_site_removed_meanwhile_records_nothing(ws, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`sites remove --with-observations` while an ingest of the site ran: the images the ingest had still to
    commit were recorded anyway (exit 0), observations of a site no longer there, their COGs in its archive
    folder (2 of 12 pairs). Here the removal commits between an image's archiving and its commit."""
    import sitewatch.ingest.entry as ingest
    from sitewatch.errors import SiteError

    commit = ingest.commit_archived

    def removed_first(*args, **kw):  # type: ignore[no-untyped-def]
        with ws.store() as other:  # another command's connection
            other.delete_site(SITE.id, observations=True)
        return commit(*args, **kw)

    monkeypatch.setattr(ingest, "commit_archived", removed_first)
    res = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(_sar(tmp_path / "a_20241017.tif")), "-w", str(ws.root)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert f"site {SITE.id!r} was removed (`sitewatch sites remove`) while this image was being ingested" in res.output
    with ws.store() as store:
        assert store.execute("SELECT count(*) FROM observations")[0][0] == 0
    assert [p.name for p in (ws.archive / SITE.id).iterdir()] == []  # (its partial COG removed too)
    with ws.store() as store, pytest.raises(SiteError):  # the library's call says the same
        ingest_paths(ws, store, SITE, [_sar(tmp_path / "b_20241018.tif", "2024-10-18T09:30:00Z")])


def test_an_archive_folder_removed_while_a_cog_is_written_is_said(ws, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`sites remove --with-observations` removes the site's archive folder after its rows: an ingest writing a COG
    there meanwhile ended in "cannot write it into the archive (No such file or directory: ….partial)", naming a
    hidden file and not why it went (or, in a GDAL worker, in a traceback: SystemError "Unknown GDAL Error")."""
    import shutil

    import sitewatch.ingest.archive as archive

    digest = archive.sha256_file

    def folder_removed_first(path: Path) -> str:
        shutil.rmtree(path.parent)  # the removal's rmtree, between the COG's writing and its reading back
        return digest(path)

    monkeypatch.setattr(archive, "sha256_file", folder_removed_first)
    res = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(_sar(tmp_path / "a_20241017.tif")), "-w", str(ws.root)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert f"was the site removed (`sitewatch sites remove {SITE.id} --with-observations`) while this ran?" in res.output


def test_ctrl_c_in_a_parallel_ingest_leaves_no_partial_file(ws, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Workers had written COGs not yet committed when Ctrl-C came: they stayed in the archive
    (hidden ``.partial`` files) until the next ingest of the site."""
    import time

    import sitewatch.ingest.entry as ingest

    folder = tmp_path / "in"
    folder.mkdir()
    for day in range(10, 16):
        _sar(folder / f"s_202410{day}.tif", seed=day)

    def interrupted(*args, **kw):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 60
        while len(list((ws.archive / SITE.id).glob(".*.partial"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)  # until a worker has written another COG
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest, "commit_archived", interrupted)
    monkeypatch.setenv("SITEWATCH_WORKERS", "2")
    res = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(folder), "-w", str(ws.root)])
    assert res.exit_code == 130, res.output
    assert sorted(p.name for p in (ws.archive / SITE.id).iterdir()) == []


def test_gdal_temporary_files_of_a_killed_ingest_are_removed(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A worker killed while GDAL built a COG's overviews left ``….partial.ovr.tmp`` beside the
    partial COG; the next ingest removed the partial but kept that file for ever."""
    folder = ws.archive / SITE.id
    folder.mkdir(parents=True)
    dead = 99_999_999  # above any process id Linux gives (pid_max is at most 2**22)
    left = [folder / f".a.tif.{dead}.partial", folder / f".a.tif.{dead}.partial.ovr.tmp"]
    for p in left:
        p.write_bytes(b"half")
    with ws.store() as store:
        ingest_paths(ws, store, SITE, [_sar(tmp_path / "b_20241017.tif")])
    assert sorted(p.name for p in folder.iterdir()) == ["b_20241017.tif"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_named_and_leaves_nothing(ws, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A full disk (or read-only archive) ended ingest in GDAL's raw 'CPLE_AppDefinedError:
    TIFFWriteDirectoryTagData:IO error writing tag data', naming no file."""
    import sitewatch.ingest.archive as ingest

    src = _sar(tmp_path / "a_20241017.tif")
    full = tmp_path / "full.tif"
    full.symlink_to("/dev/full")  # every write fails with "No space left on device"
    monkeypatch.setattr(ingest, "partial_path", lambda final, owner=None: full)
    res = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(src), "-w", str(ws.root)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.exception
    assert f"{ws.archive / SITE.id / 'a_20241017.tif'}: cannot write it into the archive" in res.output
    assert not full.is_symlink() and list((ws.archive / SITE.id).iterdir()) == []
    with ws.store() as store:
        assert store.counts()["observations"] == 0


def test_partial_files_of_a_writer_that_ended_during_the_run_are_removed(ws, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Run again at once after a kill, ingest found the killed run's workers still finishing a file
    (they end within a second of their parent) and kept their partial files, for good."""
    import sitewatch.ingest.archive as ingest

    folder = ws.archive / SITE.id
    folder.mkdir(parents=True)
    left = folder / ".a.tif.4242.partial"
    left.write_bytes(b"half")
    checked: list[Path] = []

    def ends_after_the_start(p: Path) -> bool:  # the writer runs when the ingest starts, then ends
        checked.append(p)
        return len(checked) == 1

    monkeypatch.setattr(ingest, "_writer_running", ends_after_the_start)
    with ws.store() as store:
        ingest_paths(ws, store, SITE, [_sar(tmp_path / "b_20241017.tif")])
    assert sorted(p.name for p in folder.iterdir()) == ["b_20241017.tif"]


def test_acquisition_time_sources_each_give_the_utc_time(tmp_path: Path) -> None:
    import json

    from sitewatch.ingest import _acquired_from, acquired_from_xml

    tif = tmp_path / "scene.tif"
    when = datetime(2024, 10, 15, 1, 23, 45, tzinfo=UTC)
    assert _acquired_from({"ACQUISITION_DATETIME": "2024-10-15T01:23:45Z"}, tif) == (when, "tag ACQUISITION_DATETIME")
    (tmp_path / "scene.json").write_text(json.dumps({"acquisition_time": "2024-10-15T01:23:45Z"}), encoding="utf-8")
    assert _acquired_from({}, tif) == (when, "sidecar scene.json")
    xml = tmp_path / "x.xml"
    xml.write_text("<m><acquisitionDateTime>2024-10-15T10:23:45+09:00</acquisitionDateTime></m>", encoding="utf-8")
    assert acquired_from_xml(xml) == when  # the offset written is honoured, not taken for UTC
    xml.write_text("<m><DATETIME>2024-10-16T00:00:00Z</DATETIME><FIRSTLINETIME>2024-10-15T01:23:45Z</FIRSTLINETIME></m>", encoding="utf-8")
    assert acquired_from_xml(xml) == when  # the first line's time before a generic DATETIME


def _with_infinities(path: Path, names: list[str], *, inf: bool = True) -> Path:
    """A float image over the site, half a pixel off its grid (so optical bands are resampled
    bilinearly), with blocks of +inf (every band), -inf (the first) and NaN; NaN in place of each
    infinity when not ``inf``."""
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(0).uniform(0.02, 0.05, (len(names), 260, 220)).astype("float32")
    data[:, 50:60, 40:50] = np.inf
    data[0, 120:125, 100:105] = -np.inf
    data[:, 200:205, 150:155] = np.nan
    if not inf:
        data[np.isinf(data)] = np.nan
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tiff(
        path, data, crs=crs, transform=Affine(10, 0, x0 + 5, 0, -10, y0), descriptions=names,
        tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"},
    )  # fmt: skip


@pytest.mark.parametrize("names", [["blue", "green", "red", "nir"], ["VV"]], ids=["optical", "sar"])
def test_infinite_values_are_archived_as_no_data_as_nan_is(ws, tmp_path: Path, names: list[str]) -> None:  # type: ignore[no-untyped-def]
    # ±inf went into the COG as it was; resampled bilinearly (optical), each one also took the
    # pixels around it (inf, or NaN where +inf met -inf), out of the valid fraction.
    other = init_workspace(tmp_path / "ws-nan")
    with other.store() as store:
        store.put_site(SITE)
    archived = []
    for w, inf in ((ws, True), (other, False)):
        with w.store() as store:
            obs = ingest_file(ws if inf else other, store, SITE, _with_infinities(tmp_path / str(inf) / "scene.tif", names, inf=inf))
        assert obs is not None
        with rasterio.open(w.root / obs.path) as cog:
            archived.append((obs.valid_fraction, cog.read()))
    (valid, values), (valid_nan, values_nan) = archived
    assert not np.isinf(values).any()
    assert np.array_equal(values, values_nan, equal_nan=True) and valid == valid_nan
    assert 0.99 < valid < 1.0  # the infinities and the NaN of 35,000 pixels


_WORKER_KILLED_INGEST = """
import sys

import sitewatch.ingest.jobs as ingest
from sitewatch.cli import main
from sitewatch.testing.processes import die_while_sending

archive = ingest.archive_job

def killed_while_returning(job):
    result = archive(job)
    if job.path.name.startswith("c_") and sys.argv[1] == "kill":
        die_while_sending()  # killed outright (the out-of-memory killer) half-way through sending its result
    return result

ingest.archive_job = killed_while_returning
if __name__ == "__main__":  # workers started by spawn or forkserver import this script too
    main(sys.argv[2:])
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL, and the fork start method")
def test_a_worker_killed_while_returning_its_file_ends_ingest_cleanly(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A worker killed outright while it sent back its file's record hung ingest (two workers) for ever.
    It now ends naming the file, leaves no half-written file in the archive, and a rerun completes
    each file once."""
    import os
    import subprocess

    import sitewatch

    srcs = [_sar(tmp_path / f"{c}_2024101{i}.tif", when=f"2024-10-1{i}T09:30:00Z", seed=i) for i, c in enumerate("abcd")]
    script = tmp_path / "killed_ingest.py"
    script.write_text(_WORKER_KILLED_INGEST, encoding="utf-8")
    lib = str(Path(sitewatch.__file__).parents[1])
    env = os.environ | {"PYTHONPATH": os.pathsep.join([lib, os.environ.get("PYTHONPATH", "")]), "SITEWATCH_WORKERS": "2"}

    def ingest(case: str) -> subprocess.CompletedProcess[str]:
        args = ["-q", "ingest", SITE.id, *map(str, srcs), "-w", str(ws.root)]
        return subprocess.run(
            [sys.executable, str(script), case, *args], env=env, capture_output=True, encoding="locale", timeout=120
        )  # a hang fails the test rather than the test run

    first = ingest("kill")
    assert first.returncode == 1, first.stderr
    assert first.stderr.startswith(
        f"Error: a worker process was killed by SIGKILL (out of memory?) before it finished its job ({srcs[2]})"
    ), first.stderr
    folder = ws.archive / SITE.id
    assert not list(folder.glob(".*partial*"))
    with ws.store() as store:
        kept = sorted(Path(r[0]).name for r in store.execute("SELECT path FROM observations"))
    assert kept == [s.name for s in srcs[: len(kept)]] and len(kept) <= 2  # those before c (if done by then)
    again = ingest("none")
    assert again.returncode == 0, again.stderr
    with ws.store() as store:
        assert store.counts()["observations"] == 4
        rows = store.execute("SELECT path FROM observations ORDER BY path")
    assert sorted(p.name for p in folder.glob("*.tif")) == sorted(Path(r[0]).name for r in rows)
    assert not list(folder.glob(".*partial*"))


_WORKER_KILLED_DETECT = """
import sys

import sitewatch.detection as detection
from sitewatch.cli import main
from sitewatch.testing.processes import die_while_sending

detect = detection.detect_observation

def killed_while_returning(job):
    result = detect(job)
    if "/c_" in job.observation.id and sys.argv[1] == "kill":
        die_while_sending()  # killed outright half-way through sending its result
    return result

detection.detect_observation = killed_while_returning
if __name__ == "__main__":  # workers started by spawn or forkserver import this script too
    main(sys.argv[2:])
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL, and the fork start method")
def test_a_worker_killed_while_returning_its_detections_ends_detect_and_a_rerun_stores_each_once(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`detect --workers 2` hung for ever when a worker was killed outright while it sent back an
    observation's detections; it now ends naming the observation, and a rerun stores each observation's once."""
    import os
    import subprocess

    import sitewatch

    srcs = [_ship_sar(tmp_path / f"{c}_2024101{i}.tif", f"2024-10-1{i}T09:30:00Z") for i, c in enumerate("abcd")]
    with ws.store() as store:
        ids = [o.id for o in ingest_paths(ws, store, SITE, srcs, workers=1).observations]
    script = tmp_path / "killed_detect.py"
    script.write_text(_WORKER_KILLED_DETECT, encoding="utf-8")
    lib = str(Path(sitewatch.__file__).parents[1])
    env = os.environ | {"PYTHONPATH": os.pathsep.join([lib, os.environ.get("PYTHONPATH", "")])}

    def detect(case: str) -> subprocess.CompletedProcess[str]:
        args = ["-q", "detect", SITE.id, "-w", str(ws.root), "--workers", "2"]
        return subprocess.run(
            [sys.executable, str(script), case, *args], env=env, capture_output=True, encoding="locale", timeout=120
        )  # a hang fails the test rather than the test run

    def per_observation() -> dict[str, int]:
        with ws.store() as store:
            return dict(store.execute("SELECT observation_id, COUNT(*) FROM detections GROUP BY observation_id"))

    first = detect("kill")
    assert first.returncode == 1, first.stderr
    assert first.stderr.startswith(
        f"Error: a worker process was killed by SIGKILL (out of memory?) before it finished its job (observation {ids[2]})"
    ), first.stderr
    stored = per_observation()  # one ship each, of those before c (if done by then)
    assert stored == dict.fromkeys(ids[: len(stored)], 1) and len(stored) <= 2
    again = detect("none")
    assert again.returncode == 0, again.stderr
    assert per_observation() == dict.fromkeys(ids, 1)


def test_each_input_file_is_hashed_once_a_run(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # sha256 reads the whole file (0.8 s a GB): once to choose the id when a stored source could be
    # its copy, and the worker records that digest rather than reading the file again.
    import sitewatch.ingest as ingest_module

    near = tiny_site("near", lon=132.339, lat=42.879, half_deg=0.003)  # inside SITE: one image covers both
    ws = workspace_with_sites(tmp_path / "ws", SITE, near)
    first = _sar(tmp_path / "pier.tif", "2023-08-21T10:00:00Z")
    crs, x0, y0 = site_utm_origin(SITE)
    bigger = write_tiff(
        tmp_path / "bigger.tif", np.random.default_rng(2).gamma(4.5, 0.002, (280, 240)).astype("float32"),
        crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"],
        tags={"SITEWATCH_ACQUIRED": "2023-09-05T10:00:00Z"},
    )  # fmt: skip
    copy = tmp_path / "delivery_copy.tif"
    copy.write_bytes(first.read_bytes())
    calls: list[str] = []
    hash_file = ingest_module.sha256_file

    def counted(path: Path) -> str:
        calls.append(Path(path).name)
        return hash_file(path)

    monkeypatch.setattr("sitewatch.ingest.identity.sha256_file", counted)  # the parent's hashing
    monkeypatch.setattr("sitewatch.ingest.jobs.sha256_file", counted)  # the worker's

    def hashes_of(command: list[str], name: str) -> int:
        calls.clear()
        r = CliRunner().invoke(main, ["-q", *command, "--workers", "1", "-w", str(ws.root)])
        assert r.exit_code == 0, r.output
        return calls.count(name)

    assert hashes_of(["ingest", SITE.id, str(first)], "pier.tif") == 1  # nothing stored it could be a copy of
    assert hashes_of(["ingest", SITE.id, str(bigger)], "bigger.tif") == 1  # no stored source of its size
    assert hashes_of(["ingest", SITE.id, str(copy)], "delivery_copy.tif") == 1  # pier.tif's size: hashed, matched
    assert hashes_of(["import", str(copy)], "delivery_copy.tif") == 1  # into two sites
    with ws.store() as store:
        prov = {o.id: o.provenance for o in store.observations()}
    assert sorted(prov) == [f"{near.id}/delivery_copy", f"{SITE.id}/bigger", f"{SITE.id}/pier"]
    assert {p["source_sha256"] for p in prov.values()} == {hash_file(first), hash_file(bigger)}
    assert prov[f"{SITE.id}/pier"]["source_size"] == first.stat().st_size


def test_a_file_placed_by_ground_control_points_is_named_as_such_with_the_command_to_warp_it(tmp_path: Path) -> None:
    """A GeoTIFF georeferenced by GCPs (a raw delivery, QGIS's Georeferencer without warping) was called a
    file with no CRS and pointed to gdal_translate -a_srs / -a_ullr, which would throw its GCPs away."""
    from rasterio.control import GroundControlPoint

    path = tmp_path / "gcp_20241017T093000.tif"
    gcps = [GroundControlPoint(r, c, 132.3 + c * 1e-4, 42.9 - r * 1e-4) for r, c in ((0, 0), (0, 20), (20, 0), (20, 20))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: no geotransform
        with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=1, dtype="float32",
                           gcps=gcps, crs="EPSG:4326") as dst:  # fmt: skip
            dst.write(np.ones((1, 20, 20), "float32"))
    with pytest.raises(ImageReadError, match=r"ground control points.*gdalwarp") as caught:
        read_scene_ref(path)
    assert "-a_ullr" not in str(caught.value)


def test_a_basic_product_placed_by_rpcs_is_named_as_not_orthorectified(tmp_path: Path) -> None:
    """A Maxar Basic (L1B) or Planet basic file carries RPCs, no map grid: it was called a file with no CRS and
    pointed to gdal_translate -a_ullr, which would place an unorthorectified image by a box, far off."""
    from rasterio.rpc import RPC

    path = tmp_path / "24OCT17093005-M1BS-012345678010_01_P001.TIF"
    rpc = RPC(height_off=100, height_scale=500, lat_off=42.88, lat_scale=0.05, line_den_coeff=[1] + [0] * 19,
              line_num_coeff=[0, 0, -1] + [0] * 17, line_off=10, line_scale=10, long_off=132.338, long_scale=0.07,
              samp_den_coeff=[1] + [0] * 19, samp_num_coeff=[0, 1] + [0] * 18, samp_off=10, samp_scale=10)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: no geotransform
        with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=4, dtype="uint16", rpcs=rpc) as dst:
            dst.write(np.full((4, 20, 20), 400, "uint16"))
    with pytest.raises(ImageReadError, match=r"not orthorectified.*RPCs.*gdalwarp -rpc") as caught:
        read_scene_ref(path)
    assert "-a_ullr" not in str(caught.value)


def _s2_band_files(folder: Path, offset: int) -> list[Path]:
    """Four Sentinel-2-like band files, reflectance 0.09 to 0.06 as DN x 10,000 plus ``offset``."""
    crs, x0, y0 = site_utm_origin(SITE)
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_tiff(
            folder / f"T53TMN_20241017T015651_{name}_10m.tif", np.full((60, 60), value + offset, np.uint16), crs=crs,
            transform=Affine(10, 0, x0, 0, -10, y0),
        )
        for name, value in (("B02", 900), ("B03", 800), ("B04", 700), ("B08", 600))
    ]  # fmt: skip


def _ingested_bands(ws: Workspace, files: list[Path], *options: str) -> tuple[Any, list[float]]:
    """``files`` ingested as blue, green, red and NIR with ``options``: the observation and its four values at (30, 30)."""
    args = [f"--band={b}={f}" for b, f in zip(("blue", "green", "red", "nir"), files, strict=True)]
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *args, *options, "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    with rasterio.open(ws.root / obs.path) as cog:
        return obs, [float(cog.read(k)[30, 30]) for k in (1, 2, 3, 4)]


def test_band_files_with_the_baseline_04_offset_read_as_reflectance_with_dn_offset(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Band files of a baseline-04.00 L2A product moved out of it (IMG_DATA files copied elsewhere):
    # DN = reflectance x 10,000 + 1,000. Read by their range alone they are 0.1 too bright.
    obs, values = _ingested_bands(ws, _s2_band_files(tmp_path / "bands", 1000), "--dn-offset", "1000")
    assert values == pytest.approx([0.09, 0.08, 0.07, 0.06])
    assert obs.provenance["offset_applied"] == -1000 and obs.provenance["scaling_from"] == "--dn-offset"
    assert obs.provenance["scale_applied"] == pytest.approx(1 / 10_000)  # the divisor still read from the range


def test_a_sar_file_declaring_its_band_scale_is_read_by_it(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """sigma0 dB x 100 stored as int16 with scale 0.01 declared went in as -1500: archived as its values, in dB,
    which the SAR detector reads as such; the provenance says where the scale came from."""
    crs, x0, y0 = site_utm_origin(SITE)
    path = write_tiff(
        tmp_path / "pier_20241017.tif", np.full((60, 60), -1500, np.int16), crs=crs,
        transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"], nodata=-32768,
    )  # fmt: skip
    with rasterio.open(path, "r+") as dst:
        dst.scales, dst.offsets = (0.01,), (0.0,)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(path), "--sensor", "sar", "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    with rasterio.open(ws.root / obs.path) as cog:
        assert float(cog.read(1)[30, 30]) == pytest.approx(-15.0)
    assert "scale and offset" in obs.provenance["scaling_from"] and obs.provenance["scale_applied"] == pytest.approx(0.01)


def test_dn_scale_replaces_the_divisor_read_from_the_range(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    obs, values = _ingested_bands(ws, _s2_band_files(tmp_path / "bands", 0), "--dn-scale", "4000")
    assert values[0] == pytest.approx(900 / 4000)
    assert obs.provenance["scaling_from"] == "--dn-scale" and "offset_applied" in obs.provenance


def test_dn_scaling_is_refused_for_sar_by_name(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sar = _sar(tmp_path / "pier_20241017.tif")
    given = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(sar), "--sensor", "sar", "--dn-offset", "1000", "-w", str(ws.root)])
    assert given.exit_code == 1 and "--dn-offset: for optical images" in given.output
    # Told by the file itself (its VV band) it is SAR: skipped and named; an optical file of the same run goes in.
    optical = write_tiff(
        tmp_path / "rgb_20241018.tif", np.full((3, 60, 60), 1100, np.uint16), crs=site_utm_origin(SITE)[0],
        transform=Affine(10, 0, site_utm_origin(SITE)[1], 0, -10, site_utm_origin(SITE)[2]), descriptions=["red", "green", "blue"],
    )  # fmt: skip
    told = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(sar), str(optical), "--dn-offset", "1000", "-w", str(ws.root)])
    assert told.exit_code == 3, told.output
    assert f"{sar}: --dn-scale and --dn-offset are for optical images" in told.output.replace("\n", "")
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    with rasterio.open(ws.root / obs.path) as cog:
        assert cog.read(1)[30, 30] == pytest.approx(0.01)


def _colleague_ingests_first(monkeypatch: pytest.MonkeyPatch, ws: Workspace, site: Any, theirs: Path) -> None:
    """Another command (a team member's, on its own connection) records ``theirs`` into ``site`` after this
    command has chosen its ids and before it records its own: between the naming and the jobs' results."""
    from sitewatch.ingest import entry

    real = entry.map_file_jobs
    done: list[bool] = []

    def jobs_after_the_colleague(*args: Any, **kwargs: Any) -> Any:
        if not done:
            done.append(True)
            with ws.store() as theirs_store:
                ingest_paths(ws, theirs_store, site, [theirs], workers=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(entry, "map_file_jobs", jobs_after_the_colleague)


def test_an_image_of_that_name_recorded_by_another_command_meanwhile_is_not_overwritten(
    ws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # Two members ingesting a response.tif each at once: both chose `response` before either had recorded
    # it, and the second took the first's observation over (its COG, time and source), the first image lost.
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    mine = _sar(tmp_path / "a" / "response.tif", "2023-08-21T10:00:00Z")
    theirs = _sar(tmp_path / "b" / "response.tif", "2023-09-05T10:00:00Z", seed=1)
    _colleague_ingests_first(monkeypatch, ws, SITE, theirs)
    with ws.store() as store:
        report = ingest_paths(ws, store, SITE, [mine], workers=1)
        assert report.observations == ()
        [(name, why)] = report.skipped
        assert name == str(mine) and f"{SITE.id}/response" in why and "run the ingest (or import) again" in why
        kept = store.get_observation(f"{SITE.id}/response")
        assert kept.provenance["source_path"] == str(theirs.resolve()) and kept.scene.acquired.day == 5
        assert sha256_file(ws.root / kept.path) == kept.sha256  # its COG is its own, not mine written over it
        assert not list((ws.archive / SITE.id).glob(".*partial*"))
        report = ingest_paths(ws, store, SITE, [mine], workers=1)  # run again: named apart
        assert [o.id for o in report.observations] == [f"{SITE.id}/response_20230821T100000"]
        assert len(store.observations(SITE.id)) == 2


def test_a_file_declaring_its_band_scale_and_offset_is_read_by_them(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A 4-band uint16 file whose bands declare scale 0.0001 and offset -0.1 (GDAL metadata, as `gdal_translate
    -a_scale -a_offset` or rioxarray write it) went in by its range alone: DN / 10,000, 0.1 too bright."""
    crs, x0, y0 = site_utm_origin(SITE)
    reflectance = np.array([0.09, 0.08, 0.07, 0.06])
    path = write_tiff(
        tmp_path / "scaled_20241017.tif", np.broadcast_to(np.round((reflectance + 0.1) / 0.0001)[:, None, None], (4, 60, 60)).astype(np.uint16),
        crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["blue", "green", "red", "nir"],
    )  # fmt: skip
    with rasterio.open(path, "r+") as dst:
        dst.scales, dst.offsets = (0.0001,) * 4, (-0.1,) * 4
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(path), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    with rasterio.open(ws.root / obs.path) as cog:
        assert [float(cog.read(k)[30, 30]) for k in (1, 2, 3, 4)] == pytest.approx(reflectance.tolist(), abs=1e-4)
    assert obs.provenance["scale_applied"] == pytest.approx(0.0001)
    assert obs.provenance["offset_applied"] == pytest.approx(-1000)
    assert "scale and offset" in obs.provenance["scaling_from"]
    # --dn-scale / --dn-offset still say it when given
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(path), "--dn-offset", "1000", "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    with rasterio.open(ws.root / obs.path) as cog:
        assert float(cog.read(1)[30, 30]) == pytest.approx(0.09, abs=1e-4)
    assert obs.provenance["scaling_from"] == "--dn-offset"


def test_new_only_leaves_out_the_files_ingested_before_and_unchanged(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A folder that keeps every download, ingested each day: each file was cut and written again every day.
    import json
    import os

    folder = tmp_path / "in"
    folder.mkdir()
    a = _sar(folder / "a.tif", "2024-10-17T09:30:00Z", 1)
    args = ["ingest", SITE.id, str(folder), "--new-only", "--workers", "1", "-w", str(ws.root), "--json"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    b = _sar(folder / "b.tif", "2024-10-18T09:30:00Z", 2)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [r["file"] for r in out["ingested"]] == [str(b)] and out["unchanged"] == [str(a)]
    res = CliRunner().invoke(main, args[:-1])  # nothing new: exit 0, said
    assert res.exit_code == 0 and "2 file(s) ingested before and unchanged, skipped" in res.stdout, res.output
    st = os.stat(a)
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # written again (another time): read again
    res = CliRunner().invoke(main, args)
    assert [r["file"] for r in json.loads(res.stdout)["ingested"]] == [str(a)]
    with ws.store() as store:
        assert len(store.observations(SITE.id)) == 2
        prov = store.get_observation(f"{SITE.id}/a").provenance
    assert prov["source_mtime_ns"] == os.stat(a).st_mtime_ns
    res = CliRunner().invoke(main, ["ingest", SITE.id, "--band", f"vv={a}", "--new-only", "-w", str(ws.root)])
    assert res.exit_code == 1 and "--new-only" in res.output


def test_detect_goes_on_past_an_observation_another_command_removed_as_it_read_them(  # type: ignore[no-untyped-def]
    ws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """detect reads a site's rows, then the whole rows of those it detects in, by a second statement: an observation
    another process removed in between (a member's `sites remove` on a team store) stopped it with a KeyError."""
    from sitewatch.detection import detect_site
    from sitewatch.store.sqlite import Store

    for sub, when in (("a", "2023-08-21T10:00:00Z"), ("b", "2023-09-05T10:00:00Z")):
        (tmp_path / sub).mkdir()
        _ship_sar(tmp_path / sub / "x.tif", when)
    with ws.store() as store:
        ingest_paths(ws, store, SITE, [tmp_path / "a", tmp_path / "b"])
        first = sorted(o.id for o in store.observations(SITE.id))[0]
    real = Store._observations_where

    def meanwhile(self: Store, *args: Any, **kwargs: Any) -> list[Any]:
        if kwargs.get("ids") is not None and first in kwargs["ids"]:
            with self.transaction() as db:  # another command removes it between the two reads
                db.execute("DELETE FROM observations WHERE observation_id = ?", (first,))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "_observations_where", meanwhile)
    summary = detect_site(ws, SITE.id, workers=1)
    assert summary["observations"] == 1 and not summary["errors"], summary
    with ws.store() as store:
        assert [o.id for o in store.observations(SITE.id)] != [] and store.undetected(SITE.id) == set()


def test_an_archived_cog_no_row_names_goes_with_the_next_ingest(ws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """An ingest killed between moving a COG into the archive and committing its row left a COG no row names; the
    next ingest of the site removes it once it has been left alone (UNRECORDED_MIN_AGE_S), says so, and leaves the
    COGs rows name, younger files and hidden partial files alone."""
    from sitewatch.ingest import removal
    from sitewatch.ingest.removal import unrecorded_marker

    first = _sar(tmp_path / "a_20241017.tif")
    res = CliRunner().invoke(main, ["ingest", SITE.id, str(first), "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    folder = ws.root / "archive" / SITE.id
    (archived,) = folder.glob("*.tif")
    left = folder / "killed_20241016.tif"  # as the kill leaves it: whole, at its final name, marked
    unrecorded_marker(left).touch()
    left.write_bytes(archived.read_bytes())
    partial = folder / ".other.tif.1-host-r.partial"
    partial.write_bytes(b"")
    second = _sar(tmp_path / "b_20241018.tif", "2024-10-18T09:30:00Z", seed=1)
    res = CliRunner().invoke(main, ["ingest", SITE.id, str(second), "-w", str(ws.root)])
    assert res.exit_code == 0 and left.exists() and "no observation named" not in res.output, res.output  # too young
    monkeypatch.setattr(removal, "UNRECORDED_MIN_AGE_S", 0.0)
    res = CliRunner().invoke(main, ["ingest", SITE.id, str(second), "-w", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    import json

    assert json.loads(res.stdout)["unrecorded_removed"] == [left.relative_to(ws.root).as_posix()]
    assert "removed 1 file(s) from" in res.stderr and not left.exists()
    assert archived.exists() and partial.exists() and len(list(folder.glob("*.tif"))) == 2


def test_a_cog_another_database_names_stays_when_no_killed_run_marked_it(ws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """`init --store URL --replace` switches a workspace to another database, "nothing copied or deleted", and the
    old one's COGs stay in the archive folder beside the new one's (so does `SITEWATCH_STORE`): the next ingest
    deleted every one of them older than ten minutes, as no row of the new database named it. Only a file a killed
    command marked (:func:`unrecorded_marker`) is taken for one it left; this one, no row's and unmarked, stays."""
    from sitewatch.ingest import removal

    monkeypatch.setattr(removal, "UNRECORDED_MIN_AGE_S", 0.0)  # ten minutes later
    folder = ws.root / "archive" / SITE.id
    folder.mkdir(parents=True, exist_ok=True)
    other = folder / "other_database_20241010.tif"
    other.write_bytes(b"II*\x00 the COG of an observation the other database records")
    res = CliRunner().invoke(main, ["ingest", SITE.id, str(_sar(tmp_path / "a_20241017.tif")), "-w", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    import json

    assert json.loads(res.stdout)["unrecorded_removed"] == [] and "no observation named" not in res.stderr
    assert other.exists()


def test_an_ingest_killed_between_the_rename_and_the_commit_leaves_a_marker_the_next_one_follows(ws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """A kill just after the COG's rename into place, before its row's commit (a KeyboardInterrupt there): the COG
    stays, unnamed, with its marker; the next ingest of the site removes both once left alone."""
    import os

    from sitewatch.ingest import archive, removal

    real_replace = os.replace

    def killed_after(src: Any, dst: Any) -> None:
        real_replace(src, dst)
        raise KeyboardInterrupt

    monkeypatch.setattr(archive.os, "replace", killed_after)
    with ws.store() as store, pytest.raises(KeyboardInterrupt):
        ingest_paths(ws, store, SITE, [_sar(tmp_path / "killed_20241016.tif")], workers=0)
    monkeypatch.setattr(archive.os, "replace", real_replace)
    folder = ws.root / "archive" / SITE.id
    (left,) = folder.glob("*.tif")
    assert removal.unrecorded_marker(left).exists()
    with ws.store() as store:
        assert list(store.observations(SITE.id)) == []
    monkeypatch.setattr(removal, "UNRECORDED_MIN_AGE_S", 0.0)
    res = CliRunner().invoke(main, ["ingest", SITE.id, str(_sar(tmp_path / "b_20241018.tif", "2024-10-18T09:30:00Z", seed=1)), "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    assert f"removed 1 file(s) from {SITE.id}'s archive" in res.stderr and not left.exists()
    assert [p.name for p in folder.iterdir()] == ["b_20241018.tif"]  # the marker went, the new COG's too
