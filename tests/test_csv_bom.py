"""``--bom`` on every command that writes CSV (export, timeline, score, simulate --ais): a UTF-8 byte-order mark at
the file's start, which Excel on Windows needs to show Korean or Cyrillic names rather than mojibake. Without it (the
default) the bytes are as before; the ``.csvt`` beside an export never gets one; sitewatch's own AIS reader reads a
marked file as it reads an unmarked one."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from _report_world import build
from sitewatch.cli import main
from sitewatch.workspace import Workspace

BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build(tmp_path_factory.mktemp("bom") / "ws")


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _same_but_the_mark(plain: bytes, marked: bytes) -> None:
    assert not plain.startswith(BOM) and marked == BOM + plain
    # Excel's reading (and Python's utf-8-sig): the first column is named as without the mark.
    assert next(csv.reader(io.StringIO(marked.decode("utf-8-sig")))) == next(csv.reader(io.StringIO(plain.decode("utf-8"))))


def test_export_bom_marks_the_csv_and_leaves_its_csvt_alone(ws: Workspace, tmp_path: Path) -> None:
    plain, marked = tmp_path / "plain.csv", tmp_path / "marked.csv"
    for out, extra in ((plain, ()), (marked, ("--bom",))):
        r = _run("export", "-w", str(ws.root), "--out", str(out), *extra)
        assert r.exit_code == 0, r.output
    _same_but_the_mark(plain.read_bytes(), marked.read_bytes())
    assert marked.with_suffix(".csvt").read_bytes() == plain.with_suffix(".csvt").read_bytes()
    assert not marked.with_suffix(".csvt").read_bytes().startswith(BOM)
    r = _run("export", "-w", str(ws.root), "--out", "-", "--format", "csv", "--bom")
    assert r.exit_code == 0 and r.stdout_bytes.startswith(BOM), r.output
    # Another format has no byte-order mark to take: said, not ignored.
    r = _run("export", "-w", str(ws.root), "--out", str(tmp_path / "d.kml"), "--bom")
    assert r.exit_code == 2 and "--bom marks a CSV" in r.output and not (tmp_path / "d.kml").exists()


def test_timeline_bom_marks_its_csv_one_site_or_several(ws: Workspace, tmp_path: Path) -> None:
    site = "dunai"
    for args in ((site,), ()):
        plain, marked = tmp_path / f"p{len(args)}.csv", tmp_path / f"m{len(args)}.csv"
        assert _run("timeline", *args, "-w", str(ws.root), "--csv", str(plain)).exit_code == 0
        r = _run("timeline", *args, "-w", str(ws.root), "--csv", str(marked), "--bom")
        assert r.exit_code == 0, r.output
        _same_but_the_mark(plain.read_bytes(), marked.read_bytes())
    r = _run("timeline", site, "-w", str(ws.root), "--bom")
    assert r.exit_code == 2 and "add --csv FILE" in r.output


def test_score_bom_marks_its_csv(tmp_path: Path) -> None:
    dets = tmp_path / "a.geojson"
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [12, 12]},
              "properties": {"row": 12, "col": 12, "score": 0.9, "kind": "vessel"}}]  # fmt: skip
    dets.write_text(json.dumps({"type": "FeatureCollection", "features": feats, "sitewatch": {"source": "Пирс.jpg", "detector": "sar-cfar"}}), encoding="utf-8")
    labels = tmp_path / "a.xml"
    labels.write_text("<annotation><object><name>ship</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>20</xmax><ymax>14</ymax></bndbox></object></annotation>", encoding="utf-8")
    plain, marked = tmp_path / "p.csv", tmp_path / "m.csv"
    assert _run("score", str(dets), str(labels), "--csv", str(plain)).exit_code == 0
    r = _run("score", str(dets), str(labels), "--csv", str(marked), "--bom")
    assert r.exit_code == 0, r.output
    _same_but_the_mark(plain.read_bytes(), marked.read_bytes())
    r = _run("score", str(dets), str(labels), "--bom")
    assert r.exit_code == 2 and "add --csv FILE" in r.output


def test_simulate_bom_marks_the_ais_csv_and_sitewatch_reads_it_as_before(tmp_path: Path) -> None:
    from sitewatch.analysis.ais_csv import read_ais

    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(
        "name: tiny\nseed: 3\nsites:\n  - id: dunai\n    layout:\n      land: [[[-1700, 200], [1700, 200], [1700, 1700], [-1700, 1700]]]\n"
        "      berths: [{id: quay, line: [[-300, 200], [300, 200]]}]\nacquisitions:\n"
        "  - {name: sar, site: dunai, sensor: sar, start: 2024-10-17, end: 2024-10-18, revisit_days: 1}\nvessels:\n"
        "  - {id: ship, class: general cargo, length_m: 90, width_m: 14,\n"
        "     visits: [{site: dunai, berth: quay, start: 2024-10-17, end: 2024-10-17}]}\n",
        encoding="utf-8",
    )
    for name, extra in (("p", ()), ("m", ("--bom",))):
        r = _run("-q", "simulate", str(scenario), "--out", str(tmp_path / f"sim-{name}"), "--ais", str(tmp_path / f"{name}.csv"), *extra)
        assert r.exit_code == 0, r.output
    plain, marked = (tmp_path / "p.csv").read_bytes(), (tmp_path / "m.csv").read_bytes()
    _same_but_the_mark(plain, marked)
    a, b = read_ais([tmp_path / "p.csv"]), read_ais([tmp_path / "m.csv"])
    assert a.tracks and a.tracks.keys() == b.tracks.keys()
    assert [len(t.times) for t in a.tracks.values()] == [len(t.times) for t in b.tracks.values()]
    r = _run("simulate", str(scenario), "--out", str(tmp_path / "sim-x"), "--bom")
    assert r.exit_code == 2 and "add --ais FILE" in r.output


def test_a_csv_on_standard_output_is_utf8_with_its_mark_whatever_the_outputs_encoding(ws: Workspace, tmp_path: Path) -> None:
    """`timeline --csv - --bom` and `score --csv - --bom` on a standard output in another encoding (Windows' cp1252
    when piped): the same UTF-8 bytes as the file, mark first, as `export --out -` writes; not the text ``\\ufeff``
    nor a ``?`` for a Cyrillic image name."""
    cp1252 = CliRunner(charset="cp1252")
    marked = tmp_path / "m.csv"
    assert _run("timeline", "dunai", "-w", str(ws.root), "--csv", str(marked), "--bom").exit_code == 0
    r = cp1252.invoke(main, ["timeline", "dunai", "-w", str(ws.root), "--csv", "-", "--bom"])
    assert r.exit_code == 0 and r.stdout_bytes == marked.read_bytes(), r.stdout_bytes[:40]
    dets = tmp_path / "Пирс.geojson"
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [12, 12]},
              "properties": {"row": 12, "col": 12, "score": 0.9, "kind": "vessel"}}]  # fmt: skip
    dets.write_text(json.dumps({"type": "FeatureCollection", "features": feats, "sitewatch": {"source": "Пирс.jpg", "detector": "sar-cfar"}}), encoding="utf-8")
    labels = tmp_path / "Пирс.xml"
    labels.write_text("<annotation><object><name>ship</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>20</xmax><ymax>14</ymax></bndbox></object></annotation>", encoding="utf-8")
    scored = tmp_path / "s.csv"
    assert _run("score", str(dets), str(labels), "--csv", str(scored), "--bom").exit_code == 0
    r = cp1252.invoke(main, ["score", str(dets), str(labels), "--csv", "-", "--bom"])
    assert r.exit_code == 0 and r.stdout_bytes == scored.read_bytes(), r.stdout_bytes[:40]
