"""``--share``: a report and exports to hand on name no local user or folder outside the workspace
(SIMULATED imagery: the scenes of a lake shore, a ship arriving between two dates)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from _two_dates import arriving, two_date_scenario
from sitewatch.cli import main
from sitewatch.share import SHARED_NOTE, shared_paths
from sitewatch.sources.scenario import Vessel
from sitewatch.sources.simulate import layout_site, simulate
from sitewatch.testing import workspace_with_sites

USER = "jdoe"
ORDER = "Maxar order 12345"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home folder holding a workspace (investigations/ws) whose scenes were ingested from Downloads,
    detected and compared; a stored run parameter and provenance name both folders."""
    home = tmp_path_factory.mktemp("share") / "home" / USER
    ship = Vessel("ship", "cargo", 120.0, 20.0, arriving("lake", (-500.0, 100.0), 20.0))
    scenario = two_date_scenario("lake", "Lake shore (SIMULATED)", "port", water_edge_m=-150.0, thing=ship,
                                 name="share-test", title="A ship comes (SIMULATED)")  # fmt: skip
    paths = simulate(scenario, home / "Downloads" / ORDER)
    # As `sitewatch sites add --from FILE` records it: the file's whole path, the source of the coordinates.
    site = replace(layout_site(scenario.sites[0], scenario.name), coord_source=str(home / "sites" / "lake.geojson"))
    ws = workspace_with_sites(home / "investigations" / "ws", site)
    runner = CliRunner()
    for args in (["ingest", "lake", *map(str, paths)], ["detect", "lake"], ["change", "lake"]):
        res = runner.invoke(main, [*args, "-w", str(ws.root)])
        assert res.exit_code == 0, res.output
    (home / "Desktop").mkdir()
    return home


def _write_all(home: Path, *share: str) -> dict[str, bytes]:
    """The report (on the Desktop, outside the workspace) and every export format of both layers."""
    out = home / "Desktop" / ("shared" if share else "own")
    out.mkdir()
    ws = str(home / "investigations" / "ws")
    runner = CliRunner()
    commands = [["report", "--out", str(out / "report.html")]]
    commands += [["export", "--layer", layer, "--out", str(out / f"{layer}.{fmt}")]
                 for layer in ("detections", "changes") for fmt in ("geojson", "kml", "csv", "gpkg")]  # fmt: skip
    for args in commands:
        res = runner.invoke(main, [*args, *share, "-w", ws])
        assert res.exit_code == 0, res.output
        # Each command's last line says the paths were shortened, the report's as the exports'.
        assert (SHARED_NOTE in res.output.strip().splitlines()[-1]) == bool(share), res.output
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.mark.slow
def test_shared_outputs_name_no_user_or_folder_and_say_so(home: Path) -> None:
    own = _write_all(home)
    # Without --share the report names the workspace's folder, and the GeoPackage's provenance where each scene came from.
    for name in ("report.html", "detections.gpkg"):
        assert USER.encode() in own[name] and (name == "report.html" or ORDER.encode() in own[name]), name
    shared = _write_all(home, "--share")
    assert shared.keys() == own.keys() and len(shared) == 11  # with a .csvt beside each CSV
    for name, data in shared.items():
        for secret in (USER, ORDER, str(home.parent)):
            assert secret.encode() not in data, (name, secret)
    html = shared["report.html"].decode()
    assert SHARED_NOTE in html and "workspace ws" in html
    assert "Coordinates: lake.geojson" in html
    assert 'href="archive/' in html  # links as from the workspace's folder, not up through the home folder
    for name in ("detections.geojson", "changes.geojson"):
        assert json.loads(shared[name])["note"] == SHARED_NOTE
    for name in ("detections.kml", "changes.kml"):
        assert f"<description>{SHARED_NOTE}</description>".encode() in shared[name]
    with closing(sqlite3.connect(home / "Desktop" / "shared" / "detections.gpkg")) as db:
        assert db.execute("SELECT value FROM sitewatch_meta WHERE key = 'paths'").fetchone() == (SHARED_NOTE,)
    with closing(sqlite3.connect(home / "Desktop" / "shared" / "changes.gpkg")) as db:
        assert db.execute("SELECT description FROM gpkg_contents").fetchone()[0].endswith(SHARED_NOTE)
    # The evidence chain holds: each observation's source file is still named, by its name, with its sha256.
    with closing(sqlite3.connect(home / "Desktop" / "shared" / "detections.gpkg")) as db:
        provenance = [json.loads(p) for (p,) in db.execute("SELECT provenance FROM observations")]
        (coord_source,) = db.execute("SELECT coord_source FROM sites").fetchone()
    assert coord_source == "lake.geojson"
    assert provenance and all("/" not in p["source_path"] and p["source_path"].endswith(".tif") and p["source_sha256"]
                              for p in provenance)  # fmt: skip


def test_paths_inside_the_workspace_are_relative_and_others_a_file_name(tmp_path: Path) -> None:
    root = tmp_path / "home" / USER / "ws"
    (root / "archive").mkdir(parents=True)
    (root / "archive" / "a.tif").write_bytes(b"")
    sp = shared_paths(root, [{"source_path": f"/home/{USER}/Downloads/{ORDER}/b.tif"}], home=tmp_path / "home" / USER)
    assert sp.path(str(root / "archive" / "a.tif")) == "archive/a.tif"
    assert sp.path("archive/a.tif") == "archive/a.tif"
    assert sp.path(f"../{ORDER}/b.tif") == "b.tif"
    assert sp.path(rf"C:\Users\{USER}\Downloads\{ORDER}\b.tif") == "b.tif"
    assert sp.path(f"file:///home/{USER}/Downloads/{ORDER.replace(' ', '%20')}/S2A.SAFE/") == "S2A.SAFE"
    # Free text: a known path whole (spaces and all), any other absolute path to its next space.
    assert sp.text(f"no GeoTIFF in /home/{USER}/Downloads/{ORDER}/b.tif; see /srv/{USER}/x.json") == (
        "no GeoTIFF in b.tif; see x.json"
    )
    value = sp.value({"paths": [f"Downloads/{ORDER}"], "catalog": "https://earth-search.aws.element84.com/v1",
                      "band_files": {"B04": f"{USER}/b04.tif"}, "sensor": "optical/sar"})  # fmt: skip
    assert value == {"paths": [ORDER], "catalog": "https://earth-search.aws.element84.com/v1",
                     "band_files": {"B04": "b04.tif"}, "sensor": "optical/sar"}  # fmt: skip
    assert sp.finished(f"workspace {root}; home {tmp_path / 'home' / USER}/notes") == "workspace ws; home ~/notes"


def test_a_shared_report_made_in_the_workspace_folder_names_that_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Run in the workspace's folder, as the README runs `report` (-w defaults to "."), the shared
    # report's header read "workspace  ·": the name of "." is empty.
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "casefile")]).exit_code == 0
    monkeypatch.chdir(tmp_path / "casefile")
    assert runner.invoke(main, ["sites", "add", "lake", "--bbox", "132.31,42.86,132.36,42.90"]).exit_code == 0
    res = runner.invoke(main, ["report", "--share", "--out", "r.html"])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "casefile" / "r.html").read_text(encoding="utf-8")
    assert "· workspace casefile ·" in html and str(tmp_path) not in html
