"""Detect vessels in any image file and write them as GeoJSON (``sitewatch detect-image``).

Reading: anything GDAL reads (GeoTIFF with a CRS and transform, with GCPs
only as raw Sentinel-1 GRD measurement TIFFs, or with none; PNG/JPEG chips).
Georeferenced images give their ground pixel size through
:func:`sitewatch.geo.ground_pixel_size`; images without a georeference need
``pixel_size``. A two-band SAR image whose bands are a co- and a cross-polarised
channel (band descriptions ``VV``/``VH`` or ``HH``/``HV``; without names, any
two-band image that is not 8-bit, the band with the darker median taken for the
cross-polarised one) is detected in both and fused
(:func:`sitewatch.detect.sar_dual.detect_sar_dual`); so are two single-band files
given as ``{"vv": path, "vh": path}`` (:func:`detect_sar_bands`, the CLI's
``--band``). Other multi-band SAR images are read as the mean intensity of their
bands, an alpha band left out (an R=G=B rendering, with or without alpha, gives its grey).

Output: a GeoJSON FeatureCollection, one Feature per vessel with the oriented
box as geometry (in the image's CRS; in pixel coordinates ``x = col``,
``y = row``, pixel centres at integers, when the image has no georeference)
and properties ``row``, ``col``, ``length_m``, ``width_m``, ``heading_deg`` (clockwise from true
north through the georeference, :func:`sitewatch.geo.heading_from_north`; from image up in pixel
coordinates), ``score``, ``truncated`` (the object reaches the image's edge or a pixel without
data, so its size is a lower bound) and for vessels ``class_candidates`` (``[name, likelihood]`` pairs by
measured size, :func:`sitewatch.vessels.class_candidates`; empty for a truncated vessel). A top-level ``crs`` member names the CRS when it is not WGS84 (a local
CRS, :data:`PIXEL_CRS_WKT`, for pixel coordinates, so GDAL does not read them as
lon/lat) and a
``sitewatch`` member records the input, sensor, pixel size and detector.

Sensors plug in at :data:`SENSOR_RUNNERS`: a runner takes the opened image
and returns pixel detections. ``optical`` is served by
``sitewatch.detect.optical.detect_optical`` when that module is installed.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from affine import Affine
from numpy.typing import NDArray

from .. import __version__
from ..band_scaling import Scaling, apply_scaling, band_scalings, declares_any
from ..errors import ImageReadError, InputError, read_failure
from ..files import write_text_atomic
from ..geo import grid_skew_deg, ground_pixel_size, heading_from_north
from ..simulated_tag import tagged_simulated
from ..untrusted import check_not_linking
from ..zero_collar import zero_is_no_data
from .base import PixelDetection
from .optical import DETECTOR as OPTICAL_DETECTOR
from .optical import VERSION as OPTICAL_VERSION
from .sar import DETECTOR, VERSION, SarParams, detect_sar
from .tiling import detect_sar_tiled

__all__ = [
    "ImageInfo",
    "PixelSource",
    "image_path",
    "open_image_info",
    "no_such_image",
    "detect_image",
    "detect_sar_bands",
    "parse_sar_band_args",
    "detections_to_geojson",
    "skew_note",
    "write_geojson",
    "SENSOR_RUNNERS",
    "TILE_ABOVE_PIXELS",
    "PIXEL_CRS_WKT",
    "UNKNOWN_CRS_WKT",
]

PIXEL_CRS_WKT = 'LOCAL_CS["pixel",LOCAL_DATUM["image",0],UNIT["unknown",1],AXIS["x",EAST],AXIS["y",SOUTH]]'
"""The ``crs`` member of a GeoJSON in pixel coordinates (x = col, y = row, rows downward).

RFC 7946 GeoJSON has no ``crs`` member and means WGS84, and GDAL (so QGIS, pyogrio,
fiona) reads a name it cannot resolve, such as ``"pixel"``, as WGS84 too, putting
boxes at latitude 100-800. A local (engineering) CRS in WKT is what GDAL honours:
the layer opens with that CRS, which no map reprojects it into."""

UNKNOWN_CRS_WKT = 'LOCAL_CS["unknown",LOCAL_DATUM["image",0],UNIT["unknown",1],AXIS["x",EAST],AXIS["y",NORTH]]'
"""The ``crs`` member when the image has a transform but no CRS: its own coordinates."""

MIN_PIXEL_SIZE_M = 0.01
"""Ground pixels smaller than this are refused: no imagery has them, and the detector's windows (metres
turned into pixels) would take all memory. They come from a transform without a CRS in degrees,
or a slip in ``--pixel-size``."""

TILE_ABOVE_PIXELS = 64_000_000
"""Images with more pixels than this are processed in tiles (bounded memory)."""
MAX_IMAGE_PIXELS = 2**36
"""Most pixels an image may have (about 262 000 × 262 000; a whole WorldView strip has under 10¹⁰): a header
claiming 10⁶ × 10⁶ pixels is an error at once, not days of tiles over empty pixels."""
MAX_IMAGE_BANDS = 1000
"""Most bands an image may have (a hyperspectral cube has a few hundred): a 2.9 KB TIFF declaring 65,530 bands of
48 × 48 pixels read every band's scaling and pixels for minutes before any check (fuzz/fuzz_image.py)."""


@runtime_checkable
class PixelSource(Protocol):
    """An image whose values are computed as they are read (a Sentinel-1 measurement turned into
    sigma0 through its product's LUTs, :class:`sitewatch.sources.safe.S1Band`): GDAL opens
    ``path`` for the size and georeference, ``read`` gives the values of a window."""

    @property
    def path(self) -> str:
        """The file (or GDAL path) GDAL opens for the image's size and georeference."""
        ...

    def read(self, window: tuple[int, int, int, int]) -> NDArray[np.float32]:
        """The values of pixels (row0, row1, col0, col1); the image's no-data value where there are none."""
        ...


@dataclass(frozen=True)
class ImageInfo:
    """What detect-image needs to know about an input image."""

    path: Path | str
    """The file, or a GDAL virtual path (a string: see :func:`image_path`)."""
    width: int
    height: int
    count: int
    crs: str | None
    """CRS of ``transform`` (None: no CRS known)."""
    transform: Affine | None
    """Pixel corner (col, row) → CRS coordinates; None when the image has no georeference."""
    pixel_size: tuple[float, float]
    """Ground pixel size (x, y) in metres."""
    nodata: float | None
    approximate: bool = False
    """The transform is fitted to GCPs (raw SAR products): coordinates are approximate."""
    impulse_response_m: float | None = None
    """The image's own statement of its SAR impulse response (tag :data:`IMPULSE_RESPONSE_TAG`), if any."""
    source: PixelSource | None = None
    """Where the values are read when GDAL's values of ``path`` are not them (see :class:`PixelSource`)."""
    zero_no_data: bool = False
    """The image's bands are integers wider than 8 bits declaring no no-data value, no mask and no
    alpha band (:func:`sitewatch.zero_collar.zero_is_no_data`): the SAR reader takes DN 0 for no data."""
    rendering_divisor: float | None = None
    """The image is an 8-bit rendering stored wider (16-bit × 257 or × 256, float 0-255 or 0-1): what
    its values were multiplied by, divided out when the SAR reader reads it
    (:func:`sitewatch.detect.eight_bit.rendering_divisor`); None for genuine values."""
    dtype: str = ""
    """The data type of the image's first band (``uint16``, ``float32`` …)."""
    scaling: tuple[Scaling, ...] | None = None
    """Each band's (scale, offset) as the file declares them (:mod:`sitewatch.band_scaling`), applied when
    the SAR reader reads it (DN x scale + offset, then read as any float file); None when it declares none."""


IMPULSE_RESPONSE_TAG = "SITEWATCH_IMPULSE_RESPONSE_M"
"""GeoTIFF tag: full width at half maximum (m) of a SAR image's impulse response, which the
detector takes out of measured widths (``SarParams.resolution_m``); 0 for an image whose
objects are drawn without one (sitewatch's simulator)."""


def impulse_response_from_tags(tags: Mapping[str, str]) -> float | None:
    """The :data:`IMPULSE_RESPONSE_TAG` value in metres, or None when absent or not a number >= 0.

    A scene of sitewatch's simulator (``SITEWATCH_SIMULATED=true``) without the tag is one it wrote before it
    said so (before sar-cfar 1.11.0; they are in the archives of workspaces made then): its hulls were drawn
    sharp as they are now, so 0. Read as a real radar's (the default, twice the pixel), every width of such a
    workspace came out at the 5 m floor when `detect` ran again after an upgrade, and the class candidates with it."""
    if IMPULSE_RESPONSE_TAG not in tags:
        return 0.0 if tagged_simulated(tags) else None
    try:
        value = float(tags.get(IMPULSE_RESPONSE_TAG, ""))
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def with_image_resolution(params: SarParams, info: ImageInfo) -> SarParams:
    """``params`` with the image's own impulse response when the caller set none."""
    if params.resolution_m is None and info.impulse_response_m is not None:
        return replace(params, resolution_m=info.impulse_response_m)
    return params


def image_path(path: str | Path) -> Path | str:
    """``path`` as an image is opened: a GDAL virtual path (``/vsizip//abs/a.zip/b.tif``,
    ``/vsigzip/``, ``/vsitar/``, ``/vsicurl/``) stays a string, since ``Path`` would fold its
    double slash. So do a driver's subdataset name (``SENTINEL2_L2A:/vsizip//abs/p.zip/…:10m:EPSG_32633``)
    and a VRT given as its XML text. Any other path becomes a ``Path``."""
    if isinstance(path, str) and (path.startswith(("/vsi", "<VRTDataset")) or re.match(r"[A-Z][A-Z0-9_]{2,}:", path)):
        return path
    return Path(path)


def no_such_image(path: Path) -> ImageReadError:
    """The error for an image (or folder of band files) that is not there. OSCD's ``imgs_1_rect`` where the copy
    holds ``imgs_1`` alone (the official release has both; copies such as ChangeDetectionRepository's do not) names it."""
    plain = path.with_name(path.name.removesuffix("_rect"))
    if path.name.endswith("_rect") and plain.is_dir():
        return ImageReadError(f"{path}: no such file (this copy of OSCD holds {plain.name}/ alone, the bands as taken: give {plain})")
    return ImageReadError(f"{path}: no such file")


def open_image_info(path: str | Path | PixelSource, pixel_size: float | None = None, *, renderings: bool = False) -> ImageInfo:
    """Read an image's size and georeference; raise a clear error for unusable input.

    ``renderings``: whether an 8-bit rendering stored wider is told apart (:attr:`ImageInfo.rendering_divisor`,
    a read of a sample of the pixels): on for an image the SAR reader reads; off for optical bands, for a
    check of the input alone, and for a polarisation channel given as its own file, which is measured data."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
    from rasterio.transform import from_gcps

    source = path if isinstance(path, PixelSource) else None
    p = image_path(source.path if source is not None else path)  # type: ignore[arg-type]
    if isinstance(p, Path) and not p.exists():
        raise no_such_image(p)
    if isinstance(p, Path) and p.is_dir():
        raise ImageReadError(f"{p}: is a folder, not an image")
    if pixel_size is not None and not (pixel_size > 0 and math.isfinite(pixel_size)):
        raise InputError(f"--pixel-size must be a positive number of metres, got {pixel_size}")
    if pixel_size is not None and pixel_size < MIN_PIXEL_SIZE_M:
        raise InputError(f"--pixel-size {pixel_size:g}: the ground pixel size in metres is at least {MIN_PIXEL_SIZE_M:g}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(p) as ds:
                check_not_linking(ds.driver, p)
                _refuse_colour_table(ds, p)
                crs = ds.crs.to_string() if ds.crs else None
                transform: Affine | None = ds.transform
                approximate = False
                gcps, gcp_crs = ds.gcps
                if ds.transform.is_identity and gcps:
                    from ..sources.gcp import across_antimeridian

                    gcps = across_antimeridian(gcps, gcp_crs)
                    transform, crs, approximate = from_gcps(gcps), (gcp_crs.to_string() if gcp_crs else None), True
                elif ds.transform.is_identity and crs is None:
                    transform = None
                # RPCs and no map grid: no transform, with or without a CRS (a GeoTIFF may name WGS84 as its RPCs'
                # ground CRS, beside an identity transform: read so, it was "cannot tell the ground pixel size").
                placed_by_rpcs = ds.transform.is_identity and not gcps and ds.rpcs is not None
                info = dict(width=ds.width, height=ds.height, count=ds.count, nodata=ds.nodata, driver=ds.driver)
                if ds.count > MAX_IMAGE_BANDS:
                    raise InputError(
                        f"{p}: {ds.count:,} bands, more than sitewatch reads ({MAX_IMAGE_BANDS:,}); is the file "
                        "damaged? Otherwise take the bands you need first (gdal_translate -b)"
                    )
                scaling = band_scalings(ds) if source is None else None
                if scaling is not None and not declares_any(scaling):
                    scaling = None
                # A file declaring how its values scale holds values, not a rendering.
                rendering = None if source is not None or not renderings or scaling is not None else _stored_rendering(ds)
                # A rendering's black is a value, as in the 8-bit file it was stored from.
                zero = source is None and rendering is None and zero_is_no_data(ds, _radar_bands(ds))
                dtype = ds.dtypes[0]
                impulse = impulse_response_from_tags(ds.tags())
    except RasterioIOError as exc:
        what = "GDAL cannot open this virtual path" if isinstance(p, str) else "not a readable image"
        detail = str(exc)
        if "Support only 1 file in archive" in detail or (isinstance(p, str) and p.lower().rstrip("/").endswith(".zip")):
            # The zip itself: GDAL says "not recognized", or lists every file in it (40 kB for an OpenSARShip zip).
            detail = "the path names the archive, not a file in it: name the one to read after it, /vsizip//ABSOLUTE/PATH.zip/FOLDER/FILE.tif"
        elif len(detail) > 500:
            detail = detail[:500] + " …"
        else:
            detail = read_failure(exc)  # with a word to fetch it again when it is cut short
        raise ImageReadError(f"{p}: {what} ({detail})") from exc
    if isinstance(p, Path) and info.get("driver") == "PNG":
        _refuse_cut_png(p)
    if info["width"] * info["height"] > MAX_IMAGE_PIXELS:
        raise InputError(
            f"{p}: {info['width']} × {info['height']} pixels, more than sitewatch reads ({MAX_IMAGE_PIXELS:,}); "
            "is the file damaged? Otherwise cut the part you need first (gdal_translate -srcwin or -projwin)"
        )
    if pixel_size is None and placed_by_rpcs:
        # Warping a scene takes the ground's height and a grid to put it on, which `import` has (a site's).
        raise InputError(
            f"{p}: the image has no map grid, only RPCs (a Maxar Basic or a Planet basic scene), and this command "
            f"does not orthorectify: `sitewatch import {p} --orthorectify --dem DEM.tif` (or --height METRES, the "
            "ground's height above the WGS84 ellipsoid) puts it on each site's grid it covers for `detect` and "
            "`change`; or orthorectify it first (gdalwarp -rpc -to RPC_DEM=DEM.tif); or pass --pixel-size "
            "METRES to read it in pixel coordinates (compared pixel for pixel: only with an image on its grid)"
        )
    if transform is None:
        if pixel_size is None:
            raise InputError(f"{p}: the image has no georeference; pass --pixel-size METRES")
        pxy = (float(pixel_size), float(pixel_size))
    elif pixel_size is not None:
        pxy = (float(pixel_size), float(pixel_size))
    else:
        pxy = ground_pixel_size(crs, transform, info["width"], info["height"])
        if not all(math.isfinite(v) and v > 0 for v in pxy):
            raise InputError(f"{p}: cannot tell the ground pixel size; pass --pixel-size METRES")
        if min(pxy) < MIN_PIXEL_SIZE_M:
            why = "its transform has no CRS, and its units (degrees?) are not metres" if crs is None else f"its CRS ({crs}) gives it"
            raise InputError(f"{p}: a ground pixel of {min(pxy):.3g} m is too small to be real ({why}); pass --pixel-size METRES")
    return ImageInfo(p, info["width"], info["height"], info["count"], crs, transform, pxy, info["nodata"], approximate, impulse, source, zero, rendering, dtype, scaling)


def _refuse_colour_table(ds: Any, p: Path | str) -> None:
    """Refuse a one-band image whose pixels are indexes into a colour table (a palette PNG or GeoTIFF),
    unless the table maps each index to its own grey level, so the indexes are the brightness.

    Read as they are, the indexes would be measured as brightness: a colour screenshot saved with a
    palette would be taken for a grey (SAR) image and every statistic drawn from its index order. GDAL
    expands the table on request (``gdal_translate -expand rgb``), which the message names."""
    from rasterio._err import CPLE_BaseError
    from rasterio.enums import ColorInterp

    try:
        if ds.count != 1 or ds.colorinterp[0] != ColorInterp.palette:
            return
        table = ds.colormap(1)
    except (ValueError, CPLE_BaseError):  # no table after all, or tags GDAL refuses: named where the pixels are read
        return
    if all(r == g == b == i for i, (r, g, b, *_) in table.items()):
        return
    grey = all(r == g == b for r, g, b, *_ in table.values())
    raise InputError(
        f"{p}: a palette image: its pixels are indexes into a colour table, not brightness; expand the table first, "
        f"gdal_translate -expand {'gray' if grey else 'rgb'} {p} OUT.tif, or save the picture as "
        f"{'greyscale' if grey else 'RGB'}"
    )


_PNG_END = b"IEND\xaeB`\x82"
"""A PNG's last chunk (its type and CRC): a file without it was cut short."""


def _refuse_cut_png(p: Path) -> None:
    """Refuse a PNG cut short (an unfinished download or copy): GDAL reads the rows it lacks as zeros, saying
    nothing, so a chip would be compared or searched as mostly black. Its end chunk is looked for in its last
    kilobyte (a writer may leave a few bytes after it)."""
    size = p.stat().st_size
    with p.open("rb") as f:
        f.seek(max(0, size - 1024))
        tail = f.read()
    if _PNG_END not in tail:
        raise ImageReadError(
            f"{p}: a PNG cut short ({size:,} bytes and no end chunk): the file is damaged or was not written or copied "
            "whole (an unfinished download or copy?): fetch or copy it again"
        )


_WHOLE_SAMPLE_PX = 2048
"""Images up to this many pixels a side (chips) are sampled whole for :func:`_stored_rendering`; larger ones by windows."""


def _stored_rendering(ds: Any) -> float | None:
    """:func:`~sitewatch.detect.eight_bit.rendering_divisor` of an open dataset's radar bands (a strided
    read, at most about 1024 pixels a side: all of a chip; five 512-pixel windows of a scene), no-data values left out; None for a
    two-band image (a polarisation pair, read as one) and for 8-bit or complex bands."""
    from rasterio.windows import Window

    from .eight_bit import rendering_divisor

    bands = _radar_bands(ds)
    if len(bands) == 2 or np.dtype(ds.dtypes[bands[0] - 1]).kind not in "iuf" or ds.dtypes[bands[0] - 1] == "uint8":
        return None
    if max(ds.width, ds.height) <= _WHOLE_SAMPLE_PX:
        step = max(1, math.ceil(max(ds.width, ds.height) / 1024))
        a = ds.read(bands, out_shape=(len(bands), max(1, ds.height // step), max(1, ds.width // step)))
    else:
        # A scene: five windows (its centre and its quarters' centres), not a strided read of all of it,
        # which decodes every tile (1.6 s for a 300 Mpx deflate GeoTIFF); genuine values fail the rules
        # within a few pixels, and a rendering holds them in every window.
        side = 512
        centres = [(0.5, 0.5), (0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75)]
        a = np.concatenate([
            ds.read(bands, window=Window(
                max(0, min(ds.width - side, int(fx * ds.width) - side // 2)), max(0, min(ds.height - side, int(fy * ds.height) - side // 2)),
                min(side, ds.width), min(side, ds.height),
            )).ravel()
            for fy, fx in centres
        ])  # fmt: skip
    if ds.nodata is not None:
        a = a[a != ds.nodata]
    return rendering_divisor(a)


def _sar_window_reader(info: ImageInfo, band: int | None = None) -> Callable[[tuple[int, int, int, int]], tuple[NDArray[Any], NDArray[np.bool_] | None]]:
    """A window reader giving SAR intensity (mean over bands, or band ``band``, 1-based) and the valid mask."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.windows import Window

    def read(win: tuple[int, int, int, int]) -> tuple[NDArray[Any], NDArray[np.bool_] | None]:
        r0, r1, c0, c1 = win
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            a: NDArray[Any]
            indexes: list[int] = []
            if info.source is not None:
                a = info.source.read(win)[None]
            else:
                with rasterio.open(info.path) as ds:
                    indexes = [band] if band is not None else _radar_bands(ds)
                    a = ds.read(indexes, window=Window(c0, r0, c1 - c0, r1 - r0))
        # A collar of DN 0 in an integer image declaring no no-data value is no data (GRD's convention).
        nodata = 0 if info.nodata is None and info.zero_no_data else info.nodata
        valid = None if nodata is None else np.all(a != nodata, axis=0)
        if info.scaling is not None and indexes and not np.iscomplexobj(a):
            # The file's declared scale and offset first (sigma0 dB x 100 in int16, linear x 10,000 in uint16):
            # the values are then read as a float file's are (negative: dB; else sigma0, or amplitude if whole).
            a = np.stack([apply_scaling(a[j], info.scaling[i - 1]) for j, i in enumerate(indexes)])
            if valid is not None:
                a[:, ~valid] = np.nan
        if info.rendering_divisor is not None:
            # An 8-bit rendering stored wider is read as the 8-bit file it was stored from.
            from .eight_bit import to_rendering

            if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
                finite = np.all(np.isfinite(a), axis=0)
                valid = finite if valid is None else valid & finite
            a = to_rendering(a, info.rendering_divisor)
        if np.iscomplexobj(a):  # single-look complex: the intensity is |z|², not the real part
            a = (np.square(a.real, dtype=np.float32) + np.square(a.imag, dtype=np.float32)).astype(np.float32)
            if valid is not None:
                a[:, ~valid] = np.nan
        elif np.issubdtype(a.dtype, np.signedinteger) and (a if valid is None else a[:, valid]).min(initial=0) < 0:
            raise InputError(
                f"{info.path}: signed integer pixels with negative values are neither amplitude nor intensity "
                "(dB scaled to integers?); convert the image to float sigma0 or dB, or declare its scale "
                "(dB x 100: gdal_edit.py -scale 0.01 FILE)"
            )
        if valid is not None and np.issubdtype(a.dtype, np.floating) and info.scaling is None:
            # A negative fill (-9999) left in would make the detector take the image for dB.
            a = np.where(a == info.nodata, np.nan, a).astype(a.dtype, copy=False)
        if np.issubdtype(a.dtype, np.floating):
            _refuse_implausible_db(info.path, a)
        if a.shape[0] == 1:
            return a[0], valid
        if np.issubdtype(a.dtype, np.integer) and all(np.array_equal(a[0], b) for b in a[1:]):
            return a[0], valid  # a grey rendering stored as RGB
        if np.issubdtype(a.dtype, np.integer):
            f = a.astype(np.float32)
            amp = np.sqrt((f * f).mean(axis=0))  # amplitude of the mean power
            if a.dtype == np.uint8:
                # An 8-bit colour rendering (e.g. a JPEG whose channels differ a little) stays
                # a rendering, for the detector made for renderings (SarParams.render_8bit).
                return np.clip(np.rint(amp), 0, 255).astype(np.uint8), valid
            return amp.astype(np.float32), valid
        return a.astype(np.float32).mean(axis=0), valid

    return read


_MAX_DB = 100.0
"""Highest value a float image read as dB may hold: 10^10 sigma0 is no scene's (10·log10 of 16-bit
amplitude squared stays below 96.4), while the real and imaginary parts of a complex image reach hundreds."""


def _refuse_implausible_db(path: str | Path, a: NDArray[Any]) -> None:
    """Float pixels with negative values are read as dB; values far above any dB are refused.

    OpenSARShip's SLC ``Patch/`` chips store a single-look complex image as float bands of its
    real and imaginary parts (-1824 to 1913): read as dB they overflowed and gave no detection, silently.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window
        lo, hi = float(np.nanmin(a, initial=np.inf)), float(np.nanmax(a, initial=-np.inf))
    if lo < 0 and hi > _MAX_DB:
        raise InputError(
            f"{path}: float pixels from {lo:.4g} to {hi:.4g} are neither sigma0 (negative values) nor dB "
            f"(above {_MAX_DB:.0f} dB): the real and imaginary parts of a complex (SLC) image? Detect in its "
            "intensity (real² + imaginary²) or in a detected (GRD) image"
        )


def _radar_bands(ds: Any) -> list[int]:
    """The band numbers of an open dataset that hold pixel values: all but alpha (an RGBA or grey + alpha chip)."""
    from rasterio.enums import ColorInterp

    return [i for i, c in zip(ds.indexes, ds.colorinterp, strict=True) if c != ColorInterp.alpha] or list(ds.indexes)


def _run_sar(info: ImageInfo, params: Any, workers: int, progress: Callable[[int, int], None] | None) -> list[PixelDetection]:
    p = with_image_resolution(params if isinstance(params, SarParams) else SarParams(), info)
    pols = _polarisation_bands(info)
    if pols is not None:
        return _run_sar_dual((info, pols[0]), (info, pols[1]), p, workers, progress)
    read = _sar_window_reader(info)
    if info.width * info.height > TILE_ABOVE_PIXELS:
        return detect_sar_tiled(read, (info.height, info.width), info.pixel_size, params=p, workers=workers, progress=progress)
    a, valid = read((0, info.height, 0, info.width))
    return detect_sar(a, info.pixel_size, valid=valid, params=p, workers=workers)


def _polarisation_bands(info: ImageInfo) -> tuple[int, int] | None:
    """(co, cross) band numbers (1-based) of a dual-polarisation image, or None.

    Band descriptions name the channels (``VV``/``VH``, ``HH``/``HV``, any case, also inside a
    longer description such as ``Sigma0_VH``); two unnamed bands that are not 8-bit (a
    rendering) are a pair too, the one with the darker median the cross-polarised channel
    (sea clutter is 5-10 dB lower in cross-pol).
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    from .sar_dual import CO_POL, darker_is_cross, polarisation_of

    if info.count != 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(info.path) as ds:
            if ds.dtypes[0] == "uint8" or len(_radar_bands(ds)) != 2:
                return None
            names = [polarisation_of(d) for d in ds.descriptions]
            if all(names):
                kinds = [n in CO_POL for n in names]
                if kinds[0] != kinds[1]:
                    return (1, 2) if kinds[0] else (2, 1)
                return None
            step = max(1, math.ceil(max(info.width, info.height) / 1024))
            a = ds.read(out_shape=(2, max(1, info.height // step), max(1, info.width // step))).astype(np.float64)
    co, cross = darker_is_cross(a)
    return co + 1, cross + 1


def _run_sar_dual(
    co: tuple[ImageInfo, int | None],
    cross: tuple[ImageInfo, int | None],
    p: SarParams,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> list[PixelDetection]:
    """Detect in a co- and a cross-polarised channel ((image, band or None)) and fuse; tiled when big."""
    from .sar_dual import detect_sar_dual, fuse_polarisations

    info = co[0]
    reads = [_sar_window_reader(i, b) for i, b in (co, cross)]
    if info.width * info.height > TILE_ABOVE_PIXELS:
        # One channel after the other, each tiled with bounded memory; fused in image coordinates.
        found = []
        for k, read in enumerate(reads):
            step = None if progress is None else (lambda d, t, k=k: progress(k * t + d, 2 * t))
            found.append(detect_sar_tiled(read, (info.height, info.width), info.pixel_size, params=p, workers=workers, progress=step))
        return fuse_polarisations(found[0], found[1], info.pixel_size, p)
    # Each channel with its own no-data mask, as tiled: one without data somewhere must not blind the other.
    (a, va), (b, vb) = (r((0, info.height, 0, info.width)) for r in reads)
    return detect_sar_dual(a, b, info.pixel_size, valid=(va, vb), params=p, workers=workers)


def parse_sar_band_args(values: tuple[str, ...] | list[str]) -> dict[str, Path | str]:
    """``("vv=a.tif", "vh=b.tif")`` -> ``{"vv": Path("a.tif"), "vh": Path("b.tif")}``, naming any bad item.

    A GDAL virtual path stays a string (:func:`image_path`)."""
    from .sar_dual import CO_POL, CROSS_POL

    out: dict[str, Path | str] = {}
    for v in values:
        name, sep, path = v.partition("=")
        key = name.strip().lower()
        if not sep or not path or key not in CO_POL + CROSS_POL:
            raise InputError(f"--band {v!r}: for SAR use NAME=PATH with NAME one of vv, vh, hh, hv (optical bands need --sensor optical)")
        if key in out:
            raise InputError(f"--band {key} given twice")
        out[key] = image_path(path)
    return out


def detect_sar_bands(
    bands: Mapping[str, str | Path | PixelSource],
    *,
    pixel_size: float | None = None,
    params: SarParams | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[ImageInfo, list[PixelDetection]]:
    """Vessels in a dual-polarisation pair given as one single-band file per channel.

    ``bands`` maps a co-polarised name (``vv`` or ``hh``) and a cross-polarised one (``vh`` or
    ``hv``) to co-registered files of the same size (or :class:`PixelSource` s: a GRD product's
    measurements); the georeference is the co-polarised file's. Returns the co-polarised image's info and the fused detections.
    """
    from .sar_dual import CO_POL, CROSS_POL

    names = {k.lower(): v if isinstance(v, PixelSource) else image_path(v) for k, v in bands.items()}
    co = [k for k in names if k in CO_POL]
    cross = [k for k in names if k in CROSS_POL]
    unknown = sorted(set(names) - set(CO_POL) - set(CROSS_POL))
    if unknown or len(co) != 1 or len(cross) != 1:
        raise InputError(f"SAR --band takes one co-polarised (vv or hh) and one cross-polarised (vh or hv) file, got {', '.join(sorted(names)) or 'none'}")
    # A channel file is measured data: a VH band of amplitude DN may hold only whole numbers up to 255.
    ci, xi = (open_image_info(names[k], pixel_size) for k in (co[0], cross[0]))
    for i in (ci, xi):
        if i.count != 1:
            raise InputError(f"{i.path}: a --band file holds one band, this one has {i.count}")
    if (ci.height, ci.width) != (xi.height, xi.width):
        raise InputError(f"{ci.path} is {ci.width} x {ci.height} px but {xi.path} is {xi.width} x {xi.height}: the two polarisations must be co-registered")
    if not _same_grid(ci, xi):
        raise InputError(f"{ci.path} and {xi.path} are of one size but not on one grid (CRS or corners differ): the two polarisations must be co-registered")
    p = with_image_resolution(params or SarParams(), ci)
    return ci, _run_sar_dual((ci, None), (xi, None), p, workers, progress)


def _same_grid(a: ImageInfo, b: ImageInfo) -> bool:
    """Whether two images of one size lie on one grid: same CRS, corners within half a pixel
    (True when either has no georeference: nothing says otherwise)."""
    if a.transform is None or b.transform is None:
        return True
    if a.crs != b.crs:
        from pyproj import CRS

        try:
            if not (a.crs and b.crs and CRS.from_user_input(a.crs).equals(CRS.from_user_input(b.crs))):
                return False
        except Exception:
            return False
    ta, tb = a.transform, b.transform
    half = 0.5 * min(math.hypot(ta.a, ta.d), math.hypot(ta.b, ta.e))
    return all(math.dist(ta @ xy, tb @ xy) <= half for xy in ((0, 0), (a.width, 0), (0, a.height), (a.width, a.height)))


def _run_optical(info: ImageInfo, params: Any, workers: int, progress: Callable[[int, int], None] | None) -> list[PixelDetection]:
    """Optical runner: the image's bands by description (or order), tiled; see :mod:`.optical_image`."""
    from .optical import OpticalParams
    from .optical_image import detect_optical_image

    p = params if isinstance(params, OpticalParams) else None
    res = detect_optical_image(info.path, pixel_size=info.pixel_size, params=p, workers=workers, progress=progress)
    return res.detections


SENSOR_RUNNERS: dict[str, Callable[[ImageInfo, Any, int, Callable[[int, int], None] | None], list[PixelDetection]]] = {
    "sar": _run_sar,
    "optical": _run_optical,
}
"""Sensor name → runner(info, params, workers, progress) returning pixel detections."""

DETECTOR_NAMES: dict[str, tuple[str, str]] = {"sar": (DETECTOR, VERSION), "optical": (OPTICAL_DETECTOR, OPTICAL_VERSION)}


def detect_image(
    path: str | Path | PixelSource,
    sensor: str = "sar",
    *,
    pixel_size: float | None = None,
    params: Any = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[ImageInfo, list[PixelDetection]]:
    """Open ``path``, run the detector for ``sensor`` and return the image info and detections."""
    runner = SENSOR_RUNNERS.get(sensor)
    if runner is None:
        raise InputError(f"unknown sensor {sensor!r}: use one of {', '.join(SENSOR_RUNNERS)}")
    info = open_image_info(path, pixel_size, renderings=sensor == "sar")
    try:
        dets = runner(info, params, workers, progress)
    except (ImageReadError, InputError):
        raise
    except Exception as exc:  # a file that opens but fails to decode (truncated JPEG, bad TIFF tile)
        from rasterio._err import CPLE_BaseError
        from rasterio.errors import RasterioError

        # GDAL's own errors (CPLE_*, e.g. a TIFF tag "of unknown type" met reading the colour interpretation)
        # are no RasterioError.
        if isinstance(exc, (RasterioError, CPLE_BaseError)):
            raise ImageReadError(f"{info.path}: could not read the pixels ({read_failure(exc)})") from exc
        raise
    return info, dets


def detections_to_geojson(
    info: ImageInfo, dets: list[PixelDetection], sensor: str = "sar", extra: Mapping[str, Any] | None = None, *, simulated: bool = False,
    credit: str = "",
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of oriented boxes (CRS or pixel coordinates, see the module doc); ``simulated``
    (the image is a scene of sitewatch's simulator) and ``credit`` (the credit its licence asks for,
    :func:`~sitewatch.image_credit.files_credit`; none when empty) are said in each feature's properties and the
    collection's ``sitewatch`` member, since a GIS shows a feature's properties, not the collection's."""
    from ..vessels import class_candidates

    t = info.transform
    resolution = sum(info.pixel_size) / 2
    headings = [d.heading_deg for d in dets]
    if t is not None:
        # Measured from image up; on the ground (a rotated or mirrored grid, a map projection's own
        # north) that is another bearing than the box drawn through the transform shows.
        headings = heading_from_north(headings, [d.row for d in dets], [d.col for d in dets], t, info.crs, info.pixel_size)
    feats = []
    for d, heading in zip(dets, headings, strict=True):
        if t is None:
            ring = [[round(c, 3), round(r, 3)] for c, r in d.corners]
        else:
            # Corners are pixel-centre indices; the transform maps pixel corners.
            ring = [list(t @ (c + 0.5, r + 0.5)) for c, r in d.corners]
        ring.append(ring[0])
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "row": round(d.row, 3),
                    "col": round(d.col, 3),
                    "length_m": round(d.length_m, 2),
                    "width_m": round(d.width_m, 2),
                    "heading_deg": round(heading, 2) % 180.0,
                    "score": round(d.score, 4),
                    "kind": d.kind,
                    "truncated": d.truncated,
                    "simulated": simulated,
                }
                | (
                    # A truncated hull's size is a lower bound: a class by size would be a guess.
                    {"class_candidates": [] if d.truncated else [[c.name, c.likelihood] for c in class_candidates(d.length_m, d.width_m, resolution)]}
                    if d.kind == "vessel"
                    else {}
                )
                | ({"credit": credit} if credit else {}),  # last, as the workspace's exports put it
            }
        )
    det_name, det_version = DETECTOR_NAMES.get(sensor, (sensor, ""))
    meta: dict[str, Any] = {
        "source": str(info.path),
        "sensor": sensor,
        "detector": det_name,
        "detector_version": det_version,
        # The class candidates are the catalogue's and the reading of the file is the code's, beside the detector's.
        "sitewatch_version": __version__,
        "simulated": simulated,
        **({"credit": credit} if credit else {}),
        "pixel_size_m": [round(v, 4) for v in info.pixel_size],
        "coordinates": "pixel (x=col, y=row, pixel centres at integers)" if t is None else "crs",
        # `score` reads YOLO labels (fractions of the image's size) by it.
        "image_size": [info.width, info.height],
        # `score` places a detection's centroid (col, row) in the CRS through it, as GeoJSON labels are drawn.
        **({} if t is None else {"transform": [t.a, t.b, t.c, t.d, t.e, t.f]}),
        # The long axis's bearing: 0 to 180, a bow not told from its stern (README, "Definitions and units").
        "heading": f"{HEADING_AXIS}, degrees clockwise from image up" if t is None
        else f"{HEADING_AXIS}, degrees clockwise from true north" if info.crs
        else f"{HEADING_AXIS}, degrees clockwise from the transform's y axis",
    }
    if any(d.truncated for d in dets):
        meta["truncated"] = (
            "features with truncated true reach the image's edge or a pixel without data: "
            "length_m and width_m are lower bounds and class_candidates is left empty"
        )
    if info.rendering_divisor is not None and sensor == "sar":
        from .eight_bit import describe_divisor

        meta["values"] = describe_divisor(info.rendering_divisor, info.dtype)
    if info.approximate:
        meta["note"] = "transform fitted to the image's GCPs: coordinates are approximate"
    skew = skew_note(info)
    if skew:
        meta["note"] = f"{meta['note']}; {skew}" if "note" in meta else skew
    if extra:
        meta |= dict(extra)
    fc: dict[str, Any] = {"type": "FeatureCollection", "features": feats, "sitewatch": meta}
    if t is None:
        fc["crs"] = {"type": "name", "properties": {"name": PIXEL_CRS_WKT}}
    elif info.crs and not _is_wgs84(info.crs):
        fc["crs"] = {"type": "name", "properties": {"name": info.crs}}
    elif not info.crs:
        fc["crs"] = {"type": "name", "properties": {"name": UNKNOWN_CRS_WKT}}
    return fc


HEADING_AXIS = "of the long axis, 0 to 180 (bow and stern not told apart)"
"""What ``heading_deg`` is the bearing of, as the ``sitewatch`` member's ``heading`` says it before its reference."""

MAX_SKEW_DEG = 1.0
"""A grid whose pixel sides meet further than this from a right angle on the ground is named: the
detectors measure in a square-cornered frame, so lengths, widths and headings are off (a 150 m hull
on a grid skewed 22 degrees measured 184 m)."""


def skew_note(info: ImageInfo) -> str:
    """A warning that ``info``'s grid is skewed (more than :data:`MAX_SKEW_DEG`), or ``""``."""
    if info.transform is None:
        return ""
    skew = grid_skew_deg(info.crs, info.transform, info.width, info.height)
    if skew <= MAX_SKEW_DEG:
        return ""
    return (
        f"the image's pixel sides meet {skew:.1f} degrees off a right angle (a skewed transform): lengths, widths and "
        "headings are measured as if they met square and may be off by as much; warp it to a square grid first "
        "(gdalwarp, or `sitewatch ingest`, which does)"
    )


def _is_wgs84(crs: str) -> bool:
    from pyproj import CRS

    try:
        return bool(CRS.from_user_input(crs).equals(CRS.from_epsg(4326), ignore_axis_order=True))
    except Exception:
        return False


def write_geojson(fc: Mapping[str, Any], out: str | Path) -> Path:
    """Write atomically (see :func:`~sitewatch.files.write_text_atomic`); the folder must exist."""
    return write_text_atomic(out, json.dumps(fc), make_folder=False)
