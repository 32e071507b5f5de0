"""The credit line each image's licence asks for, for every picture and export that shows or derives from it.

A picture desk prints a satellite figure only with its provider's credit beside it, and it crops and reuses
figures: so each figure carries the credit of the images it shows, drawn into the picture itself, and each
export row the credit of its image. The year is the image's acquisition year (UTC); a figure made from
several providers' images names all of them, each with its years.

The wording follows each provider's public terms (the facts; the code is ours):

- Copernicus Sentinel: the EU's "Legal notice on the use of Copernicus Sentinel Data and Service
  Information" asks, for data that has been modified (sitewatch cuts, reprojects and stretches every
  image), for "Contains modified Copernicus Sentinel data [year]".
- Landsat: the USGS's guidance on crediting its imagery ("Landsat image courtesy of the U.S. Geological
  Survey"); it names no year.
- Planet (PlanetScope, SkySat): Planet's licence terms, "© [year] Planet Labs PBC".
- Maxar (WorldView, GeoEye, QuickBird, IKONOS): Maxar's attribution guidance, "© [year] Maxar Technologies".
- Airbus: Pléiades imagery "© CNES [year], Distribution Airbus DS"; SPOT 6/7 and Pléiades Neo
  "© Airbus DS [year]".

Simulated imagery is no provider's data: its credit says SIMULATED. An image whose provider sitewatch cannot
tell (a local file naming no satellite) gets a line saying so, so that nothing goes to print uncredited
without anyone noticing: tag the file (``SITEWATCH_PLATFORM``) or keep its provider's metadata beside it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from ..model import SceneRef
from ..platforms import MAXAR_PLATFORMS, MAXAR_SAT_IDS

__all__ = ["Credit", "scene_credit", "credit_text", "credits_text", "images_credits_text", "SIMULATED_CREDIT", "UNKNOWN_CREDIT",
           "UNKNOWN_YEAR"]

SIMULATED_CREDIT = "SIMULATED imagery (sitewatch): no satellite's data"
"""The credit of a simulated image: it shows nothing that was there."""
UNKNOWN_CREDIT = "imagery credit unknown (satellite not recognised): add its provider's credit before publishing"
"""The credit of an image whose satellite sitewatch cannot tell, or of one it knows no credit line for (NAIP, a
drone's)."""
UNKNOWN_YEAR = "[acquisition year unknown: add it before publishing]"
"""Where the year goes in the credit of an image file whose satellite is known but not when it was taken."""


@dataclass(frozen=True)
class Credit:
    """Who an image is credited to, and the wording its licence asks for."""

    holder: str
    """The rights holder, one per credit line: ``"copernicus"``, ``"planet"``, ``"simulated"``, …"""
    wording: str
    """The line with ``{year}`` where the year goes (none in a line whose terms name no year)."""
    year: int | None
    """The image's acquisition year (UTC); None for a line without a year."""

    def __post_init__(self) -> None:
        if not self.wording:
            raise ValueError(f"credit of {self.holder!r}: no wording")
        if ("{year}" in self.wording) != (self.year is not None):
            raise ValueError(f"credit of {self.holder!r}: a year where its wording has none, or none where it has")


def _normal(name: str) -> str:
    # STAC writes "sentinel-2a", Landsat's MTL "LANDSAT_9", a catalogue "Sentinel-1A", Airbus "Pléiades": accents go.
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    return re.sub(r"[\s_]+", "-", plain.strip().lower())


_MAXAR_NAMES = sorted({*MAXAR_PLATFORMS, *(i.lower() for i in MAXAR_SAT_IDS)})
"""Maxar's satellites as sitewatch names them (``worldview-3``) and as Maxar's metadata and STAC do (``WV03``)."""


# (holder, wording, test on the scene's normalised platform and collection). First match wins.
_RULES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    # ESA's and the USGS's product names start with the unit's short id (S2A_MSIL2A_…, LC09_L2SP_…), which a
    # SITEWATCH_PLATFORM tag or a catalogue's platform field copies: S1A-S1D, S2A-S2D, S3A/S3B; Landsat 4-9's
    # LT04, LT05, LE07, LC08, LC09 (and LO08/LT08, one instrument of Landsat 8).
    ("copernicus", "Contains modified Copernicus Sentinel data {year}",
     re.compile(r"(?:^|\W)(?:sentinel-?[1-6]|s[1-3][a-d](?:\W|$))")),
    ("usgs", "Landsat image courtesy of the U.S. Geological Survey",
     re.compile(r"(?:^|\W)(?:landsat|(?:lt0[45]|le07|l[cot]0[89])(?:\W|$))")),
    # Planet's item metadata names the instrument (PS2, PS2.SD, PSB.SD) and a SkySat by its unit (SSC1, SSC21).
    ("planet", "© {year} Planet Labs PBC",
     re.compile(r"(?:^|\W)(?:planetscope|skysat|psscene|(?:super-?)?dove(?:-r|-classic)?(?:\W|$)|ps2(?:\.sd)?(?:\W|$)|psb\.sd|ssc\d{1,2}(?:\W|$))")),
    # Maxar's own ids (WV03, GE01) and their spellings WV-3, WV3, WorldView-3.
    ("maxar", "© {year} Maxar Technologies",
     re.compile(r"(?:^|\W)(?:" + "|".join(re.escape(p) for p in _MAXAR_NAMES)
                + r"|wv-?0?[1-4]|worldview-?[1-4]|geoeye-?1|quickbird-?2?|ikonos)(?:\W|$)")),  # fmt: skip
    # Airbus's metadata and STAC name Pléiades PHR1A/PHR1B and Pléiades Neo PNEO3-6.
    ("airbus-neo", "© Airbus DS {year}", re.compile(r"(?:^|\W)(?:pleiades-neo|pneo-?[3-6](?:\W|$))")),
    ("cnes", "© CNES {year}, Distribution Airbus DS", re.compile(r"(?:^|\W)(?:pleiades|phr-?1[ab](?:\W|$))")),
    ("airbus", "© Airbus DS {year}", re.compile(r"(?:^|\W)spot-?[67]")),
)


_IMITATION = re.compile(r"sim(?:ulated)?-")
"""How a scenario names the platform and collection it imitates (``simulated-planetscope``, ``sim-planetscope``)."""


def scene_credit(scene: SceneRef) -> Credit:
    """The credit ``scene``'s licence asks for: by its satellite (``platform``), else its collection's name.

    >>> from datetime import datetime, timezone
    >>> s = SceneRef("earth-search", "sentinel-2-l2a", "x", "optical", datetime(2024, 10, 17, tzinfo=timezone.utc),
    ...              10.0, platform="sentinel-2b")
    >>> credit_text(scene_credit(s))
    'Contains modified Copernicus Sentinel data 2024'
    """
    if scene.simulated:
        return Credit("simulated", SIMULATED_CREDIT, None)
    year = scene.acquired.astimezone(UTC).year  # an acquisition given in local time is still dated in UTC
    holder, wording = _holder(scene.platform, scene.collection)
    return Credit(holder, wording, year if "{year}" in wording else None)


def _holder(*names: str) -> tuple[str, str]:
    """The holder and wording of the first of ``names`` (a satellite, then a collection) a rule knows; unknown's."""
    # The satellite first: a collection's name (a user's SITEWATCH_COLLECTION) may name another provider.
    for name in names:
        normal = _normal(name)
        if _IMITATION.match(normal):
            # A scenario's name for what it imitates (simulated-planetscope, sim-planetscope) on an image not flagged
            # simulated (its SITEWATCH_SIMULATED tag lost in a copy): never the provider it imitates.
            continue
        for holder, wording, pattern in _RULES:
            if pattern.search(normal):
                return holder, wording
    return "unknown", UNKNOWN_CREDIT


def images_credits_text(images: Iterable[tuple[str, datetime | None, bool]]) -> str:
    """One line crediting image files known only by what they say of themselves, each a ``(platform,
    acquired, simulated)``, as :func:`credits_text` credits scenes; an image whose satellite is known but not
    its acquisition time has :data:`UNKNOWN_YEAR` where its year goes. Empty for no images.

    >>> images_credits_text([("S2B", None, False), ("planetscope", datetime(2024, 10, 17, tzinfo=UTC), False)])
    'Contains modified Copernicus Sentinel data [acquisition year unknown: add it before publishing]; © 2024 Planet Labs PBC'
    """
    years: dict[str, set[int | None]] = {}
    for platform, acquired, simulated in images:
        wording = SIMULATED_CREDIT if simulated else _holder(platform)[1]
        dated = "{year}" in wording
        years.setdefault(wording, set()).update({acquired.astimezone(UTC).year if acquired else None} if dated else set())
    return _lines(years)


def _lines(years: dict[str, set[int | None]]) -> str:
    """Each wording with its years (None: a year not known), in the order given, joined by ``"; "``."""
    lines = []
    for wording, ys in years.items():
        known = [str(y) for y in sorted(y for y in ys if y is not None)]
        lines.append(wording.format(year=", ".join(known + ([UNKNOWN_YEAR] if None in ys else []))) if ys else wording)
    return "; ".join(lines)


def credit_text(credit: Credit) -> str:
    """The credit as printed: its wording with its year."""
    return credit.wording.format(year=credit.year) if credit.year is not None else credit.wording


def credits_text(scenes: Iterable[SceneRef]) -> str:
    """One line crediting every image of ``scenes``: one credit per holder, with each of its images' years
    (``"Contains modified Copernicus Sentinel data 2023, 2024; © 2024 Planet Labs PBC"``), in the order the
    holders first appear; empty for no scenes."""
    # By wording, not holder: SPOT and Pléiades Neo are both "© Airbus DS", one line with both their years.
    years: dict[str, set[int | None]] = {}
    for scene in scenes:
        c = scene_credit(scene)
        years.setdefault(c.wording, set()).update({c.year} if c.year is not None else set())
    return _lines(years)
