"""The detectors' names and versions, apart from their code: what a command that reads stored detections
compares them with (:func:`~sitewatch.detection_state.older_detector_notes`) without importing scipy.

A detector's version changes with what it finds or measures; the detections a workspace holds keep the
version that made them (``detections.detector_version``) until ``sitewatch detect`` runs again.
"""

from __future__ import annotations

__all__ = ["CURRENT_DETECTORS", "OPTICAL_DETECTOR", "OPTICAL_VERSION", "SAR_DETECTOR", "SAR_VERSION"]

SAR_DETECTOR = "sar-cfar"
SAR_VERSION = "1.14.0"
OPTICAL_DETECTOR = "optical-mlp"
OPTICAL_VERSION = "0.5.0"

CURRENT_DETECTORS: dict[str, str] = {SAR_DETECTOR: SAR_VERSION, OPTICAL_DETECTOR: OPTICAL_VERSION}
"""Each detector ``sitewatch detect`` runs, with the version it stores on its detections."""
