"""Outline colours and line patterns shared by the report's pictures, the dashboard's maps and the KML
exports, so a crane or an "appeared" region looks the same in each.

The colours are Okabe & Ito's set for colour-blind readers ("Color Universal Design", 2008; Wong, "Points of
view: Color blindness", Nature Methods 8, 441, 2011): the three kinds are its vermilion, yellow and sky blue,
which stay at least 23.8 CIEDE2000 apart under simulated protanopia, deuteranopia and tritanopia; the old
red/yellow/green was 8.2 between vessel and truck under deuteranopia (:mod:`.colour_vision`,
``benchmarks/colour_vision.py``). Lightness alone (a page printed in grey) cannot hold three clearly different
outlines at once, so each kind has a line pattern too, in every picture: vessel solid, crane dotted, truck
dash-dot; a change region is dashed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "Cue",
    "KIND_CUES",
    "OTHER_CUE",
    "KIND_COLOURS",
    "CHANGE_COLOURS",
    "CHANGE_COLOUR_NAMES",
    "CHANGE_DASH",
    "AIS_STATUS_COLOURS",
    "AIS_STATUS_COLOUR_NAMES",
    "OTHER_COLOUR",
    "OUTLINE_CASING",
    "MIN_DELTA_E",
    "MIN_GREY_DELTA_E",
    "kind_cue",
    "kinds_legend",
    "changes_legend",
    "directions_in_words",
]


@dataclass(frozen=True)
class Cue:
    """How an outline of one kind is drawn: its colour, and a pattern that says the kind without it."""

    colour: str
    """``#rrggbb``."""
    colour_name: str
    """The colour in words, for captions and legends."""
    pattern: str
    """The line pattern in words: ``solid``, ``dotted``, ``dash-dot``."""
    svg_dasharray: str
    """The SVG ``stroke-dasharray`` in screen pixels (the outlines do not scale), empty for a solid line."""
    mpl_dashes: tuple[float, ...] | None
    """matplotlib's on-off sequence in multiples of the line width (its dashes scale with it), None for solid."""
    kml_width: float
    """The KML ``LineStyle`` width in pixels: KML has no dashes; Google Earth draws the width, and GDAL's LIBKML
    driver (QGIS's KML reader) carries it as the placemark's style."""

    def words(self) -> str:
        """``vermilion, solid``."""
        return f"{self.colour_name}, {self.pattern}"


KIND_CUES: dict[str, Cue] = {
    "vessel": Cue("#d55e00", "vermilion", "solid", "", None, 4.0),
    # Dots as long as the line is wide: a crane's thin boom still shows several of them.
    "crane": Cue("#f0e442", "yellow", "dotted", "1.5 2", (1.0, 1.5), 2.5),
    "truck": Cue("#56b4e9", "sky blue", "dash-dot", "6 2 1.5 2", (4.0, 1.5, 1.0, 1.5), 1.5),
}
"""A detection's outline by its kind."""
OTHER_CUE = Cue("#cc79a7", "reddish purple", "solid", "", None, 2.0)
"""A detection of a kind not in :data:`KIND_CUES` (a store written by another version): its tooltip or name says which."""
KIND_COLOURS = {kind: cue.colour for kind, cue in KIND_CUES.items()}
"""A detection's outline colour by its kind."""
CHANGE_COLOURS = {"appeared": "#0072b2", "disappeared": "#e69f00", "altered": "#ffffff"}
"""A change region's outline by its direction (:data:`sitewatch.model.CHANGE_DIRECTIONS`): Okabe & Ito's blue and
orange, and white, which stand apart in lightness too (19 CIEDE2000 in grey, the old blue and grey 5.6)."""
CHANGE_COLOUR_NAMES = {"appeared": "blue", "disappeared": "orange", "altered": "white"}
""":data:`CHANGE_COLOURS` in words."""
CHANGE_DASH = ("4 3", (3.0, 2.0))
"""Every change region's dashes: SVG ``stroke-dasharray`` (screen pixels), matplotlib's (in line widths)."""
AIS_STATUS_COLOURS = {"matched": "#56b4e9", "dark": "#d55e00", "unseen": "#f0e442"}
"""An AIS point's colour by its status (``sitewatch ais --out FILE.kml``): Okabe & Ito's sky blue, vermilion and
yellow, at least 23.8 CIEDE2000 apart under each dichromacy and 13.4 in grey (:mod:`.colour_vision`); a dark
detection has the colour of a vessel's outline."""
AIS_STATUS_COLOUR_NAMES = {"matched": "sky blue", "dark": "vermilion", "unseen": "yellow"}
""":data:`AIS_STATUS_COLOURS` in words."""
OTHER_COLOUR = OTHER_CUE.colour
"""Anything else."""
OUTLINE_CASING = "#000000"
"""A dark edge drawn under each coloured outline of the dashboard's maps and the report's pictures: a
yellow crane or an orange "disappeared" region keeps a 3:1 contrast against the light map and bright
ground (WCAG 1.4.11), which the colour alone does not (1.45:1 for the yellow against the map's #fafafa,
1.5:1 against the report map's white). It is solid under a patterned line: the gaps show it."""

MIN_DELTA_E = 20.0
"""The least CIEDE2000 between two kinds' colours, or two directions', with normal vision and with each
dichromacy (:mod:`.colour_vision`): ten times a just-noticeable difference, which Okabe & Ito's three for
the kinds clear (23.8 at worst, vermilion and yellow under deuteranopia) and the old red and green did not
(8.2)."""
MIN_GREY_DELTA_E = 12.0
"""The least CIEDE2000 in grey (lightness alone). No three colours of Okabe & Ito's set or Paul Tol's bright
or vibrant ones are more than 13.4 apart in lightness that way, so in print the kinds' patterns carry the
difference; the old palette was 9.3 (kinds) and 5.6 (changes: blue and grey)."""


def kind_cue(kind: str) -> Cue:
    """The cue of a detection's ``kind``: :data:`OTHER_CUE` for a kind not in :data:`KIND_CUES`."""
    return KIND_CUES.get(kind, OTHER_CUE)


def kinds_legend() -> str:
    """The kinds' cues in words for a caption: ``vessel vermilion, solid; crane yellow, dotted; ...``."""
    return "; ".join(f"{kind} {cue.words()}" for kind, cue in KIND_CUES.items())


def directions_in_words(counts: Mapping[str, int]) -> str:
    """Change regions counted by direction, each with the colour that draws it, for an ``alt``: ``"2 appeared,
    blue; 1 altered, white"`` (directions without a region left out). The pictures tell the directions apart
    by colour alone (every region is dashed), which a screen reader, and a reader who cannot tell blue from
    orange, need in words."""
    return "; ".join(f"{n} {d}, {CHANGE_COLOUR_NAMES.get(d, OTHER_CUE.colour_name)}" for d, n in counts.items() if n)


def changes_legend() -> str:
    """The directions' colours in words for a caption: ``blue appeared, orange disappeared, white altered``."""
    return ", ".join(f"{CHANGE_COLOUR_NAMES[d]} {d}" for d in CHANGE_COLOURS)
