"""``sitewatch detect-image``: vessels in any image file, written as GeoJSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import (
    FiniteFloatRange,
    ImagePath,
    OnceCommand,
    geojson_out,
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
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, callback=geojson_out, help="GeoJSON file to write (.geojson or .json; its folder must exist); - for standard output.")
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

    from ..detect.image import skew_note, write_geojson
    from ..detect.inputs import detect_image_input, image_and_udm2, open_image_input
    from ..errors import InputError

    try:
        _, udm2_of_image = image_and_udm2(image, bands)  # the input's shape checked before --out's
    except InputError as exc:  # no IMAGE and no --band, or both: a usage error (exit code 2)
        raise click.UsageError(str(exc), ctx=ctx) from None
    to_stdout = str(out) == "-"
    if to_stdout and as_json:
        raise InputError("--out - writes the GeoJSON to standard output; drop --json or give --out a file")
    if not to_stdout:
        _refuse_an_input_as_out(out, [image, *udm2_of_image, *(b.partition("=")[2] for b in bands)])
    quiet = bool((ctx.obj or {}).get("quiet")) or as_json

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
    with Progress(transient=True, disable=quiet or not console.is_terminal, console=console) as bar:
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
        click.echo(json.dumps(fc))
    else:
        write_geojson(fc, out)
    kinds = result.kinds
    if as_json:
        # With --band, "image" is the file whose grid the scene takes (green's, for optical); "bands" names them all.
        bands_read = {"bands": dict(result.band_sources)} if result.band_sources else {}
        click.echo(json.dumps({"image": str(result.image), **bands_read, "out": str(out), "detections": len(result.detections), "vessels": kinds["vessel"], "pixel_size_m": list(info.pixel_size)} | extra))
    elif not quiet:
        source = result.band_sources
        what = ", ".join(f"{k}={v}" for k, v in source.items()) if source else str(result.image)
        # Cranes (optical, 5 m or finer) are written too but are not vessels: counted apart.
        others = "".join(f" and {n} {kind}(s)" for kind, n in sorted(kinds.items()) if kind != "vessel")
        # Written to a stream (-, /dev/stdout, a pipe), the GeoJSON is read from it: the line goes to standard error.
        stream = to_stdout or not out.is_file()
        click.echo(f"{kinds['vessel']} vessel(s){others} in {what} → {'standard output' if to_stdout else out}", err=stream)


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
