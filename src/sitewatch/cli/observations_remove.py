"""``sitewatch observations remove``: take observations (and what rests on them) out of a workspace."""

from __future__ import annotations

from pathlib import Path

import click

from ..model import acquired_label
from ..workspace import open_workspace
from .completers import complete_observation_ids
from .options import OnceCommand, handle_errors, json_option, workspace_option
from .output import echo_json, echo_wrapped


@click.command("remove", cls=OnceCommand, short_help="Remove observations, their detections, change pairs and images.")
@click.argument("observation_ids", nargs=-1, required=True, metavar="ID [ID ...]", shell_complete=complete_observation_ids)
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@workspace_option
@json_option
@handle_errors
def command(observation_ids: tuple[str, ...], dry_run: bool, workspace: Path, as_json: bool) -> None:
    """Remove observations: a wrong image ingested, a pass held twice, one the provider reprocessed under a new id.

    Each goes with its detections, the change pairs (and their regions) of which it is the before or
    the after image and its scene when no other observation names it, in one transaction; then its
    archived files (the COG and the sidecars beside it) unless another observation names them. The next
    `sitewatch change` compares its neighbours with each other; `alerts check` looks at its site again.
    Nothing is removed when an ID is unknown; an ID already removed is unknown (exit code 1).
    """
    from ..ingest.removal import plan_removal, remove_observations

    ws = open_workspace(workspace)
    with ws.store() as store:
        failed: list[tuple[Path, str]] = []
        if dry_run:
            removal = plan_removal(ws, store, observation_ids)
        else:
            removal, failed = remove_observations(ws, store, observation_ids)
    files = [p.relative_to(ws.root).as_posix() if p.is_relative_to(ws.root) else str(p) for p in removal.files]
    if as_json:
        echo_json({
            "dry_run": dry_run,
            "observations": [o.id for o in removal.observations],
            "detections": removal.detections,
            "change_pairs": removal.change_pairs,
            "changes": removal.changes,
            "files": files,
            "files_not_deleted": [{"file": str(p), "error": why} for p, why in failed],
        }, indent=1)  # fmt: skip
    else:
        for o in removal.observations:
            click.echo(f"{o.id}  {acquired_label(o)}  {o.scene.sensor}  {o.path}")
        verb = "would remove" if dry_run else "removed"
        echo_wrapped(
            f"{verb} {len(removal.observations)} observation(s), {removal.detections} detection(s), "
            f"{removal.change_pairs} change pair(s) with {removal.changes} change region(s) and {len(files)} "
            "archived file(s)" + (" (nothing removed: --dry-run)" if dry_run else "")
        )
    for path, why in failed:
        click.echo(f"error: {path}: not deleted ({why}); no observation names it any more: delete it by hand", err=True)
    if failed:
        raise SystemExit(3)
