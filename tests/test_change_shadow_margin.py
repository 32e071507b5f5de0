"""``change --shadow-twins`` on a small site whose cloud's shadow falls outside the archived image: the test looks
again on the source files read coarse around it (:mod:`sitewatch.change_margin`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sitewatch.change.cloud_twins import CloudTwins, clouds_beyond
from sitewatch.change_margin import wide_grid
from sitewatch.cli import main
from sitewatch.model import Grid
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.workspace import init_workspace

_PX = 10.0
_SIDE = 900  # 9 km of image around a berth of about 330 x 440 m (archived with 1 km around it)
_CLOUD = 200  # half the cloud's side, m


def _berth_pair(tmp_path: Path, shadow_m: float, counts: bool = False, pg_url: str | None = None) -> tuple[Path, list[Path]]:
    """A workspace (its store at ``pg_url`` if given) whose berth has two plain 10 m images (reflectance, or with
    ``counts`` uint16 reflectance × 10,000); on the second a 400 m cloud over half the berth whose shadow lies
    ``shadow_m`` to the south-west."""
    site = tiny_site("berth", half_deg=0.002)
    if pg_url is None:
        ws = workspace_with_sites(tmp_path / "ws", site)
    else:
        ws = init_workspace(tmp_path / "ws", pg_url)
        with ws.store() as store:
            store.put_site(site)
    crs, x0, y0 = site_utm_origin(site, margin_m=4500.0)
    yy, xx = np.mgrid[0:_SIDE, 0:_SIDE]

    def ground(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        base = 0.08 + 0.04 * (((yy * _PX // 400) + (xx * _PX // 500)) % 3)
        bands = np.stack([base * f for f in (0.8, 1.0, 1.1, 2.5)]).astype(np.float32)
        return bands + rng.normal(0, 0.004, bands.shape).astype(np.float32)

    after = ground(2)
    # the cloud's west edge on the berth's centre: half the berth is under it, half is ground
    c, r, s = _SIDE // 2, int(_CLOUD / _PX), int(shadow_m / np.sqrt(2) / _PX)
    after[:, c - r + s : c + r + s, c - s : c + 2 * r - s] *= np.float32(0.5)
    after[:, c - r : c + r, c : c + 2 * r] = np.array([0.50, 0.48, 0.46, 0.50], np.float32)[:, None, None]
    files = [write_tiff(tmp_path / f"berth_{day}.tif", (img * 10_000).astype(np.uint16) if counts else img, crs=crs, transform=Affine(_PX, 0, x0, 0, -_PX, y0),
                        descriptions=("blue", "green", "red", "nir"))
             for day, img in (("20241001", ground(1)), ("20241005", after))]  # fmt: skip
    res = CliRunner().invoke(main, ["ingest", "berth", *map(str, files), "--sensor", "optical", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    return ws.root, files


def _change(root: Path) -> tuple[dict, list[str]]:
    res = CliRunner().invoke(main, ["change", "berth", "--json", "--shadow-twins", "-w", str(root)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    (pair,) = out["pairs"]
    return pair, out["notes"]


@pytest.mark.parametrize("counts", [False, True], ids=["reflectance", "uint16 counts"])
def test_a_cloud_over_a_berth_whose_shadow_lies_beyond_its_archived_image_is_found_on_the_source_files(
    tmp_path: Path, counts: bool
) -> None:
    # The shadow lies 2.5 km away, beyond the berth's 1 km archived margin: the archived grid has no twin. Counts are
    # read as ingest scaled them (its provenance's scale_applied), else the test's thresholds would see no cloud.
    root, _ = _berth_pair(tmp_path, 2500.0, counts)
    pair, notes = _change(root)
    left = pair["cloud_left_out"]
    assert left["clouds"] == 1 and left["refused"] == 0, left
    assert left["cloud_m2"] == pytest.approx(160_000, rel=0.05) and 0.3 < left["left_out_fraction"] < 1.0, left
    assert left["beyond_grid"] == {"margin_m": 5000.0, "pixel_m": 20.0, "clouds": 1}, left
    assert pair["appeared"] + pair["disappeared"] + pair["altered"] == 0, pair
    assert any("1 cloud found by a shadow outside the site's image (its source files read 5 km around it at 20 m)" in n
               for n in notes), notes  # fmt: skip
    if not counts:
        html = tmp_path / "report.html"
        res = CliRunner().invoke(main, ["report", "-w", str(root), "--out", str(html)])
        assert res.exit_code == 0, res.output
        assert "1 cloud found by its shadow, 16" in html.read_text(encoding="utf-8")
        assert "not compared (1 by a shadow outside the site" in html.read_text(encoding="utf-8")


def test_a_shadow_inside_the_archived_image_reads_no_source_file(tmp_path: Path) -> None:
    # 500 m away the shadow lies in the berth's archived margin: found there, as before, nothing refused, nothing read.
    root, files = _berth_pair(tmp_path, 500.0)
    for f in files:
        f.unlink()
    pair, _ = _change(root)
    left = pair["cloud_left_out"]
    assert left["clouds"] == 1 and left["refused"] == 0 and left["shadow_m2"] > 100_000 and "beyond_grid" not in left, left


def test_a_source_file_gone_or_changed_is_said_and_its_patch_compared(tmp_path: Path) -> None:
    root, files = _berth_pair(tmp_path, 2500.0)
    files[0].write_bytes(files[0].read_bytes() + b"\0")
    pair, notes = _change(root)
    left = pair["cloud_left_out"]
    assert left["clouds"] == 0 and left["refused"] == 1, left
    assert "has changed since it was ingested" in left["beyond_grid"]["unread"], left
    assert pair["appeared"] + pair["disappeared"] + pair["altered"] >= 1, pair  # the cloud compared: false change
    assert any("the image around the site was not looked at for its shadow: berth/berth_20241001's source file" in n
               for n in notes), notes  # fmt: skip
    files[0].unlink()
    pair, _ = _change(tmp_path / "ws")  # the same inputs: kept as stored, what it said kept
    assert pair["kept"] and "has changed" in pair["cloud_left_out"]["beyond_grid"]["unread"], pair


def test_a_source_file_that_holds_only_the_archived_image_is_said_and_its_patch_compared(tmp_path: Path) -> None:
    # Both files are the berth's archived grid exactly (1 km around its box): nothing more to look at.
    from sitewatch.ingest.grid import site_grid

    site = tiny_site("berth", half_deg=0.002)
    ws = workspace_with_sites(tmp_path / "ws", site)
    g = site_grid(site, _PX)
    rng = np.random.default_rng(0)
    ground = (0.1 + rng.normal(0, 0.004, (4, g.height, g.width))).astype(np.float32)
    after = ground.copy()
    after[:, 20:60, 20:60] = np.float32(0.5)  # a 400 m cloud in the north-west corner, no shadow on the grid
    files = [write_tiff(tmp_path / f"berth_{day}.tif", img, crs=g.crs, transform=g.affine, descriptions=("blue", "green", "red", "nir"))
             for day, img in (("20241001", ground), ("20241005", after))]  # fmt: skip
    res = CliRunner().invoke(main, ["ingest", "berth", *map(str, files), "--sensor", "optical", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    pair, notes = _change(ws.root)
    left = pair["cloud_left_out"]
    assert left["clouds"] == 0 and left["refused"] == 1, left
    assert left["beyond_grid"]["unread"].endswith("holds no image around the site's"), left
    assert any("not looked at for its shadow" in n for n in notes), notes
    pair, _ = _change(ws.root)  # its files there and unchanged, nothing more to see: kept
    assert pair["kept"] and "source_away" not in pair["cloud_left_out"]["beyond_grid"], pair


def test_the_wide_grid_holds_the_grid_on_the_edges_of_its_pixels() -> None:
    g = Grid("EPSG:32653", (3.0, 0.0, 500_001.0, 0.0, -3.0, 4_700_000.0), 101, 50)
    w = wide_grid(g, 5000.0)
    assert w.factor == 7 and w.corner == (239, 239) and w.grid.pixel_size == (21.0, 21.0)
    # The grid's corner is the wide grid's pixel corner, and the wide grid reaches 5 km beyond the grid each side.
    assert w.grid.affine @ w.corner[::-1] == pytest.approx(g.affine @ (0, 0))
    (x0, y0), (x1, y1) = w.grid.affine @ (0, 0), w.grid.affine @ (w.grid.width, w.grid.height)
    (gx0, gy0), (gx1, gy1) = g.affine @ (0, 0), g.affine @ (g.width, g.height)
    assert min(gx0 - x0, y0 - gy0, x1 - gx1, gy1 - y1) >= 5000, (x0, y0, x1, y1)
    with pytest.raises(ValueError, match="factor"):
        type(w)(w.grid, 0, (0, 0))


def test_a_refused_patch_is_cloud_when_half_of_it_lies_under_a_cloud_of_the_wider_look() -> None:
    refused = np.zeros((10, 12), bool)
    refused[0:4, 0:4] = True  # under the wide cloud
    refused[6:10, 8:12] = True  # a quarter under it
    wide_cloud = np.zeros((10, 10), bool)
    wide_cloud[3:5, 3:5] = True  # factor 2, the grid at (3, 3): grid rows/cols 0-3
    wide_cloud[6, 7] = True  # grid rows 6-7, cols 8-9 of the second patch: 4 of its 16
    tw = CloudTwins(wide_cloud, 0, 0, 0, 0, (None, None), 0.0, 100, wide_cloud, np.zeros_like(wide_cloud))
    found, count = clouds_beyond(refused, tw, 2, (3, 3))
    assert count == 1 and found.sum() == 16 and found[0:4, 0:4].all()
    with pytest.raises(ValueError, match="does not fit"):
        clouds_beyond(refused, tw, 2, (5, 5))


def test_a_til_whose_tiles_were_delivered_again_under_it_is_not_read_as_the_ingested_image(tmp_path: Path) -> None:
    # A .TIL is a list of names: its tiles delivered again under it leave its size and time as they were.
    from sitewatch.change_margin import read_wide
    from test_commercial_deliveries import SITE, _tiled_order

    ws = workspace_with_sites(tmp_path / "ws", SITE)
    til, _ = _tiled_order(tmp_path / "012345678010_01_P001_MUL")
    res = CliRunner().invoke(main, ["ingest", SITE.id, str(til), "-w", str(ws.root), "--workers", "1", "--json"])
    assert res.exit_code == 0, res.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    with rasterio.open(ws.root / obs.path) as cog:
        archived = cog.read([cog.descriptions.index(b) + 1 for b in ("blue", "green", "red")]).astype(np.float32)
    wide = wide_grid(obs.grid, 200.0, 6.0)
    names = ("blue", "green", "red")
    _, why = read_wide(obs, archived, names, wide)
    assert "has changed" not in why, why
    before = til.stat()
    _tiled_order(til.parent, dn=301)  # one count more: the image read as the archive's, nearly
    os.utime(til, ns=(before.st_atime_ns, before.st_mtime_ns))
    out, why = read_wide(obs, archived, names, wide)
    assert out is None and why.endswith("has changed since it was ingested (the tiles it lists)"), why


@pytest.mark.parametrize("kind", ["geopackage", "postgis"])
def test_a_pair_whose_source_file_was_away_is_compared_again_once_it_is_back(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    # The sources on a drive not mounted for one run: that run compares the cloud as change, saying why; the next,
    # with the files back and nothing else changed, looks around the site and leaves the cloud out.
    pg_url = request.getfixturevalue("pg_url") if kind == "postgis" else None
    root, files = _berth_pair(tmp_path, 2500.0, pg_url=pg_url)
    away = files[1].rename(tmp_path / "away.tif")
    pair, _ = _change(root)
    assert pair["cloud_left_out"]["refused"] == 1 and "is not there" in pair["cloud_left_out"]["beyond_grid"]["unread"], pair
    away.rename(files[1])
    pair, _ = _change(root)
    # Before, it was kept as stored (its inputs the same), its cloud compared until `change --force`.
    assert not pair["kept"] and pair["cloud_left_out"]["clouds"] == 1 and pair["cloud_left_out"]["refused"] == 0, pair
    assert pair["appeared"] + pair["disappeared"] + pair["altered"] == 0, pair
    pair, _ = _change(root)  # and then kept
    assert pair["kept"] and pair["cloud_left_out"]["clouds"] == 1, pair
