"""``sitewatch verify``: whether each archived image is still the file that came in."""

from __future__ import annotations

from pathlib import Path

import click

from .. import __version__
from ..archive_check import check_archive
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    OnceCommand,
    handle_errors,
    is_quiet,
    json_option,
    progress_bar,
    workspace_option,
)
from .output import echo_json, echo_wrapped


@click.command("verify", cls=OnceCommand, short_help="Check each archived image against its sha256 at ingest.")
@click.argument("site_ids", nargs=-1, metavar="[SITE]...", shell_complete=complete_site_ids)
@workspace_option
@json_option
@handle_errors
def command(site_ids: tuple[str, ...], workspace: Path, as_json: bool) -> None:
    """Read each archived image of the SITEs (default: every site) whole and compare its sha256 with the one
    recorded when it came in. Writes nothing.

    Prints each image altered, missing or unreadable, then a count; exit code 0 when every image is unchanged,
    1 when any is not (or the workspace cannot be read).
    """
    ws = open_workspace(workspace)
    with ws.store(read_only=True) as store:
        for site_id in site_ids:
            store.get_site(site_id)  # an unknown site is an error naming the known ones
        chosen = list(dict.fromkeys(site_ids))
        observations = [o for s in chosen for o in store.observations(s)] if chosen else store.observations()
    if observations and (broken := ws.archive_link_broken()):
        # Every image would be named missing, as if deleted: the archive is not there to check, said as detect says it.
        raise click.ClickException(f"{broken}; no image was checked")
    with progress_bar("verify", quiet=is_quiet() or as_json) as progress:
        checks = check_archive(Path(ws.root), observations, progress)
    counts = {s: sum(c.status == s for c in checks) for s in ("unchanged", "altered", "missing", "unreadable")}
    bad = [c for c in checks if c.status != "unchanged"]
    if as_json:
        echo_json({"sitewatch_version": __version__, "sites": chosen or None, "checked": len(checks), **counts,
                   "images": [c.as_json() for c in checks]}, indent=1)  # fmt: skip
    else:
        for c in bad:
            echo_wrapped(c.line())
        if not checks:
            click.echo("no observations to verify; add some with `sitewatch ingest`, `sitewatch fetch` or `sitewatch import`")
        else:
            wrong = ", ".join(f"{n} {s}" for s, n in counts.items() if n and s != "unchanged")
            click.echo(f"{len(checks)} archived image(s) checked: {counts['unchanged']} unchanged since ingest"
                       + (f", {wrong}" if wrong else ""))  # fmt: skip
    if folders := sorted({Path(c.image).parent.as_posix() for c in bad if c.status == "missing" and c.reason}):
        # Not images deleted one by one: no folder of them at all. A backup or a new ingest is not the remedy.
        raise click.ClickException(
            f"{len(bad)} of the {len(checks)} archived image(s) are not the files recorded at ingest, and the "
            f"archive's folder(s) {', '.join(folders)} are not there at all: is the archive (on a team store, the "
            f"shared folder) there at this workspace, {ws.archive}? Mount it (or point a link at it) and run verify "
            "again before putting any file back"
        )
    if bad:
        raise click.ClickException(
            f"{len(bad)} of the {len(checks)} archived image(s) are not the files recorded at ingest; the evidence "
            "that cites them no longer rests on the images it was made from: put the archived files back from a "
            "backup, or ingest their source files again (`sitewatch show ID` names each, with its sha256; the same "
            "source and sitewatch give the same file), and run verify again"
        )
