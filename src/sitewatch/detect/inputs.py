"""Which detector reads an image file, and how: the routing behind ``sitewatch detect-image``.

One call does what the command does, without writing anything::

    from sitewatch.detect import detect_image_file

    found = detect_image_file("S2B_MSIL2A_….SAFE")                       # a product, scaled by its metadata
    found = detect_image_file(bands={"blue": b2, "green": b3, "red": b4, "nir": b8})
    found = detect_image_file("chip.png", sensor="sar", pixel_size=1.0)  # no georeference
    found.detections, found.metadata, found.geojson()

An input is read as what it is, in this order:

- a Sentinel-1 GRD SAFE product (folder, ``.zip`` or ``/vsizip/`` path): SAR, calibrated to sigma0
  by its LUTs (:mod:`sitewatch.sources.safe`), its two polarisations fused when it has both;
- a Landsat Collection 2 Level-2 product (its folder, its ``_MTL.txt``, or a folder holding one):
  optical, scaled by its MTL, its ``QA_PIXEL`` the cloud mask (:mod:`sitewatch.sources.landsat`);
- a Sentinel-2 L2A SAFE product (folder or ``.zip``): optical, with its own offset and scale and
  its SCL band;
- any other file GDAL reads, or one file per band (``bands``): the sensor given, else the one the
  band names, band descriptions, colour interpretations or a provider's file naming and sidecars
  point to (:func:`~sitewatch.detect.optical_image.sensor_from_band_names`): PlanetScope, SkySat,
  Maxar and Airbus files are optical, read in their provider's band order; a Planet scene takes
  the usable data mask (UDM2) delivered beside it, or given as ``bands={"udm2": path}``.

A band file taken out of a SAFE or Landsat product is refused (read alone it goes without the
product's scaling) unless the scaling is given (``dn_offset``; for Landsat also ``dn_scale``);
so is a one-band file whose name says Sentinel-2 or Landsat when no sensor is given (the SAR
default would find "vessels" in it). Every refusal is an :class:`~sitewatch.errors.InputError`
naming the input and what to give instead.

:func:`open_image_input` makes these decisions (and reads nothing but metadata);
:func:`detect_image_input` runs the detector on what it found; :func:`detect_image_file` is both.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict, Unpack

from ..band_scaling import DECLARED_SAR_SCALING
from ..errors import InputError, SitewatchWarning
from ..image_credit import files_credit
from ..simulated_tag import files_simulated
from ..sources.maxar_toa import MaxarTOA
from .base import PixelDetection
from .image import ImageInfo
from .sar import SarParams

__all__ = [
    "ImageInput",
    "ImageDetections",
    "open_image_input",
    "detect_image_input",
    "detect_image_file",
    "image_and_udm2",
    "ReadOptions",
    "is_image_folder",
    "folder_images",
]

FOLDER_IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".jp2", ".bmp")
"""The files of a folder of images that are read as images (any case); the rest (labels, sidecars) is left alone."""
LABEL_MASK_TAILS = ("_instance_id_rgb", "_instance_color_rgb")
"""Stem endings of label masks kept beside their chips (HRSID's): not images to detect in."""

Sensor = Literal["sar", "optical"]
Say = Callable[[str], None]


@dataclass(frozen=True)
class ImageInput:
    """An image (or its band files) with the decisions on how to read it, from :func:`open_image_input`."""

    image: Path | str | None
    """The file or product read (a ``/vsizip/`` path to a product is the product); None for band files."""
    bands: tuple[str, ...]
    """``NAME=PATH`` items of the band files (a lone ``udm2`` item with an image is in :attr:`udm2`)."""
    sensor: Sensor
    """The detector that runs: the one given, or the one the input points to."""
    pixel_size: float | None
    """Metres, overriding the georeference (needed when there is none)."""
    dn_scale: float | None
    """Optical: reflectance = (DN - dn_offset) / dn_scale; None: inferred from the values."""
    dn_offset: float
    """Optical: subtracted from integer values first (a product's own, unless given)."""
    sar_params: SarParams
    """SAR: the detector's parameters (the resolution given)."""
    resolution: float | None
    """SAR: the resolution given (None: the image's tag, else twice the pixel size)."""
    udm2: Path | str | None = None
    """A Planet usable data mask given for :attr:`image` (found beside it otherwise)."""
    udm2_given: bool = False
    """Whether a UDM2 was given (with the image, or among the band files)."""
    s1: Any = None
    """The Sentinel-1 GRD product (:class:`~sitewatch.sources.safe.S1Product`) when the input is one."""
    optical_source: Any = None
    """A Sentinel-2 or Landsat product's bands (:class:`~sitewatch.detect.optical_image.OpticalSource`)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """What the output's ``sitewatch`` member says of the input so far (source, product provenance)."""
    band_sources: dict[str, str] = field(default_factory=dict)
    """Band name -> file, for band files: every one a source, not only the one whose grid is used."""


@dataclass(frozen=True)
class ImageDetections:
    """What :func:`detect_image_file` found, and how the image was read."""

    info: ImageInfo
    """The image whose grid the detections are on (the co-polarised or first band file for band files)."""
    detections: list[PixelDetection]
    """Vessels (and, optical at 5 m or finer, cranes) in pixel coordinates of :attr:`info`."""
    sensor: Sensor
    """The detector that ran."""
    metadata: dict[str, Any]
    """How the input was read (source, product provenance, cloud mask, scaling, no-data, impulse response):
    the keys added to the GeoJSON's ``sitewatch`` member."""
    image: Path | str
    """The file or product read (for band files, the one whose grid is used)."""
    band_sources: dict[str, str] = field(default_factory=dict)
    """Band name -> file, when the input was band files."""
    simulated: bool = False
    """The image (or any of its band files) is a scene of sitewatch's simulator (its ``SITEWATCH_SIMULATED=true``
    tag): said wherever the detections show."""
    credit: str = ""
    """The credit the image's licence asks for, as far as the files say (:func:`~sitewatch.image_credit.files_credit`)."""

    def geojson(self) -> dict[str, Any]:
        """The detections as a GeoJSON FeatureCollection (:func:`~sitewatch.detect.image.detections_to_geojson`)."""
        from .image import detections_to_geojson

        return detections_to_geojson(self.info, self.detections, self.sensor, extra=self.metadata, simulated=self.simulated,
                                     credit=self.credit)  # fmt: skip

    @property
    def kinds(self) -> Counter[str]:
        """How many detections of each kind (``vessel``, ``crane``)."""
        return Counter(d.kind for d in self.detections)


def detect_image_file(
    image: Path | str | None = None,
    *,
    bands: Sequence[str] | Mapping[str, Path | str] = (),
    sensor: Sensor | None = None,
    pixel_size: float | None = None,
    dn_scale: float | None = None,
    dn_offset: float | None = None,
    resolution: float | None = None,
    thermal_noise: str | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    say: Say | None = None,
    warn: Say | None = None,
) -> ImageDetections:
    """Vessels in one image file, product or set of band files, read as ``sitewatch detect-image`` reads it.

    ``image`` is a GeoTIFF, PNG or JPEG, a Sentinel-2 L2A or Sentinel-1 GRD SAFE product (folder,
    ``.zip`` or ``/vsizip/`` path), or a Landsat Collection 2 Level-2 product (folder or
    ``_MTL.txt``); or give ``bands`` instead, one file per band (``{"blue": path, …}`` or
    ``"NAME=PATH"`` items): optical ``blue``, ``green``, ``red``, ``nir``, ``scl``, ``udm2`` (or
    ``B02``…), SAR ``vv`` and ``vh`` (or ``hh`` and ``hv``). With an ``image``, ``bands`` may hold a
    ``udm2`` alone: the scene's Planet usable data mask.

    ``sensor`` chooses the detector (default: what the input points to, see the module doc).
    ``pixel_size`` (metres) is needed when the image has no georeference and overrides it otherwise.
    Optical: ``dn_scale`` and ``dn_offset`` turn integer values into reflectance (default: a
    product's own, else inferred from the values, offset 0). SAR: ``resolution`` (metres) is taken
    out of measured widths (default: the image's tag, else twice the pixel size; 0 keeps widths as
    measured); ``thermal_noise`` (``keep`` or ``subtract``, for a Sentinel-1 product only; default:
    the ``sar_thermal_noise`` setting).

    ``say`` is called with each line on how the input is read (``sensor: optical, a Sentinel-2 L2A
    SAFE product (…)``) as it is decided; ``warn`` with each warning (default: a
    :class:`~sitewatch.errors.SitewatchWarning`). ``progress(done, total)`` follows the pixel
    passes, run on ``workers`` threads.

    Returns an :class:`ImageDetections`; ``.geojson()`` is what the command writes. Raises
    :class:`~sitewatch.errors.InputError` (a refused input or a conflict between options, named)
    or :class:`~sitewatch.errors.ImageReadError` (a file that cannot be read).
    """
    if isinstance(bands, Mapping):
        bands = tuple(f"{name}={path}" for name, path in bands.items())
    found = open_image_input(
        image, bands=tuple(bands), sensor=sensor, pixel_size=pixel_size, dn_scale=dn_scale, dn_offset=dn_offset,
        resolution=resolution, thermal_noise=thermal_noise, say=say, warn=warn,
    )  # fmt: skip
    return detect_image_input(found, workers=workers, progress=progress)


def is_image_folder(image: Path | str | None) -> bool:
    """``image`` is a folder that is no product (a Sentinel-1 or -2 SAFE, a Landsat product): a folder
    of images, each to be detected in on its own (:func:`folder_images`)."""
    from ..sources.landsat import landsat_level1_refusal, landsat_products_in
    from ..sources.safe import is_s1_product, is_safe_product

    if not isinstance(image, Path) or not image.is_dir() or image.name.upper().endswith(".SAFE"):
        return False
    if is_s1_product(image) or is_safe_product(image):
        return False
    return not landsat_products_in(image) and landsat_level1_refusal(image) is None


def folder_images(folder: Path) -> list[Path]:
    """The images directly in ``folder``, by name: files named ``.tif``, ``.png``, ``.jpg`` … (any case),
    neither label masks beside their chips (HRSID's ``NAME_instance_id_RGB.png``) nor Planet usable data
    masks (read with their scene's image). A symlink of an image's name is one even when it leads nowhere (a
    disk not mounted): the caller names it (:func:`~sitewatch.files.broken_links_apart`). Subfolders are not read. Two images of one name but for the
    suffix (``a.png``, ``a.jpg``) are refused, naming both: their outputs would be one file."""
    from ..sources.planet import is_udm, is_udm2

    images = sorted(
        p for p in folder.iterdir()
        if (p.is_file() or p.is_symlink()) and p.suffix.lower() in FOLDER_IMAGE_SUFFIXES and not p.stem.lower().endswith(LABEL_MASK_TAILS)
        and not is_udm2(p) and not is_udm(p)
    )  # fmt: skip
    stems: dict[str, Path] = {}
    for p in images:
        if (other := stems.setdefault(p.stem.lower(), p)) is not p:
            raise InputError(f"{other} and {p}: two images of one name in {folder}; their detections would be one file {p.stem}.geojson")
    if not images:
        held = subfolders_with_images(folder)
        where = f": {describe_subfolders(held)}; give each as IMAGE" if held else ""
        raise InputError(f"{folder}: no image in it ({', '.join(FOLDER_IMAGE_SUFFIXES)}; subfolders are not read{where})")
    return images


_LABEL_FOLDER_WORDS = ("label", "mask", "annotation", "segmentation")


def subfolders_with_images(folder: Path) -> list[tuple[Path, int]]:
    """The subfolders of ``folder`` with images anywhere under them, and how many (as :func:`folder_images`
    counts them): a withheld set split into ``train/`` and ``test/``, which a folder of images does not read.
    Folders named for labels (``label``, ``mask``, ``annotation``, ``segmentation`` in the name: LEVIR-CD's
    ``label/``, sen2ships' ``genoa_segmentation_masks/``) hold label maps, not images to detect in."""
    held = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not any(w in p.name.casefold() for w in _LABEL_FOLDER_WORDS)):
        n = sum(
            1 for p in sub.rglob("*")
            if p.suffix.lower() in FOLDER_IMAGE_SUFFIXES and not p.stem.lower().endswith(LABEL_MASK_TAILS) and p.is_file()
        )  # fmt: skip
        if n:
            held.append((sub, n))
    return held


def describe_subfolders(held: list[tuple[Path, int]]) -> str:
    """``train/ holds 6 image(s), test/ holds 5 image(s)``, of :func:`subfolders_with_images`."""
    return ", ".join(f"{sub.name}/ holds {n} image(s)" for sub, n in held)


def image_and_udm2(image: Path | str | None, bands: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    """``bands`` without a lone ``udm2=PATH`` given with ``image`` (a Planet scene and its usable data
    mask under other names), and that mask's path ([] or one); refuses neither or both of an image and
    band files, and a udm2 given twice."""
    bands = tuple(bands)
    udm2_of_image = [b.partition("=")[2] for b in bands if b.partition("=")[0].strip().lower() == "udm2"] if image is not None else []
    if image is not None and udm2_of_image and len(udm2_of_image) == len(bands):
        if len(udm2_of_image) > 1:
            raise InputError("--band udm2 given twice")
        bands = ()
    else:
        udm2_of_image = []
    if (image is None) == (not bands):
        raise InputError("give IMAGE or --band NAME=PATH, not both and not neither (IMAGE takes --band udm2=PATH alone)")
    return bands, udm2_of_image


class ReadOptions(TypedDict, total=False):
    """How to read the input: the options of :func:`detect_image_file` that :func:`open_image_input` takes."""

    sensor: Sensor | None
    pixel_size: float | None
    dn_scale: float | None
    dn_offset: float | None
    resolution: float | None
    thermal_noise: str | None


def open_image_input(
    image: Path | str | None = None, *, bands: Sequence[str] = (), say: Say | None = None, warn: Say | None = None, **options: Unpack[ReadOptions]
) -> ImageInput:
    """Decide how :func:`detect_image_file` reads its input (same arguments), reading metadata only.

    Every refusal of the input or of a combination of options is raised here, before any pixel is read.
    """
    from ..config import load_setting
    from ..sources.landsat import open_landsat_l2
    from ..sources.safe import (
        is_s1_product,
        is_safe_product,
        open_s1_grd,
        open_s2_l2a,
        vsizip_product,
    )
    from .optical_image import optical_source_from_landsat, optical_source_from_safe

    sensor, pixel_size, resolution = options.get("sensor"), options.get("pixel_size"), options.get("resolution")
    dn_scale, dn_offset, thermal_noise = options.get("dn_scale"), options.get("dn_offset"), options.get("thermal_noise")
    bands, udm2_of_image = image_and_udm2(image, bands)
    tell = say or (lambda line: None)
    given = image
    if image is not None and vsizip_product(image) is not None:
        image = vsizip_product(image)  # /vsizip//abs/p.zip names the product, read as the zip is
    metadata: dict[str, Any] = {}
    optical_input: object = None
    s1_given = image is not None and is_s1_product(image)
    if thermal_noise is not None and not s1_given:
        raise InputError(
            f"--thermal-noise: for a Sentinel-1 GRD SAFE product given as IMAGE, whose noise LUT it keeps or subtracts; "
            f"{'the --band files' if image is None else image} are read as they are"
        )
    # flag > SITEWATCH_SAR_THERMAL_NOISE > keep; read for a Sentinel-1 product only, the one input it applies to
    s1 = open_s1_grd(image, thermal_noise=load_setting("sar_thermal_noise", thermal_noise)) if s1_given and image is not None else None
    if s1 is not None:
        if sensor == "optical":
            raise InputError(f"{image}: a Sentinel-1 product is SAR; drop --sensor optical")
        sensor = "sar"
        tell(f"sensor: sar, a Sentinel-1 GRD SAFE product ({s1.name}: {', '.join(s1.bands)})")
        metadata["source"] = str(given)
        metadata["safe"] = s1.provenance()
    elif (landsat_mtl := _landsat_mtl(image)) is not None:
        landsat = open_landsat_l2(landsat_mtl)  # a missing band file or MTL value named
        optical_input = _optical_product(landsat, "Landsat", "Collection 2 Level-2", image, sensor, tell, optical_source_from_landsat, pixel_size)
        sensor, metadata["source"] = "optical", str(given)
        metadata["landsat"], dn_scale, dn_offset = _product_scaling(landsat, landsat.path.name, dn_scale, dn_offset)
    elif image is not None and (is_safe_product(image) or (isinstance(image, Path) and image.suffix.lower() == ".zip")):
        product = open_s2_l2a(image)  # refuses L1C, Sentinel-1 and zips without a product, naming them
        optical_input = _optical_product(product, "Sentinel-2", "L2A SAFE", image, sensor, tell, optical_source_from_safe, pixel_size)
        sensor, metadata["source"] = "optical", str(given)
        metadata["safe"], dn_scale, dn_offset = _product_scaling(product, "MTD_MSIL2A.xml", dn_scale, dn_offset)
    else:
        if image is not None:
            from ..sources.landsat import landsat_tar_refusal
            from ..sources.planet import planet_mask_refusal
            from .image import open_image_info

            if (mask := planet_mask_refusal(image)) is not None:
                raise InputError(mask)  # read as an image, a UDM2's snow band was blue
            if (packed := landsat_tar_refusal(image)) is not None:
                raise InputError(packed)
            _refuse_bands_of_a_product({"": image}, scaled=dn_offset is not None, scale_given=dn_scale is not None)
            open_image_info(image, pixel_size)  # a missing or unreadable file is named before any "sensor:" line
        if udm2_of_image and sensor is None:
            sensor = "optical"
            tell("sensor: optical, a Planet scene with its usable data mask (--band udm2)")
        sensor = _choose_sensor(sensor, image, bands, tell, warn or _warn)
    if udm2_of_image and sensor != "optical":
        raise InputError("--band udm2: a Planet scene's usable data mask, read by the optical detector; drop --sensor sar")
    if sensor == "optical":
        from ..platforms import level_1c_note

        named = [image] if image is not None and not bands else [b.partition("=")[2] for b in bands if "=" in b]
        if (note := next((n for n in map(level_1c_note, named) if n), None)) is not None:
            (warn or _warn)(note)
    if resolution is not None and sensor == "optical":
        raise InputError("--resolution applies to SAR images; the optical detector measures widths as they are")
    if sensor == "sar" and (dn_scale is not None or dn_offset is not None):
        given_dn = " and ".join(o for o, v in (("--dn-scale", dn_scale), ("--dn-offset", dn_offset)) if v is not None)
        raise InputError(f"{given_dn}: for optical images (reflectance); the SAR detector reads its values as they are")
    band_sources: dict[str, str] = {}
    if bands:
        paths = _band_paths(sensor, bands)
        _refuse_bands_of_a_product(paths, scaled=sensor != "sar" and dn_offset is not None, scale_given=dn_scale is not None)
        band_sources = {name: str(path) for name, path in paths.items()}
        metadata["source"] = band_sources
    return ImageInput(
        image=image, bands=bands, sensor=sensor, pixel_size=pixel_size, dn_scale=dn_scale, dn_offset=dn_offset or 0.0,
        sar_params=SarParams(resolution_m=resolution), resolution=resolution,
        udm2=udm2_of_image[0] if udm2_of_image else None,
        udm2_given=bool(udm2_of_image) or any(b.partition("=")[0].strip().lower() == "udm2" for b in bands),
        s1=s1, optical_source=optical_input, metadata=metadata, band_sources=band_sources,
    )  # fmt: skip


def detect_image_input(found: ImageInput, *, workers: int = 1, progress: Callable[[int, int], None] | None = None) -> ImageDetections:
    """Run the detector :func:`open_image_input` chose on what it found (see :func:`detect_image_file`)."""
    from ..zero_collar import ZERO_NO_DATA_NOTE
    from .image import detect_image, detect_sar_bands

    metadata = dict(found.metadata)
    image, s1, sar_params, workers = found.image, found.s1, found.sar_params, max(1, workers)
    if found.sensor == "optical":
        info, dets, image = _detect_optical(found, metadata, workers, progress)
    elif s1 is not None and len(s1.bands) > 1:
        pair = dict(list(s1.bands.items())[:2])  # co-polarised first
        info, dets = detect_sar_bands({k.lower(): v for k, v in pair.items()}, pixel_size=found.pixel_size, params=sar_params, workers=workers, progress=progress)
        metadata["polarisation_bands"] = {"co": list(pair)[0], "cross": list(pair)[1]}
    elif s1 is not None:
        info, dets = detect_image(next(iter(s1.bands.values())), "sar", pixel_size=found.pixel_size, params=sar_params, workers=workers, progress=progress)
    elif found.bands:
        from .image import parse_sar_band_args

        info, dets = detect_sar_bands(parse_sar_band_args(found.bands), pixel_size=found.pixel_size, params=sar_params, workers=workers, progress=progress)
        image = info.path
    else:
        assert image is not None
        info, dets = detect_image(image, found.sensor, pixel_size=found.pixel_size, params=sar_params if found.sensor == "sar" else None, workers=workers, progress=progress)
        if found.sensor == "sar":
            from .image import _polarisation_bands

            pols = _polarisation_bands(info)
            if pols is not None:  # which band was taken for which channel, so it can be checked
                metadata["polarisation_bands"] = {"co": pols[0], "cross": pols[1]}
    if found.sensor == "sar":
        used = found.resolution if found.resolution is not None else info.impulse_response_m
        if info.rendering_divisor is not None or _is_8bit(info.path):
            metadata["impulse_response_m"] = "none taken out: widths of an 8-bit rendering are as measured"
        else:
            metadata["impulse_response_m"] = (
                used if used is not None else f"twice the pixel size, {2 * info.pixel_size[0]:.4g} x {2 * info.pixel_size[1]:.4g} m (default)"
            )
        if info.zero_no_data:
            metadata["no_data"] = ZERO_NO_DATA_NOTE
        if info.scaling is not None:
            # Read as DN x scale + offset (sitewatch.band_scaling), then as any float file: said, with each band's.
            metadata["values"] = DECLARED_SAR_SCALING
            metadata["band_scaling"] = {str(i): {"scale": sc, "offset": off} for i, (sc, off) in enumerate(info.scaling, 1)}
    assert image is not None
    simulated = files_simulated(found.band_sources.values() if found.band_sources else [image])
    # The product or file given (a product's name says its satellite and date, its band inside it need not).
    credit = files_credit(found.band_sources.values() if found.band_sources else [found.image or image], simulated=simulated)
    return ImageDetections(info=info, detections=dets, sensor=found.sensor, metadata=metadata, image=image, band_sources=found.band_sources,
                           simulated=simulated, credit=credit)  # fmt: skip


def _detect_optical(
    found: ImageInput, metadata: dict[str, Any], workers: int, progress: Callable[[int, int], None] | None
) -> tuple[ImageInfo, list[PixelDetection], Path | str]:
    """The optical detector on ``found``; what it says of the input added to ``metadata``."""
    from ..zero_collar import ZERO_NO_DATA_NOTE
    from .optical_image import OpticalSource, detect_optical_image, open_optical, parse_band_args

    if isinstance(found.optical_source, OpticalSource):
        if found.udm2 is not None:
            whose = "a Landsat product, whose QA_PIXEL" if found.optical_source.qa_pixel is not None else "a Sentinel-2 product, whose SCL"
            raise InputError(f"--band udm2: a Planet mask; {found.image} is {whose} is its cloud mask")
        src = found.optical_source
    else:
        src = open_optical(
            parse_band_args(found.bands) if found.bands else found.image,  # type: ignore[arg-type]
            found.pixel_size, udm2=found.udm2, scale_given=found.dn_scale is not None,
        )  # fmt: skip
    res = detect_optical_image(src, scale=found.dn_scale, offset=found.dn_offset, workers=workers, progress=progress)
    if src.toa is not None and found.dn_scale is None:
        # A Planet radiance file, made TOA reflectance by its metadata XML's coefficients (not surface reflectance).
        by_index = {i: name for name, (_, i) in src.bands.items()}
        metadata["maxar" if isinstance(src.toa, MaxarTOA) else "planet"] = src.toa.provenance([by_index.get(i + 1, f"band{i + 1}") for i in range(len(src.toa.coefficients))])
    metadata |= _cloud_mask_said(src, given_udm2=found.udm2_given)
    metadata |= {
        "cloud_fraction": None if res.cloud_fraction is None else round(res.cloud_fraction, 4),
        "valid_fraction": round(res.valid_fraction, 4),
        "dn_scale": res.dn_scale,
        "dn_scale_from": res.dn_scale_from,
        "dn_offset": found.dn_offset,
        "model": res.model,
    }
    if res.declared is not None:
        # Each band's own: reflectance = DN x scale + offset (dn_scale, when they share a scale, is 1 / it).
        metadata["band_scaling"] = {b: {"scale": sc, "offset": off} for b, (sc, off) in res.declared.items()}
    if res.zero_no_data:
        metadata["no_data"] = ZERO_NO_DATA_NOTE
    return res.info, res.detections, found.image or res.info.path


def _optical_product(
    product: Any, platform: str, kind: str, image: Path | str | None, sensor: Sensor | None, say: Say,
    to_source: Callable[[Any, float | None], Any], pixel_size: float | None,
) -> Any:
    """The bands of a Sentinel-2 or Landsat ``product`` (an optical product: ``--sensor sar`` refused), said as read."""
    if sensor == "sar":
        raise InputError(f"{image}: a {platform} product is optical; drop --sensor sar")
    say(f"sensor: optical, a {platform} {kind} product ({product.name})")
    return to_source(product, pixel_size)


def _product_scaling(product: Any, metadata_file: str, dn_scale: float | None, dn_offset: float | None) -> tuple[dict[str, Any], float, float]:
    """A Sentinel-2 or Landsat product's provenance saying where its scaling came from, and the scale
    and offset to use: those given, else the product's own (its ``quantification``, minus its ``offset``)."""
    provenance = product.provenance() | {
        "dn_scale_from": "given" if dn_scale else metadata_file,
        "dn_offset_from": "given" if dn_offset is not None else metadata_file,
    }
    return provenance, dn_scale or product.quantification, -product.offset if dn_offset is None else dn_offset


def _warn(message: str) -> None:
    warnings.warn(message, SitewatchWarning, stacklevel=4)


def _cloud_mask_said(src: object, *, given_udm2: bool) -> dict[str, object]:
    """Which cloud mask detect-image used, for the output's ``sitewatch`` metadata: a Planet UDM2
    (given with --band udm2, or found beside the image), a Landsat QA_PIXEL, an SCL band, or the spectral test."""
    from .clouds import UDM2_CLOUD_RULE
    from .optical_image import OpticalSource

    assert isinstance(src, OpticalSource)
    if src.udm2 is not None:
        how = "--band udm2" if given_udm2 else "found beside the image (Planet's naming: same scene id, _udm2)"
        return {"cloud_mask": {"from": "udm2", "path": str(src.udm2), "how": how}, "cloud_rule": UDM2_CLOUD_RULE}
    if src.qa_pixel is not None:
        from .clouds import QA_PIXEL_CLOUD_RULE

        return {"cloud_mask": {"from": "qa_pixel", "path": str(src.qa_pixel)}, "cloud_rule": QA_PIXEL_CLOUD_RULE}
    if "scl" in src.bands:
        return {"cloud_mask": {"from": "scl", "path": str(src.bands["scl"][0])}}
    return {"cloud_mask": {"from": "spectral test"}}


def _landsat_mtl(image: Path | str | None) -> Path | None:
    """The ``…_MTL.txt`` of the Landsat Collection 2 Level-2 product IMAGE is (the MTL itself, or the
    folder holding one product), or None; a folder of several products is refused."""
    from ..sources.landsat import is_landsat_mtl, landsat_level1_refusal, landsat_products_in

    if not isinstance(image, Path):
        return None
    if is_landsat_mtl(image):
        return image
    if (image.is_dir() or "_MTL." in image.name) and (level1 := landsat_level1_refusal(image)) is not None:
        raise InputError(level1)  # (a band file is refused below, unless --dn-scale and --dn-offset scale it)
    if image.is_dir() and not image.name.upper().endswith(".SAFE"):
        found = landsat_products_in(image)
        if len(found) > 1:
            raise InputError(f"{image}: holds {len(found)} Landsat products ({', '.join(p.parent.name for p in found[:3])} …); give one's folder or _MTL.txt")
        return found[0] if found else None
    return None


def _refuse_bands_of_a_product(paths: Mapping[str, Path | str], *, scaled: bool, scale_given: bool) -> None:
    """Refuse band files (key ``""``: IMAGE itself) taken out of a SAFE or Landsat product: read alone
    they go without its scaling (a Sentinel-2 band from baseline 04.00 reads 0.1 too bright without
    BOA_ADD_OFFSET; a Sentinel-1 measurement is uncalibrated DN, its GCPs half a pixel off; a Landsat
    surface reflectance band divided by 10,000 puts water at reflectance 0.8). ``scaled``: --dn-offset
    was given for optical bands, which lets SAFE files through and, with --dn-scale (``scale_given``), Landsat ones.

    (``sitewatch.ingest`` refuses the same files with the same check,
    :func:`~sitewatch.sources.product_files.refuse_files_of_a_product`; its advice points to ``ingest``.)"""
    from ..sources.product_files import refuse_files_of_a_product

    refuse_files_of_a_product(
        paths,
        landsat_file="a band file",
        landsat_advice=lambda mtl: (
            f"give the product (its folder or {mtl.name}) as IMAGE, which is read with its MTL's scale and its QA_PIXEL as the "
            "cloud mask (or pass --dn-scale and --dn-offset)"
        ),
        safe_advice=lambda root: (
            "give the product itself as IMAGE, which is read with its own offset, scale or calibration (or, optical, pass --dn-offset)"
        ),
        landsat_alone_advice=" (or pass --dn-scale and --dn-offset)",
        check_landsat=not (scaled and scale_given),
        check_safe=not scaled,
    )


def _band_paths(sensor: str, bands: tuple[str, ...]) -> dict[str, Path | str]:
    """``--band`` values parsed for the detector that will run, naming any bad item."""
    if sensor == "optical":
        from .optical_image import parse_band_args

        return parse_band_args(bands)
    from .image import parse_sar_band_args

    return parse_sar_band_args(bands)


def _choose_sensor(sensor: Sensor | None, image: Path | str | None, bands: tuple[str, ...], say: Say, warn: Say) -> Sensor:
    """The sensor given, or the one the band names point to; say which when it was not given."""
    from .optical_image import sensor_from_band_names

    guess, why = sensor_from_band_names(image, bands)
    if sensor is None and guess == "sar" and image is not None and not bands:
        _refuse_an_optical_platform(image)
    if sensor is None:
        say(f"sensor: {guess}, {why} (--sensor to choose)")
        return "optical" if guess == "optical" else "sar"
    if sensor == "sar" and guess == "optical" and not bands:  # optical --band names are refused below
        warn(f"--sensor sar on optical bands ({why}); --sensor optical runs the optical detector on them")
    return sensor


def _refuse_an_optical_platform(image: Path | str) -> None:
    """An image whose name says an optical satellite took it is not run as SAR by default.

    EO Browser's one-band files (``…_Sentinel-2_L2A_B08_(Raw).tiff``) have no band named blue,
    green, red or nir, and a true-colour JPEG is a colour chip: the SAR default gave 35
    "vessels" in Genoa's B08 band. Only the documented name schemes count (platforms.py).
    """
    from ..platforms import platform_from_name

    platform = platform_from_name(Path(str(image)).name)
    if platform.startswith(("sentinel-2", "landsat")):
        raise InputError(
            f"{image}: a {platform} image (from its file name) without bands named blue, green, red or nir; "
            "give a scene's band files together (--band blue=… --band green=… --band red=… --band nir=…), "
            "--sensor optical for a colour rendering, or --sensor sar to run the SAR detector on it anyway"
        )


def _is_8bit(path: Path | str) -> bool:
    """Whether the image is a display rendering (uint8), which the SAR detector reads in grey levels."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            return ds.dtypes[0] == "uint8"
