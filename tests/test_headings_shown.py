"""A heading reads as the convention stored: the long axis's bearing, 0 to 179 degrees wherever a page shows it
(README, "Definitions and units"). Stored headings lie in [0, 180), but the report's and the dashboard's tables and the
outlines' tooltips printed them with ``num(0)`` / ``:.0f``, so a hull lying 179.6° from north read ``180°``, a value
outside the convention for the same axis as ``0°``."""

from __future__ import annotations

import re
from pathlib import Path

from shapely.geometry import box

from sitewatch.model import Detection
from sitewatch.report.html import template_environment
from sitewatch.units import heading_text
from sitewatch.web.svg import _detection_title

PACKAGE = Path(__file__).parents[1] / "src" / "sitewatch"


def test_a_heading_is_said_in_whole_degrees_from_0_to_179() -> None:
    shown = template_environment().filters["heading"]
    for degrees, said in [(0.0, "0°"), (0.4, "0°"), (89.6, "90°"), (179.4, "179°"), (179.6, "0°"), (179.96, "0°")]:
        assert heading_text(degrees) == said and shown(degrees) == said
        d = Detection("o#000", "o", "vessel", box(0, 0, 0.001, 0.0002), 110.0, 16.0, degrees, 0.9, "sar-cfar", "1.14.0")
        assert f"heading {said}," in _detection_title(d)
    assert shown(None) == "–"
    # Outside [0, 180) (a row written by another tool, an older sitewatch): the same axis; no number: a dash.
    assert [heading_text(v) for v in (-0.2, -0.6, 359.9, 270.4, 180.0)] == ["0°", "179°", "0°", "90°", "0°"]
    assert [shown(v) for v in (float("nan"), float("inf"), float("-inf"))] == ["–"] * 3


def test_every_page_shows_a_heading_through_the_filter() -> None:
    templates = [*PACKAGE.glob("report/templates/*.j2"), *PACKAGE.glob("web/templates/*.j2")]
    shown = [(t.name, m) for t in templates for m in re.findall(r"\{\{[^}]*heading_deg[^}]*\}\}", t.read_text(encoding="utf-8"))]
    assert shown and all(m.endswith("|heading }}") for _, m in shown), shown
