"""``sitewatch detect-image``: vessels in any image file, written as GeoJSON."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from .options import (
    FiniteFloatRange,
    ImagePath,
    OnceCommand,
    existing_folder,
    handle_errors,
    thermal_noise_option,
    warnings_as_lines,
)


@click.command("detect-image", cls=OnceCommand, short_help="Detect vessels in one image; write them as GeoJSON.")
@click.argument("image", type=ImagePath(path_type=Path), required=False)
@click.option("--band", "bands", multiple=True, metavar="NAME=PATH", help="One file per band, replaces IMAGE; repeat (GDAL virtual paths such as /vsizip//abs/a.zip/b.tif work here and for IMAGE). Optical: blue, green, red, nir, scl, udm2 (a Planet scene's 8-band usable data mask; found beside a single Planet file by itself). SAR: a dual-polarisation pair, vv=PATH vh=PATH (or hh, hv).")
@click.option("--dn-scale", type=FiniteFloatRange(min=0, min_open=True), default=None, metavar="N", help="Optical: integer values are reflectance x N (default: 255 for 8-bit; 65535 when the values fill the 16-bit range, else 10000).")
@click.option("--dn-offset", type=FiniteFloatRange(), default=None, metavar="N", help="Optical: subtracted from integer values first (default 0; 1000 for Sentinel-2 L2A from processing baseline 04.00; a SAFE product's own BOA_ADD_OFFSET).")
@click.option("--sensor", type=click.Choice(["sar", "optical"]), default=None, help="Which detector to run (default: optical when the --band names or the image's band descriptions are blue/green/red/nir or B02/B03/B04/B08, or a GeoTIFF without descriptions has red, green and blue colour interpretations, or a PlanetScope, SkySat, Maxar or Airbus file by its name or metadata sidecar; else sar, but an image whose file name says Sentinel-2 or Landsat is refused).")
@click.option("--pixel-size", type=FiniteFloatRange(min=0, min_open=True), default=None, metavar="METRES", help="Ground pixel size; needed only when the image has no georeference (overrides it otherwise).")
@click.option("--resolution", type=FiniteFloatRange(min=0), default=None, metavar="METRES", help="SAR: the image's resolution (impulse response width at half maximum), taken out of measured widths; default: the image's SITEWATCH_IMPULSE_RESPONSE_M tag, else twice the pixel size (detected products such as Sentinel-1 GRD); 0 keeps widths as measured.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, callback=existing_folder, help="GeoJSON file to write (its folder must exist); - for standard output.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Threads for the pixel passes.")
@thermal_noise_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary for scripts.")
@click.pass_context
@handle_errors
def command(ctx: click.Context, image: Path | str | None, bands: tuple[str, ...], dn_scale: float | None, dn_offset: float | None, sensor: str | None, pixel_size: float | None, resolution: float | None, out: Path, workers: int, thermal_noise: str | None, as_json: bool) -> None:
    """Detect vessels in IMAGE (GeoTIFF, PNG or JPEG, a Sentinel-2 L2A or Sentinel-1 GRD
    .SAFE folder or its .zip, or a Landsat Collection 2 Level-2 product's folder or _MTL.txt)
    and write them to --out as GeoJSON.

    Each feature is a vessel's oriented box (in the image's CRS, or in pixel
    coordinates when the image has none) with row, col, length_m, width_m,
    heading_deg, score and (vessels) class_candidates. Big rasters (a whole Sentinel-1 scene) run in
    tiles with bounded memory.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress

    from ..config import load_setting
    from ..detect.image import detect_image, detections_to_geojson, skew_note, write_geojson
    from ..detect.optical_image import (
        optical_source_from_landsat,
        optical_source_from_safe,
        parse_band_args,
    )
    from ..errors import InputError
    from ..sources.landsat import open_landsat_l2
    from ..sources.safe import (
        is_s1_product,
        is_safe_product,
        open_s1_grd,
        open_s2_l2a,
        vsizip_product,
    )
    from ..zero_collar import ZERO_NO_DATA_NOTE

    # IMAGE with --band udm2=PATH alone: a Planet scene and its usable data mask, under other names.
    udm2_of_image = [b.partition("=")[2] for b in bands if b.partition("=")[0].strip().lower() == "udm2"] if image is not None else []
    if image is not None and udm2_of_image and len(udm2_of_image) == len(bands):
        if len(udm2_of_image) > 1:
            raise InputError("--band udm2 given twice")
        bands = ()
    else:
        udm2_of_image = []
    if (image is None) == (not bands):
        raise InputError("give IMAGE or --band NAME=PATH, not both and not neither (IMAGE takes --band udm2=PATH alone)")
    to_stdout = str(out) == "-"
    if to_stdout and as_json:
        raise InputError("--out - writes the GeoJSON to standard output; drop --json or give --out a file")
    if not to_stdout:
        _refuse_an_input_as_out(out, [image, *udm2_of_image, *(b.partition("=")[2] for b in bands)])
    from ..detect.sar import SarParams

    sar_params = SarParams(resolution_m=resolution)
    given = image
    if image is not None and vsizip_product(image) is not None:
        image = vsizip_product(image)  # /vsizip//abs/p.zip names the product, read as the zip is
    extra: dict[str, object] = {}
    quiet = bool((ctx.obj or {}).get("quiet")) or as_json
    optical_input: object = None  # a SAFE product's bands, found below
    s1_given = image is not None and is_s1_product(image)
    if thermal_noise is not None and not s1_given:
        raise InputError(
            f"--thermal-noise: for a Sentinel-1 GRD SAFE product given as IMAGE, whose noise LUT it keeps or subtracts; "
            f"{'the --band files' if image is None else image} are read as they are"
        )
    with warnings_as_lines():  # a missing noise LUT (--thermal-noise subtract), said in a line
        # flag > SITEWATCH_SAR_THERMAL_NOISE > keep; read for a Sentinel-1 product only, the one input it applies to
        s1 = open_s1_grd(image, thermal_noise=load_setting("sar_thermal_noise", thermal_noise)) if s1_given and image is not None else None
    if s1 is not None:
        if sensor == "optical":
            raise InputError(f"{image}: a Sentinel-1 product is SAR; drop --sensor optical")
        sensor = "sar"
        if not quiet:
            click.echo(f"sensor: sar, a Sentinel-1 GRD SAFE product ({s1.name}: {', '.join(s1.bands)})", err=True)
        extra["source"] = str(given)
        extra["safe"] = s1.provenance()
    elif (landsat_mtl := _landsat_mtl(image)) is not None:
        landsat = open_landsat_l2(landsat_mtl)  # a missing band file or MTL value named
        if sensor == "sar":
            raise InputError(f"{image}: a Landsat product is optical; drop --sensor sar")
        sensor = "optical"
        if not quiet:
            click.echo(f"sensor: optical, a Landsat Collection 2 Level-2 product ({landsat.name})", err=True)
        optical_input = optical_source_from_landsat(landsat, pixel_size)
        extra["source"] = str(given)
        extra["landsat"] = landsat.provenance() | {
            "dn_scale_from": "given" if dn_scale else landsat.path.name,
            "dn_offset_from": "given" if dn_offset is not None else landsat.path.name,
        }
        dn_scale = dn_scale or landsat.quantification
        dn_offset = -landsat.offset if dn_offset is None else dn_offset
    elif image is not None and (is_safe_product(image) or (isinstance(image, Path) and image.suffix.lower() == ".zip")):
        product = open_s2_l2a(image)  # refuses L1C, Sentinel-1 and zips without a product, naming them
        if sensor == "sar":
            raise InputError(f"{image}: a Sentinel-2 product is optical; drop --sensor sar")
        sensor = "optical"
        if not quiet:
            click.echo(f"sensor: optical, a Sentinel-2 L2A SAFE product ({product.name})", err=True)
        optical_input = optical_source_from_safe(product, pixel_size)
        extra["source"] = str(given)
        extra["safe"] = product.provenance() | {
            "dn_scale_from": "given" if dn_scale else "MTD_MSIL2A.xml",
            "dn_offset_from": "given" if dn_offset is not None else "MTD_MSIL2A.xml",
        }
        dn_scale = dn_scale or product.quantification
        dn_offset = -product.offset if dn_offset is None else dn_offset
    else:
        if image is not None:
            from ..detect.image import open_image_info
            from ..sources.landsat import landsat_tar_refusal
            from ..sources.planet import planet_mask_refusal

            if (mask := planet_mask_refusal(image)) is not None:
                raise InputError(mask)  # read as an image, a UDM2's snow band was blue
            if (packed := landsat_tar_refusal(image)) is not None:
                raise InputError(packed)
            _refuse_bands_of_a_product({"": image}, scaled=dn_offset is not None, scale_given=dn_scale is not None)
            open_image_info(image, pixel_size)  # a missing or unreadable file is named before any "sensor:" line
        if udm2_of_image and sensor is None:
            sensor = "optical"
            if not quiet:
                click.echo("sensor: optical, a Planet scene with its usable data mask (--band udm2)", err=True)
        sensor = _choose_sensor(sensor, image, bands, quiet)
    if udm2_of_image and sensor != "optical":
        raise InputError("--band udm2: a Planet scene's usable data mask, read by the optical detector; drop --sensor sar")
    if resolution is not None and sensor == "optical":
        raise InputError("--resolution applies to SAR images; the optical detector measures widths as they are")
    if sensor == "sar" and (dn_scale is not None or dn_offset is not None):
        given_dn = " and ".join(o for o, v in (("--dn-scale", dn_scale), ("--dn-offset", dn_offset)) if v is not None)
        raise InputError(f"{given_dn}: for optical images (reflectance); the SAR detector reads its values as they are")
    if bands:
        _refuse_bands_of_a_product(_band_paths(sensor, bands), scaled=sensor != "sar" and dn_offset is not None, scale_given=dn_scale is not None)
    dn_offset = dn_offset or 0.0
    source: dict[str, str] = {}
    if bands:
        # Every band file is a source, not only the one whose grid the output uses.
        source = {name: str(path) for name, path in _band_paths(sensor, bands).items()}
        extra["source"] = source

    # Off a terminal (a log, a pipe) a transient bar would leave an empty line behind.
    console = Console(stderr=True)
    with Progress(transient=True, disable=quiet or not console.is_terminal, console=console) as bar:
        task = bar.add_task(escape(f"detecting in {_name(image) if image else 'bands'}"), total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if sensor == "optical":
            from ..detect.optical_image import OpticalSource, detect_optical_image, open_optical

            if isinstance(optical_input, OpticalSource):
                if udm2_of_image:
                    whose = "a Landsat product, whose QA_PIXEL" if optical_input.qa_pixel is not None else "a Sentinel-2 product, whose SCL"
                    raise InputError(f"--band udm2: a Planet mask; {image} is {whose} is its cloud mask")
                src = optical_input
            else:
                src = open_optical(
                    parse_band_args(bands) if bands else image, pixel_size,  # type: ignore[arg-type]
                    udm2=udm2_of_image[0] if udm2_of_image else None, scale_given=dn_scale is not None,
                )
            res = detect_optical_image(src, scale=dn_scale, offset=dn_offset, workers=max(1, workers), progress=progress)
            if src.toa is not None and dn_scale is None:
                # A Planet radiance file, made TOA reflectance by its metadata XML's coefficients (not surface reflectance).
                by_index = {i: name for name, (_, i) in src.bands.items()}
                extra["planet"] = src.toa.provenance([by_index.get(i + 1, f"band{i + 1}") for i in range(len(src.toa.coefficients))])
            info, dets = res.info, res.detections
            extra |= _cloud_mask_said(src, given_udm2=bool(udm2_of_image) or any(b.partition("=")[0].strip().lower() == "udm2" for b in bands))
            extra |= {
                "cloud_fraction": None if res.cloud_fraction is None else round(res.cloud_fraction, 4),
                "valid_fraction": round(res.valid_fraction, 4),
                "dn_scale": res.dn_scale,
                "dn_scale_from": res.dn_scale_from,
                "dn_offset": dn_offset,
                "model": res.model,
            }
            if res.zero_no_data:
                extra["no_data"] = ZERO_NO_DATA_NOTE
            image = image or info.path
        elif s1 is not None and len(s1.bands) > 1:
            from ..detect.image import detect_sar_bands

            pair = dict(list(s1.bands.items())[:2])  # co-polarised first
            info, dets = detect_sar_bands({k.lower(): v for k, v in pair.items()}, pixel_size=pixel_size, params=sar_params, workers=max(1, workers), progress=progress)
            extra["polarisation_bands"] = {"co": list(pair)[0], "cross": list(pair)[1]}
        elif s1 is not None:
            info, dets = detect_image(next(iter(s1.bands.values())), "sar", pixel_size=pixel_size, params=sar_params, workers=max(1, workers), progress=progress)
        elif bands:
            from ..detect.image import detect_sar_bands, parse_sar_band_args

            info, dets = detect_sar_bands(parse_sar_band_args(bands), pixel_size=pixel_size, params=sar_params, workers=max(1, workers), progress=progress)
            image = info.path
        else:
            assert image is not None
            info, dets = detect_image(image, sensor, pixel_size=pixel_size, params=sar_params if sensor == "sar" else None, workers=max(1, workers), progress=progress)
            if sensor == "sar":
                from ..detect.image import _polarisation_bands

                pols = _polarisation_bands(info)
                if pols is not None:  # which band was taken for which channel, so it can be checked
                    extra["polarisation_bands"] = {"co": pols[0], "cross": pols[1]}
    if sensor == "sar":
        used = resolution if resolution is not None else info.impulse_response_m
        if _is_8bit(info.path):
            extra["impulse_response_m"] = "none taken out: widths of an 8-bit rendering are as measured"
        else:
            extra["impulse_response_m"] = (
                used if used is not None else f"twice the pixel size, {2 * info.pixel_size[0]:.4g} x {2 * info.pixel_size[1]:.4g} m (default)"
            )
        if info.zero_no_data:
            extra["no_data"] = ZERO_NO_DATA_NOTE
    fc = detections_to_geojson(info, dets, sensor, extra=extra)
    skew = skew_note(info)
    if skew:
        click.echo(f"warning: {info.path}: {skew}", err=True)
    if to_stdout:
        click.echo(json.dumps(fc))
    else:
        write_geojson(fc, out)
    kinds = Counter(d.kind for d in dets)
    if as_json:
        click.echo(json.dumps({"image": str(image), "out": str(out), "detections": len(dets), "vessels": kinds["vessel"], "pixel_size_m": list(info.pixel_size)} | extra))
    elif not quiet:
        what = ", ".join(f"{k}={v}" for k, v in source.items()) if source else str(image)
        # Cranes (optical, 5 m or finer) are written too but are not vessels: counted apart.
        others = "".join(f" and {n} {kind}(s)" for kind, n in sorted(kinds.items()) if kind != "vessel")
        # Written to a stream (-, /dev/stdout, a pipe), the GeoJSON is read from it: the line goes to standard error.
        stream = to_stdout or not out.is_file()
        click.echo(f"{kinds['vessel']} vessel(s){others} in {what} → {'standard output' if to_stdout else out}", err=stream)


def _cloud_mask_said(src: object, *, given_udm2: bool) -> dict[str, object]:
    """Which cloud mask detect-image used, for the output's ``sitewatch`` metadata: a Planet UDM2
    (given with --band udm2, or found beside the image), a Landsat QA_PIXEL, an SCL band, or the spectral test."""
    from ..detect.clouds import UDM2_CLOUD_RULE
    from ..detect.optical_image import OpticalSource

    assert isinstance(src, OpticalSource)
    if src.udm2 is not None:
        how = "--band udm2" if given_udm2 else "found beside the image (Planet's naming: same scene id, _udm2)"
        return {"cloud_mask": {"from": "udm2", "path": str(src.udm2), "how": how}, "cloud_rule": UDM2_CLOUD_RULE}
    if src.qa_pixel is not None:
        from ..detect.clouds import QA_PIXEL_CLOUD_RULE

        return {"cloud_mask": {"from": "qa_pixel", "path": str(src.qa_pixel)}, "cloud_rule": QA_PIXEL_CLOUD_RULE}
    if "scl" in src.bands:
        return {"cloud_mask": {"from": "scl", "path": str(src.bands["scl"][0])}}
    return {"cloud_mask": {"from": "spectral test"}}


def _refuse_an_input_as_out(out: Path, inputs: list[Path | str | None]) -> None:
    """--out must not be the image or a band file: the GeoJSON would be written over it."""
    import os

    from ..errors import InputError

    if not out.exists():
        return
    for given in inputs:
        if given and not str(given).startswith("/vsi") and Path(given).exists() and os.path.samefile(out, given):
            raise InputError(f"--out {out} is the input {given}: writing the GeoJSON would overwrite it; give another file")


def _name(image: Path | str) -> str:
    return image.name if isinstance(image, Path) else image.rsplit("/", 1)[-1]


def _landsat_mtl(image: Path | str | None) -> Path | None:
    """The ``…_MTL.txt`` of the Landsat Collection 2 Level-2 product IMAGE is (the MTL itself, or the
    folder holding one product), or None; a folder of several products is refused."""
    from ..errors import InputError
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


def _refuse_bands_of_a_product(paths: dict[str, Path | str], *, scaled: bool, scale_given: bool) -> None:
    """Refuse band files (key ``""``: IMAGE itself) taken out of a SAFE or Landsat product: read alone
    they go without its scaling (a Sentinel-2 band from baseline 04.00 reads 0.1 too bright without
    BOA_ADD_OFFSET; a Sentinel-1 measurement is uncalibrated DN, its GCPs half a pixel off; a Landsat
    surface reflectance band divided by 10,000 puts water at reflectance 0.8). ``scaled``: --dn-offset
    was given for optical bands, which lets SAFE files through and, with --dn-scale (``scale_given``), Landsat ones."""
    from ..errors import InputError
    from ..sources.landsat import landsat_band_refusal, landsat_product_id, landsat_product_of
    from ..sources.safe import product_holding

    for name, path in paths.items():
        mtl = None if str(path).startswith("/vsi") else landsat_product_of(path)
        if mtl is None and not (scaled and scale_given) and (why := landsat_band_refusal(path, f"--band {name}" if name else "")):
            raise InputError(f"{why} (or pass --dn-scale and --dn-offset)")
        if mtl is not None and not (scaled and scale_given):
            raise InputError(
                f"{f'--band {name} ' if name else ''}{path}: a band file of the Landsat product {landsat_product_id(mtl)}; "
                f"give the product (its folder or {mtl.name}) as IMAGE, which is read with its MTL's scale and its QA_PIXEL as the "
                "cloud mask (or pass --dn-scale and --dn-offset)"
            )
        root = None if scaled or str(path).startswith("/vsi") else product_holding(Path(path))
        if root is not None:
            raise InputError(
                f"{f'--band {name} ' if name else ''}{path}: a file of the SAFE product {root}; give the product itself as IMAGE, "
                "which is read with its own offset, scale or calibration (or, optical, pass --dn-offset)"
            )


def _band_paths(sensor: str, bands: tuple[str, ...]) -> dict[str, Path | str]:
    """``--band`` values parsed for the detector that will run, naming any bad item."""
    if sensor == "optical":
        from ..detect.optical_image import parse_band_args

        return parse_band_args(bands)
    from ..detect.image import parse_sar_band_args

    return parse_sar_band_args(bands)


def _choose_sensor(sensor: str | None, image: Path | str | None, bands: tuple[str, ...], quiet: bool) -> str:
    """The --sensor given, or the one the band names point to; say which when it was not given."""
    from ..detect.optical_image import sensor_from_band_names

    guess, why = sensor_from_band_names(image, bands)
    if sensor is None and guess == "sar" and image is not None and not bands:
        _refuse_an_optical_platform(image)
    if sensor is None:
        if not quiet:
            click.echo(f"sensor: {guess}, {why} (--sensor to choose)", err=True)
        return guess
    if sensor == "sar" and guess == "optical" and not bands:  # optical --band names are refused below
        click.echo(f"warning: --sensor sar on optical bands ({why}); --sensor optical runs the optical detector on them", err=True)
    return sensor


def _refuse_an_optical_platform(image: Path | str) -> None:
    """An image whose name says an optical satellite took it is not run as SAR by default.

    EO Browser's one-band files (``…_Sentinel-2_L2A_B08_(Raw).tiff``) have no band named blue,
    green, red or nir, and a true-colour JPEG is a colour chip: the SAR default gave 35
    "vessels" in Genoa's B08 band. Only the documented name schemes count (platforms.py).
    """
    from ..errors import InputError
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
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            return ds.dtypes[0] == "uint8"
