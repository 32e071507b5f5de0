"""Simulated AIS for a scenario: the position reports its broadcasting vessels would send.

Everything here is **simulated**, like the imagery. Around each planned scene of a site (``around_s``,
30 min, before and after), every vessel of the scenario that is at that site then and does not say
``ais: false`` reports every ``every_s`` (3 min, a moored Class A ship reports every 3 min), starting at
a phase of its own so that no report falls on the image's time and matching must interpolate. A
report's position is the vessel's centre as the imagery draws it, plus Gaussian noise of ``noise_m``
(10 m) east and north: the error of a GNSS fix. Ships in the scenarios lie at berths or fixed
positions, so SOG is 0 and COG unknown.

A real AIS file holds other traffic too, and ``sitewatch ais`` matches an image only against files that
hold reports around its time (an image of a day no file covers is "not covered", its vessels not called
dark). So around each scene of a site on the water (not of an inland kind) a ship at anchor offshore,
``traffic-SITE`` ("passing traffic off SITE"), reports as well, :data:`OFFSHORE_M` beyond the site's box on
its water side: too far to be read as near the site, it makes the file cover the time of every image,
as a real day's file does, so that the landing ships no one hears at Dunai come out dark.

The noise comes from generators of its own, seeded from the scenario's seed, the vessel and the
time, never from those the imagery is drawn with: the scenes stay byte-identical whether or not AIS is
written. The CSV is the generic form :mod:`sitewatch.analysis.ais_csv` reads (``mmsi, time, lat, lon,
sog, cog, length, width, name``) plus ``vessel_id``, the scenario's id of the vessel, which the
matching ignores and :func:`sitewatch.analysis.ais_eval.evaluate_dark` scores with.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from pyproj import Transformer

from ..files import write_text_atomic
from ..geo import reproject_geometry
from .scenario import PlannedScene, Scenario, SimSite, Vessel, plan_scenes
from .simulate import _Frame, _frame, _stable_seed, _vessel_box

__all__ = ["AIS_COLUMNS", "vessel_mmsi", "simulated_ais_rows", "ais_csv_text", "write_simulated_ais"]

AIS_COLUMNS = ("mmsi", "time", "lat", "lon", "sog", "cog", "length", "width", "name", "vessel_id", "simulated")
"""``simulated`` is ``true`` on every row: its MMSIs are made up, but of a real station's form (a country's
MID first), so a row copied out of the file must still say it is not a real report."""


def vessel_mmsi(vessel: Vessel) -> str:
    """The vessel's MMSI: its own, else 9 digits made from its id (first digit 2-7, as a ship station's)."""
    if vessel.mmsi:
        return vessel.mmsi
    return _mmsi_of(vessel.id)


def _mmsi_of(vessel_id: str) -> str:
    n = int.from_bytes(hashlib.sha256(vessel_id.encode()).digest()[:8], "little")
    return str(200_000_000 + n % 575_000_000)


OFFSHORE_M = 20_000.0
"""How far beyond a site's box (its half diagonal) its passing traffic lies: beyond the 11.3 km around the box
that ``sitewatch ais`` reads (what 30 kn covers in 10 min, plus 2 km)."""

_INLAND_KINDS = frozenset({"town", "city", "training_ground", "launch_site"})  # as sitewatch.analysis.links's


def _offshore(site: SimSite, frame: _Frame, to_wgs: Transformer) -> tuple[float, float]:
    """Lon, lat of a point off the site on its water side (away from its land; south without land)."""
    poly = reproject_geometry(site.polygon, "EPSG:4326", frame.crs)
    land, water = poly.intersection(frame.land), poly.difference(frame.land)
    dx, dy = 0.0, -1.0
    if not land.is_empty and not water.is_empty:
        vx, vy = water.centroid.x - land.centroid.x, water.centroid.y - land.centroid.y
        if (norm := (vx * vx + vy * vy) ** 0.5) > 0:
            dx, dy = vx / norm, vy / norm
    w, s, e, n = poly.bounds
    reach = ((e - w) ** 2 + (n - s) ** 2) ** 0.5 / 2 + OFFSHORE_M
    lon, lat = to_wgs.transform(poly.centroid.x + dx * reach, poly.centroid.y + dy * reach)
    return float(lon), float(lat)


def simulated_ais_rows(
    scenario: Scenario,
    *,
    seed: int | None = None,
    every_s: float = 180.0,
    around_s: float = 1800.0,
    noise_m: float = 10.0,
    scenes: list[PlannedScene] | None = None,
    traffic: bool = True,
) -> list[dict[str, str]]:
    """The reports (rows of :data:`AIS_COLUMNS`) of the scenario's broadcasting vessels, by time then MMSI,
    and (``traffic``) of each waterside site's passing traffic offshore (module docstring)."""
    seed = scenario.seed if seed is None else int(seed)
    sites = {s.id: s for s in scenario.sites}
    frames = {sid: _frame(site) for sid, site in sites.items()}
    to_wgs = {sid: Transformer.from_crs(f.crs, "EPSG:4326", always_xy=True) for sid, f in frames.items()}
    seen: set[tuple[str, datetime]] = set()
    rows: list[tuple[datetime, str, dict[str, str]]] = []
    offshore = {sid: _offshore(site, frames[sid], to_wgs[sid]) for sid, site in sites.items()
                if traffic and site.kind not in _INLAND_KINDS}  # fmt: skip
    for scene in scenes if scenes is not None else plan_scenes(scenario):
        if scene.site in offshore:
            vid, (lon, lat) = f"traffic-{scene.site}", offshore[scene.site]
            mmsi = _mmsi_of(vid)
            t = scene.acquired - timedelta(seconds=around_s)
            while t <= scene.acquired + timedelta(seconds=around_s):
                if (mmsi, t) not in seen:
                    seen.add((mmsi, t))
                    rows.append((t, mmsi, {
                        "mmsi": mmsi, "time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
                        "sog": "0.0", "cog": "", "length": "180", "width": "30", "name": f"passing traffic off {scene.site}",
                        "vessel_id": vid, "simulated": "true",
                    }))  # fmt: skip
                t += timedelta(seconds=every_s)
        for vessel in scenario.vessels:
            if not vessel.ais:
                continue
            mmsi = vessel_mmsi(vessel)
            phase = 17.0 + _stable_seed(seed, "ais-phase", vessel.id) % int(max(every_s - 34, 1))
            first = scene.acquired - timedelta(seconds=around_s) + timedelta(seconds=phase)
            k = 0
            while (t := first + timedelta(seconds=k * every_s)) <= scene.acquired + timedelta(seconds=around_s):
                k += 1
                visit = next((v for v in vessel.visits if v.site == scene.site and v.window.contains(t)), None)
                if visit is None or (mmsi, t) in seen:
                    continue
                seen.add((mmsi, t))
                box = _vessel_box(frames[scene.site], sites[scene.site], vessel, visit)
                rng = np.random.default_rng(_stable_seed(seed, "ais", vessel.id, t.isoformat()))
                dx, dy = rng.normal(0.0, noise_m, size=2)
                lon, lat = to_wgs[scene.site].transform(box.cx + dx, box.cy + dy)
                rows.append((t, mmsi, {
                    "mmsi": mmsi, "time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
                    "sog": "0.0", "cog": "", "length": f"{vessel.length_m:g}", "width": f"{vessel.width_m:g}",
                    "name": vessel.name or vessel.id, "vessel_id": vessel.id, "simulated": "true",
                }))  # fmt: skip
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r[2] for r in rows]


def ais_csv_text(rows: list[dict[str, str]]) -> str:
    """The rows as CSV text with a header of :data:`AIS_COLUMNS`."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=AIS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_simulated_ais(scenario: Scenario, path: Path, *, seed: int | None = None, bom: bool = False) -> tuple[Path, int]:
    """Write the scenario's simulated AIS CSV to ``path`` whole or not at all, started with a byte-order mark
    when ``bom`` (``simulate --bom``; ``sitewatch ais`` reads it either way); (path, reports written)."""
    from ..report.csv_types import with_bom

    rows = simulated_ais_rows(scenario, seed=seed)
    write_text_atomic(path, with_bom(ais_csv_text(rows), bom), make_folder=False)
    return Path(path), len(rows)

