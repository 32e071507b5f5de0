"""What a search or a fetch asks a STAC catalogue for, and how: one value for every function that takes it.

:func:`sitewatch.fetch.find_scenes`, :func:`~sitewatch.fetch.fetch_scenes`,
:func:`~sitewatch.fetch.fetch_candidates`, :func:`~sitewatch.fetch.measure_site_stats` and, for many sites,
:func:`sitewatch.fetch_many.find_scenes_for_sites`, :func:`~sitewatch.fetch_many.fetch_sites` and
:func:`~sitewatch.fetch.measure_stats_of_sites` each take a
:class:`FetchOptions`, so an option added here reaches all of them (and the ``search`` and ``fetch``
commands that build it) without being threaded through each signature by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from .errors import InputError

if TYPE_CHECKING:  # rasterio and requests stay out of `sitewatch --help`
    from .sources.s1_radiometry import ThermalNoise
    from .sources.stac import Signer

__all__ = ["GROUP_KM", "GcpMethod", "FetchOptions"]

GROUP_KM = 50.0
"""Default side of the square (km) that a group of sites asked for in one search must fit in."""

GcpMethod = Literal["tps", "polynomial"]
"""How a scene with ground control points and no CRS (Sentinel-1 GRD) is placed."""

_GCP_METHODS = ("tps", "polynomial")
_THERMAL_NOISE = ("keep", "subtract")


@dataclass(frozen=True)
class FetchOptions:
    """A period of a collection to search or fetch, and how: the defaults are the ``search``/``fetch`` commands'.

    Checks itself: a period that ends before it starts, a cloud limit outside 0..100, a negative retry count
    or group size, or an unknown GCP method or thermal noise choice is an :class:`~sitewatch.errors.InputError`
    naming the field.
    """

    collection: str
    """Collection id (``sentinel-2-l2a``…) or short name (``s2``, ``s1``, ``landsat``), resolved per catalogue."""
    start: datetime
    """Start of the period (UTC)."""
    end: datetime
    """End of the period (UTC), included."""
    max_cloud: float = 100.0
    """Highest cloud % over the site (its valid pixels, not the scene's) of an optical scene fetched."""
    refresh: bool = False
    """Ask the catalogue again rather than use a cached search."""
    force: bool = False
    """Fetch again items already archived."""
    retries: int = 5
    """Retries (with backoff) of transient HTTP errors, for searches and asset reads."""
    backoff: float = 1.0
    """First wait (s) before a retry; it doubles each time."""
    page_size: int = 100
    """Items a search page asks for."""
    gcp_method: GcpMethod = "tps"
    """How Sentinel-1 GRD scenes are placed by their ground control points."""
    compress: str = "deflate"
    """Compression of the archived COGs (the ``cog_compress`` setting)."""
    thermal_noise: ThermalNoise = "keep"
    """Whether a GRD item's thermal noise LUT is subtracted (the ``sar_thermal_noise`` setting)."""
    context_m: float | None = None
    """Margin of image a site narrower than 500 m is archived with (the ``context_m`` setting; None: its default)."""
    group_km: float = GROUP_KM
    """Several sites: those whose common bounding box fits in a square of this side (km) are one search; 0: one a site."""
    env: Mapping[str, str] | None = field(default=None, repr=False)
    """Where credentials are read from (None: the process environment)."""
    signer: Signer | None = field(default=None, repr=False)
    """Overrides the catalogue's own signing of asset hrefs (tests point it at 127.0.0.1)."""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InputError(f"FetchOptions: end {self.end.isoformat()} is before start {self.start.isoformat()}")
        if not (isinstance(self.max_cloud, (int, float)) and 0 <= self.max_cloud <= 100):
            raise InputError(f"FetchOptions: max_cloud must be a percentage from 0 to 100, not {self.max_cloud!r}")
        if self.retries < 0:
            raise InputError(f"FetchOptions: retries must be 0 or more, not {self.retries!r}")
        if self.page_size < 1:
            raise InputError(f"FetchOptions: page_size must be 1 or more, not {self.page_size!r}")
        if not (math.isfinite(self.group_km) and self.group_km >= 0):
            raise InputError(f"FetchOptions: group_km must be 0 or more, not {self.group_km!r}")
        if self.gcp_method not in _GCP_METHODS:
            raise InputError(f"FetchOptions: gcp_method must be one of {', '.join(_GCP_METHODS)}, not {self.gcp_method!r}")
        if self.thermal_noise not in _THERMAL_NOISE:
            raise InputError(
                f"FetchOptions: thermal_noise must be one of {', '.join(_THERMAL_NOISE)}, not {self.thermal_noise!r}"
            )
