"""``sitewatch sites``: the workspace's gazetteer."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import click

from ..errors import InputError, SiteError
from ..model import SITE_ID_PATTERN, Site, check_new_site_id
from ..report.exports import write_text_atomic
from ..sites import builtin_sites, read_sites_files, site_from_bbox, sites_to_geojson, sites_to_kml
from ..store import Store
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    OnceGroup,
    all_rows_option,
    existing_folder,
    handle_errors,
    json_option,
    refuse_workspace_file,
    workspace_option,
)
from .output import (
    TERMINAL_ROWS,
    add_id_column,
    echo_json,
    echo_wrapped,
    not_shown_line,
    print_table,
    rows_shown,
)


@click.group("sites", cls=OnceGroup, short_help="List, show, add, import, export and remove sites.")
def command() -> None:
    """List, show, add, import, export and remove sites (named areas of interest)."""


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        parts = tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise InputError(f"--bbox {text!r}: expected four numbers W,S,E,N") from exc
    if len(parts) != 4:
        raise InputError(f"--bbox {text!r}: expected four numbers W,S,E,N")
    return parts


@command.command("list")
@workspace_option
@json_option
@click.option("--builtin", is_flag=True, help="List the built-in gazetteer instead of the workspace's sites.")
@all_rows_option(f"the first {TERMINAL_ROWS}")
@handle_errors
def list_(workspace: Path, as_json: bool, builtin: bool, show_all: bool) -> None:
    """List the sites of the workspace."""
    if builtin:
        sites = list(builtin_sites().values())
    else:
        with open_workspace(workspace).store() as store:
            sites = store.sites()
    if as_json:
        echo_json(sites_to_geojson(sites), indent=1)
        return
    if not sites:
        click.echo("no sites; add one with `sitewatch sites add ID --bbox W,S,E,N` or `--builtin` "
                   "(see `sitewatch sites list --builtin`), or `sitewatch sites import FILE`")  # fmt: skip
        return
    from rich.table import Table

    table = Table()
    add_id_column(table, "id", [s.id for s in sites])
    for col in ("name", "kind", "resolved", "berths", "centre (lat, lon)"):
        table.add_column(col, overflow="fold")  # a cut kind or centre would read as a value
    shown = sites[: rows_shown(len(sites), show_all)]  # on a terminal the first (a port list has thousands)
    for s in shown:
        centre = f"{s.geometry.centroid.y:.4f}, {s.geometry.centroid.x:.4f}" if s.geometry is not None else "—"
        table.add_row(s.id, s.name, s.kind, "yes" if s.resolved else "NO", str(len(s.berths)), centre)
    print_table(table)
    if len(shown) < len(sites):
        echo_wrapped(not_shown_line(len(sites) - len(shown), "more sites"))


@command.command("show")
@click.argument("site_id", shell_complete=complete_site_ids)
@workspace_option
@handle_errors
def show(site_id: str, workspace: Path) -> None:
    """Show one site as GeoJSON (with its berths and water)."""
    with open_workspace(workspace).store() as store:
        # A Cyrillic or Korean name as written, not as JSON \u escapes; a console whose code page lacks a character
        # escapes that one (the group's backslashreplace), and JSON escapes control characters itself.
        echo_json(sites_to_geojson([store.get_site(site_id)]), indent=1)


_SAME_AREA_DEG = 1e-7
"""Vertices this close (about 1 cm) are one place: a layer saved again with fewer decimals (GDAL's RFC 7946 GeoJSON
keeps 7) or reprojected and back is the same site, not one moved under its observations."""


def _same_area(a: Site, b: Site) -> bool:
    if a.geometry is None or b.geometry is None:
        return a.geometry is b.geometry
    if a.geometry.equals(b.geometry):
        return True
    return bool(a.geometry.normalize().equals_exact(b.geometry.normalize(), _SAME_AREA_DEG))


def _keeping_area(old: Site | None, new: Site) -> Site:
    """``new``, with ``old``'s polygon when the two are the same area to a centimetre (:func:`_same_area`): a round
    trip through a file that rounds the coordinates neither moves the site nor says its observations were cut
    to an old area."""
    if old is None or old.geometry is None or new.geometry is None or not _same_area(old, new):
        return new
    return dataclasses.replace(new, geometry=old.geometry)


def _dropped(old: Site, new: Site) -> list[str]:
    """What ``old`` had that ``new``, replacing it, has not: its berths, its water polygon."""
    had = ((f"{len(old.berths)} berth(s)", old.berths, new.berths), ("its water polygon", old.water, new.water))
    return [what for what, before, after in had if before and not after]


RENAMES_NOTED = 20
"""Most sites ``sites import`` names on a note of its own for the id it gave them; the others are counted."""


def _read_with_notes(
    paths: list[Path], known: dict[str, Site] | None = None, renames: bool = True
) -> tuple[list[tuple[Path, Site]], int]:
    """:func:`read_sites_files`, its skipped placemarks (and renamed sites) printed as notes, and
    each feature it refused on a ``skipped:`` line; with how many it refused."""
    import warnings

    from ..errors import RefusedFeatureWarning, RenamedSiteWarning, SkippedInputWarning

    with warnings.catch_warnings(record=True) as caught:
        for category in (RenamedSiteWarning, SkippedInputWarning, RefusedFeatureWarning):
            warnings.simplefilter("always", category)
        sites = read_sites_files(paths, known=known)
    renamed = 0
    for w in caught:
        if issubclass(w.category, RefusedFeatureWarning):
            click.echo(f"skipped: {w.message}", err=True)
        elif renames and issubclass(w.category, RenamedSiteWarning):
            renamed += 1
            if renamed <= RENAMES_NOTED:
                click.echo(f"note: {w.message}", err=True)
        elif issubclass(w.category, SkippedInputWarning):
            click.echo(f"note: {w.message}", err=True)
        elif not issubclass(w.category, RenamedSiteWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if renamed > RENAMES_NOTED:
        # A port list whose fields are not `id` and `name` (WPI's INDEX_NO, PORT_NAME) renames every polygon.
        of = paths[0] if len(paths) == 1 else "the files"
        click.echo(f"note: {renamed - RENAMES_NOTED:,} more site(s) of {of} were given ids the same way (of "
                   f"{renamed:,}); a file whose ids and names are in fields of other names (INDEX_NO, PORT_NAME) "
                   "needs them as `id` and `name`", err=True)  # fmt: skip
    return sites, sum(issubclass(w.category, RefusedFeatureWarning) for w in caught)


@command.command("add", short_help="Add or replace a site (box, polygon file or built-in).")
@click.argument("site_id")
@click.option("--bbox", help="W,S,E,N in degrees (WGS84).")
@click.option("--geojson", "geojson_path", type=click.Path(dir_okay=False, path_type=Path), help="A GeoJSON or KML polygon file.")
@click.option("--builtin", "from_builtin", is_flag=True, help="Copy SITE_ID from the built-in gazetteer.")
@click.option("--name", default="", help="Display name.")
@click.option("--kind", default=None, help="port, naval_base, training_ground, … [default: area, or the kind the site or its source has]")
@workspace_option
@handle_errors
def add(site_id: str, bbox: str | None, geojson_path: Path | None, from_builtin: bool, name: str, kind: str | None, workspace: Path) -> None:
    """Add (or replace) a site from a box, a GeoJSON polygon or the built-in gazetteer."""
    if sum(x is not None and x is not False for x in (bbox, geojson_path, from_builtin or None)) != 1:
        raise InputError("give exactly one of --bbox W,S,E,N, --geojson FILE or --builtin")
    check_new_site_id(site_id)
    refused = 0  # features of the --geojson file skipped by name
    if bbox:
        site = site_from_bbox(site_id, _parse_bbox(bbox), name=name, kind=kind or "area")
    elif geojson_path:
        # The id is the one given, so a rename the file would have needed is no news here.
        read, refused = _read_with_notes([geojson_path], renames=False)
        found = [site for _, site in read]
        if len(found) != 1:
            raise InputError(f"{geojson_path}: holds {len(found)} sites; use `sitewatch sites import` for many")
        # A polygon without a name (a footprint file) is named after the id it took in the file ("site"):
        # that is no name of the place; the id given here is.
        named = found[0].name if found[0].name != found[0].id else ""
        site = dataclasses.replace(found[0], id=site_id, name=name or named or site_id, kind=kind or found[0].kind)
    else:
        builtin = builtin_sites()
        if site_id not in builtin:
            raise InputError(f"no built-in site {site_id!r}; see `sitewatch sites list --builtin`")
        known = builtin[site_id]  # --name and --kind apply here too, as with --geojson
        site = dataclasses.replace(known, name=name or known.name, kind=kind or known.kind)
    with open_workspace(workspace).store() as store:
        # The one site of that id, if any, not every site read (a port list holds thousands).
        old = _stored_site(store, site.id)
        if old is not None and bbox:  # a new box keeps the site's name, kind and tags
            site = dataclasses.replace(site, name=name or old.name, kind=kind or old.kind, tags=old.tags)
        if old is not None and not from_builtin and not site.berths and site.water is None and _same_area(old, site):
            # The same area again (the command run twice, a second member's copy of the team's set-up): its berths
            # and water polygon still lie in it. They were dropped, and the next detect ran without the water.
            site = dataclasses.replace(site, geometry=old.geometry, berths=old.berths, water=old.water,
                                       coord_source=old.coord_source if bbox else site.coord_source)  # fmt: skip
        unchanged = site == old
        if not unchanged:
            store.put_site(site)
        moved = old is not None and not _same_area(old, site)
        kept = len(store.observations(site.id)) if moved else 0
    click.echo(f"site {site.id!r} {'unchanged' if unchanged else 'replaced' if old is not None else 'added'}")
    dropped = [] if old is None else _dropped(old, site)
    if dropped:
        # The new area comes without them; detection now runs without the water polygon.
        click.echo(
            f"warning: {site.id!r} no longer has {' or '.join(dropped)}; import what you need again with "
            "`sitewatch sites import FILE` (features with role berth / water and site_id "
            f"{site.id!r}), then `sitewatch detect {site.id}`",
            err=True,
        )
    if kept:
        _warn_old_area(site.id, kept)
    if refused:
        raise SystemExit(3)


def _stored_site(store: Store, site_id: str) -> Site | None:
    """The workspace's site ``site_id``, or None when it has none (removed meanwhile included)."""
    if not store.execute("SELECT 1 FROM sites WHERE site_id = ?", (site_id,)):
        return None
    try:
        return store.get_site(site_id)
    except SiteError:  # removed between the two reads
        return None


def _warn_old_area(site_id: str, kept: int) -> None:
    click.echo(
        f"warning: {kept} observation(s) of {site_id!r} were cut to its old area; the timeline and "
        f"report still use them. Ingest or fetch them again to cut them to the new one "
        f"(`sitewatch fetch {site_id} --force`, `sitewatch ingest {site_id} PATH…`), then `sitewatch detect {site_id}`",
        err=True,
    )


@command.command("import", short_help="Import sites, berths and water from GeoJSON, KML or KMZ files.")
@click.argument("paths", metavar="PATH...", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@workspace_option
@handle_errors
def import_(paths: tuple[Path, ...], workspace: Path) -> None:
    """Import sites (with berths and water) from GeoJSON, KML or KMZ files.

    Several files (`sim/*/layout.geojson`) are read first and imported
    together, as one file: a berth may name a site of another file. A file
    that cannot be read, or a site id two files give, is an error naming
    them, and nothing is imported.

    A site without an id takes one from its name; a missing or repeated name
    gets a suffix (site, site-2, ...), and each such site is named here.
    A feature that cannot be read (no geometry, a self-crossing polygon, a
    berth outside its site) is named on a 'skipped:' line and the others are
    imported: exit code 0 when every feature went in, 3 when some were
    skipped, 1 when none went in.
    """
    with open_workspace(workspace).store() as store:
        # Berths and water of a site already in the workspace may come without its area.
        before = {s.id: s for s in store.sites()}
        read, refused = _read_with_notes(list(paths), known=before)
        read = [(path, _keeping_area(before.get(s.id), s)) for path, s in read]
        sites = [s for _, s in read]
        with store.transaction():
            for s in sites:
                store.put_site(s)
        moved = {s.id: len(store.observations(s.id)) for s in sites if s.id in before and not _same_area(before[s.id], s)}
    # A site replaced says so: a polygon named "Dunai" replaces the workspace's dunai, berths and all.
    click.echo(imported_line([s.id for s in sites], set(before)))
    for path, s in read:
        if s.id in before and (dropped := _dropped(before[s.id], s)):
            click.echo(f"warning: {s.id!r} no longer has {' or '.join(dropped)}: {path} has none for it", err=True)
    for sid, kept in moved.items():
        if kept:
            _warn_old_area(sid, kept)
    if refused:
        raise SystemExit(3)


IMPORTED_NAMED = 20
"""Most sites ``sites import`` names one by one: a port list of thousands is said in figures."""


def imported_line(ids: list[str], before: set[str]) -> str:
    """What ``sites import`` says it did: each site, marked when it replaced one; of a long list, the figures."""
    replaced = sum(i in before for i in ids)
    if len(ids) <= IMPORTED_NAMED:
        names = [f"{i} (replaced)" if i in before else i for i in ids]
        return f"imported {len(ids)} site(s): {', '.join(names)}"
    # One line of 4,000 ids (44 kB) reads as nothing; the new and replaced counts are what a rerun checks.
    return (
        f"imported {len(ids):,} site(s): {len(ids) - replaced:,} new, {replaced:,} replaced "
        f"({', '.join(ids[:5])}, …; `sitewatch sites list` lists them)"
    )


EXPORT_SUFFIXES = {".geojson": "geojson", ".json": "geojson", ".kml": "kml"}
"""File suffixes ``sites export`` knows, and the format each means."""


@command.command("export", short_help="Export the sites to GeoJSON or KML.")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), callback=existing_folder)
@click.option("--format", "fmt", type=click.Choice(["geojson", "kml"]),
              help="Default: from the file suffix (.geojson, .json or .kml).")  # fmt: skip
@workspace_option
@handle_errors
def export(path: Path, fmt: str | None, workspace: Path) -> None:
    """Export the workspace's sites to GeoJSON (.geojson, .json) or KML (.kml)."""
    if fmt is None:
        fmt = EXPORT_SUFFIXES.get(path.suffix.lower())
        if fmt is None:
            raise InputError(
                f"{path}: cannot write {path.suffix or 'a file without a suffix'}; sites export writes "
                f"{', '.join(EXPORT_SUFFIXES)} (or name the format with --format geojson|kml)"
            )
    ws = open_workspace(workspace)
    refuse_workspace_file(ws, [("PATH", path)])
    with ws.store() as store:
        sites = store.sites()
    text = sites_to_kml(sites) if fmt == "kml" else json.dumps(sites_to_geojson(sites), indent=1, ensure_ascii=False)
    write_text_atomic(path, text)  # UTF-8, as the KML header says, whatever the locale
    unplaced = [s.id for s in sites if s.geometry is None] if fmt == "kml" else []
    click.echo(f"wrote {len(sites) - len(unplaced)} site(s) to {path}")
    if unplaced:  # KML has no placemark without coordinates; GeoJSON keeps such a site, geometry null
        click.echo(f"note: {', '.join(unplaced)}: no coordinates, so no placemark in KML "
                   "(GeoJSON keeps them: `sitewatch sites export FILE.geojson`)", err=True)  # fmt: skip


@command.command("remove")
@click.argument("site_ids", nargs=-1, required=True, shell_complete=complete_site_ids)
@click.option("--with-observations", is_flag=True,
              help="Also remove the sites' observations, their detections and their images in the archive.")  # fmt: skip
@workspace_option
@handle_errors
def remove(site_ids: tuple[str, ...], with_observations: bool, workspace: Path) -> None:
    """Remove sites with their berths and water polygons.

    A site with observations is kept unless --with-observations says to drop
    them too; nothing is removed when any SITE_ID is unknown or kept. With
    --with-observations, a site already removed whose archive folder a stopped
    run left behind has that folder removed.
    """
    ws = open_workspace(workspace)
    with ws.store() as store:
        known = {s.id for s in store.sites()}
        # A site already removed whose archive folder stayed (the run was stopped before the
        # files went): --with-observations finishes the job, nothing names those files any more.
        leftover = [
            sid for sid in dict.fromkeys(site_ids)
            if sid not in known and re.fullmatch(SITE_ID_PATTERN, sid) and (ws.archive / sid).is_dir()
        ]
        if with_observations and leftover and len(leftover) == len(set(site_ids) - known):
            site_ids = tuple(sid for sid in site_ids if sid not in leftover)
            for sid in leftover:
                shutil.rmtree(ws.archive / sid)
                click.echo(f"no site {sid!r}: removed the archive folder a stopped `sites remove` left")
            if not site_ids:
                return
        held = {sid: (store.get_site(sid), store.observations(sid))[1] for sid in dict.fromkeys(site_ids)}
        kept = {sid: len(obs) for sid, obs in held.items() if obs}
        if kept and not with_observations:
            raise InputError(
                "nothing removed: " + ", ".join(f"{sid!r} has {n} observation(s)" for sid, n in kept.items())
                + "; pass --with-observations to remove them, their detections and archived images too"
            )
        with store.transaction():
            for sid in held:
                store.delete_site(sid, observations=True)
    # Images (and their sidecars) go once the rows that name them are gone: an interrupted run
    # leaves files, never rows naming missing files.
    for sid in held:
        if (ws.archive / sid).is_dir():
            shutil.rmtree(ws.archive / sid)
    n_obs = sum(len(obs) for obs in held.values())
    click.echo(f"removed {len(held)} site(s): {', '.join(held)}" + (f" and {n_obs} observation(s)" if n_obs else ""))
