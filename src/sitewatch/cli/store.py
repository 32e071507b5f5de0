"""``sitewatch store``: where the workspace's database is, and copying it into a PostGIS team store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from ..config import load_settings
from ..errors import StoreError
from ..store import is_store_url, mask_url, open_store
from ..store.copy import copy_store
from ..store.postgis import same_database, url_without_password
from ..workspace import DB_FILE, Workspace, open_workspace, set_store_setting
from .options import OnceCommand, OnceGroup, handle_errors, json_option, workspace_option
from .output import echo_json


@click.group("store", cls=OnceGroup, short_help="The workspace's database: where it is; copy it into PostGIS.")
def command() -> None:
    """The workspace's database: its GeoPackage (sitewatch.gpkg) or a PostGIS team store (the `store` setting)."""


STORE_ENV = "SITEWATCH_STORE"
"""The environment variable of the ``store`` setting, which beats sitewatch.toml."""

RECORD_TABLES = ("change_pairs", "changes", "runs", "alert_events")
"""The tables `store info` counts besides the layers."""


@command.command("info", cls=OnceCommand, short_help="Where the database is, its schema and row counts.")
@workspace_option
@json_option
@handle_errors
def info(workspace: Path, as_json: bool) -> None:
    """Say where the workspace's database is (a PostGIS URL with its password masked), which setting named it
    (SITEWATCH_STORE, which overrides sitewatch.toml, is said), its schema version and how many rows each layer
    and each table of records (change pairs and regions, runs, alert events) holds."""
    ws = open_workspace(workspace)
    # Which setting named it: a member's SITEWATCH_STORE, left set in a shell profile, beat the shared folder's
    # sitewatch.toml without a word here, and the team's figures and a member's differed with no reason shown.
    in_file = str(load_settings(ws.root, env={})["store"] or "").strip()
    from_env = os.environ.get(STORE_ENV) is not None
    with ws.store() as store:
        out: dict[str, Any] = {
            "store": "postgis" if ws.store_url else "geopackage",
            "location": ws.store_label if ws.store_url else str(ws.db_path.resolve()),
            "setting": STORE_ENV if from_env else ("sitewatch.toml" if in_file else "default"),
            "schema_version": store.schema_version(),
            # The layers, then the tables of what commands recorded (store copy copies them all).
            "counts": store.counts() | {t: int(store.execute(f"SELECT count(*) FROM {t}")[0][0]) for t in RECORD_TABLES},
        }
    if as_json:
        echo_json(out, indent=1)
        return
    said = ""
    if from_env:
        # The file keeps a URL without its password: the same URL with it in SITEWATCH_STORE overrides nothing.
        same = url_without_password(in_file) == url_without_password(ws.store_url) if in_file and ws.store_url else in_file == ws.store_url
        overridden = "" if same else f", over sitewatch.toml's {mask_url(in_file) if in_file else DB_FILE}"
        said = f"; from {STORE_ENV}{overridden}"
    click.echo(f"{out['store']}: {out['location']} (schema {out['schema_version']}{said})")
    for table, n in out["counts"].items():
        click.echo(f"  {table}: {n}")


@command.command("copy", cls=OnceCommand, short_help="Copy the database into a PostGIS store (or a GeoPackage).")
@click.option(
    "--to", "target", required=True, metavar="URL|FILE",
    help="The PostGIS store (postgresql://user@host/dbname; password from ~/.pgpass or PGPASSWORD) or a .gpkg file to copy into.",
)  # fmt: skip
@click.option("--replace", is_flag=True, help="Empty a target that holds rows already and copy again (default: refuse it).")
@click.option("--use", is_flag=True, help="Then make the target this workspace's database (the `store` setting in sitewatch.toml).")
@workspace_option
@json_option
@handle_errors
def copy(target: str, replace: bool, use: bool, workspace: Path, as_json: bool) -> None:
    """Copy every row of the workspace's database (sites, observations, detections, changes, runs, alert
    events) into TARGET in one transaction: a GeoPackage workspace into a PostGIS team store, or back.
    The archive of COGs is not copied: its paths are relative to the workspace folder, which the team shares."""
    ws = open_workspace(workspace)
    if not is_store_url(target):
        path = Path(target)
        if path.resolve() == ws.db_path.resolve() and not ws.store_url:
            raise StoreError(f"{path}: is this workspace's own database; --to names another one")
        if use and path.resolve() != ws.db_path.resolve():
            raise StoreError(f"--use takes a PostGIS URL or this workspace's {DB_FILE}, not {path}")
    elif ws.store_url and same_database(target, ws.store_url):
        # By its server and name, not its text: another role's URL of the team store is the team store.
        raise StoreError(
            f"{mask_url(target)}: is this workspace's own database ({ws.store_label}); --to names another one"
        )
    # A new PostGIS target gets its tables made: naming it in --to is asking for a store there.
    with ws.store() as source, open_store(target if is_store_url(target) else Path(target), create=True, origin="--to") as dest:
        counts = copy_store(source, dest, replace=replace)
        where = dest.location
    if use:
        set_store_setting(ws.root, target if is_store_url(target) else "")
    # SITEWATCH_STORE beats sitewatch.toml: set to another database, the commands that follow go on using that one.
    env = os.environ.get(STORE_ENV)
    overridden = use and env is not None and mask_url(env.strip()) != (mask_url(target) if is_store_url(target) else "")
    if overridden:
        given = mask_url(env or "") or f"empty: the folder's {DB_FILE}"
        click.echo(
            f"note: {STORE_ENV} is set and overrides it ({given}): "
            f"unset it, or set it to the same, for commands to use {where}",
            err=True,
        )
    if as_json:
        echo_json({"to": where, "counts": counts, "use": use}, indent=1)
        return
    click.echo(f"copied to {where}: " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    if use and overridden:
        click.echo(f"{where} is now the `store` in sitewatch.toml, but {STORE_ENV} is set and overrides it")
    elif use:
        click.echo(f"{Workspace(ws.root).store_label} is now this workspace's database (sitewatch.toml: store)")
