"""Inline SVG drawings for the dashboard, in a site's UTM coordinates (metres): no map library.

The archive's COGs lie on the site's UTM grid, so a site's outline, its berths and water, and
the oriented boxes of its detections are drawn in that CRS: one metre is one SVG unit, and
north is up (SVG's y grows downwards, so every y is negated). An observation's overlay has the
extent of its image, to lie exactly over the quick-look PNG of that image.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from html import escape

from shapely.geometry import GeometryCollection, LineString, MultiLineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from ..geo import reproject_geometry, utm_crs_for
from ..model import Change, Detection, Grid, Site
from ..report.berth_labels import label_sides
from ..report.colours import (
    CHANGE_COLOURS,
    CHANGE_DASH,
    KIND_COLOURS,
    OTHER_COLOUR,
    OUTLINE_CASING,
    kind_cue,
)
from ..units import heading_text

__all__ = ["KIND_COLOURS", "CHANGE_COLOURS", "site_crs", "site_svg", "overlay_svg", "changes_overlay_svg", "grid_bounds", "months_svg"]



def site_crs(site: Site, grids: Sequence[Grid] = ()) -> str:
    """The CRS to draw ``site`` in: that of its archived images, else the UTM zone of its centre."""
    if grids:
        return grids[0].crs
    c = site.require_geometry().centroid
    return utm_crs_for(c.x, c.y)


def _to_crs(geoms: Sequence[BaseGeometry], crs: str) -> list[BaseGeometry]:
    """WGS84 geometries in ``crs``, reprojected together (one transformer for all)."""
    if not geoms:
        return []
    return list(reproject_geometry(GeometryCollection(list(geoms)), "EPSG:4326", crs).geoms)


def _points(coords: Iterable[tuple[float, ...]]) -> str:
    return " ".join(f"{x:.1f},{-y:.1f}" for x, y, *_ in coords)


def _shape(geom: BaseGeometry, attrs: str, title: str = "") -> str:
    """SVG elements for a polygon or line (and their multi-part forms), with an optional tooltip."""
    tip = f"<title>{escape(title)}</title>" if title else ""
    if isinstance(geom, Polygon):
        d = " ".join(f"M{_points(r.coords)}Z" for r in (geom.exterior, *geom.interiors))
        return f'<path d="{d}" fill-rule="evenodd" {attrs}>{tip}</path>'
    if isinstance(geom, LineString):
        return f'<polyline points="{_points(geom.coords)}" fill="none" {attrs}>{tip}</polyline>'
    if isinstance(geom, (MultiPolygon, MultiLineString, GeometryCollection)):
        return "".join(_shape(g, attrs, title) for g in geom.geoms)
    return ""


def _link(href: str, name: str, shape: str) -> str:
    # A screen reader names a link by its text, and a shape has none: the tooltip's words name it.
    return f'<a href="{escape(href)}" aria-label="{escape(name)}">{shape}</a>'


def _cased(geom: BaseGeometry, attrs: str, title: str) -> str:
    """The outline drawn twice: a dark casing, then the coloured line (``attrs``) on it."""
    casing = _shape(geom, f'stroke="{OUTLINE_CASING}" stroke-width="3.5" fill="none" vector-effect="non-scaling-stroke"')
    return casing + _shape(geom, attrs, title)


def _detection_title(d: Detection) -> str:
    size = f"≥ {d.length_m:.0f} m" if d.truncated else f"{d.length_m:.0f} m"
    return f"{d.id}: {d.kind} {size}, heading {heading_text(d.heading_deg)}, score {d.score:.2f}"


def _detections(detections: Sequence[Detection], crs: str, href: Callable[[int, Detection], str] | None) -> list[str]:
    out = []
    for i, (d, g) in enumerate(zip(detections, _to_crs([d.footprint for d in detections], crs), strict=True), start=1):
        cue = kind_cue(d.kind)
        title = _detection_title(d)
        # The kind's pattern on its colour: the cue a reader who cannot tell the colours still has.
        dashes = f' stroke-dasharray="{cue.svg_dasharray}"' if cue.svg_dasharray else ""
        shape = _cased(g, f'stroke="{cue.colour}" stroke-width="1.5"{dashes} fill="{cue.colour}" fill-opacity="0.15" '
                          'vector-effect="non-scaling-stroke"', title)  # fmt: skip
        # Each box is a link (no script needed): to its row of the table, or to its observation.
        out.append(_link(href(i, d), title, shape) if href else shape)
    return out


def _changes(changes: Sequence[Change], crs: str, href: Callable[[int, Change], str] | None) -> list[str]:
    out = []
    for i, (c, g) in enumerate(zip(changes, _to_crs([c.polygon for c in changes], crs), strict=True), start=1):
        colour = CHANGE_COLOURS.get(c.direction, OTHER_COLOUR)
        title = f"{c.id}: {c.direction}, {c.area_m2:.0f} m² ({c.before_id} → {c.after_id})"
        shape = _cased(g, f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="{CHANGE_DASH[0]}" fill="{colour}" '
                          'fill-opacity="0.12" vector-effect="non-scaling-stroke"', title)  # fmt: skip
        out.append(_link(href(i, c), title, shape) if href else shape)
    return out


def _svg(bounds: tuple[float, float, float, float], body: Sequence[str], *, label: str, css_class: str,
         preserve: str = "xMidYMid meet") -> str:  # fmt: skip
    minx, miny, maxx, maxy = bounds
    w, h = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    # A picture with links in it is a group: role="img" would hide its links from a screen reader
    # while the keyboard still stops on them (axe: nested-interactive).
    role = "group" if any("<a " in b for b in body) else "img"
    return (
        f'<svg class="{css_class}" role="{role}" aria-label="{escape(label)}" '
        f'viewBox="{minx:.1f} {-maxy:.1f} {w:.1f} {h:.1f}" preserveAspectRatio="{preserve}">'
        + "".join(body)
        + "</svg>"
    )


def site_svg(site: Site, detections: Sequence[Detection], crs: str,
             href: Callable[[int, Detection], str] | None = None, changes: Sequence[Change] = (),
             change_href: Callable[[int, Change], str] | None = None, label: str = "") -> str:  # fmt: skip
    """The site's water, outline and berths (named) with every detection's box and every stored change
    region (dashed), in ``crs``; ``href(n, detection)`` and ``change_href(n, change)`` (n counting from 1)
    make each a link. ``label`` names the drawing to a screen reader (what it shows, in words)."""
    geom = reproject_geometry(site.require_geometry(), "EPSG:4326", crs)
    minx, miny, maxx, maxy = geom.bounds
    pad = 0.03 * max(maxx - minx, maxy - miny)
    body = []
    if site.water is not None:
        body.append(_shape(reproject_geometry(site.water, "EPSG:4326", crs), 'fill="#cfe8ff" stroke="none"', "water"))
    body.append(_shape(geom, 'fill="none" stroke="#333" stroke-width="1.5" vector-effect="non-scaling-stroke"',
                       f"site {site.id}"))  # fmt: skip
    berths = _to_crs([b.geometry for b in site.berths], crs)
    for b, g in zip(site.berths, berths, strict=True):
        body.append(_shape(g, 'fill="none" stroke="#8c564b" stroke-width="3" vector-effect="non-scaling-stroke"',
                           f"berth {b.name or b.id}"))  # fmt: skip
    body += _changes(changes, crs, change_href)
    body += _detections(detections, crs, href)
    font = 0.025 * max(maxx - minx, maxy - miny)
    centres = [g.centroid for g in berths]
    near = 0.08 * max(maxx - minx, maxy - miny)
    # The two faces of one pier named apart, as the report's map names them (label_sides).
    for b, g, c, side in zip(site.berths, berths, centres, label_sides(centres, near), strict=True):
        if side in ("left", "right"):
            x, y, anchor = (c.x - font / 2, -c.y, "end") if side == "left" else (c.x + font / 2, -c.y, "start")
        else:
            # Beyond the line's eastern end, not at its middle, where the ships moored along it lie.
            x, anchor = g.bounds[2] + font / 3, "start"
            y = -c.y - font * 0.3 if side == "above" else -c.y + font * 0.9
        # A white halo (drawn under the letters) keeps a name legible over water, lines and outlines.
        body.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{font:.1f}" fill="#8c564b" stroke="#fff" '
                    f'stroke-width="{font / 6:.1f}" paint-order="stroke" '
                    f'text-anchor="{anchor}">{escape(b.name or b.id)}</text>')  # fmt: skip
    return _svg((minx - pad, miny - pad, maxx + pad, maxy + pad), body,
                label=label or f"map of {site.id} (UTM {crs})", css_class="map")  # fmt: skip


def grid_bounds(grid: Grid) -> tuple[float, float, float, float]:
    """The extent (minx, miny, maxx, maxy) of a north-up grid in its CRS."""
    a, _, c, _, e, f = grid.transform
    xs = (c, c + a * grid.width)
    ys = (f, f + e * grid.height)
    return min(xs), min(ys), max(xs), max(ys)


def overlay_svg(grid: Grid, detections: Sequence[Detection]) -> str:
    """The detections' oriented boxes over an image on ``grid``: the SVG spans the image exactly, to
    lie over its quick-look, and each box links to the detection's row (``#det-N``, N counting from 1)."""
    return _svg(grid_bounds(grid), _detections(detections, grid.crs, lambda i, d: f"#det-{i}"),
                label="outlines of the detections", css_class="overlay", preserve="none")  # fmt: skip


def changes_overlay_svg(bounds: tuple[float, float, float, float], crs: str, changes: Sequence[Change]) -> str:
    """A change pair's regions, dashed in their direction's colour, over an image of ``bounds`` (minx, miny,
    maxx, maxy in ``crs``): the SVG spans them exactly, to lie over the quick-look of that part of the image,
    and each region links to its row (``#region-N``, N counting from 1)."""
    return _svg(bounds, _changes(changes, crs, lambda i, c: f"#region-{i}"),
                label="outlines of the change regions", css_class="overlay", preserve="none")  # fmt: skip


def months_svg(months: Sequence[dict[str, object]], href: Callable[[dict[str, object]], str], *, label: str,
               shown: tuple[str, str] | None = None) -> str:  # fmt: skip
    """The whole span of a site a month at a time (:func:`~sitewatch.web.data.site_months`): one bar per month, as
    tall as its dates with a vessel detected, over a pale one of its images' days, each a link to that month's
    period (``href``); the months of ``shown`` (first and last ``YYYY-MM`` of the page's period) underlined.
    Five years are 60 bars: the page's size stays that of one period whatever the archive holds."""
    w, h, gap = 10, 40, 2
    body = []
    for k, m in enumerate(months):
        x = k * (w + gap)
        images, vessels = int(str(m["images"])), int(str(m["vessel_dates"]))
        bar = round(h * min(vessels, 31) / 31, 1)
        tip = f"{m['month']}: {images} image(s), {vessels} date(s) with a vessel detected"
        shape = (f'<rect x="{x}" y="0" width="{w}" height="{h}" fill="{"#eef1f4" if images else "#fff"}"/>'
                 f'<rect x="{x}" y="{h - bar}" width="{w}" height="{bar}" fill="#3b6ea5"/>')  # fmt: skip
        if shown and shown[0] <= str(m["month"]) <= shown[1]:
            shape += f'<rect x="{x}" y="{h + 2}" width="{w}" height="3" fill="#222"/>'
        body.append(f'<a href="{escape(href(m))}" aria-label="{escape(tip)}"><title>{escape(tip)}</title>{shape}</a>')
    width = max(len(months) * (w + gap) - gap, 1)
    return (f'<svg class="months" role="group" aria-label="{escape(label)}" width="{width}" height="{h + 6}" '
            f'viewBox="0 0 {width} {h + 6}" xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>')
