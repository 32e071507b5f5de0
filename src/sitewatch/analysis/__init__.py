"""Analyses over stored observations and detections: occupancy timeline (links, AIS to come)."""

from .occupancy import (
    Period,
    SkippedObservation,
    Timeline,
    TimelineParams,
    TimelineRow,
    build_timeline,
    equipment_changes,
    load_timeline,
    timeline_for_site,
    timeline_to_dict,
    write_timeline_files,
)

__all__ = [
    "Period",
    "SkippedObservation",
    "Timeline",
    "TimelineParams",
    "TimelineRow",
    "build_timeline",
    "equipment_changes",
    "load_timeline",
    "timeline_to_dict",
    "timeline_for_site",
    "write_timeline_files",
]
