"""What an investigator reads after running the pipeline on real files: times, provenance, sources."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from _report_world import build
from sitewatch.cli import main
from sitewatch.model import DATE_ONLY_NOTE, acquired_label
from sitewatch.report.html import write_report
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.workspace import Workspace

SITE = tiny_site()


def _date_only(ws: Workspace) -> str:
    """Mark the optical look of 17 October as known by its date alone (an EO Browser export's name)."""
    with ws.store() as st:
        obs = next(o for o in st.observations("dunai") if o.id.endswith("2024-10-17-optical"))
        dets = st.detections(observation_id=obs.id)
        when = obs.scene.acquired.replace(hour=12)
        scene = dataclasses.replace(obs.scene, acquired=when)
        dated = dataclasses.replace(obs, scene=scene, provenance={"acquired_from": f"file name, date only ({DATE_ONLY_NOTE})"})
        st.put_observation(dated)
        st.replace_detections(dated, dets)
    return obs.id


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(style|script)[^>]*>.*?</\1>", "", html)))


def test_a_time_assumed_for_a_date_alone_is_never_shown_as_the_time_of_the_image(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws", simulated=False)
    oid = _date_only(ws)
    text = _text(write_report(ws, None, tmp_path / "report.html").read_text(encoding="utf-8"))
    assert "2024-10-17 12:00" not in text and "2024-10-17 12:00:00Z" not in text
    assert "2024-10-17, time unknown" in text
    assert "2024-10-20 01:00 UTC" in text  # a time the file gave is shown as before
    table = CliRunner().invoke(main, ["observations", "dunai", "-w", str(ws.root)], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    (row,) = [line for line in table.output.splitlines() if oid in line]
    assert "time unknown" in row and "12:00" not in row
    with ws.store() as st:
        obs = st.get_observation(oid)
    assert acquired_label(obs) == "2024-10-17, time unknown"


def _eo_browser_band(folder: Path, band: str) -> Path:
    """One band of a Sentinel-2 scene as EO Browser exports it ("Raw": uint16, one file a band)."""
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.full((60, 60), 1500, np.uint16)
    data[20:23, 10:40] = 12000  # a bright hull, as a ship is in NIR: read as SAR it would be a "vessel"
    return write_tiff(folder / f"2024-10-17-00:00_2024-10-17-23:59_Sentinel-2_L2A_{band}_(Raw).tiff", data, crs=crs,
                      transform=Affine(10, 0, x0, 0, -10, y0))  # fmt: skip


@pytest.mark.parametrize("command", [["import", "--sensor", "sar"], ["ingest", SITE.id, "--sensor", "sar"]])
def test_an_optical_satellites_band_is_refused_as_sar(tmp_path: Path, command: list[str]) -> None:
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    b08 = _eo_browser_band(tmp_path, "B08")
    r = CliRunner().invoke(main, ["-q", *command, str(b08), "-w", str(ws.root)])
    assert r.exit_code == 1, r.output
    assert b08.name in r.output and "sentinel-2" in r.output and "not sar" in r.output and "--band" in r.output
    with ws.store() as st:
        assert st.observations(SITE.id) == []


def test_a_band_given_as_a_polarisation_is_refused_when_its_satellite_is_optical(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    b08 = _eo_browser_band(tmp_path, "B08")
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, f"--band=vv={b08}", "-w", str(ws.root)])
    assert r.exit_code == 1 and "not sar" in r.output, r.output


def test_a_lone_band_of_an_optical_satellite_is_not_asked_whether_it_is_sar(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    b02 = _eo_browser_band(tmp_path, "B02")
    r = CliRunner().invoke(main, ["-q", "import", str(b02), "-w", str(ws.root)])
    assert r.exit_code == 1 and b02.name in r.output, r.output
    assert "--sensor sar" not in r.output and "--band blue=" in r.output


def test_an_eo_browser_exports_name_is_its_observations_name_not_a_scene_id(tmp_path: Path) -> None:
    """EO Browser names a day's exports `2024-10-17-00:00_2024-10-17-23:59_…`: its two colons were read as an
    archived scene id's provider:collection:item, giving the provider "2024-10-17-00" and, for a single file,
    the observation `tiny/59_Sentinel-2_L2A_True_color`."""
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    crs, x0, y0 = site_utm_origin(SITE)
    one = write_tiff(tmp_path / "2024-10-17-00:00_2024-10-17-23:59_Sentinel-2_L2A_4_bands.tiff",
                     np.full((4, 60, 60), 1500, np.uint16), crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
                     descriptions=["blue", "green", "red", "nir"])  # fmt: skip
    bands = [f"--band={b}={_eo_browser_band(tmp_path, code)}" for b, code in
             (("blue", "B02"), ("green", "B03"), ("red", "B04"), ("nir", "B08"))]  # fmt: skip
    for args in ([str(one)], bands):
        r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, *args, "-w", str(ws.root)])
        assert r.exit_code == 0, r.output
    with ws.store() as st:
        scenes = {o.id: o.scene for o in st.observations(SITE.id)}
    assert set(scenes) == {f"{SITE.id}/2024-10-17-00:00_2024-10-17-23:59_Sentinel-2_L2A_4_bands",
                           f"{SITE.id}/2024-10-17-00:00_2024-10-17-23:59_Sentinel-2_L2A_(Raw)"}  # fmt: skip
    for oid, scene in scenes.items():
        assert (scene.provider, scene.collection) == ("local", "local-geotiff")
        assert scene.id == f"local:local-geotiff:{oid.split('/', 1)[1]}"


def test_a_name_taken_elsewhere_gets_the_date_of_an_image_known_by_its_date_not_an_assumed_noon(tmp_path: Path) -> None:
    """EO Browser names a day's exports alike in every port, so a second port's got the acquisition time added:
    for an image known by its date alone, its assumed noon (`…_(Raw)_20241017T120000`), shown as the time it
    was taken. Now the date; an id made so before still goes to its files, never a second observation."""
    sites = [tiny_site(i) for i in ("a", "b", "c")]
    ws = workspace_with_sites(tmp_path / "ws", *sites)

    def ingest(site: str, folder: str, *extra: str) -> None:
        (tmp_path / folder).mkdir(exist_ok=True)
        bands = [f"--band={b}={_eo_browser_band(tmp_path / folder, code)}" for b, code in
                 (("blue", "B02"), ("green", "B03"), ("red", "B04"), ("nir", "B08"))]  # fmt: skip
        r = CliRunner().invoke(main, ["-q", "ingest", site, *bands, *extra, "-w", str(ws.root)])
        assert r.exit_code == 0, r.output

    base = "2024-10-17-00:00_2024-10-17-23:59_Sentinel-2_L2A_(Raw)"
    ingest("a", "a")
    ingest("c", "c")  # another port's export of that day: same names, other files
    ingest("b", "b", "--acquired", "2024-10-17T12:00:00")  # a time given: it names the observation
    ingest("b", "b")  # again, known by its date: the observation it made, not a second one
    with ws.store() as st:
        ids = {s.id: [o.id for o in st.observations(s.id)] for s in sites}
    assert ids == {"a": [f"a/{base}"], "b": [f"b/{base}_20241017T120000"], "c": [f"c/{base}_20241017"]}


@pytest.mark.parametrize("level", ["L1C", "L2A"])
def test_band_files_named_level_1c_go_in_with_a_warning_and_say_so(tmp_path: Path, level: str) -> None:
    """A Level-1C product is refused (the optical models were trained on L2A); its bands exported one file
    each (EO Browser's "Sentinel-2 L1C", ESA's S2A_OPER_MSI_L1C_… tiles) went in silently as surface reflectance."""
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    bands = []
    for b, code in (("blue", "B02"), ("green", "B03"), ("red", "B04"), ("nir", "B08")):
        made = _eo_browser_band(tmp_path, code)
        bands.append(f"--band={b}={made.rename(made.with_name(made.name.replace('L2A', level)))}")
    r = CliRunner().invoke(main, ["ingest", SITE.id, *bands, "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    assert ("Level-1C by its name" in r.output) is (level == "L1C"), r.output
    with ws.store() as st:
        (obs,) = st.observations(SITE.id)
    said = obs.scene.properties.get("processing_level", "")
    assert said.startswith("L1C") if level == "L1C" else not said
    r = CliRunner().invoke(main, ["detect-image", *bands, "--out", str(tmp_path / "found.geojson")])
    assert r.exit_code == 0, r.output
    assert ("Level-1C by its name" in r.output) is (level == "L1C"), r.output


def test_a_sar_satellites_image_read_as_optical_by_its_bands_says_so_not_a_tag(tmp_path: Path) -> None:
    """A three-band Sentinel-1 rendering (EO Browser) is read as optical by its band count; the refusal
    named a SITEWATCH_SENSOR tag the file does not have."""
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    crs, x0, y0 = site_utm_origin(SITE)
    rgb = write_tiff(tmp_path / "2024-10-17-00:00_2024-10-17-23:59_Sentinel-1_IW_VV+VH_False_color.tiff",
                     np.full((3, 60, 60), 0.2, np.float32), crs=crs, transform=Affine(10, 0, x0, 0, -10, y0))  # fmt: skip
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(rgb), "-w", str(ws.root)])
    assert r.exit_code == 1 and "sentinel-1" in r.output and "not optical" in r.output, r.output
    assert "SITEWATCH_SENSOR" not in r.output and "3 bands" in r.output and "--sensor" in r.output

_DRAWN = {
    ".geojson": '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "Pier"}, '
    '"geometry": {"type": "Polygon", "coordinates": [[[132.33, 42.87], [132.35, 42.87], [132.35, 42.89], [132.33, 42.87]]]}}]}',
    ".kml": '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>Pier</name><Polygon><outerBoundaryIs>'
    "<LinearRing><coordinates>132.33,42.87 132.35,42.87 132.35,42.89 132.33,42.87</coordinates></LinearRing>"
    "</outerBoundaryIs></Polygon></Placemark></Document></kml>",
}


@pytest.mark.parametrize("suffix", sorted(_DRAWN))
def test_a_site_imported_from_a_relative_path_records_the_files_whole_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:  # fmt: skip
    drawn = tmp_path / f"drawn{suffix}"
    drawn.write_text(_DRAWN[suffix], encoding="utf-8")  # drawn in QGIS or Google Earth: no coord_source of its own
    ws = workspace_with_sites(tmp_path / "ws")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    r = CliRunner().invoke(main, ["sites", "import", f"../drawn{suffix}", "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as st:
        site = st.get_site("pier")
    # "../drawn.geojson" in a report read from the workspace's folder names no file
    assert site.coord_source == str(drawn)


def test_a_copy_imported_again_with_another_time_replaces_its_observation(tmp_path: Path) -> None:
    # An OpenSARShip chip georeferenced by hand, first imported with the day alone, then under a
    # name that gives its time: one image, one observation (at the time given last), not two looks.
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(1).gamma(4.0, 0.01, (1, 60, 60)).astype(np.float32)
    chip = write_tiff(tmp_path / "Tanker_x15342_y11582.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0))
    named = tmp_path / "zhoushan_20161018T095407_Tanker_x15342_y11582.tif"
    named.write_bytes(chip.read_bytes())
    base = ["-q", "import", "--sensor", "sar", "-w", str(ws.root)]
    assert CliRunner().invoke(main, [*base, str(chip), "--acquired", "2016-10-18"]).exit_code == 0
    r = CliRunner().invoke(main, [*base, str(named)])
    assert r.exit_code == 0, r.output
    with ws.store() as st:
        (obs,) = st.observations(SITE.id)
    assert obs.scene.acquired.isoformat() == "2016-10-18T09:54:07+00:00"
    assert obs.provenance["source_path"] == str(named.resolve())


@pytest.mark.parametrize(("given", "said"), [
    ("2016-10-18", f"--acquired, date only ({DATE_ONLY_NOTE})"), ("2016-10-18T09:54:20Z", "--acquired"),
])  # fmt: skip
def test_an_acquired_date_alone_is_recorded_as_a_time_assumed(tmp_path: Path, given: str, said: str) -> None:
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(2).gamma(4.0, 0.01, (1, 60, 60)).astype(np.float32)
    chip = write_tiff(tmp_path / "chip.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0))
    # ingest runs its files in worker processes: the mark survives the trip
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(chip), "--sensor", "sar", "--acquired", given,
                                  "-w", str(ws.root)], env={"SITEWATCH_WORKERS": "2"})  # fmt: skip
    assert r.exit_code == 0, r.output
    with ws.store() as st:
        (obs,) = st.observations(SITE.id)
    assert obs.provenance["acquired_from"] == said
    assert acquired_label(obs) == ("2016-10-18, time unknown" if "T" not in given else "2016-10-18 09:54 UTC")


def test_the_reports_provenance_says_what_each_run_did(tmp_path: Path) -> None:
    ws = build(tmp_path / "ws", simulated=False)
    eo = _eo_browser_band(tmp_path, "B02")
    r = CliRunner().invoke(main, ["-q", "import", str(eo), "-w", str(ws.root)])
    assert r.exit_code == 1  # refused: one band of a Sentinel-2 scene
    html = write_report(ws, None, tmp_path / "report.html").read_text(encoding="utf-8")
    provenance = html[html.index('id="provenance"'):]
    row = next(tr for tr in provenance.split("<tr>") if tr.startswith("<td>import</td>"))
    assert eo.name in row  # the files it was given...
    assert "&#34;observations&#34;: 0" in row and "&#34;refused&#34;: 1" in row  # ...and that none went in
