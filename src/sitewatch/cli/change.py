"""``sitewatch change SITE``: where a site changed between pairs of its observations."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..change.optical import COVER_CLASSES
from ..change_stage import changes_to_geojson, choose_pairs, outcome_summary, run_changes
from ..workspace import open_workspace
from .completers import complete_observation_ids, complete_site_ids
from .options import (
    OnceCommand,
    existing_folder,
    handle_errors,
    json_option,
    learned_option,
    min_area_option,
    workspace_option,
)


def _check_geojson_out(out_path: Path | None, site_id: str) -> None:
    """``--out`` must be a GeoJSON file; another suffix is refused (exit 2) before anything runs: GeoJSON
    text in a ``.kml`` or ``.gpkg`` is a file Google Earth or QGIS cannot open."""
    if out_path is not None and out_path.suffix.lower() not in (".geojson", ".json"):
        raise click.BadParameter(
            f"{out_path}: change --out writes GeoJSON (.geojson or .json); for KML, CSV or a GeoPackage run "
            f"`sitewatch export {site_id} --layer changes --out {out_path.name}` after it", param_hint="'--out'",
        )  # fmt: skip


@click.command("change", cls=OnceCommand, short_help="Find where a site changed between two of its observations.")
@click.argument("site_id", shell_complete=complete_site_ids)
@click.option("--before", "before", metavar="OBS_ID|DATE", shell_complete=complete_observation_ids, help="The earlier observation, by id or UTC date.")
@click.option("--after", "after", metavar="OBS_ID|DATE", shell_complete=complete_observation_ids, help="The later observation, by id or UTC date.")
@min_area_option
@click.option("--cover-classes", type=click.IntRange(min=0, max=32), default=COVER_CLASSES,
              show_default=True, metavar="N",
              help="Optical, pixels coarser than 1 m: spectral classes of the earlier image whose own common "
                   "change each pixel must also differ from; 0 compares each pixel with the scene only. "
                   "Pixels of 1 m or finer use no classes (README).")
@learned_option
@click.option("--with-detections", is_flag=True,
              help="Compare the pixels of the stored vessels and cranes too (by default they are left out).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), callback=existing_folder,
              help="Write the regions as GeoJSON (WGS84) into a .geojson file (KML, CSV, GeoPackage: `export --layer changes`).")
@workspace_option
@json_option
@handle_errors
def command(
    site_id: str, before: str | None, after: str | None, min_area_m2: float, cover_classes: int, learned: bool, with_detections: bool,
    out_path: Path | None, workspace: Path, as_json: bool,
) -> None:  # fmt: skip
    """Regions of SITE_ID that appeared, disappeared or altered between two observations.

    Without --before/--after, each usable observation is compared with the previous
    one of the same sensor and grid; of several on one UTC date, the one that shows
    most of the site stands for it. A rerun of a pair replaces its stored regions.
    The vessels and cranes detection stored for either observation are left out
    of the comparison (ships come and go; the ground is what is compared) unless
    --with-detections.

    Exit code 0 when every pair was compared, 3 when some could not be (an
    archived image missing or unreadable: each is named), 1 when none could.
    """
    _check_geojson_out(out_path, site_id)
    ws = open_workspace(workspace)
    with ws.store() as store:
        site = store.get_site(site_id)
        pairs, notes = choose_pairs(store.observations(site_id), site_id, before, after)
        outcomes, errors = run_changes(store, ws.root, site, pairs, min_area_m2=min_area_m2, with_detections=with_detections,
                                       cover_classes=cover_classes, learned=learned, selection={"before": before, "after": after})
        rows = [outcome_summary(o) for o in outcomes]
        notes += [n for o in outcomes for n in o.notes]
        notes = list(dict.fromkeys(notes))  # an observation in two pairs is named once
    if out_path is not None:
        from ..report.exports import write_text_atomic

        write_text_atomic(out_path, changes_to_geojson(outcomes))
    if as_json:
        click.echo(json.dumps({"site": site_id, "pairs": rows, "notes": notes, "errors": errors}, indent=1))
    else:
        if any(r["simulated"] for r in rows):
            click.echo("Simulated imagery.")
        if not rows and not errors:
            click.echo(f"{site_id}: no pair of observations of one sensor and grid to compare")
        for r in rows:
            masked = (f", {r['detections_masked']} detections left out ({float(r['masked_m2']):,.0f} m²)"  # type: ignore[arg-type]
                      if r["detections_masked"] else "")  # fmt: skip
            click.echo(
                f"{r['site']} {str(r['before_acquired'])[:10]} -> {str(r['after_acquired'])[:10]} {r['sensor']}: "
                f"compared {100 * float(r['compared_fraction']):.0f}% of the site, {r['appeared']} appeared, "  # type: ignore[arg-type]
                f"{r['disappeared']} disappeared, {r['altered']} altered, {float(r['area_m2']):,.0f} m²{masked}"  # type: ignore[arg-type]
                f"  ({r['before']} -> {r['after']})"
            )
        for note in notes:
            click.echo(f"note: {note}")
    if out_path is not None:
        click.echo(f"wrote {out_path}", err=as_json)
    for err in errors:  # with --json too: standard output may be a script's, this is the user's
        click.echo(f"error: {err}", err=True)
    if errors:
        # As detect: 3 when some pairs could not be compared (each named above), 1 when none could.
        raise SystemExit(3 if rows else 1)
