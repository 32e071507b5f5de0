"""Helpers for tests of sitewatch and of code built on it: tiny GeoTIFFs and sites.

Importable (like stackstac's ``testing``), so plugin authors can reuse them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from affine import Affine
from hypothesis import strategies as st
from numpy.typing import NDArray

from ..geo import reproject_geometry, utm_crs_for
from ..model import Site
from ..sites import site_from_bbox

if TYPE_CHECKING:
    from ..workspace import Workspace

__all__ = ["write_tiff", "tiny_site", "site_utm_origin", "bboxes", "workspace_with_sites"]


def tiny_site(site_id: str = "tiny", lon: float = 132.338, lat: float = 42.880, half_deg: float = 0.01) -> Site:
    """A small square site (about 1.6 × 2.2 km at the default latitude)."""
    return site_from_bbox(site_id, (lon - half_deg, lat - half_deg, lon + half_deg, lat + half_deg), name=site_id)


def workspace_with_sites(root: Path, *sites: Site) -> Workspace:
    """A new workspace at ``root`` holding ``sites``."""
    from ..workspace import init_workspace

    ws = init_workspace(root)
    with ws.store() as store:
        for site in sites:
            store.put_site(site)
    return ws


def site_utm_origin(site: Site, margin_m: float = 200.0) -> tuple[str, float, float]:
    """(UTM CRS, west x, north y) of a raster that covers ``site`` with a margin."""
    geom = site.require_geometry()
    crs = utm_crs_for(geom.centroid.x, geom.centroid.y)
    minx, _, _, maxy = reproject_geometry(geom, "EPSG:4326", crs).bounds
    return crs, minx - margin_m, maxy + margin_m


def write_tiff(
    path: Path,
    data: NDArray[np.generic],
    *,
    crs: str | None = "EPSG:32653",
    transform: Affine | None = None,
    descriptions: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    nodata: float | None = None,
) -> Path:
    """Write ``data`` (rows × cols or bands × rows × cols) as a GeoTIFF and return its path."""
    arr = np.asarray(data)
    if arr.ndim == 2:
        arr = arr[None]
    profile: dict[str, object] = {
        "driver": "GTiff",
        "width": arr.shape[2],
        "height": arr.shape[1],
        "count": arr.shape[0],
        "dtype": arr.dtype.name,
    }
    if crs is not None:
        profile["crs"] = crs
        profile["transform"] = transform or Affine(10.0, 0.0, 500_000.0, 0.0, -10.0, 4_750_000.0)
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr)
        for i, d in enumerate(descriptions, start=1):
            dst.set_band_description(i, d)
        if tags:
            dst.update_tags(**tags)
    return path


@st.composite
def bboxes(draw: st.DrawFn) -> tuple[float, float, float, float]:
    """W,S,E,N boxes in WGS84 with a positive size."""
    w = draw(st.floats(-179.0, 178.0))
    s = draw(st.floats(-80.0, 79.0))
    e = draw(st.floats(w + 1e-4, min(w + 1.0, 180.0)))
    n = draw(st.floats(s + 1e-4, min(s + 1.0, 90.0)))
    return (w, s, e, n)
