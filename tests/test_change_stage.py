"""`sitewatch change` on a small workspace, and the changes layer: stored whole, replaced on a rerun,
indexed as every layer is, added to an older workspace when it is opened."""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from scipy import ndimage
from shapely.geometry import Point, box

from _a11y import elements
from _old_store import old_database
from sitewatch.change import METHOD_VERSIONS
from sitewatch.cli import main
from sitewatch.geo import reproject_geometry
from sitewatch.model import Change
from sitewatch.store import Store
from sitewatch.store.changes import replace_changes
from sitewatch.store.gpkg import as_multipolygon
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff

BANDS = ("blue", "green", "red", "nir")


def _scene(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    texture = ndimage.gaussian_filter(rng.normal(size=shape), 4) * 8
    return np.array([0.06, 0.08, 0.09, 0.25])[:, None, None] * (1 + 0.3 * texture)


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Point]:
    """A site with three 10 m optical images (1, 5 and 9 October; a 150 × 150 m patch is dug on the
    5th: ground dug bare, brighter than the field, too dim and too brown for a cloud) and one SAR image of 5 October on the same grid. Returns the workspace and the patch's centre (lon/lat)."""
    site = tiny_site("base")
    ws = workspace_with_sites(tmp_path / "ws", site)
    crs, x0, y0 = site_utm_origin(site)
    shape = (260, 200)
    rng = np.random.default_rng(11)
    ground = _scene(rng, shape)
    files = []
    for day, roof in (("20241001", False), ("20241005", True), ("20241009", True)):
        img = ground.copy()
        if roof:
            img[:, 120:135, 90:105] = np.array([0.12, 0.14, 0.18, 0.22])[:, None, None]  # dug, bare ground
        img = img * rng.uniform(0.9, 1.1, (4, 1, 1)) + rng.normal(0, 0.003, ground.shape)  # another day's light
        files.append(write_tiff(tmp_path / f"base_{day}.tif", img.astype(np.float32), crs=crs,
                                transform=Affine(10, 0, x0, 0, -10, y0), descriptions=BANDS))  # fmt: skip
    sar = (0.1 * rng.gamma(4.6, 1 / 4.6, shape)).astype(np.float32)
    sar_file = write_tiff(tmp_path / "s1_20241005.tif", sar, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=("VV",))
    runner = CliRunner()
    res = runner.invoke(main, ["ingest", "base", *map(str, files), "--sensor", "optical", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["ingest", "base", str(sar_file), "--sensor", "sar", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    centre = reproject_geometry(Point(x0 + 97.5 * 10, y0 - 127.5 * 10), crs, "EPSG:4326")
    return ws.root, centre


def _rows(root: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(root / "sitewatch.gpkg")) as db:
        return db.execute(sql).fetchall()


def test_the_library_records_the_change_run_as_the_command_does(workspace: tuple[Path, Point]) -> None:
    """``run_changes`` called from Python (as the demo calls it) recorded no row in ``runs``, which the report's
    provenance reads: the command's record was in the command. Now the library records it, with how the pairs
    were chosen when the command says."""
    from sitewatch.change_stage import choose_pairs, run_changes
    from sitewatch.store import Store

    root, _ = workspace
    with Store(root / "sitewatch.gpkg") as store:
        site = store.get_site("base")
        pairs, _ = choose_pairs(store.observations("base"), "base", None, None)
        outcomes, errors = run_changes(store, root, site, pairs, min_area_m2=100.0)
    [(parameters, summary)] = _rows(root, "SELECT parameters, summary FROM runs WHERE stage = 'change'")
    assert json.loads(parameters) == {"min_area_m2": 100.0, "cover_classes": 6, "learned": True, "with_detections": False,
                                      "shadow_twins": False, "force": False}  # fmt: skip
    assert json.loads(summary) == {"pairs": len(outcomes), "compared": len(outcomes), "kept": 0,
                                   "regions": sum(len(o.changes) for o in outcomes), "errors": errors}  # fmt: skip
    assert CliRunner().invoke(main, ["change", "base", "--after", "2024-10-09", "-w", str(root)]).exit_code == 0
    last = json.loads(_rows(root, "SELECT parameters FROM runs WHERE stage = 'change' ORDER BY run_id DESC LIMIT 1")[0][0])
    assert last["before"] is None and last["after"] == "2024-10-09" and last["min_area_m2"] == 200.0


def test_change_finds_the_dug_ground_between_the_first_two_dates_and_a_rerun_replaces_its_rows(workspace: tuple[Path, Point], tmp_path: Path) -> None:
    root, centre = workspace
    runner = CliRunner()
    out = tmp_path / "changes.geojson"
    res = runner.invoke(main, ["change", "base", "--json", "--out", str(out), "-w", str(root)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    pairs = {(p["before"][-8:], p["after"][-8:]): p for p in doc["pairs"]}
    assert set(pairs) == {("20241001", "20241005"), ("20241005", "20241009")}  # optical only: SAR has no pair
    first = pairs[("20241001", "20241005")]
    assert (first["appeared"], first["disappeared"], first["altered"]) == (1, 0, 0)
    assert first["compared_fraction"] == 1.0 and first["method"].startswith("irmad-cva")
    assert pairs[("20241005", "20241009")]["appeared"] == 0
    fc = json.loads(out.read_text(encoding="utf-8"))
    (feature,) = fc["features"]
    from shapely.geometry import shape

    assert shape(feature["geometry"]).buffer(1e-4).contains(centre)
    assert feature["properties"]["direction"] == "appeared" and feature["properties"]["simulated"] is False
    before = _rows(root, "SELECT change_id, area_m2 FROM changes ORDER BY change_id")
    assert len(before) == 1 and _rows(root, "SELECT count(*) FROM change_pairs") == [(2,)]
    # Again: the same rows, not twice the rows; the spatial index follows.
    res = runner.invoke(main, ["change", "base", "-w", str(root)])
    assert res.exit_code == 0, res.output
    assert "1 appeared, 0 disappeared, 0 altered" in res.output
    # Each pair names its series by pixel size and sensor (it said "optical": a 3 m and a 10 m pair read alike).
    assert "base 2024-10-01 -> 2024-10-05 10 m optical: compared 100% of the site" in res.output
    assert first["resolution_m"] == 10.0
    assert _rows(root, "SELECT change_id, area_m2 FROM changes ORDER BY change_id") == before
    assert _rows(root, "SELECT count(*) FROM change_pairs") == [(2,)]
    assert _rows(root, "SELECT count(*) FROM rtree_changes_geom") == [(1,)]


def test_change_out_carries_the_properties_export_gives_each_region(workspace: tuple[Path, Point], tmp_path: Path) -> None:
    # `change --out` wrote "site", "before", "after" and no image or hash, where `export --layer changes` of the
    # same regions writes site_id, before_id, after_id, each image and its sha256: two schemas for one region.
    root, _ = workspace
    out = tmp_path / "c.geojson"
    assert CliRunner().invoke(main, ["change", "base", "--out", str(out), "-w", str(root)]).exit_code == 0
    res = CliRunner().invoke(main, ["export", "base", "--layer", "changes", "--out", "-", "-w", str(root)])
    assert res.exit_code == 0, res.output
    exported = {f["properties"]["change_id"]: f for f in json.loads(res.stdout)["features"]}
    written = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert written and {f["properties"]["change_id"]: f for f in written} == exported
    props = written[0]["properties"]
    assert props["before_image"].startswith("archive/base/") and len(props["after_sha256"]) == 64


def test_before_and_after_by_date_or_id(workspace: tuple[Path, Point]) -> None:
    root, _ = workspace
    runner = CliRunner()
    res = runner.invoke(main, ["change", "base", "--before", "2024-10-01", "--after", "base/base_20241009", "--json", "-w", str(root)])
    assert res.exit_code == 0, res.output
    (pair,) = json.loads(res.stdout)["pairs"]
    assert pair["before"] == "base/base_20241001" and pair["after"] == "base/base_20241009" and pair["appeared"] == 1
    # --after alone: the previous observation of its sensor and grid.
    res = runner.invoke(main, ["change", "base", "--after", "2024-10-09", "--json", "-w", str(root)])
    (pair,) = json.loads(res.stdout)["pairs"]
    assert pair["before"] == "base/base_20241005"


def test_sensors_are_not_mixed_and_unknown_references_are_named(workspace: tuple[Path, Point]) -> None:
    root, _ = workspace
    runner = CliRunner()
    res = runner.invoke(main, ["change", "base", "--before", "base/base_20241001", "--after", "base/s1_20241005", "-w", str(root)])
    assert res.exit_code == 1
    assert "base/base_20241001 is optical and base/s1_20241005 is sar" in res.output
    res = runner.invoke(main, ["change", "base", "--before", "nothing-here", "--after", "2024-10-05", "-w", str(root)])
    assert res.exit_code == 1 and "--before 'nothing-here'" in res.output
    res = runner.invoke(main, ["change", "base", "--before", "2024-12-01", "--after", "2024-10-05", "-w", str(root)])
    assert res.exit_code == 1 and "no observation of 'base' on 2024-12-01" in res.output
    assert _rows(root, "SELECT count(*) FROM changes") == [(0,)]


def test_observations_on_other_grids_are_refused_as_a_pair(workspace: tuple[Path, Point], tmp_path: Path) -> None:
    root, _ = workspace
    site = tiny_site("base")
    crs, x0, y0 = site_utm_origin(site)
    fine = _scene(np.random.default_rng(3), (520, 400)).astype(np.float32)
    path = write_tiff(tmp_path / "fine_20241011.tif", fine, crs=crs, transform=Affine(5, 0, x0, 0, -5, y0), descriptions=BANDS)
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", "base", str(path), "--sensor", "optical", "-w", str(root)]).exit_code == 0
    res = runner.invoke(main, ["change", "base", "--before", "2024-10-09", "--after", "2024-10-11", "-w", str(root)])
    assert res.exit_code == 1 and "are not on one grid (pixel size 10 m against 5 m)" in res.output
    # ingest has no option for another pixel size: the message says how (it said "at the same resolution")
    assert "SITEWATCH_RESOLUTION_M=X" in res.output and "at 10 m to compare them" in res.output
    # Without --before/--after the 5 m image has no partner on its grid: nothing compared across grids.
    res = runner.invoke(main, ["change", "base", "--json", "-w", str(root)])
    doc = json.loads(res.stdout)
    assert all("fine" not in p["after"] and "fine" not in p["before"] for p in doc["pairs"])
    (lone,) = [n for n in doc["notes"] if n.startswith("base/fine_20241011")]
    assert "others are at 10 m against its 5 m" in lone and "SITEWATCH_RESOLUTION_M=X" in lone
    # and so tagged, a copy of it is cut to the others' grid and compared with them
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(SITEWATCH_RESOLUTION_M="10")
    assert runner.invoke(main, ["ingest", "base", str(path), "--sensor", "optical", "-w", str(root)]).exit_code == 0
    res = runner.invoke(main, ["change", "base", "--before", "2024-10-09", "--after", "base/fine_20241011", "-w", str(root)])
    assert res.exit_code == 0, res.output
    assert any("fine_20241011" in n and "nothing to compare" in n for n in doc["notes"])


def test_an_older_workspace_gets_the_changes_layer_with_its_index(tmp_path: Path) -> None:
    from sitewatch.store.schema import MIGRATIONS

    old = tmp_path / "old.gpkg"
    old_database(old, 8).close()
    with closing(sqlite3.connect(old)) as con:
        assert con.execute("SELECT 1 FROM sqlite_master WHERE name = 'changes'").fetchone() is None
    with Store(old) as store:
        assert store.schema_version() == len(MIGRATIONS)
    with closing(sqlite3.connect(old)) as con:
        assert con.execute("SELECT geometry_type_name FROM gpkg_geometry_columns WHERE table_name = 'changes'").fetchone() == ("MULTIPOLYGON",)
        assert con.execute("SELECT extension_name FROM gpkg_extensions WHERE table_name = 'changes'").fetchone() == ("gpkg_rtree_index",)
        assert con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'change_pairs'").fetchone() == ("attributes",)


def test_removing_a_site_with_its_observations_removes_its_changes(workspace: tuple[Path, Point]) -> None:
    root, _ = workspace
    runner = CliRunner()
    assert runner.invoke(main, ["change", "base", "-w", str(root)]).exit_code == 0
    assert _rows(root, "SELECT count(*) FROM changes") == [(1,)]
    res = runner.invoke(main, ["sites", "remove", "base", "--with-observations", "-w", str(root)])
    assert res.exit_code == 0, res.output
    assert _rows(root, "SELECT count(*) FROM changes") == [(0,)] and _rows(root, "SELECT count(*) FROM change_pairs") == [(0,)]


def test_report_has_a_changes_section_only_when_the_site_has_stored_changes(workspace: tuple[Path, Point], tmp_path: Path) -> None:
    root, _ = workspace
    runner = CliRunner()
    before = tmp_path / "before.html"
    assert runner.invoke(main, ["report", "base", "--out", str(before), "-w", str(root)]).exit_code == 0
    assert "<h3>Changes</h3>" not in before.read_text(encoding="utf-8")
    assert runner.invoke(main, ["change", "base", "-w", str(root)]).exit_code == 0
    after = tmp_path / "after.html"
    assert runner.invoke(main, ["report", "base", "--out", str(after), "-w", str(root)]).exit_code == 0
    html = after.read_text(encoding="utf-8")
    section = html.split("<h3>Changes</h3>", 1)[1]
    # Each pair names its two images; the one region found is listed; nothing here is simulated.
    assert "base/base_20241001" in section and "base/base_20241005" in section and "archive/base/" in section
    assert "base/base_20241001..base/base_20241005#1" in section and "appeared" in section
    # The region's centre says which number is which: it printed "132.3…, 42.8…" in the column of the images.
    assert re.search(r"centre lat -?\d+\.\d{5}, lon -?\d+\.\d{5}", section)
    assert "Simulated imagery" not in section.split("</table>", 1)[0]


def test_a_missing_archived_image_is_named_and_the_other_pairs_proceed(workspace: tuple[Path, Point]) -> None:
    root, _ = workspace
    (root / "archive" / "base" / "base_20241009.tif").unlink()
    res = CliRunner().invoke(main, ["change", "base", "--json", "-w", str(root)])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout)
    assert [(p["before"], p["after"]) for p in doc["pairs"]] == [("base/base_20241001", "base/base_20241005")]
    (error,) = doc["errors"]
    assert error.startswith("base/base_20241005 -> base/base_20241009:") and "base_20241009.tif" in error
    assert "error: base/base_20241005 -> base/base_20241009" in res.stderr
    # What to do, as `detect` says it: not an OS error's "No such file or directory".
    assert "is missing; ingest its source again" in error and "No such file" not in error


def test_store_round_trip_and_a_failed_write_keeps_the_last_complete_run(workspace: tuple[Path, Point]) -> None:
    import sqlite3 as sq

    from sitewatch.store.changes import change_pairs, changes, replace_changes

    root, _ = workspace
    out = json.loads(CliRunner().invoke(main, ["change", "base", "--json", "--out", str(root / "c.geojson"), "-w", str(root)]).stdout)
    assert out["pairs"]
    written = json.loads((root / "c.geojson").read_text(encoding="utf-8"))["features"]
    with Store(root / "sitewatch.gpkg") as store:
        stored = changes(store, site_id="base")
        assert [c.id for c in stored] == [f["properties"]["change_id"] for f in written]
        from shapely.geometry import shape

        for c, f in zip(stored, written, strict=True):
            assert as_multipolygon(c.polygon).equals_exact(shape(f["geometry"]), 1e-9) and c.method_version == ("5" if c.method == "irmad-cva" else METHOD_VERSIONS[c.method])  # 10 m: the learned score
            assert (c.direction, c.area_m2) == (f["properties"]["direction"], f["properties"]["area_m2"])
        (pair,) = [p for p in change_pairs(store, "base") if p.after_id.endswith("20241005")]
        assert pair.compared_fraction == 1.0 and pair.parameters["bands"] == ["blue", "green", "red", "nir"]
        before, after = store.get_observation(pair.before_id), store.get_observation(pair.after_id)
        # Two rows with one id: the insert fails whole, and the last complete run's rows stay.
        with pytest.raises(sq.IntegrityError):
            replace_changes(store, before, after, compared_fraction=0.5, method="irmad-cva", method_version="1",
                            parameters={}, changes=[stored[0], stored[0]])  # fmt: skip
        assert [c.id for c in changes(store, site_id="base")] == [c.id for c in stored]
        assert [p.compared_fraction for p in change_pairs(store, "base") if p.after_id == after.id] == [1.0]


def test_report_says_when_an_image_of_a_pair_was_ingested_again_since(workspace: tuple[Path, Point], tmp_path: Path) -> None:
    root, _ = workspace
    runner = CliRunner()
    assert runner.invoke(main, ["change", "base", "--before", "2024-10-01", "--after", "2024-10-05", "-w", str(root)]).exit_code == 0
    from sitewatch.store import register_gpkg_functions

    with closing(sqlite3.connect(root / "sitewatch.gpkg")) as db, db:
        register_gpkg_functions(db)  # the layer's index triggers call them
        (sha,) = db.execute("SELECT after_sha256 FROM change_pairs").fetchone()
        assert len(sha) == 64
        db.execute("UPDATE observations SET sha256 = 'another' WHERE observation_id = 'base/base_20241005'")
    out = tmp_path / "r.html"
    assert runner.invoke(main, ["report", "base", "--out", str(out), "-w", str(root)]).exit_code == 0
    section = out.read_text(encoding="utf-8").split("<h3>Changes</h3>", 1)[1]
    assert f"sha256 {sha}" in section and section.count("ingested again since") == 1


def test_two_dates_pick_observations_of_one_sensor(workspace: tuple[Path, Point], tmp_path: Path) -> None:
    """5 October has an optical image and a SAR image taken later that day, which alone would stand for
    the date: with --after 2024-10-09 (optical only) the optical one is meant, not a refused mix."""
    root, _ = workspace
    site = tiny_site("base")
    crs, x0, y0 = site_utm_origin(site)
    sar = (0.1 * np.random.default_rng(5).gamma(4.6, 1 / 4.6, (260, 200))).astype(np.float32)
    late = write_tiff(tmp_path / "s1_20241005T180000.tif", sar, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=("VV",))
    assert CliRunner().invoke(main, ["ingest", "base", str(late), "--sensor", "sar", "-w", str(root)]).exit_code == 0
    res = CliRunner().invoke(main, ["change", "base", "--before", "2024-10-05", "--after", "2024-10-09", "--json", "-w", str(root)])
    assert res.exit_code == 0, res.output
    (pair,) = json.loads(res.stdout)["pairs"]
    assert pair["before"] == "base/base_20241005" and pair["sensor"] == "optical"


def _pictures(html: str, site_id: str) -> list[bytes]:
    """The PNGs of the report's before/after pictures of the stored changes of ``site_id``."""
    import base64
    import re

    block = html.split(f'id="changed-{site_id}"', 1)[1].split("</table>", 1)[0].split('<div class="scroll"', 1)[0]
    return [base64.b64decode(s) for s in re.findall(r'src="data:image/png;base64,([^"]+)"', block)]


def test_report_draws_the_changed_pair_before_and_after_with_its_region_and_says_it_in_the_findings(
    workspace: tuple[Path, Point], tmp_path: Path
) -> None:
    import io

    from PIL import Image

    from sitewatch.report.colours import CHANGE_COLOURS

    root, _ = workspace
    runner = CliRunner()
    assert runner.invoke(main, ["change", "base", "-w", str(root)]).exit_code == 0
    out = tmp_path / "report.html"
    assert runner.invoke(main, ["report", "base", "--out", str(out), "-w", str(root)]).exit_code == 0
    html = out.read_text(encoding="utf-8")
    findings = html.split('id="findings"', 1)[1].split("<h2", 1)[0]
    # Two pairs compared (1 → 5 and 5 → 9 October); only the first found the dug patch.
    assert "<bdi>base</bdi>: change found in 1 of 2 pairs of observations compared, 1 region in all" in findings
    assert "2024-10-01 → 2024-10-05: 1 region" in findings and 'href="#changed-base"' in findings
    pngs = _pictures(html, "base")
    assert len(pngs) == 2  # the pair with a region, before and after; the pair without one is not drawn
    block = html.split('id="changed-base"', 1)[1].split('<div class="scroll"', 1)[0]
    assert "archive/base/base_20241001" in block and "archive/base/base_20241005" in block
    # The region is outlined on both images in the colour of "appeared".
    blue = np.array([int(CHANGE_COLOURS["appeared"][i:i + 2], 16) for i in (1, 3, 5)])
    for png in pngs:
        rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        assert (np.abs(rgb - blue).sum(axis=-1) < 40).sum() > 20
    # The region's direction is drawn by its colour alone (every region is dashed): the alt said "the changed
    # regions outlined dashed", neither how many nor which way, nor which site; and the finding's link "the
    # images" named no site in a screen reader's list of links.
    alts = re.findall(r'<img alt="([^"]*)"', block)
    assert alts == [f"{side}, image of base, 2024-10-{day}, time unknown · optical 10 m: 0 vessels outlined, and 1 changed "
                    "region outlined dashed (1 appeared, blue)" for side, day in (("Before", "01"), ("After", "05"))]  # fmt: skip
    assert '">the images<span class="vh"> of the changes at <bdi>base</bdi></span></a>' in findings


def test_an_inland_site_without_vessels_has_no_vessel_timeline_in_the_report_nor_an_ais_row(
    workspace: tuple[Path, Point], tmp_path: Path
) -> None:
    from dataclasses import replace

    root, centre = workspace
    with Store(root / "sitewatch.gpkg") as store:
        store.put_site(replace(store.get_site("base"), kind="training_ground"))
    ais = tmp_path / "ais.csv"
    ais.write_text(f"mmsi,time,lat,lon\n273000001,2024-10-05T10:00:00Z,{centre.y:.5f},{centre.x:.5f}\n", encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "report.html"
    res = runner.invoke(main, ["report", "base", "--out", str(out), "--ais", str(ais), "-w", str(root)])
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    findings, section = html.split('id="findings"', 1)[1].split('id="site-base"', 1)
    assert "no vessel seen" not in findings  # a training ground's "0 vessels" on every date is not a finding
    assert "No vessel timeline: a training ground lies inland" in section
    assert "<h3>Observation periods</h3>" not in section and "<h3>Timeline</h3>" not in section
    assert 'alt="occupancy timeline' not in section
    ais_rows = html.split('id="ais"', 1)[1].split("</table>", 1)[0]
    assert "<td>base</td>" not in ais_rows
    with Store(root / "sitewatch.gpkg") as store:  # four regions on its map: a link past them (more than three)
        before, after = (o for o in store.observations("base") if o.scene.sensor == "optical" and o.scene.acquired.day in (1, 5))
        dug = [Change(f"r{i}", "base", before.id, after.id, box(centre.x + i * 1e-3, centre.y, centre.x + i * 1e-3 + 5e-4,
                                                                   centre.y + 5e-4), 2000.0, 0.2, "appeared", "test")
               for i in range(4)]  # fmt: skip
        replace_changes(store, before, after, compared_fraction=1.0, method="test", method_version="1", parameters={}, changes=dug)
    page = _dashboard_site_page(root, "base")
    if page is not None:  # the dashboard's site page as the report
        assert "No vessel timeline: a training ground lies inland" in page and "no vessel seen" not in page
        assert "<h2>Observation periods</h2>" not in page and "timeline.png" not in page
        # Its map's skip link went to the Changes heading, which cannot take the focus (some browsers then leave it
        # on the link), past whatever lay between: it goes to the first thing past the map's links, which can.
        els = elements(page)
        skip = next(e for e in els if e.tag == "a" and "skip" in e.classes)
        target = next(e for e in els if e.attrs.get("id") == skip.attrs["href"][1:])
        svg = next(e for e in els if e.tag == "svg" and "map" in e.classes)
        assert "tabindex" in target.attrs and els.index(skip) < els.index(svg) < els.index(target)
        links = [e for e in els[els.index(svg) + 1:els.index(target)] if e.tag == "a" and all(a is not svg for a in e.ancestors)]
        assert links == []
    # The same site as a port keeps its timeline.
    with Store(root / "sitewatch.gpkg") as store:
        store.put_site(replace(store.get_site("base"), kind="port"))
    assert runner.invoke(main, ["report", "base", "--out", str(out), "-w", str(root)]).exit_code == 0
    section = out.read_text(encoding="utf-8").split('id="site-base"', 1)[1]
    assert "<h3>Timeline</h3>" in section and "No vessel timeline" not in section
    page = _dashboard_site_page(root, "base")
    assert page is None or ("<h2>Observation periods</h2>" in page and "No vessel timeline" not in page)


def _dashboard_site_page(root: Path, site_id: str) -> str | None:
    """The dashboard's page of ``site_id``; None without the web extra."""
    import importlib.util
    import warnings

    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("httpx") is None:
        return None
    from sitewatch.web.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette's TestClient says httpx will give way to httpx2
        from fastapi.testclient import TestClient

        return TestClient(create_app(root)).get(f"/sites/{site_id}").text


def test_a_date_of_two_looks_showing_the_site_alike_does_not_say_one_shows_more() -> None:
    """The band files of a scene and a stack of them, ingested both: the note said the one compared
    "shows more of the site" though both showed all of it."""
    import dataclasses

    from sitewatch.change_stage import choose_pairs
    from test_claims import obs

    bands, later = obs("2024-10-01", site="base", sensor="optical"), obs("2024-10-08", site="base", sensor="optical")
    stack = dataclasses.replace(bands, id="base/stack")
    _, notes = choose_pairs([bands, stack, later], "base")
    assert notes == [f"base/stack: 2024-10-01 is compared through {bands.id}, which shows as much of the site"]
    cloudy = dataclasses.replace(stack, cloud_fraction=0.3)
    _, notes = choose_pairs([bands, cloudy, later], "base")
    assert notes == [f"base/stack: 2024-10-01 is compared through {bands.id}, which shows more of the site"]


@pytest.mark.parametrize("value", ["nan", "inf", "-5"])
def test_change_refuses_a_minimum_area_that_is_not_a_finite_number_of_square_metres(
    workspace: tuple[Path, Point], value: str
) -> None:
    """``nan`` passed click's range check (NaN compares False both ways) and every region was dropped in silence."""
    root, _ = workspace
    res = CliRunner().invoke(main, ["change", "base", "--min-area-m2", value, "-w", str(root)])
    assert res.exit_code == 2 and "--min-area-m2" in res.output and value in res.output, res.output


def test_cover_classes_are_a_choice_of_the_command_stored_with_each_pair(workspace: tuple[Path, Point]) -> None:
    """Sub-metre images of large building sites lose most of their change to the class-centred test
    (README): ``--cover-classes 0`` is the scene-only test, and the pair's parameters say which ran."""
    from sitewatch.change import COVER_CLASSES

    root, _ = workspace
    runner = CliRunner()
    for given, stored in ((["--cover-classes", "0"], 0), ([], COVER_CLASSES), (["--cover-classes", "3"], 3)):
        res = runner.invoke(main, ["change", "base", *given, "-w", str(root)])
        assert res.exit_code == 0, res.output
        assert "1 appeared, 0 disappeared, 0 altered" in res.output  # the dug patch, whichever test
        params = [json.loads(p)["classes"] for (p,) in _rows(root, "SELECT parameters FROM change_pairs")]
        assert params == [stored, stored]
        versions = {v for (v,) in _rows(root, "SELECT method_version FROM change_pairs")}
        assert versions == {"5"}  # the learned score at 10 m, its statistic with or without classes
        res = runner.invoke(main, ["change", "base", *given, "--no-learned", "-w", str(root)])
        assert res.exit_code == 0 and "1 appeared, 0 disappeared, 0 altered" in res.output, res.output
        versions = {v for (v,) in _rows(root, "SELECT method_version FROM change_pairs")}
        assert versions == {"2" if stored <= 1 else "3"}  # without classes it is version 2's test
    res = runner.invoke(main, ["change", "base", "--cover-classes", "-1", "-w", str(root)])
    assert res.exit_code == 2 and "--cover-classes" in res.output


def test_a_before_later_than_its_after_is_refused_not_stored_with_its_directions_reversed(
    workspace: tuple[Path, Point],
) -> None:
    """``--before 2024-10-09 --after 2024-10-01`` compared the later image as the earlier one and stored the
    dug patch as ``disappeared``: the two swapped are named, and nothing is stored."""
    root, _ = workspace
    res = CliRunner().invoke(main, ["change", "base", "--before", "2024-10-09", "--after", "2024-10-01", "-w", str(root)])
    assert res.exit_code == 1, res.output
    assert "base/base_20241009" in res.output and "base/base_20241001" in res.output and "swap" in res.output
    assert _rows(root, "SELECT count(*) FROM change_pairs") == [(0,)]


def test_an_image_known_by_its_date_alone_may_be_before_a_timed_one_of_that_date(
    workspace: tuple[Path, Point], tmp_path: Path
) -> None:
    """base_20241009 is known by its date (taken as 12:00): an image of 09:30 that day may still be the later."""
    root, _ = workspace
    site = tiny_site("base")
    crs, x0, y0 = site_utm_origin(site)
    img = _scene(np.random.default_rng(4), (260, 200)).astype(np.float32)
    path = write_tiff(tmp_path / "base_20241009T093000.tif", img, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
                      descriptions=BANDS)  # fmt: skip
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", "base", str(path), "--sensor", "optical", "-w", str(root)]).exit_code == 0
    res = runner.invoke(main, ["change", "base", "--before", "base/base_20241009", "--after", "base/base_20241009T093000",
                               "-w", str(root)])  # fmt: skip
    assert res.exit_code == 0, res.output


def test_cover_classes_has_an_upper_bound_instead_of_running_for_hours(workspace: tuple[Path, Point]) -> None:
    """``--cover-classes 1000`` ran for more than ten minutes on the demo's training ground (each class's
    median is taken over the whole grid): four bands tell about six covers, so more than 32 is refused."""
    root, _ = workspace
    res = CliRunner().invoke(main, ["change", "base", "--cover-classes", "1000", "-w", str(root)])
    assert res.exit_code == 2 and "--cover-classes" in res.output and "32" in res.output, res.output
    assert _rows(root, "SELECT count(*) FROM change_pairs") == [(0,)]


def test_an_observation_detection_has_not_run_on_is_named_once_not_once_per_pair(workspace: tuple[Path, Point]) -> None:
    """The middle image of three is in two pairs: its "detection has not run" note was printed twice."""
    root, _ = workspace
    res = CliRunner().invoke(main, ["change", "base", "--json", "-w", str(root)])
    assert res.exit_code == 0, res.output
    notes = json.loads(res.stdout)["notes"]
    assert len(notes) == len(set(notes)) and any("base/base_20241005: detection has not run" in n for n in notes)


@pytest.mark.parametrize("name", ["trenches.kml", "trenches.gpkg", "trenches.csv"])
def test_change_out_is_geojson_and_another_suffix_is_refused_before_anything_runs(
    workspace: tuple[Path, Point], tmp_path: Path, name: str
) -> None:
    """``--out trenches.kml`` wrote GeoJSON text into a .kml file, which Google Earth (or QGIS, for
    .gpkg) then could not open: refused, pointing to ``export --layer changes``, and nothing compared."""
    root, _ = workspace
    out = tmp_path / name
    res = CliRunner().invoke(main, ["change", "base", "--out", str(out), "-w", str(root)])
    assert res.exit_code == 2, res.output
    assert name in res.output and "export base --layer changes" in res.output
    assert not out.exists() and _rows(root, "SELECT count(*) FROM change_pairs") == [(0,)]


def _ingest_db_pair(root: Path, tmp_path: Path) -> None:
    """Two SAR images in dB of the site (6 and 8 October), a bright structure new on the 8th."""
    site = tiny_site("base")
    crs, x0, y0 = site_utm_origin(site)
    rng = np.random.default_rng(5)
    shape = (260, 200)
    files = []
    for day, built in (("20241006", False), ("20241008", True)):
        power = 0.1 * rng.gamma(4.6, 1 / 4.6, shape)
        if built:
            power[100:110, 80:90] = 3.0  # a new structure, 15 dB above the ground
        db = (10 * np.log10(power)).astype(np.float32)
        files.append(write_tiff(tmp_path / f"s1db_{day}.tif", db, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
                                descriptions=("VV",)))  # fmt: skip
    res = CliRunner().invoke(main, ["ingest", "base", *map(str, files), "--sensor", "sar", "-w", str(root)])
    assert res.exit_code == 0, res.output


def test_sar_images_archived_in_db_are_compared_as_intensity_not_as_nothing(
    workspace: tuple[Path, Point], tmp_path: Path
) -> None:
    """A SAR GeoTIFF in dB (SNAP, Earth Engine exports) is archived as it is and `detect` reads it as
    dB; `change` took its negative values for no backscatter and said "compared 100% of the site, 0
    appeared" of a pair with a new bright structure: it is read as dB too, as `detect` reads it."""
    root, _ = workspace
    _ingest_db_pair(root, tmp_path)
    res = CliRunner().invoke(main, ["change", "base", "--before", "base/s1db_20241006", "--after", "base/s1db_20241008",
                                    "--json", "-w", str(root)])  # fmt: skip
    assert res.exit_code == 0, res.output
    (pair,) = json.loads(res.stdout)["pairs"]
    assert pair["sensor"] == "sar" and pair["appeared"] == 1 and pair["disappeared"] == 0, pair


def test_a_sar_image_archived_in_db_is_shown_not_blank(workspace: tuple[Path, Point], tmp_path: Path) -> None:
    """The dashboard's quick-looks and the report's chips took the log of a dB image's negative values:
    a flat grey picture. It is shown as any SAR image is, in dB, stretched."""
    import rasterio

    from sitewatch.report.charts import display_values

    root, _ = workspace
    _ingest_db_pair(root, tmp_path)
    with Store(root / "sitewatch.gpkg") as store:
        obs = next(o for o in store.observations("base") if o.id == "base/s1db_20241008")
    with rasterio.open(root / obs.path) as src:
        shown = display_values(src, obs)
    assert shown.ndim == 2 and float(shown.std()) > 0.1


def test_store_info_counts_the_change_pairs_and_regions_too(workspace: tuple[Path, Point]) -> None:
    """`store info` counted the feature tables only: a workspace of stored changes showed none of them."""
    root, _ = workspace
    runner = CliRunner()
    assert runner.invoke(main, ["change", "base", "-w", str(root)]).exit_code == 0
    res = runner.invoke(main, ["store", "info", "--json", "-w", str(root)])
    counts = json.loads(res.output)["counts"]
    assert (counts["change_pairs"], counts["changes"]) == (2, 1) and counts["runs"] >= 1
    assert "change_pairs: 2" in runner.invoke(main, ["store", "info", "-w", str(root)]).output
