"""Optical detection on image files: one multi-band file or one file per band, any size.

This is the file-facing edge of :mod:`sitewatch.detect.optical` used by
``sitewatch detect-image --sensor optical`` and by the pipeline:

- **Bands.** Either a single file whose bands are named by their
  descriptions (``blue``/``green``/``red``/``nir``, or Sentinel-2 codes
  ``B02``/``B03``/``B04``/``B08``, optionally ``SCL``), or, without descriptions,
  by their colour interpretation (red, green and blue only: a fourth band,
  ``undefined`` or ``alpha``, is not taken for NIR), or ordered by count
  (3 bands: red, green, blue as in an RGB rendering; 4 bands: blue, green,
  red, nir as in PlanetScope analytic products); or one file per band
  (``{"blue": path, ...}``), all on one grid.
- **Clouds.** An ``SCL`` band, or a Planet scene's UDM2 (``{"udm2": path}``, or found beside a
  Planet file by its name: :func:`~sitewatch.sources.planet.udm2_sibling`), read in SCL's
  classes, is the cloud mask; without either the spectral test runs.
- **Reflectance.** Values go through :func:`~sitewatch.detect.optical.to_reflectance`
  (floats as is, 8-bit / 255, other integers / 10000 after ``offset``, or / 65535
  when their range says the export was stretched to the full 16 bits:
  :func:`~sitewatch.detect.optical.infer_dn_scale`, judged once a scene;
  ``scale`` overrides). A Planet radiance file is scaled band by band by its metadata XML's
  (SkySat: its GeoTIFF header's) reflectance coefficients (:mod:`sitewatch.sources.planet_toa`), or refused without them.
- **Size.** Scenes are cut into overlapping tiles (bounded memory); scene-wide water
  references come from a decimated read so every tile judges contrast
  against the same water; each detection is kept by the one tile whose core
  holds its centroid. Tiles with no water in reach are skipped: a vessel
  needs water.
- **Workers.** Tiles run in ``workers`` forked processes where the platform
  forks (Linux): the detector's many small numpy steps hold the GIL long
  enough that threads gave no speed-up; elsewhere threads.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..band_scaling import DECLARED_SCALING, Scaling, apply_scaling, declares_any, shared_scale
from ..blas import one_blas_thread_in_process
from ..errors import ImageReadError, InputError, UncalibratedWarning, read_failure
from ..run import end_with_command
from ..sources.landsat import LandsatProduct, numbered_band_refusal
from ..sources.maxar_toa import MaxarTOA, maxar_toa
from ..sources.planet import check_udm2, read_udm2_as_scl, udm2_sibling
from ..sources.planet_toa import PlanetTOA, planet_toa
from ..sources.providers import ProviderProduct, optical_band_indexes, provider_product
from ..sources.safe import S2Product
from ..untrusted import check_not_linking
from ..zero_collar import zero_is_no_data_in
from .base import PixelDetection
from .clouds import cloud_mask, qa_pixel_to_scl, scl_no_data
from .image import ImageInfo, _same_grid, image_path, open_image_info
from .optical import (
    BANDS,
    OpticalParams,
    SceneStats,
    detect_optical_result,
    infer_dn_scale,
    model_for,
    params_for_dn_scale,
    scene_stats,
    to_reflectance,
)
from .optical_features import _band_set
from .optical_water import ndwi
from .tiling import plan_tiles, shift_detection

__all__ = [
    "OpticalSource",
    "open_optical",
    "detect_optical_image",
    "detect_optical_tiled",
    "decimated_shape",
    "OpticalImageResult",
    "parse_band_args",
    "named_optical_bands",
    "sensor_from_band_names",
    "optical_source_from_safe",
    "optical_source_from_landsat",
    "bands_by_colour",
]

_ALIASES: dict[str, str] = {
    "blue": "blue", "b": "blue", "b02": "blue", "b2": "blue",
    "green": "green", "g": "green", "b03": "green", "b3": "green",
    "red": "red", "r": "red", "b04": "red", "b4": "red",
    "nir": "nir", "n": "nir", "b08": "nir", "b8": "nir", "nir08": "nir",
    "scl": "scl", "udm2": "udm2",
}  # fmt: skip


@dataclass(frozen=True)
class OpticalSource:
    """Where each band of an optical scene is: band name -> (file, 1-based band index)."""

    bands: Mapping[str, tuple[Path | str, int]]
    info: ImageInfo
    """Grid of the scene (from the first band's file)."""
    nodata: Mapping[str, float | None]
    zero_no_data: bool = False
    """DN 0 in every reflectance band is read as no data, the files declaring none
    (:func:`sitewatch.zero_collar.zero_is_no_data`); ``nodata`` then holds 0 for each band."""
    udm2: Path | str | None = None
    """A Planet UDM2 on the scene's grid, read as the band ``scl`` (:func:`~sitewatch.sources.planet.read_udm2_as_scl`)."""
    qa_pixel: Path | None = None
    """A Landsat ``QA_PIXEL`` on the scene's grid, read as the band ``scl`` (:func:`~sitewatch.detect.clouds.qa_pixel_to_scl`)."""
    alpha: tuple[Path | str, int] | None = None
    """The alpha band of an RGBA file (a Planet or SkySat Visual product), 0 where nothing was imaged:
    read with the bands (as ``alpha``) and those pixels no data, as GDAL's mask (and ingest) has them."""
    toa: PlanetTOA | MaxarTOA | None = None
    """A Planet radiance file's reflectance coefficients (:func:`~sitewatch.sources.planet_toa.planet_toa`), or a
    Maxar file's by its ``.IMD`` (:func:`~sitewatch.sources.maxar_toa.maxar_toa`): each band's DN times its own,
    unless the caller gives a scale."""
    declared: Mapping[str, Scaling] | None = None
    """Each reflectance band's (scale, offset) as its file declares them (:mod:`sitewatch.band_scaling`):
    reflectance = DN x scale + offset, unless the caller gives a scale or an offset
    (:func:`declared_applies`); None when no band declares any, and for a Planet radiance file (``toa``)."""

    def gain(self, band: str) -> float | None:
        """TOA reflectance per DN of ``band`` by the Planet metadata, or None."""
        if self.toa is None or band not in self.bands:
            return None
        return self.toa.coefficients[self.bands[band][1] - 1]


@dataclass(frozen=True)
class OpticalImageResult:
    """Detections on a whole scene and how much of it cloud hid."""

    info: ImageInfo
    detections: list[PixelDetection]
    cloud_fraction: float | None
    """Fraction of valid pixels under cloud or cloud shadow (None: no valid pixel, nothing seen)."""
    valid_fraction: float
    dn_scale: float | None = None
    """Divisor that turned the stored values into reflectance (None: they were floats)."""
    dn_scale_from: str = "given"
    """``"given"`` by the caller, ``"values"``: inferred from the value range (:func:`infer_dn_scale`), or the
    Planet metadata XML whose reflectance coefficients scaled each band (``dn_scale`` then None)."""
    model: str = ""
    """Weights file the learned stages ran on (:func:`~sitewatch.detect.optical.model_for`): the
    four-band model, or the RGB model when the input has no NIR band."""
    zero_no_data: bool = False
    """DN 0 in every band was read as no data (integer files wider than 8 bits declaring no no-data value)."""
    declared: Mapping[str, Scaling] | None = None
    """Each band's (scale, offset) the values were read by when the files declare them (``dn_scale_from``
    :data:`~sitewatch.band_scaling.DECLARED_SCALING`); None otherwise."""


def parse_band_args(values: tuple[str, ...] | list[str], option: str = "--band") -> dict[str, Path | str]:
    """``("blue=a.tif", "nir=b.tif")`` -> ``{"blue": Path("a.tif"), ...}``, naming any bad item as
    given with ``option`` (``change-image``'s ``--before-band``).

    A GDAL virtual path stays a string (:func:`~sitewatch.detect.image.image_path`)."""
    out: dict[str, Path | str] = {}
    for v in values:
        name, sep, path = v.partition("=")
        key = _ALIASES.get(name.strip().lower())
        if not sep or not path or key is None:
            raise InputError(
                f"{option} {v!r}: use NAME=PATH with NAME one of blue, green, red, nir, scl, udm2 (or B02, B03, B04, B08)"
            )
        if key in out:
            raise InputError(f"{option} {key} given twice")
        out[key] = image_path(path)
        if (numbered := numbered_band_refusal(path, [name.strip()], f"{option} {name.strip()}")) is not None:
            raise InputError(numbered)
    return out


@dataclass(frozen=True)
class _BandLabels:
    """What a file says about its bands, read once."""

    descriptions: list[str]
    """Each band's description, stripped and lower-case ("" when it has none)."""
    colours: list[str]
    """Each band's GDAL colour interpretation (``red``, ``green``, ``undefined``, ``alpha``, …)."""
    driver: str
    dtypes: tuple[str, ...] = ()
    """Each band's data type (``uint16``, ``float32``, …)."""


def _band_labels(path: str | Path) -> _BandLabels:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a question for open_image_info
        with rasterio.open(path) as ds:
            check_not_linking(ds.driver, path)
            return _BandLabels(
                [(d or "").strip().lower() for d in ds.descriptions], [c.name for c in ds.colorinterp], ds.driver,
                tuple(ds.dtypes),
            )


def _refuse_numbered_tm_bands(path: str | Path, labels: _BandLabels) -> None:
    """A Landsat 4, 5 or 7 file (by its name) whose band descriptions number its bands (B2…) is refused:
    read as Sentinel-2's codes its green would be blue (:func:`~sitewatch.sources.landsat.numbered_band_refusal`)."""
    if (why := numbered_band_refusal(path, labels.descriptions, "its band descriptions")) is not None:
        raise InputError(why)


def _named_bands(labels: _BandLabels) -> dict[str, int]:
    named = {_ALIASES[d]: i + 1 for i, d in enumerate(labels.descriptions) if d in _ALIASES}
    return named if "green" in named and ({"red", "nir"} & set(named)) else {}


_PLACEHOLDER = re.compile(r"band[ _-]?\d+")
"""A band description that only numbers the band (descriptions are compared lower-case)."""


def _colour_bands(labels: _BandLabels) -> dict[str, int]:
    return bands_by_colour(labels.descriptions, labels.colours)


def bands_by_colour(descriptions: Sequence[str | None], colours: Sequence[str]) -> dict[str, int]:
    """red/green/blue → 1-based band index from GDAL's colour interpretations (``colours``: the
    ``ColorInterp`` names), or empty when the bands are described or are not one each of red,
    green and blue. Other bands (alpha, undefined) are left out: none of them is NIR."""
    # Only when no band has a description: a description says what a band holds, while GDAL
    # gives every 3- or 4-band 8-bit GeoTIFF red, green, blue unless told otherwise. The
    # placeholders some tools write ("Band 1", "band_2") say nothing, and count as none.
    if any(d and not _PLACEHOLDER.fullmatch(d.strip().lower()) for d in descriptions if d and d.strip()):
        return {}
    rgb = ("red", "green", "blue")
    if any(list(colours).count(c) != 1 for c in rgb):
        return {}
    return {c: list(colours).index(c) + 1 for c in rgb}


def named_optical_bands(path: str | Path) -> tuple[dict[str, int], int]:
    """The optical bands a file's band descriptions name (name -> 1-based index), and its band count.

    Empty unless green and red (or green and NIR) are named: enough to run the
    optical detector on the file by its names alone.
    """
    labels = _band_labels(path)
    _refuse_numbered_tm_bands(path, labels)
    return _named_bands(labels), len(labels.descriptions)


def sensor_from_band_names(image: str | Path | None, bands: Sequence[str] = ()) -> tuple[str, str]:
    """The detector to run when the user did not say, and why: ``(sensor, reason)``.

    ``optical`` when the ``--band NAME=PATH`` names are optical bands, when the
    image's band descriptions name them (blue/green/red/nir, B02/B03/B04/B08),
    when a GeoTIFF without band descriptions has red, green and blue colour
    interpretations, when a Planet scene's UDM2 lies beside the image, or when the provider's file name
    or metadata sidecar says it is an optical product (:func:`~sitewatch.sources.providers.provider_product`:
    PlanetScope, SkySat, Maxar, Airbus), or when a PNG, JPEG, WebP or BMP picture of three or four
    channels has colour in it (its red, green and blue differ by :data:`COLOUR_SPREAD` grey levels or
    more on average: a SAR chip stored in colour repeats one grey); otherwise ``sar``, the default. An
    unreadable image is left to the detector to report.
    """
    names = [b.partition("=")[0].strip().lower() for b in bands]
    if names:
        if all(n in _ALIASES for n in names):
            return "optical", f"from the --band names {', '.join(names)}"
        return "sar", "from the --band names"
    if image is not None:
        try:
            labels = _band_labels(image)
        except Exception:  # missing or unreadable: open_image_info names it later
            labels = _BandLabels([], [], "")
        _refuse_numbered_tm_bands(image, labels)
        named = _named_bands(labels)
        if named:
            by_index = sorted(named, key=named.__getitem__)
            return "optical", f"from the band descriptions {', '.join(by_index)}"
        colour = _colour_bands(labels) if labels.driver == "GTiff" else {}
        if colour:
            why = f"from the colour interpretation {', '.join(sorted(colour, key=colour.__getitem__))}"
            unread = [str(i + 1) for i in range(len(labels.colours)) if i + 1 not in colour.values()]
            if unread:
                why += f" (band {', '.join(unread)} not read: no band is named nir)"
            return "optical", why
        udm2 = udm2_sibling(image)
        if udm2 is not None:
            return "optical", f"a Planet scene, its usable data mask {udm2.name} beside it"
        product = provider_product(image, len(labels.descriptions)) if labels.descriptions else None
        if product is not None:  # PlanetScope, SkySat, Maxar, Airbus: their names and sidecars say optical
            return "optical", product.reason
        if labels.driver in _PICTURE_DRIVERS and len(labels.descriptions) in (3, 4):
            spread = _channel_spread(image)
            if spread is not None and spread >= COLOUR_SPREAD:
                return "optical", (
                    f"a colour picture: its first three channels differ by {spread:.1f} grey levels on average "
                    "(a SAR chip stored in colour has them equal)"
                )
    return "sar", "the default: no band is named blue, green, red or nir"


_PICTURE_DRIVERS = ("PNG", "JPEG", "WEBP", "BMP")
"""Picture formats whose colour says nothing about their bands: their content is looked at instead."""

COLOUR_SPREAD = 1.0
"""Grey levels (of 255) by which a picture's red, green and blue must differ on average (the mean of
|R - G| and |G - B|) for it to be taken as optical without ``--sensor``. SAR chips stored as colour
pictures repeat one grey in each channel (0.00 on the SAR-Ship-Dataset and HRSID chips here, JPEG's
colour noise included); the least coloured optical pictures here differ by 3.8 (LEVIR-CD), 3.9 (DSIFN-CD)
and 4.3 (OSCD's renderings) grey levels. A false-colour SAR composite (VV, VH and their ratio as red,
green and blue) reads as optical: ``--sensor sar`` for it."""


def _channel_spread(image: str | Path) -> float | None:
    """The mean of |R - G| and |G - B| of a picture's first three bands, in grey levels of 255 (of their
    type's range), read at most 512 pixels a side; None when it cannot be read."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.errors import NotGeoreferencedWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(image) as ds:
                step = max(1, -(-max(ds.width, ds.height) // 512))
                shape = (3, max(1, ds.height // step), max(1, ds.width // step))
                rgb = ds.read([1, 2, 3], out_shape=shape, resampling=Resampling.nearest).astype(np.float64)
                full = float(np.iinfo(ds.dtypes[0]).max) if np.issubdtype(np.dtype(ds.dtypes[0]), np.integer) else 1.0
    except Exception:  # unreadable: open_image_info names it later
        return None
    return float((np.abs(rgb[0] - rgb[1]).mean() + np.abs(rgb[1] - rgb[2]).mean()) / 2 * 255 / full)


def _given_pixel_size(pixel_size: float | tuple[float, float] | None) -> tuple[tuple[float, float] | None, float | None]:
    """A caller's ``pixel_size`` as the (x, y) pair that replaces the image's (None: not given as a pair), and
    as the one number :func:`open_image_info` takes (a pair's x)."""
    if isinstance(pixel_size, tuple):
        pair = (float(pixel_size[0]), float(pixel_size[1]))
        return pair, pair[0]
    return None, pixel_size


def open_optical(
    source: str | Path | Mapping[str, str | Path],
    pixel_size: float | tuple[float, float] | None = None,
    *,
    udm2: str | Path | None = None,
    scale_given: bool = False,
) -> OpticalSource:
    """Find the bands of an optical scene and check they share one grid.

    Band files (a mapping) must be one band each, on one CRS and transform, all integer or
    all float, and each a file of its own; anything else is an :class:`InputError` naming it.
    ``udm2`` (or the mapping's ``udm2``) is a Planet usable data mask for the scene; a single
    Planet file without one takes the UDM2 delivered beside it, if any
    (:func:`~sitewatch.sources.planet.udm2_sibling`). A UDM2 not of 8 bands, or not on the
    scene's grid, is an :class:`InputError` naming it.

    ``pixel_size`` (metres, or an (x, y) pair) overrides the georeference's
    ground pixel size; it is required for images without one.

    A Planet radiance file (``…_3B_AnalyticMS_clip.tif``) takes the reflectance coefficients of its
    metadata XML, a SkySat ``…_analytic`` file those of its GeoTIFF header; without them, and a SkySat
    ``analytic_dn`` file, it is an :class:`InputError` naming
    the file unless ``scale_given`` (the caller's scale then applies). A Maxar file of counts takes the
    calibration of its ``.IMD``; without it (or its figures) it is read by its range, with an
    :class:`~sitewatch.errors.UncalibratedWarning` naming it.
    """
    toa: PlanetTOA | MaxarTOA | None = None
    pair, scalar = _given_pixel_size(pixel_size)
    alpha: tuple[Path | str, int] | None = None
    if isinstance(source, Mapping):
        paths = {(_ALIASES.get(k.lower()) or k): image_path(v) for k, v in source.items()}
        unknown = set(paths) - set(BANDS) - {"scl", "udm2"}
        if unknown:
            raise InputError(f"unknown band name(s) {sorted(unknown)}; use {list(BANDS)}, scl and udm2")
        _refuse_one_file_twice(paths)
        if "udm2" in paths and udm2 is not None:
            raise InputError(f"two UDM2 files given ({paths['udm2']}, {udm2}): give the scene's one")
        udm2 = paths.pop("udm2", None) or udm2
        bands = {k: (p, 1) for k, p in paths.items()}
    else:
        path = image_path(source)
        open_image_info(path, scalar)  # clear errors for missing / unreadable files
        product = None
        labels = _band_labels(path)
        _refuse_numbered_tm_bands(path, labels)
        named, colour, count = _named_bands(labels), _colour_bands(labels), len(labels.descriptions)
        if named:
            bands = {k: (path, i) for k, i in named.items()}
        elif colour:
            bands = {k: (path, i) for k, i in colour.items()}
        elif (product := provider_product(path, count)) is not None:
            # The provider's layout (a Pléiades file may be red, green, blue, NIR; an 8-band WorldView
            # file's NIR is band 7), or a refusal naming why it cannot be known: not the count's guess.
            bands = {k: (path, i) for k, i in optical_band_indexes(product, path).items()}
            toa = planet_toa(path, product, count, scale_given=scale_given)
            if toa is None and not scale_given:
                # A Maxar file of counts: TOA reflectance by its .IMD, as ingest reads it; without, by its range, said.
                maxar = maxar_toa(path, product, count)
                if isinstance(maxar, str):
                    warnings.warn(maxar, UncalibratedWarning, stacklevel=2)
                elif maxar is not None:
                    toa = maxar
        elif count == 3:
            bands = {"red": (path, 1), "green": (path, 2), "blue": (path, 3)}
        elif count >= 4:
            bands = {"blue": (path, 1), "green": (path, 2), "red": (path, 3), "nir": (path, 4)}
        else:
            raise InputError(
                f"{path}: {count} band(s) without blue/green/red/nir descriptions; "
                "pass one file per band with --band NAME=PATH"
            )
        alpha = _alpha_band(path, labels.colours, product if not (named or colour) else None)
        if udm2 is None and "scl" not in bands:
            udm2 = udm2_sibling(path)
    if "green" not in bands or not ({"red", "nir"} & set(bands)):
        raise InputError("optical detection needs at least green and red (or green and nir) bands")
    infos = {k: open_image_info(p, scalar) for k, (p, _) in bands.items()}
    first = infos.get("green") or next(iter(infos.values()))
    for k, inf in infos.items():
        if (inf.width, inf.height) != (first.width, first.height):
            raise InputError(
                f"band {k} ({inf.path}) is {inf.width}x{inf.height}, "
                f"green is {first.width}x{first.height}: resample the bands to one grid"
            )
    if isinstance(source, Mapping):
        _check_band_files(infos, first)
    if udm2 is not None:
        if "scl" in bands:
            raise InputError(f"--band scl and --band udm2 ({udm2}): give one cloud mask, not two")
        udm2 = image_path(udm2)
        check_udm2(udm2, first.path)
    if pair is not None:
        first = replace(first, pixel_size=pair)
    nodata = {k: inf.nodata for k, inf in infos.items()}
    # A black collar (gdalwarp without -dstnodata) declares nothing: DN 0 in every band is no data,
    # as a declared no-data value held by every band is (_to_reflectance).
    zero = zero_is_no_data_in([v for k, v in bands.items() if k != "scl"])
    if zero:
        nodata = {k: (0.0 if k != "scl" else nd) for k, nd in nodata.items()}
    scalings = {k: (infos[k].scaling or ((1.0, 0.0),) * i)[i - 1] for k, (_, i) in bands.items() if k != "scl"}
    declared = scalings if toa is None and declares_any(scalings.values()) else None
    return OpticalSource(bands, first, nodata, zero, udm2, alpha=alpha, toa=toa, declared=declared)


def declared_applies(src: OpticalSource, scale: float | None, offset: float = 0.0) -> bool:
    """Whether ``src``'s bands are read by the scale and offset their files declare: they declare some, and
    the caller gives neither a scale nor an offset (``--dn-scale``, ``--dn-offset``), which override them."""
    return src.declared is not None and scale is None and not offset


def _alpha_band(path: Path | str, colours: Sequence[str], product: ProviderProduct | None) -> tuple[Path | str, int] | None:
    """The alpha band of a single file, by its colour interpretation or its provider's layout (Visual: red, green, blue, alpha)."""
    if "alpha" in colours:
        return path, colours.index("alpha") + 1
    if product is not None and product.bands is not None and "alpha" in product.bands:
        return path, product.bands.index("alpha") + 1
    return None


def _refuse_one_file_twice(paths: Mapping[str, Path | str]) -> None:
    """One file given for two bands (a slip when typing the --band list) is named: read twice, the
    two bands are equal, and NDWI, the detector's water, is 0 everywhere."""
    import os

    seen: dict[str, str] = {}
    for name, path in paths.items():
        key = str(path)
        if isinstance(path, Path) and path.exists():
            st = os.stat(path)
            key = f"{st.st_dev}:{st.st_ino}"
        if key in seen:
            raise InputError(f"--band {seen[key]} and --band {name} are one file ({path}): give each band its own file")
        seen[key] = name


def _check_band_files(infos: Mapping[str, ImageInfo], first: ImageInfo) -> None:
    """One-band files on one grid, all integer or all float: else the detector would read
    pixels of different places (or another band of a multi-band file) as one scene."""
    from rasterio.crs import CRS

    green = next(k for k, inf in infos.items() if inf is first)
    kinds: dict[str, list[str]] = {}
    for k, inf in infos.items():
        if inf.count != 1:
            raise InputError(
                f"--band {k} {inf.path}: has {inf.count} bands, and --band reads one band a file; "
                "give a multi-band file as IMAGE (its bands are found by their names, or their order)"
            )
        if k != "scl":
            dtype = _band_labels(inf.path).dtypes[0]
            kinds.setdefault("float" if dtype.startswith(("float", "complex")) else "integer", []).append(f"{k} {dtype}")
        if inf is first:
            continue
        if (inf.transform is None) != (first.transform is None):
            has, lacks = (k, green) if first.transform is None else (green, k)
            raise InputError(f"band {has} is georeferenced and band {lacks} is not: give the bands on one grid")
        if inf.transform is None or first.transform is None:
            continue
        same_crs = (inf.crs is None and first.crs is None) or (
            inf.crs is not None and first.crs is not None and CRS.from_user_input(inf.crs) == CRS.from_user_input(first.crs)
        )
        # Corners of the two grids within a hundredth of a pixel (exports round their transforms differently).
        tol = 0.01 * min(abs(first.transform.a) + abs(first.transform.b), abs(first.transform.d) + abs(first.transform.e))
        h, w = first.height, first.width
        corners = [(0, 0), (w, 0), (0, h), (w, h)]
        near = all(math.dist(inf.transform @ c, first.transform @ c) <= tol for c in corners)
        if not (same_crs and near):
            where = "its CRS" if not same_crs else "its transform (place or pixel size)"
            raise InputError(
                f"band {k} ({inf.path}) is not on the grid of band {green} ({first.path}): {where} differs; "
                "resample the bands to one grid (gdalwarp -tap -tr, or sitewatch ingest, which does)"
            )
    if len(kinds) > 1:
        raise InputError(
            f"the bands mix integer ({', '.join(kinds['integer'])}) and float ({', '.join(kinds['float'])}) values: "
            "integers are read as reflectance x 10000 (or 65535, 255) and floats as reflectance; give every band in one of them"
        )


def optical_source_from_safe(product: S2Product, pixel_size: float | tuple[float, float] | None = None) -> OpticalSource:
    """The bands of a Sentinel-2 L2A SAFE product as one optical scene on its 10 m grid.

    The 20 m SCL is put on the 10 m grid by nearest neighbour (a VRT over GDAL's 20 m
    subdataset); DN 0 is the product's no-data value in every reflectance band.
    """
    from ..sources.safe import resampled_band_vrt

    pair, scalar = _given_pixel_size(pixel_size)
    ten = product.bands["green"][0]
    info = open_image_info(ten, scalar)
    bands: dict[str, tuple[Path | str, int]] = {k: v for k, v in product.bands.items() if k != "SCL"}
    if "SCL" in product.bands and info.crs is not None and info.transform is not None:
        sds, idx = product.bands["SCL"]
        scl = open_image_info(sds)
        bands["scl"] = (
            resampled_band_vrt(sds, idx, (info.width, info.height), (scl.width, scl.height), info.crs, info.transform.to_gdal()),
            1,
        )
    if pair is not None:
        info = replace(info, pixel_size=pair)
    return OpticalSource(bands, info, {k: (None if k == "scl" else 0.0) for k in bands})


def optical_source_from_landsat(product: LandsatProduct, pixel_size: float | tuple[float, float] | None = None) -> OpticalSource:
    """The bands of a Landsat Collection 2 Level-2 product (blue, green, red, NIR ``…_SR_Bn.TIF``) as one
    optical scene, its ``QA_PIXEL`` the cloud mask; DN 0 is the product's fill in every band."""
    pair, scalar = _given_pixel_size(pixel_size)
    bands: dict[str, tuple[Path | str, int]] = dict(product.bands)
    infos = {k: open_image_info(p, scalar) for k, (p, _) in bands.items()}
    first = infos["green"]
    _check_band_files(infos, first)
    if product.qa is not None:
        qa = open_image_info(product.qa, scalar)
        if (qa.width, qa.height) != (first.width, first.height) or not _same_grid(qa, first):
            raise InputError(f"{product.qa}: not on the grid of the product's bands ({first.path}); give the QA_PIXEL delivered with them")
    if pair is not None:
        first = replace(first, pixel_size=pair)
    return OpticalSource(bands, first, {k: 0.0 for k in bands}, qa_pixel=product.qa)


_NOT_REFLECTANCE = ("scl", "alpha")
"""Arrays :func:`_read_raw` gives beside the reflectance bands: the cloud classes and the alpha band."""


def _read_raw(
    src: OpticalSource,
    window: tuple[int, int, int, int] | None,
    out_shape: tuple[int, int] | None = None,
) -> dict[str, NDArray[Any]]:
    """Each band's values as stored, in a window (or a decimated whole scene)."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.errors import NotGeoreferencedWarning, RasterioError
    from rasterio.windows import Window

    win = None if window is None else Window(window[2], window[0], window[3] - window[2], window[1] - window[0])
    out: dict[str, NDArray[Any]] = {}
    for name, (path, idx) in src.bands.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                with rasterio.open(path) as ds:
                    out[name] = ds.read(idx, window=win, out_shape=out_shape, resampling=Resampling.nearest)
        except RasterioError as exc:
            raise ImageReadError(f"{path}: could not read band {name} ({read_failure(exc)})") from exc
    if src.alpha is not None:
        with rasterio.open(src.alpha[0]) as ds:
            out["alpha"] = ds.read(src.alpha[1], window=win, out_shape=out_shape, resampling=Resampling.nearest)
    if src.udm2 is not None:
        out["scl"] = read_udm2_as_scl(src.udm2, win, out_shape)
    if src.qa_pixel is not None:
        try:
            with rasterio.open(src.qa_pixel) as ds:
                out["scl"] = qa_pixel_to_scl(ds.read(1, window=win, out_shape=out_shape, resampling=Resampling.nearest))
        except RasterioError as exc:
            raise ImageReadError(f"{src.qa_pixel}: could not read the QA_PIXEL band ({exc})") from exc
    return out


def _read(
    src: OpticalSource,
    window: tuple[int, int, int, int] | None,
    scale: float | None,
    offset: float,
    out_shape: tuple[int, int] | None = None,
) -> tuple[dict[str, NDArray[np.float32]], NDArray[np.bool_], NDArray[Any] | None]:
    """Reflectance bands, valid mask and SCL of a window (or a decimated whole scene)."""
    return _to_reflectance(src, _read_raw(src, window, out_shape), scale, offset)


def _to_reflectance(
    src: OpticalSource, raw: Mapping[str, NDArray[Any]], scale: float | None, offset: float
) -> tuple[dict[str, NDArray[np.float32]], NDArray[np.bool_], NDArray[Any] | None]:
    """Reflectance bands, the valid mask and the SCL of values as read.

    A pixel is no data where a band is not finite, or where every band that has a no-data value
    holds it (GDAL's mask of a dataset with per-band no-data values). One band alone at its
    no-data value is read as the value: Sentinel-2's no-data DN is 0, which is also where dark
    water's NIR is clipped (in a hull's shadow, say), and such pixels, each hidden with the
    cloud margin around it, hid the ships beside them.
    """
    bands: dict[str, NDArray[np.float32]] = {}
    declared = src.declared if declared_applies(src, scale, offset) else None
    finite: NDArray[np.bool_] | None = None
    fill: NDArray[np.bool_] | None = None
    for name, a in raw.items():
        if name in _NOT_REFLECTANCE:
            continue
        ok = np.isfinite(a)
        finite = ok if finite is None else finite & ok
        nd = src.nodata.get(name)
        if nd is not None and not math.isnan(nd):
            at = a == nd
            fill = at if fill is None else fill & at
        if declared is not None and name in declared:
            r = apply_scaling(a, declared[name])
            bands[name] = np.maximum(r, 0.0, where=~np.isnan(r), out=r)  # clipped at 0, as to_reflectance's DN are
            continue
        gain = src.gain(name) if scale is None else None
        bands[name] = to_reflectance(a, scale=scale if gain is None else 1.0 / gain, offset=offset)
    assert finite is not None
    valid = finite if fill is None else finite & ~fill
    if "alpha" in raw:
        valid = valid & (raw["alpha"] != 0)  # transparent: not imaged
    return bands, valid, raw.get("scl")


def _refuse_an_empty_band(src: OpticalSource, raw: Mapping[str, NDArray[Any]]) -> None:
    """Name a band that holds no data at all (``raw``, a decimated read) beside bands that do.

    Each value is its no-data value, NaN, or 0 for a band without one (and for SCL, whose class 0
    is no data): a band that was never filled, or a file given for the wrong band. Read as it is,
    such a band is reflectance 0 everywhere, or (no data in every band) nothing is seen; either way
    the detector reported nothing and said nothing. A scene without data in any band is let
    through: it is seen as such (valid fraction 0).
    """
    empty: dict[str, str] = {}
    for name, a in raw.items():
        if name == "alpha":
            continue
        nd = src.nodata.get(name)
        fill = 0.0 if nd is None or name == "scl" else nd
        bad = ~np.isfinite(a)
        hole = bad if math.isnan(fill) else bad | (a == fill)
        if hole.all():
            said = "" if nd is None or name == "scl" or src.zero_no_data else ", its no-data value"
            empty[name] = "NaN" if bad.all() else f"{fill:g}{said}" if not bad.any() else f"{fill:g}{said}, or NaN"
    if not empty or all(k in empty for k in raw if k not in _NOT_REFLECTANCE):
        return
    name, what = next(iter(empty.items()))
    optional = {"blue": "", "nir": " (the RGB model runs without it)", "scl": " (the spectral cloud test runs without it)"}
    leave = f", or leave it out{optional[name]}" if name in optional else ""
    raise InputError(
        f"band {name} ({src.bands[name][0] if name in src.bands else src.udm2 or src.qa_pixel}) holds no data: every value is {what}, while the other bands have data; "
        f"give the file that holds it{leave}"
    )


def _overlap_px(params: OpticalParams, p: float) -> int:
    """Context the features and the longest vessel need around a tile's core."""
    return int(math.ceil((params.near_water_m + 150.0 + params.max_length_m / 2 + 60.0) / p))


MAX_WINDOW_PX = 6144
"""Side of the largest window a tile reads, core and overlap: 6144² pixels, about 5 GB at the
125 bytes a pixel the detector takes (2.0 GB peak for 4000² pixels at 0.3 m). The overlap is
585 m of context; at 10 m and 3 m that is 59 and 195 pixels and tiles are 2048, but a tile six
overlaps wide (to keep the overlap's cost down) was 11,700 pixels at 0.3 m: 0.3 m imagery of a
5 km port read windows of 15,600² pixels, about 30 GB."""


def _tile_px(params: OpticalParams, p: float, tile: int, shape: tuple[int, int]) -> tuple[int, int]:
    """Tile core and overlap in pixels for pixels of ``p`` metres: memory stays bounded, or the
    image is refused (pixels so fine that the context alone fills a window)."""
    overlap = _overlap_px(params, p)
    # The smallest window: a core of 2048 (or the caller's smaller one) with the context around it.
    core = min(tile, 2048)
    rows, cols = (min(n, core + 2 * overlap) for n in shape)
    if rows * cols > MAX_WINDOW_PX**2:
        coarsest = math.ceil(2 * overlap * p / (MAX_WINDOW_PX - core) * 100) / 100
        raise InputError(
            f"pixels of {p:.3g} m: the detector needs {overlap * p:.0f} m ({overlap} pixels) of context around each "
            f"tile, and a tile with it would be {rows} x {cols} pixels, more than the {MAX_WINDOW_PX} x {MAX_WINDOW_PX} "
            f"it holds in memory; resample the image to {coarsest:g} m pixels or coarser "
            f"(gdalwarp -tr {coarsest:g} {coarsest:g} -r average), or cut it to under {MAX_WINDOW_PX} pixels a side"
        )
    return max(tile, min(6 * overlap, MAX_WINDOW_PX - 2 * overlap)), overlap


def detect_optical_image(
    source: str | Path | Mapping[str, str | Path] | OpticalSource,
    *,
    pixel_size: float | tuple[float, float] | None = None,
    params: OpticalParams | None = None,
    scale: float | None = None,
    offset: float = 0.0,
    workers: int = 1,
    tile: int = 2048,
    progress: Callable[[int, int], None] | None = None,
) -> OpticalImageResult:
    """Detect vessels (and cranes at fine resolution) in an optical scene on disk.

    ``source`` is a multi-band file, a mapping band name -> file (see the
    module doc) or an :class:`OpticalSource` already found (a SAFE product's,
    :func:`optical_source_from_safe`). The ground pixel size comes from the
    georeference (with Web Mercator's scale factor) unless ``pixel_size`` is given.
    """
    src = source if isinstance(source, OpticalSource) else open_optical(source, pixel_size, scale_given=scale is not None)
    info = src.info
    h, w = info.height, info.width
    raw = _read_raw(src, None, out_shape=decimated_shape((h, w)))
    _refuse_an_empty_band(src, raw)
    # One divisor for the whole scene, judged on the decimated read: every tile must agree. A Planet
    # radiance file's metadata gives each band its own instead (None here: _to_reflectance takes them).
    declared = src.declared if declared_applies(src, scale, offset) else None
    if scale is not None or src.toa is not None:
        used = scale
    elif declared is not None:
        # The files' own scale and offset, band by band (_to_reflectance); the divisor, when they share one scale.
        shared = shared_scale(declared)
        used = 1.0 / shared if shared else None
    else:
        used = infer_dn_scale([a for k, a in raw.items() if k not in _NOT_REFLECTANCE])
    params = params_for_dn_scale(params or OpticalParams(), used if used is not None else _archived_dn_scale(src))
    read_scale = None if declared is not None else used  # None: the declared scale and offset, band by band
    small, small_valid, _ = _to_reflectance(src, raw, read_scale, offset)
    stats = scene_stats({k: np.where(small_valid, v, np.nan) for k, v in small.items()})
    dets, cloud, valid = detect_optical_tiled(
        lambda win: _read(src, win, read_scale, offset), (h, w), info.pixel_size, stats,
        params=params, workers=workers, tile=tile, progress=progress,
    )
    model = model_for([k for k in src.bands if k != "scl"], params)
    used_from = (
        "given" if scale is not None else src.toa.metadata.name if src.toa is not None
        else DECLARED_SCALING if declared is not None else "values"
    )  # fmt: skip
    return OpticalImageResult(info, dets, cloud, valid, used, used_from, model, src.zero_no_data, declared)


def _archived_dn_scale(src: OpticalSource) -> float | None:
    """The divisor ingest turned a sitewatch archive COG's values into reflectance with (its tag
    ``SITEWATCH_SCALE_APPLIED``, 1/255 for an 8-bit rendering), so that its clouds are judged as
    ``sitewatch detect`` judges them; None for any other file."""
    import rasterio
    from rasterio.errors import RasterioError

    path = next(iter(src.bands.values()))[0]
    try:
        with warnings.catch_warnings(), rasterio.open(path) as ds:
            warnings.simplefilter("ignore")  # a file without georeference was already told of
            value = ds.tags().get("SITEWATCH_SCALE_APPLIED")
        scale = float(value) if value else 0.0
    except (RasterioError, ValueError):
        return None
    return 1.0 / scale if math.isfinite(scale) and scale > 0 else None


def decimated_shape(shape: tuple[int, int]) -> tuple[int, int]:
    """(rows, cols) of the read of a whole scene the scene-wide figures are taken from
    (:func:`~sitewatch.detect.optical.scene_stats`, the divisor): every ``step``-th pixel, about a
    million pixels; the scene itself below 4 million."""
    h, w = shape
    step = max(1, int(math.sqrt(h * w / 1_000_000)))
    return max(1, h // step), max(1, w // step)


Window = tuple[int, int, int, int]
Reader = Callable[[Window], tuple[dict[str, NDArray[np.float32]], NDArray[np.bool_], "NDArray[Any] | None"]]


def detect_optical_tiled(
    read_window: Reader,
    shape: tuple[int, int],
    pixel_size: tuple[float, float],
    stats: SceneStats,
    *,
    params: OpticalParams | None = None,
    workers: int = 1,
    tile: int = 2048,
    progress: Callable[[int, int], None] | None = None,
    known_water: Callable[[Window], NDArray[np.bool_] | None] | None = None,
    on_core: Callable[[Window, NDArray[np.bool_]], None] | None = None,
) -> tuple[list[PixelDetection], float | None, float]:
    """Run the detector tile by tile over a scene read by window; stitch without duplicates.

    ``read_window((row0, row1, col0, col1))`` returns reflectance bands, the
    valid mask and the SCL (or None) of that window; ``known_water(window)``, when
    given, the water the caller knows of in it (a site's water polygon: the detector's
    ``water``). Returns the detections (raster pixel coordinates, best first), the cloud
    fraction of the valid pixels (None without any) and the valid fraction of the scene.
    ``on_core(core window, hidden)``, when given, is told of each tile's core what the tile
    hid (not valid, or cloud); it runs where the tile runs, so it takes ``workers`` 1.
    """
    if on_core is not None and workers > 1:
        raise ValueError("detect_optical_tiled: on_core runs in the tiles' processes; give it with workers=1")
    params = params or OpticalParams()
    px, py = pixel_size
    p = 0.5 * (px + py)
    h, w = shape
    tile, overlap = _tile_px(params, p, tile, (h, w))
    tiles = plan_tiles(h, w, tile, overlap)

    def run(t: Any) -> tuple[list[PixelDetection], int, int]:
        bands, valid, scl = read_window(t.window)
        if scl is not None:  # the SCL's (UDM2's, QA_PIXEL's) no-data classes are no data, not cloud
            valid = valid & ~scl_no_data(scl)
        r0, c0 = t.window[0], t.window[2]
        core = (slice(t.core[0] - r0, t.core[1] - r0), slice(t.core[2] - c0, t.core[3] - c0))
        n_valid = int(valid[core].sum())
        if n_valid == 0:
            if on_core is not None:
                on_core(t.core, np.ones(valid[core].shape, bool))
            return [], 0, 0
        # The bands as the detector takes them (negative reflectance at 0, a missing blue band
        # as green, ...), so that a tile without water judges water and counts cloud as one with.
        usable = _band_set(bands)
        if not _has_water(usable, stats):
            # No water in reach: no vessel, only the cloud count is needed.
            cloud = cloud_mask(usable, scl, pixel_size=p, bright=params.cloud_bright, valid=valid)
            if on_core is not None:
                on_core(t.core, cloud[core] | ~valid[core])
            return [], int((cloud[core] & valid[core]).sum()), n_valid
        water = None if known_water is None else known_water(t.window)
        res = detect_optical_result(bands, (px, py), valid=valid, water=water, scl=scl, params=params, stats=stats)
        n_cloud = int((res.cloud[core] & valid[core]).sum())
        if on_core is not None:
            on_core(t.core, res.cloud[core] | ~valid[core])
        dets = [shift_detection(d, r0, c0) for d in res.detections]
        return [d for d in dets if t.owns(d.row, d.col)], n_cloud, n_valid

    out: list[PixelDetection] = []
    n_cloud = n_valid = 0
    for i, (dets, nc, nv) in enumerate(_map_tiles(run, tiles, workers)):
        out.extend(dets)
        n_cloud += nc
        n_valid += nv
        if progress is not None:
            progress(i + 1, len(tiles))
    out.sort(key=lambda d: -d.score)
    return out, (n_cloud / n_valid if n_valid else None), n_valid / float(h * w)


def _has_water(bands: Mapping[str, NDArray[np.float32]], stats: SceneStats) -> bool:
    """Whether any pixel is water by the scene's thresholds (every 16th row first: a port tile
    has water there, and the whole tile need not be scanned to say so)."""
    nir = bands.get("nir", bands.get("red", bands["green"]))
    green = bands["green"]
    for rows in (slice(None, None, 16), slice(None)):
        n = nir[rows]
        if np.any((ndwi(green[rows], n) > stats.water_threshold) & (n < stats.nir_ceiling)):
            return True
    return False


# Jobs handed to forked workers: a closure (over an in-memory reader, say) cannot be
# pickled, but a forked child inherits this dict, so only the key and tile index travel.
_JOBS: dict[int, Callable[[Any], Any]] = {}
_JOB_IDS = itertools.count()


def _run_job(key: int, item: Any) -> Any:
    return _JOBS[key](item)


def _worker_setup(command: int) -> None:
    """Worker start-up: one BLAS thread per worker, freed memory kept (see below), and an end
    when the command has gone (killed outright, the workers waited for ever on the pool's pipes)."""
    one_blas_thread_in_process()  # the workers already fill the cores; BLAS threads on top only contend
    _keep_freed_memory()
    end_with_command(command)


def _keep_freed_memory() -> None:
    """Let glibc reuse freed heap memory instead of returning it to the system.

    Each tile allocates and frees dozens of tile-sized arrays; by default glibc
    gives big blocks back to the kernel and takes them again, and every page of
    every new array is then faulted in afresh. Measured on a 2048-px tile that
    is a third of the run time. Only in our own worker processes; a no-op
    where glibc's ``mallopt`` is missing.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 32 << 20)  # the largest glibc allows: tile bands stay on the heap
    mallopt(m_trim_threshold, 1 << 30)
    mallopt(m_top_pad, 256 << 20)


def _map_tiles(fn: Callable[[Any], Any], items: list[Any], workers: int) -> Iterator[Any]:
    """``map(fn, items)`` in order, on ``workers`` forked processes on Linux, threads elsewhere."""
    workers = min(max(1, workers), len(items))
    if workers <= 1:
        yield from map(fn, items)
        return
    # Forked processes on Linux only: Windows has no fork, and on macOS a forked child can crash in the
    # system's libraries, which may run threads of their own (Python's own default there is spawn).
    if not sys.platform.startswith("linux") or "fork" not in multiprocessing.get_all_start_methods():
        with ThreadPoolExecutor(max_workers=workers) as threads:
            yield from threads.map(fn, items)
        return
    key = next(_JOB_IDS)
    _JOBS[key] = fn
    try:
        with ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("fork"), initializer=_worker_setup,
            initargs=(os.getpid(),),
        ) as pool:
            yield from pool.map(_run_job, itertools.repeat(key), items)
    finally:
        del _JOBS[key]
