"""Change regions scored against the simulator's truth: what was dug or parked between two scenes.

The truth of a pair is what its two scenes' truth files disagree on among the objects of the ground
(:data:`CHANGE_KINDS`: trench lines and vehicles): an object in one and not the other appeared or
disappeared. Objects of one ``group`` (the vehicles of one row) are one object, their footprints
together. Ships come and go too, but the change stage leaves the pixels of detected vessels out, and
a ship is detection's to report, so they are not change truth.

Two measures, per pair and summed (:class:`ChangeScore`):

* **objects**: a true change object counts found when a stored region overlaps it; a region that
  overlaps none is a false region. On pairs with no true change every region is false, and their
  rate is given per km² compared per pair.
* **area**: the regions' union against the true objects' union, in square metres on the ground
  (precision: the share of the regions' area on a true change; recall: the share of the true
  change's area inside a region). A region is made of whole pixels grown by the detector's
  smoothing, a trench scar is 8 m wide: at 10 m pixels the area precision cannot be high even when
  every trench is found, and the figure says so.

The pure part is :func:`score_pair`; :func:`evaluate_changes` reads the pairs ``sitewatch change``
stored and the truth files the ingest copied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from .errors import InputError
from .geo import reproject_geometry

if TYPE_CHECKING:
    from .store import Store

__all__ = ["CHANGE_KINDS", "ChangeScore", "evaluate_changes", "score_pair", "truth_changes", "truth_footprint"]

CHANGE_KINDS: tuple[str, ...] = ("trench", "vehicle")
"""Truth object kinds that are change of the ground (the simulator's ``ground`` works)."""


@dataclass(frozen=True)
class ChangeScore:
    """Change regions against the truth over some pairs (sums; the ratios are properties)."""

    pairs: int = 0
    truth_objects: int = 0
    """True change objects (appeared or disappeared) over the pairs."""
    found: int = 0
    """Of those, overlapped by a region."""
    regions: int = 0
    true_regions: int = 0
    """Regions that overlap a true change object."""
    truth_m2: float = 0.0
    region_m2: float = 0.0
    overlap_m2: float = 0.0
    quiet_pairs: int = 0
    """Pairs with no true change."""
    quiet_regions: int = 0
    """Regions found on those pairs (all false)."""
    quiet_km2: float = 0.0
    """Area compared on those pairs, km² summed over the pairs."""

    def __add__(self, other: ChangeScore) -> ChangeScore:
        return ChangeScore(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def recall(self) -> float | None:
        """Share of the true change objects a region overlaps (None: no true change object)."""
        return self.found / self.truth_objects if self.truth_objects else None

    @property
    def precision(self) -> float | None:
        """Share of the regions that overlap a true change object (None: no region)."""
        return self.true_regions / self.regions if self.regions else None

    @property
    def area_precision(self) -> float | None:
        """Share of the regions' area that lies on a true change (None: no region area)."""
        return self.overlap_m2 / self.region_m2 if self.region_m2 else None

    @property
    def area_recall(self) -> float | None:
        """Share of the true change's area that lies inside a region (None: no true change area)."""
        return self.overlap_m2 / self.truth_m2 if self.truth_m2 else None

    @property
    def area_f1(self) -> float | None:
        """Harmonic mean of the area precision and recall (None: neither regions nor true change)."""
        total = self.region_m2 + self.truth_m2
        return 2 * self.overlap_m2 / total if total else None

    @property
    def false_per_km2_pair(self) -> float | None:
        """False regions per km² per pair on the pairs with no true change (None: no such pair compared)."""
        return self.quiet_regions / self.quiet_km2 if self.quiet_km2 else None

    def to_dict(self) -> dict[str, Any]:
        """The sums and the ratios (rounded to 4 places, None where undefined) as a JSON-ready dict."""
        ratios = ("recall", "precision", "area_precision", "area_recall", "area_f1", "false_per_km2_pair")
        return asdict(self) | {k: None if (v := getattr(self, k)) is None else round(v, 4) for k in ratios}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChangeScore:
        """A score from :meth:`to_dict`'s output: the sums are read, the ratios and unknown keys ignored."""
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})

    def line(self, label: str) -> str:
        """The figures in one line, as ``sitewatch eval`` prints them."""

        def r(v: float | None) -> str:
            return "–" if v is None else f"{v:.3f}"

        quiet = (
            f"{self.quiet_regions} false region(s) on the {self.quiet_pairs} pair(s) without a true change "
            f"({r(self.false_per_km2_pair)} per km² per pair)"
            if self.quiet_pairs else "no pair without a true change"
        )  # fmt: skip
        return (
            f"change {label}: {self.pairs} pairs; true changes found {self.found} of {self.truth_objects} (R {r(self.recall)}); "
            f"regions {self.regions}, {self.true_regions} on a true change (P {r(self.precision)}); "
            f"area P {r(self.area_precision)} R {r(self.area_recall)} F1 {r(self.area_f1)} "
            f"({self.overlap_m2:,.0f} of {self.region_m2:,.0f} m² found on {self.truth_m2:,.0f} m² true); {quiet}"
        )


def truth_footprint(feature: Mapping[str, Any], index: int, crs: str) -> BaseGeometry:
    """A ground-truth feature's geometry (WGS84) in ``crs``, for the detection and the change evaluation alike;
    :class:`~sitewatch.errors.InputError` naming the feature by its ``index`` when it has none usable."""
    try:
        return reproject_geometry(shape(feature["geometry"]), "EPSG:4326", crs)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"ground truth feature {index} has no usable geometry ({exc!r})") from exc


def _objects(fc: Mapping[str, Any], crs: str) -> dict[str, tuple[BaseGeometry, bool]]:
    """Group id -> (footprint in ``crs``, visible) of the truth's change objects."""
    parts: dict[str, list[BaseGeometry]] = {}
    visible: dict[str, bool] = {}
    for i, feat in enumerate(fc.get("features", [])):
        props = feat.get("properties") or {}
        if props.get("kind") not in CHANGE_KINDS:
            continue
        key = str(props.get("group") or props.get("id") or i)
        geom = truth_footprint(feat, i, crs)
        parts.setdefault(key, []).append(geom)
        visible[key] = visible.get(key, True) and props.get("visible", True) is not False
    return {k: (unary_union(v), visible[k]) for k, v in parts.items()}


def truth_changes(before: Mapping[str, Any], after: Mapping[str, Any], crs: str) -> list[tuple[str, BaseGeometry]]:
    """The change objects of a pair, ``(id, footprint in crs)``: in one truth and not the other, and not
    hidden by cloud in the scene that shows them (a change under cloud cannot be seen)."""
    b, a = _objects(before, crs), _objects(after, crs)
    out = [(k, g) for k, (g, vis) in a.items() if k not in b and vis]
    out += [(k, g) for k, (g, vis) in b.items() if k not in a and vis]
    return sorted(out, key=lambda t: t[0])


def score_pair(regions: Sequence[BaseGeometry], truth: Sequence[tuple[str, BaseGeometry]], compared_m2: float) -> ChangeScore:
    """One pair: its regions and its true change objects (both in one metric CRS) and the area compared."""
    hits = [any(r.intersects(g) for _, g in truth) for r in regions]
    found = sum(1 for _, g in truth if any(r.intersects(g) for r in regions))
    t_union = unary_union([g for _, g in truth]) if truth else None
    r_union = unary_union(list(regions)) if regions else None
    overlap = t_union.intersection(r_union).area if t_union is not None and r_union is not None else 0.0
    quiet = not truth
    return ChangeScore(
        pairs=1, truth_objects=len(truth), found=found, regions=len(regions), true_regions=sum(hits),
        truth_m2=t_union.area if t_union is not None else 0.0, region_m2=r_union.area if r_union is not None else 0.0,
        overlap_m2=overlap, quiet_pairs=int(quiet), quiet_regions=len(regions) if quiet else 0,
        quiet_km2=compared_m2 / 1e6 if quiet else 0.0,
    )  # fmt: skip


def evaluate_changes(store: Store, root: Path, site_ids: Iterable[str]) -> dict[str, ChangeScore]:
    """The stored change pairs of the sites whose two observations both have truth, scored by resolution
    and sensor (``"3 m optical"``) and over all (``"all"``); empty when no such pair is stored."""
    from .evaluate import _metric_crs, read_truth
    from .ingest.grid import site_mask
    from .store.changes import pairs_with_regions

    by_key: dict[str, ChangeScore] = {}
    truth_of: dict[Path, Any] = {}  # an image is the after of one pair and the before of the next
    for sid in site_ids:
        site = store.get_site(sid)
        obs = {o.id: o for o in store.observations(sid)}
        for p, stored in pairs_with_regions(store, sid):
            before, after = obs.get(p.before_id), obs.get(p.after_id)
            if before is None or after is None:
                continue
            paths = [o.provenance.get("truth") for o in (before, after)]
            if not all(paths):
                continue
            truths = []
            for rel in paths:
                path = Path(str(rel)) if Path(str(rel)).is_absolute() else root / str(rel)
                try:
                    if path not in truth_of:
                        truth_of[path] = read_truth(path)
                    truths.append(truth_of[path])
                except InputError:
                    break  # named by the detection figures
            if len(truths) < 2:
                continue
            crs = _metric_crs(after)
            regions = [reproject_geometry(c.polygon, "EPSG:4326", crs) for c in stored]
            a, b, _, d, e, _ = after.grid.transform
            compared_m2 = p.compared_fraction * float(site_mask(site, after.grid).sum()) * abs(a * e - b * d)
            score = score_pair(regions, truth_changes(truths[0], truths[1], crs), compared_m2)
            key = f"{after.scene.resolution_m:g} m {after.scene.sensor}"
            by_key[key] = by_key.get(key, ChangeScore()) + score
    if not by_key:
        return {}
    total = sum(by_key.values(), ChangeScore())
    return {k: by_key[k] for k in sorted(by_key, key=lambda k: float(k.split()[0]))} | {"all": total}
