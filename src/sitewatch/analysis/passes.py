"""Pieces of one satellite pass: which observations are one pass, and judging them together.

A catalogue cuts a pass into items: Sentinel-1 IW GRD and RTC items are slices of a datatake about
25 s long, and a slice boundary sits at the same along-track place on every pass of a relative
orbit, so a site on a boundary is split on every pass of that orbit: part of it in slice N, the
rest in slice N+1. A user who downloads both slices (or two adjacent strips of one Planet or Maxar
capture) and ingests them has the same two pieces. Each piece is an observation of its own, with
the valid fraction of the site it holds (60 % and 40 %, say).

Judged one by one, the 40 % piece was unusable (less than half the site) and skipped, although
together the pieces show the whole site at one moment: its vessels were not counted, and read as
departures that date and arrivals at the next. Here the pieces of one pass are judged together:
their coverage is the union of theirs, and when the union is usable every piece counts (its
vessels joined with the others' by the timeline's rules for several observations of a date; a
hull cut by the seam is two cut sightings of one vessel). Nothing is merged or re-archived: each
piece keeps its own image, detections and provenance.

Two observations are **one pass** (:func:`same_pass`) when they share a platform (named: an
unknown platform is no evidence of one) and sensor, no orbit or datatake figure they both record
differs (``sat:absolute_orbit``, ``sat:relative_orbit``, ``sat:orbit_state``, ``s1:datatake_id``),
neither is known only by its date, and their acquisitions lie within
:attr:`~sitewatch.analysis.occupancy.TimelineParams.pass_seconds` (60 s) of each other, a piece
joining a pass when it is that close to one of its pieces.

The **union's valid fraction** (:func:`pass_valid_fraction`) is a lower bound, from figures the
store holds: the pieces' valid fractions summed, less what any two of them can share - the part
of the site inside both where they have data (the outline of its valid pixels ingest records, else the
scene's footprint; without the site's polygon, the smaller of the two when those meet at all). Two slices that only touch add up; two overlapping tiles
are never counted twice. Its cloud is the pieces' cloud weighted by their valid fractions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import shapely.wkt
from shapely.errors import ShapelyError
from shapely.geometry.base import BaseGeometry

from ..model import Observation

if TYPE_CHECKING:
    from .occupancy import TimelineParams

__all__ = ["ORBIT_KEYS", "Pass", "same_pass", "passes", "footprint_overlap", "pass_valid_fraction", "usability"]

ORBIT_KEYS = ("sat:absolute_orbit", "sat:relative_orbit", "sat:orbit_state", "s1:datatake_id")
"""STAC properties that name a pass: two pieces that record different values are two passes."""


@dataclass(frozen=True)
class Pass:
    """The observations of one pass, in acquisition order, and what they show together."""

    pieces: tuple[Observation, ...]
    valid_fraction: float
    """Least share of the site the pieces hold data for together (:func:`pass_valid_fraction`)."""
    cloud_fraction: float | None
    """Share of that data that is cloud (the pieces' own, weighted by their valid fractions); None for SAR or unknown."""


def _orbit(obs: Observation) -> dict[str, Any]:
    """The orbit and datatake figures an observation records: its scene's properties, its STAC item's, its fetch's."""
    item = obs.provenance.get("stac_item")
    item_props = item.get("properties") if isinstance(item, Mapping) else None
    fetched = obs.provenance.get("orbit")
    out: dict[str, Any] = {}
    for key in ORBIT_KEYS:
        for source in (obs.scene.properties, item_props, fetched):
            if not isinstance(source, Mapping):
                continue
            value = source.get(key, source.get(key.partition(":")[2]))
            if value not in (None, ""):
                out[key] = str(value).lower()
                break
    return out


def same_pass(a: Observation, b: Observation, pass_seconds: float) -> bool:
    """Whether two observations are pieces of one pass (see the module's doc)."""
    if a.site_id != b.site_id or a.scene.sensor != b.scene.sensor:
        return False
    platform = a.scene.platform.strip().lower()
    if not platform or platform != b.scene.platform.strip().lower():
        return False
    if a.acquired_date_only or b.acquired_date_only:
        return False  # 12:00 UTC assumed for both: two passes of that date would look like one
    if abs((a.scene.acquired - b.scene.acquired).total_seconds()) > pass_seconds:
        return False
    oa, ob = _orbit(a), _orbit(b)
    return all(oa[k] == ob[k] for k in oa.keys() & ob.keys())


def _data_footprint(obs: Observation) -> BaseGeometry | None:
    """Where a piece has data: the outline ingest recorded of its valid pixels over the site (its
    provenance's ``valid_outline``), else its scene's footprint, which takes in the scene's no-data too."""
    outline = obs.provenance.get("valid_outline")
    if isinstance(outline, str):
        try:
            return shapely.wkt.loads(outline)
        except ShapelyError:
            pass  # an outline that does not read is no evidence: the footprint stands
    return obs.scene.footprint


def footprint_overlap(a: Observation, b: Observation, site: BaseGeometry | None) -> float:
    """Most of the site (0..1) that two pieces can both hold data for."""
    most = min(a.valid_fraction, b.valid_fraction)
    fa, fb = _data_footprint(a), _data_footprint(b)
    if fa is None or fb is None:
        return most
    try:
        both = fa.intersection(fb)
        if both.area <= 0:
            return 0.0  # slices that only touch (or lie apart) share nothing
        if site is None or site.area <= 0:
            return most
        return min(most, float(both.intersection(site).area / site.area))
    except ShapelyError:
        return most


def pass_valid_fraction(pieces: Sequence[Observation], site: BaseGeometry | None = None) -> float:
    """Least share of the site the pieces hold data for together: the sum of their valid fractions less, for each
    two, the most they can share (Bonferroni's bound), never less than the largest piece's nor more than 1."""
    if not pieces:
        return 0.0
    total = sum(p.valid_fraction for p in pieces)
    shared = sum(
        footprint_overlap(pieces[i], pieces[j], site) for i in range(len(pieces)) for j in range(i + 1, len(pieces))
    )
    return round(min(1.0, max(max(p.valid_fraction for p in pieces), total - shared)), 6)


def _pass_cloud(pieces: Sequence[Observation]) -> float | None:
    known = [(p.cloud_fraction, p.valid_fraction) for p in pieces if p.cloud_fraction is not None]
    if not known or pieces[0].scene.sensor != "optical":
        return None
    weight = sum(v for _, v in known)
    return round(sum(c * v for c, v in known) / weight, 6) if weight > 0 else None


def passes(
    observations: Iterable[Observation], pass_seconds: float, site: BaseGeometry | None = None
) -> list[Pass]:
    """The observations grouped into passes (most of one piece each), in acquisition order."""
    groups: list[list[Observation]] = []
    start = 0  # groups before this one end more than pass_seconds before the observation in hand
    for obs in sorted(observations, key=lambda o: (o.scene.acquired, o.id)):
        # In time order, only the groups still open (last piece within pass_seconds) are asked: a site's
        # thousands of observations are grouped in one sweep, not each against all.
        while start < len(groups) and (obs.scene.acquired - groups[start][-1].scene.acquired).total_seconds() > pass_seconds:
            start += 1
        home = next((g for g in groups[start:] if any(same_pass(p, obs, pass_seconds) for p in g)), None) if pass_seconds > 0 else None
        if home is None:
            groups.append([obs])
        else:
            home.append(obs)
    return [
        Pass(tuple(g), pass_valid_fraction(g, site) if len(g) > 1 else g[0].valid_fraction,
             _pass_cloud(g) if len(g) > 1 else g[0].cloud_fraction)
        for g in groups
    ]  # fmt: skip


def usability(
    observations: Iterable[Observation],
    params: TimelineParams,
    *,
    site: BaseGeometry | None = None,
    undetected: Collection[str] = (),
) -> dict[str, str | None]:
    """Observation id -> None when it counts for the timeline, else why not; pieces of one pass judged together.

    A piece counts when it is usable on its own (:func:`~sitewatch.analysis.occupancy.is_usable`) or when its
    pass is: the union of its detected pieces holds at least ``min_valid_fraction`` of the site with at most
    ``max_cloud_fraction`` cloud. An undetected piece (``undetected``) never counts and adds nothing to the union:
    its image cannot say "no vessel". ``site`` (the site's polygon) bounds how much two overlapping pieces share.
    """
    from .occupancy import NOT_DETECTED, _percents, is_usable

    out: dict[str, str | None] = {}
    detected = []
    for obs in observations:
        if obs.id in undetected:
            out[obs.id] = NOT_DETECTED
        else:
            detected.append(obs)
    for group in passes(detected, params.pass_seconds, site):
        own = {o.id: is_usable(o, params) for o in group.pieces}
        if len(group.pieces) == 1 or all(why is None for why in own.values()):
            out.update(own)
            continue
        whole = Observation(
            id="pass", site_id=group.pieces[0].site_id, scene=group.pieces[0].scene, grid=group.pieces[0].grid,
            path="", sha256="", valid_fraction=group.valid_fraction, cloud_fraction=group.cloud_fraction,
        )  # fmt: skip
        together = is_usable(whole, params)
        for obs in group.pieces:
            why = own[obs.id]
            if why is None or together is None:
                out[obs.id] = None
                continue
            others = ", ".join(p.id for p in group.pieces if p.id != obs.id)
            also = "" if together.startswith("valid") else (
                f" (valid {_percents(group.valid_fraction, params.min_valid_fraction)[0]} together)"
            )
            out[obs.id] = f"{why}; with the other pieces of its pass ({others}): {together}{also}"
    return out
