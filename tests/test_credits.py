"""Imagery credits: each provider's line, and every picture, page and export that shows imagery carrying it."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timezone
from pathlib import Path

import pytest
from PIL import Image
from shapely.geometry import box

from _report_world import build
from sitewatch.model import SceneRef
from sitewatch.report.charts import (
    SCALE_BAR_GID,
    chip_figure,
    chip_png,
    scale_bar_m,
    site_map_figure,
    site_map_png,
)
from sitewatch.report.credits import (
    SIMULATED_CREDIT,
    UNKNOWN_CREDIT,
    Credit,
    credit_text,
    credits_text,
    scene_credit,
)
from sitewatch.report.detection_exports import detections_to_csv, write_detections_gpkg
from sitewatch.report.exports import detections_to_geojson
from sitewatch.report.html import write_report
from sitewatch.workspace import Workspace

SENTINEL_1 = "Contains modified Copernicus Sentinel data 2024"
PLANET = "© 2024 Planet Labs PBC"


def _scene(platform: str = "", collection: str = "c", year: int = 2024, *, simulated: bool = False) -> SceneRef:
    return SceneRef("p", collection, f"item-{platform}-{year}", "optical", datetime(year, 10, 17, 1, tzinfo=UTC), 3.0,
                    platform=platform, simulated=simulated)  # fmt: skip


@pytest.mark.parametrize(("platform", "collection", "expected"), [
    ("sentinel-2b", "sentinel-2-l2a", "Contains modified Copernicus Sentinel data 2024"),
    ("", "SENTINEL-1", "Contains modified Copernicus Sentinel data 2024"),  # CDSE names the collection alone
    ("Sentinel-1A", "sentinel-1-rtc", "Contains modified Copernicus Sentinel data 2024"),
    ("LANDSAT_9", "landsat-c2-l2", "Landsat image courtesy of the U.S. Geological Survey"),
    ("planetscope", "", "© 2024 Planet Labs PBC"),
    ("skysat", "", "© 2024 Planet Labs PBC"),
    ("worldview-3", "", "© 2024 Maxar Technologies"),
    ("geoeye-1", "", "© 2024 Maxar Technologies"),
    ("pleiades-1a", "", "© CNES 2024, Distribution Airbus DS"),
    ("pleiades-neo-3", "", "© Airbus DS 2024"),
    ("spot-7", "", "© Airbus DS 2024"),
    ("", "my-folder", UNKNOWN_CREDIT),
])  # fmt: skip
def test_each_provider_gets_the_credit_its_terms_ask_for(platform: str, collection: str, expected: str) -> None:
    assert credit_text(scene_credit(_scene(platform, collection))) == expected


@pytest.mark.parametrize(("platform", "holder"), [
    # As the providers' own metadata and STAC items spell their satellites (a SITEWATCH_PLATFORM tag copies them):
    # these were all "credit unknown".
    ("PS2.SD", "planet"), ("PSB.SD", "planet"), ("PS2", "planet"), ("SSC12", "planet"),
    ("WV03", "maxar"), ("WV-3", "maxar"), ("WV3", "maxar"), ("GE01", "maxar"), ("QB02", "maxar"),
    ("PHR1A", "cnes"), ("Pléiades 1B", "cnes"), ("PNEO3", "airbus-neo"), ("Pléiades Neo 4", "airbus-neo"),
    ("Sentinel-1C", "copernicus"), ("landsat-9", "usgs"),
    ("PS2X", "unknown"), ("WV05", "unknown"), ("NAIP", "unknown"), ("Dove-R", "planet"), ("SuperDove", "planet"),
])  # fmt: skip
def test_satellites_are_recognised_as_their_providers_spell_them(platform: str, holder: str) -> None:
    assert scene_credit(_scene(platform, "local-geotiff")).holder == holder


def test_esa_and_usgs_short_unit_ids_are_credited_to_their_missions() -> None:
    # As ESA's and the USGS's product names begin (S2A_MSIL2A_…, LC09_L2SP_…): these were "credit unknown".
    for short, holder in (("S2A", "copernicus"), ("S2B", "copernicus"), ("S2C", "copernicus"), ("S1A", "copernicus"),
                          ("S1B", "copernicus"), ("S1C", "copernicus"), ("LC08", "usgs"), ("LC09", "usgs"),
                          ("LE07", "usgs"), ("LT05", "usgs"), ("s2b_msil2a", "copernicus"), ("S2X", "unknown"),
                          ("LC07", "unknown"), ("BS2A", "unknown")):  # fmt: skip
        assert scene_credit(_scene(short, "local-geotiff")).holder == holder, short
    assert credit_text(scene_credit(_scene("S1C"))) == SENTINEL_1


def test_the_satellite_decides_before_the_collections_name() -> None:
    # A Landsat file the user filed in a collection named after Sentinel-2 was credited to Copernicus.
    assert scene_credit(_scene("landsat-9", "sentinel-2-archive")).holder == "usgs"
    assert scene_credit(_scene("", "sentinel-2-archive")).holder == "copernicus"
    # A local file filed under a place's name: Dover is no Planet Dove.
    assert scene_credit(_scene("", "dover-strait")).holder == "unknown"


def test_the_year_is_the_utc_year_whatever_the_time_zone_given() -> None:
    from datetime import timedelta

    # 00:30 on New Year's Day at UTC+1 is the old year in UTC: it was credited to the new one.
    local = datetime(2025, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    s = SceneRef("p", "c", "x", "optical", local, 3.0, platform="sentinel-2a")
    assert credit_text(scene_credit(s)) == "Contains modified Copernicus Sentinel data 2024"
    assert credits_text([s]) == "Contains modified Copernicus Sentinel data 2024"


def test_simulated_imagery_is_credited_as_simulated_whatever_it_imitates() -> None:
    # The demo's scenes imitate PlanetScope and Sentinel-2: no provider's credit on what no satellite took.
    assert credit_text(scene_credit(_scene("simulated-planetscope", "sim-sentinel-2-l2a", simulated=True))) == SIMULATED_CREDIT
    assert "SIMULATED" in SIMULATED_CREDIT
    # A simulated file copied without its SITEWATCH_SIMULATED tag keeps its scenario's names: it was "© Planet".
    assert scene_credit(_scene("simulated-planetscope", "sim-planetscope")).holder == "unknown"


def test_the_year_is_the_acquisition_year_and_several_providers_are_all_named() -> None:
    scenes = [_scene("sentinel-2a", year=2024), _scene("planetscope", year=2024), _scene("sentinel-2b", year=2023),
              _scene("sentinel-1a", year=2024)]  # fmt: skip
    assert credits_text(scenes) == "Contains modified Copernicus Sentinel data 2023, 2024; © 2024 Planet Labs PBC"
    assert credits_text([]) == ""
    assert credits_text([_scene("landsat-8", year=2023), _scene("landsat-9")]) == (
        "Landsat image courtesy of the U.S. Geological Survey")


def test_one_line_for_one_wording_whichever_satellite() -> None:
    # SPOT 7 and Pléiades Neo images are both "© Airbus DS": the line was printed twice, a year on each.
    scenes = [_scene("spot-7", year=2023), _scene("pleiades-neo-3", year=2024), _scene("spot-6", year=2024)]
    assert credits_text(scenes) == "© Airbus DS 2023, 2024"


def test_a_credit_checks_its_year_against_its_wording() -> None:
    with pytest.raises(ValueError, match="planet"):
        Credit("planet", "© {year} Planet Labs PBC", None)
    with pytest.raises(ValueError, match="usgs"):
        Credit("usgs", "Landsat image courtesy of the U.S. Geological Survey", 2024)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    # Real satellites' names on the tiny world's images: Sentinel-1 for the SAR, PlanetScope for the 3 m optical.
    return build(tmp_path_factory.mktemp("credits") / "ws", simulated=False,
                 platforms={"sar": "sentinel-1a", "optical": "planetscope"})  # fmt: skip


def _png_text(png: bytes) -> dict[str, str]:
    return dict(Image.open(io.BytesIO(png)).text)


def test_a_chip_saved_on_its_own_carries_site_date_and_credit(ws: Workspace) -> None:
    with ws.store() as st:
        o = next(o for o in st.observations("dunai") if o.scene.sensor == "sar")
        dets = st.detections(observation_id=o.id)
    focus = dets[0].footprint
    png = chip_png(ws.root / o.path, o, dets, focus, site="Dunai naval port")
    assert png is not None
    text = _png_text(png)
    assert text["Copyright"] == SENTINEL_1
    assert "Dunai naval port" in text["Description"] and "2024-10-17 21:00 UTC" in text["Description"]
    # Drawn into the picture too (a crop or a screenshot keeps no PNG text): under the image, the site and credit;
    # the date stays in the title above it.
    fig = chip_figure(ws.root / o.path, o, dets, focus, site="Dunai naval port")
    assert fig is not None
    drawn = [t.get_text() for t in fig.texts]
    assert drawn == [f"Dunai naval port\n{SENTINEL_1}"]
    assert "2024-10-17 21:00 UTC" in fig.axes[0].get_title()
    # Without a title (the dashboard's close-ups), the date and time go under it with the credit.
    fig = chip_figure(ws.root / o.path, o, dets, focus, title=None)
    assert fig is not None
    assert [t.get_text() for t in fig.texts] == [f"dunai · 2024-10-17 21:00 UTC, sar 10 m\n{SENTINEL_1}"]


def test_the_site_map_carries_the_credits_of_the_images_its_detections_came_from(ws: Workspace) -> None:
    with ws.store() as st:
        site = st.get_site("dunai")
        dets = st.detections(site_id="dunai")
    png = site_map_png(site, dets, caption="Dunai · images of 2024-10-17 (UTC)", credit=f"{SENTINEL_1}; {PLANET}")
    assert _png_text(png)["Copyright"] == f"{SENTINEL_1}; {PLANET}"
    assert _png_text(png)["Description"] == "Dunai · images of 2024-10-17 (UTC)"
    fig = site_map_figure(site, dets, credit=f"Dunai · images of 2024-10-17 (UTC)\n{SENTINEL_1}")
    assert [t.get_text() for t in fig.texts] == [f"Dunai · images of 2024-10-17 (UTC)\n{SENTINEL_1}"]


def test_the_timeline_chart_carries_the_credits_of_the_images_its_dates_stand_on(ws: Workspace,
                                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from sitewatch.analysis.occupancy import load_timeline, timeline_to_dict
    from sitewatch.report import charts

    # A chart of counts copied out of the report named no provider, though every bar stands on their images.
    with ws.store() as st:
        tl = load_timeline(st, "dunai")
    assert tl.credit == f"{PLANET}; {SENTINEL_1}"  # the 17th's optical (01:00) before its SAR (21:00)
    assert timeline_to_dict(tl)["credit"] == tl.credit  # `timeline --json` and the API's: the same counts, handed on
    drawn: list[str] = []
    real_png = charts._png
    monkeypatch.setattr(charts, "_png", lambda fig, *a, **k: drawn.extend(t.get_text() for t in fig.texts) or real_png(fig, *a, **k))
    text = _png_text(charts.timeline_chart_png(tl))
    assert tl.credit in drawn  # drawn under it: a crop or a screenshot keeps it
    assert text["Copyright"] == tl.credit and "Dunai naval port: vessels per usable" in text["Description"]


def test_the_report_credits_every_picture_and_lists_all_credits(ws: Workspace) -> None:
    html = write_report(ws, None, ws.root / "out" / "report.html").read_text(encoding="utf-8")
    # Each chip's caption credits its own image; the map's, the images its detections were found in (both
    # series on the 17th: the optical at 01:00 first); the page's credits, every image's.
    assert html.count(f'<span class="credit">{SENTINEL_1}</span>') >= 1
    assert html.count(f'<span class="credit">{PLANET}</span>') >= 1
    assert (f'<span class="credit">Dunai naval port · outlines from images of 2024-10-17 (UTC) · '
            f"{PLANET}; {SENTINEL_1}</span>") in html  # fmt: skip
    assert '<h2 id="credits">Imagery credits</h2>' in html
    assert f'<p class="credit">{PLANET}; {SENTINEL_1}</p>' in html
    assert SIMULATED_CREDIT not in html and UNKNOWN_CREDIT not in html


def test_detection_exports_carry_each_images_credit(ws: Workspace, tmp_path: Path) -> None:
    with ws.store() as st:
        fc = detections_to_geojson(st, ["dunai"])
        credits = {f["properties"]["sensor"]: f["properties"]["credit"] for f in fc["features"]}
        assert credits == {"sar": SENTINEL_1, "optical": PLANET}
        rows = list(csv.DictReader(io.StringIO(detections_to_csv(fc))))
        assert {r["sensor"]: r["credit"] for r in rows} == credits
        assert next(iter(csv.reader(io.StringIO(detections_to_csv(fc)))))[-2:] == ["credit", "wkt"]
        n = write_detections_gpkg(st, tmp_path / "d.gpkg", ["dunai"])
    assert n == len(fc["features"])
    with sqlite3.connect(tmp_path / "d.gpkg") as db:
        meta = dict(db.execute("SELECT key, value FROM sitewatch_meta").fetchall())
    assert meta["imagery_credits"] in (f"{SENTINEL_1}; {PLANET}", f"{PLANET}; {SENTINEL_1}")


def test_change_exports_credit_both_images() -> None:
    from sitewatch.model import Change, Grid, Observation
    from sitewatch.report.change_exports import CHANGE_CSV_COLUMNS, change_feature
    from sitewatch.store.changes import ChangePair

    grid = Grid("EPSG:32652", (3.0, 0.0, 0.0, 0.0, -3.0, 0.0), 10, 10)
    before = Observation("s/a", "s", _scene("sentinel-2a", year=2023), grid, "a.tif", "0" * 64, 1.0)
    after = Observation("s/b", "s", _scene("planetscope", year=2024), grid, "b.tif", "1" * 64, 1.0)
    pair = ChangePair("s", before.id, after.id, before.scene.acquired, after.scene.acquired, "optical", 1.0, "m", "1",
                      before_sha256=before.sha256, after_sha256=after.sha256)  # fmt: skip
    region = Change("c1", "s", before.id, after.id, box(132.0, 42.0, 132.001, 42.001), 100.0, 0.5, "appeared", "m", "1")
    props = change_feature(pair, before, after, region)["properties"]
    assert props["credit"] == "Contains modified Copernicus Sentinel data 2023; © 2024 Planet Labs PBC"
    assert CHANGE_CSV_COLUMNS[-2:] == ("credit", "wkt")


def test_the_dashboard_credits_each_image(ws: Workspace) -> None:
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the dev extra)")
    from fastapi.testclient import TestClient

    from sitewatch.web import create_app
    from sitewatch.web.quicklook import QuicklookCache

    client = TestClient(create_app(ws.root, cache=QuicklookCache()))
    with ws.store() as st:
        o = next(o for o in st.observations("dunai") if o.scene.sensor == "optical" and st.detections(observation_id=o.id))
    assert client.get(f"/api/observations/{o.id}").json()["credit"] == PLANET
    assert json.dumps(client.get("/api/sites/dunai").json()["observations"]).count(SENTINEL_1) == 2
    assert f"<td>{PLANET}</td>" in client.get(f"/observations/{o.id}").text
    quicklook = client.get(f"/observations/{o.id}/quicklook.png").content
    assert _png_text(quicklook)["Copyright"] == PLANET
    assert "dunai · 2024-10-17 01:00 UTC" in _png_text(quicklook)["Description"]
    close_up = client.get(f"/observations/{o.id}/detections/1.png").content
    assert _png_text(close_up)["Copyright"] == PLANET


@pytest.mark.parametrize(("width_m", "bar"), [(10.0, None), (16.0, 5), (330.0, 100), (299.0, 50), (1_000.0, 200),
                                              (40_000.0, 10_000)])  # fmt: skip
def test_a_scale_bar_is_a_round_length_within_a_third_of_the_picture(width_m: float, bar: int | None) -> None:
    assert scale_bar_m(width_m) == bar


def test_a_chip_shows_its_scale_and_north(ws: Workspace) -> None:
    with ws.store() as st:
        o = next(o for o in st.observations("dunai") if o.scene.sensor == "optical" and st.detections(observation_id=o.id))
        dets = st.detections(observation_id=o.id)
    fig = chip_figure(ws.root / o.path, o, dets, dets[0].footprint, site="Dunai naval port")
    assert fig is not None
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    # The chip is the focus grown by 150 m each side: over 300 m of 3 m pixels, a bar of 100 m (33 pixels).
    assert "100 m" in labels and "N" in labels
    (bar,) = [line for line in ax.lines if line.get_gid() == SCALE_BAR_GID]
    # Measured on the ground: a UTM pixel is its nominal 3 m within the zone's scale factor (under 0.1 %).
    assert abs(float(bar.get_xdata()[1] - bar.get_xdata()[0]) - 100 / 3.0) < 0.04


def test_a_long_caption_is_wrapped_to_the_chip_and_loses_no_word(ws: Workspace) -> None:
    with ws.store() as st:
        o = next(o for o in st.observations("dunai") if o.scene.sensor == "sar")
        dets = st.detections(observation_id=o.id)
    name = "Vladivostok naval base at Ulysses Bay, the northern piers and the floating dock beside them"
    fig = chip_figure(ws.root / o.path, o, dets, dets[0].footprint, site=name)
    assert fig is not None
    (text,) = [t.get_text() for t in fig.texts]
    lines = text.split("\n")
    assert len(lines) >= 3 and max(len(line) for line in lines) < len(name)
    assert " ".join(lines) == f"{name} {SENTINEL_1}"


def test_the_site_map_outlines_its_change_regions(ws: Workspace) -> None:
    # A training ground's map showed its outline alone: its trenches were in the change chips only.
    from sitewatch.model import Change
    from sitewatch.report.colours import CHANGE_COLOURS
    from sitewatch.report.html import _map_alt

    with ws.store() as st:
        site = st.get_site("dunai")
    x, y = site.geometry.centroid.coords[0]
    regions = [Change("c1", "dunai", "a", "b", box(x, y, x + 0.001, y + 0.0005), 900.0, 0.4, "appeared", "m", "1"),
               Change("c2", "dunai", "a", "b", box(x - 0.002, y, x - 0.001, y + 0.0005), 900.0, 0.4, "disappeared", "m", "1")]  # fmt: skip
    fig = site_map_figure(site, (), changes=regions)
    ax = fig.axes[0]
    dashed = {line.get_color() for line in ax.get_lines() if line.get_linestyle() == "--"}
    assert dashed == {CHANGE_COLOURS["appeared"], CHANGE_COLOURS["disappeared"]}
    legend = ax.get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["appeared (dashed)", "disappeared (dashed)"]
    assert ax.get_title() == "Dunai naval port: berths, all detections and changed regions"
    assert _map_alt(site, [], False, regions).endswith("; 0 vessels outlined by kind; 2 changed regions outlined dashed (1 appeared, blue; 1 disappeared, orange)")


def _chip_on(tmp_path: Path, crs: str, lon: float, lat: float, px: float) -> tuple[list[str], float | None, bool]:
    """A chip of a 200-pixel SAR image on ``crs`` centred at (``lon``, ``lat``): its labels, its scale bar's
    length in pixels and whether it has a north arrow."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from shapely.geometry import Point

    from sitewatch.geo import reproject_geometry
    from sitewatch.model import Grid, Observation
    from sitewatch.report.charts import NORTH_ARROW_GID

    x, y = reproject_geometry(Point(lon, lat), "EPSG:4326", crs).coords[0]
    n = 200
    t = from_origin(x - n / 2 * px, y + n / 2 * px, px, px)
    path = tmp_path / f"{crs.replace(':', '_')}_{lon}.tif"
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32", crs=crs, transform=t) as d:
        d.write(np.random.default_rng(0).random((1, n, n)).astype("float32") + 0.1)
    s = SceneRef("p", "c", "x", "sar", datetime(2024, 10, 17, tzinfo=UTC), 5.0, platform="sentinel-1a")
    o = Observation("s/a", "s", s, Grid(crs, tuple(t)[:6], n, n), str(path), "0" * 64, 1.0)
    fig = chip_figure(path, o, [], Point(lon, lat).buffer(1e-4), margin_m=300)
    assert fig is not None
    ax = fig.axes[0]
    bars = [line for line in ax.lines if line.get_gid() == SCALE_BAR_GID]
    length = float(abs(bars[0].get_xdata()[1] - bars[0].get_xdata()[0])) if bars else None
    return [t.get_text() for t in ax.texts], length, any(line.get_gid() == NORTH_ARROW_GID for line in ax.lines)


def test_a_web_mercator_chip_measures_its_bar_on_the_ground(tmp_path: Path) -> None:
    import math

    # At 60° N a Web Mercator "5 m" pixel is 2.5 m on the ground: the bar said 200 m over 100 m of ground.
    labels, length, north = _chip_on(tmp_path, "EPSG:3857", 10.0, 60.0, 5.0)
    assert "100 m" in labels and north
    assert length is not None and abs(length - 100 / (5.0 * math.cos(math.radians(60)))) < 0.01 * length


def test_a_lonlat_chip_gets_a_scale_bar(tmp_path: Path) -> None:
    import math

    # A degree of longitude at 60° N is about 55.7 km: 0.00005° pixels are 2.78 m, 100 m is 36 of them (no bar was drawn).
    labels, length, north = _chip_on(tmp_path, "EPSG:4326", 10.0, 60.0, 5e-5)
    assert "100 m" in labels and north
    assert length is not None and abs(length - 100 / (5e-5 * 111_320 * math.cos(math.radians(60)))) < 0.01 * length


def test_no_north_arrow_where_the_chips_up_is_not_north(tmp_path: Path) -> None:
    # NSIDC's polar stereographic grid (EPSG:3413) is north-up along 45° W only: at 0° E its up is 45° off north.
    labels, length, north = _chip_on(tmp_path, "EPSG:3413", 0.0, 80.0, 5.0)
    assert not north and "N" not in labels and length is not None
    labels, _, north = _chip_on(tmp_path, "EPSG:3413", -45.0, 80.0, 5.0)
    assert north and "N" in labels
