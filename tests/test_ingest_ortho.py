"""``ingest``/``import`` ``--orthorectify``: images placed by RPCs or GCPs, not a map grid, warped onto a site's
grid, checked against the mapping the test wrote into them."""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from pyproj import Transformer
from rasterio.control import GroundControlPoint
from rasterio.rpc import RPC

from sitewatch.cli import main
from sitewatch.errors import ImageReadError, InputError
from sitewatch.ingest import read_scene_ref, site_grid
from sitewatch.ingest.ortho import Orthorectify, placement_of
from sitewatch.testing import tiny_site, workspace_with_sites, write_tiff
from sitewatch.workspace import Workspace

SITE = tiny_site()
LON, LAT = 132.338, 42.880  # the site's centre, and the scene's
DLON, DLAT = 1.2e-4, 9e-5  # about 10 m a pixel
SIZE = 400
BRIGHT = (slice(200, 206), slice(180, 186))  # rows, cols of a bright square; its centre: sample 182.5, line 202.5
HX, HY = 0.02, 0.03  # how far the sensor sees a point 500 m up shifted (in the RPCs' normalised units): off nadir
HEIGHT_SCALE = 500.0


def _coeffs(**terms: float) -> list[float]:
    out = [0.0] * 20
    for name, value in terms.items():
        out[int(name[1:])] = value
    return out


RPCS = RPC(
    height_off=0.0, height_scale=HEIGHT_SCALE, lat_off=LAT, lat_scale=0.05, long_off=LON, long_scale=0.05,
    line_off=SIZE / 2, line_scale=0.05 / DLAT, samp_off=SIZE / 2, samp_scale=0.05 / DLON,
    samp_num_coeff=_coeffs(c1=1.0, c3=HX), samp_den_coeff=_coeffs(c0=1.0),
    line_num_coeff=_coeffs(c2=-1.0, c3=HY), line_den_coeff=_coeffs(c0=1.0),
)  # fmt: skip
"""A known mapping: sample = samp_off + samp_scale (L + HX H), line = line_off + line_scale (-P + HY H), with L, P
and H the normalised longitude, latitude and height (RPC00B's terms 1, 2 and 3)."""


def _ground_of(sample: float, line: float, height: float) -> tuple[float, float]:
    """The longitude and latitude ``RPCS`` put pixel centre (``sample``, ``line``) at, at ``height``."""
    h = (height - RPCS.height_off) / HEIGHT_SCALE
    lon = LON + RPCS.long_scale * ((sample - RPCS.samp_off) / RPCS.samp_scale - HX * h)
    lat = LAT + RPCS.lat_scale * (HY * h - (line - RPCS.line_off) / RPCS.line_scale)
    return lon, lat


def _scene() -> np.ndarray:
    data = np.full((SIZE, SIZE), 0.01, np.float32)
    data[BRIGHT] = 1.0
    return data


def _rpc_tiff(path: Path, rpcs: RPC = RPCS, **creation: str) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio: no geotransform
        with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=1, dtype="float32", rpcs=rpcs,
                           **creation) as dst:  # fmt: skip
            dst.write(_scene()[None])
            dst.set_band_description(1, "VV")
            dst.update_tags(SITEWATCH_ACQUIRED="2024-10-17T09:30:00Z")
    return path


def _gcp_tiff(path: Path, step: int) -> Path:
    """GCPs every ``step`` pixels from the same mapping at height 0 (a georeferencer's points, or a GRD's grid)."""
    gcps = []
    for r in range(0, SIZE + 1, step):
        for c in range(0, SIZE + 1, step):
            lon, lat = _ground_of(c - 0.5, r - 0.5, 0.0)  # GDAL's pixel corner (c, r) is RPC sample c - 0.5
            gcps.append(GroundControlPoint(row=r, col=c, x=lon, y=lat))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=1, dtype="float32",
                           gcps=gcps, crs="EPSG:4326") as dst:  # fmt: skip
            dst.write(_scene()[None])
            dst.set_band_description(1, "VV")
            dst.update_tags(SITEWATCH_ACQUIRED="2024-10-17T09:30:00Z")
    return path


def _dem(path: Path, height: float, *, crs: str | None = "EPSG:4326", west: float = LON - 0.05) -> Path:
    return write_tiff(
        path, np.full((100, 100), height, np.float32), crs=crs, transform=Affine(0.001, 0, west, 0, -0.001, LAT + 0.05)
    )


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return workspace_with_sites(tmp_path / "ws", SITE)


def _bright_lonlat(ws: Workspace, obs_id: str) -> tuple[tuple[float, float], float]:
    """The bright square's centre in the archived COG, in longitude/latitude, and the COG's pixel size."""
    with ws.store() as store:
        obs = store.get_observation(obs_id)
    with rasterio.open(ws.root / obs.path) as cog:
        arr = cog.read(1)
        rows, cols = np.nonzero(arr > 0.5)
        x, y = cog.transform @ (cols.mean() + 0.5, rows.mean() + 0.5)
        crs, pixel = cog.crs, cog.transform.a
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    return (lon, lat), pixel


def _metres_apart(a: tuple[float, float], b: tuple[float, float]) -> float:
    from pyproj import Geod

    return float(Geod(ellps="WGS84").inv(a[0], a[1], b[0], b[1])[2])


def _ingest(ws: Workspace, *args: str) -> object:
    return CliRunner().invoke(main, ["ingest", SITE.id, *args, "-w", str(ws.root)])


def test_detect_image_and_change_image_refuse_an_rpc_image_naming_the_import_that_places_it(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Both said "the image has no georeference; pass --pixel-size METRES": its detections then in pixels, and two
    # dates' scenes, each placed by its own RPCs, compared pixel for pixel. The route the refusal names is taken.
    path = _rpc_tiff(tmp_path / "basic_20241017.tif")
    for args in (["detect-image", str(path)], ["change-image", str(path), str(path)]):
        res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "out.geojson")])
        assert res.exit_code == 1 and "has no map grid, only RPCs" in res.output, res.output
        assert f"`sitewatch import {path} --orthorectify --dem DEM.tif` (or --height METRES" in res.output, res.output
    res = CliRunner().invoke(main, ["import", str(path), "--orthorectify", "--height", "0", "-w", str(ws.root), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["imported"][0]["id"] == f"{SITE.id}/basic_20241017", res.output
    # --pixel-size still reads it in pixel coordinates, as an image without georeference.
    res = CliRunner().invoke(main, ["detect-image", str(path), "--pixel-size", "10", "--out", str(tmp_path / "px.geojson")])
    assert res.exit_code == 0, res.output


def test_an_rpc_image_naming_wgs84_beside_no_grid_is_refused_naming_the_import_too(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A GeoTIFF may name its RPCs' ground CRS (WGS84) with no transform: read as an identity transform in degrees,
    # detect-image and change-image said "cannot tell the ground pixel size; pass --pixel-size METRES".
    path = _rpc_tiff(tmp_path / "basic_20241017.tif", crs="EPSG:4326")
    for args in (["detect-image", str(path)], ["change-image", str(path), str(path)]):
        res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "out.geojson")])
        assert res.exit_code == 1 and "has no map grid, only RPCs" in res.output, res.output
        assert f"`sitewatch import {path} --orthorectify --dem DEM.tif`" in res.output, res.output
    res = CliRunner().invoke(main, ["import", str(path), "--orthorectify", "--height", "0", "-w", str(ws.root), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["imported"][0]["id"] == f"{SITE.id}/basic_20241017", res.output


@pytest.mark.parametrize("height", [0.0, 100.0])
def test_an_rpc_image_lands_within_a_pixel_of_where_its_rpcs_put_it_at_the_height_given(ws, tmp_path, height) -> None:  # type: ignore[no-untyped-def]
    path = _rpc_tiff(tmp_path / "basic_20241017.tif")
    res = _ingest(ws, str(path), "--orthorectify", "--height", f"{height:g}", "--json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["ingested"][0]
    assert f"{height:g} m above the WGS84 ellipsoid" in row["orthorectified"] and "relief" in row["orthorectified"]
    found, pixel = _bright_lonlat(ws, row["id"])
    expected = _ground_of(182.5, 202.5, height)
    assert _metres_apart(found, expected) < pixel
    # the height matters: at the other height the square is 40 m away, four pixels
    assert _metres_apart(found, _ground_of(182.5, 202.5, 100.0 - height)) > 3 * pixel
    with ws.store() as store:
        prov = store.get_observation(row["id"]).provenance
    assert prov["orthorectified"]["by"] == "sitewatch" and prov["orthorectified"]["method"] == "rpc"
    assert prov["orthorectified"]["height_m"] == height and "dem" not in prov["orthorectified"]


def test_an_rpc_image_with_a_dem_takes_the_dems_heights_and_says_so(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _rpc_tiff(tmp_path / "basic_20241017.tif")
    dem = _dem(tmp_path / "dem.tif", 100.0)
    res = _ingest(ws, str(path), "--orthorectify", "--dem", str(dem))
    assert res.exit_code == 0, res.output
    assert f"from its RPCs and the heights of the DEM {dem.resolve()}" in res.output
    with ws.store() as store:
        (obs,) = store.observations()
    found, pixel = _bright_lonlat(ws, obs.id)
    assert _metres_apart(found, _ground_of(182.5, 202.5, 100.0)) < pixel
    assert _metres_apart(found, _ground_of(182.5, 202.5, 0.0)) > 3 * pixel
    assert obs.provenance["orthorectified"]["dem"] == str(dem.resolve())
    assert obs.scene.resolution_m == pytest.approx(10.0, abs=0.3)  # read through the RPCs: 9.8 m x 10.0 m


def test_a_relative_dem_path_is_named_whole_in_the_note_as_in_the_provenance(ws, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The note said the DEM as typed (``dem.tif``) run here and its whole path on a Dask cluster, so the same import
    gave another provenance by where it ran; its ``dem`` is the whole path."""
    path = _rpc_tiff(tmp_path / "basic_20241017.tif")
    _dem(tmp_path / "dem.tif", 100.0)
    monkeypatch.chdir(tmp_path)
    res = _ingest(ws, str(path), "--orthorectify", "--dem", "dem.tif")
    assert res.exit_code == 0, res.output
    with ws.store() as store:
        (obs,) = store.observations()
    placed = obs.provenance["orthorectified"]
    assert placed["dem"] == str((tmp_path / "dem.tif").resolve())
    assert f"the heights of the DEM {placed['dem']} (" in placed["note"]


@pytest.mark.parametrize(("option", "sidecar"), [("RPB", ".RPB"), ("RPCTXT", "_RPC.TXT")])
def test_rpcs_in_a_sidecar_are_read_too(ws, tmp_path, option, sidecar) -> None:  # type: ignore[no-untyped-def]
    """A Maxar delivery keeps its RPCs in a .RPB file beside the image, others in an _RPC.TXT (GDAL reads both)."""
    path = _rpc_tiff(tmp_path / "basic_20241017.tif", **{option: "YES"})
    assert (tmp_path / f"basic_20241017{sidecar}").exists()
    with rasterio.open(path) as src:
        assert "RPC_HEIGHT_SCALE" not in src.tags()  # not in the TIFF: the sidecar only
    res = _ingest(ws, str(path), "--orthorectify", "--height", "0")
    assert res.exit_code == 0, res.output
    with ws.store() as store:
        (obs,) = store.observations()
    found, pixel = _bright_lonlat(ws, obs.id)
    assert _metres_apart(found, _ground_of(182.5, 202.5, 0.0)) < pixel


@pytest.mark.parametrize(("step", "method"), [(400, "gcp-polynomial-1"), (50, "gcp-tps")])
def test_a_gcp_image_lands_within_a_pixel_of_where_its_gcps_put_it(ws, tmp_path, step, method) -> None:  # type: ignore[no-untyped-def]
    path = _gcp_tiff(tmp_path / "gcps_20241017.tif", step)
    res = CliRunner().invoke(main, ["import", str(path), "--orthorectify", "-w", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["imported"][0]
    assert "GCPs" in row["orthorectified"]
    found, pixel = _bright_lonlat(ws, row["id"])
    assert _metres_apart(found, _ground_of(182.5, 202.5, 0.0)) < pixel
    with ws.store() as store:
        assert store.get_observation(row["id"]).provenance["orthorectified"]["method"] == method


def test_without_the_option_the_refusal_names_it(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rpc = _rpc_tiff(tmp_path / "basic_20241017.tif")
    gcp = _gcp_tiff(tmp_path / "gcps_20241017.tif", 400)
    with pytest.raises(ImageReadError, match=r"not orthorectified.*--orthorectify with --dem.*gdalwarp -rpc"):
        read_scene_ref(rpc)
    with pytest.raises(ImageReadError, match=r"ground control points.*--orthorectify.*gdalwarp"):
        read_scene_ref(gcp)
    res = _ingest(ws, str(rpc), str(gcp))
    assert res.exit_code == 1 and res.output.count("--orthorectify") == 2


def test_an_rpc_image_without_a_height_or_dem_is_refused_by_name(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _rpc_tiff(tmp_path / "basic_20241017.tif")
    with pytest.raises(InputError, match=r"basic_20241017.tif: is placed by RPCs.*--dem PATH.*--height METRES"):
        read_scene_ref(path, orthorectify=Orthorectify())
    res = _ingest(ws, str(path), "--orthorectify")
    assert res.exit_code == 1 and "--dem PATH" in res.output


def test_bad_dem_and_misused_options_are_named(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _rpc_tiff(tmp_path / "basic_20241017.tif")
    bare = _dem(tmp_path / "dem_no_crs.tif", 100.0, crs=None)
    res = _ingest(ws, str(path), "--orthorectify", "--dem", str(bare))
    assert res.exit_code != 0 and f"--dem {bare}: has no CRS" in res.output
    away = _dem(tmp_path / "dem_elsewhere.tif", 100.0, west=LON + 0.2)
    res = _ingest(ws, str(path), "--orthorectify", "--dem", str(away))
    assert res.exit_code == 1 and f"--dem {away}: covers" in res.output and f"not all of site '{SITE.id}'" in res.output
    text = tmp_path / "dem.txt"
    text.write_text("no raster", encoding="utf-8")
    res = _ingest(ws, str(path), "--orthorectify", "--dem", str(text))
    assert res.exit_code != 0 and f"--dem {text}: not a readable raster" in res.output
    res = _ingest(ws, str(path), "--height", "10")
    assert res.exit_code != 0 and "--height: only with --orthorectify" in res.output
    res = _ingest(ws, str(path), "--orthorectify", "--height", "10", "--dem", str(_dem(tmp_path / "dem.tif", 1.0)))
    assert res.exit_code != 0 and "--dem and --height: give one" in res.output
    with ws.store() as store:
        assert list(store.observations()) == []  # nothing went in, nothing half-written
    assert not list((ws.root).rglob("*.tif"))


def test_a_dem_with_no_data_over_the_site_is_named_not_the_rpcs(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A DEM left blank over the sea (SRTM's and others' voids): GDAL's transformer fails there, which read as the
    image's RPCs failing ("cannot place the whole of the site"). The DEM is named; blanks away from the site are not."""
    path = _rpc_tiff(tmp_path / "basic_20241017.tif")
    heights = np.full((100, 100), 100.0, np.float32)
    heights[:, 50:] = -32768.0  # east of LON, the site's centre
    blank = write_tiff(tmp_path / "dem_sea_blank.tif", heights, crs="EPSG:4326", nodata=-32768.0,
                       transform=Affine(0.001, 0, LON - 0.05, 0, -0.001, LAT + 0.05))  # fmt: skip
    heights[:, 50:] = np.nan  # a float DEM with NaN and no nodata value
    nan = write_tiff(tmp_path / "dem_nan.tif", heights, crs="EPSG:4326", transform=Affine(0.001, 0, LON - 0.05, 0, -0.001, LAT + 0.05))
    for dem in (blank, nan):
        res = _ingest(ws, str(path), "--orthorectify", "--dem", str(dem), "--json")
        assert res.exit_code == 1, res.output
        (refused,) = json.loads(res.stdout)["refused"]
        assert refused["reason"].startswith(f"--dem {dem}: has no data over part of site '{SITE.id}'")
        assert "RPCs cannot place" not in refused["reason"].split("where")[0]
    with ws.store() as store:
        assert list(store.observations()) == []
    heights[:, 50:] = 100.0
    heights[:, 95:] = -32768.0  # blank 2 km east of the site only
    away = write_tiff(tmp_path / "dem_blank_away.tif", heights, crs="EPSG:4326", nodata=-32768.0,
                      transform=Affine(0.001, 0, LON - 0.05, 0, -0.001, LAT + 0.05))  # fmt: skip
    res = _ingest(ws, str(path), "--orthorectify", "--dem", str(away))
    assert res.exit_code == 0, res.output


def _geoid_dem(tmp_path: Path, name: str, height: float, geoid: Path) -> Path:
    """A DEM of ``height`` above a "geoid" ``geoid`` (a GTX grid of its height above the ellipsoid), as a VRT whose
    CRS names it: GDAL applies it when it finds the grid, silently not when it does not (a PROJ without EGM96's)."""
    from xml.sax.saxutils import escape

    heights = _dem(tmp_path / f"{name}_values.tif", height)
    wkt = (
        'COMPD_CS["WGS 84 + test geoid height",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,'
        '298.257223563]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]],'
        f'VERT_CS["test geoid height",VERT_DATUM["test geoid",2005,EXTENSION["PROJ4_GRIDS","{geoid}"]],'
        'UNIT["metre",1],AXIS["Up",UP]]]'
    )
    vrt = tmp_path / f"{name}.vrt"
    vrt.write_text(
        f'<VRTDataset rasterXSize="100" rasterYSize="100"><SRS>{escape(wkt)}</SRS><GeoTransform>{LON - 0.05}, 0.001, 0, '
        f'{LAT + 0.05}, 0, -0.001</GeoTransform><VRTRasterBand dataType="Float32" band="1"><SimpleSource>'
        f'<SourceFilename relativeToVRT="1">{heights.name}</SourceFilename><SourceBand>1</SourceBand></SimpleSource>'
        "</VRTRasterBand></VRTDataset>",
        encoding="utf-8",
    )
    return vrt


def test_a_dem_above_a_geoid_is_placed_by_it_or_refused_when_gdal_cannot_use_it(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Heights above a geoid (SRTM's, Copernicus's) are some tens of metres off the ellipsoidal heights RPCs take.
    Where GDAL has the geoid's grid it turns them; where it has not (EGM96's is not installed with PROJ) it took
    them as ellipsoidal without a word, placing the image off by that times the tangent of the view angle."""
    path = _rpc_tiff(tmp_path / "basic_20241017.tif")
    geoid = tmp_path / "test_geoid.gtx"
    with rasterio.open(geoid, "w", driver="GTX", width=20, height=20, count=1, dtype="float32", crs="EPSG:4326",
                       transform=Affine(0.1, 0, LON - 1, 0, -0.1, LAT + 1)) as dst:  # fmt: skip
        dst.write(np.full((1, 20, 20), 30.0, np.float32))  # the geoid 30 m above the ellipsoid
    dem = _geoid_dem(tmp_path, "dem_geoid", 70.0, geoid)
    res = _ingest(ws, str(path), "--orthorectify", "--dem", str(dem), "--json")
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["ingested"]
    assert "(above test geoid height, its CRS's)" in row["orthorectified"]
    found, pixel = _bright_lonlat(ws, row["id"])
    assert _metres_apart(found, _ground_of(182.5, 202.5, 100.0)) < pixel  # 70 m above a geoid 30 m up
    lost = _geoid_dem(tmp_path, "dem_lost_geoid", 70.0, tmp_path / "not_installed.gtx")
    res = _ingest(ws, str(path), "--orthorectify", "--dem", str(lost), "--json")
    assert res.exit_code == 1, res.output
    (refused,) = json.loads(res.stdout)["refused"]
    assert refused["reason"].startswith(f"--dem {lost}: its CRS gives its heights above test geoid height, which GDAL cannot")
    # EGM96 by its EPSG code, as SRTM's GeoTIFFs may say: PROJ, without its grid, gives no shift at all
    egm96 = _dem(tmp_path / "dem_egm96.tif", 70.0)
    with rasterio.open(egm96, "r+") as dst:
        dst.crs = "EPSG:4326+5773"
    from rasterio.env import PROJDataFinder

    proj_dirs = [Path(d) for d in (PROJDataFinder().search(), Path.home() / ".local/share/proj") if d]
    if not any(any(d.glob("*egm96*")) for d in proj_dirs if d.is_dir()) and os.environ.get("PROJ_NETWORK") != "ON":
        res = _ingest(ws, str(path), "--orthorectify", "--dem", str(egm96), "--json")
        assert res.exit_code == 1, res.output
        (refused,) = json.loads(res.stdout)["refused"]
        assert refused["reason"].startswith(f"--dem {egm96}: its CRS gives its heights above EGM96 height, which GDAL")
    plain = _dem(tmp_path / "dem.tif", 100.0)
    res = _ingest(ws, str(path), "--orthorectify", "--dem", str(plain), "--json")
    assert res.exit_code == 0, res.output
    assert "(taken as above the WGS84 ellipsoid: its CRS names no vertical datum)" in json.loads(res.stdout)["ingested"][0]["orthorectified"]


def test_a_site_far_from_an_rpc_scene_is_missed_not_refused_and_a_gridded_file_is_left_as_it_is(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """RPCs are polynomials fitted over their scene: a cubic term, nothing within it (0.1 pixel), folds a site 1°
    east (20 normalised units) back onto the scene's centre, which that site was given."""
    far = tiny_site("far", lon=LON + 1.0, lat=LAT)
    ws = workspace_with_sites(tmp_path / "ws", SITE, far)
    folding = RPC(**{**RPCS.to_dict(), "samp_num_coeff": _coeffs(c1=1.0, c3=HX, c11=-1 / 400)})
    path = _rpc_tiff(tmp_path / "basic_20241017.tif", folding)
    res = CliRunner().invoke(main, ["ingest", "far", str(path), "--orthorectify", "--height", "0", "-w", str(ws.root), "--json"])
    assert res.exit_code == 1, res.output
    assert [r["file"] for r in json.loads(res.stdout)["skipped"]] == [str(path)]  # no pixel over it, not "cannot place"
    gridded = write_tiff(tmp_path / "gridded_20241017.tif", _scene(), crs="EPSG:4326",
                         transform=Affine(DLON, 0, LON - 0.024, 0, -DLAT, LAT + 0.018), descriptions=["VV"])  # fmt: skip
    res = CliRunner().invoke(main, ["ingest", SITE.id, str(gridded), "--orthorectify", "--height", "0", "-w", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    assert "orthorectified" not in json.loads(res.stdout)["ingested"][0]
    with ws.store() as store:
        (obs,) = store.observations()
    assert "orthorectified" not in obs.provenance


def test_an_ortho_ready_file_on_a_map_grid_is_placed_again_by_its_rpcs_only_when_asked(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A Maxar OR2A file is on a map grid projected at one height for the whole scene (here 0 m) and carries RPCs:
    with --orthorectify they place it at the height given (as gdalwarp -rpc sets its grid aside); without, its grid."""
    path = _rpc_tiff(tmp_path / "or2a_20241017.tif")
    corner = _ground_of(-0.5, -0.5, 0.0)  # GDAL's (0, 0), the first pixel's outer corner, at 0 m
    with rasterio.open(path, "r+") as dst:
        dst.crs = "EPSG:4326"
        dst.transform = Affine(DLON, 0, corner[0], 0, -DLAT, corner[1])
    res = _ingest(ws, str(path), "--json")
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["ingested"]
    found, pixel = _bright_lonlat(ws, row["id"])
    assert "orthorectified" not in row and _metres_apart(found, _ground_of(182.5, 202.5, 0.0)) < pixel
    res = _ingest(ws, str(path), "--orthorectify", "--height", "100", "--json")
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["ingested"]
    assert "from its RPCs, not by its map grid" in row["orthorectified"]
    found, pixel = _bright_lonlat(ws, row["id"])
    assert _metres_apart(found, _ground_of(182.5, 202.5, 100.0)) < pixel


def test_only_the_window_over_the_site_is_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A site of 1.6 x 2.2 km out of a 4 km scene: the window read is the site's, a few pixels around it."""
    path = _rpc_tiff(tmp_path / "basic_20241017.tif")
    with rasterio.open(path) as src:
        placement = placement_of(src, path, Orthorectify(height_m=0.0))
    assert placement is not None
    grid = site_grid(SITE, 10.0)
    window = placement.window(grid)
    assert window is not None
    assert window.width < grid.width + 30 and window.height < grid.height + 30
    assert window.width * window.height < SIZE * SIZE / 2


# A QuickBird IMD as Maxar wrote them before its 2016v0 calibration (version "AA": absCalFactor and
# effectiveBandwidth, no GAIN or OFFSET); SYNTHETIC figures of the real ones' size.
OLD_IMD = """version = "AA";
generationTime = 2012-10-18T03:00:00.000000Z;
productOrderId = "052345678010_01_P001";
bandId = "Multi";
productLevel = "LV1B";
radiometricLevel = "Corrected";
bitsPerPixel = 16;
numRows = 400;
numColumns = 400;
""" + "".join(
    f"BEGIN_GROUP = BAND_{b}\n\tULLon = 132.32;\n\tULLat = 42.90;\n\tabsCalFactor = {k:.6e};\n"
    f"\teffectiveBandwidth = {bw:.6e};\nEND_GROUP = BAND_{b}\n"
    for b, (k, bw) in {"B": (1.604120e-02, 6.8e-02), "G": (1.438470e-02, 9.9e-02),
                       "R": (1.267350e-02, 7.1e-02), "N": (1.542420e-02, 1.14e-01)}.items()
) + """BEGIN_GROUP = IMAGE_1
\tsatId = "QB02";
\tfirstLineTime = 2012-10-17T02:11:07.512345Z;
\tmeanSunEl = 38.2;
\tmeanOffNadirViewAngle = 14.1;
END_GROUP = IMAGE_1
END;
"""


def test_a_maxar_basic_file_with_an_old_imd_goes_in_orthorectified_and_as_toa_reflectance(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A Maxar Basic (L1B) delivery: RPCs, counts, and an .IMD of 2012 without the 2016v0 note's gain and offset."""
    name = "12OCT17021107-M1BS-052345678010_01_P001"
    path = tmp_path / f"{name}.TIF"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=4, dtype="uint16", rpcs=RPCS) as dst:
            dst.write(np.stack([np.full((SIZE, SIZE), 300 + k, np.uint16) for k in range(4)]))
    (tmp_path / f"{name}.IMD").write_text(OLD_IMD, encoding="utf-8")
    res = CliRunner().invoke(main, ["import", str(path), "--orthorectify", "--height", "0", "-w", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["imported"]
    assert row["acquired"] == "2012-10-17T02:11:07.512000Z"
    with ws.store() as store:
        obs = store.get_observation(row["id"])
    assert obs.provenance["orthorectified"]["method"] == "rpc"
    maxar = obs.provenance["maxar"]
    assert maxar["platform"] == "quickbird-2" and maxar["esun"]["blue"] == 1949.59
    with rasterio.open(ws.root / obs.path) as cog:
        blue = float(np.nanmedian(cog.read(list(cog.descriptions).index("blue") + 1)))
    assert blue == pytest.approx(300 * maxar["reflectance_coefficients"]["blue"], rel=1e-4)
    assert 0.1 < blue < 0.3  # reflectance, not 300 / 10,000


def test_rpcs_that_place_nothing_are_named(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A damaged RPC set (a denominator of zeros) places no pixel: the file is named, the others go in."""
    bad = _rpc_tiff(tmp_path / "bad_20241017.tif", RPC(**{**RPCS.to_dict(), "samp_den_coeff": [0.0] * 20}))
    good = _rpc_tiff(tmp_path / "good_20241017.tif")
    with pytest.raises(ImageReadError, match=r"bad_20241017.tif: its RPCs cannot place its pixels"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio's TransformWarning
        read_scene_ref(bad, orthorectify=Orthorectify(height_m=0.0))
    res = _ingest(ws, str(bad), str(good), "--orthorectify", "--height", "0", "--json")
    assert res.exit_code == 3, res.output
    out = json.loads(res.stdout)
    assert [Path(r["file"]).name for r in out["ingested"]] == [good.name]
    assert [Path(r["file"]).name for r in out["refused"]] == [bad.name]


def test_a_planet_basic_scene_with_its_rpc_txt_goes_in_orthorectified_as_toa_reflectance(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A PSScene basic_analytic_4b delivery: radiance on the sensor's own grid, its RPCs in …_RPC.TXT beside it
    and its metadata XML, which gives the TOA reflectance coefficients."""
    from test_planet_radiance import COEFFICIENTS, _xml

    scene = "20241017_012345_22_2470_1B_AnalyticMS"
    path = tmp_path / f"{scene}.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=4, dtype="uint16", rpcs=RPCS,
                           RPCTXT="YES") as dst:  # fmt: skip
            dst.write(np.stack([np.full((SIZE, SIZE), 2500 + k, np.uint16) for k in range(4)]))
    assert (tmp_path / f"{scene}_RPC.TXT").exists()
    (tmp_path / f"{scene}_metadata.xml").write_text(_xml(), encoding="utf-8")
    res = CliRunner().invoke(main, ["import", str(path), "--orthorectify", "--height", "0", "-w", str(ws.root), "--json"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["imported"]
    assert row["acquired"] == "2024-10-17T01:23:45Z" and "from its RPCs" in row["orthorectified"]
    with ws.store() as store:
        obs = store.get_observation(row["id"])
    with rasterio.open(ws.root / obs.path) as cog:
        blue = float(np.nanmedian(cog.read(list(cog.descriptions).index("blue") + 1)))
    assert blue == pytest.approx(2500 * COEFFICIENTS[0], rel=1e-4)  # 0.05, not 2500 / 10,000


def test_a_dem_s_heights_place_each_part_of_the_image_by_its_own(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Ground at 0 m in the west, 150 m in the east (a cliff at the site's centre): two squares, one on each,
    each where the RPCs put it at its own height, which no single --height does for both."""
    data = np.full((SIZE, SIZE), 0.01, np.float32)
    data[200:206, 150:156] = 1.0  # west: sample 152.5, some 470 m west of the centre
    data[200:206, 250:256] = 1.0  # east: sample 252.5
    path = tmp_path / "relief_20241017.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=1, dtype="float32", rpcs=RPCS) as dst:
            dst.write(data[None])
            dst.set_band_description(1, "VV")
            dst.update_tags(SITEWATCH_ACQUIRED="2024-10-17T09:30:00Z")
    heights = np.zeros((100, 100), np.float32)
    heights[:, 50:] = 150.0  # east of LON
    dem = write_tiff(tmp_path / "dem.tif", heights, crs="EPSG:4326", transform=Affine(0.001, 0, LON - 0.05, 0, -0.001, LAT + 0.05))
    res = _ingest(ws, str(path), "--orthorectify", "--dem", str(dem), "--json")
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["ingested"]
    with ws.store() as store:
        obs = store.get_observation(row["id"])
    with rasterio.open(ws.root / obs.path) as cog:
        arr, transform, crs, pixel = cog.read(1), cog.transform, cog.crs, cog.transform.a
    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    found = []
    for side in (slice(0, arr.shape[1] // 2), slice(arr.shape[1] // 2, None)):
        rows, cols = np.nonzero(arr[:, side] > 0.5)
        x, y = transform @ (cols.mean() + side.start + 0.5, rows.mean() + 0.5)
        found.append(to_lonlat.transform(x, y))
    assert _metres_apart(found[0], _ground_of(152.5, 202.5, 0.0)) < pixel
    assert _metres_apart(found[1], _ground_of(252.5, 202.5, 150.0)) < pixel
    assert _metres_apart(found[1], _ground_of(252.5, 202.5, 0.0)) > 3 * pixel


def test_a_mast_between_the_points_the_window_is_found_by_is_not_left_blank(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The window was found by a lattice of the site's points and 8 pixels around, and GDAL's warper looks only as far
    as the site's edges map: a mast (or a hill) between them, seen obliquely, maps further, and was left blank. At
    0.3 m a pixel that is 10 m of relief seen 30° off nadir; here 300 m, seen 40° off, at 10 m a pixel."""
    path = _rpc_tiff(tmp_path / "oblique_20241017.tif", RPC(**{**RPCS.to_dict(), "samp_num_coeff": _coeffs(c1=1.0, c3=0.1)}))
    res = _ingest(ws, str(path), "--orthorectify", "--dem", str(_dem(tmp_path / "flat.tif", 0.0)), "--json")
    assert res.exit_code == 0, res.output
    with ws.store() as store:
        obs = store.get_observation(json.loads(res.stdout)["ingested"][0]["id"])
    with rasterio.open(ws.root / obs.path) as cog:
        b, to_lonlat = cog.bounds, Transformer.from_crs(cog.crs, "EPSG:4326", always_xy=True)
        assert not np.isnan(cog.read(1)).any()
    # 25 m square, midway between the lattice's last two columns (21 points a side) and two of its rows
    mx, my = b.right - 0.5 * (b.right - b.left) / 20, b.top - 10.5 / 20 * (b.top - b.bottom)
    (lon1, lon2), (lat1, lat2) = to_lonlat.transform([mx - 12, mx + 12], [my - 12, my + 12])
    west, north, step = LON - 0.02, LAT + 0.02, 0.0001
    heights = np.zeros((400, 400), np.float32)
    heights[int((north - lat2) / step):math.ceil((north - lat1) / step), int((lon1 - west) / step):math.ceil((lon2 - west) / step)] = 300.0
    mast = write_tiff(tmp_path / "mast.tif", heights, crs="EPSG:4326", transform=Affine(step, 0, west, 0, -step, north))
    res = _ingest(ws, str(path), "--orthorectify", "--dem", str(mast), "--json")
    assert res.exit_code == 0, res.output
    with ws.store() as store:
        obs = store.get_observation(json.loads(res.stdout)["ingested"][0]["id"])
    with rasterio.open(ws.root / obs.path) as cog:
        assert not np.isnan(cog.read(1)).any()  # 20 pixels blank at the mast before


def test_band_files_placed_by_rpcs_go_in_together(ws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """--band vv=… --band vh=…, each file with its RPCs: each is placed by its own, into one observation."""
    vv = _rpc_tiff(tmp_path / "vv_20241017.tif")
    vh = _rpc_tiff(tmp_path / "vh_20241017.tif")
    res = _ingest(ws, "--band", f"vv={vv}", "--band", f"vh={vh}", "--orthorectify", "--height", "0", "--json")
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["ingested"]
    with ws.store() as store:
        obs = store.get_observation(row["id"])
    assert obs.provenance["orthorectified"]["method"] == "rpc"
    with rasterio.open(ws.root / obs.path) as cog:
        assert list(cog.descriptions) == ["VV", "VH"]
        a, b = cog.read(1), cog.read(2)
    assert np.array_equal(a > 0.5, b > 0.5) and (a > 0.5).any()
    found, pixel = _bright_lonlat(ws, row["id"])
    assert _metres_apart(found, _ground_of(182.5, 202.5, 0.0)) < pixel
