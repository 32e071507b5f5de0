"""The report's claims section: each claim of the given files with its verdict, reason and images.

Only when the report is asked for with claims files (``sitewatch report --claims FILE``, the demo's
built-in claims): verdicts are computed from the stored detections each time, never stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..analysis.occupancy import TimelineParams
from ..evidence import check_claims_file

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["claims_section"]

log = logging.getLogger(__name__)


def claims_section(store: Store, claims_files: Sequence[str | Path], utc_offset_hours: float = 0.0) -> dict[str, Any]:
    """The template's ``claims``: per file, a row per claim (verdict, reason, source, images) and the claims refused.

    ``utc_offset_hours`` is the report's (``--utc-offset``): the claims are judged on the timeline's dates, local
    ones with an offset, so that one report has one day convention."""
    files: list[dict[str, Any]] = []
    for path in claims_files:
        check = check_claims_file(store, path, TimelineParams(utc_offset_hours=utc_offset_hours))
        for problem in check.problems:  # the report lists them too, but a terminal or cron log should say so
            log.warning("refused: %s: %s (left out of the report's claims)", path, problem)
        rows = [
            {
                "id": r.claim.id, "text": r.claim.text, "source": str(r.claim.source), "verdict": r.verdict,
                "partial": r.partial, "reason": r.reason, "simulated": r.simulated,
                "dates": r.claim.start.isoformat() if r.claim.start == r.claim.end
                else f"{r.claim.start.isoformat()} to {r.claim.end.isoformat()}",
                "images": [
                    {"observation_id": im.observation_id, "label": im.label(), "path": im.path, "sha256": im.sha256,
                     "simulated": im.simulated, "note": im.note}
                    for im in r.images
                ],
            }
            for r in check.results
        ]  # fmt: skip
        files.append({
            "name": Path(path).name, "title": check.title, "rows": rows,
            "refused": [str(p) for p in check.problems],
        })  # fmt: skip
    return {"files": files, "simulated": any(r["simulated"] for f in files for r in f["rows"])}
