"""The 5 x 7 km harbour site that the tiled-detection tests ingest: sea west of a quay, land east."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from shapely.geometry import LineString, box

from sitewatch.geo import reproject_geometry
from sitewatch.ingest import ingest_file
from sitewatch.model import Berth, Grid, Observation, Site
from sitewatch.workspace import init_workspace


def ingest_harbour(
    tmp_path: Path, site: Site, grid: Grid, src: Path, quay_x_m: float | None
) -> tuple[Site, Observation, str]:
    """``src`` ingested into a new workspace for ``site`` (on ``grid``); with ``quay_x_m`` (metres
    from the grid's west edge) the site first gets the water west of it as its polygon and a berth
    along the quay's face. Returns the site, the observation and its archived COG's path."""
    if quay_x_m is not None:
        a, h = grid.affine, grid.height
        water = box(a.c, a.f + h * a.e, a.c + quay_x_m, a.f)
        quay = LineString([(a.c + quay_x_m, a.f - 1000.0), (a.c + quay_x_m, a.f - 5000.0)])
        site = replace(
            site,
            water=reproject_geometry(water, grid.crs, "EPSG:4326"),
            berths=(Berth("quay", reproject_geometry(quay, grid.crs, "EPSG:4326")),),
        )
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(site)
        obs = ingest_file(ws, store, site, src)
    assert obs is not None and obs.grid == grid
    return site, obs, str(Path(ws.root).resolve() / obs.path)
