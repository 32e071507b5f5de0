"""A tiny simulated workspace for the timeline, evaluation and report tests.

Dunai-like site, one berth; SAR (10 m) and optical (3 m) on 17 and 20 Oct 2024.
On 17 Oct a 113 m ship lies at the berth with a crane beside it; on 20 Oct both are gone.
``hidden_days``: SAR looks on those October days whose berth is recorded hidden (no data), nothing detected.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from shapely.affinity import rotate
from shapely.geometry import LineString, box, mapping

from sitewatch.geo import reproject_geometry, utm_crs_for
from sitewatch.model import Berth, ClassCandidate, Detection, Grid, Observation, SceneRef, Site
from sitewatch.vessels import class_candidates
from sitewatch.workspace import Workspace, init_workspace

LON, LAT = 132.338, 42.880
CRS = utm_crs_for(LON, LAT)
CX, CY = (round(v) for v in reproject_geometry(box(LON, LAT, LON, LAT), "EPSG:4326", CRS).centroid.coords[0])


def _wgs(geom):  # type: ignore[no-untyped-def]
    return reproject_geometry(geom, CRS, "EPSG:4326")


def _ship(dx: float, dy: float, length: float, width: float):  # type: ignore[no-untyped-def]
    return box(CX + dx - length / 2, CY + dy - width / 2, CX + dx + length / 2, CY + dy + width / 2)


def site() -> Site:
    area = _wgs(box(CX - 600, CY - 600, CX + 600, CY + 600))
    berth = _wgs(LineString([(CX - 150, CY + 20), (CX + 150, CY + 20)]))
    water = _wgs(box(CX - 600, CY - 600, CX + 600, CY + 12))
    return Site("dunai", "Dunai naval port", "naval_base", area, (Berth("pier-1", berth, "Pier 1"),), water)


def _write_cog(path: Path, res: float, sensor: str, ships: list) -> str:  # type: ignore[type-arg]
    n = int(1200 / res)
    rng = np.random.default_rng(0)
    transform = Affine(res, 0, CX - 600, 0, -res, CY + 600)
    bands = 1 if sensor == "sar" else 4
    data = (rng.random((bands, n, n)) * 0.02 + 0.01).astype("float32")
    data[:, : n // 2 - int(12 / res), :] += 0.2  # land in the north
    for g in ships:
        minx, miny, maxx, maxy = g.bounds
        c0, r0 = (minx - transform.c) / res, (transform.f - maxy) / res
        c1, r1 = (maxx - transform.c) / res, (transform.f - miny) / res
        data[:, int(r0) : int(r1) + 1, int(c0) : int(c1) + 1] = 0.8
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path, "w", driver="GTiff", width=n, height=n, count=bands, dtype="float32", crs=CRS, transform=transform
    ) as dst:
        dst.write(data)
        names = ["VV"] if sensor == "sar" else ["blue", "green", "red", "nir"]
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(root: Path, *, detections: bool = True, simulated: bool = True, hidden_days: tuple[int, ...] = (),
          platforms: dict[str, str] | None = None) -> Workspace:  # fmt: skip
    """Make the workspace and return it; ``platforms``: each sensor's satellite (``{"sar": "sentinel-1a"}``), else "sim"."""
    ws = init_workspace(root)
    st = ws.store()
    s = site()
    st.put_site(s)
    ship = _ship(0, 5, 113.0, 15.4)
    crane = rotate(_ship(30, 35, 40.0, 4.0), 60, origin="centroid")
    for day in (17, 20):
        for sensor, res in (("sar", 10.0), ("optical", 3.0)):
            item = f"sim-dunai-2024-10-{day}-{sensor}"
            acquired = datetime(2024, 10, day, 1 if sensor == "optical" else 21, tzinfo=UTC)
            present = day == 17
            rel = f"archive/dunai/{item}.tif"
            sha = _write_cog(root / rel, res, sensor, [ship] if present else [])
            truth = {
                "type": "FeatureCollection",
                "properties": {"scene_id": item, "acquired": acquired.isoformat(), "sensor": sensor, "site": "dunai", "simulated": True},
                "features": [
                    {"type": "Feature", "geometry": mapping(_wgs(ship)), "properties": {
                        "id": "nikolay-vilkov", "kind": "vessel", "class": "Alligator", "length_m": 113.0,
                        "width_m": 15.4, "heading_deg": 90.0, "berth": "pier-1", "visible": True}},
                    {"type": "Feature", "geometry": mapping(_wgs(crane)), "properties": {
                        "id": "crane-1", "kind": "crane", "class": "crane", "length_m": 40.0,
                        "width_m": 4.0, "heading_deg": 30.0, "berth": "pier-1", "visible": True}},
                ] if present else [],
            }
            truth_rel = f"archive/dunai/{item}.truth.geojson"
            (root / truth_rel).write_text(json.dumps(truth), encoding="utf-8")
            scene = SceneRef("simulator", "seed-story", item, sensor, acquired, res, simulated=simulated,
                             platform=(platforms or {}).get(sensor, "sim"))  # fmt: skip
            obs = Observation(
                f"dunai:{item}", "dunai", scene,
                Grid(CRS, (res, 0.0, CX - 600.0, 0.0, -res, CY + 600.0), int(1200 / res), int(1200 / res)),
                rel, sha, 1.0, 0.0 if sensor == "optical" else None,
                {"truth": truth_rel} if simulated else {},
            )
            st.put_observation(obs)
            dets = []
            if present and detections:
                measured = 118.0 if sensor == "sar" else 114.0
                dets.append(Detection(
                    f"{obs.id}#0", obs.id, "vessel", _wgs(_ship(3, 4, measured, 16.0)), measured, 16.0, 90.0, 0.95,
                    f"{sensor}-test", "0.1", berth_id="pier-1",
                    class_candidates=class_candidates(measured, 16.0, res),
                ))
                if sensor == "optical":
                    dets.append(Detection(
                        f"{obs.id}#1", obs.id, "crane", _wgs(crane), 40.0, 4.0, 30.0, 0.8, "optical-test", "0.1",
                        class_candidates=(ClassCandidate("crane", 1.0),)[:0],
                    ))
            st.replace_detections(obs, dets)
    for day in hidden_days:
        item = f"sim-dunai-2024-10-{day}-sar"
        rel = f"archive/dunai/{item}.tif"
        sha = _write_cog(root / rel, 10.0, "sar", [])
        scene = SceneRef("simulator", "seed-story", item, "sar", datetime(2024, 10, day, 21, tzinfo=UTC), 10.0,
                         simulated=simulated, platform="sim")  # fmt: skip
        obs = Observation(f"dunai:{item}", "dunai", scene, Grid(CRS, (10.0, 0.0, CX - 600.0, 0.0, -10.0, CY + 600.0), 120, 120),
                          rel, sha, 0.9, None, {})  # fmt: skip
        st.put_observation(obs)
        st.replace_detections(obs, [])
        st.set_berths_hidden(obs.id, {"pier-1": 1.0})
    st.close()
    return ws
