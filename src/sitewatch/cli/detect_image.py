"""``sitewatch detect-image``: vessels in any image file, written as GeoJSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .options import handle_errors


@click.command("detect-image")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--sensor", type=click.Choice(["sar", "optical"]), default="sar", show_default=True, help="Which detector to run.")
@click.option("--pixel-size", type=float, default=None, metavar="METRES", help="Ground pixel size; needed only when the image has no georeference (overrides it otherwise).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="GeoJSON file to write.")
@click.option("--workers", type=int, default=1, show_default=True, help="Threads for the pixel passes.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary for scripts.")
@click.pass_context
@handle_errors
def command(ctx: click.Context, image: Path, sensor: str, pixel_size: float | None, out: Path, workers: int, as_json: bool) -> None:
    """Detect vessels in IMAGE (GeoTIFF, PNG or JPEG) and write them to --out as GeoJSON.

    Each feature is a vessel's oriented box (in the image's CRS, or in pixel
    coordinates when the image has none) with row, col, length_m, width_m,
    heading_deg and score. Big rasters (a whole Sentinel-1 scene) run in
    tiles with bounded memory.
    """
    from rich.progress import Progress

    from ..detect.image import detect_image, detections_to_geojson, write_geojson

    quiet = bool((ctx.obj or {}).get("quiet")) or as_json
    with Progress(transient=True, disable=quiet) as bar:
        task = bar.add_task(f"detecting in {image.name}", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        info, dets = detect_image(image, sensor, pixel_size=pixel_size, workers=max(1, workers), progress=progress)
    fc = detections_to_geojson(info, dets, sensor)
    write_geojson(fc, out)
    if as_json:
        click.echo(json.dumps({"image": str(image), "out": str(out), "detections": len(dets), "pixel_size_m": list(info.pixel_size)}))
    elif not quiet:
        click.echo(f"{len(dets)} vessel(s) in {image} → {out}")
