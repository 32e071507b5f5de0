"""Outline colours shared by the report's pictures and the dashboard's maps, so a crane or an
"appeared" region looks the same in both."""

from __future__ import annotations

__all__ = ["KIND_COLOURS", "CHANGE_COLOURS", "OTHER_COLOUR"]

KIND_COLOURS = {"vessel": "#ff3b30", "crane": "#ffcc00", "truck": "#34c759"}
"""A detection's outline by its kind."""
CHANGE_COLOURS = {"appeared": "#007aff", "disappeared": "#ff9500", "altered": "#8e8e93"}
"""A change region's outline by its direction (:data:`sitewatch.model.CHANGE_DIRECTIONS`)."""
OTHER_COLOUR = "#af52de"
"""Anything else."""
