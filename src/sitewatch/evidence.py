"""Claims and their evidence: each claim marked supported, contradicted or not testable, with the images.

Pure functions over a site's observations and detections (:func:`check_claim`, :func:`check_claims`);
the functions that read a store (:func:`load_world`, :func:`check_claims_file`) sit at the end. Verdicts
are computed from the stored detections each time, as the timeline is; nothing is stored.

How a verdict is decided (README, "Claims", says it for users):

- **Usable images** are the timeline's (:func:`sitewatch.analysis.passes.usability`: half the site
  with data, optical at most 20 % cloud, detection run on the current image; the pieces of one pass,
  two slices of a Sentinel-1 datatake, judged together). A date without one is
  **not testable**, never contradicted: cloud, no data and no image are not "no vessel".
- **Vessel present / absent** on a date: a vessel detection at the claimed place (the site, a berth, any
  berth) whose measured length lies in the claimed range *fits*. One that lies outside it by no more than
  twice the length error of its pixel size (:func:`sitewatch.vessels.length_sigma_m`), or whose hull is
  cut by the image's edge (its length a lower bound), *may fit*: the date is not testable by it. Present:
  a fitting vessel supports; only "may fit" leaves it not testable; none in an image that saw the place
  (the berth not hidden by cloud or no data) contradicts. Absent is the converse.
- **Class**: a vessel of the claimed class's size fits only when that class leads its candidates by two
  to one or more (:func:`sitewatch.vessels.is_ambiguous`); when another class fits about as well (a
  Ropucha and an Alligator, 0.5 m apart, at any pixel size) the claim is not testable *as to class*,
  said so, even with a vessel of the right size there. No vessel of that size contradicts.
- **Objects** (cranes) show only on pixels of ``fine_resolution_m`` (5 m) or finer: coarser images
  cannot test them. A crane's state is its boom against the nearest berth: across it (≥ 45°) extended,
  along it retracted.
- **Ranges**: ``on: any`` holds when one date supports; it is contradicted only when every date of the
  range was tested and none supports. ``on: all`` is contradicted by one date; it is supported when the
  tested dates all support, and then names the dates tested and those left untested (partly supported).
- **Presence days**: usable dates of the range with a vessel at the place (the timeline's merged
  sightings). The count is of imaged dates: within ``tolerance`` of the claimed count it supports; above
  it it contradicts; below it it contradicts only when even every date without a usable image would not
  make up the difference, else it is not testable.
- **Transit** (site A, then site B within N days): a feasible candidate link of
  :mod:`sitewatch.analysis.links` from a departure at A in the range to an arrival at B at most N days
  later supports (a candidate, not an identity: the others that fit are counted). None contradicts only
  when both sites were imaged on every date that matters; else not testable.
- **Change** (something changed on the site's ground between two dates, or nothing did): decided from the
  pairs ``sitewatch change`` stored that bracket the dates (:mod:`sitewatch.evidence_change`).

Every verdict resting on simulated imagery says so in its reason.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import shapely
from shapely.geometry import Point

from . import __version__
from .analysis.links import LinkParams, find_links, sea_route_note
from .analysis.occupancy import (
    TimelineParams,
    build_timeline,
    count_noun,
    hidden_berths,
    observation_date,
)
from .analysis.passes import usability
from .claims_file import (
    ANY_BERTH,
    Assertion,
    ClaimProblem,
    ClaimsFile,
    ClaimSpec,
    check_against_sites,
    read_claims,
)
from .model import Change, Claim, Detection, Observation, Site, acquired_text, iso_utc
from .report.exports import date_zone
from .store.changes import ChangePair
from .units import pixel_size_text
from .vessels import is_ambiguous, length_sigma_m

if TYPE_CHECKING:
    from pathlib import Path

    from .store import Store

__all__ = [
    "Verdict",
    "Image",
    "PartResult",
    "ClaimResult",
    "ClaimsCheck",
    "World",
    "check_claim",
    "check_claims",
    "claims_to_dict",
    "load_world",
    "check_claims_file",
    "transit_link_period",
]

Verdict = Literal["supported", "contradicted", "not testable"]
SUPPORTED: Verdict = "supported"
CONTRADICTED: Verdict = "contradicted"
UNTESTABLE: Verdict = "not testable"

_CRANE_BERTH_M = 80.0
"""A crane within this distance of a berth line is that berth's (base inset a few metres, boom ~30 m)."""


@dataclass(frozen=True)
class Image:
    """An image a verdict rests on: the observation, its time, sensor, pixel size, archive path and hash."""

    observation_id: str
    site_id: str
    scene_id: str
    acquired: datetime
    acquired_date_only: bool
    sensor: str
    resolution_m: float
    path: str
    sha256: str
    simulated: bool
    detection_ids: tuple[str, ...] = ()
    """The detections that decided it (empty: the image shows none that fit)."""
    note: str = ""
    """Why the image did not decide (cloud, no data), when it did not."""
    change_ids: tuple[str, ...] = ()
    """The change regions (of the pair this image ends) that decided it."""

    @classmethod
    def of(cls, o: Observation, dets: Iterable[Detection] = (), note: str = "") -> Image:
        """The image of observation ``o``, decided by ``dets`` (or not, for ``note``)."""
        return cls(
            o.id, o.site_id, o.scene.id, o.scene.acquired, o.acquired_date_only, o.scene.sensor, o.scene.resolution_m,
            o.path, o.sha256, o.scene.simulated, tuple(d.id for d in dets), note,
        )  # fmt: skip

    def label(self) -> str:
        """``"2024-10-17 00:40 UTC, 3 m optical"``."""
        at = acquired_text(self.acquired, self.acquired_date_only)
        return f"{at}, {pixel_size_text(self.resolution_m)} {'SAR' if self.sensor == 'sar' else self.sensor}"


@dataclass(frozen=True)
class PartResult:
    """The verdict on one assertion of a claim."""

    assertion: Assertion
    verdict: Verdict
    reason: str
    images: tuple[Image, ...] = ()
    tested: tuple[date, ...] = ()
    """Dates with a usable image that decided the assertion's test."""
    untested: tuple[date, ...] = ()
    """Dates of the range left untested (no usable image, or one that could not tell)."""


@dataclass(frozen=True)
class ClaimResult:
    """The verdict on a claim: its parts' verdicts together, with the images they rest on."""

    claim: ClaimSpec
    verdict: Verdict
    reason: str
    parts: tuple[PartResult, ...]

    @property
    def images(self) -> tuple[Image, ...]:
        """The images the parts rest on, each once, oldest first, with what decided it in every part.

        One image may decide two parts (a landing ship and a crane beside it, both on the 3 m image of
        the 17th): it then names the detections, change regions and notes of both, not only the first's.
        """
        seen: dict[str, Image] = {}
        for p in self.parts:
            for im in p.images:
                if (first := seen.get(im.observation_id)) is None:
                    seen[im.observation_id] = im
                    continue
                seen[im.observation_id] = replace(
                    first,
                    detection_ids=tuple(dict.fromkeys(first.detection_ids + im.detection_ids)),
                    change_ids=tuple(dict.fromkeys(first.change_ids + im.change_ids)),
                    note="; ".join(dict.fromkeys(n for n in (first.note, im.note) if n)),
                )
        return tuple(sorted(seen.values(), key=lambda i: (i.acquired, i.observation_id)))

    @property
    def simulated(self) -> bool:
        """True when any image the verdict rests on is simulated."""
        return any(im.simulated for im in self.images)

    @property
    def partial(self) -> bool:
        """Supported on the dates tested, with dates of the range left untested."""
        return self.verdict == SUPPORTED and any(p.untested for p in self.parts)

    def to_claim(self) -> Claim:
        """The model's :class:`~sitewatch.model.Claim`: the dates as UTC instants, evidence as observation ids."""
        c = self.claim
        return Claim(
            c.id, c.text, str(c.source), datetime.combine(c.start, time(), UTC),
            datetime.combine(c.end + timedelta(days=1), time(), UTC) - timedelta(microseconds=1), c.site_ids,
            self.verdict, tuple(im.observation_id for im in self.images),
        )  # fmt: skip


@dataclass(frozen=True)
class ClaimsCheck:
    """A claims file checked against a workspace: a verdict per claim read, and the claims refused."""

    path: str
    results: tuple[ClaimResult, ...]
    problems: tuple[ClaimProblem, ...] = ()
    title: str = ""
    utc_offset_hours: float = 0.0
    """The date convention the claims' dates were compared in: each image's date is its acquisition time plus this
    (0: UTC dates), as the timeline's with ``--utc-offset``."""
    params: TimelineParams | None = None
    """The timeline's parameters the verdicts were decided with (None: the defaults, at :attr:`utc_offset_hours`)."""


@dataclass(frozen=True)
class World:
    """What the verdicts are computed from: sites, their observations and detections (plain values)."""

    sites: Mapping[str, Site]
    observations: Sequence[Observation]
    detections: Sequence[Detection]
    undetected: frozenset[str] = frozenset()
    """Observations detection has not run on (their images cannot say "no vessel")."""
    params: TimelineParams = field(default_factory=TimelineParams)
    change_pairs: Sequence[ChangePair] = ()
    """Pairs ``sitewatch change`` compared and stored (change claims rest on them)."""
    changes: Sequence[Change] = ()
    """Their regions."""
    _by_obs: dict[str, list[Detection]] = field(init=False, repr=False, compare=False)
    _by_day: dict[tuple[str, date], list[Observation]] = field(init=False, repr=False, compare=False)
    _why_not: dict[str, str | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_obs: dict[str, list[Detection]] = defaultdict(list)
        for d in self.detections:
            by_obs[d.observation_id].append(d)
        by_day: dict[tuple[str, date], list[Observation]] = defaultdict(list)
        for o in self.observations:
            by_day[(o.site_id, observation_date(o, self.params.utc_offset_hours))].append(o)
        why_not: dict[str, str | None] = {}
        for sid in {o.site_id for o in self.observations}:
            # Pieces of one pass (two slices of a Sentinel-1 datatake) are judged together, as the timeline does.
            site = self.sites.get(sid)
            why_not |= usability([o for o in self.observations if o.site_id == sid], self.params,
                                 site=site.geometry if site else None, undetected=self.undetected)  # fmt: skip
        object.__setattr__(self, "_why_not", why_not)
        object.__setattr__(self, "_by_obs", dict(by_obs))
        object.__setattr__(self, "_by_day", {k: sorted(v, key=lambda o: (o.scene.resolution_m, o.scene.acquired, o.id))
                                             for k, v in by_day.items()})  # fmt: skip

    def detections_of(self, observation_id: str) -> list[Detection]:
        """The detections of one observation (empty when it has none or detection has not run)."""
        return self._by_obs.get(observation_id, [])

    def on_date(self, site_id: str, day: date) -> tuple[list[Observation], list[tuple[Observation, str]]]:
        """A site's images of a date, finest first: the usable ones, and the others with why not."""
        usable, skipped = [], []
        for o in self._by_day.get((site_id, day), []):
            why = "detection not run on the current image" if o.id in self.undetected else self._why_not.get(o.id)
            if why:
                skipped.append((o, why))
            else:
                usable.append(o)
        return usable, skipped

    def site_observations(self, site_id: str) -> list[Observation]:
        """A site's observations, in the order of :attr:`observations`."""
        return [o for o in self.observations if o.site_id == site_id]


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _dates_text(days: Sequence[date], limit: int = 6) -> str:
    shown = ", ".join(d.isoformat() for d in days[:limit])
    return shown + (f" and {len(days) - limit} more" if len(days) > limit else "")


# --- one date ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Day:
    verdict: Verdict
    reason: str
    images: tuple[Image, ...]
    tested: bool
    """A usable image decided the date (False: no usable image, or none could tell)."""


def _fit(a: Assertion, d: Detection, res: float) -> tuple[str, str, str]:
    """("fit" | "maybe" | "no", what was seen, why it may only fit) of a vessel against the claim's size and class."""
    lo, hi = a.min_length_m, a.max_length_m
    size = f"a {'≥ ' if d.truncated else ''}{d.length_m:.0f} m vessel {_berth_text(d)}"
    if d.truncated:
        if hi is not None and d.length_m > hi:
            return "no", size, ""
        if hi is not None or (lo is not None and d.length_m < lo) or a.vessel_class:
            return "maybe", size, ", its hull cut by the image's edge or missing data (the length a lower bound)"
    elif lo is not None or hi is not None:
        slack = 2 * length_sigma_m(res)
        if (lo is not None and d.length_m < lo - slack) or (hi is not None and d.length_m > hi + slack):
            return "no", size, ""
        if (lo is not None and d.length_m < lo) or (hi is not None and d.length_m > hi):
            return "maybe", size, f", within the ±{slack:.0f} m error of {pixel_size_text(res)} pixels of {a.size_text()[3:]}"
    if not a.vessel_class:
        return "fit", size, ""
    cands = {c.name: c.likelihood for c in d.class_candidates}
    p = cands.get(a.vessel_class)
    if p is None:
        return "no", size, ""
    top = max(cands, key=lambda k: cands[k])
    if top != a.vessel_class or is_ambiguous(d.class_candidates):
        ranked = sorted(cands.items(), key=lambda t: -t[1])
        fits = " and ".join(f"{_short(k)} ({v:.2f})" for k, v in ranked[:2])
        return "maybe", f"{size}, {d.width_m:.0f} m wide", (
            f": at {pixel_size_text(res)} pixels its size fits {fits} about equally, so size cannot tell the class "
            f"(not testable as to class)"
        )
    return "fit", size, f", {_short(a.vessel_class)} by size ({p:.2f})"


def _short(name: str) -> str:
    return name.split(" (")[0]


def _at_place(a: Assertion, berth_id: str | None) -> bool:
    if not a.berths:
        return True
    if a.berths == (ANY_BERTH,):
        return berth_id is not None
    return berth_id in a.berths


def _claimed_berths(a: Assertion, site: Site) -> list[str]:
    """The berths a claim names (all the site's for ``berth: any``); empty: the whole site."""
    if not a.berths:
        return []
    return [b.id for b in site.berths] if a.berths == (ANY_BERTH,) else list(a.berths)


def _berths_seen(a: Assertion, o: Observation, site: Site, params: TimelineParams) -> set[str]:
    """The claimed berths the image saw: not hidden by cloud or missing data."""
    hidden = set(hidden_berths([o], params))
    return {b for b in _claimed_berths(a, site) if b not in hidden}


def _vessel_day(a: Assertion, day: date, world: World, present: bool) -> _Day:
    usable, skipped = world.on_date(a.site_ids[0], day)
    notes = tuple(Image.of(o, note=why) for o, why in skipped)
    if not usable:
        return _Day(UNTESTABLE, _no_image(a.site_ids[0], day, skipped), notes, False)
    fits: list[tuple[Observation, Detection, str]] = []
    maybes: list[tuple[Observation, Detection, str]] = []
    seen: list[Observation] = []
    site = world.sites[a.site_ids[0]]
    berths_seen: set[str] = set()
    for o in usable:
        saw = _berths_seen(a, o, site, world.params)
        if saw or not a.berths:
            seen.append(o)
            berths_seen |= saw
        for d in world.detections_of(o.id):
            if d.kind != "vessel" or not _at_place(a, d.berth_id):
                continue
            state, seen_text, why = _fit(a, d, o.scene.resolution_m)
            if state == "fit":
                fits.append((o, d, seen_text + why))
            elif state == "maybe":
                maybes.append((o, d, seen_text + why))
    what = " ".join(p for p in ("a vessel", a.size_text(), f"of {_short(a.vessel_class)} size" if a.vessel_class else "") if p)
    if fits:
        o, d, why = fits[0]
        images = _grouped(fits)
        return _Day(SUPPORTED if present else CONTRADICTED, f"{Image.of(o).label()}: {why}", images, True)
    if maybes:
        o, d, why = maybes[0]
        return _Day(UNTESTABLE, f"{Image.of(o).label()}: {why}", _grouped(maybes) + notes, False)
    if not seen:
        return _Day(UNTESTABLE, f"{day}: {a.where_text()} hidden (cloud or no data) in every usable image",
                    tuple(Image.of(o, note="the place hidden") for o in usable) + notes, False)  # fmt: skip
    # "No vessel at pier-east or pier-west" needs both seen that day: one under cloud may hold it.
    if unseen := [b for b in _claimed_berths(a, site) if b not in berths_seen]:
        looks = ", ".join(Image.of(o).label() for o in seen)
        return _Day(UNTESTABLE, f"{looks}: no {what[2:]} at {', '.join(sorted(berths_seen))}, but "
                    f"{' and '.join(unseen)} hidden (cloud or no data) in every usable image",
                    tuple(Image.of(o, note=f"{', '.join(unseen)} hidden") for o in usable) + notes, False)  # fmt: skip
    looks = ", ".join(Image.of(o).label() for o in seen)
    reason = f"{looks}: no {what[2:]} {a.where_text()}"
    return _Day(CONTRADICTED if present else SUPPORTED, reason, tuple(Image.of(o) for o in seen), True)


def _berth_text(d: Detection) -> str:
    return f"at {d.berth_id}" if d.berth_id else "(at no berth)"


def _grouped(found: Sequence[tuple[Observation, Detection, str]]) -> tuple[Image, ...]:
    by_obs: dict[str, tuple[Observation, list[Detection]]] = {}
    for o, d, _ in found:
        by_obs.setdefault(o.id, (o, []))[1].append(d)
    return tuple(Image.of(o, dets) for o, dets in by_obs.values())


def _no_image(site_id: str, day: date, skipped: Sequence[tuple[Observation, str]]) -> str:
    if not skipped:
        return f"{day}: no image of {site_id}"
    return f"{day}: no usable image of {site_id} ({'; '.join(f'{Image.of(o).label()}: {why}' for o, why in skipped)})"


def _local_metres(geom: Any, lon0: float, lat0: float) -> Any:
    """``geom`` in metres east and north of (lon0, lat0): equirectangular, exact enough over a port."""
    scale = np.array([111_320.0 * math.cos(math.radians(lat0)), 110_540.0])
    return shapely.transform(geom, lambda xy: (xy - np.array([lon0, lat0])) * scale)


def _crane_state(d: Detection, site: Site) -> tuple[str | None, str | None]:
    """(berth id, "extended" | "retracted") of a crane: its boom across or along the nearest berth."""
    if not site.berths:
        return None, None
    c = d.footprint.centroid
    best = min(site.berths, key=lambda b: _local_metres(b.geometry, c.x, c.y).distance(Point(0, 0)))
    line = _local_metres(best.geometry, c.x, c.y)
    if line.distance(Point(0, 0)) > _CRANE_BERTH_M:
        return None, None
    x0, y0, x1, y1 = line.bounds if line.geom_type != "LineString" else (*line.coords[0], *line.coords[-1])
    bearing = math.degrees(math.atan2(x1 - x0, y1 - y0)) % 180
    angle = abs((d.heading_deg - bearing) % 180)
    angle = min(angle, 180 - angle)
    return best.id, "extended" if angle >= 45 else "retracted"


def _object_day(a: Assertion, day: date, world: World, present: bool) -> _Day:
    usable, skipped = world.on_date(a.site_ids[0], day)
    fine_res = world.params.fine_resolution_m
    fine = [o for o in usable if o.scene.resolution_m <= fine_res]
    coarse = [o for o in usable if o.scene.resolution_m > fine_res]
    notes = tuple(Image.of(o, note=why) for o, why in skipped if o.scene.resolution_m <= fine_res)
    obj = a.object or ""
    if not fine:
        why = f"{obj}s show only on pixels of {fine_res:g} m or finer"
        if notes:
            why += "; " + "; ".join(f"{im.label()}: {im.note}" for im in notes)
        if coarse:
            why += f"; usable that day: {', '.join(Image.of(o).label() for o in coarse)}"
        return _Day(UNTESTABLE, f"{day}: no usable image of {fine_res:g} m or finer ({why})", notes, False)
    site = world.sites[a.site_ids[0]]
    found: list[tuple[Observation, Detection, str]] = []
    unknown: list[tuple[Observation, Detection, str]] = []
    for o in fine:
        for d in world.detections_of(o.id):
            if d.kind != obj:
                continue
            berth, state = _crane_state(d, site) if obj == "crane" else (None, None)
            if a.berths and not _at_place(a, berth):
                continue
            text = f"a {obj}" + (f", {state} (boom {'across' if state == 'extended' else 'along'} {berth})" if state else "")
            if a.state and state is None:
                unknown.append((o, d, text + " whose state cannot be told (no berth near it)"))
            elif a.state is None or a.state == state:
                found.append((o, d, text))
    what = f"{a.state + ' ' if a.state else ''}{obj}" + (f" {a.where_text()}" if a.berths else "")
    if found:
        o, _, text = found[0]
        return _Day(SUPPORTED if present else CONTRADICTED, f"{Image.of(o).label()}: {text}", _grouped(found), True)
    if unknown:
        o, _, text = unknown[0]
        return _Day(UNTESTABLE, f"{Image.of(o).label()}: {text}", _grouped(unknown), False)
    looks = ", ".join(Image.of(o).label() for o in fine)
    # As for vessels: "no crane at pier-east" needs pier-east seen, not under cloud, in some fine image of the date.
    seen = set().union(*(_berths_seen(a, o, site, world.params) for o in fine))
    if unseen := [b for b in _claimed_berths(a, site) if b not in seen]:
        return _Day(UNTESTABLE, f"{looks}: no {what}, but {' and '.join(unseen)} hidden (cloud or no data) in every usable image "
                    f"of {fine_res:g} m or finer", tuple(Image.of(o, note=f"{', '.join(unseen)} hidden") for o in fine) + notes, False)  # fmt: skip
    return _Day(CONTRADICTED if present else SUPPORTED, f"{looks}: no {what}", tuple(Image.of(o) for o in fine), True)


# --- ranges --------------------------------------------------------------------------------------


def _over_range(a: Assertion, days: Sequence[_Day], dates: Sequence[date], want: Verdict) -> PartResult:
    """One date's result as the part's, or a range's by ``a.on`` (any / all)."""
    if len(days) == 1:
        d = days[0]
        return PartResult(a, d.verdict, d.reason, d.images, (dates[0],) if d.tested else (), () if d.tested else (dates[0],))
    tested = tuple(day for day, r in zip(dates, days, strict=True) if r.tested)
    untested = tuple(day for day, r in zip(dates, days, strict=True) if not r.tested)
    good = [(day, r) for day, r in zip(dates, days, strict=True) if r.verdict == want]
    bad = [(day, r) for day, r in zip(dates, days, strict=True) if r.verdict not in (want, UNTESTABLE)]
    span = f"{dates[0]} to {dates[-1]}"
    if not tested and not good and not bad:  # any or all: nothing to go on, and the first date says why
        return PartResult(a, UNTESTABLE, f"no date of {span} has a usable image that could tell: {days[0].reason}",
                          tuple(im for r in days for im in r.images), tested, untested)  # fmt: skip
    if a.on == "any":
        if good:
            day, r = good[0]
            more = f" (and on {count_noun(len(good) - 1, 'other date')}: {_dates_text([g[0] for g in good[1:]])})" if len(good) > 1 else ""
            return PartResult(a, want, f"{r.reason}{more}", tuple(im for _, r in good for im in r.images), tested, untested)
        if not untested:
            return PartResult(a, _other(want), f"on none of the {len(dates)} dates {span}, each imaged: {bad[0][1].reason}"
                              if bad else f"none of the {len(dates)} dates {span}", tuple(im for _, r in bad for im in r.images),
                              tested, untested)  # fmt: skip
        return PartResult(a, UNTESTABLE, f"not seen on the {count_noun(len(tested), 'date')} tested of {span}; "
                          f"{count_noun(len(untested), 'date')} without a usable image that could tell ({_dates_text(list(untested))})",
                          tuple(im for r in days for im in r.images), tested, untested)  # fmt: skip
    if bad:
        day, r = bad[0]
        return PartResult(a, _other(want), r.reason, tuple(im for _, r in bad for im in r.images), tested, untested)
    part = (f"on every date tested ({count_noun(len(tested), 'date')}: {_dates_text(list(tested))}); "
            f"not tested: {_dates_text(list(untested))}" if untested else f"on all {count_noun(len(tested), 'date')} {span}")  # fmt: skip
    return PartResult(a, want, f"{good[0][1].reason}; {part}", tuple(im for _, r in good for im in r.images), tested, untested)


def _other(v: Verdict) -> Verdict:
    return CONTRADICTED if v == SUPPORTED else SUPPORTED


def _presence_days(a: Assertion, world: World) -> PartResult:
    site = world.sites[a.site_ids[0]]
    params = TimelineParams(**{**vars(world.params), "start": a.start, "end": a.end})
    tl = build_timeline(site.id, world.site_observations(site.id), world.detections, params,
                        site_name=site.name, undetected=world.undetected, site_geometry=site.geometry)  # fmt: skip
    obs = {o.id: o for o in world.site_observations(site.id)}
    dets = {d.id: d for d in world.detections if d.observation_id in obs}
    present: list[tuple[date, list[Image]]] = []
    for row in tl.rows:
        hits = [
            s for s in row.sightings
            if s.detection_id in dets and _at_place(a, s.berth_id) and _fit(a, dets[s.detection_id], s.resolution_m or 10)[0] == "fit"
        ]  # fmt: skip
        if hits:
            by_o: dict[str, list[Detection]] = defaultdict(list)
            for s in hits:
                by_o[s.observation_id].append(dets[s.detection_id])
            present.append((row.date, [Image.of(obs[k], v) for k, v in by_o.items()]))
    # A date with no vessel seen but a claimed berth hidden (cloud, no data) in all its images did not see the
    # place: like a date with no image it may have had one, and is not counted among those imaged.
    wanted, with_vessel = _claimed_berths(a, site), {d for d, _ in present}
    unseen = [r for r in tl.rows if r.date not in with_vessel and any(b in r.hidden_berths for b in wanted)]
    n, imaged = len(present), len(tl.rows) - len(unseen)
    span_days = (a.end - a.start).days + 1
    blind = span_days - imaged
    claimed, tol = a.days or 0, a.tolerance
    what = f"{count_noun(n, 'date')} with a vessel {a.size_text() + ' ' if a.size_text() else ''}{a.where_text()}"
    hidden = f", and {count_noun(len(unseen), 'imaged date')} with a claimed berth hidden (cloud or no data)" if unseen else ""
    base = (f"{what} among {count_noun(imaged, 'usable imaged date')} of the {span_days} days {a.start} to {a.end}{hidden} "
            f"(claimed {claimed}{f' ± {tol}' if tol else ''})")  # fmt: skip
    days_blind = "days without a usable image" + (" or with a claimed berth hidden" if unseen else "")
    images = tuple(im for _, ims in present for im in ims)
    unseen_dates = {r.date for r in unseen}
    tested = tuple(r.date for r in tl.rows if r.date not in unseen_dates)
    untested = tuple(d for d in _days(a.start, a.end) if d not in set(tested))
    if not imaged:  # a count over no image is no evidence, whatever was claimed
        return PartResult(a, UNTESTABLE, f"no usable image of {site.id} on the {span_days} days {a.start} to {a.end}",
                          images, tested, untested)  # fmt: skip
    if claimed - tol <= n <= claimed + tol:
        note = f"; the {blind} {days_blind} are not counted" if blind else ""
        return PartResult(a, SUPPORTED, base + note, images, tested, untested)
    if n > claimed + tol:
        return PartResult(a, CONTRADICTED, base + ": more than claimed", images, tested, untested)
    if n + blind < claimed - tol:
        # "even if all 0 days without a usable image had one" read as a slip when every day was imaged
        why = f"even if all {blind} {days_blind} had one" if blind else "with every day of the range imaged"
        return PartResult(a, CONTRADICTED, f"{base}: fewer than claimed, {why}", images, tested, untested)
    return PartResult(a, UNTESTABLE, base + f": fewer than claimed, but the {blind} {days_blind} could hold the rest",
                      images, tested, untested)  # fmt: skip


def _transit(a: Assertion, world: World, bounded: bool = False) -> PartResult:
    origin, dest = (world.sites[s] for s in a.site_ids)
    if note := sea_route_note(origin, dest):  # `links` gives such a pair no link, whatever the images
        return PartResult(a, UNTESTABLE, note, (), (), ())
    within = a.within_days or 0
    obs = [o for o in world.observations if o.site_id in a.site_ids]
    obs_ids = {o.id for o in obs}
    dets = [d for d in world.detections if d.observation_id in obs_ids]
    timelines = {
        s.id: build_timeline(s.id, [o for o in obs if o.site_id == s.id], dets, world.params,
                             site_name=s.name, undetected=world.undetected, site_geometry=s.geometry)  # fmt: skip
        for s in (origin, dest)
    }
    first, last = transit_link_period(a.start, a.end, within) if bounded else (None, None)
    links = find_links([origin, dest], timelines, obs, dets, LinkParams(window_days=max(within, 1), start=first, end=last))
    by_id = {o.id: o for o in obs}
    det_by_id = {d.id: d for d in dets}

    sized = Assertion("vessel_present", a.site_ids, a.start, a.end, min_length_m=a.min_length_m, max_length_m=a.max_length_m)

    def fit(m: Any) -> tuple[str, str]:
        """("fit" | "maybe" | "no", why a "maybe" only may fit) of one end of a link against the claimed size."""
        d = det_by_id.get(m.detection_id)
        if d is None:
            return "no", ""
        state, _, why = _fit(sized, d, m.resolution_m or 10)
        return state, why

    in_window = [
        k for k in links.links
        if k.feasible and k.departure.site_id == origin.id and k.arrival.site_id == dest.id
        and a.start <= k.departure.date <= a.end and 0 <= (k.arrival.date - k.departure.date).days <= within
    ]  # fmt: skip
    found = [k for k in in_window if fit(k.departure)[0] == fit(k.arrival)[0] == "fit"]
    # A link whose end measured just outside the claimed size (within twice its pixel size's length error) may
    # be the claimed vessel: as for vessel_present, it leaves the claim not testable, never contradicted.
    maybe = [k for k in in_window if k not in found and {fit(k.departure)[0], fit(k.arrival)[0]} <= {"fit", "maybe"}]
    if found:
        k = found[0]
        dep, arr = k.departure, k.arrival
        images = (Image.of(by_id[dep.observation_id], [det_by_id[dep.detection_id]]),
                  Image.of(by_id[arr.observation_id], [det_by_id[arr.detection_id]]))  # fmt: skip
        others = f"; {count_noun(len(found) - 1, 'other candidate link')} fit too" if len(found) > 1 else ""
        reason = (
            f"{images[0].label()}: a {dep.length_m:.0f} m vessel last seen at {origin.id} (gone on {dep.other_date}); "
            f"{images[1].label()}: a {arr.length_m:.0f} m vessel first seen at {dest.id}, "
            f"{_later((arr.date - dep.date).days)}, {k.hours_apart:.0f} h and {k.distance_km:.0f} km by sea apart "
            f"({k.speed_kn:.1f} kn): a candidate link, not an identity ({k.ambiguity_text()}){others}"
        )
        return PartResult(a, SUPPORTED, reason, tuple(im for k2 in found for im in _link_images(k2, by_id, det_by_id)),
                          (dep.date, arr.date), ())  # fmt: skip
    if maybe:
        k = maybe[0]
        dep, arr = k.departure, k.arrival
        why = next(w for w in (fit(dep)[1], fit(arr)[1]) if w)
        images = _link_images(k, by_id, det_by_id)
        others = f" ({count_noun(len(maybe) - 1, 'other such link')})" if len(maybe) > 1 else ""
        reason = (
            f"{images[0].label()}: a {dep.length_m:.0f} m vessel last seen at {origin.id} (gone on {dep.other_date}); "
            f"{images[1].label()}: a {arr.length_m:.0f} m vessel first seen at {dest.id}, "
            f"{_later((arr.date - dep.date).days)}: a candidate link whose size may fit{why}{others}"
        )
        return PartResult(a, UNTESTABLE, reason, tuple(im for k2 in maybe for im in _link_images(k2, by_id, det_by_id)),
                          (), (dep.date, arr.date))  # fmt: skip
    # The mirror of the next-day rule below: a vessel last seen at the origin the day before the range and gone on
    # its first date may have left on that date, before its image, so its link to the destination leaves the claim
    # not testable (it was dropped, and the claim contradicted "with both sites imaged on every date").
    edge = [
        k for k in links.links
        if k.feasible and k.departure.site_id == origin.id and k.arrival.site_id == dest.id
        and k.departure.date < a.start <= (k.departure.other_date or k.departure.date)
        and 0 <= (k.arrival.date - a.start).days <= within and "no" not in (fit(k.departure)[0], fit(k.arrival)[0])
    ]  # fmt: skip
    if edge:
        dep, arr = edge[0].departure, edge[0].arrival
        images = _link_images(edge[0], by_id, det_by_id)
        reason = (
            f"{images[0].label()}: a {dep.length_m:.0f} m vessel last seen at {origin.id} (gone on {dep.other_date}); "
            f"{images[1].label()}: a {arr.length_m:.0f} m vessel first seen at {dest.id}: it left between the images of "
            f"{dep.date} and {dep.other_date}, on {a.start} or before it; no image tells which"
        )
        return PartResult(a, UNTESTABLE, reason, tuple(im for k2 in edge for im in _link_images(k2, by_id, det_by_id)),
                          (), (dep.date, arr.date))  # fmt: skip
    need = {origin.id: _days(a.start, a.end), dest.id: _days(a.start, _after(a.end, within))}
    # A vessel of the size still at the origin on the last date may have left that day after its image: only
    # an image of the next day shows it gone (or not), so without one the claim cannot be contradicted.
    still_there = any(d.kind == "vessel" and _fit(sized, d, o.scene.resolution_m)[0] != "no"
                      for o in world.on_date(origin.id, a.end)[0] for d in world.detections_of(o.id))  # fmt: skip
    if still_there:
        need[origin.id] = list(dict.fromkeys([*need[origin.id], _after(a.end, 1)]))
    gaps = {sid: [d for d in days if not world.on_date(sid, d)[0]] for sid, days in need.items()}
    missing = {sid: g for sid, g in gaps.items() if g}
    if not missing:
        # The images that saw no such departure and no such arrival: every usable one of the dates that matter.
        seen = tuple(Image.of(o) for sid, days in need.items() for d in days for o in world.on_date(sid, d)[0])
        return PartResult(a, CONTRADICTED, f"no vessel {a.size_text() + ' ' if a.size_text() else ''}left {origin.id} between "
                          f"{a.start} and {a.end} and reached {dest.id} within {count_noun(within, 'day')}, with both sites "
                          "imaged on every date", seen, tuple(_days(a.start, a.end)), ())  # fmt: skip
    text = "; ".join(f"{sid} has no usable image on {count_noun(len(g), 'date')} ({_dates_text(g, 4)})" for sid, g in missing.items())
    return PartResult(a, UNTESTABLE, f"no candidate link from {origin.id} to {dest.id} within {count_noun(within, 'day')}, "
                      f"but a vessel may have come and gone between images: {text}", (), (),
                      tuple(sorted({d for g in missing.values() for d in g})))  # fmt: skip


def _after(day: date, days: int) -> date:
    """``days`` days after ``day``, or the calendar's last date (a claim of its last days crashed on the days after
    them: none can hold an image)."""
    return day + timedelta(days=days) if (date.max - day).days >= days else date.max


def _later(days: int) -> str:
    """``"2 days later"``, ``"1 day later"``, ``"the same day"``: how long after the departure a transit's arrival was seen."""
    return "the same day" if days == 0 else f"{count_noun(days, 'day')} later"


def _link_images(k: Any, by_id: Mapping[str, Observation], det_by_id: Mapping[str, Detection]) -> tuple[Image, Image]:
    return (Image.of(by_id[k.departure.observation_id], [det_by_id[k.departure.detection_id]]),
            Image.of(by_id[k.arrival.observation_id], [det_by_id[k.arrival.detection_id]]))  # fmt: skip


def _check_part(a: Assertion, world: World, *, bounded: bool = False) -> PartResult:
    """The verdict on one assertion; ``bounded``: a transit's links found for its period alone
    (:func:`transit_link_period`), as a world read for it holds its moves (:mod:`sitewatch.evidence_reads`)."""
    if a.kind == "presence_days":
        return _presence_days(a, world)
    if a.kind == "vessel_transit":
        return _transit(a, world, bounded)
    if a.kind.startswith("change_"):
        from .evidence_change import change_part

        return change_part(a, world, a.kind == "change_present")
    present = a.kind.endswith("_present")
    check = _vessel_day if a.kind.startswith("vessel_") else _object_day
    dates = _days(a.start, a.end)
    days = [check(a, d, world, present) for d in dates]
    return _over_range(a, days, dates, SUPPORTED)


def check_claim(claim: ClaimSpec, world: World) -> ClaimResult:
    """The verdict on one claim: contradicted when a part is, else not testable when a part is, else supported."""
    return _claim_result(claim, tuple(_check_part(a, world) for a in claim.assertions))


def _claim_result(claim: ClaimSpec, parts: tuple[PartResult, ...]) -> ClaimResult:
    verdicts = {p.verdict for p in parts}
    verdict: Verdict = CONTRADICTED if CONTRADICTED in verdicts else UNTESTABLE if UNTESTABLE in verdicts else SUPPORTED
    deciding = [p for p in parts if p.verdict == verdict] if verdict != SUPPORTED else list(parts)
    reason = "; ".join(p.reason for p in deciding)
    result = ClaimResult(claim, verdict, reason, parts)
    if result.simulated:
        result = ClaimResult(claim, verdict, reason + " (SIMULATED imagery)", parts)
    return result


def check_claims(claims: Iterable[ClaimSpec], world: World) -> tuple[ClaimResult, ...]:
    """The verdict on each claim, in the file's order."""
    return tuple(check_claim(c, world) for c in claims)


def _image_dict(im: Image) -> dict[str, Any]:
    return {
        "observation_id": im.observation_id, "site_id": im.site_id, "scene_id": im.scene_id,
        "acquired": iso_utc(im.acquired), "acquired_date_only": im.acquired_date_only, "sensor": im.sensor,
        "resolution_m": im.resolution_m, "image": im.path, "sha256": im.sha256, "simulated": im.simulated,
        "detection_ids": list(im.detection_ids), "change_ids": list(im.change_ids), "note": im.note,
    }  # fmt: skip


def claims_to_dict(check: ClaimsCheck) -> dict[str, Any]:
    """A JSON-ready dict: the file, the sitewatch and parameters that decided, each claim with its verdict, reason,
    parts and images, and the claims refused."""
    params = check.params or TimelineParams(utc_offset_hours=check.utc_offset_hours)
    return {
        "file": check.path,
        "title": check.title,
        # What decided the verdicts, so that a verdicts file handed on says how to decide them again.
        "sitewatch_version": __version__,
        "timeline_parameters": {k: v for k, v in asdict(params).items() if k not in ("start", "end")},
        "utc_offset_hours": check.utc_offset_hours,
        "date_zone": date_zone(check.utc_offset_hours),
        "simulated": any(r.simulated for r in check.results),
        "claims": [
            {
                "id": r.claim.id, "text": r.claim.text,
                "source": {"who": r.claim.source.who, "where": r.claim.source.where, "when": r.claim.source.when},
                "sites": list(r.claim.site_ids), "from": r.claim.start.isoformat(), "to": r.claim.end.isoformat(),
                "verdict": r.verdict, "partial": r.partial, "reason": r.reason, "simulated": r.simulated,
                "parts": [
                    {"kind": p.assertion.kind, "verdict": p.verdict, "reason": p.reason,
                     "from": p.assertion.start.isoformat(), "to": p.assertion.end.isoformat(),
                     "dates_tested": [d.isoformat() for d in p.tested],
                     "dates_untested": [d.isoformat() for d in p.untested],
                     "images": [im.observation_id for im in p.images]}
                    for p in r.parts
                ],
                "images": [_image_dict(im) for im in r.images],
            }
            for r in check.results
        ],  # fmt: skip
        "refused": [{"claim": p.claim, "field": p.field, "message": p.message} for p in check.problems],
    }


def load_world(store: Store, site_ids: Iterable[str], params: TimelineParams | None = None) -> World:
    """The sites' observations, detections and stored changes read from a store (unknown ids are left out)."""
    from .store.changes import change_pairs, changes

    known = {s.id: s for s in store.sites()}
    ids = [s for s in dict.fromkeys(site_ids) if s in known]
    observations: list[Observation] = []
    detections: list[Detection] = []
    undetected: set[str] = set()
    pairs: list[ChangePair] = []
    regions: list[Change] = []
    # One moment of the store: a `detect` recording meanwhile was seen half (an observation detected in, without
    # its detections: a vessel there read as absent).
    with store.snapshot():
        for sid in ids:
            observations += store.observations(sid)
            detections += store.detections(site_id=sid)
            undetected |= store.undetected(sid)
            pairs += change_pairs(store, sid)
            regions += changes(store, site_id=sid)
    return World(known, observations, detections, frozenset(undetected), params or TimelineParams(), pairs, regions)


def check_claims_file(store: Store, path: str | Path, params: TimelineParams | None = None) -> ClaimsCheck:
    """Read a claims file, refuse the claims in error (naming each) and decide the others from the store.

    With ``params.utc_offset_hours`` (``--utc-offset``) the claims' dates are local dates: each image counts for
    its acquisition time's date plus the offset, as in the timeline."""
    offset = params.utc_offset_hours if params is not None else 0.0
    claims: ClaimsFile = read_claims(path, utc_offset_hours=offset)
    sites = {s.id: s for s in store.sites()}
    claims = check_against_sites(claims, sites)
    params = params or TimelineParams()
    from .evidence_reads import claim_world, read_key  # (here: it imports this module)

    with store.snapshot():  # one moment of the store for every claim's reads
        worlds: dict[tuple[object, ...], World] = {}  # each read once for every claim part that needs it
        results = []
        for c in claims.claims:
            parts = []
            for a in c.assertions:
                if (key := read_key(a)) not in worlds:
                    worlds[key] = claim_world(store, sites, a, params)
                parts.append(_check_part(a, worlds[key], bounded=True))
            results.append(_claim_result(c, tuple(parts)))
    return ClaimsCheck(str(path), tuple(results), claims.problems, claims.title, offset, params)


def transit_link_period(start: date, end: date, within: int) -> tuple[date | None, date | None]:
    """The period of the links a transit claim last seen at its origin from ``start`` to ``end`` within ``within``
    days weighs (:func:`~sitewatch.analysis.links.find_links`'s ``start`` and ``end``): its departures are dated from
    the links' window (``within``, at least 1 day) before ``start`` (a vessel last seen then and gone on ``start``) to
    ``end``, its arrivals from ``start`` to ``within`` days after ``end``, and each link's rivals, the departures that
    fit its arrival and the arrivals that fit its departure, a window either side of those. None: past year 1 or 9999."""
    window = timedelta(days=max(within, 1))
    try:
        first: date | None = start - window
    except OverflowError:
        first = None
    try:
        last: date | None = end + window
    except OverflowError:
        last = None
    return first, last
