"""AIS matching: which detected vessels broadcast their position, which did not ("dark"), and
which broadcasting vessels the image did not show.

For each observation of a site:

1. **Where each MMSI was** at the image's acquisition time (:func:`positions_at`): linearly
   interpolated between its last report before and its first report after, when both exist and
   lie at most ``max_gap_s`` apart (default 10 min). Otherwise, from its nearest report, dead-reckoned
   along the reported SOG and COG when that report is at most ``max_extrapolation_s`` (default
   3 min) away and gives a speed (a speed under 0.5 kn holds the position: moored or at
   anchor); else the MMSI is left out - a position guessed further than that from a moving
   ship would be a guess, not a report.
2. **One-to-one assignment** of those positions to the observation's vessel detections
   (:func:`scipy.optimize.linear_sum_assignment`), a pair allowed only within the distance gate:
   ``max_distance_m`` when given, else per pair: 2 pixels of the image + ``ais_error_m`` (30 m, the
   receiver's own error) + half the vessel's AIS length (the antenna can be anywhere along the
   hull, the detection's centroid is the hull's middle; 50 m when the length is unknown) + the
   vessel's speed times ``time_uncertainty_s`` (30 s: an image's stated time is that of its scene or
   tile, not of the pixel) + for a dead-reckoned position its speed times 0.2 × the extrapolation
   time. A pair costs its distance over its gate, plus, when AIS gives a length and the detection is
   not cut by the image edge, the length difference over three standard deviations of the measured
   length (:func:`sitewatch.vessels.length_sigma_m`) - size breaks ties between ships, it does not
   forbid a pair.
3. **Results**: ``matched`` (detection ↔ MMSI, distance, AIS length against the measured one),
   ``dark`` (detections no AIS position was assigned to) and ``unseen`` (AIS positions inside the
   site polygon, in a pixel of the image with data and, optical, not under cloud, with no detection).
   AIS positions in the site that the image could not show (no data, cloud) are ``hidden``, not unseen.

An image no AIS file covers - taken outside the files' reports, or of a site no file's positions come within
20 km of, unless the user states the area and period the files cover - is ``not covered``, not matched
(:mod:`sitewatch.analysis.ais_coverage`, :func:`match_workspace`): a vessel missing from them says nothing.

Caveats, said wherever results are shown: a dark detection is a *candidate*: small craft, warships
and fishing boats need not carry AIS, the file may simply lack the vessel (coverage of terrestrial
receivers, a day's file cut at midnight), and a detection may be a false alarm. SAR images shift a
moving ship along the satellite's track (the Doppler "train off the track" effect, up to hundreds
of metres), which the gate does not model. An observation known only by its date
(:attr:`~sitewatch.model.Observation.acquired_date_only`) is not matched: AIS positions change by
the minute, and its time of day is unknown.

Distances are on a local plane around each position (equirectangular, a sphere of 6371 km): over
the few kilometres of a site that is within a few parts in a thousand.

Nothing is stored: like the timeline, matching is computed from the stored observations and
detections on each request (:func:`match_workspace`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import InputError
from ..model import Detection, Observation, Site, iso_utc
from ..vessels import length_sigma_m
from .ais_coverage import COVER_DISTANCE_M, Footprint, StatedCoverage, extent_text
from .ais_csv import AisData, AisReadSummary, AisTrack, AisWindow, read_ais

if TYPE_CHECKING:
    from ..store import Store

__all__ = [
    "period_times",
    "AisParams",
    "AisPosition",
    "AisMatch",
    "DarkDetection",
    "UnplacedAis",
    "ObservationAis",
    "AisResult",
    "positions_at",
    "match_observation",
    "match_workspace",
    "ais_to_dict",
    "ais_to_geojson",
    "AIS_CSV_COLUMNS",
    "DARK_CAVEAT",
    "read_ais",
    "AisWindow",
]

EARTH_RADIUS_M = 6_371_008.8
KNOT_M_S = 1852.0 / 3600.0
_MOORED_KN = 0.5

DARK_CAVEAT = (
    "dark = a detection with no AIS position near it: a candidate only. Small craft, warships and fishing "
    "boats need not carry AIS, the AIS file may lack the vessel, and a detection may be a false alarm."
)

COVERAGE_RULE = (
    f"an image is matched against a file when its time is within the file's reports (3 min leeway) and the file "
    f"holds a position within {COVER_DISTANCE_M / 1000:.0f} km of the site (0.1° cells: up to about 35 km); "
    "a stated period or area (--ais-period, --ais-coverage) replaces the file's own"
)

Method = Literal["interpolated", "dead-reckoned", "held"]
ViewState = Literal["in view", "no data", "cloud"]


@dataclass(frozen=True)
class AisParams:
    """The knobs of AIS matching."""

    max_gap_s: float = 600.0
    """Interpolate between two reports only when they are at most this far apart (seconds)."""
    max_extrapolation_s: float = 180.0
    """Otherwise dead-reckon from the nearest report only when it is at most this far from the image time."""
    max_distance_m: float | None = None
    """A fixed distance gate (metres); None: per pair, from pixel size, AIS error, length and speed."""
    ais_error_m: float = 30.0
    """Position error of an AIS report itself (GNSS, the receiver's rounding)."""
    time_uncertainty_s: float = 30.0
    """How far the image's stated time may be from the moment a pixel was taken."""

    def __post_init__(self) -> None:
        for name in ("max_gap_s", "max_extrapolation_s", "ais_error_m", "time_uncertainty_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"AisParams.{name} must be 0 or more, got {value}")
        if self.max_distance_m is not None and not self.max_distance_m > 0:
            raise InputError(f"the distance gate must be more than 0 m, got {self.max_distance_m}")


@dataclass(frozen=True)
class AisPosition:
    """Where one MMSI was at an image's acquisition time."""

    mmsi: str
    lon: float
    lat: float
    method: Method
    """'interpolated' between two reports, 'dead-reckoned' from one along SOG/COG, 'held' (one report, slower than 0.5 kn)."""
    seconds_from_report: float
    """Time from the nearest report used (seconds)."""
    sog_kn: float | None
    name: str = ""
    length_m: float | None = None
    width_m: float | None = None


@dataclass(frozen=True)
class AisMatch:
    """A detection and the AIS position assigned to it."""

    detection_id: str
    mmsi: str
    name: str
    distance_m: float
    gate_m: float
    ais_length_m: float | None
    length_m: float
    truncated: bool
    method: str
    lon: float
    lat: float
    """The AIS position (the detection's is in the store)."""


@dataclass(frozen=True)
class DarkDetection:
    """A vessel detection with no AIS position assigned: a candidate dark vessel."""

    detection_id: str
    lon: float
    lat: float
    length_m: float
    nearest_mmsi: str | None = None
    nearest_m: float | None = None
    """The nearest AIS position, if any, and how far (beyond its gate, or taken by another detection)."""


@dataclass(frozen=True)
class UnplacedAis:
    """An MMSI reporting near the site around an image whose position at the image's time is not known: its
    reports before and after are further apart than ``max_gap_s`` and none is within ``max_extrapolation_s``
    (a file thinned to one report in 15 or 30 minutes, a satellite AIS gap). A detection of it is called dark."""

    mmsi: str
    name: str
    before_s: float | None
    """Seconds from its last report before the image to the image (None: no report before within the windows)."""
    after_s: float | None
    """Seconds from the image to its first report after it (None: none after within the windows)."""
    lon: float
    lat: float
    """Its report nearest the image in time."""


@dataclass(frozen=True)
class ObservationAis:
    """AIS matched against one observation."""

    observation_id: str
    site_id: str
    acquired: str
    sensor: str
    resolution_m: float
    status: Literal["matched", "date only", "not detected", "not covered"]
    note: str = ""
    matched: tuple[AisMatch, ...] = ()
    dark: tuple[DarkDetection, ...] = ()
    unseen: tuple[AisPosition, ...] = ()
    """AIS positions inside the site, in view (data, no cloud), with no detection."""
    hidden: tuple[tuple[AisPosition, str], ...] = ()
    """AIS positions inside the site the image could not show, with why ('no data', 'cloud')."""
    positions: int = 0
    """MMSIs with a position at the image's time near the site (inside it or within the gate of it)."""
    unplaced: tuple[UnplacedAis, ...] = ()
    """MMSIs reporting near the site around the image that could not be placed at its time (:class:`UnplacedAis`)."""
    image: str = ""
    """The observation's COG, relative to the workspace."""


@dataclass(frozen=True)
class AisResult:
    """AIS matched against the observations of one or more sites."""

    params: AisParams
    files: tuple[AisReadSummary, ...]
    observations: tuple[ObservationAis, ...]
    simulated: bool = False
    coverage: StatedCoverage | None = None
    """The area and period the user stated the files cover (``--ais-coverage``, ``--ais-period``), if any."""

    def site_counts(self) -> dict[str, dict[str, int]]:
        """Per site: observations matched and refused, and matched / dark / unseen / hidden counts."""
        out: dict[str, dict[str, int]] = {}
        for o in self.observations:
            c = out.setdefault(o.site_id, dict.fromkeys(
                ("observations", "date_only", "not_detected", "not_covered", "matched", "dark", "unseen", "hidden",
                 "unplaced"), 0))  # fmt: skip
            if o.status == "matched":
                c["observations"] += 1
            else:
                c[o.status.replace(" ", "_")] += 1
            c["matched"] += len(o.matched)
            c["dark"] += len(o.dark)
            c["unseen"] += len(o.unseen)
            c["hidden"] += len(o.hidden)
            c["unplaced"] += len(o.unplaced)
        return out


# ---------------------------------------------------------------- positions


def _wrap(dlon: float) -> float:
    """A longitude, or a difference of two, in [-180, 180): a ship at 179.99° and one at -179.99° are 0.02° apart."""
    return (dlon + 180.0) % 360.0 - 180.0


def _offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """``lon``, ``lat`` moved east and north (metres); the longitude not wrapped (a box's edge may pass ±180°)."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * max(math.cos(math.radians(lat)), 1e-6)))
    return lon + dlon, lat + dlat


def _distance_m(lon_a: float, lat_a: float, lon_b: float, lat_b: float) -> float:
    k = math.cos(math.radians((lat_a + lat_b) / 2))
    return EARTH_RADIUS_M * math.hypot(math.radians(_wrap(lon_b - lon_a)) * k, math.radians(lat_b - lat_a))


def _fin(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def position_at(track: AisTrack, when: datetime, params: AisParams | None = None) -> AisPosition | None:
    """Where ``track``'s vessel was at ``when`` by the rules of the module docstring; None when unknown."""
    p = params or AisParams()
    t = when.timestamp()
    times = track.times
    if times.size == 0:
        return None
    i = int(np.searchsorted(times, t, side="right"))  # times[i-1] <= t < times[i]
    before, after = i - 1, i

    def at(lon: float, lat: float, method: Method, dt: float, sog: float | None) -> AisPosition:
        return AisPosition(track.mmsi, float(lon), float(lat), method, float(dt), sog, track.name, track.length_m, track.width_m)

    if before >= 0 and times[before] == t:
        return at(track.lons[before], track.lats[before], "interpolated", 0.0, _fin(track.sogs[before]))
    if before >= 0 and after < times.size and times[after] - times[before] <= p.max_gap_s:
        f = (t - times[before]) / (times[after] - times[before])
        lon = _wrap(track.lons[before] + f * _wrap(track.lons[after] - track.lons[before]))  # the short way across 180°
        lat = track.lats[before] + f * (track.lats[after] - track.lats[before])
        sogs = [s for s in (track.sogs[before], track.sogs[after]) if math.isfinite(s)]
        return at(lon, lat, "interpolated", min(t - times[before], times[after] - t), max(sogs) if sogs else None)
    near = [k for k in (before, after) if 0 <= k < times.size]
    k = min(near, key=lambda k: abs(times[k] - t))
    dt = t - times[k]
    if abs(dt) > p.max_extrapolation_s:
        return None
    sog, cog = track.sogs[k], track.cogs[k]
    if not math.isfinite(sog):
        return None
    if sog < _MOORED_KN:
        return at(track.lons[k], track.lats[k], "held", abs(dt), float(sog))
    if not math.isfinite(cog):
        return None
    d = sog * KNOT_M_S * dt  # backwards when the report is after the image
    lon, lat = _offset(float(track.lons[k]), float(track.lats[k]), d * math.sin(math.radians(cog)), d * math.cos(math.radians(cog)))
    return at(_wrap(lon), lat, "dead-reckoned", abs(dt), float(sog))


def positions_at(tracks: Iterable[AisTrack], when: datetime, params: AisParams | None = None) -> list[AisPosition]:
    """Each track's position at ``when`` (:func:`position_at`), those that are known."""
    out = []
    for track in tracks:
        pos = position_at(track, when, params)
        if pos is not None:
            out.append(pos)
    return out


# ---------------------------------------------------------------- matching


def gate_m(pos: AisPosition, resolution_m: float, params: AisParams) -> float:
    """The distance within which a detection may be ``pos``'s vessel (module docstring, step 2)."""
    if params.max_distance_m is not None:
        return params.max_distance_m
    speed = (pos.sog_kn or 0.0) * KNOT_M_S
    half = pos.length_m / 2 if pos.length_m else 50.0
    reckoned = 0.2 * pos.seconds_from_report if pos.method == "dead-reckoned" else 0.0
    return 2 * resolution_m + params.ais_error_m + half + speed * (params.time_uncertainty_s + reckoned)


def _size_cost(pos: AisPosition, det: Detection, resolution_m: float) -> float:
    if not pos.length_m:
        return 0.0
    diff = pos.length_m - det.length_m
    if det.truncated and diff >= 0:
        return 0.0  # a cut hull's length is a lower bound: any longer AIS length fits
    return abs(diff) / (3 * length_sigma_m(resolution_m))


def assign(
    positions: Sequence[AisPosition], detections: Sequence[Detection], resolution_m: float, params: AisParams
) -> tuple[list[tuple[int, int, float, float]], np.ndarray]:
    """Pairs (position index, detection index, distance m, gate m) of the one-to-one assignment, and
    the distance matrix (positions × detections)."""
    centres = [(d.centroid.x, d.centroid.y) for d in detections]
    dist = np.array([[_distance_m(p.lon, p.lat, x, y) for x, y in centres] for p in positions]).reshape(len(positions), len(detections))
    gates = np.array([gate_m(p, resolution_m, params) for p in positions])
    big = 1e9
    cost = np.full(dist.shape, big)
    for i, p in enumerate(positions):
        for j, d in enumerate(detections):
            if dist[i, j] <= gates[i]:
                cost[i, j] = dist[i, j] / gates[i] + _size_cost(p, d, resolution_m)
    pairs = []
    if cost.size:
        # scipy.optimize (0.4 s) when positions are matched, not for `ais --help` or a Tab on `ais `.
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(cost)
        pairs = [(int(i), int(j), float(dist[i, j]), float(gates[i])) for i, j in zip(rows, cols, strict=True) if cost[i, j] < big]
    return pairs, dist


ViewOf = Callable[[Mapping[str, tuple[float, float]]], Mapping[str, ViewState]]
"""Given MMSI -> (lon, lat), whether the image shows each there (:func:`view_states` on an observation's COG)."""


def match_observation(
    obs: Observation,
    detections: Sequence[Detection],
    tracks: Iterable[AisTrack],
    site: Site,
    params: AisParams | None = None,
    *,
    view_of: ViewOf | None = None,
) -> ObservationAis:
    """Match AIS against one observation's vessel detections (module docstring).

    ``view_of`` says, for the unmatched AIS positions inside the site, whether the image shows them
    (:func:`view_states` reads it from the COG); without it, or for an MMSI it leaves out, in view.
    """
    p = params or AisParams()
    head = _head(obs)
    if obs.acquired_date_only:
        return replace(
            head, status="date only",
            note="only the date of this image is known: AIS positions change by the minute, so it is not matched",
        )  # fmt: skip
    polygon = site.require_geometry()
    res = obs.scene.resolution_m
    vessels = [d for d in detections if d.kind == "vessel"]
    tracks = list(tracks)
    near = _near_site(positions_at(tracks, obs.scene.acquired, p), polygon, res, p)
    pairs, dist = assign(near, vessels, res, p)
    matched = tuple(
        AisMatch(vessels[j].id, near[i].mmsi, near[i].name, round(d, 1), round(g, 1), near[i].length_m,
                 vessels[j].length_m, bool(vessels[j].truncated), near[i].method, near[i].lon, near[i].lat)
        for i, j, d, g in sorted(pairs, key=lambda q: vessels[q[1]].id)
    )  # fmt: skip
    used_p = {i for i, _, _, _ in pairs}
    used_d = {j for _, j, _, _ in pairs}
    dark = []
    for j, d in enumerate(vessels):
        if j in used_d:
            continue
        k = int(np.argmin(dist[:, j])) if len(near) else None
        dark.append(DarkDetection(
            d.id, round(d.centroid.x, 7), round(d.centroid.y, 7), d.length_m,
            None if k is None else near[k].mmsi, None if k is None else round(float(dist[k, j]), 1),
        ))  # fmt: skip
    centre = polygon.centroid.x
    inside = [pos for i, pos in enumerate(near) if i not in used_p and polygon.contains(_on_site_side(pos, centre))]
    view = view_of({pos.mmsi: (pos.lon, pos.lat) for pos in inside}) if view_of is not None and inside else {}
    unseen, hidden = [], []
    for pos in inside:
        state = view.get(pos.mmsi, "in view")
        if state == "in view":
            unseen.append(pos)
        else:
            hidden.append((pos, state))
    return replace(
        head, matched=matched, dark=tuple(dark), unseen=tuple(unseen), hidden=tuple(hidden),
        positions=len(near), unplaced=_unplaced(tracks, obs.scene.acquired, polygon, res, p),
    )  # fmt: skip


def _unplaced(tracks: Sequence[AisTrack], when: datetime, polygon: Any, res: float, p: AisParams) -> tuple[UnplacedAis, ...]:
    """The MMSIs with a report near the site within the windows' span of ``when`` that :func:`position_at` cannot
    place at ``when``: said, so that a thinned file's moored ships are not taken for dark ones in silence."""
    t = when.timestamp()
    span = max(p.max_gap_s, p.max_extrapolation_s)
    out = []
    for track in tracks:
        times = track.times
        i = int(np.searchsorted(times, t, side="right"))
        before = i - 1 if i > 0 and t - times[i - 1] <= span else None
        after = i if i < times.size and times[i] - t <= span else None
        if (before is None and after is None) or position_at(track, when, p) is not None:
            continue
        k = min((x for x in (before, after) if x is not None), key=lambda x: abs(times[x] - t))
        report = AisPosition(track.mmsi, float(track.lons[k]), float(track.lats[k]), "held", abs(float(times[k] - t)),
                             _fin(track.sogs[k]), track.name, track.length_m, track.width_m)  # fmt: skip
        if not _near_site([report], polygon, res, p):
            continue
        out.append(UnplacedAis(
            track.mmsi, track.name, None if before is None else float(t - times[before]),
            None if after is None else float(times[after] - t), report.lon, report.lat,
        ))  # fmt: skip
    return tuple(sorted(out, key=lambda u: u.mmsi))


def _head(obs: Observation) -> ObservationAis:
    return ObservationAis(
        obs.id, obs.site_id, iso_utc(obs.scene.acquired), obs.scene.sensor, obs.scene.resolution_m, "matched", image=obs.path
    )


def _on_site_side(pos: AisPosition, centre: float) -> Any:
    """``pos`` as a point on the side of 180° of a site whose centre is at longitude ``centre`` (a site at 179.99°
    sees a ship at -179.99° 0.02° east)."""
    from shapely.geometry import Point

    return Point(centre + _wrap(pos.lon - centre), pos.lat)


def _near_site(positions: Sequence[AisPosition], polygon: Any, resolution_m: float, params: AisParams) -> list[AisPosition]:
    """The positions inside the site or within their gate of its polygon (a detection at its edge)."""
    centre = polygon.centroid.x
    out = []
    for pos in positions:
        reach = gate_m(pos, resolution_m, params)
        dlon = math.degrees(reach / (EARTH_RADIUS_M * max(math.cos(math.radians(pos.lat)), 1e-6)))
        if polygon.distance(_on_site_side(pos, centre)) <= max(dlon, math.degrees(reach / EARTH_RADIUS_M)):
            out.append(pos)
    return out


# ---------------------------------------------------------------- the image at a point


def view_states(path: str | Path, obs: Observation, points: Mapping[str, tuple[float, float]]) -> dict[str, ViewState]:
    """Whether the archived COG shows each point (lon, lat): 'no data' when any band lacks data
    there, 'cloud' when an optical image's cloud layer (SCL) or, without one and with cloud over the
    site, the spectral cloud test on 1.5 km around it says cloud; else 'in view'."""
    if not points:
        return {}
    import rasterio
    from pyproj import Transformer
    from rasterio.windows import Window

    from ..detect.clouds import SCL_CLOUD, SCL_NO_DATA, cloud_mask
    from ..errors import ImageReadError

    grid = obs.grid
    to_grid = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    inverse = ~grid.affine
    pixel = obs.scene.resolution_m
    out: dict[str, ViewState] = {}
    try:
        with rasterio.open(path) as src:
            names = [d or "" for d in src.descriptions]
            for key, (lon, lat) in points.items():
                x, y = to_grid.transform(lon, lat)
                col, row = (int(math.floor(v)) for v in inverse @ (x, y))
                if not (0 <= row < src.height and 0 <= col < src.width):
                    out[key] = "no data"
                    continue
                value = src.read(window=Window(col, row, 1, 1), out_dtype="float64")[:, 0, 0]
                scl = value[names.index("SCL")] if "SCL" in names else None
                data = [v for n, v in zip(names, value, strict=True) if n != "SCL"]
                if not all(math.isfinite(v) for v in data) or (scl is not None and int(scl) in SCL_NO_DATA):
                    out[key] = "no data"
                elif scl is not None:
                    out[key] = "cloud" if int(scl) in SCL_CLOUD else "in view"
                elif obs.scene.sensor == "optical" and (obs.cloud_fraction or 0) > 0:
                    r = max(8, int(750 / pixel))
                    r0, c0 = max(0, row - r), max(0, col - r)
                    win = src.read(window=Window(c0, r0, min(src.width, col + r + 1) - c0, min(src.height, row + r + 1) - r0), out_dtype="float32")
                    bands = {n: win[i] for i, n in enumerate(names) if n in ("blue", "green", "red", "nir")}
                    if not any(n in bands for n in ("blue", "green", "red")):
                        out[key] = "in view"
                        continue
                    valid = np.all(np.isfinite(win), axis=0)
                    mask = cloud_mask({n: np.nan_to_num(b) for n, b in bands.items()}, pixel_size=pixel, valid=valid)
                    out[key] = "cloud" if mask[row - r0, col - c0] else "in view"
                else:
                    out[key] = "in view"
    except rasterio.errors.RasterioError as exc:
        raise ImageReadError(f"{path}: cannot read archived observation ({exc})") from exc
    return out


# ---------------------------------------------------------------- a workspace


def windows_for(observations: Sequence[Observation], sites: Mapping[str, Site], params: AisParams) -> list[AisWindow]:
    """The boxes and times of AIS rows that can matter to these observations: each site's box grown by
    what a fast ship covers in the time span (30 kn), and the image time ± the longer of the gap
    and the dead-reckoning reach."""
    span = max(params.max_gap_s, params.max_extrapolation_s)
    margin_m = 30 * KNOT_M_S * span + 2000.0
    out = []
    for obs in observations:
        if obs.acquired_date_only:
            continue
        west, south, east, north = sites[obs.site_id].require_geometry().bounds
        w, s = _offset(west, south, -margin_m, -margin_m)
        e, n = _offset(east, north, margin_m, margin_m)
        t = obs.scene.acquired.astimezone(UTC)
        start, end, s, n = t - timedelta(seconds=span), t + timedelta(seconds=span), max(s, -90), min(n, 90)
        out.append(AisWindow(max(w, -180), s, min(e, 180), n, start, end))
        # A box past 180° goes on at the other side's longitudes (a site within the margin of the antimeridian).
        if w < -180:
            out.append(AisWindow(w + 360, s, 180, n, start, end))
        if e > 180:
            out.append(AisWindow(-180, s, e - 360, n, start, end))
    return out


def _covers(
    f: AisReadSummary, footprint: Footprint | None, obs: Observation, site: Site, reach_s: float,
    stated: StatedCoverage | None = None,
) -> bool:
    """Whether file ``f`` covers the image (:mod:`sitewatch.analysis.ais_coverage`): holds reports around its
    time, within ``reach_s``, and positions within 20 km of its site; a stated period or area replaces the
    file's own. Else an image's vessels missing from it say nothing about their AIS."""
    t = obs.scene.acquired.astimezone(UTC)
    if stated is not None and stated.start is not None and stated.end is not None:
        in_time = stated.start <= t <= stated.end
    elif f.first is None or f.last is None:
        return False
    else:
        first, last = datetime.fromisoformat(f.first), datetime.fromisoformat(f.last)
        in_time = first - timedelta(seconds=reach_s) <= t <= last + timedelta(seconds=reach_s)
    if not in_time:
        return False
    polygon = site.require_geometry()
    if stated is not None and stated.area is not None:
        return bool(stated.area.intersects(polygon))
    return footprint is not None and footprint.reaches(*polygon.bounds)


def _coverage_text(files: Sequence[AisReadSummary], stated: StatedCoverage | None = None) -> str:
    held = [
        f"{Path(f.path).name} holds {f.first} to {f.last}" + (f" at {extent_text(f.extent)}" if f.extent else "")
        if f.first else f"{Path(f.path).name} holds no report"
        for f in files[:3]
    ]  # fmt: skip
    more = f" and {len(files) - 3} more file(s)" if len(files) > 3 else ""
    said = []
    if stated is not None and stated.start is not None and stated.end is not None:
        said.append(f"the period stated is {stated.start:%Y-%m-%dT%H:%M:%SZ} to {stated.end:%Y-%m-%dT%H:%M:%SZ}")
    if stated is not None and stated.area is not None:
        said.append(f"the site is outside the area stated ({Path(stated.area_source).name})")
    where = (f"a file covers the images of its reports' span within {COVER_DISTANCE_M / 1000:.0f} km of its positions: "
             if stated is None or stated.area is None else "")  # fmt: skip
    return (f"no AIS file covers its time and place ({where}{'; '.join(held)}{more}"
            f"{'; ' + '; '.join(said) if said else ''}), so its vessels are not called dark; give the AIS of its "
            "day and area, or state what the files cover (--ais-coverage, --ais-period)")  # fmt: skip


def period_times(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """The times (inclusive) an image of the UTC dates ``start``..``end`` is acquired within, to read them by; None:
    without that edge (none given, or past year 1 or 9999)."""

    def midnight(day: date | None, days: int) -> datetime | None:
        try:
            return None if day is None else datetime.combine(day + timedelta(days=days), datetime.min.time(), UTC)
        except OverflowError:
            return None

    return midnight(start, 0), midnight(end, 1)


def match_workspace(
    store: Store,
    root: Path,
    site_ids: Sequence[str],
    ais_files: Sequence[str | Path],
    params: AisParams | None = None,
    *,
    start: date | None = None,
    end: date | None = None,
    coverage: StatedCoverage | None = None,
) -> AisResult:
    """Read the AIS files for the sites' observations (UTC dates ``start``..``end``) and match each.

    Reads only the rows near the sites around the images' times. An unknown site, or an AIS file
    that cannot be read as one, is an error naming it. ``coverage``: the area and period the user
    says the files cover, instead of where and when their positions are.
    """
    p = params or AisParams()
    wanted = list(dict.fromkeys(site_ids))
    sites = {sid: store.get_site(sid) for sid in wanted}
    undetected: set[str] = set()
    chosen: list[Observation] = []
    since, until = period_times(start, end)  # the period's images and detections read, not the sites' years of them
    for sid in wanted:
        undetected |= store.undetected(sid)
        for obs in store.observations(sid, since=since, until=until):
            day = obs.scene.acquired.astimezone(UTC).date()
            if (start and day < start) or (end and day > end):
                continue
            chosen.append(obs)
    data: AisData = read_ais(ais_files, windows_for(chosen, sites, p))
    dets: dict[str, list[Detection]] = {}
    for sid in wanted:
        for det in store.detections(site_id=sid, since=since, until=until):
            dets.setdefault(det.observation_id, []).append(det)
    results = []
    for obs in sorted(chosen, key=lambda o: (o.site_id, o.scene.acquired, o.id)):
        if obs.id in undetected and not obs.acquired_date_only:
            note = "detection has not run on it: run `sitewatch detect` first"
            results.append(replace(_head(obs), status="not detected", note=note))
            continue
        prints = data.footprints or (None,) * len(data.files)
        if not obs.acquired_date_only and not any(
            _covers(f, fp, obs, sites[obs.site_id], p.max_extrapolation_s, coverage)
            for f, fp in zip(data.files, prints, strict=True)
        ):
            results.append(replace(_head(obs), status="not covered", note=_coverage_text(data.files, coverage)))
            continue

        def view_of(points: Mapping[str, tuple[float, float]], obs: Observation = obs) -> dict[str, ViewState]:
            return view_states(root / obs.path, obs, points)

        results.append(match_observation(obs, dets.get(obs.id, []), data.tracks.values(), sites[obs.site_id], p, view_of=view_of))
    simulated = any(o.scene.simulated for o in chosen)
    return AisResult(p, data.files, tuple(results), simulated, coverage)


# ---------------------------------------------------------------- output


def ais_to_dict(result: AisResult) -> dict[str, Any]:
    """A JSON-ready dict: parameters, files read, per-site counts, and each observation's results."""
    return {
        "simulated": result.simulated,
        "caveat": DARK_CAVEAT,
        "parameters": asdict(result.params),
        "files": [asdict(f) | {"skipped": f.skipped} for f in result.files],
        "coverage": {
            "rule": COVERAGE_RULE,
            "stated": result.coverage.to_dict() if result.coverage is not None else None,
        },
        "sites": result.site_counts(),
        "observations": [asdict(o) for o in result.observations],
    }


AIS_CSV_COLUMNS = (
    "status", "site_id", "observation_id", "acquired", "sensor", "detection_id", "length_m", "truncated", "mmsi",
    "name", "ais_length_m", "distance_m", "method", "nearest_mmsi", "nearest_m", "lon", "lat", "ais_lon", "ais_lat",
    "image", "simulated",
)  # fmt: skip
"""The columns of ``sitewatch ais --out FILE.csv``: a row per matched, dark and unseen point of :func:`ais_to_geojson`,
each column of it that a status has (an unseen position has no detection, a dark detection no MMSI)."""


def ais_to_geojson(result: AisResult, detections: Mapping[str, Detection]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of points: each match (at the detection, with the AIS position in its
    properties as ``ais_lon``, ``ais_lat``), each dark detection and each unseen AIS position, with ``status``
    saying which. Each point's ``lon``, ``lat`` are its own coordinates."""
    feats: list[dict[str, Any]] = []

    def point(lon: float, lat: float, props: dict[str, Any]) -> None:
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
                      "properties": props | {"simulated": result.simulated}})  # fmt: skip

    for o in result.observations:
        base = {"observation_id": o.observation_id, "site_id": o.site_id, "acquired": o.acquired, "sensor": o.sensor, "image": o.image}
        for m in o.matched:
            det = detections.get(m.detection_id)
            c = det.centroid if det is not None else None
            lon, lat = (c.x, c.y) if c else (m.lon, m.lat)
            # lon, lat as for a dark detection: where the point is drawn, not the AIS position beside it.
            point(lon, lat, base | {"status": "matched", **asdict(m), "lon": lon, "lat": lat, "ais_lon": m.lon, "ais_lat": m.lat})
        for d in o.dark:
            point(d.lon, d.lat, base | {"status": "dark", **asdict(d)})
        for u in o.unseen:
            point(u.lon, u.lat, base | {"status": "unseen", **asdict(u)})
    return {"type": "FeatureCollection", "features": feats}

