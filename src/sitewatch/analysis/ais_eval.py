"""AIS matching scored against a simulated scenario's truth: were the dark vessels found dark?

Simulated AIS (:mod:`sitewatch.sources.sim_ais`) names each report's vessel in a ``vessel_id``
column; a vessel of the scenario that never appears there is truly dark. Each observation's
detections are paired with its truth objects as ``sitewatch eval`` pairs them
(:func:`sitewatch.evaluate.evaluate_observation`), and then:

- a **dark** detection is right when its truth vessel is truly dark, wrong when that vessel
  broadcast (the matching missed its AIS), and a false alarm when it is no vessel at all;
- a truly dark vessel that was detected is **found** when its detection came out dark (not
  wrongly given another vessel's MMSI);
- a **match** is right when the MMSI given is the truth vessel's own.

Only observations the matching covered count (an image known only by its date is not matched).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..evaluate import evaluate_observation, read_truth
from ..workspace import Workspace
from .ais import AisParams, AisResult, match_workspace
from .ais_csv import detect_format, open_ais_text

__all__ = ["DarkScores", "broadcasting_vessels", "evaluate_dark", "evaluate_ais_files"]


@dataclass(frozen=True)
class DarkScores:
    """Dark and matched detections against the truth, over the observations matched."""

    observations: int
    dark: int
    """Detections reported dark."""
    dark_right: int
    """...whose truth vessel is truly dark."""
    dark_broadcasting: int
    """...whose truth vessel broadcast AIS (its position was not matched to it)."""
    dark_false_alarms: int
    """...that are no truth vessel (detector false alarms)."""
    truly_dark_detected: int
    """Detections of truly dark vessels (a vessel counted once per observation that detected it)."""
    truly_dark_found: int
    """...that came out dark."""
    matched: int
    matched_right: int
    """Matches whose MMSI is the truth vessel's own."""

    @property
    def precision(self) -> float | None:
        """Share of the detections reported dark whose truth vessel is truly dark (None: none reported dark)."""
        return self.dark_right / self.dark if self.dark else None

    @property
    def recall(self) -> float | None:
        """Share of the detected truly dark vessels reported dark (None: none detected)."""
        return self.truly_dark_found / self.truly_dark_detected if self.truly_dark_detected else None

    def to_dict(self) -> dict[str, Any]:
        """The counts with ``precision`` and ``recall`` (None where undefined) as a JSON-ready dict."""
        return asdict(self) | {"precision": self.precision, "recall": self.recall}


def broadcasting_vessels(paths: Iterable[str | Path]) -> dict[str, str]:
    """Scenario vessel id -> MMSI of every vessel in simulated AIS files (their ``vessel_id`` column)."""
    out: dict[str, str] = {}
    for path in paths:
        with open_ais_text(path) as f:  # a gzip file or a zip too, as read_ais reads it
            reader = csv.reader(f)
            header = next(reader, [])
            _, col = detect_format(header, path)
            names = [h.strip().lower() for h in header]
            if "vessel_id" not in names:
                raise InputError(f"{path}: has no vessel_id column: only simulated AIS (`sitewatch simulate --ais`) can be scored")
            i_id, i_mmsi = names.index("vessel_id"), col["mmsi"]
            for row in reader:
                if len(row) > max(i_id, i_mmsi) and row[i_id].strip():
                    out[row[i_id].strip()] = row[i_mmsi].strip()
    return out


def evaluate_dark(ws: Workspace, result: AisResult, ais_files: Iterable[str | Path]) -> DarkScores:
    """Score ``result`` (AIS matched in ``ws``) against the truth files of its simulated observations."""
    mmsi_of = broadcasting_vessels(ais_files)
    counts = dict.fromkeys(("observations", "dark", "dark_right", "dark_broadcasting", "dark_false_alarms",
                            "truly_dark_detected", "truly_dark_found", "matched", "matched_right"), 0)  # fmt: skip
    with ws.store() as store:
        for o in result.observations:
            if o.status != "matched":
                continue
            obs = store.get_observation(o.observation_id)
            rel = obs.provenance.get("truth")
            if not rel or not (path := ws.root / rel).exists():
                continue
            truth = read_truth(path)
            pairs = evaluate_observation(obs, store.detections(observation_id=obs.id), truth).pairs
            truth_of = {p.detection_id: p.truth_id for p in pairs}
            counts["observations"] += 1
            dark_ids = {d.detection_id for d in o.dark}
            for d in o.dark:
                vessel = truth_of.get(d.detection_id)
                key = "dark_false_alarms" if vessel is None else "dark_broadcasting" if vessel in mmsi_of else "dark_right"
                counts[key] += 1
            counts["dark"] += len(o.dark)
            for det_id, vessel in truth_of.items():
                if vessel not in mmsi_of:
                    counts["truly_dark_detected"] += 1
                    counts["truly_dark_found"] += det_id in dark_ids
            counts["matched"] += len(o.matched)
            counts["matched_right"] += sum(mmsi_of.get(truth_of.get(m.detection_id, "")) == m.mmsi for m in o.matched)
    return DarkScores(**counts)


def evaluate_ais_files(
    ws: Workspace, site_ids: Sequence[str] | None, ais_files: Sequence[str | Path], params: AisParams | None = None
) -> tuple[AisResult, DarkScores]:
    """Match simulated AIS files with the detections of ``site_ids`` (default: every site) and score the result."""
    with ws.store() as store:
        wanted = list(site_ids) if site_ids else [s.id for s in store.sites()]
        result = match_workspace(store, ws.root, wanted, ais_files, params)
    return result, evaluate_dark(ws, result, ais_files)
