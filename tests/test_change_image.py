"""``sitewatch change-image``: two image files compared without a workspace."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from PIL import Image
from pyproj import Transformer
from rasterio.warp import Resampling, calculate_default_transform, reproject
from shapely.geometry import shape

from sitewatch.change_image import read_change_pair
from sitewatch.cli import main
from sitewatch.report.credits import SIMULATED_CREDIT, UNKNOWN_CREDIT
from sitewatch.testing import write_tiff

UTM = "EPSG:32653"
X0, Y0, PX = 300_000.0, 4_750_000.0, 2.0
ROOF = (100, 130, 60, 90)  # rows, cols of a 60 x 60 m roof built between the dates


def _ground(seed: int, shape_: tuple[int, int] = (200, 200)) -> np.ndarray:
    """Four bands of a fields-and-tracks scene, reflectance, with pixel noise of its own per seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape_[0], 0 : shape_[1]]
    base = 0.08 + 0.04 * (((yy // 40) + (xx // 50)) % 3)
    bands = np.stack([base * f for f in (0.8, 1.0, 1.1, 2.5)]).astype(np.float32)
    return bands + rng.normal(0, 0.004, bands.shape).astype(np.float32)


def _pair(tmp_path: Path) -> tuple[Path, Path]:
    before = _ground(1)
    after = _ground(2) * np.float32(1.1)  # another date: brighter overall, its own noise
    r0, r1, c0, c1 = ROOF
    after[:, r0:r1, c0:c1] = np.float32(0.45)
    t = Affine(PX, 0, X0, 0, -PX, Y0)
    names = ["blue", "green", "red", "nir"]
    return (
        write_tiff(tmp_path / "before.tif", before, crs=UTM, transform=t, descriptions=names),
        write_tiff(tmp_path / "after.tif", after, crs=UTM, transform=t, descriptions=names),
    )


def _in_lonlat(path: Path) -> Path:
    """``path`` reprojected to WGS84 lon/lat (bilinear, NaN outside), as ``NAME_wgs84.tif`` beside it."""
    out = path.with_name(f"{path.stem}_wgs84.tif")
    with rasterio.open(path) as src:
        t, w, h = calculate_default_transform(src.crs, "EPSG:4326", src.width, src.height, *src.bounds)
        profile = src.profile | {"crs": "EPSG:4326", "transform": t, "width": w, "height": h, "nodata": np.nan}
        with rasterio.open(out, "w", **profile) as dst:
            for k in range(1, src.count + 1):
                reproject(rasterio.band(src, k), rasterio.band(dst, k), resampling=Resampling.bilinear, dst_nodata=np.nan)
            dst.descriptions = src.descriptions
    return out


def _roof_lonlat() -> tuple[float, float]:
    r0, r1, c0, c1 = ROOF
    x, y = X0 + PX * (c0 + c1) / 2, Y0 - PX * (r0 + r1) / 2
    return Transformer.from_crs(UTM, "EPSG:4326", always_xy=True).transform(x, y)


def test_a_new_roof_between_two_georeferenced_images_is_one_region_where_it_stands(tmp_path: Path) -> None:
    before, after = _pair(tmp_path)
    out, mask = tmp_path / "changes.geojson", tmp_path / "changed.tif"
    r = CliRunner().invoke(main, ["change-image", str(before), str(after), "--out", str(out), "--mask", str(mask), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["regions"] == 1 and summary["appeared"] == 1 and summary["warped"] == []
    assert 3000 < summary["area_m2"] < 4500  # 60 x 60 m = 3600 m²
    fc = json.loads(out.read_text(encoding="utf-8"))
    c = shape(fc["features"][0]["geometry"]).centroid
    lon, lat = _roof_lonlat()
    assert abs(c.x - lon) < 2e-4 and abs(c.y - lat) < 2e-4  # WGS84, at the roof
    assert fc["sitewatch"]["method"] == "irmad-cva" and fc["features"][0]["properties"]["direction"] == "appeared"
    with rasterio.open(mask) as ds:
        changed = ds.read(1) > 0
        assert ds.crs.to_string() == UTM and changed[115, 75] and changed.sum() == pytest.approx(900, rel=0.25)


def test_the_later_image_on_another_grid_is_laid_on_the_earlier_ones(tmp_path: Path) -> None:
    before, after = _pair(tmp_path)
    geographic = _in_lonlat(after)
    out = tmp_path / "changes.geojson"
    r = CliRunner().invoke(main, ["change-image", str(before), str(geographic), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["warped"] == ["after"] and summary["appeared"] >= 1
    lon, lat = _roof_lonlat()
    biggest = max(json.loads(out.read_text(encoding="utf-8"))["features"], key=lambda f: f["properties"]["area_m2"])
    c = shape(biggest["geometry"]).centroid
    assert abs(c.x - lon) < 2e-4 and abs(c.y - lat) < 2e-4
    # In degrees, the earlier image is laid on a UTM grid of its ground pixel size: the same roof.
    swapped = CliRunner().invoke(main, ["change-image", str(geographic), str(before), "--out", str(tmp_path / "s.geojson"), "--json"])
    assert swapped.exit_code == 0, swapped.output
    assert json.loads(swapped.output)["warped"] == ["before", "after"] and json.loads(swapped.output)["disappeared"] >= 1


def test_chips_without_georeference_are_compared_pixel_for_pixel_and_written_in_pixels(tmp_path: Path) -> None:
    before, after = (np.clip(_ground(s)[[2, 1, 0]] * 3 * 255, 0, 255).astype(np.uint8) for s in (1, 2))
    r0, r1, c0, c1 = ROOF
    after[:, r0:r1, c0:c1] = 250
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(before.transpose(1, 2, 0)).save(a)
    Image.fromarray(after.transpose(1, 2, 0)).save(b)
    out, mask = tmp_path / "c.geojson", tmp_path / "c.png"
    missing = CliRunner().invoke(main, ["change-image", str(a), str(b), "--sensor", "optical", "--out", str(out)])
    assert missing.exit_code == 1 and "--pixel-size" in missing.output and not out.exists()
    r = CliRunner().invoke(main, ["change-image", str(a), str(b), "--sensor", "optical", "--pixel-size", "2", "--out", str(out), "--mask", str(mask)])
    assert r.exit_code == 0, r.output
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["crs"]["properties"]["name"].startswith('LOCAL_CS["pixel"')
    (feature,) = fc["features"]
    c = shape(feature["geometry"]).centroid
    assert abs(c.x - (c0 + c1 - 1) / 2) < 1 and abs(c.y - (r0 + r1 - 1) / 2) < 1  # column, row of the roof's centre
    changed = np.asarray(Image.open(mask)) > 0
    assert changed[r0 + 5, c0 + 5] and not changed[10, 10]
    small = tmp_path / "small.png"
    Image.fromarray(before.transpose(1, 2, 0)[:100]).save(small)
    sizes = CliRunner().invoke(main, ["change-image", str(a), str(small), "--sensor", "optical", "--pixel-size", "2", "--out", str(out)])
    assert sizes.exit_code == 1 and "must be of one size" in sizes.output


def test_the_pixel_size_is_said_to_three_figures_and_given_whole_in_json(tmp_path: Path) -> None:
    """change-image said "compared at 9.54335 m" (`:g`); detect-image's messages give three figures."""
    before, after = (np.clip(_ground(s)[[2, 1, 0]] * 3 * 255, 0, 255).astype(np.uint8) for s in (1, 2))
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(before.transpose(1, 2, 0)).save(a)
    Image.fromarray(after.transpose(1, 2, 0)).save(b)
    args = ["change-image", str(a), str(b), "--sensor", "optical", "--pixel-size", "9.54335", "--out", str(tmp_path / "c.geojson")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "compared at 9.54 m (" in r.output
    r = CliRunner().invoke(main, [*args, "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["pixel_size_m"] == 9.54335


@pytest.mark.parametrize(("metres", "said"), [(9.54335, "9.54 m"), (10.0, "10 m"), (0.5, "0.5 m"), (2.00031, "2 m"), (1250.4, "1250 m")])
def test_pixel_size_text(metres: float, said: str) -> None:
    from sitewatch.cli.output import pixel_size_text

    assert pixel_size_text(metres) == said


def test_an_oscd_rect_folder_a_copy_lacks_names_the_folder_it_holds(tmp_path: Path) -> None:
    """README's OSCD example gave imgs_1_rect/, which copies holding imgs_1/ alone lack: "no such file" said no more."""
    city = tmp_path / "abudhabi"
    for date in ("imgs_1", "imgs_2"):
        (city / date).mkdir(parents=True)
    res = CliRunner().invoke(main, ["change-image", str(city / "imgs_1_rect"), str(city / "imgs_2_rect"),
                                    "--out", str(tmp_path / "c.geojson")])  # fmt: skip
    assert res.exit_code == 1 and not (tmp_path / "c.geojson").exists()
    assert f"imgs_1_rect: no such file (this copy of OSCD holds imgs_1/ alone, the bands as taken: give {city / 'imgs_1'})" in res.output


def test_pairs_that_cannot_be_compared_are_named(tmp_path: Path) -> None:
    before, after = _pair(tmp_path)
    chip = tmp_path / "chip.png"
    Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(chip)
    mixed = CliRunner().invoke(main, ["change-image", str(before), str(chip), "--sensor", "optical", "--pixel-size", "2", "--out", str(tmp_path / "m.geojson")])
    assert mixed.exit_code == 1 and "before.tif is georeferenced and" in mixed.output and "chip.png is not" in mixed.output
    far = write_tiff(tmp_path / "far.tif", _ground(3), crs=UTM, transform=Affine(PX, 0, X0 + 50_000, 0, -PX, Y0), descriptions=["blue", "green", "red", "nir"])
    apart = CliRunner().invoke(main, ["change-image", str(before), str(far), "--out", str(tmp_path / "f.geojson")])
    assert apart.exit_code == 1 and "do not overlap" in apart.output
    sar = write_tiff(tmp_path / "sar.tif", np.full((200, 200), 0.05, np.float32), crs=UTM, transform=Affine(PX, 0, X0, 0, -PX, Y0), descriptions=["VV"])
    sensors = CliRunner().invoke(main, ["change-image", str(before), str(sar), "--out", str(tmp_path / "s.geojson")])
    assert sensors.exit_code == 1 and "one sensor" in sensors.output
    # A file cut short before its directory: named as unreadable, not said to read as SAR against the optical one.
    cut = tmp_path / "cut.tif"
    cut.write_bytes(before.read_bytes()[: before.stat().st_size * 9 // 10])
    damaged = CliRunner().invoke(main, ["change-image", str(cut), str(after), "--out", str(tmp_path / "c.geojson")])
    assert damaged.exit_code == 1 and "cut.tif: not a readable image" in damaged.output and "sensor" not in damaged.output, damaged.output
    same = CliRunner().invoke(main, ["change-image", str(before), str(after), "--out", str(before)])
    assert same.exit_code == 2 and "written as GeoJSON" in same.output
    mask = CliRunner().invoke(main, ["change-image", str(before), str(after), "--out", str(tmp_path / "o.geojson"), "--mask", str(tmp_path / "m.jpg")])
    assert mask.exit_code == 2 and ".tif" in mask.output


def test_sar_pair_in_db_finds_a_new_bright_object(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    t = Affine(10.0, 0, X0, 0, -10.0, Y0)
    # Sea (-15 dB, below the level at which a pixel dark in both is not tested) and land (-5 dB) beside it.
    level = np.where(np.arange(200) < 120, 0.03, 0.3)[None, :]
    sea = [(rng.gamma(4.0, 1 / 4.0, (200, 200)) * level).astype(np.float32) for _ in range(2)]
    sea[1][90:110, 40:60] = 3.0  # 20 dB over the sea: a hull, a new pier head
    before, after = (write_tiff(tmp_path / f"{n}.tif", 10 * np.log10(a), crs=UTM, transform=t, descriptions=["VV"]) for n, a in zip(("b", "a"), sea, strict=True))
    r = CliRunner().invoke(main, ["change-image", str(before), str(after), "--out", str(tmp_path / "c.geojson"), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["sensor"] == "sar" and summary["appeared"] == 1 and summary["disappeared"] == 0


def test_the_sensor_chosen_for_chips_is_said_when_not_given(tmp_path: Path) -> None:
    """Two colour chips without --sensor were compared as SAR renderings ("0 region(s) … (log-ratio 2)"),
    nothing saying that they had been read as radar or how to say otherwise. Now a colour picture reads as
    optical and a grey one stored in colour (as SAR chips are) as SAR, each saying so."""
    before, after = (np.clip(_ground(s)[[2, 1, 0]] * 3 * 255, 0, 255).astype(np.uint8) for s in (1, 2))
    a, b, ga, gb = (tmp_path / f"{n}.png" for n in ("a", "b", "grey_a", "grey_b"))
    for path, x in ((a, before), (b, after), (ga, np.repeat(before[1:2], 3, axis=0)), (gb, np.repeat(after[1:2], 3, axis=0))):
        Image.fromarray(x.transpose(1, 2, 0)).save(path)
    out = tmp_path / "c.geojson"
    r = CliRunner().invoke(main, ["change-image", str(a), str(b), "--pixel-size", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "sensor: optical, a colour picture" in r.stderr and "--sensor to choose" in r.stderr and "(optical: irmad-cva" in r.stdout, r.output
    grey = CliRunner().invoke(main, ["change-image", str(ga), str(gb), "--pixel-size", "2", "--out", str(out)])
    assert grey.exit_code == 0 and "sensor: sar, the default" in grey.stderr and "(sar: log-ratio" in grey.stdout, grey.output
    told = CliRunner().invoke(main, ["change-image", str(a), str(b), "--sensor", "sar", "--pixel-size", "2", "--out", str(out)])
    assert told.exit_code == 0 and "sensor:" not in told.stderr and "(sar: log-ratio" in told.stdout, told.output
    mixed = CliRunner().invoke(main, ["change-image", str(a), str(gb), "--pixel-size", "2", "--out", str(out)])
    assert mixed.exit_code != 0 and "reads as optical" in mixed.output and "as sar" in mixed.output, mixed.output


def test_the_mask_of_an_image_in_degrees_is_on_its_own_pixels_as_its_change_map_is(tmp_path: Path) -> None:
    """OSCD's cities are GeoTIFFs in lon/lat, their change maps on those pixels: --mask was written on the
    UTM grid they were compared on (886 × 801 pixels for Abu Dhabi's 785 × 799), scoreable against nothing."""
    before, after = _pair(tmp_path)
    pairs = [_in_lonlat(before), _in_lonlat(after)]
    mask = tmp_path / "changed.tif"
    r = CliRunner().invoke(main, ["change-image", str(pairs[0]), str(pairs[1]), "--out", str(tmp_path / "c.geojson"), "--mask", str(mask), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["warped"] == ["before", "after"]
    with rasterio.open(pairs[0]) as img, rasterio.open(mask) as ds:
        assert (ds.width, ds.height) == (img.width, img.height) and ds.crs == img.crs and ds.transform == img.transform
        changed = ds.read(1) > 0
        row, col = img.index(*_roof_lonlat())
    assert changed[row, col] and changed.sum() == pytest.approx(changed[row - 20 : row + 20, col - 20 : col + 20].sum())  # the roof alone
    png = tmp_path / "changed.png"
    assert CliRunner().invoke(main, ["change-image", str(pairs[0]), str(pairs[1]), "--out", str(tmp_path / "c.geojson"), "--mask", str(png)]).exit_code == 0
    assert (np.asarray(Image.open(png)) > 0).tolist() == changed.tolist()


def test_images_inside_a_zip_are_compared_by_their_gdal_virtual_paths(tmp_path: Path) -> None:
    """``/vsizip//abs/p.zip/a.tif`` is read as detect-image reads it; ``Path`` would fold its double slash
    and the image be "no such file" (and, before that, its sensor guessed from nothing)."""
    import zipfile

    before, after = _pair(tmp_path)
    archive = tmp_path / "pair.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(before, "d1/before.tif")
        z.write(after, "d2/after.tif")
    before.unlink()
    after.unlink()
    out = tmp_path / "changes.geojson"
    vsi = f"/vsizip/{archive}"
    r = CliRunner().invoke(main, ["change-image", f"{vsi}/d1/before.tif", f"{vsi}/d2/after.tif", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["sensor"] == "optical" and summary["regions"] == 1 and summary["appeared"] == 1
    assert summary["before"].startswith("/vsizip//") and summary["before"].endswith("d1/before.tif")
    missing = CliRunner().invoke(main, ["change-image", f"{vsi}/d1/nothing.tif", f"{vsi}/d2/after.tif", "--out", str(out)])
    assert missing.exit_code == 1 and "nothing.tif: GDAL cannot open this virtual path" in missing.output


def test_simulated_and_dated_images_say_so_in_the_line_the_json_and_each_region(tmp_path: Path) -> None:
    # Scenes cut from a workspace's archive (sitewatch's simulator, or any archived image) carry their tags.
    before, after = _pair(tmp_path)
    tagged = []
    for path, when in ((before, "2024-09-30T01:30:00Z"), (after, "2024-10-05T01:30:00Z")):
        with rasterio.open(path) as ds:
            data, names = ds.read(), list(ds.descriptions)
        tags = {"SITEWATCH_SIMULATED": "true", "SITEWATCH_ACQUIRED": when}
        tagged.append(write_tiff(tmp_path / f"sim-{path.name}", data, crs=UTM, transform=Affine(PX, 0, X0, 0, -PX, Y0),
                                 descriptions=names, tags=tags))  # fmt: skip
    out = tmp_path / "changes.geojson"
    r = CliRunner().invoke(main, ["change-image", str(tagged[0]), str(tagged[1]), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("SIMULATED imagery: 2024-09-30 01:30 UTC -> 2024-10-05 01:30 UTC: 1 region(s)"), r.stdout
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["sitewatch"]["simulated"] is True and fc["sitewatch"]["after_acquired"] == "2024-10-05T01:30:00Z"
    props = fc["features"][0]["properties"]
    assert props["simulated"] is True and props["before_acquired"] == "2024-09-30T01:30:00Z"
    assert props["after_acquired"] == "2024-10-05T01:30:00Z" and fc["sitewatch"]["after"] == str(tagged[1])
    summary = json.loads(CliRunner().invoke(main, ["change-image", *map(str, tagged), "--out", str(out), "--json"]).output)
    assert summary["simulated"] is True and summary["before_acquired"] == "2024-09-30T01:30:00Z"
    assert summary["credit"] == SIMULATED_CREDIT  # as its regions say
    # Given the later image first, it is refused naming both (what appeared would be called disappeared).
    swapped = CliRunner().invoke(main, ["change-image", str(tagged[1]), str(tagged[0]), "--out", str(out)])
    assert swapped.exit_code == 1 and f"{tagged[1]} was acquired 2024-10-05T01:30:00Z, after {tagged[0]}" in swapped.output
    # Untagged images are not called simulated, and no time is made up for them.
    plain = CliRunner().invoke(main, ["change-image", str(before), str(after), "--out", str(out)])
    assert plain.exit_code == 0 and plain.stdout.startswith("1 region(s)"), plain.stdout
    props = json.loads(out.read_text(encoding="utf-8"))["features"][0]["properties"]
    assert props["simulated"] is False and "before_acquired" not in props
    # Each region credits both images: a simulated pair as such, files naming no satellite in words that say so.
    assert fc["features"][0]["properties"]["credit"] == fc["sitewatch"]["credit"] == SIMULATED_CREDIT
    assert props["credit"] == UNKNOWN_CREDIT
    # Files that name their satellites (a tag, as an archived COG carries it) and times: each provider with its year.
    named = [write_tiff(tmp_path / f"{platform}.tif", _ground(seed, (16, 16)), crs=UTM, transform=Affine(PX, 0, X0, 0, -PX, Y0),
                        descriptions=["blue", "green", "red", "nir"], tags={"SITEWATCH_PLATFORM": platform, "SITEWATCH_ACQUIRED": when})
             for seed, platform, when in ((1, "sentinel-2b", "2023-09-30T01:30:00Z"), (2, "PSB.SD", "2024-10-05T01:30:00Z"))]  # fmt: skip
    pair = read_change_pair(*named, cloud_test=False)
    assert pair.credit == "Contains modified Copernicus Sentinel data 2023; © 2024 Planet Labs PBC"


def test_cloud_an_scl_band_in_the_files_marks_is_not_compared(tmp_path: Path) -> None:
    # A bright cloud over the fields in the later image read as a region "appeared": change-image read no cloud
    # mask, though the file carried one (an L2A export with SCL, or an archived observation of a workspace).
    before, after = _pair(tmp_path)
    with rasterio.open(after) as ds:
        cloudy = ds.read()
    cloudy[:, 20:60, 120:170] = np.float32(0.6)  # cloud, 80 x 100 m, away from the roof
    scl = np.full((1, *cloudy.shape[1:]), 4, np.float32)  # 4: vegetation
    scl[0, 20:60, 120:170] = 9  # 9: cloud, high probability
    t = Affine(PX, 0, X0, 0, -PX, Y0)
    names = ["blue", "green", "red", "nir"]
    plain = write_tiff(tmp_path / "cloudy.tif", cloudy, crs=UTM, transform=t, descriptions=names)
    masked = write_tiff(tmp_path / "cloudy-scl.tif", np.concatenate([cloudy, scl]), crs=UTM, transform=t, descriptions=[*names, "SCL"])
    out = tmp_path / "changes.geojson"
    without = json.loads(CliRunner().invoke(main, ["change-image", str(before), str(plain), "--out", str(out), "--json"]).stdout)
    assert without["regions"] == 2 and without["compared_fraction"] == 1.0 and without["notes"] == []  # the roof and the cloud
    r = CliRunner().invoke(main, ["change-image", str(before), str(masked), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("1 region(s) (1 appeared"), r.stdout  # the roof alone
    assert f"note: cloud, cloud shadow and no data as the SCL band of {masked} marks them (widened by 100 m) are not compared" in r.stderr
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert fc["sitewatch"]["notes"] == [r.stderr.split("note: ", 1)[1].strip()]
    assert 0.5 < fc["sitewatch"]["compared_fraction"] < 0.9  # the cloud and 100 m around it
    # Integer DN with the SCL band beside them (read a block of rows at a time where it can be): masked alike.
    with rasterio.open(before) as ds:
        clear = ds.read()
    dn = [write_tiff(tmp_path / f"dn-{p.name}", np.concatenate([np.clip(d * 10000, 1, 65535).astype(np.uint16), s.astype(np.uint16)]),
                     crs=UTM, transform=t, descriptions=[*names, "SCL"])  # fmt: skip
          for p, d, s in ((before, clear, np.full_like(scl, 4)), (after, cloudy, scl))]
    summary = json.loads(CliRunner().invoke(main, ["change-image", *map(str, dn), "--out", str(out), "--json"]).stdout)
    assert summary["regions"] == 1 and summary["appeared"] == 1 and summary["compared_fraction"] < 0.9
