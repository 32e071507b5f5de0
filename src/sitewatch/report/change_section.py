"""The report's "Changes" section of a site: the pairs ``sitewatch change`` compared and stored, each
with its two images (observation, scene, file and hash), and their largest regions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..model import Change, Observation, acquired_label, direction_counts
from ..store.changes import ChangePair
from ..units import count_noun

__all__ = ["MAX_REGIONS_PER_PAIR", "change_rows"]

MAX_REGIONS_PER_PAIR = 10
"""Regions listed per pair in the report, the largest first (all are in the GeoPackage's ``changes`` layer)."""


def _image(o: Observation | None, oid: str, sha256: str) -> dict[str, Any]:
    """The image a pair compared; said so when it is gone or was ingested again since (another file)."""
    if o is None:
        return {"id": oid, "label": "(no longer in the workspace)", "scene_id": "", "path": "", "sha256": sha256,
                "simulated": False, "replaced": False}  # fmt: skip
    return {"id": o.id, "label": acquired_label(o), "scene_id": o.scene.id, "path": o.path, "sha256": sha256,
            "simulated": o.scene.simulated, "replaced": o.sha256 != sha256}  # fmt: skip


def _cloud_twins(left: object) -> str:
    """What ``change --shadow-twins`` left out of a pair (its stored ``cloud_left_out``), a phrase; empty for a pair
    it did not look at."""
    if not isinstance(left, dict) or left.get("test") != "shadow twins":
        return ""
    n, m = int(left.get("clouds") or 0), int(left.get("refused") or 0)
    found = (f"{count_noun(n, 'cloud')} found by {'its' if n == 1 else 'their'} shadow, {float(left.get('cloud_m2', 0)):,.0f} m² of cloud "
             f"and {float(left.get('shadow_m2', 0)):,.0f} m² of shadow not compared" if left.get("clouds") else "no cloud found by its shadow")  # fmt: skip
    wide = left.get("beyond_grid")
    if isinstance(wide, dict) and wide.get("clouds"):
        found += f" ({wide['clouds']} by a shadow outside the site's image, on its source files)"
    refused = f"; {count_noun(m, 'bright patch', 'bright patches')} without a shadow compared" if m else ""
    return f"no cloud mask: {found}{refused}"


def change_rows(pairs: Sequence[tuple[ChangePair, list[Change]]], observations: Sequence[Observation]) -> list[dict[str, Any]]:
    """One dict per stored pair of a site (:func:`sitewatch.store.changes.pairs_with_regions`) with the site's
    ``observations``; none when the site has no stored changes."""
    by_id = {o.id: o for o in observations}
    rows = []
    for p, regions in pairs:
        counts = direction_counts(r.direction for r in regions)
        rows.append({
            "sensor": p.sensor,
            "simulated": p.simulated,
            "method": f"{p.method} {p.method_version}",
            "compared_fraction": p.compared_fraction,
            "cloud_twins": _cloud_twins(p.parameters.get("cloud_left_out")),
            "counts": counts,
            "area_m2": sum(r.area_m2 for r in regions),
            "before": _image(by_id.get(p.before_id), p.before_id, p.before_sha256),
            "after": _image(by_id.get(p.after_id), p.after_id, p.after_sha256),
            "regions": [
                {"id": r.id, "direction": r.direction, "area_m2": r.area_m2, "magnitude": r.magnitude,
                 "lon": r.polygon.centroid.x, "lat": r.polygon.centroid.y}
                for r in regions[:MAX_REGIONS_PER_PAIR]
            ],  # fmt: skip
            "regions_omitted": max(0, len(regions) - MAX_REGIONS_PER_PAIR),
        })  # fmt: skip
    return rows
