"""Change between two image files, outside a workspace: ``sitewatch change-image BEFORE AFTER``.

The pair is read as ``detect-image`` reads an image (optical: the bands by their names, colours or
provider's layout, as reflectance; SAR: intensity, dB and amplitude read as such) and compared by
:func:`sitewatch.change.detect_changes` with its defaults, as ``sitewatch change`` compares two
observations of a site:

- **georeferenced** images are compared on the earlier image's grid when it is in metres on the ground
  (a projected CRS whose pixels measure what its transform says); otherwise (degrees, Web Mercator's
  stretched metres) both are laid on a UTM grid of the earlier image's ground pixel size. The later
  image is warped onto that grid (bilinear), so two products of one place on other grids compare; only
  where both have data is compared. Regions are written in WGS84, as ``sitewatch change --out`` writes them.
- **images without georeference** (PNG or JPEG chips) must be of one size and are compared pixel for
  pixel at ``pixel_size`` metres; regions are written in pixel coordinates (x = column, y = row, pixel
  centres at integers), as ``detect-image`` writes such an image's detections.

A date given one file a band (``{"blue": path, …}``, as ``detect-image --band`` takes them), or as the
folder holding them (found by their Sentinel-2 band codes, :func:`~sitewatch.detect.band_folder.band_files_in`:
OSCD's ``imgs_1/``, a SAFE's ``R10m/``), is read as ``detect-image`` reads band files: on the grid of its
green band, each band of that grid or refused; the two dates then name the same bands, or the one lacking
a band is named. It compares as the same bands stacked into one file do.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .change.compare import OPTICAL_BANDS, detect_changes
from .change.optical import COVER_CLASSES
from .change.pair import ChangeImage, ChangeResult
from .errors import ImageReadError, InputError
from .model import Grid
from .report.credits import images_credits_text
from .simulated_tag import tagged_simulated
from .units import count_noun, share_text

__all__ = ["ChangePair", "ImageSource", "change_images", "change_pair_geojson", "read_change_pair", "write_change_mask"]

Sensor = Literal["sar", "optical"]
ImageSource = Path | str | Mapping[str, Path | str]
"""One date: an image file, a folder of its band files, or band name -> file (``blue``, ``green``, ``red``,
``nir``, or ``B02``…)."""

_STAND_IN = (500_000.0, 5_000_000.0)
"""Origin of the metric grid an image without georeference is compared on (areas only; never written)."""
_STAND_IN_CRS = "EPSG:32631"


@dataclass(frozen=True)
class ChangePair:
    """Two images on the one grid they are compared on."""

    before: ChangeImage
    after: ChangeImage
    georeferenced: bool
    """False: the images have no georeference; the grid is a stand-in in metres and output is in pixels."""
    pixel_size_m: float
    """Side of the compared grid's pixel on the ground."""
    warped: tuple[str, ...] = ()
    """Which of ``before``/``after`` were laid on the compared grid from their own."""
    before_grid: Grid | None = None
    """The earlier image's own grid when it was laid on another (degrees, Web Mercator): the grid its
    pixels, and a change map drawn on them, are on."""
    before_bands: Mapping[str, str] = field(default_factory=dict)
    """Band name -> file, when the earlier date was given one file a band (or as their folder)."""
    after_bands: Mapping[str, str] = field(default_factory=dict)
    """The same of the later date."""
    simulated: bool = False
    """Either date is a scene of sitewatch's simulator (its ``SITEWATCH_SIMULATED=true`` tag): said wherever
    the pair's result shows."""
    before_acquired: str | None = None
    """The earlier image's acquisition time (UTC, ISO 8601) as its ``SITEWATCH_ACQUIRED`` tag gives it (sitewatch's
    archive and simulator write it); None when the file does not say."""
    after_acquired: str | None = None
    """The same of the later image."""
    credit: str = ""
    """The credits the two images' licences ask for, as far as their files say (:mod:`sitewatch.image_credit`):
    each region's ``credit``, as a change region of ``sitewatch export`` names both its images'."""
    notes: tuple[str, ...] = ()
    """What the comparison left out that the reader should know (cloud an SCL band marks, cloud found by its shadow)."""
    cloud_left_out: tuple[Mapping[str, Any], ...] = ()
    """How cloud was left out, one entry a test (``test``: ``SCL band`` or ``shadow twins``, and how much: ``left_out_fraction``,
    of the compared grid for an SCL band, of the pixels both images hold for the shadow test, which also gives its ``clouds``,
    ``cloud_m2``, ``shadow_m2`` and ``refused``, the bright patches without a shadow twin, compared)."""


@dataclass(frozen=True)
class _Date:
    """One date as given: an image file, or its band files (given one by one, or as their folder)."""

    label: str
    """What messages and the output call it: the file, the folder, or the band files."""
    image: Path | str | None = None
    """The image file, or a GDAL virtual path (``/vsizip//…``) kept as a string as detect-image keeps it."""
    bands: Mapping[str, Path | str] = field(default_factory=dict)
    where: str = ""
    """Where the bands came from, for messages: ``--before-band``, ``BEFORE folder``."""
    folder: bool = False


@dataclass(frozen=True)
class _Raster:
    data: NDArray[np.float32]
    bands: tuple[str, ...]
    crs: str | None
    transform: Any  # Affine or None
    pixel_size: tuple[float, float]
    rendering: bool = False
    """8-bit values (:attr:`ChangeImage.rendering`)."""


def _choose_sensor(path: Path | str, sensor: Sensor | None) -> tuple[Sensor, str]:
    """The sensor to read ``path`` as, and why (empty when given)."""
    from .detect.optical_image import sensor_from_band_names

    if sensor is not None:
        return sensor, ""
    chosen, why = sensor_from_band_names(path)
    return ("optical" if chosen == "optical" else "sar"), why


_REFUSED_BANDS = ("scl", "udm2")
"""``--band`` names detect-image takes that change-image does not: cloud masks given as band files (an SCL band
inside an image file is read, :func:`_scl_valid`)."""


def _date(given: ImageSource, which: Literal["before", "after"]) -> _Date:
    """``given`` as one date: band files (a mapping, named as ``--before-band`` would name them; a folder,
    :func:`~sitewatch.detect.band_folder.band_files_in`) or an image file."""
    from .detect.optical_image import parse_band_args

    option = f"--{which}-band"
    if isinstance(given, Mapping):
        bands = parse_band_args([f"{name}={path}" for name, path in given.items()], option)
        for name in _REFUSED_BANDS:
            if name in bands:
                raise InputError(
                    f"{option} {name}: change-image compares the reflectance bands ({', '.join(OPTICAL_BANDS)}) "
                    "and reads a cloud mask only as an SCL band inside an image file; drop it"
                )
        for name, path in bands.items():
            if isinstance(path, Path) and not path.exists():
                raise ImageReadError(f"{option} {name} {path}: no such file")
        if "green" not in bands or not {"red", "nir"} & set(bands):
            raise InputError(f"{option}: {', '.join(bands)} given; change-image needs at least green and red (or green and nir)")
        label = ", ".join(f"{name}={path}" for name, path in bands.items())
        return _Date(label, bands=bands, where=option)
    from .detect.image import image_path, open_image_info

    path = image_path(given)
    if isinstance(path, str):  # a GDAL virtual path, kept whole: opened now, so one GDAL cannot read is
        open_image_info(path, 1.0)  # named before its sensor is guessed (the pixel size is checked later)
        return _Date(path, image=path)
    if path.is_dir():
        from .detect.band_folder import band_files_in

        return _Date(str(path), bands=dict(band_files_in(path)), where=f"{which.upper()} {path}", folder=True)
    # Opened now, before its sensor is guessed: a missing, damaged or palette file is named as such, not said to
    # read as sar against the other date's optical.
    open_image_info(path, 1.0)
    return _Date(str(path), image=path)


def _folder_read(folder: Path, bands: Mapping[str, Path | str]) -> str:
    """``imgs_1: blue B02, green B03, red B04, nir B08 (4 of its 13 image files)``: what was read of a folder."""
    from .detect.band_folder import BAND_CODES, BAND_FILE_SUFFIXES

    files = sum(1 for p in folder.iterdir() if p.is_file() and p.suffix.lower() in BAND_FILE_SUFFIXES)
    return f"{folder}: {', '.join(f'{name} {BAND_CODES[name]}' for name in bands)} ({len(bands)} of its {files} image files)"


def _same_bands(b: _Date, a: _Date) -> None:
    """Band files of both dates name the same bands: a band of one date alone is named, with the date lacking it."""
    from .detect.band_folder import BAND_CODES

    for has, lacks in ((b, a), (a, b)):
        missing = [n for n in has.bands if n not in lacks.bands]
        if missing:
            looked = f" (no *{BAND_CODES[missing[0]]}* file)" if lacks.folder and len(missing) == 1 else ""
            raise InputError(
                f"{lacks.where} has no {', '.join(missing)} band{looked}, which {has.where} has: give the same bands for "
                f"both dates ({b.where}: {', '.join(b.bands)}; {a.where}: {', '.join(a.bands)})"
            )


def _read_optical(source: Path | str | Mapping[str, Path | str], label: str, pixel_size: float | None, dn_scale: float | None) -> _Raster:
    from .detect.optical_image import _read_raw, _to_reflectance, declared_applies, open_optical
    from .detect.optical_reflectance import infer_dn_scale

    src = open_optical(source, pixel_size, scale_given=dn_scale is not None)
    raw = _read_raw(src, None)
    # A file declaring its bands' scale and offset is read by them (_to_reflectance), not by its range.
    declared = declared_applies(src, dn_scale)
    scale = dn_scale if dn_scale is not None or declared else infer_dn_scale([raw[b] for b in src.bands])
    bands, valid, _ = _to_reflectance(src, raw, scale, 0.0)
    names = tuple(n for n in OPTICAL_BANDS if n in bands)
    if not names:
        raise InputError(f"{label}: none of the bands {', '.join(OPTICAL_BANDS)} found; pass --sensor sar for a radar image")
    data = np.stack([np.where(valid, bands[n], np.nan).astype(np.float32) for n in names])
    info = src.info
    return _Raster(data, names, info.crs, info.transform, info.pixel_size, all(raw[b].dtype == np.uint8 for b in src.bands))


def _read_sar(path: Path | str, pixel_size: float | None) -> _Raster:
    from .detect.image import _sar_window_reader, open_image_info

    info = open_image_info(path, pixel_size, renderings=True)
    values, valid = _sar_window_reader(info)((0, info.height, 0, info.width))
    a = values.astype(np.float32)
    if valid is not None:
        a[~valid] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low = float(np.nanmin(a)) if np.isfinite(a).any() else 0.0
    if np.issubdtype(values.dtype, np.floating) and low < 0:
        a = np.power(np.float32(10.0), a / np.float32(10.0))  # dB → intensity
    elif np.issubdtype(values.dtype, np.integer):
        a = np.square(a)  # amplitude DN (a GRD's, or an 8-bit rendering's grey) → intensity
    return _Raster(a[None], ("VV",), info.crs, info.transform, info.pixel_size)


def _read(date: _Date, sensor: Sensor, pixel_size: float | None, dn_scale: float | None) -> _Raster:
    if date.image is None:
        return _read_optical(date.bands, date.label, pixel_size, dn_scale)
    path = date.image
    if isinstance(path, Path) and not path.exists():
        from .detect.image import no_such_image

        raise no_such_image(path)
    if sensor == "optical":
        return _read_optical(path, date.label, pixel_size, dn_scale)
    if dn_scale is not None:
        raise InputError("--dn-scale: for optical images (reflectance); SAR values are read as they are")
    return _read_sar(path, pixel_size)


def _date_tags(date: _Date) -> tuple[bool, datetime | None, bool]:
    """Whether ``date``'s file (or any of its band files) is tagged simulated, its ``SITEWATCH_ACQUIRED``
    time, and whether it holds a band described ``SCL`` (a cloud mask change-image does not read); a file
    whose tags cannot be read (a PNG, a JPEG) says none of them."""
    import rasterio

    simulated, acquired, scl = False, None, False
    for path in [date.image] if date.image is not None else list(date.bands.values()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # NotGeoreferencedWarning of a chip
                with rasterio.open(path) as ds:
                    tags = ds.tags()
                    scl = scl or any(str(d or "").strip().upper() == "SCL" for d in ds.descriptions)
        except (rasterio.errors.RasterioError, OSError):
            continue
        simulated = simulated or tagged_simulated(tags)
        text = str(tags.get("SITEWATCH_ACQUIRED", "")).strip()
        if text and acquired is None:
            try:
                t = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                continue
            acquired = (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)
    return simulated, acquired, scl


def _date_credits(date: _Date, simulated: bool) -> list[tuple[str, datetime | None, bool]]:
    """``date``'s image as :func:`~sitewatch.report.credits.images_credits_text` credits it."""
    from .image_credit import image_credits

    return image_credits([date.image] if date.image is not None else list(date.bands.values()), simulated=simulated)


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _date_sensor(date: _Date, sensor: Sensor | None) -> tuple[Sensor, str]:
    """The sensor to read ``date`` as, and why (empty when given, or band files: optical)."""
    if date.image is not None:
        return _choose_sensor(date.image, sensor)
    if sensor == "sar":
        raise InputError(
            "--sensor sar: --before-band and --after-band are optical band files (and folders of them); "
            "give each date's SAR image as BEFORE and AFTER"
        )
    return "optical", ""


def _metric(r: _Raster) -> bool:
    """The raster's own grid measures the ground in metres: a projected CRS whose pixel is, within 1 %,
    the ground pixel (not degrees; not Web Mercator, whose metres are stretched by 1/cos(latitude))."""
    if r.crs is None or r.transform is None:
        return False
    from pyproj import CRS

    c = CRS.from_user_input(r.crs)
    if not c.is_projected:
        return False
    px, py = abs(r.transform.a), abs(r.transform.e)
    return abs(px - r.pixel_size[0]) <= 0.01 * px and abs(py - r.pixel_size[1]) <= 0.01 * py


def _utm_grid(r: _Raster) -> Grid:
    """A UTM grid over ``r``'s footprint at its ground pixel size (the smaller side)."""
    from affine import Affine
    from rasterio.warp import transform_bounds
    from shapely.geometry import Point

    from .geo import reproject_geometry, utm_crs_for

    h, w = r.data.shape[1:]
    x0, y0 = r.transform @ (0, 0)
    x1, y1 = r.transform @ (w, h)
    # The zone of the image's centre. The middle of its lon/lat bounds was not it across the antimeridian:
    # a Fiji image (179.985 to -179.985) went on zone 31's grid, 177° from its meridian (48 % compared).
    centre = reproject_geometry(Point(r.transform @ (w / 2, h / 2)), str(r.crs), "EPSG:4326")
    crs = utm_crs_for(centre.x, centre.y)
    minx, miny, maxx, maxy = transform_bounds(r.crs, crs, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    p = min(r.pixel_size)
    width, height = max(1, math.ceil((maxx - minx) / p)), max(1, math.ceil((maxy - miny) / p))
    t = Affine(p, 0.0, minx, 0.0, -p, maxy)
    return Grid(crs=crs, transform=(t.a, t.b, t.c, t.d, t.e, t.f), width=width, height=height)


def _on_grid(r: _Raster, grid: Grid) -> NDArray[np.float32]:
    """``r``'s bands warped onto ``grid`` (bilinear; NaN where it has no data)."""
    from rasterio.warp import Resampling, reproject

    from .geo import recentred_past_180

    out = np.full((r.data.shape[0], grid.height, grid.width), np.nan, np.float32)
    # A Web Mercator map across 180° as the same pixels centred 180° away: else its part past 180° is lost.
    src_crs, src_transform = recentred_past_180(str(r.crs), r.transform, r.data.shape[2], r.data.shape[1])
    for k in range(r.data.shape[0]):
        reproject(
            r.data[k], out[k], src_transform=src_transform, src_crs=src_crs, src_nodata=np.nan,
            dst_transform=grid.affine, dst_crs=grid.crs, dst_nodata=np.nan, resampling=Resampling.bilinear,
        )  # fmt: skip
    return out


def read_change_pair(
    before: ImageSource, after: ImageSource, *, sensor: Sensor | None = None, pixel_size: float | None = None,
    dn_scale: float | None = None, say: Callable[[str], None] | None = None, cloud_test: bool = True,
) -> ChangePair:
    """The two images read and laid on one grid (module doc). Raises :class:`InputError` naming the image
    for a pair that cannot be compared: of two sensors, one georeferenced and one not, two chips of other
    sizes, or images that do not overlap; band files naming other bands on each date, naming the band and the
    date without it; two images whose ``SITEWATCH_ACQUIRED`` tags put BEFORE after AFTER. ``say`` is told the sensor chosen and why, when not given, as ``detect-image`` tells it
    (a colour picture reads as optical, a grey one, as SAR chips are stored, as SAR), and the band files
    found in a folder.

    Optical cloud and cloud shadow are left out as an SCL band in the files marks them; where a date has none,
    as :func:`~sitewatch.change.cloud_twins.cloud_twins` finds them (a bright patch of one date with a darkened
    twin of its shape beside it), unless ``cloud_test`` is False; :attr:`ChangePair.notes` and
    :attr:`ChangePair.cloud_left_out` say how much."""
    b_date, a_date = _date(before, "before"), _date(after, "after")
    if b_date.bands and a_date.bands:
        _same_bands(b_date, a_date)
    for which, d in (("before", b_date), ("after", a_date)):
        if d.folder and say is not None:
            say(f"{which}: {_folder_read(Path(d.label), d.bands)}")
    kind, why = _date_sensor(b_date, sensor)
    other, _ = _date_sensor(a_date, sensor)
    if kind != other:
        raise InputError(
            f"{b_date.label} reads as {kind} and {a_date.label} as {other}: change compares two images of one sensor (--sensor to say which)"
        )
    if why and say is not None:
        say(f"sensor: {kind}, {why} (--sensor to choose)")
    (b_sim, b_time, b_scl), (a_sim, a_time, a_scl) = _date_tags(b_date), _date_tags(a_date)
    masks = [d for d, has in ((b_date, b_scl), (a_date, a_scl)) if has and kind == "optical"]
    if b_time is not None and a_time is not None and b_time > a_time:
        raise InputError(
            f"{b_date.label} was acquired {_iso(b_time)}, after {a_date.label} ({_iso(a_time)}): give the earlier image as "
            "BEFORE (swapped, what appeared would be called disappeared)"
        )
    dated = {"simulated": b_sim or a_sim, "before_acquired": _iso(b_time), "after_acquired": _iso(a_time),
             "credit": images_credits_text(_date_credits(b_date, b_sim) + _date_credits(a_date, a_sim))}  # fmt: skip
    pair = _read_change_pair(b_date, a_date, kind, pixel_size, dn_scale)
    notes: tuple[str, ...] = ()
    left_out: tuple[Mapping[str, Any], ...] = ()
    if masks:
        from .change_stage import CLOUD_MARGIN_M

        valid = _scl_valid(masks, pair)
        pair = replace(pair, before=replace(pair.before, valid=valid), after=replace(pair.after, valid=valid))
        notes = (f"cloud, cloud shadow and no data as the SCL band of {' and '.join(d.label for d in masks)} marks them "
                 f"(widened by {CLOUD_MARGIN_M:g} m) are not compared, as `sitewatch change` leaves them out",)  # fmt: skip
        left_out = ({"test": "SCL band", "left_out_fraction": round(1.0 - float(valid.mean()), 4) if valid.size else 0.0},)
    if kind == "optical" and cloud_test and len(masks) < 2:
        pair, note, summary = _shadow_twins_left_out(pair)
        notes += (note,) if note else ()
        left_out += (summary,)
    return replace(pair, notes=notes, cloud_left_out=left_out, **dated)  # type: ignore[arg-type]


def _shadow_twins_left_out(pair: ChangePair) -> tuple[ChangePair, str, dict[str, Any]]:
    """The pair with the cloud and shadow :func:`~sitewatch.change.cloud_twins.cloud_twins` finds left out (widened
    as an SCL band's cloud is), a note saying how much (empty when it found nothing), and the same as data."""
    from .change.cloud_twins import cloud_twins
    from .change_stage import CLOUD_MARGIN_M

    p = pair.pixel_size_m
    tw = cloud_twins(pair.before.data, pair.after.data, pair.before.bands, p, valid=pair.before.valid, margin_m=CLOUD_MARGIN_M)
    hidden = int(tw.hidden.sum())
    share = hidden / tw.held_px if tw.held_px else 0.0
    summary: dict[str, Any] = {
        "test": "shadow twins", "clouds": tw.clouds, "cloud_m2": round(tw.cloud_px * p * p, 1), "shadow_m2": round(tw.shadow_px * p * p, 1),
        "left_out_fraction": round(share, 4), "refused": tw.refused,
    }  # fmt: skip
    unmatched = (f"; {count_noun(tw.refused, 'bright patch', 'bright patches')} new on one date without a shadow twin "
                 f"{'is' if tw.refused == 1 else 'are'} compared (a new roof, bright ground, or a cloud whose shadow was not seen)"
                 if tw.refused else "")  # fmt: skip
    if not hidden:
        return pair, (f"no cloud found by its shadow{unmatched}" if tw.refused else ""), summary
    valid = ~tw.hidden if pair.before.valid is None else pair.before.valid & ~tw.hidden
    pair = replace(pair, before=replace(pair.before, valid=valid), after=replace(pair.after, valid=valid))
    note = (f"{count_noun(tw.clouds, 'cloud')} found by {'its' if tw.clouds == 1 else 'their'} shadow (bright on one date only, a darkened twin of its shape beside it): "
            f"{tw.cloud_px * p * p:,.0f} m² of cloud and {tw.shadow_px * p * p:,.0f} m² of shadow, widened by {CLOUD_MARGIN_M:g} m, "
            f"not compared ({share_text(share)} of the pixels){unmatched}; --no-cloud-test compares them")  # fmt: skip
    return pair, note, summary


def _scl_valid(dates: Sequence[_Date], pair: ChangePair) -> NDArray[np.bool_]:
    """The pixels of the compared grid that no date's SCL band marks as cloud, cloud shadow or no data, cloud and
    shadow widened by :data:`~sitewatch.change_stage.CLOUD_MARGIN_M` as ``change`` widens them; each SCL read on
    its file's own grid and laid on the compared one by nearest neighbour (no data where it does not reach)."""
    import rasterio
    from rasterio.warp import Resampling, reproject
    from scipy import ndimage

    from .change_stage import CLOUD_MARGIN_M
    from .detect.clouds import SCL_CLOUD, SCL_NO_DATA

    grid = pair.before.grid
    hidden = np.zeros(grid.shape, bool)
    gone = np.zeros(grid.shape, bool)
    for d in dates:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NotGeoreferencedWarning of a chip
            with rasterio.open(d.image) as ds:
                k = next(i for i, n in enumerate(ds.descriptions, 1) if str(n or "").strip().upper() == "SCL")
                own = ds.read(k)
                own = np.where(np.isfinite(own), own, 0).astype(np.uint8) if own.dtype.kind == "f" else own.astype(np.uint8)
                same = not pair.georeferenced or (ds.crs is not None and ds.crs.to_string() == str(grid.crs)
                                                  and tuple(ds.transform)[:6] == tuple(grid.transform) and own.shape == grid.shape)  # fmt: skip
                if same:
                    scl = own
                else:
                    scl = np.zeros(grid.shape, np.uint8)
                    reproject(own, scl, src_transform=ds.transform, src_crs=ds.crs, dst_transform=grid.affine, dst_crs=grid.crs,
                              src_nodata=None, dst_nodata=0, resampling=Resampling.nearest)  # fmt: skip
        hidden |= np.isin(scl, SCL_CLOUD)
        gone |= np.isin(scl, SCL_NO_DATA)
    if hidden.any():
        # Cloud edges and thin haze around what SCL holds read as change: widened as `change` widens them.
        hidden = ndimage.binary_dilation(hidden, iterations=max(1, round(CLOUD_MARGIN_M / max(1.0, pair.pixel_size_m))))
    return ~(hidden | gone)


def _read_change_pair(b_date: _Date, a_date: _Date, kind: Sensor, pixel_size: float | None, dn_scale: float | None) -> ChangePair:
    """:func:`read_change_pair` once the dates and their sensor are known."""
    before, after = b_date.label, a_date.label
    b_files, a_files = ({n: str(p) for n, p in d.bands.items()} for d in (b_date, a_date))
    from .change_image_rows import _rows_pair, _sar_rows_pair

    rows: Any = _rows_pair(b_date, a_date, pixel_size, dn_scale) if kind == "optical" else None
    if kind == "sar" and dn_scale is None:
        rows = _sar_rows_pair(b_date, a_date, pixel_size)
    if rows is not None:
        b_rows, a_rows, grid = rows
        return ChangePair(
            ChangeImage(b_rows, grid, kind, b_rows.names, label=before, rendering=b_rows.rendering),
            ChangeImage(a_rows, grid, kind, a_rows.names, label=after, rendering=a_rows.rendering),
            True, float(abs(grid.transform[0])), before_bands=b_files, after_bands=a_files,
        )  # fmt: skip
    b = _read(b_date, kind, pixel_size, dn_scale)
    a = _read(a_date, kind, pixel_size, dn_scale)
    if kind == "optical":
        common = tuple(n for n in b.bands if n in a.bands)
        if len(common) < len(b.bands) or len(common) < len(a.bands):
            b = _Raster(b.data[[b.bands.index(n) for n in common]], common, b.crs, b.transform, b.pixel_size, b.rendering)
            a = _Raster(a.data[[a.bands.index(n) for n in common]], common, a.crs, a.transform, a.pixel_size, a.rendering)
    geo_b, geo_a = b.transform is not None and b.crs is not None, a.transform is not None and a.crs is not None
    if geo_b != geo_a:
        placed, loose = (before, after) if geo_b else (after, before)
        raise InputError(f"{placed} is georeferenced and {loose} is not: give two georeferenced images, or two chips of one size with --pixel-size")
    if not geo_b:
        if b.data.shape[1:] != a.data.shape[1:]:
            raise InputError(
                f"{before} is {b.data.shape[2]} × {b.data.shape[1]} pixels and {after} {a.data.shape[2]} × {a.data.shape[1]}: "
                "images without georeference are compared pixel for pixel and must be of one size"
            )
        p = float(b.pixel_size[0])
        h, w = b.data.shape[1:]
        grid = Grid(_STAND_IN_CRS, (p, 0.0, _STAND_IN[0], 0.0, -p, _STAND_IN[1]), w, h)
        return ChangePair(
            ChangeImage(b.data, grid, kind, b.bands, label=before, rendering=b.rendering),
            ChangeImage(a.data, grid, kind, a.bands, label=after, rendering=a.rendering), False, p,
            before_bands=b_files, after_bands=a_files,
        )  # fmt: skip
    warped = []
    if _metric(b):
        t = b.transform
        grid = Grid(crs=b.crs, transform=(t.a, t.b, t.c, t.d, t.e, t.f), width=b.data.shape[2], height=b.data.shape[1])  # type: ignore[arg-type]
        data_b = b.data
    else:
        grid = _utm_grid(b)
        data_b = _on_grid(b, grid)
        warped.append("before")
        t = b.transform
        own = Grid(crs=b.crs, transform=(t.a, t.b, t.c, t.d, t.e, t.f), width=b.data.shape[2], height=b.data.shape[1])  # type: ignore[arg-type]
    same = a.crs == grid.crs and a.transform is not None and tuple(a.transform)[:6] == grid.transform and a.data.shape[1:] == grid.shape
    data_a = a.data if same else _on_grid(a, grid)
    if not same:
        warped.append("after")
    overlap = np.isfinite(data_b).all(axis=0) & np.isfinite(data_a).all(axis=0)
    if not overlap.any():
        raise InputError(f"{before} and {after} do not overlap (no pixel with data in both)")
    p = float(abs(grid.transform[0]))
    return ChangePair(
        ChangeImage(data_b, grid, kind, b.bands, label=before, rendering=b.rendering),
        ChangeImage(data_a, grid, kind, a.bands, label=after, rendering=a.rendering), True, p,
        tuple(warped), own if warped[:1] == ["before"] else None, b_files, a_files,
    )  # fmt: skip


def change_images(
    before: ImageSource, after: ImageSource, *, sensor: Sensor | None = None, pixel_size: float | None = None, dn_scale: float | None = None,
    min_area_m2: float = 200.0, cover_classes: int = COVER_CLASSES, say: Callable[[str], None] | None = None, learned: bool = True,
    cloud_test: bool = True,
) -> tuple[ChangePair, ChangeResult]:  # fmt: skip
    """The pair (:func:`read_change_pair`) and what :func:`~sitewatch.change.detect_changes` finds in it."""
    pair = read_change_pair(before, after, sensor=sensor, pixel_size=pixel_size, dn_scale=dn_scale, say=say, cloud_test=cloud_test)
    return pair, detect_changes(pair.before, pair.after, min_area_m2=min_area_m2, classes=cover_classes, learned=learned)


def _to_pixels(geom: Any, p: float) -> Any:
    """A polygon of the stand-in grid in pixel coordinates (x = column, y = row, pixel centres at integers)."""
    from shapely.affinity import affine_transform

    return affine_transform(geom, [1 / p, 0.0, 0.0, -1 / p, -_STAND_IN[0] / p - 0.5, _STAND_IN[1] / p - 0.5])


def change_pair_geojson(pair: ChangePair, result: ChangeResult) -> dict[str, Any]:
    """The regions as a GeoJSON FeatureCollection: WGS84 for georeferenced images, pixels otherwise; the
    collection's ``sitewatch`` member says what was compared and how."""
    from shapely.geometry import mapping

    from . import __version__
    from .geo import cut_at_antimeridian
    from .store.gpkg import as_multipolygon

    # Each region says when it lies between and whether it is simulated, as `export --layer changes` does: a GIS
    # shows a feature's properties, not the collection's `sitewatch` member (which names the files).
    dated: dict[str, Any] = {k: v for k, v in (("before_acquired", pair.before_acquired), ("after_acquired", pair.after_acquired)) if v}
    dated["simulated"] = pair.simulated
    credit = {"credit": pair.credit} if pair.credit else {}  # last, as in `export --layer changes`
    features = []
    for k, r in enumerate(result.regions):
        # Every region a MultiPolygon: a layer of both kinds is "Unknown" to GDAL, and QGIS asks which to load.
        geom = as_multipolygon(r.polygon_wgs84 if pair.georeferenced else _to_pixels(r.polygon, pair.pixel_size_m))
        features.append({
            "type": "Feature", "id": k, "geometry": mapping(cut_at_antimeridian(geom) if pair.georeferenced else geom),
            "properties": {"direction": r.direction, "area_m2": r.area_m2, "magnitude": r.magnitude, "pixels": r.pixels} | dated | credit,
        })  # fmt: skip
    meta: dict[str, Any] = {
        "before": pair.before.name, "after": pair.after.name, "sensor": result.sensor, "method": result.method,
        "method_version": result.method_version, "compared_fraction": result.compared_fraction,
        "parameters": result.parameters, "pixel_size_m": pair.pixel_size_m, "sitewatch": __version__,
        "compared_on": pair.before.grid.crs if pair.georeferenced else "pixels, as given",
        "warped": list(pair.warped), "simulated": pair.simulated, **credit, "notes": list(pair.notes),
        "cloud_left_out": [dict(c) for c in pair.cloud_left_out],
    }  # fmt: skip
    meta |= {k: v for k, v in (("before_acquired", pair.before_acquired), ("after_acquired", pair.after_acquired)) if v}
    meta |= {k: dict(v) for k, v in (("before_bands", pair.before_bands), ("after_bands", pair.after_bands)) if v}
    fc: dict[str, Any] = {"type": "FeatureCollection", "features": features, "sitewatch": meta}
    if not pair.georeferenced:
        meta["coordinates"] = "pixel (x=col, y=row, pixel centres at integers)"
        fc["crs"] = {"type": "name", "properties": {"name": 'LOCAL_CS["pixel"]'}}
    return fc


def write_change_mask(pair: ChangePair, result: ChangeResult, path: Path) -> None:
    """The changed pixels (255) on the earlier image's own grid, 0 elsewhere: a GeoTIFF (``.tif``)
    georeferenced as that grid (none for a pair without georeference), or a PNG (``.png``), to score
    against a change map drawn on the earlier image. Where that image was laid on a UTM grid to be
    compared (degrees, Web Mercator: OSCD's cities), the changed pixels go back onto its own grid by
    nearest neighbour, so that the mask is pixel for pixel the image's, as its change map is."""
    from .files import written_whole

    mask = np.asarray(result.changed, bool).astype(np.uint8) * np.uint8(255)  # not bool × int: 8 bytes a pixel
    grid = pair.before.grid
    if pair.before_grid is not None:
        from rasterio.warp import Resampling, reproject

        own = np.zeros((pair.before_grid.height, pair.before_grid.width), np.uint8)
        reproject(
            mask, own, src_transform=grid.affine, src_crs=grid.crs, dst_transform=pair.before_grid.affine,
            dst_crs=pair.before_grid.crs, resampling=Resampling.nearest,
        )  # fmt: skip
        mask, grid = own, pair.before_grid
    with written_whole(path) as tmp:  # a rerun replaces it; a failure leaves nothing behind, naming the file
        if path.suffix.lower() == ".png":
            from PIL import Image

            Image.fromarray(mask).save(tmp, format="PNG")
        else:
            import rasterio

            profile: dict[str, Any] = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1, "dtype": "uint8", "compress": "deflate"}
            if pair.georeferenced:
                profile |= {"crs": grid.crs, "transform": grid.affine}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # NotGeoreferencedWarning for a chip's mask
                with rasterio.open(tmp, "w", **profile) as ds:
                    ds.write(mask, 1)
