"""Change claims decided from the stored change pairs: "something appeared at the site between A and B".

A ``change_present`` (``change_absent``) assertion is decided by the pairs ``sitewatch change`` stored for
the site: of each series of pairs of one sensor and grid chained image to image (each pair's after image
the next one's before), the shortest run from an image on or before the first date to one on or after
the last **brackets** the dates. With no such run the claim is **not testable** (no usable pair brackets
the dates: run ``sitewatch change``); a pair whose image was ingested again since it was compared does not
count. A region of the claimed direction and size in a bracketing pair
supports a present claim (contradicts an absent one); the reason names the pair's two images (of the pairs
with such regions, one within the claimed dates first, then the finest pixels, then the largest region),
says when they reach outside the claimed dates, gives the regions' areas and, when pairs of other series narrow it,
the change dated by every pair (:mod:`sitewatch.change_dating`). A region that a pair of any
series places outside the dates (it overlaps a region of a pair whose after image, before the first date, already
showed it, or whose before image, after the last, did not yet) does not count: with only such regions the claim
is not testable, saying which pair placed them. None in a run of pairs that each compared at
least half the site contradicts it (supports the absent one); a run that compared less (cloud) leaves
it not testable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

from .analysis.occupancy import observation_date
from .claims_file import Assertion
from .evidence import CONTRADICTED, SUPPORTED, UNTESTABLE, Image, PartResult, World
from .model import Change, Observation
from .store.changes import ChangePair
from .units import count_noun

__all__ = ["MIN_COMPARED", "bracketing_runs", "change_part"]

MIN_COMPARED = 0.5
"""A pair that compared less of the site than this (cloud, no data) cannot say nothing changed."""


def bracketing_runs(
    pairs: Sequence[ChangePair], a: Assertion, series: Callable[[ChangePair], str],
    day: Callable[[str, datetime], date] | None = None,
) -> list[list[ChangePair]]:  # fmt: skip
    """Per series (``series`` of a pair: its sensor and resolution), the shortest run of chained pairs from an image on or before
    ``a.start`` to one on or after ``a.end``; none for a series that does not bracket them. ``day`` of an observation id and
    its acquisition time is the date it counts for (default: its UTC date; local with --utc-offset)."""
    on = day or _utc_day
    by_before: dict[str, list[ChangePair]] = defaultdict(list)
    for p in pairs:
        by_before[p.before_id].append(p)
    best: dict[str, list[ChangePair]] = {}
    for p0 in pairs:
        if on(p0.before_id, p0.before_acquired) > a.start:
            continue
        run, cur = [p0], p0
        while on(cur.after_id, cur.after_acquired) < a.end:
            nxt = [q for q in by_before.get(cur.after_id, []) if q.after_acquired > cur.after_acquired]
            if not nxt:
                break
            cur = min(nxt, key=lambda q: (q.after_acquired, q.after_id))
            run.append(cur)
        if on(cur.after_id, cur.after_acquired) < a.end:
            continue
        key = series(p0)
        old = best.get(key)
        if old is None or (p0.before_acquired, -len(run)) > (old[0].before_acquired, -len(old)):
            best[key] = run
    return [best[k] for k in sorted(best)]


def _utc_day(observation_id: str, acquired: datetime) -> date:
    return acquired.astimezone(UTC).date()


def _bracket_hint(sid: str, a: Assertion, observations: Sequence[Observation], utc_offset_hours: float) -> str:
    """What to do about dates no stored pair brackets: compare the images there are, or say which is missing.

    Running ``sitewatch change`` again cannot help when no image lies before (or after) the dates."""
    days = sorted(observation_date(o, utc_offset_hours) for o in observations)
    if not days:
        return f"{sid} has no image"
    missing = []
    if days[0] > a.start:
        missing.append(f"no image of {sid} on or before {a.start} (the first is of {days[0]})")
    if days[-1] < a.end:
        missing.append(f"no image of {sid} on or after {a.end} (the last is of {days[-1]})")
    return "; ".join(missing) or f"run `sitewatch change {sid}`"


def _regions(a: Assertion, p: ChangePair, changes: Sequence[Change]) -> list[Change]:
    return [
        c for c in changes
        if c.before_id == p.before_id and c.after_id == p.after_id and (a.direction is None or c.direction == a.direction)
        and c.area_m2 >= (a.min_area_m2 or 0.0)
    ]  # fmt: skip


def _seen_outside(
    a: Assertion, pairs: Sequence[ChangePair], changes: Sequence[Change], on: Callable[[str, datetime], date],
) -> Callable[[ChangePair, Change], ChangePair | None]:  # fmt: skip
    """For a region ``r`` of pair ``p``: a pair (of any series) whose regions overlap ``r`` and whose after image,
    taken after ``p``'s before image, is of a date before ``a.start`` (the change was there before the dates), or
    whose before image, taken before ``p``'s after image, is of a date after ``a.end`` (it came after them); else None."""
    by_pair: dict[tuple[str, str], list[Change]] = defaultdict(list)
    for c in changes:
        by_pair[(c.before_id, c.after_id)].append(c)

    def seen(p: ChangePair, r: Change) -> ChangePair | None:
        hits = []
        for q in pairs:
            early = q.after_acquired > p.before_acquired and on(q.after_id, q.after_acquired) < a.start
            late = q.before_acquired < p.after_acquired and on(q.before_id, q.before_acquired) > a.end
            if q is not p and (early or late) and any(c.polygon.intersects(r.polygon) for c in by_pair[(q.before_id, q.after_id)]):
                hits.append(q)
        # The earliest after image (the first sight of it before the dates), else the latest before image.
        return min(hits, key=lambda q: (on(q.after_id, q.after_acquired) >= a.start, q.after_acquired, -q.before_acquired.timestamp()), default=None)

    return seen


def _dated(region: Change, pairs: Sequence[ChangePair], changes: Sequence[Change], obs: dict[str, Observation]) -> str:
    """``; dated by every pair: last seen without …, first seen …`` for the change on the ground ``region`` is part
    of (:mod:`sitewatch.change_dating`), when other pairs narrow what its own pair says; else empty."""
    from .change_dating import date_changes, ends_text

    site = [c for c in changes if c.site_id == region.site_id]
    for d in date_changes(pairs, site):
        if any(r.id == region.id for r in d.regions):
            if d.last_without is d.first_with:
                return ""  # its own pair is the bracket, said already
            return f"; dated by every pair: {ends_text(d, obs)}"
    return ""


def _what(a: Assertion, n: int = 1) -> str:
    size = f" of at least {a.min_area_m2:,.0f} m²" if a.min_area_m2 else ""
    return f"{a.direction or 'changed'} region{'' if n == 1 else 's'}{size}"


def change_part(a: Assertion, world: World, present: bool) -> PartResult:
    """The verdict on a ``change_present`` (``present``) or ``change_absent`` assertion."""
    sid = a.site_ids[0]
    obs = {o.id: o for o in world.site_observations(sid)}
    # A pair counts while both its images are the ones stored now (an image ingested again since is another file).
    pairs = [p for p in world.change_pairs if p.site_id == sid and p.compared_fraction > 0 and p.current(obs)]
    span = f"{a.start}" if a.start == a.end else f"{a.start} to {a.end}"
    offset = world.params.utc_offset_hours

    def on(observation_id: str, acquired: datetime) -> date:  # the date the timeline gives it (local with --utc-offset)
        return observation_date(obs[observation_id], offset)

    runs = bracketing_runs(pairs, a, lambda p: f"{obs[p.after_id].scene.resolution_m:g} m {p.sensor}", on)
    if not runs:
        return PartResult(a, UNTESTABLE, f"no stored pair of {sid}'s images brackets {span} (an image on or before "
                          f"{a.start} and one on or after {a.end}); {_bracket_hint(sid, a, list(obs.values()), offset)}", (), (), ())  # fmt: skip

    def images(p: ChangePair, regions: Sequence[Change] = ()) -> tuple[Image, Image]:
        ids = tuple(c.id for c in regions)
        return Image.of(obs[p.before_id]), replace(Image.of(obs[p.after_id]), change_ids=ids)

    def pair_text(p: ChangePair) -> str:
        return f"{Image.of(obs[p.before_id]).label()} → {Image.of(obs[p.after_id]).label()}"

    found = [(p, rs) for run in runs for p in run if (rs := _regions(a, p, world.changes))]
    tested = tuple(sorted({d for run in runs for p in run for d in (on(p.before_id, p.before_acquired), on(p.after_id, p.after_acquired))}))
    # A pair reaching outside the dates may hold a change another pair places outside them: drawn where that pair's
    # after image, before the first date, already showed it (or its before image, after the last, did not yet).
    seen_by = _seen_outside(a, pairs, world.changes, on)
    elsewhere = [(p, r, q) for p, rs in found for r in rs if (q := seen_by(p, r)) is not None]
    placed = {r.id for _, r, _ in elsewhere}
    found = [(p, kept) for p, rs in found if (kept := [r for r in rs if r.id not in placed])]
    if elsewhere and not found:
        elsewhere.sort(key=lambda t: -t[1].area_m2)
        p, r, q = elsewhere[0]
        when = f"already seen in {pair_text(q)}, before {a.start}" if on(q.after_id, q.after_acquired) < a.start \
            else f"not yet there in {pair_text(q)}, after {a.end}"  # fmt: skip
        n = len(elsewhere)
        reason = (
            f"{pair_text(p)}: {n} {_what(a, n)} ({', '.join(f'{x.area_m2:,.0f} m²' for _, x, _ in elsewhere)}), but "
            f"{'it lies' if n == 1 else 'they lie'} outside {span}: {'the largest' if n > 1 else 'it'} was {when}"
            f"{'' if n == 1 else ' (the others likewise)'}; a change there within the dates cannot be told from it"
        )
        ims = tuple(im for x, xr, y in elsewhere for im in (*images(x, (xr,)), *images(y)))
        return PartResult(a, UNTESTABLE, reason, tuple(dict.fromkeys(ims)), (), tested)
    if found:
        def strength(t: tuple[ChangePair, list[Change]]) -> tuple[bool, float, float]:
            # A pair within the claimed dates first (the change then lies in them), then the finer pixels, then the larger region.
            q, qs = t
            beyond = on(q.before_id, q.before_acquired) < a.start or on(q.after_id, q.after_acquired) > a.end
            return beyond, obs[q.after_id].scene.resolution_m, -max(c.area_m2 for c in qs)

        p, rs = min(found, key=strength)
        total = sum(c.area_m2 for c in rs)
        outside = on(p.before_id, p.before_acquired) < a.start or on(p.after_id, p.after_acquired) > a.end
        reason = (
            f"{pair_text(p)}: {len(rs)} {_what(a, len(rs))}, {total:,.0f} m² in all (largest {max(c.area_m2 for c in rs):,.0f} m²)"
            + (f"; the pair's images reach outside {span}, so the change may lie just outside it" if outside else "")
            + (f" (and {count_noun(len(found) - 1, 'other pair')} with such regions)" if len(found) > 1 else "")
            + _dated(rs[0], pairs, world.changes, obs)
        )
        ims = tuple(im for q, qs in found for im in images(q, qs))
        return PartResult(a, SUPPORTED if present else CONTRADICTED, reason, ims, tested, ())
    conclusive = [run for run in runs if all(p.compared_fraction >= MIN_COMPARED for p in run)]
    if conclusive:
        run = conclusive[0]
        reason = f"no {_what(a)} at {sid} in {'; '.join(pair_text(p) for p in run)} (bracketing {span})"
        ims = tuple(im for p in run for im in images(p))
        return PartResult(a, CONTRADICTED if present else SUPPORTED, reason, ims, tested, ())
    worst = min((p for run in runs for p in run), key=lambda p: p.compared_fraction)
    return PartResult(
        a, UNTESTABLE, f"no {_what(a)} at {sid}, but {pair_text(worst)} compared only {worst.compared_fraction:.0%} "
        f"of the site (cloud or no data): it cannot say nothing changed", tuple(im for run in runs for p in run for im in images(p)),
        (), tested,
    )  # fmt: skip
