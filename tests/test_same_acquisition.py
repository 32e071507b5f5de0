"""One acquisition, one observation: a second file of a scene the site holds (a COG copy, another order) is not a second look."""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.workspace import Workspace, init_workspace

SITE = tiny_site()
WHEN = "2024-10-17T09:30:00Z"


def _sar(path: Path, seed: int = 0, platform: str = "", cols: slice = slice(None)) -> Path:
    """A VV image over the site (its columns outside ``cols`` no data), tagged with ``platform`` when given."""
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(seed).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    keep = np.zeros(data.shape, bool)
    keep[:, cols] = True
    data[~keep] = np.nan
    tags = {"SITEWATCH_ACQUIRED": WHEN} | ({"SITEWATCH_PLATFORM": platform} if platform else {})
    return write_tiff(path, data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"], tags=tags)


def _cog_copy(src: Path, dest: Path) -> Path:
    """``src`` written again as a COG (its pixels and tags, other bytes), as `gdal_translate -of COG` makes one."""
    with rasterio.open(src) as r:
        profile = {k: r.profile[k] for k in ("width", "height", "count", "dtype", "crs", "transform", "nodata")}
        with rasterio.open(dest, "w", driver="COG", compress="zstd", **profile) as w:
            w.write(r.read())
            w.update_tags(**r.tags())
            w.set_band_description(1, r.descriptions[0])
    assert dest.read_bytes() != src.read_bytes()
    return dest


@pytest.fixture(params=["geopackage", "postgis"])
def ws(tmp_path: Path, request: pytest.FixtureRequest) -> Workspace:
    """A workspace holding SITE, on either store (PostGIS with SITEWATCH_TEST_POSTGRES set)."""
    if request.param == "geopackage":
        return workspace_with_sites(tmp_path / "ws", SITE)
    ws = init_workspace(tmp_path / "ws", request.getfixturevalue("pg_url"))
    with ws.store() as store:
        store.put_site(SITE)
    return ws


def _ids(ws: Workspace) -> list[str]:
    with ws.store() as store:
        return sorted(o.id for o in store.observations(SITE.id))


@pytest.mark.parametrize("command", ["ingest", "import"])
def test_a_cog_copy_of_a_held_image_is_not_a_second_observation(ws, tmp_path: Path, command: str) -> None:  # type: ignore[no-untyped-def]
    first = _sar(tmp_path / "pier.tif")
    copy = _cog_copy(first, tmp_path / "pier_cog.tif")
    args = [SITE.id] if command == "ingest" else []
    r = CliRunner().invoke(main, ["-q", command, *args, str(first), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["-q", command, *args, str(copy), "-w", str(ws.root)])
    assert _ids(ws) == [f"{SITE.id}/pier"]  # was pier and pier_cog: each vessel counted twice
    assert r.exit_code == 1, r.output  # nothing went in
    assert f"{copy}: the same acquisition as {SITE.id}/pier, from {first.resolve()}" in r.output
    assert "not recorded as a second observation" in r.output
    assert not list((ws.archive / SITE.id).glob("*pier_cog*")) and not list((ws.archive / SITE.id).glob(".*partial"))
    # The held file again: a rerun, replaced as before.
    r = CliRunner().invoke(main, ["-q", command, *args, str(first), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    assert _ids(ws) == [f"{SITE.id}/pier"]


def test_the_same_scene_of_a_named_platform_with_other_pixels_goes_in_once(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The same scene in two orders (another clip, the TOA product beside the SR one): other pixels, one acquisition.
    (tmp_path / "order1").mkdir()
    (tmp_path / "order2").mkdir()
    a = _sar(tmp_path / "order1" / "scene.tif", seed=1, platform="ICEYE-X27")
    b = _sar(tmp_path / "order2" / "scene.tif", seed=2, platform="ICEYE-X27")
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(tmp_path / "order1"), str(tmp_path / "order2"), "-w", str(ws.root)])
    assert r.exit_code == 3, r.output  # one went in, one refused
    assert _ids(ws) == [f"{SITE.id}/scene"]
    assert f"{b}: the same acquisition as {SITE.id}/scene, from {a.resolve()} (ICEYE-X27, sar, taken at 2024-10-17 09:30:00 UTC" in r.output


def test_other_images_of_that_second_still_go_in(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Two unnamed images that differ, two satellites, and two halves of one capture (pieces of one pass) stay apart.
    files = [
        _sar(tmp_path / "mine.tif", seed=1),
        _sar(tmp_path / "theirs.tif", seed=2),
        _sar(tmp_path / "iceye.tif", seed=3, platform="ICEYE-X27"),
        _sar(tmp_path / "capella.tif", seed=4, platform="Capella-14"),
        _sar(tmp_path / "west_tile.tif", seed=5, platform="Umbra-08", cols=slice(0, 110)),
        _sar(tmp_path / "east_tile.tif", seed=6, platform="Umbra-08", cols=slice(110, None)),
    ]
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *map(str, files), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    assert _ids(ws) == sorted(f"{SITE.id}/{f.stem}" for f in files)


def test_observations_names_an_acquisition_a_workspace_holds_twice(ws, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A workspace made before such copies were refused holds both: `observations` says so, with the pairs in --json."""
    import json

    import sitewatch.ingest.archive as archive

    (tmp_path / "order1").mkdir()
    (tmp_path / "order2").mkdir()
    a = _sar(tmp_path / "order1" / "scene.tif", seed=1, platform="ICEYE-X27")
    b = _sar(tmp_path / "order2" / "scene.tif", seed=2, platform="ICEYE-X27")
    apart = _sar(tmp_path / "other.tif", seed=3, platform="Capella-14")
    monkeypatch.setattr(archive, "held_acquisition", lambda *args: None)  # as ingest recorded them before
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(a), str(b), str(apart), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    ids = _ids(ws)
    assert len(ids) == 3
    r = CliRunner().invoke(main, ["observations", SITE.id, "-w", str(ws.root)], env={"COLUMNS": "200"})
    twins = sorted(i for i in ids if not i.endswith("/other"))
    assert f"held twice: {twins[0]} and {twins[1]} are one acquisition (ICEYE-X27, sar, 2024-10-17 09:30 UTC)" in r.output, r.output
    rows = {row["id"]: row for row in json.loads(CliRunner().invoke(main, ["observations", SITE.id, "--json", "-w", str(ws.root)]).stdout)}
    assert rows[twins[0]]["same_acquisition"] == [twins[1]] and rows[f"{SITE.id}/other"]["same_acquisition"] is None
    # The way it gives to keep one, followed: the other is gone, and so is the note.
    said = " ".join(r.output.split())
    step = said.split("keep one: `")[1].split("`")[0]
    assert step == f"sitewatch observations remove {twins[1]}"
    assert CliRunner().invoke(main, [*shlex.split(step)[1:], "-w", str(ws.root)]).exit_code == 0
    r = CliRunner().invoke(main, ["observations", SITE.id, "-w", str(ws.root)], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "held twice" not in r.output and sorted(_ids(ws)) == sorted([twins[0], f"{SITE.id}/other"])


def test_the_refusal_says_how_to_keep_the_other_file_and_that_way_works(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The refusal named both files but not how to keep the refused one's image instead (README did: put it at the
    held file's path and ingest that again); it says so now, with the command, and the command does it."""
    (tmp_path / "order1").mkdir()
    (tmp_path / "order2").mkdir()
    a = _sar(tmp_path / "order1" / "scene.tif", seed=1, platform="ICEYE-X27")
    b = _sar(tmp_path / "order2" / "scene.tif", seed=2, platform="ICEYE-X27")
    assert CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(a), "-w", str(ws.root)]).exit_code == 0
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(b), "-w", str(ws.root)])
    assert r.exit_code == 1, r.output
    way = f"to keep this file's image instead, put it at {a.resolve()} and run `sitewatch ingest {SITE.id} {a.resolve()}` again"
    assert way in " ".join(r.output.split()), r.output
    a.write_bytes(b.read_bytes())  # the way it names
    assert CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(a.resolve()), "-w", str(ws.root)]).exit_code == 0
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.provenance["source_sha256"] == hashlib.sha256(b.read_bytes()).hexdigest()  # b's image, in a's place
    # Held from band files: the same way with --band; fetched from a catalogue: no file to put it at, nothing said.
    import dataclasses

    from sitewatch.ingest.archive import _keep_other_way

    bands = dataclasses.replace(obs, provenance={"band_files": {"vv": {"path": "/d/vv.tif"}, "vh": {"path": "/d/vh.tif"}}})
    assert f"run `sitewatch ingest {SITE.id} --band vv=/d/vv.tif --band vh=/d/vh.tif` again" in _keep_other_way(bands)
    assert _keep_other_way(dataclasses.replace(obs, provenance={"catalog": "earth-search", "item_id": "S1A_X"})) == ""


def test_the_command_it_advises_holds_a_path_with_spaces_as_one_argument(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The advised command was written with its paths bare: copied from the message, `sitewatch ingest tiny
    /data/my order 1/scene.tif` is three files, none of them there. Each path is quoted as a shell reads it."""
    import shlex

    from sitewatch.ingest.archive import _keep_other_way

    (tmp_path / "my order 1").mkdir()
    (tmp_path / "o2").mkdir()
    a = _sar(tmp_path / "my order 1" / "scene.tif", seed=1, platform="ICEYE-X27")
    b = _sar(tmp_path / "o2" / "scene.tif", seed=2, platform="ICEYE-X27")
    assert CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(a), "-w", str(ws.root)]).exit_code == 0
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(b), "-w", str(ws.root)])
    assert r.exit_code == 1, r.output
    advised = " ".join(r.output.split()).split("`")[1]
    assert shlex.split(advised) == ["sitewatch", "ingest", SITE.id, str(a.resolve())], advised
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    import dataclasses

    bands = dataclasses.replace(obs, provenance={"band_files": {"vv": {"path": "/d/my vv.tif"}, "vh": {"path": "/d/vh.tif"}}})
    advised = _keep_other_way(bands).split("`")[1]
    assert shlex.split(advised) == ["sitewatch", "ingest", SITE.id, "--band", "vv=/d/my vv.tif", "--band", "vh=/d/vh.tif"], advised


@pytest.mark.parametrize("as_zip", [False, True], ids=["safe-folder", "zip"])
def test_held_from_a_product_the_advice_is_one_that_works(ws, tmp_path: Path, as_zip: bool) -> None:  # type: ignore[no-untyped-def]
    """Held from a Sentinel-1 product's .SAFE folder or .zip, the refusal advised putting the GeoTIFF at that path:
    a GeoTIFF at a .zip path is refused as a damaged zip (and one at a folder's path is not a folder). It says so, and
    gives the way that does work, which the test follows to the end."""
    from sitewatch.testing.safe import write_s1_grd_safe

    crs, x0, y0 = site_utm_origin(SITE)
    dn = np.random.default_rng(3).integers(40, 90, (260, 220)).astype(np.uint16)
    (tmp_path / "s1").mkdir()
    product = write_s1_grd_safe(tmp_path / "s1", {"VV": dn}, crs=crs, west=x0, north=y0, as_zip=as_zip)
    assert CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(product), "-w", str(ws.root)]).exit_code == 0
    with ws.store() as store:
        (held,) = store.observations(SITE.id)
    # The same pass as a terrain-corrected GeoTIFF (another processor's), tagged with its platform and time.
    rtc = _sar(tmp_path / "rtc.tif", seed=4, platform="sentinel-1a")
    with rasterio.open(rtc, "r+") as r:
        r.update_tags(SITEWATCH_ACQUIRED="2024-10-17T09:30:05Z")
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(rtc), "-w", str(ws.root)])
    assert r.exit_code == 1, r.output
    said = " ".join(r.output.split())
    assert f"the same acquisition as {held.id}" in said, said
    assert f"put it at {product.resolve()}" not in said
    kind = "its zip" if as_zip else "its folder or file"
    assert f"this file (an image file) is not of the kind of {product.resolve()} (a Sentinel-1 product ({kind}))" in said
    if as_zip:  # the old advice, followed: the GeoTIFF at the zip's path is read as a damaged zip
        kept = product.read_bytes()
        product.write_bytes(rtc.read_bytes())
        followed = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(product), "-w", str(ws.root)])
        assert followed.exit_code == 1 and "not a readable zip file" in followed.output, followed.output
        product.write_bytes(kept)
    # The way it gives: the held observation removed (it was the site's whole history: `sites remove
    # --with-observations` and an import of the sites again), then this file ingested.
    steps = [s for s in said.split("`") if s.startswith("sitewatch ")]
    assert steps == [f"sitewatch observations remove {shlex.quote(held.id)}",
                     f"sitewatch ingest {SITE.id} {shlex.quote(str(rtc.resolve()))}"], steps
    for step in steps:
        got = CliRunner().invoke(main, ["-q", *shlex.split(step)[1:], "-w", str(ws.root)])
        assert got.exit_code == 0, (step, got.output)
    assert not (ws.root / held.path).exists()
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.provenance["source_path"] == str(rtc.resolve())
