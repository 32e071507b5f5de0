"""What a file is: :func:`read_scene_ref` describes a GeoTIFF, a Sentinel-1 or Sentinel-2 SAFE
product or a Landsat Level-2 product as a :class:`~sitewatch.model.SceneRef` (sensor, platform,
acquisition time, resolution, footprint) plus its band names, and refuses, naming the file, what
cannot be placed on the ground or told apart.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from pyproj.exceptions import ProjError
from rasterio._err import CPLE_BaseError
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.warp import transform_bounds
from shapely.geometry import MultiPolygon, Polygon, box

from ..errors import ImageReadError, InputError, Level1CWarning, UncalibratedWarning, read_failure
from ..geo import cut_at_antimeridian, ground_pixel_size
from ..image_metadata import _ESA_OLD_NAME, _acquired_from, metadata_sidecars
from ..model import SceneRef, acquired_given, utc
from ..platforms import level_1c_note, platform_of, platform_sensor
from ..simulated_tag import tagged_simulated
from ..sources.landsat import (
    LandsatProduct,
    is_landsat_mtl,
    landsat_level1_refusal,
    landsat_tar_refusal,
    numbered_band_refusal,
    open_landsat_l2,
)
from ..sources.maxar_toa import maxar_toa
from ..sources.planet_toa import planet_toa
from ..sources.providers import optical_band_indexes, provider_product
from ..sources.s1_radiometry import ThermalNoise
from ..sources.safe import (
    S1Product,
    S2Product,
    is_s1_product,
    is_safe_product,
    open_s1_grd,
    open_s2_l2a,
    safe_product_name,
)
from ..untrusted import check_not_linking
from .ortho import Orthorectify, placement_of

__all__ = ["read_scene_ref"]

_SAR_BANDS = {"VV", "VH", "HH", "HV"}
_OPTICAL_ALIASES = {
    "b02": "blue", "b2": "blue", "blue": "blue",
    "b03": "green", "b3": "green", "green": "green",
    "b04": "red", "b4": "red", "red": "red",
    "b08": "nir", "b8": "nir", "nir": "nir", "nir08": "nir",
    "scl": "SCL",
}  # fmt: skip



_DAY_FIRST = re.compile(r"(?<![\d.-])\d{1,2}[.-]\d{1,2}[.-](?:19|20)\d{2}(?![\d.-])")
"""A date written day (or month) first in a file name, as a local user names a file: ``Дунай 17.10.2024.tif``."""


def _day_first_in_name(stem: str) -> str:
    """For the message refusing a file without a time: the date its name writes day first, which is not read (a name's
    date is read year first), and what to pass for it (``" 2024-10-17 (the name's '17.10.2024', not read: …)"``)."""
    found = _DAY_FIRST.search(stem)
    if found is None:
        return ""
    from ..claims_file import date_spelling_hint

    meant = date_spelling_hint(found.group()).removeprefix(": write ")
    if not meant:  # no date at all (31.31.2024)
        return ""
    return (f" {meant} (the name's {found.group()!r} is not read: a date in a file name is read year first, "
            "2024-10-17 or 20241017, which names no other day)")


def _band_names(
    descriptions: Sequence[str | None], count: int, sensor: str, path: Path, colours: Sequence[str] = ()
) -> list[str]:
    names = [(d or "").strip() for d in descriptions]
    if sensor == "sar":
        return [n.upper() if n.upper() in _SAR_BANDS else (n or f"band{i + 1}") for i, n in enumerate(names)]
    if (numbered := numbered_band_refusal(path, names, "its band descriptions")) is not None:
        raise InputError(numbered)  # a Landsat 7 file's B2 (green) read as Sentinel-2's B2 (blue)
    mapped = [_OPTICAL_ALIASES.get(n.lower(), "") for n in names]
    if all(mapped) and len(set(mapped)) == len(mapped):
        return mapped
    named = [m for m in mapped if m]
    if len(set(named)) == len(named) and "green" in named and {"red", "nir"} & set(named):
        # Some bands named, as detect-image reads them: PlanetScope's 8-band files describe theirs coastal_blue,
        # blue, green_i, green, yellow, red, rededge, nir (support.planet.com, "PlanetScope 8-band asset: band
        # order"), and read by count their coastal blue was taken for blue, green I for green, yellow for red.
        return _provider_band_names([m or n for m, n in zip(mapped, names, strict=True)])
    from ..detect.optical_image import bands_by_colour

    by_colour = {i: c for c, i in bands_by_colour(descriptions, colours).items()}
    if by_colour:
        # As detect-image reads it: an RGBA file's alpha band is not NIR, a BGR file is not RGB.
        return [by_colour.get(i + 1) or (colours[i] if colours[i] == "alpha" else f"band{i + 1}") for i in range(count)]
    if count == 3:
        return ["red", "green", "blue"]  # the usual order of an RGB product
    if count >= 4:
        # PlanetScope analytic and most 4-band products store blue, green, red, nir.
        return ["blue", "green", "red", "nir"] + [f"band{i + 5}" for i in range(count - 4)]
    if count == 1:
        raise InputError(
            f"{path}: one band, and sitewatch cannot tell which; for an optical scene delivered "
            "as one file a band, give each with --band NAME=PATH (blue, green, red, nir)"
        )
    raise InputError(f"{path}: cannot tell which of {count} bands are which; name them blue/green/red/nir")


def _nominal_when_close(ground: tuple[float, float], src: Any) -> tuple[float, float]:
    """The file's own pixel size in metres when the ground size is within 0.5 % of it.

    A UTM grid's ground size differs from its nominal one by the zone's scale factor
    (0.9996-1.001): a 10 m Sentinel-2 tile measures 10.003 m, and cutting it to a 10.003 m
    site grid would interpolate every pixel for nothing. Web Mercator's factor (1/cos
    latitude) is far larger and is kept.
    """
    if not (src.crs.is_projected and src.crs.linear_units in ("metre", "meter")):
        return ground
    nominal = (abs(src.transform.a), abs(src.transform.e))
    if all(n > 0 and abs(g / n - 1) < 0.005 for g, n in zip(ground, nominal, strict=True)):
        return nominal
    return ground


def _wgs84_footprint(crs: Any, bounds: Sequence[float]) -> Polygon | MultiPolygon:
    """The lon/lat box of ``bounds`` (in ``crs``); one across the antimeridian is two boxes.

    ``transform_bounds`` gives west > east for such an image (a Fiji scene in UTM zone 60
    runs from 179.7 to -179.7): one box from those would span the rest of the world instead.
    """
    w, s, e, n = transform_bounds(crs, "EPSG:4326", *bounds)
    if w > e:
        return MultiPolygon([box(w, s, 180.0, n), box(-180.0, s, e, n)])
    # A lon/lat image numbered 0..360 (a Pacific product: 179.98 to 180.02, or Ushuaia at 291.7) keeps
    # those longitudes: cut at 180 and moved within -180..180, it meets the sites east of 180 too.
    cut = cut_at_antimeridian(box(w, s, e, n))
    assert isinstance(cut, Polygon | MultiPolygon)  # a box cut at 180: one box or two
    return cut


def read_scene_ref(
    path: Path, *, acquired: datetime | None = None, sensor: str | None = None, name_bands: bool = True,
    thermal_noise: ThermalNoise = "keep", scaling_given: bool = False, orthorectify: Orthorectify | None = None,
) -> tuple[SceneRef, list[str]]:
    """Describe a GeoTIFF as a SceneRef plus its band names, from its tags and sidecars.

    ``name_bands=False`` (the bands are named by the caller) returns no band names.
    A Sentinel-2 L2A or Sentinel-1 GRD SAFE product (folder or zip) is described from its metadata;
    the latter opened with ``thermal_noise`` (the ``sar_thermal_noise`` setting), so that a noise
    LUT that cannot be subtracted is said here, once. A Maxar file of counts that cannot be calibrated by its
    ``.IMD`` (:func:`~sitewatch.sources.maxar_toa.maxar_toa`) is said here too (an :class:`UncalibratedWarning`),
    unless ``scaling_given`` (``--dn-scale``/``--dn-offset`` say how its values are scaled).
    A file placed by RPCs or GCPs instead of a map grid is refused, naming what to do, unless ``orthorectify`` says
    how to place it (:mod:`~sitewatch.ingest.ortho`); its footprint and pixel size are then read through them.
    """
    path = Path(path)
    if is_s1_product(path):
        return _s1_scene_ref(open_s1_grd(path, thermal_noise=thermal_noise), acquired, sensor)
    if is_safe_product(path):
        return _safe_scene_ref(open_s2_l2a(path), acquired, sensor)
    if is_landsat_mtl(path):
        return _landsat_scene_ref(open_landsat_l2(path), acquired, sensor)
    if path.suffix.lower() == ".zip" and path.is_file():
        safe_product_name(path)  # names a damaged zip, or one without a product, as such
    if (packed := landsat_tar_refusal(path) or landsat_level1_refusal(path)) is not None:
        raise InputError(packed)
    try:
        with warnings.catch_warnings():
            # A missing georeference is reported below as our own error, naming the file.
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(path)
        with src:
            check_not_linking(src.driver, path)
            if any(np.dtype(d).kind == "c" for d in src.dtypes):
                # A single-look complex product (a SICD's .ntf beside its detected image, found by a folder's search):
                # cast to the COG's floats it kept the real part, signed and about zero, read as backscatter.
                raise ImageReadError(
                    f"{path}: complex pixels ({src.dtypes[0]}: a single-look complex product, such as a SICD or an SLC, "
                    "phase and amplitude), which sitewatch does not read; give the provider's detected image of that "
                    "acquisition (a Sentinel-1 GRD, Capella's GEO or GEC, ICEYE's GRD); `detect-image` reads one as its "
                    "intensity, |z|²"
                )
            tags = src.tags()
            placed = placement_of(src, path, orthorectify)
            if src.crs is None and placed is None and src.gcps[0]:
                # Georeferenced, but by points, not a transform: gdal_translate -a_ullr would throw them away.
                raise ImageReadError(
                    f"{path}: is placed by {len(src.gcps[0])} ground control points (GCPs), not a transform "
                    "sitewatch can cut by; give --orthorectify to warp the site's part of it through them, or warp "
                    f"it first, e.g. `gdalwarp -r bilinear {path.name} warped.tif` (-r near for SAR; -tps for many "
                    "points), and ingest warped.tif"
                )
            if src.crs is None and placed is None and src.rpcs is not None:
                # A Basic (L1B) product, placed by its rational polynomial coefficients and the terrain: a bounding
                # box given with gdal_translate -a_ullr would put it hundreds of metres off, tilted.
                raise ImageReadError(
                    f"{path}: is not orthorectified: it carries rational polynomial coefficients (RPCs, a Basic or "
                    "L1B product), not a map grid; give --orthorectify with --dem dem.tif (or --height METRES, the "
                    "ground's height above the ellipsoid) to orthorectify the site's part of it, or orthorectify it "
                    f"first, e.g. `gdalwarp -rpc -to RPC_DEM=dem.tif -t_srs EPSG:4326 -r bilinear {path.name} ortho.tif` "
                    "(without a DEM the relief shifts it), or order the provider's ortho product, and ingest that"
                )
            if placed is not None:
                px, py = placed.pixel_size_m()
                footprint = placed.footprint()
            elif src.crs is None:
                raise ImageReadError(
                    f"{path}: has no CRS; sitewatch cannot place it on the ground "
                    "(georeference it first, e.g. with gdal_translate -a_srs / -a_ullr)"
                )
            else:
                try:
                    px, py = _nominal_when_close(
                        ground_pixel_size(src.crs.to_string(), src.transform, src.width, src.height), src
                    )
                    footprint = _wgs84_footprint(src.crs, src.bounds)
                except (ProjError, CPLE_BaseError) as exc:  # a local or non-Earth CRS: no way to lon/lat
                    name = re.search(r'"([^"]*)"', src.crs.to_wkt())
                    raise ImageReadError(
                        f"{path}: its CRS ({name.group(1) if name else src.crs.to_string()[:80]}) cannot be turned "
                        "into longitude/latitude; reproject it to a standard one (e.g. gdalwarp -t_srs EPSG:4326)"
                    ) from exc
            descriptions = list(src.descriptions)
            colours = [c.name for c in src.colorinterp] if src.driver == "GTiff" else []
            count = src.count
    except RasterioError as exc:
        if (item := _stac_item_assets(path)) is not None:
            raise ImageReadError(item) from exc
        raise ImageReadError(f"{path}: not a readable raster ({read_failure(exc)})") from exc
    from ..detect.optical_image import bands_by_colour

    # PlanetScope, SkySat, Maxar and Airbus files carry no band descriptions: their names and sidecars say optical.
    product = provider_product(path, count) if not any((d or "").strip() for d in descriptions) else None
    kind = sensor or tags.get("SITEWATCH_SENSOR")
    if not kind:
        upper = {(d or "").upper() for d in descriptions}
        kind = "sar" if upper & _SAR_BANDS else ("optical" if count >= 3 or product is not None else "")
    if kind == "optical" and product is not None and name_bands:
        optical_band_indexes(product, path)  # a panchromatic band, or a layout that cannot be known, refused by name
    if kind == "optical" and name_bands:
        # A Planet radiance file without its metadata XML, or SkySat DN, refused by name before anything is written.
        planet_toa(path, product or provider_product(path, count), count)
    by_provider = kind == "optical" and product is not None and product.bands is not None and not bands_by_colour(descriptions, colours)
    found = (acquired, acquired_given(acquired)) if acquired else _acquired_from(tags, path)
    when, when_from = found or (None, "")
    if when is None:
        made = (
            " (the time in an ESA name of this kind, S2A_OPER_…_TL_…, is when the file was made, not the pass)"
            if _ESA_OLD_NAME.search(path.stem) else ""
        )  # fmt: skip
        raise InputError(
            f"{path}: no acquisition time in its tags, a sidecar JSON or its name{made}; pass --acquired"
            + _day_first_in_name(path.stem)
        )
    platform, platform_from = platform_of(tags, path, metadata_sidecars(path))
    stated = platform_sensor(platform)
    if kind in ("sar", "optical") and stated and kind != stated:
        # Read as the other sensor, a Sentinel-2 band file became a "SAR" scene of a hundred false vessels.
        if sensor:
            given = "given (--sensor, or the --band names)"
        elif tags.get("SITEWATCH_SENSOR"):
            given = "its SITEWATCH_SENSOR tag says"
        elif kind == "sar":
            given = f"its band names ({', '.join(d for d in descriptions if d)}) say"
        else:  # guessed from the band count: a three-band rendering of a SAR scene is no optical image
            given = f"its {count} bands suggested; no --sensor was given"
        raise InputError(
            f"{path}: a {platform} image ({platform_from}), so {stated}, not {kind} as {given}"
            + ("; give the bands of a scene delivered one file a band together: `sitewatch ingest SITE --band NAME=PATH …`"
               if stated == "optical" and count == 1 else "")
        )
    if kind not in ("sar", "optical"):
        if count == 1 and stated == "optical":
            # EO Browser's one-band exports (…_Sentinel-2_L2A_B08_(Raw).tiff): asking "SAR or optical?"
            # of a file its name says Sentinel-2 took, and offering --sensor sar, misled.
            raise InputError(
                f"{path}: one band of a {platform} scene (from its {platform_from}); give the scene's band "
                "files together: `sitewatch ingest SITE --band blue=… --band green=… --band red=… --band nir=…`"
            )
        if count == 1:
            raise InputError(
                f"{path}: one unnamed band, SAR or optical?  Pass --sensor sar for a SAR image; give the "
                "bands of an optical scene delivered one file a band together: `sitewatch ingest SITE "
                "--band NAME=PATH …`"
            )
        raise InputError(f"{path}: cannot tell whether it is SAR or optical; pass --sensor")
    simulated = tagged_simulated(tags)
    level1c = level_1c_note(path) if kind == "optical" else None
    if level1c:
        warnings.warn(level1c, Level1CWarning, stacklevel=2)
    if kind == "optical" and name_bands and not scaling_given and isinstance(
        why := maxar_toa(path, product or provider_product(path, count), count, when), str
    ):
        warnings.warn(why, UncalibratedWarning, stacklevel=2)
    provider, collection = "simulator" if simulated else "local", tags.get("SITEWATCH_COLLECTION", "local-geotiff")
    item_id = tags.get("SITEWATCH_SCENE_ID", path.stem)
    whole = _SCENE_ID.fullmatch(item_id) if "SITEWATCH_SCENE_ID" in tags else None
    if "SITEWATCH_COLLECTION" not in tags and whole:
        # An archived COG (of another workspace) is tagged with its scene's whole id, provider:collection:item:
        # the same scene, not a new one whose item id is that whole id. A file's own name is never split so:
        # EO Browser's exports hold two colons (`2023-07-10-00:00_2023-07-10-23:59_…`), which made
        # "2023-07-10-00" the provider and "59_Sentinel-2_L2A_…" the observation's name.
        provider, collection, item_id = whole.groups()
    scene = SceneRef(
        provider=provider,
        collection=collection,
        item_id=item_id,
        sensor=kind,
        acquired=utc(when),
        resolution_m=round(_tagged_resolution(tags, path) or min(px, py), 3),
        hrefs={"data": str(path.resolve())},
        footprint=footprint,
        platform=platform,
        simulated=simulated,
        properties={k: v for k, v in tags.items() if k.startswith("SITEWATCH_") or k.startswith("TIFFTAG_")}
        | {"acquired_from": when_from}
        | ({"platform_from": platform_from} if platform_from else {})
        | ({"processing_level": "L1C (top-of-atmosphere), by its file name"} if level1c else {})
        | ({"bands_from": product.reason} if by_provider and product is not None else {}),
    )
    if by_provider and product is not None and product.bands is not None:
        # The provider's layout: a Pléiades file of red, green, blue, NIR, an 8-band WorldView file's NIR in band 7.
        return scene, _provider_band_names(product.bands) if name_bands else []
    return scene, _band_names(descriptions, count, kind, path, colours) if name_bands else []


def _tagged_resolution(tags: dict[str, str], path: Path) -> float | None:
    """The pixel size a ``SITEWATCH_RESOLUTION_M`` tag gives (None: no tag, or 0, the grid's own), refused by
    name when it is no positive number: it sets the grid every later cut of the scene is made on."""
    text = tags.get("SITEWATCH_RESOLUTION_M")
    if text is None:
        return None
    try:
        metres = float(text)
    except ValueError:
        metres = math.nan
    if metres == 0:
        return None
    if not (math.isfinite(metres) and metres > 0):
        raise InputError(
            f"{path}: its tag SITEWATCH_RESOLUTION_M is {text[:40]!r}, not a pixel size in metres; set it to a "
            f"positive number (`gdal_edit.py -mo SITEWATCH_RESOLUTION_M=10 {path.name}`), or 0 for the file's own pixel size"
        )
    return metres


_SCENE_ID = re.compile(r"((?:\[[^\]]*\]|[^:\[\]]+)(?::\d+)?):([^:]+):(.+)")
"""A scene's whole id, provider:collection:item. The provider of a catalogue named by its URL is the URL's
host with its port (``127.0.0.1:8080``, ``[::1]:8080``); an item id may hold colons (a file named after a time)."""


def _stac_item_assets(path: Path) -> str | None:
    """What to do with a STAC item's JSON given as an image (a static catalogue's item), naming its image assets;
    None for any other file. It was "not a readable raster (not recognized as being in a supported file format)"."""
    if path.suffix.lower() not in (".json", ".geojson") or not path.is_file() or path.stat().st_size > 10_000_000:
        return None
    try:
        item = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(item, dict) or item.get("type") != "Feature" or "stac_version" not in item:
        return None
    assets = item["assets"] if isinstance(item.get("assets"), dict) else {}
    hrefs = [str(a.get("href")) for a in assets.values() if isinstance(a, dict) and "image/" in str(a.get("type", "")) and a.get("href")]
    shown = f" (its image assets: {', '.join(hrefs[:4])}{' …' if len(hrefs) > 4 else ''})" if hrefs else ""
    return (
        f"{path}: is a STAC item's JSON, not an image{shown}; give the image file itself, with this JSON beside it under "
        "the image's name (NAME.json beside NAME.tif), from which its acquisition time and platform are read"
    )


def _provider_band_names(bands: Sequence[str]) -> list[str]:
    """A provider's band names as archived: its blue/green/red/nir as such, others by their own name."""
    return [b if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", b) else f"band{i + 1}" for i, b in enumerate(bands)]


def _safe_scene_ref(product: S2Product, acquired: datetime | None, sensor: str | None) -> tuple[SceneRef, list[str]]:
    if sensor == "sar":
        raise InputError(f"{product.path}: a Sentinel-2 product is optical; drop --sensor sar")
    import shapely.wkt

    sds, _ = product.bands["green"]
    try:
        with rasterio.open(sds) as src:
            px, py = _nominal_when_close(
                ground_pixel_size(src.crs.to_string(), src.transform, src.width, src.height), src
            )
            footprint = _wgs84_footprint(src.crs, src.bounds)
    except RasterioError as exc:
        raise ImageReadError(f"{product.path}: GDAL could not read the 10 m bands ({exc})") from exc
    if product.footprint_wkt:
        try:
            footprint = shapely.wkt.loads(product.footprint_wkt)
        except Exception:  # shapely's parse errors have no common base; the grid's box stands
            pass
    return _product_scene_ref(product, "sentinel-2-l2a-safe", min(px, py), footprint, acquired)


def _landsat_scene_ref(product: LandsatProduct, acquired: datetime | None, sensor: str | None) -> tuple[SceneRef, list[str]]:
    if sensor == "sar":
        raise InputError(f"{product.path}: a Landsat product is optical; drop --sensor sar")
    first = product.bands["green"][0]
    try:
        with rasterio.open(first) as src:
            if src.crs is None:
                raise ImageReadError(f"{first}: has no CRS; sitewatch cannot place it on the ground")
            px, py = _nominal_when_close(ground_pixel_size(src.crs.to_string(), src.transform, src.width, src.height), src)
            footprint = _wgs84_footprint(src.crs, src.bounds)
    except RasterioError as exc:
        raise ImageReadError(f"{product.path}: GDAL could not read its band {first.name} ({exc})") from exc
    return _product_scene_ref(product, "landsat-c2-l2", min(px, py), footprint, acquired)


def _product_scene_ref(
    product: S2Product | LandsatProduct, collection: str, pixel_m: float, footprint: Any, acquired: datetime | None
) -> tuple[SceneRef, list[str]]:
    """The scene of an optical product read whole (a Sentinel-2 SAFE, a Landsat Level-2 folder) and its band names."""
    scene = SceneRef(
        provider="local",
        collection=collection,
        item_id=product.name,
        sensor="optical",
        acquired=acquired or product.acquired,
        resolution_m=round(pixel_m, 3),
        hrefs={"data": str(product.path.resolve())},
        footprint=footprint,
        platform=product.platform,
        properties={"acquired_from": acquired_given(acquired) if acquired else product.acquired_from},
    )
    return scene, list(product.bands)


def _s1_scene_ref(product: S1Product, acquired: datetime | None, sensor: str | None) -> tuple[SceneRef, list[str]]:
    if sensor == "optical":
        raise InputError(f"{product.path}: a Sentinel-1 product is SAR; drop --sensor optical")
    scene = SceneRef(
        provider="local",
        collection="sentinel-1-grd-safe",
        item_id=product.name,
        sensor="sar",
        acquired=acquired or product.acquired,
        resolution_m=product.resolution_m,
        hrefs={"data": str(product.path.resolve())},
        footprint=box(*product.footprint),
        platform=product.platform,
        properties={"acquired_from": acquired_given(acquired) if acquired else product.acquired_from},
    )
    return scene, list(product.bands)
