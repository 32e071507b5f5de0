"""``sitewatch export``: a workspace's detections as GeoJSON, KML, CSV and GeoPackage.

On the ``_report_world`` workspace: Dunai, SAR and optical on 17 and 20 Oct 2024; on the 17th a
vessel in both (118 m SAR at 21:00 UTC, 114 m optical at 01:00 UTC) and a crane in the optical.
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import io
import json
import os
import sqlite3
import stat
import sys
import xml.etree.ElementTree as ET
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import shapely
from click.testing import CliRunner, Result
from shapely.geometry import box, shape

from _fds import open_on
from _report_world import build
from sitewatch import __version__
from sitewatch.cli import main
from sitewatch.kml import kml_to_geojson
from sitewatch.model import DATE_ONLY_NOTE, Site, utc
from sitewatch.report.change_exports import changes_to_kml
from sitewatch.report.detection_exports import (
    DETECTION_CSV_COLUMNS,
    detections_to_csv,
    detections_to_kml,
    kml_title,
)
from sitewatch.report.exports import detections_to_geojson
from sitewatch.store.gpkg import from_gpkg_blob
from sitewatch.workspace import Workspace

KML = "{http://www.opengis.net/kml/2.2}"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    w = build(tmp_path_factory.mktemp("export") / "ws")
    with w.store() as st:  # a second site, without observations
        st.put_site(Site(id="other", name="Other", kind="port", geometry=box(10.0, 40.0, 10.02, 40.02)))
    return w


def run(ws: Workspace, *args: str) -> Result:
    return CliRunner().invoke(main, ["export", "-w", str(ws.root), *args])


def stored(ws: Workspace) -> dict[str, Any]:
    """The detections table's rows by id, read with plain SQL."""
    with closing(sqlite3.connect(ws.db_path)) as db:
        db.row_factory = sqlite3.Row
        return {r["detection_id"]: r for r in db.execute("SELECT * FROM detections")}


def test_geojson_holds_every_stored_detection_with_its_provenance(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "d.geojson"
    res = run(ws, "--out", str(out))
    assert res.exit_code == 0, res.output
    rows = stored(ws)
    fc = json.loads(out.read_text(encoding="utf-8"))
    assert len(rows) == 3 and sorted(f["properties"]["id"] for f in fc["features"]) == sorted(rows)
    assert list(fc)[:2] == ["type", "sitewatch_version"] and fc["sitewatch_version"] == __version__  # which wrote it
    assert f"wrote 3 detection(s) to {out} (simulated imagery)" in res.output
    with ws.store() as st:
        obs = {o.id: o for o in st.observations()}
    for f in fc["features"]:
        p, row = f["properties"], rows[f["properties"]["id"]]
        o = obs[p["observation_id"]]
        assert shape(f["geometry"]).equals_exact(from_gpkg_blob(row["geom"]), 1e-9)
        assert (p["site_id"], p["kind"], p["length_m"], p["heading_deg"]) == ("dunai", row["kind"], row["length_m"], row["heading_deg"])
        assert (p["image"], p["platform"], utc(p["acquired"])) == (o.path, "sim", utc(row["acquired"]))
        assert (ws.root / p["image"]).is_file()  # relative to the workspace, so a figure finds its image
        assert p["simulated"] is True and p["acquired_date_only"] is False
        assert p["detector"] == f"{row['detector']} {row['detector_version']}"


def test_sites_chosen_by_name_and_an_unknown_one_refused(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "d.geojson"
    assert run(ws, "other", "--out", str(out)).exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["features"] == []
    assert run(ws, "dunai", "other", "dunai", "--out", str(out)).exit_code == 0  # a site named twice counts once
    assert len(json.loads(out.read_text(encoding="utf-8"))["features"]) == 3
    gone = tmp_path / "none.geojson"
    res = run(ws, "dunai", "nowhere", "--out", str(gone))
    assert res.exit_code == 1 and "nowhere" in res.output
    assert list(tmp_path.iterdir()) == [out]  # nothing written, nothing partial


def test_an_export_says_which_sites_have_images_detection_has_not_run_on(tmp_path: Path) -> None:
    # Before `detect`, "wrote 0 detection(s) to d.kml" of a site whose 78 images were never detected read as
    # 78 images without a vessel.
    w = build(tmp_path / "ws")
    with w.store() as st:
        first = st.observations()[0]
        st.clear_detections(first.id)
    out = tmp_path / "d.kml"
    res = CliRunner().invoke(main, ["export", "-w", str(w.root), "--out", str(out)])
    assert res.exit_code == 0, res.output
    note = "note: dunai: 1 observation(s) not detected yet, so not in this export: run `sitewatch detect dunai`"
    assert note in res.stderr and note not in res.stdout
    assert CliRunner().invoke(main, ["export", "-w", str(w.root), "--layer", "changes", "--out", str(out)]).exit_code == 1
    with w.store() as st:
        st.put_site(Site(id="other", name="Other", kind="port", geometry=box(10.0, 40.0, 10.02, 40.02)))
    res = CliRunner().invoke(main, ["export", "other", "-w", str(w.root), "--out", str(out)])
    assert res.exit_code == 0 and "note:" not in res.output  # the one site asked for is detected (it has no image)


def test_kml_has_a_placemark_with_a_timestamp_per_detection_in_folders_by_site_and_date(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "d.kml"
    assert run(ws, "--out", str(out)).exit_code == 0
    root = ET.parse(out).getroot()
    assert root.tag == f"{KML}kml"
    placemarks = list(root.iter(f"{KML}Placemark"))
    rows = stored(ws)
    assert len(placemarks) == len(rows)
    whens = [pm.find(f"{KML}TimeStamp/{KML}when") for pm in placemarks]
    assert all(w is not None for w in whens) and len(list(root.iter(f"{KML}TimeStamp"))) == len(rows)
    (site,) = root.find(f"{KML}Document").findall(f"{KML}Folder")  # type: ignore[union-attr]
    assert site.findtext(f"{KML}name") == "dunai"
    assert [f.findtext(f"{KML}name") for f in site.findall(f"{KML}Folder")] == ["dunai 2024-10-17"]
    names = sorted(pm.findtext(f"{KML}name") or "" for pm in placemarks)
    assert names == ["114 m vessel (optical, simulated)", "118 m vessel (SAR, simulated)", "40 m crane (optical, simulated)"]
    # The ExtendedData read back (as `sites import` reads KML) gives the GeoJSON's properties.
    back = {f["properties"]["id"]: f for f in kml_to_geojson(out.read_bytes())["features"]}
    with ws.store() as st:
        fc = detections_to_geojson(st)
    for f in fc["features"]:
        p, k = f["properties"], back[f["properties"]["id"]]
        # Numbers come back as numbers (the document's Schema types them); booleans as KML writes them.
        given = {key: json.dumps(v) if isinstance(v, bool) else v for key, v in p.items()
                 if v is not None and key != "class_candidates"}  # fmt: skip
        assert {key: k["properties"].get(key) for key in given} == given
        assert k["properties"]["simulated"] == "true" and "image" in given
        assert shape(k["geometry"]).equals_exact(shape(f["geometry"]), 1e-6)
    when = {pm.findtext(f"{KML}name"): pm.findtext(f"{KML}TimeStamp/{KML}when") for pm in placemarks}
    assert when["118 m vessel (SAR, simulated)"] == "2024-10-17T21:00:00Z"


def test_kml_fields_come_into_gdal_and_qgis_as_numbers_and_booleans(ws: Workspace, tmp_path: Path) -> None:
    """Written as untyped Data, every property came into QGIS (GDAL's LIBKML driver) as text: lengths sorted
    as words ("111" before "35"), `length_m > 100` compared text, `simulated` was the word 'false'."""
    pyogrio = pytest.importorskip("pyogrio")
    if "LIBKML" not in pyogrio.list_drivers():
        pytest.skip("GDAL without its LIBKML driver")
    out = tmp_path / "d.kml"
    assert run(ws, "--out", str(out)).exit_code == 0
    (day,) = [name for name, _ in pyogrio.list_layers(out) if name == "dunai 2024-10-17"]
    meta, _, _, values = pyogrio.raw.read(out, layer=day)
    col = dict(zip(meta["fields"], values, strict=True))
    for name in ("length_m", "width_m", "heading_deg", "score", "resolution_m"):
        assert col[name].dtype.kind == "f", name
    for name in ("truncated", "acquired_date_only", "simulated"):
        assert col[name].dtype == bool, name
    assert sorted(col["length_m"].tolist()) == sorted(p["length_m"] for p in stored(ws).values())


def test_kml_date_folders_name_their_site_so_qgis_layers_say_which(ws: Workspace, tmp_path: Path) -> None:
    """QGIS (GDAL's LIBKML) opens each KML folder as a layer: one date at two sites gave the layers
    "2024-10-17" and "2024-10-17 (#2)", neither saying which site it held."""
    pyogrio = pytest.importorskip("pyogrio")
    if "LIBKML" not in pyogrio.list_drivers():
        pytest.skip("GDAL without its LIBKML driver")
    with ws.store() as st:
        fc = detections_to_geojson(st)
    other = {**fc["features"][0], "properties": {**fc["features"][0]["properties"], "site_id": "rason"}}
    out = tmp_path / "two.kml"
    out.write_text(detections_to_kml({**fc, "features": [*fc["features"], other]}), encoding="utf-8")
    layers = {name: pyogrio.read_info(out, layer=name)["features"] for name, _ in pyogrio.list_layers(out)}
    assert {name: n for name, n in layers.items() if n} == {"dunai 2024-10-17": len(fc["features"]), "rason 2024-10-17": 1}


def test_kml_document_name_says_simulated_imagery_as_the_demo_s_does(ws: Workspace, tmp_path: Path) -> None:
    # Google Earth's Places list shows a document by its name: `sitewatch export` of the demo's workspace
    # was "sitewatch detections" there, where the demo's own detections.kml said SIMULATED.
    out = tmp_path / "d.kml"
    assert run(ws, "--out", str(out)).exit_code == 0
    assert ET.parse(out).getroot().findtext(f"{KML}Document/{KML}name") == "sitewatch detections (SIMULATED imagery)"
    real = {"type": "FeatureCollection", "features": [{"properties": {"simulated": False}}]}
    sim = {"type": "FeatureCollection", "features": [{"properties": {"simulated": True}}]}
    assert kml_title("sitewatch changes", sim) == "sitewatch changes (SIMULATED imagery)"
    assert kml_title("sitewatch changes", real) == "sitewatch changes"
    empty = {"type": "FeatureCollection", "features": []}
    assert ET.fromstring(detections_to_kml(empty)).findtext(f"{KML}Document/{KML}name") == "sitewatch detections"
    assert ET.fromstring(changes_to_kml(empty)).findtext(f"{KML}Document/{KML}name") == "sitewatch changes"


def _mark_optical_date_only(w: Workspace) -> None:
    with w.store() as st:
        o = next(o for o in st.observations("dunai") if o.id.endswith("2024-10-17-optical"))
        scene = dataclasses.replace(o.scene, acquired=datetime(2024, 10, 17, 12, tzinfo=UTC))
        st.put_observation(dataclasses.replace(o, scene=scene, provenance={"acquired_from": f"name ({DATE_ONLY_NOTE})"}))


def test_kml_stays_valid_xml_with_control_characters_and_markup_in_text(ws: Workspace) -> None:
    with ws.store() as st:
        fc = detections_to_geojson(st, kind="crane")
    fc["features"][0]["properties"] |= {"scene_id": "s1\x1b[31m<b>&", "platform": "a\x00b"}
    (pm,) = ET.fromstring(detections_to_kml(fc)).iter(f"{KML}Placemark")
    data = {d.get("name"): d.text for d in pm.iter(f"{KML}SimpleData")}
    assert (data["scene_id"], data["platform"]) == ("s1[31m<b>&", "ab")


def test_an_image_known_only_by_its_date_is_dated_so_and_filtered_by_its_date(tmp_path: Path) -> None:
    w = build(tmp_path / "ws", simulated=False)
    out = tmp_path / "d.kml"
    res = CliRunner().invoke(main, ["export", "-w", str(w.root), "--out", str(out), "--from", "2024-10-17T13:00Z"])
    assert res.exit_code == 0 and "wrote 1 detection(s)" in res.output  # the optical look at 01:00 is before
    _mark_optical_date_only(w)
    res = CliRunner().invoke(main, ["export", "-w", str(w.root), "--out", str(out), "--from", "2024-10-17T13:00Z"])
    assert res.exit_code == 0 and "wrote 3 detection(s)" in res.output and "simulated" not in res.output
    root = ET.parse(out).getroot()
    when = {pm.findtext(f"{KML}name"): pm.findtext(f"{KML}TimeStamp/{KML}when") for pm in root.iter(f"{KML}Placemark")}
    assert when == {"114 m vessel (optical)": "2024-10-17", "40 m crane (optical)": "2024-10-17",
                    "118 m vessel (SAR)": "2024-10-17T21:00:00Z"}  # fmt: skip


def test_csv_has_a_row_per_detection_with_its_centre_properties_and_box(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    assert run(ws, "--out", str(out)).exit_code == 0
    with out.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == DETECTION_CSV_COLUMNS and DETECTION_CSV_COLUMNS[-1] == "wkt"
        rows = list(reader)
    table = stored(ws)
    assert sorted(r["id"] for r in rows) == sorted(table)
    for r in rows:
        geom = from_gpkg_blob(table[r["id"]]["geom"])
        assert geom is not None and shapely.from_wkt(r["wkt"]).equals_exact(geom, 1e-6)
        assert (float(r["lon"]), float(r["lat"])) == pytest.approx((geom.centroid.x, geom.centroid.y), abs=1e-6)
        assert r["simulated"] == "true" and r["length_m"] == str(table[r["id"]]["length_m"])
    sar = next(r for r in rows if r["sensor"] == "sar")
    assert sar["berth"] == "pier-1" and sar["class_candidates"].count(":") >= 2
    assert next(r for r in rows if r["kind"] == "crane")["berth"] == ""  # none, not "None"


def test_csv_text_cells_are_never_formulas(ws: Workspace) -> None:
    """Berth ids come from downloaded gazetteers: "=HYPERLINK(…)" must reach a spreadsheet as text."""
    with ws.store() as st:
        fc = detections_to_geojson(st, kind="crane")
    evil = '=HYPERLINK("https://evil.example/","x")'
    fc["features"][0]["properties"] |= {"berth": evil, "platform": "@SUM(1)", "scene_id": "-2+3"}
    (row,) = csv.DictReader(io.StringIO(detections_to_csv(fc)))
    assert (row["berth"], row["platform"], row["scene_id"]) == ("'" + evil, "'@SUM(1)", "'-2+3")
    assert row["heading_deg"] == "30.0"  # numbers as they are


@pytest.mark.parametrize(
    ("args", "kinds"),
    [
        (["--kind", "crane"], ["crane"]),
        (["--kind", "vessel"], ["vessel", "vessel"]),
        (["--from", "2024-10-18"], []),
        (["--to", "2024-10-17"], ["crane", "vessel", "vessel"]),
        (["--from", "2024-10-17T12:00Z", "--kind", "all"], ["vessel"]),
        (["--to", "2024-10-17T12:00Z", "--kind", "vessel"], ["vessel"]),
    ],
)
def test_from_to_and_kind_choose_the_detections(ws: Workspace, tmp_path: Path, args: list[str], kinds: list[str]) -> None:
    res = run(ws, "--out", "-", *args)
    assert res.exit_code == 0, res.output
    fc = json.loads(res.stdout)
    assert sorted(f["properties"]["kind"] for f in fc["features"]) == kinds
    assert f"wrote {len(kinds)} detection(s) to standard output" in res.stderr


def test_to_before_from_is_refused(ws: Workspace, tmp_path: Path) -> None:
    res = run(ws, "--out", str(tmp_path / "d.csv"), "--from", "2024-10-20", "--to", "2024-10-17")
    assert res.exit_code == 2 and "before --from" in res.output and not list(tmp_path.iterdir())


def test_standard_output_for_kml_and_csv(ws: Workspace) -> None:
    res = run(ws, "--out", "-", "--format", "kml")
    assert res.exit_code == 0 and len(list(ET.fromstring(res.stdout).iter(f"{KML}Placemark"))) == 3
    res = run(ws, "--out", "-", "--format", "csv")
    assert res.exit_code == 0 and len(list(csv.DictReader(io.StringIO(res.stdout)))) == 3


def test_geopackage_has_the_detections_and_their_sites_and_gdal_reads_it(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "d.gpkg"
    assert run(ws, "--out", str(out)).exit_code == 0
    assert run(ws, "--out", str(out), "--kind", "crane").exit_code == 0  # a rerun replaces the file
    with closing(sqlite3.connect(out)) as db:
        assert db.execute("SELECT kind, simulated FROM detections").fetchall() == [("crane", 1)]
        assert [r[0] for r in db.execute("SELECT site_id FROM sites ORDER BY site_id")] == ["dunai", "other"]
        assert db.execute("SELECT count(*) FROM observations").fetchone()[0] == 4
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.gpkg"]  # no journal, no partial
    assert run(ws, "dunai", "--out", str(out)).exit_code == 0
    with closing(sqlite3.connect(out)) as db:
        assert db.execute("SELECT count(*) FROM detections").fetchone()[0] == len(stored(ws))
        assert [r[0] for r in db.execute("SELECT site_id FROM sites")] == ["dunai"]
    raw = pytest.importorskip("pyogrio.raw")
    meta, _, geoms, fields = raw.read(out, layer="detections")
    assert len(geoms) == 3 and "simulated" in list(meta["fields"]) and meta["crs"] == "EPSG:4326"
    assert len(raw.read(out, layer="sites")[2]) == 1


def test_geopackage_export_reads_the_store_once(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`export --format gpkg` chose the detections twice (once for its count and message, once for the file) and read
    every site twice (once for the ids): each read is now made once, and the file holds what it held."""
    from sitewatch.store.sqlite import Store

    calls: dict[str, list[Any]] = {"observations": [], "detections": [], "sites": []}
    for name in calls:
        real = getattr(Store, name)

        def counted(self: Store, *args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls[_name].append(args or kwargs.get("site_id"))
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(Store, name, counted)
    out = tmp_path / "d.gpkg"
    assert run(ws, "--out", str(out)).exit_code == 0
    assert calls["observations"] == [("dunai",)] and calls["detections"] == ["dunai"] and len(calls["sites"]) == 1
    with closing(sqlite3.connect(out)) as db:
        assert db.execute("SELECT count(*) FROM detections").fetchone()[0] == len(stored(ws))
        assert [r[0] for r in db.execute("SELECT site_id FROM sites ORDER BY site_id")] == ["dunai", "other"]
    for v in calls.values():
        v.clear()
    assert run(ws, "other", "dunai", "--out", str(out)).exit_code == 0
    assert sorted(calls["observations"]) == [("dunai",), ("other",)] and calls["sites"] == []  # the two named, read alone
    with closing(sqlite3.connect(out)) as db:
        assert [r[0] for r in db.execute("SELECT site_id FROM sites")] == ["dunai", "other"]


def test_format_from_the_suffix_or_refused(ws: Workspace, tmp_path: Path) -> None:
    res = run(ws, "--out", str(tmp_path / "d.shp"))
    assert res.exit_code == 1 and "cannot write .shp" in res.output and "--format" in res.output
    res = run(ws, "--out", str(tmp_path / "d.txt"), "--format", "csv")
    assert res.exit_code == 0 and (tmp_path / "d.txt").read_text(encoding="utf-8").startswith("id,site_id,")
    res = run(ws, "--out", "-", "--format", "gpkg")
    assert res.exit_code == 2 and "needs a file name" in res.output
    assert [p.name for p in tmp_path.iterdir()] == ["d.txt"]


def test_the_workspace_database_is_not_overwritten(ws: Workspace) -> None:
    before = ws.db_path.read_bytes()
    res = run(ws, "--out", str(ws.db_path))
    assert res.exit_code == 1 and "workspace's own database" in res.output
    assert ws.db_path.read_bytes() == before


def test_a_geopackage_holding_other_layers_is_not_replaced(ws: Workspace, tmp_path: Path) -> None:
    # QGIS adds a layer to an existing GeoPackage; `export --out project.gpkg` replaced the whole file,
    # and the project's own layers (and the QGIS project saved in it) were gone.
    project = tmp_path / "project.gpkg"
    with closing(sqlite3.connect(project)) as db:
        db.executescript("""CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT);
            CREATE TABLE roads (fid INTEGER PRIMARY KEY); CREATE TABLE qgis_projects (name TEXT);
            INSERT INTO gpkg_contents VALUES ('roads', 'features'), ('qgis_projects', 'attributes');""")
    before = project.read_bytes()
    res = run(ws, "--out", str(project))
    assert res.exit_code == 1 and "holding other layers (qgis_projects, roads)" in res.stderr, res.output
    assert project.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["project.gpkg"]
    if Path("/proc/self/fd").is_dir():  # the look inside it left it closed (`with connect()` does not close)
        assert open_on(project) == []
    # An earlier export of the same layer, and a file that is no GeoPackage, are replaced.
    out = tmp_path / "d.gpkg"
    assert run(ws, "--out", str(out)).exit_code == 0 and run(ws, "--out", str(out)).exit_code == 0
    (tmp_path / "notes.gpkg").write_text("not a database", encoding="utf-8")
    assert run(ws, "--out", str(tmp_path / "notes.gpkg")).exit_code == 0


@pytest.mark.parametrize("suffix", ["geojson", "kml", "csv", "gpkg"])
def test_an_unwritable_out_is_named_and_leaves_nothing(ws: Workspace, tmp_path: Path, suffix: str) -> None:
    folder = Path("/proc/self")  # a folder no one may make files in, root included
    if not folder.is_dir():
        pytest.skip("needs Linux's /proc")
    res = run(ws, "--out", str(folder / f"d.{suffix}"))
    assert res.exit_code == 1 and f"/proc/self/d.{suffix}: cannot write it" in res.output, res.output
    missing = tmp_path / "no" / f"d.{suffix}"
    res = run(ws, "--out", str(missing))
    assert res.exit_code == 2 and "does not exist" in res.output and not (tmp_path / "no").exists()


def test_a_geopackage_is_not_renamed_over_a_pipe_or_device(ws: Workspace, tmp_path: Path) -> None:
    """A GeoPackage is renamed into place; over a FIFO (or /dev/stdout, as root) that replaced the
    FIFO or device itself with a file. The text formats write into it instead (write_text_atomic)."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs FIFOs")
    fifo = tmp_path / "out.gpkg"
    os.mkfifo(fifo)
    res = run(ws, "--out", str(fifo))
    assert res.exit_code == 1 and "not a regular file" in res.output, res.output
    assert stat.S_ISFIFO(fifo.stat().st_mode) and [p.name for p in tmp_path.iterdir()] == ["out.gpkg"]


def test_a_csv_file_has_its_columns_types_beside_it_so_gdal_reads_numbers_times_and_flags(ws: Workspace, tmp_path: Path) -> None:
    """GDAL's CSV driver, and so QGIS, read a CSV alone as all text: lengths sorted as words, `simulated` the
    word "false". The .csvt beside it types them; standard output gets none (nothing to put it beside)."""
    from pyogrio.raw import read

    from sitewatch.report.csv_types import DETECTION_CSV_TYPES, csvt_text

    out = tmp_path / "d.csv"
    assert run(ws, "--out", str(out)).exit_code == 0
    assert set(DETECTION_CSV_TYPES) == set(DETECTION_CSV_COLUMNS)  # every column typed
    assert out.with_suffix(".csvt").read_bytes() == csvt_text(DETECTION_CSV_COLUMNS, DETECTION_CSV_TYPES).encode()
    meta, _, geometry, fields = read(out, datetime_as_string=True)
    by_name = dict(zip(meta["fields"], fields, strict=True))
    dtypes = dict(zip(meta["fields"], meta["dtypes"], strict=True))
    assert dtypes["length_m"] == "float64" and dtypes["lon"] == "float64" and dtypes["simulated"] == "bool"
    assert dtypes["acquired"].startswith("datetime64") and dtypes["id"] == "object"
    assert sorted(by_name["length_m"]) == sorted(float(v["length_m"]) for v in stored(ws).values())
    assert all(by_name["simulated"]) and geometry is not None and len(geometry) == len(stored(ws))
    # Another format, or the CSV on standard output, writes no .csvt; a rerun replaces it, never adds one.
    assert run(ws, "--out", str(tmp_path / "d.kml")).exit_code == 0 and run(ws, "--out", "-", "--format", "csv").exit_code == 0
    assert run(ws, "--out", str(out)).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "d.csvt", "d.kml"]


def _stat(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_ctime_ns


def test_a_file_written_again_with_the_same_bytes_is_left_as_it_is(tmp_path: Path) -> None:
    """An export, a timeline or a report written again unchanged keeps its inode and times (a backup or ``rsync``
    of the folder copies nothing new); other bytes replace it whole."""
    from sitewatch.files import write_text_atomic

    out = write_text_atomic(tmp_path / "a.csv", "date,vessels\n2024-10-17,1\n")
    held = _stat(out)
    write_text_atomic(out, "date,vessels\n2024-10-17,1\n")
    assert _stat(out) == held and not list(tmp_path.glob("*partial*"))
    write_text_atomic(out, "date,vessels\n2024-10-17,2\n")
    assert _stat(out) != held and out.read_text(encoding="utf-8").endswith(",2\n")
    held = _stat(out)
    write_text_atomic(out, "date,vessels\n2024-10-17,3\n")  # the same size, other bytes
    assert _stat(out) != held and out.read_text(encoding="utf-8").endswith(",3\n")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_file_written_again_with_other_bytes_keeps_its_permissions(tmp_path: Path) -> None:
    """An export made private (``chmod 600``) and written again with a new row became readable by every user (the
    new file's permissions were the umask's); written again with the same bytes it stayed private."""
    from sitewatch.files import write_text_atomic

    out = write_text_atomic(tmp_path / "a.csv", "date,vessels\n2024-10-17,1\n")
    out.chmod(0o600)
    write_text_atomic(out, "date,vessels\n2024-10-17,2\n")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and out.read_text(encoding="utf-8").endswith(",2\n")
    fresh = write_text_atomic(tmp_path / "b.csv", "x\n")  # a new file: the umask's, as before
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("args", [["export", "--out", "OUT/d.geojson"], ["export", "--out", "OUT/d.kml", "--format", "kml"],
                                  ["timeline", "dunai", "--csv", "OUT/t.csv"]])  # fmt: skip
def test_a_command_run_again_with_nothing_new_leaves_its_output_file(tmp_path: Path, args: list[str]) -> None:
    """(Not the report: it says when it was generated, to the minute.)"""
    ws = build(tmp_path / "ws")
    args = [a.replace("OUT", str(tmp_path)) for a in args]
    path = Path(next(a for a in args if str(tmp_path) in a))
    for _ in range(2):
        res = CliRunner().invoke(main, ["-q", *args, "-w", str(ws.root)])
        assert res.exit_code == 0, res.output
        if _ == 0:
            held = _stat(path)
    assert _stat(path) == held


@pytest.mark.parametrize("failing", [".csvt", ".csv"])
def test_a_csv_and_its_csvt_are_written_both_or_neither(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        failing: str) -> None:  # fmt: skip
    """The CSV was renamed into place before its .csvt was written: a .csvt that failed (a full disk) left the new
    CSV beside no types (GDAL read it all as text) or beside the old ones. Now a failure of either keeps the old
    pair as it was, and of a first export leaves neither, and no partial file."""
    import sitewatch.files as files_module

    real_replace = os.replace

    def replace(src, dst):  # type: ignore[no-untyped-def]
        if str(dst).endswith(failing) and str(src).endswith(".partial"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst)

    out = tmp_path / "d.csv"
    assert run(ws, "--out", str(out), "--kind", "vessel").exit_code == 0
    old = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(old) == ["d.csv", "d.csvt"]
    out.with_suffix(".csvt").write_text('"String"\r\n', encoding="utf-8")  # (another .csvt, to see it kept)
    old["d.csvt"] = b'"String"\r\n'
    monkeypatch.setattr(files_module.os, "replace", replace)
    res = run(ws, "--out", str(out))  # every kind: another CSV
    assert res.exit_code == 1 and f"d{failing}: cannot write it" in res.output, res.output
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == old
    res = run(ws, "--out", str(tmp_path / "e.csv"))
    assert res.exit_code == 1 and f"e{failing}: cannot write it" in res.output, res.output
    assert {p.name for p in tmp_path.iterdir()} == {"d.csv", "d.csvt"}
    monkeypatch.setattr(files_module.os, "replace", real_replace)
    assert run(ws, "--out", str(out)).exit_code == 0  # the rerun writes the pair
    assert out.read_bytes() != old["d.csv"] and out.with_suffix(".csvt").read_bytes() != old["d.csvt"]
    assert {p.name for p in tmp_path.iterdir()} == {"d.csv", "d.csvt"}


def test_files_written_together_keep_the_old_ones_when_one_cannot_be_written(tmp_path: Path) -> None:
    """write_texts_atomic: a folder where the second file should go (a real failure, no stand-in) leaves the first
    file's old bytes, removes a file that was not there before, and leaves no partial file."""
    from sitewatch.errors import OutputError
    from sitewatch.files import write_texts_atomic

    b, a = tmp_path / "a.csv", tmp_path / "a.csvt"  # renamed last first: the .csvt (a), then the CSV (b)
    b.mkdir()
    with pytest.raises(OutputError, match=r"a\.csv: cannot write it"):
        write_texts_atomic([(b, "new rows"), (a, "new types")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"] and b.is_dir()
    a.write_text("old types", encoding="utf-8")
    with pytest.raises(OutputError):
        write_texts_atomic([(b, "new rows"), (a, "new types")])
    assert a.read_text(encoding="utf-8") == "old types" and sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.csvt"]
    b.rmdir()
    assert write_texts_atomic([(b, "new rows"), (a, "new types")]) == [b, a]
    assert (a.read_text(encoding="utf-8"), b.read_text(encoding="utf-8")) == ("new types", "new rows")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.csvt"]
