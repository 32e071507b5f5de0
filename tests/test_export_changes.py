"""``sitewatch export --layer changes``: the stored change regions as GeoJSON, KML, CSV and GeoPackage.

On the ``_report_world`` workspace (Dunai, SAR at 21:00 UTC and optical at 01:00 UTC on 17 and 20 Oct
2024), two stored pairs: optical 17 -> 20 Oct with three regions (appeared 3,000 m², altered 1,200 m²
in two parts, disappeared 500 m²) and SAR 17 -> 20 Oct with one (appeared 800 m²); a second site,
``other``, with none. Each file is read back by another reader than the one that wrote it.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sqlite3
import xml.etree.ElementTree as ET
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import shapely
from click.testing import CliRunner, Result
from shapely.geometry import MultiPolygon, box, shape

from _report_world import CX, CY, _wgs, build
from sitewatch import __version__
from sitewatch.cli import main
from sitewatch.model import DATE_ONLY_NOTE, Change, Site, utc
from sitewatch.report import change_exports
from sitewatch.report.change_exports import (
    CHANGE_CSV_COLUMNS,
    CHANGE_FIELDS,
    changes_to_kml,
    stored_changes_to_geojson,
)
from sitewatch.report.colours import CHANGE_COLOURS
from sitewatch.store.changes import replace_changes
from sitewatch.store.gpkg import from_gpkg_blob
from sitewatch.workspace import Workspace

KML = "{http://www.opengis.net/kml/2.2}"
OPTICAL = ("dunai:sim-dunai-2024-10-17-optical", "dunai:sim-dunai-2024-10-20-optical")
SAR = ("dunai:sim-dunai-2024-10-17-sar", "dunai:sim-dunai-2024-10-20-sar")


def _region(pair: tuple[str, str], n: int, direction: str, area_m2: float, geom: Any) -> Change:
    return Change(f"{pair[0]}..{pair[1]}#{n}", "dunai", pair[0], pair[1], geom, area_m2, 4.5 + n, direction,  # type: ignore[arg-type]
                  "irmad-cva", "2")  # fmt: skip


def _store_changes(w: Workspace) -> None:
    two_parts = MultiPolygon([_wgs(box(CX + 100, CY + 100, CX + 130, CY + 120)), _wgs(box(CX + 200, CY + 100, CX + 230, CY + 120))])
    regions = {
        OPTICAL: [_region(OPTICAL, 1, "appeared", 3000.0, _wgs(box(CX - 300, CY + 200, CX - 240, CY + 250))),
                  _region(OPTICAL, 2, "altered", 1200.0, two_parts),
                  _region(OPTICAL, 3, "disappeared", 500.0, _wgs(box(CX, CY + 300, CX + 25, CY + 320)))],
        SAR: [_region(SAR, 1, "appeared", 800.0, _wgs(box(CX - 100, CY - 100, CX - 60, CY - 80)))],
    }  # fmt: skip
    with w.store() as st:
        for (before_id, after_id), found in regions.items():
            before, after = st.get_observation(before_id), st.get_observation(after_id)
            replace_changes(st, before, after, compared_fraction=0.875, method="irmad-cva", method_version="2",
                            parameters={"min_area_m2": 200}, changes=found)  # fmt: skip


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    w = build(tmp_path_factory.mktemp("export-changes") / "ws")
    with w.store() as st:  # a second site, never compared
        st.put_site(Site(id="other", name="Other", kind="port", geometry=box(10.0, 40.0, 10.02, 40.02)))
    _store_changes(w)
    return w


def run(ws: Workspace, *args: str) -> Result:
    return CliRunner().invoke(main, ["export", "-w", str(ws.root), "--layer", "changes", *args])


def stored(ws: Workspace) -> dict[str, sqlite3.Row]:
    """The changes layer's rows by id, read with plain SQL."""
    with closing(sqlite3.connect(ws.db_path)) as db:
        db.row_factory = sqlite3.Row
        return {r["change_id"]: r for r in db.execute("SELECT * FROM changes")}


def pairs(ws: Workspace) -> dict[str, sqlite3.Row]:
    """The change_pairs table's rows by after id."""
    with closing(sqlite3.connect(ws.db_path)) as db:
        db.row_factory = sqlite3.Row
        return {r["after_id"]: r for r in db.execute("SELECT * FROM change_pairs")}


def test_geojson_holds_every_stored_region_with_its_pair_and_images(ws: Workspace, tmp_path: Path) -> None:
    raw = pytest.importorskip("pyogrio.raw")
    out = tmp_path / "c.geojson"
    res = run(ws, "--out", str(out))
    assert res.exit_code == 0, res.output
    assert f"wrote 4 change region(s) to {out} (simulated imagery)" in res.output
    meta, _, wkbs, values = raw.read(out)
    assert meta["crs"] == "EPSG:4326"
    props = [dict(zip(meta["fields"], row, strict=True)) for row in zip(*values, strict=True)]
    rows, by_after = stored(ws), pairs(ws)
    assert len(rows) == 4 and sorted(p["change_id"] for p in props) == sorted(rows)
    for p, wkb in zip(props, wkbs, strict=True):
        row, pair = rows[p["change_id"]], by_after[p["after_id"]]
        assert shapely.from_wkb(wkb).hausdorff_distance(from_gpkg_blob(row["geom"])) < 1e-9  # a polygon stored as a one-part multipolygon
        assert (p["site_id"], p["direction"], p["area_m2"], p["magnitude"]) == ("dunai", row["direction"], row["area_m2"], row["magnitude"])
        assert (p["before_sha256"], p["after_sha256"]) == (pair["before_sha256"], pair["after_sha256"])
        assert p["compared_fraction"] == 0.875 and (p["method"], p["method_version"]) == ("irmad-cva", "2")
        assert p["resolution_m"] == (3.0 if p["sensor"] == "optical" else 10.0)
        for which in ("before", "after"):
            assert p[f"{which}_image"] == f"archive/dunai/{p[f'{which}_id'].split(':')[1]}.tif"
            assert (ws.root / p[f"{which}_image"]).is_file()  # relative to the workspace
        assert bool(p["simulated"]) is True
    text = json.loads(out.read_text(encoding="utf-8"))
    assert text["sitewatch_version"] == __version__  # the version that wrote the file, beside each region's method_version
    # One geometry type, as the GeoPackage: mixed Polygons and MultiPolygons are "Unknown" to GDAL, two layers to QGIS.
    assert meta["geometry_type"] == "MultiPolygon" and {f["geometry"]["type"] for f in text["features"]} == {"MultiPolygon"}
    sar = next(f["properties"] for f in text["features"] if f["properties"]["sensor"] == "sar")
    assert (sar["before_acquired"], sar["after_acquired"]) == ("2024-10-17T21:00:00Z", "2024-10-20T21:00:00Z")
    assert sar["after_acquired_date_only"] is False and list(sar) == list(CHANGE_FIELDS)


def test_kml_has_a_folder_per_site_and_pair_and_a_timespan_and_style_per_region(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "c.kml"
    assert run(ws, "--out", str(out)).exit_code == 0
    doc = ET.parse(out).getroot().find(f"{KML}Document")
    assert doc is not None
    (site,) = doc.findall(f"{KML}Folder")
    assert site.findtext(f"{KML}name") == "dunai"
    folders = site.findall(f"{KML}Folder")
    assert [f.findtext(f"{KML}name") for f in folders] == ["dunai 2024-10-17 → 2024-10-20 optical (simulated)",
                                                         "dunai 2024-10-17 → 2024-10-20 sar (simulated)"]  # fmt: skip
    optical = folders[0].findall(f"{KML}Placemark")
    assert [pm.findtext(f"{KML}name") for pm in optical] == [
        "appeared 3,000 m² (optical, simulated)", "altered 1,200 m² (optical, simulated)", "disappeared 500 m² (optical, simulated)"]  # fmt: skip
    assert len(list(doc.iter(f"{KML}Placemark"))) == len(stored(ws))
    for pm in doc.iter(f"{KML}Placemark"):
        data = {d.get("name"): d.text for d in pm.iter(f"{KML}SimpleData")}
        assert pm.findtext(f"{KML}TimeSpan/{KML}begin") == data["before_acquired"]
        assert pm.findtext(f"{KML}TimeSpan/{KML}end") == data["after_acquired"]
        assert pm.findtext(f"{KML}styleUrl") == f"#{data['direction']}" and data["simulated"] == "true"
        # KML 2.2's order of a Placemark's elements, which a strict reader holds to.
        tags = [child.tag.removeprefix(KML) for child in pm]
        assert tags == ["name", "TimeSpan", "styleUrl", "ExtendedData", tags[-1]] and tags[-1] in ("Polygon", "MultiGeometry")
        assert data["change_id"] in stored(ws) and data["before_sha256"] == pairs(ws)[data["after_id"]]["before_sha256"]
    sar = folders[1].find(f"{KML}Placemark/{KML}TimeSpan")
    assert sar is not None and (sar.findtext(f"{KML}begin"), sar.findtext(f"{KML}end")) == ("2024-10-17T21:00:00Z", "2024-10-20T21:00:00Z")
    # The two parts of the altered region, each a polygon; each style in the dashboard's colour (KML: aabbggrr).
    assert len(list(optical[1].iter(f"{KML}Polygon"))) == 2
    styles = {s.get("id"): s.findtext(f"{KML}LineStyle/{KML}color") for s in doc.findall(f"{KML}Style")}
    assert styles["appeared"] == "ffb27200" and CHANGE_COLOURS["appeared"] == "#0072b2"
    assert set(CHANGE_COLOURS) <= set(styles)


def test_kml_fields_come_into_gdal_and_qgis_as_numbers_and_booleans(ws: Workspace, tmp_path: Path) -> None:
    """Written as untyped Data, `area_m2` came into QGIS (GDAL's LIBKML driver) as text: a filter
    `area_m2 > 2000` compared words, and the largest region did not sort first."""
    pyogrio = pytest.importorskip("pyogrio")
    if "LIBKML" not in pyogrio.list_drivers():
        pytest.skip("GDAL without its LIBKML driver")
    out = tmp_path / "c.kml"
    assert run(ws, "--out", str(out)).exit_code == 0
    layer = next(name for name, _ in pyogrio.list_layers(out) if "optical" in name)
    meta, _, _, values = pyogrio.raw.read(out, layer=layer)
    col = dict(zip(meta["fields"], values, strict=True))
    for name in ("area_m2", "magnitude", "resolution_m", "compared_fraction"):
        assert col[name].dtype.kind == "f", name
    assert col["simulated"].dtype == bool and sorted(col["area_m2"].tolist()) == [500.0, 1200.0, 3000.0]


def test_an_after_image_known_only_by_its_date_is_dated_so_and_filtered_by_its_date(tmp_path: Path) -> None:
    w = build(tmp_path / "ws", simulated=False)
    _store_changes(w)
    with w.store() as st:
        o = st.get_observation(OPTICAL[1])
        scene = dataclasses.replace(o.scene, acquired=datetime(2024, 10, 20, 12, tzinfo=UTC))
        st.put_observation(dataclasses.replace(o, scene=scene, provenance={"acquired_from": f"name ({DATE_ONLY_NOTE})"}))
    res = CliRunner().invoke(main, ["export", "-w", str(w.root), "--layer", "changes", "--out", "-", "--format", "kml",
                                    "--from", "2024-10-20T13:00Z"])  # fmt: skip
    assert res.exit_code == 0 and "wrote 4 change region(s)" in res.stderr and "simulated" not in res.stderr
    spans = {(pm.findtext(f"{KML}TimeSpan/{KML}begin"), pm.findtext(f"{KML}TimeSpan/{KML}end"))
             for pm in ET.fromstring(res.stdout).iter(f"{KML}Placemark")}  # fmt: skip
    # The pair's stored time of the optical look stays 01:00, but only its date is said to be known now.
    assert spans == {("2024-10-17T01:00:00Z", "2024-10-20"), ("2024-10-17T21:00:00Z", "2024-10-20T21:00:00Z")}


def test_csv_has_a_row_per_region_with_its_centre_properties_and_polygon(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    assert run(ws, "--out", str(out)).exit_code == 0
    with out.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CHANGE_CSV_COLUMNS and CHANGE_CSV_COLUMNS[-1] == "wkt"
        rows = list(reader)
    table = stored(ws)
    assert sorted(r["change_id"] for r in rows) == sorted(table)
    for r in rows:
        geom = from_gpkg_blob(table[r["change_id"]]["geom"])
        assert geom is not None and shapely.from_wkt(r["wkt"]).hausdorff_distance(geom) < 1e-6
        assert (float(r["lon"]), float(r["lat"])) == pytest.approx((geom.centroid.x, geom.centroid.y), abs=1e-6)
        assert r["simulated"] == "true" and float(r["area_m2"]) == table[r["change_id"]]["area_m2"]
        assert r["after_acquired"].endswith("Z") and len(r["after_sha256"]) == 64


def test_geopackage_is_one_polygon_layer_gdal_reads_with_its_crs_and_field_types(ws: Workspace, tmp_path: Path) -> None:
    pyogrio = pytest.importorskip("pyogrio")
    out = tmp_path / "c.gpkg"
    res = run(ws, "--out", str(out), "--direction", "appeared")
    assert res.exit_code == 0 and "wrote 2 change region(s)" in res.output
    assert run(ws, "--out", str(out)).exit_code == 0  # a rerun replaces the file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.gpkg"]  # no journal, no partial
    assert [list(layer) for layer in pyogrio.list_layers(out)] == [["changes", "MultiPolygon"]]
    meta, _, wkbs, values = pyogrio.raw.read(out, layer="changes")
    assert meta["crs"] == "EPSG:4326" and meta["geometry_type"] == "MultiPolygon" and len(wkbs) == len(stored(ws))
    types = dict(zip(meta["fields"], meta["dtypes"], strict=True))
    assert list(types) == list(CHANGE_FIELDS)
    assert types["area_m2"] == types["compared_fraction"] == "float64" and types["change_id"] == "object"
    assert types["before_acquired"].startswith("datetime64") and types["simulated"] == types["after_acquired_date_only"] == "bool"
    props = [dict(zip(meta["fields"], row, strict=True)) for row in zip(*values, strict=True)]
    sar = next(p for p in props if p["sensor"] == "sar")
    assert str(sar["after_acquired"]).startswith("2024-10-20T21:00:00") and sar["simulated"]
    for p, wkb in zip(props, wkbs, strict=True):
        assert shapely.from_wkb(wkb).equals(from_gpkg_blob(stored(ws)[p["change_id"]]["geom"]))
    with closing(sqlite3.connect(out)) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM rtree_changes_geom").fetchone()[0] == len(stored(ws))
    # A spatial index GDAL uses: a map view's box reads only the regions in it (the SAR one, south-west).
    assert pyogrio.read_info(out)["capabilities"]["fast_spatial_filter"]
    sw = _wgs(box(CX - 110, CY - 110, CX - 50, CY - 70)).bounds
    _, _, in_view, found = pyogrio.raw.read(out, bbox=sw)
    assert len(in_view) == 1 and list(found[list(meta["fields"]).index("sensor")]) == ["sar"]


@pytest.mark.parametrize(
    ("args", "directions"),
    [
        (["--direction", "appeared"], ["appeared", "appeared"]),
        (["--direction", "altered", "--direction", "disappeared"], ["altered", "disappeared"]),
        (["--min-area-m2", "1000"], ["altered", "appeared"]),
        (["--min-area-m2", "1000", "--direction", "appeared"], ["appeared"]),
        # On the after image's time: optical 20 Oct 01:00, SAR 20 Oct 21:00.
        (["--to", "2024-10-20T12:00Z"], ["altered", "appeared", "disappeared"]),
        (["--from", "2024-10-20T12:00Z"], ["appeared"]),
        (["--from", "2024-10-18", "--to", "2024-10-20"], ["altered", "appeared", "appeared", "disappeared"]),
        (["--to", "2024-10-19"], []),  # the before images are in, the after ones are not
    ],
)
def test_direction_area_and_after_time_choose_the_regions(ws: Workspace, args: list[str], directions: list[str]) -> None:
    res = run(ws, "--out", "-", *args)
    assert res.exit_code == 0, res.output
    assert sorted(f["properties"]["direction"] for f in json.loads(res.stdout)["features"]) == directions
    assert f"wrote {len(directions)} change region(s) to standard output" in res.stderr


def test_standard_output_for_kml_and_csv_and_a_geopackage_needs_a_file(ws: Workspace) -> None:
    res = run(ws, "--out", "-", "--format", "kml")
    assert res.exit_code == 0 and len(list(ET.fromstring(res.stdout).iter(f"{KML}Placemark"))) == 4
    res = run(ws, "--out", "-", "--format", "csv")
    assert res.exit_code == 0 and len(list(csv.DictReader(io.StringIO(res.stdout)))) == 4
    res = run(ws, "--out", "-", "--format", "gpkg")
    assert res.exit_code == 2 and "--out changes.gpkg" in res.output


def test_a_rerun_replaces_the_file(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "c.kml"
    assert run(ws, "--out", str(out)).exit_code == 0
    assert run(ws, "--out", str(out), "--direction", "disappeared").exit_code == 0
    assert len(list(ET.parse(out).getroot().iter(f"{KML}Placemark"))) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.kml"]


def test_a_site_without_stored_changes_is_named_with_what_to_run(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "c.geojson"
    res = run(ws, "other", "--out", str(out))
    assert res.exit_code == 1 and "no stored changes for other: run `sitewatch change other` first" in res.output
    assert not list(tmp_path.iterdir())
    # With another site that has some, that one is written and the first named on a note.
    res = run(ws, "other", "dunai", "--out", str(out))
    assert res.exit_code == 0 and "note: other has no stored changes (run `sitewatch change other`)" in res.stderr
    assert len(json.loads(out.read_text(encoding="utf-8"))["features"]) == 4
    fresh = build(tmp_path / "fresh")
    res = CliRunner().invoke(main, ["export", "-w", str(fresh.root), "--layer", "changes", "--out", str(tmp_path / "x.kml")])
    assert res.exit_code == 1 and "no stored changes for any site of the workspace: run `sitewatch change dunai` first" in res.output  # its one site
    assert not (tmp_path / "x.kml").exists()


def test_an_unknown_site_a_bad_direction_and_options_of_the_other_layer_are_refused(ws: Workspace, tmp_path: Path) -> None:
    out = str(tmp_path / "c.geojson")
    res = run(ws, "dunai", "nowhere", "--out", out)
    assert res.exit_code == 1 and "nowhere" in res.output and "dunai" in res.output
    res = run(ws, "--out", out, "--direction", "dug")
    assert res.exit_code == 2 and "'dug' is not one of 'appeared', 'disappeared', 'altered'" in res.output
    res = run(ws, "--out", out, "--min-area-m2", "-5")
    assert res.exit_code == 2 and "Invalid value for '--min-area-m2': -5.0 is not in the range x>=0" in res.output
    res = run(ws, "--out", out, "--min-area-m2", "nan")  # NaN would keep no region, and say nothing
    assert res.exit_code == 2 and "Invalid value for '--min-area-m2': 'nan' is not a finite number" in res.output
    res = run(ws, "--out", out, "--kind", "vessel")
    assert res.exit_code == 2 and "--kind chooses detections" in res.output
    res = CliRunner().invoke(main, ["export", "-w", str(ws.root), "--out", out, "--min-area-m2", "500"])
    assert res.exit_code == 2 and "add --layer changes" in res.output
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("suffix", ["geojson", "kml", "csv", "gpkg"])
def test_an_unwritable_out_is_named_and_leaves_nothing(ws: Workspace, suffix: str) -> None:
    folder = Path("/proc/self")  # a folder no one may make files in, root included
    if not folder.is_dir():
        pytest.skip("needs Linux's /proc")
    res = run(ws, "--out", str(folder / f"c.{suffix}"))
    assert res.exit_code == 1 and f"/proc/self/c.{suffix}: cannot write it" in res.output, res.output


def test_a_geopackage_that_fails_midway_leaves_the_previous_file_whole(ws: Workspace, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "c.gpkg"
    assert run(ws, "--out", str(out)).exit_code == 0
    before = out.read_bytes()
    # A statement that fails once the tables are made and in the middle of the transaction (as a full disk would).
    monkeypatch.setattr(change_exports, "rtree_index_sql", lambda layer: "SELECT no_such_function();")
    res = run(ws, "--out", str(out), "--direction", "appeared")
    assert res.exit_code == 1 and f"{out}: cannot write it (no such function: no_such_function)" in res.output, res.output
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["c.gpkg"]


def test_kml_of_no_regions_is_an_empty_document(ws: Workspace) -> None:
    with ws.store() as st:
        fc = stored_changes_to_geojson(st, ["dunai"], start=utc("2024-10-21T00:00:00Z"))
    assert fc["features"] == []
    root = ET.fromstring(changes_to_kml(fc))
    assert not list(root.iter(f"{KML}Placemark")) and not list(root.iter(f"{KML}Folder"))


def test_the_regions_read_back_as_geojson_equal_the_stored_ones(ws: Workspace) -> None:
    with ws.store() as st:
        fc = stored_changes_to_geojson(st)
    rows = stored(ws)
    assert {f["properties"]["change_id"]: shape(f["geometry"]).area for f in fc["features"]} == pytest.approx(
        {k: from_gpkg_blob(r["geom"]).area for k, r in rows.items()}  # type: ignore[union-attr]
    )


def test_a_changes_csv_file_has_its_columns_types_beside_it(ws: Workspace, tmp_path: Path) -> None:
    """The regions' CSV read by GDAL (QGIS) with the .csvt beside it: areas as numbers, times as times, flags as
    booleans, the GeoPackage's types, not text."""
    from pyogrio.raw import read

    from sitewatch.report.csv_types import CHANGE_CSV_TYPES

    out = tmp_path / "c.csv"
    assert run(ws, "--out", str(out)).exit_code == 0
    assert set(CHANGE_CSV_TYPES) == set(CHANGE_CSV_COLUMNS)
    meta, _, _, fields = read(out, datetime_as_string=True)
    dtypes = dict(zip(meta["fields"], meta["dtypes"], strict=True))
    assert (dtypes["area_m2"], dtypes["compared_fraction"], dtypes["simulated"]) == ("float64", "float64", "bool")
    assert dtypes["before_acquired"].startswith("datetime64") and dtypes["after_acquired"].startswith("datetime64")
    areas = dict(zip(meta["fields"], fields, strict=True))["area_m2"]
    assert sorted(areas) == sorted(float(r["area_m2"]) for r in stored(ws).values())


def test_a_region_carries_its_changes_dating_by_every_pair_in_every_format_and_the_api(tmp_path: Path) -> None:
    # Trenches on the same ground in the 3 m optical pair (17 01:00 -> 20 01:00) and the 10 m SAR pair (17 21:00 ->
    # 20 21:00): one change, last seen without on 17 Oct 21:00 (SAR) and first seen on 20 Oct 01:00 (optical), as
    # `change` dates it. Each region says so in every export format, typed as times, and in the dashboard's API.
    pyogrio = pytest.importorskip("pyogrio")
    w = build(tmp_path / "ws")
    ground = _wgs(box(CX - 300, CY + 200, CX - 240, CY + 250))
    with w.store() as st:
        for pair in (OPTICAL, SAR):
            replace_changes(st, st.get_observation(pair[0]), st.get_observation(pair[1]), compared_fraction=0.875, method="irmad-cva",
                            method_version="2", parameters={"min_area_m2": 200}, changes=[_region(pair, 1, "appeared", 3000.0, ground)])  # fmt: skip
    dated = {"last_seen_without": "2024-10-17T21:00:00Z", "last_seen_without_id": SAR[0], "last_seen_without_date_only": False,
             "first_seen": "2024-10-20T01:00:00Z", "first_seen_id": OPTICAL[1], "first_seen_date_only": False}  # fmt: skip
    out = tmp_path / "c.geojson"
    assert run(w, "--out", str(out)).exit_code == 0
    features = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert len(features) == 2 and all({k: f["properties"][k] for k in dated} == dated for f in features)
    # The CSV, with its .csvt typing both as DateTime.
    csv_out = tmp_path / "c.csv"
    assert run(w, "--out", str(csv_out)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(csv_out.read_text(encoding="utf-8"))))
    assert {(r["last_seen_without"], r["first_seen"], r["first_seen_id"]) for r in rows} == {(dated["last_seen_without"], dated["first_seen"], OPTICAL[1])}
    header = csv_out.read_text(encoding="utf-8").splitlines()[0].split(",")
    types = dict(zip(header, csv_out.with_suffix(".csvt").read_text(encoding="utf-8").strip().split(","), strict=True))
    assert types["last_seen_without"] == types["first_seen"] == '"DateTime"' and types["first_seen_date_only"] == '"Integer(Boolean)"'
    # The GeoPackage, whose columns QGIS reads as times.
    gpkg = tmp_path / "c.gpkg"
    assert run(w, "--out", str(gpkg)).exit_code == 0
    meta, _, _, values = pyogrio.raw.read(gpkg, layer="changes")
    columns = dict(zip(meta["fields"], meta["dtypes"], strict=True))
    assert columns["last_seen_without"].startswith("datetime64") and columns["first_seen"].startswith("datetime64")
    assert {str(v)[:16] for v in values[list(meta["fields"]).index("last_seen_without")]} == {"2024-10-17T21:00"}
    # The KML, each Placemark's SchemaData.
    kml = tmp_path / "c.kml"
    assert run(w, "--out", str(kml)).exit_code == 0
    cells = [{d.get("name"): d.text for d in p.iter(f"{KML}SimpleData")} for p in ET.parse(kml).getroot().iter(f"{KML}Placemark")]
    assert len(cells) == 2 and all((c["last_seen_without"], c["first_seen"]) == (dated["last_seen_without"], dated["first_seen"]) for c in cells)
    # The dashboard's API, each region's ends as `change --json` gives them.
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")
    from fastapi.testclient import TestClient

    from sitewatch.web import create_app

    api = TestClient(create_app(w.root)).get("/api/sites/dunai/changes")
    assert api.status_code == 200, api.text
    regions = [r for pair in api.json() for r in pair["regions"]]
    assert len(regions) == 2
    for r in regions:
        assert r["last_seen_without"]["observation"] == SAR[0] and r["last_seen_without"]["acquired"] == dated["last_seen_without"]
        assert r["first_seen"]["observation"] == OPTICAL[1] and r["first_seen"]["acquired_date_only"] is False
    period = TestClient(create_app(w.root)).get("/api/sites/dunai/changes?from=2024-10-20&to=2024-10-20")
    assert period.status_code == 200 and all(r["first_seen"]["acquired"] == dated["first_seen"] for p in period.json() for r in p["regions"])
