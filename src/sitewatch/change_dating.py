"""When a change on the ground happened, as a site's stored change pairs bracket it.

``sitewatch change`` compares pairs of images, each series (sensor and pixel size) on its own, so the trenches
dug at a training ground on 3 October show in the 10 m pair 30 September → 5 October and in the 3 m pair
1 → 8 October: two regions, two brackets. :func:`date_changes` joins the regions of one place whose pairs'
spans overlap into one change and dates it by all of them: it was not there in the latest of their before
images (**last seen without**) and was there in the earliest of their after images (**first seen with**),
here 1 October (3 m) and 5 October (10 m). Each region's pair compared its pixels in both images (cloud and
missing data are not compared), so both ends are images that saw the place. Regions of one place whose pairs'
spans do not overlap are changes one after another (trenches dug, vehicles later parked on them) and stay
apart. Images between the two ends no pair of which compared half the site (cloud, no data) are named:
the change may have been hidden in them, so the bracket cannot be narrowed by them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .model import Change, Observation
from .store.changes import ChangePair

if TYPE_CHECKING:
    from .store import Store

__all__ = [
    "DatedChange", "cloud_gaps", "date_changes", "dated_json", "dated_lines", "dated_text", "ends_by_region", "ends_json", "ends_text", "gap_note",
    "region_ends", "stored_dating",
]

_HIDING = 0.5
"""A pair that compared less of the site than this may have hidden the change in its images."""


@dataclass(frozen=True)
class DatedChange:
    """One change on the ground: the stored regions of one place whose pairs' spans overlap, dated by them."""

    site_id: str
    regions: tuple[Change, ...]
    """The regions that make it, the largest first."""
    last_without: ChangePair
    """The pair, of those regions', whose before image is the latest: the last image the place was seen without it."""
    first_with: ChangePair
    """The pair whose after image is the earliest: the first image it was seen in."""
    hidden_between: tuple[tuple[str, datetime, float], ...] = ()
    """Images strictly between the two ends (observation id, time, the most of the site a stored pair of it
    compared) no pair of which compared half the site: the change may have been there unseen."""

    def __post_init__(self) -> None:
        if not self.regions:
            raise ValueError("a dated change needs at least one region")
        # By date: an image known by its date alone is stored at 12:00 and may be the earlier of a pair with one of 09:30.
        if self.last_without.before_acquired.astimezone(UTC).date() > self.first_with.after_acquired.astimezone(UTC).date():
            raise ValueError(f"{self.site_id}: last seen without ({self.last_without.before_id}) is after first seen ({self.first_with.after_id})")

    @property
    def seen_without(self) -> datetime:
        """Acquisition of the last image without it."""
        return self.last_without.before_acquired

    @property
    def seen_with(self) -> datetime:
        """Acquisition of the first image with it."""
        return self.first_with.after_acquired

    @property
    def directions(self) -> tuple[str, ...]:
        """The directions its regions were given, each once, the largest region's first."""
        return tuple(dict.fromkeys(r.direction for r in self.regions))


def date_changes(pairs: Sequence[ChangePair], changes: Sequence[Change]) -> list[DatedChange]:
    """A site's stored regions joined into changes and dated (module doc), in the order first seen.

    ``pairs`` and ``changes`` are one site's (regions of a pair not given are left out)."""
    by_ids = {(p.before_id, p.after_id): p for p in pairs}
    held = sorted(
        ((c, by_ids[(c.before_id, c.after_id)]) for c in changes if (c.before_id, c.after_id) in by_ids),
        key=lambda t: (t[1].after_acquired, t[1].before_acquired, -t[0].area_m2, t[0].id),
    )
    # Regions come in the order of their after image, so a change's first-seen time (the earliest after image, its
    # window's end) is its first region's, and the changes are made in that order: a region can join only those
    # whose window ends after its pair's before image, found by bisection, not by trying every change of years.
    groups: list[list[tuple[Change, ChangePair]]] = []
    ends: list[datetime] = []
    starts: list[datetime] = []
    for c, p in held:
        for k in range(bisect_right(ends, p.before_acquired), len(groups)):
            # The same change when the spans leave it a time to have happened in and it lies on the same ground.
            if max(starts[k], p.before_acquired) < min(ends[k], p.after_acquired) and any(c.polygon.intersects(d.polygon) for d, _ in groups[k]):
                groups[k].append((c, p))
                starts[k] = max(starts[k], p.before_acquired)
                break
        else:
            groups.append([(c, p)])
            ends.append(p.after_acquired)
            starts.append(p.before_acquired)
    hiding = _hiding_images(pairs)
    out = []
    for g in groups:
        last = max((q for _, q in g), key=lambda q: (q.before_acquired, q.before_id))
        first = min((q for _, q in g), key=lambda q: (q.after_acquired, q.after_id))
        out.append(DatedChange(
            g[0][1].site_id, tuple(sorted((c for c, _ in g), key=lambda c: (-c.area_m2, c.id))), last, first,
            _between(hiding, last.before_acquired, first.after_acquired),
        ))  # fmt: skip
    return sorted(out, key=lambda d: (d.seen_with, d.seen_without, d.regions[0].id))


def _hiding_images(pairs: Sequence[ChangePair]) -> list[tuple[datetime, str, float]]:
    """The images none of whose stored pairs compared half the site (an image beside a cloudy one compares
    little in that pair alone, and is not one), in time order: (time, observation id, the most a pair compared)."""
    most: dict[str, tuple[datetime, float]] = {}
    for p in pairs:
        for oid, t in ((p.before_id, p.before_acquired), (p.after_id, p.after_acquired)):
            old = most.get(oid)
            most[oid] = (t, p.compared_fraction if old is None else max(old[1], p.compared_fraction))
    return sorted((t, oid, f) for oid, (t, f) in most.items() if f < _HIDING)


def _between(hiding: Sequence[tuple[datetime, str, float]], lo: datetime, hi: datetime) -> tuple[tuple[str, datetime, float], ...]:
    """Those of ``hiding`` strictly between ``lo`` and ``hi``."""
    i = bisect_right([t for t, _, _ in hiding], lo)
    return tuple((oid, t, f) for t, oid, f in hiding[i:] if t < hi)


def stored_dating(store: Store, site_id: str) -> tuple[list[DatedChange], dict[str, Observation], list[str]]:
    """The site's stored regions dated (:func:`date_changes`), with the site's observations by id and a note for
    each :func:`cloud_gaps` gap. A pair whose image was ingested again since it was compared, or is no longer
    stored, is left out, as claims leave it."""
    from .store.changes import change_pairs, changes

    obs = {o.id: o for o in store.observations(site_id)}
    pairs = [p for p in change_pairs(store, site_id) if p.current(obs)]
    return date_changes(pairs, changes(store, site_id=site_id)), obs, [gap_note(p, q, obs) for p, q in cloud_gaps(pairs)]


def _date_only(oid: str, obs: Mapping[str, Observation]) -> bool:
    return oid in obs and obs[oid].acquired_date_only


def _image(oid: str, t: datetime, obs: Mapping[str, Observation]) -> str:
    from .model import acquired_text
    from .units import pixel_size_text

    o = obs.get(oid)
    series = f" ({pixel_size_text(o.scene.resolution_m)} {o.scene.sensor})" if o is not None else ""
    return f"{acquired_text(t, _date_only(oid, obs))}{series}"


def _apart(d: DatedChange, obs: Mapping[str, Observation]) -> str:
    """How far apart the two ends are: in days to a tenth, or whole days when either is known by its date alone."""
    if _date_only(d.last_without.before_id, obs) or _date_only(d.first_with.after_id, obs):
        n = (d.seen_with.astimezone(UTC).date() - d.seen_without.astimezone(UTC).date()).days
        return f"{n} day{'s' * (n != 1)} apart"
    return f"{(d.seen_with - d.seen_without).total_seconds() / 86400:.1f} days apart"


def ends_text(d: DatedChange, obs: Mapping[str, Observation]) -> str:
    """``last seen without 2024-10-01 00:50 UTC (3 m optical), first seen 2024-10-05 01:30 UTC (10 m optical)``."""
    return (f"last seen without {_image(d.last_without.before_id, d.seen_without, obs)}, "
            f"first seen {_image(d.first_with.after_id, d.seen_with, obs)}")  # fmt: skip


def dated_text(d: DatedChange, obs: Mapping[str, Observation]) -> str:
    """``appeared, 18,500 m² (2 regions in 2 pairs): last seen without 2024-10-01 00:50 UTC (3 m optical), first
    seen 2024-10-05 01:30 UTC (10 m optical), 4 days apart``, and the images between that may have hidden it."""
    n_pairs = len({(r.before_id, r.after_id) for r in d.regions})
    text = (
        f"{'/'.join(d.directions)}, {d.regions[0].area_m2:,.0f} m² ({len(d.regions)} region{'s' * (len(d.regions) > 1)} in "
        f"{n_pairs} pair{'s' * (n_pairs > 1)}): {ends_text(d, obs)}, {_apart(d, obs)}"
    )
    if d.hidden_between:
        hid = "; ".join(f"{_image(oid, t, obs)} compared {f:.0%} of the site" for oid, t, f in d.hidden_between)
        text += f"; between them {hid} (cloud or no data): it may have been there unseen"
    return text


def ends_json(d: DatedChange, obs: Mapping[str, Observation]) -> dict[str, dict[str, object]]:
    """The two ends of a dated change (``last_seen_without``, ``first_seen``), each the observation, its
    acquisition (ISO 8601 UTC), whether only its date is known and its pixel size, as ``change --json`` gives them."""
    from .model import iso_utc

    def res(oid: str) -> float | None:
        return obs[oid].scene.resolution_m if oid in obs else None

    return {
        "last_seen_without": {"observation": d.last_without.before_id, "acquired": iso_utc(d.seen_without),
                              "acquired_date_only": _date_only(d.last_without.before_id, obs), "resolution_m": res(d.last_without.before_id)},
        "first_seen": {"observation": d.first_with.after_id, "acquired": iso_utc(d.seen_with),
                       "acquired_date_only": _date_only(d.first_with.after_id, obs), "resolution_m": res(d.first_with.after_id)},
    }  # fmt: skip


def region_ends(store: Store, site_id: str) -> dict[str, dict[str, dict[str, object]]]:
    """Each stored region of the site (by id) that :func:`stored_dating` dates -> its change's two ends
    (:func:`ends_json`): a region is dated by every pair that saw its change, not by its own pair alone. A
    region of a pair left out (an image ingested again since, or gone) is not in it."""
    dated, obs, _ = stored_dating(store, site_id)
    out: dict[str, dict[str, dict[str, object]]] = {}
    for d in dated:
        ends = ends_json(d, obs)
        out |= {r.id: ends for r in d.regions}
    return out


def dated_json(d: DatedChange, obs: Mapping[str, Observation]) -> dict[str, object]:
    """One dated change as ``change --json`` prints it."""
    from .model import iso_utc

    return {
        **ends_json(d, obs),
        "days_apart": round((d.seen_with - d.seen_without).total_seconds() / 86400, 2),
        "directions": list(d.directions), "largest_m2": d.regions[0].area_m2, "change_ids": [r.id for r in d.regions],
        "hidden_between": [{"observation": oid, "acquired": iso_utc(t), "compared_fraction": f} for oid, t, f in d.hidden_between],
    }  # fmt: skip


def dated_lines(observations: Sequence[Observation], pairs: Sequence[tuple[ChangePair, Sequence[Change]]]) -> list[str]:
    """The changes on the ground of a site's stored pairs with their regions, dated (:func:`dated_text`), as the
    report and the dashboard list them; a pair whose image was ingested again since, or is gone, is left out."""
    obs = {o.id: o for o in observations}
    return [dated_text(d, obs) for d in _dated_of(obs, pairs)]


def ends_by_region(observations: Sequence[Observation], pairs: Sequence[tuple[ChangePair, Sequence[Change]]]) -> dict[str, dict[str, dict[str, object]]]:
    """Each region of ``pairs`` that :func:`dated_lines` dates (by id) -> its change's two ends (:func:`ends_json`):
    the dashboard's API dates the pairs it read as its site page does."""
    obs = {o.id: o for o in observations}
    return {r.id: ends_json(d, obs) for d in _dated_of(obs, pairs) for r in d.regions}


def _dated_of(obs: Mapping[str, Observation], pairs: Sequence[tuple[ChangePair, Sequence[Change]]]) -> list[DatedChange]:
    """The changes of ``pairs`` dated, a pair whose image was ingested again since, or is gone, left out."""
    current = [(p, rs) for p, rs in pairs if p.current(obs)]
    return date_changes([p for p, _ in current], [r for _, rs in current for r in rs])


def cloud_gaps(pairs: Sequence[ChangePair]) -> list[tuple[ChangePair, ChangePair]]:
    """Chained pairs (one's after image the next one's before) that both compared less than half the site: a
    change under the shared image's cloud between the first's before and the second's after is in neither
    pair, and only a pair of those two images, compared directly, can find it. Each gap once, in time order,
    and none where such a direct pair is stored."""
    direct = {(p.before_id, p.after_id) for p in pairs}
    by_before: dict[str, list[ChangePair]] = {}
    for p in pairs:
        by_before.setdefault(p.before_id, []).append(p)
    gaps = [
        (p, q) for p in pairs if p.compared_fraction < _HIDING for q in by_before.get(p.after_id, [])
        if q.compared_fraction < _HIDING and q.after_acquired > p.after_acquired and (p.before_id, q.after_id) not in direct
    ]  # fmt: skip
    return sorted(gaps, key=lambda pq: (pq[0].after_acquired, pq[0].after_id, pq[1].after_id))


def gap_note(p: ChangePair, q: ChangePair, obs: Mapping[str, Observation]) -> str:
    """What :func:`cloud_gaps` found, said with what to run."""
    return (
        f"{_image(p.after_id, p.after_acquired, obs)} compared only {p.compared_fraction:.0%} and {q.compared_fraction:.0%} "
        f"of the site in its two pairs (cloud or no data): a change there under it between {_image(p.before_id, p.before_acquired, obs)} "
        f"and {_image(q.after_id, q.after_acquired, obs)} is in neither; compare those two: "
        f"`sitewatch change {p.site_id} --before {p.before_id} --after {q.after_id}`"
    )
