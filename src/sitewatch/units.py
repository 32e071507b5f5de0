"""How a measured size reads in text: the lines the commands print, the report's and the dashboard's pages, the
charts' titles. ``--json`` and the exports keep the full values."""

from __future__ import annotations

import math

__all__ = ["count_noun", "heading_text", "pixel_size_text", "share_text"]


def count_noun(n: int, noun: str, plural: str | None = None) -> str:
    """``"1 arrival"``, ``"2 arrivals"``: a count with its noun in agreement (``plural`` for a noun not made plural
    by an ``s``: ``"bright patches"``)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def heading_text(degrees: float) -> str:
    """A long axis's bearing in whole degrees, ``0°`` to ``179°``: stored headings lie in [0, 180), and one of 179.5
    or more rounded to ``180°`` read as another value of the same axis than the ``0°`` it is (README,
    "Definitions and units"). One outside [0, 180) is read as the same axis (``-0.2`` and ``359.9``: ``0°``); a value
    that is no number (NaN, infinite) is ``–``, as a missing one on the pages, not a page that fails to render."""
    if not math.isfinite(degrees):
        return "–"
    return f"{round(degrees) % 180}°"


def pixel_size_text(metres: float) -> str:
    """A pixel size (an image's resolution) as a person writes it: three significant figures (``9.54 m``, ``0.5 m``,
    ``10 m``; not ``9.54335 m`` or ``10.0 m``), whole metres where those would need an exponent (``1250 m``). A size
    below 0.0001 m keeps its exponent (``1e-05 m``: a transform in degrees taken for metres), not ``0 m``."""
    text = f"{metres:.3g}"
    return f"{metres:.0f} m" if "e" in text and abs(metres) >= 1 else f"{text} m"


def share_text(share: float) -> str:
    """A share (0 to 1) as a whole percent, ``under 1%`` for one above none that would round to ``0%`` (a cloud
    of a few hundred metres on a large image or site) and ``over 99%`` for one below all that would round to
    ``100%`` (a cloud over all of a site but a corner): ``0%`` and ``100%`` are said only of none and all. A share
    that is not a number is ``an unknown share``, not ``nan%``."""
    if math.isnan(share):
        return "an unknown share"
    text = f"{share:.0%}"
    # The text, not 0.005 and 0.995: 0.005 itself rounds to 0%, and 0.995 to 100%.
    return "under 1%" if share > 0 and text == "0%" else "over 99%" if share < 1 and text == "100%" else text
