"""Evaluation against ground truth: detections of simulated scenes vs the simulator's truth.

Per observation, the truth vessels that are visible (``visible`` true: not
hidden by cloud) are matched one-to-one with the detections of the same kind
(Hungarian assignment on centroid distance, scipy's
``linear_sum_assignment``). A pair counts only when the detection's centroid
lies inside the truth rectangle grown by one pixel of the scene, so a
detection beside a ship is not a hit. From the matches: precision, recall,
F1, and the length error of matched ships longer than ``long_ship_m`` (80 m),
overall, per sensor and per site. A truncated detection (the hull cut by the image's edge or by
missing data) counts as a hit but not in the length and class figures.

The pure part is :func:`evaluate_observation`; :func:`evaluate_workspace`
reads the truth files the ingest copied next to each COG and records the
figures in the store (a ``runs`` row of stage ``eval``) so the report shows
them without recomputing. It also checks each site's presence days (the
occupancy timeline) against the dates on which the truth has a vessel.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from .analysis.occupancy import TimelineParams, load_timeline, observation_date
from .change_eval import ChangeScore, evaluate_changes, truth_footprint
from .errors import InputError
from .geo import reproject_geometry, utm_crs_for
from .model import Detection, Observation, iso_utc

if TYPE_CHECKING:
    from .store import Store
    from .workspace import Workspace

__all__ = [
    "EVAL_KINDS",
    "EvalParams",
    "Scores",
    "ObservationEval",
    "Evaluation",
    "PresenceCheck",
    "evaluate_observation",
    "evaluate_workspace",
    "latest_evaluation",
    "matching_rule",
    "read_truth",
    "scores_from",
]


EVAL_KINDS: tuple[str, ...] = ("vessel", "crane")
"""The object kinds the detectors produce, so the kinds an evaluation can score."""


@dataclass(frozen=True)
class EvalParams:
    """How detections are compared with the truth."""

    kind: str = "vessel"
    """Object kind evaluated: one of :data:`EVAL_KINDS`."""
    buffer_pixels: float = 1.0
    """Truth rectangles grow by this many pixels of the scene before the centroid test."""
    long_ship_m: float = 80.0
    """Length errors are summarised for truth ships longer than this."""

    def __post_init__(self) -> None:
        # A kind no detector makes would match nothing and score a perfect nothing.
        if self.kind not in EVAL_KINDS:
            raise InputError(f"kind {self.kind!r} is not one the detectors produce: {', '.join(EVAL_KINDS)}")
        if not self.long_ship_m > 0:
            raise InputError(f"long_ship_m must be more than 0 m, not {self.long_ship_m:g}")
        if not self.buffer_pixels >= 0:
            raise InputError(f"buffer_pixels must be 0 or more, not {self.buffer_pixels:g}")


def matching_rule(params: EvalParams | None = None) -> str:
    """The matching rule in words, as ``eval --json`` states it beside the figures (``score``'s is
    :func:`sitewatch.boxscore.matching_rule`: best score first, where this one takes no score into account)."""
    p = params or EvalParams()
    return (
        f"one-to-one per observation: a detection of kind {p.kind} may be paired with a visible truth object of that "
        f"kind when the centre of its box lies inside the object's rectangle grown by {p.buffer_pixels:g} pixel(s) of the "
        "scene; of those pairs, as many are kept as can be one to one, and of the ways to keep that many, the one of least "
        "total distance between the detection's and the object's centres (an assignment, scipy's linear_sum_assignment), "
        "whatever the detections' scores; a detection paired with none "
        "is a false positive, a visible object left unpaired a miss"
    )


@dataclass(frozen=True)
class Pair:
    """A truth object matched with a detection."""

    truth_id: str
    detection_id: str
    truth_length_m: float
    length_m: float
    distance_m: float
    truth_class: str = ""
    class_in_candidates: bool | None = None
    """Whether the truth class is among the detection's class candidates (None: no truth class, or
    the detection is truncated and has none)."""
    truncated: bool = False
    """The detection is cut by the image's edge or by missing data: its length is a lower bound."""


@dataclass(frozen=True)
class ObservationEval:
    """Matches in one observation."""

    observation_id: str
    site_id: str
    scene_id: str
    sensor: str
    acquired: str
    acquired_date_only: bool = field(default=False, kw_only=True)
    """True when only the date of the image is known: ``acquired`` is then 12:00 UTC of it, assumed
    (:attr:`~sitewatch.model.Observation.acquired_date_only`)."""
    resolution_m: float
    tp: int
    fp: int
    fn: int
    pairs: tuple[Pair, ...] = ()
    missed: tuple[str, ...] = ()
    """Truth ids no detection matched."""
    false_alarms: tuple[str, ...] = ()
    """Detection ids no truth matched."""


@dataclass(frozen=True)
class Scores:
    """Detection scores over a set of observations."""

    observations: int
    tp: int
    fp: int
    fn: int
    precision: float | None
    """None (undefined) when nothing was detected."""
    recall: float | None
    """None (undefined) when there was nothing to find: no truth object."""
    f1: float | None
    """None (undefined) when there was nothing to match: no detection and no truth object."""
    long_ships: int
    """Matched truth ships longer than the threshold (the length figures are over these)."""
    length_mae_m: float | None
    length_bias_m: float | None
    """Mean of detected minus true length: positive when ships are measured too long."""
    class_in_candidates: float | None = None
    """Share of matched ships whose true class is among their class candidates."""
    truncated: int = 0
    """Matched ships whose detection is truncated (cut by the image's edge or by missing data): counted
    in TP, left out of the length and class figures, since their length is a lower bound and their
    class candidates are withheld."""


@dataclass(frozen=True)
class PresenceCheck:
    """Presence days of one site: the occupancy timeline against the truth."""

    truth_days: int
    """Observation dates on which the truth has a vessel at the site."""
    detected_days: int
    """Usable timeline dates with at least one detected vessel."""
    agreeing_days: int
    """Dates in both."""
    missed: tuple[str, ...] = ()
    """Truth presence dates the timeline does not show (or could not: no usable observation)."""
    extra: tuple[str, ...] = ()
    """Timeline presence dates without a vessel in the truth."""


@dataclass(frozen=True)
class Evaluation:
    """The evaluation of a workspace (or some of its sites)."""

    params: EvalParams
    overall: Scores
    by_sensor: Mapping[str, Scores]
    by_site: Mapping[str, Scores]
    observations: tuple[ObservationEval, ...]
    skipped: tuple[tuple[str, str], ...] = field(default=())
    """(observation id, reason) for observations with no usable truth."""
    presence: Mapping[str, PresenceCheck] = field(default_factory=dict)
    """Site id -> presence days of the timeline against the truth."""
    links: dict[str, Any] | None = None
    """Links between the sites (``sitewatch links``) against the truth (:mod:`sitewatch.analysis.link_eval`);
    None with fewer than two sites evaluated."""
    changes: Mapping[str, ChangeScore] = field(default_factory=dict)
    """Stored change pairs against the truth of what was dug or parked (:mod:`sitewatch.change_eval`), by
    resolution and sensor (``"3 m optical"``) and ``"all"``; empty when no pair with truth is stored."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (also what is recorded in the store)."""
        return {
            "params": asdict(self.params),
            "rule": matching_rule(self.params),
            "overall": asdict(self.overall),
            "by_sensor": {k: asdict(v) for k, v in self.by_sensor.items()},
            "by_site": {k: asdict(v) for k, v in self.by_site.items()},
            "observations": [
                {k: v for k, v in asdict(o).items() if k != "pairs"}
                | {"length_errors_m": [round(p.length_m - p.truth_length_m, 2) for p in o.pairs]}
                for o in self.observations
            ],
            "skipped": [list(s) for s in self.skipped],
            "presence": {k: asdict(v) for k, v in self.presence.items()},
        } | ({"links": self.links} if self.links is not None else {}) | (
            {"changes": {k: v.to_dict() for k, v in self.changes.items()}} if self.changes else {}
        )


def read_truth(path: Path) -> dict[str, Any]:
    """Read a simulator truth GeoJSON FeatureCollection, or an InputError naming the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: cannot read the ground truth ({exc})") from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise InputError(f"{path}: ground truth must be a GeoJSON FeatureCollection")
    return data


def _metric_crs(obs: Observation) -> str:
    crs = CRS.from_user_input(obs.grid.crs)
    if crs.is_projected:
        return obs.grid.crs
    x, y = obs.grid.affine @ (obs.grid.width / 2, obs.grid.height / 2)
    return utm_crs_for(x, y)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "")
    return value is None or bool(value)


def _class_hit(truth_class: str, detection: Detection) -> bool | None:
    if not truth_class:
        return None
    words = [w for w in truth_class.lower().replace("/", " ").replace("-", " ").split() if len(w) > 2]
    names = [c.name.lower() for c in detection.class_candidates]
    return any(all(w in n for w in words[:1]) for n in names) if words else None


def evaluate_observation(
    obs: Observation,
    detections: Sequence[Detection],
    truth: Mapping[str, Any],
    params: EvalParams | None = None,
) -> ObservationEval:
    """Match one observation's detections with its truth, one-to-one."""
    params = params or EvalParams()
    crs = _metric_crs(obs)
    a, b, c, d, e, f = obs.grid.transform
    x0, y0 = c, f
    x1, y1 = a * obs.grid.width + b * obs.grid.height + c, d * obs.grid.width + e * obs.grid.height + f
    minx, maxx, miny, maxy = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
    grid_is_metric = crs == obs.grid.crs
    buffer_m = params.buffer_pixels * obs.scene.resolution_m

    truths: list[tuple[str, BaseGeometry, float, str]] = []
    for i, feat in enumerate(truth.get("features", [])):
        props = feat.get("properties") or {}
        if props.get("kind", "vessel") != params.kind or not _truthy(props.get("visible", True)):
            continue
        geom = truth_footprint(feat, i, crs)
        cx, cy = geom.centroid.x, geom.centroid.y
        if grid_is_metric and not (minx <= cx <= maxx and miny <= cy <= maxy):
            continue  # outside this cut of the scene
        truths.append(
            (str(props.get("id", i)), geom, float(props.get("length_m") or 0.0), str(props.get("class") or ""))
        )
    dets = [dd for dd in detections if dd.kind == params.kind]
    centroids = [reproject_geometry(dd.footprint.centroid, "EPSG:4326", crs) for dd in dets]

    big = 1e12
    cost = np.full((len(truths), len(dets)), big)
    for i, (_, geom, _, _) in enumerate(truths):
        grown = geom.buffer(buffer_m)
        for j, pt in enumerate(centroids):
            if grown.contains(pt):
                cost[i, j] = geom.centroid.distance(pt)
    pairs: list[Pair] = []
    if truths and dets:
        # scipy.optimize (0.4 s) when pairs are matched, not for `eval --help` or a Tab on `eval `.
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(cost)
        for i, j in zip(rows, cols, strict=True):
            if cost[i, j] < big:
                tid, _, tlen, tclass = truths[i]
                cut = bool(dets[j].truncated)
                pairs.append(
                    Pair(tid, dets[j].id, tlen, dets[j].length_m, round(float(cost[i, j]), 2), tclass,
                         None if cut else _class_hit(tclass, dets[j]), cut)
                )
    hit_t = {p.truth_id for p in pairs}
    hit_d = {p.detection_id for p in pairs}
    return ObservationEval(
        observation_id=obs.id,
        site_id=obs.site_id,
        scene_id=obs.scene.id,
        sensor=obs.scene.sensor,
        acquired=iso_utc(obs.scene.acquired),
        acquired_date_only=obs.acquired_date_only,
        resolution_m=obs.scene.resolution_m,
        tp=len(pairs),
        fp=len(dets) - len(pairs),
        fn=len(truths) - len(pairs),
        pairs=tuple(pairs),
        missed=tuple(t[0] for t in truths if t[0] not in hit_t),
        false_alarms=tuple(dd.id for dd in dets if dd.id not in hit_d),
    )


def scores_from(evals: Iterable[ObservationEval], long_ship_m: float = 80.0) -> Scores:
    """Precision, recall, F1 and length error over some observation evaluations.

    With nothing detected precision is None (undefined: no claim to be right or
    wrong about); with nothing to find recall is None. F1 is ``2 TP / (2 TP + FP + FN)``,
    the harmonic mean of the two where both are defined, 0 when something was missed or
    claimed wrongly and nothing found, and None only with nothing to match at all: no
    evidence is not a perfect score. The same figures as ``sitewatch score``
    (:class:`~sitewatch.boxscore.Counts`).
    """
    evals = list(evals)
    tp, fp, fn = (sum(getattr(e, k) for e in evals) for k in ("tp", "fp", "fn"))
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    # A truncated detection's length is a lower bound and it has no class candidates: scoring
    # either would charge the detector for a hull the image does not hold whole.
    whole = [p for e in evals for p in e.pairs if not p.truncated]
    errors = [p.length_m - p.truth_length_m for p in whole if p.truth_length_m > long_ship_m]
    hits = [p.class_in_candidates for p in whole if p.class_in_candidates is not None]
    return Scores(
        observations=len(evals),
        tp=tp,
        fp=fp,
        fn=fn,
        precision=None if precision is None else round(precision, 4),
        recall=None if recall is None else round(recall, 4),
        f1=None if f1 is None else round(f1, 4),
        long_ships=len(errors),
        length_mae_m=round(sum(abs(x) for x in errors) / len(errors), 2) if errors else None,
        length_bias_m=round(sum(errors) / len(errors), 2) if errors else None,
        class_in_candidates=round(sum(hits) / len(hits), 4) if hits else None,
        truncated=sum(p.truncated for e in evals for p in e.pairs),
    )


def _group(evals: Sequence[ObservationEval], key: str, long_ship_m: float) -> dict[str, Scores]:
    groups: dict[str, list[ObservationEval]] = defaultdict(list)
    for e in evals:
        groups[getattr(e, key)].append(e)
    return {k: scores_from(v, long_ship_m) for k, v in sorted(groups.items())}


def evaluate_workspace(
    ws: Workspace,
    site_ids: Sequence[str] | None = None,
    params: EvalParams | None = None,
    *,
    record: bool = True,
    timeline_params: TimelineParams | None = None,
) -> Evaluation:
    """Evaluate every simulated observation of the workspace (or of ``site_ids``) against its truth.

    Observations without a truth file (real imagery) are skipped and listed.
    With ``record`` the figures are written to the store as an ``eval`` run
    (only when at least one observation had ground truth).
    """
    params = params or EvalParams()
    store = ws.store()
    try:
        # A site named twice is evaluated once: its observations would otherwise count twice.
        wanted = list(dict.fromkeys(site_ids)) if site_ids else [s.id for s in store.sites()]
        for sid in wanted:
            store.get_site(sid)  # an unknown site is an error that names the known ones
        evals: list[ObservationEval] = []
        skipped: list[tuple[str, str]] = []
        presence: dict[str, PresenceCheck] = {}
        for sid in wanted:
            truth_days: set[str] = set()
            dets_by_obs: dict[str, list[Detection]] = defaultdict(list)
            for det in store.detections(site_id=sid):
                dets_by_obs[det.observation_id].append(det)
            for obs in store.observations(sid):
                rel = obs.provenance.get("truth")
                if not rel:
                    skipped.append((obs.id, "no ground truth (not a simulated scene)"))
                    continue
                path = Path(rel) if Path(rel).is_absolute() else ws.root / rel
                if not path.exists():
                    skipped.append((obs.id, f"truth file missing: {rel}"))
                    continue
                try:
                    truth = read_truth(path)
                    evals.append(evaluate_observation(obs, dets_by_obs.get(obs.id, []), truth, params))
                except InputError as exc:  # one bad file is named; the other observations proceed
                    skipped.append((obs.id, str(exc) if str(path) in str(exc) else f"{path}: {exc}"))
                    continue
                if any((f.get("properties") or {}).get("kind", "vessel") == "vessel" for f in truth.get("features", [])):
                    offset = (timeline_params or TimelineParams()).utc_offset_hours
                    truth_days.add(observation_date(obs, offset).isoformat())  # the timeline's date of it
            if any(e.site_id == sid for e in evals):
                presence[sid] = _presence_check(store, sid, truth_days, timeline_params)
        result = Evaluation(
            params=params,
            overall=scores_from(evals, params.long_ship_m),
            by_sensor=_group(evals, "sensor", params.long_ship_m),
            by_site=_group(evals, "site_id", params.long_ship_m),
            observations=tuple(evals),
            skipped=tuple(skipped),
            presence=presence,
            links=_link_score(ws, store, list(presence), evals, timeline_params) if len(presence) > 1 else None,
            changes=evaluate_changes(store, ws.root, wanted),
        )
        # Nothing evaluated is not a perfect score: record nothing, so the report
        # does not show figures that rest on no observation.
        if record and evals:
            store.record_run(
                "eval",
                ",".join(wanted) if site_ids else None,
                asdict(params) | {"sites": wanted},
                result.to_dict(),
            )
        return result
    finally:
        store.close()


def _presence_check(
    store: Store, site_id: str, truth_days: set[str], timeline_params: TimelineParams | None
) -> PresenceCheck:
    tl = load_timeline(store, site_id, timeline_params)
    detected = {r.date.isoformat() for r in tl.rows if r.present}
    return PresenceCheck(
        truth_days=len(truth_days),
        detected_days=len(detected),
        agreeing_days=len(truth_days & detected),
        missed=tuple(sorted(truth_days - detected)),
        extra=tuple(sorted(detected - truth_days)),
    )


def latest_evaluation(store: Store, site_ids: Collection[str] | None = None) -> dict[str, Any] | None:
    """The most recent recorded ``eval`` run (of one of ``site_ids``, when given): its summary
    plus ``version``, ``finished``, ``site_id``, ``sites`` (the sites it covered) and ``stale``
    (an observation of those sites was detected again after it, so its figures may not be the
    current detections'), or None."""
    for row in store.execute(
        "SELECT run_id, summary, version, finished, site_id, parameters FROM runs WHERE stage = 'eval' ORDER BY run_id DESC"
    ):
        if not row["summary"]:
            continue
        sites = json.loads(row["parameters"] or "{}").get("sites") or []
        if site_ids is not None and sites and not set(sites) & set(site_ids):
            continue  # another site's figures would read as this report's
        summary: dict[str, Any] = json.loads(row["summary"])
        summary |= {"version": row["version"], "finished": row["finished"], "site_id": row["site_id"], "sites": sites}
        # Detections written after the figures (both times are GeoPackage DATETIME text, comparable).
        marks = ", ".join("?" * len(sites))
        summary["stale"] = bool(sites) and bool(store.execute(
            f"SELECT 1 FROM observations WHERE detected_at > ? AND site_id IN ({marks}) LIMIT 1",
            (row["finished"], *sites),
        ))  # fmt: skip
        return summary
    return None


def _link_score(
    ws: Workspace, store: Store, site_ids: list[str], evals: Sequence[ObservationEval],
    timeline_params: TimelineParams | None,
) -> dict[str, Any]:  # fmt: skip
    """Links between the sites scored against the truth vessel each detection matched (see ``link_eval``)."""
    from .analysis.link_eval import TruthSighting, score_links
    from .analysis.links import load_links

    truth_of = {p.detection_id: p.truth_id for e in evals for p in e.pairs}
    sightings: list[TruthSighting] = []
    offset = (timeline_params or TimelineParams()).utc_offset_hours
    for sid in site_ids:
        for obs in store.observations(sid):
            rel = obs.provenance.get("truth")
            path = Path(rel) if rel and Path(rel).is_absolute() else ws.root / str(rel or "")
            if not rel or not path.is_file():
                continue
            try:
                features = read_truth(path).get("features", [])
            except InputError:
                continue  # named once already, by the detection figures above
            for f in features:
                props = f.get("properties") or {}
                if props.get("kind", "vessel") == "vessel" and _truthy(props.get("visible", True)) and "id" in props:
                    sightings.append((str(props["id"]), sid, observation_date(obs, offset)))
    return score_links(load_links(store, site_ids, timeline_params=timeline_params), truth_of, sightings).to_dict()
