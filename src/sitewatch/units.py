"""How a measured size reads in text: the lines the commands print, the report's and the dashboard's pages, the
charts' titles. ``--json`` and the exports keep the full values."""

from __future__ import annotations

__all__ = ["pixel_size_text"]


def pixel_size_text(metres: float) -> str:
    """A pixel size (an image's resolution) as a person writes it: three significant figures (``9.54 m``, ``0.5 m``,
    ``10 m``; not ``9.54335 m`` or ``10.0 m``), whole metres where those would need an exponent (``1250 m``). A size
    below 0.0001 m keeps its exponent (``1e-05 m``: a transform in degrees taken for metres), not ``0 m``."""
    text = f"{metres:.3g}"
    return f"{metres:.0f} m" if "e" in text and abs(metres) >= 1 else f"{text} m"
