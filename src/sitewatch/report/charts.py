"""Pictures for the report as PNG bytes: timeline chart, site map, image chips with outlines.

matplotlib ``Figure`` objects without pyplot (no display, no global state); every figure says
"SIMULATED IMAGERY" in its title when its data is simulated, so a picture
copied out of the report keeps its label. A picture of imagery (a chip, a site map of what was found in it)
also carries, under it, its site and the credit its images' licences ask for
(:mod:`~sitewatch.report.credits`), and the same in its PNG's ``Copyright`` and ``Description`` text: a
picture desk crops and reuses figures. So does the timeline chart, with the credits of the images its dates
stand on. PNGs carry no software URL in
their metadata: the report must hold no address at all.
"""

from __future__ import annotations

import functools
import io
import math
import textwrap
import unicodedata
from collections.abc import Callable, Collection, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import matplotlib.dates as mdates
import numpy as np
from matplotlib import font_manager, rc_context
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.lines import Line2D
from matplotlib.patheffects import Normal, Stroke
from matplotlib.ticker import MaxNLocator
from numpy.typing import NDArray
from shapely.geometry import LineString, MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from ..analysis.occupancy import Timeline, TimelineRow
from ..geo import ground_steps, reproject_geometry
from ..model import Change, Detection, Observation, Site, acquired_label
from ..units import count_noun, pixel_size_text
from .berth_labels import label_sides
from .colours import (
    CHANGE_COLOURS,
    CHANGE_DASH,
    KIND_CUES,
    OTHER_COLOUR,
    OUTLINE_CASING,
    Cue,
    kind_cue,
)
from .credits import credit_text, scene_credit
from .exports import date_zone

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from rasterio.io import DatasetReader
    from rasterio.windows import Window

__all__ = ["timeline_chart_png", "timeline_chart_alt", "png_size", "site_map_png", "site_map_figure", "chip_png",
           "chip_figure", "chip_area", "chip_caption", "scale_bar_m", "SCALE_BAR_GID", "NORTH_ARROW_GID", "display_values", "SIMULATED_LABEL"]

SIMULATED_LABEL = "SIMULATED IMAGERY"
_CHIP_DPI = 80
_CHIP_TITLE_PT = 11
"""A chip's title: 12 px at the chip's 80 dpi, as large as the caption under it in the report (0.75em); at
8 pt it was 9 px. The caption and the alt say the same, but a picture copied out of the page keeps only this
(and its SIMULATED label)."""
_CREDIT_PT = 8
"""The credit line under a chip or map: 9 px at a chip's 80 dpi, wrapped to the picture's width."""
_CREDIT_COLOUR = "#333333"
"""The credit's grey: 12.6:1 on white."""
_CASING_PT = 1.6
"""How much wider than its coloured line an outline's dark casing is, in points: about a pixel each side."""
_ARRIVAL_COLOUR = "#1a7f37"
"""The timeline chart's arrival counts: 5.1:1 on white (matplotlib's green, 3.3:1, was under WCAG's 4.5:1 for text)."""
_DEPARTURE_COLOUR = "#b42318"
"""Its departure counts: 6.5:1 on white."""
_HALO = [Stroke(linewidth=2.5, foreground="white"), Normal()]
"""Under a chart's or a map's words: they stay legible where they cross a bar, water, a line or an outline."""
_P = ParamSpec("_P")
_R = TypeVar("_R")


# Families that hold the glyphs matplotlib's DejaVu Sans lacks (Korean, Japanese, Chinese site
# names), tried in this order for each missing glyph when the machine has them.
_FALLBACK_FAMILIES = (
    "Noto Sans CJK KR",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Source Han Sans",
    "NanumGothic",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
)


def fallback_families(installed: Collection[str]) -> list[str]:
    """The families of :data:`_FALLBACK_FAMILIES` in ``installed``: naming absent ones makes matplotlib warn."""
    return [f for f in _FALLBACK_FAMILIES if f in installed]


def _with_fonts(draw: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a chart function with the installed fallback families after DejaVu Sans.

    A text's family is fixed when the text is made, and matplotlib falls back glyph by
    glyph only among families named outright (a generic "sans-serif" stands for one font).
    """

    @functools.wraps(draw)
    def drawn(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        extra = fallback_families({f.name for f in font_manager.fontManager.ttflist})
        if not extra:
            return draw(*args, **kwargs)
        with rc_context({"font.family": ["DejaVu Sans", *extra]}):
            return draw(*args, **kwargs)

    return drawn


_RIGHT_TO_LEFT = frozenset({"R", "AL"})
"""Unicode's bidirectional classes of right-to-left letters: Hebrew (R), Arabic, Syriac, Thaana (AL)."""


@functools.lru_cache(maxsize=8)
def _fonts(families: tuple[str, ...]) -> tuple[FT2Font, ...]:
    paths = []
    for family in families:
        try:
            paths.append(font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False))
        except ValueError:  # named among the installed, yet not found as a file
            continue
    return tuple(FT2Font(path) for path in dict.fromkeys(paths))


def drawable(name: str, instead: str) -> str:
    """``name`` when the chart's fonts (DejaVu Sans and the installed :func:`fallback_families`) draw each of its
    characters, and it is written left to right; else ``instead`` (a site's or berth's id, which they draw).

    A Korean site name on a machine without a font of hangul came out as a row of empty boxes in the chart's
    title, and matplotlib printed a warning a glyph into the terminal ("Glyph 48512 … missing from font(s)
    DejaVu Sans"); the page around the chart gives the name in the browser's fonts. An Arabic or Hebrew
    name has its glyphs in DejaVu Sans, but matplotlib lays out text left to right and does not join
    Arabic letters: ميناء طرطوس came out mirrored, its letters apart, a name no reader would recognise.
    """
    if any(unicodedata.bidirectional(c) in _RIGHT_TO_LEFT for c in name):
        return instead
    families = ("DejaVu Sans", *fallback_families({f.name for f in font_manager.fontManager.ttflist}))
    fonts = _fonts(families)
    if all(c.isspace() or any(font.get_char_index(ord(c)) for font in fonts) for c in name):
        return name
    return instead


def _png(fig: Figure, dpi: int = 90, *, credit: str = "", description: str = "") -> bytes:
    buf = io.BytesIO()
    # metadata Software=None: matplotlib would otherwise write its web address into the PNG. Copyright and
    # Description are PNG's own keywords for a picture's credit and caption: image tools show them.
    meta: dict[str, str | None] = {"Software": None}
    meta.update({k: v for k, v in (("Copyright", credit), ("Description", description)) if v})
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata=meta)
    return buf.getvalue()


def _credit_footer(fig: Figure, text: str, *, y: float = -0.01) -> None:
    """``text`` (a site, a date, a credit) under the figure, each line wrapped at a space to the figure's width;
    ``bbox_inches="tight"`` grows the saved picture to hold it.

    Wrapped here by a count of characters (DejaVu Sans's are about 0.55 em wide on average), not by matplotlib's
    ``wrap=True``: that measures the line word by word, each measure a layout, and took a sixth of a chip's time.
    """
    per_line = max(int(fig.get_figwidth() * 72 / (_CREDIT_PT * 0.55)), 12)
    lines = [wrapped for line in text.split("\n") for wrapped in textwrap.wrap(line, per_line) or [""]]
    fig.text(0.5, y, _plain("\n".join(lines)), ha="center", va="top", fontsize=_CREDIT_PT, color=_CREDIT_COLOUR)


_LABEL_BOX = {"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1.0}
"""Behind a chip's scale and north labels: legible on dark water and bright land alike."""
SCALE_BAR_GID = "scale-bar"
"""The ``gid`` of a chip's scale bar line: with :data:`NORTH_ARROW_GID`, the lines of a chip that are no outline."""
NORTH_ARROW_GID = "north-arrow"
"""The ``gid`` of a chip's north arrow."""
_SCALE_STEPS_M = (5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)
"""A chip's scale bar is one of these lengths (m): the longest within a third of the chip's width."""


def scale_bar_m(width_m: float) -> int | None:
    """The length (m) of the scale bar of a picture ``width_m`` wide: the longest of :data:`_SCALE_STEPS_M`
    within a third of it; None when even the shortest is longer (a picture of a few metres)."""
    fitting = [s for s in _SCALE_STEPS_M if s <= width_m / 3]
    return fitting[-1] if fitting else None


def _metres_per_unit(crs: str) -> float | None:
    """How many metres one unit of ``crs`` is (1 for UTM); None for a CRS of degrees or none: its pixels have no
    one length on the ground."""
    from pyproj import CRS

    try:
        c = CRS.from_user_input(crs)
    except Exception:  # an unreadable CRS costs the bar, not the chip
        return None
    if not c.is_projected:
        return None
    factor = c.axis_info[0].unit_conversion_factor if c.axis_info else None
    return float(factor) if factor else None


_NORTH_UP_DEG = 5.0
"""How far (degrees) a chip's up may be from true north for its arrow to point up: a UTM zone's grid north is
within about 3 degrees of it."""


def _scale_and_north(ax: Axes, transform: Any, crs: str, w: int, h: int) -> None:
    """A scale bar (bottom right) and a north arrow (top right) on a chip of ``w`` × ``h`` pixels: a picture desk
    prints neither a distance nor a direction it cannot read off the picture.

    Both are measured on the ground at the chip's centre (:func:`~sitewatch.geo.ground_steps`), not read off the
    CRS's unit: a Web Mercator metre is ``cos(latitude)`` of one on the ground (half at 60°), a degree of
    longitude no fixed length, and a polar grid's up is north only along its central meridian. The bar is
    the length of a row's pixels; the arrow is drawn only where the chip's up is within :data:`_NORTH_UP_DEG`
    of true north (none on a grid turned further, rather than an arrow pointing the wrong way)."""
    try:
        (px_m, _), (_, row_az) = ground_steps(crs, transform, w, h)
        # A row step points south on a north-up grid: its up is north by how far that is from 180°.
        north_up = abs((row_az % 360.0) - 180.0) <= _NORTH_UP_DEG
    except Exception:  # a CRS with no way to lon/lat: the bar by its unit, no direction
        per_unit = _metres_per_unit(crs)
        if per_unit is None:
            return
        px_m, north_up = math.hypot(transform.a, transform.d) * per_unit, False
    if not (px_m > 0 and math.isfinite(px_m)):
        return
    bar = scale_bar_m(w * px_m)
    halo = [Stroke(linewidth=6, foreground="white"), Normal()]
    if bar is not None:
        length = bar / px_m
        x1, y = w - 0.5 - 0.05 * w, h - 0.5 - 0.06 * h
        ax.plot([x1 - length, x1], [y, y], color="black", linewidth=3, solid_capstyle="butt", path_effects=halo,
                gid=SCALE_BAR_GID)  # fmt: skip
        label = f"{bar // 1000:,} km" if bar >= 1000 else f"{bar} m"
        # On a white box, not a halo: a halo draws the text twice, and text is most of a chip's drawing time.
        ax.text(x1 - length / 2, y - 0.02 * h, label, ha="center", va="bottom", fontsize=_CREDIT_PT, color="black",
                bbox=_LABEL_BOX)  # fmt: skip
    if not north_up:
        return
    # A line with a triangle at its tip, not matplotlib's arrow patch: that clips its path against the label's box
    # by bisection, a tenth of a chip's drawing time.
    x = w - 0.5 - 0.06 * w
    ax.plot([x, x], [0.17 * h, 0.04 * h], color="black", linewidth=1.2, marker="^", markevery=[1], markersize=5,
            path_effects=halo, gid=NORTH_ARROW_GID)  # fmt: skip
    ax.text(x, 0.18 * h, "N", ha="center", va="top", fontsize=_CREDIT_PT, color="black", bbox=_LABEL_BOX)


def chip_caption(obs: Observation, site: str = "", *, with_time: bool = True) -> str:
    """What a chip of ``obs`` carries under it: its site (``site``, else the observation's site id), with
    ``with_time`` its acquisition time (UTC) and sensor (a chip whose title shows them leaves them out), and its
    image's credit (:func:`~sitewatch.report.credits.scene_credit`) on a line of its own."""
    when = f" · {acquired_label(obs)}, {obs.scene.sensor} {pixel_size_text(obs.scene.resolution_m)}" if with_time else ""
    return f"{site or obs.site_id}{when}\n{credit_text(scene_credit(obs.scene))}"


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels of a PNG, from its header: a page sizes the image's box without decoding it."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _plain(text: str) -> str:
    # Names are the user's: "Pier $1$" must not turn into matplotlib mathtext.
    return text.replace("$", r"\$")


def _title(text: str, simulated: bool) -> str:
    return f"{_plain(text)}\n{SIMULATED_LABEL}" if simulated else _plain(text)


def _date_formatter(locator: mdates.DateLocator) -> mdates.ConciseDateFormatter:
    # Day ticks under a month name need only the year beside the axis; matplotlib's "2024-Dec"
    # (the month of the last tick) under an October-November period reads as a December date.
    return mdates.ConciseDateFormatter(locator, offset_formats=["", "%Y", "%Y", "%Y-%b-%d", "%Y-%b-%d", "%Y-%b-%d %H:%M"])


COUNTS_AS_MARKS_DAYS = 366
"""A period longer than this (days) marks its arrivals and departures with a triangle above the bar, not a count."""


@_with_fonts
def timeline_chart_png(tl: Timeline) -> bytes:
    """Vessels per usable date (at berths / elsewhere), arrivals and departures, one panel per period; the
    credits of the images its dates stand on (:attr:`~sitewatch.analysis.occupancy.Timeline.credit`) under it
    and in its PNG's ``Copyright`` text, its heading in the ``Description``."""
    return _png(timeline_figure(tl), credit=tl.credit, description=_timeline_heading(tl))


def timeline_figure(tl: Timeline) -> Figure:
    """The figure :func:`timeline_chart_png` draws (call it under the chart fonts, as that does)."""
    periods = tl.periods or ()
    n = max(len(periods), 1)
    widths = [max((p.end - p.start).days + 1, 12) for p in periods] or [1]
    # Figure without pyplot: no global state, no backend, safe from threads.
    fig = Figure(figsize=(min(6 + 0.035 * sum(widths), 14), 3.4))
    axes = fig.subplots(1, n, sharey=True, gridspec_kw={"width_ratios": widths}, squeeze=False)
    ymax = max((r.vessels for r in tl.rows), default=0)
    for ax, p in zip(axes[0], periods, strict=False):
        rows = [r for r in tl.rows if r.period == p.index]
        days = [r.date for r in rows]
        berth = [sum(r.at_berth.values()) for r in rows]
        off = [r.off_berth for r in rows]
        bar_w = max(0.9, ((p.end - p.start).days + 1) / 120)  # stays visible on a half-year axis
        ax.bar(days, berth, width=bar_w, color="#1f77b4", label="at a berth")
        ax.bar(days, off, width=bar_w, bottom=berth, color="#9ecae1", label="elsewhere")
        if (p.end - p.start).days + 1 > COUNTS_AS_MARKS_DAYS:
            # Years of dates: a "+1" a few points wide at each arrival ran into the next ("+1+:+1" at a port
            # with calls a week apart). Marks above the bar say where; the timeline table gives the counts.
            for n_of, y_pt, marker, colour, label in ((lambda r: r.arrivals, 0.12, "^", _ARRIVAL_COLOUR, "arrival"),
                                                      (lambda r: r.departures, 0.3, "v", _DEPARTURE_COLOUR, "departure")):
                marked = [r for r in rows if n_of(r)]
                if marked:
                    ax.scatter([r.date for r in marked], [r.vessels + y_pt for r in marked], marker=marker, s=10,
                               color=colour, linewidths=0, label=label)  # fmt: skip
            rows_counted: list[TimelineRow] = []
        else:
            rows_counted = rows
        for r in rows_counted:
            # Both above the bar: a departure's count drawn inside the bar of a date that kept a vessel was
            # red on blue, lost in it. A dark green and red keep 4.5:1 on the white chart, as text must, and
            # a white halo keeps a count legible over the next day's bar in a short period's narrow panel.
            if r.arrivals:
                ax.annotate(f"+{r.arrivals}", (r.date, r.vessels), xytext=(0, 3), textcoords="offset points",
                            ha="center", fontsize=7, color=_ARRIVAL_COLOUR, path_effects=_HALO)
            if r.departures:
                ax.annotate(f"\u2212{r.departures}", (r.date, r.vessels), xytext=(0, 11 if r.arrivals else 3),
                            textcoords="offset points", ha="center", fontsize=7, color=_DEPARTURE_COLOUR,
                            path_effects=_HALO)  # fmt: skip
        # Which sensor looked on each date: ticks under the bars.
        for sensor, y, marker in (("sar", -0.25, "|"), ("optical", -0.5, "^")):
            xs = [r.date for r in rows if sensor in r.sensors]
            if xs:
                ax.scatter(xs, [y] * len(xs), marker=marker, s=14, color="0.3", label=f"{sensor} look")
        # At least a week wide, so a period of a date or two gets day ticks, not hours.
        pad = timedelta(days=max(1.0, (7 - (p.end - p.start).days) / 2))
        ax.set_xlim(p.start - pad, p.end + pad)
        ax.set_title(
            f"period {p.index}: {count_noun(p.presence_days, 'presence day')}\n{p.start.isoformat()} to {p.end.isoformat()}",
            fontsize=9,
        )
        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(_date_formatter(locator))
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    if periods:
        axes[0][0].set_ylabel("vessels")
        axes[0][0].set_ylim(-0.8, ymax + 1.2)
        axes[0][0].yaxis.get_major_locator().set_params(integer=True)
    else:
        # No axes: matplotlib's default 0-1 scales and a "vessels" label over nothing read as data.
        axes[0][0].set_axis_off()
        axes[0][0].text(0.5, 0.5, "no usable observations", ha="center", va="center", transform=axes[0][0].transAxes)
    # Every panel's entries, once each: optical looks only in a later period still need their key.
    legend: dict[str, Any] = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    handles, labels = list(legend.values()), list(legend)
    if handles:
        axes[0][-1].legend(handles, labels, fontsize=7, loc="upper right")
    fig.suptitle(_title(_timeline_heading(tl), tl.simulated), fontsize=10, y=1.12 if tl.simulated else 1.05)
    if tl.credit:
        # Under the date ticks: the footer's usual -0.01 of the figure's height ran into them.
        _credit_footer(fig, tl.credit, y=-0.06)
    return fig


def timeline_chart_alt(tl: Timeline) -> str:
    """The timeline chart in words, for its ``alt``: what it plots, each period's figures, and where
    every date's figures are (the timeline table under it)."""
    name = tl.site_name or tl.site_id
    if not tl.periods:
        return f"Chart of vessels per usable date at {name}: no usable observations."
    periods = "; ".join(
        f"period {p.index}, {p.start.isoformat()} to {p.end.isoformat()}: {count_noun(p.presence_days, 'presence day')} "
        f"of {count_noun(p.dates, 'usable date')}, at most {count_noun(p.max_vessels, 'vessel')} at once, "
        f"{count_noun(p.arrivals, 'arrival')}, {count_noun(p.departures, 'departure')}"
        for p in tl.periods
    )
    return (f"Bar chart of vessels per usable date at {name} (at a berth and elsewhere), with arrivals and "
            f"departures: {periods}. Every date's figures are in the timeline table below.")  # fmt: skip


def _timeline_heading(tl: Timeline) -> str:
    # With --utc-offset the bars stand on local dates: a chart copied out must say so, as the CSV does.
    zone = date_zone(tl.params.utc_offset_hours)
    dates = "UTC dates" if zone == "UTC" else f"local dates, {zone}"
    return f"{drawable(tl.site_name or tl.site_id, tl.site_id)}: vessels per usable observation date ({dates})"


def _lonlat_aspect(ax: Axes, lat: float) -> None:
    ax.set_aspect(1 / max(math.cos(math.radians(lat)), 0.05))


def _plot_geom(ax: Axes, geom: BaseGeometry, **kw: Any) -> None:
    if isinstance(geom, Polygon):
        xs, ys = geom.exterior.xy
        if kw.pop("fill", False):
            ax.fill(xs, ys, **kw)
        else:
            ax.plot(xs, ys, **kw)
    elif isinstance(geom, MultiPolygon):
        for g in geom.geoms:
            _plot_geom(ax, g, **dict(kw))
    elif isinstance(geom, LineString):
        kw.pop("fill", None)
        ax.plot(*geom.xy, **kw)
    elif hasattr(geom, "geoms"):
        for g in geom.geoms:
            _plot_geom(ax, g, **dict(kw))


@_with_fonts
def site_map_png(site: Site, detections: Sequence[Detection] = (), *, simulated: bool = False, credit: str = "",
                 caption: str = "", changes: Sequence[Change] = ()) -> bytes:  # fmt: skip
    """The site's outline, water, berths (labelled) and every detection's outline in its kind's colour and
    line pattern, with a legend of the kinds drawn; ``caption`` (the site, the images' dates) and ``credit`` (the
    credits of the images the detections were found in, :func:`~sitewatch.report.credits.credits_text`) under it,
    and in the PNG's ``Description`` and ``Copyright`` text; ``changes``, stored change regions, outlined dashed in
    their direction's colour as the chips outline them."""
    fig = site_map_figure(site, detections, simulated=simulated, credit="\n".join(t for t in (caption, credit) if t),
                          changes=changes)  # fmt: skip
    return _png(fig, credit=credit, description=caption)


def site_map_figure(site: Site, detections: Sequence[Detection] = (), *, simulated: bool = False,
                    credit: str = "", changes: Sequence[Change] = ()) -> Figure:  # fmt: skip
    """The figure :func:`site_map_png` draws (call it under the chart fonts, as that does); ``credit``, the lines
    under it; ``changes``, the change regions outlined (a training ground's trenches: its map showed its outline
    alone)."""
    fig = Figure(figsize=(5.2, 4.6))
    ax = fig.subplots()
    geom = site.geometry
    if geom is not None:
        _plot_geom(ax, geom, color="0.2", linewidth=1.2)
    if site.water is not None:
        _plot_geom(ax, site.water, fill=True, color="#cfe8ff", linewidth=0)
    centres = [b.geometry.centroid for b in site.berths]
    near = 0.08 * max(geom.bounds[2] - geom.bounds[0], geom.bounds[3] - geom.bounds[1]) if geom is not None else 0.0
    for b, p, side in zip(site.berths, centres, label_sides(centres, near), strict=True):
        _plot_geom(ax, b.geometry, color="#8c564b", linewidth=2.5)
        if side in ("left", "right"):
            at, offset, ha, va = (p.x, p.y), (-5 if side == "left" else 5, 3), "right" if side == "left" else "left", "baseline"
        else:
            # Beyond the line's eastern end, not at its middle, where the ships moored along it lie.
            at, offset, ha, va = (b.geometry.bounds[2], p.y), (3, 2 if side == "above" else -2), "left", "bottom" if side == "above" else "top"
        ax.annotate(_plain(drawable(b.name or b.id, b.id)), at, fontsize=8, color="#8c564b", xytext=offset, textcoords="offset points",
                    ha=ha, va=va, path_effects=_HALO)  # fmt: skip
    # One collection for all outlines: a busy port has thousands of detections over a season.
    outlined = [d for d in detections if isinstance(d.footprint, Polygon)]
    polys = [np.asarray(d.footprint.exterior.coords) for d in outlined]
    cues = [kind_cue(d.kind) for d in outlined]
    if polys:
        # Over the berth lines (a collection is drawn under lines by default): ships lie along berths.
        # Each on a dark casing (a second collection under it, which keeps the one fast draw): the
        # yellow alone is 1.5:1 on the white map, under WCAG's 3:1 for graphics. The casing is solid;
        # the coloured line over it has its kind's pattern, so a reader who cannot tell the colours
        # (or prints the page in grey) still tells the kinds.
        ax.add_collection(PolyCollection(polys, facecolors="none", edgecolors=OUTLINE_CASING,
                                         linewidths=0.8 + _CASING_PT, alpha=0.8, zorder=3))  # fmt: skip
        ax.add_collection(PolyCollection(polys, facecolors="none", edgecolors=[c.colour for c in cues],
                                         linestyles=[_linestyle(c) for c in cues], linewidths=0.8, alpha=0.8,
                                         zorder=3))  # fmt: skip
    directions = []
    for c in changes:
        parts = c.polygon.geoms if isinstance(c.polygon, MultiPolygon) else [c.polygon] if isinstance(c.polygon, Polygon) else []
        for ring in (r for part in parts for r in (part.exterior, *part.interiors)):
            xs, ys = ring.xy
            _plot_cased(ax, np.asarray(xs), np.asarray(ys), CHANGE_COLOURS.get(c.direction, OTHER_COLOUR),
                        linestyle=(0, CHANGE_DASH[1]))  # fmt: skip
        directions.append(c.direction)
    if polys or directions:
        _kinds_legend(ax, {d.kind: c for d, c in zip(outlined, cues, strict=True)}, directions)
    if geom is not None:
        _lonlat_aspect(ax, geom.centroid.y)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.tick_params(labelsize=7)
    ax.ticklabel_format(useOffset=False)
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.yaxis.set_major_locator(MaxNLocator(5))
    shows = "berths and all detections" if not directions else "all detections and changed regions" if not site.berths else (
        "berths, all detections and changed regions")  # fmt: skip
    ax.set_title(_title(f"{drawable(site.name or site.id, site.id)}: {shows}", simulated), fontsize=10)
    if credit:
        _credit_footer(fig, credit)
    return fig


def _stretch(a: NDArray[np.floating]) -> NDArray[np.floating]:
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return np.zeros_like(a)
    lo, hi = np.percentile(finite, [2, 98])
    out = (a - lo) / (hi - lo if hi > lo else 1.0)
    return np.clip(np.nan_to_num(out, nan=0.0), 0, 1)


def _read_window(
    path: Path, obs: Observation, focus: BaseGeometry, max_side: int | None = None
) -> tuple[NDArray[np.floating], Any, str]:
    """The image around ``focus`` (WGS84) as display values, its transform and CRS; with ``max_side``, a
    window longer than that is read averaged to that many pixels (from the COG's overviews) and the
    transform is that of the pixels read.

    A chip is at most a thousand screen pixels a side: read whole, the window of a 100 km site's chip
    (10,000 pixels a side at 10 m) took 7.5 GB as float64 and matplotlib's copies, for a picture that
    shows each 185 m as one pixel.
    """
    import rasterio
    from affine import Affine
    from rasterio.windows import Window, from_bounds

    with rasterio.open(path) as src:
        crs = src.crs.to_string()
        fx = reproject_geometry(focus, "EPSG:4326", crs).bounds
        win = from_bounds(*fx, transform=src.transform).round_offsets().round_lengths()
        win = win.intersection(Window(0, 0, src.width, src.height))
        transform = src.window_transform(win)
        h, w = int(win.height), int(win.width)
        if max_side is None or max(h, w) <= max_side:
            return display_values(src, obs, window=win), transform, crs
        f = max_side / max(h, w)
        shape = (max(1, round(h * f)), max(1, round(w * f)))
        return display_values(src, obs, window=win, out_shape=shape), transform @ Affine.scale(w / shape[1], h / shape[0]), crs


def display_values(
    src: DatasetReader, obs: Observation, *, window: Window | None = None, out_shape: tuple[int, int] | None = None
) -> NDArray[np.floating]:
    """An open image of ``obs`` as values from 0 to 1 to show: red, green, blue (rows × cols × 3) of an
    optical image with three bands or more, else the first band in dB (rows × cols); each stretched
    between its 2nd and 98th percentiles.

    ``window`` reads part of the image; ``out_shape`` (rows, cols) reads it at that size, averaged,
    from the COG's overviews when it has them rather than from every pixel.
    """
    from rasterio.enums import Resampling

    names = [(d or "").lower() for d in src.descriptions]
    optical = obs.scene.sensor == "optical" and src.count >= 3
    idx = [names.index(b) + 1 if b in names else k for k, b in ((3, "red"), (2, "green"), (1, "blue"))] if optical else [1]
    kw: dict[str, Any] = {"window": window}
    if out_shape is not None:
        kw |= {"out_shape": (len(idx), *out_shape), "resampling": Resampling.average}
    data = src.read(idx, **kw).astype("float64")
    if optical:
        return np.dstack([_stretch(np.where(np.isfinite(data), data, np.nan))[i] for i in range(3)])
    from ..detect.sar import to_intensity

    # An image archived in dB (as a SNAP or Earth Engine export came) is read as the detector reads it:
    # the log of its negative values left a blank picture.
    band = to_intensity(data[0], "auto") if obs.scene.sensor == "sar" else data[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 10 * np.log10(np.where(band > 0, band, np.nan))
    return _stretch(db)


def _plot_cased(ax: Axes, xs: NDArray[np.floating], ys: NDArray[np.floating], colour: str, **kw: Any) -> None:
    """A coloured outline on a solid dark casing: a yellow crane or an orange "disappeared" region keeps
    3:1 against bright ground (WCAG 1.4.11), and a dashed line's gaps still show its edge."""
    ax.plot(xs, ys, color=OUTLINE_CASING, linewidth=1.2 + _CASING_PT, solid_capstyle="round")
    ax.plot(xs, ys, color=colour, linewidth=1.2, **kw)


def _linestyle(cue: Cue) -> Any:
    """A kind's pattern as a matplotlib line style (its dashes in multiples of the line width)."""
    return "solid" if cue.mpl_dashes is None else (0, cue.mpl_dashes)


def _kinds_legend(ax: Axes, cues: dict[str, Cue], directions: Collection[str] = ()) -> None:
    """A legend naming each kind drawn by its colour and pattern, on its casing as the outlines are: the
    pattern is the cue that does not need colour, so the key shows it; then each change ``directions`` drawn."""
    order = [k for k in KIND_CUES if k in cues] + sorted(k for k in cues if k not in KIND_CUES)
    casing = [Stroke(linewidth=1.4 + _CASING_PT, foreground=OUTLINE_CASING), Normal()]
    handles = [Line2D([], [], color=cues[k].colour, linewidth=1.4, linestyle=_linestyle(cues[k]), path_effects=casing)
               for k in order]  # fmt: skip
    labels = [f"{_plain(k)} ({cues[k].pattern})" for k in order]
    changed = [d for d in CHANGE_COLOURS if d in directions] + sorted(set(directions) - set(CHANGE_COLOURS))
    handles += [Line2D([], [], color=CHANGE_COLOURS.get(d, OTHER_COLOUR), linewidth=1.4, linestyle=(0, CHANGE_DASH[1]),
                       path_effects=casing) for d in changed]  # fmt: skip
    labels += [f"{_plain(d)} (dashed)" for d in changed]
    title = "detections" if not changed else "changed regions" if not order else "detections, changed regions"
    ax.legend(handles, labels, fontsize=7, loc="best", handlelength=3.2, title=title, title_fontsize=7)


@_with_fonts
def chip_png(
    path: Path,
    obs: Observation,
    detections: Sequence[Detection],
    focus: BaseGeometry,
    *,
    title: str | None = "",
    margin_m: float = 150.0,
    size_px: tuple[int, int] = (270, 270),
    integer_scale: bool = False,
    changes: Sequence[Change] = (),
    site: str = "",
) -> bytes | None:
    """The PNG of :func:`chip_figure` (same arguments); None if the image is unreadable. Its ``Copyright`` text
    is the image's credit, its ``Description`` the chip's caption (:func:`chip_caption`)."""
    fig = chip_figure(path, obs, detections, focus, title=title, margin_m=margin_m, size_px=size_px,
                      integer_scale=integer_scale, changes=changes, site=site)  # fmt: skip
    caption = chip_caption(obs, drawable(site, obs.site_id) if site else "")
    return None if fig is None else _png(fig, dpi=_CHIP_DPI, credit=credit_text(scene_credit(obs.scene)),
                                         description=caption.replace("\n", " · "))  # fmt: skip


def chip_area(focus: BaseGeometry, margin_m: float = 150.0) -> Polygon:
    """The ground a chip around ``focus`` (WGS84) shows: its box grown by ``margin_m``, in degrees at its latitude
    (:func:`chip_figure`'s window, before the image's edge cuts it)."""
    lat = focus.centroid.y
    dlat = margin_m / 110_540.0
    dlon = margin_m / (111_320.0 * max(math.cos(math.radians(lat)), 0.05))
    minx, miny, maxx, maxy = focus.bounds
    return box(minx - dlon, miny - dlat, maxx + dlon, maxy + dlat)


def chip_figure(
    path: Path,
    obs: Observation,
    detections: Sequence[Detection],
    focus: BaseGeometry,
    *,
    title: str | None = "",
    margin_m: float = 150.0,
    size_px: tuple[int, int] = (270, 270),
    integer_scale: bool = False,
    changes: Sequence[Change] = (),
    site: str = "",
) -> Figure | None:
    """An image chip of ``obs`` around ``focus`` (WGS84) with the detections outlined in their kind's colour
    and line pattern (:data:`~sitewatch.report.colours.KIND_CUES`); None if unreadable.

    The window is the focus box grown by ``margin_m`` (approximately, in
    degrees at the site's latitude) so two chips with the same focus show
    the same ground. ``size_px`` bounds the chip's longer side: between the
    two, it shows each image pixel as two screen pixels, so a wide window
    keeps its detail and a small one is not blown up beyond use. With ``integer_scale`` each image
    pixel is shown as k × k screen pixels, k the largest whole number that keeps the longer side
    within ``size_px[0]`` (at least 1); a window longer than ``size_px[1]`` is shrunk to it.
    ``title`` None: no title but "SIMULATED IMAGERY" on simulated imagery (its page captions it).
    ``changes``: stored change regions, outlined dashed in their direction's colour (holes and all
    parts of a multipolygon too). ``site``: the site's name for the caption under the chip (:func:`chip_caption`:
    site, date and time, sensor, the image's credit), which a chip copied out of its page keeps; the
    observation's site id when empty. Call it under the chart fonts, as :func:`chip_png` does.
    """
    area = chip_area(focus, margin_m)
    try:
        img, transform, crs = _read_window(path, obs, area, max_side=2 * max(size_px))
    except Exception:  # a missing or unreadable COG costs the chip, not the report
        return None
    if img.size == 0 or img.shape[0] < 2 or img.shape[1] < 2:
        return None
    h, w = img.shape[:2]
    # Speckled SAR compresses badly and a season has many chips: no bigger than asked.
    side_px = min(max(2 * max(h, w), size_px[0]), size_px[1])
    if integer_scale:
        k = max(size_px[0] // max(h, w), 1)
        side_px = min(k * max(h, w), size_px[1])
    scale = side_px / _CHIP_DPI / max(h, w)
    fig = Figure(figsize=(max(w * scale, 1.5), max(h * scale, 1.5)))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))  # the image fills the figure: no margins shrinking it
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
    inv = ~transform
    for d in detections:
        local = reproject_geometry(d.footprint, "EPSG:4326", crs)
        if isinstance(local, Polygon):
            cols, rows = zip(*[inv @ xy for xy in local.exterior.coords], strict=True)
            cue = kind_cue(d.kind)
            _plot_cased(ax, np.array(cols) - 0.5, np.array(rows) - 0.5, cue.colour, linestyle=_linestyle(cue))
    for c in changes:
        local = reproject_geometry(c.polygon, "EPSG:4326", crs)
        parts = local.geoms if isinstance(local, MultiPolygon) else [local] if isinstance(local, Polygon) else []
        for ring in (r for part in parts for r in (part.exterior, *part.interiors)):
            cols, rows = zip(*[inv @ xy for xy in ring.coords], strict=True)
            _plot_cased(ax, np.array(cols) - 0.5, np.array(rows) - 0.5, CHANGE_COLOURS.get(c.direction, OTHER_COLOUR),
                        linestyle=(0, CHANGE_DASH[1]))
    _scale_and_north(ax, transform, crs, w, h)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    res = obs.scene.resolution_m
    if title is None:
        ax.set_title(SIMULATED_LABEL if obs.scene.simulated else "", fontsize=_CHIP_TITLE_PT)
    else:
        # The date over the sensor: on one line at this size the title outran a 170 px chip.
        label = title or f"{acquired_label(obs)}\n{obs.scene.sensor} {pixel_size_text(res)}"
        ax.set_title(_title(label, obs.scene.simulated), fontsize=_CHIP_TITLE_PT)
    # The time under the chip only where its title does not show it (``title`` None or the caller's own).
    _credit_footer(fig, chip_caption(obs, drawable(site, obs.site_id) if site else "", with_time=title != ""))
    return fig
