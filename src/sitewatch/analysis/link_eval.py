"""Links between sites scored against the simulator's truth: is each link the same truth vessel at both ends?

The truth files next to each simulated image name every vessel drawn in it (``id``, ``visible``).
A detection stands for the truth vessel :mod:`sitewatch.evaluate` matched it with. A **true link**
found is a feasible link whose departure and arrival stand for the same truth vessel; a **truth
link** is a truth vessel seen at one site and next seen at another within the window (its last
truth date at A, its first at B); it is **missed** when no feasible link joins a detection of it
at A to one of it at B.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from .links import Links

__all__ = ["LinkScore", "TruthSighting", "score_links", "truth_links"]

TruthSighting = tuple[str, str, date]
"""(truth vessel id, site id, date) of one visible truth vessel in one image."""


@dataclass(frozen=True)
class LinkScore:
    """Feasible links against the truth."""

    found: int
    """Feasible links found."""
    true: int
    """Of those, links whose two ends are the same truth vessel."""
    truth_links: int
    """Truth vessels that went from one site to another within the window."""
    missed: int
    """Truth links no feasible link found."""
    true_links: tuple[str, ...] = ()
    """The true links found, as "vessel: A date → B date"."""
    missed_links: tuple[str, ...] = ()

    def line(self) -> str:
        """``links: 5 found, 1 true (same truth vessel at both ends), 0 true links missed (of 1)``."""
        return (
            f"links: {self.found} found, {self.true} true (same truth vessel at both ends), "
            f"{self.missed} true link{'' if self.missed == 1 else 's'} missed (of {self.truth_links})"
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LinkScore:
        """The score from its :meth:`to_dict` (as ``eval`` records it)."""
        return cls(
            int(d["found"]), int(d["true"]), int(d["truth_links"]), int(d["missed"]),
            tuple(d.get("true_links") or ()), tuple(d.get("missed_links") or ()),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The score as a JSON-ready dict, as ``eval`` records it (read back by :meth:`from_dict`)."""
        return {
            "found": self.found, "true": self.true, "truth_links": self.truth_links, "missed": self.missed,
            "true_links": list(self.true_links), "missed_links": list(self.missed_links),
        }  # fmt: skip


def truth_links(sightings: Iterable[TruthSighting], window_days: float) -> list[tuple[str, str, date, str, date]]:
    """(vessel, site A, last date at A, site B, first date at B) for each move of a truth vessel between sites."""
    by_vessel: dict[str, set[tuple[date, str]]] = defaultdict(set)
    for vessel, site, day in sightings:
        by_vessel[vessel].add((day, site))
    out = []
    for vessel, seen in sorted(by_vessel.items()):
        ordered = sorted(seen)
        for (day_a, site_a), (day_b, site_b) in zip(ordered, ordered[1:], strict=False):
            if site_a != site_b and (day_b - day_a).days <= window_days:
                out.append((vessel, site_a, day_a, site_b, day_b))
    return out


def score_links(links: Links, truth_of: Mapping[str, str], sightings: Iterable[TruthSighting]) -> LinkScore:
    """Score the feasible links: ``truth_of`` maps a detection id to the truth vessel it matched."""
    true_found: list[str] = []
    joined: set[tuple[str, str, str]] = set()
    for k in links.feasible:
        v = truth_of.get(k.departure.detection_id)
        if v is not None and v == truth_of.get(k.arrival.detection_id):
            true_found.append(
                f"{v}: {k.departure.site_id} {k.departure.date.isoformat()} → {k.arrival.site_id} {k.arrival.date.isoformat()}"
            )
            joined.add((v, k.departure.site_id, k.arrival.site_id))
    expected = truth_links(sightings, links.params.window_days)
    missed = [
        f"{v}: {a} {da.isoformat()} → {b} {db.isoformat()}" for v, a, da, b, db in expected if (v, a, b) not in joined
    ]
    return LinkScore(
        found=len(links.feasible), true=len(true_found), truth_links=len(expected), missed=len(missed),
        true_links=tuple(true_found), missed_links=tuple(missed),
    )  # fmt: skip
