"""Links across sites: a vessel that left one site may be the one that arrived at another.

Pure functions over timelines, observations and detections (``find_links``); the one function that
reads a store (``load_links``) sits at the end. A link is a *candidate*, never an identity: at 10 m
many vessels have the same measured size, and every link says how many others fit as well.

Rules, each a field of :class:`LinkParams`:

- **Departures and arrivals** are the occupancy timeline's (:mod:`sitewatch.analysis.occupancy`):
  a departure is a vessel's last sighting at site A (seen on a usable date, not matched on the next
  one); an arrival its first sighting at site B (not seen on the usable date before). The first date
  of an observation period has neither, as in the timeline.
- **Candidate**: a departure at A and an arrival at B (another site) whose images are at most
  ``window_days`` apart, the arrival's image after the departure's.
- **Time between the images**: hours from the image of the last sighting at A to the image of the
  first sighting at B: the most time the vessel can have had for the passage. An image known only by
  its date (``acquired_date_only``) is taken at the start of its day at A and at the end of its day
  at B, so the bound stays a bound; the link says so.
- **Distance by sea**: the shortest route over water between the two sites' centres (their polygons'
  centroids; a site without a polygon: the link's sighting), on the 1 km land mask of the
  ``global-land-mask`` package (:mod:`sitewatch.analysis.sea_route`), measured once per pair of sites;
  never less than the great circle between the two sightings, taken instead when longer (sites close
  together, sightings at their far ends).
  Rajin-Dunai routes at 192 km against a 182 km great circle and a 200 km coastal track drawn by hand;
  Nampo-Vladivostok, around the Korean peninsula, at 1771 km against 732 km. The great circle times
  ``detour_factor`` (1.2) is kept as a fallback, and a link that uses it says so (``distance_by``):
  with ``sea_route`` False, without the mask package or when its file cannot be read, for sites more
  than ``max_route_km`` apart, or when no route is found in the largest area searched. The offline maritime network of the
  ``searoute`` package (1.6.0) was tried first and left out: its graph has two nodes between Chongjin
  and Vladivostok, puts Rajin and Chongjin on the same node (0 km apart) and Rajin-Dunai at 80 km, less
  than the 182 km great circle, and it snaps inland places to the sea, so it can neither measure these
  coastal runs nor say when there is no sea route.
  A site whose centre is more than ``snap_km`` (5 km) from the sea on the mask (a port up a river or
  canal: the mask has neither) is routed from a straight leg to the nearest sea within ``reach_km``
  (100 km; Rostov-on-Don's is 36 km), which the link names, the distance then a lower bound; farther
  (a lake port, the Caspian's), the fallback, said as such.
- **No sea route**: a site whose kind lies inland by nature (:data:`INLAND_KINDS`: town, city,
  training ground, launch site) has none; such a pair gives no link, with a note naming the site.
- **Feasible**: the implied speed (distance over time) is at most ``max_speed_kn`` (25 kn).
- **Similarity**: each measured length (and width, when both are known) against the other's, in
  standard deviations of the difference of two measurements (:func:`sitewatch.vessels.length_sigma_m`,
  which grows with the pixel size). A truncated measurement is a lower bound: it only rules out a
  whole measurement shorter than it; two truncated ones say nothing. A pair *fits* when every
  measure is within ``max_sigmas`` (3); ``similarity`` is exp(-z²/2) over the measures (1: the same
  size). The class both sightings most likely share (their class candidates) is named, not scored.
- **Alternatives**: for each link, the other departures that fit its arrival and the other arrivals
  that fit its departure, each feasible too: "one of N vessels of that size".
- **AIS** (optional: ``ais``, a mapping detection id → :class:`AisId` from :mod:`sitewatch.analysis.ais`'s
  matching, see :func:`ais_ids`): when both ends of a link were matched with AIS and carry the same MMSI
  the link is *confirmed* ("the same MMSI 123456789 at both ends"); when they carry different MMSIs it
  is *ruled out*; otherwise (an end not matched: dark, or an image AIS could not be matched at) it is
  *not matched* and stays a size-only candidate. One exception: when an end's MMSI is confirmed by
  another link of that same end (the departure's MMSI at another arrival, or the arrival's from another
  departure), the vessel is accounted for and this link is *ruled out* too ("MMSI 123456789 is
  accounted for by the confirmed link to dunai 2024-10-14"). The alternatives then leave out the candidates AIS
  ruled out ("one of 2 arrivals that fit this departure after AIS ruled out 1").
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InputError
from ..model import Detection, Link, Observation, Site, iso_utc
from ..vessels import length_sigma_m, width_sigma_m
from .occupancy import (
    Sighting,
    Timeline,
    TimelineParams,
    build_timeline,
    match_sightings,
    read_site_records,
)
from .period_records import read_move_records
from .sea_route import LAND_MASK_TEXT, SeaDistance, great_circle_km, land_mask_file, sea_distance

if TYPE_CHECKING:
    from ..store import Store
    from .ais import AisResult

__all__ = [
    "INLAND_KINDS",
    "inland_without_vessels",
    "KNOT_KMH",
    "LinkParams",
    "Move",
    "AisId",
    "AisVerdict",
    "ais_ids",
    "LinkCandidate",
    "Links",
    "moves_from_timeline",
    "pairing_reach_days",
    "great_circle_km",
    "sea_route_note",
    "DistanceBy",
    "find_links",
    "links_to_dict",
    "load_links",
]

KNOT_KMH = 1.852
"""Kilometres per hour in a knot (one nautical mile, 1852 m, per hour)."""

INLAND_KINDS: frozenset[str] = frozenset({"town", "city", "training_ground", "launch_site"})
"""Site kinds taken to have no sea route (the gazetteer's inland places: Ussuriysk, Khabarovsk, Hirnyk...)."""


def inland_without_vessels(site: Site, detections: Iterable[Detection]) -> bool:
    """Whether ``site`` is of an inland kind and none of ``detections`` (the site's) is a vessel: its vessel
    timeline, every date "0 vessels", says nothing, and the report and dashboard leave it out."""
    return site.kind in INLAND_KINDS and not any(d.kind == "vessel" for d in detections)


_Date = date
"""``date`` where a class's own ``date`` field hides the type."""


@dataclass(frozen=True)
class LinkParams:
    """The documented knobs of link finding."""

    window_days: float = 14.0
    """Most days between the image of the last sighting at A and that of the first sighting at B."""
    max_speed_kn: float = 25.0
    """Fastest passage counted feasible (knots). 25 kn is above the top speed of the story's landing
    ships (Ropucha 17.5 kn, Alligator 16-18 kn: published class data) and above the service speed of
    nearly every merchant ship (general cargo 12-16 kn, container ships 20-25 kn); warships such as
    frigates (30 kn and more) can beat it: raise it for them."""
    detour_factor: float = 1.2
    """The fallback's distance by sea over the great-circle distance, when no route is measured (see
    ``sea_route``). A coastal track Rajin-Dunai drawn by hand (out of Rajin bay, past the Tumen mouth and
    Cape Gamov, south of Askold Island, through Strelok Strait) is 200 km against a 182 km great circle
    (1.10); 1.2 leaves room for pilotage and for runs around headlands, not for a peninsula in the way
    (Nampo-Vladivostok is 2.4 times its great circle by sea). A larger factor makes fewer passages feasible."""
    sea_route: bool = True
    """Measure the distance by sea as a route over water on the 1 km land mask (``global-land-mask``);
    False: the great circle times ``detour_factor`` for every link."""
    max_route_km: float = 2500.0
    """Sites farther apart than this (great circle) get the fallback, not a route: the routing square
    (up to 5000 km, 1500 × 1500 cells of 3.3 km) would be too coarse for narrow passages."""
    route_cell_km: float = 1.0
    """Smallest routing cell (km); a larger area gets larger cells, at most 1500 along a side."""
    snap_km: float = 5.0
    """A site's centre within this distance of the mask's sea is on it; farther, its route starts with a
    straight leg to the sea (``reach_km``), which the link names."""
    reach_km: float = 100.0
    """Farthest a site's centre may lie from the mask's sea for its route to start with a straight leg: a
    port up a river or canal (the mask has neither; Hamburg's leg is 9 km, Rostov-on-Don's 36). Farther
    (a lake port, the Caspian's), the fallback."""
    max_sigmas: float = 3.0
    """Two measurements fit when they differ by at most this many standard deviations of their difference."""
    start: date | None = None
    """First date kept (UTC): links whose last sighting at A is before it are left out."""
    end: date | None = None
    """Last date kept (UTC): links whose first sighting at B is after it are left out."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.window_days) and self.window_days > 0):
            raise InputError(f"LinkParams.window_days must be a positive number of days, got {self.window_days}")
        if not (math.isfinite(self.max_speed_kn) and self.max_speed_kn > 0):
            raise InputError(f"LinkParams.max_speed_kn must be a positive speed in knots, got {self.max_speed_kn}")
        if not (math.isfinite(self.detour_factor) and self.detour_factor >= 1):
            raise InputError(f"LinkParams.detour_factor must be 1 or more, got {self.detour_factor}")
        for name in ("max_route_km", "route_cell_km", "snap_km", "reach_km"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"LinkParams.{name} must be a positive number of km, got {value}")
        if not self.max_sigmas > 0:
            raise InputError(f"LinkParams.max_sigmas must be positive, got {self.max_sigmas}")
        if self.start and self.end and self.start > self.end:
            raise InputError(f"--from {self.start} is after --to {self.end}")


@dataclass(frozen=True)
class Move:
    """A departure (the last sighting at a site) or an arrival (the first sighting), with its image."""

    kind: Literal["departure", "arrival"]
    site_id: str
    date: date
    """The usable date of the sighting (the timeline's)."""
    other_date: _Date | None
    """Departure: the next usable date, without the vessel. Arrival: the usable date before, without it."""
    detection_id: str
    observation_id: str
    scene_id: str
    path: str
    """The image in the workspace's archive."""
    acquired: datetime
    acquired_date_only: bool
    sensor: str
    resolution_m: float | None
    lon: float
    lat: float
    length_m: float
    width_m: float | None
    truncated: bool
    simulated: bool = False
    classes: Mapping[str, float] = field(default_factory=dict)
    """Class candidates of the detection (name -> likelihood)."""

    def time_bounds(self) -> tuple[datetime, datetime]:
        """Earliest and latest the image can have been taken: its time, or its whole day when only the date is known."""
        when = self.acquired.astimezone(UTC)
        if not self.acquired_date_only:
            return when, when
        start = datetime(when.year, when.month, when.day, tzinfo=UTC)
        return start, start + timedelta(days=1)


DistanceBy = Literal["route", "great circle"]
"""How a link's distance by sea was measured: a route over water on the land mask, or the great circle
times the detour factor (the fallback)."""

AisVerdict = Literal["confirmed", "ruled out", "not matched"]
"""What AIS says of a link: the same MMSI at both ends, two different MMSIs, or an end without one."""


@dataclass(frozen=True)
class AisId:
    """The AIS identity a detection was matched with (``sitewatch ais``)."""

    mmsi: str
    name: str = ""
    """The vessel's name as broadcast ("" when the file gives none)."""

    def text(self) -> str:
        """``MMSI 123456789`` followed by the vessel's name when it has one."""
        return f"MMSI {self.mmsi}" + (f" {self.name}" if self.name else "")


def ais_ids(result: AisResult) -> dict[str, AisId]:
    """Detection id → the MMSI (and name) :func:`~sitewatch.analysis.ais.match_workspace` matched it with."""
    return {m.detection_id: AisId(m.mmsi, m.name) for o in result.observations for m in o.matched}


@dataclass(frozen=True)
class LinkCandidate:
    """A departure at one site and an arrival at another that may be the same vessel, with the evidence."""

    departure: Move
    arrival: Move
    hours_apart: float
    """Hours between the two images (whole-day bounds for an image known only by its date)."""
    distance_km: float
    """Distance by sea: the route over water between the two sites, or the fallback (``distance_by``)."""
    great_circle_km: float
    speed_kn: float
    """The speed the passage implies: distance over the hours apart."""
    feasible: bool
    similarity: float
    """exp(-z²/2) over the size measures compared: 1 for the same size, 0.011 at three standard deviations."""
    length_sigmas: float | None
    """Length difference in standard deviations of the difference (None: both lengths lower bounds)."""
    width_sigmas: float | None
    """Width difference likewise (None: a width unknown, or both lower bounds)."""
    likely_class: str | None = None
    """The class both sightings most likely share, by their class candidates (None: either has none)."""
    other_departures: int = 0
    """Other feasible departures whose size fits this arrival as well."""
    other_arrivals: int = 0
    """Other feasible arrivals whose size fits this departure as well."""
    ais_ruled_out_departures: int = 0
    """Other feasible departures that fit by size but that AIS ruled out: not in ``other_departures``."""
    ais_ruled_out_arrivals: int = 0
    """Other feasible arrivals that fit by size but that AIS ruled out: not in ``other_arrivals``."""
    notes: tuple[str, ...] = ()
    ais: AisVerdict | None = None
    """What AIS says (None: no AIS was given)."""
    ais_departure: AisId | None = None
    """The MMSI the departure's detection was matched with (None: not matched)."""
    ais_arrival: AisId | None = None
    """The MMSI the arrival's detection was matched with (None: not matched)."""
    ais_accounted_for_by: tuple[Move, Move] | None = None
    """Ruled out because an end's MMSI is confirmed by another link: that link's departure and arrival."""
    distance_by: DistanceBy = "great circle"
    """How ``distance_km`` was measured: ``route`` (over water on the land mask) or ``great circle``
    (times the detour factor: the fallback)."""
    distance_text: str = ""
    """How the distance was measured, in words ("routed over water on a 1 km land mask at 1.0 km cells
    between the sites' centres", or why the fallback was used)."""

    @property
    def alternatives(self) -> int:
        """Other feasible departures and arrivals that fit by size as well (both counts together)."""
        return self.other_departures + self.other_arrivals

    @property
    def simulated(self) -> bool:
        """True when either end was seen in a simulated scene."""
        return self.departure.simulated or self.arrival.simulated

    def ambiguity_text(self) -> str:
        """``"one of 3 departures that fit this arrival; one of 2 arrivals that fit this departure"``, each
        with "after AIS ruled out N" when AIS ruled out N of the candidates that fit by size."""

        def after(n: int) -> str:
            return f" after AIS ruled out {n}" if n else ""

        if not self.alternatives:
            return "no other vessel of that size in the window" + after(
                self.ais_ruled_out_departures + self.ais_ruled_out_arrivals
            )
        parts = []
        if self.other_departures or self.ais_ruled_out_departures:
            parts.append(f"one of {self.other_departures + 1} departures that fit this arrival"
                         + after(self.ais_ruled_out_departures))  # fmt: skip
        if self.other_arrivals or self.ais_ruled_out_arrivals:
            parts.append(f"one of {self.other_arrivals + 1} arrivals that fit this departure"
                         + after(self.ais_ruled_out_arrivals))  # fmt: skip
        return "; ".join(parts)

    def ais_text(self) -> str:
        """``"confirmed by AIS: the same MMSI 123456789 LADA at both ends"``, or "" when no AIS was given."""
        d, a = self.ais_departure, self.ais_arrival
        if self.ais is None:
            return ""
        if self.ais == "confirmed" and d is not None:
            return f"confirmed by AIS: the same {d.text()} at both ends"
        if self.ais == "ruled out" and self.ais_accounted_for_by is not None:
            other_d, other_a = self.ais_accounted_for_by
            shared_departure = other_d.detection_id == self.departure.detection_id
            x, other = (d, other_a) if shared_departure else (a, other_d)
            return (
                f"ruled out by AIS: {x.text() if x else 'its MMSI'} is accounted for by the confirmed link "
                f"{'to' if shared_departure else 'from'} {other.site_id} {other.date.isoformat()}"
            )
        if self.ais == "ruled out" and d is not None and a is not None:
            return f"ruled out by AIS: {d.text()} at {self.departure.site_id}, {a.text()} at {self.arrival.site_id}"
        ends = [f"{m.site_id} {x.text()}" if x else f"{m.site_id} not matched" for m, x in ((self.departure, d), (self.arrival, a))]
        return f"not settled by AIS ({', '.join(ends)}): a size-only candidate"

    def distance_by_text(self) -> str:
        """``"routed"`` or ``"great circle × 1.2"``: the distance's method in a few words (``distance_text`` in full)."""
        if self.distance_by == "route":
            return "routed"
        factor = self.distance_km / self.great_circle_km if self.great_circle_km else 1.0
        return f"great circle × {factor:.1f}"

    def to_link(self) -> Link:
        """The model's :class:`~sitewatch.model.Link` (detection ids at A and B and the figures)."""
        return Link(
            self.departure.detection_id, self.arrival.detection_id, self.hours_apart, self.distance_km,
            self.similarity, self.feasible,
        )  # fmt: skip

    def summary_line(self) -> str:
        """One line for people: sites, dates, hours, distance, speed, size fit and the ambiguity."""
        d, a = self.departure, self.arrival
        return (
            f"{d.site_id} {d.date.isoformat()} → {a.site_id} {a.date.isoformat()}: "
            f"{d.length_m:.0f} m and {a.length_m:.0f} m long, {self.hours_apart:.0f} h apart, "
            f"{self.distance_km:.0f} km by sea ({self.distance_by_text()}), {self.speed_kn:.1f} kn "
            f"({'feasible' if self.feasible else 'too fast'}); {self.ambiguity_text()}"
            f"{'; ' + self.ais_text() if self.ais else ''}{' (simulated)' if self.simulated else ''}"
        )


@dataclass(frozen=True)
class Links:
    """The candidate links among a set of sites."""

    site_ids: tuple[str, ...]
    params: LinkParams
    links: tuple[LinkCandidate, ...]
    """Every pair that fits by size and window, feasible or not, in the order of the departures."""
    departures: int
    """The departures dated in the period (``params.start`` to ``params.end``), at every site."""
    arrivals: int
    """The arrivals dated in the period, at every site."""
    notes: tuple[str, ...] = ()
    """Pairs of sites left out (no sea route) and other remarks, one sentence each."""

    @property
    def feasible(self) -> tuple[LinkCandidate, ...]:
        """The links whose speed needed is within ``params.max_speed_kn``, in the order of the departures."""
        return tuple(link for link in self.links if link.feasible)

    @property
    def simulated(self) -> bool:
        """True when any link has an end seen in a simulated scene."""
        return any(link.simulated for link in self.links)

    def summary_lines(self) -> list[str]:
        """Plain sentences: why there are no links, or one line per feasible link."""
        if len(self.site_ids) < 2:
            n = len(self.site_ids)
            here = f": {', '.join(self.site_ids)}" if n else ""
            return [f"Links need two sites or more with observations; {n} site{'' if n == 1 else 's'} here{here}."]
        if not self.departures or not self.arrivals:
            return [
                f"No links: {self.departures} departure{'' if self.departures == 1 else 's'} and "
                f"{self.arrivals} arrival{'' if self.arrivals == 1 else 's'} at {', '.join(self.site_ids)}."
            ]
        if not self.links:
            return [
                f"No links: no departure from one site and arrival at another fit by size within "
                f"{self.params.window_days:g} days ({self.departures} departures, {self.arrivals} arrivals)."
            ]
        if not self.feasible:
            return [f"No feasible link among {len(self.links)} pair{'' if len(self.links) == 1 else 's'} that fit by size."]
        return [link.summary_line() for link in self.feasible]


def sea_route_note(a: Site, b: Site) -> str | None:
    """None when a sea route between two sites is assumed, else why there is none (naming the site)."""
    for s in (a, b):
        if s.kind in INLAND_KINDS:
            return (
                f"no sea route between {a.id} and {b.id}: {s.id} is a {s.kind.replace('_', ' ')}, taken as inland "
                f"(if it is on the sea, give it the kind port, naval_base or area: `sitewatch sites add {s.id} --kind port ...`)"
            )
    return None


def _pair_key(a: str, b: str) -> tuple[str, str]:
    """Two sites' ids in order: a pair's distance by sea is one whichever way the vessel went."""
    return (a, b) if a <= b else (b, a)


def _pair_distance(
    site_a: Site, site_b: Site, d: Move, a: Move, params: LinkParams, routes: dict[tuple[str, str], SeaDistance]
) -> SeaDistance:
    """The distance by sea between two sites, measured once per pair (either way round) and kept in ``routes``.

    Between the sites' centres (the centroids of their polygons; a site without one: the sighting).
    ``km`` None and ``method`` "great circle": the caller falls back, ``text`` says why.
    """
    key = _pair_key(site_a.id, site_b.id)
    if key in routes:
        return routes[key]
    ends = {}
    for site, m in ((site_a, d), (site_b, a)):
        centre = site.geometry.centroid if site.geometry is not None else None
        ends[site.id] = (centre.x, centre.y) if centre is not None else (m.lon, m.lat)
    (lon_a, lat_a), (lon_b, lat_b) = ends[key[0]], ends[key[1]]
    by_key = (site_a, site_b) if key[0] == site_a.id else (site_b, site_a)
    gc = great_circle_km(lon_a, lat_a, lon_b, lat_b)
    if not params.sea_route:
        sea = SeaDistance(None, "great circle", text="routing turned off (--great-circle, LinkParams.sea_route False)")
    elif gc > params.max_route_km:
        sea = SeaDistance(None, "great circle", text=f"the sites are {gc:.0f} km apart, beyond the "
                                                     f"{params.max_route_km:g} km routing limit")  # fmt: skip
    else:
        sea = sea_distance(lon_a, lat_a, lon_b, lat_b, cell_km=params.route_cell_km, snap_km=params.snap_km,
                           reach_km=params.reach_km)  # fmt: skip
        legs = [f"{site.id}'s centre {leg:.0f} km from the sea on the mask (a river or canal it lacks: that leg "
                "a straight line, so the distance is a lower bound)"
                for site, leg in zip(by_key, sea.legs_km, strict=True) if leg > params.snap_km]  # fmt: skip
        if sea.km is not None and legs:
            sea = replace(sea, text=f"{sea.text}; {'; '.join(legs)}")
        if sea.no_route:
            # Up a river or canal (Hamburg, Antwerp, Rostov-on-Don, Mykolaiv) or on a lake (the Caspian):
            # the mask has neither, so the passage is not routed, but it is not ruled out either. The
            # points were given in the key's order, not the departure's (the harbour was once named).
            site = by_key[sea.no_route_point or 0]
            sea = SeaDistance(None, "great circle", text=(
                f"{site.id}'s centre ({ends[site.id][0]:.3f}, {ends[site.id][1]:.3f}) is more than {params.reach_km:g} km "
                "from the sea on the 1 km land mask, which has no rivers, canals or lakes"
            ))  # fmt: skip
    routes[key] = sea
    return sea


def _move(
    kind: Literal["departure", "arrival"], s: Sighting, day: date, other: date | None, site_id: str,
    observations: Mapping[str, Observation], detections: Mapping[str, Detection],
) -> Move:  # fmt: skip
    obs = observations[s.observation_id]
    det = detections.get(s.detection_id)
    return Move(
        kind=kind, site_id=site_id, date=day, other_date=other, detection_id=s.detection_id,
        observation_id=obs.id, scene_id=obs.scene.id, path=obs.path, acquired=obs.scene.acquired,
        acquired_date_only=obs.acquired_date_only, sensor=obs.scene.sensor, resolution_m=s.resolution_m,
        lon=s.lon, lat=s.lat, length_m=s.length_m, width_m=det.width_m if det and det.width_m > 0 else None,
        truncated=s.truncated, simulated=obs.scene.simulated,
        classes={c.name: c.likelihood for c in det.class_candidates} if det else {},
    )  # fmt: skip


def moves_from_timeline(
    tl: Timeline, observations: Mapping[str, Observation], detections: Mapping[str, Detection]
) -> tuple[list[Move], list[Move]]:
    """The departures and arrivals of a timeline, each with the sighting and image it rests on.

    Walks the rows as :func:`~sitewatch.analysis.occupancy.build_timeline` does (a vessel at a berth
    hidden on a date is carried to the next date that sees it), so the counts are the timeline's. A
    departure rests on the last image of its date that saw the vessel, an arrival on the first.
    """
    dets_by_obs: dict[str, list[Detection]] = defaultdict(list)
    for det in detections.values():
        if det.kind == "vessel":
            dets_by_obs[det.observation_id].append(det)

    def look(s: Sighting, obs_ids: Sequence[str], latest: bool) -> Sighting:
        # Of a date's images that saw the vessel, the last (a departure) or the first (an arrival) bounds the
        # passage best; the merged sighting holds the image that saw most, which may be the other pass.
        if s.last_seen:
            return s  # carried past hidden dates: its image is of the date it was last seen, kept as it is
        looks = [(observations[s.observation_id].scene.acquired, s)]
        for oid in obs_ids:
            if oid == s.observation_id or oid not in observations:
                continue
            o = observations[oid]
            mine = [
                Sighting(d.id, oid, o.scene.sensor, d.footprint.centroid.x, d.footprint.centroid.y, d.length_m,
                         d.berth_id, o.scene.resolution_m, bool(d.truncated), heading_deg=d.heading_deg)
                for d in dets_by_obs.get(oid, ())
            ]  # fmt: skip
            for _, j in match_sightings([s], mine, tl.params):
                # A whole measurement is not traded for a cut one: the size is the link's other evidence.
                if not mine[j].truncated or s.truncated:
                    looks.append((o.scene.acquired, mine[j]))
        return (max if latest else min)(looks, key=lambda t: t[0])[1]

    departures: list[Move] = []
    arrivals: list[Move] = []
    prev: list[Sighting] = []
    prev_row = None
    for row in tl.rows:
        current = list(row.sightings)
        if prev_row is None or prev_row.period != row.period:
            prev, prev_row = current, row
            continue
        pairs = match_sightings(prev, current, tl.params)
        matched_prev, matched_now = {i for i, _ in pairs}, {j for _, j in pairs}
        for j, s in enumerate(current):
            if j not in matched_now:
                first = look(s, row.observation_ids, latest=False)
                arrivals.append(_move("arrival", first, row.date, prev_row.date, tl.site_id, observations, detections))
        carried = []
        for i, s in enumerate(prev):
            if i in matched_prev:
                continue
            if s.berth_id in row.hidden_berths:
                carried.append(s if s.last_seen else replace(s, last_seen=prev_row.date))
            else:
                last = s.last_seen or prev_row.date
                seen = look(s, prev_row.observation_ids, latest=True)
                departures.append(_move("departure", seen, last, row.date, tl.site_id, observations, detections))
        prev, prev_row = current + carried, row
    return departures, arrivals


def _sigmas(a: float, b: float, sigma: float, cut_a: bool, cut_b: bool) -> float | None:
    """How many standard deviations apart two measurements are; a cut one is a lower bound."""
    if cut_a and cut_b:
        return None
    if cut_a:
        return max(0.0, a - b) / sigma
    if cut_b:
        return max(0.0, b - a) / sigma
    return abs(a - b) / sigma


def _size_fit(d: Move, a: Move, params: LinkParams) -> tuple[float | None, float | None, float] | None:
    """(length sigmas, width sigmas, similarity) when the two sizes fit, else None."""
    res_d, res_a = d.resolution_m or 0.0, a.resolution_m or 0.0
    # Without a pixel size the length is taken as exact, as the timeline does: only the base error remains.
    sl = math.hypot(length_sigma_m(res_d), length_sigma_m(res_a))
    zl = _sigmas(d.length_m, a.length_m, sl, d.truncated, a.truncated)
    zw = None
    if d.width_m is not None and a.width_m is not None:
        zw = _sigmas(d.width_m, a.width_m, math.hypot(width_sigma_m(res_d), width_sigma_m(res_a)), d.truncated, a.truncated)
    zs = [z for z in (zl, zw) if z is not None]
    if any(z > params.max_sigmas for z in zs):
        return None
    return zl, zw, math.exp(-0.5 * sum(z * z for z in zs))


def _likely_class(d: Move, a: Move) -> str | None:
    """The class both ends' sizes share most, named only when it leads the next by two to one (as `claims check`
    decides a class); else the two, said to be alike: a Ropucha and an Alligator fit any measured size about
    equally, and the table named one of them ("Ropucha") as if size had told it."""
    shared = {name: p * a.classes[name] for name, p in d.classes.items() if name in a.classes}
    if not shared:
        return None
    (top, p), *rest = sorted(sorted(shared.items()), key=lambda t: -t[1])
    if rest and rest[0][1] > 0 and p / rest[0][1] < 2.0:
        short = [name.split(" (Project")[0] for name in (top, rest[0][0])]  # "other (not in catalogue)" whole
        return f"{short[0]} or {short[1]} (size cannot tell which)"
    return top


def pairing_reach_days(utc_offset_hours: float = 0.0) -> int:
    """Most days an arrival's date can lie before the date of a departure it is linked with: a link's arrival image
    is after its departure's, but an image known only by its date spans its day (12 h either side of its 12:00) and
    counts for its UTC date, the others for their date ``utc_offset_hours`` from UTC."""
    return 2 + math.ceil(abs(utc_offset_hours) / 24)


def _shifted(day: date | None, by: timedelta) -> date | None:
    """``day`` moved by ``by``; None for no day or one past year 1 or 9999 (then read without that edge)."""
    try:
        return None if day is None else day + by
    except OverflowError:
        return None


def _dated_in(day: date, params: LinkParams) -> bool:
    """Whether a move dated ``day`` is one of the period's (``params.start`` to ``params.end``; open when None)."""
    return not ((params.start and day < params.start) or (params.end and day > params.end))


def find_links(
    sites: Sequence[Site],
    timelines: Mapping[str, Timeline],
    observations: Iterable[Observation],
    detections: Iterable[Detection],
    params: LinkParams | None = None,
    ais: Mapping[str, AisId] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> Links:
    """The candidate links between the departures at each site and the arrivals at the others.

    With ``ais`` (detection id → MMSI, :func:`ais_ids`), each link says whether AIS confirms it, rules
    it out or cannot tell (:attr:`LinkCandidate.ais`). ``progress(done, total, "A – B")`` is called
    before each pair of sites is routed by sea (up to seconds a pair) and once when all are.
    """
    params = params or LinkParams()
    obs_by_id = {o.id: o for o in observations}
    det_by_id = {d.id: d for d in detections}
    departures: list[Move] = []
    arrivals: list[Move] = []
    for s in sites:
        tl = timelines.get(s.id)
        if tl is None:
            continue
        dep, arr = moves_from_timeline(tl, obs_by_id, det_by_id)
        # A link's arrival is after its departure, so its date is at most pairing_reach_days before the departure's:
        # a departure later than that after --to has no arrival to pair with, nor an arrival that long before --from.
        # (Kept or not, they gave the same links; now a timeline read for the period alone gives them too.)
        reach = timedelta(days=pairing_reach_days(tl.params.utc_offset_hours))
        last, first = _shifted(params.end, reach), _shifted(params.start, -reach)
        departures += [m for m in dep if not (params.start and m.date < params.start) and not (last and m.date > last)]
        arrivals += [m for m in arr if not (params.end and m.date > params.end) and not (first and m.date < first)]
    by_id = {s.id: s for s in sites}
    notes: dict[tuple[str, str], str] = {}
    routes: dict[tuple[str, str], SeaDistance] = {}
    fallbacks: dict[tuple[str, str], str] = {}
    fitting: list[tuple[Move, Move, float, tuple[float | None, float | None, float]]] = []
    # Every departure against every arrival was 2.6 million pairs at ten sites over 1,800 days, each making
    # datetimes in Python; numpy keeps, in the arrivals' order, those in the window and not before the
    # departure (a second's slack: the test below, as before, decides).
    import numpy as np

    arrival_end = [a.time_bounds()[1] for a in arrivals]
    ends = np.array([e.timestamp() for e in arrival_end], float)
    days = np.array([a.date.toordinal() for a in arrivals], np.int64)
    for d in departures:
        start, _ = d.time_bounds()
        near = np.flatnonzero((ends > start.timestamp() - 1.0) & (days - d.date.toordinal() <= params.window_days))
        for i in near.tolist():
            a = arrivals[i]
            if a.site_id == d.site_id:
                continue
            end = arrival_end[i]
            hours = (end - start).total_seconds() / 3600
            if hours <= 0 or (a.date - d.date).days > params.window_days:
                continue
            pair = (d.site_id, a.site_id)
            if pair not in notes:
                notes[pair] = sea_route_note(by_id[d.site_id], by_id[a.site_id]) or ""
            if notes[pair]:
                continue
            fit = _size_fit(d, a, params)
            if fit is not None:
                fitting.append((d, a, hours, fit))
    # Routed only for a pair of sites with a move that fits by size (0.2-1.5 s a pair routed, 7 s for one that
    # finds no route), each pair once, so the pairs are known before the first is routed: progress can count them.
    first_move: dict[tuple[str, str], tuple[Move, Move]] = {}
    for d, a, _, _ in fitting:
        first_move.setdefault(_pair_key(d.site_id, a.site_id), (d, a))
    for k, (key, (d, a)) in enumerate(first_move.items()):
        if progress:
            progress(k, len(first_move), " – ".join(key))
        _pair_distance(by_id[d.site_id], by_id[a.site_id], d, a, params, routes)
    if progress:
        progress(len(first_move), len(first_move), "")
    found: list[LinkCandidate] = []
    for d, a, hours, fit in fitting:
        sea = _pair_distance(by_id[d.site_id], by_id[a.site_id], d, a, params, routes)
        gc = great_circle_km(d.lon, d.lat, a.lon, a.lat)
        if sea.km is not None and sea.km >= gc:
            km, how = sea.km, f"{sea.text} between the sites' centres"
        elif sea.km is not None:
            # Two sightings far apart in sites close together: the route between the centres was the
            # shorter, and made the passage slower than a straight line could.
            km, how = gc, (f"the great circle between the two sightings, longer than the {sea.km:.1f} km "
                           f"{sea.text.replace('routed', 'route', 1)} between the sites' centres")  # fmt: skip
        else:
            km = gc * params.detour_factor
            how = f"great circle × {params.detour_factor:g}: {sea.text}"
            fallbacks[_pair_key(d.site_id, a.site_id)] = how
        speed = km / KNOT_KMH / hours
        text = []
        if d.acquired_date_only or a.acquired_date_only:
            text.append(
                "an image known only by its date: hours counted from the start of the departure's day "
                "to the end of the arrival's" if d.acquired_date_only and a.acquired_date_only else
                "the departure's image known only by its date: hours counted from the start of its day"
                if d.acquired_date_only else
                "the arrival's image known only by its date: hours counted to the end of its day"
            )  # fmt: skip
        if d.truncated or a.truncated:
            text.append("a hull cut by the image's edge or missing data: its size is a lower bound")
        found.append(
            LinkCandidate(
                departure=d, arrival=a, hours_apart=round(hours, 2), distance_km=round(km, 1),
                great_circle_km=round(gc, 1), speed_kn=round(speed, 2), feasible=speed <= params.max_speed_kn,
                similarity=round(fit[2], 3),
                length_sigmas=None if fit[0] is None else round(fit[0], 2),
                width_sigmas=None if fit[1] is None else round(fit[1], 2),
                likely_class=_likely_class(d, a), notes=tuple(text),
                distance_by="route" if sea.km is not None else "great circle", distance_text=how,
            )
        )  # fmt: skip
    by_arrival: dict[str, int] = defaultdict(int)
    by_departure: dict[str, int] = defaultdict(int)
    for link in found:
        if link.feasible:
            by_arrival[link.arrival.detection_id] += 1
            by_departure[link.departure.detection_id] += 1
    out = []
    for link in found:
        own = 1 if link.feasible else 0
        link = replace(
            link,
            other_departures=by_arrival[link.arrival.detection_id] - own,
            other_arrivals=by_departure[link.departure.detection_id] - own,
        )
        out.append(link if ais is None else _settle(link, ais))
    if ais is not None:
        out = _alternatives_after_ais(_rule_out_accounted_for(out))
    out.sort(key=lambda k: (k.departure.acquired, k.departure.site_id, k.arrival.acquired, k.arrival.site_id,
                            k.departure.detection_id, k.arrival.detection_id))  # fmt: skip
    return Links(
        site_ids=tuple(s.id for s in sites),
        params=params,
        links=tuple(out),
        departures=sum(_dated_in(m.date, params) for m in departures),
        arrivals=sum(_dated_in(m.date, params) for m in arrivals),
        notes=tuple(sorted({n for n in notes.values() if n}))
        + tuple(f"distance by sea between {' and '.join(p)}: {how}" for p, how in sorted(fallbacks.items())),
    )


def _settle(link: LinkCandidate, ais: Mapping[str, AisId]) -> LinkCandidate:
    d, a = ais.get(link.departure.detection_id), ais.get(link.arrival.detection_id)
    verdict: AisVerdict = "not matched" if d is None or a is None else "confirmed" if d.mmsi == a.mmsi else "ruled out"
    return replace(link, ais=verdict, ais_departure=d, ais_arrival=a)


def _rule_out_accounted_for(links: list[LinkCandidate]) -> list[LinkCandidate]:
    """A link AIS left unsettled is ruled out when an end's MMSI is confirmed by another link of that end.

    The departure's vessel, confirmed at one arrival, is not the vessel of the departure's other
    arrivals; nor is an arrival's vessel, confirmed from one departure, that of its other departures.
    """
    by_departure: dict[str, LinkCandidate] = {}
    by_arrival: dict[str, LinkCandidate] = {}
    # The earliest confirmed link of an end accounts for it (one MMSI may arrive twice in the window).
    for k in sorted((k for k in links if k.ais == "confirmed"), key=lambda k: (k.departure.acquired, k.arrival.acquired)):
        by_departure.setdefault(k.departure.detection_id, k)
        by_arrival.setdefault(k.arrival.detection_id, k)
    out = []
    for k in links:
        if k.ais == "not matched":
            # A confirmed link of an end means that end's MMSI is known: no need to check it here.
            other = by_departure.get(k.departure.detection_id) or by_arrival.get(k.arrival.detection_id)
            if other is not None:
                k = replace(k, ais="ruled out", ais_accounted_for_by=(other.departure, other.arrival))
        out.append(k)
    return out


def _alternatives_after_ais(links: list[LinkCandidate]) -> list[LinkCandidate]:
    """Each link's alternatives without the feasible candidates AIS ruled out, which are counted apart."""
    ruled_by_arrival: dict[str, int] = defaultdict(int)
    ruled_by_departure: dict[str, int] = defaultdict(int)
    for k in links:
        if k.feasible and k.ais == "ruled out":
            ruled_by_arrival[k.arrival.detection_id] += 1
            ruled_by_departure[k.departure.detection_id] += 1
    out = []
    for k in links:
        own = 1 if k.feasible and k.ais == "ruled out" else 0
        deps = ruled_by_arrival[k.arrival.detection_id] - own
        arrs = ruled_by_departure[k.departure.detection_id] - own
        out.append(replace(
            k, other_departures=k.other_departures - deps, other_arrivals=k.other_arrivals - arrs,
            ais_ruled_out_departures=deps, ais_ruled_out_arrivals=arrs,
        ))  # fmt: skip
    return out


def _ais_dict(k: LinkCandidate) -> dict[str, Any] | None:
    if k.ais is None:
        return None
    ends = {"from": k.ais_departure, "to": k.ais_arrival}
    by = k.ais_accounted_for_by
    return {"status": k.ais, "text": k.ais_text()} | {
        end: None if x is None else {"mmsi": x.mmsi, "name": x.name} for end, x in ends.items()
    } | ({"accounted_for_by": {"from": by[0].detection_id, "to": by[1].detection_id}} if by else {})


def _move_dict(m: Move) -> dict[str, Any]:
    return {
        "site_id": m.site_id,
        "date": m.date.isoformat(),
        "acquired": iso_utc(m.acquired),
        "acquired_date_only": m.acquired_date_only,
        "observation_id": m.observation_id,
        "scene_id": m.scene_id,
        "image": m.path,
        "detection_id": m.detection_id,
        "sensor": m.sensor,
        "resolution_m": m.resolution_m,
        "length_m": round(m.length_m, 1),
        "width_m": None if m.width_m is None else round(m.width_m, 1),
        "truncated": m.truncated,
        "lon": round(m.lon, 6),
        "lat": round(m.lat, 6),
        ("gone_on" if m.kind == "departure" else "not_seen_on"): m.other_date.isoformat() if m.other_date else None,
        "simulated": m.simulated,
    }


def links_to_dict(links: Links) -> dict[str, Any]:
    """A JSON-ready dict: sites, parameters, counts, notes and every candidate link with its evidence."""
    p = links.params
    return {
        "sites": list(links.site_ids),
        "parameters": {
            "window_days": p.window_days, "max_speed_kn": p.max_speed_kn, "detour_factor": p.detour_factor,
            "sea_route": p.sea_route, "max_route_km": p.max_route_km, "route_cell_km": p.route_cell_km,
            "snap_km": p.snap_km, "reach_km": p.reach_km, "land_mask": LAND_MASK_TEXT if p.sea_route and land_mask_file() else None,
            "max_sigmas": p.max_sigmas, "from": p.start.isoformat() if p.start else None,
            "to": p.end.isoformat() if p.end else None,
        },  # fmt: skip
        "departures": links.departures,
        "arrivals": links.arrivals,
        "simulated": links.simulated,
        "notes": list(links.notes),
        "summary": links.summary_lines(),
        "links": [
            {
                "from": _move_dict(k.departure),
                "to": _move_dict(k.arrival),
                "hours_apart": k.hours_apart,
                "distance_km": k.distance_km,
                "great_circle_km": k.great_circle_km,
                "distance_by": k.distance_by,
                "distance_text": k.distance_text,
                "speed_kn": k.speed_kn,
                "feasible": k.feasible,
                "similarity": k.similarity,
                "length_sigmas": k.length_sigmas,
                "width_sigmas": k.width_sigmas,
                "likely_class": k.likely_class,
                "other_departures": k.other_departures,
                "other_arrivals": k.other_arrivals,
                "ais_ruled_out_departures": k.ais_ruled_out_departures,
                "ais_ruled_out_arrivals": k.ais_ruled_out_arrivals,
                "alternatives": k.alternatives,
                "ambiguity": k.ambiguity_text(),
                "simulated": k.simulated,
                "notes": list(k.notes),
                "ais": _ais_dict(k),
            }
            for k in links.links
        ],
    }


def load_links(
    store: Store,
    site_ids: Sequence[str] | None = None,
    params: LinkParams | None = None,
    timeline_params: TimelineParams | None = None,
    ais: Mapping[str, AisId] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> Links:
    """Read the sites' observations and detections from a store and find the links between them.

    ``site_ids`` None: every site with observations. An unknown site is an error naming it. ``ais``
    and ``progress``: as :func:`find_links`.
    """
    if site_ids:
        sites = [store.get_site(s) for s in dict.fromkeys(site_ids)]
    else:
        held = set(store.imaged_site_ids())  # one query, not one a site
        sites = [s for s in store.sites() if s.id in held]
    timelines: dict[str, Timeline] = {}
    observations: list[Observation] = []
    detections: list[Detection] = []
    params = params or LinkParams()
    tp = timeline_params or TimelineParams()
    reach = timedelta(days=pairing_reach_days(tp.utc_offset_hours))
    # Of a period (--from/--to): the moves that may pair, dated from pairing_reach_days before it to as many after
    # it, are read with the dates that settle them, not the sites' years of rows (a month's links read 23,000 rows
    # at ten sites over 1,800 days). A timeline of its own period (timeline_params's) is read whole, as before.
    moves = replace(tp, start=_shifted(params.start, -reach), end=_shifted(params.end, reach))
    by_period = (params.start or params.end) and not (tp.start or tp.end)
    for s in sites:
        # One read a site for its timeline and its moves' images (each observation was read twice: 40 % of the
        # run at ten sites over 1,800 days), and one snapshot, so the two agree while a detect writes.
        if by_period:
            records = read_move_records(store, s.id, moves, site_geometry=s.geometry)
        else:
            records = read_site_records(store, s.id)
        timelines[s.id] = build_timeline(
            s.id, records.observations, records.detections, timeline_params, site_name=s.name,
            undetected=records.undetected, site_geometry=s.geometry,
        )  # fmt: skip
        observations += records.observations
        detections += records.detections
    return find_links(sites, timelines, observations, detections, params, ais, progress)
