"""The HTML report: one self-contained file that works offline.

Per site: a map with its berths, the occupancy timeline (chart, periods with
their presence days in words, table of dates), the changes between
consecutive dates as before/after chips side by side, an image chip with
outlines for every observation with detections, close-ups of the
highest-scoring detections, and a table of every
detection with its provenance (scene id, time, sensor, resolution, file
hash). Then the evaluation figures recorded by ``sitewatch eval`` and the
stage runs with the sitewatch version that made them.

Images are PNGs embedded as base64 ``data:`` URIs; the page loads nothing
from anywhere (no scripts, fonts or style sheets from the network), so it
opens the same on an air-gapped machine. Every part showing simulated data
says "Simulated imagery".
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import jinja2
import markupsafe
from shapely.geometry import Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from .. import __version__
from ..analysis.links import inland_without_vessels
from ..analysis.occupancy import (
    Timeline,
    TimelineParams,
    TimelineRow,
    build_timeline,
    count_noun,
    equipment_changes,
    observation_date,
)
from ..analysis.period_records import read_timeline_records
from ..evaluate import latest_evaluation
from ..model import (
    Change,
    Detection,
    Observation,
    Site,
    acquired_label,
    acquired_text,
    direction_counts,
)
from ..share import SHARED_NOTE, SharedPaths, shared_paths
from ..store.changes import ChangePair, pairs_with_regions
from ..units import heading_text, pixel_size_text
from ..vessels import catalogue, is_ambiguous
from ..workspace import Workspace
from . import charts, colours
from .credits import credit_text, credits_text, scene_credit
from .exports import date_zone, write_text_atomic

if TYPE_CHECKING:
    from ..analysis.ais_coverage import StatedCoverage

__all__ = ["write_report", "render_report", "in_period", "period_text", "MAX_CHIPS_PER_SITE", "MAX_CHANGES_PER_SITE", "MAX_CLOSE_UPS_PER_SITE",
           "REPORT_CSP"]

MAX_CHIPS_PER_SITE = 40
"""Observation chips drawn per site, spread evenly over time; the table still lists every detection."""
MAX_CHANGES_PER_SITE = 12
"""Before/after chip pairs drawn per site (shared among its observation periods); the timeline table lists every change."""
MAX_CLOSE_UPS_PER_SITE = 12
"""Close-up chips per site, one per detection, highest scores first."""
OVERVIEW_CHIP_PX = (270, 960)
"""Bounds of an observation chip's longer side (px): a port-wide window keeps its pixels."""
CLOSE_UP_CHIP_PX = (300, 300)
"""Size of a close-up chip (px)."""
MAX_CHANGE_PICTURES_PER_SITE = 6
"""Stored change pairs drawn before/after per site, those with the most changed area; the table lists every pair."""
CHANGE_CHIP_PX = (300, 420)
"""Bounds of a stored change pair's chips (px): a site-wide window keeps its pixels."""


@dataclass
class _Chip:
    label: str
    png: str | None
    observation_id: str = ""
    scene_id: str = ""
    sha256: str = ""
    detections: str = ""
    """What was detected in the image, by kind ("1 vessel, 2 cranes")."""
    path: str = ""
    """The image in the workspace's archive."""
    detection: str = ""
    """For a close-up: the detection it centres on, in words."""
    simulated: bool = False
    credit: str = ""
    """The credit its image's licence asks for (:func:`~sitewatch.report.credits.scene_credit`), also drawn under it."""
    outlined: str = ""
    """For its ``alt``: the detections drawn on it (those on its ground), with each vessel's length (empty:
    ``detections``, which counts every detection of its image)."""
    regions: str = ""
    """For its ``alt``: the change regions outlined on it, by direction and colour (``", and 1 changed region
    outlined dashed (1 appeared, blue)"``); empty without."""

    def alt(self, what: str) -> str:
        """The chip in words for its ``alt``: ``what`` it is, the image, and what is drawn on it (its caption
        adds the ids and the file). "chip" and an observation id told a screen reader nothing it shows."""
        sim = " (simulated imagery)" if self.simulated else ""
        return f"{what}, {self.label}{sim}: {self.outlined or self.detections} outlined{self.regions}"


def _by_kind(detections: Sequence[Detection], *, lengths: bool = False) -> str:
    """``"1 vessel, 2 cranes"``: vessels always (a crane is not a vessel), other kinds when present. With
    ``lengths``, the vessels' measured lengths too, ``"2 vessels (93 m, ≥ 111 m)"`` (``≥``: cut by the image's
    edge), or their range past five: a picture's alt that said "1 vessel" told a screen reader less of the ship
    than the eye sees of it (its class candidates are in the detections table)."""
    counts = Counter(d.kind for d in detections)
    kinds = ["vessel"] + sorted(k for k in counts if k != "vessel")
    words = [count_noun(counts[k], k) for k in kinds]
    vessels = sorted((d for d in detections if d.kind == "vessel"), key=lambda d: d.length_m)
    if lengths and vessels:
        sizes = [f"{'≥ ' if d.truncated else ''}{d.length_m:.0f} m" for d in vessels]
        words[0] += f" ({', '.join(sizes)})" if len(sizes) <= 5 else f" ({sizes[0]} to {sizes[-1]} long)"
    return ", ".join(words)


def _outlined_on_chip(detections: Sequence[Detection], focus: BaseGeometry, margin_m: float | None = None) -> str:
    """The detections a chip around ``focus`` draws, by kind with the vessels' lengths (:func:`_by_kind`), for its
    ``alt``: those on its ground (:func:`~sitewatch.report.charts.chip_area`). A close-up or a change's chip is a
    corner of its image, and its alt listed every ship in the port ("12 vessels (40 m to 300 m long)") under one."""
    area = charts.chip_area(focus) if margin_m is None else charts.chip_area(focus, margin_m)
    return _by_kind([d for d in detections if d.footprint.intersects(area)], lengths=True)


_Pair = tuple[TimelineRow, TimelineRow]
_VesselChange = tuple[TimelineRow, TimelineRow, date | None]
"""The previous row, the row, and for a departure decided after hidden dates the date its vessel was last seen."""
_P = TypeVar("_P", _Pair, _VesselChange)


@dataclass
class _Change:
    text: str
    before: _Chip
    after: _Chip


@dataclass
class _SiteSection:
    site: Site
    timeline: Timeline
    map_png: str
    map_alt: str
    chart_png: str
    chart_size: tuple[int, int]
    """The chart's width and height in pixels: its box scrolls, and says so, on a screen narrower than that."""
    changes: list[_Change] = field(default_factory=list)
    changes_omitted: int = 0
    chips: list[_Chip] = field(default_factory=list)
    chips_omitted: int = 0
    close_ups: list[_Chip] = field(default_factory=list)
    detections: list[dict[str, Any]] = field(default_factory=list)
    imagery: list[str] = field(default_factory=list)
    """One line per image series: sensor, platform, resolution, count, revisit (stated and measured)."""
    revisit_note: str = ""
    """The simulation scenario's own statement of the revisits it chose, if any."""
    inland: bool = False
    """A site of an inland kind (a training ground) where no vessel was detected: no vessel timeline shown."""
    change_pictures: list[_Change] = field(default_factory=list)
    """Before/after chips of the stored change pairs (``sitewatch change``) with the most changed area."""
    change_finding: str = ""
    """The stored changes in one sentence, for the findings; empty when change has not run on the site."""
    change_dated: list[str] = field(default_factory=list)
    """Each change on the ground dated by every stored pair (:func:`sitewatch.change_dating.dated_text`)."""
    images: dict[str, str] = field(default_factory=dict)
    """Each observation's archived image (its ``path``) by observation id: the timeline table links its ids to them."""
    map_credit: tuple[str, str] = ("", "")
    """Under the map (and drawn in it): the site and the dates of the images its detections were found in, and
    their credits."""


def _imagery_lines(observations: Sequence[Observation], utc_offset_hours: float = 0.0) -> tuple[list[str], str]:
    """Describe each image series of a site, with its revisit as stated and as measured; dates
    shifted by ``utc_offset_hours`` as the timeline's are (the report names its date zone)."""
    groups: dict[tuple[str, str, float], list[Observation]] = {}
    note = ""
    for o in observations:
        groups.setdefault((o.scene.sensor, o.scene.platform or o.scene.provider, o.scene.resolution_m), []).append(o)
        note = note or str((o.provenance.get("tags") or {}).get("SITEWATCH_REVISITS_NOTE", ""))
    lines = []
    for (sensor, platform, res), obs in sorted(groups.items()):
        days = sorted({observation_date(o, utc_offset_hours) for o in obs})
        gaps = [(b - a).days for a, b in zip(days, days[1:], strict=False)]
        measured = f"median {statistics.median(gaps):g} day(s) between dates" if gaps else "a single date"
        stated = sorted({str((o.provenance.get("tags") or {}).get("SITEWATCH_REVISIT", "")) for o in obs} - {""})
        sim = " (SIMULATED)" if any(o.scene.simulated for o in obs) else ""
        line = (
            f"{sensor} · {platform}{sim} · {pixel_size_text(res)}: {len(obs)} scene(s), {days[0]} to {days[-1]}, {measured}"
        )
        if stated:
            line += "; revisit as simulated: " + "; ".join(stated)
        lines.append(line)
    return lines, note


def _b64(png: bytes | None) -> str | None:
    return base64.b64encode(png).decode("ascii") if png else None


def _code_version(package_dir: Path | None = None) -> str:
    """sitewatch's version, plus the git commit when run from sitewatch's own source checkout.

    An installed package may sit inside some other repository (a virtualenv in
    the user's own project); that repository's commit says nothing about this
    code, so a commit is named only when the repository's top level holds this
    package as ``src/sitewatch`` and its ``pyproject.toml`` names the project sitewatch.
    """
    package_dir = (package_dir or Path(__file__).parents[1]).resolve()

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(package_dir), *args], capture_output=True, encoding="utf-8", errors="replace", timeout=5, check=True
        ).stdout.strip()

    try:
        top = Path(git("rev-parse", "--show-toplevel")).resolve()
        if package_dir != top / "src" / "sitewatch" or _project_name(top / "pyproject.toml") != "sitewatch":
            return __version__
        out = git("rev-parse", "--short", "HEAD")
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__} (git {out})" if out else __version__


def _project_name(pyproject: Path) -> str:
    import tomllib

    try:
        name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name", "")
    except (OSError, ValueError):
        return ""
    return name.lower() if isinstance(name, str) else ""


TRUNCATED_TEXT = "withheld: cut by the image's edge or missing data"
"""The class candidates cell of a truncated vessel: its size is a lower bound."""


def _candidates_text(d: Detection) -> str:
    if d.truncated and d.kind == "vessel":
        return TRUNCATED_TEXT
    if not d.class_candidates:
        return ""
    text = " · ".join(f"{c.name} {c.likelihood:.0%}" for c in d.class_candidates[:3])
    if is_ambiguous(d.class_candidates):
        text += " (size alone cannot separate the first two)"
    return text


def _obs_label(o: Observation) -> str:
    return f"{acquired_label(o)} · {o.scene.sensor} {pixel_size_text(o.scene.resolution_m)}"


def _best_obs(row: TimelineRow, obs: dict[str, Observation], dets: dict[str, list[Detection]]) -> Observation:
    # The finest pixels show most (a crane is only seen at a few metres); then the one that saw most.
    return min(
        (obs[i] for i in row.observation_ids),
        key=lambda o: (o.scene.resolution_m, -len(dets.get(o.id, [])), o.id),
    )


def _focus(geoms: Sequence[BaseGeometry], site: Site) -> BaseGeometry:
    if geoms:
        return unary_union(list(geoms)).envelope
    c = site.require_geometry().centroid
    return box(c.x - 0.002, c.y - 0.0015, c.x + 0.002, c.y + 0.0015)


def _vessel_change_text(row: TimelineRow, departure_berths: Sequence[str] | None = None, *, arrivals: bool = True) -> str:
    """The vessel changes of ``row`` in words: its arrivals (unless not ``arrivals``), the departures
    from ``departure_berths`` (default: all of them) and the berths hidden on its date."""
    parts = []
    if row.arrivals and arrivals:
        parts.append(f"{row.arrivals} arrival{'s' * (row.arrivals > 1)} ({', '.join(row.arrival_berths)})")
    left = row.departure_berths if departure_berths is None else tuple(departure_berths)
    if left:
        parts.append(f"{len(left)} departure{'s' * (len(left) > 1)} ({', '.join(left)})")
    if row.hidden_berths:
        parts.append(f"not seen (no data or cloud): {', '.join(row.hidden_berths)}")
    return "; ".join(parts)


def _day(d: date, *, year: bool = False) -> str:
    return f"{d.day} {d:%b}" + (f" {d.year}" if year else "")


def _days_text(days: Sequence[date]) -> str:
    """``"18 Oct"``, ``"18–19 Oct"``, ``"30 Oct–2 Nov"``: the first and last of some dates."""
    first, last = min(days), max(days)
    if first == last:
        return _day(first)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{_day(last)}"
    return f"{_day(first, year=first.year != last.year)}–{_day(last, year=first.year != last.year)}"


def _last_seen_text(last_seen: date, hidden: Sequence[date]) -> str:
    """``"last seen 17 Oct; berth hidden 18–19 Oct"``: why a departure's before-chip is older than the previous date."""
    text = f"last seen {_day(last_seen)}"
    if hidden:
        n = len(hidden)
        text += f"; berth hidden {_days_text(hidden)}" + (f" ({n} dates)" if n > 2 else "")
    return text


def _equipment_change_text(prev: TimelineRow, row: TimelineRow) -> str:
    # The vessel counts are already in the change's heading; name the other objects.
    parts = []
    for kind in sorted(set(prev.others) | set(row.others)):
        a, b = prev.others.get(kind, 0), row.others.get(kind, 0)
        if a != b:
            parts.append(f"{kind} {a} → {b}")
    return "; ".join(parts + ["fine-resolution looks compared"])


_T = TypeVar("_T")


def _spread(items: Sequence[_T], n: int) -> list[_T]:
    """At most ``n`` of ``items``, evenly spread over them, the first and the last included."""
    if len(items) <= n:
        return list(items)
    if n <= 1:
        return list(items[:n])
    return [items[round(k * (len(items) - 1) / (n - 1))] for k in range(n)]


def _shared_among_periods(pairs: Sequence[_P], cap: int) -> list[_P]:
    """At most ``cap`` changes, shared in turn among the observation periods and spread evenly over each.

    Each change is a tuple whose second item is the row of its later date. Taking the first ``cap``
    would let a busy early campaign crowd a later one out of the report altogether (Rason 2023 hid
    Rason October 2024).
    """
    groups: dict[int, list[_P]] = {}
    for pair in pairs:
        groups.setdefault(pair[1].period, []).append(pair)
    quota = dict.fromkeys(groups, 0)
    left = cap
    while left and any(quota[k] < len(g) for k, g in groups.items()):
        for k, g in groups.items():
            if left and quota[k] < len(g):
                quota[k] += 1
                left -= 1
    return [pair for k, g in groups.items() for pair in _spread(g, quota[k])]


def _change_text(pair: ChangePair, regions: Sequence[Change]) -> str:
    """``"2024-10-01 → 2024-10-08 (3 m optical): 3 regions, 24,687 m² (2 appeared, 0 disappeared, 1 altered);
    largest 9,873 m², appeared"``."""
    counts = direction_counts(r.direction for r in regions)
    largest = max(regions, key=lambda r: r.area_m2)
    return (f"{pair.before_acquired:%Y-%m-%d} → {pair.after_acquired:%Y-%m-%d}: {count_noun(len(regions), 'region')}, "
            f"{sum(r.area_m2 for r in regions):,.0f} m² ("
            + ", ".join(f"{n} {d}" for d, n in counts.items())
            + f"); largest {largest.area_m2:,.0f} m², {largest.direction}")  # fmt: skip


def _map_alt(site: Site, detections: Sequence[Detection], simulated: bool, changes: Sequence[Change] = ()) -> str:
    """The site map in words, for its ``alt``: what it draws (the outline, water and berths by name),
    how many detections of each kind it outlines, and how many change regions of each direction."""
    drawn = [d for d in detections if isinstance(d.footprint, Polygon)]  # as site_map_figure draws them
    berths = "; ".join(b.name or b.id for b in site.berths)  # a name may hold a comma ("Pier, east face")
    parts = ["its outline"] + (["its water"] if site.water is not None else [])
    parts.append(f"its berths ({berths})" if berths else "no berths")
    sim = " (simulated imagery)" if simulated else ""
    regions = ""
    if changes:
        counts = direction_counts(c.direction for c in changes)
        regions = f"; {count_noun(len(changes), 'changed region')} outlined dashed ({colours.directions_in_words(counts)})"
    return f"Map of {site.name or site.id}{sim}: {', '.join(parts)}; {_by_kind(drawn)} outlined by kind{regions}"


def _map_credit(site: Site, observations: Sequence[Observation], drawn_from: set[str]) -> tuple[str, str]:
    """What the site map carries under it: the site and the first and last acquisition dates (UTC) of the images
    its outlines were found in (``drawn_from``: its detections' and its changed regions'), and their credits
    (:func:`~sitewatch.report.credits.credits_text`); the period's images when it outlines nothing (the map then
    shows the site alone)."""
    used = [o for o in observations if o.id in drawn_from]
    what = "outlines from images of" if used else "images of"
    used = used or list(observations)
    if not used:
        return "", ""
    days = sorted(o.scene.acquired.date() for o in used)
    span = days[0].isoformat() if days[0] == days[-1] else f"{days[0].isoformat()} to {days[-1].isoformat()}"
    name = charts.drawable(site.name or site.id, site.id)
    return f"{name} · {what} {span} (UTC)", credits_text(o.scene for o in used)


def _change_finding(name: str, pairs: Sequence[tuple[ChangePair, list[Change]]], first: str = "") -> str:
    """The stored change pairs of a site in one sentence (empty when there are none); ``first``, the first
    change on the ground dated (:func:`sitewatch.change_dating.dated_text`), ends it."""
    if not pairs:
        return ""
    changed = [(p, rs) for p, rs in pairs if rs]
    head = f"{name}: change found in {len(changed)} of {count_noun(len(pairs), 'pair')} of observations compared"
    if not changed:
        return f"{name}: no change found in the {count_noun(len(pairs), 'pair')} of observations compared."
    p, rs = max(changed, key=lambda pr: (sum(r.area_m2 for r in pr[1]), pr[0].after_acquired))
    dated = f" The first change on the ground: {first}." if first else ""
    return f"{head}, {count_noun(sum(len(rs) for _, rs in changed), 'region')} in all; the most: {_change_text(p, rs)}.{dated}"





def in_period(o: Observation, params: TimelineParams) -> bool:
    """Whether ``o`` counts for a date of the period ``params.start``..``params.end`` (the timeline's dates: local
    ones with ``utc_offset_hours``; either end open when None): what a report of that period shows of it."""
    if params.start is None and params.end is None:
        return True
    day = observation_date(o, params.utc_offset_hours)
    return not ((params.start and day < params.start) or (params.end and day > params.end))


def period_text(params: TimelineParams) -> str:
    """The period of ``params`` in words, ``"2024-10-01 to 2024-10-31 (UTC dates)"``, ``"from 2024-10-01 (UTC+10
    dates)"``; empty without ``start`` and ``end`` (every date)."""
    if params.start is None and params.end is None:
        return ""
    if params.start and params.end:
        span = f"{params.start.isoformat()} to {params.end.isoformat()}"
    else:
        span = f"from {params.start.isoformat()}" if params.start else f"to {params.end.isoformat()}"  # type: ignore[union-attr]
    return f"{span} ({'local dates at ' if params.utc_offset_hours else ''}{date_zone(params.utc_offset_hours)}{'' if params.utc_offset_hours else ' dates'})"


def _site_section(ws: Workspace, site: Site, observations: list[Observation], detections: list[Detection],
                  params: TimelineParams, undetected: set[str],
                  change_pairs: Sequence[tuple[ChangePair, list[Change]]] = ()) -> _SiteSection:  # fmt: skip
    # The timeline is built from every observation read (the period's and those before it that settle it), as
    # `timeline --from` builds it: the first date of the period is compared with the usable date before it, so a
    # vessel already there then is no arrival.
    tl = build_timeline(site.id, observations, detections, params, site_name=site.name, undetected=undetected,
                        site_geometry=site.geometry)
    # Everything else shows the period alone: no image, chip or detection from outside it.
    observations = [o for o in observations if in_period(o, params)]
    obs = {o.id: o for o in observations}
    detections = [d for d in detections if d.observation_id in obs]
    change_pairs = [(p, rs) for p, rs in change_pairs if p.before_id in obs and p.after_id in obs]
    by_obs: dict[str, list[Detection]] = {}
    for d in detections:
        by_obs.setdefault(d.observation_id, []).append(d)
    simulated = any(o.scene.simulated for o in observations)
    # A training ground has no vessel timeline to speak of: 14 dates of "0 vessels" say nothing.
    inland = inland_without_vessels(site, detections)
    chart = None if inland else charts.timeline_chart_png(tl)
    regions = [r for _, rs in change_pairs for r in rs]
    # The images the map's outlines were found in: its detections' and its change pairs'.
    drawn_from = {d.observation_id for d in detections} | {i for p, rs in change_pairs if rs for i in (p.before_id, p.after_id)}
    map_credit = _map_credit(site, observations, drawn_from)
    from ..change_dating import dated_lines

    dated = dated_lines(observations, change_pairs)
    section = _SiteSection(
        site=site,
        timeline=tl,
        map_png=_b64(charts.site_map_png(site, detections, simulated=simulated, caption=map_credit[0],
                                                credit=map_credit[1], changes=regions)) or "",
        map_alt=_map_alt(site, detections, simulated, regions),
        chart_png=_b64(chart) or "",
        chart_size=charts.png_size(chart) if chart else (0, 0),
        inland=inland,
        change_finding=_change_finding(site.name or site.id, change_pairs, (dated or [""])[0]),
        change_dated=dated,
        images={o.id: o.path for o in observations},
        map_credit=map_credit,
    )
    section.imagery, section.revisit_note = _imagery_lines(observations, params.utc_offset_hours)

    def chip(o: Observation, focus: BaseGeometry, **kw: Any) -> _Chip:
        ds = by_obs.get(o.id, [])
        png = charts.chip_png(ws.root / o.path, o, ds, focus, site=site.name or site.id, **kw)
        # A region's direction is drawn by its colour alone (every region is dashed): the alt says it.
        rs = kw.get("changes") or ()
        regions = (f", and {count_noun(len(rs), 'changed region')} outlined dashed "
                   f"({colours.directions_in_words(direction_counts(r.direction for r in rs))})") if rs else ""  # fmt: skip
        return _Chip(_obs_label(o), _b64(png), o.id, o.scene.id, o.sha256, _by_kind(ds), o.path,
                     simulated=o.scene.simulated, credit=credit_text(scene_credit(o.scene)),
                     outlined=_outlined_on_chip(ds, focus, kw.get("margin_m")), regions=regions)  # fmt: skip

    # The stored change pairs with the most changed area, in time order, their regions outlined on both images.
    changed = [(p, rs) for p, rs in change_pairs if rs and p.before_id in obs and p.after_id in obs]
    most = sorted(changed, key=lambda pr: -sum(r.area_m2 for r in pr[1]))[:MAX_CHANGE_PICTURES_PER_SITE]
    for p, rs in sorted(most, key=lambda pr: (pr[0].after_acquired, pr[0].before_acquired)):
        focus = unary_union([r.polygon for r in rs]).envelope
        kw: dict[str, Any] = {"changes": rs, "margin_m": 60.0, "size_px": CHANGE_CHIP_PX}
        section.change_pictures.append(_Change(_change_text(p, rs), chip(obs[p.before_id], focus, **kw),
                                               chip(obs[p.after_id], focus, **kw)))  # fmt: skip

    # Vessel arrivals/departures between consecutive dates, and equipment (cranes, trucks) changes
    # between consecutive fine-resolution dates; one before/after pair per pair of dates. A departure
    # decided after its berth was hidden is its own pair, from the date the vessel was last seen: the
    # previous date's image is the one that did not show the berth.
    vessel_changes: list[_VesselChange] = []
    for prev, row in zip(tl.rows, tl.rows[1:], strict=False):
        if row.period != prev.period:
            continue
        if row.arrivals or row.departures > len(row.carried_departures):
            vessel_changes.append((prev, row, None))
        vessel_changes += [(prev, row, seen) for seen in sorted({s.last_seen for s in row.carried_departures if s.last_seen})]
    equipment_pairs = equipment_changes(tl)
    section.changes_omitted = max(len(vessel_changes) - MAX_CHANGES_PER_SITE, 0) + max(
        len(equipment_pairs) - MAX_CHANGES_PER_SITE, 0
    )
    texts: dict[tuple[str, str], list[str]] = {}
    # Each pair of dates -> its before and after images, and the vessels on each date.
    shown: dict[tuple[str, str], tuple[Observation, Observation, str]] = {}
    for prev, row in _shared_among_periods(equipment_pairs, MAX_CHANGES_PER_SITE):
        key = (prev.date.isoformat(), row.date.isoformat())
        texts.setdefault(key, []).append(_equipment_change_text(prev, row))
        shown[key] = (_best_obs(prev, obs, by_obs), _best_obs(row, obs, by_obs), f"vessels {prev.vessels} → {row.vessels}")
    rows_by_date = {r.date: r for r in tl.rows}
    for prev, row, seen in _shared_among_periods(vessel_changes, MAX_CHANGES_PER_SITE):
        after = _best_obs(row, obs, by_obs)
        carried = [s for s in row.carried_departures if s.last_seen]
        if seen is None:
            key = (prev.date.isoformat(), row.date.isoformat())
            left = list(row.departure_berths)
            for s in carried:  # shown from the date each was last seen
                left.remove(s.berth_id or "-")
            text = _vessel_change_text(row, left)
            shown[key] = (_best_obs(prev, obs, by_obs), after, f"vessels {prev.vessels} → {row.vessels}")
        else:
            key = (seen.isoformat(), row.date.isoformat())
            gone = sorted((s for s in carried if s.last_seen == seen), key=lambda s: (s.observation_id, s.detection_id))
            berths = {s.berth_id for s in gone}
            hidden = [r.date for r in tl.rows if seen < r.date < row.date and berths & set(r.hidden_berths)]
            text = (_vessel_change_text(row, sorted(s.berth_id or "-" for s in gone), arrivals=False)
                    + f"; {_last_seen_text(seen, hidden)}")  # fmt: skip
            # The image that saw the vessel; its date's row is gone when it lies before --from.
            seen_row = rows_by_date.get(seen)
            before = obs.get(gone[0].observation_id) or _best_obs(prev, obs, by_obs)
            shown[key] = (before, after, f"vessels {seen_row.vessels} → {row.vessels}" if seen_row
                          else f"vessels {row.vessels}")  # fmt: skip
        texts.setdefault(key, []).insert(0, text)
    for key in sorted(shown):
        a, b, vessels = shown[key]
        focus = _focus([d.footprint for d in by_obs.get(a.id, []) + by_obs.get(b.id, [])], site)
        text = f"{key[0]} → {key[1]}: {vessels}; " + "; ".join(t for t in texts[key] if t)
        section.changes.append(_Change(text, chip(a, focus), chip(b, focus)))

    with_dets = [o for o in observations if by_obs.get(o.id)]
    section.chips_omitted = max(len(with_dets) - MAX_CHIPS_PER_SITE, 0)
    for o in _spread(with_dets, MAX_CHIPS_PER_SITE):  # the latest observation among them
        section.chips.append(chip(o, _focus([d.footprint for d in by_obs[o.id]], site), size_px=OVERVIEW_CHIP_PX))
    # A port-wide chip shows a 100 m ship as a few pixels: close-ups of the strongest
    # detections let a reader check them by eye.
    for d in sorted((d for d in detections if d.observation_id in obs), key=lambda d: (-d.score, d.id))[
        :MAX_CLOSE_UPS_PER_SITE
    ]:
        o = obs[d.observation_id]
        close = chip(o, d.footprint.envelope, margin_m=max(120.0, d.length_m), size_px=CLOSE_UP_CHIP_PX)
        length = f"≥ {d.length_m:.0f} m (cut by the image's edge or missing data)" if d.truncated else f"{d.length_m:.0f} m"
        close.detection = f"{d.id} · {d.kind} {length} · score {d.score:.2f}"
        section.close_ups.append(close)

    for d in detections:
        src = obs.get(d.observation_id)
        c = d.centroid
        section.detections.append(
            {
                "id": d.id,
                "kind": d.kind,
                "length_m": d.length_m,
                "width_m": d.width_m,
                "heading_deg": d.heading_deg,
                "score": d.score,
                "berth": d.berth_id or "",
                "candidates": _candidates_text(d),
                "truncated": d.truncated,
                "detector": f"{d.detector} {d.detector_version}",
                "lon": c.x,
                "lat": c.y,
                "observation_id": d.observation_id,
                "scene_id": src.scene.id if src else "",
                "acquired": acquired_label(src, seconds=True) if src else "",
                "sensor": src.scene.sensor if src else "",
                "resolution_m": src.scene.resolution_m if src else None,
                "sha256": src.sha256 if src else "",
                "simulated": src.scene.simulated if src else False,
            }
        )
    return section


RUN_TEXT_CHARS = 600
"""A run's parameters or result shown in the report's provenance table at most this long: an eval's
result holds every observation's figures (57 kB for the demo, 27 printed pages)."""


def _as_written(text: str) -> str:
    """Stored JSON (a run's parameters or result) with its characters as written: the runs table keeps JSON's
    escapes (a folder "démo" as "d\\u00e9mo"), which a reader of the report should not have to decode."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


def _shortened(text: str, limit: int = RUN_TEXT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters in all: the runs table of the workspace's sitewatch.gpkg)"


def isolate_name(line: str, name: str) -> markupsafe.Markup:
    """``line`` as HTML, with ``name`` set apart in a ``<bdi>`` when the line begins with it (``"Rason: 34 presence
    days…"``): after an Arabic or Hebrew name the ': ' and the figure that follow it took the name's direction, and a
    left-to-right page showed the figure on the name's other side ("34 :ميناء طرطوس presence days")."""
    if name and line.startswith(name):
        return markupsafe.Markup("<bdi>{}</bdi>{}").format(name, line[len(name):])
    return markupsafe.escape(line)


def template_environment(templates: str = "report/templates") -> jinja2.Environment:
    """Jinja for sitewatch's pages: the package folder ``templates``, HTML escaped, undefined names an
    error, and the report's filters (``pct``, ``num``, ``heading``, ``utc`` for a stored time), which the dashboard's
    pages share."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sitewatch", templates),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pct"] = lambda v: "–" if v is None else f"{v:.1%}"
    env.filters["num"] = lambda v, nd=1: "–" if v is None else f"{v:.{nd}f}"
    env.filters["pixel_size"] = lambda v: "–" if v is None else pixel_size_text(v)  # a resolution: "9.54 m", "10 m"
    env.filters["heading"] = lambda v: "–" if v is None else heading_text(v)  # a long axis: "0°" to "179°"
    env.filters["utc"] = utc_text
    env.filters["chart_alt"] = charts.timeline_chart_alt
    env.filters["isolate_name"] = isolate_name
    env.filters["directions"] = colours.directions_in_words
    # The outlines' colours and line patterns in words, from where the pictures take them: a caption
    # naming "red" over a vermilion line misleads the very reader it is for.
    env.globals["kinds_legend"] = colours.kinds_legend()
    env.globals["changes_legend"] = colours.changes_legend()
    return env


def utc_text(value: str | datetime | None, date_only: bool = False) -> str:
    """A stored time (ISO 8601 text or a datetime) as a page shows it, ``2024-10-17 09:30 UTC`` (the
    date and "time unknown" for an image known by its date only), not ``2024-10-17T09:30:00.408Z``;
    text that is not a time is shown as it is."""
    if value is None or value == "":
        return ""
    when = value
    if not isinstance(when, datetime):
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    return acquired_text(when if when.tzinfo else when.replace(tzinfo=UTC), date_only)


def image_href(ws: Workspace, path: str, out_dir: Path | None = None, *, share: bool = False) -> str:
    """A link to the archived image ``path`` (relative to the workspace) from a page in ``out_dir``
    (default: the workspace's folder): relative, so that the report and the workspace can move
    together; a ``file:`` URI when no relative path leads there (another drive). With ``share``, a
    page outside the workspace links as if it lay in the workspace's folder: a path climbing out of
    its own folder to the workspace would name the folders between them (a home folder, a user).

    Only the workspace's folder and ``out_dir`` are resolved, not the image's path inside the workspace: an
    ``archive/`` (or a site's folder in it) that is a symlink to a big disk is linked through, so a report in
    the workspace keeps its links when the workspace is copied and the link pointed at the disk's new place,
    and names no folder of that disk."""
    root = ws.root.resolve()
    target = root / path
    if share and out_dir is not None and not Path(out_dir).resolve().is_relative_to(root):
        out_dir = None
    if out_dir is None:
        return quote(Path(path).as_posix())
    try:
        rel = os.path.relpath(target, Path(out_dir).resolve())
    except ValueError:
        return target.as_uri()
    return quote(Path(rel).as_posix())


def render_report(ws: Workspace, site_ids: Sequence[str] | None = None,
                  params: TimelineParams | None = None, ais_files: Sequence[str | Path] = (),
                  claims_files: Sequence[str | Path] = (), out_dir: Path | None = None, *, share: bool = False,
                  ais_coverage: StatedCoverage | None = None, ais_max_gap_s: float | None = None) -> str:
    """The report of ``site_ids`` (default: every site with observations) as one HTML string;
    with ``ais_files``, an AIS section (:mod:`sitewatch.report.ais_section`); with ``claims_files``,
    the claims checked against the imagery (:mod:`sitewatch.report.claims_section`); ``ais_coverage``, what the
    user says the AIS files cover (``--ais-coverage``, ``--ais-period``); ``ais_max_gap_s``, the AIS matching's
    :attr:`~sitewatch.analysis.ais.AisParams.max_gap_s` (default its own). Links to the
    archived images lead there from a page in ``out_dir`` (default: the workspace's folder). With
    ``share``, no local path outside the workspace is named (:mod:`sitewatch.share`) and the page says so."""
    params = params or TimelineParams()
    with ws.store() as store:
        # One query for which sites have imagery, one for the sites: a port list names thousands.
        held = set(store.imaged_site_ids())
        every = {s.id: s for s in store.sites()}
        # A site named twice is shown once: two sections would share their HTML anchors and chips.
        named = [every.get(s) or store.get_site(s) for s in dict.fromkeys(site_ids)] if site_ids else [
            s for s in every.values() if s.id in held
        ]
        # A site without imagery is a row of one table, not a section with a map and empty tables: a
        # report of 400 such sites was 22 MB and took minutes (a map drawn for each), of 4,000 ten times that.
        sites = [s for s in named if s.id in held]
        unimaged = [_unimaged_row(s) for s in named if s.id not in held]
        # Each site's observations, detections and undetected ones of one moment (a `detect` may be recording).
        # Of a period (--from/--to): its records and those of the weeks before it that settle its timeline's first
        # dates, the whole history when they do not (the timeline is the whole history's either way).
        records = {s.id: read_timeline_records(store, s.id, params, site_geometry=s.geometry) for s in sites}
        # Those of the period (--from/--to): the sections build their timelines from every one read (the period's edges).
        observations = {s.id: [o for o in records[s.id].observations if in_period(o, params)] for s in sites}
        kept = {o.id for obs in observations.values() for o in obs}
        # sitewatch change's stored pairs, for the sites that have any (both images in the period)
        from .change_section import change_rows

        change_pairs = {s.id: [(p, rs) for p, rs in pairs_with_regions(store, s.id) if p.before_id in kept and p.after_id in kept]
                        for s in sites}  # fmt: skip
        stored_changes = {s.id: change_rows(change_pairs[s.id], observations[s.id]) for s in sites}
        sections = [
            _site_section(ws, s, records[s.id].observations, records[s.id].detections, params, records[s.id].undetected,
                          change_pairs[s.id])  # fmt: skip
            for s in sites
        ]
        evaluation = latest_evaluation(store, [s.id for s in sites])
        # Links between sites (sitewatch links), computed from the stored detections as the timeline is.
        from ..analysis.links import load_links

        # AIS, matched once: the AIS section shows it, and it settles links (the same MMSI at both ends, or two).
        ais = links_ais = None
        if ais_files:
            from ..analysis.ais import AisParams, match_workspace
            from ..analysis.links import ais_ids
            from .ais_section import ais_section

            ais_params = AisParams() if ais_max_gap_s is None else AisParams(max_gap_s=ais_max_gap_s)
            # Not at a training ground: no vessel there to match (the demo's AIS is matched the same way).
            matched = match_workspace(store, ws.root, [sec.site.id for sec in sections if not sec.inland], ais_files,
                                      ais_params, coverage=ais_coverage, start=params.start, end=params.end)
            ais, links_ais = ais_section(matched), ais_ids(matched)
        link_params = None
        if params.start or params.end:  # as `links --from/--to`: departures and arrivals of the period
            from ..analysis.links import LinkParams

            link_params = LinkParams(start=params.start, end=params.end)
        links = load_links(store, [s.id for s in sites], link_params, ais=links_ais) if len(sites) > 1 else None
        claims = None
        if claims_files:
            from .claims_section import claims_section

            claims = claims_section(store, claims_files, params.utc_offset_hours)  # the timeline's dates
        stored_runs = [dict(r) for r in store.execute(
            "SELECT stage, site_id, finished, version, parameters, summary FROM runs ORDER BY run_id DESC LIMIT 40"
        )]  # fmt: skip
        sharing = _sharing(ws, observations, stored_runs) if share else None
        if sharing:
            for sec in sections:
                sec.site = sharing.site(sec.site)
        if sharing and claims:  # a claims file's problems may quote its own path
            for f in claims["files"]:
                f["refused"] = [sharing.text(p) for p in f["refused"]]
        runs = [
            # With what each run did: an import that refused every file is not read as one that brought them in.
            {k: r[k] for k in ("stage", "site_id", "finished", "version")}
            | {k: _shortened(sharing.json_text(r[k] or "") if sharing else _as_written(r[k] or ""))
               for k in ("parameters", "summary")}
            for r in stored_runs
        ]
    simulated = any(sec.timeline.simulated for sec in sections)
    env = template_environment()
    env.filters["image_href"] = lambda path: image_href(ws, path, out_dir, share=share)
    html = env.get_template("report.html.j2").render(
        csp=REPORT_CSP,
        sections=sections,
        unimaged=unimaged,
        evaluation=evaluation,
        links=links,
        ais=ais,
        claims=claims,
        runs=runs,
        stored_changes=stored_changes,
        simulated=simulated,
        credits=credits_text(o.scene for obs in observations.values() for o in obs),
        params=params,
        date_zone=date_zone(params.utc_offset_hours),
        params_json=json.dumps(vars(params), default=str),  # numbers as numbers, no dates as null
        period=period_text(params),
        version=_code_version(),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        workspace=ws.root.resolve().name if sharing else str(ws.root.resolve()),  # `-w .` has no name of its own
        shared_note=SHARED_NOTE if sharing else "",
        catalogue_size=len(catalogue()),
    )
    return sharing.finished(html) if sharing else html


REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
"""The report's Content-Security-Policy, in a ``<meta>`` (a file has no response headers): what it uses and
nothing else. Its pictures are ``data:`` PNGs and its styles its own ``<style>``; no script, font, style sheet or
picture from anywhere, no ``<base>`` to send its relative links (to the archive's images, beside it) elsewhere and
no form. A workspace's text (site names from a KML someone sent, claims, AIS) is escaped on the page; the policy
keeps a slip from loading or running anything when a reporter opens the file, as the dashboard's header does."""


def _unimaged_row(site: Site) -> dict[str, Any]:
    """A site without observations as a row of the report's table of them."""
    centre = site.geometry.centroid if site.geometry is not None else None
    return {"id": site.id, "name": site.name, "kind": site.kind.replace("_", " "), "resolved": site.resolved,
            "centre": f"{centre.y:.4f}, {centre.x:.4f}" if centre is not None else "", "berths": len(site.berths)}  # fmt: skip


def _sharing(ws: Workspace, observations: Mapping[str, Sequence[Observation]], runs: Sequence[Mapping[str, Any]]) -> SharedPaths:
    """How the report names paths with ``share``: the absolute paths of the observations' provenance
    and of the runs' parameters and results are looked for whole in free text (they may hold spaces)."""
    values: list[Any] = [[o.provenance, dict(o.scene.hrefs)] for obs in observations.values() for o in obs]
    for r in runs:
        for k in ("parameters", "summary"):
            try:
                values.append(json.loads(r[k] or "null"))
            except ValueError:
                continue
    return shared_paths(ws.root, values)


def write_report(ws: Workspace, site_ids: Sequence[str] | None, out_path: Path,
                 params: TimelineParams | None = None, ais_files: Sequence[str | Path] = (),
                 claims_files: Sequence[str | Path] = (), *, share: bool = False,
                 ais_coverage: StatedCoverage | None = None, ais_max_gap_s: float | None = None) -> Path:
    """Write the report to ``out_path`` whole or not at all; returns the path. Its links to the
    archived images are relative to ``out_path``'s folder; ``share`` as :func:`render_report` has it."""
    out_path = Path(out_path)
    return write_text_atomic(out_path, render_report(ws, site_ids, params, ais_files, claims_files,
                                                     out_dir=out_path.absolute().parent, share=share,
                                                     ais_coverage=ais_coverage, ais_max_gap_s=ais_max_gap_s))


# The web dashboard (sitewatch.web) words detections and imagery as the report does.
candidates_text = _candidates_text
imagery_lines = _imagery_lines
by_kind = _by_kind
map_alt = _map_alt
