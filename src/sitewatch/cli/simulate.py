"""``sitewatch simulate``: render a scenario into simulated GeoTIFFs with ground truth."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import click

from ..sources.scenario import plan_scenes, unseen_visits
from ..sources.simulate import load_scenario, simulate
from .options import (
    OnceCommand,
    bom_option,
    existing_folder,
    handle_errors,
    is_quiet,
    json_option,
    progress_bar,
)
from .output import echo_json


def _ais_folder(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """--ais goes into a folder that exists, or into --out itself, which simulate makes
    (`--out sim/ --ais sim/ais.csv`)."""
    out = ctx.params.get("out")
    if value is not None and out is not None and str(value) not in ("", "."):
        if value.parent.resolve() == Path(out).resolve():
            return value
    return existing_folder(ctx, param, value)


@click.command("simulate", cls=OnceCommand, short_help="Render a scenario's imagery as simulated GeoTIFFs.")
@click.argument("scenario")
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    is_eager=True,  # read before --ais, which may name a file in it
    help="Folder to write <site>/<scene>.tif, truth files, layouts and scenario.json into.",
)
@click.option("--seed", type=int, default=None, help="Random seed (default: the scenario's own).")
@click.option(
    "--replace",
    is_flag=True,
    help="Delete the simulated scenes of another scenario found in --out first (without it they are refused). "
    "Files simulate did not write are never touched.",
)
@click.option("--ais", "ais_path", type=click.Path(dir_okay=False, path_type=Path), callback=_ais_folder,
              help="Also write the scenario's simulated AIS reports (CSV, mmsi,time,lat,lon…) into a file.")
@bom_option
@json_option
@handle_errors
def command(scenario: str, out: Path, seed: int | None, replace: bool, ais_path: Path | None, bom: bool, as_json: bool) -> None:
    """Simulate the imagery of SCENARIO (a .yaml/.toml file, or a packaged name such as `seed-story`).

    A folder holding another scenario's simulated scenes is refused unless
    --replace is given; rerunning the same scenario overwrites its scenes.

    Everything written is SIMULATED and tagged so (SITEWATCH_SIMULATED=true).
    The same scenario and seed give byte-identical files.
    """
    if bom and ais_path is None:
        raise click.UsageError("--bom marks the AIS CSV as UTF-8 for Excel: add --ais FILE")
    scen = load_scenario(scenario)
    t0 = time.perf_counter()
    with progress_bar("simulate", is_quiet() or as_json) as progress:
        paths = simulate(scen, out, seed=seed, replace=replace, progress=lambda done, total: progress(done, total, ""))
    ais_reports = None
    if ais_path is not None:
        from ..sources.sim_ais import write_simulated_ais

        ais_reports = write_simulated_ais(scen, ais_path, seed=seed, bom=bom)[1]
    elapsed = time.perf_counter() - t0
    planned = plan_scenes(scen)
    counts = Counter((p.site, p.series.name) for p in planned)
    for visit in unseen_visits(scen, planned):
        # Not an error: a ship may come and go between looks. But it is in no image.
        click.echo(f"warning: {visit} falls between the acquisitions of its site: no scene shows it", err=True)
    if as_json:
        echo_json(
                {
                    "scenario": scen.name,
                    "out": str(out),
                    "scenes": len(paths),
                    "per_series": {f"{site}/{name}": n for (site, name), n in sorted(counts.items())},
                    "seconds": round(elapsed, 2),
                    **({"ais": str(ais_path), "ais_reports": ais_reports} if ais_path is not None else {}),
                },
                indent=1,
            )
        return
    if not is_quiet():
        click.echo(f"simulated {len(paths)} scene(s) of scenario {scen.name!r} into {out} in {elapsed:.1f} s (SIMULATED imagery)")
        # Columns as wide as the longest id, so that a long one (sergeyevka-base) does not push its row's count out of line.
        w_site = max([12, *(len(site) for site, _ in counts)])
        w_name = max([10, *(len(name) for _, name in counts)])
        for (site, name), n in sorted(counts.items()):
            click.echo(f"  {site:<{w_site}} {name:<{w_name}} {n:>4}")
        if ais_path is not None:
            click.echo(f"wrote {ais_reports} simulated AIS report(s) to {ais_path} (SIMULATED AIS)")
        # What to do with them: the scenes are files, not yet a workspace's observations.
        sites = sorted({site for site, _ in counts})
        first = sites[0]
        if len(sites) == 1:
            click.echo(f"next, in a workspace (`sitewatch init`): `sitewatch sites import {out / first / 'layout.geojson'}`, "
                       f"then `sitewatch ingest {first} {out / first}`")  # fmt: skip
        else:  # one import takes every site's layout at once
            click.echo(f"next, in a workspace (`sitewatch init`): `sitewatch sites import {out / '*' / 'layout.geojson'}` "
                       f"(the sites {', '.join(sites)}), then for each `sitewatch ingest {first} {out / first}`")  # fmt: skip
