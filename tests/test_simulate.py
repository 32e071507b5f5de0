"""The simulator: scenario reading, determinism, truth, speckle, georeference, CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.features import rasterize
from scipy import ndimage
from shapely.geometry import shape

from sitewatch.errors import InputError
from sitewatch.geo import reproject_geometry, utm_crs_for
from sitewatch.sites import read_sites_file
from sitewatch.sources.scenario import plan_scenes, presence_dates
from sitewatch.sources.simulate import load_scenario, shorten, simulate

SEED_STORY = load_scenario("seed-story")


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """Dunai on 17-18 Oct 2024: SAR both days, Sentinel-2-like and 3 m optical on the 17th."""
    out = tmp_path_factory.mktemp("sim")
    scen = shorten(SEED_STORY, 2, start=date(2024, 10, 17), sites=["dunai"])
    return out, simulate(scen, out, seed=11)


def _read(path: Path) -> tuple[np.ndarray, rasterio.profiles.Profile, dict[str, str], tuple[str | None, ...]]:
    with rasterio.open(path) as src:
        return src.read(), src.profile, src.tags(), src.descriptions


def test_same_seed_gives_byte_identical_files(short_run: tuple[Path, list[Path]], tmp_path: Path) -> None:
    out, paths = short_run
    scen = shorten(SEED_STORY, 2, start=date(2024, 10, 17), sites=["dunai"])
    again = simulate(scen, tmp_path, seed=11)
    assert [p.name for p in again] == [p.name for p in paths]
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for rel in files:
        assert (out / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel
    # A different seed changes the pixels.
    other = simulate(shorten(scen, 1, sites=["dunai"]), tmp_path / "other", seed=12)
    assert other[0].read_bytes() != (out / other[0].relative_to(tmp_path / "other")).read_bytes()


def test_layout_and_scenario_files(short_run: tuple[Path, list[Path]]) -> None:
    out, paths = short_run
    assert [p.name for p in paths] == [
        "sim-planet-dunai-20241017T0040.tif",
        "sim-s2-dunai-20241017T0150.tif",
        "sim-sar-dunai-20241017T0930.tif",
        "sim-sar-dunai-20241018T0930.tif",
    ]
    (site,) = read_sites_file(out / "dunai" / "layout.geojson")
    assert site.id == "dunai" and site.water is not None
    assert {b.id for b in site.berths} == {"pier-east", "pier-west", "quay-north"}
    assert "SIMULATED" in site.note
    resolved = json.loads((out / "scenario.json").read_text(encoding="utf-8"))
    assert resolved["simulated"] is True and resolved["seed"] == 11
    assert "daily" in resolved["revisits"]
    assert [s["scene_id"] for s in resolved["scenes"]] == [p.stem for p in paths]


def test_truth_matches_scenario(short_run: tuple[Path, list[Path]]) -> None:
    out, _ = short_run
    sar = json.loads((out / "dunai" / "sim-sar-dunai-20241017T0930.truth.geojson").read_text(encoding="utf-8"))
    assert sar["properties"] | {"simulated": True} == sar["properties"]
    assert sar["properties"]["sensor"] == "sar" and sar["properties"]["acquired"] == "2024-10-17T09:30:00Z"
    (ship,) = sar["features"]
    p = ship["properties"]
    assert (p["id"], p["kind"], p["class"], p["berth"], p["visible"]) == (
        "alligator-nikolay-vilkov", "vessel", "Alligator", "pier-east", True
    )
    assert (p["length_m"], p["width_m"]) == (113.0, 15.6)
    assert p["heading_deg"] == pytest.approx(0.0, abs=1e-6)  # the pier-east face runs north
    crs = utm_crs_for(132.338, 42.88)
    poly = reproject_geometry(shape(ship["geometry"]), "EPSG:4326", crs)
    assert poly.area == pytest.approx(113.0 * 15.6, rel=0.01)
    hi_res = json.loads((out / "dunai" / "sim-planet-dunai-20241017T0040.truth.geojson").read_text(encoding="utf-8"))
    kinds = {f["properties"]["id"]: f["properties"] for f in hi_res["features"]}
    assert kinds["dunai-crane-1"]["kind"] == "crane" and kinds["dunai-crane-1"]["state"] == "extended"
    assert kinds["dunai-truck-1"]["kind"] == "truck"
    # Cranes and trucks are not drawn (nor listed) at 10 m; the ship left after the 19th.
    s2 = json.loads((out / "dunai" / "sim-s2-dunai-20241017T0150.truth.geojson").read_text(encoding="utf-8"))
    assert [f["properties"]["kind"] for f in s2["features"]] == ["vessel"]
    assert json.loads((out / "dunai" / "sim-sar-dunai-20241018T0930.truth.geojson").read_text(encoding="utf-8"))["features"]


def test_geotiffs_in_utm_covering_site(short_run: tuple[Path, list[Path]]) -> None:
    out, paths = short_run
    site = SEED_STORY.site("dunai")
    crs = utm_crs_for(site.polygon.centroid.x, site.polygon.centroid.y)
    minx, miny, maxx, maxy = reproject_geometry(site.polygon, "EPSG:4326", crs).bounds
    for path in paths:
        data, profile, tags, names = _read(path)
        t = profile["transform"]
        assert profile["crs"].to_string() == crs
        assert t.b == 0 and t.d == 0 and t.e < 0 and t.a == -t.e
        assert t.c <= minx and t.f >= maxy
        assert t.c + t.a * profile["width"] >= maxx and t.f + t.e * profile["height"] <= miny
        assert data.dtype == np.float32
        assert tags["SITEWATCH_SIMULATED"] == "true" and tags["SITEWATCH_SCENE_ID"] == path.stem
        assert tags["SITEWATCH_SITE"] == "dunai" and tags["SITEWATCH_SCENARIO"] == "seed-story-short"
        assert tags["TIFFTAG_DATETIME"].startswith("2024:10:1")
        if tags["SITEWATCH_SENSOR"] == "sar":
            assert names == ("VV",) and t.a == 10 and tags["SITEWATCH_PLATFORM"] == "simulated-sar-constellation"
        elif tags["SITEWATCH_PLATFORM"] == "simulated-sentinel-2":
            assert names == ("blue", "green", "red", "nir", "SCL") and t.a == 10
            assert set(np.unique(data[4])) <= {3.0, 4.0, 5.0, 6.0, 8.0, 9.0, 10.0}
            assert 0.0 <= data[:4].min() and data[:4].max() <= 1.0
        else:
            assert names == ("blue", "green", "red", "nir") and t.a == 3
            assert tags["SITEWATCH_PLATFORM"] == "simulated-planetscope"


def test_speckle_enl_and_ship_contrast(short_run: tuple[Path, list[Path]]) -> None:
    out, _ = short_run
    (site,) = read_sites_file(out / "dunai" / "layout.geojson")
    path = out / "dunai" / "sim-sar-dunai-20241017T0930.tif"
    data, profile, _, _ = _read(path)
    img = data[0].astype(np.float64)
    crs = profile["crs"].to_string()
    water = rasterize([(reproject_geometry(site.water, "EPSG:4326", crs), 1)], out_shape=img.shape,
                      transform=profile["transform"]).astype(bool)
    open_water = ndimage.binary_erosion(water, iterations=15)
    # ENL per 24 x 24 patch of open water (the sea's mean varies slowly in space).
    enls = []
    for r in range(0, img.shape[0] - 24, 24):
        for c in range(0, img.shape[1] - 24, 24):
            if open_water[r : r + 24, c : c + 24].all():
                patch = img[r : r + 24, c : c + 24]
                enls.append(patch.mean() ** 2 / patch.var())
    assert len(enls) >= 10
    assert 4.0 <= float(np.median(enls)) <= 5.2
    # The ship stands well above the sea around it.
    truth = json.loads(path.with_name(path.stem + ".truth.geojson").read_text(encoding="utf-8"))
    hull = reproject_geometry(shape(truth["features"][0]["geometry"]), "EPSG:4326", crs)
    on_ship = rasterize([(hull, 1)], out_shape=img.shape, transform=profile["transform"], all_touched=True).astype(bool)
    sea_db = 10 * np.log10(img[open_water].mean())
    assert 10 * np.log10(img[on_ship].mean()) > sea_db + 10


def test_seed_story_numbers() -> None:
    s = SEED_STORY
    scenes = plan_scenes(s)
    assert len({p.scene_id for p in scenes}) == len(scenes)
    rason = presence_dates(s, "rason", date(2023, 8, 25), date(2024, 2, 15))
    assert len(rason) == 34
    assert not presence_dates(s, "rason", date(2023, 7, 1), date(2023, 8, 24))
    dunai_sar = {p.acquired.date() for p in scenes if p.site == "dunai" and p.series.sensor == "sar"}
    assert {date(2024, 10, 17), date(2024, 10, 20)} <= dunai_sar
    planet = {p.acquired.date() for p in scenes if p.series.platform == "simulated-planetscope"}
    assert {date(2024, 10, 17), date(2024, 10, 20)} <= planet
    vessels = {v.id: v for v in s.vessels}
    alligator = vessels["alligator-nikolay-vilkov"]
    assert (alligator.vessel_class, alligator.length_m, alligator.width_m) == ("Alligator", 113.0, 15.6)
    assert vessels["ropucha-landing-ship"].length_m == 112.5
    cargo = vessels["cargo-rajin-dunai"]
    at_rason = [p.acquired for p in scenes if p.site == "rason" and cargo.visits[0].window.contains(p.acquired)]
    at_dunai = [p.acquired for p in scenes if p.site == "dunai" and cargo.visits[1].window.contains(p.acquired)]
    assert (min(at_dunai).date() - max(at_rason).date()).days == 2


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path


TINY = """
name: tiny
seed: 3
sites:
  - id: dunai
    layout:
      land: [[[-1700, 200], [1700, 200], [1700, 1700], [-1700, 1700]]]
      berths: [{id: quay, line: [[-300, 200], [300, 200]]}]
acquisitions:
  - {name: sar, site: dunai, sensor: sar, start: 2024-10-17, end: 2024-10-18, revisit_days: 1}
vessels:
  - {id: ship, class: general cargo, length_m: 90, width_m: 14,
     visits: [{site: dunai, berth: %s, start: 2024-10-17, end: 2024-10-17}]}
"""


def test_two_runs_into_one_folder_at_once_leave_whole_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Both wrote each scene to the same "<scene>.tif.partial": one renamed the file the other was writing (a torn
    # GeoTIFF, not the bytes of either run) and the other stopped, its own partial file gone ("cannot write the
    # simulated scenes there (No such file or directory)"). Here the second run goes whole between the first's
    # writing of a scene and its renaming of it into place.
    import os

    from sitewatch.sources import simulate as simulate_module

    scenario = load_scenario(_write(tmp_path, TINY % "quay"))
    clean = simulate(scenario, tmp_path / "clean")
    out = tmp_path / "out"
    real_replace = os.replace
    other: list[list[Path]] = []

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if str(dst).endswith(".tif") and not other:
            other.append([])  # (the other run's own renames are the real ones)
            other[0] = simulate(scenario, out)
        real_replace(src, dst)

    monkeypatch.setattr(simulate_module.os, "replace", replace)
    first = simulate(scenario, out)
    monkeypatch.undo()
    assert other and [p.name for p in first] == [p.name for p in other[0]] == [p.name for p in clean]
    for a, b in zip(first, clean, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert not [p.name for p in out.rglob("*") if "partial" in p.name]


def test_the_partial_files_of_a_killed_run_are_removed_and_a_running_ones_kept(tmp_path: Path) -> None:
    # Each run writes under a name of its own (above): a run killed mid-write leaves its hidden partial file,
    # which the next run removes, as ingest does in the archive; one of a run still writing is left alone.
    import os

    from sitewatch.files import partial_owner, partial_path

    host = partial_owner().partition("-")[2]  # this machine, as a partial file's name holds it
    scenario = load_scenario(_write(tmp_path, TINY % "quay"))
    out = tmp_path / "out"
    (out / "dunai").mkdir(parents=True)
    tif = out / "dunai" / "sim-sar-dunai-20241017T0930.tif"
    dead = 99_999_999  # above any process id Linux gives
    killed = [partial_path(tif, f"{dead}-{host}"), partial_path(out / "scenario.json", f"{dead}-{host}"),
              partial_path(out / "dunai" / "layout.geojson", f"{dead}-{host}")]  # fmt: skip
    running = partial_path(tif, f"{os.getppid()}-{host}")  # a process that is running (this one's parent)
    other = out / "dunai" / ".notes.txt.partial"  # not simulate's
    for p in [*killed, running, other]:
        p.write_bytes(b"half")
    simulate(scenario, out)
    left = sorted(p.name for p in out.rglob(".*"))
    assert left == sorted([running.name, other.name]), left


def test_bad_fields_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"bad\.yaml: vessels\[0\]\.visits\[0\]\.berth: 'pier-9' is not a berth"):
        load_scenario(_write(tmp_path, TINY % "pier-9"))
    with pytest.raises(InputError, match=r"bad\.yaml: acquisitions\[0\]\.sensor"):
        load_scenario(_write(tmp_path, (TINY % "quay").replace("sensor: sar", "sensor: lidar")))
    with pytest.raises(InputError, match=r"bad\.yaml: vessels\[0\]\.length_m: expected a positive number"):
        load_scenario(_write(tmp_path, (TINY % "quay").replace("length_m: 90", "length_m: -90")))
    with pytest.raises(InputError, match=r"bad\.yaml: sites\[0\]\.id: 'atlantis' is not a resolved built-in site"):
        load_scenario(_write(tmp_path, (TINY % "quay").replace("id: dunai", "id: atlantis")))
    with pytest.raises(InputError, match=r"name: missing"):
        load_scenario(_write(tmp_path, (TINY % "quay").replace("name: tiny", "")))
    with pytest.raises(InputError, match=r"no such scenario file or packaged scenario"):
        load_scenario("no-such-scenario")


def test_cli_simulate(tmp_path: Path) -> None:
    from sitewatch.cli import main

    path = tmp_path / "tiny.yaml"
    path.write_text(TINY % "quay", encoding="utf-8")
    result = CliRunner().invoke(main, ["-q", "simulate", str(path), "--out", str(tmp_path / "out"), "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out" / "dunai").glob("*.tif")) == [
        "sim-sar-dunai-20241017T0930.tif",
        "sim-sar-dunai-20241018T0930.tif",
    ]
    truth = json.loads((tmp_path / "out" / "dunai" / "sim-sar-dunai-20241017T0930.truth.geojson").read_text(encoding="utf-8"))
    assert truth["features"][0]["properties"]["heading_deg"] == pytest.approx(90.0)
    bad = CliRunner().invoke(main, ["simulate", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "missing.yaml" in bad.output


def test_cli_simulate_lists_its_series_in_columns(tmp_path: Path) -> None:
    """The count of each series lines up however long its site id or series name (the demo's
    `sergeyevka-base planet        5` stood a column out of line with the others)."""
    from sitewatch.cli import main

    path = tmp_path / "tiny.yaml"
    two = (TINY % "quay").replace(
        "acquisitions:\n",
        "acquisitions:\n  - {name: a-long-series-name, site: dunai, sensor: sar, start: 2024-10-17, end: 2024-10-17, revisit_days: 1}\n",
    )
    path.write_text(two, encoding="utf-8")
    res = CliRunner().invoke(main, ["simulate", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    rows = [line for line in res.output.splitlines() if line.startswith("  dunai")]
    assert len(rows) == 2 and len({len(row) for row in rows}) == 1, rows
    assert {row.split()[-1] for row in rows} == {"1", "2"}


def test_cli_simulate_writes_its_ais_into_the_out_folder_it_makes(tmp_path: Path) -> None:
    """README's `sitewatch simulate SCENARIO --out sim/ --ais sim/ais.csv`: --out is a folder simulate makes,
    so --ais may name a file in it; it was refused ("folder sim does not exist") before anything was made.
    An --ais in any other missing folder is still refused, before anything is written."""
    from sitewatch.cli import main

    path = tmp_path / "tiny.yaml"
    path.write_text(TINY % "quay", encoding="utf-8")
    out = tmp_path / "sim"
    res = CliRunner().invoke(main, ["-q", "simulate", str(path), "--out", f"{out}/", "--ais", str(out / "ais.csv")])
    assert res.exit_code == 0, res.output
    assert (out / "ais.csv").read_text(encoding="utf-8").startswith("mmsi,time,lat,lon")
    assert sorted(p.name for p in (out / "dunai").glob("*.tif"))
    other = tmp_path / "other"
    bad = CliRunner().invoke(main, ["simulate", str(path), "--out", str(other), "--ais", str(tmp_path / "nowhere" / "ais.csv")])
    assert bad.exit_code == 2 and "folder" in bad.stderr and "nowhere" in bad.stderr, bad.output
    assert not other.exists()


def test_ships_detectable_end_to_end(short_run: tuple[Path, list[Path]]) -> None:
    """Simulated SAR through the CFAR detector: the ship is found, the quays and land are not.

    The candidate mask is the layout's water eroded by two pixels (coastal
    mixed pixels are land) plus the water within 40 m of a berth line (ships
    alongside), as a detector that knows the site's berths would build it.
    """
    from shapely.ops import unary_union

    from sitewatch.detect.sar import SarParams, detect_sar

    out, _ = short_run
    (site,) = read_sites_file(out / "dunai" / "layout.geojson")
    for day in ("20241017T0930", "20241018T0930"):
        path = out / "dunai" / f"sim-sar-dunai-{day}.tif"
        data, profile, _, _ = _read(path)
        crs, tr, shp = profile["crs"].to_string(), profile["transform"], data[0].shape
        water = rasterize([(reproject_geometry(site.water, "EPSG:4326", crs), 1)], out_shape=shp, transform=tr).astype(bool)
        berths = unary_union([reproject_geometry(b.geometry, "EPSG:4326", crs).buffer(40) for b in site.berths])
        near_berth = rasterize([(berths, 1)], out_shape=shp, transform=tr).astype(bool)
        mask = ndimage.binary_erosion(water, iterations=2) | (near_berth & water)
        dets = detect_sar(data[0], 10.0, water=mask, params=SarParams(refine_water=False, berth_margin_m=0))
        (ship,) = json.loads(path.with_name(path.stem + ".truth.geojson").read_text(encoding="utf-8"))["features"]
        assert len(dets) == 1
        x, y = tr @ (dets[0].col + 0.5, dets[0].row + 0.5)
        hull = reproject_geometry(shape(ship["geometry"]), "EPSG:4326", crs)
        assert hull.buffer(15).contains(shape({"type": "Point", "coordinates": (x, y)}))
        assert abs(dets[0].length_m - 113.0) < 40
