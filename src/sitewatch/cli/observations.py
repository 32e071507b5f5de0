"""``sitewatch observations``: what the archive holds for a site."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..workspace import open_workspace
from .options import add_id_column, handle_errors, json_option, workspace_option


@click.command("observations")
@click.argument("site_id", required=False)
@click.option("--sensor", type=click.Choice(["sar", "optical"]), help="Only this sensor.")
@workspace_option
@json_option
@handle_errors
def command(site_id: str | None, sensor: str | None, workspace: Path, as_json: bool) -> None:
    """List observations (scenes cut to sites), oldest first; ids work with `sitewatch show`."""
    with open_workspace(workspace).store() as store:
        if site_id is not None:
            store.get_site(site_id)  # an unknown site is an error naming the known ones
        observations = store.observations(site_id, sensor=sensor)
        counts: dict[str, int] = {}
        for row in store.execute("SELECT observation_id, count(*) AS n FROM detections GROUP BY observation_id"):
            counts[row["observation_id"]] = int(row["n"])
    rows = [
        {
            "id": o.id,
            "acquired": o.scene.acquired.strftime("%Y-%m-%d %H:%M"),
            "sensor": o.scene.sensor,
            "platform": o.scene.platform,
            "resolution_m": o.scene.resolution_m,
            "valid_pct": round(100 * o.valid_fraction, 1),
            "cloud_pct": None if o.cloud_fraction is None else round(100 * o.cloud_fraction, 1),
            "detections": counts.get(o.id, 0),
            "simulated": o.scene.simulated,
            "sha256": o.sha256,
        }
        for o in observations
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("acquired (UTC)", "sensor", "platform", "res. m", "valid %", "cloud %", "detections")
    add_id_column(table, "id", [str(r["id"]) for r in rows])
    for r in rows:
        plat = str(r["platform"]) + (" (SIMULATED)" if r["simulated"] else "")
        cloud = "" if r["cloud_pct"] is None else str(r["cloud_pct"])
        table.add_row(
            str(r["acquired"]), str(r["sensor"]), plat, str(r["resolution_m"]),
            str(r["valid_pct"]), cloud, str(r["detections"]), str(r["id"]),
        )  # fmt: skip
    Console().print(table)
    if not rows:
        click.echo("no observations; add some with `sitewatch ingest`, `sitewatch fetch` or `sitewatch import`")
