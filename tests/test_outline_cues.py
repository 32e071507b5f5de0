"""Outlines colour-blind readers can tell apart: colours that stay apart under each dichromacy and in
grey, and a line pattern per kind in the report's pictures, the dashboard's SVG and the KML export."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from PIL import Image
from shapely.geometry import box

from _report_world import build
from sitewatch.model import Detection, Grid, Observation
from sitewatch.report import charts
from sitewatch.report.change_exports import changes_to_kml
from sitewatch.report.colour_vision import MACHADO_2009, closest_pair
from sitewatch.report.colours import (
    AIS_STATUS_COLOURS,
    CHANGE_COLOURS,
    CHANGE_DASH,
    KIND_COLOURS,
    KIND_CUES,
    MIN_DELTA_E,
    MIN_GREY_DELTA_E,
    OTHER_CUE,
    OUTLINE_CASING,
    kinds_legend,
)
from sitewatch.report.detection_exports import detections_to_kml
from sitewatch.report.exports import detections_to_geojson
from sitewatch.web.svg import overlay_svg

KML = "{http://www.opengis.net/kml/2.2}"
SVG = "{http://www.w3.org/2000/svg}"
OLD_KINDS = {"vessel": "#ff3b30", "crane": "#ffcc00", "truck": "#34c759"}
OLD_CHANGES = {"appeared": "#007aff", "disappeared": "#ff9500", "altered": "#8e8e93"}


@pytest.mark.parametrize("vision", ["normal", *MACHADO_2009])
def test_every_two_kinds_and_every_two_directions_differ_clearly_for_each_dichromat(vision: str) -> None:
    for colours in (KIND_COLOURS, CHANGE_COLOURS, AIS_STATUS_COLOURS):
        distance, a, b = closest_pair(colours, vision)
        assert distance >= MIN_DELTA_E, (vision, a, b, distance)


def test_the_old_red_and_green_failed_what_the_palette_now_meets() -> None:
    # Under deuteranopia the old vessel and truck were 8.2 apart, under protanopia crane and truck 8.9.
    assert closest_pair(OLD_KINDS, "deuteranopia")[0] < MIN_DELTA_E
    assert closest_pair(OLD_KINDS, "protanopia")[0] < MIN_DELTA_E
    assert closest_pair(OLD_KINDS, "greyscale")[0] < MIN_GREY_DELTA_E
    assert closest_pair(OLD_CHANGES, "greyscale")[0] < MIN_GREY_DELTA_E


def test_in_grey_the_colours_stay_apart_and_the_kinds_differ_by_pattern_too() -> None:
    for colours in (KIND_COLOURS, CHANGE_COLOURS, AIS_STATUS_COLOURS):
        assert closest_pair(colours, "greyscale")[0] >= MIN_GREY_DELTA_E
    cues = [*KIND_CUES.values()]
    for field in ("pattern", "svg_dasharray", "mpl_dashes", "kml_width"):
        assert len({getattr(c, field) for c in cues}) == len(cues), field
    # A kind's pattern is not a change region's dashes: a dotted crane is not read as a region.
    assert CHANGE_DASH[0] not in {c.svg_dasharray for c in cues} and CHANGE_DASH[1] not in {c.mpl_dashes for c in cues}


def test_captions_name_each_kind_s_colour_and_pattern() -> None:
    assert kinds_legend() == "vessel vermilion, solid; crane yellow, dotted; truck sky blue, dash-dot"


def _detections() -> list[Detection]:
    # Three boxes side by side on the Dunai harbour, one per kind, and one of a kind this version does not know.
    return [
        Detection(f"o#{i}", "o", kind, box(132.33 + 0.002 * i, 42.877, 132.3315 + 0.002 * i, 42.8775), 120.0, 40.0, 0.0,
                  0.9, "t", "1")  # fmt: skip
        for i, kind in enumerate(("vessel", "crane", "truck", "barge"))
    ]


def test_dashboard_svg_draws_each_kind_in_its_pattern_on_a_solid_casing() -> None:
    grid = Grid("EPSG:32652", (1.0, 0.0, 600_000.0, 0.0, -1.0, 4_750_000.0), 30_000, 30_000)
    root = ET.fromstring(overlay_svg(grid, _detections()))
    paths = list(root.iter(f"{SVG}path")) or list(root.iter("path"))
    coloured = [p for p in paths if p.get("stroke") != OUTLINE_CASING]
    casings = [p for p in paths if p.get("stroke") == OUTLINE_CASING]
    assert len(coloured) == len(casings) == 4
    assert all(p.get("stroke-dasharray") is None for p in casings)  # the casing shows in the gaps
    dashes = {p.get("stroke"): p.get("stroke-dasharray") for p in coloured}
    assert dashes == {"#d55e00": None, "#f0e442": "1.5 2", "#56b4e9": "6 2 1.5 2", OTHER_CUE.colour: None}


def test_report_map_draws_each_kind_in_its_pattern_and_its_legend_names_them() -> None:
    from sitewatch.model import Site

    site = Site("dunai", "Dunai", "naval_base", box(132.32, 42.865, 132.36, 42.895))
    fig = charts.site_map_figure(site, _detections())
    (ax,) = fig.axes
    casing, lines = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert {tuple(c) for c in casing.get_edgecolor()} == {(0.0, 0.0, 0.0, 0.8)} and len(set(map(str, casing.get_linestyle()))) == 1
    styles = [(offset, None if seq is None else tuple(seq)) for offset, seq in lines.get_linestyle()]
    # matplotlib keeps dashes scaled by the line width (0.8 pt).
    expected = [(0, None if c.mpl_dashes is None else tuple(0.8 * d for d in c.mpl_dashes))
                for c in (*KIND_CUES.values(), OTHER_CUE)]  # fmt: skip
    assert [(o, s and tuple(round(x, 6) for x in s)) for o, s in styles] == [(o, s and tuple(round(x, 6) for x in s)) for o, s in expected]
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["vessel (solid)", "crane (dotted)", "truck (dash-dot)", "barge (solid)"]
    keys = legend.legend_handles
    assert [k.get_color() for k in keys] == [*KIND_COLOURS.values(), OTHER_CUE.colour]
    assert [k.get_linestyle() for k in keys] == ["-", "--", "--", "-"]  # matplotlib calls any dash sequence "--"
    assert len({k._unscaled_dash_pattern[1] and tuple(k._unscaled_dash_pattern[1]) for k in keys[:3]}) == 3


def test_report_chip_draws_each_kind_in_its_pattern_over_a_solid_casing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = build(tmp_path / "ws")
    with w.store() as st:
        obs = next(o for o in st.observations() if st.detections(observation_id=o.id))
    figures: list[Figure] = []

    def keep(fig: Figure, dpi: int = 90, **metadata: str) -> bytes:
        figures.append(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()

    monkeypatch.setattr(charts, "_png", keep)
    path = w.root / obs.path
    focus = box(132.33, 42.877, 132.3395, 42.8775)
    png = charts.chip_png(path, obs, _detections(), focus, margin_m=100)
    assert png is not None and Image.open(io.BytesIO(png)).size[0] > 100
    (ax,) = figures[0].axes
    drawn = [line for line in ax.get_lines() if line.get_gid() not in (charts.SCALE_BAR_GID, charts.NORTH_ARROW_GID)]
    assert len(drawn) == 8
    for casing in drawn[::2]:
        assert casing.get_color() == OUTLINE_CASING and casing.get_linestyle() == "-"
    patterns = [line._unscaled_dash_pattern[1] for line in drawn[1::2]]
    assert [None if p is None else tuple(p) for p in patterns] == [c.mpl_dashes for c in (*KIND_CUES.values(), OTHER_CUE)]
    assert [line.get_color() for line in drawn[1::2]] == [*KIND_COLOURS.values(), OTHER_CUE.colour]


def _kml_styles(text: str) -> tuple[ET.Element, dict[str | None, dict[str, Any]]]:
    doc = ET.fromstring(text).find(f"{KML}Document")
    assert doc is not None
    styles = {s.get("id"): {"colour": s.findtext(f"{KML}LineStyle/{KML}color"), "width": s.findtext(f"{KML}LineStyle/{KML}width")}
              for s in doc.findall(f"{KML}Style")}  # fmt: skip
    return doc, styles


def test_detections_kml_styles_each_kind_by_colour_and_width_and_says_so(tmp_path: Path) -> None:
    w = build(tmp_path / "ws")
    with w.store() as st:
        fc = detections_to_geojson(st)
    kinds = ["vessel", "crane", "truck", "barge"]
    fc["features"] = [{**f, "properties": {**f["properties"], "kind": k}}
                      for f, k in zip(fc["features"] * 2, kinds, strict=False)]  # fmt: skip
    doc, styles = _kml_styles(detections_to_kml(fc))
    # KML colours are aabbggrr; widths differ since KML cannot dash.
    assert styles["vessel"] == {"colour": "ff005ed5", "width": "4"}
    assert styles["crane"] == {"colour": "ff42e4f0", "width": "2.5"}
    assert styles["truck"] == {"colour": "ffe9b456", "width": "1.5"}
    assert len({s["width"] for k, s in styles.items() if k in KIND_CUES}) == 3
    placemarks = list(doc.iter(f"{KML}Placemark"))
    by_kind = {pm.findtext(f"{KML}ExtendedData/{KML}SchemaData/{KML}SimpleData[@name='kind']"): pm.findtext(f"{KML}styleUrl")
               for pm in placemarks}  # fmt: skip
    assert by_kind == {"vessel": "#vessel", "crane": "#crane", "truck": "#truck", "barge": "#other-kind"}
    for pm in placemarks:  # KML 2.2's order, which a strict reader holds to
        tags = [child.tag.removeprefix(KML) for child in pm]
        assert tags[:4] == ["name", "TimeStamp", "styleUrl", "ExtendedData"]
    snippet = doc.findtext(f"{KML}Snippet") or ""
    assert "vessel vermilion, 4 px" in snippet and "crane yellow, 2.5 px" in snippet and "truck sky blue, 1.5 px" in snippet
    assert [c.tag.removeprefix(KML) for c in doc][:3] == ["name", "Snippet", "Style"]


def test_changes_kml_styles_name_their_colours() -> None:
    doc, styles = _kml_styles(changes_to_kml({"type": "FeatureCollection", "features": []}))
    assert {k: s["colour"] for k, s in styles.items()} == {
        "appeared": "ffb27200", "disappeared": "ff009fe6", "altered": "ffffffff", "other": "ffa779cc"}
    assert doc.findtext(f"{KML}Snippet") == "Outlines by direction: blue appeared, orange disappeared, white altered."


def test_a_crane_image_chip_still_shows_yellow_over_its_black_casing(tmp_path: Path) -> None:
    # The palette's yellow on the chip's pixels, and black beside it: the casing is kept.
    w = build(tmp_path / "ws")
    with w.store() as st:
        obs: Observation = next(o for o in st.observations() if st.detections(observation_id=o.id))
        dets = list(st.detections(observation_id=obs.id))
    crane = [Detection(d.id, d.observation_id, "crane", d.footprint, d.length_m, d.width_m, d.heading_deg, d.score,
                       d.detector, d.detector_version) for d in dets]  # fmt: skip
    png = charts.chip_png(w.root / obs.path, obs, crane, dets[0].footprint)
    assert png is not None
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    yellow = np.abs(rgb - np.array([0xF0, 0xE4, 0x42])).sum(axis=-1) < 40
    assert yellow.sum() > 10
