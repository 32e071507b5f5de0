"""A Planet scene's UDM2 is its cloud mask in ingest, import, detect and detect-image, as SCL is a
Sentinel-2 scene's: tiny PSScene deliveries made here (4-band uint16 SR, 8-band UDM2, metadata JSON)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from numpy.typing import NDArray

from sitewatch.cli import main
from sitewatch.detect.clouds import SCL_HIDDEN, udm2_to_scl
from sitewatch.detection import detect_site
from sitewatch.ingest import site_mask
from sitewatch.sources.planet import is_udm2, udm2_sibling
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites
from sitewatch.testing.planet import udm2_of_classes, write_planet_scene
from sitewatch.workspace import Workspace
from test_optical import QUAY, WATER, coverage

SITE = tiny_site("port", half_deg=0.006)
P = 3.0
CRS, _X, _Y = site_utm_origin(SITE)
X0, Y0 = math.floor(_X / P) * P, math.ceil(_Y / P) * P  # on the site grid's 3 m lattice: no resampling
H, W = 560, 460
SHIPS = {"cloud": (450.0, 300.0), "shadow": (450.0, 1450.0), "clear": (750.0, 870.0)}
"""Ships at anchor (x, y in metres from the image's corner): under UDM2 cloud, in UDM2 shadow
1,000 m from that cloud, and in the clear."""
CLOUD, SHADOW, GLINT = (slice(50, 150), slice(100, 200)), (slice(450, 530), slice(100, 200)), (slice(250, 330), slice(70, 150))


def _scene() -> tuple[NDArray[np.float64], NDArray[np.uint8]]:
    """Reflectance and UDM2 of a 3 m PlanetScope scene: harbour water, a quay to the east, three ships.

    The UDM2's cloud lies over a ship that the image shows plainly (thin cloud the spectral test
    cannot see), its shadow 1 km south of it darkens a second ship's water, and a patch of sun glint
    (bright, white sea) that the spectral test takes for cloud is clear in the UDM2.
    """
    img = np.broadcast_to(WATER[:, None, None], (4, H, W)).copy()
    img[:, :, 330:] = QUAY[:, None, None]
    for cx, cy in SHIPS.values():
        c = coverage(max(H, W), P, cx, cy, 120.0, 18.0, 30.0)[:H, :W]
        img = img * (1 - c) + np.array([0.20, 0.21, 0.22, 0.25])[:, None, None] * c
    img[(slice(None), *SHADOW)] *= 0.6
    img[(slice(None), *GLINT)] = np.array([0.50, 0.52, 0.53, 0.45])[:, None, None]
    img += np.random.default_rng(1).normal(0, 0.003, img.shape)
    classes = np.ones((H, W), np.uint8)
    classes[CLOUD] = 6
    classes[SHADOW] = 3
    return img, udm2_of_classes(classes)


def _delivery(folder: Path, *, udm2: bool = True, clip: bool = True) -> Path:
    img, mask = _scene()
    return write_planet_scene(folder, img, mask if udm2 else None, crs=CRS, west=X0, north=Y0, clip=clip)


def _near(features: list[dict], ship: str) -> list[dict]:  # type: ignore[type-arg]
    x, y = SHIPS[ship]
    return [f for f in features if abs(f["properties"]["col"] * P - x) < 20 and abs(f["properties"]["row"] * P - y) < 20]


def _detect_image(tmp_path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    out = tmp_path / "d.geojson"
    r = CliRunner().invoke(main, ["detect-image", *args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return dict(json.loads(out.read_text(encoding="utf-8")))


def test_udm2_classes_read_as_scl() -> None:
    classes = np.array([[1, 2, 3, 4, 5, 6, 1, 1, 1]])
    flags = np.array([[0, 0, 0, 0, 0, 0, 0b1, 0b10, 0b100]])  # blackfill, UDM1's own cloud test, suspect band 1
    scl = udm2_to_scl(udm2_of_classes(classes, flags))
    assert scl.tolist() == [[7, 11, 3, 7, 8, 9, 0, 7, 0]]
    hidden = np.isin(scl, SCL_HIDDEN)[0].tolist()
    # Hidden: shadow, heavy haze, cloud, blackfill, suspect data. Seen: clear, snow, light haze, UDM1's cloud bit.
    assert hidden == [False, False, True, False, True, True, True, False, True]
    with pytest.raises(ValueError, match="8 bands"):
        udm2_to_scl(np.zeros((4, 2, 2), np.uint8))


def test_the_udm2_is_found_by_planets_names(tmp_path: Path) -> None:
    clipped = _delivery(tmp_path / "order")
    whole = _delivery(tmp_path / "order", clip=False)
    assert udm2_sibling(clipped) == tmp_path / "order" / "20241017_012345_22_2470_3B_udm2_clip.tif"
    assert udm2_sibling(whole) == tmp_path / "order" / "20241017_012345_22_2470_3B_udm2.tif"
    assert is_udm2(udm2_sibling(whole)) and not is_udm2(whole)  # type: ignore[arg-type]
    other = tmp_path / "order" / "20241018_012345_22_2470_3B_AnalyticMS_SR_clip.tif"  # another scene's id
    shutil.copy(clipped, other)
    assert udm2_sibling(other) is None


def test_detect_image_takes_the_udm2_beside_a_planet_file_instead_of_the_spectral_test(tmp_path: Path) -> None:
    image = _delivery(tmp_path / "with")
    fc = _detect_image(tmp_path, str(image))
    meta = fc["sitewatch"]
    assert meta["cloud_mask"]["from"] == "udm2" and "found beside the image" in meta["cloud_mask"]["how"]
    assert meta["cloud_mask"]["path"].endswith("_3B_udm2_clip.tif")
    # The ships under the UDM2's cloud and in its shadow are not reported; the one in the clear is.
    assert _near(fc["features"], "cloud") == [] and _near(fc["features"], "shadow") == []
    assert len(_near(fc["features"], "clear")) == 1
    _, mask = _scene()
    assert meta["cloud_fraction"] == round(float(np.isin(udm2_to_scl(mask), SCL_HIDDEN).mean()), 4)

    # The same image delivered without its UDM2: the spectral test sees neither that cloud nor
    # that shadow, and takes the glint for cloud.
    alone = _detect_image(tmp_path, str(_delivery(tmp_path / "without", udm2=False)), "--sensor", "optical")
    assert alone["sitewatch"]["cloud_mask"] == {"from": "spectral test"}
    assert len(_near(alone["features"], "cloud")) == 1 and len(_near(alone["features"], "shadow")) == 1
    assert alone["sitewatch"]["cloud_fraction"] > meta["cloud_fraction"] + 0.02


def test_detect_image_band_udm2_names_the_mask(tmp_path: Path) -> None:
    image = _delivery(tmp_path / "order", udm2=False)
    delivered = udm2_sibling(_delivery(tmp_path / "elsewhere"))
    assert delivered is not None
    renamed = delivered.rename(tmp_path / "mask.tif")
    fc = _detect_image(tmp_path, str(image), "--band", f"udm2={renamed}")
    assert fc["sitewatch"]["cloud_mask"] == {"from": "udm2", "path": str(renamed), "how": "--band udm2"}
    assert _near(fc["features"], "cloud") == [] and len(_near(fc["features"], "clear")) == 1
    # One file a band, with the mask among them.
    with rasterio.open(image) as src:
        profile, data = src.profile | {"count": 1}, src.read()
    bands = []
    for i, name in enumerate(("blue", "green", "red", "nir")):
        with rasterio.open(tmp_path / f"{name}.tif", "w", **profile) as dst:
            dst.write(data[i], 1)
        bands += ["--band", f"{name}={tmp_path / f'{name}.tif'}"]
    fc = _detect_image(tmp_path, *bands, "--band", f"udm2={renamed}")
    assert fc["sitewatch"]["cloud_mask"]["how"] == "--band udm2"
    assert _near(fc["features"], "shadow") == [] and len(_near(fc["features"], "clear")) == 1


def _misfit(path: Path, *, bands: int = 8, shift: float = 0.0) -> None:
    """Write over ``path`` a UDM2 with ``bands`` bands, or moved ``shift`` metres east."""
    with rasterio.open(path) as src:
        profile = src.profile
    profile |= {"count": bands, "transform": profile["transform"] @ rasterio.Affine.translation(shift / P, 0)}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.zeros((bands, profile["height"], profile["width"]), np.uint8))


@pytest.mark.parametrize("misfit", [{"bands": 4}, {"shift": 30.0}], ids=["4-bands", "another-grid"])
def test_a_udm2_that_does_not_fit_the_image_is_refused_by_name(tmp_path: Path, ws: Workspace, misfit: dict) -> None:  # type: ignore[type-arg]
    image = _delivery(tmp_path / "order")
    udm2 = udm2_sibling(image)
    assert udm2 is not None
    _misfit(udm2, **misfit)
    r = CliRunner().invoke(main, ["detect-image", str(image), "--out", str(tmp_path / "d.geojson")])
    assert r.exit_code != 0 and str(udm2) in r.output and not (tmp_path / "d.geojson").exists()
    assert ("4 band(s)" if "bands" in misfit else "not on the grid") in r.output
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image), "-w", str(ws.root)])
    assert r.exit_code == 1 and str(udm2) in r.output
    with ws.store() as store:
        assert store.observations(SITE.id) == []
    assert list((ws.archive / SITE.id).glob("*")) == []


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return workspace_with_sites(tmp_path / "ws", SITE)


def test_ingest_archives_the_udm2_as_the_cloud_mask_and_detect_uses_it(tmp_path: Path, ws: Workspace) -> None:
    image = _delivery(tmp_path / "order")
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(image.parent), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output  # the UDM2 in the folder went in with its image, not as an image
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.id == f"{SITE.id}/20241017_012345_22_2470_3B_AnalyticMS_SR_clip"
    assert obs.provenance["bands"] == ["blue", "green", "red", "nir", "SCL"]
    assert obs.provenance["cloud_mask"]["from"] == "udm2" and obs.provenance["cloud_mask"]["path"].endswith("_udm2_clip.tif")
    assert "UDM2" in obs.provenance["cloud_rule"] and obs.scene.platform == "planetscope"
    detect_site(ws, SITE.id, workers=1)
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
        dets = store.detections(observation_id=obs.id)
    # The cloud fraction is the UDM2's over the site's pixels (the archive's grid lies on the image's).
    _, mask = _scene()
    hidden = np.isin(udm2_to_scl(mask), SCL_HIDDEN)
    t = obs.grid.affine
    r0, c0 = round((Y0 - t.f) / P), round((t.c - X0) / P)
    on_grid = hidden[r0 : r0 + obs.grid.height, c0 : c0 + obs.grid.width]
    inside = site_mask(SITE, obs.grid)
    assert obs.cloud_fraction == pytest.approx(float(on_grid[inside].mean()), abs=1e-6)
    assert obs.cloud_fraction == round(obs.cloud_fraction, 6) and 0.03 < obs.cloud_fraction < 0.2

    def near(ship: str) -> int:
        x, y = SHIPS[ship]
        at = [(t @ (d.col + 0.5, d.row + 0.5)) for d in dets]
        return sum(abs(px - (X0 + x)) < 20 and abs(py - (Y0 - y)) < 20 for px, py in at)

    assert (near("cloud"), near("shadow"), near("clear")) == (0, 0, 1)


def test_a_udm2_alone_is_not_an_image(tmp_path: Path, ws: Workspace) -> None:
    udm2 = udm2_sibling(_delivery(tmp_path / "order"))
    assert udm2 is not None
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(udm2), "-w", str(ws.root)])
    assert r.exit_code == 1 and f"{udm2}: a Planet usable data mask (UDM2), not an image" in r.output
    r = CliRunner().invoke(main, ["-q", "import", str(udm2), "-w", str(ws.root)])
    assert r.exit_code == 1 and str(udm2) in r.output
    # Beside another image that is not its scene's, it is named, and the image goes in.
    other = _delivery(tmp_path / "other", udm2=False)
    r = CliRunner().invoke(main, ["-q", "import", str(udm2), str(other), "-w", str(ws.root)])
    assert r.exit_code == 3 and f"refused {udm2}: a Planet usable data mask" in r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert "cloud_mask" not in obs.provenance and obs.provenance["bands"] == ["blue", "green", "red", "nir"]


def test_import_takes_the_udm2_with_its_image(tmp_path: Path, ws: Workspace) -> None:
    image = _delivery(tmp_path / "order")
    r = CliRunner().invoke(main, ["-q", "import", str(image.parent), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.provenance["cloud_mask"]["from"] == "udm2" and obs.provenance["bands"][-1] == "SCL"


def test_ingest_band_udm2_says_to_give_the_image(tmp_path: Path, ws: Workspace) -> None:
    image = _delivery(tmp_path / "order")
    r = CliRunner().invoke(main, ["ingest", SITE.id, "--band", f"green={image}", "--band", f"red={image}",
                                  "--band", f"udm2={udm2_sibling(image)}", "-w", str(ws.root)])  # fmt: skip
    assert r.exit_code != 0 and "--band udm2=" in r.output and "give the image" in r.output


def test_an_8_band_planet_file_goes_in_by_its_band_names(tmp_path: Path, ws: Workspace) -> None:
    """PlanetScope's 8-band SR files name their bands; read by count, ingest took coastal blue for
    blue, green I for green, yellow for red and green II for NIR."""
    img, mask = _scene()
    four = write_planet_scene(tmp_path / "order", img, mask, crs=CRS, west=X0, north=Y0)
    names = ("coastal_blue", "blue", "green_i", "green", "yellow", "red", "rededge", "nir")
    eight = four.with_name(four.name.replace("_SR_clip", "_SR_8b_clip"))
    with rasterio.open(four) as src:
        profile, data = src.profile | {"count": 8}, src.read()
    with rasterio.open(eight, "w", **profile) as dst:
        dst.write(np.stack([data[0] // 2, data[0], data[1] // 2, data[1], data[2] // 2, data[2], data[3] // 2, data[3]]))
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name)
    four.unlink()
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(eight), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.provenance["bands"] == [*names, "SCL"] and obs.provenance["cloud_mask"]["from"] == "udm2"
    with rasterio.open(ws.root / obs.path) as cog:
        blue = cog.read(2)
    t = obs.grid.affine
    r0, c0 = round((Y0 - t.f) / P), round((t.c - X0) / P)
    expect = data[0][r0 : r0 + obs.grid.height, c0 : c0 + obs.grid.width] / 10_000
    inside = np.isfinite(blue)
    assert np.allclose(blue[inside], expect[inside], atol=1e-6)


def test_setting_masks_apart_lists_a_folder_once_not_once_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A daily import of a folder that keeps every download: each file's UDM2 was looked for by listing the
    # folder again (1,102 files, 1.2 M name matches, 1.35 s at a year of daily scenes; the square of the files).
    from sitewatch.sources import planet

    files = []
    for i in range(30):
        f = tmp_path / f"scene_202501{i + 1:02d}T093000.tif"
        f.write_bytes(b"")
        files.append(f)
    asked: list[Path] = []
    real = planet.udm2_sibling
    monkeypatch.setattr(planet, "udm2_sibling", lambda p: asked.append(p) or real(p))
    images, alone = planet.udm2_apart(files)
    assert images == files and alone == [] and asked == []
    # a folder that holds a UDM2: its image's mask is still found, and a mask alone still named
    img = tmp_path / "20241017_012345_22_2470_3B_AnalyticMS_SR_clip.tif"
    mask = tmp_path / "20241017_012345_22_2470_3B_udm2_clip.tif"
    img.write_bytes(b"")
    mask.write_bytes(b"")
    images, alone = planet.udm2_apart([*files, img, mask])
    assert images == [*files, img] and alone == []
    images, alone = planet.udm2_apart([*files, mask])
    assert images == files and [f for f, _ in alone] == [mask]


def test_the_udm2_s_cloud_share_over_the_site_is_known_from_ingest_before_detect(tmp_path: Path) -> None:
    site = tiny_site("dunai", half_deg=0.003)
    crs, x, y = site_utm_origin(site)
    h, w = 300, 260
    classes = np.ones((h, w), np.uint8)
    classes[:, w // 4 : w // 2] = 6  # a band of cloud across the image
    water = np.broadcast_to(np.array([0.045, 0.040, 0.022, 0.012])[:, None, None], (4, h, w)).copy()
    write_planet_scene(tmp_path / "order", water, udm2_of_classes(classes), crs=crs, west=x - 20.0, north=y + 20.0,
                       scene_id="20241017_004012_22_2470", acquired="2024-10-17T00:40:12Z")  # fmt: skip
    ws = workspace_with_sites(tmp_path / "ws", site)
    r = CliRunner().invoke(main, ["ingest", site.id, str(tmp_path / "order"), "-w", str(ws.root), "--workers", "1", "--json"])
    assert r.exit_code == 0, r.output
    (obs,) = json.loads(r.stdout)["ingested"]
    # Before, cloud was unknown (None, shown "–") until `detect` ran, though the UDM2 said it at ingest.
    (row,) = json.loads(CliRunner().invoke(main, ["observations", site.id, "-w", str(ws.root), "--json"]).stdout)
    with ws.store() as store:
        held = store.get_observation(obs["id"])
    with rasterio.open(ws.root / held.path) as cog:
        scl = cog.read(cog.descriptions.index("SCL") + 1)
    inside = site_mask(site, held.grid)
    share = float(np.isin(scl[inside], (3, 8, 9, 10)).sum() / np.isin(scl[inside], (0, 1), invert=True).sum())
    assert 0.05 < share < 0.95  # the cloud lies over part of the site
    assert held.cloud_fraction == pytest.approx(share, abs=1e-6) and row["cloud_pct"] == round(100 * share, 1), row
    shown = json.loads(CliRunner().invoke(main, ["show", obs["id"], "-w", str(ws.root), "--json"]).stdout)
    assert shown["cloud_fraction"] == pytest.approx(share, abs=1e-6) and shown["provenance"]["cloud_mask"]["from"] == "udm2"
    assert shown["provenance"]["cloud_fraction_from"].startswith("ingest: the share of the site's data pixels"), shown
    table = CliRunner().invoke(main, ["observations", site.id, "-w", str(ws.root)]).output
    assert f"/ {round(100 * share, 1)}" in table, table  # "valid / cloud %": was "100.0 / –"
