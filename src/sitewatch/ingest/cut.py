"""A file's bands cut to the site's grid.

Each band is read over the window that covers the site (the whole file only when it is small),
its values scaled to reflectance (a product's own scaling, the user's, or a divisor read from
their range) with what holds no data (a black collar, an alpha band, the file's mask) made NaN,
and resampled onto the grid (:func:`band_resampling` says how). A Sentinel-1 product is read as
sigma0, placed by its GCPs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.warp import reproject, transform_bounds
from shapely.geometry import box

from ..band_scaling import apply_scaling, declared_scaling, shared_scale
from ..detect.clouds import qa_pixel_to_scl
from ..errors import ImageReadError, read_failure
from ..geo import recentred_past_180
from ..model import Grid, SceneRef
from ..sources.landsat import LandsatProduct
from ..sources.maxar_toa import MaxarTOA
from ..sources.planet_toa import PlanetTOA
from ..sources.safe import S1Product, S2Product
from ..untrusted import check_not_linking
from ..zero_collar import all_bands_zero, zero_is_no_data
from .grid import _grid_box, no_data_as_nan
from .ortho import Orthorectify, Placement, placement_of

__all__ = ["MAX_WHOLE_READ_PIXELS", "band_resampling"]

MAX_WHOLE_READ_PIXELS = 2**28
"""A file with more pixels a band than this (1 GB as float32) is read over the site's window only, not whole:
a purchased strip is cut without decoding all of it, and a header claiming 10⁶ × 10⁶ pixels allocates nothing."""


def _warp_to_grid(
    values: NDArray[np.float32],
    out: NDArray[np.float32],
    src: rasterio.io.DatasetReader,
    window: rasterio.windows.Window | None,
    grid: Grid,
    resampling: Resampling,
    placement: Placement | None = None,
) -> None:
    """Resample one band read from ``src`` (over ``window``, or whole) onto the site's ``grid`` into ``out``;
    NaN is no data on both sides. ``placement``: how a file is placed by its RPCs or GCPs (``--orthorectify``)."""
    if placement is not None:
        placement.warp(values, out, window, grid, resampling)
        return
    # A Web Mercator map across 180° is warped as the same pixels centred 180° away: else its part past 180° is lost.
    src_crs, src_transform = recentred_past_180(
        src.crs.to_string(), src.transform if window is None else src.window_transform(window), values.shape[-1], values.shape[-2]
    )
    reproject(
        values,
        out,
        src_transform=src_transform,
        src_crs=src_crs,
        dst_transform=grid.affine,
        dst_crs=grid.crs,
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=resampling,
    )


def _grid_lonlat_box(grid: Grid) -> Any:
    """The grid's bounds in longitude/latitude, as a box."""
    return box(*transform_bounds(grid.crs, "EPSG:4326", *_grid_box(grid).bounds, densify_pts=21))


def _read_s1(product: S1Product, grid: Grid, out: NDArray[np.float32]) -> None:
    """Each polarisation of a Sentinel-1 GRD product as sigma0 on ``grid``, placed by its GCPs
    over the window that covers the grid, and calibrated before it is placed (as ``sitewatch fetch`` does GRD)."""
    from ..fetch import read_window

    for k, (pol, band) in enumerate(product.bands.items()):
        try:
            out[k], _ = read_window(band.path, grid, convert=band.radiometry.convert, gcp_method="tps",
                                    resampling=band_resampling(pol, "sar"))  # fmt: skip
        except RasterioError as exc:
            raise ImageReadError(f"{product.path}: could not read its {pol} measurement ({exc})") from exc


def _window_over(src: Any, grid: Grid) -> Any:
    """The window of ``src`` that covers ``grid`` with a few pixels to spare, so that a site
    is cut from a 10,980-pixel Sentinel-2 band without decoding all of it."""
    from rasterio.windows import Window, from_bounds

    x0, y0, x1, y1 = transform_bounds(grid.crs, src.crs, *_grid_box(grid).bounds)
    pad = 3 * max(abs(src.transform.a), abs(grid.transform[0]))
    win = from_bounds(x0 - pad, y0 - pad, x1 + pad, y1 + pad, src.transform).round_offsets().round_lengths()
    try:
        return win.intersection(Window(0, 0, src.width, src.height))
    except Exception:  # rasterio's WindowError: no overlap, the whole band is read and found empty
        return None


def _big_file_window(src: Any, grid: Grid, path: Path | str) -> Any:
    """The window over the site of a file too big to read whole (see :data:`MAX_WHOLE_READ_PIXELS`)."""
    if src.width * src.height <= MAX_WHOLE_READ_PIXELS:
        return None
    try:
        window = _window_over(src, grid)
    except Exception:  # rasterio's WindowError: a rotated grid, which from_bounds cannot cut
        window = None
    if window is None:
        raise ImageReadError(
            f"{path}: {src.width} × {src.height} pixels, too many to read whole, and its part over the site "
            "could not be cut (a rotated grid?); cut it first (gdal_translate -projwin)"
        )
    return window


def _qa_pixel_as_scl(qa: Path, window: Any) -> NDArray[np.uint8]:
    """A Landsat QA_PIXEL band's window (None: all of it) in SCL's classes (:func:`qa_pixel_to_scl`)."""
    try:
        with rasterio.open(qa) as src:
            return qa_pixel_to_scl(src.read(1, window=window))
    except RasterioError as exc:
        raise ImageReadError(f"{qa}: could not read the QA_PIXEL band ({exc})") from exc


def _declared_scaling(
    opened: Mapping[Path | str, Any], sources: Sequence[tuple[Path | str, int]], bands: Sequence[str]
) -> dict[str, tuple[float, float]] | None:
    """Each value band's (scale, offset) as its file declares them (:func:`sitewatch.band_scaling.declared_scaling`),
    or None when none declares any: value = DN x scale + offset, which a divisor read from the values' range cannot know."""
    return declared_scaling(opened, {band: fi for fi, band in zip(sources, bands, strict=False) if band.upper() != "SCL"})


def band_resampling(band: str, sensor: str) -> Resampling:
    """Class maps (SCL) must not be interpolated, nor SAR: averaging neighbours smooths the speckle
    and the hull's peaks that the CFAR detector measures (OpenSARShip GRD chips half a pixel off the
    site grid: 3 ships of 4 found, 15-31 m short and half as wide, against detect-image's 4 on the
    chips themselves, which nearest-neighbour reproduces). Reflectances may be averaged. The same
    rule for GeoTIFFs, SAFE products and fetched assets, placed by transform or by GCPs."""
    return Resampling.nearest if band.upper() == "SCL" or sensor == "sar" else Resampling.bilinear


def _cut_to_grid(
    path: Path,
    scene: SceneRef,
    bands: Sequence[str],
    sources: Sequence[tuple[Path | str, int]],
    grid: Grid,
    product: S2Product | LandsatProduct | None,
    classes: Callable[[Any], NDArray[np.uint8]] | None = None,
    toa: PlanetTOA | MaxarTOA | None = None,
    given: tuple[float | None, float | None] | None = None,
    orthorectify: Orthorectify | None = None,
) -> tuple[NDArray[np.float32], float, bool, dict[str, tuple[float, float]] | None] | None:
    """Each band (``sources``: file and band number) reprojected onto ``grid``, NaN where no data,
    the factor that turned its values into reflectance, whether DN 0 was read as no data (a
    black collar: :mod:`sitewatch.zero_collar`) and each band's (scale, offset) when the file declares
    them (:func:`_declared_scaling`; None otherwise); None when the files miss the grid.

    ``product``: the Sentinel-2 SAFE or Landsat Level-2 product the files belong to, whose own
    offset and quantification apply and of whose bands only the site's window is read.
    ``classes``: the reader of a cloud mask on the first file's grid (a Planet UDM2, a Landsat
    QA_PIXEL) in SCL's classes, given that grid's window (None: all of it); it is the last band
    (``bands`` ends with ``SCL``, which ``sources`` does not hold).
    ``toa``: a Planet radiance file's reflectance coefficients, or a Maxar file's by its ``.IMD``, each band's own factor (the factor
    returned is then 1.0).
    ``given``: the user's (divisor, offset) for the values (``--dn-scale``, ``--dn-offset``), either
    None: the offset is taken off each value (after DN 0 is read as no data) and the divisor, when
    not given, is read from the values' range as without them. Without them, an optical file whose
    bands declare a scale and offset is read by those (DN x scale + offset), not by its range: a
    Sentinel-2 file saved with its -0.1 offset declared went in 0.1 too bright, a Landsat-style one
    (x 2.75e-05 - 0.2) several times too bright.
    ``orthorectify``: how files that carry RPCs, or GCPs and no map grid, are placed (:mod:`.ortho`); only the window
    of each that covers the grid is read.
    """
    out = np.full((len(bands), grid.height, grid.width), np.nan, dtype=np.float32)
    if classes is not None:
        bands = bands[:-1]  # the last, SCL, is read by ``classes`` below
    scale = 1.0
    zero = False
    divisor, offset = given or (None, None)
    declared = None
    try:
        with ExitStack() as stack:
            opened = {f: stack.enter_context(rasterio.open(f)) for f, _ in sources}
            placed: dict[Path | str, Placement] = {}
            for f, src in opened.items():
                check_not_linking(src.driver, f)
                if (placement := placement_of(src, Path(f), orthorectify)) is not None:
                    placed[f] = placement
                elif src.crs is None:
                    raise ImageReadError(f"{f}: has no CRS; sitewatch cannot place it on the ground")
            first = opened[sources[0][0]]
            for f, src in opened.items():
                if f in placed:
                    # Far outside the scene its RPCs (polynomials fitted over it) can fold back into it: a site
                    # there is missed by the footprint first, never given the scene's pixels.
                    misses = not placed[f].footprint().intersects(_grid_lonlat_box(grid)) or placed[f].window(grid) is None
                else:
                    misses = not box(*transform_bounds(src.crs, grid.crs, *src.bounds)).intersects(_grid_box(grid))
                if misses:
                    if src is first:
                        return None
                    # One band file of another place: name it, not the first file, which does cover the site.
                    raise ImageReadError(f"{f}: does not cover the site, though {sources[0][0]} does")
            big = product is None and any(s.width * s.height > MAX_WHOLE_READ_PIXELS for s in opened.values())
            first_placed = placed.get(sources[0][0])
            if product is not None:
                # The product says how its values are scaled: (DN + BOA_ADD_OFFSET) / QUANTIFICATION_VALUE.
                scale = 1 / product.quantification
            elif toa is not None:
                pass  # each band by its own coefficient, below: radiance, whose range says nothing of its scale
            elif divisor is not None:
                scale = 1 / divisor
            elif given is None and (declared := _declared_scaling(opened, sources, bands)):
                # each band by its own scale and offset, below (SAR too: then read as dB, sigma0 or amplitude
                # as any float file); the factor returned is the one they share
                scale = shared_scale(declared) or 1.0
            elif scene.sensor == "optical" and first.dtypes[0] in ("uint8", "uint16", "int16"):
                # Integer reflectance: 8-bit RGB products are 0-255; surface reflectance products
                # (Sentinel-2 L2A, PlanetScope SR) are scaled by 10,000, full-range 16-bit exports
                # by 65,535 (told apart by their range, on a decimated read; of the site's window in a big file).
                sample_window = (
                    first_placed.window(grid) if first_placed else _big_file_window(first, grid, path) if big else None
                )
                height, width = (first.height, first.width) if sample_window is None else (sample_window.height, sample_window.width)
                step = max(1, int((width * height / 1_000_000) ** 0.5))
                shape = (max(1, int(height) // step), max(1, int(width) // step))
                samples = [
                    opened[f].read(i, out_shape=shape, window=sample_window)
                    for (f, i), b in zip(sources, bands, strict=True) if b.upper() != "SCL"
                ]  # fmt: skip
                from ..detect.optical_reflectance import infer_dn_scale

                scale = 1 / (infer_dn_scale(samples) or 1.0)
            windows = [
                placed[f].window(grid) if f in placed
                else _window_over(opened[f], grid) if product is not None
                else _big_file_window(opened[f], grid, path) if big else None
                for f, _ in sources
            ]  # fmt: skip
            values = [(s, w) for s, w, b in zip(sources, windows, bands, strict=True) if b.upper() != "SCL"]
            zero = product is None and bool(values) and all(zero_is_no_data(opened[f], [i]) for (f, i), _ in values)
            # Optical: DN 0 in every band, on the files' own grid (a bilinear kernel must not blend the collar in).
            collar = _zero_in_every_band(opened, values) if zero and scene.sensor != "sar" else None
            # An alpha band (a Visual product's, named by its provider's layout or its colour) is 0 where nothing was
            # imaged; GDAL's mask knows it only from the colour interpretation, so it is read here for both.
            transparent = None
            if "alpha" in bands and len({f for f, _ in sources}) == 1:
                k = list(bands).index("alpha")
                transparent = opened[sources[k][0]].read(sources[k][1], window=windows[k]) == 0
            if zero and scene.sensor != "sar" and collar is None:
                zero = False  # band files on different grids: no pixel-wise rule across them
            for k, ((f, i), band) in enumerate(zip(sources, bands, strict=True)):
                src = opened[f]
                window = windows[k]
                try:
                    src_arr = no_data_as_nan(src.read(i, out_dtype="float32", masked=True, window=window))
                except RasterioError as exc:
                    # Name the band: GDAL's own message ("Read failed") does not say which file is damaged.
                    raise ImageReadError(f"{path}: could not read its {band} band ({read_failure(exc)})") from exc
                if zero and band.upper() != "SCL":
                    if collar is None:
                        src_arr[src_arr == 0] = np.nan  # SAR: DN 0 is no data, as in a GRD product
                    else:
                        src_arr[collar] = np.nan
                if transparent is not None and band.upper() != "SCL":
                    src_arr[transparent] = np.nan
                if product is not None and band.upper() != "SCL":
                    src_arr[src_arr == 0] = np.nan  # DN 0 is the product's no-data value
                    src_arr += np.float32(product.offset)
                if offset and band.upper() != "SCL":
                    src_arr -= np.float32(offset)
                if declared is not None and band.upper() != "SCL":
                    src_arr = apply_scaling(src_arr, declared[band])
                elif band.upper() != "SCL":
                    src_arr = src_arr * np.float32(scale if toa is None else toa.coefficients[i - 1])
                _warp_to_grid(src_arr, out[k], src, window, grid, band_resampling(band, scene.sensor), placed.get(f))
            if classes is not None:
                window = windows[0]
                _warp_to_grid(
                    classes(window).astype(np.float32), out[-1], first, window, grid, band_resampling("SCL", scene.sensor),
                    first_placed,
                )
    except RasterioError as exc:
        raise ImageReadError(f"{path}: could not be read ({read_failure(exc)})") from exc
    return out, scale, zero, declared


def _zero_in_every_band(opened: Mapping[Path | str, Any], values: Sequence[tuple[tuple[Path | str, int], Any]]) -> NDArray[np.bool_] | None:
    """Pixels at DN 0 in every band of ``values`` ((file, band), window), read as stored; None
    when the bands are not on one grid (band files of different sizes or places)."""
    grids = {
        (opened[f].width, opened[f].height, tuple(opened[f].transform), None if w is None else (w.col_off, w.row_off, w.width, w.height))
        for (f, _), w in values
    }
    if len(grids) != 1:
        return None
    return all_bands_zero(opened[f].read(i, window=w) for (f, i), w in values)
