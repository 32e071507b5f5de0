"""``sitewatch ingest``: cut a folder of GeoTIFFs to a site and archive them."""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

import click

from ..config import settings_used_by
from ..errors import InputError, SkippedInputWarning
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    FiniteFloatRange,
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
    warnings_as_lines,
    workers_option,
    workspace_option,
)
from .output import duplicate_line, echo_json, observation_row, replaced_image_line, replaced_note


def _band_files(values: tuple[str, ...], sensor: str | None) -> dict[str, Path]:
    """``--band`` values as the band names the archive uses (blue…nir, SCL; VV, VH, HH, HV)."""
    from ..detect.image import parse_sar_band_args
    from ..detect.optical_image import parse_band_args
    from ..ingest.band_files import band_files_sensor

    names = {v.partition("=")[0].strip(): Path() for v in values}
    if (sensor or band_files_sensor(names)) == "sar":
        return {k.upper(): Path(p) for k, p in parse_sar_band_args(values).items()}
    try:
        named = {("SCL" if k == "scl" else k): Path(p) for k, p in parse_band_args(values).items()}
    except InputError as exc:
        if "given twice" in str(exc):
            raise
        raise InputError(f"{exc}; for SAR: vv, vh, hh, hv") from exc
    if "udm2" in named:
        raise InputError(
            f"--band udm2={named['udm2']}: ingest reads a Planet scene's UDM2 beside its image; give the image "
            "(…_AnalyticMS_SR_clip.tif) as PATH, with its …_udm2_clip.tif in the same folder"
        )
    return named


def _check_optical_bands(named: dict[str, Path]) -> None:
    """Refuse optical ``--band`` files too few for the detector (after each file is found, and found once: a
    missing or repeated file is what to name first)."""
    if "green" not in named or not {"red", "nir"} & set(named):
        raise InputError(
            f"--band gave {', '.join(named)}: an optical observation needs at least green and red "
            "(or green and nir) for the detector; blue and nir are used when given"
        )


@click.command("ingest", cls=OnceCommand, short_help="Ingest image files or folders into a site.")
@click.argument("site_id", shell_complete=complete_site_ids)
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--band", "bands", multiple=True, metavar="NAME=PATH",
              help="One file per band, all of one acquisition, ingested as one observation (instead of "
              "PATHS); repeat. Optical: blue, green, red, nir, scl (or B02, B03, B04, B08). SAR: vv, vh, hh, hv.")  # fmt: skip
@files_sensor_option
@click.option("--dn-scale", type=FiniteFloatRange(min=0, min_open=True), default=None, metavar="N",
              help="Optical files (not products): values are reflectance x N (default: 255 for 8-bit; 65535 when "
              "the values fill the 16-bit range; 10000 for other integers; floats as they are).")  # fmt: skip
@click.option("--dn-offset", type=FiniteFloatRange(), default=None, metavar="N",
              help="Optical files (not products): subtracted from the values first (1000 for Sentinel-2 L2A band "
              "files of processing baseline 04.00 or later taken out of their product; default 0).")  # fmt: skip
@acquired_option
@orthorectify_options
@click.option("--new-only", is_flag=True,
              help="Skip each file an observation of the site already came from, unchanged since (the same path, "
                   "size and modification time): for a folder that keeps every download, ingested each day.")
@workers_option
@scheduler_option
@wait_workers_option
@workspace_option
@json_option
@handle_errors
def command(
    site_id: str, paths: tuple[Path, ...], bands: tuple[str, ...], sensor: str | None, dn_scale: float | None,
    dn_offset: float | None, acquired: datetime | None, orthorectify: bool, dem: Path | None, rpc_height: float | None,
    new_only: bool, workers: int | None, scheduler: str | None,
    wait_workers: float | None, workspace: Path, as_json: bool,
) -> None:  # fmt: skip
    """Ingest GeoTIFF files or folders (any CRS) into SITE_ID as observations.

    A Sentinel-2 L2A or Sentinel-1 GRD SAFE product (the .SAFE folder or its
    .zip), or a Landsat Collection 2 Level-2 product (its folder or _MTL.txt), is one observation,
    named after the product. A PlanetScope image takes the UDM2 beside it as its cloud mask. Each other file is one observation,
    named after the file (the acquisition time
    is added when another image already holds that name). Bands delivered
    one file each go in together with --band NAME=PATH. An image placed by RPCs
    or GCPs instead of a map grid is refused unless --orthorectify is given.

    Exit code 0 when every file went in, 3 when some were skipped (each is
    named with the reason), 1 when none went in.
    """
    if not paths and not bands and Path(site_id).exists():
        # `sitewatch ingest scene.tif`: the file took the site's place.
        raise InputError(
            f"{site_id!r} is a {'folder' if Path(site_id).is_dir() else 'file'}, not a site: name the site first "
            f"(sitewatch ingest SITE_ID {site_id}; sitewatch sites list shows the sites)"
        )
    if bool(paths) == bool(bands):
        raise InputError("give PATHS or --band NAME=PATH, not both and not neither")
    if new_only and bands:
        raise InputError("--new-only skips files of PATHS ingested before; with --band, give the bands again without it")
    # The readers (rasterio, scipy) are imported by the command when it runs, not for --help or a Tab.
    from ..ingest import ingest_paths
    from ..ingest.band_files import band_files_sensor

    band_files = _band_files(bands, sensor) if bands else None
    ortho = orthorectify_given(orthorectify, dem, rpc_height)
    if (dn_scale, dn_offset) != (None, None) and (sensor or (band_files_sensor(band_files) if band_files else None)) == "sar":
        given = " and ".join(o for o, v in (("--dn-scale", dn_scale), ("--dn-offset", dn_offset)) if v is not None)
        raise InputError(f"{given}: for optical images (reflectance); SAR values are read as they are")
    first_band: dict[Path, str] = {}
    for band, path in (band_files or {}).items():
        if path.resolve() in first_band:
            raise InputError(
                f"--band {first_band[path.resolve()]} and --band {band} are the same file {path}: each band needs its own file"
            )
        first_band[path.resolve()] = band
    for path in (band_files or {}).values():
        if not path.is_file():
            raise InputError(f"--band: no such file {path}")
    if band_files and band_files_sensor(band_files) != "sar":
        _check_optical_bands(band_files)
    ws = open_workspace(workspace)
    settings = ws.settings({"workers": workers, "scheduler": scheduler, "wait_workers": wait_workers}, names=settings_used_by("ingest"))
    with ws.store() as store, progress_bar("ingest", is_quiet() or as_json) as progress, warnings_as_lines():
        # Skipped files are listed below with their reason; no second, raw warning.
        warnings.simplefilter("ignore", SkippedInputWarning)
        site = store.get_site(site_id)
        # Each archived image's sha256 before the run: an image replaced by another file is named below.
        held = {r[0]: r[1] for r in store.execute("SELECT observation_id, sha256 FROM observations WHERE site_id = ?", (site_id,))}
        report = ingest_paths(
            ws, store, site, paths, acquired=acquired, sensor=sensor, progress=progress,
            workers=settings["workers"], scheduler=settings["scheduler"], wait_workers=settings["wait_workers"],
            compress=settings["cog_compress"], band_files=band_files,
            thermal_noise=settings["sar_thermal_noise"], dn_scale=dn_scale, dn_offset=dn_offset, new_only=new_only,
            context_m=settings["context_m"], orthorectify=ortho,
        )  # fmt: skip
    missed = set(report.missed)
    rows = [observation_row(o, f, held) for o, f in zip(report.observations, report.sources, strict=True)]
    if as_json:
        # The shape of `import --json`: refused (could not be read), skipped (no pixel over the site).
        echo_json({
            "site": site_id,
            "ingested": rows,
            "refused": [{"file": n, "reason": r} for n, r in report.skipped if n not in missed],
            "skipped": [{"file": n, "reason": r} for n, r in report.skipped if n in missed],
            "duplicates": [{"file": a, "same_as": b} for a, b in report.duplicates],
            "unchanged": list(report.unchanged),
            "unrecorded_removed": list(report.unrecorded_removed),
        }, indent=1)  # fmt: skip
    else:
        simulated = sum(o.scene.simulated for o in report.observations)
        # Simulated imagery says so wherever it shows (the simulator's scenes, ingested into a workspace).
        click.echo(f"ingested {len(report.observations)} observation(s) into {site_id!r}"
                   + (f" ({simulated} of them SIMULATED imagery)" if simulated else "")
                   + replaced_note([{"replaced": o.id in held} for o in report.observations])
                   + (f"; {len(report.unchanged)} file(s) ingested before and unchanged, skipped" if report.unchanged else ""))  # fmt: skip
        failed = {path for path, _ in report.skipped}
        for repeat, earlier in report.duplicates:
            click.echo(duplicate_line(repeat, earlier, "ingested", earlier in failed))
        for obs, source in zip(report.observations, report.sources, strict=True):
            if (placed := obs.provenance.get("orthorectified")) is not None:
                click.echo(f"{obs.id}: {placed['note']} ({source})")
    for row, obs in zip(rows, report.observations, strict=True):
        if line := replaced_image_line(row, obs.sha256):  # with --json too, as the notes below
            click.echo(line, err=True)
    if gone := report.unrecorded_removed:
        click.echo(f"note: removed {len(gone)} file(s) from {site_id}'s archive that no observation named (a run killed "
                   f"between moving an image into place and recording it left them): {', '.join(gone)}", err=True)  # fmt: skip
    for _path, reason in report.skipped:
        click.echo(f"skipped: {reason}", err=True)
    if report.skipped:
        raise SystemExit(3 if report.observations else 1)
