"""``sitewatch import``: purchased GeoTIFFs (Planet, Maxar, others) into the sites they cover."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..config import settings_used_by
from ..errors import IdTakenError, ImageReadError, InputError, SameAcquisitionError
from ..files import broken_links_apart
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    OnceCommand,
    acquired_option,
    files_sensor_option,
    handle_errors,
    is_quiet,
    json_option,
    orthorectify_given,
    orthorectify_options,
    progress_bar,
    scheduler_option,
    wait_workers_option,
    workers_option,
    workspace_option,
)
from .output import duplicate_line, echo_json, observation_row, replaced_image_line, replaced_note

if TYPE_CHECKING:
    from ..model import SceneRef, Site


@click.command("import", cls=OnceCommand, short_help="Import purchased images into the sites they cover.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--site", "site_ids", multiple=True, shell_complete=complete_site_ids, help="Import into this site (repeatable). Default: every "
              "workspace site the image covers.")  # fmt: skip
@acquired_option
@files_sensor_option
@orthorectify_options
@click.option("--new-only", is_flag=True,
              help="Skip each file an observation already came from, unchanged since (the same path, size and "
                   "modification time): for a folder that keeps every download, imported each day.")
@workers_option
@scheduler_option
@wait_workers_option
@workspace_option
@json_option
@handle_errors
def command(
    paths: tuple[Path, ...], site_ids: tuple[str, ...], acquired: datetime | None, sensor: str | None,
    orthorectify: bool, dem: Path | None, rpc_height: float | None, new_only: bool,
    workers: int | None, scheduler: str | None, wait_workers: float | None, workspace: Path, as_json: bool,
) -> None:  # fmt: skip
    """Import purchased GeoTIFFs as observations of the sites they cover.

    Sentinel-1 GRD and Sentinel-2 L2A SAFE products (a .SAFE folder or its .zip)
    and Landsat Collection 2 Level-2 products (a folder or its _MTL.txt) go in the same way, one
    product into every site its scene covers. A PlanetScope image takes the UDM2 beside it as its
    cloud mask.
    The acquisition time is read from the file's tags, its sidecar metadata
    (Planet *_metadata.xml/json, Maxar .XML/.IMD, any .json with a datetime)
    or its name; --acquired overrides them. Files without a CRS are refused: sitewatch
    cannot place them on the ground; those placed by RPCs (Maxar OR2A, Planet basic) or GCPs
    are orthorectified over each site's part with --orthorectify (RPCs with --dem or --height). The provider's metadata file is archived
    with the observation; `sitewatch show` prints it.

    With --new-only, a file an observation came from and unchanged since is
    skipped unread (a download folder that keeps every file, imported daily).

    Exit code 0 when every file went in (without --site: into every site it
    covers, or none; with --new-only, also when every file was imported before), 3 when some were
    refused or missed the --site given, 1 when nothing went in.
    """
    # The readers (rasterio, scipy) are imported by the command when it runs, not for --help or a Tab.
    from ..ingest.archive import commit_archived, remove_sites_partials
    from ..ingest.entry import _same_id, expand_paths
    from ..ingest.identity import (
        SourceDigest,
        imported_unchanged,
        naming_order,
        same_images,
        unique_item_id,
    )
    from ..ingest.jobs import FileJob, map_file_jobs
    from ..ingest.scene_ref import read_scene_ref
    from ..sites import SitesIndex
    from ..sources.planet import udm2_apart

    ortho = orthorectify_given(orthorectify, dem, rpc_height)
    ws = open_workspace(workspace)
    settings = ws.settings({"workers": workers, "scheduler": scheduler, "wait_workers": wait_workers}, names=settings_used_by("import"))
    compress, thermal_noise = settings["cog_compress"], settings["sar_thermal_noise"]
    site_ids = tuple(dict.fromkeys(site_ids))  # --site a --site a: one import into a, not two
    imported: list[dict[str, Any]] = []
    replacing: list[str | None] = []  # a note for each observation whose archived image is another file now
    files, broken = broken_links_apart(expand_paths(paths))  # a link to a disk not mounted: named, the others go in
    files, masks = udm2_apart(files)  # a Planet UDM2 goes in with its image, as its cloud mask
    masks = broken + masks
    unchanged: list[Path] = []
    if new_only:
        with ws.store() as store:
            files, unchanged = imported_unchanged(store, files, site_ids)
    digests: dict[Path, str] = {}  # files same_images hashed: not read again
    files, repeats = same_images(files, digests)
    if not files and unchanged and not masks:
        _say_unchanged(unchanged, as_json)
        return
    if not files:
        alone = "; ".join(why for _, why in masks)
        raise InputError(alone or f"no GeoTIFF files or SAFE products found in {', '.join(str(p) for p in paths)}")
    # What went wrong with each file, kept in file order whichever stage found it.
    refused_of: list[list[str]] = [[] for _ in files]
    missed_of: list[list[str]] = [[] for _ in files]
    with ws.store() as store, progress_bar("import", is_quiet() or as_json) as progress:
        sites = [store.get_site(s) for s in site_ids] if site_ids else [s for s in store.sites() if s.geometry is not None]
        for site in sites:
            site.require_geometry()  # a --site without coordinates is named, not "missed" by every file
        if not sites:
            raise InputError(
                "the workspace has no site with an area to import into; add one with "
                "`sitewatch sites add ID --bbox W,S,E,N` (or `sites import`) first"
            )
        remove_sites_partials(ws, [s.id for s in sites])  # COGs a killed run left half-written (as ingest does)
        covering = SitesIndex(sites)  # which of a port list's thousands each image covers, without a loop over them
        # Each archived image's sha256 before the run: an image replaced by another file is named below.
        held = {r[0]: r[1] for r in store.execute("SELECT observation_id, sha256 FROM observations")}
        # Each (file, site) is one job, cut and written in worker processes (--workers); the ids are
        # chosen here first, as ingest chooses them, so two files of one name in a run get two.
        jobs: list[tuple[int, FileJob]] = []
        naming: list[Callable[[], bool]] = []  # each job's id looked at again as it is recorded
        scenes: list[SceneRef | None] = []
        for i, f in enumerate(files):
            try:
                scenes.append(read_scene_ref(f, acquired=acquired, sensor=sensor, thermal_noise=thermal_noise, orthorectify=ortho)[0])
            except (ImageReadError, InputError) as exc:
                refused_of[i].append(str(exc))
                scenes.append(None)
        contents = [SourceDigest(f, digests.get(f.resolve())) for f in files]
        # Ids in an order of the images' own (naming_order), not the order given: the same files, the same ids.
        chosen: dict[int, list[tuple[SceneRef, Site, str, set[str]]]] = {}  # (scene, site, id, the site's ids before)
        taken: dict[str, set[str]] = {site.id: set() for site in sites}
        for i, scene in naming_order(files, scenes):
            try:
                targets = sites if scene.footprint is None else covering.intersecting(scene.footprint)
                if not targets:
                    missed_of[i].append("covers no site of the workspace" if not site_ids else "misses the site(s) given")
                if len(targets) > 1:
                    contents[i].value()  # read once here rather than once by each site's worker
                chosen[i] = []
                for site in targets:
                    item = unique_item_id(store, site, files[i], scene, taken[site.id], content=contents[i])
                    chosen[i].append((scene, site, item, set(taken[site.id])))
                    taken[site.id].add(item)
            except (ImageReadError, InputError) as exc:
                refused_of[i].append(str(exc))
                chosen.pop(i, None)
        for i, f in enumerate(files):
            for scene, site, item, before in chosen.get(i, []):  # with the digest if any site's id needed it
                # A .TIL's tiles hashed with its digest here go with it, not hashed again by each site's worker.
                jobs.append((i, FileJob(ws, site, f, acquired, sensor, compress, item, None, thermal_noise, contents[i].sha256,
                                        context_m=settings["context_m"], orthorectify=ortho, source_tiles=contents[i].tiles)))
                naming.append(partial(_same_id(store, site, f, scene, item, contents[i], (), copies=True), before))
        results = map_file_jobs(ws, [job for _, job in jobs], workers=settings["workers"], scheduler=settings["scheduler"],
                                wait_workers=settings["wait_workers"],
                                describe=lambda job: f"{job.path} into site {job.site.id}")  # fmt: skip
        try:
            for k, ((i, job), result) in enumerate(zip(jobs, results, strict=True)):
                if isinstance(result, str):
                    if result not in refused_of[i]:  # the same reason for each site it covers: said once
                        refused_of[i].append(result)
                elif result is None:
                    missed_of[i].append(f"no valid pixel over site {job.site.id!r}")
                else:
                    try:
                        commit_archived(ws, store, *result, still_named=naming[k])
                    except (IdTakenError, SameAcquisitionError) as exc:
                        refused_of[i].append(str(exc))
                    else:
                        imported.append(observation_row(result[0], str(job.path), held))
                        replacing.append(replaced_image_line(imported[-1], result[0].sha256))
                progress(k + 1, len(jobs), job.path.name)
        except BaseException:
            # Ctrl-C: the workers are ended first, then the COGs they wrote that were not committed go.
            results.close()
            remove_sites_partials(ws, [s.id for s in sites])
            raise
        # Again: a worker of a run killed just before may have been finishing one.
        remove_sites_partials(ws, [s.id for s in sites])
        refused = [(str(f), why) for f, why in masks]
        refused += [(str(f), why) for f, whys in zip(files, refused_of, strict=True) for why in whys]
        missed = [(str(f), why) for f, whys in zip(files, missed_of, strict=True) for why in whys]
        store.record_run("import", None, {"paths": [str(p) for p in paths], "sites": list(site_ids)},
                         {"observations": len(imported), "refused": len(refused), "duplicates": len(repeats)})  # fmt: skip
    if as_json:
        echo_json({"imported": imported,
                               "refused": [{"file": n, "reason": r} for n, r in refused],
                               "skipped": [{"file": n, "reason": r} for n, r in missed],
                               "duplicates": [{"file": str(a), "same_as": str(b)} for a, b in repeats],
                               "unchanged": [str(f) for f in unchanged]}, indent=1)  # fmt: skip
    else:
        for row in imported:
            # A date alone is not shown as the time the image was taken (its 12:00 UTC is assumed).
            when = f"{str(row['acquired'])[:10]}, time unknown" if row["acquired_date_only"] else row["acquired"]
            click.echo(f"{row['id']}  {when}  valid {row['valid_pct']}%" + ("  SIMULATED" if row["simulated"] else "")
                       + ("  (replaced)" if row["replaced"] else ""))
            if "orthorectified" in row:
                click.echo(f"  {row['orthorectified']}")
        click.echo(f"imported {len(imported)} observation(s) from {len(files)} file(s)" + replaced_note(imported)
                   + (f"; {len(unchanged)} file(s) imported before and unchanged, skipped" if unchanged else ""))
        failed = {name for name, _ in (*refused, *missed)}
        for repeat, earlier in repeats:
            click.echo(duplicate_line(str(repeat), str(earlier), "imported", str(earlier) in failed and not any(
                row["file"] == str(earlier) for row in imported)))
    for line in filter(None, replacing):  # with --json too, as the notes below
        click.echo(line, err=True)
    for name, reason in missed:  # with --json too: standard output may be a script's, this is the user's
        click.echo(f"skipped {name}: {reason}", err=True)
    for name, reason in refused:
        # Most reasons begin with the file already ("a.tif: has no CRS"): name it once.
        click.echo(f"refused {reason}" if reason.startswith(f"{name}:") else f"refused {name}: {reason}", err=True)
    # As ingest: 3 when some files were refused or missed the sites named, 1 when nothing went in.
    if not imported and files:
        raise SystemExit(1)
    if refused or (site_ids and missed):
        raise SystemExit(3)


def _say_unchanged(unchanged: list[Path], as_json: bool) -> None:
    """``--new-only`` found nothing new: not an error, the day's job goes on (exit code 0)."""
    if as_json:
        echo_json({"imported": [], "refused": [], "skipped": [], "duplicates": [],
                               "unchanged": [str(f) for f in unchanged]}, indent=1)  # fmt: skip
    else:
        click.echo(f"imported 0 observation(s): {len(unchanged)} file(s) imported before and unchanged, skipped")
