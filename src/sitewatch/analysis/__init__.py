"""Analyses over stored observations and detections: occupancy timeline (links, AIS to come)."""

from .occupancy import (
    Period,
    SkippedObservation,
    Timeline,
    TimelineParams,
    TimelineRow,
    build_timeline,
    load_timeline,
    timeline_to_dict,
)

__all__ = [
    "Period",
    "SkippedObservation",
    "Timeline",
    "TimelineParams",
    "TimelineRow",
    "build_timeline",
    "load_timeline",
    "timeline_to_dict",
]
