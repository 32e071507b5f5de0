"""The report's AIS section: what ``sitewatch ais`` finds, as rows the template shows.

Only when the report is asked for with AIS files (``sitewatch report --ais FILE``, the demo's
simulated AIS): matching is computed on request, never stored, so the report computes it too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..analysis.ais import DARK_CAVEAT, AisResult

__all__ = ["ais_section"]


def _stated(result: AisResult) -> str:
    """What the user said the AIS files cover (``--ais-coverage``, ``--ais-period``), as words; '' when nothing."""
    c = result.coverage
    if c is None:
        return ""
    said = [f"the area of {Path(c.area_source).name}" if c.area is not None else "",
            f"{c.start:%Y-%m-%d %H:%M} to {c.end:%Y-%m-%d %H:%M} UTC" if c.start and c.end else ""]  # fmt: skip
    return " and ".join(x for x in said if x)


def _m(value: float | None) -> str:
    return "not given" if value is None else f"{value:.0f} m"


def ais_section(result: AisResult) -> dict[str, Any]:
    """The template's ``ais`` from the report's one AIS matching (``match_workspace``): files read,
    per-site counts, and a row per observation with anything to say (a match, a dark detection, an
    unseen or hidden AIS position, or why it was not matched), each naming its observation and the
    image it rests on."""
    rows = []
    for o in result.observations:
        if o.status == "matched" and not (o.matched or o.dark or o.unseen or o.hidden or o.unplaced):
            continue
        rows.append({
            "site_id": o.site_id, "acquired": o.acquired.replace("T", " ").replace("Z", " UTC"), "sensor": o.sensor,
            "observation_id": o.observation_id, "image": o.image, "note": o.note,
            "matched": [f"{m.detection_id} = MMSI {m.mmsi} {m.name or '(no name)'}, {m.distance_m:.0f} m apart; "
                        f"AIS length {_m(m.ais_length_m)}, measured {'≥ ' if m.truncated else ''}{_m(m.length_m)}" for m in o.matched],
            "dark": [f"{d.detection_id} ({_m(d.length_m)})" for d in o.dark],
            "unseen": [f"MMSI {u.mmsi} {u.name or '(no name)'}" for u in o.unseen],
            "hidden": [f"MMSI {u.mmsi} ({why})" for u, why in o.hidden],
            "unplaced": [f"MMSI {u.mmsi} {u.name or '(no name)'}" for u in o.unplaced],
        })  # fmt: skip
    return {
        "files": [{"name": Path(f.path).name, "format": f.format, "rows": f.rows, "kept": f.kept, "skipped": f.skipped,
                   "duplicates": f.duplicates + f.conflicting, "simulated": f.simulated}
                  for f in result.files],  # fmt: skip
        "coverage": _stated(result),
        "sites": result.site_counts(),
        "rows": rows,
        "caveat": DARK_CAVEAT,
        "params": result.params,
        "simulated": result.simulated,
    }
