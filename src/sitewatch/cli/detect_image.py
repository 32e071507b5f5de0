"""``sitewatch detect-image``: vessels in any image file, written as GeoJSON."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..simulated_tag import simulated_lead
from .options import (
    FiniteFloatRange,
    ImagePath,
    OnceCommand,
    dn_scale_option,
    geojson_out,
    handle_errors,
    json_summary_option,
    shown,
    thermal_noise_option,
    warnings_as_lines,
)
from .output import echo_json

if TYPE_CHECKING:
    from ..detect.inputs import ReadOptions


def _geojson_or_folder(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Click callback for --out: a folder that exists passes (for IMAGE a folder of images, checked in the
    command), anything else is a GeoJSON file (:func:`~sitewatch.cli.options.geojson_out`)."""
    if value == "":  # an unset "$OUT": read as text here, since a Path option would take it for "."
        raise click.BadParameter("an empty name; name the file or folder to write", ctx=ctx, param=param)
    if value is not None and str(value) != "-":
        if Path(value).is_dir():
            return Path(value)  # "." too: for IMAGE a folder, the current folder
        if not Path(value).exists() and (str(value).endswith(("/", "\\")) or not Path(value).suffix):
            raise click.BadParameter(
                f"{value}: folder {value} does not exist (make it first; one image's output is a .geojson file)", ctx=ctx, param=param
            )
    value = geojson_out(ctx, param, value)
    return None if value is None else Path(value)


@click.command("detect-image", cls=OnceCommand, short_help="Detect vessels in an image, or each of a folder; write GeoJSON.")
@click.argument("image", type=ImagePath(path_type=Path), required=False)
@click.option("--band", "bands", multiple=True, metavar="NAME=PATH", help="One file per band, replaces IMAGE; repeat (GDAL virtual paths such as /vsizip//abs/a.zip/b.tif work here and for IMAGE). Optical: blue, green, red, nir, scl, udm2 (a Planet scene's 8-band usable data mask; found beside a single Planet file by itself). SAR: a dual-polarisation pair, vv=PATH vh=PATH (or hh, hv).")
@dn_scale_option
@click.option("--dn-offset", type=FiniteFloatRange(), default=None, metavar="N", help="Optical: subtracted from integer values first (default 0; 1000 for Sentinel-2 L2A from processing baseline 04.00; a SAFE product's own BOA_ADD_OFFSET).")
@click.option("--sensor", type=click.Choice(["sar", "optical"]), default=None, help="Which detector to run (default: optical when the --band names or the image's band descriptions are blue/green/red/nir or B02/B03/B04/B08, or a GeoTIFF without descriptions has red, green and blue colour interpretations, or a PlanetScope, SkySat, Maxar or Airbus file by its name or metadata sidecar; else sar, but an image whose file name says Sentinel-2 or Landsat is refused).")
@click.option("--pixel-size", type=FiniteFloatRange(min=0, min_open=True), default=None, metavar="METRES", help="Ground pixel size; needed only when the image has no georeference (overrides it otherwise).")
@click.option("--resolution", type=FiniteFloatRange(min=0), default=None, metavar="METRES", help="SAR: the image's resolution (impulse response width at half maximum), taken out of measured widths; default: the image's SITEWATCH_IMPULSE_RESPONSE_M tag, else twice the pixel size (detected products such as Sentinel-1 GRD); 0 keeps widths as measured.")
@click.option("--out", "out", type=click.Path(), required=True, callback=_geojson_or_folder, help="GeoJSON file to write (.geojson or .json; its folder must exist); - for standard output. With IMAGE a folder of images: a folder that exists, where each image's detections go as NAME.geojson.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Workers: threads for SAR pixel passes, processes for an optical scene's tiles (threads off Linux).")
@thermal_noise_option
@json_summary_option
@click.pass_context
@handle_errors
def command(ctx: click.Context, image: Path | str | None, bands: tuple[str, ...], dn_scale: float | None, dn_offset: float | None, sensor: str | None, pixel_size: float | None, resolution: float | None, out: Path, workers: int, thermal_noise: str | None, as_json: bool) -> None:
    """Detect vessels in IMAGE (GeoTIFF, PNG or JPEG, a Sentinel-2 L2A or Sentinel-1 GRD
    .SAFE folder or its .zip, or a Landsat Collection 2 Level-2 product's folder or _MTL.txt)
    and write them to --out as GeoJSON.

    IMAGE may be a folder of images (chips, scenes): each image in it is read on its own, with the
    same options, into --out (a folder) as NAME.geojson; an image that cannot be read is named and the
    others go on (exit code 3; 1 when none could be read).

    Each feature is a vessel's oriented box (in the image's CRS, or in pixel
    coordinates when the image has none) with row, col (its centroid's
    pixel), length_m, width_m (the box's sides, metres on the ground),
    heading_deg (the long axis, degrees clockwise from true north, 0 to 180),
    score (0 to 1), (vessels) class_candidates and credit (the imagery credit
    the files say, else "credit unknown"); README, "Definitions and units".
    Big rasters (a whole Sentinel-1 scene) run in tiles with bounded memory.
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress

    from ..detect.image import skew_note, write_geojson
    from ..detect.inputs import (
        detect_image_input,
        image_and_udm2,
        is_image_folder,
        open_image_input,
    )
    from ..errors import InputError

    try:
        _, udm2_of_image = image_and_udm2(image, bands)  # the input's shape checked before --out's
    except InputError as exc:  # no IMAGE and no --band, or both: a usage error (exit code 2)
        raise click.UsageError(str(exc), ctx=ctx) from None
    quiet = bool((ctx.obj or {}).get("quiet")) or as_json
    if isinstance(image, Path) and is_image_folder(image):
        if bands:
            raise InputError(f"--band: for one image; {image} is a folder of images, each read on its own")
        options: ReadOptions = {"sensor": sensor, "pixel_size": pixel_size, "dn_scale": dn_scale, "dn_offset": dn_offset,  # type: ignore[typeddict-item]
                                "resolution": resolution, "thermal_noise": thermal_noise}  # fmt: skip
        _detect_folder(image, out, options, workers=workers, as_json=as_json, quiet=quiet)
        return
    if str(out) != "-" and out.is_dir():
        raise click.BadParameter(f"{out}: is a folder; give a .geojson file (a folder is for IMAGE a folder of images)", ctx=ctx, param_hint="--out")
    to_stdout = str(out) == "-"
    if to_stdout and as_json:
        raise InputError("--out - writes the GeoJSON to standard output; drop --json or give --out a file")
    if not to_stdout:
        _refuse_an_input_as_out(out, [image, *udm2_of_image, *(b.partition("=")[2] for b in bands)])

    def say(line: str) -> None:
        click.echo(line, err=True)

    with warnings_as_lines():  # a missing noise LUT (--thermal-noise subtract), said in a line
        found = open_image_input(
            image, bands=bands, sensor=sensor, pixel_size=pixel_size, dn_scale=dn_scale, dn_offset=dn_offset,  # type: ignore[arg-type]
            resolution=resolution, thermal_noise=thermal_noise, say=None if quiet else say,
            warn=lambda message: say(f"warning: {message}"),
        )  # fmt: skip

    # Off a terminal (a log, a pipe) a transient bar would leave an empty line behind.
    console = Console(stderr=True)
    # Warnings while detecting (a Maxar file read without its .IMD's calibration) said in a line too.
    with warnings_as_lines(), shown(Progress(transient=True, disable=quiet or not console.is_terminal, console=console)) as bar:
        task = bar.add_task(escape(f"detecting in {_name(found.image) if found.image else 'bands'}"), total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = detect_image_input(found, workers=workers, progress=progress)
    info, extra = result.info, result.metadata
    fc = result.geojson()
    skew = skew_note(info)
    if skew:
        click.echo(f"warning: {info.path}: {skew}", err=True)
    if to_stdout:
        echo_json(fc)
    else:
        write_geojson(fc, out)
    kinds = result.kinds
    if as_json:
        # With --band, "image" is the file whose grid the scene takes (green's, for optical); "bands" names them all.
        bands_read = {"bands": dict(result.band_sources)} if result.band_sources else {}
        echo_json({"image": str(result.image), **bands_read, "out": str(out), "detections": len(result.detections), "vessels": kinds["vessel"], "pixel_size_m": list(info.pixel_size),
                   "simulated": result.simulated, "credit": result.credit} | extra)  # fmt: skip
    elif not quiet:
        source = result.band_sources
        what = ", ".join(f"{k}={v}" for k, v in source.items()) if source else str(result.image)
        # Written to a stream (-, /dev/stdout, a pipe), the GeoJSON is read from it: the line goes to standard error.
        stream = to_stdout or not out.is_file()
        click.echo(f"{simulated_lead(result.simulated)}{_counted(kinds)} in {what} → {'standard output' if to_stdout else out}", err=stream)


_SAME_REASON_LINES = 3
"""Images of a folder skipped for one reason that are named one a line; the rest are counted."""


def _counted(kinds: Counter[str]) -> str:
    """``3 vessel(s)``, and the other kinds apart (``and 1 crane(s)``: cranes, optical at 5 m or finer, are
    written too but are not vessels)."""
    others = "".join(f" and {n} {kind}(s)" for kind, n in sorted(kinds.items()) if kind != "vessel")
    return f"{kinds['vessel']} vessel(s){others}"


def _detect_folder(folder: Path, out: Path, options: ReadOptions, *, workers: int, as_json: bool, quiet: bool) -> None:
    """Each image of ``folder`` (:func:`~sitewatch.detect.inputs.folder_images`) into ``out/NAME.geojson``;
    an image that cannot be read is named, its earlier GeoJSON in ``out`` removed (``score`` would read it
    as this run's), and the others go on. Exit code 3 when some failed, 1 when all did."""
    from rich.console import Console
    from rich.progress import Progress

    from ..detect.image import skew_note, write_geojson
    from ..detect.inputs import (
        describe_subfolders,
        detect_image_file,
        folder_images,
        subfolders_with_images,
    )
    from ..errors import InputError, SitewatchError
    from ..files import broken_links_apart

    if str(out) == "-" or not out.is_dir():
        raise InputError(f"{folder} is a folder of images: --out must be a folder that exists, where each image's detections go as NAME.geojson")
    images = folder_images(folder)
    broken = dict(broken_links_apart(images)[1])  # a link to a disk not mounted: named with the failures
    not_read = subfolders_with_images(folder)
    if not_read:  # a set split into train/ and test/: said, not skipped in silence
        click.echo(f"note: the subfolders of {folder} are not read: {describe_subfolders(not_read)}; give each as IMAGE", err=True)
    written: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    same: Counter[str] = Counter()
    removed_unsaid: Counter[str] = Counter()
    console = Console(stderr=True)
    with shown(Progress(transient=True, disable=quiet or not console.is_terminal, console=console)) as bar:
        task = bar.add_task(f"detecting in {len(images)} images", total=len(images))
        for image in images:
            target = out / f"{image.stem}.geojson"
            try:
                if image in broken:
                    raise InputError(broken[image])
                with warnings_as_lines():
                    result = detect_image_file(image, workers=workers, warn=lambda message: click.echo(f"warning: {message}", err=True), **options)
            except SitewatchError as exc:  # a refused or unreadable image: named, the others go on
                removed = target.is_file()
                target.unlink(missing_ok=True)
                failed.append({"image": str(image), "reason": str(exc)})
                # One missing option (--pixel-size for chips without georeference) refuses every image: said
                # three times, then counted, rather than a line for each of 124 chips.
                reason = str(exc).removeprefix(f"{image}: ")
                same[reason] += 1
                if same[reason] <= _SAME_REASON_LINES:
                    click.echo(f"skipped: {exc}" + (f" (its earlier {target} removed)" if removed else ""), err=True)
                else:
                    removed_unsaid[reason] += removed
            else:
                write_geojson(result.geojson(), target)
                if skew := skew_note(result.info):
                    click.echo(f"warning: {image}: {skew}", err=True)
                kinds = result.kinds
                written.append({"image": str(image), "out": str(target), "sensor": result.sensor, "detections": len(result.detections),
                                "vessels": kinds["vessel"], "pixel_size_m": list(result.info.pixel_size), "simulated": result.simulated,
                                "credit": result.credit})  # fmt: skip
                if not quiet:
                    click.echo(f"{simulated_lead(result.simulated)}{_counted(kinds)} in {image} ({result.sensor}) → {target}")
            bar.advance(task)
    for reason, n in same.items():
        if n > _SAME_REASON_LINES:
            gone = f" ({removed_unsaid[reason]} earlier GeoJSON file(s) of theirs removed)" if removed_unsaid[reason] else ""
            click.echo(f"skipped: {n - _SAME_REASON_LINES} more image(s) for the same reason: {reason}{gone}", err=True)
    if as_json:
        subfolders = [{"folder": str(sub), "images": n} for sub, n in not_read]
        echo_json({"folder": str(folder), "out": str(out), "images": written, "failed": failed, "subfolders_not_read": subfolders})
    elif not quiet:
        click.echo(f"{len(written)} of {len(images)} image(s) → {out}" + (f"; {len(failed)} skipped, refused or unreadable (named above)" if failed else ""))
    if failed:
        raise SystemExit(3 if written else 1)


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
