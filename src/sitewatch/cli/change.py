"""``sitewatch change [SITE]...``: where sites changed between pairs of their observations (default: every site with observations)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..change.optical import COVER_CLASSES
from ..change_dating import dated_json, dated_text, ends_json, stored_dating
from ..change_stage import (
    PairOutcome,
    changes_to_geojson,
    choose_pairs,
    outcome_summary,
    run_changes,
)
from ..units import count_noun, pixel_size_text
from ..workspace import open_workspace
from .completers import complete_observation_ids, complete_site_ids
from .options import (
    OnceCommand,
    existing_folder,
    handle_errors,
    is_quiet,
    json_option,
    learned_option,
    min_area_option,
    sites_asked,
    workspace_option,
)
from .output import echo_json


def _check_geojson_out(out_path: Path | None, site_id: str = "SITE") -> None:
    """``--out`` must be a GeoJSON file; another suffix is refused (exit 2) before anything runs: GeoJSON
    text in a ``.kml`` or ``.gpkg`` is a file Google Earth or QGIS cannot open."""
    if out_path is not None and out_path.suffix.lower() not in (".geojson", ".json"):
        raise click.BadParameter(
            f"{out_path}: change --out writes GeoJSON (.geojson or .json); for KML, CSV or a GeoPackage run "
            f"`sitewatch export {site_id} --layer changes --out {out_path.name}` after it", param_hint="'--out'",
        )  # fmt: skip


@click.command("change", cls=OnceCommand, short_help="Find where sites changed between pairs of their observations.")
@click.argument("site_ids", nargs=-1, metavar="[SITE]...", shell_complete=complete_site_ids)
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
@click.option("--shadow-twins", is_flag=True,
              help="Optical pairs neither of which has a cloud mask (SCL, UDM2, QA_PIXEL): leave out cloud found by its shadow "
                   "(as change-image does) instead of each image's brightness test, which also takes white roofs and "
                   "bright ground for cloud; a cloud whose shadow lies outside the site's grid is compared (README).")  # fmt: skip
@click.option("--force", is_flag=True, help="Compare again the pairs whose inputs have not changed since the last run.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), callback=existing_folder,
              help="Write the regions as GeoJSON (WGS84) into a .geojson file (KML, CSV, GeoPackage: `export --layer changes`).")
@workspace_option
@json_option
@handle_errors
def command(
    site_ids: tuple[str, ...], before: str | None, after: str | None, min_area_m2: float, cover_classes: int, learned: bool, with_detections: bool,
    shadow_twins: bool, force: bool, out_path: Path | None, workspace: Path, as_json: bool,
) -> None:  # fmt: skip
    """Regions of each SITE that appeared, disappeared or altered between two observations
    (default: every site with observations; --before/--after with one SITE only).

    Without --before/--after, each usable observation is compared with the previous
    one of the same sensor and grid; of several on one UTC date, the one that shows
    most of the site stands for it. A pair whose inputs have not changed since it was
    last compared (both images, the site's polygon, the settings, the detections left
    out, the sitewatch version) keeps its stored regions and is not read again ("kept"
    in --json); one whose inputs changed, or every pair with --force, is compared again
    and its stored regions replaced.
    The vessels and cranes detection stored for either observation are left out
    of the comparison (ships come and go; the ground is what is compared) unless
    --with-detections.

    Several sites (or none: every site with observations) are compared in turn, in one
    process; --json then prints {"sites": [{"site": ID, "pairs": ...}, ...]} and --out
    holds every site's regions.

    Exit code 0 when every pair was compared, 3 when some could not be (an
    archived image missing or unreadable: each is named), 1 when none could.
    """
    ids = list(dict.fromkeys(site_ids))
    _check_geojson_out(out_path, ids[0] if len(ids) == 1 else "SITE")
    if len(ids) != 1 and (before or after):
        raise click.UsageError("--before and --after choose one site's pair: name that one SITE")
    ws = open_workspace(workspace)
    outcomes: list[PairOutcome] = []
    results: list[dict[str, Any]] = []
    ends: dict[str, dict[str, dict[str, object]]] = {}
    with ws.store() as store:
        if len(ids) != 1:
            ids = sites_asked(store, ids)
        for site_id in ids:
            site = store.get_site(site_id)
            pairs, notes = choose_pairs(store.observations(site_id), site_id, before, after)
            done, errors = run_changes(store, ws.root, site, pairs, min_area_m2=min_area_m2, with_detections=with_detections,
                                       cover_classes=cover_classes, learned=learned, selection={"before": before, "after": after},
                                       force=force, shadow_twins=shadow_twins)
            outcomes += done
            notes += [n for o in done for n in o.notes]
            notes = list(dict.fromkeys(notes))  # an observation in two pairs is named once
            dated, obs, gaps = stored_dating(store, site_id)
            ends |= {r.id: ends_json(d, obs) for d in dated for r in d.regions}  # --geojson's regions dated as export's
            notes = list(dict.fromkeys(notes + gaps))
            results.append({"site": site_id, "pairs": [outcome_summary(o) for o in done], "notes": notes, "errors": errors,
                            "dated": [dated_json(d, obs) for d in dated], "_dated": [dated_text(d, obs) for d in dated],
                            "_fresh_notes": list(dict.fromkeys(n for o in done if not o.kept for n in o.notes))})
    if out_path is not None:
        from ..report.exports import write_text_atomic

        write_text_atomic(out_path, changes_to_geojson(outcomes, ends))
    texts = [result.pop("_dated") for result in results]
    fresh_notes = [result.pop("_fresh_notes") for result in results]
    if as_json:
        echo_json(results[0] if len(site_ids) == 1 else {"sites": results}, indent=1)
    elif not results:
        click.echo("no site has observations: bring imagery in with `sitewatch fetch`, `ingest` or `import`")
    elif any(r["simulated"] for result in results for r in result["pairs"]):
        click.echo("Simulated imagery.")
    for result, dated, fresh in [] if as_json else zip(results, texts, fresh_notes, strict=True):
        if is_quiet():
            _print_site_quietly(result, fresh, len(dated), chosen=bool(before or after))
        else:
            _print_site(result, dated, chosen=bool(before or after))
    if out_path is not None:
        click.echo(f"wrote {out_path}", err=as_json)
    errors = [e for result in results for e in result["errors"]]
    for err in errors:  # with --json too: standard output may be a script's, this is the user's
        click.echo(f"error: {err}", err=True)
    if errors:
        # As detect: 3 when some pairs could not be compared (each named above), 1 when none could.
        raise SystemExit(3 if any(result["pairs"] for result in results) else 1)


def _print_site(result: dict[str, Any], dated: list[str], *, chosen: bool = False) -> None:
    """One site's pairs, notes and dated changes, a line each; ``chosen``: the pair --before or --after asked for."""
    site_id, rows, notes, errors = result["site"], result["pairs"], result["notes"], result["errors"]
    if not rows and not errors:
        click.echo(f"{site_id}: no pair of observations of one sensor and grid to compare")
    for r in rows:
        _print_pair(r)
    kept = sum(1 for r in rows if r["kept"])
    if kept:
        them = "it" if kept == 1 else "them"
        click.echo(f"{site_id}: {_of_pairs(kept, len(rows) + len(errors), chosen)} unchanged since {_were(kept)} compared, kept "
                   f"(--force compares {them} again)")  # fmt: skip
    for note in notes:
        click.echo(f"note: {note}")
    if dated:
        click.echo(f"{result['site']}: {count_noun(len(dated), 'change')} on the ground, dated by every stored pair (the region's last image without it, its first with it):")
    for k, line in enumerate(dated, 1):
        click.echo(f"  {k}. {line}")


def _print_site_quietly(result: dict[str, Any], notes: list[str], n_dated: int, *, chosen: bool = False) -> None:
    """Under -q, one site's pairs compared this run and the notes on them, then one summary line: a daily job's log
    grew by every pair of the site's history (and every change dated) at each run."""
    site_id, rows, errors = result["site"], result["pairs"], result["errors"]
    if not rows and not errors:
        click.echo(f"{site_id}: no pair of observations of one sensor and grid to compare")
        return
    fresh = [r for r in rows if not r["kept"]]
    for r in fresh:
        _print_pair(r)
    for note in notes:
        click.echo(f"note: {note}")
    kept = len(rows) - len(fresh)
    # Each error is a pair that could not be compared (run_changes): a site's pairs are its rows and those.
    total = len(rows) + len(errors)
    counts = (f"{_of_pairs(len(fresh), total, chosen)} compared this run" if total == 1 and fresh else
              f"{_of_pairs(kept, total, chosen)} unchanged since {_were(kept)} compared, kept" if total == 1 and kept else
              f"{_of_pairs(0, total, chosen)} not compared (below)" if total == 1 else
              f"{_of_pairs(len(fresh), total)} compared this run, {kept} unchanged since {_were(kept)} compared, kept"
              + (f", {len(errors)} not compared (below)" if errors else ""))  # fmt: skip
    click.echo(f"{site_id}: {counts}; {count_noun(n_dated, 'change')} on the ground in all")


def _of_pairs(n: int, total: int, chosen: bool = False) -> str:
    """``2 of the 5 pairs``; a site's only pair is ``its one pair`` (not ``1 of the 1 pairs``), and the one pair
    --before or --after ``chosen`` ``the pair asked for`` (the site may have more). ``total`` counts the pairs that
    could not be compared too: of two, one compared is not the site's one pair."""
    if total == 1:
        return "the pair asked for" if chosen else "its one pair"
    return f"{n} of the {total} pairs"


def _were(n: int) -> str:
    """``it was`` of one pair, ``they were`` of none or several."""
    return "it was" if n == 1 else "they were"


def _print_pair(r: dict[str, Any]) -> None:
    """One pair's line: its dates, series, the share of the site compared and its regions."""
    masked = (f", {r['detections_masked']} detections left out ({float(r['masked_m2']):,.0f} m²)"
              if r["detections_masked"] else "")  # fmt: skip
    # The pixel size beside the sensor, as `claims check` names a pair: a site's 3 m and 10 m optical series
    # are compared apart, and both lines said only "optical".
    series = f"{pixel_size_text(float(r['resolution_m']))} {r['sensor']}" if r.get("resolution_m") else str(r["sensor"])
    click.echo(
        f"{r['site']} {str(r['before_acquired'])[:10]} -> {str(r['after_acquired'])[:10]} {series}: "
        f"compared {100 * float(r['compared_fraction']):.0f}% of the site, {r['appeared']} appeared, "
        f"{r['disappeared']} disappeared, {r['altered']} altered, {float(r['area_m2']):,.0f} m²{masked}"
        f"  ({r['before']} -> {r['after']})"
    )
