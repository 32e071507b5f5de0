"""GCP warping of GRD-like rasters lands pixels where they belong on the ground."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.control import GroundControlPoint
from rasterio.enums import Resampling
from rasterio.warp import reproject

from sitewatch.errors import InputError
from sitewatch.model import Grid
from sitewatch.sources.gcp import gcps_for_window, gcps_window, warp_with_gcps

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

UTM = "EPSG:32653"  # Dunai's zone
X0, Y0 = 610_000.0, 4_760_000.0
ROWS, COLS = 400, 360
TARGET = (251.0, 97.0)  # (row, col) of the bright point in image space


def _ground(row: np.ndarray | float, col: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """A non-linear image → UTM mapping like an ascending GRD: flipped east-west, skewed, curved."""
    row = np.asarray(row, float)
    col = np.asarray(col, float)
    x = X0 - 10.0 * col + 1.8 * row + 0.004 * col**2 - 0.002 * row * col
    y = Y0 - 10.0 * row - 2.2 * col + 0.003 * row**2
    return x, y


def _write_grd_like(path, spacing: int = 40) -> None:
    """A raster with GCPs in lon/lat and no transform, a 3×3 bright target at TARGET."""
    data = np.full((ROWS, COLS), 50, dtype=np.uint16)
    r, c = int(TARGET[0]), int(TARGET[1])
    data[r - 1 : r + 2, c - 1 : c + 2] = 3000
    to_ll = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    gcps = []
    for gr in range(0, ROWS + 1, spacing):
        for gc in range(0, COLS + 1, spacing):
            # GCP (row, col) refer to pixel corners; the pixel centre is +0.5.
            x, y = _ground(gr - 0.5, gc - 0.5)
            lon, lat = to_ll.transform(x, y)
            gcps.append(GroundControlPoint(row=gr, col=gc, x=float(lon), y=float(lat), z=0.0))
    with rasterio.open(path, "w", driver="GTiff", width=COLS, height=ROWS, count=1, dtype="uint16") as dst:
        dst.write(data, 1)
        dst.gcps = (gcps, rasterio.crs.CRS.from_epsg(4326))


def _site_grid() -> Grid:
    tx, ty = _ground(TARGET[0], TARGET[1])
    x0 = float(np.floor((tx - 600) / 10) * 10)
    y1 = float(np.ceil((ty + 500) / 10) * 10)
    return Grid(crs=UTM, transform=(10.0, 0.0, x0, 0.0, -10.0, y1), width=120, height=100)


def _peak_xy(arr: np.ndarray, grid: Grid) -> tuple[float, float]:
    a = np.nan_to_num(arr, nan=0.0)
    w = np.clip(a - 500, 0, None)
    rows, cols = np.indices(a.shape)
    r = float((w * rows).sum() / w.sum()) + 0.5
    c = float((w * cols).sum() / w.sum()) + 0.5
    return grid.affine @ (c, r)


@pytest.mark.parametrize("method", ["tps", "polynomial"])
def test_grd_target_lands_within_one_pixel(tmp_path, method):
    path = tmp_path / "grd.tif"
    _write_grd_like(path)
    grid = _site_grid()
    with rasterio.open(path) as src:
        assert src.crs is None and src.transform == Affine.identity()
        gcps, gcp_crs = src.gcps
        window = gcps_window(gcps, gcp_crs.to_string(), grid, (src.height, src.width))
        assert window is not None
        # only the site's window is read, not the scene
        assert window.width * window.height < 0.5 * ROWS * COLS
        data = src.read(1, window=window).astype("float32")
        local = gcps_for_window(gcps, window)
    out = warp_with_gcps(data, local, gcp_crs.to_string(), grid, method=method, order=2)
    px, py = _peak_xy(out, grid)
    tx, ty = _ground(TARGET[0], TARGET[1])
    err = float(np.hypot(px - tx, py - ty))
    print(method, "error m", err)
    assert err < 10.0, (px - tx, py - ty)


def test_bbox_transform_would_miss_by_far(tmp_path):
    """Why the GCP warp exists: an affine built from the corner bbox lands elsewhere."""
    path = tmp_path / "grd.tif"
    _write_grd_like(path)
    grid = _site_grid()
    xs, ys = _ground(np.array([0, 0, ROWS, ROWS]) - 0.5, np.array([0, COLS, 0, COLS]) - 0.5)
    naive = Affine((xs.max() - xs.min()) / COLS, 0, xs.min(), 0, -(ys.max() - ys.min()) / ROWS, ys.max())
    with rasterio.open(path) as src:
        data = src.read(1).astype("float32")
    out = np.full(grid.shape, np.nan, dtype=np.float32)
    reproject(data, out, src_transform=naive, src_crs=UTM, dst_transform=grid.affine, dst_crs=UTM,
              dst_nodata=np.nan, resampling=Resampling.bilinear)
    tx, ty = _ground(TARGET[0], TARGET[1])
    a = np.nan_to_num(out)
    if a.max() > 500:
        px, py = _peak_xy(out, grid)
        assert np.hypot(px - tx, py - ty) > 100.0
    # else: the naive placement is off the site altogether


def test_affine_polynomial_refused():
    grid = _site_grid()
    gcps = [GroundControlPoint(row=r, col=c, x=132.0 + c * 1e-4, y=42.0 - r * 1e-4) for r in range(3) for c in range(3)]
    with pytest.raises(InputError, match="order 2"):
        warp_with_gcps(np.zeros((3, 3), np.float32), gcps, "EPSG:4326", grid, method="polynomial", order=1)


def test_window_outside_scene_is_none(tmp_path):
    path = tmp_path / "grd.tif"
    _write_grd_like(path)
    far = Grid(crs=UTM, transform=(10.0, 0.0, X0 + 200_000, 0.0, -10.0, Y0), width=50, height=50)
    with rasterio.open(path) as src:
        gcps, crs = src.gcps
        assert gcps_window(gcps, crs.to_string(), far, (src.height, src.width)) is None
