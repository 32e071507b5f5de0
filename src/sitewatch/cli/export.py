"""``sitewatch export [SITE ...] --out FILE``: the detections, or the change regions, as GeoJSON, KML, CSV or GeoPackage."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..errors import InputError
from ..files import write_texts_atomic
from ..model import CHANGE_DIRECTIONS
from ..report.change_exports import (
    CHANGE_CSV_COLUMNS,
    changes_to_csv,
    changes_to_kml,
    stored_changes_to_geojson,
    write_changes_gpkg,
)
from ..report.csv_types import CHANGE_CSV_TYPES, DETECTION_CSV_TYPES, csvt_text, with_bom
from ..report.detection_exports import (
    DETECTION_CSV_COLUMNS,
    detections_to_csv,
    detections_to_kml,
    write_detections_gpkg,
)
from ..report.exports import (
    detections_feature_collection,
    select_detections,
    with_sitewatch_version,
    write_text_atomic,
)
from ..share import SHARED_NOTE, shared_paths
from ..store import Store
from ..store.changes import change_pairs
from ..store.schema import GPKG_TABLES
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    DateOrTime,
    FiniteFloatRange,
    OnceCommand,
    bom_option,
    check_date_order,
    existing_folder,
    handle_errors,
    refuse_workspace_file,
    share_option,
    workspace_option,
)
from .output import echo_utf8, json_text

EXPORT_FORMATS: dict[str, str] = {".geojson": "geojson", ".json": "geojson", ".kml": "kml", ".csv": "csv", ".gpkg": "gpkg"}
"""File suffixes ``export`` knows, and the format each means."""

TEXT_WRITERS: dict[tuple[str, str], Callable[[dict[str, Any]], str]] = {
    ("detections", "kml"): detections_to_kml, ("detections", "csv"): detections_to_csv,
    ("changes", "kml"): changes_to_kml, ("changes", "csv"): changes_to_csv,
}  # fmt: skip
"""How each layer's FeatureCollection becomes KML or CSV text (GeoJSON is the collection itself)."""

CSV_TYPES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "detections": (DETECTION_CSV_COLUMNS, DETECTION_CSV_TYPES), "changes": (CHANGE_CSV_COLUMNS, CHANGE_CSV_TYPES),
}  # fmt: skip
"""Each layer's CSV columns and their types, for the ``.csvt`` written beside a CSV file."""


@click.command("export", cls=OnceCommand, short_help="Write detections or changes as GeoJSON, KML, CSV or GeoPackage.")
@click.argument("site_ids", nargs=-1, metavar="[SITE]...", shell_complete=complete_site_ids)
@click.option("--layer", type=click.Choice(["detections", "changes"]), default="detections", show_default=True,
              help="What to write: the detections, or the change regions `sitewatch change` stored.")
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
@click.option("--direction", "directions", type=click.Choice(CHANGE_DIRECTIONS), multiple=True,
              help="--layer changes: only regions of this direction (repeat for several; default: all).")
@click.option("--min-area-m2", type=FiniteFloatRange(min=0), default=None, metavar="M2",
              help="--layer changes: only regions of at least this area (m²).")
@bom_option
@share_option
@workspace_option
@handle_errors
def command(
    site_ids: tuple[str, ...],
    layer: str,
    out: str,
    fmt: str | None,
    start: datetime | None,
    end: datetime | None,
    kind: str,
    directions: tuple[str, ...],
    min_area_m2: float | None,
    bom: bool,
    share: bool,
    workspace: Path,
) -> None:
    """Write the detections (or with --layer changes, the change regions) of each SITE (default: every
    site) to a file for QGIS, Google Earth or a spreadsheet.

    GeoJSON (EPSG:4326) and GeoPackage keep each oriented box (each region) as a polygon; KML
    has a folder per site and per date (per pair compared), and each detection's acquisition time
    (each region's before and after times) for Google Earth's time slider; CSV has a row each, its
    centre as lon, lat and its polygon as WKT. Every format carries the same properties: for a
    detection size, heading, score, class candidates, berth, observation, scene, acquisition time,
    sensor, archived image, detector; for a region direction, area, magnitude, both observations,
    their times, archived images and sha256, sensor, resolution, method, compared fraction; and
    whether the imagery is simulated. --from/--to choose detections by their acquisition time,
    regions by the acquisition of the pair's after image. A GeoJSON file names the sitewatch version that wrote
    it (sitewatch_version), each detection its detector's. A rerun replaces the file. With --share no
    local path outside the workspace is named (the GeoPackage's observations keep their provenance,
    its paths shortened), and the GeoJSON, KML and GeoPackage say so.
    """
    ctx = click.get_current_context()
    given = {name for name in ("kind", "directions", "min_area_m2")
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT}  # fmt: skip
    if layer == "detections" and given & {"directions", "min_area_m2"}:
        raise click.UsageError("--direction and --min-area-m2 choose change regions: add --layer changes")
    if layer == "changes" and "kind" in given:
        raise click.UsageError("--kind chooses detections; with --layer changes choose regions by --direction or --min-area-m2")
    to_stdout = out == "-"
    path = Path(out)
    if fmt is None:
        fmt = "geojson" if to_stdout else EXPORT_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise InputError(
                f"{out}: cannot write {path.suffix or 'a file without a suffix'}; export writes "
                f"{', '.join(EXPORT_FORMATS)} (or name the format with --format geojson|kml|csv|gpkg)"
            )
    if bom and fmt != "csv":
        raise click.UsageError(f"--bom marks a CSV as UTF-8 for Excel; {fmt} is written without one (drop --bom, or write .csv)")
    if fmt == "gpkg" and to_stdout:
        raise click.UsageError(f"a GeoPackage is a database and needs a file name, e.g. --out {layer}.gpkg")
    if fmt == "gpkg" and path.exists() and not path.is_file():
        # It is renamed into place, which would replace a FIFO or a device (/dev/stdout) with the file.
        raise InputError(f"{out} is not a regular file; a GeoPackage is a database and needs a file name")
    check_date_order(start, end)
    ws = open_workspace(workspace)
    refuse_workspace_file(ws, [("--out", out)])
    if fmt == "gpkg":
        _refuse_other_geopackage(path, {"changes"} if layer == "changes" else GPKG_TABLES)
    sites = list(dict.fromkeys(site_ids)) or None
    sharing = shared_paths(ws.root) if share else None
    waiting: list[str] = []
    with ws.store() as store:
        for sid in sites or ():
            store.get_site(sid)  # an unknown site is an error naming the known ones
        if layer == "changes":
            sites = _sites_with_changes(store, sites)
            fc = stored_changes_to_geojson(store, sites, start=start, end=end, directions=directions,
                                           min_area_m2=min_area_m2 or 0.0)  # fmt: skip
        else:
            only = None if kind == "all" else kind
            # Read once: the GeoPackage is written from the same selection the count and message come from.
            selected = select_detections(store, sites, start=start, end=end, kind=only)
            fc = detections_feature_collection(selected)
            if fmt == "gpkg":
                write_detections_gpkg(store, path, sites, start=start, end=end, kind=only, share=sharing, selected=selected)
            waiting = _undetected_notes(store, sites)
    if sharing:
        for f in fc["features"]:
            f["properties"] = sharing.value(f["properties"])
        fc["note"] = SHARED_NOTE  # a foreign member: GeoJSON readers keep the features as they are
    if fmt == "gpkg" and layer == "changes":
        write_changes_gpkg(path, fc)
    elif fmt != "gpkg":
        text = TEXT_WRITERS[(layer, fmt)](fc) if (layer, fmt) in TEXT_WRITERS else json_text(with_sitewatch_version(fc), indent=1)
        if sharing:
            text = sharing.finished(text)
        text = with_bom(text, bom)
        if to_stdout:
            echo_utf8(text.removesuffix("\n"))
        else:
            if fmt == "csv" and path.suffix.lower() == ".csv":
                # Its columns' types beside it, for GDAL and QGIS, which read a CSV alone as all text (csv_types);
                # not beside a d.txt (--format csv), which GDAL does not open as CSV unprompted. Both or neither:
                # a CSV new beside no .csvt (or an old one's) after a failed write was read as all text again.
                columns, types = CSV_TYPES[layer]
                write_texts_atomic([(path, text), (path.with_suffix(".csvt"), csvt_text(columns, types))])
            else:
                write_text_atomic(path, text)
    simulated = any(f["properties"]["simulated"] for f in fc["features"])
    for note in waiting:
        click.echo(f"note: {note}", err=True)
    what = "change region(s)" if layer == "changes" else "detection(s)"
    click.echo(f"wrote {len(fc['features'])} {what} to {'standard output' if to_stdout else path}"
               + (" (simulated imagery)" if simulated else "") + ("; " + SHARED_NOTE if sharing else ""),
               err=to_stdout)  # fmt: skip


def _refuse_other_geopackage(path: Path, written: Collection[str]) -> None:
    """Refuse an existing ``path`` that is a GeoPackage holding tables the export does not write.

    The export is a new file renamed over ``path``: the layers of a QGIS project's GeoPackage named
    there (QGIS adds a layer to an existing GeoPackage) would be lost. Another file, or a GeoPackage of an
    earlier export of the same layer, is replaced.
    """
    if not path.is_file():
        return
    try:
        # closing(): a connection's own `with` ends a transaction but leaves it open, and an open file
        # cannot be renamed over on Windows (Python 3.13 warns of it: ResourceWarning).
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            tables = {str(r[0]) for r in db.execute("SELECT table_name FROM gpkg_contents")}
    except sqlite3.Error:  # not a GeoPackage: nothing in it that QGIS would show as a layer
        return
    other = sorted(tables - set(written))
    if other:
        shown = ", ".join(other[:5]) + (f" and {len(other) - 5} more" if len(other) > 5 else "")
        raise InputError(f"{path} is a GeoPackage holding other layers ({shown}): export writes a new file "
                         "in its place and they would be lost; give --out another name (QGIS can then add "
                         "its layers to that GeoPackage)")  # fmt: skip


def _undetected_notes(store: Store, sites: list[str] | None) -> list[str]:
    """A line for each site (of ``sites``; None: every site) with observations detection has not run on: the
    export holds nothing of them, and "wrote 0 detection(s)" of a site whose 78 images were never detected read
    as 78 images without a vessel."""
    counts = {str(r[0]): int(r[1]) for r in store.execute(
        "SELECT site_id, count(*) FROM observations WHERE detected_at IS NULL GROUP BY site_id")}  # fmt: skip
    return [f"{sid}: {counts[sid]} observation(s) not detected yet, so not in this export: run `sitewatch detect {sid}`"
            for sid in sorted(counts) if sites is None or sid in sites]  # fmt: skip


def _sites_with_changes(store: Store, sites: list[str] | None) -> list[str]:
    """Of ``sites`` (None: every site), those with stored change pairs; the others named on a ``note:`` line.

    None of them with any is an error saying how to make them: there is nothing to export.
    """
    stored = {p.site_id for p in change_pairs(store)}
    asked = sites or [s.id for s in store.sites()]
    have = [sid for sid in asked if sid in stored]
    if not have:
        which = ", ".join(asked) if sites else "any site of the workspace"
        first = asked[0] if len(asked) == 1 else "SITE"
        raise InputError(f"no stored changes for {which}: run `sitewatch change {first}` first")
    for sid in asked:
        if sites and sid not in stored:
            click.echo(f"note: {sid} has no stored changes (run `sitewatch change {sid}`)", err=True)
    return have
