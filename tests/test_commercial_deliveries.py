"""Commercial deliveries as an analyst receives them: a Planet order still in its zip beside other images, and a
Maxar tile without its .IMD, dated by its name (tiny synthetic deliveries made here)."""

from __future__ import annotations

import json
import math
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.testing.planet import udm2_of_classes, write_planet_scene
from sitewatch.workspace import Workspace

SITE = tiny_site("dunai", half_deg=0.003)
CRS, _X, _Y = site_utm_origin(SITE)
P = 3.0
X0, Y0 = math.floor(_X / P) * P, math.ceil(_Y / P) * P
H, W = 300, 260


def _scene(folder: Path, scene_id: str, acquired: str) -> Path:
    """A PSScene delivery (4-band SR, UDM2 and metadata JSON) of harbour water over the whole site."""
    water = np.broadcast_to(np.array([0.045, 0.040, 0.022, 0.012])[:, None, None], (4, H, W)).copy()
    water += np.random.default_rng(int(scene_id[:8])).normal(0, 0.002, water.shape)  # two passes' pixels differ
    udm2 = udm2_of_classes(np.ones((H, W), np.uint8))
    return write_planet_scene(folder, water, udm2, crs=CRS, west=X0, north=Y0, scene_id=scene_id, acquired=acquired)


def _zip_order(order: Path, zip_path: Path) -> None:
    """Pack a Planet order as Planet delivers it: its manifest.json and the PSScene folder of its files."""
    (order / "manifest.json").write_text(json.dumps({"name": "", "files": []}), encoding="utf-8")
    with zipfile.ZipFile(zip_path, "w") as zf:
        for f in sorted(order.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(order).as_posix())


def _ingest(ws: Workspace, *paths: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = CliRunner().invoke(main, ["ingest", SITE.id, *map(str, paths), "-w", str(ws.root), "--workers", "1", "--json"])
    return r.exit_code, json.loads(r.stdout)


def test_a_planet_order_still_in_its_zip_in_a_folder_is_named_not_passed_over(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    incoming = tmp_path / "incoming"
    _scene(incoming / "order_1017" / "PSScene", "20241017_004012_22_2470", "2024-10-17T00:40:12Z")
    packed = tmp_path / "order_1020"
    _scene(packed / "PSScene", "20241020_011530_56_24a3", "2024-10-20T01:15:30Z")
    _zip_order(packed, incoming / "order_1020.zip")
    # A zip of no image (an AIS download) is no delivery of imagery: left alone, as before.
    with zipfile.ZipFile(incoming / "ais_2024_10.zip", "w") as zf:
        zf.writestr("ais.csv", "mmsi,time,lat,lon\n")

    code, out = _ingest(ws, incoming)
    # Before, the zip was passed over in silence (exit 0): the 20 October scene never went in, and nothing said so.
    assert code == 3, out
    assert [o["id"] for o in out["ingested"]] == ["dunai/20241017_004012_22_2470_3B_AnalyticMS_SR_clip"]
    (refused,) = out["refused"] + out["skipped"]
    assert refused["file"] == str(incoming / "order_1020.zip")
    assert "`unzip order_1020.zip -d order_1020`, and give the folder order_1020" in refused["reason"]

    # A folder holding only the zip says so, not "no GeoTIFF files found".
    alone = tmp_path / "alone"
    alone.mkdir()
    (incoming / "order_1020.zip").rename(alone / "order_1020.zip")
    code, out = _ingest(ws, alone)
    assert code == 1 and [r["file"] for r in out["refused"] + out["skipped"]] == [str(alone / "order_1020.zip")], out

    # Unzipped beside it, its scene goes in (UDM2 and metadata JSON with it) and the zip is not named again.
    with zipfile.ZipFile(alone / "order_1020.zip") as zf:
        zf.extractall(alone / "order_1020")
    code, out = _ingest(ws, alone)
    assert code == 0 and out["refused"] == out["skipped"] == [], out
    (obs,) = out["ingested"]
    assert obs["id"] == "dunai/20241020_011530_56_24a3_3B_AnalyticMS_SR_clip" and obs["acquired"] == "2024-10-20T01:15:30Z"


def _maxar_tile(folder: Path, name: str) -> Path:
    """A 4-band Maxar tile of counts over the site, without the .IMD or .XML of its product beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = np.stack([np.full((H, W), 300 + k, np.uint16) for k in range(4)])
    counts += np.uint16(zlib.crc32(name.encode()) % 97)  # each tile's pixels its own: no two are one image copied
    return write_tiff(folder / name, counts, crs=CRS, transform=Affine(P, 0, X0, 0, -P, Y0))


def test_a_maxar_tile_without_its_imd_takes_its_names_acquisition_time(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    tile = _maxar_tile(tmp_path / "mul", "24OCT19011107-M2AS_R1C1-012345678010_01_P001.TIF")
    code, out = _ingest(ws, tile)
    # Before, "no acquisition time in its tags, a sidecar JSON or its name; pass --acquired" (exit 1).
    assert code == 0, out
    (obs,) = out["ingested"]
    assert obs["acquired"] == "2024-10-19T01:11:07Z" and obs["acquired_date_only"] is False
    r = CliRunner().invoke(main, ["show", obs["id"], "-w", str(ws.root), "--json"])
    assert json.loads(r.stdout)["provenance"]["acquired_from"] == "file name (Maxar's acquisition time)"

    # An order number whose digits read as a date (2019-10-15 12:34) no longer dates the image.
    other = _maxar_tile(tmp_path / "mul2", "24OCT20011500-M2AS-201910151234_01_P001.TIF")
    code, out = _ingest(ws, other)
    assert code == 0 and out["ingested"][0]["acquired"] == "2024-10-20T01:15:00Z", out
    # A Polar Geospatial Center name holds the same time twice; a name of a future day is no date.
    pgc = _maxar_tile(tmp_path / "pgc", "WV03_20241021011107_104001009E2D6E00_24OCT21011107-M2AS-012345678010_01_P001_u16ns32653.tif")
    code, out = _ingest(ws, pgc)
    assert code == 0 and out["ingested"][0]["acquired"] == "2024-10-21T01:11:07Z", out
    future = datetime.now(UTC).replace(year=datetime.now(UTC).year + 2).strftime("%y%b%d%H%M%S").upper()
    code, out = _ingest(ws, _maxar_tile(tmp_path / "future", f"{future}-M2AS-012345678010_01_P001.TIF"))
    assert code == 1 and "pass --acquired" in out["refused"][0]["reason"], out
