"""Outline colours shared by the report's pictures and the dashboard's maps, so a crane or an
"appeared" region looks the same in both."""

from __future__ import annotations

__all__ = ["KIND_COLOURS", "CHANGE_COLOURS", "OTHER_COLOUR", "OUTLINE_CASING"]

KIND_COLOURS = {"vessel": "#ff3b30", "crane": "#ffcc00", "truck": "#34c759"}
"""A detection's outline by its kind."""
CHANGE_COLOURS = {"appeared": "#007aff", "disappeared": "#ff9500", "altered": "#8e8e93"}
"""A change region's outline by its direction (:data:`sitewatch.model.CHANGE_DIRECTIONS`)."""
OTHER_COLOUR = "#af52de"
"""Anything else."""
OUTLINE_CASING = "#000000"
"""A dark edge drawn under each coloured outline of the dashboard's maps and the report's pictures: a
yellow crane or an orange "disappeared" region keeps a 3:1 contrast against the light map and bright
ground (WCAG 1.4.11), which the colour alone does not (1.45:1 for the yellow against the map's #fafafa,
1.5:1 against the report map's white)."""
