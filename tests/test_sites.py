"""Sites: the built-in gazetteer, GeoJSON/KML in and out, and the CLI."""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import shapely.affinity
from click.testing import CliRunner
from hypothesis import given
from shapely.geometry import LineString, MultiPolygon, box, mapping, shape

from sitewatch.cli import main
from sitewatch.errors import InputError, OutputError, RefusedFeatureWarning, RenamedSiteWarning
from sitewatch.model import Berth, Site
from sitewatch.sites import (
    builtin_sites,
    site_from_bbox,
    sites_from_geojson,
    sites_to_geojson,
    sites_to_kml,
)
from sitewatch.testing import bboxes
from sitewatch.workspace import open_workspace


def test_builtin_gazetteer_has_the_story_places_with_sources() -> None:
    sites = builtin_sites()
    for sid in ("dunai", "rason", "chongjin", "hungnam", "musudan-ri", "vladivostok", "ussuriysk", "khabarovsk"):
        assert sites[sid].resolved
        assert "gazetteer" in sites[sid].coord_source
    dunai = sites["dunai"].geometry
    assert dunai is not None and dunai.contains(box(132.337, 42.879, 132.339, 42.881))
    unresolved = {s.id for s in sites.values() if not s.resolved}
    assert {"lifarevka", "sergeyevka-133e", "sergeyevka-131e"} <= unresolved
    assert sites["lifarevka"].geometry is None  # not invented
    assert "UNRESOLVED" in sites["lifarevka"].note


def test_geojson_round_trip_with_berths_and_water() -> None:
    site = Site(
        id="pier",
        name="Pier",
        kind="port",
        geometry=box(132.0, 42.0, 132.1, 42.1),
        berths=(Berth("b1", LineString([(132.01, 42.05), (132.02, 42.05)]), "north quay"),),
        water=box(132.0, 42.0, 132.1, 42.04),
        coord_source="drawn on imagery",
    )
    back = sites_from_geojson(json.loads(json.dumps(sites_to_geojson([site]))))
    assert back == [site]


def test_kml_is_well_formed() -> None:
    kml = sites_to_kml(builtin_sites().values())
    root = ET.fromstring(kml)
    placemarks = root.findall(".//{http://www.opengis.net/kml/2.2}Placemark")
    assert len(placemarks) == sum(1 for s in builtin_sites().values() if s.geometry is not None)
    # A site with no coordinates keeps its note on its folder.
    unplaced = next(s for s in builtin_sites().values() if s.geometry is None)
    ns = "{http://www.opengis.net/kml/2.2}"
    folder = next(f for f in root.iter(f"{ns}Folder") if f.findtext(f"{ns}name") == unplaced.name)
    assert f"id: {unplaced.id}" in (folder.findtext(f"{ns}description") or "")
    assert unplaced.note[:30] in (folder.findtext(f"{ns}description") or "")


def test_swapped_axes_are_named() -> None:
    bad = {"type": "Feature", "properties": {"id": "x"}, "geometry": box(42.0, 132.0, 42.1, 132.1).__geo_interface__}
    with pytest.raises(InputError, match="swap"):
        sites_from_geojson(bad)


@given(bboxes())
def test_bbox_sites_are_valid(bbox: tuple[float, float, float, float]) -> None:
    site = site_from_bbox("b", bbox)
    assert site.geometry is not None and site.geometry.bounds == pytest.approx(bbox)
    assert 32601 <= site.utm_epsg() <= 32760


def test_cli_sites_add_list_export_import(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    assert runner.invoke(main, ["init", ws]).exit_code == 0
    r = runner.invoke(main, ["sites", "add", "harbour", "--bbox", "132.3,42.8,132.4,42.9", "--name", "Harbour", "-w", ws])
    assert r.exit_code == 0, r.output
    assert runner.invoke(main, ["sites", "add", "dunai", "--builtin", "-w", ws]).exit_code == 0
    r = runner.invoke(main, ["sites", "list", "--json", "-w", ws])
    assert {f["properties"]["id"] for f in json.loads(r.output)["features"]} == {"harbour", "dunai"}
    out = tmp_path / "sites.geojson"
    assert runner.invoke(main, ["sites", "export", str(out), "-w", ws]).exit_code == 0
    assert runner.invoke(main, ["sites", "export", str(tmp_path / "s.kml"), "-w", ws]).exit_code == 0
    ET.parse(tmp_path / "s.kml")
    ws2 = str(tmp_path / "ws2")
    runner.invoke(main, ["init", ws2])
    r = runner.invoke(main, ["sites", "import", str(out), "-w", ws2])
    assert r.exit_code == 0 and "2 site(s)" in r.output
    r = runner.invoke(main, ["sites", "add", "x", "--bbox", "1,2,3", "-w", ws])
    assert r.exit_code != 0 and "W,S,E,N" in r.output
    r = runner.invoke(main, ["sites", "show", "nowhere", "-w", ws])
    assert r.exit_code != 0 and "sitewatch sites add nowhere" in r.output


def _polygon_fc(props: list[dict[str, object]]) -> dict[str, object]:
    """Square polygons side by side, one per properties dict, as QGIS saves a drawn layer."""
    feats = []
    for i, p in enumerate(props):
        x = 132.30 + 0.02 * i
        ring = [[x, 42.86], [x + 0.01, 42.86], [x + 0.01, 42.87], [x, 42.87], [x, 42.86]]
        feats.append({"type": "Feature", "properties": p, "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": feats}


def test_unnamed_and_same_named_polygons_become_distinct_sites(tmp_path: Path) -> None:
    fc = _polygon_fc([{}, {}, {}, {"name": "Port A"}, {"name": "Port A"}])
    with pytest.warns(RenamedSiteWarning) as caught:
        sites = sites_from_geojson(fc, "drawn.geojson")
    assert [s.id for s in sites] == ["site", "site-2", "site-3", "port-a", "port-a-2"]
    assert [s.name for s in sites][3:] == ["Port A", "Port A"]
    assert len(caught) == 3 and "feature 4 (Port A)" in str(caught[2].message)


def test_a_repeated_explicit_id_is_an_error_naming_it() -> None:
    with pytest.raises(InputError, match="site id 'a' is given twice"):
        sites_from_geojson(_polygon_fc([{"id": "a"}, {"id": "a", "name": "other"}]), "x.geojson")


def test_a_polygon_whose_name_field_has_another_title_is_told_its_fields(tmp_path: Path) -> None:
    # A layer made in a Russian QGIS calls its name field 'Название': the polygon went in as 'site' "(it has no id or
    # name)", which did not say where its name was, nor what to call the field.
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    assert runner.invoke(main, ["init", ws]).exit_code == 0
    src = tmp_path / "ru.geojson"
    src.write_text(json.dumps(_polygon_fc([{"Название": "Порт Восточный", "Тип": "порт", "kind": "port", "area_km2": 3}]),
                              ensure_ascii=False), encoding="utf-8")  # fmt: skip
    r = runner.invoke(main, ["sites", "import", str(src), "-w", ws])
    assert r.exit_code == 0, r.output
    assert ("imported as site 'site' (it has no id or name field; its text fields are Название, Тип: rename the one "
            "that names the place to name)") in r.output, r.output  # fmt: skip


def test_cli_import_keeps_every_unnamed_polygon(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    assert runner.invoke(main, ["init", ws]).exit_code == 0
    src = tmp_path / "unnamed.geojson"
    src.write_text(json.dumps(_polygon_fc([{}, {}, {}])), encoding="utf-8")
    r = runner.invoke(main, ["sites", "import", str(src), "-w", ws])
    assert r.exit_code == 0, r.output
    assert "imported 3 site(s): site, site-2, site-3" in r.output
    assert "imported as site 'site-2' (it has no id or name)" in r.output
    r = runner.invoke(main, ["sites", "list", "--json", "-w", ws])
    assert len(json.loads(r.output)["features"]) == 3


@pytest.mark.parametrize("name", ["all.shp", "all.gpkg", "all"])
def test_cli_export_refuses_an_unknown_suffix(tmp_path: Path, name: str) -> None:
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    assert runner.invoke(main, ["init", ws]).exit_code == 0
    r = runner.invoke(main, ["sites", "export", str(tmp_path / name), "-w", ws])
    assert r.exit_code == 1, r.output
    assert (Path(name).suffix or "without a suffix") in r.output and ".geojson, .json, .kml" in r.output
    assert not (tmp_path / name).exists()
    r = runner.invoke(main, ["sites", "export", str(tmp_path / name), "--format", "geojson", "-w", ws])
    assert r.exit_code == 0 and json.loads((tmp_path / name).read_text(encoding="utf-8"))["type"] == "FeatureCollection"


@pytest.mark.parametrize("columns", ["80", "60"])
def test_cli_list_never_cuts_an_id(columns: str) -> None:
    from _tables import whole_words

    r = CliRunner().invoke(main, ["sites", "list", "--builtin"], env={"COLUMNS": columns})
    assert r.exit_code == 0, r.output
    assert "…" not in r.output and max(len(line) for line in r.output.splitlines()) <= int(columns)
    ids = whole_words(r.output)  # each id whole on one line (a table's column, or a record's first line)
    missing = [sid for sid in builtin_sites() if sid not in ids]
    assert not missing, f"ids cut in a {columns}-column table: {missing}"
    if columns == "80":  # room for every other word: kinds and coordinates whole
        assert "training_ground" in r.output and "132.3380" in r.output


def test_cli_redrawing_a_site_keeps_its_name_and_warns_of_observations_cut_to_the_old_area(tmp_path: Path) -> None:
    import numpy as np
    from affine import Affine

    from sitewatch.testing import site_utm_origin, write_tiff

    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    add = ["sites", "add", "harbour", "--bbox", "132.33,42.87,132.35,42.89", "-w", ws]
    assert runner.invoke(main, [*add, "--name", "Harbour"]).exit_code == 0
    assert "warning" not in runner.invoke(main, add).output  # the same area again: nothing to redo
    site = site_from_bbox("harbour", (132.33, 42.87, 132.35, 42.89))
    crs, x0, y0 = site_utm_origin(site)
    tif = write_tiff(tmp_path / "s1_20241017.tif", np.full((260, 220), 0.01, "float32"), crs=crs,
                     transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"])  # fmt: skip
    assert runner.invoke(main, ["-q", "ingest", "harbour", str(tif), "-w", ws]).exit_code == 0
    r = runner.invoke(main, ["sites", "add", "harbour", "--bbox", "132.33,42.87,132.34,42.88", "-w", ws])
    assert r.exit_code == 0 and "1 observation(s) of 'harbour' were cut to its old area" in r.output
    shown = json.loads(runner.invoke(main, ["sites", "show", "harbour", "-w", ws]).output)
    assert shown["features"][0]["properties"]["name"] == "Harbour"


def _with_extras(extras: list[dict[str, object]]) -> dict[str, object]:
    site = box(132.30, 42.86, 132.37, 42.90)
    feats = [{"type": "Feature", "properties": {"id": "p1"}, "geometry": mapping(site)}]
    feats += [{"type": "Feature", "properties": {"site_id": "p1", **e["props"]}, "geometry": e["geom"]} for e in extras]  # type: ignore[dict-item]
    return {"type": "FeatureCollection", "features": feats}


def test_water_is_every_water_polygon_of_a_site_and_must_be_a_valid_polygon() -> None:
    basin, approach = box(132.31, 42.87, 132.33, 42.88), box(132.33, 42.87, 132.36, 42.875)
    (site,) = sites_from_geojson(_with_extras([
        {"props": {"role": "water"}, "geom": mapping(basin)},
        {"props": {"role": "water"}, "geom": mapping(approach)},
    ]))  # fmt: skip
    assert site.water is not None and abs(site.water.area - (basin.area + approach.area)) < 1e-12
    line = {"type": "LineString", "coordinates": [[132.31, 42.87], [132.33, 42.88]]}
    with pytest.warns(RefusedFeatureWarning, match="water feature needs a Polygon"):
        (site,) = sites_from_geojson(_with_extras([{"props": {"role": "water"}, "geom": line}]))
    assert site.water is None  # the site goes in without it
    bowtie = {"type": "Polygon", "coordinates": [[[132.31, 42.87], [132.33, 42.88], [132.33, 42.87], [132.31, 42.88], [132.31, 42.87]]]}
    with pytest.warns(RefusedFeatureWarning, match="water polygon is not valid"):
        (site,) = sites_from_geojson(_with_extras([{"props": {"role": "water"}, "geom": bowtie}, {"props": {"role": "water"}, "geom": mapping(basin)}]))
    assert site.water == basin


def test_a_repeated_berth_id_is_named() -> None:
    quay = {"type": "LineString", "coordinates": [[132.31, 42.87], [132.33, 42.88]]}
    with pytest.warns(RefusedFeatureWarning, match=r"feature 2 \(b1\): berth id 'b1' is given twice for site 'p1'"):
        (site,) = sites_from_geojson(_with_extras([{"props": {"role": "berth", "id": "b1"}, "geom": quay}] * 2))
    assert [b.id for b in site.berths] == ["b1"]


def test_exported_kml_and_kmz_read_back_to_the_same_sites(tmp_path: Path) -> None:
    # It was refused ("sitewatch reads sites from GeoJSON"): Google Earth users could not bring their sites back.
    import zipfile

    from sitewatch.sites import read_sites_file

    quay = Berth(id="quay-1", geometry=LineString([(132.32, 42.87), (132.33, 42.87)]), name="Quay 1 & 2")
    site = Site(id="p1", name="Порт <Ångström>", kind="port", geometry=box(132.30, 42.86, 132.37, 42.90),
                berths=(quay,), water=box(132.31, 42.865, 132.36, 42.875), tags=("navy", "pier"),
                coord_source="drawn", note="see: notes")  # fmt: skip
    unresolved = Site(id="far", name="Far", kind="area", geometry=box(10, 10, 10.1, 10.1), resolved=False)
    (tmp_path / "sites.kml").write_text(sites_to_kml([site, unresolved]), encoding="utf-8")
    with zipfile.ZipFile(tmp_path / "sites.kmz", "w") as kmz:
        kmz.writestr("doc.kml", sites_to_kml([site, unresolved]))
    for name in ("sites.kml", "sites.kmz"):
        back = read_sites_file(tmp_path / name)
        assert [s.id for s in back] == ["p1", "far"]
        got = back[0]
        assert (got.name, got.kind, got.tags, got.coord_source, got.note) == (site.name, "port", ("navy", "pier"), "drawn", "see: notes")
        assert got.geometry is not None and got.geometry.equals(site.geometry)
        assert [(b.id, b.name) for b in got.berths] == [("quay-1", "Quay 1 & 2")]
        assert got.water is not None and got.water.equals(site.water)
        assert not back[1].resolved


def test_a_kmz_whose_document_unpacks_too_big_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A KMZ of a few kB holding a doc.kml that unpacks to gigabytes was read whole into memory."""
    import zipfile

    from sitewatch import untrusted
    from sitewatch.sites import read_sites_file

    monkeypatch.setattr(untrusted, "MAX_MEMBER_BYTES", 2**20)  # 1 MiB stands for the real bound
    with zipfile.ZipFile(tmp_path / "bomb.kmz", "w", zipfile.ZIP_DEFLATED) as kmz:
        kmz.writestr("doc.kml", b"<kml>" + b" " * 2 * 2**20 + b"</kml>")
    assert (tmp_path / "bomb.kmz").stat().st_size < 20_000
    with pytest.raises(InputError, match=r"bomb.kmz: doc.kml unpacks to 2,097,163 bytes, more than sitewatch reads"):
        read_sites_file(tmp_path / "bomb.kmz")


def test_a_kml_declaring_entities_is_refused(tmp_path: Path) -> None:
    """A gazetteer KML's declared entities were expanded as it was parsed: 20 MB made 1.2 GB under expat's cap."""
    from sitewatch.sites import read_sites_file

    body = '<kml><Placemark><name>&a;</name><Polygon><outerBoundaryIs><LinearRing><coordinates>' \
           "1,1 1,2 2,2 1,1</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></kml>"
    (tmp_path / "x.kml").write_text(f'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "{"x" * 90}">]>{body}', encoding="utf-8")
    with pytest.raises(InputError, match=r"x.kml: declares XML entities"):
        read_sites_file(tmp_path / "x.kml")
    (tmp_path / "p.kml").write_text(f'<!DOCTYPE kml [<!ENTITY % p "x">]>{body.replace("&a;", "P")}', encoding="utf-8")  # a parameter entity
    with pytest.raises(InputError, match=r"p.kml: declares XML entities"):
        read_sites_file(tmp_path / "p.kml")


def test_terminal_escape_sequences_in_a_gazetteer_are_dropped(tmp_path: Path) -> None:
    """A site name with ESC/CSI sequences recoloured the terminal (or planted a hyperlink) in `sites list`."""
    from sitewatch.sites import read_sites_file

    props = {"name": "Pier\x1b[2J\x9b31m 7\x1b]8;;https://evil.example\x07", "tags": ["navy\x1b[5m"], "note": "line 1\nline 2"}
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": props, "geometry": mapping(box(10, 10, 10.01, 10.01))}]}
    (tmp_path / "g.geojson").write_text(json.dumps(fc), encoding="utf-8")
    (site,) = read_sites_file(tmp_path / "g.geojson")
    assert (site.name, site.tags, site.note) == ("Pier[2J31m 7]8;;https://evil.example", ("navy[5m",), "line 1\nline 2")


def test_a_direction_override_left_open_in_a_name_is_dropped_and_a_closed_one_kept(tmp_path: Path) -> None:
    """An RLO (U+202E) left open in a site's name turned the rest of its `sites list` row, or of a sentence of the
    report, right to left; a closed embedding (RLE … PDF around an Arabic name) is the name's own and stays."""
    from sitewatch.sites import read_sites_file
    from sitewatch.untrusted import without_controls

    props = {"name": "Port\u202e A", "note": "\u202bميناء طرطوس\u202c, pier\u202c 2", "tags": ["\u2067navy"]}
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": props, "geometry": mapping(box(10, 10, 10.01, 10.01))}]}
    (tmp_path / "g.geojson").write_text(json.dumps(fc), encoding="utf-8")
    (site,) = read_sites_file(tmp_path / "g.geojson")
    assert (site.name, site.note, site.tags) == ("Port A", "\u202bميناء طرطوس\u202c, pier 2", ("navy",))
    # A PDF does not end an isolate (dropped, the isolate too when nothing ends it); a PDI ends the embeddings within it.
    assert without_controls("\u2067a\u202c b") == "a b"
    assert without_controls("\u2067a\u202b b\u2069") == "\u2067a\u202b b\u2069"


def test_deeply_nested_gazetteers_are_input_errors_not_tracebacks(tmp_path: Path) -> None:
    """JSON arrays or KML MultiGeometries 100 000 deep ended `sites import` in a RecursionError traceback."""
    from sitewatch.sites import read_sites_file

    (tmp_path / "deep.geojson").write_text('{"type": "FeatureCollection", "features": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    with pytest.raises(InputError, match=r"deep.geojson: its JSON is nested too deeply to read"):
        read_sites_file(tmp_path / "deep.geojson")
    (tmp_path / "deep.kml").write_text("<kml><Placemark>" + "<MultiGeometry>" * 50_000 + "</MultiGeometry>" * 50_000 + "</Placemark></kml>", encoding="utf-8")
    with pytest.raises(InputError, match=r"deep.kml, placemark '\(no name\)': its geometry is nested too deeply"):
        read_sites_file(tmp_path / "deep.kml")


def test_google_earth_kml_with_folders_altitudes_and_pins(tmp_path: Path) -> None:
    from sitewatch.errors import SkippedInputWarning
    from sitewatch.sites import read_sites_file

    kml = tmp_path / "My Places.kml"
    kml.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2"><Document><name>Ports</name>
<Folder><name>My places</name><Folder><name>Primorye</name>
 <Placemark><name>Bolshoy Kamen</name><description>Shipyard basin, the floating dock left out</description><styleUrl>#s</styleUrl><Polygon><tessellate>1</tessellate>
  <outerBoundaryIs><LinearRing><coordinates>
    132.33,43.10,0 132.36,43.10,0 132.36,43.12,12.5 132.33,43.12,0 132.33,43.10,0
  </coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
 <Placemark><name>Pin</name><Point><coordinates>132.34,43.11,0</coordinates></Point></Placemark>
</Folder>
<Placemark id="qgis.2"><name>Находка</name><ExtendedData><SchemaData schemaUrl="#q"><SimpleData name="kind">port</SimpleData>
 </SchemaData></ExtendedData><MultiGeometry><Polygon><outerBoundaryIs><LinearRing><coordinates>132.88,42.80 132.90,42.80
 132.90,42.82 132.88,42.80</coordinates></LinearRing></outerBoundaryIs></Polygon></MultiGeometry></Placemark>
</Folder></Document></kml>""", encoding="utf-8")  # fmt: skip
    with pytest.warns(SkippedInputWarning, match="placemark 'Pin': skipped, .* \\(Point\\)"), pytest.warns(RenamedSiteWarning):
        kamen, nakhodka = read_sites_file(kml)
    assert kamen.id == "bolshoy-kamen" and kamen.geometry is not None
    assert kamen.note == "Shipyard basin, the floating dock left out"  # Google Earth's Description box: it was dropped
    assert nakhodka.note == ""
    assert kamen.geometry.bounds == (132.33, 43.10, 132.36, 43.12) and not kamen.geometry.has_z
    assert (nakhodka.id, nakhodka.name, nakhodka.kind) == ("site", "Находка", "port")
    bad = tmp_path / "bad.kml"
    bad.write_text("<kml><Document><Placemark>", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.kml: not a valid KML \(XML\) file"):
        read_sites_file(bad)
    bad.write_text("<gpx/>", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.kml: not a KML file \(its root element is <gpx>"):
        read_sites_file(bad)


def _gdal_kml(layer: str, places: list[tuple[int, str, tuple[float, float, float, float]]], libkml: bool = False) -> str:
    """A polygon layer with QGIS's integer ``id`` field as GDAL writes it to KML (QGIS's Save Features As):
    a typed ``<Schema>`` and ``<SchemaData>``; the LIBKML driver leaves ``id`` out of the Schema."""
    marks = "".join(
        f'<Placemark id="{layer}.{i}"><name>{name}</name><ExtendedData><SchemaData schemaUrl="#{layer}">'
        f'<SimpleData name="id">{i}</SimpleData><SimpleData name="kind">port</SimpleData></SchemaData></ExtendedData>'
        f"<MultiGeometry><Polygon><outerBoundaryIs><LinearRing><coordinates>{w},{s} {e},{s} {e},{n} {w},{n} {w},{s}"
        "</coordinates></LinearRing></outerBoundaryIs></Polygon></MultiGeometry></Placemark>"
        for i, name, (w, s, e, n) in places
    )
    id_field = "" if libkml else '<SimpleField name="id" type="int"></SimpleField>'
    return (f'<?xml version="1.0" encoding="utf-8" ?><kml xmlns="http://www.opengis.net/kml/2.2"><Document id="root_doc">'
            f'<Schema name="{layer}" id="{layer}">{id_field}<SimpleField name="kind" type="string"></SimpleField></Schema>'
            f"<Folder><name>{layer}</name>{marks}</Folder></Document></kml>")  # fmt: skip


@pytest.mark.parametrize("libkml", [False, True])
def test_a_qgis_kml_row_number_id_gives_way_to_the_name(tmp_path: Path, libkml: bool) -> None:
    """QGIS saves a layer's integer `id` field to KML as SimpleData (typed int in its Schema, or, by GDAL's LIBKML
    driver, not declared): read as text, the sites were '1' and '2', and the next QGIS KML of other ports, its rows
    numbered 1 and 2 again, replaced them ('imported 2 site(s): 1 (replaced), 2 (replaced)')."""
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    (tmp_path / "korea.kml").write_text(_gdal_kml("korea", [(1, "Busan", (129.03, 35.09, 129.09, 35.12)),
                                                            (2, "Incheon", (126.59, 37.44, 126.63, 37.47))], libkml), encoding="utf-8")  # fmt: skip
    (tmp_path / "italy.kml").write_text(_gdal_kml("italy", [(1, "Genova", (8.88, 44.395, 8.94, 44.415)),
                                                            (2, "La Spezia", (9.82, 44.09, 9.86, 44.11))], libkml), encoding="utf-8")  # fmt: skip
    for name in ("korea.kml", "italy.kml"):
        r = runner.invoke(main, ["sites", "import", str(tmp_path / name), "-w", ws])
        assert r.exit_code == 0 and "replaced" not in r.output, r.output
    r = runner.invoke(main, ["sites", "list", "--json", "-w", ws])
    assert sorted(f["id"] for f in json.loads(r.output)["features"]) == ["busan", "genova", "incheon", "la-spezia"]


def test_sites_show_and_export_write_names_as_written(tmp_path: Path) -> None:
    """`sites show` printed a Cyrillic name as "\\u0413\\u0430\\u0432…" and `sites export` wrote it so into the
    file a colleague opens; control characters stay escaped (JSON escapes them)."""
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    (tmp_path / "p.geojson").write_text(json.dumps(_polygon_fc([{"id": "dunai", "name": "Гавань Дуная"}]), ensure_ascii=False),
                                        encoding="utf-8")  # fmt: skip
    assert runner.invoke(main, ["sites", "import", str(tmp_path / "p.geojson"), "-w", ws]).exit_code == 0
    shown = runner.invoke(main, ["sites", "show", "dunai", "-w", ws])
    assert shown.exit_code == 0 and '"name": "Гавань Дуная"' in shown.stdout
    assert runner.invoke(main, ["sites", "export", str(tmp_path / "out.geojson"), "-w", ws]).exit_code == 0
    text = (tmp_path / "out.geojson").read_text(encoding="utf-8")
    assert '"name": "Гавань Дуная"' in text and json.loads(text)["features"][0]["properties"]["name"] == "Гавань Дуная"


def _p1_with_a_berth_and_water(tmp_path: Path) -> tuple[CliRunner, str]:
    """A new workspace holding the site ``p1`` (imported from GeoJSON) with the berth ``east`` and a water polygon."""
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    fc = _with_extras([
        {"props": {"role": "berth", "id": "east"}, "geom": mapping(LineString([(132.32, 42.87), (132.33, 42.87)]))},
        {"props": {"role": "water"}, "geom": mapping(box(132.31, 42.865, 132.36, 42.875))},
    ])  # fmt: skip
    (tmp_path / "p1.geojson").write_text(json.dumps(fc), encoding="utf-8")
    assert runner.invoke(main, ["sites", "import", str(tmp_path / "p1.geojson"), "-w", ws]).exit_code == 0
    return runner, ws


def test_cli_redrawing_a_site_says_which_berths_and_water_it_no_longer_has(tmp_path: Path) -> None:
    runner, ws = _p1_with_a_berth_and_water(tmp_path)
    r = runner.invoke(main, ["sites", "add", "p1", "--bbox", "132.30,42.86,132.38,42.90", "-w", ws])
    assert r.exit_code == 0
    assert "'p1' no longer has 1 berth(s) or its water polygon" in r.output  # it was dropped in silence
    r = runner.invoke(main, ["sites", "add", "p1", "--bbox", "132.30,42.86,132.38,42.90", "-w", ws])
    assert "no longer has" not in r.output


def test_sites_add_of_the_same_area_again_keeps_the_berths_and_water(tmp_path: Path) -> None:
    # The README's team set-up run by a second member (or the same command twice) on a site whose berths and water
    # were imported: `sites add p1 --bbox <its box>` dropped them, and the next detect ran without the water.
    runner, ws = _p1_with_a_berth_and_water(tmp_path)
    with open_workspace(Path(ws)).store() as store:
        before = store.get_site("p1")
    r = runner.invoke(main, ["sites", "add", "p1", "--bbox", "132.30,42.86,132.37,42.90", "-w", ws])
    assert r.exit_code == 0 and r.output == "site 'p1' unchanged\n", r.output
    with open_workspace(Path(ws)).store() as store:
        assert store.get_site("p1") == before
    r = runner.invoke(main, ["sites", "add", "p1", "--bbox", "132.30,42.86,132.37,42.90", "--name", "Pier 1", "-w", ws])
    assert r.exit_code == 0 and r.output == "site 'p1' replaced\n", r.output
    with open_workspace(Path(ws)).store() as store:
        after = store.get_site("p1")
    assert after.name == "Pier 1" and [b.id for b in after.berths] == ["east"] and after.water is not None


def test_a_legacy_crs_member_is_reprojected_and_an_unknown_one_named() -> None:
    # QGIS and ogr2ogr write a "crs" member for a layer saved in EPSG:3857; its metres are not degrees.
    from pyproj import Transformer

    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    (x0, x1), (y0, y1) = to_merc.transform([131.88, 131.90], [43.10, 43.12])
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}
    fc = {"type": "FeatureCollection", "crs": crs, "features": [
        {"type": "Feature", "properties": {"id": "vl"}, "geometry": {"type": "Polygon", "coordinates": [ring]}},
    ]}  # fmt: skip
    (site,) = sites_from_geojson(fc, origin="merc.geojson")
    assert site.geometry is not None
    assert site.geometry.bounds == pytest.approx((131.88, 43.10, 131.90, 43.12), abs=1e-9)
    # metres small enough to pass for degrees are still metres
    small = {**fc, "features": [{**fc["features"][0], "geometry": box(10, 10, 50, 60).__geo_interface__}]}
    (tiny,) = sites_from_geojson(small)
    assert tiny.geometry is not None and tiny.geometry.bounds[2] < 0.001
    crs84 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    (same,) = sites_from_geojson({**fc, "crs": crs84, "features": [
        {"type": "Feature", "properties": {"id": "a"}, "geometry": mapping(box(131.88, 43.10, 131.90, 43.12))},
    ]})  # fmt: skip
    assert same.geometry is not None and same.geometry.bounds == (131.88, 43.10, 131.90, 43.12)
    bogus = {"type": "name", "properties": {"name": "EPSG:999999"}}
    with pytest.raises(InputError, match=r"merc\.geojson: unknown CRS 'EPSG:999999'"):
        sites_from_geojson({**fc, "crs": bogus}, origin="merc.geojson")


def test_ids_from_names_keep_accented_letters_and_say_when_a_name_gives_none() -> None:
    names = ["Port Ångström", "São Tomé", "Tromsø", "Владивосток", "Два острова", "port-angstrom"]
    with pytest.warns(RenamedSiteWarning) as caught:
        sites = sites_from_geojson(_polygon_fc([{"name": n} for n in names]), "drawn.geojson")
    assert [s.id for s in sites] == ["port-angstrom", "sao-tome", "tromso", "site", "site-2", "port-angstrom-2"]
    messages = [str(w.message) for w in caught]
    assert len(messages) == 3
    assert "feature 3 (Владивосток): imported as site 'site' (its name 'Владивосток' has no Latin letters" in messages[0]
    assert "imported as site 'site-2' (its name 'Два острова' has no Latin letters" in messages[1]
    assert "'port-angstrom-2' (the id 'port-angstrom' made from its name 'port-angstrom' is already taken)" in messages[2]


def test_cli_import_of_berths_and_water_alone_goes_to_the_workspace_site(tmp_path: Path) -> None:
    # What `sites add ID --bbox` tells a user who redrew a site: import its berths and water again.
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    assert runner.invoke(main, ["sites", "add", "p1", "--bbox", "132.30,42.86,132.37,42.90", "-w", ws]).exit_code == 0
    extras = _with_extras([
        {"props": {"role": "berth", "id": "east"}, "geom": mapping(LineString([(132.32, 42.87), (132.33, 42.87)]))},
        {"props": {"role": "water"}, "geom": mapping(box(132.31, 42.865, 132.36, 42.875))},
    ])["features"][1:]  # type: ignore[index]  # fmt: skip
    (tmp_path / "extras.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": extras}), encoding="utf-8")
    for _ in range(2):  # a rerun gives the same berths, not twice the berths
        r = runner.invoke(main, ["sites", "import", str(tmp_path / "extras.geojson"), "-w", ws])
        assert r.exit_code == 0, r.output
        feats = json.loads(runner.invoke(main, ["sites", "show", "p1", "-w", ws]).output)["features"]
        assert [f["properties"]["role"] for f in feats] == ["site", "berth", "water"]
        assert shape(feats[0]["geometry"]).equals(box(132.30, 42.86, 132.37, 42.90))  # the area stays
    (tmp_path / "bad.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {**extras[0], "properties": {**extras[0]["properties"], "site_id": "nowhere"}},
    ]}), encoding="utf-8")  # fmt: skip
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "bad.geojson"), "-w", ws])
    assert r.exit_code == 1 and "bad.geojson, feature 0 (east): its site_id 'nowhere' is neither a site in the file nor in the workspace" in r.output


def test_qgis_text_fields_for_tags_and_resolved_are_read_as_meant() -> None:
    fc = _polygon_fc([{"id": "a", "tags": "navy, pier", "resolved": "false"}, {"id": "b", "resolved": 1, "tags": ["x"]},
                      {"id": "c", "resolved": None, "tags": None}, {"id": "d", "resolved": 0.0}])  # fmt: skip
    a, b, c, d = sites_from_geojson(fc)
    assert a.tags == ("navy", "pier") and not a.resolved  # were ('n', 'a', 'v', ...) and True
    assert b.tags == ("x",) and b.resolved
    assert c.tags == () and c.resolved and not d.resolved  # NULL fields as QGIS writes them
    (site,) = sites_from_geojson(_with_extras([{"props": {"role": "berth", "id": "q", "name": None},
                                                "geom": mapping(LineString([(132.32, 42.87), (132.33, 42.87)]))}]))  # fmt: skip
    assert site.berths[0].name == ""  # was "None"
    with pytest.raises(InputError, match=r"x\.geojson, feature 0 \(a\): resolved: 'maybe' is not true or false"):
        sites_from_geojson(_polygon_fc([{"id": "a", "resolved": "maybe"}]), "x.geojson")


def test_a_site_id_in_another_script_is_told_to_use_latin_letters(tmp_path: Path) -> None:
    # 'владивосток' is lowercase letters to a Russian reader; "use lowercase letters" refused it without saying why.
    assert CliRunner().invoke(main, ["init", str(tmp_path / "ws")]).exit_code == 0
    res = CliRunner().invoke(main, ["sites", "add", "владивосток", "--bbox", "131.8,43.0,131.9,43.1", "-w", str(tmp_path / "ws")])
    assert res.exit_code != 0 and "'владивосток': use lowercase Latin letters (a-z), digits" in res.output, res.output


def test_a_bow_tie_berth_and_a_berth_outside_its_site_are_named() -> None:
    bow_tie = {"type": "Polygon", "coordinates": [[[132.32, 42.87], [132.33, 42.88], [132.33, 42.87], [132.32, 42.88], [132.32, 42.87]]]}
    with pytest.warns(RefusedFeatureWarning, match=r"x\.geojson, feature 1 \(bow\): the berth polygon is not valid \(Self-intersection"):
        (site,) = sites_from_geojson(_with_extras([{"props": {"role": "berth", "id": "bow"}, "geom": bow_tie}]), "x.geojson")
    assert site.berths == ()
    far = mapping(LineString([(10, 10), (10.1, 10.1)]))
    with pytest.warns(RefusedFeatureWarning, match=r"x\.geojson, feature 1 \(far\): berth 'far' of site 'p1', at lon 10\.0500 lat 10\.0500, lies outside"):
        (site,) = sites_from_geojson(_with_extras([{"props": {"role": "berth", "id": "far"}, "geom": far}]), "x.geojson")
    assert site.berths == ()
    with pytest.warns(RefusedFeatureWarning, match="the water polygon of site 'p1'.* lies outside"):
        (site,) = sites_from_geojson(_with_extras([{"props": {"role": "water"}, "geom": mapping(box(10, 10, 11, 11))}]), "x.geojson")
    assert site.water is None


def test_cli_remove_keeps_evidence_unless_asked_and_then_leaves_nothing_of_the_site(tmp_path: Path) -> None:
    from _report_world import build

    ws = build(tmp_path / "ws")
    w = str(ws.root)
    runner = CliRunner()
    assert runner.invoke(main, ["sites", "add", "spare", "--bbox", "131.0,42.0,131.1,42.1", "-w", w]).exit_code == 0
    r = runner.invoke(main, ["sites", "remove", "spare", "nosuch", "-w", w])
    assert r.exit_code == 1 and "no site 'nosuch'" in r.output
    r = runner.invoke(main, ["sites", "remove", "spare", "dunai", "-w", w])
    assert r.exit_code == 1 and "nothing removed: 'dunai' has 4 observation(s)" in r.output
    with ws.store() as store:
        assert {s.id for s in store.sites()} == {"dunai", "spare"}  # neither removed
    assert any((ws.archive / "dunai").glob("*.tif"))
    r = runner.invoke(main, ["sites", "remove", "spare", "dunai", "--with-observations", "-w", w])
    assert r.exit_code == 0 and "removed 2 site(s): spare, dunai and 4 observation(s)" in r.output
    with ws.store() as store:
        counts = store.counts()
        assert store.sites() == [] and store.execute("SELECT count(*) FROM berths")[0][0] == 0
    assert counts["observations"] == 0 and counts["detections"] == 0
    assert not (ws.archive / "dunai").exists()
    assert runner.invoke(main, ["sites", "remove", "dunai", "-w", w]).exit_code == 1  # gone: a rerun says so
    # A run stopped after the database commit leaves the folder: asking again removes it.
    (ws.archive / "dunai").mkdir()
    (ws.archive / "dunai" / "left.tif").write_bytes(b"x")
    assert runner.invoke(main, ["sites", "remove", "dunai", "-w", w]).exit_code == 1
    assert (ws.archive / "dunai" / "left.tif").exists()  # not without --with-observations
    r = runner.invoke(main, ["sites", "remove", "dunai", "--with-observations", "-w", w])
    assert r.exit_code == 0 and "removed the archive folder" in r.output
    assert not (ws.archive / "dunai").exists()
    (ws.archive / "x").mkdir()  # only a site id names a folder to remove, never a path
    r = runner.invoke(main, ["sites", "remove", "../archive/x", "--with-observations", "-w", w])
    assert r.exit_code == 1 and (ws.archive / "x").is_dir()


def test_sites_files_are_utf_8_whatever_the_locale(tmp_path: Path) -> None:
    # Windows and LANG=C read and write text in a locale encoding; GeoJSON and KML are UTF-8.
    import os
    import subprocess
    import sys

    (tmp_path / "in.geojson").write_text(json.dumps(_polygon_fc([{"id": "v", "name": "Порт Ångström"}]), ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
           "PYTHONIOENCODING": "utf-8", "SITEWATCH_WORKSPACE": str(tmp_path / "ws")}  # fmt: skip
    for args in (["init", str(tmp_path / "ws")], ["sites", "import", str(tmp_path / "in.geojson")],
                 ["sites", "export", str(tmp_path / "out.kml")]):  # fmt: skip
        r = subprocess.run([sys.executable, "-m", "sitewatch", *args], env=env, capture_output=True, text=True, encoding="utf-8")
        assert r.returncode == 0, r.stderr
    assert "<name>Порт Ångström</name>" in (tmp_path / "out.kml").read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_an_export_that_fails_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from sitewatch.report.exports import write_text_atomic

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OutputError, match=r"sites\.kml: cannot write it \(disk full\)"):
        write_text_atomic(tmp_path / "sites.kml", "<kml/>")
    assert list(tmp_path.iterdir()) == []


def test_an_export_to_a_device_writes_into_it_without_replacing_it(tmp_path: Path) -> None:
    import stat

    from sitewatch.files import write_text_atomic

    null = Path("/dev/null")
    if not null.exists():
        pytest.skip("no /dev/null here")
    write_text_atomic(null, "<kml/>")
    assert stat.S_ISCHR(null.stat().st_mode)  # as root, a rename would have made it a plain file
    with pytest.raises(InputError, match="does not exist"):
        write_text_atomic(tmp_path / "no" / "x.csv", "a", make_folder=False)
    assert write_text_atomic(tmp_path / "made" / "x.csv", "a").read_text(encoding="utf-8") == "a"


def test_a_site_across_the_antimeridian_is_named_as_such() -> None:
    ring = [[179.9, -16.5], [-179.9, -16.5], [-179.9, -16.4], [179.9, -16.4], [179.9, -16.5]]
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "fiji"}, "geometry": {"type": "Polygon", "coordinates": [ring]}},
    ]}  # fmt: skip
    with pytest.raises(InputError, match=r"fiji.*crosses the antimeridian \(180°\).*split it at 180°"):
        sites_from_geojson(fc, "x.geojson")  # was: "spans 359.8° ... redraw it smaller"
    with pytest.raises(InputError, match="across the antimeridian"):
        site_from_bbox("fiji", (179.9, -16.5, -179.9, -16.4))
    (east,) = sites_from_geojson({"type": "Feature", "properties": {"id": "east"}, "geometry": mapping(box(179.9, -16.5, 180, -16.4))})
    assert east.geometry is not None  # up to 180° itself is one site


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type": "FeatureCollection", "features": []}', r"in\.geojson: the collection holds no features"),
        ("[1, 2]", r"in\.geojson: not a GeoJSON FeatureCollection, Feature or Polygon \(a JSON list\)"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "x"}, '
         '"geometry": {"type": "Polygon", "coordinates": [[[132.3, 42.8]]]}}]}',
         r"in\.geojson, feature 0 \(x\): cannot read its geometry \(A linearring requires at least 4"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "x"}, '
         '"geometry": {"type": "Blob", "coordinates": []}}]}', r"feature 0 \(x\): cannot read its geometry"),
        ('{"type": "FeatureCollection", "features": [5]}', r"in\.geojson, feature 0: not a GeoJSON Feature"),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "Quay"}, '
         '"geometry": {"type": "Point", "coordinates": [132.3, 42.8]}}]}',
         r"in\.geojson: nothing to import: every feature is a pin \(a Point: feature 0 \(Quay\)\); .*draw it as a polygon"),
    ],
)  # fmt: skip
def test_cli_import_of_a_malformed_file_is_an_error_naming_it(tmp_path: Path, text: str, message: str) -> None:
    runner = CliRunner()
    runner.invoke(main, ["init", str(tmp_path / "ws")])
    (tmp_path / "in.geojson").write_text(text, encoding="utf-8")
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "in.geojson"), "-w", str(tmp_path / "ws")])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.exception  # an error, not a traceback
    assert re.search(message, r.output), r.output  # was a traceback, or "imported 0 site(s)" and exit 0


def test_cli_import_of_kml_notes_the_skipped_pins_and_a_rerun_does_not_duplicate(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    pin = "<Placemark><name>Pin</name><Point><coordinates>132.34,42.87,0</coordinates></Point></Placemark>"
    kml = sites_to_kml([site_from_bbox("p1", (132.30, 42.86, 132.37, 42.90), name="P1")])
    (tmp_path / "in.kml").write_text(kml.replace("</Folder>", pin + "</Folder>"), encoding="utf-8")
    for _ in range(2):
        r = runner.invoke(main, ["sites", "import", str(tmp_path / "in.kml"), "-w", ws])
        assert r.exit_code == 0, r.output
        assert "note: " in r.output and "placemark 'Pin': skipped" in r.output and "imported 1 site(s): p1" in r.output
    assert [f["id"] for f in json.loads(runner.invoke(main, ["sites", "list", "--json", "-w", ws]).output)["features"]] == ["p1"]


def test_cli_import_and_add_of_a_geopackage_or_shapefile_say_to_save_it_as_geojson(tmp_path: Path) -> None:
    import sqlite3

    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    with closing(sqlite3.connect(tmp_path / "ports.gpkg")) as db, db:
        db.execute("CREATE TABLE ports (fid INTEGER)")
    (tmp_path / "ports.shp").write_bytes(bytes.fromhex("0000270a") + bytes(96))
    for name in ("ports.gpkg", "ports.shp"):
        for args in (["sites", "import"], ["sites", "add", "x", "--geojson"]):
            r = runner.invoke(main, [*args, str(tmp_path / name), "-w", ws])
            assert r.exit_code == 1, r.output  # was "not valid JSON ('utf-8' codec can't decode byte…)"
            assert f"{name}: not GeoJSON, KML or KMZ" in r.output and f"ogr2ogr -f GeoJSON sites.geojson {name}" in r.output
    (tmp_path / "broken.geojson").write_text('{"type": ', encoding="utf-8")
    assert "broken.geojson: not valid JSON" in runner.invoke(main, ["sites", "import", str(tmp_path / "broken.geojson"), "-w", ws]).output
    # Saved in a Windows code page: was "not valid JSON ('utf-8' codec can't decode byte 0xe9 in position 43: …)".
    (tmp_path / "ansi.geojson").write_bytes('{"type": "Feature", "properties": {"name": "Café"}, '.encode("cp1252"))
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "ansi.geojson"), "-w", ws])
    assert r.exit_code == 1 and "ansi.geojson: not UTF-8 (byte 47), as GeoJSON must be; save it as UTF-8" in r.output, r.output
    # Windows PowerShell's `ConvertTo-Json | Out-File` writes UTF-16 with its mark: it was "not UTF-8 (byte 0)".
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "tartus", "name": "ميناء طرطوس"}, "geometry": mapping(box(35.87, 34.89, 35.88, 34.9))}]}
    (tmp_path / "ps.geojson").write_bytes(json.dumps(collection, ensure_ascii=False).encode("utf-16"))
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "ps.geojson"), "-w", ws])
    assert r.exit_code == 0, r.output
    assert open_workspace(ws).store().get_site("tartus").name == "ميناء طرطوس"


def test_cli_import_and_add_of_a_kml_of_pins_alone_name_the_pins(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    pins = "".join(f"<Placemark><name>{n}</name><Point><coordinates>132.34,42.87,0</coordinates></Point></Placemark>" for n in ("Pier", "Gate"))
    (tmp_path / "pins.kml").write_text(f'<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Folder>{pins}</Folder></Document></kml>', encoding="utf-8")
    for args in (["sites", "import"], ["sites", "add", "x", "--geojson"]):
        r = runner.invoke(main, [*args, str(tmp_path / "pins.kml"), "-w", ws])
        assert r.exit_code == 1, r.output  # was "the collection holds no features", of a file holding two placemarks
        assert "nothing to import: no placemark has a polygon or line (placemark 'Pier' (Point) and 1 more)" in r.output
        assert "draw it as a polygon" in r.output


def test_cli_import_says_which_sites_it_replaced_and_what_they_lost(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    fc = _with_extras([{"props": {"role": "berth", "id": "east"}, "geom": mapping(LineString([(132.32, 42.87), (132.33, 42.87)]))}])
    (tmp_path / "full.geojson").write_text(json.dumps(fc), encoding="utf-8")
    (tmp_path / "drawn.geojson").write_text(json.dumps({"type": "Feature", "properties": {"name": "P1"}, "geometry": fc["features"][0]["geometry"]}), encoding="utf-8")  # type: ignore[index]
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "full.geojson"), "-w", ws])
    assert "imported 1 site(s): p1\n" in r.output and "warning" not in r.output
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "drawn.geojson"), "-w", ws])
    assert r.exit_code == 0 and "imported 1 site(s): p1 (replaced)" in r.output  # was said as if new
    assert f"warning: 'p1' no longer has 1 berth(s): {tmp_path / 'drawn.geojson'} has none for it" in r.output


def test_cli_import_that_moves_a_site_warns_of_observations_cut_to_the_old_area(tmp_path: Path) -> None:
    from _report_world import build

    ws = build(tmp_path / "ws")
    with ws.store() as store:
        old = store.get_site("dunai")
    assert old.geometry is not None
    runner = CliRunner()
    same = sites_to_geojson([old])
    (tmp_path / "same.geojson").write_text(json.dumps(same), encoding="utf-8")
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "same.geojson"), "-w", str(ws.root)])
    assert r.exit_code == 0 and "warning" not in r.output  # a rerun of the same area says nothing
    same["features"][0]["geometry"] = mapping(old.geometry.buffer(0.001, join_style="mitre"))
    (tmp_path / "moved.geojson").write_text(json.dumps(same), encoding="utf-8")
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "moved.geojson"), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    assert "warning: 4 observation(s) of 'dunai' were cut to its old area" in r.output  # was silent


def test_a_site_saved_again_with_fewer_decimals_is_not_moved_under_its_observations(tmp_path: Path) -> None:
    """A layer exported and saved again through a tool that rounds (GDAL's RFC 7946 GeoJSON keeps 7 decimals,
    1 cm) came back as a moved site: its polygon changed and import warned its observations were cut to the old area."""
    from _report_world import build

    ws = build(tmp_path / "ws")
    with ws.store() as store:
        old = store.get_site("dunai")
    assert old.geometry is not None
    fine = dataclasses.replace(old, geometry=shapely.affinity.translate(old.geometry, 1.23456789e-6, -9.87654321e-7))
    (tmp_path / "fine.geojson").write_text(json.dumps(sites_to_geojson([fine])), encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "fine.geojson"), "-w", str(ws.root)])
    assert "warning: 4 observation(s) of 'dunai' were cut to its old area" in r.output  # 10 cm: moved
    rounded = sites_to_geojson([fine])
    rounded["features"][0]["geometry"]["coordinates"] = [
        [[round(x, 7), round(y, 7)] for x, y in ring] for ring in rounded["features"][0]["geometry"]["coordinates"]
    ]
    (tmp_path / "rounded.geojson").write_text(json.dumps(rounded), encoding="utf-8")
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "rounded.geojson"), "-w", str(ws.root)])
    assert r.exit_code == 0 and "warning" not in r.output, r.output
    with ws.store() as store:
        assert store.get_site("dunai").geometry.equals_exact(fine.geometry, 0)  # type: ignore[union-attr]


def test_a_rerun_import_keeps_the_id_older_sitewatch_made_from_an_accented_name(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    fc = _polygon_fc([{"name": "Port Ångström"}])
    (tmp_path / "in.geojson").write_text(json.dumps(fc), encoding="utf-8")
    from sitewatch.workspace import open_workspace

    with open_workspace(tmp_path / "ws").store() as store:  # as the import before accents were folded left it
        store.put_site(sites_from_geojson({**fc, "features": [{**fc["features"][0], "id": "port-ngstr-m"}]})[0])  # type: ignore[dict-item]
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "in.geojson"), "-w", ws])
    assert r.exit_code == 0 and "imported 1 site(s): port-ngstr-m (replaced)" in r.output  # not a second site
    assert (sites_from_geojson(fc)[0].id) == "port-angstrom"  # a workspace without it gets the new id


def test_cli_add_builtin_takes_the_name_and_kind_given(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    r = runner.invoke(main, ["sites", "add", "dunai", "--builtin", "--name", "Dunai piers", "--kind", "port", "-w", ws])
    assert r.exit_code == 0, r.output
    (feat,) = json.loads(runner.invoke(main, ["sites", "show", "dunai", "-w", ws]).output)["features"]
    assert (feat["properties"]["name"], feat["properties"]["kind"]) == ("Dunai piers", "port")  # were ignored
    assert "gazetteer" in feat["properties"]["coord_source"]


def test_cli_add_bbox_on_an_existing_site_keeps_its_kind_and_tags(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    assert runner.invoke(main, ["sites", "add", "dunai", "--builtin", "-w", ws]).exit_code == 0
    r = runner.invoke(main, ["sites", "add", "dunai", "--bbox", "132.31,42.86,132.36,42.90", "-w", ws])
    assert r.exit_code == 0, r.output
    (feat,) = json.loads(runner.invoke(main, ["sites", "show", "dunai", "-w", ws]).output)["features"]
    props = feat["properties"]
    assert (props["name"], props["kind"]) == ("Dunai (Dunay) naval port", "naval_base")  # kind became "area"
    assert "seed-story" in props["tags"]  # tags were dropped
    r = runner.invoke(main, ["sites", "add", "dunai", "--bbox", "132.31,42.86,132.36,42.90", "--kind", "area", "-w", ws])
    (feat,) = json.loads(runner.invoke(main, ["sites", "show", "dunai", "-w", ws]).output)["features"]
    assert r.exit_code == 0 and feat["properties"]["kind"] == "area"  # --kind given still applies


def test_cli_list_of_an_empty_workspace_says_how_to_add_a_site(tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["init", str(tmp_path / "ws")])
    r = runner.invoke(main, ["sites", "list", "-w", str(tmp_path / "ws")])
    assert r.exit_code == 0 and r.output.startswith("no sites; add one with `sitewatch sites add")  # was an empty table
    r = runner.invoke(main, ["sites", "list", "--json", "-w", str(tmp_path / "ws")])
    assert json.loads(r.output) == {"type": "FeatureCollection", "features": []}


def test_a_berth_without_a_site_id_is_named_as_such() -> None:
    fc = _with_extras([{"props": {"role": "berth", "id": "q", "site_id": None},
                        "geom": mapping(LineString([(132.32, 42.87), (132.33, 42.87)]))}])  # fmt: skip
    with pytest.warns(RefusedFeatureWarning, match=r"x\.geojson, feature 1 \(q\): it has no site_id; give it the id of its site"):
        (site,) = sites_from_geojson(fc, "x.geojson")  # was "name unknown site ids ['None']"
    assert site.id == "p1" and site.berths == ()


def test_the_geopackage_sites_layer_saved_as_geojson_imports_to_the_same_ids(tmp_path: Path) -> None:
    # QGIS: open sitewatch.gpkg, edit the sites layer, "Save Features As" GeoJSON, `sites import` it.
    import pyogrio

    runner = CliRunner()
    ws = tmp_path / "ws"
    runner.invoke(main, ["init", str(ws)])
    runner.invoke(main, ["sites", "add", "dunai", "--builtin", "-w", str(ws)])
    meta, _, geoms, fields = pyogrio.raw.read(ws / "sitewatch.gpkg", layer="sites")
    pyogrio.raw.write(tmp_path / "edited.geojson", geoms, fields, meta["fields"], driver="GeoJSON", crs="EPSG:4326",
                      geometry_type="Polygon")  # fmt: skip
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "edited.geojson"), "-w", str(ws)])
    assert r.exit_code == 0 and "imported 1 site(s): dunai (replaced)" in r.output  # was a second site, 'dunai-dunay-naval-port'
    (feat,) = json.loads(runner.invoke(main, ["sites", "list", "--json", "-w", str(ws)]).output)["features"]
    assert feat["properties"]["tags"] == list(builtin_sites()["dunai"].tags)  # was split at each comma of '["…", …]'


def test_the_geopackage_berths_and_water_layers_saved_as_geojson_import_as_berths_and_water(tmp_path: Path) -> None:
    import pyogrio

    runner = CliRunner()
    ws = tmp_path / "ws"
    runner.invoke(main, ["init", str(ws)])
    fc = _with_extras([
        {"props": {"role": "berth", "id": "east", "name": "East"}, "geom": mapping(LineString([(132.32, 42.87), (132.33, 42.87)]))},
        {"props": {"role": "water"}, "geom": mapping(box(132.31, 42.865, 132.36, 42.875))},
    ])  # fmt: skip
    (tmp_path / "p1.geojson").write_text(json.dumps(fc), encoding="utf-8")
    runner.invoke(main, ["sites", "import", str(tmp_path / "p1.geojson"), "-w", str(ws)])
    for layer in ("berths", "site_water"):
        meta, _, geoms, fields = pyogrio.raw.read(ws / "sitewatch.gpkg", layer=layer)
        pyogrio.raw.write(tmp_path / f"{layer}.geojson", geoms, fields, meta["fields"], driver="GeoJSON", crs="EPSG:4326",
                          geometry_type="Unknown")  # fmt: skip
        r = runner.invoke(main, ["sites", "import", str(tmp_path / f"{layer}.geojson"), "-w", str(ws)])
        assert r.exit_code == 0 and "warning" not in r.output, r.output  # the water layer was a site 'site' before
    feats = json.loads(runner.invoke(main, ["sites", "list", "--json", "-w", str(ws)]).output)["features"]
    assert [(f["properties"]["role"], f["properties"]["id"] if "id" in f["properties"] else None) for f in feats] == [
        ("site", "p1"), ("berth", "east"), ("water", None)]  # fmt: skip
    assert shape(feats[0]["geometry"]).equals(box(132.30, 42.86, 132.37, 42.90))


def test_a_placemark_of_a_polygon_and_a_line_is_refused_by_name_not_skipped_as_empty(tmp_path: Path) -> None:
    """A MultiGeometry of the site's polygon and a quay line was skipped with a note, "needs a polygon or line",
    and the import said exit code 0: the place the user drew was silently not imported."""
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    kml = tmp_path / "place.kml"
    kml.write_text(
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        "<Placemark><name>Pier</name><MultiGeometry><Polygon><outerBoundaryIs><LinearRing><coordinates>"
        "132.33,43.10 132.36,43.10 132.36,43.12 132.33,43.12 132.33,43.10</coordinates></LinearRing></outerBoundaryIs></Polygon>"
        "<LineString><coordinates>132.34,43.11 132.35,43.11</coordinates></LineString></MultiGeometry></Placemark>"
        "<Placemark><name>Area</name><Polygon><outerBoundaryIs><LinearRing><coordinates>"
        "132.33,43.10 132.36,43.10 132.36,43.12 132.33,43.12 132.33,43.10"
        "</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>"
    , encoding="utf-8")
    r = runner.invoke(main, ["sites", "import", str(kml), "-w", ws])
    assert r.exit_code == 3, r.output
    assert "skipped: " in r.output and "feature 0 (Pier): its geometry mixes LineString and Polygon" in r.output
    assert "imported 1 site(s): area" in r.output


def test_cli_add_from_kml_notes_a_skipped_pin_as_import_does(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    kml = tmp_path / "place.kml"
    kml.write_text(
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        "<Placemark><name>Pin</name><Point><coordinates>132.34,43.11,0</coordinates></Point></Placemark>"
        "<Placemark><name>Area</name><Polygon><outerBoundaryIs><LinearRing><coordinates>"
        "132.33,43.10 132.36,43.10 132.36,43.12 132.33,43.12 132.33,43.10"
        "</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>"
    , encoding="utf-8")
    r = runner.invoke(main, ["sites", "add", "kamen", "--geojson", str(kml), "-w", ws])
    assert r.exit_code == 0, r.output
    # A note like sites import's, not Python's warning line with sitewatch's source path.
    assert "note: " in r.output and "placemark 'Pin': skipped" in r.output
    assert "imported as site" not in r.output  # the id is the one given, so no rename to report


def test_cli_add_from_a_file_with_a_refused_feature_is_partial(tmp_path: Path) -> None:
    """As README's exit codes list it: the site goes in, the refused feature is named, exit code 3."""
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    path = tmp_path / "drawn.geojson"
    area = [[132.30, 42.86], [132.37, 42.86], [132.37, 42.90], [132.30, 42.90], [132.30, 42.86]]
    crossed = [[132.30, 42.86], [132.37, 42.90], [132.37, 42.86], [132.30, 42.90], [132.30, 42.86]]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Area"}, "geometry": {"type": "Polygon", "coordinates": [area]}},
        {"type": "Feature", "properties": {"name": "Crossed"}, "geometry": {"type": "Polygon", "coordinates": [crossed]}},
    ]}), encoding="utf-8")  # fmt: skip
    r = runner.invoke(main, ["sites", "add", "harbour", "--geojson", str(path), "-w", ws])
    assert r.exit_code == 3, r.output
    assert "site 'harbour' added" in r.stdout and "skipped: " in r.stderr and "Crossed" in r.stderr


def test_exports_follow_the_right_hand_rule_whatever_the_winding_read() -> None:
    """A polygon drawn clockwise (as shapefiles store it) was written clockwise: RFC 7946 requires
    anticlockwise outer rings and clockwise holes, and KML anticlockwise outer boundaries."""
    from shapely.geometry import LinearRing, MultiPolygon, Polygon

    cw = Polygon([(132.30, 42.86), (132.30, 42.90), (132.37, 42.90), (132.37, 42.86)],
                 holes=[[(132.32, 42.87), (132.33, 42.87), (132.33, 42.88), (132.32, 42.88)]])  # fmt: skip
    assert not cw.exterior.is_ccw and cw.interiors[0].is_ccw
    water = MultiPolygon([Polygon(list(box(132.31, 42.865, 132.315, 42.87).exterior.coords)[::-1]),
                          box(132.34, 42.865, 132.35, 42.87)])  # fmt: skip
    basin = Berth("basin", Polygon(list(box(132.35, 42.88, 132.36, 42.89).exterior.coords)[::-1]))
    site = Site(id="p1", name="P1", kind="port", geometry=cw, water=water, berths=(basin,))
    rings = []
    for feat in sites_to_geojson([site])["features"]:
        geom = feat["geometry"]
        for polygon in geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]:
            rings += [(i == 0, LinearRing(ring).is_ccw) for i, ring in enumerate(polygon)]
    assert len(rings) == 5 and all(outer == ccw for outer, ccw in rings)
    (back,) = sites_from_geojson(sites_to_geojson([site]))
    assert back.geometry is not None and back.geometry.equals(cw)  # the same area, only the winding changed
    ns = "{http://www.opengis.net/kml/2.2}"
    root = ET.fromstring(sites_to_kml([site]))
    outers = [e.findtext(f"{ns}LinearRing/{ns}coordinates") or "" for e in root.iter(f"{ns}outerBoundaryIs")]
    assert len(outers) == 4
    for text in outers:
        assert LinearRing([tuple(map(float, c.split(",")[:2])) for c in text.split()]).is_ccw


def test_a_geojson_file_with_a_byte_order_mark_and_crlf_lines_imports(tmp_path: Path) -> None:
    """Saved by Notepad or PowerShell, a file began with a UTF-8 BOM and was 'not valid JSON (Unexpected UTF-8 BOM)'."""
    from sitewatch.sites import read_sites_file

    text = json.dumps(_polygon_fc([{"name": "Порт"}, {"id": "b", "name": "B"}]), indent=1, ensure_ascii=False)
    (tmp_path / "bom.geojson").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    with pytest.warns(RenamedSiteWarning):
        a, b = read_sites_file(tmp_path / "bom.geojson")
    assert (a.name, b.id) == ("Порт", "b")


def test_a_name_field_spelled_name_or_name_in_capitals_names_the_site() -> None:
    """A QGIS layer that came through a shapefile has NAME or Name: each site was 'site', 'site-2'... instead."""
    sites = sites_from_geojson(_polygon_fc([{"NAME": "Port A", "fid": 1}, {"Name": "Port B"}, {"name": "Port C", "NAME": "x"}]))
    assert [(s.id, s.name) for s in sites] == [("port-a", "Port A"), ("port-b", "Port B"), ("port-c", "Port C")]


def test_a_numeric_id_field_gives_way_to_the_name() -> None:
    """QGIS gives a new layer an integer `id` field: the sites were '1' (and '2.0', a Real field, refused)."""
    sites = sites_from_geojson(_polygon_fc([{"id": 1, "name": "Busan"}, {"id": 2.0, "Name": "Santos"}, {"id": 3.0}, {"id": "quay-7"}]))
    assert [s.id for s in sites] == ["busan", "santos", "3", "quay-7"]  # without a name, the number is the id


def _qgis_export() -> dict[str, object]:
    """A polygon layer as QGIS saves it in EPSG:3857: a Name field, a row without geometry, 3D vertices,
    a pin, a self-crossing polygon with a berth, a quay line without a role, a GeometryCollection."""
    from pyproj import Transformer

    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)

    def merc(ring: list[tuple[float, float]], z: float | None = None) -> list[list[float]]:
        return [[*to_merc.transform(x, y), *([] if z is None else [z])] for x, y in ring]

    def square(x: float) -> list[tuple[float, float]]:
        return [(x, 42.86), (x + 0.01, 42.86), (x + 0.01, 42.87), (x, 42.87), (x, 42.86)]

    bow_tie = [(132.40, 42.86), (132.41, 42.87), (132.41, 42.86), (132.40, 42.87), (132.40, 42.86)]
    feats = [
        {"Name": "Port A", "geometry": {"type": "MultiPolygon", "coordinates": [[merc(square(132.30), z=0.0)]]}},
        {"Name": "Nowhere", "geometry": None},
        {"Name": "Pin", "geometry": {"type": "Point", "coordinates": merc([(132.31, 42.865)])[0]}},
        {"Name": "Crossed", "id": "crossed", "geometry": {"type": "Polygon", "coordinates": [merc(bow_tie)]}},
        {"role": "berth", "site_id": "crossed", "id": "q", "geometry": {"type": "LineString", "coordinates": merc(bow_tie[:2])}},
        {"Name": "Quay", "geometry": {"type": "LineString", "coordinates": merc(square(132.34)[:2])}},
        {"Name": "Port B", "geometry": {"type": "GeometryCollection", "geometries": [
            {"type": "Polygon", "coordinates": [merc(square(132.36))]}]}},
    ]  # fmt: skip
    return {"type": "FeatureCollection", "name": "ports", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}},
            "features": [{"type": "Feature", "properties": {k: v for k, v in f.items() if k != "geometry"},
                          "geometry": f["geometry"]} for f in feats]}  # fmt: skip


def test_cli_import_names_each_bad_feature_and_imports_the_others(tmp_path: Path) -> None:
    """One row without geometry, or one self-crossing polygon, refused the whole file: none of its sites went in."""
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    (tmp_path / "ports.geojson").write_text(json.dumps(_qgis_export()), encoding="utf-8")
    for replaced in ("", " (replaced)"):  # a rerun gives the same sites
        r = runner.invoke(main, ["sites", "import", str(tmp_path / "ports.geojson"), "-w", ws])
        assert r.exit_code == 3, r.output
        assert f"imported 2 site(s): port-a{replaced}, port-b{replaced}\n" in r.output
        (pin,) = [line for line in r.output.splitlines() if line.startswith("note:")]
        assert "feature 2 (Pin): skipped, a site or berth needs a polygon or line (Point)" in pin  # as in KML
        lines = [line for line in r.output.splitlines() if line.startswith("skipped:")]
        assert [re.sub(r"^.*?ports\.geojson, ", "", line).split(":")[0] for line in lines] == [
            "feature 1 (Nowhere)", "feature 3 (crossed)", "feature 4 (q)", "feature 5 (Quay)"]  # fmt: skip
        assert "it has no geometry" in lines[0]
        assert "the site polygon is not valid (Self-intersection" in lines[1]
        assert "its site 'crossed' was refused" in lines[2]
        assert "a line is a berth when it has role berth and the site_id of its site" in lines[3]
    sites = json.loads(runner.invoke(main, ["sites", "list", "--json", "-w", ws]).output)["features"]
    assert [(f["id"], f["properties"]["name"]) for f in sites] == [("port-a", "Port A"), ("port-b", "Port B")]
    assert shape(sites[0]["geometry"]).bounds == pytest.approx((132.30, 42.86, 132.31, 42.87))
    assert len(sites[0]["geometry"]["coordinates"][0][0]) == 2  # the 3D vertices lost their heights


def test_cli_import_of_nothing_but_bad_features_names_each_and_imports_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    fc = _qgis_export()
    fc["features"] = fc["features"][1:2] + fc["features"][3:6]  # type: ignore[index]
    (tmp_path / "bad.geojson").write_text(json.dumps(fc), encoding="utf-8")
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "bad.geojson"), "-w", ws])
    assert r.exit_code == 1 and "bad.geojson: nothing to import; each feature was refused:" in r.output
    assert all(f"feature {i} (" in r.output for i in range(4))
    assert json.loads(runner.invoke(main, ["sites", "list", "--json", "-w", ws]).output)["features"] == []


def test_berths_refused_for_a_workspace_site_leave_its_berths_as_they_were(tmp_path: Path) -> None:
    quay = {"props": {"role": "berth", "id": "east"}, "geom": mapping(LineString([(132.32, 42.87), (132.33, 42.87)]))}
    (site,) = sites_from_geojson(_with_extras([quay]))
    far = {"type": "Feature", "properties": {"role": "berth", "site_id": "p1", "id": "far"},
           "geometry": mapping(LineString([(10, 10), (10.1, 10.1)]))}  # fmt: skip
    water = {"type": "Feature", "properties": {"role": "water", "site_id": "p1"}, "geometry": mapping(box(132.31, 42.865, 132.36, 42.875))}
    with pytest.warns(RefusedFeatureWarning, match="berth 'far' of site 'p1'"):
        (back,) = sites_from_geojson({"type": "FeatureCollection", "features": [far, water]}, known={"p1": site})
    assert [b.id for b in back.berths] == ["east"] and back.water is not None  # not emptied by the refused one


def test_kml_keeps_tags_that_hold_commas(tmp_path: Path) -> None:
    """Tags were joined with ',' in ExtendedData: 'Sea of Japan, north' came back as two tags."""
    from sitewatch.sites import read_sites_file

    tags = [("navy", "pier"), ("Sea of Japan, north", "a;b"), ("[1]",)]
    sites = [site_from_bbox(f"p{i}", (132.30 + i, 42.86, 132.37 + i, 42.90)) for i in range(len(tags))]
    sites = [Site(**{**s.__dict__, "tags": t}) for s, t in zip(sites, tags, strict=True)]
    (tmp_path / "s.kml").write_text(sites_to_kml(sites), encoding="utf-8")
    assert [s.tags for s in read_sites_file(tmp_path / "s.kml")] == tags
    assert "<value>navy,pier</value>" in (tmp_path / "s.kml").read_text(encoding="utf-8")  # plain where it can be


def test_geometry_checks_name_what_is_wrong() -> None:
    two = MultiPolygon([box(132.30, 42.86, 132.31, 42.87), box(132.32, 42.86, 132.33, 42.87)])
    with pytest.raises(InputError, match="a site is one polygon; split the multipolygon into sites"):
        sites_from_geojson({"type": "Feature", "properties": {"id": "a"}, "geometry": mapping(two)})  # not its first part alone
    with pytest.raises(InputError, match="feature 0 \\(a\\): the geometry is empty"):
        sites_from_geojson({"type": "Feature", "properties": {"id": "a"}, "geometry": {"type": "Polygon", "coordinates": []}})
    pin = {"type": "Feature", "properties": {"id": "a", "role": "site"}, "geometry": {"type": "Point", "coordinates": [132.3, 42.8]}}
    with pytest.raises(InputError, match="a site needs a Polygon geometry, got Point"):  # said to be a site: not a pin to skip
        sites_from_geojson(pin)
    for bbox in ((132.3, 42.8, 132.3, 42.9), (132.3, 42.9, 132.4, 42.9)):
        with pytest.raises(InputError, match="expected W,S,E,N with W < E and S < N"):
            site_from_bbox("flat", bbox)
    # Longitudes past 180 (a Pacific-centred map saved as lon/lat) were "not lon/lat degrees: did you swap them?"
    fiji = {"type": "Feature", "properties": {"id": "suva"}, "geometry": mapping(box(179.9, -16.9, 180.1, -16.8))}
    with pytest.raises(InputError, match=r"feature 0 \(suva\): runs from longitude 179.9 to 180.1, across the antimeridian"):
        sites_from_geojson(fiji)
    east = {"type": "Feature", "properties": {"id": "east"}, "geometry": mapping(box(181.0, -16.9, 181.1, -16.8))}
    with pytest.raises(InputError, match=r"longitudes 181 to 181.1 are beyond ±180° .*subtract 360"):
        sites_from_geojson(east)
    swapped = {"type": "Feature", "properties": {"id": "sw"}, "geometry": mapping(box(42.86, 132.3, 42.87, 132.31))}
    with pytest.raises(InputError, match="did you swap them"):
        sites_from_geojson(swapped)
    # A --bbox past 180° was "not WGS84 lon/lat (did you swap latitude and longitude?)": now as a file's is.
    with pytest.raises(InputError, match=r"bbox 179.5,10,180.5,11: runs from longitude 179.5 to 180.5, across the antimeridian"):
        site_from_bbox("am", (179.5, 10, 180.5, 11))
    with pytest.raises(InputError, match=r"bbox 181,10,182,11: longitudes 181 to 182 are beyond ±180° .*subtract 360"):
        site_from_bbox("am", (181, 10, 182, 11))
    with pytest.raises(InputError, match="did you swap them"):
        site_from_bbox("am", (42.8, 132.3, 42.9, 132.4))


def test_flags_read_every_spelling_of_no() -> None:
    fc = _polygon_fc([{"id": f"s{i}", "resolved": v} for i, v in enumerate(("no", "f", "n", "N", " False "))])
    assert [s.resolved for s in sites_from_geojson(fc)] == [False] * 5


def test_tags_of_another_type_are_read_or_named_not_a_traceback() -> None:
    """A number in a `tags` field (an integer field QGIS named so) crashed the import with a TypeError traceback."""
    feats = [{"type": "Feature", "properties": {"name": n, "tags": t}, "geometry": mapping(box(132.30 + k / 100, 42.86, 132.305 + k / 100, 42.87))}
             for k, (n, t) in enumerate((("A", 5), ("B", True), ("C", {"a": 1}), ("D", None)))]  # fmt: skip
    with pytest.warns(RefusedFeatureWarning, match=r"feature 2 \(C\): tags \{\"a\": 1\} is neither a list nor comma-separated text"):
        sites = sites_from_geojson({"type": "FeatureCollection", "features": feats})
    assert [(s.id, s.tags) for s in sites] == [("a", ("5",)), ("b", ("True",)), ("d", ())]


def test_a_kind_typed_with_capitals_or_spaces_is_read() -> None:
    """`Port` or `Naval base`, as a QGIS attribute table is typed, were refused naming the kinds."""
    feats = [{"type": "Feature", "properties": {"name": n, "kind": k}, "geometry": mapping(box(132.30 + i / 100, 42.86, 132.305 + i / 100, 42.87))}
             for i, (n, k) in enumerate((("A", "Port"), ("B", "Naval base"), ("C", " training-ground "), ("D", "harbour")))]  # fmt: skip
    with pytest.warns(RefusedFeatureWarning, match=r"feature 3 \(D\): site 'd': kind 'harbour' is not one of"):
        sites = sites_from_geojson({"type": "FeatureCollection", "features": feats})
    assert [(s.id, s.kind) for s in sites] == [("a", "port"), ("b", "naval_base"), ("c", "training_ground")]
    # and a role typed so too (it was "unknown role 'Berth'")
    quay = {"type": "Feature", "properties": {"role": "Berth ", "site_id": "a", "id": "q"},
            "geometry": mapping(LineString([(132.301, 42.865), (132.304, 42.865)]))}  # fmt: skip
    area = {"type": "Feature", "properties": {"role": "Site", "id": "a"}, "geometry": feats[0]["geometry"]}
    (site,) = sites_from_geojson({"type": "FeatureCollection", "features": [area, quay]})
    assert [b.id for b in site.berths] == ["q"]


def test_tags_split_on_semicolons_as_on_commas() -> None:
    (site,) = sites_from_geojson(_polygon_fc([{"id": "a", "tags": "navy; pier,ships"}]))
    assert site.tags == ("navy", "pier", "ships")


def test_unresolved_sites_and_fine_coordinates_survive_export_and_import(tmp_path: Path) -> None:
    from sitewatch.sites import read_sites_file

    sites = [
        Site(id="lost", name="Lost", kind="area", geometry=None, resolved=False, note="not located", coord_source="x"),
        Site(id="guess", name="Guess", kind="port", geometry=box(132.301234, 42.861234, 132.302345, 42.862345), resolved=False, coord_source="x",
             berths=(Berth("b", LineString([(132.3015, 42.8615), (132.301501, 42.861501)])),)),
    ]  # fmt: skip
    assert sites_from_geojson(json.loads(json.dumps(sites_to_geojson(sites)))) == sites  # resolved came back True
    (tmp_path / "s.kml").write_text(sites_to_kml(sites[1:]), encoding="utf-8")
    (back,) = read_sites_file(tmp_path / "s.kml")
    assert not back.resolved and back.geometry is not None
    assert back.geometry.equals_exact(sites[1].geometry, 1e-6) and back.berths[0].geometry.length > 0  # to 0.1 m


def test_water_refused_for_a_workspace_site_leaves_its_water_as_it_was() -> None:
    quay = {"props": {"role": "water"}, "geom": mapping(box(132.31, 42.865, 132.36, 42.875))}
    (site,) = sites_from_geojson(_with_extras([quay]))
    far = {"type": "Feature", "properties": {"role": "water", "site_id": "p1"}, "geometry": mapping(box(10, 10, 10.1, 10.1))}
    berth = {"type": "Feature", "properties": {"role": "berth", "site_id": "p1", "id": "east"},
             "geometry": mapping(LineString([(132.32, 42.87), (132.33, 42.87)]))}  # fmt: skip
    with pytest.warns(RefusedFeatureWarning, match="the water polygon of site 'p1'"):
        (back,) = sites_from_geojson({"type": "FeatureCollection", "features": [far, berth]}, known={"p1": site})
    assert back.water is not None and back.water.equals(site.water) and [b.id for b in back.berths] == ["east"]


def test_a_water_layer_feature_with_its_fid_is_water() -> None:
    (site,) = sites_from_geojson(_with_extras([]))
    water = {"type": "Feature", "properties": {"site_id": "p1", "fid": 3}, "geometry": mapping(box(132.31, 42.865, 132.36, 42.875))}
    (back,) = sites_from_geojson({"type": "FeatureCollection", "features": [water]}, known={"p1": site})
    assert back.id == "p1" and back.water is not None


def test_a_second_place_named_in_cyrillic_does_not_replace_the_first(tmp_path: Path) -> None:
    """Two files, each a polygon named in Cyrillic: both were made site 'site', so the second import
    replaced the first place (its area, and the observations cut to it, moved to another town). A
    workspace site of another name keeps its id; importing a file again still replaces its own site."""
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    for name, west in (("Владивосток", 131.88), ("Находка", 132.88)):
        fc = _polygon_fc([{"name": name}])
        fc["features"][0]["geometry"] = mapping(box(west, 42.80, west + 0.02, 42.82))  # type: ignore[index]
        (tmp_path / f"{west}.geojson").write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    for west, again in ((131.88, False), (132.88, False), (132.88, True), (131.88, True)):
        res = runner.invoke(main, ["sites", "import", str(tmp_path / f"{west}.geojson"), "-w", ws])
        assert res.exit_code == 0, res.output
        assert ("(replaced)" in res.output) is again, res.output
    res = runner.invoke(main, ["sites", "list", "--json", "-w", ws])
    got = {f["id"]: f["properties"]["name"] for f in json.loads(res.stdout)["features"]}
    assert got == {"site": "Владивосток", "site-2": "Находка"}


def test_a_second_footprint_without_name_or_id_does_not_replace_the_first(tmp_path: Path) -> None:
    """Two footprint files of one polygon each, with no name or id (OSCD's `beihai.geojson` and
    `mumbai.geojson`): both went in as site 'site', so the second replaced the first city. A workspace
    site of another area keeps its id; importing a file again still replaces its own site."""
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    for west in (109.48, 72.90):
        fc = _polygon_fc([{}])
        fc["features"][0]["geometry"] = mapping(box(west, 19.0, west + 0.05, 19.06))  # type: ignore[index]
        (tmp_path / f"{west}.geojson").write_text(json.dumps(fc), encoding="utf-8")
    for west, again in ((109.48, False), (72.90, False), (72.90, True), (109.48, True)):
        res = runner.invoke(main, ["sites", "import", str(tmp_path / f"{west}.geojson"), "-w", ws])
        assert res.exit_code == 0, res.output
        assert ("(replaced)" in res.output) is again, res.output
    res = runner.invoke(main, ["sites", "list", "--json", "-w", ws])
    west_of = {f["id"]: min(x for x, _ in f["geometry"]["coordinates"][0]) for f in json.loads(res.stdout)["features"]}
    assert west_of == pytest.approx({"site": 109.48, "site-2": 72.90})


def test_a_site_added_from_an_unnamed_polygon_is_named_by_its_id(tmp_path: Path) -> None:
    """`sites add beihai --geojson beihai.geojson` of OSCD's unnamed footprint named the site "site" (the id the
    polygon would take in `sites import`): the report's findings then read "site: …" for every such city."""
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    (tmp_path / "unnamed.geojson").write_text(json.dumps(_polygon_fc([{}])), encoding="utf-8")
    (tmp_path / "named.geojson").write_text(json.dumps(_polygon_fc([{"name": "Port A"}])), encoding="utf-8")
    for site_id, path in (("beihai", "unnamed"), ("port-b", "named")):
        res = runner.invoke(main, ["sites", "add", site_id, "--geojson", str(tmp_path / f"{path}.geojson"), "-w", ws])
        assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["sites", "list", "--json", "-w", ws])
    names = {f["id"]: f["properties"]["name"] for f in json.loads(res.stdout)["features"]}
    assert names == {"beihai": "beihai", "port-b": "Port A"}


def test_a_kml_export_names_the_sites_without_coordinates_it_could_not_place(tmp_path: Path) -> None:
    """`sites export x.kml` said "wrote 2 site(s)" of a workspace holding the built-in lifarevka, which
    has no coordinates and so no placemark: the count is of the sites placed, and the others are named."""
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    assert runner.invoke(main, ["sites", "add", "lifarevka", "--builtin", "-w", ws]).exit_code == 0
    assert runner.invoke(main, ["sites", "add", "p1", "--bbox", "132.30,42.86,132.37,42.90", "-w", ws]).exit_code == 0
    res = runner.invoke(main, ["sites", "export", str(tmp_path / "s.kml"), "-w", ws])
    assert res.exit_code == 0, res.output
    assert "wrote 1 site(s)" in res.output and "lifarevka" in res.output and "no coordinates" in res.output
    res = runner.invoke(main, ["sites", "export", str(tmp_path / "s.geojson"), "-w", ws])
    assert "wrote 2 site(s)" in res.output  # GeoJSON keeps it, without a geometry


def test_a_long_name_or_id_never_makes_a_site_whose_folder_cannot_be_made(tmp_path: Path) -> None:
    """A placemark named with a paragraph gave a 300-character id: imported, then every ingest or import into it
    crashed with a traceback (OSError: File name too long, making archive/ID/)."""
    runner = CliRunner()
    ws = tmp_path / "ws"
    runner.invoke(main, ["init", str(ws)])
    long_name = "Port of " + "very " * 60 + "long name"
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": long_name}, "geometry": mapping(box(132.30, 42.86, 132.31, 42.87))},
        {"type": "Feature", "properties": {"name": long_name}, "geometry": mapping(box(132.32, 42.86, 132.33, 42.87))},
        {"type": "Feature", "properties": {"id": "p" * 300}, "geometry": mapping(box(132.34, 42.86, 132.35, 42.87))},
    ]}  # fmt: skip
    (tmp_path / "long.geojson").write_text(json.dumps(fc), encoding="utf-8")
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "long.geojson"), "-w", str(ws)])
    assert r.exit_code == 3, r.output
    assert "site id 'pppp" in r.output and "is 300 characters long; a site id is at most 64" in r.output.replace("\n", " ")
    ids = [f["id"] for f in json.loads(runner.invoke(main, ["sites", "list", "--json", "-w", str(ws)]).output)["features"]]
    assert len(ids) == 2 and all(len(i) <= 64 for i in ids) and ids[0].startswith("port-of-very-")
    assert ids[1] == ids[0] + "-2"  # the repeated name's suffix fits
    for site_id in ids:
        (ws / "archive" / site_id).mkdir(parents=True)  # the folder ingest makes
    r = runner.invoke(main, ["sites", "add", "q" * 300, "--bbox", "132.30,42.86,132.31,42.87", "-w", str(ws)])
    assert r.exit_code == 1 and "is 300 characters long" in r.output


def test_no_site_takes_a_name_windows_keeps_for_a_device(tmp_path: Path) -> None:
    """A site id `con` or `nul` made a folder archive/con/ and files con.timeline.csv that Windows cannot hold: a
    workspace or an export copied there lost them. An id given so is refused, naming it; one made from a name takes
    `-site`; other sites of the file proceed."""
    runner = CliRunner()
    ws = tmp_path / "ws"
    runner.invoke(main, ["init", str(ws)])
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Aux"}, "geometry": mapping(box(132.30, 42.86, 132.31, 42.87))},
        {"type": "Feature", "properties": {"id": "com1"}, "geometry": mapping(box(132.32, 42.86, 132.33, 42.87))},
        {"type": "Feature", "properties": {"name": "Console"}, "geometry": mapping(box(132.34, 42.86, 132.35, 42.87))},
    ]}  # fmt: skip
    (tmp_path / "devices.geojson").write_text(json.dumps(fc), encoding="utf-8")
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "devices.geojson"), "-w", str(ws)])
    assert r.exit_code == 3, r.output
    assert "site id 'com1' is a name Windows keeps for a device" in r.output.replace("\n", " ")
    ids = [f["id"] for f in json.loads(runner.invoke(main, ["sites", "list", "--json", "-w", str(ws)]).output)["features"]]
    assert sorted(ids) == ["aux-site", "console"]
    for device in ("nul", "lpt9", "prn"):
        r = runner.invoke(main, ["sites", "add", device, "--bbox", "132.30,42.86,132.31,42.87", "-w", str(ws)])
        assert r.exit_code == 1 and f"'{device}' is a name Windows keeps for a device" in r.output.replace("\n", " ")
    r = runner.invoke(main, ["sites", "add", "com10", "--bbox", "132.30,42.86,132.31,42.87", "-w", str(ws)])
    assert r.exit_code == 0, r.output  # COM10 is no device name


def test_a_site_exported_to_kml_and_imported_again_is_the_same_site(tmp_path: Path) -> None:
    """KML was written to six decimals: a site drawn with finer coordinates (any reprojected one) came back
    up to 5 cm off, its berths and water too, and `import` warned that its observations were cut to its old area."""
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    site = Site(id="fine", name="Fine", kind="port", geometry=box(132.30012345678, 42.86098765432, 132.31034567891, 42.87022222222),
                berths=(Berth("q1", LineString([(132.3051234567, 42.8651234567), (132.3071234567, 42.8651234567)])),),
                water=box(132.3061234567, 42.8621234567, 132.3091234567, 42.8681234567))  # fmt: skip
    (back,) = read_sites_file_kml(tmp_path, [site])
    assert back.geometry is not None and back.geometry.normalize().equals_exact(site.geometry.normalize(), 0)
    assert back.berths[0].geometry.equals_exact(site.berths[0].geometry, 0)
    assert back.berths[0].name == ""  # it came back named after its id
    assert back.water is not None and back.water.normalize().equals_exact(site.water.normalize(), 0)  # type: ignore[union-attr]
    (tmp_path / "fine.geojson").write_text(json.dumps(sites_to_geojson([site])), encoding="utf-8")
    runner.invoke(main, ["sites", "import", str(tmp_path / "fine.geojson"), "-w", ws])
    before = json.loads(runner.invoke(main, ["sites", "list", "--json", "-w", ws]).output)
    r = runner.invoke(main, ["sites", "export", str(tmp_path / "out.kml"), "-w", ws])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["sites", "import", str(tmp_path / "out.kml"), "-w", ws])
    assert r.exit_code == 0, r.output
    after = json.loads(runner.invoke(main, ["sites", "list", "--json", "-w", ws]).output)
    assert [f["geometry"] for f in after["features"]] == [f["geometry"] for f in before["features"]]
    assert [f["properties"] for f in after["features"]] == [f["properties"] for f in before["features"]]


def read_sites_file_kml(tmp_path: Path, sites: list[Site]) -> list[Site]:
    from sitewatch.sites import read_sites_file

    (tmp_path / "s.kml").write_text(sites_to_kml(sites), encoding="utf-8")
    return read_sites_file(tmp_path / "s.kml")


_SQUARE = '{"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2], [1, 1]]]}'


@pytest.mark.parametrize(("name", "text", "named"), [
    pytest.param("s.geojson", '{"type": "FeatureCollection", "features": 5}', r"s.geojson: its 'features' is not a list",
                 id="features-not-a-list"),  # TypeError: 'int' object is not iterable
    pytest.param("s.geojson", '{"type": "Feature", "properties": {"id": 1' + "0" * 400 + '}, "geometry": ' + _SQUARE + "}",
                 r"s.geojson, feature 0 \(10+\): site id '10+…' is 401 characters long", id="id-past-float"),  # OverflowError
    pytest.param("s.geojson", '{"type": "Polygon", "crs": {"type": "name", "properties": {"name": "EPSG:2221"}},'
                 ' "coordinates": [[[1, 1], [2, 1], [2, 2], [1, 1]]]}', r"s.geojson: cannot reproject its CRS 'EPSG:2221'",
                 id="crs-without-a-way-to-lon-lat"),  # pyproj's ProjError: Input is not a transformation
    pytest.param("s.geojson", '{"type": {"a": 1}}', r"s.geojson: not a GeoJSON FeatureCollection", id="type-an-object"),  # TypeError
    pytest.param("s.geojson", '{"type": "Polygon", "coordinates": [[[-1' + "0" * 400 + ', 1], [2, 1], [2, 2], [1, 1]]]}',
                 r"s.geojson, feature 0 \(no id\): cannot read its geometry", id="coordinate-past-float"),  # OverflowError
    pytest.param("s.kml", '<?xml version="1.0" encoding="UTF-3"?><kml/>', r"s.kml: .*declared encoding 'UTF-3' cannot be read.*save it as UTF-8",
                 id="kml-unknown-encoding"),  # LookupError
])  # fmt: skip
def test_malformed_sites_files_found_by_fuzzing_are_input_errors(tmp_path: Path, name: str, text: str, named: str) -> None:
    """Inputs fuzz/fuzz_sites.py found that ended `sites import` in a traceback."""
    from sitewatch.sites import read_sites_file

    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=named):
        read_sites_file(tmp_path / name)


def test_a_number_of_more_than_4300_digits_is_an_input_error(tmp_path: Path) -> None:
    """Python refuses to read such a number (a ValueError, not a JSONDecodeError), which ended `sites import` in a traceback."""
    from sitewatch.sites import read_sites_file

    (tmp_path / "s.geojson").write_text('{"type": ' + "1" * 5000 + "}", encoding="utf-8")
    with pytest.raises(InputError, match=r"s.geojson: not valid JSON .*4300 digits"):
        read_sites_file(tmp_path / "s.geojson")
    feature = {"type": "Feature", "properties": {"tags": "[" + "1" * 5000 + "]"}, "geometry": json.loads(_SQUARE)}
    (tmp_path / "t.geojson").write_text(json.dumps(feature), encoding="utf-8")
    assert read_sites_file(tmp_path / "t.geojson")[0].tags == ("[" + "1" * 5000 + "]",)  # text, as other unreadable JSON


def _kmz(method: int, garble: Any) -> bytes:
    import io
    import zipfile

    kml = (b"<kml><Placemark><name>a</name><Polygon><outerBoundaryIs><LinearRing><coordinates>1,1 2,1 2,2 1,1"
           b"</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></kml>")  # fmt: skip
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as zf:
        zf.writestr("doc.kml", kml)
    data = bytearray(out.getvalue())
    garble(data, data.index(b"PK\x01\x02"))  # the local header is at 0, the central directory's entry at the index
    return bytes(data)


def _flip(at: int) -> Any:
    def garble(data: bytearray, central: int) -> None:
        data[at] ^= 0xFF

    return garble


def _encrypted(data: bytearray, central: int) -> None:
    data[6] |= 1  # the general purpose flag's bit 0, in both headers
    data[central + 8] |= 1


def _method_99(data: bytearray, central: int) -> None:
    data[8] = data[central + 10] = 99  # AES, which zipfile cannot unpack


def _version_15_7(data: bytearray, central: int) -> None:
    data[central + 6] = 157  # the version needed to extract, which zipfile refuses in its directory


def _utf8_names(data: bytearray, central: int) -> None:
    data[central + 9] |= 0x08  # bit 11: names in UTF-8, and the name's first byte is none
    data[central + 46] = 0x9D


@pytest.mark.parametrize(("garble", "why"), [
    pytest.param(_version_15_7, "zip file version 15.7", id="version"),  # NotImplementedError
    pytest.param(_utf8_names, "invalid start byte", id="name-not-utf8"),  # UnicodeDecodeError
])  # fmt: skip
def test_a_kmz_whose_directory_zipfile_refuses_is_an_input_error(tmp_path: Path, garble: Any, why: str) -> None:
    """KMZs fuzz/fuzz_sites.py found that ended `sites import` in a traceback of zipfile."""
    from sitewatch.sites import read_sites_file

    (tmp_path / "s.kmz").write_bytes(_kmz(0, garble))
    with pytest.raises(InputError, match=rf"s.kmz: not a KMZ \(zip\) file \(.*{why}"):
        read_sites_file(tmp_path / "s.kmz")


@pytest.mark.parametrize(("method", "garble", "why"), [
    pytest.param(8, _flip(42), "Error -3 while decompressing", id="deflate-garbled"),  # zlib.error
    pytest.param(14, _flip(49), "Corrupt input data", id="lzma-garbled"),  # lzma.LZMAError
    pytest.param(12, _flip(49), "Invalid data stream", id="bzip2-garbled"),  # OSError
    pytest.param(0, _encrypted, "encrypted", id="encrypted"),  # RuntimeError
    pytest.param(0, _method_99, "compression method is not supported", id="aes"),  # NotImplementedError
])  # fmt: skip
def test_a_kmz_whose_document_cannot_be_unpacked_is_an_input_error(tmp_path: Path, method: int, garble: Any, why: str) -> None:
    """KMZs fuzz/fuzz_sites.py found that ended `sites import` in a traceback of the zip's decompressor."""
    from sitewatch.sites import read_sites_file

    (tmp_path / "s.kmz").write_bytes(_kmz(method, garble))
    with pytest.raises(InputError, match=rf"s.kmz: doc.kml cannot be unpacked \(.*{why}.*\): is the zip damaged"):
        read_sites_file(tmp_path / "s.kmz")


def test_a_kml_in_a_multi_byte_encoding_expat_lacks_is_read(tmp_path: Path) -> None:
    """GBK (declared so) was a ValueError traceback (found by fuzz/fuzz_sites.py, with UTF-7); it reads as VOC labels in GBK do."""
    from sitewatch.sites import read_sites_file

    kml = ('<?xml version="1.0" encoding="GBK"?><kml><Placemark><name>\u6e2f\u53e3</name><Polygon><outerBoundaryIs><LinearRing>'
           "<coordinates>1,1 2,1 2,2 1,1</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></kml>")  # fmt: skip
    (tmp_path / "s.kml").write_bytes(kml.encode("gbk"))
    with pytest.warns(RenamedSiteWarning):  # a name without Latin letters
        (site,) = read_sites_file(tmp_path / "s.kml")
    assert site.name == "\u6e2f\u53e3"


@pytest.mark.parametrize("prolog", ["", '<?xml version="1.0" encoding="UTF-8"?>\n'], ids=["undeclared", "declared-utf8"])
def test_a_kml_in_a_windows_code_page_it_does_not_declare_is_named_not_utf8(tmp_path: Path, prolog: str) -> None:
    """A KML saved in windows-1251 without saying so was "not well-formed (invalid token): line 1, column 71",
    which named no encoding; declared so, it is read."""
    from sitewatch.sites import read_sites_file

    body = ("<kml><Placemark><name>Порт Находка</name><Polygon><outerBoundaryIs><LinearRing>"
            "<coordinates>1,1 2,1 2,2 1,1</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></kml>")  # fmt: skip
    (tmp_path / "s.kml").write_bytes((prolog + body).encode("cp1251"))
    line = prolog.count("\n") + 1
    with pytest.raises(InputError, match=rf"s.kml: .*not UTF-8 at line {line}, byte 23 of it, .*save it as UTF-8, or declare"):
        read_sites_file(tmp_path / "s.kml")
    (tmp_path / "s.kml").write_bytes(('<?xml version="1.0" encoding="windows-1251"?>' + body).encode("cp1251"))
    with pytest.warns(RenamedSiteWarning):  # a name without Latin letters
        (site,) = read_sites_file(tmp_path / "s.kml")
    assert site.name == "Порт Находка"


def test_a_kml_description_in_html_is_the_site_note_as_text() -> None:
    """Google My Maps and Google Earth's rich Description write HTML (lines ended by <br>, entities, a link): the
    note kept the markup ('Basin<br>floating dock &amp; quay'), which `sites show`, the dashboard and the next
    export then gave as it was. Plain text with a '<' that is no tag stays as written."""
    from sitewatch.kml import kml_to_geojson

    def note(description: str) -> str:
        text = (
            '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>Bolshoy Kamen</name>'
            f"<description>{description}</description><Polygon><outerBoundaryIs><LinearRing><coordinates>"
            "132.30,42.85 132.40,42.85 132.40,42.92 132.30,42.92 132.30,42.85</coordinates></LinearRing>"
            "</outerBoundaryIs></Polygon></Placemark></Document></kml>"
        )
        return str(kml_to_geojson(text)["features"][0]["properties"]["note"])

    html = '<![CDATA[Shipyard basin<br>floating dock &amp; quay<br/><a href="https://example.org/x">source</a>]]>'
    assert note(html) == "Shipyard basin\nfloating dock & quay\nsource"
    assert note("<![CDATA[<p>Pier <b>built</b> 2023</p><p>two berths</p>]]>") == "Pier built 2023\ntwo berths"
    assert note("depth &lt;5 m, draught 3 &lt; 4 m &amp; more") == "depth <5 m, draught 3 < 4 m & more"
    assert note("Shipyard basin, the floating dock left out") == "Shipyard basin, the floating dock left out"


def test_a_site_given_by_its_name_is_told_its_id_and_no_impossible_add_is_suggested(tmp_path: Path) -> None:
    # `timeline "Гавань Дуная"` (the name of site 'site') said "add one with `sitewatch sites add Гавань Дуная --bbox …`",
    # a command that is refused (an id of Cyrillic letters and a space) and, unquoted, two arguments.
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    runner.invoke(main, ["sites", "add", "site", "--name", "Гавань  Дуная", "--bbox", "132.31,42.86,132.36,42.90", "-w", ws])
    r = runner.invoke(main, ["timeline", "гавань дуная", "-w", ws])
    assert r.exit_code != 0 and "no site 'гавань дуная' in this workspace: that is the name of site 'site'; give its id" in r.output
    r = runner.invoke(main, ["timeline", "Порт Восток", "-w", ws])
    assert r.exit_code != 0
    assert "add one with `sitewatch sites add ID --name 'Порт Восток' --bbox W,S,E,N` (ID: lowercase Latin letters" in r.output


def test_a_site_named_in_another_case_says_the_lower_case_id_not_to_add_it(tmp_path: Path) -> None:
    # `timeline Dunai` said "add one with `sitewatch sites add Dunai`", which refuses an id not in lower case.
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    runner.invoke(main, ["init", ws])
    runner.invoke(main, ["sites", "add", "dunai", "--bbox", "132.31,42.86,132.36,42.90", "-w", ws])
    r = runner.invoke(main, ["timeline", "Dunai", "-w", ws])
    assert r.exit_code != 0
    assert "no site 'Dunai' in this workspace: site ids are lower case; did you mean 'dunai'?" in r.output
    assert "sites add" not in r.output
