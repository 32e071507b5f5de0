"""``sitewatch change-image BEFORE AFTER``: where two image files differ, outside a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..change.optical import COVER_CLASSES
from ..simulated_tag import simulated_lead
from .options import (
    FiniteFloatRange,
    ImagePath,
    OnceCommand,
    dn_scale_option,
    existing_folder,
    geojson_out,
    handle_errors,
    is_quiet,
    json_summary_option,
    learned_option,
    min_area_option,
    refuse_input_as_out,
)
from .output import echo_json, pixel_size_text


def _mask_out(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """--mask is a .tif or .png in a folder that exists."""
    value = existing_folder(ctx, param, value)
    if value is not None and Path(value).suffix.lower() not in (".tif", ".tiff", ".png"):
        raise click.BadParameter(f"{value}: the mask is written as a GeoTIFF (.tif) or a PNG (.png)", ctx=ctx, param=param)
    return value


@click.command("change-image", cls=OnceCommand, short_help="Find where two image files differ; write the regions as GeoJSON.")
@click.argument("before", type=ImagePath(path_type=Path), required=False)
@click.argument("after", type=ImagePath(path_type=Path), required=False)
@click.option("--before-band", "before_bands", multiple=True, metavar="NAME=PATH",
              help="The earlier date one file a band, instead of BEFORE; repeat. Names as detect-image's --band: blue, green, red, "
                   "nir (or B02, B03, B04, B08), on one grid (20 and 60 m bands resampled to it first).")  # fmt: skip
@click.option("--after-band", "after_bands", multiple=True, metavar="NAME=PATH",
              help="The later date one file a band, instead of AFTER; repeat, with the bands --before-band names.")  # fmt: skip
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, callback=geojson_out,
              help="GeoJSON file to write (.geojson or .json; its folder must exist): WGS84, or pixel coordinates for images without georeference.")  # fmt: skip
@click.option("--sensor", type=click.Choice(["sar", "optical"]), default=None,
              help="optical or sar (default: as detect-image decides from the earlier image; grey PNG and JPEG chips are sar, colour ones optical).")  # fmt: skip
@click.option("--pixel-size", type=FiniteFloatRange(min=0, min_open=True), default=None, metavar="METRES",
              help="Ground pixel size of images without georeference (both); overrides the georeference otherwise.")  # fmt: skip
@dn_scale_option
@min_area_option
@click.option("--cover-classes", type=click.IntRange(min=0, max=32), default=COVER_CLASSES, show_default=True, metavar="N",
              help="Optical: spectral classes of the earlier image whose own common change each pixel must also differ from (as `change`).")  # fmt: skip
@learned_option
@click.option("--cloud-test/--no-cloud-test", default=True, show_default=True,
              help="Optical files without an SCL band: leave out cloud found by its shadow (bright on one date only, with a darkened "
                   "twin of its shape 100 m to 5 km beside it) and that shadow, widened by 100 m (README).")  # fmt: skip
@click.option("--mask", "mask", type=click.Path(dir_okay=False, path_type=Path), default=None, callback=_mask_out,
              help="Also write the changed pixels (255) on the earlier image's own pixels: a GeoTIFF (.tif) or PNG (.png), to score against a change map drawn on it.")  # fmt: skip
@json_summary_option
@click.pass_context
@handle_errors
def command(
    ctx: click.Context, before: Path | None, after: Path | None, before_bands: tuple[str, ...], after_bands: tuple[str, ...], out: Path,
    sensor: str | None, pixel_size: float | None, dn_scale: float | None, min_area_m2: float, cover_classes: int, learned: bool,
    cloud_test: bool, mask: Path | None, as_json: bool,
) -> None:  # fmt: skip
    """Regions that appeared, disappeared or altered from BEFORE to AFTER, two images of one place
    and one sensor (GeoTIFF, PNG or JPEG files, or folders of band files), compared as
    `sitewatch change` compares two observations of a site, without a workspace.

    A date delivered one file a band (Sentinel-2, OSCD) is given as the folder holding its band files,
    found by their Sentinel-2 codes (B02 blue, B03 green, B04 red, B08 nir: OSCD's imgs_1, a SAFE's R10m),
    or band by band with --before-band and --after-band instead of BEFORE and AFTER.

    Georeferenced images are compared on the earlier image's grid (a UTM grid when it is in degrees or
    Web Mercator), the later one warped onto it, where both have data. Images without georeference
    (chips) must be of one size and need --pixel-size.
    """
    from ..change_image import ImageSource, change_images, change_pair_geojson, write_change_mask
    from ..detect.image import write_geojson
    from ..detect.optical_image import _keep_freed_memory, parse_band_args

    # The comparison allocates and frees the same block-sized arrays block after block, pass after pass:
    # kept on the heap, they are not faulted in afresh each time (the 5,490 pair: 13 s of system time, not 30).
    _keep_freed_memory()

    if before_bands or after_bands:
        if before is not None:
            raise click.UsageError("give BEFORE and AFTER (image files or folders of band files), or --before-band and --after-band, not both", ctx=ctx)
        for option, given, other in (("--after-band", after_bands, "later"), ("--before-band", before_bands, "earlier")):
            if not given:
                raise click.UsageError(f"{option}: give the {other} date's band files too", ctx=ctx)
    elif before is None or after is None:
        raise click.UsageError("give BEFORE and AFTER (image files or folders of band files), or --before-band and --after-band", ctx=ctx)
    dates: tuple[ImageSource, ImageSource] = (
        (parse_band_args(before_bands, "--before-band"), parse_band_args(after_bands, "--after-band")) if before_bands
        else (before, after)  # type: ignore[assignment]
    )  # fmt: skip
    inputs = [p for p in (before, after) if p is not None] + [p for d in dates if isinstance(d, dict) for p in d.values()]
    refuse_input_as_out(out, [p for p in inputs if isinstance(p, Path)])
    refuse_input_as_out(mask, [p for p in inputs if isinstance(p, Path)], "--mask")
    pair, result = change_images(
        *dates, sensor=sensor, pixel_size=pixel_size, dn_scale=dn_scale, min_area_m2=min_area_m2, cover_classes=cover_classes, learned=learned,  # type: ignore[arg-type]
        cloud_test=cloud_test,
        say=None if is_quiet() or as_json else lambda line: click.echo(line, err=True),
    )  # fmt: skip
    write_geojson(change_pair_geojson(pair, result), out)
    if not as_json and not is_quiet():
        for note in pair.notes:
            click.echo(f"note: {note}", err=True)
    if mask is not None:
        write_change_mask(pair, result, mask)
    counts = {d: result.count(d) for d in ("appeared", "disappeared", "altered")}
    if as_json:
        echo_json({
            "before": pair.before.name, "after": pair.after.name, "out": str(out), "mask": str(mask) if mask else None,
            "sensor": result.sensor, "method": f"{result.method} {result.method_version}", "regions": len(result.regions),
            **counts, "area_m2": round(result.area_m2, 1), "compared_fraction": result.compared_fraction,
            "pixel_size_m": pair.pixel_size_m, "warped": list(pair.warped), "simulated": pair.simulated, "credit": pair.credit, "notes": list(pair.notes),
            "cloud_left_out": [dict(c) for c in pair.cloud_left_out],
            **{k: v for k, v in (("before_acquired", pair.before_acquired), ("after_acquired", pair.after_acquired)) if v},
            **{k: dict(v) for k, v in (("before_bands", pair.before_bands), ("after_bands", pair.after_bands)) if v},
        })  # fmt: skip
        return
    if not is_quiet():
        how = ", ".join(f"{n} {d}" for d, n in counts.items())
        warped = f"; {' and '.join(pair.warped)} laid on the compared grid" if pair.warped else ""
        when = (f"{pair.before_acquired[:16].replace('T', ' ')} UTC -> {pair.after_acquired[:16].replace('T', ' ')} UTC: "
                if pair.before_acquired and pair.after_acquired else "")  # fmt: skip
        click.echo(
            f"{simulated_lead(pair.simulated)}{when}{len(result.regions)} region(s) ({how}), {result.area_m2:,.0f} m², "
            f"{result.compared_fraction:.0%} of the pixels compared at {pixel_size_text(pair.pixel_size_m)} "
            f"({result.sensor}: {result.method} {result.method_version}){warped} → {out}"
        )
