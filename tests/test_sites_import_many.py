"""``sitewatch sites import`` of several files: read first, imported together in one transaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from shapely.geometry import LineString, box, mapping

from sitewatch.cli import main
from sitewatch.testing import workspace_with_sites
from sitewatch.workspace import init_workspace


def _site(sid: str, lon: float) -> dict[str, object]:
    return {"type": "Feature", "properties": {"id": sid, "name": sid.title(), "kind": "port"},
            "geometry": mapping(box(lon, 42.0, lon + 0.02, 42.02))}  # fmt: skip


def _berth(sid: str, bid: str, lon: float) -> dict[str, object]:
    return {"type": "Feature", "properties": {"role": "berth", "site_id": sid, "id": bid},
            "geometry": mapping(LineString([(lon + 0.005, 42.01), (lon + 0.01, 42.01)]))}  # fmt: skip


def _write(path: Path, *features: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}), encoding="utf-8")
    return path


def _import(ws_root: Path, *paths: Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["sites", "import", *map(str, paths), "-w", str(ws_root)])


def _ids(ws) -> list[str]:  # type: ignore[no-untyped-def]
    with ws.store() as store:
        return [s.id for s in store.sites()]


@pytest.mark.parametrize("kind", ["geopackage", "postgis"])
def test_several_files_import_as_one_and_a_rerun_replaces(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    ws = init_workspace(tmp_path / "ws", request.getfixturevalue("pg_url") if kind == "postgis" else None)
    a = _write(tmp_path / "sim" / "alpha" / "layout.geojson", _site("alpha", 130.0), _berth("alpha", "pier-1", 130.0))
    b = _write(tmp_path / "sim" / "bravo" / "layout.geojson", _site("bravo", 131.0))
    first = _import(ws.root, a, b)  # was "Got unexpected extra arguments", exit 2
    assert first.exit_code == 0, first.output
    assert "imported 2 site(s): alpha, bravo" in first.output
    again = _import(ws.root, a, b)
    assert again.exit_code == 0 and "imported 2 site(s): alpha (replaced), bravo (replaced)" in again.output
    assert _ids(ws) == ["alpha", "bravo"]  # no duplicate
    with ws.store() as store:
        assert [berth.id for berth in store.get_site("alpha").berths] == ["pier-1"]
        assert store.get_site("bravo").coord_source == str(b.resolve())  # each site says its own file


def test_a_berth_may_name_a_site_of_another_file(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws")
    berths = _write(tmp_path / "berths.geojson", _berth("alpha", "pier-1", 130.0))  # before its site's file
    sites = _write(tmp_path / "sites.geojson", _site("alpha", 130.0))
    res = _import(ws.root, berths, sites)
    assert res.exit_code == 0, res.output
    with ws.store() as store:
        assert [b.id for b in store.get_site("alpha").berths] == ["pier-1"]


@pytest.mark.parametrize("kind", ["geopackage", "postgis"])
def test_an_id_two_files_give_is_an_error_naming_both_and_nothing_is_imported(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ws = init_workspace(tmp_path / "ws", request.getfixturevalue("pg_url") if kind == "postgis" else None)
    a = _write(tmp_path / "a.geojson", _site("alpha", 130.0), _site("bravo", 131.0))
    b = _write(tmp_path / "b.geojson", _site("alpha", 132.0))
    res = _import(ws.root, a, b)
    assert res.exit_code == 1
    assert f"site id 'alpha' is given in two files, {a} and {b}" in res.output
    assert _ids(ws) == []


def test_a_bad_file_among_good_ones_is_named_and_nothing_is_imported(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws")
    good = _write(tmp_path / "good.geojson", _site("alpha", 130.0))
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json", encoding="utf-8")
    res = _import(ws.root, good, bad)
    assert res.exit_code == 1 and f"{bad}: not valid JSON" in res.output
    assert _ids(ws) == []
    # A file of which every feature is refused is bad too, though another file is good.
    refused = _write(tmp_path / "refused.geojson", _berth("nowhere", "pier-1", 130.0))
    res = _import(ws.root, good, refused)
    assert res.exit_code == 1 and f"{refused}, feature 0" in res.output
    assert "its site_id 'nowhere' is neither a site in the files nor in the workspace" in res.output
    assert _ids(ws) == []
    missing = tmp_path / "missing.geojson"
    res = _import(ws.root, good, missing)
    assert res.exit_code == 1 and f"{missing}: no such file" in res.output
    assert _ids(ws) == []


def test_a_feature_refused_in_one_file_is_skipped_and_the_rest_imported(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws")
    a = _write(tmp_path / "a.geojson", _site("alpha", 130.0), _berth("alpha", "pier-1", 135.0))  # berth outside
    b = _write(tmp_path / "b.geojson", _site("bravo", 131.0))
    res = _import(ws.root, a, b)
    assert res.exit_code == 3
    assert f"skipped: {a}, feature 1 (pier-1)" in res.output and "imported 2 site(s): alpha, bravo" in res.output
    assert _ids(ws) == ["alpha", "bravo"]


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws")
    a = _write(tmp_path / "a.geojson", _site("alpha", 130.0))
    res = _import(ws.root, a, tmp_path / "." / "a.geojson")
    assert res.exit_code == 0, res.output
    assert "imported 1 site(s): alpha" in res.output


def test_the_import_simulate_says_to_run_next_takes_every_sites_layout(tmp_path: Path) -> None:
    """simulate said "for each site (dunai, rason): `sitewatch sites import OUT/dunai/layout.geojson`", one
    import a site; it names them all in one now, and that command imports every site."""
    import glob
    import shlex

    scenario = tmp_path / "two.yaml"
    scenario.write_text("""
name: two
seed: 3
sites:
  - id: dunai
    layout:
      land: [[[-1700, 200], [1700, 200], [1700, 1700], [-1700, 1700]]]
      berths: [{id: quay, line: [[-300, 200], [300, 200]]}]
  - id: rason
    layout:
      land: [[[-1700, 200], [1700, 200], [1700, 1700], [-1700, 1700]]]
      berths: [{id: pier, line: [[-300, 200], [300, 200]]}]
acquisitions:
  - {name: sar, site: dunai, sensor: sar, start: 2024-10-17, end: 2024-10-17, revisit_days: 1}
  - {name: sar, site: rason, sensor: sar, start: 2024-10-17, end: 2024-10-17, revisit_days: 1}
""", encoding="utf-8")
    res = CliRunner().invoke(main, ["simulate", str(scenario), "--out", str(tmp_path / "sim")])
    assert res.exit_code == 0, res.output
    (line,) = [ln for ln in res.output.splitlines() if ln.startswith("next")]
    command = shlex.split(line.split("`")[3])  # the second `…`: after `sitewatch init`
    assert command[:3] == ["sitewatch", "sites", "import"], line
    paths = [p for arg in command[3:] for p in sorted(glob.glob(arg))]
    ws = workspace_with_sites(tmp_path / "ws")
    done = _import(ws.root, *map(Path, paths))
    assert done.exit_code == 0, done.output
    assert _ids(ws) == ["dunai", "rason"]
