"""``sitewatch export [SITE ...] --out FILE``: the detections as GeoJSON, KML, CSV or GeoPackage."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from ..errors import InputError
from ..report.detection_exports import detections_to_csv, detections_to_kml, write_detections_gpkg
from ..report.exports import detections_to_geojson, write_text_atomic
from ..workspace import open_workspace
from .options import (
    DateOrTime,
    OnceCommand,
    check_date_order,
    existing_folder,
    handle_errors,
    workspace_option,
)

EXPORT_FORMATS: dict[str, str] = {".geojson": "geojson", ".json": "geojson", ".kml": "kml", ".csv": "csv", ".gpkg": "gpkg"}
"""File suffixes ``export`` knows, and the format each means."""


@click.command("export", cls=OnceCommand, short_help="Write detections as GeoJSON, KML, CSV or GeoPackage.")
@click.argument("site_ids", nargs=-1, metavar="[SITE]...")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, allow_dash=True), callback=existing_folder,
              help="File to write; its suffix gives the format ('-': standard output, GeoJSON unless --format says).")
@click.option("--format", "fmt", type=click.Choice(["geojson", "kml", "csv", "gpkg"]),
              help="Default: from the --out suffix (.geojson, .json, .kml, .csv, .gpkg).")
@click.option("--from", "start", type=DateOrTime("start"), metavar="DATE",
              help="First acquisition kept (UTC): 2024-10-01, 20241001 or 2024-10-01T09:30Z.")
@click.option("--to", "end", type=DateOrTime("end"), metavar="DATE",
              help="Last acquisition kept (UTC); a date includes its whole day.")
@click.option("--kind", type=click.Choice(["vessel", "crane", "all"]), default="all", show_default=True,
              help="Only detections of this kind.")
@workspace_option
@handle_errors
def command(
    site_ids: tuple[str, ...],
    out: str,
    fmt: str | None,
    start: datetime | None,
    end: datetime | None,
    kind: str,
    workspace: Path,
) -> None:
    """Write the detections of each SITE (default: every site) to a file for QGIS, Google Earth or a spreadsheet.

    GeoJSON (EPSG:4326) and GeoPackage keep each oriented box as a polygon; KML
    has a folder per site and per date, and each detection's acquisition time
    for Google Earth's time slider; CSV has a row per detection, its centre as
    lon, lat and its box as WKT. Every format carries the same properties: size,
    heading, score, class candidates, berth, observation, scene, acquisition
    time, sensor, archived image, detector, and whether the imagery is simulated.
    A rerun replaces the file.
    """
    to_stdout = out == "-"
    path = Path(out)
    if fmt is None:
        fmt = "geojson" if to_stdout else EXPORT_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise InputError(
                f"{out}: cannot write {path.suffix or 'a file without a suffix'}; export writes "
                f"{', '.join(EXPORT_FORMATS)} (or name the format with --format geojson|kml|csv|gpkg)"
            )
    if fmt == "gpkg" and to_stdout:
        raise click.UsageError("a GeoPackage is a database and needs a file name, e.g. --out detections.gpkg")
    if fmt == "gpkg" and path.exists() and not path.is_file():
        # It is renamed into place, which would replace a FIFO or a device (/dev/stdout) with the file.
        raise InputError(f"{out} is not a regular file; a GeoPackage is a database and needs a file name")
    check_date_order(start, end)
    ws = open_workspace(workspace)
    if not to_stdout and path.resolve() == ws.db_path.resolve():
        raise InputError(f"{out} is the workspace's own database; give the export another name")
    sites = list(dict.fromkeys(site_ids)) or None
    only = None if kind == "all" else kind
    with ws.store() as store:
        for sid in sites or ():
            store.get_site(sid)  # an unknown site is an error naming the known ones
        fc = detections_to_geojson(store, sites, start=start, end=end, kind=only)
        if fmt == "gpkg":
            write_detections_gpkg(store, path, sites, start=start, end=end, kind=only)
    if fmt != "gpkg":
        writers = {"kml": detections_to_kml, "csv": detections_to_csv}
        text = writers[fmt](fc) if fmt in writers else json.dumps(fc, indent=1)
        if to_stdout:
            click.echo(text, nl=not text.endswith("\n"))
        else:
            write_text_atomic(path, text)
    simulated = any(f["properties"]["simulated"] for f in fc["features"])
    click.echo(f"wrote {len(fc['features'])} detection(s) to {'standard output' if to_stdout else path}"
               + (" (simulated imagery)" if simulated else ""), err=to_stdout)  # fmt: skip
