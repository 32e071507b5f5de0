"""Occupancy timeline: which vessels were at a site on each observed date.

Pure functions over observations and detections (``build_timeline``); the
one function that reads a store (``load_timeline``) sits at the end.

Rules, each a field of :class:`TimelineParams`:

- An observation is **usable** when at least ``min_valid_fraction`` (0.5) of
  the site has data and, for optical scenes, at most ``max_cloud_fraction``
  (0.2) of it is cloud: a cloudier scene hides vessels, and counting it would
  invent departures. Unusable observations are listed as skipped, with why.
- A **date** (UTC, or shifted by ``utc_offset_hours``; an acquisition known only by its date keeps
  that date, :func:`observation_date`) seen by several
  observations - SAR and optical, or two passes - is one date. Its vessels
  are the union of what each observation saw, the same vessel counted once
  (matched by berth and length, else by position and length). A length measured on a
  ``truncated`` detection (the hull cut by the image's edge or by missing data) is a lower
  bound: it only rules out a vessel measured whole and shorter, and a whole measurement of
  the vessel on the same date stands for it (of two cut ones, the longer).
- **Position**: away from a shared berth, two sightings are one vessel within
  ``match_distance_m`` (150 m). A truncated sighting's centroid is its visible piece's: the
  piece lies up to half the missing length from the hull's centroid, along the hull's axis, so
  that offset is allowed on top, along the axis only - against a whole sighting half of (whole
  length - cut length), along the whole one's heading (a 50 m piece of a 400 m ship: 175 m + 150 m);
  between two cut ones, the most that a hull of the catalogue's longest class (Panamax, 235 m),
  or of the longer piece, leaves: L - (l_a + l_b) / 2, along the longer piece's heading. Pairs
  are costed by the distance beyond that offset, so a cut piece lying on its hull goes with it
  rather than with a whole neighbour nearer its centroid. Two whole sightings: centroid to centroid.
- **Arrivals and departures** compare each usable date with the previous
  usable date of the same period: a vessel matched on both stayed; one only
  on the later date arrived; one only on the earlier date left. The first
  date of a period has none (what came before is unknown).
- **Periods**: usable dates further apart than ``gap_days`` (45) start a new
  observation period, so separate imaging campaigns are not read as one long
  stretch. **Presence days** are usable dates with at least one vessel,
  counted per period.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from ..errors import InputError
from ..model import Detection, Observation
from ..report.credits import credits_text
from ..units import count_noun
from ..vessels import catalogue, length_sigma_m

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from ..store import Store

__all__ = [
    "TimelineParams",
    "Sighting",
    "TimelineRow",
    "Period",
    "SkippedObservation",
    "Timeline",
    "build_timeline",
    "is_usable",
    "hidden_berths",
    "BERTHS_HIDDEN",
    "NOT_DETECTED",
    "load_timeline",
    "SiteRecords",
    "read_site_records",
    "timeline_for_site",
    "write_timeline_files",
    "equipment_changes",
    "match_sightings",
    "observation_date",
    "timeline_to_dict",
]


@dataclass(frozen=True)
class TimelineParams:
    """The documented knobs of the occupancy timeline."""

    min_valid_fraction: float = 0.5
    """Least fraction of the site with data for an observation to count."""
    max_cloud_fraction: float = 0.2
    """Most cloud over the site for an optical observation to count (unknown cloud counts as clear)."""
    max_berth_hidden_fraction: float = 0.5
    """A berth whose zone (within reach of its line, in the site) is hidden - no data or cloud - over more
    than this fraction on a date is not seen that date: its vessels are carried forward, not departed."""
    gap_days: int = 45
    """Usable dates further apart than this start a new observation period."""
    match_distance_m: float = 150.0
    """Two sightings without a shared berth are the same vessel only within this distance (for a truncated
    one, beyond the offset its missing part allows along the hull's axis)."""
    length_tolerance_m: float = 25.0
    """...and only when their measured lengths differ by at most this much, or, on coarser pixels,
    by three standard deviations of the difference of two measurements (the length error of
    :func:`sitewatch.vessels.length_sigma_m` grows with the pixel size: 36 m between two 10 m looks)."""
    fine_resolution_m: float = 5.0
    """Pixels this fine or finer show quay equipment (cranes, trucks); coarser looks cannot say it left."""
    pass_seconds: float = 60.0
    """Observations of one platform and sensor (and orbit, where recorded) acquired within this many seconds of each
    other are pieces of one pass (Sentinel-1 slices, about 25 s apart; strips of one capture), judged together: the
    date's coverage is their union (:mod:`sitewatch.analysis.passes`). 0: each observation judged on its own."""
    utc_offset_hours: float = 0.0
    """Shift acquisition times before taking the date (e.g. +10 for Primorsky local dates); an acquisition
    known only by its date keeps that date (:func:`observation_date`)."""
    start: date | None = None
    """First date kept (inclusive)."""
    end: date | None = None
    """Last date kept (inclusive)."""

    def __post_init__(self) -> None:
        for name in ("min_valid_fraction", "max_cloud_fraction", "max_berth_hidden_fraction"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise InputError(f"TimelineParams.{name} must be a fraction in [0, 1], got {value}")
        if not 0 <= self.pass_seconds <= 3600:
            raise InputError(f"TimelineParams.pass_seconds must be in [0, 3600] seconds, got {self.pass_seconds}")
        if self.gap_days < 1:
            raise InputError(f"gap_days must be at least 1, got {self.gap_days}")
        if self.start and self.end and self.start > self.end:
            raise InputError(f"--from {self.start} is after --to {self.end}")


@dataclass(frozen=True)
class Sighting:
    """One vessel on one date (one detection stands for it)."""

    detection_id: str
    observation_id: str
    sensor: str
    lon: float
    lat: float
    length_m: float
    berth_id: str | None
    resolution_m: float | None = None
    """Pixel size of the image the vessel was measured on (None: not known, the length taken as exact)."""
    truncated: bool = False
    """The detection is cut by the image's edge or by missing data: ``length_m`` is a lower bound
    (a detection stored before the flag was recorded counts as whole, as it did then)."""
    last_seen: date | None = None
    """For a vessel carried forward past dates its berth was hidden: the date it was last seen, the date of
    its ``detection_id`` and ``observation_id`` (None: seen on the date it stands for)."""
    heading_deg: float | None = None
    """Orientation of the long axis, degrees clockwise from true north (the detection's); a cut hull's
    missing part lies along it. None: not known; a cut sighting's wider tolerance then runs along the
    other look's heading, and is a circle only when that has none either."""


_Date = date
"""``date`` where a class's own ``date`` field hides the type."""


@dataclass(frozen=True)
class TimelineRow:
    """One usable date at one site."""

    site_id: str
    date: date
    period: int
    """Index (from 1) of the observation period holding the date."""
    sensors: tuple[str, ...]
    observation_ids: tuple[str, ...]
    scene_ids: tuple[str, ...]
    vessels: int
    """Distinct vessels seen on the date, all sensors together."""
    at_berth: Mapping[str, int]
    """Berth id -> vessels at it."""
    off_berth: int
    """Vessels at no berth (at anchor, under way)."""
    by_sensor: Mapping[str, int]
    """Sensor -> vessels that sensor saw on the date, all its passes together (a vessel seen by both counts under each)."""
    others: Mapping[str, int]
    """Other object kinds (crane, ...) -> most seen by one observation of the date."""
    arrivals: int
    departures: int
    arrival_berths: tuple[str, ...] = ()
    departure_berths: tuple[str, ...] = ()
    hidden_berths: tuple[str, ...] = ()
    """Berths not seen on the date (hidden by no data or cloud): a vessel last seen at one is carried forward."""
    carried_departures: tuple[Sighting, ...] = field(default=(), repr=False)
    """Departures decided on this date after their berth was hidden on the usable dates between: each vessel
    as last seen (its ``last_seen`` date, detection and observation). It left some time after that date."""
    simulated: bool = False
    sightings: tuple[Sighting, ...] = field(default=(), repr=False)
    fine: bool = False
    """True when an observation of the date has pixels of ``fine_resolution_m`` or finer."""
    truncated_vessels: int = 0
    """Vessels of the date seen only cut by an image's edge or by missing data (counted in ``vessels``;
    their lengths are lower bounds)."""

    @property
    def present(self) -> bool:
        """True when at least one vessel was seen on the date."""
        return self.vessels > 0

    @property
    def departures_last_seen(self) -> dict[str, _Date]:
        """Berth -> date its departed vessel was last seen, for the departures decided after hidden dates.

        One date per berth: every vessel carried at a berth was last seen on the last date that saw the berth.
        """
        return {s.berth_id or "-": s.last_seen for s in self.carried_departures if s.last_seen}


@dataclass(frozen=True)
class Period:
    """A run of usable dates without a gap longer than ``gap_days``."""

    index: int
    start: date
    end: date
    dates: int
    """Usable observation dates in the period."""
    presence_days: int
    """Usable dates with at least one vessel."""
    berth_presence_days: int
    """Usable dates with at least one vessel at a berth."""
    arrivals: int
    departures: int
    max_vessels: int
    sensors: tuple[str, ...]
    first_presence: date | None = None
    """First usable date with a vessel."""
    last_presence: date | None = None
    """Last usable date with a vessel."""


@dataclass(frozen=True)
class SkippedObservation:
    """An observation left out of the timeline, and why."""

    observation_id: str
    date: date
    sensor: str
    reason: str


@dataclass(frozen=True)
class Timeline:
    """The occupancy timeline of one site."""

    site_id: str
    params: TimelineParams
    rows: tuple[TimelineRow, ...]
    periods: tuple[Period, ...]
    skipped: tuple[SkippedObservation, ...] = ()
    simulated: bool = False
    site_name: str = ""
    credit: str = ""
    """The credits of the images its dates stand on (:func:`~sitewatch.report.credits.credits_text`), printed
    under its chart and in the chart's PNG text: a chart of counts is still made from providers' images."""

    @property
    def presence_days(self) -> int:
        """Dates with a vessel seen, over every period."""
        return sum(p.presence_days for p in self.periods)

    def summary_lines(self) -> list[str]:
        """One plain sentence per period: 'Rason: 34 presence days between 2023-08-25 and 2024-02-13 (...)'."""
        name = self.site_name or self.site_id
        if not self.periods:
            return [f"{name}: no usable observations."]
        lines = []
        for p in self.periods:
            plural = "" if p.presence_days == 1 else "s"
            if p.first_presence and p.last_presence and p.first_presence == p.last_presence:
                head = f"{name}: {p.presence_days} presence day on {p.first_presence.isoformat()}"
            elif p.first_presence and p.last_presence:
                head = (
                    f"{name}: {p.presence_days} presence day{plural} between "
                    f"{p.first_presence.isoformat()} and {p.last_presence.isoformat()}"
                )
            else:
                head = f"{name}: no vessel seen"
            lines.append(
                f"{head} (observation period {p.index}, {p.start.isoformat()} to {p.end.isoformat()}: "
                f"{p.dates} usable observation date{'' if p.dates == 1 else 's'}, "
                f"{count_noun(p.arrivals, 'arrival')}, {count_noun(p.departures, 'departure')}, "
                f"at most {count_noun(p.max_vessels, 'vessel')} at once; "
                f"sensors: {', '.join(p.sensors)})."
            )
        return lines


NOT_DETECTED = (
    "no current detections: run `sitewatch detect` (when it reports the image changed or "
    "unreadable, ingest the source again)"
)


def _percents(value: float, limit: float) -> tuple[str, str]:
    """Two fractions as percent, with the fewest decimals that tell them apart (not "20% > 20%")."""
    for digits in range(5):
        a, b = f"{value:.{digits}%}", f"{limit:.{digits}%}"
        if a != b:
            break
    return a, b


def is_usable(obs: Observation, params: TimelineParams) -> str | None:
    """None when the observation counts for the timeline, else the reason it does not."""
    # In percent, as --min-valid and --max-cloud take them.
    if obs.valid_fraction < params.min_valid_fraction:
        valid, least = _percents(obs.valid_fraction, params.min_valid_fraction)
        return f"valid {valid} of the site < {least}"
    if (
        obs.scene.sensor == "optical"
        and obs.cloud_fraction is not None
        and obs.cloud_fraction > params.max_cloud_fraction
    ):
        cloud, most = _percents(obs.cloud_fraction, params.max_cloud_fraction)
        return f"cloud over {cloud} of the site's valid pixels > {most}"
    return None


BERTHS_HIDDEN = "berths_hidden"
"""Provenance key where ``detect`` records each berth's hidden fraction in an observation ({berth id: fraction})."""


def hidden_berths(observations: Sequence[Observation], params: TimelineParams) -> tuple[str, ...]:
    """Berths hidden in every one of a date's observations (one that saw a berth is enough to see it).

    An observation without a record (detected before it was kept) counts as seeing every berth.
    """
    hidden: set[str] | None = None
    for obs in observations:
        record = obs.provenance.get(BERTHS_HIDDEN)
        here = {
            str(b) for b, f in (record.items() if isinstance(record, Mapping) else ())
            if isinstance(f, int | float) and f > params.max_berth_hidden_fraction
        }  # fmt: skip
        hidden = here if hidden is None else hidden & here
    return tuple(sorted(hidden or ()))


def observation_date(obs: Observation, utc_offset_hours: float = 0.0) -> date:
    """The date an observation counts for: the date of its acquisition time (UTC) plus ``utc_offset_hours``.

    An acquisition known only by its date (:attr:`~sitewatch.model.Observation.acquired_date_only`)
    counts for that date whatever the offset: its 12:00 UTC is only assumed, and an offset of +13 or
    +14 h (Tonga, Kiribati) would carry it into the next day.
    """
    # An aware time in another zone (+09:00) would otherwise give that zone's date, not the UTC one.
    when = obs.scene.acquired.astimezone(UTC)
    if obs.acquired_date_only:
        return when.date()
    return (when + timedelta(hours=utc_offset_hours)).date()


def match_sightings(
    before: Sequence[Sighting], after: Sequence[Sighting], params: TimelineParams
) -> list[tuple[int, int]]:
    """One-to-one pairs (i, j) of the same vessel in ``before`` and ``after``.

    Same vessel: lengths within ``length_tolerance_m`` (or within three standard deviations
    of the difference of the two measurements, which grows with their pixel sizes; a truncated
    sighting's length is a lower bound, so it only has to be no longer than the other's, within
    that tolerance, and two truncated sightings fit any lengths) and either
    the same berth or, when either has no berth, centroids within ``match_distance_m``.

    A truncated sighting's centroid is its visible piece's, not its hull's, so its distance is
    counted beyond the offset the missing part allows, along the hull's axis (``heading_deg``; the
    other look's when that one has none, a circle when neither has) and not across it: against a whole sighting, half of (whole length - cut
    length), along the whole one's axis; between two cut ones, the hull taken as the longest class
    of :func:`sitewatch.vessels.catalogue` (or the longer piece, if longer), L - (l_a + l_b) / 2,
    along the longer piece's axis. Two whole sightings are measured centroid to centroid.
    Among the compatible pairings the one with the least total distance (so counted; then the
    nearer centroids) wins, so a cut piece is not taken from its hull by a whole neighbour nearer it.
    """
    if not before or not after:
        return []
    big = 1e12
    a = np.array([(s.lon, s.lat, s.length_m) for s in before], float).T[:, :, None]
    b = np.array([(s.lon, s.lat, s.length_m) for s in after], float).T[:, None, :]
    (lon_a, lat_a, len_a), (lon_b, lat_b, len_b) = a, b
    # Equirectangular distance: exact enough over a port (a few km), no dependencies.
    k = np.cos(np.radians((lat_a + lat_b) / 2))
    east, north = (lon_b - lon_a) * 111_320.0 * k, (lat_b - lat_a) * 110_540.0
    d = np.hypot(east, north)
    berth_a = np.array([s.berth_id or "" for s in before], object)[:, None]
    berth_b = np.array([s.berth_id or "" for s in after], object)[None, :]
    both = (berth_a != "") & (berth_b != "")
    cut_a = np.array([s.truncated for s in before], bool)[:, None]
    cut_b = np.array([s.truncated for s in after], bool)[None, :]
    dist = d
    if cut_a.any() or cut_b.any():
        heading_a = np.array([np.nan if s.heading_deg is None else s.heading_deg for s in before], float)[:, None]
        heading_b = np.array([np.nan if s.heading_deg is None else s.heading_deg for s in after], float)[None, :]
        dist = _cut_distance_m(east, north, d, len_a, len_b, cut_a, cut_b, heading_a, heading_b)
    ok = np.where(both, berth_a == berth_b, dist <= params.match_distance_m)
    # A fixed tolerance would split one ship into a departure and an arrival whenever coarse
    # pixels mis-measure it: 25 m is two standard deviations at 10 m, less than one at 30 m.
    sigma_a = np.array([length_sigma_m(s.resolution_m) if s.resolution_m else 0.0 for s in before])[:, None]
    sigma_b = np.array([length_sigma_m(s.resolution_m) if s.resolution_m else 0.0 for s in after])[None, :]
    tol = np.maximum(params.length_tolerance_m, 3.0 * np.hypot(sigma_a, sigma_b))
    # A hull cut by the image's edge or by missing data was measured short: its length says the
    # vessel is at least that long, not that it is no longer (a cut 90 m of a 180 m ship is the ship).
    ok &= np.where(
        cut_a & cut_b, True,
        np.where(cut_a, len_b >= len_a - tol, np.where(cut_b, len_a >= len_b - tol, np.abs(len_a - len_b) <= tol)),
    )  # fmt: skip
    # A cut piece lying on its hull's axis is 0 m beyond its offset from any hull long enough to hold it:
    # of such, the nearer centroid wins (a thousandth of a metre per metre only breaks the tie).
    cost = np.where(ok, dist + 1e-3 * d, big)
    # Imported here: scipy.optimize takes 0.25 s to import, which every command that reads a timeline paid.
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True) if cost[i, j] < big]


@lru_cache(maxsize=1)
def _longest_class_m() -> float:
    return max(c.length_max_m for c in catalogue())


def _cut_offset_m(
    len_a: np.ndarray, len_b: np.ndarray, cut_a: np.ndarray, cut_b: np.ndarray
) -> np.ndarray:
    """How far (m) the visible centroids of two looks of one hull can lie apart along its axis.

    A piece of length ``l`` of a hull of length ``L`` has its centroid up to (L - l) / 2 from the
    hull's; two pieces lie at most L - (l_a + l_b) / 2 apart (the hull spans both), which for a piece
    against the whole hull (L = l_b) is (l_b - l_a) / 2. Two cut pieces leave L unknown: it is taken
    as the longest class of the vessel catalogue (the ships a site is watched for), or the longer
    piece when that is longer; a longer hull seen cut at both ends on two dates stays two vessels.
    Two whole looks: 0.
    """
    hull = np.where(cut_a & cut_b, np.maximum(_longest_class_m(), np.maximum(len_a, len_b)), np.where(cut_a, len_b, len_a))
    return np.where(cut_a | cut_b, np.maximum(0.0, hull - (len_a + len_b) / 2), 0.0)


def _cut_distance_m(
    east: np.ndarray,
    north: np.ndarray,
    d: np.ndarray,
    len_a: np.ndarray,
    len_b: np.ndarray,
    cut_a: np.ndarray,
    cut_b: np.ndarray,
    heading_a: np.ndarray,
    heading_b: np.ndarray,
) -> np.ndarray:
    """Distance (m) between two looks beyond what a cut hull's offset explains; ``d`` for two whole looks.

    The offset runs along the hull's axis: the whole look's (a short piece of a broad hull can be wider
    than long, so its own axis says little), of two cut looks the longer piece's. Across it the
    distance counts in full. When that look has no heading the other look's is the axis; when
    neither has one, the offset is taken off in every direction.
    """
    offset = _cut_offset_m(len_a, len_b, cut_a, cut_b)
    use_b = (cut_a & ~cut_b) | (cut_a & cut_b & (len_b > len_a))
    first, other = np.where(use_b, heading_b, heading_a), np.where(use_b, heading_a, heading_b)
    axis = np.radians(np.where(np.isnan(first), other, first))
    along = east * np.sin(axis) + north * np.cos(axis)  # headings are clockwise from north
    across = east * np.cos(axis) - north * np.sin(axis)
    beyond = np.where(
        np.isnan(axis), np.maximum(0.0, d - offset), np.hypot(np.maximum(0.0, np.abs(along) - offset), across)
    )
    # Two whole looks keep their plain distance, to the last bit.
    return np.where(offset > 0, beyond, d)


def _sighting(d: Detection, obs: Observation) -> Sighting:
    c = d.footprint.centroid
    return Sighting(
        d.id, obs.id, obs.scene.sensor, c.x, c.y, d.length_m, d.berth_id, obs.scene.resolution_m, bool(d.truncated),
        heading_deg=d.heading_deg,
    )


def _merge_date(
    observations: Sequence[Observation], by_obs: Mapping[str, Sequence[Detection]], params: TimelineParams
) -> list[Sighting]:
    """Union of the vessels each observation of one date saw, each vessel once."""
    per_obs = [
        [_sighting(d, o) for d in by_obs.get(o.id, ()) if d.kind == "vessel"] for o in observations
    ]
    # Start from the observation that saw most (finest pixels on a tie): its sightings stand for the vessels.
    order = sorted(
        range(len(observations)),
        key=lambda k: (-len(per_obs[k]), observations[k].scene.resolution_m, observations[k].id),
    )
    merged: list[Sighting] = []
    for k in order:
        pairs = match_sightings(merged, per_obs[k], params)
        for i, j in pairs:
            seen = per_obs[k][j]
            if merged[i].truncated and (not seen.truncated or seen.length_m > merged[i].length_m):
                # Seen whole in another look, that length stands for the vessel; seen cut in both, the
                # longer cut is the better lower bound (whichever look was merged first).
                merged[i] = seen
        matched = {j for _, j in pairs}
        merged += [s for j, s in enumerate(per_obs[k]) if j not in matched]
    return merged


def build_timeline(
    site_id: str,
    observations: Iterable[Observation],
    detections: Iterable[Detection],
    params: TimelineParams | None = None,
    *,
    site_name: str = "",
    undetected: Collection[str] = (),
    site_geometry: BaseGeometry | None = None,
) -> Timeline:
    """The occupancy timeline of one site from its observations and their detections.

    ``undetected`` names observations that detection has not run on (or not since their
    image was replaced): they are skipped with that reason, not read as "no vessel".
    Pieces of one pass are judged together (:func:`sitewatch.analysis.passes.usability`); ``site_geometry``,
    the site's polygon, bounds how much two overlapping pieces share (without it, pieces whose footprints
    overlap are taken to share all they can).
    """
    from .passes import usability

    params = params or TimelineParams()
    by_obs: dict[str, list[Detection]] = defaultdict(list)
    for d in detections:
        by_obs[d.observation_id].append(d)
    skipped: list[SkippedObservation] = []
    by_date: dict[date, list[Observation]] = defaultdict(list)
    simulated = False
    def in_window(day: date) -> bool:
        return not ((params.start and day < params.start) or (params.end and day > params.end))

    own = [obs for obs in observations if obs.site_id == site_id]
    reasons = usability(own, params, site=site_geometry, undetected=undetected)
    for obs in own:
        day = observation_date(obs, params.utc_offset_hours)
        if in_window(day):
            simulated = simulated or obs.scene.simulated
        reason = reasons[obs.id]
        if reason:
            if in_window(day):
                skipped.append(SkippedObservation(obs.id, day, obs.scene.sensor, reason))
            continue
        # Dates before --from are kept until the rows are cut below: the first date of the window
        # is compared with the usable date before it, so an arrival on that date is one.
        by_date[day].append(obs)

    rows: list[TimelineRow] = []
    prev: list[Sighting] = []
    period, prev_day = 0, None
    for day in sorted(by_date):
        day_obs = sorted(by_date[day], key=lambda o: (o.scene.acquired, o.id))
        sightings = _merge_date(day_obs, by_obs, params)
        hidden = hidden_berths(day_obs, params)
        new_period = prev_day is None or (day - prev_day).days > params.gap_days
        carried: list[Sighting] = []
        if new_period:
            period += 1
            arrived, left = [], []
        else:
            pairs = match_sightings(prev, sightings, params)
            arrived = [s for j, s in enumerate(sightings) if j not in {j for _, j in pairs}]
            unmatched = [s for i, s in enumerate(prev) if i not in {i for i, _ in pairs}]
            # Not seen is not gone: a vessel at a berth hidden today waits for the next date that sees it.
            carried = [s if s.last_seen else replace(s, last_seen=prev_day) for s in unmatched if s.berth_id in hidden]
            left = [s for s in unmatched if s.berth_id not in hidden]
        # Two passes of one sensor on a date (morning, evening) saw the union of their vessels.
        by_sensor = {
            sensor: len(_merge_date([o for o in day_obs if o.scene.sensor == sensor], by_obs, params))
            for sensor in sorted({o.scene.sensor for o in day_obs})
        }
        others: dict[str, int] = {}
        for o in day_obs:
            dets = by_obs.get(o.id, ())
            for kind, n in Counter(d.kind for d in dets if d.kind != "vessel").items():
                others[kind] = max(others.get(kind, 0), n)
        at_berth = Counter(s.berth_id for s in sightings if s.berth_id)
        rows.append(
            TimelineRow(
                site_id=site_id,
                date=day,
                period=period,
                sensors=tuple(sorted({o.scene.sensor for o in day_obs})),
                observation_ids=tuple(o.id for o in day_obs),
                scene_ids=tuple(o.scene.id for o in day_obs),
                vessels=len(sightings),
                at_berth=dict(sorted(at_berth.items())),
                off_berth=sum(1 for s in sightings if not s.berth_id),
                by_sensor=dict(sorted(by_sensor.items())),
                others=dict(sorted(others.items())),
                arrivals=len(arrived),
                departures=len(left),
                arrival_berths=tuple(sorted(s.berth_id or "-" for s in arrived)),
                departure_berths=tuple(sorted(s.berth_id or "-" for s in left)),
                hidden_berths=hidden,
                carried_departures=tuple(s for s in left if s.last_seen),
                simulated=any(o.scene.simulated for o in day_obs),
                sightings=tuple(sightings),
                fine=any(o.scene.resolution_m <= params.fine_resolution_m for o in day_obs),
                truncated_vessels=sum(s.truncated for s in sightings),
            )
        )
        prev, prev_day = sightings + carried, day
    rows = [r for r in rows if in_window(r.date)]
    credit = credits_text(o.scene for r in rows for o in sorted(by_date[r.date], key=lambda o: (o.scene.acquired, o.id)))
    renumber = {k: i for i, k in enumerate(dict.fromkeys(r.period for r in rows), start=1)}
    rows = [replace(r, period=renumber[r.period]) for r in rows]
    return Timeline(
        site_id=site_id,
        params=params,
        rows=tuple(rows),
        periods=_periods(rows),
        skipped=tuple(sorted(skipped, key=lambda s: (s.date, s.observation_id))),
        simulated=simulated,
        site_name=site_name,
        credit=credit,
    )


def equipment_changes(tl: Timeline) -> list[tuple[TimelineRow, TimelineRow]]:
    """Consecutive fine-resolution dates of a period whose vessels or other objects (cranes, trucks) differ.

    Only fine looks are compared: a 10 m scene that shows no crane says
    nothing about the crane, so it must not read as "crane gone". Vessel
    counts are compared too, so the before/after of a pier is shown at the
    finest resolution available (a ship and its crane on one look, the empty
    berth on the next), not only between the coarse daily looks.
    """
    out = []
    prev: TimelineRow | None = None
    for row in tl.rows:
        if not row.fine:
            continue
        if prev is not None and prev.period == row.period and (
            prev.others != row.others or prev.vessels != row.vessels
        ):
            out.append((prev, row))
        prev = row
    return out


def _periods(rows: Sequence[TimelineRow]) -> tuple[Period, ...]:
    groups: dict[int, list[TimelineRow]] = defaultdict(list)
    for r in rows:
        groups[r.period].append(r)
    return tuple(
        Period(
            index=k,
            start=g[0].date,
            end=g[-1].date,
            dates=len(g),
            presence_days=sum(1 for r in g if r.present),
            berth_presence_days=sum(1 for r in g if r.at_berth),
            arrivals=sum(r.arrivals for r in g),
            departures=sum(r.departures for r in g),
            max_vessels=max(r.vessels for r in g),
            sensors=tuple(sorted({s for r in g for s in r.sensors})),
            first_presence=next((r.date for r in g if r.present), None),
            last_presence=next((r.date for r in reversed(g) if r.present), None),
        )
        for k, g in sorted(groups.items())
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def timeline_to_dict(tl: Timeline, *, sightings: bool = False) -> dict[str, Any]:
    """A JSON-ready dict: site, its images' credit, parameters, periods (with summary lines), rows, skipped observations.

    Each row's ``sightings`` and ``carried_departures`` (the vessels behind its counts) only with ``sightings``.
    """
    rows = []
    for r in tl.rows:
        # asdict copies every sighting of the row: skip them when they are to be dropped.
        d = asdict(r if sightings else replace(r, sightings=(), carried_departures=()))
        if not sightings:
            d.pop("sightings")
            d.pop("carried_departures")
        # Next to the departures it qualifies; the other keys stay as they were.
        keys = list(d)
        keys.insert(keys.index("departure_berths") + 1, "departures_last_seen")
        d["departures_last_seen"] = r.departures_last_seen
        rows.append({k: d[k] for k in keys})
    return _jsonable(
        {
            "site_id": tl.site_id,
            "site_name": tl.site_name,
            "simulated": tl.simulated,
            # As under its chart: counts handed on are still made from providers' images (and the dashboard's
            # cache of charts, keyed by these figures, draws a credit corrected by a re-ingest anew).
            "credit": tl.credit,
            "parameters": asdict(tl.params),
            # With the parameters, what made these figures: a timeline file handed on named no code version.
            "sitewatch_version": __version__,
            "presence_days": tl.presence_days,
            "summary": tl.summary_lines(),
            "periods": [asdict(p) for p in tl.periods],
            "rows": rows,
            "skipped": [asdict(s) for s in tl.skipped],
        }
    )


@dataclass(frozen=True)
class SiteRecords:
    """A site's observations, their detections and which observations detection has not run on, read at one moment."""

    observations: list[Observation]
    detections: list[Detection]
    undetected: set[str]


def read_site_records(store: Store, site_id: str, *, since: datetime | None = None, until: datetime | None = None) -> SiteRecords:
    """A site's observations, detections and undetected observations, read in one snapshot of the store (those
    acquired from ``since`` to ``until``, inclusive, when given).

    Read one after the other, a ``detect`` recording an observation between the reads (its detections and the
    mark that it was detected in, one transaction) was seen half: detected, but without its detections, so
    a vessel there read as gone (a departure, then an arrival, and an alert fired for each)."""
    with store.snapshot():
        return SiteRecords(
            store.observations(site_id, since=since, until=until), store.detections(site_id=site_id, since=since, until=until),
            store.undetected(site_id),
        )


def load_timeline(store: Store, site_id: str, params: TimelineParams | None = None) -> Timeline:
    """Read a site's observations and detections from a store and build its timeline: of a period (``params.start``,
    ``params.end``), those of the period and the weeks before it that settle it
    (:func:`~sitewatch.analysis.period_records.read_timeline_records`), else every one (:func:`read_site_records`)."""
    from .period_records import read_timeline_records

    site = store.get_site(site_id)
    records = read_timeline_records(store, site_id, params or TimelineParams(), site_geometry=site.geometry)
    return build_timeline(
        site_id, records.observations, records.detections, params, site_name=site.name, undetected=records.undetected,
        site_geometry=site.geometry,
    )


def timeline_for_site(store: Store, site_id: str, params: TimelineParams | None = None) -> Timeline:
    """Alias of :func:`load_timeline` (the name the demo uses)."""
    return load_timeline(store, site_id, params)


def write_timeline_files(tl: Timeline, folder: Path, stem: str | None = None) -> dict[str, Path]:
    """Write ``<stem>.csv``, ``<stem>.json`` and ``<stem>.png`` (the chart) into ``folder``.

    An edge helper for the demo and scripts; the files are written whole or not at all.
    """
    from ..report.charts import timeline_chart_png
    from ..report.exports import timeline_to_csv, timeline_to_json, write_text_atomic

    stem = stem or tl.site_id
    folder = Path(folder)
    return {
        "csv": write_text_atomic(folder / f"{stem}.csv", timeline_to_csv(tl)),
        "json": write_text_atomic(folder / f"{stem}.json", timeline_to_json(tl)),
        "png": write_text_atomic(folder / f"{stem}.png", timeline_chart_png(tl)),
    }
