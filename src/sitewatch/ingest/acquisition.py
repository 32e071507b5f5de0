"""One acquisition, one observation: a second file of an image a site already holds is not recorded as a second look.

The same scene reaches an analyst more than once: a Planet scene in two orders (two clips, or the SR
and the TOA product), a GeoTIFF and the COG made of it, a delivery copied and renamed. Byte-identical
copies are one observation already (:func:`~sitewatch.ingest.identity.unique_item_id`); these are not
byte-identical, got an id of their own, and each of the image's vessels was counted twice: by
``detect``, in the presence days and timeline, the report and the exports.

:func:`held_acquisition` finds, as an observation is recorded, another observation of its site that is
the same acquisition: the same sensor, taken at the same second (neither known by its date alone), with
data over the same part of the site (their data overlap is at least half the smaller's: two tiles or strips
of one capture, which meet at a seam, are pieces of one pass, kept apart and judged together by the
timeline), and either

- the same platform, named by both (a provider's scene in another order or product, its pixels other), or
- when either names none, the same pixels: the two on one grid, equal (to 1e-4) where both have data
  (a GeoTIFF and its COG copy); two unnamed images that differ are never taken for one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from shapely.geometry.base import BaseGeometry

from ..analysis.passes import footprint_overlap
from ..model import Observation
from ..store import Store, stored_time
from ..workspace import Workspace

__all__ = ["held_acquisition", "held_twice", "less_described_copy", "same_acquisition", "source_of"]

_SHARE = 0.5
"""Least share of the smaller's data over the site the two must both hold data for."""


def source_of(prov: Mapping[str, Any], fallback: str) -> str:
    """The file (or files) an observation was made from, as its provenance names them, for a message."""
    if isinstance(prov.get("band_files"), Mapping):
        paths = [str(b.get("path")) for b in prov["band_files"].values() if isinstance(b, Mapping)]
        if paths:
            return " + ".join(paths)
    if prov.get("source_path"):
        return str(prov["source_path"])
    if prov.get("catalog") and prov.get("item_id"):
        return f"{prov['catalog']} item {prov['item_id']}"
    return fallback


def less_described_copy(obs: Observation, held: Observation) -> str | None:
    """What ``held`` (the observation ``obs`` is to replace) was described by that ``obs`` lacks, as a message says it,
    when ``obs`` comes from a byte-identical copy of ``held``'s file at another path; else None.

    Such a copy goes in as that observation (:func:`~sitewatch.ingest.identity.unique_item_id`), the later path
    kept: a copy without the files delivered beside the original (a Maxar file's ``.IMD``, a Planet file's metadata
    XML or UDM2) was read as counts divided by 10,000, of no platform and no cloud mask, and silently replaced the
    calibrated observation. The caller refuses it instead; a copy as well described still replaces.
    """
    new, old = obs.provenance, held.provenance
    if (not old.get("source_sha256") or new.get("source_sha256") != old.get("source_sha256")
            or new.get("source_path") == old.get("source_path") or "band_files" in new or "band_files" in old):  # fmt: skip
        return None
    lost: list[str] = []
    for key in ("maxar", "planet"):
        cal = old.get(key)
        if isinstance(cal, Mapping) and not isinstance(new.get(key), Mapping):
            lost.append(f"calibrated by {cal.get('metadata')} (top-of-atmosphere reflectance), where this copy's values "
                        f"would be read {_read_as(new)}")  # fmt: skip
    if held.scene.platform and not obs.scene.platform:
        lost.append(f"of the platform {held.scene.platform}, which this copy does not name")
    mask = old.get("cloud_mask")
    if isinstance(mask, Mapping) and not isinstance(new.get("cloud_mask"), Mapping):
        lost.append(f"with its cloud mask {mask.get('path')}, which this copy has none of")
    if not lost:
        return None
    return "; ".join(lost)


def _read_as(prov: Mapping[str, Any]) -> str:
    """How an observation's values were scaled, as a message says it."""
    scale = prov.get("scale_applied")
    if isinstance(scale, (int, float)) and scale not in (0, 1):
        return f"by their range (divided by {1 / scale:,.0f})"
    return "by their range"


def same_acquisition(a: Observation, b: Observation, site: BaseGeometry | None) -> bool | None:
    """Whether two observations of a site are one acquisition by what the store holds: True (the same sensor
    and second, neither known by its date alone, data over the same part of the site, the same platform named
    by both), False, or None when only their pixels can tell (the rest holds and a platform is not named)."""
    if a.site_id != b.site_id or a.scene.sensor != b.scene.sensor or a.acquired_date_only or b.acquired_date_only:
        return False
    if a.scene.acquired.astimezone(UTC).replace(microsecond=0) != b.scene.acquired.astimezone(UTC).replace(microsecond=0):
        return False
    pa, pb = a.scene.platform.strip().lower(), b.scene.platform.strip().lower()
    if pa and pb and pa != pb:
        return False
    if footprint_overlap(a, b, site) < _SHARE * min(a.valid_fraction, b.valid_fraction):
        return False  # pieces of one capture that meet at a seam: one pass, judged together by the timeline
    return True if pa and pb else None


def held_twice(observations: Sequence[Observation], site: BaseGeometry | None) -> list[tuple[Observation, Observation]]:
    """The pairs of ``observations`` (of one site) that :func:`same_acquisition` says are one acquisition, in
    acquisition order: a workspace's copies ingested before they were refused, each vessel of them counted twice."""
    by_second: dict[tuple[str, datetime], list[Observation]] = {}
    for o in observations:
        by_second.setdefault((o.scene.sensor, o.scene.acquired.astimezone(UTC).replace(microsecond=0)), []).append(o)
    return [
        (a, b) for group in by_second.values() for i, a in enumerate(group) for b in group[i + 1:]
        if same_acquisition(a, b, site)
    ]


def held_acquisition(ws: Workspace, store: Store, obs: Observation, cog: Path) -> Observation | None:
    """Another observation of ``obs``'s site that is the same acquisition as ``obs`` (see the module's doc), else None.

    ``cog`` is ``obs``'s image as written (still under its partial name): its pixels are compared with the held
    one's when a platform is not known.
    """
    if obs.acquired_date_only:
        return None  # 12:00 UTC assumed: two images of that date would look like one
    second = obs.scene.acquired.astimezone(UTC).replace(microsecond=0)
    rows = store.execute(
        "SELECT observation_id FROM observations WHERE site_id = ? AND sensor = ? AND acquired >= ? AND acquired < ? "
        "AND observation_id != ? ORDER BY observation_id",
        (obs.site_id, obs.scene.sensor, stored_time(second), stored_time(second + timedelta(seconds=1)), obs.id),
    )
    if not rows:
        return None
    site = store.get_site(obs.site_id).geometry
    for row in rows:
        held = store.get_observation(str(row["observation_id"]))
        same = same_acquisition(obs, held, site)
        if same or (same is None and _same_pixels(cog, ws.root / held.path)):
            return held
    return None


def _same_pixels(a: Path, b: Path) -> bool:
    """Whether two archived images lie on one grid with the same bands and hold the same values where both have data."""
    try:
        with rasterio.open(a) as ra, rasterio.open(b) as rb:
            if (ra.crs != rb.crs or ra.transform != rb.transform or ra.shape != rb.shape
                    or ra.descriptions != rb.descriptions):  # fmt: skip
                return False
            va, vb = ra.read(), rb.read()
    except (OSError, rasterio.errors.RasterioError):
        return False  # the held image missing or unreadable: no evidence the two are one
    both = np.isfinite(va).all(axis=0) & np.isfinite(vb).all(axis=0)
    if not both.any():
        return False
    return bool(np.allclose(va[:, both], vb[:, both], rtol=1e-4, atol=1e-6))
